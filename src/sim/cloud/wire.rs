//! HTTP messages of the simulated cloud, and their HTTP/1.1 byte form for the loopback server.
//!
//! Pure parsing and formatting only (no sockets), so it builds on wasm32 too and is tested natively.
//! Deliberately small: one request per connection, `Content-Length` bodies, no chunked encoding.

use serde::{Deserialize, Serialize};

/// Largest head + body the loopback server accepts; a key upload is about 1 KiB.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// One request as the simulated cloud sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimHttpRequest {
    pub method: String,
    /// Path and query, e.g. `/v1/devices?access_token=…`.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl SimHttpRequest {
    pub fn new(method: &str, target: &str) -> Self {
        Self {
            method: method.to_owned(),
            target: target.to_owned(),
            headers: Vec::new(),
            body: String::new(),
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn with_body(mut self, body: &str) -> Self {
        self.body = body.to_owned();
        self
    }

    /// A header's value, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

/// The value of the first header named `name` (case-insensitive).
fn find_header<'a, N: AsRef<str>>(headers: &'a [(N, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.as_ref().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The answer of the test control route `GET /__sim/server-key-region`: the cloud's server-key
/// region of the DCT, in hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerKeyRegion {
    pub hex: String,
}

/// One answer of the simulated cloud.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimHttpResponse {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl SimHttpResponse {
    /// A JSON answer with the CORS header every Particle answer carries. Natively its members
    /// are written in name order, as the simulated cloud has always answered, whatever order the
    /// type declares them in ([`crate::cloud::body::write`]).
    pub fn json<T: Serialize + ?Sized>(status: u16, body: &T) -> Self {
        let body = crate::cloud::body::write(body);
        Self {
            status,
            headers: vec![
                ("Content-Type", "application/json; charset=utf-8".into()),
                ("Access-Control-Allow-Origin", "*".into()),
            ],
            body,
        }
    }

    /// The answer to a CORS preflight: only `Authorization` and `Content-Type` may be sent
    /// (cloud-api.md 6), so a request with any other header fails in the browser as it would
    /// against the real API.
    pub fn preflight() -> Self {
        Self {
            status: 204,
            headers: vec![
                ("Access-Control-Allow-Origin", "*".into()),
                (
                    "Access-Control-Allow-Methods",
                    super::CORS_ALLOW_METHODS.into(),
                ),
                (
                    "Access-Control-Allow-Headers",
                    super::CORS_ALLOW_HEADERS.into(),
                ),
                ("Access-Control-Max-Age", "300".into()),
            ],
            body: String::new(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// HTTP/1.1 bytes, closing the connection after the answer.
    pub fn to_http(&self) -> Vec<u8> {
        let mut head = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            self.body.len()
        ));
        let mut out = head.into_bytes();
        out.extend_from_slice(self.body.as_bytes());
        out
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// Why bytes are not an acceptable HTTP/1.1 request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireError {
    Malformed(&'static str),
    TooLarge,
}

/// Parses a request from the bytes received so far: `Ok(None)` while the head or body is
/// incomplete.
pub fn parse_request(buf: &[u8]) -> Result<Option<SimHttpRequest>, WireError> {
    let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if buf.len() > MAX_REQUEST_BYTES {
            Err(WireError::TooLarge)
        } else {
            Ok(None)
        };
    };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| WireError::Malformed("head"))?;
    let mut lines = head.split("\r\n");
    let request_line = lines.next().ok_or(WireError::Malformed("request line"))?;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(WireError::Malformed("request line"));
    };
    if !version.starts_with("HTTP/1.") || !target.starts_with('/') {
        return Err(WireError::Malformed("request line"));
    }
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line.split_once(':').ok_or(WireError::Malformed("header"))?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let mut req = SimHttpRequest {
        method: method.to_owned(),
        target: target.to_owned(),
        headers,
        body: String::new(),
    };
    let length = match req.header("content-length") {
        None => 0,
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| WireError::Malformed("content-length"))?,
    };
    if head_end + 4 + length > MAX_REQUEST_BYTES {
        return Err(WireError::TooLarge);
    }
    let body = &buf[head_end + 4..];
    if body.len() < length {
        return Ok(None);
    }
    req.body = String::from_utf8_lossy(&body[..length]).into_owned();
    Ok(Some(req))
}

/// Lowercase hex, as the test-control routes carry DCT images.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The inverse of [`hex`]; `None` for odd lengths or non-hex characters.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_once_complete() {
        let raw = b"POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nab";
        assert_eq!(parse_request(raw), Ok(None));
        let mut full = raw.to_vec();
        full.extend_from_slice(b"cde");
        let req = parse_request(&full).unwrap().unwrap();
        assert_eq!(req.method, "POST");
        assert_eq!(req.target, "/oauth/token");
        assert_eq!(req.header("host"), Some("x"));
        assert_eq!(req.body, "abcde");
        assert_eq!(
            parse_request(b"nonsense\r\n\r\n"),
            Err(WireError::Malformed("request line"))
        );
    }

    #[test]
    fn responses_carry_length_and_close() {
        let text = String::from_utf8(SimHttpResponse::preflight().to_http()).unwrap();
        assert!(text.starts_with("HTTP/1.1 204 No Content\r\n"));
        assert!(text.contains("Access-Control-Allow-Headers: Authorization, Content-Type\r\n"));
        assert!(text.ends_with("Content-Length: 0\r\nConnection: close\r\n\r\n"));
    }
}
