//! API keys and `GET /gateway/check`: who gets a key, every answer the check gives, and the
//! attacks it must refuse, each replayed.

use crate::common::*;
use app::authz::{CustomGrants, Feature, Grant, Grid, Level, Template, default_regions};
use app::error::PERMISSION_DENIED;
use server::auth::api_key::ApiKey;
use server::auth::secret::SecretSource;
use sqlx::Row;
use std::sync::atomic::Ordering;
use tracing::instrument::WithSubscriber;

const OWNER: &str = "ada@example.com";

/// A request to the check: the key as a bearer token, a feature and the original method.
pub(crate) struct Check<'a> {
    key: Option<&'a str>,
    headers: Vec<(&'a str, &'a str)>,
}

pub(crate) fn check(key: &str) -> Check<'_> {
    Check {
        key: Some(key),
        headers: vec![
            ("x-roster-feature", "products"),
            ("x-original-method", "GET"),
        ],
    }
}

impl<'a> Check<'a> {
    pub(crate) fn with(mut self, name: &'a str, value: &'a str) -> Self {
        self.headers.retain(|(n, _)| *n != name);
        self.headers.push((name, value));
        self
    }

    fn without(mut self, name: &str) -> Self {
        self.headers.retain(|(n, _)| *n != name);
        self
    }

    pub(crate) async fn send(self, app: &TestApp) -> Reply {
        let mut call = app.get("/gateway/check");
        if let Some(key) = self.key {
            call = call.header("authorization", &format!("Bearer {key}"));
        }
        for (name, value) in self.headers {
            call = call.header(name, value);
        }
        let r = call.send().await;
        assert!(
            [204, 401, 403].contains(&r.status.as_u16()),
            "the check answered {}: {}",
            r.status,
            r.body
        );
        r
    }
}

pub(crate) fn header<'r>(r: &'r Reply, name: &str) -> &'r str {
    r.headers
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or("")
}

#[track_caller]
pub(crate) fn allowed(r: &Reply) {
    assert_eq!(r.status, 204, "{} {}", header(r, "x-roster-reason"), r.body);
    assert!(r.body.is_empty());
}

/// A refusal: its status, `X-Roster-Reason`, JSON body and, for 401, `WWW-Authenticate`.
#[track_caller]
pub(crate) fn refused(r: &Reply, status: u16, reason: &str) {
    assert_eq!(
        (r.status.as_u16(), header(r, "x-roster-reason")),
        (status, reason),
        "{}",
        r.body
    );
    let body = r.json();
    assert_eq!(body["reason"], reason);
    let message = body["message"].as_str().unwrap();
    if reason == "rate_limited" {
        assert!(message.starts_with("Too many calls"), "{message}");
    } else if status == 403 {
        assert_eq!(message, PERMISSION_DENIED);
    } else {
        assert!(!message.is_empty());
        assert_eq!(header(r, "www-authenticate"), "Bearer");
    }
    assert!(r.headers.get("x-roster-user").is_none());
}

/// The current API key of `email` in `org_id` (the first organization when `None`), opened
/// from its sealed copy.
pub(crate) async fn key_of(app: &TestApp, email: &str, org_id: Option<i64>) -> String {
    let row = sqlx::query(
        "select k.id, k.org_id, k.sealed from api_keys k join users u on u.id = k.user_id \
         where u.email = $1 and k.expires_at is null and ($2 = 0 or k.org_id = $2) order by k.org_id",
    )
    .bind(email)
    .bind(org_id.unwrap_or(0))
    .fetch_all(&app.roster.store.pool)
    .await
    .unwrap();
    let row = row.first().unwrap_or_else(|| panic!("{email} has no key"));
    let (id, org, sealed): (i64, i64, String) = (row.get(0), row.get(1), row.get(2));
    app.roster
        .gateway
        .keys
        .open(&sealed, org, id)
        .expect("the sealed copy opens")
        .expose()
        .to_owned()
}

pub(crate) async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(&app.roster.store.pool)
        .await
        .unwrap()
}

pub(crate) async fn org_of(app: &TestApp, email: &str) -> i64 {
    sqlx::query_scalar("select default_org_id from users where email = $1")
        .bind(email)
        .fetch_one(&app.roster.store.pool)
        .await
        .unwrap()
}

/// An Owner who signed up, a Member and a Visitor who joined: their sessions.
async fn team(app: &TestApp) -> String {
    let owner = app.member(OWNER).await;
    app.joined(&owner, "member@example.com", "member").await;
    app.joined(&owner, "visitor@example.com", "visitor").await;
    owner
}

