//! The Usage page's figures and the usage report, from calls made through the real gateway
//! check: totals, filters, ranges, roll-ups, retention, who may see and download what, and
//! that nothing crosses between organizations or out of a role's regions.

use crate::common::*;
use crate::gateway::{allowed, check, key_of, refused};
use app::authz::{CustomGrants, Feature, Grant, Grid, Level, Template, default_regions};
use app::error::PERMISSION_DENIED;
use server::clock::{DAY, HOUR, MINUTE};
use server::gateway::usage::Counted;

const OWNER: &str = "ada@example.com";
const MEMBER: &str = "member@example.com";

/// The Usage page's data as `session` sees it, with `changes` to the default query.
async fn usage(app: &TestApp, session: &str, changes: &[(&str, &str)]) -> Reply {
    let mut query = serde_json::json!({
        "range": "", "from": "", "to": "", "member": "", "feature": "", "region": "",
        "outcome": "", "sort": "", "tz": "UTC",
    });
    for (k, v) in changes {
        query[*k] = serde_json::json!(v);
    }
    app.post_json("usage_overview", serde_json::json!({ "query": query }))
        .session(session)
        .send()
        .await
}

async fn figures(app: &TestApp, session: &str, changes: &[(&str, &str)]) -> serde_json::Value {
    let r = usage(app, session, changes).await;
    assert_eq!(r.error(), None, "{}", r.body);
    let report = r.json();
    // The bars always add up to the totals.
    let bars: i64 = report["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["allowed"].as_i64().unwrap() + p["denied"].as_i64().unwrap())
        .sum();
    assert_eq!(bars, report["calls"].as_i64().unwrap(), "{report}");
    report
}

/// (calls, denied) of the member table's row for `email`.
fn member_row(report: &serde_json::Value, email: &str) -> Option<(i64, i64, String)> {
    report["members"].as_array().unwrap().iter().find_map(|m| {
        (m["email"] == email).then(|| {
            (
                m["calls"].as_i64().unwrap(),
                m["denied"].as_i64().unwrap(),
                m["top_feature"].as_str().unwrap().to_owned(),
            )
        })
    })
}

fn slices(report: &serde_json::Value, kind: &str) -> Vec<(String, i64)> {
    report[kind]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["label"].as_str().unwrap().to_owned(),
                s["calls"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// The report as downloaded by `session`: status and body.
async fn download(app: &TestApp, session: &str, query: &str) -> Reply {
    app.get(&format!("/usage/report.csv?{query}"))
        .session(session)
        .send()
        .await
}

/// Calls with `key`: `n` allowed ones (GET products in `region`, "" for none).
async fn calls(app: &TestApp, key: &str, n: usize, region: &str) {
    for _ in 0..n {
        let mut c = check(key);
        if !region.is_empty() {
            c = c.with("x-roster-region", region);
        }
        allowed(&c.send(app).await);
    }
}

async fn denied_calls(app: &TestApp, key: &str, n: usize) {
    for _ in 0..n {
        let r = check(key)
            .with("x-original-method", "DELETE")
            .send(app)
            .await;
        refused(&r, 403, "insufficient_permission");
    }
}

on_both!(
    the_figures_follow_the_checks_and_are_the_same_before_and_after_every_roll_up,
    |db| {
        let app = TestApp::new(db).await;
        let mut owner = app.member(OWNER).await;
        app.joined(&owner, MEMBER, "member").await;
        let (member_key, owner_key) = (
            key_of(&app, MEMBER, None).await,
            key_of(&app, OWNER, None).await,
        );
        calls(&app, &member_key, 7, "").await;
        denied_calls(&app, &member_key, 3).await;
        calls(&app, &member_key, 2, "EU").await;
        calls(&app, &owner_key, 4, "").await;
        assert!(app.roster.gateway.flush_usage().await);
        let report = figures(&app, &owner, &[("range", "24h")]).await;
        assert_eq!(report["calls"], 16);
        assert_eq!(report["denied"], 3);
        assert_eq!(
            member_row(&report, MEMBER),
            Some((12, 3, "Products".into()))
        );
        assert_eq!(member_row(&report, OWNER), Some((4, 0, "Products".into())));
        assert_eq!(report["members"][0]["email"], MEMBER, "most calls first");
        assert_eq!(report["members"][0]["share"], "75%");
        assert_eq!(
            slices(&report, "regions"),
            vec![
                ("Organization-wide".into(), 14),
                ("European Union (EU)".into(), 2)
            ]
        );
        assert_eq!(
            slices(&report, "outcomes"),
            vec![("Allowed".into(), 13), ("Denied: no permission".into(), 3)]
        );
        // Filters: a member, a region, an outcome.
        let member_id = app.user_id(MEMBER).await.to_string();
        let only = figures(&app, &owner, &[("range", "24h"), ("member", &member_id)]).await;
        assert_eq!(only["calls"], 12);
        let eu = figures(&app, &owner, &[("range", "24h"), ("region", "EU")]).await;
        assert_eq!(eu["calls"], 2);
        let refusals = figures(&app, &owner, &[("range", "24h"), ("outcome", "denied")]).await;
        assert_eq!(refusals["calls"], 3);
        let billing = figures(&app, &owner, &[("range", "24h"), ("feature", "billing")]).await;
        assert_eq!(billing["calls"], 0);

        // Calls over the next hours and days, the roll-up running between some of them and a
        // batch written late (for a minute already rolled up): every view reads the same
        // before and after each roll-up, and nothing is counted twice or lost.
        let views: [&[(&str, &str)]; 4] = [
            &[("range", "24h")],
            &[("range", "7d")],
            &[("range", "30d")],
            &[
                ("range", "7d"),
                ("member", &member_id),
                ("outcome", "allowed"),
            ],
        ];
        let mut expected_total = 16;
        for step in 0..6 {
            app.clock
                .advance(if step < 3 { 2 * HOUR } else { DAY + 5 * MINUTE });
            // Sessions end when idle for a day.
            owner = app.sign_in(OWNER, PASSWORD).await.session();
            calls(&app, &member_key, step + 1, "US").await;
            assert!(app.roster.gateway.flush_usage().await);
            expected_total += step as i64 + 1;
            let mut before = Vec::new();
            for v in views {
                before.push(figures(&app, &owner, v).await);
            }
            let done = app.roster.housekeeping.roll_up_usage().await.unwrap();
            assert!(done.hours > 0, "{done:?}");
            for (v, b) in views.iter().zip(&before) {
                assert_eq!(
                    &figures(&app, &owner, v).await,
                    b,
                    "view {v:?} at step {step}"
                );
            }
            assert_eq!(
                before[2]["calls"], expected_total,
                "30 days hold every call"
            );
        }
        // A count for a minute two days ago, written now: the hourly and daily tables take it.
        let org = crate::gateway::org_of(&app, OWNER).await;
        let two_days_ago = app.clock.now() - 2 * DAY;
        app.roster.gateway.usage.record(
            Counted {
                org_id: org,
                user_id: app.user_id(MEMBER).await,
                key_id: 0,
                feature: "products",
                region: String::new(),
                outcome: "allowed",
                minute: two_days_ago / MINUTE,
            },
            two_days_ago,
        );
        assert!(app.roster.gateway.flush_usage().await);
        let month = figures(&app, &owner, &[("range", "30d")]).await;
        assert_eq!(month["calls"], expected_total + 1);
        let week = figures(&app, &owner, &[("range", "7d")]).await;
        assert_eq!(week["calls"], month["calls"]);
        app.roster.housekeeping.roll_up_usage().await.unwrap();
        assert_eq!(figures(&app, &owner, &[("range", "30d")]).await, month);

        // Retention: minute rows go after 48 hours and hourly ones after 90 days, and the
        // figures stay; a range older than the hourly counts reads UTC days.
        let start_day = chrono::DateTime::from_timestamp_millis(START)
            .unwrap()
            .format("%Y-%m-%d")
            .to_string();
        let today = |app: &TestApp| {
            chrono::DateTime::from_timestamp_millis(app.clock.now())
                .unwrap()
                .format("%Y-%m-%d")
                .to_string()
        };
        let whole = [("range", "custom"), ("from", start_day.as_str())];
        let end = today(&app);
        let everything = figures(&app, &owner, &[whole[0], whole[1], ("to", &end)]).await;
        assert_eq!(everything["calls"], expected_total + 1);
        app.clock.advance(100 * DAY);
        owner = app.sign_in(OWNER, PASSWORD).await.session();
        let swept = app.roster.housekeeping.roll_up_usage().await.unwrap();
        assert!(swept.deleted > 0);
        let minutes = crate::gateway::count(&app, "select count(*) from gateway_usage").await;
        let hours = crate::gateway::count(&app, "select count(*) from usage_hourly").await;
        assert_eq!((minutes, hours), (0, 0));
        let later = figures(&app, &owner, &[whole[0], whole[1], ("to", &end)]).await;
        assert_eq!(later["utc_days"], true, "{later}");
        assert_eq!(later["calls"], everything["calls"]);
        assert_eq!(figures(&app, &owner, &[("range", "90d")]).await["calls"], 0);
    }
);

on_both!(
    only_usage_reports_download_gives_the_report_and_every_download_is_audited,
    |db| {
        let app = TestApp::new(db).await;
        let owner = app.member(OWNER).await;
        let developer = app
            .custom_role(&owner, "Developer", Template::Developer.grid())
            .await;
        let finance = app
            .custom_role(&owner, "Finance", Template::Finance.grid())
            .await;
        let sessions = [
            ("visitor@example.com", "visitor".to_owned(), false),
            (MEMBER, "member".to_owned(), false),
            ("dev@example.com", format!("custom-{developer}"), false),
            ("fiona@example.com", format!("custom-{finance}"), true),
        ];
        let mut joined = Vec::new();
        for (email, role, may) in &sessions {
            joined.push((*email, app.joined(&owner, email, role).await, *may));
        }
        // A member whose name a spreadsheet would run.
        let id = app.user_id(MEMBER).await.to_string();
        let r = app
            .edit_member(&owner, &id, ["=HYPERLINK(\"x\")", "@SUM", "", "member"])
            .await;
        assert_eq!(r.error(), None, "{}", r.body);
        let key = key_of(&app, MEMBER, None).await;
        calls(&app, &key, 5, "").await;
        denied_calls(&app, &key, 2).await;
        calls(&app, &key_of(&app, OWNER, None).await, 1, "US").await;
        assert!(app.roster.gateway.flush_usage().await);
        for (email, session, may) in &joined {
            // Everyone here may see the page (Analytics: View)...
            let report = figures(&app, session, &[("range", "24h")]).await;
            assert_eq!(report["calls"], 8, "{email}");
            assert_eq!(report["can_download"], *may, "{email}");
            // ...and only Usage Reports: View + Download gets the file.
            let r = download(&app, session, "range=24h").await;
            if *may {
                assert_eq!(r.status, 200, "{email}: {}", r.body);
            } else {
                assert_eq!(r.status, 403, "{email}");
                assert_eq!(r.body, PERMISSION_DENIED);
            }
        }
        let fiona = &joined[3].1;
        let r = download(&app, fiona, "range=24h").await;
        assert!(crate::gateway::header(&r, "content-type").starts_with("text/csv"));
        let disposition = crate::gateway::header(&r, "content-disposition");
        assert!(
            disposition.starts_with("attachment; filename=\"roster-usage-")
                && disposition.ends_with(".csv\""),
            "{disposition}"
        );
        // Compressed as browsers ask for it, the same report, whole.
        let gz = app
            .get("/usage/report.csv?range=24h")
            .session(fiona)
            .header("accept-encoding", "gzip")
            .send()
            .await;
        assert_eq!(gz.status, 200);
        assert_eq!(crate::gateway::header(&gz, "content-encoding"), "gzip");
        let mut unzipped = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(&gz.bytes[..]),
            &mut unzipped,
        )
        .unwrap();
        assert_eq!(unzipped, r.body);
        let mut reader = csv::Reader::from_reader(r.body.as_bytes());
        assert_eq!(
            reader.headers().unwrap().iter().collect::<Vec<_>>(),
            [
                "period_start",
                "period",
                "member_email",
                "member_first_name",
                "member_last_name",
                "feature",
                "region",
                "outcome",
                "calls"
            ]
        );
        let rows: Vec<Vec<String>> = reader
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect();
        let hour = chrono::DateTime::from_timestamp_millis(START - START % HOUR)
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        let row = |email: &str, first: &str, last: &str, region: &str, outcome: &str, n: &str| {
            [
                &hour, "hour", email, first, last, "products", region, outcome, n,
            ]
            .map(str::to_owned)
            .to_vec()
        };
        let mut expected = vec![
            row(OWNER, "Ada", "Lovelace", "US", "allowed", "1"),
            row(MEMBER, "'=HYPERLINK(\"x\")", "'@SUM", "", "allowed", "5"),
            row(
                MEMBER,
                "'=HYPERLINK(\"x\")",
                "'@SUM",
                "",
                "insufficient_permission",
                "2",
            ),
        ];
        expected.sort();
        let mut rows = rows;
        rows.sort();
        assert_eq!(rows, expected);
        // The refused attempts wrote nothing; the three downloads are audited.
        let downloads = app
            .audit_actions()
            .await
            .into_iter()
            .filter(|a| a == "usage.report_downloaded")
            .count();
        assert_eq!(downloads, 3);
        // Started from another site: refused, and nothing audited.
        let r = app
            .get("/usage/report.csv?range=24h")
            .session(fiona)
            .header("sec-fetch-site", "cross-site")
            .send()
            .await;
        assert_eq!(r.status, 403);
        // At most two downloads at once: a third waits for one to end.
        let permits: Vec<_> = (0..server::services::usage::DOWNLOADS_AT_ONCE)
            .map(|_| {
                app.roster
                    .usage
                    .downloads
                    .clone()
                    .try_acquire_owned()
                    .unwrap()
            })
            .collect();
        let r = download(&app, fiona, "range=24h").await;
        assert_eq!(r.status, 503);
        drop(permits);
        // Signed out: 401. A bad range: 400 with the field's message, and no audit row.
        let r = app.get("/usage/report.csv").send().await;
        assert_eq!(r.status, 401);
        let r = download(&app, fiona, "range=custom&from=yesterday&to=").await;
        assert_eq!(r.status, 400);
        assert!(
            r.body.contains("Enter a date like 2026-11-01."),
            "{}",
            r.body
        );
        let again = app.audit_actions().await;
        assert_eq!(
            again
                .iter()
                .filter(|a| *a == "usage.report_downloaded")
                .count(),
            3
        );
    }
);

on_both!(
    a_role_sees_only_its_regions_and_an_organization_only_its_own_calls,
    |db| {
        let app = TestApp::new(db).await;
        let owner = app.member(OWNER).await;
        // Analytics and Usage Reports with Download in the EU only.
        let mut eu = Grid::default();
        eu.set(Feature::Analytics, Grant::new(Level::View, true));
        eu.set(Feature::UsageReports, Grant::new(Level::View, true));
        let mut grants = CustomGrants::default();
        grants.regions.insert("EU".into(), eu);
        let r = app.save_role(&owner, None, "EU analyst", &grants).await;
        assert_eq!(r.error(), None, "{}", r.body);
        let role = r.json().as_i64().unwrap();
        let analyst = app
            .joined(&owner, "eu@example.com", &format!("custom-{role}"))
            .await;
        let key = key_of(&app, OWNER, None).await;
        calls(&app, &key, 3, "EU").await;
        calls(&app, &key, 5, "US").await;
        calls(&app, &key, 7, "").await;
        // Another organization's calls.
        let other = app.member("grace@example.com").await;
        let other_key = key_of(&app, "grace@example.com", None).await;
        calls(&app, &other_key, 11, "EU").await;
        assert!(app.roster.gateway.flush_usage().await);
        let all = figures(&app, &owner, &[("range", "24h")]).await;
        assert_eq!(all["calls"], 15);
        let theirs = figures(&app, &other, &[("range", "24h")]).await;
        assert_eq!(theirs["calls"], 11);
        // Another organization's member as a filter shows nothing of theirs.
        let grace = app.user_id("grace@example.com").await.to_string();
        let crossed = figures(&app, &owner, &[("range", "24h"), ("member", &grace)]).await;
        assert_eq!(crossed["calls"], 0);
        // The analyst sees the EU and nothing organization-wide or from the US.
        let seen = figures(&app, &analyst, &[("range", "24h")]).await;
        assert_eq!(seen["calls"], 3);
        let choices: Vec<&str> = seen["region_choices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["value"].as_str().unwrap())
            .collect();
        assert_eq!(choices, ["EU"]);
        let r = usage(&app, &analyst, &[("range", "24h"), ("region", "US")]).await;
        assert_eq!(
            r.app_error(),
            Some(app::error::AppError::field(
                "region",
                "Your role does not include this region."
            ))
        );
        let r = download(&app, &analyst, "range=24h").await;
        assert_eq!(r.status, 200);
        let lines: Vec<&str> = r.body.lines().skip(1).collect();
        assert_eq!(lines.len(), 1, "{}", r.body);
        assert!(lines[0].ends_with(",products,EU,allowed,3"), "{}", r.body);
        let r = download(&app, &analyst, "range=24h&region=US").await;
        assert_eq!(r.status, 400);
        // Without Analytics at all: the page's data is refused.
        let none = CustomGrants::uniform(Grid::default(), &default_regions());
        let r = app.save_role(&owner, None, "Nothing", &none).await;
        let nothing = r.json().as_i64().unwrap();
        let blind = app
            .joined(&owner, "blind@example.com", &format!("custom-{nothing}"))
            .await;
        let r = usage(&app, &blind, &[("range", "24h")]).await;
        assert_eq!(r.status, 403);
        assert_eq!(r.error().as_deref(), Some(PERMISSION_DENIED));
    }
);

on_both!(
    the_overview_shows_each_part_to_those_who_may_see_it_and_every_member_their_own_calls,
    |db| {
        let app = TestApp::new(db).await;
        let owner = app.member(OWNER).await;
        let overview = |session: String| {
            let app = &app;
            async move {
                let r = app.post("overview", &[]).session(&session).send().await;
                assert_eq!(r.error(), None, "{}", r.body);
                r.json()
            }
        };
        // A new organization: every step of "Get started" is to do.
        let first = overview(owner.clone()).await;
        let steps: Vec<bool> = first["checklist"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["done"].as_bool().unwrap())
            .collect();
        assert_eq!(steps, [false, false, false]);
        assert_eq!(first["seats"]["used"], 1);
        assert_eq!(first["pending"]["count"], 0);
        assert_eq!(first["week"]["calls"], 0);
        // A member, a role, a pending invitation and calls.
        app.joined(&owner, MEMBER, "member").await;
        let none = CustomGrants::uniform(Grid::default(), &default_regions());
        let r = app.save_role(&owner, None, "Nothing", &none).await;
        let nothing = r.json().as_i64().unwrap();
        let blind = app
            .joined(&owner, "blind@example.com", &format!("custom-{nothing}"))
            .await;
        assert_eq!(
            app.invite(&owner, "later@example.com", "member")
                .await
                .error(),
            None
        );
        let key = key_of(&app, MEMBER, None).await;
        calls(&app, &key, 4, "").await;
        denied_calls(&app, &key, 1).await;
        calls(&app, &key_of(&app, "blind@example.com", None).await, 0, "").await;
        assert!(app.roster.gateway.flush_usage().await);
        let later = overview(owner.clone()).await;
        assert_eq!(
            later["checklist"],
            serde_json::json!([]),
            "every step done: {later}"
        );
        assert_eq!(later["seats"]["used"], 4);
        assert_eq!(
            later["pending"],
            serde_json::json!({ "count": 1, "expiring_this_week": 1 })
        );
        assert_eq!(later["week"]["today"], 5);
        assert_eq!(later["week"]["calls"], 5);
        assert_eq!(later["week"]["denied_share"], "20%");
        assert_eq!(later["week"]["days"].as_array().unwrap().len(), 7);
        assert_eq!(later["week"]["top"][0]["email"], MEMBER);
        assert!(later["audit"].as_array().unwrap().len() == 5);
        assert_eq!(later["own"]["calls"], 0);
        // A role without the rights sees none of the organization's figures, only its own.
        let theirs = overview(blind.clone()).await;
        for part in ["seats", "pending", "week", "audit"] {
            assert_eq!(theirs[part], serde_json::Value::Null, "{part}: {theirs}");
        }
        assert_eq!(theirs["checklist"], serde_json::json!([]));
        // Each member's own calls, on Profile and Overview, whatever their role.
        let member = app.sign_in(MEMBER, PASSWORD).await.session();
        let mine = app.post("my_usage", &[]).session(&member).send().await;
        assert_eq!(mine.error(), None, "{}", mine.body);
        assert_eq!(mine.json()["calls"], 5);
        assert_eq!(mine.json()["denied"], 1);
        assert_eq!(mine.json()["top_feature"], "Products");
        assert_eq!(overview(member).await["own"]["calls"], 5);
        let r = app.post("my_usage", &[]).session(&blind).send().await;
        assert_eq!(r.json()["calls"], 0);
        // Signed out: nothing.
        assert_eq!(app.post("overview", &[]).send().await.status, 401);
    }
);

on_both!(
    open_usage_pages_hear_when_their_organizations_calls_are_counted,
    |db| {
        use http_body_util::BodyExt;
        use std::time::Duration;
        let app = TestApp::new(db).await;
        let owner = app.member(OWNER).await;
        app.member("grace@example.com").await;
        let none = CustomGrants::uniform(Grid::default(), &default_regions());
        let r = app.save_role(&owner, None, "Nothing", &none).await;
        let nothing = r.json().as_i64().unwrap();
        let blind = app
            .joined(&owner, "blind@example.com", &format!("custom-{nothing}"))
            .await;
        let refused = crate::team::open_stream(&app, "/events/usage", &blind).await;
        assert_eq!(refused.status(), 403);
        assert_eq!(app.get("/events/usage").send().await.status, 401);
        let res = crate::team::open_stream(&app, "/events/usage", &owner).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "text/event-stream");
        let mut body = res.into_body();
        let quiet = tokio::time::timeout(Duration::from_millis(200), body.frame()).await;
        assert!(quiet.is_err(), "nothing until calls are counted");
        // Another organization's calls are not announced here.
        calls(&app, &key_of(&app, "grace@example.com", None).await, 2, "").await;
        assert!(app.roster.gateway.flush_usage().await);
        let quiet = tokio::time::timeout(Duration::from_millis(300), body.frame()).await;
        assert!(quiet.is_err(), "another organization's calls");
        // This one's are, once written.
        let key = key_of(&app, OWNER, None).await;
        calls(&app, &key, 1, "").await;
        assert!(app.roster.gateway.flush_usage().await);
        let event = tokio::time::timeout(Duration::from_secs(2), body.frame())
            .await
            .expect("an event once counts are written")
            .unwrap()
            .unwrap();
        let event = String::from_utf8(event.into_data().unwrap().to_vec()).unwrap();
        assert!(event.starts_with("event: usage"), "{event}");
        // The next one waits: at most one every few seconds.
        calls(&app, &key, 1, "").await;
        assert!(app.roster.gateway.flush_usage().await);
        let held = tokio::time::timeout(Duration::from_millis(1_000), body.frame()).await;
        assert!(held.is_err(), "a second event within a second");
    }
);

on_both!(
    the_first_roll_up_of_weeks_of_counts_goes_a_week_at_a_time_and_changes_no_figure,
    |db| {
        let app = TestApp::new(db).await;
        let owner = app.member(OWNER).await;
        let org = crate::gateway::org_of(&app, OWNER).await;
        let user = app.user_id(OWNER).await;
        // Counts of the last 20 days, one every 5 hours, as a server before roll-ups left them.
        let now = app.clock.now();
        for i in 1..=96 {
            let at = now - i * 5 * HOUR;
            app.roster.gateway.usage.record(
                Counted {
                    org_id: org,
                    user_id: user,
                    key_id: 0,
                    feature: "products",
                    region: String::new(),
                    outcome: if i % 4 == 0 {
                        "rate_limited"
                    } else {
                        "allowed"
                    },
                    minute: at / MINUTE,
                },
                at,
            );
        }
        assert!(app.roster.gateway.flush_usage().await);
        let views: [&[(&str, &str)]; 3] = [
            &[("range", "30d")],
            &[("range", "7d")],
            &[("range", "30d"), ("outcome", "denied")],
        ];
        let mut before = Vec::new();
        for v in views {
            before.push(figures(&app, &owner, v).await);
        }
        assert_eq!(before[0]["calls"], 96);
        assert_eq!(before[2]["calls"], 24);
        let first_step = server::db::usage::roll_up(
            &app.roster.store,
            app.clock.now(),
            server::db::usage::Retention::default(),
        )
        .await
        .unwrap();
        assert!(first_step.more, "{first_step:?}");
        // As the housekeeping does after a roll-up: figures read before it are read again.
        app.roster.events.usage_written.rolled_up();
        assert_eq!(first_step.hours, 7 * 24);
        for (v, b) in views.iter().zip(&before) {
            assert_eq!(&figures(&app, &owner, v).await, b, "after one step: {v:?}");
        }
        let rest = app.roster.housekeeping.roll_up_usage().await.unwrap();
        assert!(!rest.more && rest.hours > 7 * 24, "{rest:?}");
        for (v, b) in views.iter().zip(&before) {
            assert_eq!(&figures(&app, &owner, v).await, b, "after all: {v:?}");
        }
    }
);

/// Writes the gateway's counts and waits until every notice of the write has arrived: on
/// PostgreSQL this instance also hears its own `NOTIFY` a moment after the write, and that
/// echo drops the figures kept for the organization again.
async fn written_and_heard(app: &TestApp, email: &str) {
    let org = crate::gateway::org_of(app, email).await;
    let written = &app.roster.events.usage_written;
    let before = written.generation(org);
    assert!(app.roster.gateway.flush_usage().await);
    let notices = match app.roster.store.backend {
        server::db::Backend::Postgres => 2,
        server::db::Backend::Sqlite => 1,
    };
    for _ in 0..500 {
        if written.generation(org) >= before + notices {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the write of the counts was not heard back");
}

on_both!(
    figures_are_read_again_once_counts_are_written_and_not_before,
    |db| {
        let app = TestApp::new(db).await;
        let owner = app.member(OWNER).await;
        let key = key_of(&app, OWNER, None).await;
        calls(&app, &key, 2, "").await;
        written_and_heard(&app, OWNER).await;
        assert_eq!(figures(&app, &owner, &[("range", "24h")]).await["calls"], 2);
        // A count stored behind Roster's back is not seen: the figures were kept...
        let org = crate::gateway::org_of(&app, OWNER).await;
        sqlx::query(
            "insert into gateway_usage (org_id, minute, user_id, key_id, feature, region, outcome, calls) \
             values ($1, $2, $3, 0, 'billing', '', 'allowed', 40)",
        )
        .bind(org)
        .bind(START / MINUTE)
        .bind(app.user_id(OWNER).await)
        .execute(&app.roster.store.pool)
        .await
        .unwrap();
        assert_eq!(figures(&app, &owner, &[("range", "24h")]).await["calls"], 2);
        // ...until the organization's counts are written again; another view reads afresh.
        assert_eq!(figures(&app, &owner, &[("range", "7d")]).await["calls"], 42);
        calls(&app, &key, 1, "").await;
        written_and_heard(&app, OWNER).await;
        assert_eq!(
            figures(&app, &owner, &[("range", "24h")]).await["calls"],
            43
        );
    }
);
