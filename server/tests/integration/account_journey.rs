//! The account journey through the real router: sign up, verify, sign in, terms, sign out.

use crate::common::*;
use server::clock::{DAY, HOUR, MINUTE};

on_both!(sign_up_verify_accept_terms_and_sign_out, |db| {
    let app = TestApp::new(db).await;
    app.sign_up("ada@example.com").await;

    let emails = app.emails_to("ada@example.com").await;
    assert_eq!(emails.len(), 1);
    assert_eq!(emails[0].0, "Verify your email address for Roster");
    assert!(
        emails[0]
            .1
            .contains("http://roster.test:3000/verify-email?token="),
        "link from PUBLIC_URL: {}",
        emails[0].1
    );

    let early = app.sign_in("ada@example.com", PASSWORD).await;
    assert_eq!(
        early.app_error(),
        Some(app::error::AppError::EmailNotVerified)
    );
    assert!(early.set_cookie().is_none());

    let token = app.last_token("ada@example.com", "verify-email").await;
    assert_eq!(
        app.post("verify_email", &[("token", &token)])
            .send()
            .await
            .error(),
        None
    );

    let signed_in = app.sign_in("ADA@example.com ", PASSWORD).await;
    assert_eq!(signed_in.error(), None);
    let session = signed_in.session();

    let me = app
        .post("signed_in_user", &[])
        .session(&session)
        .send()
        .await
        .json();
    assert_eq!(me["email"], "ada@example.com");
    assert_eq!(me["org_name"], "Analytical Engines");
    assert_eq!(me["role"], "Owner");
    assert_eq!(me["terms_accepted"], false);

    let terms = app
        .post("current_terms", &[])
        .session(&session)
        .send()
        .await
        .json();
    let version = terms["version"].as_str().unwrap().to_owned();
    assert!(terms["text"].as_str().unwrap().contains("I Accept"));
    assert_eq!(
        app.post("accept_terms", &[("version", &version)])
            .session(&session)
            .send()
            .await
            .error(),
        None
    );
    let me = app
        .post("signed_in_user", &[])
        .session(&session)
        .send()
        .await
        .json();
    assert_eq!(me["terms_accepted"], true);

    let out = app.post("sign_out", &[]).session(&session).send().await;
    assert_eq!(out.error(), None);
    assert!(out.set_cookie().unwrap().contains("Max-Age=0"));
    let me = app
        .post("signed_in_user", &[])
        .session(&session)
        .send()
        .await
        .json();
    assert!(me.is_null(), "the old cookie must no longer work: {me}");
});

on_both!(pages_need_a_session_and_accepted_terms, |db| {
    let app = TestApp::new(db).await;
    let anonymous = app.get("/profile").send().await;
    assert!(anonymous.status.is_redirection(), "{}", anonymous.status);
    assert_eq!(anonymous.headers["location"], "/sign-in");

    let session = app.signed_in_user("ada@example.com").await;
    let before_terms = app.get("/").session(&session).send().await;
    assert_eq!(before_terms.headers["location"], "/terms");
    let refused = app
        .post(
            "update_profile",
            &[("first_name", "A"), ("last_name", "L"), ("mobile", "")],
        )
        .session(&session)
        .send()
        .await;
    assert_eq!(
        refused.error().unwrap(),
        "Please accept the Terms of Use to continue."
    );

    let version = app
        .post("current_terms", &[])
        .session(&session)
        .send()
        .await
        .json()["version"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post("accept_terms", &[("version", &version)])
        .session(&session)
        .send()
        .await;
    let home = app.get("/").session(&session).send().await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("Welcome, Ada"), "{}", home.body);
});

