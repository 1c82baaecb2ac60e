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

#[wasm_bindgen_test]
async fn app_mounts_and_runs_the_simulated_photon_probe() {
    let host = document().create_element("div").unwrap();
    document().body().unwrap().append_child(&host).unwrap();
    let handle = leptos::mount::mount_to(host.clone().unchecked_into(), key_rescue::ui::App);

    let heading = host
        .query_selector("h1")
        .unwrap()
        .expect("the app renders a heading");
    assert_eq!(heading.text_content().unwrap(), "Key Rescue");
    let button = host
        .query_selector("[data-testid=try-simulated]")
        .unwrap()
        .unwrap();
    button.unchecked_into::<web_sys::HtmlElement>().click();
    tick(50).await;

    let log = host
        .query_selector("[data-testid=log]")
        .unwrap()
        .unwrap()
        .text_content()
        .unwrap();
    assert!(
        log.contains("Simulated Photon ready (DfuIdle)"),
        "log was: {log}"
    );
    let current = host.query_selector("[aria-current=step]").unwrap().unwrap();
    assert_eq!(current.text_content().unwrap(), "Connect");
    drop(handle);
}
