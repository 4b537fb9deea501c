//! Server-side sessions, found by the SHA-256 of the cookie secret.

use super::Conn;
use crate::clock::Millis;
use sqlx::Row;

pub struct SessionRow {
    pub id: i64,
    pub user_id: i64,
    pub org_id: i64,
    pub role: app::model::team::Role,
    pub terms_version: Option<String>,
    pub last_seen_at: Millis,
}

pub async fn insert(
    conn: &mut Conn,
    token_hash: &str,
    user_id: i64,
    org_id: i64,
    now: Millis,
    expires_at: Millis,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "insert into sessions (token_hash, user_id, org_id, created_at, last_seen_at, expires_at) \
         values ($1, $2, $3, $4, $4, $5) returning id",
    )
    .bind(token_hash)
    .bind(user_id)
    .bind(org_id)
    .bind(now)
    .bind(expires_at)
    .fetch_one(conn)
    .await
}

/// A live session whose user is still an active member of the session's organization.
pub async fn find_live(
    conn: &mut Conn,
    token_hash: &str,
    now: Millis,
    idle_cutoff: Millis,
) -> sqlx::Result<Option<SessionRow>> {
    let row = sqlx::query(
        "select s.id, s.user_id, s.org_id, s.last_seen_at, m.role, m.role_id, u.terms_version \
         from sessions s join memberships m on m.user_id = s.user_id and m.org_id = s.org_id \
         join users u on u.id = s.user_id \
         where s.token_hash = $1 and s.expires_at > $2 and s.last_seen_at > $3 and m.status = 'active'",
    )
    .bind(token_hash)
    .bind(now)
    .bind(idle_cutoff)
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        Ok(SessionRow {
            id: r.try_get("id")?,
            user_id: r.try_get("user_id")?,
            org_id: r.try_get("org_id")?,
            role: super::team::stored_role(&r)?,
            terms_version: r.try_get("terms_version")?,
            last_seen_at: r.try_get("last_seen_at")?,
        })
    })
    .transpose()
}

pub async fn touch(conn: &mut Conn, id: i64, now: Millis) -> sqlx::Result<()> {
    sqlx::query("update sessions set last_seen_at = $2 where id = $1")
        .bind(id)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn delete_by_hash(conn: &mut Conn, token_hash: &str) -> sqlx::Result<()> {
    sqlx::query("delete from sessions where token_hash = $1")
        .bind(token_hash)
        .execute(conn)
        .await?;
    Ok(())
}

/// Ends a user's sessions in one organization (revoked, removed or left).
pub async fn delete_in_org(conn: &mut Conn, user_id: i64, org_id: i64) -> sqlx::Result<u64> {
    let done = sqlx::query("delete from sessions where user_id = $1 and org_id = $2")
        .bind(user_id)
        .bind(org_id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

/// Ends every session of a user but `keep` (the one making the request, if any).
pub async fn delete_for_user(
    conn: &mut Conn,
    user_id: i64,
    keep: Option<i64>,
) -> sqlx::Result<u64> {
    let done = sqlx::query("delete from sessions where user_id = $1 and id <> $2")
        .bind(user_id)
        .bind(keep.unwrap_or(-1))
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

/// Moves a session to another organization.
pub async fn set_org(conn: &mut Conn, id: i64, org_id: i64) -> sqlx::Result<()> {
    sqlx::query("update sessions set org_id = $2 where id = $1")
        .bind(id)
        .bind(org_id)
        .execute(conn)
        .await?;
    Ok(())
}
