//! One rate-limit policy as written, and its one validation.
//!
//! A [`PolicySpec`] is what a `[ratelimit.policies.NAME]` table, the body
//! of `PUT /v1/ratelimit/policies/NAME` and a policy kept in the store all
//! say; [`PolicySpec::validate`] turns it into a [`PolicyConfig`] or names
//! every problem by its field. The configuration reads its TOML into a
//! spec, the API its JSON body, the store its kept JSON: the same rules
//! and messages for all three.

use std::fmt;
use std::str::FromStr;

use http::HeaderName;
use rampart_core::duration::parse_duration;
use rampart_limit::{Algorithm, Policy, PolicyError};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::check::choose;

/// A rate-limit policy as written: every field optional until
/// [`PolicySpec::validate`] reads the whole. Kept in the store as its JSON
/// (`serde_json::to_string`), read back by [`PolicySpec::from_json`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PolicySpec {
    /// What a key may do per window (`limit`, required).
    pub limit: Option<u64>,
    /// The window, a duration such as `"5m"` (`window`, required).
    pub window: Option<String>,
    /// `sliding_window` (the default), `fixed_window` or `gcra`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
    /// With `gcra`: how many may come at once (default `limit`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub burst: Option<u64>,
    /// How the gate derives the key: `ip` (the default), `api_key` or `header:NAME`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// `memory` or `redis`; left out, Redis when the server has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// `local` (the default), `allow` or `deny`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_backend_error: Option<String>,
    /// The body of a `429` the gate or the tower layer answers: `rampart`
    /// (the default) or `compat`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deny_body: Option<String>,
}

/// The fields of a [`PolicySpec`], as written in TOML and JSON.
const SPEC_FIELDS: [&str; 8] =
    ["limit", "window", "algorithm", "burst", "key", "backend", "on_backend_error", "deny_body"];

/// One problem with a [`PolicySpec`]: the field at fault and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecProblem {
    /// The field (`limit`, `window`, …).
    pub field: &'static str,
    /// What is wrong with it, and what to write instead.
    pub message: String,
}

impl fmt::Display for SpecProblem {
    /// `field: message`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl PolicySpec {
    /// The policy this spec describes, or every problem with it, each named
    /// by its field: `limit` and `window` missing, a window, algorithm, key
    /// source, backend or fallback that does not read, and what
    /// [`Policy::new`] refuses (tried once the fields it takes read).
    pub fn validate(&self) -> Result<PolicyConfig, Vec<SpecProblem>> {
        let mut problems = Vec::new();
        let mut problem = |field: &'static str, message: String| problems.push(SpecProblem { field, message });
        let missing = |example: &str| format!("missing: every policy needs one, e.g. `{example}`");
        if self.limit.is_none() {
            problem("limit", missing("limit = 10"));
        }
        let window = match &self.window {
            None => {
                problem("window", missing("window = \"5m\""));
                None
            }
            Some(s) => parse_duration(s).map_err(|e| problem("window", e.to_string())).ok(),
        };
        let algorithm = match &self.algorithm {
            None => Some(Algorithm::default()),
            Some(s) => {
                s.trim().to_ascii_lowercase().parse().map_err(|e: PolicyError| problem("algorithm", e.to_string())).ok()
            }
        };
        let key = self.key.as_deref().map_or(Ok(KeySource::default()), str::parse).map_err(|e| problem("key", e)).ok();
        let backend = match &self.backend {
            None => Some(None),
            Some(s) => choose(s, "a backend", &LimitBackend::ALL.map(|b| (b.as_str(), b)))
                .map(Some)
                .map_err(|e| problem("backend", e))
                .ok(),
        };
        let on_backend_error = match &self.on_backend_error {
            None => Some(OnBackendError::default()),
            Some(s) => choose(s, "a fallback", &OnBackendError::ALL.map(|f| (f.as_str(), f)))
                .map_err(|e| problem("on_backend_error", e))
                .ok(),
        };
        let deny_body = match &self.deny_body {
            None => Some(DenyBody::default()),
            Some(s) => choose(s, "a deny body", &DenyBody::ALL.map(|b| (b.as_str(), b)))
                .map_err(|e| problem("deny_body", e))
                .ok(),
        };
        let policy = match (self.limit, window, algorithm) {
            (Some(limit), Some(window), Some(algorithm)) => Policy::new(limit, window, algorithm, self.burst)
                .map_err(|e| {
                    let field = match e {
                        PolicyError::Limit(_) => "limit",
                        PolicyError::Window => "window",
                        PolicyError::Burst(_) => "burst",
                        PolicyError::UnknownAlgorithm(_) => "algorithm",
                    };
                    problem(field, e.to_string());
                })
                .ok(),
            _ => None,
        };
        match (policy, key, backend, on_backend_error, deny_body) {
            (Some(policy), Some(key), Some(backend), Some(on_backend_error), Some(deny_body))
                if problems.is_empty() =>
            {
                Ok(PolicyConfig { policy, key, backend, on_backend_error, deny_body })
            }
            _ => Err(problems),
        }
    }

