//! `/invitation?token=…`: where an invitation link lands. Someone signed in as the invited
//! address accepts; anyone else gets both choices, "Register and Accept Invite" and (with
//! `&account=1`) "Sign in to accept", so the page never tells whether the address has an
//! account. A dead link says so plainly.

use crate::api::team::{AcceptInvitation, RegisterAndAccept, SignInAndAccept, invitation_details};
use crate::components::{
    Field, FormMessage, PublicCard, field_error, form_error, go_to, succeeded,
};
use crate::model::team::{Accepted, InvitationView};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

#[component]
pub fn InvitationPage() -> impl IntoView {
    let query = use_query_map();
    let token = move || query.read().get("token").unwrap_or_default();
    let has_account = move || query.read().get("account").is_some_and(|v| v == "1");
    let details = Resource::new(token, invitation_details);
    view! {
        <Title text="Invitation · Roster"/>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || {
                let has_account = has_account();
                Suspend::new(async move {
                match details.await {
                    Ok(v) if v.signed_in => view! { <Accept v token=token()/> }.into_any(),
                    Ok(v) if has_account => view! { <SignInToAccept v token=token()/> }.into_any(),
                    Ok(v) => view! { <Register v token=token()/> }.into_any(),
                    Err(e) => view! {
                        <PublicCard title="This invitation cannot be used">
                            <div class="banner banner-error" role="alert">{e.to_string()}</div>
                            <p class="alt">"Already a member? " <A href="/sign-in">"Sign in"</A></p>
                        </PublicCard>
                    }.into_any(),
                }
            })}}
        </Suspense>
    }
}

/// The link to the other choice of the same invitation.
fn choice_href(token: &str, has_account: bool) -> String {
    let mut query = super::encode(token);
    if has_account {
        query.push_str("&account=1");
    }
    format!("/invitation?token={query}")
}

fn invited_line(v: &InvitationView) -> String {
    format!(
        "{} of {} invited you to join as {}.",
        v.inviter,
        v.org_name,
        v.role.clone()
    )
}

#[component]
fn Register(v: InvitationView, token: String) -> impl IntoView {
    let action = ServerAction::<RegisterAndAccept>::new();
    let line = invited_line(&v);
    let email = v.email.clone();
    let sign_in_href = choice_href(&token, true);
    view! {
        <PublicCard title=format!("Join {}", v.org_name)>
            <Show
                when=move || succeeded(action).get()
                fallback=move || {
                    let (line, token) = (line.clone(), token.clone());
                    let (first, last, email) = (v.first_name.clone(), v.last_name.clone(), v.email.clone());
                    view! {
                        <p class="invited">{line}</p>
                        <ActionForm action=action attr:class="form" attr:novalidate=true>
                            <FormMessage error=form_error(action)/>
                            <input type="hidden" name="token" value=token/>
                            <div class="row">
                                <Field name="first_name" label="First Name" autocomplete="given-name"
                                    value=Signal::stored(first) error=field_error(action, "first_name")/>
                                <Field name="last_name" label="Last Name" autocomplete="family-name"
                                    value=Signal::stored(last) error=field_error(action, "last_name")/>
                            </div>
                            <Field name="email_display" label="Email Address" kind="email" autocomplete="username"
                                value=Signal::stored(email) readonly=true required=false
                                hint="The invitation is for this address."/>
                            <Field name="password" label="Password" kind="password" autocomplete="new-password"
                                hint="At least 12 characters." error=field_error(action, "password")/>
                            <Field name="mobile" label="Mobile Number" kind="tel" autocomplete="tel" required=false
                                hint="Optional." error=field_error(action, "mobile")/>
                            <button type="submit" class="btn btn-primary" disabled=move || action.pending().get()>
                                "Register and Accept Invite"
                            </button>
                        </ActionForm>
                        <p class="alt">"Already have a Roster account? " <A href=sign_in_href.clone()>"Sign in to accept"</A></p>
                    }
                }
            >
                <div class="banner banner-success" role="status">
                    <p><strong>"Check your email."</strong></p>
                    <p>"We sent a message to " <strong>{email.clone()}</strong> ". Follow its link to verify your address, then sign in."</p>
                </div>
                <p class="alt"><A href="/sign-in">"Go to Sign In"</A></p>
            </Show>
        </PublicCard>
    }
}

#[component]
fn Accept(v: InvitationView, token: String) -> impl IntoView {
    let action = ServerAction::<AcceptInvitation>::new();
    Effect::new(move || {
        if succeeded(action).get() {
            go_to("/team");
        }
    });
    view! {
        <PublicCard title=format!("Join {}", v.org_name)>
            <p class="invited">{invited_line(&v)}</p>
            <p>"You are signed in as " <strong>{v.email.clone()}</strong> "."</p>
            <ActionForm action=action attr:class="form">
                <FormMessage error=form_error(action)/>
                <input type="hidden" name="token" value=token/>
                <button type="submit" class="btn btn-primary" disabled=move || action.pending().get()>"Accept Invite"</button>
            </ActionForm>
        </PublicCard>
    }
}

#[component]
fn SignInToAccept(v: InvitationView, token: String) -> impl IntoView {
    let action = ServerAction::<SignInAndAccept>::new();
    let outcome = move || action.value().get().and_then(Result::ok);
    Effect::new(move || {
        if outcome() == Some(Accepted::SignedIn) {
            go_to("/team");
        }
    });
    let register_href = choice_href(&token, false);
    let (org_name, email) = (v.org_name.clone(), v.email.clone());
    view! {
        <PublicCard title=format!("Join {}", v.org_name)>
            <p class="invited">{invited_line(&v)}</p>
            <Show when=move || outcome() == Some(Accepted::VerifyEmail)>
                <div class="banner banner-success" role="status">
                    <p><strong>{format!("Confirm your address to join {org_name}.")}</strong></p>
                    <p>"Your email address is not verified yet. We sent a link to " <strong>{email.clone()}</strong>
                        ": follow it and sign in there to join."</p>
                </div>
            </Show>
            <p>"Sign in with your Roster account to accept."</p>
            <ActionForm action=action attr:class="form" attr:novalidate=true>
                <FormMessage error=form_error(action)/>
                <input type="hidden" name="token" value=token/>
                <Field name="email_display" label="Email Address" kind="email" autocomplete="username"
                    value=Signal::stored(v.email.clone()) readonly=true required=false/>
                <Field name="password" label="Password" kind="password" autocomplete="current-password"
                    error=field_error(action, "password")/>
                <button type="submit" class="btn btn-primary" disabled=move || action.pending().get()>"Sign in to accept"</button>
            </ActionForm>
            <p class="alt"><A href="/forgot-password">"Forgot password?"</A></p>
            <p class="alt">"New to Roster? " <A href=register_href>"Register and Accept Invite"</A></p>
        </PublicCard>
    }
}
