//! Simulated DFU bootloaders answering at the level of control transfers.
//!
//! Behaviour follows the Photon bootloader of Device OS v2.3.1 (dfuse-protocol.md, 9), quirks
//! included; P1, Electron, Argon/Boron and Core differ in identity and memories (see `platform`).
//! Built from the reference facts, never from what the host in `crate::dfu` happens to send: the
//! simulator uses the `dfu` module only for its state and status types. It must not import
//! `web_sys`; the JavaScript export lives in `js.rs` (wasm32 with the `sim` feature only).

#[cfg(all(target_arch = "wasm32", feature = "sim"))]
pub mod js;
mod nrf52;
mod platform;
mod runtime;
mod runtime_keys;

pub use platform::{AltSpec, DfuCore, MemoryKind, Platform, QUIRKS, Quirks, Serial, Wcid};
pub use runtime::{
    COMPLETION_DELAY_MS, Completion, ControlChannel, MAX_ACTIVE, has_control_requests,
};
pub use runtime_keys::{FirmwareState, KeyFaults, WRITE_REFUSED};

use crate::dfu::{State, StatusReply, request};
use crate::usb::{
    AlternateInfo, ControlSetup, DeviceInfo, Recipient, RequestType, Transport, TransportError,
    standard,
};

/// `sizeof(application_dct_t)`: the meaningful part of the 16 KiB DCT (particle-dct.md, 2).
pub const DCT_LEN: usize = 8391;
/// Offset of the 12-byte device ID in the Gen 2 DCT.
const DCT_DEVICE_ID: usize = 3618;
/// The bootloader's DNLOAD/UPLOAD buffer; longer requests are stalled.
const BUFFER_LEN: usize = 4096;
/// The address pointer after reset: the start of system-part1.
const INITIAL_POINTER: u32 = 0x0802_0000;
/// bStatus errUNKNOWN, set by a CLRSTATUS outside dfuERROR.
const ERR_UNKNOWN: u8 = 0x0E;
/// The state byte the Photon stores after an UPLOAD with block 1 (errSTALLEDPKT used as a state).
const BUG_STATE: u8 = 15;
/// How long a Gen 2 bootloader keeps answering after the leave GETSTATUS before it resets:
/// `DFU_LeaveDFUMode` sets `DFU_Reset_Count = 500` (`usbd_dfu_core.c` 1012, Device OS v2.3.1) and
/// `DFU_Check_Reset` counts it down once per 1 ms SysTick, then resets (958-968).
const RESET_COUNTDOWN_MS: u64 = 500;

/// Faults a test can inject. All default to "off".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// Stall the n-th control transfer (1-based), changing nothing.
    pub stall_at_request: Option<u32>,
    /// Fail (stall) every special command starting with this byte (0x21 SET_ADDRESS, 0x41 ERASE).
    pub stall_on_command: Option<u8>,
    /// Fail (stall) every data block written.
    pub stall_on_write: bool,
    /// Fail every data block written the way ST's reference bootloader reports it: the DNBUSY
    /// poll is answered, then the device sits in dfuERROR with this bStatus (0x03 errWRITE)
    /// instead of stalling (dfuse-protocol.md, 9.9).
    pub error_on_write: Option<u8>,
    /// Drop off the bus once this many transfers have been answered.
    pub disconnect_after: Option<u32>,
    /// The n-th control transfer (1-based) is carried out but never completes, and the device
    /// answers nothing after it until it is plugged in again ([`SimDevice::reenter_dfu`]): a
    /// wedged bootloader. Each such transfer moves the virtual clock by its deadline
    /// ([`crate::usb::deadline_ms`]) and fails with Timeout, as a host that enforces it sees it.
    pub hang_at_request: Option<u32>,
    /// A hostile or unknown bootloader: alternate setting `.0` reports layout `.1` instead of the
    /// platform's.
    pub layout_override: Option<(u8, &'static str)>,
    /// A hostile or unknown bootloader: the functional descriptor reports this `wTransferSize`
    /// (the device's buffer stays the platform's).
    pub transfer_size_override: Option<u16>,
    /// Each GETSTATUS takes this long to be answered (virtual time), inside the transfer's
    /// deadline: a device that answers slowly rather than not at all.
    pub slow_status_ms: u32,
    /// After each executed DNLOAD, report dfuDNBUSY for this many extra polls...
    pub busy_polls: u32,
    /// ...each with this bwPollTimeout (ms), which is also reported with the first dfuDNBUSY.
    pub poll_timeout_ms: u32,
    /// The bootloader cannot reach the DCT (system-part2 missing): alt 1 reads return zeros and
    /// writes fail (dfuse-protocol.md, 9.5).
    pub dct_unreachable: bool,
    /// `claimInterface` fails: another program holds the interface.
    pub refuse_claim: bool,
    /// `open` fails: the operating system denies access.
    pub deny_open: bool,
    /// A bootloader older than 0.4.5 reports dfuMANIFEST (1 ms) after leave (9.7).
    pub old_bootloader: bool,
    /// Gen 3 device protection: the DCD alternate is type `b` and refuses reads and writes.
    pub device_protection: bool,
    /// The browser did not read the alternate names: `info()` has none, so the host must read the
    /// string descriptors itself.
    pub hide_alternate_names: bool,
    /// Normal mode: the system thread is busy trying to reach the cloud for this long after each
    /// boot, so requests stay PENDING until then (or until a request that cancels the attempt:
    /// 40, 41, 50, 60, 70).
    pub system_busy_ms: u64,
    /// After a reset (request 40 or 50, 14400 baud, a DFU leave) the device never shows up on the
    /// bus again until it is plugged in again ([`SimDevice::reenter_dfu`]).
    pub never_reenumerates: bool,
    /// Normal mode: control request type `.0` finishes with Device OS result code `.1`.
    pub fail_request: Option<(u16, i32)>,
    /// Normal mode: the request pool is exhausted, every INIT answers NO_MEMORY.
    pub runtime_no_memory: bool,
    /// Normal mode: faults of the key and server-address requests (`runtime_keys.rs`).
    pub keys: KeyFaults,
}

/// Which USB device the simulated hardware currently is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The DFU bootloader (blinking yellow): the DFU product id.
    Dfu,
    /// The firmware (normal mode): the runtime product id, a CDC serial port and control requests.
    Runtime,
}

/// How long after a reset the new personality appears on the bus. Not in the sources
/// (unverified): USB enumeration after a reset takes a few hundred milliseconds on a PC.
pub const REENUMERATE_MS: u64 = 500;

/// How long the firmware's CDC port takes to act on 14400 baud: `system_lineCodingBitRateHandler`
/// calls `System.dfu(false)` at once (`system/src/system_update.cpp`, Device OS v2.3.1); the
/// reset itself is not timed in the source (unverified): 100 ms here.
const LINE_CODING_RESET_MS: u64 = 100;

/// A scheduled reset into `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Switch {
    reset_at_ms: u64,
    to: Mode,
    dropped: bool,
}

/// Builds a [`SimDevice`] with a platform, contents and faults.
#[derive(Debug, Clone)]
pub struct SimBuilder {
    platform: Platform,
    device_id: Option<String>,
    start: State,
    start_status: u8,
    faults: Faults,
    dct_patches: Vec<(usize, Vec<u8>)>,
    brownouts: Vec<(usize, usize)>,
    firmware: Option<String>,
    mode: Mode,
}

impl SimBuilder {
    pub fn new(platform: Platform) -> Self {
        Self {
            platform,
            device_id: None,
            start: State::DfuIdle,
            start_status: 0,
            faults: Faults::default(),
            dct_patches: Vec::new(),
            brownouts: Vec::new(),
            firmware: None,
            mode: Mode::Dfu,
        }
    }

    /// The device has firmware (Device OS `version`, e.g. "2.3.1"): after a DFU leave it
    /// re-enumerates in normal mode. Versions before 0.8.0 stall every control request.
    pub fn firmware(mut self, version: &str) -> Self {
        self.firmware = Some(version.to_owned());
        self
    }

    /// Starts in normal mode, running its firmware (Device OS 2.3.1 unless [`Self::firmware`]
    /// says otherwise). Not for the Core, whose firmware has no control requests.
    pub fn normal_mode(mut self) -> Self {
        self.firmware.get_or_insert_with(|| "2.3.1".to_owned());
        self.mode = Mode::Runtime;
        self
    }

    /// Normal mode: the system thread is busy reaching the cloud for `ms` after each boot.
    pub fn system_busy(mut self, ms: u64) -> Self {
        self.faults.system_busy_ms = ms;
        self
    }

    /// After its next reset the device never appears on the bus again.
    pub fn never_reenumerates(mut self) -> Self {
        self.faults.never_reenumerates = true;
        self
    }

    /// Normal mode: request `request_type` finishes with result `code`.
    pub fn fail_request(mut self, request_type: u16, code: i32) -> Self {
        self.faults.fail_request = Some((request_type, code));
        self
    }

    /// The device ID (24 hex digits; stored lower case).
    pub fn device_id(mut self, id: &str) -> Self {
        self.device_id = Some(id.to_ascii_lowercase());
        self
    }

    /// Starts in `state`, as left by an interrupted session. dfuERROR starts with errUNKNOWN.
    pub fn start_in(mut self, state: State) -> Self {
        self.start = state;
        self.start_status = if state == State::Error {
            ERR_UNKNOWN
        } else {
            0
        };
        self
    }