    /// [`validate`](Self::validate) for a spec read from TOML or JSON in
    /// which the fields `unread` were given but could not be read (their
    /// problem told already): those are neither called missing nor built
    /// upon, and without its algorithm `burst` is left out too, since what
    /// it means depends on the algorithm.
    pub(crate) fn validate_read(mut self, unread: &[&str]) -> Result<PolicyConfig, Vec<SpecProblem>> {
        if unread.contains(&"algorithm") {
            self.burst = None;
        }
        self.validate().map_err(|problems| problems.into_iter().filter(|p| !unread.contains(&p.field)).collect())
    }

    /// Reads and validates a policy kept as JSON (a spec written with
    /// `serde_json`, maybe by another version), with every problem at once,
    /// each as `field: problem`: a member of the wrong type or unknown, and
    /// what [`validate`](Self::validate) finds. A `null` member counts as
    /// left out.
    pub fn read_json(value: &serde_json::Value) -> Result<PolicyConfig, Vec<String>> {
        let Some(members) = value.as_object() else {
            return Err(vec!["a policy is a JSON object such as {\"limit\": 10, \"window\": \"5m\"}".into()]);
        };
        let mut spec = PolicySpec::default();
        let (mut problems, mut unread) = (Vec::new(), Vec::new());
        for (field, member) in members.iter().filter(|(_, member)| !member.is_null()) {
            let read = match field.as_str() {
                "limit" => member_of(member).map(|v| spec.limit = Some(v)),
                "window" => member_of(member).map(|v| spec.window = Some(v)),
                "algorithm" => member_of(member).map(|v| spec.algorithm = Some(v)),
                "burst" => member_of(member).map(|v| spec.burst = Some(v)),
                "key" => member_of(member).map(|v| spec.key = Some(v)),
                "backend" => member_of(member).map(|v| spec.backend = Some(v)),
                "on_backend_error" => member_of(member).map(|v| spec.on_backend_error = Some(v)),
                "deny_body" => member_of(member).map(|v| spec.deny_body = Some(v)),
                _ => {
                    let fields: Vec<String> = SPEC_FIELDS.iter().map(|f| format!("`{f}`")).collect();
                    problems.push(format!("{field}: unknown key; allowed keys here are {}", fields.join(", ")));
                    Ok(())
                }
            };
            if let Err(e) = read {
                problems.push(format!("{field}: {e}"));
                unread.push(field.as_str());
            }
        }
        match spec.validate_read(&unread) {
            Ok(policy) if problems.is_empty() => Ok(policy),
            Ok(_) => Err(problems),
            Err(more) => Err(problems.into_iter().chain(more.iter().map(SpecProblem::to_string)).collect()),
        }
    }
}

/// One member of a spec's JSON as the type its field holds.
fn member_of<T: DeserializeOwned>(member: &serde_json::Value) -> Result<T, serde_json::Error> {
    T::deserialize(member)
}

