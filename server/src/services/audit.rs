//! The audit log: its page, its export and the check of its hash chain.

use super::OrInternal;
use super::accounts::AccountService;
use super::usage::{Download, action_words, csv_text, parse_day, slug, time_zone};
use crate::clock::Millis;
use crate::db::audit::{self as store, Filter, Listed};
use app::authz::{Feature, Level, Need, Requirement};
use app::error::{AppError, FieldError};
use app::model::audit::{AREAS, AUDIT_PAGE_SIZE, AuditPage, AuditQuery, AuditRow, Integrity};
use app::ports::{Actor, AuditLog};
use chrono::{DateTime, NaiveDate, TimeZone};
use chrono_tz::Tz;

#[derive(Clone)]
pub struct AuditService {
    pub accounts: AccountService,
    /// Exports streaming at once (each reads the log in batches while the browser takes it).
    pub exports: std::sync::Arc<tokio::sync::Semaphore>,
}

/// Exports at once, per process.
pub const EXPORTS_AT_ONCE: usize = 2;
/// Rows read at a time by an export.
const EXPORT_BATCH: i64 = 1_000;
/// How long an export waits for the browser to take a chunk before it gives up.
const SEND_WAIT: std::time::Duration = std::time::Duration::from_secs(30);
/// The longest an export may take in all.
const EXPORT_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10 * 60);
/// Bytes gathered before they are sent.
const CHUNK: usize = 32 * 1024;
/// The longest search or target text taken.
const TEXT_LIMIT: usize = 200;

/// The export formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    JsonLines,
}

impl Format {
    pub fn parse(text: &str) -> Option<Format> {
        match text {
            "csv" => Some(Format::Csv),
            "jsonl" => Some(Format::JsonLines),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::JsonLines => "application/jsonl; charset=utf-8",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::JsonLines => "jsonl",
        }
    }
}

/// The first instant of `date` in `tz` (the first that exists where clocks skip midnight).
fn day_start(tz: Tz, date: NaiveDate) -> Millis {
    (0..24)
        .find_map(|h| {
            tz.from_local_datetime(&date.and_hms_opt(h, 0, 0)?)
                .earliest()
        })
        .map_or_else(
            || {
                date.and_hms_opt(0, 0, 0)
                    .unwrap_or_default()
                    .and_utc()
                    .timestamp_millis()
            },
            |t| t.timestamp_millis(),
        )
}

fn field(name: &str, message: &str) -> FieldError {
    FieldError::new(name, message)
}

/// Checks the page's filters and turns them into the store's.
fn filter(query: &AuditQuery, actors: &[(i64, String, String)]) -> Result<Filter, AppError> {
    let tz = time_zone(&query.tz);
    let mut errors = Vec::new();
    let mut f = Filter::default();
    if !query.actor.is_empty() {
        match query.actor.parse::<i64>() {
            Ok(id) if actors.iter().any(|(a, _, _)| *a == id) => f.actor_user_id = Some(id),
            _ => errors.push(field("actor", "Choose someone from the list.")),
        }
    }
    if !query.action.is_empty() {
        if AREAS.iter().any(|(a, _)| *a == query.action) {
            f.area = Some(query.action.clone());
        } else {
            errors.push(field("action", "Choose an action from the list."));
        }
    }
    let text = |value: &str, name: &str, errors: &mut Vec<FieldError>| {
        let value: String = value.chars().filter(|c| !c.is_control()).collect();
        if value.chars().count() > TEXT_LIMIT {
            errors.push(field(name, "Use at most 200 characters."));
            None
        } else {
            Some(value).filter(|v| !v.trim().is_empty())
        }
    };
    f.target = text(&query.target, "target", &mut errors);
    f.search = text(&query.search, "search", &mut errors);
    let from = (!query.from.is_empty())
        .then(|| parse_day(&query.from, "from", "first"))
        .transpose();
    let to = (!query.to.is_empty())
        .then(|| parse_day(&query.to, "to", "last"))
        .transpose();
    match (from, to) {
        (Ok(from), Ok(to)) => {
            if let (Some(a), Some(b)) = (from, to)
                && b < a
            {
                errors.push(field("to", "The last day comes before the first."));
            }
            f.from = from.map(|d| day_start(tz, d));
            f.until = to.and_then(|d| d.succ_opt()).map(|d| day_start(tz, d));
        }
        (from, to) => {
            errors.extend(from.err());
            errors.extend(to.err());
        }
    }
    if !query.after.is_empty() {
        let cursor = query
            .after
            .split_once('.')
            .and_then(|(t, id)| Some((t.parse().ok()?, id.parse().ok()?)));
        match cursor {
            Some(c) => f.after = Some(c),
            None => errors.push(field(
                "after",
                "This page's address is not valid. Start from the first page.",
            )),
        }
    }
    if errors.is_empty() {
        Ok(f)
    } else {
        Err(AppError::Validation(errors))
    }
}

