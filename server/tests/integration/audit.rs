//! The audit log: its page (filters, keyset paging, origin of each row), who may read and
//! export it, the hash chain that shows tampering, retention that keeps it verifiable, and
//! `roster audit verify`.

use crate::common::*;
use app::authz::{Feature, Grant, Grid, Level};
use app::error::PERMISSION_DENIED;
use server::clock::DAY;
use server::db::audit;

const OWNER: &str = "ada@example.com";

/// The Audit Log page's data as `session` sees it, with `changes` to the default query.
async fn page(app: &TestApp, session: &str, changes: &[(&str, &str)]) -> Reply {
    let mut query = serde_json::json!({
        "actor": "", "action": "", "target": "", "search": "", "from": "", "to": "",
        "after": "", "tz": "UTC",
    });
    for (k, v) in changes {
        query[*k] = serde_json::json!(v);
    }
    app.post_json("audit_log", serde_json::json!({ "query": query }))
        .session(session)
        .send()
        .await
}

/// Every row of the log through the pages, following `next`; (id, action, target).
async fn all_rows(
    app: &TestApp,
    session: &str,
    changes: &[(&str, &str)],
) -> Vec<serde_json::Value> {
    let mut rows = Vec::new();
    let mut after = String::new();
    loop {
        let mut c = changes.to_vec();
        c.push(("after", &after));
        let r = page(app, session, &c).await;
        assert_eq!(r.error(), None, "{}", r.body);
        let p = r.json();
        let got = p["rows"].as_array().unwrap();
        assert!(got.len() <= 50);
        rows.extend(got.iter().cloned());
        match p["next"].as_str() {
            Some(next) => after = next.to_owned(),
            None => return rows,
        }
    }
}

async fn org_of(app: &TestApp, email: &str) -> i64 {
    sqlx::query_scalar("select default_org_id from users where email = $1")
        .bind(email)
        .fetch_one(&app.roster.store.pool)
        .await
        .unwrap()
}

async fn verify(app: &TestApp, org_id: i64) -> audit::Verified {
    let mut conn = app.roster.store.pool.acquire().await.unwrap();
    audit::verify(&mut conn, org_id).await.unwrap()
}

async fn exec(app: &TestApp, sql: &str, org_id: i64) {
    sqlx::query(sql)
        .bind(org_id)
        .execute(&app.roster.store.pool)
        .await
        .unwrap();
}

