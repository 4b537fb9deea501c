//! API keys: stored as a keyed lookup hash, a display prefix and a sealed copy.

use super::Conn;
use super::team::stored_role;
use crate::clock::Millis;
use app::model::team::{KeyView, PreviousKey, Role};
use sqlx::Row;
use std::collections::HashMap;

/// A new current key for a membership.
pub struct NewKey<'a> {
    pub org_id: i64,
    pub user_id: i64,
    pub lookup_hash: &'a str,
    pub prefix: &'a str,
}

/// Inserts `key` as the membership's current key, unless it already has one (then `None`).
/// The sealed copy is written by `set_sealed` once the id, which it is bound to, is known.
pub async fn insert_current(
    conn: &mut Conn,
    key: NewKey<'_>,
    now: Millis,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "insert into api_keys (org_id, user_id, lookup_hash, prefix, sealed, created_at) \
         values ($1, $2, $3, $4, '', $5) \
         on conflict (org_id, user_id) where expires_at is null do nothing returning id",
    )
    .bind(key.org_id)
    .bind(key.user_id)
    .bind(key.lookup_hash)
    .bind(key.prefix)
    .bind(now)
    .fetch_optional(conn)
    .await
}

/// Ends every key of the membership that still works, the current one and any refreshed-away
/// key in its grace period, now (Remove, Leave): a key that leaked before never comes back
/// with a later return; the member gets a new one when they join again.
pub async fn end_all(conn: &mut Conn, org_id: i64, user_id: i64, now: Millis) -> sqlx::Result<()> {
    sqlx::query(
        "update api_keys set expires_at = $3 \
         where org_id = $1 and user_id = $2 and (expires_at is null or expires_at > $3)",
    )
    .bind(org_id)
    .bind(user_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn set_sealed(conn: &mut Conn, id: i64, sealed: &str) -> sqlx::Result<()> {
    sqlx::query("update api_keys set sealed = $2 where id = $1")
        .bind(id)
        .bind(sealed)
        .execute(conn)
        .await?;
    Ok(())
}

/// A stored key with the membership it belongs to, as the gateway check reads them.
pub struct Holder {
    pub key_id: i64,
    pub org_id: i64,
    pub user_id: i64,
    pub email: String,
    /// The version of the terms the member accepted last.
    pub terms_version: Option<String>,
    pub expires_at: Option<Millis>,
    pub status: String,
    pub role: Role,
}

/// The key stored under `lookup_hash`, with its member's current status and role.
pub async fn holder(conn: &mut Conn, lookup_hash: &str) -> sqlx::Result<Option<Holder>> {
    let row = sqlx::query(
        "select k.id, k.org_id, k.user_id, k.expires_at, u.email, u.terms_version, m.status, m.role, m.role_id \
         from api_keys k \
         join memberships m on m.org_id = k.org_id and m.user_id = k.user_id \
         join users u on u.id = k.user_id \
         where k.lookup_hash = $1",
    )
    .bind(lookup_hash)
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        Ok(Holder {
            key_id: r.try_get("id")?,
            org_id: r.try_get("org_id")?,
            user_id: r.try_get("user_id")?,
            email: r.try_get("email")?,
            terms_version: r.try_get("terms_version")?,
            expires_at: r.try_get("expires_at")?,
            status: r.try_get("status")?,
            role: stored_role(&r)?,
        })
    })
    .transpose()
}

/// The newest stored key: (id, organization, lookup hash, sealed copy).
pub async fn newest(conn: &mut Conn) -> sqlx::Result<Option<(i64, i64, String, String)>> {
    sqlx::query_as(
        "select id, org_id, lookup_hash, sealed from api_keys where sealed <> '' \
         order by id desc limit 1",
    )
    .fetch_optional(conn)
    .await
}

/// The first sixteen hex digits of every stored key's lookup hash.
pub async fn short_hashes(conn: &mut Conn) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("select substr(lookup_hash, 1, 16) from api_keys")
        .fetch_all(conn)
        .await
}

/// Active memberships without a current key: (organization, user).
pub async fn active_without_key(conn: &mut Conn) -> sqlx::Result<Vec<(i64, i64)>> {
    sqlx::query_as(
        "select m.org_id, m.user_id from memberships m where m.status = 'active' and not exists \
         (select 1 from api_keys k where k.org_id = m.org_id and k.user_id = m.user_id \
          and k.expires_at is null) order by m.org_id, m.user_id",
    )
    .fetch_all(conn)
    .await
}

