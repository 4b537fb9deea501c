//! Usage: the gateway's calls over time, per member, feature, region and outcome; the view
//! lives in the address, and "Download Report" gives the same view as CSV.

use crate::api::usage::usage_overview;
use crate::components::Frame;
use crate::error::AppError;
use crate::model::usage::{
    CUSTOM_RANGE, Choice, DEFAULT_RANGE, MEMBER_SORTS, OUTCOMES, Point, RANGES, Slice, UsageQuery,
    UsageReport, outcome_label,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::NavigateOptions;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_query_map};

#[component]
pub fn UsagePage() -> impl IntoView {
    view! {
        <Title text="Usage · Roster"/>
        <Frame>
            <UsageView/>
        </Frame>
    }
}

/// The browser's time zone, and whether the cookie already said so (then the server
/// rendered the page in it).
#[cfg(feature = "hydrate")]
pub(crate) fn browser_time_zone() -> Option<(String, bool)> {
    use leptos::wasm_bindgen::JsCast;
    let format = js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new());
    let zone = js_sys::Reflect::get(&format.resolved_options(), &"timeZone".into())
        .ok()?
        .as_string()?;
    let document = window()
        .document()?
        .dyn_into::<web_sys::HtmlDocument>()
        .ok()?;
    let cookie = format!("{}={zone}", crate::api::usage::TZ_COOKIE);
    let known = document
        .cookie()
        .ok()?
        .split(';')
        .any(|c| c.trim() == cookie);
    if !known {
        let _ = document.set_cookie(&format!("{cookie}; path=/; max-age=31536000; samesite=lax"));
    }
    Some((zone, known))
}

/// The id of the element that had focus when a live refresh began, for the redrawn figures to
/// give it back.
#[cfg(feature = "hydrate")]
#[derive(Clone, Copy)]
struct Refocus(StoredValue<String>);

/// Gives focus back to the element that had it before a live refresh redrew the figures
/// (when focus fell to the page's body meanwhile).
fn refocus_after_refresh() {
    #[cfg(feature = "hydrate")]
    if let Some(Refocus(focused)) = use_context::<Refocus>() {
        Effect::new(move || {
            let id = focused.get_value();
            if id.is_empty() {
                return;
            }
            focused.set_value(String::new());
            request_animation_frame(move || {
                use leptos::wasm_bindgen::JsCast;
                let Some(doc) = window().document() else {
                    return;
                };
                let lost = doc.active_element().is_none_or(|e| e.tag_name() == "BODY");
                if let Some(el) = doc.get_element_by_id(&id).filter(|_| lost)
                    && let Ok(el) = el.dyn_into::<web_sys::HtmlElement>()
                {
                    let _ = el.focus();
                }
            });
        });
    }
}

/// Listens for "usage" (calls were counted) and bumps `live` after a random wait of up to
/// `LIVE_JITTER_MS`, so the open pages of an organization do not all ask at once; events heard
/// meanwhile join it. Returns where the id of the element that had focus is kept.
#[cfg(feature = "hydrate")]
fn listen_for_usage(live: RwSignal<u32>) -> StoredValue<String> {
    use leptos::wasm_bindgen::{JsCast, closure::Closure};
    const LIVE_JITTER_MS: f64 = 2_000.0;
    let focused = StoredValue::new(String::new());
    let Ok(source) = web_sys::EventSource::new("/events/usage") else {
        return focused;
    };
    let waiting = std::rc::Rc::new(std::cell::Cell::new(false));
    let on_usage = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |_| {
        if waiting.replace(true) {
            return;
        }
        let waiting = waiting.clone();
        let wait = (js_sys::Math::random() * LIVE_JITTER_MS) as u64;
        set_timeout(
            move || {
                waiting.set(false);
                let id = window()
                    .document()
                    .and_then(|d| d.active_element())
                    .map(|e| e.id())
                    .unwrap_or_default();
                focused.set_value(id);
                live.update(|n| *n += 1);
            },
            std::time::Duration::from_millis(wait),
        );
    });
    let _ = source.add_event_listener_with_callback("usage", on_usage.as_ref().unchecked_ref());
    let held = send_wrapper::SendWrapper::new((source, on_usage));
    on_cleanup(move || held.0.close());
    focused
}

