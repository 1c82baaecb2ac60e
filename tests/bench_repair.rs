//! Repair figures in the browser: a full repair of a simulated Photon with blank keys, through the
//! real WebUSB adapter (over the `navigator.usb` stand-in) and the doctor, with no user waits.
//!
//! Not part of `scripts/test`: `scripts/bench-repair` runs it with the test and release profiles and
//! prints the wall time and the control transfers. It asserts the outcome, never a time.
#![cfg(target_arch = "wasm32")]

use key_rescue::doctor::{
    CancelFlag, CloudContext, Doctor, PlanOptions, SendOutcome, ServerChoice, VerifyOutcome,
};
use key_rescue::sim::cloud::{SimCloud, scenario};
use key_rescue::sim::device::js::{JsSimDevice, StandInOptions, install_simulated_usb};
use key_rescue::sim::device::{Platform as SimPlatform, SimDevice};
use key_rescue::sim::world::SimWorld;
use key_rescue::usb::webusb;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn now_ms() -> f64 {
    web_sys::window().unwrap().performance().unwrap().now()
}

#[wasm_bindgen_test]
async fn full_repair_of_a_simulated_photon() {
    // Set-up, not measured: the simulated cloud's RSA-2048 key and the demo accounts.
    let mut cloud = SimCloud::generate().expect("a cloud key");
    scenario::seed_demo(&mut cloud);
    let device = JsSimDevice::from_builder(
        SimDevice::builder(SimPlatform::Photon).device_id(scenario::DEMO_PHOTON_ID),
    );
    install_simulated_usb(std::slice::from_ref(&device), StandInOptions::default());
    let world = SimWorld::from_shared(device.shared(), cloud);
    let token = world.token(scenario::DEMO_EMAIL);
    let mut api = world.cloud_api();
    let options = PlanOptions {
        server: ServerChoice::Custom {
            region: world.cloud.borrow().server_key_region(),
            description: "the simulated cloud".into(),
        },
        ..PlanOptions::default()
    };
    let mut log = |_| {};

    let start = now_ms();
    let picked = webusb::request_device()
        .await
        .expect("the simulated Photon");
    let transport = picked.open(0).await.expect("open and claim");
    let mut doctor = Doctor::connect(transport, None, CancelFlag::new(), &mut log)
        .await
        .unwrap();
    let diagnosis = doctor
        .diagnose(
            CloudContext {
                api: &mut api,
                token: Some(&token),
            },
            &mut log,
        )
        .await
        .unwrap();
    doctor.back_up(&mut log).unwrap();
    let plan = doctor.plan(&diagnosis, &options, &mut log).unwrap();
    let report = doctor
        .repair(
            &plan,
            CloudContext {
                api: &mut api,
                token: Some(&token),
            },
            &mut log,
        )
        .await
        .unwrap();
    let (verify, counts) = doctor
        .leave_and_verify(
            CloudContext {
                api: &mut api,
                token: Some(&token),
            },
            60_000,
            &mut log,
        )
        .await
        .unwrap();
    let wall_ms = now_ms() - start;

    assert_eq!(report.send, SendOutcome::Sent);
    assert!(matches!(verify, VerifyOutcome::Online { .. }), "{verify:?}");
    let profile = if cfg!(debug_assertions) {
        "test"
    } else {
        "release"
    };
    console_log!(
        "repair-figures profile={profile} wall_ms={wall_ms:.0} control_transfers={} bytes_in={} bytes_out={}",
        counts.transfers,
        counts.bytes_in,
        counts.bytes_out
    );
}
