//! The sign-in lockout under concurrency: every attempt is counted before any argon2 work, so
//! parallel guesses cannot pass the limit, and a full hashing queue refuses instead of waiting.

use crate::common::*;
use server::clock::MINUTE;
use std::sync::Arc;
use tokio::sync::Barrier;

const LIMIT: u64 = 5;
const INCORRECT: &str = "The email address or password is incorrect.";
const SIGN_IN_LOCKED: &str = "Too many failed sign-in attempts. Try again in";
const BUSY: &str = "Roster is busy. Please try again in a moment.";

/// How a storm of attempts was answered.
#[derive(Debug, Default)]
struct Tally {
    /// Answers that came from a real password check.
    checked: u64,
    locked: u64,
    busy: u64,
    other: Vec<String>,
    /// argon2 computations the storm cost.
    hashes: u64,
}

impl Tally {
    fn refused(&self) -> u64 {
        self.locked + self.busy
    }
}

/// Runs `n` copies of `attempt` at the same moment and sorts their answers: `checked` when
/// `is_checked` says the answer came from a password check, `locked` when it starts with
/// `locked`, `busy`, or `other`.
async fn storm<F, Fut>(
    app: &Arc<TestApp>,
    n: usize,
    locked: &str,
    is_checked: fn(&Reply) -> bool,
    attempt: F,
) -> Tally
where
    F: Fn(Arc<TestApp>) -> Fut,
    Fut: std::future::Future<Output = Reply> + Send + 'static,
{
    let before = app.roster.accounts.hasher.computations();
    let barrier = Arc::new(Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let barrier = barrier.clone();
            let fut = attempt(app.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                fut.await
            })
        })
        .collect();
    let mut tally = Tally::default();
    for t in tasks {
        let reply = t.await.unwrap();
        let message = reply.error().unwrap_or_else(|| "(accepted)".into());
        if is_checked(&reply) {
            tally.checked += 1;
        } else if message.starts_with(locked) {
            tally.locked += 1;
        } else if message == BUSY {
            tally.busy += 1;
        } else {
            tally.other.push(message);
        }
    }
    tally.hashes = app.roster.accounts.hasher.computations() - before;
    tally
}

fn incorrect_sign_in(r: &Reply) -> bool {
    r.error().as_deref() == Some(INCORRECT)
}

async fn wrong_sign_ins(app: &Arc<TestApp>, n: usize, email: &'static str) -> Tally {
    storm(
        app,
        n,
        SIGN_IN_LOCKED,
        incorrect_sign_in,
        move |app| async move { app.sign_in(email, "not the password").await },
    )
    .await
}

on_both!(
    two_hundred_concurrent_wrong_passwords_reach_argon2_at_most_five_times,
    |db| {
        // The account's limit alone answers here; the per-client one has its own test.
        let app = TestApp::with(db, |c| c.password_checks_per_client_per_minute = 1_000);
        let app = Arc::new(app.await);
        app.verified_user("ada@example.com").await;

        let t = wrong_sign_ins(&app, 200, "ada@example.com").await;
        let seen = format!(
            "200 concurrent wrong passwords: argon2 ran {} times; answers: {} incorrect, {} locked, {} busy, other {:?}",
            t.hashes, t.checked, t.locked, t.busy, t.other
        );
        eprintln!("{db:?}: {seen}");
        assert!(t.hashes <= LIMIT, "{seen}");
        assert_eq!(t.checked, t.hashes, "each check is one hash: {seen}");
        assert_eq!(t.checked, LIMIT, "the limit itself is reachable: {seen}");
        assert_eq!(t.refused(), 200 - LIMIT, "{seen}");

        let locked = app.sign_in("ada@example.com", PASSWORD).await;
        assert_eq!(
            locked.error().unwrap(),
            "Too many failed sign-in attempts. Try again in 15 minutes."
        );
        app.clock.advance(15 * MINUTE);
        assert_eq!(app.sign_in("ada@example.com", PASSWORD).await.error(), None);
    }
);

on_both!(an_unknown_address_is_limited_the_same_way, |db| {
    let app = Arc::new(TestApp::new(db).await);
    let t = wrong_sign_ins(&app, 40, "nobody@example.com").await;
    let seen = format!("{t:?}");
    assert_eq!((t.hashes, t.checked), (LIMIT, LIMIT), "{seen}");
    assert_eq!(t.refused(), 40 - LIMIT, "{seen}");
    assert_eq!(
        app.sign_in("nobody@example.com", PASSWORD)
            .await
            .error()
            .unwrap(),
        "Too many failed sign-in attempts. Try again in 15 minutes."
    );
});