#[component]
fn UsageView() -> impl IntoView {
    let params = use_query_map();
    let query = Memo::new(move |_| params.with(|q| UsageQuery::from_pairs(|k| q.get_str(k))));
    // The browser's time zone once known; until then the server's guess (the cookie).
    let tz = RwSignal::new(String::new());
    #[cfg(feature = "hydrate")]
    Effect::new(move || {
        if let Some((zone, false)) = browser_time_zone() {
            tz.set(zone);
        }
    });
    // Bumped when the server says calls were counted (`/events/usage`).
    let live = RwSignal::new(0_u32);
    let data = Resource::new(
        move || (query.get(), tz.get(), live.get()),
        |(mut q, tz, _)| {
            q.tz = tz;
            usage_overview(q)
        },
    );
    #[cfg(feature = "hydrate")]
    provide_context(Refocus(listen_for_usage(live)));
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
        <Transition fallback=|| view! { <p class="loading">"Loading usage…"</p> }>
            {move || Suspend::new(async move {
                let q = query.get_untracked();
                match data.await {
                    Ok(report) => view! { <Report report q go/> }.into_any(),
                    Err(AppError::Validation(errors)) => {
                        let error = move |f: &str| {
                            errors.iter().find(|e| e.field == f).map(|e| e.message.clone())
                        };
                        view! {
                            <header class="page-header"><h1>"Usage"</h1></header>
                            <Filters q choices=None error go/>
                        }
                        .into_any()
                    }
                    Err(e) => view! {
                        <header class="page-header"><h1>"Usage"</h1></header>
                        <div class="banner banner-error" role="alert">{e.to_string()}</div>
                    }
                    .into_any(),
                }
            })}
        </Transition>
    }
}

/// The choices of the member, feature and region filters.
#[derive(Clone)]
struct Choices {
    members: Vec<Choice>,
    features: Vec<Choice>,
    regions: Vec<Choice>,
}

#[component]
fn Report(
    report: UsageReport,
    q: UsageQuery,
    go: impl Fn(String) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    refocus_after_refresh();
    let download = report
        .can_download
        .then(|| format!("/usage/report.csv?{}", q.query_string(&[])));
    let choices = Choices {
        members: report.member_choices.clone(),
        features: report.feature_choices.clone(),
        regions: report.region_choices.clone(),
    };
    let allowed = report.calls - report.denied;
    let members_note = (report.members_total > report.members.len()).then(|| {
        format!(
            "The {} members with the most calls of {}; download the report for all of them.",
            report.members.len(),
            report.members_total
        )
    });
    let period = if report.utc_days {
        format!("{} · days in UTC", report.range_label)
    } else {
        format!("{} · times in {}", report.range_label, report.tz)
    };
    let empty = report.calls == 0;
    let q2 = q.clone();
    view! {
        <header class="page-header">
            <div class="title-group">
                <h1>"Usage"</h1>
                <p class="page-subtitle">{period}</p>
            </div>
            {download.map(|href| view! {
                <div class="header-actions">
                    <a class="btn btn-secondary" id="usage-download" href=href download="">"Download Report"</a>
                </div>
            })}
        </header>
        <Filters q=q.clone() choices=Some(choices) error=|_: &str| None go/>
        <section class="stats" aria-label="Totals">
            <div class="stat"><p class="stat-label">"Calls"</p><p class="stat-value" id="usage-calls">{report.calls}</p></div>
            <div class="stat"><p class="stat-label">"Allowed"</p><p class="stat-value" id="usage-allowed">{allowed}</p></div>
            <div class="stat">
                <p class="stat-label">"Denied"</p>
                <p class="stat-value" id="usage-denied">{report.denied}
                    <span class="stat-note">{format!(" ({})", crate::model::usage::share(report.denied, report.calls))}</span>
                </p>
            </div>
            <div class="stat"><p class="stat-label">"Members with calls"</p><p class="stat-value">{report.members_total}</p></div>
        </section>
        {if empty {
            view! {
                <section class="card wide empty-state" aria-labelledby="empty-h">
                    <h2 id="empty-h">"No API calls in this range"</h2>
                    <p>"Every call to your API passes through your gateway, which asks Roster whether the caller's API key may use the feature. Each of those checks is counted here, allowed or denied, within a few seconds."</p>
                    <p>
                        "To see calls here, set up the gateway with the "
                        <a href="/help/gateway">"gateway guide"</a>
                        ", then call your API with your key (it is on your "
                        <A href="/profile">"Profile"</A>
                        "). Or choose a longer range above."
                    </p>
                </section>
            }
            .into_any()
        } else {
            view! {
                <Chart points=report.points hourly=report.hourly/>
                <section class="card wide" aria-labelledby="members-h">
                    <h2 id="members-h">"Members"</h2>
                    {members_note.map(|n| view! { <p class="hint">{n}</p> })}
                    <MemberTable report_members=report.members q=q2/>
                </section>
                <div class="breakdowns">
                    <Breakdown title="By feature" column="Feature" id="features" slices=report.features/>
                    <Breakdown title="By region" column="Region" id="regions" slices=report.regions/>
                    <Breakdown title="By outcome" column="Outcome" id="outcomes" slices=report.outcomes/>
                </div>
            }
            .into_any()
        }}
    }
}

