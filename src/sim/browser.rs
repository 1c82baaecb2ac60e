//! The page's simulated mode, wasm32 only: plugs a simulated Photon with the chosen fault into the
//! `navigator.usb` stand-in, so the page reaches it through `usb::webusb` exactly as it reaches a
//! real device, and picks the cloud it talks to.
//!
//! Without an `api` parameter the cloud is a `SimCloud` in this page, wired to the same device
//! (`SimWorld`), so the device boots and handshakes after it leaves DFU mode. With `api=` (a
//! loopback `sim-cloud --test-control`) the page talks HTTP to it, and once the device has left DFU
//! mode its DCT is posted to the server's control route so it boots and handshakes there. All HTTP
//! goes through `cloud::http::HttpCloud`; this file touches no browser API itself.
//!
//! Compiled only with the `sim` feature: the page loads it as its own WebAssembly module
//! (key-rescue-sim) when the simulated mode starts, through [`SimPage`].

use super::cloud::SimCloud;
use super::cloud::scenario;
use super::cloud::wire::{hex, unhex};
use super::device::Platform;
use super::device::SimBuilder;
use super::device::js::{
    JsSimDevice, StandInOptions, choose_next_device, install_simulated_serial,
    install_simulated_usb, plug_simulated_usb, refuse_next_port_request, uninstall_fake_serial,
    uninstall_fake_usb,
};
use super::faults::Fault;
use super::world::{SimWorld, WorldCloudApi};
use crate::cloud::http::HttpCloud;
use crate::cloud::{ApiBase, ApiError, ApiRequest, ApiResponse, CloudApi, Method, relay};
use crate::keys::KeyError;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use thiserror::Error;

/// The device ID of the second simulated Photon ([`SimMode::plug_second_photon`]); the demo
/// cloud does not know it.
pub const SECOND_PHOTON_ID: &str = "fedcba9876543210fedcba98";

/// Why the simulated mode could not start.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SimStartError {
    #[error("the simulated Photon could not be built: {0}")]
    Key(#[from] KeyError),
    #[error("the simulated cloud could not be created: {0}")]
    Cloud(String),
    #[error("the test cloud did not answer: {0}")]
    Api(#[from] ApiError),
    #[error("no simulated mode is running")]
    NotRunning,
}

impl SimStartError {
    pub fn hint(&self) -> &'static str {
        match self {
            Self::Api(_) => {
                "Start `sim-cloud --test-control` and use the address it prints, or remove the api \
                 parameter to use the in-page simulated cloud."
            }
            Self::NotRunning => "Start the simulated mode first (Try with a simulated Photon).",
            _ => "Reload the page and try again.",
        }
    }
}

/// The simulated cloud as the page's [`CloudApi`]. Cheap to clone: clones share one cloud.
#[derive(Clone)]
pub enum SimCloudClient {
    /// The in-page cloud. The client is taken out while a call runs (calls never overlap: the
    /// page runs one step at a time), so no `RefCell` borrow is held across an await.
    InPage(Rc<RefCell<Option<WorldCloudApi>>>),
    /// A loopback `sim-cloud` with its control routes.
    Loopback {
        http: HttpCloud,
        device: JsSimDevice,
        booted: Rc<Cell<bool>>,
        /// The firmware restarts (request 40 in normal mode) already booted at the server.
        restarts_seen: Rc<Cell<u32>>,
        /// [`Fault::CloudNeverAnswers`]: each request is first marked at the server to go
        /// unanswered, so the real adapter's deadline ends it.
        silent: bool,
    },
}

fn busy() -> ApiError {
    ApiError::Network {
        message: "the simulated cloud is busy with another request".into(),
    }
}

impl SimCloudClient {
    /// After the device has left DFU mode, has the loopback cloud boot it from its DCT, once; and
    /// again after each restart of its firmware in normal mode (request 40).
    async fn boot_if_left(&mut self) {
        let Self::Loopback {
            http,
            device,
            booted,
            restarts_seen,
            ..
        } = self
        else {
            return;
        };
        let (left, restarts) = {
            let d = device.device();
            (d.left_dfu(), d.firmware_restarts())
        };
        let restarted = restarts > restarts_seen.get();
        if !restarted && (booted.get() || !left) {
            return;
        }
        booted.set(true);
        restarts_seen.set(restarts);
        let (id, dct) = {
            let d = device.device();
            (d.device_id().to_owned(), hex(d.dct()))
        };
        let mut request = control_post(&format!("/__sim/devices/{id}/boot"));
        request.body = Some(dct);
        let _ = http.execute(&request).await;
    }
}

