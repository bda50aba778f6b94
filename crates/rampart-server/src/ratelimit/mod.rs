//! The rate limiter the server runs: named policies (from the configuration
//! and from the admin API, see [`policies`]) over the memory backend, the
//! engine's clock, and counters of what each policy allowed and denied.
//!
//! The arithmetic lives in `rampart_limit`; this module turns names and raw
//! input into its calls, validating them with messages that name the field
//! (the check API, the gate and the tower layer share it), and [`headers`]
//! writes a decision as HTTP headers. The [`Sweeper`](crate::service::Sweeper)
//! drops idle keys in the background.

pub mod client_ip;
pub mod headers;
pub mod layer;
pub mod own;
pub mod policies;
pub mod redis;
pub mod stored;

use std::collections::BTreeMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use rampart_core::id::PolicyName;
use rampart_core::time::{SharedClock, UnixMillis};
use rampart_limit::memory::{Check, MemoryLimiter};
use rampart_limit::policy::{Decision, Nanos};

use crate::config::{LimitBackend, OnBackendError, PolicyConfig, RateLimitConfig, RedisUrl, ResetFormat};
use policies::Registry;
pub use policies::{LimitedPolicy, PolicySet, PolicySource};
use redis::{RedisBackend, RedisCheck, Unavailable, allowed_fallback, denied_fallback};

/// What a fallback that refuses tells the client to wait: about when the
/// prober has looked at the backend again.
const FALLBACK_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// The most checks one request may make at once.
pub const MAX_CHECKS: usize = 16;

/// Why a check, a look or a reset was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// No policy has this name.
    #[error("no rate-limit policy is named `{0}`; GET /v1/ratelimit/policies lists them")]
    PolicyNotFound(String),
    /// A key or cost is out of range; the message names the field.
    #[error("{0}")]
    Invalid(String),
    /// The policy's backend cannot be reached, and the call has no fallback.
    #[error(
        "the Redis backend of policy `{0}` is not answering; try again when it is (GET /v1/ratelimit/policies shows its state)"
    )]
    BackendUnavailable(String),
}

/// One check as a request gives it, before validation.
#[derive(Debug, Clone, Copy)]
pub struct CheckInput<'a> {
    /// Where the check sits in the request (`""` or `"checks[2]."`), put
    /// before field names in error messages.
    pub field: &'a str,
    /// The policy's name.
    pub policy: &'a str,
    /// The key counted against.
    pub key: &'a str,
    /// What the check costs (at least 1).
    pub cost: u64,
}

/// The answer to a check: the binding decision and what is needed to write it.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// The decision: the first denying check's, or when all allow the one
    /// with the least remaining.
    pub decision: Decision,
    /// The policy that decided.
    pub policy: Arc<LimitedPolicy>,
    /// When it was decided.
    pub now: UnixMillis,
    /// Whether a policy's `on_backend_error` decided because its backend failed.
    pub fallback: bool,
}

/// A decision and where it came from.
struct Outcome {
    decision: Decision,
    /// Index of the binding check in the request.
    binding: usize,
    fallback: bool,
}

/// What a key looks like now, counting nothing.
#[derive(Debug, Clone, Copy)]
pub struct KeyState {
    /// What a check of cost 0 would see.
    pub decision: Decision,
    /// Whether the key has no state that matters (it decides as new).
    pub fresh: bool,
}

/// The server's rate limiter; cheap to clone.
#[derive(Clone)]
pub struct RateLimiter {
    inner: Arc<Inner>,
}

struct Inner {
    memory: MemoryLimiter,
    /// The policies in force; swapped whole when the stored ones change.
    set: ArcSwap<PolicySet>,
    configured: BTreeMap<PolicyName, PolicyConfig>,
    presets: BTreeMap<PolicyName, PolicyConfig>,
    registry: Registry,
    redis: Option<Arc<RedisBackend>>,
    max_key_length: usize,
    reset_format: ResetFormat,
    clock: SharedClock,
}

