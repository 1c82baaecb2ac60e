//! Pure parsing of API answers: status + body in, a typed value or an [`ApiError`] out.
//!
//! Error bodies come in two shapes (cloud-api.md 1): `{"error","error_description"}` from the OAuth
//! layer and `{"ok":false,"error","info"}` from API routes. Each parser knows which endpoint it reads,
//! so the same status can mean different things (403 is "MFA needed" on `/oauth/token` and "not your
//! device" on `/v1/devices`).

use super::error::{ApiError, cap_cloud_text};
use super::request::{AccessToken, ProductRef};
use crate::json::{self, Value};

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    pub id: String,
    pub name: Option<String>,
    /// Present on product-device answers only (the owner's email, when claimed).
    pub owner: Option<String>,
    /// The product a device belongs to; for a developer device it equals `platform_id`.
    pub product_id: u32,
    pub platform_id: u16,
    /// `online` and `connected` mean the same; either being true counts.
    pub online: bool,
    pub connected: bool,
    pub last_handshake_at: Option<String>,
    pub last_heard: Option<String>,
    pub system_firmware_version: Option<String>,
}

impl DeviceInfo {
    /// `id`, `product_id` and `platform_id` are required; the flags default to false and the
    /// texts to `None` (also when `null`).
    fn from_json(value: &Value) -> Result<Self, String> {
        let f = Fields::of(value)?;
        Ok(Self {
            id: f.string("id")?,
            name: f.opt_string("name")?,
            owner: f.opt_string("owner")?,
            product_id: f.uint("product_id")?,
            platform_id: f.uint("platform_id")?,
            online: f.flag("online")?,
            connected: f.flag("connected")?,
            last_handshake_at: f.opt_string("last_handshake_at")?,
            last_heard: f.opt_string("last_heard")?,
            system_firmware_version: f.opt_string("system_firmware_version")?,
        })
    }

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

/// An object's members, read the way the serde derive this replaces read them: unknown members
/// are ignored, a known member given twice is an error, and `null` stands for "absent" only in an
/// optional field.
struct Fields<'a>(&'a [(String, Value)]);

impl<'a> Fields<'a> {
    fn of(value: &'a Value) -> Result<Self, String> {
        value
            .as_object()
            .map(Fields)
            .ok_or_else(|| "expected an object".to_owned())
    }

    fn get(&self, name: &str) -> Result<Option<&'a Value>, String> {
        let mut found = self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v);
        let first = found.next();
        if found.next().is_some() {
            return Err(format!("duplicate field `{name}`"));
        }
        Ok(first)
    }

    fn required(&self, name: &str) -> Result<&'a Value, String> {
        self.get(name)?
            .ok_or_else(|| format!("missing field `{name}`"))
    }

    fn string(&self, name: &str) -> Result<String, String> {
        self.required(name)?
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("`{name}` is not a string"))
    }

    /// Absent or `null` is `None`.
    fn opt_string(&self, name: &str) -> Result<Option<String>, String> {
        match self.get(name)? {
            None | Some(Value::Null) => Ok(None),
            Some(_) => self.string(name).map(Some),
        }
    }

    /// A non-negative integer that fits `T` (no fraction, no exponent).
    fn uint<T: TryFrom<u64>>(&self, name: &str) -> Result<T, String> {
        self.required(name)?
            .as_u64()
            .and_then(|n| T::try_from(n).ok())
            .ok_or_else(|| format!("`{name}` is not an integer in range"))
    }

    /// Absent or `null` is `None`.
    fn opt_u64(&self, name: &str) -> Result<Option<u64>, String> {
        match self.get(name)? {
            None | Some(Value::Null) => Ok(None),
            Some(_) => self.uint(name).map(Some),
        }
    }

    /// Absent is false; `null` is an error, as it was for a `bool` field.
    fn flag(&self, name: &str) -> Result<bool, String> {
        match self.get(name)? {
            None => Ok(false),
            Some(v) => v
                .as_bool()
                .ok_or_else(|| format!("`{name}` is not a boolean")),
        }
    }

    /// Absent or `null` is `None`.
    fn opt_array(&self, name: &str) -> Result<Option<&'a [Value]>, String> {
        match self.get(name)? {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_array()
                .map(Some)
                .ok_or_else(|| format!("`{name}` is not an array")),
        }
    }
}

/// Parses `body` and reads it with `read`; the error says which of the two failed.
fn read_body<T>(body: &str, read: impl FnOnce(&Value) -> Result<T, String>) -> Result<T, String> {
    read(&json::parse(body).map_err(|e| e.to_string())?)
}

/// Either error shape, with every field optional.
#[derive(Debug, Default)]
struct ErrorBody {
    error: Option<String>,
    error_description: Option<String>,
    info: Option<String>,
    mfa_token: Option<String>,
    errors: Option<Vec<Value>>,
}

