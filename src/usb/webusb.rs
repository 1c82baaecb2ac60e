//! The WebUSB adapter: the one place that touches `navigator.usb`. Compiled for wasm32 only.
//!
//! Uses `unchecked_into` rather than `dyn_into` throughout, so a JavaScript stand-in for
//! `navigator.usb` (tests, simulated mode) works exactly like the real one (webusb.md, 4).

use wasm_bindgen::{JsCast, JsValue};

/// What the browser offers for talking to a USB device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrowserSupport {
    /// `window.isSecureContext`: WebUSB exists only on https or loopback pages.
    pub secure_context: bool,
    /// `navigator.usb` is defined.
    pub webusb: bool,
}

impl BrowserSupport {
    /// Reads the current page's support. Never fails: a missing API is reported as absent.
    pub fn detect() -> Self {
        let Some(window) = web_sys::window() else {
            return Self {
                secure_context: false,
                webusb: false,
            };
        };
        let secure_context = js_sys::Reflect::get(&window, &JsValue::from_str("isSecureContext"))
            .map(|v| v.is_truthy())
            .unwrap_or(false);
        // Feature-detect with a property read, not `dyn_into`, which a stand-in would fail.
        let navigator: JsValue = window.navigator().unchecked_into();
        let webusb = js_sys::Reflect::get(&navigator, &JsValue::from_str("usb"))
            .map(|v| !v.is_undefined() && !v.is_null())
            .unwrap_or(false);
        Self {
            secure_context,
            webusb,
        }
    }

    /// Whether the page can repair a real device here.
    pub fn usable(&self) -> bool {
        self.secure_context && self.webusb
    }
}
