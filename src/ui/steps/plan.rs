//! Plan: what the repair will do, the options that change it, and the Repair button the user
//! presses to confirm.

use crate::doctor::{AfterFailure, report, wizard};
use crate::ui::erased::{dynamic, flag, on};
use crate::ui::store::Store;
use crate::ui::widgets::rich;
use leptos::prelude::*;

pub fn summary(store: Store) -> String {
    store
        .plan
        .with(|p| p.as_ref().map(|p| wizard::plan_summary(p.actions.len())))
        .unwrap_or_default()
}

pub fn body(store: Store) -> AnyView {
    view! {
        {dynamic(move || {
            (store.after_failure.get() == Some(AfterFailure::Unchanged))
                .then(|| {
                    view! {
                        <p class="notice" data-testid="after-failure">
                            {report::after_failure_text(&AfterFailure::Unchanged)}
                        </p>
                    }
                })
        })}
        {dynamic(move || {
            store.plan.get().map(|plan| {
                let empty = plan.is_empty();
                view! {
                    <div data-testid="plan">
                        {(!plan.actions.is_empty())
                            .then(|| {
                                view! {
                                    <ol class="actions">
                                        {plan
                                            .actions
                                            .iter()
                                            .map(|a| view! { <li>{a.describe()}</li> })
                                            .collect_view()}
                                    </ol>
                                }
                            })}
                        {empty.then_some(view! { <p>"Nothing needs to change on this device."</p> })}
                        {plan
                            .blocked
                            .map(|b| {
                                view! { <p class="verdict-problem">{report::plan_block_text(&b)}</p> }
                            })}
                        {plan.notes.iter().map(|n| view! { <p class="muted">{rich(n)}</p> }).collect_view()}
                    </div>
                }
            })
        })}
        <div class="check">
            <input
                id="force-new-key"
                type="checkbox"
                data-testid="force-new-key"
                prop:checked=flag(move || store.options.get().force_new_key)
                on:change=on(move |ev| store.set_force_new_key(event_target_checked(&ev)))
            />
            <label for="force-new-key">"Write a new key pair even if the current key is valid"</label>
        </div>
        <div class="check">
            <input
                id="send-later"
                type="checkbox"
                data-testid="send-later"
                prop:checked=flag(move || store.options.get().send_later)
                on:change=on(move |ev| store.set_send_later(event_target_checked(&ev)))
            />
            <label for="send-later">"Repair now, send the key later"</label>
        </div>
        <button
            type="button"
            id="repair"
            class="primary"
            data-testid="repair"
            disabled=flag(move || !wizard::can_repair(&store.facts()))
            on:click=on(move |_| store.repair())
        >
            "Repair"
        </button>
    }
    .into_any()
}
