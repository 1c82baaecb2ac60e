//! Connect: the button, what the device said about itself, and after a failed write what the
//! read-back found: "not changed" (Repair retries) or "Restore backup".

use crate::doctor::AfterFailure;
use crate::doctor::report;
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
                let after = store.after_failure.get();
                let text = after.as_ref().map(report::after_failure_text);
                match after {
                    Some(AfterFailure::Changed { .. }) => Some(
                        view! {
                            <div class="notice" data-testid="after-failure">
                                <p>{text}</p>
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
                            .into_any(),
                    ),
                    Some(AfterFailure::Unchanged) => Some(
                        view! {
                            <div class="notice" data-testid="after-failure">
                                <p>{text}</p>
                            </div>
                        }
                            .into_any(),
                    ),
                    None if store.needs_restore.get() => Some(
                        view! {
                            <div class="notice" data-testid="after-failure">
                                <p>
                                    "The last write failed and could not be checked. Reconnect "
                                    "the device: the page then reads its key slots back and "
                                    "offers to retry, or to restore the backup if they changed."
                                </p>
                            </div>
                        }
                            .into_any(),
                    ),
                    None => None,
                }
            })}
        </div>
    }
}