impl RateLimiter {
    /// A limiter over the configured policies, counting in memory only;
    /// stored ones join them through [`set_stored`](Self::set_stored).
    pub fn new(config: &RateLimitConfig, clock: SharedClock) -> RateLimiter {
        RateLimiter::with_redis(config, None, clock)
    }

    /// A limiter whose Redis policies count in the Redis at `redis_url`
    /// (not connected yet: the [`RedisProber`](crate::service::RedisProber)
    /// connects it, and until then Redis policies fall back).
    pub fn with_redis(config: &RateLimitConfig, redis_url: Option<&RedisUrl>, clock: SharedClock) -> RateLimiter {
        let redis = redis_url.map(|url| Arc::new(RedisBackend::new(url, config)));
        let registry = Registry::default();
        let set = registry.build(&config.policies, &BTreeMap::new(), &config.presets, redis.is_some());
        RateLimiter {
            inner: Arc::new(Inner {
                memory: MemoryLimiter::new(config.max_keys),
                set: ArcSwap::from_pointee(set),
                configured: config.policies.clone(),
                presets: config.presets.clone(),
                registry,
                redis,
                max_key_length: config.max_key_length,
                reset_format: config.reset_format,
                clock,
            }),
        }
    }

    /// Replaces the policies defined through the admin API with `stored`;
    /// a name the configuration also defines keeps the configuration's.
    pub fn set_stored(&self, stored: &BTreeMap<PolicyName, PolicyConfig>) {
        let inner = &self.inner;
        let set = inner.registry.build(&inner.configured, stored, &inner.presets, inner.redis.is_some());
        self.inner.set.store(Arc::new(set));
    }

    /// The clock the limiter decides by, which its sweeper and policy
    /// syncer sleep on.
    pub fn clock(&self) -> &SharedClock {
        &self.inner.clock
    }

    /// Whether the configuration defines `name` (so the admin API may not).
    pub fn is_configured(&self, name: &str) -> bool {
        self.inner.configured.contains_key(name)
    }

    /// Whether `name` is a preset (which a stored policy may replace but
    /// nothing deletes).
    pub fn is_preset(&self, name: &str) -> bool {
        self.inner.presets.contains_key(name)
    }

    /// The policies in force now.
    pub fn policies(&self) -> Arc<PolicySet> {
        self.inner.set.load_full()
    }

    /// How `X-RateLimit-Reset` is written.
    pub fn reset_format(&self) -> ResetFormat {
        self.inner.reset_format
    }

    /// The policy named `name`.
    pub fn policy(&self, name: &str) -> Result<Arc<LimitedPolicy>, LimitError> {
        self.inner.set.load().get(name).cloned().ok_or_else(|| LimitError::PolicyNotFound(name.to_string()))
    }

