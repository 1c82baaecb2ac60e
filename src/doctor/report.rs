//! Readable words for a [`Diagnosis`]: one line per key slot for the page, and the plain-text
//! diagnostic report a user downloads and sends to support.
//!
//! Holds no secret: a diagnosis never contains private key bytes (only public keys and
//! fingerprints), and this module prints no token, e-mail address or password. Pure, no I/O.

use super::plan::{CloudAccess, PlanBlock};
use super::session::{Diagnosis, RepairReport, SendOutcome, VerifyOutcome};
use crate::keys::DctSnapshot;
use crate::keys::diagnose::{
    AddressReport, PrivateKeyStatus, PublicKeySlotStatus, ServerKeyStatus,
};
use crate::keys::firmware::ServerHost;

/// How a line reads on the page: fine, or a problem the repair addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Good,
    Problem,
    /// Not known (not read, signed out, cloud unreachable).
    Unknown,
}

impl Verdict {
    /// A word shown before the line, so the meaning never rests on colour alone.
    pub fn word(self) -> &'static str {
        match self {
            Self::Good => "OK",
            Self::Problem => "Problem",
            Self::Unknown => "Unknown",
        }
    }

    /// The CSS class of the line.
    pub fn class(self) -> &'static str {
        match self {
            Self::Good => "verdict-good",
            Self::Problem => "verdict-problem",
            Self::Unknown => "verdict-unknown",
        }
    }
}

/// One diagnosed item, ready to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub verdict: Verdict,
    pub title: &'static str,
    pub text: String,
}

/// The device private key slot.
pub fn private_key_line(d: &Diagnosis) -> Line {
    let status = &d.report.private_key;
    let (verdict, what) = match status {
        PrivateKeyStatus::Valid { public_key } => (
            Verdict::Good,
            format!(
                "valid {} key (public key fingerprint {})",
                public_key.algorithm, public_key.fingerprint
            ),
        ),
        PrivateKeyStatus::Blank => (Verdict::Problem, "blank (erased)".to_owned()),
        PrivateKeyStatus::Corrupt { reason } => (Verdict::Problem, format!("corrupt: {reason}")),
        PrivateKeyStatus::Unusable { reason } => (
            Verdict::Problem,
            format!("the firmware cannot use it: {reason}"),
        ),
        PrivateKeyStatus::NotRead => (Verdict::Unknown, "not read".to_owned()),
    };
    Line {
        verdict,
        title: "Device private key",
        text: format!("{what}. {}", status.consequence()),
    }
}

/// The server (cloud) public key slot.
pub fn server_key_line(d: &Diagnosis) -> Line {
    let (verdict, text) = match &d.report.server_key {
        ServerKeyStatus::ParticleProduction => (
            Verdict::Good,
            "Particle's cloud key, as `particle keys server` writes it.".to_owned(),
        ),
        ServerKeyStatus::Blank => (
            Verdict::Problem,
            "blank: the firmware falls back to its built-in Particle key; the repair writes it \
             explicitly."
                .to_owned(),
        ),
        ServerKeyStatus::Custom { public_key } => (
            Verdict::Unknown,
            format!(
                "not Particle's key (fingerprint {}): right only for a private or test cloud.",
                public_key.fingerprint
            ),
        ),
        ServerKeyStatus::Corrupt { reason } => (
            Verdict::Problem,
            format!("corrupt: {reason}. The device cannot reach the cloud with it."),
        ),
        ServerKeyStatus::NotRead => (Verdict::Unknown, "not read.".to_owned()),
    };
    Line {
        verdict,
        title: "Cloud server key",
        text,
    }
}

/// The server address block.
pub fn address_line(d: &Diagnosis) -> Line {
    let (verdict, text) = match &d.report.server_address {
        None => (Verdict::Unknown, "not read.".to_owned()),
        Some(a) if a.fallback => (
            Verdict::Good,
            format!(
                "blank: the firmware uses its built-in address {}:{}.",
                a.host, a.port
            ),
        ),
        Some(a) if a.is_particle_default => (
            Verdict::Good,
            format!("{}:{} (Particle's cloud).", a.host, a.port),
        ),
        Some(a) => {
            let kind = match a.block.host {
                ServerHost::Ipv4 { .. } => "an IP address",
                _ => "a custom host",
            };
            (
                Verdict::Unknown,
                format!(
                    "{}:{}, {kind}, not Particle's cloud: right only for a private or test cloud.",
                    a.host, a.port
                ),
            )
        }
    };
    let text = match &d.report.server_address {
        Some(a) => text + &ignored_port_note(a),
        None => text,
    };
    Line {
        verdict,
        title: "Cloud server address",
        text,
    }
}

