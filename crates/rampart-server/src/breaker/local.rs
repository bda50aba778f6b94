//! The in-process breakers of this node, by name.
//!
//! # API
//!
//! ```text
//! LocalBreakers::new()                                   empty; Clone shares the registry
//! breakers.register(name: BreakerName, Arc<Breaker>) -> Option<Arc<Breaker>>   the one replaced
//! breakers.get_or_insert_with(name: BreakerName, make: impl FnOnce() -> Arc<Breaker>) -> Arc<Breaker>
//! breakers.get(name: &str) -> Option<Arc<Breaker>>
//! breakers.remove(name: &str) -> Option<Arc<Breaker>>
//! breakers.list() -> Vec<(BreakerName, Arc<Breaker>)>    bytewise name order
//! ```
//!
//! The server makes one registry and hands clones to whatever keeps
//! breakers (the push dispatcher) and to the API state ([`Shared`]), so
//! `GET /v1/breakers` shows them, marked as per-node. The registry only
//! holds `Arc`s: callers keep using their own `Arc<Breaker>` on the hot
//! path and never go through the registry's lock per call.
//!
//! [`Shared`]: crate::api::Shared

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use rampart_core::id::BreakerName;
use rampart_guard::Breaker;

type Map = BTreeMap<BreakerName, Arc<Breaker>>;

/// This node's in-process breakers by name; clones share one registry.
#[derive(Clone, Default)]
pub struct LocalBreakers {
    map: Arc<RwLock<Map>>,
}

impl LocalBreakers {
    /// An empty registry.
    pub fn new() -> LocalBreakers {
        LocalBreakers::default()
    }

    /// Registers `breaker` under `name`; answers the breaker it replaced.
    pub fn register(&self, name: BreakerName, breaker: Arc<Breaker>) -> Option<Arc<Breaker>> {
        self.write().insert(name, breaker)
    }

    /// The breaker named `name`, made by `make` and registered if there was
    /// none: two tasks asking at once get the same breaker.
    pub fn get_or_insert_with(&self, name: BreakerName, make: impl FnOnce() -> Arc<Breaker>) -> Arc<Breaker> {
        if let Some(b) = self.get(name.as_str()) {
            return b;
        }
        Arc::clone(self.write().entry(name).or_insert_with(make))
    }

    /// The breaker named `name`.
    pub fn get(&self, name: &str) -> Option<Arc<Breaker>> {
        self.read().get(name).cloned()
    }

    /// Unregisters the breaker named `name` and answers it.
    pub fn remove(&self, name: &str) -> Option<Arc<Breaker>> {
        self.write().remove(name)
    }

    /// Every breaker, in bytewise name order.
    pub fn list(&self) -> Vec<(BreakerName, Arc<Breaker>)> {
        self.read().iter().map(|(n, b)| (n.clone(), Arc::clone(b))).collect()
    }

    // The map is only ever inserted into or removed from whole, so a lock
    // poisoned by a panicking holder still guards a consistent map.
    fn read(&self) -> RwLockReadGuard<'_, Map> {
        self.map.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Map> {
        self.map.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl std::fmt::Debug for LocalBreakers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.read().keys()).finish()
    }
}

#[cfg(test)]
mod tests {
    use rampart_core::breaker::BreakerPolicy;
    use rampart_core::time::{ManualClock, UnixMillis};

    use super::*;

    fn breaker() -> Arc<Breaker> {
        Arc::new(Breaker::new(BreakerPolicy::default(), Arc::new(ManualClock::new(UnixMillis(0)))).unwrap())
    }

    fn name(s: &str) -> BreakerName {
        BreakerName::new(s).unwrap()
    }

    #[test]
    fn clones_share_one_registry_listed_in_name_order() {
        let breakers = LocalBreakers::new();
        let other = breakers.clone();
        assert!(other.register(name("push:b.example.com"), breaker()).is_none());
        breakers.register(name("push:a.example.com"), breaker());
        let names: Vec<String> = breakers.list().into_iter().map(|(n, _)| n.to_string()).collect();
        assert_eq!(names, ["push:a.example.com", "push:b.example.com"]);
        assert!(breakers.remove("push:a.example.com").is_some());
        assert!(other.get("push:a.example.com").is_none());
    }

    #[test]
    fn get_or_insert_with_keeps_the_first_breaker() {
        let breakers = LocalBreakers::new();
        let first = breakers.get_or_insert_with(name("push:h"), breaker);
        let second = breakers.get_or_insert_with(name("push:h"), || unreachable!("already registered"));
        assert!(Arc::ptr_eq(&first, &second));
    }
}
