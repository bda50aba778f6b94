//! The `[ratelimit]` section: the limiter's bounds, the proxies whose
//! `X-Forwarded-For` is believed, Redis (`redis_url`, or `REDIS_URL`, and
//! its timeout and prefix), the limits on rampart's own API
//! (`[ratelimit.api]`) and the named policies (`[ratelimit.policies.NAME]`),
//! each read into a [`PolicySpec`] and checked by its one validation.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use rampart_limit::{Algorithm, Policy};
use toml::{Table, Value};

use crate::check::Check;
use crate::keys::{Kind, Resolved, child, describe, key_list, kind_of};
use crate::urls::RedisUrl;

mod policy;
pub mod presets;

pub use policy::{DenyBody, KeySource, LimitBackend, OnBackendError, PolicyConfig, PolicySpec, SpecProblem};
pub use rampart_core::id::{PolicyName, PolicyNameError};

/// The conventional variable for a Redis URL; read as `redis_url`, below
/// `RAMPART_REDIS_URL`.
pub(crate) const ENV_REDIS_URL: &str = "REDIS_URL";

/// The keys of `[ratelimit]`.
pub(crate) const RATELIMIT_KEYS: &[(&str, Kind)] = &[
    ("max_keys", Kind::Int),
    ("max_key_length", Kind::Int),
    ("reset_format", Kind::Text),
    ("trusted_proxies", Kind::List),
    ("redis_timeout", Kind::Text),
    ("redis_prefix", Kind::Text),
    ("api", Kind::Table),
    ("presets", Kind::Table),
    ("policies", Kind::Table),
];

/// The keys of `[ratelimit.presets]`.
pub(crate) const PRESET_KEYS: &[(&str, Kind)] =
    &[("enabled", Kind::Bool), ("user_key", Kind::Text), ("org_key", Kind::Text)];

/// The keys of `[ratelimit.api]`.
pub(crate) const API_LIMIT_KEYS: &[(&str, Kind)] =
    &[("enabled", Kind::Bool), ("per_key", Kind::Table), ("per_ip", Kind::Table)];

/// The keys of `[ratelimit.api.per_key]` and `[ratelimit.api.per_ip]`: a
/// policy's shape; what they count on and where is fixed.
const API_POLICY_KEYS: &[(&str, Kind)] =
    &[("limit", Kind::Int), ("window", Kind::Text), ("algorithm", Kind::Text), ("burst", Kind::Int)];

/// The keys of `[ratelimit.policies.NAME]`: the fields of a [`PolicySpec`].
pub(crate) const POLICY_KEYS: &[(&str, Kind)] = &[
    ("limit", Kind::Int),
    ("window", Kind::Text),
    ("algorithm", Kind::Text),
    ("burst", Kind::Int),
    ("key", Kind::Text),
    ("backend", Kind::Text),
    ("on_backend_error", Kind::Text),
    ("deny_body", Kind::Text),
];

/// Rate limiting (`[ratelimit]`): the limiter's bounds, how answers and the
/// gate read requests, and the named policies.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimitConfig {
    /// Most keys the memory backend keeps at once; past it the oldest are
    /// evicted (`max_keys`, at least 1).
    pub max_keys: usize,
    /// Longest key a check may use, in bytes (`max_key_length`, 1 to 4096).
    pub max_key_length: usize,
    /// How `X-RateLimit-Reset` is written (`reset_format`).
    pub reset_format: ResetFormat,
    /// Addresses whose `X-Forwarded-For` is believed when a client IP is
    /// derived, by the gate and the API's per-IP limit (`trusted_proxies`);
    /// empty believes no one.
    pub trusted_proxies: Vec<IpNet>,
    /// Longest a check waits for Redis before `on_backend_error` decides
    /// (`redis_timeout`).
    pub redis_timeout: Duration,
    /// Put before every Redis key the limiter writes (`redis_prefix`), so
    /// several deployments can share one Redis.
    pub redis_prefix: String,
    /// The limits on rampart's own API (`[ratelimit.api]`).
    pub api: ApiLimitsConfig,
    /// The policies configured in `[ratelimit.policies.NAME]`.
    pub policies: BTreeMap<PolicyName, PolicyConfig>,
    /// The presets in force (see [`presets`]): all of them unless
    /// `[ratelimit.presets] enabled = false`, less those a configured
    /// policy of the same name replaces.
    pub presets: BTreeMap<PolicyName, PolicyConfig>,
}

impl RateLimitConfig {
    /// The longest `max_key_length` allowed.
    pub const MAX_KEY_LENGTH: usize = 4096;
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            max_keys: 1_000_000,
            max_key_length: 256,
            reset_format: ResetFormat::default(),
            trusted_proxies: Vec::new(),
            redis_timeout: Duration::from_millis(50),
            redis_prefix: "rampart:rl:".to_string(),
            api: ApiLimitsConfig::default(),
            policies: BTreeMap::new(),
            presets: presets::policies(&default_user_key(), &default_org_key()).into_iter().collect(),
        }
    }
}

/// What the per-user presets count on at the gate unless `user_key` says otherwise.
fn default_user_key() -> KeySource {
    KeySource::Header(http::HeaderName::from_static("x-user-id"))
}

/// What the per-organisation presets count on at the gate unless `org_key` says otherwise.
fn default_org_key() -> KeySource {
    KeySource::Header(http::HeaderName::from_static("x-org-id"))
}

/// The limits on rampart's own API (`[ratelimit.api]`), counted in this
/// node's memory: `per_key` for requests with a key this node verified,
/// `per_ip` for every other request.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiLimitsConfig {
    /// Whether they apply (`enabled`).
    pub enabled: bool,
    /// What one API key may send (`[ratelimit.api.per_key]`).
    pub per_key: Policy,
    /// What one client IP may send without a verified key (`[ratelimit.api.per_ip]`).
    pub per_ip: Policy,
}

impl Default for ApiLimitsConfig {
    /// As `config.default.toml` says, where the choice is explained.
    fn default() -> Self {
        let gcra = |limit| {
            Policy::new(limit, Duration::from_secs(1), Algorithm::Gcra, None).expect("the default limits are valid")
        };
        ApiLimitsConfig { enabled: true, per_key: gcra(100_000), per_ip: gcra(100) }
    }
}

