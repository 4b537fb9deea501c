//! `/api/v1/me`, `/organization`, `/regions`, `/roles` and `/usage`.

use super::schema::{ApiJson, ApiQuery, Id};
use super::{ApiError, Caller};
use crate::http::AppState;
use app::authz::{CustomGrants, Feature, Grant, Grid, Level};
use app::model::roles::{CustomRoleView, RoleDraft};
use app::model::team::Role;
use app::model::usage::UsageQuery;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

/// The caller: whose key this is.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub id: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    /// `owner`, `admin`, `member`, `visitor` or `custom-<id>`.
    pub role: String,
    pub role_name: String,
    pub organization: OrganizationRef,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationRef {
    pub id: String,
    pub name: String,
}

/// Who this API key acts as.
#[utoipa::path(get, path = "/api/v1/me", tag = "organization",
    responses((status = 200, body = Me)))]
pub async fn me(State(state): State<AppState>, caller: Caller) -> Result<Json<Me>, ApiError> {
    let me = state.services.accounts.current_user(&caller.0).await?;
    Ok(Json(Me {
        id: caller.0.user_id.to_string(),
        email: me.email,
        first_name: me.first_name,
        last_name: me.last_name,
        role: caller.0.role.key(),
        role_name: me.role,
        organization: OrganizationRef {
            id: caller.0.org_id.to_string(),
            name: me.org_name,
        },
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Organization {
    pub id: String,
    pub name: String,
    pub plan: String,
    pub seats: SeatCount,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SeatCount {
    /// Active members and pending invitations.
    pub used: i64,
    pub limit: i64,
}

/// The organization: name, plan and seats.
#[utoipa::path(get, path = "/api/v1/organization", tag = "organization",
    responses((status = 200, body = Organization)))]
pub async fn organization(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Organization>, ApiError> {
    let page = state.services.org.billing(&caller.0).await?;
    Ok(Json(Organization {
        id: caller.0.org_id.to_string(),
        name: page.org_name,
        plan: page.plan,
        seats: SeatCount {
            used: page.seats.used,
            limit: page.seats.limit,
        },
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegionInfo {
    /// The code gateways send (`X-Roster-Region`).
    pub code: String,
    pub name: String,
}

/// The organization's regions.
#[utoipa::path(get, path = "/api/v1/regions", tag = "organization",
    responses((status = 200, body = Vec<RegionInfo>)))]
pub async fn regions(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<RegionInfo>>, ApiError> {
    let page = state.services.org.roles(&caller.0).await?;
    Ok(Json(
        page.regions
            .into_iter()
            .map(|r| RegionInfo {
                code: r.code,
                name: r.name,
            })
            .collect(),
    ))
}

/// A level of a feature.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LevelName {
    #[default]
    NoAccess,
    View,
    Edit,
    Full,
}

impl From<Level> for LevelName {
    fn from(l: Level) -> Self {
        match l {
            Level::NoAccess => LevelName::NoAccess,
            Level::View => LevelName::View,
            Level::Edit => LevelName::Edit,
            Level::Full => LevelName::Full,
        }
    }
}

impl From<LevelName> for Level {
    fn from(l: LevelName) -> Self {
        match l {
            LevelName::NoAccess => Level::NoAccess,
            LevelName::View => Level::View,
            LevelName::Edit => Level::Edit,
            LevelName::Full => Level::Full,
        }
    }
}

/// What a role holds of one feature.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantInfo {
    pub level: LevelName,
    /// Download reports (features with reports, with View or more).
    #[serde(default)]
    pub download: bool,
}

/// Grants by feature key (`team`, `api_keys`, `analytics`, `usage_reports`, `billing`,
/// `account_settings`, `audit_logs`, `webhooks`, `oauth_clients`, `documentation`,
/// `media_library`, `api_management`, `api_testing`, `products`); a feature left out has
/// no access.
pub type FeatureGrants = BTreeMap<String, GrantInfo>;

/// A custom role's grants: organization-wide, and per region for the API-facing features.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"organization": {"team": {"level": "view"}}, "regions": {"EU": {"products": {"level": "edit"}}}}))]
pub struct Grants {
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, GrantInfo>)]
    pub organization: FeatureGrants,
    /// By region code.
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, BTreeMap<String, GrantInfo>>)]
    pub regions: BTreeMap<String, FeatureGrants>,
}

fn grid_info(grid: &Grid) -> FeatureGrants {
    Feature::ALL
        .into_iter()
        .map(|f| (f, grid.get(f)))
        .filter(|(_, g)| *g != Grant::NONE)
        .map(|(f, g)| {
            (
                f.key().to_owned(),
                GrantInfo {
                    level: g.level.into(),
                    download: g.download,
                },
            )
        })
        .collect()
}

fn grid_from(field: &str, grants: &FeatureGrants) -> Result<Grid, ApiError> {
    let mut grid = Grid::default();
    for (key, g) in grants {
        let feature = Feature::parse(key)
            .ok_or_else(|| ApiError::field(field, format!("{key:?} is not a feature.")))?;
        grid.set(feature, Grant::new(g.level.into(), g.download));
    }
    Ok(grid)
}

fn grants_from(g: &Grants) -> Result<CustomGrants, ApiError> {
    let mut regions = BTreeMap::new();
    for (code, grants) in &g.regions {
        regions.insert(code.clone(), grid_from("grants", grants)?);
    }
    Ok(CustomGrants {
        org_wide: grid_from("grants", &g.organization)?,
        regions,
    })
}

/// A custom role.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomRole {
    pub id: String,
    /// The value of a member's or invitation's `role` for this role.
    pub key: String,
    pub name: String,
    pub description: String,
    pub grants: Grants,
    /// Members and pending invitations holding it.
    pub members: i64,
}

