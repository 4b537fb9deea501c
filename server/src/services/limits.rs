//! Request-rate limits for unauthenticated work that costs email or CPU (governor, GCRA).

use app::error::AppError;
use governor::clock::QuantaInstant;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, NotUntil, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

pub struct Limits {
    /// Sign-ups, resends, reset requests and resets from one client address.
    per_client: DefaultKeyedRateLimiter<IpAddr>,
    /// Emails of one kind to one address, so nobody can flood someone's inbox.
    per_recipient: DefaultKeyedRateLimiter<String>,
    /// Password checks from one client address, right or wrong: each is an argon2 hash.
    password_checks: DefaultKeyedRateLimiter<IpAddr>,
}

impl Limits {
    /// The limits, with `password_checks_per_minute` checks a minute from each client address
    /// (all of them at once if they come together).
    pub fn new(password_checks_per_minute: u32) -> Self {
        let n = |v| NonZeroU32::new(v).expect("non-zero");
        Self {
            password_checks: RateLimiter::keyed(Quota::per_minute(n(
                password_checks_per_minute.max(1)
            ))),
            per_client: RateLimiter::keyed(Quota::per_minute(n(10)).allow_burst(n(20))),
            per_recipient: RateLimiter::keyed(
                Quota::with_period(Duration::from_secs(120))
                    .expect("period")
                    .allow_burst(n(3)),
            ),
        }
    }

    pub fn client(&self, ip: IpAddr) -> Result<(), AppError> {
        self.per_client
            .check_key(&ip)
            .map_err(|not_until| too_many("requests", not_until))
    }

    /// Whether a client address may have one more password checked now.
    pub fn password_check(&self, ip: IpAddr) -> Result<(), AppError> {
        self.password_checks
            .check_key(&ip)
            .map_err(|not_until| too_many("sign-in attempts", not_until))
    }

    /// Drops the entries of keys that have been quiet long enough to start afresh, so the
    /// limiters' memory follows current traffic, not everyone ever seen.
    pub fn forget_idle(&self) {
        self.per_client.retain_recent();
        self.per_client.shrink_to_fit();
        self.password_checks.retain_recent();
        self.password_checks.shrink_to_fit();
        self.per_recipient.retain_recent();
        self.per_recipient.shrink_to_fit();
    }

    /// Whether another email of `kind` may go to `address` now. Callers answer the same either
    /// way, so this never reveals whether an account exists.
    pub fn recipient(&self, kind: &str, address: &str) -> bool {
        self.per_recipient
            .check_key(&format!("{kind}:{address}"))
            .is_ok()
    }
}

fn too_many(what: &str, not_until: NotUntil<QuantaInstant>) -> AppError {
    let wait = not_until.wait_time_from(DefaultClock::default().now());
    let minutes = wait.as_secs().div_ceil(60).max(1);
    AppError::TooManyRequests(format!(
        "Too many {what} from your network. Try again in {minutes} minute{}.",
        if minutes == 1 { "" } else { "s" }
    ))
}
