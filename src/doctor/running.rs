//! A device picked in normal mode (running its firmware): identify it over control requests and
//! put it in DFU mode for the user, then accept only that device at the browser's second prompt.
//!
//! The page's flow, as the store calls it:
//! 1. [`connect_any`] with the transport of the picked device: a DFU device gives a [`Doctor`]
//!    (as [`Doctor::connect`]), a running one a [`RunningDevice`] whose [`RunningFacts`] (device
//!    ID, Device OS version, whether it answers control requests) the page shows.
//! 2. [`RunningDevice::enter_dfu`]: request 50, then wait until the device drops off the bus.
//!    [`EnterDfuOutcome::next`] says what the page offers next: the second browser prompt, the
//!    serial-port path (14400 baud) or the buttons. For the serial port (firmware without
//!    control requests, or that stalls request 50), [`RunningDevice::enter_dfu_by_serial`] opens
//!    the device's serial port at 14400 baud and closes it, then waits for the reset as
//!    `enter_dfu` does, with the same [`SwitchTicket`].
//! 3. [`Doctor::connect_switched`] with the transport of the device picked at the second prompt
//!    and the [`SwitchTicket`] of step 2: only the same platform and device ID in DFU mode pass.

use super::error::DoctorError;
use super::{CancelFlag, Doctor, DoctorEvent, Step};
use crate::device::{Platform, UsbMode};
use crate::runtime::{self, Channel, ResultCode};
use crate::usb::serial::{DFU_BAUD_RATE, SerialError, SerialPort};
use crate::usb::{ControlSetup, Counting, Recipient, RequestType, TransferCounts, Transport};
use serde::Serialize;

/// How often the page checks whether the device has reset after request 50.
pub const RESET_POLL_MS: u32 = 250;
/// How long the page waits for the device to drop off the bus after request 50: it resets 1 s
/// after the request completes (`system_control_internal.cpp`, Device OS v2.3.1); 10 s is ten
/// times that.
pub const MAX_RESET_WAIT_MS: u32 = 10_000;
/// What the page tells the user about the wait for the DFU device to appear, in seconds: the
/// reset takes a second, enumeration a few more (unverified on hardware).
pub const DFU_APPEARS_WITHIN_S: (u32, u32) = (3, 30);
/// How long Connect waits for the device ID (20) and version (30) of a running device whose
/// system thread is busy (reaching the cloud): they only decorate what the USB serial number
/// already says, and request 50 cancels the cloud attempt, so Connect goes on without them.
pub const IDENTIFY_PENDING_MS: u32 = 3_000;

/// What the page learned about a device in normal mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunningFacts {
    pub platform: Platform,
    pub platform_name: &'static str,
    /// 24 lower-case hex digits: from request 20, or the USB serial number when the firmware
    /// does not answer it.
    pub device_id: String,
    /// The Device OS version (request 30), when the firmware answered it.
    pub system_version: Option<String>,
    /// Whether the firmware answers control requests (Device OS 0.8.0 and later).
    pub control_requests: bool,
}

/// A device connected in normal mode.
pub struct RunningDevice<T: Transport> {
    t: Counting<T>,
    facts: RunningFacts,
}

/// What [`connect_any`] found.
pub enum Connected<T: Transport> {
    /// In DFU mode: ready to diagnose (boxed: a `Doctor` is much larger than a running device).
    Dfu(Box<Doctor<T>>),
    /// In normal mode: identified, ready to be put in DFU mode.
    Running(RunningDevice<T>),
}

/// The device that [`RunningDevice::enter_dfu`] sent to DFU mode, to recognise it at the second
/// prompt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SwitchTicket {
    pub platform: Platform,
    pub device_id: String,
}

