//! The audit log, written in the same transaction as the change it records.
//!
//! Each organization's rows form a hash chain: row `seq` stores the hash of row `seq - 1`
//! (`prev_hash`) and its own `hash`, the SHA-256 of its content and `prev_hash`. The chain's
//! head (`audit_chain`) is advanced by an `update`, whose row lock makes one organization's
//! rows follow one another on PostgreSQL (SQLite writes one transaction at a time anyway).
//! Editing, removing or inserting a row breaks the chain where it happened; `verify` finds
//! the first broken link. Retention deletes the oldest rows and records the last deleted
//! row's hash as the anchor the chain restarts from.

use super::{Arg, Conn, bind_all, named};
use crate::clock::Millis;
use sha2::{Digest, Sha256};
use sqlx::Row;

/// The `prev_hash` of an organization's first row.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Where the request that caused a change came from, kept for the rows it writes.
#[derive(Clone, Debug, Default)]
pub struct Origin {
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

tokio::task_local! {
    static ORIGIN: Origin;
}

impl Origin {
    /// Runs `work` with this origin: audit rows it writes carry it.
    pub async fn scope<F: std::future::Future>(self, work: F) -> F::Output {
        ORIGIN.scope(self, work).await
    }

    /// The origin of the request being served; none for background work.
    pub fn current() -> Origin {
        ORIGIN.try_with(Clone::clone).unwrap_or_default()
    }
}

pub struct Entry<'a> {
    pub org_id: Option<i64>,
    pub actor_user_id: Option<i64>,
    pub action: &'a str,
    pub target: Option<&'a str>,
    pub detail: Option<&'a str>,
    /// The channel, when not the web app: `"api"` (`Actor::channel`), `"auto_join"`.
    pub via: Option<&'a str>,
}

/// What a row's hash covers, in this order.
struct Content<'a> {
    org_id: i64,
    seq: i64,
    created_at: Millis,
    actor_user_id: Option<i64>,
    action: &'a str,
    target: Option<&'a str>,
    detail: Option<&'a str>,
    via: Option<&'a str>,
    client_ip: Option<&'a str>,
    user_agent: Option<&'a str>,
    request_id: Option<&'a str>,
    prev_hash: &'a str,
}

impl Content<'_> {
    fn hash(&self) -> String {
        // A JSON array: every field delimited and escaped, so no two contents share a text.
        let text = serde_json::json!([
            self.org_id,
            self.seq,
            self.created_at,
            self.actor_user_id,
            self.action,
            self.target,
            self.detail,
            self.via,
            self.client_ip,
            self.user_agent,
            self.request_id,
            self.prev_hash,
        ])
        .to_string();
        hex::encode(Sha256::digest(text.as_bytes()))
    }
}

/// Moves the organization's chain head one row on (locking it until commit) and returns the
/// new row's number and the hash it follows.
async fn advance(conn: &mut Conn, org_id: i64) -> sqlx::Result<(i64, String)> {
    let bump = "update audit_chain set seq = seq + 1 where org_id = $1 returning seq, hash";
    if let Some(row) = sqlx::query(bump)
        .bind(org_id)
        .fetch_optional(&mut *conn)
        .await?
    {
        return Ok((row.try_get(0)?, row.try_get(1)?));
    }
    sqlx::query(
        "insert into audit_chain (org_id, seq, hash, anchor_seq, anchor_hash) \
         values ($1, 0, $2, 0, $2) on conflict (org_id) do nothing",
    )
    .bind(org_id)
    .bind(GENESIS)
    .execute(&mut *conn)
    .await?;
    let row = sqlx::query(bump).bind(org_id).fetch_one(&mut *conn).await?;
    Ok((row.try_get(0)?, row.try_get(1)?))
}

pub async fn record(conn: &mut Conn, e: Entry<'_>, now: Millis) -> sqlx::Result<()> {
    insert(conn, e, now).await.map(drop)
}