/// Records `fingerprint` as the server secret's unless one is recorded already; returns the
/// recorded one.
pub async fn record_fingerprint(conn: &mut Conn, fingerprint: &str) -> sqlx::Result<String> {
    sqlx::query(
        "insert into server_secret (id, fingerprint) values (1, $1) on conflict (id) do nothing",
    )
    .bind(fingerprint)
    .execute(&mut *conn)
    .await?;
    sqlx::query_scalar("select fingerprint from server_secret where id = 1")
        .fetch_one(conn)
        .await
}

/// A membership's current key, as "Copy API Key" and "Refresh" need it.
pub struct CurrentKey {
    pub id: i64,
    pub prefix: String,
    pub sealed: String,
}

pub async fn current(
    conn: &mut Conn,
    org_id: i64,
    user_id: i64,
) -> sqlx::Result<Option<CurrentKey>> {
    let row: Option<(i64, String, String)> = sqlx::query_as(
        "select id, prefix, sealed from api_keys \
         where org_id = $1 and user_id = $2 and expires_at is null",
    )
    .bind(org_id)
    .bind(user_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(id, prefix, sealed)| CurrentKey { id, prefix, sealed }))
}

/// Names the key that replaced key `id`.
pub async fn set_replaced_by(conn: &mut Conn, id: i64, by: i64) -> sqlx::Result<()> {
    sqlx::query("update api_keys set replaced_by = $2 where id = $1")
        .bind(id)
        .bind(by)
        .execute(conn)
        .await?;
    Ok(())
}

/// Ends now every refreshed-away key of the membership still in its grace period, so at most
/// one old key works beside the current one.
pub async fn end_replaced(
    conn: &mut Conn,
    org_id: i64,
    user_id: i64,
    now: Millis,
) -> sqlx::Result<()> {
    sqlx::query(
        "update api_keys set expires_at = $3 \
         where org_id = $1 and user_id = $2 and expires_at > $3",
    )
    .bind(org_id)
    .bind(user_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Keys the membership was given since `since`.
pub async fn issued_since(
    conn: &mut Conn,
    org_id: i64,
    user_id: i64,
    since: Millis,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "select count(*) from api_keys where org_id = $1 and user_id = $2 and created_at > $3",
    )
    .bind(org_id)
    .bind(user_id)
    .bind(since)
    .fetch_one(conn)
    .await
}

/// Ends key `id` at `at`, before its replacement is inserted (one current key at a time).
pub async fn end(conn: &mut Conn, id: i64, at: Millis) -> sqlx::Result<()> {
    sqlx::query("update api_keys set expires_at = $2 where id = $1")
        .bind(id)
        .bind(at)
        .execute(conn)
        .await?;
    Ok(())
}

/// (user, id, prefix, expires_at, last_used_at)
type KeyRow = (i64, i64, String, Option<Millis>, Option<Millis>);

/// The keys of members of `org_id` among `user_ids` as rows show them: the current key and,
/// while it still works after `now`, the newest key it replaced.
pub async fn views(
    conn: &mut Conn,
    org_id: i64,
    user_ids: &[i64],
    now: Millis,
) -> sqlx::Result<HashMap<i64, KeyView>> {
    let mut out = HashMap::new();
    if user_ids.is_empty() {
        return Ok(out);
    }
    let list: Vec<String> = user_ids.iter().map(i64::to_string).collect();
    // The ids are numbers, formatted here: nothing from a request reaches the text.
    let rows: Vec<KeyRow> = sqlx::query_as(&format!(
        "select user_id, id, prefix, expires_at, last_used_at from api_keys \
         where org_id = $1 and user_id in ({}) and (expires_at is null or expires_at > $2) \
         order by id",
        list.join(", ")
    ))
    .bind(org_id)
    .bind(now)
    .fetch_all(conn)
    .await?;
    let mut previous: HashMap<i64, PreviousKey> = HashMap::new();
    for (user_id, id, prefix, expires_at, last_used_at) in rows {
        match expires_at {
            None => {
                out.insert(
                    user_id,
                    KeyView {
                        id,
                        user_id,
                        prefix,
                        last_used_at,
                        previous: None,
                    },
                );
            }
            // In id order, so the newest replaced key wins.
            Some(ends_at) => {
                previous.insert(
                    user_id,
                    PreviousKey {
                        prefix,
                        ends_at,
                        last_used_at,
                    },
                );
            }
        }
    }
    for (user_id, p) in previous {
        if let Some(view) = out.get_mut(&user_id) {
            view.previous = Some(p);
        }
    }
    Ok(out)
}
