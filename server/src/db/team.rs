//! The team of an organization: seats, the member/invitation list, invitations and their links.

use super::{Arg, Backend, Conn, bind_all, named};
use crate::clock::Millis;
use app::model::team::{
    Cursor, KeyView, PAGE_SIZE, PreviousKey, Role, RowKind, RowRef, Seats, SortKey, Status,
    TeamQuery, TeamRow,
};
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

/// Seats held now: members who are not removed (the Owner included, counted by the
/// triggers of `memberships`) and unexpired pending invitations.
pub async fn seats_used(conn: &mut Conn, org_id: i64, now: Millis) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "select members_count + (select count(*) from invitations \
            where org_id = $1 and status = 'pending' and expires_at > $2) from organizations where id = $1",
    )
    .bind(org_id)
    .bind(now)
    .fetch_one(conn)
    .await
}

/// Seats in use and the limit, in one read (for showing, not for deciding: that needs the lock).
pub async fn seats(conn: &mut Conn, org_id: i64, now: Millis) -> sqlx::Result<Seats> {
    let (used, limit): (i64, i64) = sqlx::query_as(
        "select members_count + (select count(*) from invitations \
            where org_id = $1 and status = 'pending' and expires_at > $2), \
                seat_limit from organizations where id = $1",
    )
    .bind(org_id)
    .bind(now)
    .fetch_one(conn)
    .await?;
    Ok(Seats { used, limit })
}

/// The stored sort key of a member (`m`) or an invitation (`i`) for `key`, as one or two
/// expressions over the row alias `a`. Each member key has an index (`memberships_by_*`);
/// invitations are few and the status of one depends on the time, so theirs is computed.
fn sort_keys(key: SortKey, kind: RowKind, a: &str, backend: Backend) -> (String, Option<String>) {
    let member = kind == RowKind::Member;
    match key {
        SortKey::Name => (format!("{a}.sort_first"), Some(format!("{a}.sort_last"))),
        SortKey::Email if member => (format!("{a}.sort_email"), None),
        // Compared byte by byte like the members' stored key.
        SortKey::Email if backend == Backend::Postgres => {
            (format!("({a}.email collate \"C\")"), None)
        }
        SortKey::Email => (format!("{a}.email"), None),
        SortKey::Role => (
            format!("{a}.sort_role"),
            Some(format!("{a}.sort_role_name")),
        ),
        SortKey::Status if member => (format!("{a}.sort_status"), None),
        SortKey::Status => (
            format!("(case when {a}.expires_at > $now then 1 else 3 end)"),
            None,
        ),
        SortKey::Date if member => (format!("{a}.joined_at"), None),
        SortKey::Date => (format!("{a}.sent_at"), None),
    }
}

/// The key's expressions joined with `, ` (one or two of them).
fn key_list(keys: &(String, Option<String>)) -> String {
    match &keys.1 {
        Some(k2) => format!("{}, {k2}", keys.0),
        None => keys.0.clone(),
    }
}

/// How a search finds its rows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Search {
    None,
    /// Each row's names and address are matched against the pattern.
    Scan,
    /// SQLite: the rows are looked up in the trigram tables (`member_search`,
    /// `invitation_search`), which need three characters.
    Indexed,
}

/// Searches of this many characters or more are looked up in an index: SQLite's trigram
/// tables, PostgreSQL's pg_trgm indexes (which its planner picks by itself).
const INDEXED_SEARCH: usize = 3;

fn search_kind(backend: Backend, search: &str) -> Search {
    let search = search.trim();
    if search.is_empty() {
        Search::None
    } else if backend == Backend::Sqlite && search.chars().count() >= INDEXED_SEARCH {
        Search::Indexed
    } else {
        Search::Scan
    }
}

