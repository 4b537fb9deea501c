//! A periodic sweep of what has stopped mattering: ended sessions, spent or expired one-time
//! tokens and invitation links, old sign-in failure counts, delivered or abandoned outbox
//! rows, the invitation-email counts behind the quotas, the ids of written usage batches, and
//! idle in-memory limiter entries. Beside it, the usage roll-up (`db::usage`), on the same
//! timer.

use crate::clock::{Clock, DAY, MINUTE, Millis};
use crate::db::Store;
use crate::db::usage::{Retention, RolledUp};
use crate::services::Limits;
use crate::services::accounts::SESSION_IDLE;
use std::sync::Arc;
use std::time::Duration;

/// How long sent and failed emails stay in the outbox (for support questions).
pub const OUTBOX_KEEP: Millis = 14 * DAY;
/// How long a written usage batch's id is kept: a batch is written again, if ever, within
/// minutes of its first write.
pub const USAGE_BATCH_KEEP: Millis = 7 * DAY;
const EVERY: Duration = Duration::from_secs(10 * 60);

#[derive(Clone)]
pub struct Housekeeping {
    pub store: Store,
    pub clock: Clock,
    pub limits: Arc<Limits>,
    pub usage_retention: Retention,
    /// How long audit rows are kept.
    pub audit_retention: Millis,
    /// Told of roll-ups, so figures read before one are read again.
    pub usage_written: Arc<crate::gateway::usage::Written>,
}

/// What one sweep removed, table by table.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub sessions: u64,
    pub tokens: u64,
    pub invitation_links: u64,
    pub sign_in_failures: u64,
    pub outbox: u64,
    pub invitation_emails: u64,
    pub usage_batches: u64,
    pub api_rate: u64,
    pub api_idempotency: u64,
    pub audit_rows: u64,
}

async fn sweep(store: &Store, sql: &str, binds: &[Millis]) -> sqlx::Result<u64> {
    let mut query = sqlx::query(sql);
    for b in binds {
        query = query.bind(*b);
    }
    Ok(query.execute(&store.pool).await?.rows_affected())
}

impl Housekeeping {
    pub async fn run_once(&self) -> sqlx::Result<Swept> {
        let now = self.clock.now();
        let s = &self.store;
        let swept = Swept {
            sessions: sweep(
                s,
                "delete from sessions where expires_at <= $1 or last_seen_at <= $2",
                &[now, now - SESSION_IDLE],
            )
            .await?,
            tokens: sweep(
                s,
                "delete from one_time_tokens where expires_at <= $1 or used_at is not null",
                &[now],
            )
            .await?,
            invitation_links: sweep(
                s,
                "delete from invitation_links where invitation_id in \
                 (select id from invitations where status <> 'pending' or expires_at <= $1)",
                &[now],
            )
            .await?,
            sign_in_failures: sweep(
                s,
                "delete from sign_in_failures where window_started_at <= $1 \
                 and (locked_until is null or locked_until <= $2)",
                &[now - DAY, now],
            )
            .await?,
            outbox: sweep(
                s,
                "delete from outbox where status in ('sent', 'failed') and created_at <= $1",
                &[now - OUTBOX_KEEP],
            )
            .await?,
            invitation_emails: sweep(
                s,
                "delete from invitation_emails where sent_at <= $1",
                &[now - DAY],
            )
            .await?,
            usage_batches: sweep(
                s,
                "delete from gateway_usage_batches where written_at <= $1",
                &[now - USAGE_BATCH_KEEP],
            )
            .await?,
            // Counted in memory on SQLite (`rest::CallCounter`).
            api_rate: match s.backend {
                crate::db::Backend::Postgres => {
                    sweep(
                        s,
                        "delete from api_rate where window_start <= $1",
                        &[now - 2 * MINUTE],
                    )
                    .await?
                }
                crate::db::Backend::Sqlite => 0,
            },
            api_idempotency: sweep(
                s,
                "delete from api_idempotency where created_at <= $1",
                &[now - crate::http::rest::IDEMPOTENCY_KEEP],
            )
            .await?,
            audit_rows: self.expire_audit(now - self.audit_retention).await?,
        };
        self.limits.forget_idle();
        Ok(swept)
    }

    /// Deletes audit rows written before `cutoff`, an organization per transaction, moving
    /// each chain's anchor so it still verifies.
    async fn expire_audit(&self, cutoff: Millis) -> sqlx::Result<u64> {
        let mut conn = self.store.pool.acquire().await?;
        let orgs = crate::db::audit::orgs_with_rows_before(&mut conn, cutoff).await?;
        drop(conn);
        // A user's own rows (no organization) are not chained.
        let mut deleted = sweep(
            &self.store,
            "delete from audit_log where org_id is null and created_at < $1",
            &[cutoff],
        )
        .await?;
        for org_id in orgs {
            let mut tx = self.store.write().await?;
            deleted += crate::db::audit::expire(&mut tx, org_id, cutoff, self.clock.now()).await?;
            tx.commit().await?;
        }
        Ok(deleted)
    }

    /// Rolls the gateway's counts up by hour and by day and applies their retention.
    /// A step at a time (each its own transaction), until every finished hour is rolled up.
    pub async fn roll_up_usage(&self) -> sqlx::Result<RolledUp> {
        let mut total = RolledUp::default();
        loop {
            let step =
                crate::db::usage::roll_up(&self.store, self.clock.now(), self.usage_retention)
                    .await?;
            total.hours += step.hours;
            total.days += step.days;
            total.deleted += step.deleted;
            if !step.more {
                if total.hours > 0 || total.days > 0 || total.deleted > 0 {
                    self.usage_written.rolled_up();
                }
                return Ok(total);
            }
        }
    }

    /// Rolls usage up and sweeps every ten minutes until the process ends.
    pub async fn run(self) {
        let mut tick = tokio::time::interval(EVERY);
        loop {
            tick.tick().await;
            match self.roll_up_usage().await {
                Ok(done) => tracing::debug!(?done, "usage roll-up"),
                Err(e) => tracing::error!(error = %e, "usage roll-up failed"),
            }
            match self.run_once().await {
                Ok(swept) => tracing::debug!(?swept, "housekeeping"),
                Err(e) => tracing::error!(error = %e, "housekeeping failed"),
            }
        }
    }
}
