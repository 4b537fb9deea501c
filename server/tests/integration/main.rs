//! The HTTP, store, race and outbox tests, run on SQLite and PostgreSQL. They are one test
//! binary: each binary links the whole server, and one link instead of ten keeps the build
//! small on disk and fast.

#[macro_use]
mod common;

mod account_journey;
mod api_keys;
mod assets;
mod audit;
mod domains;
mod gateway;
mod hardening;
mod http_safety;
mod lockout;
mod nginx;
mod outbox;
mod rest_api;
mod roles;
mod schema;
mod store_races;
mod team;
mod team_races;
mod usage;
