//! The rate-limit presets every server has unless `[ratelimit.presets]
//! enabled = false`: the limits the apps rampart serves set by hand, with
//! their numbers, so a fresh server answers `POST /v1/ratelimit/check
//! {"policy": "auth", …}` at once.
//!
//! A preset counts per client IP, per user or per organisation. What
//! `/v1/ratelimit/check` counts on is the key the app sends (`"user:42"`,
//! `"203.0.113.7"`); what the gate counts on is the preset's key source:
//! `ip`, or `[ratelimit.presets] user_key` / `org_key` (a header such as
//! `header:X-User-Id`, or `api_key`). A policy of the same name in the
//! configuration or defined through the API replaces a preset.

use rampart_core::id::PolicyName;

use super::{KeySource, PolicyConfig, PolicySpec};

/// What a preset counts per.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Per {
    /// The client IP.
    Ip,
    /// The user (`user_key`).
    User,
    /// The organisation (`org_key`).
    Org,
}

/// One preset: a name, its limit per window and what it counts per.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preset {
    /// The policy name.
    pub name: &'static str,
    /// Checks admitted per window.
    pub limit: u64,
    /// The window, as a duration string.
    pub window: &'static str,
    /// What it counts per.
    pub per: Per,
    /// What it is for, for the README and `config.default.toml`.
    pub purpose: &'static str,
}

/// Every preset, in the order the README lists them.
pub const PRESETS: &[Preset] = &[
    Preset { name: "public", limit: 100, window: "1m", per: Per::Ip, purpose: "public pages and APIs" },
    Preset { name: "auth", limit: 5, window: "15m", per: Per::Ip, purpose: "sign-in, sign-up, password reset" },
    Preset { name: "staff", limit: 30, window: "1m", per: Per::User, purpose: "staff tools" },
    Preset { name: "admin", limit: 10, window: "1m", per: Per::User, purpose: "admin actions" },
    Preset { name: "strict", limit: 10, window: "10s", per: Per::Ip, purpose: "expensive endpoints" },
    Preset { name: "moderate", limit: 30, window: "10s", per: Per::User, purpose: "signed-in API use" },
    Preset { name: "lenient", limit: 100, window: "10s", per: Per::Ip, purpose: "cheap reads" },
    Preset { name: "per_org", limit: 1000, window: "1h", per: Per::Org, purpose: "everything an organisation does" },
    Preset { name: "per_ip", limit: 100, window: "15m", per: Per::Ip, purpose: "everything one client IP does" },
    Preset { name: "oauth", limit: 10, window: "5m", per: Per::Ip, purpose: "OAuth starts and callbacks" },
    Preset { name: "sync", limit: 5, window: "5m", per: Per::User, purpose: "manual syncs" },
    Preset { name: "connection", limit: 3, window: "10m", per: Per::User, purpose: "connecting an account" },
    Preset { name: "ai", limit: 20, window: "1m", per: Per::User, purpose: "AI calls" },
];

/// The presets as policies, each counting on `ip`, `user_key` or `org_key`.
pub fn policies(user_key: &KeySource, org_key: &KeySource) -> Vec<(PolicyName, PolicyConfig)> {
    PRESETS
        .iter()
        .filter_map(|preset| {
            let key = match preset.per {
                Per::Ip => KeySource::Ip,
                Per::User => user_key.clone(),
                Per::Org => org_key.clone(),
            };
            let spec = PolicySpec {
                limit: Some(preset.limit),
                window: Some(preset.window.to_string()),
                key: Some(key.to_string()),
                ..PolicySpec::default()
            };
            // Valid by construction: the test below holds every preset to it.
            Some((PolicyName::new(preset.name).ok()?, spec.validate().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http::HeaderName;
    use rampart_limit::{Algorithm, Policy};

    use super::*;

    #[test]
    fn every_preset_is_a_valid_policy_with_the_apps_numbers() {
        let user = KeySource::Header(HeaderName::from_static("x-user-id"));
        let org = KeySource::ApiKey;
        let policies = policies(&user, &org);
        assert_eq!(policies.len(), PRESETS.len(), "every preset validates");
        let expected = [
            ("public", 100, 60, KeySource::Ip),
            ("auth", 5, 900, KeySource::Ip),
            ("staff", 30, 60, user.clone()),
            ("admin", 10, 60, user.clone()),
            ("strict", 10, 10, KeySource::Ip),
            ("moderate", 30, 10, user.clone()),
            ("lenient", 100, 10, KeySource::Ip),
            ("per_org", 1000, 3600, org.clone()),
            ("per_ip", 100, 900, KeySource::Ip),
            ("oauth", 10, 300, KeySource::Ip),
            ("sync", 5, 300, user.clone()),
            ("connection", 3, 600, user.clone()),
            ("ai", 20, 60, user),
        ];
        for ((name, config), (want, limit, window_s, key)) in policies.iter().zip(expected) {
            assert_eq!(name.as_str(), want);
            let policy = Policy::new(limit, Duration::from_secs(window_s), Algorithm::SlidingWindow, None).unwrap();
            assert_eq!((&config.policy, &config.key), (&policy, &key), "{want}");
        }
    }
}
