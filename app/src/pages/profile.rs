use crate::api::account::{ChangePassword, SetDefaultOrganization, UpdateProfile};
use crate::api::team::own_api_key;
use crate::api::usage::my_usage;
use crate::authz::Feature;
use crate::components::{
    Field, FormMessage, Frame, KeyActions, KeyDialogs, KeyMeta, RefreshAsk, field_error,
    form_error, toast,
};
use crate::model::CurrentUser;
use crate::model::team::edits_keys;
use crate::pages::home::OwnFigures;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn ProfilePage() -> impl IntoView {
    view! {
        <Title text="Profile · Roster"/>
        <Frame>
            <Profile/>
        </Frame>
    }
}

#[component]
fn Profile() -> impl IntoView {
    let user = expect_context::<CurrentUser>();
    let update = ServerAction::<UpdateProfile>::new();
    let change = ServerAction::<ChangePassword>::new();
    let first = RwSignal::new(user.first_name.clone());
    let last = RwSignal::new(user.last_name.clone());
    let mobile = RwSignal::new(user.mobile.clone().unwrap_or_default());
    Effect::new(move || {
        if let Some(Ok(saved)) = update.value().get() {
            first.set(saved.first_name);
            last.set(saved.last_name);
            mobile.set(saved.mobile.unwrap_or_default());
            toast("Profile saved.");
        }
    });
    let orgs_user = user.clone();
    let access_user = user.clone();
    let key_user = user.clone();
    let password_form = NodeRef::<leptos::html::Form>::new();
    Effect::new(move || {
        if let Some(Ok(())) = change.value().get() {
            if let Some(form) = password_form.get() {
                form.reset();
            }
            toast("Password changed. Your other sessions were signed out.");
        }
    });
    view! {
        <header class="page-header"><h1>"Profile"</h1></header>
        <section class="card" aria-labelledby="details-h">
            <h2 id="details-h">"Your details"</h2>
            <ActionForm action=update attr:class="form" attr:novalidate=true>
                <FormMessage error=form_error(update)/>
                <div class="row">
                    <Field name="first_name" label="First Name" autocomplete="given-name" value=first error=field_error(update, "first_name")/>
                    <Field name="last_name" label="Last Name" autocomplete="family-name" value=last error=field_error(update, "last_name")/>
                </div>
                <Field name="email_display" label="Email Address" value=Signal::stored(user.email.clone()) readonly=true required=false/>
                <Field name="mobile" label="Mobile Number" kind="tel" autocomplete="tel" value=mobile required=false
                    hint="Optional." error=field_error(update, "mobile")/>
                <button type="submit" class="btn btn-primary" disabled=move || update.pending().get()>"Save Profile"</button>
            </ActionForm>
        </section>
        <YourApiKey user=key_user/>
        <YourUsage/>
        <DefaultOrganization user=orgs_user/>
        <YourAccess user=access_user/>
        <section class="card" aria-labelledby="password-h">
            <h2 id="password-h">"Change password"</h2>
            <ActionForm action=change node_ref=password_form attr:class="form" attr:novalidate=true>
                <FormMessage error=form_error(change)/>
                <Field name="current_password" label="Current Password" kind="password" autocomplete="current-password" error=field_error(change, "current_password")/>
                <Field name="new_password" label="New Password" kind="password" autocomplete="new-password"
                    hint="At least 12 characters." error=field_error(change, "new_password")/>
                <button type="submit" class="btn btn-primary" disabled=move || change.pending().get()>"Change Password"</button>
            </ActionForm>
        </section>
    }
}

/// Where sign-in lands, for someone in more than one organization.
#[component]
fn DefaultOrganization(user: CurrentUser) -> impl IntoView {
    let action = ServerAction::<SetDefaultOrganization>::new();
    Effect::new(move || {
        if let Some(Ok(())) = action.value().get() {
            toast("Default organization saved.");
        }
    });
    let current = user.default_org_id.unwrap_or(user.org_id);
    (user.orgs.len() > 1).then(|| {
        view! {
            <section class="card" aria-labelledby="orgs-h">
                <h2 id="orgs-h">"Organizations"</h2>
                <ActionForm action=action attr:class="form">
                    <FormMessage error=form_error(action)/>
                    <div class="field">
                        <label for="default-org">"Default organization"</label>
                        <select id="default-org" name="org_id" aria-describedby="default-org-hint">
                            {user.orgs.into_iter().map(|o| view! {
                                <option value=o.id selected=o.id == current>{o.name}</option>
                            }).collect_view()}
                        </select>
                        <p class="hint" id="default-org-hint">"Signing in opens this organization. Switch at any time from the menu."</p>
                    </div>
                    <button type="submit" class="btn btn-primary" disabled=move || action.pending().get()>"Save Default"</button>
                </ActionForm>
            </section>
        }
    })
}

