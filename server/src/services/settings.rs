//! Settings → Organization: the name, verified domains (a DNS TXT challenge) and auto-join,
//! which makes people whose verified address is at a verified domain members on their own.

use super::OrInternal;
use super::team::{Manager, TeamService, before_after};
use crate::clock::{DAY, Millis};
use crate::db::{self, domains as store, roles, team, users};
use crate::dns::Dns;
use crate::domains::{self, DomainRules};
use app::authz::{Feature, Level, can};
use app::error::AppError;
use app::model::OrgName;
use app::model::settings::{
    AUTO_JOIN_MODES, DomainView, JoinSuggestion, SettingsPage, record_name,
};
use app::model::team::{Role, format_time, may_assign};
use app::ports::{Actor, Settings};
use serde::Serialize;
use std::sync::Arc;

/// Failed daily checks in a row that lapse a verified domain.
pub const LAPSE_AFTER: i64 = 3;
/// How often a verified domain is checked again.
pub const RECHECK_EVERY: Millis = DAY;

#[derive(Clone)]
pub struct SettingsService {
    pub team: TeamService,
    pub dns: Dns,
    pub rules: Arc<DomainRules>,
}

/// What auto-join did for a person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Joined {
    /// Nothing applies: no verified domain with auto-join, or already a member (or removed).
    Nothing,
    /// Joined the organization.
    Joined(i64),
    /// Every seat is taken: not joined.
    SeatsFull(String),
}

#[derive(Serialize)]
struct SeatsFullMail<'a> {
    first_name: &'a str,
    person: &'a str,
    domain: &'a str,
    org_name: &'a str,
    seat_limit: i64,
    link: String,
}

fn view(d: &store::Domain) -> DomainView {
    DomainView {
        id: d.id,
        display: domains::display(&d.domain),
        record_name: record_name(&d.domain),
        record_value: d.token.clone(),
        domain: d.domain.clone(),
        status: d.status.clone(),
        last_checked: d.last_checked_at.map(format_time),
        verified_at: d.verified_at.map(format_time),
        failed_checks: d.failed_checks,
    }
}

/// A challenge token: 160 random bits, as hex with a prefix that says whose it is.
fn challenge_token() -> String {
    let mut bytes = [0u8; 20];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    format!("roster-verification={}", hex::encode(bytes))
}

/// Whether any of the TXT values is the token (compared in constant time).
fn holds(values: &[String], token: &str) -> bool {
    use subtle::ConstantTimeEq;
    values
        .iter()
        .any(|v| v.trim().as_bytes().ct_eq(token.as_bytes()).into())
}

impl SettingsService {
    fn now(&self) -> Millis {
        self.team.accounts.clock.now()
    }

    fn store(&self) -> &db::Store {
        &self.team.accounts.store
    }

    /// Looks the challenge record of `domain` up: whether it holds the token; an error when
    /// the lookup failed (not the same as "not there").
    async fn challenge_present(&self, d: &store::Domain) -> Result<bool, crate::dns::LookupError> {
        let values = self.dns.txt(&record_name(&d.domain)).await?;
        Ok(holds(&values, &d.token))
    }

    /// Checks the roles auto-join may give: a built-in Member or Visitor, or a custom role,
    /// that the manager (as read under the lock) may give themself.
    async fn join_role(
        &self,
        conn: &mut db::Conn,
        org_id: i64,
        manager: &Manager,
        key: &str,
    ) -> Result<Role, AppError> {
        let refuse = || {
            AppError::field(
                "role",
                "Choose Member, Visitor or a custom role you may give.",
            )
        };
        let role = Role::parse(key).ok_or_else(refuse)?;
        if matches!(role, Role::Owner | Role::Admin) {
            return Err(refuse());
        }
        if !roles::exists(conn, org_id, role)
            .await
            .or_internal("find role")?
        {
            return Err(refuse());
        }
        let access = roles::access(conn, role).await.or_internal("read role")?;
        if !may_assign(&manager.access, &access, &manager.regions) {
            return Err(refuse());
        }
        Ok(role)
    }

    /// A verified domain brings people in as auto-join's role, so only a manager who may give
    /// that role adds or verifies one (Account Settings: Edit alone is not enough).
    async fn may_bring_people(
        &self,
        conn: &mut db::Conn,
        org_id: i64,
        manager: &Manager,
    ) -> Result<(), AppError> {
        let join = store::auto_join(conn, org_id)
            .await
            .or_internal("read organization")?;
        let role = Role::parse(&join.role).unwrap_or(Role::Member);
        let access = roles::access(conn, role).await.or_internal("read role")?;
        if may_assign(&manager.access, &access, &manager.regions) {
            Ok(())
        } else {
            Err(AppError::field(
                "domain",
                "People at a verified domain can join with auto-join's role, so only someone who may invite people with that role adds or verifies domains.",
            ))
        }
    }

