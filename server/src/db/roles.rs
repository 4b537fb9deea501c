//! Regions, custom roles and their grants.

use super::Conn;
use crate::clock::Millis;
use app::authz::{Access, CustomGrants, Feature, Grant, Level, Region, default_regions};
use app::model::team::Role;
use sqlx::Row;

/// The organization's regions, oldest first.
pub async fn regions(conn: &mut Conn, org_id: i64) -> sqlx::Result<Vec<Region>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "select code, name from regions where org_id = $1 order by created_at, code",
    )
    .bind(org_id)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(code, name)| Region { code, name })
        .collect())
}

/// Adds a region; false when the organization already has one with that code.
pub async fn add_region(
    conn: &mut Conn,
    org_id: i64,
    region: &Region,
    now: Millis,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "insert into regions (org_id, code, name, created_at) values ($1, $2, $3, $4) \
         on conflict (org_id, code) do nothing",
    )
    .bind(org_id)
    .bind(&region.code)
    .bind(&region.name)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives a new organization the default regions (US and EU).
pub async fn add_default_regions(conn: &mut Conn, org_id: i64, now: Millis) -> sqlx::Result<()> {
    for (i, region) in default_regions().iter().enumerate() {
        // Distinct instants keep the order stable.
        add_region(conn, org_id, region, now + i as i64).await?;
    }
    Ok(())
}

/// A custom role with its grants and how many members and pending invitations hold it.
#[derive(Clone, Debug)]
pub struct CustomRole {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub grants: CustomGrants,
    pub members: i64,
}

/// Adds one `role_grants` row to the grants it belongs to.
fn add_grant(grants: &mut CustomGrants, r: &sqlx::any::AnyRow) -> sqlx::Result<()> {
    let region: String = r.try_get("region")?;
    let feature: String = r.try_get("feature")?;
    let (Some(feature), Some(level)) = (
        Feature::parse(&feature),
        Level::from_i64(r.try_get("level")?),
    ) else {
        return Ok(());
    };
    let grant = Grant::new(level, r.try_get::<i64, _>("download")? != 0);
    let grid = if region.is_empty() {
        &mut grants.org_wide
    } else {
        grants.regions.entry(region).or_default()
    };
    grid.set(feature, grant);
    Ok(())
}

async fn grants_of(conn: &mut Conn, role_id: i64) -> sqlx::Result<CustomGrants> {
    let rows =
        sqlx::query("select region, feature, level, download from role_grants where role_id = $1")
            .bind(role_id)
            .fetch_all(conn)
            .await?;
    let mut grants = CustomGrants::default();
    for r in &rows {
        add_grant(&mut grants, r)?;
    }
    Ok(grants)
}

/// What a role grants. A custom role's grants are read from the database; for a region the
/// role has no row for, it grants nothing there.
pub async fn access(conn: &mut Conn, role: Role) -> sqlx::Result<Access> {
    Ok(match (role.built_in(), role) {
        (Some(b), _) => Access::BuiltIn(b),
        (None, Role::Custom(id)) => Access::Custom(grants_of(conn, id).await?),
        (None, _) => Access::Custom(CustomGrants::default()),
    })
}

const ROLE_COLUMNS: &str = "r.id, r.name, r.description, \
    (select count(*) from memberships m where m.role_id = r.id and m.status <> 'removed') \
  + (select count(*) from invitations i where i.role_id = r.id and i.status = 'pending') as members";

fn role_row(r: &sqlx::any::AnyRow) -> sqlx::Result<CustomRole> {
    Ok(CustomRole {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        members: r.try_get("members")?,
        grants: CustomGrants::default(),
    })
}

/// The organization's custom roles, by name, with their grants and member counts (two
/// queries in all).
pub async fn list(conn: &mut Conn, org_id: i64) -> sqlx::Result<Vec<CustomRole>> {
    list_of(conn, org_id, ROLE_COLUMNS).await
}

/// The organization's custom roles with their grants, without counting their members (each
/// `members` is 0).
pub async fn list_uncounted(conn: &mut Conn, org_id: i64) -> sqlx::Result<Vec<CustomRole>> {
    list_of(
        conn,
        org_id,
        "r.id, r.name, r.description, cast(0 as bigint) as members",
    )
    .await
}

async fn list_of(conn: &mut Conn, org_id: i64, columns: &str) -> sqlx::Result<Vec<CustomRole>> {
    let rows = sqlx::query(&format!(
        "select {columns} from roles r where r.org_id = $1 order by r.name_key"
    ))
    .bind(org_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = rows
        .iter()
        .map(role_row)
        .collect::<sqlx::Result<Vec<_>>>()?;
    let grants = sqlx::query(
        "select g.role_id, g.region, g.feature, g.level, g.download from role_grants g \
         join roles r on r.id = g.role_id where r.org_id = $1",
    )
    .bind(org_id)
    .fetch_all(conn)
    .await?;
    for g in &grants {
        let role_id: i64 = g.try_get("role_id")?;
        if let Some(role) = out.iter_mut().find(|r| r.id == role_id) {
            add_grant(&mut role.grants, g)?;
        }
    }
    Ok(out)
}

/// One custom role of the organization (another organization's id finds nothing).
pub async fn get(conn: &mut Conn, org_id: i64, id: i64) -> sqlx::Result<Option<CustomRole>> {
    let row = sqlx::query(&format!(
        "select {ROLE_COLUMNS} from roles r where r.org_id = $1 and r.id = $2"
    ))
    .bind(org_id)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        Some(r) => {
            let mut role = role_row(&r)?;
            role.grants = grants_of(conn, role.id).await?;
            Ok(Some(role))
        }
        None => Ok(None),
    }
}

