//! USB control transfers as the DFU host needs them: the [`Transport`] trait, its setup packet
//! and its typed errors.
//!
//! This module owns the boundary between protocol code and a real (or simulated) USB device. It must
//! not import `web_sys`, `leptos` or an executor; the WebUSB implementation lives in `webusb.rs`,
//! compiled for wasm32 only, and the simulated devices in `crate::sim` implement the same trait.

pub mod serial;
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
    /// A transfer did not complete within its deadline ([`deadline_ms`]): the device stopped
    /// answering. A real device in that state needs unplugging; the transfer may or may not have
    /// taken effect.
    #[error("the device stopped answering (a USB transfer took longer than its deadline)")]
    Timeout,
    /// The browser refused USB access here: no user gesture, or a permissions policy (iframes).
    #[error("the browser blocked access to USB devices on this page: {message}")]
    Blocked { message: String },
    /// This browser has no WebUSB (`navigator.usb` is missing or the page is not secure).
    #[error("this browser cannot talk to USB devices")]
    Unsupported,
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
            Self::Stall => {
                "Put the device in DFU mode again (hold SETUP, MODE on other devices, tap \
                 RESET) and retry."
            }
            Self::Timeout => {
                "Unplug the device, plug it in again and put it in DFU mode (hold SETUP, MODE on \
                 other devices, tap RESET, let go when the LED blinks yellow), then press Reconnect; if it happens \
                 again, try another USB cable or port."
            }
            Self::Blocked { .. } => {
                "Press the Connect button again; if this page is embedded in another site, open \
                 Key Rescue in its own tab."
            }
            Self::Unsupported => {
                "Open this page over https in Chrome or Edge on a computer or an Android phone."
            }
            Self::Other { .. } => "Unplug and replug the device, then retry.",
        }
    }
}

/// The deadline of an ordinary control transfer: 5 s, what dfu-util gives every control transfer
/// (dfu-util `src/main.c`, `dfu_timeout = 5000`). Descriptor reads, SET_INTERFACE, a DNLOAD into
/// the bootloader's 4096-byte buffer, an UPLOAD of at most 4096 bytes, ABORT, CLRSTATUS and
/// GETSTATE are answered within milliseconds at full speed: the device does no flash work inside
/// them (dfuse-protocol.md 9.4). WebUSB control transfers have no timeout of their own
/// (webusb.md 7), so without this a device that stops answering keeps the page busy forever.
pub const CONTROL_DEADLINE_MS: u32 = 5_000;

/// The longest flash work a bootloader may do inside a DFU GETSTATUS: 10 s. The Photon bootloader
/// erases or programs flash in its USB interrupt right after the data stage of the GETSTATUS that
/// reported dfuDNBUSY, and declares bwPollTimeout 0 on alt 0, so the host sees that work as a slow
/// GETSTATUS (dfuse-protocol.md 9.4). The largest sector it erases is a 128 KiB STM32F2 sector,
/// "on the order of a second" (not measured: unverified); 10 s is ten times that. Keep it at least
/// the DFU host's bwPollTimeout cap: a device that declares a long poll timeout may as well spend
/// it inside the status stage.
pub const DEVICE_WORK_MS: u32 = 10_000;

/// The deadline of a DFU GETSTATUS: the device's flash work ([`DEVICE_WORK_MS`]) plus the
/// ordinary deadline for the transfer itself.
pub const STATUS_DEADLINE_MS: u32 = DEVICE_WORK_MS + CONTROL_DEADLINE_MS;

/// DFU GETSTATUS (DFU 1.1, table 3.2): the one request inside which a device may legitimately work.
const DFU_GETSTATUS: u8 = 3;

/// How long the transfer with `setup` may take before the transport gives up with
/// [`TransportError::Timeout`]: [`STATUS_DEADLINE_MS`] for a DFU GETSTATUS (class, interface,
/// device-to-host, bRequest 3), [`CONTROL_DEADLINE_MS`] for everything else. Every [`Transport`]
/// enforces it, so every caller gets it.
pub const fn deadline_ms(setup: &ControlSetup, device_to_host: bool) -> u32 {
    let getstatus = device_to_host
        && matches!(setup.request_type, RequestType::Class)
        && matches!(setup.recipient, Recipient::Interface)
        && setup.request == DFU_GETSTATUS;
    if getstatus {
        STATUS_DEADLINE_MS
    } else {
        CONTROL_DEADLINE_MS
    }
}

