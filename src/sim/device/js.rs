//! The simulated devices exported to JavaScript, and the `navigator.usb` stand-in they back.
//!
//! `SimUsbDevice` answers control transfers synchronously; `www/sim/navigator-usb.js` wraps it in
//! a WebUSB-shaped object with real Promises, Chrome's preconditions and errors, and the
//! `disconnect` event, then installs it as `navigator.usb`. The page's simulated mode and the
//! browser tests therefore drive `crate::usb::webusb` unchanged. Compiled for wasm32 only; this
//! file must not use `web_sys` WebUSB types (it is the device side, not the host side).

use super::{Faults, Platform, SimBuilder, SimDevice};
use crate::dfu::State;
use crate::usb::{ControlSetup, Recipient, RequestType, TransportError};
use js_sys::{Object, Reflect, Uint8Array};
use std::cell::{Ref, RefCell, RefMut};
use std::rc::Rc;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/www/sim/navigator-usb.js")]
extern "C" {
    /// Installs the stand-in as `navigator.usb` with these `SimUsbDevice`s plugged in.
    #[wasm_bindgen(js_name = installFakeUsb)]
    fn install_fake_usb(devices: &js_sys::Array, options: &JsValue) -> JsValue;
    /// Removes the stand-in; the browser's own `navigator.usb` is visible again.
    #[wasm_bindgen(js_name = uninstallFakeUsb)]
    pub fn uninstall_fake_usb();
    /// Makes the next `requestDevice` behave like a closed chooser.
    #[wasm_bindgen(js_name = cancelNextRequest)]
    pub fn cancel_next_request();
    /// Plugs one more `SimUsbDevice` into the installed stand-in.
    #[wasm_bindgen(js_name = plugDevice, catch)]
    fn plug_fake_usb_device(device: &JsValue) -> Result<JsValue, JsValue>;
    /// In the next `requestDevice` the user picks the listed device with this serial number (the
    /// device ID); a device the chooser does not list cannot be picked ("No device selected.").
    #[wasm_bindgen(js_name = chooseNextDevice)]
    pub fn choose_next_device(serial_number: &str);
}

#[wasm_bindgen(module = "/www/sim/navigator-serial.js")]
extern "C" {
    /// Installs the `navigator.serial` stand-in over these `SimUsbDevice`s.
    #[wasm_bindgen(js_name = installFakeSerial)]
    fn install_fake_serial(devices: &js_sys::Array, options: &JsValue) -> JsValue;
    /// Removes the `navigator.serial` stand-in.
    #[wasm_bindgen(js_name = uninstallFakeSerial)]
    pub fn uninstall_fake_serial();
    /// Makes the next `requestPort` behave like a closed chooser.
    #[wasm_bindgen(js_name = refuseNextPortRequest)]
    pub fn refuse_next_port_request();
    /// Another program holds (`true`) or releases the devices' serial ports.
    #[wasm_bindgen(js_name = holdSerialPorts)]
    pub fn hold_serial_ports(held: bool);
    /// The bit rates the page opened serial ports at so far (numbers).
    #[wasm_bindgen(js_name = openedBaudRates)]
    pub fn opened_baud_rates() -> js_sys::Array;
}

/// Installs the `navigator.serial` stand-in (`www/sim/navigator-serial.js`) over the same devices
/// as [`install_simulated_usb`]: each one running its firmware has a serial port, whose opening at
/// 14400 baud sends it to DFU mode.
pub fn install_simulated_serial(devices: &[JsSimDevice]) {
    let list = js_sys::Array::new();
    for d in devices {
        list.push(&JsValue::from(d.clone()));
    }
    install_fake_serial(&list, &Object::new());
}

/// A simulated device shared between Rust and the JavaScript stand-in.
#[wasm_bindgen(js_name = SimUsbDevice)]
#[derive(Clone)]
pub struct JsSimDevice {
    inner: Rc<RefCell<SimDevice>>,
    /// `Date.now()` when the device's clock was last brought up to real time.
    synced_at: Rc<std::cell::Cell<f64>>,
}

/// Options for [`install_simulated_usb`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StandInOptions {
    /// Delay between the leave's GETSTATUS and the `disconnect` event (the Photon resets ~500 ms
    /// later).
    pub reset_delay_ms: u32,
    /// Reject stalled transfers with NetworkError, as Chromium on Windows does.
    pub windows_stalls: bool,
    /// Report `interfaceName` as null, so the host reads the string descriptors itself.
    pub hide_interface_names: bool,
}

