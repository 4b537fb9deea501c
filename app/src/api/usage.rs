//! Usage: the gateway's counts for the Usage page.

use crate::error::AppError;
use crate::model::usage::{UsageQuery, UsageReport};
use leptos::prelude::*;

/// The name of the cookie that carries the browser's time zone, so the page is rendered in
/// it on the server too.
pub const TZ_COOKIE: &str = "roster_tz";

#[server(prefix = "/api", endpoint = "usage_overview", input = server_fn::codec::Json)]
pub async fn usage_overview(query: UsageQuery) -> Result<UsageReport, AppError> {
    let (services, actor) = super::ctx::allowed::<UsageOverview>()?;
    let mut query = query;
    if query.tz.is_empty() {
        query.tz = super::ctx::cookie(TZ_COOKIE).unwrap_or_default();
    }
    services.usage.report(&actor, query).await
}