/// Standard request numbers (USB 2.0, table 9-4) that the DFU host and the simulators use.
pub mod standard {
    pub const GET_STATUS: u8 = 0;
    pub const GET_DESCRIPTOR: u8 = 6;
    pub const GET_CONFIGURATION: u8 = 8;
    pub const SET_CONFIGURATION: u8 = 9;
    pub const GET_INTERFACE: u8 = 10;
    pub const SET_INTERFACE: u8 = 11;
    /// Descriptor types, the high byte of GET_DESCRIPTOR's `wValue`.
    pub const DEVICE: u8 = 1;
    pub const CONFIGURATION: u8 = 2;
    pub const STRING: u8 = 3;
    pub const INTERFACE: u8 = 4;
    /// The DFU functional descriptor (DFU 1.1, 4.1.3).
    pub const DFU_FUNCTIONAL: u8 = 0x21;
}

/// One alternate setting of an interface, as the browser lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlternateInfo {
    pub interface: u8,
    pub alternate: u8,
    /// The iInterface string (a DfuSe memory layout on DFU devices). `None` when the browser did not
    /// read it; the DFU host then reads the string descriptor itself.
    pub name: Option<String>,
}

/// What the USB stack knows about the device without asking it anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceInfo {
    pub vendor_id: u16,
    pub product_id: u16,
    pub serial_number: Option<String>,
    pub product_name: Option<String>,
    pub alternates: Vec<AlternateInfo>,
}

impl DeviceInfo {
    /// The Particle device ID: the first run of 24 hex digits in the serial number, lower-cased.
    ///
    /// Gen 2 bootloaders send exactly the ID, but older runtime firmware embeds it in a longer
    /// serial string, so search for it as the Particle CLI does with `/[0-9A-Fa-f]{24}/`.
    pub fn device_id(&self) -> Option<String> {
        device_id_from_serial(self.serial_number.as_deref()?)
    }

    /// The browser's name for an alternate setting, if it has one.
    pub fn alternate_name(&self, interface: u8, alternate: u8) -> Option<&str> {
        self.alternates
            .iter()
            .find(|a| a.interface == interface && a.alternate == alternate)
            .and_then(|a| a.name.as_deref())
    }
}

/// Finds the first run of 24 hex digits in a USB serial number and returns it in lower case.
pub fn device_id_from_serial(serial: &str) -> Option<String> {
    let bytes = serial.as_bytes();
    let mut run_start = 0;
    for (i, b) in bytes.iter().enumerate() {
        if !b.is_ascii_hexdigit() {
            run_start = i + 1;
        } else if i + 1 - run_start == 24 {
            return Some(serial[run_start..=i].to_ascii_lowercase());
        }
    }
    None
}

/// A USB device reached through control transfers on endpoint 0.
///
/// Every control transfer (alternate selection included) ends within its [`deadline_ms`]: an
/// implementation that cannot get an answer in time returns [`TransportError::Timeout`].
///
/// No `Send` bound: browser futures hold `Rc`s and are `!Send`. Waiting goes through
/// [`Transport::sleep`] so protocol code never reads a clock, and simulations run instantly.
/// Opening and claiming happen when a transport is built (they differ between WebUSB and a
/// simulator); selecting an alternate setting happens mid-session, so it is part of the trait.
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

    /// Selects alternate setting `alternate` of the claimed interface `interface`.
    ///
    /// The default sends the standard SET_INTERFACE request. Browsers must use their own call
    /// instead (WebUSB's `selectAlternateInterface`) so that their idea of the device stays right.
    async fn select_alternate(
        &mut self,
        interface: u8,
        alternate: u8,
    ) -> Result<(), TransportError> {
        let setup = ControlSetup {
            request_type: RequestType::Standard,
            recipient: Recipient::Interface,
            request: standard::SET_INTERFACE,
            value: u16::from(alternate),
            index: u16::from(interface),
        };
        self.control_out(setup, &[]).await
    }

    /// Identity and interface names known without a transfer. The default knows nothing.
    fn info(&self) -> DeviceInfo {
        DeviceInfo::default()
    }

    /// A monotonic clock in milliseconds, where the transport has one (the browser's
    /// `performance.now()`, a simulator's virtual time), so a wait can count the time its
    /// transfers took and not only its sleeps. Protocol code only compares two readings.
    fn now_ms(&self) -> Option<u64> {
        None
    }
}

