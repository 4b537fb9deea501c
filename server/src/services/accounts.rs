//! The account journey: sign up, verify, sign in and out, terms, password reset, profile.

use super::catalog::Catalog;
use super::{Limits, OrInternal, hashing};
use crate::auth::api_key::ApiKey;
use crate::auth::password::{HashError, Hasher, Verified};
use crate::auth::secret::Keys;
use crate::auth::token;
use crate::clock::{Clock, DAY, HOUR, MINUTE, Millis};
use crate::config::Config;
use crate::db::throttle::{self, Reservation};
use crate::db::{self, Conn, Store, api_keys, audit, outbox, roles, sessions, tokens, users};
use crate::events::Events;
use crate::mail::Templates;
use app::authz::Access;
use app::error::AppError;
use app::model::team::Role;
use app::model::{CurrentUser, EmailAddress, OrgChoice, Password, Terms};
use app::ports::{Accounts, Actor, NewSession, ProfileUpdate, SignUp, Via};
use serde::Serialize;
use std::net::IpAddr;
use std::sync::Arc;
use tokio::sync::Notify;

pub const VERIFY_TTL: Millis = DAY;
pub const RESET_TTL: Millis = HOUR;
/// A session ends after a week without use, and after 30 days in any case.
pub const SESSION_IDLE: Millis = 7 * DAY;
pub const SESSION_MAX: Millis = 30 * DAY;
const TOUCH_EVERY: Millis = 5 * MINUTE;

pub const ACCOUNT_POLICY: throttle::Policy = throttle::Policy {
    window: 15 * MINUTE,
    threshold: 5,
    lock_for: 15 * MINUTE,
};
pub const CLIENT_POLICY: throttle::Policy = throttle::Policy {
    window: 15 * MINUTE,
    threshold: 30,
    lock_for: 15 * MINUTE,
};

const BAD_CREDENTIALS: &str = "The email address or password is incorrect.";
const SIGN_IN_LOCKED: &str = "Too many failed sign-in attempts.";
const CHANGE_LOCKED: &str = "Too many incorrect passwords.";
const TERMS_TEXT: &str = include_str!("../../terms.txt");

#[derive(Clone)]
pub struct AccountService {
    pub store: Store,
    pub clock: Clock,
    pub hasher: Hasher,
    pub templates: Arc<Templates>,
    pub config: Arc<Config>,
    pub limits: Arc<Limits>,
    /// Wakes the outbox worker after an email is committed.
    pub mail_wake: Arc<Notify>,
    /// Hashes and seals API keys.
    pub keys: Arc<Keys>,
    /// Tells the gateway's caches, here and on other instances, of keys issued.
    pub events: Events,
    /// Each organization's regions and custom roles, held in memory.
    pub catalog: Arc<Catalog>,
}

#[derive(Serialize)]
struct MailValues<'a> {
    first_name: &'a str,
    link: String,
}

fn account_key(email: &str) -> String {
    format!("account:{email}")
}

fn client_key(ip: IpAddr) -> String {
    format!("client:{}", super::limits::network(ip))
}

/// One attempt counted against a key before its password was hashed.
struct Counted {
    key: String,
    policy: &'static throttle::Policy,
    n: i64,
}

/// The attempts counted for one password check: the account's, and the client address's for
/// a sign-in.
struct Reserved {
    account: Counted,
    client: Option<Counted>,
}

/// How a counted password check ended.
enum Outcome {
    Right,
    Wrong,
    /// The password was never compared: the hashing queue was full, or hashing failed.
    Unchecked,
}

/// Counts one attempt against `key`, or says why not: `locked` starts the sentence for a lock.
async fn count(
    conn: &mut Conn,
    key: String,
    policy: &'static throttle::Policy,
    now: Millis,
    locked: &str,
) -> Result<Counted, AppError> {
    match throttle::reserve(conn, &key, policy, now)
        .await
        .or_internal("count attempt")?
    {
        Reservation::Counted(n) => Ok(Counted { key, policy, n }),
        Reservation::Locked(until) => Err(AccountService::too_many(locked, until, now)),
        // The window's last attempts are still being checked, and one of them may be right.
        Reservation::Full => Err(AppError::Busy),
    }
}

