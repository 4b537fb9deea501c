//! The outbox worker against real SMTP servers (maildev, and a slow one written here): nothing is
//! lost while SMTP is down or when a worker dies holding a lease, and nothing is sent twice when
//! SMTP answers more slowly than the lease lasts.

use crate::common::*;
use server::clock::{Clock, HOUR, SECOND};
use server::config::MailTransport;
use server::db::outbox;
use server::mail::{Transport, Worker};
use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

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
        assert_eq!(claimed.emails.len(), 1);
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
    a_worker_whose_lease_ran_out_records_nothing_and_a_sent_email_stays_sent,
    |db| {
        let app = TestApp::new(db).await;
        let store = &app.roster.store;
        let mut conn = store.pool.acquire().await.unwrap();
        let email = outbox::NewEmail {
            recipient: "ada@example.com",
            subject: "s",
            body_text: "t",
            body_html: "h",
        };
        let id = outbox::enqueue(&mut conn, email, app.clock.now())
            .await
            .unwrap();
        drop(conn);
        let row = || async {
            sqlx::query_as::<_, (String, i64, String)>(
                "select status, attempts, body_text from outbox where id = $1",
            )
            .bind(id)
            .fetch_one(&store.pool)
            .await
            .unwrap()
        };

        let a = outbox::claim_due(store, app.clock.now(), 60 * SECOND, 10)
            .await
            .unwrap();
        assert_eq!(a.emails[0].id, id);
        app.clock.advance(61 * SECOND);
        let b = outbox::claim_due(store, app.clock.now(), 60 * SECOND, 10)
            .await
            .unwrap();
        assert_eq!(b.emails[0].id, id, "an expired lease is claimed again");
        assert_ne!(a.lease_token, b.lease_token);

        // A finishes late: none of its outcomes land on the row B now holds.
        let now = app.clock.now();
        assert!(
            !outbox::mark_sent(store, id, &a.lease_token, now)
                .await
                .unwrap()
        );
        assert!(
            !outbox::mark_retry(store, id, &a.lease_token, now + HOUR, "late")
                .await
                .unwrap()
        );
        assert!(
            !outbox::mark_failed(store, id, &a.lease_token, "late")
                .await
                .unwrap()
        );
        assert_eq!(row().await, ("sending".into(), 2, "t".into()));

        assert!(
            outbox::mark_sent(store, id, &b.lease_token, now)
                .await
                .unwrap()
        );
        assert_eq!(row().await, ("sent".into(), 2, "".into()));

        // Nothing flips a sent row back, not even the lease that sent it.
        for token in [&a.lease_token, &b.lease_token] {
            assert!(
                !outbox::mark_retry(store, id, token, now + HOUR, "late")
                    .await
                    .unwrap()
            );
            assert!(!outbox::mark_failed(store, id, token, "late").await.unwrap());
        }
        app.clock.advance(2 * HOUR);
        let again = outbox::claim_due(store, app.clock.now(), 60 * SECOND, 10)
            .await
            .unwrap();
        assert!(
            again.emails.is_empty(),
            "a sent email is never claimed again"
        );
        assert_eq!(row().await, ("sent".into(), 2, "".into()));
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

/// A real SMTP server that holds its answer to each message for `delay`, counting the messages it
/// accepted per recipient.
struct SlowSmtp {
    port: u16,
    accepted: Arc<Mutex<HashMap<String, usize>>>,
}

impl SlowSmtp {
    async fn start(delay: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(Mutex::new(HashMap::new()));
        let counts = accepted.clone();
        tokio::spawn(async move {
            loop {
                let (socket, _) = listener.accept().await.unwrap();
                tokio::spawn(Self::session(socket, delay, counts.clone()));
            }
        });
        Self { port, accepted }
    }

    async fn session(
        socket: TcpStream,
        delay: Duration,
        accepted: Arc<Mutex<HashMap<String, usize>>>,
    ) {
        let (read, mut write) = socket.into_split();
        let mut lines = BufReader::new(read).lines();
        let mut recipients = Vec::new();
        write.write_all(b"220 slow ESMTP\r\n").await.unwrap();
        while let Ok(Some(line)) = lines.next_line().await {
            let command = line.to_ascii_uppercase();
            let reply: &[u8] = if command.starts_with("EHLO") || command.starts_with("HELO") {
                b"250 slow\r\n"
            } else if command.starts_with("MAIL") || command.starts_with("RSET") {
                recipients.clear();
                b"250 OK\r\n"
            } else if command.starts_with("RCPT") {
                let address =
                    line[line.find('<').unwrap() + 1..line.rfind('>').unwrap()].to_owned();
                recipients.push(address);
                b"250 OK\r\n"
            } else if command.starts_with("NOOP") {
                b"250 OK\r\n"
            } else if command == "DATA" {
                write.write_all(b"354 go ahead\r\n").await.unwrap();
                while let Ok(Some(data)) = lines.next_line().await {
                    if data == "." {
                        break;
                    }
                }
                tokio::time::sleep(delay).await;
                let mut counts = accepted.lock().unwrap();
                for r in recipients.drain(..) {
                    *counts.entry(r).or_default() += 1;
                }
                b"250 queued\r\n"
            } else if command == "QUIT" {
                let _ = write.write_all(b"221 bye\r\n").await;
                return;
            } else {
                b"500 unknown command\r\n"
            };
            if write.write_all(reply).await.is_err() {
                return;
            }
        }
    }
}

on_both!(
    two_workers_deliver_each_email_exactly_once_when_smtp_answers_slower_than_the_lease,
    |db| {
        let smtp = SlowSmtp::start(Duration::from_millis(1500)).await;
        let app = smtp_app(db, smtp.port).await;
        let clock = Clock::system();
        let mut conn = app.roster.store.pool.acquire().await.unwrap();
        for i in 0..30 {
            let to = format!("u{i}@example.com");
            let email = outbox::NewEmail {
                recipient: &to,
                subject: "s",
                body_text: "t",
                body_html: "h",
            };
            outbox::enqueue(&mut conn, email, clock.now())
                .await
                .unwrap();
        }
        drop(conn);

        // Two workers, as in two processes: each with its own SMTP connections, both on a clock
        // that moves, with a lease shorter than the server takes to accept one message.
        let worker = || Worker {
            transport: Arc::new(Transport::from_config(&app.config.mail).unwrap()),
            clock: clock.clone(),
            lease: SECOND,
            ..app.roster.worker.clone()
        };
        let runs = [worker(), worker()].map(|w| {
            let store = app.roster.store.clone();
            tokio::spawn(async move {
                while outbox::count_by_status(&store, "sent").await.unwrap() < 30 {
                    if w.run_once().await.unwrap() == 0 {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            })
        });
        tokio::time::timeout(Duration::from_secs(60), futures::future::join_all(runs))
            .await
            .expect("all emails sent within a minute");

        let accepted = smtp.accepted.lock().unwrap().clone();
        let mut wrong: Vec<_> = (0..30)
            .map(|i| format!("u{i}@example.com"))
            .map(|to| (accepted.get(&to).copied().unwrap_or(0), to))
            .filter(|(n, _)| *n != 1)
            .collect();
        wrong.sort();
        assert!(
            wrong.is_empty(),
            "(copies, recipient) not delivered exactly once: {wrong:?}"
        );
        let reclaimed: i64 = sqlx::query_scalar("select count(*) from outbox where attempts <> 1")
            .fetch_one(&app.roster.store.pool)
            .await
            .unwrap();
        assert_eq!(reclaimed, 0, "no email was claimed twice");
    }
);
