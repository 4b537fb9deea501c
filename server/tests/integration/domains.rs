//! Settings: verified domains (a TXT record looked up in a real DNS server on loopback), the
//! daily re-check that lapses them, and auto-join: who joins, as what, never past the seats,
//! never someone who was removed, and nothing across organizations.

use crate::common::dns::Zone;
use crate::common::*;
use app::authz::{Feature, Grant, Grid, Level};
use server::clock::DAY;
use std::sync::atomic::Ordering;

const OWNER: &str = "ada@example.com";
const DOMAIN: &str = "engines.example";
const RECORD: &str = "_roster-challenge.engines.example";

async fn app_with_dns(db: Db) -> (TestApp, Zone) {
    let zone = Zone::default();
    let addr = zone.serve().await;
    let app = TestApp::with(db, |c| c.dns_server = Some(addr)).await;
    (app, zone)
}

fn field_message(r: &Reply, field: &str) -> String {
    match r.app_error() {
        Some(app::error::AppError::Validation(errors)) => errors
            .into_iter()
            .find(|e| e.field == field)
            .map(|e| e.message)
            .unwrap_or_else(|| panic!("no {field} error: {}", r.body)),
        _ => panic!("expected a {field} error: {} {}", r.status, r.body),
    }
}

async fn add(app: &TestApp, session: &str, domain: &str) -> Reply {
    app.post("add_domain", &[("domain", domain)])
        .session(session)
        .send()
        .await
}

async fn verify(app: &TestApp, session: &str, id: i64) -> Reply {
    app.post("verify_domain", &[("id", &id.to_string())])
        .session(session)
        .send()
        .await
}

/// Adds `DOMAIN`, creates its record and verifies it; returns its id.
async fn verified_domain(app: &TestApp, zone: &Zone, session: &str) -> i64 {
    let r = add(app, session, DOMAIN).await;
    assert_eq!(r.error(), None, "{}", r.body);
    let d = r.json();
    zone.set(RECORD, &[&[d["record_value"].as_str().unwrap()]]);
    let id = d["id"].as_i64().unwrap();
    let r = verify(app, session, id).await;
    assert_eq!(r.error(), None, "{}", r.body);
    id
}

async fn auto_join(app: &TestApp, session: &str, mode: &str, role: &str) -> Reply {
    app.post("save_auto_join", &[("mode", mode), ("role", role)])
        .session(session)
        .send()
        .await
}

/// Signs up `email` (their own organization), verifies the address through the emailed
/// link, from its own client address.
async fn signs_up_and_verifies(app: &TestApp, email: &str, ip: &str) {
    let r = app
        .post(
            "sign_up",
            &[
                ("first_name", "Joan"),
                ("last_name", "Clarke"),
                ("email", email),
                ("password", PASSWORD),
                ("org_name", "Clarke Consulting"),
            ],
        )
        .from(ip)
        .send()
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let token = app.last_token(email, "verify-email").await;
    let r = app.post("verify_email", &[("token", &token)]).send().await;
    assert_eq!(r.error(), None, "{}", r.body);
}

async fn role_in(app: &TestApp, org_of: &str, email: &str) -> Option<(String, String)> {
    sqlx::query_as(
        "select m.role, m.status from memberships m join users u on u.id = m.user_id \
         where u.email = $1 and m.org_id = (select default_org_id from users where email = $2)",
    )
    .bind(email)
    .bind(org_of)
    .fetch_optional(&app.roster.store.pool)
    .await
    .unwrap()
}

