//! USB control transfers as the DFU host needs them: the [`Transport`] trait, its setup packet
//! and its typed errors.
//!
//! This module owns the boundary between protocol code and a real (or simulated) USB device. It must
//! not import `web_sys`, `leptos` or an executor; the WebUSB implementation lives in `webusb.rs`,
//! compiled for wasm32 only, and the simulated devices in `crate::sim` implement the same trait.

#[cfg(target_arch = "wasm32")]
pub mod webusb;

use thiserror::Error;

/// The type bits of `bmRequestType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestType {
    Standard,
    Class,
    Vendor,
}

/// The recipient bits of `bmRequestType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipient {
    Device,
    Interface,
    Endpoint,
    Other,
}

/// A control transfer's setup packet without its direction and length, which the call supplies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlSetup {
    pub request_type: RequestType,
    pub recipient: Recipient,
    #[doc(alias = "bRequest")]
    pub request: u8,
    #[doc(alias = "wValue")]
    pub value: u16,
    #[doc(alias = "wIndex")]
    pub index: u16,
}

impl ControlSetup {
    /// A class request to interface `index`, the form of every DFU request.
    pub const fn class_interface(request: u8, value: u16, index: u16) -> Self {
        Self {
            request_type: RequestType::Class,
            recipient: Recipient::Interface,
            request,
            value,
            index,
        }
    }

    /// `bmRequestType` as on the wire, for logs and for simulators that decode it.
    pub const fn bm_request_type(&self, device_to_host: bool) -> u8 {
        let dir = if device_to_host { 0x80 } else { 0 };
        let kind = match self.request_type {
            RequestType::Standard => 0x00,
            RequestType::Class => 0x20,
            RequestType::Vendor => 0x40,
        };
        let recipient = match self.recipient {
            Recipient::Device => 0,
            Recipient::Interface => 1,
            Recipient::Endpoint => 2,
            Recipient::Other => 3,
        };
        dir | kind | recipient
    }
}

/// What went wrong talking to the USB device.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TransportError {
    /// The user closed the device chooser without picking a device. Not a failure to report.
    #[error("no device was selected")]
    Cancelled,
    /// The operating system refused to open the device.
    #[error("the operating system denied access to the device")]
    AccessDenied,
    /// Another driver, program or tab holds the DFU interface.
    #[error("the device's DFU interface is held by another program")]
    UnableToClaim,
    /// The device left the bus (unplugged, reset, or left DFU mode).
    #[error("the device disconnected")]
    Disconnected,
    /// The device answered the request with a STALL: DfuSe's way to reject a request.
    #[error("the device rejected the request (stall)")]
    Stall,
    /// The transfer did not complete in time.
    #[error("the USB transfer timed out")]
    Timeout,
    /// Any other browser or driver error, with the name and message it gave.
    #[error("USB error {name}: {message}")]
    Other { name: String, message: String },
}

impl TransportError {
    /// What the user can do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            Self::Cancelled => {
                "Press Connect again and pick the device in DFU mode (blinking yellow)."
            }
            Self::AccessDenied => {
                "On Windows the device needs the WinUSB driver; on Linux install Particle's udev rule, \
                 then unplug and replug the device."
            }
            Self::UnableToClaim => {
                "Close other tabs, dfu-util and the Particle CLI that may be using the device, then \
                 unplug it, replug it and connect again."
            }
            Self::Disconnected => {
                "Reconnect the cable, put the device in DFU mode again, then retry."
            }
            Self::Stall => "Put the device in DFU mode again (hold MODE, tap RESET) and retry.",
            Self::Timeout => "Try another USB cable or port, then retry.",
            Self::Other { .. } => "Unplug and replug the device, then retry.",
        }
    }
}

/// A USB device reached through control transfers on endpoint 0.
///
/// No `Send` bound: browser futures hold `Rc`s and are `!Send`. Waiting goes through
/// [`Transport::sleep`] so protocol code never reads a clock, and simulations run instantly.
#[allow(async_fn_in_trait)]
pub trait Transport {
    /// A device-to-host control transfer of at most `len` bytes.
    async fn control_in(
        &mut self,
        setup: ControlSetup,
        len: u16,
    ) -> Result<Vec<u8>, TransportError>;
    /// A host-to-device control transfer carrying `data`.
    async fn control_out(&mut self, setup: ControlSetup, data: &[u8])
    -> Result<(), TransportError>;
    /// Waits `ms` milliseconds (a device's `bwPollTimeout`, a reset delay).
    async fn sleep(&mut self, ms: u32);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_type_bytes_match_the_dfu_spec() {
        // DFU 1.1: class requests to the interface are 0x21 (OUT) and 0xA1 (IN).
        let setup = ControlSetup::class_interface(3, 0, 0);
        assert_eq!(setup.bm_request_type(false), 0x21);
        assert_eq!(setup.bm_request_type(true), 0xA1);
        let get_descriptor = ControlSetup {
            request_type: RequestType::Standard,
            recipient: Recipient::Device,
            request: 6,
            value: 0x0200,
            index: 0,
        };
        assert_eq!(get_descriptor.bm_request_type(true), 0x80);
    }

    #[test]
    fn every_error_has_a_next_step() {
        let all = [
            TransportError::Cancelled,
            TransportError::AccessDenied,
            TransportError::UnableToClaim,
            TransportError::Disconnected,
            TransportError::Stall,
            TransportError::Timeout,
            TransportError::Other {
                name: "NetworkError".into(),
                message: "x".into(),
            },
        ];
        for e in all {
            assert!(e.hint().ends_with('.'), "{e:?}");
            assert!(!e.to_string().ends_with('.'), "{e}");
        }
    }
}
