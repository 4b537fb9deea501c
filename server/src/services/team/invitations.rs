//! Invitations, as the product docs state them: a manager invites people (one address, or a
//! pasted list) to a role they may give; each invitation holds a seat until it expires, is
//! cancelled or is accepted; its email carries a link valid for seven days, which "Resend
//! Invitation" renews and "Copy invite link" adds to. Sending is rationed: a cool-down per
//! invitation, a daily cap per address, an hourly cap per organization. Whoever follows a
//! link registers and accepts, signs in to accept or, signed in already, accepts; only the
//! emailed link proves the address.

use super::{Manager, TeamChange, TeamService, seats_full};
use crate::auth::token;
use crate::clock::{DAY, HOUR, Millis, SECOND};
use crate::db::{self, Conn, roles, sessions, team, users};
use crate::services::{OrInternal, hashing};
use app::authz::Level;
use app::error::AppError;
use app::model::team::{
    BULK_MAX, BulkOutcome, BulkResult, InvitationView, Role, split_bulk, split_name,
};
use app::model::{EmailAddress, PersonName};
use app::ports::{Actor, Invite, NewSession, Registration};
use serde::Serialize;
use std::collections::HashSet;
use std::net::IpAddr;

const INVITE_TTL: Millis = 7 * DAY;

const LINK_DEAD: &str = "This invitation link is no longer valid: it was cancelled, already used, or replaced by a newer one. Ask your administrator to resend it.";
const LINK_EXPIRED: &str = "This invitation has expired. Ask your administrator to resend it.";

#[derive(Serialize)]
struct AccountExistsMail<'a> {
    first_name: &'a str,
    link: String,
}

#[derive(Serialize)]
struct ConfirmJoinMail<'a> {
    first_name: &'a str,
    org_name: &'a str,
    link: String,
}

#[derive(Serialize)]
struct InvitationMail<'a> {
    first_name: &'a str,
    inviter: &'a str,
    org_name: &'a str,
    role: &'a str,
    link: String,
}

/// What every invitation sent in one transaction shares.
struct Sender {
    org_id: i64,
    user_id: i64,
    org_name: String,
    inviter: String,
    seat_limit: i64,
    seats_used: i64,
    /// Invitation emails the organization sent in the last hour, and how many it may.
    sent_this_hour: i64,
    hourly_cap: i64,
}

struct Entry<'a> {
    email: &'a str,
    first_name: &'a str,
    last_name: &'a str,
    role: Role,
    role_name: &'a str,
}

impl TeamService {
    /// "Invite User": one address, to a role the inviter may give, while a seat and the
    /// sending quotas allow.
    pub(super) async fn invite(&self, actor: &Actor, invite: Invite) -> Result<(), AppError> {
        let (mut change, me) = self.manage(actor, Level::Edit).await?;
        let limit = change.seat_limit();
        let role_name = self
            .assignable(&mut change, actor.org_id, &me, invite.role)
            .await?;
        let mut sender = self.sender(&mut change, actor).await?;
        let entry = Entry {
            email: invite.email.as_str(),
            first_name: invite.first_name.as_str(),
            last_name: invite.last_name.as_str(),
            role: invite.role,
            role_name: &role_name,
        };
        let email = invite.email.as_str();
        match self.invite_one(&mut change, &mut sender, entry).await? {
            BulkOutcome::Invited => change.commit().await,
            BulkOutcome::AlreadyMember => {
                let status = team::membership_status_by_email(&mut change, actor.org_id, email)
                    .await
                    .or_internal("check membership")?;
                let message = if status.as_deref() == Some("disabled") {
                    format!(
                        "{email} is a disabled member of this organization. Use \u{201c}Activate\u{201d} to let them back in."
                    )
                } else {
                    format!("{email} is already a member of this organization.")
                };
                Err(AppError::field("email", message))
            }
            BulkOutcome::AlreadyInvited => Err(AppError::field(
                "email",
                format!(
                    "{email} already has a pending invitation. Use \u{201c}Resend Invitation\u{201d} to send it again."
                ),
            )),
            BulkOutcome::OverSeatLimit => Err(seats_full(limit)),
            limited @ (BulkOutcome::OrgLimit | BulkOutcome::AddressLimit) => {
                Err(self.quota_refusal(limited, &sender, email))
            }
            BulkOutcome::Invalid | BulkOutcome::Duplicate => Err(AppError::Internal),
        }
    }