/// The search as `$pattern`: on PostgreSQL `%text%` for LIKE over lower-cased text; on SQLite
/// a phrase for the trigram tables, or for a shorter search a GLOB with each letter as a class
/// of its cases (`[éÉ]`), as SQLite's `lower()` and LIKE fold ASCII only. Both find "É" for
/// "é". Pattern and query characters in the search are taken literally.
fn search_pattern(backend: Backend, search: &str) -> String {
    match (backend, search_kind(backend, search)) {
        (_, Search::None) => String::new(),
        (Backend::Postgres, _) => like_pattern(search),
        // FTS5 reads a NUL as the end of the query: it is left out.
        (Backend::Sqlite, Search::Indexed) => format!(
            "\"{}\"",
            search.trim().replace('"', "\"\"").replace('\0', "")
        ),
        (Backend::Sqlite, Search::Scan) => glob_pattern(search),
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

/// Whether a row (alias `a`) matches the search `$pattern`. A member's names and address on
/// PostgreSQL are its stored, lower-cased `search_name` and `sort_email` (indexed by pg_trgm);
/// a scan on SQLite reads them from the member's user (`u`).
fn search_filter(kind: RowKind, backend: Backend, search: Search) -> String {
    let fields = match (kind, backend) {
        (RowKind::Member, Backend::Postgres) => ("a.search_name", "a.sort_email"),
        (RowKind::Member, Backend::Sqlite) => (
            "(coalesce(a.first_name, u.first_name) || ' ' || coalesce(a.last_name, u.last_name))",
            "u.email",
        ),
        (RowKind::Invitation, Backend::Postgres) => {
            ("lower(a.first_name || ' ' || a.last_name)", "a.email")
        }
        (RowKind::Invitation, Backend::Sqlite) => {
            ("(a.first_name || ' ' || a.last_name)", "a.email")
        }
    };
    match (backend, search) {
        (_, Search::None) => String::new(),
        (Backend::Postgres, _) => format!(
            " and ({} like $pattern escape '\\' or {} like $pattern escape '\\')",
            fields.0, fields.1
        ),
        (Backend::Sqlite, Search::Scan) => {
            format!(
                " and ({} glob $pattern or {} glob $pattern)",
                fields.0, fields.1
            )
        }
        // The rows come from the trigram table (`rows_from`).
        (Backend::Sqlite, Search::Indexed) => String::new(),
    }
}

/// The filters of one kind of row, over alias `a` (and `u`, see `rows_from`).
/// Parameters: $org, $now, $pattern (the search), $role, $status, $role_id (a custom role).
fn filters(kind: RowKind, backend: Backend, search: Search) -> String {
    let (rows, status) = match kind {
        RowKind::Member => ("a.org_id = $org and a.status <> 'removed'", "a.status"),
        RowKind::Invitation => (
            "a.org_id = $org and a.status = 'pending'",
            "(case when a.expires_at > $now then 'pending' else 'expired' end)",
        ),
    };
    format!(
        "{rows} and ($role = '' or a.role = $role) and ($role_id = 0 or a.role_id = $role_id) \
         and ($status = '' or {status} = $status){}",
        search_filter(kind, backend, search)
    )
}

/// Where one kind of row comes from: the table, its id column, and which of its rows are
/// listed.
fn source(kind: RowKind) -> (&'static str, &'static str, &'static str) {
    match kind {
        RowKind::Member => ("memberships", "user_id", "status <> 'removed'"),
        RowKind::Invitation => ("invitations", "id", "status = 'pending'"),
    }
}

/// The rows of one kind (alias `a`) for `filters`: members are joined to their user (`u`)
/// only for a search that reads their names and address row by row. An indexed search on
/// SQLite starts from the rows its trigram table finds in the organization's rowid range
/// (`$org_base`, see the migration); CROSS JOIN keeps that order: walking the organization's
/// sort index instead would read every row when few match.
fn rows_from(kind: RowKind, backend: Backend, search: Search) -> &'static str {
    match (kind, backend, search) {
        (RowKind::Member, Backend::Sqlite, Search::Indexed) => {
            "member_search($pattern) f cross join memberships a \
             on f.rowid between $org_base and $org_base + 4294967295 \
             and a.search_id = f.rowid - $org_base"
        }
        (RowKind::Invitation, Backend::Sqlite, Search::Indexed) => {
            "invitation_search($pattern) f cross join invitations a \
             on f.rowid between $org_base and $org_base + 4294967295 \
             and a.id = f.rowid - $org_base"
        }
        (RowKind::Member, Backend::Sqlite, Search::Scan) => {
            "memberships a join users u on u.id = a.user_id"
        }
        (RowKind::Member, _, _) => "memberships a",
        (RowKind::Invitation, _, _) => "invitations a",
    }
}

/// One kind of row in list order from `cursor` on: at most `$limit` of them, as
/// (kind, id, k1, k2). `forward` reads in the list's order, otherwise against it.
fn rows_of(
    kind: RowKind,
    q: &TeamQuery,
    backend: Backend,
    cursor: Option<RowRef>,
    forward: bool,
) -> String {
    let keys = sort_keys(q.sort, kind, "a", backend);
    let (_, id, _) = source(kind);
    let search = search_kind(backend, &q.search);
    let from = rows_from(kind, backend, search);
    let mut filter = filters(kind, backend, search);
    filter.push_str(&narrowing(kind, q));
    let (op, dir) = if forward { (">", "asc") } else { ("<", "desc") };
    if let Some(c) = cursor {
        // Rows past the cursor in the list's order (kind breaks ties, members first, then id).
        let theirs = key_list(&sort_keys(q.sort, c.kind, "c", backend));
        // Only a listed row of this organization: any other finds nothing (and the page is
        // then found by its number), so a cursor tells nothing of rows not listed.
        let (table, c_id, listed) = source(c.kind);
        let condition = if kind == c.kind {
            format!(
                "({}, a.{id}) {op} (select {theirs}, c.{c_id} from {table} c \
                 where c.org_id = $org and c.{c_id} = $cursor and c.{listed})",
                key_list(&keys)
            )
        } else {
            // At equal keys the other kind's rows fall on one side of the cursor.
            let (mine, other) = (kind_rank(kind), kind_rank(c.kind));
            let or_equal = if (forward && mine > other) || (!forward && mine < other) {
                "="
            } else {
                ""
            };
            format!(
                "({}) {op}{or_equal} (select {theirs} from {table} c \
                 where c.org_id = $org and c.{c_id} = $cursor and c.{listed})",
                key_list(&keys)
            )
        };
        filter.push_str(&format!(" and {condition}"));
    }
    let order: Vec<String> = [
        Some(keys.0.clone()),
        keys.1.clone(),
        Some(format!("a.{id}")),
    ]
    .into_iter()
    .flatten()
    .map(|e| format!("{e} {dir}"))
    .collect();
    // A key of one part has '' (text) or 0 as its second, so both kinds line up.
    let k2 = keys.1.clone().unwrap_or_else(|| match q.sort {
        SortKey::Email => "''".to_owned(),
        _ => "0".to_owned(),
    });
    format!(
        "select cast({} as bigint) as kind, a.{id} as id, {} as k1, {k2} as k2 from {from} \
         where {filter} order by {} limit $limit",
        kind_rank(kind),
        keys.0,
        order.join(", ")
    )
}

fn kind_rank(kind: RowKind) -> i64 {
    match kind {
        RowKind::Member => 0,
        RowKind::Invitation => 1,
    }
}

/// The conditions `only` and `id` add to the rows of `kind` (alias `a`).
fn narrowing(kind: RowKind, q: &TeamQuery) -> String {
    let (_, id, _) = source(kind);
    match (q.only, q.id) {
        (Some(only), _) if only != kind => " and 1 = 0".to_owned(),
        (_, Some(_)) => format!(" and a.{id} = $row_id"),
        _ => String::new(),
    }
}

/// Rows to count toward the total with a search or a filter; without, the total is the
/// stored member count plus the pending invitations (counted from their index).
fn total_expr(q: &TeamQuery, backend: Backend) -> String {
    let search = search_kind(backend, &q.search);
    if search == Search::None && q.role.is_none() && q.status.is_none() && q.id.is_none() {
        let pending = "(select count(*) from invitations i where i.org_id = $org \
                       and i.status = 'pending')";
        return match q.only {
            None => format!("o.members_count + {pending}"),
            Some(RowKind::Member) => "o.members_count".to_owned(),
            Some(RowKind::Invitation) => pending.to_owned(),
        };
    }
    let count = |kind| {
        format!(
            "(select count(*) from {} where {}{})",
            rows_from(kind, backend, search),
            filters(kind, backend, search),
            narrowing(kind, q)
        )
    };
    format!(
        "{} + {}",
        count(RowKind::Member),
        count(RowKind::Invitation)
    )
}

/// How many rows match, the seats in use and the seat limit: (total, used, limit).
fn counts_sql(q: &TeamQuery, backend: Backend) -> String {
    format!(
        "select {} as total, o.members_count + (select count(*) from invitations i \
            where i.org_id = $org and i.status = 'pending' and i.expires_at > $now) as used, \
            o.seat_limit as seat_limit, o.team_version as version \
         from organizations o where o.id = $org",
        total_expr(q, backend)
    )
}

/// The role stored in a row's `role` and `role_id` columns. A value the code cannot read
/// is an error (logged, and the request refused), never quietly some other role.
pub(crate) fn stored_role(r: &sqlx::any::AnyRow) -> sqlx::Result<Role> {
    let role: String = r.try_get("role")?;
    let role_id: Option<i64> = r.try_get("role_id")?;
    Role::from_stored(&role, role_id).ok_or_else(|| {
        sqlx::Error::Decode(format!("unknown stored role {role:?} (role_id {role_id:?})").into())
    })
}

/// What a page of the team list holds besides its rows.
pub struct PageCounts {
    pub total: i64,
    pub seats: Seats,
    /// The team's version (`organizations.team_version`).
    pub version: i64,
}

/// One page of members and invitations matching the query, with each member's API key (the
/// caller decides whom it shows them for), how many rows match in all and the seats, in one
/// statement. Each kind of row is read from its sort index from the page's start on (the
/// cursor's row, or the offset), so a page costs the same in any organization.
pub async fn list(
    conn: &mut Conn,
    backend: Backend,
    org_id: i64,
    viewer: i64,
    q: &TeamQuery,
    now: Millis,
) -> sqlx::Result<(Vec<TeamRow>, PageCounts)> {
    let found = page(conn, backend, org_id, viewer, q, now).await?;
    if found.0.is_empty() && q.cursor.is_some() {
        // The cursor's row is gone, or is not this organization's: find the page by number.
        let by_number = TeamQuery {
            cursor: None,
            ..q.clone()
        };
        return page(conn, backend, org_id, viewer, &by_number, now).await;
    }
    Ok(found)
}

async fn page(
    conn: &mut Conn,
    backend: Backend,
    org_id: i64,
    viewer: i64,
    q: &TeamQuery,
    now: Millis,
) -> sqlx::Result<(Vec<TeamRow>, PageCounts)> {
    let (cursor, before) = match q.cursor {
        Some(Cursor::After(r)) => (Some(r), false),
        Some(Cursor::Before(r)) => (Some(r), true),
        None => (None, false),
    };
    let forward = q.descending == before;
    let (limit, offset) = match cursor {
        Some(_) => (PAGE_SIZE, 0),
        None => {
            let offset = (q.page.max(1) - 1) * PAGE_SIZE;
            (offset + PAGE_SIZE, offset)
        }
    };
    let dir = if forward { "asc" } else { "desc" };
    let members = rows_of(RowKind::Member, q, backend, cursor, forward);
    let invitations = rows_of(RowKind::Invitation, q, backend, cursor, forward);
    let sql = format!(
        "with m as ({members}), i as ({invitations}), \
         p as (select * from m union all select * from i \
               order by k1 {dir}, k2 {dir}, kind {dir}, id {dir} limit {PAGE_SIZE} offset $offset), \
         n as ({counts}) \
         select p.kind, p.id, \
           case when p.kind = 0 then coalesce(mm.first_name, u.first_name) else ii.first_name end as first_name, \
           case when p.kind = 0 then coalesce(mm.last_name, u.last_name) else ii.last_name end as last_name, \
           case when p.kind = 0 then u.email else ii.email end as email, \
           case when p.kind = 0 then nullif(coalesce(mm.mobile, u.mobile), '') end as mobile, \
           coalesce(mm.role, ii.role) as role, \
           case when p.kind = 0 then mm.role_id else ii.role_id end as role_id, \
           coalesce(r.name, '') as role_name, \
           case when p.kind = 0 then mm.status \
                when ii.expires_at > $now then 'pending' else 'expired' end as status, \
           case when p.kind = 0 then mm.joined_at else ii.sent_at end as at, \
           k.id as key_id, k.prefix as key_prefix, k.last_used_at as key_used_at, \
           pk.prefix as old_prefix, pk.expires_at as old_ends_at, pk.last_used_at as old_used_at, \
           n.total, n.used, n.seat_limit, n.version \
         from n left join p on 1 = 1 \
         left join memberships mm on p.kind = 0 and mm.org_id = $org and mm.user_id = p.id \
         left join users u on p.kind = 0 and u.id = p.id \
         left join invitations ii on p.kind = 1 and ii.id = p.id \
         left join roles r on r.id = (case when p.kind = 0 then mm.role_id else ii.role_id end) \
         left join api_keys k on p.kind = 0 and k.org_id = $org and k.user_id = p.id \
              and k.expires_at is null \
         left join api_keys pk on pk.id = (select max(x.id) from api_keys x where p.kind = 0 \
              and x.org_id = $org and x.user_id = p.id and x.expires_at > $now) \
         order by p.k1 {dir}, p.k2 {dir}, p.kind {dir}, p.id {dir}",
        counts = counts_sql(q, backend),
    );
    let (role, role_id) = q.role.map(Role::stored).unwrap_or(("", None));
    let args = [
        ("org", Arg::Int(org_id)),
        ("org_base", Arg::Int(org_id << 32)),
        ("now", Arg::Int(now)),
        ("pattern", Arg::Text(search_pattern(backend, &q.search))),
        ("role", Arg::Text(role.to_owned())),
        (
            "status",
            Arg::Text(q.status.map(Status::as_str).unwrap_or("").to_owned()),
        ),
        ("role_id", Arg::Int(role_id.unwrap_or(0))),
        ("limit", Arg::Int(limit)),
        ("offset", Arg::Int(offset)),
        ("cursor", Arg::Int(cursor.map_or(0, |c| c.id))),
        ("row_id", Arg::Int(q.id.unwrap_or(0))),
    ];
    let (sql, binds) = named(&sql, &args);
    let rows = bind_all(sqlx::query(&sql), binds)
        .fetch_all(&mut *conn)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    let mut counts = None;
    for r in rows {
        counts.get_or_insert(PageCounts {
            total: r.try_get("total")?,
            seats: Seats {
                used: r.try_get("used")?,
                limit: r.try_get("seat_limit")?,
            },
            version: r.try_get("version")?,
        });
        // An empty page is one row of counts alone.
        let kind = match r.try_get::<Option<i64>, _>("kind")? {
            None => continue,
            Some(0) => RowKind::Member,
            Some(_) => RowKind::Invitation,
        };
        let id: i64 = r.try_get("id")?;
        let role = stored_role(&r)?;
        let role_name: String = r.try_get("role_name")?;
        let status: String = r.try_get("status")?;
        let key = match r.try_get::<Option<i64>, _>("key_id")? {
            Some(key_id) => Some(KeyView {
                id: key_id,
                user_id: id,
                prefix: r.try_get("key_prefix")?,
                last_used_at: r.try_get("key_used_at")?,
                previous: match r.try_get::<Option<String>, _>("old_prefix")? {
                    Some(prefix) => Some(PreviousKey {
                        prefix,
                        ends_at: r.try_get("old_ends_at")?,
                        last_used_at: r.try_get("old_used_at")?,
                    }),
                    None => None,
                },
            }),
            None => None,
        };
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
            key,
        });
    }
    // "Previous" reads back from the cursor; the page shows in the list's order.
    if before {
        out.reverse();
    }
    // The statement always returns the counts' row.
    let counts = counts.ok_or(sqlx::Error::RowNotFound)?;
    Ok((out, counts))
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