impl From<CustomRoleView> for CustomRole {
    fn from(r: CustomRoleView) -> Self {
        CustomRole {
            id: r.id.to_string(),
            key: Role::Custom(r.id).key(),
            name: r.name,
            description: r.description,
            grants: Grants {
                organization: grid_info(&r.grants.org_wide),
                regions: r
                    .grants
                    .regions
                    .iter()
                    .map(|(code, grid)| (code.clone(), grid_info(grid)))
                    .collect(),
            },
            members: r.members,
        }
    }
}

/// The organization's custom roles.
#[utoipa::path(get, path = "/api/v1/roles", tag = "roles",
    responses((status = 200, body = Vec<CustomRole>)))]
pub async fn roles(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<CustomRole>>, ApiError> {
    let page = state.services.org.roles(&caller.0).await?;
    Ok(Json(
        page.custom.into_iter().map(CustomRole::from).collect(),
    ))
}

async fn find_role(state: &AppState, caller: &Caller, id: i64) -> Result<CustomRole, ApiError> {
    let page = state.services.org.roles(&caller.0).await?;
    page.custom
        .into_iter()
        .find(|r| r.id == id)
        .map(CustomRole::from)
        .ok_or_else(ApiError::not_found)
}

/// One custom role.
#[utoipa::path(get, path = "/api/v1/roles/{id}", tag = "roles",
    params(("id" = String, Path, description = "The role's id.")),
    responses(
        (status = 200, body = CustomRole),
        (status = 404, description = "No such role in this organization.", body = super::errors::ErrorBody),
    ))]
pub async fn role(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> Result<Json<CustomRole>, ApiError> {
    Ok(Json(find_role(&state, &caller, id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Support", "description": "Reads the team", "grants": {"organization": {"team": {"level": "view"}}}}))]
pub struct NewRole {
    #[schema(min_length = 1, max_length = 60)]
    pub name: String,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub description: String,
    #[serde(default)]
    pub grants: Grants,
}

/// Creates a custom role. You may give it only what your own role holds.
#[utoipa::path(post, path = "/api/v1/roles", tag = "roles",
    request_body = NewRole,
    responses(
        (status = 201, body = CustomRole),
        (status = 409, description = "The name is in use.", body = super::errors::ErrorBody),
        (status = 422, description = "A field is not valid.", body = super::errors::ErrorBody),
    ))]
pub async fn create_role(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewRole>,
) -> Result<(StatusCode, Json<CustomRole>), ApiError> {
    let draft = RoleDraft {
        id: None,
        name: body.name,
        description: body.description,
        grants: grants_from(&body.grants)?,
    };
    let id = state
        .services
        .org
        .save_role(&caller.0, draft)
        .await
        .map_err(ApiError::state)?;
    Ok((
        StatusCode::CREATED,
        Json(find_role(&state, &caller, id).await?),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"description": "Reads the team and its usage"}))]
pub struct RoleChange {
    #[schema(min_length = 1, max_length = 60)]
    pub name: Option<String>,
    #[schema(max_length = 500)]
    pub description: Option<String>,
    /// Replaces every grant when present.
    pub grants: Option<Grants>,
}

/// Changes a custom role; absent fields stay as they are.
#[utoipa::path(patch, path = "/api/v1/roles/{id}", tag = "roles",
    params(("id" = String, Path, description = "The role's id.")),
    request_body = RoleChange,
    responses(
        (status = 200, body = CustomRole),
        (status = 404, description = "No such role in this organization.", body = super::errors::ErrorBody),
        (status = 409, description = "A rule refuses it.", body = super::errors::ErrorBody),
        (status = 422, description = "A field is not valid.", body = super::errors::ErrorBody),
    ))]
