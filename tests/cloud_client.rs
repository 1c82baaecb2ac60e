//! The Particle API client without any network: request building and response parsing from JSON
//! fixtures taken from cloud-api.md (each status and error body of the contract).

use key_rescue::cloud::{
    AccessToken, ApiBase, ApiError, ApiRequest, ApiResponse, InputField, KeyAlgorithm, KeyUpload,
    MAX_CLOUD_TEXT_CHARS, Method, ProductRef, SignInStep, form_decode, parse_device, parse_devices,
    parse_product_device, parse_send_public_key, parse_sign_in, parse_sign_out,
};

const TOKEN: &str = "0123456789abcdef0123456789abcdef01234567";
const ID: &str = "0123456789ABCDEF01234567";
const PEM: &str = "-----BEGIN PUBLIC KEY-----\nMIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC\n-----END PUBLIC KEY-----\n";

fn token() -> AccessToken {
    AccessToken::new(TOKEN)
}

fn resp(status: u16, body: &str) -> ApiResponse {
    ApiResponse::new(status, body)
}

fn fields(req: &ApiRequest) -> Vec<(String, String)> {
    form_decode(req.body.as_deref().unwrap_or(""))
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Only `Authorization` and `Content-Type` ever leave the page (cloud-api.md 6).
fn assert_cors_safe(req: &ApiRequest) {
    for (name, _) in &req.headers {
        assert!(
            matches!(*name, "Authorization" | "Content-Type"),
            "header {name} would fail Particle's preflight"
        );
    }
}

// ----- requests ----------------------------------------------------------------------------------

#[test]
fn password_sign_in_is_a_form_post_without_authorization() {
    let req = ApiRequest::sign_in(" maker@example.com ", "p@ss word&=");
    assert_eq!(req.method, Method::Post);
    assert_eq!(req.path, "/oauth/token");
    assert_eq!(
        req.header("Content-Type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(req.header("Authorization"), None, "simple CORS request");
    assert_cors_safe(&req);
    let f = fields(&req);
    assert_eq!(field(&f, "grant_type"), Some("password"));
    assert_eq!(field(&f, "username"), Some("maker@example.com"));
    assert_eq!(field(&f, "password"), Some("p@ss word&="));
    assert_eq!(field(&f, "client_id"), Some("particle"));
    assert_eq!(field(&f, "client_secret"), Some("particle"));
    assert_eq!(field(&f, "expires_in"), Some("3600"));
    assert!(
        req.body
            .as_deref()
            .unwrap()
            .contains("password=p%40ss+word%26%3D")
    );
}

#[test]
fn otp_step_sends_the_mfa_token_and_code() {
    let req = ApiRequest::sign_in_otp("7f2c-uuid", " 123456 ");
    let f = fields(&req);
    assert_eq!(field(&f, "grant_type"), Some("urn:custom:mfa-otp"));
    assert_eq!(field(&f, "mfa_token"), Some("7f2c-uuid"));
    assert_eq!(field(&f, "otp"), Some("123456"));
    assert_eq!(field(&f, "client_id"), Some("particle"));
    assert_cors_safe(&req);
}

#[test]
fn bearer_routes_carry_the_token_in_the_header_only() {
    for (req, method, path) in [
        (
            ApiRequest::device(&token(), ID),
            Method::Get,
            format!("/v1/devices/{ID}"),
        ),
        (
            ApiRequest::devices(&token()),
            Method::Get,
            "/v1/devices".into(),
        ),
        (
            ApiRequest::sign_out(&token()),
            Method::Delete,
            "/v1/access_tokens/current".into(),
        ),
    ] {
        assert_eq!(req.method, method);
        assert_eq!(req.path, path);
        assert_eq!(
            req.header("Authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        assert_eq!(req.body, None);
        assert_cors_safe(&req);
    }
}

#[test]
fn a_typed_device_id_cannot_change_the_route() {
    let req = ApiRequest::device(&token(), "../oauth/token?x=1");
    assert_eq!(req.path, "/v1/devices/..%2Foauth%2Ftoken%3Fx%3D1");
}

#[test]
fn key_upload_is_form_encoded_like_the_cli() {
    let upload = KeyUpload {
        device_id: ID.into(),
        public_key_pem: PEM.into(),
        algorithm: KeyAlgorithm::Rsa,
        product_id: None,
    };
    let req = ApiRequest::send_public_key(&token(), &upload, 1_589_295_982_289);
    assert_eq!(req.method, Method::Post);
    assert_eq!(req.path, "/v1/provisioning/0123456789abcdef01234567");
    assert_eq!(
        req.header("Authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_cors_safe(&req);
    let f = fields(&req);
    let names: Vec<&str> = f.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["deviceID", "publicKey", "filename", "order", "algorithm"]
    );
    assert_eq!(field(&f, "deviceID"), Some("0123456789abcdef01234567"));
    assert_eq!(field(&f, "publicKey"), Some(PEM));
    assert_eq!(field(&f, "filename"), Some("cli"));
    assert_eq!(field(&f, "order"), Some("manual_1589295982289"));
    assert_eq!(field(&f, "algorithm"), Some("rsa"));

    let product = KeyUpload {
        algorithm: KeyAlgorithm::Ecc,
        product_id: Some(12345),
        ..upload
    };
    let f = fields(&ApiRequest::send_public_key(&token(), &product, 1));
    assert_eq!(field(&f, "algorithm"), Some("ecc"));
    assert_eq!(field(&f, "product_id"), Some("12345"));
}

#[test]
fn secrets_never_reach_debug_output() {
    let shown = format!("{:?}", token());
    assert!(!shown.contains(TOKEN), "{shown}");
    let shown = format!("{:?}", ApiRequest::device(&token(), ID));
    assert!(!shown.contains(TOKEN), "{shown}");
    let shown = format!("{:?}", ApiRequest::sign_in("a@b.c", "hunter2-secret"));
    assert!(!shown.contains("hunter2"), "{shown}");
}

#[test]
fn pasted_tokens_are_checked_before_use() {
    assert_eq!(
        AccessToken::from_pasted(&format!("  {TOKEN}\n"))
            .unwrap()
            .expose(),
        TOKEN
    );
    for bad in [
        "",
        "short",
        "Bearer 0123456789abcdef0123456789abcdef",
        "abc def 0123456789abcdef0123",
    ] {
        assert_eq!(
            AccessToken::from_pasted(bad),
            Err(ApiError::TokenMalformed),
            "{bad:?}"
        );
    }
}

#[test]
fn only_particle_or_loopback_bases_are_allowed() {
    assert!(
        ApiBase::parse("https://api.particle.io")
            .unwrap()
            .is_production()
    );
    assert_eq!(
        ApiBase::parse("http://127.0.0.1:8081/").unwrap().as_str(),
        "http://127.0.0.1:8081"
    );
    for bad in [
        "https://evil.example",
        "http://127.0.0.1@evil.example",
        "http://10.0.0.1:80",
    ] {
        assert!(ApiBase::parse(bad).is_err(), "{bad}");
    }
}

// ----- /oauth/token answers ----------------------------------------------------------------------

#[test]
fn sign_in_answers_map_to_sessions_and_errors() {
    let ok = resp(
        200,
        r#"{"token_type":"bearer","access_token":"254406f79c1999af65a7df4388971354f85cfee9","expires_in":3600,"refresh_token":"b5b901e8760164e134199bc2c3dd1d228acf2d90"}"#,
    );
    let session = parse_sign_in(&ok, SignInStep::Password).unwrap();
    assert_eq!(
        session.token.expose(),
        "254406f79c1999af65a7df4388971354f85cfee9"
    );
    assert_eq!(session.expires_in_s, Some(3600));

    let check = |status, body: &str, expect: ApiError| {
        assert_eq!(
            parse_sign_in(&resp(status, body), SignInStep::Password).unwrap_err(),
            expect,
            "{status} {body}"
        );
    };
    check(
        400,
        r#"{"error":"invalid_grant","error_description":"User credentials are invalid"}"#,
        ApiError::WrongPassword,
    );
    check(
        403,
        r#"{"mfa_token":"0b3c5d1e-9f7a-4c2b-8e6d-1a2b3c4d5e6f","error":"mfa_required","error_description":"Multi-factor authentication required"}"#,
        ApiError::MfaRequired {
            mfa_token: "0b3c5d1e-9f7a-4c2b-8e6d-1a2b3c4d5e6f".into(),
        },
    );
    check(
        403,
        r#"{"error":"sso_user","error_description":"single sign-on"}"#,
        ApiError::SingleSignOn,
    );
    check(
        429,
        r#"{"error":"rate_limit_exceeded","error_description":""}"#,
        ApiError::RateLimited,
    );
    check(
        503,
        r#"{"error":"server_error","error_description":"Server error"}"#,
        ApiError::Server { status: 503 },
    );
    assert!(matches!(
        parse_sign_in(
            &resp(
                400,
                r#"{"error":"invalid_client","error_description":"Client credentials are invalid"}"#
            ),
            SignInStep::Password
        ),
        Err(ApiError::BadRequest { status: 400, .. })
    ));
    assert!(matches!(
        parse_sign_in(&resp(200, "<html>maintenance</html>"), SignInStep::Password),
        Err(ApiError::Unexpected { status: 200, .. })
    ));
}

#[test]
fn any_4xx_on_the_code_step_is_a_wrong_code() {
    for (status, body) in [
        (
            401,
            r#"{"error":"invalid_token","error_description":"Could not validate OTP."}"#,
        ),
        (
            400,
            r#"{"error":"invalid_request","error_description":"You must provide otp and mfa token."}"#,
        ),
        (403, "{}"),
    ] {
        assert_eq!(
            parse_sign_in(&resp(status, body), SignInStep::OneTimeCode).unwrap_err(),
            ApiError::WrongOtp
        );
    }
    assert_eq!(
        parse_sign_in(&resp(429, "{}"), SignInStep::OneTimeCode).unwrap_err(),
        ApiError::RateLimited
    );
}

// ----- Bearer routes -----------------------------------------------------------------------------

#[test]
fn token_errors_say_sign_in_again() {
    for (status, body, expect) in [
        (
            401,
            r#"{"error":"invalid_token","error_description":"The access token provided has expired."}"#,
            ApiError::TokenExpired,
        ),
        (
            401,
            r#"{"error":"invalid_token","error_description":"The access token provided is invalid."}"#,
            ApiError::TokenInvalid,
        ),
        (
            400,
            r#"{"error":"invalid_request","error_description":"The access token was not found"}"#,
            ApiError::TokenInvalid,
        ),
    ] {
        let err = parse_device(&resp(status, body), ID).unwrap_err();
        assert_eq!(err, expect);
        assert!(err.needs_sign_in());
    }
}

#[test]
fn a_device_answer_gives_owner_product_platform_and_online() {
    let body = r#"{"id":"0123456789abcdef01234567","name":"garage","last_app":null,
        "last_ip_address":"1.2.3.4","last_heard":"2020-01-20T02:53:29.854Z",
        "last_handshake_at":"2020-01-20T02:50:00.000Z","product_id":6,"connected":false,
        "platform_id":6,"cellular":false,"notes":null,"status":"normal",
        "serial_number":"PH-123","system_firmware_version":"1.4.4","variables":{},"functions":[]}"#;
    let info = parse_device(&resp(200, body), ID).unwrap();
    assert_eq!(info.id, "0123456789abcdef01234567");
    assert_eq!(info.platform_id, 6);
    assert!(!info.is_product_device());
    assert_eq!(info.upload_product_id(), None);
    assert!(!info.is_online());
    assert_eq!(
        info.last_handshake_at.as_deref(),
        Some("2020-01-20T02:50:00.000Z")
    );

    let product = r#"{"id":"e00fce68aaaaaaaaaaaaaaaa","product_id":12345,"platform_id":6,
        "online":true,"owner":"maker@example.com"}"#;
    let info = parse_device(&resp(200, product), "e00fce68aaaaaaaaaaaaaaaa").unwrap();
    assert!(info.is_product_device());
    assert_eq!(info.upload_product_id(), Some(12345));
    assert!(info.is_online());
    assert_eq!(info.owner.as_deref(), Some("maker@example.com"));

    let list = parse_devices(&resp(200, &format!("[{body}]"))).unwrap();
    assert_eq!(list.len(), 1);
}

#[test]
fn an_answer_about_another_device_is_refused() {
    let other = r#"{"id":"e00fce68aaaaaaaaaaaaaaaa","product_id":6,"platform_id":6,"online":true}"#;
    assert_eq!(
        parse_device(&resp(200, other), ID).unwrap_err(),
        ApiError::WrongDeviceAnswered {
            asked: ID.to_ascii_lowercase(),
            answered: "e00fce68aaaaaaaaaaaaaaaa".into()
        }
    );
    let product = ProductRef::parse("12345").unwrap();
    assert!(matches!(
        parse_product_device(&resp(200, other), &product, ID),
        Err(ApiError::WrongDeviceAnswered { .. })
    ));
    // Ids compare without case: the cloud writes lower case, a support link may not.
    let same = other.replace("e00fce68aaaaaaaaaaaaaaaa", "0123456789abcdef01234567");
    assert!(parse_device(&resp(200, &same), &ID.to_ascii_uppercase()).is_ok());
    // A hostile id is capped like any cloud text.
    let long = other.replace("e00fce68aaaaaaaaaaaaaaaa", &"a".repeat(5000));
    let Err(ApiError::WrongDeviceAnswered { answered, .. }) = parse_device(&resp(200, &long), ID)
    else {
        panic!("expected WrongDeviceAnswered");
    };
    assert!(answered.chars().count() <= MAX_CLOUD_TEXT_CHARS + 1);
}

#[test]
fn permission_denied_means_not_your_device_also_for_unknown_ids() {
    let body = r#"{"ok":false,"error":"Permission Denied","info":"I didn't recognize that device name or ID, try opening https://api.particle.io/v1/devices?access_token=x"}"#;
    assert_eq!(
        parse_device(&resp(403, body), ID).unwrap_err(),
        ApiError::NotYourDevice {
            device_id: "0123456789abcdef01234567".into()
        }
    );
    assert!(matches!(
        parse_device(&resp(200, r#"{"ok":true}"#), ID),
        Err(ApiError::Unexpected { .. })
    ));
    assert_eq!(
        parse_device(&resp(502, "<html>bad gateway</html>"), ID).unwrap_err(),
        ApiError::Server { status: 502 }
    );
    assert_eq!(
        parse_devices(&resp(429, "")).unwrap_err(),
        ApiError::RateLimited
    );
}

#[test]
fn key_upload_answers() {
    assert_eq!(
        parse_send_public_key(&resp(200, r#"{"ok":true}"#), ID, None),
        Ok(())
    );
    assert_eq!(parse_send_public_key(&resp(201, ""), ID, None), Ok(()));
    let denied = r#"{"ok":false,"error":"Permission Denied"}"#;
    assert_eq!(
        parse_send_public_key(&resp(403, denied), ID, None).unwrap_err(),
        ApiError::NotYourDevice {
            device_id: "0123456789abcdef01234567".into()
        }
    );
    assert_eq!(
        parse_send_public_key(&resp(403, denied), ID, Some(12345)).unwrap_err(),
        ApiError::ProductRoleMissing { product_id: 12345 }
    );
    assert!(matches!(
        parse_send_public_key(
            &resp(400, r#"{"ok":false,"error":"No key provided"}"#),
            ID,
            None
        ),
        Err(ApiError::KeyRejected { .. })
    ));
    assert_eq!(
        parse_send_public_key(
            &resp(401, r#"{"error":"invalid_token","error_description":"The access token provided has expired."}"#),
            ID,
            None
        )
        .unwrap_err(),
        ApiError::TokenExpired
    );
}

#[test]
fn sign_out_of_a_dead_token_is_fine() {
    assert_eq!(parse_sign_out(&resp(200, r#"{"ok":true}"#)), Ok(()));
    assert_eq!(
        parse_sign_out(&resp(401, r#"{"error":"invalid_token"}"#)),
        Ok(())
    );
    assert_eq!(
        parse_sign_out(&resp(503, "")),
        Err(ApiError::Server { status: 503 })
    );
}

#[test]
fn every_error_reads_well_and_has_a_hint() {
    let all = [
        ApiError::WrongPassword,
        ApiError::MfaRequired {
            mfa_token: "t".into(),
        },
        ApiError::WrongOtp,
        ApiError::SingleSignOn,
        ApiError::TokenMalformed,
        ApiError::TokenExpired,
        ApiError::TokenInvalid,
        ApiError::NotYourDevice {
            device_id: "x".into(),
        },
        ApiError::ProductRoleMissing { product_id: 1 },
        ApiError::KeyRejected { detail: "d".into() },
        ApiError::RateLimited,
        ApiError::Network {
            message: "m".into(),
        },
        ApiError::Server { status: 500 },
        ApiError::DeviceStayedOffline {
            device_id: "x".into(),
            waited_s: 60,
        },
        ApiError::BadRequest {
            status: 400,
            detail: "d".into(),
        },
        ApiError::Unexpected {
            status: 200,
            detail: "d".into(),
        },
        ApiError::MissingInput {
            field: InputField::Email,
        },
        ApiError::MissingInput {
            field: InputField::Password,
        },
        ApiError::MissingInput {
            field: InputField::OneTimeCode,
        },
        ApiError::MissingInput {
            field: InputField::AccessToken,
        },
        ApiError::NotInProduct {
            device_id: "x".into(),
            product: "p".into(),
        },
        ApiError::ProductNotVisible {
            product: "p".into(),
        },
    ];
    for e in all {
        let text = e.to_string();
        assert!(text.starts_with(|c: char| c.is_lowercase()), "{text}");
        assert!(!text.ends_with('.'), "{text}");
        assert!(e.hint().ends_with('.'), "{}", e.hint());
    }
}

#[test]
fn team_roles_are_read_and_judged() {
    use key_rescue::cloud::{ApiResponse, parse_team_role, role_may_send_keys};
    let team = ApiResponse::new(
        200,
        r#"{"ok":true,"team":[{"username":"dev@example.com","role":{"name":"Developer"}},
            {"username":"Viewer@Example.com","role":{"name":"View-only"}}]}"#,
    );
    let role = |user| parse_team_role(&team, 7, user).unwrap();
    assert_eq!(role("dev@example.com").as_deref(), Some("Developer"));
    assert_eq!(role("viewer@example.com").as_deref(), Some("View-only"));
    assert_eq!(role("stranger@example.com"), None);
    let denied = ApiResponse::new(403, r#"{"ok":false,"error":"Permission Denied"}"#);
    assert_eq!(
        parse_team_role(&denied, 7, "x@example.com"),
        Err(key_rescue::cloud::ApiError::ProductRoleMissing { product_id: 7 })
    );
    assert_eq!(role_may_send_keys("Administrator"), Some(true));
    assert_eq!(role_may_send_keys("developer"), Some(true));
    assert_eq!(role_may_send_keys("View-only"), Some(false));
    assert_eq!(role_may_send_keys("Support"), Some(false));
    assert_eq!(role_may_send_keys("Billing"), None);
}

// ----- product devices (issue 12, cloud item 1) ---------------------------------------------------

#[test]
fn a_product_device_is_read_through_its_products_route() {
    // particle-api-js `deviceUri({ deviceId, product })`: `/v1/products/${product}/devices/${deviceId}`.
    let req = ApiRequest::product_device(&token(), &ProductRef::Id(12345), ID);
    assert_eq!(req.method, Method::Get);
    assert_eq!(req.path, format!("/v1/products/12345/devices/{ID}"));
    assert_eq!(
        req.header("Authorization"),
        Some(&*format!("Bearer {TOKEN}"))
    );
    assert_cors_safe(&req);
    let slug = ProductRef::parse(" My-Product-v1 ").unwrap();
    assert_eq!(slug, ProductRef::Slug("my-product-v1".into()));
    let req = ApiRequest::product_device(&token(), &slug, "../x");
    assert_eq!(req.path, "/v1/products/my-product-v1/devices/..%2Fx");
}

#[test]
fn products_are_numbers_or_slugs_and_nothing_else() {
    assert_eq!(ProductRef::parse("12345"), Some(ProductRef::Id(12345)));
    assert_eq!(ProductRef::parse(" 7 "), Some(ProductRef::Id(7)));
    assert_eq!(
        ProductRef::parse("4294967295"),
        Some(ProductRef::Id(u32::MAX))
    );
    assert_eq!(
        ProductRef::parse("photon-fleet-2"),
        Some(ProductRef::Slug("photon-fleet-2".into()))
    );
    assert_eq!(ProductRef::Id(9).to_string(), "9");
    for bad in [
        "",
        "  ",
        "0",
        "4294967296",
        "-12",
        "my product",
        "a/b",
        "../v1",
        "a?b",
        "ä",
        "1.5",
        &"a".repeat(65),
    ] {
        assert_eq!(ProductRef::parse(bad), None, "{bad:?}");
    }
}

#[test]
fn product_route_answers_are_read() {
    let product = ProductRef::Id(12345);
    let ok = resp(
        200,
        r#"{"id":"0123456789abcdef01234567","product_id":12345,"platform_id":6,"online":true,"owner":"a@b.c"}"#,
    );
    let info = parse_product_device(&ok, &product, ID).unwrap();
    assert_eq!(info.upload_product_id(), Some(12345));
    assert_eq!(info.owner.as_deref(), Some("a@b.c"));
    assert_eq!(
        parse_product_device(
            &resp(
                404,
                r#"{"ok":false,"error":"Device not found for this product"}"#
            ),
            &product,
            ID
        ),
        Err(ApiError::NotInProduct {
            device_id: ID.to_ascii_lowercase(),
            product: "12345".into()
        })
    );
    for denied in [
        resp(404, r#"{"ok":false,"error":"Permission denied"}"#),
        resp(403, r#"{"ok":false,"error":"Permission Denied"}"#),
    ] {
        assert_eq!(
            parse_product_device(&denied, &product, ID),
            Err(ApiError::ProductNotVisible {
                product: "12345".into()
            })
        );
    }
    assert_eq!(
        parse_product_device(&resp(401, r#"{"error":"invalid_token"}"#), &product, ID),
        Err(ApiError::TokenInvalid)
    );
}

// ----- empty fields (issue 12, cloud item 3) --------------------------------------------------------

/// A cloud that records what would be sent.
#[derive(Default)]
struct Recorder(Vec<ApiRequest>);

impl key_rescue::cloud::CloudApi for Recorder {
    async fn execute(&mut self, request: &ApiRequest) -> Result<ApiResponse, ApiError> {
        self.0.push(request.clone());
        Ok(resp(500, ""))
    }
    async fn sleep(&mut self, _ms: u32) {}
    fn now_ms(&self) -> u64 {
        0
    }
}

#[test]
fn the_client_refuses_empty_fields_before_sending_and_names_them() {
    use futures_executor::block_on;
    use key_rescue::cloud::CloudApi;
    let mut cloud = Recorder::default();
    let missing = |field| Err(ApiError::MissingInput { field });
    assert_eq!(
        block_on(cloud.sign_in("", "pw")).map(|_| ()),
        missing(InputField::Email)
    );
    assert_eq!(
        block_on(cloud.sign_in(" \t", "")).map(|_| ()),
        missing(InputField::Email)
    );
    assert_eq!(
        block_on(cloud.sign_in("a@b.c", "")).map(|_| ()),
        missing(InputField::Password)
    );
    assert_eq!(
        block_on(cloud.sign_in_otp("mfa", "")).map(|_| ()),
        missing(InputField::OneTimeCode)
    );
    assert_eq!(
        block_on(cloud.sign_in_otp("mfa", "  ")).map(|_| ()),
        missing(InputField::OneTimeCode)
    );
    assert_eq!(
        block_on(cloud.sign_in_with_token("")).map(|_| ()),
        missing(InputField::AccessToken)
    );
    assert!(cloud.0.is_empty(), "nothing was sent: {:?}", cloud.0);
    let e = ApiError::MissingInput {
        field: InputField::OneTimeCode,
    };
    assert_eq!(e.to_string(), "no one-time code was entered");
    assert!(e.hint().contains("code"));
    // Filled in, they are sent.
    let _ = block_on(cloud.sign_in("a@b.c", "pw"));
    let _ = block_on(cloud.sign_in_otp("mfa", "123456"));
    assert_eq!(cloud.0.len(), 2);
}

// ----- deadlines, redirects, capped texts ----------------------------------------------------------

mod deadline {
    use futures_executor::block_on;
    use key_rescue::cloud::{
        ApiError, ApiResponse, CloudApi, MAX_CLOUD_TEXT_CHARS, ONLINE_POLL_MS, REQUEST_TIMEOUT_MS,
        parse_device, parse_sign_in,
    };
    use key_rescue::sim::cloud::SimCloud;
    use key_rescue::sim::cloud::api::SimCloudApi;
    use key_rescue::sim::cloud::scenario::{DEMO_EMAIL, DEMO_PASSWORD, DEMO_PHOTON_ID, seed_demo};
    use std::cell::RefCell;
    use std::rc::Rc;
    use std::sync::OnceLock;

    const T0: u64 = 1_700_000_000_000;

    fn demo() -> SimCloudApi {
        static KEY: OnceLock<rsa::PrivateKey> = OnceLock::new();
        let key = KEY
            .get_or_init(|| rsa::PrivateKey::new(&mut getrandom::SysRng, 2048).unwrap())
            .clone();
        let mut cloud = SimCloud::new(key);
        seed_demo(&mut cloud);
        SimCloudApi::new(Rc::new(RefCell::new(cloud)), T0)
    }

    #[test]
    fn an_unanswered_request_is_a_typed_timeout_after_exactly_the_deadline() {
        let mut api = demo();
        api.leave_unanswered(1);
        let err = block_on(api.sign_in(DEMO_EMAIL, DEMO_PASSWORD)).unwrap_err();
        assert_eq!(err, ApiError::Timeout { waited_s: 15 });
        assert_eq!(err, ApiError::timeout());
        assert_eq!(api.now_ms() - T0, u64::from(REQUEST_TIMEOUT_MS));
        assert_eq!(err.to_string(), "the cloud did not answer within 15 s");
        assert!(err.hint().ends_with('.') && err.hint().contains("internet connection"));
        assert!(!err.needs_sign_in());
        // The next request is answered again, at once.
        let before = api.now_ms();
        assert!(block_on(api.sign_in(DEMO_EMAIL, DEMO_PASSWORD)).is_ok());
        assert_eq!(api.now_ms(), before);
    }

    #[test]
    fn waiting_for_a_device_on_a_silent_cloud_ends_within_its_time() {
        let mut api = demo();
        let token = block_on(api.sign_in(DEMO_EMAIL, DEMO_PASSWORD))
            .unwrap()
            .token;
        api.set_silent(true);
        let timeout_ms = 90_000;
        let err =
            block_on(api.wait_until_online(&token, DEMO_PHOTON_ID, timeout_ms, ONLINE_POLL_MS))
                .unwrap_err();
        // The cloud never answered, so the device's state is unknown: the wait says why.
        assert_eq!(err, ApiError::timeout());
        // Every poll costs a whole deadline; the wait still ends after its own time plus at
        // most one request (it used to count only its sleeps: 45 polls of 17 s, 765 s).
        let elapsed = api.now_ms() - T0;
        assert!(
            elapsed <= u64::from(timeout_ms + REQUEST_TIMEOUT_MS + ONLINE_POLL_MS),
            "waited {elapsed} ms"
        );
        assert!(elapsed >= u64::from(timeout_ms));
        // A cloud that answers again before the end: the device just stayed offline.
        api.set_silent(false);
        api.leave_unanswered(3);
        let err =
            block_on(api.wait_until_online(&token, DEMO_PHOTON_ID, timeout_ms, ONLINE_POLL_MS))
                .unwrap_err();
        assert!(
            matches!(err, ApiError::DeviceStayedOffline { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn a_huge_error_description_is_cut_with_an_ellipsis() {
        let description = "é".repeat(10_000_000);
        let body = format!(r#"{{"error":"invalid_request","error_description":"{description}"}}"#);
        let Err(ApiError::BadRequest { detail, .. }) = parse_device(
            &ApiResponse::new(400, body.clone()),
            "0123456789abcdef01234567",
        ) else {
            panic!("a 400 on a device route is a bad request");
        };
        assert_eq!(detail.chars().count(), MAX_CLOUD_TEXT_CHARS + 1);
        assert!(detail.ends_with("é…"));
        let shown = ApiError::BadRequest {
            status: 400,
            detail,
        }
        .to_string();
        assert!(shown.len() < 1_000, "{} bytes shown", shown.len());
        // The same on a status the page does not expect.
        let Err(ApiError::Unexpected { detail, .. }) = parse_sign_in(
            &ApiResponse::new(302, body),
            key_rescue::cloud::SignInStep::Password,
        ) else {
            panic!("a 302 is unexpected");
        };
        assert!(
            detail.chars().count() <= MAX_CLOUD_TEXT_CHARS + 1,
            "{}",
            detail.len()
        );
        // A short text is kept whole.
        let Err(ApiError::BadRequest { detail, .. }) = parse_device(
            &ApiResponse::new(
                400,
                r#"{"error":"invalid_request","error_description":"short"}"#,
            ),
            "0123456789abcdef01234567",
        ) else {
            panic!();
        };
        assert_eq!(detail, "short");
    }
}
