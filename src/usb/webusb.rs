//! The browser's USB adapters: the one place that touches `navigator.usb` and `navigator.serial`.
//! Compiled for wasm32 only.
//!
//! Owns device selection (`requestDevice` with every Particle id), open / configuration / claim /
//! alternate selection, the `disconnect` event, the mapping of Chrome's `DOMException`s to
//! [`TransportError`], and the deadline of every call that talks to the device (WebUSB has none:
//! each promise is raced against a timer, [`super::deadline_ms`]). Nothing outside this file imports WebUSB types from `web_sys`.
//!
//! Uses `unchecked_into` rather than `dyn_into` throughout, so a JavaScript stand-in for
//! `navigator.usb` (tests, simulated mode) works exactly like the real one (webusb.md, 4).

use super::serial::{SERIAL_DEADLINE_MS, SerialError, SerialPort};
use super::{
    AlternateInfo, CONTROL_DEADLINE_MS, ControlSetup, DeviceInfo, Recipient, RequestType,
    Transport, TransportError, deadline_ms,
};
use crate::device::{PLATFORMS, Platform, UsbMode};
use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{
    Serial, SerialOptions, SerialPortFilter, SerialPortRequestOptions, Usb, UsbAlternateInterface,
    UsbConfiguration, UsbControlTransferParameters, UsbDevice, UsbDeviceFilter,
    UsbDeviceRequestOptions, UsbInTransferResult, UsbInterface, UsbOutTransferResult, UsbRecipient,
    UsbRequestType, UsbTransferStatus,
};

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
        let secure_context = Reflect::get(&window, &JsValue::from_str("isSecureContext"))
            .map(|v| v.is_truthy())
            .unwrap_or(false);
        let webusb = usb().is_ok();
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

/// `navigator.usb`, feature-detected with a property read: `dyn_into` would reject a stand-in.
fn usb() -> Result<Usb, TransportError> {
    let window = web_sys::window().ok_or(TransportError::Unsupported)?;
    let navigator: JsValue = window.navigator().unchecked_into();
    let usb = Reflect::get(&navigator, &JsValue::from_str("usb"))
        .map_err(|_| TransportError::Unsupported)?;
    if usb.is_undefined() || usb.is_null() {
        return Err(TransportError::Unsupported);
    }
    Ok(usb.unchecked_into())
}

/// Every (vendor id, product id) the chooser offers: each Particle platform in DFU mode and in
/// normal mode, so a device that is not in DFU mode can still be recognised and the page can ask
/// the user to put it in DFU mode.
pub fn particle_usb_ids() -> Vec<(u16, u16)> {
    PLATFORMS
        .iter()
        .flat_map(|p| {
            [
                (p.vendor_id, p.dfu_product_id),
                (p.vendor_id, p.runtime_product_id),
            ]
        })
        .collect()
}

/// Which operation an error came from; Chrome reuses names such as NetworkError across them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Request,
    Open,
    Claim,
    Transfer,
    Other,
}

/// Maps a rejected WebUSB promise to a typed error (webusb.md, 7). Matches on the exception name
/// plus a fragment of the message, never on the whole text: Chrome prefixes synchronous errors.
fn map_error(e: &JsValue, op: Op) -> TransportError {
    let (name, message) = exception(e);
    match (name.as_str(), op) {
        ("NotFoundError", _) if message.contains("No device selected") => TransportError::Cancelled,
        ("NotFoundError", _) => TransportError::Disconnected,
        ("SecurityError", _) if message.contains("Access denied") => TransportError::AccessDenied,
        ("SecurityError", Op::Request | Op::Open) => TransportError::Blocked { message },
        ("NetworkError", Op::Claim) => TransportError::UnableToClaim,
        // Chromium on Windows rejects a stalled transfer with NetworkError instead of resolving
        // with status "stall" (Chromium issue 40832809), and DfuSe devices reject with stalls.
        ("NetworkError", Op::Transfer) => TransportError::Stall,
        ("TimeoutError", _) => TransportError::Timeout,
        _ => TransportError::Other { name, message },
    }
}