    /// Starts in dfuERROR with a given bStatus (ST-style errWRITE 0x03, errERASE 0x04...).
    pub fn start_in_error(mut self, status: u8) -> Self {
        self.start = State::Error;
        self.start_status = status;
        self
    }

    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    pub fn stall_at_request(mut self, n: u32) -> Self {
        self.faults.stall_at_request = Some(n);
        self
    }

    pub fn stall_on_command(mut self, command: u8) -> Self {
        self.faults.stall_on_command = Some(command);
        self
    }

    pub fn stall_on_write(mut self) -> Self {
        self.faults.stall_on_write = true;
        self
    }

    /// Data blocks fail with dfuERROR and `status` (ST style) instead of a stall.
    pub fn error_on_write(mut self, status: u8) -> Self {
        self.faults.error_on_write = Some(status);
        self
    }

    pub fn disconnect_after(mut self, transfers: u32) -> Self {
        self.faults.disconnect_after = Some(transfers);
        self
    }

    /// Alternate setting `alt` reports `layout` (a memory-layout string) instead of the platform's.
    pub fn layout(mut self, alt: u8, layout: &'static str) -> Self {
        self.faults.layout_override = Some((alt, layout));
        self
    }

    /// The functional descriptor reports `size` as `wTransferSize`.
    pub fn reported_transfer_size(mut self, size: u16) -> Self {
        self.faults.transfer_size_override = Some(size);
        self
    }

    pub fn hang_at_request(mut self, n: u32) -> Self {
        self.faults.hang_at_request = Some(n);
        self
    }

    pub fn slow_status(mut self, ms: u32) -> Self {
        self.faults.slow_status_ms = ms;
        self
    }

    pub fn busy(mut self, extra_polls: u32, poll_timeout_ms: u32) -> Self {
        self.faults.busy_polls = extra_polls;
        self.faults.poll_timeout_ms = poll_timeout_ms;
        self
    }

    pub fn dct_unreachable(mut self) -> Self {
        self.faults.dct_unreachable = true;
        self
    }

    pub fn refuse_claim(mut self) -> Self {
        self.faults.refuse_claim = true;
        self
    }

    pub fn deny_open(mut self) -> Self {
        self.faults.deny_open = true;
        self
    }

    pub fn old_bootloader(mut self) -> Self {
        self.faults.old_bootloader = true;
        self
    }

    pub fn device_protection(mut self) -> Self {
        self.faults.device_protection = true;
        self
    }

    pub fn hide_alternate_names(mut self) -> Self {
        self.faults.hide_alternate_names = true;
        self
    }

    /// Sets DCT bytes (alt 1 logical offsets) before the device starts.
    pub fn dct_bytes(mut self, offset: usize, bytes: &[u8]) -> Self {
        self.dct_patches.push((offset, bytes.to_vec()));
        self
    }

    /// Corrupts `len` DCT bytes at `offset` as a brownout mid-write would: some bits of each byte
    /// cleared, in a fixed pattern so tests are repeatable.
    pub fn brownout_dct(mut self, offset: usize, len: usize) -> Self {
        self.brownouts.push((offset, len));
        self
    }

    pub fn build(self) -> SimDevice {
        let platform = self.platform;
        let device_id = self
            .device_id
            .unwrap_or_else(|| default_device_id(platform).to_owned());
        let memories = platform
            .alternates()
            .iter()
            .enumerate()
            .map(|(i, spec)| initial_memory(spec, i, &device_id))
            .collect();
        let mut dev = SimDevice {
            platform,
            device_id,
            state: self.start,
            status: self.start_status,
            pointer: INITIAL_POINTER,
            block: 0,
            pending: Vec::new(),
            manifest_pending: false,
            alt: 0,
            poll_timeout_ms: 0,
            reset_at_ms: None,
            memories,
            faults: self.faults,
            transfers: 0,
            disconnected: false,
            hung: false,
            left_dfu: false,
            busy_left: 0,
            now_ms: 0,
            busy_until_ms: 0,
            impatient_polls: 0,
            commands: Vec::new(),
            mode: self.mode,
            firmware: self.firmware,
            channel: ControlChannel::default(),
            system_busy_until_ms: 0,
            enumeration: 0,
            switch: None,
            line_coding: [0x80, 0x25, 0, 0, 0, 0, 8],
            firmware_state: FirmwareState::default(),
        };
        dev.system_busy_until_ms = dev.faults.system_busy_ms;
        for (offset, bytes) in self.dct_patches {
            dev.set_dct_bytes(offset, &bytes);
        }
        for (offset, len) in self.brownouts {
            if let Some(dct) = dev.memories.get_mut(1) {
                let end = (offset + len).min(dct.len());
                for (i, b) in dct[offset.min(end)..end].iter_mut().enumerate() {
                    *b &= 0x5A ^ (i as u8).wrapping_mul(37);
                }
            }
        }
        dev
    }
}

fn default_device_id(platform: Platform) -> &'static str {
    match platform {
        Platform::Photon => "3a0038000d47353033323637",
        Platform::P1 => "4b0021000f51353532343636",
        Platform::Electron => "2c003d000b51353432383931",
        Platform::Argon => "e00fce68a0c1e9f4d3a1b2c4",
        Platform::Boron => "e00fce68b1d2e3f4a5b6c7d8",
        Platform::Core => "53ff6d065075535118311787",
    }
}

/// Fresh memory for one alternate: erased flash, a recognisable bootloader, a DCT holding the
/// device ID.
fn initial_memory(spec: &AltSpec, alt: usize, device_id: &str) -> Vec<u8> {
    let mut m = vec![0xFF; spec.size() as usize];
    match spec.kind {
        MemoryKind::InternalFlash { protected_below } if alt == 0 => {
            let boot = (protected_below - spec.base).min(16 * 1024) as usize;
            for (i, b) in m[..boot].iter_mut().enumerate() {
                *b = (i as u8).wrapping_mul(7).wrapping_add(3);
            }
        }
        MemoryKind::Gen2Dct => {
            for (i, b) in m[DCT_DEVICE_ID..DCT_DEVICE_ID + 12].iter_mut().enumerate() {
                *b = u8::from_str_radix(device_id.get(i * 2..i * 2 + 2).unwrap_or("ff"), 16)
                    .unwrap_or(0xFF);
            }
        }
        _ => {}
    }
    m
}

/// A simulated Particle device in DFU mode.
#[derive(Debug, Clone)]
pub struct SimDevice {
    platform: Platform,
    device_id: String,
    state: State,
    status: u8,
    pointer: u32,
    block: u16,
    pending: Vec<u8>,
    manifest_pending: bool,
    alt: u8,
    /// `bwPollTimeout` as the Gen 2 bootloader keeps it (bytes 1-3 of its `DeviceStatus`): set
    /// only when a queued DNLOAD starts (see [`SimDevice::note_poll_timeout`]) and sent in every
    /// later GETSTATUS reply.
    poll_timeout_ms: u32,
    /// When a Gen 2 device that received a leave resets and drops off the bus (simulated clock).
    reset_at_ms: Option<u64>,
    memories: Vec<Vec<u8>>,
    faults: Faults,
    transfers: u32,
    disconnected: bool,
    /// Wedged by the `hang_at_request` fault: nothing is answered until a replug.
    hung: bool,
    left_dfu: bool,
    busy_left: u32,
    now_ms: u64,
    busy_until_ms: u64,
    impatient_polls: u32,
    commands: Vec<(u8, u32)>,
    mode: Mode,
    /// The Device OS version of the firmware, if the device has a runtime personality.
    firmware: Option<String>,
    channel: ControlChannel,
    /// The firmware's system thread runs control requests only from this time on.
    system_busy_until_ms: u64,
    /// How many times the device has reset: a USB handle opened before a reset is gone.
    enumeration: u32,
    switch: Option<Switch>,
    /// The CDC line coding (dwDTERate LE, bCharFormat, bParityType, bDataBits): 9600 8N1.
    line_coding: [u8; 7],
    /// Boots and the connection status the world decided (`runtime_keys.rs`).
    firmware_state: FirmwareState,
}

impl SimDevice {
    pub fn builder(platform: Platform) -> SimBuilder {
        SimBuilder::new(platform)
    }

    /// A Photon that has just entered DFU mode (dfuIDLE, status OK).
    pub fn photon() -> Self {
        SimBuilder::new(Platform::Photon).build()
    }

    /// A Photon left in `state` by an earlier, interrupted session ("dirty start").
    pub fn photon_in_state(state: State) -> Self {
        SimBuilder::new(Platform::Photon).start_in(state).build()
    }

    pub fn platform(&self) -> Platform {
        self.platform
    }

    /// The internal state byte (what GETSTATE would answer).
    pub fn state(&self) -> State {
        self.state
    }

    pub fn status(&self) -> u8 {
        self.status
    }

    /// Control transfers answered so far, failed ones included.
    pub fn transfers(&self) -> u32 {
        self.transfers
    }

    /// The device ID: 24 lower-case hex digits, also the USB serial number.
    pub fn device_id(&self) -> &str {
        &self.device_id
    }

    /// The USB serial number string, as the platform's bootloader makes it from the device ID.
    pub fn serial_number(&self) -> String {
        self.platform.quirks().serial.string(&self.device_id)
    }

