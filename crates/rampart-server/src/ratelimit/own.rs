//! The limits on rampart's own API (`[ratelimit.api]`): one policy per API
//! key for requests whose key this node has verified, and one per client IP
//! for every other request (no key, a wrong key, or a key not verified yet).
//!
//! They always count in this node's memory, apart from the named policies
//! (never in Redis, never listed by `GET /v1/ratelimit/policies`), so that a
//! request costs one in-memory check and nothing else: the API middleware
//! (`api::guard`) makes exactly one [`check_key`](OwnLimits::check_key) or
//! [`check_ip`](OwnLimits::check_ip) per request. The
//! [`Sweeper`](crate::service::Sweeper) drops their idle keys.

use std::net::IpAddr;
use std::sync::Arc;

use rampart_core::id::PolicyName;
use rampart_core::time::SharedClock;
use rampart_limit::memory::{MemoryLimiter, PolicyId};
use rampart_limit::policy::Policy;

use super::{LimitedPolicy, PolicySource, Verdict, to_nanos};
use crate::config::{IpNet, KeySource, LimitBackend, OnBackendError, PolicyConfig, RateLimitConfig, ResetFormat};

/// The name the per-key policy goes by in headers (`RateLimit-Policy`).
pub const PER_KEY: &str = "rampart:per_key";
/// The name the per-IP policy goes by in headers.
pub const PER_IP: &str = "rampart:per_ip";

/// The key a request without a known peer address counts against: requests
/// served without connect info (in-process tests) share one bucket.
const UNKNOWN_PEER: &str = "unknown";

/// The limits on rampart's own API; cheap to clone.
#[derive(Clone)]
pub struct OwnLimits {
    inner: Arc<Inner>,
}

struct Inner {
    enabled: bool,
    memory: MemoryLimiter,
    per_key: Arc<LimitedPolicy>,
    per_ip: Arc<LimitedPolicy>,
    trusted_proxies: Vec<IpNet>,
    reset_format: ResetFormat,
    clock: SharedClock,
}

impl OwnLimits {
    /// The limits `config.api` describes, on the engine's clock, keeping at
    /// most `config.max_keys` keys.
    pub fn new(config: &RateLimitConfig, clock: SharedClock) -> OwnLimits {
        let api = &config.api;
        OwnLimits {
            inner: Arc::new(Inner {
                enabled: api.enabled,
                memory: MemoryLimiter::new(config.max_keys),
                per_key: limited(PER_KEY, 0, &api.per_key, KeySource::ApiKey),
                per_ip: limited(PER_IP, 1, &api.per_ip, KeySource::Ip),
                trusted_proxies: config.trusted_proxies.clone(),
                reset_format: config.reset_format,
                clock,
            }),
        }
    }

    /// Whether the limits apply (`ratelimit.api.enabled`).
    pub fn enabled(&self) -> bool {
        self.inner.enabled
    }

    /// The proxies whose `X-Forwarded-For` this server believes.
    pub fn trusted_proxies(&self) -> &[IpNet] {
        &self.inner.trusted_proxies
    }

    /// How `X-RateLimit-Reset` is written.
    pub fn reset_format(&self) -> ResetFormat {
        self.inner.reset_format
    }

    /// Counts one request of the API key with id `key_id`.
    pub fn check_key(&self, key_id: i64) -> Verdict {
        self.check(&self.inner.per_key, &key_id.to_string())
    }

    /// Counts one request from `client` (`None`: the peer is not known).
    pub fn check_ip(&self, client: Option<IpAddr>) -> Verdict {
        match client {
            Some(ip) => self.check(&self.inner.per_ip, &ip.to_string()),
            None => self.check(&self.inner.per_ip, UNKNOWN_PEER),
        }
    }

    /// Drops every idle key; answers how many.
    pub fn sweep(&self) -> usize {
        self.inner.memory.sweep(to_nanos(self.inner.clock.now()))
    }

    fn check(&self, policy: &Arc<LimitedPolicy>, key: &str) -> Verdict {
        let now = self.inner.clock.now();
        let decision = self.inner.memory.check(policy.id, policy.policy(), key, 1, to_nanos(now));
        Verdict { decision, policy: Arc::clone(policy), now, fallback: false }
    }
}

/// One of the two policies, as the headers need it.
fn limited(name: &str, id: u32, policy: &Policy, key: KeySource) -> Arc<LimitedPolicy> {
    Arc::new(LimitedPolicy {
        name: PolicyName::new(name).expect("the own-API policy names are valid"),
        config: PolicyConfig {
            policy: *policy,
            key,
            backend: LimitBackend::Memory.into(),
            on_backend_error: OnBackendError::default(),
            deny_body: Default::default(),
        },
        source: PolicySource::Config,
        backend: LimitBackend::Memory,
        id: PolicyId(id),
        counters: Arc::default(),
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rampart_core::time::{ManualClock, UnixMillis};
    use rampart_limit::policy::Algorithm;

    use super::*;
    use crate::config::ApiLimitsConfig;

    fn limits(per_key: u64, per_ip: u64) -> (OwnLimits, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(UnixMillis(1_800_000_000_000)));
        let policy = |limit| Policy::new(limit, Duration::from_secs(60), Algorithm::FixedWindow, None).unwrap();
        let config = RateLimitConfig {
            api: ApiLimitsConfig { enabled: true, per_key: policy(per_key), per_ip: policy(per_ip) },
            ..RateLimitConfig::default()
        };
        (OwnLimits::new(&config, clock.clone()), clock)
    }

    #[test]
    fn keys_and_addresses_count_apart() {
        let (limits, clock) = limits(2, 1);
        let ip: IpAddr = "203.0.113.7".parse().unwrap();
        assert!(limits.check_key(1).decision.allowed);
        assert!(limits.check_key(1).decision.allowed);
        let denied = limits.check_key(1);
        assert!(!denied.decision.allowed);
        assert_eq!(denied.policy.name.as_str(), PER_KEY);
        assert!(limits.check_key(2).decision.allowed, "another key is unaffected");
        assert!(limits.check_ip(Some(ip)).decision.allowed, "addresses count apart from keys");
        let by_ip = limits.check_ip(Some(ip));
        assert_eq!((by_ip.decision.allowed, by_ip.policy.name.as_str()), (false, PER_IP));
        assert!(limits.check_ip(None).decision.allowed);
        assert!(!limits.check_ip(None).decision.allowed, "unknown peers share one key");

        assert_eq!(limits.sweep(), 0);
        clock.advance(Duration::from_secs(60));
        assert_eq!(limits.sweep(), 4);
        assert!(limits.check_key(1).decision.allowed);
    }
}