/// An account whose password was just checked, with a stronger hash to store if one was due.
pub(crate) struct CheckedPassword {
    pub user: users::UserRow,
    pub rehash: Option<String>,
}

struct PasswordChange<'a> {
    user_id: i64,
    email: &'a str,
    hash: &'a str,
    /// The session that made the change and stays signed in, if any.
    keep_session: Option<i64>,
    org_id: Option<i64>,
    action: &'static str,
}

/// Why an API key was refused on the REST API (before any permission is looked at).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyRefusal {
    Malformed,
    Unknown,
    Expired,
    Inactive,
    /// The database could not be read.
    Unavailable,
}

impl AccountService {
    /// What `role` grants in `org_id` now (custom roles from the cached catalog; a role
    /// deleted since grants nothing).
    async fn access_of(
        &self,
        conn: &mut Conn,
        org_id: i64,
        role: Role,
    ) -> Result<Access, AppError> {
        match role {
            Role::Custom(id) => {
                let catalog = self
                    .catalog
                    .get(conn, org_id)
                    .await
                    .or_internal("read roles")?;
                Ok(Access::Custom(
                    catalog
                        .roles
                        .iter()
                        .find(|r| r.id == id)
                        .map(|r| r.grants.clone())
                        .unwrap_or_default(),
                ))
            }
            built_in => roles::access(conn, built_in).await.or_internal("read role"),
        }
    }

