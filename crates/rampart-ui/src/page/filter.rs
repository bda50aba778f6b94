//! The job filter of a queue page and of its bulk actions: read from the
//! query (`state`, `tenant`, `key`, `created_from`, `created_until`,
//! `finished_from`, `finished_until`, `text`), written back into links, said
//! in words for confirmations and the audit log, and shown as a form that
//! works without JavaScript (a plain GET).

use std::fmt::Write as _;

use maud::{Markup, html};
use rampart_core::job::JobState;
use rampart_core::time::UnixMillis;
use rampart_store::{JobFilter, PAYLOAD_SEARCH_WINDOW};
use serde::Deserialize;

use super::encode;
use crate::Ui;
use crate::error::UiError;

/// The state a queue page lists when none is asked for: what an operator
/// opens a queue for.
pub const DEFAULT_STATE: JobState = JobState::Dead;

/// Longest tenant, key or text searched for, in bytes.
const MAX_TERM_BYTES: usize = 500;

/// A filter as the query carries it (every field optional, empty as absent).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FilterQuery {
    /// A state, or `any`; [`DEFAULT_STATE`] when absent.
    pub state: Option<String>,
    /// A tenant.
    pub tenant: Option<String>,
    /// A unique key (jobs in every state).
    pub key: Option<String>,
    /// Created at or after (UTC).
    pub created_from: Option<String>,
    /// Created before (UTC).
    pub created_until: Option<String>,
    /// Finished at or after (UTC).
    pub finished_from: Option<String>,
    /// Finished before (UTC).
    pub finished_until: Option<String>,
    /// Text inside the payload (recent jobs only).
    pub text: Option<String>,
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// A time from a form: `2026-12-07T16:30` (a `datetime-local` field, read
/// as UTC), with seconds, or RFC 3339.
pub fn parse_time(field: &str, raw: &str) -> Result<UnixMillis, UiError> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(raw) {
        return Ok(UnixMillis(t.timestamp_millis()));
    }
    for pattern in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(raw, pattern) {
            return Ok(UnixMillis(t.and_utc().timestamp_millis()));
        }
    }
    Err(UiError::invalid(format!("`{field}` is not a time: give it as 2026-12-07T16:30 (UTC) or RFC 3339")))
}

impl FilterQuery {
    /// The state asked for: `None` for `any`.
    pub fn state(&self) -> Result<Option<JobState>, UiError> {
        match given(&self.state) {
            None => Ok(Some(DEFAULT_STATE)),
            Some("any") => Ok(None),
            Some(s) => s.parse().map(Some).map_err(|e| UiError::invalid(format!("invalid state: {e}"))),
        }
    }

    /// The store's filter, every field checked.
    pub fn filter(&self) -> Result<JobFilter, UiError> {
        let term = |field: &str, v: &Option<String>| -> Result<Option<String>, UiError> {
            match given(v) {
                Some(s) if s.len() > MAX_TERM_BYTES => {
                    Err(UiError::invalid(format!("`{field}` is longer than {MAX_TERM_BYTES} bytes")))
                }
                other => Ok(other.map(str::to_string)),
            }
        };
        let time = |field: &str, v: &Option<String>| given(v).map(|s| parse_time(field, s)).transpose();
        let filter = JobFilter {
            state: self.state()?,
            tenant: term("tenant", &self.tenant)?,
            unique_key: term("key", &self.key)?,
            created_from: time("created_from", &self.created_from)?,
            created_until: time("created_until", &self.created_until)?,
            finished_from: time("finished_from", &self.finished_from)?,
            finished_until: time("finished_until", &self.finished_until)?,
            payload_contains: term("text", &self.text)?,
        };
        for (from, until, what) in [
            (filter.created_from, filter.created_until, "created_from must be before created_until"),
            (filter.finished_from, filter.finished_until, "finished_from must be before finished_until"),
        ] {
            if let (Some(from), Some(until)) = (from, until)
                && from >= until
            {
                return Err(UiError::invalid(what));
            }
        }
        Ok(filter)
    }

    /// Whether anything beyond the state narrows the list.
    pub fn narrows(&self) -> bool {
        self.fields().iter().skip(1).any(|(_, v)| v.is_some())
    }

