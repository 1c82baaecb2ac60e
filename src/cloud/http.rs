//! The browser's [`CloudApi`]: sends [`ApiRequest`]s with `fetch` through gloo-net.
//!
//! wasm32 only, and the only file in the crate that imports gloo-net. It adds nothing to a request
//! (no extra headers: Particle's CORS preflight would refuse them) and judges nothing: statuses and
//! bodies go back to the pure parsers in `response.rs`.
//!
//! Two things it does set on every `fetch`: a deadline ([`REQUEST_TIMEOUT_MS`], through
//! `AbortSignal.timeout`, which also covers reading the body), and `redirect: "manual"`: Particle's
//! API does not redirect, and following a 308 would re-send a password POST to wherever it points.
//! A redirect is never followed; it comes back as an opaque answer and becomes
//! [`ApiError::Redirected`] (with `"error"` it would be indistinguishable from being offline).

use super::{ApiBase, ApiError, ApiRequest, ApiResponse, CloudApi, Method, REQUEST_TIMEOUT_MS};
use gloo_net::http::{Method as FetchMethod, RequestBuilder};
use web_sys::{AbortSignal, RequestRedirect, ResponseType};

/// The Particle API over `fetch`, against one [`ApiBase`] (production or a loopback test cloud).
#[derive(Debug, Clone)]
pub struct HttpCloud {
    base: ApiBase,
}

impl HttpCloud {
    pub fn new(base: ApiBase) -> Self {
        Self { base }
    }

    pub fn base(&self) -> &ApiBase {
        &self.base
    }
}

impl CloudApi for HttpCloud {
    async fn execute(&mut self, request: &ApiRequest) -> Result<ApiResponse, ApiError> {
        let url = format!("{}{}", self.base.as_str(), request.path);
        let method = match request.method {
            Method::Get => FetchMethod::GET,
            Method::Post => FetchMethod::POST,
            Method::Delete => FetchMethod::DELETE,
        };
        // The timer runs from here to the last byte of the body; when it fires, fetch (or the
        // body read) rejects and the signal says it was the deadline.
        let deadline = AbortSignal::timeout_with_u32(REQUEST_TIMEOUT_MS);
        let mut builder = RequestBuilder::new(&url)
            .method(method)
            .redirect(RequestRedirect::Manual)
            .abort_signal(Some(&deadline));
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let built = match &request.body {
            Some(body) => builder.body(body.as_str()),
            None => builder.build(),
        }
        .map_err(network)?;
        let failed = |e| {
            if deadline.aborted() {
                ApiError::timeout()
            } else {
                network(e)
            }
        };
        // fetch rejects only when no answer arrived: offline, DNS, a refused CORS preflight, or
        // the deadline.
        let response = built.send().await.map_err(failed)?;
        if response.type_() == ResponseType::Opaqueredirect {
            return Err(ApiError::Redirected);
        }
        let status = response.status();
        let body = response.text().await.map_err(failed)?;
        Ok(ApiResponse { status, body })
    }

    async fn sleep(&mut self, ms: u32) {
        let promise = js_sys::Promise::new(&mut |resolve, _reject| {
            let Some(window) = web_sys::window() else {
                // No window (a worker): resolve at once rather than hang the poll loop forever.
                let _ = resolve.call0(&wasm_bindgen::JsValue::NULL);
                return;
            };
            let timeout = i32::try_from(ms).unwrap_or(i32::MAX);
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, timeout);
        });
        let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
    }

    fn now_ms(&self) -> u64 {
        js_sys::Date::now() as u64
    }
}

/// The text of the two errors a plain send can return, as their `Display` writes it. Matching
/// instead of `e.to_string()` keeps `serde_json`'s error messages out of the page: Leptos turns on
/// gloo-net's `json` feature, whose third variant wraps a `serde_json::Error`.
fn network(e: gloo_net::Error) -> ApiError {
    let message = match e {
        gloo_net::Error::JsError(js) => js.to_string(),
        gloo_net::Error::GlooError(text) => text,
        // Only with gloo-net's `json` feature: a body read with `Response::json`, which this
        // client never calls.
        #[allow(unreachable_patterns)]
        _ => "the answer could not be read".to_owned(),
    };
    ApiError::Network { message }
}