/// " The stored port N is ignored: ..." when the block holds a port the firmware replaces (any
/// port but 5684 over UDP, `system_cloud_connection.cpp` 161); empty otherwise.
fn ignored_port_note(a: &AddressReport) -> String {
    let stored = a.block.stored_port;
    if a.fallback || stored == 0 || stored == 0xFFFF || stored == a.port {
        return String::new();
    }
    format!(
        " The stored port {stored} is ignored: over UDP the firmware always uses {}.",
        a.port
    )
}

/// What the cloud said about the device.
pub fn cloud_line(d: &Diagnosis) -> Line {
    let (verdict, text) = match (&d.cloud, &d.cloud_device) {
        (CloudAccess::SignedOut, _) => (
            Verdict::Unknown,
            "not asked: nobody is signed in (diagnose only).".to_owned(),
        ),
        (CloudAccess::Allowed { product_id }, device) => {
            let whose = match product_id {
                Some(p) => format!("a device of product {p} your account can manage"),
                None => "a device of your account".to_owned(),
            };
            let state = match device {
                Some(dev) if dev.online => "online",
                _ => "offline",
            };
            let name = device
                .as_ref()
                .and_then(|dev| dev.name.as_deref())
                .map(|n| format!(" named {n:?}"))
                .unwrap_or_default();
            (
                Verdict::Good,
                format!("{whose}{name}, {state}; you can send its key."),
            )
        }
        (CloudAccess::Denied { reason, hint }, _) => {
            (Verdict::Problem, format!("{reason}. {hint}"))
        }
        (CloudAccess::Unavailable { reason, hint }, _) => {
            (Verdict::Unknown, format!("{reason}. {hint}"))
        }
    };
    Line {
        verdict,
        title: "Particle cloud",
        text,
    }
}

/// The fingerprint of the device's server key when it is the test cloud's own key:
/// `test_cloud_region` is that cloud's server-key region (the simulated cloud plays Particle with
/// its own key), so holding its key is right there.
fn test_cloud_key<'a>(d: &'a Diagnosis, test_cloud_region: Option<&[u8]>) -> Option<&'a str> {
    let (Some(region), ServerKeyStatus::Custom { public_key }) =
        (test_cloud_region, &d.report.server_key)
    else {
        return None;
    };
    let platform = d.identity.platform;
    let offset = platform.info().default_keys().server_key.offset;
    let test = crate::keys::diagnose_server_key_region(platform, &DctSnapshot::new(offset, region));
    match test {
        ServerKeyStatus::Custom { public_key: theirs }
            if theirs.fingerprint == public_key.fingerprint =>
        {
            Some(&public_key.fingerprint)
        }
        _ => None,
    }
}

/// The server key line in a test cloud's world (see [`test_cloud_key`]).
pub fn server_key_line_for(d: &Diagnosis, test_cloud_region: Option<&[u8]>) -> Line {
    server_key_line_with(d, test_cloud_key(d, test_cloud_region))
}

/// The server key line, given what [`test_cloud_key`] found.
fn server_key_line_with(d: &Diagnosis, test_key: Option<&str>) -> Line {
    match test_key {
        Some(fingerprint) => Line {
            verdict: Verdict::Good,
            title: "Cloud server key",
            text: format!(
                "the test cloud's key (fingerprint {fingerprint}): it plays Particle's cloud here."
            ),
        },
        None => server_key_line(d),
    }
}

/// Every line, in the order the page shows them; with `test_cloud_region`, in a test cloud's world
/// (see [`server_key_line_for`]).
pub fn lines_for(d: &Diagnosis, test_cloud_region: Option<&[u8]>) -> [Line; 4] {
    lines_with(d, test_cloud_key(d, test_cloud_region))
}

/// Every line, given what [`test_cloud_key`] found.
fn lines_with(d: &Diagnosis, test_key: Option<&str>) -> [Line; 4] {
    [
        private_key_line(d),
        server_key_line_with(d, test_key),
        address_line(d),
        cloud_line(d),
    ]
}

/// The advanced panel's answer to "Read server address" (`particle keys address`).
pub fn address_sentence(a: Option<&AddressReport>) -> String {
    match a {
        Some(a) if a.fallback => format!(
            "Server address: blank; the firmware uses {}:{}.",
            a.host, a.port
        ),
        Some(a) => format!(
            "Server address: {}:{}{}.{}",
            a.host,
            a.port,
            if a.is_particle_default {
                " (Particle's cloud)"
            } else {
                ""
            },
            ignored_port_note(a)
        ),
        None => "The server address was not read.".to_owned(),
    }
}

