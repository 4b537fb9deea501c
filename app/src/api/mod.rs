//! Server functions: thin adapters from HTTP to the server's services.

pub mod account;
pub mod auth;
pub mod team;

#[cfg(feature = "ssr")]
pub(crate) mod ctx {
    use crate::error::AppError;
    use crate::ports::{Actor, RequestMeta, Services};
    use leptos::prelude::*;

    pub fn services() -> Result<Services, AppError> {
        use_context::<Services>().ok_or_else(|| {
            tracing::error!("Services missing from the server function context");
            AppError::Internal
        })
    }

    pub fn request_meta() -> Result<RequestMeta, AppError> {
        use_context::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<RequestMeta>().cloned())
            .ok_or_else(|| {
                tracing::error!("RequestMeta missing from the request");
                AppError::Internal
            })
    }

    /// The signed-in user, whether or not they accepted the terms yet.
    pub async fn actor() -> Result<(Services, Actor), AppError> {
        let services = services()?;
        let token = request_meta()?
            .session_token
            .ok_or(AppError::Unauthorized)?;
        let actor = services
            .accounts
            .authenticate(&token)
            .await?
            .ok_or(AppError::Unauthorized)?;
        Ok((services, actor))
    }

    /// The signed-in user who has accepted the current terms.
    pub async fn member() -> Result<(Services, Actor), AppError> {
        let (services, actor) = actor().await?;
        if !actor.terms_accepted {
            return Err(AppError::Refused(
                "Please accept the Terms of Use to continue.".into(),
            ));
        }
        Ok((services, actor))
    }

    pub fn set_cookie(value: String) {
        use http::{HeaderValue, header::SET_COOKIE};
        match HeaderValue::from_str(&value) {
            Ok(v) => expect_context::<leptos_axum::ResponseOptions>().append_header(SET_COOKIE, v),
            Err(_) => tracing::error!("session cookie was not a valid header value"),
        }
    }
}
