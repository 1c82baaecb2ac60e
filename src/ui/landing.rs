//! The landing: what the page fixes, the browser check, DFU mode for each device, and the
//! simulated Photon with its fault picker.

use crate::sim::faults::Fault;
use crate::ui::erased::{dynamic, flag, on};
use crate::ui::led::LedDecoder;
use crate::ui::store::{ErrorPlace, SimStatus, Store};
use crate::ui::widgets::ErrorPanel;
use crate::usb::webusb::BrowserSupport;
use leptos::prelude::*;

#[component]
pub fn Landing() -> impl IntoView {
    view! {
        <section aria-labelledby="fixes-heading">
            <h2 id="fixes-heading">"What this page fixes"</h2>
            <ul>
                <li>
                    "A Particle device (Photon first; P1, Electron, Argon, Boron and Core too) whose "
                    "LED blinks fast cyan with short red or orange bursts and never breathes cyan: "
                    "its cloud keys are damaged, blank, or unknown to the cloud."
                </li>
                <li>
                    "It backs up the keys first, shows what it will change, writes only that, checks "
                    "every write, sends the device's public key to your Particle account and waits "
                    "for the device to come online."
                </li>
                <li>
                    "Private keys never leave your computer: they are only downloaded if you ask "
                    "for a backup."
                </li>
            </ul>
        </section>
        <LedDecoder/>
        <BrowserCheck/>
        <DfuHowTo/>
        <TrySimulated/>
    }
}

#[component]
fn BrowserCheck() -> impl IntoView {
    let support = BrowserSupport::detect();
    let (class, text) = if support.usable() {
        (
            "verdict-good",
            "OK: this browser can talk to USB devices (WebUSB).",
        )
    } else if !support.secure_context {
        (
            "verdict-problem",
            "Problem: this page must be opened over https (or from 127.0.0.1) to use USB.",
        )
    } else {
        (
            "verdict-problem",
            "Problem: this browser cannot talk to USB devices. Use Chrome or Edge on a computer, \
             or Chrome on an Android phone.",
        )
    };
    view! {
        <section aria-labelledby="browser-heading">
            <h2 id="browser-heading">"Your browser"</h2>
            <p class=class data-testid="browser-support">{text}</p>
            <ul>
                <li>"Firefox and Safari have no WebUSB: open this page in Chrome or Edge."</li>
                <li>
                    "iPhone and iPad: every browser there is Safari inside, so none can; use a "
                    "computer or an Android phone with a USB OTG cable."
                </li>
                <li>"Chrome in an embedded window or an app may block USB: open the page in its own tab."</li>
            </ul>
        </section>
    }
}

#[component]
fn DfuHowTo() -> impl IntoView {
    view! {
        <section aria-labelledby="dfu-heading" data-testid="dfu-howto">
            <h2 id="dfu-heading">"Put the device in DFU mode"</h2>
            <p>"Plug it into this computer with a data USB cable, then:"</p>
            <ul>
                <li>
                    <strong>"Photon, P1: "</strong>
                    "hold SETUP, tap RESET, keep holding SETUP until the LED blinks magenta, then "
                    "yellow; release it when it blinks yellow."
                </li>
                <li>
                    <strong>"Electron, E series: "</strong>
                    "hold MODE, tap RESET, release MODE when the LED blinks yellow."
                </li>
                <li>
                    <strong>"Argon, Boron, Xenon: "</strong>
                    "hold MODE, tap RESET, release MODE when the LED blinks yellow."
                </li>
                <li>
                    <strong>"Core: "</strong>
                    "hold MODE, tap RST, release MODE when the LED blinks yellow (after flashing "
                    "orange)."
                </li>
            </ul>
            <p>"Blinking yellow means DFU mode. It stays there until you reset it or the repair ends."</p>
        </section>
    }
}

#[component]
fn TrySimulated() -> impl IntoView {
    let store = expect_context::<Store>();
    view! {
        <section aria-labelledby="sim-heading">
            <h2 id="sim-heading">"No device at hand?"</h2>
            <p>
                "Try the whole repair on a simulated Photon, with the problem of your choice. It "
                "uses a simulated cloud: nothing is sent to Particle."
            </p>
            <div class="fields">
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
            </div>
            <button
                type="button"
                data-testid="try-simulated"
                disabled=flag(move || store.sim_status.get() == SimStatus::Starting)
                on:click=on(move |_| store.start_simulation())
            >
                "Try with a simulated Photon"
            </button>
            <p role="status" class="muted">
                {dynamic(move || match store.sim_status.get() {
                    SimStatus::Off => "",
                    SimStatus::Starting => "Preparing the simulated Photon…",
                    SimStatus::Ready => "A simulated Photon is plugged in (in DFU mode).",
                })}
            </p>
            <ErrorPanel place=ErrorPlace::Simulation/>
        </section>
    }
}
