use crate::error::AppError;
use serde::{Deserialize, Serialize};

/// A mobile number as typed (digits, spaces, `+`, `-`, `(`, `)`), 6 to 20 digits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MobileNumber(String);

impl MobileNumber {
    /// An empty value means "no number".
    pub fn parse_optional(field: &str, raw: &str) -> Result<Option<Self>, AppError> {
        let value = raw.trim();
        if value.is_empty() {
            return Ok(None);
        }
        let allowed = value
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '(' | ')'));
        let digits = value.chars().filter(char::is_ascii_digit).count();
        let plus_ok = value.rfind('+').is_none_or(|i| i == 0);
        if !allowed || !plus_ok || !(6..=20).contains(&digits) {
            return Err(AppError::field(
                field,
                "Enter a mobile number of 6 to 20 digits, like +1 555 010 2030.",
            ));
        }
        Ok(Some(Self(value.to_owned())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_means_no_number() {
        assert_eq!(MobileNumber::parse_optional("m", "  ").unwrap(), None);
    }

    #[test]
    fn international_formats_are_accepted() {
        let m = MobileNumber::parse_optional("m", " +44 (20) 7946-0958 ")
            .unwrap()
            .unwrap();
        assert_eq!(m.as_str(), "+44 (20) 7946-0958");
    }

    #[test]
    fn letters_and_short_numbers_are_refused() {
        assert!(MobileNumber::parse_optional("m", "call me").is_err());
        assert!(MobileNumber::parse_optional("m", "12345").is_err());
        assert!(MobileNumber::parse_optional("m", "12+345678").is_err());
    }
}
