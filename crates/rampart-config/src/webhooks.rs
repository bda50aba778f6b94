//! The webhook intake part of the configuration: `[webhooks]` (the
//! retention of intake's records and when it runs) and one
//! `[webhooks.NAME]` table per source.
//!
//! A source's table is a [`SourceSpec`], validated by the one
//! [`SourceSpec::validate`] the API uses too, each problem named by its key.
//! Secrets come from the file or the environment
//! (`RAMPART_WEBHOOKS__STRIPE__SECRET`); `secrets = [{ value, expires_at }]`
//! (rotation) only from the file.

use std::collections::BTreeMap;
use std::time::Duration;

use rampart_core::cron::Timezone;
use rampart_core::id::SourceName;
use rampart_webhook::{Source, SourceSpec};
use toml::Value;

use crate::check::Check;
use crate::keys::{Kind, Resolved, child, describe, key_list, kind_of};

/// The keys of `[webhooks]` itself.
pub(crate) const WEBHOOKS_KEYS: &[(&str, Kind)] = &[
    ("bodies_retention", Kind::Text),
    ("deliveries_retention", Kind::Text),
    ("schedule", Kind::Text),
    ("timezone", Kind::Text),
];

/// The keys of a `[webhooks.NAME]` source.
pub(crate) const SOURCE_KEYS: &[(&str, Kind)] = &[
    ("scheme", Kind::Text),
    ("secret", Kind::Text),
    ("secrets", Kind::Table),
    ("tolerance", Kind::Text),
    ("queue", Kind::Text),
    ("event_id", Kind::Text),
    ("event_type", Kind::Text),
    ("tenant", Kind::Text),
    ("max_body_bytes", Kind::Int),
    ("dedupe_window", Kind::Text),
    ("ratelimit", Kind::Text),
    ("public_url", Kind::Text),
    ("header", Kind::Text),
    ("algorithm", Kind::Text),
    ("encoding", Kind::Text),
    ("prefix", Kind::Text),
    ("template", Kind::Text),
    ("timestamp_header", Kind::Text),
];

/// Webhook intake's settings and configured sources.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhooksConfig {
    /// The configured sources, validated.
    pub sources: BTreeMap<SourceName, Source>,
    /// Bodies in the delivery log are dropped this long after arrival (`bodies_retention`).
    pub bodies_retention: Duration,
    /// Deliveries are deleted this long after arrival (`deliveries_retention`).
    pub deliveries_retention: Duration,
    /// When the built-in `rampart.webhooks` schedule runs (`schedule`).
    pub schedule: String,
    /// The zone of `schedule` (`timezone`).
    pub timezone: Timezone,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        WebhooksConfig {
            sources: BTreeMap::new(),
            bodies_retention: Duration::from_secs(24 * 3600),
            deliveries_retention: Duration::from_secs(7 * 24 * 3600),
            schedule: "0 4 * * *".into(),
            timezone: Timezone::UTC,
        }
    }
}

/// Resolves the key segments that follow `webhooks` (environment and flags):
/// one of its own keys, or a source's name and one of its keys.
pub(crate) fn resolve_key(segments: &[&str]) -> Resolved {
    match segments {
        [key] => {
            let key = key.to_ascii_lowercase();
            match kind_of(WEBHOOKS_KEYS, &key) {
                Some(kind) => Ok((vec!["webhooks".into(), key], kind)),
                None => Err(format!(
                    "`webhooks.{key}` is not a setting; webhooks keys are {}, or a source's `webhooks.NAME.KEY`",
                    key_list(WEBHOOKS_KEYS)
                )),
            }
        }
        [name, key] => {
            let key = key.to_ascii_lowercase();
            match kind_of(SOURCE_KEYS, &key) {
                Some(Kind::Table) => Err(format!("`webhooks.{name}.{key}` is set in the configuration file")),
                Some(kind) => Ok((vec!["webhooks".into(), (*name).to_string(), key], kind)),
                None => {
                    Err(format!("`webhooks.{name}.{key}` is not a setting; source keys are {}", key_list(SOURCE_KEYS)))
                }
            }
        }
        _ => Err("`webhooks` takes a key (`webhooks.schedule`) or a source's (`webhooks.stripe.secret`)".into()),
    }
}

/// Resolves a dotted flag key after `webhooks.`: a source name may hold
/// dots, so the key is taken from the end.
pub(crate) fn resolve_dotted(rest: &str) -> Resolved {
    match rest.rsplit_once('.') {
        Some((name, key)) => resolve_key(&[name, key]),
        None => resolve_key(&[rest]),
    }
}

