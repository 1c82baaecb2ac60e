//! The two curve calls of `keys::ec`, answered by the `p256` crate. Depends on nothing else, so
//! key-rescue-ec (src/bin/key-rescue-ec.rs) compiles this same file without linking the library
//! (and the page's stack with it).

/// `d·G` uncompressed for a private number `d` in 1..n−1, else `None`.
pub fn public_point(d: &[u8; 32]) -> Option<[u8; 65]> {
    let secret = p256::SecretKey::from_slice(&d[..]).ok()?;
    secret.public_key().to_sec1_bytes().as_ref().try_into().ok()
}

/// The point `sec1` encodes (uncompressed or compressed), uncompressed, if it is on P-256.
pub fn decode_point(sec1: &[u8]) -> Option<[u8; 65]> {
    let point = p256::PublicKey::from_sec1_bytes(sec1).ok()?;
    point.to_sec1_bytes().as_ref().try_into().ok()
}
