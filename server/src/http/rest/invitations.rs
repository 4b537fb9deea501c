//! `/api/v1/invitations`: "Invite User", "Bulk Invite", "Resend Invitation" and cancelling.

use super::members::{one_row, page_of, team_query};
use super::schema::{ApiJson, ApiQuery, Id, Invitation, InvitationStatus, Page, SortOrder};
use super::{ApiError, Caller};
use crate::http::AppState;
use app::error::AppError;
use app::model::team::{BULK_MAX, BulkOutcome, Role, RowKind, SortKey, Status, split_bulk};
use app::model::{EmailAddress, PersonName};
use app::ports::Invite;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct InvitationFilter {
    /// Words matched against names and addresses.
    #[param(max_length = 200)]
    pub search: Option<String>,
    /// `admin`, `member`, `visitor` or `custom-<id>`.
    #[param(pattern = "^(owner|admin|member|visitor|custom-[1-9][0-9]{0,17})$")]
    pub role: Option<String>,
    #[param(inline)]
    pub status: Option<InvitationStatus>,
    /// The column to order by (default `name`).
    #[param(inline)]
    pub sort: Option<InvitationSort>,
    #[param(inline)]
    pub order: Option<SortOrder>,
    /// A `next_cursor` or `previous_cursor` of an earlier page.
    #[param(pattern = "^[ab]\\.[mi][1-9][0-9]{0,17}$")]
    pub cursor: Option<String>,
}

#[derive(Clone, Copy, Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvitationSort {
    Name,
    Email,
    Role,
    Status,
    Sent,
}

/// Lists pending and expired invitations.
#[utoipa::path(get, path = "/api/v1/invitations", tag = "invitations",
    params(InvitationFilter),
    responses(
        (status = 200, description = "A page of at most 50 invitations.", body = Page<Invitation>),
        (status = 422, description = "A filter is not valid.", body = super::errors::ErrorBody),
    ))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(f): ApiQuery<InvitationFilter>,
) -> Result<Json<Page<Invitation>>, ApiError> {
    let sort = match f.sort {
        None | Some(InvitationSort::Name) => SortKey::Name,
        Some(InvitationSort::Email) => SortKey::Email,
        Some(InvitationSort::Role) => SortKey::Role,
        Some(InvitationSort::Status) => SortKey::Status,
        Some(InvitationSort::Sent) => SortKey::Date,
    };
    let status = f.status.map(|s| match s {
        InvitationStatus::Pending => Status::Pending,
        InvitationStatus::Expired => Status::Expired,
    });
    let query = team_query(
        RowKind::Invitation,
        f.search,
        f.role.as_deref(),
        status,
        sort,
        f.order,
        f.cursor.as_deref(),
    )?;
    let asked = query.cursor;
    let page = state.services.team.list(&caller.0, query).await?;
    Ok(Json(page_of(page.rows, page.total, asked)))
}

/// "Invite User": one person.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "grace@example.com", "first_name": "Grace", "last_name": "Hopper", "role": "member"}))]
pub struct NewInvitation {
    #[schema(max_length = 254)]
    pub email: String,
    #[schema(min_length = 1, max_length = 100)]
    pub first_name: String,
    #[schema(min_length = 1, max_length = 100)]
    pub last_name: String,
    /// `admin`, `member`, `visitor` or `custom-<id>`.
    #[schema(pattern = "^(admin|member|visitor|custom-[1-9][0-9]{0,17})$")]
    pub role: String,
}

fn role_field(text: &str) -> Result<Role, AppError> {
    Role::parse(text)
        .filter(|r| *r != Role::Owner)
        .ok_or_else(|| AppError::field("role", "Choose a role."))
}

/// Sends an invitation by email.
#[utoipa::path(post, path = "/api/v1/invitations", tag = "invitations",
    params(super::IdempotencyKey),
    request_body = NewInvitation,
    responses(
        (status = 201, description = "Invited.", body = Invitation),
        (status = 409, description = "The person is a member or invited already, or every seat is taken (`seat_limit_reached`).", body = super::errors::ErrorBody),
        (status = 429, description = "Too many calls with this key, or the organization's or the address's invitation limit is reached (`rate_limited`).", body = super::errors::ErrorBody),
        (status = 422, description = "A field is not valid.", body = super::errors::ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewInvitation>,
) -> Result<(StatusCode, Json<Invitation>), ApiError> {
    let first = PersonName::parse("first_name", &body.first_name, "a first name");
    let last = PersonName::parse("last_name", &body.last_name, "a last name");
    let email = EmailAddress::parse("email", &body.email);
    let role = role_field(&body.role);
    AppError::check([
        first.as_ref().err(),
        last.as_ref().err(),
        email.as_ref().err(),
        role.as_ref().err(),
    ])?;
    let email = email?;
    let address = email.as_str().to_owned();
    let invite = Invite {
        first_name: first?,
        last_name: last?,
        email,
        role: role?,
    };
    state
        .services
        .team
        .invite(&caller.0, invite)
        .await
        .map_err(ApiError::state)?;
    // The invitation just sent, by its address (stored as parsed).
    let found = async {
        let mut conn = state.accounts.store.pool.acquire().await?;
        crate::db::team::pending_by_email(&mut conn, caller.0.org_id, &address).await
    }
    .await;
    let id = match found {
        Ok(Some(invitation)) => invitation.id,
        Ok(None) => return Err(ApiError::from(AppError::NotFound)),
        Err(e) => {
            tracing::error!(error = %e, "REST API: read the invitation just sent");
            return Err(ApiError::from(AppError::Internal));
        }
    };
    let row = one_row(&state, &caller, RowKind::Invitation, id).await?;
    Ok((StatusCode::CREATED, Json(row.into())))
}

/// "Bulk Invite": many people with one role.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"addresses": ["grace@example.com", "Alan Turing <alan@example.com>"], "role": "member"}))]
pub struct BulkInvitation {
    /// Addresses, each alone or as `Name <address>`; at most 1,000.
    #[schema(min_items = 1, max_items = 1000)]
    pub addresses: Vec<String>,
    #[schema(pattern = "^(admin|member|visitor|custom-[1-9][0-9]{0,17})$")]
    pub role: String,
}

/// What became of one address of a bulk invitation.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkLine {
    /// The entry as sent.
    pub entry: String,
    pub outcome: BulkLineOutcome,
    /// The outcome in words, as the Team page shows it.
    pub message: String,
}

