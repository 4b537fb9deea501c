//! Which domains an organization may verify: a well-formed name (IDN names as punycode) that
//! is not a public suffix, a free-mail provider's or a disposable-address service's.
//!
//! The two lists are dated snapshots vendored in `server/data/` (see their first lines); the
//! operator adjusts them with `DOMAIN_RULES_FILE`: a domain a line to refuse it too, or
//! `!domain` to allow one the lists refuse. `#` starts a comment.

use std::collections::HashSet;
use std::path::Path;
use std::sync::LazyLock;

static FREE_MAIL: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| list(include_str!("../data/free-mail-domains.txt")));
static DISPOSABLE: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| list(include_str!("../data/disposable-domains.txt")));

fn list(text: &str) -> HashSet<&str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// The operator's additions to and exceptions from the vendored lists.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DomainRules {
    refused: HashSet<String>,
    allowed: HashSet<String>,
}

impl DomainRules {
    pub fn parse(text: &str) -> Result<DomainRules, String> {
        let mut rules = DomainRules::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or_default().trim();
            if line.is_empty() {
                continue;
            }
            let (allow, name) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            let name = normalize(name).map_err(|e| format!("line {}: {e}", n + 1))?;
            if allow {
                rules.allowed.insert(name);
            } else {
                rules.refused.insert(name);
            }
        }
        Ok(rules)
    }

    pub fn load(path: &Path) -> Result<DomainRules, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Why `domain` (normalized) may not be verified, in a sentence; none when it may.
    pub fn refusal(&self, domain: &str) -> Option<&'static str> {
        let parents: Vec<&str> =
            std::iter::successors(Some(domain), |d| d.split_once('.').map(|(_, rest)| rest))
                .collect();
        if parents.iter().any(|d| self.allowed.contains(*d)) {
            return None;
        }
        if parents.iter().any(|d| self.refused.contains(*d)) {
            return Some("This domain cannot be verified here. Ask your Roster operator.");
        }
        match psl::suffix_str(domain) {
            Some(suffix) if suffix == domain => {
                return Some(
                    "This is a public suffix (like com or co.uk), which many organizations share. Enter your own domain.",
                );
            }
            None => return Some("Enter a domain like example.com."),
            _ => {}
        }
        if parents.iter().any(|d| DISPOSABLE.contains(d)) {
            return Some(
                "This domain gives out disposable addresses. Enter your organization's own domain.",
            );
        }
        if parents.iter().any(|d| FREE_MAIL.contains(d)) {
            return Some(
                "This is a free email provider's domain: anyone can have an address there. Enter your organization's own domain.",
            );
        }
        None
    }
}

/// The domain as stored: trimmed, lower-case ASCII without a trailing dot, IDN names as
/// punycode; or why it is not a domain name.
pub fn normalize(input: &str) -> Result<String, &'static str> {
    const MALFORMED: &str = "Enter a domain like example.com, without http:// or a path.";
    let text = input.trim().trim_end_matches('.');
    if text.is_empty() {
        return Err("Enter a domain.");
    }
    if text.len() > 253 * 4 || text.contains(['/', ':', '@', ' ']) {
        return Err(MALFORMED);
    }
    let ascii = idna::domain_to_ascii_strict(text).map_err(|_| MALFORMED)?;
    let labels: Vec<&str> = ascii.split('.').collect();
    let valid = ascii.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            (1..=63).contains(&l.len())
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        && !labels
            .last()
            .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()));
    if valid { Ok(ascii) } else { Err(MALFORMED) }
}

/// The name as people write it: Unicode for punycode labels.
pub fn display(domain: &str) -> String {
    let (unicode, result) = idna::domain_to_unicode(domain);
    if result.is_ok() {
        unicode
    } else {
        domain.to_owned()
    }
}

/// The domain of an email address, normalized; none when it has none.
pub fn of_address(email: &str) -> Option<String> {
    let (_, domain) = email.rsplit_once('@')?;
    normalize(domain).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalized_or_refused_as_malformed() {
        assert_eq!(normalize(" Example.COM. ").unwrap(), "example.com");
        assert_eq!(
            normalize("bücher.example").unwrap(),
            "xn--bcher-kva.example"
        );
        assert_eq!(display("xn--bcher-kva.example"), "bücher.example");
        for bad in [
            "",
            "com",
            "https://example.com",
            "a..b",
            "-a.com",
            "a_b.com",
            "1.2.3.4",
            "x@y.com",
        ] {
            assert!(normalize(bad).is_err(), "{bad}");
        }
        assert_eq!(
            of_address("ada@Sub.Example.com").as_deref(),
            Some("sub.example.com")
        );
    }

    #[test]
    fn public_suffixes_free_mail_and_disposable_domains_are_refused() {
        let rules = DomainRules::default();
        for (domain, word) in [
            ("co.uk", "public suffix"),
            ("github.io", "public suffix"),
            ("gmail.com", "free email"),
            ("mail.yahoo.com", "free email"),
            ("mailinator.com", "disposable"),
        ] {
            let why = rules
                .refusal(&normalize(domain).unwrap())
                .unwrap_or_default();
            assert!(why.contains(word), "{domain}: {why}");
        }
        assert_eq!(rules.refusal("analytical-engines.co.uk"), None);
        assert_eq!(rules.refusal("eng.acme-widgets.com"), None);
    }

    #[test]
    fn the_operator_refuses_more_or_allows_what_the_lists_refuse() {
        let rules =
            DomainRules::parse("# ours\nrivals.example\n!gmail.com  # we are Google\n").unwrap();
        assert!(rules.refusal("team.rivals.example").is_some());
        assert_eq!(rules.refusal("gmail.com"), None);
        assert!(DomainRules::parse("not a domain\n").is_err());
    }
}
