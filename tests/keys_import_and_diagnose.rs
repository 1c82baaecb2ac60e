//! Importing user key files into the firmware's format, and diagnosing whole DCT snapshots.

use key_rescue::device::{KeyAlgorithm, Platform, Transport};
use key_rescue::keys::diagnose::{PrivateKeyStatus, PublicKeySlotStatus, ServerKeyStatus};
use key_rescue::keys::firmware::{self, KeyField, UnusableReason};
use key_rescue::keys::{
    DctSnapshot, KeyError, ServerAddressSpec, build_server_region, diagnose,
    generate_ec_device_key, generate_rsa_device_key, load_device_private_key,
};
use rsa::pkcs8::der::pem;

const DEVICE_ID: &str = "0123456789ABCDEF01234567";

fn pem_der(pem_text: &str) -> Vec<u8> {
    pem::decode_vec(pem_text.as_bytes()).unwrap().1
}

#[test]
fn pkcs8_and_pem_files_become_the_same_pkcs1_der() {
    let expected = include_bytes!("keys_fixtures/rsa1024_good_pkcs1.der");
    for file in [
        &include_bytes!("keys_fixtures/rsa1024_good_pkcs1.der")[..],
        include_bytes!("keys_fixtures/rsa1024_good_pkcs1.pem"),
        include_bytes!("keys_fixtures/rsa1024_good_pkcs8.der"),
        include_bytes!("keys_fixtures/rsa1024_good_pkcs8.pem"),
    ] {
        let key = load_device_private_key(file, KeyAlgorithm::Rsa1024).unwrap();
        assert_eq!(key.der(), &expected[..]);
        assert!(firmware::read_device_private_key(key.der()).is_usable());
    }
    // CRLF line endings, as a file saved on Windows has.
    let crlf = include_str!("keys_fixtures/rsa1024_good_pkcs8.pem").replace('\n', "\r\n");
    assert!(load_device_private_key(crlf.as_bytes(), KeyAlgorithm::Rsa1024).is_ok());
}

#[test]
fn keys_with_a_short_qp_or_d_are_reencoded_with_the_same_public_key() {
    // Swapping P and Q gives another coefficient; recomputing D gives another private exponent.
    for (file, original) in [
        (
            &include_bytes!("keys_fixtures/rsa1024_short_qp_pkcs1.pem")[..],
            pem_der(include_str!("keys_fixtures/rsa1024_short_qp_pkcs1.pem")),
        ),
        (
            &include_bytes!("keys_fixtures/rsa1024_short_d_pkcs1.pem")[..],
            pem_der(include_str!("keys_fixtures/rsa1024_short_d_pkcs1.pem")),
        ),
    ] {
        assert!(!firmware::read_device_private_key(&original).is_usable());
        let key = load_device_private_key(file, KeyAlgorithm::Rsa1024).unwrap();
        assert!(firmware::read_device_private_key(key.der()).is_usable());
        assert_eq!(
            firmware::derived_public_key_der(key.der()),
            firmware::derived_public_key_der(&original)
        );
    }
    // A short DP cannot be fixed by reordering: DP is a function of D and P.
    let dp = include_bytes!("keys_fixtures/rsa1024_short_dp_pkcs1.pem");
    match load_device_private_key(dp, KeyAlgorithm::Rsa1024) {
        Ok(key) => assert!(firmware::read_device_private_key(key.der()).is_usable()),
        Err(KeyError::FirmwareCannotRead(UnusableReason::ShortInteger { field })) => {
            assert!(matches!(field, KeyField::Exponent1 | KeyField::Exponent2))
        }
        Err(other) => panic!("{other:?}"),
    }
}

