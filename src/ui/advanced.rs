//! The advanced panel (collapsed): the Particle CLI's `keys` commands on the connected device
//! (save, load, new, send, server, address) and the internal-flash dump for support. Each button
//! hands one `doctor::Command` to `Store::advanced`.

use crate::doctor::Command;
use crate::doctor::wizard::ServerField;
use crate::ui::erased::Dynamic;
use crate::ui::erased::{Handler, dynamic, flag, on};
use crate::ui::store::ErrorPlace;
use crate::ui::store::Store;
use crate::ui::widgets::ErrorPanel;
use leptos::ev::MouseEvent;
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
    let product = RwSignal::new(String::new());
    let not_idle = flag(move || store.busy.get() || !store.connected.get());

    let save = move |_| store.advanced(Command::SaveKey, None);
    let load = move |_| store.advanced(Command::LoadKeyFile { file: None }, Some(key_file));
    let new_key = move |_| store.advanced(Command::NewKey, None);
    let send = move |_| store.send_key(&product.get_untracked());
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
        <details class="advanced" data-testid="advanced" on:toggle=on(move |_| store.advanced_opened())>
            <summary>"Advanced: the Particle CLI's key commands"</summary>
            <p class="muted">
                "These act on the connected device at once, after its diagnosis: each write is "
                "backed up, read back and undone if it fails."
            </p>
            <h3>"Device key"</h3>
            <div class="row">
                {command_button("keys-save", "Save device key", on(save), not_idle)}
                {command_button("keys-new", "Write a new key", on(new_key), not_idle)}
                {command_button("keys-send", "Send key", on(send), not_idle)}
            </div>
            <div class="field">
                <label for="send-product">"Product for Send key (number or slug; empty: as diagnosed)"</label>
                <input id="send-product" data-testid="send-product" bind:value=product/>
            </div>
            <div class="field">
                <label for="key-file">"Key file to load (PEM or DER)"</label>
                <input id="key-file" type="file" data-testid="key-file" node_ref=key_file/>
            </div>
            {command_button("keys-load", "Load key file", on(load), not_idle)}
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
                                    <input id="server-host" data-testid="server-host" aria-describedby="server-host-problem" bind:value=host/>
                                    {problem(store, ServerField::Host, "server-host-problem")}
                                </div>
                                <div class="field">
                                    <label for="server-port">"Port (empty: the default)"</label>
                                    <input id="server-port" data-testid="server-port" inputmode="numeric" aria-describedby="server-port-problem" bind:value=port/>
                                    {problem(store, ServerField::Port, "server-port-problem")}
                                </div>
                                <div class="field">
                                    <label for="server-file">"Server key file"</label>
                                    <input id="server-file" type="file" data-testid="server-file" aria-describedby="server-file-problem" node_ref=server_file/>
                                    {problem(store, ServerField::KeyFile, "server-file-problem")}
                                </div>
                            </div>
                        }
                    })
            })}
            <div class="row">
                {command_button("keys-server", "Write server key", on(server), not_idle)}
                {command_button("keys-address", "Read server address", on(address), not_idle)}
            </div>
            <h3>"Support"</h3>
            {command_button("flash-dump", "Dump internal flash", on(dump), not_idle)}
            {dynamic(move || {
                store
                    .pending
                    .get()
                    .map(|question| {
                        view! {
                            <div class="notice" role="alertdialog" aria-labelledby="confirm-question" data-testid="confirm">
                                <p id="confirm-question">{question}</p>
                                <div class="row">
                                    <button
                                        type="button"
                                        id="confirm-write"
                                        class="primary"
                                        data-testid="confirm-write"
                                        on:click=on(move |_| store.confirm_pending())
                                    >
                                        "Write"
                                    </button>
                                    <button
                                        type="button"
                                        class="secondary"
                                        data-testid="confirm-cancel"
                                        on:click=on(move |_| store.cancel_pending())
                                    >
                                        "Cancel"
                                    </button>
                                </div>
                            </div>
                        }
                    })
            })}
            <ErrorPanel place=ErrorPlace::Advanced/>
            <p id="advanced-result" tabindex="-1" role="status" data-testid="advanced-result">
                {dynamic(move || store.advanced_result.get())}
            </p>
        </details>
    }
}

/// One command's button, disabled while `disabled` holds.
fn command_button(
    testid: &'static str,
    label: &'static str,
    click: Handler<MouseEvent>,
    disabled: Signal<bool>,
) -> impl IntoView {
    view! {
        <button type="button" class="secondary" data-testid=testid on:click=click disabled=disabled>
            {label}
        </button>
    }
}

/// What is wrong with a custom-server field, next to it (nothing was read or written).
fn problem(store: Store, field: ServerField, id: &'static str) -> Dynamic {
    dynamic(move || {
        store
            .server_problem
            .get()
            .filter(|(f, _)| *f == field)
            .map(|(_, text)| view! { <p class="field-error" id=id data-testid=id>{text}</p> })
    })
}
