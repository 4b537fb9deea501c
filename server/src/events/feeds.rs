//! Live updates as open pages receive them: at most one per organization every
//! `FEED_INTERVAL` (longer when many pages are open, see `interval`), carrying the team's
//! version (`organizations.team_version`, counted by every committed team change), so a burst
//! of changes costs each open page a few refetches and a page that already shows that version
//! none. Each update also says over how long the pages should spread their refetches, so the
//! open pages of a large team ask for the list at `RELOADS_PER_SECOND`, not all at once.

use super::TeamChanged;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;

/// The shortest time between two updates sent for one organization.
pub const FEED_INTERVAL: Duration = Duration::from_millis(250);

/// How many of one organization's open pages of this instance may reload the list per second
/// after an update: the time between updates grows with the number of open pages to keep to it.
/// A Team page render costs a few milliseconds of one core, so this is a small share of a
/// 2-core server.
pub const RELOADS_PER_SECOND: u64 = 50;

/// The longest time between two updates: past this many open pages (750) they reload faster
/// than `RELOADS_PER_SECOND`, rather than show a change later.
pub const MAX_INTERVAL: Duration = Duration::from_secs(15);

/// The time between two updates, and over which the pages spread their refetches, when
/// `pages` pages watch the organization on this instance.
pub fn interval(pages: usize) -> Duration {
    let spread = Duration::from_millis(pages as u64 * 1000 / RELOADS_PER_SECOND);
    spread.clamp(FEED_INTERVAL, MAX_INTERVAL)
}

/// What an open page is told: the newest announced version of its team, how many times
/// changes may have been missed (then every page refetches once), and over how long the pages
/// should spread their refetches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Update {
    pub version: i64,
    pub resyncs: u64,
    pub spread: Duration,
}

struct Feed {
    tx: watch::Sender<Update>,
    sent_at: Option<Instant>,
    /// The interval in force since the last update, set when it was sent.
    interval: Duration,
    /// A version waiting for the interval to pass (a flush is scheduled).
    waiting: Option<i64>,
}

impl Feed {
    /// The interval (and spread) that the pages open now set.
    fn pages_interval(&self) -> Duration {
        interval(self.tx.receiver_count())
    }
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
            interval: FEED_INTERVAL,
            waiting: None,
        });
        // Counted first, so the spread its first update names includes this page (pages
        // reconnecting after a restart then spread their catch-up reloads too).
        let mut rx = feed.tx.subscribe();
        raise(feed, stored);
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
        // The interval set at the last update, or a shorter one if pages closed since.
        let every = feed.interval.min(feed.pages_interval());
        let due = feed.sent_at.map(|t| t + every);
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
                raise(feed, c.version);
                feed.sent_at = Some(now);
            }
        }
    }

    fn flush(&self, org_id: i64) {
        let mut feeds = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(feed) = feeds.get_mut(&org_id)
            && let Some(version) = feed.waiting.take()
        {
            raise(feed, version);
            feed.sent_at = Some(Instant::now());
        }
    }

    /// Changes were missed: every open page refetches once.
    pub(super) fn all_changed(&self) {
        let mut feeds = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for feed in feeds.values_mut() {
            let spread = feed.pages_interval();
            feed.interval = spread;
            feed.tx.send_modify(|u| {
                u.resyncs += 1;
                u.spread = spread;
            });
            // It counts as an update: the next change waits its interval.
            feed.sent_at = Some(Instant::now());
        }
    }
}

/// Sends `version` unless a newer one was sent already (announcements can arrive out of order
/// from several instances), with the interval that the number of open pages sets from now on.
fn raise(feed: &mut Feed, version: i64) {
    let spread = feed.pages_interval();
    // The spread is kept even when nothing is sent: a page that connects reads it.
    let sent = feed.tx.send_if_modified(|u| {
        u.spread = spread;
        let newer = version > u.version;
        if newer {
            u.version = version;
        }
        newer
    });
    if sent {
        feed.interval = spread;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_keeps_the_reloads_of_many_open_pages_to_the_budget() {
        assert_eq!(interval(0), FEED_INTERVAL);
        assert_eq!(interval(1), FEED_INTERVAL);
        assert_eq!(interval(10), FEED_INTERVAL);
        let pages = 200;
        let every = interval(pages);
        assert!(every > FEED_INTERVAL);
        // 200 pages reloading once each, spread over the interval, stay within the budget.
        let per_second = pages as f64 / every.as_secs_f64();
        assert!(
            per_second <= RELOADS_PER_SECOND as f64 + 0.5,
            "{per_second}"
        );
        // However many pages are open, a change is shown within two long intervals.
        assert_eq!(interval(1_000_000), MAX_INTERVAL);
    }

    #[tokio::test]
    async fn a_page_that_connects_is_told_the_spread_of_all_open_pages() {
        let feeds = Feeds::default();
        let open: Vec<_> = (0..300).map(|_| feeds.subscribe(7, 1)).collect();
        let last = open.last().unwrap();
        assert_eq!(last.borrow().spread, interval(300));
        assert!(last.borrow().spread > FEED_INTERVAL);
    }
}