on_both!(a_new_terms_version_asks_again, |db| {
    let app = TestApp::new(db).await;
    let session = app.member("ada@example.com").await;
    assert_eq!(app.me(&session).await["terms_accepted"], true);

    let app = app
        .restart_with(|c| c.terms_version = "2027-01-01".into())
        .await;
    assert_eq!(app.me(&session).await["terms_accepted"], false);
    let stale = app
        .post("accept_terms", &[("version", "2026-11-01")])
        .session(&session)
        .send()
        .await;
    assert!(stale.error().unwrap().contains("changed"));
    assert_eq!(
        app.post("accept_terms", &[("version", "2027-01-01")])
            .session(&session)
            .send()
            .await
            .error(),
        None
    );
    let row: (String, i64) = sqlx::query_as(
        "select terms_version, terms_accepted_at from users where email = 'ada@example.com'",
    )
    .fetch_one(&app.roster.store.pool)
    .await
    .unwrap();
    assert_eq!(row, ("2027-01-01".to_owned(), START));
});

on_both!(answers_do_not_reveal_whether_an_account_exists, |db| {
    let app = TestApp::new(db).await;
    app.signed_in_user("ada@example.com").await;

    let unknown = app.sign_in("nobody@example.com", PASSWORD).await;
    let wrong = app
        .post(
            "sign_in",
            &[
                ("email", "ada@example.com"),
                ("password", "not the password"),
            ],
        )
        .send()
        .await;
    assert_eq!(
        (unknown.status, unknown.body.clone()),
        (wrong.status, wrong.body.clone())
    );
    assert_eq!(
        wrong.error().unwrap(),
        "The email address or password is incorrect."
    );

    let again = app.sign_up("ada@example.com").await;
    let fresh = app.sign_up("grace@example.com").await;
    assert_eq!(
        (again.status, again.body.clone()),
        (fresh.status, fresh.body.clone())
    );
    let to_ada = app.emails_to("ada@example.com").await;
    assert_eq!(
        to_ada.last().unwrap().0,
        "You already have a Roster account"
    );
    let count: i64 =
        sqlx::query_scalar("select count(*) from users where email = 'ada@example.com'")
            .fetch_one(&app.roster.store.pool)
            .await
            .unwrap();
    assert_eq!(count, 1);

    let known = app
        .post("request_password_reset", &[("email", "ada@example.com")])
        .send()
        .await;
    let nobody = app
        .post("request_password_reset", &[("email", "nobody@example.com")])
        .send()
        .await;
    assert_eq!(
        (known.status, known.body.clone()),
        (nobody.status, nobody.body.clone())
    );
    assert!(app.emails_to("nobody@example.com").await.is_empty());
    assert_eq!(
        app.emails_to("ada@example.com").await.last().unwrap().0,
        "Reset your Roster password"
    );

    let resend_known = app
        .post("resend_verification", &[("email", "grace@example.com")])
        .send()
        .await;
    let resend_nobody = app
        .post("resend_verification", &[("email", "nobody@example.com")])
        .send()
        .await;
    assert_eq!(
        (resend_known.status, resend_known.body),
        (resend_nobody.status, resend_nobody.body)
    );
    assert_eq!(app.emails_to("grace@example.com").await.len(), 2);
});

on_both!(verification_links_are_single_use_and_expire, |db| {
    let app = TestApp::new(db).await;
    app.sign_up("ada@example.com").await;
    let first = app.last_token("ada@example.com", "verify-email").await;
    app.post("resend_verification", &[("email", "ada@example.com")])
        .send()
        .await;
    let second = app.last_token("ada@example.com", "verify-email").await;
    assert_ne!(first, second);

    let replaced = app.post("verify_email", &[("token", &first)]).send().await;
    assert!(
        replaced
            .error()
            .unwrap()
            .contains("expired or was already used"),
        "a new link retires the old one"
    );

    app.clock.advance(DAY + MINUTE);
    let expired = app.post("verify_email", &[("token", &second)]).send().await;
    assert!(
        expired
            .error()
            .unwrap()
            .contains("expired or was already used")
    );

    app.post("resend_verification", &[("email", "ada@example.com")])
        .send()
        .await;
    let third = app.last_token("ada@example.com", "verify-email").await;
    assert_eq!(
        app.post("verify_email", &[("token", &third)])
            .send()
            .await
            .error(),
        None
    );
    let reused = app.post("verify_email", &[("token", &third)]).send().await;
    assert!(
        reused
            .error()
            .unwrap()
            .contains("expired or was already used")
    );

    let stored: Vec<String> = sqlx::query_scalar("select token_hash from one_time_tokens")
        .fetch_all(&app.roster.store.pool)
        .await
        .unwrap();
    assert!(
        stored.iter().all(|h| h.len() == 64 && h != &third),
        "tokens are stored as SHA-256 only"
    );
});

