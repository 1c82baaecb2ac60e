//! `runtime::Error`: every way a control request to a running device can fail, each with a hint.

use super::wire::{ReplyStatus, Service};
use crate::usb::TransportError;
use thiserror::Error;

/// A Device OS system error code a finished request reported (`system_error.h`, Device OS
/// v2.3.1), named where this page can say something about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultCode {
    /// -100.
    Unknown,
    /// -110.
    Busy,
    /// -120: the firmware does not handle this request type.
    NotSupported,
    /// -130.
    NotAllowed,
    /// -140: cancelled (a RESET service request, another host).
    Cancelled,
    /// -150: aborted (a USB bus reset).
    Aborted,
    /// -160.
    Timeout,
    /// -170.
    NotFound,
    /// -190.
    TooLarge,
    /// -210.
    InvalidState,
    /// -250.
    Internal,
    /// -260.
    NoMemory,
    /// -270.
    InvalidArgument,
    /// Any other code.
    Other(i32),
}

impl ResultCode {
    pub fn from_code(code: i32) -> Self {
        match code {
            -100 => Self::Unknown,
            -110 => Self::Busy,
            -120 => Self::NotSupported,
            -130 => Self::NotAllowed,
            -140 => Self::Cancelled,
            -150 => Self::Aborted,
            -160 => Self::Timeout,
            -170 => Self::NotFound,
            -190 => Self::TooLarge,
            -210 => Self::InvalidState,
            -250 => Self::Internal,
            -260 => Self::NoMemory,
            -270 => Self::InvalidArgument,
            other => Self::Other(other),
        }
    }

    pub fn code(self) -> i32 {
        match self {
            Self::Unknown => -100,
            Self::Busy => -110,
            Self::NotSupported => -120,
            Self::NotAllowed => -130,
            Self::Cancelled => -140,
            Self::Aborted => -150,
            Self::Timeout => -160,
            Self::NotFound => -170,
            Self::TooLarge => -190,
            Self::InvalidState => -210,
            Self::Internal => -250,
            Self::NoMemory => -260,
            Self::InvalidArgument => -270,
            Self::Other(code) => code,
        }
    }
}

impl std::fmt::Display for ResultCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Self::Unknown => "unknown error",
            Self::Busy => "resource busy",
            Self::NotSupported => "not supported",
            Self::NotAllowed => "not allowed",
            Self::Cancelled => "operation cancelled",
            Self::Aborted => "operation aborted",
            Self::Timeout => "timeout error",
            Self::NotFound => "not found",
            Self::TooLarge => "too large data",
            Self::InvalidState => "invalid state",
            Self::Internal => "internal error",
            Self::NoMemory => "memory allocation error",
            Self::InvalidArgument => "invalid argument",
            Self::Other(code) => return write!(f, "error {code}"),
        };
        write!(f, "{name} ({})", self.code())
    }
}

/// What went wrong with a control request.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Error {
    /// The device stalled the first service request: its firmware has no control requests
    /// (Device OS older than 0.8.0, or firmware built without them).
    #[error("the device's firmware does not answer control requests (Device OS older than 0.8.0?)")]
    NoControlRequests,
    /// A service request stalled in the middle of a request the device had accepted.
    #[error("the device rejected the {service} step of control request {request_type} (stall)")]
    Stalled { service: Service, request_type: u16 },
    /// The device kept answering BUSY (too many requests active, e.g. another program's).
    #[error("the device is busy with other control requests")]
    Busy,
    /// The device could not allocate memory for the request.
    #[error("the device has no memory for control request {request_type}")]
    NoMemory { request_type: u16 },
    /// The device no longer knows the request: it was cancelled or the device reset.
    #[error("the device lost control request {request_type} (cancelled, or the device reset)")]
    NotFound { request_type: u16 },
    /// The request ran and reported a negative result code.
    #[error("the device refused control request {request_type}: {code}")]
    Failed { request_type: u16, code: ResultCode },
    /// The device kept the request pending past [`super::MAX_PENDING_MS`] (or
    /// [`super::MAX_CHECKS`] polls): its system thread is busy, typically trying to reach the
    /// cloud.
    #[error("the device did not finish control request {request_type} within {waited_ms} ms")]
    StillPending { request_type: u16, waited_ms: u32 },
    /// A service reply that does not follow the protocol.
    #[error("the device's {service} reply is malformed: {what}")]
    BadServiceReply {
        service: Service,
        what: &'static str,
    },
    /// A service reply with a status the step does not allow.
    #[error("the device answered {service} with status {status:?}")]
    UnexpectedStatus {
        service: Service,
        status: ReplyStatus,
    },
    /// The reply payload is not the protobuf message the request type defines.
    #[error("the reply to control request {request_type} is not valid: {what}")]
    BadMessage { request_type: u16, what: String },
    /// A USB failure other than a stall (disconnect, deadline passed, ...).
    #[error(transparent)]
    Transport(TransportError),
}

