//! `GET /usage/report.csv`: the usage report of the Usage page's view (the same query
//! parameters), streamed as CSV. Usage Reports: View + Download; without it, the seed's
//! sentence with 403.

use super::AppState;
use crate::services::usage::Download;
use app::api::usage::TZ_COOKIE;
use app::authz::{Feature, Need, Requirement};
use app::error::AppError;
use app::model::usage::UsageQuery;
use app::ports::{Actor, RequestMeta};
use axum::Extension;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;

pub const REQUIREMENT: Requirement = Requirement::Feature(Feature::UsageReports, Need::Download);

pub(super) fn refusal(status: StatusCode, message: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message,
    )
        .into_response()
}

pub async fn report(
    State(state): State<AppState>,
    Extension(meta): Extension<RequestMeta>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let actor = match downloader(meta, &headers) {
        Ok(actor) => actor,
        Err(refused) => return *refused,
    };
    let mut query = UsageQuery::from_pairs(|k| params.get(k).map(String::as_str));
    query.tz = super::meta::cookie(&headers, TZ_COOKIE).unwrap_or_default();
    answer(
        state.usage.download(&actor, query).await,
        "text/csv; charset=utf-8",
    )
}

/// Who asks for a download; refused when it was started from another site (a link or a
/// form there): a download writes an audit row and reads much. The browser says so in
/// `Sec-Fetch-Site`; typed addresses and bookmarks say "none".
pub(super) fn downloader(meta: RequestMeta, headers: &HeaderMap) -> Result<Actor, Box<Response>> {
    let site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("none");
    if !matches!(site, "same-origin" | "none") {
        return Err(Box::new(refusal(
            StatusCode::FORBIDDEN,
            AppError::Forbidden.to_string(),
        )));
    }
    meta.actor.ok_or_else(|| {
        Box::new(refusal(
            StatusCode::UNAUTHORIZED,
            AppError::Unauthorized.to_string(),
        ))
    })
}

/// The download as a streamed attachment of `content_type`, or its refusal: field errors
/// as lines of text with 400.
pub(super) fn answer(started: Result<Download, AppError>, content_type: &'static str) -> Response {
    match started {
        Ok(download) => {
            let body = Body::from_stream(tokio_stream(download.body, download.whole));
            let disposition = format!("attachment; filename=\"{}\"", download.file_name);
            let mut response = Response::new(body);
            let h = response.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            if let Ok(v) = HeaderValue::from_str(&disposition) {
                h.insert(header::CONTENT_DISPOSITION, v);
            }
            response
        }
        Err(AppError::Validation(errors)) => refusal(
            StatusCode::BAD_REQUEST,
            errors
                .into_iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        Err(e) => refusal(super::meta::status_of(&e), e.to_string()),
    }
}

/// The receiver's chunks as a stream for the response body; one that ends before the report
/// was whole ends in an error, so the browser sees the download fail rather than a file cut
/// short.
fn tokio_stream(
    body: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
    whole: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    // Fused: the compression layer may ask again after the end.
    let stream = futures::stream::unfold((body, false), move |(mut body, ended)| {
        let whole = whole.clone();
        async move {
            if ended {
                return None;
            }
            match body.recv().await {
                Some(item) => Some((item, (body, false))),
                None if whole.load(std::sync::atomic::Ordering::SeqCst) => None,
                None => Some((
                    Err(std::io::Error::other("the report was cut short")),
                    (body, true),
                )),
            }
        }
    });
    futures::StreamExt::fuse(stream)
}
