//! The page's side of the simulated mode, which lives in its own WebAssembly module
//! (key-rescue-sim, `sim::browser`) loaded only when the simulated mode starts: a user repairing a
//! real device never downloads it. The page reaches the simulated Photon as it reaches a real one,
//! through `navigator.usb` / `navigator.serial` (the module installs the stand-ins), and the
//! simulated cloud through [`SimCloudLink`], a [`CloudApi`] that hands each request to the module
//! and its answer back (`cloud::relay`), deciding nothing.
//!
//! With the `sim` feature (the browser tests) the simulators are in this module already and are
//! started in place, through the same JavaScript-facing `SimPage`.

use crate::cloud::{ApiBase, ApiError, ApiRequest, ApiResponse, CloudApi, Issuer, relay};
use crate::sim::faults::Fault;
use js_sys::{Array, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[cfg(not(feature = "sim"))]
#[wasm_bindgen(module = "/www/load-sim.js")]
extern "C" {
    /// Loads key-rescue-sim (once) and calls its `startSimulation`.
    #[wasm_bindgen(js_name = startSimulation)]
    fn load_and_start(
        fault: &str,
        normal_mode: bool,
        api: Option<String>,
        platform: Option<String>,
    ) -> Promise;
}

#[cfg(feature = "sim")]
fn load_and_start(
    fault: &str,
    normal_mode: bool,
    api: Option<String>,
    platform: Option<String>,
) -> Promise {
    crate::sim::browser::start_simulation(fault, normal_mode, api, platform)
}

#[wasm_bindgen]
extern "C" {
    /// key-rescue-sim's `SimPage` (`sim::browser::SimPage`): one simulated Photon and its cloud.
    #[derive(Clone)]
    pub type SimHandle;
    #[wasm_bindgen(method, catch, js_name = withFault)]
    fn with_fault(this: &SimHandle, fault: &str, normal_mode: bool) -> Result<SimHandle, JsValue>;
    #[wasm_bindgen(method)]
    fn execute(
        this: &SimHandle,
        method: &str,
        path: &str,
        headers: Vec<String>,
        body: Option<String>,
    ) -> Promise;
    #[wasm_bindgen(method)]
    fn sleep(this: &SimHandle, ms: u32) -> Promise;
    #[wasm_bindgen(method, js_name = nowMs)]
    fn now_ms(this: &SimHandle) -> f64;
    #[wasm_bindgen(method, js_name = apiBase)]
    fn api_base(this: &SimHandle) -> Option<String>;
    #[wasm_bindgen(method, js_name = cloudLabel)]
    pub fn cloud_label(this: &SimHandle) -> String;
    #[wasm_bindgen(method, js_name = serverRegion)]
    pub fn server_region(this: &SimHandle) -> Vec<u8>;
    #[wasm_bindgen(method)]
    pub fn replug(this: &SimHandle);
    #[wasm_bindgen(method)]
    pub fn stop(this: &SimHandle);
}

/// Why the simulated mode did not start or change: what happened and what to do (as the page's
/// error panel shows them).
pub type SimProblem = (String, String);

/// `[message, hint]` from the module, or the browser's error when the module did not load.
fn problem(e: JsValue) -> SimProblem {
    if let Some(parts) = e.dyn_ref::<Array>() {
        let part = |i| parts.get(i).as_string().unwrap_or_default();
        return (part(0), part(1));
    }
    let detail = super::js_error_text(&e).unwrap_or_default();
    (
        format!("the simulated mode could not be loaded: {detail}"),
        "Check the connection to the page's server, then press Try with a simulated Photon again."
            .into(),
    )
}

/// Loads the simulated mode (the first time) and starts a simulated Photon with `fault`, or a
/// simulated Core for `platform` `"core"` (a `sim=core` link).
pub async fn start(
    fault: Fault,
    normal_mode: bool,
    api: Option<&ApiBase>,
    platform: &str,
) -> Result<SimHandle, SimProblem> {
    let promise = load_and_start(
        fault.name(),
        normal_mode,
        api.map(|a| a.as_str().to_owned()),
        Some(platform.to_owned()),
    );
    match JsFuture::from(promise).await {
        Ok(handle) => Ok(handle.unchecked_into()),
        Err(e) => Err(problem(e)),
    }
}

impl SimHandle {
    /// The same cloud (and sign-in) with a new simulated Photon that has `fault`.
    pub fn changed(&self, fault: Fault, normal_mode: bool) -> Result<SimHandle, SimProblem> {
        self.with_fault(fault.name(), normal_mode).map_err(problem)
    }

    /// The simulated cloud as the page's [`CloudApi`].
    pub fn cloud(&self) -> SimCloudLink {
        let issuer = match self.api_base().map(|b| ApiBase::parse(&b)) {
            Some(Ok(base)) => Issuer::Api(base),
            _ => Issuer::InPage,
        };
        SimCloudLink {
            sim: self.clone(),
            issuer,
        }
    }
}

/// The simulated cloud as the page's [`CloudApi`]: each call is handed to the sim module.
#[derive(Clone)]
pub struct SimCloudLink {
    sim: SimHandle,
    /// Which cloud this is, as a token records its issuer.
    pub issuer: Issuer,
}

impl CloudApi for SimCloudLink {
    async fn execute(&mut self, request: &ApiRequest) -> Result<ApiResponse, ApiError> {
        let headers = request
            .headers
            .iter()
            .flat_map(|(name, value)| [(*name).to_owned(), value.clone()])
            .collect();
        let promise = self.sim.execute(
            request.method.as_str(),
            &request.path,
            headers,
            request.body.clone(),
        );
        let outcome = JsFuture::from(promise).await;
        let pair = Array::from(&outcome.clone().unwrap_or_else(|e| e));
        let text = pair.get(1).as_string().unwrap_or_default();
        match outcome {
            Ok(_) => Ok(ApiResponse::new(
                pair.get(0).as_f64().unwrap_or(0.0) as u16,
                text,
            )),
            Err(_) => Err(relay::error_from_parts(
                &pair.get(0).as_string().unwrap_or_default(),
                &text,
            )),
        }
    }

    async fn sleep(&mut self, ms: u32) {
        let _ = JsFuture::from(self.sim.sleep(ms)).await;
    }

    fn now_ms(&self) -> u64 {
        self.sim.now_ms() as u64
    }
}
