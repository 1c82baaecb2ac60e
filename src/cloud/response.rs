//! Pure parsing of API answers: status + body in, a typed value or an [`ApiError`] out.
//!
//! Error bodies come in two shapes (cloud-api.md 1): `{"error","error_description"}` from the OAuth
//! layer and `{"ok":false,"error","info"}` from API routes. Each parser knows which endpoint it reads,
//! so the same status can mean different things (403 is "MFA needed" on `/oauth/token` and "not your
//! device" on `/v1/devices`).

use super::error::ApiError;
use super::request::AccessToken;
use serde::Deserialize;

/// One HTTP answer as the transport delivers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiResponse {
    pub status: u16,
    pub body: String,
}

impl ApiResponse {
    pub fn new(status: u16, body: impl Into<String>) -> Self {
        Self {
            status,
            body: body.into(),
        }
    }
}

/// A signed-in session: the token and how long the cloud said it lasts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub token: AccessToken,
    /// Seconds from issue; `None` for a pasted token (unknown).
    pub expires_in_s: Option<u64>,
}

/// The fields of `GET /v1/devices/:id` the page uses (cloud-api.md 5).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DeviceInfo {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// Present on product-device answers only (the owner's email, when claimed).
    #[serde(default)]
    pub owner: Option<String>,
    /// The product a device belongs to; for a developer device it equals `platform_id`.
    pub product_id: u32,
    pub platform_id: u16,
    /// `online` and `connected` mean the same; either being true counts.
    #[serde(default)]
    pub online: bool,
    #[serde(default)]
    pub connected: bool,
    #[serde(default)]
    pub last_handshake_at: Option<String>,
    #[serde(default)]
    pub last_heard: Option<String>,
    #[serde(default)]
    pub system_firmware_version: Option<String>,
}

impl DeviceInfo {
    pub fn is_online(&self) -> bool {
        self.online || self.connected
    }

    /// A product device is one whose `product_id` differs from its `platform_id` (cloud-api.md 5).
    pub fn is_product_device(&self) -> bool {
        self.product_id != u32::from(self.platform_id)
    }

    /// The `product_id` a key upload must carry: set for product devices only.
    pub fn upload_product_id(&self) -> Option<u32> {
        self.is_product_device().then_some(self.product_id)
    }
}

/// Either error shape, with every field optional.
#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
    #[serde(default)]
    info: Option<String>,
    #[serde(default)]
    mfa_token: Option<String>,
    #[serde(default)]
    errors: Option<Vec<serde_json::Value>>,
}

impl ErrorBody {
    fn parse(body: &str) -> Self {
        serde_json::from_str(body).unwrap_or_default()
    }

    /// The text the CLI would show: `error_description`, `error`, `errors[]`, `info`, in that order.
    fn detail(&self, raw: &str) -> String {
        let from_errors = self.errors.as_ref().and_then(|e| {
            let texts: Vec<String> = e
                .iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .collect();
            (!texts.is_empty()).then(|| texts.join("; "))
        });
        self.error_description
            .clone()
            .or_else(|| self.error.clone())
            .or(from_errors)
            .or_else(|| self.info.clone())
            .unwrap_or_else(|| snippet(raw))
    }

    fn error_is(&self, code: &str) -> bool {
        self.error.as_deref() == Some(code)
    }

    fn mentions(&self, needle: &str) -> bool {
        [&self.error, &self.error_description, &self.info]
            .into_iter()
            .flatten()
            .any(|t| t.to_ascii_lowercase().contains(needle))
    }
}

/// At most 200 characters of an unexpected body, for the error message.
fn snippet(body: &str) -> String {
    let trimmed = body.trim();
    if trimmed.is_empty() {
        return "empty body".into();
    }
    let mut s: String = trimmed.chars().take(200).collect();
    if s.len() < trimmed.len() {
        s.push('…');
    }
    s
}