#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BulkLineOutcome {
    Invited,
    Invalid,
    Duplicate,
    AlreadyMember,
    AlreadyInvited,
    OverSeatLimit,
    AddressLimit,
    OrgLimit,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkReport {
    /// How many were invited.
    pub invited: usize,
    /// One line per address, in the order sent.
    pub results: Vec<BulkLine>,
}

/// Invites many people at once; each address says what became of it, and nothing is
/// written unless someone was invited.
#[utoipa::path(post, path = "/api/v1/invitations/bulk", tag = "invitations",
    params(super::IdempotencyKey),
    request_body = BulkInvitation,
    responses(
        (status = 200, description = "One result per address.", body = BulkReport),
        (status = 409, description = "No such role, or one you may not give.", body = super::errors::ErrorBody),
        (status = 422, description = "No addresses, too many, or an entry that is not one address.", body = super::errors::ErrorBody),
    ))]
pub async fn bulk(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<BulkInvitation>,
) -> Result<Json<BulkReport>, ApiError> {
    if body.addresses.len() > BULK_MAX {
        return Err(ApiError::field(
            "addresses",
            format!("Send at most {BULK_MAX} addresses at once."),
        ));
    }
    if body.addresses.is_empty() {
        return Err(ApiError::field("addresses", "Send at least one address."));
    }
    // Each entry is one address, as the Team page's list reads it (a comma or semicolon
    // outside quotes, or a line break, would make it several).
    if let Some(bad) = body
        .addresses
        .iter()
        .find(|a| a.contains(['\n', '\r']) || split_bulk(a).len() != 1)
    {
        return Err(ApiError::field(
            "addresses",
            format!(
                "Send one address per entry: {:?} is not one.",
                bad.chars().take(80).collect::<String>()
            ),
        ));
    }
    let role = role_field(&body.role)?;
    let text = body.addresses.join("\n");
    let results = state
        .services
        .team
        .bulk_invite(&caller.0, &text, role)
        .await
        .map_err(ApiError::state)?;
    let results: Vec<BulkLine> = results
        .into_iter()
        .map(|r| BulkLine {
            entry: r.entry,
            message: r.outcome.label().to_owned(),
            outcome: match r.outcome {
                BulkOutcome::Invited => BulkLineOutcome::Invited,
                BulkOutcome::Invalid => BulkLineOutcome::Invalid,
                BulkOutcome::Duplicate => BulkLineOutcome::Duplicate,
                BulkOutcome::AlreadyMember => BulkLineOutcome::AlreadyMember,
                BulkOutcome::AlreadyInvited => BulkLineOutcome::AlreadyInvited,
                BulkOutcome::OverSeatLimit => BulkLineOutcome::OverSeatLimit,
                BulkOutcome::AddressLimit => BulkLineOutcome::AddressLimit,
                BulkOutcome::OrgLimit => BulkLineOutcome::OrgLimit,
            },
        })
        .collect();
    Ok(Json(BulkReport {
        invited: results
            .iter()
            .filter(|r| matches!(r.outcome, BulkLineOutcome::Invited))
            .count(),
        results,
    }))
}

/// "Resend Invitation": a new link and seven more days (after a short cool-down).
#[utoipa::path(post, path = "/api/v1/invitations/{id}/resend", tag = "invitations",
    params(("id" = String, Path, description = "The invitation's id.")),
    responses(
        (status = 200, description = "Sent again.", body = Invitation),
        (status = 404, description = "No such pending invitation in this organization.", body = super::errors::ErrorBody),
        (status = 409, description = "Every seat is taken (an expired invitation takes one again).", body = super::errors::ErrorBody),
        (status = 429, description = "Too many calls with this key, sent again too soon, or an invitation limit is reached (`rate_limited`).", body = super::errors::ErrorBody),
    ))]
pub async fn resend(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> Result<Json<Invitation>, ApiError> {
    one_row(&state, &caller, RowKind::Invitation, id).await?;
    state
        .services
        .team
        .resend(&caller.0, id)
        .await
        .map_err(ApiError::state)?;
    Ok(Json(
        one_row(&state, &caller, RowKind::Invitation, id)
            .await?
            .into(),
    ))
}

/// Cancels an invitation: its link stops working.
#[utoipa::path(delete, path = "/api/v1/invitations/{id}", tag = "invitations",
    params(("id" = String, Path, description = "The invitation's id.")),
    responses(
        (status = 204, description = "Cancelled."),
        (status = 404, description = "No such pending invitation in this organization.", body = super::errors::ErrorBody),
    ))]
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> Result<StatusCode, ApiError> {
    one_row(&state, &caller, RowKind::Invitation, id).await?;
    state
        .services
        .team
        .cancel(&caller.0, id)
        .await
        .map_err(ApiError::state)?;
    Ok(StatusCode::NO_CONTENT)
}