    /// Checks every input at once: allowed only if each allows, and a denied
    /// request counts against none of them. Every input is validated before
    /// anything is counted. A denial counts as denied for the binding policy
    /// only, an admission as allowed for each policy checked.
    ///
    /// Checks on one backend are atomic together. A request mixing memory
    /// and Redis policies counts its memory checks first: if a Redis policy
    /// then denies it, its memory policies have counted it (the error is on
    /// the side of refusing, and only on this node).
    pub async fn check(&self, inputs: &[CheckInput<'_>]) -> Result<Verdict, LimitError> {
        if inputs.is_empty() || inputs.len() > MAX_CHECKS {
            return Err(LimitError::Invalid(format!(
                "a request makes 1 to {MAX_CHECKS} checks; this one makes {}",
                inputs.len()
            )));
        }
        let set = self.inner.set.load();
        let mut policies = Vec::with_capacity(inputs.len());
        for input in inputs {
            policies.push(self.validate(&set, input)?);
        }
        let now = self.inner.clock.now();
        let nanos = to_nanos(now);
        let outcome = if policies.iter().all(|p| p.backend == LimitBackend::Memory) {
            let all: Vec<usize> = (0..inputs.len()).collect();
            let (decision, binding) = self.check_memory(inputs, &policies, &all, nanos);
            Outcome { decision, binding, fallback: false }
        } else {
            self.check_with_redis(inputs, &policies, now, nanos).await
        };
        let Outcome { decision, binding, fallback } = outcome;
        if decision.allowed {
            for policy in &policies {
                policy.counters.allow();
            }
        } else {
            policies[binding].counters.deny();
        }
        Ok(Verdict { decision, policy: Arc::clone(policies[binding]), now, fallback })
    }

    /// The checks at `which` in memory, atomically; the binding index is into `inputs`.
    fn check_memory(
        &self,
        inputs: &[CheckInput<'_>],
        policies: &[&Arc<LimitedPolicy>],
        which: &[usize],
        now: Nanos,
    ) -> (Decision, usize) {
        let memory = &self.inner.memory;
        if let [i] = *which {
            // One check needs none of `check_all`'s bookkeeping.
            let (input, policy) = (&inputs[i], policies[i]);
            return (memory.check(policy.id, policy.policy(), input.key, input.cost, now), i);
        }
        let checks: Vec<Check<'_>> = which
            .iter()
            .map(|&i| Check {
                id: policies[i].id,
                policy: policies[i].policy(),
                key: inputs[i].key,
                cost: inputs[i].cost,
            })
            .collect();
        let (decision, at) = memory.check_all(&checks, now).unwrap_or((allowed_fallback(policies[0].policy(), now), 0));
        (decision, which.get(at).copied().unwrap_or(0))
    }

    async fn check_with_redis(
        &self,
        inputs: &[CheckInput<'_>],
        policies: &[&Arc<LimitedPolicy>],
        now: UnixMillis,
        nanos: Nanos,
    ) -> Outcome {
        let (on_redis, in_memory): (Vec<usize>, Vec<usize>) =
            (0..inputs.len()).partition(|&i| policies[i].backend == LimitBackend::Redis);
        let mut decided: Vec<(Decision, usize)> = Vec::with_capacity(2);
        if !in_memory.is_empty() {
            let (decision, binding) = self.check_memory(inputs, policies, &in_memory, nanos);
            if !decision.allowed {
                return Outcome { decision, binding, fallback: false };
            }
            decided.push((decision, binding));
        }
        let redis_checks: Vec<RedisCheck<'_>> = on_redis
            .iter()
            .map(|&i| RedisCheck {
                name: policies[i].name.as_str(),
                policy: policies[i].policy(),
                key: inputs[i].key,
                cost: inputs[i].cost,
            })
            .collect();
        let answer = match &self.inner.redis {
            Some(redis) => redis.check(&redis_checks, now).await,
            None => Err(Unavailable::Skipped),
        };
        let fallback = match answer {
            Ok((decision, at)) => {
                decided.push((decision, on_redis[at]));
                false
            }
            Err(_) => {
                let mut local = Vec::new();
                for &i in &on_redis {
                    let policy = policies[i];
                    policy.counters.fall_back();
                    match policy.config.on_backend_error {
                        OnBackendError::Local => local.push(i),
                        OnBackendError::Allow => decided.push((allowed_fallback(policy.policy(), nanos), i)),
                        OnBackendError::Deny => {
                            let decision = denied_fallback(policy.policy(), FALLBACK_RETRY);
                            return Outcome { decision, binding: i, fallback: true };
                        }
                    }
                }
                if !local.is_empty() {
                    decided.push(self.check_memory(inputs, policies, &local, nanos));
                }
                true
            }
        };
        // The first denial binds, else the least remaining.
        let (decision, binding) = decided
            .iter()
            .copied()
            .find(|(d, _)| !d.allowed)
            .or_else(|| decided.iter().copied().min_by_key(|(d, _)| d.remaining))
            .unwrap_or((allowed_fallback(policies[0].policy(), nanos), 0));
        Outcome { decision, binding, fallback }
    }

    /// A key's state under a policy, counting nothing. For a Redis policy
    /// whose backend is down, the local fallback's state.
    pub async fn peek(&self, policy: &str, key: &str) -> Result<(Arc<LimitedPolicy>, KeyState), LimitError> {
        let policy = self.policy(policy)?;
        self.validate_key("", key)?;
        let now = self.inner.clock.now();
        let nanos = to_nanos(now);
        let fresh =
            |policy: &LimitedPolicy| KeyState { decision: policy.policy().evaluate(None, 0, nanos).0, fresh: true };
        if let (LimitBackend::Redis, Some(redis)) = (policy.backend, &self.inner.redis)
            && let Ok(found) = redis.peek(policy.name.as_str(), policy.policy(), key, now).await
        {
            let state = match found {
                Some(decision) => KeyState { decision, fresh: false },
                None => fresh(&policy),
            };
            return Ok((policy, state));
        }
        let state = match self.inner.memory.peek(policy.id, policy.policy(), key, nanos) {
            Some(decision) => KeyState { decision, fresh: false },
            None => fresh(&policy),
        };
        Ok((policy, state))
    }

    /// Forgets a key under a policy, so its next check starts fresh: in
    /// Redis for a Redis policy, and in memory (where its fallback counts).
    /// Answers whether it had a state.
    pub async fn reset(&self, policy: &str, key: &str) -> Result<bool, LimitError> {
        let policy = self.policy(policy)?;
        self.validate_key("", key)?;
        let mut had = self.inner.memory.reset(policy.id, key);
        if let (LimitBackend::Redis, Some(redis)) = (policy.backend, &self.inner.redis) {
            match redis.reset(policy.name.as_str(), policy.policy(), key, self.inner.clock.now()).await {
                Ok(found) => had |= found,
                Err(_) => return Err(LimitError::BackendUnavailable(policy.name.to_string())),
            }
        }
        Ok(had)
    }

    /// The Redis backend, when `redis_url` is set.
    pub fn redis(&self) -> Option<&Arc<RedisBackend>> {
        self.inner.redis.as_ref()
    }

    /// Drops every idle key; answers how many.
    pub fn sweep(&self) -> usize {
        self.inner.memory.sweep(to_nanos(self.inner.clock.now()))
    }

    fn validate<'s>(&self, set: &'s PolicySet, input: &CheckInput<'_>) -> Result<&'s Arc<LimitedPolicy>, LimitError> {
        let policy = set.get(input.policy).ok_or_else(|| LimitError::PolicyNotFound(input.policy.to_string()))?;
        self.validate_key(input.field, input.key)?;
        let field = input.field;
        let max = policy.policy().max_cost();
        if input.cost == 0 {
            return Err(LimitError::Invalid(format!("invalid field `{field}cost`: it must be at least 1")));
        }
        if input.cost > max {
            // A denial would be wrong: no wait makes this cost fit.
            return Err(LimitError::Invalid(format!(
                "invalid field `{field}cost`: {} is above what policy `{}` can ever admit at once ({max})",
                input.cost, policy.name
            )));
        }
        Ok(policy)
    }

    fn validate_key(&self, field: &str, key: &str) -> Result<(), LimitError> {
        let max = self.inner.max_key_length;
        if key.is_empty() || key.len() > max {
            return Err(LimitError::Invalid(format!(
                "invalid field `{field}key`: it must be 1 to {max} bytes (max_key_length); it is {} bytes",
                key.len()
            )));
        }
        Ok(())
    }
}

/// The clock's milliseconds as the limiter's nanoseconds; times before the
/// epoch cannot come from a real clock and read as the epoch.
fn to_nanos(now: UnixMillis) -> Nanos {
    u64::try_from(now.0).unwrap_or(0).saturating_mul(1_000_000)
}
