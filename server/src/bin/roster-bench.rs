//! Helpers for `scripts/bench`: time argon2 on one thread, seed a verified user, and seed an
//! organization with a large team.

use clap::{Parser, Subcommand};
use server::auth::password::{Hasher, Verified};
use server::clock::Clock;
use server::config::DEFAULT_TERMS_VERSION;
use server::db::{Store, users};

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
                let member = format!("member{i:05}@example.com");
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
    }
    Ok(())
}
