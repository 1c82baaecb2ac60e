//! A simulated Particle cloud with the contract of cloud-api.md: accounts (with and without MFA),
//! tokens that expire, devices with owners and products, stored public keys, and the statuses and
//! error bodies of the real API, CORS included.
//!
//! [`SimCloud::handle`] is the whole HTTP contract as one pure function of (request, now): it never
//! reads a clock and never does I/O. `api.rs` serves it in-process through [`crate::cloud::CloudApi`]
//! (the page's simulated mode and native tests), `server.rs` serves it over loopback HTTP for
//! `src/bin/sim-cloud.rs`, and `handshake.rs` + `firmware.rs` are the device-to-cloud handshake
//! (cloud-api.md part B) that decides whether a simulated device comes online.

pub mod api;
pub mod firmware;
pub mod handshake;
pub mod scenario;
#[cfg(not(target_arch = "wasm32"))]
pub mod server;
pub mod table;
pub mod wire;

use crate::cloud::body::{
    self, ErrorBody, KeyUploadBody, MemberRole, OkBody, TeamBody, TeamMember, TokenBody, UserBody,
};
use crate::cloud::{DeviceInfo, OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET, form_decode};
use rsa::pkcs8::{DecodePublicKey, EncodePublicKey};
use serde::Serialize;
use std::collections::BTreeMap;
pub use table::Table;
pub use wire::{SimHttpRequest, SimHttpResponse};

/// Consecutive failed sign-ins after which `/oauth/token` answers 429 (cloud-api.md 6).
pub const MAX_FAILED_SIGN_INS: u32 = 10;
/// How long the block lasts.
pub const SIGN_IN_BLOCK_MS: u64 = 30 * 60 * 1000;
/// How long an `mfa_token` from the password step stays valid (not public; five minutes is typical).
pub const MFA_TOKEN_TTL_MS: u64 = 5 * 60 * 1000;
/// The token lifetime when `expires_in` is absent: 90 days, what the CLI asks for.
pub const DEFAULT_TOKEN_TTL_S: u64 = 7_776_000;
/// The headers Particle's preflight allows; anything else makes the browser refuse the call.
pub const CORS_ALLOW_HEADERS: &str = "Authorization, Content-Type";
pub const CORS_ALLOW_METHODS: &str = "GET, POST, PUT, DELETE, OPTIONS";

/// The grant types `/oauth/token` serves (OAUTH `lib/oauth2server.js` matches them case-insensitively).
const GRANTS: [&str; 2] = ["password", "urn:custom:mfa-otp"];

/// OAuth clients the real API accepts for the password grant (cloud-api.md 2).
const PUBLIC_CLIENTS: [(&str, &str); 3] = [
    (OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET),
    ("particle-cli", "particle-cli"),
    ("particle-api", "particle-api"),
];

/// A product team role (DOCS repairing-product-device-keys.md: only Developer and Administrator may
/// send device keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TeamRole {
    Administrator,
    Developer,
    ViewOnly,
    Support,
}

impl TeamRole {
    pub fn may_send_keys(self) -> bool {
        matches!(self, Self::Administrator | Self::Developer)
    }

    /// The role's name as Particle's console shows it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Administrator => "Administrator",
            Self::Developer => "Developer",
            Self::ViewOnly => "View-only",
            Self::Support => "Support",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimAccount {
    pub email: String,
    pub password: String,
    /// The one-time code that passes the MFA step; `None` for accounts without MFA.
    pub mfa_otp: Option<String>,
    /// A single-sign-on account: the password grant answers 403 `sso_user`.
    pub sso: bool,
}

impl SimAccount {
    pub fn new(email: &str, password: &str) -> Self {
        Self {
            email: email.to_ascii_lowercase(),
            password: password.to_owned(),
            mfa_otp: None,
            sso: false,
        }
    }

    pub fn with_mfa(mut self, otp: &str) -> Self {
        self.mfa_otp = Some(otp.to_owned());
        self
    }
}

/// A device public key as the cloud stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// SubjectPublicKeyInfo DER (the 162-byte form for RSA-1024).
    pub der: Vec<u8>,
    /// `rsa` or `ecc`.
    pub algorithm: String,
}

/// A device as the simulated cloud knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimCloudDevice {
    /// 24 lowercase hex characters.
    pub id: String,
    pub name: String,
    /// The account the device is claimed to, if any.
    pub owner: Option<String>,
    /// The product a device belongs to; `None` for a developer device.
    pub product_id: Option<u32>,
    pub platform_id: u16,
    pub online: bool,
    pub public_key: Option<StoredKey>,
    pub last_handshake_ms: Option<u64>,
    pub last_heard_ms: Option<u64>,
}

impl SimCloudDevice {
    /// A developer device claimed to `owner`, with no key known yet.
    pub fn new(id: &str, owner: &str, platform_id: u16) -> Self {
        Self {
            id: id.to_ascii_lowercase(),
            name: format!("sim_{}", &id.to_ascii_lowercase()[..id.len().min(6)]),
            owner: Some(owner.to_ascii_lowercase()),
            product_id: None,
            platform_id,
            online: false,
            public_key: None,
            last_handshake_ms: None,
            last_heard_ms: None,
        }
    }

