//! The Usage page and the usage report: the gateway's counts for a time range in the
//! viewer's time zone, narrowed by the filters and by the regions the viewer's role may see.

use super::OrInternal;
use super::accounts::AccountService;
use crate::clock::{MINUTE, Millis};
use crate::db::audit;
use crate::db::usage::{self as store, Cell, Filter, Grain};
use crate::gateway::usage::OUTCOMES as ALL_OUTCOMES;
use app::authz::{Access, Feature, Level, Need, Region, Requirement, can};
use app::error::{AppError, FieldError};
use app::model::usage::{
    AuditLine, CUSTOM_RANGE, Choice, DEFAULT_RANGE, Dashboard, MEMBER_ROWS, MEMBER_SORTS,
    MemberUsage, OUTCOMES, OwnUsage, Pending, Point, RANGES, Slice, Step, UsageQuery, UsageReport,
    Week, outcome_label, share,
};
use app::ports::{Actor, Usage};
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use std::collections::{BTreeMap, HashMap};

#[derive(Clone)]
pub struct UsageService {
    pub accounts: AccountService,
    /// Reports being downloaded at once: each holds a database connection while the browser
    /// reads it, so a few slow readers cannot take every connection.
    pub downloads: std::sync::Arc<tokio::sync::Semaphore>,
    /// Figures already read, by what was asked and who may see what, with the organization's
    /// write generation when they were read: good until its counts are written again.
    reports: moka::future::Cache<String, (u64, std::sync::Arc<UsageReport>)>,
}

/// Reports downloaded at once, per process.
pub const DOWNLOADS_AT_ONCE: usize = 2;
/// How long a download waits for the browser to take a chunk before it gives up.
const SEND_WAIT: std::time::Duration = std::time::Duration::from_secs(30);
/// The longest a download may take in all (a year of 10,000 members' days streams in well
/// under a minute on loopback).
const DOWNLOAD_DEADLINE: std::time::Duration = std::time::Duration::from_secs(15 * 60);

impl UsageService {
    pub fn new(accounts: AccountService) -> Self {
        Self {
            accounts,
            downloads: std::sync::Arc::new(tokio::sync::Semaphore::new(DOWNLOADS_AT_ONCE)),
            // Names shown in the figures may change without a write: a minute at most.
            // Weighed by their rows, about 64 MiB in all.
            reports: moka::future::Cache::builder()
                .weigher(|_, (_, r): &(u64, std::sync::Arc<UsageReport>)| {
                    let rows = r.points.len() + r.members.len() + r.member_choices.len();
                    u32::try_from(512 + rows * 160).unwrap_or(u32::MAX)
                })
                .max_capacity(64 * 1024 * 1024)
                .time_to_live(std::time::Duration::from_secs(60))
                .build(),
        }
    }
}

/// The time buckets a query covers and how they are read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The grain read from the store.
    pub grain: Grain,
    /// `[from, to)` in minute numbers.
    pub from: i64,
    pub to: i64,
    /// Each bar's first minute, in order, with its label.
    pub buckets: Vec<(i64, String)>,
    pub hourly: bool,
    pub utc_days: bool,
    pub range_label: String,
}

impl Plan {
    /// The bar that a count of bucket `t` belongs to.
    fn bar(&self, t: i64) -> Option<usize> {
        self.buckets
            .partition_point(|(start, _)| *start <= t)
            .checked_sub(1)
    }
}

fn minute_of<Z: TimeZone>(at: DateTime<Z>) -> i64 {
    at.timestamp().div_euclid(60)
}

fn at_minute(minute: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(minute * 60, 0).unwrap_or_default()
}

/// The first minute of `date` in `tz` (the first instant that exists, where a change of
/// clocks skips midnight), on an hour's boundary.
pub(crate) fn local_midnight(tz: Tz, date: NaiveDate) -> i64 {
    let start = (0..24)
        .find_map(|h| {
            tz.from_local_datetime(&date.and_hms_opt(h, 0, 0)?)
                .earliest()
        })
        .map_or_else(
            || {
                date.and_hms_opt(0, 0, 0)
                    .unwrap_or_default()
                    .and_utc()
                    .timestamp()
                    / 60
            },
            minute_of,
        );
    start - start.rem_euclid(60)
}

fn field(name: &str, message: &str) -> FieldError {
    FieldError::new(name, message)
}

pub(crate) fn parse_day(value: &str, name: &str, what: &str) -> Result<NaiveDate, FieldError> {
    if value.is_empty() {
        return Err(field(name, &format!("Enter the {what} day of the range.")));
    }
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .map_err(|_| field(name, "Enter a date like 2026-11-01."))
}

/// The range of the Overview's week: the last seven days by day (not offered on Usage, which
/// shows seven days by the hour).
const WEEK_BY_DAY: &str = "week";

