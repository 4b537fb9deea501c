//! The team of an organization: seats, the member/invitation list, invitations and their links.

use super::{Backend, Conn};
use crate::clock::Millis;
use app::model::team::{PAGE_SIZE, Role, RowKind, Seats, SortKey, Status, TeamQuery, TeamRow};
use sqlx::Row;

/// Locks the organization row for the rest of the transaction and returns its seat limit.
/// Every change to an organization's team takes this lock first, so changes to one team
/// happen one after another and the seat count read under it stays true until commit.
/// (SQLite write transactions already hold the database's single write lock.)
pub async fn lock_org(conn: &mut Conn, backend: Backend, org_id: i64) -> sqlx::Result<Option<i64>> {
    let sql = match backend {
        Backend::Postgres => "select seat_limit from organizations where id = $1 for update",
        Backend::Sqlite => "select seat_limit from organizations where id = $1",
    };
    sqlx::query_scalar(sql)
        .bind(org_id)
        .fetch_optional(conn)
        .await
}

/// Seats held now: members who are not removed (the Owner included) and unexpired
/// pending invitations.
pub async fn seats_used(conn: &mut Conn, org_id: i64, now: Millis) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "select (select count(*) from memberships where org_id = $1 and status <> 'removed') \
              + (select count(*) from invitations where org_id = $1 and status = 'pending' and expires_at > $2)",
    )
    .bind(org_id)
    .bind(now)
    .fetch_one(conn)
    .await
}

/// Seats in use and the limit, in one read (for showing, not for deciding: that needs the lock).
pub async fn seats(conn: &mut Conn, org_id: i64, now: Millis) -> sqlx::Result<Seats> {
    let (used, limit): (i64, i64) = sqlx::query_as(
        "select (select count(*) from memberships where org_id = $1 and status <> 'removed') \
              + (select count(*) from invitations where org_id = $1 and status = 'pending' and expires_at > $2), \
                seat_limit from organizations where id = $1",
    )
    .bind(org_id)
    .bind(now)
    .fetch_one(conn)
    .await?;
    Ok(Seats { used, limit })
}

fn sort_expr(key: SortKey, backend: Backend) -> &'static str {
    match key {
        // Invitations without a name sort by their address among the names. SQLite's NOCASE
        // collation compares without building lower-case copies.
        SortKey::Name if backend == Backend::Sqlite => {
            "(case when t.first_name = '' then t.email else t.first_name end) collate nocase, \
             t.last_name collate nocase"
        }
        SortKey::Name => {
            "lower(case when t.first_name = '' then t.email else t.first_name end), lower(t.last_name)"
        }
        SortKey::Email => "t.email",
        SortKey::Role => {
            "case t.role when 'owner' then 0 when 'admin' then 1 when 'member' then 2 \
             when 'visitor' then 3 else 4 end, t.role_name"
        }
        SortKey::Status => {
            "case t.status when 'active' then 0 when 'pending' then 1 when 'disabled' then 2 else 3 end"
        }
        SortKey::Date => "t.at",
    }
}

/// The search as a pattern for `search_filter`: on PostgreSQL `%text%` for LIKE over lower-cased
/// text; on SQLite, whose `lower()` and LIKE fold ASCII only, a GLOB with each letter as a class
/// of its cases (`[éÉ]`), so "é" finds "É" there too. Pattern characters are taken literally.
fn search_pattern(backend: Backend, search: &str) -> String {
    match backend {
        Backend::Postgres => like_pattern(search),
        Backend::Sqlite => glob_pattern(search),
    }
}

fn glob_pattern(search: &str) -> String {
    let mut p = String::from("*");
    for c in search.trim().chars() {
        let (lower, upper): (Vec<char>, Vec<char>) =
            (c.to_lowercase().collect(), c.to_uppercase().collect());
        let mut cases: Vec<char> = vec![c];
        for v in [lower, upper] {
            // A case that is several characters (ß → SS) cannot stand in for one.
            if let [one] = v[..]
                && !cases.contains(&one)
            {
                cases.push(one);
            }
        }
        if cases.len() == 1 && !matches!(c, '*' | '?' | '[' | ']') {
            p.push(c);
        } else {
            p.push('[');
            // In a class, `]` is literal only first; the others are literal anywhere in it.
            cases.sort_by_key(|&x| x != ']');
            p.extend(cases);
            p.push(']');
        }
    }
    p.push('*');
    p
}

