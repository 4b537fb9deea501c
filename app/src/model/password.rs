use crate::error::AppError;

/// A new password that meets the policy: 12 to 128 characters, not a well-known password.
/// It is never trimmed or truncated, and its `Debug` output is redacted.
#[derive(Clone)]
pub struct Password(String);

pub const MIN_LEN: usize = 12;
pub const MAX_LEN: usize = 128;

/// Well-known passwords of policy length, from public breach top lists.
const COMMON: &[&str] = &[
    "123456789012",
    "1234567890123",
    "12345678901234",
    "123456789123",
    "password1234",
    "password12345",
    "password123456",
    "passwordpassword",
    "qwertyuiopasdf",
    "qwertyuiop12",
    "qwerty123456",
    "1q2w3e4r5t6y",
    "1qaz2wsx3edc",
    "abcdefghijkl",
    "abc123abc123",
    "iloveyou1234",
    "letmein12345",
    "welcome12345",
    "administrator",
    "adminadmin123",
    "111111111111",
    "000000000000",
    "aaaaaaaaaaaa",
    "changeme1234",
    "trustno1trustno1",
    "football1234",
    "baseball1234",
    "monkey123456",
    "sunshine1234",
    "princess1234",
    "qwertyqwerty",
    "asdfghjkl123",
    "zaq12wsxcde3",
    "passw0rd1234",
    "p@ssw0rd1234",
];

impl Password {
    pub fn parse(field: &str, raw: &str) -> Result<Self, AppError> {
        let len = raw.chars().count();
        if len == 0 {
            return Err(AppError::field(field, "Enter a password."));
        }
        if len < MIN_LEN {
            return Err(AppError::field(
                field,
                format!("Use at least {MIN_LEN} characters (you have {len})."),
            ));
        }
        if len > MAX_LEN {
            return Err(AppError::field(
                field,
                format!("Use at most {MAX_LEN} characters."),
            ));
        }
        let lower = raw.to_lowercase();
        if COMMON.contains(&lower.as_str()) {
            return Err(AppError::field(
                field,
                "This password is too common. Choose one that is harder to guess.",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(redacted)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twelve_characters_are_enough_and_eleven_are_not() {
        assert!(Password::parse("p", "correct hors").is_ok());
        let err = Password::parse("p", "correct hor").unwrap_err();
        assert_eq!(
            err.for_field("p").unwrap(),
            "Use at least 12 characters (you have 11)."
        );
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        assert!(Password::parse("p", "ééééééééééé").is_err());
        assert!(Password::parse("p", "éééééééééééé").is_ok());
    }

    #[test]
    fn up_to_128_characters_are_accepted_untruncated() {
        let long = "x".repeat(127) + "y";
        assert_eq!(Password::parse("p", &long).unwrap().expose(), long);
        assert!(Password::parse("p", &"x".repeat(129)).is_err());
    }

    #[test]
    fn spaces_are_kept() {
        assert_eq!(
            Password::parse("p", "  twelve chars ").unwrap().expose(),
            "  twelve chars "
        );
    }

    #[test]
    fn common_passwords_are_refused() {
        assert!(Password::parse("p", "Password1234").is_err());
    }

    #[test]
    fn debug_output_hides_the_password() {
        let p = Password::parse("p", "a secret phrase").unwrap();
        assert!(!format!("{p:?}").contains("secret"));
    }
}
