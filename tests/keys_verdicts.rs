//! The diagnosis gives the firmware's verdict (Device OS v2.3.1 with its mbedTLS 2.22 fork and
//! configuration, issue 12), one test per kind of slot where a generic parser disagrees with it,
//! and the key-file import agrees with the diagnosis on each. Keys: tests/keys_fixtures/README.md.

use key_rescue::device::{KeyAlgorithm, Platform};
use key_rescue::keys::diagnose::PrivateKeyStatus;
use key_rescue::keys::firmware::{
    FirmwareEcKey, FirmwarePrivateKey, UnusableReason, derived_public_key_der,
    device_private_key_verdict, read_device_ec_key, read_device_private_key,
};
use key_rescue::keys::{
    DctSnapshot, KeyError, diagnose, generate_ec_device_key, load_device_private_key,
};
use rsa::pkcs8::der::pem;

const EC_SEC1: &[u8] = include_bytes!("keys_fixtures/ec_p256_sec1.der");
const EC_PUB: &[u8] = include_bytes!("keys_fixtures/ec_p256_pub.der");
const RSA_GOOD: &[u8] = include_bytes!("keys_fixtures/rsa1024_good_pkcs1.der");
const P256_OID: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// The order n of P-256.
const P256_N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

fn pem_der(pem_text: &[u8]) -> Vec<u8> {
    pem::decode_vec(pem_text).unwrap().1
}

fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    match value.len() {
        len @ 0..=127 => out.push(len as u8),
        len @ 128..=255 => out.extend([0x81, len as u8]),
        len => out.extend([0x82, (len >> 8) as u8, len as u8]),
    }
    out.extend_from_slice(value);
    out
}

/// A SEC1 `ECPrivateKey`: version 1, `d`, the `[0]` field's content, the `[1]` point.
fn sec1(d: &[u8], params: Option<&[u8]>, point: Option<&[u8]>) -> Vec<u8> {
    let mut body = tlv(0x02, &[1]);
    body.extend(tlv(0x04, d));
    if let Some(params) = params {
        body.extend(tlv(0xa0, params));
    }
    if let Some(point) = point {
        let mut bits = vec![0];
        bits.extend_from_slice(point);
        body.extend(tlv(0xa1, &tlv(0x03, &bits)));
    }
    tlv(0x30, &body)
}

/// The fixture key's private number and public point (`30 77 02 01 01 04 20 d…`, point at 56).
fn fixture_parts() -> (Vec<u8>, Vec<u8>) {
    assert_eq!(
        sec1(&EC_SEC1[7..39], Some(&P256_OID), Some(&EC_SEC1[56..])),
        EC_SEC1
    );
    (EC_SEC1[7..39].to_vec(), EC_SEC1[56..].to_vec())
}

/// The EC slot of a Gen 3 device (192 bytes at DCT 3106), the key followed by erased flash.
fn ec_slot(der: &[u8]) -> Vec<u8> {
    let mut slot = der.to_vec();
    slot.resize(192, 0xFF);
    slot
}

fn ec_reason(der: &[u8]) -> UnusableReason {
    match read_device_ec_key(&ec_slot(der)) {
        FirmwareEcKey::Unusable(reason) => reason,
        other => panic!("expected unusable, got {other:?}"),
    }
}

/// The diagnosis of an Argon whose EC slot holds `der`.
fn argon_status(der: &[u8]) -> PrivateKeyStatus {
    let mut dct = vec![0xFF; 3618];
    dct[3106..3106 + 192].copy_from_slice(&ec_slot(der));
    diagnose(Platform::Argon, &DctSnapshot::new(0, &dct), None).private_key
}

/// The diagnosis of a Photon whose RSA slot holds `der` (612 bytes, erased after the key).
fn photon_status(der: &[u8]) -> PrivateKeyStatus {
    let mut dct = vec![0xFF; 4096];
    let n = der.len().min(612);
    dct[34..34 + n].copy_from_slice(&der[..n]);
    diagnose(Platform::Photon, &DctSnapshot::new(0, &dct), None).private_key
}

fn valid_spki(status: &PrivateKeyStatus) -> Vec<u8> {
    match status {
        PrivateKeyStatus::Valid { public_key } => public_key.spki_der.clone(),
        other => panic!("expected valid, got {other:?}"),
    }
}

#[test]
fn an_ec_key_in_pkcs8_is_unusable_but_imports_as_sec1() {
    let pkcs8 = pem_der(include_bytes!("keys_fixtures/ec_p256_pkcs8.pem"));
    assert_eq!(ec_reason(&pkcs8), UnusableReason::EcPkcs8);
    assert_eq!(
        argon_status(&pkcs8),
        PrivateKeyStatus::Unusable {
            reason: UnusableReason::EcPkcs8
        }
    );
    let imported = load_device_private_key(&pkcs8, KeyAlgorithm::EcP256).unwrap();
    assert_eq!(imported.der(), EC_SEC1);
    assert_eq!(valid_spki(&argon_status(imported.der())), EC_PUB);
}