/// How the `X-RateLimit-Reset` header is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResetFormat {
    /// Whole seconds until the reset (`"seconds"`).
    #[default]
    Seconds,
    /// The reset as Unix seconds (`"epoch"`).
    Epoch,
    /// The reset as an RFC 3339 date-time (`"rfc3339"`).
    Rfc3339,
}

/// An IP network, `10.0.0.0/8`, or one address (`127.0.0.1`, read as `/32`,
/// or `/128` for IPv6). Written with no address bit set past the prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet(ipnet::IpNet);

impl IpNet {
    /// Whether `ip` is in the network. An IPv4 address written as IPv6
    /// (`::ffff:10.0.0.1`) counts as the IPv4 address.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&ip.to_canonical())
    }
}

impl FromStr for IpNet {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        let (addr, prefix) = text.split_once('/').map_or((text, None), |(addr, prefix)| (addr, Some(prefix)));
        let addr: IpAddr = addr.parse().map_err(|_| {
            format!("{s:?} is not an IP address or network; write e.g. \"127.0.0.1\" or \"10.0.0.0/8\"")
        })?;
        let bits = if addr.is_ipv4() { 32 } else { 128 };
        let prefix_error = || format!("{s:?}: the prefix length must be a number from 0 to {bits}");
        let prefix_len = match prefix.map(str::parse::<u8>) {
            None => bits,
            Some(Ok(n)) => n,
            Some(Err(_)) => return Err(prefix_error()),
        };
        let net = ipnet::IpNet::new(addr, prefix_len).map_err(|_| prefix_error())?;
        if net.trunc() != net {
            return Err(format!("{s:?} has address bits set past its prefix; write \"{}\"", net.trunc()));
        }
        Ok(IpNet(net))
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Resolves the key segments that follow `ratelimit`.
pub(crate) fn resolve_key(segments: &[&str]) -> Resolved {
    let Some((key, rest)) = segments.split_first() else {
        return Err("`ratelimit` is a table: set one of its keys, e.g. `ratelimit.max_keys`".to_string());
    };
    let key = key.to_ascii_lowercase();
    if key == "policies" {
        let needs_name = "`ratelimit.policies` needs a policy name and a key, e.g. `ratelimit.policies.oauth.limit`";
        let [name, policy_key] = rest else {
            return Err(needs_name.to_string());
        };
        let policy_key = policy_key.to_ascii_lowercase();
        return match kind_of(POLICY_KEYS, &policy_key) {
            Some(kind) => Ok((vec!["ratelimit".into(), "policies".into(), (*name).to_string(), policy_key], kind)),
            None => Err(format!(
                "`ratelimit.policies.{name}.{policy_key}` is not a setting; policy keys are {}",
                key_list(POLICY_KEYS)
            )),
        };
    }
    if key == "api" {
        return resolve_api_limit_key(rest);
    }
    if key == "presets" {
        let preset_key = match rest {
            [one] => one.to_ascii_lowercase(),
            _ => {
                return Err(
                    "`ratelimit.presets` is a table: set one of its keys, e.g. `ratelimit.presets.enabled`".into()
                );
            }
        };
        return match kind_of(PRESET_KEYS, &preset_key) {
            Some(kind) => Ok((vec!["ratelimit".into(), "presets".into(), preset_key], kind)),
            None => Err(format!(
                "`ratelimit.presets.{preset_key}` is not a setting; ratelimit.presets keys are {}",
                key_list(PRESET_KEYS)
            )),
        };
    }
    match kind_of(RATELIMIT_KEYS, &key) {
        Some(kind) if rest.is_empty() => Ok((vec!["ratelimit".to_string(), key], kind)),
        Some(_) => Err(format!("`ratelimit.{key}` has no sub-keys")),
        None => Err(format!("`ratelimit.{key}` is not a setting; ratelimit keys are {}", key_list(RATELIMIT_KEYS))),
    }
}

/// Resolves the key segments that follow `ratelimit.api`.
fn resolve_api_limit_key(segments: &[&str]) -> Resolved {
    let lower: Vec<String> = segments.iter().map(|s| s.to_ascii_lowercase()).collect();
    let path =
        |keys: &[String]| ["ratelimit", "api"].into_iter().map(String::from).chain(keys.iter().cloned()).collect();
    match lower.as_slice() {
        [] => Err("`ratelimit.api` is a table: set one of its keys, e.g. `ratelimit.api.enabled`".to_string()),
        [key] => match kind_of(API_LIMIT_KEYS, key) {
            Some(Kind::Table) => {
                Err(format!("`ratelimit.api.{key}` is a table: set one of its keys, e.g. `ratelimit.api.{key}.limit`"))
            }
            Some(kind) => Ok((path(&lower), kind)),
            None => Err(format!(
                "`ratelimit.api.{key}` is not a setting; ratelimit.api keys are {}",
                key_list(API_LIMIT_KEYS)
            )),
        },
        [table, key] if kind_of(API_LIMIT_KEYS, table) == Some(Kind::Table) => match kind_of(API_POLICY_KEYS, key) {
            Some(kind) => Ok((path(&lower), kind)),
            None => Err(format!(
                "`ratelimit.api.{table}.{key}` is not a setting; its keys are {}",
                key_list(API_POLICY_KEYS)
            )),
        },
        _ => Err(format!(
            "`ratelimit.api.{}` is not a setting; ratelimit.api keys are {}",
            lower.join("."),
            key_list(API_LIMIT_KEYS)
        )),
    }
}

/// Resolves a dotted flag key after `ratelimit.policies.`: a policy name
/// may itself hold dots, so the key is taken from the end.
pub(crate) fn resolve_dotted_policy(rest: &str) -> Resolved {
    match rest.rsplit_once('.') {
        Some((name, key)) => resolve_key(&["policies", name, key]),
        None => resolve_key(&["policies", rest]),
    }
}

impl Check<'_> {
    /// The `[ratelimit]` table over the defaults, its policies included.
    pub(crate) fn ratelimit(&mut self, path: &[String], value: &Value) -> RateLimitConfig {
        let mut ratelimit = RateLimitConfig::default();
        let Some(table) = self.table(path, value, "a table of rate-limit settings") else {
            return ratelimit;
        };
        let max_key_length = RateLimitConfig::MAX_KEY_LENGTH as u64;
        let (mut presets_enabled, mut user_key, mut org_key) = (true, default_user_key(), default_org_key());
        for (key, value) in table {
            let path = child(path, key);
            match key.as_str() {
                "max_keys" => ratelimit.max_keys = self.size(&path, value, 1).unwrap_or(ratelimit.max_keys),
                "max_key_length" => {
                    if let Some(n) = self.int(&path, value, 1, max_key_length).and_then(|n| usize::try_from(n).ok()) {
                        ratelimit.max_key_length = n;
                    }
                }
                "reset_format" => {
                    let formats = [
                        ("seconds", ResetFormat::Seconds),
                        ("epoch", ResetFormat::Epoch),
                        ("rfc3339", ResetFormat::Rfc3339),
                    ];
                    let format = self.choice(&path, value, "a reset format", &formats);
                    ratelimit.reset_format = format.unwrap_or(ratelimit.reset_format);
                }
                "redis_timeout" => {
                    let if_zero = "must be more than 0s: it bounds how long a check waits for Redis";
                    if let Some(d) = self.positive_duration(&path, value, if_zero) {
                        ratelimit.redis_timeout = d;
                    }
                }
                "redis_prefix" => {
                    if let Some(s) = self.text(&path, value) {
                        ratelimit.redis_prefix = s.to_string();
                    }
                }
                "trusted_proxies" => {
                    let Value::Array(items) = value else {
                        let problem = format!(
                            "expected an array of IP addresses and networks such as [\"10.0.0.0/8\"], got {}",
                            describe(value)
                        );
                        self.report(&path, problem);
                        continue;
                    };
                    for item in items {
                        match self.text(&path, item).map(str::parse::<IpNet>) {
                            Some(Ok(net)) => ratelimit.trusted_proxies.push(net),
                            Some(Err(e)) => self.report(&path, e),
                            None => {}
                        }
                    }
                }
                "api" => ratelimit.api = self.api_limits(&path, value),
                "presets" => {
                    let Some(presets) = self.table(&path, value, "a table of preset settings") else {
                        continue;
                    };
                    for (key, value) in presets {
                        let path = child(&path, key);
                        let key_source = |check: &mut Self, slot: &mut KeySource| {
                            if let Some(text) = check.text(&path, value) {
                                match text.parse() {
                                    Ok(source) => *slot = source,
                                    Err(e) => check.report(&path, e),
                                }
                            }
                        };
                        match key.as_str() {
                            "enabled" => presets_enabled = self.boolean(&path, value).unwrap_or(presets_enabled),
                            "user_key" => key_source(self, &mut user_key),
                            "org_key" => key_source(self, &mut org_key),
                            _ => self.unknown(&path, PRESET_KEYS),
                        }
                    }
                }
                "policies" => {
                    let Some(policies) = self.table(&path, value, "a table of policies ([ratelimit.policies.NAME])")
                    else {
                        continue;
                    };
                    for (name, value) in policies {
                        let path = child(&path, name);
                        if kind_of(POLICY_KEYS, name).is_some() && !value.is_table() {
                            self.report(
                                &path,
                                format!(
                                    "expected a table of settings for policy {name:?}, got {}; a policy's \
                                     settings go in its own table, [ratelimit.policies.NAME]",
                                    describe(value)
                                ),
                            );
                            continue;
                        }
                        let policy = self.policy(&path, value);
                        match (PolicyName::new(name), policy) {
                            (Ok(name), Some(policy)) => {
                                ratelimit.policies.insert(name, policy);
                            }
                            (Err(e), _) => self.report(&path, e),
                            (Ok(_), None) => {}
                        }
                    }
                }
                _ => self.unknown(&path, RATELIMIT_KEYS),
            }
        }
        ratelimit.presets = if presets_enabled {
            let configured = &ratelimit.policies;
            presets::policies(&user_key, &org_key)
                .into_iter()
                .filter(|(name, _)| !configured.contains_key(name))
                .collect()
        } else {
            BTreeMap::new()
        };
        ratelimit
    }

