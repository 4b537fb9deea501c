use super::AppState;
use app::authz::Requirement;
use app::error::AppError;
use app::ports::RequestMeta;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The client's address: the peer's, or the one the trusted proxy saw.
fn client_ip(state: &AppState, req: &Request) -> IpAddr {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    if state.config.trust_proxy_headers {
        forwarded_for(req.headers()).unwrap_or(peer)
    } else {
        peer
    }
}

/// The longest user agent kept in the audit log.
const USER_AGENT_LIMIT: usize = 512;

/// A request id given by the trusted proxy: 1 to 64 letters, digits, `-`, `_` or `.`.
fn given_request_id(headers: &HeaderMap) -> Option<String> {
    let id = headers.get("x-request-id")?.to_str().ok()?;
    let ok = (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    ok.then(|| id.to_owned())
}

/// Gives the request an id (the trusted proxy's, or a new one), answers with it in
/// `X-Request-Id`, and runs the request with its origin, which the audit rows it writes keep.
pub async fn origin(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let request_id = state
        .config
        .trust_proxy_headers
        .then(|| given_request_id(req.headers()))
        .flatten()
        .unwrap_or_else(|| {
            let mut bytes = [0u8; 12];
            getrandom::fill(&mut bytes).expect("the operating system's random source failed");
            hex::encode(bytes)
        });
    let user_agent = req.headers().get(axum::http::header::USER_AGENT).map(|v| {
        String::from_utf8_lossy(v.as_bytes())
            .chars()
            .take(USER_AGENT_LIMIT)
            .collect()
    });
    let origin = crate::db::audit::Origin {
        client_ip: Some(client_ip(&state, &req).to_string()),
        user_agent,
        request_id: Some(request_id.clone()),
    };
    let mut res = origin.scope(next.run(req)).await;
    if let Ok(v) = axum::http::HeaderValue::from_str(&request_id) {
        res.headers_mut().insert("x-request-id", v);
    }
    res
}

/// Puts the session secret (from the cookie) and the client address into the request.
pub async fn request_meta(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let client_ip = client_ip(&state, &req);
    let session_token = cookie(req.headers(), state.cookie_name);
    let path = req.uri().path();
    let actor = match &session_token {
        Some(token) if !path.starts_with("/pkg/") => {
            match state.services.accounts.authenticate(token).await {
                Ok(actor) => actor,
                Err(e) => return refuse(e),
            }
        }
        _ => None,
    };
    // Server functions: the declared requirement is checked before the function runs;
    // a function without one is refused.
    if path.starts_with("/api/") {
        let decided = match app::api::requirement(path) {
            None => {
                tracing::error!(path, "server function without a declared requirement");
                Err(AppError::Forbidden)
            }
            Some(Requirement::Public) => Ok(()),
            Some(requirement) => actor
                .as_ref()
                .ok_or(AppError::Unauthorized)
                .and_then(|a| a.meets(requirement)),
        };
        if let Err(e) = decided {
            return refuse(e);
        }
    }
    req.extensions_mut().insert(RequestMeta {
        session_token,
        client_ip,
        actor,
        memo: Default::default(),
    });
    next.run(req).await
}

/// A refusal in the form server functions answer with: the error as JSON.
fn refuse(e: AppError) -> Response {
    (status_of(&e), axum::Json(e)).into_response()
}

pub(super) fn status_of(e: &AppError) -> StatusCode {
    StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// Largest error body read back to find its status; errors are a sentence or a few fields.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// Server functions answer every error with 500; this gives each refusal its own status
/// (`AppError::status`), keeping 500 for failures on the server.
pub async fn error_status(req: Request, next: Next) -> Response {
    let is_server_fn = req.uri().path().starts_with("/api/");
    let res = next.run(req).await;
    if !is_server_fn || res.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, ERROR_BODY_LIMIT).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    if let Ok(e) = serde_json::from_slice::<AppError>(&bytes) {
        parts.status = status_of(&e);
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// The address the nearest trusted proxy saw: the last entry of `X-Forwarded-For`.
fn forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .last()
        .and_then(|s| s.trim().parse().ok())
}

/// A cookie of the request, by name (empty values are none).
pub(super) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, v)| *k == name && !v.is_empty())
        .map(|(_, v)| v.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            COOKIE,
            "theme=dark; roster_session=abc; x=y".parse().unwrap(),
        );
        assert_eq!(cookie(&h, "roster_session").as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "__Host-roster_session"), None);
    }

    #[test]
    fn the_last_forwarded_address_is_the_one_the_proxy_saw() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            "203.0.113.9, 198.51.100.7".parse().unwrap(),
        );
        assert_eq!(forwarded_for(&h), Some("198.51.100.7".parse().unwrap()));
    }
}
