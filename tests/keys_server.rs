//! The server-key region against the bytes `particle keys server` writes (particle-dct.md 6.3), and
//! the embedded copies of the CLI's key files against their published checksums.

use key_rescue::device::{
    PARTICLE_CORE_SERVER_REGION, PARTICLE_TCP_SERVER_REGION, PARTICLE_UDP_SERVER_REGION, Platform,
    Transport,
};
use key_rescue::keys::firmware::{
    FirmwareServerKey, decode_server_address, read_server_public_key,
};
use key_rescue::keys::{KeyError, ServerAddressSpec, build_server_region, ignored_udp_port};
use rsa::sha2::{Digest, Sha256};

/// The SHA-256 of some bytes in lower-case hex, as published checksums are written.
fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn host(host: &str, port: Option<u16>) -> ServerAddressSpec {
    ServerAddressSpec::Host {
        host: host.into(),
        port,
    }
}

#[test]
fn embedded_key_files_match_the_published_sha256() {
    assert_eq!(
        sha256_hex(PARTICLE_TCP_SERVER_REGION),
        "2a1c82fb5f28fe1ba95b4af966aca326eb22398b977fa2540233dbe703fddb16"
    );
    assert_eq!(
        sha256_hex(PARTICLE_CORE_SERVER_REGION),
        "f4e4ac980b56a88a50f359b5fb60b0313274685b27edbffe3e135f897b88744b"
    );
    assert_eq!(
        sha256_hex(PARTICLE_UDP_SERVER_REGION),
        "8bf15949f650e70f7a575b15585084ac12af597642427a5ca00a427d421affa4"
    );
    // Just the keys, as the firmware's built-in copies.
    assert_eq!(
        sha256_hex(&PARTICLE_TCP_SERVER_REGION[..294]),
        "aa8aba3c973ed4b668999047a09597948f36eefde525352e705fe8ef98c1677e"
    );
    assert_eq!(
        sha256_hex(&PARTICLE_UDP_SERVER_REGION[..91]),
        "a22c78edbbefc04dec7333da227fc6f6904754d17d042099c765a02864555183"
    );
}

#[test]
fn default_regions_are_the_shipped_files_unchanged() {
    let unchanged = ServerAddressSpec::Unchanged;
    let photon = build_server_region(Platform::Photon, Transport::Tcp, None, &unchanged).unwrap();
    assert_eq!(&photon[..], &PARTICLE_TCP_SERVER_REGION[..]);
    let core = build_server_region(Platform::Core, Transport::Tcp, None, &unchanged).unwrap();
    assert_eq!(&core[..], &PARTICLE_CORE_SERVER_REGION[..]);
    let argon = build_server_region(Platform::Argon, Transport::Udp, None, &unchanged).unwrap();
    assert_eq!(&argon[..], &PARTICLE_UDP_SERVER_REGION[..]);
}

#[test]
fn photon_ip_host_and_port_vector() {
    let region = build_server_region(
        Platform::Photon,
        Transport::Tcp,
        None,
        &host("192.168.1.10", Some(5683)),
    )
    .unwrap();
    assert_eq!(region.len(), 512);
    assert_eq!(&region[384..390], &[0x00, 0x04, 0xc0, 0xa8, 0x01, 0x0a]);
    assert_eq!(&region[450..452], &[0x16, 0x33]);
    // The key itself is untouched, and the old domain's tail stays behind as with the CLI.
    assert_eq!(&region[..294], &PARTICLE_TCP_SERVER_REGION[..294]);
    assert_eq!(&region[390..401], &PARTICLE_TCP_SERVER_REGION[390..401]);
}

#[test]
fn photon_domain_host_and_port_vector() {
    let region = build_server_region(
        Platform::Photon,
        Transport::Tcp,
        None,
        &host("my.server.example", Some(1234)),
    )
    .unwrap();
    let mut expected = vec![0x01, 0x11];
    expected.extend_from_slice(b"my.server.example");
    assert_eq!(&region[384..384 + expected.len()], &expected[..]);
    assert_eq!(&region[450..452], &[0x04, 0xd2]);
    // Without --port the stored port stays ff ff: the default.
    let no_port = build_server_region(
        Platform::Photon,
        Transport::Tcp,
        None,
        &host("my.server.example", None),
    )
    .unwrap();
    assert_eq!(&no_port[450..452], &[0xff, 0xff]);
}

