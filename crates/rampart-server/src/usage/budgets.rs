//! The budgets usage knows: those of `[budgets.NAME]`, fixed at start, and
//! those put through the API, kept in the store as their spec's JSON and
//! read back by every node. A node reloads the stored ones after its own
//! put or delete, and otherwise when its copy is older than
//! [`RELOAD_AFTER`], so a budget put on another node applies here within
//! that time. (What a budget has spent is never cached: the store counts it.)

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rampart_core::id::BudgetName;
use rampart_store::StoreError;
use rampart_usage::{Budget, BudgetSpec};
use tokio::time::Instant;

use crate::engine::Engine;

/// How old a node's copy of the stored budgets may get.
pub const RELOAD_AFTER: Duration = Duration::from_secs(5);

/// A budget and where it was defined (`config` or `api`).
#[derive(Debug, Clone)]
pub struct BudgetEntry {
    /// The budget.
    pub budget: Arc<Budget>,
    /// `config` or `api`.
    pub origin: &'static str,
}

/// Why a budget call failed.
#[derive(Debug, thiserror::Error)]
pub enum BudgetError {
    /// No such budget.
    #[error("no budget is named `{0}`; GET /v1/budgets lists them")]
    NotFound(BudgetName),
    /// The configuration defines it: change it there.
    #[error("budget `{0}` is defined in the configuration ([budgets.{0}]); change it there")]
    InConfig(BudgetName),
    /// The spec does not validate; every problem named by its field.
    #[error("invalid budget: {}", .0.iter().map(|(f, m)| format!("{f}: {m}")).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<(&'static str, String)>),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

struct Stored {
    loaded_at: Option<Instant>,
    budgets: BTreeMap<BudgetName, Arc<Budget>>,
}

/// The budgets. Cloning shares them.
#[derive(Clone)]
pub struct Budgets {
    engine: Engine,
    configured: Arc<BTreeMap<BudgetName, Arc<Budget>>>,
    stored: Arc<RwLock<Stored>>,
}

impl Budgets {
    /// The configured budgets over `engine`'s store; the stored ones load on first use.
    pub fn new(engine: Engine, configured: BTreeMap<BudgetName, Budget>) -> Budgets {
        let configured = configured.into_iter().map(|(k, v)| (k, Arc::new(v))).collect();
        Budgets {
            engine,
            configured: Arc::new(configured),
            stored: Arc::new(RwLock::new(Stored { loaded_at: None, budgets: BTreeMap::new() })),
        }
    }

    /// Every budget, by name (a configured one hides a stored one of its name),
    /// reloading the stored ones when this node's copy is old.
    pub async fn all(&self) -> Result<Vec<BudgetEntry>, BudgetError> {
        if self.stale() {
            self.reload().await?;
        }
        let stored = self.stored.read().map_err(|_| StoreError::Internal("budgets lock poisoned".into()))?;
        let mut all: BTreeMap<&BudgetName, BudgetEntry> =
            stored.budgets.iter().map(|(k, v)| (k, BudgetEntry { budget: v.clone(), origin: "api" })).collect();
        for (k, v) in self.configured.iter() {
            all.insert(k, BudgetEntry { budget: v.clone(), origin: "config" });
        }
        Ok(all.into_values().collect())
    }

    /// The budget of that name.
    pub async fn get(&self, name: &BudgetName) -> Result<BudgetEntry, BudgetError> {
        self.all()
            .await?
            .into_iter()
            .find(|e| &e.budget.name == name)
            .ok_or_else(|| BudgetError::NotFound(name.clone()))
    }

    /// Validates and stores a budget of the API, replacing the one there.
    pub async fn put(&self, name: &BudgetName, spec: &BudgetSpec) -> Result<BudgetEntry, BudgetError> {
        if self.configured.contains_key(name) {
            return Err(BudgetError::InConfig(name.clone()));
        }
        let budget = spec.validate(name).map_err(BudgetError::Invalid)?;
        let json = serde_json::to_string(&budget.spec()).map_err(|e| StoreError::Internal(e.to_string()))?;
        self.engine.store().budget_put(name, &json, self.engine.now()).await?;
        self.reload().await?;
        Ok(BudgetEntry { budget: Arc::new(budget), origin: "api" })
    }

    /// Deletes a budget of the API (what it counted stays in the store).
    pub async fn delete(&self, name: &BudgetName) -> Result<(), BudgetError> {
        if self.configured.contains_key(name) {
            return Err(BudgetError::InConfig(name.clone()));
        }
        let found = self.engine.store().budget_delete(name).await?;
        self.reload().await?;
        if found { Ok(()) } else { Err(BudgetError::NotFound(name.clone())) }
    }

    fn stale(&self) -> bool {
        self.stored.read().map_or(true, |s| s.loaded_at.is_none_or(|t| t.elapsed() > RELOAD_AFTER))
    }

    /// Reads the stored budgets again. One that no longer validates is
    /// skipped with a warning.
    async fn reload(&self) -> Result<(), BudgetError> {
        let records = self.engine.store().budget_list().await?;
        let mut budgets = BTreeMap::new();
        for r in records {
            let parsed = serde_json::from_str::<BudgetSpec>(&r.spec)
                .map_err(|e| vec![("spec", e.to_string())])
                .and_then(|spec| spec.validate(&r.name));
            match parsed {
                Ok(budget) => {
                    budgets.insert(r.name, Arc::new(budget));
                }
                Err(problems) => {
                    tracing::warn!(budget = %r.name, ?problems, "a stored budget no longer validates; skipped")
                }
            }
        }
        if let Ok(mut stored) = self.stored.write() {
            *stored = Stored { loaded_at: Some(Instant::now()), budgets };
        }
        Ok(())
    }
}
