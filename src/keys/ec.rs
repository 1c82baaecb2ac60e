//! P-256 arithmetic behind two calls, so the page can leave it out of its start module.
//!
//! The key code needs only two things from the curve: a private number's public point, and whether
//! stored bytes are a point on the curve. Everything else about EC keys (SEC1 and SPKI encodings,
//! the range of the private number, the firmware's reading) is byte work here and in `firmware.rs`.
//! The arithmetic comes from an [`EcMath`] backend:
//! - natively, in the simulated mode's module and in the browser tests, the `p256` crate
//!   ([`P256`]), always there;
//! - in the page (wasm32 without the `sim` feature), the same crate in its own small WebAssembly
//!   module, `key-rescue-ec`, which the page loads and installs ([`install`]) only when a device
//!   with EC keys is connected (`ui::ec_module`), so a Photon's repair never downloads it.
//!
//! Without a backend every call answers [`EcError::Unavailable`]; the doctor loads one before it
//! reads an EC device's slots ([`ensure_loaded`]), so the verdicts never rest on a missing backend.

use super::firmware::P256_OID_VALUE;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use thiserror::Error;
use zeroize::Zeroizing;

/// An uncompressed point (`04 || x || y`).
pub const POINT_LEN: usize = 65;
pub type Point = [u8; POINT_LEN];

/// P-256's generator, uncompressed (SEC 2, 2.4.2).
pub const GENERATOR: Point = hex65(
    b"046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c2964fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5",
);

const fn hex65(hex: &[u8; 130]) -> Point {
    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            _ => c - b'a' + 10,
        }
    }
    let mut out = [0u8; POINT_LEN];
    let mut i = 0;
    while i < POINT_LEN {
        out[i] = nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]);
        i += 1;
    }
    out
}

/// The curve arithmetic the key code needs.
pub trait EcMath: Send + Sync {
    /// `d·G` uncompressed, for a private number `d` (32 bytes, big-endian) in 1..n−1; `None`
    /// outside that range.
    fn public_point(&self, d: &[u8; 32]) -> Option<Point>;
    /// `sec1` (uncompressed `04`, or compressed `02`/`03`) as an uncompressed point on P-256;
    /// `None` when it is not a point on the curve.
    fn decode_point(&self, sec1: &[u8]) -> Option<Point>;
}

/// Why a curve operation did not answer.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EcError {
    /// The page has not loaded its P-256 module (see [`ensure_loaded`]).
    #[error("the page's P-256 code is not loaded")]
    Unavailable,
}

/// A P-256 private key: the private number and its public point. Zeroized on drop; `Debug` hides
/// the number.
#[derive(Clone)]
pub struct EcKey {
    d: Zeroizing<[u8; 32]>,
    point: Point,
}

impl std::fmt::Debug for EcKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EcKey(redacted)")
    }
}

impl EcKey {
    /// The key of private number `d` (32 bytes): `Ok(None)` when `d` is not in 1..n−1.
    pub fn from_private(d: &[u8; 32]) -> Result<Option<Self>, EcError> {
        Ok(backend()?.public_point(d).map(|point| Self {
            d: Zeroizing::new(*d),
            point,
        }))
    }

    /// A new key from the browser's (or the system's) random source.
    pub fn generate() -> Result<Self, String> {
        loop {
            let mut d = Zeroizing::new([0u8; 32]);
            getrandom::fill(&mut d[..]).map_err(|e| e.to_string())?;
            // Values at or above n (about 2^-32 of them) or zero are drawn again.
            if let Some(key) = Self::from_private(&d).map_err(|e| e.to_string())? {
                return Ok(key);
            }
        }
    }

    /// The public point, uncompressed.
    pub fn point(&self) -> &Point {
        &self.point
    }

    /// SEC1 `ECPrivateKey` DER with the curve named and the public key (121 bytes): the form
    /// `openssl ec -outform DER` writes and mbedTLS reads.
    pub fn to_sec1_der(&self) -> Zeroizing<Vec<u8>> {
        let mut der = Zeroizing::new(Vec::with_capacity(121));
        der.extend_from_slice(&[0x30, 0x77, 0x02, 0x01, 0x01, 0x04, 0x20]);
        der.extend_from_slice(&self.d[..]);
        der.extend_from_slice(&[0xa0, 0x0a, 0x06, 0x08]);
        der.extend_from_slice(&P256_OID_VALUE);
        der.extend_from_slice(&[0xa1, 0x44, 0x03, 0x42, 0x00]);
        der.extend_from_slice(&self.point);
        der
    }
}

