//! The REST API (`/api/v1`): every operation for every kind of role as the requirement table
//! says, the error shape, and the attacks replayed: another organization's ids, a revoked
//! member's key, a demoted Admin's key, a session cookie instead of a key, a role that tries
//! to grow.

use crate::common::*;
use crate::gateway::key_of;
use app::authz::{Access, BuiltIn, CustomGrants, Feature, Grant, Grid, Level, default_regions};
use axum::http::Method;
use server::http::rest;

const OWNER: &str = "ada@example.com";

impl TestApp {
    /// A REST call with `key` as the bearer.
    pub fn rest(&self, method: &'static str, path: &str, key: &str) -> Call<'_> {
        let mut call = self.get(path);
        call.method = method;
        call.headers = vec![("authorization".into(), format!("Bearer {key}"))];
        call
    }

    /// A REST call with a JSON body.
    pub fn rest_json(
        &self,
        method: &'static str,
        path: &str,
        key: &str,
        body: serde_json::Value,
    ) -> Call<'_> {
        let mut call = self.rest(method, path, key);
        call.json = Some(body);
        call.header("content-type", "application/json")
    }
}

/// The error code of an API answer.
fn code(r: &Reply) -> String {
    r.json()["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {} {}", r.status, r.body))
        .to_owned()
}

fn ok(r: &Reply) -> serde_json::Value {
    assert!(r.status.is_success(), "{} {}", r.status, r.body);
    r.json()
}

/// An organization with a member of every kind: (role name, email, access), the Owner first.
/// "Readers" holds Team Management: View only; "Keyholders" holds API Keys: Edit and
/// Analytics: View, in every region.
async fn org(app: &TestApp) -> Vec<(&'static str, &'static str, Access)> {
    let owner = app.member(OWNER).await;
    app.joined(&owner, "admin@example.com", "admin").await;
    app.joined(&owner, "member@example.com", "member").await;
    app.joined(&owner, "visitor@example.com", "visitor").await;
    let mut readers = Grid::default();
    readers.set(Feature::TeamManagement, Grant::new(Level::View, false));
    let readers_id = app.custom_role(&owner, "Readers", readers).await;
    app.joined(
        &owner,
        "reader@example.com",
        &format!("custom-{readers_id}"),
    )
    .await;
    let mut keyholders = Grid::default();
    keyholders.set(Feature::ApiKeys, Grant::new(Level::Edit, false));
    keyholders.set(Feature::Analytics, Grant::new(Level::View, false));
    let keyholders_id = app.custom_role(&owner, "Keyholders", keyholders).await;
    app.joined(
        &owner,
        "keyholder@example.com",
        &format!("custom-{keyholders_id}"),
    )
    .await;
    let custom = |grid| Access::Custom(CustomGrants::uniform(grid, &default_regions()));
    vec![
        ("Owner", OWNER, Access::BuiltIn(BuiltIn::Owner)),
        (
            "Admin",
            "admin@example.com",
            Access::BuiltIn(BuiltIn::Admin),
        ),
        (
            "Member",
            "member@example.com",
            Access::BuiltIn(BuiltIn::Member),
        ),
        (
            "Visitor",
            "visitor@example.com",
            Access::BuiltIn(BuiltIn::Visitor),
        ),
        ("Readers", "reader@example.com", custom(readers)),
        ("Keyholders", "keyholder@example.com", custom(keyholders)),
    ]
}

fn method_name(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        _ => panic!("an API method the test does not know: {m}"),
    }
}

on_both!(
    every_operation_is_allowed_or_refused_as_the_table_says,
    |db| {
        let app = TestApp::new(db).await;
        let people = org(&app).await;
        for (role, email, access) in &people {
            let key = key_of(&app, email, None).await;
            for (method, path, requirement) in rest::operations() {
                // An id no organization has: an allowed call passes the door and finds nothing.
                let path = path.replace("{id}", "999999");
                let call = if method == Method::GET || method == Method::DELETE {
                    app.rest(method_name(&method), &path, &key)
                } else {
                    app.rest_json(method_name(&method), &path, &key, serde_json::json!({}))
                };
                let r = call.send().await;
                if requirement.met_by(access) {
                    assert!(
                        [200, 201, 204, 404, 409, 422].contains(&r.status.as_u16()),
                        "{role}: {method} {path} should pass the door: {} {}",
                        r.status,
                        r.body
                    );
                } else {
                    assert_eq!(r.status, 403, "{role}: {method} {path}: {}", r.body);
                    assert_eq!(code(&r), "permission_denied", "{role}: {method} {path}");
                    assert_eq!(
                        r.json()["error"]["message"],
                        app::error::PERMISSION_DENIED,
                        "{role}: {method} {path}"
                    );
                }
            }
        }
    }
);

