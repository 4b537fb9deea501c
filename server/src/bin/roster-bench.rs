//! Helpers for `scripts/bench`: time argon2 on one thread, seed a verified user, seed an
//! organization with a large team, make made-up API keys, call the gateway check an exact
//! number of times, and read the counts it stored.

use clap::{Parser, Subcommand};
use server::auth::password::{Hasher, Verified};
use server::clock::Clock;
use server::config::DEFAULT_TERMS_VERSION;
use server::db::{Store, users};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Prints the median milliseconds of one password verification on one thread.
    Argon2 {
        #[arg(long, default_value_t = 15)]
        iterations: usize,
    },
    /// Creates a verified user who has accepted the terms, as the sign-in storm's account.
    Seed {
        #[arg(long)]
        database_url: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        password: String,
    },
    /// Creates an organization whose Owner (`email`, `password`) has `members` more members
    /// and room for `seats` seats.
    SeedTeam {
        #[arg(long)]
        database_url: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        password: String,
        #[arg(long)]
        members: usize,
        #[arg(long)]
        seats: i64,
        /// Members' addresses are `<prefix>NNNNN@example.com`.
        #[arg(long, default_value = "member")]
        prefix: String,
    },
    /// Stores gateway counts for the first `members` members of `email`'s organization, as
    /// the roll-up leaves them: a row per member and hour for `hours_days` days (a refused one
    /// every seventh hour) and a row per member and day for `daily_days` days.
    SeedUsage {
        #[arg(long)]
        database_url: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        members: i64,
        #[arg(long)]
        hours_days: i64,
        #[arg(long)]
        daily_days: i64,
    },
    /// Writes `rows` audit rows (member changes by the Owner, a minute apart, ending now)
    /// into `email`'s organization, through the hash chain as the server writes them.
    SeedAudit {
        #[arg(long)]
        database_url: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        rows: i64,
    },
    /// Prints `count` well-formed API keys that were never issued, one per line.
    Keys {
        #[arg(long)]
        count: usize,
    },
    /// Calls `url` (the gateway check) exactly `requests` times with `key`, over
    /// `connections` connections, and prints the answers by status as JSON.
    Hammer {
        #[arg(long)]
        url: String,
        #[arg(long)]
        key: String,
        #[arg(long)]
        requests: u64,
        #[arg(long, default_value_t = 32)]
        connections: usize,
    },
    /// Prints the stored count of checks made with the keys of `email`.
    Counted {
        #[arg(long)]
        database_url: String,
        #[arg(long)]
        email: String,
    },
}

