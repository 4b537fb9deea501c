//! What the app needs from the server, declared here and implemented by the `server` crate.

use crate::authz::{Access, Requirement};
use crate::error::AppError;
use crate::model::audit::{AuditPage, AuditQuery, Integrity};
use crate::model::roles::{BillingPage, RoleDraft, RolesPage};
use crate::model::settings::{DomainView, JoinSuggestion, SettingsPage};
use crate::model::team::{
    BulkResult, InvitationView, KeyGrace, KeyView, MemberAction, Role, TeamPage, TeamQuery,
};
use crate::model::usage::{Dashboard, OwnUsage, UsageQuery, UsageReport};
use crate::model::{CurrentUser, EmailAddress, MobileNumber, OrgName, Password, PersonName, Terms};
use std::net::IpAddr;
use std::sync::Arc;

/// Facts about the HTTP request, put in its extensions by the server's middleware.
#[derive(Clone, Debug)]
pub struct RequestMeta {
    pub session_token: Option<String>,
    pub client_ip: IpAddr,
    /// The signed-in user, resolved from the session once per request.
    pub actor: Option<Actor>,
    /// Answers already given while this request renders (`RequestMemo::once`).
    pub memo: RequestMemo,
}

type Shared<T> = futures::future::Shared<futures::future::BoxFuture<'static, Result<T, AppError>>>;

/// Reads made once per request. Rendering a page on the server may build its view more
/// than once (Suspense walks its children to find what they load, then renders them), and
/// each build asks for its data; the later asks share the first one's answer.
#[derive(Clone, Default)]
pub struct RequestMemo(
    Arc<std::sync::Mutex<std::collections::HashMap<String, Box<dyn std::any::Any + Send + Sync>>>>,
);

impl std::fmt::Debug for RequestMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RequestMemo")
    }
}

impl RequestMemo {
    /// The answer to `key`: `read`'s, or the one an earlier ask of this request got (or
    /// will get) for the same key.
    pub async fn once<T, F>(&self, key: String, read: F) -> Result<T, AppError>
    where
        T: Clone + Send + Sync + 'static,
        F: std::future::Future<Output = Result<T, AppError>> + Send + 'static,
    {
        use futures::FutureExt;
        let shared = {
            let mut answers = self.0.lock().unwrap_or_else(|e| e.into_inner());
            let entry = answers
                .entry(key)
                .or_insert_with(|| Box::new(read.boxed().shared() as Shared<T>));
            match entry.downcast_ref::<Shared<T>>() {
                Some(s) => s.clone(),
                // The same key asked for another type: a programming error.
                None => {
                    tracing::error!("request memo key reused with another type");
                    return Err(AppError::Internal);
                }
            }
        };
        shared.await
    }
}

/// The signed-in user, resolved from the session on every request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    /// How this request was authenticated.
    pub via: Via,
    pub user_id: i64,
    pub org_id: i64,
    pub role: Role,
    /// What the role grants, read from the database with the session on every request.
    pub access: Access,
    pub terms_accepted: bool,
}

/// How a request proves who makes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// A browser session (its id).
    Session(i64),
    /// The member's own API key on the REST API (the key's id).
    ApiKey(i64),
}

impl Actor {
    /// The session this request came with; refused for API keys, which have none.
    pub fn session_id(&self) -> Result<i64, AppError> {
        match self.via {
            Via::Session(id) => Ok(id),
            Via::ApiKey(_) => Err(AppError::Forbidden),
        }
    }

    /// How the audit log names the channel of a change: `Some("api")` for the REST API.
    pub fn channel(&self) -> Option<&'static str> {
        match self.via {
            Via::Session(_) => None,
            Via::ApiKey(_) => Some("api"),
        }
    }

    /// Whether this user meets `requirement`; the error says why not.
    pub fn meets(&self, requirement: Requirement) -> Result<(), AppError> {
        if requirement != Requirement::Public
            && requirement != Requirement::SignedIn
            && !self.terms_accepted
        {
            return Err(AppError::Refused(
                "Please accept the Terms of Use to continue.".into(),
            ));
        }
        if requirement.met_by(&self.access) {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }
}

pub struct SignUp {
    pub first_name: PersonName,
    pub last_name: PersonName,
    pub email: EmailAddress,
    pub password: Password,
    pub org_name: OrgName,
}

pub struct ProfileUpdate {
    pub first_name: PersonName,
    pub last_name: PersonName,
    pub mobile: Option<MobileNumber>,
}

/// A session just created: the secret for the cookie.
pub struct NewSession {
    pub token: String,
    /// Whose session it is.
    pub user_id: i64,
}

