//! Every parser in `keys` takes bytes from a device or a user's file: none may panic, whatever the
//! bytes. Property tests feed them random and mutated inputs.
#![cfg(not(target_arch = "wasm32"))] // proptest does not build for wasm32.

use key_rescue::device::{KeyAlgorithm, PLATFORMS, Platform, Transport};
use key_rescue::keys::diagnose::PrivateKeyStatus;
use key_rescue::keys::firmware::{
    decode_server_address, derived_public_key_der, read_device_private_key, read_server_public_key,
};
use key_rescue::keys::{
    DctSnapshot, ServerAddressSpec, build_server_region, diagnose, load_device_private_key,
};
use proptest::prelude::*;
use rsa::pkcs8::der::Decode;

const GOOD_PKCS1: &[u8] = include_bytes!("keys_fixtures/rsa1024_good_pkcs1.der");

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn firmware_readers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1300)) {
        let _ = read_device_private_key(&bytes);
        let _ = read_server_public_key(&bytes);
        let _ = derived_public_key_der(&bytes);
        let _ = decode_server_address(&bytes);
    }

    #[test]
    fn mutated_keys_never_panic_and_never_read_as_the_original(
        index in 0usize..GOOD_PKCS1.len(),
        value in any::<u8>(),
        cut in 0usize..700,
    ) {
        let mut slot = GOOD_PKCS1.to_vec();
        slot.resize(1216, 0xFF);
        let changed = slot[index] != value;
        slot[index] = value;
        let read = read_device_private_key(&slot);
        // Any change inside the numbers the firmware reads must be caught by the consistency check;
        // changes in bytes the firmware skips (tags, length bytes it does not look at) are harmless.
        if changed && (11..139).contains(&index) {
            prop_assert!(!read.is_usable());
        }
        let _ = read_device_private_key(&slot[..cut.min(slot.len())]);
    }

    #[test]
    fn file_loaders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..800)) {
        let _ = load_device_private_key(&bytes, KeyAlgorithm::Rsa1024);
        let _ = load_device_private_key(&bytes, KeyAlgorithm::EcP256);
        let _ = build_server_region(Platform::Photon, Transport::Tcp, Some(&bytes), &ServerAddressSpec::Unchanged);
        let _ = build_server_region(Platform::Argon, Transport::Udp, Some(&bytes), &ServerAddressSpec::Unchanged);
    }

    #[test]
    fn pem_looking_input_never_panics(body in "[A-Za-z0-9+/=\r\n -]{0,300}", label in "(RSA |EC |ENCRYPTED )?(PRIVATE|PUBLIC) KEY") {
        let text = format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----\n");
        let _ = load_device_private_key(text.as_bytes(), KeyAlgorithm::Rsa1024);
        let _ = build_server_region(Platform::Photon, Transport::Tcp, Some(text.as_bytes()), &ServerAddressSpec::Unchanged);
    }

    #[test]
    fn host_and_port_never_panic(host in "\\PC{0,80}", port in proptest::option::of(any::<u16>())) {
        for platform in [Platform::Photon, Platform::Core, Platform::Electron] {
            let transport = platform.info().default_transport;
            let spec = ServerAddressSpec::Host { host: host.clone(), port };
            if let Ok(region) = build_server_region(platform, transport, None, &spec) {
                prop_assert_eq!(region.len(), platform.info().default_keys().server_key.size as usize);
                // What was written decodes back to the same host.
                let slot = platform.info().default_keys().server_key;
                let block = decode_server_address(&region[slot.address_offset as usize..]);
                prop_assert!(!block.is_fallback());
            }
        }
    }

    #[test]
    fn diagnosis_never_panics(
        bytes in proptest::collection::vec(any::<u8>(), 0..4000),
        base in 0u32..5000,
        platform in 0usize..PLATFORMS.len(),
    ) {
        let platform = PLATFORMS[platform].platform;
        let report = diagnose(platform, &DctSnapshot::new(base, &bytes), Some("0123456789abcdef01234567"));
        // Byte for byte what serde_json wrote before src/json.rs replaced it.
        prop_assert_eq!(report.to_json(), serde_json::to_string(&report).unwrap());
    }
}

/// The slot diagnosis of `bytes` written to the active private-key slot of a Photon (RSA, 612
/// bytes at 34) or an Argon (EC, 192 bytes at 3106), erased flash after them.
fn slot_status(algorithm: KeyAlgorithm, bytes: &[u8]) -> PrivateKeyStatus {
    let (platform, offset, len) = match algorithm {
        KeyAlgorithm::EcP256 => (Platform::Argon, 3106, 192),
        _ => (Platform::Photon, 34, 612),
    };
    let mut dct = vec![0xFF; 3618];
    let n = bytes.len().min(len);
    dct[offset..offset + n].copy_from_slice(&bytes[..n]);
    diagnose(platform, &DctSnapshot::new(0, &dct), None).private_key
}

fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    match value.len() {
        len @ 0..=127 => out.push(len as u8),
        len => out.extend([0x81, len as u8]),
    }
    out.extend_from_slice(value);
    out
}

/// Keys on both sides of every row of issue 12's table, for the agreement property to mutate.
fn agreement_seeds() -> Vec<(KeyAlgorithm, Vec<u8>)> {
    let pem = |text: &[u8]| rsa::pkcs8::der::pem::decode_vec(text).unwrap().1;
    let ec = include_bytes!("keys_fixtures/ec_p256_sec1.der");
    let (d, point) = (&ec[7..39], &ec[56..]);
    let oid = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    let sec1 = |d: &[u8], params: Option<&[u8]>, point: Option<&[u8]>| {
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
    };
    let mut long_d = vec![0];
    long_d.extend_from_slice(d);
    let mut corrupt_d = GOOD_PKCS1.to_vec();
    corrupt_d[200] ^= 0x55;
    let rsa = KeyAlgorithm::Rsa1024;
    let p256 = KeyAlgorithm::EcP256;
    vec![
        (rsa, GOOD_PKCS1.to_vec()),
        (rsa, corrupt_d),
        (rsa, pem(include_bytes!("keys_fixtures/rsa1023_pkcs1.pem"))),
        (
            rsa,
            pem(include_bytes!("keys_fixtures/rsa1024_short_d_pkcs1.pem")),
        ),
        (
            rsa,
            include_bytes!("keys_fixtures/rsa1024_good_pkcs8.der").to_vec(),
        ),
        (p256, ec.to_vec()),
        (p256, sec1(&long_d, Some(&oid), Some(point))),
        (p256, sec1(d, Some(&oid), None)),
        (p256, sec1(d, None, Some(point))),
        (p256, pem(include_bytes!("keys_fixtures/ec_p256_pkcs8.pem"))),
        (
            p256,
            include_bytes!("keys_fixtures/ec_p256_sec1_explicit.der").to_vec(),
        ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Issue 12: the diagnosis and the key-file import never disagree. What the import accepts and
    /// writes diagnoses as valid with the same public key; a slot that diagnoses as valid holds a
    /// key the import accepts (given as the DER key it holds), with the same public key. For RSA
    /// the second half applies to slots whose DER is well formed: the fixed-offset reading also
    /// accepts slots whose tags and lengths are damaged where it does not look, and those are not
    /// a key file.
    #[test]
    fn import_and_diagnosis_agree(
        seed in 0usize..11,
        mutations in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..3),
        cut in proptest::option::of(any::<usize>()),
    ) {
        let (algorithm, mut bytes) = agreement_seeds().swap_remove(seed);
        for (at, value) in mutations {
            let at = at % bytes.len();
            bytes[at] = value;
        }
        if let Some(cut) = cut {
            bytes.truncate(cut % (bytes.len() + 1));
        }
        if let Ok(key) = load_device_private_key(&bytes, algorithm) {
            match slot_status(algorithm, key.der()) {
                PrivateKeyStatus::Valid { public_key } => {
                    prop_assert_eq!(&public_key.spki_der, &key.public_key().spki_der);
                }
                other => prop_assert!(false, "imported key diagnoses as {:?}", other),
            }
        }
        if let PrivateKeyStatus::Valid { public_key } = slot_status(algorithm, &bytes) {
            // The key as the slot holds it: the bytes, then erased flash.
            let slot_len = if algorithm == KeyAlgorithm::EcP256 { 192 } else { 612 };
            let mut slot = bytes.clone();
            slot.resize(slot_len.max(bytes.len()), 0xFF);
            let der = &slot[..read_tlv_len(&slot).unwrap_or(slot_len).min(slot.len())];
            let applies = algorithm == KeyAlgorithm::EcP256
                || rsa::pkcs1::RsaPrivateKeyRef::from_der(der).is_ok();
            if applies {
                match load_device_private_key(der, algorithm) {
                    Ok(key) => prop_assert_eq!(&key.public_key().spki_der, &public_key.spki_der),
                    Err(e) => prop_assert!(false, "valid slot refused by the import: {}", e),
                }
            }
        }
    }
}

/// The length of the DER SEQUENCE at the start (header and value), if its header reads.
fn read_tlv_len(bytes: &[u8]) -> Option<usize> {
    let first = *bytes.get(1)?;
    let (len, header) = match first {
        0..=0x7f => (first as usize, 2),
        0x81 => (*bytes.get(2)? as usize, 3),
        0x82 => ((*bytes.get(2)? as usize) << 8 | *bytes.get(3)? as usize, 4),
        _ => return None,
    };
    Some(header + len)
}