/// A checked rate-limit policy: what [`PolicySpec::validate`] makes of a spec.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyConfig {
    /// What a key may do: `limit`, `window`, `algorithm` and `burst`, checked.
    pub policy: Policy,
    /// How the gate derives the key from a request (`key`).
    pub key: KeySource,
    /// Where the policy's counters live (`backend`); `None` is the default:
    /// Redis when `redis_url` is set, else memory.
    pub backend: Option<LimitBackend>,
    /// What a check does when its backend fails (`on_backend_error`).
    pub on_backend_error: OnBackendError,
    /// The body of a denial answered by the gate or the tower layer (`deny_body`).
    pub deny_body: DenyBody,
}

/// How the gate derives a policy's key from a request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum KeySource {
    /// The client IP (`"ip"`), from `X-Forwarded-For` only when the peer is a
    /// trusted proxy.
    #[default]
    Ip,
    /// The API key the request authenticated with (`"api_key"`).
    ApiKey,
    /// The value of a request header (`"header:NAME"`), e.g. a user or org id
    /// set by the app's proxy.
    Header(HeaderName),
}

impl fmt::Display for KeySource {
    /// As configured, so `FromStr` reads it back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::Ip => f.write_str("ip"),
            KeySource::ApiKey => f.write_str("api_key"),
            KeySource::Header(name) => write!(f, "header:{name}"),
        }
    }
}

impl FromStr for KeySource {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        if let Some((_, name)) = text.split_once(':').filter(|(kind, _)| kind.trim().eq_ignore_ascii_case("header")) {
            let name = name.trim();
            if name.is_empty() {
                return Err(format!("{s:?} names no header; write e.g. \"header:X-User-Id\""));
            }
            return HeaderName::from_bytes(name.as_bytes())
                .map(KeySource::Header)
                .map_err(|_| format!("{name:?} is not an HTTP header name; write e.g. \"header:X-User-Id\""));
        }
        match text.to_ascii_lowercase().as_str() {
            "ip" => Ok(KeySource::Ip),
            "api_key" => Ok(KeySource::ApiKey),
            _ => Err(format!("{s:?} is not a key source; use \"ip\", \"api_key\" or \"header:NAME\"")),
        }
    }
}

rampart_core::named_enum! {
    /// Where a policy's counters live (named as configuration and the API
    /// give it).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub enum LimitBackend {
        /// In this process: each node counts on its own.
        #[default]
        Memory = "memory",
        /// In the Redis at `redis_url`: every node shares one count.
        Redis = "redis",
    }
}

rampart_core::named_enum! {
    /// What a check does when its backend fails or answers too slowly
    /// (named as configuration and the API give it).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub enum OnBackendError {
        /// Counts in memory with the same policy until the backend is back.
        #[default]
        Local = "local",
        /// Admits the check.
        Allow = "allow",
        /// Refuses the check.
        Deny = "deny",
    }
}

