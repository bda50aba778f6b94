//! Each source's requests since this node started: received, verified,
//! rejected and duplicates, for `/metrics` and the diagnostics. One short
//! lock per request, never held across an await.

use std::collections::BTreeMap;
use std::sync::Mutex;

use rampart_core::id::SourceName;

/// One source's counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SourceCounts {
    /// Requests that reached the source.
    pub received: u64,
    /// Requests whose signature verified.
    pub verified: u64,
    /// Requests refused: unsigned, forged or stale.
    pub rejected: u64,
    /// Verified redeliveries of events already taken.
    pub duplicate: u64,
}

/// Every source's counts.
#[derive(Debug, Default)]
pub struct WebhookCounts {
    by_source: Mutex<BTreeMap<SourceName, SourceCounts>>,
}

impl WebhookCounts {
    fn add(&self, source: &SourceName, f: impl FnOnce(&mut SourceCounts)) {
        if let Ok(mut map) = self.by_source.lock() {
            match map.get_mut(source) {
                Some(c) => f(c),
                None => f(map.entry(source.clone()).or_default()),
            }
        }
    }

    /// Counts a request.
    pub fn received(&self, source: &SourceName) {
        self.add(source, |c| c.received += 1);
    }

    /// Counts a verified request.
    pub fn verified(&self, source: &SourceName) {
        self.add(source, |c| c.verified += 1);
    }

    /// Counts a rejected request.
    pub fn rejected(&self, source: &SourceName) {
        self.add(source, |c| c.rejected += 1);
    }

    /// Counts a duplicate.
    pub fn duplicate(&self, source: &SourceName) {
        self.add(source, |c| c.duplicate += 1);
    }

    /// Every source's counts, by name.
    pub fn all(&self) -> Vec<(SourceName, SourceCounts)> {
        self.by_source.lock().map(|m| m.iter().map(|(k, v)| (k.clone(), *v)).collect()).unwrap_or_default()
    }
}