on_both!(a_visitors_writes_change_nothing, |db| {
    let app = TestApp::new(db).await;
    org(&app).await;
    let key = key_of(&app, "visitor@example.com", None).await;
    let member = app.user_id("member@example.com").await;
    let before = app.audit_actions().await;
    for (method, path) in [
        ("POST", format!("/api/v1/members/{member}/revoke")),
        ("POST", format!("/api/v1/members/{member}/promote")),
        ("DELETE", format!("/api/v1/members/{member}")),
        ("GET", format!("/api/v1/members/{member}/api-key")),
        ("POST", format!("/api/v1/members/{member}/api-key/refresh")),
    ] {
        let r = app.rest(method, &path, &key).send().await;
        assert_eq!(r.status, 403, "{method} {path}: {}", r.body);
        assert_eq!(code(&r), "permission_denied");
    }
    let r = app
        .rest_json(
            "POST",
            "/api/v1/invitations",
            &key,
            serde_json::json!({"email": "x@example.com", "first_name": "X", "last_name": "Y", "role": "admin"}),
        )
        .send()
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(app.audit_actions().await, before);
});

on_both!(the_owner_runs_the_team_through_the_api, |db| {
    let app = TestApp::new(db).await;
    org(&app).await;
    let key = key_of(&app, OWNER, None).await;
    let me = ok(&app.rest("GET", "/api/v1/me", &key).send().await);
    assert_eq!(me["email"], OWNER);
    assert_eq!(me["role"], "owner");
    // The list: members only, paged, filtered, with ids as strings and RFC 3339 times.
    let list = ok(&app
        .rest("GET", "/api/v1/members?sort=email&order=desc", &key)
        .send()
        .await);
    assert_eq!(list["total"], 6);
    let emails: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["email"].as_str().unwrap())
        .collect();
    let mut sorted = emails.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(emails, sorted);
    assert!(list["data"][0]["id"].is_string());
    assert!(
        list["data"][0]["joined_at"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    assert!(list["next_cursor"].is_null());
    let admins = ok(&app
        .rest("GET", "/api/v1/members?role=admin", &key)
        .send()
        .await);
    assert_eq!(admins["total"], 1);
    // Invite, then the invitation is listed apart from the members.
    let r = app
        .rest_json(
            "POST",
            "/api/v1/invitations",
            &key,
            serde_json::json!({"email": "grace@example.com", "first_name": "Grace", "last_name": "Hopper", "role": "member"}),
        )
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let invitation = r.json();
    assert_eq!(invitation["status"], "pending");
    let invitations = ok(&app.rest("GET", "/api/v1/invitations", &key).send().await);
    assert_eq!(invitations["total"], 1);
    let members = ok(&app.rest("GET", "/api/v1/members", &key).send().await);
    assert_eq!(members["total"], 6);
    // The same address again conflicts with the invitation, and names the field.
    let r = app
        .rest_json(
            "POST",
            "/api/v1/invitations",
            &key,
            serde_json::json!({"email": "grace@example.com", "first_name": "Grace", "last_name": "Hopper", "role": "member"}),
        )
        .send()
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(code(&r), "conflict");
    assert_eq!(r.json()["error"]["field"], "email");
    // Bulk: a line per address.
    let r = app
        .rest_json(
            "POST",
            "/api/v1/invitations/bulk",
            &key,
            serde_json::json!({"addresses": ["alan@example.com", "not an address", "member@example.com"], "role": "visitor"}),
        )
        .send()
        .await;
    let report = ok(&r);
    assert_eq!(report["invited"], 1);
    let outcomes: Vec<&str> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["invited", "invalid", "already_member"]);
    // Cancel one.
    let id = invitation["id"].as_str().unwrap();
    let r = app
        .rest("DELETE", &format!("/api/v1/invitations/{id}"), &key)
        .send()
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    // Promote, demote, revoke, activate, edit, remove: each answers the member as they are.
    let member = app.user_id("member@example.com").await;
    let path = |action: &str| format!("/api/v1/members/{member}/{action}");
    let version = || async {
        sqlx::query_scalar::<_, i64>("select team_version from organizations order by id limit 1")
            .fetch_one(&app.roster.store.pool)
            .await
            .unwrap()
    };
    let before = version().await;
    let m = ok(&app.rest("POST", &path("promote"), &key).send().await);
    assert_eq!(m["role"], "admin");
    // Open Team pages hear of it as of a change made on the page.
    assert!(version().await > before);
    let m = ok(&app.rest("POST", &path("demote"), &key).send().await);
    assert_eq!(m["role"], "member");
    let m = ok(&app.rest("POST", &path("revoke"), &key).send().await);
    assert_eq!(m["status"], "disabled");
    let m = ok(&app.rest("POST", &path("activate"), &key).send().await);
    assert_eq!(m["status"], "active");
    let m = ok(&app
        .rest_json(
            "PATCH",
            &format!("/api/v1/members/{member}"),
            &key,
            serde_json::json!({"first_name": "Mina", "role": "visitor"}),
        )
        .send()
        .await);
    assert_eq!(
        (m["first_name"].as_str(), m["role"].as_str()),
        (Some("Mina"), Some("visitor"))
    );
    assert_eq!(m["last_name"], "Hopper");
    // Audit rows name the API.
    let via: Vec<(String, Option<String>)> = sqlx::query_as(
        "select action, via from audit_log where action like 'member.%' order by id",
    )
    .fetch_all(&app.roster.store.pool)
    .await
    .unwrap();
    assert!(!via.is_empty());
    assert!(
        via.iter().all(|(_, v)| v.as_deref() == Some("api")),
        "{via:?}"
    );
    let r = app
        .rest("DELETE", &format!("/api/v1/members/{member}"), &key)
        .send()
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = app
        .rest("GET", &format!("/api/v1/members/{member}"), &key)
        .send()
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(code(&r), "not_found");
});

