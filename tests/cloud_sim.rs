//! The simulated cloud against the contract of cloud-api.md, through the same client code the page
//! uses (`CloudApi` over `SimCloudApi`), plus raw requests for the exact statuses and bodies.

use futures_executor::block_on;
use key_rescue::cloud::{AccessToken, ApiError, CloudApi, KeyAlgorithm, KeyUpload};
use key_rescue::sim::cloud::api::SimCloudApi;
use key_rescue::sim::cloud::scenario::*;
use key_rescue::sim::cloud::{SimCloud, SimHttpRequest, SimHttpResponse};
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use serde_json::Value;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::OnceLock;

const T0: u64 = 1_700_000_000_000;

/// One RSA-2048 server key per test binary: generation is the slow part.
fn server_key() -> rsa::PrivateKey {
    static KEY: OnceLock<rsa::PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| rsa::PrivateKey::new(&mut getrandom::SysRng, 2048).unwrap())
        .clone()
}

fn demo() -> SimCloudApi {
    let mut cloud = SimCloud::new(server_key());
    seed_demo(&mut cloud);
    SimCloudApi::new(Rc::new(RefCell::new(cloud)), T0)
}

fn sign_in(api: &mut SimCloudApi, email: &str, password: &str) -> AccessToken {
    block_on(api.sign_in(email, password)).unwrap().token
}

fn pem() -> String {
    let key = rsa::PrivateKey::new(&mut getrandom::SysRng, 1024).unwrap();
    key.to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap()
}

fn raw(api: &SimCloudApi, req: SimHttpRequest) -> (SimHttpResponse, Value) {
    let resp = api.cloud().borrow_mut().handle(&req, T0);
    let body = serde_json::from_str(&resp.body).unwrap_or(Value::Null);
    // The bytes are exactly what serde_json writes for them (names sorted, its escapes).
    if !body.is_null() {
        assert_eq!(resp.body, body.to_string());
    }
    (resp, body)
}

fn form_post(target: &str, body: &str) -> SimHttpRequest {
    SimHttpRequest::new("POST", target)
        .with_header("Content-Type", "application/x-www-form-urlencoded")
        .with_body(body)
}

#[test]
fn password_sign_in_issues_a_bearer_token() {
    let mut api = demo();
    let session = block_on(api.sign_in(DEMO_EMAIL, DEMO_PASSWORD)).unwrap();
    assert_eq!(session.token.expose().len(), 40);
    assert_eq!(session.expires_in_s, Some(3600));
    let devices = block_on(api.devices(&session.token)).unwrap();
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].id, DEMO_PHOTON_ID);

    let (resp, body) = raw(
        &api,
        form_post(
            "/oauth/token",
            "grant_type=password&username=demo%40example.com&password=demo-password&client_id=particle&client_secret=particle",
        ),
    );
    assert_eq!(resp.status, 200);
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 7_776_000);
    assert_eq!(resp.header("Cache-Control"), Some("no-store"));
    assert_eq!(resp.header("Pragma"), Some("no-cache"));
}

#[test]
fn wrong_password_and_malformed_token_requests() {
    let mut api = demo();
    assert_eq!(
        block_on(api.sign_in(DEMO_EMAIL, "nope")).unwrap_err(),
        ApiError::WrongPassword
    );
    let (resp, body) = raw(
        &api,
        form_post(
            "/oauth/token",
            "grant_type=password&username=demo%40example.com&password=x&client_id=particle&client_secret=particle",
        ),
    );
    assert_eq!(resp.status, 400);
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(body["error_description"], "User credentials are invalid");

    // JSON is refused on /oauth/token.
    let (resp, body) = raw(
        &api,
        SimHttpRequest::new("POST", "/oauth/token")
            .with_header("Content-Type", "application/json")
            .with_body("{}"),
    );
    assert_eq!(resp.status, 400);
    assert_eq!(
        body["error_description"],
        "Method must be POST with application/x-www-form-urlencoded encoding"
    );
    // Bad client credentials carry WWW-Authenticate.
    let (resp, body) = raw(
        &api,
        form_post(
            "/oauth/token",
            "grant_type=password&username=a&password=b&client_id=x&client_secret=y",
        ),
    );
    assert_eq!(
        (resp.status, body["error"].as_str()),
        (400, Some("invalid_client"))
    );
    assert_eq!(
        resp.header("WWW-Authenticate"),
        Some("Basic realm=\"Service\"")
    );
    // SSO accounts cannot use a password.
    assert_eq!(
        block_on(api.sign_in(SSO_EMAIL, OTHER_PASSWORD)).unwrap_err(),
        ApiError::SingleSignOn
    );
}