/// Control transfers and bytes moved through a [`Counting`] transport.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransferCounts {
    /// Control transfers attempted (IN, OUT and alternate selections), failed ones included.
    pub transfers: u32,
    /// Data-stage bytes received from the device.
    pub bytes_in: u64,
    /// Data-stage bytes sent to the device.
    pub bytes_out: u64,
}

impl TransferCounts {
    /// The counts accumulated since `earlier`, for measuring one operation.
    pub fn since(self, earlier: TransferCounts) -> TransferCounts {
        TransferCounts {
            transfers: self.transfers - earlier.transfers,
            bytes_in: self.bytes_in - earlier.bytes_in,
            bytes_out: self.bytes_out - earlier.bytes_out,
        }
    }
}

/// A transport wrapper that counts what passes through it, for progress figures and benchmarks.
#[derive(Debug, Clone, Default)]
pub struct Counting<T> {
    inner: T,
    counts: TransferCounts,
}

impl<T> Counting<T> {
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            counts: TransferCounts::default(),
        }
    }

    pub fn counts(&self) -> TransferCounts {
        self.counts
    }

    pub fn inner(&self) -> &T {
        &self.inner
    }

    pub fn inner_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T: Transport> Transport for Counting<T> {
    async fn control_in(
        &mut self,
        setup: ControlSetup,
        len: u16,
    ) -> Result<Vec<u8>, TransportError> {
        self.counts.transfers += 1;
        let reply = self.inner.control_in(setup, len).await?;
        self.counts.bytes_in += reply.len() as u64;
        Ok(reply)
    }

    async fn control_out(
        &mut self,
        setup: ControlSetup,
        data: &[u8],
    ) -> Result<(), TransportError> {
        self.counts.transfers += 1;
        self.inner.control_out(setup, data).await?;
        self.counts.bytes_out += data.len() as u64;
        Ok(())
    }

    async fn sleep(&mut self, ms: u32) {
        self.inner.sleep(ms).await;
    }

    async fn select_alternate(
        &mut self,
        interface: u8,
        alternate: u8,
    ) -> Result<(), TransportError> {
        self.counts.transfers += 1;
        self.inner.select_alternate(interface, alternate).await
    }

    fn info(&self) -> DeviceInfo {
        self.inner.info()
    }

    fn now_ms(&self) -> Option<u64> {
        self.inner.now_ms()
    }
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
    fn only_a_dfu_getstatus_gets_the_long_deadline() {
        let getstatus = ControlSetup::class_interface(3, 0, 0);
        assert_eq!(deadline_ms(&getstatus, true), STATUS_DEADLINE_MS);
        // The same number as OUT, another class request, or a standard GET_STATUS: ordinary.
        assert_eq!(deadline_ms(&getstatus, false), CONTROL_DEADLINE_MS);
        for request in [0, 1, 2, 4, 5, 6] {
            let setup = ControlSetup::class_interface(request, 2, 0);
            assert_eq!(deadline_ms(&setup, true), CONTROL_DEADLINE_MS, "{request}");
            assert_eq!(deadline_ms(&setup, false), CONTROL_DEADLINE_MS, "{request}");
        }
        let standard_status = ControlSetup {
            request_type: RequestType::Standard,
            recipient: Recipient::Interface,
            request: 0,
            value: 0,
            index: 0,
        };
        assert_eq!(deadline_ms(&standard_status, true), CONTROL_DEADLINE_MS);
        const { assert!(STATUS_DEADLINE_MS > DEVICE_WORK_MS && DEVICE_WORK_MS > CONTROL_DEADLINE_MS) };
    }

    #[test]
    fn device_id_is_found_inside_longer_serials_and_lower_cased() {
        let id = "0123456789abcdef01234567";
        assert_eq!(device_id_from_serial(id).as_deref(), Some(id));
        assert_eq!(
            device_id_from_serial("Photon_0123456789ABCDEF01234567x").as_deref(),
            Some(id)
        );
        // A 23-digit run followed by a separator does not count; the later run does.
        assert_eq!(
            device_id_from_serial("0123456789abcdef0123456-0123456789abcdef01234567").as_deref(),
            Some(id)
        );
        assert_eq!(device_id_from_serial("0123456789abcdef0123456"), None);
        assert_eq!(device_id_from_serial(""), None);
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
            TransportError::Blocked {
                message: "Must be handling a user gesture".into(),
            },
            TransportError::Unsupported,
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