/// Records `e` and returns its row's id.
pub async fn insert(conn: &mut Conn, e: Entry<'_>, now: Millis) -> sqlx::Result<i64> {
    let origin = Origin::current();
    let (seq, prev_hash, hash) = match e.org_id {
        Some(org_id) => {
            let (seq, prev_hash) = advance(conn, org_id).await?;
            let hash = Content {
                org_id,
                seq,
                created_at: now,
                actor_user_id: e.actor_user_id,
                action: e.action,
                target: e.target,
                detail: e.detail,
                via: e.via,
                client_ip: origin.client_ip.as_deref(),
                user_agent: origin.user_agent.as_deref(),
                request_id: origin.request_id.as_deref(),
                prev_hash: &prev_hash,
            }
            .hash();
            sqlx::query("update audit_chain set hash = $2 where org_id = $1")
                .bind(org_id)
                .bind(&hash)
                .execute(&mut *conn)
                .await?;
            (Some(seq), Some(prev_hash), Some(hash))
        }
        None => (None, None, None),
    };
    sqlx::query_scalar(
        "insert into audit_log (org_id, actor_user_id, action, target, detail, via, created_at, \
            seq, prev_hash, hash, client_ip, user_agent, request_id) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) returning id",
    )
    .bind(e.org_id)
    .bind(e.actor_user_id)
    .bind(e.action)
    .bind(e.target)
    .bind(e.detail)
    .bind(e.via)
    .bind(now)
    .bind(seq)
    .bind(prev_hash)
    .bind(hash)
    .bind(origin.client_ip)
    .bind(origin.user_agent)
    .bind(origin.request_id)
    .fetch_one(conn)
    .await
}

const ROW_COLUMNS: &str = "a.id, a.seq, a.created_at, a.actor_user_id, a.action, a.target, \
    a.detail, a.via, a.client_ip, a.user_agent, a.request_id, a.prev_hash, a.hash";

/// A stored row, as read back.
#[derive(Clone, Debug)]
pub struct Stored {
    pub id: i64,
    pub seq: Option<i64>,
    pub created_at: Millis,
    pub actor_user_id: Option<i64>,
    pub action: String,
    pub target: Option<String>,
    pub detail: Option<String>,
    pub via: Option<String>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub prev_hash: Option<String>,
    pub hash: Option<String>,
}

impl Stored {
    fn from_row(row: &sqlx::any::AnyRow) -> sqlx::Result<Stored> {
        Ok(Stored {
            id: row.try_get(0)?,
            seq: row.try_get(1)?,
            created_at: row.try_get(2)?,
            actor_user_id: row.try_get(3)?,
            action: row.try_get(4)?,
            target: row.try_get(5)?,
            detail: row.try_get(6)?,
            via: row.try_get(7)?,
            client_ip: row.try_get(8)?,
            user_agent: row.try_get(9)?,
            request_id: row.try_get(10)?,
            prev_hash: row.try_get(11)?,
            hash: row.try_get(12)?,
        })
    }

    fn content_hash(&self, org_id: i64, seq: i64, prev_hash: &str) -> String {
        Content {
            org_id,
            seq,
            created_at: self.created_at,
            actor_user_id: self.actor_user_id,
            action: &self.action,
            target: self.target.as_deref(),
            detail: self.detail.as_deref(),
            via: self.via.as_deref(),
            client_ip: self.client_ip.as_deref(),
            user_agent: self.user_agent.as_deref(),
            request_id: self.request_id.as_deref(),
            prev_hash,
        }
        .hash()
    }
}

/// Chains the rows of organizations whose rows were all written before the chain existed,
/// oldest first (run by `Store::migrate`). An organization that has a chain is never sealed
/// again: a row slipped in later without a place stays outside it, and `verify` says so.
pub async fn seal_unchained(conn: &mut Conn) -> sqlx::Result<u64> {
    let rows = sqlx::query(&format!(
        "select a.org_id, {ROW_COLUMNS} from audit_log a \
         where a.org_id is not null and a.seq is null \
           and not exists (select 1 from audit_chain c where c.org_id = a.org_id) order by a.id"
    ))
    .fetch_all(&mut *conn)
    .await?;
    let mut sealed = 0;
    for row in &rows {
        let org_id: i64 = row.try_get(0)?;
        let stored = Stored {
            id: row.try_get(1)?,
            seq: None,
            created_at: row.try_get(3)?,
            actor_user_id: row.try_get(4)?,
            action: row.try_get(5)?,
            target: row.try_get(6)?,
            detail: row.try_get(7)?,
            via: row.try_get(8)?,
            client_ip: row.try_get(9)?,
            user_agent: row.try_get(10)?,
            request_id: row.try_get(11)?,
            prev_hash: None,
            hash: None,
        };
        let (seq, prev_hash) = advance(conn, org_id).await?;
        let hash = stored.content_hash(org_id, seq, &prev_hash);
        sqlx::query("update audit_chain set hash = $2 where org_id = $1")
            .bind(org_id)
            .bind(&hash)
            .execute(&mut *conn)
            .await?;
        sqlx::query("update audit_log set seq = $2, prev_hash = $3, hash = $4 where id = $1")
            .bind(stored.id)
            .bind(seq)
            .bind(&prev_hash)
            .bind(&hash)
            .execute(&mut *conn)
            .await?;
        sealed += 1;
    }
    Ok(sealed)
}