/// `SubjectPublicKeyInfo` DER of a P-256 point (91 bytes): id-ecPublicKey, prime256v1, the point.
pub fn spki_der(point: &Point) -> Vec<u8> {
    let mut der = Vec::with_capacity(91);
    der.extend_from_slice(&[
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08,
    ]);
    der.extend_from_slice(&P256_OID_VALUE);
    der.extend_from_slice(&[0x03, 0x42, 0x00]);
    der.extend_from_slice(point);
    der
}

/// `sec1` as an uncompressed point on P-256, `None` when it is not one.
pub fn decode_point(sec1: &[u8]) -> Result<Option<Point>, EcError> {
    Ok(backend()?.decode_point(sec1))
}

static INSTALLED: OnceLock<&'static dyn EcMath> = OnceLock::new();

/// What loads a backend on demand (the page's `key-rescue-ec` module); set once by the page.
pub type Loader = fn() -> Pin<Box<dyn Future<Output = Result<(), String>>>>;
static LOADER: OnceLock<Loader> = OnceLock::new();

/// Installs the backend (the page's loaded module). The first one stays.
pub fn install(backend: &'static dyn EcMath) {
    let _ = INSTALLED.set(backend);
}

/// Sets what [`ensure_loaded`] calls when no backend is there yet.
pub fn set_loader(loader: Loader) {
    let _ = LOADER.set(loader);
}

/// Whether P-256 arithmetic is there now.
pub fn available() -> bool {
    backend().is_ok()
}

/// Makes P-256 arithmetic available: at once where it is built in, else through the loader (the
/// page downloads its EC module). `Err` says why it could not be loaded.
pub async fn ensure_loaded() -> Result<(), String> {
    if available() {
        return Ok(());
    }
    let Some(load) = LOADER.get() else {
        return Err("this build has no P-256 code and no way to load it".into());
    };
    load().await?;
    if available() {
        Ok(())
    } else {
        Err("the P-256 module loaded but did not install itself".into())
    }
}

fn backend() -> Result<&'static dyn EcMath, EcError> {
    INSTALLED
        .get()
        .copied()
        .or(BUILT_IN)
        .ok_or(EcError::Unavailable)
}

#[cfg(any(not(target_arch = "wasm32"), feature = "sim", feature = "ec"))]
const BUILT_IN: Option<&'static dyn EcMath> = Some(&P256);
#[cfg(not(any(not(target_arch = "wasm32"), feature = "sim", feature = "ec")))]
const BUILT_IN: Option<&'static dyn EcMath> = None;

/// The `p256` crate as the backend.
#[cfg(any(not(target_arch = "wasm32"), feature = "sim", feature = "ec"))]
pub struct P256;

#[cfg(any(not(target_arch = "wasm32"), feature = "sim", feature = "ec"))]
impl EcMath for P256 {
    fn public_point(&self, d: &[u8; 32]) -> Option<Point> {
        super::ec_p256::public_point(d)
    }

    fn decode_point(&self, sec1: &[u8]) -> Option<Point> {
        super::ec_p256::decode_point(sec1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_is_the_public_point_of_one() {
        let mut one = [0u8; 32];
        one[31] = 1;
        assert_eq!(P256.public_point(&one), Some(GENERATOR));
        assert_eq!(P256.public_point(&[0u8; 32]), None);
        assert_eq!(P256.public_point(&[0xFF; 32]), None, "above n");
        assert_eq!(P256.decode_point(&GENERATOR), Some(GENERATOR));
        let mut compressed = GENERATOR[..33].to_vec();
        compressed[0] = 0x02 | (GENERATOR[64] & 1);
        assert_eq!(P256.decode_point(&compressed), Some(GENERATOR));
        let mut off = GENERATOR;
        off[64] ^= 1;
        assert_eq!(P256.decode_point(&off), None);
    }

    #[test]
    fn encodings_match_the_p256_crate() {
        use p256::pkcs8::EncodePublicKey;
        let key = EcKey::generate().unwrap();
        let parsed = p256::SecretKey::from_sec1_der(&key.to_sec1_der()).unwrap();
        assert_eq!(
            parsed.to_sec1_der().unwrap().as_slice(),
            &key.to_sec1_der()[..]
        );
        assert_eq!(
            parsed.public_key().to_public_key_der().unwrap().as_bytes(),
            &spki_der(key.point())[..]
        );
    }
}