impl Default for StandInOptions {
    fn default() -> Self {
        Self {
            reset_delay_ms: 500,
            windows_stalls: false,
            hide_interface_names: false,
        }
    }
}

/// Installs the `navigator.usb` stand-in with these devices plugged in. Keep the handles to look
/// at the devices afterwards ([`JsSimDevice::device`]): they share state with the stand-in.
pub fn install_simulated_usb(devices: &[JsSimDevice], options: StandInOptions) {
    let list = js_sys::Array::new();
    for d in devices {
        list.push(&JsValue::from(d.clone()));
    }
    let opts = Object::new();
    let set = |k: &str, v: JsValue| {
        let _ = Reflect::set(&opts, &JsValue::from_str(k), &v);
    };
    set("resetDelayMs", options.reset_delay_ms.into());
    set("windowsStalls", options.windows_stalls.into());
    set("hideInterfaceNames", options.hide_interface_names.into());
    install_fake_usb(&list, &opts);
}

/// Plugs `device` into the stand-in installed by [`install_simulated_usb`], beside the devices it
/// was installed with: a new USB device the page must be granted by its own `requestDevice`.
/// Fails when no stand-in is installed.
pub fn plug_simulated_usb(device: &JsSimDevice) -> Result<(), JsValue> {
    plug_fake_usb_device(&JsValue::from(device.clone())).map(|_| ())
}

impl JsSimDevice {
    pub fn from_device(device: SimDevice) -> Self {
        Self {
            inner: Rc::new(RefCell::new(device)),
            synced_at: Rc::new(std::cell::Cell::new(js_sys::Date::now())),
        }
    }

    pub fn from_builder(builder: SimBuilder) -> Self {
        Self::from_device(builder.build())
    }

    /// The simulated device, e.g. for `left_dfu()` and `dct()`.
    pub fn device(&self) -> Ref<'_, SimDevice> {
        self.inner.borrow()
    }

    pub fn device_mut(&self) -> RefMut<'_, SimDevice> {
        self.inner.borrow_mut()
    }

    /// The shared device itself, to wire it to a simulated cloud (`sim::world::SimWorld`).
    pub fn shared(&self) -> Rc<RefCell<SimDevice>> {
        self.inner.clone()
    }
}

fn platform_from_name(name: &str) -> Option<Platform> {
    Some(match name.to_ascii_lowercase().as_str() {
        "photon" => Platform::Photon,
        "p1" => Platform::P1,
        "electron" => Platform::Electron,
        "argon" => Platform::Argon,
        "boron" => Platform::Boron,
        "core" => Platform::Core,
        _ => return None,
    })
}

