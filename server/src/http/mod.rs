//! The HTTP surface: pages, server functions, health, and the middleware every response passes.

mod audit;
mod gateway;
mod guard;
mod live;
mod meta;
pub mod rest;
mod usage;

use crate::config::Config;
use crate::events::Events;
use app::authz::Requirement;
use app::ports::Services;
use app::{App, shell};
use axum::Router;
use axum::extract::FromRef;
use axum::routing::{MethodRouter, get};
use leptos::prelude::*;
use leptos_axum::{AxumRouteListing, LeptosRoutes, generate_route_list};
use std::sync::{Arc, OnceLock};
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::services::ServeDir;

#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub services: Services,
    pub config: Arc<Config>,
    pub cookie_name: &'static str,
    pub events: Events,
    pub gateway: crate::gateway::Gateway,
    pub usage: crate::services::UsageService,
    pub audit: crate::services::AuditService,
    /// Authenticates the REST API's keys.
    pub accounts: crate::services::AccountService,
    /// The REST API's calls per key and minute.
    pub api_calls: Arc<rest::CallCounter>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// Largest request body accepted (a bulk invitation of thousands of addresses fits).
pub(crate) const BODY_LIMIT: usize = 1024 * 1024;

/// The routes beside the pages and server functions, with what each needs (the live stream
/// checks its requirement itself; health is public; the gateway check authenticates the API
/// key it is given, never a session).
pub fn extra_routes() -> Vec<(&'static str, Requirement, MethodRouter<AppState>)> {
    vec![
        ("/healthz", Requirement::Public, get(health)),
        ("/events", live::REQUIREMENT, get(live::events)),
        (
            "/events/usage",
            live::USAGE_REQUIREMENT,
            get(live::usage_events),
        ),
        (GATEWAY_CHECK, Requirement::Public, gateway::route()),
        ("/metrics", Requirement::Public, get(gateway::metrics)),
        ("/usage/report.csv", usage::REQUIREMENT, get(usage::report)),
        ("/audit/export", audit::EXPORT, get(audit::export)),
        ("/help/gateway", Requirement::Public, get(gateway_guide)),
    ]
}

const GATEWAY_CHECK: &str = "/gateway/check";

/// The page routes, listed once per process. Listing them renders the app with a
/// process-wide flag set that stops resources from loading (leptos_server's
/// `SuppressResourceLoad`), so a page rendering anywhere else in the process at that moment
/// would wait forever; several routers in one process (tests, a restart) must not list again.
pub fn page_routes() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

pub fn router(state: AppState) -> Router {
    let routes = page_routes();
    let services = state.services.clone();
    let context = move || provide_context(services.clone());
    let options = state.leptos_options.clone();
    let mut router = Router::new();
    let mut check = None;
    for (path, _, handler) in extra_routes() {
        if path == GATEWAY_CHECK {
            check = Some(handler);
        } else {
            router = router.route(path, handler);
        }
    }
    let router = router
        .route(
            &format!("/{}/{{*path}}", state.leptos_options.site_pkg_dir),
            assets(&state.leptos_options),
        )
        .leptos_routes_with_context(&state, routes, context.clone(), move || {
            shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(context, shell))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            meta::request_meta,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            meta::origin,
        ))
        .layer(axum::middleware::from_fn(meta::error_status))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::same_origin_writes,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::security_headers,
        ))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(BODY_LIMIT))
        // Pages and server-function answers compressed as they are sent (the assets are
        // compressed already, and event streams are left alone), at a level that costs
        // little time per page.
        .layer(CompressionLayer::new().quality(CompressionLevel::Precise(4)));
    // The gateway check goes in after the layers: it reads no session, no cookie and no body,
    // so the same-origin rule and the body limit, which would answer 403 or 413 in their own
    // words, have nothing to guard there.
    let router = match check {
        Some(check) => router.route(GATEWAY_CHECK, check),
        None => router,
    };
    // The REST API reads no session or cookie either: its own layers.
    let api = rest::router(&state)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            meta::origin,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::security_headers,
        ))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(BODY_LIMIT))
        .layer(CompressionLayer::new().quality(CompressionLevel::Precise(4)));
    router.merge(api).with_state(state)
}

/// The built assets (`/pkg`): the precompressed copy (brotli, gzip) the browser accepts, and,
/// when their names carry a hash of their content (`LEPTOS_HASH_FILES`), cached for a year;
/// otherwise checked again on each use.
fn assets(options: &LeptosOptions) -> MethodRouter<AppState> {
    use axum::http::{HeaderValue, Response, header};
    use tower_http::services::fs::ServeFileSystemResponseBody;
    use tower_http::set_header::SetResponseHeaderLayer;
    let files = ServeDir::new(&*options.site_root)
        .precompressed_br()
        .precompressed_gzip();
    let cache = if options.hash_files {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let cache = HeaderValue::from_static(cache);
    axum::routing::get_service(
        tower::ServiceBuilder::new()
            .layer(SetResponseHeaderLayer::overriding(
                header::VARY,
                HeaderValue::from_static("accept-encoding"),
            ))
            .layer(SetResponseHeaderLayer::if_not_present(
                header::CACHE_CONTROL,
                move |r: &Response<ServeFileSystemResponseBody>| {
                    r.status().is_success().then(|| cache.clone())
                },
            ))
            .service(files),
    )
}

/// The gateway guide (`docs/GATEWAY.md`), which the Usage page's empty state links to.
async fn gateway_guide() -> impl axum::response::IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; charset=utf-8",
        )],
        include_str!("../../../docs/GATEWAY.md"),
    )
}

async fn health() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}
