//! Validated values and the data that crosses between browser and server.

pub mod audit;
mod email;
mod names;
mod password;
mod phone;
pub mod roles;
pub mod settings;
pub mod team;
pub mod usage;

pub use email::EmailAddress;
pub use names::{OrgName, PersonName, RoleName, description, region_name};
pub use password::Password;
pub use phone::MobileNumber;

use serde::{Deserialize, Serialize};

/// Rejects ASCII and Unicode control characters (CR and LF included).
pub(crate) fn has_control(value: &str) -> bool {
    value.chars().any(char::is_control)
}

/// What the browser may know about the signed-in user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentUser {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub mobile: Option<String>,
    pub org_name: String,
    /// The role's name in this organization ("Admin", or a custom role's name).
    pub role: String,
    /// What the role grants, so pages show only what the user may do.
    pub access: crate::authz::Access,
    /// The organization's regions.
    pub regions: Vec<crate::authz::Region>,
    pub terms_accepted: bool,
    /// The organization this session works in.
    pub org_id: i64,
    /// Where sign-in lands, when the user chose one.
    pub default_org_id: Option<i64>,
    /// Every organization the user is an active member of.
    pub orgs: Vec<OrgChoice>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgChoice {
    pub id: i64,
    pub name: String,
}

impl CurrentUser {
    pub fn display_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }
}

/// The Terms of Use the user is asked to accept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Terms {
    pub version: String,
    pub text: String,
}
