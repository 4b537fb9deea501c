//! The one way a team (or its organization) changes: a `TeamChange`. Beginning one starts a
//! write transaction, locks the organization row, and re-reads under that lock whoever makes
//! the change, refusing them unless they still may; audit records and emails go through it,
//! in the same transaction; `commit` commits and then announces the change to open pages.
//! Dropped before `commit`, it rolls back and announces nothing.

use super::TeamService;
use crate::db::{self, Conn, audit, roles, team};
use crate::services::OrInternal;
use app::authz::{Access, Feature, Level, Region, can};
use app::error::AppError;
use app::ports::Actor;
use serde::Serialize;
use std::ops::{Deref, DerefMut};

/// The acting member as they are now, read under the organization's lock.
pub(crate) struct Manager {
    pub access: Access,
    pub regions: Vec<Region>,
}

/// A change in progress; it derefs to its transaction's connection for the change's queries.
pub(crate) struct TeamChange<'a> {
    team: &'a TeamService,
    tx: db::Tx,
    org_id: i64,
    seat_limit: i64,
    /// Who makes the change, as the audit log names them.
    by: Option<i64>,
    /// The channel the change came by (`Actor::channel`).
    via: Option<&'static str>,
    mailed: bool,
}

impl TeamService {
    /// Begins a change to `actor`'s organization by a manager: refused unless they are still
    /// an active member ("sign in") whose role, read under the lock, grants `level` of
    /// `feature`.
    pub(crate) async fn change_as_manager(
        &self,
        actor: &Actor,
        feature: Feature,
        level: Level,
    ) -> Result<(TeamChange<'_>, Manager), AppError> {
        let mut change = self.begin(actor.org_id, Some(actor.user_id)).await?;
        change.via = actor.channel();
        let me = own_membership(&mut change, actor).await?;
        let access = roles::access(&mut change, me.role)
            .await
            .or_internal("read role")?;
        if !can(&access, feature, level, None) {
            return Err(AppError::Forbidden);
        }
        let regions = roles::regions(&mut change, actor.org_id)
            .await
            .or_internal("list regions")?;
        Ok((change, Manager { access, regions }))
    }

    /// Begins a change `actor` makes to their own membership, which is returned as it is
    /// under the lock; refused as "sign in" unless it is active.
    pub(crate) async fn change_as_member(
        &self,
        actor: &Actor,
    ) -> Result<(TeamChange<'_>, team::Membership), AppError> {
        let mut change = self.begin(actor.org_id, Some(actor.user_id)).await?;
        change.via = actor.channel();
        let me = own_membership(&mut change, actor).await?;
        Ok((change, me))
    }

    /// Begins a change made by following an invitation to `org_id`: the link is what allows
    /// it, so the caller checks the link again under the lock, and names who joins with
    /// `made_by`.
    pub(crate) async fn change_by_invitation(
        &self,
        org_id: i64,
    ) -> Result<TeamChange<'_>, AppError> {
        self.begin(org_id, None).await
    }

    /// Begins the change auto-join makes: `user_id` joins by their verified address, so the
    /// caller checks the domain and the membership again under the lock.
    pub(crate) async fn change_by_auto_join(
        &self,
        org_id: i64,
        user_id: i64,
    ) -> Result<TeamChange<'_>, AppError> {
        let mut change = self.begin(org_id, Some(user_id)).await?;
        change.via = Some("auto_join");
        Ok(change)
    }

    /// Begins a change Roster makes on its own (a scheduled check): audit rows name no actor.
    pub(crate) async fn change_by_system(&self, org_id: i64) -> Result<TeamChange<'_>, AppError> {
        self.begin(org_id, None).await
    }

    async fn begin(&self, org_id: i64, by: Option<i64>) -> Result<TeamChange<'_>, AppError> {
        let mut tx = self.accounts.store.write().await.or_internal("begin")?;
        let seat_limit = team::lock_org(&mut tx, self.accounts.store.backend, org_id)
            .await
            .or_internal("lock organization")?
            .ok_or(AppError::NotFound)?;
        Ok(TeamChange {
            team: self,
            tx,
            org_id,
            seat_limit,
            by,
            via: None,
            mailed: false,
        })
    }
}

impl TeamChange<'_> {
    /// The organization's seat limit, read under the lock.
    pub(crate) fn seat_limit(&self) -> i64 {
        self.seat_limit
    }

    /// Names who makes the change from here on: the person who just joined by invitation.
    pub(crate) fn made_by(&mut self, user_id: i64) {
        self.by = Some(user_id);
    }

    /// Records `action` on `target` in the audit log, in this transaction.
    pub(crate) async fn audit(
        &mut self,
        action: &str,
        target: &str,
        detail: Option<&str>,
    ) -> Result<(), AppError> {
        let entry = audit::Entry {
            org_id: Some(self.org_id),
            actor_user_id: self.by,
            action,
            target: Some(target),
            detail,
            via: self.via,
        };
        let now = self.team.accounts.clock.now();
        audit::record(&mut self.tx, entry, now)
            .await
            .or_internal("audit")
    }

    /// Writes an email to the outbox, in this transaction.
    pub(crate) async fn queue_email(
        &mut self,
        to: &str,
        template: &str,
        subject: &str,
        values: impl Serialize,
    ) -> Result<(), AppError> {
        self.mailed = true;
        let accounts = &self.team.accounts;
        accounts
            .queue_email(&mut self.tx, to, template, subject, values)
            .await
    }

    /// Emails `user_id` a link to verify their address, in this transaction.
    pub(crate) async fn issue_verification(
        &mut self,
        user_id: i64,
        email: &str,
        first_name: &str,
    ) -> Result<(), AppError> {
        self.mailed = true;
        let accounts = &self.team.accounts;
        accounts
            .issue_verification(&mut self.tx, user_id, email, first_name)
            .await
    }

    /// Commits, wakes the mail worker if the change queued email, and announces "the team of
    /// this organization changed" to open pages.
    pub(crate) async fn commit(mut self) -> Result<(), AppError> {
        let team = self.team;
        let version = team
            .events
            .in_transaction(&mut self.tx, self.org_id)
            .await
            .or_internal("announce change")?;
        team.accounts.commit(self.tx, self.mailed).await?;
        team.events.committed(self.org_id, version);
        Ok(())
    }

    /// Commits a change that leaves the team list as it was (a link made, an email queued),
    /// announcing nothing: an announcement would tell open pages that something happened.
    pub(crate) async fn commit_unseen(self) -> Result<(), AppError> {
        self.team.accounts.commit(self.tx, self.mailed).await
    }
}

impl Deref for TeamChange<'_> {
    type Target = Conn;

    fn deref(&self) -> &Conn {
        &self.tx
    }
}

impl DerefMut for TeamChange<'_> {
    fn deref_mut(&mut self) -> &mut Conn {
        &mut self.tx
    }
}

/// The actor's own membership, read inside the caller's transaction; refused as "sign in"
/// unless it is active.
async fn own_membership(conn: &mut Conn, actor: &Actor) -> Result<team::Membership, AppError> {
    team::membership(conn, actor.org_id, actor.user_id)
        .await
        .or_internal("read own membership")?
        .filter(|m| m.status == "active")
        .ok_or(AppError::Unauthorized)
}