fn get(obj: &JsValue, key: &str) -> Option<JsValue> {
    Reflect::get(obj, &JsValue::from_str(key))
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

fn get_u32(obj: &JsValue, key: &str) -> Option<u32> {
    get(obj, key).and_then(|v| v.as_f64()).map(|f| f as u32)
}

fn get_bool(obj: &JsValue, key: &str) -> bool {
    get(obj, key).is_some_and(|v| v.is_truthy())
}

/// Reads faults from a plain object such as `{refuseClaim: true, disconnectAfter: 12}` (or
/// `errorOnWrite: 3` for an ST-style dfuERROR/errWRITE; the key requests' faults in normal mode:
/// `refuseKeyWrites`, `unplugOnKeyWrite`, `corruptKeyWrites: n`, `keyRequestsNeverComplete`).
fn faults_from_js(obj: &JsValue) -> Faults {
    Faults {
        stall_at_request: get_u32(obj, "stallAtRequest"),
        stall_on_command: get_u32(obj, "stallOnCommand").map(|c| c as u8),
        stall_on_write: get_bool(obj, "stallOnWrite"),
        error_on_write: get_u32(obj, "errorOnWrite").map(|s| s as u8),
        disconnect_after: get_u32(obj, "disconnectAfter"),
        hang_at_request: get_u32(obj, "hangAtRequest"),
        slow_status_ms: get_u32(obj, "slowStatusMs").unwrap_or(0),
        busy_polls: get_u32(obj, "busyPolls").unwrap_or(0),
        poll_timeout_ms: get_u32(obj, "pollTimeoutMs").unwrap_or(0),
        dct_unreachable: get_bool(obj, "dctUnreachable"),
        refuse_claim: get_bool(obj, "refuseClaim"),
        deny_open: get_bool(obj, "denyOpen"),
        old_bootloader: get_bool(obj, "oldBootloader"),
        device_protection: get_bool(obj, "deviceProtection"),
        hide_alternate_names: get_bool(obj, "hideAlternateNames"),
        // Layout strings are `&'static str`: only the Rust builder sets them.
        layout_override: None,
        transfer_size_override: get_u32(obj, "transferSize").map(|s| s as u16),
        system_busy_ms: get_u32(obj, "systemBusyMs").map_or(0, u64::from),
        never_reenumerates: get_bool(obj, "neverReenumerates"),
        fail_request: None,
        runtime_no_memory: get_bool(obj, "runtimeNoMemory"),
        keys: super::KeyFaults {
            refuse_writes: get_bool(obj, "refuseKeyWrites").then_some(super::WRITE_REFUSED),
            unplug_on_write: get_bool(obj, "unplugOnKeyWrite"),
            corrupt_writes: get_u32(obj, "corruptKeyWrites").unwrap_or(0),
            never_complete: get_bool(obj, "keyRequestsNeverComplete"),
        },
    }
}

fn setup(request_type: &str, recipient: &str, request: u8, value: u16, index: u16) -> ControlSetup {
    ControlSetup {
        request_type: match request_type {
            "standard" => RequestType::Standard,
            "vendor" => RequestType::Vendor,
            _ => RequestType::Class,
        },
        recipient: match recipient {
            "device" => Recipient::Device,
            "endpoint" => Recipient::Endpoint,
            "other" => Recipient::Other,
            _ => Recipient::Interface,
        },
        request,
        value,
        index,
    }
}

/// The stand-in's name for an outcome: "ok", "stall", or an error the stand-in turns into a
/// DOMException.
fn outcome(e: &TransportError) -> &'static str {
    match e {
        TransportError::Stall => "stall",
        TransportError::Disconnected => "disconnected",
        TransportError::UnableToClaim => "claim-refused",
        TransportError::AccessDenied => "access-denied",
        // A transfer that never completes: the stand-in returns a promise that never settles.
        TransportError::Timeout => "hang",
        _ => "error",
    }
}

fn result(status: &str, data: Option<&[u8]>, written: u32) -> JsValue {
    let obj = Object::new();
    let _ = Reflect::set(&obj, &"status".into(), &status.into());
    if let Some(d) = data {
        let _ = Reflect::set(&obj, &"data".into(), &Uint8Array::from(d).into());
    }
    let _ = Reflect::set(&obj, &"bytesWritten".into(), &written.into());
    obj.into()
}

#[wasm_bindgen(js_class = SimUsbDevice)]
impl JsSimDevice {
    /// `new SimUsbDevice("photon", {refuseClaim: true, deviceId: "..."})`.
    #[wasm_bindgen(constructor)]
    pub fn new(platform: &str, options: JsValue) -> Result<JsSimDevice, JsError> {
        let platform = platform_from_name(platform)
            .ok_or_else(|| JsError::new(&format!("unknown platform {platform:?}")))?;
        let mut builder = SimBuilder::new(platform).faults(faults_from_js(&options));
        if let Some(id) = get(&options, "deviceId").and_then(|v| v.as_string()) {
            builder = builder.device_id(&id);
        }
        if let Some(version) = get(&options, "firmware").and_then(|v| v.as_string()) {
            builder = builder.firmware(&version);
        }
        if get_bool(&options, "normalMode") {
            builder = builder.normal_mode();
        }
        if let Some(state) = get_u32(&options, "startState") {
            builder = builder.start_in(State::from_byte(state as u8));
        }
        Ok(Self::from_builder(builder))
    }

    /// Another handle on the same device.
    pub fn share(&self) -> JsSimDevice {
        self.clone()
    }

    #[wasm_bindgen(getter, js_name = vendorId)]
    pub fn vendor_id(&self) -> u16 {
        self.device().platform().vendor_id()
    }

    #[wasm_bindgen(getter, js_name = productId)]
    pub fn product_id(&self) -> u16 {
        let d = self.device();
        match d.mode() {
            super::Mode::Dfu => d.platform().dfu_product_id(),
            super::Mode::Runtime => d.platform().runtime_product_id(),
        }
    }

    /// "dfu" or "runtime": which USB device the hardware is now.
    #[wasm_bindgen(getter)]
    pub fn mode(&self) -> String {
        match self.device().mode() {
            super::Mode::Dfu => "dfu".into(),
            super::Mode::Runtime => "runtime".into(),
        }
    }

