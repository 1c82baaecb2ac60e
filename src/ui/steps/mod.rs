//! The repair steps, Connect → Diagnose → Back up → Plan → Repair → Verify: one view per step,
//! each shown once the store holds what it renders.

mod backup;
mod connect;
mod diagnose;
mod plan;
mod verify;

use crate::doctor::Step;
use crate::ui::erased::{dynamic, flag, on};
use crate::ui::store::{ErrorPlace, Store};
use crate::ui::widgets::{ErrorPanel, ProgressBar};
use leptos::prelude::*;

#[component]
pub fn Steps() -> impl IntoView {
    let store = expect_context::<Store>();
    view! {
        <section aria-labelledby="steps-heading" class="steps-section">
            <h2 id="steps-heading" tabindex="-1">"Repair"</h2>
            <ol class="steps" data-testid="steps" aria-label="Repair steps">
                {Step::ALL
                    .into_iter()
                    .map(|s| {
                        let current = Signal::derive(move || (store.step.get() == Some(s)).then_some("step"));
                        view! { <li aria-current=current>{s.label()}</li> }
                    })
                    .collect_view()}
            </ol>
            <p class="status" role="status" aria-live="polite">
                {dynamic(move || store.busy.get().then_some("Working…"))}
            </p>
            {dynamic(move || {
                store
                    .busy
                    .get()
                    .then(|| {
                        view! {
                            <button
                                type="button"
                                data-testid="cancel"
                                on:click=on(move |_| store.cancel())
                                disabled=flag(move || store.cancelling.get())
                            >
                                {dynamic(move || {
                                    if store.cancelling.get() { "Stopping…" } else { "Cancel" }
                                })}
                            </button>
                        }
                    })
            })}
            <ProgressBar/>
            <connect::ConnectStep/>
            <ErrorPanel place=ErrorPlace::Steps/>
            <diagnose::DiagnoseStep/>
            <backup::BackupStep/>
            <plan::PlanStep/>
            <verify::VerifyStep/>
        </section>
    }
}
