//! Keys: what kind of value each key holds, how a key path is shown, and
//! how a value is described in a message.
//!
//! The bottom of the crate. Each section lists its own keys as a table of
//! `(name, Kind)` pairs; the layers use the kind to read a string from the
//! environment or a flag, and the checks use the table to name the keys
//! allowed where an unknown one was found.

use std::fmt;

use toml::Value;

/// What a key holds; decides how a string from the environment or a flag is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A string (addresses, paths, names of variants, durations).
    Text,
    /// A whole number.
    Int,
    /// A number, whole or not.
    Float,
    /// `true` or `false`.
    Bool,
    /// An array of strings; from the environment or a flag, comma-separated.
    List,
    /// A table of further keys.
    Table,
}

/// A key and its path with its kind, as the environment and flags resolve
/// them: `Err` is the message saying why the key does not exist.
pub(crate) type Resolved = Result<(Vec<String>, Kind), String>;

/// The kind of `key` in a section's table of keys, if it is one.
pub(crate) fn kind_of(keys: &[(&str, Kind)], key: &str) -> Option<Kind> {
    keys.iter().find(|(name, _)| *name == key).map(|(_, kind)| *kind)
}

/// "`a`, `b`, `c`": the keys allowed in a table, for error messages.
pub(crate) fn key_list(keys: &[(&str, Kind)]) -> String {
    keys.iter().map(|(name, _)| format!("`{name}`")).collect::<Vec<_>>().join(", ")
}

/// Resolves the one key after a section with no sub-tables (`postgres`,
/// `monitoring`, …): its path and kind, or why it is not a setting. `example`
/// is the key the message suggests when the section itself was named.
pub(crate) fn resolve_flat(section: &str, keys: &[(&str, Kind)], example: &str, rest: &[&str]) -> Resolved {
    match rest {
        [key] => {
            let key = key.to_ascii_lowercase();
            match kind_of(keys, &key) {
                Some(kind) => Ok((vec![section.to_string(), key], kind)),
                None => Err(format!("`{section}.{key}` is not a setting; {section} keys are {}", key_list(keys))),
            }
        }
        [] => Err(format!("`{section}` is a table: set one of its keys, e.g. `{section}.{example}`")),
        _ => Err(format!("`{section}` keys have no sub-keys; {section} keys are {}", key_list(keys))),
    }
}

/// A key path shown as a dotted TOML key; segments that are not bare keys
/// (a queue name with `.` or `:`) are quoted.
pub(crate) struct Key<'a>(pub(crate) &'a [String]);

impl fmt::Display for Key<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            let bare =
                !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if bare {
                f.write_str(segment)?;
            } else {
                write!(f, "{segment:?}")?;
            }
        }
        Ok(())
    }
}

/// `path` with `key` added.
pub(crate) fn child(path: &[String], key: &str) -> Vec<String> {
    let mut path = path.to_vec();
    path.push(key.to_string());
    path
}

/// What a value is, for "expected …, got …" messages.
pub(crate) fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => format!("the string {s:?}"),
        Value::Integer(i) => format!("the integer {i}"),
        Value::Float(x) => format!("the number {x:?}"),
        Value::Boolean(b) => format!("the boolean {b}"),
        Value::Datetime(d) => format!("the date-time {d}"),
        Value::Array(_) => "an array".to_string(),
        Value::Table(_) => "a table".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_are_not_bare_are_quoted() {
        let path = ["queues", "billing.invoices:v2", "timeout"].map(String::from);
        assert_eq!(Key(&path).to_string(), "queues.\"billing.invoices:v2\".timeout");
        assert_eq!(Key(&["queue_defaults".to_string(), "max-x".to_string()]).to_string(), "queue_defaults.max-x");
    }
}