/// The buckets for `query`'s range at `now` in `tz`; `hourly_keep` and `daily_keep` are how
/// far back the hourly and daily counts go.
pub fn plan(
    query: &UsageQuery,
    now: Millis,
    tz: Tz,
    hourly_keep: Millis,
    daily_keep: Millis,
) -> Result<Plan, Vec<FieldError>> {
    let now_minute = now.div_euclid(MINUTE);
    let today = at_minute(now_minute).with_timezone(&tz).date_naive();
    let hour_label = |minute: i64| {
        at_minute(minute)
            .with_timezone(&tz)
            .format("%a %-d %b, %H:%M")
            .to_string()
    };
    let hours = |from: i64, to: i64, label: String| {
        let buckets = (from..to).step_by(60).map(|m| (m, hour_label(m))).collect();
        Plan {
            grain: Grain::Hour,
            from,
            to,
            buckets,
            hourly: true,
            utc_days: false,
            range_label: label,
        }
    };
    let day_label = |date: NaiveDate| {
        if date.year() == today.year() {
            date.format("%a %-d %b").to_string()
        } else {
            date.format("%a %-d %b %Y").to_string()
        }
    };
    let days = |first: NaiveDate, last: NaiveDate, label: String| {
        let dates: Vec<NaiveDate> = first.iter_days().take_while(|d| *d <= last).collect();
        let from = local_midnight(tz, first);
        // Within the hourly counts: days in the viewer's time zone, made of hours.
        if from >= now_minute - hourly_keep / MINUTE + 60 {
            Plan {
                grain: Grain::Hour,
                from,
                to: local_midnight(tz, last + Duration::days(1)),
                buckets: dates
                    .iter()
                    .map(|d| (local_midnight(tz, *d), day_label(*d)))
                    .collect(),
                hourly: false,
                utc_days: false,
                range_label: label,
            }
        } else {
            let utc = |d: NaiveDate| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
            Plan {
                grain: Grain::Day,
                from: minute_of(utc(first)),
                to: minute_of(utc(last + Duration::days(1))),
                buckets: dates
                    .iter()
                    .map(|d| (minute_of(utc(*d)), day_label(*d)))
                    .collect(),
                hourly: false,
                utc_days: true,
                range_label: label,
            }
        }
    };
    let end_of_hour = now_minute - now_minute.rem_euclid(60) + 60;
    let range = if query.range.is_empty() {
        DEFAULT_RANGE
    } else {
        query.range.as_str()
    };
    let preset = RANGES.iter().find(|(v, _)| *v == range).map(|(_, l)| *l);
    match (range, preset) {
        ("24h", Some(label)) => Ok(hours(end_of_hour - 24 * 60, end_of_hour, label.into())),
        ("7d", Some(label)) => Ok(hours(end_of_hour - 7 * 24 * 60, end_of_hour, label.into())),
        // The Overview's seven days, by day.
        (WEEK_BY_DAY, _) => Ok(days(today - Duration::days(6), today, "Last 7 days".into())),
        ("30d" | "90d", Some(label)) => {
            let n = if range == "30d" { 30 } else { 90 };
            Ok(days(today - Duration::days(n - 1), today, label.into()))
        }
        (CUSTOM_RANGE, _) => {
            let from = parse_day(&query.from, "from", "first");
            let to = parse_day(&query.to, "to", "last");
            let (from, to) = match (from, to) {
                (Ok(f), Ok(t)) => (f, t),
                (f, t) => return Err([f.err(), t.err()].into_iter().flatten().collect()),
            };
            let earliest = at_minute(now_minute - daily_keep / MINUTE)
                .with_timezone(&tz)
                .date_naive()
                + Duration::days(1);
            let mut errors = Vec::new();
            if from < earliest {
                errors.push(field(
                    "from",
                    &format!(
                        "Usage is kept for {} days: choose {} or later.",
                        daily_keep / crate::clock::DAY,
                        earliest.format("%Y-%m-%d")
                    ),
                ));
            }
            if to > today {
                errors.push(field("to", "The last day cannot be after today."));
            } else if to < from {
                errors.push(field("to", "The last day cannot be before the first."));
            }
            if !errors.is_empty() {
                return Err(errors);
            }
            let label = format!("{} – {}", from.format("%-d %b %Y"), to.format("%-d %b %Y"));
            let start = local_midnight(tz, from);
            // A week or less by the hour, while the hourly counts go back that far.
            if (to - from).num_days() < 7 && start >= now_minute - hourly_keep / MINUTE + 60 {
                Ok(hours(
                    start,
                    local_midnight(tz, to + Duration::days(1)),
                    label,
                ))
            } else {
                Ok(days(from, to, label))
            }
        }
        _ => Err(vec![field("range", "Choose a range from the list.")]),
    }
}

/// The regions whose counts `access` may read with `need` of `feature`: `None` for all of
/// them (the organization-wide calls included), otherwise those its grants name.
pub fn visible_regions(
    access: &Access,
    feature: Feature,
    need: Need,
    regions: &[Region],
) -> Option<Vec<String>> {
    let codes: Vec<String> = regions
        .iter()
        .filter(|r| can(access, feature, need, Some(&r.code)))
        .map(|r| r.code.clone())
        .collect();
    (codes.len() < regions.len()).then_some(codes)
}

/// The time zone named by the browser, or UTC.
pub fn time_zone(name: &str) -> Tz {
    name.parse().unwrap_or(Tz::UTC)
}

/// Keeps a spreadsheet from reading a text cell as a formula.
pub fn csv_text(value: &str) -> std::borrow::Cow<'_, str> {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}").into()
    } else {
        value.into()
    }
}

/// The name shown for a member; their address when they have none.
fn display_name(cell: &Cell) -> String {
    let name = format!(
        "{} {}",
        cell.first_name.as_deref().unwrap_or_default(),
        cell.last_name.as_deref().unwrap_or_default()
    );
    match name.trim() {
        "" => cell
            .email
            .clone()
            .unwrap_or_else(|| "Unknown member".into()),
        n => n.to_owned(),
    }
}

