//! The outbox worker against a real SMTP server (maildev): nothing is lost while SMTP is down
//! or when a worker dies holding a lease.

mod common;
use common::*;
use server::clock::{HOUR, SECOND};
use server::config::MailTransport;
use server::db::outbox;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// maildev from end2end/node_modules, started on free ports and stopped on drop.
struct Maildev {
    child: Child,
    web: u16,
}

impl Maildev {
    fn start(smtp: u16) -> Self {
        let bin = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../end2end/node_modules/.bin/maildev");
        assert!(
            bin.exists(),
            "maildev is missing: run scripts/test, which installs the end2end Node packages"
        );
        let web = free_port();
        let child = Command::new(bin)
            .args([
                "--smtp",
                &smtp.to_string(),
                "--web",
                &web.to_string(),
                "--ip",
                "127.0.0.1",
                "--silent",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start maildev");
        Self { child, web }
    }

    async fn wait_ready(&self) {
        for _ in 0..100 {
            if reqwest::get(format!("http://127.0.0.1:{}/api/email", self.web))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("maildev did not start");
    }

    async fn received(&self) -> Vec<serde_json::Value> {
        reqwest::get(format!("http://127.0.0.1:{}/api/email", self.web))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

impl Drop for Maildev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn smtp_app(db: Db, smtp: u16) -> TestApp {
    TestApp::with(db, |c| {
        c.mail = MailTransport::Smtp(format!("smtp://127.0.0.1:{smtp}"))
    })
    .await
}

async fn count(app: &TestApp, status: &str) -> i64 {
    outbox::count_by_status(&app.roster.store, status)
        .await
        .unwrap()
}

on_both!(
    emails_wait_while_smtp_is_down_and_all_arrive_when_it_is_back,
    |db| {
        let smtp = free_port();
        let app = smtp_app(db, smtp).await;
        for i in 0..5 {
            app.sign_up(&format!("user{i}@example.com")).await;
        }
        assert_eq!(
            count(&app, "pending").await,
            5,
            "the emails were written with the sign-ups"
        );

        // Nothing listens on the SMTP port: every send fails and is rescheduled, not lost.
        assert_eq!(app.roster.worker.run_once().await.unwrap(), 5);
        assert_eq!(count(&app, "pending").await, 5);
        let (attempts, error): (i64, Option<String>) =
            sqlx::query_as("select attempts, last_error from outbox order by id limit 1")
                .fetch_one(&app.roster.store.pool)
                .await
                .unwrap();
        assert_eq!(attempts, 1);
        assert!(error.is_some());
        assert_eq!(
            app.roster.worker.run_once().await.unwrap(),
            0,
            "not due again before the backoff"
        );

        let maildev = Maildev::start(smtp);
        maildev.wait_ready().await;
        app.clock.advance(HOUR);
        assert_eq!(app.roster.worker.run_once().await.unwrap(), 5);
        assert_eq!(count(&app, "sent").await, 5);

        let received = maildev.received().await;
        assert_eq!(received.len(), 5);
        for m in &received {
            assert_eq!(m["subject"], "Verify your email address for Roster");
            assert!(m["text"].as_str().unwrap().contains("/verify-email?token="));
            assert!(m["html"].as_str().unwrap().contains("Verify Email Address"));
        }
        let bodies: String =
            sqlx::query_scalar("select body_text from outbox where status = 'sent' limit 1")
                .fetch_one(&app.roster.store.pool)
                .await
                .unwrap();
        assert!(bodies.is_empty(), "sent emails keep no live links");
    }
);

on_both!(
    an_email_claimed_by_a_worker_that_died_is_sent_after_its_lease,
    |db| {
        let smtp = free_port();
        let maildev = Maildev::start(smtp);
        maildev.wait_ready().await;
        let app = smtp_app(db, smtp).await;
        app.sign_up("ada@example.com").await;

        // A worker claims the email and is killed before it sends or records anything.
        let claimed = outbox::claim_due(&app.roster.store, app.clock.now(), 60 * SECOND, 10)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(
            app.roster.worker.run_once().await.unwrap(),
            0,
            "the lease keeps other workers off"
        );

        app.clock.advance(61 * SECOND);
        assert_eq!(app.roster.worker.run_once().await.unwrap(), 1);
        assert_eq!(count(&app, "sent").await, 1);
        let received = maildev.received().await;
        assert_eq!(received.len(), 1);
        assert_eq!(received[0]["to"][0]["address"], "ada@example.com");
    }
);

on_both!(
    an_address_the_server_refuses_for_good_is_marked_failed,
    |db| {
        let app = TestApp::new(db).await;
        let mut conn = app.roster.store.pool.acquire().await.unwrap();
        let bad = outbox::NewEmail {
            recipient: "not an address",
            subject: "s",
            body_text: "t",
            body_html: "h",
        };
        outbox::enqueue(&mut conn, bad, app.clock.now())
            .await
            .unwrap();
        drop(conn);
        app.roster.worker.run_once().await.unwrap();
        assert_eq!(count(&app, "failed").await, 1);
    }
);

on_both!(retries_stop_after_the_last_attempt, |db| {
    let smtp = free_port();
    let app = smtp_app(db, smtp).await;
    app.sign_up("ada@example.com").await;
    for _ in 0..server::mail::worker::MAX_ATTEMPTS {
        assert_eq!(app.roster.worker.run_once().await.unwrap(), 1);
        app.clock.advance(2 * HOUR);
    }
    assert_eq!(count(&app, "failed").await, 1);
    assert_eq!(app.roster.worker.run_once().await.unwrap(), 0);
});