#[test]
fn udp_and_core_offsets() {
    let region = build_server_region(
        Platform::Electron,
        Transport::Udp,
        None,
        &host("10.0.0.1", None),
    )
    .unwrap();
    assert_eq!(region.len(), 320);
    assert_eq!(&region[192..198], &[0, 4, 10, 0, 0, 1]);
    let core = build_server_region(
        Platform::Core,
        Transport::Tcp,
        None,
        &host("10.0.0.1", Some(80)),
    )
    .unwrap();
    assert_eq!(core.len(), 2048);
    assert_eq!(&core[384..390], &[0, 4, 10, 0, 0, 1]);
    assert_eq!(&core[450..452], &[0, 80]);
}

#[test]
fn custom_server_key_files() {
    let der = include_bytes!("keys_fixtures/server_rsa2048_pub.der");
    let pem = include_bytes!("keys_fixtures/server_rsa2048_pub.pem");
    let from_der = build_server_region(
        Platform::Photon,
        Transport::Tcp,
        Some(der),
        &host("cloud.example.com", None),
    )
    .unwrap();
    let from_pem = build_server_region(
        Platform::Photon,
        Transport::Tcp,
        Some(pem),
        &host("cloud.example.com", None),
    )
    .unwrap();
    assert_eq!(from_der, from_pem);
    assert_eq!(&from_der[..294], &der[..]);
    assert!(from_der[294..384].iter().all(|&b| b == 0xFF));
    assert!(matches!(
        read_server_public_key(&from_der),
        FirmwareServerKey::Usable(_)
    ));
    // The CLI's own region image given as a file is used whole.
    let image = build_server_region(
        Platform::Photon,
        Transport::Tcp,
        Some(PARTICLE_TCP_SERVER_REGION),
        &ServerAddressSpec::Unchanged,
    )
    .unwrap();
    assert_eq!(&image[..], &PARTICLE_TCP_SERVER_REGION[..]);
    // A P-256 server key for a UDP device.
    let ec = include_bytes!("keys_fixtures/ec_p256_pub.der");
    let region = build_server_region(
        Platform::Boron,
        Transport::Udp,
        Some(ec),
        &ServerAddressSpec::Unchanged,
    )
    .unwrap();
    assert_eq!(&region[..91], &ec[..]);
}

#[test]
fn bad_server_input_is_refused() {
    let tcp = |file: Option<&[u8]>, spec: ServerAddressSpec| {
        build_server_region(Platform::Photon, Transport::Tcp, file, &spec).unwrap_err()
    };
    let unchanged = ServerAddressSpec::Unchanged;
    // A 1024-bit key, an EC key for a TCP device, a private key, garbage.
    let rsa1024 = include_bytes!("keys_fixtures/rsa1024_good_pub.pem");
    assert_eq!(
        tcp(Some(rsa1024), unchanged.clone()),
        KeyError::WrongKeySize {
            bits: 1024,
            expected: 2048
        }
    );
    let ec = include_bytes!("keys_fixtures/ec_p256_pub.der");
    assert!(matches!(
        tcp(Some(ec), unchanged.clone()),
        KeyError::WrongAlgorithm { .. }
    ));
    let private = include_bytes!("keys_fixtures/rsa1024_good_pkcs1.pem");
    assert!(matches!(
        tcp(Some(private), unchanged.clone()),
        KeyError::WrongKeyKind { .. }
    ));
    let private_der = include_bytes!("keys_fixtures/rsa1024_good_pkcs8.der");
    assert!(matches!(
        tcp(Some(private_der), unchanged.clone()),
        KeyError::WrongKeyKind { .. }
    ));
    assert_eq!(
        tcp(Some(b"hello"), unchanged.clone()),
        KeyError::NotAKeyFile
    );
    assert_eq!(
        tcp(Some(&[0x30; 3000]), unchanged.clone()),
        KeyError::NotAKeyFile
    );
    assert_eq!(
        tcp(None, host("10.0.0.1", Some(0))),
        KeyError::InvalidPort { port: 0 }
    );
    assert!(matches!(
        tcp(None, host("not a host", None)),
        KeyError::InvalidHost { .. }
    ));
    assert!(matches!(
        build_server_region(Platform::Photon, Transport::Udp, None, &unchanged),
        Err(KeyError::NoSuchTransport(Transport::Udp))
    ));
    // Every error says what to do next.
    assert!(!KeyError::NotAKeyFile.hint().is_empty());
}

