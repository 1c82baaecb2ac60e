//! Connect: the one primary button (or, in a browser without WebUSB, what to use instead), the
//! simulated Photon as the secondary choice, and what the device said about itself.
//! Open to more branches (a device found in normal mode, say): each is one arm of `body`.

use crate::doctor::report;
use crate::doctor::wizard::{self, Switch};
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
            let state = if store.connected.get() && store.switch.get() == Some(Switch::NotNeeded) {
                "in normal mode"
            } else if store.connected.get() {
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
            "Plug the device in with a data USB cable, press Connect device and pick it in the "
            "browser's list. Running (LED cyan) or in DFU mode (LED yellow): either works."
        </p>
        <div class="row">
            <button
                type="button"
                id="connect"
                class:primary=flag(move || !offers_other(store))
                class:secondary=flag(move || offers_other(store))
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
        {dynamic(move || store.running_facts.get().map(|facts| view! { <NormalMode facts/> }))}
        {dynamic(move || simulated.get().then(|| view! { <Simulation/> }))}
        <ErrorPanel place=ErrorPlace::Simulation/>
    }
    .into_any()
}

/// Whether the normal-mode part offers its own primary button (then Connect device is secondary).
fn offers_other(store: Store) -> bool {
    matches!(
        store.switch.get(),
        Some(Switch::Offer { .. } | Switch::SecondPrompt { .. } | Switch::SerialPort)
    ) || store.error.with(|e| {
        // The Core's device-ID field has its own primary button ("Use this ID and connect").
        e.as_ref()
            .is_some_and(|(_, help)| help.extra == Some(report::ExtraHelp::DeviceIdNeeded))
    })
}

/// A device picked in normal mode: what it said, and the way on (control requests, request 50,
/// the second prompt, the serial port, the buttons) that `wizard::Switch` decided.
#[component]
fn NormalMode(facts: crate::doctor::RunningFacts) -> impl IntoView {
    let store = expect_context::<Store>();
    let platform = facts.platform;
    let version = facts.system_version.clone().map_or_else(
        || "Device OS version not reported".to_owned(),
        |v| format!("Device OS {v}"),
    );
    let within = crate::doctor::DFU_APPEARS_WITHIN_S.1;
    view! {
        <div class="sim" role="group" aria-label="Device in normal mode" data-testid="normal-mode">
            <p data-testid="running-facts">
                {format!("{} in normal mode (running its firmware). Device ID ", facts.platform_name)}
                <code>{facts.device_id.clone()}</code>
                {format!("; {version}.")}
            </p>
            {dynamic(move || match store.switch.get() {
                Some(Switch::NotNeeded) | None => view! {
                    <p data-testid="switch-info">
                        "Its firmware can read and write the key slots: the repair runs in normal "
                        "mode, with no DFU mode and no second browser prompt."
                    </p>
                }
                .into_any(),
                Some(Switch::Offer { reason }) => view! {
                    <p data-testid="switch-info">
                        {format!("The repair needs DFU mode: {reason}.")}
                    </p>
                    <button
                        type="button"
                        id="enter-dfu"
                        class="primary"
                        data-testid="enter-dfu"
                        on:click=on(move |_| store.enter_dfu())
                        disabled=flag(move || store.busy.get())
                    >
                        "Put it in DFU mode for me"
                    </button>
                }
                .into_any(),
                Some(Switch::SecondPrompt { .. }) => view! {
                    <p data-testid="switch-info">
                        {format!(
                            "The device is restarting in DFU mode (LED blinking yellow): a few \
                             seconds, up to {within}. Chrome asks once more, because a device in \
                             DFU mode is a new USB device: press the button and pick the entry \
                             whose name ends in \"DFU Mode\"."
                        )}
                    </p>
                    <button
                        type="button"
                        id="second-prompt"
                        class="primary"
                        data-testid="second-prompt"
                        on:click=on(move |_| store.choose_switched_device())
                        disabled=flag(move || store.busy.get())
                    >
                        "Choose the device in DFU mode"
                    </button>
                    <p class="muted">
                        {format!(
                            "Not in the list after {within} seconds? Unplug it, plug it in again, \
                             then: {} Then press Connect device.",
                            wizard::dfu_buttons(platform)
                        )}
                    </p>
                }
                .into_any(),
                Some(Switch::SerialPort) => view! {
                    <p data-testid="switch-info">
                        "Its firmware does not take the request over USB. The other way in: the "
                        "page opens the device's serial port at 14400 baud, which tells it to "
                        "restart in DFU mode. Chrome lists serial ports first: pick the device's."
                    </p>
                    <button
                        type="button"
                        id="serial-dfu"
                        class="primary"
                        data-testid="serial-dfu"
                        on:click=on(move |_| store.enter_dfu_by_serial())
                        disabled=flag(move || store.busy.get())
                    >
                        "Put it in DFU mode through its serial port"
                    </button>
                }
                .into_any(),
                Some(Switch::Buttons { why }) => view! {
                    <p data-testid="switch-info">
                        {format!(
                            "{why} Put it in DFU mode with its buttons: {} Then press Connect \
                             device and pick the entry whose name ends in \"DFU Mode\".",
                            wizard::dfu_buttons(platform)
                        )}
                    </p>
                }
                .into_any(),
            })}
        </div>
    }
}

