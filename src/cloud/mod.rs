//! The Particle cloud: which API the page may talk to, typed requests and pure response parsing.
//!
//! No browser imports here; the HTTP send lives in `http.rs` (wasm32 only, the one file that uses
//! gloo-net) behind the small [`CloudApi`] trait, and `crate::sim::cloud` implements the same trait
//! in-process. Request building (`request.rs`) and parsing (`response.rs`) are plain functions tested
//! natively. Facts: shared/reference/cloud-api.md.

pub mod body;
mod error;
mod held;
#[cfg(target_arch = "wasm32")]
pub mod http;
pub mod relay;
mod request;
mod response;

pub use error::{ApiError, MAX_CLOUD_TEXT_CHARS, cap_cloud_text};
pub use held::{HeldToken, IN_PAGE_CLOUD_LABEL, Issuer, SignOut, TOKEN_STORAGE_KEY};
pub use request::{
    AccessToken, ApiRequest, FORM, InputField, KeyAlgorithm, KeyUpload, Method, OAUTH_CLIENT_ID,
    OAUTH_CLIENT_SECRET, ProductRef, SIGN_IN_EXPIRES_IN_S, form_decode, form_encode,
};
pub use response::{
    ApiResponse, DeviceInfo, Session, SignInStep, parse_device, parse_devices,
    parse_product_device, parse_send_public_key, parse_sign_in, parse_sign_out, parse_team_role,
    parse_user, refuses_token, role_may_send_keys,
};

use thiserror::Error;

/// How long one request to the cloud may take, from sending it to the last byte of the answer,
/// before it is abandoned with [`ApiError::Timeout`] (the browser's `fetch` has no deadline of its
/// own). Particle's API answers the calls this page makes (the token grant, the device lookups, the
/// key upload, the revoke) in well under a second, and none of them is a long poll (waiting for a
/// device to come online is a series of short requests, [`CloudApi::wait_until_online`]); 15 s
/// leaves room for a slow phone hotspot that retransmits, and is short enough that a stalled
/// network shows its error instead of an endless "Working…".
pub const REQUEST_TIMEOUT_MS: u32 = 15_000;

/// How often [`CloudApi::wait_until_online`] asks by default: the device retries its handshake
/// every few seconds, so polling faster only spends the rate limit.
pub const ONLINE_POLL_MS: u32 = 2_000;

/// The Particle API as the rest of the page sees it.
///
/// Implementors provide the three primitives (send one request, sleep, read the wall clock); the
/// endpoint methods are provided on top of them so every implementation parses answers the same way.
/// Test stubs may override any provided method. No `Send` bound: browser futures are `!Send`.
#[allow(async_fn_in_trait)]
pub trait CloudApi {
    /// Sends one request. `Err` only when no answer arrived: [`ApiError::Network`], or
    /// [`ApiError::Timeout`] when none arrived within [`REQUEST_TIMEOUT_MS`] (every implementation
    /// enforces it; a redirect is not followed). Any HTTP status is an `Ok` answer for the parsers
    /// to judge.
    async fn execute(&mut self, request: &ApiRequest) -> Result<ApiResponse, ApiError>;

    /// Waits `ms` milliseconds between polls; simulations advance a virtual clock instead.
    async fn sleep(&mut self, ms: u32);

    /// Milliseconds since the Unix epoch, for the CLI's `order=manual_<ms>` field.
    fn now_ms(&self) -> u64;

    /// Signs in with email and password. An MFA account answers [`ApiError::MfaRequired`]; continue
    /// with [`CloudApi::sign_in_otp`]. An empty email or password is refused before anything is
    /// sent ([`ApiError::MissingInput`]).
    async fn sign_in(&mut self, email: &str, password: &str) -> Result<Session, ApiError> {
        InputField::Email.require(email)?;
        InputField::Password.require(password)?;
        let resp = self.execute(&ApiRequest::sign_in(email, password)).await?;
        parse_sign_in(&resp, SignInStep::Password)
    }

    /// The second MFA step: the `mfa_token` from [`ApiError::MfaRequired`] and the 6-digit code
    /// (an empty code is refused before anything is sent).
    async fn sign_in_otp(&mut self, mfa_token: &str, otp: &str) -> Result<Session, ApiError> {
        InputField::OneTimeCode.require(otp)?;
        let resp = self
            .execute(&ApiRequest::sign_in_otp(mfa_token, otp))
            .await?;
        parse_sign_in(&resp, SignInStep::OneTimeCode)
    }

