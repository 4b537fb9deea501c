//! The custom role editor: name, description, templates, a features × levels grid per
//! region (and one for the organization-wide features), and a live preview.

use super::{Mark, RolesCtx};
use crate::api::roles::save_role;
use crate::authz::{
    Access, BuiltIn, CustomGrants, Feature, Grant, Grid, Level, Need, Region, Template, can,
};
use crate::components::toaster;
use crate::error::AppError;
use crate::model::roles::RoleDraft;
use leptos::prelude::*;

/// "" is the organization-wide tab; otherwise a region code.
const ORG_TAB: &str = "";

#[component]
pub(crate) fn Editor(ctx: RolesCtx, regions: Vec<Region>, viewer: Access) -> impl IntoView {
    let Some(start) = ctx.editing.get_untracked() else {
        return ().into_any();
    };
    let id = start.id;
    let name = RwSignal::new(start.name);
    let description = RwSignal::new(start.description);
    let grants = RwSignal::new(start.grants);
    let tab = RwSignal::new(ORG_TAB.to_owned());
    let error = RwSignal::new(None::<AppError>);
    let busy = RwSignal::new(false);
    let regions = StoredValue::new(regions);
    let viewer = StoredValue::new(viewer);
    let title = if id.is_some() {
        "Edit role"
    } else {
        "New role"
    };
    let apply = move |t: Template| {
        grants.set(CustomGrants::uniform(t.grid(), &regions.get_value()));
        if name.with_untracked(|n| n.trim().is_empty()) {
            name.set(t.label().to_owned());
            description.set(t.description().to_owned());
        }
        toaster().show(format!(
            "{} template applied to every region. Adjust it as you need.",
            t.label()
        ));
    };
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let draft = RoleDraft {
            id,
            name: name.get_untracked(),
            description: description.get_untracked(),
            grants: grants.get_untracked(),
        };
        busy.set(true);
        error.set(None);
        let toasts = toaster();
        leptos::task::spawn_local(async move {
            let shown = draft.name.trim().to_owned();
            match save_role(draft).await {
                Ok(_) => {
                    toasts.show(format!("Role {shown} saved."));
                    ctx.editing.set(None);
                    ctx.reload();
                }
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
    };
    let field_error = move |field: &'static str| {
        Signal::derive(move || error.with(|e| e.as_ref().and_then(|e| e.for_field(field))))
    };
    let form_error = move || {
        error.with(|e| match e {
            Some(AppError::Validation(_)) | None => None,
            Some(other) => Some(other.to_string()),
        })
    };
    let (name_error, description_error) = (field_error("name"), field_error("description"));
    let keys = move || {
        std::iter::once(ORG_TAB.to_owned())
            .chain(regions.get_value().into_iter().map(|r| r.code))
            .collect::<Vec<_>>()
    };
    // Arrow keys, Home and End move between tabs (the WAI-ARIA tabs pattern).
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        let all = keys();
        let at = all
            .iter()
            .position(|k| *k == tab.get_untracked())
            .unwrap_or(0);
        let next = match ev.key().as_str() {
            "ArrowRight" => (at + 1) % all.len(),
            "ArrowLeft" => (at + all.len() - 1) % all.len(),
            "Home" => 0,
            "End" => all.len() - 1,
            _ => return,
        };
        ev.prevent_default();
        tab.set(all[next].clone());
        focus(&tab_id(&all[next]));
    };
    let tabs = move || {
        keys()
            .into_iter()
            .map(|key| {
                let label = if key.is_empty() {
                    "Organization-wide".to_owned()
                } else {
                    format!("Region {key}")
                };
                let (selected_key, roving_key, click_key) = (key.clone(), key.clone(), key.clone());
                view! {
                    <button type="button" role="tab" class="tab" id=tab_id(&key)
                        aria-controls="grant-panel"
                        aria-selected=move || if tab.get() == selected_key { "true" } else { "false" }
                        tabindex=move || if tab.get() == roving_key { "0" } else { "-1" }
                        on:keydown=on_key
                        on:click=move |_| tab.set(click_key.clone())>{label}</button>
                }
            })
            .collect_view()
    };
    view! {
        <section class="card editor" aria-labelledby="editor-h">
            <h2 id="editor-h">{title}</h2>
            <form class="form" on:submit=save novalidate>
                <Show when=move || form_error().is_some()>
                    <div class="banner banner-error" role="alert">{form_error}</div>
                </Show>
                <div class="row">
                    <div class="field" class:invalid=move || name_error.get().is_some()>
                        <label for="role-name">"Role name"</label>
                        <input id="role-name" name="name" type="text" required aria-describedby="role-name-msg"
                            aria-invalid=move || if name_error.get().is_some() { "true" } else { "false" }
                            prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
                        <p class="field-error" id="role-name-msg" role="alert">{move || name_error.get()}</p>
                    </div>
                    <div class="field" class:invalid=move || description_error.get().is_some()>
                        <label for="role-description">"Description"</label>
                        <input id="role-description" name="description" type="text" aria-describedby="role-description-msg"
                            prop:value=move || description.get() on:input=move |ev| description.set(event_target_value(&ev))/>
                        <p class="field-error" id="role-description-msg" role="alert">{move || description_error.get()}</p>
                    </div>
                </div>
                <div class="templates" role="group" aria-labelledby="templates-label">
                    <span id="templates-label" class="templates-label">"Start from a template:"</span>
                    {Template::ALL.map(|t| view! {
                        <button type="button" class="btn btn-small btn-secondary" title=t.description()
                            on:click=move |_| apply(t)>{t.label()}</button>
                    }).collect_view()}
                </div>
                <div class="tabs" role="tablist" aria-label="Where the levels apply">{tabs}</div>
                <div id="grant-panel" role="tabpanel" class="tab-panel"
                    aria-labelledby=move || tab_id(&tab.get())>
                    {move || {
                        let region = tab.get();
                        view! { <GrantGrid region grants viewer=viewer.get_value() regions=regions.get_value()/> }
                    }}
                </div>
                <Preview name grants tab regions=regions.get_value()/>
                <div class="dialog-actions">
                    <button type="button" class="btn btn-secondary" on:click=move |_| ctx.editing.set(None)>"Cancel"</button>
                    <button type="submit" class="btn btn-primary" disabled=move || busy.get()>"Save Role"</button>
                </div>
            </form>
        </section>
    }
    .into_any()
}