    /// "Bulk Invite": up to `BULK_MAX` addresses, one role for all; each line says what
    /// became of it, and nothing is written unless someone was invited.
    pub(super) async fn bulk_invite(
        &self,
        actor: &Actor,
        text: &str,
        role: Role,
    ) -> Result<Vec<BulkResult>, AppError> {
        let entries = split_bulk(text);
        if entries.is_empty() {
            return Err(AppError::field(
                "addresses",
                "Enter at least one email address.",
            ));
        }
        if entries.len() > BULK_MAX {
            return Err(AppError::field(
                "addresses",
                format!(
                    "Bulk Invite takes at most {BULK_MAX} addresses at a time; this list has {}.",
                    entries.len()
                ),
            ));
        }
        let (mut change, me) = self.manage(actor, Level::Edit).await?;
        let role_name = self
            .assignable(&mut change, actor.org_id, &me, role)
            .await?;
        let mut sender = self.sender(&mut change, actor).await?;
        let mut seen = HashSet::new();
        let mut results = Vec::with_capacity(entries.len());
        let mut invited = false;
        for e in entries {
            let outcome = match EmailAddress::parse("addresses", &e.address) {
                Err(_) => BulkOutcome::Invalid,
                Ok(email) if !seen.insert(email.clone()) => BulkOutcome::Duplicate,
                Ok(email) => {
                    let (first, last) = e.name.as_deref().map(split_name).unwrap_or_default();
                    // A pasted name is kept only when it is a valid name.
                    let valid = |n: &str| {
                        PersonName::parse("name", n, "a name")
                            .ok()
                            .map(|p| p.as_str().to_owned())
                    };
                    let first = valid(&first).unwrap_or_default();
                    let last = valid(&last).unwrap_or_default();
                    let entry = Entry {
                        email: email.as_str(),
                        first_name: &first,
                        last_name: &last,
                        role,
                        role_name: &role_name,
                    };
                    self.invite_one(&mut change, &mut sender, entry).await?
                }
            };
            invited |= outcome == BulkOutcome::Invited;
            results.push(BulkResult {
                entry: e.raw,
                outcome,
            });
        }
        if invited {
            change.commit().await?;
        }
        Ok(results)
    }

    /// Invites one address, or says why not; a refused entry leaves nothing behind.
    async fn invite_one(
        &self,
        change: &mut TeamChange<'_>,
        s: &mut Sender,
        e: Entry<'_>,
    ) -> Result<BulkOutcome, AppError> {
        let now = self.now();
        let member = team::membership_status_by_email(change, s.org_id, e.email)
            .await
            .or_internal("check membership")?;
        if member.is_some_and(|status| status != "removed") {
            return Ok(BulkOutcome::AlreadyMember);
        }
        let open = team::pending_by_email(change, s.org_id, e.email)
            .await
            .or_internal("check invitations")?;
        if open.as_ref().is_some_and(|i| i.expires_at > now) {
            return Ok(BulkOutcome::AlreadyInvited);
        }
        if s.seats_used >= s.seat_limit {
            return Ok(BulkOutcome::OverSeatLimit);
        }
        if let Some(limited) = self.over_quota(change, s, e.email).await? {
            return Ok(limited);
        }
        let new = team::NewInvitation {
            org_id: s.org_id,
            email: e.email,
            first_name: e.first_name,
            last_name: e.last_name,
            role: e.role,
            invited_by: s.user_id,
        };
        let id = match open {
            // An expired invitation to the same address is sent again rather than duplicated.
            Some(expired) => {
                team::renew_invitation(change, expired.id, new, now, now + INVITE_TTL)
                    .await
                    .or_internal("renew invitation")?;
                expired.id
            }
            None => team::insert_invitation(change, new, now, now + INVITE_TTL)
                .await
                .or_internal("create invitation")?,
        };
        self.email_invitation(change, s, id, &e).await?;
        let detail = serde_json::json!({ "role": e.role_name }).to_string();
        change
            .audit("invitation.sent", e.email, Some(&detail))
            .await?;
        s.seats_used += 1;
        Ok(BulkOutcome::Invited)
    }

