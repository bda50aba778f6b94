//! A webhook source as written, and its one validation.
//!
//! A [`SourceSpec`] is what a `[webhooks.NAME]` table, the body of `PUT
//! /v1/webhooks/sources/{name}` and a source kept in the store all say;
//! [`SourceSpec::validate`] turns it into a [`Source`] or names every
//! problem by its field, so the configuration and the API give the same
//! messages.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rampart_core::duration::parse_duration;
use rampart_core::id::{PolicyName, QueueName, SourceName};
use rampart_core::time::UnixMillis;
use serde::{Deserialize, Serialize};

use crate::event::Locator;
use crate::scheme::Scheme;

/// How far a signed timestamp may be from now, either way, by default.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);
/// The largest body a source takes by default.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 1024 * 1024;
/// The largest body any source may take.
pub const MAX_BODY_BYTES: u64 = 16 * 1024 * 1024;
/// How long an event id is remembered by default: Stripe retries for up to
/// three days, so a day lets a late retry through twice.
pub const DEFAULT_DEDUPE_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);

/// A source as written: every field optional until [`SourceSpec::validate`]
/// reads the whole. Kept in the store as its JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// `stripe`, `github`, `slack`, `twilio`, `shopify`, `standard`, `hmac` or `none` (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    /// One secret without expiry; shorthand for `secrets = [{ value = … }]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Secrets, each with an optional expiry: any unexpired one verifies (rotation).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<SecretSpec>,
    /// How far a signed timestamp may be from now, either way (default `5m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<String>,
    /// The queue verified events go to (default: the source's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// Where the event id is: a JSON pointer (`/id`) or a header name (default: the scheme's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// Where the event type is, the same way (default: the scheme's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    /// Where the tenant (the organisation) is, the same way (default: the scheme's, often none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// The largest body taken (default 1 MiB); a larger one is refused with 413.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_body_bytes: Option<u64>,
    /// How long an event id is remembered for dropping duplicates (default `7d`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedupe_window: Option<String>,
    /// A rate-limit policy applied to the intake, keyed by client IP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratelimit: Option<String>,
    /// `twilio`: the exact public URL configured at Twilio (what it signs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// `hmac`: the header carrying the signature (required there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// `hmac`: `sha256` (the default) or `sha1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
    /// `hmac`: `hex` (the default) or `base64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    /// `hmac`: text before the signature in its header (`sha256=`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// `hmac`: what is signed, from `{timestamp}` and `{body}` (default `{body}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// `hmac`: the header carrying the signed timestamp (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_header: Option<String>,
}

/// One secret as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretSpec {
    /// The secret as the provider shows it (`whsec_…` for Stripe and Standard Webhooks).
    pub value: String,
    /// When it stops verifying, RFC 3339 (none: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

/// One problem with a [`SourceSpec`]: the field at fault and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecProblem {
    /// The field (`scheme`, `secrets`, …).
    pub field: &'static str,
    /// What is wrong with it, and what to write instead.
    pub message: String,
}

impl fmt::Display for SpecProblem {
    /// `field: message`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// A verified, ready source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Its name, the last segment of `/in/{name}`.
    pub name: SourceName,
    /// How requests are signed.
    pub scheme: Scheme,
    /// The secrets that may verify, with their expiries.
    pub secrets: Vec<Secret>,
    /// How far a signed timestamp may be from now, either way.
    pub tolerance: Duration,
    /// Where verified events go.
    pub queue: QueueName,
    /// Where the event id is looked for, in order; none found: the body's SHA-256.
    pub event_id: Vec<Locator>,
    /// Where the event type is looked for, in order.
    pub event_type: Vec<Locator>,
    /// Where the tenant is looked for, in order.
    pub tenant: Vec<Locator>,
    /// The largest body taken.
    pub max_body_bytes: usize,
    /// How long an event id is remembered.
    pub dedupe_window: Duration,
    /// A rate-limit policy on the intake.
    pub ratelimit: Option<PolicyName>,
    /// `twilio`: the URL Twilio signs (the request's query is appended).
    pub public_url: Option<String>,
    /// `hmac`: how the signature is made.
    pub hmac: Option<HmacOptions>,
}

/// A secret that may verify until it expires.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    /// The MAC key: the secret's bytes, or for `standard` the bytes its base64 stands for.
    key: Vec<u8>,
    /// When it stops verifying.
    pub expires_at: Option<UnixMillis>,
}

impl fmt::Debug for Secret {
    /// Never shows the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secret").field("key", &"***").field("expires_at", &self.expires_at).finish()
    }
}

impl Secret {
    /// The MAC key.
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// Whether it still verifies at `now`.
    pub fn live_at(&self, now: UnixMillis) -> bool {
        self.expires_at.is_none_or(|t| now < t)
    }
}