/// A `POST` to a control route of a loopback `sim-cloud --test-control`.
fn control_post(path: &str) -> ApiRequest {
    ApiRequest {
        method: Method::Post,
        path: path.to_owned(),
        headers: Vec::new(),
        body: None,
    }
}

impl CloudApi for SimCloudClient {
    async fn execute(&mut self, request: &ApiRequest) -> Result<ApiResponse, ApiError> {
        self.boot_if_left().await;
        match self {
            Self::InPage(cell) => {
                let mut api = cell.borrow_mut().take().ok_or_else(busy)?;
                let result = api.execute(request).await;
                *cell.borrow_mut() = Some(api);
                result
            }
            Self::Loopback { http, silent, .. } => {
                if *silent {
                    let path = request.path.split('?').next().unwrap_or_default();
                    let _ = http
                        .execute(&control_post(&format!(
                            "/__sim/hang?count=1&path={}",
                            path.replace('/', "%2F")
                        )))
                        .await;
                }
                http.execute(request).await
            }
        }
    }

    async fn sleep(&mut self, ms: u32) {
        match self {
            Self::InPage(cell) => {
                let taken = cell.borrow_mut().take();
                if let Some(mut api) = taken {
                    api.sleep(ms).await;
                    *cell.borrow_mut() = Some(api);
                }
            }
            Self::Loopback { http, .. } => http.sleep(ms).await,
        }
    }

    fn now_ms(&self) -> u64 {
        match self {
            Self::InPage(cell) => cell.borrow().as_ref().map_or(0, |api| api.now_ms()),
            Self::Loopback { http, .. } => http.now_ms(),
        }
    }
}

/// A running simulated mode: the device plugged into the stand-in and the cloud it talks to.
#[derive(Clone)]
pub struct SimMode {
    pub fault: Fault,
    /// The Photon started in normal mode (blinking cyan).
    pub normal_mode: bool,
    pub device: JsSimDevice,
    pub cloud: SimCloudClient,
    /// The simulated cloud's server-key region: what "Particle's key" is in this mode.
    pub server_region: Vec<u8>,
    /// What the test-cloud banner shows.
    pub cloud_label: String,
}

impl SimMode {
    /// Builds the simulated Photon with `fault` (in normal mode with `normal_mode`, or where the
    /// fault needs it), or with `other` a simulated Core or Electron in DFU mode (no fault),
    /// installs the stand-ins and picks the cloud.
    pub async fn start(
        fault: Fault,
        normal_mode: bool,
        api: Option<ApiBase>,
        other: Option<Platform>,
    ) -> Result<Self, SimStartError> {
        let (fault, normal_mode) = match other {
            Some(_) => (Fault::None, false),
            None => (fault, normal_mode || fault.normal_mode_only()),
        };
        // A Core or an Electron as it comes, in DFU mode: the Photon's faults do not apply (their
        // offsets are the Photon's DCT), and its keys are blank (a Core's external flash after a
        // full erase). A Core's bootloader reports a serial number derived from its unique ID, not
        // its device ID, so the page must be told the ID.
        let build = |region: &[u8]| match other {
            Some(platform) => Ok(JsSimDevice::from_builder(SimBuilder::new(platform))),
            None => build_device(fault, normal_mode, region),
        };
        match api.filter(|a| !a.is_production()) {
            None => {
                let mut cloud = SimCloud::generate().map_err(SimStartError::Cloud)?;
                scenario::seed_demo(&mut cloud);
                let server_region = cloud.server_key_region();
                let device = build(&server_region)?;
                let world = SimWorld::from_shared(device.shared(), cloud);
                let client = in_page_client(&world, fault);
                plug_in(&device, fault);
                Ok(Self {
                    fault,
                    normal_mode,
                    device,
                    cloud: client,
                    server_region,
                    cloud_label: crate::cloud::IN_PAGE_CLOUD_LABEL.into(),
                })
            }
            Some(base) => {
                let mut http = HttpCloud::new(base.clone());
                let server_region = loopback_server_region(&mut http).await?;
                let device = build(&server_region)?;
                plug_in(&device, fault);
                Ok(Self {
                    fault,
                    normal_mode,
                    device: device.clone(),
                    cloud: SimCloudClient::Loopback {
                        http,
                        device,
                        booted: Rc::new(Cell::new(false)),
                        restarts_seen: Rc::new(Cell::new(0)),
                        silent: fault.cloud_never_answers(),
                    },
                    server_region,
                    cloud_label: base.as_str().to_owned(),
                })
            }
        }
    }