    /// "Resend Invitation": after the cool-down, a new emailed link and seven more days; an
    /// expired invitation takes a seat again.
    pub(super) async fn resend(&self, actor: &Actor, invitation_id: i64) -> Result<(), AppError> {
        let now = self.now();
        let (mut change, me) = self.manage(actor, Level::Edit).await?;
        let limit = change.seat_limit();
        let (inv, role_name) = self
            .managed_invitation(&mut change, actor.org_id, &me, invitation_id)
            .await?;
        let cooldown = self.accounts.config.invite_quota.resend_cooldown_secs * SECOND;
        if now - inv.sent_at < cooldown {
            let wait = (inv.sent_at + cooldown - now + SECOND - 1) / SECOND;
            return Err(AppError::TooManyRequests(format!(
                "This invitation was sent moments ago. You can send it again in {wait} second{}.",
                if wait == 1 { "" } else { "s" }
            )));
        }
        let mut sender = self.sender(&mut change, actor).await?;
        // An expired invitation no longer holds a seat; sending it again takes one.
        if inv.expires_at <= now && sender.seats_used >= limit {
            return Err(seats_full(limit));
        }
        if let Some(limited) = self.over_quota(&mut change, &sender, &inv.email).await? {
            return Err(self.quota_refusal(limited, &sender, &inv.email));
        }
        let new = team::NewInvitation {
            org_id: actor.org_id,
            email: &inv.email,
            first_name: &inv.first_name,
            last_name: &inv.last_name,
            role: inv.role,
            invited_by: actor.user_id,
        };
        team::renew_invitation(&mut change, inv.id, new, now, now + INVITE_TTL)
            .await
            .or_internal("renew invitation")?;
        let entry = Entry {
            email: &inv.email,
            first_name: &inv.first_name,
            last_name: &inv.last_name,
            role: inv.role,
            role_name: &role_name,
        };
        self.email_invitation(&mut change, &mut sender, inv.id, &entry)
            .await?;
        change.audit("invitation.resent", &inv.email, None).await?;
        change.commit().await
    }

    /// "Cancel": the invitation and its links end, and its seat is free.
    pub(super) async fn cancel(&self, actor: &Actor, invitation_id: i64) -> Result<(), AppError> {
        let (mut change, me) = self.manage(actor, Level::Edit).await?;
        let (inv, _) = self
            .managed_invitation(&mut change, actor.org_id, &me, invitation_id)
            .await?;
        team::cancel(&mut change, inv.id)
            .await
            .or_internal("cancel invitation")?;
        change
            .audit("invitation.cancelled", &inv.email, None)
            .await?;
        change.commit().await
    }

    /// "Copy invite link": one more link to an invitation that has not expired.
    pub(super) async fn invite_link(
        &self,
        actor: &Actor,
        invitation_id: i64,
    ) -> Result<String, AppError> {
        let (mut change, me) = self.manage(actor, Level::Edit).await?;
        let (inv, _) = self
            .managed_invitation(&mut change, actor.org_id, &me, invitation_id)
            .await?;
        if inv.expires_at <= self.now() {
            return Err(AppError::Refused(
                "This invitation has expired. Use \u{201c}Resend Invitation\u{201d} to renew it first.".into(),
            ));
        }
        let link = self.new_link(&mut change, inv.id, false).await?;
        change
            .audit("invitation.link_copied", &inv.email, None)
            .await?;
        change.commit_unseen().await?;
        Ok(link)
    }

    /// A pending invitation of the organization (expired or not) that `me` may act on, with
    /// its role's name. Resend, Cancel and Copy invite link all decide here: acting on an
    /// invitation needs the right to give its role, since whoever holds a link can use it.
    async fn managed_invitation(
        &self,
        conn: &mut Conn,
        org_id: i64,
        me: &Manager,
        id: i64,
    ) -> Result<(team::Invitation, String), AppError> {
        let inv = team::pending(conn, org_id, id)
            .await
            .or_internal("find invitation")?
            .ok_or(AppError::NotFound)?;
        let role_name = self.assignable(conn, org_id, me, inv.role).await?;
        Ok((inv, role_name))
    }

    /// What sending needs, read under the lock: the names, the seats, this hour's emails.
    async fn sender(&self, change: &mut TeamChange<'_>, actor: &Actor) -> Result<Sender, AppError> {
        let seat_limit = change.seat_limit();
        let row: (String, String) = sqlx::query_as(
            "select o.name, u.first_name || ' ' || u.last_name from organizations o, users u \
             where o.id = $1 and u.id = $2",
        )
        .bind(actor.org_id)
        .bind(actor.user_id)
        .fetch_one(&mut **change)
        .await
        .or_internal("read organization")?;
        let seats_used = team::seats_used(change, actor.org_id, self.now())
            .await
            .or_internal("count seats")?;
        let sent_this_hour = team::invitation_emails_from(change, actor.org_id, self.now() - HOUR)
            .await
            .or_internal("count invitation emails")?;
        Ok(Sender {
            org_id: actor.org_id,
            user_id: actor.user_id,
            org_name: row.0,
            inviter: row.1,
            seat_limit,
            seats_used,
            sent_this_hour,
            hourly_cap: self.accounts.config.invite_quota.org_per_hour(seat_limit),
        })
    }

