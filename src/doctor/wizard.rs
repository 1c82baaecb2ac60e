//! The page's repair wizard, decided here and rendered by `ui/steps`: which step is open, what the
//! step indicator marks done, current or upcoming, where Back goes, and which buttons can work now.
//!
//! Pure: the page hands over what it holds ([`Facts`]) and renders the answer, so every rule is
//! tested natively (`tests/ui_logic.rs`).

use super::Step;

/// What the page holds, as the wizard reads it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Facts {
    /// A device is open (in DFU mode).
    pub connected: bool,
    /// The device said who it is (it may have disconnected since).
    pub identified: bool,
    pub diagnosed: bool,
    pub backed_up: bool,
    /// A plan is held and [`crate::doctor::Plan::can_run`] says yes.
    pub plan_can_run: bool,
    /// Repair was pressed (it may have failed).
    pub repair_started: bool,
    /// The repair finished: its report is held.
    pub repaired: bool,
    /// The device left DFU mode and the verification finished (online or not).
    pub verified: bool,
    /// A step runs.
    pub busy: bool,
    /// A failed write left the device to be reconnected (then retried or restored).
    pub needs_reconnect: bool,
}

/// How the step indicator shows a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Done,
    Current,
    Upcoming,
}

/// The furthest step the facts let the user open.
pub fn furthest(f: &Facts) -> Step {
    if f.repaired || f.verified {
        Step::Verify
    } else if f.repair_started {
        Step::Repair
    } else if f.backed_up {
        Step::Plan
    } else if f.diagnosed {
        Step::BackUp
    } else if f.identified {
        Step::Diagnose
    } else {
        Step::Connect
    }
}

fn index(s: Step) -> usize {
    Step::ALL.iter().position(|x| *x == s).unwrap_or(0)
}

/// The step that is open: the one that runs while the page works, otherwise the one the user
/// moved to (`chosen`), never past what the facts allow.
pub fn open(f: &Facts, running: Option<Step>, chosen: Step) -> Step {
    match running {
        Some(s) if f.busy => s,
        _ if index(chosen) <= index(furthest(f)) => chosen,
        _ => furthest(f),
    }
}

/// Whether `step` is finished by the facts.
pub fn done(f: &Facts, step: Step) -> bool {
    match step {
        Step::Connect => f.identified,
        Step::Diagnose => f.diagnosed,
        Step::BackUp => f.backed_up,
        // After a reconnect the plan is read again: not done until then.
        Step::Plan => f.repair_started && f.backed_up,
        Step::Repair => f.repaired,
        Step::Verify => f.verified,
    }
}

/// The indicator's mark for `step` when `open` is open.
pub fn mark(f: &Facts, step: Step, open: Step) -> Mark {
    if step == open {
        Mark::Current
    } else if done(f, step) && index(step) < index(open) {
        Mark::Done
    } else {
        Mark::Upcoming
    }
}

/// The step "Continue" opens from `open`: Diagnose and Back up wait for the user to read them.
pub fn next(f: &Facts, open: Step) -> Option<Step> {
    let to = match open {
        Step::Diagnose if f.diagnosed => Step::BackUp,
        Step::BackUp if f.backed_up => Step::Plan,
        _ => return None,
    };
    (!f.busy).then_some(to)
}

/// Where "Back" goes from `open`, where going back is safe: before anything was written.
pub fn back(f: &Facts, open: Step) -> Option<Step> {
    let to = match open {
        Step::BackUp => Step::Diagnose,
        Step::Plan => Step::BackUp,
        _ => return None,
    };
    (!f.busy && !f.repair_started).then_some(to)
}

/// Whether "Connect device" can work now.
pub fn can_connect(f: &Facts, simulated_device_starting: bool) -> bool {
    !f.busy && !simulated_device_starting
}

/// Whether "Repair" can work now: a connected device, a plan that can run, not yet carried out,
/// and no failed write waiting for a reconnect.
pub fn can_repair(f: &Facts) -> bool {
    f.connected && f.plan_can_run && !f.busy && !f.repair_started && !f.needs_reconnect
}