/// The errors every route shares: token problems, rate limits, server errors.
fn common_error(status: u16, body: &ErrorBody, raw: &str) -> ApiError {
    match status {
        401 if body.error_is("expired_token") || body.mentions("expired") => ApiError::TokenExpired,
        401 => ApiError::TokenInvalid,
        // "The access token was not found" / "Malformed auth header": nothing usable was sent.
        400 if body.error_is("invalid_request") && body.mentions("access token") => {
            ApiError::TokenInvalid
        }
        429 => ApiError::RateLimited,
        500..=599 => ApiError::Server { status },
        400..=499 => ApiError::BadRequest {
            status,
            detail: body.detail(raw),
        },
        _ => ApiError::Unexpected {
            status,
            detail: body.detail(raw),
        },
    }
}

fn unexpected(status: u16, raw: &str, what: &str) -> ApiError {
    ApiError::Unexpected {
        status,
        detail: format!("{what}: {}", snippet(raw)),
    }
}

/// Which sign-in step an answer belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInStep {
    Password,
    OneTimeCode,
}

/// Parses an answer of `POST /oauth/token`.
pub fn parse_sign_in(resp: &ApiResponse, step: SignInStep) -> Result<Session, ApiError> {
    #[derive(Deserialize)]
    struct TokenBody {
        access_token: String,
        #[serde(default)]
        expires_in: Option<u64>,
    }
    if (200..300).contains(&resp.status) {
        let body: TokenBody = serde_json::from_str(&resp.body)
            .map_err(|_| unexpected(resp.status, &resp.body, "no access_token"))?;
        if body.access_token.is_empty() {
            return Err(unexpected(resp.status, &resp.body, "empty access_token"));
        }
        return Ok(Session {
            token: AccessToken::new(body.access_token),
            expires_in_s: body.expires_in,
        });
    }
    let body = ErrorBody::parse(&resp.body);
    if resp.status == 429 || body.error_is("rate_limit_exceeded") {
        return Err(ApiError::RateLimited);
    }
    if resp.status >= 500 {
        return Err(ApiError::Server {
            status: resp.status,
        });
    }
    match step {
        SignInStep::Password => match resp.status {
            // AN032 detects MFA by the 403 alone; the token is what matters.
            403 if body.mfa_token.is_some() || body.error_is("mfa_required") => {
                match body.mfa_token {
                    Some(mfa_token) if !mfa_token.is_empty() => {
                        Err(ApiError::MfaRequired { mfa_token })
                    }
                    _ => Err(unexpected(
                        resp.status,
                        &resp.body,
                        "mfa_required without mfa_token",
                    )),
                }
            }
            403 if body.error_is("sso_user") => Err(ApiError::SingleSignOn),
            400 if body.error_is("invalid_grant") => Err(ApiError::WrongPassword),
            // Some OAuth servers answer a bad password with 401; the page treats it the same.
            401 => Err(ApiError::WrongPassword),
            _ => Err(common_error(resp.status, &body, &resp.body)),
        },
        // The production body for a wrong code is not public: any 4xx is a wrong code (cloud-api.md 2).
        SignInStep::OneTimeCode => match resp.status {
            400..=499 => Err(ApiError::WrongOtp),
            _ => Err(common_error(resp.status, &body, &resp.body)),
        },
    }
}

/// Parses the answer to `DELETE /v1/access_tokens/current`. A token that is already invalid or
/// expired is as good as signed out.
pub fn parse_sign_out(resp: &ApiResponse) -> Result<(), ApiError> {
    if (200..300).contains(&resp.status) {
        return Ok(());
    }
    match common_error(resp.status, &ErrorBody::parse(&resp.body), &resp.body) {
        ApiError::TokenExpired | ApiError::TokenInvalid => Ok(()),
        other => Err(other),
    }
}

/// Parses `GET /v1/devices/:id`. Particle answers 403 "Permission Denied" both for someone else's
/// device and for an id that does not exist, so the two are one error.
pub fn parse_device(resp: &ApiResponse, device_id: &str) -> Result<DeviceInfo, ApiError> {
    if (200..300).contains(&resp.status) {
        return serde_json::from_str(&resp.body)
            .map_err(|e| unexpected(resp.status, &resp.body, &format!("not a device ({e})")));
    }
    let body = ErrorBody::parse(&resp.body);
    match resp.status {
        403 | 404 => Err(ApiError::NotYourDevice {
            device_id: device_id.to_ascii_lowercase(),
        }),
        _ => Err(common_error(resp.status, &body, &resp.body)),
    }
}

