//! The audit log page: its view (kept in the address) and what it shows.

use super::usage::{page_href, query_string};
use serde::{Deserialize, Serialize};

/// Rows on one page of the log.
pub const AUDIT_PAGE_SIZE: usize = 50;

/// The kinds of action the "Action" filter offers: an action code's area and its label.
pub const AREAS: [(&str, &str); 14] = [
    ("member", "Members"),
    ("invitation", "Invitations"),
    ("api_key", "API keys"),
    ("role", "Roles"),
    ("region", "Regions"),
    ("ownership", "Ownership"),
    ("billing", "Seats and billing"),
    ("organization", "Organization"),
    ("domain", "Domains"),
    ("session", "Sign-ins"),
    ("profile", "Profiles"),
    ("password", "Passwords"),
    ("terms", "Terms of use"),
    ("audit", "Audit log"),
];

/// What the Audit Log page shows, as the address says it. Values are kept as typed, so a
/// mistake is shown next to its field and nothing is lost.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditQuery {
    /// An actor's user id.
    pub actor: String,
    /// An area of `AREAS`.
    pub action: String,
    /// Part of the target (an address, a role's name, …).
    pub target: String,
    /// Words found in the action, target, change or actor.
    pub search: String,
    /// First and last day (YYYY-MM-DD), in the viewer's time zone.
    pub from: String,
    pub to: String,
    /// The keyset cursor: rows older than this one (`<time>.<id>`).
    pub after: String,
    /// The viewer's IANA time zone; empty: UTC.
    pub tz: String,
}

impl AuditQuery {
    pub const KEYS: [&'static str; 7] =
        ["actor", "action", "target", "search", "from", "to", "after"];

    fn value(&self, key: &str) -> &str {
        match key {
            "actor" => &self.actor,
            "action" => &self.action,
            "target" => &self.target,
            "search" => &self.search,
            "from" => &self.from,
            "to" => &self.to,
            "after" => &self.after,
            _ => "",
        }
    }

    pub fn from_pairs<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Self {
        let v = |k: &str| get(k).unwrap_or_default().trim().to_owned();
        AuditQuery {
            actor: v("actor"),
            action: v("action"),
            target: v("target"),
            search: v("search"),
            from: v("from"),
            to: v("to"),
            after: v("after"),
            tz: String::new(),
        }
    }

    /// The query string (without `?`) with `changes` applied.
    pub fn query_string(&self, changes: &[(&str, &str)]) -> String {
        query_string(&Self::KEYS, |k| self.value(k), changes)
    }

    /// The page's address with `changes` applied.
    pub fn href(&self, changes: &[(&str, &str)]) -> String {
        page_href("/audit", self.query_string(changes))
    }

    /// The export's address for `format` (`csv` or `jsonl`): this view's filters, every page.
    pub fn export_href(&self, format: &str) -> String {
        let q = self.query_string(&[("after", "")]);
        if q.is_empty() {
            format!("/audit/export?format={format}")
        } else {
            format!("/audit/export?format={format}&{q}")
        }
    }
}

/// One row of the log as the page shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRow {
    pub id: i64,
    /// Its place in the organization's chain.
    pub seq: i64,
    /// RFC 3339, UTC (for `datetime`), and as the viewer reads it.
    pub at: String,
    pub at_label: String,
    /// The actor's name and address; none for the system.
    pub actor_name: Option<String>,
    pub actor_email: Option<String>,
    /// `api`, `auto_join`, `system` (no actor), or empty for the web app.
    pub via: String,
    pub action: String,
    pub action_label: String,
    pub target: String,
    /// The change, "role: member → admin", or the detail as written.
    pub change: String,
    pub client_ip: String,
    pub user_agent: String,
    pub request_id: String,
}

/// One page of the log.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    pub rows: Vec<AuditRow>,
    /// The cursor of the next (older) page, when there is one.
    pub next: Option<String>,
    /// Who can be chosen in the actor filter: (user id, label).
    pub actors: Vec<(String, String)>,
    /// Whether the viewer may export (Audit Logs: Download).
    pub can_export: bool,
}

/// What "Verify integrity" found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Integrity {
    /// Rows checked.
    pub rows: u64,
    /// The first broken link, in words; none when the chain is whole.
    pub broken: Option<String>,
}
