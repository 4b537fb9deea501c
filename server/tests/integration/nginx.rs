//! Debian's nginx in front of a small upstream that echoes what it receives, asking a real
//! Roster (listening on a port, on each database) about every call with the configuration
//! `docs/GATEWAY.md` publishes (`deploy/nginx/roster-gateway.conf`, only its three addresses
//! changed). `scripts/test` installs nginx; without it this test fails rather than skip.

use crate::common::*;
use crate::gateway::{count, key_of};
use app::authz::{CustomGrants, Feature, Grant, Grid, Level};
use app::error::PERMISSION_DENIED;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const OWNER: &str = "ada@example.com";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// nginx and the echo upstream, stopped when dropped.
struct Front {
    children: Vec<Child>,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Front {
    fn drop(&mut self) {
        for child in &mut self.children {
            // SIGTERM: nginx's master then stops its workers (a SIGKILL would orphan them).
            let pid = libc::pid_t::try_from(child.id()).expect("a process id");
            unsafe { libc::kill(pid, libc::SIGTERM) };
            let _ = child.wait();
        }
    }
}

impl Front {
    async fn start(roster: SocketAddr) -> Self {
        let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("nginx is missing: run scripts/test, which installs Debian's nginx");
        let (api, port) = (free_port(), free_port());
        let echo = Command::new("python3")
            .arg(repo().join("scripts/echo-upstream.py"))
            .arg(api.to_string())
            .stdout(Stdio::null())
            .spawn()
            .expect("start the echo upstream");
        let dir = tempfile::tempdir().unwrap();
        let published =
            std::fs::read_to_string(repo().join("deploy/nginx/roster-gateway.conf")).unwrap();
        let docs = std::fs::read_to_string(repo().join("docs/GATEWAY.md")).unwrap();
        assert!(
            docs.contains(&published),
            "docs/GATEWAY.md must show deploy/nginx/roster-gateway.conf as it is"
        );
        // The same set-up as the browser journeys: scripts/lib.sh's `gateway_config`.
        let d = dir.path().display().to_string();
        let written = Command::new("bash")
            .arg("-c")
            .arg(r#"source "$0" && gateway_config "$1" "$2" "$3" "$4""#)
            .arg(repo().join("scripts/lib.sh"))
            .args([
                &d,
                &roster.port().to_string(),
                &api.to_string(),
                &port.to_string(),
            ])
            .status()
            .expect("run bash");
        assert!(written.success());
        let site = std::fs::read_to_string(dir.path().join("site.conf")).unwrap();
        assert_ne!(site, published, "the published addresses were not found");
        let front = Command::new(nginx)
            .args(["-p", &d.to_string(), "-c", &format!("{d}/nginx.conf")])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start nginx");
        let started = Self {
            children: vec![echo, front],
            port,
            _dir: dir,
        };
        for p in [api, port] {
            let mut up = false;
            for _ in 0..100 {
                if tokio::net::TcpStream::connect(("127.0.0.1", p))
                    .await
                    .is_ok()
                {
                    up = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let log = std::fs::read_to_string(started._dir.path().join("error.log"));
            assert!(up, "port {p} did not open; nginx said: {log:?}");
        }
        started
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

/// Serves `app`'s router on a port, as `roster serve` does.
async fn listen(app: &TestApp) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app.roster.router.clone();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    addr
}

/// A call through nginx: (status, reason header, JSON body).
async fn call(
    front: &Front,
    method: reqwest::Method,
    path: &str,
    key: &str,
    extra: &[(&str, &str)],
) -> (u16, String, serde_json::Value) {
    let mut req = reqwest::Client::new()
        .request(method, front.url(path))
        .bearer_auth(key);
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let reason = r
        .headers()
        .get("x-roster-reason")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = r.json().await.unwrap_or(serde_json::Value::Null);
    (status, reason, body)
}

on_both!(
    nginx_asks_roster_about_every_call_and_passes_only_the_identity,
    |db| {
        let app = TestApp::new(db).await;
        let owner = app.member(OWNER).await;
        app.joined(&owner, "member@example.com", "member").await;
        app.joined(&owner, "visitor@example.com", "visitor").await;
        let mut eu = Grid::default();
        eu.set(Feature::Products, Grant::new(Level::Edit, false));
        let mut grants = CustomGrants::default();
        grants.regions.insert("EU".into(), eu);
        let r = app.save_role(&owner, None, "EU builders", &grants).await;
        let role = r.json().as_i64().unwrap();
        app.joined(&owner, "eu@example.com", &format!("custom-{role}"))
            .await;
        let front = Front::start(listen(&app).await).await;
        let member = key_of(&app, "member@example.com", None).await;
        let visitor = key_of(&app, "visitor@example.com", None).await;
        let eu_key = key_of(&app, "eu@example.com", None).await;
        use reqwest::Method;
        let mut checks = 0;

        // Allowed: the upstream is reached with the member's identity, without the key, and a
        // client's own identity headers are replaced.
        let (status, _, echo) = call(
            &front,
            Method::GET,
            "/products/widgets",
            &member,
            &[
                ("x-roster-email", "owner@evil.example"),
                ("x-api-key", &member),
                ("x-roster-region", "EU"),
                ("x-roster-need", "full"),
                ("x-original-method", "DELETE"),
            ],
        )
        .await;
        checks += 1;
        assert_eq!(status, 200, "{echo}");
        let seen = &echo["headers"];
        assert_eq!(seen["x-roster-email"], "member@example.com");
        assert_eq!(
            seen["x-roster-user"],
            app.user_id("member@example.com").await.to_string()
        );
        assert_eq!(seen["x-roster-role"], "member");
        assert!(seen.get("authorization").is_none(), "{seen}");
        assert!(seen.get("x-api-key").is_none(), "{seen}");
        assert_eq!(echo["path"], "/products/widgets");
        // The API hears what was checked, not what the client claimed.
        assert_eq!(seen["x-roster-feature"], "products");
        for claimed in ["x-roster-region", "x-roster-need", "x-original-method"] {
            assert!(
                seen.get(claimed).is_none(),
                "{claimed} reached the API: {seen}"
            );
        }

        // Wrong feature: the seed's sentence.
        let (status, reason, body) =
            call(&front, Method::GET, "/billing/invoices", &member, &[]).await;
        checks += 1;
        assert_eq!((status, reason.as_str()), (403, "insufficient_permission"));
        assert_eq!(body["message"], PERMISSION_DENIED);
        assert_eq!(body["reason"], "insufficient_permission");

        // A Visitor's POST, even one that claims to be a read.
        for extra in [
            &[][..],
            &[("x-roster-need", "view"), ("x-original-method", "GET")][..],
        ] {
            let (status, reason, _) =
                call(&front, Method::POST, "/products/new", &visitor, extra).await;
            checks += 1;
            assert_eq!((status, reason.as_str()), (403, "insufficient_permission"));
        }
        let (status, _, _) = call(&front, Method::GET, "/products/list", &visitor, &[]).await;
        checks += 1;
        assert_eq!(status, 200);

        // A region the role lacks; the one it has.
        let (status, reason, _) = call(&front, Method::POST, "/us/products/x", &eu_key, &[]).await;
        checks += 1;
        assert_eq!((status, reason.as_str()), (403, "region_denied"));
        let (status, _, _) = call(&front, Method::POST, "/eu/products/x", &eu_key, &[]).await;
        checks += 1;
        assert_eq!(status, 200);

        // Malformed: 401 with the reason, and not one lookup.
        let reads = app.roster.gateway.reads();
        let (status, reason, body) =
            call(&front, Method::GET, "/products/x", "rst_typo", &[]).await;
        checks += 1;
        assert_eq!((status, reason.as_str()), (401, "malformed_key"));
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("not a Roster API key")
        );
        let r = reqwest::Client::new()
            .get(front.url("/products/x"))
            .send()
            .await
            .unwrap();
        checks += 1;
        assert_eq!(r.status(), 401);
        assert_eq!(r.headers()["www-authenticate"], "Bearer");
        assert_eq!(r.headers()["x-roster-reason"], "missing_key");
        assert_eq!(app.roster.gateway.reads(), reads);

        // "Refresh" with "Immediately": the old key is refused, the new one works.
        let id = app.user_id("member@example.com").await.to_string();
        let key_id: i64 =
            sqlx::query_scalar("select id from api_keys where user_id = $1 and expires_at is null")
                .bind(app.user_id("member@example.com").await)
                .fetch_one(&app.roster.store.pool)
                .await
                .unwrap();
        let r = app
            .post(
                "refresh_api_key",
                &[
                    ("user_id", &id),
                    ("key_id", &key_id.to_string()),
                    ("grace", "now"),
                ],
            )
            .session(&owner)
            .send()
            .await;
        assert_eq!(r.error(), None, "{}", r.body);
        let (status, reason, _) = call(&front, Method::GET, "/products/x", &member, &[]).await;
        checks += 1;
        assert_eq!((status, reason.as_str()), (401, "key_expired"));
        let renewed = key_of(&app, "member@example.com", None).await;
        let (status, _, _) = call(&front, Method::GET, "/products/x", &renewed, &[]).await;
        checks += 1;
        assert_eq!(status, 200);

        // Revoked: refused on the next call; active again: works again.
        app.act(&owner, "member@example.com", "revoke").await;
        let (status, reason, _) = call(&front, Method::GET, "/products/x", &renewed, &[]).await;
        checks += 1;
        assert_eq!((status, reason.as_str()), (401, "member_inactive"));
        app.act(&owner, "member@example.com", "activate").await;
        let (status, _, _) = call(&front, Method::GET, "/products/x", &renewed, &[]).await;
        checks += 1;
        assert_eq!(status, 200);

        // A path outside the API is nginx's own 404, asked of no one.
        let r = reqwest::get(front.url("/elsewhere")).await.unwrap();
        assert_eq!(r.status(), 404);

        // N calls, N counted: every check above, and 250 more, 25 at a time.
        let client = reqwest::Client::new();
        let calls: Vec<_> = (0..25)
            .map(|_| {
                let (client, url, key) =
                    (client.clone(), front.url("/products/many"), renewed.clone());
                tokio::spawn(async move {
                    let mut statuses = Vec::new();
                    for _ in 0..10 {
                        let r = client.get(&url).bearer_auth(&key).send().await.unwrap();
                        statuses.push(r.status().as_u16());
                    }
                    statuses
                })
            })
            .collect();
        for c in calls {
            assert_eq!(c.await.unwrap(), [200; 10]);
        }
        checks += 250;
        assert!(app.roster.gateway.flush_usage().await);
        let counted = count(&app, "select cast(sum(calls) as bigint) from gateway_usage").await;
        assert_eq!(counted, checks);

        // Roster unreachable: a 503 with a JSON reason, never nginx's HTML 500.
        let dead: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let orphan = Front::start(dead).await;
        let r = reqwest::Client::new()
            .get(orphan.url("/products/x"))
            .bearer_auth(&renewed)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 503);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["reason"], "unavailable");
    }
);
