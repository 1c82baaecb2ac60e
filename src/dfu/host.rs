//! The DfuSe host session: idle, special commands, upload, erase, download, verify, leave.
//!
//! Modelled on dfu-util's `dfuse.c` and the algorithm in dfuse-protocol.md, 10, with the Photon's
//! quirks in mind: never CLRSTATUS outside dfuERROR, erase each sector once, treat any stall during
//! a download as failure, read back what was written, and accept dfuDNLOAD-IDLE after leave.

use super::descriptor::{self, FunctionalDescriptor};
use super::layout::{LayoutError, MemoryLayout, Sector};
use super::{Error, State, StatusReply, get_status, request};
use crate::usb::{ControlSetup, Transport, TransportError};
use std::ops::Range;

/// A DfuSe special command (DNLOAD with block 0), for error reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    SetAddress,
    Erase,
}

impl std::fmt::Display for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::SetAddress => "SET_ADDRESS",
            Self::Erase => "ERASE",
        })
    }
}

/// Whether a write first erases the sectors it touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Erase {
    /// Erase every erasable sector the range touches, once each, before writing. Erasing clears
    /// the whole sector, not only the range.
    Sectors,
    /// Write without erasing: for memories the device rewrites itself (the Photon's DCT on alt 1)
    /// or that the caller erased already.
    Never,
}

/// How a device acknowledged leaving DFU mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaveOutcome {
    /// The device reported dfuMANIFEST, dfuMANIFEST-WAIT-RESET or (Photon) dfuDNLOAD-IDLE.
    Reported(State),
    /// The device dropped off the bus before answering, which is how a reset looks.
    Disconnected,
}

/// The longest the host sleeps for one `bwPollTimeout`, whatever the device asks.
///
/// `bwPollTimeout` is a 24-bit field, so a device can ask for up to 0xFFFFFF ms (4.66 hours)
/// between two status requests. The longest wait a Particle bootloader legitimately asks for is
/// the 500 ms the Photon's DCT alternate reports after an ERASE (`usbd_dct_if.c` 38-39 with
/// `usbd_dfu_mal.c` 295-302, Device OS v2.3.1); the flash alternate reports 0 and does its work in
/// the status stage instead (dfuse-protocol.md, 9.4). dfu-util allows 5 s per transfer. Five
/// seconds is ten times the longest real request, and short enough that a page never looks hung
/// for one poll.
pub const MAX_POLL_SLEEP_MS: u32 = 5_000;

/// The longest the host sleeps in total while one request keeps the device busy (the sum of the
/// capped sleeps of [`MAX_POLL_SLEEP_MS`]). Sixty times the Photon's longest real request, so no
/// real device comes near it; a device still busy after it is reported as
/// [`Error::StillBusy`] instead of holding the page.
pub const MAX_BUSY_WAIT_MS: u64 = 30_000;

/// Polls give up after this many GETSTATUS requests while the device stays busy, even when it
/// asks for no wait at all (dfu-util gives up after 100 polls at timeout 0). With
/// [`MAX_BUSY_WAIT_MS`] this bounds every wait: at most this many transfers and that much sleep.
const MAX_POLLS: u32 = 100;
/// Rounds of GETSTATUS/CLRSTATUS/ABORT before a dirty start is declared stuck.
const MAX_IDLE_ROUNDS: u32 = 6;

/// The state byte the Gen 2 bootloader stores after an UPLOAD with block 1: it assigns the
/// bStatus constant errSTALLEDPKT to the state (`usbd_dfu_core.c` 827-834, Device OS v2.3.1).
/// ABORT ignores it (978-987); a CLRSTATUS turns it into dfuERROR/errUNKNOWN (926-940) and a
/// second CLRSTATUS into dfuIDLE.
const STALLED_PKT_STATE: u8 = 15;

/// How long the device asked the host to wait between status requests during a session, for the
/// caller's log: `bwPollTimeout` comes from the device and is capped at [`MAX_POLL_SLEEP_MS`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PollWaits {
    /// The largest `bwPollTimeout` the device reported while it was busy, in milliseconds.
    pub longest_asked_ms: u32,
    /// How many of those waits were cut to [`MAX_POLL_SLEEP_MS`].
    pub capped: u32,
    /// The milliseconds actually slept between polls.
    pub slept_ms: u64,
}

