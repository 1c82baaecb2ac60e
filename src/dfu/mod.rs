//! DFU 1.1 + DfuSe host: requests, replies, states and `dfu::Error`.
//!
//! Async over [`crate::usb::Transport`] and nothing else: this module never imports `web_sys`,
//! `leptos` or an executor, and never sleeps or reads a clock itself (waiting goes through the
//! transport). Facts: shared/reference/dfuse-protocol.md.
//!
//! Entry point: [`Dfu::open`] on a claimed device, then [`Dfu::read`], [`Dfu::write`],
//! [`Dfu::verify`] and [`Dfu::leave`].

pub mod descriptor;
mod host;
pub mod layout;

pub use descriptor::FunctionalDescriptor;
pub use host::{
    AltFacts, Command, Dfu, Erase, LeaveOutcome, MAX_BUSY_WAIT_MS, MAX_POLL_SLEEP_MS, PollWaits,
};
pub use layout::{Access, LayoutProblem, MemoryLayout, Region, Sector, Segment};

use crate::usb::{ControlSetup, Transport, TransportError};
use thiserror::Error;

/// The range the Gen 2 bootloader (Photon, P1, Electron) refuses to erase or write on alt 0,
/// although its layout string marks sectors 3 and 4 writable (dfuse-protocol.md, 9.2).
pub const GEN2_PROTECTED: std::ops::Range<u32> = 0x0800_0000..0x0802_0000;

/// DFU class request numbers (DFU 1.1, table 3.2).
pub mod request {
    pub const DETACH: u8 = 0;
    pub const DNLOAD: u8 = 1;
    pub const UPLOAD: u8 = 2;
    pub const GETSTATUS: u8 = 3;
    pub const CLRSTATUS: u8 = 4;
    pub const GETSTATE: u8 = 5;
    pub const ABORT: u8 = 6;
}

/// The device states of DFU 1.1 (`bState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum State {
    AppIdle,
    AppDetach,
    DfuIdle,
    DnloadSync,
    DnBusy,
    DnloadIdle,
    ManifestSync,
    Manifest,
    ManifestWaitReset,
    UploadIdle,
    Error,
    /// A state byte outside the specification (the Photon stores 15 after a bad UPLOAD).
    Unknown(u8),
}

impl State {
    pub fn from_byte(b: u8) -> Self {
        match b {
            0 => Self::AppIdle,
            1 => Self::AppDetach,
            2 => Self::DfuIdle,
            3 => Self::DnloadSync,
            4 => Self::DnBusy,
            5 => Self::DnloadIdle,
            6 => Self::ManifestSync,
            7 => Self::Manifest,
            8 => Self::ManifestWaitReset,
            9 => Self::UploadIdle,
            10 => Self::Error,
            other => Self::Unknown(other),
        }
    }

    pub fn to_byte(self) -> u8 {
        match self {
            Self::AppIdle => 0,
            Self::AppDetach => 1,
            Self::DfuIdle => 2,
            Self::DnloadSync => 3,
            Self::DnBusy => 4,
            Self::DnloadIdle => 5,
            Self::ManifestSync => 6,
            Self::Manifest => 7,
            Self::ManifestWaitReset => 8,
            Self::UploadIdle => 9,
            Self::Error => 10,
            Self::Unknown(b) => b,
        }
    }
}

/// The reply to GETSTATUS: `bStatus`, `bwPollTimeout`, `bState`, `iString`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusReply {
    /// `bStatus`: 0 is OK, anything else an error code (errTARGET = 1 … errSTALLEDPKT = 15).
    pub status: u8,
    /// `bwPollTimeout`: how long the host waits before the next request, in milliseconds.
    pub poll_timeout_ms: u32,
    pub state: State,
}

impl StatusReply {
    pub const LEN: u16 = 6;

    /// Parses the six reply bytes; a short reply is a protocol error, never a panic.
    pub fn parse(bytes: &[u8]) -> Result<Self, Error> {
        let [status, p0, p1, p2, state, _istring, ..] = *bytes else {
            return Err(Error::ShortReply {
                request: "GETSTATUS",
                got: bytes.len(),
                expected: 6,
            });
        };
        Ok(Self {
            status,
            poll_timeout_ms: u32::from_le_bytes([p0, p1, p2, 0]),
            state: State::from_byte(state),
        })
    }

    pub fn to_bytes(self) -> [u8; 6] {
        let p = self.poll_timeout_ms.to_le_bytes();
        [self.status, p[0], p[1], p[2], self.state.to_byte(), 0]
    }
}

