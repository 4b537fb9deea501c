//! `/api/v1/members`: the Team page's members and what Promote, Demote, Revoke, Activate,
//! Edit, Remove, Copy API Key and Refresh do to them.

use super::schema::{ApiJson, ApiQuery, Id, Member, MemberStatus, Page, SortOrder};
use super::{ApiError, Caller};
use crate::http::AppState;
use app::error::AppError;
use app::model::team::{
    Cursor, KeyGrace, MemberAction, PAGE_SIZE, Role, RowKind, SortKey, Status, TeamQuery, TeamRow,
};
use app::model::{MobileNumber, PersonName};
use app::ports::MemberEdit;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Filters and order of a list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MemberFilter {
    /// Words matched against names and addresses.
    #[param(max_length = 200)]
    pub search: Option<String>,
    /// `owner`, `admin`, `member`, `visitor` or `custom-<id>`.
    #[param(pattern = "^(owner|admin|member|visitor|custom-[1-9][0-9]{0,17})$")]
    pub role: Option<String>,
    #[param(inline)]
    pub status: Option<MemberStatus>,
    /// The column to order by (default `name`).
    #[param(inline)]
    pub sort: Option<MemberSort>,
    #[param(inline)]
    pub order: Option<SortOrder>,
    /// A `next_cursor` or `previous_cursor` of an earlier page.
    #[param(pattern = "^[ab]\\.[mi][1-9][0-9]{0,17}$")]
    pub cursor: Option<String>,
}

#[derive(Clone, Copy, Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MemberSort {
    Name,
    Email,
    Role,
    Status,
    Joined,
}

impl From<MemberSort> for SortKey {
    fn from(s: MemberSort) -> Self {
        match s {
            MemberSort::Name => SortKey::Name,
            MemberSort::Email => SortKey::Email,
            MemberSort::Role => SortKey::Role,
            MemberSort::Status => SortKey::Status,
            MemberSort::Joined => SortKey::Date,
        }
    }
}

/// The longest search taken.
const SEARCH_MAX: usize = 200;

/// The team query of a list of one kind of row.
pub(super) fn team_query(
    kind: RowKind,
    search: Option<String>,
    role: Option<&str>,
    status: Option<Status>,
    sort: SortKey,
    order: Option<SortOrder>,
    cursor: Option<&str>,
) -> Result<TeamQuery, ApiError> {
    let role = match role {
        Some(text) => {
            Some(Role::parse(text).ok_or_else(|| ApiError::field("role", "No such role."))?)
        }
        None => None,
    };
    let cursor = match cursor {
        Some(text) => Some(Cursor::parse(text).ok_or_else(|| {
            ApiError::field("cursor", "Use a cursor exactly as an earlier page gave it.")
        })?),
        None => None,
    };
    let search = search.unwrap_or_default();
    if search.chars().count() > SEARCH_MAX || search.chars().any(char::is_control) {
        return Err(ApiError::field(
            "search",
            format!("Search for at most {SEARCH_MAX} characters, without control characters."),
        ));
    }
    Ok(TeamQuery {
        search,
        role,
        status,
        sort,
        descending: order == Some(SortOrder::Desc),
        page: 1,
        cursor,
        only: Some(kind),
        id: None,
    })
}

/// A page of rows in the API's form, with the cursors of its neighbours.
pub(super) fn page_of<T: From<TeamRow>>(
    rows: Vec<TeamRow>,
    total: i64,
    asked: Option<Cursor>,
) -> Page<T> {
    let full = rows.len() as i64 == PAGE_SIZE;
    let came_back = matches!(asked, Some(Cursor::Before(_)));
    let next_cursor = match rows.last() {
        Some(last) if full || came_back => Some(Cursor::After(last.row_ref()).as_param()),
        _ => None,
    };
    let previous_cursor = match rows.first() {
        Some(first) if asked.is_some() && (full || !came_back) => {
            Some(Cursor::Before(first.row_ref()).as_param())
        }
        _ => None,
    };
    Page {
        data: rows.into_iter().map(T::from).collect(),
        total,
        next_cursor,
        previous_cursor,
    }
}

