//! Pure parsing of API answers: status + body in, a typed value or an [`ApiError`] out.
//!
//! Error bodies come in two shapes (cloud-api.md 1): `{"error","error_description"}` from the OAuth
//! layer and `{"ok":false,"error","info"}` from API routes. Each parser knows which endpoint it reads,
//! so the same status can mean different things (403 is "MFA needed" on `/oauth/token` and "not your
//! device" on `/v1/devices`).

use super::body::{self, ErrorBody, TeamBody, TokenBody, UserBody};
use super::error::{ApiError, cap_cloud_text};
use super::request::{AccessToken, ProductRef};
use serde::{Deserialize, Serialize};

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

/// The fields of `GET /v1/devices/:id` the page uses (cloud-api.md 5). `id`, `product_id` and
/// `platform_id` are required; the flags default to false (`null` is refused for them); the texts
/// default to `None` (also when `null`). Unknown members are ignored, a member given twice is
/// refused. The simulated cloud writes the same type (with the members the page ignores beside it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// Present on product-device answers only (the owner's email, when claimed). Not written:
    /// whether an answer has it at all is the writer's business (the simulated cloud's record).
    #[serde(default, skip_serializing)]
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

impl ErrorBody {
    /// A body that is not JSON, or has any of these fields with the wrong type, reads as empty.
    fn parse(body: &str) -> Self {
        body::read(body).unwrap_or_default()
    }

    /// The text the CLI would show: `error_description`, `error`, `errors[]`, `info`, in that order,
    /// capped at [`MAX_CLOUD_TEXT_CHARS`](super::error::MAX_CLOUD_TEXT_CHARS) characters.
    fn detail(&self, raw: &str) -> String {
        cap_cloud_text(&self.full_detail(raw))
    }

