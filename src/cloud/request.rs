//! Typed requests to the Particle API: method, path, headers and body, built without any I/O.
//!
//! Only `Authorization` and `Content-Type` are ever set: Particle's CORS preflight allows a fixed
//! header list, and any other header (User-Agent, Cache-Control) makes the browser refuse the call
//! (cloud-api.md 6).

use super::error::ApiError;
use zeroize::Zeroizing;

/// The public OAuth client Particle's own browser example uses (cloud-api.md 2, AN032).
pub const OAUTH_CLIENT_ID: &str = "particle";
pub const OAUTH_CLIENT_SECRET: &str = "particle";
/// How long a password sign-in lasts: one hour, enough for a repair and not a standing credential.
pub const SIGN_IN_EXPIRES_IN_S: u32 = 3600;

pub const FORM: &str = "application/x-www-form-urlencoded";

/// An access token, held in memory only. `Debug` never shows it; it is zeroized on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(Zeroizing<String>);

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessToken(redacted)")
    }
}

impl AccessToken {
    /// A token the cloud issued (the `access_token` of a sign-in answer).
    pub fn new(token: impl Into<String>) -> Self {
        Self(Zeroizing::new(token.into()))
    }

    /// A token the user pasted. Particle tokens are 40 hex characters; any 20–512 characters of
    /// `[A-Za-z0-9._~-]` are accepted so self-hosted and future token formats still work, while stray
    /// text ("Bearer …", a whole command line) is refused before it is sent anywhere.
    pub fn from_pasted(input: &str) -> Result<Self, ApiError> {
        let token = input.trim();
        let plausible = (20..=512).contains(&token.len())
            && token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'-'));
        if plausible {
            Ok(Self::new(token))
        } else {
            Err(ApiError::TokenMalformed)
        }
    }

    /// The secret itself, for the `Authorization` header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Delete => "DELETE",
        }
    }
}

/// One HTTP request to the API, relative to an [`super::ApiBase`].
#[derive(Clone, PartialEq, Eq)]
pub struct ApiRequest {
    pub method: Method,
    /// Path starting with `/`, e.g. `/v1/devices/0123…`.
    pub path: String,
    /// `Authorization` and/or `Content-Type`, nothing else.
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<String>,
}

impl std::fmt::Debug for ApiRequest {
    // Requests carry passwords and tokens; logs get their shape only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<String> = self
            .headers
            .iter()
            .map(|(name, value)| match *name {
                "Authorization" => format!("{name}: Bearer (redacted)"),
                _ => format!("{name}: {value}"),
            })
            .collect();
        f.debug_struct("ApiRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("headers", &headers)
            .field(
                "body",
                &self.body.as_ref().map(|b| format!("{} bytes", b.len())),
            )
            .finish()
    }
}

impl ApiRequest {
    fn new(method: Method, path: String) -> Self {
        Self {
            method,
            path,
            headers: Vec::new(),
            body: None,
        }
    }

    fn bearer(mut self, token: &AccessToken) -> Self {
        self.headers
            .push(("Authorization", format!("Bearer {}", token.expose())));
        self
    }

    fn form(mut self, fields: &[(&str, &str)]) -> Self {
        self.headers.push(("Content-Type", FORM.to_owned()));
        self.body = Some(form_encode(fields));
        self
    }

    /// The value of a header, if set.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `POST /oauth/token`, password grant. Credentials in a form body and no `Authorization`
    /// header make this a CORS simple request (no preflight).
    pub fn sign_in(email: &str, password: &str) -> Self {
        let expires = SIGN_IN_EXPIRES_IN_S.to_string();
        Self::new(Method::Post, "/oauth/token".into()).form(&[
            ("grant_type", "password"),
            ("username", email.trim()),
            ("password", password),
            ("client_id", OAUTH_CLIENT_ID),
            ("client_secret", OAUTH_CLIENT_SECRET),
            ("expires_in", &expires),
        ])
    }

    /// `POST /oauth/token`, the MFA step: the `mfa_token` of the 403 and the one-time code.
    pub fn sign_in_otp(mfa_token: &str, otp: &str) -> Self {
        Self::new(Method::Post, "/oauth/token".into()).form(&[
            ("grant_type", "urn:custom:mfa-otp"),
            ("mfa_token", mfa_token),
            ("otp", otp.trim()),
            ("client_id", OAUTH_CLIENT_ID),
            ("client_secret", OAUTH_CLIENT_SECRET),
        ])
    }

    /// `DELETE /v1/access_tokens/current`: revokes the token the page holds.
    pub fn sign_out(token: &AccessToken) -> Self {
        Self::new(Method::Delete, "/v1/access_tokens/current".into()).bearer(token)
    }

    /// `GET /v1/products/:product/devices/:id`: a product device as Particle's clients read it
    /// (particle-api-js `deviceUri()` with `product`, particle-cli `getDeviceAttributes`), for a
    /// product team member.
    pub fn product_device(token: &AccessToken, product: &ProductRef, device_id: &str) -> Self {
        Self::new(
            Method::Get,
            format!(
                "/v1/products/{}/devices/{}",
                path_segment(&product.to_string()),
                path_segment(device_id)
            ),
        )
        .bearer(token)
    }

    /// `GET /v1/devices/:id`.
    pub fn device(token: &AccessToken, device_id: &str) -> Self {
        Self::new(
            Method::Get,
            format!("/v1/devices/{}", path_segment(device_id)),
        )
        .bearer(token)
    }

    /// `GET /v1/user`: the signed-in account (its `username` is the email).
    pub fn user(token: &AccessToken) -> Self {
        Self::new(Method::Get, "/v1/user".into()).bearer(token)
    }