on_both!(
    the_owner_gets_a_key_at_sign_up_and_an_allowed_call_carries_the_identity,
    |db| {
        let app = TestApp::new(db).await;
        app.sign_up(OWNER).await;
        assert_eq!(count(&app, "select count(*) from api_keys").await, 1);
        let key = key_of(&app, OWNER, None).await;
        assert!(ApiKey::parse(&key).is_ok());
        let r = check(&key)
            .with("x-original-method", "DELETE")
            .send(&app)
            .await;
        allowed(&r);
        let (user, org) = (app.user_id(OWNER).await, org_of(&app, OWNER).await);
        assert_eq!(header(&r, "x-roster-user"), user.to_string());
        assert_eq!(header(&r, "x-roster-email"), OWNER);
        assert_eq!(header(&r, "x-roster-org"), org.to_string());
        assert_eq!(header(&r, "x-roster-role"), "owner");
        assert_eq!(header(&r, "cache-control"), "no-store");
        // The same key in X-API-Key, and twice alike, is the same call.
        let r = app
            .get("/gateway/check")
            .header("x-api-key", &key)
            .header("authorization", &format!("bearer {key}"))
            .header("x-roster-feature", "billing")
            .header("x-roster-need", "download")
            .send()
            .await;
        allowed(&r);
        // A browser's cross-site labels and HEAD change nothing: the check is a read.
        let mut head = app
            .get("/gateway/check")
            .header("x-api-key", &key)
            .header("sec-fetch-site", "cross-site")
            .header("origin", "https://elsewhere.example")
            .header("x-roster-feature", "products")
            .header("x-original-method", "GET");
        head.method = "HEAD";
        allowed(&head.send().await);
        // Stored: the display prefix, a keyed hash (not a plain SHA-256) and a sealed copy.
        let row = sqlx::query("select prefix, lookup_hash, sealed from api_keys")
            .fetch_one(&app.roster.store.pool)
            .await
            .unwrap();
        let (prefix, hash, sealed): (String, String, String) = (row.get(0), row.get(1), row.get(2));
        assert_eq!(prefix, key[..7]);
        assert_eq!(hash.len(), 64);
        assert_ne!(hash, server::auth::token::hash(&key));
        assert!(!sealed.contains(&key[4..]));
    }
);

on_both!(every_refusal_has_its_status_reason_and_message, |db| {
    let app = TestApp::new(db).await;
    team(&app).await;
    let key = key_of(&app, "member@example.com", None).await;
    // No key, or one only in the URL: missing.
    let r = Check {
        key: None,
        headers: vec![("x-roster-feature", "products")],
    }
    .send(&app)
    .await;
    refused(&r, 401, "missing_key");
    let r = app
        .get(&format!("/gateway/check?api_key={key}&key={key}"))
        .header("x-roster-feature", "products")
        .header("x-original-method", "GET")
        .send()
        .await;
    refused(&r, 401, "missing_key");
    // Malformed: not a key, a typo caught by the checksum, another scheme, two keys.
    let mut typo = key.clone().into_bytes();
    typo[10] = if typo[10] == b'a' { b'b' } else { b'a' };
    let typo = String::from_utf8(typo).unwrap();
    let other = key_of(&app, "visitor@example.com", None).await;
    for bad in ["rst_abc", "", typo.as_str(), &key[..key.len() - 1]] {
        refused(&check(bad).send(&app).await, 401, "malformed_key");
    }
    let r = app
        .get("/gateway/check")
        .header("authorization", &format!("Basic {key}"))
        .header("x-roster-feature", "products")
        .header("x-original-method", "GET")
        .send()
        .await;
    refused(&r, 401, "malformed_key");
    let r = app
        .get("/gateway/check")
        .header("authorization", &format!("Bearer {key}"))
        .header("x-api-key", &other)
        .header("x-roster-feature", "products")
        .header("x-original-method", "GET")
        .send()
        .await;
    refused(&r, 401, "malformed_key");
    // Well formed but never issued.
    let unknown = ApiKey::generate();
    refused(
        &check(unknown.expose()).send(&app).await,
        401,
        "unknown_key",
    );
    // What the member may not do: an unknown or missing feature, need or method, a level or
    // Download the role lacks, a region the organization does not have.
    allowed(&check(&key).send(&app).await);
    for r in [
        check(&key)
            .with("x-roster-feature", "rockets")
            .send(&app)
            .await,
        check(&key).without("x-roster-feature").send(&app).await,
        check(&key).without("x-original-method").send(&app).await,
        check(&key)
            .with("x-original-method", "PROPFIND")
            .send(&app)
            .await,
        check(&key).with("x-roster-need", "admin").send(&app).await,
        check(&key)
            .with("x-original-method", "DELETE")
            .send(&app)
            .await,
        check(&key)
            .with("x-roster-feature", "audit_logs")
            .send(&app)
            .await,
        check(&key)
            .with("x-roster-feature", "analytics")
            .with("x-roster-need", "download")
            .send(&app)
            .await,
    ] {
        refused(&r, 403, "insufficient_permission");
    }
    let r = check(&key).with("x-roster-region", "MARS").send(&app).await;
    refused(&r, 403, "region_denied");
    // A key past its end; a key still within it works.
    let now = app.clock.now();
    let user = app.user_id("member@example.com").await;
    for (ends, works) in [(now + 1000, true), (now, false)] {
        sqlx::query("update api_keys set expires_at = $1 where user_id = $2")
            .bind(ends)
            .bind(user)
            .execute(&app.roster.store.pool)
            .await
            .unwrap();
        // A write behind Roster's back: its caches must be told.
        app.roster.gateway.watch.everything_changed();
        let r = check(&key).send(&app).await;
        if works {
            allowed(&r);
        } else {
            refused(&r, 401, "key_expired");
        }
    }
});

