//! The team: who joins and how (`invitations`), and what managers do to members
//! (`members`). Every change is a `TeamChange` (`guard`), which holds the organization's
//! lock, re-reads whoever makes the change, and is audited and announced; the rules are
//! `app::model::team`'s, shared with the browser.

mod guard;
mod invitations;
mod keys;
mod members;

pub(crate) use guard::{Manager, TeamChange};

use super::{AccountService, OrInternal};
use crate::clock::Millis;
use crate::db::{Conn, roles};
use crate::events::Events;
use app::authz::{Access, Feature, Level, Region};
use app::error::AppError;
use app::model::team::{
    BulkResult, InvitationView, KeyGrace, KeyView, MemberAction, Role, RoleOption, TeamPage,
    TeamQuery, may_assign,
};
use app::ports::{Actor, Invite, MemberEdit, NewSession, Registration, Team};
use std::net::IpAddr;

#[derive(Clone)]
pub struct TeamService {
    pub accounts: AccountService,
    pub events: Events,
}

/// An audit detail recording a change: `{"before": …, "after": …}`.
pub(crate) fn before_after(before: serde_json::Value, after: serde_json::Value) -> String {
    serde_json::json!({ "before": before, "after": after }).to_string()
}

/// The refusal when every seat is taken.
fn seats_full(limit: i64) -> AppError {
    AppError::SeatsFull(format!(
        "Your organization has used all {limit} seats. Upgrade your plan on the Billing page to invite more people."
    ))
}

impl TeamService {
    fn now(&self) -> Millis {
        self.accounts.clock.now()
    }

    /// Begins a change by a manager who holds `level` of Team Management.
    async fn manage(
        &self,
        actor: &Actor,
        level: Level,
    ) -> Result<(TeamChange<'_>, Manager), AppError> {
        self.change_as_manager(actor, Feature::TeamManagement, level)
            .await
    }

    /// Refused unless `role` is one of the organization's roles that `me` may give.
    /// Returns the role's name.
    async fn assignable(
        &self,
        conn: &mut Conn,
        org_id: i64,
        me: &Manager,
        role: Role,
    ) -> Result<String, AppError> {
        if !roles::exists(conn, org_id, role)
            .await
            .or_internal("find role")?
        {
            return Err(AppError::field(
                "role",
                "That role no longer exists. Choose another one.",
            ));
        }
        let access = roles::access(conn, role).await.or_internal("read role")?;
        if !may_assign(&me.access, &access, &me.regions) {
            return Err(AppError::Forbidden);
        }
        roles::name(conn, org_id, role)
            .await
            .or_internal("read role name")
    }
}

/// Every role of the organization (its `custom` roles after the built-in ones), each marked
/// with whether the actor may give it.
pub(crate) fn role_options(
    actor: &Actor,
    regions: &[Region],
    custom: &[roles::CustomRole],
) -> Vec<RoleOption> {
    let built_in = Role::BUILT_IN.into_iter().map(|role| {
        let access = Access::BuiltIn(role.built_in().expect("a built-in role"));
        (role, role.label().to_owned(), access)
    });
    let custom = custom.iter().map(|r| {
        (
            Role::Custom(r.id),
            r.name.clone(),
            Access::Custom(r.grants.clone()),
        )
    });
    built_in
        .chain(custom)
        .map(|(role, name, access)| RoleOption {
            role,
            name,
            assignable: may_assign(&actor.access, &access, regions),
            outranked: actor.access.covers(&access, regions),
        })
        .collect()
}

/// Each call goes to the method of the same name in `invitations` or `members`.
#[async_trait::async_trait]
impl Team for TeamService {
    async fn list(&self, actor: &Actor, query: TeamQuery) -> Result<TeamPage, AppError> {
        TeamService::list(self, actor, query).await
    }

    async fn invite(&self, actor: &Actor, invite: Invite) -> Result<(), AppError> {
        TeamService::invite(self, actor, invite).await
    }

    async fn bulk_invite(
        &self,
        actor: &Actor,
        text: &str,
        role: Role,
    ) -> Result<Vec<BulkResult>, AppError> {
        TeamService::bulk_invite(self, actor, text, role).await
    }

    async fn resend(&self, actor: &Actor, invitation_id: i64) -> Result<(), AppError> {
        TeamService::resend(self, actor, invitation_id).await
    }

    async fn cancel(&self, actor: &Actor, invitation_id: i64) -> Result<(), AppError> {
        TeamService::cancel(self, actor, invitation_id).await
    }

    async fn invite_link(&self, actor: &Actor, invitation_id: i64) -> Result<String, AppError> {
        TeamService::invite_link(self, actor, invitation_id).await
    }

    async fn act(&self, actor: &Actor, user_id: i64, action: MemberAction) -> Result<(), AppError> {
        TeamService::act(self, actor, user_id, action).await
    }

    async fn edit(&self, actor: &Actor, user_id: i64, edit: MemberEdit) -> Result<(), AppError> {
        TeamService::edit(self, actor, user_id, edit).await
    }

    async fn leave(&self, actor: &Actor) -> Result<(), AppError> {
        TeamService::leave(self, actor).await
    }

    async fn copy_key(&self, actor: &Actor, user_id: i64) -> Result<String, AppError> {
        TeamService::copy_key(self, actor, user_id).await
    }

    async fn refresh_key(
        &self,
        actor: &Actor,
        user_id: i64,
        key_id: i64,
        grace: KeyGrace,
    ) -> Result<String, AppError> {
        TeamService::refresh_key(self, actor, user_id, key_id, grace).await
    }

    async fn own_key(&self, actor: &Actor) -> Result<Option<KeyView>, AppError> {
        TeamService::own_key(self, actor).await
    }

    async fn invitation(
        &self,
        token: &str,
        viewer: Option<&Actor>,
    ) -> Result<InvitationView, AppError> {
        TeamService::invitation(self, token, viewer).await
    }

    async fn register_and_accept(
        &self,
        token: &str,
        registration: Registration,
        client: IpAddr,
    ) -> Result<(), AppError> {
        TeamService::register_and_accept(self, token, registration, client).await
    }

    async fn accept(&self, actor: &Actor, token: &str) -> Result<(), AppError> {
        TeamService::accept(self, actor, token).await
    }

    async fn sign_in_and_accept(
        &self,
        token: &str,
        password: String,
        client: IpAddr,
    ) -> Result<Option<NewSession>, AppError> {
        TeamService::sign_in_and_accept(self, token, password, client).await
    }
}