#[test]
fn a_sec1_key_without_curve_parameters_is_unusable_and_refused() {
    let (d, point) = fixture_parts();
    for der in [sec1(&d, None, Some(&point)), sec1(&d, None, None)] {
        assert_eq!(ec_reason(&der), UnusableReason::NoCurve);
        assert_eq!(
            argon_status(&der),
            PrivateKeyStatus::Unusable {
                reason: UnusableReason::NoCurve
            }
        );
        assert_eq!(
            load_device_private_key(&der, KeyAlgorithm::EcP256).unwrap_err(),
            KeyError::FirmwareCannotRead(UnusableReason::NoCurve)
        );
    }
}

#[test]
fn a_sec1_key_with_a_33_byte_private_number_is_usable_and_imports() {
    let (d, point) = fixture_parts();
    let mut long_d = vec![0x00];
    long_d.extend_from_slice(&d);
    let der = sec1(&long_d, Some(&P256_OID), Some(&point));
    assert!(read_device_ec_key(&ec_slot(&der)).is_usable());
    assert_eq!(valid_spki(&argon_status(&der)), EC_PUB);
    let imported = load_device_private_key(&der, KeyAlgorithm::EcP256).unwrap();
    assert_eq!(imported.der(), EC_SEC1);
    // The same without the stored point: mbedTLS computes it.
    let der = sec1(&long_d, Some(&P256_OID), None);
    assert_eq!(valid_spki(&argon_status(&der)), EC_PUB);
}

#[test]
fn explicit_curve_parameters_are_unusable_in_the_slot_but_import_with_the_curve_named() {
    let explicit = include_bytes!("keys_fixtures/ec_p256_sec1_explicit.der");
    // 364 bytes: the whole key is handed to the parser, which stops at the parameters.
    let mut long_slot = explicit.to_vec();
    long_slot.resize(612, 0xFF);
    match read_device_ec_key(&long_slot) {
        FirmwareEcKey::Unusable(UnusableReason::ExplicitCurveParameters) => {}
        other => panic!("{other:?}"),
    }
    for file in [
        &explicit[..],
        &pem_der(include_bytes!("keys_fixtures/ec_p256_pkcs8_explicit.pem"))[..],
    ] {
        let imported = load_device_private_key(file, KeyAlgorithm::EcP256).unwrap();
        assert_eq!(imported.der(), EC_SEC1);
        assert_eq!(imported.public_key().spki_der, EC_PUB);
    }
    // Parameters of another curve stay refused.
    let mut other = explicit.to_vec();
    let n_at = other
        .windows(4)
        .position(|w| w == [0xbc, 0xe6, 0xfa, 0xad])
        .unwrap();
    other[n_at] ^= 1;
    assert!(matches!(
        load_device_private_key(&other, KeyAlgorithm::EcP256),
        Err(KeyError::WrongAlgorithm { .. })
    ));
}

#[test]
fn an_rsa_key_with_a_corrupt_d_but_right_crt_values_is_usable() {
    // D's value starts at 147 or 148 (`02 81 80` or `02 81 81 00` at 144).
    let mut der = RSA_GOOD.to_vec();
    der[200] ^= 0x55;
    assert!(
        rsa::pkcs1::DecodeRsaPrivateKey::from_pkcs1_der(&der[..])
            .map(|_: rsa::PrivateKey| ())
            .is_err()
    );
    assert!(read_device_private_key(&pad(&der, 612)).is_usable());
    let good = valid_spki(&photon_status(RSA_GOOD));
    assert_eq!(valid_spki(&photon_status(&der)), good);
    // The import takes it too, with the same public key and D repaired.
    let imported = load_device_private_key(&der, KeyAlgorithm::Rsa1024).unwrap();
    assert_eq!(imported.public_key().spki_der, good);
    assert_eq!(valid_spki(&photon_status(imported.der())), good);
    // A wrong CRT value is still caught.
    let mut crt = RSA_GOOD.to_vec();
    let len = crt.len();
    crt[len - 10] ^= 0x55;
    assert!(!read_device_private_key(&pad(&crt, 612)).is_usable());
}

fn pad(der: &[u8], len: usize) -> Vec<u8> {
    let mut slot = der.to_vec();
    slot.resize(len, 0xFF);
    slot
}