fn feature_label(key: &str) -> String {
    Feature::parse(key).map_or_else(|| "No feature named".into(), |f| f.label().into())
}

fn region_label(code: &str, regions: &[Region]) -> String {
    match code {
        "" => "Organization-wide".into(),
        c => regions
            .iter()
            .find(|r| r.code == c)
            .map_or_else(|| c.to_owned(), |r| format!("{} ({})", r.name, r.code)),
    }
}

/// Whose calls a reader reads: the organization's, in the regions a right of the actor's
/// role covers, or only the actor's own (which every member may see).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scope {
    Organization(Feature, Need),
    Own,
}

/// What the filters ask for, checked; and the store's filter for them.
struct Narrowed {
    filter: Filter,
    plan: Plan,
    tz: Tz,
}

impl UsageService {
    fn now(&self) -> Millis {
        self.accounts.clock.now()
    }

    /// Checks the query and builds the store's filter for the regions `need` of `feature`
    /// lets the actor read.
    async fn narrow(
        &self,
        conn: &mut crate::db::Conn,
        actor: &Actor,
        query: &UsageQuery,
        scope: Scope,
    ) -> Result<(Narrowed, Vec<Region>), AppError> {
        let tz = time_zone(&query.tz);
        let keep = self.accounts.config.usage_retention;
        let mut errors = Vec::new();
        let plan = plan(query, self.now(), tz, keep.hourly, keep.daily);
        let plan = match plan {
            Ok(p) => Some(p),
            Err(e) => {
                errors.extend(e);
                None
            }
        };
        let catalog = self
            .accounts
            .catalog
            .get(conn, actor.org_id)
            .await
            .or_internal("read regions")?;
        let regions = catalog.regions.clone();
        let visible = match scope {
            Scope::Organization(feature, need) => {
                visible_regions(&actor.access, feature, need, &regions)
            }
            Scope::Own => None,
        };
        let user_id = match query.member.as_str() {
            _ if scope == Scope::Own => Some(actor.user_id),
            "" => None,
            m => match m.parse::<i64>() {
                Ok(id) => Some(id),
                Err(_) => {
                    errors.push(field("member", "Choose a member from the list."));
                    None
                }
            },
        };
        let feature_key = match query.feature.as_str() {
            "" => None,
            f if Feature::parse(f).is_some() => Some(f.to_owned()),
            _ => {
                errors.push(field("feature", "Choose a feature from the list."));
                None
            }
        };
        let region_list = match query.region.as_str() {
            "" => visible.clone(),
            r if !regions.iter().any(|x| x.code == r) => {
                errors.push(field("region", "Choose a region from the list."));
                None
            }
            r if visible.as_ref().is_some_and(|v| !v.iter().any(|c| c == r)) => {
                errors.push(field("region", "Your role does not include this region."));
                None
            }
            r => Some(vec![r.to_owned()]),
        };
        let outcomes = match query.outcome.as_str() {
            "" => None,
            "denied" => Some(
                ALL_OUTCOMES
                    .iter()
                    .filter(|o| **o != "allowed")
                    .map(|o| (*o).to_owned())
                    .collect(),
            ),
            o if OUTCOMES.contains(&o) => Some(vec![o.to_owned()]),
            _ => {
                errors.push(field("outcome", "Choose an outcome from the list."));
                None
            }
        };
        match plan {
            Some(plan) if errors.is_empty() => Ok((
                Narrowed {
                    filter: Filter {
                        org_id: actor.org_id,
                        from: plan.from,
                        to: plan.to,
                        grain: plan.grain,
                        user_id,
                        feature: feature_key,
                        regions: region_list,
                        outcomes,
                    },
                    plan,
                    tz,
                },
                regions,
            )),
            _ => Err(AppError::Validation(errors)),
        }
    }

