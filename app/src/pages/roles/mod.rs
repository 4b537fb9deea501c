//! The Roles page: the built-in roles compared, custom roles with their editor, regions, and
//! (for the Owner) ownership transfer.

mod editor;
mod org;

use crate::api::roles::{delete_role, roles_overview};
use crate::authz::{Access, BuiltIn, Feature, Level, Need, can};
use crate::components::{Dialog, Frame, toaster};
use crate::model::roles::{CustomRoleView, RolesPage as Page};
use crate::model::team::Role;
use editor::Editor;
use leptos::prelude::*;
use leptos_meta::Title;
use org::{Ownership, Regions};

#[component]
pub fn RolesPage() -> impl IntoView {
    view! {
        <Title text="Roles · Roster"/>
        <Frame>
            <Roles/>
        </Frame>
    }
}

/// What the editor works on: a new role (`id` is `None`) or a copy of an existing one.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Editing {
    pub id: Option<i64>,
    pub name: String,
    pub description: String,
    pub grants: crate::authz::CustomGrants,
}

/// The page's shared state.
#[derive(Clone, Copy)]
pub(crate) struct RolesCtx {
    pub refresh: RwSignal<u32>,
    pub editing: RwSignal<Option<Editing>>,
    pub deleting: RwSignal<Option<CustomRoleView>>,
    pub delete_open: RwSignal<bool>,
}

impl RolesCtx {
    pub(crate) fn reload(self) {
        self.refresh.update(|r| *r += 1);
    }
}

