//! Diagnosis of a snapshot of the key area read from a device: per slot blank, corrupt, unusable by
//! the firmware (and why) or valid (with fingerprint); the server key, the server address, the
//! Electron's transport byte and the claim flag. The report is plain data for the UI, serializable
//! to JSON, and holds no secret: never a private key byte, only public keys and fingerprints.

use super::firmware::{
    self, FirmwareEcKey, FirmwarePrivateKey, FirmwareServerKey, ServerAddress, UnusableReason,
    decode_server_address,
};
use super::import::{OID_EC_PUBLIC_KEY, OID_PRIME256V1};
use super::{ERASED, PublicKeyInfo};
use crate::device::{KeyAlgorithm, KeySlot, Platform, ServerKeySlot, Transport, TransportKeys};
use rsa::pkcs8::SubjectPublicKeyInfoRef;
use rsa::pkcs8::der::Decode;
use serde::Serialize;

/// Bytes read from the key alternate setting (DFU alt 1), starting at address `base`: a logical DCT
/// offset on Gen 2 and Gen 3, an SPI flash address on the Core. Read
/// [`crate::device::PlatformInfo::keys_snapshot_range`] to cover every slot.
#[derive(Debug, Clone, Copy)]
pub struct DctSnapshot<'a> {
    pub base: u32,
    pub bytes: &'a [u8],
}

impl<'a> DctSnapshot<'a> {
    pub fn new(base: u32, bytes: &'a [u8]) -> Self {
        Self { base, bytes }
    }

    /// Up to `len` bytes from `address`; shorter if the snapshot ends early, `None` if it does not
    /// reach `address` at all.
    fn get(&self, address: u32, len: u32) -> Option<&'a [u8]> {
        let start = address.checked_sub(self.base)? as usize;
        if start >= self.bytes.len() {
            return None;
        }
        let end = (start + len as usize).min(self.bytes.len());
        Some(&self.bytes[start..end])
    }

    fn byte(&self, address: u32) -> Option<u8> {
        self.get(address, 1).map(|b| b[0])
    }
}

/// The state of the device private key slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum PrivateKeyStatus {
    /// Erased (first byte 0xFF). The firmware generates a new key pair at its next boot, which the
    /// cloud does not know until its public key is uploaded.
    Blank,
    /// Not a key at all: garbage, erased half way, or bits flipped.
    Corrupt { reason: UnusableReason },
    /// A well-formed key the firmware still cannot use (PKCS#8, wrong size, short number, ...).
    Unusable { reason: UnusableReason },
    /// A key the firmware reads correctly; the public key is what the cloud must have.
    Valid { public_key: PublicKeyInfo },
    /// The snapshot does not cover the slot.
    NotRead,
}

impl PrivateKeyStatus {
    fn from_reason(reason: UnusableReason) -> Self {
        match reason {
            UnusableReason::Pkcs8
            | UnusableReason::WrongKeySize { .. }
            | UnusableReason::WrongExponent
            | UnusableReason::ShortInteger { .. }
            | UnusableReason::UnexpectedEncoding { .. }
            | UnusableReason::PresentsWrongPublicKey { .. }
            | UnusableReason::WrongCurve
            | UnusableReason::EcPkcs8
            | UnusableReason::NoCurve
            | UnusableReason::ExplicitCurveParameters => Self::Unusable { reason },
            _ => Self::Corrupt { reason },
        }
    }

    /// What the firmware does with this slot, in a sentence for the UI.
    pub fn consequence(&self) -> &'static str {
        match self {
            Self::Blank => {
                "The device will generate a new key at its next start; the cloud will not know it \
                 until its public key is uploaded."
            }
            Self::Corrupt { .. } | Self::Unusable { .. } => {
                "The device cannot complete the cloud handshake (fast cyan, then red or orange)."
            }
            Self::Valid { .. } => "The device can use this key if the cloud has its public key.",
            Self::NotRead => "This slot was not read.",
        }
    }
}