    /// Which sending quota, if any, stops one more invitation email to `email` now.
    async fn over_quota(
        &self,
        conn: &mut Conn,
        s: &Sender,
        email: &str,
    ) -> Result<Option<BulkOutcome>, AppError> {
        if s.sent_this_hour >= s.hourly_cap {
            return Ok(Some(BulkOutcome::OrgLimit));
        }
        let today = team::invitation_emails_to(conn, email, self.now() - DAY)
            .await
            .or_internal("count invitation emails")?;
        if today >= self.accounts.config.invite_quota.per_address_per_day {
            return Ok(Some(BulkOutcome::AddressLimit));
        }
        Ok(None)
    }

    /// The refusal of one invitation email stopped by a quota.
    fn quota_refusal(&self, outcome: BulkOutcome, s: &Sender, email: &str) -> AppError {
        let per_day = self.accounts.config.invite_quota.per_address_per_day;
        AppError::TooManyRequests(if outcome == BulkOutcome::OrgLimit {
            format!(
                "Your organization has sent {} invitations in the last hour, as many as its plan allows. Try again later.",
                s.hourly_cap
            )
        } else {
            format!(
                "{email} cannot be sent more invitations today: Roster sends at most {per_day} a day to one address. Try again tomorrow."
            )
        })
    }

    async fn email_invitation(
        &self,
        change: &mut TeamChange<'_>,
        s: &mut Sender,
        invitation_id: i64,
        e: &Entry<'_>,
    ) -> Result<(), AppError> {
        team::record_invitation_email(change, s.org_id, e.email, self.now())
            .await
            .or_internal("count invitation email")?;
        s.sent_this_hour += 1;
        let link = self.new_link(change, invitation_id, true).await?;
        let subject = format!("{} invited you to join {} on Roster", s.inviter, s.org_name);
        let values = InvitationMail {
            first_name: e.first_name,
            inviter: &s.inviter,
            org_name: &s.org_name,
            role: e.role_name,
            link,
        };
        change
            .queue_email(e.email, "invitation", &subject, values)
            .await
    }

    /// A new link for an invitation, stored hashed; returns the full URL. Only the `emailed`
    /// link proves the address when it is used.
    async fn new_link(
        &self,
        conn: &mut Conn,
        invitation_id: i64,
        emailed: bool,
    ) -> Result<String, AppError> {
        let secret = token::generate();
        team::add_link(
            conn,
            invitation_id,
            &token::hash(&secret),
            emailed,
            self.now(),
        )
        .await
        .or_internal("store invitation link")?;
        Ok(self
            .accounts
            .config
            .link(&format!("/invitation?token={secret}")))
    }

    /// What a link shows before anything is asked of the person following it.
    pub(super) async fn invitation(
        &self,
        secret: &str,
        viewer: Option<&Actor>,
    ) -> Result<InvitationView, AppError> {
        let mut conn = self
            .accounts
            .store
            .pool
            .acquire()
            .await
            .or_internal("acquire")?;
        let linked = self.live_link(&mut conn, secret).await?;
        let inv = linked.invitation;
        // Whether the address has an account is told only to that account, signed in.
        let signed_in = match viewer {
            Some(v) => users::find(&mut conn, v.user_id)
                .await
                .or_internal("find account")?
                .is_some_and(|me| me.email == inv.email),
            None => false,
        };
        Ok(InvitationView {
            org_name: linked.org_name,
            inviter: linked.inviter,
            email: inv.email,
            first_name: inv.first_name,
            last_name: inv.last_name,
            role: roles::name(&mut conn, inv.org_id, inv.role)
                .await
                .or_internal("read role name")?,
            signed_in,
        })
    }