    pub fn in_product(mut self, product_id: u32) -> Self {
        self.product_id = Some(product_id);
        self
    }

    /// The `product_id` the API reports: the platform id for developer devices (cloud-api.md 5).
    pub fn reported_product_id(&self) -> u32 {
        self.product_id.unwrap_or(u32::from(self.platform_id))
    }
}

#[derive(Debug, Clone)]
struct TokenEntry {
    email: String,
    /// `None`: never expires (`expires_in=0`).
    expires_at_ms: Option<u64>,
}

#[derive(Debug, Clone)]
struct MfaEntry {
    email: String,
    expires_at_ms: u64,
    token_ttl_s: u64,
}

/// The cloud's state; requests are served in-process or over loopback HTTP.
#[derive(Clone)]
pub struct SimCloud {
    accounts: Table<String, SimAccount>,
    /// Each product's team: roles by lower-case email.
    products: Table<u32, Table<String, TeamRole>>,
    /// Product slugs (`my-product-v1`), for the product routes that take either.
    product_slugs: Table<String, u32>,
    /// Whether `/v1/devices/:id` answers a product's team members about its devices (the
    /// simulated cloud's design; production may refuse them there: unverified).
    team_on_device_route: bool,
    devices: Table<String, SimCloudDevice>,
    tokens: Table<String, TokenEntry>,
    mfa_tokens: Table<String, MfaEntry>,
    failed_sign_ins: u32,
    blocked_until_ms: Option<u64>,
    /// Test control: the next `count` requests (whose path starts with the prefix) answer `status`.
    forced: Option<(u16, u32, String)>,
    /// The cloud's RSA-2048 key (e = 65537) for the device handshake.
    server_key: rsa::PrivateKey,
    /// The address block this cloud is reachable at, as devices read it from their DCT.
    server_host: String,
    server_port: u16,
    /// Simulated devices that booted against this cloud and keep retrying their handshake.
    pub(crate) running: Table<String, firmware::RunningDevice>,
}

impl std::fmt::Debug for SimCloud {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimCloud")
            .field("accounts", &self.accounts.keys().collect::<Vec<_>>())
            .field("devices", &self.devices)
            .field("tokens", &self.tokens.len())
            .field("server_key", &"RSA-2048 (redacted)")
            .finish_non_exhaustive()
    }
}

impl SimCloud {
    /// An empty cloud with the given RSA-2048 server key, reachable as `device.spark.io:5683` (the
    /// address `particle keys server` writes by default).
    pub fn new(server_key: rsa::PrivateKey) -> Self {
        Self {
            accounts: Table::new(),
            products: Table::new(),
            product_slugs: Table::new(),
            team_on_device_route: true,
            devices: Table::new(),
            tokens: Table::new(),
            mfa_tokens: Table::new(),
            failed_sign_ins: 0,
            blocked_until_ms: None,
            forced: None,
            server_key,
            server_host: "device.spark.io".into(),
            server_port: 5683,
            running: Table::new(),
        }
    }

    /// A cloud with a freshly generated RSA-2048 server key (e = 65537), as the real cloud's.
    pub fn generate() -> Result<Self, String> {
        let key = crate::keys::generate_rsa_key(2048).map_err(|e| e.to_string())?;
        Ok(Self::new(key))
    }

    pub fn add_account(&mut self, account: SimAccount) {
        self.accounts.insert(account.email.clone(), account);
    }

    /// Adds a product with an empty team.
    pub fn add_product(&mut self, id: u32) {
        self.products.insert(id, Table::new());
    }

    /// Gives a product a slug, which product routes accept in place of its number.
    pub fn set_product_slug(&mut self, id: u32, slug: &str) {
        self.product_slugs.insert(slug.to_ascii_lowercase(), id);
    }

    /// Test control: whether `/v1/devices/:id` answers a product's team members (on by default).
    /// Off, only the owner is answered there and team members must use the product's route.
    pub fn set_device_route_answers_team(&mut self, on: bool) {
        self.team_on_device_route = on;
    }

    /// The product a route's `:productIdOrSlug` names, if it exists.
    fn product_named(&self, id_or_slug: &str) -> Option<u32> {
        let id = match id_or_slug.parse::<u32>() {
            Ok(id) => id,
            Err(_) => *self.product_slugs.get(&id_or_slug.to_ascii_lowercase())?,
        };
        self.products.contains_key(&id).then_some(id)
    }

    /// Adds `email` to a product's team (the product must exist).
    pub fn add_team_member(&mut self, product_id: u32, email: &str, role: TeamRole) {
        if let Some(team) = self.products.get_mut(&product_id) {
            team.insert(email.to_ascii_lowercase(), role);
        }
    }

