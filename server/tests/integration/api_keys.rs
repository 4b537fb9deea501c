//! "Copy API Key" and "Refresh": who may, what the old key does afterwards, what the Team
//! page and Profile show, and the attacks across roles and organizations, each replayed.

use crate::common::*;
use crate::gateway::{allowed, check, count, key_of, refused};
use app::authz::{Feature, Grant, Level, Template};
use app::error::AppError;

const OWNER: &str = "ada@example.com";

async fn copy(app: &TestApp, session: &str, email: &str) -> Reply {
    let id = app.user_id(email).await.to_string();
    app.post("copy_api_key", &[("user_id", &id)])
        .session(session)
        .send()
        .await
}

/// The key a successful copy answered with.
fn copied(r: &Reply) -> String {
    assert_eq!(r.error(), None, "{}", r.body);
    r.json()
        .as_str()
        .expect("the key as a JSON string")
        .to_owned()
}

async fn current_key_id(app: &TestApp, email: &str) -> i64 {
    sqlx::query_scalar(
        "select k.id from api_keys k join users u on u.id = k.user_id \
         where u.email = $1 and k.expires_at is null",
    )
    .bind(email)
    .fetch_one(&app.roster.store.pool)
    .await
    .unwrap()
}

async fn refresh(app: &TestApp, session: &str, email: &str, key_id: i64, grace: &str) -> Reply {
    let id = app.user_id(email).await.to_string();
    app.post(
        "refresh_api_key",
        &[
            ("user_id", &id),
            ("key_id", &key_id.to_string()),
            ("grace", grace),
        ],
    )
    .session(session)
    .send()
    .await
}

/// Owner, two Admins, a Member, a Visitor and a "Builders" custom role (API Keys Full, Team
/// View); returns (owner, admin, member, visitor, builder) sessions.
async fn org(app: &TestApp) -> [String; 5] {
    let owner = app.member(OWNER).await;
    let admin = app.joined(&owner, "admin@example.com", "admin").await;
    app.joined(&owner, "admin2@example.com", "admin").await;
    let member = app.joined(&owner, "member@example.com", "member").await;
    let visitor = app.joined(&owner, "visitor@example.com", "visitor").await;
    let mut grid = Template::Developer.grid();
    grid.set(Feature::ApiKeys, Grant::new(Level::Full, false));
    let id = app.custom_role(&owner, "Builders", grid).await;
    let builder = app
        .joined(&owner, "builder@example.com", &format!("custom-{id}"))
        .await;
    [owner, admin, member, visitor, builder]
}

fn forbidden(r: &Reply) {
    assert!(
        matches!(r.app_error(), Some(AppError::Forbidden)),
        "{} {}",
        r.status,
        r.body
    );
}

on_both!(copy_follows_the_rules_of_the_other_member_actions, |db| {
    let app = TestApp::new(db).await;
    let [owner, admin, member, visitor, builder] = org(&app).await;
    // The Owner and Admins copy the keys of those they may act on, and their own.
    for (session, email) in [
        (&owner, "admin@example.com"),
        (&owner, "member@example.com"),
        (&owner, OWNER),
        (&admin, "member@example.com"),
        (&admin, "visitor@example.com"),
        (&admin, "builder@example.com"),
        (&admin, "admin@example.com"),
        (&builder, "builder@example.com"),
    ] {
        let key = copied(&copy(&app, session, email).await);
        assert_eq!(key, key_of(&app, email, None).await, "{email}");
    }
    // Never the Owner's key but by the Owner, an Admin's but by the Owner, or anyone's by
    // a role without API Keys Edit or without Full Team Management.
    for (session, email) in [
        (&admin, OWNER),
        (&admin, "admin2@example.com"),
        (&member, "member@example.com"),
        (&member, "visitor@example.com"),
        (&visitor, "visitor@example.com"),
        (&builder, "member@example.com"),
    ] {
        let r = copy(&app, session, email).await;
        forbidden(&r);
        assert!(!r.body.contains("rst_"), "{}", r.body);
    }
    // A disabled member's key is copied by no one until they are active again.
    app.act(&owner, "member@example.com", "revoke").await;
    forbidden(&copy(&app, &owner, "member@example.com").await);
    app.act(&owner, "member@example.com", "activate").await;
    copied(&copy(&app, &owner, "member@example.com").await);
    // Each copy is an audit row naming the key by its first characters only.
    let copies = count(
        &app,
        "select count(*) from audit_log where action = 'api_key.copied'",
    )
    .await;
    assert_eq!(copies, 9);
    let details: Vec<String> = sqlx::query_scalar(
        "select coalesce(detail, '') from audit_log where action = 'api_key.copied'",
    )
    .fetch_all(&app.roster.store.pool)
    .await
    .unwrap();
    let member_key = key_of(&app, "member@example.com", None).await;
    assert!(
        details
            .iter()
            .all(|d| d.contains("rst_") && !d.contains(&member_key[7..]))
    );
});

