//! The team: roles, statuses, the listing query and the rules for who may do what to whom.
//! Shared by the browser (which shows only the buttons the rules allow) and the server
//! (which enforces them).

use crate::authz::{Access, BuiltIn, Feature, Level, Region, can};
use serde::{Deserialize, Serialize};

/// How many rows one page of the team list holds.
pub const PAGE_SIZE: i64 = 50;
/// The most addresses one "Bulk Invite" takes.
pub const BULK_MAX: usize = 1000;

/// A member's or invitation's role: a built-in one, or a custom role of the organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Role {
    Owner,
    Admin,
    Member,
    Visitor,
    Custom(i64),
}

impl Role {
    pub const BUILT_IN: [Role; 4] = [Role::Owner, Role::Admin, Role::Member, Role::Visitor];

    /// The key used in addresses and forms: "admin", or "custom-12" for a custom role.
    pub fn key(self) -> String {
        match self {
            Role::Custom(id) => format!("custom-{id}"),
            other => other.stored().0.to_owned(),
        }
    }

    pub fn parse(value: &str) -> Option<Role> {
        if let Some(id) = value.strip_prefix("custom-") {
            return id.parse().ok().filter(|id| *id > 0).map(Role::Custom);
        }
        Role::BUILT_IN.into_iter().find(|r| r.stored().0 == value)
    }

    /// How the role is stored: the role column and, for a custom role, its id.
    pub fn stored(self) -> (&'static str, Option<i64>) {
        match self {
            Role::Owner => ("owner", None),
            Role::Admin => ("admin", None),
            Role::Member => ("member", None),
            Role::Visitor => ("visitor", None),
            Role::Custom(id) => ("custom", Some(id)),
        }
    }

    pub fn from_stored(role: &str, role_id: Option<i64>) -> Option<Role> {
        match (role, role_id) {
            ("custom", Some(id)) => Some(Role::Custom(id)),
            ("custom", None) => None,
            (other, _) => Role::BUILT_IN.into_iter().find(|r| r.stored().0 == other),
        }
    }

    pub fn built_in(self) -> Option<BuiltIn> {
        match self {
            Role::Owner => Some(BuiltIn::Owner),
            Role::Admin => Some(BuiltIn::Admin),
            Role::Member => Some(BuiltIn::Member),
            Role::Visitor => Some(BuiltIn::Visitor),
            Role::Custom(_) => None,
        }
    }

    /// The name of a built-in role; custom roles are named by the organization.
    pub fn label(self) -> &'static str {
        match self {
            Role::Owner => "Owner",
            Role::Admin => "Admin",
            Role::Member => "Member",
            Role::Visitor => "Visitor",
            Role::Custom(_) => "Custom",
        }
    }
}

impl From<BuiltIn> for Role {
    fn from(b: BuiltIn) -> Self {
        match b {
            BuiltIn::Owner => Role::Owner,
            BuiltIn::Admin => Role::Admin,
            BuiltIn::Member => Role::Member,
            BuiltIn::Visitor => Role::Visitor,
        }
    }
}

/// A role as offered in a select or shown in a list: the role and its name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleOption {
    pub role: Role,
    pub name: String,
    /// Whether the viewer may give this role to someone.
    pub assignable: bool,
    /// Whether the viewer's role holds everything this one gives, in every region: only
    /// then may the viewer act on its members.
    pub outranked: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Status {
    Active,
    Disabled,
    Pending,
    Expired,
}

impl Status {
    pub const ALL: [Status; 4] = [
        Status::Active,
        Status::Pending,
        Status::Disabled,
        Status::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Disabled => "disabled",
            Status::Pending => "pending",
            Status::Expired => "expired",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::Active => "Active",
            Status::Disabled => "Disabled",
            Status::Pending => "Pending",
            Status::Expired => "Expired",
        }
    }

    pub fn parse(value: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == value)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum SortKey {
    #[default]
    Name,
    Email,
    Role,
    Status,
    Date,
}

impl SortKey {
    pub const ALL: [SortKey; 5] = [
        SortKey::Name,
        SortKey::Email,
        SortKey::Role,
        SortKey::Status,
        SortKey::Date,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SortKey::Name => "name",
            SortKey::Email => "email",
            SortKey::Role => "role",
            SortKey::Status => "status",
            SortKey::Date => "date",
        }
    }

    pub fn parse(value: &str) -> Option<SortKey> {
        SortKey::ALL.into_iter().find(|s| s.as_str() == value)
    }
}