on_both!(
    refresh_returns_the_new_key_once_and_the_old_one_stops,
    |db| {
        let app = TestApp::new(db).await;
        org(&app).await;
        let owner_key = key_of(&app, OWNER, None).await;
        let old = key_of(&app, "member@example.com", None).await;
        let member = app.user_id("member@example.com").await;
        let r = app
            .rest_json(
                "POST",
                &format!("/api/v1/members/{member}/api-key/refresh"),
                &owner_key,
                serde_json::json!({"overlap": "now"}),
            )
            .send()
            .await;
        let body = ok(&r);
        let new = body["key"].as_str().unwrap();
        assert_ne!(new, old);
        assert_eq!(new, key_of(&app, "member@example.com", None).await);
        // The member's own key now is the new one; the old one is refused.
        assert_eq!(
            ok(&app.rest("GET", "/api/v1/me", new).send().await)["email"],
            "member@example.com"
        );
        let r = app.rest("GET", "/api/v1/me", &old).send().await;
        assert_eq!(r.status, 401);
        assert_eq!(code(&r), "unauthorized");
        // Copy API Key gives the same, and is audited.
        let copy = ok(&app
            .rest(
                "GET",
                &format!("/api/v1/members/{member}/api-key"),
                &owner_key,
            )
            .send()
            .await);
        assert_eq!(copy["key"], new);
        assert!(
            app.audit_actions()
                .await
                .contains(&"api_key.copied".to_owned())
        );
        // A key id that is no longer current is a conflict.
        let r = app
            .rest_json(
                "POST",
                &format!("/api/v1/members/{member}/api-key/refresh"),
                &owner_key,
                serde_json::json!({"overlap": "1h", "key_id": "1"}),
            )
            .send()
            .await;
        assert_eq!(r.status, 409, "{}", r.body);
        assert_eq!(code(&r), "conflict");
    }
);

