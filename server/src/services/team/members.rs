//! Members, as the product docs state them: the Team page lists members and pending
//! invitations; a manager Promotes (Member to Admin) and Demotes, Revokes (Active to
//! Disabled) and Activates, Edits and Removes the members they outrank; anyone but the Owner
//! may Leave. A role changes one way, `change_role`, whether by Promote, Demote or Edit, and
//! the member is emailed about it.

use super::{Manager, TeamChange, TeamService, before_after, role_options, seats_full};
use crate::clock::SECOND;
use crate::db::{Conn, api_keys, roles, sessions, team};
use crate::services::OrInternal;
use app::authz::{Feature, Level, can};
use app::error::AppError;
use app::model::team::{
    MemberAction, Role, RowKind, Status, Target, TeamPage, TeamQuery, action_level, may_act,
    may_handle_key,
};
use app::ports::{Actor, MemberEdit};
use serde::Serialize;

#[derive(Serialize)]
struct RoleMail<'a> {
    first_name: &'a str,
    changed_by: &'a str,
    org_name: &'a str,
    role: &'a str,
    link: String,
}

/// A member as a change finds them, under the lock.
pub(super) struct Member {
    pub(super) user_id: i64,
    pub(super) email: String,
    /// How the rules see them from the actor.
    pub(super) target: Target,
}

/// A stored status as the rules see it (removed members never reach them).
fn status_of(stored: &str) -> Status {
    if stored == "disabled" {
        Status::Disabled
    } else {
        Status::Active
    }
}

impl TeamService {
    /// The Team page: members and pending invitations, searched, filtered and paged, in one
    /// statement; the organization's roles and regions come from memory (`Catalog`).
    pub(super) async fn list(&self, actor: &Actor, query: TeamQuery) -> Result<TeamPage, AppError> {
        let now = self.now();
        let mut conn = self
            .accounts
            .store
            .pool
            .acquire()
            .await
            .or_internal("acquire")?;
        let (mut rows, counts) = team::list(
            &mut conn,
            self.accounts.store.backend,
            actor.org_id,
            actor.user_id,
            &query,
            now,
        )
        .await
        .or_internal("list team")?;
        let catalog = self
            .accounts
            .catalog
            .get(&mut conn, actor.org_id)
            .await
            .or_internal("list roles")?;
        drop(conn);
        let regions = &catalog.regions;
        // Mobile numbers are for the people who manage the team (and each member's own).
        if !can(&actor.access, Feature::TeamManagement, Level::Edit, None) {
            for row in rows.iter_mut().filter(|r| !r.is_self) {
                row.mobile = None;
            }
        }
        let roles = role_options(actor, regions, &catalog.roles);
        // Keys are shown on the rows of members whose key the viewer may handle, and on
        // no others: the statement read every member's.
        for row in &mut rows {
            let outranked = roles
                .iter()
                .find(|r| r.role == row.role)
                .is_some_and(|r| r.outranked);
            let handled = row.kind == RowKind::Member
                && may_handle_key(
                    &actor.access,
                    regions,
                    Target {
                        is_self: row.is_self,
                        role: row.role,
                        status: row.status,
                        outranked,
                    },
                );
            if !handled {
                row.key = None;
            }
        }
        Ok(TeamPage {
            rows,
            total: counts.total,
            page: query.page.max(1),
            seats: counts.seats,
            viewer: actor.access.clone(),
            roles,
            resend_cooldown_ms: self.accounts.config.invite_quota.resend_cooldown_secs * SECOND,
            version: counts.version,
        })
    }

