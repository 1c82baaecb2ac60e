//! Entry point: on wasm32 it mounts the page; natively it only says how to get the page.

#[cfg(target_arch = "wasm32")]
fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(key_rescue::ui::App);
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("Key Rescue is a web page: run `scripts/serve` and open http://127.0.0.1:8080");
}