    /// Registers a device; ids are stored lower-case like the CLI sends them.
    pub fn add_device(&mut self, mut device: SimCloudDevice) {
        device.id = device.id.to_ascii_lowercase();
        device.owner = device.owner.map(|o| o.to_ascii_lowercase());
        self.devices.insert(device.id.clone(), device);
    }

    /// Looks a device up by id, case-insensitively.
    pub fn device(&self, id: &str) -> Option<&SimCloudDevice> {
        self.devices.get(&id.to_ascii_lowercase())
    }

    pub fn device_mut(&mut self, id: &str) -> Option<&mut SimCloudDevice> {
        self.devices.get_mut(&id.to_ascii_lowercase())
    }

    /// Issues a token for `email` directly (tests and the demo scenario), valid for `ttl_s` seconds
    /// from `now_ms` (0 = never expires).
    pub fn issue_token(&mut self, email: &str, ttl_s: u64, now_ms: u64) -> String {
        let token = random_hex(20);
        self.tokens.insert(
            token.clone(),
            TokenEntry {
                email: email.to_ascii_lowercase(),
                expires_at_ms: (ttl_s > 0).then(|| now_ms.saturating_add(ttl_s * 1000)),
            },
        );
        token
    }

    /// Test control: the next `count` requests (preflights excepted) answer `status` with the
    /// matching error body (429 rate limit, 5xx server error).
    pub fn fail_next(&mut self, status: u16, count: u32) {
        self.fail_next_on(status, count, "/");
    }

    /// Like [`SimCloud::fail_next`], for requests whose path starts with `path_prefix` only, so
    /// concurrent tests do not see each other's failures.
    pub fn fail_next_on(&mut self, status: u16, count: u32, path_prefix: &str) {
        self.forced = (count > 0).then(|| (status, count, path_prefix.to_owned()));
    }

    /// The cloud's public key as SubjectPublicKeyInfo DER (294 bytes for RSA-2048).
    pub fn server_public_key_der(&self) -> Vec<u8> {
        self.server_key
            .to_public_key()
            .to_public_key_der()
            .map(|d| d.as_bytes().to_vec())
            .unwrap_or_default()
    }

    pub(crate) fn server_private_key(&self) -> &rsa::PrivateKey {
        &self.server_key
    }

    /// Changes the address devices must have in their DCT to reach this cloud.
    pub fn set_server_address(&mut self, host: &str, port: u16) {
        self.server_host = host.to_owned();
        self.server_port = port;
    }

    pub fn server_host(&self) -> &str {
        &self.server_host
    }

    pub fn server_port(&self) -> u16 {
        self.server_port
    }

    /// The 512-byte TCP server-key region (DCT 2082) for this cloud, built like
    /// `particle keys server --host <host> --port <port>` (particle-dct.md 6.3): SPKI DER at 0, 0xFF
    /// fill, the address block at 384 (IPv4 `00 04 a b c d` or domain `01 <len> <ascii>`, no NUL) and
    /// the big-endian port at 450 (left `ff ff`, "default", when it is 5683).
    pub fn server_key_region(&self) -> Vec<u8> {
        let mut region = vec![0xFF; 512];
        let der = self.server_public_key_der();
        region[..der.len()].copy_from_slice(&der);
        let host = self.server_host.as_bytes();
        let ipv4: Option<Vec<u8>> = if self
            .server_host
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.')
        {
            let parts: Vec<u8> = self
                .server_host
                .split('.')
                .filter_map(|p| p.parse().ok())
                .collect();
            (parts.len() == 4).then_some(parts)
        } else {
            None
        };
        match ipv4 {
            Some(octets) => {
                region[384] = 0x00;
                region[385] = 4;
                region[386..390].copy_from_slice(&octets);
            }
            None => {
                let len = host.len().min(64);
                region[384] = 0x01;
                region[385] = len as u8;
                region[386..386 + len].copy_from_slice(&host[..len]);
            }
        }
        if self.server_port != 5683 {
            region[450..452].copy_from_slice(&self.server_port.to_be_bytes());
        }
        region
    }

    /// Serves one HTTP request at time `now_ms` (milliseconds since the Unix epoch).
    pub fn handle(&mut self, req: &SimHttpRequest, now_ms: u64) -> SimHttpResponse {
        if req.method.eq_ignore_ascii_case("OPTIONS") {
            return SimHttpResponse::preflight();
        }
        if let Some((status, left, prefix)) = self.forced.take() {
            if req.target.starts_with(&prefix) {
                self.forced = (left > 1).then(|| (status, left - 1, prefix));
                return forced_failure(status);
            }
            self.forced = Some((status, left, prefix));
        }
        let (path, query) = req.target.split_once('?').unwrap_or((&req.target, ""));
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        match (
            req.method.to_ascii_uppercase().as_str(),
            segments.as_slice(),
        ) {
            ("POST", ["oauth", "token"]) => self.oauth_token(req, now_ms),
            ("DELETE", ["v1", "access_tokens", "current"]) => self.sign_out(req, query, now_ms),
            ("GET", ["v1", "user"]) => self.user(req, query, now_ms),
            ("GET", ["v1", "products", id, "team"]) => self.product_team(req, query, id, now_ms),
            ("GET", ["v1", "devices"]) => self.list_devices(req, query, now_ms),
            ("GET", ["v1", "devices", id]) => self.get_device(req, query, id, now_ms),
            ("GET", ["v1", "products", product, "devices", id]) => {
                self.get_product_device(req, query, product, id, now_ms)
            }
            ("POST", ["v1", "provisioning", id]) => self.provision(req, query, id, now_ms),
            _ => not_ok(404, "Not Found"),
        }
    }

