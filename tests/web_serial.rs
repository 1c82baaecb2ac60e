//! The Web Serial adapter through the `navigator.serial` stand-in in headless Chromium: a device
//! whose firmware has no control requests is sent to DFU mode by opening its serial port at
//! 14400 baud, then picked at the second prompt; the chooser refused, a port held by another
//! program, Chrome's state rules.
#![cfg(target_arch = "wasm32")]

use key_rescue::doctor::{
    CancelFlag, Connected, Doctor, EnterDfuOutcome, NextStep, RunningDevice, connect_any,
};
use key_rescue::sim::device::js::{
    JsSimDevice, StandInOptions, hold_serial_ports, install_simulated_serial,
    install_simulated_usb, opened_baud_rates, refuse_next_port_request, uninstall_fake_serial,
    uninstall_fake_usb,
};
use key_rescue::sim::device::{Mode, Platform, SimBuilder};
use key_rescue::usb::serial::{SerialError, SerialPort};
use key_rescue::usb::webusb::{self, WebUsbTransport};
use key_rescue::usb::webusb::{WebSerialPort, serial_supported};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const ID: &str = "0123456789abcdef01234567";
const PHOTON_RUNTIME: (u16, u16) = (0x2b04, 0xc006);

/// A Photon running firmware without control requests, behind both stand-ins.
fn install_old_photon() -> JsSimDevice {
    let sim = JsSimDevice::from_builder(
        SimBuilder::new(Platform::Photon)
            .normal_mode()
            .firmware("0.7.0")
            .device_id(ID),
    );
    install_simulated_usb(std::slice::from_ref(&sim), StandInOptions::default());
    install_simulated_serial(std::slice::from_ref(&sim));
    sim
}

fn uninstall() {
    uninstall_fake_serial();
    uninstall_fake_usb();
}

fn baud_rates() -> Vec<u32> {
    opened_baud_rates()
        .iter()
        .map(|v| v.as_f64().unwrap() as u32)
        .collect()
}

async fn connect_running() -> RunningDevice<WebUsbTransport> {
    let t = webusb::request_device()
        .await
        .unwrap()
        .open_unclaimed()
        .await
        .unwrap();
    match connect_any(t, Some(ID), CancelFlag::new(), &mut |_| {}).await {
        Ok(Connected::Running(r)) => r,
        _ => panic!("not connected in normal mode"),
    }
}

#[wasm_bindgen_test]
async fn old_firmware_goes_to_dfu_mode_through_the_serial_port_then_the_second_prompt() {
    let sim = install_old_photon();
    assert!(serial_supported());
    let mut running = connect_running().await;
    let outcome = running.enter_dfu(&mut |_| {}).await;
    assert_eq!(outcome.next(), NextStep::SerialPort);
    let mut port = WebSerialPort::new();
    let outcome = running.enter_dfu_by_serial(&mut port, &mut |_| {}).await;
    let EnterDfuOutcome::Switched { ticket, .. } = &outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(baud_rates(), [14_400]);
    // The DFU personality enumerates 500 ms after the reset.
    webusb::sleep_ms(800).await;
    assert_eq!(sim.device().mode(), Mode::Dfu);
    let t = webusb::request_device()
        .await
        .unwrap()
        .open(0)
        .await
        .unwrap();
    let doctor = Doctor::connect_switched(t, ticket, CancelFlag::new(), &mut |_| {})
        .await
        .unwrap();
    assert_eq!(doctor.identity().device_id, ID);
    uninstall();
}

#[wasm_bindgen_test]
async fn a_closed_chooser_is_refused_and_leaves_the_device_running() {
    let sim = install_old_photon();
    let mut running = connect_running().await;
    refuse_next_port_request();
    let outcome = running
        .enter_dfu_by_serial(&mut WebSerialPort::new(), &mut |_| {})
        .await;
    assert!(
        matches!(
            outcome,
            EnterDfuOutcome::SerialFailed {
                cancelled: true,
                ..
            }
        ),
        "{outcome:?}"
    );
    assert_eq!(outcome.next(), NextStep::Buttons);
    assert!(baud_rates().is_empty());
    assert_eq!(sim.device().mode(), Mode::Runtime);
    uninstall();
}

#[wasm_bindgen_test]
async fn a_port_held_by_another_program_is_held() {
    let sim = install_old_photon();
    hold_serial_ports(true);
    let mut port = WebSerialPort::new();
    port.request(PHOTON_RUNTIME.0, PHOTON_RUNTIME.1)
        .await
        .unwrap();
    assert_eq!(port.open(14_400).await, Err(SerialError::Held));
    assert_eq!(sim.device().reset_scheduled(), None);
    // Released: the same grant opens.
    hold_serial_ports(false);
    port.open(9_600).await.unwrap();
    assert_eq!(sim.device().baud_rate(), 9_600);
    uninstall();
}

#[wasm_bindgen_test]
async fn chromes_state_rules_map_to_the_serial_errors() {
    let _sim = install_old_photon();
    let mut port = WebSerialPort::new();
    // No port matches another platform's ids: the chooser is empty and can only be closed.
    assert_eq!(
        port.request(0x2b04, 0xc008).await,
        Err(SerialError::Refused)
    );
    port.request(PHOTON_RUNTIME.0, PHOTON_RUNTIME.1)
        .await
        .unwrap();
    port.open(9_600).await.unwrap();
    // Opened twice: Chrome's InvalidStateError, this page holding the port.
    assert_eq!(port.open(9_600).await, Err(SerialError::Held));
    port.close().await.unwrap();
    let Err(SerialError::Other { name, .. }) = port.close().await else {
        panic!("closed twice")
    };
    assert_eq!(name, "InvalidStateError");
    uninstall();
}
