//! NUL (U+0000) in strings from outside: the one rule.
//!
//! PostgreSQL cannot keep the NUL character in text, and a NUL in a name or
//! key is never meant. So every string rampart keeps follows one rule, the
//! same whichever store holds it:
//!
//! - **Names and keys** (queue names, `unique_key`, a lease's `worker`, API
//!   key names, rate-limit keys, lease tokens, …) holding a NUL are refused,
//!   with the field named ([`check_key`], and [`key`] for serde fields).
//! - **Free text** (a failure's `error`, a silence's `reason`, an
//!   integration's `last_error`, a cron `description`, …) keeps its meaning
//!   with every NUL replaced by U+FFFD, the replacement character
//!   ([`clean`], and [`free`] for serde fields).
//!
//! JSON payloads and results are JSON text, where a NUL inside a string is
//! the six characters `\u0000` (JSON allows no raw control character), so
//! they are kept byte for byte and round-trip on every store.
//!
//! The API applies the rule as it reads a request (the serde helpers below
//! name the field in the 400), and the store applies it again to whatever
//! reaches it by another road (an in-process worker, a service), so a NUL
//! never becomes a database error.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer};

/// What free text gets in place of a NUL.
pub const REPLACEMENT: char = '\u{FFFD}';

/// Free text with every NUL replaced by [`REPLACEMENT`]; unchanged (and not
/// copied) when it holds none.
pub fn clean(text: &str) -> Cow<'_, str> {
    if text.contains('\0') { Cow::Owned(text.replace('\0', "\u{FFFD}")) } else { Cow::Borrowed(text) }
}

/// [`clean`] for an owned string: no copy when it holds no NUL.
pub fn clean_owned(text: String) -> String {
    if text.contains('\0') { text.replace('\0', "\u{FFFD}") } else { text }
}

/// Why a name or key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}` must not contain the NUL character (U+0000): {NUL_IN_KEY}")]
pub struct NulError {
    /// The field that held it.
    pub field: String,
}

/// Why names and keys cannot hold a NUL, for error messages.
pub const NUL_IN_KEY: &str = "names and keys cannot hold it; remove it";

/// Refuses a name or key that holds a NUL, naming `field`.
pub fn check_key(field: &str, value: &str) -> Result<(), NulError> {
    if value.contains('\0') { Err(NulError { field: field.to_string() }) } else { Ok(()) }
}

/// A serde field holding a name or key: a NUL in it is refused, and the
/// deserializer's path names the field.
pub fn key<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    if s.contains('\0') {
        return Err(serde::de::Error::custom(format!("must not contain the NUL character (U+0000): {NUL_IN_KEY}")));
    }
    Ok(s)
}

/// [`key`] for an optional field (use with `#[serde(default)]`).
pub fn key_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<String>::deserialize(d)? {
        Some(s) if s.contains('\0') => {
            Err(serde::de::Error::custom(format!("must not contain the NUL character (U+0000): {NUL_IN_KEY}")))
        }
        other => Ok(other),
    }
}

/// A serde field holding free text: every NUL becomes [`REPLACEMENT`].
pub fn free<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    String::deserialize(d).map(clean_owned)
}

/// [`free`] for an optional field (use with `#[serde(default)]`).
pub fn free_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(d).map(|o| o.map(clean_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_text_keeps_its_meaning_with_nul_replaced() {
        for (input, expected) in [
            ("plain", "plain"),
            ("", ""),
            ("a\0b", "a\u{FFFD}b"),
            ("\0\0", "\u{FFFD}\u{FFFD}"),
            ("exit 1: \0stderr", "exit 1: \u{FFFD}stderr"),
        ] {
            assert_eq!(clean(input), expected, "{input:?}");
            assert_eq!(clean_owned(input.to_string()), expected, "{input:?}");
        }
        assert!(matches!(clean("no nul"), Cow::Borrowed(_)));
    }

    #[test]
    fn keys_with_nul_are_refused_naming_the_field() {
        assert_eq!(check_key("unique_key", "user-1"), Ok(()));
        let err = check_key("unique_key", "user\0-1").unwrap_err();
        assert_eq!(err.field, "unique_key");
        assert!(err.to_string().starts_with("`unique_key` must not contain the NUL character (U+0000)"), "{err}");
    }

    #[derive(Debug, serde::Deserialize)]
    struct Request {
        #[serde(deserialize_with = "key")]
        name: String,
        #[serde(default, deserialize_with = "key_opt")]
        worker: Option<String>,
        #[serde(deserialize_with = "free")]
        error: String,
        #[serde(default, deserialize_with = "free_opt")]
        reason: Option<String>,
    }

    #[test]
    fn serde_fields_apply_the_rule_as_they_are_read() {
        let ok: Request =
            serde_json::from_str(r#"{"name":"n","worker":"w","error":"a\u0000b","reason":"\u0000"}"#).unwrap();
        assert_eq!((ok.name.as_str(), ok.worker.as_deref()), ("n", Some("w")));
        assert_eq!((ok.error.as_str(), ok.reason.as_deref()), ("a\u{FFFD}b", Some("\u{FFFD}")));
        let absent: Request = serde_json::from_str(r#"{"name":"n","error":"e"}"#).unwrap();
        assert_eq!((absent.worker, absent.reason), (None, None));
        for bad in [r#"{"name":"n\u0000","error":"e"}"#, r#"{"name":"n","worker":"\u0000w","error":"e"}"#] {
            let err = serde_json::from_str::<Request>(bad).unwrap_err();
            assert!(err.to_string().contains("must not contain the NUL character"), "{bad}: {err}");
        }
    }
}
