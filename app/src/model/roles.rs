//! What the Roles and Billing pages show and send.

use crate::authz::{Access, CustomGrants, Region};
use crate::model::team::{RoleOption, Seats};
use serde::{Deserialize, Serialize};

/// One custom role as the Roles page lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomRoleView {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub grants: CustomGrants,
    /// Members and pending invitations holding the role.
    pub members: i64,
    /// Whether the viewer may change or delete it: they manage roles, do not hold it, and
    /// hold everything it grants.
    pub editable: bool,
}

/// An Admin the Owner may hand the organization to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Successor {
    pub user_id: i64,
    pub name: String,
    pub email: String,
}

/// Everything the Roles page needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolesPage {
    pub org_name: String,
    pub regions: Vec<Region>,
    pub custom: Vec<CustomRoleView>,
    /// What the viewer's role grants.
    pub viewer: Access,
    /// Every role, marked with whether the viewer may give it (where members of a deleted
    /// role may go).
    pub roles: Vec<RoleOption>,
    /// Active Admins, for the Owner's "Transfer ownership" (empty for everyone else).
    pub successors: Vec<Successor>,
}

/// A custom role as the editor sends it: `id` is `None` for a new role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleDraft {
    pub id: Option<i64>,
    pub name: String,
    pub description: String,
    pub grants: CustomGrants,
}

/// The Billing page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillingPage {
    pub org_name: String,
    pub plan: String,
    pub seats: Seats,
    /// Whether the viewer may change the seat limit.
    pub can_change: bool,
}

/// The most seats an organization can have.
pub const MAX_SEATS: i64 = 100_000;