/// One wait for a busy device: counts its polls and sleeps against [`MAX_POLLS`] and
/// [`MAX_BUSY_WAIT_MS`]. Where the transport has a clock ([`Transport::now_ms`]), the time its
/// status requests took counts too: a device that answers every poll "busy" just inside the
/// transfer deadline cannot stretch the wait to a hundred deadlines.
#[derive(Debug, Default)]
struct Patience {
    polls: u32,
    waited_ms: u64,
    started_ms: Option<u64>,
}

impl Patience {
    fn new(now_ms: Option<u64>) -> Self {
        Self {
            started_ms: now_ms,
            ..Self::default()
        }
    }

    /// The time this wait has used: the sleeps, or the clock when it says more.
    fn spent_ms(&self, now_ms: Option<u64>) -> u64 {
        match (self.started_ms, now_ms) {
            (Some(start), Some(now)) => self.waited_ms.max(now.saturating_sub(start)),
            _ => self.waited_ms,
        }
    }
}

/// The descriptors [`Dfu::open`] read for one alternate setting. They cannot change while the
/// device stays in DFU mode, so a later session on the same device can resume with them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AltFacts {
    pub interface: u8,
    pub alternate: u8,
    pub functional: FunctionalDescriptor,
    pub layout: MemoryLayout,
}

/// A DFU session on one interface and alternate setting of an opened, claimed device.
pub struct Dfu<'t, T: Transport> {
    /// Every request goes through [`Dfu::wire`], which forgets `idle` first; only sleeping (which
    /// sends nothing) and [`Dfu::transport_ref`] (read-only) use it directly.
    t: &'t mut T,
    facts: AltFacts,
    protected: Vec<Range<u32>>,
    waits: PollWaits,
    /// The last transfer of this session was the GETSTATUS with which [`Dfu::go_idle`] found the
    /// device in dfuIDLE with status OK, and nothing has been sent since, so asking again would
    /// only repeat that answer. Set only there; cleared before every transfer, whatever its outcome.
    idle: bool,
}

impl<'t, T: Transport> Dfu<'t, T> {
    /// Selects `alternate`, reads the functional descriptor and the memory layout, and brings the
    /// device to dfuIDLE from whatever state an earlier session left it in. A DNLOAD another host
    /// left queued is dropped before the alternate changes (see [`drop_queued_download`]).
    pub async fn open(t: &'t mut T, interface: u8, alternate: u8) -> Result<Self, Error> {
        drop_queued_download(t, interface).await?;
        t.select_alternate(interface, alternate).await?;
        let config = descriptor::read_configuration(t, 0).await?;
        let functional = match config.functional {
            Some(f) => f,
            None => descriptor::read_functional(t, interface).await?,
        };
        if !functional.is_dfuse() {
            return Err(Error::NotDfuSe {
                version: functional.dfu_version,
            });
        }
        if functional.transfer_size == 0 {
            return Err(Error::BadDescriptor {
                what: "DFU functional",
            });
        }
        let name = match t.info().alternate_name(interface, alternate) {
            Some(name) => name.to_owned(),
            None => {
                let index = config
                    .alternate(interface, alternate)
                    .ok_or(Error::NoAlternate {
                        interface,
                        alternate,
                    })?
                    .name_index;
                descriptor::read_string(t, index).await?
            }
        };
        let layout =
            MemoryLayout::parse(&name).map_err(|LayoutError { problem, at }| Error::BadLayout {
                text: name.clone(),
                problem,
                at,
            })?;
        let facts = AltFacts {
            interface,
            alternate,
            functional,
            layout,
        };
        Self::start(t, facts).await
    }

    /// Resumes a session on an alternate setting that [`Dfu::open`] described before, without
    /// reading its descriptors again: selects it again only if `reselect` (another alternate was
    /// selected since), then brings the device to dfuIDLE. As in [`Dfu::open`], a queued DNLOAD
    /// is dropped first: whatever happened since the last session (a failed transfer, another
    /// program) may have left one.
    pub async fn resume(t: &'t mut T, facts: &AltFacts, reselect: bool) -> Result<Self, Error> {
        drop_queued_download(t, facts.interface).await?;
        if reselect {
            t.select_alternate(facts.interface, facts.alternate).await?;
        }
        Self::start(t, facts.clone()).await
    }