    /// The same cloud (and sign-in) with a new simulated Photon that has `fault`, in normal mode
    /// with `normal_mode` (or where the fault needs it).
    pub fn with_fault(&self, fault: Fault, normal_mode: bool) -> Result<Self, SimStartError> {
        let normal_mode = normal_mode || fault.normal_mode_only();
        let device = build_device(fault, normal_mode, &self.server_region)?;
        let cloud = match &self.cloud {
            SimCloudClient::InPage(cell) => {
                let shared = cell
                    .borrow_mut()
                    .as_mut()
                    .map(|api| api.inner_mut().cloud().clone())
                    .ok_or_else(|| SimStartError::Cloud("the simulated cloud is busy".into()))?;
                let world = SimWorld {
                    device: device.shared(),
                    cloud: shared,
                };
                in_page_client(&world, fault)
            }
            SimCloudClient::Loopback { http, .. } => SimCloudClient::Loopback {
                http: http.clone(),
                device: device.clone(),
                booted: Rc::new(Cell::new(false)),
                restarts_seen: Rc::new(Cell::new(0)),
                silent: fault.cloud_never_answers(),
            },
        };
        plug_in(&device, fault);
        Ok(Self {
            fault,
            normal_mode,
            device,
            cloud,
            server_region: self.server_region.clone(),
            cloud_label: self.cloud_label.clone(),
        })
    }

    /// "Reconnect": the user put the device back in DFU mode (and closed whatever held its
    /// interface); the stand-in shows it as a newly plugged device.
    pub fn replug(&self) {
        {
            let mut d = self.device.device_mut();
            d.reenter_dfu();
            d.faults_mut().refuse_claim = false;
        }
        if let SimCloudClient::Loopback { booted, .. } = &self.cloud {
            booted.set(false);
        }
        plug_in(&self.device, Fault::None);
    }

    /// A second Photon plugged in beside the first, in DFU mode: another device ID
    /// ([`SECOND_PHOTON_ID`]), its own memories and keys, and the cloud's server key; it shares
    /// nothing with the first device but the cloud, and needs its own grant (`requestDevice`). It
    /// stays plugged in until the stand-in is installed again (another fault, Reconnect). Keep the
    /// handle to look at it ([`JsSimDevice::transfers`], [`JsSimDevice::dct`]).
    pub fn plug_second_photon(&self) -> Result<JsSimDevice, SimStartError> {
        let builder = Fault::None
            .device_builder(&self.server_region)?
            .device_id(SECOND_PHOTON_ID);
        let device = JsSimDevice::from_builder(builder);
        plug_simulated_usb(&device).map_err(|_| SimStartError::NotRunning)?;
        Ok(device)
    }

    /// Leaves the simulated mode: the browser's own `navigator.usb` is visible again.
    pub fn stop(&self) {
        uninstall_fake_usb();
        uninstall_fake_serial();
    }
}

/// The in-page cloud's client for `world`; with [`Fault::CloudNeverAnswers`] no request is
/// answered (each one passes the deadline in virtual time).
fn in_page_client(world: &SimWorld, fault: Fault) -> SimCloudClient {
    let mut api = world.cloud_api();
    api.inner_mut().set_silent(fault.cloud_never_answers());
    SimCloudClient::InPage(Rc::new(RefCell::new(Some(api))))
}

/// The simulated Photon with `fault`, holding `server_region` where it is healthy.
fn build_device(
    fault: Fault,
    normal_mode: bool,
    server_region: &[u8],
) -> Result<JsSimDevice, KeyError> {
    let builder = fault.device_builder(server_region)?;
    Ok(JsSimDevice::from_builder(if normal_mode {
        fault.in_normal_mode(builder)
    } else {
        builder
    }))
}