/// What the team list is asked for: search, filters, order and page (from 1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct TeamQuery {
    pub search: String,
    pub role: Option<Role>,
    pub status: Option<Status>,
    pub sort: SortKey,
    pub descending: bool,
    pub page: i64,
    /// Where "Next" or "Previous" came from: the page is read from the index onwards from
    /// that row, so every page costs the same however deep it is. Without one (a typed
    /// address, a reload), the page is found by counting rows.
    pub cursor: Option<Cursor>,
    /// Only rows of this kind (the REST API lists members and invitations apart).
    #[serde(default)]
    pub only: Option<RowKind>,
    /// Only the row of this id (of kind `only`): one member or invitation.
    #[serde(default)]
    pub id: Option<i64>,
}

/// A page that follows one row (`After`, "Next") or precedes it (`Before`, "Previous").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Cursor {
    After(RowRef),
    Before(RowRef),
}

impl Cursor {
    /// As the address shows it: `a.m12` (after member 12), `b.i3` (before invitation 3).
    pub fn as_param(self) -> String {
        match self {
            Cursor::After(r) => format!("a.{}", r.as_param()),
            Cursor::Before(r) => format!("b.{}", r.as_param()),
        }
    }

    pub fn parse(value: &str) -> Option<Cursor> {
        let (side, row) = value.split_once('.')?;
        let row = RowRef::parse(row)?;
        match side {
            "a" => Some(Cursor::After(row)),
            "b" => Some(Cursor::Before(row)),
            _ => None,
        }
    }
}

/// One row of the list by kind and id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowRef {
    pub kind: RowKind,
    pub id: i64,
}

impl RowRef {
    fn as_param(self) -> String {
        match self.kind {
            RowKind::Member => format!("m{}", self.id),
            RowKind::Invitation => format!("i{}", self.id),
        }
    }

    fn parse(value: &str) -> Option<RowRef> {
        let kind = match value.get(..1)? {
            "m" => RowKind::Member,
            "i" => RowKind::Invitation,
            _ => return None,
        };
        let id = value[1..].parse().ok().filter(|id| *id > 0)?;
        Some(RowRef { kind, id })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RowKind {
    Member,
    Invitation,
}

/// One row of the team list: a member (by user id) or an invitation (by invitation id).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamRow {
    pub kind: RowKind,
    pub id: i64,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub mobile: Option<String>,
    pub role: Role,
    /// The role's name ("Admin", or a custom role's name).
    pub role_name: String,
    pub status: Status,
    /// Joined (members) or last invited (invitations), Unix milliseconds.
    pub date: i64,
    pub is_self: bool,
    /// The member's API key, for viewers who may copy and refresh it (`may_handle_key`).
    pub key: Option<KeyView>,
}

impl TeamRow {
    pub fn row_ref(&self) -> RowRef {
        RowRef {
            kind: self.kind,
            id: self.id,
        }
    }
}

/// A member's API key as the Team row and Profile show it: never the key itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyView {
    pub id: i64,
    /// Whose key it is.
    pub user_id: i64,
    /// Its first characters, e.g. "rst_3fK".
    pub prefix: String,
    /// The time of its last check, allowed or refused (Unix milliseconds).
    pub last_used_at: Option<i64>,
    /// The key it replaced, while that one still works.
    pub previous: Option<PreviousKey>,
}

/// A refreshed-away key that keeps working until `ends_at`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousKey {
    pub prefix: String,
    pub ends_at: i64,
    pub last_used_at: Option<i64>,
}

/// How long a refreshed-away key keeps working, as "Refresh" asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyGrace {
    Immediately,
    Hour,
    Day,
    Week,
}

impl KeyGrace {
    pub const ALL: [KeyGrace; 4] = [
        KeyGrace::Immediately,
        KeyGrace::Hour,
        KeyGrace::Day,
        KeyGrace::Week,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            KeyGrace::Immediately => "now",
            KeyGrace::Hour => "1h",
            KeyGrace::Day => "24h",
            KeyGrace::Week => "7d",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            KeyGrace::Immediately => "Immediately",
            KeyGrace::Hour => "1 hour",
            KeyGrace::Day => "24 hours",
            KeyGrace::Week => "7 days",
        }
    }

    /// How long the old key keeps working, in milliseconds.
    pub fn millis(self) -> i64 {
        const HOUR: i64 = 3_600_000;
        match self {
            KeyGrace::Immediately => 0,
            KeyGrace::Hour => HOUR,
            KeyGrace::Day => 24 * HOUR,
            KeyGrace::Week => 7 * 24 * HOUR,
        }
    }

    pub fn parse(value: &str) -> Option<KeyGrace> {
        KeyGrace::ALL.into_iter().find(|g| g.as_str() == value)
    }
}

