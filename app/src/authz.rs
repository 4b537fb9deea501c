//! The permission model: the feature catalog, levels, regions, the built-in roles, custom
//! role grants and `can`, the one function that decides. Pure, and compiled into both the
//! browser (to show only what one may do) and the server (which checks it again).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Everything a role can be granted access to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Feature {
    TeamManagement,
    ApiKeys,
    Analytics,
    UsageReports,
    Billing,
    AccountSettings,
    AuditLogs,
    Webhooks,
    OAuthClients,
    Documentation,
    MediaLibrary,
    ApiManagement,
    ApiTesting,
    Products,
}

pub const FEATURE_COUNT: usize = 14;

impl Feature {
    pub const ALL: [Feature; FEATURE_COUNT] = [
        Feature::TeamManagement,
        Feature::ApiKeys,
        Feature::Analytics,
        Feature::UsageReports,
        Feature::Billing,
        Feature::AccountSettings,
        Feature::AuditLogs,
        Feature::Webhooks,
        Feature::OAuthClients,
        Feature::Documentation,
        Feature::MediaLibrary,
        Feature::ApiManagement,
        Feature::ApiTesting,
        Feature::Products,
    ];

    /// The stable key stored in the database.
    pub fn key(self) -> &'static str {
        match self {
            Feature::TeamManagement => "team",
            Feature::ApiKeys => "api_keys",
            Feature::Analytics => "analytics",
            Feature::UsageReports => "usage_reports",
            Feature::Billing => "billing",
            Feature::AccountSettings => "account_settings",
            Feature::AuditLogs => "audit_logs",
            Feature::Webhooks => "webhooks",
            Feature::OAuthClients => "oauth_clients",
            Feature::Documentation => "documentation",
            Feature::MediaLibrary => "media_library",
            Feature::ApiManagement => "api_management",
            Feature::ApiTesting => "api_testing",
            Feature::Products => "products",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Feature::TeamManagement => "Team Management",
            Feature::ApiKeys => "API Keys",
            Feature::Analytics => "Analytics",
            Feature::UsageReports => "Usage Reports",
            Feature::Billing => "Billing",
            Feature::AccountSettings => "Account Settings",
            Feature::AuditLogs => "Audit Logs",
            Feature::Webhooks => "Webhooks",
            Feature::OAuthClients => "OAuth Clients",
            Feature::Documentation => "Documentation",
            Feature::MediaLibrary => "Media Library",
            Feature::ApiManagement => "API Management",
            Feature::ApiTesting => "API Testing",
            Feature::Products => "Products",
        }
    }

    pub fn parse(key: &str) -> Option<Feature> {
        Feature::ALL.into_iter().find(|f| f.key() == key)
    }

    fn index(self) -> usize {
        self as usize
    }

    /// Features that produce reports, and so carry a separate Download right.
    pub fn has_download(self) -> bool {
        matches!(
            self,
            Feature::Analytics | Feature::UsageReports | Feature::Billing | Feature::AuditLogs
        )
    }

    /// The API-facing features, whose level a custom role sets per region. The others are
    /// organization-wide.
    pub fn regional(self) -> bool {
        !matches!(
            self,
            Feature::TeamManagement
                | Feature::Billing
                | Feature::AccountSettings
                | Feature::AuditLogs
        )
    }
}

/// How much of a feature a role may use. Each level includes the ones before it.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub enum Level {
    #[default]
    NoAccess,
    View,
    Edit,
    Full,
}

impl Level {
    pub const ALL: [Level; 4] = [Level::NoAccess, Level::View, Level::Edit, Level::Full];

    pub fn label(self) -> &'static str {
        match self {
            Level::NoAccess => "No access",
            Level::View => "View",
            Level::Edit => "Edit",
            Level::Full => "Full",
        }
    }

    pub fn as_i64(self) -> i64 {
        self as i64
    }

    pub fn from_i64(value: i64) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.as_i64() == value)
    }
}

/// What an action needs of a feature: a level, or the Download right.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Need {
    At(Level),
    Download,
}

