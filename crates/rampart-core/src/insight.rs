//! The vocabulary of what apps report about themselves (cache telemetry
//! and error events), shared by the wire, the store and the logic in
//! `rampart-insight`: why a cache dropped an entry, what happened in a
//! cache, how bad an error is.

crate::named_enum! {
    /// Why a cache dropped an entry.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
    pub enum EvictionReason {
        /// It was the least recently used when room was needed.
        Lru = "lru",
        /// It lived or idled past its time.
        Timeout = "timeout",
        /// The app removed or invalidated it.
        Manual = "manual",
    }
    parse_error: EvictionReasonError = |s| EvictionReasonError(s.chars().take(64).collect());
}

/// Why an eviction reason was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an eviction reason; use lru, timeout or manual")]
pub struct EvictionReasonError(pub String);

crate::named_enum! {
    /// What happened in a cache, as one event of a report.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
    pub enum CacheEventKind {
        /// A value was loaded (computed or fetched) into the cache.
        Load = "load",
        /// A lookup found its value.
        Hit = "hit",
        /// A lookup did not.
        Miss = "miss",
        /// An entry was dropped.
        Evict = "evict",
    }
    parse_error: CacheEventKindError = |s| CacheEventKindError(s.chars().take(64).collect());
}

/// Why a cache event type was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a cache event type; use load, hit, miss or evict")]
pub struct CacheEventKindError(pub String);

crate::named_enum! {
    /// How bad an error event is, least first.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
    pub enum ErrorLevel {
        /// Worth knowing.
        Info = "info",
        /// Something went wrong and was handled.
        Warning = "warning",
        /// Something failed.
        Error = "error",
        /// Someone must look now: it becomes an alert at once.
        Critical = "critical",
    }
    parse_error: ErrorLevelError = |s| ErrorLevelError(s.chars().take(64).collect());
}

/// Why an error level was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an error level; use info, warning, error or critical")]
pub struct ErrorLevelError(pub String);
