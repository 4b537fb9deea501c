//! Roles and permissions over HTTP, on SQLite and PostgreSQL: every declared requirement is
//! enforced for every role, escalation attempts are refused, custom roles, regions,
//! ownership transfer and the seat limit work and are audited.

use crate::common::*;
use app::authz::{
    Access, BuiltIn, CustomGrants, Feature, Grant, Grid, Level, Requirement, Template,
    default_regions,
};
use app::error::{AppError, PERMISSION_DENIED};
use serde_json::json;

const OWNER: &str = "ada@example.com";

fn grid(cells: &[(Feature, Level, bool)]) -> Grid {
    let mut g = Grid::default();
    for (f, l, d) in cells {
        g.set(*f, Grant::new(*l, *d));
    }
    g
}

async fn audit_detail(app: &TestApp, action: &str) -> serde_json::Value {
    let detail: Option<String> = sqlx::query_scalar(
        "select detail from audit_log where action = $1 order by id desc limit 1",
    )
    .bind(action)
    .fetch_one(&app.roster.store.pool)
    .await
    .unwrap();
    serde_json::from_str(&detail.unwrap()).unwrap()
}

async fn role_of(app: &TestApp, email: &str) -> (String, Option<i64>) {
    sqlx::query_as(
        "select m.role, m.role_id from memberships m join users u on u.id = m.user_id where u.email = $1",
    )
    .bind(email)
    .fetch_one(&app.roster.store.pool)
    .await
    .unwrap()
}

#[test]
fn every_server_function_and_route_declares_what_it_needs() {
    let declared: Vec<&str> = app::api::requirements().iter().map(|(p, _)| *p).collect();
    let registered: Vec<&str> = leptos::server_fn::axum::server_fn_paths()
        .map(|(p, _)| p)
        .collect();
    assert!(registered.len() >= 30, "server functions are registered");
    let mut unique = declared.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(
        unique.len(),
        declared.len(),
        "a server function is declared twice"
    );
    for path in &registered {
        assert!(
            app::api::requirement(path).is_some(),
            "server function {path} declares no requirement"
        );
    }
    for path in &declared {
        assert!(
            registered.contains(path),
            "{path} is declared but not registered"
        );
    }
    let pages = server::http::page_routes();
    assert!(pages.len() >= 10);
    for page in &pages {
        assert!(
            app::page_requirement(page.path()).is_some(),
            "page {} declares no requirement",
            page.path()
        );
    }
    for (path, _) in app::page_requirements() {
        assert!(
            pages.iter().any(|p| p.path() == path),
            "{path} is declared but not routed"
        );
    }
    let extra: Vec<&str> = server::http::extra_routes()
        .into_iter()
        .map(|(p, _, _)| p)
        .collect();
    assert_eq!(
        extra,
        [
            "/healthz",
            "/events",
            "/events/usage",
            "/gateway/check",
            "/metrics",
            "/usage/report.csv",
            "/audit/export",
            "/help/gateway"
        ]
    );
}

on_both!(an_undeclared_server_function_path_is_refused, |db| {
    let app = TestApp::new(db).await;
    let owner = app.member(OWNER).await;
    let r = app
        .post("no_such_function", &[])
        .session(&owner)
        .send()
        .await;
    assert_eq!(r.status, axum::http::StatusCode::FORBIDDEN);
    assert_eq!(r.error().as_deref(), Some(PERMISSION_DENIED));
});