    /// The member an API key belongs to, as they are now, acting through the REST API, and
    /// whether the key was replaced (it works until its overlap ends); the reason as the
    /// gateway words it when the key does not identify an active member.
    pub async fn authenticate_key(&self, presented: &str) -> Result<(Actor, bool), KeyRefusal> {
        let key = ApiKey::parse(presented).map_err(|_| KeyRefusal::Malformed)?;
        let now = self.clock.now();
        let mut conn = self
            .store
            .pool
            .acquire()
            .await
            .map_err(|_| KeyRefusal::Unavailable)?;
        let holder = api_keys::holder(&mut conn, &self.keys.lookup_hash(&key))
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "REST API: read the key's holder");
                KeyRefusal::Unavailable
            })?
            .ok_or(KeyRefusal::Unknown)?;
        if holder.expires_at.is_some_and(|t| t <= now) {
            return Err(KeyRefusal::Expired);
        }
        if holder.status != "active" {
            return Err(KeyRefusal::Inactive);
        }
        let access = self
            .access_of(&mut conn, holder.org_id, holder.role)
            .await
            .map_err(|_| KeyRefusal::Unavailable)?;
        let actor = Actor {
            via: Via::ApiKey(holder.key_id),
            user_id: holder.user_id,
            org_id: holder.org_id,
            role: holder.role,
            access,
            terms_accepted: holder.terms_version.as_deref()
                == Some(self.config.terms_version.as_str()),
        };
        Ok((actor, holder.expires_at.is_some()))
    }

    /// Stores a new password hash, ends the user's other sessions, tells them by email and
    /// audits it, all in the caller's transaction.
    async fn replace_password(
        &self,
        conn: &mut Conn,
        c: PasswordChange<'_>,
    ) -> Result<(), AppError> {
        let now = self.clock.now();
        users::set_password_hash(conn, c.user_id, c.hash, now)
            .await
            .or_internal("set password")?;
        sessions::delete_for_user(conn, c.user_id, c.keep_session)
            .await
            .or_internal("end sessions")?;
        let first = self.first_name(conn, c.user_id).await?;
        let link = self.config.link("/forgot-password");
        let values = MailValues {
            first_name: &first,
            link,
        };
        self.queue_email(
            conn,
            c.email,
            "password_changed",
            "Your Roster password was changed",
            values,
        )
        .await?;
        let entry = audit::Entry {
            org_id: c.org_id,
            actor_user_id: Some(c.user_id),
            action: c.action,
            target: None,
            detail: None,
            via: None,
        };
        audit::record(conn, entry, now).await.or_internal("audit")
    }

    /// Renders an email and writes it to the outbox in the caller's transaction.
    pub(crate) async fn queue_email(
        &self,
        conn: &mut Conn,
        to: &str,
        template: &str,
        subject: &str,
        values: impl Serialize,
    ) -> Result<(), AppError> {
        let r = self
            .templates
            .render(template, subject, values)
            .or_internal("render email")?;
        let email = outbox::NewEmail {
            recipient: to,
            subject: &r.subject,
            body_text: &r.text,
            body_html: &r.html,
        };
        outbox::enqueue(conn, email, self.clock.now())
            .await
            .or_internal("queue email")?;
        Ok(())
    }

    pub(crate) async fn first_name(
        &self,
        conn: &mut Conn,
        user_id: i64,
    ) -> Result<String, AppError> {
        sqlx::query_scalar("select first_name from users where id = $1")
            .bind(user_id)
            .fetch_one(conn)
            .await
            .or_internal("read first name")
    }

    pub(crate) async fn issue_verification(
        &self,
        conn: &mut Conn,
        user_id: i64,
        email: &str,
        first_name: &str,
    ) -> Result<(), AppError> {
        let secret = token::generate();
        let now = self.clock.now();
        tokens::issue(
            conn,
            tokens::Kind::VerifyEmail,
            user_id,
            &token::hash(&secret),
            now,
            now + VERIFY_TTL,
        )
        .await
        .or_internal("issue verification token")?;
        let link = self.config.link(&format!("/verify-email?token={secret}"));
        self.queue_email(
            conn,
            email,
            "verify_email",
            "Verify your email address for Roster",
            MailValues { first_name, link },
        )
        .await
    }

    pub(crate) async fn commit(&self, tx: db::Tx, sent_mail: bool) -> Result<(), AppError> {
        tx.commit().await.or_internal("commit")?;
        if sent_mail {
            self.mail_wake.notify_one();
        }
        Ok(())
    }

    fn too_many(lead: &str, until: Millis, now: Millis) -> AppError {
        let minutes = ((until - now).max(0) as u64).div_ceil(MINUTE as u64).max(1);
        AppError::TooManyRequests(format!(
            "{lead} Try again in {minutes} minute{}.",
            if minutes == 1 { "" } else { "s" }
        ))
    }

    /// Checks a password against the account with this address, under the sign-in limits.
    /// Whether the address is verified is left to the caller.
    pub(crate) async fn check_password(
        &self,
        email: &str,
        password: &str,
        client: IpAddr,
    ) -> Result<CheckedPassword, AppError> {
        let mut conn = self.store.pool.acquire().await.or_internal("acquire")?;
        let user = users::find_by_email(&mut conn, email)
            .await
            .or_internal("find user")?;
        drop(conn);
        let stored = user.as_ref().map(|u| u.password_hash.as_str());
        let verified = self
            .verify_counted(email, Some(client), stored, password, SIGN_IN_LOCKED)
            .await?;
        let Some(user) = user.filter(|_| verified != Verified::No) else {
            return Err(AppError::Refused(BAD_CREDENTIALS.into()));
        };
        let rehash = if verified == Verified::YesRehash {
            match self.hasher.hash(password).await {
                Ok(h) => Some(h),
                // The stronger hash waits for a sign-in that finds the queue less busy.
                Err(HashError::Busy) => None,
                Err(e) => return Err(e).or_internal("rehash"),
            }
        } else {
            None
        };
        Ok(CheckedPassword { user, rehash })
    }

    /// Compares `password` with the stored hash (with the dummy one when there is no account),
    /// counted against the account and the client address before any hashing: refused at once,
    /// without hashing, while either is locked or has all its attempts counted, or while the
    /// client address has had its share of checks this minute. A correct password forgets the
    /// account's failures.
    async fn verify_counted(
        &self,
        email: &str,
        client: Option<IpAddr>,
        stored: Option<&str>,
        password: &str,
        locked: &str,
    ) -> Result<Verified, AppError> {
        // Right passwords are not failures, but each is a hash all the same; refused before
        // anything is counted, so nothing needs giving back.
        if let Some(ip) = client {
            self.limits.password_check(ip)?;
        }
        let reserved = self.reserve(email, client, locked).await?;
        // Checked and settled in a task of its own: a request dropped mid-check (the client
        // went away) must not leave its attempt counted and unsettled.
        let (this, stored, password) =
            (self.clone(), stored.map(str::to_owned), password.to_owned());
        let settled = tokio::spawn(async move {
            let checked = match stored {
                Some(stored) => this.hasher.verify(&stored, &password).await,
                // Unknown addresses cost and count the same, so neither answers nor timing tell.
                None => this
                    .hasher
                    .verify_dummy(&password)
                    .await
                    .map(|()| Verified::No),
            };
            let outcome = match &checked {
                Ok(Verified::No) => Outcome::Wrong,
                Ok(_) => Outcome::Right,
                Err(_) => Outcome::Unchecked,
            };
            this.settle(reserved, outcome).await?;
            checked.map_err(hashing("verify password"))
        });
        settled.await.or_internal("check password")?
    }

    /// Counts one attempt for the account, and for the client address when there is one, in
    /// one transaction: a refusal drops it, so neither is counted then.
    async fn reserve(
        &self,
        email: &str,
        client: Option<IpAddr>,
        locked: &str,
    ) -> Result<Reserved, AppError> {
        let now = self.clock.now();
        let mut tx = self.store.write().await.or_internal("begin")?;
        let account = count(&mut tx, account_key(email), &ACCOUNT_POLICY, now, locked).await?;
        let client = match client {
            Some(ip) => Some(count(&mut tx, client_key(ip), &CLIENT_POLICY, now, locked).await?),
            None => None,
        };
        self.commit(tx, false).await?;
        Ok(Reserved { account, client })
    }

    /// A wrong password keeps its attempts, and locks a key whose last allowed attempt it was.
    /// A correct one forgets the account's failures and gives the client address's attempt
    /// back; an unchecked one gives both back.
    async fn settle(&self, r: Reserved, outcome: Outcome) -> Result<(), AppError> {
        let counted = || std::iter::once(&r.account).chain(&r.client);
        let last = || counted().filter(|c| c.policy.is_last(c.n));
        if matches!(outcome, Outcome::Wrong) && last().next().is_none() {
            return Ok(());
        }
        let now = self.clock.now();
        let mut tx = self.store.write().await.or_internal("begin")?;
        match outcome {
            Outcome::Wrong => {
                for c in last() {
                    throttle::lock(&mut tx, &c.key, c.policy, now)
                        .await
                        .or_internal("lock")?;
                }
            }
            Outcome::Right => {
                throttle::clear(&mut tx, &r.account.key)
                    .await
                    .or_internal("clear throttle")?;
                if let Some(c) = &r.client {
                    throttle::release(&mut tx, &c.key)
                        .await
                        .or_internal("release attempt")?;
                }
            }
            Outcome::Unchecked => {
                for c in counted() {
                    throttle::release(&mut tx, &c.key)
                        .await
                        .or_internal("release attempt")?;
                }
            }
        }
        self.commit(tx, false).await
    }

    /// Starts a session in `org_id` after a password check, in the caller's transaction:
    /// stores a stronger hash if one was made, audits.
    pub(crate) async fn start_session(
        &self,
        conn: &mut Conn,
        checked: &CheckedPassword,
        org_id: i64,
    ) -> Result<String, AppError> {
        let now = self.clock.now();
        let user = &checked.user;
        if let Some(h) = &checked.rehash {
            users::set_password_hash(conn, user.id, h, now)
                .await
                .or_internal("store rehash")?;
        }
        let secret = token::generate();
        sessions::insert(
            conn,
            &token::hash(&secret),
            user.id,
            org_id,
            now,
            now + SESSION_MAX,
        )
        .await
        .or_internal("create session")?;
        let entry = audit::Entry {
            org_id: Some(org_id),
            actor_user_id: Some(user.id),
            action: "session.signed_in",
            target: None,
            detail: None,
            via: None,
        };
        audit::record(conn, entry, now).await.or_internal("audit")?;
        Ok(secret)
    }
}

