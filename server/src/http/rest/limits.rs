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
/// The largest answer read back from a handler.
const ANSWER_LIMIT: usize = 4 * 1024 * 1024;
/// The largest answer kept for replay (a bulk invitation of 1,000 ordinary lines fits); a
/// larger one is not kept, and a repeat runs again.
const KEPT_LIMIT: usize = 256 * 1024;

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

/// Where calls are counted: in the database on PostgreSQL, so the limit holds across the
/// instances that share it; in memory on SQLite, whose one instance is all there is (a write
/// per call would halve the API's throughput there).
pub struct CallCounter {
    memory: Option<std::sync::Mutex<std::collections::HashMap<i64, (Millis, i64)>>>,
}

/// Keys held in memory before the ones of past windows are dropped.
const MEMORY_KEYS: usize = 10_000;

impl CallCounter {
    pub fn new(backend: crate::db::Backend) -> CallCounter {
        CallCounter {
            memory: (backend == crate::db::Backend::Sqlite).then(Default::default),
        }
    }

    /// Counts one call of `key_id` in the window starting at `start`; the window's calls so
    /// far, this one included.
    async fn count(&self, state: &AppState, key_id: i64, start: Millis) -> sqlx::Result<i64> {
        if let Some(memory) = &self.memory {
            let mut windows = memory.lock().unwrap_or_else(|e| e.into_inner());
            if windows.len() >= MEMORY_KEYS {
                windows.retain(|_, (window, _)| *window == start);
            }
            let entry = windows.entry(key_id).or_insert((start, 0));
            if entry.0 != start {
                *entry = (start, 0);
            }
            entry.1 += 1;
            return Ok(entry.1);
        }
        let mut conn = state.accounts.store.pool.acquire().await?;
        api_requests::count_call(&mut conn, key_id, start).await
    }
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
    let counted = state.api_calls.count(&state, key_id, start).await;
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
        .filter(|k| {
            (1..=IDEMPOTENCY_KEY_MAX).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic())
        })
        .map(str::to_owned)
    else {
        return ApiError::field(
            "Idempotency-Key",
            format!(
                "Use an Idempotency-Key of 1 to {IDEMPOTENCY_KEY_MAX} visible characters, without spaces."
            ),
        )
        .into_response();
    };
    let Some(actor) = req.extensions().get::<Actor>().cloned() else {
        return next.run(req).await;
    };
    let Via::ApiKey(key_id) = actor.via else {
        return next.run(req).await;
    };
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, super::super::BODY_LIMIT).await else {
        return ApiError::field("body", "The body is too large.").into_response();
    };
    let mut hash = Sha256::new();
    for part in [
        parts.method.as_str().as_bytes(),
        parts.uri.path().as_bytes(),
        parts
            .headers
            .get(axum::http::header::CONTENT_TYPE)
            .map_or(&b""[..], |v| v.as_bytes()),
    ] {
        hash.update(part);
        hash.update(b"\n");
    }
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
    let refresh = parts.uri.path().ends_with("/api-key/refresh");
    let claim = match claimed {
        Ok(Claim::First(claim)) => claim,
        Ok(Claim::Answered(status, body)) if refresh && status == 200 => {
            return replay_refresh(&state, &actor, body).await;
        }
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
            return ApiError::state(app::error::AppError::field(
                "Idempotency-Key",
                "This Idempotency-Key was used for a different request. Use a new key for a new request.",
            ))
            .into_response();
        }
        Ok(Claim::Full) => {
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!(
                    "This API key has {} answers kept for Idempotency-Keys; send the next request without one or wait.",
                    api_requests::KEPT_PER_KEY
                ),
            );
            e.retry_after = Some(60);
            return e.into_response();
        }
        Err(e) => {
            tracing::error!(error = %e, "REST API: claim an idempotency key");
            return ApiError::from(app::error::AppError::Busy).into_response();
        }
    };
    let res = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let status = res.status();
    let (res_parts, res_body) = res.into_parts();
    let answer = axum::body::to_bytes(res_body, ANSWER_LIMIT).await;
    // What is kept: never a key itself (a replayed refresh fetches it again, as Copy API Key
    // does, checked and audited); nothing too large to keep.
    let kept = match &answer {
        Ok(bytes) if !status.is_server_error() => {
            if refresh && status == StatusCode::OK {
                serde_json::from_slice::<serde_json::Value>(bytes)
                    .ok()
                    .map(|mut v| {
                        v["key"] = serde_json::Value::Null;
                        v.to_string()
                    })
            } else {
                Some(String::from_utf8_lossy(bytes).into_owned())
            }
        }
        _ => None,
    }
    .filter(|text| text.len() <= KEPT_LIMIT);
    let recorded = async {
        let mut conn = store.pool.acquire().await?;
        match &kept {
            Some(text) => {
                api_requests::finish(
                    &mut conn,
                    key_id,
                    &idempotency_key,
                    &claim,
                    status.as_u16(),
                    text,
                )
                .await
            }
            // Failed on the server's side, or too large: the key may be used again.
            None => api_requests::release(&mut conn, key_id, &idempotency_key, &claim).await,
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

/// A refresh's first answer again, with its key fetched as "Copy API Key" would (checked
/// against the caller's role now, and audited): only while that key is still the member's
/// current one.
async fn replay_refresh(state: &AppState, actor: &Actor, kept: String) -> Response {
    let Ok(mut answer) = serde_json::from_str::<serde_json::Value>(&kept) else {
        return ApiError::from(app::error::AppError::Internal).into_response();
    };
    let member = answer["member"]["id"]
        .as_str()
        .and_then(|id| id.parse().ok());
    let made = answer["member"]["api_key"]["id"]
        .as_str()
        .map(str::to_owned);
    let (Some(member), Some(made)) = (member, made) else {
        return ApiError::from(app::error::AppError::Internal).into_response();
    };
    let current = async {
        let mut conn = state.accounts.store.pool.acquire().await?;
        crate::db::api_keys::current(&mut conn, actor.org_id, member).await
    }
    .await;
    let current = match current {
        Ok(key) => key.map(|k| k.id.to_string()),
        Err(e) => {
            tracing::error!(error = %e, "REST API: read a member's current key");
            return ApiError::from(app::error::AppError::Internal).into_response();
        }
    };
    if current.as_deref() != Some(made.as_str()) {
        return ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "The key this request made is no longer the member's current key. Copy API Key gives the current one.",
        )
        .into_response();
    }
    match state.services.team.copy_key(actor, member).await {
        Ok(key) => {
            answer["key"] = serde_json::Value::String(key);
            replay(200, answer.to_string())
        }
        Err(e) => ApiError::from(e).into_response(),
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
