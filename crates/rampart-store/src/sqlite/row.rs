//! [`Row`] over `rusqlite::Row`: the shared row mappings read SQLite rows
//! through it, inside rusqlite's row callbacks (so with its error type).

use std::fmt::Display;

use rusqlite::types::Type;

use crate::row::Row;

impl Row for rusqlite::Row<'_> {
    type Error = rusqlite::Error;

    fn int(&self, i: usize) -> rusqlite::Result<i64> {
        self.get(i)
    }

    fn opt_int(&self, i: usize) -> rusqlite::Result<Option<i64>> {
        self.get(i)
    }

    fn float(&self, i: usize) -> rusqlite::Result<f64> {
        self.get(i)
    }

    fn opt_float(&self, i: usize) -> rusqlite::Result<Option<f64>> {
        self.get(i)
    }

    fn text(&self, i: usize) -> rusqlite::Result<String> {
        self.get(i)
    }

    fn opt_text(&self, i: usize) -> rusqlite::Result<Option<String>> {
        self.get(i)
    }

    fn flag(&self, i: usize) -> rusqlite::Result<bool> {
        self.get(i)
    }

    fn invalid(&self, i: usize, what: &str, error: impl Display) -> rusqlite::Error {
        rusqlite::Error::FromSqlConversionFailure(i, Type::Text, format!("stored {what}: {error}").into())
    }
}
