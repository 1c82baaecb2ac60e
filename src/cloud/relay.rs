//! A cloud request and its outcome as plain strings, for the one crossing that has no Rust types in
//! common: the page and the simulated mode's own WebAssembly module (`sim::browser::SimPage`, read
//! by `ui::sim_module::SimCloudLink`). Pure; both sides use these functions, so what one writes the
//! other reads back unchanged.

use super::{ApiError, ApiRequest, Method};

/// Every header name an [`ApiRequest`] carries (`request.rs`), as the `&'static str` it needs.
pub const HEADER_NAMES: [&str; 2] = ["Authorization", "Content-Type"];

/// `request` back from its method name, path, headers and body; `None` for a method or header name
/// that no [`ApiRequest`] has.
pub fn request_from_parts(
    method: &str,
    path: String,
    headers: &[(String, String)],
    body: Option<String>,
) -> Option<ApiRequest> {
    let method = [Method::Get, Method::Post, Method::Delete]
        .into_iter()
        .find(|m| m.as_str() == method)?;
    let headers = headers
        .iter()
        .map(|(name, value)| {
            let name = HEADER_NAMES.into_iter().find(|h| h == name)?;
            Some((name, value.clone()))
        })
        .collect::<Option<Vec<_>>>()?;
    Some(ApiRequest {
        method,
        path,
        headers,
        body,
    })
}

/// The kind and text of an error of `CloudApi::execute` (no answer arrived: the only errors it
/// returns are these three).
pub fn error_parts(e: &ApiError) -> (&'static str, String) {
    match e {
        ApiError::Timeout { waited_s } => ("timeout", waited_s.to_string()),
        ApiError::Redirected => ("redirected", String::new()),
        ApiError::Network { message } => ("network", message.clone()),
        other => ("network", other.to_string()),
    }
}

/// The error [`error_parts`] described.
pub fn error_from_parts(kind: &str, text: &str) -> ApiError {
    match kind {
        "timeout" => text.parse().map_or_else(
            |_| ApiError::timeout(),
            |waited_s| ApiError::Timeout { waited_s },
        ),
        "redirected" => ApiError::Redirected,
        _ => ApiError::Network {
            message: text.to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::AccessToken;

    fn parts(r: &ApiRequest) -> Option<ApiRequest> {
        let headers: Vec<(String, String)> = r
            .headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        request_from_parts(r.method.as_str(), r.path.clone(), &headers, r.body.clone())
    }

    #[test]
    fn every_kind_of_request_crosses_unchanged() {
        let token = AccessToken::new("0123456789abcdef0123456789abcdef01234567");
        for r in [
            ApiRequest::sign_in("demo@example.com", "pw"),
            ApiRequest::sign_out(&token),
            ApiRequest::device(&token, "0123456789abcdef01234567"),
        ] {
            let back = parts(&r).expect("crosses");
            assert_eq!(back.method, r.method);
            assert_eq!(back.path, r.path);
            assert_eq!(back.headers, r.headers);
            assert_eq!(back.body, r.body);
        }
    }

    #[test]
    fn an_unknown_method_or_header_is_refused() {
        assert!(request_from_parts("PUT", "/v1".into(), &[], None).is_none());
        let odd = [("X-Odd".to_owned(), "1".to_owned())];
        assert!(request_from_parts("GET", "/v1".into(), &odd, None).is_none());
    }

    #[test]
    fn errors_cross_unchanged() {
        for e in [
            ApiError::timeout(),
            ApiError::Redirected,
            ApiError::Network {
                message: "the simulated cloud is busy with another request".into(),
            },
        ] {
            let (kind, text) = error_parts(&e);
            assert_eq!(error_from_parts(kind, &text), e);
        }
    }
}
