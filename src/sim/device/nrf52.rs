//! The DFU class requests as the Gen 3 bootloader (Argon, Boron) answers them: Particle's own
//! rewrite for the nRF52840, `bootloader/src/nRF52840/usbd_dfu.cpp` (Device OS v2.3.1; line numbers
//! below are of that file unless another is named). It differs from ST's machine (the Gen 2 and
//! Core personalities, in `mod.rs`) in ways a host can trip over:
//!
//! - Every request with no transition in the current state stalls *and* enters dfuERROR with
//!   errUNKNOWN (`setError`, 367-377): CLRSTATUS outside dfuERROR (301-316), ABORT or DETACH in
//!   dfuERROR, dfuDNBUSY or a manifest state (139-172, 336-356), GETSTATE in dfuDNBUSY or a
//!   manifest state (318-334), GETSTATUS in dfuDNBUSY or dfuMANIFEST-WAIT-RESET (242-299),
//!   DNLOAD or UPLOAD outside their idle states (174-240).
//! - A queued command or block runs once the dfuDNBUSY reply is sent (`inDone`, 423-502) and
//!   leaves dfuDNLOAD-IDLE at once, or dfuERROR when it fails: a failed write is not a stall but
//!   dfuERROR/errUNKNOWN at the next GETSTATUS. A GET_COMMANDS sent as a DNLOAD stays in dfuDNBUSY
//!   (431-433), so the next GETSTATUS stalls into dfuERROR.
//! - Mass erase is errTARGET (454-456), READ_UNPROTECT errUNKNOWN, any other command
//!   errSTALLEDPKT (467-470), a block-1 DNLOAD errTARGET (487-491). SET_ADDRESS takes any address.
//! - UPLOAD block 0 answers the three commands and returns to dfuIDLE whatever its length
//!   (206-214); block 1 stalls into dfuERROR (230-233).
//! - bwPollTimeout is always 0 (`usbd_dfu_mal.cpp` 93-96, 148-151, 218-221).
//! - Leaving: the zero-length DNLOAD enters dfuMANIFEST-SYNC, the GETSTATUS reports dfuMANIFEST,
//!   and once that reply is sent the state is dfuMANIFEST-WAIT-RESET with a 500-tick countdown
//!   (494-499, `usbd_dfu.h` 33-35) counted once per 1 ms SysTick (`bootloader/src/main.c` 506-538
//!   calling `checkReset`, 537-546). Any request in that state but a standard one moves the
//!   device to dfuERROR, which stops the countdown: the device then stays in DFU mode until it is
//!   reset by hand. A host must send nothing after the leave GETSTATUS.
//!
//! Unverified and kept as the ST machine has it: a DNLOAD or UPLOAD longer than the 4096-byte
//! buffer (the source passes `wLength` on unchecked; it stalls here).

use super::{BUFFER_LEN, ERR_UNKNOWN, RESET_COUNTDOWN_MS, SimDevice, request};
use crate::dfu::State;
use crate::usb::{ControlSetup, TransportError};

/// errTARGET: the command or address is not supported (DFU 1.1 table 6.2).
const ERR_TARGET: u8 = 0x01;
/// errSTALLEDPKT: an unsupported DfuSe command.
const ERR_STALLED_PKT: u8 = 0x0F;

impl SimDevice {
    /// `setError(st)`: dfuERROR with `status`, and the request stalls.
    fn nrf52_error<R>(&mut self, status: u8) -> Result<R, TransportError> {
        self.state = State::Error;
        self.status = status;
        self.pending.clear();
        self.manifest_pending = false;
        // A device counting down to its reset stops counting in dfuERROR (`checkReset`).
        if self.reset_at_ms.take().is_some() {
            self.left_dfu = false;
        }
        Err(TransportError::Stall)
    }

    pub(super) fn nrf52_class_in(
        &mut self,
        setup: ControlSetup,
        len: u16,
    ) -> Result<Vec<u8>, TransportError> {
        match setup.request {
            request::GETSTATUS => self.nrf52_get_status(),
            request::GETSTATE => match self.state {
                State::DnBusy | State::Manifest | State::ManifestWaitReset => {
                    self.nrf52_error(ERR_UNKNOWN)
                }
                state => Ok(vec![state.to_byte()]),
            },
            request::UPLOAD => self.nrf52_upload(setup.value, usize::from(len)),
            _ => Err(TransportError::Stall),
        }
    }

