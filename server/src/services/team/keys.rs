//! "Copy API Key" and "Refresh" (seed 000: "copy the API Key so you can deliver it to the
//! user", "generate a new API Key for the user"), on one's own key or on the key of a member
//! one may act on (`may_handle_key`), each checked under the organization's lock and audited.
//! The key itself never enters the audit log, an error or an email.

use super::members::Member;
use super::{TeamChange, TeamService, before_after};
use crate::clock::HOUR;
use crate::db::{api_keys, roles};
use crate::services::OrInternal;
use app::authz::{Feature, Level};
use app::error::AppError;
use app::model::team::{KeyGrace, KeyView, edits_keys, format_time, may_handle_key};
use app::ports::{Actor, Via};

/// Keys a membership may be given in an hour by Refresh: each is a stored row and a known key
/// on every instance, so a loop of Refreshes cannot grow them without bound.
const REFRESHES_PER_HOUR: i64 = 10;

impl TeamService {
    /// Begins a key action on `user_id`'s key: refused unless the actor, as they are now,
    /// may handle the member's key as the member is now.
    async fn key_action(
        &self,
        actor: &Actor,
        user_id: i64,
    ) -> Result<(TeamChange<'_>, Member), AppError> {
        let (mut change, me) = self
            .change_as_manager(actor, Feature::ApiKeys, Level::Edit)
            .await?;
        let member = self.member(&mut change, actor, &me, user_id).await?;
        if !may_handle_key(&me.access, &me.regions, member.target) {
            return Err(AppError::Forbidden);
        }
        // Through the REST API, a key replaced meanwhile (its overlap running) hands out no
        // key: checked again under the lock, after any refresh that was under way.
        if let Via::ApiKey(key_id) = actor.via {
            let replaced: Option<Option<i64>> =
                sqlx::query_scalar("select expires_at from api_keys where id = $1")
                    .bind(key_id)
                    .fetch_optional(&mut *change)
                    .await
                    .or_internal("read the caller's api key")?;
            if !matches!(replaced, Some(None)) {
                return Err(AppError::Refused(
                    "This API key has been replaced. Use the current key to copy or refresh keys."
                        .into(),
                ));
            }
        }
        Ok((change, member))
    }

    /// "Copy API Key": the member's current key, opened from its sealed copy.
    pub(super) async fn copy_key(&self, actor: &Actor, user_id: i64) -> Result<String, AppError> {
        let (mut change, member) = self.key_action(actor, user_id).await?;
        let current = api_keys::current(&mut change, actor.org_id, user_id)
            .await
            .or_internal("read api key")?
            .ok_or_else(no_key)?;
        let Some(key) = self
            .accounts
            .keys
            .open(&current.sealed, actor.org_id, current.id)
        else {
            tracing::error!(key_id = current.id, "a stored API key does not open");
            return Err(AppError::Internal);
        };
        let detail = serde_json::json!({ "key": shown(&current.prefix) }).to_string();
        change
            .audit("api_key.copied", &member.email, Some(&detail))
            .await?;
        change.commit_unseen().await?;
        Ok(key.expose().to_owned())
    }

    /// "Refresh": a new current key for the member; the old one (`key_id`, the key the actor
    /// saw) keeps working for `grace`. Refused when `key_id` is no longer the current key:
    /// it was refreshed meanwhile, and may be past its end.
    pub(super) async fn refresh_key(
        &self,
        actor: &Actor,
        user_id: i64,
        key_id: i64,
        grace: KeyGrace,
    ) -> Result<String, AppError> {
        let (mut change, member) = self.key_action(actor, user_id).await?;
        let current = api_keys::current(&mut change, actor.org_id, user_id)
            .await
            .or_internal("read api key")?
            .ok_or_else(no_key)?;
        if current.id != key_id {
            return Err(AppError::Refused(
                "That API key was already refreshed. Reload the page to see the current one."
                    .into(),
            ));
        }
        let now = self.now();
        let recent = api_keys::issued_since(&mut change, actor.org_id, user_id, now - HOUR)
            .await
            .or_internal("count api keys")?;
        if recent >= REFRESHES_PER_HOUR {
            return Err(AppError::Refused(format!(
                "This key was refreshed {REFRESHES_PER_HOUR} times in the last hour. Try again later."
            )));
        }
        let ends_at = now + grace.millis();
        // At most one old key keeps working: one still in an earlier grace period ends now.
        api_keys::end_replaced(&mut change, actor.org_id, user_id, now)
            .await
            .or_internal("end old api keys")?;
        // The old key ends first: one current key per member, always.
        api_keys::end(&mut change, current.id, ends_at)
            .await
            .or_internal("end api key")?;
        let new_id = self
            .accounts
            .issue_api_key(&mut change, actor.org_id, user_id)
            .await?
            .ok_or(AppError::Internal)?;
        api_keys::set_replaced_by(&mut change, current.id, new_id)
            .await
            .or_internal("link api keys")?;
        let (new_prefix, sealed): (String, String) =
            sqlx::query_as("select prefix, sealed from api_keys where id = $1")
                .bind(new_id)
                .fetch_one(&mut *change)
                .await
                .or_internal("read new api key")?;
        let Some(key) = self.accounts.keys.open(&sealed, actor.org_id, new_id) else {
            tracing::error!(key_id = new_id, "a new API key does not open");
            return Err(AppError::Internal);
        };
        let detail = before_after(
            serde_json::json!({ "key": shown(&current.prefix) }),
            serde_json::json!({
                "key": shown(&new_prefix),
                "old_key_ends": format_time(ends_at),
            }),
        );
        change
            .audit("api_key.refreshed", &member.email, Some(&detail))
            .await?;
        change.commit().await?;
        Ok(key.expose().to_owned())
    }

    /// The signed-in member's own key for Profile, when their role may handle it (API Keys:
    /// Edit; the request's session holds an active membership).
    pub(super) async fn own_key(&self, actor: &Actor) -> Result<Option<KeyView>, AppError> {
        let mut conn = self
            .accounts
            .store
            .pool
            .acquire()
            .await
            .or_internal("acquire")?;
        let regions = roles::regions(&mut conn, actor.org_id)
            .await
            .or_internal("list regions")?;
        if !edits_keys(&actor.access, &regions) {
            return Ok(None);
        }
        let mut views = api_keys::views(&mut conn, actor.org_id, &[actor.user_id], self.now())
            .await
            .or_internal("read api key")?;
        Ok(views.remove(&actor.user_id))
    }
}

/// A key as the audit log names it: its first characters.
fn shown(prefix: &str) -> String {
    format!("{prefix}…")
}

fn no_key() -> AppError {
    AppError::Refused("This member has no API key. Activate them to issue one.".into())
}
