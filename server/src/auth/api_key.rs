//! The API key format: `rst_`, 30 random base62 characters (178 bits from the OS) and a
//! 6-character base62 CRC32 of everything before it, as GitHub's tokens are made. A leaked key
//! is recognisable (`PATTERN`), and a typo is refused by `ApiKey::parse` before any lookup.

use std::fmt;

pub const PREFIX: &str = "rst_";
const RANDOM_LEN: usize = 30;
const CHECKSUM_LEN: usize = 6;
pub const LEN: usize = PREFIX.len() + RANDOM_LEN + CHECKSUM_LEN;
/// How many leading characters are stored and shown ("rst_3fK…"); the rest stays secret.
const SHOWN: usize = PREFIX.len() + 3;

/// The regular expression every key matches, for secret scanners (published in
/// `docs/GATEWAY.md`).
pub const PATTERN: &str = r"\brst_[0-9A-Za-z]{36}\b";

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// A well-formed API key. `Debug` shows only its displayed prefix.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

/// Why a presented key was refused before any lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Malformed;

impl ApiKey {
    /// A new key from the operating system's random source.
    pub fn generate() -> ApiKey {
        let mut body = String::with_capacity(LEN);
        body.push_str(PREFIX);
        while body.len() < PREFIX.len() + RANDOM_LEN {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).expect("the operating system's random source failed");
            // 248 = 4 × 62: taking only bytes below it keeps every character equally likely.
            for b in bytes.into_iter().filter(|b| *b < 248) {
                if body.len() < PREFIX.len() + RANDOM_LEN {
                    body.push(BASE62[usize::from(b % 62)] as char);
                }
            }
        }
        let checksum = checksum(&body);
        body.push_str(&checksum);
        ApiKey(body)
    }

    /// Accepts a key only in its exact form with a matching checksum.
    pub fn parse(text: &str) -> Result<ApiKey, Malformed> {
        let well_formed = text.len() == LEN
            && text.starts_with(PREFIX)
            && text[PREFIX.len()..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric());
        if !well_formed {
            return Err(Malformed);
        }
        let (body, sum) = text.split_at(LEN - CHECKSUM_LEN);
        if checksum(body) != sum {
            return Err(Malformed);
        }
        Ok(ApiKey(text.to_owned()))
    }

    /// The whole key, to hash, seal or hand to its member.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The leading characters stored for display ("rst_3fK").
    pub fn shown(&self) -> &str {
        &self.0[..SHOWN]
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey({}…)", self.shown())
    }
}

/// The CRC32 of `body` in six base62 characters (62⁶ > 2³²), most significant first.
fn checksum(body: &str) -> String {
    let mut n = CRC32.checksum(body.as_bytes());
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8(out.to_vec()).expect("base62 is ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_back_and_differ() {
        let key = ApiKey::generate();
        assert_eq!(key.expose().len(), LEN);
        assert_eq!(ApiKey::parse(key.expose()), Ok(key.clone()));
        assert_ne!(key, ApiKey::generate());
    }

    #[test]
    fn the_published_pattern_matches_generated_keys_only_whole() {
        let re = regex::Regex::new(PATTERN).unwrap();
        for _ in 0..100 {
            let key = ApiKey::generate();
            let text = format!("token={} end", key.expose());
            assert_eq!(re.find(&text).unwrap().as_str(), key.expose());
        }
        assert!(!re.is_match("rst_tooshort"));
    }

    #[test]
    fn every_single_character_typo_is_refused() {
        let key = ApiKey::generate();
        let text = key.expose();
        for i in 0..text.len() {
            for &c in BASE62.iter().chain(b"_-.") {
                if text.as_bytes()[i] == c {
                    continue;
                }
                let mut typo = text.as_bytes().to_vec();
                typo[i] = c;
                let typo = String::from_utf8(typo).unwrap();
                assert_eq!(ApiKey::parse(&typo), Err(Malformed), "{typo} was accepted");
            }
            let mut dropped = text.to_owned();
            dropped.remove(i);
            assert_eq!(ApiKey::parse(&dropped), Err(Malformed));
        }
        assert_eq!(ApiKey::parse(&format!("{text}0")), Err(Malformed));
        assert_eq!(ApiKey::parse(&format!(" {text}")), Err(Malformed));
    }

    #[test]
    fn other_shapes_are_refused() {
        for bad in [
            "",
            "rst_",
            "Bearer x",
            "ghp_0123456789abcdefghijklmnopqrstuvwxyz",
        ] {
            assert_eq!(ApiKey::parse(bad), Err(Malformed), "{bad}");
        }
        let key = ApiKey::generate();
        let upper = key.expose().replacen("rst_", "RST_", 1);
        assert_eq!(ApiKey::parse(&upper), Err(Malformed));
        let non_ascii = format!("{}é", &key.expose()[..LEN - 2]);
        assert_eq!(ApiKey::parse(&non_ascii), Err(Malformed));
    }

    #[test]
    fn debug_and_display_prefix_show_no_secret() {
        let key = ApiKey::generate();
        assert_eq!(key.shown().len(), 7);
        assert!(key.shown().starts_with("rst_"));
        let debug = format!("{key:?}");
        assert!(!debug.contains(&key.expose()[SHOWN..]), "{debug}");
    }
}
