//! The simulated cloud over loopback HTTP/1.1 (native only: `std::net`), for `src/bin/sim-cloud.rs`.
//!
//! One connection at a time, one request per connection: enough for a browser test and simple to
//! reason about. Time is the wall clock plus an offset that the test control route can advance, so
//! token expiry can be tested without waiting. The control routes can also make requests go
//! unanswered (the connection is held open and never written to: a cloud that never answers) or
//! answer them with a redirect, for the browser client's deadline and redirect tests.

use super::firmware::BootOutcome;
use super::wire::{MAX_REQUEST_BYTES, ServerKeyRegion, WireError, hex, parse_request, unhex};
use super::{Form, SimCloud, SimHttpRequest, SimHttpResponse, not_ok, ok_true};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Server settings from the command line.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// Serve the `/__sim/…` routes (never on a cloud that holds real data).
    pub test_control: bool,
}

/// Connections held open without an answer, at most: older ones are closed when more arrive (a
/// browser abandons its request at its deadline anyway).
const MAX_HELD_CONNECTIONS: usize = 32;

/// A control's rule: the next `count` requests whose path starts with `prefix` (never a preflight
/// or a control route).
#[derive(Debug, Clone)]
struct Rule {
    prefix: String,
    count: u32,
}

impl Rule {
    /// Whether `req` falls under the rule, counting it if so.
    fn take(rule: &mut Option<Self>, req: &SimHttpRequest) -> bool {
        let Some(r) = rule.as_mut() else {
            return false;
        };
        let applies = !req.method.eq_ignore_ascii_case("OPTIONS")
            && !req.target.starts_with("/__sim/")
            && path_only(&req.target).starts_with(&r.prefix);
        if applies {
            r.count -= 1;
            if r.count == 0 {
                *rule = None;
            }
        }
        applies
    }
}

/// The state one server loop owns.
pub struct SimServer {
    pub cloud: SimCloud,
    pub options: ServerOptions,
    clock_offset_ms: u64,
    /// `/__sim/hang`: requests to leave unanswered.
    hang: Option<Rule>,
    /// `/__sim/redirect`: requests to answer with a 308 to `redirect_location`.
    redirect: Option<Rule>,
    redirect_location: String,
    held: Vec<TcpStream>,
}

impl SimServer {
    pub fn new(cloud: SimCloud, options: ServerOptions) -> Self {
        Self {
            cloud,
            options,
            clock_offset_ms: 0,
            hang: None,
            redirect: None,
            redirect_location: String::new(),
            held: Vec::new(),
        }
    }

    /// Whether `req` is to go unanswered (`/__sim/hang`); counts it if so.
    pub fn leaves_unanswered(&mut self, req: &SimHttpRequest) -> bool {
        Rule::take(&mut self.hang, req)
    }

    /// The wall clock as the cloud sees it (the binary is the only place that reads it).
    pub fn now_ms(&self) -> u64 {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        wall + self.clock_offset_ms
    }

    /// Serves connections until the listener fails.
    pub fn run(&mut self, listener: &TcpListener) {
        for stream in listener.incoming() {
            match stream {
                Ok(stream) => {
                    if let Err(e) = self.serve_connection(stream) {
                        eprintln!("sim-cloud: connection error: {e}");
                    }
                }
                Err(e) => eprintln!("sim-cloud: accept failed: {e}"),
            }
        }
    }

    fn serve_connection(&mut self, mut stream: TcpStream) -> std::io::Result<()> {
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let response = loop {
            let n = stream.read(&mut chunk)?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
            match parse_request(&buf) {
                Ok(Some(req)) if self.leaves_unanswered(&req) => {
                    eprintln!(
                        "sim-cloud: {} {} -> (no answer)",
                        req.method,
                        path_only(&req.target)
                    );
                    if self.held.len() >= MAX_HELD_CONNECTIONS {
                        self.held.remove(0);
                    }
                    self.held.push(stream);
                    return Ok(());
                }
                Ok(Some(req)) => break self.respond(&req),
                Ok(None) if buf.len() <= MAX_REQUEST_BYTES => continue,
                Ok(None) | Err(WireError::TooLarge) => {
                    break not_ok(413, "Too large");
                }
                Err(WireError::Malformed(what)) => {
                    break not_ok(400, &format!("Malformed {what}"));
                }
            }
        };
        stream.write_all(&response.to_http())?;
        stream.flush()
    }

