//! Webhook signatures in the Standard Webhooks scheme.
//!
//! A message carries three headers: `webhook-id` (stable across retries of
//! the same message, so receivers can drop duplicates), `webhook-timestamp`
//! (Unix seconds) and `webhook-signature`: `v1,` and the base64 of
//! HMAC-SHA256 over `"{id}.{timestamp}.{body}"`, keyed with the bytes of the
//! secret (the base64 after `whsec_`). Several signatures may be sent
//! separated by spaces, so a key can be rotated; one that matches is enough.
//!
//! Push delivery signs with [`sign`]; webhook intake verifies with [`verify`].
//! Pure functions: time comes in as an argument.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The prefix of a secret's text form.
pub const SECRET_PREFIX: &str = "whsec_";

/// Bytes of a generated secret's key.
const GENERATED_KEY_BYTES: usize = 24;

/// Shortest key accepted: below this an HMAC key is guessable.
const MIN_KEY_BYTES: usize = 16;

/// Longest key accepted, so a pasted file cannot become a key.
const MAX_KEY_BYTES: usize = 64;

/// A signing secret: `whsec_` and the base64 of its key bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret {
    text: String,
    key: Vec<u8>,
}

/// Why a secret's text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// It does not start with `whsec_`.
    #[error("a secret starts with `whsec_` followed by base64, e.g. `whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw`")]
    Prefix,
    /// The part after `whsec_` is not base64.
    #[error("the part after `whsec_` is not valid base64")]
    Base64,
    /// The key is too short or too long.
    #[error("the key after `whsec_` is {0} bytes; it must be {MIN_KEY_BYTES} to {MAX_KEY_BYTES} bytes")]
    Length(usize),
}

impl WebhookSecret {
    /// Parses `whsec_<base64>`.
    pub fn parse(text: &str) -> Result<WebhookSecret, SecretError> {
        let text = text.trim();
        let encoded = text.strip_prefix(SECRET_PREFIX).ok_or(SecretError::Prefix)?;
        let key = STANDARD.decode(encoded).map_err(|_| SecretError::Base64)?;
        if !(MIN_KEY_BYTES..=MAX_KEY_BYTES).contains(&key.len()) {
            return Err(SecretError::Length(key.len()));
        }
        Ok(WebhookSecret { text: text.to_string(), key })
    }

    /// A new secret of 24 random bytes.
    pub fn generate() -> WebhookSecret {
        let key: [u8; GENERATED_KEY_BYTES] = rand::random();
        WebhookSecret { text: format!("{SECRET_PREFIX}{}", STANDARD.encode(key)), key: key.to_vec() }
    }

    /// The text form, `whsec_…`, to store or show to an operator.
    pub fn expose(&self) -> &str {
        &self.text
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(whsec_***)")
    }
}

fn mac(secret: &WebhookSecret, id: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&secret.key).unwrap_or_else(|_| unreachable!());
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `webhook-signature` value of a message: `v1,<base64 signature>`.
pub fn sign(secret: &WebhookSecret, id: &str, timestamp: i64, body: &[u8]) -> String {
    format!("v1,{}", STANDARD.encode(mac(secret, id, timestamp, body).finalize().into_bytes()))
}

/// Why a message's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The timestamp is not a whole number of seconds.
    #[error("webhook-timestamp is not a Unix time in seconds")]
    BadTimestamp,
    /// The timestamp is further from now than the tolerance.
    #[error("webhook-timestamp is {0}s away from now, more than the tolerance")]
    Stale(i64),
    /// No `v1` signature matched.
    #[error("no v1 signature in webhook-signature matches the message")]
    Mismatch,
}

/// Checks a message's headers against its body: the timestamp within
/// `tolerance_s` seconds of `now_s`, and one of the space-separated `v1`
/// signatures matching (compared in constant time).
pub fn verify(
    secret: &WebhookSecret,
    id: &str,
    timestamp: &str,
    signatures: &str,
    body: &[u8],
    now_s: i64,
    tolerance_s: i64,
) -> Result<(), VerifyError> {
    let ts: i64 = timestamp.trim().parse().map_err(|_| VerifyError::BadTimestamp)?;
    let skew = now_s.saturating_sub(ts).saturating_abs();
    if skew > tolerance_s {
        return Err(VerifyError::Stale(skew));
    }
    let expected = mac(secret, id, ts, body);
    let matched = signatures
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .filter_map(|s| STANDARD.decode(s).ok())
        .any(|sig| expected.clone().verify_slice(&sig).is_ok());
    if matched { Ok(()) } else { Err(VerifyError::Mismatch) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification, checked against
    /// Python's `hmac` and `base64`.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1_614_265_330;
    const BODY: &str = r#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn secret() -> WebhookSecret {
        WebhookSecret::parse(SECRET).unwrap()
    }

    #[test]
    fn signs_the_known_vector() {
        assert_eq!(sign(&secret(), ID, TS, BODY.as_bytes()), SIGNATURE);
    }

    #[test]
    fn verifies_what_it_signs_and_refuses_changes() {
        let check = |id: &str, ts: &str, sigs: &str, body: &str, now: i64| {
            verify(&secret(), id, ts, sigs, body.as_bytes(), now, 300)
        };
        let ts = TS.to_string();
        for (id, ts, sigs, body, now, expected) in [
            (ID, ts.as_str(), SIGNATURE, BODY, TS, Ok(())),
            (ID, ts.as_str(), SIGNATURE, BODY, TS + 300, Ok(())),
            (ID, ts.as_str(), &format!("v1,bm90IGl0 {SIGNATURE}") as &str, BODY, TS, Ok(())),
            (ID, ts.as_str(), SIGNATURE, BODY, TS + 301, Err(VerifyError::Stale(301))),
            (ID, ts.as_str(), SIGNATURE, BODY, TS - 400, Err(VerifyError::Stale(400))),
            (ID, "soon", SIGNATURE, BODY, TS, Err(VerifyError::BadTimestamp)),
            ("msg_other", ts.as_str(), SIGNATURE, BODY, TS, Err(VerifyError::Mismatch)),
            (ID, ts.as_str(), SIGNATURE, r#"{"test": 2432232315}"#, TS, Err(VerifyError::Mismatch)),
            (ID, ts.as_str(), "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", BODY, TS, Err(VerifyError::Mismatch)),
            (ID, ts.as_str(), "v1,not base64!", BODY, TS, Err(VerifyError::Mismatch)),
        ] {
            assert_eq!(check(id, ts, sigs, body, now), expected, "{id} {ts} {sigs} {body} {now}");
        }
    }

    #[test]
    fn secrets_parse_only_in_their_form() {
        assert_eq!(secret().expose(), SECRET);
        for (text, expected) in [
            ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", SecretError::Prefix),
            ("whsec_***", SecretError::Base64),
            ("whsec_c2hvcnQ=", SecretError::Length(5)),
        ] {
            assert_eq!(WebhookSecret::parse(text), Err(expected), "{text}");
        }
        assert!(!format!("{:?}", secret()).contains("MfKQ"), "Debug hides the key");
    }

    #[test]
    fn generated_secrets_parse_and_differ() {
        let (a, b) = (WebhookSecret::generate(), WebhookSecret::generate());
        assert_ne!(a, b);
        assert_eq!(WebhookSecret::parse(a.expose()).unwrap(), a);
        assert_eq!(a.expose().len(), SECRET_PREFIX.len() + 32);
    }
}