    /// Whether the device received a leave (zero-length DNLOAD, then GETSTATUS): it is counting
    /// down to its reset (Gen 2, 500 ms of [`Transport::sleep`]) or has reset.
    pub fn left_dfu(&self) -> bool {
        self.left_dfu
    }

    /// Whether the device has dropped off the bus (after leave, DETACH or a fault).
    pub fn disconnected(&self) -> bool {
        self.disconnected
    }

    /// The meaningful DCT bytes (alt 1 offsets 0..8391); on the Core, its SPI flash.
    pub fn dct(&self) -> &[u8] {
        let m = &self.memories[1];
        match self.platform.alternates()[1].kind {
            MemoryKind::Gen2Dct | MemoryKind::Gen3Dct => &m[..DCT_LEN],
            _ => m,
        }
    }

    /// Overwrites DCT bytes at a logical offset, as firmware would; bytes past the memory are
    /// dropped.
    pub fn set_dct_bytes(&mut self, offset: usize, bytes: &[u8]) {
        self.set_memory(1, offset, bytes);
    }

    /// The whole memory behind alternate `alt` (index 0 = the alt's base address).
    pub fn memory(&self, alt: u8) -> &[u8] {
        &self.memories[usize::from(alt)]
    }

    /// Overwrites memory behind `alt` at `offset` from its base; bytes past the end are dropped.
    pub fn set_memory(&mut self, alt: u8, offset: usize, bytes: &[u8]) {
        let Some(m) = self.memories.get_mut(usize::from(alt)) else {
            return;
        };
        let start = offset.min(m.len());
        let end = (offset + bytes.len()).min(m.len());
        m[start..end].copy_from_slice(&bytes[..end - start]);
    }

    /// ERASE commands executed so far, by address.
    pub fn erases(&self) -> Vec<u32> {
        self.commands
            .iter()
            .filter(|(c, _)| *c == 0x41)
            .map(|(_, a)| *a)
            .collect()
    }

    /// GETSTATUS requests that arrived before the previous reply's bwPollTimeout had passed.
    pub fn impatient_polls(&self) -> u32 {
        self.impatient_polls
    }

    /// The simulated clock, advanced only by [`Transport::sleep`].
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// The currently selected alternate setting.
    pub fn alternate(&self) -> u8 {
        self.alt
    }

