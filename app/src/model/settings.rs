//! Settings → Organization: the name, seats, regions, verified domains and auto-join.

use super::team::Seats;
use serde::{Deserialize, Serialize};

/// The auto-join modes: off, offered after sign-in, or automatic (seed 003).
pub const AUTO_JOIN_MODES: [(&str, &str); 3] = [
    ("off", "Off"),
    ("suggest", "Suggest: people see “Join” after signing in"),
    (
        "automatic",
        "Automatic: people join as soon as their address is verified",
    ),
];

/// The DNS name a domain's challenge record goes under.
pub fn record_name(domain: &str) -> String {
    format!("_roster-challenge.{domain}")
}

/// One domain of the organization, as Settings shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainView {
    pub id: i64,
    /// As stored: lower-case ASCII (punycode for IDN names).
    pub domain: String,
    /// The name as people write it (Unicode for IDN names).
    pub display: String,
    /// `pending`, `verified` or `lapsed`.
    pub status: String,
    /// The TXT record to create: its name and value.
    pub record_name: String,
    pub record_value: String,
    /// When it was last checked, and verified, as the viewer reads it.
    pub last_checked: Option<String>,
    pub verified_at: Option<String>,
    /// Failed daily checks in a row (three lapse a verified domain).
    pub failed_checks: i64,
}

impl DomainView {
    pub fn status_label(&self) -> &'static str {
        match self.status.as_str() {
            "verified" => "Verified",
            "lapsed" => "Lapsed",
            _ => "Pending",
        }
    }
}

/// Settings → Organization.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsPage {
    pub org_name: String,
    pub seats: Seats,
    /// (code, name).
    pub regions: Vec<(String, String)>,
    /// A key of `AUTO_JOIN_MODES`.
    pub auto_join: String,
    /// The role auto-join gives (a role key).
    pub auto_join_role: String,
    /// The roles auto-join may give: (key, name); never Admin or Owner.
    pub join_roles: Vec<(String, String)>,
    pub domains: Vec<DomainView>,
    /// Whether the viewer may change settings (Account Settings: Edit).
    pub can_edit: bool,
}

/// An organization a signed-in person may join because their address's domain is verified
/// there ("Suggest").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinSuggestion {
    pub org_id: i64,
    pub org_name: String,
    pub domain: String,
    /// Every seat is taken: joining is refused until the admins raise the limit.
    pub seats_full: bool,
}