    /// Makes the user a member of the organization whose verified domain their verified
    /// address is at, when its auto-join is "automatic" (or, for `suggested`, that one
    /// organization's "suggest" or "automatic"); idempotent, and never for someone who has or
    /// had a membership there (removed people need an invitation).
    pub async fn auto_join(
        &self,
        user_id: i64,
        suggested: Option<i64>,
    ) -> Result<Joined, AppError> {
        let mut conn = self.store().pool.acquire().await.or_internal("acquire")?;
        let Some(user) = users::find(&mut conn, user_id)
            .await
            .or_internal("read user")?
        else {
            return Ok(Joined::Nothing);
        };
        let Some(domain) = domains::of_address(&user.email) else {
            return Ok(Joined::Nothing);
        };
        let applies = |j: &store::AutoJoin| match suggested {
            None => j.mode == "automatic",
            Some(org_id) => j.org_id == org_id && j.mode != "off",
        };
        let Some(found) = store::joinable(&mut conn, &domain)
            .await
            .or_internal("find domain")?
            .filter(applies)
        else {
            return Ok(Joined::Nothing);
        };
        if !user.verified {
            return Ok(Joined::Nothing);
        }
        drop(conn);
        let mut change = self.team.change_by_auto_join(found.org_id, user_id).await?;
        // Under the lock: still verified with auto-join, and not a member, before or now.
        let Some(found) = store::joinable(&mut change, &domain)
            .await
            .or_internal("find domain")?
            .filter(|j| j.org_id == found.org_id)
            .filter(applies)
        else {
            return Ok(Joined::Nothing);
        };
        if team::membership(&mut change, found.org_id, user_id)
            .await
            .or_internal("read membership")?
            .is_some()
        {
            return Ok(Joined::Nothing);
        }
        let now = self.now();
        let used = team::seats_used(&mut change, found.org_id, now)
            .await
            .or_internal("count seats")?;
        let limit = change.seat_limit();
        if used >= limit {
            if store::claim_seats_full_mail(&mut change, found.org_id, now, DAY)
                .await
                .or_internal("seats full mail")?
            {
                let admins = team::managers(&mut change, found.org_id)
                    .await
                    .or_internal("list admins")?;
                let person = user.email.clone();
                let link = self.team.accounts.config.link("/billing");
                for (first_name, email) in admins {
                    let mail = SeatsFullMail {
                        first_name: &first_name,
                        person: &person,
                        domain: &domain,
                        org_name: &found.org_name,
                        seat_limit: limit,
                        link: link.clone(),
                    };
                    let subject = format!(
                        "{} could not join {}: all seats are in use",
                        user.email, found.org_name
                    );
                    change
                        .queue_email(&email, "seats_full", &subject, mail)
                        .await?;
                }
                let detail =
                    serde_json::json!({ "domain": domain, "seat_limit": limit }).to_string();
                change
                    .audit("member.auto_join_refused", &user.email, Some(&detail))
                    .await?;
            }
            change.commit_unseen().await?;
            return Ok(Joined::SeatsFull(found.org_name));
        }
        // The role chosen is gone (a custom role deleted since): nobody joins with a role
        // nobody chose; the Settings page shows auto-join needs a role again.
        let Some(role) =
            Role::parse(&found.role).filter(|r| !matches!(r, Role::Owner | Role::Admin))
        else {
            return Ok(Joined::Nothing);
        };
        if !roles::exists(&mut change, found.org_id, role)
            .await
            .or_internal("find role")?
        {
            tracing::warn!(org_id = found.org_id, "auto-join's role no longer exists");
            return Ok(Joined::Nothing);
        }
        team::join(&mut change, found.org_id, user_id, role, now)
            .await
            .or_internal("join organization")?;
        self.team
            .accounts
            .issue_api_key(&mut change, found.org_id, user_id)
            .await?;
        let detail = serde_json::json!({ "domain": domain, "role": role.key() }).to_string();
        change
            .audit("member.auto_joined", &user.email, Some(&detail))
            .await?;
        change.commit().await?;
        Ok(Joined::Joined(found.org_id))
    }

