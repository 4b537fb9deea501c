use minijinja::Environment;
use serde::Serialize;

/// One email, rendered.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The email templates. Every value is escaped in the HTML part.
pub struct Templates {
    env: Environment<'static>,
}

const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("templates/layout.html")),
    (
        "verify_email.txt",
        include_str!("templates/verify_email.txt"),
    ),
    (
        "verify_email.html",
        include_str!("templates/verify_email.html"),
    ),
    (
        "account_exists.txt",
        include_str!("templates/account_exists.txt"),
    ),
    (
        "account_exists.html",
        include_str!("templates/account_exists.html"),
    ),
    (
        "reset_password.txt",
        include_str!("templates/reset_password.txt"),
    ),
    (
        "reset_password.html",
        include_str!("templates/reset_password.html"),
    ),
    (
        "password_changed.txt",
        include_str!("templates/password_changed.txt"),
    ),
    (
        "password_changed.html",
        include_str!("templates/password_changed.html"),
    ),
    (
        "confirm_join.txt",
        include_str!("templates/confirm_join.txt"),
    ),
    (
        "confirm_join.html",
        include_str!("templates/confirm_join.html"),
    ),
    ("invitation.txt", include_str!("templates/invitation.txt")),
    ("invitation.html", include_str!("templates/invitation.html")),
    (
        "role_changed.txt",
        include_str!("templates/role_changed.txt"),
    ),
    (
        "role_changed.html",
        include_str!("templates/role_changed.html"),
    ),
    (
        "ownership_transferred.txt",
        include_str!("templates/ownership_transferred.txt"),
    ),
    (
        "ownership_transferred.html",
        include_str!("templates/ownership_transferred.html"),
    ),
    ("seats_full.txt", include_str!("templates/seats_full.txt")),
    ("seats_full.html", include_str!("templates/seats_full.html")),
    (
        "domain_lapsed.txt",
        include_str!("templates/domain_lapsed.txt"),
    ),
    (
        "domain_lapsed.html",
        include_str!("templates/domain_lapsed.html"),
    ),
];

impl Default for Templates {
    fn default() -> Self {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .expect("email templates parse");
        }
        Self { env }
    }
}

impl Templates {
    /// Renders `name.txt` and `name.html` with the same values.
    pub fn render(
        &self,
        name: &str,
        subject: &str,
        values: impl Serialize,
    ) -> Result<Rendered, minijinja::Error> {
        let values = minijinja::Value::from_serialize(&values);
        let ctx = minijinja::context! { subject => subject, ..values };
        Ok(Rendered {
            subject: subject.to_owned(),
            text: self
                .env
                .get_template(&format!("{name}.txt"))?
                .render(&ctx)?,
            html: self
                .env
                .get_template(&format!("{name}.html"))?
                .render(&ctx)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_renders_both_parts_and_escapes_html() {
        let t = Templates::default();
        for name in [
            "verify_email",
            "account_exists",
            "reset_password",
            "password_changed",
            "invitation",
            "confirm_join",
            "role_changed",
            "ownership_transferred",
            "seats_full",
            "domain_lapsed",
        ] {
            let r = t
                .render(name, "Subject", minijinja::context! { first_name => "<b>Ada</b>", inviter => "Grace", changed_by => "Grace", org_name => "Acme", role => "Member", old_owner => "Grace", new_owner => "Alan", link => "https://r.example/x?token=a&b" })
                .unwrap();
            assert!(r.text.contains("Ada"), "{name} text");
            assert!(
                r.html.contains("&lt;b&gt;Ada&lt;"),
                "{name} html must escape: {}",
                r.html
            );
            assert!(!r.html.contains("<b>Ada"), "{name}");
        }
    }
}