/// Awaits any WebUSB promise (typed or not) and casts its value without an `instanceof` check.
async fn await_promise<T: JsCast>(p: impl JsCast, op: Op) -> Result<T, TransportError> {
    let p: Promise = p.unchecked_into();
    match wasm_bindgen_futures::JsFuture::from(p).await {
        Ok(v) => Ok(v.unchecked_into()),
        Err(e) => Err(map_error(&e, op)),
    }
}

/// A rejected promise's `DOMException` name and message (empty when absent).
fn exception(e: &JsValue) -> (String, String) {
    let text = |key: &str| {
        Reflect::get(e, &JsValue::from_str(key))
            .ok()
            .and_then(|v| v.as_string())
            .unwrap_or_default()
    };
    (text("name"), text("message"))
}

/// How a browser promise ended when raced against a timer.
enum Settled {
    Resolved(JsValue),
    Rejected(JsValue),
    /// Still pending when the timer fired.
    Expired,
}

/// Awaits `p`, for at most `ms` milliseconds when given: neither WebUSB nor Web Serial has a
/// timeout of its own, so the promise is raced against a timer (the global `setTimeout`). The
/// browser's call stays pending after the timer wins; the device needs re-opening (a real one,
/// unplugging) before it answers again.
async fn settle(p: Promise, ms: Option<u32>) -> Settled {
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
        return match wasm_bindgen_futures::JsFuture::from(p).await {
            Ok(v) => Settled::Resolved(v),
            Err(e) => Settled::Rejected(e),
        };
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
        Ok(v) => Settled::Resolved(v),
        Err(e) if e == expired => Settled::Expired,
        Err(e) => Settled::Rejected(e),
    }
}

/// Awaits a WebUSB promise for at most `ms` milliseconds; a promise still pending then is
/// [`TransportError::Timeout`].
async fn await_within<T: JsCast>(p: impl JsCast, op: Op, ms: u32) -> Result<T, TransportError> {
    match settle(p.unchecked_into(), Some(ms)).await {
        Settled::Resolved(v) => Ok(v.unchecked_into()),
        Settled::Rejected(e) => Err(map_error(&e, op)),
        Settled::Expired => Err(TransportError::Timeout),
    }
}

/// A device the user picked, before it is opened.
#[derive(Debug, Clone)]
pub struct PickedDevice {
    device: UsbDevice,
    info: DeviceInfo,
}

impl PickedDevice {
    fn new(device: UsbDevice) -> Self {
        let info = DeviceInfo {
            vendor_id: device.vendor_id(),
            product_id: device.product_id(),
            serial_number: device.serial_number(),
            product_name: device.product_name(),
            alternates: Vec::new(),
        };
        Self { device, info }
    }

    pub fn info(&self) -> &DeviceInfo {
        &self.info
    }

    /// The platform and mode from the USB ids; `None` for a device that is not a Particle device.
    pub fn platform(&self) -> Option<(Platform, UsbMode)> {
        Platform::from_usb_ids(self.info.vendor_id, self.info.product_id)
    }

    /// The Particle device ID from the serial number (24 hex digits, lower case).
    pub fn device_id(&self) -> Option<String> {
        self.info.device_id()
    }

    /// Opens the device and claims `interface` (0 on Particle devices).
    pub async fn open(self, interface: u8) -> Result<WebUsbTransport, TransportError> {
        WebUsbTransport::open(self, Some(interface)).await
    }

    /// Opens the device without claiming an interface: enough for vendor requests to the device,
    /// such as Particle's control requests to a device in normal mode (runtime-usb.md, 1), whose
    /// serial interfaces the operating system's driver may hold.
    pub async fn open_unclaimed(self) -> Result<WebUsbTransport, TransportError> {
        WebUsbTransport::open(self, None).await
    }
}

