//! The Team page: members and invitations, seat usage, and what Owner and Admins may do.

mod dialogs;
mod invitation;

pub use invitation::InvitationPage;

use crate::api::team::{
    cancel_invitation, change_member, invite_link, leave_organization, resend_invitation,
    team_members,
};
use crate::authz::{Access, Feature, Level, can};
use crate::components::{
    ActionMenu, Frame, KeyActions, KeyDialogs, KeyMeta, RefreshAsk, go_to, toaster,
};
use crate::error::AppError;
use crate::model::team::{
    Cursor, MemberAction, PAGE_SIZE, Role, RoleOption, RowKind, RowRef, SortKey, Status, Target,
    TeamPage, TeamRow, format_date, may_act,
};
use dialogs::{BulkInviteDialog, ConfirmDialog, EditDialog, InviteDialog, LinkDialog};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_navigate, use_query_map};
use std::future::Future;

#[component]
pub fn TeamPage() -> impl IntoView {
    view! {
        <Title text="Team · Roster"/>
        <Frame>
            <Team/>
        </Frame>
    }
}

/// A change that asks for confirmation first.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Pending {
    Member {
        user_id: i64,
        name: String,
        action: MemberAction,
    },
    Cancel {
        id: i64,
        email: String,
    },
    Leave,
}

/// The page's shared state, handed to rows and dialogs.
#[derive(Clone, Copy)]
pub(crate) struct TeamCtx {
    refresh: RwSignal<u64>,
    busy: RwSignal<bool>,
    invite_open: RwSignal<bool>,
    bulk_open: RwSignal<bool>,
    confirm_open: RwSignal<bool>,
    confirming: RwSignal<Option<Pending>>,
    edit_open: RwSignal<bool>,
    editing: RwSignal<Option<TeamRow>>,
    link_open: RwSignal<bool>,
    link: RwSignal<Option<String>>,
    /// "Copy API Key" and "Refresh".
    keys: KeyActions,
    /// The organization's roles, from the last list the server sent.
    roles: RwSignal<Vec<RoleOption>>,
}

impl TeamCtx {
    pub(crate) fn reload(self) {
        self.refresh.try_update(|v| *v += 1);
    }

    /// Runs a call, shows how it went as a toast, and reloads the list.
    pub(crate) fn run<F>(self, call: F, done: String)
    where
        F: Future<Output = Result<(), AppError>> + 'static,
    {
        let toasts = toaster();
        self.busy.set(true);
        leptos::task::spawn_local(async move {
            match call.await {
                Ok(()) => toasts.show(done),
                Err(e) => toasts.show(e.to_string()),
            }
            self.busy.try_set(false);
            self.reload();
        });
    }

    fn confirm(self, pending: Pending) {
        self.confirming.set(Some(pending));
        self.confirm_open.set(true);
    }
}

/// The longest a page waits before reloading for a live update, in milliseconds, unless the
/// update says to spread the reloads over a longer time (many pages are open).
#[cfg(feature = "hydrate")]
const LIVE_JITTER_MS: f64 = 400.0;

/// The longest spread a page takes from an update (the server's longest interval).
#[cfg(feature = "hydrate")]
const LIVE_SPREAD_MAX_MS: f64 = 15_000.0;