    /// Promote and Demote (by `change_role`), Revoke, Activate and Remove, each audited as
    /// `member.<action>` with before and after.
    pub(super) async fn act(
        &self,
        actor: &Actor,
        user_id: i64,
        action: MemberAction,
    ) -> Result<(), AppError> {
        let (mut change, me) = self.manage(actor, action_level(action)).await?;
        let member = self.member(&mut change, actor, &me, user_id).await?;
        let before = member.target;
        let (role, status) = match action {
            MemberAction::Promote => (Role::Admin, before.status.as_str()),
            MemberAction::Demote => (Role::Member, before.status.as_str()),
            MemberAction::Revoke => (before.role, "disabled"),
            MemberAction::Activate => (before.role, "active"),
            MemberAction::Remove => (before.role, "removed"),
            MemberAction::Edit => return Err(AppError::Forbidden),
        };
        if matches!(action, MemberAction::Promote | MemberAction::Demote) {
            self.change_role(&mut change, actor, &me, &member, action, role)
                .await?;
        } else {
            self.change_status(&mut change, actor, &me, &member, action, status)
                .await?;
        }
        let detail = before_after(
            serde_json::json!({ "role": before.role.key(), "status": before.status.as_str() }),
            serde_json::json!({ "role": role.key(), "status": status }),
        );
        let what = format!("member.{}", action.as_str());
        change.audit(&what, &member.email, Some(&detail)).await?;
        change.commit().await
    }

    /// Changes a member's role: the one path for Promote, Demote and a new role chosen in
    /// Edit (`asked`). Refused unless `asked` may be applied to the member as they are now,
    /// the actor holds Full Team Management, and `role` is one they may give. The member is
    /// emailed about it.
    async fn change_role(
        &self,
        change: &mut TeamChange<'_>,
        actor: &Actor,
        me: &Manager,
        member: &Member,
        asked: MemberAction,
        role: Role,
    ) -> Result<(), AppError> {
        if !may_act(&me.access, member.target, asked)
            || !can(&me.access, Feature::TeamManagement, Level::Full, None)
        {
            return Err(AppError::Forbidden);
        }
        let role_name = self.assignable(change, actor.org_id, me, role).await?;
        team::set_role(change, actor.org_id, member.user_id, role)
            .await
            .or_internal("change role")?;
        self.email_role_change(change, actor, member.user_id, &role_name)
            .await
    }

    /// Tells a member their role changed (a security-relevant change), in the caller's transaction.
    pub(crate) async fn email_role_change(
        &self,
        change: &mut TeamChange<'_>,
        actor: &Actor,
        user_id: i64,
        role_name: &str,
    ) -> Result<(), AppError> {
        let (first_name, email, org_name, changed_by): (String, String, String, String) =
            sqlx::query_as(
                "select t.first_name, t.email, o.name, a.first_name || ' ' || a.last_name \
             from users t, users a, organizations o where t.id = $1 and a.id = $2 and o.id = $3",
            )
            .bind(user_id)
            .bind(actor.user_id)
            .bind(actor.org_id)
            .fetch_one(&mut **change)
            .await
            .or_internal("read role change details")?;
        let subject = format!("Your role in {org_name} is now {role_name}");
        let values = RoleMail {
            first_name: &first_name,
            changed_by: &changed_by,
            org_name: &org_name,
            role: role_name,
            link: self.accounts.config.link("/"),
        };
        change
            .queue_email(&email, "role_changed", &subject, values)
            .await
    }

