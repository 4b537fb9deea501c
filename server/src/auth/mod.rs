//! Passwords, secrets and tokens.

pub mod password;
pub mod token;
