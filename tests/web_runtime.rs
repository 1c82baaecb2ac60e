//! A device in normal mode through the `navigator.usb` stand-in in headless Chromium: control
//! requests over the WebUSB adapter, request 50, and the second `requestDevice` Chrome requires for
//! the DFU personality.
#![cfg(target_arch = "wasm32")]

use key_rescue::device::{Platform as HostPlatform, UsbMode};
use key_rescue::doctor::{CancelFlag, Connected, Doctor, EnterDfuOutcome, connect_any};
use key_rescue::runtime::{Channel, Error};
use key_rescue::sim::device::js::{
    JsSimDevice, StandInOptions, choose_next_device, install_simulated_usb, plug_simulated_usb,
    uninstall_fake_usb,
};
use key_rescue::sim::device::{Mode, Platform, SimBuilder};
use key_rescue::usb::TransportError;
use key_rescue::usb::webusb;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const ID: &str = "0123456789abcdef01234567";
const OTHER_ID: &str = "fedcba9876543210fedcba98";

fn install(builder: SimBuilder) -> JsSimDevice {
    let sim = JsSimDevice::from_builder(builder.device_id(ID));
    install_simulated_usb(std::slice::from_ref(&sim), StandInOptions::default());
    sim
}

#[wasm_bindgen_test]
async fn normal_mode_to_a_dfu_session_needs_a_second_grant() {
    let sim = install(SimBuilder::new(Platform::Photon).normal_mode());
    let picked = webusb::request_device().await.unwrap();
    assert_eq!(
        picked.platform(),
        Some((HostPlatform::Photon, UsbMode::Runtime))
    );
    let t = picked.open_unclaimed().await.unwrap();
    let Ok(Connected::Running(mut running)) =
        connect_any(t, Some(ID), CancelFlag::new(), &mut |_| {}).await
    else {
        panic!("not connected in normal mode")
    };
    assert_eq!(running.facts().device_id, ID);
    assert_eq!(running.facts().system_version.as_deref(), Some("2.3.1"));
    let outcome = running.enter_dfu(&mut |_| {}).await;
    let EnterDfuOutcome::Switched { ticket, .. } = outcome else {
        panic!("{outcome:?}")
    };
    // Wait for the DFU personality to enumerate (the simulated device: 500 ms after its reset).
    webusb::sleep_ms(800).await;
    assert_eq!(sim.device().mode(), Mode::Dfu);
    // Chrome lists the new personality only after the user grants it.
    let granted = webusb::granted_devices().await.unwrap();
    assert!(granted.is_empty(), "{} granted", granted.len());
    let picked = webusb::request_device().await.unwrap();
    assert_eq!(
        picked.platform(),
        Some((HostPlatform::Photon, UsbMode::Dfu))
    );
    let t = picked.open(0).await.unwrap();
    let doctor = Doctor::connect_switched(t, &ticket, CancelFlag::new(), &mut |_| {})
        .await
        .unwrap();
    assert_eq!(doctor.identity().device_id, ID);
    assert_eq!(webusb::granted_devices().await.unwrap().len(), 1);
    uninstall_fake_usb();
}

#[wasm_bindgen_test]
async fn old_firmware_stalls_and_the_serial_interface_cannot_be_claimed() {
    let _sim = install(
        SimBuilder::new(Platform::Photon)
            .normal_mode()
            .firmware("0.7.0"),
    );
    let picked = webusb::request_device().await.unwrap();
    let mut t = picked.open_unclaimed().await.unwrap();
    assert_eq!(
        Channel::open(&mut t).await.err(),
        Some(Error::NoControlRequests)
    );
    t.close().await;
    let picked = webusb::request_device().await.unwrap();
    assert_eq!(
        picked.open(0).await.err(),
        Some(TransportError::UnableToClaim)
    );
    uninstall_fake_usb();
}

#[wasm_bindgen_test]
async fn the_runtime_usb_device_is_gone_after_request_50() {
    let _sim = install(SimBuilder::new(Platform::Argon).normal_mode());
    let mut t = webusb::request_device()
        .await
        .unwrap()
        .open_unclaimed()
        .await
        .unwrap();
    let mut ch = Channel::open(&mut t).await.unwrap();
    assert_eq!(ch.device_id().await.unwrap(), ID);
    ch.enter_dfu().await.unwrap();
    webusb::sleep_ms(1_200).await;
    assert!(t.is_disconnected());
    assert_eq!(
        Channel::open(&mut t).await.err(),
        Some(Error::Transport(TransportError::Disconnected))
    );
    uninstall_fake_usb();
}

#[wasm_bindgen_test]
async fn a_second_device_plugged_in_needs_its_own_grant_and_is_picked_by_its_serial() {
    let first = install(SimBuilder::new(Platform::Photon));
    let second = JsSimDevice::from_builder(SimBuilder::new(Platform::Photon).device_id(OTHER_ID));
    plug_simulated_usb(&second).unwrap();
    assert!(webusb::granted_devices().await.unwrap().is_empty());
    // The user picks the second Photon: only it is granted, and it is a DFU device of its own.
    choose_next_device(OTHER_ID);
    let picked = webusb::request_device().await.unwrap();
    assert_eq!(picked.device_id().as_deref(), Some(OTHER_ID));
    assert_eq!(
        picked.platform(),
        Some((HostPlatform::Photon, UsbMode::Dfu))
    );
    let granted: Vec<_> = webusb::granted_devices()
        .await
        .unwrap()
        .iter()
        .map(|d| d.device_id())
        .collect();
    assert_eq!(granted, [Some(OTHER_ID.to_owned())]);
    // A device the chooser does not list cannot be picked: the chooser is closed.
    choose_next_device("000000000000000000000000");
    assert_eq!(
        webusb::request_device().await.err(),
        Some(TransportError::Cancelled)
    );
    // Without a choice the first listed device is picked; now both are granted.
    let picked = webusb::request_device().await.unwrap();
    assert_eq!(picked.device_id().as_deref(), Some(ID));
    assert_eq!(webusb::granted_devices().await.unwrap().len(), 2);
    // Opening and claiming the second device sends it nothing; the first is untouched too.
    choose_next_device(OTHER_ID);
    let t = webusb::request_device()
        .await
        .unwrap()
        .open(0)
        .await
        .unwrap();
    drop(t);
    assert_eq!(second.transfers(), 0);
    assert_eq!(first.transfers(), 0);
    uninstall_fake_usb();
}

#[wasm_bindgen_test]
async fn plugging_a_device_needs_an_installed_stand_in() {
    uninstall_fake_usb();
    let device = JsSimDevice::from_builder(SimBuilder::new(Platform::Photon).device_id(OTHER_ID));
    assert!(plug_simulated_usb(&device).is_err());
}
