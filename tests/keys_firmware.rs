//! The firmware's fixed-offset reading against real keys made by OpenSSL (tests/keys_fixtures/):
//! keys a generic DER parser accepts but the firmware misreads, PKCS#8, wrong size and exponent,
//! truncated and garbage slots.

use key_rescue::keys::firmware::{
    FirmwarePrivateKey, KeyField, UnusableReason, derived_public_key_der, read_device_private_key,
};
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::der::pem;

fn pem_der(pem_text: &str) -> Vec<u8> {
    pem::decode_vec(pem_text.as_bytes()).unwrap().1
}

/// The key as the DCT holds it after a write: the DER, then whatever was there before (erased).
fn slot(der: &[u8]) -> Vec<u8> {
    let mut slot = der.to_vec();
    slot.resize(1216, 0xFF);
    slot
}

fn reason(slot_bytes: &[u8]) -> UnusableReason {
    match read_device_private_key(slot_bytes) {
        FirmwarePrivateKey::Unusable(reason) => reason,
        other => panic!("expected unusable, got {other:?}"),
    }
}

#[test]
fn openssl_pkcs1_key_is_usable_and_pkcs8_of_the_same_key_is_not() {
    let pkcs1 = include_bytes!("keys_fixtures/rsa1024_good_pkcs1.der");
    assert!(read_device_private_key(&slot(pkcs1)).is_usable());
    let pkcs8 = include_bytes!("keys_fixtures/rsa1024_good_pkcs8.der");
    assert_eq!(pkcs8.len(), 636);
    assert_eq!(reason(&slot(pkcs8)), UnusableReason::Pkcs8);
    // The PEM of the same PKCS#8 key, written raw, is not DER at all.
    let pem_text = include_bytes!("keys_fixtures/rsa1024_good_pkcs8.pem");
    assert_eq!(reason(&slot(pem_text)), UnusableReason::NotAnRsaKey);
}

#[test]
fn keys_with_a_short_number_are_valid_der_but_unusable() {
    let cases = [
        (
            include_str!("keys_fixtures/rsa1024_short_d_pkcs1.pem"),
            KeyField::PrivateExponent,
        ),
        (
            include_str!("keys_fixtures/rsa1024_short_dp_pkcs1.pem"),
            KeyField::Exponent1,
        ),
        (
            include_str!("keys_fixtures/rsa1024_short_dq_pkcs1.pem"),
            KeyField::Exponent2,
        ),
        (
            include_str!("keys_fixtures/rsa1024_short_qp_pkcs1.pem"),
            KeyField::Coefficient,
        ),
    ];
    for (pem_text, field) in cases {
        let der = pem_der(pem_text);
        // A generic parser is happy with it...
        assert!(rsa::PrivateKey::from_pkcs1_der(&der).is_ok(), "{field}");
        // ...the firmware is not.
        assert_eq!(
            reason(&slot(&der)),
            UnusableReason::ShortInteger { field },
            "{field}"
        );
        // The public key the firmware derives is still right: the modulus is at offset 11.
        let derived = derived_public_key_der(&slot(&der)).unwrap();
        let key = rsa::PrivateKey::from_pkcs1_der(&der).unwrap();
        use rsa::pkcs8::EncodePublicKey;
        assert_eq!(
            &derived[..],
            key.to_public_key().to_public_key_der().unwrap().as_bytes()
        );
    }
}

#[test]
fn wrong_size_and_wrong_exponent() {
    let rsa2048 = pem_der(include_str!("keys_fixtures/rsa2048_pkcs1.pem"));
    assert_eq!(
        reason(&slot(&rsa2048)),
        UnusableReason::WrongKeySize { bits: 2048 }
    );
    let e3 = pem_der(include_str!("keys_fixtures/rsa1024_e3_pkcs1.pem"));
    assert_eq!(reason(&slot(&e3)), UnusableReason::WrongExponent);
    let ec = include_bytes!("keys_fixtures/ec_p256_sec1.der");
    assert_eq!(reason(&slot(ec)), UnusableReason::NotAnRsaKey);
}

#[test]
fn truncated_garbage_and_blank() {
    let der = include_bytes!("keys_fixtures/rsa1024_good_pkcs1.der");
    for cut in [20, 150, 300, 500, der.len() - 1] {
        assert_eq!(
            reason(&slot(&der[..cut])),
            UnusableReason::Truncated,
            "{cut}"
        );
    }
    // Cut and followed by zeros instead of erased flash.
    let mut zeros = der[..400].to_vec();
    zeros.resize(612, 0);
    assert_eq!(reason(&zeros), UnusableReason::Truncated);
    assert_eq!(reason(&[0x00; 612]), UnusableReason::NotAnRsaKey);
    assert_eq!(reason(&[0x30; 612]), UnusableReason::NotAnRsaKey);
    assert!(matches!(
        read_device_private_key(&[0xFF; 612]),
        FirmwarePrivateKey::Blank
    ));
    // Only the first byte decides blankness.
    let mut almost = vec![0xFF; 612];
    almost[0] = 0xFE;
    assert!(!read_device_private_key(&almost).is_usable());
}

#[test]
fn unusable_reasons_serialize_for_the_ui() {
    let json = serde_json::to_string(&UnusableReason::ShortInteger {
        field: KeyField::PrivateExponent,
    })
    .unwrap();
    assert_eq!(
        json,
        r#"{"reason":"short_integer","field":"private_exponent"}"#
    );
    let text = UnusableReason::ShortInteger {
        field: KeyField::Prime1,
    }
    .to_string();
    assert!(
        text.starts_with("the key's P is one byte shorter"),
        "{text}"
    );
    assert!(!text.ends_with('.'));
}
