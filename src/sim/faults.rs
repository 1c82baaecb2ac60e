//! The simulated mode's fault catalogue: each problem the landing page's "Simulated problem" list
//! offers, as a simulated Photon built to have it.
//!
//! Pure and native: a fault turns the simulated cloud's server-key region into a [`SimBuilder`] and
//! the device ID to use. A healthy simulated Photon holds a valid device key and that region (the
//! simulated cloud plays Particle with its own key, which nobody else can hold); each fault changes
//! one thing, the way it goes wrong on real devices (particle-dct.md 4 to 8).

use super::cloud::firmware::{PRIVATE_KEY_OFFSET, SERVER_KEY_OFFSET};
use super::cloud::scenario::{DEMO_PHOTON_ID, FOREIGN_PHOTON_ID};
use super::device::{Platform, SimBuilder};
use crate::keys::{self, KeyError, ServerAddressSpec};
use rsa::pkcs8::EncodePrivateKey;

/// Bytes of the private key a simulated brownout damages.
const BROWNOUT_LEN: usize = 300;
/// Transfers a blank-key Photon answers before it drops off the bus: connect and diagnose take
/// about 13, the key write and its read-back run from about 14 to 28 (in the middle of that, so
/// it stays inside the write if the doctor's sequence changes a little: 21 lets the first data
/// block run and cuts the read-back; `tests/ui_logic.rs`,
/// `disconnect_fault_drops_the_device_during_the_key_write`).
pub const DISCONNECT_AFTER_TRANSFERS: u32 = 21;
/// The transfer of a blank-key Photon that never completes: one inside the key write, like
/// [`DISCONNECT_AFTER_TRANSFERS`] (`tests/doctor_faults.rs`,
/// `the_never_completing_fault_hangs_the_device_during_the_key_write`).
pub const HANG_AT_TRANSFER: u32 = DISCONNECT_AFTER_TRANSFERS;

/// How long the [`Fault::BusyConnecting`] Photon's system thread stays busy after each boot:
/// longer than the page waits before it sends request 70 (`doctor::BUSY_PENDING_MS`).
pub const BUSY_CONNECTING_MS: u64 = 60_000;
/// Result -120 (not supported) for request 211 (runtime-usb.md 3).
use crate::runtime::keys::GET_SECURITY_KEY;
const NOT_SUPPORTED: i32 = -120;
/// Result -219 (`SYSTEM_ERROR_FLASH_IO`, `system_error.h`) for a refused request 210. Request 210
/// returns what `dct_write_app_data` returns (`store_security_key_data`,
/// `ota_flash_hal_stm32f2xx.cpp`, v2.3.1); which code that is on a flash failure is unverified.
const FLASH_IO: i32 = -219;

/// A problem the simulated Photon can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    CorruptKey,
    BlankKey,
    WrongServerKey,
    CustomServer,
    Pkcs8Key,
    DisconnectDuringWrite,
    InterfaceClaimed,
    NotYourDevice,
    CloudNeverAnswers,
    TransferNeverCompletes,
    OldFirmware,
    SerialRefused,
    BusyConnecting,
    KeyRequestsRefused,
    NeverReenumerates,
    KeyWriteRefused,
    KeyReadBackDiffers,
}

/// The `<option>` values, in the order the list shows them.
pub const NAMES: [&str; 18] = [
    "none",
    "corrupt-key",
    "blank-key",
    "wrong-server-key",
    "custom-server",
    "pkcs8-key",
    "disconnect-during-write",
    "interface-claimed",
    "not-your-device",
    "cloud-never-answers",
    "transfer-never-completes",
    "old-firmware",
    "serial-refused",
    "busy-connecting",
    "key-requests-refused",
    "never-reenumerates",
    "key-write-refused",
    "key-read-back-differs",
];

impl Fault {
    pub const ALL: [Fault; 18] = [
        Fault::None,
        Fault::CorruptKey,
        Fault::BlankKey,
        Fault::WrongServerKey,
        Fault::CustomServer,
        Fault::Pkcs8Key,
        Fault::DisconnectDuringWrite,
        Fault::InterfaceClaimed,
        Fault::NotYourDevice,
        Fault::CloudNeverAnswers,
        Fault::TransferNeverCompletes,
        Fault::OldFirmware,
        Fault::SerialRefused,
        Fault::BusyConnecting,
        Fault::KeyRequestsRefused,
        Fault::NeverReenumerates,
        Fault::KeyWriteRefused,
        Fault::KeyReadBackDiffers,
    ];

