use leptos::prelude::*;

/// A modal dialog on the native `<dialog>` element: focus stays inside while it is open,
/// Esc closes it, and focus returns to what opened it. Its content is built afresh each
/// time it opens, so forms start clean.
#[component]
pub fn Dialog(
    open: RwSignal<bool>,
    /// Unique on the page; names the title for assistive technology.
    id: &'static str,
    #[prop(into)] title: Signal<String>,
    children: ChildrenFn,
) -> impl IntoView {
    let node = NodeRef::<leptos::html::Dialog>::new();
    Effect::new(move || {
        let want = open.get();
        #[cfg(feature = "hydrate")]
        if let Some(d) = node.get() {
            if want && !d.open() {
                focus_menu_button();
                let _ = d.show_modal();
            } else if !want && d.open() {
                d.close();
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = want;
    });
    let title_id = format!("{id}-title");
    let labelled_by = title_id.clone();
    let children = StoredValue::new(children);
    view! {
        <dialog node_ref=node id=id class="dialog" aria-labelledby=labelled_by on:close=move |_| open.set(false)>
            <div class="dialog-header">
                <h2 id=title_id>{move || title.get()}</h2>
                <button type="button" class="btn-icon" aria-label="Close" on:click=move |_| open.set(false)>"×"</button>
            </div>
            <Show when=move || open.get()>{children.read_value()()}</Show>
        </dialog>
    }
}

/// A dialog opened from an actions menu would give focus back to the chosen item, which is
/// gone with the menu: focus moves to the menu's button first, so the dialog returns it there.
/// (This effect can run between the item's click handler and the menu's, which does the same.)
#[cfg(feature = "hydrate")]
fn focus_menu_button() {
    use leptos::wasm_bindgen::JsCast;
    let button = document()
        .active_element()
        .and_then(|item| item.closest("[role=menu]").ok().flatten())
        .and_then(|menu| menu.get_attribute("aria-labelledby"))
        .and_then(|id| document().get_element_by_id(&id))
        .and_then(|b| b.dyn_into::<leptos::web_sys::HtmlElement>().ok());
    if let Some(b) = button {
        let _ = b.focus();
    }
}
