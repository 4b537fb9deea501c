//! The REST API's shared state: calls per key and minute (`api_rate`) and the first answers
//! to requests with an Idempotency-Key (`api_idempotency`). Both live in the database, so
//! every instance of Roster sees the same counts and answers.

use super::{Conn, is_unique_violation};
use crate::clock::Millis;

/// Counts one call of `key_id` in the window starting at `window_start`; the calls of the
/// window so far, this one included. One upsert: concurrent calls are counted one by one.
pub async fn count_call(conn: &mut Conn, key_id: i64, window_start: Millis) -> sqlx::Result<i64> {
    let calls: i32 = sqlx::query_scalar(
        "insert into api_rate (key_id, window_start, calls) values ($1, $2, 1) \
         on conflict (key_id, window_start) do update set calls = api_rate.calls + 1 \
         returning calls",
    )
    .bind(key_id)
    .bind(window_start)
    .fetch_one(conn)
    .await?;
    Ok(i64::from(calls))
}

/// What a request with an Idempotency-Key finds.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// The first with this key: it runs, and `finish` (or `release`) with this claim
    /// records its answer.
    First(String),
    /// The first answer, to replay: (status, body).
    Answered(u16, String),
    /// A request with this key is still running.
    Running,
    /// The key was used for a different request.
    Mismatch,
    /// The API key has as many answers kept as it may have.
    Full,
}

/// How long a claimed key may wait for its answer: longer, and the request that claimed it
/// is taken to have died with its instance, and the key may be used again.
pub const RUNNING_AT_MOST: Millis = 10 * crate::clock::MINUTE;
/// Answers kept per API key at a time (each for a day).
pub const KEPT_PER_KEY: i64 = 1_000;

/// Claims `idempotency_key` of `key_id` for the request whose hash is `request_hash`.
pub async fn claim(
    conn: &mut Conn,
    key_id: i64,
    idempotency_key: &str,
    request_hash: &str,
    now: Millis,
    keep: Millis,
) -> sqlx::Result<Claim> {
    // A row past its time, or a claim whose request died, is gone for this request's
    // purposes, even before the sweep.
    sqlx::query(
        "delete from api_idempotency where key_id = $1 and idempotency_key = $2 \
         and (created_at <= $3 or (status = 0 and created_at <= $4))",
    )
    .bind(key_id)
    .bind(idempotency_key)
    .bind(now - keep)
    .bind(now - RUNNING_AT_MOST)
    .execute(&mut *conn)
    .await?;
    let kept: i64 = sqlx::query_scalar(
        "select count(*) from api_idempotency where key_id = $1 and created_at > $2",
    )
    .bind(key_id)
    .bind(now - keep)
    .fetch_one(&mut *conn)
    .await?;
    let claim = crate::auth::token::generate();
    let inserted = if kept >= KEPT_PER_KEY {
        None
    } else {
        Some(
            sqlx::query(
                "insert into api_idempotency \
                 (key_id, idempotency_key, request_hash, claim, status, body, created_at) \
                 values ($1, $2, $3, $4, 0, '', $5)",
            )
            .bind(key_id)
            .bind(idempotency_key)
            .bind(request_hash)
            .bind(&claim)
            .bind(now)
            .execute(&mut *conn)
            .await,
        )
    };
    match inserted {
        Some(Ok(_)) => return Ok(Claim::First(claim)),
        Some(Err(e)) if !is_unique_violation(&e) => return Err(e),
        _ => {}
    }
    let row: Option<(String, i32, String)> = sqlx::query_as(
        "select request_hash, status, body from api_idempotency \
         where key_id = $1 and idempotency_key = $2",
    )
    .bind(key_id)
    .bind(idempotency_key)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match row {
        None if inserted.is_none() => Claim::Full,
        // Let go since the insert failed (the first request failed): try again.
        None => Claim::Running,
        Some((hash, _, _)) if hash != request_hash => Claim::Mismatch,
        Some((_, 0, _)) => Claim::Running,
        Some((_, status, body)) => Claim::Answered(status as u16, body),
    })
}

/// Records the answer of the request that made `claim`.
pub async fn finish(
    conn: &mut Conn,
    key_id: i64,
    idempotency_key: &str,
    claim: &str,
    status: u16,
    body: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "update api_idempotency set status = $4, body = $5 \
         where key_id = $1 and idempotency_key = $2 and claim = $3 and status = 0",
    )
    .bind(key_id)
    .bind(idempotency_key)
    .bind(claim)
    .bind(i32::from(status))
    .bind(body)
    .execute(conn)
    .await?;
    Ok(())
}

/// Lets the key be used again: the request that made `claim` failed on the server's side,
/// or its answer is too large to keep.
pub async fn release(
    conn: &mut Conn,
    key_id: i64,
    idempotency_key: &str,
    claim: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "delete from api_idempotency \
         where key_id = $1 and idempotency_key = $2 and claim = $3 and status = 0",
    )
    .bind(key_id)
    .bind(idempotency_key)
    .bind(claim)
    .execute(conn)
    .await?;
    Ok(())
}
