//! Device and cloud keys: generation, encodings, the firmware's own reading of the key slots, the
//! diagnosis of a DCT snapshot, the server-key region and the import of user key files.
//!
//! Owns everything that turns key bytes into meaning and back. Pure Rust over byte snapshots: it must
//! not import `web_sys`, `leptos`, `gloo`, `usb` or `dfu`; it reads the platform table in
//! `crate::device`. Randomness comes from `getrandom::SysRng`, which is the browser's
//! `crypto.getRandomValues` on wasm32; nothing here reads a clock or spawns a thread. Private key
//! bytes live in `Zeroizing` buffers, `Debug` never prints them, and nothing here logs.
//! Every RSA key the library makes (device keys, the simulated cloud's and the simulators') comes
//! from [`generate_rsa_key`] (`keygen.rs`), not from `rsa::PrivateKey::new`, whose small-prime
//! sieve would bring crypto-primes' precomputed tables (about 30 KB gzipped) into the page.
//! Facts: shared/reference/particle-dct.md, 4 to 6.

pub mod diagnose;
pub mod ec;
#[cfg(any(not(target_arch = "wasm32"), feature = "sim", feature = "ec"))]
mod ec_p256;
pub mod firmware;
pub mod import;
mod keygen;
mod pem;
pub mod server;

use crate::device::KeyAlgorithm;
use firmware::UnusableReason;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use rsa::sha2::{Digest, Sha256};
use serde::Serialize;
use thiserror::Error;
use zeroize::Zeroizing;

pub use diagnose::{DctReport, DctSnapshot, diagnose, diagnose_server_key_region};
pub use import::load_device_private_key;
pub use keygen::generate_rsa_key;
pub use server::{ServerAddressSpec, build_server_region, ignored_udp_port};

/// How many bytes of the RSA private-key slot the firmware reads
/// (`EXTERNAL_FLASH_CORE_PRIVATE_KEY_LENGTH`): the whole slot at DCT offset 34.
pub const RSA_PRIVATE_KEY_SLOT_LEN: usize = 612;

/// Size of the EC private-key slot at DCT offset 3106.
pub const EC_PRIVATE_KEY_SLOT_LEN: usize = 192;

/// An erased flash byte; a slot that starts with it is treated as blank by the firmware.
pub const ERASED: u8 = 0xFF;

/// How many RSA keys to try before giving up. About 1 % of keys fail the firmware's reading, so
/// reaching this limit means something else is wrong (a broken random source, say).
const MAX_RSA_ATTEMPTS: u32 = 32;

/// A device private key in the DER form the firmware reads: PKCS#1 `RSAPrivateKey` that passes the
/// fixed-offset reading (RSA-1024), or SEC1 `ECPrivateKey` (P-256). Zeroized on drop; `Debug` hides it.
pub struct DevicePrivateKey {
    algorithm: KeyAlgorithm,
    der: Zeroizing<Vec<u8>>,
    public: PublicKeyInfo,
}

impl std::fmt::Debug for DevicePrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "DevicePrivateKey({:?}, {} bytes, redacted, public {})",
            self.algorithm,
            self.der.len(),
            self.public.fingerprint
        )
    }
}

impl DevicePrivateKey {
    /// The DER bytes to write to the device's private-key slot. Handle with care: this is the secret.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// The public half: what the cloud is given, and what the UI shows.
    pub fn public_key(&self) -> &PublicKeyInfo {
        &self.public
    }

    /// Wraps DER bytes already known to be good, computing the public half.
    fn from_rsa(key: &rsa::PrivateKey, der: Zeroizing<Vec<u8>>) -> Result<Self, KeyError> {
        Ok(Self {
            algorithm: KeyAlgorithm::Rsa1024,
            der,
            public: PublicKeyInfo::of(KeyAlgorithm::Rsa1024, &key.to_public_key())?,
        })
    }

    fn from_ec(key: &ec::EcKey) -> Result<Self, KeyError> {
        Ok(Self {
            algorithm: KeyAlgorithm::EcP256,
            der: key.to_sec1_der(),
            public: PublicKeyInfo::from_spki_der(KeyAlgorithm::EcP256, &ec::spki_der(key.point()))?,
        })
    }
}

