//! Attacks on invitations, member actions and sessions, replayed over HTTP on SQLite and
//! PostgreSQL; each ends refused, and the legitimate flow beside it still works.

use crate::common::*;
use app::authz::{Access, BuiltIn, Feature, Grant, Grid, Level, Template};
use app::error::{AppError, PERMISSION_DENIED};
use serde_json::json;
use std::time::Duration;

const OWNER: &str = "ada@example.com";

/// A custom role with the same grid in every region; returns its key (`custom-N`).
async fn custom_role(app: &TestApp, session: &str, name: &str, grid: Grid) -> String {
    format!("custom-{}", app.custom_role(session, name, grid).await)
}

/// A team lead: everything a Member holds, and full Team Management.
fn lead_grid() -> Grid {
    let member = Access::BuiltIn(BuiltIn::Member);
    let mut grid = Grid::default();
    for feature in Feature::ALL {
        grid.set(feature, member.grant(feature, Some("US")));
    }
    grid.set(Feature::TeamManagement, Grant::new(Level::Full, false));
    grid
}

async fn copy_link(app: &TestApp, session: &str, email: &str) -> Reply {
    let id = app.invitation_id(email).await.to_string();
    app.post("invite_link", &[("id", &id)])
        .session(session)
        .send()
        .await
}

fn token_of(link: &Reply) -> String {
    let url = link.json().as_str().unwrap().to_owned();
    url.split("token=").nth(1).unwrap().to_owned()
}

async fn is_verified(app: &TestApp, email: &str) -> bool {
    let at: Option<i64> =
        sqlx::query_scalar("select email_verified_at from users where email = $1")
            .bind(email)
            .fetch_one(&app.roster.store.pool)
            .await
            .unwrap();
    at.is_some()
}

async fn sessions_of(app: &TestApp, email: &str) -> i64 {
    sqlx::query_scalar(
        "select count(*) from sessions s join users u on u.id = s.user_id where u.email = $1",
    )
    .bind(email)
    .fetch_one(&app.roster.store.pool)
    .await
    .unwrap()
}

on_both!(
    acting_on_an_invitation_needs_the_right_to_give_its_role,
    |db| {
        let app = TestApp::new(db).await;
        let owner = app.member(OWNER).await;
        let lead_role = custom_role(&app, &owner, "Team Lead", lead_grid()).await;
        let lead = app.joined(&owner, "lead@example.com", &lead_role).await;
        let finance = custom_role(&app, &owner, "Finance", Template::Finance.grid()).await;
        app.invite(&owner, "boss@example.com", "admin").await;
        app.invite(&owner, "cfo@example.com", &finance).await;
        app.invite(&owner, "m@example.com", "member").await;
        for email in ["boss@example.com", "cfo@example.com"] {
            // The link the attack needs is refused, and so are resending and cancelling.
            assert!(denied(&copy_link(&app, &lead, email).await), "{email}");
            let id = app.invitation_id(email).await.to_string();
            for endpoint in ["resend_invitation", "cancel_invitation"] {
                let r = app
                    .post(endpoint, &[("id", &id)])
                    .session(&lead)
                    .send()
                    .await;
                assert!(denied(&r), "{endpoint} {email}");
            }
        }
        // An invitation for a role the lead may give: all three work.
        app.clock.advance(61_000);
        let r = copy_link(&app, &lead, "m@example.com").await;
        assert_eq!(r.error(), None);
        let id = app.invitation_id("m@example.com").await.to_string();
        for endpoint in ["resend_invitation", "cancel_invitation"] {
            let r = app
                .post(endpoint, &[("id", &id)])
                .session(&lead)
                .send()
                .await;
            assert_eq!(r.error(), None, "{endpoint}");
        }
        // The Team page offers the lead no buttons on the invitations it may not touch.
        let team = app.team(&lead, &[]).await.json();
        let offered = |email: &str| {
            let role = team["rows"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["email"] == email)
                .unwrap()["role_name"]
                .clone();
            team["roles"]
                .as_array()
                .unwrap()
                .iter()
                .find(|o| o["name"] == role)
                .unwrap()["assignable"]
                .as_bool()
                .unwrap()
        };
        assert!(!offered("boss@example.com"));
        assert!(!offered("cfo@example.com"));
    }
);

