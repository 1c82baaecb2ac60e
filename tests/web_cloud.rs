//! The browser's cloud client (`cloud::http::HttpCloud`, gloo-net `fetch`) against the loopback
//! `sim-cloud` server, in headless Chromium: real CORS preflights, real statuses and bodies.
//!
//! The server's address is baked in at build time through `KR_SIM_CLOUD`, so start the server first:
//!
//! ```sh
//! cd /work/main && source scripts/env
//! export CARGO_TARGET_DIR=target/h-cloud
//! cargo build --bin sim-cloud
//! coproc SIM { "$CARGO_TARGET_DIR"/debug/sim-cloud --port 0 --test-control; }
//! read -r PORT <&"${SIM[0]}"
//! KR_SIM_CLOUD=http://127.0.0.1:$PORT WASM_BINDGEN_TEST_TIMEOUT=60 \
//!   cargo test --target wasm32-unknown-unknown --test web_cloud
//! kill "$SIM_PID"
//! ```
//!
//! `scripts/test` does this. `a_cloud_that_never_answers_ends_in_a_timeout` waits out the whole
//! request deadline (15 s of real time), so the runner's timeout must be longer than that. Without `KR_SIM_CLOUD` every test fails with this explanation: a test
//! that cannot reach its server must not pass.

#![cfg(target_arch = "wasm32")]

use key_rescue::cloud::http::HttpCloud;
use key_rescue::cloud::{
    AccessToken, ApiBase, ApiError, CloudApi, KeyAlgorithm, KeyUpload, REQUEST_TIMEOUT_MS,
};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const DEMO_EMAIL: &str = "demo@example.com";
const DEMO_PASSWORD: &str = "demo-password";
const DEMO_PHOTON_ID: &str = "0123456789abcdef01234567";
const FOREIGN_PHOTON_ID: &str = "ffffffffffffffff00000001";
const UNUSED_ID: &str = "aaaaaaaaaaaaaaaaaaaaaaaa";
/// Ids no other test uses, for the hang and redirect controls (the tests may run interleaved).
const HANG_ID: &str = "bbbbbbbbbbbbbbbbbbbbbbbb";
const REDIRECT_ID: &str = "cccccccccccccccccccccccc";

// Not `env!`: clippy and `cargo check` build this file without a server running; the tests must
// fail when they run without one, not the build.
#[allow(clippy::option_env_unwrap)]
fn cloud() -> HttpCloud {
    let base = option_env!("KR_SIM_CLOUD").expect(
        "KR_SIM_CLOUD was not set at build time: start sim-cloud first (see the file's doc)",
    );
    HttpCloud::new(ApiBase::parse(base).expect("a loopback base"))
}

async fn demo_token(cloud: &mut HttpCloud) -> AccessToken {
    cloud
        .sign_in(DEMO_EMAIL, DEMO_PASSWORD)
        .await
        .expect("demo sign-in")
        .token
}

/// Calls a test control route directly (not part of the page's client).
async fn control(cloud: &HttpCloud, path: &str) {
    let url = format!("{}{path}", cloud.base().as_str());
    let resp = gloo_net::http::Request::post(&url)
        .send()
        .await
        .expect("control route");
    assert_eq!(resp.status(), 200, "{path}");
}

#[wasm_bindgen_test]
async fn sign_in_and_look_a_device_up() {
    let mut cloud = cloud();
    assert_eq!(
        cloud.sign_in(DEMO_EMAIL, "wrong").await.unwrap_err(),
        ApiError::WrongPassword
    );
    let token = demo_token(&mut cloud).await;
    // A Bearer GET is preflighted: this also proves the server's CORS answers.
    let info = cloud.device(&token, DEMO_PHOTON_ID).await.unwrap();
    assert_eq!(info.id, DEMO_PHOTON_ID);
    assert_eq!(info.platform_id, 6);
    assert!(!info.is_product_device());
    assert_eq!(
        cloud.device(&token, FOREIGN_PHOTON_ID).await.unwrap_err(),
        ApiError::NotYourDevice {
            device_id: FOREIGN_PHOTON_ID.into()
        }
    );
}

#[wasm_bindgen_test]
async fn mfa_sign_in_takes_the_code() {
    let mut cloud = cloud();
    let Err(ApiError::MfaRequired { mfa_token }) =
        cloud.sign_in("mfa@example.com", "mfa-password").await
    else {
        panic!("expected MFA");
    };
    assert_eq!(
        cloud.sign_in_otp(&mfa_token, "999999").await.unwrap_err(),
        ApiError::WrongOtp
    );
    let session = cloud.sign_in_otp(&mfa_token, "123456").await.unwrap();
    assert!(
        cloud
            .device(&session.token, "e00fce68aaaaaaaaaaaaaaaa")
            .await
            .is_ok()
    );
}