on_both!(another_organizations_ids_find_nothing, |db| {
    let app = TestApp::new(db).await;
    org(&app).await;
    // Mallory owns an organization of her own.
    app.member("mallory@evil.example").await;
    let mallory = key_of(&app, "mallory@evil.example", None).await;
    let victim = app.user_id("member@example.com").await;
    let before = app.audit_actions().await;
    for (method, path) in [
        ("GET", format!("/api/v1/members/{victim}")),
        ("PATCH", format!("/api/v1/members/{victim}")),
        ("POST", format!("/api/v1/members/{victim}/revoke")),
        ("POST", format!("/api/v1/members/{victim}/promote")),
        ("DELETE", format!("/api/v1/members/{victim}")),
        ("GET", format!("/api/v1/members/{victim}/api-key")),
        ("POST", format!("/api/v1/members/{victim}/api-key/refresh")),
    ] {
        let call = if method == "PATCH" {
            app.rest_json(
                method,
                &path,
                &mallory,
                serde_json::json!({"role": "admin"}),
            )
        } else {
            app.rest(method, &path, &mallory)
        };
        let r = call.send().await;
        assert_eq!(r.status, 404, "{method} {path}: {}", r.body);
    }
    // Her lists hold only her own organization.
    let list = ok(&app.rest("GET", "/api/v1/members", &mallory).send().await);
    assert_eq!(list["total"], 1);
    // A cursor naming the other organization's row gives nothing of it.
    let r = app
        .rest(
            "GET",
            &format!("/api/v1/members?cursor=a.m{victim}"),
            &mallory,
        )
        .send()
        .await;
    let page = ok(&r);
    assert!(
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["email"] == "mallory@evil.example")
    );
    // Her roles cannot be read or deleted by id in the other organization.
    let theirs: i64 = sqlx::query_scalar("select min(id) from roles where name = 'Readers'")
        .fetch_one(&app.roster.store.pool)
        .await
        .unwrap();
    for method in ["GET", "DELETE"] {
        let r = app
            .rest(method, &format!("/api/v1/roles/{theirs}"), &mallory)
            .send()
            .await;
        assert_eq!(r.status, 404, "{method}: {}", r.body);
    }
    assert_eq!(app.audit_actions().await, before);
});

on_both!(
    a_revoked_key_and_a_demoted_admin_lose_access_on_the_next_call,
    |db| {
        let app = TestApp::new(db).await;
        org(&app).await;
        let owner = key_of(&app, OWNER, None).await;
        let admin = key_of(&app, "admin@example.com", None).await;
        let admin_id = app.user_id("admin@example.com").await;
        let member_id = app.user_id("member@example.com").await;
        // The Admin may revoke the Member now.
        let r = app
            .rest(
                "POST",
                &format!("/api/v1/members/{member_id}/revoke"),
                &admin,
            )
            .send()
            .await;
        ok(&r);
        // The Owner demotes the Admin: the very next call is refused.
        ok(&app
            .rest(
                "POST",
                &format!("/api/v1/members/{admin_id}/demote"),
                &owner,
            )
            .send()
            .await);
        let r = app
            .rest(
                "POST",
                &format!("/api/v1/members/{member_id}/activate"),
                &admin,
            )
            .send()
            .await;
        assert_eq!(r.status, 403, "{}", r.body);
        assert_eq!(code(&r), "permission_denied");
        // The Owner revokes them: their key is refused at once.
        ok(&app
            .rest(
                "POST",
                &format!("/api/v1/members/{admin_id}/revoke"),
                &owner,
            )
            .send()
            .await);
        let r = app.rest("GET", "/api/v1/me", &admin).send().await;
        assert_eq!(r.status, 401, "{}", r.body);
        assert_eq!(code(&r), "unauthorized");
    }
);

on_both!(no_role_grows_through_the_api, |db| {
    let app = TestApp::new(db).await;
    org(&app).await;
    let admin = key_of(&app, "admin@example.com", None).await;
    let admin_id = app.user_id("admin@example.com").await;
    let owner_id = app.user_id(OWNER).await;
    // Not Owner by an edit, not by promoting themselves, and nothing on the Owner.
    let r = app
        .rest_json(
            "PATCH",
            &format!("/api/v1/members/{admin_id}"),
            &admin,
            serde_json::json!({"role": "owner"}),
        )
        .send()
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.json()["error"]["field"], "role");
    let r = app
        .rest(
            "POST",
            &format!("/api/v1/members/{admin_id}/promote"),
            &admin,
        )
        .send()
        .await;
    assert!(
        r.status == 403 || r.status == 409,
        "{} {}",
        r.status,
        r.body
    );
    for action in ["demote", "revoke"] {
        let r = app
            .rest(
                "POST",
                &format!("/api/v1/members/{owner_id}/{action}"),
                &admin,
            )
            .send()
            .await;
        assert!(
            r.status == 403 || r.status == 409,
            "{action}: {} {}",
            r.status,
            r.body
        );
    }
    let r = app
        .rest(
            "GET",
            &format!("/api/v1/members/{owner_id}/api-key"),
            &admin,
        )
        .send()
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    // Keyholders (API Keys: Edit) cannot make a role that holds more than theirs.
    let keyholder = key_of(&app, "keyholder@example.com", None).await;
    let r = app
        .rest_json(
            "POST",
            "/api/v1/roles",
            &keyholder,
            serde_json::json!({"name": "Everything", "grants": {"organization": {"team": {"level": "full"}}}}),
        )
        .send()
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    // Admins cannot make one beyond theirs either (Billing: Full is the Owner's).
    let r = app
        .rest_json(
            "POST",
            "/api/v1/roles",
            &admin,
            serde_json::json!({"name": "Biller", "grants": {"organization": {"billing": {"level": "full"}}}}),
        )
        .send()
        .await;
    assert!(
        r.status == 403 || r.status == 422,
        "{} {}",
        r.status,
        r.body
    );
});

