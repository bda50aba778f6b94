//! The set of policies the limiter knows: those of the configuration, which
//! are fixed, those defined through the admin API and kept in the store,
//! which every node reloads when they change, and the presets, which either
//! replaces.
//!
//! A policy keeps its backend id (half of every key's identity in the memory
//! backend) and its counters across reloads, so redefining a policy does not
//! reset its keys or its figures. Only a change of algorithm or window,
//! which changes what a stored state means, gives it a new id.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use rampart_core::id::PolicyName;
use rampart_limit::memory::PolicyId;
use rampart_limit::policy::{Algorithm, Policy};

use crate::config::{LimitBackend, PolicyConfig};

rampart_core::named_enum! {
    /// Where a policy was defined.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum PolicySource {
        /// `[ratelimit.policies.NAME]`: changed only by editing the configuration.
        Config = "config",
        /// `PUT /v1/ratelimit/policies/{name}`: kept in the store.
        Api = "api",
        /// A preset every server has (`[ratelimit.presets]`).
        Preset = "preset",
    }
}

/// What a policy admitted and refused since this node started.
#[derive(Debug, Default)]
pub struct Counters {
    allowed: AtomicU64,
    denied: AtomicU64,
    fallbacks: AtomicU64,
}

impl Counters {
    /// Counts an admitted check.
    pub fn allow(&self) {
        self.allowed.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a refused check.
    pub fn deny(&self) {
        self.denied.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a check decided by the fallback because the backend failed.
    pub fn fall_back(&self) {
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
    }
}

/// One policy as the limiter runs it.
#[derive(Debug)]
pub struct LimitedPolicy {
    /// The policy's name.
    pub name: PolicyName,
    /// Its settings.
    pub config: PolicyConfig,
    /// Where it was defined.
    pub source: PolicySource,
    /// Where its counters live, the default resolved.
    pub backend: LimitBackend,
    pub(super) id: PolicyId,
    pub(super) counters: Arc<Counters>,
}

impl LimitedPolicy {
    /// The arithmetic.
    pub fn policy(&self) -> &Policy {
        &self.config.policy
    }

    /// Checks this policy admitted since start.
    pub fn allowed(&self) -> u64 {
        self.counters.allowed.load(Ordering::Relaxed)
    }

    /// Checks this policy refused since start.
    pub fn denied(&self) -> u64 {
        self.counters.denied.load(Ordering::Relaxed)
    }

    /// Checks decided by the fallback since start, because the backend
    /// failed or was being skipped after a failure.
    pub fn fallbacks(&self) -> u64 {
        self.counters.fallbacks.load(Ordering::Relaxed)
    }
}

/// The policies in force at one moment; replaced whole on reload, so a
/// check sees one consistent set.
#[derive(Debug, Default)]
pub struct PolicySet {
    by_name: BTreeMap<PolicyName, Arc<LimitedPolicy>>,
}

impl PolicySet {
    /// The policy named `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<LimitedPolicy>> {
        self.by_name.get(name)
    }

    /// Every policy, in name order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<LimitedPolicy>> {
        self.by_name.values()
    }
}

/// What makes a stored state mean the same: a change of either is a new key space.
type Shape = (Algorithm, u128);

fn shape(policy: &Policy) -> Shape {
    (policy.algorithm(), policy.window().as_nanos())
}

/// Hands out policy ids and counters, stable for a name and shape across
/// reloads.
#[derive(Debug, Default)]
pub struct Registry {
    inner: Mutex<RegistryInner>,
}

#[derive(Debug, Default)]
struct RegistryInner {
    ids: HashMap<(PolicyName, Shape), PolicyId>,
    counters: HashMap<PolicyName, Arc<Counters>>,
    next: u32,
}

