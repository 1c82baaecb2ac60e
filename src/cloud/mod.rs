//! The Particle cloud: which API the page may talk to, typed requests and pure response parsing.
//!
//! No browser imports here; the HTTP send lives in `http.rs` (wasm32 only) behind a small trait.
//! Facts: shared/reference/cloud-api.md.

use thiserror::Error;

/// Particle's production API.
pub const PRODUCTION_API: &str = "https://api.particle.io";

/// The API base the page talks to: production, or a loopback test cloud that the page shows plainly.
///
/// A support link can carry an override; anything but loopback is refused so a crafted link cannot
/// send a password elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiBase {
    url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ApiBaseError {
    #[error("the API address {0:?} is not Particle's cloud or a loopback test cloud")]
    NotAllowed(String),
}

impl ApiBaseError {
    pub fn hint(&self) -> &'static str {
        "Remove the api parameter from the link to use Particle's cloud, or use \
         http://127.0.0.1:<port> for a local test cloud."
    }
}

impl Default for ApiBase {
    fn default() -> Self {
        Self::production()
    }
}

impl ApiBase {
    pub fn production() -> Self {
        Self {
            url: PRODUCTION_API.to_owned(),
        }
    }

    /// Accepts Particle's API, or `http(s)://127.0.0.1[:port]`, `http(s)://localhost[:port]` or
    /// `http(s)://[::1][:port]`, with an optional trailing slash and nothing else.
    pub fn parse(input: &str) -> Result<Self, ApiBaseError> {
        let refuse = || ApiBaseError::NotAllowed(input.to_owned());
        let trimmed = input.trim().trim_end_matches('/');
        if trimmed.eq_ignore_ascii_case(PRODUCTION_API) {
            return Ok(Self::production());
        }
        let lower = trimmed.to_ascii_lowercase();
        let authority = lower
            .strip_prefix("http://")
            .or_else(|| lower.strip_prefix("https://"))
            .ok_or_else(refuse)?;
        // Userinfo, paths, queries and fragments could smuggle another host past a naive check.
        if authority.contains(['@', '/', '\\', '?', '#', '%']) || authority.is_empty() {
            return Err(refuse());
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(':') && (!h.starts_with('[') || h.ends_with(']')) => {
                (h, Some(p))
            }
            _ => (authority, None),
        };
        if !matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
            return Err(refuse());
        }
        if let Some(port) = port {
            let valid = !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit())
                && port.parse::<u16>().is_ok_and(|p| p != 0);
            if !valid {
                return Err(refuse());
            }
        }
        Ok(Self { url: lower })
    }

    pub fn is_production(&self) -> bool {
        self.url == PRODUCTION_API
    }

    pub fn as_str(&self) -> &str {
        &self.url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_overrides_are_accepted() {
        for ok in [
            "http://127.0.0.1:8081",
            "http://localhost:3000/",
            "https://LOCALHOST",
            "http://[::1]:9000",
            "http://127.0.0.1",
        ] {
            let base = ApiBase::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
            assert!(!base.is_production());
            assert!(!base.as_str().ends_with('/'));
        }
        assert!(
            ApiBase::parse("https://api.particle.io/")
                .unwrap()
                .is_production()
        );
    }

    #[test]
    fn everything_else_is_refused() {
        for bad in [
            "http://evil.example",
            "http://127.0.0.1.evil.example",
            "http://127.0.0.1@evil.example",
            "http://evil.example#@127.0.0.1",
            "http://localhost:80/../evil",
            "http://localhost:0",
            "http://localhost:99999",
            "http://localhost:",
            "ftp://127.0.0.1",
            "127.0.0.1:8080",
            "http://127.0.0.2",
            "http://%6cocalhost",
            "https://api.particle.io.evil.example",
            "",
        ] {
            assert!(ApiBase::parse(bad).is_err(), "{bad} must be refused");
        }
    }
}