    /// How many times the device reset or was replugged: a USBDevice of another enumeration is
    /// gone.
    #[wasm_bindgen(getter)]
    pub fn enumeration(&self) -> u32 {
        self.device().enumeration()
    }

    /// Whether the device has firmware, whose resets and system thread run on the device's clock.
    #[wasm_bindgen(getter, js_name = hasFirmware)]
    pub fn has_firmware(&self) -> bool {
        self.device().firmware_version().is_some()
    }

    /// Brings a device with firmware up to real time (its reset delays and busy system thread
    /// then take real time, as on hardware) and says whether it is on the bus. A bootloader-only
    /// device keeps its clock, which only the host's sleeps move, as before.
    #[wasm_bindgen(js_name = syncClock)]
    pub fn sync_clock(&self) -> bool {
        let now = js_sys::Date::now();
        let mut d = self.device_mut();
        if d.firmware_version().is_some() {
            let elapsed = (now - self.synced_at.get()).max(0.0) as u64;
            d.advance(elapsed);
        }
        self.synced_at.set(now);
        d.on_bus()
    }

    /// The USB serial number as the platform's bootloader reports it: the device ID, except on a
    /// Core (12 hex digits derived from its unique ID, `Serial::UniqueIdSum`).
    #[wasm_bindgen(getter, js_name = serialNumber)]
    pub fn serial_number(&self) -> String {
        self.device().serial_number()
    }

    #[wasm_bindgen(getter, js_name = productName)]
    pub fn product_name(&self) -> String {
        self.device().platform().product_string().to_owned()
    }

    #[wasm_bindgen(getter, js_name = manufacturerName)]
    pub fn manufacturer_name(&self) -> String {
        self.device().platform().quirks().manufacturer.to_owned()
    }

    /// The alternate names as the browser would read them; "" where it has none (the stand-in
    /// reports those as null).
    #[wasm_bindgen(js_name = alternateNames)]
    pub fn alternate_names(&self) -> Vec<String> {
        use crate::usb::Transport;
        self.device()
            .info()
            .alternates
            .into_iter()
            .map(|a| a.name.unwrap_or_default())
            .collect()
    }

    /// "ok" or "access-denied".
    pub fn open(&self) -> String {
        match self.device_mut().open() {
            Ok(()) => "ok".into(),
            Err(e) => outcome(&e).into(),
        }
    }

    /// "ok", "claim-refused" or "disconnected".
    pub fn claim(&self, interface: u8) -> String {
        match self.device_mut().claim(interface) {
            Ok(()) => "ok".into(),
            Err(e) => outcome(&e).into(),
        }
    }

    /// `{status, data}` with status "ok", "stall", "disconnected" or "hang" (never completes).
    #[wasm_bindgen(js_name = controlIn)]
    pub fn control_in(
        &self,
        request_type: &str,
        recipient: &str,
        request: u8,
        value: u16,
        index: u16,
        length: u16,
    ) -> JsValue {
        let s = setup(request_type, recipient, request, value, index);
        match self.device_mut().handle_in(s, length) {
            Ok(data) => result("ok", Some(&data), 0),
            Err(e) => result(outcome(&e), None, 0),
        }
    }

    /// `{status, bytesWritten}`; `data` is copied into the simulator during the call.
    #[wasm_bindgen(js_name = controlOut)]
    pub fn control_out(
        &self,
        request_type: &str,
        recipient: &str,
        request: u8,
        value: u16,
        index: u16,
        data: &[u8],
    ) -> JsValue {
        let s = setup(request_type, recipient, request, value, index);
        match self.device_mut().handle_out(s, data) {
            Ok(()) => result("ok", None, data.len() as u32),
            Err(e) => result(outcome(&e), None, 0),
        }
    }

    #[wasm_bindgen(js_name = leftDfu)]
    pub fn left_dfu(&self) -> bool {
        self.device().left_dfu()
    }

    pub fn disconnected(&self) -> bool {
        self.device().disconnected()
    }

    pub fn transfers(&self) -> u32 {
        self.device().transfers()
    }

    /// The meaningful DCT bytes (a copy).
    pub fn dct(&self) -> Vec<u8> {
        self.device().dct().to_vec()
    }

    #[wasm_bindgen(js_name = setDctBytes)]
    pub fn set_dct_bytes(&self, offset: usize, bytes: &[u8]) {
        self.device_mut().set_dct_bytes(offset, bytes);
    }
}