impl Check<'_> {
    /// The `[webhooks]` table: its settings over the defaults, and each
    /// source table validated.
    pub(crate) fn webhooks(&mut self, path: &[String], value: &Value) -> WebhooksConfig {
        let mut config = WebhooksConfig::default();
        let Some(table) = self.table(path, value, "a table of webhook settings and sources ([webhooks.NAME])") else {
            return config;
        };
        let keep = "must be more than 0s";
        for (key, value) in table {
            let p = child(path, key);
            match key.as_str() {
                "bodies_retention" => {
                    config.bodies_retention = self.positive_duration(&p, value, keep).unwrap_or(config.bodies_retention)
                }
                "deliveries_retention" => {
                    config.deliveries_retention =
                        self.positive_duration(&p, value, keep).unwrap_or(config.deliveries_retention)
                }
                "timezone" => config.timezone = self.timezone(&p, value).unwrap_or(config.timezone),
                "schedule" => {}
                _ if value.is_table() => {
                    if let Some(source) = self.source(&p, key, value) {
                        config.sources.insert(source.name.clone(), source);
                    }
                }
                _ if kind_of(WEBHOOKS_KEYS, key).is_none() && kind_of(SOURCE_KEYS, key).is_some() => self.report(
                    &p,
                    format!("`{key}` belongs to a source: put it in a [webhooks.NAME] table, got {}", describe(value)),
                ),
                _ => self.unknown(&p, WEBHOOKS_KEYS),
            }
        }
        if let Some(v) = table.get("schedule") {
            config.schedule = self.schedule(&child(path, "schedule"), v, config.timezone).unwrap_or(config.schedule);
        }
        config
    }

    /// One `[webhooks.NAME]` table as a source, every problem named by its key.
    fn source(&mut self, path: &[String], name: &str, value: &Value) -> Option<Source> {
        let name = match SourceName::new(name) {
            Ok(n) => n,
            Err(e) => {
                self.report(path, e);
                return None;
            }
        };
        let table = value.as_table()?;
        let mut ok = true;
        for key in table.keys() {
            if kind_of(SOURCE_KEYS, key).is_none() {
                self.unknown(&child(path, key), SOURCE_KEYS);
                ok = false;
            }
        }
        if !ok {
            return None;
        }
        let spec: SourceSpec = match value.clone().try_into() {
            Ok(spec) => spec,
            Err(e) => {
                self.report(path, e.message());
                return None;
            }
        };
        match spec.validate(&name) {
            Ok(source) => Some(source),
            Err(problems) => {
                for p in problems {
                    self.report(&child(path, p.field), p.message);
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::Config;
    use crate::testing;

    fn load(file: &str, env: &[(&str, &str)]) -> Result<Config, Vec<String>> {
        testing::load(Some(file), env, &[]).map_err(|e| e.0)
    }

    #[test]
    fn sources_read_from_the_file_and_the_environment() {
        let config = load(
            r#"
            [webhooks]
            bodies_retention = "12h"
            [webhooks.stripe]
            scheme = "stripe"
            queue = "stripe-events"
            [webhooks.github]
            scheme = "github"
            secrets = [{ value = "old", expires_at = "2027-01-01T00:00:00Z" }, { value = "new" }]
            "#,
            &[("RAMPART_WEBHOOKS__stripe__SECRET", "whsec_abc")],
        )
        .unwrap();
        let w = &config.webhooks;
        assert_eq!(w.bodies_retention.as_secs(), 12 * 3600);
        assert_eq!(w.schedule, "0 4 * * *");
        let stripe = &w.sources[&rampart_core::id::SourceName::new("stripe").unwrap()];
        assert_eq!(stripe.queue.as_str(), "stripe-events");
        assert_eq!(stripe.secrets[0].key(), b"whsec_abc");
        assert_eq!(w.sources.len(), 2);
    }

    #[test]
    fn every_problem_names_its_key() {
        let errors = load(
            r#"
            [webhooks]
            schedule = "every day"
            [webhooks.bad]
            scheme = "paypal"
            colour = "red"
            [webhooks.twilio]
            scheme = "twilio"
            secret = "t"
            public_url = "/in/sms"
            "#,
            &[],
        )
        .unwrap_err();
        let text = errors.join("\n");
        assert!(text.contains("webhooks.schedule"), "{text}");
        assert!(text.contains("webhooks.bad.colour"), "{text}");
        assert!(text.contains("webhooks.twilio.public_url"), "{text}");
    }

    #[test]
    fn the_default_file_documents_every_key() {
        let text = crate::DEFAULT_TOML;
        for (key, _) in super::WEBHOOKS_KEYS.iter().chain(super::SOURCE_KEYS) {
            assert!(text.contains(&format!("{key} =")) || text.contains(&format!("# {key} =")), "`{key}` undocumented");
        }
    }
}
