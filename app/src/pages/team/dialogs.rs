//! The Team page's dialogs: Invite User, Bulk Invite, Edit, confirmations, and the invite link.

use super::{Pending, TeamCtx, carry_out};
use crate::api::team::{BulkInvite, EditMember, InviteUser};
use crate::components::{Dialog, Field, FormMessage, field_error, form_error, toast};
use crate::model::team::{BulkOutcome, MemberAction, Role};
use leptos::prelude::*;

/// A role `<select>` offering the roles the viewer may give (custom ones included).
#[component]
fn RoleSelect(
    ctx: TeamCtx,
    id: &'static str,
    selected: Role,
    #[prop(into)] error: Signal<Option<String>>,
) -> impl IntoView {
    let msg = format!("{id}-msg");
    view! {
        <div class="field" class:invalid=move || error.get().is_some()>
            <label for=id>"Role"</label>
            <select id=id name="role" aria-describedby=msg.clone()>
                {move || ctx.roles.get().into_iter()
                    .filter(|r| r.assignable || r.role == selected)
                    .map(|r| view! {
                        <option value=r.role.key() selected=r.role == selected>{r.name}</option>
                    })
                    .collect_view()}
            </select>
            <p class="field-error" id=msg role="alert">{move || error.get()}</p>
        </div>
    }
}

#[component]
pub(super) fn InviteDialog(ctx: TeamCtx) -> impl IntoView {
    let action = ServerAction::<InviteUser>::new();
    let email = RwSignal::new(String::new());
    Effect::new(move || {
        if ctx.invite_open.get() {
            action.value().set(None);
        }
    });
    Effect::new(move || {
        if let Some(Ok(())) = action.value().get() {
            ctx.invite_open.set(false);
            toast(format!("Invitation sent to {}.", email.get_untracked()));
            ctx.reload();
        }
    });
    view! {
        <Dialog open=ctx.invite_open id="invite-dialog" title="Invite User">
            <ActionForm action=action attr:class="form" attr:novalidate=true>
                <FormMessage error=form_error(action)/>
                <div class="row">
                    <Field name="first_name" label="First Name" autocomplete="off" error=field_error(action, "first_name")/>
                    <Field name="last_name" label="Last Name" autocomplete="off" error=field_error(action, "last_name")/>
                </div>
                <div on:input=move |ev| email.set(event_target_value(&ev))>
                    <Field name="email" label="Email Address" kind="email" autocomplete="off" error=field_error(action, "email")/>
                </div>
                <RoleSelect ctx id="invite-role" selected=Role::Member error=field_error(action, "role")/>
                <div class="dialog-actions">
                    <button type="submit" class="btn btn-primary" disabled=move || action.pending().get()>"Invite User"</button>
                </div>
            </ActionForm>
        </Dialog>
    }
}