/// The state of the public-key slot the firmware writes itself (1250 / 2978).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PublicKeySlotStatus {
    Blank,
    /// It holds the public half of the private key.
    MatchesPrivateKey,
    /// Stale; the firmware rewrites it from the private key at its next start.
    DiffersFromPrivateKey,
    /// Not comparable: the private key is not valid, or the slot was not read.
    Unknown,
}

/// The state of the server (cloud) public key slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ServerKeyStatus {
    /// Erased: the firmware uses its built-in Particle key, which works with the Particle cloud.
    Blank,
    /// Byte for byte Particle's production cloud key, as `particle keys server` writes it.
    ParticleProduction,
    /// A well-formed key the firmware can use, but not Particle's: a private cloud, or a mistake.
    Custom {
        public_key: PublicKeyInfo,
    },
    /// Neither: the firmware uses these bytes anyway (only 0xFF triggers the fallback), so the
    /// handshake fails.
    Corrupt {
        reason: UnusableReason,
    },
    NotRead,
}

/// The decoded server address block and what the firmware makes of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddressReport {
    pub block: ServerAddress,
    /// True when the block is invalid or blank and the firmware uses its built-in address.
    pub fallback: bool,
    /// The host the firmware connects to (`$id` replaced when the device id is known).
    pub host: String,
    pub port: u16,
    /// Whether that is the Particle cloud's default for this transport.
    pub is_particle_default: bool,
}

/// Which transport the firmware will use and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TransportReport {
    pub active: Transport,
    /// The Electron's byte at DCT 2977 (0xFF = default UDP, 0x00 = TCP); `None` elsewhere.
    pub selector_byte: Option<u8>,
}

/// Short answers for the UI: which parts would stop the device from reaching the Particle cloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// The firmware can use the private key (it may still be unknown to the cloud).
    pub private_key_usable: bool,
    /// The server key is Particle's (or blank, so the built-in Particle key is used).
    pub server_key_is_particle: bool,
    /// The address is Particle's default (or blank, so the built-in address is used).
    pub address_is_particle: bool,
}

/// Everything the page can tell from a snapshot. Holds no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DctReport {
    pub platform: Platform,
    pub transport: TransportReport,
    pub private_key_algorithm: KeyAlgorithm,
    pub private_key: PrivateKeyStatus,
    pub public_key_slot: PublicKeySlotStatus,
    pub server_key: ServerKeyStatus,
    /// `None` when the snapshot does not cover the address block.
    pub server_address: Option<AddressReport>,
    /// `claimed` byte (Gen 2): `Some(true)` for 0x31; `None` if unknown on this platform or not read.
    pub claimed: Option<bool>,
    pub summary: Summary,
}