    // ----- /oauth/token -----------------------------------------------------------------------

    fn oauth_token(&mut self, req: &SimHttpRequest, now_ms: u64) -> SimHttpResponse {
        if self.blocked_until_ms.is_some_and(|until| now_ms < until) {
            return oauth_error(
                429,
                "rate_limit_exceeded",
                "Too many failed login attempts. Try again later.",
            );
        }
        if !has_content_type(req, crate::cloud::FORM) {
            return oauth_error(
                400,
                "invalid_request",
                "Method must be POST with application/x-www-form-urlencoded encoding",
            );
        }
        let form = Form::parse(&req.body);
        // OAUTH lib/grant.js `extractCredentials`: the grant type is checked before the client.
        let grant_type = form.get("grant_type").unwrap_or_default().to_owned();
        if !GRANTS.iter().any(|g| g.eq_ignore_ascii_case(&grant_type)) {
            return oauth_error(
                400,
                "invalid_request",
                "Invalid or missing grant_type parameter",
            );
        }
        let (client_id, client_secret) = match basic_credentials(req) {
            Some(pair) => pair,
            None => (
                form.get("client_id").unwrap_or_default().to_owned(),
                form.get("client_secret").unwrap_or_default().to_owned(),
            ),
        };
        if client_id.is_empty() {
            return invalid_client("Invalid or missing client_id parameter");
        }
        if client_secret.is_empty() {
            return invalid_client("Missing client_secret parameter");
        }
        if !PUBLIC_CLIENTS.contains(&(client_id.as_str(), client_secret.as_str())) {
            return invalid_client("Client credentials are invalid");
        }
        let ttl_s = match form.get("expires_in") {
            None => DEFAULT_TOKEN_TTL_S,
            Some(s) => match s.parse::<u64>() {
                Ok(v) => v,
                Err(_) => {
                    return oauth_error(400, "invalid_request", "expires_in must be a number");
                }
            },
        };
        // `checkGrantType` then compares case-sensitively.
        match grant_type.as_str() {
            "password" => self.password_grant(&form, ttl_s, now_ms),
            "urn:custom:mfa-otp" => self.otp_grant(&form, now_ms),
            _ => oauth_error(
                400,
                "invalid_request",
                "Invalid grant_type parameter or parameter missing",
            ),
        }
    }

    fn password_grant(&mut self, form: &Form, ttl_s: u64, now_ms: u64) -> SimHttpResponse {
        // OAUTH lib/grant.js `usePasswordGrant`: `!uname || !pword`, so an empty field is missing
        // too; answered before any user is looked up, so it never counts as a failed sign-in.
        let (Some(username), Some(password)) = (
            form.get("username").filter(|u| !u.is_empty()),
            form.get("password").filter(|p| !p.is_empty()),
        ) else {
            return invalid_client(
                "Missing parameters. \"username\" and \"password\" are required",
            );
        };
        let account = self
            .accounts
            .get(&username.trim().to_ascii_lowercase())
            .cloned();
        let Some(account) = account.filter(|a| a.password == password) else {
            return self.failed_sign_in(
                now_ms,
                "invalid_grant",
                400,
                "User credentials are invalid",
            );
        };
        if account.sso {
            return oauth_error(
                403,
                "sso_user",
                "This account uses single sign-on; use an access token instead",
            );
        }
        self.failed_sign_ins = 0;
        if account.mfa_otp.is_some() {
            let mfa_token = random_uuid();
            self.mfa_tokens.insert(
                mfa_token.clone(),
                MfaEntry {
                    email: account.email.clone(),
                    expires_at_ms: now_ms + MFA_TOKEN_TTL_MS,
                    token_ttl_s: ttl_s,
                },
            );
            // OAUTH lib/error.js: an OAuth2Error like the others, with the token in `mfa_token`.
            return no_store(SimHttpResponse::json(
                403,
                &ErrorBody {
                    mfa_token: Some(mfa_token),
                    error: Some("mfa_required".into()),
                    error_description: Some("Multi-factor authentication required".into()),
                    ..ErrorBody::default()
                },
            ));
        }
        self.token_response(&account.email, ttl_s, now_ms)
    }

