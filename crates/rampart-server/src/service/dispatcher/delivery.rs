//! One push delivery: the signed request for a leased job, and what its
//! answer means for the job and for the target host's breaker.

use std::time::Duration;

use rampart_core::time::UnixMillis;
use rampart_core::webhook::{self, WebhookSecret};
use rampart_store::{AckOutcome, LeasedJob};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap, LOCATION, RETRY_AFTER};
use serde::Serialize;
use serde_json::value::RawValue;

/// Most bytes of an answer's body read: a larger body is not kept as the result.
const MAX_RESULT_BYTES: usize = 1 << 20;

/// Characters of an answer's body quoted in a failure's error.
const EXCERPT_CHARS: usize = 200;

/// The JSON body POSTed for a job.
#[derive(Serialize)]
struct PushBody<'a> {
    id: String,
    queue: &'a str,
    attempt: u32,
    max_attempts: u32,
    payload: &'a RawValue,
}

/// The `webhook-id` of a job's deliveries: the same for every attempt, so a
/// receiver can drop a duplicate.
pub(super) fn message_id(job: &LeasedJob) -> String {
    format!("job_{}", job.id)
}

/// What a delivery came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Delivered {
    /// How the job's attempt ends.
    pub(super) outcome: AckOutcome,
    /// Whether the host failed (counts against its breaker): 408, 429, 5xx,
    /// no connection, no answer in time. A 2xx or another 4xx shows a host
    /// that works.
    pub(super) host_failed: bool,
}

/// Sends one job to `url`, signed with `secret`, waiting at most `timeout`
/// for the whole answer. `now` gives the signature's time when the request
/// leaves, and the base of a `Retry-After` in seconds when the answer
/// arrives (which is what the header counts from).
pub(super) async fn deliver(
    client: &reqwest::Client,
    url: &reqwest::Url,
    secret: &WebhookSecret,
    job: &LeasedJob,
    timeout: Duration,
    retry_4xx: bool,
    now: &(dyn Fn() -> UnixMillis + Sync),
) -> Delivered {
    let payload = match RawValue::from_string(job.payload.clone()) {
        Ok(p) => p,
        Err(e) => {
            // Payloads are checked as JSON at enqueue; one that is not cannot be sent.
            let error = format!("the payload is not JSON and cannot be pushed: {e}");
            return Delivered {
                outcome: AckOutcome::Fail { error, retryable: false, retry_at: None },
                host_failed: false,
            };
        }
    };
    let body = PushBody {
        id: job.id.to_string(),
        queue: job.queue.as_str(),
        attempt: job.attempt,
        max_attempts: job.max_attempts,
        payload: &payload,
    };
    let body = match serde_json::to_vec(&body) {
        Ok(b) => b,
        Err(e) => {
            let error = format!("cannot encode the push body: {e}");
            return Delivered {
                outcome: AckOutcome::Fail { error, retryable: false, retry_at: None },
                host_failed: false,
            };
        }
    };
    let msg_id = message_id(job);
    let timestamp = now().0.div_euclid(1000);
    let signature = webhook::sign(secret, &msg_id, timestamp, &body);
    let request = client
        .post(url.clone())
        .timeout(timeout)
        .header(CONTENT_TYPE, "application/json")
        .header("webhook-id", &msg_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .header("rampart-job-id", job.id.to_string())
        .header("rampart-attempt", job.attempt.to_string())
        .header("rampart-queue", job.queue.as_str())
        .body(body);
    let answer = async {
        let resp = request.send().await?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = read_limited(resp).await?;
        Ok::<_, reqwest::Error>((status, headers, body))
    };
    match answer.await {
        Ok((status, headers, body)) => judge(status, &headers, &body, retry_4xx, now()),
        Err(e) => {
            let error = if e.is_timeout() {
                format!("timeout: {url} did not answer within {}", rampart_core::duration::format_duration(timeout))
            } else if e.is_connect() {
                format!("connect error: cannot reach {url}: {}", source_chain(&e))
            } else {
                format!("request to {url} failed: {}", source_chain(&e))
            };
            Delivered { outcome: AckOutcome::Fail { error, retryable: true, retry_at: None }, host_failed: true }
        }
    }
}

/// The body, up to [`MAX_RESULT_BYTES`] and one chunk (the rest is not read).
async fn read_limited(mut resp: reqwest::Response) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_RESULT_BYTES {
            break;
        }
    }
    Ok(body)
}