impl From<Level> for Need {
    fn from(level: Level) -> Self {
        Need::At(level)
    }
}

/// What a role holds of one feature.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Grant {
    pub level: Level,
    /// Download reports; only meaningful with at least View on a feature that has reports.
    pub download: bool,
}

impl Grant {
    pub const NONE: Grant = Grant::new(Level::NoAccess, false);

    pub const fn new(level: Level, download: bool) -> Self {
        Grant { level, download }
    }

    /// The grant as it takes effect: Download only with View or more, and only on a
    /// feature that has reports.
    pub fn effective(self, feature: Feature) -> Grant {
        Grant {
            level: self.level,
            download: self.download && self.level >= Level::View && feature.has_download(),
        }
    }

    pub fn allows(self, need: Need) -> bool {
        match need {
            Need::At(level) => self.level >= level,
            Need::Download => self.download && self.level >= Level::View,
        }
    }

    /// Whether this grant includes everything `other` gives.
    pub fn covers(self, other: Grant) -> bool {
        self.level >= other.level && (self.download || !other.download)
    }

    /// A short description such as "Edit", "View + Download" or "No access".
    pub fn describe(self) -> String {
        if self.download && self.level >= Level::View {
            format!("{} + Download", self.level.label())
        } else {
            self.level.label().to_owned()
        }
    }
}

/// One grant per feature.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Grid(pub [Grant; FEATURE_COUNT]);

impl Grid {
    pub fn get(&self, feature: Feature) -> Grant {
        self.0[feature.index()].effective(feature)
    }

    pub fn set(&mut self, feature: Feature, grant: Grant) {
        self.0[feature.index()] = grant.effective(feature);
    }

    fn from_fn(f: impl Fn(Feature) -> Grant) -> Grid {
        let mut grid = Grid::default();
        for feature in Feature::ALL {
            grid.set(feature, f(feature));
        }
        grid
    }
}

/// A region an organization works in, such as US or EU.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Region {
    pub code: String,
    pub name: String,
}

/// The regions every organization starts with.
pub fn default_regions() -> Vec<Region> {
    vec![
        Region {
            code: "US".into(),
            name: "United States".into(),
        },
        Region {
            code: "EU".into(),
            name: "European Union".into(),
        },
    ]
}

/// Checks a new region's code: 2 to 8 capital letters or digits, starting with a letter.
pub fn valid_region_code(code: &str) -> bool {
    (2..=8).contains(&code.len())
        && code.starts_with(|c: char| c.is_ascii_uppercase())
        && code
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// What to say about a region code that `valid_region_code` refuses.
pub fn region_code_error() -> &'static str {
    "Use 2 to 8 capital letters or digits, starting with a letter (for example APAC)."
}

/// A custom role's grants: one grid for the organization-wide features and one per region
/// for the regional ones. A region missing from `regions` grants nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomGrants {
    pub org_wide: Grid,
    pub regions: BTreeMap<String, Grid>,
}

impl CustomGrants {
    /// The same grid for the organization and in every one of `regions`.
    pub fn uniform(grid: Grid, regions: &[Region]) -> Self {
        CustomGrants {
            org_wide: grid,
            regions: regions.iter().map(|r| (r.code.clone(), grid)).collect(),
        }
    }

    fn grant(&self, feature: Feature, region: Option<&str>) -> Grant {
        if !feature.regional() {
            return self.org_wide.get(feature);
        }
        match region {
            Some(code) => self
                .regions
                .get(code)
                .map(|g| g.get(feature))
                .unwrap_or_default(),
            // In any region: the most one region gives (levels and Download can come from
            // different regions, but each need is checked on its own).
            None => self
                .regions
                .values()
                .map(|g| g.get(feature))
                .fold(Grant::NONE, |a, b| Grant {
                    level: a.level.max(b.level),
                    download: a.download || b.download,
                }),
        }
    }