/// Shows `device` to the page through the `navigator.usb` and `navigator.serial` stand-ins, as the
/// only device plugged in.
fn plug_in(device: &JsSimDevice, fault: Fault) {
    install_simulated_usb(std::slice::from_ref(device), StandInOptions::default());
    install_simulated_serial(std::slice::from_ref(device));
    if fault.refuses_serial() {
        refuse_next_port_request();
    }
}

/// `GET /__sim/server-key-region` of a loopback `sim-cloud --test-control`.
async fn loopback_server_region(http: &mut HttpCloud) -> Result<Vec<u8>, ApiError> {
    let request = ApiRequest {
        method: Method::Get,
        path: "/__sim/server-key-region".into(),
        headers: Vec::new(),
        body: None,
    };
    let resp = http.execute(&request).await?;
    let unexpected = |detail: &str| ApiError::Unexpected {
        status: resp.status,
        detail: detail.to_owned(),
    };
    if resp.status != 200 {
        return Err(unexpected(
            "the server has no /__sim routes (start it with --test-control)",
        ));
    }
    let region: crate::sim::cloud::wire::ServerKeyRegion = crate::cloud::body::read(&resp.body)
        .map_err(|e| unexpected(&format!("not the server-key region ({e})")))?;
    unhex(&region.hex).ok_or_else(|| unexpected("bad hex"))
}

thread_local! {
    /// The simulated mode the page runs now (the last one started or changed, until stopped), for
    /// the test hooks [`plug_second_photon`] and [`choose_next`], which a test calls on this module
    /// from outside the page.
    static CURRENT: RefCell<Option<SimMode>> = const { RefCell::new(None) };
}

fn set_current(mode: Option<&SimMode>) {
    CURRENT.with(|c| *c.borrow_mut() = mode.cloned());
}

/// `plugSecondPhoton()`: [`SimMode::plug_second_photon`] in the running simulated mode, for tests
/// of a user with two devices. Returns the second Photon's `SimUsbDevice`; throws
/// `[message, hint]`.
#[wasm_bindgen::prelude::wasm_bindgen(js_name = plugSecondPhoton)]
pub fn plug_second_photon() -> Result<JsSimDevice, wasm_bindgen::JsValue> {
    let mode = CURRENT.with(|c| c.borrow().clone());
    mode.ok_or(SimStartError::NotRunning)
        .and_then(|m| m.plug_second_photon())
        .map_err(|e| start_error(&e))
}

/// `chooseNextDevice(serialNumber)`: in the next browser chooser the user picks the device with
/// this serial number (the device ID), as a user with several devices does.
#[wasm_bindgen::prelude::wasm_bindgen(js_name = chooseNextDevice)]
pub fn choose_next(serial_number: &str) {
    choose_next_device(serial_number);
}

/// The simulated mode as the page reaches it: exported to JavaScript by the key-rescue-sim module
/// (`src/bin/key-rescue-sim.rs`), which the page loads on demand and drives through
/// `ui::sim_module` (the page's own module has no simulator in it). Only strings, numbers and
/// promises cross; requests and their outcomes through `cloud::relay`.
#[wasm_bindgen::prelude::wasm_bindgen]
pub struct SimPage {
    mode: SimMode,
}

/// Why the simulated mode could not start or change, as JavaScript sees it: `[message, hint]`.
fn start_error(e: &SimStartError) -> wasm_bindgen::JsValue {
    let parts = js_sys::Array::new();
    parts.push(&e.to_string().into());
    parts.push(&e.hint().into());
    parts.into()
}

