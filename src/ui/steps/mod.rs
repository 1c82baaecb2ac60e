//! The repair wizard, Connect → Diagnose → Back up → Plan → Repair → Verify: the step indicator,
//! then one panel per step. Only the open step is shown whole; finished steps before it fold to
//! one line (a `<details>` the user may open again); later steps are not shown. Which step is
//! open, and what is done, is `doctor::wizard`'s decision.

mod backup;
pub(crate) mod connect;
mod diagnose;
mod plan;
mod verify;

use crate::doctor::Step;
use crate::doctor::wizard::{self, Mark};
use crate::ui::erased::{Dynamic, dynamic, flag, on};
use crate::ui::store::{ErrorPlace, Store, VERIFY_TIMEOUT_MS};
use crate::ui::widgets::{ErrorPanel, ProgressBar};
use leptos::prelude::*;

#[component]
pub fn Steps() -> impl IntoView {
    let store = expect_context::<Store>();
    let opened = Memo::new(move |_| store.open_step());
    view! {
        <section aria-labelledby="steps-heading" class="wizard">
            <h2 id="steps-heading" class="sr-only" tabindex="-1">"Repair steps"</h2>
            <ol class="steps" data-testid="steps" aria-label="Repair steps">
                {dynamic(move || {
                    let f = store.facts();
                    let open = store.open_step();
                    Step::ALL
                        .into_iter()
                        .map(|s| {
                            let m = wizard::mark(&f, s, open);
                            view! {
                                <li
                                    class=match m {
                                        Mark::Done => "done",
                                        Mark::Current => "current",
                                        Mark::Upcoming => "upcoming",
                                    }
                                    aria-current=(m == Mark::Current).then_some("step")
                                >
                                    {s.label()}
                                    {(m == Mark::Done).then_some(view! { <span class="sr-only">" (done)"</span> })}
                                </li>
                            }
                        })
                        .collect_view()
                })}
            </ol>
            // The step that opens is announced once (the panels' own text is not live).
            <p class="sr-only" role="status" data-testid="step-status">
                {dynamic(move || {
                    let open = opened.get();
                    let n = Step::ALL.iter().position(|s| *s == open).unwrap_or(0) + 1;
                    format!("Step {n} of 6: {}.", open.label())
                })}
            </p>
            {panel(store, Step::Connect, connect::summary, connect::body)}
            {panel(store, Step::Diagnose, diagnose::summary, diagnose::body)}
            {panel(store, Step::BackUp, backup::summary, backup::body)}
            {panel(store, Step::Plan, plan::summary, plan::body)}
            {panel(store, Step::Repair, verify::repair_summary, verify::repair_body)}
            {panel(store, Step::Verify, verify::verify_summary, verify::verify_body)}
        </section>
    }
}

/// One step's panel: open (heading, body, what runs, the error, Back and Continue), folded to
/// its summary line once done, or nothing while upcoming.
fn panel(
    store: Store,
    step: Step,
    summary: fn(Store) -> String,
    body: fn(Store) -> AnyView,
) -> Dynamic {
    let mark = Memo::new(move |_| wizard::mark(&store.facts(), step, store.open_step()));
    let number = Step::ALL.iter().position(|s| *s == step).unwrap_or(0) + 1;
    dynamic(move || match mark.get() {
        Mark::Current => view! {
            <div class="step open" data-testid="open-step">
                <h3 id="open-step" tabindex="-1">{format!("{number}. {}", step.label())}</h3>
                {body(store)}
                <Working/>
                <ErrorPanel place=ErrorPlace::Steps/>
                <Nav/>
            </div>
        }
        .into_any(),
        Mark::Done => view! {
            <details class="step done">
                <summary>
                    <span aria-hidden="true">"✓ "</span>
                    <strong>{step.label()}</strong>
                    ": "
                    {dynamic(move || summary(store))}
                </summary>
                {body(store)}
            </details>
        }
        .into_any(),
        Mark::Upcoming => ().into_any(),
    })
}

/// While a step runs: what the page does, Cancel, and the transfer's progress.
#[component]
fn Working() -> impl IntoView {
    let store = expect_context::<Store>();
    dynamic(move || {
        // A sign-in shows its own Cancel in the sign-in form.
        (store.busy.get() && !store.signing.get()).then(|| {
            view! {
                <div class="working">
                    <p class="status">
                        <span class="spinner" aria-hidden="true"></span>
                        {dynamic(move || {
                            if store.cancelling.get() {
                                "Stopping before the next step…".to_owned()
                            } else if store.step.get() == Some(Step::Verify) {
                                format!(
                                    "Waiting for the cloud: {} s of up to {} s. The device restarts; \
                                     its LED blinks green, then fast cyan, and breathes cyan once \
                                     it is connected.",
                                    store.waited_s.get(),
                                    VERIFY_TIMEOUT_MS / 1000
                                )
                            } else {
                                store.log.with(|l| l.last().cloned()).unwrap_or_default()
                            }
                        })}
                    </p>
                    <button
                        type="button"
                        class="secondary"
                        data-testid="cancel"
                        on:click=on(move |_| store.cancel())
                        disabled=flag(move || store.cancelling.get())
                    >
                        "Cancel"
                    </button>
                    <ProgressBar/>
                </div>
            }
        })
    })
}

/// "Continue" to the next step and "Back", where the wizard allows them.
#[component]
fn Nav() -> impl IntoView {
    let store = expect_context::<Store>();
    dynamic(move || {
        let f = store.facts();
        let open = store.open_step();
        let next = wizard::next(&f, open);
        let back = wizard::back(&f, open);
        view! {
            <div class="row nav">
                {next.map(|to| view! {
                    <button type="button" data-testid="continue" on:click=on(move |_| store.go(to))>
                        {format!("Continue to {}", to.label())}
                    </button>
                })}
                {back.map(|to| view! {
                    <button type="button" class="secondary" data-testid="back" on:click=on(move |_| store.go(to))>
                        "Back"
                    </button>
                })}
            </div>
        }
    })
}
