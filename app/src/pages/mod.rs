//! Route components.

pub mod auth;
pub mod home;
pub mod profile;
pub mod team;
