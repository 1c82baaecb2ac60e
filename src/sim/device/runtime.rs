//! The running firmware's side of Particle's control requests: the request queue of
//! `system/src/usb_control_request_channel.cpp` and the handlers of
//! `system/src/system_control_internal.cpp` (Device OS v2.3.1) for the request types this page
//! uses, written from those sources (runtime-usb.md, 2 and 5), not from `crate::runtime`'s host.
//! It encodes its replies with its own prost messages for the same reason.

use crate::usb::{ControlSetup, TransportError};

/// `USB_REQUEST_MAX_ACTIVE_COUNT`: a fifth INIT is answered BUSY.
pub const MAX_ACTIVE: usize = 4;
/// `USB_REQUEST_MAX_POOLED_BUFFER_SIZE`: larger payloads wait for the system thread to allocate.
const MAX_POOLED: usize = 64;
/// `MIN_WLENGTH`: INIT, CHECK and RESET with a shorter data stage are stalled.
const MIN_WLENGTH: u16 = 64;
/// The system thread picks up queued work on its next loop iteration; how long that takes on a
/// device that is not busy is not in the source (unverified): 1 ms here.
const SYSTEM_LOOP_MS: u64 = 1;
/// Requests 40 and 50 reset the device this long after they complete (`HAL_Delay_Milliseconds(1000)`
/// in their completion handlers, `system_control_internal.cpp`).
pub const COMPLETION_DELAY_MS: u64 = 1_000;

/// Device OS system error codes (`services/inc/system_error.h`).
const NOT_SUPPORTED: i32 = -120;
const CANCELLED: i32 = -140;

/// What a finished request does to the device afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// Reset into the firmware again (request 40).
    Reset,
    /// `System.dfu(false)`: reset into the DFU bootloader (request 50).
    Dfu,
}

/// The firmware facts a request handler needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts<'a> {
    pub device_id: &'a str,
    pub version: &'a str,
    /// `particle.ctrl.cloud.ConnectionStatus`.
    pub cloud_status: i32,
    /// A fault: request type `.0` finishes with result `.1`.
    pub fail: Option<(u16, i32)>,
    /// The DCT, for the key and server-address requests (`runtime_keys.rs`).
    pub keys: Option<&'a std::cell::RefCell<super::runtime_keys::KeyDct>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReqState {
    AllocPending,
    RecvPayload,
    Pending,
    Done,
}

#[derive(Debug, Clone)]
struct Req {
    id: u16,
    kind: u16,
    state: ReqState,
    request: Vec<u8>,
    request_size: usize,
    offset: usize,
    reply: Vec<u8>,
    result: i32,
    completion: Option<Completion>,
    /// When the system thread may take it up (after allocation or queueing).
    ready_at_ms: u64,
}

/// The service reply, encoded as `ServiceReply::encode` does.
fn reply(status: u16, id: Option<u16>, size: Option<u32>, result: Option<i32>) -> Vec<u8> {
    let mut flags: u32 = 0x01;
    let mut tail = Vec::new();
    if let Some(id) = id {
        flags |= 0x02;
        tail.extend_from_slice(&id.to_le_bytes());
    }
    if let Some(size) = size {
        flags |= 0x04;
        tail.extend_from_slice(&size.to_le_bytes());
    }
    if let Some(result) = result {
        flags |= 0x08;
        tail.extend_from_slice(&result.to_le_bytes());
    }
    let mut out = flags.to_le_bytes().to_vec();
    out.extend_from_slice(&status.to_le_bytes());
    out.extend_from_slice(&tail);
    out
}

const OK: u16 = 0;
const PENDING: u16 = 2;
const BUSY: u16 = 3;
const NO_MEMORY: u16 = 4;
const NOT_FOUND: u16 = 5;

/// What the device side of the protocol asks of the rest of the device after a transfer.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Effects {
    /// The system thread stops trying to reach the cloud (requests 40, 41, 50, 60 and 70 cancel
    /// the attempt at INIT: `cancelNetworkConnectionIfNeeded`).
    pub cancel_connection: bool,
    /// A finished request's completion handler ran.
    pub completion: Option<Completion>,
}

/// The request queue of a running device.
#[derive(Debug, Clone, Default)]
pub struct ControlChannel {
    last_id: u16,
    active: Vec<Req>,
    /// INITs answered so far, for tests.
    pub inits: u32,
}

impl ControlChannel {
    /// Active requests (INIT answered, not finished or cancelled).
    pub fn active(&self) -> usize {
        self.active.len()
    }

    /// The system thread's turn: when it is free at `now` (`busy_until` passed), it allocates
    /// pending payload buffers and runs queued requests.
    pub fn run_system_thread(&mut self, now: u64, busy_until: u64, facts: &Facts<'_>) {
        if now < busy_until {
            return;
        }
        for req in &mut self.active {
            if now < req.ready_at_ms || facts.keys.is_some_and(|k| k.borrow().stuck(req.kind)) {
                continue;
            }
            match req.state {
                ReqState::AllocPending => {
                    req.request = Vec::with_capacity(req.request_size);
                    req.state = ReqState::RecvPayload;
                }
                ReqState::Pending => {
                    let (result, data, completion) = execute(req.kind, &req.request, facts);
                    req.request.clear();
                    req.result = result;
                    req.reply = data;
                    req.completion = completion;
                    req.offset = 0;
                    req.state = ReqState::Done;
                }
                _ => {}
            }
        }
    }