    /// `GET /v1/products/:id/team`: the product's team members and their roles. The page uses it
    /// to check, before writing anything, that a product device's key may be sent.
    pub fn product_team(token: &AccessToken, product_id: u32) -> Self {
        Self::new(Method::Get, format!("/v1/products/{product_id}/team")).bearer(token)
    }

    /// `GET /v1/devices`: the account's devices; also a cheap check that a pasted token works.
    pub fn devices(token: &AccessToken) -> Self {
        Self::new(Method::Get, "/v1/devices".into()).bearer(token)
    }

    /// `POST /v1/provisioning/:id`, form-encoded exactly like `particle keys send` (CLI3 `api.js`
    /// `sendPublicKey`): the device ID lower-cased, `filename=cli`, `order=manual_<ms>`.
    pub fn send_public_key(token: &AccessToken, upload: &KeyUpload, now_ms: u64) -> Self {
        let id = upload.device_id.trim().to_ascii_lowercase();
        let order = format!("manual_{now_ms}");
        let product = upload.product_id.map(|p| p.to_string());
        let mut fields = vec![
            ("deviceID", id.as_str()),
            ("publicKey", upload.public_key_pem.as_str()),
            ("filename", "cli"),
            ("order", order.as_str()),
            ("algorithm", upload.algorithm.as_str()),
        ];
        if let Some(product) = &product {
            fields.push(("product_id", product));
        }
        Self::new(
            Method::Post,
            format!("/v1/provisioning/{}", path_segment(&id)),
        )
        .bearer(token)
        .form(&fields)
    }
}

/// The key type the cloud is told about (`algorithm` field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// RSA-1024 device keys (Photon, P1, Electron over TCP).
    Rsa,
    /// NIST P-256 device keys (Electron over UDP, Gen 3).
    Ecc,
}

impl KeyAlgorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rsa => "rsa",
            Self::Ecc => "ecc",
        }
    }
}

/// A device public key to upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUpload {
    pub device_id: String,
    /// SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`).
    pub public_key_pem: String,
    pub algorithm: KeyAlgorithm,
    /// Set for product devices only (a team member sends keys on the product's behalf).
    pub product_id: Option<u32>,
}

/// A product as Particle's product routes take it: its number or its slug (docs.particle.io
/// "Product ID or slug": e.g. `1337` or `my-product-v1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProductRef {
    Id(u32),
    Slug(String),
}

impl ProductRef {
    /// Reads what a user typed or a link gave: a product number from 1 to 4294967295, or a slug
    /// of letters, digits and hyphens (at most 64, starting with a letter or digit). `None` for
    /// anything else, so nothing odd reaches a URL. Slugs are lower-cased: the console shows them
    /// lower-case (unverified that the API ignores case).
    pub fn parse(input: &str) -> Option<Self> {
        let text = input.trim();
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            return text.parse::<u32>().ok().filter(|&n| n > 0).map(Self::Id);
        }
        let slug = text.to_ascii_lowercase();
        let valid = (1..=64).contains(&slug.len())
            && slug.starts_with(|c: char| c.is_ascii_alphanumeric())
            && slug
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        valid.then_some(Self::Slug(slug))
    }

    /// The product number, when that is what was given.
    pub fn id(&self) -> Option<u32> {
        match self {
            Self::Id(n) => Some(*n),
            Self::Slug(_) => None,
        }
    }
}

impl std::fmt::Display for ProductRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Id(n) => write!(f, "{n}"),
            Self::Slug(s) => f.write_str(s),
        }
    }
}

/// What the user must enter before the page sends anything: the page never sends an empty one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputField {
    Email,
    Password,
    OneTimeCode,
    AccessToken,
}

impl InputField {
    /// The field's name in a sentence.
    pub fn name(self) -> &'static str {
        match self {
            Self::Email => "email address",
            Self::Password => "password",
            Self::OneTimeCode => "one-time code",
            Self::AccessToken => "access token",
        }
    }

    /// `Err` naming this field when `value` is empty (or only spaces, except for a password,
    /// which is sent as typed).
    pub fn require(self, value: &str) -> Result<(), ApiError> {
        let empty = match self {
            Self::Password => value.is_empty(),
            _ => value.trim().is_empty(),
        };
        if empty {
            Err(ApiError::MissingInput { field: self })
        } else {
            Ok(())
        }
    }
}

impl std::fmt::Display for InputField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Percent-encodes a path segment so a typed device ID can never change the route.
fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `application/x-www-form-urlencoded` as browsers produce it (WHATWG URL, urlencoded serializer).
pub fn form_encode(fields: &[(&str, &str)]) -> String {
    fn push(out: &mut String, s: &str) {
        for b in s.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                    out.push(b as char)
                }
                b' ' => out.push('+'),
                _ => out.push_str(&format!("%{b:02X}")),
            }
        }
    }
    let mut out = String::new();
    for (i, (name, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        push(&mut out, name);
        out.push('=');
        push(&mut out, value);
    }
    out
}

/// Parses a form body or query string; malformed escapes are kept literally, as browsers do.
pub fn form_decode(body: &str) -> Vec<(String, String)> {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    fn decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 1 < bytes.len() => {
                    match (hex(bytes[i + 1]), bytes.get(i + 2).and_then(|&b| hex(b))) {
                        (Some(h), Some(l)) => {
                            out.push((h << 4) | l);
                            i += 2;
                        }
                        _ => out.push(b'%'),
                    }
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    body.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(name), decode(value))
        })
        .collect()
}