/// One row of `kind` by id, as the caller may see it.
pub(super) async fn one_row(
    state: &AppState,
    caller: &Caller,
    kind: RowKind,
    id: i64,
) -> Result<TeamRow, ApiError> {
    let query = TeamQuery {
        only: Some(kind),
        id: Some(id),
        ..TeamQuery::default()
    };
    let page = state.services.team.list(&caller.0, query).await?;
    page.rows.into_iter().next().ok_or_else(ApiError::not_found)
}

/// Lists the organization's members.
#[utoipa::path(get, path = "/api/v1/members", tag = "members",
    params(MemberFilter),
    responses(
        (status = 200, description = "A page of at most 50 members.", body = Page<Member>),
        (status = 422, description = "A filter is not valid.", body = super::errors::ErrorBody),
    ))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(f): ApiQuery<MemberFilter>,
) -> Result<Json<Page<Member>>, ApiError> {
    let status = f.status.map(|s| match s {
        MemberStatus::Active => Status::Active,
        MemberStatus::Disabled => Status::Disabled,
    });
    let query = team_query(
        RowKind::Member,
        f.search,
        f.role.as_deref(),
        status,
        f.sort.map(SortKey::from).unwrap_or_default(),
        f.order,
        f.cursor.as_deref(),
    )?;
    let asked = query.cursor;
    let page = state.services.team.list(&caller.0, query).await?;
    Ok(Json(page_of(page.rows, page.total, asked)))
}

/// One member.
#[utoipa::path(get, path = "/api/v1/members/{id}", tag = "members",
    params(("id" = String, Path, description = "The member's user id.")),
    responses(
        (status = 200, body = Member),
        (status = 404, description = "No such member in this organization.", body = super::errors::ErrorBody),
    ))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> Result<Json<Member>, ApiError> {
    Ok(Json(
        one_row(&state, &caller, RowKind::Member, id).await?.into(),
    ))
}

/// Changes to a member; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"role": "admin", "first_name": "Ada"}))]
pub struct MemberChange {
    /// The role to give (not `owner`: ownership is transferred in the app).
    #[schema(pattern = "^(admin|member|visitor|custom-[1-9][0-9]{0,17})$")]
    pub role: Option<String>,
    /// How this organization names the member.
    #[schema(min_length = 1, max_length = 100)]
    pub first_name: Option<String>,
    #[schema(min_length = 1, max_length = 100)]
    pub last_name: Option<String>,
    /// 6 to 20 digits with spaces, dashes and brackets, and a leading `+` if
    /// international ("+44 20 7946 0958"); empty clears it.
    #[schema(pattern = "^[0-9 ()+-]*$")]
    pub mobile: Option<String>,
}

/// Changes a member's role or how the organization names them (as Edit does).
#[utoipa::path(patch, path = "/api/v1/members/{id}", tag = "members",
    params(("id" = String, Path, description = "The member's user id.")),
    request_body = MemberChange,
    responses(
        (status = 200, description = "The member as they are now.", body = Member),
        (status = 404, description = "No such member in this organization.", body = super::errors::ErrorBody),
        (status = 409, description = "A rule of the team refuses it.", body = super::errors::ErrorBody),
        (status = 422, description = "A field is not valid.", body = super::errors::ErrorBody),
    ))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    ApiJson(change): ApiJson<MemberChange>,
) -> Result<Json<Member>, ApiError> {
    let now = one_row(&state, &caller, RowKind::Member, id).await?;
    let first = PersonName::parse(
        "first_name",
        change.first_name.as_deref().unwrap_or(&now.first_name),
        "a first name",
    );
    let last = PersonName::parse(
        "last_name",
        change.last_name.as_deref().unwrap_or(&now.last_name),
        "a last name",
    );
    if let Some(text) = &change.mobile
        && text
            .chars()
            .any(|c| !(c.is_ascii_digit() || " ()+-".contains(c)))
    {
        return Err(ApiError::field(
            "mobile",
            "Enter a mobile number of 6 to 20 digits, like +1 555 010 2030.",
        ));
    }
    // Those who may edit see every mobile number: one not sent stays as it is.
    let mobile = MobileNumber::parse_optional(
        "mobile",
        change
            .mobile
            .as_deref()
            .or(now.mobile.as_deref())
            .unwrap_or_default(),
    );
    let role = match change.role.as_deref() {
        Some(text) => Role::parse(text)
            .filter(|r| *r != Role::Owner)
            .map(Some)
            .ok_or_else(|| AppError::field("role", "Choose a role.")),
        None => Ok(None),
    };
    AppError::check([
        first.as_ref().err(),
        last.as_ref().err(),
        mobile.as_ref().err(),
        role.as_ref().err(),
    ])?;
    let edit = MemberEdit {
        first_name: first?,
        last_name: last?,
        mobile: mobile?,
        role: role?,
    };
    state
        .services
        .team
        .edit(&caller.0, id, edit)
        .await
        .map_err(ApiError::state)?;
    get(State(state), caller, Id(id)).await
}