/// Shows Chrome's device chooser filtered to Particle devices. Call it straight from a click
/// handler: Chrome requires a user gesture. A closed chooser is [`TransportError::Cancelled`].
pub async fn request_device() -> Result<PickedDevice, TransportError> {
    let usb = usb()?;
    let filters: Vec<UsbDeviceFilter> = particle_usb_ids()
        .into_iter()
        .map(|(vendor, product)| {
            let f = UsbDeviceFilter::new();
            f.set_vendor_id(vendor);
            f.set_product_id(product);
            f
        })
        .collect();
    let options = UsbDeviceRequestOptions::new(&filters);
    let device: UsbDevice = await_promise(usb.request_device(&options), Op::Request).await?;
    Ok(PickedDevice::new(device))
}

/// Devices this origin may use without a prompt, for finding a device again after it reset
/// (match on [`PickedDevice::device_id`]).
pub async fn granted_devices() -> Result<Vec<PickedDevice>, TransportError> {
    let usb = usb()?;
    let list: Array = await_promise(usb.get_devices(), Op::Other).await?;
    Ok(list
        .iter()
        .map(|d| PickedDevice::new(d.unchecked_into()))
        .filter(|d| d.platform().is_some())
        .collect())
}

/// The `disconnect` listener on `navigator.usb`; removed again on drop.
struct DisconnectWatch {
    usb: Usb,
    callback: Closure<dyn FnMut(JsValue)>,
}

impl Drop for DisconnectWatch {
    fn drop(&mut self) {
        let _ = self.usb.remove_event_listener_with_callback(
            "disconnect",
            self.callback.as_ref().unchecked_ref(),
        );
    }
}

/// The caller's disconnect callback, shared with the event listener.
type DisconnectCallback = Rc<RefCell<Option<Box<dyn FnMut()>>>>;

/// An opened, claimed WebUSB device: the browser [`Transport`].
pub struct WebUsbTransport {
    device: UsbDevice,
    info: DeviceInfo,
    interface: Option<u8>,
    gone: Rc<Cell<bool>>,
    on_disconnect: DisconnectCallback,
    _watch: Option<DisconnectWatch>,
}

impl WebUsbTransport {
    async fn open(picked: PickedDevice, interface: Option<u8>) -> Result<Self, TransportError> {
        let PickedDevice { device, mut info } = picked;
        // Opening, configuring and claiming talk to the device too (Chrome sends SET_CONFIGURATION,
        // the OS may reset it): each gets the ordinary deadline.
        await_within::<JsValue>(device.open(), Op::Open, CONTROL_DEADLINE_MS).await?;
        if device.configuration().is_none() {
            await_within::<JsValue>(
                device.select_configuration(1),
                Op::Other,
                CONTROL_DEADLINE_MS,
            )
            .await?;
        }
        if let Some(interface) = interface {
            await_within::<JsValue>(
                device.claim_interface(interface),
                Op::Claim,
                CONTROL_DEADLINE_MS,
            )
            .await?;
        }
        info.alternates = alternates(&device);
        let gone = Rc::new(Cell::new(false));
        let on_disconnect: DisconnectCallback = Rc::default();
        let watch = usb().ok().map(|usb| {
            let (gone, me, notify) = (gone.clone(), device.clone(), on_disconnect.clone());
            let callback = Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
                let other = Reflect::get(&event, &JsValue::from_str("device")).ok();
                if other.is_some_and(|d| d == JsValue::from(me.clone())) && !gone.replace(true) {
                    // Take the callback out while it runs, so it may set a new one.
                    let f = notify.borrow_mut().take();
                    if let Some(mut f) = f {
                        f();
                        notify.borrow_mut().get_or_insert(f);
                    }
                }
            });
            let _ = usb
                .add_event_listener_with_callback("disconnect", callback.as_ref().unchecked_ref());
            DisconnectWatch { usb, callback }
        });
        Ok(Self {
            device,
            info,
            interface,
            gone,
            on_disconnect,
            _watch: watch,
        })
    }

    /// Calls `f` once when the browser reports this device gone (a DFU leave ends this way).
    pub fn set_on_disconnect(&mut self, f: impl FnMut() + 'static) {
        *self.on_disconnect.borrow_mut() = Some(Box::new(f));
    }

    /// Whether the browser reported the device gone (unplugged, reset, or left DFU mode).
    pub fn is_disconnected(&self) -> bool {
        self.gone.get()
    }

    /// Releases the interface and closes the device; errors are ignored (it may be gone).
    pub async fn close(self) {
        if let Some(interface) = self.interface {
            let release = self.device.release_interface(interface);
            let _ = await_within::<JsValue>(release, Op::Other, CONTROL_DEADLINE_MS).await;
        }
        let _ = await_within::<JsValue>(self.device.close(), Op::Other, CONTROL_DEADLINE_MS).await;
    }

    fn params(&self, setup: ControlSetup) -> UsbControlTransferParameters {
        let request_type = match setup.request_type {
            RequestType::Standard => UsbRequestType::Standard,
            RequestType::Class => UsbRequestType::Class,
            RequestType::Vendor => UsbRequestType::Vendor,
        };
        let recipient = match setup.recipient {
            Recipient::Device => UsbRecipient::Device,
            Recipient::Interface => UsbRecipient::Interface,
            Recipient::Endpoint => UsbRecipient::Endpoint,
            Recipient::Other => UsbRecipient::Other,
        };
        UsbControlTransferParameters::new(
            setup.index,
            recipient,
            setup.request,
            request_type,
            setup.value,
        )
    }

    fn check_present(&self) -> Result<(), TransportError> {
        if self.gone.get() {
            Err(TransportError::Disconnected)
        } else {
            Ok(())
        }
    }
}

