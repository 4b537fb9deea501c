//! Live updates: "this organization's team changed", pushed to open pages over SSE.
//!
//! On SQLite (one server) an event goes straight to this process's subscribers once its
//! transaction commits. On PostgreSQL the event is a `NOTIFY` sent inside the transaction,
//! so PostgreSQL delivers it at commit (and never for a rolled-back change) to every Roster
//! instance listening on the database, this one included.
//!
//! The same events keep the gateway's caches true (`crate::gateway::watch`): this process's
//! changes reach them at commit, other instances' by `NOTIFY`, and so do the keys issued.

mod feeds;

pub use feeds::{FEED_INTERVAL, Update};

use crate::db::{Backend, Conn, Store, api_keys};
use crate::gateway::watch::{Watch, short};
use sqlx::postgres::PgListener;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, watch};

const CHANNEL: &str = "roster_events";
/// The payload of a key issued: this prefix and the key's short lookup hash in hex.
const KEY_ISSUED: &str = "key:";
/// The payload of usage counts written: this prefix and the organization's id.
const USAGE_WRITTEN: &str = "usage:";

/// Tells every instance, at commit, that counts of `org_id` were written (PostgreSQL).
pub async fn notify_usage(conn: &mut Conn, org_id: i64) -> sqlx::Result<()> {
    sqlx::query("select pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(format!("{USAGE_WRITTEN}{org_id}"))
        .execute(conn)
        .await?;
    Ok(())
}

/// A change to the team of one organization, which made its team `version`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TeamChanged {
    pub org_id: i64,
    pub version: i64,
}

#[derive(Clone)]
pub struct Events {
    backend: Backend,
    local: broadcast::Sender<TeamChanged>,
    /// What the gateway's caches must know of changes.
    pub watch: Arc<Watch>,
    /// The changes as open pages hear of them: coalesced per organization.
    feeds: feeds::Feeds,
    /// Usage counts written, per organization, for open Usage pages.
    pub usage_written: Arc<crate::gateway::usage::Written>,
    store: Store,
    /// Set when the server begins to shut down, so open streams end and let it finish.
    stopping: Arc<watch::Sender<bool>>,
}

impl Events {
    /// Starts the event hub; on PostgreSQL it is listening for every instance's events
    /// (this one's included) before it returns. The stored keys are read once listening,
    /// so a key issued meanwhile is either read or heard of.
    pub async fn start(store: &Store, database_url: &str) -> sqlx::Result<Self> {
        let (local, _) = broadcast::channel(1024);
        let watch = Arc::new(Watch::default());
        let listener = match store.backend {
            Backend::Postgres => Some(listen(database_url).await?),
            Backend::Sqlite => None,
        };
        know_stored_keys(store, &watch).await?;
        let feeds = feeds::Feeds::default();
        let usage_written = Arc::new(crate::gateway::usage::Written::default());
        tokio::spawn(feeds.clone().run(local.subscribe()));
        if let Some(listener) = listener {
            let hub = Hub {
                url: database_url.to_owned(),
                store: store.clone(),
                local: local.clone(),
                watch: watch.clone(),
                feeds: feeds.clone(),
                usage_written: usage_written.clone(),
            };
            tokio::spawn(hub.forward(listener));
        }
        Ok(Self {
            backend: store.backend,
            local,
            watch,
            feeds,
            usage_written,
            store: store.clone(),
            stopping: Arc::new(watch::channel(false).0),
        })
    }

    /// Every change, as it is announced.
    pub fn subscribe(&self) -> broadcast::Receiver<TeamChanged> {
        self.local.subscribe()
    }

    /// The versions of one organization's team, at most one every `FEED_INTERVAL`, from
    /// the stored version on: the first value is the version now, so a page that was rendered
    /// before a change and connects after it still hears of it.
    pub async fn feed(&self, org_id: i64) -> sqlx::Result<tokio::sync::watch::Receiver<Update>> {
        let version: i64 =
            sqlx::query_scalar("select team_version from organizations where id = $1")
                .bind(org_id)
                .fetch_one(&self.store.pool)
                .await?;
        Ok(self.feeds.subscribe(org_id, version))
    }

    /// Tells open streams to end (the server is shutting down).
    pub fn stop(&self) {
        self.stopping.send_replace(true);
    }

    /// Resolves once `stop` has been called.
    pub async fn stopped(&self) {
        let mut rx = self.stopping.subscribe();
        let _ = rx.wait_for(|stopping| *stopping).await;
    }

