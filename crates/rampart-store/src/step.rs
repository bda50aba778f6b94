//! Steps of step-function jobs as the store keeps them: one JSON array on
//! the job's row, `[{"name", "result", "at", "attempt"}]` in the order the
//! steps were reached (see migration 0019). Both backends read the array
//! under the lease's check and write it back with [`append`], so the rules
//! (first writer wins, the limits of `rampart_core::step`) are written once.

use std::borrow::Cow;

use rampart_core::id::{JobId, QueueName};
use rampart_core::job::JobState;
use rampart_core::step::{MAX_STEP_STATE_BYTES, MAX_STEPS, StepLimit, StepName};
use rampart_core::time::UnixMillis;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::error::StoreError;

/// One recorded step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRecord {
    /// Its name (with the client's occurrence counter).
    pub name: String,
    /// Its result, JSON text as recorded.
    pub result: String,
    /// When it was recorded.
    pub at: UnixMillis,
    /// The attempt that recorded it.
    pub attempt: u32,
}

/// Records a step of a job held by a live lease.
#[derive(Debug, Clone)]
pub struct JobStepParams {
    /// The job.
    pub id: JobId,
    /// The lease token from the lease.
    pub lease_token: String,
    /// The step.
    pub name: StepName,
    /// Its result, JSON text (at most `MAX_STEP_RESULT_BYTES`, checked by the caller).
    pub result: String,
    /// A durable sleep: when the step is new, the job is given back
    /// `scheduled` for this time in the same transaction, its attempt not
    /// counted.
    pub sleep_until: Option<UnixMillis>,
    /// Record time.
    pub now: UnixMillis,
}

/// What recording a step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobStepRecorded {
    /// The job's queue.
    pub queue: QueueName,
    /// The step's result: the one given, or the one recorded first.
    pub result: String,
    /// False when the step was already recorded (nothing changed).
    pub recorded: bool,
    /// The job's state after the call: `active`, or `scheduled` after a sleep.
    pub state: JobState,
    /// When a sleeping job runs again.
    pub run_at: Option<UnixMillis>,
}

/// A step as stored: the result kept byte for byte.
#[derive(Serialize, Deserialize)]
struct Stored<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow)]
    result: &'a RawValue,
    at: i64,
    attempt: u32,
}

/// The steps of a stored array (none for NULL).
pub(crate) fn parse(text: Option<&str>) -> Result<Vec<StepRecord>, String> {
    let Some(text) = text else { return Ok(Vec::new()) };
    let stored: Vec<Stored<'_>> = serde_json::from_str(text).map_err(|e| format!("stored steps: {e}"))?;
    Ok(stored
        .into_iter()
        .map(|s| StepRecord {
            name: s.name.into_owned(),
            result: s.result.get().to_string(),
            at: UnixMillis(s.at),
            attempt: s.attempt,
        })
        .collect())
}

/// What [`append`] decided.
pub(crate) enum Append {
    /// The name was recorded before: its first result.
    Existing(String),
    /// The new array to store.
    New(String),
}

/// Adds a step to a job's stored array: the first result of a name wins,
/// and a step past the limits is refused.
pub(crate) fn append(current: Option<&str>, p: &JobStepParams, attempt: u32) -> Result<Append, StoreError> {
    let corrupt = |e: serde_json::Error| StoreError::Internal(format!("stored steps: {e}"));
    let mut steps: Vec<Stored<'_>> = match current {
        Some(text) => serde_json::from_str(text).map_err(corrupt)?,
        None => Vec::new(),
    };
    if let Some(found) = steps.iter().find(|s| s.name == p.name.as_str()) {
        return Ok(Append::Existing(found.result.get().to_string()));
    }
    if steps.len() >= MAX_STEPS {
        return Err(StoreError::StepLimit(StepLimit::TooMany));
    }
    let result: &RawValue =
        serde_json::from_str(&p.result).map_err(|e| StoreError::Invalid(format!("invalid field `result`: {e}")))?;
    steps.push(Stored { name: Cow::Borrowed(p.name.as_str()), result, at: p.now.0, attempt });
    let text = serde_json::to_string(&steps).map_err(corrupt)?;
    if text.len() > MAX_STEP_STATE_BYTES {
        return Err(StoreError::StepLimit(StepLimit::StateTooLarge));
    }
    Ok(Append::New(text))
}

/// The result a durable sleep records: the wake time as an RFC 3339 string.
pub(crate) fn sleep_result(until: UnixMillis) -> String {
    serde_json::Value::String(until.to_rfc3339()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(name: &str, result: &str) -> JobStepParams {
        JobStepParams {
            id: JobId(1),
            lease_token: "t".into(),
            name: StepName::parse(name).unwrap(),
            result: result.into(),
            sleep_until: None,
            now: UnixMillis(5),
        }
    }

    fn new(current: Option<&str>, p: &JobStepParams) -> String {
        match append(current, p, 1).unwrap() {
            Append::New(text) => text,
            Append::Existing(_) => panic!("expected a new step"),
        }
    }

    #[test]
    fn appends_in_order_and_keeps_bytes() {
        let one = new(None, &params("a", r#"{"b": 1,  "a": 2}"#));
        let two = new(Some(&one), &params("b", "null"));
        let steps = parse(Some(&two)).unwrap();
        assert_eq!(steps.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(steps[0].result, r#"{"b": 1,  "a": 2}"#);
        assert_eq!((steps[1].at, steps[1].attempt), (UnixMillis(5), 1));
    }

    #[test]
    fn first_writer_wins() {
        let one = new(None, &params("a", "1"));
        match append(Some(&one), &params("a", "2"), 2).unwrap() {
            Append::Existing(r) => assert_eq!(r, "1"),
            Append::New(_) => panic!("a second result was recorded"),
        }
    }

    #[test]
    fn limits() {
        let mut text: Option<String> = None;
        for i in 0..MAX_STEPS {
            text = Some(new(text.as_deref(), &params(&format!("s{i}"), "0")));
        }
        assert!(matches!(
            append(text.as_deref(), &params("one more", "0"), 1),
            Err(StoreError::StepLimit(StepLimit::TooMany))
        ));
        let big = format!("\"{}\"", "x".repeat(MAX_STEP_STATE_BYTES));
        assert!(matches!(append(None, &params("big", &big), 1), Err(StoreError::StepLimit(StepLimit::StateTooLarge))));
    }
}