on_both!(the_need_follows_the_method_unless_named, |db| {
    let app = TestApp::new(db).await;
    team(&app).await;
    let member = key_of(&app, "member@example.com", None).await;
    let visitor = key_of(&app, "visitor@example.com", None).await;
    let owner = key_of(&app, OWNER, None).await;
    // Members use Products (Edit) but do not delete; Visitors only look.
    for method in ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH"] {
        allowed(
            &check(&member)
                .with("x-original-method", method)
                .send(&app)
                .await,
        );
    }
    let r = check(&member)
        .with("x-original-method", "DELETE")
        .send(&app)
        .await;
    refused(&r, 403, "insufficient_permission");
    allowed(&check(&visitor).send(&app).await);
    for method in ["POST", "PUT", "PATCH", "DELETE"] {
        let r = check(&visitor)
            .with("x-original-method", method)
            .send(&app)
            .await;
        refused(&r, 403, "insufficient_permission");
    }
    // A need header that is there but unreadable is refused, never read as absent (which
    // would fall back to the method's need).
    let r = check(&visitor)
        .with("x-original-method", "GET")
        .with("x-roster-need", "vi\u{e9}w")
        .send(&app)
        .await;
    refused(&r, 403, "insufficient_permission");
    // X-Roster-Need wins over the method, both ways.
    let r = check(&visitor)
        .with("x-original-method", "GET")
        .with("x-roster-need", "edit")
        .send(&app)
        .await;
    refused(&r, 403, "insufficient_permission");
    let r = check(&member)
        .with("x-original-method", "DELETE")
        .with("x-roster-need", "view")
        .send(&app)
        .await;
    allowed(&r);
    for need in ["view", "edit", "full", "download"] {
        let r = check(&owner)
            .with("x-roster-feature", "usage_reports")
            .with("x-roster-need", need)
            .send(&app)
            .await;
        allowed(&r);
    }
    // A region of the organization, and organization-wide features whatever the region.
    allowed(
        &check(&visitor)
            .with("x-roster-region", "EU")
            .send(&app)
            .await,
    );
    let r = check(&owner)
        .with("x-roster-feature", "team")
        .with("x-roster-region", "US")
        .with("x-original-method", "DELETE")
        .send(&app)
        .await;
    allowed(&r);
});

on_both!(
    a_demotion_or_a_grant_change_applies_on_the_next_check,
    |db| {
        let app = TestApp::new(db).await;
        let owner = app.member(OWNER).await;
        app.joined(&owner, "admin@example.com", "admin").await;
        let admin = key_of(&app, "admin@example.com", None).await;
        let delete_member = || {
            check(&admin)
                .with("x-roster-feature", "team")
                .with("x-original-method", "DELETE")
        };
        allowed(&delete_member().send(&app).await);
        assert_eq!(
            app.act(&owner, "admin@example.com", "demote").await.error(),
            None
        );
        refused(
            &delete_member().send(&app).await,
            403,
            "insufficient_permission",
        );
        let r = check(&admin).send(&app).await;
        allowed(&r);
        assert_eq!(header(&r, "x-roster-role"), "member");

        // A custom role: Products Edit everywhere, then only View.
        let mut grid = Template::Developer.grid();
        grid.set(Feature::Products, Grant::new(Level::Edit, false));
        let id = app.custom_role(&owner, "Builders", grid).await;
        app.joined(&owner, "dev@example.com", &format!("custom-{id}"))
            .await;
        let dev = key_of(&app, "dev@example.com", None).await;
        let post = || check(&dev).with("x-original-method", "POST");
        let r = post().send(&app).await;
        allowed(&r);
        assert_eq!(header(&r, "x-roster-role"), format!("custom-{id}"));
        grid.set(Feature::Products, Grant::new(Level::View, false));
        let grants = CustomGrants::uniform(grid, &default_regions());
        let r = app.save_role(&owner, Some(id), "Builders", &grants).await;
        assert_eq!(r.error(), None);
        refused(&post().send(&app).await, 403, "insufficient_permission");
        allowed(&check(&dev).send(&app).await);
    }
);