#[test]
fn an_rsa_1023_key_decrypts_but_presents_a_wrong_public_key() {
    use rsa::pkcs8::EncodePublicKey;
    let der = pem_der(include_bytes!("keys_fixtures/rsa1023_pkcs1.pem"));
    assert_eq!(&der[7..10], &[0x02, 0x81, 0x80]);
    let slot = pad(&der, 612);
    // The firmware loads it (modulus read at 10) and could decrypt with it...
    let FirmwarePrivateKey::Usable(key) = read_device_private_key(&slot) else {
        panic!("the fixed-offset reading should load it")
    };
    // ...but presents the modulus copied from 11: not this key's public key.
    let own = key.to_public_key().to_public_key_der().unwrap();
    assert_ne!(&derived_public_key_der(&slot).unwrap()[..], own.as_bytes());
    let reason = UnusableReason::PresentsWrongPublicKey { bits: 1023 };
    assert!(matches!(
        device_private_key_verdict(&slot),
        FirmwarePrivateKey::Unusable(r) if r == reason
    ));
    assert_eq!(photon_status(&der), PrivateKeyStatus::Unusable { reason });
    assert_eq!(
        load_device_private_key(&der, KeyAlgorithm::Rsa1024).unwrap_err(),
        KeyError::WrongKeySize {
            bits: 1023,
            expected: 1024
        }
    );
}

#[test]
fn the_first_612_bytes_of_an_rsa_2048_key_are_the_wrong_size() {
    let der = pem_der(include_bytes!("keys_fixtures/rsa2048_pkcs1.pem"));
    assert_eq!(
        photon_status(&der),
        PrivateKeyStatus::Unusable {
            reason: UnusableReason::WrongKeySize { bits: 2048 }
        }
    );
}

#[test]
fn broken_ec_keys_are_unusable_for_the_reason_their_field_has() {
    let (d, point) = fixture_parts();
    let corrupt = |der: &[u8], reason: UnusableReason| {
        assert_eq!(ec_reason(der), reason);
        assert_eq!(
            argon_status(der),
            PrivateKeyStatus::Corrupt {
                reason: reason.clone()
            }
        );
        assert_eq!(
            load_device_private_key(der, KeyAlgorithm::EcP256).unwrap_err(),
            KeyError::FirmwareCannotRead(reason)
        );
    };
    corrupt(
        &sec1(&[0; 32], Some(&P256_OID), Some(&point)),
        UnusableReason::ZeroPrivateKey,
    );
    corrupt(
        &sec1(&[0; 32], Some(&P256_OID), None),
        UnusableReason::ZeroPrivateKey,
    );
    corrupt(
        &sec1(&P256_N, Some(&P256_OID), Some(&point)),
        UnusableReason::PrivateKeyOutOfRange,
    );
    corrupt(
        &sec1(&[0xFF; 32], Some(&P256_OID), None),
        UnusableReason::PrivateKeyOutOfRange,
    );
    let other = generate_ec_device_key().unwrap();
    // The uncompressed point ends the SEC1 encoding (its offset depends on the random key's
    // encoding, so take the last 65 bytes rather than a fixed offset).
    let other_der = other.der();
    let other_point = &other_der[other_der.len() - 65..];
    corrupt(
        &sec1(&d, Some(&P256_OID), Some(other_point)),
        UnusableReason::MismatchedPublicKey,
    );
    let mut off_curve = point.clone();
    off_curve[64] ^= 1;
    corrupt(
        &sec1(&d, Some(&P256_OID), Some(&off_curve)),
        UnusableReason::InvalidPublicKey,
    );
    // A point in compressed form is recomputed by mbedTLS, whatever it says.
    let mut compressed = vec![0x02];
    compressed.extend_from_slice(&other_point[1..33]);
    let der = sec1(&d, Some(&P256_OID), Some(&compressed));
    assert_eq!(valid_spki(&argon_status(&der)), EC_PUB);
    // Cut off and followed by erased flash.
    for cut in [20, 40, 60, 100, EC_SEC1.len() - 1] {
        assert_eq!(
            ec_reason(&EC_SEC1[..cut]),
            UnusableReason::Truncated,
            "{cut}"
        );
    }
    // Another curve is still the wrong curve; not a key at all is still that.
    let p384 = pem_der(include_bytes!("keys_fixtures/ec_p384_sec1.pem"));
    assert_eq!(
        argon_status(&p384),
        PrivateKeyStatus::Unusable {
            reason: UnusableReason::WrongCurve
        }
    );
    assert!(matches!(
        read_device_ec_key(&pad(RSA_GOOD, 612)),
        FirmwareEcKey::Unusable(UnusableReason::NotAnEcKey)
    ));
    // Longer than the slot: cut off.
    assert_eq!(ec_reason(RSA_GOOD), UnusableReason::Truncated);
    assert_eq!(ec_reason(&[0x00; 50]), UnusableReason::NotAnEcKey);
}