on_both!(
    a_domain_is_verified_by_its_txt_record_and_refused_when_it_cannot_be_ours,
    |db| {
        let (app, zone) = app_with_dns(db).await;
        let owner = app.member(OWNER).await;
        for (input, word) in [
            ("https://engines.example/x", "without http"),
            ("co.uk", "public suffix"),
            ("gmail.com", "free email"),
            ("mailinator.com", "disposable"),
            ("", "Enter a domain"),
        ] {
            let r = add(&app, &owner, input).await;
            assert!(
                field_message(&r, "domain").contains(word),
                "{input}: {}",
                r.body
            );
        }
        // Added: pending, with the record to create.
        let r = add(&app, &owner, " Engines.EXAMPLE. ").await;
        assert_eq!(r.error(), None, "{}", r.body);
        let d = r.json();
        assert_eq!(d["domain"], DOMAIN);
        assert_eq!(d["status"], "pending");
        assert_eq!(d["record_name"], RECORD);
        let token = d["record_value"].as_str().unwrap().to_owned();
        assert!(token.len() >= 40, "{token}");
        let id = d["id"].as_i64().unwrap();
        assert!(field_message(&add(&app, &owner, DOMAIN).await, "domain").contains("already"));

        // No record yet: not verified, and the answer is not remembered.
        let r = verify(&app, &owner, id).await;
        assert!(
            field_message(&r, "domain").contains("No TXT record"),
            "{}",
            r.body
        );
        // A wrong value, then the right one among others and split in two strings.
        zone.set(RECORD, &[&["roster-verification=0000"]]);
        assert!(verify(&app, &owner, id).await.error().is_some());
        let (a, b) = token.split_at(10);
        zone.set(RECORD, &[&["v=spf1 -all"], &[a, b]]);
        let r = verify(&app, &owner, id).await;
        assert_eq!(r.error(), None, "{}", r.body);
        assert_eq!(r.json()["status"], "verified");
        // A failing DNS server: a plain message, nothing changes.
        zone.failing.store(true, Ordering::SeqCst);
        let r = verify(&app, &owner, id).await;
        assert!(
            field_message(&r, "domain").contains("did not finish"),
            "{}",
            r.body
        );
        zone.failing.store(false, Ordering::SeqCst);
        let page = app
            .post("settings_overview", &[])
            .session(&owner)
            .send()
            .await
            .json();
        assert_eq!(page["domains"][0]["status"], "verified");

        // IDN names are stored as punycode and shown in Unicode.
        let r = add(&app, &owner, "Bücher.example").await;
        assert_eq!(r.json()["domain"], "xn--bcher-kva.example");
        assert_eq!(r.json()["display"], "bücher.example");

        // Another organization cannot take it, even with its own record in place.
        let eve = app.member("eve@evil.example").await;
        let r = add(&app, &eve, DOMAIN).await;
        assert_eq!(r.error(), None, "{}", r.body);
        let theirs = r.json();
        zone.set(RECORD, &[&[theirs["record_value"].as_str().unwrap()]]);
        let r = verify(&app, &eve, theirs["id"].as_i64().unwrap()).await;
        assert!(
            field_message(&r, "domain").contains("Another organization"),
            "{}",
            r.body
        );
        // Nor verify, remove or see ours by its id.
        let r = verify(&app, &eve, id).await;
        assert_eq!(
            r.app_error(),
            Some(app::error::AppError::NotFound),
            "{}",
            r.body
        );
        let r = app
            .post("remove_domain", &[("id", &id.to_string())])
            .session(&eve)
            .send()
            .await;
        assert_eq!(r.app_error(), Some(app::error::AppError::NotFound));
        let theirs_page = app
            .post("settings_overview", &[])
            .session(&eve)
            .send()
            .await
            .json();
        assert!(!theirs_page.to_string().contains(&token));

        // A Member may not add, verify or remove domains (Account Settings: Edit).
        let member = app.joined(&owner, "member@example.com", "member").await;
        assert!(denied(&add(&app, &member, "other.example").await));
        assert!(denied(&verify(&app, &member, id).await));
        let r = app
            .post("remove_domain", &[("id", &id.to_string())])
            .session(&member)
            .send()
            .await;
        assert!(denied(&r));
        let actions = app.audit_actions().await;
        assert!(actions.contains(&"domain.added".to_owned()));
        assert!(actions.contains(&"domain.verified".to_owned()));
    }
);

