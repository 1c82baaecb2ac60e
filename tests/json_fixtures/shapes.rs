//! Shared by `cloud_bodies.rs` (natively, serde_json) and `web_json.rs` (in the browser,
//! `JSON.parse` + serde-wasm-bindgen): the texts src/json.rs refused, and every response shape of
//! shared/reference/cloud-api.md read through the client's parsers.
#![allow(dead_code)]

use key_rescue::cloud::body::{
    self, ErrorBody, KeyUploadBody, OkBody, TeamBody, TokenBody, UserBody,
};
use key_rescue::cloud::{
    ApiError, ApiResponse, DeviceInfo, ProductRef, SignInStep, parse_device, parse_devices,
    parse_product_device, parse_send_public_key, parse_sign_in, parse_sign_out, parse_team_role,
    parse_user,
};

/// The texts src/json.rs refused (its own tests' and response.rs's), captured before it was
/// deleted: tests/json_fixtures/refused.txt, one JSON string literal a line.
pub fn refused_texts() -> Vec<String> {
    include_str!("refused.txt")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| serde_json::from_str(l).expect("a JSON string literal"))
        .collect()
}

/// How each body type read `text`: `Err` for refused, `Ok(true)` for its default value (the
/// all-optional types), `Ok(false)` for anything else.
pub fn readings(text: &str) -> Vec<(&'static str, Result<bool, String>)> {
    fn one<T: serde::de::DeserializeOwned>(text: &str) -> Result<bool, String> {
        body::read::<T>(text).map(|_| false)
    }
    vec![
        ("DeviceInfo", one::<DeviceInfo>(text)),
        ("Vec<DeviceInfo>", one::<Vec<DeviceInfo>>(text)),
        ("TokenBody", one::<TokenBody>(text)),
        ("UserBody", one::<UserBody>(text)),
        ("TeamBody", one::<TeamBody>(text)),
        ("OkBody", one::<OkBody>(text)),
        (
            "ErrorBody",
            body::read::<ErrorBody>(text).map(|b| b == ErrorBody::default()),
        ),
        (
            "KeyUploadBody",
            body::read::<KeyUploadBody>(text).map(|b| b == KeyUploadBody::default()),
        ),
    ]
}

/// Whether `text` is JSON at all, at any depth: serde_json reads it as a `Value`, or refuses it
/// only for nesting deeper than its limit (128), which members a type skips do not have.
pub fn is_json(text: &str) -> bool {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(_) => true,
        Err(e) => e.to_string().starts_with("recursion limit exceeded"),
    }
}

/// A text the old parser refused: refused by every body type. The two that are JSON, refused
/// there only for nesting deeper than 127, are refused too, except by the all-optional types when
/// the nesting is in a member they ignore: those read as their empty value, the same as refused for
/// their readers (an error body reads as empty when it cannot be read).
pub fn assert_refused(text: &str) {
    let deep = is_json(text);
    for (ty, reading) in readings(text) {
        if deep {
            assert!(
                reading.is_err() || reading == Ok(true),
                "{ty} read {text:?} as {reading:?}"
            );
        } else {
            assert!(reading.is_err(), "{ty} read {text:?}");
        }
    }
}

const ID: &str = "0123456789abcdef01234567";

