//! Typed settings from the environment, validated at start.

use crate::auth::secret::{MasterKey, SecretSource};
use std::path::{Path, PathBuf};
use url::Url;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is not valid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// Where outgoing email goes.
#[derive(Clone, Debug)]
pub enum MailTransport {
    /// An SMTP server (`SMTP_URL`, e.g. `smtp://127.0.0.1:1025` or `smtps://user:pass@host`).
    Smtp(String),
    /// `.eml` files in a local folder (`MAILBOX_DIR`), the default.
    Mailbox(PathBuf),
}

#[derive(Clone, Debug)]
pub struct Config {
    pub database_url: String,
    pub public_url: Url,
    pub mail: MailTransport,
    pub mail_from: String,
    pub trust_proxy_headers: bool,
    pub hash_workers: usize,
    pub terms_version: String,
    pub invite_quota: InviteQuota,
    /// Password checks (sign-ins, "Sign in to accept") one client address may make per
    /// minute, right or wrong (`PASSWORD_CHECKS_PER_CLIENT_PER_MINUTE`): each costs an argon2
    /// hash, so someone signing in with their own password in a loop cannot fill the hashing
    /// queue for everyone else.
    pub password_checks_per_client_per_minute: u32,
    /// Gateway checks one API key may pass per minute (`GATEWAY_CALLS_PER_KEY_PER_MINUTE`;
    /// unset: no limit). Checks past it are refused as `rate_limited`.
    pub gateway_calls_per_key_per_minute: Option<u32>,
    /// REST API calls one API key may make per minute (`API_CALLS_PER_KEY_PER_MINUTE`,
    /// default 600; 0: no limit), counted in the database across instances.
    pub api_calls_per_key_per_minute: Option<u32>,
    /// How long usage counts are kept per minute, hour and day (`USAGE_MINUTES_KEEP_HOURS`,
    /// default 48; `USAGE_HOURLY_KEEP_DAYS`, 90; `USAGE_DAILY_KEEP_DAYS`, 730).
    pub usage_retention: crate::db::usage::Retention,
    /// The nameserver domain verification asks (`DNS_SERVER`); none for the system's.
    pub dns_server: Option<std::net::SocketAddr>,
    /// The operator's additions to and exceptions from the refused domains
    /// (`DOMAIN_RULES_FILE`).
    pub domain_rules: crate::domains::DomainRules,
    /// How long audit rows are kept (`AUDIT_RETENTION_DAYS`, default 400).
    pub audit_retention: crate::clock::Millis,
    /// The server secret that API keys are hashed and sealed with: `SECRET_KEY` (64
    /// hexadecimal characters), or else `secret.key` beside the SQLite database (`data/`
    /// for PostgreSQL), created on first run.
    pub secret: SecretSource,
}

/// How much invitation email Roster sends, so "Resend Invitation" in a loop cannot flood an
/// inbox from the operator's domain. Counted in the database: it holds across instances.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InviteQuota {
    /// Seconds before one invitation may be sent again (`INVITE_RESEND_COOLDOWN_SECONDS`).
    pub resend_cooldown_secs: i64,
    /// Invitations one address receives per 24 hours, from all organizations together
    /// (`INVITES_PER_ADDRESS_PER_DAY`).
    pub per_address_per_day: i64,
    /// Invitations an organization sends per hour, per seat of its limit
    /// (`INVITES_PER_SEAT_PER_HOUR`), and never fewer than `ORG_HOURLY_FLOOR`.
    pub per_seat_per_hour: i64,
}

impl InviteQuota {
    pub const ORG_HOURLY_FLOOR: i64 = 20;

    /// The most invitations an organization with `seat_limit` seats sends in an hour.
    pub fn org_per_hour(&self, seat_limit: i64) -> i64 {
        seat_limit
            .saturating_mul(self.per_seat_per_hour)
            .max(Self::ORG_HOURLY_FLOOR)
    }
}

pub const DEFAULT_TERMS_VERSION: &str = "2026-11-01";

