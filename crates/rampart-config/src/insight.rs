//! What apps report about themselves: `[caches]` (the thresholds of the
//! cache rules, each cache's own in `[caches.NAME]`, and how long cache
//! telemetry is kept) and `[errors]` (how long error events are kept,
//! relaying them to Sentry, and the `error_count` rules in
//! `[errors.rules.NAME]`).
//!
//! Retention runs inside the built-in `rampart.retention` schedule; the
//! thresholds are `rampart_insight::cache::CacheThresholds`, whose defaults
//! are the seed's (90% full, 50% hits once 20 loads, 2 GiB).

use std::collections::BTreeMap;
use std::time::Duration;

use rampart_core::id::CacheName;
use rampart_insight::cache::CacheThresholds;
use toml::Value;

use crate::check::Check;
use crate::keys::{Kind, Resolved, child, key_list, kind_of};

/// The keys of `[caches]` itself.
pub(crate) const CACHES_KEYS: &[(&str, Kind)] = &[
    ("retention", Kind::Text),
    ("utilisation", Kind::Float),
    ("hit_rate", Kind::Float),
    ("min_loads", Kind::Int),
    ("memory_bytes", Kind::Int),
];

/// The keys of a `[caches.NAME]` table: its own thresholds.
pub(crate) const CACHE_KEYS: &[(&str, Kind)] =
    &[("utilisation", Kind::Float), ("hit_rate", Kind::Float), ("min_loads", Kind::Int), ("memory_bytes", Kind::Int)];

/// The keys of `[errors]` itself.
pub(crate) const ERRORS_KEYS: &[(&str, Kind)] =
    &[("retention", Kind::Text), ("relay_to_sentry", Kind::Bool), ("rules", Kind::Table)];

/// The keys of an `[errors.rules.NAME]` table.
pub(crate) const RULE_KEYS: &[(&str, Kind)] = &[("kind", Kind::Text), ("threshold", Kind::Int), ("window", Kind::Text)];

/// Cache telemetry's settings (`[caches]`).
#[derive(Debug, Clone, PartialEq)]
pub struct CachesConfig {
    /// Intervals, evictions and silent caches older than this go (`retention`).
    pub retention: Duration,
    /// The thresholds of every cache without its own table.
    pub defaults: CacheThresholds,
    /// Caches with their own thresholds (`[caches.NAME]`), resolved over the defaults.
    pub caches: BTreeMap<CacheName, CacheThresholds>,
}

impl Default for CachesConfig {
    fn default() -> Self {
        CachesConfig {
            retention: Duration::from_secs(7 * 86_400),
            defaults: CacheThresholds::default(),
            caches: BTreeMap::new(),
        }
    }
}

impl CachesConfig {
    /// The thresholds `name` is held to.
    pub fn thresholds(&self, name: &CacheName) -> CacheThresholds {
        self.caches.get(name).copied().unwrap_or(self.defaults)
    }
}

/// An `error_count` rule: fires when more than `threshold` error events
/// (of `kind`, or of any kind) arrived within `window`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorCountRule {
    /// Only events of this kind; `None` counts every kind.
    pub kind: Option<String>,
    /// Events in the window above which it fires.
    pub threshold: u64,
    /// How far back it counts.
    pub window: Duration,
}

/// Error events' settings (`[errors]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorsConfig {
    /// Error events and their counts older than this go (`retention`).
    pub retention: Duration,
    /// Whether each event is also sent to Sentry when `[sentry]` has a DSN
    /// (`relay_to_sentry`).
    pub relay_to_sentry: bool,
    /// The `error_count` rules by name (`[errors.rules.NAME]`).
    pub rules: BTreeMap<String, ErrorCountRule>,
}

impl Default for ErrorsConfig {
    fn default() -> Self {
        ErrorsConfig { retention: Duration::from_secs(30 * 86_400), relay_to_sentry: false, rules: BTreeMap::new() }
    }
}

/// Resolves the key segments that follow `caches` (environment and flags):
/// one of its own keys, or a cache's name and one of its keys.
pub(crate) fn resolve_caches_key(segments: &[&str]) -> Resolved {
    match segments {
        [key] => {
            let key = key.to_ascii_lowercase();
            match kind_of(CACHES_KEYS, &key) {
                Some(kind) => Ok((vec!["caches".into(), key], kind)),
                None => Err(format!(
                    "`caches.{key}` is not a setting; caches keys are {}, or a cache's `caches.NAME.KEY`",
                    key_list(CACHES_KEYS)
                )),
            }
        }
        [name, key] => {
            let key = key.to_ascii_lowercase();
            match kind_of(CACHE_KEYS, &key) {
                Some(kind) => Ok((vec!["caches".into(), (*name).to_string(), key], kind)),
                None => Err(format!("`caches.{name}.{key}` is not a setting; cache keys are {}", key_list(CACHE_KEYS))),
            }
        }
        _ => Err("`caches` takes a key (`caches.retention`) or a cache's (`caches.models.utilisation`)".into()),
    }
}

