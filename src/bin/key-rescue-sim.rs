//! `key-rescue-sim`: the page's simulated mode as its own WebAssembly module, loaded only when the
//! simulated mode starts (`ui::sim_module`). It exports the simulated device and cloud
//! (`sim::browser::startSimulation`, `SimPage`; `sim::device::js::SimUsbDevice`) and brings the
//! `navigator.usb` / `navigator.serial` stand-ins with it. Built with the `sim` feature by
//! www/index.html; natively it only says what it is.

#[cfg(target_arch = "wasm32")]
fn main() {
    console_error_panic_hook::set_once();
    // The exports live in the library; naming one links it into this module (a library nothing
    // refers to is left out, and its exports with it).
    std::hint::black_box(key_rescue::sim::browser::start_simulation);
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!(
        "key-rescue-sim is the page's simulated mode, a WebAssembly module: run `scripts/serve`"
    );
}
