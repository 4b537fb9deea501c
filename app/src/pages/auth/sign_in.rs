use crate::api::auth::{ResendVerification, SignIn};
use crate::components::{
    Field, FormMessage, PublicCard, field_error, form_error, go_to, succeeded,
};
use crate::error::AppError;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

#[component]
pub fn SignInPage() -> impl IntoView {
    let action = ServerAction::<SignIn>::new();
    let resend = ServerAction::<ResendVerification>::new();
    let email = RwSignal::new(String::new());
    Effect::new(move || {
        if succeeded(action).get() {
            go_to("/");
        }
    });
    let unverified = move || matches!(action.value().get(), Some(Err(AppError::EmailNotVerified)));
    view! {
        <Title text="Sign in · Roster"/>
        <PublicCard title="Sign in">
            <ActionForm action=action attr:class="form" attr:novalidate=true>
                <FormMessage error=form_error(action)/>
                <div on:input=move |ev| {
                    if let Some(v) = event_target_value_opt(&ev) { email.set(v) }
                }>
                    <Field name="email" label="Email Address" kind="email" autocomplete="username" error=field_error(action, "email")/>
                </div>
                <Field name="password" label="Password" kind="password" autocomplete="current-password" error=field_error(action, "password")/>
                <button type="submit" class="btn btn-primary" disabled=move || action.pending().get()>"Sign In"</button>
            </ActionForm>
            <Show when=unverified>
                <ActionForm action=resend attr:class="form inline">
                    <input type="hidden" name="email" prop:value=move || email.get()/>
                    <button type="submit" class="btn btn-secondary" disabled=move || resend.pending().get()>"Resend verification email"</button>
                </ActionForm>
                <Show when=move || succeeded(resend).get()>
                    <p class="banner banner-success" role="status">"If that address needs verifying, a new link is on its way. Check your inbox."</p>
                </Show>
            </Show>
            <p class="alt"><A href="/forgot-password">"Forgot password?"</A></p>
            <p class="alt">"New to Roster? " <A href="/sign-up">"Sign up"</A></p>
        </PublicCard>
    }
}

fn event_target_value_opt(ev: &leptos::ev::Event) -> Option<String> {
    use leptos::wasm_bindgen::JsCast;
    ev.target()
        .and_then(|t| t.dyn_into::<leptos::web_sys::HtmlInputElement>().ok())
        .map(|input| input.value())
}
