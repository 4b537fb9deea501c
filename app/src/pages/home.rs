//! Overview: the page an admin opens every morning. Each part shows only to those whose role
//! may see what it counts, and each figure links to its page.

use crate::api::usage::overview;
use crate::components::Frame;
use crate::model::CurrentUser;
use crate::model::usage::{AuditLine, Dashboard, OwnUsage, Pending, Point, Step, Week};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

#[component]
pub fn HomePage() -> impl IntoView {
    view! {
        <Title text="Overview · Roster"/>
        <Frame>
            <Overview/>
        </Frame>
    }
}

#[component]
fn Overview() -> impl IntoView {
    let user = expect_context::<CurrentUser>();
    let data = Resource::new(|| (), |_| overview());
    view! {
        <header class="page-header">
            <div class="title-group">
                <h1>{format!("Welcome, {}", user.first_name)}</h1>
                <p class="page-subtitle">{format!("Your role: {}", user.role)}</p>
            </div>
        </header>
        <Suggestions/>
        <h2 class="section-title">{user.org_name.clone()}</h2>
        <Transition fallback=|| view! { <p class="loading">"Loading the overview…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(d) => view! { <Board d/> }.into_any(),
                    Err(e) => view! {
                        <div class="banner banner-error" role="alert">{e.to_string()}</div>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

/// Organizations the person may join by their address's verified domain ("Suggest"), with
/// "Join <org>"; or why they cannot (every seat taken).
#[component]
fn Suggestions() -> impl IntoView {
    use crate::api::settings::{JoinOrganization, join_suggestions};
    let join = ServerAction::<JoinOrganization>::new();
    let list = Resource::new(move || join.version().get(), |_| join_suggestions());
    Effect::new(move || {
        if let Some(Ok(())) = join.value().get() {
            // Loaded again, so the organization switcher lists it.
            crate::components::go_to("/");
        }
    });
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let found = list.await.unwrap_or_default();
                found.into_iter().map(|s| {
                    let heading = format!("Join {}", s.org_name);
                    let text = if s.seats_full {
                        format!("Your address is at {}, a verified domain of {}, but it has used all its seats. Ask one of its admins to make room.", s.domain, s.org_name)
                    } else {
                        format!("Your address is at {}, a verified domain of {}. Join to work with its team.", s.domain, s.org_name)
                    };
                    let label = heading.clone();
                    view! {
                        <section class="card suggestion" aria-label=label>
                            <p>{text}</p>
                            <p class="field-error" role="alert">{move || join.value().get().and_then(Result::err).map(|e| e.to_string())}</p>
                            {(!s.seats_full).then(|| view! {
                                <ActionForm action=join>
                                    <input type="hidden" name="org_id" value=s.org_id.to_string()/>
                                    <button type="submit" class="btn btn-primary" disabled=move || join.pending().get()>{heading.clone()}</button>
                                </ActionForm>
                            })}
                        </section>
                    }
                }).collect_view()
            })}
        </Transition>
    }
}

#[component]
fn Board(d: Dashboard) -> impl IntoView {
    let billing_link = expect_context::<CurrentUser>().access;
    let seats_href = if crate::authz::can(
        &billing_link,
        crate::authz::Feature::Billing,
        crate::authz::Level::View,
        None,
    ) {
        "/billing"
    } else {
        "/team"
    };
    view! {
        {(!d.checklist.is_empty()).then(|| view! { <Checklist steps=d.checklist/> })}
        <section class="stats" aria-label="At a glance">
            {d.seats.map(|s| view! {
                <A href=seats_href attr:class="stat stat-link">
                    <p class="stat-label">"Seats used"</p>
                    <p class="stat-value" id="overview-seats">{format!("{}/{}", s.used, s.limit)}</p>
                    <progress class="seat-bar" aria-hidden="true" max=s.limit.max(1) value=s.used.min(s.limit)></progress>
                </A>
            })}
            {d.pending.map(|p| view! { <PendingStat p/> })}
            {d.week.clone().map(|w| view! {
                <A href="/usage?range=24h" attr:class="stat stat-link">
                    <p class="stat-label">"Calls today"</p>
                    <p class="stat-value" id="overview-today">{w.today}</p>
                </A>
                <A href="/usage?range=7d" attr:class="stat stat-link">
                    <p class="stat-label">"Calls this week"</p>
                    <p class="stat-value" id="overview-week">{w.calls}</p>
                    <Sparkline days=w.days.clone()/>
                    <p class="stat-note">{format!("{} denied", w.denied_share)}</p>
                </A>
            })}
        </section>
        <div class="breakdowns">
            {d.week.map(|w| view! { <TopMembers w/> })}
            <OwnCard own=d.own/>
            {d.audit.map(|lines| view! { <Audit lines/> })}
        </div>
    }
}