    fn otp_grant(&mut self, form: &Form, now_ms: u64) -> SimHttpResponse {
        // OAUTH lib/grant.js `useMfaOtpGrant`: `!otp || !mfa_token`, so empty is missing too.
        let (Some(mfa_token), Some(otp)) = (
            form.get("mfa_token").filter(|t| !t.is_empty()),
            form.get("otp").filter(|o| !o.is_empty()),
        ) else {
            return oauth_error(
                400,
                "invalid_request",
                "You must provide otp and mfa token.",
            );
        };
        let entry = self
            .mfa_tokens
            .get(mfa_token)
            .filter(|e| now_ms < e.expires_at_ms)
            .cloned();
        let expected = entry
            .as_ref()
            .and_then(|e| self.accounts.get(&e.email))
            .and_then(|a| a.mfa_otp.clone());
        match (entry, expected) {
            (Some(entry), Some(expected)) if expected == otp.trim() => {
                self.mfa_tokens.remove(mfa_token);
                self.failed_sign_ins = 0;
                self.token_response(&entry.email, entry.token_ttl_s, now_ms)
            }
            // The OAuth library's own test answers a wrong code this way (cloud-api.md 2).
            _ => self.failed_sign_in(now_ms, "invalid_token", 401, "Could not validate OTP."),
        }
    }

    fn failed_sign_in(
        &mut self,
        now_ms: u64,
        error: &str,
        status: u16,
        description: &str,
    ) -> SimHttpResponse {
        self.failed_sign_ins += 1;
        if self.failed_sign_ins >= MAX_FAILED_SIGN_INS {
            self.failed_sign_ins = 0;
            self.blocked_until_ms = Some(now_ms + SIGN_IN_BLOCK_MS);
        }
        oauth_error(status, error, description)
    }

    fn token_response(&mut self, email: &str, ttl_s: u64, now_ms: u64) -> SimHttpResponse {
        let token = self.issue_token(email, ttl_s, now_ms);
        no_store(SimHttpResponse::json(
            200,
            &TokenBody {
                token_type: Some("bearer".into()),
                access_token: token,
                expires_in: Some(ttl_s),
                refresh_token: Some(random_hex(20)),
            },
        ))
    }

    // ----- Bearer routes ----------------------------------------------------------------------

    /// OAUTH `lib/authorise.js`: one token, from exactly one place, known and not expired.
    fn authorise(
        &self,
        req: &SimHttpRequest,
        query: &str,
        now_ms: u64,
    ) -> Result<(String, String), SimHttpResponse> {
        let from_header = match req.header("authorization") {
            None => None,
            Some(value) => match value.trim().split_once(' ') {
                Some((scheme, token))
                    if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
                {
                    Some(token.trim().to_owned())
                }
                _ => return Err(oauth_error(400, "invalid_request", "Malformed auth header")),
            },
        };
        let from_query = Form::parse(query).get("access_token").map(str::to_owned);
        let from_body = if has_content_type(req, crate::cloud::FORM) {
            Form::parse(&req.body)
                .get("access_token")
                .map(str::to_owned)
        } else {
            None
        };
        let found: Vec<String> = [from_header, from_query, from_body]
            .into_iter()
            .flatten()
            .collect();
        let token = match found.as_slice() {
            [] => {
                return Err(oauth_error(
                    400,
                    "invalid_request",
                    "The access token was not found",
                ));
            }
            [one] => one.clone(),
            _ => {
                return Err(oauth_error(
                    400,
                    "invalid_request",
                    "Only one method may be used to authenticate at a time (Auth header, GET or POST).",
                ));
            }
        };
        let Some(entry) = self.tokens.get(&token) else {
            return Err(oauth_error(
                401,
                "invalid_token",
                "The access token provided is invalid.",
            ));
        };
        if entry.expires_at_ms.is_some_and(|at| now_ms >= at) {
            return Err(oauth_error(
                401,
                "invalid_token",
                "The access token provided has expired.",
            ));
        }
        Ok((entry.email.clone(), token))
    }

    fn sign_out(&mut self, req: &SimHttpRequest, query: &str, now_ms: u64) -> SimHttpResponse {
        match self.authorise(req, query, now_ms) {
            Err(resp) => resp,
            Ok((_, token)) => {
                self.tokens.remove(&token);
                ok_true()
            }
        }
    }

    /// `GET /v1/user`. Unverified beyond `username` (cloud-api.md does not cover this route).
    fn user(&self, req: &SimHttpRequest, query: &str, now_ms: u64) -> SimHttpResponse {
        match self.authorise(req, query, now_ms) {
            Err(resp) => resp,
            Ok((email, _)) => SimHttpResponse::json(200, &UserBody { username: email }),
        }
    }