    pub fn name(self) -> &'static str {
        NAMES[self as usize]
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name.trim())
    }

    /// The option text.
    pub fn label(self) -> &'static str {
        match self {
            Self::None => "No problem: the cloud only lost the device's public key",
            Self::CorruptKey => "Corrupt device key (a brownout during a flash write)",
            Self::BlankKey => "Blank device key",
            Self::WrongServerKey => "Wrong cloud server key",
            Self::CustomServer => "Custom server address (a private cloud)",
            Self::Pkcs8Key => "PKCS#8 device key from OpenSSL 3",
            Self::DisconnectDuringWrite => "USB cable pulled during the key write",
            Self::InterfaceClaimed => "Interface already claimed by another program",
            Self::NotYourDevice => "Not your device (claimed to another account)",
            Self::CloudNeverAnswers => "The cloud never answers (a stalled network)",
            Self::TransferNeverCompletes => {
                "A USB transfer that never completes during the key write (a wedged bootloader)"
            }
            Self::OldFirmware => "Normal mode: Device OS older than 0.8",
            Self::SerialRefused => "Normal mode: Device OS older than 0.8, serial port refused",
            Self::BusyConnecting => "Normal mode: busy trying to reach the cloud",
            Self::KeyRequestsRefused => "Normal mode: key requests refused (corrupt key)",
            Self::NeverReenumerates => "Normal mode: never comes back after the switch to DFU mode",
            Self::KeyWriteRefused => {
                "Corrupt device key; in normal mode the firmware refuses the key write (flash error)"
            }
            Self::KeyReadBackDiffers => {
                "Corrupt device key; in normal mode the first key write reads back different"
            }
        }
    }

    /// Whether the simulated cloud leaves every request unanswered (the device is healthy).
    pub fn cloud_never_answers(self) -> bool {
        self == Self::CloudNeverAnswers
    }

    /// Whether the simulated Photon with this fault starts in normal mode (blinking cyan) whatever
    /// the start option says: the fault is one of its firmware's.
    pub fn normal_mode_only(self) -> bool {
        matches!(
            self,
            Self::OldFirmware
                | Self::SerialRefused
                | Self::BusyConnecting
                | Self::KeyRequestsRefused
                | Self::NeverReenumerates
        )
    }

    /// Whether the `navigator.serial` stand-in refuses the first port request (the user closes
    /// the chooser).
    pub fn refuses_serial(self) -> bool {
        self == Self::SerialRefused
    }

    /// `builder` ([`Self::device_builder`]'s) started in normal mode, with this fault's firmware
    /// part: Device OS 0.7.0 (no control requests), a system thread busy reaching the cloud for
    /// [`BUSY_CONNECTING_MS`], key requests answered "not supported", or no return after a reset;
    /// for the key faults started in normal mode, a key write refused or read back different.
    pub fn in_normal_mode(self, builder: SimBuilder) -> SimBuilder {
        let builder = match self {
            Self::OldFirmware | Self::SerialRefused => builder.firmware("0.7.0"),
            Self::BusyConnecting => builder.system_busy(BUSY_CONNECTING_MS),
            Self::KeyRequestsRefused => builder.fail_request(GET_SECURITY_KEY, NOT_SUPPORTED),
            Self::NeverReenumerates => builder
                .fail_request(GET_SECURITY_KEY, NOT_SUPPORTED)
                .never_reenumerates(),
            Self::KeyWriteRefused => builder.refuse_key_writes(FLASH_IO),
            Self::KeyReadBackDiffers => builder.corrupt_key_writes(1),
            _ => builder,
        };
        builder.normal_mode()
    }

    /// The builder of the simulated Photon with this fault: what the simulated mode plugs in.
    /// `server_region` is the simulated cloud's 512-byte server-key region
    /// (`SimCloud::server_key_region`).
    pub fn device_builder(self, server_region: &[u8]) -> Result<SimBuilder, KeyError> {
        let device_id = match self {
            Self::NotYourDevice => FOREIGN_PHOTON_ID,
            _ => DEMO_PHOTON_ID,
        };
        let builder = SimBuilder::new(Platform::Photon).device_id(device_id);
        let healthy_key = || keys::generate_rsa_device_key().map(|k| k.der().to_vec());
        let builder = match self {
            Self::None
            | Self::InterfaceClaimed
            | Self::CloudNeverAnswers
            | Self::OldFirmware
            | Self::SerialRefused
            | Self::BusyConnecting
            | Self::NeverReenumerates => builder
                .dct_bytes(PRIVATE_KEY_OFFSET, &healthy_key()?)
                .dct_bytes(SERVER_KEY_OFFSET, server_region),
            Self::CorruptKey
            | Self::KeyRequestsRefused
            | Self::KeyWriteRefused
            | Self::KeyReadBackDiffers => builder
                .dct_bytes(PRIVATE_KEY_OFFSET, &healthy_key()?)
                .brownout_dct(PRIVATE_KEY_OFFSET + 100, BROWNOUT_LEN)
                .dct_bytes(SERVER_KEY_OFFSET, server_region),
            Self::BlankKey | Self::NotYourDevice => {
                builder.dct_bytes(SERVER_KEY_OFFSET, server_region)
            }
            Self::WrongServerKey => builder
                .dct_bytes(PRIVATE_KEY_OFFSET, &healthy_key()?)
                .dct_bytes(SERVER_KEY_OFFSET, &wrong_server_region(server_region)),
            Self::CustomServer => {
                let region = keys::build_server_region(
                    crate::device::Platform::Photon,
                    crate::device::Transport::Tcp,
                    Some(server_region),
                    &ServerAddressSpec::Host {
                        host: "cloud.example.com".into(),
                        port: Some(5684),
                    },
                )?;
                builder
                    .dct_bytes(PRIVATE_KEY_OFFSET, &healthy_key()?)
                    .dct_bytes(SERVER_KEY_OFFSET, &region)
            }
            Self::Pkcs8Key => builder
                .dct_bytes(PRIVATE_KEY_OFFSET, &pkcs8_key()?)
                .dct_bytes(SERVER_KEY_OFFSET, server_region),
            Self::DisconnectDuringWrite => builder
                .dct_bytes(SERVER_KEY_OFFSET, server_region)
                .disconnect_after(DISCONNECT_AFTER_TRANSFERS),
            Self::TransferNeverCompletes => builder
                .dct_bytes(SERVER_KEY_OFFSET, server_region)
                .hang_at_request(HANG_AT_TRANSFER),
        };
        Ok(match self {
            Self::InterfaceClaimed => builder.refuse_claim(),
            _ => builder,
        })
    }
}

