//! The 14400-baud way into DFU mode (runtime-usb.md, 4): a running device whose firmware has no
//! control requests, or stalls request 50, is sent to DFU mode by opening its serial port at
//! 14400 baud, then accepted at the second prompt by the same ticket as after request 50 (native,
//! against the simulated device and its simulated serial port).
#![cfg(not(target_arch = "wasm32"))]

use futures_executor::block_on;
use key_rescue::doctor::{
    CancelFlag, Connected, Doctor, DoctorError, DoctorEvent, EnterDfuOutcome, NextStep,
    RunningDevice, SwitchTicket, connect_any,
};
use key_rescue::sim::device::{Mode, Platform, SimBuilder, SimDevice};
use key_rescue::sim::serial::{SerialFaults, SimSerialPort};
use key_rescue::sim::world::UsbHandle;
use key_rescue::usb::serial::SerialError;
use key_rescue::usb::{ControlSetup, Transport, TransportError};
use std::cell::RefCell;
use std::rc::Rc;

const PLATFORMS: [Platform; 5] = [
    Platform::Photon,
    Platform::P1,
    Platform::Electron,
    Platform::Argon,
    Platform::Boron,
];

fn shared(dev: SimDevice) -> Rc<RefCell<SimDevice>> {
    Rc::new(RefCell::new(dev))
}

fn old_firmware(platform: Platform) -> Rc<RefCell<SimDevice>> {
    shared(
        SimBuilder::new(platform)
            .normal_mode()
            .firmware("0.7.0")
            .build(),
    )
}

fn connect_running(dev: &Rc<RefCell<SimDevice>>) -> RunningDevice<UsbHandle> {
    let h = UsbHandle::open(dev).unwrap();
    match block_on(connect_any(h, None, CancelFlag::new(), &mut |_| {})) {
        Ok(Connected::Running(r)) => r,
        Ok(Connected::Dfu(_)) => panic!("connected in DFU mode"),
        Err(e) => panic!("{e}"),
    }
}

/// Only moves the simulated clock (what time passing does while the page waits for the user).
struct SleepOnly(Rc<RefCell<SimDevice>>);
impl Transport for SleepOnly {
    async fn control_in(&mut self, _: ControlSetup, _: u16) -> Result<Vec<u8>, TransportError> {
        Err(TransportError::Disconnected)
    }
    async fn control_out(&mut self, _: ControlSetup, _: &[u8]) -> Result<(), TransportError> {
        Err(TransportError::Disconnected)
    }
    #[allow(clippy::await_holding_refcell_ref)]
    async fn sleep(&mut self, ms: u32) {
        Transport::sleep(&mut *self.0.borrow_mut(), ms).await;
    }
}

/// Waits (virtual time) until `dev` is on the bus in DFU mode, as the user does before picking it
/// at the second prompt, and connects to it with `ticket`.
fn second_prompt(
    dev: &Rc<RefCell<SimDevice>>,
    ticket: &SwitchTicket,
) -> Result<Doctor<UsbHandle>, DoctorError> {
    let mut waited = 0;
    let h = loop {
        if let Ok(h) = UsbHandle::open(dev) {
            break h;
        }
        block_on(SleepOnly(dev.clone()).sleep(100));
        waited += 100;
        assert!(waited < 60_000, "the DFU device never appeared");
    };
    block_on(Doctor::connect_switched(
        h,
        ticket,
        CancelFlag::new(),
        &mut |_| {},
    ))
}

#[test]
fn old_firmware_enters_dfu_mode_at_14400_baud_on_every_platform() {
    for platform in PLATFORMS {
        let dev = old_firmware(platform);
        let id = dev.borrow().device_id().to_owned();
        let mut running = connect_running(&dev);
        let outcome = block_on(running.enter_dfu(&mut |_| {}));
        assert_eq!(outcome.next(), NextStep::SerialPort, "{platform:?}");
        let mut port = SimSerialPort::new(&dev);
        let mut logs = Vec::new();
        let outcome = block_on(running.enter_dfu_by_serial(&mut port, &mut |e| {
            if let DoctorEvent::Log(l) = e {
                logs.push(l)
            }
        }));
        let EnterDfuOutcome::Switched { ticket, .. } = &outcome else {
            panic!("{platform:?}: {outcome:?}")
        };
        assert_eq!(outcome.next(), NextStep::SecondPrompt);
        assert_eq!(ticket.device_id, id);
        assert_eq!(port.opened_at, [14_400]);
        assert!(!port.is_open(), "the port is given back");
        assert!(logs.iter().any(|l| l.contains("14400 baud")), "{logs:?}");
        let doctor = second_prompt(&dev, ticket).unwrap();
        assert_eq!(doctor.identity().device_id, id);
        assert_eq!(dev.borrow().mode(), Mode::Dfu);
    }
}

