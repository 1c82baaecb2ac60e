//! Loading a private key file the user already has (for example a backup of the device's own key):
//! DER or PEM, PKCS#1, PKCS#8 or SEC1, converted to the exact form the device's slot needs, or
//! refused with the reason when it cannot work on that platform.

use super::firmware::{bit_len, strip_leading_zeros};
use super::pem::read_key_file;
use super::{DevicePrivateKey, KeyError, encode_for_firmware, firmware};
use crate::device::KeyAlgorithm;
use p256::elliptic_curve::bigint::ConcatenatingMul;
use rsa::BoxedUint;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::der::Decode;
use rsa::pkcs8::der::asn1::AsUintRef;
use rsa::pkcs8::{ObjectIdentifier, PrivateKeyInfoRef, SubjectPublicKeyInfoRef};
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use zeroize::Zeroizing;

pub(crate) const OID_RSA_ENCRYPTION: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
pub(crate) const OID_EC_PUBLIC_KEY: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
pub(crate) const OID_PRIME256V1: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

/// A private key file's content, classified.
enum Parsed {
    /// PKCS#1 `RSAPrivateKey` DER (possibly unwrapped from PKCS#8).
    Rsa(Zeroizing<Vec<u8>>),
    /// A P-256 key.
    EcP256(p256::SecretKey),
    /// Any other algorithm or curve, named for the message.
    Other(String),
}

/// Loads a user-supplied private key for a slot of the given algorithm and returns it in the form
/// the firmware reads: PKCS#1 DER that passes the fixed-offset reading for RSA-1024, SEC1 DER for
/// P-256. The public key stays the same, so a key the cloud already knows keeps working.
pub fn load_device_private_key(
    file: &[u8],
    algorithm: KeyAlgorithm,
) -> Result<DevicePrivateKey, KeyError> {
    let parsed = parse_private_key_file(file)?;
    match (algorithm, parsed) {
        (KeyAlgorithm::Rsa1024, Parsed::Rsa(der)) => rsa_for_firmware(&der),
        (KeyAlgorithm::EcP256, Parsed::EcP256(key)) => DevicePrivateKey::from_ec(&key),
        (expected, Parsed::Rsa(der)) => Err(KeyError::WrongAlgorithm {
            found: rsa_name(&der),
            expected,
        }),
        (expected, Parsed::EcP256(_)) => Err(KeyError::WrongAlgorithm {
            found: "an EC P-256 key".into(),
            expected,
        }),
        (expected, Parsed::Other(found)) => Err(KeyError::WrongAlgorithm { found, expected }),
    }
}

fn rsa_name(pkcs1_der: &[u8]) -> String {
    match rsa::pkcs1::RsaPrivateKeyRef::from_der(pkcs1_der) {
        Ok(key) => format!(
            "an RSA-{} key",
            bit_len(key.modulus.as_uint_ref().as_bytes())
        ),
        Err(_) => "an RSA key".into(),
    }
}

fn parse_private_key_file(file: &[u8]) -> Result<Parsed, KeyError> {
    let key_file = read_key_file(file)?;
    let der = &key_file.der;
    match key_file.label.as_deref() {
        Some("RSA PRIVATE KEY") => Ok(Parsed::Rsa(Zeroizing::new(der.to_vec()))),
        Some("EC PRIVATE KEY") => parse_sec1(der),
        Some("PRIVATE KEY") => parse_pkcs8(der),
        Some("PUBLIC KEY" | "RSA PUBLIC KEY" | "CERTIFICATE") => Err(public_not_private()),
        Some(_) => Err(KeyError::NotAKeyFile),
        None => {
            // DER: try each structure in turn; they cannot be confused with each other.
            if PrivateKeyInfoRef::from_der(der).is_ok() {
                parse_pkcs8(der)
            } else if rsa::pkcs1::RsaPrivateKeyRef::from_der(der).is_ok() {
                Ok(Parsed::Rsa(Zeroizing::new(der.to_vec())))
            } else if looks_like_sec1(der) {
                parse_sec1(der)
            } else if SubjectPublicKeyInfoRef::from_der(der).is_ok()
                || rsa::pkcs1::RsaPublicKeyRef::from_der(der).is_ok()
            {
                Err(public_not_private())
            } else {
                Err(KeyError::NotAKeyFile)
            }
        }
    }
}

fn public_not_private() -> KeyError {
    KeyError::WrongKeyKind {
        found: "public",
        expected: "private",
    }
}

/// SEC1 `ECPrivateKey` starts `SEQUENCE { INTEGER 1, OCTET STRING ...`.
pub(crate) fn looks_like_sec1(der: &[u8]) -> bool {
    firmware::read_tlv(der, 0, der.len()).is_some_and(|outer| {
        outer.tag == 0x30
            && der.get(outer.value.start..outer.value.start + 4) == Some(&[0x02, 0x01, 0x01, 0x04])
    })
}

fn parse_sec1(der: &[u8]) -> Result<Parsed, KeyError> {
    match p256::SecretKey::from_sec1_der(der) {
        Ok(key) => Ok(Parsed::EcP256(key)),
        Err(_) if looks_like_sec1(der) => Ok(Parsed::Other(
            "an EC key on a curve other than P-256".into(),
        )),
        Err(_) => Err(KeyError::NotAKeyFile),
    }
}