/// A public key as the page shows it and the cloud takes it. Holds no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicKeyInfo {
    pub algorithm: KeyAlgorithm,
    /// SubjectPublicKeyInfo DER (162 bytes for RSA-1024, 91 for P-256).
    #[serde(skip)]
    pub spki_der: Vec<u8>,
    /// `-----BEGIN PUBLIC KEY-----` PEM, LF line endings: what the Particle API accepts.
    pub pem: String,
    /// A short fingerprint for display; see [`fingerprint`].
    pub fingerprint: String,
}

impl PublicKeyInfo {
    pub fn from_spki_der(algorithm: KeyAlgorithm, spki_der: &[u8]) -> Result<Self, KeyError> {
        let pem = rsa::pkcs8::der::pem::encode_string("PUBLIC KEY", LineEnding::LF, spki_der)
            .map_err(|e| KeyError::Encoding(e.to_string()))?;
        Ok(Self {
            algorithm,
            spki_der: spki_der.to_vec(),
            pem,
            fingerprint: fingerprint(spki_der),
        })
    }

    /// The public half of a key held in memory (an RSA or P-256 public key), through its SPKI DER.
    fn of(algorithm: KeyAlgorithm, key: &impl EncodePublicKey) -> Result<Self, KeyError> {
        let spki = key
            .to_public_key_der()
            .map_err(|e| KeyError::Encoding(e.to_string()))?;
        Self::from_spki_der(algorithm, spki.as_bytes())
    }
}

/// A short fingerprint of a public key for display: the first 8 bytes of SHA-256 over the SPKI DER,
/// in four groups of four hex digits (`3f2a 9c01 77de 0b45`). Enough to tell keys apart on screen,
/// not meant as a security check.
pub fn fingerprint(spki_der: &[u8]) -> String {
    let digest = Sha256::digest(spki_der);
    digest[..8]
        .chunks(2)
        .map(|pair| format!("{:02x}{:02x}", pair[0], pair[1]))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What went wrong in the keys layer.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyError {
    #[error("the browser's random number generator failed: {0}")]
    Random(String),
    #[error("the key could not be encoded: {0}")]
    Encoding(String),
    /// Every generated RSA key failed the firmware's reading: should never happen.
    #[error("{attempts} generated keys in a row could not be read by the firmware")]
    GenerationGaveUp { attempts: u32 },
    /// rsa refused every pair of generated primes (`keygen::MAX_PRIME_PAIRS` in a row): should
    /// never happen.
    #[error("{pairs} pairs of generated primes in a row made no RSA key ({reason})")]
    PrimesGaveUp { pairs: u32, reason: String },
    /// The file is neither PEM nor a DER structure the page knows.
    #[error("the file is not a key in PEM or DER form")]
    NotAKeyFile,
    /// A password-protected key: the page does not ask for passwords.
    #[error("the key file is encrypted")]
    EncryptedKey,
    /// A public key was given where a private key is needed, or the other way round.
    #[error("the file holds a {found} key, but a {expected} key is needed")]
    WrongKeyKind {
        found: &'static str,
        expected: &'static str,
    },
    /// The key's algorithm does not match what the platform's slot takes.
    #[error("the key is {found}, but this device needs {expected}")]
    WrongAlgorithm {
        found: String,
        expected: KeyAlgorithm,
    },
    /// The right algorithm but the wrong size.
    #[error("the key is RSA-{bits}, but this device needs RSA-{expected}")]
    WrongKeySize { bits: u32, expected: u32 },
    /// The firmware hard-codes e = 65537.
    #[error("the key's public exponent is {exponent}, but the firmware only works with 65537")]
    WrongExponent { exponent: String },
    /// A valid key the firmware's fixed-offset reading still cannot use, even re-encoded.
    #[error("the firmware cannot read this key: {0}")]
    FirmwareCannotRead(UnusableReason),
    /// The platform has no key slots for the requested transport.
    #[error("this device has no {0:?} key slots")]
    NoSuchTransport(crate::device::Transport),
    /// The server key file (or default) does not fit the region the CLI writes.
    #[error("the server key file is {len} bytes, larger than the {size}-byte region")]
    ServerKeyTooLarge { len: usize, size: usize },
    /// A host that is neither a dotted IPv4 address nor a usable domain name.
    #[error("{host:?} is not a valid IPv4 address or host name")]
    InvalidHost { host: String },
    /// A domain name that would run into the port bytes of the address block.
    #[error("the host name is {len} characters; at most {max} fit in the address block")]
    HostTooLong { len: usize, max: usize },
    /// Ports 0 and 65535 are the stored forms of "default port".
    #[error("port {port} cannot be stored: 0 and 65535 mean \"default port\" to the firmware")]
    InvalidPort { port: u16 },
}

impl KeyError {
    /// What the user can do next.
    pub fn hint(&self) -> &'static str {
        match self {
            Self::Random(_) => "Reload the page; if it keeps failing, try another browser.",
            Self::Encoding(_) | Self::GenerationGaveUp { .. } | Self::PrimesGaveUp { .. } => {
                "Press Retry to generate another key."
            }
            Self::NotAKeyFile => {
                "Pick the key file itself (a .pem or .der file), not a certificate or a text note."
            }
            Self::EncryptedKey => {
                "Remove the password first (openssl pkey -in key.pem -out plain.pem), or let the \
                 page generate a new key."
            }
            Self::WrongKeyKind { .. } => {
                "Pick the other file of the pair: the device needs its private key, the server \
                 setting needs the cloud's public key."
            }
            Self::WrongAlgorithm { .. }
            | Self::WrongKeySize { .. }
            | Self::WrongExponent { .. }
            | Self::FirmwareCannotRead(_) => {
                "Let the page generate a new key for this device instead."
            }
            Self::NoSuchTransport(_) => "Choose the protocol this device supports.",
            Self::ServerKeyTooLarge { .. } => {
                "Use the server's public key file (DER or PEM), not a full flash image."
            }
            Self::InvalidHost { .. } | Self::HostTooLong { .. } => {
                "Enter an address like 192.168.1.10 or a host name like cloud.example.com \
                 (at most 64 characters)."
            }
            Self::InvalidPort { .. } => {
                "Leave the port empty for the default, or enter a port from 1 to 65534."
            }
        }
    }
}

