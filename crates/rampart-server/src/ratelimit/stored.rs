//! Policies defined through the admin API, kept in the store so that every
//! node runs the same ones. The [`PolicySyncer`](crate::service::PolicySyncer)
//! reloads them when the store's revision moves; the node that took a change
//! reloads at once.

use std::collections::BTreeMap;

use rampart_core::id::PolicyName;
use rampart_store::{Store, StoreError};

use super::RateLimiter;
use crate::config::{PolicyConfig, PolicySpec};

/// Reads the store's policies into `limiter`; answers the revision read.
///
/// The revision is read first, so the list holds at least every change up
/// to it. A stored spec that no longer reads (written by another version)
/// is left out with a warning rather than stopping every other policy.
pub async fn reload(store: &Store, limiter: &RateLimiter) -> Result<u64, StoreError> {
    let revision = store.ratelimit_policy_revision().await?;
    let mut policies = BTreeMap::new();
    for record in store.ratelimit_policy_list().await? {
        match parse(&record.name, &record.spec) {
            Ok(config) => {
                policies.insert(record.name, config);
            }
            Err(problems) => tracing::warn!(
                policy = %record.name,
                problems = %problems.join("; "),
                "a stored rate-limit policy does not read; it is left out until it is put again"
            ),
        }
    }
    limiter.set_stored(&policies);
    Ok(revision)
}

/// A stored spec as a policy.
fn parse(name: &PolicyName, spec: &str) -> Result<PolicyConfig, Vec<String>> {
    let value: serde_json::Value =
        serde_json::from_str(spec).map_err(|e| vec![format!("policy `{name}` is not JSON: {e}")])?;
    PolicySpec::read_json(&value)
}