on_both!(regional_grants_decide_regional_checks, |db| {
    let app = TestApp::new(db).await;
    let owner = app.member(OWNER).await;
    let mut eu = Grid::default();
    eu.set(Feature::Products, Grant::new(Level::Edit, false));
    let mut grants = CustomGrants::default();
    grants.regions.insert("EU".into(), eu);
    let r = app.save_role(&owner, None, "EU builders", &grants).await;
    assert_eq!(r.error(), None, "{}", r.body);
    let id = r.json().as_i64().unwrap();
    app.joined(&owner, "eu@example.com", &format!("custom-{id}"))
        .await;
    let key = key_of(&app, "eu@example.com", None).await;
    let post = |region: Option<&'static str>| {
        let c = check(&key).with("x-original-method", "POST");
        match region {
            Some(code) => c.with("x-roster-region", code),
            None => c,
        }
    };
    allowed(&post(Some("EU")).send(&app).await);
    // Another region, one the organization lacks, and no region (every region) are refused.
    for region in [Some("US"), Some("APAC"), None] {
        refused(&post(region).send(&app).await, 403, "region_denied");
    }
    let r = check(&key)
        .with("x-roster-feature", "webhooks")
        .with("x-roster-region", "EU")
        .send(&app)
        .await;
    refused(&r, 403, "insufficient_permission");
});

on_both!(
    revoke_refuses_on_the_next_check_and_activate_restores_the_same_key,
    |db| {
        let app = TestApp::new(db).await;
        let owner = team(&app).await;
        let key = key_of(&app, "member@example.com", None).await;
        allowed(&check(&key).send(&app).await);
        assert_eq!(
            app.act(&owner, "member@example.com", "revoke")
                .await
                .error(),
            None
        );
        refused(&check(&key).send(&app).await, 401, "member_inactive");
        assert_eq!(
            app.act(&owner, "member@example.com", "activate")
                .await
                .error(),
            None
        );
        allowed(&check(&key).send(&app).await);
        assert_eq!(key_of(&app, "member@example.com", None).await, key);
        let user = app.user_id("member@example.com").await;
        let keys = count(
            &app,
            &format!("select count(*) from api_keys where user_id = {user}"),
        )
        .await;
        assert_eq!(keys, 1, "re-activation keeps the one key");
        // A member activated without a key (one from before keys existed) gets one then.
        assert_eq!(
            app.act(&owner, "member@example.com", "revoke")
                .await
                .error(),
            None
        );
        sqlx::query("delete from api_keys where user_id = $1")
            .bind(user)
            .execute(&app.roster.store.pool)
            .await
            .unwrap();
        assert_eq!(
            app.act(&owner, "member@example.com", "activate")
                .await
                .error(),
            None
        );
        let key = key_of(&app, "member@example.com", None).await;
        allowed(&check(&key).send(&app).await);
        assert_eq!(
            app.act(&owner, "member@example.com", "remove")
                .await
                .error(),
            None
        );
        refused(&check(&key).send(&app).await, 401, "key_expired");
        // Invited back, they join with a new key; one that leaked before never returns.
        assert_eq!(
            app.invite(&owner, "member@example.com", "member")
                .await
                .error(),
            None
        );
        let emailed = app.last_token("member@example.com", "invitation").await;
        assert_eq!(
            app.sign_in_to_accept(&emailed, PASSWORD).await.error(),
            None
        );
        refused(&check(&key).send(&app).await, 401, "key_expired");
        let again = key_of(&app, "member@example.com", None).await;
        assert_ne!(again, key);
        allowed(&check(&again).send(&app).await);
        // Leaving ends the key too.
        let visitor = key_of(&app, "visitor@example.com", None).await;
        let session = app.sign_in("visitor@example.com", PASSWORD).await.session();
        let r = app
            .post("leave_organization", &[])
            .session(&session)
            .send()
            .await;
        assert_eq!(r.error(), None, "{}", r.body);
        refused(&check(&visitor).send(&app).await, 401, "key_expired");
    }
);

