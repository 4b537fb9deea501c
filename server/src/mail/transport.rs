use crate::config::MailTransport;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
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
            .multipart(
                MultiPart::alternative()
                    .singlepart(plain_text(text))
                    .singlepart(SinglePart::html(html.to_owned())),
            )
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

/// The text part as 8-bit (RFC 6152), so links read whole in a mailbox file. lettre would pick
/// quoted-printable for any line over 76 characters, which breaks long links for a human reader;
/// 8-bit allows lines up to 998 bytes, and longer text falls back to lettre's own choice.
fn plain_text(text: &str) -> SinglePart {
    let crlf = text.replace("\r\n", "\n").replace('\n', "\r\n");
    let body = if crlf.split("\r\n").all(|line| line.len() <= 998) && !crlf.contains('\0') {
        Body::dangerous_pre_encoded(crlf.into_bytes(), ContentTransferEncoding::EightBit)
    } else {
        Body::new(text.to_owned())
    };
    SinglePart::builder()
        .header(ContentType::TEXT_PLAIN)
        .body(body)
}