/// The filters, as a form that changes the address (and works as a plain form without
/// the app's script).
#[component]
fn Filters(
    q: UsageQuery,
    choices: Option<Choices>,
    error: impl Fn(&str) -> Option<String> + 'static,
    go: impl Fn(String) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let submit = move |ev: leptos::ev::SubmitEvent| {
        if let Some(values) = crate::components::submitted_values(&ev, &UsageQuery::KEYS) {
            let q = UsageQuery::from_pairs(|k| {
                values.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
            });
            go(q.href(&[]));
        }
    };
    let range = if q.range.is_empty() {
        DEFAULT_RANGE.to_owned()
    } else {
        q.range.clone()
    };
    let custom = range == CUSTOM_RANGE;
    let choices = choices.unwrap_or(Choices {
        members: Vec::new(),
        features: Vec::new(),
        regions: Vec::new(),
    });
    let select = |name: &'static str,
                  label: &'static str,
                  all: &'static str,
                  current: String,
                  options: Vec<Choice>,
                  error: Option<String>| {
        let id = format!("usage-{name}");
        let msg = format!("{id}-msg");
        // A value the list does not hold (a member with no calls in this range) stays chosen.
        let mut options = options;
        if !current.is_empty() && !options.iter().any(|o| o.value == current) {
            options.insert(
                0,
                Choice {
                    value: current.clone(),
                    label: current.clone(),
                },
            );
        }
        let invalid = error.is_some();
        view! {
            <div class="field" class:invalid=invalid>
                <label for=id.clone()>{label}</label>
                <select id=id name=name aria-describedby=msg.clone() aria-invalid=if invalid { "true" } else { "false" }>
                    <option value="" selected=current.is_empty()>{all}</option>
                    {options.into_iter().map(|o| {
                        let selected = o.value == current;
                        view! { <option value=o.value selected=selected>{o.label}</option> }
                    }).collect_view()}
                </select>
                <p class="field-error" id=msg role="alert">{error}</p>
            </div>
        }
    };
    let outcomes: Vec<Choice> = OUTCOMES
        .iter()
        .map(|o| Choice {
            value: (*o).into(),
            label: outcome_label(o).into(),
        })
        .collect();
    let range_error = error("range");
    let from_error = error("from");
    let to_error = error("to");
    let (range_bad, from_bad, to_bad) = (
        range_error.is_some(),
        from_error.is_some(),
        to_error.is_some(),
    );
    view! {
        <form class="toolbar filters" method="get" action="/usage" on:submit=submit aria-label="Filters">
            <div class="field" class:invalid=range_bad>
                <label for="usage-range">"Time range"</label>
                <select id="usage-range" name="range" aria-describedby="usage-range-msg">
                    {RANGES.iter().map(|(v, l)| view! {
                        <option value=*v selected=range == *v>{*l}</option>
                    }).collect_view()}
                    <option value=CUSTOM_RANGE selected=custom>"Custom range"</option>
                </select>
                <p class="field-error" id="usage-range-msg" role="alert">{range_error}</p>
            </div>
            <div class="field" class:invalid=from_bad>
                <label for="usage-from">"From"</label>
                <input id="usage-from" type="date" name="from" value=q.from.clone()
                    aria-describedby="usage-dates-hint usage-from-msg"
                    aria-invalid=if from_bad { "true" } else { "false" }/>
                <p class="field-error" id="usage-from-msg" role="alert">{from_error}</p>
            </div>
            <div class="field" class:invalid=to_bad>
                <label for="usage-to">"To"</label>
                <input id="usage-to" type="date" name="to" value=q.to.clone()
                    aria-describedby="usage-dates-hint usage-to-msg"
                    aria-invalid=if to_bad { "true" } else { "false" }/>
                <p class="field-error" id="usage-to-msg" role="alert">{to_error}</p>
            </div>
            {select("member", "Member", "All members", q.member.clone(), choices.members, error("member"))}
            {select("feature", "Feature", "All features", q.feature.clone(), choices.features, error("feature"))}
            {select("region", "Region", "All regions", q.region.clone(), choices.regions, error("region"))}
            {select("outcome", "Outcome", "All outcomes", q.outcome.clone(), outcomes, error("outcome"))}
            <input type="hidden" name="sort" value=q.sort.clone()/>
            <div class="filter-actions">
                <button type="submit" class="btn btn-primary">"Apply"</button>
                <A href="/usage" attr:class="btn btn-ghost">"Reset"</A>
            </div>
            <p class="hint filters-hint" id="usage-dates-hint">"From and To are used with “Custom range”: days in your time zone, both included."</p>
        </form>
    }
}