on_both!(a_key_answers_only_for_its_own_organization, |db| {
    let app = TestApp::new(db).await;
    let owner = app.member(OWNER).await;
    // Grace owns a second organization and is a Visitor in Ada's.
    app.member("grace@example.com").await;
    assert_eq!(
        app.invite(&owner, "grace@example.com", "visitor")
            .await
            .error(),
        None
    );
    let token = app.last_token("grace@example.com", "invitation").await;
    assert_eq!(app.sign_in_to_accept(&token, PASSWORD).await.error(), None);
    let (ada_org, grace_org) = (
        org_of(&app, OWNER).await,
        org_of(&app, "grace@example.com").await,
    );
    assert_ne!(ada_org, grace_org);
    let in_ada = key_of(&app, "grace@example.com", Some(ada_org)).await;
    let in_own = key_of(&app, "grace@example.com", Some(grace_org)).await;
    assert_ne!(in_ada, in_own);
    let post = |key| check(key).with("x-original-method", "POST");
    let r = check(&in_ada).send(&app).await;
    allowed(&r);
    assert_eq!(
        (header(&r, "x-roster-org"), header(&r, "x-roster-role")),
        (ada_org.to_string().as_str(), "visitor")
    );
    refused(
        &post(&in_ada).send(&app).await,
        403,
        "insufficient_permission",
    );
    let r = post(&in_own).send(&app).await;
    allowed(&r);
    assert_eq!(
        (header(&r, "x-roster-org"), header(&r, "x-roster-role")),
        (grace_org.to_string().as_str(), "owner")
    );
    // Naming the other organization changes nothing: the key decides.
    let r = check(&in_ada)
        .with("x-roster-org", &grace_org.to_string())
        .with("x-original-method", "POST")
        .send(&app)
        .await;
    refused(&r, 403, "insufficient_permission");
    // Revoked in Ada's organization, Grace's own key still works.
    assert_eq!(
        app.act(&owner, "grace@example.com", "revoke").await.error(),
        None
    );
    refused(&check(&in_ada).send(&app).await, 401, "member_inactive");
    allowed(&post(&in_own).send(&app).await);
});

on_both!(
    malformed_keys_and_cookies_cost_no_database_work_and_failures_stay_401,
    |db| {
        let app = TestApp::new(db).await;
        let session = app.member(OWNER).await;
        let key = key_of(&app, OWNER, None).await;
        // With the database gone, only answers that need no query can still be right.
        app.roster.store.pool.close().await;
        let cookie = format!("{}={session}", app.cookie_name());
        // The last character changed (to one it is not), so the checksum fails.
        let last = if key.ends_with('x') { "y" } else { "x" };
        let typo = format!("{}{last}", &key[..key.len() - 1]);
        for bad in ["rst_short", typo.as_str()] {
            let r = check(bad).with("cookie", &cookie).send(&app).await;
            refused(&r, 401, "malformed_key");
        }
        let r = Check {
            key: None,
            headers: vec![("cookie", &cookie)],
        }
        .send(&app)
        .await;
        refused(&r, 401, "missing_key");
        // A well-formed key that cannot be looked up is refused, with no internals shown.
        let r = check(&key).send(&app).await;
        refused(&r, 401, "unavailable");
        for word in ["pool", "sql", "closed", "database"] {
            assert!(!r.body.to_lowercase().contains(word), "{}", r.body);
        }
    }
);

/// Collects everything logged, at every level, while `body` runs.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

on_both!(the_key_never_appears_in_audit_rows_emails_or_logs, |db| {
    let app = TestApp::new(db).await;
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let keys = async {
        let owner = team(&app).await;
        app.act(&owner, "member@example.com", "revoke").await;
        app.act(&owner, "member@example.com", "activate").await;
        let mut keys = vec![];
        for email in [OWNER, "member@example.com", "visitor@example.com"] {
            let key = key_of(&app, email, None).await;
            check(&key).send(&app).await;
            check(&key)
                .with("x-original-method", "DELETE")
                .send(&app)
                .await;
            keys.push(key);
        }
        app.roster.store.pool.close().await;
        // Read again, the key meets the closed database.
        app.roster.gateway.watch.everything_changed();
        check(&keys[0]).send(&app).await;
        keys
    }
    .with_subscriber(subscriber)
    .await;
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("gateway check"), "the logs were captured");
    let app = app.restart_with(|_| {}).await;
    let stored: Vec<String> = sqlx::query_scalar(
        "select coalesce(action, '') || ' ' || coalesce(target, '') || ' ' || coalesce(detail, '') \
         from audit_log \
         union all select subject || ' ' || body_text || ' ' || coalesce(body_html, '') from outbox",
    )
    .fetch_all(&app.roster.store.pool)
    .await
    .unwrap();
    assert!(stored.len() > 5);
    for key in &keys {
        let secret = &key[7..];
        assert!(!logs.contains(secret), "a key was logged");
        assert!(
            stored.iter().all(|s| !s.contains(secret)),
            "a key was stored in the clear"
        );
    }
});

/// Another server on `app`'s database, with `secret` as its server secret.
async fn start_with(
    app: &TestApp,
    secret: SecretSource,
) -> Result<server::Roster, server::StartError> {
    let mut config = app.config.clone();
    config.secret = secret;
    let options = leptos::prelude::LeptosOptions::builder()
        .output_name("roster")
        .build();
    server::build(config, options, app.clock.clone()).await
}

