//! Calls per key and minute (`API_CALLS_PER_KEY_PER_MINUTE`), with `RateLimit-*` headers on
//! every answer and `429` plus `Retry-After` past the limit; and `Idempotency-Key` on POST,
//! whose first answer is replayed for 24 hours. Both are kept in the database, so they hold
//! across instances.

use super::ApiError;
use crate::clock::{DAY, MINUTE, Millis};
use crate::db::api_requests::{self, Claim};
use crate::http::AppState;
use app::ports::{Actor, Via};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// How long the first answer to an Idempotency-Key is replayed.
pub const IDEMPOTENCY_KEEP: Millis = DAY;
/// The longest Idempotency-Key taken.
const IDEMPOTENCY_KEY_MAX: usize = 255;
/// The largest answer kept for replay (a bulk invitation of 1,000 lines fits).
const ANSWER_LIMIT: usize = 4 * 1024 * 1024;

/// The window a call at `now` falls in, and the seconds until it ends.
fn window(now: Millis) -> (Millis, u64) {
    let start = now - now.rem_euclid(MINUTE);
    let reset = ((start + MINUTE - now) as u64).div_ceil(1000);
    (start, reset.max(1))
}

fn key_id(req: &Request) -> Option<i64> {
    match req.extensions().get::<Actor>()?.via {
        Via::ApiKey(id) => Some(id),
        Via::Session(_) => None,
    }
}

fn set(headers: &mut HeaderMap, name: &'static str, value: u64) {
    headers.insert(name, HeaderValue::from(value));
}

/// Counts the call against its key's minute; past the limit it is refused with `429`.
pub async fn rate_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(limit) = state.config.api_calls_per_key_per_minute else {
        return next.run(req).await;
    };
    let Some(key_id) = key_id(&req) else {
        return next.run(req).await;
    };
    let (start, reset) = window(state.accounts.clock.now());
    let counted = async {
        let mut conn = state.accounts.store.pool.acquire().await?;
        api_requests::count_call(&mut conn, key_id, start).await
    }
    .await;
    let calls = match counted {
        Ok(calls) => calls,
        Err(e) => {
            tracing::error!(error = %e, "REST API: count a call");
            return ApiError::from(app::error::AppError::Busy).into_response();
        }
    };
    let limit = u64::from(limit);
    let remaining = limit.saturating_sub(calls as u64);
    let mut res = if calls as u64 > limit {
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "Too many calls with this API key. Please wait a moment and try again.",
        );
        e.retry_after = Some(reset);
        e.into_response()
    } else {
        next.run(req).await
    };
    let h = res.headers_mut();
    set(h, "ratelimit-limit", limit);
    set(h, "ratelimit-remaining", remaining);
    set(h, "ratelimit-reset", reset);
    if let Ok(policy) = HeaderValue::from_str(&format!("{limit};w=60")) {
        h.insert("ratelimit-policy", policy);
    }
    res
}

/// Replays the first answer to a POST that carries an `Idempotency-Key` already used with
/// the same request by the same key; refuses one used with a different request, or while
/// the first is still running.
pub async fn idempotency(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let Some(given) = req.headers().get("idempotency-key") else {
        return next.run(req).await;
    };
    let Some(idempotency_key) = given
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= IDEMPOTENCY_KEY_MAX)
        .map(str::to_owned)
    else {
        return ApiError::field(
            "Idempotency-Key",
            format!("Use an Idempotency-Key of 1 to {IDEMPOTENCY_KEY_MAX} visible characters."),
        )
        .into_response();
    };
    let Some(key_id) = key_id(&req) else {
        return next.run(req).await;
    };
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, super::super::BODY_LIMIT).await else {
        return ApiError::field("body", "The body is too large.").into_response();
    };
    let mut hash = Sha256::new();
    hash.update(parts.method.as_str());
    hash.update(b" ");
    hash.update(parts.uri.path());
    hash.update(b"\n");
    hash.update(&bytes);
    let request_hash = hex::encode(hash.finalize());
    let now = state.accounts.clock.now();
    let store = &state.accounts.store;
    let claimed = async {
        let mut conn = store.pool.acquire().await?;
        api_requests::claim(
            &mut conn,
            key_id,
            &idempotency_key,
            &request_hash,
            now,
            IDEMPOTENCY_KEEP,
        )
        .await
    }
    .await;
    match claimed {
        Ok(Claim::First) => {}
        Ok(Claim::Answered(status, body)) => return replay(status, body),
        Ok(Claim::Running) => {
            return ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                "A request with this Idempotency-Key is still running. Try again in a moment.",
            )
            .into_response();
        }
        Ok(Claim::Mismatch) => {
            return ApiError::field(
                "Idempotency-Key",
                "This Idempotency-Key was used for a different request. Use a new key for a new request.",
            )
            .into_response();
        }
        Err(e) => {
            tracing::error!(error = %e, "REST API: claim an idempotency key");
            return ApiError::from(app::error::AppError::Busy).into_response();
        }
    }
    let res = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let status = res.status();
    let (res_parts, res_body) = res.into_parts();
    let answer = axum::body::to_bytes(res_body, ANSWER_LIMIT).await;
    let recorded = async {
        let mut conn = store.pool.acquire().await?;
        match (&answer, status.is_server_error()) {
            // Failed on the server's side: the key may be used again.
            (Ok(_), true) | (Err(_), _) => {
                api_requests::release(&mut conn, key_id, &idempotency_key).await
            }
            (Ok(bytes), false) => {
                let text = String::from_utf8_lossy(bytes);
                api_requests::finish(&mut conn, key_id, &idempotency_key, status.as_u16(), &text)
                    .await
            }
        }
    }
    .await;
    if let Err(e) = recorded {
        tracing::error!(error = %e, "REST API: record an idempotent answer");
    }
    match answer {
        Ok(bytes) => Response::from_parts(res_parts, Body::from(bytes)),
        Err(_) => ApiError::from(app::error::AppError::Internal).into_response(),
    }
}

/// The first answer again, marked as a replay.
fn replay(status: u16, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let mut res = if body.is_empty() {
        status.into_response()
    } else {
        (
            status,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()
    };
    res.headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_whole_minutes_and_reset_counts_up_the_seconds_left() {
        assert_eq!(window(120_000), (120_000, 60));
        assert_eq!(window(120_001), (120_000, 60));
        assert_eq!(window(179_000), (120_000, 1));
        assert_eq!(window(179_999), (120_000, 1));
    }
}
