//! Type-erased reactive parts of views.
//!
//! Leptos compiles its rendering code (the render effect, build, rebuild, mount, the event
//! listener) once for each closure type it is given, and every `move || …` is a type of its own.
//! The views hand their dynamic parts to the few types here instead, so that code is in the page
//! once: [`dynamic`] for a part that is rendered again when a signal it reads changes, [`flag`]
//! for a boolean attribute or property, [`on`] for an event handler. `scripts/page-size` shows
//! the difference.

use leptos::prelude::*;
use std::sync::{Arc, Mutex};

/// A part of a view that is rendered again whenever a signal it reads changes.
pub type Dynamic = Arc<Mutex<dyn FnMut() -> AnyView + Send>>;

/// `view` as a [`Dynamic`] part.
pub fn dynamic<V: IntoAny>(mut view: impl FnMut() -> V + Send + 'static) -> Dynamic {
    Arc::new(Mutex::new(move || view().into_any()))
}

/// A boolean attribute or property (`disabled`, `checked`) that follows the signals `f` reads.
pub fn flag(f: impl Fn() -> bool + Send + Sync + 'static) -> Signal<bool> {
    Signal::derive(f)
}

/// An event handler (`on:click=on(move |_| …)`).
pub type Handler<E> = Box<dyn FnMut(E)>;

/// `f` as a [`Handler`].
pub fn on<E>(f: impl FnMut(E) + 'static) -> Handler<E> {
    Box::new(f)
}
