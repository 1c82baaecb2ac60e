//! Key Rescue: repairs the cloud keys of a Particle device from the browser.
//!
//! The crate is layered (see ARCHITECTURE.md). Everything except `ui` and the browser adapters
//! builds and tests natively with `cargo test`; `ui` exists only on wasm32.

pub mod cloud;
pub mod device;
pub mod dfu;
pub mod doctor;
pub mod keys;
pub mod runtime;
pub mod sim;
pub mod usb;

#[cfg(target_arch = "wasm32")]
pub mod ui;