/// Generates an RSA-1024 (e = 65537) device key as PKCS#1 `RSAPrivateKey` DER that the firmware's
/// fixed-offset reading accepts. About 1 % of keys have a number one byte shorter than usual,
/// which the firmware misreads; those are thrown away and another key is generated.
pub fn generate_rsa_device_key() -> Result<DevicePrivateKey, KeyError> {
    for _ in 0..MAX_RSA_ATTEMPTS {
        let key = generate_rsa_key(1024)?;
        if let Ok(found) = encode_for_firmware(&key)? {
            return Ok(found);
        }
    }
    Err(KeyError::GenerationGaveUp {
        attempts: MAX_RSA_ATTEMPTS,
    })
}

/// Encodes an RSA key as PKCS#1 and runs the firmware's reading on it; key generation and import
/// both decide through here. The outer `Result` is for encoding failures, the inner one says
/// whether the firmware accepts this encoding.
fn encode_for_firmware(
    key: &rsa::PrivateKey,
) -> Result<Result<DevicePrivateKey, UnusableReason>, KeyError> {
    let der = key
        .to_pkcs1_der()
        .map_err(|e| KeyError::Encoding(e.to_string()))?;
    let der = Zeroizing::new(der.as_bytes().to_vec());
    if der.len() > RSA_PRIVATE_KEY_SLOT_LEN {
        return Ok(Err(UnusableReason::SlotTooShort {
            len: RSA_PRIVATE_KEY_SLOT_LEN,
            needed: der.len(),
        }));
    }
    // Read it as it would sit in the slot: the DER followed by erased flash. A key the firmware can
    // use never reads past its own end, so the padding only matters for the reason given.
    let mut slot = Zeroizing::new(der.to_vec());
    slot.resize(RSA_PRIVATE_KEY_SLOT_LEN, ERASED);
    match firmware::device_private_key_verdict(&slot) {
        firmware::FirmwarePrivateKey::Usable(_) => DevicePrivateKey::from_rsa(key, der).map(Ok),
        firmware::FirmwarePrivateKey::Unusable(reason) => Ok(Err(reason)),
        // A PKCS#1 encoding never starts with 0xFF.
        firmware::FirmwarePrivateKey::Blank => Ok(Err(UnusableReason::NotAnRsaKey)),
    }
}

