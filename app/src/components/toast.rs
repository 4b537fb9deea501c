use leptos::prelude::*;

#[derive(Clone, Copy)]
struct ToastList(RwSignal<Vec<(u64, String)>>);

pub fn provide_toasts() {
    provide_context(ToastList(RwSignal::new(Vec::new())));
}

/// Shows a short message about the result of an action; it fades after a few seconds.
pub fn toast(message: impl Into<String>) {
    toaster().show(message);
}

/// A handle for showing toasts later, from code that runs outside the component tree
/// (such as the end of an asynchronous call).
#[derive(Clone, Copy)]
pub struct Toaster(Option<ToastList>);

pub fn toaster() -> Toaster {
    Toaster(use_context::<ToastList>())
}

impl Toaster {
    pub fn show(self, message: impl Into<String>) {
        if let Some(ToastList(list)) = self.0 {
            push(list, message.into());
        }
    }
}

fn push(list: RwSignal<Vec<(u64, String)>>, message: String) {
    let id = list.with_untracked(|l| l.last().map(|(id, _)| id + 1).unwrap_or(0));
    list.update(|l| l.push((id, message)));
    set_timeout(
        move || list.update(|l| l.retain(|(i, _)| *i != id)),
        std::time::Duration::from_secs(5),
    );
}

#[component]
pub fn Toasts() -> impl IntoView {
    let list = expect_context::<ToastList>().0;
    view! {
        <div class="toasts" role="status" aria-live="polite">
            <For each=move || list.get() key=|(id, _)| *id let:item>
                <div class="toast">{item.1}</div>
            </For>
        </div>
    }
}
