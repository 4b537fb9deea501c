use super::has_control;
use crate::error::AppError;
use serde::{Deserialize, Serialize};

/// `text` in Unicode Normalization Form C. The browser has it built in (`String.normalize`),
/// so the WASM carries no tables of its own for it.
fn nfc(text: &str) -> String {
    #[cfg(all(feature = "hydrate", target_arch = "wasm32"))]
    {
        String::from(web_sys::js_sys::JsString::from(text).normalize("NFC"))
    }
    #[cfg(not(all(feature = "hydrate", target_arch = "wasm32")))]
    {
        use unicode_normalization::UnicodeNormalization;
        text.nfc().collect()
    }
}

/// An email address in canonical form: trimmed, NFC-normalised, lower case.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub const MAX_LEN: usize = 254;

    pub fn parse(field: &str, raw: &str) -> Result<Self, AppError> {
        let value: String = nfc(raw.trim()).to_lowercase();
        if value.is_empty() {
            return Err(AppError::field(field, "Enter an email address."));
        }
        if value.chars().count() > Self::MAX_LEN {
            return Err(AppError::field(
                field,
                "Email addresses can be at most 254 characters.",
            ));
        }
        let domain_has_dot = value
            .rsplit_once('@')
            .is_some_and(|(_, domain)| domain.contains('.') && !domain.ends_with('.'));
        if has_control(&value)
            || value.contains(char::is_whitespace)
            || !domain_has_dot
            || !email_address::EmailAddress::is_valid(&value)
        {
            return Err(AppError::field(
                field,
                "Enter a valid email address, like name@example.com.",
            ));
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_trimmed_and_lower_cased() {
        let e = EmailAddress::parse("email", "  Ada.Lovelace@Example.COM ").unwrap();
        assert_eq!(e.as_str(), "ada.lovelace@example.com");
    }

    #[test]
    fn composed_and_decomposed_forms_compare_equal() {
        let composed = EmailAddress::parse("email", "jos\u{e9}@example.com").unwrap();
        let decomposed = EmailAddress::parse("email", "jose\u{301}@example.com").unwrap();
        assert_eq!(composed, decomposed);
    }

    #[test]
    fn malformed_addresses_are_refused_with_a_field_message() {
        for bad in [
            "",
            "plainaddress",
            "@example.com",
            "a@b",
            "a b@example.com",
            "a@example.com\r\nBcc: x@example.com",
            "a@example.",
        ] {
            let err = EmailAddress::parse("email", bad).unwrap_err();
            assert!(err.for_field("email").is_some(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn overlong_addresses_are_refused() {
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(EmailAddress::parse("email", &long).is_err());
    }
}