impl TeamRow {
    pub fn name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }
}

/// Seats in use and the organization's limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seats {
    pub used: i64,
    pub limit: i64,
}

impl Seats {
    pub fn full(self) -> bool {
        self.used >= self.limit
    }

    /// Close enough to the limit to warn (90 % or more).
    pub fn nearly_full(self) -> bool {
        self.used * 10 >= self.limit * 9
    }
}

/// One page of the team list, with what the viewer may do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamPage {
    pub rows: Vec<TeamRow>,
    /// Rows matching the search and filters, over all pages.
    pub total: i64,
    pub page: i64,
    pub seats: Seats,
    /// What the viewer's role grants, to show only the actions they may take.
    pub viewer: Access,
    /// Every role of the organization (Owner first), marked with whether the viewer may
    /// give it.
    pub roles: Vec<RoleOption>,
    /// How long after an invitation was sent it may be sent again, in milliseconds.
    pub resend_cooldown_ms: i64,
    /// The team's version when read: live updates name newer ones.
    pub version: i64,
}

impl TeamPage {
    pub fn pages(&self) -> i64 {
        ((self.total + PAGE_SIZE - 1) / PAGE_SIZE).max(1)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MemberAction {
    Promote,
    Demote,
    Revoke,
    Activate,
    Edit,
    Remove,
}

impl MemberAction {
    pub const ALL: [MemberAction; 6] = [
        MemberAction::Promote,
        MemberAction::Demote,
        MemberAction::Revoke,
        MemberAction::Activate,
        MemberAction::Edit,
        MemberAction::Remove,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MemberAction::Promote => "promote",
            MemberAction::Demote => "demote",
            MemberAction::Revoke => "revoke",
            MemberAction::Activate => "activate",
            MemberAction::Edit => "edit",
            MemberAction::Remove => "remove",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            MemberAction::Promote => "Promote",
            MemberAction::Demote => "Demote",
            MemberAction::Revoke => "Revoke",
            MemberAction::Activate => "Activate",
            MemberAction::Edit => "Edit",
            MemberAction::Remove => "Remove",
        }
    }

    pub fn parse(value: &str) -> Option<MemberAction> {
        MemberAction::ALL.into_iter().find(|a| a.as_str() == value)
    }
}

/// The Team Management level an action needs: changing details is Edit; changing a role or
/// status, or removing someone, is Full.
pub fn action_level(action: MemberAction) -> Level {
    match action {
        MemberAction::Edit => Level::Edit,
        _ => Level::Full,
    }
}

/// The member an action is aimed at, as the rules need to see them.
#[derive(Clone, Copy, Debug)]
pub struct Target {
    pub is_self: bool,
    pub role: Role,
    pub status: Status,
    /// The actor's role covers the target's role (`Access::covers`, every region).
    pub outranked: bool,
}

/// Whether `actor` may apply `action` to `target`. The Owner is never acted on; only the
/// Owner acts on Admins; nobody acts on themselves (they leave instead) or on anyone whose
/// role gives something the actor's does not; Promote and Demote (Member to Admin and back)
/// are for the Owner and Admins only. Promote, Demote and Revoke need an Active member,
/// Activate a Disabled one.
pub fn may_act(actor: &Access, target: Target, action: MemberAction) -> bool {
    let Target {
        is_self,
        role: target,
        status,
        outranked,
    } = target;
    if is_self
        || !outranked
        || target == Role::Owner
        || !can(actor, Feature::TeamManagement, action_level(action), None)
    {
        return false;
    }
    if target == Role::Admin && !actor.is_owner() {
        return false;
    }
    let manages_admins = matches!(actor, Access::BuiltIn(BuiltIn::Owner | BuiltIn::Admin));
    match action {
        MemberAction::Promote => {
            manages_admins && target == Role::Member && status == Status::Active
        }
        MemberAction::Demote => manages_admins && target == Role::Admin && status == Status::Active,
        MemberAction::Revoke => status == Status::Active,
        MemberAction::Activate => status == Status::Disabled,
        MemberAction::Edit | MemberAction::Remove => {
            matches!(status, Status::Active | Status::Disabled)
        }
    }
}

/// Whether `actor` may copy and refresh `target`'s API key ("Copy API Key", "Refresh"): the
/// key of an Active member, for a role with API Keys: Edit or more; their own, or another
/// member's on exactly the rules of the other member actions (`may_act`, as for Revoke).
pub fn may_handle_key(actor: &Access, regions: &[Region], target: Target) -> bool {
    edits_keys(actor, regions)
        && target.status == Status::Active
        && (target.is_self || may_act(actor, target, MemberAction::Revoke))
}

/// Whether `access` holds API Keys: Edit in every one of the organization's `regions` (a key
/// works in all of them).
pub fn edits_keys(access: &Access, regions: &[Region]) -> bool {
    can(access, Feature::ApiKeys, Level::Edit, None)
        && regions
            .iter()
            .all(|r| can(access, Feature::ApiKeys, Level::Edit, Some(&r.code)))
}

/// Whether `actor` may give a role granting `role_access` to someone (by invitation or
/// edit): never the Owner's, and never more than the actor holds (in every one of the
/// organization's `regions`).
pub fn may_assign(actor: &Access, role_access: &Access, regions: &[Region]) -> bool {
    !role_access.is_owner()
        && can(actor, Feature::TeamManagement, Level::Edit, None)
        && actor.covers(role_access, regions)
}

/// What an invitation link shows before anything is asked of the person following it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationView {
    pub org_name: String,
    pub inviter: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    /// The role's name.
    pub role: String,
    /// The invited account is the one signed in now. Nobody else learns whether the
    /// address has an account.
    pub signed_in: bool,
}

