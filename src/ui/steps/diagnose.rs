//! Diagnose: which device, one line per key slot and the cloud's answer (words from
//! `doctor::report`), and the redacted diagnostic report as JSON and as text.

use crate::doctor::{report, wizard};
use crate::ui::erased::{dynamic, on};
use crate::ui::store::Store;
use crate::ui::widgets::{download, rich};
use leptos::prelude::*;

pub fn summary(store: Store) -> String {
    store
        .diagnosis
        .get()
        .map(|d| {
            wizard::diagnosis_summary(&report::lines_for(&d, store.test_cloud_region().as_deref()))
        })
        .unwrap_or_default()
}

pub fn body(store: Store) -> AnyView {
    dynamic(move || {
        let identity = store.identity.get().map(|id| {
            view! {
                <p class="identity" data-testid="identity">
                    <strong>{id.platform_name}</strong>
                    " " <code>{id.device_id}</code>
                    {dynamic(move || if store.connected.get() { " in DFU mode." } else { " (disconnected)." })}
                </p>
            }
        });
        // Connected, but the diagnosis failed before it read the keys: the one way on.
        let again = (store.diagnosis.get().is_none()
            && store.identity.get().is_some()
            && store.connected.get()
            && !store.busy.get())
        .then(|| {
            view! {
                <button type="button" data-testid="diagnose-again" on:click=on(move |_| store.diagnose_again())>
                    "Read the keys again"
                </button>
            }
        });
        let lines = store.diagnosis.get().map(|d| {
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
                <div data-testid="diagnosis">
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
        });
        (identity, again, lines)
    })
    .into_any()
}

#[component]
fn Line(line: report::Line, testid: &'static str) -> impl IntoView {
    view! {
        <li class=line.verdict.class() data-testid=testid>
            <span class="tag">{line.verdict.word()}</span>
            " "
            <strong>{line.title}</strong>
            ": "
            {rich(&line.text)}
        </li>
    }
}