/// The region with one byte of the key's modulus changed: still a well-formed RSA key, but not the
/// cloud's, as after a `particle keys server` with another cloud's key file.
fn wrong_server_region(region: &[u8]) -> Vec<u8> {
    let mut wrong = region.to_vec();
    // Offset 100 lies inside the 256-byte modulus of the SPKI DER that starts at 0.
    if let Some(b) = wrong.get_mut(100) {
        *b ^= 0x5A;
    }
    wrong
}

/// An RSA-1024 key as OpenSSL 3 writes it by default: PKCS#8, which the firmware cannot read.
fn pkcs8_key() -> Result<Vec<u8>, KeyError> {
    let key = keys::generate_rsa_key(1024)?;
    let der = key
        .to_pkcs8_der()
        .map_err(|e| KeyError::Encoding(e.to_string()))?;
    Ok(der.as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_follow_the_list_order() {
        for (i, f) in Fault::ALL.into_iter().enumerate() {
            assert_eq!(f.name(), NAMES[i]);
            assert_eq!(Fault::from_name(f.name()), Some(f));
            assert!(!f.label().is_empty());
        }
        assert_eq!(Fault::from_name("melted"), None);
    }

    #[test]
    fn wrong_server_region_changes_only_the_modulus() {
        let region = vec![7u8; 512];
        let wrong = wrong_server_region(&region);
        assert_eq!(wrong.len(), 512);
        let changed: Vec<usize> = (0..512).filter(|&i| wrong[i] != region[i]).collect();
        assert_eq!(changed, vec![100]);
    }
}
