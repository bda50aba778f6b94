//! One way to read a stored row on every backend: the [`Row`] trait, which
//! `rusqlite::Row` and `tokio_postgres::Row` implement (`sqlite/row.rs`,
//! `postgres/row.rs`), so the mapping of a row to its record is written once,
//! beside the record (`job.rs`, `cron.rs`, `alert.rs`, …), for both.
//!
//! A mapping reads columns by index in the order of the record's column
//! list, which both backends share. Each backend keeps its own error type
//! (`rusqlite::Error` inside SQLite's row callbacks, [`StoreError`] on
//! PostgreSQL), so the mappings drop into either unchanged.
//!
//! [`StoreError`]: crate::StoreError

use std::fmt::Display;
use std::str::FromStr;

use rampart_core::time::UnixMillis;

/// A row of a query's answer, its columns read by index.
pub(crate) trait Row {
    /// What a failed read is on this backend.
    type Error;

    /// An integer column of any width.
    fn int(&self, i: usize) -> Result<i64, Self::Error>;
    /// A nullable integer column of any width.
    fn opt_int(&self, i: usize) -> Result<Option<i64>, Self::Error>;
    /// A floating-point column.
    fn float(&self, i: usize) -> Result<f64, Self::Error>;
    /// A nullable floating-point column.
    fn opt_float(&self, i: usize) -> Result<Option<f64>, Self::Error>;
    /// A text column.
    fn text(&self, i: usize) -> Result<String, Self::Error>;
    /// A nullable text column.
    fn opt_text(&self, i: usize) -> Result<Option<String>, Self::Error>;
    /// A boolean column (an integer 0 or 1 on SQLite).
    fn flag(&self, i: usize) -> Result<bool, Self::Error>;
    /// The error for column `i`, whose stored value is not a valid `what`.
    fn invalid(&self, i: usize, what: &str, error: impl Display) -> Self::Error;

    /// A time column (Unix milliseconds).
    fn time(&self, i: usize) -> Result<UnixMillis, Self::Error> {
        self.int(i).map(UnixMillis)
    }

    /// A nullable time column.
    fn opt_time(&self, i: usize) -> Result<Option<UnixMillis>, Self::Error> {
        Ok(self.opt_int(i)?.map(UnixMillis))
    }

    /// A count column: never negative, at most `u32::MAX`.
    fn count(&self, i: usize) -> Result<u32, Self::Error> {
        Ok(u32::try_from(self.int(i)?.max(0)).unwrap_or(u32::MAX))
    }

    /// A counter column: never negative.
    fn counter(&self, i: usize) -> Result<u64, Self::Error> {
        Ok(self.int(i)?.max(0) as u64)
    }

    /// A text column read as `T` (a name, a state, …).
    fn parsed<T>(&self, i: usize, what: &str) -> Result<T, Self::Error>
    where
        T: FromStr,
        T::Err: Display,
    {
        self.text(i)?.parse().map_err(|e| self.invalid(i, what, e))
    }

    /// A nullable text column read as `T`.
    fn opt_parsed<T>(&self, i: usize, what: &str) -> Result<Option<T>, Self::Error>
    where
        T: FromStr,
        T::Err: Display,
    {
        self.opt_text(i)?.map(|s| s.parse().map_err(|e| self.invalid(i, what, e))).transpose()
    }
}
