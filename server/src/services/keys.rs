//! Members' API keys: a membership that becomes active gets a current key in the same
//! transaction, unless it still has one; and at start the server secret must open the keys
//! already stored.

use super::{AccountService, OrInternal};
use crate::auth::api_key::ApiKey;
use crate::auth::secret::{Keys, SecretError, SecretSource};
use crate::db::{Conn, Store, api_keys};
use app::error::AppError;

impl AccountService {
    /// Gives the member of `org_id` a current API key unless they have one (a member
    /// activated again keeps theirs), in the caller's transaction; the new key's id.
    pub(crate) async fn issue_api_key(
        &self,
        conn: &mut Conn,
        org_id: i64,
        user_id: i64,
    ) -> Result<Option<i64>, AppError> {
        let key = ApiKey::generate();
        let lookup_hash = self.keys.lookup_hash(&key);
        let new = api_keys::NewKey {
            org_id,
            user_id,
            lookup_hash: &lookup_hash,
            prefix: key.shown(),
        };
        let Some(id) = api_keys::insert_current(conn, new, self.clock.now())
            .await
            .or_internal("issue api key")?
        else {
            return Ok(None);
        };
        self.events
            .key_issued(conn, &lookup_hash)
            .await
            .or_internal("announce api key")?;
        api_keys::set_sealed(conn, id, &self.keys.seal(&key, org_id, id))
            .await
            .or_internal("seal api key")?;
        Ok(Some(id))
    }
}

/// Refuses to start when the secret does not open the newest stored key (or its lookup hash
/// no longer matches), or differs from the secret the database first started with (recorded
/// as a fingerprint, so instances that each made their own secret file meet here even before
/// any key exists): a missing or different secret never silently makes new keys.
pub async fn check_secret(
    store: &Store,
    keys: &Keys,
    source: &SecretSource,
) -> Result<(), StartCheck> {
    let mismatch = || Err(SecretError::Mismatch(source.describe()).into());
    let mut conn = store.pool.acquire().await?;
    if let Some((id, org_id, lookup_hash, sealed)) = api_keys::newest(&mut conn).await? {
        match keys.open(&sealed, org_id, id) {
            Some(key) if keys.lookup_hash(&key) == lookup_hash => {}
            _ => return mismatch(),
        }
    }
    // Recorded only once the stored keys have opened: a database that already holds keys
    // records the secret they were sealed with.
    let recorded = api_keys::record_fingerprint(&mut conn, &keys.fingerprint()).await?;
    if recorded != keys.fingerprint() {
        return mismatch();
    }
    Ok(())
}

/// Why the start-up check of the secret failed.
#[derive(Debug, thiserror::Error)]
pub enum StartCheck {
    #[error("cannot read the API keys: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Secret(#[from] SecretError),
}

impl AccountService {
    /// Gives every active member without a current key one (the members who joined before
    /// keys existed), each in its own short transaction.
    pub async fn issue_missing_api_keys(&self) -> Result<(), AppError> {
        let mut conn = self.store.pool.acquire().await.or_internal("acquire")?;
        let missing = api_keys::active_without_key(&mut conn)
            .await
            .or_internal("find members without a key")?;
        drop(conn);
        for &(org_id, user_id) in &missing {
            let mut tx = self.store.write().await.or_internal("begin")?;
            self.issue_api_key(&mut tx, org_id, user_id).await?;
            tx.commit().await.or_internal("commit")?;
        }
        Ok(())
    }
}
