//! Business rules. Each public method checks what it must and runs one transaction.

pub mod accounts;
pub mod audit;
pub mod catalog;
pub mod keys;
mod limits;
pub mod org;
pub mod settings;
pub mod team;
pub mod usage;

pub use accounts::AccountService;
pub use audit::AuditService;
pub use limits::Limits;
pub use org::OrgService;
pub use settings::SettingsService;
pub use team::TeamService;
pub use usage::UsageService;

use crate::auth::password::HashError;
use app::error::AppError;

/// Logs an unexpected failure with its detail and turns it into the generic user message.
pub(crate) trait OrInternal<T> {
    fn or_internal(self, what: &'static str) -> Result<T, AppError>;
}

impl<T, E: std::fmt::Display> OrInternal<T> for Result<T, E> {
    fn or_internal(self, what: &'static str) -> Result<T, AppError> {
        self.map_err(|e| {
            tracing::error!(error = %e, "{what}");
            AppError::Internal
        })
    }
}

/// A full hashing queue answers `Busy`, for the user to retry in a moment; any other hashing
/// failure is logged and internal.
pub(crate) fn hashing(what: &'static str) -> impl FnOnce(HashError) -> AppError {
    move |e| match e {
        HashError::Busy => AppError::Busy,
        other => {
            tracing::error!(error = %other, "{what}");
            AppError::Internal
        }
    }
}