rampart_core::named_enum! {
    /// The hash of the generic `hmac` scheme.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub enum HmacAlgorithm {
        /// HMAC-SHA256.
        #[default]
        Sha256 = "sha256",
        /// HMAC-SHA1, for senders that still use it.
        Sha1 = "sha1",
    }
}

rampart_core::named_enum! {
    /// How the generic `hmac` scheme writes its MAC.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub enum HmacEncoding {
        /// Lower- or upper-case hexadecimal.
        #[default]
        Hex = "hex",
        /// Standard base64.
        Base64 = "base64",
    }
}

/// How a generic `hmac` source's signature is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HmacOptions {
    /// The header carrying the signature.
    pub header: http::HeaderName,
    /// The hash.
    pub algorithm: HmacAlgorithm,
    /// How the MAC is written.
    pub encoding: HmacEncoding,
    /// Text before the MAC in the header.
    pub prefix: String,
    /// What is signed: `{timestamp}` and `{body}` replaced.
    pub template: String,
    /// The header carrying the signed timestamp.
    pub timestamp_header: Option<http::HeaderName>,
}

impl SourceSpec {
    /// The spec of a secret list, the way [`SourceSpec::validate`] reads them: `secret` first.
    fn all_secrets(&self) -> Vec<SecretSpec> {
        let mut all: Vec<SecretSpec> =
            self.secret.iter().map(|v| SecretSpec { value: v.clone(), expires_at: None }).collect();
        all.extend(self.secrets.iter().cloned());
        all
    }

