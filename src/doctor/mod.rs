//! The orchestrator: identify, diagnose, back up, plan, repair, verify.
//!
//! Generic over the transport and the cloud client; reports progress through a callback of
//! [`DoctorEvent`]s and knows nothing of signals or the DOM. The UI renders the events.

use crate::dfu::{self, State};
use crate::usb::Transport;
use serde::Serialize;
use thiserror::Error;

/// The steps of a repair, in order, as the page shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Step {
    Connect,
    Diagnose,
    BackUp,
    Plan,
    Repair,
    Verify,
}

impl Step {
    pub const ALL: [Step; 6] = [
        Step::Connect,
        Step::Diagnose,
        Step::BackUp,
        Step::Plan,
        Step::Repair,
        Step::Verify,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Step::Connect => "Connect",
            Step::Diagnose => "Diagnose",
            Step::BackUp => "Back up",
            Step::Plan => "Plan",
            Step::Repair => "Repair",
            Step::Verify => "Verify",
        }
    }
}

/// Progress the orchestrator reports while it works.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum DoctorEvent {
    Step(Step),
    Progress { done: u32, total: u32 },
    Log(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DoctorError {
    #[error(transparent)]
    Dfu(#[from] dfu::Error),
}

impl DoctorError {
    pub fn hint(&self) -> &'static str {
        match self {
            Self::Dfu(e) => e.hint(),
        }
    }
}

/// Asks a connected device for its DFU state: the first thing every session does.
pub async fn probe<T: Transport>(
    transport: &mut T,
    on_event: &mut impl FnMut(DoctorEvent),
) -> Result<State, DoctorError> {
    on_event(DoctorEvent::Step(Step::Connect));
    let status = dfu::get_status(transport, 0).await?;
    on_event(DoctorEvent::Log(format!(
        "device reports {:?} (status {}, poll timeout {} ms)",
        status.state, status.status, status.poll_timeout_ms
    )));
    Ok(status.state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::device::SimDevice;
    use futures_executor::block_on;

    #[test]
    fn probe_reports_the_simulated_photon_state_and_logs_it() {
        let mut dev = SimDevice::photon_in_state(State::DnloadIdle);
        let mut events = Vec::new();
        let state = block_on(probe(&mut dev, &mut |e| events.push(e))).unwrap();
        assert_eq!(state, State::DnloadIdle);
        assert_eq!(events[0], DoctorEvent::Step(Step::Connect));
        assert!(matches!(&events[1], DoctorEvent::Log(l) if l.contains("DnloadIdle")));
        assert_eq!(dev.transfers(), 1);
    }
}