on_both!(a_copied_link_never_verifies_an_address, |db| {
    let app = TestApp::new(db).await;
    // Mallory owns an organization of her own.
    let mallory = app.member("mallory@example.com").await;
    // She signs up with the victim's address and a password of hers; it stays unverified.
    app.sign_up("victim@example.com").await;
    assert!(!is_verified(&app, "victim@example.com").await);
    // She invites that address into her organization and copies the link.
    assert_eq!(
        app.invite(&mallory, "victim@example.com", "member")
            .await
            .error(),
        None
    );
    let copied = token_of(&copy_link(&app, &mallory, "victim@example.com").await);
    let emails_before = app.emails_to("victim@example.com").await.len();
    // "Sign in to accept" through the copied link signs nobody in and joins nobody...
    let r = app.sign_in_to_accept(&copied, PASSWORD).await;
    assert_eq!(r.error(), None);
    assert_eq!(r.json(), json!("VerifyEmail"));
    assert_eq!(r.set_cookie(), None);
    assert_eq!(
        app.team_emails(&mallory, &[("status", "active")]).await,
        ["mallory@example.com"]
    );
    // ...verifies nothing, and mails the address itself a link of its own to join through.
    assert!(!is_verified(&app, "victim@example.com").await);
    let mails = app.emails_to("victim@example.com").await;
    assert_eq!(mails.len(), emails_before + 1);
    let (subject, body) = mails.last().unwrap();
    assert_eq!(subject, "Confirm your address to join Analytical Engines");
    assert!(
        !body.contains(&copied),
        "the copied link is not what is emailed"
    );
    let r = app.sign_in("victim@example.com", PASSWORD).await;
    assert_eq!(r.app_error(), Some(AppError::EmailNotVerified));
    assert_eq!(r.status, 403);
    // The invitation is still open for its address.
    let again = app
        .post("invitation_details", &[("token", &copied)])
        .send()
        .await;
    assert_eq!(again.error(), None);
});

on_both!(the_emailed_link_verifies_an_unverified_account, |db| {
    let app = TestApp::new(db).await;
    let owner = app.member(OWNER).await;
    // Bob signed up but never followed his verification link.
    app.sign_up("bob@example.com").await;
    app.invite(&owner, "bob@example.com", "member").await;
    let emailed = app.last_token("bob@example.com", "invitation").await;
    let r = app.sign_in_to_accept(&emailed, PASSWORD).await;
    assert_eq!(r.error(), None);
    assert_eq!(r.json(), json!("SignedIn"));
    assert!(is_verified(&app, "bob@example.com").await);
    assert_eq!(app.me(&r.session()).await["org_name"], "Analytical Engines");
});

on_both!(registering_through_a_copied_link_is_like_sign_up, |db| {
    let app = TestApp::new(db).await;
    let owner = app.member(OWNER).await;
    app.invite(&owner, "grace@example.com", "member").await;
    let copied = token_of(&copy_link(&app, &owner, "grace@example.com").await);
    let r = register_through(&app, &copied).await;
    assert_eq!(r.error(), None);
    assert!(!is_verified(&app, "grace@example.com").await);
    let r = app.sign_in("grace@example.com", PASSWORD).await;
    assert_eq!(r.app_error(), Some(AppError::EmailNotVerified));
    // Nobody has joined yet: the invitation waits for the address itself.
    assert_eq!(
        app.team_emails(&owner, &[("status", "active")]).await,
        [OWNER]
    );
    // The invited address got a link of its own; signing in through it proves the address
    // and joins.
    let (subject, _) = app.emails_to("grace@example.com").await.pop().unwrap();
    assert_eq!(subject, "Confirm your address to join Analytical Engines");
    let emailed = app.last_token("grace@example.com", "invitation").await;
    let r = app.sign_in_to_accept(&emailed, PASSWORD).await;
    assert_eq!(r.error(), None);
    assert_eq!(r.json(), json!("SignedIn"));
    assert!(is_verified(&app, "grace@example.com").await);
    assert_eq!(app.me(&r.session()).await["org_name"], "Analytical Engines");
});