/// Parses `GET /v1/user`: the account's username (its email).
///
/// Unverified: only the `username` field is read; the reference does not document this route.
pub fn parse_user(resp: &ApiResponse) -> Result<String, ApiError> {
    if (200..300).contains(&resp.status) {
        #[derive(Deserialize)]
        struct User {
            username: String,
        }
        return serde_json::from_str::<User>(&resp.body)
            .map(|u| u.username)
            .map_err(|e| unexpected(resp.status, &resp.body, &format!("not a user ({e})")));
    }
    Err(common_error(
        resp.status,
        &ErrorBody::parse(&resp.body),
        &resp.body,
    ))
}

/// Parses `GET /v1/products/:id/team` and returns the role name of `username`, or `None` when the
/// account is not on the team. A 403 means the account may not see the team at all.
///
/// Unverified: the shape `{"team": [{"username": …, "role": {"name": …}}]}` follows Particle's
/// console; the reference does not document this route.
pub fn parse_team_role(
    resp: &ApiResponse,
    product_id: u32,
    username: &str,
) -> Result<Option<String>, ApiError> {
    if (200..300).contains(&resp.status) {
        #[derive(Deserialize)]
        struct Role {
            name: String,
        }
        #[derive(Deserialize)]
        struct Member {
            username: String,
            role: Option<Role>,
        }
        #[derive(Deserialize)]
        struct Team {
            team: Vec<Member>,
        }
        let team: Team = serde_json::from_str(&resp.body)
            .map_err(|e| unexpected(resp.status, &resp.body, &format!("not a team ({e})")))?;
        return Ok(team
            .team
            .into_iter()
            .find(|m| m.username.eq_ignore_ascii_case(username))
            .and_then(|m| m.role.map(|r| r.name)));
    }
    match resp.status {
        403 | 404 => Err(ApiError::ProductRoleMissing { product_id }),
        _ => Err(common_error(
            resp.status,
            &ErrorBody::parse(&resp.body),
            &resp.body,
        )),
    }
}

/// Whether a product team role may send device keys: Developer and Administrator (and the
/// product's owner) may; View-only and Support may not (DOCS repairing-product-device-keys.md).
/// `None` for a role name this page does not know.
pub fn role_may_send_keys(role: &str) -> Option<bool> {
    match role
        .trim()
        .to_ascii_lowercase()
        .replace(['-', '_'], " ")
        .as_str()
    {
        "administrator" | "admin" | "developer" | "owner" => Some(true),
        "view only" | "viewer" | "support" => Some(false),
        _ => None,
    }
}

/// Parses `GET /v1/devices`.
pub fn parse_devices(resp: &ApiResponse) -> Result<Vec<DeviceInfo>, ApiError> {
    if (200..300).contains(&resp.status) {
        return serde_json::from_str(&resp.body)
            .map_err(|e| unexpected(resp.status, &resp.body, &format!("not a device list ({e})")));
    }
    Err(common_error(
        resp.status,
        &ErrorBody::parse(&resp.body),
        &resp.body,
    ))
}

/// Parses `POST /v1/provisioning/:id`. Callers only check the status (the success body is
/// unverified); a 403 for a product upload means the team role is missing.
pub fn parse_send_public_key(
    resp: &ApiResponse,
    device_id: &str,
    product_id: Option<u32>,
) -> Result<(), ApiError> {
    if (200..300).contains(&resp.status) {
        return Ok(());
    }
    let body = ErrorBody::parse(&resp.body);
    match (resp.status, product_id) {
        (403, Some(product_id)) => Err(ApiError::ProductRoleMissing { product_id }),
        (403 | 404, None) => Err(ApiError::NotYourDevice {
            device_id: device_id.to_ascii_lowercase(),
        }),
        (400, _) if body.mentions("key") && !body.mentions("access token") => {
            Err(ApiError::KeyRejected {
                detail: body.detail(&resp.body),
            })
        }
        _ => Err(common_error(resp.status, &body, &resp.body)),
    }
}
