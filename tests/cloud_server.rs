//! The `sim-cloud` binary over real loopback sockets: start it on an ephemeral port, read the port
//! from its first stdout line, and check statuses, CORS headers and bodies with raw HTTP/1.1.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(extra: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sim-cloud"))
        .args(["--port", "0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("sim-cloud starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("port line {line:?}"));
    Server { child, port }
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        let value = serde_json::from_str(&self.body).unwrap_or(Value::Null);
        // The bytes are exactly what serde_json writes for them (names sorted, its escapes).
        if !value.is_null() {
            assert_eq!(self.body, value.to_string());
        }
        value
    }
}

fn request(
    server: &Server,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    let mut raw = format!(
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n",
        server.port
    );
    for (n, v) in headers {
        raw.push_str(&format!("{n}: {v}\r\n"));
    }
    raw.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(raw.as_bytes()).unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("a full response");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: body.to_owned(),
    }
}

const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

fn sign_in(server: &Server) -> String {
    let reply = request(
        server,
        "POST",
        "/oauth/token",
        &[FORM],
        "grant_type=password&username=demo%40example.com&password=demo-password&client_id=particle&client_secret=particle&expires_in=3600",
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["access_token"].as_str().unwrap().to_owned()
}

#[test]
fn serves_the_contract_with_cors_over_loopback() {
    let server = start(&["--test-control"]);

    let preflight = request(
        &server,
        "OPTIONS",
        "/v1/devices/0123456789abcdef01234567",
        &[
            ("Origin", "http://127.0.0.1:9000"),
            ("Access-Control-Request-Method", "GET"),
            ("Access-Control-Request-Headers", "authorization"),
        ],
        "",
    );
    assert_eq!(preflight.status, 204);
    assert_eq!(preflight.header("Access-Control-Allow-Origin"), Some("*"));
    assert_eq!(
        preflight.header("Access-Control-Allow-Headers"),
        Some("Authorization, Content-Type")
    );
    assert!(
        preflight
            .header("Access-Control-Allow-Methods")
            .unwrap()
            .contains("DELETE")
    );

    let wrong = request(
        &server,
        "POST",
        "/oauth/token",
        &[FORM],
        "grant_type=password&username=demo%40example.com&password=nope&client_id=particle&client_secret=particle",
    );
    assert_eq!(wrong.status, 400);
    assert_eq!(wrong.header("Access-Control-Allow-Origin"), Some("*"));
    assert_eq!(
        wrong.json(),
        serde_json::json!({"error": "invalid_grant", "error_description": "User credentials are invalid"})
    );

    let token = sign_in(&server);
    let auth = format!("Bearer {token}");
    let device = request(
        &server,
        "GET",
        "/v1/devices/0123456789abcdef01234567",
        &[("Authorization", &auth)],
        "",
    );
    assert_eq!(device.status, 200);
    assert!(
        device
            .header("Content-Type")
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(device.json()["platform_id"], 6);
    assert_eq!(device.json()["online"], false);

    let denied = request(
        &server,
        "GET",
        "/v1/devices/ffffffffffffffff00000001",
        &[("Authorization", &auth)],
        "",
    );
    assert_eq!(denied.status, 403);
    assert_eq!(denied.json()["error"], "Permission Denied");

    let no_token = request(&server, "GET", "/v1/devices", &[], "");
    assert_eq!(no_token.status, 400);
    assert_eq!(
        no_token.json()["error_description"],
        "The access token was not found"
    );

    // Test control: expire the token by moving the clock.
    let advanced = request(&server, "POST", "/__sim/advance?ms=3600000", &[], "");
    assert_eq!(advanced.status, 200);
    let expired = request(
        &server,
        "GET",
        "/v1/devices",
        &[("Authorization", &auth)],
        "",
    );
    assert_eq!(expired.status, 401);
    assert_eq!(
        expired.json()["error_description"],
        "The access token provided has expired."
    );

    // Test control: force a server error.
    request(&server, "POST", "/__sim/fail?status=503&count=1", &[], "");
    let failing = request(&server, "GET", "/v1/devices", &[], "");
    assert_eq!(failing.status, 503);
    assert_eq!(failing.json()["error"], "server_error");

    let region = request(&server, "GET", "/__sim/server-key-region", &[], "");
    assert_eq!(region.json()["hex"].as_str().unwrap().len(), 1024);

    let malformed = {
        let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        stream.write_all(b"garbage\r\n\r\n").unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        text
    };
    assert!(malformed.starts_with("HTTP/1.1 400 "), "{malformed}");
}

#[test]
fn control_routes_are_off_unless_asked_for() {
    let server = start(&["--scenario", "empty"]);
    let reply = request(&server, "POST", "/__sim/advance?ms=1", &[], "");
    assert_eq!(reply.status, 404);
    let reply = request(
        &server,
        "POST",
        "/oauth/token",
        &[FORM],
        "grant_type=password&username=demo%40example.com&password=demo-password&client_id=particle&client_secret=particle",
    );
    assert_eq!(reply.status, 400, "the empty scenario has no accounts");
}

#[test]
fn help_documents_flags_and_refuses_non_loopback_hosts() {
    let out = Command::new(env!("CARGO_BIN_EXE_sim-cloud"))
        .arg("--help")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--port",
        "--scenario",
        "--test-control",
        "/__sim/advance",
        "/__sim/fail",
    ] {
        assert!(text.contains(flag), "--help lacks {flag}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_sim-cloud"))
        .args(["--host", "0.0.0.0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn oauth_errors_and_product_devices_over_loopback() {
    let server = start(&[]);
    const CLIENT: &str = "client_id=particle&client_secret=particle";
    // Empty password (issue 12, cloud item 2): OAUTH lib/grant.js `usePasswordGrant`.
    let reply = request(
        &server,
        "POST",
        "/oauth/token",
        &[FORM],
        &format!("grant_type=password&username=demo%40example.com&password=&{CLIENT}"),
    );
    assert_eq!(reply.status, 400);
    let body = reply.json();
    assert_eq!(body["error"], "invalid_client");
    assert_eq!(
        body["error_description"],
        "Missing parameters. \"username\" and \"password\" are required"
    );
    assert_eq!(reply.header("Cache-Control"), Some("no-store"));
    assert_eq!(reply.header("Pragma"), Some("no-cache"));
    assert_eq!(reply.header("Access-Control-Allow-Origin"), Some("*"));
    // Empty one-time code.
    let reply = request(
        &server,
        "POST",
        "/oauth/token",
        &[FORM],
        &format!("grant_type=urn%3Acustom%3Amfa-otp&mfa_token=x&otp=&{CLIENT}"),
    );
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json()["error_description"],
        "You must provide otp and mfa token."
    );
    assert_eq!(reply.header("Cache-Control"), Some("no-store"));
    assert_eq!(reply.header("Pragma"), Some("no-cache"));
    // A wrong password too.
    let reply = request(
        &server,
        "POST",
        "/oauth/token",
        &[FORM],
        &format!("grant_type=password&username=demo%40example.com&password=no&{CLIENT}"),
    );
    assert_eq!(reply.status, 400);
    assert_eq!(reply.header("Cache-Control"), Some("no-store"));

    // The product route (issue 12, cloud item 1), for a team Developer.
    let reply = request(
        &server,
        "POST",
        "/oauth/token",
        &[FORM],
        &format!("grant_type=password&username=developer%40example.com&password=password&{CLIENT}"),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let token = reply.json()["access_token"].as_str().unwrap().to_owned();
    let bearer = format!("Bearer {token}");
    for product in ["12345", "demo-product-v1"] {
        let reply = request(
            &server,
            "GET",
            &format!("/v1/products/{product}/devices/e00fce68aaaaaaaaaaaaaaaa"),
            &[("Authorization", &bearer)],
            "",
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.json()["product_id"], 12345);
    }
    let reply = request(
        &server,
        "GET",
        "/v1/products/12345/devices/0123456789abcdef01234567",
        &[("Authorization", &bearer)],
        "",
    );
    assert_eq!(reply.status, 404);
    assert_eq!(reply.header("Access-Control-Allow-Origin"), Some("*"));
}