/// How asking the device to enter DFU mode went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum EnterDfuOutcome {
    /// The device took request 50 and dropped off the bus `left_after_ms` later: it is
    /// restarting as its DFU personality, which the browser must be allowed to use once more.
    Switched {
        ticket: SwitchTicket,
        left_after_ms: u32,
    },
    /// It took request 50 but was still on the bus after [`MAX_RESET_WAIT_MS`].
    DidNotReset { ticket: SwitchTicket },
    /// The firmware has no control requests (Device OS older than 0.8.0).
    OldFirmware,
    /// The device stalled request 50.
    Stalled,
    /// The device refused or did not finish the request.
    Refused { error: String, hint: String },
    /// The serial port could not be picked or opened at 14400 baud
    /// ([`RunningDevice::enter_dfu_by_serial`]); `cancelled` when the user closed the chooser.
    SerialFailed {
        error: String,
        hint: String,
        cancelled: bool,
    },
}

/// What the page offers after [`RunningDevice::enter_dfu`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum NextStep {
    /// Ask the user to pick the DFU device at the browser's second prompt.
    SecondPrompt,
    /// Try the serial port at 14400 baud (Web Serial), then the buttons.
    SerialPort,
    /// Ask the user to put the device in DFU mode with the buttons.
    Buttons,
}

impl EnterDfuOutcome {
    /// The ticket to recognise the device at the second prompt, when there is one.
    pub fn ticket(&self) -> Option<&SwitchTicket> {
        match self {
            Self::Switched { ticket, .. } | Self::DidNotReset { ticket } => Some(ticket),
            _ => None,
        }
    }

    /// What the page offers next. A device that took the request but did not reset may still
    /// show up in DFU mode, so the second prompt is offered for it too.
    pub fn next(&self) -> NextStep {
        match self {
            Self::Switched { .. } | Self::DidNotReset { .. } => NextStep::SecondPrompt,
            Self::OldFirmware | Self::Stalled => NextStep::SerialPort,
            Self::Refused { .. } | Self::SerialFailed { .. } => NextStep::Buttons,
        }
    }
}

/// Connects to the picked device in either mode. A DFU device is opened as [`Doctor::connect`]
/// does; a running one is identified over control requests (device ID 20, Device OS version 30;
/// a firmware without them is identified by its USB serial number). With `expected_id` (a
/// support link's) a different device is refused in both modes.
pub async fn connect_any<T: Transport>(
    transport: T,
    expected_id: Option<&str>,
    cancel: CancelFlag,
    on_event: &mut dyn FnMut(DoctorEvent),
) -> Result<Connected<T>, DoctorError> {
    let info = transport.info();
    let Some((platform, mode)) = Platform::from_usb_ids(info.vendor_id, info.product_id) else {
        return Err(DoctorError::NotParticle {
            vendor_id: info.vendor_id,
            product_id: info.product_id,
        });
    };
    if mode == UsbMode::Dfu {
        return Doctor::connect(transport, expected_id, cancel, on_event)
            .await
            .map(|d| Connected::Dfu(Box::new(d)));
    }
    on_event(DoctorEvent::Step(Step::Connect));
    let platform_name = platform.info().name;
    let serial_id = info.device_id();
    let mut t = Counting::new(transport);
    // The Core's firmware has no control requests (runtime-usb.md, 1).
    let channel = if platform == Platform::Core {
        Err(runtime::Error::NoControlRequests)
    } else {
        Channel::open(&mut t).await.map(drop)
    };
    let (control_requests, id, version) = match channel {
        Err(runtime::Error::NoControlRequests) => (false, None, None),
        Err(e) => return Err(e.into()),
        Ok(()) => {
            let mut ch = Channel::resume(&mut t).with_max_pending_ms(IDENTIFY_PENDING_MS);
            // Gen 2 firmware before 1.5.0 does not answer 20 (particle-usb `getDeviceId`): the
            // serial number has the same ID then.
            let (id, busy) = match ch.device_id().await {
                Ok(id) => (Some(id), false),
                Err(runtime::Error::Failed {
                    code: ResultCode::NotSupported,
                    ..
                }) => (None, false),
                Err(runtime::Error::StillPending { .. }) => (None, true),
                Err(e) => return Err(e.into()),
            };
            let version = if busy {
                None
            } else {
                match ch.system_version().await {
                    Ok(v) => Some(v),
                    Err(runtime::Error::Failed { .. } | runtime::Error::StillPending { .. }) => {
                        None
                    }
                    Err(e) => return Err(e.into()),
                }
            };
            if busy {
                on_event(DoctorEvent::Log(
                    "the device is busy (probably reaching the cloud): its ID is taken from the \
                     USB serial number"
                        .into(),
                ));
            }
            (true, id, version)
        }
    };
    let device_id = id.or(serial_id).ok_or(DoctorError::NoDeviceId)?;
    if let Some(expected) = expected_id
        && !expected.trim().eq_ignore_ascii_case(&device_id)
    {
        return Err(DoctorError::WrongDevice {
            expected: expected.trim().to_ascii_lowercase(),
            got: device_id,
        });
    }
    on_event(DoctorEvent::Log(match &version {
        Some(v) => format!("{platform_name} {device_id} in normal mode, Device OS {v}"),
        None if control_requests => format!("{platform_name} {device_id} in normal mode"),
        None => {
            format!("{platform_name} {device_id} in normal mode, firmware without control requests")
        }
    }));
    Ok(Connected::Running(RunningDevice {
        t,
        facts: RunningFacts {
            platform,
            platform_name,
            device_id,
            system_version: version,
            control_requests,
        },
    }))
}