    /// A session on the selected alternate that `facts` describes, brought to dfuIDLE.
    async fn start(t: &'t mut T, facts: AltFacts) -> Result<Self, Error> {
        let mut dfu = Self {
            t,
            facts,
            protected: Vec::new(),
            waits: PollWaits::default(),
            idle: false,
        };
        dfu.go_idle().await?;
        Ok(dfu)
    }

    /// What this session learned about its alternate setting, for [`Dfu::resume`].
    pub fn facts(&self) -> AltFacts {
        self.facts.clone()
    }

    pub fn layout(&self) -> &MemoryLayout {
        &self.facts.layout
    }

    pub fn functional(&self) -> FunctionalDescriptor {
        self.facts.functional
    }

    /// The waits the device asked for so far in this session (its `bwPollTimeout`s), for a log.
    pub fn poll_waits(&self) -> PollWaits {
        self.waits
    }

    /// Declares ranges the bootloader refuses to erase or write although the layout allows it
    /// (Gen 2: everything below 0x08020000 on alt 0). Writes there fail before any transfer.
    pub fn set_protected(&mut self, ranges: Vec<Range<u32>>) {
        self.protected = ranges;
    }

    /// The transport, for callers that need it between operations. Whatever the caller sends
    /// through it is unknown to the session, so the next operation asks for the status again.
    pub fn transport(&mut self) -> &mut T {
        self.wire()
    }

    /// The transport, read-only (counts, figures): nothing can be sent through it, so the session
    /// still knows what it knew.
    pub fn transport_ref(&self) -> &T {
        self.t
    }

    /// The transport, for sending a request: forgets that the device was confirmed idle before
    /// the request goes out, so a request that fails, stalls or never returns leaves it forgotten.
    fn wire(&mut self) -> &mut T {
        self.idle = false;
        self.t
    }

    fn setup(&self, request: u8, value: u16) -> ControlSetup {
        ControlSetup::class_interface(request, value, u16::from(self.facts.interface))
    }

    async fn status(&mut self) -> Result<StatusReply, Error> {
        let interface = u16::from(self.facts.interface);
        get_status(self.wire(), interface).await
    }

    async fn simple(&mut self, request: u8) -> Result<(), Error> {
        let setup = self.setup(request, 0);
        self.wire().control_out(setup, &[]).await?;
        Ok(())
    }

    /// Brings the device to dfuIDLE with status OK (dfu-util's dirty start).
    ///
    /// CLRSTATUS is sent only in dfuERROR and in the Photon's state 15: the Photon turns a
    /// CLRSTATUS in any other state into dfuERROR/errUNKNOWN (dfuse-protocol.md, 9.3), and state
    /// 15 is left only that way, then by a second CLRSTATUS (see [`STALLED_PKT_STATE`]). Sends
    /// nothing when the session's last transfer already found the device there.
    pub async fn go_idle(&mut self) -> Result<(), Error> {
        if self.idle {
            return Ok(());
        }
        let mut last = None;
        let mut patience = Patience::new(self.t.now_ms());
        for _ in 0..MAX_IDLE_ROUNDS {
            let s = self.status().await?;
            last = Some(s);
            match s.state {
                State::DfuIdle if s.status == 0 => {
                    self.idle = true;
                    return Ok(());
                }
                State::Error | State::Unknown(STALLED_PKT_STATE) => {
                    self.simple(request::CLRSTATUS).await?
                }
                State::DfuIdle
                | State::DnloadIdle
                | State::UploadIdle
                | State::DnloadSync
                | State::ManifestSync => self.simple(request::ABORT).await?,
                State::DnBusy => self.wait(&mut patience, s).await?,
                _ => break,
            }
        }
        let s = last.unwrap_or(StatusReply {
            status: 0,
            poll_timeout_ms: 0,
            state: State::Unknown(0xFF),
        });
        Err(Error::UnexpectedState {
            got: s.state,
            status: s.status,
            expected: State::DfuIdle,
        })
    }

    /// Brings the device to a state that accepts a DNLOAD: dfuIDLE, or dfuDNLOAD-IDLE left by the
    /// previous command, both with status OK. Saves an ABORT and a GETSTATUS between operations,
    /// and sends nothing when the session's last transfer found the device in dfuIDLE with status
    /// OK (the first operation after [`Dfu::open`] or [`Dfu::resume`]).
    async fn ready_for_download(&mut self) -> Result<(), Error> {
        if self.idle {
            return Ok(());
        }
        let s = self.status().await?;
        if s.status == 0 && matches!(s.state, State::DfuIdle | State::DnloadIdle) {
            return Ok(());
        }
        self.go_idle().await
    }