/// The advanced panel's answer to "Write server key" (`particle keys server`): `ignored_port` is
/// a port written over UDP that the firmware replaces with 5684 ([`crate::keys::ignored_udp_port`]).
pub fn server_written_sentence(ignored_port: Option<u16>) -> String {
    match ignored_port {
        None => "Wrote the server key and address.".to_owned(),
        Some(port) => format!(
            "Wrote the server key and address with port {port}, as the Particle CLI does. Note: \
             this device connects over UDP, where the firmware always uses port 5684, so it \
             will use 5684 anyway."
        ),
    }
}

/// Why the plan cannot be carried out, in a sentence.
pub fn plan_block_text(b: &PlanBlock) -> String {
    match b {
        PlanBlock::CloudNeeded { reason } => format!(
            "The repair cannot send the key to the cloud: {reason}. Sign in with the account that \
             owns the device, or tick \"send the key later\" to repair the device now."
        ),
        PlanBlock::NotDiagnosed => "The key slots were not read: connect again.".to_owned(),
    }
}

/// The plain-text diagnostic report (the "readable text" download), judged as the page judges it:
/// with `test_cloud_region`, in a test cloud's world (see [`test_cloud_key`]).
pub fn render_text(d: &Diagnosis, test_cloud_region: Option<&[u8]>) -> String {
    // Judged once, for the server key line and the summary.
    let test_key = test_cloud_key(d, test_cloud_region);
    let mut out = String::new();
    let id = &d.identity;
    out.push_str("Key Rescue diagnostic report\n");
    out.push_str("============================\n\n");
    out.push_str(&format!(
        "Device:       {} {}\n",
        id.platform_name, id.device_id
    ));
    out.push_str(&format!(
        "Bootloader:   transfer size {} bytes; keys in {}\n",
        id.transfer_size, id.keys_layout
    ));
    out.push_str(&format!(
        "Transport:    {:?} (private key {})\n\n",
        d.report.transport.active, d.report.private_key_algorithm
    ));
    for line in lines_with(d, test_key) {
        out.push_str(&format!(
            "[{}] {}: {}\n",
            line.verdict.word(),
            line.title,
            line.text
        ));
    }
    let public_slot = match d.report.public_key_slot {
        PublicKeySlotStatus::Blank => "blank",
        PublicKeySlotStatus::MatchesPrivateKey => "matches the private key",
        PublicKeySlotStatus::DiffersFromPrivateKey => {
            "differs from the private key (the firmware rewrites it at its next start)"
        }
        PublicKeySlotStatus::Unknown => "not compared",
    };
    out.push_str(&format!("[Info] Device public key slot: {public_slot}\n"));
    if let Some(claimed) = d.report.claimed {
        out.push_str(&format!(
            "[Info] Claim flag: {}\n",
            if claimed { "set" } else { "not set" }
        ));
    }
    if let Some(dev) = &d.cloud_device
        && let Some(at) = &dev.last_handshake_at
    {
        out.push_str(&format!("[Info] Last handshake with the cloud: {at}\n"));
    }
    let s = d.report.summary;
    out.push_str(&format!(
        "\nSummary: private key {}; server key {}; address {}.\n",
        if s.private_key_usable {
            "usable"
        } else {
            "NOT usable"
        },
        if s.server_key_is_particle {
            "Particle's"
        } else if test_key.is_some() {
            "the test cloud's"
        } else {
            "not Particle's"
        },
        if s.address_is_particle {
            "Particle's"
        } else {
            "not Particle's"
        },
    ));
    out.push_str("\nThis report holds no private key, password or access token.\n");
    out
}

/// The repair's outcome in a sentence.
pub fn repair_summary(r: &RepairReport) -> String {
    let written = if r.written.is_empty() {
        "Nothing was written to the device".to_owned()
    } else {
        format!(
            "Wrote and verified the {} (through {})",
            r.written.join(" and the "),
            r.path
        )
    };
    let key = r
        .public_key
        .as_ref()
        .map(|k| format!(" (device public key {})", k.fingerprint))
        .unwrap_or_default();
    let send = match &r.send {
        SendOutcome::Sent => "the cloud now holds the device's public key.".to_owned(),
        SendOutcome::Deferred => {
            "the public key was not sent: sign in and use \"Send key\" in the advanced panel."
                .to_owned()
        }
        SendOutcome::Failed { error, hint } => {
            format!("sending the public key failed ({error}). {hint}")
        }
    };
    format!("{written}{key}; {send}")
}

