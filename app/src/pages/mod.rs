//! Route components.

pub mod audit;
pub mod auth;
pub mod billing;
pub mod home;
pub mod profile;
pub mod roles;
pub mod settings;
pub mod team;
pub mod usage;
