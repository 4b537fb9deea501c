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
            .check_key(&network(ip))
            .map_err(|not_until| too_many("requests", not_until))
    }

    /// Whether a client address may have one more password checked now.
    pub fn password_check(&self, ip: IpAddr) -> Result<(), AppError> {
        self.password_checks
            .check_key(&network(ip))
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

/// The network a client address stands for in every limit: an IPv6 client is usually given a
/// whole /64 and could walk through it, so IPv6 addresses count per /64.
pub fn network(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut octets = v6.octets();
                octets[8..].fill(0);
                IpAddr::V6(octets.into())
            }
        },
        v4 => v4,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_count_per_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:1:2:3".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(network(a), network(b));
        assert_ne!(network(a), network(other));
        let mapped: IpAddr = "::ffff:198.51.100.7".parse().unwrap();
        assert_eq!(network(mapped), "198.51.100.7".parse::<IpAddr>().unwrap());
        let v4: IpAddr = "198.51.100.7".parse().unwrap();
        assert_eq!(network(v4), v4);
    }

    #[test]
    fn one_network_shares_its_password_checks() {
        let limits = Limits::new(2);
        let (a, b) = (
            "2001:db8::1".parse().unwrap(),
            "2001:db8::2".parse().unwrap(),
        );
        assert!(limits.password_check(a).is_ok());
        assert!(limits.password_check(b).is_ok());
        assert!(limits.password_check(a).is_err());
        assert!(
            limits
                .password_check("2001:db8:0:1::1".parse().unwrap())
                .is_ok()
        );
    }
}