/// `%text%` for LIKE, with the pattern characters in the text taken literally.
fn like_pattern(search: &str) -> String {
    let mut p = String::from("%");
    for c in search.trim().to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

const TEAM_ROWS: &str = "with t as ( \
    select cast(0 as bigint) as kind, u.id as id, coalesce(m.first_name, u.first_name) as first_name, \
           coalesce(m.last_name, u.last_name) as last_name, u.email, \
           nullif(coalesce(m.mobile, u.mobile), '') as mobile, \
           m.role, m.role_id, coalesce(r.name, '') as role_name, m.status, m.joined_at as at \
    from memberships m join users u on u.id = m.user_id left join roles r on r.id = m.role_id \
    where m.org_id = $1 and m.status <> 'removed' \
    union all \
    select cast(1 as bigint), i.id, i.first_name, i.last_name, i.email, null, i.role, i.role_id, \
           coalesce(r.name, ''), case when i.expires_at > $2 then 'pending' else 'expired' end, i.sent_at \
    from invitations i left join roles r on r.id = i.role_id where i.org_id = $1 and i.status = 'pending' ) ";

const TEAM_FILTER: &str = "where ($3 = '%%' or lower(t.first_name || ' ' || t.last_name) like $3 escape '\\' \
        or t.email like $3 escape '\\') \
    and ($4 = '' or t.role = $4) and ($6 = 0 or t.role_id = $6) and ($5 = '' or t.status = $5) ";

const TEAM_FILTER_SQLITE: &str = "where ($3 = '**' or (t.first_name || ' ' || t.last_name) glob $3 \
        or t.email glob $3) \
    and ($4 = '' or t.role = $4) and ($6 = 0 or t.role_id = $6) and ($5 = '' or t.status = $5) ";

fn team_filter(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => TEAM_FILTER,
        Backend::Sqlite => TEAM_FILTER_SQLITE,
    }
}

/// How many rows match without a search: counted from the two tables' indexes alone.
const TEAM_COUNT_UNSEARCHED: &str = "select \
    (select count(*) from memberships m where m.org_id = $1 and m.status <> 'removed' \
        and ($3 = '' or m.role = $3) and ($5 = 0 or m.role_id = $5) and ($4 = '' or m.status = $4)) \
  + (select count(*) from invitations i where i.org_id = $1 and i.status = 'pending' \
        and ($3 = '' or i.role = $3) and ($5 = 0 or i.role_id = $5) \
        and ($4 = '' or (case when i.expires_at > $2 then 'pending' else 'expired' end) = $4))";

/// The role stored in a row's `role` and `role_id` columns. A value the code cannot read
/// is an error (logged, and the request refused), never quietly some other role.
pub(crate) fn stored_role(r: &sqlx::any::AnyRow) -> sqlx::Result<Role> {
    let role: String = r.try_get("role")?;
    let role_id: Option<i64> = r.try_get("role_id")?;
    Role::from_stored(&role, role_id).ok_or_else(|| {
        sqlx::Error::Decode(format!("unknown stored role {role:?} (role_id {role_id:?})").into())
    })
}

