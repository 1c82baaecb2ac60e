//! Particle's control requests to a device running its firmware (normal mode), over the same
//! [`Transport`] as the DFU host: enough to read the device ID and Device OS version, ask the
//! device to enter DFU mode or reset, and read its view of the cloud connection.
//!
//! The protocol is Device OS's `system/src/usb_control_request_channel.cpp` (v2.3.1; host side
//! particle-usb `src/usb-protocol.js` and `src/device-base.js`): five vendor "service" requests on
//! endpoint 0 (INIT, CHECK, SEND, RECV, RESET) carry one typed control request (a request type
//! from `system/inc/system_control.h` and a protobuf payload) through the device's request queue.
//! `wire.rs` builds the setup packets and parses the service replies (pure); `channel.rs` runs one
//! request to its end over a transport, polling CHECK with a bounded back-off; `messages.rs` holds
//! the protobuf messages (prost derives, no code generation step).
//!
//! Like `crate::dfu`, this module never sleeps or reads a clock itself (waits go through
//! [`Transport::sleep`]) and must not import `web_sys`, `leptos` or an executor.
//!
//! [`Transport`]: crate::usb::Transport
//! [`Transport::sleep`]: crate::usb::Transport::sleep

mod channel;
mod error;
pub mod keys;
pub mod messages;
pub mod wire;

pub use channel::{
    CHECK_INTERVALS_MS, Channel, ConnectionStatus, MAX_BUSY_RETRIES, MAX_CHECKS, MAX_PENDING_MS,
    Reply,
};
pub use error::{Error, ResultCode};
pub use wire::{ReplyStatus, Service, ServiceReply};

/// Control request types used by this page (`ctrl_request_type`, `system/inc/system_control.h`,
/// Device OS v2.3.1).
pub mod request_type {
    /// Echoes the request payload as the reply (`control::config::echo`); used by tests.
    pub const ECHO: u16 = 1;
    /// The device ID as 24 lower-case hex digits (`GetDeviceIdReply`).
    pub const DEVICE_ID: u16 = 20;
    /// The Device OS version string (`GetSystemVersionReply`).
    pub const SYSTEM_VERSION: u16 = 30;
    /// Resets the device 1 s after the request completes.
    pub const RESET: u16 = 40;
    /// `System.dfu(false)` 1 s after the request completes: DFU mode until the next reset.
    pub const DFU_MODE: u16 = 50;
    /// Aborts the cloud connection attempt and enters listening mode.
    pub const START_LISTENING: u16 = 70;
    /// The device's own view of its cloud connection (`GetConnectionStatusReply`).
    pub const CLOUD_GET_CONNECTION_STATUS: u16 = 300;
}