on_both!(
    the_page_pages_filters_and_shows_where_each_change_came_from,
    |db| {
        let app = TestApp::new(db).await;
        let owner = app.member(OWNER).await;
        app.set_seat_limit(100).await;
        let admin = app.joined(&owner, "admin@example.com", "admin").await;
        // 60 invitations: more than a page.
        for i in 0..60 {
            let r = app
                .post(
                    "invite_user",
                    &[
                        ("first_name", "Grace"),
                        ("last_name", "Hopper"),
                        ("email", &format!("guest{i}@example.com")),
                        ("role", "member"),
                    ],
                )
                .session(&admin)
                .header("user-agent", "AuditTest/1.0")
                .from("203.0.113.7")
                .send()
                .await;
            assert_eq!(r.error(), None, "{}", r.body);
        }
        let promoted = app.act(&owner, "admin@example.com", "demote").await;
        assert_eq!(promoted.error(), None, "{}", promoted.body);

        let rows = all_rows(&app, &owner, &[]).await;
        let stored: i64 = sqlx::query_scalar("select count(*) from audit_log where org_id = $1")
            .bind(org_of(&app, OWNER).await)
            .fetch_one(&app.roster.store.pool)
            .await
            .unwrap();
        // Every row once, newest first (paging by (time, id) skips and repeats nothing).
        assert_eq!(rows.len() as i64, stored);
        let ids: Vec<i64> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(ids, sorted);
        assert_eq!(rows[0]["action"], "member.demote");
        assert_eq!(rows[0]["change"], "role: admin → member");
        assert_eq!(rows[0]["actor_email"], OWNER);

        // Who, from where, with which request.
        let invited = rows
            .iter()
            .find(|r| r["target"] == "guest7@example.com")
            .unwrap();
        assert_eq!(invited["action"], "invitation.sent");
        assert_eq!(invited["actor_email"], "admin@example.com");
        assert_eq!(invited["client_ip"], "203.0.113.7");
        assert_eq!(invited["user_agent"], "AuditTest/1.0");
        assert_eq!(invited["request_id"].as_str().unwrap().len(), 24);

        // The request id is the one the response carried.
        let r = app
            .post(
                "update_profile",
                &[("first_name", "Ada"), ("last_name", "King"), ("mobile", "")],
            )
            .session(&owner)
            .send()
            .await;
        assert_eq!(r.error(), None, "{}", r.body);
        let given = r.headers["x-request-id"].to_str().unwrap().to_owned();
        let newest = page(&app, &owner, &[]).await.json();
        assert_eq!(newest["rows"][0]["action"], "profile.updated");
        assert_eq!(newest["rows"][0]["request_id"], given.as_str());

        // Filters: by area, actor, target, search, and time.
        let members = all_rows(&app, &owner, &[("action", "member")]).await;
        assert!(!members.is_empty());
        assert!(
            members
                .iter()
                .all(|r| r["action"].as_str().unwrap().starts_with("member."))
        );
        let admin_id = app.user_id("admin@example.com").await.to_string();
        let by_admin = all_rows(&app, &owner, &[("actor", &admin_id)]).await;
        assert!(by_admin.len() >= 60);
        assert!(
            by_admin
                .iter()
                .all(|r| r["actor_email"] == "admin@example.com")
        );
        let one = all_rows(&app, &owner, &[("target", "GUEST42@")]).await;
        assert_eq!(one.len(), 1);
        assert_eq!(one[0]["target"], "guest42@example.com");
        let searched = all_rows(&app, &owner, &[("search", "Guest42@EXAMPLE")]).await;
        assert_eq!(searched.len(), 1);
        let searched = all_rows(&app, &owner, &[("search", "100%_")]).await;
        assert!(searched.is_empty(), "% and _ are text, not wildcards");
        let today = all_rows(
            &app,
            &owner,
            &[("from", "2026-11-01"), ("to", "2099-01-01")],
        )
        .await;
        assert_eq!(today.len(), rows.len() + 1);
        let before = all_rows(&app, &owner, &[("to", "2000-01-01")]).await;
        assert!(before.is_empty());

        // Bad filters get a message next to their field and nothing else.
        let r = page(
            &app,
            &owner,
            &[
                ("actor", "999999"),
                ("action", "nope"),
                ("from", "tomorrow"),
                ("after", "x"),
            ],
        )
        .await;
        let Some(app::error::AppError::Validation(errors)) = r.app_error() else {
            panic!("{}", r.body);
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["actor", "action", "from", "after"]);
    }
);

on_both!(
    only_roles_with_audit_logs_read_or_export_and_only_their_own_organization,
    |db| {
        let app = TestApp::new(db).await;
        let owner = app.member(OWNER).await;
        let member = app.joined(&owner, "member@example.com", "member").await;
        let mut grid = Grid::default();
        grid.set(Feature::AuditLogs, Grant::new(Level::View, false));
        let viewer_role = app.custom_role(&owner, "Auditor", grid).await;
        let viewer = app
            .joined(
                &owner,
                "auditor@example.com",
                &format!("custom-{viewer_role}"),
            )
            .await;
        // Another organization, with its own rows.
        let other = app.member("eve@evil.example").await;
        assert_eq!(
            app.invite(&other, "secret-target@evil.example", "member")
                .await
                .error(),
            None
        );

        // A Member: no page, no check, no export.
        let r = page(&app, &member, &[]).await;
        assert_eq!(r.status, 403);
        assert_eq!(r.error().as_deref(), Some(PERMISSION_DENIED));
        let r = app
            .post("verify_audit_log", &[])
            .session(&member)
            .send()
            .await;
        assert_eq!(r.status, 403);
        let r = app
            .get("/audit/export?format=csv")
            .session(&member)
            .send()
            .await;
        assert_eq!(r.status, 403);
        assert!(r.body.contains(PERMISSION_DENIED));
        let r = app.get("/audit").session(&member).send().await;
        assert!(r.body.contains(PERMISSION_DENIED));

        // View without Download: the page and the check, not the export, nor where people
        // signed in from.
        let p = page(&app, &viewer, &[]).await.json();
        assert_eq!(p["can_export"], false);
        assert!(!p["rows"].as_array().unwrap().is_empty());
        assert!(
            p["rows"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["client_ip"] == "" && r["user_agent"] == "")
        );
        let p = page(&app, &owner, &[]).await.json();
        assert!(
            p["rows"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["client_ip"] != "")
        );
        let r = app
            .post("verify_audit_log", &[])
            .session(&viewer)
            .send()
            .await;
        assert_eq!(r.error(), None, "{}", r.body);
        let r = app
            .get("/audit/export?format=csv")
            .session(&viewer)
            .send()
            .await;
        assert_eq!(r.status, 403);

        // The other organization's Owner sees only their rows, whatever they ask for: its
        // actor filter refuses our people, and a cursor from our log buys nothing.
        let theirs = all_rows(&app, &other, &[]).await;
        assert!(
            theirs
                .iter()
                .any(|r| r["target"] == "secret-target@evil.example")
        );
        assert!(
            theirs
                .iter()
                .all(|r| r["actor_email"] == "eve@evil.example")
        );
        let ours = all_rows(&app, &owner, &[]).await;
        assert!(
            ours.iter()
                .all(|r| r["target"] != "secret-target@evil.example")
        );
        let ada = app.user_id(OWNER).await.to_string();
        let r = page(&app, &other, &[("actor", &ada)]).await;
        assert!(matches!(
            r.app_error(),
            Some(app::error::AppError::Validation(_))
        ));
        let export = app
            .get("/audit/export?format=jsonl")
            .session(&other)
            .send()
            .await;
        assert_eq!(export.status, 200);
        assert!(!export.body.contains(OWNER));
        assert!(!export.body.contains("auditor@example.com"));
        // Started from another site: refused.
        let r = app
            .get("/audit/export?format=csv")
            .session(&owner)
            .header("sec-fetch-site", "cross-site")
            .send()
            .await;
        assert_eq!(r.status, 403);
    }
);

