//! Audit Log: every change recorded for the organization, newest first, with filters that
//! live in the address, keyset paging, exports and the check of the hash chain.

use crate::api::audit::{VerifyAuditLog, audit_log};
use crate::components::{Frame, toast};
use crate::error::AppError;
use crate::model::audit::{AREAS, AuditPage, AuditQuery, AuditRow};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::NavigateOptions;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_query_map};

#[component]
pub fn AuditPage() -> impl IntoView {
    view! {
        <Title text="Audit Log · Roster"/>
        <Frame>
            <AuditView/>
        </Frame>
    }
}

#[component]
fn AuditView() -> impl IntoView {
    let params = use_query_map();
    let query = Memo::new(move |_| params.with(|q| AuditQuery::from_pairs(|k| q.get_str(k))));
    let tz = RwSignal::new(String::new());
    #[cfg(feature = "hydrate")]
    Effect::new(move || {
        if let Some((zone, false)) = super::usage::browser_time_zone() {
            tz.set(zone);
        }
    });
    let data = Resource::new(
        move || (query.get(), tz.get()),
        |(mut q, tz)| {
            q.tz = tz;
            audit_log(q)
        },
    );
    let navigate = StoredValue::new(use_navigate());
    let go = move |href: String| {
        navigate.with_value(|n| {
            n(
                &href,
                NavigateOptions {
                    scroll: false,
                    ..Default::default()
                },
            )
        })
    };
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading the audit log…"</p> }>
            {move || Suspend::new(async move {
                let q = query.get_untracked();
                match data.await {
                    Ok(page) => view! { <Log page q go/> }.into_any(),
                    Err(AppError::Validation(errors)) => {
                        let error = move |f: &str| {
                            errors.iter().find(|e| e.field == f).map(|e| e.message.clone())
                        };
                        view! {
                            <header class="page-header"><h1>"Audit Log"</h1></header>
                            <Filters q actors=Vec::new() error go/>
                        }
                        .into_any()
                    }
                    Err(e) => view! {
                        <header class="page-header"><h1>"Audit Log"</h1></header>
                        <div class="banner banner-error" role="alert">{e.to_string()}</div>
                    }
                    .into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Log(
    page: AuditPage,
    q: AuditQuery,
    go: impl Fn(String) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let verify = ServerAction::<VerifyAuditLog>::new();
    Effect::new(move || {
        if let Some(Ok(result)) = verify.value().get() {
            toast(match result.broken {
                None => format!("Integrity verified: {} rows.", result.rows),
                Some(_) => "The audit log's chain is broken.".to_owned(),
            });
        }
    });
    let exports = page.can_export.then(|| {
        let (csv, jsonl) = (q.export_href("csv"), q.export_href("jsonl"));
        view! {
            <a class="btn btn-secondary" id="audit-export-csv" href=csv download="">"Export CSV"</a>
            <a class="btn btn-secondary" id="audit-export-jsonl" href=jsonl download="">"Export JSON Lines"</a>
        }
    });
    let filtered = !q.query_string(&[("after", "")]).is_empty();
    let first_page = (!q.after.is_empty()).then(|| q.href(&[("after", "")]));
    let older = page.next.map(|next| q.href(&[("after", &next)]));
    let empty = page.rows.is_empty();
    view! {
        <header class="page-header">
            <div class="title-group">
                <h1>"Audit Log"</h1>
                <p class="page-subtitle">"Newest first"</p>
            </div>
            <div class="header-actions">
                <ActionForm action=verify>
                    <button type="submit" class="btn btn-secondary" id="audit-verify" disabled=move || verify.pending().get()>
                        {move || if verify.pending().get() { "Verifying…" } else { "Verify integrity" }}
                    </button>
                </ActionForm>
                {exports}
            </div>
        </header>
        <div id="audit-integrity" role="status">
            {move || verify.value().get().map(|r| match r {
                Ok(r) => match r.broken {
                    None => view! {
                        <div class="banner banner-success">
                            {format!("The chain is whole: {} rows checked, none changed, removed or added.", r.rows)}
                        </div>
                    }.into_any(),
                    Some(reason) => view! {
                        <div class="banner banner-error">
                            {format!("The chain is broken: {reason}. Rows from there on cannot be trusted; {} rows before it are whole.", r.rows)}
                        </div>
                    }.into_any(),
                },
                Err(e) => view! { <div class="banner banner-error">{e.to_string()}</div> }.into_any(),
            })}
        </div>
        <Filters q=q.clone() actors=page.actors error=|_: &str| None go/>
        {if empty {
            view! {
                <section class="card wide empty-state" aria-labelledby="audit-empty-h">
                    <h2 id="audit-empty-h">{if filtered { "No entries match these filters" } else { "No entries yet" }}</h2>
                    <p>{if filtered {
                        "Try a longer time range, another action, or Reset to see everything."
                    } else {
                        "Changes to your team, roles, keys and settings, and every sign-in, are recorded here as they happen."
                    }}</p>
                </section>
            }
            .into_any()
        } else {
            view! { <Rows rows=page.rows/> }.into_any()
        }}
        <nav class="pager" aria-label="Pages">
            <span>{if q.after.is_empty() { "Newest entries" } else { "Older entries" }}</span>
            <span class="header-actions">
                {first_page.map(|href| view! { <A href=href attr:class="btn btn-secondary btn-small" attr:id="audit-newest">"Newest"</A> })}
                {older.map(|href| view! { <A href=href attr:class="btn btn-secondary btn-small" attr:id="audit-older">"Older"</A> })}
            </span>
        </nav>
    }
}

#[component]
fn Rows(rows: Vec<AuditRow>) -> impl IntoView {
    view! {
        // Scrolls on its own: focusable, so the keyboard scrolls it too.
        <div class="table-wrap" tabindex="0" role="region" aria-label="Audit log entries">
            <table class="table audit-table" id="audit-rows">
                <caption class="sr-only">"Audit log entries, newest first"</caption>
                <thead><tr>
                    <th scope="col">"Time"</th>
                    <th scope="col">"Actor"</th>
                    <th scope="col">"Action"</th>
                    <th scope="col">"Target"</th>
                    <th scope="col">"Change"</th>
                    <th scope="col">"Origin"</th>
                </tr></thead>
                <tbody>
                    {rows.into_iter().map(|r| {
                        let actor = match (r.actor_name, r.actor_email) {
                            (Some(name), Some(email)) => view! { <span>{name}</span><span class="cell-sub email">{email}</span> }.into_any(),
                            (None, Some(email)) => view! { <span>{email}</span> }.into_any(),
                            _ => view! { <span>"System"</span> }.into_any(),
                        };
                        let via = match r.via.as_str() {
                            "api" => Some("via API"),
                            "auto_join" => Some("via auto-join"),
                            _ => None,
                        }
                        .map(|words| view! { <span class="cell-sub">{words}</span> });
                        view! {
                            <tr id=format!("audit-row-{}", r.id)>
                                <td class="date" data-label="Time"><time datetime=r.at>{r.at_label}</time></td>
                                <td data-label="Actor"><div>{actor}{via}</div></td>
                                <td data-label="Action"><div><span>{r.action_label}</span><code class="cell-sub audit-code">{r.action}</code></div></td>
                                <td data-label="Target" class="wrap">{r.target}</td>
                                <td data-label="Change" class="wrap">{r.change}</td>
                                <td data-label="Origin" class="wrap"><div>
                                    <span>{r.client_ip}</span>
                                    <span class="cell-sub" title=r.user_agent.clone()>{r.user_agent.chars().take(60).collect::<String>()}</span>
                                    <code class="cell-sub">{r.request_id}</code>
                                </div></td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// The filters, as a form that changes the address (a plain GET form without the script).
#[component]
fn Filters(
    q: AuditQuery,
    actors: Vec<(String, String)>,
    error: impl Fn(&str) -> Option<String> + 'static,
    go: impl Fn(String) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let submit = move |ev: leptos::ev::SubmitEvent| {
        if let Some(values) = crate::components::submitted_values(&ev, &AuditQuery::KEYS) {
            let q = AuditQuery::from_pairs(|k| {
                values.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
            });
            go(q.href(&[]));
        }
    };
    let field = |name: &'static str,
                 label: &'static str,
                 kind: &'static str,
                 value: String,
                 error: Option<String>| {
        let id = format!("audit-{name}");
        let msg = format!("{id}-msg");
        let invalid = error.is_some();
        view! {
            <div class="field" class:invalid=invalid>
                <label for=id.clone()>{label}</label>
                <input id=id type=kind name=name value=value aria-describedby=msg.clone()
                    aria-invalid=if invalid { "true" } else { "false" }/>
                <p class="field-error" id=msg role="alert">{error}</p>
            </div>
        }
    };
    let select = |name: &'static str,
                  label: &'static str,
                  all: &'static str,
                  current: String,
                  options: Vec<(String, String)>,
                  error: Option<String>| {
        let id = format!("audit-{name}");
        let msg = format!("{id}-msg");
        let invalid = error.is_some();
        let mut options = options;
        if !current.is_empty() && !options.iter().any(|(v, _)| *v == current) {
            options.insert(0, (current.clone(), current.clone()));
        }
        view! {
            <div class="field" class:invalid=invalid>
                <label for=id.clone()>{label}</label>
                <select id=id name=name aria-describedby=msg.clone() aria-invalid=if invalid { "true" } else { "false" }>
                    <option value="" selected=current.is_empty()>{all}</option>
                    {options.into_iter().map(|(v, l)| {
                        let selected = v == current;
                        view! { <option value=v selected=selected>{l}</option> }
                    }).collect_view()}
                </select>
                <p class="field-error" id=msg role="alert">{error}</p>
            </div>
        }
    };
    let areas = AREAS
        .iter()
        .map(|(v, l)| ((*v).to_owned(), (*l).to_owned()))
        .collect();
    let after_error = error("after");
    view! {
        <form class="toolbar filters audit-filters" method="get" action="/audit" on:submit=submit aria-label="Filters">
            {select("actor", "Actor", "Everyone", q.actor.clone(), actors, error("actor"))}
            {select("action", "Action", "All actions", q.action.clone(), areas, error("action"))}
            {field("target", "Target", "text", q.target.clone(), error("target"))}
            {field("search", "Search", "search", q.search.clone(), error("search"))}
            {field("from", "From", "date", q.from.clone(), error("from"))}
            {field("to", "To", "date", q.to.clone(), error("to"))}
            <div class="filter-actions">
                <button type="submit" class="btn btn-primary">"Apply"</button>
                <A href="/audit" attr:class="btn btn-ghost">"Reset"</A>
            </div>
            {after_error.map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
        </form>
    }
}