    /// A device-to-host service request (bRequest 1, 2, 4, 5).
    pub fn service_in(
        &mut self,
        setup: ControlSetup,
        len: u16,
        now: u64,
        no_memory: bool,
        effects: &mut Effects,
    ) -> Result<Vec<u8>, TransportError> {
        let (value, index) = (setup.value, setup.index);
        match setup.request {
            1 => self.init(value, index, len, now, no_memory, effects),
            2 => self.check(index, len, effects),
            4 => self.recv(index, len, effects),
            5 => self.reset(index, len, effects),
            _ => Err(TransportError::Stall),
        }
    }

    /// SEND (bRequest 3, host-to-device).
    pub fn send(&mut self, index: u16, data: &[u8], now: u64) -> Result<(), TransportError> {
        let req = self
            .active
            .iter_mut()
            .find(|r| r.id == index)
            .ok_or(TransportError::Stall)?;
        if req.state != ReqState::RecvPayload || req.offset + data.len() > req.request_size {
            return Err(TransportError::Stall);
        }
        req.request.extend_from_slice(data);
        req.offset += data.len();
        if req.offset == req.request_size {
            req.offset = 0;
            req.state = ReqState::Pending;
            req.ready_at_ms = now + SYSTEM_LOOP_MS;
        }
        Ok(())
    }

    fn init(
        &mut self,
        size: u16,
        kind: u16,
        len: u16,
        now: u64,
        no_memory: bool,
        effects: &mut Effects,
    ) -> Result<Vec<u8>, TransportError> {
        if len < MIN_WLENGTH {
            return Err(TransportError::Stall);
        }
        self.inits += 1;
        if self.active.len() >= MAX_ACTIVE {
            return Ok(reply(BUSY, None, None, None));
        }
        if no_memory {
            return Ok(reply(NO_MEMORY, None, None, None));
        }
        self.last_id = self.last_id.wrapping_add(1);
        let size = usize::from(size);
        let (state, status) = if size == 0 {
            effects.cancel_connection = matches!(kind, 40 | 41 | 50 | 60 | 70);
            (ReqState::Pending, OK)
        } else if size <= MAX_POOLED {
            (ReqState::RecvPayload, OK)
        } else {
            (ReqState::AllocPending, PENDING)
        };
        self.active.insert(
            0,
            Req {
                id: self.last_id,
                kind,
                state,
                request: Vec::new(),
                request_size: size,
                offset: 0,
                reply: Vec::new(),
                result: -100,
                completion: None,
                ready_at_ms: now + SYSTEM_LOOP_MS,
            },
        );
        Ok(reply(status, Some(self.last_id), None, None))
    }

    fn check(
        &mut self,
        id: u16,
        len: u16,
        effects: &mut Effects,
    ) -> Result<Vec<u8>, TransportError> {
        if len < MIN_WLENGTH {
            return Err(TransportError::Stall);
        }
        let Some(at) = self.active.iter().position(|r| r.id == id) else {
            return Ok(reply(NOT_FOUND, None, None, None));
        };
        let req = &self.active[at];
        Ok(match req.state {
            ReqState::AllocPending | ReqState::Pending => reply(PENDING, None, None, None),
            ReqState::RecvPayload => reply(OK, None, None, None),
            ReqState::Done if !req.reply.is_empty() => {
                reply(OK, None, Some(req.reply.len() as u32), Some(req.result))
            }
            ReqState::Done => {
                // No reply data: the request finishes once this reply is sent (TX_COMPLETED).
                let out = reply(OK, None, None, Some(req.result));
                let req = self.active.remove(at);
                effects.completion = req.completion;
                out
            }
        })
    }

    fn recv(
        &mut self,
        id: u16,
        len: u16,
        effects: &mut Effects,
    ) -> Result<Vec<u8>, TransportError> {
        let at = self
            .active
            .iter()
            .position(|r| r.id == id)
            .ok_or(TransportError::Stall)?;
        let req = &mut self.active[at];
        let len = usize::from(len);
        if req.state != ReqState::Done || len == 0 || req.offset + len > req.reply.len() {
            return Err(TransportError::Stall);
        }
        let out = req.reply[req.offset..req.offset + len].to_vec();
        req.offset += len;
        if req.offset == req.reply.len() {
            let req = self.active.remove(at);
            effects.completion = req.completion;
        }
        Ok(out)
    }