    /// The source this spec describes, or every problem with it, each named by its field.
    pub fn validate(&self, name: &SourceName) -> Result<Source, Vec<SpecProblem>> {
        let mut problems = Vec::new();
        let mut problem = |field: &'static str, message: String| problems.push(SpecProblem { field, message });
        let scheme = match &self.scheme {
            None => {
                problem("scheme", format!("missing: every source needs one of {}", Scheme::names()));
                None
            }
            Some(s) => {
                s.trim().to_ascii_lowercase().parse::<Scheme>().map_err(|e| problem("scheme", e.to_string())).ok()
            }
        };
        let duration = |field: &'static str,
                        text: &Option<String>,
                        default: Duration,
                        problem: &mut dyn FnMut(&'static str, String)| match text {
            None => Some(default),
            Some(s) => match parse_duration(s) {
                Ok(d) if !d.is_zero() => Some(d),
                Ok(_) => {
                    problem(field, "must be longer than 0s".into());
                    None
                }
                Err(e) => {
                    problem(field, e.to_string());
                    None
                }
            },
        };
        let tolerance = duration("tolerance", &self.tolerance, DEFAULT_TOLERANCE, &mut problem);
        let dedupe_window = duration("dedupe_window", &self.dedupe_window, DEFAULT_DEDUPE_WINDOW, &mut problem);
        let queue = match &self.queue {
            None => QueueName::new(name.as_str()).map_err(|e| problem("queue", e.to_string())).ok(),
            Some(q) => QueueName::new(q).map_err(|e| problem("queue", e.to_string())).ok(),
        };
        let mut locators = |field: &'static str, text: &Option<String>, defaults: Vec<Locator>| match text {
            None => Some(defaults),
            Some(s) => s.parse::<Locator>().map(|l| vec![l]).map_err(|e| problem(field, e.to_string())).ok(),
        };
        let defaults = scheme.map(Scheme::default_locators).unwrap_or_default();
        let event_id = locators("event_id", &self.event_id, defaults.event_id);
        let event_type = locators("event_type", &self.event_type, defaults.event_type);
        let tenant = locators("tenant", &self.tenant, defaults.tenant);
        let max_body_bytes = match self.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES) {
            n if (1..=MAX_BODY_BYTES).contains(&n) => usize::try_from(n).ok(),
            n => {
                problem("max_body_bytes", format!("{n} is out of range; use 1 to {MAX_BODY_BYTES} (16 MiB)"));
                None
            }
        };
        let ratelimit = match &self.ratelimit {
            None => Some(None),
            Some(p) => PolicyName::new(p).map(Some).map_err(|e| problem("ratelimit", e.to_string())).ok(),
        };
        let mut secrets = Vec::new();
        let written = self.all_secrets();
        for s in &written {
            let expires_at = match &s.expires_at {
                None => None,
                Some(t) => match UnixMillis::parse_rfc3339(t) {
                    Ok(t) => Some(t),
                    Err(e) => {
                        problem("secrets", format!("expires_at `{t}`: {e}"));
                        continue;
                    }
                },
            };
            if s.value.trim().is_empty() {
                problem("secrets", "a secret is empty; paste the signing secret the provider shows".into());
                continue;
            }
            let key = match scheme {
                Some(Scheme::Standard) => match standard_key(s.value.trim()) {
                    Some(key) => key,
                    None => {
                        problem("secrets", "a Standard Webhooks secret is `whsec_` followed by base64".into());
                        continue;
                    }
                },
                _ => s.value.trim().as_bytes().to_vec(),
            };
            secrets.push(Secret { key, expires_at });
        }
        match scheme {
            Some(Scheme::None) if !written.is_empty() => {
                problem("secrets", "scheme `none` verifies nothing; remove the secrets or choose a scheme".into())
            }
            Some(s) if s != Scheme::None && written.is_empty() => problem(
                "secrets",
                format!(
                    "missing: scheme `{s}` needs the signing secret, e.g. `secret = \"…\"` or `secrets = [{{ value = \"…\" }}]`"
                ),
            ),
            _ => {}
        }
        let public_url = match (&self.public_url, scheme) {
            (Some(u), _) => match url::Url::parse(u.trim()) {
                Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => Some(Some(u.trim().to_string())),
                _ => {
                    problem(
                        "public_url",
                        format!("`{u}` is not an http(s) URL; write it exactly as configured at the provider"),
                    );
                    None
                }
            },
            (None, _) => Some(None),
        };
        let hmac = match scheme {
            Some(Scheme::Hmac) => self.hmac_options(&mut problem),
            _ => {
                for (field, set) in [
                    ("header", self.header.is_some()),
                    ("algorithm", self.algorithm.is_some()),
                    ("encoding", self.encoding.is_some()),
                    ("prefix", self.prefix.is_some()),
                    ("template", self.template.is_some()),
                    ("timestamp_header", self.timestamp_header.is_some()),
                ] {
                    if set && scheme.is_some() {
                        problem(field, "only the `hmac` scheme takes it; remove it".into());
                    }
                }
                Some(None)
            }
        };
        match (
            scheme,
            tolerance,
            dedupe_window,
            queue,
            event_id,
            event_type,
            tenant,
            max_body_bytes,
            ratelimit,
            public_url,
            hmac,
        ) {
            (
                Some(scheme),
                Some(tolerance),
                Some(dedupe_window),
                Some(queue),
                Some(event_id),
                Some(event_type),
                Some(tenant),
                Some(max_body_bytes),
                Some(ratelimit),
                Some(public_url),
                Some(hmac),
            ) if problems.is_empty() => Ok(Source {
                name: name.clone(),
                scheme,
                secrets,
                tolerance,
                queue,
                event_id,
                event_type,
                tenant,
                max_body_bytes,
                dedupe_window,
                ratelimit,
                public_url,
                hmac,
            }),
            _ => Err(problems),
        }
    }

    fn hmac_options(&self, problem: &mut impl FnMut(&'static str, String)) -> Option<Option<HmacOptions>> {
        let header = match &self.header {
            None => {
                problem(
                    "header",
                    "missing: the `hmac` scheme needs the header carrying the signature, e.g. `X-Signature`".into(),
                );
                None
            }
            Some(h) => h
                .trim()
                .parse::<http::HeaderName>()
                .map_err(|_| problem("header", format!("`{h}` is not a header name")))
                .ok(),
        };
        let algorithm = match &self.algorithm {
            None => Some(HmacAlgorithm::default()),
            Some(a) => {
                HmacAlgorithm::ALL.into_iter().find(|x| x.as_str() == a.trim().to_ascii_lowercase()).or_else(|| {
                    problem("algorithm", format!("`{a}` is not an algorithm; use `sha256` or `sha1`"));
                    None
                })
            }
        };
        let encoding = match &self.encoding {
            None => Some(HmacEncoding::default()),
            Some(e) => {
                HmacEncoding::ALL.into_iter().find(|x| x.as_str() == e.trim().to_ascii_lowercase()).or_else(|| {
                    problem("encoding", format!("`{e}` is not an encoding; use `hex` or `base64`"));
                    None
                })
            }
        };
        let timestamp_header = match &self.timestamp_header {
            None => Some(None),
            Some(h) => h
                .trim()
                .parse::<http::HeaderName>()
                .map(Some)
                .map_err(|_| problem("timestamp_header", format!("`{h}` is not a header name")))
                .ok(),
        };
        let template = self.template.clone().unwrap_or_else(|| "{body}".into());
        if !template.contains("{body}") {
            problem("template", "must contain `{body}`, e.g. `{timestamp}.{body}`".into());
        }
        if template.contains("{timestamp}") && self.timestamp_header.is_none() {
            problem(
                "timestamp_header",
                "missing: the template signs `{timestamp}`; name the header that carries it".into(),
            );
        }
        Some(Some(HmacOptions {
            header: header?,
            algorithm: algorithm?,
            encoding: encoding?,
            prefix: self.prefix.clone().unwrap_or_default(),
            template,
            timestamp_header: timestamp_header?,
        }))
    }

    /// This spec with every secret value replaced by `***` (and expiries
    /// kept), for answers and logs.
    pub fn masked(&self) -> SourceSpec {
        let mut out = self.clone();
        out.secret = None;
        out.secrets = self
            .all_secrets()
            .into_iter()
            .map(|s| SecretSpec { value: "***".into(), expires_at: s.expires_at })
            .collect();
        out
    }
}