on_both!(
    every_role_gets_exactly_what_the_matrix_declares_for_every_server_function,
    |db| {
        let app = TestApp::new(db).await;
        let owner = app.member(OWNER).await;
        let regions = default_regions();
        let finance = app
            .custom_role(&owner, "Finance", Template::Finance.grid())
            .await;
        let developer = app
            .custom_role(&owner, "Developer", Template::Developer.grid())
            .await;
        let mut actors = vec![(owner.clone(), Access::BuiltIn(BuiltIn::Owner))];
        for (email, key, access) in [
            (
                "admin@example.com",
                "admin".to_owned(),
                Access::BuiltIn(BuiltIn::Admin),
            ),
            (
                "member@example.com",
                "member".to_owned(),
                Access::BuiltIn(BuiltIn::Member),
            ),
            (
                "visitor@example.com",
                "visitor".to_owned(),
                Access::BuiltIn(BuiltIn::Visitor),
            ),
            (
                "finance@example.com",
                format!("custom-{finance}"),
                Access::Custom(CustomGrants::uniform(Template::Finance.grid(), &regions)),
            ),
            (
                "dev@example.com",
                format!("custom-{developer}"),
                Access::Custom(CustomGrants::uniform(Template::Developer.grid(), &regions)),
            ),
        ] {
            actors.push((app.joined(&owner, email, &key).await, access));
        }
        let mut checked = 0;
        for (path, requirement) in app::api::requirements() {
            let endpoint = path.trim_start_matches("/api/");
            // Public functions need nobody; leaving is tested on its own (it would end the
            // membership this loop relies on).
            if requirement == Requirement::Public || endpoint == "leave_organization" {
                continue;
            }
            for (session, access) in &actors {
                // Empty arguments: an allowed call fails on its input, never as a refusal.
                let r = if endpoint == "save_role" {
                    app.post_json(endpoint, json!({}))
                        .session(session)
                        .send()
                        .await
                } else {
                    app.post(endpoint, &[]).session(session).send().await
                };
                if requirement.met_by(access) {
                    assert!(!denied(&r), "{endpoint} refused {access:?}: {}", r.body);
                } else {
                    assert!(
                        denied(&r),
                        "{endpoint} allowed {access:?}: {} {}",
                        r.status,
                        r.body
                    );
                    assert_eq!(r.status, axum::http::StatusCode::FORBIDDEN);
                    assert_eq!(r.error().as_deref(), Some(PERMISSION_DENIED));
                }
                checked += 1;
            }
            // Nobody signed in: refused as "sign in".
            let r = app.post(endpoint, &[]).send().await;
            assert_eq!(r.app_error(), Some(AppError::Unauthorized), "{endpoint}");
        }
        assert!(checked > 100, "{checked}");
    }
);

on_both!(
    pages_show_the_permission_message_to_roles_without_access,
    |db| {
        let app = TestApp::new(db).await;
        let owner = app.member(OWNER).await;
        let finance = app
            .custom_role(&owner, "Finance", Template::Finance.grid())
            .await;
        let fiona = app
            .joined(&owner, "fiona@example.com", &format!("custom-{finance}"))
            .await;
        let member = app.joined(&owner, "m@example.com", "member").await;
        for (session, path, allowed) in [
            (&fiona, "/billing", true),
            (&fiona, "/team", false),
            (&fiona, "/roles", false),
            (&member, "/team", true),
            (&member, "/roles", true),
            (&member, "/billing", false),
            (&owner, "/billing", true),
        ] {
            let r = app.get(path).session(session).send().await;
            let shows = r.body.contains("you don&#x27;t have permission")
                || r.body.contains("you don't have permission");
            assert_eq!(shows, !allowed, "{path}: {}", r.status);
            assert_eq!(r.status.as_u16(), if allowed { 200 } else { 403 }, "{path}");
        }
        // The live stream follows Team Management: View.
        assert_eq!(app.get("/events").session(&fiona).send().await.status, 403);
    }
);