/// The active Owner and Admins of the organization: (first name, address).
pub async fn managers(conn: &mut Conn, org_id: i64) -> sqlx::Result<Vec<(String, String)>> {
    sqlx::query_as(
        "select u.first_name, u.email from memberships m join users u on u.id = m.user_id \
         where m.org_id = $1 and m.role in ('owner', 'admin') and m.status = 'active' order by u.id",
    )
    .bind(org_id)
    .fetch_all(conn)
    .await
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
    use super::{Backend, glob_pattern, search_pattern};

    #[test]
    fn glob_patterns_match_every_case_and_take_pattern_characters_literally() {
        assert_eq!(glob_pattern(""), "**");
        assert_eq!(glob_pattern(" é "), "*[éÉ]*");
        assert_eq!(glob_pattern("Ab1"), "*[Aa][bB]1*");
        assert_eq!(glob_pattern("a*?[]"), "*[aA][*][?][[][]]*");
        assert_eq!(glob_pattern("ß"), "*ß*");
    }

    #[test]
    fn a_search_of_three_characters_is_one_phrase_on_sqlite_and_shorter_ones_a_glob() {
        let sqlite = |s| search_pattern(Backend::Sqlite, s);
        assert_eq!(sqlite("  "), "");
        assert_eq!(sqlite(" ab "), "*[aA][bB]*");
        // Query syntax is text: one quoted phrase, its quotes doubled.
        assert_eq!(sqlite(" a\"b OR c* "), "\"a\"\"b OR c*\"");
        assert_eq!(sqlite("ab\0cd"), "\"abcd\"");
        assert_eq!(search_pattern(Backend::Postgres, " A_b "), "%a\\_b%");
    }
}
