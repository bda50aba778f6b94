//! The cron and retention parts of the configuration: `[[cron]]` schedules
//! and the `[retention]` table, validated with the rest of the file (every
//! problem at once, each naming its key).

use std::collections::BTreeSet;
use std::time::Duration;

use rampart_core::cron::{Misfire, Timezone};
use rampart_core::id::{CronName, QueueName};
use toml::Value;

use crate::check::Check;
use crate::keys::{Kind, Resolved, child, describe, key_list, kind_of};

/// The keys of one `[[cron]]` table.
pub(crate) const CRON_KEYS: &[(&str, Kind)] = &[
    ("name", Kind::Text),
    ("schedule", Kind::Text),
    ("timezone", Kind::Text),
    ("queue", Kind::Text),
    ("payload", Kind::Table),
    ("description", Kind::Text),
    ("misfire", Kind::Text),
    ("tenant", Kind::Text),
    ("max_attempts", Kind::Int),
];

/// The keys of `[retention]`.
pub(crate) const RETENTION_KEYS: &[(&str, Kind)] = &[
    ("completed", Kind::Text),
    ("dead", Kind::Text),
    ("cron_runs", Kind::Text),
    ("schedule", Kind::Text),
    ("timezone", Kind::Text),
];

/// One schedule of the configuration (`[[cron]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronConfig {
    /// Its name (`name`), unique, not starting with `rampart.`.
    pub name: CronName,
    /// The cron expression (`schedule`), checked to parse.
    pub schedule: String,
    /// The zone it is read in (`timezone`, default UTC).
    pub timezone: Timezone,
    /// The queue of its jobs (`queue`).
    pub queue: QueueName,
    /// Its jobs' payload (`payload`, any TOML value, as JSON text; default `{}`).
    pub payload: String,
    /// What it is for (`description`).
    pub description: String,
    /// What downtime does to it (`misfire`, default `skip`).
    pub misfire: Misfire,
    /// The tenant of its jobs (`tenant`).
    pub tenant: Option<String>,
    /// Attempts each job gets (`max_attempts`); none is one: a cron job
    /// retries on its next tick.
    pub max_attempts: Option<u32>,
}

/// Deleting what is old (`[retention]`); per-queue overrides are
/// `retention_completed` and `retention_dead` in `[queues.NAME]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionConfig {
    /// Completed jobs older than this go (`completed`).
    pub completed: Duration,
    /// Dead jobs older than this go (`dead`).
    pub dead: Duration,
    /// Cron runs older than this go (`cron_runs`).
    pub cron_runs: Duration,
    /// When the built-in `rampart.retention` schedule runs (`schedule`).
    pub schedule: String,
    /// The zone of `schedule` (`timezone`).
    pub timezone: Timezone,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            completed: Duration::from_secs(7 * 86_400),
            dead: Duration::from_secs(30 * 86_400),
            cron_runs: Duration::from_secs(30 * 86_400),
            schedule: "*/10 * * * *".into(),
            timezone: Timezone::UTC,
        }
    }
}

/// Resolves the key segments that follow `retention` (environment and flags).
pub(crate) fn resolve_retention_key(segments: &[&str]) -> Resolved {
    match segments {
        [key] => {
            let key = key.to_ascii_lowercase();
            match kind_of(RETENTION_KEYS, &key) {
                Some(kind) => Ok((vec!["retention".into(), key], kind)),
                None => {
                    Err(format!("`retention.{key}` is not a setting; retention keys are {}", key_list(RETENTION_KEYS)))
                }
            }
        }
        _ => Err("`retention` keys have no sub-keys; set e.g. `retention.completed`".to_string()),
    }
}

