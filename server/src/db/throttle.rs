//! Failed sign-in counters, per account and per client address, shared by every instance.

use super::Conn;
use crate::clock::Millis;

/// When the latest lock among `keys` ends, if one is in force.
pub async fn locked_until(
    conn: &mut Conn,
    keys: &[&str],
    now: Millis,
) -> sqlx::Result<Option<Millis>> {
    let mut until = None;
    for key in keys {
        let t: Option<Option<Millis>> = sqlx::query_scalar(
            "select locked_until from sign_in_failures where key = $1 and locked_until > $2",
        )
        .bind(*key)
        .bind(now)
        .fetch_optional(&mut *conn)
        .await?;
        until = until.max(t.flatten());
    }
    Ok(until)
}

pub struct Policy {
    pub window: Millis,
    pub threshold: i64,
    pub lock_for: Millis,
}

/// Counts one failure; once `threshold` failures fall within `window`, the key is locked for
/// `lock_for` and its count starts again, so a lock always ends.
pub async fn record_failure(
    conn: &mut Conn,
    key: &str,
    policy: &Policy,
    now: Millis,
) -> sqlx::Result<()> {
    let failures: i64 = sqlx::query_scalar(
        "insert into sign_in_failures (key, failures, window_started_at) values ($1, 1, $2) \
         on conflict (key) do update set \
           failures = case when sign_in_failures.window_started_at <= $3 then 1 else sign_in_failures.failures + 1 end, \
           window_started_at = case when sign_in_failures.window_started_at <= $3 then $2 else sign_in_failures.window_started_at end \
         returning failures",
    )
    .bind(key)
    .bind(now)
    .bind(now - policy.window)
    .fetch_one(&mut *conn)
    .await?;
    if failures >= policy.threshold {
        sqlx::query("update sign_in_failures set locked_until = $2, failures = 0, window_started_at = $3 where key = $1")
            .bind(key)
            .bind(now + policy.lock_for)
            .bind(now)
            .execute(conn)
            .await?;
    }
    Ok(())
}

pub async fn clear(conn: &mut Conn, key: &str) -> sqlx::Result<()> {
    sqlx::query("delete from sign_in_failures where key = $1")
        .bind(key)
        .execute(conn)
        .await?;
    Ok(())
}
