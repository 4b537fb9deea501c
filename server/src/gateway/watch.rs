//! What the gateway's caches must know of changes made anywhere: which organizations'
//! teams changed, and since when (a generation counter), and which keys exist at all.
//!
//! A cached principal records the generation at which its database read began. It is used
//! only while neither its organization nor "everything" changed since: a fill that began
//! before a Revoke can finish after it, but its result is never used again once the Revoke's
//! change is recorded here. Changes arrive from this process at commit, and on PostgreSQL
//! from every instance by `NOTIFY` (`crate::events`); while that listener is down the caches
//! are not used at all.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex, RwLock};

/// The generation at which one organization's team last changed.
#[derive(Default)]
pub struct OrgGeneration(AtomicU64);

pub struct Watch {
    counter: AtomicU64,
    everything: AtomicU64,
    orgs: Mutex<HashMap<i64, Arc<OrgGeneration>>>,
    listening: AtomicBool,
    /// The first eight bytes of every stored key's lookup hash: a key not in here was never
    /// issued, so a storm of made-up keys costs no database work. A superset is safe (it
    /// only costs a lookup), so keys are added before their transaction commits.
    known: RwLock<HashSet<u64>>,
}

impl Default for Watch {
    fn default() -> Self {
        Self {
            counter: AtomicU64::new(1),
            everything: AtomicU64::new(0),
            orgs: Mutex::default(),
            listening: AtomicBool::new(true),
            known: RwLock::default(),
        }
    }
}

/// Where a cache fill stands: the generation it began at.
#[derive(Clone, Copy, Debug)]
pub struct Generation(u64);

impl Watch {
    /// The generation now; take it before reading the database.
    pub fn now(&self) -> Generation {
        Generation(self.counter.load(SeqCst))
    }

    /// The generation cell of `org_id`, for an entry to check later without a lock.
    pub fn org(&self, org_id: i64) -> Arc<OrgGeneration> {
        let mut orgs = self.orgs.lock().unwrap_or_else(|e| e.into_inner());
        orgs.entry(org_id).or_default().clone()
    }

    /// Whether a read begun at `at` about an organization is still current.
    pub fn current(&self, at: Generation, org: Option<&OrgGeneration>) -> bool {
        self.everything.load(SeqCst) <= at.0 && org.is_none_or(|o| o.0.load(SeqCst) <= at.0)
    }

    /// The team of `org_id` changed (called once the change is committed).
    pub fn org_changed(&self, org_id: i64) {
        let cell = self.org(org_id);
        let next = self.counter.fetch_add(1, SeqCst) + 1;
        cell.0.fetch_max(next, SeqCst);
    }

    /// Anything may have changed (missed notifications).
    pub fn everything_changed(&self) {
        let next = self.counter.fetch_add(1, SeqCst) + 1;
        self.everything.fetch_max(next, SeqCst);
    }

    /// Whether changes made elsewhere are being heard; when not, caches must not be used.
    pub fn listening(&self) -> bool {
        self.listening.load(SeqCst)
    }

    pub fn set_listening(&self, on: bool) {
        self.listening.store(on, SeqCst);
    }

    /// Whether a key with this lookup hash may exist.
    pub fn may_exist(&self, lookup_hash: &str) -> bool {
        let Some(short) = short(lookup_hash) else {
            return true;
        };
        let known = self.known.read().unwrap_or_else(|e| e.into_inner());
        known.contains(&short)
    }

    /// A key with this lookup hash was (or is being) issued.
    pub fn key_issued(&self, lookup_hash: &str) {
        if let Some(short) = short(lookup_hash) {
            let mut known = self.known.write().unwrap_or_else(|e| e.into_inner());
            known.insert(short);
        }
    }

    /// Replaces the known keys with every stored one's lookup hash.
    pub fn know_exactly<'a>(&self, lookup_hashes: impl IntoIterator<Item = &'a str>) {
        let set: HashSet<u64> = lookup_hashes.into_iter().filter_map(short).collect();
        *self.known.write().unwrap_or_else(|e| e.into_inner()) = set;
    }
}

/// The first eight bytes of a hex lookup hash.
pub fn short(lookup_hash: &str) -> Option<u64> {
    u64::from_str_radix(lookup_hash.get(..16)?, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_begun_before_a_change_is_stale_and_one_begun_after_is_current() {
        let w = Watch::default();
        let (a, b) = (w.org(1), w.org(2));
        let before = w.now();
        assert!(w.current(before, Some(&a)));
        w.org_changed(1);
        assert!(
            !w.current(before, Some(&a)),
            "org 1 changed after the read began"
        );
        assert!(w.current(before, Some(&b)), "org 2 did not change");
        let after = w.now();
        assert!(w.current(after, Some(&a)));
        w.everything_changed();
        assert!(!w.current(after, Some(&b)));
        assert!(!w.current(after, None));
        assert!(w.current(w.now(), Some(&a)));
    }

    #[test]
    fn only_known_keys_may_exist_and_a_short_hash_is_never_ruled_out() {
        let w = Watch::default();
        let h = "00ff00ff00ff00ff".repeat(4);
        assert!(!w.may_exist(&h));
        w.key_issued(&h);
        assert!(w.may_exist(&h));
        assert!(!w.may_exist(&"11".repeat(32)));
        assert!(w.may_exist("zz"), "an unreadable hash goes to the database");
        w.know_exactly([]);
        assert!(!w.may_exist(&h));
    }
}
