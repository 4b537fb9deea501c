use super::link_token;
use crate::api::auth::ResetPassword;
use crate::components::{Field, FormMessage, PublicCard, field_error, form_error, succeeded};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let action = ServerAction::<ResetPassword>::new();
    let token = link_token();
    view! {
        <Title text="Choose a new password · Roster"/>
        <PublicCard title="Choose a new password">
            <Show
                when=move || succeeded(action).get()
                fallback=move || view! {
                    <ActionForm action=action attr:class="form" attr:novalidate=true>
                        <FormMessage error=form_error(action)/>
                        <input type="hidden" name="token" prop:value=move || token.get()/>
                        <Field name="password" label="New Password" kind="password" autocomplete="new-password"
                            hint="At least 12 characters." error=field_error(action, "password")/>
                        <button type="submit" class="btn btn-primary" disabled=move || action.pending().get()>"Reset Password"</button>
                    </ActionForm>
                }
            >
                <div class="banner banner-success" role="status">"Your password was changed and every other session was signed out."</div>
                <A href="/sign-in" attr:class="btn btn-primary">"Sign In"</A>
            </Show>
        </PublicCard>
    }
}
