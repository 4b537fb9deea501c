use crate::config::MailTransport;
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

/// Why a send failed, and whether trying again can help.
#[derive(Debug)]
pub struct SendError {
    pub permanent: bool,
    pub reason: String,
}

pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Mailbox(AsyncFileTransport<Tokio1Executor>),
}

impl Transport {
    pub fn from_config(config: &MailTransport) -> Result<Self, String> {
        match config {
            MailTransport::Smtp(url) => {
                let t = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| format!("SMTP_URL is not valid: {e}"))?
                    .timeout(Some(Duration::from_secs(15)))
                    .build();
                Ok(Self::Smtp(t))
            }
            MailTransport::Mailbox(dir) => {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("cannot create MAILBOX_DIR {}: {e}", dir.display()))?;
                Ok(Self::Mailbox(AsyncFileTransport::new(dir)))
            }
        }
    }

    pub async fn send(
        &self,
        from: &Mailbox,
        to: &str,
        subject: &str,
        text: &str,
        html: &str,
    ) -> Result<(), SendError> {
        let to: Mailbox = to.parse().map_err(|e| SendError {
            permanent: true,
            reason: format!("recipient rejected: {e}"),
        })?;
        let message = Message::builder()
            .from(from.clone())
            .to(to)
            .subject(subject)
            .multipart(MultiPart::alternative_plain_html(
                text.to_owned(),
                html.to_owned(),
            ))
            .map_err(|e| SendError {
                permanent: true,
                reason: format!("message not built: {e}"),
            })?;
        match self {
            Self::Smtp(t) => t.send(message).await.map(|_| ()).map_err(|e| SendError {
                permanent: e.is_permanent(),
                reason: e.to_string(),
            }),
            Self::Mailbox(t) => t.send(message).await.map(|_| ()).map_err(|e| SendError {
                permanent: false,
                reason: e.to_string(),
            }),
        }
    }
}
