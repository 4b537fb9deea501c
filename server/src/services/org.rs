//! The organization: custom roles, regions, ownership and the seat limit. Each change is a
//! `TeamChange`, like team changes (the actor's role re-read under the organization's lock),
//! checks `app::authz`, and is audited with before and after.

use super::OrInternal;
use super::team::{Manager, TeamService, before_after, role_options};
use crate::db::{self, Conn, roles, team};
use app::authz::{
    Access, CustomGrants, Feature, Level, Region, can, region_code_error, valid_region_code,
};
use app::error::AppError;
use app::model::roles::{BillingPage, CustomRoleView, MAX_SEATS, RoleDraft, RolesPage, Successor};
use app::model::team::{Role, may_assign};
use app::model::{OrgName, RoleName, description, region_name};
use app::ports::{Actor, Organization};
use serde::Serialize;

#[derive(Clone)]
pub struct OrgService {
    pub team: TeamService,
}

#[derive(Serialize)]
struct OwnershipMail<'a> {
    first_name: &'a str,
    org_name: &'a str,
    old_owner: &'a str,
    new_owner: &'a str,
    role: &'a str,
    link: String,
}

/// A role's grants as an audit record: feature → level per region ("org" for the
/// organization-wide ones), leaving out what grants nothing.
fn grants_json(grants: &CustomGrants) -> serde_json::Value {
    let grid = |g: &app::authz::Grid, regional: bool| {
        Feature::ALL
            .into_iter()
            .filter(|f| f.regional() == regional && g.get(*f).level != Level::NoAccess)
            .map(|f| (f.key().to_owned(), serde_json::json!(g.get(f).describe())))
            .collect::<serde_json::Map<_, _>>()
    };
    let mut out = serde_json::Map::new();
    out.insert("org".into(), grid(&grants.org_wide, false).into());
    for (code, g) in &grants.regions {
        out.insert(code.clone(), grid(g, true).into());
    }
    out.into()
}

fn role_json(name: &str, description: &str, grants: &CustomGrants) -> serde_json::Value {
    serde_json::json!({ "name": name, "description": description, "grants": grants_json(grants) })
}

impl OrgService {
    fn now(&self) -> crate::clock::Millis {
        self.team.accounts.clock.now()
    }

    fn store(&self) -> &db::Store {
        &self.team.accounts.store
    }

    /// A custom role of the organization that `me` may change: not their own, and nothing
    /// in it beyond what they hold.
    async fn editable_role(
        &self,
        conn: &mut Conn,
        actor: &Actor,
        me: &Manager,
        id: i64,
    ) -> Result<roles::CustomRole, AppError> {
        let role = roles::get(conn, actor.org_id, id)
            .await
            .or_internal("find role")?
            .ok_or(AppError::NotFound)?;
        if !may_edit(actor, me, &role) {
            return Err(AppError::Forbidden);
        }
        Ok(role)
    }
}

/// Whether `me` may change or delete `role`: nobody edits the role they hold (that would
/// grant themselves more), and nobody touches a role granting more than they hold.
fn may_edit(actor: &Actor, me: &Manager, role: &roles::CustomRole) -> bool {
    actor.role != Role::Custom(role.id)
        && can(&me.access, Feature::TeamManagement, Level::Full, None)
        && me
            .access
            .covers(&Access::Custom(role.grants.clone()), &me.regions)
}

