//! Gateway counts as the Usage page and its report read them: rolled up by hour and by day
//! (UTC), kept for a while at each grain, and read back per organization and time range.
//!
//! `usage_rollup` says how far the roll-up has gone (see the migration). A reader takes each
//! stretch of time from one table only, in one statement, so what it reads is the same before
//! and after a roll-up, and the retention only deletes what a reader no longer takes.

use super::{Arg, Conn, Store, bind_all, named};
use crate::clock::Millis;
use sqlx::Row;

/// Minutes in an hour and in a day, as stored times are minute numbers.
pub const HOUR_MINUTES: i64 = 60;
pub const DAY_MINUTES: i64 = 24 * 60;

/// How long each grain is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    pub minutes: Millis,
    pub hourly: Millis,
    pub daily: Millis,
}

impl Default for Retention {
    fn default() -> Self {
        use crate::clock::{DAY, HOUR};
        Self {
            minutes: 48 * HOUR,
            hourly: 90 * DAY,
            daily: 730 * DAY,
        }
    }
}

/// How far the roll-up has gone, in minute numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Watermarks {
    pub hourly_through: i64,
    pub daily_through: i64,
}

/// Reads the watermarks and holds them until the transaction ends (PostgreSQL locks the row;
/// a SQLite write transaction holds the database). Batches of counts and the roll-up both
/// start here, so a batch never writes a minute the roll-up is passing over.
pub async fn lock_watermarks(conn: &mut Conn) -> sqlx::Result<Watermarks> {
    let row = sqlx::query(
        "update usage_rollup set hourly_through = hourly_through where id = 1 \
         returning hourly_through, daily_through",
    )
    .fetch_one(conn)
    .await?;
    Ok(Watermarks {
        hourly_through: row.try_get(0)?,
        daily_through: row.try_get(1)?,
    })
}

/// What one roll-up did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RolledUp {
    pub hours: i64,
    pub days: i64,
    pub deleted: u64,
    /// Finished hours are left for the next step.
    pub more: bool,
}

/// The most one roll-up step covers: a week of minutes.
const STEP_MINUTES: i64 = 7 * DAY_MINUTES;

/// Rolls finished hours' minute counts (a week of them at most) into hourly rows and every
/// finished day's hourly rows into daily ones, then deletes what the retention no longer keeps
/// (and never anything not yet rolled up). One transaction; `more` says another step has work.
pub async fn roll_up(store: &Store, now: Millis, keep: Retention) -> sqlx::Result<RolledUp> {
    let now_minute = now.div_euclid(crate::clock::MINUTE);
    let mut tx = store.write().await?;
    let w = lock_watermarks(&mut tx).await?;
    // Where this step starts: the watermark, or the first minute counted (the first run).
    let from = if w.hourly_through > 0 {
        w.hourly_through
    } else {
        let first: Option<i64> = sqlx::query_scalar("select min(minute) from gateway_usage")
            .fetch_one(&mut *tx)
            .await?;
        first.map_or(0, |m| m - m.rem_euclid(HOUR_MINUTES))
    };
    let this_hour = now_minute - now_minute.rem_euclid(HOUR_MINUTES);
    // A step at most, so no transaction holds the writers for long.
    let hourly_through = if from == 0 {
        this_hour
    } else {
        this_hour.min(from + STEP_MINUTES)
    }
    .max(w.hourly_through);
    let daily_through =
        (hourly_through - hourly_through.rem_euclid(DAY_MINUTES)).max(w.daily_through);
    let mut done = RolledUp::default();
    if hourly_through > w.hourly_through {
        sqlx::query(
            "insert into usage_hourly \
             (org_id, hour_start, user_id, feature, region, outcome, calls) \
             select org_id, minute - minute % 60, user_id, feature, region, outcome, \
             cast(sum(calls) as bigint) from gateway_usage \
             where minute >= $1 and minute < $2 \
             group by org_id, minute - minute % 60, user_id, feature, region, outcome \
             on conflict (org_id, hour_start, user_id, feature, region, outcome) \
             do update set calls = usage_hourly.calls + excluded.calls",
        )
        .bind(from)
        .bind(hourly_through)
        .execute(&mut *tx)
        .await?;
        done.hours = (hourly_through - from.max(w.hourly_through)) / HOUR_MINUTES;
        done.more = hourly_through < this_hour;
    }
    if daily_through > w.daily_through {
        sqlx::query(
            "insert into usage_daily \
             (org_id, day_start, user_id, feature, region, outcome, calls) \
             select org_id, hour_start - hour_start % 1440, user_id, feature, region, outcome, \
             cast(sum(calls) as bigint) from usage_hourly \
             where hour_start >= $1 and hour_start < $2 \
             group by org_id, hour_start - hour_start % 1440, user_id, feature, region, outcome \
             on conflict (org_id, day_start, user_id, feature, region, outcome) \
             do update set calls = usage_daily.calls + excluded.calls",
        )
        .bind(w.daily_through)
        .bind(daily_through)
        .execute(&mut *tx)
        .await?;
        done.days = (daily_through - w.daily_through) / DAY_MINUTES;
    }
    sqlx::query("update usage_rollup set hourly_through = $1, daily_through = $2 where id = 1")
        .bind(hourly_through)
        .bind(daily_through)
        .execute(&mut *tx)
        .await?;
    let before = |keep: Millis| now_minute - keep.div_euclid(crate::clock::MINUTE);
    for (sql, until) in [
        (
            "delete from gateway_usage where minute < $1",
            before(keep.minutes).min(hourly_through),
        ),
        (
            "delete from usage_hourly where hour_start < $1",
            before(keep.hourly).min(daily_through),
        ),
        (
            "delete from usage_daily where day_start < $1",
            before(keep.daily),
        ),
    ] {
        done.deleted += sqlx::query(sql)
            .bind(until)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    }
    tx.commit().await?;
    Ok(done)
}