/// Resolves a dotted flag key after `caches.`: a cache name may hold dots,
/// so the key is taken from the end.
pub(crate) fn resolve_caches_dotted(rest: &str) -> Resolved {
    match rest.rsplit_once('.') {
        Some((name, key)) => resolve_caches_key(&[name, key]),
        None => resolve_caches_key(&[rest]),
    }
}

/// Resolves the key segments that follow `errors`; rules are set in the file.
pub(crate) fn resolve_errors_key(segments: &[&str]) -> Resolved {
    match segments {
        [key] => {
            let key = key.to_ascii_lowercase();
            match kind_of(ERRORS_KEYS, &key) {
                Some(Kind::Table) => Err("[errors.rules.NAME] tables are set in the configuration file".into()),
                Some(kind) => Ok((vec!["errors".into(), key], kind)),
                None => Err(format!("`errors.{key}` is not a setting; errors keys are {}", key_list(ERRORS_KEYS))),
            }
        }
        _ => Err("`errors` keys have no sub-keys here; [errors.rules.NAME] tables are set in the file".into()),
    }
}

impl Check<'_> {
    /// One threshold key of `[caches]` or `[caches.NAME]` into `t`; false for a key that is none.
    fn cache_threshold(&mut self, path: &[String], key: &str, value: &Value, t: &mut CacheThresholds) -> bool {
        match key {
            "utilisation" => t.utilisation = self.float(path, value, 0.0, 1.0).unwrap_or(t.utilisation),
            "hit_rate" => t.hit_rate = self.float(path, value, 0.0, 1.0).unwrap_or(t.hit_rate),
            "min_loads" => t.min_loads = self.int(path, value, 0, u64::from(u32::MAX)).unwrap_or(t.min_loads),
            "memory_bytes" => t.memory_bytes = self.int(path, value, 1, i64::MAX as u64).unwrap_or(t.memory_bytes),
            _ => return false,
        }
        true
    }

    /// The `[caches]` table over the defaults, each `[caches.NAME]` over them.
    pub(crate) fn caches(&mut self, path: &[String], value: &Value) -> CachesConfig {
        let mut config = CachesConfig::default();
        let Some(table) = self.table(path, value, "a table of cache settings and caches ([caches.NAME])") else {
            return config;
        };
        for (key, value) in table {
            let p = child(path, key);
            if key == "retention" {
                config.retention =
                    self.positive_duration(&p, value, "must be more than 0s").unwrap_or(config.retention);
            } else if !value.is_table() {
                let mut defaults = config.defaults;
                if self.cache_threshold(&p, key, value, &mut defaults) {
                    config.defaults = defaults;
                } else {
                    self.unknown(&p, CACHES_KEYS);
                }
            }
        }
        for (key, value) in table.iter().filter(|(_, v)| v.is_table()) {
            let p = child(path, key);
            let name = match CacheName::new(key) {
                Ok(n) => n,
                Err(e) => {
                    self.report(&p, e);
                    continue;
                }
            };
            let mut own = config.defaults;
            for (k, v) in value.as_table().into_iter().flatten() {
                let pk = child(&p, k);
                if !self.cache_threshold(&pk, k, v, &mut own) {
                    self.unknown(&pk, CACHE_KEYS);
                }
            }
            config.caches.insert(name, own);
        }
        config
    }

    /// The `[errors]` table over the defaults, with its rules.
    pub(crate) fn errors(&mut self, path: &[String], value: &Value) -> ErrorsConfig {
        let mut config = ErrorsConfig::default();
        let Some(table) = self.table(path, value, "a table of error-event settings") else {
            return config;
        };
        for (key, value) in table {
            let p = child(path, key);
            match key.as_str() {
                "retention" => {
                    config.retention =
                        self.positive_duration(&p, value, "must be more than 0s").unwrap_or(config.retention)
                }
                "relay_to_sentry" => config.relay_to_sentry = self.boolean(&p, value).unwrap_or(config.relay_to_sentry),
                "rules" => {
                    let Some(rules) = self.table(&p, value, "[errors.rules.NAME] tables") else { continue };
                    for (name, rule) in rules {
                        if let Some(rule) = self.error_rule(&child(&p, name), name, rule, config.retention) {
                            config.rules.insert(name.clone(), rule);
                        }
                    }
                }
                _ => self.unknown(&p, ERRORS_KEYS),
            }
        }
        config
    }

    /// One `[errors.rules.NAME]` table.
    fn error_rule(
        &mut self,
        path: &[String],
        name: &str,
        value: &Value,
        retention: Duration,
    ) -> Option<ErrorCountRule> {
        if let Err(e) = CacheName::new(name) {
            self.report(path, format!("a rule's name {}", e.reason));
            return None;
        }
        let table = self.table(path, value, "a table with `threshold`, `window` and an optional `kind`")?;
        let mut kind = None;
        let (mut threshold, mut window) = (None, None);
        let mut ok = true;
        for (key, value) in table {
            let p = child(path, key);
            match key.as_str() {
                "kind" => match self.text(&p, value) {
                    Some(k) if !k.trim().is_empty() && k.chars().count() <= 200 => kind = Some(k.to_string()),
                    Some(_) => {
                        self.report(&p, "use 1 to 200 characters");
                        ok = false;
                    }
                    None => ok = false,
                },
                "threshold" => threshold = self.int(&p, value, 1, u64::from(u32::MAX)),
                "window" => window = self.positive_duration(&p, value, "must be more than 0s"),
                _ => {
                    self.unknown(&p, RULE_KEYS);
                    ok = false;
                }
            }
        }
        for (key, missing) in [("threshold", threshold.is_none()), ("window", window.is_none())] {
            if missing && !table.contains_key(key) {
                self.report(&child(path, key), "is required");
            }
        }
        if let Some(w) = window
            && w > retention
        {
            self.report(&child(path, "window"), "must be at most `errors.retention`: older events are gone");
            ok = false;
        }
        Some(ErrorCountRule { kind, threshold: threshold?, window: window? }).filter(|_| ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;
    use crate::testing;

    fn load(file: &str, env: &[(&str, &str)]) -> Result<Config, Vec<String>> {
        testing::load(Some(file), env, &[]).map_err(|e| e.0)
    }

    #[test]
    fn the_default_file_documents_every_key() {
        let table: toml::Table = crate::DEFAULT_TOML.parse().unwrap();
        for (section, keys) in [("caches", CACHES_KEYS), ("errors", ERRORS_KEYS)] {
            let documented = table[section].as_table().unwrap();
            for (key, _) in keys {
                assert!(documented.contains_key(*key), "`{section}.{key}` missing from config.default.toml");
            }
        }
        let text = crate::DEFAULT_TOML;
        for (key, _) in CACHE_KEYS.iter().chain(RULE_KEYS) {
            assert!(text.contains(&format!("# {key} = ")), "`{key}` of a named table is not shown");
        }
    }

    #[test]
    fn defaults_are_the_seeds() {
        let config = load("", &[]).unwrap();
        assert_eq!(config.caches, CachesConfig::default());
        assert_eq!(config.caches.defaults, CacheThresholds::default());
        assert_eq!(config.errors, ErrorsConfig::default());
    }

    #[test]
    fn caches_take_defaults_and_their_own_from_file_and_environment() {
        let config = load(
            r#"
            [caches]
            retention = "1d"
            utilisation = 0.8
            [caches.models]
            hit_rate = 0.7
            "#,
            &[("RAMPART_CACHES__models__MEMORY_BYTES", "1024"), ("RAMPART_CACHES__MIN_LOADS", "5")],
        )
        .unwrap();
        assert_eq!(config.caches.retention, Duration::from_secs(86_400));
        let models = config.caches.thresholds(&CacheName::new("models").unwrap());
        assert_eq!(
            models,
            CacheThresholds { utilisation: 0.8, hit_rate: 0.7, min_loads: 5, memory_bytes: 1024 },
            "a cache's table sits over the defaults"
        );
        let other = config.caches.thresholds(&CacheName::new("other").unwrap());
        assert_eq!((other.utilisation, other.hit_rate), (0.8, 0.5));
    }

    #[test]
    fn errors_read_rules_and_every_problem_names_its_key() {
        let config = load(
            r#"
            [errors]
            relay_to_sentry = true
            [errors.rules.db]
            kind = "db.timeout"
            threshold = 10
            window = "5m"
            [errors.rules.any]
            threshold = 100
            window = "1h"
            "#,
            &[],
        )
        .unwrap();
        assert!(config.errors.relay_to_sentry);
        assert_eq!(
            config.errors.rules["db"],
            ErrorCountRule { kind: Some("db.timeout".into()), threshold: 10, window: Duration::from_secs(300) }
        );
        assert_eq!(config.errors.rules["any"].kind, None);

        let errors = load(
            r#"
            [caches]
            utilisation = 1.5
            colour = "red"
            [caches."bad name"]
            hit_rate = 0.1
            [errors.rules.x]
            threshold = 0
            [errors.rules.y]
            threshold = 1
            window = "60d"
            "#,
            &[],
        )
        .unwrap_err();
        let joined = errors.join("\n");
        for key in [
            "caches.utilisation",
            "caches.colour",
            "bad name",
            "errors.rules.x.threshold",
            "errors.rules.x.window",
            "errors.rules.y.window",
        ] {
            assert!(joined.contains(key), "no problem names `{key}`:\n{joined}");
        }
    }
}