    /// Checks verified and lapsed domains not checked for a day: a record gone for
    /// `LAPSE_AFTER` checks in a row lapses the domain (auto-join pauses; nobody is removed),
    /// emails the admins and writes an audit row; a record back restores it. Returns how many
    /// were checked.
    pub async fn recheck_due(&self) -> Result<usize, AppError> {
        let mut conn = self.store().pool.acquire().await.or_internal("acquire")?;
        let due = store::due(&mut conn, self.now() - RECHECK_EVERY, 100)
            .await
            .or_internal("due domains")?;
        drop(conn);
        let checked = due.len();
        let mut failed_lookups = 0;
        for d in due {
            // A lookup that fails counts as a failed check: a domain whose record cannot be
            // read for three days stops bringing people in, as one whose record is gone (a
            // lapse removes nobody, and the record found again restores the domain).
            let present = match self.challenge_present(&d).await {
                Ok(present) => present,
                Err(_) => {
                    failed_lookups += 1;
                    false
                }
            };
            let mut change = self.team.change_by_system(d.org_id).await?;
            let now = self.now();
            if present {
                let restored = d.status == "lapsed"
                    && !store::verified_elsewhere(&mut change, &d.domain, d.org_id)
                        .await
                        .or_internal("domain owner")?;
                if d.status == "verified" || restored {
                    store::set_verified(&mut change, d.id, now)
                        .await
                        .or_internal("verify domain")?;
                }
                if restored {
                    change.audit("domain.restored", &d.domain, None).await?;
                }
            } else {
                let failures = store::set_failed(&mut change, d.id, now)
                    .await
                    .or_internal("record check")?;
                if d.status == "verified" && failures >= LAPSE_AFTER {
                    store::set_lapsed(&mut change, d.id)
                        .await
                        .or_internal("lapse domain")?;
                    let detail = serde_json::json!({ "failed_checks": failures }).to_string();
                    change
                        .audit("domain.lapsed", &d.domain, Some(&detail))
                        .await?;
                    let org_name = roles::org_name(&mut change, d.org_id)
                        .await
                        .or_internal("read organization")?;
                    let admins = team::managers(&mut change, d.org_id)
                        .await
                        .or_internal("list admins")?;
                    let link = self.team.accounts.config.link("/settings");
                    for (first_name, email) in admins {
                        let values = serde_json::json!({
                            "first_name": first_name, "org_name": org_name,
                            "domain": domains::display(&d.domain),
                            "record_name": record_name(&d.domain), "link": link,
                        });
                        let subject = format!("{} is no longer verified for {org_name}", d.domain);
                        change
                            .queue_email(&email, "domain_lapsed", &subject, values)
                            .await?;
                    }
                }
            }
            change.commit_unseen().await?;
        }
        if checked > 0 && failed_lookups == checked {
            tracing::error!(
                checked,
                "every domain check failed to look its record up: is DNS_SERVER reachable?"
            );
        }
        Ok(checked)
    }
}

impl SettingsService {
    /// Checks due domains every hour until the process ends.
    pub async fn recheck_domains(self) {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60 * 60));
        loop {
            tick.tick().await;
            match self.recheck_due().await {
                Ok(n) => tracing::debug!(checked = n, "domain checks"),
                Err(e) => tracing::error!(error = %e, "domain checks failed"),
            }
        }
    }
}

#[async_trait::async_trait]
impl Settings for SettingsService {
    async fn overview(&self, actor: &Actor) -> Result<SettingsPage, AppError> {
        let mut conn = self.store().pool.acquire().await.or_internal("acquire")?;
        let seats = team::seats(&mut conn, actor.org_id, self.now())
            .await
            .or_internal("read seats")?;
        let join = store::auto_join(&mut conn, actor.org_id)
            .await
            .or_internal("read organization")?;
        let regions = roles::regions(&mut conn, actor.org_id)
            .await
            .or_internal("list regions")?;
        let custom = roles::list_uncounted(&mut conn, actor.org_id)
            .await
            .or_internal("list roles")?;
        let mut join_roles = vec![
            ("member".to_owned(), "Member".to_owned()),
            ("visitor".to_owned(), "Visitor".to_owned()),
        ];
        join_roles.extend(
            custom
                .into_iter()
                .map(|r| (Role::Custom(r.id).key(), r.name)),
        );
        let domains = store::list(&mut conn, actor.org_id)
            .await
            .or_internal("list domains")?;
        Ok(SettingsPage {
            org_name: join.org_name,
            seats,
            regions: regions.into_iter().map(|r| (r.code, r.name)).collect(),
            auto_join: join.mode,
            auto_join_role: join.role,
            join_roles,
            domains: domains.iter().map(view).collect(),
            can_edit: can(&actor.access, Feature::AccountSettings, Level::Edit, None),
        })
    }

