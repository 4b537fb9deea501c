//! Team invariants under concurrent requests, on both databases: the seat limit, single-use
//! invitations, and one member changed by several admins at once.

use crate::common::*;
use app::error::AppError;
use std::sync::Arc;
use tokio::sync::Barrier;

const OWNER: &str = "ada@example.com";

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(&app.roster.store.pool)
        .await
        .unwrap()
}

async fn seats_used(app: &TestApp) -> i64 {
    count(
        app,
        "select (select count(*) from memberships where status <> 'removed') \
         + (select count(*) from invitations where status = 'pending')",
    )
    .await
}

on_both!(fifty_concurrent_invites_never_pass_the_seat_limit, |db| {
    let app = Arc::new(TestApp::new(db).await);
    let owner = app.member(OWNER).await;
    let mut admins = vec![owner.clone()];
    for i in 0..3 {
        admins.push(
            app.joined(&owner, &format!("admin{i}@example.com"), "admin")
                .await,
        );
    }
    // (Six invitations so far: three admins, one member, two below.)
    // Two invitees about to accept and a disabled member about to be re-activated.
    app.invite(&owner, "late1@example.com", "member").await;
    app.invite(&owner, "late2@example.com", "member").await;
    app.joined(&owner, "off@example.com", "member").await;
    app.act(&owner, "off@example.com", "revoke").await;
    let before = seats_used(&app).await;
    assert_eq!(before, 7);
    let limit = 12;
    app.set_seat_limit(limit).await;
    let barrier = Arc::new(Barrier::new(53));
    let mut invites = Vec::new();
    for i in 0..50 {
        let (app, barrier, session) = (
            app.clone(),
            barrier.clone(),
            admins[i % admins.len()].clone(),
        );
        invites.push(tokio::spawn(async move {
            barrier.wait().await;
            app.invite(&session, &format!("new{i}@example.com"), "member")
                .await
                .error()
        }));
    }
    let mut others = Vec::new();
    for who in ["late1@example.com", "late2@example.com"] {
        let (app, barrier) = (app.clone(), barrier.clone());
        others.push(tokio::spawn(async move {
            barrier.wait().await;
            app.register_invited(who).await.error()
        }));
    }
    {
        let (app, barrier, owner) = (app.clone(), barrier.clone(), owner.clone());
        others.push(tokio::spawn(async move {
            barrier.wait().await;
            app.act(&owner, "off@example.com", "activate").await.error()
        }));
    }
    let mut invited = 0;
    for t in invites {
        match t.await.unwrap() {
            None => invited += 1,
            Some(e) => assert!(e.contains("used all 12 seats"), "{e}"),
        }
    }
    for t in others {
        assert_eq!(t.await.unwrap(), None);
    }
    assert_eq!(invited, limit - before);
    assert_eq!(seats_used(&app).await, limit);
    assert_eq!(
        count(
            &app,
            "select count(*) from outbox where subject like '%invited you%'"
        )
        .await,
        6 + invited
    );
});

on_both!(
    sixteen_concurrent_accepts_of_one_invitation_make_one_member,
    |db| {
        let app = Arc::new(TestApp::new(db).await);
        let owner = app.member(OWNER).await;
        app.invite(&owner, "grace@example.com", "member").await;
        let barrier = Arc::new(Barrier::new(16));
        let mut tasks = Vec::new();
        for i in 0..16 {
            let (app, barrier) = (app.clone(), barrier.clone());
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                app.register_invited("grace@example.com")
                    .await
                    .app_error()
                    .map(|e| (i, e))
            }));
        }
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                None => ok += 1,
                Some((_, AppError::Refused(_))) => {}
                Some((i, e)) => panic!("attempt {i} failed unexpectedly: {e:?}"),
            }
        }
        assert_eq!(ok, 1);
        assert_eq!(
            count(
                &app,
                "select count(*) from users where email = 'grace@example.com'"
            )
            .await,
            1
        );
        assert_eq!(count(&app, "select count(*) from memberships").await, 2);
        assert_eq!(
            count(
                &app,
                "select count(*) from invitations where status = 'accepted'"
            )
            .await,
            1
        );
        assert_eq!(seats_used(&app).await, 2);
    }
);

on_both!(
    concurrent_promote_demote_and_remove_of_one_member_stay_consistent,
    |db| {
        let app = Arc::new(TestApp::new(db).await);
        let owner = app.member(OWNER).await;
        let admin = app.joined(&owner, "admin@example.com", "admin").await;
        for round in 0..6 {
            let email = format!("m{round}@example.com");
            app.joined(&owner, &email, "member").await;
            let barrier = Arc::new(Barrier::new(4));
            let mut tasks = Vec::new();
            for (session, action) in [
                (admin.clone(), "promote"),
                (owner.clone(), "demote"),
                (owner.clone(), "remove"),
                (admin.clone(), "revoke"),
            ] {
                let (app, barrier, email) = (app.clone(), barrier.clone(), email.clone());
                tasks.push(tokio::spawn(async move {
                    barrier.wait().await;
                    (action, app.act(&session, &email, action).await.app_error())
                }));
            }
            let mut succeeded = 0;
            let mut removed = false;
            for t in tasks {
                let (action, error) = t.await.unwrap();
                match error {
                    None => {
                        succeeded += 1;
                        removed |= action == "remove";
                    }
                    // Refusals are the rules applied to whatever state the member was in by then.
                    Some(AppError::Forbidden) | Some(AppError::NotFound) => {}
                    Some(e) => panic!("{action} failed unexpectedly: {e:?}"),
                }
            }
            // The Owner may always remove an Active or Disabled member, whatever came first.
            assert!(removed, "round {round}");
            let status: String = sqlx::query_scalar(
            "select m.status from memberships m join users u on u.id = m.user_id where u.email = $1",
        )
        .bind(&email)
        .fetch_one(&app.roster.store.pool)
        .await
        .unwrap();
            assert_eq!(status, "removed");
            // Every change that happened was audited, and nothing else.
            let audited: i64 = sqlx::query_scalar(
                "select count(*) from audit_log where target = $1 and action like 'member.%'",
            )
            .bind(&email)
            .fetch_one(&app.roster.store.pool)
            .await
            .unwrap();
            assert_eq!(audited, succeeded);
        }
    }
);