#[component]
fn Roles() -> impl IntoView {
    let ctx = RolesCtx {
        refresh: RwSignal::new(0),
        editing: RwSignal::new(None),
        deleting: RwSignal::new(None),
        delete_open: RwSignal::new(false),
    };
    let data = Resource::new(move || ctx.refresh.get(), |_| roles_overview());
    view! {
        <Transition fallback=|| view! {
            <header class="page-header"><h1>"Roles"</h1></header>
            <p class="loading">"Loading roles…"</p>
        }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(page) => view! { <Loaded page ctx/> }.into_any(),
                    Err(e) => view! {
                        <header class="page-header"><h1>"Roles"</h1></header>
                        <div class="banner banner-error" role="alert">{e.to_string()}</div>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Loaded(page: Page, ctx: RolesCtx) -> impl IntoView {
    let manages = can(&page.viewer, Feature::TeamManagement, Level::Full, None);
    let regions = page.regions.clone();
    let new_role = {
        let regions = regions.clone();
        move |_| {
            ctx.editing.set(Some(Editing {
                id: None,
                name: String::new(),
                description: String::new(),
                grants: crate::authz::CustomGrants::uniform(Default::default(), &regions),
            }))
        }
    };
    let page = StoredValue::new(page);
    view! {
        <header class="page-header">
            <h1>"Roles"</h1>
            <Show when=move || manages && ctx.editing.with(Option::is_none)>
                <div class="header-actions">
                    <button type="button" class="btn btn-primary" on:click=new_role.clone()>"New Role"</button>
                </div>
            </Show>
        </header>
        <Show when=move || ctx.editing.with(Option::is_some)>
            {move || page.with_value(|p| view! {
                <Editor ctx regions=p.regions.clone() viewer=p.viewer.clone()/>
            })}
        </Show>
        <section class="card" aria-labelledby="custom-h">
            <h2 id="custom-h">"Custom roles"</h2>
            <p class="hint">"Custom roles grant a level per feature: No access, View, Edit or Full, plus Download where a feature has reports. API-facing features are set per region."</p>
            {move || page.with_value(|p| custom_list(p, ctx))}
        </section>
        <section class="card" aria-labelledby="builtin-h">
            <h2 id="builtin-h">"Built-in roles"</h2>
            <p class="hint">"Every organization has these four roles, the same in every region. There is exactly one Owner."</p>
            <Comparison/>
        </section>
        {move || page.with_value(|p| view! { <Regions page=p.clone() ctx/> })}
        {move || page.with_value(|p| view! { <Ownership page=p.clone()/> })}
        <DeleteDialog ctx page=page.get_value()/>
    }
}

fn custom_list(page: &Page, ctx: RolesCtx) -> AnyView {
    if page.custom.is_empty() {
        return view! {
            <p class="empty">"No custom roles yet. Press \u{201c}New Role\u{201d} and start from a template such as Developer or Finance."</p>
        }
        .into_any();
    }
    let regions = page.regions.clone();
    let rows = page
        .custom
        .iter()
        .map(|r| {
            let summary = summary(r, &regions);
            let edit_role = r.clone();
            let delete_role = r.clone();
            let editable = r.editable;
            view! {
                <tr>
                    <td data-label="Name"><strong>{r.name.clone()}</strong></td>
                    <td data-label="Description">{r.description.clone()}</td>
                    <td data-label="Grants" class="grants">{summary}</td>
                    <td data-label="Members">{r.members}</td>
                    <td data-label="Actions" class="actions">
                        <div class="action-list">
                            {editable.then(|| view! {
                                <button type="button" class="btn btn-small btn-secondary"
                                    aria-label=format!("Edit {}", edit_role.name)
                                    on:click=move |_| ctx.editing.set(Some(Editing {
                                        id: Some(edit_role.id),
                                        name: edit_role.name.clone(),
                                        description: edit_role.description.clone(),
                                        grants: edit_role.grants.clone(),
                                    }))>"Edit"</button>
                                <button type="button" class="btn btn-small btn-danger"
                                    aria-label=format!("Delete {}", delete_role.name)
                                    on:click=move |_| {
                                        ctx.deleting.set(Some(delete_role.clone()));
                                        ctx.delete_open.set(true);
                                    }>"Delete"</button>
                            })}
                        </div>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap" tabindex="0" role="region" aria-label="Custom roles">
            <table class="table">
                <caption class="sr-only">"Custom roles"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Description"</th>
                        <th scope="col">"Grants"</th>
                        <th scope="col">"Members"</th>
                        <th scope="col">"Actions"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

/// A one-line summary of what a custom role grants, e.g. "Billing: Full + Download;
/// Documentation: Edit (US), View (EU)".
fn summary(role: &CustomRoleView, regions: &[crate::authz::Region]) -> String {
    let access = Access::Custom(role.grants.clone());
    let parts: Vec<String> = Feature::ALL
        .into_iter()
        .filter_map(|f| {
            if !f.regional() {
                let g = access.grant(f, None);
                return (g.level != Level::NoAccess)
                    .then(|| format!("{}: {}", f.label(), g.describe()));
            }
            let per: Vec<(String, String)> = regions
                .iter()
                .map(|r| (r.code.clone(), access.grant(f, Some(&r.code)).describe()))
                .collect();
            if per.iter().all(|(_, d)| d == Level::NoAccess.label()) {
                return None;
            }
            if per.windows(2).all(|w| w[0].1 == w[1].1) {
                return Some(format!("{}: {}", f.label(), per[0].1));
            }
            let each: Vec<String> = per.iter().map(|(c, d)| format!("{d} ({c})")).collect();
            Some(format!("{}: {}", f.label(), each.join(", ")))
        })
        .collect();
    if parts.is_empty() {
        "No access".into()
    } else {
        parts.join("; ")
    }
}

/// The permission comparison of the built-in roles (seed 003), computed from the matrix.
#[component]
fn Comparison() -> impl IntoView {
    // `None`: the Owner's alone, whatever the matrix says.
    let at = |f, l| Some((f, Need::At(l)));
    let rows: [(&str, Option<(Feature, Need)>); 12] = [
        (
            "Delete organization",
            at(Feature::AccountSettings, Level::Full),
        ),
        ("Manage owner", None),
        ("Manage admins", None),
        ("Manage members", at(Feature::TeamManagement, Level::Full)),
        (
            "Create OAuth clients",
            at(Feature::OAuthClients, Level::Edit),
        ),
        ("Create API keys", at(Feature::ApiKeys, Level::Edit)),
        ("Create webhooks", at(Feature::Webhooks, Level::Edit)),
        ("View audit logs", at(Feature::AuditLogs, Level::View)),
        ("View analytics", at(Feature::Analytics, Level::View)),
        (
            "Download reports",
            Some((Feature::UsageReports, Need::Download)),
        ),
        ("Manage billing", at(Feature::Billing, Level::Full)),
        ("Use products", at(Feature::Products, Level::Edit)),
    ];
    let rule = |b: BuiltIn, check: Option<(Feature, Need)>| match check {
        Some((f, need)) => can(&Access::BuiltIn(b), f, need, None),
        None => b == BuiltIn::Owner,
    };
    let body = rows
        .into_iter()
        .map(|(label, check)| {
            let cells = BuiltIn::ALL
                .into_iter()
                .map(|b| view! { <td><Mark yes=rule(b, check)/></td> })
                .collect_view();
            view! { <tr><th scope="row">{label}</th>{cells}</tr> }
        })
        .collect_view();
    view! {
        <div class="table-wrap" tabindex="0" role="region" aria-label="Built-in roles compared">
            <table class="table matrix" id="builtin-comparison">
                <caption class="sr-only">"Permissions of the built-in roles"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Permission"</th>
                        {BuiltIn::ALL.map(|b| view! { <th scope="col">{Role::from(b).label()}</th> }).collect_view()}
                    </tr>
                </thead>
                <tbody>{body}</tbody>
            </table>
        </div>
    }
}

/// A yes/no cell: a mark for the eye and a word for screen readers.
#[component]
pub(crate) fn Mark(yes: bool) -> impl IntoView {
    if yes {
        view! { <span class="mark mark-yes" aria-hidden="true">"✓"</span><span class="sr-only">"Yes"</span> }
            .into_any()
    } else {
        view! { <span class="mark mark-no" aria-hidden="true">"—"</span><span class="sr-only">"No"</span> }
            .into_any()
    }
}

/// Deleting a custom role; one in use asks where its members go.
#[component]
fn DeleteDialog(ctx: RolesCtx, page: Page) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let target = RwSignal::new(Role::Member.key());
    let roles = StoredValue::new(page.roles);
    let title = Signal::derive(move || {
        ctx.deleting
            .with(|d| d.as_ref().map(|r| format!("Delete {}?", r.name)))
            .unwrap_or_default()
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(role) = ctx.deleting.get_untracked() else {
            return;
        };
        let move_to = if role.members > 0 {
            target.get_untracked()
        } else {
            String::new()
        };
        busy.set(true);
        let toasts = toaster();
        leptos::task::spawn_local(async move {
            match delete_role(role.id, move_to).await {
                Ok(()) => {
                    ctx.delete_open.set(false);
                    toasts.show(format!("Role {} deleted.", role.name));
                    ctx.reload();
                }
                Err(e) => error.set(Some(
                    e.for_field("move_to").unwrap_or_else(|| e.to_string()),
                )),
            }
            busy.set(false);
        });
    };
    Effect::new(move || {
        if ctx.delete_open.get() {
            error.set(None);
            target.set(Role::Member.key());
        }
    });
    view! {
        <Dialog open=ctx.delete_open id="delete-role-dialog" title=title>
            {move || ctx.deleting.get().map(|role| {
                let in_use = role.members > 0;
                let options = roles.with_value(|rs| {
                    rs.iter()
                        .filter(|o| o.assignable && o.role != Role::Custom(role.id))
                        .map(|o| view! {
                            <option value=o.role.key() selected=o.role == Role::Member>{o.name.clone()}</option>
                        })
                        .collect_view()
                });
                view! {
                    <form class="form" on:submit=submit novalidate>
                        {if in_use {
                            view! {
                                <p>{format!(
                                    "{} {} this role. Choose the role they move to; each keeps their seat.",
                                    role.members,
                                    if role.members == 1 { "person holds" } else { "people hold" }
                                )}</p>
                                <div class="field" class:invalid=move || error.get().is_some()>
                                    <label for="move-to">"Move its members to"</label>
                                    <select id="move-to" name="move_to" aria-describedby="move-to-msg"
                                        on:change=move |ev| target.set(event_target_value(&ev))>{options}</select>
                                    <p class="field-error" id="move-to-msg" role="alert">{move || error.get()}</p>
                                </div>
                            }.into_any()
                        } else {
                            view! {
                                <p>"Nobody holds this role. Deleting it cannot be undone."</p>
                                <p class="field-error" role="alert">{move || error.get()}</p>
                            }.into_any()
                        }}
                        <div class="dialog-actions">
                            <button type="button" class="btn btn-secondary" on:click=move |_| ctx.delete_open.set(false)>"Keep Role"</button>
                            <button type="submit" class="btn btn-danger" disabled=move || busy.get()>"Delete Role"</button>
                        </div>
                    </form>
                }
            })}
        </Dialog>
    }
}
