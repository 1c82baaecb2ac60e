//! Reads the file a user picked in an `<input type=file>` (it never leaves the page).

use leptos::html::Input;
use leptos::prelude::*;

/// The bytes of the first file picked in `input`, if any.
pub async fn read_picked(input: NodeRef<Input>) -> Option<Vec<u8>> {
    let file = input.get_untracked()?.files()?.get(0)?;
    let buffer = wasm_bindgen_futures::JsFuture::from(file.array_buffer())
        .await
        .ok()?;
    Some(js_sys::Uint8Array::new(&buffer).to_vec())
}
