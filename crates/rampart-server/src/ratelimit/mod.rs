//! The rate limiter the server runs: the configured policies by name over the
//! memory backend, the engine's clock, and counters of what each policy
//! allowed and denied.
//!
//! The arithmetic lives in `rampart_limit`; this module turns names and raw
//! input into its calls, validating them with messages that name the field
//! (the API and, later, the gate share it), and [`headers`] writes a decision
//! as HTTP headers. The [`Sweeper`](crate::service::Sweeper) drops idle keys
//! in the background.

pub mod headers;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rampart_core::time::{SharedClock, UnixMillis};
use rampart_limit::memory::{Check, MemoryLimiter, PolicyId};
use rampart_limit::policy::{Decision, Nanos};

use crate::config::{PolicyConfig, PolicyName, RateLimitConfig, ResetFormat};

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
}

/// One configured policy with its backend id and counters.
#[derive(Debug)]
pub struct LimitedPolicy {
    /// The policy's name.
    pub name: PolicyName,
    /// Its configuration.
    pub config: PolicyConfig,
    id: PolicyId,
    allowed: AtomicU64,
    denied: AtomicU64,
}

impl LimitedPolicy {
    /// Checks this policy allowed since start.
    pub fn allowed(&self) -> u64 {
        self.allowed.load(Ordering::Relaxed)
    }

    /// Checks this policy denied since start.
    pub fn denied(&self) -> u64 {
        self.denied.load(Ordering::Relaxed)
    }
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
#[derive(Debug, Clone, Copy)]
pub struct Verdict<'a> {
    /// The decision: the first denying check's, or when all allow the one
    /// with the least remaining.
    pub decision: Decision,
    /// The policy that decided.
    pub policy: &'a LimitedPolicy,
    /// When it was decided.
    pub now: UnixMillis,
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
    /// In name order; a policy's index is its `PolicyId`.
    policies: Vec<LimitedPolicy>,
    by_name: BTreeMap<PolicyName, usize>,
    max_key_length: usize,
    reset_format: ResetFormat,
    clock: SharedClock,
}

impl RateLimiter {
    /// A limiter over the configured policies, numbered in name order.
    pub fn new(config: &RateLimitConfig, clock: SharedClock) -> RateLimiter {
        let policies: Vec<LimitedPolicy> = config
            .policies
            .iter()
            .zip(0u32..)
            .map(|((name, config), i)| LimitedPolicy {
                name: name.clone(),
                config: config.clone(),
                id: PolicyId(i),
                allowed: AtomicU64::new(0),
                denied: AtomicU64::new(0),
            })
            .collect();
        let by_name = policies.iter().enumerate().map(|(i, p)| (p.name.clone(), i)).collect();
        RateLimiter {
            inner: Arc::new(Inner {
                memory: MemoryLimiter::new(config.max_keys),
                policies,
                by_name,
                max_key_length: config.max_key_length,
                reset_format: config.reset_format,
                clock,
            }),
        }
    }

    /// Every policy, in name order.
    pub fn policies(&self) -> &[LimitedPolicy] {
        &self.inner.policies
    }

    /// How `X-RateLimit-Reset` is written.
    pub fn reset_format(&self) -> ResetFormat {
        self.inner.reset_format
    }

    /// The policy named `name`.
    pub fn policy(&self, name: &str) -> Result<&LimitedPolicy, LimitError> {
        let index = self.inner.by_name.get(name).ok_or_else(|| LimitError::PolicyNotFound(name.to_string()))?;
        Ok(&self.inner.policies[*index])
    }

    /// Checks every input at once: allowed only if each allows, and a denied
    /// request counts against none of them. Every input is validated before
    /// anything is counted. A denial counts as denied for the binding policy
    /// only, an admission as allowed for each policy checked.
    pub fn check(&self, inputs: &[CheckInput<'_>]) -> Result<Verdict<'_>, LimitError> {
        if inputs.is_empty() || inputs.len() > MAX_CHECKS {
            return Err(LimitError::Invalid(format!(
                "a request makes 1 to {MAX_CHECKS} checks; this one makes {}",
                inputs.len()
            )));
        }
        let mut policies = Vec::with_capacity(inputs.len());
        for input in inputs {
            policies.push(self.validate(input)?);
        }
        let now = self.inner.clock.now();
        let nanos = to_nanos(now);
        let (decision, binding) = match (inputs, policies.as_slice()) {
            // One check needs none of `check_all`'s bookkeeping.
            ([input], [policy]) => {
                (self.inner.memory.check(policy.id, &policy.config.policy, input.key, input.cost, nanos), 0)
            }
            _ => {
                let checks: Vec<Check<'_>> = inputs
                    .iter()
                    .zip(&policies)
                    .map(|(input, policy)| Check {
                        id: policy.id,
                        policy: &policy.config.policy,
                        key: input.key,
                        cost: input.cost,
                    })
                    .collect();
                self.inner.memory.check_all(&checks, nanos).ok_or_else(|| LimitError::Invalid("no checks".into()))?
            }
        };
        if decision.allowed {
            for policy in &policies {
                policy.allowed.fetch_add(1, Ordering::Relaxed);
            }
        } else {
            policies[binding].denied.fetch_add(1, Ordering::Relaxed);
        }
        Ok(Verdict { decision, policy: policies[binding], now })
    }

    /// A key's state under a policy, counting nothing.
    pub fn peek(&self, policy: &str, key: &str) -> Result<(&LimitedPolicy, KeyState), LimitError> {
        let policy = self.policy(policy)?;
        self.validate_key("", key)?;
        let now = to_nanos(self.inner.clock.now());
        let state = match self.inner.memory.peek(policy.id, &policy.config.policy, key, now) {
            Some(decision) => KeyState { decision, fresh: false },
            None => KeyState { decision: policy.config.policy.evaluate(None, 0, now).0, fresh: true },
        };
        Ok((policy, state))
    }

    /// Forgets a key under a policy, so its next check starts fresh. Answers
    /// whether it had a state.
    pub fn reset(&self, policy: &str, key: &str) -> Result<bool, LimitError> {
        let policy = self.policy(policy)?;
        self.validate_key("", key)?;
        Ok(self.inner.memory.reset(policy.id, key))
    }

    /// Drops every idle key; answers how many.
    pub fn sweep(&self) -> usize {
        self.inner.memory.sweep(to_nanos(self.inner.clock.now()))
    }

    fn validate(&self, input: &CheckInput<'_>) -> Result<&LimitedPolicy, LimitError> {
        let policy = self.policy(input.policy)?;
        self.validate_key(input.field, input.key)?;
        let field = input.field;
        let max = policy.config.policy.max_cost();
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