    /// Sleeps the `bwPollTimeout` of busy reply `s` before the next poll (DFU 1.1, 6.1.2), cut to
    /// [`MAX_POLL_SLEEP_MS`]; fails with [`Error::StillBusy`] once this wait has used
    /// [`MAX_POLLS`] polls or would sleep past [`MAX_BUSY_WAIT_MS`] in total.
    async fn wait(&mut self, patience: &mut Patience, s: StatusReply) -> Result<(), Error> {
        let asked = s.poll_timeout_ms;
        self.waits.longest_asked_ms = self.waits.longest_asked_ms.max(asked);
        let ms = asked.min(MAX_POLL_SLEEP_MS);
        patience.polls += 1;
        let spent = patience.spent_ms(self.t.now_ms());
        if patience.polls >= MAX_POLLS || spent + u64::from(ms) > MAX_BUSY_WAIT_MS {
            return Err(Error::StillBusy {
                polls: patience.polls,
                waited_ms: spent,
                asked_ms: asked,
            });
        }
        if ms < asked {
            self.waits.capped += 1;
        }
        patience.waited_ms += u64::from(ms);
        self.waits.slept_ms += u64::from(ms);
        self.t.sleep(ms).await;
        Ok(())
    }

    /// Polls GETSTATUS until the device stops being busy, sleeping `bwPollTimeout` (capped)
    /// before each further poll.
    async fn poll_until_done(&mut self) -> Result<StatusReply, Error> {
        let mut patience = Patience::new(self.t.now_ms());
        loop {
            let s = self.status().await?;
            match s.state {
                State::DnBusy | State::DnloadSync | State::ManifestSync => {
                    self.wait(&mut patience, s).await?;
                }
                _ => return Ok(s),
            }
        }
    }

    /// Sends a DfuSe special command and waits until it has run.
    async fn command(&mut self, command: Command, address: u32) -> Result<(), Error> {
        let byte = match command {
            Command::SetAddress => 0x21,
            Command::Erase => 0x41,
        };
        let a = address.to_le_bytes();
        let payload = [byte, a[0], a[1], a[2], a[3]];
        let s = self
            .download(0, &payload, Error::CommandRejected { command, address })
            .await?;
        if s.status != 0 || s.state != State::DnloadIdle {
            return Err(Error::CommandFailed {
                command,
                address,
                status: s.status,
                state: s.state,
            });
        }
        Ok(())
    }

    /// Sends one DNLOAD block and polls until the device has run it. A stall of the DNLOAD or of
    /// a poll is `rejected`: the Photon reports a failed command or write only as a stall.
    async fn download(
        &mut self,
        block: u16,
        payload: &[u8],
        rejected: Error,
    ) -> Result<StatusReply, Error> {
        let setup = self.setup(request::DNLOAD, block);
        let done = match self.wire().control_out(setup, payload).await {
            Ok(()) => self.poll_until_done().await,
            Err(e) => Err(e.into()),
        };
        match done {
            Err(Error::Transport(TransportError::Stall)) => Err(rejected),
            other => other,
        }
    }

    /// Asks the device which special commands it supports (UPLOAD block 0).
    pub async fn get_commands(&mut self) -> Result<Vec<u8>, Error> {
        self.go_idle().await?;
        let setup = self.setup(request::UPLOAD, 0);
        let reply = self.wire().control_in(setup, 32).await?;
        self.go_idle().await?;
        Ok(reply)
    }

    /// The sectors `[address, address + len)` covers, once the layout and the protected ranges
    /// allow `need` on all of them.
    fn check_range(&self, address: u32, len: usize, need: Need) -> Result<Vec<Sector>, Error> {
        let len32 = u32::try_from(len).map_err(|_| Error::OutOfRange { address, len })?;
        let sectors = self
            .facts
            .layout
            .sectors_in(address, len32)
            .map_err(|_| Error::OutOfRange { address, len })?;
        for s in &sectors {
            let at = s.start.max(address);
            let ok = match need {
                Need::Read => s.access.readable,
                Need::Write => s.access.writable,
            };
            if !ok {
                return Err(match need {
                    Need::Read => Error::NotReadable { address: at },
                    Need::Write => Error::NotWritable { address: at },
                });
            }
        }
        if need == Need::Write {
            let end = u64::from(address) + len as u64;
            if let Some(r) = self
                .protected
                .iter()
                .find(|r| u64::from(r.start) < end && r.end > address)
            {
                return Err(Error::Protected {
                    address: address.max(r.start),
                });
            }
        }
        Ok(sectors)
    }