on_both!(exports_are_the_filtered_log_escaped_and_audited, |db| {
    let app = TestApp::new(db).await;
    let owner = app.member(OWNER).await;
    // A role whose name a spreadsheet would run.
    app.custom_role(&owner, "=HYPERLINK(\"x\")", Grid::default())
        .await;
    let csv = app
        .get("/audit/export?format=csv")
        .session(&owner)
        .send()
        .await;
    assert_eq!(csv.status, 200, "{}", csv.body);
    assert_eq!(csv.headers["content-type"], "text/csv; charset=utf-8");
    assert!(
        csv.headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains(".csv")
    );
    let mut reader = csv::Reader::from_reader(csv.body.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header[..6],
        ["time", "seq", "actor_name", "actor_email", "via", "action"]
    );
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let role = records.iter().find(|r| &r[5] == "role.created").unwrap();
    assert_eq!(&role[6], "'=HYPERLINK(\"x\")");
    // The export wrote its own row before reading, and is not in itself.
    assert!(records.iter().all(|r| &r[5] != "audit.exported"));
    let actions = app.audit_actions().await;
    assert_eq!(actions.last().map(String::as_str), Some("audit.exported"));

    // JSON Lines of one filter: each line a row of that filter, the export row included now.
    let jsonl = app
        .get("/audit/export?format=jsonl&action=audit")
        .session(&owner)
        .send()
        .await;
    assert_eq!(jsonl.status, 200);
    let lines: Vec<serde_json::Value> = jsonl
        .body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["action"], "audit.exported");
    assert_eq!(lines[0]["actor_email"], OWNER);
    assert_eq!(lines[0]["hash"].as_str().unwrap().len(), 64);

    // Bad input: a clear refusal, nothing audited.
    let before = app.audit_actions().await.len();
    let r = app
        .get("/audit/export?format=xml")
        .session(&owner)
        .send()
        .await;
    assert_eq!(r.status, 400);
    let r = app
        .get("/audit/export?format=csv&from=soon")
        .session(&owner)
        .send()
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("from: "), "{}", r.body);
    assert_eq!(app.audit_actions().await.len(), before);
});