/// A verified user who accepted the terms, with an active membership.
async fn seed_user(
    tx: &mut server::db::Tx,
    org: i64,
    email: &str,
    names: (&str, &str),
    hash: &str,
    role: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    let new = users::NewUser {
        email,
        first_name: names.0,
        last_name: names.1,
        password_hash: hash,
    };
    let user = users::insert_user(tx, new, Some(org), now).await?;
    users::insert_membership(tx, org, user, role, now).await?;
    users::mark_verified(tx, user, now).await?;
    users::accept_terms(tx, user, DEFAULT_TERMS_VERSION, now).await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    match Cli::parse().command {
        Command::Argon2 { iterations } => {
            let hasher = Hasher::new(1);
            let stored = hasher.hash("a benchmark password").await?;
            let mut times = Vec::with_capacity(iterations);
            for _ in 0..iterations {
                let start = std::time::Instant::now();
                let ok = hasher.verify(&stored, "a benchmark password").await?;
                times.push(start.elapsed().as_secs_f64() * 1000.0);
                assert_eq!(ok, Verified::Yes);
            }
            times.sort_by(f64::total_cmp);
            println!("{:.3}", times[times.len() / 2]);
        }
        Command::Seed {
            database_url,
            email,
            password,
        } => {
            let store = Store::connect(&database_url).await?;
            store.migrate().await?;
            let hash = Hasher::new(1).hash(&password).await?;
            let now = Clock::system().now();
            let mut tx = store.write().await?;
            let org = users::insert_org(&mut tx, "Benchmark", now).await?;
            seed_user(&mut tx, org, &email, ("Bench", "Mark"), &hash, "owner", now).await?;
            tx.commit().await?;
        }
        Command::SeedTeam {
            database_url,
            email,
            password,
            members,
            seats,
            prefix,
        } => {
            const FIRST: [&str; 8] = [
                "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken",
            ];
            const LAST: [&str; 8] = [
                "Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson",
            ];
            let store = Store::connect(&database_url).await?;
            store.migrate().await?;
            let hash = Hasher::new(1).hash(&password).await?;
            let now = Clock::system().now();
            let mut tx = store.write().await?;
            let org = users::insert_org(&mut tx, "Large Team", now).await?;
            sqlx::query("update organizations set seat_limit = $1 where id = $2")
                .bind(seats)
                .bind(org)
                .execute(&mut *tx)
                .await?;
            seed_user(&mut tx, org, &email, ("Team", "Owner"), &hash, "owner", now).await?;
            // Members never sign in here, so one hash serves them all.
            for i in 0..members {
                let role = if i % 20 == 0 { "admin" } else { "member" };
                let names = (FIRST[i % 8], LAST[(i / 8) % 8]);
                let member = format!("{prefix}{i:05}@example.com");
                seed_user(
                    &mut tx,
                    org,
                    &member,
                    names,
                    &hash,
                    role,
                    now - i as i64 * 60_000,
                )
                .await?;
            }
            tx.commit().await?;
        }
        Command::SeedUsage {
            database_url,
            email,
            members,
            hours_days,
            daily_days,
        } => {
            use server::db::usage::{DAY_MINUTES, HOUR_MINUTES};
            let store = Store::connect(&database_url).await?;
            store.migrate().await?;
            let org: i64 = sqlx::query_scalar("select default_org_id from users where email = $1")
                .bind(&email)
                .fetch_one(&store.pool)
                .await?;
            let users: Vec<i64> = sqlx::query_scalar(
                "select user_id from memberships where org_id = $1 order by user_id limit $2",
            )
            .bind(org)
            .bind(members)
            .fetch_all(&store.pool)
            .await?;
            let now = Clock::system().now() / 60_000;
            let this_hour = now - now % HOUR_MINUTES;
            let today = now - now % DAY_MINUTES;
            // (table, time column, first bucket, bucket, buckets)
            let plans = [
                (
                    "usage_hourly",
                    "hour_start",
                    this_hour - hours_days * DAY_MINUTES,
                    HOUR_MINUTES,
                    hours_days * 24,
                ),
                (
                    "usage_daily",
                    "day_start",
                    today - daily_days * DAY_MINUTES,
                    DAY_MINUTES,
                    daily_days,
                ),
            ];
            for (table, column, first, step, buckets) in plans {
                let mut rows: Vec<(i64, i64, &str, i64)> = Vec::new();
                for b in 0..buckets {
                    let t = first + b * step;
                    for (i, user) in users.iter().enumerate() {
                        let calls = 1 + (b + i as i64) % 17;
                        rows.push((t, *user, "allowed", calls));
                        if (b + i as i64) % 7 == 0 {
                            rows.push((t, *user, "insufficient_permission", 1));
                        }
                    }
                }
                let mut tx = store.write().await?;
                for chunk in rows.chunks(400) {
                    let values: Vec<String> = (0..chunk.len())
                        .map(|r| {
                            format!(
                                "($1, ${}, ${}, 'products', '', ${}, ${})",
                                r * 4 + 2,
                                r * 4 + 3,
                                r * 4 + 4,
                                r * 4 + 5
                            )
                        })
                        .collect();
                    let sql = format!(
                        "insert into {table} (org_id, {column}, user_id, feature, region, outcome, calls) values {}",
                        values.join(", ")
                    );
                    let mut q = sqlx::query(&sql).bind(org);
                    for (t, user, outcome, calls) in chunk {
                        q = q.bind(*t).bind(*user).bind(*outcome).bind(*calls);
                    }
                    q.execute(&mut *tx).await?;
                }
                tx.commit().await?;
            }
            sqlx::query(
                "update usage_rollup set hourly_through = $1, daily_through = $2 where id = 1",
            )
            .bind(this_hour)
            .bind(today)
            .execute(&store.pool)
            .await?;
        }
        Command::Keys { count } => {
            for _ in 0..count {
                println!("{}", server::auth::api_key::ApiKey::generate().expose());
            }
        }
        Command::Hammer {
            url,
            key,
            requests,
            connections,
        } => {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(connections)
                .build()?;
            let next = Arc::new(AtomicU64::new(0));
            let workers: Vec<_> = (0..connections)
                .map(|_| {
                    let (client, next, url, key) =
                        (client.clone(), next.clone(), url.clone(), key.clone());
                    tokio::spawn(async move {
                        let mut seen: BTreeMap<String, u64> = BTreeMap::new();
                        while next.fetch_add(1, Ordering::Relaxed) < requests {
                            let answer = client
                                .get(&url)
                                .bearer_auth(&key)
                                .header("x-roster-feature", "products")
                                .header("x-original-method", "GET")
                                .send()
                                .await;
                            let status = match answer {
                                Ok(r) => r.status().as_u16().to_string(),
                                Err(_) => "error".to_owned(),
                            };
                            *seen.entry(status).or_default() += 1;
                        }
                        seen
                    })
                })
                .collect();
            let mut total: BTreeMap<String, u64> = BTreeMap::new();
            for w in workers {
                for (status, n) in w.await? {
                    *total.entry(status).or_default() += n;
                }
            }
            println!("{}", serde_json::to_string(&total)?);
        }
        Command::SeedAudit {
            database_url,
            email,
            rows,
        } => {
            use server::db::audit;
            let store = Store::connect(&database_url).await?;
            let (user, org): (i64, i64) =
                sqlx::query_as("select id, default_org_id from users where email = $1")
                    .bind(&email)
                    .fetch_one(&store.pool)
                    .await?;
            let now = Clock::system().now();
            const ACTIONS: [&str; 4] = [
                "member.promote",
                "member.demote",
                "invitation.sent",
                "api_key.copied",
            ];
            let origin = audit::Origin {
                client_ip: Some("198.51.100.20".into()),
                user_agent: Some("roster-bench".into()),
                request_id: Some("0123456789abcdef01234567".into()),
            };
            for chunk in (0..rows).collect::<Vec<_>>().chunks(5_000) {
                let mut tx = store.write().await?;
                for &i in chunk {
                    let target = format!("person{:06}@example.com", i % 50_000);
                    let entry = audit::Entry {
                        org_id: Some(org),
                        actor_user_id: Some(user),
                        action: ACTIONS[(i % 4) as usize],
                        target: Some(&target),
                        detail: Some(r#"{"before":{"role":"member"},"after":{"role":"admin"}}"#),
                        via: None,
                    };
                    let at = now - (rows - i) * 60_000;
                    origin
                        .clone()
                        .scope(audit::record(&mut tx, entry, at))
                        .await?;
                }
                tx.commit().await?;
            }
        }
        Command::Counted {
            database_url,
            email,
        } => {
            let store = Store::connect(&database_url).await?;
            let calls: i64 = sqlx::query_scalar(
                "select cast(coalesce(sum(g.calls), 0) as bigint) from gateway_usage g \
                 join users u on u.id = g.user_id where u.email = $1",
            )
            .bind(&email)
            .fetch_one(&store.pool)
            .await?;
            println!("{calls}");
        }
    }
    Ok(())
}