/// The alternate settings of the current configuration with the names the browser read.
fn alternates(device: &UsbDevice) -> Vec<AlternateInfo> {
    let Some(config): Option<UsbConfiguration> = device.configuration() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for iface in config.interfaces().iter() {
        let iface: UsbInterface = iface.unchecked_into();
        for alt in iface.alternates().iter() {
            let alt: UsbAlternateInterface = alt.unchecked_into();
            out.push(AlternateInfo {
                interface: iface.interface_number(),
                alternate: alt.alternate_setting(),
                name: alt.interface_name(),
            });
        }
    }
    out
}

/// A resolved transfer's status as a result: only "ok" succeeds.
fn check_status(status: UsbTransferStatus) -> Result<(), TransportError> {
    match status {
        UsbTransferStatus::Ok => Ok(()),
        UsbTransferStatus::Stall => Err(TransportError::Stall),
        other => Err(TransportError::Other {
            name: "transfer status".to_owned(),
            message: format!("{other:?}"),
        }),
    }
}

impl Transport for WebUsbTransport {
    async fn control_in(
        &mut self,
        setup: ControlSetup,
        len: u16,
    ) -> Result<Vec<u8>, TransportError> {
        self.check_present()?;
        let params = self.params(setup);
        let promise = self.device.control_transfer_in(&params, len);
        let result: UsbInTransferResult =
            await_within(promise, Op::Transfer, deadline_ms(&setup, true)).await?;
        check_status(result.status())?;
        Ok(match result.data() {
            Some(view) => Uint8Array::new_with_byte_offset_and_length(
                &view.buffer(),
                view.byte_offset() as u32,
                view.byte_length() as u32,
            )
            .to_vec(),
            None => Vec::new(),
        })
    }

    async fn control_out(
        &mut self,
        setup: ControlSetup,
        data: &[u8],
    ) -> Result<(), TransportError> {
        self.check_present()?;
        let params = self.params(setup);
        // Chrome copies the view synchronously, so passing wasm memory is safe (webusb.md, 3).
        let promise = self
            .device
            .control_transfer_out_with_u8_slice(&params, data)
            .map_err(|e| map_error(&e, Op::Transfer))?;
        let result: UsbOutTransferResult =
            await_within(promise, Op::Transfer, deadline_ms(&setup, false)).await?;
        check_status(result.status())
    }

    async fn sleep(&mut self, ms: u32) {
        sleep_ms(ms).await;
    }

