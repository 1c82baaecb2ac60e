//! The advanced panel (collapsed): the CLI's `keys` commands on the connected device, and the
//! internal-flash dump for support.

use crate::doctor::CloudContext;
use crate::ui::store::Store;
use crate::ui::widgets::download;
use leptos::prelude::*;

#[component]
pub fn Advanced() -> impl IntoView {
    let store = expect_context::<Store>();
    let dump = move |_| {
        store.advanced(move |mut doctor, _cloud, _token, store| async move {
            let id = doctor.identity().device_id.clone();
            let result = doctor
                .dump_internal_flash(&mut |e| store.on_event(e))
                .await
                .map(|(start, bytes)| {
                    let name = format!("internal_flash_{id}_{start:#010x}.bin");
                    download(&name, &bytes, "application/octet-stream");
                    format!("Saved {} bytes of internal flash as {name}.", bytes.len())
                });
            (doctor, result)
        })
    };
    let send = move |_| {
        let product_id = store.product_id();
        store.advanced(move |mut doctor, mut cloud, token, store| async move {
            let ctx = CloudContext {
                api: &mut cloud,
                token: token.as_ref(),
            };
            let result = doctor
                .send_key_from_device(product_id, ctx, &mut |e| store.on_event(e))
                .await
                .map(|k| {
                    format!(
                        "Sent the device's public key {} to the cloud.",
                        k.fingerprint
                    )
                });
            (doctor, result)
        })
    };
    view! {
        <details class="advanced" data-testid="advanced">
            <summary>"Advanced: the Particle CLI's key commands"</summary>
            <p class="muted">
                "These act on the connected device at once, each write backed up, read back and "
                "undone if it fails. Connect a device first."
            </p>
            <div class="row">
                <button type="button" class="secondary" data-testid="keys-send" on:click=send
                    disabled=move || store.busy.get() || !store.connected.get()>
                    "Send key"
                </button>
                <button type="button" class="secondary" data-testid="flash-dump" on:click=dump
                    disabled=move || store.busy.get() || !store.connected.get()>
                    "Dump internal flash"
                </button>
            </div>
            <p role="status" data-testid="advanced-result">{move || store.advanced_result.get()}</p>
        </details>
    }
}
