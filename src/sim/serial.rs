//! A simulated serial port: the CDC port of a simulated device in normal mode, as a browser's
//! Web Serial port (and the operating system's serial driver behind it) reaches it. Opening it
//! sets the device's line coding with a CDC SET_LINE_CODING on its communication interface, which
//! is what enters DFU mode at 14400 baud (`SimDevice`, `runtime_out`).
//!
//! Faults: the user refuses the chooser, another program holds the port, the user picks another
//! device's port, an open that never finishes.

use super::device::{Mode, SimDevice};
use crate::usb::serial::{SERIAL_DEADLINE_MS, SerialError, SerialPort};
use crate::usb::{ControlSetup, TransportError};
use std::cell::RefCell;
use std::rc::Rc;

/// CDC SET_LINE_CODING and SET_CONTROL_LINE_STATE (USB CDC PSTN 1.2, table 13).
const SET_LINE_CODING: u8 = 0x20;
const SET_CONTROL_LINE_STATE: u8 = 0x22;
/// The CDC communication interface of Particle's runtime device (the simulator's, runtime.rs).
const CDC_INTERFACE: u16 = 0;

/// What can go wrong around the simulated port.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SerialFaults {
    /// The user closes the serial-port chooser without picking a port.
    pub refused: bool,
    /// Another program has the port open: opening it fails.
    pub held: bool,
    /// The user picks another device's port (an Arduino's, 2341:0043).
    pub other_device: bool,
    /// Opening never finishes (a wedged driver): it costs its deadline of virtual time.
    pub open_hangs: bool,
}

/// The serial port of one simulated device.
pub struct SimSerialPort {
    device: Rc<RefCell<SimDevice>>,
    faults: SerialFaults,
    /// The enumeration whose port was picked: a port lives as long as its USB device.
    picked: Option<u32>,
    open: bool,
    /// Bit rates the port was opened at, for tests.
    pub opened_at: Vec<u32>,
}

impl SimSerialPort {
    pub fn new(device: &Rc<RefCell<SimDevice>>) -> Self {
        Self::with_faults(device, SerialFaults::default())
    }

    pub fn with_faults(device: &Rc<RefCell<SimDevice>>, faults: SerialFaults) -> Self {
        Self {
            device: device.clone(),
            faults,
            picked: None,
            open: false,
            opened_at: Vec::new(),
        }
    }

    pub fn is_open(&self) -> bool {
        self.open
    }

    /// The device, if the picked port is still its current enumeration.
    fn current(&self) -> Result<std::cell::RefMut<'_, SimDevice>, SerialError> {
        let mut d = self.device.borrow_mut();
        match self.picked {
            Some(e) if d.on_bus() && d.enumeration() == e => Ok(d),
            _ => Err(SerialError::Disconnected),
        }
    }
}

fn from_transport(e: TransportError) -> SerialError {
    match e {
        TransportError::Disconnected => SerialError::Disconnected,
        TransportError::Timeout => SerialError::Timeout,
        other => SerialError::Other {
            name: "simulated driver".into(),
            message: other.to_string(),
        },
    }
}

impl SerialPort for SimSerialPort {
    async fn request(&mut self, vendor_id: u16, product_id: u16) -> Result<(), SerialError> {
        if self.faults.refused {
            return Err(SerialError::Refused);
        }
        if self.faults.other_device {
            return Err(SerialError::NotTheDevice {
                vendor_id: 0x2341,
                product_id: 0x0043,
            });
        }
        let mut d = self.device.borrow_mut();
        let info = crate::usb::Transport::info(&*d);
        // Only a device running its firmware has a serial port; with none matching the filter,
        // the chooser is empty and the user can only close it.
        let listed = d.on_bus()
            && d.mode() == Mode::Runtime
            && (info.vendor_id, info.product_id) == (vendor_id, product_id);
        if !listed {
            return Err(SerialError::Refused);
        }
        self.picked = Some(d.enumeration());
        Ok(())
    }

    async fn open(&mut self, baud_rate: u32) -> Result<(), SerialError> {
        if self.open {
            return Err(SerialError::Other {
                name: "InvalidStateError".into(),
                message: "The port is already open.".into(),
            });
        }
        if self.picked.is_none() {
            return Err(SerialError::Refused);
        }
        if self.faults.held {
            return Err(SerialError::Held);
        }
        let mut d = self.current()?;
        if self.faults.open_hangs {
            d.advance(u64::from(SERIAL_DEADLINE_MS));
            return Err(SerialError::Timeout);
        }
        // What a host's CDC driver sends on open (order unverified; the firmware acts on the
        // line coding only): DTR and RTS up, then the line coding, 8N1.
        let control_lines = ControlSetup::class_interface(SET_CONTROL_LINE_STATE, 3, CDC_INTERFACE);
        d.handle_out(control_lines, &[]).map_err(from_transport)?;
        let mut coding = baud_rate.to_le_bytes().to_vec();
        coding.extend_from_slice(&[0, 0, 8]);
        let line_coding = ControlSetup::class_interface(SET_LINE_CODING, 0, CDC_INTERFACE);
        d.handle_out(line_coding, &coding).map_err(from_transport)?;
        drop(d);
        self.open = true;
        self.opened_at.push(baud_rate);
        Ok(())
    }

    async fn close(&mut self) -> Result<(), SerialError> {
        if !self.open {
            return Err(SerialError::Other {
                name: "InvalidStateError".into(),
                message: "The port is already closed.".into(),
            });
        }
        self.open = false;
        // DTR down; a device already gone is not an error for closing (unverified in Chrome).
        if let Ok(mut d) = self.current() {
            let control_lines =
                ControlSetup::class_interface(SET_CONTROL_LINE_STATE, 0, CDC_INTERFACE);
            let _ = d.handle_out(control_lines, &[]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::device::{Platform, SimBuilder};
    use futures_executor::block_on;

    fn photon(firmware: &str) -> Rc<RefCell<SimDevice>> {
        Rc::new(RefCell::new(
            SimBuilder::new(Platform::Photon)
                .normal_mode()
                .firmware(firmware)
                .build(),
        ))
    }

    #[test]
    fn opening_sets_the_line_coding_and_14400_schedules_dfu_mode() {
        let dev = photon("0.6.4");
        let mut port = SimSerialPort::new(&dev);
        block_on(port.request(0x2b04, 0xc006)).unwrap();
        block_on(port.open(9_600)).unwrap();
        assert_eq!(dev.borrow().baud_rate(), 9_600);
        assert_eq!(dev.borrow().reset_scheduled(), None);
        assert!(block_on(port.open(9_600)).is_err(), "already open");
        block_on(port.close()).unwrap();
        assert!(block_on(port.close()).is_err(), "already closed");
        block_on(port.open(14_400)).unwrap();
        assert_eq!(dev.borrow().reset_scheduled().map(|r| r.1), Some(Mode::Dfu));
    }

    #[test]
    fn the_chooser_lists_only_the_running_device_with_those_ids() {
        let dev = photon("2.3.1");
        let mut port = SimSerialPort::new(&dev);
        assert_eq!(
            block_on(port.request(0x2b04, 0xc008)),
            Err(SerialError::Refused)
        );
        let dfu = Rc::new(RefCell::new(SimBuilder::new(Platform::Photon).build()));
        let mut port = SimSerialPort::new(&dfu);
        assert_eq!(
            block_on(port.request(0x2b04, 0xd006)),
            Err(SerialError::Refused)
        );
    }
}
