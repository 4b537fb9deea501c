use crate::api::auth::SignUp;
use crate::components::{Field, FormMessage, PublicCard, field_error, form_error, succeeded};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

#[component]
pub fn SignUpPage() -> impl IntoView {
    let action = ServerAction::<SignUp>::new();
    let sent_to = move || action.input().get().map(|i| i.email).unwrap_or_default();
    view! {
        <Title text="Sign up · Roster"/>
        <PublicCard title="Create your organization">
            <Show
                when=move || succeeded(action).get()
                fallback=move || view! {
                    <ActionForm action=action attr:class="form" attr:novalidate=true>
                        <FormMessage error=form_error(action)/>
                        <div class="row">
                            <Field name="first_name" label="First Name" autocomplete="given-name" error=field_error(action, "first_name")/>
                            <Field name="last_name" label="Last Name" autocomplete="family-name" error=field_error(action, "last_name")/>
                        </div>
                        <Field name="email" label="Email Address" kind="email" autocomplete="email" error=field_error(action, "email")/>
                        <Field name="password" label="Password" kind="password" autocomplete="new-password"
                            hint="At least 12 characters." error=field_error(action, "password")/>
                        <Field name="org_name" label="Organization Name" autocomplete="organization" error=field_error(action, "org_name")/>
                        <button type="submit" class="btn btn-primary" disabled=move || action.pending().get()>"Sign Up"</button>
                    </ActionForm>
                    <p class="alt">"Already have an account? " <A href="/sign-in">"Sign in"</A></p>
                }
            >
                <div class="banner banner-success" role="status">
                    <p><strong>"Check your email."</strong></p>
                    <p>"We sent a link to " <strong>{sent_to}</strong> " to verify your address. Follow it, then sign in."</p>
                </div>
                <p class="alt"><A href="/sign-in">"Go to Sign In"</A></p>
            </Show>
        </PublicCard>
    }
}
