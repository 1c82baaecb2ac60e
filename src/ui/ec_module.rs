//! The page's side of its P-256 code, which lives in its own WebAssembly module (key-rescue-ec)
//! loaded only for a device with EC keys (`keys::ec`): [`install_loader`] tells `keys::ec` how to
//! load it, and the loaded module answers through [`Loaded`]. With the `sim` feature (the browser
//! tests, the simulated mode's module) the `p256` crate is built in and nothing is loaded.

#[cfg(not(feature = "sim"))]
mod bridge {
    use crate::keys::ec::{self, EcMath, Point};
    use wasm_bindgen::prelude::*;
    use wasm_bindgen_futures::JsFuture;

    #[wasm_bindgen(module = "/www/load-ec.js")]
    extern "C" {
        #[wasm_bindgen(js_name = loadEc)]
        fn load_ec() -> js_sys::Promise;
        /// Zeroes `d` (the module zeroes its copy and wasm-bindgen copies it back).
        #[wasm_bindgen(js_name = ecPublicPoint)]
        fn ec_public_point(d: &mut [u8]) -> Option<Vec<u8>>;
        #[wasm_bindgen(js_name = ecDecodePoint)]
        fn ec_decode_point(sec1: &[u8]) -> Option<Vec<u8>>;
    }

    /// The loaded key-rescue-ec module as the backend.
    struct Loaded;

    /// A point from the module (a 65-byte array), `None` for anything else.
    fn point(bytes: Option<Vec<u8>>) -> Option<Point> {
        bytes?.try_into().ok()
    }

    impl EcMath for Loaded {
        fn public_point(&self, d: &[u8; 32]) -> Option<Point> {
            // A scratch copy crosses to the module and comes back zeroed; `d` stays the caller's.
            let mut scratch = zeroize::Zeroizing::new(*d);
            point(ec_public_point(&mut scratch[..]))
        }

        fn decode_point(&self, sec1: &[u8]) -> Option<Point> {
            point(ec_decode_point(sec1))
        }
    }

    pub fn install_loader() {
        ec::set_loader(|| {
            Box::pin(async {
                JsFuture::from(load_ec()).await.map_err(|e| {
                    crate::ui::js_error_text(&e).unwrap_or_else(|| "the module did not load".into())
                })?;
                ec::install(&Loaded);
                Ok(())
            })
        });
    }
}

/// Tells `keys::ec` how to load the page's P-256 module (once, at start).
#[cfg(not(feature = "sim"))]
pub use bridge::install_loader;

/// The `p256` crate is built in with `sim`: nothing to load.
#[cfg(feature = "sim")]
pub fn install_loader() {}