    /// "Register and Accept Invite": a new account at the invited address joins, and waits
    /// for its emailed verification.
    pub(super) async fn register_and_accept(
        &self,
        secret: &str,
        r: Registration,
        client: IpAddr,
    ) -> Result<(), AppError> {
        self.accounts.limits.client(client)?;
        // A dead link is refused before hashing, so made-up tokens cannot buy argon2 work.
        self.peek_link(secret).await?;
        let hash = self
            .accounts
            .hasher
            .hash(r.password.expose())
            .await
            .map_err(hashing("hash password"))?;
        let (mut change, linked) = self.lock_for_accept(secret).await?;
        let now = self.now();
        let email = linked.invitation.email.clone();
        // An existing account is answered as sign-up answers it: the same reply on the page,
        // and an email to the address saying to sign in instead, so the page tells nobody
        // whether the address has an account.
        if let Some(existing) = users::find_by_email(&mut change, &email)
            .await
            .or_internal("find account")?
        {
            drop(change);
            return self.tell_account_exists(existing.id, &email, secret).await;
        }
        let new_user = users::NewUser {
            email: &email,
            first_name: r.first_name.as_str(),
            last_name: r.last_name.as_str(),
            password_hash: &hash,
        };
        let org_id = linked.invitation.org_id;
        let joins = linked.emailed.then_some(org_id);
        let user_id = match users::insert_user(&mut change, new_user, joins, now).await {
            Ok(id) => id,
            // The address was registered a moment ago by another request.
            Err(e) if db::is_unique_violation(&e) => return Ok(()),
            Err(e) => return Err(e).or_internal("create user"),
        };
        if let Some(m) = &r.mobile {
            users::update_profile(
                &mut change,
                user_id,
                r.first_name.as_str(),
                r.last_name.as_str(),
                Some(m.as_str()),
                now,
            )
            .await
            .or_internal("store mobile")?;
        }
        if linked.emailed {
            // The emailed link: the invitee joins now and, like sign-up, the account waits
            // for its emailed verification.
            self.join(&mut change, &linked, user_id).await?;
            change
                .issue_verification(user_id, &email, r.first_name.as_str())
                .await?;
        } else {
            // A copied link proves nothing about the address, and joining now would tell
            // whoever holds it that the address had no account (an existing one is only
            // emailed). The invitation stays pending for both; this address is emailed a link
            // of its own, and signing in through it verifies the account and joins.
            self.email_join_link(&mut change, &linked, r.first_name.as_str())
                .await?;
            // The team list is as it was: announcing a change would tell open pages that
            // the address was new.
            return change.commit_unseen().await;
        }
        change.commit().await
    }

    /// Emails a new account made through a copied link the invitation's emailed link, to sign
    /// in through: that proves the address and joins.
    async fn email_join_link(
        &self,
        change: &mut TeamChange<'_>,
        linked: &team::LinkedInvitation,
        first_name: &str,
    ) -> Result<(), AppError> {
        let inv = &linked.invitation;
        let link = self.new_link(change, inv.id, true).await?;
        let values = ConfirmJoinMail {
            first_name,
            org_name: &linked.org_name,
            link: format!("{link}&account=1"),
        };
        let subject = format!("Confirm your address to join {}", linked.org_name);
        change
            .queue_email(&inv.email, "confirm_join", &subject, values)
            .await
    }

    /// "Accept Invite", signed in as the invited address.
    pub(super) async fn accept(&self, actor: &Actor, secret: &str) -> Result<(), AppError> {
        let (mut change, linked) = self.lock_for_accept(secret).await?;
        let me = users::find(&mut change, actor.user_id)
            .await
            .or_internal("find account")?
            .ok_or(AppError::Unauthorized)?;
        if me.email != linked.invitation.email {
            return Err(AppError::Refused(format!(
                "This invitation is for {}. Sign in with that address to accept it.",
                linked.invitation.email
            )));
        }
        let org_id = linked.invitation.org_id;
        // A signed-in account is verified already: accepting proves nothing more.
        self.join(&mut change, &linked, actor.user_id).await?;
        sessions::set_org(&mut change, actor.session_id()?, org_id)
            .await
            .or_internal("switch organization")?;
        change.commit().await
    }