#[test]
fn mfa_takes_a_second_step_with_the_code() {
    let mut api = demo();
    let Err(ApiError::MfaRequired { mfa_token }) = block_on(api.sign_in(MFA_EMAIL, MFA_PASSWORD))
    else {
        panic!("expected MFA");
    };
    assert_eq!(
        block_on(api.sign_in_otp(&mfa_token, "000000")).unwrap_err(),
        ApiError::WrongOtp
    );
    let session = block_on(api.sign_in_otp(&mfa_token, MFA_OTP)).unwrap();
    assert!(block_on(api.device(&session.token, PRODUCT_PHOTON_ID)).is_ok());
    // The mfa_token is single-use.
    assert_eq!(
        block_on(api.sign_in_otp(&mfa_token, MFA_OTP)).unwrap_err(),
        ApiError::WrongOtp
    );

    let (resp, body) = raw(
        &api,
        form_post(
            "/oauth/token",
            "grant_type=password&username=mfa%40example.com&password=mfa-password&client_id=particle&client_secret=particle",
        ),
    );
    assert_eq!(resp.status, 403);
    assert_eq!(body["error"], "mfa_required");
    assert_eq!(
        body["error_description"],
        "Multi-factor authentication required"
    );
    assert_eq!(body["mfa_token"].as_str().unwrap().len(), 36);
    let (resp, body) = raw(
        &api,
        form_post(
            "/oauth/token",
            "grant_type=urn:custom:mfa-otp&client_id=particle&client_secret=particle",
        ),
    );
    assert_eq!(resp.status, 400);
    assert_eq!(
        body["error_description"],
        "You must provide otp and mfa token."
    );
}

#[test]
fn mfa_token_expires() {
    let mut api = demo();
    let Err(ApiError::MfaRequired { mfa_token }) = block_on(api.sign_in(MFA_EMAIL, MFA_PASSWORD))
    else {
        panic!("expected MFA");
    };
    api.advance(10 * 60 * 1000);
    assert_eq!(
        block_on(api.sign_in_otp(&mfa_token, MFA_OTP)).unwrap_err(),
        ApiError::WrongOtp
    );
}

#[test]
fn ten_failed_sign_ins_block_for_thirty_minutes() {
    let mut api = demo();
    for _ in 0..10 {
        assert_eq!(
            block_on(api.sign_in(DEMO_EMAIL, "wrong")).unwrap_err(),
            ApiError::WrongPassword
        );
    }
    assert_eq!(
        block_on(api.sign_in(DEMO_EMAIL, DEMO_PASSWORD)).unwrap_err(),
        ApiError::RateLimited
    );
    api.advance(29 * 60 * 1000);
    assert_eq!(
        block_on(api.sign_in(DEMO_EMAIL, DEMO_PASSWORD)).unwrap_err(),
        ApiError::RateLimited
    );
    api.advance(60 * 1000);
    assert!(block_on(api.sign_in(DEMO_EMAIL, DEMO_PASSWORD)).is_ok());
}