    /// The alternate setting names (layout strings) as the device reports them.
    pub fn alternate_names(&self) -> Vec<&'static str> {
        (0..self.platform.alternates().len())
            .map(|i| self.alt_name(i))
            .collect()
    }

    fn alt_name(&self, alt: usize) -> &'static str {
        let spec = &self.platform.alternates()[alt];
        if let Some((_, layout)) = self
            .faults
            .layout_override
            .filter(|(a, _)| usize::from(*a) == alt)
        {
            layout
        } else if spec.kind == MemoryKind::Gen3Dct && self.faults.device_protection {
            platform::GEN3_DCD_PROTECTED
        } else {
            spec.name
        }
    }

    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    pub fn faults_mut(&mut self) -> &mut Faults {
        &mut self.faults
    }

    /// WebUSB `open()`: fails with AccessDenied under the `deny_open` fault.
    pub fn open(&mut self) -> Result<(), TransportError> {
        if self.disconnected {
            return Err(TransportError::Disconnected);
        }
        if self.faults.deny_open {
            return Err(TransportError::AccessDenied);
        }
        Ok(())
    }

    /// WebUSB `claimInterface()`: fails with UnableToClaim under the `refuse_claim` fault.
    pub fn claim(&mut self, interface: u8) -> Result<(), TransportError> {
        if self.disconnected {
            return Err(TransportError::Disconnected);
        }
        // In normal mode the operating system's serial driver holds the CDC interfaces
        // (unverified per OS); control requests need no claim.
        if self.faults.refuse_claim || interface != 0 || self.mode == Mode::Runtime {
            return Err(TransportError::UnableToClaim);
        }
        Ok(())
    }

    /// Re-enters DFU mode after a reset (buttons held again): a fresh bootloader state with the
    /// same memories.
    pub fn reenter_dfu(&mut self) {
        self.enumeration = self.enumeration.wrapping_add(1);
        self.mode = Mode::Dfu;
        self.switch = None;
        self.state = State::DfuIdle;
        self.status = 0;
        self.pointer = INITIAL_POINTER;
        self.pending.clear();
        self.manifest_pending = false;
        self.alt = 0;
        self.poll_timeout_ms = 0;
        self.reset_at_ms = None;
        self.disconnected = false;
        self.left_dfu = false;
        self.busy_left = 0;
        self.faults.disconnect_after = None;
        self.faults.hang_at_request = None;
        self.hung = false;
        self.transfers = 0;
    }

    /// Answers a device-to-host control transfer.
    pub fn handle_in(&mut self, setup: ControlSetup, len: u16) -> Result<Vec<u8>, TransportError> {
        self.unless_hung(setup, true, |d| d.answer_in(setup, len))
    }

    /// Answers a host-to-device control transfer.
    pub fn handle_out(&mut self, setup: ControlSetup, data: &[u8]) -> Result<(), TransportError> {
        self.unless_hung(setup, false, |d| d.answer_out(setup, data))
    }

    /// Whether the device is wedged by the `hang_at_request` fault.
    pub fn hung(&self) -> bool {
        self.hung
    }

    /// Runs `answer` unless the device is wedged; the transfer named by `hang_at_request` is
    /// carried out, then never completes. A transfer that never completes costs its deadline of
    /// virtual time and ends in Timeout.
    fn unless_hung<R>(
        &mut self,
        setup: ControlSetup,
        device_to_host: bool,
        answer: impl FnOnce(&mut Self) -> Result<R, TransportError>,
    ) -> Result<R, TransportError> {
        if self.hung {
            self.transfers = self.transfers.saturating_add(1);
        } else {
            let before = self.transfers;
            let result = answer(self);
            let counted = self.transfers != before;
            if !counted || self.faults.hang_at_request != Some(self.transfers) {
                return result;
            }
            self.hung = true;
        }
        self.now_ms += u64::from(crate::usb::deadline_ms(&setup, device_to_host));
        Err(TransportError::Timeout)
    }

    fn answer_in(&mut self, setup: ControlSetup, len: u16) -> Result<Vec<u8>, TransportError> {
        self.begin()?;
        if self.mode == Mode::Runtime {
            return self.runtime_in(setup, len).map(|r| truncate(r, len));
        }
        let reply = match (setup.request_type, setup.recipient) {
            (RequestType::Class, Recipient::Interface) if setup.index == 0 => {
                self.class_in(setup, len)?
            }
            (RequestType::Standard, _) => self.standard_in(setup)?,
            (RequestType::Vendor, _) => self.vendor_in(setup, len)?,
            _ => return Err(TransportError::Stall),
        };
        Ok(truncate(reply, len))
    }

    fn answer_out(&mut self, setup: ControlSetup, data: &[u8]) -> Result<(), TransportError> {
        self.begin()?;
        if self.mode == Mode::Runtime {
            return self.runtime_out(setup, data);
        }
        match (setup.request_type, setup.recipient) {
            (RequestType::Class, Recipient::Interface) if setup.index == 0 => {
                self.class_out(setup, data)
            }
            (RequestType::Standard, _) => self.standard_out(setup),
            _ => Err(TransportError::Stall),
        }
    }

    /// Counts the transfer and applies the bus-level faults.
    fn begin(&mut self) -> Result<(), TransportError> {
        self.tick();
        if self.disconnected {
            return Err(TransportError::Disconnected);
        }
        self.transfers = self.transfers.saturating_add(1);
        if self
            .faults
            .disconnect_after
            .is_some_and(|n| self.transfers > n)
        {
            self.disconnected = true;
            return Err(TransportError::Disconnected);
        }
        if self.faults.stall_at_request == Some(self.transfers) {
            return Err(TransportError::Stall);
        }
        Ok(())
    }

    /// `descriptor` (ending with the functional descriptor) with the `transfer_size_override`.
    fn reported_functional(&self, mut descriptor: Vec<u8>) -> Vec<u8> {
        if let Some(size) = self.faults.transfer_size_override {
            let at = descriptor.len() - 9 + 5;
            descriptor[at..at + 2].copy_from_slice(&size.to_le_bytes());
        }
        descriptor
    }

    fn xfer(&self) -> usize {
        usize::from(self.platform.transfer_size())
    }

    /// Where UPLOAD or DNLOAD block `block` (2 or more) starts: blocks are `wTransferSize` apart
    /// from the address pointer (dfuse-protocol.md, 7).
    fn block_address(&self, block: u16) -> u64 {
        (u64::from(block) - 2) * self.xfer() as u64 + u64::from(self.pointer)
    }

    fn standard_in(&mut self, setup: ControlSetup) -> Result<Vec<u8>, TransportError> {
        let [index, kind] = setup.value.to_le_bytes();
        match (setup.request, setup.recipient) {
            (standard::GET_DESCRIPTOR, Recipient::Device) => match kind {
                standard::DEVICE => Ok(self.platform.device_descriptor().to_vec()),
                standard::CONFIGURATION if index == 0 => {
                    Ok(self.reported_functional(self.platform.configuration_descriptor()))
                }
                standard::STRING => self.string(index),
                // Type 0x21 is unknown to the standard handler when addressed to the device.
                _ => Err(TransportError::Stall),
            },
            (standard::GET_DESCRIPTOR, Recipient::Interface)
                if kind == standard::DFU_FUNCTIONAL && setup.index == 0 =>
            {
                Ok(self.reported_functional(self.platform.functional_descriptor().to_vec()))
            }
            (standard::GET_CONFIGURATION, Recipient::Device) => Ok(vec![1]),
            (standard::GET_INTERFACE, Recipient::Interface) if setup.index == 0 => {
                Ok(vec![self.alt])
            }
            // Self-powered, as the configuration descriptor says.
            (standard::GET_STATUS, Recipient::Device) => Ok(vec![1, 0]),
            (standard::GET_STATUS, _) => Ok(vec![0, 0]),
            _ => Err(TransportError::Stall),
        }
    }

    /// String descriptors per the platform's row of `platform::QUIRKS`.
    fn string(&self, index: u8) -> Result<Vec<u8>, TransportError> {
        let first = usize::from(self.platform.quirks().first_alt_string);
        let alt = usize::from(index).wrapping_sub(first);
        if alt < self.platform.alternates().len() {
            return Ok(platform::string_descriptor(self.alt_name(alt)));
        }
        match index {
            3 => Ok(platform::string_descriptor(&self.serial_number())),
            _ => self
                .platform
                .fixed_string(index)
                .ok_or(TransportError::Stall),
        }
    }

    /// Microsoft's WCID requests, per the platform's bootloader (`platform::vendor_in`).
    fn vendor_in(&mut self, setup: ControlSetup, len: u16) -> Result<Vec<u8>, TransportError> {
        platform::vendor_in(self.platform.quirks().wcid, setup, len).ok_or(TransportError::Stall)
    }

    fn standard_out(&mut self, setup: ControlSetup) -> Result<(), TransportError> {
        match (setup.request, setup.recipient) {
            (standard::SET_CONFIGURATION, Recipient::Device) if setup.value <= 1 => Ok(()),
            (standard::SET_INTERFACE, Recipient::Interface)
                if setup.index == 0
                    && usize::from(setup.value) < self.platform.alternates().len() =>
            {
                self.alt = setup.value as u8;
                Ok(())
            }
            _ => Err(TransportError::Stall),
        }
    }

    fn class_in(&mut self, setup: ControlSetup, len: u16) -> Result<Vec<u8>, TransportError> {
        if setup.request == request::GETSTATUS {
            self.now_ms += u64::from(self.faults.slow_status_ms);
        }
        if self.platform.quirks().dfu_core == DfuCore::Nrf52 {
            return self.nrf52_class_in(setup, len);
        }
        match setup.request {
            request::GETSTATUS => self.get_status(),
            request::GETSTATE => Ok(vec![self.state.to_byte()]),
            request::UPLOAD => self.upload(setup.value, usize::from(len)),
            _ => Err(TransportError::Stall),
        }
    }

    fn class_out(&mut self, setup: ControlSetup, data: &[u8]) -> Result<(), TransportError> {
        if self.platform.quirks().dfu_core == DfuCore::Nrf52 {
            return self.nrf52_class_out(setup, data);
        }
        let idle_ish = matches!(
            self.state,
            State::DfuIdle
                | State::DnloadSync
                | State::DnloadIdle
                | State::ManifestSync
                | State::UploadIdle
        );
        match setup.request {
            request::DNLOAD => {
                if data.len() > BUFFER_LEN.min(self.xfer()) {
                    return Err(TransportError::Stall);
                }
                if !matches!(self.state, State::DfuIdle | State::DnloadIdle) {
                    return Err(TransportError::Stall);
                }
                if data.is_empty() {
                    self.manifest_pending = true;
                    self.state = State::ManifestSync;
                } else {
                    // Copy now: the host's buffer is only valid during the call.
                    self.pending = data.to_vec();
                    self.block = setup.value;
                    self.state = State::DnloadSync;
                }
                Ok(())
            }
            // The Photon does not stall a CLRSTATUS outside dfuERROR: it enters dfuERROR with
            // errUNKNOWN (dfuse-protocol.md 9.3), a trap for hosts that clear status blindly.
            request::CLRSTATUS => {
                if self.state == State::Error {
                    self.state = State::DfuIdle;
                    self.status = 0;
                } else {
                    self.state = State::Error;
                    self.status = ERR_UNKNOWN;
                }
                Ok(())
            }
            request::ABORT => {
                if idle_ish {
                    self.state = State::DfuIdle;
                    self.status = 0;
                    self.pending.clear();
                    self.manifest_pending = false;
                }
                Ok(())
            }
            // The Core has no DETACH (v0.4.9 `usb_prop.c` 339-420 handles DNLOAD, UPLOAD,
            // CLRSTATUS and ABORT only).
            request::DETACH if self.platform == Platform::Core => Err(TransportError::Stall),
            request::DETACH => {
                if idle_ish {
                    self.state = State::DfuIdle;
                }
                // A soft disconnect and reconnect: this USB device object is gone.
                self.disconnected = true;
                Ok(())
            }
            _ => Err(TransportError::Stall),
        }
    }

    fn status_reply(&self, state: State, poll_timeout_ms: u32) -> Vec<u8> {
        StatusReply {
            status: self.status,
            poll_timeout_ms,
            state,
        }
        .to_bytes()
        .to_vec()
    }

    /// Whether this is a Gen 2 bootloader (Photon, P1, Electron), whose quirks below are read from
    /// Device OS v2.3.1's `platform/MCU/STM32F2xx/STM32_USB_Device_Driver/src/usbd_dfu_core.c`.
    fn gen2(&self) -> bool {
        matches!(
            self.platform,
            Platform::Photon | Platform::P1 | Platform::Electron
        )
    }

    /// The declared (erase, programming) times of the current alternate's memory, in ms, as its
    /// `DFU_MAL_Prop_TypeDef` lists them: internal flash 0, 0 (`usbd_flash_if.c` 68-69), DCT 1, 500
    /// (`usbd_dct_if.c` 38-39), P1 serial flash 0, 0 (`usbd_sflash_if.c` 42-43). `None` for the
    /// Core, whose `bwPollTimeout` stays 0 here (its `MAL_GetStatus` timings are unverified).
    fn declared_times(&self) -> Option<(u32, u32)> {
        if !self.gen2() {
            return None;
        }
        Some(match self.alt_kind() {
            MemoryKind::Gen2Dct => (1, 500),
            _ => (0, 0),
        })
    }

    /// `MAL_CheckAdd` of the current alternate: internal flash 0x08000000..0x08100000
    /// (`usbd_flash_if.c` 234-245), DCT below 0x4000 (`usbd_dct_if.c` 67-69), serial flash
    /// 0..0x100000 (`usbd_sflash_if.c` 129-138).
    fn address_valid(&self, address: u32) -> bool {
        let spec = self.alt_spec();
        match spec.kind {
            MemoryKind::Gen2Dct => address < 0x4000,
            _ => {
                address >= spec.base
                    && u64::from(address) < u64::from(spec.base) + u64::from(spec.size())
            }
        }
    }

    /// What the Gen 2 class does to `bwPollTimeout` when a GETSTATUS starts a queued DNLOAD
    /// (`usbd_dfu_core.c` 868-875 calling `MAL_GetStatus`, `usbd_dfu_mal.c` 284-310): it passes 0
    /// for an ERASE and 1 for anything else, and `MAL_GetStatus` reads bit 0 as "erase", so the
    /// times are used swapped: the DCT reports 500 ms after an ERASE and 1 ms after SET_ADDRESS or
    /// a data block. The check is on the address pointer *before* the queued request runs; when it
    /// fails (the pointer still holds an address of another memory) the last value stays
    /// (`usbd_dfu_mal.c` 288-291).
    fn note_poll_timeout(&mut self) {
        let Some((erase_ms, program_ms)) = self.declared_times() else {
            return;
        };
        if !self.address_valid(self.pointer) {
            return;
        }
        let erase = self.block == 0 && self.pending.first() == Some(&0x41);
        self.poll_timeout_ms = if erase { program_ms } else { erase_ms };
    }

    fn get_status(&mut self) -> Result<Vec<u8>, TransportError> {
        if self.now_ms < self.busy_until_ms {
            self.impatient_polls += 1;
        }
        // The busy fault replaces the device's own value in its dfuDNBUSY replies.
        let busy_timeout = |dev: &Self| match dev.faults.poll_timeout_ms {
            0 => dev.poll_timeout_ms,
            fault => fault,
        };
        match self.state {
            State::DnloadSync if !self.pending.is_empty() => {
                // The reply goes out first, then the device executes the request in its USB
                // interrupt (`usbd_dfu_core.c` 597-663), on the alternate selected *now*, which
                // may not be the one it was queued on (578); a failure shows up as a stall of this
                // transfer (9.4).
                self.note_poll_timeout();
                let timeout = busy_timeout(self);
                let reply = self.status_reply(State::DnBusy, timeout);
                let data_block = self.block >= 2;
                // The Core ignores what its erase and write return, and any command it does not
                // know (v0.4.9 `bootloader/src/core/usb_prop.c` 220-258): a failure is silent and
                // only a read-back shows it.
                let ok = self.execute() || self.platform == Platform::Core;
                self.block = 0;
                self.busy_left = self.faults.busy_polls;
                self.busy_until_ms = self.now_ms + u64::from(timeout);
                self.state = if self.busy_left > 0 {
                    State::DnBusy
                } else {
                    State::DnloadSync
                };
                match (ok, self.faults.error_on_write) {
                    (true, _) => Ok(reply),
                    (false, Some(status)) if data_block => {
                        self.state = State::Error;
                        self.status = status;
                        self.busy_left = 0;
                        Ok(reply)
                    }
                    (false, _) => Err(TransportError::Stall),
                }
            }
            State::DnBusy if self.busy_left > 0 => {
                self.busy_left -= 1;
                if self.busy_left == 0 {
                    self.state = State::DnloadSync;
                }
                let timeout = busy_timeout(self);
                self.busy_until_ms = self.now_ms + u64::from(timeout);
                Ok(self.status_reply(State::DnBusy, timeout))
            }
            // A DNLOAD dropped by an UPLOAD (or already run) leaves dfuDNLOAD-SYNC with nothing
            // queued: reported as dfuDNLOAD-IDLE, bStatus unchanged (`usbd_dfu_core.c` 877-881).
            State::DnloadSync | State::DnBusy => {
                self.state = State::DnloadIdle;
                Ok(self.status_reply(State::DnloadIdle, self.poll_timeout_ms))
            }
            State::ManifestSync if self.manifest_pending => {
                self.manifest_pending = false;
                self.state = State::ManifestWaitReset;
                self.left_dfu = true;
                // The reply says dfuDNLOAD-IDLE (`usbd_dfu_core.c` 884-895); once it is sent the
                // state becomes dfuMANIFEST-WAIT-RESET (665-669, 1007-1014) and the device keeps
                // answering (GETSTATE 8, GETSTATUS bState 8) until the reset countdown ends
                // (958-968, 1012): see `Transport::sleep`. The Core does the same:
                // `DFU_write_crc` sets `DFU_Reset_Count = 500` (v0.4.9 `usb_prop.c` 734-751;
                // bmAttributes 0x0B has no bitManifestationTolerant, `usb_desc.c` 111). Gen 3
                // runs its own machine (`nrf52.rs`).
                self.reset_at_ms = Some(self.now_ms + RESET_COUNTDOWN_MS);
                Ok(if self.faults.old_bootloader {
                    self.status_reply(State::Manifest, 1)
                } else {
                    match self.platform.leave_report() {
                        State::Manifest => self.status_reply(State::Manifest, 1),
                        // The kept bwPollTimeout goes out with it (`DeviceStatus` 1-3).
                        other => self.status_reply(other, self.poll_timeout_ms),
                    }
                })
            }
            state => Ok(self.status_reply(state, self.poll_timeout_ms)),
        }
    }

    fn upload(&mut self, block: u16, len: usize) -> Result<Vec<u8>, TransportError> {
        if len == 0 {
            self.state = State::DfuIdle;
            return Ok(Vec::new());
        }
        // The Gen 2 bootloader has no length check on UPLOAD (`usbd_dfu_core.c` 782-851): it
        // sends `wLength` bytes from where `MAL_Read` points (817-825). The other bootloaders'
        // limit is unverified; they stall past their buffer as before.
        if !self.gen2() && len > BUFFER_LEN.min(self.xfer()) {
            return Err(TransportError::Stall);
        }
        if !matches!(self.state, State::DfuIdle | State::UploadIdle) {
            // Stall, and forget a queued DNLOAD (wlength = 0): the next GETSTATUS in
            // dfuDNLOAD-SYNC reports dfuDNLOAD-IDLE without running it (`usbd_dfu_core.c`
            // 836-843, 877-881). The Core refuses the request before it touches anything
            // (v0.4.9 `usb_prop.c` 288-293): its queued DNLOAD stays.
            if self.platform != Platform::Core {
                self.pending.clear();
                self.block = 0;
            }
            return Err(TransportError::Stall);
        }
        match block {
            0 => {
                self.state = if len > 3 {
                    State::DfuIdle
                } else {
                    State::UploadIdle
                };
                Ok(vec![0x00, 0x21, 0x41])
            }
            1 => {
                self.state = State::Unknown(BUG_STATE);
                Err(TransportError::Stall)
            }
            _ => {
                self.state = State::UploadIdle;
                let address = self.block_address(block);
                if self.alt_kind() == MemoryKind::Gen3Dct && self.faults.device_protection {
                    return Err(TransportError::Stall);
                }
                // Gen 2: internal flash is read in place (`FLASH_If_Read` returns the address
                // itself, `usbd_flash_if.c` 190-201, DMA off in `usb_conf.h` 143) and so is the DCT
                // (`DCT_If_Read`, `usbd_dct_if.c` 55-57), so more than 4096 bytes simply continue
                // through the memory. A failed read sends `MAL_Buffer` zeroed over its 4096 bytes
                // (`usbd_dfu_mal.c` 271-273); what follows it in RAM is unverified (zeros here),
                // and so is a read running past the end of flash.
                Ok(self.read(address, len).unwrap_or_else(|| vec![0; len]))
            }
        }
    }

    fn alt_spec(&self) -> &'static AltSpec {
        &self.platform.alternates()[usize::from(self.alt)]
    }

    fn alt_kind(&self) -> MemoryKind {
        self.alt_spec().kind
    }

    /// Reads from the current alternate; `None` where the bootloader's read fails (zeros).
    fn read(&self, address: u64, len: usize) -> Option<Vec<u8>> {
        let spec = self.alt_spec();
        let m = &self.memories[usize::from(self.alt)];
        if self.faults.dct_unreachable && spec.kind == MemoryKind::Gen2Dct {
            return None;
        }
        let offset = usize::try_from(address.checked_sub(u64::from(spec.base))?).ok()?;
        if offset >= m.len() {
            return None;
        }
        // A read running past the end returns what exists and zeros after it.
        let mut out = m[offset..(offset + len).min(m.len())].to_vec();
        out.resize(len, 0);
        Some(out)
    }

    /// Runs the pending DNLOAD after the DNBUSY reply; false = failure (a stall).
    fn execute(&mut self) -> bool {
        let data = std::mem::take(&mut self.pending);
        match self.block {
            0 => self.command(&data),
            1 => true,
            block => {
                if self.faults.stall_on_write || self.faults.error_on_write.is_some() {
                    return false;
                }
                let address = self.block_address(block);
                self.write(address, &data)
            }
        }
    }

    fn command(&mut self, data: &[u8]) -> bool {
        if let Some(&first) = data.first() {
            self.commands.push((first, address_of(data)));
            if self.faults.stall_on_command == Some(first) {
                return false;
            }
        }
        match *data {
            [0x00] => true,
            [0x21, a0, a1, a2, a3] => {
                self.pointer = u32::from_le_bytes([a0, a1, a2, a3]);
                true
            }
            [0x41, a0, a1, a2, a3] => {
                // An ERASE moves the address pointer before erasing (9.4).
                self.pointer = u32::from_le_bytes([a0, a1, a2, a3]);
                self.erase(self.pointer)
            }
            _ => false,
        }
    }

    fn erase(&mut self, address: u32) -> bool {
        let spec = self.alt_spec();
        let alt = usize::from(self.alt);
        let protected_below = match spec.kind {
            MemoryKind::InternalFlash { protected_below } => protected_below,
            MemoryKind::NorFlash => spec.base,
            // The Gen 2 DCT erase is a no-op that succeeds for any valid offset (9.4).
            MemoryKind::Gen2Dct => return !self.faults.dct_unreachable && address < 0x4000,
            // The Gen 3 DCD's erase is a no-op that succeeds for any address
            // (`bootloader/src/nRF52840/usbd_dfu_mal.cpp` 144-146).
            MemoryKind::Gen3Dct => return true,
        };
        if address < protected_below {
            return false;
        }
        let Some((start, size)) = spec.sector_at(address) else {
            return false;
        };
        let from = (start - spec.base) as usize;
        self.memories[alt][from..from + size as usize].fill(0xFF);
        true
    }

    fn write(&mut self, address: u64, data: &[u8]) -> bool {
        let spec = self.alt_spec();
        let alt = usize::from(self.alt);
        let Some(offset) = address
            .checked_sub(u64::from(spec.base))
            .and_then(|o| usize::try_from(o).ok())
        else {
            return false;
        };
        let m = &mut self.memories[alt];
        match spec.kind {
            MemoryKind::InternalFlash { protected_below } => {
                // Only the start address is range- and protection-checked.
                if address < u64::from(protected_below) || offset >= m.len() {
                    return false;
                }
                let mut padded = data.to_vec();
                padded.resize(data.len().div_ceil(4) * 4, 0xFF);
                let end = (offset + padded.len()).min(m.len());
                for (cell, new) in m[offset..end].iter_mut().zip(&padded) {
                    *cell &= new;
                }
                end - offset == padded.len() && m[offset..end] == padded[..]
            }
            MemoryKind::NorFlash => {
                if offset + data.len() > m.len() {
                    return false;
                }
                for (cell, new) in m[offset..offset + data.len()].iter_mut().zip(data) {
                    *cell &= new;
                }
                true
            }
            MemoryKind::Gen2Dct | MemoryKind::Gen3Dct => {
                let unreachable = spec.kind == MemoryKind::Gen2Dct && self.faults.dct_unreachable;
                let protected = spec.kind == MemoryKind::Gen3Dct && self.faults.device_protection;
                if unreachable || protected || offset + data.len() > 0x4000 {
                    return false;
                }
                m[offset..offset + data.len()].copy_from_slice(data);
                true
            }
        }
    }
}

