//! The circuit-breaker part of the configuration: `[breaker_defaults]` and
//! `[breakers.NAME]`.
//!
//! A breaker's table sets only the keys it changes; the others come from
//! `[breaker_defaults]`. `failure_rate = 0` and `slow_call = "0s"` turn
//! those rules off, so a breaker can drop a rule its defaults have. `window`
//! and `min_calls` always hold a value and matter only with a failure rate.
//! Each policy is then checked as a whole (`BreakerPolicy::validate`), every
//! problem named by its key.

use std::collections::BTreeMap;
use std::time::Duration;

use rampart_core::breaker::{BreakerPolicy, FailureRate};
use rampart_core::id::BreakerName;
use toml::{Table, Value};

use crate::check::Check;
use crate::keys::{Key, Kind, Resolved, child, describe, key_list, kind_of};

/// The keys of `[breaker_defaults]` and `[breakers.NAME]`.
pub(crate) const BREAKER_KEYS: &[(&str, Kind)] = &[
    ("failure_threshold", Kind::Int),
    ("failure_rate", Kind::Float),
    ("window", Kind::Text),
    ("min_calls", Kind::Int),
    ("cooldown", Kind::Text),
    ("half_open_max", Kind::Int),
    ("slow_call", Kind::Text),
];

/// A breaker's keys as read, before they become a policy: `window` and
/// `min_calls` are kept even without a failure rate, for the breaker
/// tables that add one over the defaults.
#[derive(Debug, Clone, Copy)]
struct Settings {
    failure_threshold: u32,
    failure_rate: f64,
    window: Duration,
    min_calls: u32,
    cooldown: Duration,
    half_open_max: u32,
    slow_call: Duration,
}

impl Settings {
    fn policy(&self) -> BreakerPolicy {
        BreakerPolicy {
            failure_threshold: self.failure_threshold,
            failure_rate: (self.failure_rate > 0.0).then_some(FailureRate {
                threshold: self.failure_rate,
                window: self.window,
                min_calls: self.min_calls,
            }),
            cooldown: self.cooldown,
            half_open_max: self.half_open_max,
            slow_call: (!self.slow_call.is_zero()).then_some(self.slow_call),
        }
    }
}

impl Default for Settings {
    /// The built-in policy, with the window rampart documents for a rate.
    fn default() -> Self {
        let p = BreakerPolicy::default();
        Settings {
            failure_threshold: p.failure_threshold,
            failure_rate: 0.0,
            window: Duration::from_secs(60),
            min_calls: 10,
            cooldown: p.cooldown,
            half_open_max: p.half_open_max,
            slow_call: Duration::ZERO,
        }
    }
}

/// Resolves the key segments that follow `breaker_defaults` (`prefix` is
/// that) or `breakers.NAME` (`prefix` holds both).
pub(crate) fn resolve_key(mut prefix: Vec<String>, segments: &[&str]) -> Resolved {
    let shown = Key(&prefix).to_string();
    match segments {
        [] => Err(format!("`{shown}` is a table: set one of its keys, e.g. `{shown}.failure_threshold`")),
        [key] => {
            let key = key.to_ascii_lowercase();
            match kind_of(BREAKER_KEYS, &key) {
                Some(kind) => {
                    prefix.push(key);
                    Ok((prefix, kind))
                }
                None => Err(format!("`{shown}.{key}` is not a setting; breaker keys are {}", key_list(BREAKER_KEYS))),
            }
        }
        _ => Err(format!(
            "`{shown}.{}` is not a setting; breaker keys are {}",
            segments.join(".").to_ascii_lowercase(),
            key_list(BREAKER_KEYS)
        )),
    }
}

/// Resolves the segments after `breakers`: a name, then a key.
pub(crate) fn resolve_named(segments: &[&str]) -> Resolved {
    match segments.split_first() {
        Some((name, rest)) if !rest.is_empty() => resolve_key(vec!["breakers".into(), (*name).to_string()], rest),
        _ => Err("`breakers` needs a breaker name and a key, e.g. `breakers.payments-api.cooldown`".to_string()),
    }
}

