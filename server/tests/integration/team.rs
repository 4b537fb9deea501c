//! The team over HTTP: invitations, accepting, seats, member actions and their rules, the
//! list's search/filter/sort/paging, and live updates. Every test runs on both databases.

use crate::common::*;
use app::error::PERMISSION_DENIED;
use serde_json::Value;

const OWNER: &str = "ada@example.com";

fn row<'a>(team: &'a Value, email: &str) -> &'a Value {
    team["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["email"] == email)
        .unwrap_or_else(|| panic!("{email} not listed: {team}"))
}

fn seats(team: &Value) -> (i64, i64) {
    (
        team["seats"]["used"].as_i64().unwrap(),
        team["seats"]["limit"].as_i64().unwrap(),
    )
}

async fn details(app: &TestApp, token: &str) -> Reply {
    app.post("invitation_details", &[("token", token)])
        .send()
        .await
}

on_both!(an_invitation_is_emailed_and_listed_as_pending, |db| {
    let app = TestApp::new(db).await;
    let owner = app.member(OWNER).await;
    let r = app.invite(&owner, "Grace@Example.com", "member").await;
    assert_eq!(r.error(), None);
    let emails = app.emails_to("grace@example.com").await;
    assert_eq!(emails.len(), 1);
    assert_eq!(
        emails[0].0,
        "Ada Lovelace invited you to join Analytical Engines on Roster"
    );
    assert!(emails[0].1.contains("as Member"), "{}", emails[0].1);
    let token = app.last_token("grace@example.com", "invitation").await;
    // Only the hash is stored.
    let stored: i64 =
        sqlx::query_scalar("select count(*) from invitation_links where token_hash = $1")
            .bind(&token)
            .fetch_one(&app.roster.store.pool)
            .await
            .unwrap();
    assert_eq!(stored, 0);
    let team = app.team(&owner, &[]).await.json();
    assert_eq!(team["total"], 2);
    let grace = row(&team, "grace@example.com");
    assert_eq!(grace["status"], "Pending");
    assert_eq!(grace["role"], "Member");
    assert_eq!(grace["kind"], "Invitation");
    assert_eq!(row(&team, OWNER)["status"], "Active");
    assert_eq!(row(&team, OWNER)["role"], "Owner");
    assert_eq!(seats(&team), (2, 50));
    assert!(
        app.audit_actions()
            .await
            .contains(&"invitation.sent".to_owned())
    );
    // The link shows who invited whom, before asking for anything.
    let d = details(&app, &token).await.json();
    assert_eq!(d["org_name"], "Analytical Engines");
    assert_eq!(d["inviter"], "Ada Lovelace");
    assert_eq!(d["email"], "grace@example.com");
    assert_eq!(d["signed_in"], false);
});

on_both!(a_new_person_registers_verifies_and_becomes_active, |db| {
    let app = TestApp::new(db).await;
    let owner = app.member(OWNER).await;
    app.invite(&owner, "grace@example.com", "admin").await;
    let token = app.last_token("grace@example.com", "invitation").await;
    assert_eq!(
        app.register_invited("grace@example.com").await.error(),
        None
    );
    // Not signed in until the address is verified.
    assert_eq!(
        app.sign_in("grace@example.com", PASSWORD).await.app_error(),
        Some(app::error::AppError::EmailNotVerified)
    );
    let verify = app.last_token("grace@example.com", "verify-email").await;
    app.post("verify_email", &[("token", &verify)]).send().await;
    let session = app.sign_in("grace@example.com", PASSWORD).await.session();
    let me = app.me(&session).await;
    assert_eq!(me["org_name"], "Analytical Engines");
    assert_eq!(me["role"], "Admin");
    assert_eq!(me["terms_accepted"], false);
    let team = app.team(&owner, &[]).await.json();
    assert_eq!(row(&team, "grace@example.com")["status"], "Active");
    assert_eq!(row(&team, "grace@example.com")["kind"], "Member");
    assert_eq!(seats(&team), (2, 50));
    // The link worked once.
    let again = details(&app, &token).await.error().unwrap();
    assert!(
        again.contains("Ask your administrator to resend it"),
        "{again}"
    );
});

on_both!(invitations_are_validated_and_refused_clearly, |db| {
    let app = TestApp::new(db).await;
    let owner = app.member(OWNER).await;
    let r = app
        .post(
            "invite_user",
            &[
                ("first_name", ""),
                ("last_name", "H"),
                ("email", "nope"),
                ("role", "owner"),
            ],
        )
        .session(&owner)
        .send()
        .await;
    let e = r.app_error().unwrap();
    assert_eq!(
        e.for_field("first_name").as_deref(),
        Some("Enter a first name.")
    );
    assert!(e.for_field("email").unwrap().contains("valid email"));
    assert_eq!(e.for_field("role").as_deref(), Some("Choose a role."));
    let e = app
        .invite(&owner, OWNER, "member")
        .await
        .app_error()
        .unwrap();
    assert!(e.for_field("email").unwrap().contains("already a member"));
    app.invite(&owner, "grace@example.com", "member").await;
    let e = app
        .invite(&owner, "grace@example.com", "admin")
        .await
        .app_error()
        .unwrap();
    assert!(e.for_field("email").unwrap().contains("Resend Invitation"));
    // Members cannot invite; visitors who are not signed in cannot either.
    let member = app.joined(&owner, "m@example.com", "member").await;
    let r = app.invite(&member, "x@example.com", "member").await;
    assert_eq!(r.error().as_deref(), Some(PERMISSION_DENIED));
    let r = app.invite("not-a-session", "x@example.com", "member").await;
    assert_eq!(r.error().as_deref(), Some("Please sign in to continue."));
    assert!(app.emails_to("x@example.com").await.is_empty());
});