on_both!(a_role_change_takes_effect_on_the_very_next_request, |db| {
    let app = TestApp::new(db).await;
    let owner = app.member(OWNER).await;
    let finance = app
        .custom_role(&owner, "Finance", Template::Finance.grid())
        .await;
    let fiona = app
        .joined(&owner, "fiona@example.com", &format!("custom-{finance}"))
        .await;
    let admin = app.joined(&owner, "admin@example.com", "admin").await;
    let billing = |s: String| {
        let app = &app;
        async move { app.post("billing_overview", &[]).session(&s).send().await }
    };
    assert_eq!(billing(fiona.clone()).await.error(), None);
    // The Owner takes Billing away from the role: Fiona's next request is refused.
    let r = app
        .save_role(
            &owner,
            Some(finance),
            "Finance",
            &CustomGrants::uniform(
                grid(&[(Feature::UsageReports, Level::View, true)]),
                &default_regions(),
            ),
        )
        .await;
    assert_eq!(r.error(), None);
    assert!(denied(&billing(fiona.clone()).await));
    // Demoting an Admin ends their team management at once.
    assert_eq!(
        app.invite(&admin, "x@example.com", "member").await.error(),
        None
    );
    assert_eq!(
        app.act(&owner, "admin@example.com", "demote").await.error(),
        None
    );
    assert!(denied(&app.invite(&admin, "y@example.com", "member").await));
});

on_both!(
    escalation_admins_never_grant_or_touch_the_owner_or_other_admins,
    |db| {
        let app = TestApp::new(db).await;
        let owner = app.member(OWNER).await;
        let admin = app.joined(&owner, "admin@example.com", "admin").await;
        app.joined(&owner, "admin2@example.com", "admin").await;
        app.joined(&owner, "m@example.com", "member").await;
        // Admin → Owner: by invitation, by edit, by transfer.
        let r = app.invite(&admin, "new@example.com", "owner").await;
        assert_eq!(
            r.app_error().and_then(|e| e.for_field("role")).as_deref(),
            Some("Choose a role.")
        );
        let id = app.user_id("m@example.com").await.to_string();
        let edit = |role: &'static str, id: String| {
            let app = &app;
            let admin = admin.clone();
            async move {
                app.post(
                    "edit_member",
                    &[
                        ("user_id", id.as_str()),
                        ("first_name", "Grace"),
                        ("last_name", "Hopper"),
                        ("mobile", ""),
                        ("role", role),
                    ],
                )
                .session(&admin)
                .send()
                .await
            }
        };
        assert!(
            edit("owner", id.clone())
                .await
                .app_error()
                .unwrap()
                .for_field("role")
                .is_some()
        );
        let owner_id = app.user_id(OWNER).await.to_string();
        let r = app
            .post(
                "transfer_ownership",
                &[
                    ("user_id", owner_id.as_str()),
                    ("confirm", "Analytical Engines"),
                ],
            )
            .session(&admin)
            .send()
            .await;
        assert!(denied(&r));
        // Admin editing or demoting another Admin, or acting on the Owner.
        let other = app.user_id("admin2@example.com").await.to_string();
        assert!(denied(&edit("member", other).await));
        assert!(denied(
            &app.act(&admin, "admin2@example.com", "demote").await
        ));
        assert!(denied(&app.act(&admin, OWNER, "revoke").await));
        assert!(denied(&edit("member", owner_id).await));
        // Billing and regions are the Owner's.
        assert!(denied(
            &app.post("set_seat_limit", &[("seat_limit", "500")])
                .session(&admin)
                .send()
                .await
        ));
        assert!(denied(
            &app.post("add_region", &[("code", "APAC"), ("name", "Asia Pacific")])
                .session(&admin)
                .send()
                .await
        ));
        // An Admin may not create, give, change or delete a role granting Billing Full.
        let finance = CustomGrants::uniform(Template::Finance.grid(), &default_regions());
        assert!(denied(
            &app.save_role(&admin, None, "Finance", &finance).await
        ));
        let id = app
            .custom_role(&owner, "Finance", Template::Finance.grid())
            .await;
        assert!(denied(
            &app.invite(&admin, "f@example.com", &format!("custom-{id}"))
                .await
        ));
        assert!(denied(
            &app.save_role(&admin, Some(id), "Finance", &CustomGrants::default())
                .await
        ));
        let r = app
            .post(
                "delete_role",
                &[("role_id", id.to_string().as_str()), ("move_to", "")],
            )
            .session(&admin)
            .send()
            .await;
        assert!(denied(&r));
        assert_eq!(role_of(&app, OWNER).await.0, "owner");
        assert_eq!(role_of(&app, "admin2@example.com").await.0, "admin");
    }
);

