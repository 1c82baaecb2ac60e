//! One control request run to its end: INIT, SEND the payload, CHECK until done, RECV the reply.
//!
//! The order and the handling of each status follow particle-usb's `DeviceBase`
//! (`_sendNextRequest`, `_checkNextRequest`, `_sendRequestData`, `_recvReplyData`) against the
//! device side in `usb_control_request_channel.cpp` (Device OS v2.3.1). Every wait is bounded:
//! BUSY by [`MAX_BUSY_RETRIES`], PENDING by [`MAX_CHECKS`] and [`MAX_PENDING_MS`].

use super::error::{Error, ResultCode};
use super::messages::{GetConnectionStatusReply, GetDeviceIdReply, GetSystemVersionReply};
use super::request_type;
use super::wire::{MAX_CHUNK, MIN_WLENGTH, ReplyStatus, Service, ServiceReply};
use crate::usb::{Transport, TransportError};
use prost::Message;

/// The waits before successive CHECKs of one request, in ms: particle-usb's
/// `DEFAULT_CHECK_INTERVALS`; the last one repeats. Most requests are done at the first CHECK
/// (the system thread runs them between two iterations of its loop).
pub const CHECK_INTERVALS_MS: [u32; 9] = [50, 50, 100, 100, 250, 250, 500, 500, 1000];

/// The longest the host waits in total for one request to leave PENDING: 30 s. The system thread
/// runs requests between its own work, and a device trying to reach the cloud can keep it busy for
/// seconds (requests 40, 41, 50 and 60 cancel that attempt when they arrive; 20, 30 and 300 do
/// not). particle-usb allows 60 s per request (`requestTimeout`); a page that explains "a few
/// seconds, up to 30" should not wait longer than it said.
pub const MAX_PENDING_MS: u32 = 30_000;

/// At most this many CHECKs per request (with the intervals above, 30 s take 36 polls).
pub const MAX_CHECKS: u32 = 48;

/// INIT is retried this many times while the device answers BUSY (all four of its request slots
/// are taken, `USB_REQUEST_MAX_ACTIVE_COUNT`), waiting [`BUSY_RETRY_MS`] each time; particle-usb
/// instead queues the request until one of its own finishes, which does not help when the slots
/// belong to another program.
pub const MAX_BUSY_RETRIES: u32 = 5;
const BUSY_RETRY_MS: u32 = 200;

/// The largest reply this page reads: every reply it asks for is a few dozen bytes. A larger
/// announced size is refused before anything is allocated for it.
const MAX_REPLY: u32 = 4096;

/// A finished request: its result code (0 or positive) and reply payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub result: i32,
    pub data: Vec<u8>,
}

/// The device's own view of its cloud connection (`particle.ctrl.cloud.ConnectionStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum ConnectionStatus {
    Disconnected,
    Connecting,
    Connected,
    Disconnecting,
    Unknown(i32),
}

impl ConnectionStatus {
    pub fn from_i32(v: i32) -> Self {
        match v {
            0 => Self::Disconnected,
            1 => Self::Connecting,
            2 => Self::Connected,
            3 => Self::Disconnecting,
            other => Self::Unknown(other),
        }
    }
}

/// Control requests over an opened (not claimed: no interface is needed) runtime device.
pub struct Channel<'t, T: Transport> {
    t: &'t mut T,
    /// CHECKs sent by this channel, for figures.
    checks: u32,
    /// Milliseconds slept between CHECKs and BUSY retries by this channel.
    waited_ms: u64,
    /// The longest wait for one request to leave PENDING: [`MAX_PENDING_MS`] unless lowered.
    max_pending_ms: u32,
}

impl<'t, T: Transport> Channel<'t, T> {
    /// Opens the channel: RESET with id 0 cancels whatever requests an earlier session left
    /// active (particle-usb does the same on `open()`), and doubles as the probe for control
    /// requests: firmware without them stalls it, firmware with them always answers OK.
    pub async fn open(t: &'t mut T) -> Result<Self, Error> {
        let mut channel = Self {
            t,
            checks: 0,
            waited_ms: 0,
            max_pending_ms: MAX_PENDING_MS,
        };
        let reply = channel.service_in(Service::Reset, 0, 0, 0).await?;
        match reply.status {
            ReplyStatus::Ok => Ok(channel),
            status => Err(Error::UnexpectedStatus {
                service: Service::Reset,
                status,
            }),
        }
    }

    /// A channel that skips the RESET probe, for a caller that knows control requests work.
    pub fn resume(t: &'t mut T) -> Self {
        Self {
            t,
            checks: 0,
            waited_ms: 0,
            max_pending_ms: MAX_PENDING_MS,
        }
    }