async fn act(
    state: AppState,
    caller: Caller,
    id: i64,
    action: MemberAction,
) -> Result<Json<Member>, ApiError> {
    // A member of another organization is not found, before any rule is looked at.
    one_row(&state, &caller, RowKind::Member, id).await?;
    state
        .services
        .team
        .act(&caller.0, id, action)
        .await
        .map_err(ApiError::state)?;
    get(State(state), caller, Id(id)).await
}

/// "Promote": Visitor to Member, Member to Admin.
#[utoipa::path(post, path = "/api/v1/members/{id}/promote", tag = "members",
    params(("id" = String, Path, description = "The member's user id.")),
    responses(
        (status = 200, description = "The member as they are now.", body = Member),
        (status = 404, description = "No such member in this organization.", body = super::errors::ErrorBody),
        (status = 409, description = "A rule of the team refuses it.", body = super::errors::ErrorBody),
    ))]
pub async fn promote(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> Result<Json<Member>, ApiError> {
    act(state, caller, id, MemberAction::Promote).await
}

/// "Demote": Admin to Member, Member to Visitor.
#[utoipa::path(post, path = "/api/v1/members/{id}/demote", tag = "members",
    params(("id" = String, Path, description = "The member's user id.")),
    responses(
        (status = 200, description = "The member as they are now.", body = Member),
        (status = 404, description = "No such member in this organization.", body = super::errors::ErrorBody),
        (status = 409, description = "A rule of the team refuses it.", body = super::errors::ErrorBody),
    ))]
pub async fn demote(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> Result<Json<Member>, ApiError> {
    act(state, caller, id, MemberAction::Demote).await
}

/// "Revoke": the member can no longer sign in, and their API key stops working at once.
#[utoipa::path(post, path = "/api/v1/members/{id}/revoke", tag = "members",
    params(("id" = String, Path, description = "The member's user id.")),
    responses(
        (status = 200, description = "The member as they are now.", body = Member),
        (status = 404, description = "No such member in this organization.", body = super::errors::ErrorBody),
        (status = 409, description = "A rule of the team refuses it.", body = super::errors::ErrorBody),
    ))]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> Result<Json<Member>, ApiError> {
    act(state, caller, id, MemberAction::Revoke).await
}

/// "Activate": a revoked member may sign in again, and their API key works again.
#[utoipa::path(post, path = "/api/v1/members/{id}/activate", tag = "members",
    params(("id" = String, Path, description = "The member's user id.")),
    responses(
        (status = 200, description = "The member as they are now.", body = Member),
        (status = 404, description = "No such member in this organization.", body = super::errors::ErrorBody),
        (status = 409, description = "A rule of the team refuses it (the seat limit).", body = super::errors::ErrorBody),
    ))]
