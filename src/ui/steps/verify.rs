//! Repair and Verify: what was written and sent (or, after a failed write, the one ordered way
//! back: reconnect, then restore or retry), whether the cloud reports the device online, and
//! "Repair another device".

use crate::doctor::wizard::{self, Recovery};
use crate::doctor::{AfterFailure, SendOutcome, VerifyOutcome, report};
use crate::ui::erased::{dynamic, flag, on};
use crate::ui::store::Store;
use crate::ui::widgets::rich;
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
            return view! { <p data-testid="repair-result">{rich(&report::repair_summary(&r))}</p> }
                .into_any();
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
        let v = store.verify.get()?;
        let another = view! {
            <button
                type="button"
                id="repair-another"
                class="secondary"
                data-testid="repair-another"
                on:click=on(move |_| store.repair_another())
            >
                "Repair another device"
            </button>
        };
        let unsent = store
            .repair
            .with(|r| r.as_ref().is_some_and(|r| r.send != SendOutcome::Sent));
        if unsent {
            return Some(view! { <SendLater/> {another} }.into_any());
        }
        if let VerifyOutcome::Online { last_handshake_at } = &v {
            return Some(view! { <Success at=last_handshake_at.clone()/> {another} }.into_any());
        }
        let (headline, next) = report::verify_summary(&v);
        // Waiting again helps when the cloud answered "offline", or stopped answering.
        let can_wait = matches!(
            v,
            VerifyOutcome::StayedOffline { .. }
                | VerifyOutcome::StoppedWaiting { .. }
                | VerifyOutcome::CouldNotCheck { .. }
        );
        Some(
            view! {
                <div data-testid="verify-result">
                    <p><strong>{headline}</strong></p>
                    {witness(store)}
                    {can_wait
                        .then(|| {
                            view! {
                                <button
                                    type="button"
                                    id="wait-longer"
                                    class="primary"
                                    data-testid="wait-longer"
                                    on:click=on(move |_| store.wait_longer())
                                    disabled=flag(move || store.busy.get())
                                >
                                    "Wait longer"
                                </button>
                            }
                        })}
                    <h4>"What to check"</h4>
                    <ul>{next.into_iter().map(|n| view! { <li>{rich(&n)}</li> }).collect_view()}</ul>
                </div>
                {another}
            }
            .into_any(),
        )
    })
    .into_any()
}

/// The success screen: the device by name, when it connected (local time), each slot before →
/// after.
#[component]
fn Success(at: Option<String>) -> impl IntoView {
    let store = expect_context::<Store>();
    let d = store.diagnosis.get_untracked();
    let name = d
        .as_ref()
        .and_then(|d| d.cloud_device.as_ref()?.name.clone())
        .or_else(|| store.identity.get_untracked().map(|i| i.device_id))
        .unwrap_or_default();
    let changes = match (d, store.repair.get_untracked()) {
        (Some(d), Some(r)) => wizard::slot_changes(
            &report::lines_for(&d, store.test_cloud_region().as_deref()),
            &r.written,
            r.send == SendOutcome::Sent,
        ),
        _ => Vec::new(),
    };
    view! {
        <div class="success" data-testid="verify-result">
            <p class="success-head">
                <span aria-hidden="true">"✓ "</span>
                <strong data-testid="device-name">{name}</strong>
                " is online: the cloud accepted its keys at "
                <time>{local_time(at.as_deref())}</time>
                "."
            </p>
            <p>"Its LED should be breathing cyan."</p>
            {witness(store)}
            <table class="changes" data-testid="slot-changes">
                <caption class="sr-only">"Each key slot before and after the repair"</caption>
                <thead><tr><th scope="col">"Slot"</th><th scope="col">"Before"</th><th scope="col">"After"</th></tr></thead>
                <tbody>
                    {changes
                        .into_iter()
                        .map(|c| view! { <tr><th scope="row">{c.title}</th><td>{c.before}</td><td>{c.after}</td></tr> })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// `iso` (the cloud's time) in the user's local time; now, if the cloud gave none.
fn local_time(iso: Option<&str>) -> String {
    let date = match iso {
        Some(t) => js_sys::Date::new(&t.into()),
        None => js_sys::Date::new_0(),
    };
    let date = if date.get_time().is_nan() {
        js_sys::Date::new_0()
    } else {
        date
    };
    String::from(date.to_locale_string("default", &wasm_bindgen::JsValue::UNDEFINED))
}

/// After a repair that did not send the key: the device holds its repaired key, the cloud does
/// not know it yet; once signed in, "Send the key now" (the key read back from the device).
#[component]
fn SendLater() -> impl IntoView {
    let store = expect_context::<Store>();
    view! {
        <div class="notice" data-testid="verify-result">
            <p>
                <strong>"The device left DFU mode with its repaired keys, but the cloud does not have its public key yet."</strong>
                " It connects once the cloud has it; the page kept the key it read back from the device."
            </p>
            {dynamic(move || {
                if store.signed_in.get().is_some() {
                    view! {
                        <button
                            type="button"
                            id="send-now"
                            class="primary"
                            data-testid="send-now"
                            on:click=on(move |_| store.send_key_now())
                            disabled=flag(move || store.busy.get())
                        >
                            "Send the key now"
                        </button>
                    }
                    .into_any()
                } else {
                    view! {
                        <p data-testid="send-now-sign-in">
                            <a href="#signin-heading">"Sign in"</a>
                            " with the account that owns the device: the page then offers to send the key."
                        </p>
                    }
                    .into_any()
                }
            })}
        </div>
    }
}

/// The device's own view of its cloud connection (request 300), when the page could ask it.
fn witness(store: Store) -> AnyView {
    dynamic(move || {
        let status = store.device_status.get()?;
        Some(view! { <p data-testid="device-witness">{report::device_status_sentence(status)}</p> })
    })
    .into_any()
}