#[async_trait::async_trait]
impl Accounts for AccountService {
    async fn sign_up(&self, input: SignUp, client: IpAddr) -> Result<(), AppError> {
        self.limits.client(client)?;
        // Hash before looking the address up, so both answers take the same time.
        let hash = self
            .hasher
            .hash(input.password.expose())
            .await
            .map_err(hashing("hash password"))?;
        let email = input.email.as_str();
        let now = self.clock.now();
        let mut tx = self.store.write().await.or_internal("begin")?;
        if let Some(existing) = users::find_by_email(&mut tx, email)
            .await
            .or_internal("find user")?
        {
            let mut sent = false;
            if self.limits.recipient("account_exists", email) {
                let first = self.first_name(&mut tx, existing.id).await?;
                let link = self.config.link("/sign-in");
                self.queue_email(
                    &mut tx,
                    email,
                    "account_exists",
                    "You already have a Roster account",
                    MailValues {
                        first_name: &first,
                        link,
                    },
                )
                .await?;
                sent = true;
            }
            return self.commit(tx, sent).await;
        }
        let org_id = users::insert_org(&mut tx, input.org_name.as_str(), now)
            .await
            .or_internal("create organization")?;
        let new_user = users::NewUser {
            email,
            first_name: input.first_name.as_str(),
            last_name: input.last_name.as_str(),
            password_hash: &hash,
        };
        let user_id = match users::insert_user(&mut tx, new_user, Some(org_id), now).await {
            Ok(id) => id,
            // Another request signed this address up a moment ago: answer as for any existing account.
            Err(e) if db::is_unique_violation(&e) => return Ok(()),
            Err(e) => return Err(e).or_internal("create user"),
        };
        users::insert_membership(&mut tx, org_id, user_id, "owner", now)
            .await
            .or_internal("create membership")?;
        self.issue_api_key(&mut tx, org_id, user_id).await?;
        self.issue_verification(&mut tx, user_id, email, input.first_name.as_str())
            .await?;
        let entry = audit::Entry {
            org_id: Some(org_id),
            actor_user_id: Some(user_id),
            action: "organization.created",
            target: Some(input.org_name.as_str()),
            detail: None,
            via: None,
        };
        audit::record(&mut tx, entry, now)
            .await
            .or_internal("audit")?;
        self.commit(tx, true).await
    }