/// The list is drawn anew when it is read again (after an action, a live update, paging), and
/// the element that had focus in it goes with it. This remembers the last focused element of
/// the list (a row's menu button, a sort button and the pager's have ids) and, when a new list
/// lost the focus to the page, gives it to that element's successor. Focus the person moves to
/// something outside the list is theirs: it is forgotten then, unless it went to a dialog,
/// which returns it. Returns
/// the list's `focusin` and `focusout` handlers.
fn keep_focus_across_reloads(
    data: Resource<Result<TeamPage, AppError>>,
) -> (
    impl Fn(leptos::ev::FocusEvent) + Copy + 'static,
    impl Fn(leptos::ev::FocusEvent) + Copy + 'static,
) {
    let last = StoredValue::new(None::<String>);
    #[cfg(feature = "hydrate")]
    Effect::new(move || {
        data.track();
        request_animation_frame(move || {
            let lost = document()
                .active_element()
                .is_none_or(|a| a.tag_name().eq_ignore_ascii_case("body"));
            if !lost {
                return;
            }
            // The page may have gone meanwhile.
            let again = last
                .try_get_value()
                .flatten()
                .and_then(|id| document().get_element_by_id(&id))
                .and_then(|e| {
                    leptos::wasm_bindgen::JsCast::dyn_into::<leptos::web_sys::HtmlElement>(e).ok()
                });
            if let Some(e) = again {
                let _ = e.focus();
            }
        });
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = data;
    let focus_in = move |ev: leptos::ev::FocusEvent| {
        #[cfg(feature = "hydrate")]
        {
            // An element without an id has no successor to find: nothing is restored then.
            let id = ev
                .target()
                .and_then(|t| {
                    leptos::wasm_bindgen::JsCast::dyn_into::<leptos::web_sys::Element>(t).ok()
                })
                .map(|e| e.id())
                .filter(|id| !id.is_empty());
            last.set_value(id);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (ev, last);
    };
    let focus_out = move |ev: leptos::ev::FocusEvent| {
        #[cfg(feature = "hydrate")]
        {
            use leptos::wasm_bindgen::JsCast;
            let node = |t: Option<leptos::web_sys::EventTarget>| {
                t.and_then(|t| t.dyn_into::<leptos::web_sys::Node>().ok())
            };
            // A dialog a row's action opened gives focus back to the list when it closes.
            let in_dialog = |to: &leptos::web_sys::Node| {
                to.dyn_ref::<leptos::web_sys::Element>()
                    .and_then(|e| e.closest("dialog").ok().flatten())
                    .is_some()
            };
            // Focus moved to something outside the list. (Focus that goes to nothing stays
            // remembered: the element was removed or disabled, as when the list is drawn
            // anew or an action runs.)
            if let (Some(to), Some(list)) = (node(ev.related_target()), node(ev.current_target()))
                && !list.contains(Some(&to))
                && !in_dialog(&to)
            {
                last.set_value(None);
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (ev, last);
    };
    (focus_in, focus_out)
}

/// Reloads the list when the server says this organization's team is at a newer version than
/// the one the page shows (or that changes may have been missed: "resync").
fn live_updates(ctx: TeamCtx, shown: impl Fn() -> Option<i64> + 'static) {
    #[cfg(feature = "hydrate")]
    {
        use leptos::wasm_bindgen::{JsCast, closure::Closure};
        let Ok(source) = web_sys::EventSource::new("/events") else {
            return;
        };
        // A reload waits a random moment (up to `LIVE_JITTER_MS`, or the time the server says
        // to spread the reloads of all open pages over), so the open pages of a team do not all
        // ask at once; updates heard meanwhile join it, and it is skipped when the list caught
        // up meanwhile (the page's own change reloads it as well). An update is "<version>
        // <spread in ms>", or "resync <spread>" when changes may have been missed.
        let shown = std::rc::Rc::new(shown);
        let waiting = std::rc::Rc::new(std::cell::Cell::new(false));
        // The newest version announced; `i64::MAX` after a "resync" (always behind).
        let announced = std::rc::Rc::new(std::cell::Cell::new(0i64));
        let on_team =
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
                let data = ev.data().as_string().unwrap_or_default();
                let mut parts = data.split(' ');
                let version = parts
                    .next()
                    .and_then(|v| v.parse::<i64>().ok())
                    .unwrap_or(i64::MAX);
                let spread = parts
                    .next()
                    .and_then(|s| s.parse::<u32>().ok())
                    .map_or(LIVE_JITTER_MS, |s| {
                        f64::from(s).clamp(LIVE_JITTER_MS, LIVE_SPREAD_MAX_MS)
                    });
                announced.set(announced.get().max(version));
                // Nothing shown yet: the list is on its way anyway.
                let behind = |shown: &dyn Fn() -> Option<i64>, announced: i64| {
                    shown().is_some_and(|v| announced > v)
                };
                if behind(&*shown, announced.get()) && !waiting.replace(true) {
                    let (waiting, announced, shown) =
                        (waiting.clone(), announced.clone(), shown.clone());
                    let wait = (web_sys::js_sys::Math::random() * spread) as u64;
                    set_timeout(
                        move || {
                            waiting.set(false);
                            if behind(&*shown, announced.get()) {
                                if announced.get() == i64::MAX {
                                    announced.set(0);
                                }
                                ctx.reload();
                            }
                        },
                        std::time::Duration::from_millis(wait),
                    );
                }
            });
        let _ = source.add_event_listener_with_callback("team", on_team.as_ref().unchecked_ref());
        // Each connection's first event names the version now, so a page that missed changes
        // while connecting (or while its connection was down) reloads.
        let held = send_wrapper::SendWrapper::new((source, on_team));
        on_cleanup(move || held.0.close());
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (ctx, shown);
}

#[component]
fn Team() -> impl IntoView {
    let refresh = RwSignal::new(0);
    let ctx = TeamCtx {
        refresh,
        busy: RwSignal::new(false),
        invite_open: RwSignal::new(false),
        bulk_open: RwSignal::new(false),
        confirm_open: RwSignal::new(false),
        confirming: RwSignal::new(None),
        edit_open: RwSignal::new(false),
        editing: RwSignal::new(None),
        link_open: RwSignal::new(false),
        roles: RwSignal::new(Vec::new()),
        link: RwSignal::new(None),
        keys: KeyActions::new(refresh),
    };
    // What the list shows lives in the address (?q=&role=&status=&sort=&order=&page=&at=),
    // so a reload, a shared link or the back button shows the same view. `at` is the row
    // "Next" or "Previous" came from (`Cursor`), so a deep page costs no more than the first.
    let query = use_query_map();
    let navigate = StoredValue::new(use_navigate());
    let param = move |key: &str| query.with(|q| q.get(key).unwrap_or_default());
    let search = Memo::new(move |_| param("q"));
    let role = Memo::new(move |_| param("role"));
    let status = Memo::new(move |_| param("status"));
    let sort = Memo::new(move |_| SortKey::parse(&param("sort")).unwrap_or_default());
    let descending = Memo::new(move |_| param("order") == "desc");
    let page = Memo::new(move |_| {
        param("page")
            .parse::<i64>()
            .ok()
            .filter(|p| *p >= 1)
            .unwrap_or(1)
    });
    let at = Memo::new(move |_| param("at"));
    // Every change but paging starts again at page 1.
    let set_view = move |changes: &[(&str, String)], replace: bool| {
        let current = [
            ("q", search.get_untracked()),
            ("role", role.get_untracked()),
            ("status", status.get_untracked()),
            ("sort", param("sort")),
            ("order", param("order")),
            ("page", String::new()),
            ("at", String::new()),
        ];
        let pairs: Vec<String> = current
            .into_iter()
            .map(|(k, v)| {
                let v = changes
                    .iter()
                    .find(|(c, _)| *c == k)
                    .map(|(_, v)| v.clone())
                    .unwrap_or(v);
                (k, v)
            })
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={}", encode(&v)))
            .collect();
        let url = if pairs.is_empty() {
            "/team".to_owned()
        } else {
            format!("/team?{}", pairs.join("&"))
        };
        let options = NavigateOptions {
            replace,
            scroll: false,
            ..Default::default()
        };
        navigate.with_value(|go| go(&url, options));
    };
    let typed = RwSignal::new(search.get_untracked());
    // The box follows the address when it changes by other means (back, "Clear filters").
    Effect::new(move || typed.set(search.get()));
    let data = Resource::new(
        move || {
            (
                search.get(),
                role.get(),
                status.get(),
                sort.get(),
                descending.get(),
                page.get(),
                at.get(),
                ctx.refresh.get(),
            )
        },
        |(search, role, status, sort, descending, page, at, _)| {
            team_members(
                search,
                role,
                status,
                sort.as_str().to_owned(),
                descending,
                page,
                at,
            )
        },
    );
    // The version of the list shown, read when an update arrives.
    live_updates(ctx, move || {
        data.with_untracked(|d| d.as_ref().and_then(|r| r.as_ref().ok()).map(|p| p.version))
    });
    Effect::new(move || {
        if let Some(Ok(p)) = data.get() {
            ctx.roles.set(p.roles);
        }
    });
    let on_search = move |ev: leptos::ev::Event| {
        let value = event_target_value(&ev);
        typed.set(value.clone());
        // Wait for a pause in typing before asking the server.
        set_timeout(
            move || {
                if typed.get_untracked() == value {
                    set_view(&[("q", value)], true);
                }
            },
            std::time::Duration::from_millis(250),
        );
    };
    let filtered =
        move || !typed.get().is_empty() || !role.get().is_empty() || !status.get().is_empty();
    let clear = move |_| {
        typed.set(String::new());
        set_view(
            &[
                ("q", String::new()),
                ("role", String::new()),
                ("status", String::new()),
            ],
            false,
        );
    };
    let sort_by = move |key: SortKey| {
        let order = if sort.get_untracked() == key {
            if descending.get_untracked() {
                "asc"
            } else {
                "desc"
            }
        } else if key == SortKey::Date {
            "desc"
        } else {
            "asc"
        };
        set_view(
            &[
                ("sort", key.as_str().to_owned()),
                ("order", order.to_owned()),
            ],
            false,
        );
    };
    let go_to_page = move |p: i64, from: Option<Cursor>| {
        let at = from.map(Cursor::as_param).unwrap_or_default();
        set_view(&[("page", p.to_string()), ("at", at)], false)
    };
    let (focus_in, focus_out) = keep_focus_across_reloads(data);
    view! {
        <Transition fallback=|| view! { <header class="page-header"><h1>"Team"</h1></header> }>
            {move || Suspend::new(async move {
                data.await.ok().map(|p| view! { <Header page=p ctx/> })
            })}
        </Transition>
        <div class="toolbar" role="search">
            <div class="field field-search">
                <label for="team-search">"Search"</label>
                <input id="team-search" type="search" placeholder="Search by name or email"
                    prop:value=move || typed.get() on:input=on_search/>
            </div>
            <div class="field">
                <label for="team-role">"Role"</label>
                <select id="team-role" prop:value=move || { ctx.roles.track(); role.get() }
                    on:change=move |ev| set_view(&[("role", event_target_value(&ev))], false)>
                    <option value="">"All roles"</option>
                    {move || ctx.roles.get().into_iter()
                        .map(|r| view! { <option value=r.role.key()>{r.name}</option> })
                        .collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="team-status">"Status"</label>
                <select id="team-status" prop:value=move || status.get()
                    on:change=move |ev| set_view(&[("status", event_target_value(&ev))], false)>
                    <option value="">"All statuses"</option>
                    {Status::ALL.map(|s| view! { <option value=s.as_str()>{s.label()}</option> }).collect_view()}
                </select>
            </div>
            <Show when=filtered>
                <button type="button" class="btn btn-secondary" on:click=clear>"Clear filters"</button>
            </Show>
        </div>
        <div class="team-list" on:focusin=focus_in on:focusout=focus_out>
        <Transition fallback=|| view! { <p class="loading">"Loading the team…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(p) => {
                        let total = p.total;
                        let first = p.rows.first().map(TeamRow::row_ref);
                        let last = p.rows.last().map(TeamRow::row_ref);
                        view! {
                            <Table page=p ctx sort=sort.into() descending=descending.into() sort_by filtered=Signal::derive(filtered)/>
                            <Pager total page=page.get_untracked() first last go=go_to_page/>
                        }.into_any()
                    }
                    Err(e) => view! {
                        <div class="banner banner-error" role="alert">{e.to_string()}</div>
                    }.into_any(),
                }
            })}
        </Transition>
        </div>
        <InviteDialog ctx/>
        <BulkInviteDialog ctx/>
        <EditDialog ctx/>
        <ConfirmDialog ctx/>
        <LinkDialog ctx/>
        <KeyDialogs actions=ctx.keys/>
    }
}

#[component]
fn Header(page: TeamPage, ctx: TeamCtx) -> impl IntoView {
    let seats = page.seats;
    let manager = can(&page.viewer, Feature::TeamManagement, Level::Edit, None);
    let full = seats.full();
    view! {
        <header class="page-header">
            <div class="title-group">
                <h1>"Team"</h1>
                <p class="seats" class:seats-warn=seats.nearly_full()>
                    <progress class="seat-bar" aria-hidden="true" max=seats.limit.max(1) value=seats.used.min(seats.limit)></progress>
                    {format!("{}/{} seats", seats.used, seats.limit)}
                </p>
            </div>
            <Show when=move || manager>
                <div class="header-actions">
                    <button type="button" class="btn btn-primary" disabled=full
                        on:click=move |_| ctx.invite_open.set(true)>"Invite User"</button>
                    <button type="button" class="btn btn-secondary" disabled=full
                        on:click=move |_| ctx.bulk_open.set(true)>"Bulk Invite"</button>
                </div>
            </Show>
        </header>
        <Show when=move || manager && full>
            <div class="banner banner-warning" role="status">
                {format!("Your organization has used all {} seats. ", seats.limit)}
                <a href="/billing">"Upgrade"</a>
                " to invite more people."
            </div>
        </Show>
    }
}

#[component]
fn SortHeader(
    key: SortKey,
    label: &'static str,
    sort: Signal<SortKey>,
    descending: Signal<bool>,
    sort_by: impl Fn(SortKey) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let state = move || {
        if sort.get() != key {
            "none"
        } else if descending.get() {
            "descending"
        } else {
            "ascending"
        }
    };
    view! {
        <th scope="col" aria-sort=state>
            <button type="button" id=format!("sort-{}", key.as_str()) class="sort" on:click=move |_| sort_by(key)>
                {label}
                <span class="sort-mark" aria-hidden="true">{move || match state() {
                    "ascending" => "▲",
                    "descending" => "▼",
                    _ => "",
                }}</span>
            </button>
        </th>
    }
}

#[component]
fn Table(
    page: TeamPage,
    ctx: TeamCtx,
    sort: Signal<SortKey>,
    descending: Signal<bool>,
    sort_by: impl Fn(SortKey) + Copy + Send + Sync + 'static,
    filtered: Signal<bool>,
) -> impl IntoView {
    if page.rows.is_empty() {
        let text = if filtered.get_untracked() {
            "Nobody matches these filters."
        } else {
            "Nobody is on this page."
        };
        return view! { <div class="empty card"><p>{text}</p></div> }.into_any();
    }
    let viewer = page.viewer;
    let roles = page.roles;
    let cooldown = page.resend_cooldown_ms;
    let rows = page
        .rows
        .into_iter()
        .map(|row| {
            // The rules the server applies: act on members whose role the viewer covers,
            // and on invitations whose role the viewer may give.
            let option = roles.iter().find(|r| r.role == row.role);
            let covered = match row.kind {
                RowKind::Member => option.is_some_and(|r| r.outranked),
                RowKind::Invitation => option.is_some_and(|r| r.assignable),
            };
            let resend_at = row.date + cooldown;
            view! { <Row row viewer=viewer.clone() covered resend_at ctx/> }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="table">
                <caption class="sr-only">"Members and invitations"</caption>
                <thead>
                    <tr>
                        <SortHeader key=SortKey::Name label="Name" sort descending sort_by/>
                        <SortHeader key=SortKey::Email label="Email" sort descending sort_by/>
                        <SortHeader key=SortKey::Role label="Role" sort descending sort_by/>
                        <SortHeader key=SortKey::Status label="Status" sort descending sort_by/>
                        <SortHeader key=SortKey::Date label="Joined" sort descending sort_by/>
                        <th scope="col">"Actions"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn Row(
    row: TeamRow,
    viewer: Access,
    covered: bool,
    /// When an invitation may be sent again (Unix milliseconds).
    resend_at: i64,
    ctx: TeamCtx,
) -> impl IntoView {
    let name = row.name();
    let shown_name = if name.trim().is_empty() {
        "—".to_owned()
    } else {
        name.clone()
    };
    let date = match row.kind {
        RowKind::Member => format_date(row.date),
        RowKind::Invitation => format!("Invited {}", format_date(row.date)),
    };
    let status_class = format!("badge badge-{}", row.status.as_str());
    // At most one action beside the menu: "Resend Invitation", which shows its cool-down.
    // The menu's items are made when it opens: a page of 50 rows then renders 50 buttons, not
    // 300 hidden ones.
    let (primary, items) = match row.kind {
        RowKind::Member => (None, member_items(&row, &viewer, covered)),
        RowKind::Invitation if covered => (
            Some(resend_button(&row, resend_at, ctx)),
            invitation_items(&row),
        ),
        RowKind::Invitation => (None, Vec::new()),
    };
    let kind = match row.kind {
        RowKind::Member => "member",
        RowKind::Invitation => "invitation",
    };
    let menu = (!items.is_empty()).then(|| {
        let who = if name.trim().is_empty() {
            row.email.clone()
        } else {
            name.clone()
        };
        let id = format!("{kind}-{}-actions", row.id);
        let row = row.clone();
        view! {
            <ActionMenu id label=format!("Actions for {who}")>
                {items.iter().map(|item| menu_item(*item, &row, ctx)).collect_view()}
            </ActionMenu>
        }
    });
    // "Usage": the member's calls, for those who may read them.
    let usage = (row.kind == RowKind::Member
        && can(&viewer, Feature::Analytics, Level::View, None))
    .then(|| {
        let who = if name.trim().is_empty() {
            row.email.clone()
        } else {
            name.clone()
        };
        view! {
            <a class="btn btn-ghost btn-small" href=format!("/usage?member={}", row.id)
                aria-label=format!("Usage of {who}")>"Usage"</a>
        }
    });
    view! {
        <tr>
            <td data-label="Name">
                <span>
                    {shown_name}
                    {row.is_self.then(|| view! { <span class="you">" (you)"</span> })}
                </span>
            </td>
            <td data-label="Email" class="email">
                <div>
                    {row.email.clone()}
                    {row.key.clone().map(|key| view! { <KeyMeta key/> })}
                </div>
            </td>
            <td data-label="Role">{row.role_name.clone()}</td>
            <td data-label="Status"><span class=status_class>{row.status.label()}</span></td>
            <td data-label="Joined" class="date">{date}</td>
            <td data-label="Actions" class="actions"><div class="action-list">{primary}{usage}{menu}</div></td>
        </tr>
    }
}

/// An item of a row's actions menu.
#[derive(Clone, Copy)]
enum Item {
    CopyKey,
    RefreshKey,
    Member(MemberAction),
    Leave,
    CopyInviteLink,
    Cancel,
}

/// The menu items of the actions the viewer may take on a member: "Copy API Key" and
/// "Refresh" first, as the product docs list them (the server sends the key's details only to
/// viewers who may handle it), then the changes the viewer's role allows, then "Leave".
fn member_items(row: &TeamRow, viewer: &Access, outranked: bool) -> Vec<Item> {
    let mut items = Vec::new();
    if row.key.is_some() {
        items.extend([Item::CopyKey, Item::RefreshKey]);
    }
    let target = Target {
        is_self: row.is_self,
        role: row.role,
        status: row.status,
        outranked,
    };
    items.extend(
        MemberAction::ALL
            .into_iter()
            .filter(|a| may_act(viewer, target, *a))
            .map(Item::Member),
    );
    if row.is_self && row.role != Role::Owner {
        items.push(Item::Leave);
    }
    items
}

/// The menu items for an invitation whose role the viewer may give.
fn invitation_items(row: &TeamRow) -> Vec<Item> {
    let mut items = Vec::new();
    if row.status == Status::Pending {
        items.push(Item::CopyInviteLink);
    }
    items.push(Item::Cancel);
    items
}

/// One menu item's button.
fn menu_item(item: Item, row: &TeamRow, ctx: TeamCtx) -> AnyView {
    let (user_id, name) = (row.id, row.name());
    let busy = move || ctx.busy.get() || ctx.keys.busy();
    let (label, danger): (&'static str, bool) = match item {
        Item::CopyKey => ("Copy API Key", false),
        Item::RefreshKey => ("Refresh", false),
        Item::Member(action) => (
            action.label(),
            matches!(action, MemberAction::Remove | MemberAction::Revoke),
        ),
        Item::Leave => ("Leave", true),
        Item::CopyInviteLink => ("Copy invite link", false),
        Item::Cancel => ("Cancel", true),
    };
    let act: Box<dyn Fn() + Send + Sync> = match item {
        Item::CopyKey => Box::new(move || ctx.keys.copy(user_id)),
        Item::RefreshKey => {
            let ask = RefreshAsk {
                user_id,
                key_id: row.key.as_ref().map_or(0, |k| k.id),
                whose: if row.is_self {
                    "your".to_owned()
                } else {
                    format!("{name}'s")
                },
                prefix: row
                    .key
                    .as_ref()
                    .map(|k| k.prefix.clone())
                    .unwrap_or_default(),
            };
            Box::new(move || ctx.keys.refresh(ask.clone()))
        }
        Item::Member(MemberAction::Edit) => {
            let row = row.clone();
            Box::new(move || {
                ctx.editing.set(Some(row.clone()));
                ctx.edit_open.set(true);
            })
        }
        Item::Member(action @ (MemberAction::Revoke | MemberAction::Remove)) => {
            Box::new(move || {
                ctx.confirm(Pending::Member {
                    user_id,
                    name: name.clone(),
                    action,
                })
            })
        }
        Item::Member(action) => Box::new(move || {
            let done = match action {
                MemberAction::Promote => format!("{name} is now an Admin."),
                MemberAction::Demote => format!("{name} is now a Member."),
                _ => format!("{name} is active again."),
            };
            ctx.run(change_member(user_id, action.as_str().to_owned()), done);
        }),
        Item::Leave => Box::new(move || ctx.confirm(Pending::Leave)),
        Item::CopyInviteLink => Box::new(move || {
            let toasts = toaster();
            leptos::task::spawn_local(async move {
                match invite_link(user_id).await {
                    Ok(link) => {
                        ctx.link.set(Some(link));
                        ctx.link_open.set(true);
                    }
                    Err(e) => toasts.show(e.to_string()),
                }
            });
        }),
        Item::Cancel => {
            let email = row.email.clone();
            Box::new(move || {
                ctx.confirm(Pending::Cancel {
                    id: user_id,
                    email: email.clone(),
                })
            })
        }
    };
    let class = if danger {
        "menu-item danger"
    } else {
        "menu-item"
    };
    view! {
        <button type="button" role="menuitem" tabindex="-1" class=class disabled=busy
            on:click=move |_| act()>{label}</button>
    }
    .into_any()
}

/// "Resend Invitation" for an invitation whose role the viewer may give; it waits out the
/// resend cool-down after a send, which the server enforces too.
fn resend_button(row: &TeamRow, resend_at: i64, ctx: TeamCtx) -> AnyView {
    let busy = move || ctx.busy.get();
    let (id, email) = (row.id, row.email.clone());
    let cooling = RwSignal::new(resend_at > now_ms());
    #[cfg(feature = "hydrate")]
    if let Ok(wait) = u64::try_from(resend_at - now_ms()) {
        set_timeout(
            move || cooling.set(false),
            std::time::Duration::from_millis(wait),
        );
    }
    view! {
        <button type="button" class="btn btn-small btn-secondary" disabled=move || busy() || cooling.get()
            title=move || cooling.get().then_some("Sent moments ago: it can be sent again in a minute.")
            on:click=move |_| ctx.run(resend_invitation(id), format!("Invitation sent again to {email}."))>
            {move || if cooling.get() { "Resend Invitation (sent just now)" } else { "Resend Invitation" }}
        </button>
    }
    .into_any()
}

/// Does what a confirmed `Pending` change asks for.
pub(crate) fn carry_out(ctx: TeamCtx, pending: Pending) {
    match pending {
        Pending::Member {
            user_id,
            name,
            action,
        } => {
            let done = match action {
                MemberAction::Revoke => format!("{name} is disabled."),
                _ => format!("{name} was removed from the organization."),
            };
            ctx.run(change_member(user_id, action.as_str().to_owned()), done);
        }
        Pending::Cancel { id, email } => {
            ctx.run(
                cancel_invitation(id),
                format!("The invitation to {email} was cancelled."),
            );
        }
        Pending::Leave => {
            let toasts = toaster();
            leptos::task::spawn_local(async move {
                match leave_organization().await {
                    Ok(()) => go_to("/sign-in"),
                    Err(e) => toasts.show(e.to_string()),
                }
            });
        }
    }
}

#[component]
fn Pager(
    total: i64,
    page: i64,
    /// The page's first and last rows: "Previous" reads up to the first, "Next" on from the last.
    first: Option<RowRef>,
    last: Option<RowRef>,
    go: impl Fn(i64, Option<Cursor>) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let range = if total == 0 {
        "No results".to_owned()
    } else if (page - 1) * PAGE_SIZE >= total {
        format!("Past the last page of {total}")
    } else {
        let first = (page - 1) * PAGE_SIZE + 1;
        let last = (page * PAGE_SIZE).min(total);
        format!("{first}–{last} of {total}")
    };
    view! {
        <nav class="pager" aria-label="Pages">
            <button type="button" id="page-previous" class="btn btn-secondary" disabled={ page <= 1 }
                on:click=move |_| go(page - 1, first.map(Cursor::Before))>"Previous"</button>
            <span>{range} " · Page " {page} " of " {pages}</span>
            <button type="button" id="page-next" class="btn btn-secondary" disabled={ page >= pages }
                on:click=move |_| go(page + 1, last.map(Cursor::After))>"Next"</button>
        </nav>
    }
}

/// The time now, in Unix milliseconds (the browser's clock once hydrated).
fn now_ms() -> i64 {
    #[cfg(feature = "hydrate")]
    {
        web_sys::js_sys::Date::now() as i64
    }
    #[cfg(not(feature = "hydrate"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    }
}

/// Percent-encodes a query value (everything but letters, digits and `-_.~`).
pub(super) fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