on_both!(escalation_a_custom_role_never_grants_itself_more, |db| {
    let app = TestApp::new(db).await;
    let owner = app.member(OWNER).await;
    let lead_grid = grid(&[
        (Feature::TeamManagement, Level::Full, false),
        (Feature::Billing, Level::View, false),
        (Feature::Documentation, Level::Edit, false),
    ]);
    let lead = app.custom_role(&owner, "Team Lead", lead_grid).await;
    let finance = app
        .custom_role(&owner, "Finance", Template::Finance.grid())
        .await;
    let tl = app
        .joined(&owner, "lead@example.com", &format!("custom-{lead}"))
        .await;
    app.joined(&owner, "m@example.com", "member").await;
    let smaller = grid(&[(Feature::Documentation, Level::View, false)]);
    let reader = app.custom_role(&owner, "Reader", smaller).await;
    app.joined(&owner, "r@example.com", &format!("custom-{reader}"))
        .await;
    let regions = default_regions();
    // Its own role: not even unchanged, and certainly not with more.
    let mut more = lead_grid;
    more.set(Feature::Billing, Grant::new(Level::Full, true));
    for g in [lead_grid, more] {
        let r = app
            .save_role(
                &tl,
                Some(lead),
                "Team Lead",
                &CustomGrants::uniform(g, &regions),
            )
            .await;
        assert!(denied(&r));
    }
    // A new role with more than it holds.
    assert!(denied(
        &app.save_role(&tl, None, "Bigger", &CustomGrants::uniform(more, &regions))
            .await
    ));
    // Giving roles above its own: Admin, Finance.
    assert!(denied(&app.invite(&tl, "a@example.com", "admin").await));
    assert!(denied(
        &app.invite(&tl, "f@example.com", &format!("custom-{finance}"))
            .await
    ));
    assert!(denied(&app.act(&tl, "m@example.com", "promote").await));
    // Nor acting on a Member, whose role gives views the lead does not hold.
    assert!(denied(&app.act(&tl, "m@example.com", "revoke").await));
    // Within its own grants it works.
    let r = app
        .save_role(
            &tl,
            None,
            "Viewer",
            &CustomGrants::uniform(smaller, &regions),
        )
        .await;
    assert_eq!(r.error(), None, "{}", r.body);
    let viewer = r.json().as_i64().unwrap();
    assert_eq!(
        app.invite(&tl, "v@example.com", &format!("custom-{viewer}"))
            .await
            .error(),
        None
    );
    assert_eq!(app.act(&tl, "r@example.com", "revoke").await.error(), None);
});

on_both!(escalation_members_edit_only_their_own_profile, |db| {
    let app = TestApp::new(db).await;
    let owner = app.member(OWNER).await;
    let member = app.joined(&owner, "m@example.com", "member").await;
    app.joined(&owner, "other@example.com", "member").await;
    for target in ["other@example.com", OWNER] {
        let id = app.user_id(target).await.to_string();
        let r = app
            .post(
                "edit_member",
                &[
                    ("user_id", id.as_str()),
                    ("first_name", "Mallory"),
                    ("last_name", "X"),
                    ("mobile", ""),
                    ("role", "member"),
                ],
            )
            .session(&member)
            .send()
            .await;
        assert!(denied(&r));
    }
    let names: Vec<String> = sqlx::query_scalar("select first_name from users order by id")
        .fetch_all(&app.roster.store.pool)
        .await
        .unwrap();
    assert!(!names.contains(&"Mallory".to_owned()));
});