impl DctReport {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Diagnoses a snapshot of a platform's key area. `device_id` (24 hex characters, from the USB
/// serial number) replaces `$id` in the address; without it `$id` stays as is.
pub fn diagnose(
    platform: Platform,
    snapshot: &DctSnapshot<'_>,
    device_id: Option<&str>,
) -> DctReport {
    let info = platform.info();
    let selector_byte = info
        .transport_selector
        .and_then(|s| snapshot.byte(s.offset));
    let active = info.active_transport(selector_byte);
    // `active_transport` only returns transports the platform has slots for.
    let keys: &TransportKeys = info.keys(active).unwrap_or(info.default_keys());

    let (private_key, public_key_slot) = diagnose_private_key(snapshot, keys);
    let server_key = diagnose_server_key(snapshot, keys);
    let server_address = diagnose_address(snapshot, keys, device_id);
    let claimed = info
        .claim_flag_offset
        .and_then(|offset| snapshot.byte(offset))
        .map(|b| b == b'1');

    let summary = Summary {
        private_key_usable: matches!(private_key, PrivateKeyStatus::Valid { .. }),
        server_key_is_particle: matches!(
            server_key,
            ServerKeyStatus::ParticleProduction | ServerKeyStatus::Blank
        ),
        address_is_particle: server_address
            .as_ref()
            .is_some_and(|a| a.is_particle_default),
    };
    DctReport {
        platform,
        transport: TransportReport {
            active,
            selector_byte,
        },
        private_key_algorithm: keys.private_key.algorithm,
        private_key,
        public_key_slot,
        server_key,
        server_address,
        claimed,
        summary,
    }
}

/// What [`diagnose`] says of the server-key slot alone, for a snapshot that holds only that slot (a
/// server-key region, say): its transport is the one a snapshot without the selector byte has.
/// Reads no private key, so a caller that only asks about a server key carries no private-key code.
pub fn diagnose_server_key_region(
    platform: Platform,
    snapshot: &DctSnapshot<'_>,
) -> ServerKeyStatus {
    let info = platform.info();
    let keys = info
        .keys(info.active_transport(None))
        .unwrap_or(info.default_keys());
    diagnose_server_key(snapshot, keys)
}

fn diagnose_private_key(
    snapshot: &DctSnapshot<'_>,
    keys: &TransportKeys,
) -> (PrivateKeyStatus, PublicKeySlotStatus) {
    let slot: &KeySlot = &keys.private_key;
    let Some(bytes) = snapshot.get(slot.offset, slot.read_len) else {
        return (PrivateKeyStatus::NotRead, PublicKeySlotStatus::Unknown);
    };
    let status = match slot.algorithm {
        KeyAlgorithm::EcP256 => ec_private_key_status(bytes),
        _ => match firmware::device_private_key_verdict(bytes) {
            FirmwarePrivateKey::Blank => PrivateKeyStatus::Blank,
            FirmwarePrivateKey::Unusable(reason) => PrivateKeyStatus::from_reason(reason),
            FirmwarePrivateKey::Usable(key) => {
                match PublicKeyInfo::of(KeyAlgorithm::Rsa1024, &key.to_public_key()) {
                    Ok(public_key) => PrivateKeyStatus::Valid { public_key },
                    Err(_) => PrivateKeyStatus::Corrupt {
                        reason: UnusableReason::Corrupt,
                    },
                }
            }
        },
    };
    let public_slot = match (&status, keys.public_key) {
        (PrivateKeyStatus::Valid { public_key }, Some(public)) => {
            let len = public_key.spki_der.len() as u32;
            match snapshot.get(public.offset, len) {
                Some(stored) if stored.first() == Some(&ERASED) => PublicKeySlotStatus::Blank,
                Some(stored) if stored == &public_key.spki_der[..] => {
                    PublicKeySlotStatus::MatchesPrivateKey
                }
                Some(stored) if stored.len() == len as usize => {
                    PublicKeySlotStatus::DiffersFromPrivateKey
                }
                _ => PublicKeySlotStatus::Unknown,
            }
        }
        _ => PublicKeySlotStatus::Unknown,
    };
    (status, public_slot)
}

/// The EC slot as the firmware reads it ([`firmware::read_device_ec_key`]: mbedTLS 2.22 on a
/// context already set up, so SEC1 only, named P-256 only).
fn ec_private_key_status(bytes: &[u8]) -> PrivateKeyStatus {
    match firmware::read_device_ec_key(bytes) {
        FirmwareEcKey::Blank => PrivateKeyStatus::Blank,
        FirmwareEcKey::Unusable(reason) => PrivateKeyStatus::from_reason(reason),
        FirmwareEcKey::Usable(key) => {
            match PublicKeyInfo::from_spki_der(
                KeyAlgorithm::EcP256,
                &super::ec::spki_der(key.point()),
            ) {
                Ok(public_key) => PrivateKeyStatus::Valid { public_key },
                Err(_) => PrivateKeyStatus::Corrupt {
                    reason: UnusableReason::NotAnEcKey,
                },
            }
        }
    }
}

fn diagnose_server_key(snapshot: &DctSnapshot<'_>, keys: &TransportKeys) -> ServerKeyStatus {
    let slot: &ServerKeySlot = &keys.server_key;
    let Some(bytes) = snapshot.get(slot.offset, slot.key_len) else {
        return ServerKeyStatus::NotRead;
    };
    if bytes.first() == Some(&ERASED) {
        return ServerKeyStatus::Blank;
    }
    let particle = &keys.default_server_region[..slot.key_len as usize];
    if bytes == particle {
        return ServerKeyStatus::ParticleProduction;
    }
    let corrupt = |reason| ServerKeyStatus::Corrupt { reason };
    match slot.algorithm {
        KeyAlgorithm::EcP256 => {
            let Some(tlv) = firmware::read_tlv(bytes, 0, bytes.len()).filter(|t| t.tag == 0x30)
            else {
                return corrupt(UnusableReason::NotAServerKey { expected: "P-256" });
            };
            let der = &bytes[..tlv.value.end];
            let p256_spki = SubjectPublicKeyInfoRef::from_der(der)
                .ok()
                .and_then(|info| info.algorithm.oids().ok())
                .is_some_and(|(oid, curve)| {
                    oid == OID_EC_PUBLIC_KEY && curve == Some(OID_PRIME256V1)
                });
            let parsed = p256_spki
                .then(|| {
                    let info = SubjectPublicKeyInfoRef::from_der(der).ok()?;
                    super::ec::decode_point(info.subject_public_key.as_bytes()?)
                        .ok()
                        .flatten()
                })
                .flatten();
            match parsed.and_then(|_| PublicKeyInfo::from_spki_der(KeyAlgorithm::EcP256, der).ok())
            {
                Some(public_key) => ServerKeyStatus::Custom { public_key },
                None => corrupt(UnusableReason::NotAServerKey { expected: "P-256" }),
            }
        }
        // The firmware's reading also answers a snapshot that ends inside the key (SlotTooShort).
        _ => match firmware::read_server_public_key(bytes) {
            FirmwareServerKey::Blank => ServerKeyStatus::Blank,
            FirmwareServerKey::Unusable(reason) => corrupt(reason),
            FirmwareServerKey::Usable(read) => {
                // The firmware would use the modulus at 33 whatever the header says; call it a
                // key only when the whole SPKI is well formed and agrees with that modulus.
                use rsa::pkcs8::DecodePublicKey;
                use rsa::traits::PublicKeyParts;
                match rsa::PublicKey::from_public_key_der(bytes) {
                    Ok(parsed) if parsed.n() == read.n() && parsed.e() == read.e() => {
                        match PublicKeyInfo::from_spki_der(KeyAlgorithm::Rsa2048, bytes) {
                            Ok(public_key) => ServerKeyStatus::Custom { public_key },
                            Err(_) => corrupt(UnusableReason::Corrupt),
                        }
                    }
                    _ => corrupt(UnusableReason::NotAServerKey {
                        expected: "RSA-2048",
                    }),
                }
            }
        },
    }
}

fn diagnose_address(
    snapshot: &DctSnapshot<'_>,
    keys: &TransportKeys,
    device_id: Option<&str>,
) -> Option<AddressReport> {
    let slot = &keys.server_key;
    let bytes = snapshot.get(
        slot.address_block_offset(),
        firmware::SERVER_ADDRESS_LEN as u32,
    )?;
    let block = decode_server_address(bytes);
    let transport = keys.transport;
    let host = block.host(transport, device_id.unwrap_or("$id"));
    let port = block.port(transport);
    let default_host = match device_id {
        Some(id) => keys.default_host.replace("$id", &id.to_ascii_lowercase()),
        None => keys.default_host.to_owned(),
    };
    Some(AddressReport {
        fallback: block.is_fallback(),
        is_particle_default: host == default_host && port == keys.default_port,
        host,
        port,
        block,
    })
}
