//! The one error type every server function returns. Its `Display` text is what a user sees.

use serde::{Deserialize, Serialize};
use server_fn::{
    ServerFnError,
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};

/// The permission message from the product docs (seed 002), used for every refusal.
pub const PERMISSION_DENIED: &str = "Sorry, you don't have permission to use this feature. If access is required, please reach out to your team administrator.";

/// A message about one form field, shown next to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("Please sign in to continue.")]
    Unauthorized,
    #[error("{PERMISSION_DENIED}")]
    Forbidden,
    #[error("That page or item does not exist.")]
    NotFound,
    /// A refusal whose sentence is safe to show as it is.
    #[error("{0}")]
    Refused(String),
    #[error("Please correct the highlighted fields.")]
    Validation(Vec<FieldError>),
    #[error("Please verify your email address first: follow the link we emailed you.")]
    EmailNotVerified,
    #[error("{0}")]
    TooManyRequests(String),
    /// The request cannot be done in the state things are in now (a full seat limit, an
    /// existing membership).
    #[error("{0}")]
    Conflict(String),
    /// Every seat of the organization is taken.
    #[error("{0}")]
    SeatsFull(String),
    /// The server cannot take this work now (its password-hashing queue is full): retry soon.
    #[error("Roster is busy. Please try again in a moment.")]
    Busy,
    #[error("Something went wrong on our side. Please try again in a moment.")]
    Internal,
    #[error("Could not reach Roster. Check your connection and try again.")]
    Network,
}

impl AppError {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    /// The HTTP status this refusal is answered with: 500 only for what went wrong on the
    /// server, so access logs and alerts count user errors apart from failures.
    pub fn status(&self) -> u16 {
        match self {
            Self::Validation(_) | Self::Refused(_) => 400,
            Self::Unauthorized => 401,
            Self::Forbidden | Self::EmailNotVerified => 403,
            Self::NotFound => 404,
            Self::Conflict(_) | Self::SeatsFull(_) => 409,
            Self::TooManyRequests(_) => 429,
            Self::Busy => 503,
            Self::Internal | Self::Network => 500,
        }
    }

    /// The message for one field, if this error names it.
    pub fn for_field(&self, field: &str) -> Option<String> {
        match self {
            Self::Validation(errors) => errors
                .iter()
                .find(|e| e.field == field)
                .map(|e| e.message.clone()),
            _ => None,
        }
    }

    /// Gathers the field errors of several parse results into one; `Ok` when there were none.
    pub fn check<'a>(
        results: impl IntoIterator<Item = Option<&'a AppError>>,
    ) -> Result<(), AppError> {
        let mut fields = Vec::new();
        for error in results.into_iter().flatten() {
            match error {
                Self::Validation(f) => fields.extend(f.iter().cloned()),
                other => return Err(other.clone()),
            }
        }
        if fields.is_empty() {
            Ok(())
        } else {
            Err(Self::Validation(fields))
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Request(_) | ServerFnErrorErr::Response(_) => Self::Network,
            other => {
                #[cfg(feature = "ssr")]
                tracing::warn!(error = %other, "server function plumbing failed");
                #[cfg(not(feature = "ssr"))]
                let _ = other;
                Self::Internal
            }
        }
    }
}

impl From<ServerFnError> for AppError {
    fn from(value: ServerFnError) -> Self {
        #[cfg(feature = "ssr")]
        tracing::warn!(error = %value, "server function error");
        #[cfg(not(feature = "ssr"))]
        let _ = value;
        Self::Internal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_reads_exactly_as_the_product_docs_say() {
        assert_eq!(AppError::Forbidden.to_string(), PERMISSION_DENIED);
    }

    #[test]
    fn internal_errors_show_no_detail() {
        let shown = AppError::from_server_fn_error(ServerFnErrorErr::ServerError(
            "UNIQUE constraint failed: users.email".into(),
        ))
        .to_string();
        assert!(!shown.contains("UNIQUE"), "{shown}");
    }

    #[test]
    fn field_messages_are_found_by_field_name() {
        let e = AppError::Validation(vec![FieldError::new("email", "Enter an email address.")]);
        assert_eq!(
            e.for_field("email").as_deref(),
            Some("Enter an email address.")
        );
        assert_eq!(e.for_field("password"), None);
    }
}
