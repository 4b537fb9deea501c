//! The REST API (`/api/v1`): every administrative function of the pages, for scripts and HR
//! systems. A request is made by the member whose API key it carries (`Authorization:
//! Bearer`), with exactly the permissions their role has now: the same services, the same
//! rules and the same audit rows as the pages (marked "via API"). No cookie is read here, so
//! no cross-site request can ride on a browser's session, and no CORS grant is given.
//!
//! Every operation declares what it needs in `operations()`; a request to a route without a
//! declaration is refused, and a test fails when the OpenAPI document and the table differ.

mod audit;
mod docs;
mod errors;
mod invitations;
mod limits;
mod members;
mod org;
mod schema;

use super::AppState;
use crate::services::accounts::KeyRefusal;
use app::authz::{Feature, Level, Need, Requirement};
use app::ports::Actor;
use axum::Router;
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
pub use errors::ApiError;
pub use limits::{CallCounter, IDEMPOTENCY_KEEP};
use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Where the API lives.
pub const PREFIX: &str = "/api/v1";

/// What each operation needs of the caller's role, by method and path (as the OpenAPI
/// document names them).
pub fn operations() -> Vec<(Method, &'static str, Requirement)> {
    use Requirement::Member;
    let team = |level| Requirement::feature(Feature::TeamManagement, level);
    let keys = |level| Requirement::feature(Feature::ApiKeys, level);
    let (get, post, patch, delete) = (Method::GET, Method::POST, Method::PATCH, Method::DELETE);
    vec![
        (get.clone(), "/api/v1/me", Member),
        (get.clone(), "/api/v1/organization", team(Level::View)),
        (get.clone(), "/api/v1/regions", team(Level::View)),
        (get.clone(), "/api/v1/members", team(Level::View)),
        (get.clone(), "/api/v1/members/{id}", team(Level::View)),
        (patch.clone(), "/api/v1/members/{id}", team(Level::Edit)),
        (delete.clone(), "/api/v1/members/{id}", team(Level::Full)),
        (
            post.clone(),
            "/api/v1/members/{id}/promote",
            team(Level::Full),
        ),
        (
            post.clone(),
            "/api/v1/members/{id}/demote",
            team(Level::Full),
        ),
        (
            post.clone(),
            "/api/v1/members/{id}/revoke",
            team(Level::Full),
        ),
        (
            post.clone(),
            "/api/v1/members/{id}/activate",
            team(Level::Full),
        ),
        (
            get.clone(),
            "/api/v1/members/{id}/api-key",
            keys(Level::Edit),
        ),
        (
            post.clone(),
            "/api/v1/members/{id}/api-key/refresh",
            keys(Level::Edit),
        ),
        (get.clone(), "/api/v1/invitations", team(Level::View)),
        (post.clone(), "/api/v1/invitations", team(Level::Edit)),
        (post.clone(), "/api/v1/invitations/bulk", team(Level::Edit)),
        (
            post.clone(),
            "/api/v1/invitations/{id}/resend",
            team(Level::Edit),
        ),
        (
            delete.clone(),
            "/api/v1/invitations/{id}",
            team(Level::Edit),
        ),
        (get.clone(), "/api/v1/roles", team(Level::View)),
        (post.clone(), "/api/v1/roles", team(Level::Full)),
        (get.clone(), "/api/v1/roles/{id}", team(Level::View)),
        (patch, "/api/v1/roles/{id}", team(Level::Full)),
        (delete, "/api/v1/roles/{id}", team(Level::Full)),
        (
            get.clone(),
            "/api/v1/usage",
            Requirement::Feature(Feature::Analytics, Need::At(Level::View)),
        ),
        (
            get,
            "/api/v1/audit-log",
            Requirement::Feature(Feature::AuditLogs, Need::At(Level::View)),
        ),
    ]
}

/// The `Idempotency-Key` header of the POSTs that create something.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
struct IdempotencyKey {
    /// Any 1 to 255 visible characters, unique per request: a repeat with the same key and
    /// body within 24 hours gets the first answer again (marked `Idempotent-Replayed: true`).
    #[param(rename = "Idempotency-Key", pattern = "^[!-~]{1,255}$")]
    idempotency_key: Option<String>,
}