on_both!(
    a_record_gone_three_days_in_a_row_lapses_the_domain_and_pauses_auto_join,
    |db| {
        let (app, zone) = app_with_dns(db).await;
        let owner = app.member(OWNER).await;
        let id = verified_domain(&app, &zone, &owner).await;
        assert_eq!(
            auto_join(&app, &owner, "automatic", "member").await.error(),
            None
        );
        let token = zone_value(&app, id).await;
        zone.clear(RECORD);
        for day in 1..=3 {
            app.clock.advance(DAY + 1);
            // A record that cannot be read counts as one that is gone (day 1); checked once
            // a day, whatever the answer.
            zone.failing.store(day == 1, Ordering::SeqCst);
            assert_eq!(app.roster.settings.recheck_due().await.unwrap(), 1);
            assert_eq!(app.roster.settings.recheck_due().await.unwrap(), 0);
            let status: String = sqlx::query_scalar("select status from org_domains where id = $1")
                .bind(id)
                .fetch_one(&app.roster.store.pool)
                .await
                .unwrap();
            assert_eq!(
                status,
                if day < 3 { "verified" } else { "lapsed" },
                "day {day}"
            );
        }
        let mails = app.emails_to(OWNER).await;
        assert!(
            mails.iter().any(|(s, _)| s.contains("no longer verified")),
            "{mails:?}"
        );
        assert!(
            app.audit_actions()
                .await
                .contains(&"domain.lapsed".to_owned())
        );
        // Paused: a new verified address at the domain does not join.
        signs_up_and_verifies(&app, "joan@engines.example", "198.51.100.1").await;
        assert_eq!(role_in(&app, OWNER, "joan@engines.example").await, None);
        // The record back: verified again at the next check, and auto-join resumes at sign-in.
        zone.set(RECORD, &[&[&token]]);
        app.clock.advance(DAY + 1);
        app.roster.settings.recheck_due().await.unwrap();
        assert!(
            app.audit_actions()
                .await
                .contains(&"domain.restored".to_owned())
        );
        assert_eq!(
            app.sign_in("joan@engines.example", PASSWORD).await.error(),
            None
        );
        assert_eq!(
            role_in(&app, OWNER, "joan@engines.example").await,
            Some(("member".into(), "active".into()))
        );
    }
);

async fn zone_value(app: &TestApp, id: i64) -> String {
    sqlx::query_scalar("select token from org_domains where id = $1")
        .bind(id)
        .fetch_one(&app.roster.store.pool)
        .await
        .unwrap()
}