/// What went wrong in the DFU conversation.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Error {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("the device answered {request} with {got} bytes instead of {expected}")]
    ShortReply {
        request: &'static str,
        got: usize,
        expected: usize,
    },
    #[error("the device's {what} descriptor is malformed")]
    BadDescriptor { what: &'static str },
    #[error("the device speaks plain DFU (version {version:04x?}), not ST's DfuSe")]
    NotDfuSe { version: Option<u16> },
    #[error("the device has no alternate setting {alternate} on interface {interface}")]
    NoAlternate { interface: u8, alternate: u8 },
    #[error("the memory layout {text:?} cannot be read at byte {at}: {problem}")]
    BadLayout {
        text: String,
        problem: LayoutProblem,
        at: usize,
    },
    #[error("{len} bytes at {address:#010x} lie outside the device's memory")]
    OutOfRange { address: u32, len: usize },
    #[error("the memory at {address:#010x} cannot be read over DFU")]
    NotReadable { address: u32 },
    #[error("the memory at {address:#010x} cannot be written over DFU")]
    NotWritable { address: u32 },
    #[error("the bootloader protects the memory at {address:#010x}")]
    Protected { address: u32 },
    #[error("the device is in state {got:?} (status {status}) instead of {expected:?}")]
    UnexpectedState {
        got: State,
        status: u8,
        expected: State,
    },
    #[error(
        "the device stayed busy for {polls} status requests and {waited_ms} ms, and asked to wait \
         {asked_ms} ms more"
    )]
    StillBusy {
        polls: u32,
        /// Milliseconds this wait used: the sleeps between the polls (each capped at
        /// [`MAX_POLL_SLEEP_MS`]), or the transport's clock where it has one and says more.
        waited_ms: u64,
        /// The device's last `bwPollTimeout`, as it reported it.
        asked_ms: u32,
    },
    #[error("the device rejected {command} at {address:#010x}")]
    CommandRejected { command: Command, address: u32 },
    #[error("{command} at {address:#010x} ended in state {state:?} with status {status}")]
    CommandFailed {
        command: Command,
        address: u32,
        status: u8,
        state: State,
    },
    #[error("the device rejected the data written at {address:#010x}")]
    WriteRejected { address: u32 },
    #[error("writing at {address:#010x} ended in state {state:?} with status {status}")]
    WriteFailed {
        address: u32,
        status: u8,
        state: State,
    },
    #[error("the device returned {got} of {expected} bytes, ending at {address:#010x}")]
    UploadEndedEarly {
        address: u32,
        got: usize,
        expected: usize,
    },
    #[error("read-back differs at {address:#010x}: wrote {expected:#04x}, read {got:#04x}")]
    VerifyMismatch { address: u32, expected: u8, got: u8 },
    #[error("the device refused to leave DFU mode (state {state:?}, status {status})")]
    LeaveRefused { state: State, status: u8 },
}

impl Error {
    /// What the user can do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            Self::Transport(e) => e.hint(),
            Self::ShortReply { .. }
            | Self::BadDescriptor { .. }
            | Self::NotDfuSe { .. }
            | Self::NoAlternate { .. }
            | Self::BadLayout { .. } => {
                "The device does not behave like a Particle DFU bootloader: reset it into DFU mode \
                 and retry."
            }
            Self::OutOfRange { .. }
            | Self::NotReadable { .. }
            | Self::NotWritable { .. }
            | Self::Protected { .. } => {
                "This device model keeps its keys elsewhere: check that the right device type is \
                 selected."
            }
            Self::UnexpectedState { .. } | Self::StillBusy { .. } | Self::LeaveRefused { .. } => {
                "Reset the device into DFU mode (hold SETUP, MODE on other devices, tap RESET, \
                 release it on blinking yellow) and retry."
            }
            Self::CommandRejected { .. }
            | Self::CommandFailed { .. }
            | Self::WriteRejected { .. }
            | Self::WriteFailed { .. }
            | Self::UploadEndedEarly { .. }
            | Self::VerifyMismatch { .. } => {
                "Nothing is lost yet: keep the backup, reset the device into DFU mode and retry; if \
                 it fails again, update the device's bootloader with the Particle CLI."
            }
        }
    }
}

/// Sends GETSTATUS on DFU interface `interface` and parses the reply.
pub async fn get_status<T: Transport>(t: &mut T, interface: u16) -> Result<StatusReply, Error> {
    let setup = ControlSetup::class_interface(request::GETSTATUS, 0, interface);
    let reply = t.control_in(setup, StatusReply::LEN).await?;
    StatusReply::parse(&reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_reply_round_trips_and_reads_the_three_byte_timeout() {
        let reply = StatusReply::parse(&[0, 0x10, 0x27, 0x01, 5, 0]).unwrap();
        assert_eq!(reply.status, 0);
        assert_eq!(reply.poll_timeout_ms, 0x01_2710);
        assert_eq!(reply.state, State::DnloadIdle);
        assert_eq!(reply.to_bytes(), [0, 0x10, 0x27, 0x01, 5, 0]);
    }

    #[test]
    fn short_status_reply_is_an_error_not_a_panic() {
        for len in 0..6 {
            let err = StatusReply::parse(&vec![0; len]).unwrap_err();
            assert_eq!(
                err,
                Error::ShortReply {
                    request: "GETSTATUS",
                    got: len,
                    expected: 6
                }
            );
        }
    }

    #[test]
    fn state_bytes_round_trip_including_the_photon_bug_state() {
        for b in 0..=255u8 {
            assert_eq!(State::from_byte(b).to_byte(), b);
        }
        assert_eq!(State::from_byte(15), State::Unknown(15));
    }
}