    /// The `[ratelimit.api]` table over the defaults; each of its two
    /// policies is read as a `[ratelimit.policies.NAME]` table holding only
    /// `limit`, `window`, `algorithm` and `burst`.
    fn api_limits(&mut self, path: &[String], value: &Value) -> ApiLimitsConfig {
        let mut api = ApiLimitsConfig::default();
        let Some(table) = self.table(path, value, "a table of settings for rampart's own API") else {
            return api;
        };
        for (key, value) in table {
            let path = child(path, key);
            let slot = match key.as_str() {
                "enabled" => {
                    if let Some(b) = self.boolean(&path, value) {
                        api.enabled = b;
                    }
                    continue;
                }
                "per_key" => &mut api.per_key,
                "per_ip" => &mut api.per_ip,
                _ => {
                    self.unknown(&path, API_LIMIT_KEYS);
                    continue;
                }
            };
            let Some(policy) = self.table(&path, value, "a table of policy settings") else {
                continue;
            };
            let mut shape = Table::new();
            for (key, value) in policy {
                if kind_of(API_POLICY_KEYS, key).is_some() {
                    shape.insert(key.clone(), value.clone());
                } else if kind_of(POLICY_KEYS, key).is_some() {
                    self.report(
                        &child(&path, key),
                        "not a setting here: per_key counts on the API key and per_ip on the client IP, always in \
                         this node's memory; the keys here are `limit`, `window`, `algorithm` and `burst`",
                    );
                } else {
                    self.unknown(&child(&path, key), API_POLICY_KEYS);
                }
            }
            if let Some(read) = self.policy(&path, &Value::Table(shape)) {
                *slot = read.policy;
            }
        }
        api
    }

