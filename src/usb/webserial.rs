//! The Web Serial adapter: the one place that touches `navigator.serial`. Compiled for wasm32 only.
//!
//! It does what the 14400-baud way into DFU mode needs and nothing more (runtime-usb.md, 4):
//! `requestPort` filtered to the device's runtime USB ids, `open({baudRate})`, `close()`. Each
//! call that talks to the device is raced against [`SERIAL_DEADLINE_MS`] (Web Serial has no
//! timeout of its own), and Chrome's `DOMException` names are mapped to [`SerialError`].
//! `unchecked_into` throughout, as in `webusb.rs`, so the stand-in in `www/sim/navigator-serial.js`
//! works like the real `navigator.serial`.

use super::serial::{SERIAL_DEADLINE_MS, SerialError, SerialPort};
use js_sys::{Array, Function, Object, Promise, Reflect};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Serial, SerialOptions, SerialPortFilter, SerialPortRequestOptions};

/// Whether this browser has Web Serial (`navigator.serial`; Chrome and Edge 89 and later on
/// desktop, secure pages only).
pub fn supported() -> bool {
    serial().is_ok()
}

fn serial() -> Result<Serial, SerialError> {
    let window = web_sys::window().ok_or(SerialError::Unsupported)?;
    let navigator: JsValue = window.navigator().unchecked_into();
    let serial = Reflect::get(&navigator, &JsValue::from_str("serial"))
        .map_err(|_| SerialError::Unsupported)?;
    if serial.is_undefined() || serial.is_null() {
        return Err(SerialError::Unsupported);
    }
    Ok(serial.unchecked_into())
}

/// Which call an error came from: Chrome reuses names across them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Request,
    Open,
    Close,
}

/// Maps a rejected Web Serial promise to a [`SerialError`]. MDN documents: `requestPort`
/// rejects with NotFoundError when the user picks no port ("No port selected by the user." in
/// Chrome) and SecurityError when a permissions policy blocks it or permission is denied;
/// `open` rejects with InvalidStateError when the port is already open (this page holds it) and
/// NetworkError when opening fails ("Failed to open serial port." in Chrome). That NetworkError
/// is what another program holding the port gives is not documented (unverified; the operating
/// system's refusal is not passed on), nor is what `open` or `close` of a port whose device has
/// gone gives (unverified: NotFoundError or NetworkError).
fn map_error(e: &JsValue, op: Op) -> SerialError {
    let text = |key: &str| {
        Reflect::get(e, &JsValue::from_str(key))
            .ok()
            .and_then(|v| v.as_string())
            .unwrap_or_default()
    };
    let (name, message) = (text("name"), text("message"));
    match (name.as_str(), op) {
        ("NotFoundError", Op::Request) | ("AbortError", Op::Request) => SerialError::Refused,
        ("SecurityError", _) => SerialError::Blocked { message },
        ("InvalidStateError" | "NetworkError", Op::Open) => SerialError::Held,
        ("NotFoundError", _) => SerialError::Disconnected,
        _ => SerialError::Other { name, message },
    }
}

/// Awaits `p`, for at most `ms` milliseconds when given: a promise still pending when the timer
/// fires is [`SerialError::Timeout`].
async fn settle(p: Promise, op: Op, ms: Option<u32>) -> Result<JsValue, SerialError> {
    let global = js_sys::global();
    let timer = |name: &str| {
        Reflect::get(&global, &JsValue::from_str(name))
            .ok()
            .filter(|f| f.is_function())
            .map(|f| f.unchecked_into::<Function>())
    };
    let (Some(ms), Some(set_timeout), Some(clear_timeout)) =
        (ms, timer("setTimeout"), timer("clearTimeout"))
    else {
        return wasm_bindgen_futures::JsFuture::from(p)
            .await
            .map_err(|e| map_error(&e, op));
    };
    // A fresh object, so only this timer's rejection is taken for the deadline.
    let expired: JsValue = Object::new().into();
    let id = Rc::new(RefCell::new(JsValue::UNDEFINED));
    let deadline = Promise::new(&mut |_resolve: Function, reject: Function| {
        let fire = reject.bind1(&JsValue::NULL, &expired);
        if let Ok(handle) = set_timeout.call2(&JsValue::NULL, &fire, &JsValue::from(ms)) {
            *id.borrow_mut() = handle;
        }
    });
    let race = Promise::race(&Array::of2(&p, &deadline));
    let outcome = wasm_bindgen_futures::JsFuture::from(race).await;
    let _ = clear_timeout.call1(&JsValue::NULL, &id.borrow());
    match outcome {
        Ok(v) => Ok(v),
        Err(e) if e == expired => Err(SerialError::Timeout),
        Err(e) => Err(map_error(&e, op)),
    }
}

/// The device's serial port through Web Serial. [`SerialPort::request`] shows Chrome's port
/// chooser: call it straight from a click handler (a user gesture).
#[derive(Default)]
pub struct WebSerialPort {
    port: Option<web_sys::SerialPort>,
}

impl WebSerialPort {
    pub fn new() -> Self {
        Self::default()
    }
}

impl SerialPort for WebSerialPort {
    async fn request(&mut self, vendor_id: u16, product_id: u16) -> Result<(), SerialError> {
        let serial = serial()?;
        let filter = SerialPortFilter::new();
        filter.set_usb_vendor_id(vendor_id);
        filter.set_usb_product_id(product_id);
        let options = SerialPortRequestOptions::new();
        options.set_filters(&[filter]);
        let promise: Promise = serial.request_port_with_options(&options).unchecked_into();
        // The chooser waits for the user: no deadline.
        let port: web_sys::SerialPort = settle(promise, Op::Request, None).await?.unchecked_into();
        // The filter keeps other devices out of the chooser; checked anyway, since a port's ids
        // are all the page can tell a device by (Web Serial shows no serial number).
        let info = port.get_info();
        let ids = (info.get_usb_vendor_id(), info.get_usb_product_id());
        if ids != (Some(vendor_id), Some(product_id)) {
            return Err(SerialError::NotTheDevice {
                vendor_id: ids.0.unwrap_or(0),
                product_id: ids.1.unwrap_or(0),
            });
        }
        self.port = Some(port);
        Ok(())
    }

    async fn open(&mut self, baud_rate: u32) -> Result<(), SerialError> {
        let port = self.port.as_ref().ok_or(SerialError::Refused)?;
        // Chrome sets the line coding when it opens the port (8 data bits, no parity, 1 stop bit
        // by default): the SET_LINE_CODING the firmware acts on.
        let options = SerialOptions::new(baud_rate);
        let promise: Promise = port.open(&options).unchecked_into();
        settle(promise, Op::Open, Some(SERIAL_DEADLINE_MS)).await?;
        Ok(())
    }

    async fn close(&mut self) -> Result<(), SerialError> {
        let port = self.port.as_ref().ok_or(SerialError::Refused)?;
        let promise: Promise = port.close().unchecked_into();
        settle(promise, Op::Close, Some(SERIAL_DEADLINE_MS)).await?;
        Ok(())
    }
}
