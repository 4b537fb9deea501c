//! Every gateway check counted, allowed and refused: added up in memory per organization,
//! member, key, feature, region, outcome and minute, and written in batches.
//!
//! A batch is the counts taken out of memory at once, under an id of its own. Writing it adds
//! its counts to the stored ones and records its id in the same transaction, so a batch
//! written again (the commit's answer was lost) counts once. A batch that fails to write is
//! kept, whole and in order, and written again at the next flush: no count is dropped. What a
//! crash (kill -9) loses is what was not yet written: the counts since the last flush (at
//! most `FLUSH_EVERY` of checks) and batches still waiting after a failed write.

use super::Reason;
use crate::clock::{MINUTE, Millis};
use crate::db::{self, Store};
use db::usage::{DAY_MINUTES, HOUR_MINUTES};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

/// How often counts are written.
pub const FLUSH_EVERY: Duration = Duration::from_secs(2);
/// Every outcome a check can have: allowed, or a refusal's reason code.
pub const OUTCOMES: [&str; Reason::ALL.len() + 1] = {
    let mut out = ["allowed"; Reason::ALL.len() + 1];
    let mut i = 0;
    while i < Reason::ALL.len() {
        out[i + 1] = Reason::ALL[i].code();
        i += 1;
    }
    out
};
/// Rows a single insert statement carries.
const ROWS_PER_STATEMENT: usize = 500;

/// What one check is counted under. Ids are 0 and texts empty where there is none.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Counted {
    pub org_id: i64,
    pub user_id: i64,
    pub key_id: i64,
    pub feature: &'static str,
    pub region: String,
    pub outcome: &'static str,
    pub minute: i64,
}

/// Per organization, a number that moves each time its counts are written, here or (on
/// PostgreSQL, told by `NOTIFY`) by another instance: open Usage pages refresh on it, and the
/// figures read before it moved are read again.
#[derive(Default)]
pub struct Written {
    /// Open pages' streams; an organization is held only while someone listens.
    listeners: Mutex<HashMap<i64, tokio::sync::watch::Sender<u64>>>,
    /// Writes heard per organization since the start.
    generations: Mutex<HashMap<i64, u64>>,
    /// Roll-ups made here (they move counts between tables without changing a figure, but
    /// figures read before one are read again after it all the same), and times writes may
    /// have gone unheard (the PostgreSQL listener reconnected): every organization moves.
    epoch: AtomicU64,
}

impl Written {
    pub fn subscribe(&self, org_id: i64) -> tokio::sync::watch::Receiver<u64> {
        let mut orgs = self.listeners.lock().unwrap_or_else(|e| e.into_inner());
        orgs.entry(org_id)
            .or_insert_with(|| tokio::sync::watch::channel(0).0)
            .subscribe()
    }

    /// How many writes of `org_id`'s counts (and roll-ups) were heard so far.
    pub fn generation(&self, org_id: i64) -> u64 {
        let generations = self.generations.lock().unwrap_or_else(|e| e.into_inner());
        generations.get(&org_id).copied().unwrap_or(0) + self.epoch.load(Relaxed)
    }

    /// A roll-up moved counts.
    pub fn rolled_up(&self) {
        self.epoch.fetch_add(1, Relaxed);
    }

    /// Writes may have gone unheard: every organization's figures are read again, and every
    /// open page is told.
    pub fn everything_written(&self) {
        self.epoch.fetch_add(1, Relaxed);
        let orgs = self.listeners.lock().unwrap_or_else(|e| e.into_inner());
        for tx in orgs.values() {
            tx.send_modify(|n| *n += 1);
        }
    }

    /// Counts of `org_id` were written.
    pub fn wrote(&self, org_id: i64) {
        *self
            .generations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(org_id)
            .or_default() += 1;
        let mut orgs = self.listeners.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = orgs.get(&org_id) {
            if tx.receiver_count() == 0 {
                orgs.remove(&org_id);
            } else {
                tx.send_modify(|n| *n += 1);
            }
        }
    }
}

