//! `key-rescue-ec`: the page's P-256 arithmetic as its own small WebAssembly module, loaded only
//! when a device with EC keys is connected (`ui::ec_module`, `keys::ec`). It exports the two calls
//! of `keys::ec::EcMath`, answered by the `p256` crate through `src/keys/ec_p256.rs`, which it
//! compiles itself: it does not link the library, so none of the page's stack comes with it.
//! Built with the `ec` feature by www/index.html; natively it only says what it is.

#[cfg(target_arch = "wasm32")]
#[path = "../keys/ec_p256.rs"]
mod ec_p256;

#[cfg(target_arch = "wasm32")]
mod exports {
    use super::ec_p256;
    use wasm_bindgen::prelude::*;
    use zeroize::Zeroize;

    /// `d·G` uncompressed (65 bytes) for a 32-byte private number in 1..n−1, else `undefined`.
    /// The private number is zeroed once used: in this module's memory, and (wasm-bindgen copies a
    /// `&mut [u8]` back) in the caller's array.
    #[wasm_bindgen(js_name = ecPublicPoint)]
    pub fn ec_public_point(d: &mut [u8]) -> Option<Vec<u8>> {
        let point = <&[u8; 32]>::try_from(&*d)
            .ok()
            .and_then(ec_p256::public_point)
            .map(|p| p.to_vec());
        d.zeroize();
        point
    }

    /// The point `sec1` encodes, uncompressed, if it is on P-256, else `undefined`.
    #[wasm_bindgen(js_name = ecDecodePoint)]
    pub fn ec_decode_point(sec1: &[u8]) -> Option<Vec<u8>> {
        ec_p256::decode_point(sec1).map(|p| p.to_vec())
    }
}

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("key-rescue-ec is the page's P-256 code, a WebAssembly module: run `scripts/serve`");
}
