//! The service requests' setup packets and the service reply, as on the wire (pure).
//!
//! Reply layout (`ServiceReply::encode`, `usb_control_request_channel.cpp`, Device OS v2.3.1):
//! `u32 flags` (0x01 status, always set; 0x02 id; 0x04 size; 0x08 result), `u16 status`, then in
//! flag order `u16 id`, `u32 size`, `i32 result`, all little-endian.

use super::error::Error;
use crate::usb::{ControlSetup, Recipient, RequestType};

/// The smallest data stage the device accepts for INIT, CHECK and RESET (`MIN_WLENGTH`): it
/// stalls a shorter one.
pub const MIN_WLENGTH: u16 = 64;

/// Data-stage size of one SEND or RECV: particle-usb's `MAX_CONTROL_TRANSFER_DATA_SIZE`. Chunks
/// of at most 64 bytes go through the device's HAL buffer, longer ones straight into the request
/// buffer (`processSendRequest`, `processRecvRequest`).
pub const MAX_CHUNK: usize = 4096;

/// The five service requests (`ServiceRequestType`); their number is the `bRequest`. Any other
/// `bRequest` from 1 to 15 is stalled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Init = 1,
    Check = 2,
    Send = 3,
    Recv = 4,
    Reset = 5,
}

impl Service {
    pub fn name(self) -> &'static str {
        match self {
            Self::Init => "INIT",
            Self::Check => "CHECK",
            Self::Send => "SEND",
            Self::Recv => "RECV",
            Self::Reset => "RESET",
        }
    }

    /// The setup packet: a vendor request to the device (bmRequestType 0xC0 IN, 0x40 OUT for
    /// SEND), `wValue` the payload size for INIT and 0 otherwise, `wIndex` the request type for
    /// INIT and the request id otherwise.
    pub const fn setup(self, value: u16, index: u16) -> ControlSetup {
        ControlSetup {
            request_type: RequestType::Vendor,
            recipient: Recipient::Device,
            request: self as u8,
            value,
            index,
        }
    }
}