#[test]
fn tokens_expire_and_sign_out_revokes() {
    let mut api = demo();
    let token = sign_in(&mut api, DEMO_EMAIL, DEMO_PASSWORD);
    api.advance(3_599_000);
    assert!(block_on(api.device(&token, DEMO_PHOTON_ID)).is_ok());
    api.advance(1_000);
    let err = block_on(api.device(&token, DEMO_PHOTON_ID)).unwrap_err();
    assert_eq!(err, ApiError::TokenExpired);

    let token = sign_in(&mut api, DEMO_EMAIL, DEMO_PASSWORD);
    block_on(api.sign_out(&token)).unwrap();
    assert_eq!(
        block_on(api.device(&token, DEMO_PHOTON_ID)).unwrap_err(),
        ApiError::TokenInvalid
    );
    // Signing out twice is harmless.
    block_on(api.sign_out(&token)).unwrap();
}

#[test]
fn bearer_errors_have_the_oauth_bodies() {
    let mut api = demo();
    let token = sign_in(&mut api, DEMO_EMAIL, DEMO_PASSWORD);
    let path = format!("/v1/devices/{DEMO_PHOTON_ID}");
    let check = |req: SimHttpRequest, status: u16, error: &str, description: &str| {
        let (resp, body) = raw(&api, req);
        assert_eq!(resp.status, status, "{}", resp.body);
        assert_eq!(body["error"], error);
        assert_eq!(body["error_description"], description);
        assert_eq!(resp.header("Access-Control-Allow-Origin"), Some("*"));
    };
    check(
        SimHttpRequest::new("GET", &path),
        400,
        "invalid_request",
        "The access token was not found",
    );
    check(
        SimHttpRequest::new("GET", &path).with_header("Authorization", "Token abc"),
        400,
        "invalid_request",
        "Malformed auth header",
    );
    check(
        SimHttpRequest::new("GET", &format!("{path}?access_token={}", token.expose()))
            .with_header("Authorization", &format!("Bearer {}", token.expose())),
        400,
        "invalid_request",
        "Only one method may be used to authenticate at a time (Auth header, GET or POST).",
    );
    check(
        SimHttpRequest::new("GET", &path).with_header("Authorization", "Bearer 0000"),
        401,
        "invalid_token",
        "The access token provided is invalid.",
    );
    // The deprecated query parameter still works on its own.
    let (resp, _) = raw(
        &api,
        SimHttpRequest::new("GET", &format!("{path}?access_token={}", token.expose())),
    );
    assert_eq!(resp.status, 200);
}

#[test]
fn device_lookup_gives_the_contract_fields() {
    let mut api = demo();
    let token = sign_in(&mut api, DEMO_EMAIL, DEMO_PASSWORD);
    let info = block_on(api.device(&token, &DEMO_PHOTON_ID.to_uppercase())).unwrap();
    assert_eq!(info.id, DEMO_PHOTON_ID);
    assert_eq!((info.platform_id, info.product_id), (6, 6));
    assert!(!info.is_product_device());
    assert!(!info.is_online());
    assert_eq!(info.last_handshake_at, None);

    let (resp, body) = raw(
        &api,
        SimHttpRequest::new("GET", &format!("/v1/devices/{DEMO_PHOTON_ID}"))
            .with_header("Authorization", &format!("Bearer {}", token.expose())),
    );
    assert_eq!(resp.status, 200);
    for field in [
        "id",
        "name",
        "last_heard",
        "last_handshake_at",
        "product_id",
        "connected",
        "online",
        "platform_id",
        "cellular",
    ] {
        assert!(body.get(field).is_some(), "missing {field}");
    }
}

#[test]
fn someone_elses_or_unknown_device_is_permission_denied() {
    let mut api = demo();
    let token = sign_in(&mut api, STRANGER_EMAIL, OTHER_PASSWORD);
    for id in [
        DEMO_PHOTON_ID,
        FOREIGN_PHOTON_ID,
        "aaaaaaaaaaaaaaaaaaaaaaaa",
    ] {
        assert_eq!(
            block_on(api.device(&token, id)).unwrap_err(),
            ApiError::NotYourDevice {
                device_id: id.into()
            }
        );
        let (resp, body) = raw(
            &api,
            SimHttpRequest::new("GET", &format!("/v1/devices/{id}"))
                .with_header("Authorization", &format!("Bearer {}", token.expose())),
        );
        assert_eq!(resp.status, 403);
        assert_eq!(body["ok"], false);
        assert_eq!(body["error"], "Permission Denied");
        assert!(
            body["info"]
                .as_str()
                .unwrap()
                .starts_with("I didn't recognize that device name or ID")
        );
    }
}

