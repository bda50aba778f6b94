//! What is read from a request once it is verified: the event id, type and
//! tenant, Slack's `url_verification` challenge, the headers as the delivery
//! log keeps them, and the payload of the job handed to the queue.
//!
//! A [`Locator`] is a JSON pointer (`/data/object/id`) into a JSON body, or
//! into a form body's fields (`/MessageSid`), or a header name
//! (`X-GitHub-Delivery`). The event id falls back to the SHA-256 of the
//! body, so a sender without ids still gets its exact redeliveries dropped.

use std::fmt;
use std::str::FromStr;

use http::{HeaderMap, HeaderName};
use rampart_core::time::UnixMillis;
use serde_json::Value;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use crate::scheme::Scheme;
use crate::source::Source;

/// Longest event id kept as sent; a longer one is kept as its SHA-256.
pub const MAX_EVENT_ID_LEN: usize = 200;
/// Longest event type and tenant kept; longer ones are cut.
pub const MAX_LABEL_LEN: usize = 200;

/// Where a value is found in a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Locator {
    /// A JSON pointer into the body (or into a form body's fields).
    Pointer(String),
    /// A header.
    Header(HeaderName),
}

/// Why a locator was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is neither a JSON pointer (`/id`, `/data/object/id`) nor a header name (`X-GitHub-Delivery`)")]
pub struct LocatorError(pub String);

impl FromStr for Locator {
    type Err = LocatorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.starts_with('/') {
            return Ok(Locator::Pointer(s.to_string()));
        }
        s.parse::<HeaderName>().map(Locator::Header).map_err(|_| LocatorError(s.chars().take(64).collect()))
    }
}

impl fmt::Display for Locator {
    /// As written: the pointer, or the header's name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Locator::Pointer(p) => f.write_str(p),
            Locator::Header(h) => f.write_str(h.as_str()),
        }
    }
}

/// What identifies a verified event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The provider's id of the event, else `sha256:` and the body's hash.
    pub id: String,
    /// The event's type, when the source says where.
    pub event_type: Option<String>,
    /// The tenant (organisation, account, team), when the source says where.
    pub tenant: Option<String>,
}

/// The body read once, as JSON or form fields, for the locators.
enum Parsed {
    Json(Value),
    Form(Vec<(String, String)>),
    Opaque,
}

impl Parsed {
    fn read(headers: &HeaderMap, body: &[u8]) -> Parsed {
        let form = headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.trim_start().starts_with("application/x-www-form-urlencoded"));
        if form {
            return Parsed::Form(url::form_urlencoded::parse(body).into_owned().collect());
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(v) => Parsed::Json(v),
            Err(_) => Parsed::Opaque,
        }
    }

    fn find(&self, headers: &HeaderMap, locator: &Locator) -> Option<String> {
        let text = match (locator, self) {
            (Locator::Header(h), _) => headers.get(h).and_then(|v| v.to_str().ok()).map(str::to_string),
            (Locator::Pointer(p), Parsed::Json(v)) => match v.pointer(p)? {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                _ => None,
            },
            (Locator::Pointer(p), Parsed::Form(fields)) => {
                let name = p.strip_prefix('/')?;
                fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
            }
            (Locator::Pointer(_), Parsed::Opaque) => None,
        }?;
        let text = rampart_core::nul::clean(text.trim()).into_owned();
        (!text.is_empty()).then_some(text)
    }

    fn first(&self, headers: &HeaderMap, locators: &[Locator]) -> Option<String> {
        locators.iter().find_map(|l| self.find(headers, l))
    }
}

/// The hex SHA-256 of a body.
pub fn body_sha256(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// The event id, type and tenant of a verified request.
pub fn extract(source: &Source, headers: &HeaderMap, body: &[u8]) -> Event {
    let parsed = Parsed::read(headers, body);
    let id = match parsed.first(headers, &source.event_id) {
        Some(id) if id.len() <= MAX_EVENT_ID_LEN => id,
        Some(long) => format!("sha256:{}", body_sha256(long.as_bytes())),
        None => format!("sha256:{}", body_sha256(body)),
    };
    let cut = |s: String| s.chars().take(MAX_LABEL_LEN).collect::<String>();
    Event {
        id,
        event_type: parsed.first(headers, &source.event_type).map(cut),
        tenant: parsed.first(headers, &source.tenant).map(cut),
    }
}

/// Slack's `url_verification` request's challenge, answered inline (after
/// verification) instead of becoming an event.
pub fn slack_challenge(source: &Source, body: &[u8]) -> Option<String> {
    if source.scheme != Scheme::Slack {
        return None;
    }
    let v: Value = serde_json::from_slice(body).ok()?;
    if v.get("type")?.as_str()? != "url_verification" {
        return None;
    }
    Some(v.get("challenge")?.as_str()?.to_string())
}

/// Headers whose values are never kept: credentials of every kind.
const SECRET_HEADERS: [&str; 5] = ["authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"];

/// The headers as the delivery log keeps them, in arrival order: the
/// scheme's signature headers, credentials and anything named like a
/// signature or secret show as `***`.
pub fn logged_headers(scheme: Scheme, headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            let n = name.as_str();
            let secret = SECRET_HEADERS.contains(&n)
                || scheme.signature_headers().contains(&n)
                || ["signature", "secret", "hmac", "password"].iter().any(|w| n.contains(w));
            let value = if secret { "***".to_string() } else { String::from_utf8_lossy(value.as_bytes()).into_owned() };
            (n.to_string(), rampart_core::nul::clean(&value).into_owned())
        })
        .collect()
}