/// Generates a P-256 device key as SEC1 `ECPrivateKey` DER (121 bytes), the form
/// `openssl ec -outform DER` writes and mbedTLS `mbedtls_pk_parse_key` reads.
pub fn generate_ec_device_key() -> Result<DevicePrivateKey, KeyError> {
    let key = ec::EcKey::generate().map_err(KeyError::Random)?;
    DevicePrivateKey::from_ec(&key)
}

/// Generates a device key of the algorithm a slot takes.
pub fn generate_device_key(algorithm: KeyAlgorithm) -> Result<DevicePrivateKey, KeyError> {
    match algorithm {
        KeyAlgorithm::Rsa1024 => generate_rsa_device_key(),
        KeyAlgorithm::EcP256 => generate_ec_device_key(),
        KeyAlgorithm::Rsa2048 => Err(KeyError::WrongKeySize {
            bits: 2048,
            expected: 1024,
        }),
    }
}

/// Whether a slot reads as erased flash: the firmware only tests the first byte (particle-dct.md 4.1).
pub fn is_blank(slot: &[u8]) -> bool {
    slot.first().is_none_or(|&b| b == ERASED)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1::DecodeRsaPrivateKey;
    use rsa::traits::PublicKeyParts;

    #[test]
    fn generated_key_is_pkcs1_rsa_1024_and_fits_the_slot() {
        let key = generate_rsa_device_key().unwrap();
        assert!(
            key.der().len() <= RSA_PRIVATE_KEY_SLOT_LEN,
            "{} bytes",
            key.der().len()
        );
        // PKCS#1, not PKCS#8: version INTEGER 0 right after the outer SEQUENCE header.
        assert_eq!(&key.der()[..2], &[0x30, 0x82]);
        assert_eq!(&key.der()[4..7], &[0x02, 0x01, 0x00]);
        let parsed = rsa::PrivateKey::from_pkcs1_der(key.der()).unwrap();
        assert_eq!(parsed.n().bit_width(), 1024);
        assert!(
            !format!("{key:?}").contains("0x"),
            "Debug must not print key bytes"
        );
        // The firmware reads it, and derives the same public key the page will upload.
        assert!(firmware::read_device_private_key(key.der()).is_usable());
        let derived = firmware::derived_public_key_der(key.der()).unwrap();
        assert_eq!(&derived[..], &key.public_key().spki_der[..]);
        assert!(
            key.public_key()
                .pem
                .starts_with("-----BEGIN PUBLIC KEY-----\n")
        );
        assert_eq!(key.public_key().fingerprint.len(), 19);
    }

    #[test]
    fn generated_ec_key_is_sec1_p256() {
        let key = generate_ec_device_key().unwrap();
        assert_eq!(key.algorithm(), KeyAlgorithm::EcP256);
        assert_eq!(key.der().len(), 121);
        assert!(key.der().len() <= EC_PRIVATE_KEY_SLOT_LEN);
        // SEC1: SEQUENCE { INTEGER 1, OCTET STRING (32) ... }.
        assert_eq!(&key.der()[..7], &[0x30, 0x77, 0x02, 0x01, 0x01, 0x04, 0x20]);
        assert_eq!(key.public_key().spki_der.len(), 91);
        let parsed = p256::SecretKey::from_sec1_der(key.der()).unwrap();
        let spki = parsed.public_key().to_public_key_der().unwrap();
        assert_eq!(spki.as_bytes(), &key.public_key().spki_der[..]);
    }

    #[test]
    fn fingerprint_is_grouped_hex() {
        // SHA-256 of the empty string starts e3b0c442 98fc1c14.
        assert_eq!(fingerprint(b""), "e3b0 c442 98fc 1c14");
    }

    #[test]
    fn blank_means_first_byte_erased() {
        assert!(is_blank(&[0xFF, 0x30]));
        assert!(is_blank(&[]));
        assert!(!is_blank(&[0x30, 0xFF]));
    }
}