impl Registry {
    /// The set of `configured` policies, plus the `stored` ones whose names
    /// the configuration does not use (the configuration wins), plus the
    /// `presets` neither replaces. A policy that names no backend counts in
    /// Redis when there is one (`redis`).
    pub fn build(
        &self,
        configured: &BTreeMap<PolicyName, PolicyConfig>,
        stored: &BTreeMap<PolicyName, PolicyConfig>,
        presets: &BTreeMap<PolicyName, PolicyConfig>,
        redis: bool,
    ) -> PolicySet {
        let default_backend = if redis { LimitBackend::Redis } else { LimitBackend::Memory };
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let mut by_name = BTreeMap::new();
        let all = configured
            .iter()
            .map(|(n, c)| (n, c, PolicySource::Config))
            .chain(stored.iter().filter(|(n, _)| !configured.contains_key(*n)).map(|(n, c)| (n, c, PolicySource::Api)))
            .chain(
                presets
                    .iter()
                    .filter(|(n, _)| !configured.contains_key(*n) && !stored.contains_key(*n))
                    .map(|(n, c)| (n, c, PolicySource::Preset)),
            );
        for (name, config, source) in all {
            let RegistryInner { ids, counters, next } = &mut *inner;
            let id = *ids.entry((name.clone(), shape(&config.policy))).or_insert_with(|| {
                *next += 1;
                PolicyId(*next)
            });
            let counters = Arc::clone(counters.entry(name.clone()).or_default());
            let backend = config.backend.unwrap_or(default_backend);
            let policy = LimitedPolicy { name: name.clone(), config: config.clone(), source, backend, id, counters };
            by_name.insert(name.clone(), Arc::new(policy));
        }
        PolicySet { by_name }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn config(limit: u64, window_s: u64, algorithm: Algorithm) -> PolicyConfig {
        PolicyConfig {
            policy: Policy::new(limit, Duration::from_secs(window_s), algorithm, None).unwrap(),
            key: Default::default(),
            backend: Default::default(),
            on_backend_error: Default::default(),
            deny_body: Default::default(),
        }
    }

    fn names(pairs: &[(&str, PolicyConfig)]) -> BTreeMap<PolicyName, PolicyConfig> {
        pairs.iter().map(|(n, c)| (PolicyName::new(n).unwrap(), c.clone())).collect()
    }

    #[test]
    fn ids_and_counters_survive_a_reload_unless_the_shape_changes() {
        let registry = Registry::default();
        let configured = names(&[("fixed", config(5, 60, Algorithm::FixedWindow))]);
        let first = registry.build(
            &configured,
            &names(&[("api", config(10, 60, Algorithm::SlidingWindow))]),
            &BTreeMap::new(),
            false,
        );
        first.get("api").unwrap().counters.allow();

        let raised = registry.build(
            &configured,
            &names(&[("api", config(20, 60, Algorithm::SlidingWindow))]),
            &BTreeMap::new(),
            false,
        );
        assert_eq!(raised.get("api").unwrap().id, first.get("api").unwrap().id, "a new limit keeps the keys");
        assert_eq!(raised.get("api").unwrap().allowed(), 1, "and the counters");
        assert_eq!(raised.get("fixed").unwrap().id, first.get("fixed").unwrap().id);

        let rewindowed = registry.build(
            &configured,
            &names(&[("api", config(20, 10, Algorithm::SlidingWindow))]),
            &BTreeMap::new(),
            true,
        );
        assert_ne!(rewindowed.get("api").unwrap().id, first.get("api").unwrap().id, "a new window is a new key space");
        assert_eq!(rewindowed.get("api").unwrap().allowed(), 1);
    }

    #[test]
    fn the_configuration_wins_over_a_stored_policy_and_both_over_a_preset() {
        let registry = Registry::default();
        let set = registry.build(
            &names(&[("login", config(5, 60, Algorithm::FixedWindow))]),
            &names(&[("login", config(500, 60, Algorithm::Gcra)), ("other", config(1, 1, Algorithm::Gcra))]),
            &names(&[
                ("login", config(7, 60, Algorithm::SlidingWindow)),
                ("other", config(7, 60, Algorithm::SlidingWindow)),
                ("auth", config(5, 900, Algorithm::SlidingWindow)),
            ]),
            true,
        );
        let login = set.get("login").unwrap();
        assert_eq!((login.source, login.policy().limit()), (PolicySource::Config, 5));
        assert_eq!(set.get("other").unwrap().source, PolicySource::Api, "a stored policy replaces a preset");
        assert_eq!(set.get("auth").unwrap().source, PolicySource::Preset);
        assert_eq!(set.get("other").unwrap().backend, LimitBackend::Redis, "the default with a Redis");
        assert_eq!(set.iter().count(), 2);
    }
}