impl Config {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let database_url = get("DATABASE_URL").unwrap_or_else(|| "sqlite://data/roster.db".into());
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(ConfigError::Invalid {
                name: "DATABASE_URL",
                reason: "use sqlite://path/to/file.db or postgres://user@host/db".into(),
            });
        }
        let secret = match get("SECRET_KEY") {
            Some(hex) => SecretSource::Given(MasterKey::parse_hex(hex.trim()).ok_or_else(|| {
                ConfigError::Invalid {
                    name: "SECRET_KEY",
                    reason: "use 64 hexadecimal characters (32 random bytes), e.g. from `openssl rand -hex 32`".into(),
                }
            })?),
            None => SecretSource::File(
                sqlite_path(&database_url)
                    .and_then(|p| p.parent())
                    .filter(|d| !d.as_os_str().is_empty())
                    .unwrap_or(Path::new("data"))
                    .join("secret.key"),
            ),
        };
        let public_url = get("PUBLIC_URL").unwrap_or_else(|| "http://127.0.0.1:3000".into());
        let public_url = Url::parse(&public_url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .ok_or_else(|| ConfigError::Invalid {
                name: "PUBLIC_URL",
                reason: "use the address people open, like https://roster.example.com".into(),
            })?;
        let mail = match get("SMTP_URL") {
            Some(url) => {
                if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
                    return Err(ConfigError::Invalid {
                        name: "SMTP_URL",
                        reason: "use smtp://host:port or smtps://user:password@host".into(),
                    });
                }
                MailTransport::Smtp(url)
            }
            None => MailTransport::Mailbox(
                get("MAILBOX_DIR")
                    .unwrap_or_else(|| "data/mailbox".into())
                    .into(),
            ),
        };
        let mail_from =
            get("MAIL_FROM").unwrap_or_else(|| "Roster <no-reply@roster.invalid>".into());
        if mail_from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(ConfigError::Invalid {
                name: "MAIL_FROM",
                reason: "use a mailbox like Roster <no-reply@example.com>".into(),
            });
        }
        let trust_proxy_headers = match get("TRUST_PROXY_HEADERS").as_deref() {
            None | Some("false") | Some("0") => false,
            Some("true") | Some("1") => true,
            Some(_) => {
                return Err(ConfigError::Invalid {
                    name: "TRUST_PROXY_HEADERS",
                    reason: "use true or false".into(),
                });
            }
        };
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let hash_workers = match get("PASSWORD_HASH_WORKERS") {
            None => cores,
            Some(v) => v
                .parse()
                .ok()
                .filter(|n| (1..=256).contains(n))
                .ok_or_else(|| ConfigError::Invalid {
                    name: "PASSWORD_HASH_WORKERS",
                    reason: "use a whole number from 1 to 256".into(),
                })?,
        };
        let terms_version = get("TERMS_VERSION").unwrap_or_else(|| DEFAULT_TERMS_VERSION.into());
        let whole = |name: &'static str, default: i64, max: i64| match get(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| ConfigError::Invalid {
                    name,
                    reason: format!("use a whole number from 1 to {max}"),
                }),
        };
        let invite_quota = InviteQuota {
            resend_cooldown_secs: whole("INVITE_RESEND_COOLDOWN_SECONDS", 60, 86_400)?,
            per_address_per_day: whole("INVITES_PER_ADDRESS_PER_DAY", 5, 1_000)?,
            per_seat_per_hour: whole("INVITES_PER_SEAT_PER_HOUR", 2, 1_000)?,
        };
        let password_checks_per_client_per_minute =
            whole("PASSWORD_CHECKS_PER_CLIENT_PER_MINUTE", 60, 100_000)? as u32;
        let gateway_calls_per_key_per_minute = match get("GATEWAY_CALLS_PER_KEY_PER_MINUTE") {
            None => None,
            Some(_) => Some(whole("GATEWAY_CALLS_PER_KEY_PER_MINUTE", 1, 100_000_000)? as u32),
        };
        let api_calls_per_key_per_minute = match get("API_CALLS_PER_KEY_PER_MINUTE").as_deref() {
            Some("0") => None,
            _ => Some(whole("API_CALLS_PER_KEY_PER_MINUTE", 600, 1_000_000)? as u32),
        };
        let usage_retention = {
            use crate::clock::{DAY, HOUR};
            let keep = |name, default, min, max, unit| match whole(name, default, max)? {
                n if n < min => Err(ConfigError::Invalid {
                    name,
                    reason: format!("use a whole number from {min} to {max}"),
                }),
                n => Ok(n * unit),
            };
            let retention = crate::db::usage::Retention {
                minutes: keep("USAGE_MINUTES_KEEP_HOURS", 48, 2, 24 * 366, HOUR)?,
                // The Usage page charts the last 7 days by the hour.
                hourly: keep("USAGE_HOURLY_KEEP_DAYS", 90, 8, 3_660, DAY)?,
                // Overview and Profile show the last 30 days, the Usage page up to 90.
                daily: keep("USAGE_DAILY_KEEP_DAYS", 730, 90, 36_600, DAY)?,
            };
            if retention.daily < retention.hourly {
                return Err(ConfigError::Invalid {
                    name: "USAGE_DAILY_KEEP_DAYS",
                    reason: "keep daily counts at least as long as hourly ones".into(),
                });
            }
            retention
        };
        let dns_server = match get("DNS_SERVER") {
            None => None,
            Some(text) => Some(
                text.trim()
                    .parse::<std::net::SocketAddr>()
                    .or_else(|_| {
                        text.trim()
                            .parse::<std::net::IpAddr>()
                            .map(|ip| std::net::SocketAddr::new(ip, 53))
                    })
                    .map_err(|_| ConfigError::Invalid {
                        name: "DNS_SERVER",
                        reason: "use an address, like 192.0.2.53 or 127.0.0.1:5353".into(),
                    })?,
            ),
        };
        let domain_rules = match get("DOMAIN_RULES_FILE") {
            None => crate::domains::DomainRules::default(),
            Some(path) => {
                crate::domains::DomainRules::load(Path::new(path.trim())).map_err(|reason| {
                    ConfigError::Invalid {
                        name: "DOMAIN_RULES_FILE",
                        reason,
                    }
                })?
            }
        };
        // Audit rows are kept 400 days by default (beyond a year, for yearly reviews).
        let audit_retention = whole("AUDIT_RETENTION_DAYS", 400, 36_600)? * crate::clock::DAY;
        if audit_retention < 30 * crate::clock::DAY {
            return Err(ConfigError::Invalid {
                name: "AUDIT_RETENTION_DAYS",
                reason: "use a whole number from 30 to 36600".into(),
            });
        }
        Ok(Self {
            database_url,
            public_url,
            mail,
            mail_from,
            trust_proxy_headers,
            hash_workers,
            terms_version,
            invite_quota,
            password_checks_per_client_per_minute,
            gateway_calls_per_key_per_minute,
            api_calls_per_key_per_minute,
            usage_retention,
            audit_retention,
            dns_server,
            domain_rules,
            secret,
        })
    }

    /// Cookies get `Secure` and the `__Host-` prefix when Roster is served over https.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.scheme() == "https"
    }

    /// An absolute link to `path` (with its query) under the public address.
    pub fn link(&self, path_and_query: &str) -> String {
        format!(
            "{}{}",
            self.public_url.as_str().trim_end_matches('/'),
            path_and_query
        )
    }
}

