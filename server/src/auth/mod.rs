//! Passwords, secrets and tokens.

pub mod api_key;
pub mod password;
pub mod token;
