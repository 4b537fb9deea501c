//! The public account pages.

mod forgot;
mod reset;
mod sign_in;
mod sign_up;
mod terms;
mod verify;

pub use forgot::ForgotPasswordPage;
pub use reset::ResetPasswordPage;
pub use sign_in::SignInPage;
pub use sign_up::SignUpPage;
pub use terms::TermsPage;
pub use verify::VerifyEmailPage;

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// The `token` query parameter of an emailed link.
fn link_token() -> Signal<String> {
    let query = use_query_map();
    Signal::derive(move || query.read().get("token").unwrap_or_default())
}
