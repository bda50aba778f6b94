//! The signature schemes and [`verify`], which runs on a request's raw
//! bytes before anything parses them.
//!
//! Each provider's rules live in a file of their own; they share
//! [`mac_matches`], which compares decoded MACs in constant time
//! (`Mac::verify_slice`), and [`check_timestamp`], the tolerance both ways.
//! A source's secrets are tried in order, expired ones skipped: any that
//! verifies lets the request through, which is how secrets are rotated.

mod github;
mod hmac;
mod shopify;
mod slack;
mod standard;
mod stripe;
mod twilio;

use ::hmac::{Hmac, Mac};
use http::HeaderMap;
use rampart_core::time::UnixMillis;
use sha1::Sha1;
use sha2::Sha256;

use crate::event::Locator;
use crate::source::{HmacAlgorithm, Source};

/// Why a scheme name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a scheme; use one of {names}", names = Scheme::names())]
pub struct UnknownScheme(pub String);

rampart_core::named_enum! {
    /// How a source's requests are signed.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Scheme {
        /// `Stripe-Signature: t=…,v1=…`: HMAC-SHA256 of `{t}.{body}`, hex.
        Stripe = "stripe",
        /// `X-Hub-Signature-256: sha256=…`: HMAC-SHA256 of the body, hex; no timestamp.
        Github = "github",
        /// `X-Slack-Signature: v0=…`: HMAC-SHA256 of `v0:{ts}:{body}`, hex.
        Slack = "slack",
        /// `X-Twilio-Signature`: HMAC-SHA1 of the URL and the sorted form fields, base64.
        Twilio = "twilio",
        /// `X-Shopify-Hmac-Sha256`: HMAC-SHA256 of the body, base64; no timestamp.
        Shopify = "shopify",
        /// Standard Webhooks (Svix): HMAC-SHA256 of `{id}.{ts}.{body}`, base64.
        Standard = "standard",
        /// A configured header, hash, encoding, prefix and signed template.
        Hmac = "hmac",
        /// No signature at all: anyone may post. Warned about at start.
        None = "none",
    }
    parse_error: UnknownScheme = |s| UnknownScheme(s.chars().take(64).collect());
}

impl Scheme {
    /// Every scheme's name, for messages.
    pub fn names() -> String {
        Scheme::ALL.map(|s| format!("`{}`", s.as_str())).join(", ")
    }

    /// Where the scheme's provider documents the event id, type and tenant.
    pub fn default_locators(self) -> Defaults {
        let l = |s: &str| s.parse::<Locator>().ok();
        let list = |items: &[&str]| items.iter().filter_map(|s| l(s)).collect::<Vec<_>>();
        match self {
            Scheme::Stripe => {
                Defaults { event_id: list(&["/id"]), event_type: list(&["/type"]), tenant: list(&["/account"]) }
            }
            Scheme::Github => Defaults {
                event_id: list(&["X-GitHub-Delivery"]),
                event_type: list(&["X-GitHub-Event"]),
                tenant: list(&["/organization/login", "/repository/owner/login"]),
            },
            Scheme::Slack => Defaults {
                event_id: list(&["/event_id"]),
                event_type: list(&["/event/type", "/type"]),
                tenant: list(&["/team_id"]),
            },
            Scheme::Twilio => Defaults {
                event_id: list(&["I-Twilio-Idempotency-Token", "/MessageSid", "/CallSid"]),
                event_type: list(&["/MessageStatus", "/CallStatus", "/SmsStatus"]),
                tenant: list(&["/AccountSid"]),
            },
            Scheme::Shopify => Defaults {
                event_id: list(&["X-Shopify-Event-Id", "X-Shopify-Webhook-Id"]),
                event_type: list(&["X-Shopify-Topic"]),
                tenant: list(&["X-Shopify-Shop-Domain"]),
            },
            Scheme::Standard => Defaults {
                event_id: list(&["webhook-id", "svix-id"]),
                event_type: list(&["/type"]),
                tenant: Vec::new(),
            },
            Scheme::Hmac | Scheme::None => Defaults::default(),
        }
    }

    /// The headers that carry its signature, masked in the delivery log.
    pub fn signature_headers(self) -> &'static [&'static str] {
        match self {
            Scheme::Stripe => &["stripe-signature"],
            Scheme::Github => &["x-hub-signature-256", "x-hub-signature"],
            Scheme::Slack => &["x-slack-signature"],
            Scheme::Twilio => &["x-twilio-signature"],
            Scheme::Shopify => &["x-shopify-hmac-sha256"],
            Scheme::Standard => &["webhook-signature", "svix-signature"],
            Scheme::Hmac | Scheme::None => &[],
        }
    }
}

/// A scheme's defaults for where the event id, type and tenant are.
#[derive(Debug, Clone, Default)]
pub struct Defaults {
    /// The event id, first found wins.
    pub event_id: Vec<Locator>,
    /// The event type.
    pub event_type: Vec<Locator>,
    /// The tenant.
    pub tenant: Vec<Locator>,
}

/// A request as it arrived, before anything parsed it.
#[derive(Debug, Clone, Copy)]
pub struct Inbound<'a> {
    /// Its headers.
    pub headers: &'a HeaderMap,
    /// Its body, byte for byte.
    pub body: &'a [u8],
    /// The request's query string, without `?` (Twilio signs it with the URL).
    pub query: Option<&'a str>,
    /// The URL the sender called, without the query, as the server rebuilt
    /// it (from `Host`, and from a trusted proxy's `X-Forwarded-Proto` and
    /// `X-Forwarded-Host`); Twilio's check uses it when the source sets no
    /// `public_url`.
    pub url: Option<&'a str>,
}