    /// One `[ratelimit.policies.NAME]` table, read into a [`PolicySpec`] and
    /// validated; `None` when it has a problem (each one reported).
    fn policy(&mut self, path: &[String], value: &Value) -> Option<PolicyConfig> {
        let table = self.table(path, value, "a table of policy settings")?;
        let errors_before = self.errors.len();
        let mut spec = PolicySpec::default();
        // Keys set to a value of the wrong type: reported here, so neither
        // missing nor built upon below.
        let mut unread = Vec::new();
        for (key, value) in table {
            let path = child(path, key);
            let read = match key.as_str() {
                // Ranges are the policy's to check.
                "limit" => self.int(&path, value, 0, u64::MAX).map(|n| spec.limit = Some(n)),
                "window" => match value {
                    Value::String(s) => {
                        spec.window = Some(s.clone());
                        Some(())
                    }
                    other => {
                        let got = describe(other);
                        self.report(&path, format!("expected a duration string such as \"30s\", got {got}"));
                        None
                    }
                },
                "algorithm" => self.text(&path, value).map(|s| spec.algorithm = Some(s.to_string())),
                "burst" => self.int(&path, value, 0, u64::MAX).map(|n| spec.burst = Some(n)),
                "key" => self.text(&path, value).map(|s| spec.key = Some(s.to_string())),
                "backend" => self.text(&path, value).map(|s| spec.backend = Some(s.to_string())),
                "on_backend_error" => self.text(&path, value).map(|s| spec.on_backend_error = Some(s.to_string())),
                "deny_body" => self.text(&path, value).map(|s| spec.deny_body = Some(s.to_string())),
                _ => {
                    self.unknown(&path, POLICY_KEYS);
                    Some(())
                }
            };
            if read.is_none() {
                unread.push(key.as_str());
            }
        }
        match spec.validate_read(&unread) {
            Ok(policy) => (self.errors.len() == errors_before).then_some(policy),
            Err(problems) => {
                for problem in problems {
                    self.report(&child(path, problem.field), problem.message);
                }
                None
            }
        }
    }

    /// `redis_url`: empty is the default, counters in memory.
    pub(crate) fn redis_url(&mut self, path: &[String], value: &Value) -> Option<RedisUrl> {
        self.secret_url(path, value, RedisUrl::parse)
    }