/// `particle keys server --host 10.0.0.1 --port 1234` on an Argon: the CLI writes the port at bytes
/// 258-259 of the UDP region (`_formatPublicKey`, `portOffset` 258), and the firmware then uses 5684
/// anyway (`system_cloud_connection.cpp` 161), which the page says.
#[test]
fn a_port_over_udp_is_written_as_the_cli_does_and_flagged_as_ignored() {
    let spec = host("10.0.0.1", Some(1234));
    let region = build_server_region(Platform::Argon, Transport::Udp, None, &spec).unwrap();
    assert_eq!(region.len(), 320);
    assert_eq!(&region[258..260], &[0x04, 0xd2]);
    assert_eq!(&region[192..198], &[0x00, 0x04, 10, 0, 0, 1]);
    // Everything else is the default region: Particle's key, then 0xFF up to the address block.
    let default = build_server_region(
        Platform::Argon,
        Transport::Udp,
        None,
        &ServerAddressSpec::Unchanged,
    )
    .unwrap();
    assert_eq!(&region[..192], &default[..192]);
    let block = decode_server_address(&region[192..]);
    assert_eq!(block.stored_port, 1234);
    assert_eq!(block.port(Transport::Udp), 5684);
    assert_eq!(ignored_udp_port(Transport::Udp, &spec), Some(1234));
    // 5684 itself, no port, and any port over TCP are used as written.
    assert_eq!(
        ignored_udp_port(Transport::Udp, &host("10.0.0.1", Some(5684))),
        None
    );
    assert_eq!(
        ignored_udp_port(Transport::Udp, &host("10.0.0.1", None)),
        None
    );
    assert_eq!(ignored_udp_port(Transport::Tcp, &spec), None);
    // Over TCP (Photon) the same port is used by the firmware.
    let photon = build_server_region(Platform::Photon, Transport::Tcp, None, &spec).unwrap();
    assert_eq!(&photon[450..452], &[0x04, 0xd2]);
    assert_eq!(
        decode_server_address(&photon[384..]).port(Transport::Tcp),
        1234
    );
    // The reserved values are still refused over UDP.
    assert_eq!(
        build_server_region(
            Platform::Argon,
            Transport::Udp,
            None,
            &host("10.0.0.1", Some(0xFFFF))
        ),
        Err(KeyError::InvalidPort { port: 0xFFFF })
    );
}

/// The page's test-cloud check reads a server-key region alone (`diagnose_server_key_region`, so the
/// page's first module carries no private-key code): it must say exactly what the whole diagnosis
/// says of the same bytes, for Particle's keys and a custom one, on TCP and UDP platforms.
#[test]
fn a_server_key_region_alone_reads_as_the_whole_diagnosis_reads_it() {
    use key_rescue::keys::{DctSnapshot, diagnose, diagnose_server_key_region};
    let custom = build_server_region(
        Platform::Photon,
        Transport::Tcp,
        Some(include_bytes!("keys_fixtures/server_rsa2048_pub.der")),
        &host("cloud.example.com", None),
    )
    .unwrap();
    let cases: [(Platform, &[u8]); 5] = [
        (Platform::Photon, &PARTICLE_TCP_SERVER_REGION[..]),
        (Platform::Photon, &custom[..]),
        (Platform::Photon, &[0xFF; 512][..]),
        (Platform::Boron, &PARTICLE_UDP_SERVER_REGION[..]),
        (Platform::Core, &PARTICLE_CORE_SERVER_REGION[..]),
    ];
    for (platform, region) in cases {
        let offset = platform.info().default_keys().server_key.offset;
        let snapshot = DctSnapshot::new(offset, region);
        assert_eq!(
            diagnose_server_key_region(platform, &snapshot),
            diagnose(platform, &snapshot, None).server_key,
            "{platform:?}"
        );
    }
}
