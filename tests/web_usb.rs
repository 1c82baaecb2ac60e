//! The WebUSB transport in headless Chromium, driven through the `navigator.usb` stand-in that a
//! simulated Photon backs (www/sim/navigator-usb.js).
#![cfg(target_arch = "wasm32")]

use key_rescue::dfu::{Dfu, Erase, LeaveOutcome, State};
use key_rescue::sim::device::js::{
    JsSimDevice, StandInOptions, cancel_next_request, install_simulated_usb, uninstall_fake_usb,
};
use key_rescue::sim::device::{Platform, SimBuilder};
use key_rescue::usb::TransportError;
use key_rescue::usb::webusb::{self, BrowserSupport};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn install(builder: SimBuilder, options: StandInOptions) -> JsSimDevice {
    let sim = JsSimDevice::from_builder(builder);
    install_simulated_usb(std::slice::from_ref(&sim), options);
    sim
}

fn photon() -> SimBuilder {
    SimBuilder::new(Platform::Photon).device_id("0123456789ABCDEF01234567")
}

/// Picks the stand-in's device in the chooser, then opens it and claims interface 0.
async fn connect() -> webusb::WebUsbTransport {
    webusb::request_device()
        .await
        .unwrap()
        .open(0)
        .await
        .unwrap()
}

#[wasm_bindgen_test]
async fn request_device_finds_the_photon_with_particle_filters() {
    let _sim = install(photon(), StandInOptions::default());
    assert!(BrowserSupport::detect().webusb);
    let picked = webusb::request_device().await.unwrap();
    assert_eq!(
        (picked.info().vendor_id, picked.info().product_id),
        (0x2b04, 0xd006)
    );
    assert_eq!(
        picked.device_id().as_deref(),
        Some("0123456789abcdef01234567")
    );
    assert_eq!(
        picked.platform(),
        Some((
            key_rescue::device::Platform::Photon,
            key_rescue::device::UsbMode::Dfu
        ))
    );
    assert_eq!(webusb::granted_devices().await.unwrap().len(), 1);
    uninstall_fake_usb();
}

#[wasm_bindgen_test]
async fn closing_the_chooser_is_cancelled() {
    let _sim = install(photon(), StandInOptions::default());
    cancel_next_request();
    let err = webusb::request_device().await.unwrap_err();
    assert_eq!(err, TransportError::Cancelled);
    uninstall_fake_usb();
}

#[wasm_bindgen_test]
async fn no_particle_device_plugged_in_is_like_a_closed_chooser() {
    // No stand-in device matches: Chrome rejects like a closed chooser.
    install_simulated_usb(&[], StandInOptions::default());
    assert_eq!(
        webusb::request_device().await.unwrap_err(),
        TransportError::Cancelled
    );
    uninstall_fake_usb();
}

#[wasm_bindgen_test]
async fn claim_refusal_and_access_denied_are_typed() {
    let _sim = install(photon().refuse_claim(), StandInOptions::default());
    let picked = webusb::request_device().await.unwrap();
    let err = picked.open(0).await.err().unwrap();
    assert_eq!(err, TransportError::UnableToClaim);
    uninstall_fake_usb();

    let _sim = install(photon().deny_open(), StandInOptions::default());
    let picked = webusb::request_device().await.unwrap();
    assert_eq!(
        picked.open(0).await.err().unwrap(),
        TransportError::AccessDenied
    );
    uninstall_fake_usb();
}

#[wasm_bindgen_test]
async fn reads_the_dct_and_writes_and_verifies_a_key() {
    let key: Vec<u8> = (0..612u32).map(|i| (i * 13 + 5) as u8).collect();
    let sim = install(
        photon().dct_bytes(2082, &[0x30, 0x82]),
        StandInOptions::default(),
    );
    let mut t = connect().await;
    assert_eq!(
        t_info_name(&t),
        Some("@DCT Flash   /0x00000000/01*016Kg".to_owned())
    );
    let mut dfu = Dfu::open(&mut t, 0, 1).await.unwrap();
    assert_eq!(dfu.functional().transfer_size, 4096);
    let server = dfu.read(2082, 512).await.unwrap();
    assert_eq!(&server[..2], &[0x30, 0x82]);
    dfu.write_verified(34, &key, Erase::Never).await.unwrap();
    assert_eq!(&sim.device().dct()[34..646], &key[..]);
    uninstall_fake_usb();
}

fn t_info_name(t: &webusb::WebUsbTransport) -> Option<String> {
    use key_rescue::usb::Transport;
    t.info().alternate_name(0, 1).map(str::to_owned)
}

#[wasm_bindgen_test]
async fn stalls_arrive_as_status_and_as_windows_network_errors() {
    for windows_stalls in [false, true] {
        let options = StandInOptions {
            windows_stalls,
            ..StandInOptions::default()
        };
        let _sim = install(photon().stall_on_write(), options);
        let mut t = connect().await;
        let mut dfu = Dfu::open(&mut t, 0, 1).await.unwrap();
        let err = dfu.write(34, &[1, 2, 3], Erase::Never).await.unwrap_err();
        assert_eq!(
            err,
            key_rescue::dfu::Error::WriteRejected { address: 34 },
            "windows {windows_stalls}"
        );
        uninstall_fake_usb();
    }
}