/// One page of members and invitations matching the query, and how many match in all.
pub async fn list(
    conn: &mut Conn,
    backend: Backend,
    org_id: i64,
    viewer: i64,
    q: &TeamQuery,
    now: Millis,
) -> sqlx::Result<(Vec<TeamRow>, i64)> {
    let direction = if q.descending { "desc" } else { "asc" };
    let order = format!(
        "order by {}, t.kind, t.id",
        sort_expr(q.sort, backend)
            .split(", ")
            .map(|e| format!("{e} {direction}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let filter = team_filter(backend);
    let sql = format!("{TEAM_ROWS} select t.* from t {filter} {order} limit $7 offset $8");
    let pattern = search_pattern(backend, &q.search);
    let (role, role_id) = q.role.map(Role::stored).unwrap_or(("", None));
    let role_id = role_id.unwrap_or(0);
    let status = q.status.map(Status::as_str).unwrap_or("");
    let offset = (q.page.max(1) - 1) * PAGE_SIZE;
    let rows = sqlx::query(&sql)
        .bind(org_id)
        .bind(now)
        .bind(&pattern)
        .bind(role)
        .bind(status)
        .bind(role_id)
        .bind(PAGE_SIZE)
        .bind(offset)
        .fetch_all(&mut *conn)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let kind = if r.try_get::<i64, _>("kind")? == 0 {
            RowKind::Member
        } else {
            RowKind::Invitation
        };
        let id: i64 = r.try_get("id")?;
        let role = stored_role(&r)?;
        let role_name: String = r.try_get("role_name")?;
        let status: String = r.try_get("status")?;
        out.push(TeamRow {
            kind,
            id,
            first_name: r.try_get("first_name")?,
            last_name: r.try_get("last_name")?,
            email: r.try_get("email")?,
            mobile: r.try_get("mobile")?,
            role,
            role_name: if role_name.is_empty() {
                role.label().to_owned()
            } else {
                role_name
            },
            status: Status::parse(&status).unwrap_or(Status::Active),
            date: r.try_get("at")?,
            is_self: kind == RowKind::Member && id == viewer,
            key: None,
        });
    }
    let total = if q.search.trim().is_empty() {
        sqlx::query_scalar(TEAM_COUNT_UNSEARCHED)
            .bind(org_id)
            .bind(now)
            .bind(role)
            .bind(status)
            .bind(role_id)
            .fetch_one(conn)
            .await?
    } else {
        let sql = format!("{TEAM_ROWS} select count(*) from t {filter}");
        sqlx::query_scalar(&sql)
            .bind(org_id)
            .bind(now)
            .bind(&pattern)
            .bind(role)
            .bind(status)
            .bind(role_id)
            .fetch_one(conn)
            .await?
    };
    Ok((out, total))
}

/// How the organization shows a member: each value is stored only where it differs from
/// the person's own, so later changes on their Profile still show where nobody overrode them.
pub async fn set_details(
    conn: &mut Conn,
    org_id: i64,
    user_id: i64,
    first: &str,
    last: &str,
    mobile: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "update memberships set \
           first_name = (select case when u.first_name = $3 then null else $3 end from users u where u.id = $2), \
           last_name = (select case when u.last_name = $4 then null else $4 end from users u where u.id = $2), \
           mobile = (select case when coalesce(u.mobile, '') = $5 then null else $5 end from users u where u.id = $2) \
         where org_id = $1 and user_id = $2",
    )
    .bind(org_id)
    .bind(user_id)
    .bind(first)
    .bind(last)
    .bind(mobile)
    .execute(conn)
    .await?;
    Ok(())
}

/// A member's role and status in an organization (removed members included).
pub struct Membership {
    pub role: Role,
    pub status: String,
    pub email: String,
}

pub async fn membership(
    conn: &mut Conn,
    org_id: i64,
    user_id: i64,
) -> sqlx::Result<Option<Membership>> {
    let row = sqlx::query(
        "select m.role, m.role_id, m.status, u.email from memberships m join users u on u.id = m.user_id \
         where m.org_id = $1 and m.user_id = $2",
    )
    .bind(org_id)
    .bind(user_id)
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        Ok(Membership {
            role: stored_role(&r)?,
            status: r.try_get("status")?,
            email: r.try_get("email")?,
        })
    })
    .transpose()
}

/// The status of the membership of the account with this address, if it has one.
pub async fn membership_status_by_email(
    conn: &mut Conn,
    org_id: i64,
    email: &str,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar(
        "select m.status from memberships m join users u on u.id = m.user_id \
         where m.org_id = $1 and u.email = $2",
    )
    .bind(org_id)
    .bind(email)
    .fetch_optional(conn)
    .await
}