on_both!(
    wrong_current_passwords_in_a_password_change_are_limited_per_account,
    |db| {
        let app = Arc::new(TestApp::new(db).await);
        let session = app.member("ada@example.com").await;
        let change = |app: Arc<TestApp>, session: String, current: &'static str| async move {
            app.post(
                "change_password",
                &[
                    ("current_password", current),
                    ("new_password", "a brand new passphrase"),
                ],
            )
            .session(&session)
            .send()
            .await
        };
        let incorrect = |r: &Reply| {
            r.app_error()
                .and_then(|e| e.for_field("current_password"))
                .as_deref()
                == Some("Your current password is incorrect.")
        };

        let s = session.clone();
        let t = storm(
            &app,
            40,
            "Too many incorrect passwords. Try again in",
            incorrect,
            move |app| change(app, s.clone(), "not my password"),
        )
        .await;
        let seen = format!(
            "40 concurrent wrong current passwords: argon2 ran {} times; answers: {} incorrect, {} locked, {} busy, other {:?}",
            t.hashes, t.checked, t.locked, t.busy, t.other
        );
        eprintln!("{db:?}: {seen}");
        assert!(t.hashes <= LIMIT, "{seen}");
        assert_eq!((t.checked, t.refused()), (LIMIT, 40 - LIMIT), "{seen}");

        let right = change(app.clone(), session.clone(), PASSWORD).await;
        assert_eq!(
            right.error().unwrap(),
            "Too many incorrect passwords. Try again in 15 minutes."
        );
        assert_eq!(
            app.sign_in("ada@example.com", PASSWORD)
                .await
                .error()
                .unwrap(),
            "Too many failed sign-in attempts. Try again in 15 minutes.",
            "the account's one limit covers sign-in too"
        );
        app.clock.advance(15 * MINUTE);
        assert_eq!(change(app.clone(), session, PASSWORD).await.error(), None);
    }
);