/// "Your API key", for roles with API Keys: Edit or more: its first characters, when it was
/// last used, and "Copy API Key" and "Refresh".
#[component]
fn YourApiKey(user: CurrentUser) -> impl IntoView {
    edits_keys(&user.access, &user.regions).then(|| {
        let changed = RwSignal::new(0u64);
        let actions = KeyActions::new(changed);
        let key = Resource::new(move || changed.get(), |_| own_api_key());
        let shown = move || {
            key.get().map(|found| match found {
                Ok(Some(k)) => {
                    let user_id = k.user_id;
                    let ask = RefreshAsk {
                        user_id,
                        key_id: k.id,
                        whose: "your".to_owned(),
                        prefix: k.prefix.clone(),
                    };
                    view! {
                        <p class="key-line"><KeyMeta key=k/></p>
                        <div class="button-row">
                            <button type="button" class="btn btn-primary" disabled=move || actions.busy()
                                on:click=move |_| actions.copy(user_id)>"Copy API Key"</button>
                            <button type="button" class="btn btn-secondary" disabled=move || actions.busy()
                                on:click=move |_| actions.refresh(ask.clone())>"Refresh"</button>
                        </div>
                    }
                    .into_any()
                }
                Ok(None) => view! { <p>"You have no API key in this organization."</p> }.into_any(),
                Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
            })
        };
        view! {
            <section class="card" aria-labelledby="key-h">
                <h2 id="key-h">"Your API key"</h2>
                <p class="hint">
                    "Send it with each call to the API gateway as " <code>"Authorization: Bearer <key>"</code>
                    ". It is yours alone: keep it secret, and Refresh it if it may have leaked."
                </p>
                <Transition fallback=|| view! { <p class="loading">"Loading your key…"</p> }>{shown}</Transition>
                <KeyDialogs actions/>
            </section>
        }
    })
}

/// What the user's role grants, feature by feature and region by region.
#[component]
fn YourAccess(user: CurrentUser) -> impl IntoView {
    let access = user.access;
    let regions = user.regions;
    let header = regions
        .iter()
        .map(|r| view! { <th scope="col">{format!("Region {}", r.code)}</th> })
        .collect_view();
    let rows = Feature::ALL
        .into_iter()
        .map(|f| {
            let cells = if f.regional() {
                regions
                    .iter()
                    .map(|r| {
                        let label = format!("Region {}", r.code);
                        view! { <td data-label=label>{access.grant(f, Some(&r.code)).describe()}</td> }
                    })
                    .collect_view()
                    .into_any()
            } else {
                let span = regions.len().max(1);
                view! {
                    <td colspan=span data-label="Organization-wide">
                        {format!("{} (organization-wide)", access.grant(f, None).describe())}
                    </td>
                }
                .into_any()
            };
            view! { <tr><th scope="row">{f.label()}</th>{cells}</tr> }
        })
        .collect_view();
    view! {
        <section class="card" aria-labelledby="access-h">
            <h2 id="access-h">"Your access"</h2>
            <p class="hint">{format!("Your role in {} is {}.", user.org_name, user.role)}</p>
            <div class="table-wrap" tabindex="0" role="region" aria-label="Your access">
                <table class="table matrix" id="your-access">
                    <caption class="sr-only">"Your access by feature and region"</caption>
                    <thead><tr><th scope="col">"Feature"</th>{header}</tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        </section>
    }
}

/// The member's own calls over the last 30 days.
#[component]
fn YourUsage() -> impl IntoView {
    let own = Resource::new(|| (), |_| my_usage());
    view! {
        <section class="card" aria-labelledby="usage-h">
            <h2 id="usage-h">"Your API calls, last 30 days"</h2>
            <Transition fallback=|| view! { <p class="loading">"Loading your calls…"</p> }>
                {move || Suspend::new(async move {
                    match own.await {
                        Ok(own) => view! { <OwnFigures own/> }.into_any(),
                        Err(e) => view! {
                            <div class="banner banner-error" role="alert">{e.to_string()}</div>
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}
