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

// ----- product devices (issue 12, cloud item 1) ---------------------------------------------------

fn get(target: &str, token: &AccessToken) -> SimHttpRequest {
    SimHttpRequest::new("GET", target)
        .with_header("Authorization", &format!("Bearer {}", token.expose()))
}

#[test]
fn product_route_answers_the_team_as_the_device_route_answers_owners() {
    use key_rescue::cloud::ProductRef;
    let mut api = demo();
    let developer = sign_in(&mut api, DEVELOPER_EMAIL, OTHER_PASSWORD);
    let viewer = sign_in(&mut api, VIEWER_EMAIL, OTHER_PASSWORD);
    for product in [
        ProductRef::Id(DEMO_PRODUCT_ID),
        ProductRef::parse(DEMO_PRODUCT_SLUG).unwrap(),
    ] {
        for token in [&developer, &viewer] {
            let info = block_on(api.product_device(token, &product, PRODUCT_PHOTON_ID)).unwrap();
            assert_eq!(info.id, PRODUCT_PHOTON_ID);
            assert_eq!(info.product_id, DEMO_PRODUCT_ID);
            assert_eq!(info.owner.as_deref(), Some(MFA_EMAIL));
        }
    }
    // The same body as /v1/devices/:id gives.
    let (via_product, _) = raw(
        &api,
        get(
            &format!("/v1/products/{DEMO_PRODUCT_ID}/devices/{PRODUCT_PHOTON_ID}"),
            &developer,
        ),
    );
    let (via_device, _) = raw(
        &api,
        get(&format!("/v1/devices/{PRODUCT_PHOTON_ID}"), &developer),
    );
    assert_eq!(
        (via_product.status, &via_product.body),
        (200, &via_device.body)
    );

    // A device the product does not have: 404, "not found" (particle-cli's e2e against production).
    for (product, id) in [
        (OTHER_PRODUCT_ID, PRODUCT_PHOTON_ID),
        (DEMO_PRODUCT_ID, DEMO_PHOTON_ID),
        (DEMO_PRODUCT_ID, "000000000000000000000001"),
    ] {
        let (resp, body) = raw(
            &api,
            get(&format!("/v1/products/{product}/devices/{id}"), &developer),
        );
        assert_eq!(resp.status, 404, "{product}/{id}");
        assert_eq!(body["ok"], false);
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .contains("not found"),
            "{body}"
        );
        assert_eq!(
            block_on(api.product_device(&developer, &ProductRef::Id(product), id)).unwrap_err(),
            ApiError::NotInProduct {
                device_id: id.into(),
                product: product.to_string()
            }
        );
    }
    // Not on the team (even the device's owner, or the owner of another device), or no such
    // product: "Permission denied".
    let demo_owner = sign_in(&mut api, DEMO_EMAIL, DEMO_PASSWORD);
    for (product, token) in [
        (DEMO_PRODUCT_ID.to_string(), &demo_owner),
        ("999".to_owned(), &developer),
        ("no-such-product".to_owned(), &developer),
    ] {
        let (resp, body) = raw(
            &api,
            get(
                &format!("/v1/products/{product}/devices/{PRODUCT_PHOTON_ID}"),
                token,
            ),
        );
        assert_eq!(resp.status, 404, "{product}");
        assert_eq!(body["error"], "Permission denied");
        assert_eq!(
            block_on(api.product_device(
                token,
                &ProductRef::parse(&product).unwrap(),
                PRODUCT_PHOTON_ID
            ))
            .unwrap_err(),
            ApiError::ProductNotVisible { product }
        );
    }
    // Token errors as on every Bearer route.
    let (resp, body) = raw(
        &api,
        SimHttpRequest::new(
            "GET",
            &format!("/v1/products/{DEMO_PRODUCT_ID}/devices/{PRODUCT_PHOTON_ID}"),
        ),
    );
    assert_eq!(
        (resp.status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
}

#[test]
fn the_device_route_can_refuse_team_members_as_production_may() {
    use key_rescue::cloud::ProductRef;
    let mut api = demo();
    api.cloud()
        .borrow_mut()
        .set_device_route_answers_team(false);
    let developer = sign_in(&mut api, DEVELOPER_EMAIL, OTHER_PASSWORD);
    assert_eq!(
        block_on(api.device(&developer, PRODUCT_PHOTON_ID)).unwrap_err(),
        ApiError::NotYourDevice {
            device_id: PRODUCT_PHOTON_ID.into()
        }
    );
    let product = ProductRef::Id(DEMO_PRODUCT_ID);
    assert!(block_on(api.device_in(&developer, Some(&product), PRODUCT_PHOTON_ID)).is_ok());
}

// ----- /oauth/token edge cases (issue 12, cloud item 2; OAUTH lib/grant.js, lib/error.js) ---------

fn assert_no_store(resp: &SimHttpResponse) {
    assert_eq!(resp.header("Cache-Control"), Some("no-store"), "{resp:?}");
    assert_eq!(resp.header("Pragma"), Some("no-cache"), "{resp:?}");
}

const CLIENT: &str = "client_id=particle&client_secret=particle";

#[test]
fn an_empty_one_time_code_is_an_invalid_request() {
    let mut api = demo();
    let Err(ApiError::MfaRequired { mfa_token }) = block_on(api.sign_in(MFA_EMAIL, MFA_PASSWORD))
    else {
        panic!("MFA account")
    };
    for body in [
        format!("grant_type=urn%3Acustom%3Amfa-otp&mfa_token={mfa_token}&otp=&{CLIENT}"),
        format!("grant_type=urn%3Acustom%3Amfa-otp&mfa_token={mfa_token}&{CLIENT}"),
        format!("grant_type=urn%3Acustom%3Amfa-otp&mfa_token=&otp=123456&{CLIENT}"),
    ] {
        let (resp, json) = raw(&api, form_post("/oauth/token", &body));
        assert_eq!(resp.status, 400, "{body}");
        assert_eq!(json["error"], "invalid_request");
        assert_eq!(
            json["error_description"],
            "You must provide otp and mfa token."
        );
        assert_no_store(&resp);
    }
    // The code still works afterwards: the empty ones were not tries.
    assert!(block_on(api.sign_in_otp(&mfa_token, MFA_OTP)).is_ok());
}

#[test]
fn an_empty_or_missing_password_is_invalid_client_and_never_locks_the_account() {
    let mut api = demo();
    for _ in 0..MAX_FAILED_SIGN_INS_PLUS {
        for body in [
            format!("grant_type=password&username=demo%40example.com&password=&{CLIENT}"),
            format!("grant_type=password&username=demo%40example.com&{CLIENT}"),
            format!("grant_type=password&username=&password=demo-password&{CLIENT}"),
        ] {
            let (resp, json) = raw(&api, form_post("/oauth/token", &body));
            assert_eq!(resp.status, 400, "{body}");
            assert_eq!(json["error"], "invalid_client");
            assert_eq!(
                json["error_description"],
                "Missing parameters. \"username\" and \"password\" are required"
            );
            assert_eq!(
                resp.header("WWW-Authenticate"),
                Some("Basic realm=\"Service\"")
            );
            assert_no_store(&resp);
        }
    }
    assert!(block_on(api.sign_in(DEMO_EMAIL, DEMO_PASSWORD)).is_ok());
}

const MAX_FAILED_SIGN_INS_PLUS: u32 = key_rescue::sim::cloud::MAX_FAILED_SIGN_INS + 2;

#[test]
fn every_oauth_error_says_no_store() {
    let api = demo();
    let oauth_errors = [
        form_post(
            "/oauth/token",
            &format!("grant_type=password&username=demo%40example.com&password=x&{CLIENT}"),
        ),
        form_post("/oauth/token", "grant_type=password&username=a&password=b"),
        form_post(
            "/oauth/token",
            "grant_type=password&username=a&password=b&client_id=x&client_secret=y",
        ),
        form_post("/oauth/token", &format!("grant_type=implicit&{CLIENT}")),
        form_post(
            "/oauth/token",
            &format!(
                "grant_type=password&username={SSO}&password=password&{CLIENT}",
                SSO = "sso%40example.com"
            ),
        ),
        SimHttpRequest::new("POST", "/oauth/token").with_body("grant_type=password"),
        SimHttpRequest::new("GET", "/v1/devices"),
        SimHttpRequest::new("GET", "/v1/devices").with_header("Authorization", "Bearer nope"),
        SimHttpRequest::new("GET", "/v1/devices").with_header("Authorization", "Basic"),
    ];
    for req in oauth_errors {
        let (resp, json) = raw(&api, req.clone());
        assert!(resp.status >= 400, "{req:?}");
        assert!(json["error_description"].is_string(), "{req:?}: {json}");
        assert_no_store(&resp);
    }
    let (mfa, _) = raw(
        &api,
        form_post(
            "/oauth/token",
            &format!(
                "grant_type=password&username=mfa%40example.com&password=mfa-password&{CLIENT}"
            ),
        ),
    );
    assert_eq!(mfa.status, 403);
    assert_no_store(&mfa);
    // API routes' own errors are not OAuth errors.
    let mut api = api;
    let token = sign_in(&mut api, STRANGER_EMAIL, OTHER_PASSWORD);
    let (resp, _) = raw(&api, get(&format!("/v1/devices/{DEMO_PHOTON_ID}"), &token));
    assert_eq!(resp.status, 403);
    assert_eq!(resp.header("Cache-Control"), None);
}

#[test]
fn the_grant_type_is_checked_before_the_client() {
    let api = demo();
    let (resp, json) = raw(
        &api,
        form_post(
            "/oauth/token",
            "username=a&password=b&client_id=x&client_secret=y",
        ),
    );
    assert_eq!(resp.status, 400);
    assert_eq!(json["error"], "invalid_request");
    assert_eq!(
        json["error_description"],
        "Invalid or missing grant_type parameter"
    );
    let (resp, json) = raw(
        &api,
        form_post(
            "/oauth/token",
            "grant_type=password&username=a&password=b&client_id=particle",
        ),
    );
    assert_eq!(resp.status, 400);
    assert_eq!(json["error_description"], "Missing client_secret parameter");
}

// ----- empty fields are refused before sending (issue 12, cloud item 3) --------------------------

#[test]
fn empty_sign_in_fields_never_reach_the_cloud() {
    use key_rescue::cloud::InputField;
    let mut api = demo();
    api.set_offline(true); // anything sent would fail as a network error
    let missing = |field| ApiError::MissingInput { field };
    assert_eq!(
        block_on(api.sign_in("  ", DEMO_PASSWORD)).unwrap_err(),
        missing(InputField::Email)
    );
    assert_eq!(
        block_on(api.sign_in(DEMO_EMAIL, "")).unwrap_err(),
        missing(InputField::Password)
    );
    assert_eq!(
        block_on(api.sign_in_otp("t", " ")).unwrap_err(),
        missing(InputField::OneTimeCode)
    );
    assert_eq!(
        block_on(api.sign_in_with_token("\n")).unwrap_err(),
        missing(InputField::AccessToken)
    );
    // A password of spaces is a password: it is sent as typed.
    assert!(matches!(
        block_on(api.sign_in(DEMO_EMAIL, "   ")).unwrap_err(),
        ApiError::Network { .. }
    ));
}
