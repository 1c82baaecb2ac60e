//! The transfer progress bar (`role=progressbar` with `aria-valuenow` in percent).

use crate::ui::erased::dynamic;
use crate::ui::store::Store;
use leptos::prelude::*;

/// Shows the current transfer's progress while one runs.
#[component]
pub fn ProgressBar() -> impl IntoView {
    let store = expect_context::<Store>();
    let percent = move || {
        store
            .progress
            .get()
            .map(|(done, total)| (u64::from(done) * 100 / u64::from(total.max(1))).min(100))
    };
    dynamic(move || {
        percent().map(|p| {
            view! {
                <div
                    class="progress"
                    role="progressbar"
                    data-testid="progress"
                    aria-label="Transfer progress"
                    aria-valuemin="0"
                    aria-valuemax="100"
                    aria-valuenow=p.to_string()
                >
                    <div class="progress-fill" style:width=format!("{p}%")></div>
                </div>
            }
        })
    })
}