#[async_trait::async_trait]
pub trait Accounts: Send + Sync {
    async fn sign_up(&self, input: SignUp, client: IpAddr) -> Result<(), AppError>;
    async fn resend_verification(
        &self,
        email: EmailAddress,
        client: IpAddr,
    ) -> Result<(), AppError>;
    /// Marks the address verified; the user's id.
    async fn verify_email(&self, token: &str) -> Result<i64, AppError>;
    async fn sign_in(
        &self,
        email: EmailAddress,
        password: String,
        client: IpAddr,
    ) -> Result<NewSession, AppError>;
    async fn sign_out(&self, session_token: &str) -> Result<(), AppError>;
    async fn authenticate(&self, session_token: &str) -> Result<Option<Actor>, AppError>;
    async fn current_user(&self, actor: &Actor) -> Result<CurrentUser, AppError>;
    fn terms(&self) -> Terms;
    async fn accept_terms(&self, actor: &Actor, version: &str) -> Result<(), AppError>;
    async fn request_password_reset(
        &self,
        email: EmailAddress,
        client: IpAddr,
    ) -> Result<(), AppError>;
    async fn reset_password(&self, token: &str, password: Password) -> Result<(), AppError>;
    async fn update_profile(
        &self,
        actor: &Actor,
        update: ProfileUpdate,
    ) -> Result<CurrentUser, AppError>;
    async fn change_password(
        &self,
        actor: &Actor,
        current: String,
        new: Password,
    ) -> Result<(), AppError>;
    /// Moves this session to another organization the user is an active member of.
    async fn switch_organization(&self, actor: &Actor, org_id: i64) -> Result<(), AppError>;
    /// Chooses where sign-in lands.
    async fn set_default_organization(&self, actor: &Actor, org_id: i64) -> Result<(), AppError>;
    /// The `Set-Cookie` value that stores a new session.
    fn session_cookie(&self, token: &str) -> String;
    /// The `Set-Cookie` value that clears the session cookie.
    fn clear_session_cookie(&self) -> String;
}

pub struct Invite {
    pub first_name: PersonName,
    pub last_name: PersonName,
    pub email: EmailAddress,
    pub role: Role,
}

pub struct MemberEdit {
    pub first_name: PersonName,
    pub last_name: PersonName,
    pub mobile: Option<MobileNumber>,
    /// The new role; `None` keeps the role the member has when the change is made.
    pub role: Option<Role>,
}

/// A new person registering through an invitation; the address comes from the invitation.
pub struct Registration {
    pub first_name: PersonName,
    pub last_name: PersonName,
    pub password: Password,
    pub mobile: Option<MobileNumber>,
}

#[async_trait::async_trait]
pub trait Team: Send + Sync {
    async fn list(&self, actor: &Actor, query: TeamQuery) -> Result<TeamPage, AppError>;
    async fn invite(&self, actor: &Actor, invite: Invite) -> Result<(), AppError>;
    async fn bulk_invite(
        &self,
        actor: &Actor,
        text: &str,
        role: Role,
    ) -> Result<Vec<BulkResult>, AppError>;
    async fn resend(&self, actor: &Actor, invitation_id: i64) -> Result<(), AppError>;
    async fn cancel(&self, actor: &Actor, invitation_id: i64) -> Result<(), AppError>;
    /// A new link for an invitation, for admins who deliver it themselves.
    async fn invite_link(&self, actor: &Actor, invitation_id: i64) -> Result<String, AppError>;
    async fn act(&self, actor: &Actor, user_id: i64, action: MemberAction) -> Result<(), AppError>;
    async fn edit(&self, actor: &Actor, user_id: i64, edit: MemberEdit) -> Result<(), AppError>;
    async fn leave(&self, actor: &Actor) -> Result<(), AppError>;
    /// "Copy API Key": the member's current key.
    async fn copy_key(&self, actor: &Actor, user_id: i64) -> Result<String, AppError>;
    /// "Refresh": a new key, returned; `key_id` (the key the actor saw) keeps working for
    /// `grace`.
    async fn refresh_key(
        &self,
        actor: &Actor,
        user_id: i64,
        key_id: i64,
        grace: KeyGrace,
    ) -> Result<String, AppError>;
    /// The actor's own key, for Profile, when their role may handle it.
    async fn own_key(&self, actor: &Actor) -> Result<Option<KeyView>, AppError>;
    async fn invitation(
        &self,
        token: &str,
        viewer: Option<&Actor>,
    ) -> Result<InvitationView, AppError>;
    async fn register_and_accept(
        &self,
        token: &str,
        registration: Registration,
        client: IpAddr,
    ) -> Result<(), AppError>;
    /// Accepts for the signed-in user (who must hold the invited address) and moves their
    /// session into the organization.
    async fn accept(&self, actor: &Actor, token: &str) -> Result<(), AppError>;
    /// Checks the invited account's password and accepts. Starts a session in the
    /// organization unless the account's address is still unverified and the link was not the
    /// emailed one (`None`: a verification link was emailed instead).
    async fn sign_in_and_accept(
        &self,
        token: &str,
        password: String,
        client: IpAddr,
    ) -> Result<Option<NewSession>, AppError>;
}