impl ErrorBody {
    /// A body that is not JSON, or has any of these fields with the wrong type, reads as empty.
    fn parse(body: &str) -> Self {
        read_body(body, |v| {
            let f = Fields::of(v)?;
            Ok(Self {
                error: f.opt_string("error")?,
                error_description: f.opt_string("error_description")?,
                info: f.opt_string("info")?,
                mfa_token: f.opt_string("mfa_token")?,
                errors: f.opt_array("errors")?.map(<[Value]>::to_vec),
            })
        })
        .unwrap_or_default()
    }

    /// The text the CLI would show: `error_description`, `error`, `errors[]`, `info`, in that order,
    /// capped at [`MAX_CLOUD_TEXT_CHARS`](super::error::MAX_CLOUD_TEXT_CHARS) characters.
    fn detail(&self, raw: &str) -> String {
        cap_cloud_text(&self.full_detail(raw))
    }

    fn full_detail(&self, raw: &str) -> String {
        let from_errors = self.errors.as_ref().and_then(|e| {
            let texts: Vec<String> = e
                .iter()
                .map(|v| v.as_str().map_or_else(|| v.to_json(), str::to_owned))
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

/// [`common_error`] for a route that reads nothing else from the error body.
fn route_error(resp: &ApiResponse) -> ApiError {
    common_error(resp.status, &ErrorBody::parse(&resp.body), &resp.body)
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
    if (200..300).contains(&resp.status) {
        let (access_token, expires_in) = read_body(&resp.body, |v| {
            let f = Fields::of(v)?;
            Ok((f.string("access_token")?, f.opt_u64("expires_in")?))
        })
        .map_err(|_| unexpected(resp.status, &resp.body, "no access_token"))?;
        if access_token.is_empty() {
            return Err(unexpected(resp.status, &resp.body, "empty access_token"));
        }
        return Ok(Session {
            token: AccessToken::new(access_token),
            expires_in_s: expires_in,
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

/// Whether an answer says the cloud no longer accepts the token the request carried (revoked,
/// expired, unknown): a 401, or the 400 "access token was not found", on any route.
pub fn refuses_token(resp: &ApiResponse) -> bool {
    !(200..300).contains(&resp.status) && route_error(resp).needs_sign_in()
}

/// Parses the answer to `DELETE /v1/access_tokens/current`. A token that is already invalid or
/// expired is as good as signed out.
pub fn parse_sign_out(resp: &ApiResponse) -> Result<(), ApiError> {
    if (200..300).contains(&resp.status) {
        return Ok(());
    }
    match route_error(resp) {
        ApiError::TokenExpired | ApiError::TokenInvalid => Ok(()),
        other => Err(other),
    }
}

/// Parses `GET /v1/devices/:id`. Particle answers 403 "Permission Denied" both for someone else's
/// device and for an id that does not exist, so the two are one error.
pub fn parse_device(resp: &ApiResponse, device_id: &str) -> Result<DeviceInfo, ApiError> {
    if (200..300).contains(&resp.status) {
        return read_body(&resp.body, DeviceInfo::from_json)
            .map_err(|e| unexpected(resp.status, &resp.body, &format!("not a device ({e})")))
            .and_then(|info| the_device_asked_for(info, device_id));
    }
    match resp.status {
        403 | 404 => Err(ApiError::NotYourDevice {
            device_id: device_id.to_ascii_lowercase(),
        }),
        _ => Err(route_error(resp)),
    }
}

/// `info` if it is about `device_id` (ids compare without case); an answer about another device
/// is refused, so its status never stands for the device being repaired.
fn the_device_asked_for(info: DeviceInfo, device_id: &str) -> Result<DeviceInfo, ApiError> {
    if info.id.eq_ignore_ascii_case(device_id) {
        Ok(info)
    } else {
        Err(ApiError::WrongDeviceAnswered {
            asked: device_id.to_ascii_lowercase(),
            answered: cap_cloud_text(&info.id),
        })
    }
}

/// Parses `GET /v1/products/:product/devices/:id`.
///
/// Particle's own CLI tests against production (particle-cli 3.49 `test/e2e/product.e2e.js`) see a
/// 404 for an unknown device in a product ("not found") and "Permission denied" for an unknown
/// product; the exact bodies are unverified, so a 404 that mentions permission is read as the
/// product being out of reach and any other 404 as the device not being in it.
pub fn parse_product_device(
    resp: &ApiResponse,
    product: &ProductRef,
    device_id: &str,
) -> Result<DeviceInfo, ApiError> {
    if (200..300).contains(&resp.status) {
        return read_body(&resp.body, DeviceInfo::from_json)
            .map_err(|e| unexpected(resp.status, &resp.body, &format!("not a device ({e})")))
            .and_then(|info| the_device_asked_for(info, device_id));
    }
    let body = ErrorBody::parse(&resp.body);
    match resp.status {
        403 => Err(ApiError::ProductNotVisible {
            product: product.to_string(),
        }),
        404 if body.mentions("permission") => Err(ApiError::ProductNotVisible {
            product: product.to_string(),
        }),
        404 => Err(ApiError::NotInProduct {
            device_id: device_id.to_ascii_lowercase(),
            product: product.to_string(),
        }),
        _ => Err(common_error(resp.status, &body, &resp.body)),
    }
}

/// Parses `GET /v1/user`: the account's username (its email).
///
/// Unverified: only the `username` field is read; the reference does not document this route.
pub fn parse_user(resp: &ApiResponse) -> Result<String, ApiError> {
    if (200..300).contains(&resp.status) {
        return read_body(&resp.body, |v| Fields::of(v)?.string("username"))
            .map_err(|e| unexpected(resp.status, &resp.body, &format!("not a user ({e})")));
    }
    Err(route_error(resp))
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
        // Every member must have a `username` and, when it has a role, a role `name`.
        let team = read_body(&resp.body, |v| {
            let members = Fields::of(v)?.required("team")?;
            let members = members.as_array().ok_or("`team` is not an array")?;
            members
                .iter()
                .map(|m| {
                    let f = Fields::of(m)?;
                    let role = match f.get("role")? {
                        None | Some(Value::Null) => None,
                        Some(role) => Some(Fields::of(role)?.string("name")?),
                    };
                    Ok((f.string("username")?, role))
                })
                .collect::<Result<Vec<_>, String>>()
        })
        .map_err(|e| unexpected(resp.status, &resp.body, &format!("not a team ({e})")))?;
        return Ok(team
            .into_iter()
            .find(|(member, _)| member.eq_ignore_ascii_case(username))
            .and_then(|(_, role)| role));
    }
    match resp.status {
        403 | 404 => Err(ApiError::ProductRoleMissing { product_id }),
        _ => Err(route_error(resp)),
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
        return read_body(&resp.body, |v| {
            v.as_array()
                .ok_or("expected an array")?
                .iter()
                .map(DeviceInfo::from_json)
                .collect()
        })
        .map_err(|e| unexpected(resp.status, &resp.body, &format!("not a device list ({e})")));
    }
    Err(route_error(resp))
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    /// The derives this module's reading replaced, kept here to check that both read the same
    /// bodies the same way.
    #[derive(Debug, Deserialize)]
    struct DerivedDevice {
        id: String,
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        owner: Option<String>,
        product_id: u32,
        platform_id: u16,
        #[serde(default)]
        online: bool,
        #[serde(default)]
        connected: bool,
        #[serde(default)]
        last_handshake_at: Option<String>,
        #[serde(default)]
        last_heard: Option<String>,
        #[serde(default)]
        system_firmware_version: Option<String>,
    }

    impl From<DerivedDevice> for DeviceInfo {
        fn from(d: DerivedDevice) -> Self {
            Self {
                id: d.id,
                name: d.name,
                owner: d.owner,
                product_id: d.product_id,
                platform_id: d.platform_id,
                online: d.online,
                connected: d.connected,
                last_handshake_at: d.last_handshake_at,
                last_heard: d.last_heard,
                system_firmware_version: d.system_firmware_version,
            }
        }
    }

    #[derive(Debug, Default, Deserialize)]
    struct DerivedErrorBody {
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

    pub(super) fn same_error_body(body: &str) {
        let ours = ErrorBody::parse(body);
        let theirs: DerivedErrorBody = serde_json::from_str(body).unwrap_or_default();
        assert_eq!(
            (
                &ours.error,
                &ours.error_description,
                &ours.info,
                &ours.mfa_token
            ),
            (
                &theirs.error,
                &theirs.error_description,
                &theirs.info,
                &theirs.mfa_token
            ),
            "{body}"
        );
        assert_eq!(
            ours.errors.map(|e| e.len()),
            theirs.errors.map(|e| e.len()),
            "{body}"
        );
    }

    pub(super) fn same_device(body: &str) {
        let ours = read_body(body, DeviceInfo::from_json);
        let theirs = serde_json::from_str::<DerivedDevice>(body).map(DeviceInfo::from);
        assert_eq!(ours.ok(), theirs.ok(), "{body}");
    }

    const DEVICE: &str = r#""id":"0123456789abcdef01234567","product_id":6,"platform_id":6"#;

    #[test]
    fn device_bodies_are_read_as_the_derive_read_them() {
        for extra in [
            "",
            r#","name":null,"owner":"a@b.c","online":true,"connected":false"#,
            r#","last_heard":"2020-01-20T02:53:29.854Z","notes":null,"functions":[1,{"a":[]}]"#,
            r#","online":null"#,
            r#","online":"true""#,
            r#","name":5"#,
            r#","id":"again""#,
            r#","unknown":1,"unknown":2"#,
            r#","product_id":-1"#,
            r#","product_id":6.0"#,
            r#","product_id":6e0"#,
            r#","product_id":4294967296"#,
            r#","platform_id":65536"#,
            r#","platform_id":"6""#,
            r#","system_firmware_version":"\u00e9\ud83d\ude00""#,
            r#","system_firmware_version":"\x""#,
        ] {
            same_device(&format!("{{{DEVICE}{extra}}}"));
        }
        for body in [
            "",
            "null",
            "[]",
            r#""id""#,
            "{}",
            r#"{"id":"a","product_id":6}"#,
            r#"{"id":null,"product_id":6,"platform_id":6}"#,
            r#"{"i\u0064":"a","product_id":6,"platform_id":6}"#,
            r#"{"id":"a","product_id":6,"platform_id":6} x"#,
            r#"{"id":"a","product_id":6,"platform_id":6,}"#,
        ] {
            same_device(body);
        }
    }

    #[test]
    fn error_bodies_are_read_as_the_derive_read_them() {
        for body in [
            "",
            "<html>bad gateway</html>",
            "[]",
            "{}",
            r#"{"error":"invalid_grant","error_description":"User credentials are invalid"}"#,
            r#"{"ok":false,"error":"Permission Denied","info":"x"}"#,
            r#"{"error":null,"mfa_token":"t"}"#,
            r#"{"error":5,"mfa_token":"t"}"#,
            r#"{"error":"a","error":"b"}"#,
            r#"{"errors":["a",{"b":1},2]}"#,
            r#"{"errors":null,"info":"i"}"#,
            r#"{"errors":"a","info":"i"}"#,
            r#"{"errors":[],"info":"i"}"#,
        ] {
            same_error_body(body);
        }
    }

    #[test]
    fn sign_in_and_team_bodies_keep_their_strictness() {
        let ok = |body: &str| parse_sign_in(&ApiResponse::new(200, body), SignInStep::Password);
        assert_eq!(
            ok(r#"{"access_token":"t","expires_in":null}"#)
                .unwrap()
                .expires_in_s,
            None
        );
        assert_eq!(
            ok(r#"{"access_token":"t","expires_in":60,"token_type":"bearer"}"#)
                .unwrap()
                .expires_in_s,
            Some(60)
        );
        for bad in [
            r#"{"access_token":"t","expires_in":-1}"#,
            r#"{"access_token":"t","expires_in":1.5}"#,
            r#"{"access_token":"t","access_token":"u"}"#,
            r#"{"access_token":null}"#,
            r#"{"access_token":""}"#,
        ] {
            assert!(
                matches!(ok(bad), Err(ApiError::Unexpected { status: 200, .. })),
                "{bad}"
            );
        }
        let role = |body: &str| parse_team_role(&ApiResponse::new(200, body), 1, "A@b.c");
        assert_eq!(
            role(r#"{"team":[{"username":"x"},{"username":"a@b.c","role":{"name":"Developer"}}]}"#),
            Ok(Some("Developer".into()))
        );
        assert_eq!(
            role(r#"{"team":[{"username":"a@b.c","role":null}]}"#),
            Ok(None)
        );
        for bad in [
            r#"{"team":null}"#,
            r#"{"team":[{"role":{"name":"x"}}]}"#,
            r#"{"team":[{"username":"a@b.c","role":{}}]}"#,
            r#"{"team":[{"username":"a@b.c","role":"admin"}]}"#,
        ] {
            assert!(
                matches!(role(bad), Err(ApiError::Unexpected { .. })),
                "{bad}"
            );
        }
    }
}

/// Random bodies read by both the derive and this module (native only: proptest).
#[cfg(all(test, not(target_arch = "wasm32")))]
mod props {
    use super::tests::*;
    use proptest::prelude::*;

    fn member() -> impl Strategy<Value = String> {
        let name = prop::sample::select(vec![
            "id",
            "name",
            "owner",
            "product_id",
            "platform_id",
            "online",
            "connected",
            "last_heard",
            "error",
            "errors",
            "mfa_token",
            "other",
        ]);
        let value = prop::sample::select(vec![
            r#""a""#,
            "null",
            "true",
            "6",
            "-1",
            "6.0",
            "70000",
            "4294967296",
            "[]",
            r#"["e",1]"#,
            "{}",
        ]);
        (name, value).prop_map(|(n, v)| format!("\"{n}\":{v}"))
    }

    proptest! {
        #[test]
        fn bodies_are_read_as_the_derive_read_them(
            members in prop::collection::vec(member(), 0..10),
        ) {
            let body = format!("{{{}}}", members.join(","));
            same_device(&body);
            same_error_body(&body);
        }
    }
}