/// What "Sign in to accept" did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Accepted {
    /// Joined and signed in.
    SignedIn,
    /// Not joined yet: the account's address is not verified and the link was not the one
    /// emailed to it, so the address was emailed a link of its own to sign in through and
    /// join; nobody is signed in.
    VerifyEmail,
}

/// The result of one line of a "Bulk Invite".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BulkOutcome {
    Invited,
    Invalid,
    Duplicate,
    AlreadyMember,
    AlreadyInvited,
    OverSeatLimit,
    /// The address has received as many invitations today as Roster sends to one address.
    AddressLimit,
    /// The organization has sent as many invitations this hour as its limit allows.
    OrgLimit,
}

impl BulkOutcome {
    pub fn label(self) -> &'static str {
        match self {
            BulkOutcome::Invited => "Invited",
            BulkOutcome::Invalid => "Invalid address",
            BulkOutcome::Duplicate => "Duplicate in the list",
            BulkOutcome::AlreadyMember => "Already a member",
            BulkOutcome::AlreadyInvited => "Already invited",
            BulkOutcome::OverSeatLimit => "Over the seat limit",
            BulkOutcome::AddressLimit => "Invited too often today",
            BulkOutcome::OrgLimit => "Hourly invitation limit reached",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkResult {
    /// The entry as typed.
    pub entry: String,
    pub outcome: BulkOutcome,
}

/// One entry of a bulk list: the address as typed and the display name, if one was pasted
/// in the "Name <address>" form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BulkEntry {
    pub raw: String,
    pub address: String,
    pub name: Option<String>,
}

/// Splits a pasted list into entries: one per line, comma or semicolon; blank ones dropped.
/// A quoted display name may contain commas (`"Lovelace, Ada" <ada@example.com>`).
pub fn split_bulk(text: &str) -> Vec<BulkEntry> {
    let mut entries = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut push = |s: &mut String| {
        let raw = s.trim().to_owned();
        s.clear();
        if raw.is_empty() {
            return;
        }
        entries.push(entry(raw));
    };
    for c in text.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            '\n' | '\r' => {
                quoted = false;
                push(&mut current);
            }
            ',' | ';' if !quoted => push(&mut current),
            _ => current.push(c),
        }
    }
    push(&mut current);
    entries
}

fn entry(raw: String) -> BulkEntry {
    if let Some(open) = raw.rfind('<')
        && raw.ends_with('>')
    {
        let address = raw[open + 1..raw.len() - 1].trim().to_owned();
        let name = raw[..open].trim().trim_matches('"').trim().to_owned();
        return BulkEntry {
            raw,
            address,
            name: (!name.is_empty()).then_some(name),
        };
    }
    BulkEntry {
        address: raw.clone(),
        raw,
        name: None,
    }
}

