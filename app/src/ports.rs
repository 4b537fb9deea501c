//! What the app needs from the server, declared here and implemented by the `server` crate.

use crate::error::AppError;
use crate::model::{CurrentUser, EmailAddress, MobileNumber, OrgName, Password, PersonName, Terms};
use std::net::IpAddr;
use std::sync::Arc;

/// Facts about the HTTP request, put in its extensions by the server's middleware.
#[derive(Clone, Debug)]
pub struct RequestMeta {
    pub session_token: Option<String>,
    pub client_ip: IpAddr,
}

/// The signed-in user, resolved from the session on every request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    pub session_id: i64,
    pub user_id: i64,
    pub org_id: i64,
    pub role: String,
    pub terms_accepted: bool,
}

pub struct SignUp {
    pub first_name: PersonName,
    pub last_name: PersonName,
    pub email: EmailAddress,
    pub password: Password,
    pub org_name: OrgName,
}

pub struct ProfileUpdate {
    pub first_name: PersonName,
    pub last_name: PersonName,
    pub mobile: Option<MobileNumber>,
}

/// A session just created: the secret for the cookie.
pub struct NewSession {
    pub token: String,
}

#[async_trait::async_trait]
pub trait Accounts: Send + Sync {
    async fn sign_up(&self, input: SignUp, client: IpAddr) -> Result<(), AppError>;
    async fn resend_verification(
        &self,
        email: EmailAddress,
        client: IpAddr,
    ) -> Result<(), AppError>;
    async fn verify_email(&self, token: &str) -> Result<(), AppError>;
    async fn sign_in(
        &self,
        email: EmailAddress,
        password: String,
        client: IpAddr,
    ) -> Result<NewSession, AppError>;
    async fn sign_out(&self, session_token: &str) -> Result<(), AppError>;
    async fn authenticate(&self, session_token: &str) -> Result<Option<Actor>, AppError>;
    async fn current_user(&self, actor: &Actor) -> Result<CurrentUser, AppError>;
    fn terms(&self) -> Terms;
    async fn accept_terms(&self, actor: &Actor, version: &str) -> Result<(), AppError>;
    async fn request_password_reset(
        &self,
        email: EmailAddress,
        client: IpAddr,
    ) -> Result<(), AppError>;
    async fn reset_password(&self, token: &str, password: Password) -> Result<(), AppError>;
    async fn update_profile(
        &self,
        actor: &Actor,
        update: ProfileUpdate,
    ) -> Result<CurrentUser, AppError>;
    async fn change_password(
        &self,
        actor: &Actor,
        current: String,
        new: Password,
    ) -> Result<(), AppError>;
    /// The `Set-Cookie` value that stores a new session.
    fn session_cookie(&self, token: &str) -> String;
    /// The `Set-Cookie` value that clears the session cookie.
    fn clear_session_cookie(&self) -> String;
}

/// Everything the server provides to server functions, as one context value.
#[derive(Clone)]
pub struct Services {
    pub accounts: Arc<dyn Accounts>,
}
