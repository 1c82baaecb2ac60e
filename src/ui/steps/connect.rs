//! Connect: the one primary button (or, in a browser without WebUSB, what to use instead), the
//! simulated Photon as the secondary choice, and what the device said about itself.
//! Open to more branches (a device found in normal mode, say): each is one arm of `body`.

use crate::sim::faults::Fault;
use crate::ui::erased::{dynamic, flag, on};
use crate::ui::store::{ErrorPlace, SimStatus, Store};
use crate::ui::widgets::ErrorPanel;
use crate::usb::webusb::BrowserSupport;
use leptos::prelude::*;

pub fn summary(store: Store) -> String {
    store
        .identity
        .get()
        .map(|id| {
            let state = if store.connected.get() {
                "in DFU mode"
            } else {
                "disconnected"
            };
            format!("{} {} {state}.", id.platform_name, id.device_id)
        })
        .unwrap_or_default()
}

pub fn body(store: Store) -> AnyView {
    let support = BrowserSupport::detect();
    if !support.usable() {
        return view! { <NoWebUsb secure=support.secure_context/> }.into_any();
    }
    // Not re-rendered when the simulated Photon becomes ready, so the picker keeps the focus.
    let simulated = Memo::new(move |_| store.sim_status.get() != SimStatus::Off);
    view! {
        <p>
            "Plug the device in with a data USB cable and put it in DFU mode (LED blinking "
            "yellow), then press Connect device and pick it in the browser's list: its name ends "
            "in \"DFU Mode\"."
        </p>
        <div class="row">
            <button
                type="button"
                id="connect"
                class="primary"
                data-testid="connect"
                on:click=on(move |_| store.connect())
                disabled=flag(move || {
                    !crate::doctor::wizard::can_connect(
                        &store.facts(),
                        store.sim_status.get() == SimStatus::Starting,
                    )
                })
            >
                "Connect device"
            </button>
            {dynamic(move || {
                (!simulated.get())
                    .then(|| {
                        view! {
                            <button
                                type="button"
                                class="secondary"
                                data-testid="try-simulated"
                                on:click=on(move |_| store.start_simulation())
                                disabled=flag(move || store.busy.get())
                            >
                                "Try with a simulated Photon"
                            </button>
                        }
                    })
            })}
        </div>
        <p class="muted">
            "Not sure how to get blinking yellow? See \"Put the device in DFU mode\" below the steps."
        </p>
        {dynamic(move || simulated.get().then(|| view! { <Simulation/> }))}
        <ErrorPanel place=ErrorPlace::Simulation/>
    }
    .into_any()
}

#[component]
fn NoWebUsb(secure: bool) -> impl IntoView {
    let text = if secure {
        "This browser cannot talk to USB devices. Use Chrome or Edge on a computer, or Chrome on an \
         Android phone."
    } else {
        "This page must be opened over https (or from 127.0.0.1) to use USB."
    };
    view! {
        <p class="verdict-problem" data-testid="browser-support">
            <strong>"Problem: "</strong>
            {text}
        </p>
        <ul>
            <li>"Firefox and Safari have no WebUSB: open this page in Chrome or Edge."</li>
            <li>
                "iPhone and iPad: every browser there is Safari inside, so none can; use a "
                "computer or an Android phone with a USB OTG cable."
            </li>
        </ul>
    }
}

/// The simulated Photon: its problem, its state, and the way back to a real device.
#[component]
fn Simulation() -> impl IntoView {
    let store = expect_context::<Store>();
    view! {
        <div class="sim" role="group" aria-label="Simulated Photon">
            <div class="field">
                <label for="sim-fault">"Simulated problem"</label>
                <select
                    id="sim-fault"
                    data-testid="sim-fault"
                    prop:value=move || store.fault.get().name()
                    on:change=on(move |ev| {
                        if let Some(f) = Fault::from_name(&event_target_value(&ev)) {
                            store.choose_fault(f);
                        }
                    })
                >
                    {Fault::ALL
                        .into_iter()
                        .map(|f| view! { <option value=f.name()>{f.label()}</option> })
                        .collect_view()}
                </select>
            </div>
            <p class="muted" data-testid="sim-status">
                {dynamic(move || match store.sim_status.get() {
                    SimStatus::Starting => "Preparing the simulated Photon…",
                    _ => "A simulated Photon is plugged in (in DFU mode); nothing is sent to Particle.",
                })}
            </p>
            <button
                type="button"
                class="secondary"
                data-testid="leave-simulation"
                on:click=on(move |_| store.leave_simulation())
                disabled=flag(move || store.busy.get())
            >
                "Leave the simulation"
            </button>
        </div>
    }
}
