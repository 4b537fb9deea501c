//! Live updates as open pages receive them: at most one per organization every
//! `FEED_INTERVAL`, carrying the team's version (`organizations.team_version`, counted by
//! every committed team change), so a burst of changes costs each open page a few refetches
//! and a page that already shows that version none.

use super::TeamChanged;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;

/// The shortest time between two updates sent for one organization.
pub const FEED_INTERVAL: Duration = Duration::from_millis(250);

/// What an open page is told: the newest announced version of its team, and how many times
/// changes may have been missed (then every page refetches once).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Update {
    pub version: i64,
    pub resyncs: u64,
}

struct Feed {
    tx: watch::Sender<Update>,
    sent_at: Option<Instant>,
    /// A version waiting for the interval to pass (a flush is scheduled).
    waiting: Option<i64>,
}

#[derive(Clone, Default)]
pub struct Feeds(Arc<Mutex<HashMap<i64, Feed>>>);

impl Feeds {
    /// The versions of `org_id`'s team as they are announced, from `stored` (read from the
    /// database) on. The receiver's first value counts as unseen, so it is sent at once.
    pub fn subscribe(&self, org_id: i64, stored: i64) -> watch::Receiver<Update> {
        let mut feeds = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let feed = feeds.entry(org_id).or_insert_with(|| Feed {
            tx: watch::channel(Update::default()).0,
            sent_at: None,
            waiting: None,
        });
        raise(&feed.tx, stored);
        let mut rx = feed.tx.subscribe();
        rx.mark_changed();
        rx
    }

    /// Forwards every change to the feeds until the hub closes.
    pub async fn run(self, mut changes: broadcast::Receiver<TeamChanged>) {
        loop {
            match changes.recv().await {
                Ok(c) => self.changed(c),
                // Missed some: every open page checks again.
                Err(broadcast::error::RecvError::Lagged(_)) => self.all_changed(),
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }

    fn changed(&self, c: TeamChanged) {
        let mut feeds = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let Some(feed) = feeds.get_mut(&c.org_id) else {
            return; // nobody is watching this organization
        };
        if feed.tx.receiver_count() == 0 && feed.waiting.is_none() {
            feeds.remove(&c.org_id);
            return;
        }
        let now = Instant::now();
        let due = feed.sent_at.map(|t| t + FEED_INTERVAL);
        match (due, feed.waiting) {
            // A flush is already on its way: it sends the newest version.
            (_, Some(v)) => feed.waiting = Some(v.max(c.version)),
            (Some(due), None) if due > now => {
                feed.waiting = Some(c.version);
                let feeds = self.clone();
                let org_id = c.org_id;
                tokio::spawn(async move {
                    tokio::time::sleep_until(due).await;
                    feeds.flush(org_id);
                });
            }
            _ => {
                raise(&feed.tx, c.version);
                feed.sent_at = Some(now);
            }
        }
    }

    fn flush(&self, org_id: i64) {
        let mut feeds = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(feed) = feeds.get_mut(&org_id)
            && let Some(version) = feed.waiting.take()
        {
            raise(&feed.tx, version);
            feed.sent_at = Some(Instant::now());
        }
    }

    /// Changes were missed: every open page refetches once.
    pub(super) fn all_changed(&self) {
        let feeds = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for feed in feeds.values() {
            feed.tx.send_modify(|u| u.resyncs += 1);
        }
    }
}

/// Sends `version` unless a newer one was sent already (announcements can arrive out of order
/// from several instances).
fn raise(tx: &watch::Sender<Update>, version: i64) {
    tx.send_if_modified(|u| {
        let newer = version > u.version;
        if newer {
            u.version = version;
        }
        newer
    });
}