/// Calls over time as stacked bars (allowed below, denied above), drawn on the server; the
/// exact figures show on hover and focus, and as a table.
#[component]
fn Chart(points: Vec<Point>, hourly: bool) -> impl IntoView {
    let n = points.len().max(1);
    let top = points
        .iter()
        .map(|p| p.allowed + p.denied)
        .max()
        .unwrap_or(0)
        .max(1);
    const W: f64 = 720.0;
    const H: f64 = 200.0;
    let bar = W / n as f64;
    let gap = if bar > 4.0 { bar * 0.15 } else { 0.0 };
    let y = move |v: i64| v as f64 / top as f64 * (H - 4.0);
    let describe = |p: &Point| format!("{}: {} allowed, {} denied", p.label, p.allowed, p.denied);
    let focused = RwSignal::new(None::<usize>);
    let points = StoredValue::new(points);
    let readout = move || match focused.get() {
        Some(i) => points
            .with_value(|p| p.get(i).map(describe))
            .unwrap_or_default(),
        None => {
            "Hover over a bar, or focus the chart and use the arrow keys, for its figures.".into()
        }
    };
    let keys = move |ev: leptos::ev::KeyboardEvent| {
        let last = n - 1;
        let next = match (ev.key().as_str(), focused.get_untracked()) {
            ("ArrowRight", Some(i)) => (i + 1).min(last),
            ("ArrowLeft", Some(i)) => i.saturating_sub(1),
            ("ArrowRight" | "ArrowLeft" | "End", None) | ("End", _) => last,
            ("Home", _) => 0,
            _ => return,
        };
        ev.prevent_default();
        focused.set(Some(next));
    };
    let (first, middle, last) = points.with_value(|p| {
        (
            p.first().map(|p| p.label.clone()).unwrap_or_default(),
            p.get(p.len() / 2)
                .map(|p| p.label.clone())
                .unwrap_or_default(),
            p.last().map(|p| p.label.clone()).unwrap_or_default(),
        )
    });
    let title = if hourly {
        "Calls per hour"
    } else {
        "Calls per day"
    };
    view! {
        <section class="card wide chart-card" aria-labelledby="chart-h">
            <div class="chart-head">
                <h2 id="chart-h">{title}</h2>
                <p class="legend" aria-hidden="true">
                    <span class="key key-allowed"></span>"Allowed"
                    <span class="key key-denied"></span>"Denied"
                </p>
            </div>
            <div class="chart-frame">
                <p class="chart-top" aria-hidden="true">{top}</p>
                <svg class="chart" id="usage-chart" viewBox=format!("0 0 {W} {H}") preserveAspectRatio="none"
                    role="img" tabindex="0" aria-label=format!("{title}, up to {top} calls in a bar. Use the arrow keys for each bar's figures, or open the table below.")
                    aria-describedby="chart-readout"
                    on:keydown=keys on:focus=move |_| if focused.get_untracked().is_none() { focused.set(Some(n - 1)) }
                    on:mouseleave=move |_| focused.set(None)>
                    {points.with_value(|ps| ps.iter().enumerate().map(|(i, p)| {
                        let x = i as f64 * bar + gap / 2.0;
                        let w = (bar - gap).max(0.5);
                        let (ha, hd) = (y(p.allowed), y(p.denied));
                        view! {
                            <g class="bar" class:bar-focused=move || focused.get() == Some(i)
                                on:mouseenter=move |_| focused.set(Some(i))>
                                <title>{describe(p)}</title>
                                <rect class="hit" x=x y="0" width=w height=H></rect>
                                <rect class="allowed" x=x y=H - ha width=w height=ha></rect>
                                <rect class="denied" x=x y=H - ha - hd width=w height=hd></rect>
                            </g>
                        }
                    }).collect_view())}
                </svg>
                <div class="chart-axis" aria-hidden="true">
                    <span>{first}</span><span>{middle}</span><span>{last}</span>
                </div>
            </div>
            <p class="chart-readout" id="chart-readout" aria-live="polite">{readout}</p>
            <details class="chart-table">
                <summary>"Show the figures as a table"</summary>
                <div class="table-wrap" tabindex="0" role="region" aria-label=format!("{title}, as a table")>
                    <table class="table">
                        <caption class="sr-only">{title}</caption>
                        <thead><tr>
                            <th scope="col">{if hourly { "Hour" } else { "Day" }}</th>
                            <th scope="col" class="num">"Allowed"</th>
                            <th scope="col" class="num">"Denied"</th>
                        </tr></thead>
                        <tbody>
                            {points.with_value(|ps| ps.iter().map(|p| view! {
                                <tr><td class="date" data-label=if hourly { "Hour" } else { "Day" }>{p.label.clone()}</td><td class="num" data-label="Allowed">{p.allowed}</td><td class="num" data-label="Denied">{p.denied}</td></tr>
                            }).collect_view())}
                        </tbody>
                    </table>
                </div>
            </details>
        </section>
    }
}