/// The requirement declared for `method` on `path`.
fn requirement(method: &Method, path: &str) -> Option<Requirement> {
    operations()
        .into_iter()
        .find(|(m, p, _)| m == method && *p == path)
        .map(|(_, _, r)| r)
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Roster API",
        description = "Every administrative function of Roster's Team pages: members, invitations, roles, regions, API keys and usage. Authenticate with your own API key (`Authorization: Bearer rst_…`, Profile → Copy API Key); each call acts as you, with exactly the permissions your role has now, and is recorded in the audit log as made via API.",
        version = "1.0.0",
        license(name = "MIT", identifier = "MIT")
    ),
    modifiers(&BearerKey),
    security(("api_key" = [])),
    tags(
        (name = "members", description = "People in the organization and what can be done to them."),
        (name = "invitations", description = "Pending and expired invitations."),
        (name = "roles", description = "Custom roles with grants per feature and region."),
        (name = "organization", description = "The organization, its regions and usage."),
    )
)]
struct ApiDoc;

/// The API key as the one security scheme.
struct BearerKey;

impl utoipa::Modify for BearerKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.bearer_format = Some("rst_ followed by 36 letters and digits".into());
        scheme.description = Some(
            "Your Roster API key, as Copy API Key gives it: `Authorization: Bearer rst_…`.".into(),
        );
        components.add_security_scheme("api_key", SecurityScheme::Http(scheme));
    }
}

/// The API's routes with their OpenAPI document.
fn parts() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(org::me))
        .routes(routes!(org::organization))
        .routes(routes!(org::regions))
        .routes(routes!(members::list))
        .routes(routes!(members::get, members::update, members::remove))
        .routes(routes!(members::promote))
        .routes(routes!(members::demote))
        .routes(routes!(members::revoke))
        .routes(routes!(members::activate))
        .routes(routes!(members::api_key))
        .routes(routes!(members::refresh_api_key))
        .routes(routes!(invitations::list, invitations::create))
        .routes(routes!(invitations::bulk))
        .routes(routes!(invitations::resend))
        .routes(routes!(invitations::cancel))
        .routes(routes!(org::roles, org::create_role))
        .routes(routes!(org::role, org::update_role, org::delete_role))
        .routes(routes!(org::usage))
        .routes(routes!(audit::list))
        .split_for_parts();
    let mut doc = doc;
    common_responses(&mut doc);
    (router, doc)
}

/// The answers every operation may give (no key, a role that may not, too many calls, the
/// server failing), and each operation's id.
fn common_responses(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder, header::HeaderBuilder};
    let error = |description: &str| {
        ResponseBuilder::new().description(description).content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
    };
    let retry = || {
        HeaderBuilder::new()
            .schema(Some(
                utoipa::openapi::ObjectBuilder::new().schema_type(utoipa::openapi::Type::Integer),
            ))
            .description(Some("Seconds to wait before trying again."))
            .build()
    };
    let common = [
        ("401", error("No API key, or one that does not identify an active member (`unauthorized`).").build()),
        ("403", error("The caller's role may not do this (`permission_denied`), the Terms of Use changed since they last accepted them (`terms_not_accepted`), or a replaced key asked for keys (`key_replaced`).").build()),
        ("429", error("Too many calls with this key (`rate_limited`).").header("Retry-After", retry()).build()),
        ("500", error("Roster failed (`internal`); nothing of its internals is shown.").build()),
        ("503", error("Roster is busy (`unavailable`).").header("Retry-After", retry()).build()),
    ];
    for (path, item) in doc.paths.paths.iter_mut() {
        for (method, op) in [
            ("get", &mut item.get),
            ("post", &mut item.post),
            ("patch", &mut item.patch),
            ("delete", &mut item.delete),
        ] {
            let Some(op) = op else { continue };
            // Unique and stable: the method and the path's words ("get_members_by_id").
            let words = path
                .trim_start_matches(PREFIX)
                .replace("{id}", "by_id")
                .replace(['/', '-'], "_");
            op.operation_id = Some(format!("{method}{words}"));
            for (status, response) in &common {
                op.responses
                    .responses
                    .entry((*status).to_owned())
                    .or_insert_with(|| response.clone().into());
            }
        }
    }
}

/// The OpenAPI document, as served at `/api/v1/openapi.json` and committed as
/// `docs/openapi.json`.
pub fn document() -> utoipa::openapi::OpenApi {
    parts().1
}

/// The document as pretty JSON with a final newline (the committed file's form).
pub fn document_json() -> String {
    let mut json = document()
        .to_pretty_json()
        .expect("the OpenAPI document serialises");
    json.push('\n');
    json
}

/// The API's router, under `PREFIX`.
pub fn router(state: &AppState) -> Router<AppState> {
    let (api, _) = parts();
    // Layers run from the last added: authenticate, count the call, then replay.
    let api = api
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limits::idempotency,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limits::rate_limit,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            authenticate,
        ))
        .route(
            "/api/v1/openapi.json",
            axum::routing::get(|| async {
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    document_json(),
                )
            }),
        )
        .route("/api/docs", axum::routing::get(docs::page))
        .route("/api/docs/style.css", axum::routing::get(docs::stylesheet))
        .route(
            "/api/v1/{*rest}",
            axum::routing::any(|| async { ApiError::not_found() }),
        )
        .method_not_allowed_fallback(|| async { method_not_allowed() });
    Router::new().merge(api)
}