/// The first broken link of a chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Break {
    /// The row number where the chain breaks.
    pub seq: i64,
    /// The stored row there, when there is one.
    pub row_id: Option<i64>,
    pub reason: String,
}

/// The outcome of checking one organization's chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub rows: u64,
    pub broken: Option<Break>,
}

/// Rows read at a time while verifying.
const VERIFY_BATCH: i64 = 2_000;

/// Checks an organization's chain from its anchor to its head: every row is there, follows
/// the one before, and still has the content its hash was made of; nothing lies beyond the
/// head or before the anchor; and the anchor was moved by retention, which says so in the
/// chain. Reads one snapshot (a read-only repeatable-read transaction on PostgreSQL, one read
/// transaction on SQLite), so changes and retention running meanwhile are not mistaken for
/// tampering.
pub async fn verify(conn: &mut Conn, org_id: i64) -> sqlx::Result<Verified> {
    use sqlx::Connection;
    let postgres = conn.backend_name() == "PostgreSQL";
    let mut tx = conn.begin().await?;
    if postgres {
        sqlx::query("set transaction isolation level repeatable read, read only")
            .execute(&mut *tx)
            .await?;
    }
    let verified = verify_in(&mut tx, org_id).await;
    tx.rollback().await?;
    verified
}

async fn verify_in(conn: &mut Conn, org_id: i64) -> sqlx::Result<Verified> {
    let head =
        sqlx::query("select seq, hash, anchor_seq, anchor_hash from audit_chain where org_id = $1")
            .bind(org_id)
            .fetch_optional(&mut *conn)
            .await?;
    let (head_seq, head_hash, mut expected_seq, mut expected_prev): (i64, String, i64, String) =
        match head {
            Some(r) => (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?),
            None => (0, GENESIS.to_owned(), 0, GENESIS.to_owned()),
        };
    let broken = |seq: i64, row_id: Option<i64>, reason: String| Break {
        seq,
        row_id,
        reason,
    };
    // Rows without a place in the chain, or at or before its anchor (retention deleted those).
    let outside: Option<i64> = sqlx::query_scalar(
        "select min(id) from audit_log where org_id = $1 and (seq is null or seq <= $2)",
    )
    .bind(org_id)
    .bind(expected_seq)
    .fetch_one(&mut *conn)
    .await?;
    let mut rows = 0u64;
    if let Some(id) = outside {
        return Ok(Verified {
            rows,
            broken: Some(broken(
                0,
                Some(id),
                format!("row {id} is outside the chain"),
            )),
        });
    }
    let beyond: Option<i64> =
        sqlx::query_scalar("select min(id) from audit_log where org_id = $1 and seq > $2")
            .bind(org_id)
            .bind(head_seq)
            .fetch_one(&mut *conn)
            .await?;
    if let Some(id) = beyond {
        return Ok(Verified {
            rows,
            broken: Some(broken(
                head_seq + 1,
                Some(id),
                format!("row {id} is beyond the chain's last row"),
            )),
        });
    }
    // An anchor moved by retention has its `audit.expired` row after it, naming it.
    if expected_seq > 0 {
        let detail: Option<String> = sqlx::query_scalar(
            "select detail from audit_log where org_id = $1 and action = 'audit.expired' \
               and seq > $2 order by seq desc limit 1",
        )
        .bind(org_id)
        .bind(expected_seq)
        .fetch_optional(&mut *conn)
        .await?
        .flatten();
        let named: Option<serde_json::Value> = detail.and_then(|d| serde_json::from_str(&d).ok());
        let accounted = named.is_some_and(|d| {
            d["through_seq"].as_i64() == Some(expected_seq)
                && d["anchor_hash"].as_str() == Some(expected_prev.as_str())
        });
        if !accounted {
            return Ok(Verified {
                rows,
                broken: Some(broken(
                    expected_seq,
                    None,
                    format!("rows up to {expected_seq} were removed without a retention record"),
                )),
            });
        }
    }
    loop {
        let batch = sqlx::query(&format!(
            "select {ROW_COLUMNS} from audit_log a where a.org_id = $1 and a.seq > $2 \
               and a.seq <= $3 order by a.seq limit {VERIFY_BATCH}"
        ))
        .bind(org_id)
        .bind(expected_seq)
        .bind(head_seq)
        .fetch_all(&mut *conn)
        .await?;
        let done = (batch.len() as i64) < VERIFY_BATCH;
        for row in &batch {
            let stored = Stored::from_row(row)?;
            let seq = stored.seq.unwrap_or_default();
            let want = expected_seq + 1;
            let fail = if seq != want {
                Some(broken(want, None, format!("row {want} is missing")))
            } else if stored.prev_hash.as_deref() != Some(expected_prev.as_str()) {
                Some(broken(
                    seq,
                    Some(stored.id),
                    format!("row {seq} does not follow row {}", seq - 1),
                ))
            } else if stored.hash.as_deref()
                != Some(stored.content_hash(org_id, seq, &expected_prev).as_str())
            {
                Some(broken(
                    seq,
                    Some(stored.id),
                    format!("row {seq} was changed after it was written"),
                ))
            } else {
                None
            };
            if fail.is_some() {
                return Ok(Verified { rows, broken: fail });
            }
            rows += 1;
            expected_seq = seq;
            expected_prev = stored.hash.unwrap_or_default();
        }
        if done {
            break;
        }
    }
    let broken = if expected_seq < head_seq {
        Some(broken(
            expected_seq + 1,
            None,
            format!("rows {} to {head_seq} are missing", expected_seq + 1),
        ))
    } else if expected_prev != head_hash {
        Some(broken(
            expected_seq,
            None,
            format!("row {expected_seq} is not the chain's last row"),
        ))
    } else {
        None
    };
    Ok(Verified { rows, broken })
}

