//! Reusable widgets.

mod api_key;
mod dialog;
mod field;
mod frame;
mod menu;
mod toast;

pub use api_key::{KeyActions, KeyDialogs, KeyMeta, RefreshAsk};
pub use dialog::Dialog;
pub use field::{Field, FormMessage};
pub use frame::{Frame, PublicCard};
pub use menu::ActionMenu;
pub use toast::{Toaster, Toasts, provide_toasts, toast, toaster};

use crate::error::AppError;
use leptos::prelude::*;

/// The field error of an action's last result, for one field.
pub fn field_error<I, O>(action: ServerAction<I>, field: &'static str) -> Signal<Option<String>>
where
    I: server_fn::ServerFn<Output = O, Error = AppError> + Clone + Send + Sync + 'static,
    O: Clone + Send + Sync + 'static,
{
    Signal::derive(move || {
        action.value().with(|v| {
            v.as_ref()
                .and_then(|r| r.as_ref().err())
                .and_then(|e| e.for_field(field))
        })
    })
}

/// The action's last error when it is not about one field.
pub fn form_error<I, O>(action: ServerAction<I>) -> Signal<Option<AppError>>
where
    I: server_fn::ServerFn<Output = O, Error = AppError> + Clone + Send + Sync + 'static,
    O: Clone + Send + Sync + 'static,
{
    Signal::derive(move || {
        action.value().with(|v| match v {
            Some(Err(AppError::Validation(_))) | None | Some(Ok(_)) => None,
            Some(Err(e)) => Some(e.clone()),
        })
    })
}

/// True once the action's last call succeeded.
pub fn succeeded<I, O>(action: ServerAction<I>) -> Signal<bool>
where
    I: server_fn::ServerFn<Output = O, Error = AppError> + Clone + Send + Sync + 'static,
    O: Clone + Send + Sync + 'static,
{
    Signal::derive(move || action.value().with(|v| matches!(v, Some(Ok(_)))))
}

/// Sends the browser to `path` with a full page load, so every part of the page starts afresh.
pub fn go_to(path: &str) {
    #[cfg(feature = "hydrate")]
    {
        let _ = window().location().set_href(path);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = path;
}

/// The values of a filter form's `keys`, read as it is submitted, the browser's own
/// submission stopped (the page navigates in the app instead); none on the server, or when
/// the event holds no form (then the browser submits it as a plain GET form).
pub fn submitted_values(
    ev: &leptos::ev::SubmitEvent,
    keys: &[&str],
) -> Option<Vec<(String, String)>> {
    #[cfg(feature = "hydrate")]
    {
        use leptos::wasm_bindgen::JsCast;
        let form = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlFormElement>().ok())?;
        let data = web_sys::FormData::new_with_form(&form).ok()?;
        ev.prevent_default();
        Some(
            keys.iter()
                .map(|k| (k.to_string(), data.get(k).as_string().unwrap_or_default()))
                .collect(),
        )
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (ev, keys);
        None
    }
}