    pub(super) fn nrf52_class_out(
        &mut self,
        setup: ControlSetup,
        data: &[u8],
    ) -> Result<(), TransportError> {
        // The states ABORT and DETACH have a transition from (139-172, 336-356).
        let abortable = matches!(
            self.state,
            State::DfuIdle
                | State::DnloadSync
                | State::DnloadIdle
                | State::ManifestSync
                | State::UploadIdle
        );
        match setup.request {
            request::DNLOAD => {
                if !matches!(self.state, State::DfuIdle | State::DnloadIdle) {
                    return self.nrf52_error(ERR_UNKNOWN);
                }
                if data.len() > BUFFER_LEN.min(self.xfer()) {
                    return Err(TransportError::Stall);
                }
                if data.is_empty() {
                    self.manifest_pending = true;
                    self.state = State::ManifestSync;
                } else {
                    self.pending = data.to_vec();
                    self.block = setup.value;
                    self.state = State::DnloadSync;
                }
                Ok(())
            }
            request::CLRSTATUS if self.state == State::Error => {
                self.state = State::DfuIdle;
                self.status = 0;
                Ok(())
            }
            request::CLRSTATUS => self.nrf52_error(ERR_UNKNOWN),
            request::ABORT if abortable => {
                self.state = State::DfuIdle;
                self.status = 0;
                self.pending.clear();
                self.block = 0;
                self.manifest_pending = false;
                Ok(())
            }
            request::DETACH if abortable => {
                // Detach and attach again: this USB device object is gone (153-161).
                self.state = State::DfuIdle;
                self.disconnected = true;
                Ok(())
            }
            request::ABORT | request::DETACH => self.nrf52_error(ERR_UNKNOWN),
            _ => Err(TransportError::Stall),
        }
    }

    fn nrf52_get_status(&mut self) -> Result<Vec<u8>, TransportError> {
        match self.state {
            State::DnloadSync if !self.pending.is_empty() => {
                // The reply (dfuDNBUSY, bwPollTimeout 0) goes out; then `inDone` runs the request.
                let reply = self.status_reply(State::DnBusy, self.faults.poll_timeout_ms);
                self.state = State::DnBusy;
                self.nrf52_run_queued();
                if self.state == State::DnloadIdle && self.faults.busy_polls > 0 {
                    // The busy fault: more dfuDNBUSY replies before the result shows.
                    self.busy_left = self.faults.busy_polls;
                    self.state = State::DnBusy;
                }
                Ok(reply)
            }
            State::DnBusy if self.busy_left > 0 => {
                self.busy_left -= 1;
                if self.busy_left == 0 {
                    self.state = State::DnloadIdle;
                }
                Ok(self.status_reply(State::DnBusy, self.faults.poll_timeout_ms))
            }
            State::ManifestSync if self.manifest_pending => {
                self.manifest_pending = false;
                self.status = 0;
                // Reported as dfuMANIFEST; once sent, dfuMANIFEST-WAIT-RESET and the countdown.
                let reply = self.status_reply(State::Manifest, 0);
                self.state = State::ManifestWaitReset;
                self.left_dfu = true;
                self.reset_at_ms = Some(self.now_ms + RESET_COUNTDOWN_MS);
                Ok(reply)
            }
            State::DnBusy | State::ManifestWaitReset => self.nrf52_error(ERR_UNKNOWN),
            state => Ok(self.status_reply(state, 0)),
        }
    }

    /// `inDone` in dfuDNBUSY: runs the queued special command or block (423-493).
    fn nrf52_run_queued(&mut self) {
        let data = std::mem::take(&mut self.pending);
        let block = std::mem::take(&mut self.block);
        let outcome = match block {
            0 => {
                if let Some(&first) = data.first() {
                    self.commands.push((first, super::address_of(&data)));
                }
                let refused = self
                    .faults
                    .stall_on_command
                    .is_some_and(|c| data.first() == Some(&c));
                match (data.first(), data.len()) {
                    // GET_COMMANDS: nothing happens and the state stays dfuDNBUSY.
                    (Some(0x00), _) => return,
                    _ if refused => Err(ERR_UNKNOWN),
                    (Some(0x21), 5) => {
                        self.pointer = super::address_of(&data);
                        Ok(())
                    }
                    (Some(0x41), 5) => {
                        // The erase takes its address from the command and leaves the pointer.
                        if self.erase(super::address_of(&data)) {
                            Ok(())
                        } else {
                            Err(ERR_UNKNOWN)
                        }
                    }
                    (Some(0x41), 1) => Err(ERR_TARGET),
                    (Some(0x21 | 0x41 | 0x92), _) => Err(ERR_UNKNOWN),
                    _ => Err(ERR_STALLED_PKT),
                }
            }
            1 => Err(ERR_TARGET),
            block => {
                if let Some(status) = self.faults.error_on_write {
                    Err(status)
                } else if self.faults.stall_on_write {
                    Err(ERR_UNKNOWN)
                } else if self.write(self.block_address(block), &data) {
                    Ok(())
                } else {
                    Err(ERR_UNKNOWN)
                }
            }
        };
        match outcome {
            Ok(()) => {
                self.state = State::DnloadIdle;
                self.status = 0;
            }
            // `setError` from `inDone`: the stall hits no request (the status stage is over);
            // the host sees dfuERROR at its next GETSTATUS.
            Err(status) => {
                self.state = State::Error;
                self.status = status;
            }
        }
    }

