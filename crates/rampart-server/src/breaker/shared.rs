//! The shared breakers: the circuit-breaker service apps in any language use
//! over HTTP, with the state in the store so every node agrees.
//!
//! Each step goes to [`Store::breaker_apply`] with the breaker's policy from
//! this node's configuration (`[breakers.NAME]`, else `[breaker_defaults]`)
//! and the time from the clock; the store runs the state machine and keeps
//! the transitions. Every transition is logged here too.

use std::collections::BTreeMap;

use rampart_core::breaker::BreakerPolicy;
use rampart_core::id::BreakerName;
use rampart_core::time::{SharedClock, UnixMillis};
use rampart_store::{BreakerApplied, BreakerApplyParams, BreakerOp, BreakerRecord, Store, StoreError};

use crate::config::Config;

/// How many of a breaker's latest transitions `GET /v1/breakers/{name}` shows.
pub const TRANSITIONS_SHOWN: u32 = 20;

/// The shared breakers of the store, with this node's policies for them.
#[derive(Clone)]
pub struct SharedBreakers {
    store: Store,
    clock: SharedClock,
    defaults: BreakerPolicy,
    configured: BTreeMap<BreakerName, BreakerPolicy>,
}

impl SharedBreakers {
    /// The service over `store`, with the policies of `config`.
    pub fn new(store: Store, config: &Config, clock: SharedClock) -> SharedBreakers {
        SharedBreakers { store, clock, defaults: config.breaker_defaults.clone(), configured: config.breakers.clone() }
    }

    /// The time now, by the service's clock.
    pub fn now(&self) -> UnixMillis {
        self.clock.now()
    }

    /// The policy of `name`: its own, else the defaults.
    pub fn policy(&self, name: &str) -> &BreakerPolicy {
        self.configured.get(name).unwrap_or(&self.defaults)
    }

    /// The breakers with a table of their own in the configuration.
    pub fn configured(&self) -> impl Iterator<Item = &BreakerName> {
        self.configured.keys()
    }

    /// Whether `name` has a table of its own in the configuration.
    pub fn is_configured(&self, name: &str) -> bool {
        self.configured.contains_key(name)
    }

    /// Runs one step on breaker `name`, making it when it is new.
    pub async fn apply(&self, name: &BreakerName, op: BreakerOp) -> Result<BreakerApplied, StoreError> {
        let policy = self.policy(name.as_str()).clone();
        let params = BreakerApplyParams { name: name.clone(), policy, op, now: self.clock.now() };
        let applied = self.store.breaker_apply(params).await?;
        if let Some(t) = &applied.transition {
            tracing::info!(breaker = %name, from = %t.from, to = %t.to, reason = %t.reason, "breaker changed state");
        }
        Ok(applied)
    }

    /// Breaker `name` with its latest transitions, if it was ever used.
    pub async fn get(&self, name: &BreakerName) -> Result<Option<BreakerRecord>, StoreError> {
        self.store.breaker_get(name, TRANSITIONS_SHOWN).await
    }

    /// Every breaker ever used, by name.
    pub async fn list(&self) -> Result<Vec<BreakerRecord>, StoreError> {
        self.store.breaker_list().await
    }
}
