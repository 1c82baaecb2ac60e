//! The orchestrator: identify, diagnose, back up, plan, repair, verify.
//!
//! This is the part that decides what to do to a user's device. It drives the DFU host
//! (`crate::dfu`), the key code (`crate::keys`) and the cloud client (`crate::cloud::CloudApi`)
//! through their traits, reports progress through a callback of [`DoctorEvent`]s, and can be
//! cancelled between steps with a [`CancelFlag`]. It knows nothing of signals or the DOM and must not
//! import `web_sys`, `leptos` or `gloo`.
//!
//! Safety rules it enforces in code, not by convention:
//! - nothing is written before the bytes of every region the repair touches are backed up;
//! - every write is read back and compared, and a failed write is rolled back from the backup;
//! - the public key sent to the cloud is derived from the key read back from the device, never from
//!   the key in memory;
//! - a step that fails says what happened, why, and what the user does next (`hint`).

mod advanced;
pub use advanced::{Command, CommandOutcome, product_field, server_address};
mod backup;
mod error;
pub mod led;
pub mod link;
mod normal_mode;
mod plan;
mod repair;
pub mod report;
mod running;
mod session;
mod slots;
pub mod wizard;

pub use normal_mode::{
    BUSY_PENDING_MS, Fallback, PathChoice, RuntimeDoctor, RuntimeVerify, WITNESS_APPEARS_WITHIN_MS,
    WITNESS_PENDING_MS, device_witness,
};
pub use slots::{
    DfuSlots, KeySlots, RepairPath, RuntimeSlots, Slot, SlotFuture, WriteFailure, slot_containing,
    write_checked, write_verified,
};

pub use backup::{Backup, BackupFile, BackupRegion};
pub use error::{AfterFailure, DoctorError, RestoreOutcome};
pub use plan::{Action, CloudAccess, Plan, PlanBlock, PlanOptions, ServerChoice, plan};
pub use running::{
    Connected, DFU_APPEARS_WITHIN_S, EnterDfuOutcome, IDENTIFY_PENDING_MS, MAX_RESET_WAIT_MS,
    NextStep, RESET_POLL_MS, RunningDevice, RunningFacts, SwitchTicket, connect_any,
};
pub use session::{
    CloudContext, CloudDeviceSummary, Diagnosis, Doctor, Identity, OnlineWait, RepairReport,
    SendOutcome, VerifyOutcome,
};

use serde::Serialize;
use std::cell::Cell;
use std::rc::Rc;

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

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// Progress the orchestrator reports while it works.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum DoctorEvent {
    /// A step started.
    Step(Step),
    /// Bytes moved in the current transfer-heavy operation.
    Progress { done: u32, total: u32 },
    /// A line for the live log. Never contains secret bytes.
    Log(String),
}

/// Shared between the UI and a running doctor: set it to stop before the next step. A step that
/// has started writing finishes (or rolls back) first, so cancelling never leaves a half-written key.
#[derive(Debug, Clone, Default)]
pub struct CancelFlag(Rc<Cell<bool>>);

impl CancelFlag {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn cancel(&self) {
        self.0.set(true);
    }

    pub fn reset(&self) {
        self.0.set(false);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_flag_is_shared_between_clones() {
        let flag = CancelFlag::new();
        let ui_side = flag.clone();
        assert!(!flag.is_cancelled());
        ui_side.cancel();
        assert!(flag.is_cancelled());
        flag.reset();
        assert!(!ui_side.is_cancelled());
    }
}
