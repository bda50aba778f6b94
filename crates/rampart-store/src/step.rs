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
    /// A wait for an event: when the step is new and no event of the
    /// lookback matches, the job is parked `waiting` with its wait row in the
    /// same transaction, its attempt not counted.
    pub wait: Option<StepWait>,
    /// Record time.
    pub now: UnixMillis,
}

/// What a step waits for.
#[derive(Debug, Clone)]
pub struct StepWait {
    /// The event's name.
    pub event: String,
    /// Only an event whose payload holds this value (JSON text) at this
    /// dotted path (`data.order_id`).
    pub match_on: Option<(String, String)>,
    /// When the wait gives up: the step's result is then `null`.
    pub timeout_at: UnixMillis,
    /// Events sent since this time match at registration (the lookback).
    pub lookback_from: UnixMillis,
}

/// Sends an event: stored for the lookback, and every matching wait woken
/// with the payload as its step's result, in one transaction.
#[derive(Debug, Clone)]
pub struct EventSendParams {
    /// The event's name.
    pub name: String,
    /// The sender's id: a second event with the same name and id is a duplicate.
    pub event_id: Option<String>,
    /// JSON text.
    pub payload: String,
    /// How long events are kept for the lookback; older ones of the name are dropped.
    pub keep: std::time::Duration,
    /// Send time.
    pub now: UnixMillis,
}

/// What sending an event did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventSent {
    /// True when an event with the same id was sent before (nothing changed).
    pub duplicate: bool,
    /// The jobs made available, with their queues.
    pub woken: Vec<(JobId, QueueName)>,
}

/// Whether an event's payload matches a wait's condition.
pub(crate) fn event_matches(payload: &str, match_on: Option<(&str, &str)>) -> bool {
    let Some((path, value)) = match_on else { return true };
    let (Ok(payload), Ok(value)) =
        (serde_json::from_str::<serde_json::Value>(payload), serde_json::from_str::<serde_json::Value>(value))
    else {
        return false;
    };
    let mut at = &payload;
    for part in path.split('.') {
        let next = match at {
            serde_json::Value::Object(fields) => fields.get(part),
            serde_json::Value::Array(items) => part.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        };
        match next {
            Some(v) => at = v,
            None => return false,
        }
    }
    *at == value
}

/// What recording a step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobStepRecorded {
    /// The job's queue.
    pub queue: QueueName,
    /// The step's result: the one given, or the one recorded first.
    pub result: String,
    /// False when the step was already recorded (nothing changed), or
    /// when the job was parked waiting for its event.
    pub recorded: bool,
    /// The job's state after the call: `active`, `scheduled` after a sleep,
    /// `waiting` for an event.
    pub state: JobState,
    /// When a sleeping job runs again, or a waiting one times out.
    pub run_at: Option<UnixMillis>,
}

impl JobStepRecorded {
    /// The step was recorded before: its first result, nothing changed.
    pub(crate) fn existing(queue: QueueName, result: String) -> JobStepRecorded {
        JobStepRecorded { queue, result, recorded: false, state: JobState::Active, run_at: None }
    }

    /// The job was parked `waiting` for its event until `timeout_at`.
    pub(crate) fn parked(queue: QueueName, timeout_at: UnixMillis) -> JobStepRecorded {
        JobStepRecorded {
            queue,
            result: "null".into(),
            recorded: false,
            state: JobState::Waiting,
            run_at: Some(timeout_at),
        }
    }

    /// The step was recorded; the job stays `active`, or with `slept_until`
    /// is `scheduled` then.
    pub(crate) fn recorded(queue: QueueName, result: String, slept_until: Option<UnixMillis>) -> JobStepRecorded {
        let state = if slept_until.is_some() { JobState::Scheduled } else { JobState::Active };
        JobStepRecorded { queue, result, recorded: true, state, run_at: slept_until }
    }
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

/// The first result of the step when it was recorded before (checked
/// before a wait looks for its event).
pub(crate) fn existing(current: Option<&str>, p: &JobStepParams) -> Result<Option<Append>, StoreError> {
    let Some(text) = current else { return Ok(None) };
    let steps: Vec<Stored<'_>> =
        serde_json::from_str(text).map_err(|e| StoreError::Internal(format!("stored steps: {e}")))?;
    Ok(steps.iter().find(|s| s.name == p.name.as_str()).map(|s| Append::Existing(s.result.get().to_string())))
}

/// A waiting job's steps with its wait's step recorded (`result`, the
/// event's payload or `null`). A step the state has no room for records
/// `null`, so the job still resumes; one recorded before is kept.
pub(crate) fn woken_steps(
    current: Option<&str>,
    step: &str,
    result: &str,
    attempt: u32,
    now: UnixMillis,
) -> Result<Option<String>, StoreError> {
    let name = StepName::parse(step).map_err(StoreError::Internal)?;
    let mut p = JobStepParams {
        id: JobId(0),
        lease_token: String::new(),
        name,
        result: result.to_string(),
        sleep_until: None,
        wait: None,
        now,
    };
    for _ in 0..2 {
        match append(current, &p, attempt) {
            Ok(Append::New(text)) => return Ok(Some(text)),
            Ok(Append::Existing(_)) => return Ok(current.map(str::to_string)),
            Err(StoreError::StepLimit(_)) if p.result != "null" => p.result = "null".into(),
            Err(e) => return Err(e),
        }
    }
    Ok(current.map(str::to_string))
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
            wait: None,
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
    fn events_match_on_a_dotted_path() {
        let payload = r#"{"data":{"order_id":"o-1","items":[{"n":3}]}}"#;
        assert!(event_matches(payload, None));
        assert!(event_matches(payload, Some(("data.order_id", r#""o-1""#))));
        assert!(event_matches(payload, Some(("data.items.0.n", "3"))));
        assert!(!event_matches(payload, Some(("data.order_id", r#""o-2""#))));
        assert!(!event_matches(payload, Some(("data.missing", "null"))));
        assert!(!event_matches(payload, Some(("data.items.x", "3"))));
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