    async fn resend_verification(
        &self,
        email: EmailAddress,
        client: IpAddr,
    ) -> Result<(), AppError> {
        self.limits.client(client)?;
        let mut tx = self.store.write().await.or_internal("begin")?;
        let user = users::find_by_email(&mut tx, email.as_str())
            .await
            .or_internal("find user")?;
        let mut sent = false;
        if let Some(u) = user.filter(|u| !u.verified)
            && self.limits.recipient("verify_email", email.as_str())
        {
            let first = self.first_name(&mut tx, u.id).await?;
            self.issue_verification(&mut tx, u.id, email.as_str(), &first)
                .await?;
            sent = true;
        }
        self.commit(tx, sent).await
    }

    async fn verify_email(&self, secret: &str) -> Result<i64, AppError> {
        let now = self.clock.now();
        let mut tx = self.store.write().await.or_internal("begin")?;
        let user_id = tokens::consume(
            &mut tx,
            tokens::Kind::VerifyEmail,
            &token::hash(secret),
            now,
        )
        .await
        .or_internal("consume token")?
        .ok_or_else(|| {
            AppError::Refused(
                "This verification link has expired or was already used. Sign in to get a new one."
                    .into(),
            )
        })?;
        users::mark_verified(&mut tx, user_id, now)
            .await
            .or_internal("verify")?;
        let entry = audit::Entry {
            org_id: None,
            actor_user_id: Some(user_id),
            action: "email.verified",
            target: None,
            detail: None,
            via: None,
        };
        audit::record(&mut tx, entry, now)
            .await
            .or_internal("audit")?;
        self.commit(tx, false).await?;
        Ok(user_id)
    }