    fn fields(&self) -> [(&'static str, Option<&str>); 8] {
        [
            ("state", given(&self.state)),
            ("tenant", given(&self.tenant)),
            ("key", given(&self.key)),
            ("created_from", given(&self.created_from)),
            ("created_until", given(&self.created_until)),
            ("finished_from", given(&self.finished_from)),
            ("finished_until", given(&self.finished_until)),
            ("text", given(&self.text)),
        ]
    }

    /// The given fields as (name, value) pairs, the state replaced by
    /// `state` when given.
    pub fn pairs(&self, state: Option<&str>) -> Vec<(&'static str, String)> {
        self.fields()
            .into_iter()
            .filter_map(|(name, value)| {
                let value = if name == "state" { state.or(value) } else { value };
                value.map(|v| (name, v.to_string()))
            })
            .collect()
    }

    /// The filter as a query (`state=dead&tenant=acme`), the given fields
    /// only, the state replaced by `state` when given.
    pub fn query(&self, state: Option<&str>) -> String {
        let mut out = String::new();
        for (name, value) in self.pairs(state) {
            let _ = write!(out, "{}{name}={}", if out.is_empty() { "" } else { "&" }, encode(&value));
        }
        out
    }

    /// The filter in words, for confirmations and the audit log.
    pub fn describe(&self) -> String {
        let state = match given(&self.state) {
            None => DEFAULT_STATE.as_str(),
            Some(s) => s,
        };
        let mut words = if state == "any" { "jobs in any state".to_string() } else { format!("{state} jobs") };
        for (name, value) in self.fields().into_iter().skip(1) {
            if let Some(v) = value {
                let _ = write!(words, ", {} `{v}`", name.replace('_', " "));
            }
        }
        words
    }

    /// The filter form, a GET to `action` (a path under the prefix).
    pub fn form(&self, ui: &Ui, action: &str, current: Option<JobState>) -> Markup {
        let value = |v: &Option<String>| given(v).unwrap_or_default().to_string();
        html! {
            form.filters method="get" action=(ui.url(action)) role="search" aria-label="Filter jobs" {
                div.field {
                    label for="f-state" { "State" }
                    select #f-state name="state" {
                        option value="any" selected[current.is_none()] { "any" }
                        @for s in JobState::ALL {
                            option value=(s) selected[current == Some(s)] { (s) }
                        }
                    }
                }
                div.field {
                    label for="f-tenant" { "Tenant" }
                    input #f-tenant type="text" name="tenant" value=(value(&self.tenant));
                }
                div.field {
                    label for="f-key" { "Unique key (every state)" }
                    input #f-key type="text" name="key" value=(value(&self.key));
                }
                div.field {
                    label for="f-created-from" { "Created from (UTC)" }
                    input #f-created-from type="datetime-local" name="created_from" value=(value(&self.created_from));
                }
                div.field {
                    label for="f-created-until" { "Created before (UTC)" }
                    input #f-created-until type="datetime-local" name="created_until" value=(value(&self.created_until));
                }
                div.field {
                    label for="f-finished-from" { "Finished from (UTC)" }
                    input #f-finished-from type="datetime-local" name="finished_from" value=(value(&self.finished_from));
                }
                div.field {
                    label for="f-finished-until" { "Finished before (UTC)" }
                    input #f-finished-until type="datetime-local" name="finished_until" value=(value(&self.finished_until));
                }
                div.field {
                    label for="f-text" { "Text in the payload" }
                    input #f-text type="search" name="text" value=(value(&self.text)) aria-describedby="f-text-help";
                    small #f-text-help .muted { "Searched among the latest " (PAYLOAD_SEARCH_WINDOW)
                        " jobs of every queue only." }
                }
                div.field { button type="submit" { "Filter" } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> FilterQuery {
        let mut f = FilterQuery::default();
        for (k, v) in pairs {
            let v = Some((*v).to_string());
            match *k {
                "state" => f.state = v,
                "tenant" => f.tenant = v,
                "key" => f.key = v,
                "created_from" => f.created_from = v,
                "created_until" => f.created_until = v,
                "text" => f.text = v,
                _ => unreachable!(),
            }
        }
        f
    }

    #[test]
    fn the_filter_reads_back_into_links_and_words() {
        let f = q(&[("tenant", "acme corp"), ("key", ""), ("text", "a@b")]);
        assert_eq!(f.query(None), "tenant=acme%20corp&text=a%40b");
        assert_eq!(f.query(Some("completed")), "state=completed&tenant=acme%20corp&text=a%40b");
        assert_eq!(f.describe(), "dead jobs, tenant `acme corp`, text `a@b`");
        assert!(f.narrows());
        assert!(!q(&[("state", "any")]).narrows());
        assert_eq!(q(&[("state", "any")]).state().unwrap(), None);
        assert_eq!(FilterQuery::default().state().unwrap(), Some(JobState::Dead));
    }

    #[test]
    fn times_are_read_as_utc_and_ranges_checked() {
        assert_eq!(parse_time("t", "2026-12-07T16:30").unwrap(), UnixMillis(1_796_661_000_000));
        assert_eq!(parse_time("t", "2026-12-07T17:30:00+01:00").unwrap(), UnixMillis(1_796_661_000_000));
        assert!(parse_time("t", "yesterday").is_err());
        let f = q(&[("created_from", "2026-12-07T16:30"), ("created_until", "2026-12-07T16:30")]);
        assert!(f.filter().is_err(), "an empty range");
        let long = q(&[("text", &"x".repeat(501))]);
        assert!(long.filter().is_err());
    }
}