/// "Register and Accept Invite" through `token`, with a password of the registrant's own.
async fn register_through(app: &TestApp, token: &str) -> Reply {
    app.post(
        "register_and_accept",
        &[
            ("token", token),
            ("first_name", "Someone"),
            ("last_name", "Else"),
            ("password", PASSWORD),
            ("mobile", ""),
        ],
    )
    .send()
    .await
}

on_both!(
    a_copied_link_does_not_tell_its_holder_who_has_an_account,
    |db| {
        let app = TestApp::new(db).await;
        let owner = app.member(OWNER).await;
        app.sign_up("bob@example.com").await;
        let mut seen = Vec::new();
        for email in ["bob@example.com", "new@example.com"] {
            app.invite(&owner, email, "member").await;
            let copied = token_of(&copy_link(&app, &owner, email).await);
            // An open Team page hears of nothing either way.
            let mut events = app.roster.events.subscribe();
            let r = register_through(&app, &copied).await;
            let heard = tokio::time::timeout(Duration::from_millis(500), events.recv()).await;
            assert!(heard.is_err(), "{email}: an event told the page: {heard:?}");
            // Both invitations stay pending, and the page and the log read the same for both.
            let team = app.team(&owner, &[("search", email)]).await.json();
            let row = &team["rows"][0];
            assert_eq!(row["email"], email);
            seen.push((r.status, r.body, row["kind"].clone(), row["status"].clone()));
            let details = app
                .post("invitation_details", &[("token", &copied)])
                .send()
                .await;
            assert_eq!(
                details.error(),
                None,
                "{email}: the copied link still works"
            );
        }
        assert_eq!(seen[0], seen[1]);
        assert_eq!(
            (&seen[0].2, &seen[0].3),
            (&json!("Invitation"), &json!("Pending"))
        );
        let accepted: i64 = sqlx::query_scalar(
            "select count(*) from audit_log where action = 'invitation.accepted'",
        )
        .fetch_one(&app.roster.store.pool)
        .await
        .unwrap();
        assert_eq!(accepted, 0);
        // The page would have heard a real change.
        let mut events = app.roster.events.subscribe();
        app.invite(&owner, "third@example.com", "member").await;
        let heard = tokio::time::timeout(Duration::from_secs(5), events.recv()).await;
        assert!(matches!(heard, Ok(Ok(_))), "{heard:?}");
    }
);

on_both!(the_invitation_page_does_not_tell_who_has_an_account, |db| {
    let app = TestApp::new(db).await;
    let owner = app.member(OWNER).await;
    app.sign_up("bob@example.com").await;
    app.invite(&owner, "bob@example.com", "member").await;
    app.invite(&owner, "new@example.com", "member").await;
    let shape = |v: serde_json::Value| {
        let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        (keys, v["signed_in"].clone())
    };
    let mut seen = Vec::new();
    for email in ["bob@example.com", "new@example.com"] {
        let token = app.last_token(email, "invitation").await;
        let r = app
            .post("invitation_details", &[("token", &token)])
            .send()
            .await;
        assert_eq!(r.error(), None);
        seen.push(shape(r.json()));
    }
    assert_eq!(seen[0], seen[1]);
    assert_eq!(seen[0].1, json!(false));
    // Registering an address that has an account answers as for a new one, changes
    // nothing, and tells the address to sign in instead.
    let users_before: i64 = sqlx::query_scalar("select count(*) from users")
        .fetch_one(&app.roster.store.pool)
        .await
        .unwrap();
    let existing = app.register_invited("bob@example.com").await;
    let fresh = app.register_invited("new@example.com").await;
    assert_eq!(existing.status, fresh.status);
    assert_eq!(existing.body, fresh.body);
    let users_after: i64 = sqlx::query_scalar("select count(*) from users")
        .fetch_one(&app.roster.store.pool)
        .await
        .unwrap();
    assert_eq!(users_after, users_before + 1);
    let mail = app.emails_to("bob@example.com").await;
    let (subject, body) = mail.last().unwrap();
    assert_eq!(subject, "You already have a Roster account");
    assert!(body.contains("/invitation?token="), "{body}");
    // Bob's invitation is still open: he signs in to accept.
    let team = app.team(&owner, &[("status", "pending")]).await.json();
    assert!(team.to_string().contains("bob@example.com"));
});