/// Counts taken out of memory together, written under one id.
struct Batch {
    id: String,
    counts: Vec<(Counted, u64)>,
    /// The latest check per key.
    last_used: Vec<(i64, Millis)>,
}

impl Batch {
    /// The organizations it counts for.
    fn orgs(&self) -> std::collections::BTreeSet<i64> {
        self.counts
            .iter()
            .map(|(c, _)| c.org_id)
            .filter(|o| *o != 0)
            .collect()
    }
}

#[derive(Default)]
struct Pending {
    counts: HashMap<Counted, u64>,
    last_used: HashMap<i64, Millis>,
}

pub struct Usage {
    pending: Mutex<Pending>,
    /// Batches taken out and not yet written, oldest first; held by one flush at a time.
    unwritten: tokio::sync::Mutex<VecDeque<Batch>>,
    /// Their number, readable without waiting for a flush under way.
    unwritten_count: AtomicUsize,
    /// This process's prefix of batch ids (random), and the next batch's number.
    instance: String,
    next: AtomicU64,
    /// Checks since the start, per outcome (`OUTCOMES`).
    checks: [AtomicU64; OUTCOMES.len()],
    pub batches_written: AtomicU64,
    pub batches_failed: AtomicU64,
    /// Told of each organization whose counts were written.
    pub written: std::sync::Arc<Written>,
}

impl Default for Usage {
    fn default() -> Self {
        let mut bytes = [0u8; 12];
        getrandom::fill(&mut bytes).expect("the system's random source");
        Self {
            pending: Mutex::default(),
            unwritten: tokio::sync::Mutex::default(),
            unwritten_count: AtomicUsize::new(0),
            instance: hex::encode(bytes),
            next: AtomicU64::new(1),
            checks: Default::default(),
            batches_written: AtomicU64::new(0),
            batches_failed: AtomicU64::new(0),
            written: std::sync::Arc::default(),
        }
    }
}

impl Usage {
    /// Counts that tell `written` of each organization whose counts it writes.
    pub fn telling(written: std::sync::Arc<Written>) -> Self {
        Self {
            written,
            ..Self::default()
        }
    }

    /// Counts one check made at `now`.
    pub fn record(&self, counted: Counted, now: Millis) {
        let (key_id, counted_outcome) = (counted.key_id, counted.outcome);
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        *pending.counts.entry(counted).or_insert(0) += 1;
        if key_id != 0 {
            let at = pending.last_used.entry(key_id).or_insert(now);
            *at = (*at).max(now);
        }
        drop(pending);
        if let Some(i) = OUTCOMES.iter().position(|o| *o == counted_outcome) {
            self.checks[i].fetch_add(1, Relaxed);
        }
    }

    /// Checks since the start, per outcome.
    pub fn checks(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        OUTCOMES
            .iter()
            .zip(&self.checks)
            .map(|(o, n)| (*o, n.load(Relaxed)))
    }

    /// Batches waiting to be written, as the last flush left them.
    pub fn unwritten(&self) -> usize {
        self.unwritten_count.load(Relaxed)
    }

    /// Takes the counts out of memory as a batch and writes every unwritten batch, oldest
    /// first; stops at the first failure, which stays to be written next time. Returns
    /// whether nothing is left unwritten.
    pub async fn flush(&self, store: &Store, now: Millis) -> bool {
        let mut unwritten = self.unwritten.lock().await;
        let taken = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        if !taken.counts.is_empty() || !taken.last_used.is_empty() {
            let number = self.next.fetch_add(1, Relaxed);
            unwritten.push_back(Batch {
                id: format!("{}-{number}", self.instance),
                counts: taken.counts.into_iter().collect(),
                last_used: taken.last_used.into_iter().collect(),
            });
        }
        while let Some(batch) = unwritten.front() {
            match write(store, batch, now).await {
                Ok(()) => {
                    for org_id in batch.orgs() {
                        self.written.wrote(org_id);
                    }
                    unwritten.pop_front();
                    self.batches_written.fetch_add(1, Relaxed);
                }
                Err(e) => {
                    self.batches_failed.fetch_add(1, Relaxed);
                    tracing::error!(error = %e, batch = %batch.id, "write gateway usage; kept to retry");
                    self.unwritten_count.store(unwritten.len(), Relaxed);
                    return false;
                }
            }
        }
        self.unwritten_count.store(0, Relaxed);
        true
    }
}

