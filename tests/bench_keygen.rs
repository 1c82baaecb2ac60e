//! Key generation figures in the browser: 50 RSA-1024 device keys from the browser's CSPRNG.
//!
//! Not part of `scripts/test`: `scripts/bench-keygen` runs it in headless Chromium with the test and
//! the release profile and prints median and p95 beside `openssl genrsa 1024`. It asserts only what
//! must hold for every key (fits the slot, passes the firmware's own reading), never a time.
#![cfg(target_arch = "wasm32")]

use key_rescue::keys::{self, firmware};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const KEYS: usize = 50;

fn now_ms() -> f64 {
    web_sys::window().unwrap().performance().unwrap().now()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[wasm_bindgen_test]
fn rsa_1024_keygen_in_the_browser() {
    let mut times = Vec::with_capacity(KEYS);
    for _ in 0..KEYS {
        let start = now_ms();
        let key = keys::generate_rsa_device_key().unwrap();
        times.push(now_ms() - start);
        assert!(key.der().len() <= keys::RSA_PRIVATE_KEY_SLOT_LEN);
        assert!(matches!(
            firmware::read_device_private_key(key.der()),
            firmware::FirmwarePrivateKey::Usable(_)
        ));
    }
    times.sort_by(f64::total_cmp);
    let profile = if cfg!(debug_assertions) {
        "test"
    } else {
        "release"
    };
    console_log!(
        "keygen-figures profile={profile} keys={KEYS} median_ms={:.1} p95_ms={:.1} min_ms={:.1} max_ms={:.1}",
        percentile(&times, 50.0),
        percentile(&times, 95.0),
        times[0],
        times[KEYS - 1]
    );
}
