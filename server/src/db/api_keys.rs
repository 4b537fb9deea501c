//! API keys: stored as a keyed lookup hash, a display prefix and a sealed copy.

use super::Conn;
use super::team::stored_role;
use crate::clock::Millis;
use app::model::team::Role;
use sqlx::Row;

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

/// Ends the membership's current key now (Remove, Leave): a key that leaked before never
/// comes back with a later return; the member gets a new one when they join again.
pub async fn end_current(
    conn: &mut Conn,
    org_id: i64,
    user_id: i64,
    now: Millis,
) -> sqlx::Result<()> {
    sqlx::query(
        "update api_keys set expires_at = $3 \
         where org_id = $1 and user_id = $2 and expires_at is null",
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
    pub expires_at: Option<Millis>,
    pub status: String,
    pub role: Role,
}

/// The key stored under `lookup_hash`, with its member's current status and role.
pub async fn holder(conn: &mut Conn, lookup_hash: &str) -> sqlx::Result<Option<Holder>> {
    let row = sqlx::query(
        "select k.id, k.org_id, k.user_id, k.expires_at, u.email, m.status, m.role, m.role_id \
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