/// The Core's device ID, asked for in the error panel when connecting a Core failed for want of
/// it (`report::ExtraHelp::DeviceIdNeeded`): the field, why its text is not an ID (next to it),
/// and "Use this ID and connect". The store checks the text and keeps the focus on the field.
#[component]
pub fn DeviceIdField() -> impl IntoView {
    let store = expect_context::<Store>();
    let text = RwSignal::new(store.typed_device().unwrap_or_default());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        store.connect_with_device_id(&text.get_untracked());
    };
    view! {
        <form class="stack" data-testid="device-id-form" on:submit=on(submit)>
            <div class="field">
                <label for="device-id">"Device ID of the Core"</label>
                <input
                    id="device-id"
                    data-testid="device-id"
                    autocomplete="off"
                    spellcheck="false"
                    aria-describedby="device-id-problem"
                    aria-invalid=move || {
                        if store.device_id_problem.with(Option::is_some) { "true" } else { "false" }
                    }
                    bind:value=text
                />
                {dynamic(move || {
                    store
                        .device_id_problem
                        .get()
                        .map(|(cause, hint)| {
                            view! {
                                <p
                                    class="field-error"
                                    id="device-id-problem"
                                    data-testid="device-id-problem"
                                    role="alert"
                                >
                                    {format!("{cause}. ")}
                                    {crate::ui::widgets::rich(&hint)}
                                </p>
                            }
                        })
                })}
            </div>
            <button
                type="submit"
                class="primary"
                data-testid="device-id-connect"
                disabled=flag(move || store.busy.get())
            >
                "Use this ID and connect"
            </button>
        </form>
    }
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

/// The simulated Photon: its problem, its state, and the way back to a real device. A simulated
/// Core (a `sim=core` link) has no problem to pick: it only says it is plugged in.
#[component]
fn Simulation() -> impl IntoView {
    let store = expect_context::<Store>();
    let platform = store.sim_platform.get_untracked();
    if platform != "photon" {
        let name = crate::ui::store::sim_name(platform);
        let plugged = match platform {
            "core" => {
                "A simulated Core is plugged in (in DFU mode; it does not report its device ID); \
                 nothing is sent to Particle."
            }
            _ => {
                "A simulated Electron is plugged in (in DFU mode, with blank EC keys); nothing is \
                 sent to Particle."
            }
        };
        return view! {
            <div class="sim" role="group" aria-label=format!("Simulated {name}")>
                <p class="muted" data-testid="sim-status">
                    {dynamic(move || match store.sim_status.get() {
                        SimStatus::Starting => format!("Preparing the simulated {name}…"),
                        _ => plugged.to_owned(),
                    })}
                </p>
                <LeaveSimulation/>
            </div>
        }
        .into_any();
    }
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
            <div class="field">
                <label>
                    <input
                        type="checkbox"
                        data-testid="sim-normal-mode"
                        prop:checked=flag(move || store.sim_in_normal_mode())
                        disabled=flag(move || store.fault.get().normal_mode_only())
                        on:change=on(move |ev| store.choose_sim_normal_mode(event_target_checked(&ev)))
                    />
                    " Start it in normal mode, blinking cyan"
                </label>
            </div>
            <p class="muted" data-testid="sim-status">
                {dynamic(move || match store.sim_status.get() {
                    SimStatus::Starting => "Preparing the simulated Photon…",
                    _ if store.sim_in_normal_mode() => {
                        "A simulated Photon is plugged in (in normal mode, blinking cyan); nothing is sent to Particle."
                    }
                    _ => "A simulated Photon is plugged in (in DFU mode); nothing is sent to Particle.",
                })}
            </p>
            <LeaveSimulation/>
        </div>
    }
    .into_any()
}

#[component]
fn LeaveSimulation() -> impl IntoView {
    let store = expect_context::<Store>();
    view! {
        <button
            type="button"
            class="secondary"
            data-testid="leave-simulation"
            on:click=on(move |_| store.leave_simulation())
            disabled=flag(move || store.busy.get())
        >
            "Leave the simulation"
        </button>
    }
}