on_both!(
    verified_addresses_at_a_verified_domain_join_as_the_chosen_role_once,
    |db| {
        let (app, zone) = app_with_dns(db).await;
        let owner = app.member(OWNER).await;
        verified_domain(&app, &zone, &owner).await;
        // Off by default: nobody joins.
        signs_up_and_verifies(&app, "off@engines.example", "198.51.100.2").await;
        assert_eq!(role_in(&app, OWNER, "off@engines.example").await, None);

        // Never Admin or Owner; a Member may not change it; only a role the changer may give.
        assert!(
            field_message(&auto_join(&app, &owner, "automatic", "admin").await, "role")
                .contains("Member, Visitor")
        );
        assert!(
            field_message(&auto_join(&app, &owner, "automatic", "owner").await, "role")
                .contains("Member, Visitor")
        );
        assert!(
            field_message(
                &auto_join(&app, &owner, "sometimes", "member").await,
                "mode"
            )
            .contains("Off")
        );
        let member = app.joined(&owner, "member@example.com", "member").await;
        assert!(denied(
            &auto_join(&app, &member, "automatic", "member").await
        ));
        let mut settings_only = Grid::default();
        settings_only.set(Feature::AccountSettings, Grant::new(Level::Edit, false));
        let role = app.custom_role(&owner, "Settings", settings_only).await;
        let clerk = app
            .joined(&owner, "clerk@example.com", &format!("custom-{role}"))
            .await;
        // Nor may that role add or verify domains, which would bring people in as Visitors.
        let r = add(&app, &clerk, "clerks-own.example").await;
        assert!(
            field_message(&r, "domain").contains("only someone who may invite"),
            "{}",
            r.body
        );
        let queries = zone.queries.load(Ordering::SeqCst);
        let ours: i64 = sqlx::query_scalar("select id from org_domains where domain = $1")
            .bind(DOMAIN)
            .fetch_one(&app.roster.store.pool)
            .await
            .unwrap();
        let r = verify(&app, &clerk, ours).await;
        assert!(
            field_message(&r, "domain").contains("only someone who may invite"),
            "{}",
            r.body
        );
        assert_eq!(
            zone.queries.load(Ordering::SeqCst),
            queries,
            "no lookup made for them"
        );
        let r = auto_join(&app, &clerk, "automatic", "member").await;
        assert!(
            field_message(&r, "role").contains("you may give"),
            "{}",
            r.body
        );
        assert_eq!(
            auto_join(&app, &owner, "automatic", "visitor")
                .await
                .error(),
            None
        );

        // Automatic: joins at verification, as a Visitor, with an audit row made via auto-join
        // and the team page showing them.
        signs_up_and_verifies(&app, "joan@engines.example", "198.51.100.3").await;
        assert_eq!(
            role_in(&app, OWNER, "joan@engines.example").await,
            Some(("visitor".into(), "active".into()))
        );
        let via: Option<String> = sqlx::query_scalar(
        "select via from audit_log where action = 'member.auto_joined' and target = 'joan@engines.example'",
    )
    .fetch_one(&app.roster.store.pool)
    .await
    .unwrap();
        assert_eq!(via.as_deref(), Some("auto_join"));
        assert!(
            app.team_emails(&owner, &[])
                .await
                .contains(&"joan@engines.example".to_owned())
        );
        // Signing in again changes nothing (idempotent).
        assert_eq!(
            app.sign_in("joan@engines.example", PASSWORD).await.error(),
            None
        );
        let joined: i64 = sqlx::query_scalar(
            "select count(*) from audit_log where action = 'member.auto_joined'",
        )
        .fetch_one(&app.roster.store.pool)
        .await
        .unwrap();
        assert_eq!(joined, 1);
        // Removed: never joins again this way.
        assert_eq!(
            app.act(&owner, "joan@engines.example", "remove")
                .await
                .error(),
            None
        );
        assert_eq!(
            app.sign_in("joan@engines.example", PASSWORD).await.error(),
            None
        );
        assert_eq!(
            role_in(&app, OWNER, "joan@engines.example")
                .await
                .map(|r| r.1),
            Some("removed".into())
        );
        // An unverified address never joins, even at sign-in.
        app.sign_up("unverified@engines.example").await;
        assert_eq!(
            role_in(&app, OWNER, "unverified@engines.example").await,
            None
        );
        // Another domain, a look-alike: nothing.
        signs_up_and_verifies(&app, "x@engines.example.evil.example", "198.51.100.4").await;
        signs_up_and_verifies(&app, "y@sub.engines.example", "198.51.100.5").await;
        assert_eq!(
            role_in(&app, OWNER, "x@engines.example.evil.example").await,
            None
        );
        assert_eq!(role_in(&app, OWNER, "y@sub.engines.example").await, None);

        // Suggest: offered after sign-in, joined by "Join".
        assert_eq!(
            auto_join(&app, &owner, "suggest", "member").await.error(),
            None
        );
        signs_up_and_verifies(&app, "sam@engines.example", "198.51.100.6").await;
        assert_eq!(role_in(&app, OWNER, "sam@engines.example").await, None);
        let sam = app.sign_in("sam@engines.example", PASSWORD).await.session();
        app.accept_terms(&sam).await;
        let offered = app
            .post("join_suggestions", &[])
            .session(&sam)
            .send()
            .await
            .json();
        assert_eq!(offered[0]["org_name"], "Analytical Engines");
        let org_id = offered[0]["org_id"].as_i64().unwrap().to_string();
        // Someone else's suggestion is not theirs to take.
        let outsider = app.member("outsider@other.example").await;
        let r = app
            .post("join_organization", &[("org_id", &org_id)])
            .session(&outsider)
            .send()
            .await;
        assert_eq!(r.app_error(), Some(app::error::AppError::NotFound));
        let r = app
            .post("join_organization", &[("org_id", &org_id)])
            .session(&sam)
            .send()
            .await;
        assert_eq!(r.error(), None, "{}", r.body);
        assert_eq!(
            role_in(&app, OWNER, "sam@engines.example").await,
            Some(("member".into(), "active".into()))
        );
        let offered = app
            .post("join_suggestions", &[])
            .session(&sam)
            .send()
            .await
            .json();
        assert_eq!(offered, serde_json::json!([]));
    }
);