/// One count to add to a rolled-up table.
pub struct Late<'a> {
    pub org_id: i64,
    pub start: i64,
    pub user_id: i64,
    pub feature: &'a str,
    pub region: &'a str,
    pub outcome: &'a str,
    pub calls: i64,
}

/// Adds counts that arrived after the roll-up passed their minute (a batch that failed and
/// was written again later) to the hourly table, or to the daily one (`daily`).
pub async fn add_late(conn: &mut Conn, daily: bool, rows: &[Late<'_>]) -> sqlx::Result<()> {
    let (table, column) = if daily {
        ("usage_daily", "day_start")
    } else {
        ("usage_hourly", "hour_start")
    };
    let sql = format!(
        "insert into {table} (org_id, {column}, user_id, feature, region, outcome, calls) \
         values ($1, $2, $3, $4, $5, $6, $7) \
         on conflict (org_id, {column}, user_id, feature, region, outcome) \
         do update set calls = {table}.calls + excluded.calls"
    );
    for r in rows {
        sqlx::query(&sql)
            .bind(r.org_id)
            .bind(r.start)
            .bind(r.user_id)
            .bind(r.feature)
            .bind(r.region)
            .bind(r.outcome)
            .bind(r.calls)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// The size of the time buckets a reader asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grain {
    Hour,
    /// UTC days.
    Day,
}

impl Grain {
    pub fn minutes(self) -> i64 {
        match self {
            Grain::Hour => HOUR_MINUTES,
            Grain::Day => DAY_MINUTES,
        }
    }
}

/// What a reader asks for: an organization's counts in `[from, to)` (minute numbers, on
/// the grain's boundaries), narrowed by the filters that are set.
#[derive(Clone, Debug)]
pub struct Filter {
    pub org_id: i64,
    pub from: i64,
    pub to: i64,
    pub grain: Grain,
    pub user_id: Option<i64>,
    pub feature: Option<String>,
    /// `None`: every region, the organization-wide calls ('') included.
    pub regions: Option<Vec<String>>,
    /// `None`: every outcome.
    pub outcomes: Option<Vec<String>>,
}

/// A parameter name for the n-th item of a list (`named` takes letters and underscores).
fn list_param(prefix: &str, n: usize) -> String {
    let mut name = String::from(prefix);
    let mut n = n;
    loop {
        name.push(char::from(b'a' + (n % 26) as u8));
        n /= 26;
        if n == 0 {
            return name;
        }
    }
}

impl Filter {
    /// The filter conditions beyond organization and time, and their values.
    fn conditions(&self, args: &mut Vec<(String, Arg)>) -> String {
        let mut sql = String::new();
        if let Some(user) = self.user_id {
            sql.push_str(" and user_id = $user");
            args.push(("user".into(), Arg::Int(user)));
        }
        if let Some(feature) = &self.feature {
            sql.push_str(" and feature = $feature");
            args.push(("feature".into(), Arg::Text(feature.clone())));
        }
        for (column, prefix, list) in [
            ("region", "region_", &self.regions),
            ("outcome", "outcome_", &self.outcomes),
        ] {
            let Some(list) = list else { continue };
            if list.is_empty() {
                sql.push_str(" and 1 = 0");
                continue;
            }
            let names: Vec<String> = (0..list.len())
                .map(|i| {
                    let name = list_param(prefix, i);
                    args.push((name.clone(), Arg::Text(list[i].clone())));
                    format!("${name}")
                })
                .collect();
            sql.push_str(&format!(" and {column} in ({})", names.join(", ")));
        }
        sql
    }

    /// One statement's worth of counts: columns `t` (the bucket's first minute), user_id,
    /// feature, region, outcome and calls, each stretch of time from one table.
    fn facts(&self, args: &mut Vec<(String, Arg)>) -> String {
        args.push(("org".into(), Arg::Int(self.org_id)));
        args.push(("from".into(), Arg::Int(self.from)));
        args.push(("to".into(), Arg::Int(self.to)));
        let more = self.conditions(args);
        let hw = "(select hourly_through from usage_rollup where id = 1)";
        let dw = "(select daily_through from usage_rollup where id = 1)";
        let part = |table: &str, column: &str, bucket: i64, bounds: String| {
            let t = if bucket == 1 {
                column.to_owned()
            } else {
                format!("{column} - {column} % {bucket}")
            };
            format!(
                "select {t} as t, user_id, feature, region, outcome, calls from {table} \
                 where org_id = $org and {column} >= $from and {column} < $to{bounds}{more}"
            )
        };
        match self.grain {
            Grain::Hour => [
                part(
                    "usage_hourly",
                    "hour_start",
                    1,
                    format!(" and hour_start < {hw}"),
                ),
                part(
                    "gateway_usage",
                    "minute",
                    60,
                    format!(" and minute >= {hw}"),
                ),
            ]
            .join(" union all "),
            Grain::Day => [
                part(
                    "usage_daily",
                    "day_start",
                    1,
                    format!(" and day_start < {dw}"),
                ),
                part(
                    "usage_hourly",
                    "hour_start",
                    1440,
                    format!(" and hour_start >= {dw} and hour_start < {hw}"),
                ),
                part(
                    "gateway_usage",
                    "minute",
                    1440,
                    format!(" and minute >= {hw}"),
                ),
            ]
            .join(" union all "),
        }
    }

    fn statement(&self, shape: impl FnOnce(&str) -> String) -> (String, Vec<Arg>) {
        let mut args = Vec::new();
        let facts = self.facts(&mut args);
        let sql = shape(&facts);
        let refs: Vec<(&str, Arg)> = args.iter().map(|(n, a)| (n.as_str(), a.clone())).collect();
        named(&sql, &refs)
    }
}

/// Joins the member (`a.user_id`) to their name as this organization shows it.
const MEMBER: &str = "left join users u on u.id = a.user_id \
    left join memberships m on m.user_id = a.user_id and m.org_id = $org";

/// Calls per bucket, allowed and refused.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bucket {
    pub start: i64,
    pub allowed: i64,
    pub denied: i64,
}

/// The counts per bucket, in time order (only buckets with calls).
pub async fn series(conn: &mut Conn, filter: &Filter) -> sqlx::Result<Vec<Bucket>> {
    let (sql, args) = filter.statement(|facts| {
        format!(
            "select t, cast(sum(case when outcome = 'allowed' then calls else 0 end) as bigint), \
             cast(sum(case when outcome = 'allowed' then 0 else calls end) as bigint) \
             from ({facts}) f group by t order by t"
        )
    });
    let rows = bind_all(sqlx::query(&sql), args).fetch_all(conn).await?;
    rows.iter()
        .map(|r| {
            Ok(Bucket {
                start: r.try_get(0)?,
                allowed: r.try_get(1)?,
                denied: r.try_get(2)?,
            })
        })
        .collect()
}

/// The counts of one member, feature, region and outcome over the whole range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cell {
    pub user_id: i64,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub feature: String,
    pub region: String,
    pub outcome: String,
    pub calls: i64,
    /// The latest bucket with a call.
    pub last: i64,
}