/// The caller, as `authenticate` found them.
pub struct Caller(pub Actor);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Actor>()
            .cloned()
            .map(Caller)
            .ok_or_else(|| {
                tracing::error!("REST API handler reached without authentication");
                ApiError::from(app::error::AppError::Internal)
            })
    }
}

/// Finds the member the request's API key belongs to and checks the operation's
/// requirement against their role as it is now.
async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let Some(path) = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
    else {
        return ApiError::not_found().into_response();
    };
    // HEAD is GET without the body.
    let method = match req.method() {
        &Method::HEAD => Method::GET,
        other => other.clone(),
    };
    let Some(needs) = requirement(&method, &path) else {
        return method_not_allowed().into_response();
    };
    let presented = match bearer(req.headers().get(header::AUTHORIZATION)) {
        Ok(key) => key,
        Err(e) => return e.into_response(),
    };
    let (actor, replaced) = match holder(&state, presented).await {
        Ok(found) => found,
        Err(refusal) => return ApiError::key(refusal).into_response(),
    };
    if !actor.terms_accepted {
        return ApiError::terms().into_response();
    }
    // A replaced key works on through its overlap, but hands out no key: one that leaked
    // buys nothing of the key that replaced it.
    if replaced && path.contains("/api-key") {
        return ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "key_replaced",
            "This API key has been replaced. Use the current key to copy or refresh keys.",
        )
        .into_response();
    }
    if let Err(e) = actor.meets(needs) {
        return ApiError::from(e).into_response();
    }
    req.extensions_mut().insert(actor);
    next.run(req).await
}

fn method_not_allowed() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "This address does not take that method.",
    )
}

/// The member `presented` belongs to, as they are now, and whether the key was replaced (it
/// works until its overlap ends). Read as the gateway check reads it: a key never issued is
/// refused from memory, and the member comes from the gateway's cache, which every change to
/// the team (here or, through `NOTIFY`, on another instance) empties for its organization.
/// Terms accepted are never taken from the cache alone: a member who has just accepted them is
/// read again.
async fn holder(state: &AppState, presented: &str) -> Result<(Actor, bool), KeyRefusal> {
    let key = crate::auth::api_key::ApiKey::parse(presented).map_err(|_| KeyRefusal::Malformed)?;
    let p = state
        .gateway
        .holder(&key)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "REST API: read the key's holder");
            KeyRefusal::Unavailable
        })?
        .ok_or(KeyRefusal::Unknown)?;
    if p.expires_at
        .is_some_and(|t| t <= state.accounts.clock.now())
    {
        return Err(KeyRefusal::Expired);
    }
    if !p.active {
        return Err(KeyRefusal::Inactive);
    }
    if p.terms_version.as_deref() != Some(state.config.terms_version.as_str()) {
        return state.accounts.authenticate_key(presented).await;
    }
    let actor = Actor {
        via: app::ports::Via::ApiKey(p.key_id),
        user_id: p.user_id,
        org_id: p.org_id,
        role: p.role,
        access: p.access.clone(),
        terms_accepted: true,
    };
    Ok((actor, p.expires_at.is_some()))
}

/// The key of an `Authorization: Bearer` header.
fn bearer(value: Option<&HeaderValue>) -> Result<&str, ApiError> {
    let value = value
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::unauthorized(MISSING_KEY))?;
    match value.split_once(' ') {
        Some((scheme, key)) if scheme.eq_ignore_ascii_case("bearer") => Ok(key.trim()),
        _ => Err(ApiError::unauthorized(MISSING_KEY)),
    }
}

const MISSING_KEY: &str = "An API key is required: send it as Authorization: Bearer <key>.";

impl ApiError {
    fn key(refusal: KeyRefusal) -> ApiError {
        match refusal {
            KeyRefusal::Malformed => ApiError::unauthorized(
                "That is not a Roster API key. Check that it was copied whole.",
            ),
            KeyRefusal::Unknown => ApiError::unauthorized("That API key is not known."),
            KeyRefusal::Expired => {
                ApiError::unauthorized("That API key has been replaced and no longer works.")
            }
            KeyRefusal::Inactive => {
                ApiError::unauthorized("The member this API key belongs to is not active.")
            }
            KeyRefusal::Unavailable => ApiError::from(app::error::AppError::Busy),
        }
    }
}
