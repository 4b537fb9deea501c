//! The organization's regions and, for the Owner, ownership transfer.

use super::RolesCtx;
use crate::api::roles::{AddRegion, TransferOwnership};
use crate::authz::{Feature, Level, can};
use crate::components::{Field, FormMessage, field_error, form_error, go_to, toast};
use crate::model::roles::RolesPage;
use leptos::prelude::*;

#[component]
pub(super) fn Regions(page: RolesPage, ctx: RolesCtx) -> impl IntoView {
    let may_add = can(&page.viewer, Feature::AccountSettings, Level::Full, None);
    let action = ServerAction::<AddRegion>::new();
    Effect::new(move || {
        if let Some(Ok(())) = action.value().get() {
            toast("Region added. Custom roles grant nothing there until you set their levels.");
            ctx.reload();
        }
    });
    view! {
        <section class="card" aria-labelledby="regions-h">
            <h2 id="regions-h">"Regions"</h2>
            <p class="hint">"Custom roles set the API-facing features separately for each region."</p>
            <ul class="chips">
                {page.regions.into_iter().map(|r| view! {
                    <li class="chip"><strong>{r.code}</strong>" "{r.name}</li>
                }).collect_view()}
            </ul>
            {may_add.then(|| view! {
                <ActionForm action=action attr:class="form form-inline" attr:novalidate=true>
                    <FormMessage error=form_error(action)/>
                    <Field name="code" label="Region code" hint="2 to 8 capital letters or digits, such as APAC." error=field_error(action, "code")/>
                    <Field name="name" label="Region name" error=field_error(action, "region_name")/>
                    <button type="submit" class="btn btn-secondary" disabled=move || action.pending().get()>"Add Region"</button>
                </ActionForm>
            })}
        </section>
    }
}

/// The Owner hands the organization to an active Admin, typing its name to confirm.
#[component]
pub(super) fn Ownership(page: RolesPage) -> impl IntoView {
    if !page.viewer.is_owner() {
        return ().into_any();
    }
    let action = ServerAction::<TransferOwnership>::new();
    Effect::new(move || {
        if let Some(Ok(())) = action.value().get() {
            toast("Ownership transferred. You are now an Admin.");
            go_to("/roles");
        }
    });
    let org_name = page.org_name.clone();
    if page.successors.is_empty() {
        return view! {
            <section class="card" aria-labelledby="owner-h">
                <h2 id="owner-h">"Transfer ownership"</h2>
                <p class="hint">"Ownership can go only to an active Admin. Promote someone on the Team page first."</p>
            </section>
        }
        .into_any();
    }
    view! {
        <section class="card danger-zone" aria-labelledby="owner-h">
            <h2 id="owner-h">"Transfer ownership"</h2>
            <p class="hint">{format!(
                "The new Owner gets everything, including billing and deleting {org_name}. You become an Admin. Both of you are emailed."
            )}</p>
            <ActionForm action=action attr:class="form" attr:novalidate=true>
                <FormMessage error=form_error(action)/>
                <div class="field" class:invalid=move || field_error(action, "user_id").get().is_some()>
                    <label for="new-owner">"New Owner"</label>
                    <select id="new-owner" name="user_id" aria-describedby="new-owner-msg">
                        {page.successors.into_iter().map(|s| view! {
                            <option value=s.user_id>{format!("{} ({})", s.name, s.email)}</option>
                        }).collect_view()}
                    </select>
                    <p class="field-error" id="new-owner-msg" role="alert">{move || field_error(action, "user_id").get()}</p>
                </div>
                <Field name="confirm" label="Type the organization name to confirm" autocomplete="off"
                    error=field_error(action, "confirm")/>
                <div>
                    <button type="submit" class="btn btn-danger" disabled=move || action.pending().get()>"Transfer Ownership"</button>
                </div>
            </ActionForm>
        </section>
    }
    .into_any()
}