    async fn sign_in(
        &self,
        email: EmailAddress,
        password: String,
        client: IpAddr,
    ) -> Result<NewSession, AppError> {
        let checked = self
            .check_password(email.as_str(), &password, client)
            .await?;
        if !checked.user.verified {
            return Err(AppError::EmailNotVerified);
        }
        let mut tx = self.store.write().await.or_internal("begin")?;
        let org_id = users::active_org(&mut tx, checked.user.id, checked.user.default_org_id).await.or_internal("find organization")?.ok_or_else(|| {
            AppError::Refused("Your account is not an active member of any organization. Ask your administrator to invite you again.".into())
        })?;
        let secret = self.start_session(&mut tx, &checked, org_id).await?;
        self.commit(tx, false).await?;
        Ok(NewSession {
            token: secret,
            user_id: checked.user.id,
        })
    }

    async fn sign_out(&self, secret: &str) -> Result<(), AppError> {
        let mut conn = self.store.pool.acquire().await.or_internal("acquire")?;
        sessions::delete_by_hash(&mut conn, &token::hash(secret))
            .await
            .or_internal("delete session")
    }

    async fn authenticate(&self, secret: &str) -> Result<Option<Actor>, AppError> {
        let now = self.clock.now();
        let mut conn = self.store.pool.acquire().await.or_internal("acquire")?;
        let Some(s) = sessions::find_live(&mut conn, &token::hash(secret), now, now - SESSION_IDLE)
            .await
            .or_internal("find session")?
        else {
            return Ok(None);
        };
        if now - s.last_seen_at > TOUCH_EVERY {
            sessions::touch(&mut conn, s.id, now)
                .await
                .or_internal("touch session")?;
        }
        let access = self.access_of(&mut conn, s.org_id, s.role).await?;
        Ok(Some(Actor {
            via: Via::Session(s.id),
            user_id: s.user_id,
            org_id: s.org_id,
            role: s.role,
            access,
            terms_accepted: s.terms_version.as_deref() == Some(self.config.terms_version.as_str()),
        }))
    }

    async fn current_user(&self, actor: &Actor) -> Result<CurrentUser, AppError> {
        let mut conn = self.store.pool.acquire().await.or_internal("acquire")?;
        let p = users::profile(&mut conn, actor.user_id, actor.org_id)
            .await
            .or_internal("read profile")?
            .ok_or(AppError::Unauthorized)?;
        let orgs = users::active_orgs(&mut conn, actor.user_id)
            .await
            .or_internal("list organizations")?
            .into_iter()
            .map(|(id, name)| OrgChoice { id, name })
            .collect();
        Ok(CurrentUser {
            org_id: actor.org_id,
            default_org_id: p.default_org_id,
            orgs,
            terms_accepted: p.terms_version.as_deref() == Some(self.config.terms_version.as_str()),
            first_name: p.first_name,
            last_name: p.last_name,
            email: p.email,
            mobile: p.mobile,
            org_name: p.org_name,
            role: if p.role_name.is_empty() {
                p.role.label().to_owned()
            } else {
                p.role_name
            },
            access: actor.access.clone(),
            regions: self
                .catalog
                .get(&mut conn, actor.org_id)
                .await
                .or_internal("list regions")?
                .regions
                .clone(),
        })
    }