impl<T: Transport> RunningDevice<T> {
    /// The counted transport and the facts, for the repair over control requests
    /// (`super::normal_mode`), which gives them back when it falls back to DFU mode.
    pub(super) fn into_parts(self) -> (Counting<T>, RunningFacts) {
        (self.t, self.facts)
    }

    pub(super) fn from_parts(t: Counting<T>, facts: RunningFacts) -> Self {
        Self { t, facts }
    }

    pub fn facts(&self) -> &RunningFacts {
        &self.facts
    }

    /// Control transfers used so far with this device.
    pub fn transfers(&self) -> TransferCounts {
        self.t.counts()
    }

    /// The transport, for a caller that goes on with it (the serial path needs none of it).
    pub fn into_transport(self) -> T {
        self.t.into_inner()
    }

    /// Asks the device to enter DFU mode (request 50) and waits until it drops off the bus,
    /// which is how its reset looks from here.
    pub async fn enter_dfu(&mut self, on_event: &mut dyn FnMut(DoctorEvent)) -> EnterDfuOutcome {
        if !self.facts.control_requests {
            return EnterDfuOutcome::OldFirmware;
        }
        let ticket = SwitchTicket {
            platform: self.facts.platform,
            device_id: self.facts.device_id.clone(),
        };
        match Channel::resume(&mut self.t).enter_dfu().await {
            Ok(()) => {}
            // The channel answered at Connect, so a stall now is this request's, not old firmware.
            Err(runtime::Error::NoControlRequests | runtime::Error::Stalled { .. }) => {
                return EnterDfuOutcome::Stalled;
            }
            Err(e) => {
                return EnterDfuOutcome::Refused {
                    error: e.to_string(),
                    hint: e.hint().to_owned(),
                };
            }
        }
        on_event(DoctorEvent::Log(
            "the device accepted the request to enter DFU mode".into(),
        ));
        self.wait_for_reset(ticket, on_event).await
    }

