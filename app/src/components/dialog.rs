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
