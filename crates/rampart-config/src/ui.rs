//! The `[ui]` section: the dashboard served by the same listener as the API
//! (`crates/rampart-ui`), whether it is on, where it is mounted and how long
//! a signed-in session lasts.

use std::time::Duration;

use toml::Value;

use crate::check::Check;
use crate::keys::{Kind, Resolved, child, resolve_flat};

/// Settings of the dashboard (`[ui]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UiConfig {
    /// Whether the dashboard is served (`enabled`).
    pub enabled: bool,
    /// The path it is mounted at (`prefix`): starts with `/`, no trailing
    /// `/`, not `/` itself and not under `/v1` (the API's own paths).
    pub prefix: String,
    /// How long a session lasts after sign-in (`session_ttl`, more than zero);
    /// a session also ends with its key, at sign-out and on restart.
    pub session_ttl: Duration,
}

impl Default for UiConfig {
    fn default() -> Self {
        UiConfig { enabled: true, prefix: "/ui".to_string(), session_ttl: Duration::from_secs(8 * 3600) }
    }
}

pub(crate) const UI_KEYS: &[(&str, Kind)] =
    &[("enabled", Kind::Bool), ("prefix", Kind::Text), ("session_ttl", Kind::Text)];

/// Resolves the key that follows `ui`.
pub(crate) fn resolve_key(rest: &[&str]) -> Resolved {
    resolve_flat("ui", UI_KEYS, UI_KEYS[0].0, rest)
}

/// Why a prefix cannot be the dashboard's, or `None` when it can.
fn prefix_problem(prefix: &str) -> Option<&'static str> {
    if !prefix.starts_with('/') || prefix.len() < 2 || prefix.ends_with('/') {
        return Some("give a path like \"/ui\": starting with `/`, not ending with one");
    }
    if !prefix.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.')) {
        return Some("use only letters, digits, `/`, `-`, `_` and `.`");
    }
    if prefix.contains("//") || prefix.split('/').any(|s| s == "." || s == "..") {
        return Some("give a plain path, without `//`, `.` or `..` segments");
    }
    let first = prefix.split('/').nth(1).unwrap_or_default();
    if matches!(first, "v1" | "health" | "metrics" | "openapi.json") {
        return Some("the API serves that path; choose another, like \"/ui\"");
    }
    None
}

impl Check<'_> {
    /// The `[ui]` table over the defaults.
    pub(crate) fn ui(&mut self, path: &[String], value: &Value) -> UiConfig {
        let mut ui = UiConfig::default();
        let Some(table) = self.table(path, value, "a table of dashboard settings") else {
            return ui;
        };
        for (key, value) in table {
            let path = child(path, key);
            match key.as_str() {
                "enabled" => ui.enabled = self.boolean(&path, value).unwrap_or(ui.enabled),
                "prefix" => {
                    if let Some(prefix) = self.text(&path, value) {
                        match prefix_problem(prefix) {
                            Some(problem) => self.report(&path, problem),
                            None => ui.prefix = prefix.to_string(),
                        }
                    }
                }
                "session_ttl" => {
                    if let Some(d) = self.positive_duration(&path, value, "must be more than 0s") {
                        ui.session_ttl = d;
                    }
                }
                _ => self.unknown(&path, UI_KEYS),
            }
        }
        ui
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
        let documented = table["ui"].as_table().unwrap();
        for (key, _) in UI_KEYS {
            assert!(documented.contains_key(*key), "`ui.{key}` missing from config.default.toml");
        }
    }

    #[test]
    fn the_dashboard_is_on_at_ui_by_default_and_each_key_can_be_set() {
        assert_eq!(load("", &[]).unwrap().ui, UiConfig::default());
        let config = load("[ui]\nprefix = \"/admin/jobs\"\nsession_ttl = \"30m\"", &[("RAMPART_UI__ENABLED", "false")]);
        let ui = config.unwrap().ui;
        assert_eq!(
            ui,
            UiConfig { enabled: false, prefix: "/admin/jobs".into(), session_ttl: Duration::from_secs(1800) }
        );
    }

    #[test]
    fn every_bad_value_is_reported_naming_its_key() {
        for (prefix, want) in [
            ("ui", "starting with `/`"),
            ("/ui/", "not ending with one"),
            ("/", "starting with `/`"),
            ("/v1", "the API serves that path"),
            ("/a//b", "plain path"),
            ("/a/../b", "plain path"),
            ("/a b", "only letters"),
        ] {
            let errors = load(&format!("[ui]\nprefix = \"{prefix}\""), &[]).unwrap_err();
            assert!(errors.iter().any(|e| e.starts_with("ui.prefix: ") && e.contains(want)), "{prefix}: {errors:#?}");
        }
        let errors = load("[ui]\nsession_ttl = \"0s\"\nenabled = 3\ncolour = 1", &[]).unwrap_err();
        for want in ["ui.session_ttl: must be more than 0s", "ui.enabled: ", "ui.colour: unknown key"] {
            assert!(errors.iter().any(|e| e.starts_with(want)), "missing {want:?} in {errors:#?}");
        }
    }
}
