//! `GET /audit/export?format=csv|jsonl`: the audit log of the Audit Log page's filters (the
//! same query parameters, every page), streamed. Audit Logs: View + Download; without it,
//! the seed's sentence with 403.

use super::AppState;
use super::usage::{answer, downloader, refusal};
use crate::services::audit::Format;
use app::api::usage::TZ_COOKIE;
use app::authz::{Feature, Need, Requirement};
use app::model::audit::AuditQuery;
use app::ports::RequestMeta;
use axum::Extension;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use std::collections::HashMap;

pub const EXPORT: Requirement = Requirement::Feature(Feature::AuditLogs, Need::Download);

pub async fn export(
    State(state): State<AppState>,
    Extension(meta): Extension<RequestMeta>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let actor = match downloader(meta, &headers) {
        Ok(actor) => actor,
        Err(refused) => return *refused,
    };
    let format = params.get("format").map_or("csv", String::as_str);
    let Some(format) = Format::parse(format) else {
        return refusal(
            StatusCode::BAD_REQUEST,
            "format: Choose csv or jsonl.".to_owned(),
        );
    };
    let mut query = AuditQuery::from_pairs(|k| params.get(k).map(String::as_str));
    query.tz = super::meta::cookie(&headers, TZ_COOKIE).unwrap_or_default();
    answer(
        state.audit.export(&actor, query, format).await,
        format.content_type(),
    )
}