    /// The way into DFU mode for firmware without control requests, or that stalled request 50
    /// ([`NextStep::SerialPort`]): asks for the device's serial port (`serial` shows the
    /// browser's chooser, so call this from a user gesture), opens it at 14400 baud, which makes
    /// the firmware call `System.dfu(false)` (`system_lineCodingBitRateHandler`,
    /// `system/src/system_update.cpp`, Device OS v2.3.1), closes it, then waits for the device to
    /// drop off the bus as [`Self::enter_dfu`] does. The ticket is the same, so the second
    /// prompt accepts only this device. Web Serial does not show a port's serial number, so with
    /// two devices of the same platform plugged in the user may pick the other one's port: the
    /// wait then ends in [`EnterDfuOutcome::DidNotReset`] and the second prompt refuses the other
    /// device by its ID.
    pub async fn enter_dfu_by_serial(
        &mut self,
        serial: &mut impl SerialPort,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> EnterDfuOutcome {
        let info = self.facts.platform.info();
        let ticket = SwitchTicket {
            platform: self.facts.platform,
            device_id: self.facts.device_id.clone(),
        };
        let failed = |e: SerialError| EnterDfuOutcome::SerialFailed {
            error: e.to_string(),
            hint: e.hint().to_owned(),
            cancelled: e == SerialError::Refused,
        };
        if let Err(e) = serial
            .request(info.vendor_id, info.runtime_product_id)
            .await
        {
            return failed(e);
        }
        if let Err(e) = serial.open(DFU_BAUD_RATE).await {
            return failed(e);
        }
        on_event(DoctorEvent::Log(format!(
            "the serial port was opened at {DFU_BAUD_RATE} baud"
        )));
        // The firmware acts on the line coding alone; the port only needs giving back, and a
        // device already resetting may not let it close cleanly.
        if let Err(e) = serial.close().await {
            on_event(DoctorEvent::Log(format!("closing the serial port: {e}")));
        }
        self.wait_for_reset(ticket, on_event).await
    }

    /// Waits until the device drops off the bus (its reset into DFU mode), polling a standard
    /// GET_STATUS every [`RESET_POLL_MS`] for at most [`MAX_RESET_WAIT_MS`].
    async fn wait_for_reset(
        &mut self,
        ticket: SwitchTicket,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> EnterDfuOutcome {
        let mut waited = 0;
        while waited < MAX_RESET_WAIT_MS {
            self.t.sleep(RESET_POLL_MS).await;
            waited += RESET_POLL_MS;
            // A standard GET_STATUS: answered by any USB device, so only a device that left the
            // bus fails it.
            let setup = ControlSetup {
                request_type: RequestType::Standard,
                recipient: Recipient::Device,
                request: crate::usb::standard::GET_STATUS,
                value: 0,
                index: 0,
            };
            if self.t.control_in(setup, 2).await.is_err() {
                on_event(DoctorEvent::Log(format!(
                    "the device restarted into DFU mode after {waited} ms"
                )));
                return EnterDfuOutcome::Switched {
                    ticket,
                    left_after_ms: waited,
                };
            }
        }
        EnterDfuOutcome::DidNotReset { ticket }
    }
}

impl<T: Transport> Doctor<T> {
    /// Connects to the device picked at the second prompt after [`RunningDevice::enter_dfu`]:
    /// only the same platform with the same device ID, in DFU mode, is accepted (the DFU
    /// personality's serial number is the device ID, as in normal mode: runtime-usb.md, 1).
    pub async fn connect_switched(
        transport: T,
        ticket: &SwitchTicket,
        cancel: CancelFlag,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<Self, DoctorError> {
        let info = transport.info();
        let (platform, mode) = Platform::from_usb_ids(info.vendor_id, info.product_id).ok_or(
            DoctorError::NotParticle {
                vendor_id: info.vendor_id,
                product_id: info.product_id,
            },
        )?;
        let got = info.device_id();
        if platform != ticket.platform || got.as_deref() != Some(ticket.device_id.as_str()) {
            return Err(DoctorError::NotTheSwitchedDevice {
                expected: format!("{} {}", ticket.platform.info().name, ticket.device_id),
                got: format!(
                    "{} {}",
                    platform.info().name,
                    got.as_deref().unwrap_or("without a device ID")
                ),
            });
        }
        if mode == UsbMode::Runtime {
            return Err(DoctorError::StillInNormalMode {
                platform: platform.info().name,
            });
        }
        Self::connect(transport, Some(&ticket.device_id), cancel, on_event).await
    }
}
