//! Every parser in `keys` takes bytes from a device or a user's file: none may panic, whatever the
//! bytes. Property tests feed them random and mutated inputs.
#![cfg(not(target_arch = "wasm32"))] // proptest does not build for wasm32.

use key_rescue::device::{KeyAlgorithm, PLATFORMS, Platform, Transport};
use key_rescue::keys::firmware::{
    decode_server_address, derived_public_key_der, read_device_private_key, read_server_public_key,
};
use key_rescue::keys::{
    DctSnapshot, ServerAddressSpec, build_server_region, diagnose, load_device_private_key,
};
use proptest::prelude::*;

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
