//! The simulated cloud served in-process through [`CloudApi`]: the page's simulated mode and the
//! native tests use the same client code as the browser, minus `fetch`.

use super::{SimCloud, SimHttpRequest};
use crate::cloud::{ApiError, ApiRequest, ApiResponse, CloudApi, REQUEST_TIMEOUT_MS};
use std::cell::RefCell;
use std::rc::Rc;

/// A [`CloudApi`] over a shared [`SimCloud`], with a virtual clock that [`CloudApi::sleep`]
/// advances, so waiting for a device takes no real time.
#[derive(Debug, Clone)]
pub struct SimCloudApi {
    cloud: Rc<RefCell<SimCloud>>,
    now_ms: u64,
    offline: bool,
    /// Requests that get no answer: the next this many, or all while `silent` is set.
    unanswered: u32,
    silent: bool,
}

impl SimCloudApi {
    /// Serves `cloud` starting at `start_ms` (milliseconds since the Unix epoch).
    pub fn new(cloud: Rc<RefCell<SimCloud>>, start_ms: u64) -> Self {
        Self {
            cloud,
            now_ms: start_ms,
            offline: false,
            unanswered: 0,
            silent: false,
        }
    }

    /// The cloud this client talks to, shared with simulated devices.
    pub fn cloud(&self) -> &Rc<RefCell<SimCloud>> {
        &self.cloud
    }

    /// Moves the virtual clock forward, letting running devices retry their handshake.
    pub fn advance(&mut self, ms: u64) {
        self.now_ms = self.now_ms.saturating_add(ms);
        self.cloud.borrow_mut().tick(self.now_ms);
    }

    /// Simulates a lost internet connection: every request fails without an answer.
    pub fn set_offline(&mut self, offline: bool) {
        self.offline = offline;
    }

    /// Simulates a cloud that never answers (a stalled connection, a proxy that holds requests):
    /// while `silent`, every request waits out the deadline and fails with [`ApiError::Timeout`].
    pub fn set_silent(&mut self, silent: bool) {
        self.silent = silent;
    }

    /// The next `count` requests get no answer (then the cloud answers again).
    pub fn leave_unanswered(&mut self, count: u32) {
        self.unanswered = count;
    }

    /// The request as the HTTP layer would carry it.
    pub fn to_http(request: &ApiRequest) -> SimHttpRequest {
        SimHttpRequest {
            method: request.method.as_str().to_owned(),
            target: request.path.clone(),
            headers: request
                .headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), v.clone()))
                .collect(),
            body: request.body.clone().unwrap_or_default(),
        }
    }
}

impl CloudApi for SimCloudApi {
    async fn execute(&mut self, request: &ApiRequest) -> Result<ApiResponse, ApiError> {
        if self.offline {
            return Err(ApiError::Network {
                message: "simulated: no internet connection".into(),
            });
        }
        if self.silent || self.unanswered > 0 {
            self.unanswered = self.unanswered.saturating_sub(1);
            // The browser's adapter abandons the request when its deadline passes; here the
            // virtual clock passes it at once, and the cloud never sees the request.
            self.advance(u64::from(REQUEST_TIMEOUT_MS));
            return Err(ApiError::timeout());
        }
        let resp = self
            .cloud
            .borrow_mut()
            .handle(&Self::to_http(request), self.now_ms);
        Ok(ApiResponse {
            status: resp.status,
            body: resp.body,
        })
    }

    async fn sleep(&mut self, ms: u32) {
        self.advance(u64::from(ms));
    }

    fn now_ms(&self) -> u64 {
        self.now_ms
    }
}
