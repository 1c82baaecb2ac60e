//! The LED decoder: pick the burst's colour and type how many times it blinks; the verdict says
//! what went wrong and whether this page fixes it (`doctor::led` decides).

use crate::doctor::led::{self, LedColour};
use crate::ui::erased::{dynamic, on};
use leptos::prelude::*;

#[component]
pub fn LedDecoder() -> impl IntoView {
    let colour = RwSignal::new(LedColour::Red);
    let blinks = RwSignal::new(String::from("1"));
    let verdict = move || {
        let count = blinks.get().trim().parse::<u8>().unwrap_or(1);
        led::decode(colour.get(), count)
    };
    view! {
        <section aria-labelledby="led-heading" data-testid="led-decoder">
            <h2 id="led-heading">"What is the LED telling you?"</h2>
            <p>
                "While the device tries to reach the cloud its LED blinks cyan (light blue) quickly. "
                "Watch for a short burst of another colour between the cyan blinks, and count it."
            </p>
            <div class="fields">
                <div class="field">
                    <label for="led-colour">"Colour"</label>
                    <select
                        id="led-colour"
                        on:change=on(move |ev| {
                            if let Some(c) = LedColour::from_name(&event_target_value(&ev)) {
                                colour.set(c);
                            }
                        })
                    >
                        {LedColour::ALL
                            .into_iter()
                            .map(|c| view! { <option value=c.name()>{c.label()}</option> })
                            .collect_view()}
                    </select>
                </div>
                <div class="field">
                    <label for="led-blinks">"Blinks"</label>
                    <input
                        id="led-blinks"
                        type="number"
                        inputmode="numeric"
                        min="1"
                        max="9"
                        bind:value=blinks
                    />
                </div>
            </div>
            <div class="verdict" data-testid="led-verdict" aria-live="polite">
                {dynamic(move || {
                    let v = verdict();
                    let applies = if v.fix.page_applies() {
                        "This page can help."
                    } else {
                        "This page cannot fix that."
                    };
                    view! {
                        <p>
                            <strong>{applies}</strong>
                            " "
                            {v.summary()}
                            "."
                        </p>
                        <p>{v.next_step}</p>
                    }
                })}
            </div>
        </section>
    }
}