/// What an answer means.
fn judge(status: StatusCode, headers: &HeaderMap, body: &[u8], retry_4xx: bool, now: UnixMillis) -> Delivered {
    if status.is_success() {
        // A JSON body is the job's result; anything else is dropped.
        let result = (body.len() <= MAX_RESULT_BYTES)
            .then(|| std::str::from_utf8(body).ok())
            .flatten()
            .filter(|text| serde_json::from_str::<&RawValue>(text).is_ok())
            .map(str::to_string);
        return Delivered { outcome: AckOutcome::Complete { result }, host_failed: false };
    }
    let host_failed = matches!(status.as_u16(), 408 | 429) || status.is_server_error();
    let retryable = host_failed || retry_4xx || !status.is_client_error();
    let retry_at = if retryable { retry_after(headers, now) } else { None };
    let mut error = format!("HTTP {status}");
    if status.is_redirection() {
        // Redirects are not followed: say where the target points instead.
        let location = headers.get(LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("nowhere");
        error.push_str(&format!(" to {location} (redirects are not followed; fix the queue's target)"));
    }
    let excerpt = excerpt(body);
    if !excerpt.is_empty() {
        error.push_str(": ");
        error.push_str(&excerpt);
    }
    Delivered { outcome: AckOutcome::Fail { error, retryable, retry_at }, host_failed }
}

/// `Retry-After` as a time: seconds from `now`, or an HTTP date.
pub(super) fn retry_after(headers: &HeaderMap, now: UnixMillis) -> Option<UnixMillis> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(now.plus(Duration::from_secs(seconds)));
    }
    chrono::DateTime::parse_from_rfc2822(value).ok().map(|t| UnixMillis(t.timestamp_millis()))
}

/// The start of a body, on one line, for an error message.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(EXCERPT_CHARS * 4)]);
    let mut out: String = text.chars().take(EXCERPT_CHARS).map(|c| if c.is_control() { ' ' } else { c }).collect();
    if text.chars().count() > EXCERPT_CHARS {
        out.push('…');
    }
    out.trim().to_string()
}

/// An error with its causes, which hold the useful part ("connection refused").
fn source_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: UnixMillis = UnixMillis(1_800_000_000_000);

    fn headers(retry_after: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(v) = retry_after {
            h.insert(RETRY_AFTER, v.parse().unwrap());
        }
        h
    }

    fn check(status: u16, retry: Option<&str>, body: &str, retry_4xx: bool, expected: (&str, bool, bool)) {
        let got = judge(StatusCode::from_u16(status).unwrap(), &headers(retry), body.as_bytes(), retry_4xx, NOW);
        let (kind, retryable) = match &got.outcome {
            AckOutcome::Complete { .. } => ("complete", true),
            AckOutcome::Fail { retryable, .. } => ("fail", *retryable),
        };
        assert_eq!((kind, retryable, got.host_failed), expected, "{status} {retry_4xx}");
    }

    #[test]
    fn answers_map_to_outcomes() {
        check(200, None, "", false, ("complete", true, false));
        check(204, None, "", false, ("complete", true, false));
        for status in [408, 429, 500, 502, 503, 504] {
            check(status, None, "", false, ("fail", true, true));
        }
        for status in [400, 401, 403, 404, 410, 422] {
            check(status, None, "", false, ("fail", false, false));
            check(status, None, "", true, ("fail", true, false));
        }
    }

    #[test]
    fn a_json_body_is_the_result_and_errors_quote_the_body() {
        let h = headers(None);
        let ok = |body: &str| match judge(StatusCode::OK, &h, body.as_bytes(), false, NOW).outcome {
            AckOutcome::Complete { result } => result,
            other => panic!("{other:?}"),
        };
        assert_eq!(ok(r#"{"sent":true}"#).as_deref(), Some(r#"{"sent":true}"#));
        assert_eq!(ok("ok"), None);
        assert_eq!(ok(""), None);
        let failed = judge(StatusCode::BAD_REQUEST, &h, b"missing field `to`\n", false, NOW);
        assert!(
            matches!(&failed.outcome, AckOutcome::Fail { error, .. } if error == "HTTP 400 Bad Request: missing field `to`"),
            "{failed:?}"
        );
        let mut moved = HeaderMap::new();
        moved.insert(LOCATION, "https://new.example/hook".parse().unwrap());
        let failed = judge(StatusCode::MOVED_PERMANENTLY, &moved, b"", false, NOW);
        assert!(
            matches!(&failed.outcome, AckOutcome::Fail { error, retryable: true, .. }
                if error.starts_with("HTTP 301 Moved Permanently to https://new.example/hook (redirects are not followed")),
            "{failed:?}"
        );
        let long = "x".repeat(500);
        let failed = judge(StatusCode::BAD_GATEWAY, &h, long.as_bytes(), false, NOW);
        assert!(matches!(&failed.outcome, AckOutcome::Fail { error, .. } if error.len() < 260 && error.ends_with('…')));
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        assert_eq!(retry_after(&headers(Some("2")), NOW), Some(UnixMillis(NOW.0 + 2_000)));
        assert_eq!(retry_after(&headers(Some(" 120 ")), NOW), Some(UnixMillis(NOW.0 + 120_000)));
        assert_eq!(
            retry_after(&headers(Some("Sun, 06 Nov 1994 08:49:37 GMT")), NOW),
            Some(UnixMillis(784_111_777_000))
        );
        assert_eq!(retry_after(&headers(Some("soon")), NOW), None);
        assert_eq!(retry_after(&headers(None), NOW), None);
        let failed = judge(StatusCode::SERVICE_UNAVAILABLE, &headers(Some("2")), b"", false, NOW);
        assert!(matches!(failed.outcome, AckOutcome::Fail { retry_at: Some(t), .. } if t == UnixMillis(NOW.0 + 2_000)));
    }
}