on_both!(keys_alone_authenticate_and_errors_keep_one_shape, |db| {
    let app = TestApp::new(db).await;
    let session = app.member(OWNER).await;
    // A session cookie is not a credential here.
    let r = app.get("/api/v1/me").session(&session).send().await;
    assert_eq!(r.status, 401);
    assert_eq!(code(&r), "unauthorized");
    for bad in [
        "",
        "Bearer",
        "Bearer rst_nope",
        "Basic abc",
        "Bearer rst_000000000000000000000000000000000000",
    ] {
        let mut call = app.get("/api/v1/me");
        call.headers = vec![("authorization".into(), bad.into())];
        let r = call.send().await;
        assert_eq!(r.status, 401, "{bad:?}: {}", r.body);
        assert_eq!(code(&r), "unauthorized");
    }
    // A well-formed key that was never issued.
    let never = server::auth::api_key::ApiKey::generate();
    let r = app.rest("GET", "/api/v1/me", never.expose()).send().await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(code(&r), "unauthorized");
    let key = key_of(&app, OWNER, None).await;
    // Unknown routes and methods, bad ids, bad JSON and bad filters: the same shape.
    let r = app.rest("GET", "/api/v1/nothing-here", &key).send().await;
    assert_eq!(r.status, 404);
    assert_eq!(code(&r), "not_found");
    let r = app.rest("GET", "/api/v1/members/abc", &key).send().await;
    assert_eq!(r.status, 404);
    assert_eq!(code(&r), "not_found");
    let r = app
        .rest("GET", "/api/v1/members?status=gone", &key)
        .send()
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(code(&r), "validation_failed");
    let mut call = app.rest("POST", "/api/v1/invitations", &key);
    call.json = Some(serde_json::json!(null));
    let r = call.header("content-type", "application/json").send().await;
    assert_eq!(r.status, 422, "{}", r.body);
    let r = app
        .rest_json(
            "POST",
            "/api/v1/invitations",
            &key,
            serde_json::json!({"email": "x"}),
        )
        .send()
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(!r.body.contains("serde"), "{}", r.body);
    // No CORS grant to browsers of other sites.
    let r = app
        .rest("GET", "/api/v1/me", &key)
        .header("origin", "https://evil.example")
        .send()
        .await;
    assert!(r.headers.get("access-control-allow-origin").is_none());
    // The document is served.
    let r = app.get("/api/v1/openapi.json").send().await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["openapi"], "3.1.0");
});

/// The committed document is the code's: an API change shows in review.
#[test]
fn the_committed_openapi_document_is_the_codes() {
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.json"))
            .unwrap_or_default();
    let generated = rest::document_json();
    if committed != generated && std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(
            concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.json"),
            &generated,
        )
        .unwrap();
        return;
    }
    assert!(
        committed == generated,
        "docs/openapi.json differs from the code's document: run `UPDATE_OPENAPI=1 cargo test -p server --test integration openapi` and commit it"
    );
}

/// Every operation of the document has a declared requirement, and every declaration an
/// operation.
#[test]
fn every_operation_declares_what_it_needs() {
    let doc = serde_json::to_value(rest::document()).unwrap();
    let mut documented = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if ["get", "post", "patch", "delete", "put"].contains(&method.as_str()) {
                documented.push((method.to_uppercase(), path.clone()));
                assert!(
                    op["responses"]["401"].is_object(),
                    "{method} {path}: no 401"
                );
                assert!(
                    op["responses"]["403"].is_object(),
                    "{method} {path}: no 403"
                );
                assert!(
                    op["summary"].is_string() || op["description"].is_string(),
                    "{method} {path}: undescribed"
                );
            }
        }
    }
    let mut declared: Vec<(String, String)> = rest::operations()
        .into_iter()
        .map(|(m, p, _)| (m.to_string(), p.to_owned()))
        .collect();
    documented.sort();
    declared.sort();
    assert_eq!(documented, declared);
}

