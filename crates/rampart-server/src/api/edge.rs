//! The edge of the API, around the router: limits on a request's URI and
//! headers checked before any route runs, and the standard error body on
//! every answer the framework makes by itself (`405` for a method a path
//! does not take, `400` for a path parameter that is not UTF-8, …), which
//! would otherwise be empty or plain text.
//!
//! hyper refuses some requests before they reach this (their answer is the
//! status alone, and the connection closes): a request line or header it
//! cannot parse (`400`), more than 100 headers or a head above about
//! 400 KiB (`431`), a URI above 64 KiB (`414`). The limits here are far
//! below the last two, so a large URI or header gets a JSON answer.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::http::header::{ALLOW, CONTENT_TYPE};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use rampart_client::wire::{ErrorBody, ErrorDetail};

/// Longest request URI (path and query) accepted, in bytes.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// Most bytes a request's headers may take (each name and value, plus 4).
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// Most bytes of a framework answer's plain-text body kept as the message.
const MAX_MESSAGE_BYTES: usize = 1024;

/// Checks the URI and header limits, runs the request, and gives an error
/// answer without a JSON body the standard one.
pub(super) async fn edge(req: Request, next: Next) -> Response {
    let uri_bytes = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if uri_bytes > MAX_URI_BYTES {
        return standard(
            StatusCode::URI_TOO_LONG,
            "URI_TOO_LONG",
            format!(
                "the request URI is {uri_bytes} bytes, more than the {MAX_URI_BYTES} accepted; send long data in the body"
            ),
        );
    }
    let header_bytes: usize = req.headers().iter().map(|(name, value)| name.as_str().len() + value.len() + 4).sum();
    if header_bytes > MAX_HEADER_BYTES {
        return standard(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "HEADERS_TOO_LARGE",
            format!("the request headers take {header_bytes} bytes, more than the {MAX_HEADER_BYTES} accepted"),
        );
    }
    let method = req.method().clone();
    let resp = next.run(req).await;
    if !(resp.status().is_client_error() || resp.status().is_server_error()) || is_deliberate(&resp) {
        return resp;
    }
    let status = resp.status();
    let allow = resp.headers().get(ALLOW).cloned();
    let text = match axum::body::to_bytes(resp.into_body(), MAX_MESSAGE_BYTES).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_string(),
        Err(_) => String::new(),
    };
    let (code, message) = match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            let allowed = allow.as_ref().and_then(|a| a.to_str().ok()).unwrap_or("none");
            ("METHOD_NOT_ALLOWED", format!("{method} is not allowed on this path; it allows {allowed}"))
        }
        StatusCode::BAD_REQUEST if text.starts_with("Invalid URL") => {
            ("INVALID_PATH", format!("{text}; a path segment must be UTF-8 text once percent-decoded"))
        }
        _ => (code_of(status), if text.is_empty() { reason(status) } else { text }),
    };
    let mut answer = standard(status, code, message);
    if let Some(allow) = allow {
        answer.headers_mut().insert(ALLOW, allow);
    }
    answer
}

/// Whether an answer already has a JSON body.
/// Whether an answer was made on purpose rather than by the framework: a
/// JSON error of the API, or an HTML page of the dashboard mounted beside it.
fn is_deliberate(resp: &Response) -> bool {
    let content_type = resp.headers().get(CONTENT_TYPE).and_then(|t| t.to_str().ok());
    content_type.is_some_and(|t| t.starts_with("application/json") || t.starts_with("text/html"))
}

/// The standard error answer.
fn standard(status: StatusCode, code: &str, message: String) -> Response {
    let body = ErrorBody { error: ErrorDetail { code: code.to_string(), message } };
    (status, axum::Json(body)).into_response()
}

/// The code of a framework answer with this status.
fn code_of(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "INVALID_REQUEST",
        StatusCode::NOT_FOUND => "NOT_FOUND",
        StatusCode::REQUEST_TIMEOUT => "REQUEST_TIMEOUT",
        StatusCode::PAYLOAD_TOO_LARGE => "BODY_TOO_LARGE",
        StatusCode::URI_TOO_LONG => "URI_TOO_LONG",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "UNSUPPORTED_MEDIA_TYPE",
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => "HEADERS_TOO_LARGE",
        s if s.is_server_error() => "INTERNAL",
        _ => "HTTP_ERROR",
    }
}

/// A message for an answer that came with none.
fn reason(status: StatusCode) -> String {
    format!("{} ({})", status.canonical_reason().unwrap_or("error"), status.as_u16())
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use http_body_util::BodyExt as _;
    use serde_json::Value;
    use tower::ServiceExt as _;

    use super::*;

    async fn answer(router: &Router, req: Request) -> (StatusCode, Option<String>, Value) {
        let resp = router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let allow = resp.headers().get(ALLOW).map(|v| v.to_str().unwrap().to_string());
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (status, allow, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    #[tokio::test]
    async fn framework_answers_get_the_standard_body_and_json_ones_are_kept() {
        let router = Router::new()
            .route("/ok", get(|| async { "fine" }))
            .route("/{id}", get(|axum::extract::Path(id): axum::extract::Path<u32>| async move { id.to_string() }))
            .route("/teapot", get(|| async { (StatusCode::IM_A_TEAPOT, "short and stout") }))
            .route(
                "/json",
                get(|| async { (StatusCode::CONFLICT, axum::Json(serde_json::json!({"error": {"code": "X"}}))) }),
            )
            .layer(axum::middleware::from_fn(edge));
        let req = |method: &str, uri: &str| Request::builder().method(method).uri(uri).body(Body::empty()).unwrap();

        let (status, allow, body) = answer(&router, req("POST", "/ok")).await;
        assert_eq!((status, allow.as_deref()), (StatusCode::METHOD_NOT_ALLOWED, Some("GET,HEAD")));
        assert_eq!(body["error"]["code"], "METHOD_NOT_ALLOWED");
        assert!(body["error"]["message"].as_str().unwrap().starts_with("POST is not allowed"), "{body}");
        let (status, _, body) = answer(&router, req("GET", "/abc")).await;
        assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("INVALID_PATH")), "{body}");
        let (status, _, body) = answer(&router, req("GET", "/teapot")).await;
        assert_eq!(
            (status, &body["error"]["code"], &body["error"]["message"]),
            (StatusCode::IM_A_TEAPOT, &Value::from("HTTP_ERROR"), &Value::from("short and stout"))
        );
        let (status, _, body) = answer(&router, req("GET", "/json")).await;
        assert_eq!((status, body), (StatusCode::CONFLICT, serde_json::json!({"error": {"code": "X"}})));
        let (status, _, body) = answer(&router, req("GET", "/ok")).await;
        assert_eq!((status, body), (StatusCode::OK, Value::Null));
        let (status, _, body) = answer(&router, req("GET", &format!("/ok?q={}", "x".repeat(MAX_URI_BYTES)))).await;
        assert_eq!((status, &body["error"]["code"]), (StatusCode::URI_TOO_LONG, &Value::from("URI_TOO_LONG")));
        let big =
            Request::builder().uri("/ok").header("x-big", "y".repeat(MAX_HEADER_BYTES)).body(Body::empty()).unwrap();
        let (status, _, body) = answer(&router, big).await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, &Value::from("HEADERS_TOO_LARGE"))
        );
    }
}
