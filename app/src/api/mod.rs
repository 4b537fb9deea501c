//! Server functions: thin adapters from HTTP to the server's services.

pub mod account;
pub mod audit;
pub mod auth;
pub mod billing;
pub mod roles;
pub mod settings;
pub mod team;
pub mod usage;

use crate::authz::{Feature, Level, Requirement};
use server_fn::ServerFn;

/// What every server function needs, by its path. A function missing here is refused at the
/// door (and a test fails); each function checks its entry again when it runs, which also
/// covers calls made while rendering a page on the server.
pub fn requirements() -> Vec<(&'static str, Requirement)> {
    use Requirement::{Member, Owner, Public, SignedIn};
    let team = |level| Requirement::feature(Feature::TeamManagement, level);
    let keys = |level| Requirement::feature(Feature::ApiKeys, level);
    let settings_at = |level| Requirement::feature(Feature::AccountSettings, level);
    vec![
        (auth::SignUp::PATH, Public),
        (auth::ResendVerification::PATH, Public),
        (auth::VerifyEmail::PATH, Public),
        (auth::SignIn::PATH, Public),
        (auth::SignOut::PATH, Public),
        (auth::RequestPasswordReset::PATH, Public),
        (auth::ResetPassword::PATH, Public),
        (account::SignedInUser::PATH, Public),
        (account::CurrentTerms::PATH, SignedIn),
        (account::AcceptTerms::PATH, SignedIn),
        (account::SwitchOrganization::PATH, SignedIn),
        (account::UpdateProfile::PATH, Member),
        (account::ChangePassword::PATH, Member),
        (account::SetDefaultOrganization::PATH, Member),
        (team::TeamMembers::PATH, team(Level::View)),
        (team::InviteUser::PATH, team(Level::Edit)),
        (team::BulkInvite::PATH, team(Level::Edit)),
        (team::ResendInvitation::PATH, team(Level::Edit)),
        (team::CancelInvitation::PATH, team(Level::Edit)),
        (team::InviteLink::PATH, team(Level::Edit)),
        (team::ChangeMember::PATH, team(Level::Full)),
        (team::EditMember::PATH, team(Level::Edit)),
        (team::LeaveOrganization::PATH, Member),
        (team::CopyApiKey::PATH, keys(Level::Edit)),
        (team::RefreshApiKey::PATH, keys(Level::Edit)),
        (team::OwnApiKey::PATH, Member),
        (team::InvitationDetails::PATH, Public),
        (team::RegisterAndAccept::PATH, Public),
        (team::AcceptInvitation::PATH, SignedIn),
        (team::SignInAndAccept::PATH, Public),
        (roles::RolesOverview::PATH, team(Level::View)),
        (roles::SaveRole::PATH, team(Level::Full)),
        (roles::DeleteRole::PATH, team(Level::Full)),
        (
            roles::AddRegion::PATH,
            Requirement::feature(Feature::AccountSettings, Level::Full),
        ),
        (roles::TransferOwnership::PATH, Owner),
        (usage::MyUsage::PATH, Member),
        (usage::Overview::PATH, Member),
        (
            usage::UsageOverview::PATH,
            Requirement::feature(Feature::Analytics, Level::View),
        ),
        (
            audit::AuditLog::PATH,
            Requirement::feature(Feature::AuditLogs, Level::View),
        ),
        (
            audit::VerifyAuditLog::PATH,
            Requirement::feature(Feature::AuditLogs, Level::View),
        ),
        (settings::SettingsOverview::PATH, settings_at(Level::View)),
        (settings::RenameOrganization::PATH, settings_at(Level::Edit)),
        (settings::SaveAutoJoin::PATH, settings_at(Level::Edit)),
        (settings::AddDomain::PATH, settings_at(Level::Edit)),
        (settings::VerifyDomain::PATH, settings_at(Level::Edit)),
        (settings::RemoveDomain::PATH, settings_at(Level::Edit)),
        (settings::JoinSuggestions::PATH, Member),
        (settings::JoinOrganization::PATH, Member),
        (
            billing::BillingOverview::PATH,
            Requirement::feature(Feature::Billing, Level::View),
        ),
        (
            billing::SetSeatLimit::PATH,
            Requirement::feature(Feature::Billing, Level::Full),
        ),
    ]
}

/// The requirement declared for the server function at `path` (looked up on every call).
pub fn requirement(path: &str) -> Option<Requirement> {
    static BY_PATH: std::sync::LazyLock<std::collections::HashMap<&'static str, Requirement>> =
        std::sync::LazyLock::new(|| requirements().into_iter().collect());
    BY_PATH.get(path).copied()
}

#[cfg(feature = "ssr")]
pub(crate) mod ctx {
    use crate::error::AppError;
    use crate::ports::{Actor, RequestMeta, Services};
    use leptos::prelude::*;

    pub fn services() -> Result<Services, AppError> {
        use_context::<Services>().ok_or_else(|| {
            tracing::error!("Services missing from the server function context");
            AppError::Internal
        })
    }

    pub fn request_meta() -> Result<RequestMeta, AppError> {
        use_context::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<RequestMeta>().cloned())
            .ok_or_else(|| {
                tracing::error!("RequestMeta missing from the request");
                AppError::Internal
            })
    }

    /// The signed-in user (resolved once per request by the server's middleware).
    fn signed_in() -> Result<Actor, AppError> {
        request_meta()?.actor.ok_or(AppError::Unauthorized)
    }

    /// Checks what server function `F` declared against the signed-in user and returns them.
    /// Every server function that acts for a signed-in user starts here.
    pub fn allowed<F: server_fn::ServerFn>() -> Result<(Services, Actor), AppError> {
        let Some(requirement) = super::requirement(F::PATH) else {
            tracing::error!(
                path = F::PATH,
                "server function without a declared requirement"
            );
            return Err(AppError::Forbidden);
        };
        let actor = signed_in()?;
        actor.meets(requirement)?;
        Ok((services()?, actor))
    }

    /// The signed-in user if there is one, for public functions that look at who asks.
    pub fn viewer() -> Result<Option<Actor>, AppError> {
        Ok(request_meta()?.actor)
    }

    /// A cookie of the request, by name.
    pub fn cookie(name: &str) -> Option<String> {
        let parts = use_context::<http::request::Parts>()?;
        parts
            .headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_owned())
    }

    pub fn set_cookie(value: String) {
        use http::{HeaderValue, header::SET_COOKIE};
        match HeaderValue::from_str(&value) {
            Ok(v) => expect_context::<leptos_axum::ResponseOptions>().append_header(SET_COOKIE, v),
            Err(_) => tracing::error!("session cookie was not a valid header value"),
        }
    }
}
