//! The `[monitoring]` section: whether queues are sampled and requests
//! counted, how often, how much history is kept, and whether `/metrics`
//! needs a key.

use std::time::Duration;

use rampart_core::duration::format_duration;
use toml::Value;

use crate::check::Check;
use crate::keys::{Kind, Resolved, child, resolve_flat};

/// The keys of `[monitoring]`.
pub(crate) const MONITORING_KEYS: &[(&str, Kind)] =
    &[("enabled", Kind::Bool), ("interval", Kind::Text), ("retain", Kind::Int), ("metrics_public", Kind::Bool)];

/// Queue metrics, their history and `/metrics` (`[monitoring]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitoringConfig {
    /// Whether the sampler runs and HTTP requests are counted (`enabled`);
    /// health routes answer either way.
    pub enabled: bool,
    /// How often every queue is sampled and the totals stored (`interval`,
    /// from 1s to 1h).
    pub interval: Duration,
    /// Samples kept in memory per queue (`retain`, 1 to 10,000).
    pub retain: usize,
    /// Whether `GET /metrics` answers without a key (`metrics_public`);
    /// otherwise it needs the reader role.
    pub metrics_public: bool,
}

impl Default for MonitoringConfig {
    fn default() -> Self {
        MonitoringConfig { enabled: true, interval: Duration::from_secs(30), retain: 100, metrics_public: false }
    }
}

/// Resolves the key segments that follow `monitoring`.
pub(crate) fn resolve_key(rest: &[&str]) -> Resolved {
    resolve_flat("monitoring", MONITORING_KEYS, "interval", rest)
}

impl Check<'_> {
    /// The `[monitoring]` table over the defaults.
    pub(crate) fn monitoring(&mut self, path: &[String], value: &Value) -> MonitoringConfig {
        let mut monitoring = MonitoringConfig::default();
        let Some(table) = self.table(path, value, "a table of monitoring settings") else {
            return monitoring;
        };
        for (key, value) in table {
            let path = child(path, key);
            match key.as_str() {
                "enabled" => monitoring.enabled = self.boolean(&path, value).unwrap_or(monitoring.enabled),
                "interval" => {
                    if let Some(d) = self.duration(&path, value) {
                        if d < Duration::from_secs(1) || d > Duration::from_secs(3600) {
                            self.report(&path, format!("must be from 1s to 1h, got {}", format_duration(d)));
                        } else {
                            monitoring.interval = d;
                        }
                    }
                }
                "retain" => {
                    if let Some(n) = self.int(&path, value, 1, 10_000).and_then(|n| usize::try_from(n).ok()) {
                        monitoring.retain = n;
                    }
                }
                "metrics_public" => {
                    monitoring.metrics_public = self.boolean(&path, value).unwrap_or(monitoring.metrics_public);
                }
                _ => self.unknown(&path, MONITORING_KEYS),
            }
        }
        monitoring
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{errors, ok};

    #[test]
    fn the_monitoring_table_from_file_environment_and_flags() {
        assert_eq!(ok(None, &[], &[]).monitoring, MonitoringConfig::default());
        let file = "[monitoring]\ninterval = \"10s\"\nretain = 5";
        let env = [("RAMPART_MONITORING__METRICS_PUBLIC", "true"), ("RAMPART_MONITORING__RETAIN", "7")];
        let config = ok(Some(file), &env, &[("monitoring.enabled", "false")]);
        let expected =
            MonitoringConfig { enabled: false, interval: Duration::from_secs(10), retain: 7, metrics_public: true };
        assert_eq!(config.monitoring, expected);
    }

    #[test]
    fn bad_monitoring_settings_are_each_reported_with_their_key() {
        let file = "[monitoring]\ninterval = \"500ms\"\nretain = 0\nmetrics_public = \"yes\"\nsamples = 3";
        let got = errors(Some(file), &[("RAMPART_MONITORING__INTERVAL__X", "1s")], &[]);
        let expected = [
            "monitoring.interval: must be from 1s to 1h, got 500ms",
            "monitoring.retain: must be at least 1, got 0",
            "monitoring.metrics_public: expected true or false",
            "monitoring.samples: unknown key",
            "RAMPART_MONITORING__INTERVAL__X: `monitoring` keys have no sub-keys",
        ];
        for want in expected {
            assert!(got.iter().any(|e| e.contains(want)), "no error containing {want:?} in {got:#?}");
        }
        assert_eq!(got.len(), expected.len(), "{got:#?}");
        let too_long = errors(None, &[("RAMPART_MONITORING__INTERVAL", "2h")], &[]);
        assert!(too_long[0].contains("must be from 1s to 1h"), "{too_long:?}");
        assert!(too_long[0].contains("(from RAMPART_MONITORING__INTERVAL)"), "{too_long:?}");
    }
}
