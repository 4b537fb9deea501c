//! The Usage page: what it asks for (it lives in the address) and what it shows.

use serde::{Deserialize, Serialize};

/// The time ranges offered, by the value the address carries.
pub const RANGES: [(&str, &str); 4] = [
    ("24h", "Last 24 hours"),
    ("7d", "Last 7 days"),
    ("30d", "Last 30 days"),
    ("90d", "Last 90 days"),
];
pub const DEFAULT_RANGE: &str = "7d";
pub const CUSTOM_RANGE: &str = "custom";

/// How the member table is ordered.
pub const MEMBER_SORTS: [(&str, &str); 4] = [
    ("calls", "Calls"),
    ("denied", "Denied"),
    ("name", "Member"),
    ("last", "Last call"),
];

/// What the Usage page (and the report) shows, as the address says it. Every value is kept
/// as typed, so a mistake is shown next to its field and nothing is lost.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageQuery {
    pub range: String,
    /// A custom range's first and last day (YYYY-MM-DD), in the viewer's time zone.
    pub from: String,
    pub to: String,
    /// A member's user id.
    pub member: String,
    pub feature: String,
    pub region: String,
    /// `allowed`, `denied`, or one refusal's reason code.
    pub outcome: String,
    pub sort: String,
    /// The viewer's IANA time zone (from the browser); empty: UTC.
    pub tz: String,
}

impl UsageQuery {
    /// The parameters as the address carries them, leaving out the empty ones.
    pub const KEYS: [&'static str; 8] = [
        "range", "from", "to", "member", "feature", "region", "outcome", "sort",
    ];

    fn value(&self, key: &str) -> &str {
        match key {
            "range" => &self.range,
            "from" => &self.from,
            "to" => &self.to,
            "member" => &self.member,
            "feature" => &self.feature,
            "region" => &self.region,
            "outcome" => &self.outcome,
            "sort" => &self.sort,
            _ => "",
        }
    }

    pub fn from_pairs<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Self {
        let v = |k: &str| get(k).unwrap_or_default().trim().to_owned();
        UsageQuery {
            range: v("range"),
            from: v("from"),
            to: v("to"),
            member: v("member"),
            feature: v("feature"),
            region: v("region"),
            outcome: v("outcome"),
            sort: v("sort"),
            tz: String::new(),
        }
    }

    /// The query string (without `?`) with `changes` applied.
    pub fn query_string(&self, changes: &[(&str, &str)]) -> String {
        query_string(&Self::KEYS, |k| self.value(k), changes)
    }

    /// The Usage page's address with `changes` applied.
    pub fn href(&self, changes: &[(&str, &str)]) -> String {
        page_href("/usage", self.query_string(changes))
    }
}

/// The query string (without `?`) of a view kept in the address: each of `keys` with its
/// value (`changes` first), leaving out the empty ones.
pub fn query_string<'a>(
    keys: &[&str],
    value: impl Fn(&str) -> &'a str,
    changes: &[(&str, &'a str)],
) -> String {
    keys.iter()
        .filter_map(|k| {
            let value = changes
                .iter()
                .find(|(c, _)| c == k)
                .map_or_else(|| value(k), |(_, v)| *v);
            (!value.is_empty()).then(|| format!("{k}={}", encode(value)))
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A page's address with its query string, when it has one.
pub fn page_href(path: &str, query: String) -> String {
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    }
}

/// Percent-encodes a query value.
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The words for an outcome code.
pub fn outcome_label(code: &str) -> &'static str {
    match code {
        "allowed" => "Allowed",
        "denied" => "Denied (any reason)",
        "missing_key" => "Denied: no key",
        "malformed_key" => "Denied: malformed key",
        "unknown_key" => "Denied: unknown key",
        "key_expired" => "Denied: key expired",
        "member_inactive" => "Denied: member not active",
        "insufficient_permission" => "Denied: no permission",
        "region_denied" => "Denied: region not granted",
        "rate_limited" => "Denied: rate limited",
        "unavailable" => "Denied: check unavailable",
        _ => "Other",
    }
}

/// The outcomes one can filter by.
pub const OUTCOMES: [&str; 8] = [
    "allowed",
    "denied",
    "key_expired",
    "member_inactive",
    "insufficient_permission",
    "region_denied",
    "rate_limited",
    "unavailable",
];

/// One bar of the chart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Point {
    /// The bucket as people read it ("Thu 3 Dec, 14:00" or "Thu 3 Dec").
    pub label: String,
    pub allowed: i64,
    pub denied: i64,
}

/// One member's calls over the range.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberUsage {
    pub user_id: i64,
    pub name: String,
    pub email: String,
    pub calls: i64,
    pub denied: i64,
    /// Their part of all calls in the view, such as "12.5%".
    pub share: String,
    pub last_call: String,
    pub top_feature: String,
}