/// The id of a tab's button: "tab-org" or "tab-<region>".
fn tab_id(key: &str) -> String {
    if key.is_empty() {
        "tab-org".to_owned()
    } else {
        format!("tab-{key}")
    }
}

/// Moves keyboard focus to the element with this id.
fn focus(id: &str) {
    #[cfg(feature = "hydrate")]
    {
        use leptos::wasm_bindgen::JsCast;
        if let Some(e) = document()
            .get_element_by_id(id)
            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
        {
            let _ = e.focus();
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = id;
}

/// The features × levels grid for one tab: the organization-wide features, or one region's.
/// Levels beyond what the viewer holds there are disabled (the server refuses them too).
#[component]
fn GrantGrid(
    region: String,
    grants: RwSignal<CustomGrants>,
    viewer: Access,
    regions: Vec<Region>,
) -> impl IntoView {
    let org_wide = region.is_empty();
    let scope = (!org_wide).then(|| region.clone());
    let read = {
        let region = region.clone();
        move |g: &CustomGrants, f: Feature| -> Grant {
            if org_wide {
                g.org_wide.get(f)
            } else {
                g.regions
                    .get(&region)
                    .map(|grid| grid.get(f))
                    .unwrap_or_default()
            }
        }
    };
    let write = {
        let region = region.clone();
        move |f: Feature, change: &dyn Fn(Grant) -> Grant| {
            grants.update(|g| {
                let grid: &mut Grid = if org_wide {
                    &mut g.org_wide
                } else {
                    g.regions.entry(region.clone()).or_default()
                };
                let next = change(grid.get(f));
                grid.set(f, next);
            })
        }
    };
    let rows = Feature::ALL
        .into_iter()
        .filter(|f| f.regional() != org_wide)
        .map(|f| {
            let held = viewer.grant(f, scope.as_deref());
            let cells = Level::ALL
                .into_iter()
                .map(|level| {
                    let read = read.clone();
                    let write = write.clone();
                    view! {
                        <td>
                            <input type="radio" name=format!("grant-{}", f.key())
                                aria-label=format!("{}: {}", f.label(), level.label())
                                disabled=held.level < level
                                prop:checked=move || grants.with(|g| read(g, f).level == level)
                                on:change=move |_| write(f, &|g: Grant| Grant { level, ..g })/>
                        </td>
                    }
                })
                .collect_view();
            let download = if f.has_download() {
                let read = read.clone();
                let write = write.clone();
                view! {
                    <input type="checkbox" aria-label=format!("{}: Download", f.label())
                        disabled=!held.download
                        prop:checked=move || grants.with(|g| read(g, f).download)
                        on:change=move |ev| {
                            let on = event_target_checked(&ev);
                            write(f, &|g: Grant| Grant { download: on, level: if on { g.level.max(Level::View) } else { g.level } })
                        }/>
                }
                .into_any()
            } else {
                view! { <span class="mark mark-no" aria-hidden="true">"—"</span> }.into_any()
            };
            view! {
                <tr>
                    <th scope="row">{f.label()}</th>
                    {cells}
                    <td>{download}</td>
                </tr>
            }
        })
        .collect_view();
    let copy = (!org_wide).then(|| {
        let region = region.clone();
        let count = regions.len();
        let codes: Vec<String> = regions.into_iter().map(|r| r.code).collect();
        view! {
            <button type="button" class="btn btn-small btn-secondary" disabled=count < 2
                on:click=move |_| {
                    grants.update(|g| {
                        let grid = g.regions.get(&region).copied().unwrap_or_default();
                        for code in &codes {
                            g.regions.insert(code.clone(), grid);
                        }
                    });
                    toaster().show(format!("Levels of {region} copied to every region."));
                }>"Copy to every region"</button>
        }
    });
    let caption = if org_wide {
        "Organization-wide features: one level for the whole organization.".to_owned()
    } else {
        format!("API-facing features in region {region}.")
    };
    view! {
        <div class="table-wrap" tabindex="0" role="region" aria-label="Levels for this tab">
            <table class="table matrix grid-editor">
                <caption class="grid-caption">{caption}</caption>
                <thead>
                    <tr>
                        <th scope="col">"Feature"</th>
                        {Level::ALL.map(|l| view! { <th scope="col">{l.label()}</th> }).collect_view()}
                        <th scope="col">"Download"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        {copy}
    }
}

/// The permission matrix of seed 002 for this role as it stands, beside Administrator and
/// Visitor, in the region of the open tab (the first region on the organization-wide tab).
#[component]
fn Preview(
    name: RwSignal<String>,
    grants: RwSignal<CustomGrants>,
    tab: RwSignal<String>,
    regions: Vec<Region>,
) -> impl IntoView {
    let first = regions.first().map(|r| r.code.clone()).unwrap_or_default();
    let region = move || {
        let t = tab.get();
        if t.is_empty() { first.clone() } else { t }
    };
    let rows: [(&str, Feature, Need); 5] = [
        ("Create API Keys", Feature::ApiKeys, Need::At(Level::Edit)),
        ("View Analytics", Feature::Analytics, Need::At(Level::View)),
        ("Download Reports", Feature::UsageReports, Need::Download),
        ("Manage Billing", Feature::Billing, Need::At(Level::Full)),
        (
            "Invite Teammates",
            Feature::TeamManagement,
            Need::At(Level::Edit),
        ),
    ];
    let region_for_rows = region.clone();
    view! {
        <div class="preview">
            <h3 id="preview-h">{let region = region.clone(); move || format!("Preview in region {}", region())}</h3>
            <div class="table-wrap" tabindex="0" role="region" aria-label="Preview">
                <table class="table matrix" aria-labelledby="preview-h">
                    <thead>
                        <tr>
                            <th scope="col">"Feature"</th>
                            <th scope="col">"Administrator"</th>
                            <th scope="col">"Visitor"</th>
                            <th scope="col">{move || {
                                let n = name.get();
                                if n.trim().is_empty() { "This role".to_owned() } else { n.trim().to_owned() }
                            }}</th>
                        </tr>
                    </thead>
                    <tbody>
                        {rows.map(|(label, f, need)| {
                            let region = region_for_rows.clone();
                            let builtin = |b| can(&Access::BuiltIn(b), f, need, None);
                            view! {
                                <tr>
                                    <th scope="row">{label}</th>
                                    <td><Mark yes=builtin(BuiltIn::Admin)/></td>
                                    <td><Mark yes=builtin(BuiltIn::Visitor)/></td>
                                    <td>{move || {
                                        let access = Access::Custom(grants.get());
                                        view! { <Mark yes=can(&access, f, need, Some(&region()))/> }
                                    }}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        </div>
    }
}
