use super::has_control;
use crate::error::AppError;
use serde::{Deserialize, Serialize};

fn bounded(field: &str, raw: &str, what: &str, min: usize, max: usize) -> Result<String, AppError> {
    let value = raw.trim();
    let len = value.chars().count();
    if len == 0 {
        return Err(AppError::field(field, format!("Enter {what}.")));
    }
    if len < min {
        return Err(AppError::field(
            field,
            format!("{} must be at least {min} characters.", capitalise(what)),
        ));
    }
    if len > max {
        return Err(AppError::field(
            field,
            format!("{} can be at most {max} characters.", capitalise(what)),
        ));
    }
    if has_control(value) || value.contains(['<', '>']) {
        return Err(AppError::field(
            field,
            format!(
                "{} contains characters that are not allowed.",
                capitalise(what)
            ),
        ));
    }
    Ok(value.to_owned())
}

fn capitalise(what: &str) -> String {
    let what = what
        .strip_prefix("a ")
        .or_else(|| what.strip_prefix("an "))
        .unwrap_or(what);
    let mut chars = what.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// A person's first or last name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(field: &str, raw: &str, what: &str) -> Result<Self, AppError> {
        bounded(field, raw, what, 1, 100).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An organization's display name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgName(String);

impl OrgName {
    pub fn parse(field: &str, raw: &str) -> Result<Self, AppError> {
        bounded(field, raw, "an organization name", 2, 100).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A custom role's name: 1 to 60 characters, and not the name of a built-in role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleName(String);

impl RoleName {
    pub fn parse(field: &str, raw: &str) -> Result<Self, AppError> {
        let name = bounded(field, raw, "a role name", 1, 60)?;
        if [
            "owner",
            "admin",
            "administrator",
            "member",
            "visitor",
            "custom",
        ]
        .contains(&name.to_lowercase().as_str())
        {
            return Err(AppError::field(
                field,
                format!("{name} is a built-in role. Choose another name."),
            ));
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A short free-text description (of a role, say): up to 200 characters, may be empty.
pub fn description(field: &str, raw: &str) -> Result<String, AppError> {
    if raw.trim().is_empty() {
        return Ok(String::new());
    }
    bounded(field, raw, "a description", 1, 200)
}

/// A region's display name.
pub fn region_name(field: &str, raw: &str) -> Result<String, AppError> {
    bounded(field, raw, "a region name", 2, 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed() {
        let n = PersonName::parse("first_name", "  Ada ", "a first name").unwrap();
        assert_eq!(n.as_str(), "Ada");
    }

    #[test]
    fn empty_names_ask_for_a_value() {
        let err = PersonName::parse("first_name", "   ", "a first name").unwrap_err();
        assert_eq!(err.for_field("first_name").unwrap(), "Enter a first name.");
    }

    #[test]
    fn names_are_bounded() {
        assert!(PersonName::parse("f", &"x".repeat(100), "a first name").is_ok());
        let err = PersonName::parse("f", &"x".repeat(101), "a first name").unwrap_err();
        assert_eq!(
            err.for_field("f").unwrap(),
            "First name can be at most 100 characters."
        );
    }

    #[test]
    fn control_characters_and_markup_are_refused() {
        assert!(PersonName::parse("f", "Ada\nBcc", "a first name").is_err());
        assert!(PersonName::parse("f", "<script>", "a first name").is_err());
    }

    #[test]
    fn role_names_are_bounded_and_not_built_in() {
        assert_eq!(
            RoleName::parse("name", " Finance ").unwrap().as_str(),
            "Finance"
        );
        assert!(RoleName::parse("name", "admin").is_err());
        assert!(RoleName::parse("name", "").is_err());
        assert!(RoleName::parse("name", &"x".repeat(61)).is_err());
        assert_eq!(description("d", "  ").unwrap(), "");
        assert!(description("d", &"x".repeat(201)).is_err());
    }

    #[test]
    fn organization_names_need_two_characters() {
        let err = OrgName::parse("org_name", "A").unwrap_err();
        assert_eq!(
            err.for_field("org_name").unwrap(),
            "Organization name must be at least 2 characters."
        );
        assert_eq!(
            OrgName::parse("org_name", " Acme ").unwrap().as_str(),
            "Acme"
        );
    }
}