    /// Counts the change in the team's version and records the event, in the caller's
    /// transaction (PostgreSQL: delivered at commit). Returns the new version.
    pub async fn in_transaction(&self, conn: &mut Conn, org_id: i64) -> sqlx::Result<i64> {
        let version: i64 = sqlx::query_scalar(
            "update organizations set team_version = team_version + 1 where id = $1 \
             returning team_version",
        )
        .bind(org_id)
        .fetch_one(&mut *conn)
        .await?;
        if self.backend == Backend::Postgres {
            sqlx::query("select pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(format!("{org_id}:{version}"))
                .execute(conn)
                .await?;
        }
        Ok(version)
    }

    /// Called after the transaction committed (SQLite: delivered now). This process's
    /// gateway caches drop the organization's entries now on either database, before the
    /// change's request answers.
    pub fn committed(&self, org_id: i64, version: i64) {
        self.watch.org_changed(org_id);
        if self.backend == Backend::Sqlite {
            let _ = self.local.send(TeamChanged { org_id, version });
        }
    }

    /// A key with `lookup_hash` is being issued in the caller's transaction: known here at
    /// once (a key known too early only costs a lookup), elsewhere at commit.
    pub async fn key_issued(&self, conn: &mut Conn, lookup_hash: &str) -> sqlx::Result<()> {
        self.watch.key_issued(lookup_hash);
        if self.backend == Backend::Postgres
            && let Some(short) = short(lookup_hash)
        {
            sqlx::query("select pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(format!("{KEY_ISSUED}{short:016x}"))
                .execute(conn)
                .await?;
        }
        Ok(())
    }
}

async fn listen(url: &str) -> sqlx::Result<PgListener> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

async fn know_stored_keys(store: &Store, watch: &Watch) -> sqlx::Result<()> {
    let mut conn = store.pool.acquire().await?;
    let hashes = api_keys::short_hashes(&mut conn).await?;
    watch.know_exactly(hashes.iter().map(String::as_str));
    Ok(())
}

/// The PostgreSQL side: every instance's notifications, to live pages and the caches.
struct Hub {
    url: String,
    store: Store,
    local: broadcast::Sender<TeamChanged>,
    watch: Arc<Watch>,
    feeds: feeds::Feeds,
    usage_written: Arc<crate::gateway::usage::Written>,
}

impl Hub {
    async fn forward(self, mut listener: PgListener) {
        loop {
            // `try_recv` says when the connection was lost (`Ok(None)`); notifications sent
            // until it listens again are lost, so the caches stand aside until then.
            match listener.try_recv().await {
                Ok(Some(n)) => self.deliver(n.payload()),
                Ok(None) => {
                    tracing::warn!("live updates listener lost its connection; reconnecting");
                    listener = self.reconnect().await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "live updates listener failed; reconnecting");
                    listener = self.reconnect().await;
                }
            }
        }
    }

    fn deliver(&self, payload: &str) {
        if let Some(hash) = payload.strip_prefix(KEY_ISSUED) {
            self.watch.key_issued(hash);
        } else if let Some(org) = payload.strip_prefix(USAGE_WRITTEN) {
            if let Ok(org_id) = org.parse() {
                self.usage_written.wrote(org_id);
            }
        } else {
            // "org:version"; an instance of an earlier release sends the org alone.
            let (org, version) = payload.split_once(':').unwrap_or((payload, ""));
            let Ok(org_id) = org.parse() else {
                tracing::warn!(payload, "unreadable team change notification");
                return;
            };
            self.watch.org_changed(org_id);
            match version.parse() {
                Ok(version) => {
                    let _ = self.local.send(TeamChanged { org_id, version });
                }
                // Without a version, pages cannot tell whether they are behind: all check.
                Err(_) => self.feeds.all_changed(),
            }
        }
    }

    /// Listens again, then rereads the stored keys and lets go of everything cached, and
    /// only then lets the caches be used again.
    async fn reconnect(&self) -> PgListener {
        self.watch.set_listening(false);
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let listener = match listen(&self.url).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for live updates");
                    continue;
                }
            };
            if let Err(e) = know_stored_keys(&self.store, &self.watch).await {
                tracing::warn!(error = %e, "cannot read the stored keys");
                continue;
            }
            self.watch.everything_changed();
            self.usage_written.everything_written();
            self.watch.set_listening(true);
            // Open pages may have missed changes too.
            self.feeds.all_changed();
            return listener;
        }
    }
}