/// Every response shape of cloud-api.md (sections 2 to 5), through the client's parsers.
pub fn check_api_shapes() {
    let r = |status: u16, body: &str| ApiResponse::new(status, body);
    // 2. The token grant, MFA and its errors.
    let token = r#"{"token_type":"bearer","access_token":"0123456789abcdef0123456789abcdef01234567","expires_in":3600,"refresh_token":"r"}"#;
    let session = parse_sign_in(&r(200, token), SignInStep::Password).unwrap();
    assert_eq!(session.expires_in_s, Some(3600));
    let mfa = r#"{"mfa_token":"7b1e3d5c-0000-4000-8000-000000000000","error":"mfa_required","error_description":"Multi-factor authentication required"}"#;
    assert_eq!(
        parse_sign_in(&r(403, mfa), SignInStep::Password),
        Err(ApiError::MfaRequired {
            mfa_token: "7b1e3d5c-0000-4000-8000-000000000000".into()
        })
    );
    let oauth = |error: &str, description: &str| {
        format!(r#"{{"error":"{error}","error_description":"{description}"}}"#)
    };
    assert_eq!(
        parse_sign_in(
            &r(400, &oauth("invalid_grant", "User credentials are invalid")),
            SignInStep::Password
        ),
        Err(ApiError::WrongPassword)
    );
    assert_eq!(
        parse_sign_in(
            &r(401, &oauth("invalid_token", "Could not validate OTP.")),
            SignInStep::OneTimeCode
        ),
        Err(ApiError::WrongOtp)
    );
    assert_eq!(
        parse_sign_in(&r(403, &oauth("sso_user", "x")), SignInStep::Password),
        Err(ApiError::SingleSignOn)
    );
    assert_eq!(
        parse_sign_in(
            &r(429, &oauth("rate_limit_exceeded", "x")),
            SignInStep::Password
        ),
        Err(ApiError::RateLimited)
    );
    assert!(matches!(
        parse_sign_in(
            &r(
                400,
                &oauth("invalid_client", "Client credentials are invalid")
            ),
            SignInStep::Password
        ),
        Err(ApiError::BadRequest { status: 400, .. })
    ));
    // 3. Errors on Bearer routes.
    let expired = oauth("invalid_token", "The access token provided has expired.");
    assert_eq!(parse_user(&r(401, &expired)), Err(ApiError::TokenExpired));
    let unknown = oauth("invalid_token", "The access token provided is invalid.");
    assert_eq!(parse_user(&r(401, &unknown)), Err(ApiError::TokenInvalid));
    let missing = oauth("invalid_request", "The access token was not found");
    assert_eq!(parse_user(&r(400, &missing)), Err(ApiError::TokenInvalid));
    assert_eq!(parse_sign_out(&r(401, &unknown)), Ok(()));
    assert_eq!(parse_sign_out(&r(200, r#"{"ok":true}"#)), Ok(()));
    // 4. The key upload.
    assert_eq!(
        parse_send_public_key(&r(200, r#"{"ok":true}"#), ID, None),
        Ok(())
    );
    assert_eq!(
        parse_send_public_key(
            &r(403, r#"{"ok":false,"error":"Permission Denied"}"#),
            ID,
            None
        ),
        Err(ApiError::NotYourDevice {
            device_id: ID.into()
        })
    );
    assert!(matches!(
        parse_send_public_key(&r(400, r#"{"error":"No key provided"}"#), ID, None),
        Err(ApiError::KeyRejected { .. })
    ));
    // 5. Devices: the Photon example, with every field cloud-api.md lists.
    let device = format!(
        r#"{{"id":"{ID}","name":"sim_012345","last_app":null,"last_ip_address":"127.0.0.1","last_heard":"2020-01-20T02:53:29.854Z","last_handshake_at":"2020-01-20T02:53:29.854Z","product_id":6,"connected":false,"online":false,"platform_id":6,"cellular":false,"notes":null,"status":"normal","serial_number":null,"system_firmware_version":"1.4.4","current_build_target":"1.4.4","default_build_target":"1.4.4","variables":{{}},"functions":[],"firmware_updates_enabled":true,"firmware_updates_forced":false}}"#
    );
    let info = parse_device(&r(200, &device), ID).unwrap();
    assert_eq!(
        (info.product_id, info.platform_id, info.is_online()),
        (6, 6, false)
    );
    assert_eq!(info.system_firmware_version.as_deref(), Some("1.4.4"));
    assert_eq!(
        parse_devices(&r(200, &format!("[{device},{device}]"))).map(|l| l.len()),
        Ok(2)
    );
    assert_eq!(parse_devices(&r(200, "[]")), Ok(Vec::new()));
    let denied = r#"{"ok":false,"error":"Permission Denied","info":"I didn't recognize that device name or ID, try opening https://api.particle.io/v1/devices?access_token=x"}"#;
    assert_eq!(
        parse_device(&r(403, denied), ID),
        Err(ApiError::NotYourDevice {
            device_id: ID.into()
        })
    );
    let product = ProductRef::parse("4242").unwrap();
    let product_device = device.replace(r#""product_id":6"#, r#""product_id":4242,"owner":null"#);
    assert_eq!(
        parse_product_device(&r(200, &product_device), &product, ID).map(|d| d.product_id),
        Ok(4242)
    );
    // The two routes cloud-api.md does not cover, in the shapes the client expects.
    assert_eq!(
        parse_user(&r(200, r#"{"username":"a@b.c"}"#)),
        Ok("a@b.c".into())
    );
    assert_eq!(
        parse_team_role(
            &r(
                200,
                r#"{"ok":true,"team":[{"username":"a@b.c","role":{"name":"Developer"}}]}"#
            ),
            4242,
            "a@b.c"
        ),
        Ok(Some("Developer".into()))
    );
}