    /// Reads `len` bytes from `address` (DfuSe upload).
    ///
    /// Blocks 2, 3, 4... each carry `wTransferSize` bytes, because the device computes
    /// `(block - 2) * wTransferSize + pointer` (dfuse-protocol.md, 7 and 8).
    pub async fn read(&mut self, address: u32, len: usize) -> Result<Vec<u8>, Error> {
        self.read_from(address, len, false).await
    }

    /// [`Dfu::read`], skipping the status request when `ready`: the caller's last transfer was a
    /// GETSTATUS that reported dfuDNLOAD-IDLE with status OK.
    async fn read_from(&mut self, address: u32, len: usize, ready: bool) -> Result<Vec<u8>, Error> {
        self.check_range(address, len, Need::Read)?;
        if len == 0 {
            return Ok(Vec::new());
        }
        if !ready {
            self.ready_for_download().await?;
        }
        self.command(Command::SetAddress, address).await?;
        self.simple(request::ABORT).await?;
        let xfer = usize::from(self.facts.functional.transfer_size);
        let mut out = Vec::with_capacity(len);
        let mut block: u16 = 2;
        while out.len() < len {
            let want = xfer.min(len - out.len());
            let setup = self.setup(request::UPLOAD, block);
            // `want` is at most wTransferSize, a u16.
            let chunk = self.wire().control_in(setup, want as u16).await?;
            let short = chunk.len() < want;
            out.extend_from_slice(&chunk[..chunk.len().min(want)]);
            if short {
                self.simple(request::ABORT).await?;
                return Err(Error::UploadEndedEarly {
                    address: address + out.len() as u32,
                    got: out.len(),
                    expected: len,
                });
            }
            block = block
                .checked_add(1)
                .ok_or(Error::OutOfRange { address, len })?;
        }
        self.simple(request::ABORT).await?;
        Ok(out)
    }

    /// Erases every erasable sector of a checked range, once each, by sending ERASE with the
    /// sector's start address. Sectors that are not erasable are skipped.
    async fn erase_sectors(&mut self, sectors: &[Sector]) -> Result<(), Error> {
        self.ready_for_download().await?;
        for s in sectors.iter().filter(|s| s.access.erasable) {
            self.command(Command::Erase, s.start).await?;
        }
        Ok(())
    }

    /// Writes `data` at `address` (DfuSe download), erasing first if asked. Any stall fails the
    /// write: the Photon reports a failed write only as a stall (dfuse-protocol.md, 9.4).
    pub async fn write(&mut self, address: u32, data: &[u8], erase: Erase) -> Result<(), Error> {
        let sectors = self.check_range(address, data.len(), Need::Write)?;
        if data.is_empty() {
            return Ok(());
        }
        if erase == Erase::Sectors {
            self.erase_sectors(&sectors).await?;
        } else {
            self.ready_for_download().await?;
        }
        // ERASE moves the address pointer, so set it after erasing.
        self.command(Command::SetAddress, address).await?;
        let xfer = usize::from(self.facts.functional.transfer_size);
        let mut block: u16 = 2;
        for (i, chunk) in data.chunks(xfer).enumerate() {
            let at = address + (i * xfer) as u32;
            let s = self
                .download(block, chunk, Error::WriteRejected { address: at })
                .await?;
            if s.status != 0 || s.state != State::DnloadIdle {
                return Err(Error::WriteFailed {
                    address: at,
                    status: s.status,
                    state: s.state,
                });
            }
            block = block.checked_add(1).ok_or(Error::OutOfRange {
                address,
                len: data.len(),
            })?;
        }
        Ok(())
    }

    /// Reads `expected.len()` bytes back from `address` and compares.
    pub async fn verify(&mut self, address: u32, expected: &[u8]) -> Result<(), Error> {
        self.verify_from(address, expected, false).await
    }