/// "role: member → admin; status: active → disabled" from a `{"before", "after"}` detail;
/// any other detail as written.
fn change_words(detail: Option<&str>) -> String {
    let Some(detail) = detail else {
        return String::new();
    };
    let parsed: Option<serde_json::Value> = serde_json::from_str(detail).ok();
    let show = |v: Option<&serde_json::Value>| match v {
        None | Some(serde_json::Value::Null) => "—".to_owned(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    match parsed {
        Some(serde_json::Value::Object(o))
            if o.contains_key("before") && o.contains_key("after") =>
        {
            let empty = serde_json::Map::new();
            let before = o["before"].as_object().unwrap_or(&empty);
            let after = o["after"].as_object().unwrap_or(&empty);
            let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
            keys.dedup();
            let mut seen = std::collections::BTreeSet::new();
            keys.into_iter()
                .filter(|k| seen.insert(k.as_str()))
                .filter(|k| before.get(*k) != after.get(*k))
                .map(|k| format!("{k}: {} → {}", show(before.get(k)), show(after.get(k))))
                .collect::<Vec<_>>()
                .join("; ")
        }
        Some(serde_json::Value::Object(o)) => o
            .iter()
            .map(|(k, v)| format!("{k}: {}", show(Some(v))))
            .collect::<Vec<_>>()
            .join("; "),
        _ => detail.to_owned(),
    }
}

/// How the change was made: `api`, `auto_join`, `system` (no actor), or empty (web app).
fn via_code(row: &store::Stored) -> &'static str {
    match row.via.as_deref() {
        Some("api") => "api",
        Some("auto_join") => "auto_join",
        _ if row.actor_user_id.is_none() => "system",
        _ => "",
    }
}

fn to_row(listed: Listed, tz: Tz) -> AuditRow {
    let Listed {
        row,
        actor_name,
        actor_email,
    } = listed;
    let at = DateTime::from_timestamp_millis(row.created_at).unwrap_or_default();
    AuditRow {
        id: row.id,
        seq: row.seq.unwrap_or_default(),
        at: at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        at_label: at
            .with_timezone(&tz)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string(),
        actor_name,
        actor_email,
        via: via_code(&row).to_owned(),
        action_label: action_words(&row.action),
        change: change_words(row.detail.as_deref()),
        action: row.action,
        target: row.target.unwrap_or_default(),
        client_ip: row.client_ip.unwrap_or_default(),
        user_agent: row.user_agent.unwrap_or_default(),
        request_id: row.request_id.unwrap_or_default(),
    }
}

impl AuditService {
    pub fn new(accounts: AccountService) -> Self {
        AuditService {
            accounts,
            exports: std::sync::Arc::new(tokio::sync::Semaphore::new(EXPORTS_AT_ONCE)),
        }
    }

    fn now(&self) -> Millis {
        self.accounts.clock.now()
    }

    /// Starts an export of `query`'s rows (every page) as `format`: records it in the audit
    /// log and streams the file.
    pub async fn export(
        &self,
        actor: &Actor,
        query: AuditQuery,
        format: Format,
    ) -> Result<Download, AppError> {
        actor.meets(Requirement::Feature(Feature::AuditLogs, Need::Download))?;
        let Ok(permit) = self.exports.clone().try_acquire_owned() else {
            return Err(AppError::Busy);
        };
        let store = self.accounts.store.clone();
        let mut conn = store.pool.acquire().await.or_internal("acquire")?;
        let actors = store::actors(&mut conn, actor.org_id)
            .await
            .or_internal("read actors")?;
        let mut f = filter(
            &AuditQuery {
                after: String::new(),
                ..query.clone()
            },
            &actors,
        )?;
        let org_name = crate::db::roles::org_name(&mut conn, actor.org_id)
            .await
            .or_internal("read organization")?;
        drop(conn);
        let now = self.now();
        let stamp = DateTime::from_timestamp_millis(now)
            .unwrap_or_default()
            .format("%Y%m%d-%H%M%S");
        let file_name = format!(
            "roster-audit-{}-{stamp}.{}",
            slug(&org_name),
            format.extension()
        );
        let detail = serde_json::json!({
            "format": format.extension(),
            "actor": query.actor,
            "action": query.action,
            "target": query.target,
            "search": query.search,
            "from": query.from,
            "to": query.to,
        })
        .to_string();
        let mut tx = store.write().await.or_internal("begin")?;
        let id = store::insert(
            &mut tx,
            store::Entry {
                org_id: Some(actor.org_id),
                actor_user_id: Some(actor.user_id),
                action: "audit.exported",
                target: Some(&file_name),
                detail: Some(&detail),
                via: actor.channel(),
            },
            now,
        )
        .await
        .or_internal("audit export")?;
        tx.commit().await.or_internal("commit")?;
        // The export's rows start before its own: the log as it was when it was asked for.
        f.after = Some((now, id));
        let (send, body) = tokio::sync::mpsc::channel(4);
        let whole = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let done = whole.clone();
        let org_id = actor.org_id;
        let tz = time_zone(&query.tz);
        tokio::spawn(async move {
            let streamed = stream(store, org_id, f, format, tz, send, done);
            if tokio::time::timeout(EXPORT_DEADLINE, streamed)
                .await
                .is_err()
            {
                // The body ends before the file is whole: the browser sees it fail.
                tracing::warn!("an audit export passed its deadline and was ended");
            }
            drop(permit);
        });
        Ok(Download {
            file_name,
            body,
            whole,
        })
    }
}

const CSV_HEADER: [&str; 14] = [
    "time",
    "seq",
    "actor_name",
    "actor_email",
    "via",
    "action",
    "target",
    "change",
    "detail",
    "client_ip",
    "user_agent",
    "request_id",
    "prev_hash",
    "hash",
];

/// Writes the rows of `filter` into `send`, a batch at a time, newest first. A failure
/// midway ends the stream with an error, so the download is seen to fail, not to end short.
async fn stream(
    store: crate::db::Store,
    org_id: i64,
    mut filter: Filter,
    format: Format,
    tz: Tz,
    send: tokio::sync::mpsc::Sender<Result<Vec<u8>, std::io::Error>>,
    whole: std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    let failed = |e: &dyn std::fmt::Display| {
        tracing::error!(error = %e, "stream audit export");
        std::io::Error::other("the export could not be read")
    };
    let mut out: Vec<u8> = Vec::with_capacity(CHUNK * 2);
    if format == Format::Csv {
        let mut w = csv::Writer::from_writer(Vec::new());
        let _ = w.write_record(CSV_HEADER);
        out.extend(w.into_inner().unwrap_or_default());
    }
    loop {
        let batch = match store.pool.acquire().await {
            Ok(mut conn) => store::list(&mut conn, org_id, &filter, EXPORT_BATCH).await,
            Err(e) => Err(e),
        };
        let batch = match batch {
            Ok(b) => b,
            Err(e) => {
                let _ = send.send(Err(failed(&e))).await;
                return;
            }
        };
        let last = batch.last().map(|l| (l.row.created_at, l.row.id));
        let full = (batch.len() as i64) == EXPORT_BATCH;
        for listed in batch {
            let prev_hash = listed.row.prev_hash.clone().unwrap_or_default();
            let hash = listed.row.hash.clone().unwrap_or_default();
            let detail = listed.row.detail.clone().unwrap_or_default();
            let row = to_row(listed, tz);
            match format {
                Format::Csv => {
                    let cells = [
                        row.at.clone(),
                        row.seq.to_string(),
                        row.actor_name.clone().unwrap_or_default(),
                        row.actor_email.clone().unwrap_or_default(),
                        row.via.clone(),
                        row.action.clone(),
                        row.target.clone(),
                        row.change.clone(),
                        detail,
                        row.client_ip.clone(),
                        row.user_agent.clone(),
                        row.request_id.clone(),
                        prev_hash,
                        hash,
                    ];
                    let mut w = csv::Writer::from_writer(Vec::new());
                    let written = w.write_record(cells.iter().map(|c| csv_text(c).into_owned()));
                    match (written, w.into_inner()) {
                        (Ok(()), Ok(bytes)) => out.extend(bytes),
                        _ => {
                            let _ = send.send(Err(failed(&"csv"))).await;
                            return;
                        }
                    }
                }
                Format::JsonLines => {
                    let line = serde_json::json!({
                        "time": row.at,
                        "seq": row.seq,
                        "actor_name": row.actor_name,
                        "actor_email": row.actor_email,
                        "via": row.via,
                        "action": row.action,
                        "target": row.target,
                        "change": row.change,
                        "detail": detail,
                        "client_ip": row.client_ip,
                        "user_agent": row.user_agent,
                        "request_id": row.request_id,
                        "prev_hash": prev_hash,
                        "hash": hash,
                    });
                    out.extend(line.to_string().into_bytes());
                    out.push(b'\n');
                }
            }
            if out.len() >= CHUNK {
                let chunk = std::mem::take(&mut out);
                let sent = tokio::time::timeout(SEND_WAIT, send.send(Ok(chunk))).await;
                if !matches!(sent, Ok(Ok(()))) {
                    return; // The browser went away or stopped reading.
                }
            }
        }
        match last {
            Some(after) if full => filter.after = Some(after),
            _ => break,
        }
    }
    if matches!(
        tokio::time::timeout(SEND_WAIT, send.send(Ok(out))).await,
        Ok(Ok(()))
    ) {
        whole.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

#[async_trait::async_trait]
impl AuditLog for AuditService {
    async fn page(&self, actor: &Actor, query: AuditQuery) -> Result<AuditPage, AppError> {
        actor.meets(Requirement::feature(Feature::AuditLogs, Level::View))?;
        let mut conn = self
            .accounts
            .store
            .pool
            .acquire()
            .await
            .or_internal("acquire")?;
        let actors = store::actors(&mut conn, actor.org_id)
            .await
            .or_internal("read actors")?;
        let f = filter(&query, &actors)?;
        let mut rows = store::list(&mut conn, actor.org_id, &f, AUDIT_PAGE_SIZE as i64 + 1)
            .await
            .or_internal("read audit log")?;
        let next = (rows.len() > AUDIT_PAGE_SIZE).then(|| {
            rows.truncate(AUDIT_PAGE_SIZE);
            rows.last()
                .map(|l| format!("{}.{}", l.row.created_at, l.row.id))
                .unwrap_or_default()
        });
        let tz = time_zone(&query.tz);
        // Where people sign in from is for those who may export the log (Owner, Admins):
        // a view-only role (Visitors, "auditors" in seed 002) sees what was done, not from where.
        let can_export = actor
            .meets(Requirement::Feature(Feature::AuditLogs, Need::Download))
            .is_ok();
        let rows = rows.into_iter().map(|l| to_row(l, tz)).map(|mut r| {
            if !can_export {
                r.client_ip = String::new();
                r.user_agent = String::new();
            }
            r
        });
        Ok(AuditPage {
            rows: rows.collect(),
            next,
            actors: actors
                .into_iter()
                .map(|(id, name, email)| {
                    let label = if name.is_empty() {
                        email
                    } else {
                        format!("{name} ({email})")
                    };
                    (id.to_string(), label)
                })
                .collect(),
            can_export,
        })
    }

    async fn verify(&self, actor: &Actor) -> Result<Integrity, AppError> {
        actor.meets(Requirement::feature(Feature::AuditLogs, Level::View))?;
        let mut conn = self
            .accounts
            .store
            .pool
            .acquire()
            .await
            .or_internal("acquire")?;
        let verified = store::verify(&mut conn, actor.org_id)
            .await
            .or_internal("verify audit log")?;
        Ok(Integrity {
            rows: verified.rows,
            broken: verified.broken.map(|b| b.reason),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_reads_as_what_changed() {
        let detail = r#"{"before":{"role":"member","status":"active"},"after":{"role":"admin","status":"active"}}"#;
        assert_eq!(change_words(Some(detail)), "role: member → admin");
        assert_eq!(change_words(Some(r#"{"overlap":"1h"}"#)), "overlap: 1h");
        assert_eq!(change_words(Some("v2")), "v2");
        assert_eq!(change_words(None), "");
    }

    #[test]
    fn filters_say_what_is_wrong_next_to_the_field() {
        let q = AuditQuery {
            actor: "99".into(),
            action: "nothing".into(),
            from: "2026-11-05".into(),
            to: "2026-11-01".into(),
            after: "x".into(),
            ..Default::default()
        };
        let Err(AppError::Validation(errors)) = filter(&q, &[(1, "A".into(), "a@x.io".into())])
        else {
            panic!("expected field errors");
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["actor", "action", "to", "after"]);
    }

    #[test]
    fn days_are_read_in_the_viewers_time_zone() {
        let q = AuditQuery {
            from: "2026-07-01".into(),
            to: "2026-07-01".into(),
            tz: "Europe/Berlin".into(),
            ..Default::default()
        };
        let f = filter(&q, &[]).unwrap();
        // Midnight in Berlin (UTC+2 in July) is 22:00 UTC the day before.
        assert_eq!(f.from, Some(1_782_856_800_000));
        assert_eq!(f.until, Some(1_782_856_800_000 + 86_400_000));
    }
}