on_both!(
    the_call_limit_holds_across_instances_and_says_when_to_retry,
    |db| {
        let app = TestApp::with(db, |c| c.api_calls_per_key_per_minute = Some(3)).await;
        app.member(OWNER).await;
        let key = key_of(&app, OWNER, None).await;
        // A second instance on the same database: on PostgreSQL, as a deployment runs
        // several; SQLite has one instance, so there the same one answers.
        let other = match db {
            Db::Postgres => {
                server::build(app.config.clone(), app.options.clone(), app.clock.clone())
                    .await
                    .unwrap()
                    .router
            }
            Db::Sqlite => app.roster.router.clone(),
        };
        let on_other = |key: &str| {
            let req = axum::http::Request::builder()
                .uri("/api/v1/me")
                .header("authorization", format!("Bearer {key}"))
                .body(axum::body::Body::empty())
                .unwrap();
            let router = other.clone();
            async move {
                use tower::ServiceExt;
                router.oneshot(req).await.unwrap()
            }
        };
        let first = app.rest("GET", "/api/v1/me", &key).send().await;
        assert_eq!(first.status, 200);
        assert_eq!(first.headers["ratelimit-limit"], "3");
        assert_eq!(first.headers["ratelimit-remaining"], "2");
        assert_eq!(on_other(&key).await.status(), 200);
        assert_eq!(app.rest("GET", "/api/v1/me", &key).send().await.status, 200);
        let refused = on_other(&key).await;
        assert_eq!(refused.status(), 429);
        assert_eq!(refused.headers()["ratelimit-remaining"], "0");
        let wait: u64 = refused.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&wait), "{wait}");
        let r = app.rest("GET", "/api/v1/me", &key).send().await;
        assert_eq!(r.status, 429);
        assert_eq!(code(&r), "rate_limited");
        // The next minute counts afresh.
        app.clock.advance(60_000);
        assert_eq!(app.rest("GET", "/api/v1/me", &key).send().await.status, 200);
    }
);

on_both!(an_idempotency_key_gives_the_first_answer_again, |db| {
    let app = TestApp::new(db).await;
    org(&app).await;
    let key = key_of(&app, OWNER, None).await;
    let invite = |idem: &'static str, email: &'static str| {
        app.rest_json(
            "POST",
            "/api/v1/invitations",
            &key,
            serde_json::json!({"email": email, "first_name": "Grace", "last_name": "Hopper", "role": "member"}),
        )
        .header("idempotency-key", idem)
    };
    let first = invite("onboard-grace-1", "grace@example.com").send().await;
    assert_eq!(first.status, 201, "{}", first.body);
    let again = invite("onboard-grace-1", "grace@example.com").send().await;
    assert_eq!(again.status, 201, "{}", again.body);
    assert_eq!(again.body, first.body);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(app.emails_to("grace@example.com").await.len(), 1);
    let sent = app
        .audit_actions()
        .await
        .into_iter()
        .filter(|a| a == "invitation.sent")
        .count();
    // Five joined through invitations in `org`, and Grace once.
    assert_eq!(sent, 6);
    // The same key with another request is refused, and does nothing.
    let other = invite("onboard-grace-1", "alan@example.com").send().await;
    assert_eq!(other.status, 409, "{}", other.body);
    assert_eq!(other.json()["error"]["field"], "Idempotency-Key");
    assert!(app.emails_to("alan@example.com").await.is_empty());
    // Without a key, a repeat is a new request (refused: Grace is invited already).
    let r = app
        .rest_json(
            "POST",
            "/api/v1/invitations",
            &key,
            serde_json::json!({"email": "grace@example.com", "first_name": "Grace", "last_name": "Hopper", "role": "member"}),
        )
        .send()
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["error"]["field"], "email");
    // A refresh repeated hands out the one new key, once made.
    let member = app.user_id("member@example.com").await;
    let refresh = || {
        app.rest_json(
            "POST",
            &format!("/api/v1/members/{member}/api-key/refresh"),
            &key,
            serde_json::json!({"overlap": "1h"}),
        )
        .header("idempotency-key", "rotate-member")
    };
    let a = ok(&refresh().send().await);
    let b = ok(&refresh().send().await);
    assert_eq!(a["key"], b["key"]);
    let refreshed = app
        .audit_actions()
        .await
        .into_iter()
        .filter(|a| a == "api_key.refreshed")
        .count();
    assert_eq!(refreshed, 1);
    // The key itself is not kept: the replay fetched it again, checked and audited.
    let kept: Vec<String> = sqlx::query_scalar("select body from api_idempotency")
        .fetch_all(&app.roster.store.pool)
        .await
        .unwrap();
    assert!(kept.iter().all(|b| !b.contains(a["key"].as_str().unwrap())));
    assert!(
        app.audit_actions()
            .await
            .contains(&"api_key.copied".to_owned())
    );
    // Refreshed again since: the replay's key is no longer current, and is not handed out.
    ok(&app
        .rest_json(
            "POST",
            &format!("/api/v1/members/{member}/api-key/refresh"),
            &key,
            serde_json::json!({"overlap": "now"}),
        )
        .send()
        .await);
    let r = refresh().send().await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(code(&r), "conflict");
    // Another member's key with the same Idempotency-Key is a request of its own.
    let admin = key_of(&app, "admin@example.com", None).await;
    let r = app
        .rest_json(
            "POST",
            "/api/v1/invitations",
            &admin,
            serde_json::json!({"email": "grace@example.com", "first_name": "Grace", "last_name": "Hopper", "role": "member"}),
        )
        .header("idempotency-key", "onboard-grace-1")
        .send()
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.headers.get("idempotent-replayed").is_none());
    // After a day the key may be used again.
    app.clock.advance(24 * 3_600_000 + 1);
    let r = invite("onboard-grace-1", "alan@example.com").send().await;
    assert_eq!(r.status, 201, "{}", r.body);
});