fn upload(id: &str, product_id: Option<u32>) -> KeyUpload {
    KeyUpload {
        device_id: id.into(),
        public_key_pem: pem(),
        algorithm: KeyAlgorithm::Rsa,
        product_id,
    }
}

#[test]
fn provisioning_is_allowed_for_the_owner_and_product_developers_only() {
    let mut api = demo();
    // Owner of a developer device.
    let owner = sign_in(&mut api, DEMO_EMAIL, DEMO_PASSWORD);
    block_on(api.send_public_key(&owner, &upload(DEMO_PHOTON_ID, None))).unwrap();
    assert!(
        api.cloud()
            .borrow()
            .device(DEMO_PHOTON_ID)
            .unwrap()
            .public_key
            .is_some()
    );

    // A Developer of the product, passing product_id.
    let developer = sign_in(&mut api, DEVELOPER_EMAIL, OTHER_PASSWORD);
    let info = block_on(api.device(&developer, PRODUCT_PHOTON_ID)).unwrap();
    assert!(info.is_product_device());
    assert_eq!(info.owner.as_deref(), Some(MFA_EMAIL));
    block_on(api.send_public_key(
        &developer,
        &upload(PRODUCT_PHOTON_ID, info.upload_product_id()),
    ))
    .unwrap();
    // Without product_id the developer is not the owner.
    assert_eq!(
        block_on(api.send_public_key(&developer, &upload(PRODUCT_PHOTON_ID, None))).unwrap_err(),
        ApiError::NotYourDevice {
            device_id: PRODUCT_PHOTON_ID.into()
        }
    );

    // A View-only member may look but not send.
    let viewer = sign_in(&mut api, VIEWER_EMAIL, OTHER_PASSWORD);
    assert!(block_on(api.device(&viewer, PRODUCT_PHOTON_ID)).is_ok());
    assert_eq!(
        block_on(api.send_public_key(&viewer, &upload(PRODUCT_PHOTON_ID, Some(DEMO_PRODUCT_ID))))
            .unwrap_err(),
        ApiError::ProductRoleMissing {
            product_id: DEMO_PRODUCT_ID
        }
    );

    // A stranger gets Permission Denied.
    let stranger = sign_in(&mut api, STRANGER_EMAIL, OTHER_PASSWORD);
    assert_eq!(
        block_on(api.send_public_key(&stranger, &upload(DEMO_PHOTON_ID, None))).unwrap_err(),
        ApiError::NotYourDevice {
            device_id: DEMO_PHOTON_ID.into()
        }
    );
    let (resp, body) = raw(
        &api,
        form_post(
            &format!("/v1/provisioning/{DEMO_PHOTON_ID}"),
            "deviceID=x&publicKey=y",
        )
        .with_header("Authorization", &format!("Bearer {}", stranger.expose())),
    );
    assert_eq!(resp.status, 403);
    assert_eq!(
        body,
        serde_json::json!({"ok": false, "error": "Permission Denied"})
    );
}

#[test]
fn provisioning_rejects_missing_or_malformed_keys() {
    let mut api = demo();
    let owner = sign_in(&mut api, DEMO_EMAIL, DEMO_PASSWORD);
    let auth = format!("Bearer {}", owner.expose());
    let target = format!("/v1/provisioning/{DEMO_PHOTON_ID}");
    let (resp, body) = raw(
        &api,
        form_post(&target, "deviceID=x").with_header("Authorization", &auth),
    );
    assert_eq!(
        (resp.status, body["error"].as_str()),
        (400, Some("No key provided"))
    );
    let (resp, body) = raw(
        &api,
        form_post(&target, "publicKey=not-a-key&algorithm=rsa").with_header("Authorization", &auth),
    );
    assert_eq!(resp.status, 400);
    assert!(body["error"].as_str().unwrap().starts_with("Key error"));
    let mut bad = upload(DEMO_PHOTON_ID, None);
    bad.algorithm = KeyAlgorithm::Ecc;
    assert!(matches!(
        block_on(api.send_public_key(&owner, &bad)),
        Err(ApiError::KeyRejected { .. })
    ));
    // particle-api-js sends JSON; that works too.
    let json_body = serde_json::json!({"deviceID": DEMO_PHOTON_ID, "publicKey": pem(), "filename": "particle-api"});
    let (resp, _) = raw(
        &api,
        SimHttpRequest::new("POST", &target)
            .with_header("Content-Type", "application/json")
            .with_header("Authorization", &auth)
            .with_body(&json_body.to_string()),
    );
    assert_eq!(resp.status, 200);
}

