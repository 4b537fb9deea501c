//! Passwords, secrets and tokens.

pub mod api_key;
pub mod password;
pub mod secret;
pub mod token;
