//! `/invitation?token=…`: where an invitation link lands. A new person registers; someone
//! with an account signs in (or, already signed in, accepts); a dead link says so plainly.

use crate::api::team::{AcceptInvitation, RegisterAndAccept, SignInAndAccept, invitation_details};
use crate::components::{
    Field, FormMessage, PublicCard, field_error, form_error, go_to, succeeded,
};
use crate::model::team::InvitationView;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

#[component]
pub fn InvitationPage() -> impl IntoView {
    let query = use_query_map();
    let token = move || query.read().get("token").unwrap_or_default();
    let details = Resource::new(token, invitation_details);
    view! {
        <Title text="Invitation · Roster"/>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match details.await {
                    Ok(v) if !v.has_account => view! { <Register v token=token()/> }.into_any(),
                    Ok(v) if v.signed_in => view! { <Accept v token=token()/> }.into_any(),
                    Ok(v) => view! { <SignInToAccept v token=token()/> }.into_any(),
                    Err(e) => view! {
                        <PublicCard title="This invitation cannot be used">
                            <div class="banner banner-error" role="alert">{e.to_string()}</div>
                            <p class="alt">"Already a member? " <A href="/sign-in">"Sign in"</A></p>
                        </PublicCard>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
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
                    }
                }
            >
                <div class="banner banner-success" role="status">
                    <p><strong>"Check your email."</strong></p>
                    <p>"We sent a link to " <strong>{email.clone()}</strong> " to verify your address. Follow it, then sign in."</p>
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
    Effect::new(move || {
        if succeeded(action).get() {
            go_to("/team");
        }
    });
    view! {
        <PublicCard title=format!("Join {}", v.org_name)>
            <p class="invited">{invited_line(&v)}</p>
            <p>"You already have a Roster account. Sign in to accept."</p>
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
        </PublicCard>
    }
}
