//! The store: one set of portable SQL on SQLite or PostgreSQL, chosen by the database URL.

pub mod api_keys;
pub mod api_requests;
pub mod audit;
pub mod domains;
pub mod outbox;
pub mod roles;
pub mod sessions;
pub mod team;
pub mod throttle;
pub mod tokens;
pub mod usage;
pub mod users;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Connection, Executor, Transaction};
use std::str::FromStr;
use std::time::Duration;

pub type Tx = Transaction<'static, sqlx::Any>;
pub type Conn = sqlx::AnyConnection;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Store {
    pub pool: AnyPool,
    pub backend: Backend,
}

static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// SQLite connections in the pool: two per core, 4 to 8. Each holds its own page cache,
/// schema and prepared statements (several MiB once the Team page's variants are prepared),
/// and reads beyond the cores only wait for them; SQLite writes one at a time anyway.
fn sqlite_connections() -> u32 {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores * 2).clamp(4, 8) as u32
}

impl Store {
    /// Opens the database (creating a SQLite file and its folder when missing).
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        sqlx::any::install_default_drivers();
        let (backend, url) = if let Some(path) = crate::config::sqlite_path(url) {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| sqlx::Error::Configuration(e.into()))?;
            }
            let url = if url.contains('?') {
                url.to_owned()
            } else {
                format!("{url}?mode=rwc")
            };
            (Backend::Sqlite, url)
        } else {
            (Backend::Postgres, url.to_owned())
        };
        let options = AnyConnectOptions::from_str(&url)?;
        let pool = match backend {
            Backend::Sqlite => {
                AnyPoolOptions::new()
                    .max_connections(sqlite_connections())
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute(
                                "pragma journal_mode = wal; pragma synchronous = normal; \
                                 pragma foreign_keys = on; pragma busy_timeout = 10000;",
                            )
                            .await?;
                            Ok(())
                        })
                    })
                    .connect_with(options)
                    .await?
            }
            Backend::Postgres => {
                AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options)
                    .await?
            }
        };
        Ok(Self { pool, backend })
    }

    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        match self.backend {
            Backend::Sqlite => Self::migrate_sqlite(self.pool.acquire().await?.detach()).await?,
            Backend::Postgres => POSTGRES.run(&self.pool).await?,
        }
        // Audit rows written before the hash chain existed join it, once.
        let mut tx = self.write().await?;
        let sealed = audit::seal_unchained(&mut tx).await?;
        tx.commit().await?;
        if sealed > 0 {
            tracing::info!(sealed, "audit rows chained");
        }
        Ok(())
    }

    /// Rebuilding a table, SQLite's only way to change a column, needs foreign keys off, and
    /// SQLite ignores that switch inside a transaction. So the migrations run on a connection
    /// of their own (never returned to the pool) with the keys off; a rebuilding migration
    /// checks the keys before it commits, and every key is checked again once any ran.
    async fn migrate_sqlite(mut conn: Conn) -> Result<(), sqlx::migrate::MigrateError> {
        conn.execute("pragma foreign_keys = off").await?;
        let applied = "select count(*) from _sqlx_migrations";
        // No table yet: a new database.
        let before: i64 = sqlx::query_scalar(applied)
            .fetch_one(&mut conn)
            .await
            .unwrap_or(0);
        SQLITE.run_direct(&mut conn).await?;
        let after: i64 = sqlx::query_scalar(applied).fetch_one(&mut conn).await?;
        let broken: Option<String> = if after == before {
            None
        } else {
            sqlx::query_scalar("select \"table\" from pragma_foreign_key_check limit 1")
                .fetch_optional(&mut conn)
                .await?
        };
        conn.close().await?;
        match broken {
            Some(table) => Err(sqlx::migrate::MigrateError::Execute(sqlx::Error::Protocol(
                format!("the migrations left rows in {table} whose foreign keys point nowhere"),
            ))),
            None => Ok(()),
        }
    }

    /// A read-only transaction whose statements all see the database as it was at its first
    /// read (SQLite's WAL keeps that snapshot; PostgreSQL needs REPEATABLE READ for it).
    pub async fn snapshot(&self) -> Result<Tx, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin().await,
            Backend::Postgres => {
                self.pool
                    .begin_with("begin transaction isolation level repeatable read read only")
                    .await
            }
        }
    }

    /// A write transaction. On SQLite it takes the write lock up front (`BEGIN IMMEDIATE`),
    /// so a transaction that reads before it writes waits for the busy timeout instead of failing.
    pub async fn write(&self) -> Result<Tx, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("begin immediate").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }
}

/// True when the error is a unique-constraint violation (on either backend).
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// A value bound to a named parameter of `named`.
#[derive(Clone, Debug)]
pub enum Arg {
    Int(i64),
    Text(String),
}

/// SQL written with named parameters (`$org`, `$now`) as the numbered ones both databases
/// take, numbered in order of first use, and the values to bind in that order. Statements
/// built from optional parts then bind exactly the parameters they use (PostgreSQL refuses
/// a value for a parameter the statement does not name).
pub fn named(sql: &str, args: &[(&str, Arg)]) -> (String, Vec<Arg>) {
    let mut out = String::with_capacity(sql.len());
    let mut used: Vec<&str> = Vec::new();
    let mut binds = Vec::new();
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let len = after
            .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
            .unwrap_or(after.len());
        let name = &after[..len];
        let Some((_, value)) = args.iter().find(|(n, _)| *n == name) else {
            panic!("SQL names an unbound parameter ${name}");
        };
        let number = match used.iter().position(|n| *n == name) {
            Some(i) => i + 1,
            None => {
                used.push(name);
                binds.push(value.clone());
                used.len()
            }
        };
        out.push_str(&format!("${number}"));
        rest = &after[len..];
    }
    out.push_str(rest);
    (out, binds)
}

/// Binds `args` (from `named`) to `query` in order.
pub fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    args: Vec<Arg>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for a in args {
        query = match a {
            Arg::Int(v) => query.bind(v),
            Arg::Text(v) => query.bind(v),
        };
    }
    query
}
