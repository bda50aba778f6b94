//! [`Row`] over `tokio_postgres::Row`: the shared row mappings read
//! PostgreSQL rows through it. Integers are read at the column's own width
//! (`SMALLINT`, `INTEGER` or `BIGINT`), since the driver checks types
//! strictly.

use std::fmt::Display;

use tokio_postgres::types::Type;

use crate::error::StoreError;
use crate::row::Row;

impl Row for tokio_postgres::Row {
    type Error = StoreError;

    fn int(&self, i: usize) -> Result<i64, StoreError> {
        self.opt_int(i)?.ok_or_else(|| self.invalid(i, "integer", "NULL"))
    }

    fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        let width = self.columns().get(i).map(|c| c.type_());
        Ok(if width == Some(&Type::INT4) {
            self.try_get::<_, Option<i32>>(i)?.map(i64::from)
        } else if width == Some(&Type::INT2) {
            self.try_get::<_, Option<i16>>(i)?.map(i64::from)
        } else {
            self.try_get(i)?
        })
    }

    fn float(&self, i: usize) -> Result<f64, StoreError> {
        Ok(self.try_get(i)?)
    }

    fn opt_float(&self, i: usize) -> Result<Option<f64>, StoreError> {
        Ok(self.try_get(i)?)
    }

    fn text(&self, i: usize) -> Result<String, StoreError> {
        Ok(self.try_get(i)?)
    }

    fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        Ok(self.try_get(i)?)
    }

    fn flag(&self, i: usize) -> Result<bool, StoreError> {
        Ok(self.try_get(i)?)
    }

    fn invalid(&self, _i: usize, what: &str, error: impl Display) -> StoreError {
        StoreError::Internal(format!("stored {what}: {error}"))
    }
}