/// Calls of one feature, region or outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slice {
    pub label: String,
    pub calls: i64,
    pub denied: i64,
    pub share: String,
}

/// A choice in a filter: the value the address carries and its words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    pub value: String,
    pub label: String,
}

/// Everything the Usage page shows for one query.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageReport {
    /// The range in words ("Last 7 days", or the custom range's days).
    pub range_label: String,
    /// The time zone the times are shown in.
    pub tz: String,
    /// Bars per hour (`true`) or per day.
    pub hourly: bool,
    /// Days are UTC days (ranges older than the hourly counts are kept).
    pub utc_days: bool,
    pub points: Vec<Point>,
    pub calls: i64,
    pub denied: i64,
    pub members: Vec<MemberUsage>,
    /// Members with calls, when more than the table shows.
    pub members_total: usize,
    pub features: Vec<Slice>,
    pub regions: Vec<Slice>,
    pub outcomes: Vec<Slice>,
    pub member_choices: Vec<Choice>,
    pub feature_choices: Vec<Choice>,
    pub region_choices: Vec<Choice>,
    /// "Download Report" is offered.
    pub can_download: bool,
}

/// A member's own calls over the last 30 days (Profile, Overview).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnUsage {
    pub calls: i64,
    pub denied: i64,
    pub top_feature: String,
    pub last_call: String,
    /// Theirs, to link to their row of the Usage page.
    pub user_id: i64,
}

/// Pending invitations, and how many of them expire within seven days.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub count: i64,
    pub expiring_this_week: i64,
}

/// The organization's last seven days of calls.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Week {
    pub today: i64,
    pub calls: i64,
    pub denied_share: String,
    /// One bar per day, today last.
    pub days: Vec<Point>,
    /// The five most active members.
    pub top: Vec<MemberUsage>,
}

/// One line of the audit log as the Overview shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditLine {
    pub when: String,
    pub who: String,
    pub action: String,
    pub target: String,
}

/// A step of "Get started".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub label: String,
    pub done: bool,
    pub href: String,
}

/// The Overview: each part only for those whose role may see what it counts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dashboard {
    pub seats: Option<crate::model::team::Seats>,
    pub pending: Option<Pending>,
    pub week: Option<Week>,
    pub audit: Option<Vec<AuditLine>>,
    /// "Get started", for those who may invite, until every step is done.
    pub checklist: Vec<Step>,
    pub own: OwnUsage,
}

/// The most rows the member table shows, and members the member filter offers (the report
/// has them all).
pub const MEMBER_ROWS: usize = 100;

/// `part` of `whole` as a percentage with one decimal ("12.5%").
pub fn share(part: i64, whole: i64) -> String {
    if whole <= 0 {
        return "0%".into();
    }
    let tenths = (part as i128 * 1000 + whole as i128 / 2) / whole as i128;
    if tenths % 10 == 0 {
        format!("{}%", tenths / 10)
    } else {
        format!("{}.{}%", tenths / 10, tenths % 10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_keeps_what_was_typed_and_drops_what_is_empty() {
        let q = UsageQuery::from_pairs(|k| match k {
            "range" => Some("custom"),
            "from" => Some("2026-11-01"),
            "member" => Some("a b&c"),
            _ => None,
        });
        assert_eq!(q.from, "2026-11-01");
        assert_eq!(
            q.href(&[]),
            "/usage?range=custom&from=2026-11-01&member=a%20b%26c"
        );
        assert_eq!(
            q.href(&[("member", ""), ("range", "24h")]),
            "/usage?range=24h&from=2026-11-01"
        );
        assert_eq!(UsageQuery::default().href(&[]), "/usage");
    }

    #[test]
    fn shares_round_to_a_tenth() {
        assert_eq!(share(1, 8), "12.5%");
        assert_eq!(share(1, 3), "33.3%");
        assert_eq!(share(2, 3), "66.7%");
        assert_eq!(share(5, 5), "100%");
        assert_eq!(share(0, 0), "0%");
    }
}