on_both!(
    editing_removing_or_adding_a_row_breaks_the_chain_where_it_happened,
    |db| {
        let app = TestApp::new(db).await;
        let owner = app.member(OWNER).await;
        for i in 0..5 {
            assert_eq!(
                app.invite(&owner, &format!("g{i}@example.com"), "member")
                    .await
                    .error(),
                None
            );
        }
        let org = org_of(&app, OWNER).await;
        let whole = verify(&app, org).await;
        assert_eq!(whole.broken, None);
        let rows = whole.rows as i64;
        assert!(rows >= 7, "{rows}");
        let r = app
            .post("verify_audit_log", &[])
            .session(&owner)
            .send()
            .await;
        assert_eq!(r.json()["broken"], serde_json::Value::Null);
        assert_eq!(r.json()["rows"], rows);

        // An edited row: found, and named, on the page's check too.
        exec(&app, "update audit_log set target = 'someone-else@example.com' where org_id = $1 and seq = 4", org).await;
        let v = verify(&app, org).await;
        let b = v.broken.unwrap();
        assert_eq!((b.seq, v.rows), (4, 3));
        assert!(b.reason.contains("changed"), "{}", b.reason);
        let r = app
            .post("verify_audit_log", &[])
            .session(&owner)
            .send()
            .await;
        assert!(r.json()["broken"].as_str().unwrap().contains("row 4"));
        // Its hash rewritten to match: the next row no longer follows it.
        let row = sqlx::query(
            "select created_at, actor_user_id, action, target, detail, via, client_ip, user_agent, \
            request_id, prev_hash from audit_log where org_id = $1 and seq = 4",
        )
        .bind(org)
        .fetch_one(&app.roster.store.pool)
        .await
        .unwrap();
        let t = |i: usize| -> Option<String> { sqlx::Row::try_get(&row, i).unwrap() };
        let created_at: i64 = sqlx::Row::try_get(&row, 0).unwrap();
        let actor: Option<i64> = sqlx::Row::try_get(&row, 1).unwrap();
        let text = serde_json::json!([
            org,
            4,
            created_at,
            actor,
            t(2),
            t(3),
            t(4),
            t(5),
            t(6),
            t(7),
            t(8),
            t(9)
        ])
        .to_string();
        let rehashed = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(text.as_bytes()));
        sqlx::query("update audit_log set hash = $2 where org_id = $1 and seq = 4")
            .bind(org)
            .bind(&rehashed)
            .execute(&app.roster.store.pool)
            .await
            .unwrap();
        let b = verify(&app, org).await.broken.unwrap();
        assert_eq!(b.seq, 5);
        assert!(b.reason.contains("does not follow"), "{}", b.reason);

        // A removed row in the middle, and rows removed from the end.
        let app2 = TestApp::new(db).await;
        let owner2 = app2.member(OWNER).await;
        for i in 0..5 {
            assert_eq!(
                app2.invite(&owner2, &format!("g{i}@example.com"), "member")
                    .await
                    .error(),
                None
            );
        }
        let org2 = org_of(&app2, OWNER).await;
        exec(
            &app2,
            "delete from audit_log where org_id = $1 and seq = 3",
            org2,
        )
        .await;
        let b = verify(&app2, org2).await.broken.unwrap();
        assert_eq!(b.seq, 3);
        assert!(b.reason.contains("missing"), "{}", b.reason);
        let app3 = TestApp::new(db).await;
        let owner3 = app3.member(OWNER).await;
        assert_eq!(
            app3.invite(&owner3, "g@example.com", "member")
                .await
                .error(),
            None
        );
        let org3 = org_of(&app3, OWNER).await;
        exec(&app3, "delete from audit_log where org_id = $1 and seq = (select max(seq) from audit_log where org_id = $1)", org3).await;
        let b = verify(&app3, org3).await.broken.unwrap();
        assert!(b.reason.contains("missing"), "{}", b.reason);
        // A row slipped in without the chain.
        let app4 = TestApp::new(db).await;
        app4.member(OWNER).await;
        let org4 = org_of(&app4, OWNER).await;
        exec(
            &app4,
            "insert into audit_log (org_id, action, created_at) values ($1, 'member.promote', 1)",
            org4,
        )
        .await;
        let b = verify(&app4, org4).await.broken.unwrap();
        assert!(b.reason.contains("outside the chain"), "{}", b.reason);
        // ...and a restart does not chain it: only organizations with no chain yet (rows from
        // before the chain existed) are sealed.
        let app4 = app4.restart_with(|_| {}).await;
        let b = verify(&app4, org4).await.broken.unwrap();
        assert!(b.reason.contains("outside the chain"), "{}", b.reason);
        // A row put at the anchor (below every chained row) is caught too.
        exec(
            &app4,
            "delete from audit_log where org_id = $1 and seq is null",
            org4,
        )
        .await;
        exec(&app4, "insert into audit_log (org_id, action, created_at, seq, prev_hash, hash) values ($1, 'member.promote', 1, 0, 'x', 'y')", org4).await;
        let b = verify(&app4, org4).await.broken.unwrap();
        assert!(b.reason.contains("outside the chain"), "{}", b.reason);
        // A row planted beyond the head (it would also block the chain's next row).
        exec(
            &app4,
            "delete from audit_log where org_id = $1 and seq = 0",
            org4,
        )
        .await;
        exec(&app4, "insert into audit_log (org_id, action, created_at, seq, prev_hash, hash) values ($1, 'member.promote', 1, (select seq + 5 from audit_chain where org_id = $1), 'x', 'y')", org4).await;
        let b = verify(&app4, org4).await.broken.unwrap();
        assert!(
            b.reason.contains("beyond the chain's last row"),
            "{}",
            b.reason
        );
        exec(
            &app4,
            "delete from audit_log where org_id = $1 and action = 'member.promote'",
            org4,
        )
        .await;
        assert_eq!(verify(&app4, org4).await.broken, None);
        // The oldest rows removed with the anchor moved to match, as retention would, but with
        // no retention record: caught.
        exec(&app4, "update audit_chain set anchor_seq = 1, anchor_hash = (select hash from audit_log a where a.org_id = audit_chain.org_id and a.seq = 1) where org_id = $1", org4).await;
        exec(
            &app4,
            "delete from audit_log where org_id = $1 and seq = 1",
            org4,
        )
        .await;
        let b = verify(&app4, org4).await.broken.unwrap();
        assert!(
            b.reason.contains("without a retention record"),
            "{}",
            b.reason
        );
        // An organization whose rows all come from before the chain is sealed at start.
        exec(
            &app4,
            "delete from audit_log where org_id = $1 and seq = 0",
            org4,
        )
        .await;
        exec(&app4, "delete from audit_chain where org_id = $1", org4).await;
        exec(
            &app4,
            "update audit_log set seq = null, prev_hash = null, hash = null where org_id = $1",
            org4,
        )
        .await;
        let app4 = app4.restart_with(|_| {}).await;
        let v = verify(&app4, org4).await;
        assert_eq!(v.broken, None);
        assert!(v.rows >= 2, "{v:?}");
    }
);

