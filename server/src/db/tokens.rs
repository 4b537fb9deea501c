//! Single-use tokens for email verification and password reset; only their hashes are stored.

use super::Conn;
use crate::clock::Millis;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    VerifyEmail,
    ResetPassword,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::ResetPassword => "reset_password",
        }
    }
}

/// Stores a new token of a kind for a user and retires the user's earlier ones of that kind.
pub async fn issue(
    conn: &mut Conn,
    kind: Kind,
    user_id: i64,
    token_hash: &str,
    now: Millis,
    expires_at: Millis,
) -> sqlx::Result<()> {
    sqlx::query("update one_time_tokens set used_at = $3 where user_id = $1 and kind = $2 and used_at is null")
        .bind(user_id)
        .bind(kind.as_str())
        .bind(now)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "insert into one_time_tokens (token_hash, kind, user_id, created_at, expires_at) values ($1, $2, $3, $4, $5)",
    )
    .bind(token_hash)
    .bind(kind.as_str())
    .bind(user_id)
    .bind(now)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether a token could be used now; `consume` still decides, race-free.
pub async fn is_live(
    conn: &mut Conn,
    kind: Kind,
    token_hash: &str,
    now: Millis,
) -> sqlx::Result<bool> {
    let found: Option<i64> = sqlx::query_scalar(
        "select id from one_time_tokens where token_hash = $1 and kind = $2 and used_at is null and expires_at > $3",
    )
    .bind(token_hash)
    .bind(kind.as_str())
    .bind(now)
    .fetch_optional(conn)
    .await?;
    Ok(found.is_some())
}

/// Uses a token up: succeeds for exactly one caller while it is unused and unexpired.
pub async fn consume(
    conn: &mut Conn,
    kind: Kind,
    token_hash: &str,
    now: Millis,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "update one_time_tokens set used_at = $3 \
         where token_hash = $1 and kind = $2 and used_at is null and expires_at > $3 returning user_id",
    )
    .bind(token_hash)
    .bind(kind.as_str())
    .bind(now)
    .fetch_optional(conn)
    .await
}