on_both!(
    a_missing_or_different_secret_with_stored_keys_stops_the_start,
    |db| {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secret.key");
        let app = TestApp::with(db, |c| c.secret = SecretSource::File(file.clone())).await;
        app.sign_up(OWNER).await;
        let key = key_of(&app, OWNER, None).await;
        let start = |secret| start_with(&app, secret);
        let refused_start = |e: server::StartError| {
            let text = e.to_string();
            assert!(text.contains("is not the secret this database"), "{text}");
        };
        refused_start(
            start(SecretSource::Given(random_secret()))
                .await
                .err()
                .unwrap(),
        );
        let saved = std::fs::read(&file).unwrap();
        std::fs::remove_file(&file).unwrap();
        let err = start(SecretSource::File(file.clone())).await.err().unwrap();
        refused_start(err);
        std::fs::write(&file, &saved).unwrap();
        let again = start(SecretSource::File(file.clone())).await.unwrap();
        let r = status_on(again.router, &key).await;
        assert_eq!(r, 204);
    }
);

on_both!(
    a_second_instance_with_its_own_secret_stops_before_any_key_exists,
    |db| {
        // The first instance starts on an empty database with a secret of its own...
        let app = TestApp::with(db, |c| c.secret = SecretSource::Given(random_secret())).await;
        assert_eq!(count(&app, "select count(*) from api_keys").await, 0);
        let start = |secret| start_with(&app, secret);
        // ...so a second one that made another secret never issues keys under it.
        let err = start(SecretSource::Given(random_secret()))
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("is not the secret this database"), "{err}");
        assert!(start(app.config.secret.clone()).await.is_ok());
    }
);

on_both!(
    members_without_a_key_get_one_at_start_and_one_current_key_holds_under_concurrency,
    |db| {
        let app = TestApp::new(db).await;
        team(&app).await;
        sqlx::query("delete from api_keys")
            .execute(&app.roster.store.pool)
            .await
            .unwrap();
        let app = app.restart_with(|_| {}).await;
        assert_eq!(count(&app, "select count(*) from api_keys").await, 3);
        allowed(
            &check(&key_of(&app, "visitor@example.com", None).await)
                .send(&app)
                .await,
        );
        // Sixteen issuers at once for members without a key still give each exactly one.
        sqlx::query("delete from api_keys")
            .execute(&app.roster.store.pool)
            .await
            .unwrap();
        let issuers: Vec<_> = (0..16)
            .map(|_| {
                let accounts = app.roster.accounts.clone();
                tokio::spawn(async move { accounts.issue_missing_api_keys().await })
            })
            .collect();
        for issuer in issuers {
            issuer.await.unwrap().unwrap();
        }
        let current = "select count(*) from api_keys where expires_at is null";
        assert_eq!(count(&app, current).await, 3);
        // A second current key for one member is impossible, whoever writes it.
        let user = app.user_id(OWNER).await;
        let org = org_of(&app, OWNER).await;
        let second = sqlx::query(
            "insert into api_keys (org_id, user_id, lookup_hash, prefix, sealed, created_at) \
             values ($1, $2, 'x', 'rst_xxx', '', 0)",
        )
        .bind(org)
        .bind(user)
        .execute(&app.roster.store.pool)
        .await;
        assert!(second.is_err_and(|e| server::db::is_unique_violation(&e)));
    }
);

/// The status of a check of `key` on `router`.
async fn status_on(router: axum::Router, key: &str) -> u16 {
    use tower::ServiceExt;
    let req = axum::http::Request::get("/gateway/check")
        .header("authorization", format!("Bearer {key}"))
        .header("x-roster-feature", "products")
        .header("x-original-method", "GET")
        .body(axum::body::Body::empty())
        .unwrap();
    router.oneshot(req).await.unwrap().status().as_u16()
}

on_both!(
    the_check_answers_any_method_and_nothing_that_guards_pages_gets_in_the_way,
    |db| {
        let app = TestApp::new(db).await;
        team(&app).await;
        let key = key_of(&app, "member@example.com", None).await;
        let bearer = format!("Bearer {key}");
        for method in ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] {
            // A gateway that passes the call's own method, a cross-site origin and the
            // length of a large body along: still one of the check's own answers.
            let mut call = app
                .get("/gateway/check")
                .header("authorization", &bearer)
                .header("x-roster-feature", "products")
                .header("x-original-method", "GET")
                .header("origin", "https://elsewhere.example")
                .header("sec-fetch-site", "cross-site")
                .header("content-length", "5000000");
            call.method = method;
            let r = call.send().await;
            assert_eq!(r.status, 204, "{method}: {}", r.body);
        }
    }
);