on_both!(managers_act_only_on_members_they_outrank, |db| {
    let app = TestApp::new(db).await;
    let owner = app.member(OWNER).await;
    let finance = custom_role(&app, &owner, "Finance", Template::Finance.grid()).await;
    let lead_role = custom_role(&app, &owner, "Team Lead", lead_grid()).await;
    let admin = app.joined(&owner, "admin@example.com", "admin").await;
    let lead = app.joined(&owner, "lead@example.com", &lead_role).await;
    app.joined(&owner, "cfo@example.com", &finance).await;
    app.joined(&owner, "m@example.com", "member").await;
    // Finance holds Billing: Full, which neither the Admin nor the lead holds.
    for manager in [&admin, &lead] {
        for action in ["revoke", "remove", "demote"] {
            assert!(
                denied(&app.act(manager, "cfo@example.com", action).await),
                "{action}"
            );
        }
        let id = app.user_id("cfo@example.com").await.to_string();
        let r = app
            .edit_member(manager, &id, ["Chief", "Officer", "", "member"])
            .await;
        assert!(denied(&r));
    }
    // Nor does the Team page offer them any button on that row.
    let team = app.team(&admin, &[]).await.json();
    let finance_option = team["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "Finance")
        .unwrap();
    assert_eq!(finance_option["outranked"], false);
    // The lead covers a Member and acts on them; the Owner acts on Finance.
    assert_eq!(
        app.act(&lead, "m@example.com", "revoke").await.error(),
        None
    );
    assert_eq!(
        app.act(&owner, "cfo@example.com", "revoke").await.error(),
        None
    );
});

on_both!(
    revoke_remove_and_leave_end_sessions_in_that_organization,
    |db| {
        let app = TestApp::new(db).await;
        let owner = app.member(OWNER).await;
        let grace = app.joined(&owner, "grace@example.com", "member").await;
        assert_eq!(
            app.act(&owner, "grace@example.com", "revoke").await.error(),
            None
        );
        assert_eq!(sessions_of(&app, "grace@example.com").await, 0);
        assert_eq!(
            app.act(&owner, "grace@example.com", "activate")
                .await
                .error(),
            None
        );
        // Active again, but the old cookie is dead: she signs in afresh.
        assert_eq!(app.me(&grace).await, serde_json::Value::Null);
        let r = app.post("team_members", &[]).session(&grace).send().await;
        assert_eq!(r.status, 401);
        let grace = app.sign_in("grace@example.com", PASSWORD).await.session();
        app.accept_terms(&grace).await;
        assert_eq!(
            app.act(&owner, "grace@example.com", "remove").await.error(),
            None
        );
        assert_eq!(sessions_of(&app, "grace@example.com").await, 0);
        // Leaving ends the leaver's session in that organization.
        let m = app.joined(&owner, "m@example.com", "member").await;
        let r = app.post("leave_organization", &[]).session(&m).send().await;
        assert_eq!(r.error(), None);
        assert_eq!(sessions_of(&app, "m@example.com").await, 0);
    }
);

on_both!(
    refusals_carry_their_own_status_and_500_means_a_failure,
    |db| {
        let app = TestApp::new(db).await;
        let owner = app.member(OWNER).await;
        let other = app.member("eve@example.com").await;
        app.joined(&owner, "m@example.com", "member").await;
        let member = app.sign_in("m@example.com", PASSWORD).await.session();
        app.accept_terms(&member).await;
        // 400: a validation message, a wrong password.
        let r = app.invite(&owner, "not an address", "member").await;
        assert_eq!(r.status, 400, "{}", r.body);
        let r = app.sign_in(OWNER, "wrong password here").await;
        assert_eq!(r.status, 400, "{}", r.body);
        // 401: not signed in.
        let r = app.post("team_members", &[]).send().await;
        assert_eq!(r.status, 401);
        // 403: refused by permission, with the product's sentence.
        let r = app.invite(&member, "x@example.com", "member").await;
        assert_eq!(r.status, 403);
        assert_eq!(r.error().as_deref(), Some(PERMISSION_DENIED));
        // 404: an id from another organization.
        let r = app.act(&other, "m@example.com", "revoke").await;
        assert_eq!(r.status, 404);
        // 409: the seat limit.
        app.set_seat_limit(2).await;
        let r = app.invite(&owner, "y@example.com", "member").await;
        assert_eq!(r.status, 409, "{}", r.body);
        // 429: too many failed sign-ins.
        for _ in 0..5 {
            app.sign_in("m@example.com", "wrong password here").await;
        }
        let r = app.sign_in("m@example.com", "wrong password here").await;
        assert_eq!(r.status, 429, "{}", r.body);
    }
);

on_both!(
    an_edit_in_one_organization_leaves_the_person_alone_elsewhere,
    |db| {
        let app = TestApp::new(db).await;
        let owner = app.member(OWNER).await;
        // Grace owns Babbage Ltd and is a member of Analytical Engines.
        let grace_own = app.member("grace@example.com").await;
        app.invite(&owner, "grace@example.com", "member").await;
        let token = app.last_token("grace@example.com", "invitation").await;
        let r = app
            .post("accept_invitation", &[("token", &token)])
            .session(&grace_own)
            .send()
            .await;
        assert_eq!(r.error(), None);
        let id = app.user_id("grace@example.com").await.to_string();
        let r = app
            .edit_member(
                &owner,
                &id,
                ["Mallory", "Impostor", "+44 20 7946 0958", "member"],
            )
            .await;
        assert_eq!(r.error(), None);
        let name_in = |team: serde_json::Value| {
            let row = team["rows"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["email"] == "grace@example.com")
                .unwrap()
                .clone();
            (
                row["first_name"].clone(),
                row["last_name"].clone(),
                row["mobile"].clone(),
            )
        };
        assert_eq!(
            name_in(app.team(&owner, &[]).await.json()),
            (
                json!("Mallory"),
                json!("Impostor"),
                json!("+44 20 7946 0958")
            )
        );
        // Her own organization, her Profile and the mail she sends from there keep her name.
        let owner_org = app.me(&owner).await["org_id"].clone();
        let grace = app.sign_in("grace@example.com", PASSWORD).await.session();
        let me = app.me(&grace).await;
        assert_ne!(
            me["org_id"], owner_org,
            "sign-in lands in her own organization"
        );
        assert_eq!(me["orgs"].as_array().unwrap().len(), 2);
        assert_eq!(
            name_in(app.team(&grace, &[]).await.json()),
            (json!("Ada"), json!("Lovelace"), serde_json::Value::Null)
        );
        assert_eq!(app.me(&grace).await["first_name"], "Ada");
        app.invite(&grace, "hopper@example.com", "member").await;
        let (subject, _) = app.emails_to("hopper@example.com").await.pop().unwrap();
        assert!(subject.starts_with("Ada Lovelace invited you"), "{subject}");
    }
);

on_both!(
    an_unreadable_stored_role_is_refused_not_read_as_member,
    |db| {
        let app = TestApp::new(db).await;
        let owner = app.member(OWNER).await;
        let grace = app.joined(&owner, "grace@example.com", "member").await;
        sqlx::query("update memberships set role = 'superuser' where user_id = $1")
            .bind(app.user_id("grace@example.com").await)
            .execute(&app.roster.store.pool)
            .await
            .unwrap();
        let r = app.team(&grace, &[]).await;
        assert_eq!(r.app_error(), Some(AppError::Internal));
        assert_eq!(r.status, 500);
    }
);

/// The pending invitation of `email` in the organization `session` is in.
async fn pending_id(app: &TestApp, session: &str, email: &str) -> String {
    let org_id = app.me(session).await["org_id"].as_i64().unwrap();
    sqlx::query_scalar::<_, i64>(
        "select id from invitations where org_id = $1 and email = $2 and status = 'pending'",
    )
    .bind(org_id)
    .bind(email)
    .fetch_one(&app.roster.store.pool)
    .await
    .unwrap()
    .to_string()
}

async fn resend(app: &TestApp, session: &str, email: &str) -> Reply {
    let id = pending_id(app, session, email).await;
    app.post("resend_invitation", &[("id", &id)])
        .session(session)
        .send()
        .await
}

on_both!(
    invitation_email_is_rationed_per_invitation_address_and_organization,
    |db| {
        let app = TestApp::new(db).await;
        let owner = app.member(OWNER).await;
        let eve = app.member("eve@example.com").await;
        // A resend waits out the cool-down, however fast the button is pressed.
        app.invite(&owner, "grace@example.com", "member").await;
        let r = resend(&app, &owner, "grace@example.com").await;
        assert_eq!(r.status, 429);
        assert_eq!(
            r.error().as_deref(),
            Some("This invitation was sent moments ago. You can send it again in 60 seconds.")
        );
        assert_eq!(app.emails_to("grace@example.com").await.len(), 1);
        // Five invitations a day reach one address, from every organization together.
        for _ in 0..3 {
            app.clock.advance(61_000);
            assert_eq!(
                resend(&app, &owner, "grace@example.com").await.error(),
                None
            );
        }
        assert_eq!(
            app.invite(&eve, "grace@example.com", "member")
                .await
                .error(),
            None
        );
        app.clock.advance(61_000);
        let r = resend(&app, &eve, "grace@example.com").await;
        assert_eq!(r.status, 429);
        // The refusal tells nothing of what other organizations sent.
        assert_eq!(
            r.error().as_deref(),
            Some(
                "grace@example.com cannot be sent more invitations today: Roster sends at most 5 a day to one address. Try again tomorrow."
            )
        );
        // In a Bulk Invite the line says so, and the rest go out.
        let id = pending_id(&app, &owner, "grace@example.com").await;
        let r = app
            .post("cancel_invitation", &[("id", &id)])
            .session(&owner)
            .send()
            .await;
        assert_eq!(r.error(), None);
        let r = app
            .post(
                "bulk_invite",
                &[
                    ("addresses", "grace@example.com, kim@example.com"),
                    ("role", "member"),
                ],
            )
            .session(&owner)
            .send()
            .await;
        let outcomes: Vec<String> = r
            .json()
            .as_array()
            .unwrap_or_else(|| panic!("{}", r.body))
            .iter()
            .map(|l| l["outcome"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(outcomes, ["AddressLimit", "Invited"]);
        assert_eq!(app.emails_to("grace@example.com").await.len(), 5);
        // A day later the address may be invited again.
        app.clock.advance(24 * 3_600_000);
        assert_eq!(resend(&app, &eve, "grace@example.com").await.error(), None);
        // An organization sends at most max(20, 2 × seats) an hour: 20 with 5 seats.
        app.set_seat_limit(5).await;
        let mut sent = 0;
        for i in 0..30 {
            // Each invitation is cancelled once sent, to keep seats free.
            let email = format!("p{i}@example.com");
            let r = app.invite(&owner, &email, "member").await;
            if r.error().is_some() {
                assert_eq!(r.status, 429, "{}", r.body);
                assert!(
                    r.error().unwrap().contains("in the last hour"),
                    "{}",
                    r.body
                );
                break;
            }
            sent += 1;
            let id = app.invitation_id(&email).await.to_string();
            let r = app
                .post("cancel_invitation", &[("id", &id)])
                .session(&owner)
                .send()
                .await;
            assert_eq!(r.error(), None);
        }
        assert_eq!(sent, 20);
        app.clock.advance(3_600_000);
        assert_eq!(
            app.invite(&owner, "late@example.com", "member")
                .await
                .error(),
            None
        );
    }
);

on_both!(
    housekeeping_sweeps_what_has_ended_and_keeps_what_is_live,
    |db| {
        let app = TestApp::new(db).await;
        let owner = app.member(OWNER).await;
        app.invite(&owner, "old@example.com", "member").await;
        app.sign_up("unverified@example.com").await;
        app.roster.worker.run_once().await.unwrap();
        // Only the owner's used verification link has ended yet.
        let swept = app.roster.housekeeping.run_once().await.unwrap();
        let used_link_only = server::housekeeping::Swept {
            tokens: 1,
            ..Default::default()
        };
        assert_eq!(swept, used_link_only);
        // Thirty-one days on: the session, the verification token, the invitation's link, the
        // quota counts and the delivered emails have all ended.
        app.clock.advance(31 * 24 * 3_600_000);
        let swept = app.roster.housekeeping.run_once().await.unwrap();
        assert!(swept.sessions >= 1, "{swept:?}");
        assert_eq!(swept.tokens, 1, "{swept:?}");
        assert_eq!(swept.invitation_links, 1, "{swept:?}");
        assert!(swept.outbox >= 3, "{swept:?}");
        assert_eq!(swept.invitation_emails, 1, "{swept:?}");
        assert_eq!(app.me(&owner).await, serde_json::Value::Null);
        let count = |table: &'static str| {
            let pool = app.roster.store.pool.clone();
            async move {
                sqlx::query_scalar::<_, i64>(&format!("select count(*) from {table}"))
                    .fetch_one(&pool)
                    .await
                    .unwrap()
            }
        };
        for table in [
            "sessions",
            "one_time_tokens",
            "invitation_links",
            "outbox",
            "invitation_emails",
        ] {
            assert_eq!(count(table).await, 0, "{table}");
        }
        // The people, organizations and invitations themselves stay.
        assert_eq!(count("users").await, 2);
        assert_eq!(count("invitations").await, 1);
    }
);

on_both!(search_folds_unicode_case, |db| {
    let app = TestApp::new(db).await;
    let owner = app.member(OWNER).await;
    app.joined(&owner, "emile@example.com", "member").await;
    let id = app.user_id("emile@example.com").await.to_string();
    let r = app
        .edit_member(&owner, &id, ["Émile", "Ørsted", "", "member"])
        .await;
    assert_eq!(r.error(), None);
    for search in ["émile", "ÉMILE", "Émile", "ørsted", "ØRSTED", "e ø"] {
        let found = app.team_emails(&owner, &[("search", search)]).await;
        assert_eq!(found, ["emile@example.com"], "{search}");
    }
    // Pattern characters are taken literally.
    for search in ["x%", "_", "[", "*", "?"] {
        let found = app.team_emails(&owner, &[("search", search)]).await;
        assert!(found.is_empty(), "{search}: {found:?}");
    }
});

on_both!(deleted_ids_are_never_given_again, |db| {
    let app = TestApp::new(db).await;
    let owner = app.member(OWNER).await;
    let first = app.custom_role(&owner, "Docs", lead_grid()).await;
    let r = app
        .post(
            "delete_role",
            &[("role_id", first.to_string().as_str()), ("move_to", "")],
        )
        .session(&owner)
        .send()
        .await;
    assert_eq!(r.error(), None);
    // The deleted role held the highest id; its successor must not inherit it, or a form
    // still aimed at the deleted role would change the new one.
    let second = app.custom_role(&owner, "Docs", lead_grid()).await;
    assert!(
        second > first,
        "role id {first} was given again as {second}"
    );
});