    /// Lowers the wait for a PENDING request to `ms` (at most [`MAX_PENDING_MS`]), for requests
    /// the caller can do without.
    pub fn with_max_pending_ms(mut self, ms: u32) -> Self {
        self.max_pending_ms = ms.min(MAX_PENDING_MS);
        self
    }

    pub fn checks(&self) -> u32 {
        self.checks
    }

    pub fn waited_ms(&self) -> u64 {
        self.waited_ms
    }

    pub fn transport(&mut self) -> &mut T {
        self.t
    }

    /// Runs request `request_type` with `payload` to its end. A negative result code is
    /// [`Error::Failed`]; the reply data is read (and the device's request slot freed) first.
    pub async fn request(&mut self, request_type: u16, payload: &[u8]) -> Result<Reply, Error> {
        let size = u16::try_from(payload.len()).map_err(|_| Error::Failed {
            request_type,
            code: ResultCode::TooLarge,
        })?;
        let init = self.init(request_type, size).await?;
        let id = init.id.ok_or(Error::BadServiceReply {
            service: Service::Init,
            what: "without a request id",
        })?;
        let stall_as = |service| move |e| stalled(e, service, request_type);
        if !payload.is_empty() {
            if init.status == ReplyStatus::Pending {
                // The device allocates the payload buffer on its system thread first.
                let ready = self.check_until_settled(id, request_type).await?;
                if ready.result.is_some() {
                    return Err(Error::BadServiceReply {
                        service: Service::Check,
                        what: "a result before the payload was sent",
                    });
                }
            }
            for chunk in payload.chunks(MAX_CHUNK) {
                self.t
                    .control_out(Service::Send.setup(0, id), chunk)
                    .await
                    .map_err(stall_as(Service::Send))?;
            }
        } else if init.status == ReplyStatus::Pending {
            // A request without payload is queued at INIT; only a payload waits for a buffer.
            return Err(Error::UnexpectedStatus {
                service: Service::Init,
                status: init.status,
            });
        }
        let done = self.check_until_settled(id, request_type).await?;
        let result = done.result.ok_or(Error::BadServiceReply {
            service: Service::Check,
            what: "without a result after the request was sent",
        })?;
        let mut data = Vec::new();
        if let Some(size) = done.size.filter(|&s| s > 0) {
            if size > MAX_REPLY {
                self.cancel(id).await;
                return Err(Error::BadServiceReply {
                    service: Service::Check,
                    what: "a reply larger than any this page reads",
                });
            }
            data.reserve(size as usize);
            while data.len() < size as usize {
                let chunk = (size as usize - data.len()).min(MAX_CHUNK) as u16;
                let part = self
                    .t
                    .control_in(Service::Recv.setup(0, id), chunk)
                    .await
                    .map_err(stall_as(Service::Recv))?;
                if part.len() != usize::from(chunk) {
                    return Err(Error::BadServiceReply {
                        service: Service::Recv,
                        what: "shorter than the size announced",
                    });
                }
                data.extend_from_slice(&part);
            }
        }
        if result < 0 {
            return Err(Error::Failed {
                request_type,
                code: ResultCode::from_code(result),
            });
        }
        Ok(Reply { result, data })
    }

    /// INIT, retried while the device answers BUSY.
    async fn init(&mut self, request_type: u16, size: u16) -> Result<ServiceReply, Error> {
        for attempt in 0..=MAX_BUSY_RETRIES {
            let reply = self
                .service_in(Service::Init, size, request_type, request_type)
                .await?;
            match reply.status {
                ReplyStatus::Ok | ReplyStatus::Pending => return Ok(reply),
                ReplyStatus::Busy if attempt < MAX_BUSY_RETRIES => {
                    self.wait(BUSY_RETRY_MS).await;
                }
                ReplyStatus::Busy => break,
                ReplyStatus::NoMemory => return Err(Error::NoMemory { request_type }),
                status => {
                    return Err(Error::UnexpectedStatus {
                        service: Service::Init,
                        status,
                    });
                }
            }
        }
        Err(Error::Busy)
    }

