//! One push delivery: the signed request for a leased job, and what its
//! answer means for the job and for the target host's breaker.

use std::collections::BTreeMap;
use std::time::Duration;

use rampart_core::time::UnixMillis;
use rampart_core::webhook::{self, WebhookSecret};
use rampart_store::{AckOutcome, LeasedJob};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap, LOCATION, RETRY_AFTER};
use serde::Serialize;
use serde_json::value::RawValue;

use super::step::{self, PushStep};
use crate::config::PushTarget;

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
    /// A parent's children's outcomes, as its lease carries them.
    #[serde(skip_serializing_if = "Option::is_none")]
    children: Option<Vec<rampart_client::wire::ChildView>>,
    /// The steps recorded so far, for a step-function target (see `step.rs`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    steps: BTreeMap<&'a str, &'a RawValue>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    step_order: Vec<&'a str>,
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
    /// A `206`'s step: the attempt goes on (`outcome` is then unused).
    pub(super) step: Option<PushStep>,
}

/// How long one delivery's request may take, and the timeout its error
/// names when it takes longer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RequestTimeout {
    /// The time the request is given.
    pub(super) wait: Duration,
    /// The configured timeout that bounds it: the queue's, or the job's own
    /// when that is shorter. Not `wait`, which may be a margin less and
    /// would read as a setting nobody made.
    pub(super) named: Duration,
}

impl RequestTimeout {
    /// The request gets the queue's timeout, cut to what is left of the
    /// attempt's own timeout less `margin` when that comes first (so this
    /// answer reaches the store before the reaper's). The job was leased
    /// for `lease`, which dates its lease and so its attempt's timeout.
    pub(super) fn of(
        job: &LeasedJob,
        queue_timeout: Duration,
        lease: Duration,
        margin: Duration,
        now: UnixMillis,
    ) -> RequestTimeout {
        let Some(timeout_at) = job.timeout_at else {
            return RequestTimeout { wait: queue_timeout, named: queue_timeout };
        };
        let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
        let leased_at = UnixMillis(job.lease_expires_at.0.saturating_sub(lease_ms));
        let left = timeout_at.since(now).saturating_sub(margin);
        RequestTimeout {
            wait: left.min(queue_timeout).max(Duration::from_millis(1)),
            named: timeout_at.since(leased_at).min(queue_timeout),
        }
    }
}