/// The database file of a `sqlite:` URL.
pub fn sqlite_path(url: &str) -> Option<&Path> {
    let rest = url.strip_prefix("sqlite:")?.trim_start_matches("//");
    Some(Path::new(rest.split('?').next().unwrap_or(rest)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_serve_locally_on_sqlite_with_a_mailbox() {
        let c = config(&[]).unwrap();
        assert_eq!(c.database_url, "sqlite://data/roster.db");
        assert!(matches!(c.mail, MailTransport::Mailbox(_)));
        assert!(!c.secure_cookies());
        assert_eq!(
            c.link("/verify-email?token=x"),
            "http://127.0.0.1:3000/verify-email?token=x"
        );
    }

    #[test]
    fn a_bad_variable_is_named_in_the_error() {
        let err = config(&[("PUBLIC_URL", "not a url")])
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("PUBLIC_URL"), "{err}");
        let err = config(&[("SMTP_URL", "http://x")]).unwrap_err().to_string();
        assert!(err.starts_with("SMTP_URL"), "{err}");
        let err = config(&[("DATABASE_URL", "mysql://x")])
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("DATABASE_URL"), "{err}");
    }

    #[test]
    fn invitation_quotas_have_defaults_and_refuse_nonsense() {
        let q = config(&[]).unwrap().invite_quota;
        assert_eq!(
            (
                q.resend_cooldown_secs,
                q.per_address_per_day,
                q.per_seat_per_hour
            ),
            (60, 5, 2)
        );
        assert_eq!(q.org_per_hour(5), InviteQuota::ORG_HOURLY_FLOOR);
        assert_eq!(
            config(&[]).unwrap().password_checks_per_client_per_minute,
            60
        );
        assert_eq!(q.org_per_hour(100), 200);
        let err = config(&[("INVITES_PER_ADDRESS_PER_DAY", "0")])
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("INVITES_PER_ADDRESS_PER_DAY"), "{err}");
    }

    #[test]
    fn the_secret_key_is_64_hex_characters_or_a_file_beside_the_database() {
        let hex = "0123456789abcdef".repeat(4);
        let c = config(&[("SECRET_KEY", &hex)]).unwrap();
        assert_eq!(
            format!("{:?}", c.secret),
            "Given(MasterKey(redacted))",
            "the secret is never printed"
        );
        for bad in ["short", &"g".repeat(64), &hex[..63]] {
            let err = config(&[("SECRET_KEY", bad)]).unwrap_err().to_string();
            assert!(err.starts_with("SECRET_KEY") && !err.contains(bad), "{err}");
        }
        let file = |c: Config| match c.secret {
            SecretSource::File(p) => p,
            SecretSource::Given(_) => panic!("expected a file"),
        };
        assert_eq!(file(config(&[]).unwrap()), Path::new("data/secret.key"));
        let c = config(&[("DATABASE_URL", "sqlite:///srv/roster/db.sqlite?mode=rwc")]).unwrap();
        assert_eq!(file(c), Path::new("/srv/roster/secret.key"));
        let c = config(&[("DATABASE_URL", "postgres://db/roster")]).unwrap();
        assert_eq!(file(c), Path::new("data/secret.key"));
    }

    #[test]
    fn https_public_urls_make_cookies_secure() {
        let c = config(&[("PUBLIC_URL", "https://roster.example.com/")]).unwrap();
        assert!(c.secure_cookies());
        assert_eq!(c.link("/x"), "https://roster.example.com/x");
    }
}
