//! The validating walk's primitives: reading one value as text, a number, a
//! duration, … and recording a problem with the key's path and the layer
//! that set it.
//!
//! Every section adds its own methods to [`Check`] (`impl Check<'_>` in
//! `queues.rs`, `alerts.rs`, …) built on these; a primitive never stops
//! the walk, it reports and answers `None`, so every problem is found in
//! one pass.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use rampart_core::cron::{Schedule, Timezone};
use rampart_core::duration::parse_duration;
use toml::{Table, Value};

use crate::keys::{Key, Kind, describe, key_list};
use crate::layers::Source;

/// The validating walk over the merged table, collecting every problem.
pub(crate) struct Check<'a> {
    sources: &'a BTreeMap<Vec<String>, Source>,
    /// One line per problem, in the order found.
    pub(crate) errors: Vec<String>,
}

impl<'a> Check<'a> {
    /// A walk that names each key's source from `sources`.
    pub(crate) fn new(sources: &'a BTreeMap<Vec<String>, Source>) -> Check<'a> {
        Check { sources, errors: Vec::new() }
    }

    /// Records a problem with a key, naming where the key (or the nearest
    /// table holding it) was set.
    pub(crate) fn report(&mut self, path: &[String], problem: impl fmt::Display) {
        let source = (0..=path.len()).rev().find_map(|n| self.sources.get(&path[..n]));
        let line = match source {
            Some(source) => format!("{}: {problem} ({source})", Key(path)),
            None => format!("{}: {problem} (built-in default)", Key(path)),
        };
        self.errors.push(line);
    }

    /// How late the layer that set a key comes: 0 for the built-in defaults.
    pub(crate) fn layer_of(&self, path: &[String]) -> u8 {
        self.sources.get(path).map_or(0, Source::layer)
    }

    /// Reports a key that is not one of `allowed`.
    pub(crate) fn unknown(&mut self, path: &[String], allowed: &[(&str, Kind)]) {
        self.report(path, format!("unknown key; allowed keys here are {}", key_list(allowed)));
    }

    /// A table; `what` says what it should hold.
    pub(crate) fn table<'v>(&mut self, path: &[String], value: &'v Value, what: &str) -> Option<&'v Table> {
        match value {
            Value::Table(table) => Some(table),
            other => {
                self.report(path, format!("expected {what}, got {}", describe(other)));
                None
            }
        }
    }

    /// A string.
    pub(crate) fn text<'v>(&mut self, path: &[String], value: &'v Value) -> Option<&'v str> {
        match value {
            Value::String(s) => Some(s),
            other => {
                self.report(path, format!("expected a string, got {}", describe(other)));
                None
            }
        }
    }

    /// A URL that may hold a password: empty means unset, and a message
    /// about it never quotes it.
    pub(crate) fn secret_url<T>(
        &mut self,
        path: &[String],
        value: &Value,
        parse: fn(&str) -> Result<T, String>,
    ) -> Option<T> {
        let s = self.text(path, value)?;
        if s.trim().is_empty() {
            return None;
        }
        parse(s).map_err(|e| self.report(path, e)).ok()
    }

    /// `true` or `false`.
    pub(crate) fn boolean(&mut self, path: &[String], value: &Value) -> Option<bool> {
        match value {
            Value::Boolean(b) => Some(*b),
            other => {
                self.report(path, format!("expected true or false, got {}", describe(other)));
                None
            }
        }
    }

    /// A whole number within `min..=max`.
    pub(crate) fn int(&mut self, path: &[String], value: &Value, min: u64, max: u64) -> Option<u64> {
        let n = match value {
            Value::Integer(n) => *n,
            other => {
                self.report(path, format!("expected a whole number, got {}", describe(other)));
                return None;
            }
        };
        match u64::try_from(n) {
            Ok(n) if n < min => self.report(path, format!("must be at least {min}, got {n}")),
            Err(_) => self.report(path, format!("must be at least {min}, got {n}")),
            Ok(n) if n > max => self.report(path, format!("must be at most {max}, got {n}")),
            Ok(n) => return Some(n),
        }
        None
    }

    /// A count from 1 to `u32::MAX`.
    pub(crate) fn count(&mut self, path: &[String], value: &Value) -> Option<u32> {
        self.int(path, value, 1, u64::from(u32::MAX)).and_then(|n| u32::try_from(n).ok())
    }

    /// A size from `min` to the largest `usize`.
    pub(crate) fn size(&mut self, path: &[String], value: &Value, min: u64) -> Option<usize> {
        let max = u64::try_from(usize::MAX).unwrap_or(u64::MAX);
        self.int(path, value, min, max).and_then(|n| usize::try_from(n).ok())
    }

    /// A finite number within `min..=max`; whole numbers are accepted.
    pub(crate) fn float(&mut self, path: &[String], value: &Value, min: f64, max: f64) -> Option<f64> {
        let x = match value {
            Value::Float(x) => *x,
            Value::Integer(n) => *n as f64,
            other => {
                self.report(path, format!("expected a number, got {}", describe(other)));
                return None;
            }
        };
        if !x.is_finite() {
            self.report(path, format!("must be a finite number, got {x:?}"));
        } else if x < min {
            self.report(path, format!("must be at least {min:?}, got {x:?}"));
        } else if x > max {
            self.report(path, format!("must be at most {max:?}, got {x:?}"));
        } else {
            return Some(x);
        }
        None
    }

    /// Parses an expression in a zone, reporting a bad one at `path`.
    pub(crate) fn schedule(&mut self, path: &[String], value: &Value, timezone: Timezone) -> Option<String> {
        let text = self.text(path, value)?;
        match Schedule::new(text, timezone) {
            Ok(s) => Some(s.expression().to_string()),
            Err(e) => {
                self.report(path, e);
                None
            }
        }
    }

    /// An IANA time zone, reporting a bad one at `path`.
    pub(crate) fn timezone(&mut self, path: &[String], value: &Value) -> Option<Timezone> {
        let text = self.text(path, value)?;
        text.trim().parse().map_err(|e| self.report(path, e)).ok()
    }

    /// A human duration string such as `"30s"`.
    pub(crate) fn duration(&mut self, path: &[String], value: &Value) -> Option<Duration> {
        let Value::String(s) = value else {
            self.report(path, format!("expected a duration string such as \"30s\", got {}", describe(value)));
            return None;
        };
        match parse_duration(s) {
            Ok(d) => Some(d),
            Err(e) => {
                self.report(path, e);
                None
            }
        }
    }

    /// A duration that must not be zero.
    pub(crate) fn positive_duration(&mut self, path: &[String], value: &Value, if_zero: &str) -> Option<Duration> {
        let d = self.duration(path, value)?;
        if d.is_zero() {
            self.report(path, if_zero);
            return None;
        }
        Some(d)
    }

    /// One of `choices`, read by [`choose`].
    pub(crate) fn choice<T: Copy>(
        &mut self,
        path: &[String],
        value: &Value,
        what: &str,
        choices: &[(&str, T)],
    ) -> Option<T> {
        let s = self.text(path, value)?;
        choose(s, what, choices).map_err(|e| self.report(path, e)).ok()
    }
}