pub async fn activate(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> Result<Json<Member>, ApiError> {
    act(state, caller, id, MemberAction::Activate).await
}

/// Removes a member from the organization (their account stays; they may be invited again).
#[utoipa::path(delete, path = "/api/v1/members/{id}", tag = "members",
    params(("id" = String, Path, description = "The member's user id.")),
    responses(
        (status = 204, description = "Removed."),
        (status = 404, description = "No such member in this organization.", body = super::errors::ErrorBody),
        (status = 409, description = "A rule of the team refuses it.", body = super::errors::ErrorBody),
    ))]
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> Result<StatusCode, ApiError> {
    one_row(&state, &caller, RowKind::Member, id).await?;
    state
        .services
        .team
        .act(&caller.0, id, MemberAction::Remove)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A member's API key itself.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"key": "rst_3fKq0Zr8mW1xY4bC7dE2gH5jK9nP6sT0uV3w"}))]
pub struct KeySecret {
    /// Deliver it to its member; it is shown in no log.
    pub key: String,
}

/// "Copy API Key": the member's current key (recorded in the audit log).
#[utoipa::path(get, path = "/api/v1/members/{id}/api-key", tag = "members",
    params(("id" = String, Path, description = "The member's user id.")),
    responses(
        (status = 200, body = KeySecret),
        (status = 404, description = "No such member in this organization.", body = super::errors::ErrorBody),
        (status = 409, description = "The member has no key (they are revoked).", body = super::errors::ErrorBody),
    ))]
pub async fn api_key(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> Result<Json<KeySecret>, ApiError> {
    one_row(&state, &caller, RowKind::Member, id).await?;
    let key = state.services.team.copy_key(&caller.0, id).await?;
    Ok(Json(KeySecret { key }))
}

/// How long the replaced key keeps working.
#[derive(Clone, Copy, Debug, Default, Deserialize, ToSchema)]
pub enum Overlap {
    #[serde(rename = "now")]
    #[default]
    Now,
    #[serde(rename = "1h")]
    Hour,
    #[serde(rename = "24h")]
    Day,
    #[serde(rename = "7d")]
    Week,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"overlap": "24h"}))]
pub struct RefreshRequest {
    /// How long the old key keeps working (default `now`: it stops at once).
    #[serde(default)]
    pub overlap: Overlap,
    /// The id of the key being replaced, to refuse the refresh if it was refreshed
    /// meanwhile; absent: whatever key is current.
    pub key_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RefreshedKey {
    /// The new key, shown this once (Copy API Key gives it again).
    pub key: String,
    pub member: Member,
}

/// "Refresh": a new key for the member; returns it once.
#[utoipa::path(post, path = "/api/v1/members/{id}/api-key/refresh", tag = "members",
    params(("id" = String, Path, description = "The member's user id."), super::IdempotencyKey),
    request_body(content = RefreshRequest, description = "Optional: sends the default overlap `now` when absent."),
    responses(
        (status = 200, body = RefreshedKey),
        (status = 404, description = "No such member in this organization.", body = super::errors::ErrorBody),
        (status = 409, description = "Refreshed meanwhile, too often, or the member has no key.", body = super::errors::ErrorBody),
        (status = 422, description = "The body is not valid.", body = super::errors::ErrorBody),
    ))]
pub async fn refresh_api_key(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    body: axum::body::Bytes,
) -> Result<Json<RefreshedKey>, ApiError> {
    let request: RefreshRequest = if body.iter().all(u8::is_ascii_whitespace) {
        RefreshRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::field("body", format!("The body does not fit: {e}.")))?
    };
    let row = one_row(&state, &caller, RowKind::Member, id).await?;
    let key_id = match request.key_id.as_deref() {
        Some(text) => text.parse::<i64>().map_err(|_| {
            ApiError::field("key_id", "Use a key id as the member's api_key gives it.")
        })?,
        // Not shown to this caller: the service refuses them before the id matters.
        None => row.key.as_ref().map_or(0, |k| k.id),
    };
    let grace = match request.overlap {
        Overlap::Now => KeyGrace::Immediately,
        Overlap::Hour => KeyGrace::Hour,
        Overlap::Day => KeyGrace::Day,
        Overlap::Week => KeyGrace::Week,
    };
    let key = state
        .services
        .team
        .refresh_key(&caller.0, id, key_id, grace)
        .await
        .map_err(ApiError::state)?;
    let member = one_row(&state, &caller, RowKind::Member, id).await?.into();
    Ok(Json(RefreshedKey { key, member }))
}