/// The one primary action of the cable-pulled recovery (a write failed and could not be undone,
/// or its outcome is unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// First plug the device back in (DFU mode) and press Reconnect: the page reads the slots back.
    Reconnect,
    /// The slots differ from the backup: Restore backup.
    Restore,
    /// The slots were not changed: Repair again.
    Retry,
}

/// The next step of the recovery after a failed write: `changed` is what the read-back found
/// (`None` before it ran).
pub fn recovery(f: &Facts, changed: Option<bool>) -> Recovery {
    match changed {
        _ if !f.connected => Recovery::Reconnect,
        Some(true) => Recovery::Restore,
        Some(false) => Recovery::Retry,
        None if f.needs_reconnect => Recovery::Reconnect,
        None => Recovery::Retry,
    }
}

/// The one line a finished Diagnose step shows: the titles of the lines that found a problem,
/// then those it could not confirm (a custom server, the cloud while signed out), so the line
/// never says "no problem" about what the plan may still change.
pub fn diagnosis_summary(lines: &[super::report::Line]) -> String {
    use super::report::Verdict;
    let titles = |verdict: Verdict| {
        lines
            .iter()
            .filter(|l| l.verdict == verdict)
            .map(|l| l.title)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (problems, unknown) = (titles(Verdict::Problem), titles(Verdict::Unknown));
    let head = if problems.is_empty() {
        "no problem found in the key slots".to_owned()
    } else {
        format!("problem: {problems}")
    };
    if unknown.is_empty() {
        format!("{head}.")
    } else {
        format!("{head}; to check: {unknown}.")
    }
}

/// The one line a finished Plan step shows.
pub fn plan_summary(actions: usize) -> String {
    match actions {
        0 => "nothing to change.".to_owned(),
        1 => "1 change.".to_owned(),
        n => format!("{n} changes."),
    }
}

/// One key slot (or the cloud) on the success screen: what the diagnosis found, and what the
/// repair left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotChange {
    pub title: &'static str,
    pub before: String,
    pub after: &'static str,
}

/// Each diagnosed line before the repair → after it, from the repair's report: `written` names
/// the regions written and verified (`RepairReport::written`), `sent` whether the cloud got the key.
pub fn slot_changes(
    lines: &[super::report::Line],
    written: &[&str],
    sent: bool,
) -> Vec<SlotChange> {
    let wrote = |what: &str| written.contains(&what);
    lines
        .iter()
        .map(|l| {
            let after = match l.title {
                "Device private key" if wrote("device private key") => {
                    "a new key, written and read back"
                }
                "Cloud server key" | "Cloud server address" if wrote("server key") => {
                    "written and read back"
                }
                "Particle cloud" if sent => "holds the device's public key",
                "Particle cloud" => "the key was not sent",
                _ => "unchanged",
            };
            SlotChange {
                title: l.title,
                before: format!("{}: {}", l.verdict.word(), l.text),
                after,
            }
        })
        .collect()
}

/// What the Connect step offers for a device picked in normal mode (running its firmware).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Switch {
    /// The repair runs over control requests in normal mode: nothing to switch.
    NotNeeded,
    /// "Put it in DFU mode for me" (request 50), with the reason the repair needs DFU mode.
    Offer { reason: String },
    /// The device is restarting in DFU mode: the browser's second prompt. `reset` is false when
    /// it took the request but was still on the bus after the wait (it may still show up).
    SecondPrompt { reset: bool },
    /// Request 50 was refused (old firmware, a stall) and the browser has Web Serial: the
    /// 14400-baud serial-port path.
    SerialPort,
    /// Only the buttons are left, with what went wrong before.
    Buttons { why: String },
}

/// The Connect step's next offer after `RuntimeDoctor::choose` gave the device back for DFU mode.
pub fn offer_dfu(fallback: &super::Fallback) -> Switch {
    Switch::Offer {
        reason: fallback.reason.clone(),
    }
}