    /// `GET /v1/products/:id/team`: visible to team members only. Unverified shape (see
    /// `cloud::parse_team_role`).
    fn product_team(
        &self,
        req: &SimHttpRequest,
        query: &str,
        id: &str,
        now_ms: u64,
    ) -> SimHttpResponse {
        let email = match self.authorise(req, query, now_ms) {
            Ok((email, _)) => email,
            Err(resp) => return resp,
        };
        let team = id.parse::<u32>().ok().and_then(|p| self.products.get(&p));
        match team.filter(|t| t.contains_key(&email)) {
            Some(t) => {
                let team = t
                    .iter()
                    .map(|(member, role)| TeamMember {
                        username: member.clone(),
                        role: Some(MemberRole {
                            name: role.name().into(),
                        }),
                    })
                    .collect();
                SimHttpResponse::json(
                    200,
                    &TeamBody {
                        ok: Some(true),
                        team,
                    },
                )
            }
            None => not_ok(403, "Permission Denied"),
        }
    }

    fn may_view(&self, email: &str, device: &SimCloudDevice) -> bool {
        device.owner.as_deref() == Some(email)
            || self.team_on_device_route
                && device
                    .product_id
                    .and_then(|p| self.products.get(&p))
                    .is_some_and(|team| team.contains_key(email))
    }

    fn list_devices(&self, req: &SimHttpRequest, query: &str, now_ms: u64) -> SimHttpResponse {
        let email = match self.authorise(req, query, now_ms) {
            Ok((email, _)) => email,
            Err(resp) => return resp,
        };
        let list: Vec<DeviceRecord> = self
            .devices
            .values()
            .filter(|d| d.owner.as_deref() == Some(email.as_str()))
            .map(device_record)
            .collect();
        SimHttpResponse::json(200, &list)
    }

    fn get_device(
        &self,
        req: &SimHttpRequest,
        query: &str,
        id: &str,
        now_ms: u64,
    ) -> SimHttpResponse {
        let (email, token) = match self.authorise(req, query, now_ms) {
            Ok(found) => found,
            Err(resp) => return resp,
        };
        match self.device(id).filter(|d| self.may_view(&email, d)) {
            Some(device) => SimHttpResponse::json(200, &device_record(device)),
            // Unknown ids get the same answer as someone else's device (cloud-api.md 5).
            None => SimHttpResponse::json(
                403,
                &ErrorBody {
                    ok: Some(false),
                    error: Some("Permission Denied".into()),
                    info: Some(format!(
                        "I didn't recognize that device name or ID, try opening \
                         https://api.particle.io/v1/devices?access_token={token}"
                    )),
                    ..ErrorBody::default()
                },
            ),
        }
    }

    /// `GET /v1/products/:productIdOrSlug/devices/:id`: the same rules as `/v1/devices/:id` gives
    /// owners, for the product's team members (any role). Unverified bodies: particle-cli 3.49's
    /// tests against production (`test/e2e/product.e2e.js`) see "Permission denied" for an unknown
    /// product and a 404 whose message contains "not found" for a device the product does not have
    /// (its DELETE answers "Device not found for this product"). A non-member is answered as for an
    /// unknown product (unverified), whether or not it owns the device.
    fn get_product_device(
        &self,
        req: &SimHttpRequest,
        query: &str,
        product: &str,
        id: &str,
        now_ms: u64,
    ) -> SimHttpResponse {
        let email = match self.authorise(req, query, now_ms) {
            Ok((email, _)) => email,
            Err(resp) => return resp,
        };
        let product = self.product_named(product).filter(|p| {
            self.products
                .get(p)
                .is_some_and(|team| team.contains_key(&email))
        });
        let Some(product) = product else {
            return not_ok(404, "Permission denied");
        };
        match self.device(id).filter(|d| d.product_id == Some(product)) {
            Some(device) => SimHttpResponse::json(200, &device_record(device)),
            None => not_ok(404, "Device not found for this product"),
        }
    }

    fn provision(
        &mut self,
        req: &SimHttpRequest,
        query: &str,
        id: &str,
        now_ms: u64,
    ) -> SimHttpResponse {
        let email = match self.authorise(req, query, now_ms) {
            Ok((email, _)) => email,
            Err(resp) => return resp,
        };
        // The CLI sends a form, particle-api-js sends JSON (cloud-api.md 4).
        let form = if has_content_type(req, "application/json") {
            Form::from_json(&req.body)
        } else {
            Form::parse(&req.body)
        };
        let product_id = form
            .get("product_id")
            .and_then(|p| p.trim().parse::<u32>().ok());
        let allowed = self.device(id).is_some_and(|device| {
            device.owner.as_deref() == Some(email.as_str())
                || (product_id.is_some()
                    && product_id == device.product_id
                    && self
                        .products
                        .get(&device.reported_product_id())
                        .and_then(|team| team.get(&email))
                        .is_some_and(|role| role.may_send_keys()))
        });
        if !allowed {
            return not_ok(403, "Permission Denied");
        }
        let Some(pem) = form.get("publicKey").filter(|k| !k.trim().is_empty()) else {
            return not_ok(400, "No key provided");
        };
        let algorithm = form.get("algorithm").unwrap_or("rsa").to_ascii_lowercase();
        let der = match parse_public_key(pem, &algorithm) {
            Ok(der) => der,
            Err(why) => return not_ok(400, &format!("Key error {why}")),
        };
        if let Some(device) = self.device_mut(id) {
            device.public_key = Some(StoredKey { der, algorithm });
        }
        ok_true()
    }

