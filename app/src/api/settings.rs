//! Settings → Organization, verified domains and auto-join.

use crate::error::AppError;
use crate::model::settings::{DomainView, JoinSuggestion, SettingsPage};
use leptos::prelude::*;

#[server(prefix = "/api", endpoint = "settings_overview")]
pub async fn settings_overview() -> Result<SettingsPage, AppError> {
    let (services, actor) = super::ctx::allowed::<SettingsOverview>()?;
    services.settings.overview(&actor).await
}

#[server(prefix = "/api", endpoint = "rename_organization")]
pub async fn rename_organization(name: String) -> Result<(), AppError> {
    let (services, actor) = super::ctx::allowed::<RenameOrganization>()?;
    let name = crate::model::OrgName::parse("name", &name)?;
    services.settings.rename(&actor, name).await
}

#[server(prefix = "/api", endpoint = "save_auto_join")]
pub async fn save_auto_join(mode: String, role: String) -> Result<(), AppError> {
    let (services, actor) = super::ctx::allowed::<SaveAutoJoin>()?;
    services.settings.set_auto_join(&actor, mode, role).await
}

#[server(prefix = "/api", endpoint = "add_domain")]
pub async fn add_domain(domain: String) -> Result<DomainView, AppError> {
    let (services, actor) = super::ctx::allowed::<AddDomain>()?;
    services.settings.add_domain(&actor, domain).await
}

#[server(prefix = "/api", endpoint = "verify_domain")]
pub async fn verify_domain(id: i64) -> Result<DomainView, AppError> {
    let (services, actor) = super::ctx::allowed::<VerifyDomain>()?;
    services.settings.verify_domain(&actor, id).await
}

#[server(prefix = "/api", endpoint = "remove_domain")]
pub async fn remove_domain(id: i64) -> Result<(), AppError> {
    let (services, actor) = super::ctx::allowed::<RemoveDomain>()?;
    services.settings.remove_domain(&actor, id).await
}

/// Organizations the signed-in person may join by their address's verified domain.
#[server(prefix = "/api", endpoint = "join_suggestions")]
pub async fn join_suggestions() -> Result<Vec<JoinSuggestion>, AppError> {
    let (services, actor) = super::ctx::allowed::<JoinSuggestions>()?;
    services.settings.suggestions(&actor).await
}

/// "Join <org>".
#[server(prefix = "/api", endpoint = "join_organization")]
pub async fn join_organization(org_id: i64) -> Result<(), AppError> {
    let (services, actor) = super::ctx::allowed::<JoinOrganization>()?;
    services.settings.join_suggested(&actor, org_id).await
}