/// `startSimulation(fault, normalMode, api, platform)`: [`SimMode::start`] with the fault's name
/// (an unknown one is no fault), the loopback test cloud's address (`undefined`: the in-page cloud)
/// and the platform (`"core"`: a simulated Core, `"electron"`: an Electron; anything else, a
/// Photon); the promise resolves to
/// a [`SimPage`] or rejects with `[message, hint]`.
#[wasm_bindgen::prelude::wasm_bindgen(js_name = startSimulation)]
pub fn start_simulation(
    fault: &str,
    normal_mode: bool,
    api: Option<String>,
    platform: Option<String>,
) -> js_sys::Promise {
    let fault = Fault::from_name(fault).unwrap_or(Fault::None);
    let api = api.and_then(|a| ApiBase::parse(&a).ok());
    let other = match platform.as_deref() {
        Some("core") => Some(Platform::Core),
        Some("electron") => Some(Platform::Electron),
        _ => None,
    };
    wasm_bindgen_futures::future_to_promise(async move {
        match SimMode::start(fault, normal_mode, api, other).await {
            Ok(mode) => {
                set_current(Some(&mode));
                Ok(SimPage { mode }.into())
            }
            Err(e) => Err(start_error(&e)),
        }
    })
}

#[wasm_bindgen::prelude::wasm_bindgen]
impl SimPage {
    /// [`SimMode::with_fault`]; throws `[message, hint]`.
    #[wasm_bindgen(js_name = withFault)]
    pub fn with_fault(
        &self,
        fault: &str,
        normal_mode: bool,
    ) -> Result<SimPage, wasm_bindgen::JsValue> {
        let fault = Fault::from_name(fault).unwrap_or(Fault::None);
        match self.mode.with_fault(fault, normal_mode) {
            Ok(mode) => {
                set_current(Some(&mode));
                Ok(SimPage { mode })
            }
            Err(e) => Err(start_error(&e)),
        }
    }

    /// One request to the simulated cloud (`headers`: name, value, name, value…). Resolves to
    /// `[status, body]`, or rejects with `[kind, text]` of `cloud::relay::error_parts`.
    pub fn execute(
        &self,
        method: &str,
        path: String,
        headers: Vec<String>,
        body: Option<String>,
    ) -> js_sys::Promise {
        let pairs: Vec<(String, String)> = headers
            .chunks_exact(2)
            .map(|p| (p[0].clone(), p[1].clone()))
            .collect();
        let request = relay::request_from_parts(method, path, &pairs, body);
        let mut cloud = self.mode.cloud.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let outcome = match request {
                Some(request) => cloud.execute(&request).await,
                None => Err(ApiError::Network {
                    message: "the simulated cloud got a request it cannot read".into(),
                }),
            };
            let pair = js_sys::Array::new();
            match outcome {
                Ok(resp) => {
                    pair.push(&resp.status.into());
                    pair.push(&resp.body.into());
                    Ok(pair.into())
                }
                Err(e) => {
                    let (kind, text) = relay::error_parts(&e);
                    pair.push(&kind.into());
                    pair.push(&text.into());
                    Err(pair.into())
                }
            }
        })
    }

    /// [`CloudApi::sleep`] of the simulated cloud (virtual time in the page).
    pub fn sleep(&self, ms: u32) -> js_sys::Promise {
        let mut cloud = self.mode.cloud.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            cloud.sleep(ms).await;
            Ok(wasm_bindgen::JsValue::UNDEFINED)
        })
    }

    /// [`CloudApi::now_ms`] of the simulated cloud.
    #[wasm_bindgen(js_name = nowMs)]
    pub fn now_ms(&self) -> f64 {
        self.mode.cloud.now_ms() as f64
    }

    /// The loopback test cloud's address, or `undefined` for the in-page cloud.
    #[wasm_bindgen(js_name = apiBase)]
    pub fn api_base(&self) -> Option<String> {
        match &self.mode.cloud {
            SimCloudClient::InPage(_) => None,
            SimCloudClient::Loopback { http, .. } => Some(http.base().as_str().to_owned()),
        }
    }

    /// What the test-cloud banner shows.
    #[wasm_bindgen(js_name = cloudLabel)]
    pub fn cloud_label(&self) -> String {
        self.mode.cloud_label.clone()
    }

    /// The simulated cloud's server-key region.
    #[wasm_bindgen(js_name = serverRegion)]
    pub fn server_region(&self) -> Vec<u8> {
        self.mode.server_region.clone()
    }

    /// [`SimMode::replug`].
    pub fn replug(&self) {
        self.mode.replug();
    }

    /// [`SimMode::stop`].
    pub fn stop(&self) {
        set_current(None);
        self.mode.stop();
    }
}