on_both!(a_key_from_another_organization_buys_nothing, |db| {
    let app = TestApp::new(db).await;
    let [owner, ..] = org(&app).await;
    // Grace owns an organization of her own and asks for the keys of Ada's members by id.
    let grace = app.member("grace@example.com").await;
    let r = copy(&app, &grace, "member@example.com").await;
    assert!(
        matches!(r.app_error(), Some(AppError::NotFound)),
        "{}",
        r.body
    );
    let key_id = current_key_id(&app, "member@example.com").await;
    let r = refresh(&app, &grace, "member@example.com", key_id, "now").await;
    assert!(
        matches!(r.app_error(), Some(AppError::NotFound)),
        "{}",
        r.body
    );
    allowed(
        &check(&key_of(&app, "member@example.com", None).await)
            .send(&app)
            .await,
    );
    // Nor does a key id of another member in her own request on her own member.
    app.joined(&grace, "guest@example.com", "member").await;
    let r = refresh(&app, &grace, "guest@example.com", key_id, "now").await;
    assert!(
        r.error().is_some_and(|e| e.contains("already refreshed")),
        "{}",
        r.body
    );
    let _ = owner;
});

on_both!(
    refresh_ends_the_old_key_when_asked_and_the_new_one_works,
    |db| {
        let app = TestApp::new(db).await;
        let [owner, admin, ..] = org(&app).await;
        let first = key_of(&app, "member@example.com", None).await;
        allowed(&check(&first).send(&app).await);
        let first_id = current_key_id(&app, "member@example.com").await;
        // "Immediately": the old key is refused on the very next check, the new one works.
        let r = refresh(&app, &owner, "member@example.com", first_id, "now").await;
        assert_eq!(r.error(), None, "{}", r.body);
        refused(&check(&first).send(&app).await, 401, "key_expired");
        let second = copied(&copy(&app, &owner, "member@example.com").await);
        assert_ne!(second, first);
        allowed(&check(&second).send(&app).await);
        // The key the actor saw is no longer current: refused, nothing changes.
        let r = refresh(&app, &admin, "member@example.com", first_id, "1h").await;
        assert!(
            r.error().is_some_and(|e| e.contains("already refreshed")),
            "{}",
            r.body
        );
        assert_eq!(key_of(&app, "member@example.com", None).await, second);
        // "1 hour": the old key keeps working until the hour is up.
        let second_id = current_key_id(&app, "member@example.com").await;
        let r = refresh(&app, &admin, "member@example.com", second_id, "1h").await;
        assert_eq!(r.error(), None, "{}", r.body);
        let third = key_of(&app, "member@example.com", None).await;
        allowed(&check(&second).send(&app).await);
        allowed(&check(&third).send(&app).await);
        // The Team row shows the new key, and when the old one stops and was last used.
        assert!(app.roster.gateway.flush_usage().await);
        let list = app.team(&owner, &[]).await;
        let row = list.json()["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["email"] == "member@example.com")
            .unwrap()
            .clone();
        assert_eq!(row["key"]["prefix"], third[..7]);
        assert_eq!(row["key"]["previous"]["prefix"], second[..7]);
        assert_eq!(row["key"]["previous"]["ends_at"], START + 3_600_000);
        assert_eq!(row["key"]["previous"]["last_used_at"], START);
        app.clock.advance(3_600_000 - 1);
        allowed(&check(&second).send(&app).await);
        app.clock.advance(1);
        refused(&check(&second).send(&app).await, 401, "key_expired");
        allowed(&check(&third).send(&app).await);
        // Past its end, the old key leaves the row.
        let list = app.team(&owner, &[]).await;
        assert!(!list.body.contains(&second[..7]), "{}", list.body);
        // An unknown grace is a message beside the field; nothing changes.
        let third_id = current_key_id(&app, "member@example.com").await;
        let r = refresh(&app, &owner, "member@example.com", third_id, "forever").await;
        assert!(r.body.contains("grace"), "{}", r.body);
        assert_eq!(current_key_id(&app, "member@example.com").await, third_id);
        // Audited, by first characters only.
        let details: Vec<String> = sqlx::query_scalar(
        "select coalesce(detail, '') from audit_log where action = 'api_key.refreshed' order by id",
    )
    .fetch_all(&app.roster.store.pool)
    .await
    .unwrap();
        assert_eq!(details.len(), 2);
        for key in [&first, &second, &third] {
            assert!(details.iter().all(|d| !d.contains(&key[7..])));
        }
        assert!(details[0].contains(&first[..7]) && details[0].contains(&second[..7]));
    }
);

on_both!(two_refreshes_at_once_make_one_new_key, |db| {
    let app = TestApp::new(db).await;
    let [owner, admin, ..] = org(&app).await;
    let id = current_key_id(&app, "member@example.com").await;
    let (a, b) = tokio::join!(
        refresh(&app, &owner, "member@example.com", id, "now"),
        refresh(&app, &admin, "member@example.com", id, "7d"),
    );
    assert_eq!(
        [a.error().is_none(), b.error().is_none()]
            .iter()
            .filter(|ok| **ok)
            .count(),
        1,
        "{} / {}",
        a.body,
        b.body
    );
    let user = app.user_id("member@example.com").await;
    let current =
        format!("select count(*) from api_keys where user_id = {user} and expires_at is null");
    assert_eq!(count(&app, &current).await, 1);
    assert_eq!(
        count(
            &app,
            &format!("select count(*) from api_keys where user_id = {user}")
        )
        .await,
        2
    );
});

on_both!(keys_are_shown_only_to_those_who_may_handle_them, |db| {
    let app = TestApp::new(db).await;
    let [owner, admin, member, visitor, builder] = org(&app).await;
    let keyed = |session: String| {
        let app = &app;
        async move {
            let list = app.team(&session, &[]).await;
            let mut emails: Vec<String> = list.json()["rows"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| !r["key"].is_null())
                .map(|r| r["email"].as_str().unwrap().to_owned())
                .collect();
            emails.sort();
            emails
        }
    };
    assert_eq!(keyed(owner.clone()).await.len(), 6);
    assert_eq!(
        keyed(admin.clone()).await,
        [
            "admin@example.com",
            "builder@example.com",
            "member@example.com",
            "visitor@example.com"
        ]
    );
    assert!(keyed(member.clone()).await.is_empty());
    assert!(keyed(visitor.clone()).await.is_empty());
    // Profile: their own key for roles with API Keys Edit, nothing for the others.
    let own = |session: String| {
        let app = &app;
        async move {
            let r = app.post("own_api_key", &[]).session(&session).send().await;
            assert_eq!(r.error(), None, "{}", r.body);
            r.json()
        }
    };
    let mine = own(builder).await;
    assert_eq!(
        mine["prefix"],
        key_of(&app, "builder@example.com", None).await[..7]
    );
    assert!(own(member).await.is_null());
    assert!(own(visitor).await.is_null());
    assert!(own(admin).await["id"].is_i64());
});

on_both!(
    old_keys_in_their_grace_period_end_with_remove_leave_and_the_next_refresh,
    |db| {
        let app = TestApp::new(db).await;
        let [owner, ..] = org(&app).await;
        let email = "member@example.com";
        let first = key_of(&app, email, None).await;
        let r = refresh(&app, &owner, email, current_key_id(&app, email).await, "7d").await;
        assert_eq!(r.error(), None, "{}", r.body);
        allowed(&check(&first).send(&app).await);
        // A second refresh with time to spare ends the first old key now: one old key at most.
        let second = key_of(&app, email, None).await;
        let r = refresh(&app, &owner, email, current_key_id(&app, email).await, "7d").await;
        assert_eq!(r.error(), None, "{}", r.body);
        refused(&check(&first).send(&app).await, 401, "key_expired");
        allowed(&check(&second).send(&app).await);
        // Remove ends the old key still in its grace period too, and a return revives neither.
        app.act(&owner, email, "remove").await;
        refused(&check(&second).send(&app).await, 401, "key_expired");
        assert_eq!(app.invite(&owner, email, "member").await.error(), None);
        let emailed = app.last_token(email, "invitation").await;
        assert_eq!(
            app.sign_in_to_accept(&emailed, PASSWORD).await.error(),
            None
        );
        refused(&check(&second).send(&app).await, 401, "key_expired");
        allowed(&check(&key_of(&app, email, None).await).send(&app).await);
    }
);

on_both!(refresh_is_limited_to_ten_new_keys_an_hour, |db| {
    let app = TestApp::new(db).await;
    let [owner, ..] = org(&app).await;
    let email = "member@example.com";
    // The key from joining counts: nine refreshes bring the hour's keys to ten.
    for _ in 0..9 {
        let r = refresh(
            &app,
            &owner,
            email,
            current_key_id(&app, email).await,
            "now",
        )
        .await;
        assert_eq!(r.error(), None, "{}", r.body);
    }
    let r = refresh(
        &app,
        &owner,
        email,
        current_key_id(&app, email).await,
        "now",
    )
    .await;
    assert!(
        r.error().is_some_and(|e| e.contains("in the last hour")),
        "{}",
        r.body
    );
    app.clock.advance(3_600_000);
    let r = refresh(
        &app,
        &owner,
        email,
        current_key_id(&app, email).await,
        "now",
    )
    .await;
    assert_eq!(r.error(), None, "{}", r.body);
});