rampart_core::named_enum! {
    /// The body of a `429` answered for a policy (named as configuration
    /// and the API give it).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub enum DenyBody {
        /// rampart's: `{"error": {"code", "message"}, "retry_after_s"}`.
        #[default]
        Rampart = "rampart",
        /// The shape apps' own limiters answered: `{"error", "code",
        /// "retryAfter" (RFC 3339), "retryAfterSeconds"}`.
        Compat = "compat",
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_policy_reads_from_json_with_each_problem_named_without_a_source() {
        let policy = PolicySpec::read_json(&serde_json::json!({"limit": 3, "window": "10s", "algorithm": "gcra",
            "burst": 6, "key": "api_key", "backend": null}))
        .unwrap();
        assert_eq!(policy.policy, Policy::new(3, Duration::from_secs(10), Algorithm::Gcra, Some(6)).unwrap());
        assert_eq!((policy.key, policy.backend), (KeySource::ApiKey, None));
        let problems = PolicySpec::read_json(&serde_json::json!({"window": 5, "nope": true})).unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems.iter().all(|p| !p.contains("built-in")), "{problems:?}");
        assert!(PolicySpec::read_json(&serde_json::json!([1])).is_err());
        assert!(PolicySpec::read_json(&serde_json::json!({"limit": u64::MAX, "window": "1s"})).is_err());
    }

    fn spec(limit: u64, window: &str) -> PolicySpec {
        PolicySpec { limit: Some(limit), window: Some(window.into()), ..PolicySpec::default() }
    }

    /// Each case's problems, as `field: message` prefixes, in order.
    #[test]
    fn validation_names_every_problem_by_its_field() {
        let cases: Vec<(PolicySpec, &[&str])> = vec![
            (PolicySpec::default(), &["limit: missing", "window: missing"]),
            (spec(0, "1m"), &["limit: `limit` must be between 1 and"]),
            (spec(5, "0s"), &["window: `window` must be between 1ms and 366 days"]),
            (spec(5, "soon"), &["window: `soon` is not a duration"]),
            (PolicySpec { burst: Some(3), ..spec(5, "1m") }, &["burst: `burst` applies to gcra only"]),
            (
                PolicySpec { algorithm: Some("leaky".into()), burst: Some(3), ..spec(0, "1m") },
                &["algorithm: unknown algorithm `leaky`"],
            ),
            (
                PolicySpec {
                    key: Some("cookie".into()),
                    backend: Some("disk".into()),
                    on_backend_error: Some("retry".into()),
                    deny_body: Some("html".into()),
                    ..spec(5, "1m")
                },
                &[
                    "key: \"cookie\" is not a key source",
                    "backend: \"disk\" is not a backend; use \"memory\" or \"redis\"",
                    "on_backend_error: \"retry\" is not a fallback; use \"local\", \"allow\" or \"deny\"",
                    "deny_body: \"html\" is not a deny body; use \"rampart\" or \"compat\"",
                ],
            ),
        ];
        for (spec, expected) in cases {
            let problems: Vec<String> = spec.validate().unwrap_err().iter().map(SpecProblem::to_string).collect();
            assert_eq!(problems.len(), expected.len(), "{spec:?}: {problems:#?}");
            for (problem, prefix) in problems.iter().zip(expected) {
                assert!(problem.starts_with(prefix), "{spec:?}: {problem:?} does not start with {prefix:?}");
            }
        }
        let read = PolicySpec {
            algorithm: Some(" GCRA ".into()),
            burst: Some(10),
            key: Some("header:X-User-Id".into()),
            backend: Some("Redis".into()),
            on_backend_error: Some("deny".into()),
            ..spec(5, "1m")
        }
        .validate()
        .unwrap();
        let expected = PolicyConfig {
            policy: Policy::new(5, Duration::from_secs(60), Algorithm::Gcra, Some(10)).unwrap(),
            key: KeySource::Header(HeaderName::from_static("x-user-id")),
            backend: Some(LimitBackend::Redis),
            on_backend_error: OnBackendError::Deny,
            deny_body: DenyBody::Rampart,
        };
        assert_eq!(read, expected);
    }

    #[test]
    fn a_spec_kept_as_json_reads_back_as_the_same_policy() {
        let plain = spec(1, "10s");
        assert_eq!(serde_json::to_string(&plain).unwrap(), r#"{"limit":1,"window":"10s"}"#);
        let full = PolicySpec {
            algorithm: Some("gcra".into()),
            burst: Some(4),
            key: Some("api_key".into()),
            backend: Some("memory".into()),
            on_backend_error: Some("allow".into()),
            deny_body: Some("compat".into()),
            ..spec(2, "1s")
        };
        for spec in [plain, full] {
            let kept: serde_json::Value = serde_json::from_str(&serde_json::to_string(&spec).unwrap()).unwrap();
            assert_eq!(PolicySpec::read_json(&kept), Ok(spec.validate().unwrap()), "{kept}");
        }
    }
}
