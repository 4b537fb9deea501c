//! Email: templates with a text and an HTML part, the transports, and the outbox worker.

mod templates;
pub mod transport;
pub mod worker;

pub use templates::{Rendered, Templates};
pub use transport::Transport;
pub use worker::Worker;

/// `ada@example.com` → `a***@example.com`, for logs.
pub fn mask(address: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".into(),
    }
}