on_both!(a_replaced_key_works_on_but_hands_out_no_key, |db| {
    let app = TestApp::new(db).await;
    org(&app).await;
    let old = key_of(&app, OWNER, None).await;
    let owner_id = app.user_id(OWNER).await;
    let member_id = app.user_id("member@example.com").await;
    // The Owner rotates their own key with a day of overlap.
    let new = ok(&app
        .rest_json(
            "POST",
            &format!("/api/v1/members/{owner_id}/api-key/refresh"),
            &old,
            serde_json::json!({"overlap": "24h"}),
        )
        .send()
        .await)["key"]
        .as_str()
        .unwrap()
        .to_owned();
    // The old key keeps working for the team, as integrations need through the overlap...
    assert_eq!(
        ok(&app.rest("GET", "/api/v1/me", &old).send().await)["email"],
        OWNER
    );
    ok(&app.rest("GET", "/api/v1/members", &old).send().await);
    // ...but a leaked old key cannot read or replace the new one, nor anyone's.
    for (method, path) in [
        ("GET", format!("/api/v1/members/{owner_id}/api-key")),
        (
            "POST",
            format!("/api/v1/members/{owner_id}/api-key/refresh"),
        ),
        ("GET", format!("/api/v1/members/{member_id}/api-key")),
        (
            "POST",
            format!("/api/v1/members/{member_id}/api-key/refresh"),
        ),
    ] {
        let r = app.rest(method, &path, &old).send().await;
        assert_eq!(r.status, 403, "{method} {path}: {}", r.body);
        assert_eq!(code(&r), "key_replaced");
    }
    assert_eq!(key_of(&app, OWNER, None).await, new);
    ok(&app
        .rest("GET", &format!("/api/v1/members/{member_id}/api-key"), &new)
        .send()
        .await);
});

on_both!(
    an_idempotency_claim_is_recorded_or_let_go_by_its_request_only,
    |db| {
        use server::db::api_requests::{Claim, claim, finish, release};
        let app = TestApp::new(db).await;
        let mut conn = app.roster.store.pool.acquire().await.unwrap();
        let day = 24 * 3_600_000;
        let Claim::First(mine) = claim(&mut conn, 7, "k", "h", START, day).await.unwrap() else {
            panic!("the first claim runs");
        };
        assert_eq!(
            claim(&mut conn, 7, "k", "h", START, day).await.unwrap(),
            Claim::Running
        );
        assert_eq!(
            claim(&mut conn, 7, "k", "other", START, day).await.unwrap(),
            Claim::Mismatch
        );
        // A request that took the key over cannot record into, or let go of, another's claim.
        finish(&mut conn, 7, "k", "not-mine", 201, "{}")
            .await
            .unwrap();
        release(&mut conn, 7, "k", "not-mine").await.unwrap();
        assert_eq!(
            claim(&mut conn, 7, "k", "h", START, day).await.unwrap(),
            Claim::Running
        );
        finish(&mut conn, 7, "k", &mine, 201, "{\"id\":\"1\"}")
            .await
            .unwrap();
        assert_eq!(
            claim(&mut conn, 7, "k", "h", START, day).await.unwrap(),
            Claim::Answered(201, "{\"id\":\"1\"}".into())
        );
        // Another API key's same Idempotency-Key is its own.
        assert!(matches!(
            claim(&mut conn, 8, "k", "h", START, day).await.unwrap(),
            Claim::First(_)
        ));
        // A claim whose request died (no answer within ten minutes) may be taken again.
        let Claim::First(_) = claim(&mut conn, 7, "dies", "h", START, day).await.unwrap() else {
            panic!();
        };
        let later = START + 10 * 60_000;
        assert!(matches!(
            claim(&mut conn, 7, "dies", "h", later, day).await.unwrap(),
            Claim::First(_)
        ));
    }
);

