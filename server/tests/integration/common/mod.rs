//! Shared test harness: a fresh database per test on SQLite or PostgreSQL, the real router,
//! and helpers to call server functions and read the outbox.
#![allow(dead_code)]

pub mod dns;

use app::authz::{CustomGrants, Grid, default_regions};
use app::error::AppError;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use leptos::prelude::LeptosOptions;
use server::auth::secret::{MasterKey, SecretSource};
use server::clock::Clock;
use server::config::{Config, MailTransport};
use sqlx::Row;
use std::net::SocketAddr;
use tower::ServiceExt;

pub const START: i64 = 1_800_000_000_000;
pub const PASSWORD: &str = "correct horse battery";

#[derive(Clone, Copy, Debug)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// Runs a test body once on SQLite and once on PostgreSQL, as two named tests.
#[macro_export]
macro_rules! on_both {
    ($(#[$m:meta])* $name:ident, |$db:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn run($db: $crate::common::Db) $body
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn on_sqlite() { run($crate::common::Db::Sqlite).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn on_postgres() { run($crate::common::Db::Postgres).await }
        }
    };
}

/// A fresh, empty database URL. SQLite: a file in a temporary folder that lives as long as
/// the returned guard. PostgreSQL: a new database on the server named by `TEST_POSTGRES_URL`.
pub async fn fresh_database(db: Db) -> (String, Option<tempfile::TempDir>) {
    match db {
        Db::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}/roster.db", dir.path().display());
            (url, Some(dir))
        }
        Db::Postgres => {
            let admin = std::env::var("TEST_POSTGRES_URL").expect(
                "TEST_POSTGRES_URL is not set: run the tests with scripts/test, which starts a throwaway PostgreSQL",
            );
            sqlx::any::install_default_drivers();
            let mut bytes = [0u8; 8];
            getrandom::fill(&mut bytes).unwrap();
            let name = format!(
                "roster_test_{}",
                bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
            );
            let pool = sqlx::AnyPool::connect(&admin)
                .await
                .expect("connect to TEST_POSTGRES_URL");
            sqlx::query(&format!("create database {name}"))
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
            let mut url = url::Url::parse(&admin).unwrap();
            url.set_path(&name);
            (url.to_string(), None)
        }
    }
}

pub struct TestApp {
    pub roster: server::Roster,
    pub clock: Clock,
    pub config: Config,
    pub options: LeptosOptions,
    _dirs: Vec<tempfile::TempDir>,
}

pub fn test_config(database_url: &str, mailbox: &std::path::Path) -> Config {
    let mut c = Config::from_lookup(|_| None).unwrap();
    c.database_url = database_url.to_owned();
    c.public_url = url::Url::parse("http://roster.test:3000").unwrap();
    c.mail = MailTransport::Mailbox(mailbox.to_owned());
    c.hash_workers = 2;
    c.secret = SecretSource::Given(random_secret());
    c
}

/// A fresh server secret.
pub fn random_secret() -> MasterKey {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).unwrap();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    MasterKey::parse_hex(&hex).unwrap()
}

impl TestApp {
    pub async fn new(db: Db) -> Self {
        Self::with(db, |_| {}).await
    }

    pub async fn with(db: Db, adjust: impl FnOnce(&mut Config)) -> Self {
        let options = LeptosOptions::builder().output_name("roster").build();
        Self::with_options(db, options, adjust).await
    }

    /// A server with Leptos settings of its own (where the site's files are).
    pub async fn with_options(
        db: Db,
        options: LeptosOptions,
        adjust: impl FnOnce(&mut Config),
    ) -> Self {
        let (url, dir) = fresh_database(db).await;
        let mailbox = tempfile::tempdir().unwrap();
        let mut config = test_config(&url, mailbox.path());
        adjust(&mut config);
        Self::on(
            config,
            options,
            dir.into_iter().chain([mailbox]).collect(),
            Clock::manual(START),
        )
        .await
    }

    /// Another server on the same database, with some settings changed.
    pub async fn restart_with(self, adjust: impl FnOnce(&mut Config)) -> Self {
        let mut config = self.config.clone();
        adjust(&mut config);
        let options = self.options.clone();
        Self::on(config, options, self._dirs, self.clock).await
    }

