//! Live updates: "this organization's team changed", pushed to open pages over SSE.
//!
//! On SQLite (one server) an event goes straight to this process's subscribers once its
//! transaction commits. On PostgreSQL the event is a `NOTIFY` sent inside the transaction,
//! so PostgreSQL delivers it at commit (and never for a rolled-back change) to every Roster
//! instance listening on the database, this one included.

use crate::db::{Backend, Conn, Store};
use sqlx::postgres::PgListener;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, watch};

const CHANNEL: &str = "roster_events";

/// A change to the team of one organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TeamChanged {
    pub org_id: i64,
}

#[derive(Clone)]
pub struct Events {
    backend: Backend,
    local: broadcast::Sender<TeamChanged>,
    /// Set when the server begins to shut down, so open streams end and let it finish.
    stopping: Arc<watch::Sender<bool>>,
}

impl Events {
    /// Starts the event hub; on PostgreSQL it is listening for every instance's events
    /// (this one's included) before it returns.
    pub async fn start(store: &Store, database_url: &str) -> sqlx::Result<Self> {
        let (local, _) = broadcast::channel(1024);
        if store.backend == Backend::Postgres {
            let mut listener = PgListener::connect(database_url).await?;
            listener.listen(CHANNEL).await?;
            tokio::spawn(forward(listener, database_url.to_owned(), local.clone()));
        }
        Ok(Self {
            backend: store.backend,
            local,
            stopping: Arc::new(watch::channel(false).0),
        })
    }

    pub fn subscribe(&self) -> broadcast::Receiver<TeamChanged> {
        self.local.subscribe()
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

    /// Records the event in the caller's transaction (PostgreSQL: delivered at commit).
    pub async fn in_transaction(&self, conn: &mut Conn, org_id: i64) -> sqlx::Result<()> {
        if self.backend == Backend::Postgres {
            sqlx::query("select pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(org_id.to_string())
                .execute(conn)
                .await?;
        }
        Ok(())
    }

    /// Called after the transaction committed (SQLite: delivered now).
    pub fn committed(&self, org_id: i64) {
        if self.backend == Backend::Sqlite {
            let _ = self.local.send(TeamChanged { org_id });
        }
    }
}

async fn forward(mut listener: PgListener, url: String, local: broadcast::Sender<TeamChanged>) {
    loop {
        // `recv` reconnects by itself after a lost connection; anything else starts over.
        match listener.recv().await {
            Ok(n) => {
                if let Ok(org_id) = n.payload().parse() {
                    let _ = local.send(TeamChanged { org_id });
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "live updates listener failed; reconnecting");
                tokio::time::sleep(Duration::from_secs(2)).await;
                match PgListener::connect(&url).await {
                    Ok(mut l) => match l.listen(CHANNEL).await {
                        Ok(()) => listener = l,
                        Err(e) => tracing::warn!(error = %e, "cannot listen for live updates"),
                    },
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot connect the live updates listener")
                    }
                }
            }
        }
    }
}