#[wasm_bindgen_test]
async fn send_a_key_then_sign_out() {
    let mut cloud = cloud();
    let token = demo_token(&mut cloud).await;
    let upload = KeyUpload {
        device_id: DEMO_PHOTON_ID.into(),
        public_key_pem: "-----BEGIN PUBLIC KEY-----\n\
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDCtEB4ltWKJJlAy3QnUBx7SmH2\n\
o6wQRI0nEpajyyfcSRJL1A98+pJbCsmDhRcn26wPRBWP49RSbjfOKj1nKpLZp8FV\n\
5JgkOJYUIq7JI5Dxvbt5nZr2mvIPEVq3EOhKeCUgsGZIWpAsEWQKNs5ATDGRLVVo\n\
5WoKIv2hQqBHh0RQhwIDAQAB\n\
-----END PUBLIC KEY-----\n"
            .into(),
        algorithm: KeyAlgorithm::Rsa,
        product_id: None,
    };
    cloud.send_public_key(&token, &upload).await.unwrap();
    let stranger = cloud
        .sign_in("stranger@example.com", "password")
        .await
        .unwrap()
        .token;
    assert!(matches!(
        cloud.send_public_key(&stranger, &upload).await,
        Err(ApiError::NotYourDevice { .. })
    ));
    cloud.sign_out(&token).await.unwrap();
    assert_eq!(
        cloud.device(&token, DEMO_PHOTON_ID).await.unwrap_err(),
        ApiError::TokenInvalid
    );
}

#[wasm_bindgen_test]
async fn server_errors_rate_limits_and_timeouts() {
    let mut cloud = cloud();
    let token = demo_token(&mut cloud).await;
    // Failures are aimed at an id no other test uses: the tests may run interleaved.
    const TARGET: &str = "/__sim/fail?path=%2Fv1%2Fdevices%2Faaaaaaaaaaaaaaaaaaaaaaaa";
    control(&cloud, &format!("{TARGET}&status=503&count=1")).await;
    assert_eq!(
        cloud.device(&token, UNUSED_ID).await.unwrap_err(),
        ApiError::Server { status: 503 }
    );
    control(&cloud, &format!("{TARGET}&status=429&count=1")).await;
    assert_eq!(
        cloud.device(&token, UNUSED_ID).await.unwrap_err(),
        ApiError::RateLimited
    );
    // The demo Photon is offline: a short wait through the browser's timer runs out.
    assert!(matches!(
        cloud
            .wait_until_online(&token, DEMO_PHOTON_ID, 300, 100)
            .await,
        Err(ApiError::DeviceStayedOffline { .. })
    ));
}

#[wasm_bindgen_test]
async fn an_unreachable_cloud_is_a_network_error() {
    // Port 9 (discard) on loopback: nothing listens, fetch rejects.
    let mut dead = HttpCloud::new(ApiBase::parse("http://127.0.0.1:9").unwrap());
    assert!(matches!(
        dead.sign_in(DEMO_EMAIL, DEMO_PASSWORD).await,
        Err(ApiError::Network { .. })
    ));
}

#[wasm_bindgen_test]
async fn a_cloud_that_never_answers_ends_in_a_timeout() {
    let mut cloud = cloud();
    let token = demo_token(&mut cloud).await;
    // The server holds the connection open and never writes: only the adapter's deadline ends
    // the request (fetch has none of its own).
    control(
        &cloud,
        &format!("/__sim/hang?count=1&path=%2Fv1%2Fdevices%2F{HANG_ID}"),
    )
    .await;
    assert_eq!(
        cloud.device(&token, HANG_ID).await.unwrap_err(),
        ApiError::Timeout {
            waited_s: REQUEST_TIMEOUT_MS / 1000
        }
    );
    // The next request is answered: the cloud is reachable again.
    assert!(matches!(
        cloud.device(&token, HANG_ID).await,
        Err(ApiError::NotYourDevice { .. })
    ));
}

#[wasm_bindgen_test]
async fn a_redirect_is_refused_not_followed() {
    let mut cloud = cloud();
    let token = demo_token(&mut cloud).await;
    // A 308 to the demo Photon on the same server: a fetch that follows redirects would answer
    // with that device.
    let target = format!("{}/v1/devices/{DEMO_PHOTON_ID}", cloud.base().as_str())
        .replace(':', "%3A")
        .replace('/', "%2F");
    control(
        &cloud,
        &format!("/__sim/redirect?count=1&location={target}&path=%2Fv1%2Fdevices%2F{REDIRECT_ID}"),
    )
    .await;
    let result = cloud.device(&token, REDIRECT_ID).await;
    assert!(
        result == Err(ApiError::Redirected),
        "the redirect must not be followed, and must be named: {result:?}"
    );
}