    async fn rename(&self, actor: &Actor, name: OrgName) -> Result<(), AppError> {
        let (mut change, _) = self
            .team
            .change_as_manager(actor, Feature::AccountSettings, Level::Edit)
            .await?;
        let old = roles::org_name(&mut change, actor.org_id)
            .await
            .or_internal("read organization")?;
        if old == name.as_str() {
            return Ok(());
        }
        store::rename(&mut change, actor.org_id, name.as_str())
            .await
            .or_internal("rename organization")?;
        let detail = before_after(
            serde_json::json!({ "name": old }),
            serde_json::json!({ "name": name.as_str() }),
        );
        change
            .audit("organization.renamed", name.as_str(), Some(&detail))
            .await?;
        // Open pages show the name in the switcher: announced.
        change.commit().await
    }

    async fn set_auto_join(
        &self,
        actor: &Actor,
        mode: String,
        role: String,
    ) -> Result<(), AppError> {
        if !AUTO_JOIN_MODES.iter().any(|(m, _)| *m == mode) {
            return Err(AppError::field("mode", "Choose Off, Suggest or Automatic."));
        }
        let (mut change, manager) = self
            .team
            .change_as_manager(actor, Feature::AccountSettings, Level::Edit)
            .await?;
        let role = self
            .join_role(&mut change, actor.org_id, &manager, &role)
            .await?;
        let old = store::auto_join(&mut change, actor.org_id)
            .await
            .or_internal("read organization")?;
        if old.mode == mode && old.role == role.key() {
            return Ok(());
        }
        store::set_auto_join(&mut change, actor.org_id, &mode, &role.key())
            .await
            .or_internal("set auto-join")?;
        let detail = before_after(
            serde_json::json!({ "mode": old.mode, "role": old.role }),
            serde_json::json!({ "mode": mode, "role": role.key() }),
        );
        change
            .audit("organization.auto_join_changed", &mode, Some(&detail))
            .await?;
        change.commit_unseen().await
    }

    async fn add_domain(&self, actor: &Actor, domain: String) -> Result<DomainView, AppError> {
        let name = domains::normalize(&domain).map_err(|m| AppError::field("domain", m))?;
        if let Some(why) = self.rules.refusal(&name) {
            return Err(AppError::field("domain", why));
        }
        let (mut change, manager) = self
            .team
            .change_as_manager(actor, Feature::AccountSettings, Level::Edit)
            .await?;
        self.may_bring_people(&mut change, actor.org_id, &manager)
            .await?;
        let existing = store::list(&mut change, actor.org_id)
            .await
            .or_internal("list domains")?;
        if existing.iter().any(|d| d.domain == name) {
            return Err(AppError::field(
                "domain",
                "This domain is already in the list.",
            ));
        }
        if existing.len() >= 50 {
            return Err(AppError::field(
                "domain",
                "An organization has at most 50 domains.",
            ));
        }
        let id = store::insert(
            &mut change,
            actor.org_id,
            &name,
            &challenge_token(),
            self.now(),
        )
        .await
        .or_internal("add domain")?;
        change.audit("domain.added", &name, None).await?;
        let added = store::get(&mut change, actor.org_id, id)
            .await
            .or_internal("read domain")?
            .ok_or(AppError::Internal)?;
        change.commit_unseen().await?;
        Ok(view(&added))
    }

