//! The page: Leptos views that render state and call the orchestrator. wasm32 only.
//!
//! Views hold no protocol logic: they read the store, render it, and call one function in `doctor`.

mod app;

pub use app::App;
