//! The page: Leptos views that render state and call the orchestrator. wasm32 only.
//!
//! Views hold no protocol logic: they read the store (`store.rs`), render it, and call one of its
//! methods, which calls the doctor. One file per view: the repair wizard (`steps/`), the sign-in
//! (`signin.rs`), the simulated mode's link to its own module (`sim_module.rs`), the help below them (`landing.rs`, `led.rs`), the advanced panel (`advanced.rs`) and
//! shared widgets (`widgets/`).

mod advanced;
mod app;
mod ec_module;
mod erased;
mod landing;
mod led;
mod signin;
pub mod sim_module;
#[macro_use]
mod split;
mod steps;
pub mod store;
mod widgets;

pub use app::App;

/// What a rejected promise of the browser says (a module that did not load, say): the error's
/// `message`, or the value itself when it is text.
pub(crate) fn js_error_text(e: &wasm_bindgen::JsValue) -> Option<String> {
    js_sys::Reflect::get(e, &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .or_else(|| e.as_string())
}
