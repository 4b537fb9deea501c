//! Organizations, users and memberships.

use super::Conn;
use crate::clock::Millis;
use sqlx::Row;

pub struct NewUser<'a> {
    pub email: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub password_hash: &'a str,
}

#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: i64,
    pub email: String,
    pub password_hash: String,
    pub verified: bool,
    pub default_org_id: Option<i64>,
}

/// Creates an organization with the default regions.
pub async fn insert_org(conn: &mut Conn, name: &str, now: Millis) -> sqlx::Result<i64> {
    let id = sqlx::query_scalar(
        "insert into organizations (name, created_at) values ($1, $2) returning id",
    )
    .bind(name)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    super::roles::add_default_regions(conn, id, now).await?;
    Ok(id)
}

pub async fn insert_user(
    conn: &mut Conn,
    u: NewUser<'_>,
    default_org: Option<i64>,
    now: Millis,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "insert into users (email, first_name, last_name, password_hash, default_org_id, created_at, updated_at) \
         values ($1, $2, $3, $4, $5, $6, $6) returning id",
    )
    .bind(u.email)
    .bind(u.first_name)
    .bind(u.last_name)
    .bind(u.password_hash)
    .bind(default_org)
    .bind(now)
    .fetch_one(conn)
    .await
}

pub async fn insert_membership(
    conn: &mut Conn,
    org_id: i64,
    user_id: i64,
    role: &str,
    now: Millis,
) -> sqlx::Result<()> {
    sqlx::query("insert into memberships (org_id, user_id, role, status, joined_at) values ($1, $2, $3, 'active', $4)")
        .bind(org_id)
        .bind(user_id)
        .bind(role)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

fn user_row(r: sqlx::any::AnyRow) -> sqlx::Result<UserRow> {
    Ok(UserRow {
        id: r.try_get("id")?,
        email: r.try_get("email")?,
        password_hash: r.try_get("password_hash")?,
        verified: r.try_get::<Option<i64>, _>("email_verified_at")?.is_some(),
        default_org_id: r.try_get("default_org_id")?,
    })
}

const USER_COLUMNS: &str = "id, email, password_hash, email_verified_at, default_org_id";

pub async fn find_by_email(conn: &mut Conn, email: &str) -> sqlx::Result<Option<UserRow>> {
    sqlx::query(&format!(
        "select {USER_COLUMNS} from users where email = $1"
    ))
    .bind(email)
    .fetch_optional(conn)
    .await?
    .map(user_row)
    .transpose()
}

pub async fn find(conn: &mut Conn, id: i64) -> sqlx::Result<Option<UserRow>> {
    sqlx::query(&format!("select {USER_COLUMNS} from users where id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .map(user_row)
        .transpose()
}

pub async fn mark_verified(conn: &mut Conn, id: i64, now: Millis) -> sqlx::Result<()> {
    sqlx::query("update users set email_verified_at = coalesce(email_verified_at, $2), updated_at = $2 where id = $1")
        .bind(id)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn set_password_hash(
    conn: &mut Conn,
    id: i64,
    hash: &str,
    now: Millis,
) -> sqlx::Result<()> {
    sqlx::query("update users set password_hash = $2, updated_at = $3 where id = $1")
        .bind(id)
        .bind(hash)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn update_profile(
    conn: &mut Conn,
    id: i64,
    first: &str,
    last: &str,
    mobile: Option<&str>,
    now: Millis,
) -> sqlx::Result<()> {
    sqlx::query("update users set first_name = $2, last_name = $3, mobile = $4, updated_at = $5 where id = $1")
        .bind(id)
        .bind(first)
        .bind(last)
        .bind(mobile)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn accept_terms(
    conn: &mut Conn,
    id: i64,
    version: &str,
    now: Millis,
) -> sqlx::Result<()> {
    sqlx::query("update users set terms_version = $2, terms_accepted_at = $3, updated_at = $3 where id = $1")
        .bind(id)
        .bind(version)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// The user as they see themselves in one organization.
pub struct Profile {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub mobile: Option<String>,
    pub org_name: String,
    pub role: app::model::team::Role,
    /// The role's name ("Admin", or a custom role's name).
    pub role_name: String,
    pub terms_version: Option<String>,
    pub default_org_id: Option<i64>,
}

pub async fn profile(conn: &mut Conn, user_id: i64, org_id: i64) -> sqlx::Result<Option<Profile>> {
    let row = sqlx::query(
        "select u.first_name, u.last_name, u.email, u.mobile, u.terms_version, u.default_org_id, o.name as org_name, m.role, m.role_id, r.name as role_name \
         from users u join memberships m on m.user_id = u.id join organizations o on o.id = m.org_id \
         left join roles r on r.id = m.role_id \
         where u.id = $1 and m.org_id = $2",
    )
    .bind(user_id)
    .bind(org_id)
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        Ok(Profile {
            first_name: r.try_get("first_name")?,
            last_name: r.try_get("last_name")?,
            email: r.try_get("email")?,
            mobile: r.try_get("mobile")?,
            org_name: r.try_get("org_name")?,
            role: super::team::stored_role(&r)?,
            role_name: r
                .try_get::<Option<String>, _>("role_name")?
                .unwrap_or_default(),
            terms_version: r.try_get("terms_version")?,
            default_org_id: r.try_get("default_org_id")?,
        })
    })
    .transpose()
}

/// The organization a signing-in user lands in: their default one while they are active
/// there, otherwise their earliest active membership.
pub async fn active_org(
    conn: &mut Conn,
    user_id: i64,
    preferred: Option<i64>,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "select org_id from memberships where user_id = $1 and status = 'active' \
         order by case when org_id = $2 then 0 else 1 end, joined_at limit 1",
    )
    .bind(user_id)
    .bind(preferred.unwrap_or(-1))
    .fetch_optional(conn)
    .await
}

/// The organizations the user is an active member of, by name.
pub async fn active_orgs(conn: &mut Conn, user_id: i64) -> sqlx::Result<Vec<(i64, String)>> {
    let rows = sqlx::query(
        "select o.id, o.name from memberships m join organizations o on o.id = m.org_id \
         where m.user_id = $1 and m.status = 'active' order by lower(o.name), o.id",
    )
    .bind(user_id)
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("name")?)))
        .collect()
}

pub async fn set_default_org(
    conn: &mut Conn,
    user_id: i64,
    org_id: i64,
    now: Millis,
) -> sqlx::Result<()> {
    sqlx::query("update users set default_org_id = $2, updated_at = $3 where id = $1")
        .bind(user_id)
        .bind(org_id)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// Whether the user is an active member of the organization.
pub async fn is_active_member(conn: &mut Conn, user_id: i64, org_id: i64) -> sqlx::Result<bool> {
    let found: Option<i64> = sqlx::query_scalar(
        "select user_id from memberships where user_id = $1 and org_id = $2 and status = 'active'",
    )
    .bind(user_id)
    .bind(org_id)
    .fetch_optional(conn)
    .await?;
    Ok(found.is_some())
}