#[test]
fn a_stalled_request_50_falls_back_to_the_serial_port() {
    // Connect uses 7 transfers; request 50's INIT is the 8th (doctor_running.rs).
    let dev = shared(SimDevice::photon_running());
    dev.borrow_mut().faults_mut().stall_at_request = Some(8);
    let mut running = connect_running(&dev);
    let outcome = block_on(running.enter_dfu(&mut |_| {}));
    assert_eq!(outcome, EnterDfuOutcome::Stalled);
    let mut port = SimSerialPort::new(&dev);
    let outcome = block_on(running.enter_dfu_by_serial(&mut port, &mut |_| {}));
    let EnterDfuOutcome::Switched { ticket, .. } = &outcome else {
        panic!("{outcome:?}")
    };
    assert!(second_prompt(&dev, ticket).is_ok());
}

/// Runs the serial path with `faults` on an old Photon and checks that nothing happened to it.
fn failing(faults: SerialFaults) -> EnterDfuOutcome {
    let dev = old_firmware(Platform::Photon);
    let mut running = connect_running(&dev);
    let mut port = SimSerialPort::with_faults(&dev, faults);
    let outcome = block_on(running.enter_dfu_by_serial(&mut port, &mut |_| {}));
    assert_eq!(outcome.next(), NextStep::Buttons, "{outcome:?}");
    assert_eq!(outcome.ticket(), None);
    assert!(port.opened_at.is_empty());
    assert_eq!(dev.borrow().reset_scheduled(), None);
    assert_eq!(dev.borrow().mode(), Mode::Runtime);
    outcome
}

fn serial_failed(e: SerialError, cancelled: bool) -> EnterDfuOutcome {
    EnterDfuOutcome::SerialFailed {
        error: e.to_string(),
        hint: e.hint().to_owned(),
        cancelled,
    }
}

#[test]
fn a_refused_chooser_leaves_the_buttons() {
    let outcome = failing(SerialFaults {
        refused: true,
        ..SerialFaults::default()
    });
    assert_eq!(outcome, serial_failed(SerialError::Refused, true));
}

#[test]
fn a_port_held_by_another_program_leaves_the_buttons() {
    let outcome = failing(SerialFaults {
        held: true,
        ..SerialFaults::default()
    });
    assert_eq!(outcome, serial_failed(SerialError::Held, false));
    let EnterDfuOutcome::SerialFailed { hint, .. } = outcome else {
        unreachable!()
    };
    assert!(hint.contains("serial monitors"), "{hint}");
}

#[test]
fn another_devices_port_or_an_open_that_never_ends_leaves_the_buttons() {
    let outcome = failing(SerialFaults {
        other_device: true,
        ..SerialFaults::default()
    });
    let error = SerialError::NotTheDevice {
        vendor_id: 0x2341,
        product_id: 0x0043,
    };
    assert_eq!(outcome, serial_failed(error, false));
    let outcome = failing(SerialFaults {
        open_hangs: true,
        ..SerialFaults::default()
    });
    assert_eq!(outcome, serial_failed(SerialError::Timeout, false));
}

#[test]
fn the_other_photons_port_resets_the_other_photon_which_the_second_prompt_refuses() {
    // Web Serial shows no serial numbers: with two Photons the user may pick the wrong port.
    let ours = old_firmware(Platform::Photon);
    let theirs = shared(
        SimBuilder::new(Platform::Photon)
            .normal_mode()
            .firmware("0.7.0")
            .device_id("0123456789abcdef01234567")
            .build(),
    );
    let mut running = connect_running(&ours);
    let mut port = SimSerialPort::new(&theirs);
    let outcome = block_on(running.enter_dfu_by_serial(&mut port, &mut |_| {}));
    let EnterDfuOutcome::DidNotReset { ticket } = &outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(outcome.next(), NextStep::SecondPrompt);
    assert_eq!(ours.borrow().mode(), Mode::Runtime);
    let err = second_prompt(&theirs, ticket).err().unwrap();
    assert!(
        matches!(err, DoctorError::NotTheSwitchedDevice { .. }),
        "{err}"
    );
}
