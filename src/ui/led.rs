//! The LED decoder: pick the burst's colour and type how many times it blinks; the verdict says
//! what went wrong and whether this page fixes it (`doctor::led` decides, and says nothing until
//! both are given).

use crate::doctor::led::{self, LedColour};
use crate::ui::erased::{dynamic, on};
use leptos::prelude::*;

#[component]
pub fn LedDecoder() -> impl IntoView {
    let colour = RwSignal::new(String::new());
    let blinks = RwSignal::new(String::new());
    view! {
        <details data-testid="led-decoder">
            <summary>"What is the LED telling you?"</summary>
            <p>
                "While the device tries to reach the cloud its LED blinks cyan (light blue) quickly. "
                "Watch for a short burst of another colour between the cyan blinks, and count it."
            </p>
            <div class="fields">
                <div class="field">
                    <label for="led-colour">"Colour"</label>
                    <select id="led-colour" on:change=on(move |ev| colour.set(event_target_value(&ev)))>
                        <option value="">"Pick a colour"</option>
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
                {dynamic(move || match led::read(&colour.get(), &blinks.get()) {
                    None => ().into_any(),
                    Some(Err(hint)) => view! { <p class="field-error">{hint}</p> }.into_any(),
                    Some(Ok(v)) => {
                        let applies = if v.fix.page_applies() {
                            "This page can help."
                        } else {
                            "This page cannot fix that."
                        };
                        view! {
                            <p class="led-pattern" aria-hidden="true">
                                <span class="led c-cyan"></span>
                                <span class="led c-cyan"></span>
                                {(0..v.blinks.min(4))
                                    .map(|_| view! { <span class=format!("led c-{}", v.colour.name())></span> })
                                    .collect_view()}
                                <span class="led c-cyan"></span>
                            </p>
                            <p>
                                <strong>{applies}</strong>
                                " "
                                {v.summary()}
                                "."
                            </p>
                            <p>{v.next_step}</p>
                        }
                        .into_any()
                    }
                })}
            </div>
        </details>
    }
}
