//! Connect: the button, what the device said about itself, and "Restore backup" after a failed
//! write.

use crate::ui::erased::{dynamic, flag, on};
use crate::ui::store::{SimStatus, Store};
use leptos::prelude::*;

#[component]
pub fn ConnectStep() -> impl IntoView {
    let store = expect_context::<Store>();
    view! {
        <div class="step">
            <h3>"1. Connect"</h3>
            <p>
                "Put the device in DFU mode (blinking yellow), press Connect device and pick it in "
                "the browser's list (its name ends in \"DFU Mode\")."
            </p>
            <button
                type="button"
                data-testid="connect"
                on:click=on(move |_| store.connect())
                disabled=flag(move || {
                    store.busy.get()
                        || store.sim_status.get() == SimStatus::Starting
                })
            >
                "Connect device"
            </button>
            {dynamic(move || {
                store
                    .identity
                    .get()
                    .map(|id| {
                        view! {
                            <p class="identity" data-testid="identity">
                                <strong>{id.platform_name}</strong>
                                " " <code>{id.device_id}</code> " in DFU mode "
                                {dynamic(move || (!store.connected.get()).then_some("(disconnected)"))}
                            </p>
                        }
                    })
            })}
            {dynamic(move || {
                store.needs_restore.get()
                    .then(|| {
                        view! {
                            <div class="notice">
                                <p>
                                    "The last write failed and could not be undone. Write the "
                                    "backup taken before the repair back to the device:"
                                </p>
                                <button
                                    type="button"
                                    data-testid="restore-backup"
                                    on:click=on(move |_| store.restore_backup())
                                    disabled=flag(move || store.busy.get())
                                >
                                    "Restore backup"
                                </button>
                            </div>
                        }
                    })
            })}
        </div>
    }
}