#[component]
fn PendingStat(p: Pending) -> impl IntoView {
    let note = match p.expiring_this_week {
        0 => "none expire this week".to_owned(),
        1 => "1 expires this week".to_owned(),
        n => format!("{n} expire this week"),
    };
    view! {
        <A href="/team?status=pending" attr:class="stat stat-link">
            <p class="stat-label">"Pending invitations"</p>
            <p class="stat-value" id="overview-pending">{p.count}</p>
            <p class="stat-note">{note}</p>
        </A>
    }
}

/// Seven days as small bars, for the eye only (the figures are beside it and on Usage).
#[component]
fn Sparkline(days: Vec<Point>) -> impl IntoView {
    let top = days
        .iter()
        .map(|p| p.allowed + p.denied)
        .max()
        .unwrap_or(0)
        .max(1);
    let n = days.len().max(1) as f64;
    view! {
        <svg class="sparkline" viewBox="0 0 70 20" preserveAspectRatio="none" aria-hidden="true">
            {days.iter().enumerate().map(|(i, p)| {
                let h = (p.allowed + p.denied) as f64 / top as f64 * 20.0;
                view! { <rect x=i as f64 * 70.0 / n + 1.0 y=20.0 - h width=70.0 / n - 2.0 height=h></rect> }
            }).collect_view()}
        </svg>
    }
}

#[component]
fn Checklist(steps: Vec<Step>) -> impl IntoView {
    let done = steps.iter().filter(|s| s.done).count();
    let total = steps.len();
    view! {
        <section class="card wide checklist" aria-labelledby="start-h">
            <h2 id="start-h">"Get started"</h2>
            <p class="hint">{format!("{done} of {total} done. This list goes away once every step is.")}</p>
            <ol>
                {steps.into_iter().map(|s| view! {
                    <li class:done=s.done>
                        <span class="check" aria-hidden="true">{if s.done { "✓" } else { "○" }}</span>
                        <A href=s.href>{s.label}</A>
                        <span class="sr-only">{if s.done { " (done)" } else { " (to do)" }}</span>
                    </li>
                }).collect_view()}
            </ol>
        </section>
    }
}

#[component]
fn TopMembers(w: Week) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="top-h">
            <h2 id="top-h">"Most active this week"</h2>
            {if w.top.is_empty() {
                view! {
                    <p class="empty">"No calls this week. "<A href="/usage">"How calls get counted"</A></p>
                }.into_any()
            } else {
                view! {
                    <table class="table compact" id="overview-top">
                        <thead><tr><th scope="col">"Member"</th><th scope="col" class="num">"Calls"</th></tr></thead>
                        <tbody>
                            {w.top.into_iter().map(|m| view! {
                                <tr>
                                    <td><A href=format!("/usage?range=7d&member={}", m.user_id)>{m.name}</A></td>
                                    <td class="num">{m.calls}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </section>
    }
}

#[component]
fn OwnCard(own: OwnUsage) -> impl IntoView {
    let user = expect_context::<CurrentUser>();
    let sees_usage = crate::authz::can(
        &user.access,
        crate::authz::Feature::Analytics,
        crate::authz::Level::View,
        None,
    );
    view! {
        <section class="card" aria-labelledby="own-h">
            <h2 id="own-h">"Your API calls, last 30 days"</h2>
            <OwnFigures own=own.clone()/>
            <p class="hint">
                "Your API key is on your "<A href="/profile">"Profile"</A>"."
                {sees_usage.then(|| view! {
                    " "<A href=format!("/usage?range=30d&member={}", own.user_id)>"See your calls by day"</A>
                })}
            </p>
        </section>
    }
}

/// A member's own figures (Overview and Profile).
#[component]
pub fn OwnFigures(own: OwnUsage) -> impl IntoView {
    view! {
        <dl class="facts" id="own-usage">
            <dt>"Calls"</dt><dd>{own.calls}</dd>
            <dt>"Denied"</dt><dd>{own.denied}</dd>
            <dt>"Top feature"</dt><dd>{if own.top_feature.is_empty() { "—".to_owned() } else { own.top_feature }}</dd>
            <dt>"Last call"</dt><dd>{if own.last_call.is_empty() { "None yet".to_owned() } else { own.last_call }}</dd>
        </dl>
    }
}

#[component]
fn Audit(lines: Vec<AuditLine>) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="audit-h">
            <h2 id="audit-h">"Latest in the audit log"</h2>
            {if lines.is_empty() {
                view! { <p class="empty">"Nothing recorded yet."</p> }.into_any()
            } else {
                view! {
                    <ul class="audit-lines">
                        {lines.into_iter().map(|l| view! {
                            <li>
                                <span class="audit-action">{l.action}</span>
                                {(!l.target.is_empty()).then(|| view! { <span class="cell-sub">{l.target}</span> })}
                                <span class="cell-sub">{format!("{} · {}", l.who, l.when)}</span>
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
    }
}