    fn terms(&self) -> Terms {
        Terms {
            version: self.config.terms_version.clone(),
            text: TERMS_TEXT.trim().to_owned(),
        }
    }

    async fn accept_terms(&self, actor: &Actor, version: &str) -> Result<(), AppError> {
        if version != self.config.terms_version {
            return Err(AppError::Conflict(
                "The Terms of Use changed while you were reading them. Please read them again."
                    .into(),
            ));
        }
        let now = self.clock.now();
        let mut tx = self.store.write().await.or_internal("begin")?;
        users::accept_terms(&mut tx, actor.user_id, version, now)
            .await
            .or_internal("accept terms")?;
        let entry = audit::Entry {
            org_id: Some(actor.org_id),
            actor_user_id: Some(actor.user_id),
            action: "terms.accepted",
            target: None,
            detail: Some(version),
            via: None,
        };
        audit::record(&mut tx, entry, now)
            .await
            .or_internal("audit")?;
        self.commit(tx, false).await
    }

    async fn request_password_reset(
        &self,
        email: EmailAddress,
        client: IpAddr,
    ) -> Result<(), AppError> {
        self.limits.client(client)?;
        let now = self.clock.now();
        let mut tx = self.store.write().await.or_internal("begin")?;
        let mut sent = false;
        let user = users::find_by_email(&mut tx, email.as_str())
            .await
            .or_internal("find user")?;
        if let Some(user) = user
            && self.limits.recipient("reset_password", email.as_str())
        {
            let secret = token::generate();
            tokens::issue(
                &mut tx,
                tokens::Kind::ResetPassword,
                user.id,
                &token::hash(&secret),
                now,
                now + RESET_TTL,
            )
            .await
            .or_internal("issue reset token")?;
            let first = self.first_name(&mut tx, user.id).await?;
            let link = self.config.link(&format!("/reset-password?token={secret}"));
            self.queue_email(
                &mut tx,
                email.as_str(),
                "reset_password",
                "Reset your Roster password",
                MailValues {
                    first_name: &first,
                    link,
                },
            )
            .await?;
            sent = true;
        }
        self.commit(tx, sent).await
    }

    async fn reset_password(&self, secret: &str, password: Password) -> Result<(), AppError> {
        let expired = || {
            AppError::Refused(
                "This reset link has expired or was already used. Ask for a new one.".into(),
            )
        };
        // A dead link is refused before hashing, so made-up tokens cannot buy argon2 work.
        let mut conn = self.store.pool.acquire().await.or_internal("acquire")?;
        let live = tokens::is_live(
            &mut conn,
            tokens::Kind::ResetPassword,
            &token::hash(secret),
            self.clock.now(),
        )
        .await
        .or_internal("check token")?;
        drop(conn);
        if !live {
            return Err(expired());
        }
        let hash = self
            .hasher
            .hash(password.expose())
            .await
            .map_err(hashing("hash password"))?;
        let now = self.clock.now();
        let mut tx = self.store.write().await.or_internal("begin")?;
        let user_id = tokens::consume(
            &mut tx,
            tokens::Kind::ResetPassword,
            &token::hash(secret),
            now,
        )
        .await
        .or_internal("consume token")?
        .ok_or_else(expired)?;
        // Following the emailed link proves the address, too.
        users::mark_verified(&mut tx, user_id, now)
            .await
            .or_internal("verify")?;
        let user = users::find(&mut tx, user_id)
            .await
            .or_internal("find user")?
            .ok_or(AppError::Internal)?;
        throttle::clear(&mut tx, &account_key(&user.email))
            .await
            .or_internal("clear throttle")?;
        let change = PasswordChange {
            user_id,
            email: &user.email,
            hash: &hash,
            keep_session: None,
            org_id: None,
            action: "password.reset",
        };
        self.replace_password(&mut tx, change).await?;
        self.commit(tx, true).await
    }