on_both!(terms_not_accepted_refuse_the_api_until_accepted, |db| {
    let app = TestApp::new(db).await;
    app.member(OWNER).await;
    let key = key_of(&app, OWNER, None).await;
    // New terms (as after an upgrade, which restarts the server): not accepted yet.
    sqlx::query("update users set terms_version = 'older'")
        .execute(&app.roster.store.pool)
        .await
        .unwrap();
    let session = app.sign_in(OWNER, PASSWORD).await.session();
    for _ in 0..2 {
        let r = app.rest("GET", "/api/v1/me", &key).send().await;
        assert_eq!(r.status, 403, "{}", r.body);
        assert_eq!(code(&r), "terms_not_accepted");
    }
    // Accepted on the page: the very next call goes through.
    app.accept_terms(&session).await;
    ok(&app.rest("GET", "/api/v1/me", &key).send().await);
});

on_both!(
    the_audit_log_reads_through_the_api_its_own_organization_only,
    |db| {
        let app = TestApp::new(db).await;
        let owner = app.member(OWNER).await;
        app.joined(&owner, "grace@example.com", "member").await;
        let key = key_of(&app, OWNER, None).await;
        let grace = app.user_id("grace@example.com").await;
        ok(&app
            .rest("POST", &format!("/api/v1/members/{grace}/promote"), &key)
            .header("user-agent", "hr-sync/2.1")
            .send()
            .await);
        let page = ok(&app
            .rest("GET", "/api/v1/audit-log?action=member", &key)
            .send()
            .await);
        let first = &page["data"][0];
        assert_eq!(first["action"], "member.promote");
        assert_eq!(first["via"], "api");
        assert_eq!(first["actor"]["email"], OWNER);
        assert_eq!(first["target"], "grace@example.com");
        assert_eq!(first["change"], "role: member → admin");
        assert_eq!(first["user_agent"], "hr-sync/2.1");
        assert!(page["next_cursor"].is_null());
        // Paging: every entry once, through the cursors.
        let mut seen = Vec::new();
        let mut path = "/api/v1/audit-log".to_owned();
        loop {
            let p = ok(&app.rest("GET", &path, &key).send().await);
            seen.extend(
                p["data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["id"].clone()),
            );
            match p["next_cursor"].as_str() {
                Some(c) => path = format!("/api/v1/audit-log?cursor={c}"),
                None => break,
            }
        }
        let stored: i64 =
            sqlx::query_scalar("select count(*) from audit_log where org_id is not null")
                .fetch_one(&app.roster.store.pool)
                .await
                .unwrap();
        assert_eq!(seen.len() as i64, stored);
        // Bad filters: named.
        for bad in ["to=", "from=yesterday", "actor=", "actor=0"] {
            let r = app
                .rest("GET", &format!("/api/v1/audit-log?{bad}"), &key)
                .send()
                .await;
            assert_eq!(r.status, 422, "{bad}: {}", r.body);
        }
        let r = app
            .rest("GET", "/api/v1/audit-log?cursor=nope&action=x", &key)
            .send()
            .await;
        assert_eq!(r.status, 422, "{}", r.body);
        let body = r.json();
        let fields: Vec<&str> = body["error"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["field"].as_str().unwrap())
            .collect();
        assert!(
            fields.contains(&"cursor") && fields.contains(&"action"),
            "{}",
            r.body
        );
        // Another organization's Owner reads only theirs; a Member reads nothing.
        app.member("eve@evil.example").await;
        let eve = key_of(&app, "eve@evil.example", None).await;
        let theirs = ok(&app.rest("GET", "/api/v1/audit-log", &eve).send().await);
        assert!(
            theirs["data"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["actor"]["email"] == "eve@evil.example")
        );
        let r = app
            .rest("GET", &format!("/api/v1/audit-log?actor={grace}"), &eve)
            .send()
            .await;
        assert_eq!(r.status, 422);
        let member = key_of(&app, "grace@example.com", None).await;
        app.act(&owner, "grace@example.com", "demote").await;
        let r = app.rest("GET", "/api/v1/audit-log", &member).send().await;
        assert_eq!(r.status, 403);
    }
);
