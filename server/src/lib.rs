#![recursion_limit = "256"]
//! Roster's server: the database, email, HTTP surface and background workers.

pub mod auth;
pub mod clock;
pub mod config;
pub mod db;
pub mod dns;
pub mod domains;
pub mod events;
pub mod gateway;
pub mod housekeeping;
pub mod http;
pub mod mail;
pub mod services;

use app::ports::Services;
use clock::Clock;
use config::Config;
use db::Store;
use leptos::prelude::LeptosOptions;
use std::sync::Arc;
use tokio::sync::Notify;

/// mimalloc instead of the system allocator: a page render makes thousands of small
/// allocations, which glibc's malloc served at a third of the CPU time, and glibc kept freed
/// memory in one arena per thread, so the process grew under load and never shrank; mimalloc
/// returns freed pages to the system within milliseconds (argon2's 19 MiB blocks included).
/// Set in the library, so the server, its tests and the benchmark helper all run on it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's defaults changed before its first allocation (a constructor runs before `main`
/// and before the runtime allocates). Its `MIMALLOC_*` environment variables still win.
///
/// Arenas are committed as they are used, not all at once: with the kernel's transparent huge
/// pages on ("always", as on Debian), a wholly committed arena is filled 2 MiB at a time, and
/// an idle server held 50 MiB instead of 42.
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static TUNE_ALLOCATOR: extern "C" fn() = tune_allocator;

/// `mi_option_arena_eager_commit` in mimalloc.h (v2 and v3), which the crate does not name.
#[cfg(target_os = "linux")]
const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;

#[cfg(target_os = "linux")]
extern "C" fn tune_allocator() {
    // SAFETY: sets one entry of mimalloc's option table; called once, before any thread.
    unsafe { libmimalloc_sys::mi_option_set_default(ARENA_EAGER_COMMIT, 0) }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open the database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("cannot apply migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Mail(String),
    #[error("cannot listen for live updates: {0}")]
    Events(sqlx::Error),
    #[error(transparent)]
    Secret(#[from] auth::secret::SecretError),
    #[error(transparent)]
    Keys(#[from] services::keys::StartCheck),
    #[error("cannot issue the missing API keys")]
    IssueKeys,
}

/// Everything a running Roster is made of, wired together.
pub struct Roster {
    pub router: axum::Router,
    pub worker: mail::Worker,
    pub housekeeping: housekeeping::Housekeeping,
    pub accounts: services::AccountService,
    pub team: services::TeamService,
    pub org: services::OrgService,
    pub usage: services::UsageService,
    pub settings: services::SettingsService,
    pub events: events::Events,
    pub gateway: gateway::Gateway,
    pub store: Store,
}

/// Opens and migrates the database and wires the services, router and outbox worker.
pub async fn build(
    config: Config,
    leptos_options: LeptosOptions,
    clock: Clock,
) -> Result<Roster, StartError> {
    let store = Store::connect(&config.database_url).await?;
    store.migrate().await?;
    let keys = Arc::new(auth::secret::Keys::derive(&config.secret.load()?));
    services::keys::check_secret(&store, &keys, &config.secret).await?;
    let transport = mail::Transport::from_config(&config.mail).map_err(StartError::Mail)?;
    let from = config
        .mail_from
        .parse()
        .map_err(|_| StartError::Mail("MAIL_FROM is not a mailbox".into()))?;
    let events = events::Events::start(&store, &config.database_url)
        .await
        .map_err(StartError::Events)?;
    let config = Arc::new(config);
    let wake = Arc::new(Notify::new());
    let limits = Arc::new(services::Limits::new(
        config.password_checks_per_client_per_minute,
    ));
    let housekeeping = housekeeping::Housekeeping {
        store: store.clone(),
        clock: clock.clone(),
        limits: limits.clone(),
        usage_retention: config.usage_retention,
        audit_retention: config.audit_retention,
        usage_written: events.usage_written.clone(),
    };
    let accounts = services::AccountService {
        store: store.clone(),
        clock: clock.clone(),
        hasher: auth::password::Hasher::new(config.hash_workers),
        templates: Arc::new(mail::Templates::default()),
        config: config.clone(),
        limits,
        mail_wake: wake.clone(),
        keys: keys.clone(),
        events: events.clone(),
        catalog: Arc::new(services::catalog::Catalog::new(events.watch.clone())),
    };
    accounts
        .issue_missing_api_keys()
        .await
        .map_err(|_| StartError::IssueKeys)?;
    let worker = mail::Worker {
        store: store.clone(),
        transport: Arc::new(transport),
        from,
        clock,
        wake,
        lease: mail::worker::LEASE,
        max_attempts: mail::worker::MAX_ATTEMPTS,
        concurrency: mail::worker::CONCURRENCY,
    };
    let team = services::TeamService {
        accounts: accounts.clone(),
        events: events.clone(),
    };
    let org = services::OrgService { team: team.clone() };
    let usage = services::UsageService::new(accounts.clone());
    let audit = services::AuditService::new(accounts.clone());
    let settings = services::SettingsService {
        team: team.clone(),
        dns: dns::Dns {
            server: config.dns_server,
        },
        rules: Arc::new(config.domain_rules.clone()),
    };
    let gateway = gateway::Gateway::new(
        store.clone(),
        accounts.clock.clone(),
        keys,
        events.watch.clone(),
        events.usage_written.clone(),
        config.gateway_calls_per_key_per_minute,
    );
    let state = http::AppState {
        leptos_options,
        services: Services {
            accounts: Arc::new(accounts.clone()),
            team: Arc::new(team.clone()),
            org: Arc::new(org.clone()),
            usage: Arc::new(usage.clone()),
            audit: Arc::new(audit.clone()),
            settings: Arc::new(settings.clone()),
        },
        cookie_name: accounts.cookie_name(),
        config,
        events: events.clone(),
        gateway: gateway.clone(),
        usage: usage.clone(),
        audit,
        accounts: accounts.clone(),
        api_calls: Arc::new(http::rest::CallCounter::new(store.backend)),
    };
    Ok(Roster {
        router: http::router(state),
        worker,
        housekeeping,
        accounts,
        team,
        org,
        usage,
        settings,
        events,
        gateway,
        store,
    })
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    /// The constructor ran before the test harness (unless the environment overrides it).
    #[test]
    fn arenas_are_committed_on_demand() {
        if std::env::var_os("MIMALLOC_ARENA_EAGER_COMMIT").is_none() {
            // SAFETY: reads one entry of mimalloc's option table.
            assert_eq!(
                unsafe { libmimalloc_sys::mi_option_get(super::ARENA_EAGER_COMMIT) },
                0
            );
        }
    }
}