    fn full_detail(&self, raw: &str) -> String {
        let from_errors = self.errors.as_ref().and_then(|e| {
            let texts: Vec<&str> = e.iter().map(|item| item.0.as_str()).collect();
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
        let token: TokenBody = body::read(&resp.body)
            .map_err(|e| unexpected(resp.status, &resp.body, &format!("no access_token ({e})")))?;
        if token.access_token.is_empty() {
            return Err(unexpected(resp.status, &resp.body, "empty access_token"));
        }
        return Ok(Session {
            token: AccessToken::new(token.access_token),
            expires_in_s: token.expires_in,
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
        return body::read(&resp.body)
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
        return body::read(&resp.body)
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
        return body::read(&resp.body)
            .map(|user: UserBody| user.username)
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
        let team: TeamBody = body::read(&resp.body)
            .map_err(|e| unexpected(resp.status, &resp.body, &format!("not a team ({e})")))?;
        return Ok(team
            .team
            .into_iter()
            .find(|member| member.username.eq_ignore_ascii_case(username))
            .and_then(|member| member.role)
            .map(|role| role.name));
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
        return body::read(&resp.body)
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

    const DEVICE: &str = r#""id":"0123456789abcdef01234567","product_id":6,"platform_id":6"#;

    fn device(body: &str) -> Result<DeviceInfo, String> {
        body::read(body)
    }

    #[test]
    fn device_bodies_keep_the_tolerance_and_strictness_they_had() {
        for (extra, ok) in [
            ("", true),
            (
                r#","name":null,"owner":"a@b.c","online":true,"connected":false"#,
                true,
            ),
            (
                r#","last_heard":"2020-01-20T02:53:29.854Z","notes":null,"functions":[1,{"a":[]}]"#,
                true,
            ),
            (r#","online":null"#, false),
            (r#","online":"true""#, false),
            (r#","name":5"#, false),
            (r#","id":"again""#, false),
            (r#","unknown":1,"unknown":2"#, true),
            (r#","product_id":-1"#, false),
            (r#","product_id":6.0"#, false),
            (r#","product_id":6e0"#, false),
            (r#","product_id":4294967296"#, false),
            (r#","platform_id":65536"#, false),
            (r#","platform_id":"6""#, false),
            (r#","system_firmware_version":"\u00e9\ud83d\ude00""#, true),
            (r#","system_firmware_version":"\x""#, false),
        ] {
            let body = format!("{{{DEVICE}{extra}}}");
            assert_eq!(device(&body).is_ok(), ok, "{body}");
        }
        let read = device(&format!(
            r#"{{{DEVICE},"name":null,"owner":"a@b.c","online":true,"system_firmware_version":"\u00e9"}}"#
        ))
        .unwrap();
        assert_eq!(read.name, None);
        assert_eq!(read.owner.as_deref(), Some("a@b.c"));
        assert!(read.online && !read.connected);
        assert_eq!(read.system_firmware_version.as_deref(), Some("é"));
        for body in [
            "",
            "null",
            "[]",
            r#""id""#,
            "{}",
            r#"{"id":"a","product_id":6}"#,
            r#"{"id":null,"product_id":6,"platform_id":6}"#,
            r#"{"id":"a","product_id":6,"platform_id":6} x"#,
            r#"{"id":"a","product_id":6,"platform_id":6,}"#,
        ] {
            assert!(device(body).is_err(), "{body}");
        }
        // An escaped name is the same name.
        assert!(device(r#"{"i\u0064":"a","product_id":6,"platform_id":6}"#).is_ok());
    }

    #[test]
    fn a_device_body_that_breaks_the_contract_is_named_in_the_error() {
        let answer = |body: &str| parse_device(&ApiResponse::new(200, body), "a");
        for (body, names) in [
            (r#"{"id":"a","product_id":6}"#, "`platform_id`"),
            (
                r#"{"id":"a","id":"a","product_id":6,"platform_id":6}"#,
                "`id`",
            ),
            (r#"{"id":"a","product_id":6,"platform_id":"6"}"#, "u16"),
            (r#"{"id":"a","product_id":6.5,"platform_id":6}"#, "u32"),
        ] {
            match answer(body) {
                Err(ApiError::Unexpected {
                    status: 200,
                    detail,
                }) => {
                    assert!(detail.starts_with("not a device ("), "{detail}");
                    assert!(detail.contains(names), "{detail}");
                }
                other => panic!("{body}: {other:?}"),
            }
        }
    }

    #[test]
    fn error_bodies_keep_the_tolerance_they_had() {
        let read = |body: &str| ErrorBody::parse(body);
        for body in ["", "<html>bad gateway</html>", "[]", "{}"] {
            assert_eq!(read(body), ErrorBody::default(), "{body}");
        }
        let oauth =
            read(r#"{"error":"invalid_grant","error_description":"User credentials are invalid"}"#);
        assert_eq!(oauth.error.as_deref(), Some("invalid_grant"));
        assert_eq!(
            oauth.error_description.as_deref(),
            Some("User credentials are invalid")
        );
        let api = read(r#"{"ok":false,"error":"Permission Denied","info":"x"}"#);
        assert_eq!(
            (api.error.as_deref(), api.info.as_deref(), api.ok),
            (Some("Permission Denied"), Some("x"), Some(false))
        );
        let mfa = read(r#"{"error":null,"mfa_token":"t"}"#);
        assert_eq!((mfa.error, mfa.mfa_token.as_deref()), (None, Some("t")));
        // A member of the wrong type, or given twice, makes the whole body unreadable.
        for body in [
            r#"{"error":5,"mfa_token":"t"}"#,
            r#"{"error":"a","error":"b"}"#,
            r#"{"errors":"a","info":"i"}"#,
        ] {
            assert_eq!(read(body), ErrorBody::default(), "{body}");
        }
        assert_eq!(
            read(r#"{"errors":["a",true,2]}"#).errors.map(|e| e.len()),
            Some(3)
        );
        // An element that is an array or object makes the body unreadable; the raw body is then
        // the detail.
        assert_eq!(read(r#"{"errors":["a",{"b":1}]}"#), ErrorBody::default());
        let no_errors = read(r#"{"errors":null,"info":"i"}"#);
        assert_eq!(
            (no_errors.errors, no_errors.info.as_deref()),
            (None, Some("i"))
        );
        assert_eq!(
            read(r#"{"errors":[],"info":"i"}"#).errors.map(|e| e.len()),
            Some(0)
        );
        // The CLI's order: error_description, error, errors[] (non-strings as JSON), info.
        assert_eq!(
            read(r#"{"errors":["a",true,2,null],"info":"i"}"#).full_detail("raw"),
            "a; true; 2; null"
        );
        assert_eq!(read("<html>").full_detail("<html>"), "<html>");
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

/// Random bodies of known and unknown members, against a model of what the types accept
/// (native only: proptest).
#[cfg(all(test, not(target_arch = "wasm32")))]
mod props {
    use super::*;
    use proptest::prelude::*;

    const NAMES: [&str; 12] = [
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
    ];
    const VALUES: [&str; 11] = [
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
    ];

    /// Whether every member the type knows appears at most once with a value it accepts, and
    /// every required member exactly once.
    fn model(members: &[(usize, usize)], accepts: impl Fn(&str, &str) -> Option<bool>) -> bool {
        let mut seen = std::collections::BTreeMap::<&str, usize>::new();
        for &(n, v) in members {
            match accepts(NAMES[n], VALUES[v]) {
                None => {}
                Some(false) => return false,
                Some(true) => *seen.entry(NAMES[n]).or_default() += 1,
            }
        }
        seen.values().all(|&count| count == 1)
            && NAMES
                .iter()
                .filter(|n| accepts(n, "").is_some() && required(n))
                .all(|n| seen.contains_key(n))
    }

    fn required(name: &str) -> bool {
        matches!(name, "id" | "product_id" | "platform_id")
    }

    /// `None` for a member [`DeviceInfo`] ignores; otherwise whether it accepts `value`.
    fn device_accepts(name: &str, value: &str) -> Option<bool> {
        let text = |v: &str| v == r#""a""#;
        Some(match name {
            "id" => text(value),
            "name" | "owner" | "last_heard" => text(value) || value == "null",
            "product_id" => value == "6" || value == "70000",
            "platform_id" => value == "6",
            "online" | "connected" => value == "true",
            _ => return None,
        })
    }

    fn error_accepts(name: &str, value: &str) -> Option<bool> {
        Some(match name {
            "error" | "mfa_token" => value == r#""a""# || value == "null",
            "errors" => matches!(value, "null" | "[]" | r#"["e",1]"#),
            _ => return None,
        })
    }

    proptest! {
        #[test]
        fn bodies_are_read_as_the_model_says(
            members in prop::collection::vec((0..NAMES.len(), 0..VALUES.len()), 0..10),
        ) {
            let body = format!(
                "{{{}}}",
                members
                    .iter()
                    .map(|&(n, v)| format!("\"{}\":{}", NAMES[n], VALUES[v]))
                    .collect::<Vec<_>>()
                    .join(",")
            );
            prop_assert_eq!(
                body::read::<DeviceInfo>(&body).is_ok(),
                model(&members, device_accepts),
                "{}", body
            );
            prop_assert_eq!(
                body::read::<ErrorBody>(&body).is_ok(),
                model(&members, error_accepts),
                "{}", body
            );
        }
    }
}
