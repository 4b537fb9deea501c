//! Roles: custom roles, regions and ownership.

use crate::error::AppError;
use crate::model::roles::{RoleDraft, RolesPage};
#[cfg(feature = "ssr")]
use crate::model::team::Role;
use leptos::prelude::*;

/// Built-in and custom roles, regions, and (for the Owner) who may take over.
#[server(prefix = "/api", endpoint = "roles_overview")]
pub async fn roles_overview() -> Result<RolesPage, AppError> {
    let (services, actor) = super::ctx::allowed::<RolesOverview>()?;
    services.org.roles(&actor).await
}

/// Creates or changes a custom role; returns its id.
#[server(prefix = "/api", endpoint = "save_role", input = server_fn::codec::Json)]
pub async fn save_role(draft: RoleDraft) -> Result<i64, AppError> {
    let (services, actor) = super::ctx::allowed::<SaveRole>()?;
    services.org.save_role(&actor, draft).await
}

/// Deletes a custom role; `move_to` (a role key) says where its members go.
#[server(prefix = "/api", endpoint = "delete_role")]
pub async fn delete_role(role_id: i64, move_to: String) -> Result<(), AppError> {
    let (services, actor) = super::ctx::allowed::<DeleteRole>()?;
    let move_to = if move_to.is_empty() {
        None
    } else {
        Some(
            Role::parse(&move_to)
                .ok_or_else(|| AppError::field("move_to", "Choose a role for its members."))?,
        )
    };
    services.org.delete_role(&actor, role_id, move_to).await
}

#[server(prefix = "/api", endpoint = "add_region")]
pub async fn add_region(code: String, name: String) -> Result<(), AppError> {
    let (services, actor) = super::ctx::allowed::<AddRegion>()?;
    services.org.add_region(&actor, &code, &name).await
}

/// Hands the organization to an active Admin, confirmed by typing its name.
#[server(prefix = "/api", endpoint = "transfer_ownership")]
pub async fn transfer_ownership(user_id: i64, confirm: String) -> Result<(), AppError> {
    let (services, actor) = super::ctx::allowed::<TransferOwnership>()?;
    services
        .org
        .transfer_ownership(&actor, user_id, &confirm)
        .await
}
