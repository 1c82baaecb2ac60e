//! Known answers for the compact SHA-256 and AES the page is built with, run in headless Chromium.
//!
//! `.cargo/config.toml` gives wasm32 builds `sha2_backend_soft="compact"` and
//! `aes_backend_soft="compact"` (less code in the page); native builds keep the unrolled rounds, so
//! only these browser tests run the compact code. `scripts/test` runs them with the other `web*` tests.
#![cfg(target_arch = "wasm32")]

use aes::Aes128;
use aes::cipher::{BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use key_rescue::keys::fingerprint;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// FIPS 180-2 B.1 ("abc") and the empty message, as the page shows them: the first 8 bytes of
/// SHA-256, grouped.
#[wasm_bindgen_test]
fn fingerprint_is_sha256_with_the_compact_rounds() {
    assert_eq!(fingerprint(b""), "e3b0 c442 98fc 1c14");
    assert_eq!(fingerprint(b"abc"), "ba78 16bf 8f01 cfea");
    // Two blocks (FIPS 180-2 B.2): 448 bits of message push the length into a second block.
    assert_eq!(
        fingerprint(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
        "248d 6a61 d206 38b8"
    );
}

/// FIPS 197 appendix C.1: AES-128, both directions.
#[wasm_bindgen_test]
fn aes128_with_the_compact_rounds_matches_fips_197() {
    let key: [u8; 16] = unhex("000102030405060708090a0b0c0d0e0f")
        .try_into()
        .unwrap();
    let plain: [u8; 16] = unhex("00112233445566778899aabbccddeeff")
        .try_into()
        .unwrap();
    let cipher = Aes128::new(&key.into());
    let mut block = plain.into();
    cipher.encrypt_block(&mut block);
    assert_eq!(block.to_vec(), unhex("69c4e0d86a7b0430d8cdb78070b4c55a"));
    cipher.decrypt_block(&mut block);
    assert_eq!(block.to_vec(), plain.to_vec());
}