pub async fn update_role(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    ApiJson(body): ApiJson<RoleChange>,
) -> Result<Json<CustomRole>, ApiError> {
    let now = state
        .services
        .org
        .roles(&caller.0)
        .await?
        .custom
        .into_iter()
        .find(|r| r.id == id)
        .ok_or_else(ApiError::not_found)?;
    let draft = RoleDraft {
        id: Some(id),
        name: body.name.unwrap_or(now.name),
        description: body.description.unwrap_or(now.description),
        grants: match &body.grants {
            Some(g) => grants_from(g)?,
            None => now.grants,
        },
    };
    state
        .services
        .org
        .save_role(&caller.0, draft)
        .await
        .map_err(ApiError::state)?;
    Ok(Json(find_role(&state, &caller, id).await?))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeleteRoleQuery {
    /// Where the role's members and invitations go: `admin`, `member`, `visitor` or
    /// `custom-<id>` (required when the role has any).
    #[param(pattern = "^(admin|member|visitor|custom-[1-9][0-9]{0,17})$")]
    pub move_to: Option<String>,
}

/// Deletes a custom role, moving its members and invitations to `move_to`.
#[utoipa::path(delete, path = "/api/v1/roles/{id}", tag = "roles",
    params(("id" = String, Path, description = "The role's id."), DeleteRoleQuery),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "No such role in this organization.", body = super::errors::ErrorBody),
        (status = 409, description = "`move_to` is needed, or not a role you may give.", body = super::errors::ErrorBody),
        (status = 422, description = "`move_to` is not a role.", body = super::errors::ErrorBody),
    ))]
pub async fn delete_role(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    ApiQuery(q): ApiQuery<DeleteRoleQuery>,
) -> Result<StatusCode, ApiError> {
    find_role(&state, &caller, id).await?;
    let move_to = match q.move_to.as_deref() {
        Some(text) => Some(
            Role::parse(text)
                .filter(|r| *r != Role::Owner)
                .ok_or_else(|| ApiError::field("move_to", "Choose a role."))?,
        ),
        None => None,
    };
    state
        .services
        .org
        .delete_role(&caller.0, id, move_to)
        .await
        .map_err(ApiError::state)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UsageFilter {
    /// The time range (default `7d`); `custom` takes `from` and `to`.
    #[param(inline)]
    pub range: Option<UsageRange>,
    /// A custom range's first day (`range` may then be left out).
    #[param(format = Date)]
    pub from: Option<String>,
    /// A custom range's last day.
    #[param(format = Date)]
    pub to: Option<String>,
    /// A member's id.
    #[param(pattern = "^[1-9][0-9]{0,17}$")]
    pub member: Option<String>,
    /// A feature key.
    #[param(max_length = 40)]
    pub feature: Option<String>,
    /// A region code.
    #[param(max_length = 40)]
    pub region: Option<String>,
    /// `allowed`, `denied`, or one refusal's reason code.
    #[param(max_length = 40)]
    pub outcome: Option<String>,
    /// The member table's order (default `calls`).
    #[param(inline)]
    pub sort: Option<UsageSort>,
    /// An IANA time zone for the buckets, such as `Europe/Berlin` (default UTC).
    #[param(max_length = 64)]
    pub tz: Option<String>,
}

#[derive(Clone, Copy, Debug, Deserialize, ToSchema)]
pub enum UsageRange {
    #[serde(rename = "24h")]
    Day,
    #[serde(rename = "7d")]
    Week,
    #[serde(rename = "30d")]
    Month,
    #[serde(rename = "90d")]
    Quarter,
    #[serde(rename = "custom")]
    Custom,
}

impl UsageRange {
    fn as_str(self) -> &'static str {
        match self {
            UsageRange::Day => "24h",
            UsageRange::Week => "7d",
            UsageRange::Month => "30d",
            UsageRange::Quarter => "90d",
            UsageRange::Custom => app::model::usage::CUSTOM_RANGE,
        }
    }
}