    /// Keeps only what takes effect: regional features in region grids, organization-wide
    /// ones in the organization grid, and only the organization's regions.
    pub fn normalized(mut self, regions: &[Region]) -> Self {
        for feature in Feature::ALL {
            if feature.regional() {
                self.org_wide.set(feature, Grant::NONE);
            }
        }
        self.regions
            .retain(|code, _| regions.iter().any(|r| &r.code == code));
        for grid in self.regions.values_mut() {
            for feature in Feature::ALL {
                if !feature.regional() {
                    grid.set(feature, Grant::NONE);
                }
            }
        }
        self
    }
}

/// The built-in roles, the same in every organization and region.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BuiltIn {
    Owner,
    Admin,
    Member,
    Visitor,
}

impl BuiltIn {
    pub const ALL: [BuiltIn; 4] = [
        BuiltIn::Owner,
        BuiltIn::Admin,
        BuiltIn::Member,
        BuiltIn::Visitor,
    ];

    /// The built-in matrix.
    pub fn grant(self, feature: Feature) -> Grant {
        use Feature::*;
        use Level::*;
        let g = Grant::new;
        match self {
            BuiltIn::Owner => g(Full, true),
            BuiltIn::Admin => match feature {
                // Billing belongs to the Owner: Admins see it but do not change it.
                Billing => g(View, true),
                // Deleting the organization and adding regions are the Owner's.
                AccountSettings => g(Edit, false),
                AuditLogs => g(View, true),
                _ => g(Full, true),
            },
            BuiltIn::Member => match feature {
                Billing | AuditLogs => g(NoAccess, false),
                // Members use the products the organization licenses.
                Products => g(Edit, false),
                _ => g(View, false),
            },
            BuiltIn::Visitor => g(View, false),
        }
        .effective(feature)
    }

    pub fn grid(self) -> Grid {
        Grid::from_fn(|f| self.grant(f))
    }
}

/// Quick-set starting points for a custom role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Template {
    Developer,
    Finance,
    ContentManager,
    Operator,
}

impl Template {
    pub const ALL: [Template; 4] = [
        Template::Developer,
        Template::Finance,
        Template::ContentManager,
        Template::Operator,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Template::Developer => "Developer",
            Template::Finance => "Finance",
            Template::ContentManager => "Content Manager",
            Template::Operator => "Operator",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Template::Developer => "Builds with the API: keys, docs and testing; no billing.",
            Template::Finance => "Billing and usage reports; no team management.",
            Template::ContentManager => "Documentation and media; no account settings.",
            Template::Operator => "Runs and monitors the APIs; no billing or team.",
        }
    }

    /// The template's grid (seed 002 gives Developer, Finance and Content Manager).
    pub fn grid(self) -> Grid {
        use Feature::*;
        use Level::*;
        Grid::from_fn(|feature| {
            let (level, download) = match (self, feature) {
                (Template::Developer, ApiKeys) => (Full, false),
                (Template::Developer, Documentation | ApiTesting | Webhooks | OAuthClients) => {
                    (Edit, false)
                }
                (Template::Developer, Products) => (Edit, false),
                (Template::Developer, Analytics | UsageReports | ApiManagement) => (View, false),
                (Template::Finance, Billing) => (Full, true),
                (Template::Finance, UsageReports) => (View, true),
                (Template::Finance, Analytics | ApiManagement) => (View, false),
                (Template::ContentManager, Documentation) => (Full, false),
                (Template::ContentManager, MediaLibrary) => (Edit, false),
                (Template::ContentManager, ApiTesting) => (View, false),
                (Template::Operator, ApiManagement | ApiTesting) => (Full, false),
                (Template::Operator, Analytics | UsageReports) => (View, true),
                (Template::Operator, ApiKeys | Webhooks | Products) => (Edit, false),
                (Template::Operator, Documentation) => (View, false),
                _ => (NoAccess, false),
            };
            Grant::new(level, download)
        })
    }
}

/// What an actor's role grants: a built-in role, or a custom role's grants.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Access {
    BuiltIn(BuiltIn),
    Custom(CustomGrants),
}