/// The firmware's personality: control requests, the CDC line coding, the mode switches.
impl SimDevice {
    /// A Photon running Device OS 2.3.1 in normal mode (breathing or blinking cyan).
    pub fn photon_running() -> Self {
        SimBuilder::new(Platform::Photon).normal_mode().build()
    }

    /// Which USB device the hardware currently is.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// How many times the device has reset (or been replugged): a handle opened before is gone.
    pub fn enumeration(&self) -> u32 {
        self.enumeration
    }

    /// The firmware's Device OS version, if the device has firmware.
    pub fn firmware_version(&self) -> Option<&str> {
        self.firmware.as_deref()
    }

    /// The firmware's request queue (normal mode), for tests.
    pub fn control_channel(&self) -> &ControlChannel {
        &self.channel
    }

    /// When the device resets next and into which mode, if a reset is scheduled and has not
    /// happened yet.
    pub fn reset_scheduled(&self) -> Option<(u64, Mode)> {
        self.switch
            .filter(|s| !s.dropped)
            .map(|s| (s.reset_at_ms, s.to))
    }

    /// The CDC line coding's bit rate, as the host last set it.
    pub fn baud_rate(&self) -> u32 {
        let c = self.line_coding;
        u32::from_le_bytes([c[0], c[1], c[2], c[3]])
    }

