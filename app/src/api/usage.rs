//! Usage: the gateway's counts for the Usage page.

use crate::error::AppError;
use crate::model::usage::{Dashboard, OwnUsage, UsageQuery, UsageReport};
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

/// The signed-in member's own calls over the last 30 days.
#[server(prefix = "/api", endpoint = "my_usage")]
pub async fn my_usage() -> Result<OwnUsage, AppError> {
    let (services, actor) = super::ctx::allowed::<MyUsage>()?;
    let tz = super::ctx::cookie(TZ_COOKIE).unwrap_or_default();
    services.usage.own(&actor, tz).await
}

/// The Overview page's figures, each for those who may see it.
#[server(prefix = "/api", endpoint = "overview")]
pub async fn overview() -> Result<Dashboard, AppError> {
    let (services, actor) = super::ctx::allowed::<Overview>()?;
    let tz = super::ctx::cookie(TZ_COOKIE).unwrap_or_default();
    services.usage.dashboard(&actor, tz).await
}