    /// Revoke, Activate or Remove: refused unless `action` may be applied to the member as
    /// they are now; their status becomes `status`. They are signed out of the organization
    /// now, so a later Activate revives no old cookie (nor one a sign-in racing the Revoke
    /// created).
    async fn change_status(
        &self,
        change: &mut TeamChange<'_>,
        actor: &Actor,
        me: &Manager,
        member: &Member,
        action: MemberAction,
        status: &str,
    ) -> Result<(), AppError> {
        if !may_act(&me.access, member.target, action) {
            return Err(AppError::Forbidden);
        }
        if action == MemberAction::Activate {
            // A disabled member still holds a seat, so this never raises usage; the check
            // guards a limit that was lowered meanwhile.
            let used = team::seats_used(change, actor.org_id, self.now())
                .await
                .or_internal("count seats")?;
            if used > change.seat_limit() {
                return Err(seats_full(change.seat_limit()));
            }
        }
        team::set_status(change, actor.org_id, member.user_id, status)
            .await
            .or_internal("change member")?;
        match action {
            MemberAction::Activate => {
                self.accounts
                    .issue_api_key(change, actor.org_id, member.user_id)
                    .await?;
            }
            // Revoke keeps the key for a later Activate (refused meanwhile); Remove ends it.
            MemberAction::Remove => {
                api_keys::end_all(change, actor.org_id, member.user_id, self.now())
                    .await
                    .or_internal("end api key")?
            }
            _ => {}
        }
        sessions::delete_in_org(change, member.user_id, actor.org_id)
            .await
            .or_internal("end sessions")?;
        Ok(())
    }

    /// Edit: how the organization shows the member (name, mobile) and, when it is new, their
    /// role (by `change_role`).
    pub(super) async fn edit(
        &self,
        actor: &Actor,
        user_id: i64,
        edit: MemberEdit,
    ) -> Result<(), AppError> {
        let (mut change, me) = self.manage(actor, Level::Edit).await?;
        let member = self.member(&mut change, actor, &me, user_id).await?;
        let role = edit.role.unwrap_or(member.target.role);
        // A new role takes the one role-change path, which checks Edit as well.
        if role != member.target.role {
            self.change_role(&mut change, actor, &me, &member, MemberAction::Edit, role)
                .await?;
        } else if !may_act(&me.access, member.target, MemberAction::Edit) {
            return Err(AppError::Forbidden);
        }
        // The organization's own view of the person; their Profile and other organizations
        // stay as they are.
        team::set_details(
            &mut change,
            actor.org_id,
            user_id,
            edit.first_name.as_str(),
            edit.last_name.as_str(),
            edit.mobile.as_ref().map_or("", |m| m.as_str()),
        )
        .await
        .or_internal("edit member")?;
        let detail = before_after(
            serde_json::json!({ "role": member.target.role.key() }),
            serde_json::json!({ "role": role.key() }),
        );
        change
            .audit("member.edited", &member.email, Some(&detail))
            .await?;
        change.commit().await
    }

    /// Leave: anyone but the Owner leaves, and is signed out of the organization.
    pub(super) async fn leave(&self, actor: &Actor) -> Result<(), AppError> {
        let (mut change, me) = self.change_as_member(actor).await?;
        if me.role == Role::Owner {
            return Err(AppError::Refused(
                "The Owner cannot leave the organization they own.".into(),
            ));
        }
        team::set_status(&mut change, actor.org_id, actor.user_id, "removed")
            .await
            .or_internal("leave")?;
        api_keys::end_all(&mut change, actor.org_id, actor.user_id, self.now())
            .await
            .or_internal("end api key")?;
        sessions::delete_in_org(&mut change, actor.user_id, actor.org_id)
            .await
            .or_internal("end sessions")?;
        change.audit("member.left", &me.email, None).await?;
        change.commit().await
    }

    /// A member of the organization who has not been removed, as the rules see them from
    /// `me` (`actor` acting); not found otherwise.
    pub(super) async fn member(
        &self,
        conn: &mut Conn,
        actor: &Actor,
        me: &Manager,
        user_id: i64,
    ) -> Result<Member, AppError> {
        let found = team::membership(conn, actor.org_id, user_id)
            .await
            .or_internal("find member")?
            .filter(|m| m.status != "removed")
            .ok_or(AppError::NotFound)?;
        let access = roles::access(conn, found.role)
            .await
            .or_internal("read member's role")?;
        let target = Target {
            is_self: user_id == actor.user_id,
            role: found.role,
            status: status_of(&found.status),
            outranked: me.access.covers(&access, &me.regions),
        };
        Ok(Member {
            user_id,
            email: found.email,
            target,
        })
    }
}