on_both!(
    escalation_ids_from_another_organization_are_not_found,
    |db| {
        let app = TestApp::new(db).await;
        let a = app.member(OWNER).await;
        let a_role = app
            .custom_role(&a, "Finance", Template::Finance.grid())
            .await;
        app.joined(&a, "admin@example.com", "admin").await;
        let b = app.member("bob@example.com").await;
        let empty = CustomGrants::default();
        assert_eq!(
            app.save_role(&b, Some(a_role), "Mine", &empty)
                .await
                .app_error(),
            Some(AppError::NotFound)
        );
        let r = app
            .post(
                "delete_role",
                &[
                    ("role_id", a_role.to_string().as_str()),
                    ("move_to", "member"),
                ],
            )
            .session(&b)
            .send()
            .await;
        assert_eq!(r.app_error(), Some(AppError::NotFound));
        let r = app
            .invite(&b, "x@example.com", &format!("custom-{a_role}"))
            .await;
        assert!(r.app_error().unwrap().for_field("role").is_some());
        let admin_id = app.user_id("admin@example.com").await.to_string();
        let r = app
            .post(
                "transfer_ownership",
                &[
                    ("user_id", admin_id.as_str()),
                    ("confirm", "Analytical Engines"),
                ],
            )
            .session(&b)
            .send()
            .await;
        assert_eq!(r.app_error(), Some(AppError::NotFound));
        assert_eq!(role_of(&app, OWNER).await.0, "owner");
        let names: Vec<String> = sqlx::query_scalar("select name from roles")
            .fetch_all(&app.roster.store.pool)
            .await
            .unwrap();
        assert_eq!(names, ["Finance"]);
    }
);

on_both!(
    custom_roles_are_created_changed_and_deleted_with_before_and_after,
    |db| {
        let app = TestApp::new(db).await;
        let owner = app.member(OWNER).await;
        let regions = default_regions();
        let id = app
            .custom_role(&owner, "Finance", Template::Finance.grid())
            .await;
        // Names: unique without regard to case, never a built-in one.
        let r = app
            .save_role(&owner, None, "FINANCE", &CustomGrants::default())
            .await;
        assert_eq!(
            r.app_error().unwrap().for_field("name").as_deref(),
            Some("A role named FINANCE already exists.")
        );
        let r = app
            .save_role(&owner, None, "Admin", &CustomGrants::default())
            .await;
        assert!(r.app_error().unwrap().for_field("name").is_some());
        // Per-region levels are stored as given.
        let mut grants = CustomGrants::uniform(Grid::default(), &regions);
        grants
            .regions
            .get_mut("US")
            .unwrap()
            .set(Feature::Documentation, Grant::new(Level::Edit, false));
        grants
            .regions
            .get_mut("EU")
            .unwrap()
            .set(Feature::Documentation, Grant::new(Level::View, false));
        let r = app.save_role(&owner, Some(id), "Docs", &grants).await;
        assert_eq!(r.error(), None);
        let detail = audit_detail(&app, "role.updated").await;
        assert_eq!(detail["before"]["name"], "Finance");
        assert_eq!(
            detail["before"]["grants"]["org"]["billing"],
            "Full + Download"
        );
        assert_eq!(detail["after"]["grants"]["US"]["documentation"], "Edit");
        assert_eq!(detail["after"]["grants"]["EU"]["documentation"], "View");
        let docs = app
            .joined(&owner, "d@example.com", &format!("custom-{id}"))
            .await;
        let me = app.me(&docs).await;
        assert_eq!(me["role"], "Docs");
        assert_eq!(
            me["access"]["Custom"]["regions"]["EU"],
            serde_json::to_value(grants.regions["EU"]).unwrap()
        );
        app.invite(&owner, "pending@example.com", &format!("custom-{id}"))
            .await;
        // Deleting a role in use needs somewhere for its members to go.
        let del = |to: &'static str| {
            let (app, owner) = (&app, owner.clone());
            async move {
                app.post(
                    "delete_role",
                    &[("role_id", id.to_string().as_str()), ("move_to", to)],
                )
                .session(&owner)
                .send()
                .await
            }
        };
        let r = del("").await;
        assert_eq!(
            r.app_error().unwrap().for_field("move_to").as_deref(),
            Some("2 people hold this role. Choose the role they move to.")
        );
        assert_eq!(del("visitor").await.error(), None);
        assert_eq!(
            role_of(&app, "d@example.com").await,
            ("visitor".to_owned(), None)
        );
        let pending: (String, Option<i64>) = sqlx::query_as(
            "select role, role_id from invitations where email = 'pending@example.com'",
        )
        .fetch_one(&app.roster.store.pool)
        .await
        .unwrap();
        assert_eq!(pending, ("visitor".to_owned(), None));
        assert_eq!(app.me(&docs).await["role"], "Visitor");
        let mails = app.emails_to("d@example.com").await;
        assert_eq!(
            mails.last().unwrap().0,
            "Your role in Analytical Engines is now Visitor"
        );
        let detail = audit_detail(&app, "role.deleted").await;
        assert_eq!(
            detail["after"],
            json!({ "members": 2, "moved_to": "visitor" })
        );
        let actions = app.audit_actions().await;
        assert!(actions.contains(&"role.created".to_owned()));
    }
);

