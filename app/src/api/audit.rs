//! The audit log: its pages and the check of its hash chain.

use crate::error::AppError;
use crate::model::audit::{AuditPage, AuditQuery, Integrity};
use leptos::prelude::*;

/// One page of the organization's audit log for `query`, newest first.
#[server(prefix = "/api", endpoint = "audit_log", input = server_fn::codec::Json)]
pub async fn audit_log(query: AuditQuery) -> Result<AuditPage, AppError> {
    let (services, actor) = super::ctx::allowed::<AuditLog>()?;
    let mut query = query;
    if query.tz.is_empty() {
        query.tz = super::ctx::cookie(super::usage::TZ_COOKIE).unwrap_or_default();
    }
    services.audit.page(&actor, query).await
}

/// "Verify integrity": checks the organization's hash chain from its anchor to its head.
#[server(prefix = "/api", endpoint = "verify_audit_log")]
pub async fn verify_audit_log() -> Result<Integrity, AppError> {
    let (services, actor) = super::ctx::allowed::<VerifyAuditLog>()?;
    services.audit.verify(&actor).await
}
