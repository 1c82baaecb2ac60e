//! Browser tests of the page shell, run by wasm-bindgen-test in headless Chromium.
//!
//! `scripts/test` runs them with `cargo test --target wasm32-unknown-unknown --test web`.
#![cfg(target_arch = "wasm32")]

use key_rescue::usb::webusb::BrowserSupport;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn document() -> web_sys::Document {
    web_sys::window().unwrap().document().unwrap()
}

/// Lets spawned futures and the renderer run.
async fn tick(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .unwrap();
    });
    JsFuture::from(promise).await.unwrap();
}

#[wasm_bindgen_test]
fn loopback_page_is_a_secure_context_with_webusb() {
    // The test runner serves on http://127.0.0.1, which Chromium treats as secure.
    let support = BrowserSupport::detect();
    assert!(support.secure_context);
    assert!(support.webusb);
    assert!(support.usable());
}

#[wasm_bindgen_test]
fn a_browser_without_webusb_is_detected() {
    let navigator = web_sys::window().unwrap().navigator();
    let descriptor = js_sys::Object::new();
    js_sys::Reflect::set(&descriptor, &"value".into(), &JsValue::UNDEFINED).unwrap();
    js_sys::Reflect::set(&descriptor, &"configurable".into(), &JsValue::TRUE).unwrap();
    js_sys::Object::define_property(&navigator, &"usb".into(), &descriptor);
    let without = BrowserSupport::detect();
    // Deleting the own property brings the built-in getter back (webusb.md, 9).
    js_sys::Reflect::delete_property(&navigator, &"usb".into()).unwrap();
    assert!(!without.webusb);
    assert!(!without.usable());
    assert!(BrowserSupport::detect().webusb);
}

#[wasm_bindgen_test]
fn browser_csprng_generates_a_firmware_sized_pkcs1_key() {
    let key = key_rescue::keys::generate_rsa_device_key().unwrap();
    assert!(
        (600..=612).contains(&key.der().len()),
        "{} bytes",
        key.der().len()
    );
    assert_eq!(&key.der()[4..7], &[0x02, 0x01, 0x00]);
    let other = key_rescue::keys::generate_rsa_device_key().unwrap();
    assert_ne!(
        key.der(),
        other.der(),
        "two keys from the CSPRNG must differ"
    );
}

/// Mounts the whole page in a fresh element; the handle unmounts it when dropped.
fn mount_app() -> (web_sys::Element, impl Drop) {
    let host = document().create_element("div").unwrap();
    document().body().unwrap().append_child(&host).unwrap();
    let handle = leptos::mount::mount_to(host.clone().unchecked_into(), key_rescue::ui::App);
    (host, handle)
}

fn find(host: &web_sys::Element, testid: &str) -> Option<web_sys::HtmlElement> {
    host.query_selector(&format!("[data-testid={testid}]"))
        .unwrap()
        .map(|e| e.unchecked_into())
}

fn text(host: &web_sys::Element, testid: &str) -> String {
    find(host, testid)
        .and_then(|e| e.text_content())
        .unwrap_or_default()
}

/// Polls until `testid` exists and its text satisfies `ok`; panics with the log after `ms`.
async fn wait_for(host: &web_sys::Element, testid: &str, ok: impl Fn(&str) -> bool, ms: u32) {
    let mut waited = 0;
    loop {
        if find(host, testid).is_some() && ok(&text(host, testid)) {
            return;
        }
        assert!(
            waited < ms,
            "[data-testid={testid}] never matched; it says {:?}; error {:?}; log:\n{}",
            text(host, testid),
            text(host, "error"),
            text(host, "log")
        );
        tick(50).await;
        waited += 50;
    }
}

fn click(host: &web_sys::Element, testid: &str) {
    find(host, testid)
        .unwrap_or_else(|| panic!("no [data-testid={testid}]"))
        .click();
}

/// Types into an input as a user would: sets the value and fires `input`.
fn type_into(input: &web_sys::HtmlInputElement, value: &str) {
    input.set_value(value);
    let event = web_sys::Event::new("input").unwrap();
    input.dispatch_event(&event).unwrap();
}

/// [`type_into`] the input `testid`.
fn fill(host: &web_sys::Element, testid: &str, value: &str) {
    type_into(&find(host, testid).unwrap().unchecked_into(), value);
}

