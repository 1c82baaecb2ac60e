//! The JSON bodies of the cloud API as serde types (cloud-api.md), and the one function that reads
//! them. The client reads them (`response.rs`) and the simulated cloud writes them, so both sides
//! agree on names and shapes by construction.
//!
//! Reading is as tolerant as the API needs and no more: unknown members are ignored, the members
//! the page needs are required, a member given twice is refused, and `null` stands for "absent"
//! only in an optional member. [`DeviceInfo`](super::DeviceInfo) lives in `response.rs` with the
//! methods that read it.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

// Natively (the `sim-cloud` binary, tests, examples) JSON is `serde_json`. In the page it is the
// browser's own `JSON.parse` / `JSON.stringify`, with `serde-wasm-bindgen` between their values and
// these types: the page then carries no JSON parser or float code of its own (issue 16; measured
// against the alternatives in the closing note). The two agree on every text the API sends; they
// differ only where JSON itself leaves room: `JSON.parse` keeps the last of a repeated member where
// `serde_json` refuses a repeated known member, and it has no nesting limit.

/// Reads one JSON text as `T`. The error says what was wrong, naming the member when one is
/// missing (`missing field `id``); natively it also says where (`at line 1 column 40`).
#[cfg(not(target_arch = "wasm32"))]
pub fn read<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_json::from_str(text).map_err(|e| e.to_string())
}

/// Reads one JSON text as `T`. The error says what was wrong, naming the member when one is
/// missing (`missing field `id``).
#[cfg(target_arch = "wasm32")]
pub fn read<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    let value = js_sys::JSON::parse(text).map_err(|e| {
        let why = js_sys::Error::from(e).message();
        format!("not JSON ({})", String::from(why))
    })?;
    serde_wasm_bindgen::from_value(value).map_err(|e| e.to_string())
}

/// `value` as compact JSON. Natively its members are sorted by name (what the simulated cloud has
/// always written); in the page they come in declaration order.
#[cfg(not(target_arch = "wasm32"))]
pub fn write<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_value(value).map_or_else(|_| String::new(), |v| v.to_string())
}

/// `value` as compact JSON. Natively its members are sorted by name (what the simulated cloud has
/// always written); in the page they come in declaration order.
#[cfg(target_arch = "wasm32")]
pub fn write<T: Serialize + ?Sized>(value: &T) -> String {
    stringify(value, &wasm_bindgen::JsValue::UNDEFINED)
}

/// `value` as JSON indented by two spaces, members in declaration order (the report download).
#[cfg(not(target_arch = "wasm32"))]
pub fn write_pretty<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// `value` as JSON indented by two spaces, members in declaration order (the report download).
/// `JSON.stringify` writes what `serde_json::to_string_pretty` writes for these types: the same
/// indent, `"name": value`, `[]` and `{}` when empty, and the same escapes.
#[cfg(target_arch = "wasm32")]
pub fn write_pretty<T: Serialize + ?Sized>(value: &T) -> String {
    stringify(value, &wasm_bindgen::JsValue::from(2))
}

/// `value` through `JSON.stringify(…, null, space)`; maps become objects, as JSON has them.
#[cfg(target_arch = "wasm32")]
fn stringify<T: Serialize + ?Sized>(value: &T, space: &wasm_bindgen::JsValue) -> String {
    let serializer = serde_wasm_bindgen::Serializer::json_compatible();
    value
        .serialize(&serializer)
        .ok()
        .and_then(|v| {
            js_sys::JSON::stringify_with_replacer_and_space(&v, &wasm_bindgen::JsValue::NULL, space)
                .ok()
        })
        .and_then(|s| s.as_string())
        .unwrap_or_default()
}

/// A successful `POST /oauth/token` (cloud-api.md 2). Only `access_token` is required.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenBody {
    pub access_token: String,
    /// Seconds; a negative or fractional number is refused.
    #[serde(default)]
    pub expires_in: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
}

/// Either error shape (cloud-api.md 1): `{"error","error_description"}` from the OAuth layer (with
/// `mfa_token` on a 403 `mfa_required`), `{"ok":false,"error","info"}` from API routes. Every
/// member is optional; absent ones are not written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
    /// CLI3 reads an `errors` array too; its elements may be of any type.
    #[serde(default, skip_serializing)]
    pub errors: Option<Vec<AnyText>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ok: Option<bool>,
}

/// A JSON string, number or literal as text: a string as it is, the others as written. For
/// members whose type the contract does not fix (an error body's `errors[]`, a JSON upload's
/// `product_id`). An array or object is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct AnyText(pub String);

impl<'de> Deserialize<'de> for AnyText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(AnyTextVisitor)
    }
}

struct AnyTextVisitor;

impl serde::de::Visitor<'_> for AnyTextVisitor {
    type Value = AnyText;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a string, number or literal")
    }

    fn visit_str<E>(self, v: &str) -> Result<AnyText, E> {
        Ok(AnyText(v.to_owned()))
    }

    fn visit_bool<E>(self, v: bool) -> Result<AnyText, E> {
        Ok(AnyText(v.to_string()))
    }

    fn visit_i64<E>(self, v: i64) -> Result<AnyText, E> {
        Ok(AnyText(v.to_string()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<AnyText, E> {
        Ok(AnyText(v.to_string()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<AnyText, E> {
        Ok(AnyText(v.to_string()))
    }

    fn visit_unit<E>(self) -> Result<AnyText, E> {
        Ok(AnyText("null".into()))
    }
}

/// `GET /v1/user`: only `username` is read (unverified beyond it; cloud-api.md does not cover the
/// route).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserBody {
    pub username: String,
}

/// `GET /v1/products/:id/team` (unverified shape, after Particle's console).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ok: Option<bool>,
    pub team: Vec<TeamMember>,
}

/// One member of a product team: a `username` and, when it has a role, a role `name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamMember {
    #[serde(default)]
    pub role: Option<MemberRole>,
    pub username: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRole {
    pub name: String,
}

/// `POST /v1/provisioning/:id` as particle-api-js sends it: the CLI's form fields as a JSON object
/// (cloud-api.md 4). The page itself sends the form; the simulated cloud reads both.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyUploadBody {
    #[serde(rename = "deviceID", default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<AnyText>,
    #[serde(rename = "publicKey", default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<AnyText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<AnyText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<AnyText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<AnyText>,
}

/// A route's bare success, `{"ok": true}` (PAPI types the key upload's answer so; the client only
/// checks the status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OkBody {
    pub ok: bool,
}
