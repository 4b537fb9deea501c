//! Billing: the plan, seat usage and the seat limit.

use crate::api::billing::{SetSeatLimit, billing_overview};
use crate::components::{Field, FormMessage, Frame, field_error, form_error, toast};
use crate::model::roles::BillingPage as Billing;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn BillingPage() -> impl IntoView {
    view! {
        <Title text="Billing · Roster"/>
        <Frame>
            <BillingView/>
        </Frame>
    }
}

#[component]
fn BillingView() -> impl IntoView {
    let refresh = RwSignal::new(0_u32);
    let data = Resource::new(move || refresh.get(), |_| billing_overview());
    view! {
        <header class="page-header"><h1>"Billing"</h1></header>
        <Transition fallback=|| view! { <p class="loading">"Loading billing…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(b) => view! { <Plan billing=b refresh/> }.into_any(),
                    Err(e) => view! {
                        <div class="banner banner-error" role="alert">{e.to_string()}</div>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Plan(billing: Billing, refresh: RwSignal<u32>) -> impl IntoView {
    let seats = billing.seats;
    let action = ServerAction::<SetSeatLimit>::new();
    let typed = RwSignal::new(seats.limit.to_string());
    Effect::new(move || {
        if let Some(Ok(())) = action.value().get() {
            toast(format!("Seat limit is now {}.", typed.get_untracked()));
            refresh.update(|r| *r += 1);
        }
    });
    let label = move || match typed.get().trim().parse::<i64>() {
        Ok(n) if n < seats.limit => "Lower Limit",
        _ => "Upgrade",
    };
    let unchanged = move || typed.get().trim() == seats.limit.to_string();
    view! {
        <section class="card" aria-labelledby="plan-h">
            <h2 id="plan-h">"Plan"</h2>
            <dl class="facts">
                <dt>"Organization"</dt><dd>{billing.org_name}</dd>
                <dt>"Plan"</dt><dd>{billing.plan}</dd>
                <dt>"Seat Usage"</dt>
                <dd class="seats" class:seats-warn=seats.nearly_full()>
                    <progress class="seat-bar" aria-hidden="true" max=seats.limit.max(1) value=seats.used.min(seats.limit)></progress>
                    <span id="seat-usage">{format!("{}/{}", seats.used, seats.limit)}</span>
                </dd>
                <dt>"Seat limit"</dt><dd>{format!("{} seats", seats.limit)}</dd>
            </dl>
            <p class="hint">"Every member who has not been removed holds a seat, the Owner included, and so does every pending invitation until it expires."</p>
        </section>
        {billing.can_change.then(|| view! {
            <section class="card" aria-labelledby="limit-h">
                <h2 id="limit-h">"Change the seat limit"</h2>
                <p class="hint">{format!(
                    "Raise the limit to invite more people, or lower it to what you need (never below the {} seats in use). No payment provider is connected: the change takes effect at once and is recorded in the audit log.",
                    seats.used
                )}</p>
                <ActionForm action=action attr:class="form form-inline" attr:novalidate=true>
                    <FormMessage error=form_error(action)/>
                    <div on:input=move |ev| typed.set(event_target_value(&ev))>
                        <Field name="seat_limit" label="Seat limit" kind="number" value=typed
                            error=field_error(action, "seat_limit")/>
                    </div>
                    <button type="submit" class="btn btn-primary"
                        disabled=move || action.pending().get() || unchanged()>{label}</button>
                </ActionForm>
            </section>
        })}
    }
}