on_both!(
    the_owner_adds_regions_where_custom_roles_start_with_nothing,
    |db| {
        let app = TestApp::new(db).await;
        let owner = app.member(OWNER).await;
        let id = app
            .custom_role(&owner, "Operator", Template::Operator.grid())
            .await;
        let add = |code: &'static str| {
            let (app, owner) = (&app, owner.clone());
            async move {
                app.post("add_region", &[("code", code), ("name", "Asia Pacific")])
                    .session(&owner)
                    .send()
                    .await
            }
        };
        app.clock.advance(1000);
        assert!(add("ap").await.error().is_none(), "codes are upper-cased");
        assert!(
            add("AP")
                .await
                .app_error()
                .unwrap()
                .for_field("code")
                .is_some()
        );
        assert!(
            add("A")
                .await
                .app_error()
                .unwrap()
                .for_field("code")
                .is_some()
        );
        let op = app
            .joined(&owner, "op@example.com", &format!("custom-{id}"))
            .await;
        let me = app.me(&op).await;
        let codes: Vec<&str> = me["regions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["code"].as_str().unwrap())
            .collect();
        assert_eq!(codes, ["US", "EU", "AP"]);
        assert!(me["access"]["Custom"]["regions"].get("AP").is_none());
        assert_eq!(
            audit_detail(&app, "region.added").await["after"]["code"],
            "AP"
        );
    }
);