on_both!(
    twenty_people_at_once_fill_five_free_seats_and_no_more,
    |db| {
        let (app, zone) = app_with_dns(db).await;
        let owner = app.member(OWNER).await;
        verified_domain(&app, &zone, &owner).await;
        assert_eq!(
            auto_join(&app, &owner, "automatic", "member").await.error(),
            None
        );
        // One seat is the Owner's: five free.
        app.set_seat_limit(6).await;
        let people: Vec<String> = (0..20)
            .map(|i| format!("p{i:02}@engines.example"))
            .collect();
        let mut tokens = Vec::new();
        for (i, email) in people.iter().enumerate() {
            app.post(
                "sign_up",
                &[
                    ("first_name", "Pat"),
                    ("last_name", "Doe"),
                    ("email", email),
                    ("password", PASSWORD),
                    ("org_name", "Own"),
                ],
            )
            .from(&format!("198.51.100.{}", 10 + i))
            .send()
            .await;
            tokens.push(app.last_token(email, "verify-email").await);
        }
        let verified = futures::future::join_all(tokens.iter().map(|t| {
            let app = &app;
            async move { app.post("verify_email", &[("token", t)]).send().await }
        }))
        .await;
        assert!(verified.iter().all(|r| r.error().is_none()));
        let mut joined = 0;
        for email in &people {
            if role_in(&app, OWNER, email).await.is_some() {
                joined += 1;
            }
        }
        assert_eq!(joined, 5);
        let used = app
            .post("settings_overview", &[])
            .session(&owner)
            .send()
            .await
            .json();
        assert_eq!(used["seats"], serde_json::json!({"used": 6, "limit": 6}));
        // The admins heard once, not fifteen times.
        let full = app
            .emails_to(OWNER)
            .await
            .into_iter()
            .filter(|(s, _)| s.contains("all seats are in use"))
            .count();
        assert_eq!(full, 1);
        // Those left out are offered it with the reason.
        let mut left_out = None;
        for email in &people {
            if role_in(&app, OWNER, email).await.is_none() {
                left_out = Some(email.clone());
                break;
            }
        }
        let left_out = left_out.unwrap();
        let session = app.sign_in(&left_out, PASSWORD).await.session();
        app.accept_terms(&session).await;
        let offered = app
            .post("join_suggestions", &[])
            .session(&session)
            .send()
            .await
            .json();
        assert_eq!(offered[0]["seats_full"], true);
    }
);

on_both!(
    the_organization_is_renamed_by_account_settings_edit_only,
    |db| {
        let app = TestApp::new(db).await;
        let owner = app.member(OWNER).await;
        let r = app
            .post("rename_organization", &[("name", "  ")])
            .session(&owner)
            .send()
            .await;
        assert!(field_message(&r, "name").len() > 3);
        let r = app
            .post("rename_organization", &[("name", "Difference Engines")])
            .session(&owner)
            .send()
            .await;
        assert_eq!(r.error(), None, "{}", r.body);
        let page = app
            .post("settings_overview", &[])
            .session(&owner)
            .send()
            .await
            .json();
        assert_eq!(page["org_name"], "Difference Engines");
        let member = app.joined(&owner, "member@example.com", "member").await;
        let r = app
            .post("rename_organization", &[("name", "Mine")])
            .session(&member)
            .send()
            .await;
        assert!(denied(&r));
        assert!(
            app.audit_actions()
                .await
                .contains(&"organization.renamed".to_owned())
        );
    }
);

on_both!(
    deleting_auto_joins_role_turns_auto_join_off_rather_than_give_another,
    |db| {
        let (app, zone) = app_with_dns(db).await;
        let owner = app.member(OWNER).await;
        verified_domain(&app, &zone, &owner).await;
        let contractors = app
            .custom_role(&owner, "Contractors", Grid::default())
            .await;
        let key = format!("custom-{contractors}");
        assert_eq!(
            auto_join(&app, &owner, "automatic", &key).await.error(),
            None
        );
        let r = app
            .post(
                "delete_role",
                &[("role_id", &contractors.to_string()), ("move_to", "")],
            )
            .session(&owner)
            .send()
            .await;
        assert_eq!(r.error(), None, "{}", r.body);
        let page = app
            .post("settings_overview", &[])
            .session(&owner)
            .send()
            .await
            .json();
        assert_eq!(
            (page["auto_join"].as_str(), page["auto_join_role"].as_str()),
            (Some("off"), Some("member"))
        );
        // Nobody joins as anything meanwhile.
        signs_up_and_verifies(&app, "later@engines.example", "198.51.100.40").await;
        assert_eq!(role_in(&app, OWNER, "later@engines.example").await, None);
    }
);
