//! Sign up, verification, sign in and out, password reset.

use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::model::{EmailAddress, OrgName, Password, PersonName};
use leptos::prelude::*;

#[server(prefix = "/api", endpoint = "sign_up")]
pub async fn sign_up(
    first_name: String,
    last_name: String,
    email: String,
    password: String,
    org_name: String,
) -> Result<(), AppError> {
    use super::ctx;
    let first_name = PersonName::parse("first_name", &first_name, "a first name");
    let last_name = PersonName::parse("last_name", &last_name, "a last name");
    let email = EmailAddress::parse("email", &email);
    let password = Password::parse("password", &password);
    let org_name = OrgName::parse("org_name", &org_name);
    AppError::check([
        first_name.as_ref().err(),
        last_name.as_ref().err(),
        email.as_ref().err(),
        password.as_ref().err(),
        org_name.as_ref().err(),
    ])?;
    let input = crate::ports::SignUp {
        first_name: first_name?,
        last_name: last_name?,
        email: email?,
        password: password?,
        org_name: org_name?,
    };
    let meta = ctx::request_meta()?;
    ctx::services()?
        .accounts
        .sign_up(input, meta.client_ip)
        .await
}

#[server(prefix = "/api", endpoint = "resend_verification")]
pub async fn resend_verification(email: String) -> Result<(), AppError> {
    use super::ctx;
    let email = EmailAddress::parse("email", &email)?;
    let meta = ctx::request_meta()?;
    ctx::services()?
        .accounts
        .resend_verification(email, meta.client_ip)
        .await
}

#[server(prefix = "/api", endpoint = "verify_email")]
pub async fn verify_email(token: String) -> Result<(), AppError> {
    let services = super::ctx::services()?;
    let user_id = services.accounts.verify_email(&token).await?;
    services.settings.auto_join_quietly(user_id).await;
    Ok(())
}

#[server(prefix = "/api", endpoint = "sign_in")]
pub async fn sign_in(email: String, password: String) -> Result<(), AppError> {
    use super::ctx;
    let email = EmailAddress::parse("email", &email)?;
    if password.is_empty() {
        return Err(AppError::field("password", "Enter your password."));
    }
    let meta = ctx::request_meta()?;
    let services = ctx::services()?;
    let session = services
        .accounts
        .sign_in(email, password, meta.client_ip)
        .await?;
    ctx::set_cookie(services.accounts.session_cookie(&session.token));
    services.settings.auto_join_quietly(session.user_id).await;
    Ok(())
}

#[server(prefix = "/api", endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), AppError> {
    use super::ctx;
    let services = ctx::services()?;
    if let Some(token) = ctx::request_meta()?.session_token {
        services.accounts.sign_out(&token).await?;
    }
    ctx::set_cookie(services.accounts.clear_session_cookie());
    Ok(())
}

#[server(prefix = "/api", endpoint = "request_password_reset")]
pub async fn request_password_reset(email: String) -> Result<(), AppError> {
    use super::ctx;
    let email = EmailAddress::parse("email", &email)?;
    let meta = ctx::request_meta()?;
    ctx::services()?
        .accounts
        .request_password_reset(email, meta.client_ip)
        .await
}

#[server(prefix = "/api", endpoint = "reset_password")]
pub async fn reset_password(token: String, password: String) -> Result<(), AppError> {
    let password = Password::parse("password", &password)?;
    super::ctx::services()?
        .accounts
        .reset_password(&token, password)
        .await
}