    async fn verify_domain(&self, actor: &Actor, id: i64) -> Result<DomainView, AppError> {
        // Look the record up first, without holding the organization's lock.
        let mut conn = self.store().pool.acquire().await.or_internal("acquire")?;
        let d = store::get(&mut conn, actor.org_id, id)
            .await
            .or_internal("read domain")?
            .ok_or(AppError::NotFound)?;
        actor.meets(app::authz::Requirement::feature(
            Feature::AccountSettings,
            Level::Edit,
        ))?;
        // Refused before any lookup is made for them (and again under the lock below).
        let regions = roles::regions(&mut conn, actor.org_id)
            .await
            .or_internal("list regions")?;
        let asking = Manager {
            access: actor.access.clone(),
            regions,
        };
        self.may_bring_people(&mut conn, actor.org_id, &asking)
            .await?;
        drop(conn);
        let present = self
            .challenge_present(&d)
            .await
            .map_err(|e| AppError::field("domain", e.to_string()))?;
        let (mut change, manager) = self
            .team
            .change_as_manager(actor, Feature::AccountSettings, Level::Edit)
            .await?;
        self.may_bring_people(&mut change, actor.org_id, &manager)
            .await?;
        let d = store::get(&mut change, actor.org_id, id)
            .await
            .or_internal("read domain")?
            .ok_or(AppError::NotFound)?;
        let now = self.now();
        if !present {
            store::set_failed(&mut change, d.id, now)
                .await
                .or_internal("record check")?;
            change.commit_unseen().await?;
            return Err(AppError::field(
                "domain",
                format!(
                    "No TXT record at {} holds the value shown yet. DNS changes can take a while to appear: check the record and try again.",
                    record_name(&d.domain)
                ),
            ));
        }
        if store::verified_elsewhere(&mut change, &d.domain, actor.org_id)
            .await
            .or_internal("domain owner")?
        {
            return Err(AppError::field(
                "domain",
                "Another organization on this Roster has verified this domain. A domain belongs to one organization at a time.",
            ));
        }
        match store::set_verified(&mut change, d.id, now).await {
            Ok(()) => {}
            Err(e) if db::is_unique_violation(&e) => {
                return Err(AppError::field(
                    "domain",
                    "Another organization on this Roster has verified this domain. A domain belongs to one organization at a time.",
                ));
            }
            Err(e) => return Err(e).or_internal("verify domain"),
        }
        if d.status != "verified" {
            change.audit("domain.verified", &d.domain, None).await?;
        }
        let verified = store::get(&mut change, actor.org_id, id)
            .await
            .or_internal("read domain")?
            .ok_or(AppError::Internal)?;
        change.commit_unseen().await?;
        Ok(view(&verified))
    }

    async fn remove_domain(&self, actor: &Actor, id: i64) -> Result<(), AppError> {
        let (mut change, _) = self
            .team
            .change_as_manager(actor, Feature::AccountSettings, Level::Edit)
            .await?;
        let d = store::get(&mut change, actor.org_id, id)
            .await
            .or_internal("read domain")?
            .ok_or(AppError::NotFound)?;
        store::delete(&mut change, actor.org_id, id)
            .await
            .or_internal("remove domain")?;
        change.audit("domain.removed", &d.domain, None).await?;
        change.commit_unseen().await
    }

    async fn suggestions(&self, actor: &Actor) -> Result<Vec<JoinSuggestion>, AppError> {
        let mut conn = self.store().pool.acquire().await.or_internal("acquire")?;
        let Some(user) = users::find(&mut conn, actor.user_id)
            .await
            .or_internal("read user")?
        else {
            return Ok(Vec::new());
        };
        let Some(domain) = domains::of_address(&user.email).filter(|_| user.verified) else {
            return Ok(Vec::new());
        };
        let Some(found) = store::joinable(&mut conn, &domain)
            .await
            .or_internal("find domain")?
        else {
            return Ok(Vec::new());
        };
        if team::membership(&mut conn, found.org_id, actor.user_id)
            .await
            .or_internal("read membership")?
            .is_some()
        {
            return Ok(Vec::new());
        }
        let seats = team::seats(&mut conn, found.org_id, self.now())
            .await
            .or_internal("read seats")?;
        Ok(vec![JoinSuggestion {
            org_id: found.org_id,
            org_name: found.org_name,
            domain: domains::display(&domain),
            seats_full: seats.full(),
        }])
    }

    async fn auto_join_quietly(&self, user_id: i64) {
        if let Err(e) = self.auto_join(user_id, None).await {
            tracing::warn!(error = %e, user_id, "auto-join failed");
        }
    }

    async fn join_suggested(&self, actor: &Actor, org_id: i64) -> Result<(), AppError> {
        match self.auto_join(actor.user_id, Some(org_id)).await? {
            Joined::Joined(_) => Ok(()),
            Joined::SeatsFull(org_name) => Err(AppError::Refused(format!(
                "{org_name} has used all its seats, so you cannot join now. Its admins were told."
            ))),
            Joined::Nothing => Err(AppError::NotFound),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_holds_the_token_exactly() {
        let token = challenge_token();
        assert!(token.len() >= "roster-verification=".len() + 40);
        assert_ne!(token, challenge_token());
        assert!(holds(&["v=spf1 -all".into(), format!(" {token} ")], &token));
        assert!(!holds(&[format!("{token}x")], &token));
        assert!(!holds(&[], &token));
    }
}