/// The organization itself: custom roles, regions, ownership and the plan.
#[async_trait::async_trait]
pub trait Organization: Send + Sync {
    async fn roles(&self, actor: &Actor) -> Result<RolesPage, AppError>;
    /// Creates (`draft.id` is `None`) or changes a custom role; returns its id.
    async fn save_role(&self, actor: &Actor, draft: RoleDraft) -> Result<i64, AppError>;
    /// Deletes a custom role; its members and pending invitations move to `move_to`.
    async fn delete_role(
        &self,
        actor: &Actor,
        role_id: i64,
        move_to: Option<Role>,
    ) -> Result<(), AppError>;
    async fn add_region(&self, actor: &Actor, code: &str, name: &str) -> Result<(), AppError>;
    /// Hands the organization to an active Admin; `confirm` must be the organization's name.
    async fn transfer_ownership(
        &self,
        actor: &Actor,
        to_user_id: i64,
        confirm: &str,
    ) -> Result<(), AppError>;
    async fn billing(&self, actor: &Actor) -> Result<BillingPage, AppError>;
    async fn set_seat_limit(&self, actor: &Actor, limit: i64) -> Result<(), AppError>;
}

/// The gateway's counts as people read them.
#[async_trait::async_trait]
pub trait Usage: Send + Sync {
    /// The Usage page's figures for `query`, in the regions the actor's role may see.
    async fn report(&self, actor: &Actor, query: UsageQuery) -> Result<UsageReport, AppError>;
    /// The actor's own calls over the last 30 days, in time zone `tz`.
    async fn own(&self, actor: &Actor, tz: String) -> Result<OwnUsage, AppError>;
    /// The Overview page's figures.
    async fn dashboard(&self, actor: &Actor, tz: String) -> Result<Dashboard, AppError>;
}

#[async_trait::async_trait]
pub trait AuditLog: Send + Sync {
    /// One page of the organization's audit log for `query`, newest first.
    async fn page(&self, actor: &Actor, query: AuditQuery) -> Result<AuditPage, AppError>;
    /// Checks the organization's hash chain from its anchor to its head.
    async fn verify(&self, actor: &Actor) -> Result<Integrity, AppError>;
}

#[async_trait::async_trait]
pub trait Settings: Send + Sync {
    /// Settings → Organization.
    async fn overview(&self, actor: &Actor) -> Result<SettingsPage, AppError>;
    async fn rename(&self, actor: &Actor, name: OrgName) -> Result<(), AppError>;
    /// Auto-join's mode (`off`, `suggest`, `automatic`) and the role it gives.
    async fn set_auto_join(
        &self,
        actor: &Actor,
        mode: String,
        role: String,
    ) -> Result<(), AppError>;
    /// "Add Domain": the domain, pending, with the TXT record to create.
    async fn add_domain(&self, actor: &Actor, domain: String) -> Result<DomainView, AppError>;
    /// "Verify": looks the TXT record up now.
    async fn verify_domain(&self, actor: &Actor, id: i64) -> Result<DomainView, AppError>;
    async fn remove_domain(&self, actor: &Actor, id: i64) -> Result<(), AppError>;
    /// Organizations the actor may join by their address's verified domain ("Suggest").
    async fn suggestions(&self, actor: &Actor) -> Result<Vec<JoinSuggestion>, AppError>;
    /// "Join <org>".
    async fn join_suggested(&self, actor: &Actor, org_id: i64) -> Result<(), AppError>;
    /// Auto-join "automatic" for the user, after their address was verified or they signed
    /// in; a failure is logged, never the caller's.
    async fn auto_join_quietly(&self, user_id: i64);
}

/// Everything the server provides to server functions, as one context value.
#[derive(Clone)]
pub struct Services {
    pub accounts: Arc<dyn Accounts>,
    pub team: Arc<dyn Team>,
    pub org: Arc<dyn Organization>,
    pub usage: Arc<dyn Usage>,
    pub audit: Arc<dyn AuditLog>,
    pub settings: Arc<dyn Settings>,
}
