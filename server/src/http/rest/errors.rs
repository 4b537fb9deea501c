//! The one error shape of the REST API: `{"error": {"code", "message", "field"}}`, with stable
//! codes, the status that goes with each, and never anything of the server's internals.

use app::error::{AppError, PERMISSION_DENIED};
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// A refusal or failure, as every operation answers it.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorDetail,
    /// Seconds to wait, for `429` and `503`.
    pub retry_after: Option<u64>,
}

/// An error answer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"error": {"code": "permission_denied", "message": PERMISSION_DENIED}}))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable: `unauthorized`, `terms_not_accepted`, `permission_denied`, `key_replaced`,
    /// `not_found`, `method_not_allowed`, `validation_failed`, `seat_limit_reached`,
    /// `conflict`, `rate_limited`, `unavailable` or `internal`.
    #[schema(example = "validation_failed")]
    pub code: &'static str,
    /// A sentence to show a person as it is.
    #[schema(example = "Please correct the highlighted fields.")]
    pub message: String,
    /// The input field the error is about, when there is one (the first of `fields`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "email")]
    pub field: Option<String>,
    /// Every field in error with its message, for `validation_failed`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldMessage>,
}

/// A message about one input field.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldMessage {
    #[schema(example = "email")]
    pub field: String,
    #[schema(example = "Enter an email address.")]
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: ErrorDetail {
                code,
                message: message.into(),
                field: None,
                fields: Vec::new(),
            },
            retry_after: None,
        }
    }

    pub fn unauthorized(message: &str) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn not_found() -> ApiError {
        ApiError::from(AppError::NotFound)
    }

    pub fn terms() -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "terms_not_accepted",
            "Please accept the Terms of Use to continue: sign in to Roster once to read them.",
        )
    }

    /// A message about one input field.
    pub fn field(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::from(AppError::field(field, message))
    }

    /// A refusal of a service, after the request's own fields were checked: a field error
    /// then is about the organization as it is now (an address already invited, a name in
    /// use), so it answers `409 conflict`, still naming the field.
    pub fn state(e: AppError) -> ApiError {
        let field = matches!(e, AppError::Validation(_));
        let mut error = ApiError::from(e);
        if field {
            error.status = StatusCode::CONFLICT;
            error.body.code = "conflict";
        }
        error
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> ApiError {
        let message = e.to_string();
        let (status, code) = match &e {
            AppError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            AppError::Forbidden | AppError::EmailNotVerified => {
                (StatusCode::FORBIDDEN, "permission_denied")
            }
            AppError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            AppError::Validation(_) => (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            // A rule of the team refuses this change as things are now (the last Owner, a
            // key refreshed meanwhile).
            AppError::Refused(_) | AppError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            AppError::SeatsFull(_) => (StatusCode::CONFLICT, "seat_limit_reached"),
            AppError::TooManyRequests(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            AppError::Busy => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            AppError::Internal | AppError::Network => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        };
        let mut error = ApiError::new(status, code, message);
        if let AppError::Validation(fields) = e {
            error.body.field = fields.first().map(|f| f.field.clone());
            error.body.fields = fields
                .into_iter()
                .map(|f| FieldMessage {
                    field: f.field,
                    message: f.message,
                })
                .collect();
        }
        if matches!(code, "rate_limited" | "unavailable") {
            error.retry_after = Some(5);
        }
        error
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let retry_after = self.retry_after;
        let mut res = (self.status, Json(ErrorBody { error: self.body })).into_response();
        if let Some(seconds) = retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        res
    }
}