on_both!(
    a_password_reset_works_once_within_an_hour_and_ends_every_session,
    |db| {
        let app = TestApp::new(db).await;
        let old_session = app.signed_in_user("ada@example.com").await;

        app.post("request_password_reset", &[("email", "ada@example.com")])
            .send()
            .await;
        let late = app.last_token("ada@example.com", "reset-password").await;
        app.clock.advance(HOUR + MINUTE);
        let expired = app
            .post(
                "reset_password",
                &[("token", &late), ("password", "a brand new passphrase")],
            )
            .send()
            .await;
        assert!(
            expired
                .error()
                .unwrap()
                .contains("expired or was already used")
        );

        app.clock.advance(3 * MINUTE);
        app.post("request_password_reset", &[("email", "ada@example.com")])
            .send()
            .await;
        let token = app.last_token("ada@example.com", "reset-password").await;
        let short = app
            .post(
                "reset_password",
                &[("token", &token), ("password", "short")],
            )
            .send()
            .await;
        assert_eq!(
            short.app_error().unwrap().for_field("password").unwrap(),
            "Use at least 12 characters (you have 5)."
        );
        assert_eq!(
            app.post(
                "reset_password",
                &[("token", &token), ("password", "a brand new passphrase")]
            )
            .send()
            .await
            .error(),
            None
        );
        let reused = app
            .post(
                "reset_password",
                &[("token", &token), ("password", "another new passphrase")],
            )
            .send()
            .await;
        assert!(reused.error().is_some());

        assert!(app.me(&old_session).await.is_null());
        let old = app.sign_in("ada@example.com", PASSWORD).await;
        assert!(old.error().is_some());
        let new = app
            .post(
                "sign_in",
                &[
                    ("email", "ada@example.com"),
                    ("password", "a brand new passphrase"),
                ],
            )
            .send()
            .await;
        assert_eq!(new.error(), None);
        assert_eq!(
            app.emails_to("ada@example.com").await.last().unwrap().0,
            "Your Roster password was changed"
        );
    }
);

on_both!(failed_sign_ins_are_limited_per_account_for_a_while, |db| {
    let app = TestApp::new(db).await;
    app.signed_in_user("ada@example.com").await;
    for _ in 0..5 {
        let r = app
            .post(
                "sign_in",
                &[
                    ("email", "ada@example.com"),
                    ("password", "wrong password!"),
                ],
            )
            .send()
            .await;
        assert_eq!(
            r.error().unwrap(),
            "The email address or password is incorrect."
        );
    }
    let locked = app
        .post(
            "sign_in",
            &[("email", "ada@example.com"), ("password", PASSWORD)],
        )
        .from("10.9.9.9")
        .send()
        .await;
    assert_eq!(
        locked.error().unwrap(),
        "Too many failed sign-in attempts. Try again in 15 minutes."
    );
    assert!(locked.set_cookie().is_none());

    app.clock.advance(10 * MINUTE);
    let still = app.sign_in("ada@example.com", PASSWORD).await;
    assert_eq!(
        still.error().unwrap(),
        "Too many failed sign-in attempts. Try again in 5 minutes."
    );

    app.clock.advance(5 * MINUTE);
    let after = app.sign_in("ada@example.com", PASSWORD).await;
    assert_eq!(after.error(), None, "a lock always ends");
});

