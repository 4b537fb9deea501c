//! `GET /gateway/check`, for nginx `auth_request` and any gateway that can call out. It
//! answers only 204 (allowed, with the identity headers), 401 or 403 (refused, with
//! `X-Roster-Reason` and a JSON body): nginx turns any other status into a 500.

use super::AppState;
use crate::gateway::{Allowed, Ask, Reason, method_need, named_need};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, any};
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
    if status == StatusCode::UNAUTHORIZED {
        h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    uncached(res)
}