#[test]
fn preflight_allows_only_authorization_and_content_type() {
    let api = demo();
    let resp = api.cloud().borrow_mut().handle(
        &SimHttpRequest::new("OPTIONS", "/v1/devices")
            .with_header("Access-Control-Request-Method", "GET")
            .with_header("Access-Control-Request-Headers", "authorization"),
        T0,
    );
    assert_eq!(resp.status, 204);
    assert_eq!(resp.header("Access-Control-Allow-Origin"), Some("*"));
    assert_eq!(
        resp.header("Access-Control-Allow-Headers"),
        Some("Authorization, Content-Type")
    );
}

#[test]
fn forced_failures_map_to_rate_limit_and_server_errors() {
    let mut api = demo();
    let token = sign_in(&mut api, DEMO_EMAIL, DEMO_PASSWORD);
    api.cloud().borrow_mut().fail_next(429, 1);
    assert_eq!(
        block_on(api.device(&token, DEMO_PHOTON_ID)).unwrap_err(),
        ApiError::RateLimited
    );
    api.cloud().borrow_mut().fail_next(503, 2);
    assert_eq!(
        block_on(api.device(&token, DEMO_PHOTON_ID)).unwrap_err(),
        ApiError::Server { status: 503 }
    );
    assert_eq!(
        block_on(api.device(&token, DEMO_PHOTON_ID)).unwrap_err(),
        ApiError::Server { status: 503 }
    );
    assert!(block_on(api.device(&token, DEMO_PHOTON_ID)).is_ok());
    api.set_offline(true);
    assert!(matches!(
        block_on(api.device(&token, DEMO_PHOTON_ID)),
        Err(ApiError::Network { .. })
    ));
}

#[test]
fn waiting_for_an_offline_device_times_out_without_real_time() {
    let mut api = demo();
    let token = sign_in(&mut api, DEMO_EMAIL, DEMO_PASSWORD);
    let start = api.now_ms();
    let err = block_on(api.wait_until_online(&token, DEMO_PHOTON_ID, 30_000, 2_000)).unwrap_err();
    assert_eq!(
        err,
        ApiError::DeviceStayedOffline {
            device_id: DEMO_PHOTON_ID.into(),
            waited_s: 30
        }
    );
    assert_eq!(api.now_ms() - start, 30_000);
    // Permission errors end the wait at once.
    let stranger = sign_in(&mut api, STRANGER_EMAIL, OTHER_PASSWORD);
    assert!(matches!(
        block_on(api.wait_until_online(&stranger, DEMO_PHOTON_ID, 30_000, 2_000)),
        Err(ApiError::NotYourDevice { .. })
    ));
}

#[test]
fn a_pasted_token_is_checked_against_the_cloud() {
    let mut api = demo();
    let issued = api.cloud().borrow_mut().issue_token(DEMO_EMAIL, 3600, T0);
    let session = block_on(api.sign_in_with_token(&issued)).unwrap();
    assert_eq!(session.expires_in_s, None);
    assert_eq!(
        block_on(api.sign_in_with_token("ffffffffffffffffffffffffffffffffffffffff")).unwrap_err(),
        ApiError::TokenInvalid
    );
    assert_eq!(
        block_on(api.sign_in_with_token("not a token")).unwrap_err(),
        ApiError::TokenMalformed
    );
}