#[component]
pub(super) fn BulkInviteDialog(ctx: TeamCtx) -> impl IntoView {
    let action = ServerAction::<BulkInvite>::new();
    Effect::new(move || {
        if ctx.bulk_open.get() {
            action.value().set(None);
        }
    });
    Effect::new(move || {
        if let Some(Ok(results)) = action.value().get()
            && results.iter().any(|r| r.outcome == BulkOutcome::Invited)
        {
            ctx.reload();
        }
    });
    let results = move || action.value().get().and_then(|r| r.ok());
    view! {
        <Dialog open=ctx.bulk_open id="bulk-dialog" title="Bulk Invite">
            <Show
                when=move || results().is_some()
                fallback=move || view! {
                    <ActionForm action=action attr:class="form" attr:novalidate=true>
                        <FormMessage error=form_error(action)/>
                        <div class="field" class:invalid=move || field_error(action, "addresses").get().is_some()>
                            <label for="bulk-addresses">"Email addresses (one per line)"</label>
                            <textarea id="bulk-addresses" name="addresses" rows="8"
                                aria-describedby="bulk-addresses-hint bulk-addresses-msg"></textarea>
                            <p class="hint" id="bulk-addresses-hint">
                                "Commas, semicolons and pasted \u{201c}Name <address>\u{201d} entries work too. Up to 1,000 at a time."
                            </p>
                            <p class="field-error" id="bulk-addresses-msg" role="alert">{move || field_error(action, "addresses").get()}</p>
                        </div>
                        <RoleSelect ctx id="bulk-role" selected=Role::Member error=field_error(action, "role")/>
                        <div class="dialog-actions">
                            <button type="submit" class="btn btn-primary" disabled=move || action.pending().get()>"Send Invitations"</button>
                        </div>
                    </ActionForm>
                }
            >
                {move || results().map(|results| {
                    let invited = results.iter().filter(|r| r.outcome == BulkOutcome::Invited).count();
                    let other = results.len() - invited;
                    let summary = format!(
                        "{invited} invited, {other} not invited.",
                    );
                    view! {
                        <p class="bulk-summary" role="status">{summary}</p>
                        <ul class="bulk-results" aria-label="Results">
                            {results.into_iter().map(|r| {
                                let ok = r.outcome == BulkOutcome::Invited;
                                view! {
                                    <li class:ok=ok>
                                        <span class="entry">{r.entry}</span>
                                        <span class=if ok { "badge badge-active" } else { "badge badge-disabled" }>{r.outcome.label()}</span>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                        <div class="dialog-actions">
                            <button type="button" class="btn btn-primary" on:click=move |_| ctx.bulk_open.set(false)>"Done"</button>
                        </div>
                    }
                })}
            </Show>
        </Dialog>
    }
}

#[component]
pub(super) fn EditDialog(ctx: TeamCtx) -> impl IntoView {
    let action = ServerAction::<EditMember>::new();
    Effect::new(move || {
        if ctx.edit_open.get() {
            action.value().set(None);
        }
    });
    Effect::new(move || {
        if let Some(Ok(())) = action.value().get() {
            ctx.edit_open.set(false);
            toast("Changes saved.");
            ctx.reload();
        }
    });
    let title = Signal::derive(move || {
        ctx.editing
            .get()
            .map(|r| format!("Edit {}", r.name()))
            .unwrap_or_default()
    });
    view! {
        <Dialog open=ctx.edit_open id="edit-dialog" title>
            {move || ctx.editing.get().map(|r| view! {
                <ActionForm action=action attr:class="form" attr:novalidate=true>
                    <FormMessage error=form_error(action)/>
                    <input type="hidden" name="user_id" value=r.id/>
                    <div class="row">
                        <Field name="first_name" label="First Name" autocomplete="off"
                            value=Signal::stored(r.first_name.clone()) error=field_error(action, "first_name")/>
                        <Field name="last_name" label="Last Name" autocomplete="off"
                            value=Signal::stored(r.last_name.clone()) error=field_error(action, "last_name")/>
                    </div>
                    <Field name="mobile" label="Mobile Number" kind="tel" autocomplete="off" required=false hint="Optional."
                        value=Signal::stored(r.mobile.clone().unwrap_or_default()) error=field_error(action, "mobile")/>
                    <RoleSelect ctx id="edit-role" selected=r.role error=field_error(action, "role")/>
                    <div class="dialog-actions">
                        <button type="submit" class="btn btn-primary" disabled=move || action.pending().get()>"Save Changes"</button>
                    </div>
                </ActionForm>
            })}
        </Dialog>
    }
}

#[component]
pub(super) fn ConfirmDialog(ctx: TeamCtx) -> impl IntoView {
    let words = move || {
        ctx.confirming.get().map(|p| match p {
            Pending::Member {
                name,
                action: MemberAction::Revoke,
                ..
            } => (
                format!("Revoke {name}?"),
                "They can no longer use this organization until someone activates them. They keep their seat.".to_owned(),
                "Revoke",
            ),
            Pending::Member { name, .. } => (
                format!("Remove {name}?"),
                "They lose access at once. Their data is kept, their seat is freed, and you can invite them again.".to_owned(),
                "Remove",
            ),
            Pending::Cancel { email, .. } => (
                "Cancel this invitation?".to_owned(),
                format!("The link sent to {email} stops working and its seat is freed."),
                "Cancel Invitation",
            ),
            Pending::Leave => (
                "Leave this organization?".to_owned(),
                "You lose access at once. An administrator can invite you again.".to_owned(),
                "Leave",
            ),
        })
    };
    let title = Signal::derive(move || words().map(|w| w.0).unwrap_or_default());
    let confirm = move |_| {
        if let Some(p) = ctx.confirming.get_untracked() {
            ctx.confirm_open.set(false);
            carry_out(ctx, p);
        }
    };
    view! {
        <Dialog open=ctx.confirm_open id="confirm-dialog" title>
            <p>{move || words().map(|w| w.1)}</p>
            <div class="dialog-actions">
                <button type="button" class="btn btn-secondary" on:click=move |_| ctx.confirm_open.set(false)>"Go Back"</button>
                <button type="button" class="btn btn-danger" on:click=confirm>{move || words().map(|w| w.2)}</button>
            </div>
        </Dialog>
    }
}

#[component]
pub(super) fn LinkDialog(ctx: TeamCtx) -> impl IntoView {
    let copy = move |_| {
        if let Some(link) = ctx.link.get_untracked() {
            #[cfg(feature = "hydrate")]
            {
                let _ = window().navigator().clipboard().write_text(&link);
            }
            #[cfg(not(feature = "hydrate"))]
            let _ = link;
            toast("Invite link copied.");
        }
    };
    view! {
        <Dialog open=ctx.link_open id="link-dialog" title="Invite link">
            <div class="form">
                <div class="field">
                    <label for="invite-link">"Invite link"</label>
                    <input id="invite-link" type="text" readonly=true aria-describedby="invite-link-hint"
                        prop:value=move || ctx.link.get().unwrap_or_default()
                        on:focus=move |ev| {
                            #[cfg(feature = "hydrate")]
                            {
                                use leptos::wasm_bindgen::JsCast;
                                if let Some(input) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) {
                                    input.select();
                                }
                            }
                            #[cfg(not(feature = "hydrate"))]
                            let _ = ev;
                        }/>
                    <p class="hint" id="invite-link-hint">
                        "Works once, for the invited address only, until the invitation expires. The emailed link keeps working too."
                    </p>
                </div>
                <div class="dialog-actions">
                    <button type="button" class="btn btn-primary" on:click=copy>"Copy"</button>
                </div>
            </div>
        </Dialog>
    }
}