    // ----- device side ------------------------------------------------------------------------

    /// Marks a device online after a completed handshake and Hello exchange.
    pub(crate) fn mark_online(&mut self, id: &str, now_ms: u64) {
        if let Some(device) = self.device_mut(id) {
            device.online = true;
            device.last_handshake_ms = Some(now_ms);
            device.last_heard_ms = Some(now_ms);
        }
    }

    /// Marks a device offline (it reset, lost power, or entered DFU mode).
    pub fn mark_offline(&mut self, id: &str) {
        if let Some(device) = self.device_mut(id) {
            device.online = false;
        }
        self.running.remove(&id.to_ascii_lowercase());
    }
}

/// Checks an uploaded PEM the way a key store would: RSA SPKI for `rsa`, P-256 SPKI for `ecc`.
fn parse_public_key(pem: &str, algorithm: &str) -> Result<Vec<u8>, String> {
    let normalized = pem.replace("\r\n", "\n");
    let (label, der) = rsa::pkcs8::der::pem::decode_vec(normalized.trim().as_bytes())
        .map_err(|e| format!("the key is not PEM ({e})"))?;
    if label != "PUBLIC KEY" {
        return Err(format!("expected a PUBLIC KEY, got {label}"));
    }
    match algorithm {
        "rsa" => rsa::PublicKey::from_public_key_der(&der)
            .map(|_| der)
            .map_err(|e| format!("not an RSA public key ({e})")),
        "ecc" => {
            if der.len() == 91 && der.starts_with(&P256_SPKI_PREFIX) {
                Ok(der)
            } else {
                Err("not a P-256 public key".into())
            }
        }
        other => Err(format!("unknown algorithm {other}")),
    }
}

/// The 26 bytes before the 65-byte point in a P-256 SubjectPublicKeyInfo (particle-dct.md 6.1).
pub const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// A device as `GET /v1/devices/:id` answers it (cloud-api.md 5): the members the page reads
/// ([`DeviceInfo`]) and the others Particle sends, which the page ignores.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct DeviceRecord {
    #[serde(flatten)]
    info: DeviceInfo,
    /// Product-device answers only: the claiming account, `null` when unclaimed.
    #[serde(skip_serializing_if = "Option::is_none")]
    owner: Option<Option<String>>,
    last_app: Option<String>,
    last_ip_address: Option<&'static str>,
    cellular: bool,
    notes: Option<String>,
    functions: Vec<String>,
    variables: BTreeMap<String, String>,
    status: &'static str,
    serial_number: Option<String>,
    firmware_updates_enabled: bool,
    firmware_updates_forced: bool,
}

fn device_record(device: &SimCloudDevice) -> DeviceRecord {
    DeviceRecord {
        info: DeviceInfo {
            id: device.id.clone(),
            name: Some(device.name.clone()),
            owner: None,
            product_id: device.reported_product_id(),
            platform_id: device.platform_id,
            online: device.online,
            connected: device.online,
            last_handshake_at: device.last_handshake_ms.map(iso8601),
            last_heard: device.last_heard_ms.map(iso8601),
            system_firmware_version: Some("2.3.1".into()),
        },
        owner: device.product_id.map(|_| device.owner.clone()),
        last_app: None,
        last_ip_address: device.last_heard_ms.map(|_| "127.0.0.1"),
        cellular: false,
        notes: None,
        functions: Vec::new(),
        variables: BTreeMap::new(),
        status: "normal",
        serial_number: None,
        firmware_updates_enabled: true,
        firmware_updates_forced: false,
    }
}

/// An error of the OAuth layer. OAUTH `lib/error.js` gives every one of them `Cache-Control:
/// no-store` and `Pragma: no-cache`, and its error handler sends them with the body.
fn oauth_error(status: u16, error: &str, description: &str) -> SimHttpResponse {
    no_store(SimHttpResponse::json(
        status,
        &ErrorBody {
            error: Some(error.into()),
            error_description: Some(description.into()),
            ..ErrorBody::default()
        },
    ))
}

/// `resp` with the headers OAUTH sends with every token and every OAuth error.
fn no_store(mut resp: SimHttpResponse) -> SimHttpResponse {
    resp.headers.push(("Cache-Control", "no-store".into()));
    resp.headers.push(("Pragma", "no-cache".into()));
    resp
}

/// An API route's failure: `{"ok": false, "error": …}`.
pub(crate) fn not_ok(status: u16, error: &str) -> SimHttpResponse {
    SimHttpResponse::json(
        status,
        &ErrorBody {
            ok: Some(false),
            error: Some(error.into()),
            ..ErrorBody::default()
        },
    )
}

/// An API route's bare success: `{"ok": true}`.
pub(crate) fn ok_true() -> SimHttpResponse {
    SimHttpResponse::json(200, &OkBody { ok: true })
}