/// Every member × feature × region × outcome with calls in the range, with the member's
/// name: one statement, whatever the number of members.
pub async fn cells(conn: &mut Conn, filter: &Filter) -> sqlx::Result<Vec<Cell>> {
    let (sql, args) = filter.statement(|facts| {
        format!(
            "select a.user_id, coalesce(m.first_name, u.first_name), \
             coalesce(m.last_name, u.last_name), u.email, a.feature, a.region, \
             a.outcome, a.calls, a.last from (select user_id, feature, region, outcome, \
             cast(sum(calls) as bigint) as calls, max(t) as last from ({facts}) f \
             group by user_id, feature, region, outcome) a {MEMBER}"
        )
    });
    let rows = bind_all(sqlx::query(&sql), args).fetch_all(conn).await?;
    rows.iter()
        .map(|r| {
            Ok(Cell {
                user_id: r.try_get(0)?,
                first_name: r.try_get(1)?,
                last_name: r.try_get(2)?,
                email: r.try_get(3)?,
                feature: r.try_get(4)?,
                region: r.try_get(5)?,
                outcome: r.try_get(6)?,
                calls: r.try_get(7)?,
                last: r.try_get(8)?,
            })
        })
        .collect()
}

/// The report's statement: per `bucket` minutes (an hour or a day), member, feature, region
/// and outcome, the columns bucket, email, first name, last name, feature, region, outcome and
/// calls, in time order, for reading one row at a time.
pub fn report_statement(filter: &Filter, bucket: i64) -> (String, Vec<Arg>) {
    filter.statement(|facts| {
        format!(
            "select a.t, coalesce(u.email, ''), coalesce(m.first_name, u.first_name, ''), \
             coalesce(m.last_name, u.last_name, ''), a.feature, a.region, a.outcome, a.calls \
             from (select t - t % {bucket} as t, user_id, feature, region, outcome, \
             cast(sum(calls) as bigint) as calls from ({facts}) f \
             group by t - t % {bucket}, user_id, feature, region, outcome) a \
             {MEMBER} order by a.t, u.email, a.user_id, a.feature, a.region, a.outcome"
        )
    })
}