on_both!(
    checks_are_answered_from_memory_and_made_up_keys_cost_no_lookup,
    |db| {
        let app = TestApp::new(db).await;
        let owner = team(&app).await;
        let key = key_of(&app, "member@example.com", None).await;
        let gateway = &app.roster.gateway;
        let before = gateway.reads();
        for _ in 0..20 {
            allowed(&check(&key).send(&app).await);
        }
        assert_eq!(gateway.reads() - before, 1, "one read, then from memory");
        // A storm of well-formed keys never issued, and of malformed ones: no lookup.
        let before = gateway.reads();
        for _ in 0..200 {
            let made_up = ApiKey::generate();
            refused(
                &check(made_up.expose()).send(&app).await,
                401,
                "unknown_key",
            );
            refused(
                &check("rst_nonsense").send(&app).await,
                401,
                "malformed_key",
            );
        }
        assert_eq!(gateway.reads(), before, "made-up keys were looked up");
        // A revoked key is answered from memory too once read again.
        app.act(&owner, "member@example.com", "revoke").await;
        refused(&check(&key).send(&app).await, 401, "member_inactive");
        let before = gateway.reads();
        for _ in 0..20 {
            refused(&check(&key).send(&app).await, 401, "member_inactive");
        }
        assert_eq!(gateway.reads(), before);
        // Another organization's change leaves this one's entries be.
        let other = app.member("grace@example.com").await;
        app.joined(&other, "guest@example.com", "member").await;
        refused(&check(&key).send(&app).await, 401, "member_inactive");
        assert_eq!(gateway.reads(), before);
    }
);

