//! Device keys: generation, encodings and (later) slot diagnosis and the server-key region.
//!
//! Pure Rust over byte snapshots; no browser or USB imports. Randomness comes from `getrandom`,
//! which is the browser's `crypto.getRandomValues` on wasm32. Private key bytes live in
//! `Zeroizing` buffers and are never logged. Facts: shared/reference/particle-dct.md, 4.

pub mod firmware;

use rsa::pkcs1::EncodeRsaPrivateKey;
use thiserror::Error;
use zeroize::Zeroizing;

/// Size of the RSA private-key slot the firmware reads at DCT offset 34.
pub const RSA_PRIVATE_KEY_SLOT_LEN: usize = 612;

/// An erased flash byte; a slot that starts with it is treated as blank by the firmware.
pub const ERASED: u8 = 0xFF;

/// A device private key in the DER form the firmware reads. Zeroized on drop; `Debug` hides it.
pub struct DevicePrivateKey {
    der: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for DevicePrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DevicePrivateKey({} bytes, redacted)", self.der.len())
    }
}

impl DevicePrivateKey {
    /// The DER bytes to write to the device. Handle with care: this is the secret.
    pub fn der(&self) -> &[u8] {
        &self.der
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyError {
    #[error("the browser's random number generator failed: {0}")]
    Random(String),
    #[error("the key could not be encoded: {0}")]
    Encoding(String),
}

impl KeyError {
    pub fn hint(&self) -> &'static str {
        match self {
            Self::Random(_) => "Reload the page; if it keeps failing, try another browser.",
            Self::Encoding(_) => "Press Retry to generate another key.",
        }
    }
}

/// Generates an RSA-1024 (e = 65537) device key as PKCS#1 `RSAPrivateKey` DER.
pub fn generate_rsa_device_key() -> Result<DevicePrivateKey, KeyError> {
    let key = rsa::PrivateKey::new(&mut getrandom::SysRng, 1024)
        .map_err(|e| KeyError::Random(e.to_string()))?;
    let der = key
        .to_pkcs1_der()
        .map_err(|e| KeyError::Encoding(e.to_string()))?;
    Ok(DevicePrivateKey {
        der: Zeroizing::new(der.as_bytes().to_vec()),
    })
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
    }

    #[test]
    fn blank_means_first_byte_erased() {
        assert!(is_blank(&[0xFF, 0x30]));
        assert!(is_blank(&[]));
        assert!(!is_blank(&[0x30, 0xFF]));
    }
}