impl Error {
    /// What the user can do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            Self::NoControlRequests | Self::Stalled { .. } => {
                "Put the device in DFU mode by hand: hold SETUP (MODE on other devices), tap \
                 RESET, and let go when the LED blinks yellow."
            }
            Self::Busy => {
                "Close the Particle CLI, Particle Workbench and other tabs that talk to the device, \
                 then try again."
            }
            Self::NoMemory { .. } | Self::NotFound { .. } | Self::BadServiceReply { .. } => {
                "Unplug the device, plug it in again, wait until its LED settles, then try again."
            }
            Self::Failed { code, .. } => match code {
                ResultCode::NotSupported => {
                    "This firmware does not offer that request: put the device in DFU mode by \
                     hand (hold SETUP, MODE on other devices, tap RESET, let go when the LED blinks yellow)."
                }
                _ => "Tap RESET on the device, wait until its LED settles, then try again.",
            },
            Self::StillPending { .. } => {
                "The device is busy, probably trying to reach the cloud: wait until its LED \
                 settles and try again, or put it in DFU mode by hand (hold SETUP, MODE on \
                 other devices, tap RESET, let go when the LED blinks yellow)."
            }
            Self::UnexpectedStatus { .. } | Self::BadMessage { .. } => {
                "Update the device's Device OS or put it in DFU mode by hand (hold SETUP, MODE on \
                 other devices, tap RESET, let go when the LED blinks yellow)."
            }
            Self::Transport(e) => e.hint(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_codes_round_trip_and_are_named() {
        for code in [
            -100, -110, -120, -130, -140, -150, -160, -170, -190, -210, -250, -260, -270, -1,
        ] {
            assert_eq!(ResultCode::from_code(code).code(), code);
        }
        assert_eq!(
            ResultCode::from_code(-120).to_string(),
            "not supported (-120)"
        );
        assert_eq!(
            ResultCode::from_code(-210).to_string(),
            "invalid state (-210)"
        );
        assert_eq!(ResultCode::from_code(-7).to_string(), "error -7");
    }

    #[test]
    fn every_error_has_a_next_step() {
        let all = [
            Error::NoControlRequests,
            Error::Stalled {
                service: Service::Recv,
                request_type: 20,
            },
            Error::Busy,
            Error::NoMemory { request_type: 1 },
            Error::NotFound { request_type: 1 },
            Error::Failed {
                request_type: 50,
                code: ResultCode::NotSupported,
            },
            Error::Failed {
                request_type: 50,
                code: ResultCode::InvalidState,
            },
            Error::StillPending {
                request_type: 20,
                waited_ms: 30_000,
            },
            Error::BadServiceReply {
                service: Service::Check,
                what: "x",
            },
            Error::UnexpectedStatus {
                service: Service::Init,
                status: ReplyStatus::Error,
            },
            Error::BadMessage {
                request_type: 20,
                what: "x".into(),
            },
            Error::Transport(TransportError::Timeout),
        ];
        for e in all {
            assert!(e.hint().ends_with('.'), "{e:?}");
            let text = e.to_string();
            assert!(!text.ends_with('.'), "{text}");
            assert!(text.starts_with(|c: char| c.is_lowercase()), "{text}");
        }
    }
}