#[wasm_bindgen_test]
async fn interface_names_are_read_from_strings_when_the_browser_has_none() {
    let options = StandInOptions {
        hide_interface_names: true,
        ..StandInOptions::default()
    };
    let _sim = install(photon(), options);
    let mut t = connect().await;
    let dfu = Dfu::open(&mut t, 0, 0).await.unwrap();
    assert_eq!(dfu.layout().name, "Internal Flash");
    uninstall_fake_usb();
}

#[wasm_bindgen_test]
async fn leave_then_disconnect_event() {
    let options = StandInOptions {
        reset_delay_ms: 50,
        ..StandInOptions::default()
    };
    let sim = install(photon().start_in(State::DnloadIdle), options);
    let mut t = connect().await;
    let events = std::rc::Rc::new(std::cell::Cell::new(0));
    let seen = events.clone();
    t.set_on_disconnect(move || seen.set(seen.get() + 1));
    let dfu = Dfu::open(&mut t, 0, 1).await.unwrap();
    assert_eq!(
        dfu.leave(None).await.unwrap(),
        LeaveOutcome::Reported(State::DnloadIdle)
    );
    assert!(sim.device().left_dfu());
    assert!(!t.is_disconnected());
    webusb::sleep_ms(120).await;
    assert!(t.is_disconnected(), "the disconnect event arrived");
    assert_eq!(events.get(), 1);
    let err = key_rescue::dfu::get_status(&mut t, 0).await.unwrap_err();
    assert_eq!(
        err,
        key_rescue::dfu::Error::Transport(TransportError::Disconnected)
    );
    assert!(webusb::granted_devices().await.unwrap().is_empty());
    uninstall_fake_usb();
}

#[wasm_bindgen_test]
async fn requests_after_a_reset_are_not_found_errors() {
    // Without waiting for the event, the next request fails with Chrome's NotFoundError.
    let sim = install(photon(), StandInOptions::default());
    let mut t = connect().await;
    let dfu = Dfu::open(&mut t, 0, 1).await.unwrap();
    dfu.leave(None).await.unwrap();
    // The bootloader keeps answering through its 500 ms countdown (usbd_dfu_core.c 958-968), then
    // resets: the stand-in drops the device after its reset delay (500 ms by default).
    assert!(sim.device().left_dfu());
    webusb::sleep_ms(600).await;
    let err = key_rescue::dfu::get_status(&mut t, 0).await.unwrap_err();
    assert_eq!(
        err,
        key_rescue::dfu::Error::Transport(TransportError::Disconnected)
    );
    uninstall_fake_usb();
}

// What a page sees of the stand-in through plain WebUSB calls, as Particle's own host
// (particle-usb) drives it: no selectConfiguration, recipient `device` requests before any claim.
#[wasm_bindgen(inline_js = r#"
const name = async (p) => { try { await p; return 'ok'; } catch (e) { return e.name; } };
const getDescriptor = { requestType: 'standard', recipient: 'device', request: 6, value: 0x0100, index: 0 };
const getState = (index) => ({ requestType: 'class', recipient: 'interface', request: 5, value: 0, index });
export async function probeStandIn() {
  const out = {};
  const d = await navigator.usb.requestDevice({ filters: [{ vendorId: 0x2b04 }] });
  out.configAtRequest = d.configuration ? d.configuration.configurationValue : null;
  const granted = await navigator.usb.getDevices();
  out.configAtGetDevices = granted[0].configuration ? granted[0].configuration.configurationValue : null;
  out.beforeOpen = await name(d.controlTransferIn(getDescriptor, 18));
  await d.open();
  const desc = await d.controlTransferIn(getDescriptor, 18);
  out.deviceIn = `${desc.status}:${desc.data.byteLength}:${desc.data.getUint8(1)}`;
  const setConfig = await d.controlTransferOut({ requestType: 'standard', recipient: 'device', request: 9, value: 1, index: 0 });
  out.deviceOut = `${setConfig.status}:${setConfig.bytesWritten}`;
  out.interfaceUnclaimed = await name(d.controlTransferIn(getState(0), 1));
  out.interfaceMissing = await name(d.controlTransferIn(getState(1), 1));
  out.endpointZero = await name(d.controlTransferIn({ requestType: 'standard', recipient: 'endpoint', request: 0, value: 0, index: 0x80 }, 2));
  out.endpointOne = await name(d.controlTransferIn({ requestType: 'standard', recipient: 'endpoint', request: 0, value: 0, index: 0x81 }, 2));
  out.badEnum = await name(d.controlTransferIn({ requestType: 'bogus', recipient: 'device', request: 0, value: 0, index: 0 }, 2));
  out.selectAltUnclaimed = await name(d.selectAlternateInterface(0, 1));
  out.selectAltMissing = await name(d.selectAlternateInterface(1, 0));
  out.claim = await name(d.claimInterface(0));
  const state = await d.controlTransferIn(getState(0), 1);
  out.interfaceClaimed = `${state.status}:${state.data.getUint8(0)}`;
  out.selectCurrentConfig = await name(d.selectConfiguration(1));
  out.stillClaimed = d.configuration.interfaces[0].claimed;
  await d.close();
  out.afterClose = await name(d.controlTransferIn(getDescriptor, 18));
  out.configAfterClose = d.configuration ? d.configuration.configurationValue : null;
  return out;
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = probeStandIn)]
    fn probe_stand_in() -> js_sys::Promise;
}

