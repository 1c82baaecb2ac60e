//! The live log, read by screen readers as it grows, with a Copy button.

use crate::ui::erased::{dynamic, on};
use crate::ui::store::Store;
use leptos::prelude::*;
use wasm_bindgen::{JsCast, JsValue};

/// Puts `text` on the clipboard (`navigator.clipboard.writeText`), if the browser allows it.
fn copy_to_clipboard(text: &str) -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    let clipboard = js_sys::Reflect::get(&window.navigator(), &"clipboard".into())
        .ok()
        .filter(|c| !c.is_undefined());
    let write = clipboard.as_ref().and_then(|c| {
        js_sys::Reflect::get(c, &"writeText".into())
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
    });
    match (clipboard, write) {
        (Some(c), Some(f)) => {
            // The promise may reject without focus; the log stays selectable either way.
            if let Ok(p) = f.call1(&c, &JsValue::from_str(text)) {
                let p: js_sys::Promise = p.unchecked_into();
                wasm_bindgen_futures::spawn_local(async move {
                    let _ = wasm_bindgen_futures::JsFuture::from(p).await;
                });
            }
            true
        }
        _ => false,
    }
}

#[component]
pub fn LogPanel() -> impl IntoView {
    let store = expect_context::<Store>();
    let copied = RwSignal::new(None::<&'static str>);
    let copy = move |_| {
        let text = store.log.with_untracked(|l| l.join("\n"));
        copied.set(Some(if copy_to_clipboard(&text) {
            "Log copied."
        } else {
            "This browser did not allow copying: select the log and copy it by hand."
        }));
    };
    view! {
        <section aria-labelledby="log-heading" class="log-section">
            <div class="row">
                <h2 id="log-heading">"Log"</h2>
                <button type="button" class="secondary" data-testid="copy-log" on:click=on(copy)>
                    "Copy log"
                </button>
                <span role="status" class="muted">{dynamic(move || copied.get())}</span>
            </div>
            // One element per line: a new line is appended (the lines before stay as they are), so
            // a screen reader announces only the new one.
            <div class="log" data-testid="log" role="log" aria-live="polite" tabindex="0" aria-label="Log">
                {dynamic(move || {
                    store.log.get().into_iter().map(|l| view! { <div>{l}</div> }).collect_view()
                })}
            </div>
        </section>
    }
}