    /// CHECKs request `id` with the back-off of [`CHECK_INTERVALS_MS`] until it is not PENDING.
    /// Past [`MAX_PENDING_MS`] (or the lower cap set) or [`MAX_CHECKS`] the request is cancelled (RESET with its id)
    /// and reported as [`Error::StillPending`].
    async fn check_until_settled(
        &mut self,
        id: u16,
        request_type: u16,
    ) -> Result<ServiceReply, Error> {
        let mut waited: u32 = 0;
        for n in 0..MAX_CHECKS {
            let wait = CHECK_INTERVALS_MS[(n as usize).min(CHECK_INTERVALS_MS.len() - 1)];
            if waited + wait > self.max_pending_ms {
                break;
            }
            self.wait(wait).await;
            waited += wait;
            self.checks += 1;
            let reply = self.service_in(Service::Check, 0, id, request_type).await?;
            match reply.status {
                ReplyStatus::Pending => continue,
                ReplyStatus::Ok => return Ok(reply),
                ReplyStatus::NoMemory => return Err(Error::NoMemory { request_type }),
                ReplyStatus::NotFound => return Err(Error::NotFound { request_type }),
                status => {
                    return Err(Error::UnexpectedStatus {
                        service: Service::Check,
                        status,
                    });
                }
            }
        }
        self.cancel(id).await;
        Err(Error::StillPending {
            request_type,
            waited_ms: waited,
        })
    }

    /// Cancels request `id` on the device (best effort: the request is abandoned either way).
    async fn cancel(&mut self, id: u16) {
        let _ = self
            .t
            .control_in(Service::Reset.setup(0, id), MIN_WLENGTH)
            .await;
    }

    /// An INIT, CHECK or RESET and its parsed reply. A stall of INIT or RESET means the firmware
    /// has no control requests (with the 64-byte data stage sent here, a device that has them
    /// never stalls these two); a stall of CHECK is [`Error::Stalled`].
    async fn service_in(
        &mut self,
        service: Service,
        value: u16,
        index: u16,
        request_type: u16,
    ) -> Result<ServiceReply, Error> {
        let data = self
            .t
            .control_in(service.setup(value, index), MIN_WLENGTH)
            .await
            .map_err(|e| match (e, service) {
                (TransportError::Stall, Service::Init | Service::Reset) => Error::NoControlRequests,
                (e, service) => stalled(e, service, request_type),
            })?;
        ServiceReply::parse(service, &data)
    }

    async fn wait(&mut self, ms: u32) {
        self.waited_ms += u64::from(ms);
        self.t.sleep(ms).await;
    }

    /// Request 20: the device ID, checked to be 24 hex digits and returned in lower case.
    pub async fn device_id(&mut self) -> Result<String, Error> {
        let reply = self.request(request_type::DEVICE_ID, &[]).await?;
        let id = decode::<GetDeviceIdReply>(request_type::DEVICE_ID, &reply.data)?.id;
        if id.len() != 24 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::BadMessage {
                request_type: request_type::DEVICE_ID,
                what: format!("{id:?} is not 24 hex digits"),
            });
        }
        Ok(id.to_ascii_lowercase())
    }

    /// Request 30: the Device OS version string, such as "2.3.1".
    pub async fn system_version(&mut self) -> Result<String, Error> {
        let reply = self.request(request_type::SYSTEM_VERSION, &[]).await?;
        let version =
            decode::<GetSystemVersionReply>(request_type::SYSTEM_VERSION, &reply.data)?.version;
        if version.is_empty() || version.len() > 32 {
            return Err(Error::BadMessage {
                request_type: request_type::SYSTEM_VERSION,
                what: format!("{version:?} is not a version"),
            });
        }
        Ok(version)
    }

    /// Request 50: the device enters DFU mode 1 s after this returns (`System.dfu(false)` in the
    /// request's completion handler, `system_control_internal.cpp`) and re-enumerates as its DFU
    /// personality, a new USB device.
    pub async fn enter_dfu(&mut self) -> Result<(), Error> {
        self.request(request_type::DFU_MODE, &[]).await.map(drop)
    }

    /// Request 40: the device resets 1 s after this returns.
    pub async fn reset(&mut self) -> Result<(), Error> {
        self.request(request_type::RESET, &[]).await.map(drop)
    }

    /// Request 300: the device's own view of its cloud connection.
    pub async fn cloud_status(&mut self) -> Result<ConnectionStatus, Error> {
        let t = request_type::CLOUD_GET_CONNECTION_STATUS;
        let reply = self.request(t, &[]).await?;
        let status = decode::<GetConnectionStatusReply>(t, &reply.data)?.status;
        Ok(ConnectionStatus::from_i32(status))
    }
}

fn stalled(e: TransportError, service: Service, request_type: u16) -> Error {
    match e {
        TransportError::Stall => Error::Stalled {
            service,
            request_type,
        },
        e => Error::Transport(e),
    }
}

pub(super) fn decode<M: Message + Default>(request_type: u16, data: &[u8]) -> Result<M, Error> {
    M::decode(data).map_err(|e| Error::BadMessage {
        request_type,
        what: e.to_string(),
    })
}