/// Splits a display name into first and last name: "Lovelace, Ada" and "Ada Lovelace" both
/// give ("Ada", "Lovelace"); a single word is a first name.
pub fn split_name(name: &str) -> (String, String) {
    if let Some((last, first)) = name.split_once(',') {
        return (first.trim().to_owned(), last.trim().to_owned());
    }
    match name.trim().rsplit_once(' ') {
        Some((first, last)) => (first.trim().to_owned(), last.trim().to_owned()),
        None => (name.trim().to_owned(), String::new()),
    }
}

/// A calendar date (UTC) for Unix milliseconds, like "22 Nov 2026". The same on server and
/// browser, so hydration sees the same text.
pub fn format_date(ms: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    // Howard Hinnant's days-to-civil algorithm.
    let z = ms.div_euclid(86_400_000) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{day} {} {year}", MONTHS[(month - 1) as usize])
}

/// A moment as "3 Dec 2026, 14:05 UTC" (the same on the server and in the browser).
pub fn format_time(ms: i64) -> String {
    let minutes = ms.div_euclid(60_000).rem_euclid(24 * 60);
    format!(
        "{}, {:02}:{:02} UTC",
        format_date(ms),
        minutes / 60,
        minutes % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_as_calendar_days() {
        assert_eq!(format_date(0), "1 Jan 1970");
        assert_eq!(format_date(1_795_305_600_000), "22 Nov 2026");
        assert_eq!(format_date(951_782_400_000), "29 Feb 2000");
        assert_eq!(format_date(-86_400_000), "31 Dec 1969");
    }

    #[test]
    fn bulk_lists_split_on_lines_commas_and_semicolons() {
        let got: Vec<_> = split_bulk("a@x.io\r\nb@x.io, c@x.io;d@x.io\n\n ;\n")
            .into_iter()
            .map(|e| e.address)
            .collect();
        assert_eq!(got, ["a@x.io", "b@x.io", "c@x.io", "d@x.io"]);
    }

    #[test]
    fn pasted_name_forms_give_the_address_and_name() {
        let got = split_bulk("Ada Lovelace <ada@x.io>, \"Hopper, Grace\" <grace@x.io>\n<bob@x.io>");
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].address, "ada@x.io");
        assert_eq!(got[0].name.as_deref(), Some("Ada Lovelace"));
        assert_eq!(got[1].address, "grace@x.io");
        assert_eq!(got[1].raw, "\"Hopper, Grace\" <grace@x.io>");
        assert_eq!(
            split_name(got[1].name.as_deref().unwrap()),
            ("Grace".into(), "Hopper".into())
        );
        assert_eq!(got[2].name, None);
        assert_eq!(
            split_name("Ada Lovelace"),
            ("Ada".into(), "Lovelace".into())
        );
        assert_eq!(split_name("Cher"), ("Cher".into(), String::new()));
    }

    fn access(role: Role) -> Access {
        Access::BuiltIn(role.built_in().unwrap())
    }

    /// The target as the service sees it: outranked when the actor's role covers a built-in
    /// target's role; custom targets (whose grants these tests leave open) count as covered.
    fn aimed_at(actor: &Access, is_self: bool, role: Role, status: Status) -> Target {
        let outranked = role
            .built_in()
            .is_none_or(|b| actor.covers(&Access::BuiltIn(b), &crate::authz::default_regions()));
        Target {
            is_self,
            role,
            status,
            outranked,
        }
    }

    #[test]
    fn roles_round_trip_through_keys_and_storage() {
        for role in Role::BUILT_IN.into_iter().chain([Role::Custom(7)]) {
            assert_eq!(Role::parse(&role.key()), Some(role));
            let (text, id) = role.stored();
            assert_eq!(Role::from_stored(text, id), Some(role));
        }
        assert_eq!(Role::parse("custom-0"), None);
        assert_eq!(Role::parse("custom-x"), None);
        assert_eq!(Role::from_stored("custom", None), None);
    }

    #[test]
    fn nobody_acts_on_the_owner_or_themselves() {
        for action in MemberAction::ALL {
            for status in [Status::Active, Status::Disabled] {
                for actor in Role::BUILT_IN {
                    assert!(!may_act(
                        &access(actor),
                        aimed_at(&access(actor), false, Role::Owner, status),
                        action
                    ));
                    for target in Role::BUILT_IN {
                        assert!(!may_act(
                            &access(actor),
                            aimed_at(&access(actor), true, target, status),
                            action
                        ));
                    }
                }
            }
        }
    }

    #[test]
    fn members_and_visitors_manage_nobody_and_admins_do_not_manage_admins() {
        for action in MemberAction::ALL {
            for status in Status::ALL {
                for target in Role::BUILT_IN.into_iter().chain([Role::Custom(3)]) {
                    assert!(!may_act(
                        &access(Role::Member),
                        aimed_at(&access(Role::Member), false, target, status),
                        action
                    ));
                    assert!(!may_act(
                        &access(Role::Visitor),
                        aimed_at(&access(Role::Visitor), false, target, status),
                        action
                    ));
                }
                assert!(!may_act(
                    &access(Role::Admin),
                    aimed_at(&access(Role::Admin), false, Role::Admin, status),
                    action
                ));
            }
        }
    }

    #[test]
    fn state_rules_follow_the_product_docs() {
        use MemberAction::*;
        let owner = |target, status, action| {
            may_act(
                &access(Role::Owner),
                aimed_at(&access(Role::Owner), false, target, status),
                action,
            )
        };
        let admin = |target, status, action| {
            may_act(
                &access(Role::Admin),
                aimed_at(&access(Role::Admin), false, target, status),
                action,
            )
        };
        assert!(owner(Role::Member, Status::Active, Promote));
        assert!(!owner(Role::Member, Status::Disabled, Promote));
        assert!(!owner(Role::Admin, Status::Active, Promote));
        assert!(!owner(Role::Visitor, Status::Active, Promote));
        assert!(owner(Role::Admin, Status::Active, Demote));
        assert!(!owner(Role::Admin, Status::Disabled, Demote));
        assert!(!owner(Role::Member, Status::Active, Demote));
        assert!(owner(Role::Admin, Status::Active, Revoke));
        assert!(!owner(Role::Admin, Status::Disabled, Revoke));
        assert!(owner(Role::Member, Status::Disabled, Activate));
        assert!(!owner(Role::Member, Status::Active, Activate));
        assert!(owner(Role::Member, Status::Disabled, Remove));
        assert!(owner(Role::Admin, Status::Active, Edit));
        assert!(admin(Role::Member, Status::Active, Promote));
        assert!(admin(Role::Member, Status::Active, Remove));
        assert!(admin(Role::Custom(4), Status::Active, Revoke));
        assert!(admin(Role::Visitor, Status::Disabled, Activate));
    }

    #[test]
    fn keys_are_handled_by_api_key_editors_on_themselves_and_on_those_they_may_revoke() {
        let (active, disabled) = (Status::Active, Status::Disabled);
        let owner = access(Role::Owner);
        let admin = access(Role::Admin);
        let member = access(Role::Member);
        // Their own: API Keys Edit (Owner, Admin), not a Member's View.
        assert!(may_handle_key(
            &owner,
            &crate::authz::default_regions(),
            aimed_at(&owner, true, Role::Owner, active)
        ));
        assert!(may_handle_key(
            &admin,
            &crate::authz::default_regions(),
            aimed_at(&admin, true, Role::Admin, active)
        ));
        assert!(!may_handle_key(
            &member,
            &crate::authz::default_regions(),
            aimed_at(&member, true, Role::Member, active)
        ));
        // Others: as Revoke. The Owner's key is no one else's; an Admin's is the Owner's.
        assert!(may_handle_key(
            &owner,
            &crate::authz::default_regions(),
            aimed_at(&owner, false, Role::Admin, active)
        ));
        assert!(may_handle_key(
            &admin,
            &crate::authz::default_regions(),
            aimed_at(&admin, false, Role::Member, active)
        ));
        assert!(may_handle_key(
            &admin,
            &crate::authz::default_regions(),
            aimed_at(&admin, false, Role::Visitor, active)
        ));
        assert!(!may_handle_key(
            &admin,
            &crate::authz::default_regions(),
            aimed_at(&admin, false, Role::Admin, active)
        ));
        assert!(!may_handle_key(
            &admin,
            &crate::authz::default_regions(),
            aimed_at(&admin, false, Role::Owner, active)
        ));
        assert!(!may_handle_key(
            &member,
            &crate::authz::default_regions(),
            aimed_at(&member, false, Role::Visitor, active)
        ));
        // A disabled member's key is handled by no one until they are active again.
        assert!(!may_handle_key(
            &owner,
            &crate::authz::default_regions(),
            aimed_at(&owner, false, Role::Member, disabled)
        ));
        // Team Management Full without API Keys Edit: no keys.
        use crate::authz::{CustomGrants, Grant, Grid, default_regions};
        let mut grid = Grid::default();
        for feature in Feature::ALL {
            grid.set(feature, access(Role::Visitor).grant(feature, Some("US")));
        }
        grid.set(Feature::TeamManagement, Grant::new(Level::Full, false));
        let lead = Access::Custom(CustomGrants::uniform(grid, &default_regions()));
        assert!(may_act(
            &lead,
            aimed_at(&lead, false, Role::Visitor, active),
            MemberAction::Revoke
        ));
        assert!(!may_handle_key(
            &lead,
            &crate::authz::default_regions(),
            aimed_at(&lead, false, Role::Visitor, active)
        ));
    }

    #[test]
    fn moments_read_as_day_and_utc_time() {
        assert_eq!(format_time(0), "1 Jan 1970, 00:00 UTC");
        assert_eq!(
            format_time(1_795_305_600_000 + 14 * 3_600_000 + 5 * 60_000 + 59_999),
            "22 Nov 2026, 14:05 UTC"
        );
        assert_eq!(KeyGrace::parse("24h"), Some(KeyGrace::Day));
        assert_eq!(KeyGrace::parse("1d"), None);
    }

    #[test]
    fn custom_team_managers_act_by_their_level_and_never_on_admins() {
        use crate::authz::{CustomGrants, Grant, Grid, default_regions};
        // Member's grants plus a level of Team Management, so Members are outranked.
        let with = |level| {
            let mut grid = Grid::default();
            for feature in Feature::ALL {
                grid.set(feature, access(Role::Member).grant(feature, Some("US")));
            }
            grid.set(Feature::TeamManagement, Grant::new(level, false));
            Access::Custom(CustomGrants::uniform(grid, &default_regions()))
        };
        let (editor, full) = (with(Level::Edit), with(Level::Full));
        let active = Status::Active;
        assert!(may_act(
            &editor,
            aimed_at(&editor, false, Role::Member, active),
            MemberAction::Edit
        ));
        assert!(!may_act(
            &editor,
            aimed_at(&editor, false, Role::Member, active),
            MemberAction::Revoke
        ));
        assert!(may_act(
            &full,
            aimed_at(&full, false, Role::Member, active),
            MemberAction::Revoke
        ));
        assert!(may_act(
            &full,
            aimed_at(&full, false, Role::Custom(9), active),
            MemberAction::Remove
        ));
        assert!(!may_act(
            &full,
            aimed_at(&full, false, Role::Member, active),
            MemberAction::Promote
        ));
        for action in MemberAction::ALL {
            assert!(!may_act(
                &full,
                aimed_at(&full, false, Role::Admin, active),
                action
            ));
        }
    }

    #[test]
    fn managers_act_only_on_members_whose_role_they_cover() {
        let outranking = |outranked| Target {
            is_self: false,
            role: Role::Custom(5),
            status: Status::Active,
            outranked,
        };
        for actor in [Role::Owner, Role::Admin] {
            for action in [
                MemberAction::Edit,
                MemberAction::Revoke,
                MemberAction::Remove,
            ] {
                assert!(may_act(&access(actor), outranking(true), action));
                assert!(!may_act(&access(actor), outranking(false), action));
            }
        }
    }

    #[test]
    fn nobody_assigns_the_owner_or_more_than_they_hold() {
        use crate::authz::{CustomGrants, Template, default_regions};
        let regions = default_regions();
        let finance = Access::Custom(CustomGrants::uniform(Template::Finance.grid(), &regions));
        let admin = access(Role::Admin);
        for actor in Role::BUILT_IN {
            assert!(!may_assign(&access(actor), &access(Role::Owner), &regions));
        }
        assert!(may_assign(&admin, &admin, &regions));
        assert!(may_assign(&admin, &access(Role::Visitor), &regions));
        assert!(
            !may_assign(&admin, &finance, &regions),
            "Admins do not hold Billing Full"
        );
        assert!(may_assign(&access(Role::Owner), &finance, &regions));
        assert!(!may_assign(
            &access(Role::Member),
            &access(Role::Member),
            &regions
        ));
    }
}
