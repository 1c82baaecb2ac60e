//! The background, one click away below the steps: the LED decoder, DFU mode for each device,
//! browser advice and what the page never does. Each is a `<details>`.

use crate::ui::led::LedDecoder;
use crate::usb::webusb::BrowserSupport;
use leptos::prelude::*;

#[component]
pub fn Background() -> impl IntoView {
    view! {
        <section aria-labelledby="help-heading" class="help">
            <h2 id="help-heading">"Help"</h2>
            <LedDecoder/>
            <DfuHowTo/>
            <BrowserCheck/>
            <details>
                <summary>"What this page does and never does"</summary>
                <ul>
                    <li>
                        "It repairs a Particle device (Photon first; P1, Electron, Argon, Boron and "
                        "Core too) whose LED blinks fast cyan with short red or orange bursts: its "
                        "cloud keys are damaged, blank, or unknown to the cloud."
                    </li>
                    <li>
                        "It backs up the keys first, shows what it will change, writes only that, "
                        "checks every write, sends the device's public key to your Particle account "
                        "and waits for the device to come online."
                    </li>
                    <li>
                        "Private keys never leave your computer: they are only downloaded if you ask "
                        "for a backup. Nothing is installed."
                    </li>
                </ul>
            </details>
        </section>
    }
}

#[component]
fn BrowserCheck() -> impl IntoView {
    // A browser without WebUSB is told so in the Connect step, in the button's place.
    let usable = BrowserSupport::detect().usable();
    view! {
        <details>
            <summary>"Which browser works"</summary>
            {usable
                .then(|| {
                    view! {
                        <p class="verdict-good" data-testid="browser-support">
                            "OK: this browser can talk to USB devices (WebUSB)."
                        </p>
                    }
                })}
            <ul>
                <li>"Chrome or Edge on a computer, or Chrome on an Android phone with a USB OTG cable."</li>
                <li>"Firefox and Safari have no WebUSB; on iPhone and iPad no browser has it."</li>
                <li>"Chrome in an embedded window or an app may block USB: open the page in its own tab."</li>
            </ul>
        </details>
    }
}

#[component]
fn DfuHowTo() -> impl IntoView {
    view! {
        <details data-testid="dfu-howto">
            <summary>"Put the device in DFU mode"</summary>
            <p>"Plug it into this computer with a data USB cable, then:"</p>
            <ul>
                <li>
                    <strong>"Photon, P1: "</strong>
                    "hold SETUP, tap RESET, keep holding SETUP until the LED blinks magenta, then "
                    "yellow; release it when it blinks yellow."
                </li>
                <li>
                    <strong>"Electron, E series, Argon, Boron, Xenon: "</strong>
                    "hold MODE, tap RESET, release MODE when the LED blinks yellow."
                </li>
                <li>
                    <strong>"Core: "</strong>
                    "hold MODE, tap RST, release MODE when the LED blinks yellow (after flashing "
                    "orange)."
                </li>
            </ul>
            <p>"Blinking yellow means DFU mode. It stays there until you reset it or the repair ends."</p>
        </details>
    }
}
