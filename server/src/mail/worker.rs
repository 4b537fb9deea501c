use super::{Transport, mask};
use crate::clock::{Clock, HOUR, Millis, SECOND};
use crate::db::Store;
use crate::db::outbox::{self, Claimed};
use lettre::message::Mailbox;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Delivers the outbox: claims due rows with a lease, sends them, and retries failures with
/// exponential backoff until they are sent or given up as failed. It claims only as many rows as
/// it sends at once and renews their lease while they send, so no row it holds can be claimed
/// and sent again by another worker; an outcome is recorded only under the lease it was sent with.
#[derive(Clone)]
pub struct Worker {
    pub store: Store,
    pub transport: Arc<Transport>,
    pub from: Mailbox,
    pub clock: Clock,
    /// Woken when a request commits an email, so delivery does not wait for the next poll.
    pub wake: Arc<Notify>,
    pub lease: Millis,
    pub max_attempts: i64,
    /// How many emails it claims and sends at once.
    pub concurrency: usize,
}

pub const LEASE: Millis = 60 * SECOND;
pub const MAX_ATTEMPTS: i64 = 10;
pub const CONCURRENCY: usize = 8;
const POLL: Duration = Duration::from_secs(1);

/// The wait before attempt `attempts + 1`: 30 s doubling to at most an hour, ±20 %.
pub fn backoff(attempts: i64) -> Millis {
    let base = (30 * SECOND)
        .saturating_mul(1 << attempts.clamp(1, 20).saturating_sub(1))
        .min(HOUR);
    let mut r = [0u8; 2];
    let _ = getrandom::fill(&mut r);
    let jitter = (u16::from_le_bytes(r) as i64 % 401) - 200; // -200..=200 per mille
    base + base * jitter / 1000
}

impl Worker {
    /// Sends what is due now; returns how many rows it claimed.
    pub async fn run_once(&self) -> Result<usize, sqlx::Error> {
        let claim = outbox::claim_due(
            &self.store,
            self.clock.now(),
            self.lease,
            self.concurrency as i64,
        )
        .await?;
        let n = claim.emails.len();
        if n == 0 {
            return Ok(0);
        }
        let sends = futures::future::join_all(
            claim
                .emails
                .iter()
                .map(|email| self.deliver(email, &claim.lease_token)),
        );
        tokio::select! {
            _ = sends => {}
            _ = self.keep_lease(&claim.lease_token) => {}
        }
        Ok(n)
    }

    /// Renews the lease three times per lease length until dropped, so it does not run out
    /// while an SMTP server is slow to answer.
    async fn keep_lease(&self, lease_token: &str) {
        let period = Duration::from_millis((self.lease / 3).max(1) as u64);
        loop {
            tokio::time::sleep(period).await;
            let until = self.clock.now() + self.lease;
            if let Err(e) = outbox::renew(&self.store, lease_token, until).await {
                tracing::warn!(error = %e, "could not renew the lease on emails being sent");
            }
        }
    }

    async fn deliver(&self, email: &Claimed, lease_token: &str) {
        let result = self
            .transport
            .send(
                &self.from,
                &email.recipient,
                &email.subject,
                &email.body_text,
                &email.body_html,
            )
            .await;
        let now = self.clock.now();
        let recorded = match result {
            Ok(()) => {
                tracing::info!(id = email.id, to = %mask(&email.recipient), "email sent");
                outbox::mark_sent(&self.store, email.id, lease_token, now).await
            }
            Err(e) if e.permanent || email.attempts >= self.max_attempts => {
                tracing::error!(id = email.id, to = %mask(&email.recipient), attempts = email.attempts, reason = %e.reason, "email failed for good");
                outbox::mark_failed(&self.store, email.id, lease_token, &e.reason).await
            }
            Err(e) => {
                let wait = backoff(email.attempts);
                tracing::warn!(id = email.id, attempts = email.attempts, retry_in_ms = wait, reason = %e.reason, "email not sent; will retry");
                outbox::mark_retry(&self.store, email.id, lease_token, now + wait, &e.reason).await
            }
        };
        match recorded {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                id = email.id,
                "the lease on an email ran out before its outcome was recorded; the worker holding it now decides"
            ),
            Err(e) => {
                tracing::error!(id = email.id, error = %e, "could not record the outcome of an email")
            }
        }
    }

    /// Runs until the process ends.
    pub async fn run(self) {
        loop {
            match self.run_once().await {
                Ok(n) if n >= self.concurrency => continue,
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "outbox worker could not claim emails"),
            }
            let _ = tokio::time::timeout(POLL, self.wake.notified()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_thirty_seconds_to_an_hour() {
        for (attempts, base) in [
            (1, 30 * SECOND),
            (2, 60 * SECOND),
            (3, 120 * SECOND),
            (12, HOUR),
        ] {
            for _ in 0..50 {
                let b = backoff(attempts);
                assert!(
                    b >= base * 8 / 10 && b <= base * 12 / 10,
                    "attempt {attempts}: {b}"
                );
            }
        }
    }
}