/// The Connect step's next offer after asking the device to enter DFU mode (request 50, or the
/// serial port at 14400 baud): the second prompt, then the serial port (only where the browser
/// has Web Serial), then the buttons.
pub fn after_enter(outcome: &super::EnterDfuOutcome, web_serial: bool) -> Switch {
    use super::{EnterDfuOutcome as O, NextStep};
    match outcome.next() {
        NextStep::SecondPrompt => Switch::SecondPrompt {
            reset: matches!(outcome, O::Switched { .. }),
        },
        NextStep::SerialPort if web_serial => Switch::SerialPort,
        NextStep::SerialPort => Switch::Buttons {
            why: "The device's firmware did not take the request, and this browser has no Web \
                  Serial for the other way in."
                .into(),
        },
        NextStep::Buttons => Switch::Buttons {
            why: match outcome {
                O::Refused { error, .. } => format!("The device refused the request: {error}."),
                O::SerialFailed {
                    cancelled: true, ..
                } => "No serial port was picked.".into(),
                O::SerialFailed { error, .. } => format!("The serial port failed: {error}."),
                _ => String::new(),
            },
        },
    }
}

/// The id of the control that gets the focus once `switch` is shown.
pub fn switch_focus(switch: &Switch) -> Option<&'static str> {
    match switch {
        Switch::NotNeeded => None,
        Switch::Offer { .. } => Some("enter-dfu"),
        Switch::SecondPrompt { .. } => Some("second-prompt"),
        Switch::SerialPort => Some("serial-dfu"),
        Switch::Buttons { .. } => Some("connect"),
    }
}

/// How to put `platform` in DFU mode with its buttons, as the user sees the device.
pub fn dfu_buttons(platform: crate::device::Platform) -> &'static str {
    use crate::device::Platform as P;
    match platform {
        P::Photon | P::Electron => {
            "Hold the SETUP button (left of the USB socket on the Photon), tap RESET, and keep \
             holding SETUP: the LED blinks magenta, then yellow. Release SETUP when it blinks \
             yellow."
        }
        P::P1 => {
            "On the P1's board, hold SETUP, tap RESET, and keep holding SETUP: the LED blinks \
             magenta, then yellow. Release SETUP when it blinks yellow."
        }
        P::Core => {
            "Hold the MODE button, tap RST, and keep holding MODE until the LED blinks yellow, \
             then release it."
        }
        _ => {
            "Hold the MODE button (beside the USB socket), tap RESET, and keep holding MODE: the \
             LED blinks magenta, then yellow. Release MODE when it blinks yellow."
        }
    }
}

/// A field of the advanced panel's custom server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerField {
    Host,
    Port,
    KeyFile,
}

impl ServerField {
    /// The id of the field's input (the focus goes there).
    pub fn id(self) -> &'static str {
        match self {
            Self::Host => "server-host",
            Self::Port => "server-port",
            Self::KeyFile => "server-file",
        }
    }
}

/// Checks the custom server's fields before anything is read or written: a host (a dotted IPv4
/// address or a domain name, as the CLI encodes it), a port from 1 to 65535 or none (the
/// default), and a key file (the key file itself is parsed by `Doctor::server_region` before the
/// confirmation). `Err` names the field and says what to enter.
pub fn check_custom_server(
    host: &str,
    port: &str,
    key_file_picked: bool,
) -> Result<crate::keys::ServerAddressSpec, (ServerField, &'static str)> {
    let (host, port) = (host.trim(), port.trim());
    if host.is_empty() {
        return Err((
            ServerField::Host,
            "Enter the server's host name or IPv4 address, such as 192.168.1.10 or cloud.example.com.",
        ));
    }
    if crate::keys::server::address_bytes(host).is_err() {
        return Err((
            ServerField::Host,
            "This is not a host name or an IPv4 address: use letters, digits, dots and hyphens, or four numbers from 0 to 255.",
        ));
    }
    let port = match port {
        "" => None,
        text => match text.parse::<u16>() {
            Ok(p) if p >= 1 => Some(p),
            _ => {
                return Err((
                    ServerField::Port,
                    "Enter a port from 1 to 65535, or leave it empty for the default.",
                ));
            }
        },
    };
    if !key_file_picked {
        return Err((
            ServerField::KeyFile,
            "Pick the server's public key file (DER or PEM): a custom server has its own key.",
        ));
    }
    Ok(crate::keys::ServerAddressSpec::Host {
        host: host.to_owned(),
        port,
    })
}