    /// Answers one request: a test control route, or the cloud contract.
    pub fn respond(&mut self, req: &SimHttpRequest) -> SimHttpResponse {
        let now = self.now_ms();
        if self.options.test_control
            && req.target.starts_with("/__sim/")
            && !req.method.eq_ignore_ascii_case("OPTIONS")
        {
            return self.control(req, now);
        }
        let resp = if Rule::take(&mut self.redirect, req) {
            redirect(&self.redirect_location)
        } else {
            self.cloud.handle(req, now)
        };
        eprintln!(
            "sim-cloud: {} {} -> {}",
            req.method,
            path_only(&req.target),
            resp.status
        );
        resp
    }

    fn control(&mut self, req: &SimHttpRequest, now: u64) -> SimHttpResponse {
        let (path, query) = req.target.split_once('?').unwrap_or((&req.target, ""));
        let params = Form::parse(query);
        let param = |name: &str| params.get(name).map(str::to_owned);
        let number = |name: &str| param(name).and_then(|v| v.parse::<u64>().ok());
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        match (req.method.to_ascii_uppercase().as_str(), &segments[1..]) {
            ("POST", ["advance"]) => {
                self.clock_offset_ms += number("ms").unwrap_or(0);
                let now = self.now_ms();
                self.cloud.tick(now);
                SimHttpResponse::json(200, &json!({ "now_ms": now }))
            }
            ("POST", ["fail"]) => {
                let status = number("status").unwrap_or(503) as u16;
                let count = number("count").unwrap_or(1) as u32;
                let prefix = param("path").unwrap_or_else(|| "/".into());
                self.cloud.fail_next_on(status, count, &prefix);
                ok_true()
            }
            ("POST", ["hang"]) => {
                let count = number("count").unwrap_or(1) as u32;
                let prefix = param("path").unwrap_or_else(|| "/".into());
                self.hang = (count > 0).then_some(Rule { prefix, count });
                ok_true()
            }
            ("POST", ["redirect"]) => match param("location") {
                Some(location) => {
                    let count = number("count").unwrap_or(1) as u32;
                    let prefix = param("path").unwrap_or_else(|| "/".into());
                    self.redirect = (count > 0).then_some(Rule { prefix, count });
                    self.redirect_location = location;
                    ok_true()
                }
                None => not_ok(400, "location missing"),
            },
            ("POST", ["token"]) => match param("email") {
                Some(email) => {
                    let token = self
                        .cloud
                        .issue_token(&email, number("ttl").unwrap_or(3600), now);
                    SimHttpResponse::json(200, &json!({ "access_token": token }))
                }
                None => not_ok(400, "email missing"),
            },
            ("GET", ["server-key-region"]) => SimHttpResponse::json(
                200,
                &ServerKeyRegion {
                    hex: hex(&self.cloud.server_key_region()),
                },
            ),
            ("GET", ["devices", id]) => match self.cloud.device(id) {
                Some(d) => SimHttpResponse::json(
                    200,
                    &json!({
                        "id": d.id,
                        "online": d.online,
                        "owner": d.owner,
                        "product_id": d.product_id,
                        "public_key_der_hex": d.public_key.as_ref().map(|k| hex(&k.der)),
                        "algorithm": d.public_key.as_ref().map(|k| k.algorithm.as_str()),
                        "last_boot": self.cloud.last_boot(id).map(boot_json),
                    }),
                ),
                None => not_ok(404, "no such device"),
            },
            ("POST", ["devices", id, "boot"]) => match unhex(req.body.trim()) {
                Some(dct) => {
                    SimHttpResponse::json(200, &boot_json(&self.cloud.boot_device(&dct, id, now)))
                }
                None => not_ok(400, "body must be the DCT in hex"),
            },
            ("POST", ["devices", id, "offline"]) => {
                self.cloud.mark_offline(id);
                ok_true()
            }
            _ => not_ok(404, "unknown control route"),
        }
    }
}

/// A boot outcome as the control routes report it.
fn boot_json(b: &BootOutcome) -> Value {
    json!({
        "online": b.online,
        "led": b.led,
        "error_code": b.error.map(|e| e.code()),
        "key_error_flags": b.key_error_flags,
        "log": b.log,
    })
}