on_both!(
    the_seat_limit_holds_and_expired_invitations_free_seats,
    |db| {
        let app = TestApp::new(db).await;
        let owner = app.member(OWNER).await;
        app.set_seat_limit(2).await;
        assert_eq!(
            app.invite(&owner, "one@example.com", "member")
                .await
                .error(),
            None
        );
        let full = app
            .invite(&owner, "two@example.com", "member")
            .await
            .error()
            .unwrap();
        assert_eq!(
            full,
            "Your organization has used all 2 seats. Upgrade your plan on the Billing page to invite more people."
        );
        assert!(app.emails_to("two@example.com").await.is_empty());
        let token = app.last_token("one@example.com", "invitation").await;
        // (Halfway, so the owner's session stays in use.)
        app.clock.advance(4 * 24 * 3_600_000);
        app.me(&owner).await;
        app.clock.advance(3 * 24 * 3_600_000 + 1);
        let team = app.team(&owner, &[]).await.json();
        assert_eq!(row(&team, "one@example.com")["status"], "Expired");
        assert_eq!(seats(&team), (1, 2));
        let expired = details(&app, &token).await.error().unwrap();
        assert_eq!(
            expired,
            "This invitation has expired. Ask your administrator to resend it."
        );
        let r = app.register_invited("one@example.com").await;
        assert!(r.error().unwrap().contains("expired"));
        // The freed seat can be used; the expired invitation then cannot be resent.
        assert_eq!(
            app.invite(&owner, "two@example.com", "member")
                .await
                .error(),
            None
        );
        let expired_id = app.invitation_id("one@example.com").await.to_string();
        let r = app
            .post("resend_invitation", &[("id", &expired_id)])
            .session(&owner)
            .send()
            .await;
        assert!(r.error().unwrap().contains("used all 2 seats"));
        let two = app.invitation_id("two@example.com").await.to_string();
        let r = app
            .post("cancel_invitation", &[("id", &two)])
            .session(&owner)
            .send()
            .await;
        assert_eq!(r.error(), None);
        let r = app
            .post("resend_invitation", &[("id", &expired_id)])
            .session(&owner)
            .send()
            .await;
        assert_eq!(r.error(), None);
        let team = app.team(&owner, &[]).await.json();
        assert_eq!(row(&team, "one@example.com")["status"], "Pending");
        assert_eq!(seats(&team), (2, 2));
        // A removed member frees their seat.
        app.register_invited("one@example.com").await;
        assert_eq!(
            app.act(&owner, "one@example.com", "remove").await.error(),
            None
        );
        assert_eq!(seats(&app.team(&owner, &[]).await.json()), (1, 2));
    }
);

on_both!(resending_replaces_the_link_and_cancelling_kills_it, |db| {
    let app = TestApp::new(db).await;
    let owner = app.member(OWNER).await;
    app.invite(&owner, "grace@example.com", "member").await;
    let first = app.last_token("grace@example.com", "invitation").await;
    let id = app.invitation_id("grace@example.com").await.to_string();
    app.clock.advance(3_600_000);
    let r = app
        .post("resend_invitation", &[("id", &id)])
        .session(&owner)
        .send()
        .await;
    assert_eq!(r.error(), None);
    assert_eq!(app.emails_to("grace@example.com").await.len(), 2);
    let second = app.last_token("grace@example.com", "invitation").await;
    assert_ne!(first, second);
    assert!(
        details(&app, &first)
            .await
            .error()
            .unwrap()
            .contains("no longer valid")
    );
    assert_eq!(details(&app, &second).await.error(), None);
    // The expiry restarted with the resend.
    app.clock.advance(7 * 24 * 3_600_000 - 60_000);
    assert_eq!(details(&app, &second).await.error(), None);
    // "Copy invite link" adds a link beside the emailed one.
    let r = app
        .post("invite_link", &[("id", &id)])
        .session(&owner)
        .send()
        .await;
    let copied = r.json().as_str().unwrap().to_owned();
    assert!(copied.starts_with("http://roster.test:3000/invitation?token="));
    let copied_token = copied.split("token=").nth(1).unwrap();
    assert_eq!(details(&app, copied_token).await.error(), None);
    assert_eq!(details(&app, &second).await.error(), None);
    let r = app
        .post("cancel_invitation", &[("id", &id)])
        .session(&owner)
        .send()
        .await;
    assert_eq!(r.error(), None);
    for t in [second.as_str(), copied_token] {
        let e = details(&app, t).await.error().unwrap();
        assert!(e.contains("Ask your administrator to resend it"), "{e}");
    }
    let team = app.team(&owner, &[]).await.json();
    assert_eq!(team["total"], 1);
    let actions = app.audit_actions().await;
    for a in [
        "invitation.resent",
        "invitation.link_copied",
        "invitation.cancelled",
    ] {
        assert!(actions.contains(&a.to_owned()), "{a}: {actions:?}");
    }
    // Members cannot resend, cancel or copy links.
    app.invite(&owner, "h@example.com", "member").await;
    let member = app.joined(&owner, "m@example.com", "member").await;
    let id = app.invitation_id("h@example.com").await.to_string();
    for endpoint in ["resend_invitation", "cancel_invitation", "invite_link"] {
        let r = app
            .post(endpoint, &[("id", &id)])
            .session(&member)
            .send()
            .await;
        assert_eq!(r.error().as_deref(), Some(PERMISSION_DENIED), "{endpoint}");
    }
});