#[test]
fn keys_that_cannot_work_are_refused() {
    let rsa = KeyAlgorithm::Rsa1024;
    assert_eq!(
        load_device_private_key(include_bytes!("keys_fixtures/rsa2048_pkcs1.pem"), rsa)
            .unwrap_err(),
        KeyError::WrongKeySize {
            bits: 2048,
            expected: 1024
        }
    );
    assert_eq!(
        load_device_private_key(include_bytes!("keys_fixtures/rsa1024_e3_pkcs1.pem"), rsa)
            .unwrap_err(),
        KeyError::WrongExponent {
            exponent: "3".into()
        }
    );
    assert!(matches!(
        load_device_private_key(include_bytes!("keys_fixtures/ec_p256_sec1.pem"), rsa),
        Err(KeyError::WrongAlgorithm { .. })
    ));
    assert!(matches!(
        load_device_private_key(include_bytes!("keys_fixtures/rsa1024_good_pub.pem"), rsa),
        Err(KeyError::WrongKeyKind { .. })
    ));
    assert!(matches!(
        load_device_private_key(
            include_bytes!("keys_fixtures/ec_p384_sec1.pem"),
            KeyAlgorithm::EcP256
        ),
        Err(KeyError::WrongAlgorithm { .. })
    ));
    assert_eq!(
        load_device_private_key(b"garbage", rsa).unwrap_err(),
        KeyError::NotAKeyFile
    );
}

#[test]
fn ec_keys_load_as_sec1() {
    let sec1 = include_bytes!("keys_fixtures/ec_p256_sec1.der");
    for file in [
        &sec1[..],
        include_bytes!("keys_fixtures/ec_p256_sec1.pem"),
        include_bytes!("keys_fixtures/ec_p256_pkcs8.pem"),
    ] {
        let key = load_device_private_key(file, KeyAlgorithm::EcP256).unwrap();
        assert_eq!(key.der(), &sec1[..]);
        assert_eq!(
            key.public_key().spki_der,
            include_bytes!("keys_fixtures/ec_p256_pub.der")
        );
    }
}

/// The server-key region `particle keys server` writes by default: Particle's key and address.
fn default_server_region(platform: Platform, transport: Transport) -> Vec<u8> {
    build_server_region(platform, transport, None, &ServerAddressSpec::Unchanged).unwrap()
}

/// A Photon DCT snapshot (offsets 0..3630) with the given private key and server region.
fn photon_dct(private: &[u8], server_region: &[u8]) -> Vec<u8> {
    let mut dct = vec![0xFF; 3630];
    dct[34..34 + private.len()].copy_from_slice(private);
    dct[2082..2082 + server_region.len()].copy_from_slice(server_region);
    dct[1825] = b'1';
    dct
}