    /// Checks a pasted token by listing the account's devices, and returns it as a session.
    async fn sign_in_with_token(&mut self, pasted: &str) -> Result<Session, ApiError> {
        InputField::AccessToken.require(pasted)?;
        let token = AccessToken::from_pasted(pasted)?;
        self.devices(&token).await?;
        Ok(Session {
            token,
            expires_in_s: None,
        })
    }

    /// Revokes the token. A token the cloud no longer accepts counts as signed out.
    async fn sign_out(&mut self, token: &AccessToken) -> Result<(), ApiError> {
        let resp = self.execute(&ApiRequest::sign_out(token)).await?;
        parse_sign_out(&resp)
    }

    /// Looks one device up: owner or team access, product, platform, online, last handshake.
    async fn device(
        &mut self,
        token: &AccessToken,
        device_id: &str,
    ) -> Result<DeviceInfo, ApiError> {
        let resp = self.execute(&ApiRequest::device(token, device_id)).await?;
        parse_device(&resp, device_id)
    }

    /// Looks one device up through its product (`GET /v1/products/:product/devices/:id`), the
    /// route Particle's clients use for product devices; a team member is answered there.
    async fn product_device(
        &mut self,
        token: &AccessToken,
        product: &ProductRef,
        device_id: &str,
    ) -> Result<DeviceInfo, ApiError> {
        let request = ApiRequest::product_device(token, product, device_id);
        let resp = self.execute(&request).await?;
        parse_product_device(&resp, product, device_id)
    }

    /// [`CloudApi::product_device`] when a product is given, else [`CloudApi::device`].
    async fn device_in(
        &mut self,
        token: &AccessToken,
        product: Option<&ProductRef>,
        device_id: &str,
    ) -> Result<DeviceInfo, ApiError> {
        match product {
            Some(product) => self.product_device(token, product, device_id).await,
            None => self.device(token, device_id).await,
        }
    }

    /// The account's devices.
    async fn devices(&mut self, token: &AccessToken) -> Result<Vec<DeviceInfo>, ApiError> {
        let resp = self.execute(&ApiRequest::devices(token)).await?;
        parse_devices(&resp)
    }

    /// The signed-in account's role in `product_id`'s team (`None`: not on the team), so the page
    /// can tell before writing anything whether a product device's key may be sent.
    async fn product_role(
        &mut self,
        token: &AccessToken,
        product_id: u32,
    ) -> Result<Option<String>, ApiError> {
        let user = parse_user(&self.execute(&ApiRequest::user(token)).await?)?;
        let resp = self
            .execute(&ApiRequest::product_team(token, product_id))
            .await?;
        parse_team_role(&resp, product_id, &user)
    }

    /// Uploads a device public key like `particle keys send`.
    async fn send_public_key(
        &mut self,
        token: &AccessToken,
        upload: &KeyUpload,
    ) -> Result<(), ApiError> {
        let request = ApiRequest::send_public_key(token, upload, self.now_ms());
        let resp = self.execute(&request).await?;
        parse_send_public_key(&resp, &upload.device_id, upload.product_id)
    }

    /// Polls the device every `poll_ms` until it reports online, for at most `timeout_ms`.
    ///
    /// Network, timeout and server errors while waiting are retried (a phone hotspot drops a
    /// request now and then); token and permission errors end the wait at once. The time counted is
    /// the sleeps or the clock, whichever moved more, so requests that each take their whole
    /// deadline cannot stretch the wait beyond `timeout_ms` plus one request. A cloud that answered
    /// none of the polls ends the wait with its last error, not [`ApiError::DeviceStayedOffline`].
    async fn wait_until_online(
        &mut self,
        token: &AccessToken,
        device_id: &str,
        timeout_ms: u32,
        poll_ms: u32,
    ) -> Result<DeviceInfo, ApiError> {
        self.wait_until_online_in(token, None, device_id, timeout_ms, poll_ms)
            .await
    }