    /// Reports each policy that asks for Redis when no `redis_url` is set.
    pub(crate) fn policies_need_redis(&mut self, ratelimit: &RateLimitConfig, redis_url: Option<&RedisUrl>) {
        if redis_url.is_some() {
            return;
        }
        for (name, policy) in &ratelimit.policies {
            if policy.backend == Some(LimitBackend::Redis) {
                let path: Vec<String> = ["ratelimit", "policies", name.as_str(), "backend"].map(String::from).into();
                self.report(&path, "\"redis\" needs redis_url (or REDIS_URL) set; set it, or use \"memory\"");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DEFAULT_TOML;
    use crate::testing::{errors, ok};
    use http::HeaderName;

    fn policy_name(s: &str) -> PolicyName {
        PolicyName::new(s).unwrap()
    }

    fn ip_net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn gcra(limit: u64, window_s: u64, burst: Option<u64>) -> Policy {
        Policy::new(limit, Duration::from_secs(window_s), Algorithm::Gcra, burst).unwrap()
    }

    #[test]
    fn the_default_file_documents_every_ratelimit_key() {
        let table: Table = DEFAULT_TOML.parse().unwrap();
        let ratelimit = table["ratelimit"].as_table().unwrap();
        for (key, _) in RATELIMIT_KEYS.iter().filter(|(k, _)| *k != "policies") {
            assert!(ratelimit.contains_key(*key), "ratelimit key `{key}` missing from config.default.toml");
        }
        assert!(DEFAULT_TOML.contains("\n# [ratelimit.policies.NAME]\n"));
        for (key, _) in POLICY_KEYS {
            assert!(
                DEFAULT_TOML.contains(&format!("\n# {key} = ")),
                "policy key `{key}` missing from config.default.toml"
            );
        }
    }

    #[test]
    fn rate_limiting_defaults_to_no_policies() {
        let ratelimit = ok(None, &[], &[]).ratelimit;
        assert_eq!(ratelimit, RateLimitConfig::default());
        assert_eq!(ratelimit.max_keys, 1_000_000);
        assert_eq!(ratelimit.max_key_length, 256);
        assert_eq!(ratelimit.reset_format, ResetFormat::Seconds);
        assert!(ratelimit.trusted_proxies.is_empty());
        assert!(ratelimit.policies.is_empty());
    }

    #[test]
    fn the_own_api_limits_default_to_a_steady_rate_per_key_and_per_ip() {
        let api = ok(None, &[], &[]).ratelimit.api;
        assert_eq!(api, ApiLimitsConfig::default());
        assert_eq!(api, ApiLimitsConfig { enabled: true, per_key: gcra(100_000, 1, None), per_ip: gcra(100, 1, None) });
        assert_eq!((api.per_key.burst(), api.per_ip.burst()), (100_000, 100));
        let table: Table = DEFAULT_TOML.parse().unwrap();
        let documented = table["ratelimit"]["api"].as_table().unwrap();
        for (key, _) in API_LIMIT_KEYS {
            assert!(documented.contains_key(*key), "ratelimit.api key `{key}` missing from config.default.toml");
        }
        for key in ["limit", "window", "algorithm"] {
            assert!(documented["per_key"].get(key).is_some() && documented["per_ip"].get(key).is_some(), "{key}");
        }
    }

    #[test]
    fn the_own_api_limits_come_from_file_environment_and_flags() {
        let file = r#"
            [ratelimit.api.per_key]
            limit = 50
            window = "10s"
            algorithm = "sliding_window"
        "#;
        let env = [("RAMPART_RATELIMIT__API__ENABLED", "false"), ("RAMPART_RATELIMIT__API__PER_IP__LIMIT", "7")];
        let api = ok(Some(file), &env, &[("ratelimit.api.per_ip.burst", "3")]).ratelimit.api;
        assert!(!api.enabled);
        assert_eq!(api.per_key, Policy::new(50, Duration::from_secs(10), Algorithm::SlidingWindow, None).unwrap());
        assert_eq!(api.per_ip, gcra(7, 1, Some(3)), "each key falls back to the default on its own");
    }

    #[test]
    fn every_own_api_limit_problem_names_its_key() {
        let file = r#"
            [ratelimit.api]
            enabled = "yes"
            per_host = { limit = 1, window = "1s" }
            [ratelimit.api.per_key]
            key = "ip"
            backend = "redis"
            limit = 0
            [ratelimit.api.per_ip]
            algorithm = "fixed_window"
            colour = "red"
        "#;
        let env = [("RAMPART_RATELIMIT__API__PER_KEY__ON_BACKEND_ERROR", "deny"), ("RAMPART_RATELIMIT__API", "1")];
        let errors = errors(Some(file), &env, &[("ratelimit.api.per_ip", "5")]);
        let expected = [
            "RAMPART_RATELIMIT__API__PER_KEY__ON_BACKEND_ERROR: `ratelimit.api.per_key.on_backend_error` is not a setting",
            "RAMPART_RATELIMIT__API: `ratelimit.api` is a table",
            "ratelimit.api.per_ip: `ratelimit.api.per_ip` is a table",
            "ratelimit.api.enabled: expected true or false",
            "ratelimit.api.per_host: unknown key; allowed keys here are `enabled`, `per_key`, `per_ip`",
            "ratelimit.api.per_key.key: not a setting here",
            "ratelimit.api.per_key.backend: not a setting here",
            "ratelimit.api.per_key.limit: ",
            "ratelimit.api.per_ip.colour: unknown key; allowed keys here are `limit`, `window`, `algorithm`, `burst`",
        ];
        for needle in expected {
            assert_eq!(errors.iter().filter(|e| e.starts_with(needle)).count(), 1, "{needle}: {errors:#?}");
        }
        assert_eq!(errors.len(), expected.len(), "{errors:#?}");
    }

    #[test]
    fn a_fresh_server_has_the_presets_unless_turned_off_or_replaced() {
        let fresh = ok(None, &[], &[]).ratelimit;
        assert_eq!(fresh.presets.len(), presets::PRESETS.len());
        assert_eq!(fresh.presets["auth"].policy.limit(), 5);
        assert_eq!(fresh.presets["ai"].key, KeySource::Header(HeaderName::from_static("x-user-id")));

        let file = r#"
            [ratelimit.presets]
            user_key = "api_key"
            org_key = "header:X-Tenant"
            [ratelimit.policies.auth]
            limit = 3
            window = "1m"
        "#;
        let keyed = ok(Some(file), &[], &[]).ratelimit;
        assert!(!keyed.presets.contains_key("auth"), "the configured policy replaces the preset");
        assert_eq!(keyed.policies["auth"].policy.limit(), 3);
        assert_eq!(keyed.presets["moderate"].key, KeySource::ApiKey);
        assert_eq!(keyed.presets["per_org"].key, KeySource::Header(HeaderName::from_static("x-tenant")));
        assert_eq!(keyed.presets["per_ip"].key, KeySource::Ip);

        let off = ok(None, &[("RAMPART_RATELIMIT__PRESETS__ENABLED", "false")], &[]).ratelimit;
        assert!(off.presets.is_empty());
        let problems = errors(Some("[ratelimit.presets]\nuser_key = \"cookie\"\ncolour = 1\n"), &[], &[]);
        assert!(problems.iter().any(|p| p.contains("ratelimit.presets.user_key") && p.contains("not a key source")));
        assert!(problems.iter().any(|p| p.contains("ratelimit.presets.colour")), "{problems:#?}");
    }

    #[test]
    fn policies_become_checked_policies_with_their_key_sources() {
        let file = r#"
            [ratelimit]
            max_keys = 5000
            max_key_length = 4096
            reset_format = "rfc3339"
            trusted_proxies = ["127.0.0.1", "10.0.0.0/8", "fd00::/8"]
            [ratelimit.policies.oauth]
            limit = 10
            window = "5m"
            [ratelimit.policies."api:v2"]
            limit = 20
            window = "1s"
            algorithm = "gcra"
            burst = 40
            key = "header:X-User-Id"
            backend = "memory"
            on_backend_error = "deny"
            [ratelimit.policies.per-key]
            limit = 1000
            window = "1h"
            algorithm = "fixed_window"
            key = "api_key"
            on_backend_error = "allow"
        "#;
        let ratelimit = ok(Some(file), &[], &[]).ratelimit;
        assert_eq!(ratelimit.max_keys, 5000);
        assert_eq!(ratelimit.max_key_length, 4096);
        assert_eq!(ratelimit.reset_format, ResetFormat::Rfc3339);
        assert_eq!(ratelimit.trusted_proxies, [ip_net("127.0.0.1/32"), ip_net("10.0.0.0/8"), ip_net("fd00::/8")]);
        let expected = BTreeMap::from([
            (
                policy_name("oauth"),
                PolicyConfig {
                    policy: Policy::new(10, Duration::from_secs(300), Algorithm::SlidingWindow, None).unwrap(),
                    key: KeySource::Ip,
                    backend: None,
                    on_backend_error: OnBackendError::Local,
                    deny_body: DenyBody::Rampart,
                },
            ),
            (
                policy_name("api:v2"),
                PolicyConfig {
                    policy: Policy::new(20, Duration::from_secs(1), Algorithm::Gcra, Some(40)).unwrap(),
                    key: KeySource::Header(HeaderName::from_static("x-user-id")),
                    backend: Some(LimitBackend::Memory),
                    on_backend_error: OnBackendError::Deny,
                    deny_body: DenyBody::Rampart,
                },
            ),
            (
                policy_name("per-key"),
                PolicyConfig {
                    policy: Policy::new(1000, Duration::from_secs(3600), Algorithm::FixedWindow, None).unwrap(),
                    key: KeySource::ApiKey,
                    backend: None,
                    on_backend_error: OnBackendError::Allow,
                    deny_body: DenyBody::Rampart,
                },
            ),
        ]);
        assert_eq!(ratelimit.policies, expected);
        // Looked up by the name a request gives.
        assert_eq!(ratelimit.policies.get("api:v2").map(|p| p.policy.burst()), Some(40));
    }

    #[test]
    fn redis_comes_from_redis_url_or_rampart_redis_url_and_hides_its_password() {
        assert_eq!(ok(None, &[], &[]).redis_url, None);
        let plain = "redis://:s3cret@cache:6379/2";
        let config = ok(None, &[("REDIS_URL", plain)], &[]);
        let url = config.redis_url.expect("REDIS_URL is read");
        assert_eq!(url.expose(), plain);
        assert_eq!(url.to_string(), "redis://:***@cache:6379/2");
        assert!(!format!("{url:?}").contains("s3cret"));
        let ours = ok(None, &[("REDIS_URL", plain), ("RAMPART_REDIS_URL", "redis://127.0.0.1")], &[]);
        assert_eq!(ours.redis_url.as_ref().map(RedisUrl::expose), Some("redis://127.0.0.1"));
        let kept_off = ok(None, &[("RAMPART_REDIS_URL", ""), ("REDIS_URL", plain)], &[]);
        assert_eq!(kept_off.redis_url, None, "an empty RAMPART_REDIS_URL ignores REDIS_URL");

        let file = "[ratelimit]\nredis_timeout = \"20ms\"\nredis_prefix = \"app1:\"";
        let ratelimit = ok(Some(file), &[], &[]).ratelimit;
        assert_eq!((ratelimit.redis_timeout, ratelimit.redis_prefix.as_str()), (Duration::from_millis(20), "app1:"));
        assert_eq!(RateLimitConfig::default().redis_timeout, Duration::from_millis(50));
    }

    #[test]
    fn bad_redis_settings_are_named() {
        let redis_policy = "[ratelimit.policies.shared]\nlimit = 5\nwindow = \"1m\"\nbackend = \"redis\"";
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a [&'a str]);
        let cases: [Case<'_>; 4] = [
            ("redis_url = \"http://cache\"", &[], &["redis_url: ", "redis://"]),
            ("", &[("REDIS_URL", "cache:6379")], &["redis_url: ", "(from REDIS_URL)"]),
            ("[ratelimit]\nredis_timeout = \"0s\"", &[], &["ratelimit.redis_timeout: ", "more than 0s"]),
            (redis_policy, &[], &["ratelimit.policies.shared.backend: ", "needs redis_url"]),
        ];
        for (file, env, needles) in cases {
            let lines = errors(Some(file), env, &[]);
            assert_eq!(lines.len(), 1, "{file:?}: {lines:?}");
            for needle in needles {
                assert!(lines[0].contains(needle), "{file:?}: {:?} lacks {needle:?}", lines[0]);
            }
        }
        let with_redis = ok(Some(redis_policy), &[("REDIS_URL", "redis://127.0.0.1:6379")], &[]);
        assert_eq!(with_redis.ratelimit.policies["shared"].backend, Some(LimitBackend::Redis));
    }

    #[test]
    fn environment_and_flags_set_policy_keys() {
        let file = r#"
            [ratelimit.policies.oauth]
            limit = 10
            window = "5m"
            [ratelimit.policies."billing.v2"]
            limit = 5
            window = "1m"
        "#;
        let env = [
            ("RAMPART_RATELIMIT__POLICIES__oauth__LIMIT", "20"),
            ("RAMPART_RATELIMIT__POLICIES__oauth__KEY", "header:X-Forwarded-User"),
            // A policy from the environment alone, its name kept as written.
            ("RAMPART_RATELIMIT__POLICIES__Signup__LIMIT", "3"),
            ("RAMPART_RATELIMIT__POLICIES__Signup__WINDOW", "1h"),
            ("RAMPART_RATELIMIT__TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8"),
            ("RAMPART_ratelimit__reset_format", "epoch"),
        ];
        let overrides = [("ratelimit.policies.billing.v2.window", "10s"), ("ratelimit.max_key_length", "64")];
        let ratelimit = ok(Some(file), &env, &overrides).ratelimit;
        let oauth = &ratelimit.policies["oauth"];
        assert_eq!(oauth.policy, Policy::new(20, Duration::from_secs(300), Algorithm::SlidingWindow, None).unwrap());
        assert_eq!(oauth.key, KeySource::Header(HeaderName::from_static("x-forwarded-user")));
        assert_eq!(ratelimit.policies["Signup"].policy.window(), Duration::from_secs(3600));
        assert!(!ratelimit.policies.contains_key("signup"));
        assert_eq!(ratelimit.policies["billing.v2"].policy.window(), Duration::from_secs(10));
        assert_eq!(ratelimit.policies.len(), 3);
        assert_eq!(ratelimit.trusted_proxies, [ip_net("127.0.0.1"), ip_net("10.0.0.0/8")]);
        assert_eq!(ratelimit.reset_format, ResetFormat::Epoch);
        assert_eq!(ratelimit.max_key_length, 64);
        // An empty list from the environment believes no proxy.
        let env = [("RAMPART_RATELIMIT__TRUSTED_PROXIES", "")];
        assert!(ok(Some("[ratelimit]\ntrusted_proxies = [\"::1\"]"), &env, &[]).ratelimit.trusted_proxies.is_empty());
    }

    #[test]
    fn trusted_proxies_hold_their_networks() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let cases = [
            (
                "10.0.0.0/8",
                &["10.0.0.0", "10.255.1.2", "::ffff:10.1.2.3"][..],
                &["11.0.0.1", "9.255.255.255", "::1"][..],
            ),
            ("127.0.0.1", &["127.0.0.1", "::ffff:127.0.0.1"], &["127.0.0.2"]),
            ("0.0.0.0/0", &["1.2.3.4", "255.255.255.255"], &["::1"]),
            ("::1", &["::1"], &["::2", "127.0.0.1"]),
            ("2001:db8::/32", &["2001:db8::1", "2001:db8:ffff::"], &["2001:db9::1"]),
            ("::/0", &["::1", "fe80::1"], &["10.0.0.1"]),
        ];
        for (net, inside, outside) in cases {
            let parsed = ip_net(net);
            for addr in inside {
                assert!(parsed.contains(ip(addr)), "{net} should hold {addr}");
            }
            for addr in outside {
                assert!(!parsed.contains(ip(addr)), "{net} should not hold {addr}");
            }
        }
        assert_eq!(ip_net(" 10.0.0.0/8 ").to_string(), "10.0.0.0/8");
        assert_eq!(ip_net("::1").to_string(), "::1/128");
        for bad in ["", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/33", "::/129", "10.0.0/8", "localhost", "10.0.0.1/8"] {
            assert!(bad.parse::<IpNet>().is_err(), "{bad:?}");
        }
    }

    /// Each case must produce exactly one error line containing every fragment.
    #[test]
    fn every_rate_limit_problem_names_its_key() {
        type Pairs = &'static [(&'static str, &'static str)];
        // A valid policy `a` the cases below break one key of.
        const A: &str = "[ratelimit.policies.a]\nlimit = 10\nwindow = \"5m\"\n";
        let with_a = |extra: &str| format!("{A}{extra}");
        let cases: Vec<(String, Pairs, Pairs, &[&str])> = vec![
            // Policies: Policy::new's own messages, on the key at fault.
            (
                with_a("algorithm = \"leaky_bucket\""),
                &[],
                &[],
                &["ratelimit.policies.a.algorithm: unknown algorithm `leaky_bucket`", "gcra", "(in "],
            ),
            (
                "[ratelimit.policies.a]\nlimit = 0\nwindow = \"5m\"".into(),
                &[],
                &[],
                &["ratelimit.policies.a.limit: `limit` must be between 1 and 1099511627776; it is 0"],
            ),
            (
                "[ratelimit.policies.a]\nlimit = 1099511627777\nwindow = \"5m\"".into(),
                &[],
                &[],
                &["ratelimit.policies.a.limit: `limit` must be between 1 and"],
            ),
            (
                "[ratelimit.policies.a]\nlimit = -1\nwindow = \"5m\"".into(),
                &[],
                &[],
                &["ratelimit.policies.a.limit: must be at least 0, got -1"],
            ),
            (
                "[ratelimit.policies.a]\nlimit = 10\nwindow = \"0s\"".into(),
                &[],
                &[],
                &["ratelimit.policies.a.window: `window` must be between 1ms and 366 days"],
            ),
            (
                "[ratelimit.policies.a]\nlimit = 10\nwindow = \"367d\"".into(),
                &[],
                &[],
                &["ratelimit.policies.a.window: `window` must be between 1ms and 366 days"],
            ),
            (
                "[ratelimit.policies.a]\nlimit = 10\nwindow = \"soon\"".into(),
                &[],
                &[],
                &["ratelimit.policies.a.window: `soon` is not a duration"],
            ),
            (
                "[ratelimit.policies.a]\nlimit = 10\nwindow = 300".into(),
                &[],
                &[],
                &["ratelimit.policies.a.window: expected a duration string"],
            ),
            (
                with_a("algorithm = \"fixed_window\"\nburst = 20"),
                &[],
                &[],
                &["ratelimit.policies.a.burst: `burst` applies to gcra only, not to fixed_window"],
            ),
            (with_a("burst = 20"), &[], &[], &["ratelimit.policies.a.burst: `burst` applies to gcra only"]),
            (
                with_a("algorithm = \"gcra\"\nburst = 0"),
                &[],
                &[],
                &["ratelimit.policies.a.burst: `burst` must be between 1"],
            ),
            (
                "[ratelimit.policies.a]\nwindow = \"5m\"".into(),
                &[],
                &[],
                &["ratelimit.policies.a.limit: missing", "limit = 10"],
            ),
            ("[ratelimit.policies.a]\nlimit = 10".into(), &[], &[], &["ratelimit.policies.a.window: missing"]),
            // Key sources.
            (
                with_a("key = \"cookie\""),
                &[],
                &[],
                &["ratelimit.policies.a.key: \"cookie\" is not a key source", "header:NAME"],
            ),
            (with_a("key = \"header:\""), &[], &[], &["ratelimit.policies.a.key: \"header:\" names no header"]),
            (
                with_a("key = \"header:bad header\""),
                &[],
                &[],
                &["ratelimit.policies.a.key: \"bad header\" is not an HTTP header name"],
            ),
            (with_a("key = 5"), &[], &[], &["ratelimit.policies.a.key: expected a string, got the integer 5"]),
            // Backends and fallbacks.
            (with_a("backend = \"redis\""), &[], &[], &["ratelimit.policies.a.backend: ", "needs redis_url"]),
            (with_a("backend = \"disk\""), &[], &[], &["ratelimit.policies.a.backend: \"disk\" is not a backend"]),
            (
                with_a("on_backend_error = \"retry\""),
                &[],
                &[],
                &["ratelimit.policies.a.on_backend_error: \"retry\" is not a fallback", "\"deny\""],
            ),
            // Names and unknown keys.
            (
                "[ratelimit.policies.\"has space\"]\nlimit = 1\nwindow = \"1s\"".into(),
                &[],
                &[],
                &["ratelimit.policies.\"has space\": `has space` is not a policy name"],
            ),
            (with_a("limt = 5"), &[], &[], &["ratelimit.policies.a.limt: unknown key", "`on_backend_error`"]),
            ("[ratelimit]\nmax_key = 5".into(), &[], &[], &["ratelimit.max_key: unknown key", "`max_key_length`"]),
            ("ratelimit = 5".into(), &[], &[], &["ratelimit: expected a table of rate-limit settings"]),
            ("[ratelimit]\npolicies = 5".into(), &[], &[], &["ratelimit.policies: expected a table of policies"]),
            (
                "[ratelimit.policies]\nlimit = 5".into(),
                &[],
                &[],
                &["ratelimit.policies.limit: expected a table of settings for policy \"limit\""],
            ),
            (
                "[ratelimit.policies]\noauth = 5".into(),
                &[],
                &[],
                &["ratelimit.policies.oauth: expected a table of policy settings"],
            ),
            // The [ratelimit] keys.
            ("[ratelimit]\nmax_keys = 0".into(), &[], &[], &["ratelimit.max_keys: must be at least 1, got 0"]),
            (
                "[ratelimit]\nmax_key_length = 0".into(),
                &[],
                &[],
                &["ratelimit.max_key_length: must be at least 1, got 0"],
            ),
            (
                "[ratelimit]\nmax_key_length = 4097".into(),
                &[],
                &[],
                &["ratelimit.max_key_length: must be at most 4096"],
            ),
            (
                "[ratelimit]\nreset_format = \"iso\"".into(),
                &[],
                &[],
                &["ratelimit.reset_format: \"iso\" is not a reset format", "\"rfc3339\""],
            ),
            (
                "[ratelimit]\ntrusted_proxies = [\"10.0.0.0/40\"]".into(),
                &[],
                &[],
                &["ratelimit.trusted_proxies: \"10.0.0.0/40\": the prefix length must be a number from 0 to 32"],
            ),
            (
                "[ratelimit]\ntrusted_proxies = [\"127.0.0.1\", \"not-an-ip\"]".into(),
                &[],
                &[],
                &["ratelimit.trusted_proxies: \"not-an-ip\" is not an IP address or network"],
            ),
            (
                "[ratelimit]\ntrusted_proxies = [\"10.0.0.1/8\"]".into(),
                &[],
                &[],
                &[
                    "ratelimit.trusted_proxies: \"10.0.0.1/8\" has address bits set past its prefix; write \"10.0.0.0/8\"",
                ],
            ),
            (
                "[ratelimit]\ntrusted_proxies = \"10.0.0.0/8\"".into(),
                &[],
                &[],
                &["ratelimit.trusted_proxies: expected an array of IP addresses and networks"],
            ),
            (
                "[ratelimit]\ntrusted_proxies = [8]".into(),
                &[],
                &[],
                &["ratelimit.trusted_proxies: expected a string, got the integer 8"],
            ),
            // Environment and flags name the variable or the command line.
            (
                A.into(),
                &[("RAMPART_RATELIMIT__POLICIES__a__LIMIT", "0")],
                &[],
                &["ratelimit.policies.a.limit: `limit` must be", "(from RAMPART_RATELIMIT__POLICIES__a__LIMIT)"],
            ),
            (
                String::new(),
                &[("RAMPART_RATELIMIT__TRUSTED_PROXIES", "10.0.0.0/8,nope")],
                &[],
                &["ratelimit.trusted_proxies: \"nope\"", "(from RAMPART_RATELIMIT__TRUSTED_PROXIES)"],
            ),
            (
                String::new(),
                &[("RAMPART_RATELIMIT__MAX_KEYS", "many")],
                &[],
                &["ratelimit.max_keys: expected a whole number", "(from RAMPART_RATELIMIT__MAX_KEYS)"],
            ),
            (
                String::new(),
                &[("RAMPART_RATELIMIT__POLICIES__a__LIMT", "5")],
                &[],
                &["RAMPART_RATELIMIT__POLICIES__a__LIMT: `ratelimit.policies.a.limt` is not a setting"],
            ),
            (
                String::new(),
                &[("RAMPART_RATELIMIT__POLICIES__a", "5")],
                &[],
                &["RAMPART_RATELIMIT__POLICIES__a: `ratelimit.policies` needs a policy name and a key"],
            ),
            (String::new(), &[("RAMPART_RATELIMIT", "5")], &[], &["RAMPART_RATELIMIT: `ratelimit` is a table"]),
            (
                String::new(),
                &[("RAMPART_RATELIMIT__MAX_KEYS__X", "5")],
                &[],
                &["RAMPART_RATELIMIT__MAX_KEYS__X: `ratelimit.max_keys` has no sub-keys"],
            ),
            (
                String::new(),
                &[
                    ("RAMPART_RATELIMIT__POLICIES__bad name__LIMIT", "5"),
                    ("RAMPART_RATELIMIT__POLICIES__bad name__WINDOW", "1s"),
                ],
                &[],
                &[
                    "ratelimit.policies.\"bad name\": `bad name` is not a policy name",
                    "(from RAMPART_RATELIMIT__POLICIES__bad name__",
                ],
            ),
            (
                A.into(),
                &[],
                &[("ratelimit.policies.a.window", "0s")],
                &["ratelimit.policies.a.window: `window` must be", "(from the command line)"],
            ),
            (
                String::new(),
                &[],
                &[("ratelimit.policies.a.b.frob", "1")],
                &["`ratelimit.policies.a.b.frob` is not a setting", "(from the command line)"],
            ),
        ];
        for (file, env, overrides, fragments) in &cases {
            let lines = errors(Some(file), env, overrides);
            assert_eq!(lines.len(), 1, "case {file:?} {env:?} {overrides:?}: {lines:#?}");
            for fragment in *fragments {
                assert!(lines[0].contains(fragment), "case {file:?} {env:?}: {:?} lacks {fragment:?}", lines[0]);
            }
        }
    }

    #[test]
    fn every_rate_limit_problem_is_reported_at_once() {
        let file = r#"
            [ratelimit]
            max_key_length = 0
            reset_format = "iso"
            trusted_proxies = ["10.0.0.0/40", "not-an-ip"]
            [ratelimit.policies.a]
            limit = 0
            window = "5m"
            key = "cookie"
            [ratelimit.policies.b]
            limit = 10
            window = "5m"
            algorithm = "fixed_window"
            burst = 5
            colour = "red"
        "#;
        let lines = errors(Some(file), &[], &[]);
        let expected = [
            "ratelimit.max_key_length:",
            "ratelimit.reset_format:",
            "ratelimit.trusted_proxies: \"10.0.0.0/40\"",
            "ratelimit.trusted_proxies: \"not-an-ip\"",
            "ratelimit.policies.a.limit:",
            "ratelimit.policies.a.key:",
            "ratelimit.policies.b.burst:",
            "ratelimit.policies.b.colour:",
        ];
        assert_eq!(lines.len(), expected.len(), "{lines:#?}");
        for start in expected {
            assert!(lines.iter().any(|l| l.starts_with(start)), "no line for {start}: {lines:#?}");
        }
    }
}