/// The question the advanced panel asks before a command that writes to the device, or `None`
/// for a command that only reads (or only talks to the cloud).
pub fn confirmation(command: &super::Command) -> Option<&'static str> {
    use super::Command;
    match command {
        Command::LoadKeyFile { .. } => Some(
            "Write the key from this file to the device? It replaces the device's private key \
             (the backup keeps the current one).",
        ),
        Command::NewKey => Some(
            "Write a new key pair to the device? It replaces the device's private key (the \
             backup keeps the current one); the cloud needs the new public key afterwards.",
        ),
        Command::WriteServer { .. } => Some(
            "Write this server key and address to the device? The device then connects only to \
             that server.",
        ),
        Command::SaveKey | Command::SendKey { .. } | Command::ReadAddress | Command::DumpFlash => {
            None
        }
    }
}

/// The id of the Connect step's device-ID field (a Core's, whose DFU bootloader does not report
/// its ID): the focus goes there while the page needs the ID.
pub const DEVICE_ID_FIELD: &str = "device-id";

/// Whether connecting failed for want of the right device ID (a Core in DFU mode): the error
/// panel then offers the device-ID field.
pub fn asks_device_id(e: &super::DoctorError) -> bool {
    matches!(
        e,
        super::DoctorError::CoreNeedsDeviceId { .. }
            | super::DoctorError::CoreSerialMismatch { .. }
    )
}

/// What the device-ID field holds, checked before it is used: the ID in lower case, or why it is
/// not one (shown next to the field; nothing is sent to the device).
pub fn check_device_id(text: &str) -> Result<String, super::DoctorError> {
    super::link::device_id(text).ok_or_else(|| super::DoctorError::DeviceIdNotValid {
        // As typed, but no more of it than a message needs.
        text: text.trim().chars().take(40).collect(),
    })
}

/// A sentence of the lower layers split where it quotes a command or value between backticks:
/// `(true, "particle udev")` parts are shown as code, the rest as text, and no backtick remains.
pub fn code_spans(text: &str) -> Vec<(bool, &str)> {
    text.split('`')
        .enumerate()
        .filter(|(_, part)| !part.is_empty())
        .map(|(i, part)| (i % 2 == 1, part))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backticks_become_code_spans() {
        assert_eq!(
            code_spans("run `particle udev`, then replug."),
            [
                (false, "run "),
                (true, "particle udev"),
                (false, ", then replug.")
            ]
        );
        assert_eq!(code_spans("no code."), [(false, "no code.")]);
        assert_eq!(code_spans("`a`"), [(true, "a")]);
    }

    #[test]
    fn the_device_id_field_takes_24_hex_characters_and_says_why_not() {
        assert_eq!(
            check_device_id("  53FF6D065075535118311787 ").as_deref(),
            Ok("53ff6d065075535118311787")
        );
        for bad in [
            "",
            "53ff6d06",
            "53ff6d06507553511831178z",
            "device 53ff6d0650755351",
        ] {
            let e = check_device_id(bad).unwrap_err();
            assert!(
                matches!(e, super::super::DoctorError::DeviceIdNotValid { .. }),
                "{bad:?}"
            );
            assert!(e.to_string().contains("24 characters"), "{e}");
            assert!(e.hint().ends_with('.') && !e.to_string().ends_with('.'));
        }
        let long = "x".repeat(500);
        assert!(check_device_id(&long).unwrap_err().to_string().len() < 120);
    }

    #[test]
    fn only_a_cores_missing_or_wrong_id_asks_for_the_field() {
        use super::super::DoctorError;
        assert!(asks_device_id(&DoctorError::CoreNeedsDeviceId {
            serial: "1A2B3C4D5E6F".into()
        }));
        assert!(asks_device_id(&DoctorError::CoreSerialMismatch {
            expected: "ffffffffffffffffffffffff".into(),
            serial: "1A2B3C4D5E6F".into()
        }));
        assert!(!asks_device_id(&DoctorError::NoDeviceId));
        assert!(!asks_device_id(&DoctorError::WrongDevice {
            expected: "a".into(),
            got: "b".into()
        }));
    }

    #[test]
    fn open_follows_the_running_step_and_never_passes_the_facts() {
        let f = Facts::default();
        assert_eq!(open(&f, None, Step::Plan), Step::Connect);
        let busy = Facts { busy: true, ..f };
        assert_eq!(
            open(&busy, Some(Step::Diagnose), Step::Connect),
            Step::Diagnose
        );
    }
}