    /// [`CloudApi::wait_until_online`], asking through `product`'s route when one is given.
    async fn wait_until_online_in(
        &mut self,
        token: &AccessToken,
        product: Option<&ProductRef>,
        device_id: &str,
        timeout_ms: u32,
        poll_ms: u32,
    ) -> Result<DeviceInfo, ApiError> {
        let poll_ms = poll_ms.max(1);
        let started = self.now_ms();
        let mut slept: u32 = 0;
        // The last failure while no poll has been answered: if the cloud never answered at all,
        // that (not "stayed offline") is what the wait ends with.
        let mut unanswered: Option<ApiError> = None;
        let mut answered = false;
        loop {
            match self.device_in(token, product, device_id).await {
                Ok(info) if info.is_online() => return Ok(info),
                Ok(_) => answered = true,
                Err(
                    e @ (ApiError::Network { .. }
                    | ApiError::Timeout { .. }
                    | ApiError::Server { .. }),
                ) => unanswered = Some(e),
                Err(other) => return Err(other),
            }
            let elapsed = u32::try_from(self.now_ms().saturating_sub(started)).unwrap_or(u32::MAX);
            let waited = slept.max(elapsed);
            if waited >= timeout_ms {
                if let Some(e) = unanswered.filter(|_| !answered) {
                    return Err(e);
                }
                return Err(ApiError::DeviceStayedOffline {
                    device_id: device_id.to_ascii_lowercase(),
                    waited_s: waited.div_ceil(1000),
                });
            }
            let step = poll_ms.min(timeout_ms - waited);
            self.sleep(step).await;
            slept += step;
        }
    }
}

/// Particle's production API.
pub const PRODUCTION_API: &str = "https://api.particle.io";

/// The API base the page talks to: production, or a loopback test cloud that the page shows plainly.
///
/// A support link can carry an override; anything but loopback is refused so a crafted link cannot
/// send a password elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiBase {
    url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ApiBaseError {
    #[error("the API address {0:?} is not Particle's cloud or a loopback test cloud")]
    NotAllowed(String),
}

impl ApiBaseError {
    pub fn hint(&self) -> &'static str {
        "Remove the api parameter from the link to use Particle's cloud, or use \
         http://127.0.0.1:<port> for a local test cloud."
    }
}

impl Default for ApiBase {
    fn default() -> Self {
        Self::production()
    }
}

impl ApiBase {
    pub fn production() -> Self {
        Self {
            url: PRODUCTION_API.to_owned(),
        }
    }

    /// Accepts Particle's API, or `http(s)://127.0.0.1[:port]`, `http(s)://localhost[:port]` or
    /// `http(s)://[::1][:port]`, with an optional trailing slash and nothing else.
    pub fn parse(input: &str) -> Result<Self, ApiBaseError> {
        let refuse = || ApiBaseError::NotAllowed(input.to_owned());
        let trimmed = input.trim().trim_end_matches('/');
        if trimmed.eq_ignore_ascii_case(PRODUCTION_API) {
            return Ok(Self::production());
        }
        let lower = trimmed.to_ascii_lowercase();
        let authority = lower
            .strip_prefix("http://")
            .or_else(|| lower.strip_prefix("https://"))
            .ok_or_else(refuse)?;
        // Userinfo, paths, queries and fragments could smuggle another host past a naive check.
        if authority.contains(['@', '/', '\\', '?', '#', '%']) || authority.is_empty() {
            return Err(refuse());
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(':') && (!h.starts_with('[') || h.ends_with(']')) => {
                (h, Some(p))
            }
            _ => (authority, None),
        };
        if !matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
            return Err(refuse());
        }
        if let Some(port) = port {
            let valid = !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit())
                && port.parse::<u16>().is_ok_and(|p| p != 0);
            if !valid {
                return Err(refuse());
            }
        }
        Ok(Self { url: lower })
    }

    pub fn is_production(&self) -> bool {
        self.url == PRODUCTION_API
    }

    pub fn as_str(&self) -> &str {
        &self.url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_overrides_are_accepted() {
        for ok in [
            "http://127.0.0.1:8081",
            "http://localhost:3000/",
            "https://LOCALHOST",
            "http://[::1]:9000",
            "http://127.0.0.1",
        ] {
            let base = ApiBase::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
            assert!(!base.is_production());
            assert!(!base.as_str().ends_with('/'));
        }
        assert!(
            ApiBase::parse("https://api.particle.io/")
                .unwrap()
                .is_production()
        );
    }

    #[test]
    fn everything_else_is_refused() {
        for bad in [
            "http://evil.example",
            "http://127.0.0.1.evil.example",
            "http://127.0.0.1@evil.example",
            "http://evil.example#@127.0.0.1",
            "http://localhost:80/../evil",
            "http://localhost:0",
            "http://localhost:99999",
            "http://localhost:",
            "ftp://127.0.0.1",
            "127.0.0.1:8080",
            "http://127.0.0.2",
            "http://%6cocalhost",
            "https://api.particle.io.evil.example",
            "",
        ] {
            assert!(ApiBase::parse(bad).is_err(), "{bad} must be refused");
        }
    }
}