on_both!(
    the_owner_hands_over_to_an_active_admin_and_both_are_emailed,
    |db| {
        let app = TestApp::new(db).await;
        let owner = app.member(OWNER).await;
        app.joined(&owner, "bob@example.com", "admin").await;
        app.joined(&owner, "m@example.com", "member").await;
        let transfer = |session: String, to: &'static str, confirm: &'static str| {
            let app = &app;
            async move {
                let id = app.user_id(to).await.to_string();
                app.post(
                    "transfer_ownership",
                    &[("user_id", id.as_str()), ("confirm", confirm)],
                )
                .session(&session)
                .send()
                .await
            }
        };
        let r = transfer(owner.clone(), "bob@example.com", "analytical engines").await;
        assert_eq!(
            r.app_error().unwrap().for_field("confirm").as_deref(),
            Some("Type the organization name, Analytical Engines, exactly to confirm.")
        );
        let r = transfer(owner.clone(), "m@example.com", "Analytical Engines").await;
        assert!(r.app_error().unwrap().for_field("user_id").is_some());
        let r = transfer(owner.clone(), OWNER, "Analytical Engines").await;
        assert!(r.app_error().unwrap().for_field("user_id").is_some());
        app.act(&owner, "bob@example.com", "revoke").await;
        let r = transfer(owner.clone(), "bob@example.com", "Analytical Engines").await;
        assert!(
            r.app_error().unwrap().for_field("user_id").is_some(),
            "a disabled Admin is not eligible"
        );
        app.act(&owner, "bob@example.com", "activate").await;
        // Revoke ended Bob's session: he signs in again.
        let admin = app.sign_in("bob@example.com", PASSWORD).await.session();
        assert_eq!(role_of(&app, OWNER).await.0, "owner");

        assert_eq!(
            transfer(owner.clone(), "bob@example.com", " Analytical Engines ")
                .await
                .error(),
            None
        );
        assert_eq!(role_of(&app, OWNER).await.0, "admin");
        assert_eq!(role_of(&app, "bob@example.com").await.0, "owner");
        for to in [OWNER, "bob@example.com"] {
            let mails = app.emails_to(to).await;
            assert!(
                mails
                    .iter()
                    .any(|(s, _)| s == "Grace Hopper now owns Analytical Engines"),
                "{to}: {mails:?}"
            );
        }
        let detail = audit_detail(&app, "ownership.transferred").await;
        assert_eq!(
            detail,
            json!({ "before": { "owner": OWNER }, "after": { "owner": "bob@example.com" } })
        );
        // The former Owner is an Admin from the next request: no second transfer, no acting on
        // the new Owner; the new Owner may hand it back.
        assert!(denied(
            &transfer(owner.clone(), "bob@example.com", "Analytical Engines").await
        ));
        assert!(denied(&app.act(&owner, "bob@example.com", "revoke").await));
        assert_eq!(
            transfer(admin.clone(), OWNER, "Analytical Engines")
                .await
                .error(),
            None
        );
        assert_eq!(role_of(&app, OWNER).await.0, "owner");
    }
);

on_both!(
    the_seat_limit_moves_up_or_down_but_never_below_usage,
    |db| {
        let app = TestApp::new(db).await;
        let owner = app.member(OWNER).await;
        app.joined(&owner, "m@example.com", "member").await;
        app.invite(&owner, "p@example.com", "member").await;
        let set = |limit: &'static str| {
            let (app, owner) = (&app, owner.clone());
            async move {
                app.post("set_seat_limit", &[("seat_limit", limit)])
                    .session(&owner)
                    .send()
                    .await
            }
        };
        assert_eq!(
            set("2")
                .await
                .app_error()
                .unwrap()
                .for_field("seat_limit")
                .as_deref(),
            Some(
                "3 seats are in use, so the limit cannot be lower. Remove members or cancel invitations first."
            )
        );
        assert!(
            set("lots")
                .await
                .app_error()
                .unwrap()
                .for_field("seat_limit")
                .is_some()
        );
        assert!(
            set("0")
                .await
                .app_error()
                .unwrap()
                .for_field("seat_limit")
                .is_some()
        );
        assert_eq!(set("3").await.error(), None);
        let billing = app
            .post("billing_overview", &[])
            .session(&owner)
            .send()
            .await
            .json();
        assert_eq!(billing["seats"], json!({ "used": 3, "limit": 3 }));
        assert_eq!(billing["can_change"], true);
        assert_eq!(
            audit_detail(&app, "billing.seat_limit_changed").await,
            json!({ "before": { "seat_limit": 50 }, "after": { "seat_limit": 3 } })
        );
        // At the new limit, inviting is refused with the upgrade prompt.
        let r = app.invite(&owner, "q@example.com", "member").await;
        assert!(
            r.error()
                .unwrap()
                .contains("Upgrade your plan on the Billing page")
        );
        assert_eq!(set("100").await.error(), None);
        assert_eq!(
            app.invite(&owner, "q@example.com", "member").await.error(),
            None
        );
        // Admins see billing but do not change it.
        let admin = app.joined(&owner, "a@example.com", "admin").await;
        let seen = app
            .post("billing_overview", &[])
            .session(&admin)
            .send()
            .await
            .json();
        assert_eq!(seen["can_change"], false);
    }
);