impl Inbound<'_> {
    /// A header's value as text; `None` when absent or not visible ASCII.
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A header the scheme needs.
    fn required(&self, name: &'static str) -> Result<&str, Rejection> {
        self.header(name).ok_or(Rejection::Missing(name.to_string()))
    }
}

/// Why a request was refused: unsigned, forged or stale.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// A header the scheme signs with is absent.
    #[error("the request has no `{0}` header; the sender must sign it (check the source's scheme)")]
    Missing(String),
    /// No unexpired secret's MAC matches.
    #[error("the signature does not match the body with any current secret of this source")]
    Invalid,
    /// The signed timestamp is further from now than the tolerance.
    #[error("the signed timestamp is {0}s away from now, more than the source's tolerance; a replay or a wrong clock")]
    Stale(i64),
    /// The timestamp does not read.
    #[error("the signed timestamp is not a Unix time in seconds")]
    BadTimestamp,
}

impl Rejection {
    /// The error code of the `401` answer.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::Missing(_) => "SIGNATURE_MISSING",
            Rejection::Invalid => "SIGNATURE_INVALID",
            Rejection::Stale(_) | Rejection::BadTimestamp => "TIMESTAMP_STALE",
        }
    }
}

/// Checks a request against its source at `now`: the scheme's headers, the
/// signed timestamp within the tolerance, and one unexpired secret's MAC.
pub fn verify(source: &Source, req: &Inbound<'_>, now: UnixMillis) -> Result<(), Rejection> {
    let keys: Vec<&[u8]> = source.secrets.iter().filter(|s| s.live_at(now)).map(|s| s.key()).collect();
    let ctx = Context { keys: &keys, now_s: now.0.div_euclid(1000), tolerance_s: tolerance_secs(source) };
    match source.scheme {
        Scheme::None => Ok(()),
        Scheme::Stripe => stripe::verify(&ctx, req),
        Scheme::Github => github::verify(&ctx, req),
        Scheme::Slack => slack::verify(&ctx, req),
        Scheme::Twilio => match source.public_url.as_deref().or(req.url) {
            Some(url) => twilio::verify(&ctx, req, url),
            None => Err(Rejection::Invalid),
        },
        Scheme::Shopify => shopify::verify(&ctx, req),
        Scheme::Standard => standard::verify(&ctx, req),
        Scheme::Hmac => match &source.hmac {
            Some(opts) => hmac::verify(&ctx, req, opts),
            None => Err(Rejection::Invalid),
        },
    }
}

fn tolerance_secs(source: &Source) -> i64 {
    i64::try_from(source.tolerance.as_secs()).unwrap_or(i64::MAX)
}

/// What every scheme checks with.
pub(crate) struct Context<'a> {
    /// The keys of the unexpired secrets.
    keys: &'a [&'a [u8]],
    now_s: i64,
    tolerance_s: i64,
}

impl Context<'_> {
    /// Whether any key's MAC of `parts` equals one of `candidates`.
    fn matches(&self, algorithm: HmacAlgorithm, parts: &[&[u8]], candidates: &[Vec<u8>]) -> bool {
        self.keys.iter().any(|key| mac_matches(algorithm, key, parts, candidates))
    }

    /// `Ok` when the timestamp `ts` (Unix seconds, as text) is within the tolerance of now.
    fn check_timestamp(&self, ts: &str) -> Result<i64, Rejection> {
        check_timestamp(ts, self.now_s, self.tolerance_s)
    }
}

/// Whether the MAC of `parts` with `key` equals one of `candidates`, each compared in constant time.
pub(crate) fn mac_matches(algorithm: HmacAlgorithm, key: &[u8], parts: &[&[u8]], candidates: &[Vec<u8>]) -> bool {
    match algorithm {
        HmacAlgorithm::Sha256 => {
            let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else { return false };
            parts.iter().for_each(|p| mac.update(p));
            candidates.iter().any(|c| mac.clone().verify_slice(c).is_ok())
        }
        HmacAlgorithm::Sha1 => {
            let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(key) else { return false };
            parts.iter().for_each(|p| mac.update(p));
            candidates.iter().any(|c| mac.clone().verify_slice(c).is_ok())
        }
    }
}

/// The MAC of `parts` with `key` (for tests and the bench's signer).
pub fn mac(algorithm: HmacAlgorithm, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    match algorithm {
        HmacAlgorithm::Sha256 => {
            let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else { return Vec::new() };
            parts.iter().for_each(|p| mac.update(p));
            mac.finalize().into_bytes().to_vec()
        }
        HmacAlgorithm::Sha1 => {
            let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(key) else { return Vec::new() };
            parts.iter().for_each(|p| mac.update(p));
            mac.finalize().into_bytes().to_vec()
        }
    }
}

/// A signed timestamp (Unix seconds) within `tolerance_s` of `now_s`, either way.
pub(crate) fn check_timestamp(ts: &str, now_s: i64, tolerance_s: i64) -> Result<i64, Rejection> {
    let ts: i64 = ts.trim().parse().map_err(|_| Rejection::BadTimestamp)?;
    let skew = now_s.saturating_sub(ts).saturating_abs();
    if skew > tolerance_s { Err(Rejection::Stale(skew)) } else { Ok(ts) }
}

/// Hex text to bytes; `None` when it is not hex (it then matches nothing).
fn unhex(text: &str) -> Option<Vec<u8>> {
    hex::decode(text.trim()).ok()
}

/// Base64 text to bytes; `None` when it is not base64.
fn unbase64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(text.trim()).ok()
}

#[cfg(test)]
pub(crate) mod tests;
