//! `DoctorError`: every way a repair can stop, each with what happened and what to do next.

use super::Step;
use crate::cloud::ApiError;
use crate::dfu;
use crate::keys::KeyError;
use crate::runtime;
use crate::usb::TransportError;
use serde::Serialize;
use thiserror::Error;

/// What happened to the device's bytes after a write failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum RestoreOutcome {
    /// The region still held exactly the backed-up bytes: nothing changed.
    Unchanged,
    /// The backed-up bytes were written back and read back identical.
    Restored,
    /// Restoring failed too (the device disconnected, say); the backup is still held in memory.
    NotRestored { reason: String },
}

impl std::fmt::Display for RestoreOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unchanged => f.write_str("the device was not changed"),
            Self::Restored => f.write_str("the previous bytes were restored and verified"),
            Self::NotRestored { reason } => {
                write!(f, "restoring the previous bytes failed too ({reason})")
            }
        }
    }
}

/// What the device holds, read back after a failure, compared with the backup taken before the
/// repair ([`super::Doctor::check_against_backup`]): what decides between retrying and restoring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AfterFailure {
    /// Every backed-up byte is still on the device: the device was not changed; retry.
    Unchanged,
    /// `bytes` of the backed-up bytes differ on the device: restore the backup.
    Changed { bytes: usize },
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DoctorError {
    #[error("this USB device ({vendor_id:04x}:{product_id:04x}) is not a Particle device")]
    NotParticle { vendor_id: u16, product_id: u16 },
    #[error("the {platform} is running its firmware, not its DFU bootloader")]
    NotInDfuMode { platform: &'static str },
    #[error("the device did not report a device ID in its USB serial number")]
    NoDeviceId,
    /// A Core's DFU bootloader reports a serial number derived from its ID, not the ID itself
    /// (`device::core_dfu_serial`): the ID must come from the user or a support link.
    #[error("a Core in DFU mode does not tell its device ID (its USB serial number is {serial:?})")]
    CoreNeedsDeviceId { serial: String },
    #[error("the Core's USB serial number {serial:?} does not belong to device {expected}")]
    CoreSerialMismatch { expected: String, serial: String },
    /// What was typed in the Connect step's device-ID field (a Core's) is not a device ID.
    #[error("\"{text}\" is not a device ID: a device ID is 24 characters, 0 to 9 and a to f")]
    DeviceIdNotValid { text: String },
    #[error("this is device {got}, but the support link is for device {expected}")]
    WrongDevice { expected: String, got: String },
    #[error("the bootloader cannot reach the configuration table: every byte read back as zero")]
    DctUnreachable,
    /// The page loads its P-256 code only for a device with EC keys (`keys::ec`), and that failed.
    #[error("the page could not load its code for this device's EC keys ({cause})")]
    EcCodeNotLoaded { cause: String },
    #[error(
        "the {platform}'s bootloader reports memory {layout:?} on alternate setting {alt}, beyond \
         what is known of the {platform}"
    )]
    LayoutNotInTable {
        platform: &'static str,
        alt: u8,
        layout: String,
    },
    #[error(
        "the {platform}'s bootloader reports a transfer size of {reported} bytes instead of the \
         {platform}'s {expected}"
    )]
    TransferSizeNotInTable {
        platform: &'static str,
        reported: u16,
        expected: u16,
    },
    #[error("nothing was written: the current keys have not been backed up yet")]
    NoBackup,
    #[error("the backup is of device {backup}, not of the connected device {connected}")]
    BackupOfOtherDevice { backup: String, connected: String },
    #[error("stopped before the {before} step, as asked")]
    Cancelled { before: Step },
    #[error("the repair needs the cloud, and {reason}")]
    CloudNeeded { reason: String },
    #[error("writing the {what} failed ({cause}); {restore}")]
    WriteFailed {
        what: &'static str,
        cause: dfu::Error,
        restore: RestoreOutcome,
    },
    /// A slot write over control requests (`super::slots`) that failed or read back different.
    #[error("writing the {what} over {path} failed ({cause}); {restore}")]
    SlotWriteFailed {
        what: &'static str,
        path: &'static str,
        cause: String,
        /// The failure's own next step.
        cause_hint: String,
        restore: RestoreOutcome,
    },
    /// A slot written over a path without its own read-back check (control requests) read back
    /// different.
    #[error("the {what} read back differs from what was written")]
    ReadBackDiffers { what: &'static str },
    /// A command of the advanced panel that only DFU mode can run, asked of a running device.
    #[error("{what} needs DFU mode: the running firmware does not give it over control requests")]
    NeedsDfuMode { what: &'static str },
    #[error("the key on the device cannot be read back as a valid key: {reason}")]
    KeyNotOnDevice { reason: String },
    #[error("no {what} was picked")]
    NoFilePicked { what: &'static str },
    #[error("the port \"{text}\" is not a number from 1 to 65534")]
    PortNotANumber { text: String },
    #[error("a port was entered without a host")]
    PortWithoutHost,
    #[error("the product \"{text}\" is not a product number or slug")]
    ProductNotValid { text: String },
    #[error("the {platform} picked is still running its firmware, not its DFU bootloader")]
    StillInNormalMode { platform: &'static str },
    #[error("this is {got}, not {expected}, the device that was just put in DFU mode")]
    NotTheSwitchedDevice { expected: String, got: String },
    #[error(transparent)]
    Runtime(runtime::Error),
    #[error(transparent)]
    Dfu(#[from] dfu::Error),
    #[error(transparent)]
    Cloud(#[from] ApiError),
    #[error(transparent)]
    Key(#[from] KeyError),
}

impl From<TransportError> for DoctorError {
    fn from(e: TransportError) -> Self {
        Self::Dfu(dfu::Error::Transport(e))
    }
}

/// A control request's failure; a USB failure stays a transport error, as in the DFU steps, so the
/// error panel treats both alike.
impl From<runtime::Error> for DoctorError {
    fn from(e: runtime::Error) -> Self {
        match e {
            runtime::Error::Transport(t) => Self::from(t),
            e => Self::Runtime(e),
        }
    }
}

impl DoctorError {
    /// What the user does next, in a sentence or two.
    pub fn hint(&self) -> String {
        match self {
            Self::NotParticle { .. } => {
                "Pick the Particle device in the browser's list (its name ends in \"DFU Mode\")."
                    .into()
            }
            Self::NotInDfuMode { .. } => "Put the device in DFU mode: hold SETUP (MODE on other \
                 devices), tap RESET, keep holding it until the LED blinks yellow, then press \
                 Connect again; \
                 the browser asks once more because a DFU-mode device is a new USB device."
                .into(),
            Self::CoreNeedsDeviceId { .. } => "Enter the Core's device ID below: 24 characters, \
                 as console.particle.io or `particle list` shows it. Then press \"Use this ID and \
                 connect\"."
                .into(),
            Self::CoreSerialMismatch { .. } => "Check the device ID (console.particle.io or \
                 `particle list` shows it) and enter it again below, or connect the Core it \
                 belongs to."
                .into(),
            Self::DeviceIdNotValid { .. } => "Enter the 24 characters of the device ID, as \
                 console.particle.io or `particle list` shows it (0123456789abcdef01234567, say)."
                .into(),
            Self::NoDeviceId => "Unplug the device, put it in DFU mode again and reconnect; if \
                 this repeats, its bootloader is too old for this page."
                .into(),
            Self::WrongDevice { .. } => "Connect the device the support link was made for, or \
                 open the page without the device parameter to repair this one."
                .into(),
            Self::EcCodeNotLoaded { .. } => "Nothing was read or written. Check this \
                 computer's internet connection (the page downloads a small part of itself for \
                 this device), then press Read the keys again."
                .into(),
            Self::DctUnreachable => "The bootloader needs the device's system firmware to reach \
                 its keys. Restore Device OS first (Particle's Device Restore page or \
                 `particle update`), then come back; nothing was written."
                .into(),
            Self::LayoutNotInTable { .. } | Self::TransferSizeNotInTable { .. } => {
                "Nothing was read or written: this bootloader is not one this page knows. Update \
                 the device's Device OS (`particle update`), then connect again; if this repeats, \
                 send the diagnostic log to Particle support."
                    .into()
            }
            Self::NoBackup => {
                "Run the diagnosis first: it reads and keeps the current keys.".into()
            }
            Self::BackupOfOtherDevice { .. } => {
                "Connect the device the backup was made from.".into()
            }
            Self::Cancelled { .. } => "Nothing more was done to the device. Press the step's \
                 button again (Connect device, Repair) when you are ready."
                .into(),
            Self::CloudNeeded { .. } => "Sign in with the account that owns the device (or a \
                 product team member's account), or choose \"repair now, send the key later\"."
                .into(),
            Self::WriteFailed { restore, cause, .. } => match restore {
                RestoreOutcome::NotRestored { .. } => format!(
                    "{} The page then reads the key slots back and offers \"Restore backup\" if \
                     they changed: the backup is still held by this page; do not close it. You \
                     can also download the backup files now.",
                    cause.hint()
                ),
                _ => format!("{} Then retry the repair.", cause.hint()),
            },
            Self::SlotWriteFailed {
                restore,
                cause_hint,
                ..
            } => match restore {
                RestoreOutcome::NotRestored { .. } => format!(
                    "{cause_hint} Then connect again: the page reads the key slots back and offers                      \"Restore backup\" if they changed; the backup is still held by this page,                      do not close it."
                ),
                _ => format!("{cause_hint} Then retry the repair."),
            },
            Self::ReadBackDiffers { .. } => {
                "The device did not keep the bytes written (a flash cell that did not take them)."
                    .into()
            }
            Self::NeedsDfuMode { .. } => "Put the device in DFU mode (hold SETUP, or MODE, tap \
                 RESET, and release SETUP when the LED blinks yellow), press Connect device, run \
                 the diagnosis, then press the command again."
                .into(),
            Self::KeyNotOnDevice { .. } => {
                "Retry the repair: the page will write a new key and check it again.".into()
            }
            Self::NoFilePicked { what } => {
                format!(
                    "Choose the {what} with the file button first, then press the command again."
                )
            }
            Self::PortNotANumber { .. } => {
                "Leave the port empty for the default, or enter a port from 1 to 65534.".into()
            }
            Self::PortWithoutHost => {
                "Enter the server's host or IP address as well, or leave the port empty.".into()
            }
            Self::ProductNotValid { .. } => "Enter the product's number (12345) or its slug \
                 (my-product-v1), as the console shows them, or leave it empty."
                .into(),
            Self::StillInNormalMode { .. } => "In the browser's list pick the entry that ends \
                 in \"DFU Mode\" (it appears a few seconds after the LED starts blinking yellow); \
                 if there is none, put the device in DFU mode by hand: hold SETUP (MODE on \
                 other devices), tap RESET, let go when the LED blinks yellow."
                .into(),
            Self::NotTheSwitchedDevice { .. } => {
                "Press \"Choose the device in DFU mode\" again and \
                 pick the device that is blinking yellow now: the one this page just put in DFU \
                 mode."
                    .into()
            }
            Self::Runtime(e) => e.hint().into(),
            Self::Dfu(e) => e.hint().into(),
            Self::Cloud(e) => e.hint().into(),
            Self::Key(e) => e.hint().into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_failure_that_could_not_be_restored_says_to_keep_the_page_open() {
        let e = DoctorError::WriteFailed {
            what: "device private key",
            cause: dfu::Error::Transport(TransportError::Disconnected),
            restore: RestoreOutcome::NotRestored {
                reason: "the device disconnected".into(),
            },
        };
        assert!(
            e.to_string()
                .contains("restoring the previous bytes failed too")
        );
        assert!(e.hint().contains("Restore backup"));
        assert!(e.hint().starts_with("Reconnect the cable"));
    }
}
