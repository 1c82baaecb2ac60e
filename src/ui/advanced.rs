//! The advanced panel (collapsed): the Particle CLI's `keys` commands on the connected device
//! (save, load, new, send, server, address) and the internal-flash dump for support. Each button
//! calls one `Doctor` method through `Store::advanced`.

use crate::doctor::{CloudContext, DoctorError, report};
use crate::keys::ServerAddressSpec;
use crate::ui::store::Store;
use crate::ui::widgets::{download, read_picked};
use leptos::html::Input;
use leptos::prelude::*;

fn no_file() -> DoctorError {
    DoctorError::Key(crate::keys::KeyError::Encoding("no file was picked".into()))
}

#[component]
pub fn Advanced() -> impl IntoView {
    let store = expect_context::<Store>();
    let key_file: NodeRef<Input> = NodeRef::new();
    let server_file: NodeRef<Input> = NodeRef::new();
    let custom = RwSignal::new(false);
    let host = RwSignal::new(String::new());
    let port = RwSignal::new(String::new());
    let idle = move || !store.busy.get() && store.connected.get();

    let save = move |_| {
        store.advanced(move |mut doctor, _, _, store| async move {
            let result = doctor
                .save_private_key(&mut |e| store.on_event(e))
                .await
                .map(|file| {
                    download(&file.name, &file.bytes, "application/octet-stream");
                    format!(
                        "Saved the device's private key as {} (keep it private).",
                        file.name
                    )
                });
            (doctor, result)
        })
    };
    let load = move |_| {
        store.advanced(move |mut doctor, _, _, store| async move {
            let result = match read_picked(key_file).await {
                Some(bytes) => doctor
                    .write_key_file(&bytes, &mut |e| store.on_event(e))
                    .await
                    .map(|k| format!("Wrote the key from the file; its public key is {}. Send it to the cloud next.", k.fingerprint)),
                None => Err(no_file()),
            };
            (doctor, result)
        })
    };
    let new_key = move |_| {
        store.advanced(move |mut doctor, _, _, store| async move {
            let result = doctor
                .write_new_key(&mut |e| store.on_event(e))
                .await
                .map(|k| {
                    format!(
                        "Wrote a new key; its public key is {}. Send it to the cloud next.",
                        k.fingerprint
                    )
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
    let server = move |_| {
        let is_custom = custom.get_untracked();
        let (host, port) = (host.get_untracked(), port.get_untracked());
        let test_region = store.test_cloud_region();
        store.advanced(move |mut doctor, _, _, store| async move {
            let key_file = match (is_custom, test_region) {
                (true, _) => read_picked(server_file).await,
                // In the simulated mode the simulated cloud's key plays Particle's.
                (false, region) => region,
            };
            let address = match (is_custom, host.trim()) {
                (true, h) if !h.is_empty() => ServerAddressSpec::Host {
                    host: h.to_owned(),
                    port: port.trim().parse().ok(),
                },
                _ => ServerAddressSpec::Unchanged,
            };
            let region = doctor.server_region(key_file.as_deref(), &address);
            let result = match region {
                Ok(region) => doctor
                    .write_server_region(&region, &mut |e| store.on_event(e))
                    .await
                    .map(|()| "Wrote the server key and address.".to_owned()),
                Err(e) => Err(e),
            };
            (doctor, result)
        })
    };
    let address = move |_| {
        store.advanced(move |mut doctor, _, _, store| async move {
            let result = doctor
                .read_server_address(&mut |e| store.on_event(e))
                .await
                .map(|a| report::address_sentence(a.as_ref()));
            (doctor, result)
        })
    };
    let dump = move |_| {
        store.advanced(move |mut doctor, _, _, store| async move {
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
    view! {
        <details class="advanced" data-testid="advanced">
            <summary>"Advanced: the Particle CLI's key commands"</summary>
            <p class="muted">
                "These act on the connected device at once, after its diagnosis: each write is "
                "backed up, read back and undone if it fails."
            </p>
            <h3>"Device key"</h3>
            <div class="row">
                <button type="button" class="secondary" data-testid="keys-save" on:click=save disabled=move || !idle()>
                    "Save device key"
                </button>
                <button type="button" class="secondary" data-testid="keys-new" on:click=new_key disabled=move || !idle()>
                    "Write a new key"
                </button>
                <button type="button" class="secondary" data-testid="keys-send" on:click=send disabled=move || !idle()>
                    "Send key"
                </button>
            </div>
            <div class="field">
                <label for="key-file">"Key file to load (PEM or DER)"</label>
                <input id="key-file" type="file" data-testid="key-file" node_ref=key_file/>
            </div>
            <button type="button" class="secondary" data-testid="keys-load" on:click=load disabled=move || !idle()>
                "Load key file"
            </button>
            <h3>"Server"</h3>
            <div class="check">
                <input id="server-custom" type="checkbox" data-testid="server-custom" bind:checked=custom/>
                <label for="server-custom">"Custom server (otherwise Particle's cloud)"</label>
            </div>
            {move || {
                custom
                    .get()
                    .then(|| {
                        view! {
                            <div class="fields">
                                <div class="field">
                                    <label for="server-host">"Host or IP address"</label>
                                    <input id="server-host" data-testid="server-host" bind:value=host/>
                                </div>
                                <div class="field">
                                    <label for="server-port">"Port"</label>
                                    <input id="server-port" data-testid="server-port" inputmode="numeric" bind:value=port/>
                                </div>
                                <div class="field">
                                    <label for="server-file">"Server key file"</label>
                                    <input id="server-file" type="file" data-testid="server-file" node_ref=server_file/>
                                </div>
                            </div>
                        }
                    })
            }}
            <div class="row">
                <button type="button" class="secondary" data-testid="keys-server" on:click=server disabled=move || !idle()>
                    "Write server key"
                </button>
                <button type="button" class="secondary" data-testid="keys-address" on:click=address disabled=move || !idle()>
                    "Read server address"
                </button>
            </div>
            <h3>"Support"</h3>
            <button type="button" class="secondary" data-testid="flash-dump" on:click=dump disabled=move || !idle()>
                "Dump internal flash"
            </button>
            <p role="status" data-testid="advanced-result">{move || store.advanced_result.get()}</p>
        </details>
    }
}