impl Access {
    /// What this access gives of `feature` in `region` (`None`: in whichever region gives
    /// the most). Organization-wide features ignore the region.
    pub fn grant(&self, feature: Feature, region: Option<&str>) -> Grant {
        match self {
            Access::BuiltIn(role) => role.grant(feature),
            Access::Custom(grants) => grants.grant(feature, region),
        }
    }

    pub fn is_owner(&self) -> bool {
        matches!(self, Access::BuiltIn(BuiltIn::Owner))
    }

    /// Whether this access includes everything `other` gives, in every one of `regions`.
    /// Nobody but the Owner covers the Owner.
    pub fn covers(&self, other: &Access, regions: &[Region]) -> bool {
        if other.is_owner() {
            return self.is_owner();
        }
        Feature::ALL.into_iter().all(|feature| {
            if feature.regional() {
                regions.iter().all(|r| {
                    let code = Some(r.code.as_str());
                    self.grant(feature, code).covers(other.grant(feature, code))
                })
            } else {
                self.grant(feature, None).covers(other.grant(feature, None))
            }
        })
    }
}

/// Whether `access` allows `need` of `feature` in `region`. `region` is `None` to ask
/// "in any region" (to decide whether to show a page at all); organization-wide features
/// ignore it. The one decision both the browser and the server make.
pub fn can(access: &Access, feature: Feature, need: impl Into<Need>, region: Option<&str>) -> bool {
    access.grant(feature, region).allows(need.into())
}

/// What a server function or a page needs before it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Requirement {
    /// Anyone, signed in or not (sign-up, sign-in, invitation links).
    Public,
    /// A signed-in user, before the terms are accepted (the terms page, sign-out).
    SignedIn,
    /// A signed-in member who accepted the terms, acting on their own account only.
    Member,
    /// A member whose role allows this much of a feature.
    Feature(Feature, Need),
    /// The organization's Owner and nobody else (ownership transfer).
    Owner,
}

impl Requirement {
    pub const fn feature(feature: Feature, level: Level) -> Requirement {
        Requirement::Feature(feature, Need::At(level))
    }

