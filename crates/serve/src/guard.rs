//! What stands between the network and the handlers: who may write, what every response
//! carries, the JSON shape of every error, and how long a request may take.
//!
//! Writes ([`Authorized`] handlers) need, in this order: a same-origin request (a browser's
//! `Sec-Fetch-Site` and `Origin` say so; tools send neither), the bearer token when one is set,
//! and a JSON content type (which a cross-site form or `fetch` without a preflight cannot send).

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::api::ApiError;
use crate::Shared;

/// The server's limits and credentials (`storyline serve` flags; README, "Serving").
#[derive(Debug, Clone)]
pub struct Limits {
    /// Bearer token that writes must carry; `None` only on a loopback address.
    pub token: Option<String>,
    /// Time a client has to send a request's headers, and to start the next request on a
    /// kept-alive connection.
    pub header_timeout: Duration,
    /// Time a request may take, its body included, before the server answers 408 or 503.
    pub request_timeout: Duration,
    /// Connections served at once; more wait in the kernel's accept queue.
    pub max_connections: usize,
    /// Largest request body.
    pub max_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            token: None,
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(120),
            max_connections: 256,
            max_body_bytes: 2 << 20,
        }
    }
}

/// Sent with every response. The UI's pages load their style and script from `/assets/`, so
/// nothing inline runs; no page may be framed. Scripts may talk to this server only (the live
/// pages' event stream and refetches).
const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Security headers on every response.
pub async fn headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// Every error in the API's shape: responses the framework made (an unknown method, a
/// malformed path) carry plain text or nothing; they get the JSON error with a code for their
/// status. UI error pages (HTML) stay pages.
pub async fn json_errors(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let kind = response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if kind.starts_with("application/json") || kind.starts_with("text/html") {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.map(|b| String::from_utf8_lossy(&b).trim().to_owned()).unwrap_or_default();
    let message = if text.is_empty() { status.canonical_reason().unwrap_or("error").to_lowercase() } else { text };
    let mut error = ApiError { status, code: code_of(status), message }.into_response();
    for (name, value) in parts.headers.iter() {
        if name == header::ALLOW || name == header::WWW_AUTHENTICATE || name == header::RETRY_AFTER {
            error.headers_mut().insert(name.clone(), value.clone());
        }
    }
    error
}

/// The error code of openapi.yaml for a status the framework chose.
pub fn code_of(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::REQUEST_TIMEOUT => "timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "unprocessable",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    }
}

/// Permission to write: same origin, the token, JSON. Every handler that writes takes it as an
/// argument, so a write route cannot be added without it; other methods and paths are left to
/// routing (an unknown method is a 405, not a 401).
pub struct Authorized;

impl axum::extract::FromRequestParts<Shared> for Authorized {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &Shared) -> Result<Authorized, Response> {
        check_write(&parts.headers, state.limits.token.as_deref(), parts.method != axum::http::Method::DELETE).map(|()| Authorized).map_err(|e| {
            let mut response = e.into_response();
            if response.status() == StatusCode::UNAUTHORIZED {
                response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"storyline\""));
            }
            response
        })
    }
}

/// `json`: the request carries a body, which must be JSON (a DELETE has none; a cross-site
/// page cannot send one without a preflight, which this server never grants).
fn check_write(headers: &HeaderMap, token: Option<&str>, json: bool) -> Result<(), ApiError> {
    let get = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let forbidden = |message: String| ApiError { status: StatusCode::FORBIDDEN, code: "forbidden", message };
    if let Some(site) = get(header::HeaderName::from_static("sec-fetch-site")) {
        if site != "same-origin" && site != "none" {
            return Err(forbidden(format!("cross-origin writes are refused (Sec-Fetch-Site: {site})")));
        }
    }
    if let Some(origin) = get(header::ORIGIN) {
        let origin_host = origin.split_once("://").map(|(_, rest)| rest.trim_end_matches('/'));
        if origin_host.is_none() || origin_host != get(header::HOST) {
            return Err(forbidden(format!("cross-origin writes are refused (Origin: {origin})")));
        }
    }
    if let Some(expected) = token {
        let given = get(header::AUTHORIZATION).and_then(|v| v.strip_prefix("Bearer ")).map(str::trim);
        if !given.is_some_and(|g| same_secret(g.as_bytes(), expected.as_bytes())) {
            let message = if given.is_some() { "wrong bearer token" } else { "writes need `Authorization: Bearer TOKEN` (the server's --token)" };
            return Err(ApiError { status: StatusCode::UNAUTHORIZED, code: "unauthorized", message: message.to_owned() });
        }
    }
    if !json {
        return Ok(());
    }
    let kind = get(header::CONTENT_TYPE).unwrap_or("");
    let essence = kind.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if essence != "application/json" && !(essence.starts_with("application/") && essence.ends_with("+json")) {
        let shown = if kind.is_empty() { "none".to_owned() } else { format!("`{kind}`") };
        return Err(ApiError {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code: "unsupported_media_type",
            message: format!("writes take Content-Type: application/json (got {shown})"),
        });
    }
    Ok(())
}