/// The device's own view of its cloud connection (request 300), as the Verify step shows it
/// beside the cloud's.
pub fn device_status_sentence(status: crate::runtime::ConnectionStatus) -> String {
    use crate::runtime::ConnectionStatus as S;
    let said = match status {
        S::Connected => "connected to the cloud".to_owned(),
        S::Connecting => "still connecting to the cloud".to_owned(),
        S::Disconnected => "not connected to the cloud".to_owned(),
        S::Disconnecting => "disconnecting from the cloud".to_owned(),
        S::Unknown(code) => format!("a connection state this page does not know ({code})"),
    };
    format!("The device itself reports it is {said} (asked over USB, request 300).")
}

/// The verification's outcome: a headline and the next steps.
pub fn verify_summary(v: &VerifyOutcome) -> (String, Vec<String>) {
    match v {
        VerifyOutcome::Online { last_handshake_at } => (
            format!(
                "The device is online: the cloud accepted its keys{}.",
                last_handshake_at
                    .as_ref()
                    .map(|t| format!(" (handshake at {t})"))
                    .unwrap_or_default()
            ),
            vec!["Its LED should be breathing cyan.".to_owned()],
        ),
        VerifyOutcome::StayedOffline {
            waited_s,
            next_steps,
        } => (
            format!("The device left DFU mode but did not come online within {waited_s} s."),
            next_steps.iter().map(|s| (*s).to_owned()).collect(),
        ),
        VerifyOutcome::LeftDfu { next_steps } => (
            "The device left DFU mode and restarts. Nobody is signed in, so the page cannot ask \
             the cloud whether it is online."
                .to_owned(),
            next_steps.iter().map(|s| (*s).to_owned()).collect(),
        ),
        VerifyOutcome::CouldNotCheck { error, hint } => (
            format!("The device left DFU mode; the cloud could not be asked ({error})."),
            vec![hint.clone()],
        ),
        VerifyOutcome::StoppedWaiting {
            waited_s,
            next_steps,
        } => (
            format!(
                "The device left DFU mode and restarts; you stopped waiting for the cloud after \
                 {waited_s} s."
            ),
            next_steps.iter().map(|s| (*s).to_owned()).collect(),
        ),
    }
}

/// What the page says once the key slots were read back after a failure, and what it offers.
pub fn after_failure_text(a: &super::AfterFailure) -> String {
    match a {
        super::AfterFailure::Unchanged => "The key slots were read back: your device was not \
             changed. Press Repair to try again."
            .to_owned(),
        super::AfterFailure::Changed { bytes } => format!(
            "The key slots were read back: {bytes} bytes differ from the backup taken before the \
             repair. Press Restore backup to put them back."
        ),
    }
}

/// Extra help an error panel shows beside the cause and the next step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtraHelp {
    /// The operating system refused access: the Windows driver and the Linux udev rule.
    UsbPermissions,
    /// Another program or tab holds the DFU interface.
    InterfaceBusy,
    /// The device runs its firmware: put it in DFU mode and press Reconnect.
    NotInDfuMode,
    /// The device is not the one the support link names.
    WrongDevice,
    /// The device dropped off the bus: reconnect it.
    Disconnected,
    /// The device stopped answering (a transfer passed its deadline): unplug, replug, reconnect.
    StoppedAnswering,
    /// A write failed and the previous bytes could not be put back: reconnect, then restore.
    RestoreNeeded,
    /// The browser's device chooser was closed, or listed no device: a checklist and Try again.
    NoDevicePicked,
    /// A Core in DFU mode needs its device ID typed in (`wizard::asks_device_id`): the field and
    /// "Use this ID and connect".
    DeviceIdNeeded,
}

/// What an error panel shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorHelp {
    pub cause: String,
    pub hint: String,
    pub extra: Option<ExtraHelp>,
}

