//! The page's JSON route in headless Chromium: `JSON.parse` / `JSON.stringify` with
//! serde-wasm-bindgen (src/cloud/body.rs). The same fixtures as tests/cloud_bodies.rs (natively,
//! serde_json): the texts the former src/json.rs refused are refused, every response shape of
//! cloud-api.md parses, and the diagnostic report the page downloads is byte for byte what
//! `serde_json::to_string_pretty` writes.

#![cfg(target_arch = "wasm32")]

#[path = "json_fixtures/shapes.rs"]
mod shapes;

use key_rescue::cloud::body;
use key_rescue::cloud::{ApiResponse, SignInStep, parse_sign_in};
use key_rescue::device::{Platform, Transport};
use key_rescue::doctor::{CloudAccess, CloudDeviceSummary, Diagnosis, Identity};
use key_rescue::keys::{DctSnapshot, ServerAddressSpec, build_server_region, diagnose};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn every_text_the_old_parser_refused_is_refused_in_the_page() {
    let texts = shapes::refused_texts();
    assert_eq!(texts.len(), 41);
    for text in &texts {
        shapes::assert_refused(text);
    }
}

#[wasm_bindgen_test]
fn every_response_shape_of_the_reference_parses_in_the_page() {
    shapes::check_api_shapes();
}

/// Where `JSON.parse` and serde_json differ: a repeated member is the last one in the page, where
/// serde_json refuses a repeated known member (natively this body is an unexpected answer).
#[wasm_bindgen_test]
fn a_repeated_member_reads_as_its_last_value_in_the_page() {
    let body = r#"{"access_token":"t","access_token":"u"}"#;
    let session = parse_sign_in(&ApiResponse::new(200, body), SignInStep::Password).unwrap();
    assert_eq!(session.token.expose(), "u");
}

#[wasm_bindgen_test]
fn a_missing_member_is_named_in_the_page() {
    let err =
        body::read::<key_rescue::cloud::DeviceInfo>(r#"{"id":"a","product_id":6}"#).unwrap_err();
    assert!(err.contains("platform_id"), "{err}");
    let err = body::read::<key_rescue::cloud::DeviceInfo>("{").unwrap_err();
    assert!(err.starts_with("not JSON"), "{err}");
}

fn photon_dct(private: &[u8], server_region: &[u8]) -> Vec<u8> {
    let mut dct = vec![0xFF; 3630];
    dct[34..34 + private.len()].copy_from_slice(private);
    dct[2082..2082 + server_region.len()].copy_from_slice(server_region);
    dct[1825] = b'1';
    dct
}

/// Reports of a healthy, a PKCS#8, a corrupt and a blank Photon, with every kind of cloud answer.
fn diagnoses() -> Vec<Diagnosis> {
    let server = build_server_region(
        Platform::Photon,
        Transport::Tcp,
        None,
        &ServerAddressSpec::Unchanged,
    )
    .unwrap();
    let good = include_bytes!("keys_fixtures/rsa1024_good_pkcs1.der");
    let mut corrupt = photon_dct(good, &server);
    corrupt[300] ^= 0x10;
    let dcts = [
        photon_dct(good, &server),
        photon_dct(
            include_bytes!("keys_fixtures/rsa1024_good_pkcs8.der"),
            &server,
        ),
        corrupt,
        vec![0xFF; 3630],
    ];
    let clouds = [
        CloudAccess::SignedOut,
        CloudAccess::Allowed {
            product_id: Some(4242),
        },
        CloudAccess::Denied {
            reason: "a \"quoted\" reason\nover two lines".into(),
            hint: "Sign in with the account that owns it.".into(),
        },
        CloudAccess::Unavailable {
            reason: "tab\there, é, \u{1} and 😀".into(),
            hint: String::new(),
        },
    ];
    dcts.iter()
        .zip(clouds)
        .enumerate()
        .map(|(i, (dct, cloud))| Diagnosis {
            identity: Identity {
                platform: Platform::Photon,
                platform_name: "Photon",
                device_id: "0123456789abcdef01234567".into(),
                transfer_size: 4096,
                keys_layout: "@DCT Flash/0x00000000/1*16Kg".into(),
            },
            report: diagnose(
                Platform::Photon,
                &DctSnapshot::new(0, dct),
                Some("0123456789abcdef01234567"),
            ),
            cloud,
            cloud_device: (i % 2 == 0).then(|| CloudDeviceSummary {
                name: Some("sim_012345".into()),
                product_id: 6,
                platform_id: 6,
                online: i == 0,
                last_handshake_at: None,
            }),
        })
        .collect()
}

#[wasm_bindgen_test]
fn the_report_download_is_what_serde_json_writes() {
    for d in diagnoses() {
        assert_eq!(d.to_json(), serde_json::to_string_pretty(&d).unwrap());
    }
}
