use super::AppState;
use app::ports::RequestMeta;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use axum::middleware::Next;
use axum::response::Response;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Puts the session secret (from the cookie) and the client address into the request.
pub async fn request_meta(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let client_ip = if state.config.trust_proxy_headers {
        forwarded_for(req.headers()).unwrap_or(peer)
    } else {
        peer
    };
    let session_token = session_cookie(req.headers(), state.cookie_name);
    req.extensions_mut().insert(RequestMeta {
        session_token,
        client_ip,
    });
    next.run(req).await
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

fn session_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
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
        assert_eq!(session_cookie(&h, "roster_session").as_deref(), Some("abc"));
        assert_eq!(session_cookie(&h, "__Host-roster_session"), None);
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
