//! `ApiError`: every way a call to the Particle cloud can fail, each one something the user can act on.

use super::request::InputField;
use thiserror::Error;

/// What went wrong talking to the Particle cloud.
///
/// Variants carry data, not preformatted strings; `Display` says what happened and [`ApiError::hint`]
/// what to do next.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ApiError {
    /// `POST /oauth/token` answered 400 `invalid_grant`.
    #[error("the email or password is wrong")]
    WrongPassword,
    /// The password was right and the account uses multi-factor authentication: send a one-time
    /// code with this token next (cloud-api.md 2, MFA step 1).
    #[error("this account needs a one-time code from its authenticator app")]
    MfaRequired { mfa_token: String },
    /// Any 4xx answer to the one-time-code step (the production body is not public).
    #[error("the one-time code was not accepted")]
    WrongOtp,
    /// The account signs in through single sign-on, which does not work off Particle's domain.
    #[error("this account signs in with single sign-on")]
    SingleSignOn,
    /// A pasted access token that cannot be a Particle token (empty, spaces, odd characters).
    #[error("that does not look like a Particle access token")]
    TokenMalformed,
    /// 401 with "has expired".
    #[error("the sign-in has expired")]
    TokenExpired,
    /// 401 `invalid_token`, or 400 "access token was not found" (signed out elsewhere, revoked).
    #[error("the access token is not valid")]
    TokenInvalid,
    /// 403 "Permission Denied" on a device route; Particle also answers this for unknown ids.
    #[error("device {device_id} is not in this account, or does not exist")]
    NotYourDevice { device_id: String },
    /// 403 on the key upload of a product device: the account is not a Developer or Administrator of
    /// the product (View-only and Support members may not send keys).
    #[error("this account may not send keys for devices of product {product_id}")]
    ProductRoleMissing { product_id: u32 },
    /// The cloud refused the public key itself (400 "No key provided", "Key error ...").
    #[error("the cloud refused the public key: {detail}")]
    KeyRejected { detail: String },
    /// 429: too many requests, or 10 failed sign-ins in a row from this network.
    #[error("the cloud is limiting requests from this network")]
    RateLimited,
    /// The request never got an answer: offline, DNS, CORS refusal or a dropped connection.
    #[error("the cloud could not be reached: {message}")]
    Network { message: String },
    /// The answer was a redirect (refused, not followed). Particle's API never redirects, so
    /// something between the page and Particle answered: a captive portal, a proxy, a filter.
    #[error("the answer came from somewhere else: a redirect, which Particle's API never sends")]
    Redirected,
    /// No answer within [`REQUEST_TIMEOUT_MS`](super::REQUEST_TIMEOUT_MS): the request was
    /// abandoned (the browser's `fetch` has no deadline of its own).
    #[error("the cloud did not answer within {waited_s} s")]
    Timeout { waited_s: u32 },
    /// 5xx.
    #[error("the cloud had an internal error (HTTP {status})")]
    Server { status: u16 },
    /// Polling ran out of time before the device reported `online`.
    #[error("device {device_id} did not come online within {waited_s} s")]
    DeviceStayedOffline { device_id: String, waited_s: u32 },
    /// A 4xx the page does not expect (a malformed request: a bug on this side).
    #[error("the cloud rejected the request (HTTP {status}): {detail}")]
    BadRequest { status: u16, detail: String },
    /// An answer whose status or body does not fit the contract.
    #[error("the cloud gave an unexpected answer (HTTP {status}): {detail}")]
    Unexpected { status: u16, detail: String },
    /// Refused before sending: the user left a field empty.
    #[error("no {field} was entered")]
    MissingInput { field: InputField },
    /// A device lookup answered with another device than the one asked for: a cloud or proxy that
    /// is not Particle's, or a bug; nothing read from that answer is used.
    #[error("the cloud answered about device {answered} when asked about {asked}")]
    WrongDeviceAnswered { asked: String, answered: String },
    /// 404 "not found" on `/v1/products/:product/devices/:id`: the product has no such device.
    #[error("device {device_id} is not in product {product}")]
    NotInProduct { device_id: String, product: String },
    /// 403, or 404 "Permission denied", on a product route: the account is not on the product's
    /// team, or there is no such product.
    #[error("this account cannot see product {product}, or there is no such product")]
    ProductNotVisible { product: String },
}

