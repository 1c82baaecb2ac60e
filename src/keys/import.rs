//! Loading a private key file the user already has (for example a backup of the device's own key):
//! DER or PEM, PKCS#1, PKCS#8 or SEC1, converted to the exact form the device's slot needs, or
//! refused with the reason when it cannot work on that platform.

use super::firmware::{EcCurve, UnusableReason};
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
    EcP256(super::ec::EcKey),
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
            } else if is_sec1(der) {
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

/// Whether DER bytes are a SEC1 `ECPrivateKey` as mbedTLS reads it (version 1 and the fields it
/// requires), whatever the curve and numbers.
fn is_sec1(der: &[u8]) -> bool {
    !matches!(
        firmware::parse_sec1(der, true),
        Err(UnusableReason::NotAnEcKey | UnusableReason::EcPkcs8)
    )
}

fn parse_sec1(der: &[u8]) -> Result<Parsed, KeyError> {
    parse_ec(der, None)
}

/// A SEC1 key, alone or from inside PKCS#8 (`outer`: the PKCS#8 algorithm's curve). It is read
/// with the firmware's own reader, so the import takes every key the firmware can use; beyond
/// that it takes P-256 keys the firmware cannot read as they are but can after re-encoding: a
/// PKCS#8 wrapper, a private number with leading zero bytes (33 bytes), a curve spelled out
/// (explicit parameters) or named only in the PKCS#8 wrapper. [`DevicePrivateKey::from_ec`]
/// re-encodes as SEC1 with the curve named, which the firmware reads.
fn parse_ec(sec1: &[u8], outer: Option<EcCurve<'_>>) -> Result<Parsed, KeyError> {
    let other_curve = || {
        Ok(Parsed::Other(
            "an EC key on a curve other than P-256".into(),
        ))
    };
    let key = match firmware::parse_sec1(sec1, true) {
        Ok(key) => key,
        Err(UnusableReason::WrongCurve) => return other_curve(),
        Err(UnusableReason::NotAnEcKey | UnusableReason::EcPkcs8) => {
            return Err(KeyError::NotAKeyFile);
        }
        Err(reason) => return Err(KeyError::FirmwareCannotRead(reason)),
    };
    let is_p256 = |curve: EcCurve<'_>| match curve {
        EcCurve::Named(oid) => oid == firmware::P256_OID_VALUE,
        EcCurve::Explicit(params) => firmware::is_p256_explicit(params),
        EcCurve::Absent => false,
    };
    let curve = match (key.curve, outer) {
        (EcCurve::Absent, Some(outer)) => outer,
        // Both given: they must agree (mbedTLS `pk_use_ecparams`).
        (inner, Some(outer)) if is_p256(inner) != is_p256(outer) => {
            return Err(KeyError::NotAKeyFile);
        }
        (inner, _) => inner,
    };
    match curve {
        EcCurve::Absent => return Err(KeyError::FirmwareCannotRead(UnusableReason::NoCurve)),
        curve if !is_p256(curve) => return other_curve(),
        _ => {}
    }
    let named = EcCurve::Named(&firmware::P256_OID_VALUE);
    firmware::judge_ec_key(&key, named)
        .map(Parsed::EcP256)
        .map_err(KeyError::FirmwareCannotRead)
}

fn parse_pkcs8(der: &[u8]) -> Result<Parsed, KeyError> {
    use rsa::pkcs8::der::{Encode, Tag, Tagged};
    let info = PrivateKeyInfoRef::from_der(der).map_err(|_| KeyError::NotAKeyFile)?;
    let oid = info.algorithm.oid;
    if oid == OID_RSA_ENCRYPTION {
        // The OCTET STRING inside PKCS#8 is the PKCS#1 key (the ~26 bytes OpenSSL 3 adds around it).
        return Ok(Parsed::Rsa(Zeroizing::new(
            info.private_key.as_bytes().to_vec(),
        )));
    }
    if oid == OID_EC_PUBLIC_KEY {
        // The curve: a named-curve OID, or the curve spelled out (`openssl ... -param_enc explicit`).
        let params = info.algorithm.parameters;
        let explicit = match params {
            Some(any) if any.tag() == Tag::Sequence => {
                Some(any.to_der().map_err(|_| KeyError::NotAKeyFile)?)
            }
            _ => None,
        };
        let outer = match (&params, &explicit) {
            (_, Some(seq)) => EcCurve::Explicit(seq),
            (Some(any), None) if any.tag() == Tag::ObjectIdentifier => EcCurve::Named(any.value()),
            (None, None) => EcCurve::Absent,
            (Some(_), None) => return Err(KeyError::NotAKeyFile),
        };
        return parse_ec(info.private_key.as_bytes(), Some(outer));
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
    // A file that works on the device as it is gets taken, whatever a generic parser says of the
    // numbers the firmware does not use (D, and E, which the firmware hard-codes): the key the
    // firmware would load is re-encoded, so the import never refuses what the diagnosis accepts.
    if pkcs1_der.len() <= super::RSA_PRIVATE_KEY_SLOT_LEN {
        let mut slot = Zeroizing::new(pkcs1_der.to_vec());
        slot.resize(super::RSA_PRIVATE_KEY_SLOT_LEN, super::ERASED);
        if let firmware::FirmwarePrivateKey::Usable(key) =
            firmware::device_private_key_verdict(&slot)
        {
            return reencode_for_firmware(key);
        }
    }
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
    let key = match rsa::PrivateKey::from_pkcs1_der(pkcs1_der) {
        Ok(key) => key,
        // The firmware's private operations use only N, P, Q and the CRT values, never D (see
        // `firmware::read_device_private_key`), so a key whose D alone is wrong still works on the
        // device: rebuild it from P and Q, and keep it when that gives the same modulus.
        Err(_) => {
            let uint =
                |bytes: &[u8]| BoxedUint::from_be_slice(strip_leading_zeros(bytes), 1024).ok();
            let rebuilt = uint(raw.prime1.as_uint_ref().as_bytes())
                .zip(uint(raw.prime2.as_uint_ref().as_bytes()))
                .and_then(|(p, q)| {
                    rsa::PrivateKey::from_p_q(
                        p,
                        q,
                        BoxedUint::from(firmware::FIRMWARE_RSA_EXPONENT),
                    )
                    .ok()
                })
                .filter(|key| {
                    strip_leading_zeros(&key.n().to_be_bytes())
                        == strip_leading_zeros(raw.modulus.as_uint_ref().as_bytes())
                });
            rebuilt.ok_or(KeyError::FirmwareCannotRead(UnusableReason::Corrupt))?
        }
    };
    reencode_for_firmware(key)
}

/// Encodes a key the firmware can use in a form its fixed-offset reading accepts, trying the
/// equivalent encodings of the same key pair when the first has a short number.
fn reencode_for_firmware(key: rsa::PrivateKey) -> Result<DevicePrivateKey, KeyError> {
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
