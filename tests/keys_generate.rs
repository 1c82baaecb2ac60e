//! RSA key generation (`keys::generate_rsa_key`, our own prime search in place of
//! `rsa::PrivateKey::new`): the keys are what rsa would make, and device keys still pass the
//! firmware's reading. The sieve itself is tested beside it (src/keys/keygen.rs).

use crypto_primes::{Flavor, is_prime};
use key_rescue::keys::{self, KeyError, firmware};
use rsa::BoxedUint;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::traits::{PrivateKeyParts, PublicKeyParts};

/// Everything a generated key must satisfy, for a modulus of `bits` bits.
fn check_key(key: &rsa::PrivateKey, bits: u32) {
    assert_eq!(key.n().bit_width(), bits);
    assert_eq!(key.e(), &BoxedUint::from(65537u64));
    let primes = key.primes();
    assert_eq!(primes.len(), 2);
    let (p, q): (&BoxedUint, &BoxedUint) = (primes[0].as_ref(), primes[1].as_ref());
    assert_ne!(p, q);
    for (prime, len) in [(p, bits / 2), (q, bits - bits / 2)] {
        assert_eq!(prime.bit_width_vartime(), len);
        // The top two bits are set, as rsa sets them.
        assert!(prime.bit_vartime(len - 2));
        assert!(is_prime(Flavor::Any, prime));
    }
    // p · q = n, multiplied in a width that cannot wrap.
    let product = BoxedUint::from_be_slice(&p.to_be_bytes(), bits)
        .unwrap()
        .wrapping_mul(q);
    assert_eq!(
        product.to_be_bytes_trimmed_vartime(),
        key.n().to_be_bytes_trimmed_vartime()
    );
    // rsa's own checks: e · d = 1 modulo p - 1 and q - 1, and the public key is well formed.
    key.validate().unwrap();
    // A PKCS#1 round trip gives the same key back.
    let der = key.to_pkcs1_der().unwrap();
    let parsed = rsa::PrivateKey::from_pkcs1_der(der.as_bytes()).unwrap();
    assert_eq!(parsed.n(), key.n());
    assert_eq!(parsed.d(), key.d());
}

#[test]
fn rsa_1024_keys_are_well_formed() {
    for _ in 0..8 {
        check_key(&keys::generate_rsa_key(1024).unwrap(), 1024);
    }
}

#[test]
fn rsa_2048_key_for_the_simulated_cloud_is_well_formed() {
    check_key(&keys::generate_rsa_key(2048).unwrap(), 2048);
}

#[test]
fn odd_lengths_split_like_rsa() {
    // rsa gives the first prime half the bits rounded down and the second the rest.
    check_key(&keys::generate_rsa_key(1025).unwrap(), 1025);
}

#[test]
fn keys_below_rsa_minimum_are_refused() {
    assert!(matches!(
        keys::generate_rsa_key(768),
        Err(KeyError::WrongKeySize { bits: 768, .. })
    ));
}

#[test]
fn device_keys_still_pass_the_firmware_reading() {
    for _ in 0..8 {
        let key = keys::generate_rsa_device_key().unwrap();
        assert!(key.der().len() <= keys::RSA_PRIVATE_KEY_SLOT_LEN);
        assert!(firmware::read_device_private_key(key.der()).is_usable());
        let parsed = rsa::PrivateKey::from_pkcs1_der(key.der()).unwrap();
        check_key(&parsed, 1024);
        let derived = firmware::derived_public_key_der(key.der()).unwrap();
        assert_eq!(&derived[..], &key.public_key().spki_der[..]);
    }
}