/// The key of a Standard Webhooks secret: the base64 after `whsec_`.
fn standard_key(text: &str) -> Option<Vec<u8>> {
    let encoded = text.strip_prefix("whsec_").unwrap_or(text);
    STANDARD.decode(encoded).ok().filter(|k| !k.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name() -> SourceName {
        SourceName::new("src").unwrap()
    }

    fn fields(spec: SourceSpec) -> Vec<&'static str> {
        spec.validate(&name()).err().unwrap_or_default().into_iter().map(|p| p.field).collect()
    }

    #[test]
    fn defaults_fill_a_minimal_source() {
        let spec = SourceSpec { scheme: Some("stripe".into()), secret: Some("whsec_x".into()), ..Default::default() };
        let s = spec.validate(&name()).unwrap();
        assert_eq!(s.queue.as_str(), "src");
        assert_eq!(s.tolerance, DEFAULT_TOLERANCE);
        assert_eq!(s.dedupe_window, DEFAULT_DEDUPE_WINDOW);
        assert_eq!(s.max_body_bytes, 1024 * 1024);
        assert_eq!(s.event_id, vec!["/id".parse().unwrap()]);
        assert_eq!(s.secrets[0].key(), b"whsec_x");
    }

    #[test]
    fn every_problem_is_named_by_its_field() {
        let check = |spec: SourceSpec, expected: &[&str]| assert_eq!(fields(spec.clone()), expected, "{spec:?}");
        check(SourceSpec::default(), &["scheme"]);
        check(SourceSpec { scheme: Some("paypal".into()), ..Default::default() }, &["scheme"]);
        check(SourceSpec { scheme: Some("github".into()), ..Default::default() }, &["secrets"]);
        check(SourceSpec { scheme: Some("none".into()), secret: Some("s".into()), ..Default::default() }, &["secrets"]);
        check(
            SourceSpec {
                scheme: Some("twilio".into()),
                secret: Some("t".into()),
                public_url: Some("ftp://example.com/in/sms".into()),
                ..Default::default()
            },
            &["public_url"],
        );
        check(
            SourceSpec { scheme: Some("standard".into()), secret: Some("whsec_!!".into()), ..Default::default() },
            &["secrets"],
        );
        check(SourceSpec { scheme: Some("hmac".into()), secret: Some("s".into()), ..Default::default() }, &["header"]);
        check(
            SourceSpec {
                scheme: Some("hmac".into()),
                secret: Some("s".into()),
                header: Some("x-sig".into()),
                template: Some("{timestamp}.{body}".into()),
                ..Default::default()
            },
            &["timestamp_header"],
        );
        check(
            SourceSpec {
                scheme: Some("github".into()),
                secret: Some("s".into()),
                tolerance: Some("soon".into()),
                queue: Some("a b".into()),
                event_id: Some("".into()),
                max_body_bytes: Some(0),
                header: Some("x".into()),
                secrets: vec![SecretSpec { value: "t".into(), expires_at: Some("tomorrow".into()) }],
                ..Default::default()
            },
            &["tolerance", "queue", "event_id", "max_body_bytes", "secrets", "header"],
        );
    }

    #[test]
    fn secrets_expire_and_never_show() {
        let spec = SourceSpec {
            scheme: Some("github".into()),
            secrets: vec![SecretSpec { value: "old".into(), expires_at: Some("2026-01-01T00:00:00Z".into()) }],
            secret: Some("new".into()),
            ..Default::default()
        };
        let s = spec.validate(&name()).unwrap();
        let cutoff = UnixMillis::parse_rfc3339("2026-01-01T00:00:00Z").unwrap();
        assert!(s.secrets[1].live_at(UnixMillis(cutoff.0 - 1)));
        assert!(!s.secrets[1].live_at(cutoff));
        assert!(s.secrets[0].live_at(cutoff));
        assert!(!format!("{s:?}").contains("old"));
        let masked = spec.masked();
        assert!(masked.secrets.iter().all(|s| s.value == "***") && masked.secret.is_none());
        assert_eq!(masked.secrets.len(), 2);
    }
}
