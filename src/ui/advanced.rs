//! The advanced panel (collapsed): the Particle CLI's `keys` commands on the connected device
//! (save, load, new, send, server, address) and the internal-flash dump for support. Each button
//! hands one `doctor::Command` to `Store::advanced`.

use crate::doctor::Command;
use crate::ui::erased::{dynamic, flag, on};
use crate::ui::store::Store;
use leptos::html::Input;
use leptos::prelude::*;

#[component]
pub fn Advanced() -> impl IntoView {
    let store = expect_context::<Store>();
    let key_file: NodeRef<Input> = NodeRef::new();
    let server_file: NodeRef<Input> = NodeRef::new();
    let custom = RwSignal::new(false);
    let host = RwSignal::new(String::new());
    let port = RwSignal::new(String::new());
    let not_idle = flag(move || store.busy.get() || !store.connected.get());

    let save = move |_| store.advanced(Command::SaveKey, None);
    let load = move |_| store.advanced(Command::LoadKeyFile { file: None }, Some(key_file));
    let new_key = move |_| store.advanced(Command::NewKey, None);
    let send = move |_| {
        let product_id = store.product_id();
        store.advanced(Command::SendKey { product_id }, None);
    };
    let server = move |_| {
        store.write_server(
            custom.get_untracked(),
            &host.get_untracked(),
            &port.get_untracked(),
            server_file,
        );
    };
    let address = move |_| store.advanced(Command::ReadAddress, None);
    let dump = move |_| store.advanced(Command::DumpFlash, None);
    view! {
        <details class="advanced" data-testid="advanced">
            <summary>"Advanced: the Particle CLI's key commands"</summary>
            <p class="muted">
                "These act on the connected device at once, after its diagnosis: each write is "
                "backed up, read back and undone if it fails."
            </p>
            <h3>"Device key"</h3>
            <div class="row">
                <button type="button" class="secondary" data-testid="keys-save" on:click=on(save) disabled=not_idle>
                    "Save device key"
                </button>
                <button type="button" class="secondary" data-testid="keys-new" on:click=on(new_key) disabled=not_idle>
                    "Write a new key"
                </button>
                <button type="button" class="secondary" data-testid="keys-send" on:click=on(send) disabled=not_idle>
                    "Send key"
                </button>
            </div>
            <div class="field">
                <label for="key-file">"Key file to load (PEM or DER)"</label>
                <input id="key-file" type="file" data-testid="key-file" node_ref=key_file/>
            </div>
            <button type="button" class="secondary" data-testid="keys-load" on:click=on(load) disabled=not_idle>
                "Load key file"
            </button>
            <h3>"Server"</h3>
            <div class="check">
                <input id="server-custom" type="checkbox" data-testid="server-custom" bind:checked=custom/>
                <label for="server-custom">"Custom server (otherwise Particle's cloud)"</label>
            </div>
            {dynamic(move || {
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
            })}
            <div class="row">
                <button type="button" class="secondary" data-testid="keys-server" on:click=on(server) disabled=not_idle>
                    "Write server key"
                </button>
                <button type="button" class="secondary" data-testid="keys-address" on:click=on(address) disabled=not_idle>
                    "Read server address"
                </button>
            </div>
            <h3>"Support"</h3>
            <button type="button" class="secondary" data-testid="flash-dump" on:click=on(dump) disabled=not_idle>
                "Dump internal flash"
            </button>
            <p role="status" data-testid="advanced-result">{dynamic(move || store.advanced_result.get())}</p>
        </details>
    }
}
