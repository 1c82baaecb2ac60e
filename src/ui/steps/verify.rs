//! Repair and Verify: what was written and sent (or, after a failed write, the one ordered way
//! back: reconnect, then restore or retry), whether the cloud reports the device online, and
//! "Repair another device".

use crate::doctor::wizard::{self, Recovery};
use crate::doctor::{AfterFailure, report};
use crate::ui::erased::{dynamic, flag, on};
use crate::ui::store::Store;
use leptos::prelude::*;

pub fn repair_summary(store: Store) -> String {
    store
        .repair
        .with(|r| r.as_ref().map(report::repair_summary))
        .unwrap_or_default()
}

pub fn repair_body(store: Store) -> AnyView {
    dynamic(move || {
        if let Some(r) = store.repair.get() {
            return view! { <p data-testid="repair-result">{report::repair_summary(&r)}</p> }.into_any();
        }
        let after = store.after_failure.get();
        let failed = store.needs_restore.get() || after.is_some();
        if !failed || store.busy.get() {
            return ().into_any();
        }
        let changed = after.map(|a| matches!(a, AfterFailure::Changed { .. }));
        match wizard::recovery(&store.facts(), changed) {
            Recovery::Reconnect => view! {
                <ol class="path" data-testid="recovery">
                    <li aria-current="step">
                        "Plug the device back in, put it in DFU mode (blinking yellow) and press "
                        "Reconnect: the page reads the key slots back."
                    </li>
                    <li>"Then the page offers to restore the backup, or to repair again if nothing changed."</li>
                </ol>
            }
            .into_any(),
            Recovery::Restore => view! {
                <div class="notice" data-testid="after-failure">
                    <p>{after.as_ref().map(report::after_failure_text)}</p>
                    <button
                        type="button"
                        id="restore-backup"
                        class="primary"
                        data-testid="restore-backup"
                        on:click=on(move |_| store.restore_backup())
                        disabled=flag(move || store.busy.get())
                    >
                        "Restore backup"
                    </button>
                </div>
            }
            .into_any(),
            Recovery::Retry => ().into_any(),
        }
    })
    .into_any()
}

pub fn verify_summary(store: Store) -> String {
    store
        .verify
        .with(|v| v.as_ref().map(|v| report::verify_summary(v).0))
        .unwrap_or_default()
}

pub fn verify_body(store: Store) -> AnyView {
    dynamic(move || {
        store.verify.get().map(|v| {
            let (headline, next) = report::verify_summary(&v);
            view! {
                <div data-testid="verify-result">
                    <p><strong>{headline}</strong></p>
                    <ul>{next.into_iter().map(|n| view! { <li>{n}</li> }).collect_view()}</ul>
                </div>
                <button
                    type="button"
                    id="repair-another"
                    data-testid="repair-another"
                    on:click=on(move |_| store.repair_another())
                >
                    "Repair another device"
                </button>
            }
        })
    })
    .into_any()
}
