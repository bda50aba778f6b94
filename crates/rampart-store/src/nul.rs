//! The NUL rule of `rampart_core::nul`, applied to what reaches the store:
//! every [`crate::Store`] method checks the names and keys it is given and
//! cleans the free text, before either backend sees them. PostgreSQL cannot
//! keep U+0000 in text and SQLite can, so applying the rule here, once, is
//! what makes both backends answer the same: a name or key with NUL is
//! [`StoreError::Invalid`] naming the field, free text keeps U+FFFD in place
//! of each NUL. JSON text (payloads, results, details) is cleaned too: valid
//! JSON writes a NUL as the escape `\u0000` and so is never changed.

use rampart_core::nul::{check_key, clean_owned};

use crate::cron::CronSchedulePut;
use crate::error::StoreError;
use crate::job::{AckOutcome, JobAck, JobSearchParams, NewJob};

/// Refuses a name or key holding a NUL, naming `field`.
pub(crate) fn key(field: &str, value: &str) -> Result<(), StoreError> {
    Ok(check_key(field, value)?)
}

/// [`key`] for an optional value.
pub(crate) fn key_opt(field: &str, value: Option<&str>) -> Result<(), StoreError> {
    value.map_or(Ok(()), |v| key(field, v))
}

/// Replaces every NUL of free text with U+FFFD, in place.
pub(crate) fn clean(text: &mut String) {
    if text.contains('\0') {
        *text = clean_owned(std::mem::take(text));
    }
}

/// [`clean`] for an optional text.
pub(crate) fn clean_opt(text: &mut Option<String>) {
    if let Some(t) = text {
        clean(t);
    }
}

/// A job to insert: its unique key and tenant checked, its payload cleaned.
pub(crate) fn new_job(job: &mut NewJob) -> Result<(), StoreError> {
    key_opt("unique_key", job.unique_key.as_deref())?;
    key_opt("tenant", job.tenant.as_deref())?;
    clean(&mut job.payload);
    Ok(())
}

/// An ack: its token checked, its error or result cleaned.
pub(crate) fn ack(ack: &mut JobAck) -> Result<(), StoreError> {
    key("lease_token", &ack.lease_token)?;
    match &mut ack.outcome {
        AckOutcome::Complete { result } => clean_opt(result),
        AckOutcome::Fail { error, .. } => clean(error),
    }
    Ok(())
}

/// A cron schedule to store: expression, zone and tenant checked, payload
/// and description cleaned.
pub(crate) fn cron_schedule(schedule: &mut CronSchedulePut) -> Result<(), StoreError> {
    key("schedule", &schedule.schedule)?;
    key("timezone", &schedule.timezone)?;
    key_opt("tenant", schedule.tenant.as_deref())?;
    clean(&mut schedule.payload);
    clean(&mut schedule.description);
    Ok(())
}

/// A search: the tenant, unique key and payload text it looks for checked
/// (a NUL matches nothing stored, so it is refused, not cleaned).
pub(crate) fn search(params: &JobSearchParams) -> Result<(), StoreError> {
    key_opt("tenant", params.filter.tenant.as_deref())?;
    key_opt("unique_key", params.filter.unique_key.as_deref())?;
    key_opt("payload_contains", params.filter.payload_contains.as_deref())
}