    fn reset(
        &mut self,
        id: u16,
        len: u16,
        effects: &mut Effects,
    ) -> Result<Vec<u8>, TransportError> {
        if len < MIN_WLENGTH {
            return Err(TransportError::Stall);
        }
        let cancelled: Vec<Req> = if id == 0 {
            std::mem::take(&mut self.active)
        } else {
            match self.active.iter().position(|r| r.id == id) {
                Some(at) => vec![self.active.remove(at)],
                None => return Ok(reply(NOT_FOUND, None, None, None)),
            }
        };
        // A finished request's completion handler runs even when it is cancelled: the handlers
        // of 40 and 50 ignore their result code (`system_control_internal.cpp`).
        for mut req in cancelled {
            req.result = CANCELLED;
            if req.state == ReqState::Done && req.completion.is_some() {
                effects.completion = req.completion;
            }
        }
        Ok(reply(OK, None, None, None))
    }
}

#[derive(Clone, PartialEq, prost::Message)]
struct IdReply {
    #[prost(string, tag = "1")]
    id: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct VersionReply {
    #[prost(string, tag = "1")]
    version: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct CloudStatusReply {
    #[prost(int32, tag = "1")]
    status: i32,
}

/// `SystemControl::processRequest` for the types this simulator knows; any other type has no
/// handler and no application handler, so it finishes with `SYSTEM_ERROR_NOT_SUPPORTED`.
fn execute(kind: u16, payload: &[u8], facts: &Facts<'_>) -> (i32, Vec<u8>, Option<Completion>) {
    use prost::Message;
    if let Some((failing, code)) = facts.fail
        && failing == kind
    {
        return (code, Vec::new(), None);
    }
    if let Some((code, data)) = facts
        .keys
        .and_then(|k| k.borrow_mut().execute(kind, payload))
    {
        return (code, data, None);
    }
    match kind {
        1 => (0, payload.to_vec(), None),
        20 => {
            let id = facts.device_id.to_ascii_lowercase();
            (0, IdReply { id }.encode_to_vec(), None)
        }
        30 => {
            let version = facts.version.to_owned();
            (0, VersionReply { version }.encode_to_vec(), None)
        }
        40 => (0, Vec::new(), Some(Completion::Reset)),
        50 => (0, Vec::new(), Some(Completion::Dfu)),
        70 => (0, Vec::new(), None),
        300 => {
            let status = facts.cloud_status;
            (0, CloudStatusReply { status }.encode_to_vec(), None)
        }
        _ => (NOT_SUPPORTED, Vec::new(), None),
    }
}

/// Whether Device OS `version` ("0.7.0", "2.3.1", "0.8.0-rc.2") has control requests: they
/// arrived in 0.8.0-rc.2 (runtime-usb.md, 2). Unparsable versions are taken as new.
pub fn has_control_requests(version: &str) -> bool {
    let mut parts = version.split(['.', '-']);
    let major: u32 = parts
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(u32::MAX);
    let minor: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (major, minor) >= (0, 8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usb::{Recipient, RequestType};

    fn vendor(request: u8, value: u16, index: u16) -> ControlSetup {
        ControlSetup {
            request_type: RequestType::Vendor,
            recipient: Recipient::Device,
            request,
            value,
            index,
        }
    }

    fn facts() -> Facts<'static> {
        Facts {
            device_id: "3a0038000d47353033323637",
            version: "2.3.1",
            cloud_status: 2,
            fail: None,
            keys: None,
        }
    }

    #[test]
    fn a_request_without_payload_runs_when_the_system_thread_is_free() {
        let mut ch = ControlChannel::default();
        let mut fx = Effects::default();
        let init = ch
            .service_in(vendor(1, 0, 20), 64, 0, false, &mut fx)
            .unwrap();
        assert_eq!(init, reply(OK, Some(1), None, None));
        // Busy until 100: still pending.
        ch.run_system_thread(50, 100, &facts());
        assert_eq!(
            ch.service_in(vendor(2, 0, 1), 64, 50, false, &mut fx)
                .unwrap(),
            reply(PENDING, None, None, None)
        );
        ch.run_system_thread(100, 100, &facts());
        assert_eq!(
            ch.service_in(vendor(2, 0, 1), 64, 100, false, &mut fx)
                .unwrap(),
            reply(OK, None, Some(26), Some(0))
        );
        assert!(
            ch.service_in(vendor(4, 0, 1), 27, 100, false, &mut fx)
                .is_err()
        );
        let data = ch
            .service_in(vendor(4, 0, 1), 26, 100, false, &mut fx)
            .unwrap();
        assert_eq!(&data[2..], b"3a0038000d47353033323637");
        assert_eq!(ch.active(), 0);
        assert_eq!(
            ch.service_in(vendor(2, 0, 1), 64, 100, false, &mut fx)
                .unwrap(),
            reply(NOT_FOUND, None, None, None)
        );
    }

    #[test]
    fn versions_before_0_8_have_no_control_requests() {
        for (v, has) in [
            ("0.7.0", false),
            ("0.6.4", false),
            ("0.8.0-rc.2", true),
            ("1.5.2", true),
            ("2.3.1", true),
        ] {
            assert_eq!(has_control_requests(v), has, "{v}");
        }
    }
}
