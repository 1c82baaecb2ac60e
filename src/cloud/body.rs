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

/// Reads one JSON text as `T`. The error says what was wrong and where, naming the member when
/// one is missing or repeated (`missing field `id` at line 1 column 40`).
pub(crate) fn read<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_json::from_str(text).map_err(|e| e.to_string())
}

/// `value` as compact JSON, members in declaration order.
pub fn write<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// `value` as JSON indented by two spaces, members in declaration order.
pub fn write_pretty<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ok: Option<bool>,
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

/// A route's bare success, `{"ok": true}` (PAPI types the key upload's answer so; the client only
/// checks the status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OkBody {
    pub ok: bool,
}