    fn nrf52_upload(&mut self, block: u16, len: usize) -> Result<Vec<u8>, TransportError> {
        if !matches!(self.state, State::DfuIdle | State::UploadIdle) {
            return self.nrf52_error(ERR_UNKNOWN);
        }
        match block {
            0 => {
                self.state = State::DfuIdle;
                Ok(vec![0x00, 0x21, 0x41])
            }
            1 => self.nrf52_error(ERR_UNKNOWN),
            _ if len > BUFFER_LEN.min(self.xfer()) => Err(TransportError::Stall),
            _ => {
                let protected =
                    self.alt_kind() == super::MemoryKind::Gen3Dct && self.faults.device_protection;
                match self.read(self.block_address(block), len) {
                    Some(bytes) if !protected => {
                        self.state = State::UploadIdle;
                        Ok(bytes)
                    }
                    _ => self.nrf52_error(ERR_UNKNOWN),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dfu::StatusReply;
    use crate::sim::device::Platform;
    use crate::usb::Transport;
    use futures_executor::block_on;

    fn class(request: u8, value: u16) -> ControlSetup {
        ControlSetup::class_interface(request, value, 0)
    }

    fn argon() -> SimDevice {
        SimDevice::builder(Platform::Argon).build()
    }

    fn status(dev: &mut SimDevice) -> Result<(u8, State, u32), TransportError> {
        let r = StatusReply::parse(&dev.handle_in(class(request::GETSTATUS, 0), 6)?).unwrap();
        Ok((r.status, r.state, r.poll_timeout_ms))
    }

    fn dnload(dev: &mut SimDevice, block: u16, data: &[u8]) -> Result<(), TransportError> {
        dev.handle_out(class(request::DNLOAD, block), data)
    }

    fn set_address(address: u32) -> Vec<u8> {
        let mut c = vec![0x21];
        c.extend_from_slice(&address.to_le_bytes());
        c
    }

    #[test]
    fn requests_without_a_transition_stall_into_dfu_error() {
        // CLRSTATUS outside dfuERROR: a stall, not the Photon's silent errUNKNOWN.
        let mut dev = argon();
        let clr = class(request::CLRSTATUS, 0);
        assert_eq!(dev.handle_out(clr, &[]), Err(TransportError::Stall));
        assert_eq!((dev.state(), dev.status()), (State::Error, ERR_UNKNOWN));
        // ABORT cannot leave dfuERROR (it stalls and stays); CLRSTATUS can.
        let abort = class(request::ABORT, 0);
        assert_eq!(dev.handle_out(abort, &[]), Err(TransportError::Stall));
        assert_eq!(dev.state(), State::Error);
        dev.handle_out(clr, &[]).unwrap();
        assert_eq!((dev.state(), dev.status()), (State::DfuIdle, 0));
        // DNLOAD outside its idle states.
        dnload(&mut dev, 0, &set_address(0x000D_4000)).unwrap();
        status(&mut dev).unwrap();
        dev.handle_out(class(request::ABORT, 0), &[]).unwrap();
        dev.handle_in(class(request::UPLOAD, 2), 16).unwrap();
        assert_eq!(dev.state(), State::UploadIdle);
        assert_eq!(dnload(&mut dev, 2, &[0; 4]), Err(TransportError::Stall));
        assert_eq!(dev.state(), State::Error);
    }

    #[test]
    fn a_command_runs_after_the_busy_reply_and_leaves_dnload_idle_at_once() {
        let mut dev = argon();
        dnload(&mut dev, 0, &set_address(0x000D_4000)).unwrap();
        assert_eq!(status(&mut dev), Ok((0, State::DnBusy, 0)));
        assert_eq!(dev.pointer, 0x000D_4000);
        assert_eq!(dev.state(), State::DnloadIdle);
        assert_eq!(
            dev.handle_in(class(request::GETSTATE, 0), 1).unwrap(),
            [State::DnloadIdle.to_byte()]
        );
        assert_eq!(status(&mut dev), Ok((0, State::DnloadIdle, 0)));
    }

    #[test]
    fn get_commands_as_a_dnload_stays_busy_and_the_next_poll_stalls() {
        let mut dev = argon();
        dnload(&mut dev, 0, &[0x00]).unwrap();
        assert_eq!(status(&mut dev), Ok((0, State::DnBusy, 0)));
        assert_eq!(dev.state(), State::DnBusy);
        assert_eq!(status(&mut dev), Err(TransportError::Stall));
        assert_eq!((dev.state(), dev.status()), (State::Error, ERR_UNKNOWN));
    }

    #[test]
    fn command_errors_are_the_sources_codes() {
        for (command, expected) in [
            (vec![0x41], ERR_TARGET),
            (vec![0x92], ERR_UNKNOWN),
            (vec![0x21, 0, 0], ERR_UNKNOWN),
            (vec![0x55, 0, 0, 0, 0], ERR_STALLED_PKT),
        ] {
            let mut dev = argon();
            dnload(&mut dev, 0, &command).unwrap();
            // The busy reply goes out; the failure shows at the next GETSTATUS, without a stall.
            assert_eq!(
                status(&mut dev),
                Ok((0, State::DnBusy, 0)),
                "{command:02x?}"
            );
            assert_eq!(
                status(&mut dev),
                Ok((expected, State::Error, 0)),
                "{command:02x?}"
            );
        }
        let mut dev = argon();
        dnload(&mut dev, 1, &[0; 8]).unwrap();
        status(&mut dev).unwrap();
        assert_eq!(status(&mut dev), Ok((ERR_TARGET, State::Error, 0)));
    }

    #[test]
    fn a_failed_write_is_dfu_error_at_the_next_poll_not_a_stall() {
        let mut dev = SimDevice::builder(Platform::Argon).stall_on_write().build();
        dnload(&mut dev, 0, &set_address(0x000D_4000)).unwrap();
        status(&mut dev).unwrap();
        dnload(&mut dev, 2, &[0xAA; 16]).unwrap();
        assert_eq!(status(&mut dev), Ok((0, State::DnBusy, 0)));
        assert_eq!(status(&mut dev), Ok((ERR_UNKNOWN, State::Error, 0)));
    }

    #[test]
    fn upload_block_0_returns_to_idle_and_block_1_stalls_into_error() {
        let mut dev = argon();
        assert_eq!(
            dev.handle_in(class(request::UPLOAD, 0), 3).unwrap(),
            [0x00, 0x21, 0x41]
        );
        assert_eq!(dev.state(), State::DfuIdle);
        assert_eq!(
            dev.handle_in(class(request::UPLOAD, 1), 16),
            Err(TransportError::Stall)
        );
        assert_eq!((dev.state(), dev.status()), (State::Error, ERR_UNKNOWN));
    }

    #[test]
    fn leave_reports_manifest_then_resets_after_500_ms_if_left_alone() {
        let mut dev = argon();
        dnload(&mut dev, 0, &[]).unwrap();
        assert_eq!(status(&mut dev), Ok((0, State::Manifest, 0)));
        assert_eq!(dev.state(), State::ManifestWaitReset);
        assert!(dev.left_dfu());
        block_on(dev.sleep(499));
        assert!(!dev.disconnected());
        block_on(dev.sleep(1));
        assert!(dev.disconnected());
    }

    #[test]
    fn a_request_after_the_leave_status_stops_the_reset() {
        for request in [request::GETSTATUS, request::GETSTATE] {
            let mut dev = argon();
            dnload(&mut dev, 0, &[]).unwrap();
            status(&mut dev).unwrap();
            assert_eq!(
                dev.handle_in(class(request, 0), 6),
                Err(TransportError::Stall)
            );
            assert_eq!(dev.state(), State::Error);
            block_on(dev.sleep(10_000));
            assert!(!dev.disconnected(), "request {request}: stays in DFU mode");
            assert!(!dev.left_dfu());
        }
    }
}