fn field(obj: &wasm_bindgen::JsValue, key: &str) -> String {
    let v = js_sys::Reflect::get(obj, &key.into()).unwrap();
    v.as_string()
        .or_else(|| v.as_f64().map(|f| f.to_string()))
        .or_else(|| v.as_bool().map(|b| b.to_string()))
        .unwrap_or_else(|| format!("{v:?}"))
}

#[wasm_bindgen_test]
async fn the_stand_in_is_exactly_as_strict_as_chrome() {
    let sim = install(photon(), StandInOptions::default());
    let out = wasm_bindgen_futures::JsFuture::from(probe_stand_in())
        .await
        .unwrap();
    // The configuration the OS selected is there as soon as the page has the device.
    assert_eq!(field(&out, "configAtRequest"), "1");
    assert_eq!(field(&out, "configAtGetDevices"), "1");
    assert_eq!(field(&out, "beforeOpen"), "InvalidStateError");
    // Recipient `device` needs only open(): no claim, no selectConfiguration.
    assert_eq!(field(&out, "deviceIn"), "ok:18:1");
    assert_eq!(field(&out, "deviceOut"), "ok:0");
    // Recipient `interface` needs the claim; an interface the configuration lacks is not found.
    assert_eq!(field(&out, "interfaceUnclaimed"), "InvalidStateError");
    assert_eq!(field(&out, "interfaceMissing"), "NotFoundError");
    // Recipient `endpoint`: endpoint 0 is out of range, the DFU interface has no other endpoint.
    assert_eq!(field(&out, "endpointZero"), "IndexSizeError");
    assert_eq!(field(&out, "endpointOne"), "NotFoundError");
    assert_eq!(field(&out, "badEnum"), "TypeError");
    assert_eq!(field(&out, "selectAltUnclaimed"), "InvalidStateError");
    assert_eq!(field(&out, "selectAltMissing"), "NotFoundError");
    // particle-usb's sequence: open, claimInterface, transfers.
    assert_eq!(field(&out, "claim"), "ok");
    assert_eq!(field(&out, "interfaceClaimed"), "ok:2");
    // Selecting the current configuration is a no-op that keeps the claim.
    assert_eq!(field(&out, "selectCurrentConfig"), "ok");
    assert_eq!(field(&out, "stillClaimed"), "true");
    assert_eq!(field(&out, "afterClose"), "InvalidStateError");
    assert_eq!(field(&out, "configAfterClose"), "1");
    // Only the requests Chrome lets through reached the device: GET_DESCRIPTOR, SET_CONFIGURATION
    // and the claimed GETSTATE.
    assert_eq!(sim.device().transfers(), 3);
    uninstall_fake_usb();
}

#[wasm_bindgen_test]
async fn the_adapter_opens_a_device_whose_configuration_is_already_set() {
    // The adapter selects a configuration only when there is none; with the OS's configuration
    // already set it goes straight to the claim, and the DFU session works.
    let sim = install(photon(), StandInOptions::default());
    let mut t = connect().await;
    let dfu = Dfu::open(&mut t, 0, 1).await.unwrap();
    assert_eq!(dfu.functional().transfer_size, 4096);
    assert_eq!(sim.device().alternate(), 1);
    uninstall_fake_usb();
}

#[wasm_bindgen_test]
async fn a_transfer_that_never_completes_times_out_and_a_replugged_device_opens_again() {
    use key_rescue::usb::{ControlSetup, Transport};
    // The stand-in answers the first control transfer with a promise that never settles, as
    // Chrome does for a wedged device: only the adapter's own timer can end the wait.
    let sim = install(photon().hang_at_request(1), StandInOptions::default());
    let mut t = connect().await;
    let getstate = ControlSetup::class_interface(5, 0, 0);
    let err = t.control_in(getstate, 1).await.unwrap_err();
    assert_eq!(err, TransportError::Timeout);
    assert!(sim.device().hung());
    assert!(err.hint().contains("Reconnect"));
    uninstall_fake_usb();

    // Unplugged and plugged in again (the page's Reconnect): a new device object opens at once.
    sim.device_mut().reenter_dfu();
    install_simulated_usb(std::slice::from_ref(&sim), StandInOptions::default());
    let mut t = connect().await;
    let dfu = Dfu::open(&mut t, 0, 1).await.unwrap();
    assert_eq!(dfu.functional().transfer_size, 4096);
    uninstall_fake_usb();
}
