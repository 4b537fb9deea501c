use crate::api::auth::RequestPasswordReset;
use crate::components::{Field, FormMessage, PublicCard, field_error, form_error, succeeded};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    let action = ServerAction::<RequestPasswordReset>::new();
    let sent_to = move || action.input().get().map(|i| i.email).unwrap_or_default();
    view! {
        <Title text="Forgot password · Roster"/>
        <PublicCard title="Reset your password">
            <Show
                when=move || succeeded(action).get()
                fallback=move || view! {
                    <ActionForm action=action attr:class="form" attr:novalidate=true>
                        <FormMessage error=form_error(action)/>
                        <p>"Enter the email address you sign in with and we will send you a link to choose a new password."</p>
                        <Field name="email" label="Email Address" kind="email" autocomplete="email" error=field_error(action, "email")/>
                        <button type="submit" class="btn btn-primary" disabled=move || action.pending().get()>"Send Reset Link"</button>
                    </ActionForm>
                }
            >
                <div class="banner banner-success" role="status">
                    "If an account exists for " <strong>{sent_to}</strong>
                    ", a link to reset the password is on its way. It works for one hour."
                </div>
            </Show>
            <p class="alt"><A href="/sign-in">"Back to Sign In"</A></p>
        </PublicCard>
    }
}