    /// Moves the simulated clock by `ms` (what [`Transport::sleep`] does), for a caller that keeps
    /// it in step with real time (the `navigator.usb` stand-in).
    pub fn advance(&mut self, ms: u64) {
        self.now_ms += ms;
        self.tick();
    }

    /// Whether the device is on the bus now (after moving along its clock): what a browser's
    /// device list shows.
    pub fn on_bus(&mut self) -> bool {
        self.tick();
        !self.disconnected
    }

    fn control_requests(&self) -> bool {
        self.firmware.as_deref().is_some_and(has_control_requests)
    }

    /// Moves the device along the virtual clock: a Gen 2 bootloader's leave countdown, a
    /// scheduled reset and the re-enumeration after it.
    fn tick(&mut self) {
        if self.reset_at_ms.is_some_and(|at| self.now_ms >= at) {
            self.disconnected = true;
            if self.firmware.is_some() {
                // The bootloader reset into the firmware: it will enumerate in normal mode.
                let at = self.reset_at_ms.take().unwrap_or(self.now_ms);
                self.enumeration = self.enumeration.wrapping_add(1);
                self.switch = Some(Switch {
                    reset_at_ms: at,
                    to: Mode::Runtime,
                    dropped: true,
                });
            }
        }
        let Some(mut switch) = self.switch else {
            return;
        };
        if self.now_ms >= switch.reset_at_ms && !switch.dropped {
            self.disconnected = true;
            self.enumeration = self.enumeration.wrapping_add(1);
            switch.dropped = true;
            self.switch = Some(switch);
        }
        let appears_at = switch.reset_at_ms + REENUMERATE_MS;
        if switch.dropped && self.now_ms >= appears_at && !self.faults.never_reenumerates {
            self.switch = None;
            self.become_(switch.to, appears_at);
        }
    }

    /// The device after a reset, enumerated as `mode` at `at`.
    fn become_(&mut self, mode: Mode, at: u64) {
        self.mode = mode;
        self.disconnected = false;
        match mode {
            Mode::Dfu => {
                self.state = State::DfuIdle;
                self.status = 0;
                self.pointer = INITIAL_POINTER;
                self.pending.clear();
                self.manifest_pending = false;
                self.alt = 0;
                self.poll_timeout_ms = 0;
                self.reset_at_ms = None;
                self.left_dfu = false;
                self.busy_left = 0;
            }
            Mode::Runtime => {
                self.channel = ControlChannel::default();
                self.system_busy_until_ms = at + self.faults.system_busy_ms;
                self.line_coding = [0x80, 0x25, 0, 0, 0, 0, 8];
            }
        }
    }

    fn schedule_reset(&mut self, after_ms: u64, to: Mode) {
        self.switch = Some(Switch {
            reset_at_ms: self.now_ms + after_ms,
            to,
            dropped: false,
        });
    }

    fn runtime_facts(&self) -> runtime::Facts<'_> {
        runtime::Facts {
            device_id: &self.device_id,
            version: self.firmware.as_deref().unwrap_or(""),
            // Connecting while the system thread is busy reaching the cloud, connected after.
            cloud_status: self.firmware_state.cloud_status.unwrap_or(
                if self.now_ms < self.system_busy_until_ms {
                    1
                } else {
                    2
                },
            ),
            fail: self.faults.fail_request,
            keys: None,
        }
    }

    fn apply(&mut self, effects: runtime::Effects) {
        if effects.cancel_connection {
            self.system_busy_until_ms = self.system_busy_until_ms.min(self.now_ms);
        }
        match effects.completion {
            Some(Completion::Dfu) => self.schedule_reset(COMPLETION_DELAY_MS, Mode::Dfu),
            Some(Completion::Reset) => {
                self.firmware_restarting();
                self.schedule_reset(COMPLETION_DELAY_MS, Mode::Runtime);
            }
            None => {}
        }
    }

    fn runtime_in(&mut self, setup: ControlSetup, len: u16) -> Result<Vec<u8>, TransportError> {
        match (setup.request_type, setup.recipient, setup.request) {
            (RequestType::Standard, Recipient::Device, standard::GET_DESCRIPTOR) => {
                let [index, kind] = setup.value.to_le_bytes();
                match kind {
                    standard::DEVICE => {
                        let mut d = self.platform.device_descriptor();
                        d[10..12]
                            .copy_from_slice(&self.platform.runtime_product_id().to_le_bytes());
                        Ok(d.to_vec())
                    }
                    standard::STRING if index == 3 => {
                        Ok(platform::string_descriptor(&self.device_id))
                    }
                    _ => Err(TransportError::Stall),
                }
            }
            (RequestType::Standard, Recipient::Device, standard::GET_CONFIGURATION) => Ok(vec![1]),
            (RequestType::Standard, _, standard::GET_STATUS) => Ok(vec![0, 0]),
            // Service requests: bRequest 1 to 15, IN (SEND is OUT).
            (RequestType::Vendor, Recipient::Device, 1..=15) if self.control_requests() => {
                let busy = self.system_busy_until_ms;
                let mut channel = std::mem::take(&mut self.channel);
                let dct = self.lend_dct();
                let facts = runtime::Facts {
                    keys: Some(&dct),
                    ..self.runtime_facts()
                };
                channel.run_system_thread(self.now_ms, busy, &facts);
                let mut effects = runtime::Effects::default();
                let reply = channel.service_in(
                    setup,
                    len,
                    self.now_ms,
                    self.faults.runtime_no_memory,
                    &mut effects,
                );
                self.channel = channel;
                if self.return_dct(dct) {
                    return Err(TransportError::Disconnected);
                }
                self.apply(effects);
                reply
            }
            // The legacy 'P' request: device ID and version as plain text
            // (`processVendorRequest`).
            (RequestType::Vendor, Recipient::Device, 0x50) if self.control_requests() => {
                match setup.index {
                    20 if len >= 24 => Ok(self.device_id.as_bytes().to_vec()),
                    30 => {
                        let v = self.firmware.clone().unwrap_or_default().into_bytes();
                        if usize::from(len) < v.len() {
                            Err(TransportError::Stall)
                        } else {
                            Ok(v)
                        }
                    }
                    _ => Err(TransportError::Stall),
                }
            }
            // CDC GET_LINE_CODING on the communication interface.
            (RequestType::Class, Recipient::Interface, 0x21) if setup.index == 0 => {
                Ok(self.line_coding.to_vec())
            }
            _ => Err(TransportError::Stall),
        }
    }

    fn runtime_out(&mut self, setup: ControlSetup, data: &[u8]) -> Result<(), TransportError> {
        match (setup.request_type, setup.recipient, setup.request) {
            (RequestType::Standard, Recipient::Device, standard::SET_CONFIGURATION) => Ok(()),
            (RequestType::Vendor, Recipient::Device, 3) if self.control_requests() => {
                let busy = self.system_busy_until_ms;
                let mut channel = std::mem::take(&mut self.channel);
                let dct = self.lend_dct();
                let facts = runtime::Facts {
                    keys: Some(&dct),
                    ..self.runtime_facts()
                };
                channel.run_system_thread(self.now_ms, busy, &facts);
                let result = channel.send(setup.index, data, self.now_ms);
                self.channel = channel;
                if self.return_dct(dct) {
                    return Err(TransportError::Disconnected);
                }
                result
            }
            // CDC SET_LINE_CODING: 14400 baud enters DFU mode on any firmware with USB serial
            // (`system_lineCodingBitRateHandler`, `system/src/system_update.cpp`).
            (RequestType::Class, Recipient::Interface, 0x20) if setup.index == 0 => {
                let coding: [u8; 7] = data.try_into().map_err(|_| TransportError::Stall)?;
                self.line_coding = coding;
                if self.baud_rate() == 14_400 {
                    self.system_busy_until_ms = self.system_busy_until_ms.min(self.now_ms);
                    self.schedule_reset(LINE_CODING_RESET_MS, Mode::Dfu);
                }
                Ok(())
            }
            // CDC SET_CONTROL_LINE_STATE (DTR/RTS).
            (RequestType::Class, Recipient::Interface, 0x22) if setup.index == 0 => Ok(()),
            _ => Err(TransportError::Stall),
        }
    }
}