/// Sends one job to `target`, signed with `secret`, waiting at most
/// `timeout.wait` for the whole answer. `now` gives the signature's time
/// when the request leaves, and the base of a `Retry-After` in seconds when
/// the answer arrives (which is what the header counts from). Errors name
/// the target as it shows, its query values hidden.
pub(super) async fn deliver(
    client: &reqwest::Client,
    target: &PushTarget,
    secret: &WebhookSecret,
    job: &LeasedJob,
    timeout: RequestTimeout,
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
                step: None,
            };
        }
    };
    let results: Vec<Box<RawValue>> =
        job.steps.iter().map(|s| RawValue::from_string(s.result.clone()).unwrap_or_default()).collect();
    let body = PushBody {
        id: job.id.to_string(),
        queue: job.queue.as_str(),
        attempt: job.attempt,
        max_attempts: job.max_attempts,
        payload: &payload,
        children: job.children.clone().map(|c| c.into_iter().map(crate::engine::child_view).collect()),
        steps: job.steps.iter().zip(&results).map(|(s, r)| (s.name.as_str(), &**r)).collect(),
        step_order: job.steps.iter().map(|s| s.name.as_str()).collect(),
    };
    let body = match serde_json::to_vec(&body) {
        Ok(b) => b,
        Err(e) => {
            let error = format!("cannot encode the push body: {e}");
            return Delivered {
                outcome: AckOutcome::Fail { error, retryable: false, retry_at: None },
                host_failed: false,
                step: None,
            };
        }
    };
    let msg_id = message_id(job);
    let timestamp = now().0.div_euclid(1000);
    let signature = webhook::sign(secret, &msg_id, timestamp, &body);
    let mut request = client
        .post(target.url().clone())
        .timeout(timeout.wait)
        .header(CONTENT_TYPE, "application/json")
        .header("webhook-id", &msg_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .header("rampart-job-id", job.id.to_string())
        .header("rampart-attempt", job.attempt.to_string())
        .header("rampart-queue", job.queue.as_str())
        .body(body);
    // A tenant holds no control characters, so its UTF-8 bytes always make a header value.
    if let Some(tenant) =
        job.tenant.as_deref().and_then(|t| reqwest::header::HeaderValue::from_bytes(t.as_bytes()).ok())
    {
        request = request.header("rampart-tenant", tenant);
    }
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
            // reqwest's own text repeats the whole URL; the target shows as `target` does.
            let e = e.without_url();
            let error = if e.is_timeout() {
                let named = rampart_core::duration::format_duration(timeout.named);
                format!("timeout: {target} did not answer within {named}")
            } else if e.is_connect() {
                format!("connect error: cannot reach {target}: {}", source_chain(&e))
            } else {
                format!("request to {target} failed: {}", source_chain(&e))
            };
            Delivered {
                outcome: AckOutcome::Fail { error, retryable: true, retry_at: None },
                host_failed: true,
                step: None,
            }
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
    if status == StatusCode::PARTIAL_CONTENT {
        return match step::parse(body) {
            Ok(step) => {
                Delivered { outcome: AckOutcome::Complete { result: None }, host_failed: false, step: Some(step) }
            }
            Err(error) => Delivered {
                outcome: AckOutcome::Fail { error, retryable: false, retry_at: None },
                host_failed: false,
                step: None,
            },
        };
    }
    if status.is_success() {
        // A JSON body is the job's result; anything else is dropped.
        let result = (body.len() <= MAX_RESULT_BYTES)
            .then(|| std::str::from_utf8(body).ok())
            .flatten()
            .filter(|text| serde_json::from_str::<&RawValue>(text).is_ok())
            .map(str::to_string);
        return Delivered { outcome: AckOutcome::Complete { result }, host_failed: false, step: None };
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
    Delivered { outcome: AckOutcome::Fail { error, retryable, retry_at }, host_failed, step: None }
}

/// `Retry-After` as a time: seconds from `now`, or an HTTP date.
pub(super) fn retry_after(headers: &HeaderMap, now: UnixMillis) -> Option<UnixMillis> {
    rampart_core::time::parse_retry_after(headers.get(RETRY_AFTER)?.to_str().ok()?, now)
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
    fn a_request_gets_the_time_left_and_names_the_configured_timeout() {
        let job = |leased_ms: i64, timeout_ms: Option<i64>| LeasedJob {
            id: rampart_core::id::JobId(1),
            queue: rampart_core::id::QueueName::new("q").unwrap(),
            payload: "{}".into(),
            attempt: 1,
            max_attempts: 1,
            lease_token: "t".into(),
            lease_expires_at: UnixMillis(NOW.0 + leased_ms + 11_000),
            timeout_at: timeout_ms.map(|t| UnixMillis(NOW.0 + leased_ms + t)),
            created_at: NOW,
            run_at: NOW,
            priority: 0,
            tenant: None,
            children: None,
            steps: Vec::new(),
        };
        let (queue, lease, margin) = (Duration::from_secs(1), Duration::from_secs(11), Duration::from_millis(100));
        let ms = Duration::from_millis;
        let check = |job: LeasedJob, wait: u64, named: u64| {
            let got = RequestTimeout::of(&job, queue, lease, margin, NOW);
            assert_eq!(got, RequestTimeout { wait: ms(wait), named: ms(named) }, "{job:?}");
        };
        // Leased just now with the queue's own 1s: 900ms to answer, named 1s.
        check(job(0, Some(1_000)), 900, 1_000);
        // Leased 300ms ago: what is left, still named 1s.
        check(job(-300, Some(1_000)), 600, 1_000);
        // A job timeout shorter than the queue's names itself.
        check(job(0, Some(400)), 300, 400);
        // A longer one, or none, leaves the queue's.
        check(job(0, Some(5_000)), 1_000, 1_000);
        check(job(0, None), 1_000, 1_000);
        // Past the attempt's timeout the request still gets a moment.
        check(job(-2_000, Some(1_000)), 1, 1_000);
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
