//! Password-check counters, per account and per client address, shared by every instance.
//!
//! An attempt is counted before its password is hashed, so concurrent guesses cannot all pass
//! one check of the count: at most `threshold` attempts per window ever reach argon2. A correct
//! password gives its attempt back; a wrong one keeps it, and a wrong one on the window's last
//! attempt locks the key.

use super::Conn;
use crate::clock::Millis;

pub struct Policy {
    pub window: Millis,
    pub threshold: i64,
    pub lock_for: Millis,
}

impl Policy {
    /// Whether attempt `n` is the last a window allows: if its password is wrong, the key locks.
    pub fn is_last(&self, n: i64) -> bool {
        n >= self.threshold
    }
}

/// What counting one more password check against a key decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reservation {
    /// Counted as attempt `n` of the window: the password may be checked.
    Counted(i64),
    /// The key is locked until then.
    Locked(Millis),
    /// The window's `threshold` attempts are counted and some are still being checked.
    Full,
}

/// Counts one attempt for `key` unless the key is locked or its window's attempts are all
/// counted. One upsert decides, so concurrent callers are counted one after another. A lock
/// that has ended, or a window that has passed, starts the count again: a lock always ends.
pub async fn reserve(
    conn: &mut Conn,
    key: &str,
    policy: &Policy,
    now: Millis,
) -> sqlx::Result<Reservation> {
    const FRESH: &str = "case when sign_in_failures.locked_until is null \
         then sign_in_failures.window_started_at <= $3 \
         else sign_in_failures.locked_until <= $2 end";
    // When the `where` of `do update` is false the row is left as it is and none is returned.
    let counted: Option<i64> = sqlx::query_scalar(&format!(
        "insert into sign_in_failures (key, failures, window_started_at) values ($1, 1, $2) \
         on conflict (key) do update set \
           failures = case when {FRESH} then 1 else sign_in_failures.failures + 1 end, \
           window_started_at = case when {FRESH} then $2 else sign_in_failures.window_started_at end, \
           locked_until = null \
         where {FRESH} \
            or (sign_in_failures.locked_until is null and sign_in_failures.failures < $4) \
         returning failures"
    ))
    .bind(key)
    .bind(now)
    .bind(now - policy.window)
    .bind(policy.threshold)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(n) = counted {
        return Ok(Reservation::Counted(n));
    }
    let until: Option<Millis> =
        sqlx::query_scalar("select locked_until from sign_in_failures where key = $1")
            .bind(key)
            .fetch_one(&mut *conn)
            .await?;
    Ok(match until {
        Some(until) if until > now => Reservation::Locked(until),
        _ => Reservation::Full,
    })
}

/// Locks `key` for `lock_for` after a wrong password on the window's last attempt, unless a
/// correct password has cleared the count meanwhile.
pub async fn lock(conn: &mut Conn, key: &str, policy: &Policy, now: Millis) -> sqlx::Result<()> {
    sqlx::query(
        "update sign_in_failures set locked_until = $2 \
         where key = $1 and locked_until is null and failures >= $3",
    )
    .bind(key)
    .bind(now + policy.lock_for)
    .bind(policy.threshold)
    .execute(conn)
    .await?;
    Ok(())
}

/// Gives back one counted attempt whose password was right or never checked.
pub async fn release(conn: &mut Conn, key: &str) -> sqlx::Result<()> {
    sqlx::query(
        "update sign_in_failures set failures = failures - 1 where key = $1 and failures > 0",
    )
    .bind(key)
    .execute(conn)
    .await?;
    Ok(())
}

/// Forgets every attempt and any lock of `key`.
pub async fn clear(conn: &mut Conn, key: &str) -> sqlx::Result<()> {
    sqlx::query("delete from sign_in_failures where key = $1")
        .bind(key)
        .execute(conn)
        .await?;
    Ok(())
}
