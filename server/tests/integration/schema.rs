//! The SQLite and PostgreSQL migrations are two folders written by hand; this keeps them
//! describing one schema: the same tables, columns (and whether they may be null), primary
//! keys, unique constraints, indexes, foreign keys and named check constraints.

use crate::common::*;
use server::db::Store;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Default, PartialEq, Eq)]
struct Table {
    /// (column, not null)
    columns: BTreeSet<(String, bool)>,
    primary_key: BTreeSet<String>,
    /// Column lists of unique constraints.
    unique: BTreeSet<String>,
    /// (name, unique, columns) of indexes made with `create index`.
    indexes: BTreeSet<(String, bool, String)>,
    /// (column, referenced table)
    foreign_keys: BTreeSet<(String, String)>,
    checks: BTreeSet<String>,
}

type Schema = BTreeMap<String, Table>;

async fn strings(store: &Store, sql: &str, bind: &str) -> Vec<String> {
    sqlx::query_scalar(sql)
        .bind(bind)
        .fetch_all(&store.pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn sqlite_schema(store: &Store) -> Schema {
    let mut schema = Schema::new();
    let tables = strings(
        store,
        "select name from sqlite_master where type = 'table' and name not like 'sqlite_%' \
         and name <> '_sqlx_migrations' and name <> $1",
        "",
    )
    .await;
    for name in tables {
        let mut t = Table::default();
        let cols: Vec<(String, i64, i64)> =
            sqlx::query_as("select name, \"notnull\", pk from pragma_table_info($1)")
                .bind(&name)
                .fetch_all(&store.pool)
                .await
                .unwrap();
        for (col, not_null, pk) in cols {
            // A primary key column is never null, whatever SQLite reports.
            t.columns.insert((col.clone(), not_null == 1 || pk > 0));
            if pk > 0 {
                t.primary_key.insert(col);
            }
        }
        let indexes: Vec<(String, i64, String)> =
            sqlx::query_as("select name, \"unique\", origin from pragma_index_list($1)")
                .bind(&name)
                .fetch_all(&store.pool)
                .await
                .unwrap();
        for (index, unique, origin) in indexes {
            let columns = strings(
                store,
                "select name from pragma_index_info($1) order by seqno",
                &index,
            )
            .await
            .join(",");
            match origin.as_str() {
                "c" => {
                    t.indexes.insert((index, unique == 1, columns));
                }
                "u" => {
                    t.unique.insert(columns);
                }
                _ => {}
            }
        }
        let fks: Vec<(String, String)> =
            sqlx::query_as("select \"from\", \"table\" from pragma_foreign_key_list($1)")
                .bind(&name)
                .fetch_all(&store.pool)
                .await
                .unwrap();
        t.foreign_keys.extend(fks);
        let sql = strings(
            store,
            "select sql from sqlite_master where type = 'table' and name = $1",
            &name,
        )
        .await
        .concat()
        .to_lowercase();
        let words: Vec<&str> = sql.split_whitespace().collect();
        for w in words.windows(3) {
            if w[0] == "constraint" && w[2].starts_with("check") {
                t.checks.insert(w[1].to_owned());
            }
        }
        schema.insert(name, t);
    }
    schema
}

async fn postgres_schema(store: &Store) -> Schema {
    let mut schema = Schema::new();
    let tables = strings(
        store,
        "select table_name::text from information_schema.tables where table_schema = 'public' \
         and table_type = 'BASE TABLE' and table_name <> '_sqlx_migrations' and table_name <> $1",
        "",
    )
    .await;
    for name in tables {
        let mut t = Table::default();
        let cols: Vec<(String, bool)> = sqlx::query_as(
            "select column_name::text, is_nullable = 'NO' from information_schema.columns \
             where table_schema = 'public' and table_name = $1",
        )
        .bind(&name)
        .fetch_all(&store.pool)
        .await
        .unwrap();
        t.columns.extend(cols);
        let indexes: Vec<(String, bool, bool, bool, String)> = sqlx::query_as(
            "select c.relname::text, ix.indisunique, ix.indisprimary, \
                    exists (select 1 from pg_constraint k where k.conindid = ix.indexrelid), \
                    coalesce((select string_agg(a.attname::text, ',' order by array_position(ix.indkey::int2[], a.attnum)) \
                     from pg_attribute a where a.attrelid = ix.indrelid and a.attnum = any(ix.indkey::int2[])), '') \
             from pg_index ix join pg_class c on c.oid = ix.indexrelid \
             where ix.indrelid = $1::regclass",
        )
        .bind(&name)
        .fetch_all(&store.pool)
        .await
        .unwrap();
        for (index, unique, primary, constraint, columns) in indexes {
            if primary {
                t.primary_key.extend(columns.split(',').map(str::to_owned));
            } else if constraint {
                t.unique.insert(columns);
            } else {
                t.indexes.insert((index, unique, columns));
            }
        }
        let fks: Vec<(String, String)> = sqlx::query_as(
            "select a.attname::text, f.relname::text from pg_constraint k \
             join pg_attribute a on a.attrelid = k.conrelid and a.attnum = k.conkey[1] \
             join pg_class f on f.oid = k.confrelid \
             where k.contype = 'f' and k.conrelid = $1::regclass",
        )
        .bind(&name)
        .fetch_all(&store.pool)
        .await
        .unwrap();
        t.foreign_keys.extend(fks);
        let checks = strings(
            store,
            "select conname::text from pg_constraint where contype = 'c' and conrelid = $1::regclass",
            &name,
        )
        .await;
        t.checks.extend(checks);
        schema.insert(name, t);
    }
    schema
}

/// The Team search is indexed differently by design, so each database's part of it is taken
/// out before the comparison (each must be there): SQLite's trigram tables (FTS5, with their
/// shadow tables) and the stable id members are keyed by in them; PostgreSQL's stored,
/// lower-cased name and its pg_trgm indexes.
fn set_search_apart(lite: &mut Schema, pg: &mut Schema) {
    for fts in ["member_search", "invitation_search"] {
        for suffix in ["", "_config", "_content", "_data", "_docsize", "_idx"] {
            let table = format!("{fts}{suffix}");
            assert!(lite.remove(&table).is_some(), "SQLite has no {table}");
        }
    }
    let m = lite.get_mut("memberships").unwrap();
    assert!(m.columns.remove(&("search_id".to_owned(), false)));
    assert!(m.indexes.remove(&(
        "memberships_by_search_id".to_owned(),
        true,
        "search_id".to_owned()
    )));
    let m = pg.get_mut("memberships").unwrap();
    assert!(m.columns.remove(&("search_name".to_owned(), true)));
    for (table, index, columns) in [
        ("memberships", "memberships_search_name", "search_name"),
        ("memberships", "memberships_search_email", "sort_email"),
        // An index over an expression names no column.
        ("invitations", "invitations_search_name", ""),
        ("invitations", "invitations_search_email", "email"),
    ] {
        let indexes = &mut pg.get_mut(table).unwrap().indexes;
        let found = indexes.iter().find(|(name, _, _)| name == index).cloned();
        assert_eq!(
            found
                .as_ref()
                .map(|(_, unique, cols)| (*unique, cols.as_str())),
            Some((false, columns)),
            "{index}"
        );
        indexes.remove(&found.unwrap());
    }
}

#[tokio::test]
async fn sqlite_and_postgres_migrations_make_the_same_schema() {
    let (sqlite_url, _dir) = fresh_database(Db::Sqlite).await;
    let (postgres_url, _) = fresh_database(Db::Postgres).await;
    let sqlite = Store::connect(&sqlite_url).await.unwrap();
    sqlite.migrate().await.unwrap();
    let postgres = Store::connect(&postgres_url).await.unwrap();
    postgres.migrate().await.unwrap();
    let (mut lite, mut pg) = (
        sqlite_schema(&sqlite).await,
        postgres_schema(&postgres).await,
    );
    set_search_apart(&mut lite, &mut pg);
    // The REST API's calls per key and minute are counted in PostgreSQL, for every instance;
    // a SQLite server, the only one on its database, counts them in memory.
    assert!(
        pg.remove("api_rate").is_some(),
        "PostgreSQL has no api_rate"
    );
    assert!(lite.len() >= 14, "{:?}", lite.keys());
    assert_eq!(
        lite.keys().collect::<Vec<_>>(),
        pg.keys().collect::<Vec<_>>(),
        "tables"
    );
    for (name, table) in &lite {
        assert_eq!(
            table, &pg[name],
            "table {name}: SQLite (left) and PostgreSQL (right)"
        );
    }
}

/// A SQLite database made by every migration before the first table rebuild, from the same
/// files.
async fn sqlite_before_rebuilds() -> (Store, Option<tempfile::TempDir>) {
    let (url, dir) = fresh_database(Db::Sqlite).await;
    let store = Store::connect(&url).await.unwrap();
    let folder = tempfile::tempdir().unwrap();
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations/sqlite");
    for entry in std::fs::read_dir(&source).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if name.as_str() < "20261202000001" {
            std::fs::copy(&path, folder.path().join(name)).unwrap();
        }
    }
    let before = sqlx::migrate::Migrator::new(folder.path()).await.unwrap();
    before.run(&store.pool).await.unwrap();
    (store, dir)
}

/// A SQLite database holding rows that reference each other keeps every row and key through
/// the table rebuilds.
#[tokio::test]
async fn sqlite_table_rebuilds_keep_a_populated_database() {
    let (store, _dir) = sqlite_before_rebuilds().await;
    let mut conn = store.pool.acquire().await.unwrap();
    for sql in [
        "insert into organizations (id, name, created_at) values (1, 'Acme', 1), (7, 'Beta', 1)",
        "insert into users (id, email, first_name, last_name, password_hash, default_org_id, \
         created_at, updated_at) values (3, 'a@example.com', 'A', 'B', 'x', 7, 1, 1)",
        "insert into roles (id, org_id, name, name_key, created_at, updated_at) \
         values (5, 7, 'Docs', 'docs', 1, 1)",
        "insert into memberships (org_id, user_id, role, role_id, status, joined_at) \
         values (7, 3, 'custom', 5, 'active', 1)",
        "insert into role_grants (role_id, region, feature, level, download) values (5, 'US', 'documentation', 2, 0)",
        "insert into invitations (id, org_id, email, first_name, last_name, role, role_id, \
         invited_by, created_at, sent_at, expires_at) \
         values (9, 7, 'b@example.com', 'B', 'C', 'custom', 5, 3, 1, 1, 1)",
        "insert into sessions (id, token_hash, user_id, org_id, created_at, last_seen_at, expires_at) \
         values (1, 'h', 3, 7, 1, 1, 9)",
    ] {
        sqlx::query(sql)
            .execute(&mut *conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    drop(conn);
    store.migrate().await.unwrap();
    let count = |sql: &'static str| {
        let pool = store.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    for (sql, want) in [
        ("select count(*) from pragma_foreign_key_check", 0),
        ("select count(*) from organizations", 2),
        ("select default_org_id from users where id = 3", 7),
        ("select role_id from memberships where user_id = 3", 5),
        ("select role_id from invitations where id = 9", 5),
        ("select count(*) from role_grants where role_id = 5", 1),
        ("select count(*) from sessions where user_id = 3", 1),
        // The ids carry on after the highest one ever used.
        ("select seq from sqlite_sequence where name = 'roles'", 5),
    ] {
        assert_eq!(count(sql).await, want, "{sql}");
    }
    // And the keys are enforced again.
    let orphan = sqlx::query(
        "insert into roles (org_id, name, name_key, created_at, updated_at) values (99, 'X', 'x', 1, 1)",
    )
    .execute(&store.pool)
    .await;
    assert!(orphan.is_err(), "a role in no organization was stored");
}

/// A database whose keys were already broken is not rebuilt: the migration refuses and rolls
/// back, and the server does not start on it.
#[tokio::test]
async fn sqlite_table_rebuilds_refuse_a_database_with_broken_keys() {
    let (store, _dir) = sqlite_before_rebuilds().await;
    let mut conn = store.pool.acquire().await.unwrap().detach();
    sqlx::query("pragma foreign_keys = off")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query(
        "insert into roles (id, org_id, name, name_key, created_at, updated_at) \
         values (5, 99, 'Orphan', 'orphan', 1, 1)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    drop(conn);
    assert!(store.migrate().await.is_err());
    let roles: String =
        sqlx::query_scalar("select sql from sqlite_master where type = 'table' and name = 'roles'")
            .fetch_one(&store.pool)
            .await
            .unwrap();
    assert!(!roles.contains("autoincrement"), "{roles}");
    let kept: i64 = sqlx::query_scalar("select count(*) from roles where id = 5")
        .fetch_one(&store.pool)
        .await
        .unwrap();
    assert_eq!(kept, 1);
}