on_both!(an_existing_account_signs_in_to_accept, |db| {
    let app = TestApp::new(db).await;
    let owner = app.member(OWNER).await;
    // Bob owns another organization.
    app.post(
        "sign_up",
        &[
            ("first_name", "Bob"),
            ("last_name", "B"),
            ("email", "bob@example.com"),
            ("password", PASSWORD),
            ("org_name", "Babbage Ltd"),
        ],
    )
    .send()
    .await;
    app.invite(&owner, "bob@example.com", "member").await;
    let token = app.last_token("bob@example.com", "invitation").await;
    // The page does not say whether the address has an account.
    let shown = details(&app, &token).await.json();
    assert_eq!(shown["signed_in"], false);
    assert!(shown.get("has_account").is_none(), "{shown}");
    let wrong = app.sign_in_to_accept(&token, "not his password").await;
    assert_eq!(
        wrong.error().as_deref(),
        Some("The email address or password is incorrect.")
    );
    let r = app.sign_in_to_accept(&token, PASSWORD).await;
    assert_eq!(r.error(), None);
    let bob = r.session();
    let me = app.me(&bob).await;
    assert_eq!(me["org_name"], "Analytical Engines");
    assert_eq!(me["role"], "Member");
    assert_eq!(me["orgs"].as_array().unwrap().len(), 2);
    // Following the link proved the address.
    let version = app.config.terms_version.clone();
    app.post("accept_terms", &[("version", &version)])
        .session(&bob)
        .send()
        .await;
    let team = app.team(&owner, &[]).await.json();
    assert_eq!(row(&team, "bob@example.com")["status"], "Active");

    // Switching organizations, and the default one sign-in lands in.
    let babbage = me["orgs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "Babbage Ltd")
        .unwrap()["id"]
        .as_i64()
        .unwrap()
        .to_string();
    let analytical = me["org_id"].as_i64().unwrap().to_string();
    let r = app
        .post("switch_organization", &[("org_id", &babbage)])
        .session(&bob)
        .send()
        .await;
    assert_eq!(r.error(), None);
    assert_eq!(app.me(&bob).await["org_name"], "Babbage Ltd");
    let r = app
        .post("set_default_organization", &[("org_id", &analytical)])
        .session(&bob)
        .send()
        .await;
    assert_eq!(r.error(), None);
    let again = app.sign_in("bob@example.com", PASSWORD).await.session();
    assert_eq!(app.me(&again).await["org_name"], "Analytical Engines");
    // Nobody switches into an organization they are not in.
    let grace = app.joined(&owner, "grace@example.com", "member").await;
    let r = app
        .post("switch_organization", &[("org_id", &babbage)])
        .session(&grace)
        .send()
        .await;
    assert_eq!(r.error().as_deref(), Some(PERMISSION_DENIED));
    let r = app
        .post("set_default_organization", &[("org_id", &babbage)])
        .session(&grace)
        .send()
        .await;
    assert_eq!(r.error().as_deref(), Some(PERMISSION_DENIED));
});

on_both!(a_signed_in_account_accepts_only_its_own_invitation, |db| {
    let app = TestApp::new(db).await;
    let owner = app.member(OWNER).await;
    let bob = app.member("bob@example.com").await;
    let carol = app.member("carol@example.com").await;
    app.invite(&owner, "bob@example.com", "admin").await;
    let token = app.last_token("bob@example.com", "invitation").await;
    let d = app
        .post("invitation_details", &[("token", &token)])
        .session(&bob)
        .send()
        .await
        .json();
    assert_eq!(d["signed_in"], true);
    let r = app
        .post("accept_invitation", &[("token", &token)])
        .session(&carol)
        .send()
        .await;
    assert_eq!(
        r.error().as_deref(),
        Some("This invitation is for bob@example.com. Sign in with that address to accept it.")
    );
    let r = app
        .post("accept_invitation", &[("token", &token)])
        .session(&bob)
        .send()
        .await;
    assert_eq!(r.error(), None);
    // The session moved into the organization that invited him.
    let me = app.me(&bob).await;
    assert_eq!(me["role"], "Admin");
    let team = app.team(&bob, &[]).await.json();
    assert_eq!(row(&team, OWNER)["role"], "Owner");
    let r = app
        .post("accept_invitation", &[("token", &token)])
        .session(&bob)
        .send()
        .await;
    assert!(r.error().unwrap().contains("no longer valid"));
    // A registration attempt on an account that exists is answered like a new one, and
    // the address is told to sign in to accept instead.
    app.invite(&owner, "carol@example.com", "member").await;
    let r = app.register_invited("carol@example.com").await;
    assert_eq!(r.error(), None);
    let mail = app.emails_to("carol@example.com").await;
    assert_eq!(mail.last().unwrap().0, "You already have a Roster account");
});

on_both!(member_actions_follow_the_rules, |db| {
    let app = TestApp::new(db).await;
    let owner = app.member(OWNER).await;
    let admin = app.joined(&owner, "admin1@example.com", "admin").await;
    app.joined(&owner, "admin2@example.com", "admin").await;
    let member = app.joined(&owner, "m@example.com", "member").await;
    let denied = Some(PERMISSION_DENIED.to_owned());
    // Admins promote members, but never act on Admins, the Owner or themselves.
    assert_eq!(
        app.act(&admin, "m@example.com", "promote").await.error(),
        None
    );
    assert_eq!(app.me(&member).await["role"], "Admin");
    assert_eq!(
        app.act(&admin, "m@example.com", "demote").await.error(),
        denied
    );
    for action in ["demote", "revoke", "remove"] {
        assert_eq!(
            app.act(&admin, "admin2@example.com", action).await.error(),
            denied,
            "{action}"
        );
        assert_eq!(
            app.act(&admin, OWNER, action).await.error(),
            denied,
            "{action}"
        );
        assert_eq!(
            app.act(&admin, "admin1@example.com", action).await.error(),
            denied,
            "{action}"
        );
        assert_eq!(
            app.act(&owner, OWNER, action).await.error(),
            denied,
            "{action}"
        );
    }
    // Only the Owner demotes an Admin; state rules hold for everyone.
    assert_eq!(
        app.act(&owner, "m@example.com", "demote").await.error(),
        None
    );
    assert_eq!(
        app.act(&owner, "m@example.com", "demote").await.error(),
        denied
    );
    assert_eq!(
        app.act(&owner, "m@example.com", "activate").await.error(),
        denied
    );
    assert_eq!(
        app.act(&member, "admin1@example.com", "revoke")
            .await
            .error(),
        denied
    );
    assert_eq!(app.act(&member, OWNER, "promote").await.error(), denied);
    // Revoke: the member's session stops working at once; Activate restores it.
    assert_eq!(
        app.act(&admin, "m@example.com", "revoke").await.error(),
        None
    );
    assert_eq!(app.me(&member).await, Value::Null);
    assert_eq!(app.team(&owner, &[]).await.json()["seats"]["used"], 4);
    assert_eq!(
        app.act(&admin, "m@example.com", "promote").await.error(),
        denied
    );
    assert_eq!(
        app.act(&admin, "m@example.com", "activate").await.error(),
        None
    );
    // Active again, but Revoke ended the old session: they sign in afresh.
    assert_eq!(app.me(&member).await, Value::Null);
    let member = app.sign_in("m@example.com", PASSWORD).await.session();
    assert_eq!(app.me(&member).await["role"], "Member");
    // Remove: access ends, the seat is freed, the data is kept, and they can come back.
    assert_eq!(
        app.act(&admin, "m@example.com", "remove").await.error(),
        None
    );
    assert_eq!(app.me(&member).await, Value::Null);
    let team = app.team(&owner, &[]).await.json();
    assert_eq!(seats(&team), (3, 50));
    assert!(
        team["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["email"] != "m@example.com")
    );
    assert_eq!(
        app.act(&admin, "m@example.com", "remove")
            .await
            .error()
            .as_deref(),
        Some("That page or item does not exist.")
    );
    assert_eq!(
        app.invite(&admin, "m@example.com", "member").await.error(),
        None
    );
    let token = app.last_token("m@example.com", "invitation").await;
    let r = app.sign_in_to_accept(&token, PASSWORD).await;
    assert_eq!(r.error(), None);
    assert_eq!(app.me(&r.session()).await["role"], "Member");
    let actions = app.audit_actions().await;
    for a in [
        "member.promote",
        "member.demote",
        "member.revoke",
        "member.activate",
        "member.remove",
    ] {
        assert!(actions.contains(&a.to_owned()), "{a}: {actions:?}");
    }
    let unknown = app
        .post("change_member", &[("user_id", "1"), ("action", "edit")])
        .session(&owner)
        .send()
        .await;
    assert_eq!(
        unknown.error().as_deref(),
        Some("That page or item does not exist.")
    );
});

on_both!(editing_a_member_changes_name_mobile_and_role, |db| {
    let app = TestApp::new(db).await;
    let owner = app.member(OWNER).await;
    let admin = app.joined(&owner, "admin1@example.com", "admin").await;
    app.joined(&owner, "admin2@example.com", "admin").await;
    let member = app.joined(&owner, "m@example.com", "member").await;
    let edit = |session: String, email: &'static str, mobile: &'static str, role: &'static str| {
        let app = &app;
        async move {
            let id = app.user_id(email).await.to_string();
            app.post(
                "edit_member",
                &[
                    ("user_id", &id),
                    ("first_name", "Marie"),
                    ("last_name", "Curie"),
                    ("mobile", mobile),
                    ("role", role),
                ],
            )
            .session(&session)
            .send()
            .await
        }
    };
    let r = edit(owner.clone(), "m@example.com", "12", "member").await;
    assert!(r.app_error().unwrap().for_field("mobile").is_some());
    let r = edit(admin.clone(), "m@example.com", "+44 20 7946 0958", "admin").await;
    assert_eq!(r.error(), None);
    // The organization shows the new name and number; the person's own profile keeps theirs.
    let team = app.team(&owner, &[]).await.json();
    let marie = row(&team, "m@example.com");
    assert_eq!(
        (marie["first_name"].as_str(), marie["mobile"].as_str()),
        (Some("Marie"), Some("+44 20 7946 0958"))
    );
    let me = app.me(&member).await;
    assert_eq!(
        (
            me["first_name"].as_str(),
            me["mobile"].as_str(),
            me["role"].as_str()
        ),
        (Some("Grace"), None, Some("Admin"))
    );
    let denied = Some(PERMISSION_DENIED.to_owned());
    assert_eq!(
        edit(admin.clone(), "admin2@example.com", "", "admin")
            .await
            .error(),
        denied
    );
    assert_eq!(
        edit(admin.clone(), OWNER, "", "admin").await.error(),
        denied
    );
    assert_eq!(
        edit(member.clone(), "admin1@example.com", "", "member")
            .await
            .error(),
        denied
    );
    assert_eq!(
        edit(owner.clone(), "m@example.com", "", "owner")
            .await
            .app_error()
            .unwrap()
            .for_field("role")
            .as_deref(),
        Some("Choose a role.")
    );
    assert!(
        app.audit_actions()
            .await
            .contains(&"member.edited".to_owned())
    );
});

on_both!(members_leave_but_the_owner_cannot, |db| {
    let app = TestApp::new(db).await;
    let owner = app.member(OWNER).await;
    let member = app.joined(&owner, "m@example.com", "member").await;
    let r = app
        .post("leave_organization", &[])
        .session(&owner)
        .send()
        .await;
    assert_eq!(
        r.error().as_deref(),
        Some("The Owner cannot leave the organization they own.")
    );
    let r = app
        .post("leave_organization", &[])
        .session(&member)
        .send()
        .await;
    assert_eq!(r.error(), None);
    assert_eq!(app.me(&member).await, Value::Null);
    assert_eq!(seats(&app.team(&owner, &[]).await.json()), (1, 50));
});

on_both!(
    the_list_searches_filters_sorts_and_pages_on_the_server,
    |db| {
        let app = TestApp::new(db).await;
        let owner = app.member(OWNER).await;
        app.set_seat_limit(200).await;
        let list: String = (0..60)
            .map(|i| format!("Person {i:02} <p{i:02}@example.com>\n"))
            .collect();
        let r = app
            .post("bulk_invite", &[("addresses", &list), ("role", "member")])
            .session(&owner)
            .send()
            .await;
        assert_eq!(r.error(), None);
        let member = app.joined(&owner, "zed_admin@example.com", "admin").await;
        let page1 = app.team(&member, &[("sort", "email")]).await.json();
        assert_eq!(page1["total"], 62);
        assert_eq!(page1["rows"].as_array().unwrap().len(), 50);
        assert_eq!(page1["rows"][0]["email"], OWNER);
        let page2 = app
            .team_emails(&member, &[("sort", "email"), ("page", "2")])
            .await;
        assert_eq!(page2.len(), 12);
        assert_eq!(page2.last().unwrap(), "zed_admin@example.com");
        let desc = app
            .team_emails(&member, &[("sort", "email"), ("descending", "true")])
            .await;
        assert_eq!(desc[0], "zed_admin@example.com");
        assert_eq!(
            app.team_emails(&member, &[("search", "P07@")]).await,
            ["p07@example.com"]
        );
        assert_eq!(
            app.team_emails(&member, &[("search", "person 1")])
                .await
                .len(),
            10
        );
        assert_eq!(
            app.team_emails(&member, &[("search", "lovelace")]).await,
            [OWNER]
        );
        // Pattern characters are taken literally: "_" matches only an underscore.
        assert_eq!(
            app.team_emails(&member, &[("search", "d_a")]).await,
            ["zed_admin@example.com"]
        );
        assert!(
            app.team_emails(&member, &[("search", "%")])
                .await
                .is_empty()
        );
        assert_eq!(
            app.team_emails(&member, &[("role", "owner")]).await,
            [OWNER]
        );
        assert_eq!(
            app.team_emails(&member, &[("status", "active"), ("sort", "email")])
                .await,
            [OWNER, "zed_admin@example.com"]
        );
        assert_eq!(
            app.team(&member, &[("status", "pending")]).await.json()["total"],
            60
        );
        let by_role = app.team_emails(&member, &[("sort", "role")]).await;
        assert_eq!(&by_role[..2], [OWNER, "zed_admin@example.com"]);
        let far = app.team(&member, &[("page", "9")]).await.json();
        assert_eq!(
            (far["total"].as_i64(), far["rows"].as_array().unwrap().len()),
            (Some(62), 0)
        );
        assert_eq!(seats(&page1), (62, 200));
        assert_eq!(page1["viewer"], serde_json::json!({ "BuiltIn": "Admin" }));
    }
);

on_both!(
    the_search_follows_every_change_and_stays_in_its_organization,
    |db| {
        let app = TestApp::new(db).await;
        let owner = app.member(OWNER).await;
        // Another organization whose Owner has the same name.
        let rival = app.member("rival@example.com").await;
        let grace = app.joined(&owner, "grace@example.com", "member").await;
        for (who, text, want) in [
            (&owner, "lovelace", vec![OWNER]),
            (&rival, "lovelace", vec!["rival@example.com"]),
            (&owner, "HOPPER", vec!["grace@example.com"]),
            (&owner, "ce@exa", vec!["grace@example.com"]),
            (&owner, "ace hop", vec!["grace@example.com"]),
            // Two characters are matched row by row; the rows are the same.
            (&owner, "pp", vec!["grace@example.com"]),
            (&rival, "pp", vec![]),
            // Query syntax in the search is text.
            (&owner, "\"hop", vec![]),
            (&owner, "hop*", vec![]),
            (&owner, "a OR b", vec![]),
            // Control characters are dropped (FTS5 would end the query at a NUL).
            (&owner, "hop\u{0}per", vec!["grace@example.com"]),
        ] {
            assert_eq!(
                app.team_emails(who, &[("search", text)]).await,
                want,
                "{text}"
            );
        }
        // Grace renames herself on her Profile: the old name is no longer found.
        let r = app
            .post(
                "update_profile",
                &[
                    ("first_name", "Éva"),
                    ("last_name", "Quinn"),
                    ("mobile", ""),
                ],
            )
            .session(&grace)
            .send()
            .await;
        assert_eq!(r.error(), None);
        assert!(
            app.team_emails(&owner, &[("search", "hopper")])
                .await
                .is_empty()
        );
        search_index_matches_the_tables(&app, db).await;
        // Case folds beyond ASCII, on both databases.
        assert_eq!(
            app.team_emails(&owner, &[("search", "éVA qu")]).await,
            ["grace@example.com"]
        );
        // The Owner gives her an organization-local name.
        let id = app.user_id("grace@example.com").await.to_string();
        let r = app
            .edit_member(&owner, &id, ["Amazing", "Grace", "", "member"])
            .await;
        assert_eq!(r.error(), None);
        assert_eq!(
            app.team_emails(&owner, &[("search", "amazing")]).await,
            ["grace@example.com"]
        );
        assert!(
            app.team_emails(&owner, &[("search", "quinn")])
                .await
                .is_empty()
        );
        search_index_matches_the_tables(&app, db).await;
        // Removed members and cancelled invitations are not found.
        assert_eq!(
            app.act(&owner, "grace@example.com", "remove").await.error(),
            None
        );
        assert!(
            app.team_emails(&owner, &[("search", "amazing")])
                .await
                .is_empty()
        );
        app.invite(&owner, "pending@example.com", "member").await;
        assert_eq!(
            app.team_emails(&owner, &[("search", "pending@")]).await,
            ["pending@example.com"]
        );
        let invitation = app.invitation_id("pending@example.com").await.to_string();
        let r = app
            .post("cancel_invitation", &[("id", &invitation)])
            .session(&owner)
            .send()
            .await;
        assert_eq!(r.error(), None);
        let found = app.team(&owner, &[("search", "pending@")]).await.json();
        assert_eq!(found["total"], 0);
        search_index_matches_the_tables(&app, db).await;
    }
);

/// On SQLite, the trigram tables hold exactly the listed rows, each under its organization's
/// rowid range and with the text it is listed under (PostgreSQL indexes the tables themselves).
async fn search_index_matches_the_tables(app: &TestApp, db: Db) {
    if !matches!(db, Db::Sqlite) {
        return;
    }
    let pool = &app.roster.store.pool;
    let count = |sql: &'static str| async move {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    };
    let listed = count("select count(*) from memberships where status <> 'removed'").await;
    assert_eq!(count("select count(*) from member_search").await, listed);
    let same = count(
        "select count(*) from memberships m join users u on u.id = m.user_id \
         join member_search f on f.rowid = m.org_id * 4294967296 + m.search_id \
         where m.status <> 'removed' and f.email = u.email \
         and f.name = coalesce(m.first_name, u.first_name) || ' ' || coalesce(m.last_name, u.last_name)",
    )
    .await;
    assert_eq!(same, listed);
    let pending = count("select count(*) from invitations where status = 'pending'").await;
    assert_eq!(
        count("select count(*) from invitation_search").await,
        pending
    );
    let same = count(
        "select count(*) from invitations i \
         join invitation_search f on f.rowid = i.org_id * 4294967296 + i.id \
         where i.status = 'pending' and f.email = i.email \
         and f.name = i.first_name || ' ' || i.last_name",
    )
    .await;
    assert_eq!(same, pending);
}

on_both!(bulk_invite_reports_every_line, |db| {
    let app = TestApp::new(db).await;
    let owner = app.member(OWNER).await;
    app.invite(&owner, "pending@example.com", "member").await;
    app.set_seat_limit(4).await;
    let list = "new1@example.com\nnot an address; \"Hopper, Grace\" <grace@example.com>, NEW1@example.com\nada@example.com\npending@example.com\nlast@example.com";
    let r = app
        .post("bulk_invite", &[("addresses", list), ("role", "member")])
        .session(&owner)
        .send()
        .await;
    assert_eq!(r.error(), None);
    let got: Vec<(String, String)> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["entry"].as_str().unwrap().to_owned(),
                l["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want = [
        ("new1@example.com", "Invited"),
        ("not an address", "Invalid"),
        ("\"Hopper, Grace\" <grace@example.com>", "Invited"),
        ("NEW1@example.com", "Duplicate"),
        ("ada@example.com", "AlreadyMember"),
        ("pending@example.com", "AlreadyInvited"),
        ("last@example.com", "OverSeatLimit"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(got, want);
    // Each invited line has its invitation and its email; the others left nothing.
    assert_eq!(app.emails_to("new1@example.com").await.len(), 1);
    assert_eq!(app.emails_to("grace@example.com").await.len(), 1);
    assert!(app.emails_to("last@example.com").await.is_empty());
    assert_eq!(app.emails_to("pending@example.com").await.len(), 1);
    let team = app.team(&owner, &[]).await.json();
    assert_eq!(seats(&team), (4, 4));
    assert_eq!(row(&team, "grace@example.com")["first_name"], "Grace");
    assert_eq!(row(&team, "grace@example.com")["last_name"], "Hopper");
    // An invitation without a name sorts by its address among the names.
    assert_eq!(
        app.team_emails(&owner, &[]).await,
        [
            OWNER,
            "pending@example.com",
            "grace@example.com",
            "new1@example.com"
        ]
    );
    let e = app
        .post("bulk_invite", &[("addresses", " \n "), ("role", "member")])
        .session(&owner)
        .send()
        .await;
    assert_eq!(
        e.app_error().unwrap().for_field("addresses").as_deref(),
        Some("Enter at least one email address.")
    );
    app.set_seat_limit(10).await;
    let member = app.joined(&owner, "m@example.com", "member").await;
    let r = app
        .post(
            "bulk_invite",
            &[("addresses", "x@example.com"), ("role", "member")],
        )
        .session(&member)
        .send()
        .await;
    assert_eq!(r.error().as_deref(), Some(PERMISSION_DENIED));
});

on_both!(another_organizations_ids_are_not_found, |db| {
    let app = TestApp::new(db).await;
    let owner = app.member(OWNER).await;
    let other = app.member("eve@example.com").await;
    app.joined(&owner, "m@example.com", "member").await;
    app.invite(&owner, "p@example.com", "member").await;
    let inv = app.invitation_id("p@example.com").await.to_string();
    for endpoint in ["resend_invitation", "cancel_invitation", "invite_link"] {
        let r = app
            .post(endpoint, &[("id", &inv)])
            .session(&other)
            .send()
            .await;
        assert_eq!(
            r.error().as_deref(),
            Some("That page or item does not exist."),
            "{endpoint}"
        );
    }
    for action in ["promote", "revoke", "remove"] {
        let r = app.act(&other, "m@example.com", action).await;
        assert_eq!(
            r.error().as_deref(),
            Some("That page or item does not exist."),
            "{action}"
        );
    }
    let emails = app.team_emails(&other, &[]).await;
    assert_eq!(emails, ["eve@example.com"]);
});

on_both!(open_team_pages_hear_about_changes, |db| {
    use http_body_util::BodyExt;
    use std::time::Duration;
    let app = TestApp::new(db).await;
    let owner = app.member(OWNER).await;
    let other = app.member("eve@example.com").await;
    let admin = app.joined(&owner, "admin@example.com", "admin").await;
    let anonymous = app.get("/events").send().await;
    assert_eq!(anonymous.status, 401);
    let res = open_events(&app, &owner).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let mut body = res.into_body();
    // The first event names the team's version now.
    let first = tokio::time::timeout(Duration::from_secs(1), body.frame())
        .await
        .expect("the version at once")
        .unwrap()
        .unwrap();
    let first = String::from_utf8(first.into_data().unwrap().to_vec()).unwrap();
    let version = app.team(&owner, &[]).await.json()["version"].clone();
    assert!(first.contains(&format!("data: {version}")), "{first}");
    // Another organization's change is not announced here.
    app.invite(&other, "x@example.com", "member").await;
    let quiet = tokio::time::timeout(Duration::from_millis(300), body.frame()).await;
    assert!(quiet.is_err(), "no event expected");
    app.invite(&admin, "new@example.com", "member").await;
    let frame = tokio::time::timeout(Duration::from_secs(1), body.frame())
        .await
        .expect("an event within a second")
        .unwrap()
        .unwrap();
    let text = String::from_utf8(frame.into_data().unwrap().to_vec()).unwrap();
    assert!(text.contains("event: team"), "{text}");
    // Signed out: the next change ends the stream instead of reaching it.
    app.post("sign_out", &[]).session(&owner).send().await;
    app.invite(&admin, "later@example.com", "member").await;
    let end = tokio::time::timeout(Duration::from_secs(1), body.frame())
        .await
        .expect("the stream ends");
    assert!(end.is_none(), "no more events after signing out");
});

on_both!(
    a_burst_of_changes_reaches_an_open_page_as_a_few_updates_ending_with_the_newest,
    |db| {
        use http_body_util::BodyExt;
        use std::time::{Duration, Instant};
        let app = TestApp::new(db).await;
        let owner = app.member(OWNER).await;
        app.set_seat_limit(100).await;
        let res = open_events(&app, &owner).await;
        let mut body = res.into_body();
        let before = app.team(&owner, &[]).await.json()["version"]
            .as_i64()
            .unwrap();
        // The first event is the version at connection.
        let first = tokio::time::timeout(Duration::from_secs(1), body.frame())
            .await
            .expect("the version at once")
            .unwrap()
            .unwrap();
        let first = String::from_utf8(first.into_data().unwrap().to_vec()).unwrap();
        assert!(first.contains(&format!("data: {before}")), "{first}");
        let started = Instant::now();
        for i in 0..30 {
            let r = app
                .invite(&owner, &format!("burst{i}@example.com"), "member")
                .await;
            assert_eq!(r.error(), None);
        }
        let newest = app.team(&owner, &[]).await.json()["version"]
            .as_i64()
            .unwrap();
        assert_eq!(newest, before + 30, "each change counts once");
        let mut updates: Vec<i64> = Vec::new();
        while updates.last() != Some(&newest) {
            let frame = tokio::time::timeout(Duration::from_secs(2), body.frame())
                .await
                .expect("the newest version arrives")
                .unwrap()
                .unwrap();
            let text = String::from_utf8(frame.into_data().unwrap().to_vec()).unwrap();
            updates.extend(
                text.lines()
                    .filter_map(|l| l.strip_prefix("data: "))
                    .map(|d| d.split(' ').next().unwrap().parse::<i64>().unwrap()),
            );
        }
        // At most one update per interval, each newer than the last.
        let intervals = started.elapsed().as_millis() / server::events::FEED_INTERVAL.as_millis();
        assert!(
            updates.len() as u128 <= intervals + 1,
            "{} updates in {intervals} intervals: {updates:?}",
            updates.len()
        );
        assert!(updates.windows(2).all(|w| w[0] < w[1]), "{updates:?}");
        assert!(updates.iter().all(|v| *v > before));
    }
);

on_both!(open_streams_end_when_the_server_shuts_down, |db| {
    use http_body_util::BodyExt;
    use std::time::Duration;
    let app = TestApp::new(db).await;
    let owner = app.member(OWNER).await;
    let res = open_events(&app, &owner).await;
    let mut body = res.into_body();
    let first = tokio::time::timeout(Duration::from_secs(1), body.frame()).await;
    assert!(first.is_ok(), "the version at once");
    let quiet = tokio::time::timeout(Duration::from_millis(200), body.frame()).await;
    assert!(
        quiet.is_err(),
        "the stream stays open while nothing happens"
    );
    app.roster.events.stop();
    let end = tokio::time::timeout(Duration::from_secs(1), body.frame())
        .await
        .expect("the stream ends at shutdown");
    assert!(end.is_none());
});

on_both!(members_do_not_see_mobile_numbers, |db| {
    let app = TestApp::new(db).await;
    let owner = app.member(OWNER).await;
    let m = app.joined(&owner, "m@example.com", "member").await;
    let other = app.joined(&owner, "other@example.com", "member").await;
    let id = app.user_id("m@example.com").await.to_string();
    let r = app
        .post(
            "edit_member",
            &[
                ("user_id", &id),
                ("first_name", "M"),
                ("last_name", "M"),
                ("mobile", "+1 555 010 2030"),
                ("role", "member"),
            ],
        )
        .session(&owner)
        .send()
        .await;
    assert_eq!(r.error(), None);
    let mobile = |team: Value| row(&team, "m@example.com")["mobile"].clone();
    assert_eq!(
        mobile(app.team(&owner, &[]).await.json()),
        "+1 555 010 2030"
    );
    assert_eq!(mobile(app.team(&m, &[]).await.json()), "+1 555 010 2030");
    assert_eq!(mobile(app.team(&other, &[]).await.json()), Value::Null);
});

on_both!(a_role_change_is_emailed_to_the_member, |db| {
    let app = TestApp::new(db).await;
    let owner = app.member(OWNER).await;
    app.joined(&owner, "m@example.com", "member").await;
    let before = app.emails_to("m@example.com").await.len();
    app.act(&owner, "m@example.com", "promote").await;
    app.act(&owner, "m@example.com", "demote").await;
    let id = app.user_id("m@example.com").await.to_string();
    app.post(
        "edit_member",
        &[
            ("user_id", &id),
            ("first_name", "M"),
            ("last_name", "M"),
            ("mobile", ""),
            ("role", "admin"),
        ],
    )
    .session(&owner)
    .send()
    .await;
    let emails = app.emails_to("m@example.com").await;
    let subjects: Vec<&str> = emails[before..].iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        subjects,
        [
            "Your role in Analytical Engines is now Admin",
            "Your role in Analytical Engines is now Member",
            "Your role in Analytical Engines is now Admin",
        ]
    );
    assert!(emails.last().unwrap().1.contains("Ada Lovelace"));
});

/// `GET /events` as `session`, answered by the real router (the stream left open).
async fn open_events(app: &TestApp, session: &str) -> axum::response::Response {
    open_stream(app, "/events", session).await
}

/// An event stream at `path` as `session`, answered by the real router (left open).
pub(crate) async fn open_stream(
    app: &TestApp,
    path: &str,
    session: &str,
) -> axum::response::Response {
    let mut req = axum::http::Request::builder()
        .uri(path)
        .header("host", "roster.test:3000")
        .header("cookie", format!("{}={session}", app.cookie_name()))
        .body(axum::body::Body::empty())
        .unwrap();
    req.extensions_mut().insert(axum::extract::ConnectInfo(
        "127.0.0.1:40000".parse::<std::net::SocketAddr>().unwrap(),
    ));
    tower::ServiceExt::oneshot(app.roster.router.clone(), req)
        .await
        .unwrap()
}

/// The rows of one page as `m12` / `i3`.
fn row_refs(page: &Value) -> Vec<String> {
    page["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("not a page: {page}"))
        .iter()
        .map(|r| {
            let kind = if r["kind"] == "Member" { "m" } else { "i" };
            format!("{kind}{}", r["id"])
        })
        .collect()
}

on_both!(
    next_and_previous_read_on_from_a_row_and_agree_with_page_numbers,
    |db| {
        let app = TestApp::new(db).await;
        let owner = app.member(OWNER).await;
        app.set_seat_limit(300).await;
        // Invitations and members with equal names and dates, so ties are broken by kind
        // and id in both directions.
        let list: String = (0..110)
            .map(|i| format!("Person {:02} <p{i:03}@example.com>\n", i % 7))
            .collect();
        let r = app
            .post("bulk_invite", &[("addresses", &list), ("role", "member")])
            .session(&owner)
            .send()
            .await;
        assert_eq!(r.error(), None);
        for i in 0..4 {
            app.joined(&owner, &format!("j{i}@example.com"), "member")
                .await;
        }
        // The invitations expire (status sorts by the time), and a fresh one is pending.
        app.clock.advance(8 * 24 * 3_600_000);
        let owner = app.sign_in(OWNER, PASSWORD).await.session();
        assert_eq!(
            app.invite(&owner, "fresh@example.com", "admin")
                .await
                .error(),
            None
        );
        for sort in ["name", "email", "role", "status", "date"] {
            for descending in ["false", "true"] {
                let view = [("sort", sort), ("descending", descending)];
                let mut by_number = Vec::new();
                for page in 1.. {
                    let p = page.to_string();
                    let r = app
                        .team(&owner, &[view[0], view[1], ("page", &p)])
                        .await
                        .json();
                    let refs = row_refs(&r);
                    if refs.is_empty() {
                        break;
                    }
                    by_number.push(refs);
                }
                assert_eq!(by_number.len(), 3, "{sort} {descending}");
                // Next, from the last row of each page.
                let mut cursor = String::new();
                for (i, expected) in by_number.iter().enumerate() {
                    let p = (i + 1).to_string();
                    let r = app
                        .team(
                            &owner,
                            &[view[0], view[1], ("page", &p), ("cursor", &cursor)],
                        )
                        .await;
                    assert_eq!(r.error(), None);
                    let refs = row_refs(&r.json());
                    assert_eq!(&refs, expected, "Next to page {p}, {sort} {descending}");
                    assert_eq!(r.json()["total"], 116);
                    cursor = format!("a.{}", refs.last().unwrap());
                }
                // Previous, from the first row of each page.
                for i in (1..by_number.len()).rev() {
                    let cursor = format!("b.{}", by_number[i][0]);
                    let p = i.to_string();
                    let r = app
                        .team(
                            &owner,
                            &[view[0], view[1], ("page", &p), ("cursor", &cursor)],
                        )
                        .await
                        .json();
                    assert_eq!(
                        row_refs(&r),
                        by_number[i - 1],
                        "Previous to page {p}, {sort} {descending}"
                    );
                }
            }
        }
        // A cursor naming a row of another organization finds nothing of it: the page is
        // read by its number instead.
        let stranger = app.member("stranger@example.com").await;
        let theirs = app
            .team(&stranger, &[("cursor", "a.m1"), ("page", "1")])
            .await
            .json();
        assert_eq!(
            row_refs(&theirs),
            ["m".to_owned() + &theirs["rows"][0]["id"].to_string()]
        );
        assert_eq!(theirs["total"], 1);
    }
);

on_both!(the_order_follows_profiles_edits_and_role_names, |db| {
    let app = TestApp::new(db).await;
    let owner = app.member(OWNER).await;
    let a = app.joined(&owner, "a@example.com", "member").await;
    app.joined(&owner, "b@example.com", "member").await;
    let names = |page: Value| -> Vec<String> {
        page["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| format!("{} {}", r["first_name"].as_str().unwrap(), r["email"]))
            .collect()
    };
    let before = names(app.team(&owner, &[]).await.json());
    // A's own Profile: "Aaron" sorts first, "Zoe" last.
    for (first, at) in [("Aaron", 0), ("zoe", 2)] {
        let r = app
            .post(
                "update_profile",
                &[("first_name", first), ("last_name", "X"), ("mobile", "")],
            )
            .session(&a)
            .send()
            .await;
        assert_eq!(r.error(), None);
        let after = names(app.team(&owner, &[]).await.json());
        assert_eq!(after.len(), before.len());
        assert!(after[at].starts_with(first), "{after:?}");
    }
    // Removing a member frees their seat and drops them from the count.
    let total = |p: &Value| p["total"].as_i64().unwrap();
    let listed = app.team(&owner, &[]).await.json();
    assert_eq!(total(&listed), 3);
    let a_id = app.user_id("a@example.com").await.to_string();
    let r = app
        .post("change_member", &[("user_id", &a_id), ("action", "remove")])
        .session(&owner)
        .send()
        .await;
    assert_eq!(r.error(), None);
    let listed = app.team(&owner, &[]).await.json();
    assert_eq!((total(&listed), seats(&listed)), (2, (2, 50)));
});

on_both!(the_team_page_is_rendered_without_its_closed_menus, |db| {
    let app = TestApp::new(db).await;
    let owner = app.member(OWNER).await;
    app.joined(&owner, "grace@example.com", "member").await;
    app.invite(&owner, "pending@example.com", "member").await;
    let page = app.get("/team").session(&owner).send().await;
    assert!(page.status.is_success(), "{}", page.status);
    for shown in [
        "grace@example.com",
        "pending@example.com",
        "aria-haspopup=\"menu\"",
    ] {
        assert!(page.body.contains(shown), "{shown}: {}", page.body);
    }
    // A menu's items are made when it opens: none travel with the page.
    assert!(!page.body.contains("menuitem"), "{}", page.body);
});
