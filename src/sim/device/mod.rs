//! Simulated DFU bootloaders answering at the level of control transfers.
//!
//! Behaviour follows the Photon bootloader of Device OS v2.3.1 (dfuse-protocol.md, 9).

use crate::dfu::{State, StatusReply, request};
use crate::usb::{ControlSetup, Recipient, RequestType, Transport, TransportError};

/// A simulated Photon in DFU mode.
#[derive(Debug, Clone)]
pub struct SimDevice {
    state: State,
    status: u8,
    transfers: u32,
}

impl SimDevice {
    /// A Photon that has just entered DFU mode (dfuIDLE, status OK).
    pub fn photon() -> Self {
        Self {
            state: State::DfuIdle,
            status: 0,
            transfers: 0,
        }
    }

    /// A Photon left in `state` by an earlier, interrupted session ("dirty start").
    pub fn photon_in_state(state: State) -> Self {
        Self {
            state,
            ..Self::photon()
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// Control transfers answered so far.
    pub fn transfers(&self) -> u32 {
        self.transfers
    }

    fn is_dfu_request(setup: &ControlSetup) -> bool {
        setup.request_type == RequestType::Class && setup.recipient == Recipient::Interface
    }
}

impl Transport for SimDevice {
    async fn control_in(
        &mut self,
        setup: ControlSetup,
        len: u16,
    ) -> Result<Vec<u8>, TransportError> {
        self.transfers += 1;
        if !Self::is_dfu_request(&setup) {
            return Err(TransportError::Stall);
        }
        match setup.request {
            request::GETSTATUS => {
                let reply = StatusReply {
                    status: self.status,
                    poll_timeout_ms: 0,
                    state: self.state,
                };
                Ok(reply.to_bytes()[..usize::from(len.min(6))].to_vec())
            }
            request::GETSTATE => Ok(vec![self.state.to_byte()]),
            _ => Err(TransportError::Stall),
        }
    }

    async fn control_out(
        &mut self,
        setup: ControlSetup,
        _data: &[u8],
    ) -> Result<(), TransportError> {
        self.transfers += 1;
        if !Self::is_dfu_request(&setup) {
            return Err(TransportError::Stall);
        }
        match setup.request {
            // The Photon does not stall a CLRSTATUS outside dfuERROR: it enters dfuERROR with
            // errUNKNOWN (dfuse-protocol.md 9.3), a trap for hosts that clear status blindly.
            request::CLRSTATUS if self.state == State::Error => {
                self.state = State::DfuIdle;
                self.status = 0;
            }
            request::CLRSTATUS => {
                self.state = State::Error;
                self.status = 0x0E;
            }
            request::ABORT => {
                if matches!(
                    self.state,
                    State::DfuIdle
                        | State::DnloadSync
                        | State::DnloadIdle
                        | State::ManifestSync
                        | State::UploadIdle
                ) {
                    self.state = State::DfuIdle;
                    self.status = 0;
                }
            }
            _ => return Err(TransportError::Stall),
        }
        Ok(())
    }

    async fn sleep(&mut self, _ms: u32) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_executor::block_on;

    fn clrstatus() -> ControlSetup {
        ControlSetup::class_interface(request::CLRSTATUS, 0, 0)
    }

    #[test]
    fn clrstatus_outside_error_is_the_photon_trap() {
        let mut dev = SimDevice::photon();
        block_on(dev.control_out(clrstatus(), &[])).unwrap();
        assert_eq!(dev.state(), State::Error);
        let reply = block_on(crate::dfu::get_status(&mut dev, 0)).unwrap();
        assert_eq!((reply.status, reply.state), (0x0E, State::Error));
        block_on(dev.control_out(clrstatus(), &[])).unwrap();
        assert_eq!(dev.state(), State::DfuIdle);
    }

    #[test]
    fn abort_does_not_leave_dfu_error() {
        let mut dev = SimDevice::photon_in_state(State::Error);
        block_on(dev.control_out(ControlSetup::class_interface(request::ABORT, 0, 0), &[]))
            .unwrap();
        assert_eq!(dev.state(), State::Error);
        assert_eq!(dev.transfers(), 1);
    }
}