#[component]
fn MemberTable(
    report_members: Vec<crate::model::usage::MemberUsage>,
    q: UsageQuery,
) -> impl IntoView {
    let sort = if q.sort.is_empty() {
        "calls".to_owned()
    } else {
        q.sort.clone()
    };
    let header = |key: &'static str, label: &'static str| {
        let active = sort == key;
        let href = q.href(&[("sort", key)]);
        view! {
            <th scope="col" class:num=key == "calls" || key == "denied"
                aria-sort=if active { if key == "name" { "ascending" } else { "descending" } } else { "none" }>
                <A href=href attr:class="sort" attr:id=format!("usage-sort-{key}")>{label}<span class="sort-mark" aria-hidden="true">{if active { "▼" } else { "" }}</span></A>
            </th>
        }
    };
    let headers = MEMBER_SORTS.map(|(k, l)| header(k, l));
    let [calls_h, denied_h, name_h, last_h] = headers;
    view! {
        <div class="table-wrap">
            <table class="table" id="usage-members">
                <caption class="sr-only">"Calls per member"</caption>
                <thead><tr>
                    {name_h}{calls_h}{denied_h}
                    <th scope="col" class="num">"Share"</th>
                    {last_h}
                    <th scope="col">"Top feature"</th>
                </tr></thead>
                <tbody>
                    {report_members.into_iter().map(|m| {
                        let href = q.href(&[("member", &m.user_id.to_string())]);
                        view! {
                            <tr>
                                <td data-label="Member">
                                    <A href=href attr:class="member-link" attr:id=format!("usage-member-{}", m.user_id)>{m.name}</A>
                                    <span class="cell-sub email">{m.email}</span>
                                </td>
                                <td class="num" data-label="Calls">{m.calls}</td>
                                <td class="num" data-label="Denied">{m.denied}</td>
                                <td class="num" data-label="Share">{m.share}</td>
                                <td class="date" data-label="Last call">{m.last_call}</td>
                                <td data-label="Top feature">{m.top_feature}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn Breakdown(
    title: &'static str,
    column: &'static str,
    id: &'static str,
    slices: Vec<Slice>,
) -> impl IntoView {
    let heading = format!("{id}-h");
    view! {
        <section class="card breakdown" aria-labelledby=heading.clone()>
            <h2 id=heading.clone()>{title}</h2>
            <table class="table compact" id=format!("usage-{id}")>
                <thead><tr>
                    <th scope="col">{column}</th>
                    <th scope="col" class="num">"Calls"</th>
                    <th scope="col" class="num">"Share"</th>
                </tr></thead>
                <tbody>
                    {slices.into_iter().map(|s| view! {
                        <tr>
                            <td>{s.label}</td>
                            <td class="num">{s.calls}</td>
                            <td class="num">{s.share}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}
