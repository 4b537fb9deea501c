//! Billing: the plan and the seat limit.

use crate::error::AppError;
use crate::model::roles::BillingPage;
use leptos::prelude::*;

#[server(prefix = "/api", endpoint = "billing_overview")]
pub async fn billing_overview() -> Result<BillingPage, AppError> {
    let (services, actor) = super::ctx::allowed::<BillingOverview>()?;
    services.org.billing(&actor).await
}

/// Raises or lowers the seat limit (never below the seats in use).
#[server(prefix = "/api", endpoint = "set_seat_limit")]
pub async fn set_seat_limit(seat_limit: String) -> Result<(), AppError> {
    let (services, actor) = super::ctx::allowed::<SetSeatLimit>()?;
    let limit = seat_limit
        .trim()
        .parse::<i64>()
        .map_err(|_| AppError::field("seat_limit", "Enter a whole number of seats."))?;
    services.org.set_seat_limit(&actor, limit).await
}