/// The error panel for a doctor error. `None` for a closed device chooser, which is not a failure.
pub fn error_help(e: &super::DoctorError) -> Option<ErrorHelp> {
    use super::{DoctorError, RestoreOutcome};
    use crate::dfu;
    use crate::usb::TransportError;
    let transport = match e {
        DoctorError::Dfu(dfu::Error::Transport(t)) => Some(t),
        _ => None,
    };
    let extra = match (e, transport) {
        (_, Some(TransportError::Cancelled)) => return None,
        (_, Some(TransportError::AccessDenied)) => Some(ExtraHelp::UsbPermissions),
        (_, Some(TransportError::UnableToClaim)) => Some(ExtraHelp::InterfaceBusy),
        (_, Some(TransportError::Disconnected)) => Some(ExtraHelp::Disconnected),
        (_, Some(TransportError::Timeout)) => Some(ExtraHelp::StoppedAnswering),
        (DoctorError::NotInDfuMode { .. }, _) => Some(ExtraHelp::NotInDfuMode),
        (DoctorError::WrongDevice { .. }, _) => Some(ExtraHelp::WrongDevice),
        (e, _) if super::wizard::asks_device_id(e) => Some(ExtraHelp::DeviceIdNeeded),
        (
            DoctorError::WriteFailed {
                restore: RestoreOutcome::NotRestored { .. },
                ..
            },
            _,
        ) => Some(ExtraHelp::RestoreNeeded),
        (
            DoctorError::WriteFailed {
                cause: dfu::Error::Transport(TransportError::Disconnected),
                ..
            },
            _,
        ) => Some(ExtraHelp::Disconnected),
        _ => None,
    };
    Some(ErrorHelp {
        cause: capitalise(&e.to_string()),
        hint: e.hint(),
        extra,
    })
}

/// The panel when the device chooser was closed or listed nothing. Not an error of the doctor's
/// (`error_help` shows nothing for a closed chooser): the page shows it where the user pressed.
pub fn no_device_help() -> ErrorHelp {
    ErrorHelp {
        cause: "No device was picked".to_owned(),
        hint: "Check each point below, then press Try again. What the page already found is kept."
            .to_owned(),
        extra: Some(ExtraHelp::NoDevicePicked),
    }
}

/// Particle's udev rule (particle-cli `assets/50-particle.rules`; webusb.md 8).
pub const UDEV_RULE: &str = "SUBSYSTEMS==\"usb\", ATTRS{idVendor}==\"1d50\", ATTRS{idProduct}==\"607[df]\", GROUP=\"plugdev\", MODE=\"0666\", ENV{ID_MM_DEVICE_IGNORE}=\"1\"\n\
SUBSYSTEMS==\"usb\", ATTRS{idVendor}==\"2b04\", ATTRS{idProduct}==\"[cd]0??\", GROUP=\"plugdev\", MODE=\"0666\", ENV{ID_MM_DEVICE_IGNORE}=\"1\"";

/// The first letter in upper case, for an error's `Display` shown as a sentence. ASCII only: the
/// messages are English, and full Unicode case mapping would add its 12 KB tables to the page.
pub fn capitalise(s: &str) -> String {
    let mut out = s.to_owned();
    if let Some(first) = out.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{address_sentence, capitalise, server_written_sentence};
    use crate::device::{Platform, Transport};
    use crate::keys::{DctSnapshot, ServerAddressSpec, build_server_region, diagnose};

    /// An Argon whose server region was written with `--host 10.0.0.1 --port 1234`: the firmware
    /// connects to port 5684 (`system_cloud_connection.cpp` 161), and the page says the stored
    /// port is ignored, both when writing and when reading the address back.
    #[test]
    fn a_port_written_over_udp_is_reported_as_ignored() {
        let spec = ServerAddressSpec::Host {
            host: "10.0.0.1".into(),
            port: Some(1234),
        };
        let written = server_written_sentence(crate::keys::ignored_udp_port(Transport::Udp, &spec));
        assert!(written.contains("port 1234"), "{written}");
        assert!(written.contains("will use 5684 anyway"), "{written}");
        assert_eq!(
            server_written_sentence(None),
            "Wrote the server key and address."
        );

        let region = build_server_region(Platform::Argon, Transport::Udp, None, &spec).unwrap();
        let mut dct = vec![0xFFu8; 3618];
        dct[3298..3298 + region.len()].copy_from_slice(&region);
        let report = diagnose(Platform::Argon, &DctSnapshot::new(0, &dct), None);
        let address = report.server_address.as_ref().unwrap();
        assert_eq!(address.port, 5684);
        assert_eq!(
            address_sentence(Some(address)),
            "Server address: 10.0.0.1:5684. The stored port 1234 is ignored: over UDP the \
             firmware always uses 5684."
        );
    }

    #[test]
    fn capitalise_upper_cases_an_ascii_first_letter_and_leaves_the_rest() {
        assert_eq!(capitalise("the device is busy"), "The device is busy");
        assert_eq!(capitalise("Already"), "Already");
        assert_eq!(capitalise("3 keys"), "3 keys");
        assert_eq!(capitalise(""), "");
        // A non-ASCII first letter is left as it is (and nothing panics on the char boundary).
        assert_eq!(capitalise("été"), "été");
    }
}
