//! The team: the list, invitations, member actions, and accepting an invitation.

use crate::error::AppError;
use crate::model::team::{Accepted, BulkResult, InvitationView, KeyView, TeamPage};
#[cfg(feature = "ssr")]
use crate::model::team::{Cursor, KeyGrace, MemberAction, Role, SortKey, Status, TeamQuery};
#[cfg(feature = "ssr")]
use crate::model::{EmailAddress, MobileNumber, Password, PersonName};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
fn role_field(field: &str, value: &str) -> Result<Role, AppError> {
    Role::parse(value)
        .filter(|r| *r != Role::Owner)
        .ok_or_else(|| AppError::field(field, "Choose a role."))
}

/// One page of members and invitations. Every member may look; empty filters mean "all".
#[server(prefix = "/api", endpoint = "team_members")]
pub async fn team_members(
    search: String,
    role: String,
    status: String,
    sort: String,
    descending: bool,
    page: i64,
    cursor: String,
) -> Result<TeamPage, AppError> {
    let (services, actor) = super::ctx::allowed::<TeamMembers>()?;
    let query = TeamQuery {
        // Control characters are never part of a name or an address.
        search: search
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect(),
        role: Role::parse(&role),
        status: Status::parse(&status),
        sort: SortKey::parse(&sort).unwrap_or_default(),
        descending,
        page: page.clamp(1, 1_000_000),
        cursor: Cursor::parse(&cursor),
        ..TeamQuery::default()
    };
    // Asked twice while the Team page renders on the server; read once.
    let memo = super::ctx::request_meta()?.memo;
    let key = format!("team_members {query:?}");
    memo.once(key, async move { services.team.list(&actor, query).await })
        .await
}

#[server(prefix = "/api", endpoint = "invite_user")]
pub async fn invite_user(
    first_name: String,
    last_name: String,
    email: String,
    role: String,
) -> Result<(), AppError> {
    let (services, actor) = super::ctx::allowed::<InviteUser>()?;
    let first = PersonName::parse("first_name", &first_name, "a first name");
    let last = PersonName::parse("last_name", &last_name, "a last name");
    let email = EmailAddress::parse("email", &email);
    let role = role_field("role", &role);
    AppError::check([
        first.as_ref().err(),
        last.as_ref().err(),
        email.as_ref().err(),
        role.as_ref().err(),
    ])?;
    let invite = crate::ports::Invite {
        first_name: first?,
        last_name: last?,
        email: email?,
        role: role?,
    };
    services.team.invite(&actor, invite).await
}

#[server(prefix = "/api", endpoint = "bulk_invite")]
pub async fn bulk_invite(addresses: String, role: String) -> Result<Vec<BulkResult>, AppError> {
    let (services, actor) = super::ctx::allowed::<BulkInvite>()?;
    let role = role_field("role", &role)?;
    services.team.bulk_invite(&actor, &addresses, role).await
}

#[server(prefix = "/api", endpoint = "resend_invitation")]
pub async fn resend_invitation(id: i64) -> Result<(), AppError> {
    let (services, actor) = super::ctx::allowed::<ResendInvitation>()?;
    services.team.resend(&actor, id).await
}

#[server(prefix = "/api", endpoint = "cancel_invitation")]
pub async fn cancel_invitation(id: i64) -> Result<(), AppError> {
    let (services, actor) = super::ctx::allowed::<CancelInvitation>()?;
    services.team.cancel(&actor, id).await
}

#[server(prefix = "/api", endpoint = "invite_link")]
pub async fn invite_link(id: i64) -> Result<String, AppError> {
    let (services, actor) = super::ctx::allowed::<InviteLink>()?;
    services.team.invite_link(&actor, id).await
}

/// Promote, Demote, Revoke, Activate or Remove a member.
#[server(prefix = "/api", endpoint = "change_member")]
pub async fn change_member(user_id: i64, action: String) -> Result<(), AppError> {
    let (services, actor) = super::ctx::allowed::<ChangeMember>()?;
    let action = MemberAction::parse(&action)
        .filter(|a| *a != MemberAction::Edit)
        .ok_or(AppError::NotFound)?;
    services.team.act(&actor, user_id, action).await
}