    async fn select_alternate(
        &mut self,
        interface: u8,
        alternate: u8,
    ) -> Result<(), TransportError> {
        self.check_present()?;
        // Chrome sends SET_INTERFACE: an ordinary control transfer.
        await_within::<JsValue>(
            self.device.select_alternate_interface(interface, alternate),
            Op::Other,
            CONTROL_DEADLINE_MS,
        )
        .await
        .map(|_| ())
    }

    fn info(&self) -> DeviceInfo {
        self.info.clone()
    }

    /// `performance.now()`: monotonic, unlike the wall clock.
    fn now_ms(&self) -> Option<u64> {
        let performance = web_sys::window()?.performance()?;
        Some(performance.now() as u64)
    }
}

/// Waits `ms` milliseconds with a Promise around the global `setTimeout` (works in windows and
/// workers; there is no blocking on the browser's main thread).
pub async fn sleep_ms(ms: u32) {
    let promise = Promise::new(&mut |resolve: Function, _reject: Function| {
        let set_timeout = Reflect::get(&js_sys::global(), &JsValue::from_str("setTimeout"))
            .ok()
            .map(|f| f.unchecked_into::<Function>());
        match set_timeout {
            Some(f) => {
                let _ = f.call2(&JsValue::NULL, &resolve, &JsValue::from(ms));
            }
            None => {
                let _ = resolve.call0(&JsValue::NULL);
            }
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

// Web Serial: the device's USB serial port, for the 14400-baud way into DFU mode
// (runtime-usb.md, 4): `requestPort` filtered to the device's runtime USB ids, `open({baudRate})`,
// `close()`, each call that talks to the device raced against `SERIAL_DEADLINE_MS`, Chrome's
// `DOMException` names mapped to `SerialError`. Here beside WebUSB because it is the same kind of
// adapter (a browser API to the same USB device) and shares the deadline race.

/// Whether this browser has Web Serial (`navigator.serial`; Chrome and Edge 89 and later on
/// desktop, secure pages only).
pub fn serial_supported() -> bool {
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

/// Which Web Serial call an error came from: Chrome reuses names across them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SerialOp {
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
fn map_serial_error(e: &JsValue, op: SerialOp) -> SerialError {
    let (name, message) = exception(e);
    match (name.as_str(), op) {
        ("NotFoundError", SerialOp::Request) | ("AbortError", SerialOp::Request) => {
            SerialError::Refused
        }
        ("SecurityError", _) => SerialError::Blocked { message },
        ("InvalidStateError" | "NetworkError", SerialOp::Open) => SerialError::Held,
        ("NotFoundError", _) => SerialError::Disconnected,
        _ => SerialError::Other { name, message },
    }
}

/// Awaits a Web Serial promise, for at most `ms` milliseconds when given.
async fn await_serial(p: Promise, op: SerialOp, ms: Option<u32>) -> Result<JsValue, SerialError> {
    match settle(p, ms).await {
        Settled::Resolved(v) => Ok(v),
        Settled::Rejected(e) => Err(map_serial_error(&e, op)),
        Settled::Expired => Err(SerialError::Timeout),
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
        let port: web_sys::SerialPort = await_serial(promise, SerialOp::Request, None)
            .await?
            .unchecked_into();
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
        await_serial(promise, SerialOp::Open, Some(SERIAL_DEADLINE_MS)).await?;
        Ok(())
    }

    async fn close(&mut self) -> Result<(), SerialError> {
        let port = self.port.as_ref().ok_or(SerialError::Refused)?;
        let promise: Promise = port.close().unchecked_into();
        await_serial(promise, SerialOp::Close, Some(SERIAL_DEADLINE_MS)).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_cover_every_platform_in_both_modes() {
        let ids = particle_usb_ids();
        assert!(ids.contains(&(0x2b04, 0xd006)) && ids.contains(&(0x2b04, 0xc006)));
        assert!(ids.contains(&(0x1d50, 0x607f)));
        assert_eq!(ids.len(), 2 * PLATFORMS.len());
    }
}