/// Two instances on one PostgreSQL database: a Revoke made on one is refused by the other's
/// warm cache once the notification arrives (milliseconds), and a key issued on one is known
/// to the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_instance_drops_a_revoked_key_and_knows_a_new_one() {
    let app = TestApp::new(Db::Postgres).await;
    let owner = team(&app).await;
    let key = key_of(&app, "member@example.com", None).await;
    let other = start_with(&app, app.config.secret.clone()).await.unwrap();
    assert_eq!(status_on(other.router.clone(), &key).await, 204);
    assert_eq!(status_on(other.router.clone(), &key).await, 204);
    let reads = other.gateway.reads();
    app.act(&owner, "member@example.com", "revoke").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while status_on(other.router.clone(), &key).await != 401 {
        assert!(
            std::time::Instant::now() < deadline,
            "still allowed after 5 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(
        other.gateway.reads() > reads,
        "read again after the notification"
    );
    // A member who joins on the first instance has a key the second knows.
    app.joined(&owner, "late@example.com", "member").await;
    let late = key_of(&app, "late@example.com", None).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while status_on(other.router.clone(), &late).await != 204 {
        assert!(
            std::time::Instant::now() < deadline,
            "new key unknown after 5 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// The stored counts: (user, feature, region, outcome, calls), in order.
async fn usage_rows(app: &TestApp) -> Vec<(i64, String, String, String, i64)> {
    sqlx::query_as(
        "select user_id, feature, region, outcome, calls from gateway_usage \
         order by user_id, feature, region, outcome",
    )
    .fetch_all(&app.roster.store.pool)
    .await
    .unwrap()
}

on_both!(
    every_check_is_counted_per_member_feature_region_and_outcome,
    |db| {
        let app = TestApp::new(db).await;
        team(&app).await;
        let key = key_of(&app, "member@example.com", None).await;
        let member = app.user_id("member@example.com").await;
        let org = org_of(&app, OWNER).await;
        for _ in 0..7 {
            allowed(&check(&key).send(&app).await);
        }
        for _ in 0..3 {
            let r = check(&key)
                .with("x-original-method", "DELETE")
                .send(&app)
                .await;
            refused(&r, 403, "insufficient_permission");
        }
        for _ in 0..2 {
            allowed(&check(&key).with("x-roster-region", "EU").send(&app).await);
        }
        let r = check(&key).with("x-roster-region", "MARS").send(&app).await;
        refused(&r, 403, "region_denied");
        refused(
            &check(ApiKey::generate().expose()).send(&app).await,
            401,
            "unknown_key",
        );
        refused(&check("rst_bad").send(&app).await, 401, "malformed_key");
        // Nothing is written per call; a flush writes them all.
        assert!(usage_rows(&app).await.is_empty());
        assert!(app.roster.gateway.flush_usage().await);
        let owned = |u, f: &str, r: &str, o: &str, n| (u, f.into(), r.into(), o.into(), n);
        assert_eq!(
            usage_rows(&app).await,
            vec![
                owned(0, "products", "", "malformed_key", 1),
                owned(0, "products", "", "unknown_key", 1),
                owned(member, "products", "", "allowed", 7),
                owned(member, "products", "", "insufficient_permission", 3),
                // A region not the organization's is counted without its made-up code.
                owned(member, "products", "", "region_denied", 1),
                owned(member, "products", "EU", "allowed", 2),
            ]
        );
        let orgs: Vec<i64> =
            sqlx::query_scalar("select distinct org_id from gateway_usage order by org_id")
                .fetch_all(&app.roster.store.pool)
                .await
                .unwrap();
        assert_eq!(orgs, vec![0, org]);
        let minute: i64 = sqlx::query_scalar("select max(minute) from gateway_usage")
            .fetch_one(&app.roster.store.pool)
            .await
            .unwrap();
        assert_eq!(minute, START / 60_000);
        // The key's last use is the time of its last check, written with the counts.
        let last_used = || async {
            sqlx::query_scalar::<_, Option<i64>>(
                "select last_used_at from api_keys where user_id = $1",
            )
            .bind(member)
            .fetch_one(&app.roster.store.pool)
            .await
            .unwrap()
        };
        assert_eq!(last_used().await, Some(START));
        // Later checks add to the stored counts, in the same minute and the next.
        app.clock.advance(61_000);
        for _ in 0..5 {
            allowed(&check(&key).send(&app).await);
        }
        assert!(app.roster.gateway.flush_usage().await);
        let total: i64 = sqlx::query_scalar("select cast(sum(calls) as bigint) from gateway_usage")
            .fetch_one(&app.roster.store.pool)
            .await
            .unwrap();
        assert_eq!(total, 7 + 3 + 2 + 1 + 1 + 1 + 5);
        assert_eq!(last_used().await, Some(START + 61_000));
        // An empty flush writes nothing and is no batch.
        let written = app
            .roster
            .gateway
            .usage
            .batches_written
            .load(Ordering::Relaxed);
        assert!(app.roster.gateway.flush_usage().await);
        assert_eq!(
            app.roster
                .gateway
                .usage
                .batches_written
                .load(Ordering::Relaxed),
            written
        );
    }
);

on_both!(
    a_batch_that_fails_to_write_is_kept_and_counted_once_later,
    |db| {
        let app = TestApp::new(db).await;
        team(&app).await;
        let key = key_of(&app, "member@example.com", None).await;
        let usage = &app.roster.gateway.usage;
        let rename = |from: &'static str, to: &'static str| {
            let pool = app.roster.store.pool.clone();
            async move {
                sqlx::query(&format!("alter table {from} rename to {to}"))
                    .execute(&pool)
                    .await
                    .unwrap();
            }
        };
        for _ in 0..4 {
            allowed(&check(&key).send(&app).await);
        }
        rename("gateway_usage", "gateway_usage_away").await;
        assert!(!app.roster.gateway.flush_usage().await);
        assert_eq!(usage.batches_failed.load(Ordering::Relaxed), 1);
        assert_eq!(usage.unwritten(), 1);
        // Checks go on meanwhile, and another failed flush keeps both batches.
        for _ in 0..3 {
            allowed(&check(&key).send(&app).await);
        }
        assert!(!app.roster.gateway.flush_usage().await);
        assert_eq!(usage.unwritten(), 2);
        let metrics = app.get("/metrics").send().await;
        assert_eq!(metrics.status, 200);
        assert!(
            metrics
                .body
                .contains("roster_gateway_usage_batches_failed_total 2"),
            "{}",
            metrics.body
        );
        assert!(
            metrics
                .body
                .contains("roster_gateway_usage_batches_unwritten 2")
        );
        assert!(
            metrics
                .body
                .contains("roster_gateway_checks_total{outcome=\"allowed\"} 7")
        );
        rename("gateway_usage_away", "gateway_usage").await;
        assert!(app.roster.gateway.flush_usage().await);
        assert_eq!(usage.unwritten(), 0);
        assert_eq!(usage.batches_written.load(Ordering::Relaxed), 2);
        let total: i64 = sqlx::query_scalar("select cast(sum(calls) as bigint) from gateway_usage")
            .fetch_one(&app.roster.store.pool)
            .await
            .unwrap();
        assert_eq!(total, 7);
        let metrics = app.get("/metrics").send().await;
        assert!(
            metrics
                .body
                .contains("roster_gateway_usage_batches_written_total 2")
        );
        // Written batch ids are swept after a week.
        app.clock.advance(8 * 24 * 3_600_000);
        let swept = app.roster.housekeeping.run_once().await.unwrap();
        assert_eq!(swept.usage_batches, 2);
    }
);

on_both!(
    a_key_past_its_calls_per_minute_is_rate_limited_and_counted,
    |db| {
        let app = TestApp::with(db, |c| c.gateway_calls_per_key_per_minute = Some(3)).await;
        team(&app).await;
        let key = key_of(&app, "member@example.com", None).await;
        let other = key_of(&app, "visitor@example.com", None).await;
        for _ in 0..3 {
            allowed(&check(&key).send(&app).await);
        }
        let r = check(&key).send(&app).await;
        refused(&r, 403, "rate_limited");
        assert!(r.body.contains("Too many calls with this API key"));
        // Per key: another member's key is not held back.
        allowed(&check(&other).send(&app).await);
        // Keys that identify no active member are refused for that first, uncounted by the limit.
        refused(&check("rst_bad").send(&app).await, 401, "malformed_key");
        assert!(app.roster.gateway.flush_usage().await);
        let limited = count(
            &app,
            "select cast(sum(calls) as bigint) from gateway_usage where outcome = 'rate_limited'",
        )
        .await;
        assert_eq!(limited, 1);
    }
);