    /// Whether a signed-in member with `access` meets this requirement.
    pub fn met_by(self, access: &Access) -> bool {
        match self {
            Requirement::Public | Requirement::SignedIn | Requirement::Member => true,
            Requirement::Feature(feature, need) => can(access, feature, need, None),
            Requirement::Owner => access.is_owner(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regions() -> Vec<Region> {
        default_regions()
    }

    const NEEDS: [Need; 5] = [
        Need::At(Level::NoAccess),
        Need::At(Level::View),
        Need::At(Level::Edit),
        Need::At(Level::Full),
        Need::Download,
    ];

    #[test]
    fn the_catalog_is_complete_and_keys_round_trip() {
        assert_eq!(Feature::ALL.len(), FEATURE_COUNT);
        for (i, f) in Feature::ALL.into_iter().enumerate() {
            assert_eq!(f.index(), i);
            assert_eq!(Feature::parse(f.key()), Some(f));
        }
        for l in Level::ALL {
            assert_eq!(Level::from_i64(l.as_i64()), Some(l));
        }
        assert!(Level::NoAccess < Level::View && Level::View < Level::Edit);
        assert!(Level::Edit < Level::Full);
    }

    #[test]
    fn the_owner_can_do_everything_everywhere() {
        let owner = Access::BuiltIn(BuiltIn::Owner);
        for f in Feature::ALL {
            for need in NEEDS {
                for region in [None, Some("US"), Some("EU"), Some("APAC")] {
                    let expected = need != Need::Download || f.has_download();
                    assert_eq!(can(&owner, f, need, region), expected, "{f:?} {need:?}");
                }
            }
        }
    }

    #[test]
    fn visitors_view_everything_and_change_or_download_nothing() {
        let visitor = Access::BuiltIn(BuiltIn::Visitor);
        for f in Feature::ALL {
            assert!(can(&visitor, f, Level::View, None));
            assert!(!can(&visitor, f, Level::Edit, None));
            assert!(!can(&visitor, f, Need::Download, Some("EU")));
        }
    }

    #[test]
    fn built_in_roles_match_the_product_docs() {
        use Feature::*;
        let admin = Access::BuiltIn(BuiltIn::Admin);
        let member = Access::BuiltIn(BuiltIn::Member);
        // Seed 003: Admins manage members, create keys, webhooks and OAuth clients, view
        // audit logs, but do not own billing or the organization's settings.
        for f in [TeamManagement, ApiKeys, Webhooks, OAuthClients] {
            assert!(can(&admin, f, Level::Full, Some("EU")));
            assert!(!can(&member, f, Level::Edit, Some("EU")));
        }
        assert!(can(&admin, AuditLogs, Level::View, None));
        assert!(!can(&member, AuditLogs, Level::View, None));
        assert!(!can(&admin, Billing, Level::Edit, None));
        assert!(can(&admin, Billing, Level::View, None));
        assert!(!can(&admin, AccountSettings, Level::Full, None));
        assert!(can(&member, Products, Level::Edit, Some("US")));
        assert!(!can(&member, Billing, Level::View, None));
        assert!(!can(&member, UsageReports, Need::Download, None));
    }

    #[test]
    fn built_in_roles_are_ordered_owner_admin_member() {
        let r = regions();
        let [owner, admin, member, visitor] = BuiltIn::ALL.map(Access::BuiltIn);
        assert!(owner.covers(&admin, &r) && !admin.covers(&owner, &r));
        assert!(admin.covers(&member, &r) && !member.covers(&admin, &r));
        assert!(admin.covers(&visitor, &r));
        assert!(!admin.covers(&owner, &r));
        assert!(
            !member.covers(&visitor, &r),
            "Visitors view billing; Members do not"
        );
    }

    #[test]
    fn seed_matrix_for_the_templates() {
        use Feature::*;
        let r = regions();
        let dev = Access::Custom(CustomGrants::uniform(Template::Developer.grid(), &r));
        let fin = Access::Custom(CustomGrants::uniform(Template::Finance.grid(), &r));
        let admin = Access::BuiltIn(BuiltIn::Admin);
        let visitor = Access::BuiltIn(BuiltIn::Visitor);
        // Create API keys, view analytics, download reports, manage billing, invite.
        let row = |a: &Access| {
            [
                can(a, ApiKeys, Level::Edit, Some("US")),
                can(a, Analytics, Level::View, Some("US")),
                can(a, UsageReports, Need::Download, Some("US")),
                can(a, Billing, Level::Full, None),
                can(a, TeamManagement, Level::Edit, None),
            ]
        };
        assert_eq!(row(&admin), [true, true, true, false, true]);
        assert_eq!(row(&visitor), [false, true, false, false, false]);
        assert_eq!(row(&dev), [true, true, false, false, false]);
        assert_eq!(row(&fin), [false, true, true, true, false]);
        let cm = Access::Custom(CustomGrants::uniform(Template::ContentManager.grid(), &r));
        assert!(can(&cm, Documentation, Level::Full, Some("EU")));
        assert!(!can(&cm, AccountSettings, Level::View, None));
        let op = Access::Custom(CustomGrants::uniform(Template::Operator.grid(), &r));
        assert!(can(&op, ApiManagement, Level::Full, Some("EU")));
        assert!(!can(&op, Billing, Level::View, None));
        assert!(!can(&op, TeamManagement, Level::View, None));
    }

    #[test]
    fn custom_levels_differ_per_region_and_org_wide_features_ignore_regions() {
        let r = regions();
        let mut grants = CustomGrants::uniform(Grid::default(), &r);
        grants
            .regions
            .get_mut("US")
            .unwrap()
            .set(Feature::Documentation, Grant::new(Level::Edit, false));
        grants
            .regions
            .get_mut("EU")
            .unwrap()
            .set(Feature::Documentation, Grant::new(Level::View, false));
        grants
            .org_wide
            .set(Feature::Billing, Grant::new(Level::View, true));
        let a = Access::Custom(grants);
        assert!(can(&a, Feature::Documentation, Level::Edit, Some("US")));
        assert!(!can(&a, Feature::Documentation, Level::Edit, Some("EU")));
        assert!(can(&a, Feature::Documentation, Level::View, Some("EU")));
        assert!(can(&a, Feature::Documentation, Level::Edit, None));
        assert!(!can(&a, Feature::Documentation, Level::View, Some("APAC")));
        for region in [None, Some("US"), Some("EU"), Some("APAC")] {
            assert!(can(&a, Feature::Billing, Need::Download, region));
            assert!(!can(&a, Feature::Billing, Level::Edit, region));
        }
    }

    #[test]
    fn every_cell_of_a_custom_grid_decides_exactly_its_own_needs() {
        let r = regions();
        for feature in Feature::ALL {
            for level in Level::ALL {
                for download in [false, true] {
                    let mut grid = Grid::default();
                    grid.set(feature, Grant::new(level, download));
                    let a = Access::Custom(CustomGrants::uniform(grid, &r));
                    for other in Feature::ALL {
                        for need in NEEDS {
                            let expected = if other == feature {
                                match need {
                                    Need::At(l) => level >= l,
                                    Need::Download => {
                                        download && level >= Level::View && feature.has_download()
                                    }
                                }
                            } else {
                                need == Need::At(Level::NoAccess)
                            };
                            for region in [None, Some("US"), Some("EU")] {
                                assert_eq!(
                                    can(&a, other, need, region),
                                    expected,
                                    "{feature:?}={level:?}/{download} asked {other:?} {need:?} in {region:?}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn nobody_covers_the_owner_and_covering_is_per_region() {
        let r = regions();
        let mut us_only = CustomGrants::uniform(Grid::default(), &r);
        us_only
            .regions
            .get_mut("US")
            .unwrap()
            .set(Feature::ApiKeys, Grant::new(Level::Full, false));
        let us = Access::Custom(us_only.clone());
        let mut eu_only = us_only;
        eu_only.regions.insert("US".into(), Grid::default());
        eu_only
            .regions
            .get_mut("EU")
            .unwrap()
            .set(Feature::ApiKeys, Grant::new(Level::Full, false));
        let eu = Access::Custom(eu_only);
        assert!(!us.covers(&eu, &r) && !eu.covers(&us, &r));
        assert!(Access::BuiltIn(BuiltIn::Admin).covers(&us, &r));
        let owner = Access::BuiltIn(BuiltIn::Owner);
        assert!(!Access::BuiltIn(BuiltIn::Admin).covers(&owner, &r));
        assert!(owner.covers(&owner, &r));
    }

    #[test]
    fn requirements() {
        let member = Access::BuiltIn(BuiltIn::Member);
        assert!(Requirement::Member.met_by(&member));
        assert!(!Requirement::Owner.met_by(&Access::BuiltIn(BuiltIn::Admin)));
        assert!(Requirement::Owner.met_by(&Access::BuiltIn(BuiltIn::Owner)));
        assert!(Requirement::feature(Feature::TeamManagement, Level::View).met_by(&member));
        assert!(!Requirement::feature(Feature::TeamManagement, Level::Edit).met_by(&member));
    }

    #[test]
    fn normalizing_drops_cells_that_cannot_take_effect() {
        let r = regions();
        let mut grants = CustomGrants::uniform(BuiltIn::Owner.grid(), &r);
        grants.regions.insert("MARS".into(), BuiltIn::Owner.grid());
        let n = grants.normalized(&r);
        assert_eq!(n.regions.len(), 2);
        assert_eq!(n.org_wide.get(Feature::ApiKeys), Grant::NONE);
        assert_eq!(n.regions["US"].get(Feature::Billing), Grant::NONE);
        assert_eq!(n.org_wide.get(Feature::Billing).level, Level::Full);
        assert!(valid_region_code("APAC") && valid_region_code("US2"));
        assert!(!valid_region_code("us") && !valid_region_code("X") && !valid_region_code("2X"));
    }
}