fn address_of(data: &[u8]) -> u32 {
    match *data {
        [_, a0, a1, a2, a3, ..] => u32::from_le_bytes([a0, a1, a2, a3]),
        _ => 0,
    }
}

fn truncate(mut reply: Vec<u8>, len: u16) -> Vec<u8> {
    reply.truncate(usize::from(len));
    reply
}

impl Transport for SimDevice {
    async fn control_in(
        &mut self,
        setup: ControlSetup,
        len: u16,
    ) -> Result<Vec<u8>, TransportError> {
        self.handle_in(setup, len)
    }

    async fn control_out(
        &mut self,
        setup: ControlSetup,
        data: &[u8],
    ) -> Result<(), TransportError> {
        self.handle_out(setup, data)
    }

    /// Moves the simulated clock; a Gen 2 device whose reset countdown ends meanwhile drops off
    /// the bus.
    async fn sleep(&mut self, ms: u32) {
        self.now_ms += u64::from(ms);
        self.tick();
    }

    fn info(&self) -> DeviceInfo {
        if self.mode == Mode::Runtime {
            return DeviceInfo {
                vendor_id: self.platform.vendor_id(),
                product_id: self.platform.runtime_product_id(),
                serial_number: Some(self.device_id.clone()),
                // The runtime product string is not read by this page (unverified).
                product_name: Some(format!("{:?}", self.platform)),
                alternates: Vec::new(),
            };
        }
        let alternates = (0..self.platform.alternates().len())
            .map(|i| AlternateInfo {
                interface: 0,
                alternate: i as u8,
                name: (!self.faults.hide_alternate_names).then(|| self.alt_name(i).to_owned()),
            })
            .collect();
        DeviceInfo {
            vendor_id: self.platform.vendor_id(),
            product_id: self.platform.dfu_product_id(),
            serial_number: Some(self.serial_number()),
            product_name: Some(self.platform.product_string().to_owned()),
            alternates,
        }
    }