#[server(prefix = "/api", endpoint = "edit_member")]
pub async fn edit_member(
    user_id: i64,
    first_name: String,
    last_name: String,
    mobile: String,
    role: String,
) -> Result<(), AppError> {
    let (services, actor) = super::ctx::allowed::<EditMember>()?;
    let first = PersonName::parse("first_name", &first_name, "a first name");
    let last = PersonName::parse("last_name", &last_name, "a last name");
    let mobile = MobileNumber::parse_optional("mobile", &mobile);
    let role = role_field("role", &role);
    AppError::check([
        first.as_ref().err(),
        last.as_ref().err(),
        mobile.as_ref().err(),
        role.as_ref().err(),
    ])?;
    let edit = crate::ports::MemberEdit {
        first_name: first?,
        last_name: last?,
        mobile: mobile?,
        role: Some(role?),
    };
    services.team.edit(&actor, user_id, edit).await
}

/// "Copy API Key": the member's key, to put on the clipboard (or show where it cannot be).
#[server(prefix = "/api", endpoint = "copy_api_key")]
pub async fn copy_api_key(user_id: i64) -> Result<String, AppError> {
    let (services, actor) = super::ctx::allowed::<CopyApiKey>()?;
    services.team.copy_key(&actor, user_id).await
}

/// "Refresh": a new key for the member; the old one, `key_id`, keeps working for `grace`
/// (`now`, `1h`, `24h`, `7d`).
#[server(prefix = "/api", endpoint = "refresh_api_key")]
pub async fn refresh_api_key(user_id: i64, key_id: i64, grace: String) -> Result<(), AppError> {
    let (services, actor) = super::ctx::allowed::<RefreshApiKey>()?;
    let grace = KeyGrace::parse(&grace)
        .ok_or_else(|| AppError::field("grace", "Choose how long the old key keeps working."))?;
    // The page shows the new key by Copy API Key, which is audited.
    services
        .team
        .refresh_key(&actor, user_id, key_id, grace)
        .await
        .map(drop)
}

/// Profile's "Your API key": the signed-in member's key, when their role may handle it.
#[server(prefix = "/api", endpoint = "own_api_key")]
pub async fn own_api_key() -> Result<Option<KeyView>, AppError> {
    let (services, actor) = super::ctx::allowed::<OwnApiKey>()?;
    services.team.own_key(&actor).await
}

#[server(prefix = "/api", endpoint = "leave_organization")]
pub async fn leave_organization() -> Result<(), AppError> {
    let (services, actor) = super::ctx::allowed::<LeaveOrganization>()?;
    services.team.leave(&actor).await
}

/// What an invitation link shows. Anyone holding the link may look.
#[server(prefix = "/api", endpoint = "invitation_details")]
pub async fn invitation_details(token: String) -> Result<InvitationView, AppError> {
    let services = super::ctx::services()?;
    let viewer = super::ctx::viewer()?;
    services.team.invitation(&token, viewer.as_ref()).await
}

#[server(prefix = "/api", endpoint = "register_and_accept")]
pub async fn register_and_accept(
    token: String,
    first_name: String,
    last_name: String,
    password: String,
    mobile: String,
) -> Result<(), AppError> {
    let services = super::ctx::services()?;
    let client = super::ctx::request_meta()?.client_ip;
    let first = PersonName::parse("first_name", &first_name, "a first name");
    let last = PersonName::parse("last_name", &last_name, "a last name");
    let password = Password::parse("password", &password);
    let mobile = MobileNumber::parse_optional("mobile", &mobile);
    AppError::check([
        first.as_ref().err(),
        last.as_ref().err(),
        password.as_ref().err(),
        mobile.as_ref().err(),
    ])?;
    let registration = crate::ports::Registration {
        first_name: first?,
        last_name: last?,
        password: password?,
        mobile: mobile?,
    };
    services
        .team
        .register_and_accept(&token, registration, client)
        .await
}

/// Accepts for the signed-in user, who must hold the invited address.
#[server(prefix = "/api", endpoint = "accept_invitation")]
pub async fn accept_invitation(token: String) -> Result<(), AppError> {
    let (services, actor) = super::ctx::allowed::<AcceptInvitation>()?;
    services.team.accept(&actor, &token).await
}

#[server(prefix = "/api", endpoint = "sign_in_and_accept")]
pub async fn sign_in_and_accept(token: String, password: String) -> Result<Accepted, AppError> {
    let services = super::ctx::services()?;
    let client = super::ctx::request_meta()?.client_ip;
    if password.is_empty() {
        return Err(AppError::field("password", "Enter your password."));
    }
    let session = services
        .team
        .sign_in_and_accept(&token, password, client)
        .await?;
    Ok(match session {
        Some(session) => {
            super::ctx::set_cookie(services.accounts.session_cookie(&session.token));
            Accepted::SignedIn
        }
        None => Accepted::VerifyEmail,
    })
}
