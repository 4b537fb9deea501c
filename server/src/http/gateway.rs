//! `GET /gateway/check`, for nginx `auth_request` and any gateway that can call out. It
//! answers only 204 (allowed, with the identity headers), 401 or 403 (refused, with
//! `X-Roster-Reason` and a JSON body): nginx turns any other status into a 500.

use super::AppState;
use crate::gateway::{Allowed, Ask, Reason, method_need, named_need};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, any};
use std::sync::atomic::Ordering::Relaxed;
use tower_http::catch_panic::CatchPanicLayer;

/// The check's route: every method (some gateways pass the call's own method on), and a
/// panic answered as a refusal, since nginx would turn a dropped connection into a 500.
pub fn route() -> MethodRouter<AppState> {
    any(check).layer(CatchPanicLayer::custom(|_| refuse(Reason::Unavailable)))
}

async fn check(State(state): State<AppState>, headers: HeaderMap) -> Response {
    // A header that is there but unreadable counts as an unknown value, refused: never as
    // absent, which could fall back to a weaker check.
    let text = |name: &str| headers.get(name).map(|v| v.to_str().unwrap_or(""));
    let need = match text("x-roster-need") {
        Some(name) => named_need(name),
        None => text("x-original-method").and_then(method_need),
    };
    let ask = Ask {
        keys: presented_keys(&headers),
        feature: text("x-roster-feature"),
        region: text("x-roster-region"),
        need,
    };
    match state.gateway.check(ask).await {
        Ok(allowed) => allow(allowed),
        Err(reason) => refuse(reason),
    }
}

/// Every distinct key in `Authorization` (the credentials after `Bearer `, or the whole
/// value, which then fails to parse) and `X-API-Key`. Keys in the URL are never read.
fn presented_keys(headers: &HeaderMap) -> Vec<&str> {
    let bearer = headers.get_all(header::AUTHORIZATION).iter().map(|v| {
        let v = v.to_str().unwrap_or("");
        match v.split_once(' ') {
            Some((scheme, key)) if scheme.eq_ignore_ascii_case("bearer") => key.trim(),
            _ => v,
        }
    });
    let api_key = headers
        .get_all("x-api-key")
        .iter()
        .map(|v| v.to_str().unwrap_or("").trim());
    let mut keys: Vec<&str> = bearer.chain(api_key).collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

fn allow(a: Allowed) -> Response {
    let values = [
        ("x-roster-user", HeaderValue::from(a.user_id)),
        ("x-roster-org", HeaderValue::from(a.org_id)),
        // Validated addresses hold no control characters; non-ASCII ones pass as UTF-8.
        (
            "x-roster-email",
            match HeaderValue::from_bytes(a.email.as_bytes()) {
                Ok(v) => v,
                Err(_) => {
                    tracing::error!("gateway check: an address that cannot be a header");
                    return refuse(Reason::Unavailable);
                }
            },
        ),
        (
            "x-roster-role",
            HeaderValue::from_str(&a.role.key()).expect("role keys are ASCII"),
        ),
    ];
    let mut res = StatusCode::NO_CONTENT.into_response();
    for (name, value) in values {
        res.headers_mut().insert(name, value);
    }
    uncached(res)
}

/// No answer of the check may be stored by anything between it and the gateway.
fn uncached(mut res: Response) -> Response {
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn refuse(reason: Reason) -> Response {
    let status = StatusCode::from_u16(reason.status()).expect("401 or 403");
    let body = serde_json::json!({ "reason": reason.code(), "message": reason.message() });
    let mut res = (status, axum::Json(body)).into_response();
    let h = res.headers_mut();
    h.insert("x-roster-reason", HeaderValue::from_static(reason.code()));
    // The message again as a header, for a gateway that answers the refusal itself
    // (nginx's `auth_request` keeps headers, not the body).
    h.insert(
        "x-roster-message",
        HeaderValue::from_static(reason.message()),
    );
    if status == StatusCode::UNAUTHORIZED {
        h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    uncached(res)
}

/// `GET /metrics`: the gateway's counters in the Prometheus text format. Counts only, no
/// names or keys; still, serve it to the monitoring network only.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let g = &state.gateway;
    let u = &g.usage;
    let mut text = String::new();
    let mut counter = |name: &str, help: &str, kind: &str, values: &[(String, u64)]| {
        text.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        for (labels, value) in values {
            text.push_str(&format!("{name}{labels} {value}\n"));
        }
    };
    let by_outcome: Vec<_> = u
        .checks()
        .map(|(o, n)| (format!("{{outcome=\"{o}\"}}"), n))
        .collect();
    counter(
        "roster_gateway_checks_total",
        "Gateway checks answered since the start, by outcome.",
        "counter",
        &by_outcome,
    );
    counter(
        "roster_gateway_holder_reads_total",
        "Database lookups of a key's holder (cache misses) since the start.",
        "counter",
        &[(String::new(), g.reads())],
    );
    counter(
        "roster_gateway_usage_batches_written_total",
        "Batches of check counts written to the database since the start.",
        "counter",
        &[(String::new(), u.batches_written.load(Relaxed))],
    );
    counter(
        "roster_gateway_usage_batches_failed_total",
        "Failed writes of a batch of check counts (each kept and written again).",
        "counter",
        &[(String::new(), u.batches_failed.load(Relaxed))],
    );
    let unwritten = u.unwritten() as u64;
    counter(
        "roster_gateway_usage_batches_unwritten",
        "Batches of check counts waiting to be written.",
        "gauge",
        &[(String::new(), unwritten)],
    );
    let mut res = text.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    uncached(res)
}
