use crate::error::AppError;
use leptos::prelude::*;

/// A labelled input with its error message beside it.
#[component]
pub fn Field(
    /// The form field name, which is also the server function argument.
    name: &'static str,
    label: &'static str,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional)] autocomplete: &'static str,
    #[prop(optional, into)] value: Signal<String>,
    #[prop(optional, into)] error: Signal<Option<String>>,
    #[prop(optional)] hint: &'static str,
    #[prop(optional)] readonly: bool,
    #[prop(default = true)] required: bool,
) -> impl IntoView {
    let id = format!("field-{name}");
    let described = format!("{id}-msg");
    let hint_id = format!("{id}-hint");
    let has_hint = !hint.is_empty();
    view! {
        <div class="field" class:invalid=move || error.get().is_some()>
            <label for=id.clone()>{label}</label>
            <input
                id=id
                name=name
                type=kind
                autocomplete=(!autocomplete.is_empty()).then_some(autocomplete)
                prop:value=move || value.get()
                value=move || value.get()
                readonly=readonly
                required=required
                aria-invalid=move || if error.get().is_some() { "true" } else { "false" }
                aria-describedby=format!("{hint_id} {described}")
            />
            <Show when=move || has_hint>
                <p class="hint" id=hint_id.clone()>{hint}</p>
            </Show>
            <p class="field-error" id=described role="alert">{move || error.get()}</p>
        </div>
    }
}

/// A message about the whole form: an error, or a note of success.
#[component]
pub fn FormMessage(#[prop(into)] error: Signal<Option<AppError>>) -> impl IntoView {
    view! {
        <Show when=move || error.get().is_some()>
            <div class="banner banner-error" role="alert">
                {move || error.get().map(|e| e.to_string())}
            </div>
        </Show>
    }
}