    /// Starts the usage report's download: records it in the audit log and streams its CSV.
    pub async fn download(&self, actor: &Actor, query: UsageQuery) -> Result<Download, AppError> {
        actor.meets(Requirement::Feature(Feature::UsageReports, Need::Download))?;
        let Ok(permit) = self.downloads.clone().try_acquire_owned() else {
            return Err(AppError::Busy);
        };
        let store = self.accounts.store.clone();
        let mut conn = store.pool.acquire().await.or_internal("acquire")?;
        let (n, _) = self
            .narrow(
                &mut conn,
                actor,
                &query,
                Scope::Organization(Feature::UsageReports, Need::Download),
            )
            .await?;
        let org_name = crate::db::roles::org_name(&mut conn, actor.org_id)
            .await
            .or_internal("read organization")?;
        drop(conn);
        let day = |m: i64| {
            at_minute(m)
                .with_timezone(&n.tz)
                .format("%Y-%m-%d")
                .to_string()
        };
        let file_name = format!(
            "roster-usage-{}-{}-to-{}.csv",
            slug(&org_name),
            day(n.plan.from),
            day(n.plan.to - 1)
        );
        let detail = serde_json::json!({
            "range": n.plan.range_label,
            "from": at_minute(n.plan.from).to_rfc3339(),
            "to": at_minute(n.plan.to).to_rfc3339(),
            "member": query.member,
            "feature": query.feature,
            "region": query.region,
            "outcome": query.outcome,
        })
        .to_string();
        let mut tx = store.write().await.or_internal("begin")?;
        audit::record(
            &mut tx,
            audit::Entry {
                org_id: Some(actor.org_id),
                actor_user_id: Some(actor.user_id),
                action: "usage.report_downloaded",
                target: Some(&file_name),
                detail: Some(&detail),
                via: actor.channel(),
            },
            self.now(),
        )
        .await
        .or_internal("audit download")?;
        tx.commit().await.or_internal("commit")?;
        let bucket = if n.plan.hourly { 60 } else { 1440 };
        let period = if n.plan.hourly { "hour" } else { "day" };
        let (sql, args) = store::report_statement(&n.filter, bucket);
        let (send, body) = tokio::sync::mpsc::channel(4);
        let whole = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let done = whole.clone();
        tokio::spawn(async move {
            let streamed = stream_csv(store, sql, args, period, send, done);
            if tokio::time::timeout(DOWNLOAD_DEADLINE, streamed)
                .await
                .is_err()
            {
                // The body ends before the report is whole: the browser sees it fail.
                tracing::warn!("a usage report download passed its deadline and was ended");
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

/// A download under way: its file name, its bytes as they are read, and whether all of them
/// were (set before the last chunk's sender goes; a stream that ends without it was cut short).
pub struct Download {
    pub file_name: String,
    pub body: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
    pub whole: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// The organization's name as a file name part: lower-case letters, digits and hyphens.
pub(crate) fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-');
    if out.is_empty() {
        "organization".into()
    } else {
        out.chars().take(40).collect()
    }
}

/// Bytes gathered before they are sent.
const CHUNK: usize = 32 * 1024;

fn csv_writer() -> csv::Writer<Vec<u8>> {
    csv::Writer::from_writer(Vec::with_capacity(CHUNK + 16 * 1024))
}

/// Writes the report's rows as CSV into `send`, a chunk at a time, reading one row at a
/// time. A failure midway ends the stream with an error, so the download is seen to fail
/// rather than end short.
async fn stream_csv(
    store: crate::db::Store,
    sql: String,
    args: Vec<crate::db::Arg>,
    period: &'static str,
    send: tokio::sync::mpsc::Sender<Result<Vec<u8>, std::io::Error>>,
    whole: std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    use futures::TryStreamExt;
    use sqlx::Row;
    let mut out = csv_writer();
    let header = [
        "period_start",
        "period",
        "member_email",
        "member_first_name",
        "member_last_name",
        "feature",
        "region",
        "outcome",
        "calls",
    ];
    let failed = |e: &dyn std::fmt::Display| {
        tracing::error!(error = %e, "stream usage report");
        std::io::Error::other("the report could not be read")
    };
    if let Err(e) = out.write_record(header) {
        let _ = send.send(Err(failed(&e))).await;
        return;
    }
    let mut conn = match store.pool.acquire().await {
        Ok(c) => c,
        Err(e) => {
            let _ = send.send(Err(failed(&e))).await;
            return;
        }
    };
    let mut rows = crate::db::bind_all(sqlx::query(&sql), args).fetch(&mut *conn);
    loop {
        let row = match rows.try_next().await {
            Ok(Some(row)) => row,
            Ok(None) => break,
            Err(e) => {
                let _ = send.send(Err(failed(&e))).await;
                return;
            }
        };
        let record = (|| -> Result<[String; 9], sqlx::Error> {
            let t: i64 = row.try_get(0)?;
            let calls: i64 = row.try_get(7)?;
            let text = |i: usize| -> Result<String, sqlx::Error> {
                Ok(csv_text(&row.try_get::<String, _>(i)?).into_owned())
            };
            Ok([
                at_minute(t).format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                period.to_owned(),
                text(1)?,
                text(2)?,
                text(3)?,
                text(4)?,
                text(5)?,
                text(6)?,
                calls.to_string(),
            ])
        })();
        let written = match record {
            Ok(r) => out.write_record(&r).map_err(|e| failed(&e)),
            Err(e) => Err(failed(&e)),
        };
        if let Err(e) = written {
            let _ = send.send(Err(e)).await;
            return;
        }
        if out.get_ref().len() >= CHUNK {
            let full = std::mem::replace(&mut out, csv_writer()).into_inner();
            let full = full.map_err(|e| failed(&e));
            let stop = full.is_err();
            let sent = tokio::time::timeout(SEND_WAIT, send.send(full)).await;
            if !matches!(sent, Ok(Ok(()))) || stop {
                return; // The browser went away or stopped reading, or the chunk failed.
            }
        }
    }
    match out.into_inner() {
        Ok(rest) => {
            if send.send(Ok(rest)).await.is_ok() {
                whole.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
        Err(e) => {
            let _ = send.send(Err(failed(&e))).await;
        }
    }
}

impl UsageService {
    /// The figures of `query` in `scope`; the caller has checked the actor's right to them.
    async fn report_in(
        &self,
        actor: &Actor,
        query: UsageQuery,
        scope: Scope,
    ) -> Result<UsageReport, AppError> {
        // Read first: a write committed from here on makes what is read below older than it.
        let events = &self.accounts.events;
        let generation = events.usage_written.generation(actor.org_id);
        let mut conn = self
            .accounts
            .store
            .pool
            .acquire()
            .await
            .or_internal("acquire")?;
        let (n, regions) = self.narrow(&mut conn, actor, &query, scope).await?;
        drop(conn);
        let visible = match scope {
            Scope::Organization(feature, need) => {
                visible_regions(&actor.access, feature, need, &regions)
            }
            Scope::Own => None,
        };
        let can_download = actor
            .meets(Requirement::Feature(Feature::UsageReports, Need::Download))
            .is_ok();
        // Read again only once the organization's counts were written since (and only while
        // this instance hears of other instances' writes).
        let sort = MEMBER_SORTS
            .iter()
            .find(|(k, _)| *k == query.sort)
            .map_or("calls", |(k, _)| k);
        let key = format!(
            "{:?}|{visible:?}|{can_download}|{}|{sort}|{}|{:?}|{}|{}|{}",
            n.filter,
            n.tz.name(),
            n.plan.range_label,
            n.plan.grain,
            n.plan.hourly,
            n.plan.utc_days,
            n.plan.buckets.len()
        );
        let read = self.read(n, regions, visible, can_download, sort);
        if !events.watch.listening() {
            return read.await;
        }
        if let Some((seen, _)) = self.reports.get(&key).await
            && seen != generation
        {
            self.reports.invalidate(&key).await;
        }
        // Pages asking for the same figures at once share one read.
        let (_, report) = self
            .reports
            .try_get_with(key, async move {
                read.await.map(|r| (generation, std::sync::Arc::new(r)))
            })
            .await
            .map_err(|e| (*e).clone())?;
        Ok((*report).clone())
    }

    /// Reads the figures of a checked query.
    async fn read(
        &self,
        n: Narrowed,
        regions: Vec<Region>,
        visible: Option<Vec<String>>,
        can_download: bool,
        sort: &str,
    ) -> Result<UsageReport, AppError> {
        // The bars and the totals from the same moment, whatever is written meanwhile.
        let mut conn = self.accounts.store.snapshot().await.or_internal("begin")?;
        let series = store::series(&mut conn, &n.filter)
            .await
            .or_internal("read usage series")?;
        let cells = store::cells(&mut conn, &n.filter)
            .await
            .or_internal("read usage")?;
        let mut points: Vec<Point> = n
            .plan
            .buckets
            .iter()
            .map(|(_, label)| Point {
                label: label.clone(),
                allowed: 0,
                denied: 0,
            })
            .collect();
        for b in &series {
            if let Some(p) = n.plan.bar(b.start).and_then(|i| points.get_mut(i)) {
                p.allowed += b.allowed;
                p.denied += b.denied;
            }
        }
        let calls: i64 = cells.iter().map(|c| c.calls).sum();
        let denied_of = |c: &Cell| if c.outcome == "allowed" { 0 } else { c.calls };
        let denied: i64 = cells.iter().map(denied_of).sum();
        let last_label = |t: i64| {
            let at = at_minute(t).with_timezone(&n.tz);
            if n.plan.hourly || n.plan.grain == Grain::Hour {
                at.format("%a %-d %b, %H:00").to_string()
            } else {
                at.format("%a %-d %b").to_string()
            }
        };
        // Per member: calls, refusals, the latest bucket and calls per feature.
        struct Acc<'a> {
            cell: &'a Cell,
            calls: i64,
            denied: i64,
            last: i64,
            features: BTreeMap<&'a str, i64>,
        }
        let mut per_member: HashMap<i64, Acc<'_>> = HashMap::new();
        for c in &cells {
            let a = per_member.entry(c.user_id).or_insert(Acc {
                cell: c,
                calls: 0,
                denied: 0,
                last: i64::MIN,
                features: BTreeMap::new(),
            });
            a.calls += c.calls;
            a.denied += denied_of(c);
            a.last = a.last.max(c.last);
            *a.features.entry(&c.feature).or_default() += c.calls;
        }
        let mut members: Vec<(i64, MemberUsage)> = per_member
            .into_iter()
            .map(|(user_id, a)| {
                let top = a
                    .features
                    .iter()
                    .max_by(|x, y| x.1.cmp(y.1).then(y.0.cmp(x.0)))
                    .map(|(f, _)| feature_label(f))
                    .unwrap_or_default();
                (
                    a.last,
                    MemberUsage {
                        user_id,
                        name: display_name(a.cell),
                        email: a.cell.email.clone().unwrap_or_default(),
                        calls: a.calls,
                        denied: a.denied,
                        share: share(a.calls, calls),
                        last_call: last_label(a.last),
                        top_feature: top,
                    },
                )
            })
            .collect();
        let by_name = |a: &MemberUsage, b: &MemberUsage| {
            a.name
                .to_lowercase()
                .cmp(&b.name.to_lowercase())
                .then(a.user_id.cmp(&b.user_id))
        };
        match sort {
            "name" => members.sort_by(|a, b| by_name(&a.1, &b.1)),
            "denied" => {
                members.sort_by(|a, b| b.1.denied.cmp(&a.1.denied).then(by_name(&a.1, &b.1)))
            }
            "last" => members.sort_by(|a, b| b.0.cmp(&a.0).then(by_name(&a.1, &b.1))),
            _ => members.sort_by(|a, b| b.1.calls.cmp(&a.1.calls).then(by_name(&a.1, &b.1))),
        }
        // The member filter offers the most active members (the table links to any other).
        let mut busiest: Vec<&MemberUsage> = members.iter().map(|(_, m)| m).collect();
        busiest.sort_by(|a, b| b.calls.cmp(&a.calls).then(a.user_id.cmp(&b.user_id)));
        let mut member_choices: Vec<Choice> = busiest
            .into_iter()
            .take(MEMBER_ROWS)
            .map(|m| Choice {
                value: m.user_id.to_string(),
                label: format!("{} ({})", m.name, m.email),
            })
            .collect();
        member_choices.sort_by_key(|c| c.label.to_lowercase());
        let members_total = members.len();
        let members: Vec<MemberUsage> = members
            .into_iter()
            .take(MEMBER_ROWS)
            .map(|(_, m)| m)
            .collect();
        let slices = |key: &dyn Fn(&Cell) -> String| {
            let mut by: BTreeMap<String, (i64, i64)> = BTreeMap::new();
            for c in &cells {
                let e = by.entry(key(c)).or_default();
                e.0 += c.calls;
                e.1 += denied_of(c);
            }
            let mut out: Vec<Slice> = by
                .into_iter()
                .map(|(label, (n, d))| Slice {
                    label,
                    calls: n,
                    denied: d,
                    share: share(n, calls),
                })
                .collect();
            out.sort_by(|a, b| b.calls.cmp(&a.calls).then(a.label.cmp(&b.label)));
            out
        };
        let features = slices(&|c| feature_label(&c.feature));
        let region_slices = slices(&|c| region_label(&c.region, &regions));
        let outcomes = slices(&|c| outcome_label(&c.outcome).to_owned());
        let report = UsageReport {
            range_label: n.plan.range_label.clone(),
            tz: n.tz.name().to_owned(),
            hourly: n.plan.hourly,
            utc_days: n.plan.utc_days,
            points,
            calls,
            denied,
            members,
            members_total,
            features,
            regions: region_slices,
            outcomes,
            member_choices,
            feature_choices: Feature::ALL
                .iter()
                .filter(|f| f.regional())
                .map(|f| Choice {
                    value: f.key().into(),
                    label: f.label().into(),
                })
                .collect(),
            region_choices: regions
                .iter()
                .filter(|r| visible.as_ref().is_none_or(|v| v.contains(&r.code)))
                .map(|r| Choice {
                    value: r.code.clone(),
                    label: region_label(&r.code, &regions),
                })
                .collect(),
            can_download,
        };
        Ok(report)
    }
}

/// The days `from` to `to` (both included) as a custom range.
fn days_query(from: NaiveDate, to: NaiveDate, tz: &str) -> UsageQuery {
    UsageQuery {
        range: CUSTOM_RANGE.into(),
        from: from.format("%Y-%m-%d").to_string(),
        to: to.format("%Y-%m-%d").to_string(),
        tz: tz.into(),
        ..Default::default()
    }
}

/// An audit action code as words: "usage.report_downloaded" → "Usage: report downloaded".
pub(crate) fn action_words(code: &str) -> String {
    let (area, what) = code.split_once('.').unwrap_or(("", code));
    let what = what.replace('_', " ");
    let mut area = area.replace('_', " ");
    if let Some(first) = area.get(..1) {
        area = format!("{}{}", first.to_uppercase(), &area[1..]);
    }
    let area = area.replace("Api ", "API ");
    if area.is_empty() {
        what
    } else {
        format!("{area}: {what}")
    }
}

#[async_trait::async_trait]
impl Usage for UsageService {
    async fn report(&self, actor: &Actor, query: UsageQuery) -> Result<UsageReport, AppError> {
        actor.meets(Requirement::feature(Feature::Analytics, Level::View))?;
        let scope = Scope::Organization(Feature::Analytics, Level::View.into());
        self.report_in(actor, query, scope).await
    }

    async fn own(&self, actor: &Actor, tz: String) -> Result<OwnUsage, AppError> {
        actor.meets(Requirement::Member)?;
        let today = at_minute(self.now() / MINUTE)
            .with_timezone(&time_zone(&tz))
            .date_naive();
        let query = days_query(today - Duration::days(29), today, &tz);
        let report = self.report_in(actor, query, Scope::Own).await?;
        let me = report.members.into_iter().next();
        Ok(OwnUsage {
            calls: report.calls,
            denied: report.denied,
            top_feature: me
                .as_ref()
                .map(|m| m.top_feature.clone())
                .unwrap_or_default(),
            last_call: me.map(|m| m.last_call).unwrap_or_default(),
            user_id: actor.user_id,
        })
    }

    async fn dashboard(&self, actor: &Actor, tz: String) -> Result<Dashboard, AppError> {
        actor.meets(Requirement::Member)?;
        let sees = |f| can(&actor.access, f, Level::View, None);
        let now = self.now();
        let org = actor.org_id;
        let mut conn = self
            .accounts
            .store
            .pool
            .acquire()
            .await
            .or_internal("acquire")?;
        let team_view = sees(Feature::TeamManagement);
        let seats = if team_view || sees(Feature::Billing) {
            Some(
                crate::db::team::seats(&mut conn, org, now)
                    .await
                    .or_internal("count seats")?,
            )
        } else {
            None
        };
        let pending = if team_view {
            let (count, soon): (i64, i64) = sqlx::query_as(
                "select count(*), coalesce(sum(case when expires_at <= $3 then 1 else 0 end), 0) \
                 from invitations where org_id = $1 and status = 'pending' and expires_at > $2",
            )
            .bind(org)
            .bind(now)
            .bind(now + 7 * crate::clock::DAY)
            .fetch_one(&mut *conn)
            .await
            .or_internal("count invitations")?;
            Some(Pending {
                count,
                expiring_this_week: soon,
            })
        } else {
            None
        };
        let audit = if sees(Feature::AuditLogs) {
            let rows: Vec<(
                String,
                Option<String>,
                i64,
                Option<String>,
                Option<String>,
                Option<String>,
            )> = sqlx::query_as(
                "select a.action, a.target, a.created_at, u.first_name, u.last_name, u.email \
                     from audit_log a left join users u on u.id = a.actor_user_id \
                     where a.org_id = $1 order by a.created_at desc, a.id desc limit 5",
            )
            .bind(org)
            .fetch_all(&mut *conn)
            .await
            .or_internal("read audit log")?;
            let zone = time_zone(&tz);
            Some(
                rows.into_iter()
                    .map(|(action, target, at, first, last, email)| {
                        let who =
                            format!("{} {}", first.unwrap_or_default(), last.unwrap_or_default());
                        AuditLine {
                            when: at_minute(at / MINUTE)
                                .with_timezone(&zone)
                                .format("%a %-d %b, %H:%M")
                                .to_string(),
                            who: match who.trim() {
                                "" => email.unwrap_or_else(|| "Roster".into()),
                                w => w.to_owned(),
                            },
                            action: action_words(&action),
                            target: target.unwrap_or_default(),
                        }
                    })
                    .collect(),
            )
        } else {
            None
        };
        let checklist = if can(&actor.access, Feature::TeamManagement, Level::Edit, None) {
            let (invited, roles, called): (i64, i64, i64) = sqlx::query_as(
                "select \
                 (select count(*) from invitations where org_id = $1) \
                   + (select count(*) from memberships where org_id = $1 and user_id <> $2), \
                 (select count(*) from roles where org_id = $1), \
                 (select count(*) from (select 1 from gateway_usage where org_id = $1 limit 1) g) \
                   + (select count(*) from (select 1 from usage_hourly where org_id = $1 limit 1) h) \
                   + (select count(*) from (select 1 from usage_daily where org_id = $1 limit 1) d)",
            )
            .bind(org)
            .bind(actor.user_id)
            .fetch_one(&mut *conn)
            .await
            .or_internal("read the checklist")?;
            let steps = vec![
                Step {
                    label: "Invite someone to your organization".into(),
                    done: invited > 0,
                    href: "/team".into(),
                },
                Step {
                    label: "Create a role with the rights a job needs".into(),
                    done: roles > 0,
                    href: "/roles".into(),
                },
                Step {
                    label: "Make a first API call with your key".into(),
                    done: called > 0,
                    href: "/profile".into(),
                },
            ];
            if steps.iter().all(|s| s.done) {
                Vec::new()
            } else {
                steps
            }
        } else {
            Vec::new()
        };
        drop(conn);
        let week = if sees(Feature::Analytics) {
            let query = UsageQuery {
                range: WEEK_BY_DAY.into(),
                tz: tz.clone(),
                ..Default::default()
            };
            let scope = Scope::Organization(Feature::Analytics, Level::View.into());
            let report = self.report_in(actor, query, scope).await?;
            Some(Week {
                today: report.points.last().map_or(0, |p| p.allowed + p.denied),
                calls: report.calls,
                denied_share: share(report.denied, report.calls),
                days: report.points,
                top: report.members.into_iter().take(5).collect(),
            })
        } else {
            None
        };
        Ok(Dashboard {
            seats,
            pending,
            week,
            audit,
            checklist,
            own: self.own(actor, tz).await?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::DAY;

    fn query(range: &str, from: &str, to: &str) -> UsageQuery {
        UsageQuery {
            range: range.into(),
            from: from.into(),
            to: to.into(),
            ..Default::default()
        }
    }

    fn ms(rfc3339: &str) -> Millis {
        DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .timestamp_millis()
    }

    fn minute(rfc3339: &str) -> i64 {
        ms(rfc3339) / MINUTE
    }

    const KEEP: (Millis, Millis) = (90 * DAY, 730 * DAY);

    #[test]
    fn the_last_24_hours_are_24_hourly_bars_ending_with_this_hour() {
        let p = plan(
            &query("24h", "", ""),
            ms("2026-12-03T14:25:00Z"),
            Tz::UTC,
            KEEP.0,
            KEEP.1,
        )
        .unwrap();
        assert_eq!(p.grain, Grain::Hour);
        assert_eq!(p.buckets.len(), 24);
        assert_eq!(p.from, minute("2026-12-02T15:00:00Z"));
        assert_eq!(p.to, minute("2026-12-03T15:00:00Z"));
        assert_eq!(p.buckets[23].1, "Thu 3 Dec, 14:00");
        assert_eq!(p.bar(minute("2026-12-03T14:00:00Z")), Some(23));
        assert_eq!(p.bar(p.from - 60), None);
    }

    #[test]
    fn days_follow_the_viewers_time_zone_across_a_change_of_clocks() {
        // Europe/Berlin leaves summer time on Sunday 25 October 2026: that day has 25 hours.
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let q = query("custom", "2026-10-20", "2026-10-30");
        let p = plan(&q, ms("2026-11-01T12:00:00Z"), berlin, KEEP.0, KEEP.1).unwrap();
        assert!(!p.hourly && !p.utc_days && p.grain == Grain::Hour);
        assert_eq!(p.buckets.len(), 11);
        let start = |date: &str| p.buckets.iter().find(|(_, l)| l == date).unwrap().0;
        // Midnight in Berlin is 22:00 UTC in summer and 23:00 UTC in winter.
        assert_eq!(start("Sun 25 Oct"), minute("2026-10-24T22:00:00Z"));
        assert_eq!(start("Mon 26 Oct"), minute("2026-10-25T23:00:00Z"));
        assert_eq!(start("Mon 26 Oct") - start("Sun 25 Oct"), 25 * 60);
        assert_eq!(p.from, minute("2026-10-19T22:00:00Z"));
        assert_eq!(p.to, minute("2026-10-30T23:00:00Z"));
        // 23:30 on Sunday in Berlin (22:30 UTC) is Sunday's; 00:30 on Monday is Monday's.
        let sunday = p.buckets.iter().position(|(_, l)| l == "Sun 25 Oct");
        assert_eq!(p.bar(minute("2026-10-25T22:00:00Z")), sunday);
        assert_eq!(p.bar(minute("2026-10-25T23:00:00Z")), sunday.map(|i| i + 1));
        // And into summer time, 29 March 2026 has 23 hours.
        let q = query("custom", "2026-03-28", "2026-04-05");
        let p = plan(&q, ms("2026-04-10T12:00:00Z"), berlin, KEEP.0, KEEP.1).unwrap();
        let start = |date: &str| p.buckets.iter().find(|(_, l)| l == date).unwrap().0;
        assert_eq!(start("Mon 30 Mar") - start("Sun 29 Mar"), 23 * 60);
    }

    #[test]
    fn a_range_older_than_the_hourly_counts_is_read_in_utc_days() {
        let p = plan(
            &query("custom", "2026-01-01", "2026-01-31"),
            ms("2026-12-03T12:00:00Z"),
            "America/New_York".parse().unwrap(),
            KEEP.0,
            KEEP.1,
        )
        .unwrap();
        assert!(p.utc_days && p.grain == Grain::Day);
        assert_eq!(p.from, minute("2026-01-01T00:00:00Z"));
        assert_eq!(p.to, minute("2026-02-01T00:00:00Z"));
        assert_eq!(p.buckets.len(), 31);
        // The last 90 days are within the hourly counts.
        let p = plan(
            &query("90d", "", ""),
            ms("2026-12-03T12:00:00Z"),
            Tz::UTC,
            KEEP.0,
            KEEP.1,
        )
        .unwrap();
        assert!(!p.utc_days && p.buckets.len() == 90);
    }

    #[test]
    fn a_short_custom_range_is_hourly_and_bad_days_say_what_is_wrong() {
        let now = ms("2026-12-03T12:00:00Z");
        let p = plan(
            &query("custom", "2026-12-01", "2026-12-02"),
            now,
            Tz::UTC,
            KEEP.0,
            KEEP.1,
        )
        .unwrap();
        assert!(p.hourly);
        assert_eq!(p.buckets.len(), 48);
        let errors = |q: UsageQuery| {
            plan(&q, now, Tz::UTC, KEEP.0, KEEP.1)
                .unwrap_err()
                .into_iter()
                .map(|e| (e.field, e.message))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            errors(query("custom", "", "2026-12-01")),
            vec![(
                "from".to_owned(),
                "Enter the first day of the range.".to_owned()
            )]
        );
        assert_eq!(
            errors(query("custom", "1.12.2026", "2026-12-01"))[0].1,
            "Enter a date like 2026-11-01."
        );
        assert_eq!(
            errors(query("custom", "2026-12-02", "2026-12-01"))[0].1,
            "The last day cannot be before the first."
        );
        assert_eq!(
            errors(query("custom", "2026-12-01", "2026-12-04"))[0].1,
            "The last day cannot be after today."
        );
        assert!(
            errors(query("custom", "2020-01-01", "2026-12-01"))[0]
                .1
                .starts_with("Usage is kept for 730 days")
        );
        assert_eq!(errors(query("1y", "", ""))[0].0, "range");
    }

    #[test]
    fn audit_actions_read_as_words() {
        assert_eq!(
            action_words("usage.report_downloaded"),
            "Usage: report downloaded"
        );
        assert_eq!(action_words("api_key.copied"), "API key: copied");
        assert_eq!(action_words("plain"), "plain");
    }

    #[test]
    fn cells_that_a_spreadsheet_would_run_are_escaped() {
        assert_eq!(csv_text("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        for bad in ["+1", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert!(csv_text(bad).starts_with('\''), "{bad:?}");
        }
        assert_eq!(csv_text("Ada Lovelace"), "Ada Lovelace");
        assert_eq!(csv_text("ada+roster@example.com"), "ada+roster@example.com");
        assert_eq!(slug("Acme, Inc. (EU)"), "acme-inc-eu");
        assert_eq!(slug("東京"), "organization");
    }

    #[test]
    fn a_custom_role_reads_only_its_regions() {
        use app::authz::{BuiltIn, CustomGrants, Grant, Grid, default_regions};
        let regions = default_regions();
        let owner = Access::BuiltIn(BuiltIn::Owner);
        assert_eq!(
            visible_regions(&owner, Feature::Analytics, Level::View.into(), &regions),
            None
        );
        let mut eu_only = CustomGrants::default();
        let mut grid = Grid::default();
        grid.set(Feature::Analytics, Grant::new(Level::View, false));
        eu_only.regions.insert("EU".into(), grid);
        let access = Access::Custom(eu_only);
        assert_eq!(
            visible_regions(&access, Feature::Analytics, Level::View.into(), &regions),
            Some(vec!["EU".to_owned()])
        );
        assert_eq!(
            visible_regions(&access, Feature::UsageReports, Need::Download, &regions),
            Some(vec![])
        );
    }
}