    /// [`Dfu::verify`], with `ready` as in [`Dfu::read_from`].
    async fn verify_from(
        &mut self,
        address: u32,
        expected: &[u8],
        ready: bool,
    ) -> Result<(), Error> {
        let got = self.read_from(address, expected.len(), ready).await?;
        match got.iter().zip(expected).position(|(g, e)| g != e) {
            None => Ok(()),
            Some(i) => Err(Error::VerifyMismatch {
                address: address + i as u32,
                expected: expected[i],
                got: got[i],
            }),
        }
    }

    /// Writes and then reads back: the only way to know a Photon write landed. A write that
    /// succeeds ends on a GETSTATUS reporting dfuDNLOAD-IDLE with status OK, so the read-back starts
    /// from there without asking for the status again.
    pub async fn write_verified(
        &mut self,
        address: u32,
        data: &[u8],
        erase: Erase,
    ) -> Result<(), Error> {
        self.write(address, data, erase).await?;
        self.verify_from(address, data, true).await
    }

    /// Leaves DFU mode: a zero-length DNLOAD, then one GETSTATUS.
    ///
    /// Success is dfuMANIFEST, dfuMANIFEST-WAIT-RESET, dfuDNLOAD-IDLE (what the Photon reports, to
    /// please dfu-util) or the device vanishing. With `jump_to`, the address pointer is set first
    /// (ST's reference bootloader jumps there; the Photon ignores it and resets).
    pub async fn leave(mut self, jump_to: Option<u32>) -> Result<LeaveOutcome, Error> {
        self.ready_for_download().await?;
        if let Some(address) = jump_to {
            self.command(Command::SetAddress, address).await?;
        }
        let setup = self.setup(request::DNLOAD, 2);
        self.wire().control_out(setup, &[]).await?;
        let mut patience = Patience::new(self.t.now_ms());
        loop {
            let s = match self.status().await {
                Ok(s) => s,
                Err(Error::Transport(
                    TransportError::Disconnected
                    | TransportError::Stall
                    | TransportError::Timeout
                    | TransportError::Other { .. },
                )) => return Ok(LeaveOutcome::Disconnected),
                Err(e) => return Err(e),
            };
            match s.state {
                State::Manifest | State::ManifestWaitReset | State::DnloadIdle if s.status == 0 => {
                    return Ok(LeaveOutcome::Reported(s.state));
                }
                State::ManifestSync | State::DnBusy => self.wait(&mut patience, s).await?,
                _ => {
                    return Err(Error::LeaveRefused {
                        state: s.state,
                        status: s.status,
                    });
                }
            }
        }
    }
}

/// Drops a DNLOAD an interrupted host left queued (DNLOAD sent, no GETSTATUS: a closed tab, a
/// crashed CLI), before a SET_INTERFACE or a GETSTATUS can run it.
///
/// The Gen 2 bootloader runs a queued DNLOAD when the next GETSTATUS has been answered
/// (`usbd_dfu_core.c` 863-875 and 597-663, Device OS v2.3.1) on whatever alternate is selected
/// then: SET_INTERFACE switches alternates in any state (578) and the ERASE or write uses the
/// current one (622, 648). An ERASE queued on alt 0 then fails on alt 1 and stalls (623-627).
/// GETSTATE only reads the state (948-954) and ABORT in dfuDNLOAD-SYNC drops the queued block
/// (978-987), so: GETSTATE first, ABORT if it says dfuDNLOAD-SYNC.
async fn drop_queued_download<T: Transport>(t: &mut T, interface: u8) -> Result<(), Error> {
    let index = u16::from(interface);
    let setup = ControlSetup::class_interface(request::GETSTATE, 0, index);
    let reply = match t.control_in(setup, 1).await {
        Ok(reply) => reply,
        // The Gen 3 bootloader has no GETSTATE transition in dfuDNBUSY or a manifest state (a
        // GET_COMMANDS sent as a DNLOAD leaves it in dfuDNBUSY for good): it stalls and enters
        // dfuERROR (`bootloader/src/nRF52840/usbd_dfu.cpp` 318-334), which runs nothing queued
        // and which the dirty start clears.
        Err(TransportError::Stall) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let Some(&state) = reply.first() else {
        return Err(Error::ShortReply {
            request: "GETSTATE",
            got: 0,
            expected: 1,
        });
    };
    if State::from_byte(state) == State::DnloadSync {
        let abort = ControlSetup::class_interface(request::ABORT, 0, index);
        t.control_out(abort, &[]).await?;
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    Read,
    Write,
}