on_both!(
    retention_deletes_old_rows_and_the_chain_still_verifies,
    |db| {
        let app = TestApp::new(db).await;
        app.member(OWNER).await;
        let org = org_of(&app, OWNER).await;
        let old = verify(&app, org).await.rows;
        assert!(old > 0);
        app.clock.advance(300 * DAY);
        let owner = app.sign_in(OWNER, PASSWORD).await.session();
        assert_eq!(
            app.invite(&owner, "recent@example.com", "member")
                .await
                .error(),
            None
        );
        app.clock.advance(101 * DAY);
        // Signed in again after 401 days: the old rows pass 400 days, the invitation does not.
        let owner = app.sign_in(OWNER, PASSWORD).await.session();
        let swept = app.roster.housekeeping.run_once().await.unwrap();
        assert!(swept.audit_rows >= old, "{swept:?}");
        let v = verify(&app, org).await;
        assert_eq!(v.broken, None);
        let rows = all_rows(&app, &owner, &[]).await;
        assert_eq!(rows.len() as u64, v.rows);
        assert!(rows.iter().any(|r| r["target"] == "recent@example.com"));
        assert!(rows.iter().all(|r| r["action"] != "organization.created"));
        // The deletion is itself in the chain, by the system, naming the new anchor.
        let expired = rows
            .iter()
            .find(|r| r["action"] == "audit.expired")
            .unwrap();
        assert_eq!(expired["via"], "system");
        assert!(expired["change"].as_str().unwrap().contains("through_seq"));
        // New rows go on from the anchor.
        assert_eq!(
            app.invite(&owner, "later@example.com", "member")
                .await
                .error(),
            None
        );
        assert_eq!(verify(&app, org).await.broken, None);
    }
);

on_both!(roster_audit_verify_reports_the_first_broken_link, |db| {
    let app = TestApp::new(db).await;
    let owner = app.member(OWNER).await;
    assert_eq!(
        app.invite(&owner, "g@example.com", "member").await.error(),
        None
    );
    let org = org_of(&app, OWNER).await;
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_roster"))
            .args(["audit", "verify"])
            .env("DATABASE_URL", &app.config.database_url)
            .env("SECRET_KEY", "00".repeat(32))
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    };
    let out = run();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!("organization {org}: ")) && text.contains("whole"),
        "{text}"
    );
    exec(
        &app,
        "update audit_log set detail = 'x' where org_id = $1 and seq = 2",
        org,
    )
    .await;
    let out = run();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("BROKEN at row 2"), "{text}");
});