fn parse_pkcs8(der: &[u8]) -> Result<Parsed, KeyError> {
    let info = PrivateKeyInfoRef::from_der(der).map_err(|_| KeyError::NotAKeyFile)?;
    let (oid, params) = info.algorithm.oids().map_err(|_| KeyError::NotAKeyFile)?;
    if oid == OID_RSA_ENCRYPTION {
        // The OCTET STRING inside PKCS#8 is the PKCS#1 key (the ~26 bytes OpenSSL 3 adds around it).
        return Ok(Parsed::Rsa(Zeroizing::new(
            info.private_key.as_bytes().to_vec(),
        )));
    }
    if oid == OID_EC_PUBLIC_KEY {
        if params == Some(OID_PRIME256V1) {
            return match p256::SecretKey::from_sec1_der(info.private_key.as_bytes()) {
                Ok(key) => Ok(Parsed::EcP256(key)),
                Err(_) => Err(KeyError::NotAKeyFile),
            };
        }
        return Ok(Parsed::Other(
            "an EC key on a curve other than P-256".into(),
        ));
    }
    Ok(Parsed::Other(format!(
        "a key of another algorithm (OID {oid})"
    )))
}

/// Checks an RSA key against what the firmware needs and re-encodes it until the fixed-offset
/// reading accepts it. The same key pair (same modulus, so the same public key) has several valid
/// PKCS#1 encodings: P and Q can swap places, and D can be taken modulo λ(n) or φ(n). One of them
/// usually avoids the short number that shifts the firmware's offsets.
fn rsa_for_firmware(pkcs1_der: &[u8]) -> Result<DevicePrivateKey, KeyError> {
    let raw =
        rsa::pkcs1::RsaPrivateKeyRef::from_der(pkcs1_der).map_err(|_| KeyError::NotAKeyFile)?;
    let bits = bit_len(raw.modulus.as_uint_ref().as_bytes());
    if bits != 1024 {
        return Err(KeyError::WrongKeySize {
            bits,
            expected: 1024,
        });
    }
    let e = strip_leading_zeros(raw.public_exponent.as_uint_ref().as_bytes());
    if e != [0x01, 0x00, 0x01] {
        return Err(KeyError::WrongExponent {
            exponent: exponent_text(e),
        });
    }
    let key = rsa::PrivateKey::from_pkcs1_der(pkcs1_der)
        .map_err(|_| KeyError::FirmwareCannotRead(firmware::UnusableReason::Corrupt))?;

    let first_reason = match encode_for_firmware(&key)? {
        Ok(found) => return Ok(found),
        Err(reason) => reason,
    };
    let p: BoxedUint = key.primes()[0].as_ref().clone();
    let q: BoxedUint = key.primes()[1].as_ref().clone();
    let e = BoxedUint::from(firmware::FIRMWARE_RSA_EXPONENT);
    // D + φ(n)/2 is also a valid private exponent: λ(n) divides φ(n)/2 because P − 1 and Q − 1
    // are both even. It stays below N and is at least 2^1021, so it always encodes in full length.
    let one = BoxedUint::one();
    let half_phi = p
        .wrapping_sub(&one)
        .concatenating_mul(&q.wrapping_sub(&one))
        .shr_vartime(1)
        .unwrap_or_default();
    let n: BoxedUint = key.n().as_ref().clone();
    let long_d = key.d().wrapping_add(&half_phi);
    let variants = [
        rsa::PrivateKey::from_p_q(q.clone(), p.clone(), e.clone()),
        rsa::PrivateKey::from_p_q(p.clone(), q.clone(), e.clone()),
        rsa::PrivateKey::from_primes(vec![p.clone(), q.clone()], e.clone()),
        rsa::PrivateKey::from_components(
            n.clone(),
            e.clone(),
            long_d.clone(),
            vec![p.clone(), q.clone()],
        ),
        rsa::PrivateKey::from_components(n, e.clone(), long_d, vec![q.clone(), p.clone()]),
        rsa::PrivateKey::from_primes(vec![q, p], e),
    ];
    for variant in variants.into_iter().flatten() {
        if let Ok(found) = encode_for_firmware(&variant)? {
            return Ok(found);
        }
    }
    Err(KeyError::FirmwareCannotRead(first_reason))
}

fn exponent_text(be: &[u8]) -> String {
    if be.len() <= 8 {
        let mut buf = [0u8; 8];
        buf[8 - be.len()..].copy_from_slice(be);
        u64::from_be_bytes(buf).to_string()
    } else {
        format!("a {}-bit number", bit_len(be))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_not_a_key_file() {
        for input in [&b""[..], b"\x30", b"\x30\x03\x02\x01\x00", b"not a key"] {
            assert!(load_device_private_key(input, KeyAlgorithm::Rsa1024).is_err());
        }
    }

    #[test]
    fn exponent_text_reads_small_numbers() {
        assert_eq!(exponent_text(&[3]), "3");
        assert_eq!(exponent_text(&[0x01, 0x00, 0x01]), "65537");
    }
}