on_both!(
    concurrent_invites_of_one_address_make_one_invitation,
    |db| {
        let app = Arc::new(TestApp::new(db).await);
        let owner = app.member(OWNER).await;
        let admin = app.joined(&owner, "admin@example.com", "admin").await;
        let barrier = Arc::new(Barrier::new(12));
        let mut tasks = Vec::new();
        for i in 0..12 {
            let (app, barrier) = (app.clone(), barrier.clone());
            let session = if i % 2 == 0 {
                owner.clone()
            } else {
                admin.clone()
            };
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                app.invite(&session, "grace@example.com", "member")
                    .await
                    .app_error()
            }));
        }
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                None => ok += 1,
                Some(e) => assert!(
                    e.for_field("email")
                        .is_some_and(|m| m.contains("pending invitation")),
                    "{e:?}"
                ),
            }
        }
        assert_eq!(ok, 1);
        assert_eq!(
            count(
                &app,
                "select count(*) from invitations where email = 'grace@example.com'"
            )
            .await,
            1
        );
        assert_eq!(app.emails_to("grace@example.com").await.len(), 1);
    }
);

on_both!(
    ownership_moves_once_and_there_is_always_exactly_one_owner,
    |db| {
        let app = Arc::new(TestApp::new(db).await);
        let owner = app.member(OWNER).await;
        let a = app.joined(&owner, "a@example.com", "admin").await;
        let b = app.joined(&owner, "b@example.com", "admin").await;
        let ids = [
            app.user_id("a@example.com").await,
            app.user_id("b@example.com").await,
            app.user_id(OWNER).await,
        ];
        let barrier = Arc::new(Barrier::new(16));
        let mut tasks = Vec::new();
        for i in 0..16 {
            let (app, barrier) = (app.clone(), barrier.clone());
            // Twelve transfers to A or B race four attempts by the Admins on the Owner.
            let (session, call): (String, Vec<(&str, String)>) = match i {
                0..12 => (
                    owner.clone(),
                    vec![
                        ("user_id", ids[i % 2].to_string()),
                        ("confirm", "Analytical Engines".into()),
                    ],
                ),
                _ => (
                    if i % 2 == 0 { a.clone() } else { b.clone() },
                    vec![
                        ("user_id", ids[2].to_string()),
                        ("action", if i < 14 { "demote" } else { "revoke" }.into()),
                    ],
                ),
            };
            tasks.push(tokio::spawn(async move {
                let endpoint = if i < 12 {
                    "transfer_ownership"
                } else {
                    "change_member"
                };
                let form: Vec<(&str, &str)> = call.iter().map(|(k, v)| (*k, v.as_str())).collect();
                barrier.wait().await;
                (
                    i,
                    app.post(endpoint, &form)
                        .session(&session)
                        .send()
                        .await
                        .app_error(),
                )
            }));
        }
        let mut transfers = Vec::new();
        let mut changes = Vec::new();
        for t in tasks {
            let (i, error) = t.await.unwrap();
            match error {
                None if i < 12 => transfers.push(i % 2),
                // The Admin who just became Owner may act on the former Owner (now an Admin).
                None => changes.push(i % 2),
                // Once the first transfer commits, the old Owner is an Admin (and, once the new
                // Owner revoked them, signed out).
                Some(e) => assert!(
                    matches!(e, AppError::Forbidden | AppError::Unauthorized),
                    "call {i}: {e:?}"
                ),
            }
        }
        assert_eq!(transfers.len(), 1, "exactly one transfer wins");
        // Nobody acted on the Owner before the transfer made them an Admin.
        let actions = app.audit_actions().await;
        let moved = actions
            .iter()
            .position(|a| a == "ownership.transferred")
            .unwrap();
        let acted: Vec<usize> = (0..actions.len())
            .filter(|&k| actions[k].starts_with("member."))
            .collect();
        assert_eq!(acted.len(), changes.len());
        assert!(acted.iter().all(|&k| k > moved), "{actions:?}");
        assert_eq!(
            count(
                &app,
                "select count(*) from memberships where role = 'owner'"
            )
            .await,
            1
        );
        let new_owner = ["a@example.com", "b@example.com"][transfers[0]];
        let (role, status): (String, String) = sqlx::query_as(
        "select m.role, m.status from memberships m join users u on u.id = m.user_id where u.email = $1",
    )
    .bind(new_owner)
    .fetch_one(&app.roster.store.pool)
    .await
    .unwrap();
        assert_eq!((role.as_str(), status.as_str()), ("owner", "active"));
        assert_eq!(
            count(
                &app,
                "select count(*) from audit_log where action = 'ownership.transferred'"
            )
            .await,
            1
        );
    }
);
