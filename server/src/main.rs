use clap::{Parser, Subcommand};
use leptos::prelude::LeptosOptions;
use server::clock::Clock;
use server::config::Config;
use std::net::SocketAddr;
use std::process::ExitCode;

/// Roster: the team and members portal for API products.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web app and run the background workers (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check each organization's hash chain and report the first broken link; exits with 1
    /// when one is broken.
    Verify {
        /// Only this organization (its id).
        #[arg(long)]
        org: Option<i64>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let _ = dotenvy::dotenv();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("roster: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Migrate => migrate(config).await,
        Command::Audit {
            command: AuditCommand::Verify { org },
        } => match verify_audit(config, org).await {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::from(1),
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("roster: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn migrate(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    let store = server::db::Store::connect(&config.database_url).await?;
    store.migrate().await?;
    println!("migrations applied");
    Ok(())
}

/// Verifies the audit log's chains; true when every one is whole.
async fn verify_audit(
    config: Config,
    org: Option<i64>,
) -> Result<bool, Box<dyn std::error::Error>> {
    let store = server::db::Store::connect(&config.database_url).await?;
    let mut conn = store.pool.acquire().await?;
    let orgs: Vec<i64> = match org {
        Some(id) => vec![id],
        None => {
            sqlx::query_scalar("select id from organizations order by id")
                .fetch_all(&mut *conn)
                .await?
        }
    };
    let mut whole = true;
    for org_id in orgs {
        let verified = server::db::audit::verify(&mut conn, org_id).await?;
        match verified.broken {
            None => println!(
                "organization {org_id}: {} rows, the chain is whole",
                verified.rows
            ),
            Some(b) => {
                whole = false;
                let row = b
                    .row_id
                    .map(|id| format!(" (audit_log id {id})"))
                    .unwrap_or_default();
                println!(
                    "organization {org_id}: BROKEN at row {}{row}: {}; {} rows before it are whole",
                    b.seq, b.reason, verified.rows
                );
            }
        }
    }
    Ok(whole)
}

/// The Leptos settings cargo-leptos passes in the environment, with defaults for a binary
/// started on its own.
fn leptos_options() -> Result<LeptosOptions, Box<dyn std::error::Error>> {
    if std::env::var_os("LEPTOS_OUTPUT_NAME").is_some() {
        return Ok(leptos::prelude::get_configuration(None)?.leptos_options);
    }
    let addr: SocketAddr = std::env::var("LEPTOS_SITE_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:3000".into())
        .parse()
        .map_err(|_| "LEPTOS_SITE_ADDR is not valid: use host:port, like 127.0.0.1:3000")?;
    let site_root = std::env::var("LEPTOS_SITE_ROOT").unwrap_or_else(|_| "target/site".into());
    Ok(LeptosOptions::builder()
        .output_name("roster")
        .site_root(site_root)
        .site_addr(addr)
        .hash_files(std::env::var("LEPTOS_HASH_FILES").is_ok_and(|v| v == "true"))
        .build())
}

async fn serve(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    let options = leptos_options()?;
    let addr = options.site_addr;
    let public = config.public_url.to_string();
    let roster = server::build(config, options, Clock::system()).await?;
    tokio::spawn(roster.worker.run());
    tokio::spawn(roster.housekeeping.run());
    tokio::spawn(roster.settings.clone().recheck_domains());
    tokio::spawn(roster.gateway.clone().write_usage());
    let events = roster.events.clone();
    let gateway = roster.gateway.clone();
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, %public, "Roster is listening");
    let served = axum::serve(
        listener,
        roster
            .router
            .into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        // Live-update streams never end by themselves: end them so the shutdown can finish.
        events.stop();
    })
    .await;
    // The counts of the last checks, written before the process ends, however serving ended;
    // a database that fails is given a few more seconds.
    let mut written = gateway.flush_usage().await;
    for _ in 0..5 {
        if written {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        written = gateway.flush_usage().await;
    }
    if !written {
        tracing::error!(
            batches = gateway.usage.unwritten(),
            "gateway usage could not be written at shutdown; these counts are lost"
        );
    }
    served?;
    Ok(())
}

/// Ctrl-C, or SIGTERM (what `docker stop` and systemd send).
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}
