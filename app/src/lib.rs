#![recursion_limit = "256"]
//! Roster's user interface and server functions, shared by the browser (WASM) and the server.

pub mod api;
pub mod authz;
pub mod components;
pub mod error;
pub mod model;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod ports;

use components::{Toasts, provide_toasts};
use leptos::prelude::*;
use leptos_meta::{HashedStylesheet, MetaTags, Title, provide_meta_context};
use leptos_router::{
    SsrMode, StaticSegment,
    components::{Route, Router, Routes},
};
use pages::auth::{
    ForgotPasswordPage, ResetPasswordPage, SignInPage, SignUpPage, TermsPage, VerifyEmailPage,
};

/// The CSP nonce the server chose for this response, put in the request by its middleware.
#[cfg(feature = "ssr")]
#[derive(Clone, Debug)]
pub struct CspNonce(pub String);

pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(nonce) =
        use_context::<http::request::Parts>().and_then(|p| p.extensions.get::<CspNonce>().cloned())
    {
        provide_context(leptos::nonce::Nonce::from_value(nonce.0));
    }
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="data:,"/>
                // With hashed file names (`LEPTOS_HASH_FILES`), both name this release's files.
                <HashedStylesheet options=options.clone() id="leptos"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// What every page needs, by its path. The frame of the signed-in app shows the permission
/// message instead of a page whose requirement the user does not meet (checked on the server
/// as it renders, with the role read from the database); a test fails for a route missing here.
pub fn page_requirements() -> Vec<(&'static str, authz::Requirement)> {
    use authz::{Feature, Level, Requirement::*};
    vec![
        ("/", Member),
        ("/sign-up", Public),
        ("/sign-in", Public),
        ("/verify-email", Public),
        ("/forgot-password", Public),
        ("/reset-password", Public),
        ("/terms", SignedIn),
        ("/profile", Member),
        (
            "/team",
            authz::Requirement::feature(Feature::TeamManagement, Level::View),
        ),
        (
            "/roles",
            authz::Requirement::feature(Feature::TeamManagement, Level::View),
        ),
        (
            "/usage",
            authz::Requirement::feature(Feature::Analytics, Level::View),
        ),
        (
            "/settings",
            authz::Requirement::feature(Feature::AccountSettings, Level::View),
        ),
        (
            "/audit",
            authz::Requirement::feature(Feature::AuditLogs, Level::View),
        ),
        (
            "/billing",
            authz::Requirement::feature(Feature::Billing, Level::View),
        ),
        ("/invitation", Public),
    ]
}

/// The requirement declared for the page at `path`.
pub fn page_requirement(path: &str) -> Option<authz::Requirement> {
    page_requirements()
        .into_iter()
        .find(|(p, _)| *p == path)
        .map(|(_, r)| r)
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    provide_toasts();
    view! {
        <Title text="Roster"/>
        <Router>
            // Pages for signed-in users render whole before sending, so that a redirect to
            // "Sign In" or the terms is a real HTTP redirect.
            <Routes fallback=|| view! { <NotFound/> }>
                <Route path=StaticSegment("") view=pages::home::HomePage ssr=SsrMode::Async/>
                <Route path=StaticSegment("sign-up") view=SignUpPage/>
                <Route path=StaticSegment("sign-in") view=SignInPage/>
                <Route path=StaticSegment("verify-email") view=VerifyEmailPage/>
                <Route path=StaticSegment("forgot-password") view=ForgotPasswordPage/>
                <Route path=StaticSegment("reset-password") view=ResetPasswordPage/>
                <Route path=StaticSegment("terms") view=TermsPage ssr=SsrMode::Async/>
                <Route path=StaticSegment("profile") view=pages::profile::ProfilePage ssr=SsrMode::Async/>
                <Route path=StaticSegment("team") view=pages::team::TeamPage ssr=SsrMode::Async/>
                <Route path=StaticSegment("roles") view=pages::roles::RolesPage ssr=SsrMode::Async/>
                <Route path=StaticSegment("usage") view=pages::usage::UsagePage ssr=SsrMode::Async/>
                <Route path=StaticSegment("settings") view=pages::settings::SettingsPage ssr=SsrMode::Async/>
                <Route path=StaticSegment("audit") view=pages::audit::AuditPage ssr=SsrMode::Async/>
                <Route path=StaticSegment("billing") view=pages::billing::BillingPage ssr=SsrMode::Async/>
                <Route path=StaticSegment("invitation") view=pages::team::InvitationPage ssr=SsrMode::Async/>
            </Routes>
        </Router>
        <Toasts/>
    }
}

#[component]
fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
        resp.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <components::PublicCard title="Page not found">
            <p>"There is nothing at this address."</p>
            <p class="alt"><a href="/">"Go to Roster"</a></p>
        </components::PublicCard>
    }
}