async fn write_grants(conn: &mut Conn, role_id: i64, grants: &CustomGrants) -> sqlx::Result<()> {
    sqlx::query("delete from role_grants where role_id = $1")
        .bind(role_id)
        .execute(&mut *conn)
        .await?;
    let grids = std::iter::once(("", &grants.org_wide))
        .chain(grants.regions.iter().map(|(code, g)| (code.as_str(), g)));
    for (region, grid) in grids {
        for feature in Feature::ALL {
            let grant = grid.get(feature);
            if grant.level == Level::NoAccess {
                continue;
            }
            sqlx::query(
                "insert into role_grants (role_id, region, feature, level, download) values ($1, $2, $3, $4, $5)",
            )
            .bind(role_id)
            .bind(region)
            .bind(feature.key())
            .bind(grant.level.as_i64())
            .bind(i64::from(grant.download))
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}

pub struct RoleInput<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub grants: &'a CustomGrants,
}

/// Creates a custom role; a name already taken (ignoring case) fails as a unique violation.
pub async fn insert(
    conn: &mut Conn,
    org_id: i64,
    input: RoleInput<'_>,
    now: Millis,
) -> sqlx::Result<i64> {
    let id: i64 = sqlx::query_scalar(
        "insert into roles (org_id, name, name_key, description, created_at, updated_at) \
         values ($1, $2, $3, $4, $5, $5) returning id",
    )
    .bind(org_id)
    .bind(input.name)
    .bind(input.name.to_lowercase())
    .bind(input.description)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    write_grants(conn, id, input.grants).await?;
    Ok(id)
}

pub async fn update(
    conn: &mut Conn,
    id: i64,
    input: RoleInput<'_>,
    now: Millis,
) -> sqlx::Result<()> {
    sqlx::query(
        "update roles set name = $2, name_key = $3, description = $4, updated_at = $5 where id = $1",
    )
    .bind(id)
    .bind(input.name)
    .bind(input.name.to_lowercase())
    .bind(input.description)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    write_grants(conn, id, input.grants).await
}

/// Members (not removed) holding custom role `role_id`.
pub async fn holders(conn: &mut Conn, org_id: i64, role_id: i64) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar(
        "select user_id from memberships where org_id = $1 and role_id = $2 and status <> 'removed' \
         order by user_id",
    )
    .bind(org_id)
    .bind(role_id)
    .fetch_all(conn)
    .await
}

/// Moves every member and pending invitation holding custom role `from` to `to`, then
/// deletes the role. Removed members' memberships keep no reference to it.
pub async fn delete_moving_to(
    conn: &mut Conn,
    org_id: i64,
    from: i64,
    to: Role,
) -> sqlx::Result<()> {
    let (role, role_id) = to.stored();
    for table in ["memberships", "invitations"] {
        sqlx::query(&format!(
            "update {table} set role = $3, role_id = $4 where org_id = $1 and role_id = $2"
        ))
        .bind(org_id)
        .bind(from)
        .bind(role)
        .bind(role_id)
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query("delete from roles where id = $1 and org_id = $2")
        .bind(from)
        .bind(org_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Whether `role` exists in the organization (built-in roles always do).
pub async fn exists(conn: &mut Conn, org_id: i64, role: Role) -> sqlx::Result<bool> {
    match role {
        Role::Custom(id) => {
            let found: Option<i64> =
                sqlx::query_scalar("select id from roles where org_id = $1 and id = $2")
                    .bind(org_id)
                    .bind(id)
                    .fetch_optional(conn)
                    .await?;
            Ok(found.is_some())
        }
        _ => Ok(true),
    }
}

/// The role's name as members see it.
pub async fn name(conn: &mut Conn, org_id: i64, role: Role) -> sqlx::Result<String> {
    match role {
        Role::Custom(id) => Ok(sqlx::query_scalar(
            "select name from roles where org_id = $1 and id = $2",
        )
        .bind(org_id)
        .bind(id)
        .fetch_optional(conn)
        .await?
        .unwrap_or_else(|| "Custom".to_owned())),
        other => Ok(other.label().to_owned()),
    }
}

/// Active Admins of the organization, by name: who the Owner may hand it to.
pub async fn active_admins(
    conn: &mut Conn,
    org_id: i64,
) -> sqlx::Result<Vec<(i64, String, String)>> {
    sqlx::query_as(
        "select u.id, u.first_name || ' ' || u.last_name, u.email from memberships m \
         join users u on u.id = m.user_id \
         where m.org_id = $1 and m.role = 'admin' and m.status = 'active' \
         order by u.first_name, u.last_name, u.id",
    )
    .bind(org_id)
    .fetch_all(conn)
    .await
}

pub async fn org_name(conn: &mut Conn, org_id: i64) -> sqlx::Result<String> {
    sqlx::query_scalar("select name from organizations where id = $1")
        .bind(org_id)
        .fetch_one(conn)
        .await
}

pub async fn set_seat_limit(conn: &mut Conn, org_id: i64, limit: i64) -> sqlx::Result<()> {
    sqlx::query("update organizations set seat_limit = $2 where id = $1")
        .bind(org_id)
        .bind(limit)
        .execute(conn)
        .await?;
    Ok(())
}