#[async_trait::async_trait]
impl Organization for OrgService {
    async fn roles(&self, actor: &Actor) -> Result<RolesPage, AppError> {
        let mut conn = self.store().pool.acquire().await.or_internal("acquire")?;
        let regions = roles::regions(&mut conn, actor.org_id)
            .await
            .or_internal("list regions")?;
        let me = Manager {
            access: actor.access.clone(),
            regions: regions.clone(),
        };
        let listed = roles::list(&mut conn, actor.org_id)
            .await
            .or_internal("list roles")?;
        let options = role_options(actor, &regions, &listed);
        let custom = listed
            .into_iter()
            .map(|r| CustomRoleView {
                editable: may_edit(actor, &me, &r),
                id: r.id,
                name: r.name,
                description: r.description,
                grants: r.grants,
                members: r.members,
            })
            .collect();
        let successors = if actor.access.is_owner() {
            roles::active_admins(&mut conn, actor.org_id)
                .await
                .or_internal("list admins")?
                .into_iter()
                .map(|(user_id, name, email)| Successor {
                    user_id,
                    name,
                    email,
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(RolesPage {
            org_name: roles::org_name(&mut conn, actor.org_id)
                .await
                .or_internal("read organization")?,
            roles: options,
            regions,
            custom,
            viewer: actor.access.clone(),
            successors,
        })
    }

    async fn save_role(&self, actor: &Actor, draft: RoleDraft) -> Result<i64, AppError> {
        let name = RoleName::parse("name", &draft.name);
        let desc = description("description", &draft.description);
        AppError::check([name.as_ref().err(), desc.as_ref().err()])?;
        let (name, desc) = (name?, desc?);
        let (mut change, me) = self
            .team
            .change_as_manager(actor, Feature::TeamManagement, Level::Full)
            .await?;
        let grants = draft.grants.normalized(&me.regions);
        // Nobody grants more than they hold.
        if !me
            .access
            .covers(&Access::Custom(grants.clone()), &me.regions)
        {
            return Err(AppError::Forbidden);
        }
        let input = roles::RoleInput {
            name: name.as_str(),
            description: &desc,
            grants: &grants,
        };
        let now = self.now();
        let after = role_json(name.as_str(), &desc, &grants);
        let (id, action, before) = match draft.id {
            Some(id) => {
                let old = self.editable_role(&mut change, actor, &me, id).await?;
                let before = role_json(&old.name, &old.description, &old.grants);
                roles::update(&mut change, id, input, now)
                    .await
                    .map(|_| id)
                    .map(|id| (id, "role.updated", before))
            }
            None => roles::insert(&mut change, actor.org_id, input, now)
                .await
                .map(|id| (id, "role.created", serde_json::Value::Null)),
        }
        .map_err(|e| {
            if db::is_unique_violation(&e) {
                AppError::field(
                    "name",
                    format!("A role named {} already exists.", name.as_str()),
                )
            } else {
                tracing::error!(error = %e, "save role");
                AppError::Internal
            }
        })?;
        let detail = before_after(before, after);
        change.audit(action, name.as_str(), Some(&detail)).await?;
        change.commit().await?;
        Ok(id)
    }

    async fn delete_role(
        &self,
        actor: &Actor,
        role_id: i64,
        move_to: Option<Role>,
    ) -> Result<(), AppError> {
        let (mut change, me) = self
            .team
            .change_as_manager(actor, Feature::TeamManagement, Level::Full)
            .await?;
        let old = self.editable_role(&mut change, actor, &me, role_id).await?;
        let target = match move_to {
            _ if old.members == 0 => Role::Member,
            None => {
                return Err(AppError::field(
                    "move_to",
                    format!(
                        "{} people hold this role. Choose the role they move to.",
                        old.members
                    ),
                ));
            }
            Some(role) if role == Role::Custom(role_id) => {
                return Err(AppError::field(
                    "move_to",
                    "Choose a role other than the one being deleted.",
                ));
            }
            Some(role) => role,
        };
        if old.members > 0 {
            if !roles::exists(&mut change, actor.org_id, target)
                .await
                .or_internal("find role")?
            {
                return Err(AppError::field(
                    "move_to",
                    "That role no longer exists. Choose another one.",
                ));
            }
            let access = roles::access(&mut change, target)
                .await
                .or_internal("read role")?;
            if !may_assign(&me.access, &access, &me.regions) {
                return Err(AppError::Forbidden);
            }
        }
        let moved = roles::holders(&mut change, actor.org_id, role_id)
            .await
            .or_internal("list role holders")?;
        roles::delete_moving_to(&mut change, actor.org_id, role_id, target)
            .await
            .or_internal("delete role")?;
        // Their role changed: each is told, as for any other role change.
        let target_name = roles::name(&mut change, actor.org_id, target)
            .await
            .or_internal("read role name")?;
        for user_id in &moved {
            self.team
                .email_role_change(&mut change, actor, *user_id, &target_name)
                .await?;
        }
        let detail = before_after(
            role_json(&old.name, &old.description, &old.grants),
            serde_json::json!({ "members": old.members, "moved_to": target.key() }),
        );
        change
            .audit("role.deleted", &old.name, Some(&detail))
            .await?;
        // Auto-join gave this role: it stops, for an admin to choose again, rather than give
        // newcomers a role nobody chose for them.
        let join = crate::db::domains::auto_join(&mut change, actor.org_id)
            .await
            .or_internal("read auto-join")?;
        if join.role == Role::Custom(role_id).key() {
            crate::db::domains::set_auto_join(&mut change, actor.org_id, "off", "member")
                .await
                .or_internal("stop auto-join")?;
            let detail = before_after(
                serde_json::json!({ "mode": join.mode, "role": join.role }),
                serde_json::json!({ "mode": "off", "role": "member", "reason": "role deleted" }),
            );
            change
                .audit("organization.auto_join_changed", "off", Some(&detail))
                .await?;
        }
        change.commit().await
    }

    async fn add_region(&self, actor: &Actor, code: &str, name: &str) -> Result<(), AppError> {
        let code = code.trim().to_uppercase();
        let code_check = if valid_region_code(&code) {
            Ok(())
        } else {
            Err(AppError::field("code", region_code_error()))
        };
        let name = region_name("region_name", name);
        AppError::check([code_check.as_ref().err(), name.as_ref().err()])?;
        let region = Region { code, name: name? };
        let (mut change, _) = self
            .team
            .change_as_manager(actor, Feature::AccountSettings, Level::Full)
            .await?;
        if !roles::add_region(&mut change, actor.org_id, &region, self.now())
            .await
            .or_internal("add region")?
        {
            return Err(AppError::field(
                "code",
                format!("The organization already has a region {}.", region.code),
            ));
        }
        let detail = before_after(
            serde_json::Value::Null,
            serde_json::json!({ "code": region.code, "name": region.name }),
        );
        change
            .audit("region.added", &region.code, Some(&detail))
            .await?;
        change.commit().await
    }

    async fn transfer_ownership(
        &self,
        actor: &Actor,
        to_user_id: i64,
        confirm: &str,
    ) -> Result<(), AppError> {
        // Under the lock: the actor is still the Owner (a second transfer racing this one
        // finds they no longer are).
        let (mut change, me) = self.team.change_as_member(actor).await?;
        if me.role != Role::Owner {
            return Err(AppError::Forbidden);
        }
        let org_name = roles::org_name(&mut change, actor.org_id)
            .await
            .or_internal("read organization")?;
        let typed = OrgName::parse("confirm", confirm).map(|n| n.as_str().to_owned());
        if typed.as_deref() != Ok(org_name.as_str()) {
            return Err(AppError::field(
                "confirm",
                format!("Type the organization name, {org_name}, exactly to confirm."),
            ));
        }
        let target = team::membership(&mut change, actor.org_id, to_user_id)
            .await
            .or_internal("find member")?
            .filter(|m| m.status != "removed")
            .ok_or(AppError::NotFound)?;
        if to_user_id == actor.user_id || target.role != Role::Admin || target.status != "active" {
            return Err(AppError::field(
                "user_id",
                "Ownership can go only to an active Admin.",
            ));
        }
        // Demote first: there is never a moment with two Owners (a unique index forbids it).
        team::set_role(&mut change, actor.org_id, actor.user_id, Role::Admin)
            .await
            .or_internal("demote owner")?;
        team::set_role(&mut change, actor.org_id, to_user_id, Role::Owner)
            .await
            .or_internal("promote owner")?;
        let names: Vec<(i64, String, String)> = sqlx::query_as(
            "select id, first_name, first_name || ' ' || last_name from users where id in ($1, $2)",
        )
        .bind(actor.user_id)
        .bind(to_user_id)
        .fetch_all(&mut *change)
        .await
        .or_internal("read names")?;
        let full = |id| {
            names
                .iter()
                .find(|n| n.0 == id)
                .map(|n| (n.1.clone(), n.2.clone()))
                .unwrap_or_default()
        };
        let (old_first, old_owner) = full(actor.user_id);
        let (new_first, new_owner) = full(to_user_id);
        for (first_name, email, role) in [
            (&old_first, &me.email, "Admin"),
            (&new_first, &target.email, "Owner"),
        ] {
            let values = OwnershipMail {
                first_name,
                org_name: &org_name,
                old_owner: &old_owner,
                new_owner: &new_owner,
                role,
                link: self.team.accounts.config.link("/"),
            };
            let subject = format!("{new_owner} now owns {org_name}");
            change
                .queue_email(email, "ownership_transferred", &subject, values)
                .await?;
        }
        let detail = before_after(
            serde_json::json!({ "owner": me.email }),
            serde_json::json!({ "owner": target.email }),
        );
        change
            .audit("ownership.transferred", &target.email, Some(&detail))
            .await?;
        change.commit().await
    }

    async fn billing(&self, actor: &Actor) -> Result<BillingPage, AppError> {
        let mut conn = self.store().pool.acquire().await.or_internal("acquire")?;
        let seats = team::seats(&mut conn, actor.org_id, self.now())
            .await
            .or_internal("count seats")?;
        Ok(BillingPage {
            org_name: roles::org_name(&mut conn, actor.org_id)
                .await
                .or_internal("read organization")?,
            plan: "Team (self-hosted)".into(),
            seats,
            can_change: can(&actor.access, Feature::Billing, Level::Full, None),
        })
    }

    async fn set_seat_limit(&self, actor: &Actor, limit: i64) -> Result<(), AppError> {
        if !(1..=MAX_SEATS).contains(&limit) {
            return Err(AppError::field(
                "seat_limit",
                format!("Enter a number of seats from 1 to {MAX_SEATS}."),
            ));
        }
        let (mut change, _) = self
            .team
            .change_as_manager(actor, Feature::Billing, Level::Full)
            .await?;
        let old = change.seat_limit();
        let used = team::seats_used(&mut change, actor.org_id, self.now())
            .await
            .or_internal("count seats")?;
        if limit < used {
            return Err(AppError::field(
                "seat_limit",
                format!(
                    "{used} seats are in use, so the limit cannot be lower. Remove members or cancel invitations first."
                ),
            ));
        }
        if limit == old {
            return Ok(());
        }
        roles::set_seat_limit(&mut change, actor.org_id, limit)
            .await
            .or_internal("set seat limit")?;
        let detail = before_after(
            serde_json::json!({ "seat_limit": old }),
            serde_json::json!({ "seat_limit": limit }),
        );
        change
            .audit("billing.seat_limit_changed", "seat_limit", Some(&detail))
            .await?;
        change.commit().await
    }
}
