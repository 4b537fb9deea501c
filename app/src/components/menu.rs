use leptos::prelude::*;

/// A menu button (the WAI-ARIA menu button pattern): the button opens a list of actions.
/// Enter, Space or Down opens it on the first action and Up on the last; Up, Down, Home and
/// End move between actions; Esc or a choice closes it and gives focus back to the button; Tab
/// or a click elsewhere closes it. Each child is a `<button role="menuitem" tabindex="-1">`.
#[component]
pub fn ActionMenu(
    /// Unique on the page.
    id: String,
    /// The accessible name, e.g. "Actions for Grace Hopper"; the button shows "Actions".
    label: String,
    /// The items, made each time the menu opens (a closed menu holds none).
    children: ChildrenFn,
) -> impl IntoView {
    let open = RwSignal::new(false);
    let button = NodeRef::<leptos::html::Button>::new();
    let list = NodeRef::<leptos::html::Div>::new();
    let menu_id = format!("{id}-menu");
    let button_id = format!("{id}-button");
    #[cfg(feature = "hydrate")]
    let show = move |at: Focus| {
        open.set(true);
        // The list is shown when the page next updates; focus moves after that.
        request_animation_frame(move || focus_item(list, at));
    };
    #[cfg(feature = "hydrate")]
    let hide = move |refocus: bool| {
        open.set(false);
        if refocus && let Some(b) = button.get_untracked() {
            let _ = b.focus();
        }
    };
    let on_button_key = move |ev: leptos::ev::KeyboardEvent| {
        #[cfg(feature = "hydrate")]
        {
            let at = match ev.key().as_str() {
                "Enter" | " " | "ArrowDown" => Focus::First,
                "ArrowUp" => Focus::Last,
                _ => return,
            };
            ev.prevent_default();
            show(at);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = ev;
    };
    let on_button_click = move |_| {
        #[cfg(feature = "hydrate")]
        if open.get_untracked() {
            hide(false);
        } else {
            show(Focus::First);
        }
    };
    let on_list_key = move |ev: leptos::ev::KeyboardEvent| {
        #[cfg(feature = "hydrate")]
        {
            let at = match ev.key().as_str() {
                "ArrowDown" => Focus::Next,
                "ArrowUp" => Focus::Previous,
                "Home" => Focus::First,
                "End" => Focus::Last,
                "Escape" => {
                    ev.prevent_default();
                    hide(true);
                    return;
                }
                "Tab" => {
                    hide(false);
                    return;
                }
                _ => return,
            };
            ev.prevent_default();
            focus_item(list, at);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = ev;
    };
    // A choice closes the menu and gives focus back to the button (the chosen item is gone
    // with the list); a dialog the choice opens takes it from there and returns it on close.
    let on_choice = move |_| {
        #[cfg(feature = "hydrate")]
        hide(true);
        #[cfg(not(feature = "hydrate"))]
        open.set(false);
    };
    // Focus leaving the button and the list (a click elsewhere, or Tab) closes the menu.
    let on_focus_out = move |ev: leptos::ev::FocusEvent| {
        #[cfg(feature = "hydrate")]
        {
            use leptos::wasm_bindgen::JsCast;
            let inside = ev
                .related_target()
                .and_then(|t| t.dyn_into::<leptos::web_sys::Node>().ok())
                .zip(
                    ev.current_target()
                        .and_then(|t| t.dyn_into::<leptos::web_sys::Node>().ok()),
                )
                .is_some_and(|(to, menu)| menu.contains(Some(&to)));
            if !inside {
                open.set(false);
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = ev;
    };
    view! {
        <div class="menu" on:focusout=on_focus_out>
            <button type="button" id=button_id.clone() class="btn btn-small btn-secondary menu-button"
                aria-label=label aria-haspopup="menu" aria-controls=menu_id.clone()
                aria-expanded=move || open.get().to_string()
                node_ref=button on:click=on_button_click on:keydown=on_button_key>
                "Actions" <span aria-hidden="true" class="menu-caret">"▾"</span>
            </button>
            <div role="menu" id=menu_id aria-labelledby=button_id class="menu-list" node_ref=list
                hidden=move || !open.get() on:keydown=on_list_key
                on:click=on_choice>
                {move || open.get().then(|| children())}
            </div>
        </div>
    }
}

#[cfg(feature = "hydrate")]
#[derive(Clone, Copy)]
enum Focus {
    First,
    Last,
    Next,
    Previous,
}

/// Moves focus to an enabled action of the open menu.
#[cfg(feature = "hydrate")]
fn focus_item(list: NodeRef<leptos::html::Div>, at: Focus) {
    use leptos::wasm_bindgen::JsCast;
    let Some(list) = list.get_untracked() else {
        return;
    };
    let mut items: Vec<leptos::web_sys::HtmlElement> = Vec::new();
    let mut next = list.first_element_child();
    while let Some(el) = next {
        next = el.next_element_sibling();
        let enabled_item = el.get_attribute("role").as_deref() == Some("menuitem")
            && !el.has_attribute("disabled");
        if enabled_item && let Ok(item) = el.dyn_into() {
            items.push(item);
        }
    }
    if items.is_empty() {
        return;
    }
    let current = document()
        .active_element()
        .and_then(|a| items.iter().position(|i| i.is_same_node(Some(&a))));
    let last = items.len() - 1;
    let index = match (at, current) {
        (Focus::First, _) => 0,
        (Focus::Last, _) => last,
        (Focus::Next, Some(i)) if i < last => i + 1,
        (Focus::Next, _) => 0,
        (Focus::Previous, Some(i)) if i > 0 => i - 1,
        (Focus::Previous, _) => last,
    };
    let _ = items[index].focus();
}