/// Deletes an organization's rows written before `cutoff`, oldest first, moves the chain's
/// anchor to the last of them, and records that in the chain (`audit.expired`, with the
/// anchor), so a deletion of old rows that no such row accounts for stands out. Returns how
/// many were deleted.
pub async fn expire(
    conn: &mut Conn,
    org_id: i64,
    cutoff: Millis,
    now: Millis,
) -> sqlx::Result<u64> {
    // Lock the head: a row written meanwhile waits for this deletion.
    let head: Option<i64> =
        sqlx::query_scalar("update audit_chain set seq = seq where org_id = $1 returning seq")
            .bind(org_id)
            .fetch_optional(&mut *conn)
            .await?;
    if head.is_none() {
        return Ok(0);
    }
    let last = sqlx::query(
        "select seq, hash from audit_log where org_id = $1 and seq is not null \
           and seq <= (select max(seq) from audit_log where org_id = $1 and created_at < $2) \
         order by seq desc limit 1",
    )
    .bind(org_id)
    .bind(cutoff)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(last) = last else { return Ok(0) };
    let (seq, hash): (i64, String) = (last.try_get(0)?, last.try_get(1)?);
    sqlx::query("update audit_chain set anchor_seq = $2, anchor_hash = $3 where org_id = $1")
        .bind(org_id)
        .bind(seq)
        .bind(&hash)
        .execute(&mut *conn)
        .await?;
    let deleted = sqlx::query("delete from audit_log where org_id = $1 and seq <= $2")
        .bind(org_id)
        .bind(seq)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    let detail = serde_json::json!({
        "rows": deleted, "through_seq": seq, "anchor_hash": hash, "before": cutoff,
    })
    .to_string();
    let entry = Entry {
        org_id: Some(org_id),
        actor_user_id: None,
        action: "audit.expired",
        target: None,
        detail: Some(&detail),
        via: None,
    };
    record(conn, entry, now).await?;
    Ok(deleted)
}

