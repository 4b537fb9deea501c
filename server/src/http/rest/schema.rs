//! What the REST API reads and writes: snake_case JSON, ids as strings, times in RFC 3339 UTC;
//! and the extractors that turn bad input into the API's own error shape.

use super::ApiError;
use app::model::team::{KeyView, RowKind, Status, TeamRow};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Unix milliseconds as RFC 3339 UTC, to the millisecond.
pub fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A member of the organization.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "42", "email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace",
    "mobile": null, "role": "admin", "role_name": "Admin", "status": "active",
    "joined_at": "2026-12-01T09:30:00.000Z", "is_self": false,
    "api_key": {"id": "7", "prefix": "rst_3fK", "last_used_at": null, "previous": null}
}))]
pub struct Member {
    /// The member's user id.
    pub id: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    /// Shown to those who manage the team (Team Management: Edit) and to the member.
    pub mobile: Option<String>,
    /// `owner`, `admin`, `member`, `visitor`, or `custom-<id>` for a custom role.
    pub role: String,
    /// The role's name ("Admin", or the custom role's name).
    pub role_name: String,
    pub status: MemberStatus,
    pub joined_at: String,
    /// Whether this is the caller.
    pub is_self: bool,
    /// The member's API key (never the key itself), for callers who may handle it.
    pub api_key: Option<ApiKeyInfo>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MemberStatus {
    Active,
    Disabled,
}

/// A member's API key as the Team page shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyInfo {
    pub id: String,
    /// The key's first characters.
    pub prefix: String,
    /// The last gateway check made with it, allowed or refused.
    pub last_used_at: Option<String>,
    /// The key it replaced, while that one still works.
    pub previous: Option<PreviousKeyInfo>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PreviousKeyInfo {
    pub prefix: String,
    /// When it stops working.
    pub ends_at: String,
    pub last_used_at: Option<String>,
}

impl From<KeyView> for ApiKeyInfo {
    fn from(k: KeyView) -> Self {
        ApiKeyInfo {
            id: k.id.to_string(),
            prefix: k.prefix,
            last_used_at: k.last_used_at.map(time),
            previous: k.previous.map(|p| PreviousKeyInfo {
                prefix: p.prefix,
                ends_at: time(p.ends_at),
                last_used_at: p.last_used_at.map(time),
            }),
        }
    }
}

impl From<TeamRow> for Member {
    fn from(r: TeamRow) -> Self {
        Member {
            id: r.id.to_string(),
            email: r.email,
            first_name: r.first_name,
            last_name: r.last_name,
            mobile: r.mobile,
            role: r.role.key(),
            role_name: r.role_name,
            status: match r.status {
                Status::Disabled => MemberStatus::Disabled,
                _ => MemberStatus::Active,
            },
            joined_at: time(r.date),
            is_self: r.is_self,
            api_key: r.key.map(ApiKeyInfo::from),
        }
    }
}

/// An invitation that has not been accepted.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "9", "email": "grace@example.com", "first_name": "Grace", "last_name": "Hopper",
    "role": "member", "role_name": "Member", "status": "pending",
    "sent_at": "2026-12-01T09:30:00.000Z"
}))]
pub struct Invitation {
    pub id: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub role: String,
    pub role_name: String,
    pub status: InvitationStatus,
    /// When it was last sent.
    pub sent_at: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvitationStatus {
    Pending,
    Expired,
}

impl From<TeamRow> for Invitation {
    fn from(r: TeamRow) -> Self {
        debug_assert_eq!(r.kind, RowKind::Invitation);
        Invitation {
            id: r.id.to_string(),
            email: r.email,
            first_name: r.first_name,
            last_name: r.last_name,
            role: r.role.key(),
            role_name: r.role_name,
            status: match r.status {
                Status::Expired => InvitationStatus::Expired,
                _ => InvitationStatus::Pending,
            },
            sent_at: time(r.date),
        }
    }
}

/// One page of a list, with the cursors of its neighbours.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    /// How many match the filters in all.
    pub total: i64,
    /// Pass as `cursor` for the next page; absent on the last one.
    pub next_cursor: Option<String>,
    /// Pass as `cursor` for the previous page; absent on the first one.
    pub previous_cursor: Option<String>,
}

/// The list order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SortOrder {
    #[default]
    Asc,
    Desc,
}

/// A JSON body whose problems are answered in the API's error shape (`validation_failed`).
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(ApiError::field("body", body_problem(&rejection))),
        }
    }
}

/// A sentence about a refused body, without the server's internals.
fn body_problem(rejection: &axum::extract::rejection::JsonRejection) -> String {
    use axum::extract::rejection::JsonRejection::*;
    match rejection {
        MissingJsonContentType(_) => {
            "Send the body as JSON (Content-Type: application/json).".into()
        }
        JsonSyntaxError(_) => "The body is not valid JSON.".into(),
        JsonDataError(e) => format!(
            "The body does not fit: {}",
            e.body_text()
                .trim_start_matches("Failed to deserialize the JSON body into the target type: ")
        ),
        _ => "The body could not be read.".into(),
    }
}

/// Query parameters whose problems are answered in the API's error shape.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|q| ApiQuery(q.0))
            .map_err(|e| {
                let text = e.body_text();
                let why = text.trim_start_matches("Failed to deserialize query string: ");
                ApiError::field("query", format!("The query parameters do not fit: {why}."))
            })
    }
}

/// The `{id}` of a path: a positive whole number, or else nothing is found.
pub struct Id(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Path(id) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| ApiError::not_found())?;
        id.parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .map(Id)
            .ok_or_else(ApiError::not_found)
    }
}
