//! `/api/v1/audit-log`: the Audit Log page's rows and filters, newest first.

use super::schema::ApiQuery;
use super::{ApiError, Caller};
use crate::http::AppState;
use app::model::audit::AuditQuery;
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The filters of a read of the audit log.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditFilter {
    /// A member's id: only what they did.
    #[param(pattern = "^[1-9][0-9]{0,17}$")]
    pub actor: Option<String>,
    /// A kind of action: `member`, `invitation`, `api_key`, `role`, `region`, `ownership`,
    /// `billing`, `organization`, `domain`, `session`, `profile`, `password`, `terms` or
    /// `audit`.
    #[param(max_length = 40)]
    pub action: Option<String>,
    /// Part of the target (an address, a role's name, …), any case.
    #[param(max_length = 200)]
    pub target: Option<String>,
    /// Words in the action, target, detail or actor, any case.
    #[param(max_length = 200)]
    pub search: Option<String>,
    /// The first day (YYYY-MM-DD), in `tz`.
    #[param(format = Date)]
    pub from: Option<String>,
    /// The last day (YYYY-MM-DD), in `tz`, included.
    #[param(format = Date)]
    pub to: Option<String>,
    /// The `next_cursor` of the page before.
    #[param(max_length = 40)]
    pub cursor: Option<String>,
    /// An IANA time zone for the days, such as `Europe/Berlin` (default UTC).
    #[param(max_length = 64)]
    pub tz: Option<String>,
}

/// One change, as recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: String,
    /// Its place in the organization's hash chain.
    pub seq: i64,
    /// RFC 3339, UTC.
    pub time: String,
    /// The member who made it; absent for the system.
    pub actor: Option<AuditActor>,
    /// `api` when made through this API, `auto_join`, or absent for the web app.
    pub via: Option<String>,
    /// The action's code, such as `member.promote`.
    pub action: String,
    pub target: String,
    /// What changed, in words ("role: member → admin").
    pub change: String,
    pub client_ip: String,
    pub user_agent: String,
    pub request_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditActor {
    pub name: Option<String>,
    pub email: String,
}

/// A page of the audit log (50 entries), newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditLogPage {
    pub data: Vec<AuditEntry>,
    /// Pass as `cursor` for older entries; absent on the last page.
    pub next_cursor: Option<String>,
}

/// The organization's audit log, newest first, with the Audit Log page's filters. Needs
/// Audit Logs: View.
#[utoipa::path(get, path = "/api/v1/audit-log", tag = "organization",
    params(AuditFilter),
    responses(
        (status = 200, body = AuditLogPage),
        (status = 422, description = "A filter is not valid.", body = super::errors::ErrorBody),
    ))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(f): ApiQuery<AuditFilter>,
) -> Result<Json<AuditLogPage>, ApiError> {
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
    if let Some(actor) = &f.actor
        && !actor.parse::<i64>().is_ok_and(|id| id > 0)
    {
        return Err(ApiError::field("actor", "Use a member's id."));
    }
    let query = AuditQuery {
        actor: f.actor.unwrap_or_default(),
        action: f.action.unwrap_or_default(),
        target: f.target.unwrap_or_default(),
        search: f.search.unwrap_or_default(),
        from: f.from.unwrap_or_default(),
        to: f.to.unwrap_or_default(),
        after: f.cursor.unwrap_or_default(),
        tz: f.tz.unwrap_or_default(),
    };
    let page = state
        .services
        .audit
        .page(&caller.0, query)
        .await
        .map_err(|e| match e {
            // The page calls the cursor `after`.
            app::error::AppError::Validation(mut errors) => {
                for e in &mut errors {
                    if e.field == "after" {
                        e.field = "cursor".into();
                    }
                }
                ApiError::from(app::error::AppError::Validation(errors))
            }
            e => ApiError::from(e),
        })?;
    Ok(Json(AuditLogPage {
        data: page
            .rows
            .into_iter()
            .map(|r| AuditEntry {
                id: r.id.to_string(),
                seq: r.seq,
                time: r.at,
                actor: r.actor_email.map(|email| AuditActor {
                    name: r.actor_name,
                    email,
                }),
                via: Some(r.via).filter(|v| v == "api" || v == "auto_join"),
                action: r.action,
                target: r.target,
                change: r.change,
                client_ip: r.client_ip,
                user_agent: r.user_agent,
                request_id: r.request_id,
            })
            .collect(),
        next_cursor: page.next,
    }))
}