#[test]
fn diagnose_a_healthy_photon() {
    let key = generate_rsa_device_key().unwrap();
    let server = default_server_region(Platform::Photon, Transport::Tcp);
    let mut dct = photon_dct(key.der(), &server);
    dct[1250..1250 + 162].copy_from_slice(&key.public_key().spki_der);
    let report = diagnose(
        Platform::Photon,
        &DctSnapshot::new(0, &dct),
        Some(DEVICE_ID),
    );
    match &report.private_key {
        PrivateKeyStatus::Valid { public_key } => {
            assert_eq!(public_key.fingerprint, key.public_key().fingerprint)
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        report.public_key_slot,
        PublicKeySlotStatus::MatchesPrivateKey
    );
    assert_eq!(report.server_key, ServerKeyStatus::ParticleProduction);
    let address = report.server_address.as_ref().unwrap();
    assert_eq!(address.host, "device.spark.io");
    assert_eq!(address.port, 5683);
    assert!(address.is_particle_default);
    assert_eq!(report.claimed, Some(true));
    assert!(report.summary.private_key_usable);
    assert!(report.summary.server_key_is_particle);

    // The JSON carries the public key and fingerprint but no private key byte.
    let json = report.to_json();
    assert!(json.contains("BEGIN PUBLIC KEY"));
    assert!(!json.contains("PRIVATE"));
    let private_b64 =
        rsa::pkcs8::der::pem::encode_string("X", rsa::pkcs8::LineEnding::LF, &key.der()[200..260])
            .unwrap();
    let middle = private_b64.lines().nth(1).unwrap();
    assert!(!json.contains(&middle[8..40]));
}

#[test]
fn diagnose_broken_photons() {
    let server = default_server_region(Platform::Photon, Transport::Tcp);
    let pkcs8 = include_bytes!("keys_fixtures/rsa1024_good_pkcs8.der");
    let dct = photon_dct(pkcs8, &server);
    let report = diagnose(Platform::Photon, &DctSnapshot::new(0, &dct), None);
    assert_eq!(
        report.private_key,
        PrivateKeyStatus::Unusable {
            reason: UnusableReason::Pkcs8
        }
    );
    assert!(!report.summary.private_key_usable);

    // Blank everything: the firmware generates a key and falls back to its built-in server settings.
    let blank = vec![0xFF; 3630];
    let report = diagnose(Platform::Photon, &DctSnapshot::new(0, &blank), None);
    assert_eq!(report.private_key, PrivateKeyStatus::Blank);
    assert_eq!(report.server_key, ServerKeyStatus::Blank);
    assert!(report.server_address.as_ref().unwrap().fallback);
    assert!(report.summary.server_key_is_particle);
    assert!(report.summary.address_is_particle);
    assert_eq!(report.claimed, Some(false));

    // A flipped bit in the server key: corrupt, and the firmware would use it anyway.
    let good = generate_rsa_device_key().unwrap();
    let mut flipped = server.clone();
    flipped[100] ^= 1;
    let dct = photon_dct(good.der(), &flipped);
    let report = diagnose(Platform::Photon, &DctSnapshot::new(0, &dct), None);
    assert!(matches!(report.server_key, ServerKeyStatus::Custom { .. }));
    let mut header = server.clone();
    header[5] ^= 1;
    let dct = photon_dct(good.der(), &header);
    let report = diagnose(Platform::Photon, &DctSnapshot::new(0, &dct), None);
    assert!(matches!(report.server_key, ServerKeyStatus::Corrupt { .. }));

    // A snapshot that misses the server key area.
    let report = diagnose(Platform::Photon, &DctSnapshot::new(0, &dct[..700]), None);
    assert_eq!(report.server_key, ServerKeyStatus::NotRead);
    assert!(report.server_address.is_none());
}

#[test]
fn diagnose_an_electron_in_both_transports() {
    let ec = generate_ec_device_key().unwrap();
    let mut dct = vec![0xFF; 3630];
    dct[3106..3106 + ec.der().len()].copy_from_slice(ec.der());
    let region = default_server_region(Platform::Electron, Transport::Udp);
    dct[3298..3298 + 320].copy_from_slice(&region);
    let report = diagnose(
        Platform::Electron,
        &DctSnapshot::new(0, &dct),
        Some(DEVICE_ID),
    );
    assert_eq!(report.transport.active, Transport::Udp);
    assert_eq!(report.transport.selector_byte, Some(0xFF));
    assert_eq!(report.private_key_algorithm, KeyAlgorithm::EcP256);
    assert!(matches!(report.private_key, PrivateKeyStatus::Valid { .. }));
    assert_eq!(report.server_key, ServerKeyStatus::ParticleProduction);
    let address = report.server_address.as_ref().unwrap();
    assert_eq!(address.host, "0123456789abcdef01234567.udp.particle.io");
    assert_eq!(address.port, 5684);
    assert!(address.is_particle_default);

    // Byte 2977 = 0x00 switches the Electron to the (blank) TCP slots.
    dct[2977] = 0x00;
    let report = diagnose(Platform::Electron, &DctSnapshot::new(0, &dct), None);
    assert_eq!(report.transport.active, Transport::Tcp);
    assert_eq!(report.private_key, PrivateKeyStatus::Blank);
}

#[test]
fn diagnose_a_core_from_spi_flash() {
    let key = generate_rsa_device_key().unwrap();
    let info = Platform::Core.info();
    let range = info.keys_snapshot_range();
    let mut flash = vec![0xFF; (range.end - range.start) as usize];
    let region = key_rescue::device::PARTICLE_CORE_SERVER_REGION;
    flash[..2048].copy_from_slice(region);
    flash[0x1000..0x1000 + key.der().len()].copy_from_slice(key.der());
    let report = diagnose(Platform::Core, &DctSnapshot::new(range.start, &flash), None);
    assert!(matches!(report.private_key, PrivateKeyStatus::Valid { .. }));
    assert_eq!(report.server_key, ServerKeyStatus::ParticleProduction);
    assert_eq!(report.claimed, None);
    assert_eq!(report.public_key_slot, PublicKeySlotStatus::Unknown);
}
