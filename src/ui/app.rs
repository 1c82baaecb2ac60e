use crate::doctor::{self, DoctorEvent, Step};
use crate::sim::device::SimDevice;
use crate::usb::webusb::BrowserSupport;
use leptos::prelude::*;
use leptos::task::spawn_local;

/// The whole page.
#[component]
pub fn App() -> impl IntoView {
    let support = BrowserSupport::detect();
    let log = RwSignal::new(Vec::<String>::new());
    let step = RwSignal::new(None::<Step>);

    let try_simulated = move |_| {
        log.set(vec![
            "Connecting to a simulated Photon in DFU mode…".to_owned(),
        ]);
        spawn_local(async move {
            let mut device = SimDevice::photon();
            let mut on_event = |event: DoctorEvent| match event {
                DoctorEvent::Step(s) => step.set(Some(s)),
                DoctorEvent::Log(line) => log.update(|l| l.push(line)),
                DoctorEvent::Progress { .. } => {}
            };
            let result = doctor::probe(&mut device, &mut on_event).await;
            let line = match result {
                Ok(state) => format!("Simulated Photon ready ({state:?})."),
                Err(e) => format!("{e}. {}", e.hint()),
            };
            log.update(|l| l.push(line));
        });
    };

    view! {
        <header>
            <h1>"Key Rescue"</h1>
            <p class="lede">
                "Fixes a Particle Photon that blinks fast cyan with short red or orange bursts and "
                "never reaches the cloud: it repairs the device's cloud keys over USB, right here in "
                "Chrome, with nothing to install."
            </p>
        </header>
        <main>
            <section aria-labelledby="browser-check">
                <h2 id="browser-check">"Your browser"</h2>
                <p data-testid="browser-support">
                    {if support.usable() {
                        "This browser can talk to USB devices (WebUSB)."
                    } else if !support.secure_context {
                        "This page must be opened over https (or from 127.0.0.1) to use USB."
                    } else {
                        "This browser cannot talk to USB devices: use Chrome or Edge on a computer \
                         or an Android phone."
                    }}
                </p>
            </section>
            <section aria-labelledby="steps">
                <h2 id="steps">"Steps"</h2>
                <ol class="steps">
                    {Step::ALL
                        .into_iter()
                        .map(|s| {
                            let current = move || step.get() == Some(s);
                            view! {
                                <li aria-current=move || current().then_some("step")>
                                    {s.label()}
                                </li>
                            }
                        })
                        .collect_view()}
                </ol>
                <button data-testid="try-simulated" on:click=try_simulated>
                    "Try with a simulated Photon"
                </button>
                <pre data-testid="log" aria-live="polite">{move || log.get().join("\n")}</pre>
            </section>
        </main>
    }
}