/// The minute of `now`, as stored.
pub fn minute(now: Millis) -> i64 {
    now.div_euclid(MINUTE)
}

async fn write(store: &Store, batch: &Batch, now: Millis) -> sqlx::Result<()> {
    let mut tx = store.write().await?;
    let first: Option<String> = sqlx::query_scalar(
        "insert into gateway_usage_batches (batch_id, written_at) values ($1, $2) \
         on conflict (batch_id) do nothing returning batch_id",
    )
    .bind(&batch.id)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    if first.is_none() {
        // Written before: its commit went through and only the answer was lost.
        return tx.commit().await;
    }
    // Other instances' open Usage pages hear of it at commit.
    if store.backend == db::Backend::Postgres {
        for org_id in batch.orgs() {
            crate::events::notify_usage(&mut tx, org_id).await?;
        }
    }
    // Counts of minutes the roll-up has passed (a batch written late) go where readers of
    // those minutes look: the hourly table, and the daily one too before its watermark.
    let w = db::usage::lock_watermarks(&mut tx).await?;
    let (current, late): (Vec<_>, Vec<_>) = batch
        .counts
        .iter()
        .partition(|(c, _)| c.minute >= w.hourly_through);
    for daily in [false, true] {
        let rows: Vec<db::usage::Late<'_>> = late
            .iter()
            .filter(|(c, _)| !daily || c.minute < w.daily_through)
            .map(|(c, calls)| {
                let grain = if daily { DAY_MINUTES } else { HOUR_MINUTES };
                db::usage::Late {
                    org_id: c.org_id,
                    start: c.minute - c.minute.rem_euclid(grain),
                    user_id: c.user_id,
                    feature: c.feature,
                    region: &c.region,
                    outcome: c.outcome,
                    calls: i64::try_from(*calls).unwrap_or(i64::MAX),
                }
            })
            .collect();
        db::usage::add_late(&mut tx, daily, &rows).await?;
    }
    for rows in current.chunks(ROWS_PER_STATEMENT) {
        // `$n` placeholders, which both databases read (sqlx's query builder writes `?` for
        // `Any`, which PostgreSQL does not).
        let values: Vec<String> = (0..rows.len())
            .map(|r| {
                let n = r * 8;
                let p: Vec<String> = (1..=8).map(|i| format!("${}", n + i)).collect();
                format!("({})", p.join(", "))
            })
            .collect();
        let sql = format!(
            "insert into gateway_usage \
             (org_id, minute, user_id, key_id, feature, region, outcome, calls) values {} \
             on conflict (org_id, minute, user_id, key_id, feature, region, outcome) \
             do update set calls = gateway_usage.calls + excluded.calls",
            values.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for (c, calls) in rows {
            q = q
                .bind(c.org_id)
                .bind(c.minute)
                .bind(c.user_id)
                .bind(c.key_id)
                .bind(c.feature)
                .bind(c.region.as_str())
                .bind(c.outcome)
                .bind(i64::try_from(*calls).unwrap_or(i64::MAX));
        }
        q.execute(&mut *tx).await?;
    }
    for &(key_id, at) in &batch.last_used {
        sqlx::query(
            "update api_keys set last_used_at = $2 \
             where id = $1 and (last_used_at is null or last_used_at < $2)",
        )
        .bind(key_id)
        .bind(at)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}