/// `308 Permanent Redirect` to `location`, with the CORS header, so a browser that follows
/// redirects would follow it (Particle's API never redirects).
fn redirect(location: &str) -> SimHttpResponse {
    let mut resp = SimHttpResponse::json(308, &super::body::OkBody { ok: false });
    resp.headers.push(("Location", location.to_owned()));
    resp
}

fn path_only(target: &str) -> &str {
    target.split_once('?').map_or(target, |(p, _)| p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::cloud::firmware::Led;
    use crate::sim::cloud::handshake::{BurstColor, DeviceError};

    fn request(method: &str, target: &str) -> SimHttpRequest {
        SimHttpRequest {
            method: method.into(),
            target: target.into(),
            headers: Vec::new(),
            body: String::new(),
        }
    }

    fn server() -> SimServer {
        let cloud = SimCloud::generate().unwrap();
        SimServer::new(cloud, ServerOptions { test_control: true })
    }

    #[test]
    fn hang_leaves_the_next_matching_requests_unanswered() {
        let mut s = server();
        let control = request("POST", "/__sim/hang?count=2&path=%2Fv1%2Fdevices%2Fa");
        assert_eq!(s.respond(&control).status, 200);
        let lookup = request("GET", "/v1/devices/aaaa");
        // Preflights, control routes and other paths are answered; they do not count.
        assert!(!s.leaves_unanswered(&request("OPTIONS", "/v1/devices/aaaa")));
        assert!(!s.leaves_unanswered(&request("GET", "/v1/devices/bbbb")));
        assert!(!s.leaves_unanswered(&request("POST", "/__sim/advance?ms=1")));
        assert!(s.leaves_unanswered(&lookup));
        assert!(s.leaves_unanswered(&lookup));
        assert!(!s.leaves_unanswered(&lookup), "only the next two");
        // count=0 clears a rule.
        s.respond(&request("POST", "/__sim/hang?count=5"));
        s.respond(&request("POST", "/__sim/hang?count=0"));
        assert!(!s.leaves_unanswered(&lookup));
    }

    #[test]
    fn redirect_answers_a_308_a_browser_could_follow() {
        let mut s = server();
        let control = request(
            "POST",
            "/__sim/redirect?location=http%3A%2F%2F127.0.0.1%3A9%2Foauth%2Ftoken&path=%2Foauth",
        );
        assert_eq!(s.respond(&control).status, 200);
        assert_eq!(s.respond(&request("OPTIONS", "/oauth/token")).status, 204);
        let resp = s.respond(&request("POST", "/oauth/token"));
        assert_eq!(resp.status, 308);
        let header = |name: &str| {
            resp.headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(header("Location"), Some("http://127.0.0.1:9/oauth/token"));
        assert_eq!(header("Access-Control-Allow-Origin"), Some("*"));
        // Once only.
        assert_ne!(s.respond(&request("POST", "/oauth/token")).status, 308);
        assert_eq!(s.respond(&request("POST", "/__sim/redirect")).status, 400);
    }

    #[test]
    fn boot_reports_are_the_bytes_serde_json_wrote() {
        let failed = BootOutcome {
            online: false,
            led: Led::FastCyanWithBurst {
                color: BurstColor::Orange,
                blinks: 1,
            },
            error: Some(DeviceError::DecryptionError),
            key_error_flags: 64,
            dct_writes: Vec::new(),
            log: vec!["Cloud handshake failed, code=6 (\"DECRYPTION_ERROR\")".into()],
        };
        let online = BootOutcome {
            online: true,
            led: Led::BreathingCyan,
            error: None,
            key_error_flags: 0,
            log: Vec::new(),
            ..failed.clone()
        };
        for b in [failed, online] {
            // What the route answered when it was written with `serde_json::json!`.
            let before = serde_json::json!({
                "online": b.online,
                "led": b.led,
                "error_code": b.error.map(|e| e.code()),
                "key_error_flags": b.key_error_flags,
                "log": b.log,
            });
            assert_eq!(
                SimHttpResponse::json(200, &boot_json(&b)).body,
                before.to_string()
            );
        }
    }
}