/// What a verified event's job carries: the source, the event's id, type
/// and tenant, when it arrived, the content type, and the body (as JSON
/// when it is JSON, else as text). A JSON body goes in as it came, not
/// parsed again.
pub fn job_payload(
    source: &Source,
    event: &Event,
    received_at: UnixMillis,
    headers: &HeaderMap,
    body: &[u8],
) -> String {
    #[derive(serde::Serialize)]
    #[serde(untagged)]
    enum Body<'a> {
        Json(&'a RawValue),
        Text(std::borrow::Cow<'a, str>),
    }
    #[derive(serde::Serialize)]
    struct Payload<'a> {
        source: &'a str,
        event_id: &'a str,
        event_type: Option<&'a str>,
        tenant: Option<&'a str>,
        received_at: String,
        content_type: Option<&'a str>,
        body: Body<'a>,
    }
    let raw = std::str::from_utf8(body).ok().and_then(|s| serde_json::from_str::<&RawValue>(s).ok());
    let payload = Payload {
        source: source.name.as_str(),
        event_id: &event.id,
        event_type: event.event_type.as_deref(),
        tenant: event.tenant.as_deref(),
        received_at: received_at.to_rfc3339(),
        content_type: headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()),
        body: match raw {
            Some(raw) => Body::Json(raw),
            None => Body::Text(String::from_utf8_lossy(body)),
        },
    };
    serde_json::to_string(&payload).unwrap_or_else(|_| "{}".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceSpec;
    use rampart_core::id::SourceName;

    fn source(scheme: &str) -> Source {
        let spec =
            SourceSpec { scheme: Some(scheme.into()), secret: Some("whsec_c2VjcmV0".into()), ..Default::default() };
        spec.validate(&SourceName::new("s").unwrap()).unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (k.parse::<HeaderName>().unwrap(), v.parse().unwrap())).collect()
    }

    #[test]
    fn ids_types_and_tenants_come_from_the_schemes_documented_places() {
        let stripe = extract(
            &source("stripe"),
            &HeaderMap::new(),
            br#"{"id":"evt_1","type":"invoice.paid","account":"acct_9"}"#,
        );
        assert_eq!(
            stripe,
            Event { id: "evt_1".into(), event_type: Some("invoice.paid".into()), tenant: Some("acct_9".into()) }
        );
        let h = headers(&[("x-github-delivery", "72d3162e"), ("x-github-event", "push")]);
        let github = extract(&source("github"), &h, br#"{"organization":{"login":"acme"}}"#);
        assert_eq!(
            github,
            Event { id: "72d3162e".into(), event_type: Some("push".into()), tenant: Some("acme".into()) }
        );
        let form = headers(&[("content-type", "application/x-www-form-urlencoded")]);
        let mut twilio = source("github");
        twilio.event_id = vec!["/MessageSid".parse().unwrap()];
        assert_eq!(extract(&twilio, &form, b"MessageSid=SM1&Body=hi").id, "SM1");
    }

    #[test]
    fn without_an_id_the_body_hash_is_the_id() {
        let e = extract(&source("stripe"), &HeaderMap::new(), b"not json");
        assert_eq!(e.id, format!("sha256:{}", body_sha256(b"not json")));
        assert_eq!(e.event_type, None);
        let long = format!(r#"{{"id":"{}"}}"#, "x".repeat(300));
        assert!(extract(&source("stripe"), &HeaderMap::new(), long.as_bytes()).id.starts_with("sha256:"));
    }

    #[test]
    fn slack_challenges_are_recognised() {
        let body = br#"{"token":"t","challenge":"3eZbrw1aB","type":"url_verification"}"#;
        assert_eq!(slack_challenge(&source("slack"), body).as_deref(), Some("3eZbrw1aB"));
        assert_eq!(slack_challenge(&source("stripe"), body), None);
        assert_eq!(slack_challenge(&source("slack"), br#"{"type":"event_callback"}"#), None);
    }

    #[test]
    fn logged_headers_hide_signatures_and_credentials() {
        let h = headers(&[
            ("stripe-signature", "t=1,v1=ab"),
            ("authorization", "Bearer x"),
            ("x-my-signature", "s"),
            ("user-agent", "Stripe/1.0"),
        ]);
        let logged = logged_headers(Scheme::Stripe, &h);
        assert_eq!(
            logged,
            [
                ("stripe-signature", "***"),
                ("authorization", "***"),
                ("x-my-signature", "***"),
                ("user-agent", "Stripe/1.0")
            ]
            .map(|(a, b)| (a.to_string(), b.to_string()))
        );
    }

    #[test]
    fn payloads_carry_json_bodies_as_json() {
        let s = source("stripe");
        let e = extract(&s, &HeaderMap::new(), br#"{"id":"evt_1"}"#);
        let p: Value =
            serde_json::from_str(&job_payload(&s, &e, UnixMillis(0), &HeaderMap::new(), br#"{"id":"evt_1"}"#)).unwrap();
        assert_eq!(p["body"]["id"], "evt_1");
        assert_eq!(p["source"], "s");
        let p: Value = serde_json::from_str(&job_payload(&s, &e, UnixMillis(0), &HeaderMap::new(), b"a=1")).unwrap();
        assert_eq!(p["body"], "a=1");
    }
}
