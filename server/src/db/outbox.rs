//! The transactional email outbox: rows written with the change, claimed by the worker with a lease.

use super::{Backend, Conn, Store};
use crate::auth::token::generate;
use crate::clock::Millis;
use sqlx::Row;

pub struct NewEmail<'a> {
    pub recipient: &'a str,
    pub subject: &'a str,
    pub body_text: &'a str,
    pub body_html: &'a str,
}

#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: i64,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub attempts: i64,
}

/// Rows taken by one claim, held under one lease token until their outcome is recorded.
#[derive(Debug, Clone)]
pub struct Claim {
    pub lease_token: String,
    pub emails: Vec<Claimed>,
}

pub async fn enqueue(conn: &mut Conn, e: NewEmail<'_>, now: Millis) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "insert into outbox (recipient, subject, body_text, body_html, next_attempt_at, created_at) \
         values ($1, $2, $3, $4, $5, $5) returning id",
    )
    .bind(e.recipient)
    .bind(e.subject)
    .bind(e.body_text)
    .bind(e.body_html)
    .bind(now)
    .fetch_one(conn)
    .await
}

/// Claims up to `limit` due rows (pending and due, or sending with an expired lease) under a
/// fresh lease token, which takes them from any worker whose lease ran out.
pub async fn claim_due(
    store: &Store,
    now: Millis,
    lease: Millis,
    limit: i64,
) -> sqlx::Result<Claim> {
    let lock = match store.backend {
        Backend::Postgres => " for update skip locked",
        Backend::Sqlite => "",
    };
    let sql = format!(
        "update outbox set status = 'sending', lease_until = $2, lease_token = $3, attempts = attempts + 1 \
         where id in (select id from outbox \
           where (status = 'pending' and next_attempt_at <= $1) or (status = 'sending' and lease_until <= $1) \
           order by id limit $4{lock}) \
         returning id, recipient, subject, body_text, body_html, attempts"
    );
    let lease_token = generate();
    let rows = sqlx::query(&sql)
        .bind(now)
        .bind(now + lease)
        .bind(&lease_token)
        .bind(limit)
        .fetch_all(&store.pool)
        .await?;
    let emails = rows
        .into_iter()
        .map(|r| {
            Ok(Claimed {
                id: r.try_get("id")?,
                recipient: r.try_get("recipient")?,
                subject: r.try_get("subject")?,
                body_text: r.try_get("body_text")?,
                body_html: r.try_get("body_html")?,
                attempts: r.try_get("attempts")?,
            })
        })
        .collect::<sqlx::Result<_>>()?;
    Ok(Claim {
        lease_token,
        emails,
    })
}

/// Extends the lease on the rows of a claim that are still sending under it.
pub async fn renew(store: &Store, lease_token: &str, lease_until: Millis) -> sqlx::Result<()> {
    sqlx::query("update outbox set lease_until = $2 where status = 'sending' and lease_token = $1")
        .bind(lease_token)
        .bind(lease_until)
        .execute(&store.pool)
        .await?;
    Ok(())
}

// The outcomes below apply only to a row still sending under the caller's lease, and say whether
// it was: a worker whose lease ran out must not undo what the new holder recorded.

/// Sent: the bodies (which hold single-use links) are not kept.
pub async fn mark_sent(
    store: &Store,
    id: i64,
    lease_token: &str,
    now: Millis,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "update outbox set status = 'sent', sent_at = $3, lease_until = null, lease_token = null, \
         last_error = null, body_text = '', body_html = '' \
         where id = $1 and status = 'sending' and lease_token = $2",
    )
    .bind(id)
    .bind(lease_token)
    .bind(now)
    .execute(&store.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn mark_retry(
    store: &Store,
    id: i64,
    lease_token: &str,
    next_attempt_at: Millis,
    error: &str,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "update outbox set status = 'pending', next_attempt_at = $3, lease_until = null, lease_token = null, \
         last_error = $4 where id = $1 and status = 'sending' and lease_token = $2",
    )
    .bind(id)
    .bind(lease_token)
    .bind(next_attempt_at)
    .bind(error)
    .execute(&store.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn mark_failed(
    store: &Store,
    id: i64,
    lease_token: &str,
    error: &str,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "update outbox set status = 'failed', lease_until = null, lease_token = null, last_error = $3, \
         body_text = '', body_html = '' where id = $1 and status = 'sending' and lease_token = $2",
    )
    .bind(id)
    .bind(lease_token)
    .bind(error)
    .execute(&store.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// How many rows are in one state (the tests watch the worker with it).
pub async fn count_by_status(store: &Store, status: &str) -> sqlx::Result<i64> {
    sqlx::query_scalar("select count(*) from outbox where status = $1")
        .bind(status)
        .fetch_one(&store.pool)
        .await
}