impl Check<'_> {
    /// The `[[cron]]` array.
    pub(crate) fn cron(&mut self, path: &[String], value: &Value) -> Vec<CronConfig> {
        let Value::Array(items) = value else {
            self.report(path, format!("expected [[cron]] tables (an array of tables), got {}", describe(value)));
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        for (i, item) in items.iter().enumerate() {
            let path = child(path, &i.to_string());
            // Names are compared as written, whether or not the rest is valid.
            if let Some(Value::String(name)) = item.get("name")
                && !seen.insert(name.clone())
            {
                self.report(&child(&path, "name"), format!("`{name}` names two [[cron]] schedules"));
                continue;
            }
            if let Some(c) = self.cron_one(&path, item) {
                out.push(c);
            }
        }
        out
    }

    fn cron_one(&mut self, path: &[String], value: &Value) -> Option<CronConfig> {
        let table = self.table(path, value, "a [[cron]] table")?;
        let mut ok = true;
        for key in table.keys().filter(|k| kind_of(CRON_KEYS, k).is_none()) {
            self.unknown(&child(path, key), CRON_KEYS);
            ok = false;
        }
        let required = |check: &mut Self, key: &str| {
            let found = table.get(key);
            if found.is_none() {
                check
                    .report(&child(path, key), "missing; every [[cron]] schedule needs `name`, `schedule` and `queue`");
            }
            found
        };
        let name = required(self, "name");
        let schedule = required(self, "schedule");
        let queue = required(self, "queue");
        let name = name.and_then(|v| {
            let p = child(path, "name");
            let text = self.text(&p, v)?;
            match CronName::new(text) {
                Ok(n) if n.is_reserved() => {
                    self.report(&p, format!("names starting with `{}` are rampart's own", CronName::RESERVED_PREFIX));
                    None
                }
                Ok(n) => Some(n),
                Err(e) => {
                    self.report(&p, e);
                    None
                }
            }
        });
        let timezone = match table.get("timezone") {
            Some(v) => self.timezone(&child(path, "timezone"), v),
            None => Some(Timezone::UTC),
        };
        let schedule = match (schedule, timezone) {
            (Some(v), Some(tz)) => self.schedule(&child(path, "schedule"), v, tz),
            _ => None,
        };
        let queue = queue.and_then(|v| {
            let p = child(path, "queue");
            let text = self.text(&p, v)?;
            QueueName::new(text).map_err(|e| self.report(&p, e)).ok()
        });
        let payload = match table.get("payload") {
            Some(v) => match serde_json::to_string(v) {
                Ok(json) => Some(json),
                Err(e) => {
                    self.report(&child(path, "payload"), format!("cannot be written as JSON: {e}"));
                    None
                }
            },
            None => Some("{}".to_string()),
        };
        let description = match table.get("description") {
            Some(v) => self.text(&child(path, "description"), v).map(str::to_string),
            None => Some(String::new()),
        };
        let misfire = match table.get("misfire") {
            Some(v) => {
                let p = child(path, "misfire");
                self.text(&p, v).and_then(|s| s.trim().parse().map_err(|e| self.report(&p, e)).ok())
            }
            None => Some(Misfire::Skip),
        };
        let tenant = match table.get("tenant") {
            Some(v) => {
                let p = child(path, "tenant");
                self.text(&p, v).and_then(|t| match rampart_core::job::check_tenant(t) {
                    Ok(()) => Some(Some(t.to_string())),
                    Err(e) => {
                        self.report(&p, e);
                        None
                    }
                })
            }
            None => Some(None),
        };
        let max_attempts = match table.get("max_attempts") {
            Some(v) => self.count(&child(path, "max_attempts"), v).map(Some),
            None => Some(None),
        };
        Some(CronConfig {
            name: name?,
            schedule: schedule?,
            timezone: timezone?,
            queue: queue?,
            payload: payload?,
            description: description?,
            misfire: misfire?,
            tenant: tenant?,
            max_attempts: max_attempts?,
        })
        .filter(|_| ok)
    }

    /// The `[retention]` table over the defaults.
    pub(crate) fn retention(&mut self, path: &[String], value: &Value) -> RetentionConfig {
        let mut retention = RetentionConfig::default();
        let Some(table) = self.table(path, value, "a table of retention settings") else {
            return retention;
        };
        let keep = "must be more than 0s";
        for (key, value) in table {
            let p = child(path, key);
            match key.as_str() {
                "completed" => {
                    retention.completed = self.positive_duration(&p, value, keep).unwrap_or(retention.completed)
                }
                "dead" => retention.dead = self.positive_duration(&p, value, keep).unwrap_or(retention.dead),
                "cron_runs" => {
                    retention.cron_runs = self.positive_duration(&p, value, keep).unwrap_or(retention.cron_runs)
                }
                "timezone" => retention.timezone = self.timezone(&p, value).unwrap_or(retention.timezone),
                "schedule" => {}
                _ => self.unknown(&p, RETENTION_KEYS),
            }
        }
        // Read last: its expression is checked in the zone given beside it.
        if let Some(v) = table.get("schedule") {
            retention.schedule =
                self.schedule(&child(path, "schedule"), v, retention.timezone).unwrap_or(retention.schedule);
        }
        retention
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
    fn cron_tables_become_schedules_with_their_defaults() {
        let config = load(
            r#"
            [[cron]]
            name = "nightly"
            schedule = "30 2 * * *"
            timezone = "America/New_York"
            queue = "reports"
            payload = { kind = "nightly", days = [1, 2] }
            description = "the nightly report"
            misfire = "run_once"

            [[cron]]
            name = "tick"
            schedule = "*/10 * * * * *"
            queue = "ticks"
            "#,
            &[],
        )
        .unwrap();
        assert_eq!(config.cron.len(), 2);
        let nightly = &config.cron[0];
        assert_eq!((nightly.name.as_str(), nightly.timezone.name()), ("nightly", "America/New_York"));
        assert_eq!(nightly.payload, r#"{"days":[1,2],"kind":"nightly"}"#);
        assert_eq!((nightly.misfire, nightly.description.as_str()), (Misfire::RunOnce, "the nightly report"));
        let tick = &config.cron[1];
        assert_eq!((tick.timezone, tick.payload.as_str(), tick.misfire), (Timezone::UTC, "{}", Misfire::Skip));
        assert_eq!(tick.description, "");
    }

    #[test]
    fn every_cron_problem_is_reported_naming_its_key() {
        let errors = load(
            r#"
            [[cron]]
            name = "a"
            schedule = "61 * * * *"
            queue = "q"

            [[cron]]
            name = "a"
            schedule = "@daily"
            queue = "q"

            [[cron]]
            name = "rampart.mine"
            schedule = "@daily"
            timezone = "Mars/Base"
            queue = "has space"
            misfire = "later"
            every = "1m"

            [[cron]]
            schedule = "@daily"
            "#,
            &[],
        )
        .unwrap_err();
        let expect = [
            "cron.0.schedule: `61 * * * *` is not a cron schedule",
            "cron.1.name: `a` names two [[cron]] schedules",
            "cron.2.every: unknown key",
            "cron.2.name: names starting with `rampart.`",
            "cron.2.timezone: `Mars/Base` is not an IANA time zone",
            "cron.2.queue: `has space` is not a queue name",
            "cron.2.misfire: `later` is not a misfire policy",
            "cron.3.name: missing",
            "cron.3.queue: missing",
        ];
        for line in expect {
            assert!(errors.iter().any(|e| e.contains(line)), "no `{line}` in:\n{}", errors.join("\n"));
        }
    }

    #[test]
    fn retention_reads_its_table_the_environment_and_per_queue_keys() {
        let config = load(
            r#"
            [retention]
            completed = "1d"
            schedule = "0 4 * * *"
            timezone = "Europe/Berlin"

            [queues.audit]
            retention_completed = "90d"
            "#,
            &[("RAMPART_RETENTION__DEAD", "2d"), ("RAMPART_QUEUES__audit__RETENTION_DEAD", "180d")],
        )
        .unwrap();
        let r = &config.retention;
        assert_eq!(
            (r.completed, r.dead, r.cron_runs),
            (Duration::from_secs(86_400), Duration::from_secs(2 * 86_400), Duration::from_secs(30 * 86_400))
        );
        assert_eq!((r.schedule.as_str(), r.timezone.name()), ("0 4 * * *", "Europe/Berlin"));
        let audit = &config.queues[&QueueName::new("audit").unwrap()];
        assert_eq!(audit.retention_completed, Some(Duration::from_secs(90 * 86_400)));
        assert_eq!(audit.retention_dead, Some(Duration::from_secs(180 * 86_400)));
        assert_eq!(Config::default().retention, RetentionConfig::default());
    }

    #[test]
    fn retention_problems_are_reported_naming_their_key() {
        let errors = load(
            r#"
            [retention]
            completed = "0s"
            schedule = "every day"
            keep = "1d"

            [queue_defaults]
            retention_dead = "1d"
            "#,
            &[("RAMPART_CRON__NAME", "x")],
        )
        .unwrap_err();
        let expect = [
            "retention.completed: must be more than 0s",
            "retention.schedule: `every day` is not a cron schedule",
            "retention.keep: unknown key",
            "queue_defaults.retention_dead: set `retention.dead` for every queue",
            "RAMPART_CRON__NAME: [[cron]] schedules are set in the configuration file",
        ];
        for line in expect {
            assert!(errors.iter().any(|e| e.contains(line)), "no `{line}` in:\n{}", errors.join("\n"));
        }
    }
}