#[derive(Clone, Copy, Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UsageSort {
    Calls,
    Denied,
    Name,
    Last,
}

/// The Usage page's figures.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageFigures {
    /// The range in words.
    pub range: String,
    pub tz: String,
    /// Buckets of an hour (`true`) or of a day.
    pub hourly: bool,
    /// Days are UTC days (ranges older than the hourly counts).
    pub utc_days: bool,
    pub calls: i64,
    pub denied: i64,
    pub buckets: Vec<Bucket>,
    /// The members with the most calls (up to the page's table size).
    pub members: Vec<MemberCalls>,
    /// Members with calls in all.
    pub members_total: usize,
    pub features: Vec<Share>,
    pub regions: Vec<Share>,
    pub outcomes: Vec<Share>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Bucket {
    /// The bucket as people read it.
    pub label: String,
    pub allowed: i64,
    pub denied: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberCalls {
    pub id: String,
    pub name: String,
    pub email: String,
    pub calls: i64,
    pub denied: i64,
    pub share: String,
    pub last_call: String,
    pub top_feature: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Share {
    pub label: String,
    pub calls: i64,
    pub denied: i64,
    pub share: String,
}

/// The gateway's counts for the organization, with the Usage page's filters; a custom role
/// sees the regions its grant names.
#[utoipa::path(get, path = "/api/v1/usage", tag = "organization",
    params(UsageFilter),
    responses(
        (status = 200, body = UsageFigures),
        (status = 422, description = "A filter is not valid.", body = super::errors::ErrorBody),
    ))]
pub async fn usage(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(f): ApiQuery<UsageFilter>,
) -> Result<Json<UsageFigures>, ApiError> {
    if let Some(tz) = &f.tz
        && tz.parse::<chrono_tz::Tz>().is_err()
    {
        return Err(ApiError::field(
            "tz",
            "Use an IANA time zone such as Europe/Berlin.",
        ));
    }
    for (field, day) in [("from", &f.from), ("to", &f.to)] {
        if let Some(day) = day
            && chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").is_err()
        {
            return Err(ApiError::field(field, "Use a date like 2026-12-01."));
        }
    }
    if let Some(member) = &f.member
        && !member.parse::<i64>().is_ok_and(|id| id > 0)
    {
        return Err(ApiError::field("member", "Use a member's id."));
    }
    // Days without a range are a custom range.
    let range = match (f.range, &f.from, &f.to) {
        (None, Some(_), _) | (None, _, Some(_)) => Some(UsageRange::Custom),
        (range, _, _) => range,
    };
    let query = UsageQuery {
        range: range.map(UsageRange::as_str).unwrap_or_default().to_owned(),
        from: f.from.unwrap_or_default(),
        to: f.to.unwrap_or_default(),
        member: f.member.unwrap_or_default(),
        feature: f.feature.unwrap_or_default(),
        region: f.region.unwrap_or_default(),
        outcome: f.outcome.unwrap_or_default(),
        sort: match f.sort {
            None | Some(UsageSort::Calls) => "calls",
            Some(UsageSort::Denied) => "denied",
            Some(UsageSort::Name) => "name",
            Some(UsageSort::Last) => "last",
        }
        .to_owned(),
        tz: f.tz.unwrap_or_default(),
    };
    let r = state.services.usage.report(&caller.0, query).await?;
    let share = |s: app::model::usage::Slice| Share {
        label: s.label,
        calls: s.calls,
        denied: s.denied,
        share: s.share,
    };
    Ok(Json(UsageFigures {
        range: r.range_label,
        tz: r.tz,
        hourly: r.hourly,
        utc_days: r.utc_days,
        calls: r.calls,
        denied: r.denied,
        buckets: r
            .points
            .into_iter()
            .map(|p| Bucket {
                label: p.label,
                allowed: p.allowed,
                denied: p.denied,
            })
            .collect(),
        members: r
            .members
            .into_iter()
            .map(|m| MemberCalls {
                id: m.user_id.to_string(),
                name: m.name,
                email: m.email,
                calls: m.calls,
                denied: m.denied,
                share: m.share,
                last_call: m.last_call,
                top_feature: m.top_feature,
            })
            .collect(),
        members_total: r.members_total,
        features: r.features.into_iter().map(share).collect(),
        regions: r.regions.into_iter().map(share).collect(),
        outcomes: r.outcomes.into_iter().map(share).collect(),
    }))
}