    async fn on(
        config: Config,
        options: LeptosOptions,
        dirs: Vec<tempfile::TempDir>,
        clock: Clock,
    ) -> Self {
        let roster = server::build(config.clone(), options.clone(), clock.clone())
            .await
            .unwrap();
        Self {
            roster,
            options,
            clock,
            config,
            _dirs: dirs,
        }
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub body: String,
    /// The body as sent (compressed, when it was).
    pub bytes: axum::body::Bytes,
    pub headers: axum::http::HeaderMap,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The user-facing error message of a failed server function, or `None` on success.
    pub fn error(&self) -> Option<String> {
        if self.status.is_success() {
            return None;
        }
        let e: app::error::AppError = serde_json::from_str(&self.body).ok()?;
        Some(e.to_string())
    }

    pub fn app_error(&self) -> Option<app::error::AppError> {
        if self.status.is_success() {
            None
        } else {
            serde_json::from_str(&self.body).ok()
        }
    }

    pub fn set_cookie(&self) -> Option<String> {
        self.headers
            .get(header::SET_COOKIE)
            .map(|v| v.to_str().unwrap().to_owned())
    }

    /// The session secret a successful sign-in set.
    pub fn session(&self) -> String {
        let c = self.set_cookie().expect("a session cookie");
        let pair = c.split(';').next().unwrap();
        pair.split_once('=').unwrap().1.to_owned()
    }
}

pub struct Call<'a> {
    pub app: &'a TestApp,
    pub method: &'static str,
    pub path: String,
    pub form: Vec<(String, String)>,
    /// A JSON body instead of the form (for server functions that take JSON).
    pub json: Option<serde_json::Value>,
    pub headers: Vec<(String, String)>,
    pub client: SocketAddr,
}

impl TestApp {
    pub fn post(&self, endpoint: &str, form: &[(&str, &str)]) -> Call<'_> {
        Call {
            app: self,
            method: "POST",
            path: format!("/api/{endpoint}"),
            form: form
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            json: None,
            headers: vec![("sec-fetch-site".into(), "same-origin".into())],
            client: "127.0.0.1:40000".parse().unwrap(),
        }
    }

    /// A server function call with a JSON body.
    pub fn post_json(&self, endpoint: &str, body: serde_json::Value) -> Call<'_> {
        let mut call = self.post(endpoint, &[]);
        call.json = Some(body);
        call
    }

    pub fn get(&self, path: &str) -> Call<'_> {
        let headers = vec![("accept".to_owned(), "text/html".to_owned())];
        Call {
            app: self,
            method: "GET",
            path: path.to_owned(),
            form: vec![],
            json: None,
            headers,
            client: "127.0.0.1:40000".parse().unwrap(),
        }
    }

    pub fn cookie_name(&self) -> &'static str {
        self.roster.accounts.cookie_name()
    }

    /// Signs up and verifies the address through the emailed link.
    pub async fn verified_user(&self, email: &str) {
        self.sign_up(email).await;
        let token = self.last_token(email, "verify-email").await;
        assert_eq!(
            self.post("verify_email", &[("token", &token)])
                .send()
                .await
                .error(),
            None
        );
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> Reply {
        self.post("sign_in", &[("email", email), ("password", password)])
            .send()
            .await
    }

    /// Signs up, verifies through the emailed link and signs in; returns the session secret.
    pub async fn signed_in_user(&self, email: &str) -> String {
        self.verified_user(email).await;
        let r = self.sign_in(email, PASSWORD).await;
        assert_eq!(r.error(), None);
        r.session()
    }

    /// What `signed_in_user` answers for this session (`null` when it is not signed in).
    pub async fn me(&self, session: &str) -> serde_json::Value {
        self.post("signed_in_user", &[])
            .session(session)
            .send()
            .await
            .json()
    }

    /// Accepts the current terms for the session's user.
    pub async fn accept_terms(&self, session: &str) {
        let version = self.config.terms_version.clone();
        let r = self
            .post("accept_terms", &[("version", &version)])
            .session(session)
            .send()
            .await;
        assert_eq!(r.error(), None);
    }

    /// A signed-in user who has also accepted the current terms; returns the session secret.
    pub async fn member(&self, email: &str) -> String {
        let session = self.signed_in_user(email).await;
        self.accept_terms(&session).await;
        session
    }

    pub async fn sign_up(&self, email: &str) -> Reply {
        let r = self
            .post(
                "sign_up",
                &[
                    ("first_name", "Ada"),
                    ("last_name", "Lovelace"),
                    ("email", email),
                    ("password", PASSWORD),
                    ("org_name", "Analytical Engines"),
                ],
            )
            .send()
            .await;
        assert!(
            r.status.is_success(),
            "sign up failed: {} {}",
            r.status,
            r.body
        );
        r
    }

    /// Emails in the outbox for `to`, oldest first: (subject, text body).
    pub async fn emails_to(&self, to: &str) -> Vec<(String, String)> {
        sqlx::query("select subject, body_text from outbox where recipient = $1 order by id")
            .bind(to)
            .fetch_all(&self.roster.store.pool)
            .await
            .unwrap()
            .into_iter()
            .map(|r| {
                (
                    r.get::<String, _>("subject"),
                    r.get::<String, _>("body_text"),
                )
            })
            .collect()
    }

    /// The token of the newest emailed link to `path` for `to`.
    pub async fn last_token(&self, to: &str, path: &str) -> String {
        let emails = self.emails_to(to).await;
        let needle = format!("/{path}?token=");
        emails
            .iter()
            .rev()
            .find_map(|(_, body)| {
                let start = body.find(&needle)? + needle.len();
                let rest = &body[start..];
                let end = rest.find(|c: char| c.is_whitespace() || c == '&');
                Some(rest[..end.unwrap_or(rest.len())].to_owned())
            })
            .unwrap_or_else(|| panic!("no {path} link emailed to {to}: {emails:?}"))
    }
}