/// The value of the name `s` gives among `choices` (`(name, value)`),
/// compared without case or surrounding space; else a message naming the
/// kind of thing (`what`) and the choices: `"fast" is not a durability; use
/// "full" or "normal"`.
pub(crate) fn choose<T: Copy>(s: &str, what: &str, choices: &[(&str, T)]) -> Result<T, String> {
    let wanted = s.trim().to_ascii_lowercase();
    match choices.iter().find(|(name, _)| *name == wanted) {
        Some((_, chosen)) => Ok(*chosen),
        None => Err(format!("{s:?} is not {what}; use {}", one_of(choices.iter().map(|(name, _)| *name)))),
    }
}

/// `"a", "b" or "c"`: the choices a message offers.
pub(crate) fn one_of<'n>(names: impl Iterator<Item = &'n str>) -> String {
    let quoted: Vec<String> = names.map(|name| format!("{name:?}")).collect();
    match quoted.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_one<T>(
        value: Value,
        read: impl FnOnce(&mut Check<'_>, &[String], &Value) -> Option<T>,
    ) -> Result<T, String> {
        let sources = BTreeMap::from([(vec!["a".to_string()], Source::Env("RAMPART_A".into()))]);
        let mut check = Check::new(&sources);
        let path = vec!["a".to_string(), "b".to_string()];
        match read(&mut check, &path, &value) {
            Some(v) if check.errors.is_empty() => Ok(v),
            _ => Err(check.errors.join("\n")),
        }
    }

    #[test]
    fn each_primitive_names_the_key_and_the_nearest_source() {
        let int = check_one(Value::Integer(0), |c, p, v| c.int(p, v, 1, 5));
        assert_eq!(int, Err("a.b: must be at least 1, got 0 (from RAMPART_A)".into()));
        assert_eq!(check_one(Value::Integer(3), |c, p, v| c.int(p, v, 1, 5)), Ok(3));
        let text = check_one(Value::Boolean(true), |c, p, v| c.text(p, v).map(str::to_string));
        assert_eq!(text, Err("a.b: expected a string, got the boolean true (from RAMPART_A)".into()));
        let choices = [("full", 1), ("normal", 2)];
        assert_eq!(check_one(" Normal ".into(), |c, p, v| c.choice(p, v, "a durability", &choices)), Ok(2));
        let bad = check_one("fast".into(), |c, p, v| c.choice(p, v, "a durability", &choices));
        assert_eq!(bad, Err("a.b: \"fast\" is not a durability; use \"full\" or \"normal\" (from RAMPART_A)".into()));
        let zero = check_one("0s".into(), |c, p, v| c.positive_duration(p, v, "must be more than 0s"));
        assert_eq!(zero, Err("a.b: must be more than 0s (from RAMPART_A)".into()));
        assert_eq!(check_one("2m".into(), |c, p, v| c.duration(p, v)), Ok(Duration::from_secs(120)));
        let nan = check_one(Value::Float(f64::NAN), |c, p, v| c.float(p, v, 0.0, 1.0));
        assert_eq!(nan, Err("a.b: must be a finite number, got NaN (from RAMPART_A)".into()));
    }

    #[test]
    fn choices_read_as_a_sentence() {
        assert_eq!(one_of(["a"].into_iter()), "\"a\"");
        assert_eq!(one_of(["a", "b"].into_iter()), "\"a\" or \"b\"");
        assert_eq!(one_of(["a", "b", "c"].into_iter()), "\"a\", \"b\" or \"c\"");
    }
}