on_both!(a_full_hashing_queue_answers_busy_at_once, |db| {
    let app = TestApp::with(db, |c| c.hash_workers = 1).await;
    let app = Arc::new(app);
    let n = 64;
    let before = app.roster.accounts.hasher.computations();
    let barrier = Arc::new(Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (app, barrier) = (app.clone(), barrier.clone());
            tokio::spawn(async move {
                let email = format!("guess{i}@example.com");
                let ip = format!("10.1.0.{i}");
                barrier.wait().await;
                let r = app
                    .post("sign_in", &[("email", &email), ("password", PASSWORD)])
                    .from(&ip)
                    .send()
                    .await;
                (r.error(), app.roster.accounts.hasher.computations())
            })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    let hashes = app.roster.accounts.hasher.computations() - before;
    let incorrect = answers
        .iter()
        .filter(|(e, _)| e.as_deref() == Some(INCORRECT))
        .count() as u64;
    let busy: Vec<u64> = answers
        .iter()
        .filter(|(e, _)| e.as_deref() == Some(BUSY))
        .map(|(_, at)| *at)
        .collect();
    let seen = format!(
        "{n} sign-ins on 1 hashing thread: argon2 ran {hashes} times; {incorrect} incorrect, {} busy",
        busy.len()
    );
    eprintln!("{db:?}: {seen}");
    assert!(!busy.is_empty(), "{seen}");
    assert_eq!(incorrect + busy.len() as u64, n as u64, "{seen}");
    assert_eq!(incorrect, hashes, "{seen}");
    assert!(
        busy.iter().all(|&at| at < before + hashes),
        "each busy answer came while checks were still waiting, not after them: {seen}"
    );
    let counted: i64 = sqlx::query_scalar(
        "select count(*) from sign_in_failures where key like 'account:%' and failures > 0",
    )
    .fetch_one(&app.roster.store.pool)
    .await
    .unwrap();
    assert_eq!(
        counted as u64, incorrect,
        "a busy answer gives its attempt back"
    );
});

on_both!(a_correct_password_is_never_counted_as_a_failure, |db| {
    let app = TestApp::new(db).await;
    app.sign_up("ada@example.com").await;
    for _ in 0..8 {
        assert_eq!(
            app.sign_in("ada@example.com", PASSWORD).await.app_error(),
            Some(app::error::AppError::EmailNotVerified)
        );
    }
});

on_both!(concurrent_correct_passwords_never_lock_the_account, |db| {
    let app = Arc::new(TestApp::new(db).await);
    app.verified_user("ada@example.com").await;
    let accepted = |r: &Reply| r.error().is_none();
    let t = storm(&app, 20, SIGN_IN_LOCKED, accepted, |app| async move {
        app.sign_in("ada@example.com", PASSWORD).await
    })
    .await;
    let seen = format!("{t:?}");
    assert!(t.checked >= 1, "{seen}");
    assert_eq!((t.locked, t.other.len()), (0, 0), "{seen}");
    assert_eq!(t.checked + t.busy, 20, "{seen}");
    assert!(t.hashes <= 20, "{seen}");
    for _ in 1..LIMIT {
        let r = app.sign_in("ada@example.com", "not the password").await;
        assert_eq!(r.error().as_deref(), Some(INCORRECT));
    }
    assert_eq!(
        app.sign_in("ada@example.com", PASSWORD).await.error(),
        None,
        "the right passwords left no attempt counted"
    );
});

on_both!(reservations_stop_at_the_threshold_and_a_lock_ends, |db| {
    use server::db::throttle::{self, Reservation};
    let app = TestApp::new(db).await;
    let policy = Arc::new(throttle::Policy {
        window: 15 * MINUTE,
        threshold: 5,
        lock_for: 15 * MINUTE,
    });
    let reserve = |store: server::db::Store, policy: Arc<throttle::Policy>, now| async move {
        let mut tx = store.write().await.unwrap();
        let r = throttle::reserve(&mut tx, "account:x@example.com", &policy, now)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        r
    };
    let barrier = Arc::new(Barrier::new(50));
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (barrier, attempt) = (
                barrier.clone(),
                reserve(app.roster.store.clone(), policy.clone(), app.clock.now()),
            );
            tokio::spawn(async move {
                barrier.wait().await;
                attempt.await
            })
        })
        .collect();
    let mut counted = Vec::new();
    let mut full = 0;
    for t in tasks {
        match t.await.unwrap() {
            Reservation::Counted(n) => counted.push(n),
            Reservation::Full => full += 1,
            other => panic!("{other:?}"),
        }
    }
    counted.sort();
    assert_eq!((counted, full), (vec![1, 2, 3, 4, 5], 45));

    let (store, now) = (app.roster.store.clone(), app.clock.now());
    let mut conn = store.pool.acquire().await.unwrap();
    throttle::release(&mut conn, "account:x@example.com")
        .await
        .unwrap();
    assert_eq!(
        reserve(store.clone(), policy.clone(), now).await,
        Reservation::Counted(5),
        "an attempt given back can be taken again"
    );
    throttle::lock(&mut conn, "account:x@example.com", &policy, now)
        .await
        .unwrap();
    throttle::release(&mut conn, "account:x@example.com")
        .await
        .unwrap();
    assert_eq!(
        reserve(store.clone(), policy.clone(), now).await,
        Reservation::Locked(now + 15 * MINUTE),
        "giving an attempt back does not lift a lock"
    );
    app.clock.advance(15 * MINUTE);
    assert_eq!(
        reserve(store, policy, app.clock.now()).await,
        Reservation::Counted(1),
        "a lock ends and the count starts again"
    );
});

on_both!(right_passwords_in_a_loop_are_limited_per_client, |db| {
    let app = TestApp::with(db, |c| c.password_checks_per_client_per_minute = 3).await;
    app.verified_user("ada@example.com").await;
    let sign_in = |ip: &'static str| {
        app.post(
            "sign_in",
            &[("email", "ada@example.com"), ("password", PASSWORD)],
        )
        .from(ip)
        .send()
    };
    for _ in 0..3 {
        assert_eq!(sign_in("198.51.100.7").await.error(), None);
    }
    // The fourth check this minute from that address costs no hash and says when to come back.
    let before = app.roster.accounts.hasher.computations();
    let limited = sign_in("198.51.100.7").await;
    assert_eq!(limited.status, 429);
    assert_eq!(
        limited.error().as_deref(),
        Some("Too many sign-in attempts from your network. Try again in 1 minute.")
    );
    assert_eq!(app.roster.accounts.hasher.computations(), before);
    // Nobody else is held up, and the account counts no failure.
    assert_eq!(sign_in("203.0.113.9").await.error(), None);
    for i in 1..LIMIT {
        let r = app
            .post(
                "sign_in",
                &[
                    ("email", "ada@example.com"),
                    ("password", "not the password"),
                ],
            )
            .from(&format!("192.0.2.{i}"))
            .send()
            .await;
        assert_eq!(r.error().as_deref(), Some(INCORRECT));
    }
    assert_eq!(sign_in("203.0.113.9").await.error(), None);
});