/// Organizations with rows older than `cutoff`.
pub async fn orgs_with_rows_before(conn: &mut Conn, cutoff: Millis) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar(
        "select distinct org_id from audit_log where org_id is not null and created_at < $1",
    )
    .bind(cutoff)
    .fetch_all(conn)
    .await
}

/// Filters of a read of the log, already checked.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub actor_user_id: Option<i64>,
    /// An action code's area (`member`, `invitation`, …): codes starting with `area.`.
    pub area: Option<String>,
    /// Part of the target, case-insensitive.
    pub target: Option<String>,
    /// Part of the action, target, detail or actor's name or address, case-insensitive.
    pub search: Option<String>,
    pub from: Option<Millis>,
    pub until: Option<Millis>,
    /// Rows older than this (time, id): the keyset cursor.
    pub after: Option<(Millis, i64)>,
}

/// A row with its actor's name and address.
#[derive(Clone, Debug)]
pub struct Listed {
    pub row: Stored,
    pub actor_name: Option<String>,
    pub actor_email: Option<String>,
}

fn like(text: &str) -> String {
    let escaped = text
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// The organization's rows matching `filter`, newest first, at most `limit`.
pub async fn list(
    conn: &mut Conn,
    org_id: i64,
    filter: &Filter,
    limit: i64,
) -> sqlx::Result<Vec<Listed>> {
    let mut sql = format!(
        "select {ROW_COLUMNS}, trim(coalesce(u.first_name, '') || ' ' || coalesce(u.last_name, '')), \
            u.email from audit_log a left join users u on u.id = a.actor_user_id \
         where a.org_id = $org"
    );
    let mut args = vec![("org", Arg::Int(org_id)), ("limit", Arg::Int(limit))];
    if let Some(actor) = filter.actor_user_id {
        sql.push_str(" and a.actor_user_id = $actor");
        args.push(("actor", Arg::Int(actor)));
    }
    if let Some(area) = &filter.area {
        sql.push_str(" and a.action like $area escape '\\'");
        args.push((
            "area",
            Arg::Text(format!(
                "{}.%",
                area.replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
            )),
        ));
    }
    if let Some(target) = &filter.target {
        sql.push_str(" and lower(coalesce(a.target, '')) like $target escape '\\'");
        args.push(("target", Arg::Text(like(target))));
    }
    if let Some(search) = &filter.search {
        sql.push_str(
            " and (lower(a.action) like $search escape '\\' \
               or lower(coalesce(a.target, '')) like $search escape '\\' \
               or lower(coalesce(a.detail, '')) like $search escape '\\' \
               or lower(coalesce(u.email, '')) like $search escape '\\' \
               or lower(coalesce(u.first_name, '') || ' ' || coalesce(u.last_name, '')) like $search escape '\\')",
        );
        args.push(("search", Arg::Text(like(search))));
    }
    if let Some(from) = filter.from {
        sql.push_str(" and a.created_at >= $from");
        args.push(("from", Arg::Int(from)));
    }
    if let Some(until) = filter.until {
        sql.push_str(" and a.created_at < $until");
        args.push(("until", Arg::Int(until)));
    }
    if let Some((at, id)) = filter.after {
        sql.push_str(" and (a.created_at < $at or (a.created_at = $at and a.id < $id))");
        args.push(("at", Arg::Int(at)));
        args.push(("id", Arg::Int(id)));
    }
    sql.push_str(" order by a.created_at desc, a.id desc limit $limit");
    let (sql, binds) = named(&sql, &args);
    let rows = bind_all(sqlx::query(&sql), binds).fetch_all(conn).await?;
    rows.iter()
        .map(|row| {
            let name: Option<String> = row.try_get(13)?;
            Ok(Listed {
                row: Stored::from_row(row)?,
                actor_name: name.filter(|n| !n.is_empty()),
                actor_email: row.try_get(14)?,
            })
        })
        .collect()
}

/// The organization's members and former members who have written rows, for the actor
/// filter: (user id, name, address), by name.
pub async fn actors(conn: &mut Conn, org_id: i64) -> sqlx::Result<Vec<(i64, String, String)>> {
    let rows = sqlx::query(
        "select u.id, trim(u.first_name || ' ' || u.last_name), u.email from users u \
         where u.id in (select user_id from memberships where org_id = $1) \
         order by lower(u.first_name), lower(u.last_name), u.id",
    )
    .bind(org_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .collect()
}