pub async fn set_role(conn: &mut Conn, org_id: i64, user_id: i64, role: Role) -> sqlx::Result<()> {
    let (role, role_id) = role.stored();
    sqlx::query(
        "update memberships set role = $3, role_id = $4 where org_id = $1 and user_id = $2",
    )
    .bind(org_id)
    .bind(user_id)
    .bind(role)
    .bind(role_id)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn set_status(
    conn: &mut Conn,
    org_id: i64,
    user_id: i64,
    status: &str,
) -> sqlx::Result<()> {
    sqlx::query("update memberships set status = $3 where org_id = $1 and user_id = $2")
        .bind(org_id)
        .bind(user_id)
        .bind(status)
        .execute(conn)
        .await?;
    Ok(())
}

/// Makes the user an active member with `role`: a new membership, or a removed one restored.
pub async fn join(
    conn: &mut Conn,
    org_id: i64,
    user_id: i64,
    role: Role,
    now: Millis,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into memberships (org_id, user_id, role, role_id, status, joined_at) values ($1, $2, $3, $5, 'active', $4) \
         on conflict (org_id, user_id) do update set role = excluded.role, role_id = excluded.role_id, \
         status = 'active', joined_at = excluded.joined_at, first_name = null, last_name = null, mobile = null",
    )
    .bind(org_id)
    .bind(user_id)
    .bind(role.stored().0)
    .bind(now)
    .bind(role.stored().1)
    .execute(conn)
    .await?;
    Ok(())
}

/// A pending invitation (expired or not).
pub struct Invitation {
    pub id: i64,
    pub org_id: i64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub role: Role,
    pub sent_at: Millis,
    pub expires_at: Millis,
}

const INVITATION_COLUMNS: &str = "i.id, i.org_id, i.email, i.first_name, i.last_name, i.role, i.role_id, i.sent_at, i.expires_at";

fn invitation(r: sqlx::any::AnyRow) -> sqlx::Result<Invitation> {
    Ok(Invitation {
        id: r.try_get("id")?,
        org_id: r.try_get("org_id")?,
        email: r.try_get("email")?,
        first_name: r.try_get("first_name")?,
        last_name: r.try_get("last_name")?,
        role: stored_role(&r)?,
        sent_at: r.try_get("sent_at")?,
        expires_at: r.try_get("expires_at")?,
    })
}

pub async fn pending_by_email(
    conn: &mut Conn,
    org_id: i64,
    email: &str,
) -> sqlx::Result<Option<Invitation>> {
    sqlx::query(&format!(
        "select {INVITATION_COLUMNS} from invitations i where i.org_id = $1 and i.email = $2 and i.status = 'pending'"
    ))
    .bind(org_id)
    .bind(email)
    .fetch_optional(conn)
    .await?
    .map(invitation)
    .transpose()
}

pub async fn pending(conn: &mut Conn, org_id: i64, id: i64) -> sqlx::Result<Option<Invitation>> {
    sqlx::query(&format!(
        "select {INVITATION_COLUMNS} from invitations i where i.org_id = $1 and i.id = $2 and i.status = 'pending'"
    ))
    .bind(org_id)
    .bind(id)
    .fetch_optional(conn)
    .await?
    .map(invitation)
    .transpose()
}

pub struct NewInvitation<'a> {
    pub org_id: i64,
    pub email: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub role: Role,
    pub invited_by: i64,
}

pub async fn insert_invitation(
    conn: &mut Conn,
    n: NewInvitation<'_>,
    now: Millis,
    expires_at: Millis,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "insert into invitations (org_id, email, first_name, last_name, role, invited_by, created_at, sent_at, expires_at, role_id) \
         values ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9) returning id",
    )
    .bind(n.org_id)
    .bind(n.email)
    .bind(n.first_name)
    .bind(n.last_name)
    .bind(n.role.stored().0)
    .bind(n.invited_by)
    .bind(now)
    .bind(expires_at)
    .bind(n.role.stored().1)
    .fetch_one(conn)
    .await
}

/// Sends an invitation again: new details, new expiry, and every earlier link retired.
pub async fn renew_invitation(
    conn: &mut Conn,
    id: i64,
    n: NewInvitation<'_>,
    now: Millis,
    expires_at: Millis,
) -> sqlx::Result<()> {
    sqlx::query(
        "update invitations set first_name = $2, last_name = $3, role = $4, invited_by = $5, sent_at = $6, expires_at = $7, \
         role_id = $8 where id = $1",
    )
    .bind(id)
    .bind(n.first_name)
    .bind(n.last_name)
    .bind(n.role.stored().0)
    .bind(n.invited_by)
    .bind(now)
    .bind(expires_at)
    .bind(n.role.stored().1)
    .execute(&mut *conn)
    .await?;
    retire_links(conn, id).await?;
    Ok(())
}