/// Whether the answer is the permission refusal.
pub fn denied(r: &Reply) -> bool {
    r.app_error() == Some(AppError::Forbidden)
}

/// Role helpers.
impl TestApp {
    /// Creates (`id` is `None`) or changes a custom role as `session`.
    pub async fn save_role(
        &self,
        session: &str,
        id: Option<i64>,
        name: &str,
        grants: &CustomGrants,
    ) -> Reply {
        self.post_json(
            "save_role",
            serde_json::json!({ "draft": { "id": id, "name": name, "description": "", "grants": grants } }),
        )
        .session(session)
        .send()
        .await
    }

    /// A custom role with the same grid in every region; returns its id.
    pub async fn custom_role(&self, session: &str, name: &str, grid: Grid) -> i64 {
        let grants = CustomGrants::uniform(grid, &default_regions());
        let r = self.save_role(session, None, name, &grants).await;
        assert_eq!(r.error(), None, "{}", r.body);
        r.json().as_i64().unwrap()
    }
}

/// Team helpers.
impl TestApp {
    /// "Sign in to accept" through the invitation link `token`.
    pub async fn sign_in_to_accept(&self, token: &str, password: &str) -> Reply {
        self.post(
            "sign_in_and_accept",
            &[("token", token), ("password", password)],
        )
        .send()
        .await
    }

    pub async fn invite(&self, session: &str, email: &str, role: &str) -> Reply {
        self.post(
            "invite_user",
            &[
                ("first_name", "Grace"),
                ("last_name", "Hopper"),
                ("email", email),
                ("role", role),
            ],
        )
        .session(session)
        .send()
        .await
    }

    /// Registers through the newest invitation emailed to `email`.
    pub async fn register_invited(&self, email: &str) -> Reply {
        let token = self.last_token(email, "invitation").await;
        self.post(
            "register_and_accept",
            &[
                ("token", token.as_str()),
                ("first_name", "Grace"),
                ("last_name", "Hopper"),
                ("password", PASSWORD),
                ("mobile", ""),
            ],
        )
        .send()
        .await
    }

    /// Invites `email` with `role`; they register, verify, sign in and accept the terms.
    /// Returns their session secret.
    pub async fn joined(&self, inviter: &str, email: &str, role: &str) -> String {
        assert_eq!(self.invite(inviter, email, role).await.error(), None);
        assert_eq!(self.register_invited(email).await.error(), None);
        let token = self.last_token(email, "verify-email").await;
        let r = self.post("verify_email", &[("token", &token)]).send().await;
        assert_eq!(r.error(), None);
        let r = self.sign_in(email, PASSWORD).await;
        assert_eq!(r.error(), None);
        let session = r.session();
        self.accept_terms(&session).await;
        session
    }

    pub async fn user_id(&self, email: &str) -> i64 {
        sqlx::query_scalar("select id from users where email = $1")
            .bind(email)
            .fetch_one(&self.roster.store.pool)
            .await
            .unwrap()
    }

    pub async fn invitation_id(&self, email: &str) -> i64 {
        sqlx::query_scalar("select id from invitations where email = $1 and status = 'pending'")
            .bind(email)
            .fetch_one(&self.roster.store.pool)
            .await
            .unwrap()
    }