/// Compares secrets in time that depends on their length only.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A request that takes longer than the limit is answered 503 (its work may still finish).
pub async fn time_limit(State(state): State<Shared>, req: Request, next: Next) -> Response {
    let limit = state.limits.request_timeout;
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            let message = format!("the request took longer than {} s", limit.as_secs());
            let mut r = ApiError { status: StatusCode::SERVICE_UNAVAILABLE, code: "unavailable", message }.into_response();
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("10"));
            r
        }
    }
}

/// Reads a request body up to the size limit, within the request time limit: 413 past the size,
/// 408 when the client sends too slowly.
pub async fn read_body(state: &Shared, body: Body) -> Result<axum::body::Bytes, ApiError> {
    let limits = &state.limits;
    let max = limits.max_body_bytes;
    match tokio::time::timeout(limits.request_timeout, axum::body::to_bytes(body, max)).await {
        Err(_) => Err(ApiError { status: StatusCode::REQUEST_TIMEOUT, code: "timeout", message: "the request body came too slowly".to_owned() }),
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) => {
            let too_large = std::iter::successors(Some(&e as &dyn std::error::Error), |e| e.source()).any(|e| e.is::<http_body_util::LengthLimitError>());
            if too_large {
                Err(ApiError {
                    status: StatusCode::PAYLOAD_TOO_LARGE,
                    code: "too_large",
                    message: format!("the body is larger than {max} bytes (the server's --max-body-bytes)"),
                })
            } else {
                Err(ApiError::bad_request(format!("cannot read the body: {e}")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn writes_need_same_origin_token_and_json() {
        let json = ("content-type", "application/json");
        let host = ("host", "127.0.0.1:8080");
        assert!(check_write(&headers(&[json, host]), None, true).is_ok());
        assert!(check_write(&headers(&[("content-type", "application/json; charset=utf-8"), host, ("origin", "http://127.0.0.1:8080")]), None, true).is_ok());
        let status = |h: &[(&'static str, &str)], token| check_write(&headers(h), token, true).map_err(|e| e.status);
        assert_eq!(status(&[("content-type", "text/plain"), host], None), Err(StatusCode::UNSUPPORTED_MEDIA_TYPE));
        assert_eq!(status(&[host], None), Err(StatusCode::UNSUPPORTED_MEDIA_TYPE));
        assert_eq!(status(&[json, host, ("origin", "https://evil.example")], None), Err(StatusCode::FORBIDDEN));
        assert_eq!(status(&[json, host, ("origin", "null")], None), Err(StatusCode::FORBIDDEN));
        assert_eq!(status(&[json, host, ("sec-fetch-site", "cross-site")], None), Err(StatusCode::FORBIDDEN));
        assert_eq!(status(&[json, host], Some("s3cret")), Err(StatusCode::UNAUTHORIZED));
        assert_eq!(status(&[json, host, ("authorization", "Bearer s3cre")], Some("s3cret")), Err(StatusCode::UNAUTHORIZED));
        assert_eq!(status(&[json, host, ("authorization", "Bearer s3cret")], Some("s3cret")), Ok(()));
        // A write without a body (DELETE) needs no content type, and the rest as much.
        assert!(check_write(&headers(&[host]), None, false).is_ok());
        assert_eq!(check_write(&headers(&[host, ("sec-fetch-site", "cross-site")]), None, false).map_err(|e| e.status), Err(StatusCode::FORBIDDEN));
        assert_eq!(check_write(&headers(&[host]), Some("s3cret"), false).map_err(|e| e.status), Err(StatusCode::UNAUTHORIZED));
    }
}
