//! The signed-in user's own account: who they are, the terms, their profile.

use crate::error::AppError;
use crate::model::{CurrentUser, Terms};
#[cfg(feature = "ssr")]
use crate::model::{MobileNumber, Password, PersonName};
use leptos::prelude::*;

/// The signed-in user, or `None` for a visitor who is not signed in.
#[server(prefix = "/api", endpoint = "signed_in_user")]
pub async fn signed_in_user() -> Result<Option<CurrentUser>, AppError> {
    match super::ctx::viewer()? {
        Some(actor) => super::ctx::services()?
            .accounts
            .current_user(&actor)
            .await
            .map(Some),
        None => Ok(None),
    }
}

#[server(prefix = "/api", endpoint = "current_terms")]
pub async fn current_terms() -> Result<Terms, AppError> {
    let (services, _) = super::ctx::allowed::<CurrentTerms>()?;
    Ok(services.accounts.terms())
}

#[server(prefix = "/api", endpoint = "accept_terms")]
pub async fn accept_terms(version: String) -> Result<(), AppError> {
    let (services, actor) = super::ctx::allowed::<AcceptTerms>()?;
    services.accounts.accept_terms(&actor, &version).await?;
    // A press before the page hydrated posts the form natively: send that browser on to
    // Overview rather than back to the terms it just accepted.
    leptos_axum::redirect("/");
    Ok(())
}

#[server(prefix = "/api", endpoint = "update_profile")]
pub async fn update_profile(
    first_name: String,
    last_name: String,
    mobile: String,
) -> Result<CurrentUser, AppError> {
    let (services, actor) = super::ctx::allowed::<UpdateProfile>()?;
    let first = PersonName::parse("first_name", &first_name, "a first name");
    let last = PersonName::parse("last_name", &last_name, "a last name");
    let mobile = MobileNumber::parse_optional("mobile", &mobile);
    AppError::check([
        first.as_ref().err(),
        last.as_ref().err(),
        mobile.as_ref().err(),
    ])?;
    let update = crate::ports::ProfileUpdate {
        first_name: first?,
        last_name: last?,
        mobile: mobile?,
    };
    services.accounts.update_profile(&actor, update).await
}

#[server(prefix = "/api", endpoint = "change_password")]
pub async fn change_password(
    current_password: String,
    new_password: String,
) -> Result<(), AppError> {
    let (services, actor) = super::ctx::allowed::<ChangePassword>()?;
    if current_password.is_empty() {
        return Err(AppError::field(
            "current_password",
            "Enter your current password.",
        ));
    }
    let new = Password::parse("new_password", &new_password)?;
    services
        .accounts
        .change_password(&actor, current_password, new)
        .await
}

/// Moves this session to another of the user's organizations.
#[server(prefix = "/api", endpoint = "switch_organization")]
pub async fn switch_organization(org_id: i64) -> Result<(), AppError> {
    let (services, actor) = super::ctx::allowed::<SwitchOrganization>()?;
    services.accounts.switch_organization(&actor, org_id).await
}

/// Chooses the organization sign-in lands in.
#[server(prefix = "/api", endpoint = "set_default_organization")]
pub async fn set_default_organization(org_id: i64) -> Result<(), AppError> {
    let (services, actor) = super::ctx::allowed::<SetDefaultOrganization>()?;
    services
        .accounts
        .set_default_organization(&actor, org_id)
        .await
}
