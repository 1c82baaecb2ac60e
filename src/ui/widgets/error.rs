//! The error panel: what happened, what to do next, and the help that fits the cause.

use crate::doctor::report::{ExtraHelp, UDEV_RULE};
use crate::ui::erased::{dynamic, flag, on};
use crate::ui::store::{ErrorPlace, Store};
use crate::ui::widgets::rich;
use leptos::prelude::*;

/// Shows the store's error if it belongs to `place`.
#[component]
pub fn ErrorPanel(place: ErrorPlace) -> impl IntoView {
    let store = expect_context::<Store>();
    dynamic(move || {
        let (at, help) = store.error.get()?;
        (at == place).then(|| {
            view! {
                <div class="error" id="error" tabindex="-1" role="alert" data-testid="error">
                    <p class="error-cause" data-testid="error-cause">{rich(&sentence(&help.cause))}</p>
                    <p data-testid="error-hint">{rich(&help.hint)}</p>
                    {help.extra.map(|extra| view! { <ExtraPanel extra=extra/> })}
                </div>
            }
        })
    })
}

#[component]
fn ExtraPanel(extra: ExtraHelp) -> impl IntoView {
    let store = expect_context::<Store>();
    let reconnect = move || {
        view! {
            <button
                type="button"
                data-testid="reconnect"
                on:click=on(move |_| store.reconnect())
                disabled=flag(move || store.busy.get())
            >
                "Reconnect"
            </button>
        }
    };
    match extra {
        ExtraHelp::UsbPermissions => view! {
            <div>
                <h3>"Windows"</h3>
                <p>
                    "Chrome needs the WinUSB driver for the device. Particle devices ask Windows for "
                    "it themselves (Windows 10 and later install nothing else). If you once used "
                    "Zadig, or old forum advice, to install libusbK or libusb0, that driver now holds "
                    "the device and Chrome cannot open it. Remove it: in Device Manager, show hidden "
                    "devices, right-click each entry of the device (in DFU mode and in normal mode), "
                    "choose Uninstall device and tick \"Delete the driver software for this device\", "
                    "then unplug and replug it."
                </p>
                <h3>"Linux"</h3>
                <p>
                    "Chrome opens the USB device node itself, so your user needs access to it. "
                    "Save these lines as " <code>"/etc/udev/rules.d/50-particle.rules"</code>
                    " (or run " <code>"particle udev"</code> "), then unplug and replug the device:"
                </p>
                <pre class="code" data-testid="udev-rule" tabindex="0">{UDEV_RULE}</pre>
                {reconnect()}
            </div>
        }
        .into_any(),
        ExtraHelp::InterfaceBusy => view! {
            <div>
                <p>
                    "Another program or browser tab is using the device: close other tabs of this "
                    "page or of Particle's web tools, quit dfu-util and the Particle CLI "
                    "(" <code>"particle serial monitor"</code> " included), then reconnect."
                </p>
                {reconnect()}
            </div>
        }
        .into_any(),
        // The hint above already says how to get back to DFU mode: the button, not the advice
        // twice.
        ExtraHelp::NotInDfuMode
        | ExtraHelp::Disconnected
        | ExtraHelp::StoppedAnswering
        | ExtraHelp::RestoreNeeded => {
            view! { <div>{reconnect()}</div> }.into_any()
        }
        ExtraHelp::WrongDevice => {
            let expected = store.link.with_value(|l| l.expected_device.clone()).unwrap_or_default();
            view! {
                <div>
                    <p class="mismatch" data-testid="device-mismatch">
                        {dynamic(move || store.error.get().map(|(_, h)| h.cause).unwrap_or_default())}
                        " The support link is for device " <strong>{expected.clone()}</strong>
                        ". Nothing was read or written."
                    </p>
                    {reconnect()}
                </div>
            }
            .into_any()
        }
        ExtraHelp::DeviceIdNeeded => {
            view! { <crate::ui::steps::connect::DeviceIdField/> }.into_any()
        }
        ExtraHelp::NoDevicePicked => view! {
            <div data-testid="no-device-checklist">
                <ul class="checklist">
                    <li>"Is the LED blinking yellow? Only a device in DFU mode is listed."</li>
                    <li>"Is the cable a data cable? Charge-only cables are common: try another one."</li>
                    <li>"Try another USB port, without a hub."</li>
                    <li>
                        "Windows: a driver once installed with Zadig (libusbK, libusb0) hides the "
                        "device from Chrome: uninstall it in Device Manager and replug."
                    </li>
                    <li>
                        "Linux: your user needs Particle's udev rule, saved as "
                        <code>"/etc/udev/rules.d/50-particle.rules"</code> ":"
                        <pre class="code" tabindex="0">{UDEV_RULE}</pre>
                    </li>
                    <li>"Close other programs that use the device: dfu-util, the Particle CLI, other tabs."</li>
                </ul>
                <button
                    type="button"
                    class="primary"
                    data-testid="try-again"
                    on:click=on(move |_| store.try_again())
                    disabled=flag(move || store.busy.get())
                >
                    "Try again"
                </button>
            </div>
        }
        .into_any(),
    }
}

/// A cause (an error's `Display`, with no final period) as a sentence.
fn sentence(text: &str) -> String {
    match text.ends_with(['.', '!', '?']) {
        true => text.to_owned(),
        false => format!("{text}."),
    }
}
