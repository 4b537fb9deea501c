//! Cross-site request refusal, cookie attributes, security headers and error hygiene.

use crate::common::*;

on_both!(cross_site_writes_are_refused, |db| {
    let app = TestApp::new(db).await;
    let form = [("email", "ada@example.com"), ("password", PASSWORD)];
    let cross = app
        .post("sign_in", &form)
        .header("sec-fetch-site", "cross-site")
        .send()
        .await;
    assert_eq!(cross.status, 403);
    let same_site = app
        .post("sign_in", &form)
        .header("sec-fetch-site", "same-site")
        .send()
        .await;
    assert_eq!(same_site.status, 403);
    let foreign_origin = app
        .post("sign_in", &form)
        .without("sec-fetch-site")
        .header("origin", "https://evil.example")
        .send()
        .await;
    assert_eq!(foreign_origin.status, 403);
    let own_origin = app
        .post("sign_in", &form)
        .without("sec-fetch-site")
        .header("origin", "http://roster.test:3000")
        .send()
        .await;
    assert_ne!(own_origin.status, 403);
    assert_ne!(app.post("sign_in", &form).send().await.status, 403);
    let counted: i64 = sqlx::query_scalar("select count(*) from sign_in_failures")
        .fetch_one(&app.roster.store.pool)
        .await
        .unwrap();
    assert_eq!(counted, 2, "refused requests never reached the service");
});

on_both!(mutating_server_functions_do_not_answer_get, |db| {
    let app = TestApp::new(db).await;
    let r = app.get("/api/sign_up?first_name=A&last_name=B&email=a%40example.com&password=correct+horse+battery&org_name=Acme").send().await;
    assert!(r.status.is_client_error(), "{}", r.status);
    let users: i64 = sqlx::query_scalar("select count(*) from users")
        .fetch_one(&app.roster.store.pool)
        .await
        .unwrap();
    assert_eq!(users, 0);
});

on_both!(session_cookies_are_http_only_and_lax, |db| {
    let app = TestApp::new(db).await;
    app.verified_user("ada@example.com").await;
    let r = app.sign_in("ada@example.com", PASSWORD).await;
    let cookie = r.set_cookie().unwrap();
    assert!(cookie.starts_with("roster_session="), "{cookie}");
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attr), "{attr} missing: {cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain http cannot carry Secure cookies"
    );
    let secret = r.session();
    assert!(secret.len() >= 43, "at least 256 bits");
    let stored: String = sqlx::query_scalar("select token_hash from sessions")
        .fetch_one(&app.roster.store.pool)
        .await
        .unwrap();
    assert_ne!(stored, secret, "only the hash is stored");

    let again = app.sign_in("ada@example.com", PASSWORD).await.session();
    assert_ne!(again, secret, "every sign-in gets a new session id");
});

on_both!(https_deployments_get_host_prefixed_secure_cookies, |db| {
    let app = TestApp::with(db, |c| {
        c.public_url = url::Url::parse("https://roster.example.com").unwrap()
    })
    .await;
    app.verified_user("ada@example.com").await;
    let r = app.sign_in("ada@example.com", PASSWORD).await;
    let cookie = r.set_cookie().unwrap();
    assert!(cookie.starts_with("__Host-roster_session="), "{cookie}");
    assert!(cookie.contains("; Secure"));
    assert!(r.headers.contains_key("strict-transport-security"));
});

on_both!(every_response_carries_security_headers, |db| {
    let app = TestApp::new(db).await;
    for r in [
        app.get("/sign-in").send().await,
        app.get("/no-such-page").send().await,
        app.sign_in("x", "y").await,
        app.post("sign_in", &[])
            .header("sec-fetch-site", "cross-site")
            .send()
            .await,
        app.get("/healthz").send().await,
    ] {
        assert_eq!(r.headers["x-content-type-options"], "nosniff");
        assert_eq!(r.headers["x-frame-options"], "DENY");
        let csp = r.headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self' 'nonce-"),
            "{csp}"
        );
    }
    let page = app.get("/sign-in").send().await;
    let csp = page.headers["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap();
    assert!(
        page.body.contains(&format!("nonce=\"{nonce}\"")),
        "hydration scripts carry the response's nonce"
    );
    assert_eq!(app.get("/no-such-page").send().await.status, 404);
});

on_both!(bad_input_gets_field_messages_and_no_internals, |db| {
    let app = TestApp::new(db).await;
    let r = app
        .post(
            "sign_up",
            &[
                ("first_name", ""),
                ("last_name", "L"),
                ("email", "not-an-email"),
                ("password", "short"),
                ("org_name", "A"),
            ],
        )
        .send()
        .await;
    let e = r.app_error().unwrap();
    assert_eq!(e.for_field("first_name").unwrap(), "Enter a first name.");
    assert_eq!(
        e.for_field("email").unwrap(),
        "Enter a valid email address, like name@example.com."
    );
    assert_eq!(
        e.for_field("password").unwrap(),
        "Use at least 12 characters (you have 5)."
    );
    assert_eq!(
        e.for_field("org_name").unwrap(),
        "Organization name must be at least 2 characters."
    );

    let garbage = app.post("sign_up", &[("unexpected", "x")]).send().await;
    assert!(!garbage.status.is_success());
    let shown = garbage.error().unwrap_or(garbage.body.clone());
    for leak in ["sqlx", "panicked", "/src/", "missing field"] {
        assert!(!shown.contains(leak), "{shown}");
    }
});

on_both!(health_is_cheap_json, |db| {
    let app = TestApp::new(db).await;
    let r = app.get("/healthz").send().await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "ok");
    assert_eq!(r.json()["version"], env!("CARGO_PKG_VERSION"));
});
