use super::link_token;
use crate::api::auth::VerifyEmail;
use crate::components::{FormMessage, PublicCard, form_error, succeeded};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

/// Following the emailed link only shows this page; the address is verified by the button,
/// so that mail scanners that open links change nothing.
#[component]
pub fn VerifyEmailPage() -> impl IntoView {
    let action = ServerAction::<VerifyEmail>::new();
    let token = link_token();
    view! {
        <Title text="Verify your email · Roster"/>
        <PublicCard title="Verify your email address">
            <Show
                when=move || succeeded(action).get()
                fallback=move || view! {
                    <ActionForm action=action attr:class="form">
                        <FormMessage error=form_error(action)/>
                        <input type="hidden" name="token" prop:value=move || token.get()/>
                        <p>"Confirm that this email address is yours to finish setting up your account."</p>
                        <button type="submit" class="btn btn-primary" disabled=move || action.pending().get()>"Verify Email Address"</button>
                    </ActionForm>
                }
            >
                <div class="banner banner-success" role="status">"Your email address is verified. You can now sign in."</div>
                <A href="/sign-in" attr:class="btn btn-primary">"Sign In"</A>
            </Show>
        </PublicCard>
    }
}