    async fn update_profile(
        &self,
        actor: &Actor,
        update: ProfileUpdate,
    ) -> Result<CurrentUser, AppError> {
        let now = self.clock.now();
        let mut tx = self.store.write().await.or_internal("begin")?;
        users::update_profile(
            &mut tx,
            actor.user_id,
            update.first_name.as_str(),
            update.last_name.as_str(),
            update.mobile.as_ref().map(|m| m.as_str()),
            now,
        )
        .await
        .or_internal("update profile")?;
        let entry = audit::Entry {
            org_id: Some(actor.org_id),
            actor_user_id: Some(actor.user_id),
            action: "profile.updated",
            target: None,
            detail: None,
            via: None,
        };
        audit::record(&mut tx, entry, now)
            .await
            .or_internal("audit")?;
        self.commit(tx, false).await?;
        self.current_user(actor).await
    }

    async fn change_password(
        &self,
        actor: &Actor,
        current: String,
        new: Password,
    ) -> Result<(), AppError> {
        let mut conn = self.store.pool.acquire().await.or_internal("acquire")?;
        let user = users::find(&mut conn, actor.user_id)
            .await
            .or_internal("find user")?
            .ok_or(AppError::Unauthorized)?;
        drop(conn);
        let verified = self
            .verify_counted(
                &user.email,
                None,
                Some(&user.password_hash),
                &current,
                CHANGE_LOCKED,
            )
            .await?;
        if verified == Verified::No {
            return Err(AppError::field(
                "current_password",
                "Your current password is incorrect.",
            ));
        }
        let hash = self
            .hasher
            .hash(new.expose())
            .await
            .map_err(hashing("hash password"))?;
        let mut tx = self.store.write().await.or_internal("begin")?;
        let change = PasswordChange {
            user_id: actor.user_id,
            email: &user.email,
            hash: &hash,
            keep_session: Some(actor.session_id()?),
            org_id: Some(actor.org_id),
            action: "password.changed",
        };
        self.replace_password(&mut tx, change).await?;
        self.commit(tx, true).await
    }

    async fn switch_organization(&self, actor: &Actor, org_id: i64) -> Result<(), AppError> {
        let mut tx = self.store.write().await.or_internal("begin")?;
        if !users::is_active_member(&mut tx, actor.user_id, org_id)
            .await
            .or_internal("check membership")?
        {
            return Err(AppError::Forbidden);
        }
        sessions::set_org(&mut tx, actor.session_id()?, org_id)
            .await
            .or_internal("switch organization")?;
        self.commit(tx, false).await
    }

    async fn set_default_organization(&self, actor: &Actor, org_id: i64) -> Result<(), AppError> {
        let now = self.clock.now();
        let mut tx = self.store.write().await.or_internal("begin")?;
        if !users::is_active_member(&mut tx, actor.user_id, org_id)
            .await
            .or_internal("check membership")?
        {
            return Err(AppError::Forbidden);
        }
        users::set_default_org(&mut tx, actor.user_id, org_id, now)
            .await
            .or_internal("set default organization")?;
        self.commit(tx, false).await
    }

    fn session_cookie(&self, secret: &str) -> String {
        let max_age = SESSION_MAX / 1000;
        format!(
            "{}={secret}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
            self.cookie_name(),
            self.secure_attr()
        )
    }

    fn clear_session_cookie(&self) -> String {
        format!(
            "{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{}",
            self.cookie_name(),
            self.secure_attr()
        )
    }
}

impl AccountService {
    pub fn cookie_name(&self) -> &'static str {
        cookie_name(&self.config)
    }

    fn secure_attr(&self) -> &'static str {
        if self.config.secure_cookies() {
            "; Secure"
        } else {
            ""
        }
    }
}

/// `__Host-` cookies are only accepted over https, with `Secure` and `Path=/`.
pub fn cookie_name(config: &Config) -> &'static str {
    if config.secure_cookies() {
        "__Host-roster_session"
    } else {
        "roster_session"
    }
}
