//! Repair and Verify: what was written and sent, whether the cloud reports the device online, and
//! "Repair another device".

use crate::doctor::report;
use crate::ui::erased::{dynamic, on};
use crate::ui::store::Store;
use leptos::prelude::*;

#[component]
pub fn VerifyStep() -> impl IntoView {
    let store = expect_context::<Store>();
    view! {
        {dynamic(move || {
            store
                .repair
                .get()
                .map(|r| {
                    view! {
                        <div class="step">
                            <h3>"5. Repair"</h3>
                            <p data-testid="repair-result">{report::repair_summary(&r)}</p>
                        </div>
                    }
                })
        })}
        {dynamic(move || {
            store
                .verify
                .get()
                .map(|v| {
                    let (headline, next) = report::verify_summary(&v);
                    view! {
                        <div class="step">
                            <h3>"6. Verify"</h3>
                            <div data-testid="verify-result" role="status">
                                <p><strong>{headline}</strong></p>
                                <ul>{next.into_iter().map(|n| view! { <li>{n}</li> }).collect_view()}</ul>
                            </div>
                            <button
                                type="button"
                                data-testid="repair-another"
                                on:click=on(move |_| store.repair_another())
                            >
                                "Repair another device"
                            </button>
                        </div>
                    }
                })
        })}
    }
}