/// Resolves a dotted flag key after `breakers.`: a breaker name may itself
/// hold dots, so the key is taken from the end.
pub(crate) fn resolve_dotted(rest: &str) -> Resolved {
    match rest.rsplit_once('.') {
        Some((name, key)) => resolve_named(&[name, key]),
        None => resolve_named(&[rest]),
    }
}

impl Check<'_> {
    /// Reads `[breaker_defaults]` and `[breakers.NAME]` from the merged
    /// table: the default policy, and each named breaker's resolved over it.
    pub(crate) fn breakers(&mut self, table: &Table) -> (BreakerPolicy, BTreeMap<BreakerName, BreakerPolicy>) {
        let defaults_path = vec!["breaker_defaults".to_string()];
        let defaults = match table.get("breaker_defaults") {
            Some(value) => self.breaker_settings(&defaults_path, value, &Settings::default()),
            None => Settings::default(),
        };
        let default_policy = self.breaker_policy(&defaults_path, &defaults).unwrap_or_default();
        let mut named = BTreeMap::new();
        let path = vec!["breakers".to_string()];
        let Some(breakers) =
            table.get("breakers").and_then(|value| self.table(&path, value, "a table of breakers ([breakers.NAME])"))
        else {
            return (default_policy, named);
        };
        for (name, value) in breakers {
            let path = child(&path, name);
            if kind_of(BREAKER_KEYS, name).is_some() && !value.is_table() {
                self.report(
                    &path,
                    format!(
                        "expected a table of settings for breaker {name:?}, got {}; settings for every breaker \
                         go in [breaker_defaults]",
                        describe(value)
                    ),
                );
                continue;
            }
            let settings = self.breaker_settings(&path, value, &defaults);
            let policy = self.breaker_policy(&path, &settings);
            match (BreakerName::new(name), policy) {
                (Ok(name), Some(policy)) => {
                    named.insert(name, policy);
                }
                (Err(e), _) => self.report(&path, e),
                (Ok(_), None) => {}
            }
        }
        (default_policy, named)
    }

    /// A breaker table over `base`: each key it sets replaces the base value.
    fn breaker_settings(&mut self, path: &[String], value: &Value, base: &Settings) -> Settings {
        let mut s = *base;
        let Some(table) = self.table(path, value, "a table of breaker settings") else { return s };
        let count = |check: &mut Self, path: &[String], value: &Value| {
            check.int(path, value, 1, u64::from(u32::MAX)).and_then(|n| u32::try_from(n).ok())
        };
        for (key, value) in table {
            let path = child(path, key);
            match key.as_str() {
                "failure_threshold" => s.failure_threshold = count(self, &path, value).unwrap_or(s.failure_threshold),
                "failure_rate" => s.failure_rate = self.float(&path, value, 0.0, 1.0).unwrap_or(s.failure_rate),
                "window" => s.window = self.duration(&path, value).unwrap_or(s.window),
                "min_calls" => s.min_calls = count(self, &path, value).unwrap_or(s.min_calls),
                "cooldown" => {
                    s.cooldown = self.positive_duration(&path, value, "must be more than 0s").unwrap_or(s.cooldown);
                }
                "half_open_max" => s.half_open_max = count(self, &path, value).unwrap_or(s.half_open_max),
                "slow_call" => s.slow_call = self.duration(&path, value).unwrap_or(s.slow_call),
                _ => self.unknown(&path, BREAKER_KEYS),
            }
        }
        s
    }

    /// The policy of a breaker table, its problems reported by key.
    fn breaker_policy(&mut self, path: &[String], settings: &Settings) -> Option<BreakerPolicy> {
        let policy = settings.policy();
        match policy.validate() {
            Ok(()) => Some(policy),
            Err(e) => {
                for problem in e.problems {
                    self.report(&child(path, problem.field), problem.message);
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;
    use crate::{Config, ConfigErrors, DEFAULT_TOML};

    fn load(file: &str, env: &[(&str, &str)], overrides: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
        testing::load(Some(file), env, overrides)
    }

    fn name(s: &str) -> BreakerName {
        BreakerName::new(s).unwrap()
    }

    #[test]
    fn defaults_are_five_failures_thirty_seconds_one_probe_and_no_named_breakers() {
        let config = load("", &[], &[]).unwrap();
        assert_eq!(config.breaker_defaults, BreakerPolicy::default());
        assert!(config.breakers.is_empty());
        assert_eq!(config.breaker("anything"), &BreakerPolicy::default());
        for (key, _) in BREAKER_KEYS {
            assert!(
                DEFAULT_TOML.contains(&format!("\n{key} = ")),
                "breaker key `{key}` missing from config.default.toml"
            );
        }
        assert!(DEFAULT_TOML.contains("\n# [breakers.payments-api]\n"));
    }

    #[test]
    fn breaker_tables_override_the_defaults_key_by_key() {
        let file = r#"
            [breaker_defaults]
            failure_rate = 0.5
            window = "30s"
            [breakers.payments-api]
            cooldown = "1m"
            [breakers."search.v2"]
            failure_rate = 0
            slow_call = "2s"
        "#;
        let config = load(file, &[], &[]).unwrap();
        let rate = Some(FailureRate { threshold: 0.5, window: Duration::from_secs(30), min_calls: 10 });
        assert_eq!(config.breaker_defaults.failure_rate, rate);
        let payments = config.breaker("payments-api");
        assert_eq!((payments.cooldown, payments.failure_rate), (Duration::from_secs(60), rate));
        let search = &config.breakers[&name("search.v2")];
        assert_eq!((search.failure_rate, search.slow_call), (None, Some(Duration::from_secs(2))));
        assert_eq!(search.cooldown, Duration::from_secs(30));
    }

    #[test]
    fn breakers_come_from_the_environment_and_flags() {
        let env = [
            ("RAMPART_BREAKER_DEFAULTS__HALF_OPEN_MAX", "3"),
            ("RAMPART_BREAKERS__payments-api__COOLDOWN", "2m"),
            ("RAMPART_BREAKERS__payments-api__FAILURE_RATE", "0.25"),
        ];
        let flags = [("breakers.api.v2.failure_threshold", "9")];
        let config = load("", &env, &flags).unwrap();
        assert_eq!(config.breaker_defaults.half_open_max, 3);
        let payments = &config.breakers[&name("payments-api")];
        assert_eq!((payments.cooldown, payments.half_open_max), (Duration::from_secs(120), 3));
        assert_eq!(payments.failure_rate.map(|r| r.threshold), Some(0.25));
        assert_eq!(config.breakers[&name("api.v2")].failure_threshold, 9);
    }

    #[test]
    fn every_breaker_problem_names_its_key() {
        let file = r#"
            [breaker_defaults]
            failure_threshold = 0
            half_open_max = 0
            [breakers.bad]
            failure_rate = 1.5
            cooldown = "0s"
            colour = "red"
            [breakers.slow]
            failure_rate = 0.5
            window = "50ms"
            min_calls = 0
            [breakers."has space"]
            cooldown = "1m"
        "#;
        let env = [("RAMPART_BREAKERS__x__NOPE", "1"), ("RAMPART_BREAKERS", "1")];
        let errors = load(file, &env, &[]).unwrap_err().0;
        let expect = [
            "RAMPART_BREAKERS__x__NOPE: `breakers.x.nope` is not a setting",
            "RAMPART_BREAKERS: `breakers` needs a breaker name and a key",
            "breaker_defaults.failure_threshold: must be at least 1",
            "breaker_defaults.half_open_max: must be at least 1",
            "breakers.bad.failure_rate: must be at most 1.0, got 1.5",
            "breakers.bad.cooldown: must be more than 0s",
            "breakers.bad.colour: unknown key",
            "breakers.slow.window: must be at least 100ms",
            "breakers.slow.min_calls: must be at least 1, got 0",
            "breakers.\"has space\": `has space` is not a breaker name",
        ];
        for line in expect {
            assert!(
                errors.iter().any(|e| e.starts_with(line)),
                "no error starting {line:?} in:\n{}",
                errors.join("\n")
            );
        }
    }
}
