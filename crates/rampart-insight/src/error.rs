//! Error events: what an app reports when something fails, and the
//! fingerprint that groups the same failure.
//!
//! A report's text is scrubbed of personal data and secrets by the server
//! before anything here or in the store sees it. The fingerprint, when the
//! app gives none, is a hash of the kind and the message with every word
//! that holds a digit replaced (`order 4411 failed` and `order 4412 failed`
//! are one failure), so ids and counts do not split a group.

use std::collections::BTreeMap;

use rampart_core::insight::ErrorLevel;
use rampart_core::time::UnixMillis;
use sha2::{Digest, Sha256};

use crate::{ReportError, check_len};

/// Longest kind, in characters.
pub const MAX_KIND_CHARS: usize = 200;
/// Longest message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 8_192;
/// Longest fingerprint given by the app, in characters.
pub const MAX_FINGERPRINT_CHARS: usize = 128;
/// Longest tenant, in characters.
pub const MAX_TENANT_CHARS: usize = 256;
/// Most tags on one event.
pub const MAX_TAGS: usize = 32;
/// Longest tag name, in characters (an empty name is allowed, as JSON allows it).(an empty name is allowed, as JSON allows it).
pub const MAX_TAG_NAME_CHARS: usize = 64;
/// Longest tag value, in characters.
pub const MAX_TAG_VALUE_CHARS: usize = 256;
/// Most events in one report.
pub const MAX_EVENTS: usize = 100;

/// One error an app reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorEvent {
    /// How bad it is.
    pub level: ErrorLevel,
    /// What kind of failure (`PaymentDeclined`, `db.timeout`): the unit counts and rules are kept by.
    pub kind: String,
    /// What happened.
    pub message: String,
    /// The app's own grouping; computed by [`fingerprint`] when left out.
    pub fingerprint: Option<String>,
    /// The tenant (organisation) it happened for.
    pub tenant: Option<String>,
    /// Free labels.
    pub tags: BTreeMap<String, String>,
    /// When it happened; the report's arrival when left out.
    pub at: Option<UnixMillis>,
}

impl ErrorEvent {
    /// Checks one event; `prefix` names it in the error (`events[2]`, or
    /// empty for a single event).
    pub fn validate(&self, prefix: &str) -> Result<(), ReportError> {
        let field = |name: &str| if prefix.is_empty() { name.to_string() } else { format!("{prefix}.{name}") };
        if self.kind.trim().is_empty() {
            return Err(ReportError::new(field("kind"), "must not be empty"));
        }
        check_len(&field("kind"), Some(&self.kind), MAX_KIND_CHARS)?;
        check_len(&field("message"), Some(&self.message), MAX_MESSAGE_CHARS)?;
        if self.fingerprint.as_deref().is_some_and(|f| f.is_empty()) {
            return Err(ReportError::new(field("fingerprint"), "must not be empty; leave it out to have one computed"));
        }
        check_len(&field("fingerprint"), self.fingerprint.as_deref(), MAX_FINGERPRINT_CHARS)?;
        check_len(&field("tenant"), self.tenant.as_deref(), MAX_TENANT_CHARS)?;
        if self.tags.len() > MAX_TAGS {
            return Err(ReportError::new(field("tags"), format!("at most {MAX_TAGS} tags")));
        }
        for (name, value) in &self.tags {
            if name.chars().count() > MAX_TAG_NAME_CHARS {
                return Err(ReportError::new(
                    field("tags"),
                    format!("a tag name has at most {MAX_TAG_NAME_CHARS} characters"),
                ));
            }
            check_len(&field(&format!("tags.{name}")), Some(value), MAX_TAG_VALUE_CHARS)?;
        }
        Ok(())
    }

    /// The fingerprint to group it by: the app's, else [`fingerprint`].
    pub fn grouping(&self) -> String {
        self.fingerprint.clone().unwrap_or_else(|| fingerprint(&self.kind, &self.message))
    }
}

/// The message with every word holding a digit replaced by `#`, words
/// being runs of letters, digits, `_` and `-`.
pub fn normalise(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if word.chars().any(|c| c.is_ascii_digit()) {
            out.push('#');
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in message.chars() {
        if c.is_alphanumeric() || c == '_' || c == '-' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// A failure's fingerprint: 16 hex digits of the SHA-256 of the kind and
/// the [`normalise`]d message.
pub fn fingerprint(kind: &str, message: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(kind.as_bytes());
    hash.update([0]);
    hash.update(normalise(message).as_bytes());
    hex::encode(&hash.finalize()[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, message: &str) -> ErrorEvent {
        ErrorEvent {
            level: ErrorLevel::Error,
            kind: kind.into(),
            message: message.into(),
            fingerprint: None,
            tenant: None,
            tags: BTreeMap::new(),
            at: None,
        }
    }

    #[test]
    fn words_with_digits_do_not_split_a_fingerprint() {
        let check = |a: &str, b: &str, same: bool| {
            assert_eq!(fingerprint("db.timeout", a) == fingerprint("db.timeout", b), same, "{a:?} vs {b:?}");
        };
        check("order 4411 failed", "order 4412 failed", true);
        check("user 5b0c2e3a-11aa-4f00-9a6c-3c1de8e0a001 gone", "user 7e1d4f20-2b3c-4d5e-8f90-a1b2c3d4e5f6 gone", true);
        check("took 120ms", "took 95ms", true);
        check("order failed", "payment failed", false);
        assert_ne!(fingerprint("a", "x"), fingerprint("b", "x"));
        assert_eq!(fingerprint("a", "x").len(), 16);
        assert_eq!(normalise("id=abc123, n: 7."), "id=#, n: #.");
    }

    #[test]
    fn the_apps_fingerprint_wins() {
        let mut e = event("k", "m 1");
        assert_eq!(e.grouping(), fingerprint("k", "m 2"));
        e.fingerprint = Some("mine".into());
        assert_eq!(e.grouping(), "mine");
    }

    #[test]
    fn events_are_refused_naming_the_field() {
        let check = |e: ErrorEvent| e.validate("events[3]").map_err(|e| e.field);
        assert_eq!(check(event("k", "m")), Ok(()));
        assert_eq!(check(event(" ", "m")), Err("events[3].kind".into()));
        assert_eq!(check(event(&"k".repeat(201), "m")), Err("events[3].kind".into()));
        assert_eq!(check(event("k", &"m".repeat(8193))), Err("events[3].message".into()));
        assert_eq!(
            check(ErrorEvent { fingerprint: Some(String::new()), ..event("k", "m") }),
            Err("events[3].fingerprint".into())
        );
        let tags = (0..33).map(|i| (format!("t{i}"), "v".into())).collect();
        assert_eq!(check(ErrorEvent { tags, ..event("k", "m") }), Err("events[3].tags".into()));
        let tags = [("region".to_string(), "v".repeat(257))].into();
        assert_eq!(check(ErrorEvent { tags, ..event("k", "m") }), Err("events[3].tags.region".into()));
        assert_eq!(event("", "m").validate("").unwrap_err().field, "kind");
    }
}
