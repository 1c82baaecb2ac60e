//! Diagnose: one line per key slot and the cloud's answer (words from `doctor::report`), and the
//! redacted diagnostic report as JSON and as text.

use crate::doctor::report;
use crate::ui::erased::{dynamic, on};
use crate::ui::store::Store;
use crate::ui::widgets::download;
use leptos::prelude::*;

#[component]
pub fn DiagnoseStep() -> impl IntoView {
    let store = expect_context::<Store>();
    dynamic(move || {
        store.diagnosis.get().map(|d| {
            let region = store.test_cloud_region();
            let [private, server, address, cloud] = report::lines_for(&d, region.as_deref());
            let id = d.identity.device_id.clone();
            // The reports are written when asked for, not at every render.
            let for_json = d.clone();
            let (json_name, text_name) = (
                format!("key-rescue-report-{id}.json"),
                format!("key-rescue-report-{id}.txt"),
            );
            view! {
                <div class="step" data-testid="diagnosis">
                    <h3>"2. Diagnosis"</h3>
                    <ul class="lines">
                        <Line line=private testid="slot-private-key"/>
                        <Line line=server testid="slot-server-key"/>
                        <Line line=address testid="slot-address"/>
                        <Line line=cloud testid="cloud-status"/>
                    </ul>
                    <div class="row">
                        <button
                            type="button"
                            class="secondary"
                            data-testid="report-json"
                            on:click=on(move |_| {
                                download(&json_name, for_json.to_json().as_bytes(), "application/json")
                            })
                        >
                            "Download report (JSON)"
                        </button>
                        <button
                            type="button"
                            class="secondary"
                            data-testid="report-text"
                            on:click=on(move |_| {
                                let text = report::render_text(&d, region.as_deref());
                                download(&text_name, text.as_bytes(), "text/plain")
                            })
                        >
                            "Download report (text)"
                        </button>
                    </div>
                    <p class="muted">"The report holds no private key, password or token."</p>
                </div>
            }
        })
    })
}

#[component]
fn Line(line: report::Line, testid: &'static str) -> impl IntoView {
    view! {
        <li class=line.verdict.class() data-testid=testid>
            <span class="tag">{line.verdict.word()}</span>
            " "
            <strong>{line.title}</strong>
            ": "
            {line.text}
        </li>
    }
}
