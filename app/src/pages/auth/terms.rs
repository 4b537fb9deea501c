use crate::api::account::{AcceptTerms, current_terms};
use crate::components::{FormMessage, PublicCard, form_error, go_to, succeeded};
use crate::error::AppError;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;

/// Seed 000, step 7: the Terms of Use and "I Accept".
#[component]
pub fn TermsPage() -> impl IntoView {
    let terms = Resource::new_blocking(|| (), |_| current_terms());
    let action = ServerAction::<AcceptTerms>::new();
    Effect::new(move || {
        if succeeded(action).get() {
            go_to("/");
        }
    });
    view! {
        <Title text="Terms of Use · Roster"/>
        <PublicCard title="Terms of Use">
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match terms.await {
                        Ok(t) => view! {
                            <div class="terms" tabindex="0" role="region" aria-label="Terms of Use text">
                                {t.text.split("\n\n").map(|p| view! { <p>{p.to_owned()}</p> }).collect_view()}
                            </div>
                            <ActionForm action=action attr:class="form">
                                <FormMessage error=form_error(action)/>
                                <input type="hidden" name="version" value=t.version.clone()/>
                                <button type="submit" class="btn btn-primary" disabled=move || action.pending().get()>"I Accept"</button>
                            </ActionForm>
                        }.into_any(),
                        Err(AppError::Unauthorized) => view! { <Redirect path="/sign-in"/> }.into_any(),
                        Err(e) => view! { <div class="banner banner-error" role="alert">{e.to_string()}</div> }.into_any(),
                    }
                })}
            </Suspense>
        </PublicCard>
    }
}