    /// "Sign in to accept": the invited account's password, then it joins.
    pub(super) async fn sign_in_and_accept(
        &self,
        secret: &str,
        password: String,
        client: IpAddr,
    ) -> Result<Option<NewSession>, AppError> {
        let email = self.peek_link(secret).await?.invitation.email;
        let checked = self
            .accounts
            .check_password(&email, &password, client)
            .await?;
        let (mut change, linked) = self.lock_for_accept(secret).await?;
        if linked.invitation.email != checked.user.email {
            return Err(AppError::Refused(LINK_DEAD.into()));
        }
        let org_id = linked.invitation.org_id;
        if !checked.user.verified && !linked.emailed {
            // A copied link proves nothing about the address, and whoever holds it may have
            // made this account: nobody joins. The address is emailed a link of its own, and
            // signing in through that one proves the address and joins.
            let user = &checked.user;
            if self.accounts.limits.recipient("confirm_join", &user.email) {
                let first = self.accounts.first_name(&mut change, user.id).await?;
                self.email_join_link(&mut change, &linked, &first).await?;
            }
            change.commit_unseen().await?;
            return Ok(None);
        }
        self.join(&mut change, &linked, checked.user.id).await?;
        if !checked.user.verified {
            // The emailed link reached this address: that proves it.
            users::mark_verified(&mut change, checked.user.id, self.now())
                .await
                .or_internal("verify")?;
        }
        let token = self
            .accounts
            .start_session(&mut change, &checked, org_id)
            .await?;
        change.commit().await?;
        Ok(Some(NewSession {
            token,
            user_id: checked.user.id,
        }))
    }

    /// Uses the invitation up and makes the user an active member, with the audit record.
    async fn join(
        &self,
        change: &mut TeamChange<'_>,
        linked: &team::LinkedInvitation,
        user_id: i64,
    ) -> Result<(), AppError> {
        let now = self.now();
        let inv = &linked.invitation;
        change.made_by(user_id);
        if !team::accept(change, inv.id, user_id, now)
            .await
            .or_internal("accept invitation")?
        {
            return Err(AppError::Refused(LINK_DEAD.into()));
        }
        // A member coming back starts with no session left over from before.
        sessions::delete_in_org(change, user_id, inv.org_id)
            .await
            .or_internal("end old sessions")?;
        team::join(change, inv.org_id, user_id, inv.role, now)
            .await
            .or_internal("join organization")?;
        self.accounts
            .issue_api_key(change, inv.org_id, user_id)
            .await?;
        change
            .audit("invitation.accepted", &inv.email, Some(&inv.role.key()))
            .await
    }

    /// Under the organization's lock: the link is still live and its address has no
    /// membership that would make accepting meaningless.
    async fn lock_for_accept(
        &self,
        secret: &str,
    ) -> Result<(TeamChange<'_>, team::LinkedInvitation), AppError> {
        let org_id = self.peek_link(secret).await?.invitation.org_id;
        let mut change = self.change_by_invitation(org_id).await?;
        let linked = self.live_link(&mut change, secret).await?;
        let member =
            team::membership_status_by_email(&mut change, org_id, &linked.invitation.email)
                .await
                .or_internal("check membership")?;
        if member.is_some_and(|s| s != "removed") {
            return Err(AppError::Conflict(format!(
                "You are already a member of {}.",
                linked.org_name
            )));
        }
        Ok((change, linked))
    }

    /// The invitation behind a link, live or refused with the sentence to show.
    async fn live_link(
        &self,
        conn: &mut Conn,
        secret: &str,
    ) -> Result<team::LinkedInvitation, AppError> {
        let found = team::by_link(conn, &token::hash(secret), self.now())
            .await
            .or_internal("find invitation")?
            .ok_or_else(|| AppError::Refused(LINK_DEAD.into()))?;
        if !found.live {
            return Err(AppError::Refused(LINK_EXPIRED.into()));
        }
        Ok(found)
    }

    /// The live invitation behind a link, read before any transaction starts.
    async fn peek_link(&self, secret: &str) -> Result<team::LinkedInvitation, AppError> {
        let mut conn = self
            .accounts
            .store
            .pool
            .acquire()
            .await
            .or_internal("acquire")?;
        self.live_link(&mut conn, secret).await
    }

    /// Emails an address that already has an account, in answer to a registration through
    /// an invitation: sign in to accept instead. The invitation stays as it was.
    async fn tell_account_exists(
        &self,
        user_id: i64,
        email: &str,
        secret: &str,
    ) -> Result<(), AppError> {
        if !self.accounts.limits.recipient("account_exists", email) {
            return Ok(());
        }
        let mut tx = self.accounts.store.write().await.or_internal("begin")?;
        let first_name = self.accounts.first_name(&mut tx, user_id).await?;
        let values = AccountExistsMail {
            first_name: &first_name,
            link: self
                .accounts
                .config
                .link(&format!("/invitation?token={secret}&account=1")),
        };
        self.accounts
            .queue_email(
                &mut tx,
                email,
                "account_exists",
                "You already have a Roster account",
                values,
            )
            .await?;
        self.accounts.commit(tx, true).await
    }
}