impl ApiError {
    /// What the user can do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            Self::WrongPassword => {
                "Check the email and password (the ones for console.particle.io) and sign in again."
            }
            Self::MfaRequired { .. } => "Enter the 6-digit code from your authenticator app.",
            Self::WrongOtp => {
                "Enter the current code from your authenticator app. After three failures, recover \
                 the account at https://login.particle.io/account-info."
            }
            Self::SingleSignOn => {
                "Create an access token with `particle token create` and paste it instead of a \
                 password."
            }
            Self::TokenMalformed => {
                "Paste the whole access token (40 characters from `particle token create`)."
            }
            Self::TokenExpired | Self::TokenInvalid => "Sign in again.",
            Self::NotYourDevice { .. } => {
                "Sign in with the account the device is claimed to, or check the device ID."
            }
            Self::ProductRoleMissing { .. } => {
                "Ask a product administrator for the Developer or Administrator role, or to send \
                 the key for you."
            }
            Self::KeyRejected { .. } => "Press Retry to generate and send a new key.",
            Self::RateLimited => "Wait a few minutes (30 after many failed sign-ins), then retry.",
            Self::Network { .. } => "Check the internet connection, then retry.",
            Self::Redirected => {
                "A network that redirects requests (one that needs a sign-in page, a proxy or a \
                 filter) answered instead of Particle: sign in to that network or use another one, \
                 then retry."
            }
            Self::Timeout { .. } => {
                "Check the internet connection (a network that needs a sign-in page, or a weak \
                 signal, can hold requests), then retry; status.particle.io says whether \
                 Particle's cloud is down."
            }
            Self::Server { .. } => {
                "Particle's cloud has a problem; check status.particle.io and retry later."
            }
            Self::DeviceStayedOffline { .. } => {
                "Check that the device has Wi-Fi credentials and blinks cyan; press Retry to wait \
                 longer, or run the repair again."
            }
            Self::BadRequest { .. } | Self::Unexpected { .. } => {
                "Retry; if it happens again, report it with the message above."
            }
            Self::MissingInput { field } => match field {
                InputField::Email => "Enter the email address of your Particle account.",
                InputField::Password => "Enter the password of your Particle account.",
                InputField::OneTimeCode => {
                    "Enter the 6-digit code your authenticator app shows now."
                }
                InputField::AccessToken => {
                    "Paste an access token (create one with `particle token create`)."
                }
            },
            Self::WrongDeviceAnswered { .. } => {
                "Retry; if it happens again, check that the page talks to api.particle.io (the \
                 banner names any other cloud) and report it with the message above."
            }
            Self::NotInProduct { .. } => {
                "Check the product ID or slug (the console shows both), or leave the product out to \
                 look the device up by its ID alone."
            }
            Self::ProductNotVisible { .. } => {
                "Check the product ID or slug, or sign in with an account on the product's team."
            }
        }
    }

    /// The typed timeout for a request abandoned after [`REQUEST_TIMEOUT_MS`](super::REQUEST_TIMEOUT_MS).
    pub fn timeout() -> Self {
        Self::Timeout {
            waited_s: super::REQUEST_TIMEOUT_MS.div_ceil(1000),
        }
    }

    /// Whether signing in again fixes it.
    pub fn needs_sign_in(&self) -> bool {
        matches!(self, Self::TokenExpired | Self::TokenInvalid)
    }
}

/// The most characters of text from the cloud (an `error_description`, a message) an error keeps:
/// enough for any sentence Particle writes, and a hostile or broken answer (a 20 MB description)
/// cannot flood the page. Longer texts end with an ellipsis.
pub const MAX_CLOUD_TEXT_CHARS: usize = 300;

/// `text` cut to [`MAX_CLOUD_TEXT_CHARS`] characters (never inside a UTF-8 character), with `…`
/// when anything was cut.
pub fn cap_cloud_text(text: &str) -> String {
    match text.char_indices().nth(MAX_CLOUD_TEXT_CHARS) {
        None => text.to_owned(),
        Some((cut, _)) => {
            let mut capped = text[..cut].to_owned();
            capped.push('…');
            capped
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloud_text_is_capped_on_a_character_boundary() {
        assert_eq!(cap_cloud_text("short"), "short");
        let exact = "é".repeat(MAX_CLOUD_TEXT_CHARS);
        assert_eq!(cap_cloud_text(&exact), exact);
        let long = "é".repeat(MAX_CLOUD_TEXT_CHARS + 1);
        let capped = cap_cloud_text(&long);
        assert_eq!(capped.chars().count(), MAX_CLOUD_TEXT_CHARS + 1);
        assert!(capped.ends_with("é…"));
    }
}