impl std::fmt::Display for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The status of a service reply (`ServiceReply::Status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyStatus {
    /// INIT: the request is queued (no payload) or the payload may be sent; CHECK: the payload
    /// may be sent, or (with a result) the request is done.
    Ok,
    Error,
    /// The device is still allocating the payload buffer or running the request.
    Pending,
    /// Too many active requests (4 in Device OS v2.3.1, `USB_REQUEST_MAX_ACTIVE_COUNT`).
    Busy,
    NoMemory,
    /// No active request has that id.
    NotFound,
    /// A status this protocol does not define.
    Unknown(u16),
}

impl ReplyStatus {
    pub fn from_u16(v: u16) -> Self {
        match v {
            0 => Self::Ok,
            1 => Self::Error,
            2 => Self::Pending,
            3 => Self::Busy,
            4 => Self::NoMemory,
            5 => Self::NotFound,
            other => Self::Unknown(other),
        }
    }
}

const FLAG_STATUS: u32 = 0x01;
const FLAG_ID: u32 = 0x02;
const FLAG_SIZE: u32 = 0x04;
const FLAG_RESULT: u32 = 0x08;

/// A parsed service reply: the status and whichever optional fields the flags announce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceReply {
    pub status: ReplyStatus,
    pub id: Option<u16>,
    pub size: Option<u32>,
    pub result: Option<i32>,
}

impl ServiceReply {
    /// Parses the data stage of an INIT, CHECK or RESET reply. Fields beyond the ones the flags
    /// announce are ignored; a reply without the status flag or shorter than its flags say is a
    /// protocol error.
    pub fn parse(service: Service, data: &[u8]) -> Result<Self, Error> {
        let bad = |what: &'static str| Error::BadServiceReply { service, what };
        let mut at = 0;
        let mut take = |n: usize| -> Option<&[u8]> {
            let field = data.get(at..at + n)?;
            at += n;
            Some(field)
        };
        let flags = take(4).ok_or(bad("shorter than its flags"))?;
        let flags = u32::from_le_bytes([flags[0], flags[1], flags[2], flags[3]]);
        if flags & FLAG_STATUS == 0 {
            return Err(bad("without a status"));
        }
        let u16_at = |b: &[u8]| u16::from_le_bytes([b[0], b[1]]);
        let u32_at = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let status = take(2).ok_or(bad("shorter than its status"))?;
        let status = ReplyStatus::from_u16(u16_at(status));
        let mut reply = Self {
            status,
            id: None,
            size: None,
            result: None,
        };
        if flags & FLAG_ID != 0 {
            reply.id = Some(u16_at(take(2).ok_or(bad("shorter than its id"))?));
        }
        if flags & FLAG_SIZE != 0 {
            reply.size = Some(u32_at(take(4).ok_or(bad("shorter than its size"))?));
        }
        if flags & FLAG_RESULT != 0 {
            reply.result = Some(u32_at(take(4).ok_or(bad("shorter than its result"))?) as i32);
        }
        Ok(reply)
    }

    /// The reply as the device encodes it, for simulators and tests.
    pub fn to_bytes(&self) -> Vec<u8> {
        let status = match self.status {
            ReplyStatus::Ok => 0,
            ReplyStatus::Error => 1,
            ReplyStatus::Pending => 2,
            ReplyStatus::Busy => 3,
            ReplyStatus::NoMemory => 4,
            ReplyStatus::NotFound => 5,
            ReplyStatus::Unknown(v) => v,
        };
        let mut flags = FLAG_STATUS;
        let mut tail = Vec::new();
        if let Some(id) = self.id {
            flags |= FLAG_ID;
            tail.extend_from_slice(&id.to_le_bytes());
        }
        if let Some(size) = self.size {
            flags |= FLAG_SIZE;
            tail.extend_from_slice(&size.to_le_bytes());
        }
        if let Some(result) = self.result {
            flags |= FLAG_RESULT;
            tail.extend_from_slice(&result.to_le_bytes());
        }
        let mut out = flags.to_le_bytes().to_vec();
        out.extend_from_slice(&status.to_le_bytes());
        out.extend_from_slice(&tail);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(bytes: &[u8], expect: ServiceReply) {
        assert_eq!(ServiceReply::parse(Service::Check, bytes), Ok(expect));
        assert_eq!(expect.to_bytes(), bytes);
    }

    #[test]
    fn replies_parse_in_flag_order() {
        let plain = ServiceReply {
            status: ReplyStatus::Pending,
            id: None,
            size: None,
            result: None,
        };
        check(&[1, 0, 0, 0, 2, 0], plain);
        // INIT: id 7, OK.
        check(
            &[3, 0, 0, 0, 0, 0, 7, 0],
            ServiceReply {
                status: ReplyStatus::Ok,
                id: Some(7),
                ..plain
            },
        );
        // CHECK of a finished request with 26 reply bytes and result -120.
        check(
            &[0x0d, 0, 0, 0, 0, 0, 26, 0, 0, 0, 0x88, 0xff, 0xff, 0xff],
            ServiceReply {
                status: ReplyStatus::Ok,
                id: None,
                size: Some(26),
                result: Some(-120),
            },
        );
        check(
            &[1, 0, 0, 0, 9, 0],
            ServiceReply {
                status: ReplyStatus::Unknown(9),
                ..plain
            },
        );
    }

    #[test]
    fn short_or_statusless_replies_are_protocol_errors() {
        for bytes in [
            &[][..],
            &[1, 0, 0],
            &[1, 0, 0, 0, 0],
            &[0, 0, 0, 0, 0, 0],
            &[0x0f, 0, 0, 0, 0, 0, 1, 0, 4, 0, 0, 0, 0, 0, 0],
        ] {
            assert!(
                matches!(
                    ServiceReply::parse(Service::Init, bytes),
                    Err(Error::BadServiceReply {
                        service: Service::Init,
                        ..
                    })
                ),
                "{bytes:?}"
            );
        }
    }

    #[test]
    fn setup_packets_are_vendor_requests_to_the_device() {
        let init = Service::Init.setup(5, 20);
        assert_eq!(init.bm_request_type(true), 0xC0);
        assert_eq!((init.request, init.value, init.index), (1, 5, 20));
        assert_eq!(Service::Send.setup(0, 3).bm_request_type(false), 0x40);
        let reset = Service::Reset.setup(0, 0);
        assert_eq!((reset.request, reset.index), (5, 0));
    }
}
