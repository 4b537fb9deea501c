//! Store invariants under concurrent requests, on both databases.

use crate::common::*;
use server::auth::token;
use server::db::{outbox, throttle, tokens, users};
use std::sync::Arc;
use tokio::sync::Barrier;

on_both!(
    sixteen_concurrent_uses_of_one_token_succeed_exactly_once,
    |db| {
        let app = TestApp::new(db).await;
        app.sign_up("ada@example.com").await;
        let secret = app.last_token("ada@example.com", "verify-email").await;
        let barrier = Arc::new(Barrier::new(16));
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let (store, barrier, hash, now) = (
                app.roster.store.clone(),
                barrier.clone(),
                token::hash(&secret),
                app.clock.now(),
            );
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                let mut tx = store.write().await.unwrap();
                let used = tokens::consume(&mut tx, tokens::Kind::VerifyEmail, &hash, now)
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
                used.is_some()
            }));
        }
        let mut successes = 0;
        for t in tasks {
            successes += t.await.unwrap() as i32;
        }
        assert_eq!(successes, 1);
    }
);

on_both!(concurrent_sign_ups_of_one_address_make_one_account, |db| {
    let app = Arc::new(TestApp::new(db).await);
    let barrier = Arc::new(Barrier::new(8));
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (app, barrier) = (app.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let org = format!("Org {i}");
            app.post(
                "sign_up",
                &[
                    ("first_name", "Ada"),
                    ("last_name", "L"),
                    ("email", "ada@example.com"),
                    ("password", PASSWORD),
                    ("org_name", &org),
                ],
            )
            .from(&format!("10.0.0.{i}"))
            .send()
            .await
            .status
        }));
    }
    for t in tasks {
        assert!(t.await.unwrap().is_success());
    }
    let users: i64 = sqlx::query_scalar("select count(*) from users")
        .fetch_one(&app.roster.store.pool)
        .await
        .unwrap();
    let owners: i64 = sqlx::query_scalar("select count(*) from memberships")
        .fetch_one(&app.roster.store.pool)
        .await
        .unwrap();
    assert_eq!((users, owners), (1, 1));
});

on_both!(concurrent_attempts_are_all_counted, |db| {
    let app = TestApp::new(db).await;
    let policy = throttle::Policy {
        window: 60_000,
        threshold: 1000,
        lock_for: 60_000,
    };
    let policy = Arc::new(policy);
    let barrier = Arc::new(Barrier::new(20));
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (store, barrier, policy, now) = (
            app.roster.store.clone(),
            barrier.clone(),
            policy.clone(),
            app.clock.now(),
        );
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let mut tx = store.write().await.unwrap();
            let counted = throttle::reserve(&mut tx, "account:x@example.com", &policy, now)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            assert!(matches!(counted, throttle::Reservation::Counted(_)));
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let n: i64 = sqlx::query_scalar("select failures from sign_in_failures")
        .fetch_one(&app.roster.store.pool)
        .await
        .unwrap();
    assert_eq!(n, 20);
});

on_both!(two_workers_never_claim_the_same_email, |db| {
    let app = TestApp::new(db).await;
    let mut conn = app.roster.store.pool.acquire().await.unwrap();
    for i in 0..40 {
        let to = format!("u{i}@example.com");
        outbox::enqueue(
            &mut conn,
            outbox::NewEmail {
                recipient: &to,
                subject: "s",
                body_text: "t",
                body_html: "h",
            },
            app.clock.now(),
        )
        .await
        .unwrap();
    }
    drop(conn);
    let barrier = Arc::new(Barrier::new(4));
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (store, barrier, now) = (app.roster.store.clone(), barrier.clone(), app.clock.now());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            outbox::claim_due(&store, now, 60_000, 15)
                .await
                .unwrap()
                .emails
                .into_iter()
                .map(|c| c.id)
                .collect::<Vec<_>>()
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let before = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), before, "an email was claimed twice");
    assert_eq!(before, 40);
});

on_both!(an_address_has_one_account_whatever_its_case, |db| {
    let app = TestApp::new(db).await;
    app.sign_up("Ada@Example.com").await;
    let mut conn = app.roster.store.pool.acquire().await.unwrap();
    let found = users::find_by_email(&mut conn, "ada@example.com")
        .await
        .unwrap();
    assert!(found.is_some());
    let dup = users::insert_user(
        &mut conn,
        users::NewUser {
            email: "ada@example.com",
            first_name: "A",
            last_name: "L",
            password_hash: "x",
        },
        None,
        0,
    )
    .await;
    assert!(server::db::is_unique_violation(&dup.unwrap_err()));
});

on_both!(committed_writes_survive_reopening_the_database, |db| {
    let app = TestApp::new(db).await;
    app.sign_up("ada@example.com").await;
    let app = app.restart_with(|_| {}).await;
    let mut conn = app.roster.store.pool.acquire().await.unwrap();
    assert!(
        users::find_by_email(&mut conn, "ada@example.com")
            .await
            .unwrap()
            .is_some()
    );
});