/// Makes every link of an invitation stop working.
async fn retire_links(conn: &mut Conn, invitation_id: i64) -> sqlx::Result<()> {
    sqlx::query("delete from invitation_links where invitation_id = $1")
        .bind(invitation_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Stores a link; `emailed` marks the one sent to the invited address.
pub async fn add_link(
    conn: &mut Conn,
    invitation_id: i64,
    token_hash: &str,
    emailed: bool,
    now: Millis,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into invitation_links (token_hash, invitation_id, created_at, emailed) values ($1, $2, $3, $4)",
    )
    .bind(token_hash)
    .bind(invitation_id)
    .bind(now)
    .bind(emailed)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn cancel(conn: &mut Conn, id: i64) -> sqlx::Result<()> {
    sqlx::query("update invitations set status = 'cancelled' where id = $1 and status = 'pending'")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    retire_links(conn, id).await?;
    Ok(())
}

/// What an invitation link shows: the invitation, its organization and who sent it.
pub struct LinkedInvitation {
    pub invitation: Invitation,
    pub org_name: String,
    pub inviter: String,
    pub live: bool,
    /// The link is the one emailed to the invited address, so following it proves the address.
    pub emailed: bool,
}

/// The invitation a link belongs to, while it is pending; `live` is false once it expired.
pub async fn by_link(
    conn: &mut Conn,
    token_hash: &str,
    now: Millis,
) -> sqlx::Result<Option<LinkedInvitation>> {
    let row = sqlx::query(&format!(
        "select {INVITATION_COLUMNS}, o.name as org_name, \
                cast(case when l.emailed then 1 else 0 end as bigint) as emailed, \
                coalesce(u.first_name || ' ' || u.last_name, 'An administrator') as inviter \
         from invitation_links l join invitations i on i.id = l.invitation_id \
         join organizations o on o.id = i.org_id left join users u on u.id = i.invited_by \
         where l.token_hash = $1 and i.status = 'pending'"
    ))
    .bind(token_hash)
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        let (org_name, inviter) = (r.try_get("org_name")?, r.try_get("inviter")?);
        let emailed = r.try_get::<i64, _>("emailed")? != 0;
        let invitation = invitation(r)?;
        Ok(LinkedInvitation {
            org_name,
            inviter,
            emailed,
            live: invitation.expires_at > now,
            invitation,
        })
    })
    .transpose()
}

/// Records one invitation email, for the sending quotas.
pub async fn record_invitation_email(
    conn: &mut Conn,
    org_id: i64,
    email: &str,
    now: Millis,
) -> sqlx::Result<()> {
    sqlx::query("insert into invitation_emails (org_id, email, sent_at) values ($1, $2, $3)")
        .bind(org_id)
        .bind(email)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// Invitation emails sent to `email` (by any organization) since `since`.
pub async fn invitation_emails_to(
    conn: &mut Conn,
    email: &str,
    since: Millis,
) -> sqlx::Result<i64> {
    sqlx::query_scalar("select count(*) from invitation_emails where email = $1 and sent_at > $2")
        .bind(email)
        .bind(since)
        .fetch_one(conn)
        .await
}

/// Invitation emails the organization sent since `since`.
pub async fn invitation_emails_from(
    conn: &mut Conn,
    org_id: i64,
    since: Millis,
) -> sqlx::Result<i64> {
    sqlx::query_scalar("select count(*) from invitation_emails where org_id = $1 and sent_at > $2")
        .bind(org_id)
        .bind(since)
        .fetch_one(conn)
        .await
}

/// Marks a pending, unexpired invitation accepted; true for exactly one caller.
pub async fn accept(conn: &mut Conn, id: i64, user_id: i64, now: Millis) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "update invitations set status = 'accepted', accepted_at = $3, accepted_user_id = $2 \
         where id = $1 and status = 'pending' and expires_at > $3",
    )
    .bind(id)
    .bind(user_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    retire_links(conn, id).await?;
    Ok(done.rows_affected() == 1)
}

#[cfg(test)]
mod tests {
    use super::glob_pattern;

    #[test]
    fn glob_patterns_match_every_case_and_take_pattern_characters_literally() {
        assert_eq!(glob_pattern(""), "**");
        assert_eq!(glob_pattern(" é "), "*[éÉ]*");
        assert_eq!(glob_pattern("Ab1"), "*[Aa][bB]1*");
        assert_eq!(glob_pattern("a*?[]"), "*[aA][*][?][[][]]*");
        assert_eq!(glob_pattern("ß"), "*ß*");
    }
}