    pub async fn set_seat_limit(&self, limit: i64) {
        sqlx::query("update organizations set seat_limit = $1")
            .bind(limit)
            .execute(&self.roster.store.pool)
            .await
            .unwrap();
    }

    /// The team list as `session` sees it, with some query fields changed from the defaults.
    pub async fn team(&self, session: &str, changes: &[(&str, &str)]) -> Reply {
        let mut form = vec![
            ("search", ""),
            ("role", ""),
            ("status", ""),
            ("sort", "name"),
            ("descending", "false"),
            ("page", "1"),
            ("cursor", ""),
        ];
        for (k, v) in changes {
            form.retain(|(n, _)| n != k);
            form.push((k, v));
        }
        self.post("team_members", &form)
            .session(session)
            .send()
            .await
    }

    /// Emails of the listed rows, in order.
    pub async fn team_emails(&self, session: &str, changes: &[(&str, &str)]) -> Vec<String> {
        let r = self.team(session, changes).await;
        assert_eq!(r.error(), None);
        r.json()["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| row["email"].as_str().unwrap().to_owned())
            .collect()
    }

    /// "Edit" on a member: first name, last name, mobile and role.
    pub async fn edit_member(&self, session: &str, user_id: &str, fields: [&str; 4]) -> Reply {
        let [first, last, mobile, role] = fields;
        self.post(
            "edit_member",
            &[
                ("user_id", user_id),
                ("first_name", first),
                ("last_name", last),
                ("mobile", mobile),
                ("role", role),
            ],
        )
        .session(session)
        .send()
        .await
    }

    pub async fn act(&self, session: &str, email: &str, action: &str) -> Reply {
        let id = self.user_id(email).await.to_string();
        self.post("change_member", &[("user_id", &id), ("action", action)])
            .session(session)
            .send()
            .await
    }

    pub async fn audit_actions(&self) -> Vec<String> {
        sqlx::query_scalar("select action from audit_log order by id")
            .fetch_all(&self.roster.store.pool)
            .await
            .unwrap()
    }
}

impl Call<'_> {
    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.retain(|(n, _)| n != k);
        self.headers.push((k.to_owned(), v.to_owned()));
        self
    }

    pub fn without(mut self, k: &str) -> Self {
        self.headers.retain(|(n, _)| n != k);
        self
    }

    pub fn session(self, secret: &str) -> Self {
        let name = self.app.cookie_name();
        self.header("cookie", &format!("{name}={secret}"))
    }

    pub fn from(mut self, ip: &str) -> Self {
        self.client = format!("{ip}:40000").parse().unwrap();
        self
    }

    pub async fn send(self) -> Reply {
        let (body, content_type) = match &self.json {
            Some(json) => (json.to_string(), "application/json"),
            None => (
                serde_urlencoded_form(&self.form),
                "application/x-www-form-urlencoded",
            ),
        };
        let mut req = Request::builder()
            .method(self.method)
            .uri(&self.path)
            .header("host", "roster.test:3000");
        if self.method == "POST" {
            req = req.header(header::CONTENT_TYPE, content_type);
        }
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        let mut req = req.body(Body::from(body)).unwrap();
        req.extensions_mut().insert(ConnectInfo(self.client));
        let (method, path) = (self.method, self.path.clone());
        // A response that never completes fails the test with its request named, instead
        // of holding the whole run until CI's limit.
        let answer = async {
            let res = self.app.roster.router.clone().oneshot(req).await.unwrap();
            let status = res.status();
            let headers = res.headers().clone();
            let bytes = res.into_body().collect().await.unwrap().to_bytes();
            (status, headers, bytes)
        };
        let (status, headers, bytes) =
            tokio::time::timeout(std::time::Duration::from_secs(60), answer)
                .await
                .unwrap_or_else(|_| {
                    panic!("{method} {path} gave no complete response within 60 s")
                });
        let reply = Reply {
            status,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            bytes,
            headers,
        };
        // Every refusal of a server function carries the status of its kind; 500 is for
        // failures on the server only.
        if path.starts_with("/api/")
            && let Some(e) = reply.app_error()
        {
            assert_eq!(
                status.as_u16(),
                e.status(),
                "{method} {path} answered {e:?} with status {status}"
            );
        }
        reply
    }
}

fn serde_urlencoded_form(form: &[(String, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish()
}
