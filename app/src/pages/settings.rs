//! Settings → Organization: the name, seat usage, regions, verified domains and auto-join.

use crate::api::settings::{
    AddDomain, RemoveDomain, RenameOrganization, SaveAutoJoin, VerifyDomain, settings_overview,
};
use crate::components::{Dialog, Field, FormMessage, Frame, field_error, form_error, toast};
use crate::error::AppError;
use crate::model::settings::{AUTO_JOIN_MODES, DomainView, SettingsPage as Settings};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

#[component]
pub fn SettingsPage() -> impl IntoView {
    view! {
        <Title text="Settings · Roster"/>
        <Frame>
            <SettingsView/>
        </Frame>
    }
}

#[component]
fn SettingsView() -> impl IntoView {
    let refresh = RwSignal::new(0_u32);
    let data = Resource::new(move || refresh.get(), |_| settings_overview());
    view! {
        <header class="page-header"><h1>"Settings"</h1></header>
        <Transition fallback=|| view! { <p class="loading">"Loading settings…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(s) => view! { <Organization settings=s refresh/> }.into_any(),
                    Err(e) => view! {
                        <div class="banner banner-error" role="alert">{e.to_string()}</div>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Organization(settings: Settings, refresh: RwSignal<u32>) -> impl IntoView {
    let seats = settings.seats;
    let can_edit = settings.can_edit;
    let rename = ServerAction::<RenameOrganization>::new();
    let name = RwSignal::new(settings.org_name.clone());
    Effect::new(move || {
        if let Some(Ok(())) = rename.value().get() {
            toast(format!(
                "The organization is now called {}.",
                name.get_untracked().trim()
            ));
            refresh.update(|r| *r += 1);
        }
    });
    let regions = settings
        .regions
        .iter()
        .map(|(code, name)| format!("{name} ({code})"))
        .collect::<Vec<_>>()
        .join(", ");
    view! {
        <section class="card" aria-labelledby="org-h">
            <h2 id="org-h">"Organization"</h2>
            {if can_edit {
                view! {
                    <ActionForm action=rename attr:class="form form-inline" attr:novalidate=true>
                        <FormMessage error=form_error(rename)/>
                        <div on:input=move |ev| name.set(event_target_value(&ev))>
                            <Field name="name" label="Organization name" value=name
                                error=field_error(rename, "name")/>
                        </div>
                        <button type="submit" class="btn btn-primary" disabled=move || rename.pending().get()>"Rename"</button>
                    </ActionForm>
                }.into_any()
            } else {
                view! { <dl class="facts"><dt>"Organization name"</dt><dd>{settings.org_name.clone()}</dd></dl> }.into_any()
            }}
            <dl class="facts">
                <dt>"Seat Usage"</dt>
                <dd class="seats" class:seats-warn=seats.nearly_full()>
                    <span id="settings-seats">{format!("{}/{}", seats.used, seats.limit)}</span>
                    <A href="/billing">"Billing"</A>
                </dd>
                <dt>"Regions"</dt>
                <dd>{regions} " · " <A href="/roles">"Roles"</A></dd>
            </dl>
        </section>
        <Domains domains=settings.domains.clone() can_edit refresh/>
        <AutoJoin settings refresh/>
    }
}

#[component]
fn Domains(domains: Vec<DomainView>, can_edit: bool, refresh: RwSignal<u32>) -> impl IntoView {
    let add = ServerAction::<AddDomain>::new();
    let verify = ServerAction::<VerifyDomain>::new();
    let remove = ServerAction::<RemoveDomain>::new();
    // The row "Verify" was last pressed on, for its message.
    let verifying = RwSignal::new(0_i64);
    let removing = RwSignal::new(None::<(i64, String)>);
    let confirm_open = RwSignal::new(false);
    Effect::new(move || {
        if let Some(Ok(d)) = add.value().get() {
            toast(format!(
                "{} added: create its TXT record, then press Verify.",
                d.display
            ));
            refresh.update(|r| *r += 1);
        }
    });
    Effect::new(move || {
        if let Some(Ok(d)) = verify.value().get() {
            toast(format!("{} is verified.", d.display));
            refresh.update(|r| *r += 1);
        }
    });
    Effect::new(move || {
        if let Some(Ok(())) = remove.value().get() {
            toast("Domain removed.");
            refresh.update(|r| *r += 1);
        }
    });
    let verify_error = move |id: i64| {
        move || {
            (verifying.get() == id)
                .then(|| match verify.value().get() {
                    Some(Err(AppError::Validation(errors))) => {
                        errors.first().map(|e| e.message.clone())
                    }
                    Some(Err(e)) => Some(e.to_string()),
                    _ => None,
                })
                .flatten()
        }
    };
    let empty = domains.is_empty();
    view! {
        <section class="card wide" aria-labelledby="domains-h">
            <h2 id="domains-h">"Verified domains"</h2>
            <p class="hint">"People whose verified email address is at a verified domain can join this organization on their own (see Auto-join below). Prove a domain is yours with a DNS TXT record; Roster checks it again every day, and a record gone for three days in a row pauses auto-join for that domain."</p>
            {if empty {
                view! { <p class="empty-note">"No domains yet."</p> }.into_any()
            } else {
                view! {
                    <div class="table-wrap" tabindex="0" role="region" aria-label="Domains">
                        <table class="table" id="domains">
                            <caption class="sr-only">"Domains"</caption>
                            <thead><tr>
                                <th scope="col">"Domain"</th>
                                <th scope="col">"Status"</th>
                                <th scope="col">"TXT record"</th>
                                <th scope="col">"Last checked"</th>
                                {can_edit.then(|| view! { <th scope="col" class="actions"><span class="sr-only">"Actions"</span></th> })}
                            </tr></thead>
                            <tbody>
                                {domains.into_iter().map(|d| {
                                    let id = d.id;
                                    let badge = match d.status.as_str() {
                                        "verified" => "badge badge-active",
                                        "lapsed" => "badge badge-expired",
                                        _ => "badge badge-pending",
                                    };
                                    let checked = d.last_checked.clone().unwrap_or_else(|| "Never".into());
                                    let failures = (d.failed_checks > 0 && d.status != "pending")
                                        .then(|| format!("{} failed in a row", d.failed_checks));
                                    let label = d.display.clone();
                                    let remove_label = d.display.clone();
                                    view! {
                                        <tr id=format!("domain-{id}")>
                                            <td data-label="Domain"><strong>{d.display.clone()}</strong></td>
                                            <td data-label="Status" class="domain-status"><div>
                                                <span class=badge>{d.status_label()}</span>
                                                <p class="field-error" role="alert">{verify_error(id)}</p>
                                            </div></td>
                                            <td data-label="TXT record" class="wrap"><div>
                                                <span class="cell-sub">"Name"</span><code class="record">{d.record_name.clone()}</code>
                                                <span class="cell-sub">"Value"</span><code class="record">{d.record_value.clone()}</code>
                                            </div></td>
                                            <td data-label="Last checked" class="date"><div>{checked}<span class="cell-sub">{failures}</span></div></td>
                                            {can_edit.then(|| view! {
                                                <td class="actions" data-label="Actions"><div class="action-list">
                                                    <ActionForm action=verify>
                                                        <input type="hidden" name="id" value=id.to_string()/>
                                                        <button type="submit" class="btn btn-secondary btn-small"
                                                            aria-label=format!("Verify {label}")
                                                            on:click=move |_| verifying.set(id)
                                                            disabled=move || verify.pending().get()>"Verify"</button>
                                                    </ActionForm>
                                                    <button type="button" class="btn btn-danger btn-small"
                                                        aria-label=format!("Remove {remove_label}")
                                                        on:click=move |_| { removing.set(Some((id, remove_label.clone()))); confirm_open.set(true); }>"Remove"</button>
                                                </div></td>
                                            })}
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.into_any()
            }}
            {can_edit.then(|| view! {
                <ActionForm action=add attr:class="form form-inline add-domain" attr:novalidate=true>
                    <FormMessage error=form_error(add)/>
                    <Field name="domain" label="Domain" hint="Like example.com: the part of your people's addresses after @."
                        error=field_error(add, "domain")/>
                    <button type="submit" class="btn btn-primary" disabled=move || add.pending().get()>"Add Domain"</button>
                </ActionForm>
            })}
        </section>
        <Dialog open=confirm_open id="remove-domain-dialog" title="Remove domain">
            <p>{move || removing.get().map(|(_, name)| format!("Remove {name}? People with addresses there stop joining on their own; nobody already here is removed."))}</p>
            <div class="dialog-actions">
                <button type="button" class="btn btn-secondary" on:click=move |_| confirm_open.set(false)>"Go Back"</button>
                <button type="button" class="btn btn-danger" on:click=move |_| {
                    if let Some((id, _)) = removing.get_untracked() {
                        remove.dispatch(RemoveDomain { id });
                    }
                    confirm_open.set(false);
                }>"Remove Domain"</button>
            </div>
        </Dialog>
    }
}

#[component]
fn AutoJoin(settings: Settings, refresh: RwSignal<u32>) -> impl IntoView {
    let save = ServerAction::<SaveAutoJoin>::new();
    Effect::new(move || {
        if let Some(Ok(())) = save.value().get() {
            toast("Auto-join saved.");
            refresh.update(|r| *r += 1);
        }
    });
    let verified = settings.domains.iter().any(|d| d.status == "verified");
    let mode = settings.auto_join.clone();
    let role = settings.auto_join_role.clone();
    let role_error = field_error(save, "role");
    let mode_error = field_error(save, "mode");
    view! {
        <section class="card" aria-labelledby="autojoin-h">
            <h2 id="autojoin-h">"Auto-join"</h2>
            <p class="hint">{if verified {
                "Applies to people whose verified address is at one of the verified domains above, when their address is verified and when they sign in. Nobody removed from this organization joins again this way: they need an invitation. At the seat limit nobody joins, and the admins are emailed (at most once a day)."
            } else {
                "Verify a domain above first: auto-join applies to addresses at verified domains only."
            }}</p>
            <ActionForm action=save attr:class="form" attr:novalidate=true>
                <FormMessage error=form_error(save)/>
                <fieldset class="choices" disabled=!settings.can_edit aria-describedby="autojoin-mode-msg">
                    <legend>"Mode"</legend>
                    {AUTO_JOIN_MODES.iter().map(|(value, label)| view! {
                        <label class="choice">
                            <input type="radio" name="mode" value=*value checked=mode == *value/>
                            {*label}
                        </label>
                    }).collect_view()}
                    <p class="field-error" id="autojoin-mode-msg" role="alert">{move || mode_error.get()}</p>
                </fieldset>
                <div class="field" class:invalid=move || role_error.get().is_some()>
                    <label for="autojoin-role">"Role for people who join"</label>
                    <select id="autojoin-role" name="role" disabled=!settings.can_edit aria-describedby="autojoin-role-msg">
                        {settings.join_roles.iter().map(|(key, name)| view! {
                            <option value=key.clone() selected=*key == role>{name.clone()}</option>
                        }).collect_view()}
                    </select>
                    <p class="field-error" id="autojoin-role-msg" role="alert">{move || role_error.get()}</p>
                </div>
                {settings.can_edit.then(|| view! {
                    <div><button type="submit" class="btn btn-primary" disabled=move || save.pending().get()>"Save Auto-join"</button></div>
                })}
            </ActionForm>
        </section>
    }
}
