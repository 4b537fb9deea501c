//! An organization's domains and its auto-join settings.

use super::Conn;
use crate::clock::Millis;
use sqlx::Row;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Domain {
    pub id: i64,
    pub org_id: i64,
    pub domain: String,
    pub token: String,
    pub status: String,
    pub verified_at: Option<Millis>,
    pub last_checked_at: Option<Millis>,
    pub failed_checks: i64,
}

const COLUMNS: &str =
    "id, org_id, domain, token, status, verified_at, last_checked_at, failed_checks";

fn domain(row: &sqlx::any::AnyRow) -> sqlx::Result<Domain> {
    Ok(Domain {
        id: row.try_get(0)?,
        org_id: row.try_get(1)?,
        domain: row.try_get(2)?,
        token: row.try_get(3)?,
        status: row.try_get(4)?,
        verified_at: row.try_get(5)?,
        last_checked_at: row.try_get(6)?,
        failed_checks: row.try_get(7)?,
    })
}

pub async fn list(conn: &mut Conn, org_id: i64) -> sqlx::Result<Vec<Domain>> {
    let rows = sqlx::query(&format!(
        "select {COLUMNS} from org_domains where org_id = $1 order by domain"
    ))
    .bind(org_id)
    .fetch_all(conn)
    .await?;
    rows.iter().map(domain).collect()
}

pub async fn get(conn: &mut Conn, org_id: i64, id: i64) -> sqlx::Result<Option<Domain>> {
    let row = sqlx::query(&format!(
        "select {COLUMNS} from org_domains where org_id = $1 and id = $2"
    ))
    .bind(org_id)
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(domain).transpose()
}

/// Adds a pending domain; a unique violation when the organization has it already.
pub async fn insert(
    conn: &mut Conn,
    org_id: i64,
    name: &str,
    token: &str,
    now: Millis,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "insert into org_domains (org_id, domain, token, status, created_at) \
         values ($1, $2, $3, 'pending', $4) returning id",
    )
    .bind(org_id)
    .bind(name)
    .bind(token)
    .bind(now)
    .fetch_one(conn)
    .await
}

/// The organization that holds `name` verified, other than `org_id`.
pub async fn verified_elsewhere(conn: &mut Conn, name: &str, org_id: i64) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "select count(*) from org_domains where domain = $1 and status = 'verified' and org_id <> $2",
    )
    .bind(name)
    .bind(org_id)
    .fetch_one(conn)
    .await?;
    Ok(n > 0)
}

/// Marks the domain verified (a unique violation when another organization holds it).
pub async fn set_verified(conn: &mut Conn, id: i64, now: Millis) -> sqlx::Result<()> {
    sqlx::query(
        "update org_domains set status = 'verified', verified_at = coalesce(verified_at, $2), \
            last_checked_at = $2, failed_checks = 0 where id = $1",
    )
    .bind(id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a check that did not find the token; returns the failures in a row.
pub async fn set_failed(conn: &mut Conn, id: i64, now: Millis) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "update org_domains set last_checked_at = $2, failed_checks = failed_checks + 1 \
         where id = $1 returning failed_checks",
    )
    .bind(id)
    .bind(now)
    .fetch_one(conn)
    .await
}

pub async fn set_lapsed(conn: &mut Conn, id: i64) -> sqlx::Result<()> {
    sqlx::query("update org_domains set status = 'lapsed' where id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn delete(conn: &mut Conn, org_id: i64, id: i64) -> sqlx::Result<bool> {
    let n = sqlx::query("delete from org_domains where org_id = $1 and id = $2")
        .bind(org_id)
        .bind(id)
        .execute(conn)
        .await?
        .rows_affected();
    Ok(n > 0)
}

/// Verified and lapsed domains not checked since `before`, oldest check first.
pub async fn due(conn: &mut Conn, before: Millis, limit: i64) -> sqlx::Result<Vec<Domain>> {
    let rows = sqlx::query(&format!(
        "select {COLUMNS} from org_domains where status in ('verified', 'lapsed') \
           and coalesce(last_checked_at, 0) < $1 order by coalesce(last_checked_at, 0), id limit $2"
    ))
    .bind(before)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(domain).collect()
}

/// An organization's auto-join settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AutoJoin {
    pub org_id: i64,
    pub org_name: String,
    /// `off`, `suggest` or `automatic`.
    pub mode: String,
    /// A role key.
    pub role: String,
}

pub async fn auto_join(conn: &mut Conn, org_id: i64) -> sqlx::Result<AutoJoin> {
    let row =
        sqlx::query("select id, name, auto_join, auto_join_role from organizations where id = $1")
            .bind(org_id)
            .fetch_one(conn)
            .await?;
    Ok(AutoJoin {
        org_id: row.try_get(0)?,
        org_name: row.try_get(1)?,
        mode: row.try_get(2)?,
        role: row.try_get(3)?,
    })
}

pub async fn set_auto_join(
    conn: &mut Conn,
    org_id: i64,
    mode: &str,
    role: &str,
) -> sqlx::Result<()> {
    sqlx::query("update organizations set auto_join = $2, auto_join_role = $3 where id = $1")
        .bind(org_id)
        .bind(mode)
        .bind(role)
        .execute(conn)
        .await?;
    Ok(())
}

/// The organization whose verified domain is `name`, with auto-join on.
pub async fn joinable(conn: &mut Conn, name: &str) -> sqlx::Result<Option<AutoJoin>> {
    let row = sqlx::query(
        "select o.id, o.name, o.auto_join, o.auto_join_role from org_domains d \
         join organizations o on o.id = d.org_id \
         where d.domain = $1 and d.status = 'verified' and o.auto_join <> 'off'",
    )
    .bind(name)
    .fetch_optional(conn)
    .await?;
    row.map(|row| {
        Ok(AutoJoin {
            org_id: row.try_get(0)?,
            org_name: row.try_get(1)?,
            mode: row.try_get(2)?,
            role: row.try_get(3)?,
        })
    })
    .transpose()
}

/// Whether the admins may be told the seats are full now (at most once a day); marks it.
pub async fn claim_seats_full_mail(
    conn: &mut Conn,
    org_id: i64,
    now: Millis,
    every: Millis,
) -> sqlx::Result<bool> {
    let n = sqlx::query(
        "update organizations set seats_full_mailed_at = $2 \
         where id = $1 and (seats_full_mailed_at is null or seats_full_mailed_at <= $3)",
    )
    .bind(org_id)
    .bind(now)
    .bind(now - every)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n > 0)
}

pub async fn rename(conn: &mut Conn, org_id: i64, name: &str) -> sqlx::Result<()> {
    sqlx::query("update organizations set name = $2 where id = $1")
        .bind(org_id)
        .bind(name)
        .execute(conn)
        .await?;
    Ok(())
}