fn invalid_client(description: &str) -> SimHttpResponse {
    let mut resp = oauth_error(400, "invalid_client", description);
    resp.headers
        .push(("WWW-Authenticate", "Basic realm=\"Service\"".into()));
    resp
}

fn forced_failure(status: u16) -> SimHttpResponse {
    match status {
        429 => oauth_error(429, "rate_limit_exceeded", "Too many requests"),
        500..=599 => oauth_error(status, "server_error", "Internal server error"),
        _ => not_ok(status, "Simulated failure"),
    }
}

/// Whether the request's `Content-Type` starts with `mime` (so a `; charset=…` is ignored).
fn has_content_type(req: &SimHttpRequest, mime: &str) -> bool {
    req.header("content-type")
        .is_some_and(|ct| ct.to_ascii_lowercase().starts_with(mime))
}

/// `Authorization: Basic base64(id:secret)` client credentials, if sent.
fn basic_credentials(req: &SimHttpRequest) -> Option<(String, String)> {
    let value = req.header("authorization")?;
    let (scheme, b64) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64_decode(b64.trim())?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    // Reuse the PEM decoder (base64ct underneath) rather than add a base64 crate.
    let pem = format!("-----BEGIN X-----\n{s}\n-----END X-----\n");
    rsa::pkcs8::der::pem::decode_vec(pem.as_bytes())
        .ok()
        .map(|(_, d)| d)
}

/// Form fields by name (first occurrence wins).
struct Form(Vec<(String, String)>);

impl Form {
    fn parse(body: &str) -> Self {
        Self(form_decode(body))
    }

    /// The fields of a JSON upload (particle-api-js), by the same names as the form's. A body
    /// that is not such an object has none.
    fn from_json(body: &str) -> Self {
        let upload: KeyUploadBody = body::read(body).unwrap_or_default();
        let fields = [
            ("deviceID", upload.device_id),
            ("publicKey", upload.public_key),
            ("filename", upload.filename),
            ("algorithm", upload.algorithm),
            ("product_id", upload.product_id),
        ];
        Self(
            fields
                .into_iter()
                .filter_map(|(name, value)| Some((name.to_owned(), value?.0)))
                .collect(),
        )
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // A simulator without randomness would be useless; fall back to a fixed pattern rather than panic.
    if getrandom::fill(&mut buf).is_err() {
        buf.iter_mut()
            .enumerate()
            .for_each(|(i, b)| *b = i as u8 ^ 0x5a);
    }
    buf
}

fn random_hex(bytes: usize) -> String {
    let buf: [u8; 32] = random_bytes();
    wire::hex(&buf[..bytes.min(32)])
}

fn random_uuid() -> String {
    let h = random_hex(16);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// `2020-01-20T02:53:29.854Z` from milliseconds since the epoch (the API's timestamp form).
pub fn iso8601(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_bodies_are_the_bytes_serde_json_wrote() {
        let developer = SimCloudDevice::new("0123456789ABCDEF01234567", "a@example.com", 6);
        let mut product = developer.clone();
        product.product_id = Some(4242);
        product.online = true;
        product.last_heard_ms = Some(1_579_488_809_854);
        product.last_handshake_ms = Some(1_579_488_800_000);
        let mut unclaimed = product.clone();
        unclaimed.owner = None;
        unclaimed.name = "quote \" and é".into();
        for device in [developer, product, unclaimed] {
            // What the route answered when it was written with `serde_json::json!`.
            let mut before = serde_json::json!({
                "id": device.id,
                "name": device.name,
                "last_app": null,
                "last_ip_address": if device.last_heard_ms.is_some() { serde_json::json!("127.0.0.1") } else { serde_json::Value::Null },
                "last_heard": device.last_heard_ms.map(iso8601),
                "last_handshake_at": device.last_handshake_ms.map(iso8601),
                "product_id": device.reported_product_id(),
                "online": device.online,
                "connected": device.online,
                "platform_id": device.platform_id,
                "cellular": false,
                "notes": null,
                "functions": [],
                "variables": {},
                "status": "normal",
                "serial_number": null,
                "system_firmware_version": "2.3.1",
                "firmware_updates_enabled": true,
                "firmware_updates_forced": false,
            });
            if device.product_id.is_some()
                && let Some(obj) = before.as_object_mut()
            {
                obj.insert("owner".into(), serde_json::json!(device.owner));
            }
            assert_eq!(
                SimHttpResponse::json(200, &device_record(&device)).body,
                before.to_string()
            );
        }
    }

    #[test]
    fn timestamps_match_the_api_form() {
        assert_eq!(iso8601(1_579_488_809_854), "2020-01-20T02:53:29.854Z");
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn basic_credentials_are_decoded() {
        let req = SimHttpRequest::new("POST", "/oauth/token")
            .with_header("Authorization", "Basic cGFydGljbGU6cGFydGljbGU=");
        assert_eq!(
            basic_credentials(&req),
            Some(("particle".into(), "particle".into()))
        );
    }
}