on_both!(a_password_reset_lifts_an_account_lock, |db| {
    let app = TestApp::new(db).await;
    app.signed_in_user("ada@example.com").await;
    for _ in 0..5 {
        app.post(
            "sign_in",
            &[
                ("email", "ada@example.com"),
                ("password", "wrong password!"),
            ],
        )
        .from("10.6.6.6")
        .send()
        .await;
    }
    app.post("request_password_reset", &[("email", "ada@example.com")])
        .send()
        .await;
    let token = app.last_token("ada@example.com", "reset-password").await;
    app.post(
        "reset_password",
        &[("token", &token), ("password", "a brand new passphrase")],
    )
    .send()
    .await;
    let r = app
        .post(
            "sign_in",
            &[
                ("email", "ada@example.com"),
                ("password", "a brand new passphrase"),
            ],
        )
        .send()
        .await;
    assert_eq!(
        r.error(),
        None,
        "the owner of the mailbox is never locked out"
    );
});

on_both!(failed_sign_ins_are_limited_per_client_address, |db| {
    let app = TestApp::new(db).await;
    app.signed_in_user("ada@example.com").await;
    for i in 0..30 {
        let email = format!("guess{i}@example.com");
        app.post(
            "sign_in",
            &[("email", &email), ("password", "wrong password!")],
        )
        .from("203.0.113.7")
        .send()
        .await;
    }
    let from_attacker = app
        .post(
            "sign_in",
            &[("email", "ada@example.com"), ("password", PASSWORD)],
        )
        .from("203.0.113.7")
        .send()
        .await;
    assert!(
        from_attacker
            .error()
            .unwrap()
            .starts_with("Too many failed sign-in attempts")
    );
    let from_elsewhere = app
        .post(
            "sign_in",
            &[("email", "ada@example.com"), ("password", PASSWORD)],
        )
        .from("198.51.100.1")
        .send()
        .await;
    assert_eq!(from_elsewhere.error(), None);
});

on_both!(profile_edits_are_validated_and_saved, |db| {
    let app = TestApp::new(db).await;
    let s = app.member("ada@example.com").await;

    let bad = app
        .post(
            "update_profile",
            &[
                ("first_name", ""),
                ("last_name", "L"),
                ("mobile", "call me"),
            ],
        )
        .session(&s)
        .send()
        .await;
    let e = bad.app_error().unwrap();
    assert_eq!(e.for_field("first_name").unwrap(), "Enter a first name.");
    assert!(e.for_field("mobile").is_some());
    assert!(e.for_field("last_name").is_none());

    let ok = app
        .post(
            "update_profile",
            &[
                ("first_name", "Augusta"),
                ("last_name", "King"),
                ("mobile", "+44 20 7946 0958"),
            ],
        )
        .session(&s)
        .send()
        .await;
    assert_eq!(ok.error(), None);
    assert_eq!(ok.json()["first_name"], "Augusta");
    assert_eq!(ok.json()["mobile"], "+44 20 7946 0958");
    let audit: i64 =
        sqlx::query_scalar("select count(*) from audit_log where action = 'profile.updated'")
            .fetch_one(&app.roster.store.pool)
            .await
            .unwrap();
    assert_eq!(audit, 1);
});

on_both!(
    changing_the_password_needs_the_current_one_and_ends_other_sessions,
    |db| {
        let app = TestApp::new(db).await;
        let here = app.member("ada@example.com").await;
        let elsewhere = app.sign_in("ada@example.com", PASSWORD).await.session();

        let wrong = app
            .post(
                "change_password",
                &[
                    ("current_password", "not my password"),
                    ("new_password", "a brand new passphrase"),
                ],
            )
            .session(&here)
            .send()
            .await;
        assert_eq!(
            wrong
                .app_error()
                .unwrap()
                .for_field("current_password")
                .unwrap(),
            "Your current password is incorrect."
        );

        let ok = app
            .post(
                "change_password",
                &[
                    ("current_password", PASSWORD),
                    ("new_password", "a brand new passphrase"),
                ],
            )
            .session(&here)
            .send()
            .await;
        assert_eq!(ok.error(), None);
        assert!(!app.me(&here).await.is_null(), "this session stays");
        assert!(app.me(&elsewhere).await.is_null(), "other sessions end");
    }
);