fn set_select(host: &web_sys::Element, selector: &str, value: &str) {
    let select: web_sys::HtmlSelectElement = host
        .query_selector(selector)
        .unwrap()
        .unwrap()
        .unchecked_into();
    select.set_value(value);
    select
        .dispatch_event(&web_sys::Event::new("change").unwrap())
        .unwrap();
}

/// Presses "Try with a simulated Photon" and waits until the simulated Photon is plugged in.
async fn start_simulated_photon(host: &web_sys::Element) {
    click(host, "try-simulated");
    wait_for(
        host,
        "log",
        |l| l.contains("Simulated Photon ready"),
        120_000,
    )
    .await;
}

/// Goes on to the Plan step: the wizard stops at Diagnose and Back up for the user to read them,
/// so "Continue" is pressed until the plan shows (or `ms` pass).
async fn continue_to_plan(host: &web_sys::Element, ms: u32) {
    for _ in 0..ms / 50 {
        if find(host, "plan").is_some() {
            return;
        }
        if find(host, "continue").is_some() {
            click(host, "continue");
        }
        tick(50).await;
    }
    panic!("the plan never showed; log:\n{}", text(host, "log"));
}

fn current_step(host: &web_sys::Element) -> String {
    host.query_selector("[data-testid=steps] [aria-current=step]")
        .unwrap()
        .and_then(|e| e.text_content())
        .unwrap_or_default()
}

#[wasm_bindgen_test]
async fn simulated_photon_is_repaired_in_page_and_comes_online() {
    let (host, handle) = mount_app();
    assert_eq!(
        host.query_selector("h1")
            .unwrap()
            .unwrap()
            .text_content()
            .unwrap(),
        "Key Rescue"
    );
    assert!(
        find(&host, "test-cloud-banner").is_none(),
        "no banner for Particle's cloud"
    );
    start_simulated_photon(&host).await;
    assert_eq!(current_step(&host), "Connect");
    assert!(
        text(&host, "test-cloud-banner").contains("in-page simulated cloud"),
        "the simulated cloud is announced"
    );
    assert!(text(&host, "demo-credentials").contains("demo@example.com"));

    fill(&host, "email", "demo@example.com");
    fill(&host, "password", "demo-password");
    click(&host, "signin-submit");
    wait_for(
        &host,
        "signed-in",
        |t| t.contains("demo@example.com"),
        10_000,
    )
    .await;
    assert!(
        find(&host, "password").is_none(),
        "the password field is gone"
    );

    click(&host, "connect");
    continue_to_plan(&host, 30_000).await;
    wait_for(
        &host,
        "plan",
        |t| t.contains("Send the device's public key"),
        30_000,
    )
    .await;
    assert!(text(&host, "identity").contains("0123456789abcdef01234567"));
    assert!(text(&host, "identity").contains("Photon"));
    assert!(text(&host, "slot-private-key").contains("valid"));
    assert!(text(&host, "cloud-status").contains("your account"));
    assert!(
        text(&host, "backup-downloads").contains("backup_rsa_0123456789abcdef01234567_rsa_new.der")
    );
    assert!(find(&host, "report-json").is_some() && find(&host, "report-text").is_some());
    assert_eq!(current_step(&host), "Plan");

    let repair: web_sys::HtmlButtonElement = find(&host, "repair").unwrap().unchecked_into();
    assert!(!repair.disabled(), "the plan can run");
    repair.click();
    wait_for(&host, "verify-result", |t| t.contains("online"), 60_000).await;
    assert_eq!(current_step(&host), "Verify");
    assert!(text(&host, "log").contains("sent public key"));
    assert!(find(&host, "repair-another").is_some());
    assert!(find(&host, "error").is_none(), "{}", text(&host, "error"));
    key_rescue::sim::device::js::uninstall_fake_usb();
    drop(handle);
}