    fn now_ms(&self) -> Option<u64> {
        Some(self.now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_executor::block_on;

    fn class(request: u8, value: u16) -> ControlSetup {
        ControlSetup::class_interface(request, value, 0)
    }

    fn status(dev: &mut SimDevice) -> (u8, State) {
        let r =
            StatusReply::parse(&dev.handle_in(class(request::GETSTATUS, 0), 6).unwrap()).unwrap();
        (r.status, r.state)
    }

    #[test]
    fn clrstatus_outside_error_is_the_photon_trap() {
        let mut dev = SimDevice::photon();
        let clr = class(request::CLRSTATUS, 0);
        block_on(dev.control_out(clr, &[])).unwrap();
        assert_eq!(dev.state(), State::Error);
        let reply = block_on(crate::dfu::get_status(&mut dev, 0)).unwrap();
        assert_eq!((reply.status, reply.state), (0x0E, State::Error));
        block_on(dev.control_out(clr, &[])).unwrap();
        assert_eq!(dev.state(), State::DfuIdle);
    }

    #[test]
    fn abort_does_not_leave_dfu_error() {
        let mut dev = SimDevice::photon_in_state(State::Error);
        block_on(dev.control_out(class(request::ABORT, 0), &[])).unwrap();
        assert_eq!(dev.state(), State::Error);
        assert_eq!(dev.transfers(), 1);
    }

    #[test]
    fn dnbusy_then_execute_then_dnload_idle() {
        let mut dev = SimDevice::photon();
        dev.handle_out(class(request::DNLOAD, 0), &[0x21, 0x22, 0, 0, 0])
            .unwrap();
        assert_eq!(dev.state(), State::DnloadSync);
        assert_eq!(status(&mut dev), (0, State::DnBusy));
        assert_eq!(dev.pointer, 0x22);
        assert_eq!(dev.handle_in(class(request::GETSTATE, 0), 1).unwrap(), [3]);
        assert_eq!(status(&mut dev), (0, State::DnloadIdle));
    }

    #[test]
    fn get_commands_and_the_block_one_bug() {
        let mut dev = SimDevice::photon();
        assert_eq!(
            dev.handle_in(class(request::UPLOAD, 0), 3).unwrap(),
            [0, 0x21, 0x41]
        );
        assert_eq!(dev.state(), State::UploadIdle);
        assert_eq!(
            dev.handle_in(class(request::UPLOAD, 0), 64).unwrap(),
            [0, 0x21, 0x41]
        );
        assert_eq!(dev.state(), State::DfuIdle);
        assert_eq!(
            dev.handle_in(class(request::UPLOAD, 1), 64),
            Err(TransportError::Stall)
        );
        assert_eq!(dev.state(), State::Unknown(15));
    }

    #[test]
    fn address_formula_uses_the_device_stride() {
        let mut dev = SimDevice::photon();
        block_on(dev.select_alternate(0, 1)).unwrap();
        dev.set_dct_bytes(4096 + 10, &[0xAB]);
        dev.handle_out(class(request::DNLOAD, 0), &[0x21, 10, 0, 0, 0])
            .unwrap();
        status(&mut dev);
        status(&mut dev);
        dev.handle_out(class(request::ABORT, 0), &[]).unwrap();
        assert_eq!(dev.handle_in(class(request::UPLOAD, 3), 1).unwrap(), [0xAB]);
    }

    #[test]
    fn erase_moves_the_pointer_and_protected_sectors_fail_with_a_stall() {
        let mut dev = SimDevice::photon();
        dev.handle_out(class(request::DNLOAD, 0), &[0x41, 0, 0x40, 0, 0x08])
            .unwrap();
        assert_eq!(
            dev.handle_in(class(request::GETSTATUS, 0), 6),
            Err(TransportError::Stall)
        );
        assert_eq!(dev.pointer, 0x0800_4000);
        // The next GETSTATUS reports dfuDNLOAD-IDLE with status OK anyway.
        assert_eq!(status(&mut dev), (0, State::DnloadIdle));
    }

    #[test]
    fn leave_reports_dnload_idle_then_answers_state_8_for_500_ms_then_disconnects() {
        let mut dev = SimDevice::photon();
        dev.handle_out(class(request::DNLOAD, 2), &[]).unwrap();
        assert_eq!(status(&mut dev), (0, State::DnloadIdle));
        assert!(dev.left_dfu());
        assert_eq!(dev.state(), State::ManifestWaitReset);
        // The countdown: still on the bus, in dfuMANIFEST-WAIT-RESET.
        assert_eq!(dev.handle_in(class(request::GETSTATE, 0), 1).unwrap(), [8]);
        assert_eq!(status(&mut dev), (0, State::ManifestWaitReset));
        block_on(dev.sleep(499));
        assert!(!dev.disconnected());
        assert_eq!(dev.handle_in(class(request::GETSTATE, 0), 1).unwrap(), [8]);
        block_on(dev.sleep(1));
        assert!(dev.disconnected());
        assert_eq!(
            dev.handle_in(class(request::GETSTATE, 0), 1),
            Err(TransportError::Disconnected)
        );
    }

    fn poll_timeout(dev: &mut SimDevice) -> (State, u32) {
        let r =
            StatusReply::parse(&dev.handle_in(class(request::GETSTATUS, 0), 6).unwrap()).unwrap();
        (r.state, r.poll_timeout_ms)
    }

    /// Runs a DNLOAD block 0 and returns its two status replies' (state, bwPollTimeout).
    fn command_timeouts(dev: &mut SimDevice, payload: &[u8]) -> [(State, u32); 2] {
        dev.handle_out(class(request::DNLOAD, 0), payload).unwrap();
        [poll_timeout(dev), poll_timeout(dev)]
    }

    #[test]
    fn dct_poll_timeouts_are_1_ms_after_set_address_and_data_and_500_ms_after_erase() {
        let mut dev = SimDevice::photon();
        block_on(dev.select_alternate(0, 1)).unwrap();
        // The pointer still holds 0x08020000, not a DCT address: the value stays 0.
        assert_eq!(
            command_timeouts(&mut dev, &[0x21, 34, 0, 0, 0]),
            [(State::DnBusy, 0), (State::DnloadIdle, 0)]
        );
        assert_eq!(
            command_timeouts(&mut dev, &[0x21, 34, 0, 0, 0]),
            [(State::DnBusy, 1), (State::DnloadIdle, 1)]
        );
        assert_eq!(
            command_timeouts(&mut dev, &[0x41, 0, 0, 0, 0]),
            [(State::DnBusy, 500), (State::DnloadIdle, 500)]
        );
        // Kept in every later reply, dfuIDLE included.
        dev.handle_out(class(request::ABORT, 0), &[]).unwrap();
        assert_eq!(poll_timeout(&mut dev), (State::DfuIdle, 500));
        dev.handle_out(class(request::DNLOAD, 2), &[1, 2, 3])
            .unwrap();
        assert_eq!(poll_timeout(&mut dev), (State::DnBusy, 1));
        assert_eq!(poll_timeout(&mut dev), (State::DnloadIdle, 1));
        // Alt 0 declares 0 ms, but only once the pointer is a flash address.
        block_on(dev.select_alternate(0, 0)).unwrap();
        assert_eq!(
            command_timeouts(&mut dev, &[0x21, 0, 0, 0x0A, 0x08]),
            [(State::DnBusy, 1), (State::DnloadIdle, 1)]
        );
        assert_eq!(
            command_timeouts(&mut dev, &[0x41, 0, 0, 0x0A, 0x08]),
            [(State::DnBusy, 0), (State::DnloadIdle, 0)]
        );
        // The leave reply carries the kept value too.
        block_on(dev.select_alternate(0, 1)).unwrap();
        command_timeouts(&mut dev, &[0x21, 0, 0, 0, 0]);
        command_timeouts(&mut dev, &[0x41, 0, 0, 0, 0]);
        dev.handle_out(class(request::DNLOAD, 2), &[]).unwrap();
        assert_eq!(poll_timeout(&mut dev), (State::DnloadIdle, 500));
    }

    #[test]
    fn a_queued_dnload_runs_at_the_next_getstatus_on_the_alternate_selected_then() {
        // An ERASE of sector 11 queued on alt 0, then alt 1 selected: the ERASE runs on the DCT,
        // where 0x080E0000 is invalid, and stalls; flash is untouched.
        let mut dev = SimDevice::photon();
        dev.set_memory(0, 0xE_0000, &[0x12; 16]);
        dev.handle_out(class(request::DNLOAD, 0), &[0x41, 0, 0, 0x0E, 0x08])
            .unwrap();
        block_on(dev.select_alternate(0, 1)).unwrap();
        // GETSTATE does not run it.
        assert_eq!(dev.handle_in(class(request::GETSTATE, 0), 1).unwrap(), [3]);
        assert_eq!(
            dev.handle_in(class(request::GETSTATUS, 0), 6),
            Err(TransportError::Stall)
        );
        assert_eq!(dev.erases(), [0x080E_0000]);
        assert_eq!(dev.memory(0)[0xE_0000..0xE_0010], [0x12; 16]);
        // The same ERASE left queued and run on alt 0 erases the sector.
        let mut dev = SimDevice::photon();
        dev.set_memory(0, 0xE_0000, &[0x12; 16]);
        dev.handle_out(class(request::DNLOAD, 0), &[0x41, 0, 0, 0x0E, 0x08])
            .unwrap();
        assert_eq!(status(&mut dev), (0, State::DnBusy));
        assert_eq!(dev.memory(0)[0xE_0000..0xE_0010], [0xFF; 16]);
    }

    #[test]
    fn upload_while_a_dnload_is_queued_stalls_and_drops_it() {
        let mut dev = SimDevice::photon();
        dev.set_memory(0, 0xE_0000, &[0x12; 16]);
        dev.handle_out(class(request::DNLOAD, 0), &[0x41, 0, 0, 0x0E, 0x08])
            .unwrap();
        assert_eq!(
            dev.handle_in(class(request::UPLOAD, 2), 16),
            Err(TransportError::Stall)
        );
        assert_eq!(dev.state(), State::DnloadSync);
        // Reported dfuDNLOAD-IDLE/OK, and the ERASE never ran.
        assert_eq!(status(&mut dev), (0, State::DnloadIdle));
        assert_eq!(dev.erases(), [] as [u32; 0]);
        assert_eq!(dev.pointer, INITIAL_POINTER);
        assert_eq!(dev.memory(0)[0xE_0000..0xE_0010], [0x12; 16]);
    }

    #[test]
    fn uploads_longer_than_the_buffer_read_on_through_the_memory() {
        let mut dev = SimDevice::photon();
        let flash = dev.memory(0)[..3 * 4096].to_vec();
        dev.handle_out(class(request::DNLOAD, 0), &[0x21, 0, 0, 0, 0x08])
            .unwrap();
        status(&mut dev);
        status(&mut dev);
        dev.handle_out(class(request::ABORT, 0), &[]).unwrap();
        let got = dev.handle_in(class(request::UPLOAD, 2), 3 * 4096).unwrap();
        assert_eq!(got, flash);
        // The DCT too: 8192 bytes from offset 0.
        block_on(dev.select_alternate(0, 1)).unwrap();
        dev.set_dct_bytes(5000, &[0xAB]);
        dev.handle_out(class(request::ABORT, 0), &[]).unwrap();
        dev.handle_out(class(request::DNLOAD, 0), &[0x21, 0, 0, 0, 0])
            .unwrap();
        status(&mut dev);
        status(&mut dev);
        dev.handle_out(class(request::ABORT, 0), &[]).unwrap();
        let got = dev.handle_in(class(request::UPLOAD, 2), 8192).unwrap();
        assert_eq!(got.len(), 8192);
        assert_eq!(got[5000], 0xAB);
        assert_eq!(got[..], dev.memory(1)[..8192]);
    }

    #[test]
    fn state_15_ignores_abort_and_leaves_by_two_clrstatus() {
        let mut dev = SimDevice::photon();
        assert_eq!(
            dev.handle_in(class(request::UPLOAD, 1), 64),
            Err(TransportError::Stall)
        );
        assert_eq!(status(&mut dev), (0, State::Unknown(15)));
        dev.handle_out(class(request::ABORT, 0), &[]).unwrap();
        assert_eq!(dev.state(), State::Unknown(15));
        dev.handle_out(class(request::CLRSTATUS, 0), &[]).unwrap();
        assert_eq!(status(&mut dev), (ERR_UNKNOWN, State::Error));
        dev.handle_out(class(request::CLRSTATUS, 0), &[]).unwrap();
        assert_eq!(status(&mut dev), (0, State::DfuIdle));
    }

    #[test]
    fn failed_reads_are_zero_filled() {
        let mut dev = SimDevice::builder(Platform::Photon)
            .dct_unreachable()
            .build();
        block_on(dev.select_alternate(0, 1)).unwrap();
        dev.handle_out(class(request::DNLOAD, 0), &[0x21, 0, 0, 0, 0])
            .unwrap();
        status(&mut dev);
        status(&mut dev);
        dev.handle_out(class(request::ABORT, 0), &[]).unwrap();
        assert_eq!(
            dev.handle_in(class(request::UPLOAD, 2), 16).unwrap(),
            [0; 16]
        );
        assert_eq!(&dev.dct()[DCT_DEVICE_ID..DCT_DEVICE_ID + 2], [0x3a, 0x00]);
    }

    /// The Core's bootloader (v0.4.9 `bootloader/src/core/usb_prop.c`): the same ST family, with
    /// its own differences.
    #[test]
    fn the_core_ignores_failures_keeps_a_queued_dnload_has_no_detach_and_resets_after_500_ms() {
        let core = || SimDevice::builder(Platform::Core).stall_on_write().build();
        // A write that fails is not reported: dfuDNBUSY, then dfuDNLOAD-IDLE, nothing written.
        let mut dev = core();
        block_on(dev.select_alternate(0, 1)).unwrap();
        dev.handle_out(class(request::DNLOAD, 0), &[0x21, 0, 0x10, 0, 0])
            .unwrap();
        assert_eq!(status(&mut dev), (0, State::DnBusy));
        assert_eq!(status(&mut dev), (0, State::DnloadIdle));
        let before = dev.memory(1)[0x1000..0x1010].to_vec();
        dev.handle_out(class(request::DNLOAD, 2), &[0xAA; 16])
            .unwrap();
        assert_eq!(status(&mut dev), (0, State::DnBusy));
        assert_eq!(status(&mut dev), (0, State::DnloadIdle));
        assert_eq!(dev.memory(1)[0x1000..0x1010], before[..]);
        // An unknown command is ignored too.
        dev.handle_out(class(request::DNLOAD, 0), &[0x55]).unwrap();
        assert_eq!(status(&mut dev), (0, State::DnBusy));
        assert_eq!(status(&mut dev), (0, State::DnloadIdle));

        // An UPLOAD while a DNLOAD is queued stalls, and the DNLOAD still runs afterwards.
        let mut dev = SimDevice::builder(Platform::Core).build();
        block_on(dev.select_alternate(0, 1)).unwrap();
        dev.handle_out(class(request::DNLOAD, 0), &[0x21, 0, 0x20, 0, 0])
            .unwrap();
        assert_eq!(
            dev.handle_in(class(request::UPLOAD, 2), 16),
            Err(TransportError::Stall)
        );
        assert_eq!(status(&mut dev), (0, State::DnBusy));
        assert_eq!(dev.pointer, 0x2000);

        // No DETACH.
        assert_eq!(
            dev.handle_out(class(request::DETACH, 0), &[]),
            Err(TransportError::Stall)
        );
        assert!(!dev.disconnected());

        // Leaving: dfuDNLOAD-IDLE reported, then 500 ms in dfuMANIFEST-WAIT-RESET, then gone.
        status(&mut dev);
        dev.handle_out(class(request::DNLOAD, 0), &[]).unwrap();
        assert_eq!(status(&mut dev), (0, State::DnloadIdle));
        block_on(dev.sleep(499));
        assert_eq!(
            dev.handle_in(class(request::GETSTATE, 0), 1).unwrap(),
            [State::ManifestWaitReset.to_byte()]
        );
        block_on(dev.sleep(1));
        assert!(dev.disconnected());
    }
}
