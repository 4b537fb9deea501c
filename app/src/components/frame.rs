use crate::api::account::{signed_in_user, switch_organization};
use crate::api::auth::SignOut;
use crate::authz::{Feature, Level, can};
use crate::components::{go_to, toaster};
use crate::error::PERMISSION_DENIED;
use crate::model::CurrentUser;
use leptos::prelude::*;
use leptos_router::components::{A, Redirect};
use leptos_router::hooks::use_location;

/// The page frame of the signed-in app: navigation on the left, the page on the right.
/// Visitors who are not signed in go to "Sign In"; users who have not accepted the current
/// terms go to the Terms of Use first.
#[component]
pub fn Frame(children: ChildrenFn) -> impl IntoView {
    let user = Resource::new_blocking(|| (), |_| signed_in_user());
    let children = StoredValue::new(children);
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match user.await {
                    Ok(Some(u)) if !u.terms_accepted => view! { <Redirect path="/terms"/> }.into_any(),
                    Ok(Some(u)) => {
                        provide_context(u.clone());
                        let path = use_location().pathname.get_untracked();
                        let allowed = crate::page_requirement(&path)
                            .is_some_and(|r| r.met_by(&u.access));
                        if allowed {
                            view! { <Shell user=u>{children.read_value()()}</Shell> }.into_any()
                        } else {
                            #[cfg(feature = "ssr")]
                            if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
                                resp.set_status(http::StatusCode::FORBIDDEN);
                            }
                            view! {
                                <Shell user=u>
                                    <div class="banner banner-error" role="alert">{PERMISSION_DENIED}</div>
                                </Shell>
                            }.into_any()
                        }
                    }
                    Ok(None) => view! { <Redirect path="/sign-in"/> }.into_any(),
                    Err(e) => view! {
                        <main id="main" class="public"><div class="banner banner-error" role="alert">{e.to_string()}</div></main>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Shell(user: CurrentUser, children: Children) -> impl IntoView {
    let sees = |feature| can(&user.access, feature, Level::View, None);
    let (team, billing) = (sees(Feature::TeamManagement), sees(Feature::Billing));
    let usage = sees(Feature::Analytics);
    let audit = sees(Feature::AuditLogs);
    let settings = sees(Feature::AccountSettings);
    let sign_out = ServerAction::<SignOut>::new();
    Effect::new(move || {
        if matches!(sign_out.value().get(), Some(Ok(()))) {
            go_to("/sign-in");
        }
    });
    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
        <div class="app">
            <aside class="sidebar">
                <div class="brand">"Roster"</div>
                <OrgSwitcher user=user.clone()/>
                <nav aria-label="Main">
                    <ul>
                        <li><A href="/" exact=true>"Overview"</A></li>
                        {team.then(|| view! {
                            <li><A href="/team">"Team"</A></li>
                            <li><A href="/roles">"Roles"</A></li>
                        })}
                        {usage.then(|| view! { <li><A href="/usage">"Usage"</A></li> })}
                        {audit.then(|| view! { <li><A href="/audit">"Audit Log"</A></li> })}
                        {billing.then(|| view! { <li><A href="/billing">"Billing"</A></li> })}
                        {settings.then(|| view! { <li><A href="/settings">"Settings"</A></li> })}
                        <li><A href="/profile">"Profile"</A></li>
                    </ul>
                </nav>
                <div class="user-menu">
                    <p class="user-name">{user.display_name()}</p>
                    <p class="user-email">{user.email.clone()}</p>
                    <ActionForm action=sign_out>
                        <button type="submit" class="btn btn-ghost">"Sign out"</button>
                    </ActionForm>
                </div>
            </aside>
            <main id="main" class="content" tabindex="-1">{children()}</main>
        </div>
    }
}

/// The current organization; a switcher when the user belongs to more than one.
#[component]
fn OrgSwitcher(user: CurrentUser) -> impl IntoView {
    if user.orgs.len() < 2 {
        return view! { <p class="org-name">{user.org_name}</p> }.into_any();
    }
    let current = user.org_id;
    let switch = move |ev: leptos::ev::Event| {
        let Ok(org_id) = event_target_value(&ev).parse::<i64>() else {
            return;
        };
        let toasts = toaster();
        leptos::task::spawn_local(async move {
            match switch_organization(org_id).await {
                Ok(()) => go_to("/"),
                Err(e) => toasts.show(e.to_string()),
            }
        });
    };
    view! {
        <div class="org-switcher">
            <label for="org-switch">"Organization"</label>
            <select id="org-switch" on:change=switch>
                {user.orgs.into_iter().map(|o| view! {
                    <option value=o.id selected=o.id == current>{o.name}</option>
                }).collect_view()}
            </select>
        </div>
    }
    .into_any()
}

/// A centred card for the public pages (sign in, sign up, …).
#[component]
pub fn PublicCard(#[prop(into)] title: String, children: Children) -> impl IntoView {
    view! {
        <main id="main" class="public">
            <div class="card public-card">
                <p class="brand">"Roster"</p>
                <h1>{title}</h1>
                {children()}
            </div>
        </main>
    }
}
