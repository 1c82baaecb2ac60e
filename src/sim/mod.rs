//! Simulated devices and a simulated cloud, built from the reference facts, quirks included.
//!
//! They are part of the product (the page's "simulated Photon" mode) and the ground every test stands
//! on: they implement the same traits as the browser adapters and must stay faithful to the real
//! bootloader and cloud, never shaped after what the host happens to expect.

#[cfg(all(target_arch = "wasm32", feature = "sim"))]
pub mod browser;
pub mod cloud;
pub mod device;
pub mod faults;
pub mod serial;
pub mod world;
