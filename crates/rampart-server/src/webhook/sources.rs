//! The sources intake knows: those of `[webhooks.NAME]`, fixed at start,
//! and those put through the API, kept in the store as their spec's JSON
//! and read back by every node. A node reloads the stored ones after its
//! own put or delete, and otherwise when its copy is older than
//! [`RELOAD_AFTER`], so a source put on another node (or a rotated secret)
//! takes effect here within that time.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rampart_core::id::SourceName;
use rampart_store::StoreError;
use rampart_webhook::{Source, SourceSpec, SpecProblem};
use tokio::time::Instant;

use crate::engine::Engine;

/// How old a node's copy of the stored sources may get.
pub const RELOAD_AFTER: Duration = Duration::from_secs(5);

/// Where a source was defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// `[webhooks.NAME]` in the configuration.
    Config,
    /// `PUT /v1/webhooks/sources/{name}`.
    Api,
}

impl Origin {
    /// `config` or `api`.
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Config => "config",
            Origin::Api => "api",
        }
    }
}

/// A source and where it was defined.
#[derive(Debug, Clone)]
pub struct SourceEntry {
    /// The source.
    pub source: Arc<Source>,
    /// Where it was defined.
    pub origin: Origin,
}

/// Why a source call failed.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// No such source.
    #[error("no webhook source is named `{0}`; GET /v1/webhooks/sources lists them")]
    NotFound(SourceName),
    /// The configuration defines it: change it there.
    #[error("webhook source `{0}` is defined in the configuration ([webhooks.{0}]); change it there")]
    InConfig(SourceName),
    /// The spec does not validate; every problem named by its field.
    #[error("invalid webhook source: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<SpecProblem>),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

struct Stored {
    loaded_at: Option<Instant>,
    sources: BTreeMap<SourceName, Arc<Source>>,
}

/// The sources. Cloning shares them.
#[derive(Clone)]
pub struct Sources {
    engine: Engine,
    configured: Arc<BTreeMap<SourceName, Arc<Source>>>,
    stored: Arc<RwLock<Stored>>,
}

impl Sources {
    /// The configured sources over `engine`'s store; the stored ones load on first use.
    pub fn new(engine: Engine, configured: BTreeMap<SourceName, Source>) -> Sources {
        let configured = configured.into_iter().map(|(k, v)| (k, Arc::new(v))).collect();
        Sources {
            engine,
            configured: Arc::new(configured),
            stored: Arc::new(RwLock::new(Stored { loaded_at: None, sources: BTreeMap::new() })),
        }
    }

    /// The source of that name, reloading the stored ones when this node's copy is old.
    pub async fn get(&self, name: &SourceName) -> Result<SourceEntry, SourceError> {
        if let Some(source) = self.configured.get(name) {
            return Ok(SourceEntry { source: source.clone(), origin: Origin::Config });
        }
        if self.stale() {
            self.reload().await?;
        }
        let stored = self.stored.read().map_err(|_| StoreError::Internal("sources lock poisoned".into()))?;
        match stored.sources.get(name) {
            Some(source) => Ok(SourceEntry { source: source.clone(), origin: Origin::Api }),
            None => Err(SourceError::NotFound(name.clone())),
        }
    }

    /// Every source, by name (a configured one hides a stored one of its name).
    pub async fn list(&self) -> Result<Vec<SourceEntry>, SourceError> {
        self.reload().await?;
        let stored = self.stored.read().map_err(|_| StoreError::Internal("sources lock poisoned".into()))?;
        let mut all: BTreeMap<SourceName, SourceEntry> = stored
            .sources
            .iter()
            .map(|(k, v)| (k.clone(), SourceEntry { source: v.clone(), origin: Origin::Api }))
            .collect();
        for (k, v) in self.configured.iter() {
            all.insert(k.clone(), SourceEntry { source: v.clone(), origin: Origin::Config });
        }
        Ok(all.into_values().collect())
    }

    /// Validates and stores a source of the API, replacing the one there.
    pub async fn put(&self, name: &SourceName, spec: &SourceSpec) -> Result<SourceEntry, SourceError> {
        if self.configured.contains_key(name) {
            return Err(SourceError::InConfig(name.clone()));
        }
        let source = spec.validate(name).map_err(SourceError::Invalid)?;
        let json = serde_json::to_string(spec).map_err(|e| StoreError::Internal(e.to_string()))?;
        self.engine.store().webhook_source_put(name, &json, self.engine.now()).await?;
        self.reload().await?;
        Ok(SourceEntry { source: Arc::new(source), origin: Origin::Api })
    }

    /// Deletes a source of the API.
    pub async fn delete(&self, name: &SourceName) -> Result<(), SourceError> {
        if self.configured.contains_key(name) {
            return Err(SourceError::InConfig(name.clone()));
        }
        let found = self.engine.store().webhook_source_delete(name).await?;
        self.reload().await?;
        if found { Ok(()) } else { Err(SourceError::NotFound(name.clone())) }
    }

    /// The configured sources of scheme `none`, for the warning at start.
    pub fn unsigned(&self) -> Vec<SourceName> {
        self.configured.values().filter(|s| s.scheme == rampart_webhook::Scheme::None).map(|s| s.name.clone()).collect()
    }

    fn stale(&self) -> bool {
        self.stored.read().map_or(true, |s| s.loaded_at.is_none_or(|t| t.elapsed() > RELOAD_AFTER))
    }

    /// Reads the stored sources again. One that no longer validates (kept
    /// by another version) is skipped with a warning.
    async fn reload(&self) -> Result<(), SourceError> {
        let records = self.engine.store().webhook_source_list().await?;
        let mut sources = BTreeMap::new();
        for r in records {
            let parsed = serde_json::from_str::<SourceSpec>(&r.spec)
                .map_err(|e| vec![SpecProblem { field: "spec", message: e.to_string() }])
                .and_then(|spec| spec.validate(&r.name));
            match parsed {
                Ok(source) => {
                    sources.insert(r.name, Arc::new(source));
                }
                Err(problems) => {
                    tracing::warn!(source = %r.name, ?problems, "a stored webhook source no longer validates; skipped")
                }
            }
        }
        if let Ok(mut stored) = self.stored.write() {
            *stored = Stored { loaded_at: Some(Instant::now()), sources };
        }
        Ok(())
    }
}
