//! Helpers for `scripts/bench`: time argon2 on one thread, and seed a verified user.

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
            let new = users::NewUser {
                email: &email,
                first_name: "Bench",
                last_name: "Mark",
                password_hash: &hash,
            };
            let user = users::insert_user(&mut tx, new, Some(org), now).await?;
            users::insert_membership(&mut tx, org, user, "owner", now).await?;
            users::mark_verified(&mut tx, user, now).await?;
            users::accept_terms(&mut tx, user, DEFAULT_TERMS_VERSION, now).await?;
            tx.commit().await?;
        }
    }
    Ok(())
}
