//! "Copy API Key" and "Refresh", as the Team page and Profile offer them: the copy goes to
//! the clipboard with a toast, or, where the browser does not allow that, into a dialog
//! that shows the key selectable; "Refresh" first asks how long the old key keeps working.

use crate::api::team::{copy_api_key, refresh_api_key};
use crate::components::{Dialog, toaster};
use crate::model::team::{KeyGrace, KeyView, format_time};
use leptos::prelude::*;

/// What "Refresh" is about to do.
#[derive(Clone, Debug)]
pub struct RefreshAsk {
    pub user_id: i64,
    pub key_id: i64,
    /// "Grace Hopper's" or "your".
    pub whose: String,
    pub prefix: String,
}

/// The state the key dialogs share with the page that opens them.
#[derive(Clone, Copy)]
pub struct KeyActions {
    /// Bumped after a refresh, so the page reads its data again.
    changed: RwSignal<u64>,
    busy: RwSignal<bool>,
    shown: RwSignal<Option<String>>,
    shown_open: RwSignal<bool>,
    asking: RwSignal<Option<RefreshAsk>>,
    ask_open: RwSignal<bool>,
}

impl KeyActions {
    pub fn new(changed: RwSignal<u64>) -> Self {
        Self {
            changed,
            busy: RwSignal::new(false),
            shown: RwSignal::new(None),
            shown_open: RwSignal::new(false),
            asking: RwSignal::new(None),
            ask_open: RwSignal::new(false),
        }
    }

    pub fn busy(self) -> bool {
        self.busy.get()
    }

    /// "Copy API Key" on `user_id`'s key.
    pub fn copy(self, user_id: i64) {
        let toasts = toaster();
        self.busy.set(true);
        leptos::task::spawn_local(async move {
            match copy_api_key(user_id).await {
                Ok(key) => {
                    if write_clipboard(&key).await {
                        toasts.show("API key copied");
                    } else {
                        self.shown.set(Some(key));
                        self.shown_open.set(true);
                    }
                }
                Err(e) => toasts.show(e.to_string()),
            }
            self.busy.set(false);
        });
    }

    /// "Refresh": asks first.
    pub fn refresh(self, ask: RefreshAsk) {
        self.asking.set(Some(ask));
        self.ask_open.set(true);
    }
}

/// Puts `text` on the clipboard; false where the browser has no clipboard for the page (a
/// page not served over HTTPS) or refuses.
async fn write_clipboard(text: &str) -> bool {
    #[cfg(feature = "hydrate")]
    {
        use leptos::wasm_bindgen::JsValue;
        let navigator = window().navigator();
        let available = web_sys::js_sys::Reflect::get(&navigator, &JsValue::from_str("clipboard"))
            .is_ok_and(|c| !c.is_undefined() && !c.is_null());
        if !available {
            return false;
        }
        let written = navigator.clipboard().write_text(text);
        wasm_bindgen_futures::JsFuture::from(written).await.is_ok()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = text;
        false
    }
}

/// The key's first characters, when it was last used, and the replaced key while it works.
#[component]
pub fn KeyMeta(key: KeyView) -> impl IntoView {
    let used = |at: Option<i64>| match at {
        Some(at) => format!("last used {}", format_time(at)),
        None => "never used".to_owned(),
    };
    let previous = key.previous.map(|p| {
        view! {
            <span class="key-meta key-old">
                "Old key " <code>{format!("{}…", p.prefix)}</code>
                " works until " {format_time(p.ends_at)} " · " {used(p.last_used_at)}
            </span>
        }
    });
    view! {
        <span class="key-meta">
            "API key " <code>{format!("{}…", key.prefix)}</code> " · " {used(key.last_used_at)}
        </span>
        {previous}
    }
}

/// The dialogs: the key shown where it could not be copied, and Refresh's question.
#[component]
pub fn KeyDialogs(actions: KeyActions) -> impl IntoView {
    let grace = RwSignal::new(KeyGrace::Immediately);
    let confirm = move |_| {
        let Some(ask) = actions.asking.get_untracked() else {
            return;
        };
        actions.ask_open.set(false);
        let chosen = grace.get_untracked();
        let toasts = toaster();
        actions.busy.set(true);
        leptos::task::spawn_local(async move {
            let asked = refresh_api_key(ask.user_id, ask.key_id, chosen.as_str().to_owned());
            match asked.await {
                Ok(()) => {
                    let old = match chosen {
                        KeyGrace::Immediately => "The old key stopped working.".to_owned(),
                        other => format!("The old key works for {} more.", other.label()),
                    };
                    toasts.show(format!("New API key made. {old}"));
                    actions.changed.try_update(|v| *v += 1);
                }
                Err(e) => toasts.show(e.to_string()),
            }
            actions.busy.set(false);
        });
    };
    // The key leaves the page's memory once its dialog closes.
    Effect::new(move || {
        if !actions.shown_open.get() {
            actions.shown.set(None);
        }
    });
    let option = move |g: KeyGrace| {
        let id = format!("grace-{}", g.as_str());
        view! {
            <label class="choice">
                <input type="radio" id=id name="grace" value=g.as_str()
                    prop:checked=move || grace.get() == g on:change=move |_| grace.set(g)/>
                {g.label()}
            </label>
        }
    };
    let title = Signal::derive(move || {
        actions
            .asking
            .get()
            .map(|a| format!("Refresh {} API key?", a.whose))
            .unwrap_or_default()
    });
    view! {
        <Dialog open=actions.ask_open id="refresh-dialog" title>
            <p>{move || actions.asking.get().map(|a| format!(
                "A new key replaces {}… now. Whoever uses the old key needs the new one.", a.prefix))}</p>
            <fieldset class="choices">
                <legend>"Old key keeps working"</legend>
                {KeyGrace::ALL.into_iter().map(option).collect_view()}
            </fieldset>
            <div class="dialog-actions">
                <button type="button" class="btn btn-secondary" on:click=move |_| actions.ask_open.set(false)>"Go Back"</button>
                <button type="button" class="btn btn-danger" on:click=confirm>"Refresh"</button>
            </div>
        </Dialog>
        <Dialog open=actions.shown_open id="key-dialog" title="API key">
            <div class="form">
                <div class="field">
                    <label for="api-key">"API key"</label>
                    <input id="api-key" type="text" readonly=true aria-describedby="api-key-hint" class="mono"
                        prop:value=move || actions.shown.get().unwrap_or_default()
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
                    <p class="hint" id="api-key-hint">
                        "This browser does not let the page copy: select the key and copy it. Deliver it only to its member; it is a password for the API."
                    </p>
                </div>
                <div class="dialog-actions">
                    <button type="button" class="btn btn-primary" on:click=move |_| actions.shown_open.set(false)>"Done"</button>
                </div>
            </div>
        </Dialog>
    }
}