#[wasm_bindgen_test]
async fn led_decoder_names_the_fix_in_words() {
    let (host, handle) = mount_app();
    // No verdict before the user picks (issue 13: the decoder used to answer red/1 by default).
    assert_eq!(text(&host, "led-verdict").trim(), "");
    set_select(&host, "[data-testid=led-decoder] select", "red");
    let blinks = host
        .query_selector("[data-testid=led-decoder] input")
        .unwrap()
        .unwrap();
    type_into(blinks.unchecked_ref(), "1");
    tick(20).await;
    let verdict = text(&host, "led-verdict");
    assert!(verdict.contains("1 red blink"), "{verdict}");
    assert!(verdict.contains("This page can help"), "{verdict}");
    set_select(&host, "[data-testid=led-decoder] select", "orange");
    type_into(blinks.unchecked_ref(), "2");
    tick(20).await;
    let verdict = text(&host, "led-verdict");
    assert!(verdict.contains("2 orange blinks"), "{verdict}");
    assert!(verdict.contains("cannot fix"), "{verdict}");
    assert!(verdict.contains("internet"), "{verdict}");
    drop(handle);
}

#[wasm_bindgen_test]
async fn a_claimed_interface_shows_an_error_panel_with_cause_and_next_step() {
    let (host, handle) = mount_app();
    // The problem picker is part of the simulation: start it, then pick.
    start_simulated_photon(&host).await;
    set_select(&host, "[data-testid=sim-fault]", "interface-claimed");
    click(&host, "diagnose-only");
    click(&host, "connect");
    wait_for(&host, "error", |t| !t.is_empty(), 10_000).await;
    let panel = find(&host, "error").unwrap();
    assert_eq!(panel.get_attribute("role").as_deref(), Some("alert"));
    assert!(text(&host, "error-cause").contains("held by another program"));
    assert!(text(&host, "error-hint").contains("Close other tabs"));
    assert!(
        find(&host, "reconnect").is_some(),
        "the panel offers Reconnect"
    );
    assert!(find(&host, "diagnosis").is_none(), "nothing was diagnosed");

    // Reconnecting after the other program let go (the simulation lets go) diagnoses the device.
    click(&host, "reconnect");
    continue_to_plan(&host, 30_000).await;
    wait_for(&host, "plan", |t| t.contains("nobody is signed in"), 30_000).await;
    assert!(find(&host, "error").is_none());
    key_rescue::sim::device::js::uninstall_fake_usb();
    drop(handle);
}

#[wasm_bindgen_test]
async fn a_transfer_that_never_completes_shows_its_panel_and_reconnect_offers_the_right_choice() {
    let (host, handle) = mount_app();
    start_simulated_photon(&host).await;
    set_select(&host, "[data-testid=sim-fault]", "transfer-never-completes");
    fill(&host, "email", "demo@example.com");
    fill(&host, "password", "demo-password");
    click(&host, "signin-submit");
    wait_for(
        &host,
        "signed-in",
        |t| t.contains("demo@example.com"),
        10_000,
    )
    .await;
    click(&host, "connect");
    continue_to_plan(&host, 30_000).await;
    wait_for(&host, "plan", |t| t.contains("new device key"), 30_000).await;
    click(&host, "repair");
    // While the stand-in's transfer hangs the page is busy, and says Cancel.
    wait_for(&host, "cancel", |t| t.contains("Cancel"), 10_000).await;
    // Only the adapter's own deadline ends the wait (at most 15 s for a GETSTATUS).
    wait_for(
        &host,
        "error-cause",
        |t| t.contains("stopped answering"),
        60_000,
    )
    .await;
    assert!(text(&host, "error-hint").contains("Unplug the device"));
    assert!(find(&host, "cancel").is_none(), "no longer busy");
    assert!(
        find(&host, "restore-backup").is_none(),
        "nothing offered before a read-back"
    );

    // Replugged (the simulation replugs on Reconnect): the page reads the slots back first.
    click(&host, "reconnect");
    wait_for(
        &host,
        "after-failure",
        |t| t.contains("not changed") || t.contains("differ from the backup"),
        30_000,
    )
    .await;
    if text(&host, "after-failure").contains("not changed") {
        assert!(find(&host, "restore-backup").is_none());
        wait_for(&host, "plan", |t| t.contains("new device key"), 30_000).await;
    } else {
        click(&host, "restore-backup");
        wait_for(&host, "log", |l| l.contains("Restored"), 30_000).await;
        wait_for(&host, "slot-private-key", |t| t.contains("blank"), 30_000).await;
    }
    key_rescue::sim::device::js::uninstall_fake_usb();
    drop(handle);
}
