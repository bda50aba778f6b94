//! Step functions in a handler: [`Step`], the handle the worker sets on each
//! job it hands out (`job.step`), records each step's result on the server
//! under the job's lease, so a retry answers recorded steps from memory
//! instead of running them again.
//!
//! A step's identity is its name plus an occurrence counter kept here: the
//! first `run("fetch", …)` of an attempt is `fetch`, the next `fetch:1`, and
//! so on, so a step in a loop records once per pass. Steps run at least
//! once: a step that ran but whose record was lost runs again, so pass
//! [`Step::idempotency_key`] to the APIs a step calls.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rampart_core::id::JobId;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::JobError;
use super::source::SourceError;

/// What a step asks of the server.
#[derive(Debug, Clone)]
pub enum StepCall {
    /// Record this result (JSON text).
    Record(String),
    /// A durable sleep of this long.
    Sleep(Duration),
    /// Wait for an event.
    Wait(WaitFor),
}

/// An event a step waits for.
#[derive(Debug, Clone)]
pub struct WaitFor {
    /// The event's name.
    pub event: String,
    /// A dotted path into its payload and the JSON value it must hold there.
    pub match_on: Option<(String, serde_json::Value)>,
    /// How long to wait before the step's result is `null`.
    pub timeout: Duration,
}

/// What the server answered a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepAnswer {
    /// The step's result (JSON text): the one sent, the one recorded first,
    /// or the event's payload.
    Recorded(String),
    /// The job was given back (asleep or waiting): the attempt ends here.
    GivenBack,
}

type Call =
    dyn Fn(String, StepCall) -> Pin<Box<dyn Future<Output = Result<StepAnswer, SourceError>> + Send>> + Send + Sync;

/// A job's steps: memoized results, the occurrence counters and the way
/// back to the server. Clones share them.
#[derive(Clone, Default)]
pub struct Step(Arc<StepState>);

#[derive(Default)]
struct StepState {
    job: Option<JobId>,
    call: Option<Arc<Call>>,
    recorded: Mutex<HashMap<String, String>>,
    seen: Mutex<HashMap<String, u32>>,
}

impl fmt::Debug for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let recorded = self.0.recorded.lock().map(|r| r.len()).unwrap_or_default();
        write!(f, "Step({recorded} recorded)")
    }
}

impl Step {
    /// A handle for `job` whose recorded steps are `steps` (name, JSON text),
    /// calling the server through `call`.
    pub(super) fn new(job: JobId, steps: &[(String, String)], call: Arc<Call>) -> Step {
        Step(Arc::new(StepState {
            job: Some(job),
            call: Some(call),
            recorded: Mutex::new(steps.iter().cloned().collect()),
            seen: Mutex::default(),
        }))
    }

    /// The identity of the next use of `name` in this attempt: `name`, then
    /// `name:1`, `name:2`, …
    fn identity(&self, name: &str) -> String {
        let mut seen = self.0.seen.lock().unwrap_or_else(|e| e.into_inner());
        let n = seen.entry(name.to_string()).or_default();
        let id = if *n == 0 { name.to_string() } else { format!("{name}:{n}") };
        *n += 1;
        id
    }

    fn recorded(&self, id: &str) -> Option<String> {
        self.0.recorded.lock().unwrap_or_else(|e| e.into_inner()).get(id).cloned()
    }

    async fn call(&self, id: &str, call: StepCall) -> Result<StepAnswer, JobError> {
        let Some(send) = &self.0.call else {
            return Err(JobError::retryable("this job was not handed out by a worker, so it has no steps to record"));
        };
        match send(id.to_string(), call).await {
            Ok(answer) => {
                if let StepAnswer::Recorded(result) = &answer {
                    self.0.recorded.lock().unwrap_or_else(|e| e.into_inner()).insert(id.to_string(), result.clone());
                }
                Ok(answer)
            }
            Err(e) => Err(JobError::retryable(format!("step `{id}` could not be recorded: {e}"))),
        }
    }

    /// The idempotency key of the next use of `name` (`{job_id}:{step}`),
    /// stable across attempts, for the APIs the step calls. Call it inside
    /// the step, before [`Step::run`] counts the name.
    pub fn idempotency_key(&self, name: &str) -> String {
        let n = self.0.seen.lock().unwrap_or_else(|e| e.into_inner()).get(name).copied().unwrap_or_default();
        let id = if n == 0 { name.to_string() } else { format!("{name}:{n}") };
        format!("{}:{id}", self.0.job.map(|j| j.0).unwrap_or_default())
    }

    /// Runs `f` once per job: its result is recorded, and a later attempt
    /// gets the recorded result back without calling `f`. A failure of `f`
    /// fails the attempt as usual (the steps before it stay recorded).
    pub async fn run<T, F, Fut>(&self, name: &str, f: F) -> Result<T, JobError>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, JobError>>,
    {
        let id = self.identity(name);
        if let Some(result) = self.recorded(&id) {
            return decode(&id, &result);
        }
        let value = f().await?;
        let text = serde_json::to_string(&value)
            .map_err(|e| JobError::fatal(format!("step `{id}`'s result is not JSON: {e}")))?;
        match self.call(&id, StepCall::Record(text)).await? {
            // First writer wins: answer what the server kept.
            StepAnswer::Recorded(result) => decode(&id, &result),
            StepAnswer::GivenBack => Err(JobError::given_back(&id)),
        }
    }

    /// A durable sleep: the job goes back to the server, scheduled for
    /// `duration` from now without counting an attempt, and the handler must
    /// return the error at once (`?`); the next attempt passes this step.
    pub async fn sleep(&self, name: &str, duration: Duration) -> Result<(), JobError> {
        let id = self.identity(name);
        if self.recorded(&id).is_some() {
            return Ok(());
        }
        match self.call(&id, StepCall::Sleep(duration)).await? {
            StepAnswer::Recorded(_) => Ok(()),
            StepAnswer::GivenBack => Err(JobError::given_back(&id)),
        }
    }

    /// Waits for an event: the payload of the first matching one, or `None`
    /// when `timeout` passes first. While it waits the job is parked on the
    /// server and the handler must return the error at once (`?`); the
    /// attempt after the event gets its payload here.
    pub async fn wait_for_event<T: DeserializeOwned>(&self, name: &str, wait: WaitFor) -> Result<Option<T>, JobError> {
        let id = self.identity(name);
        if let Some(result) = self.recorded(&id) {
            return decode(&id, &result);
        }
        match self.call(&id, StepCall::Wait(wait)).await? {
            StepAnswer::Recorded(result) => decode(&id, &result),
            StepAnswer::GivenBack => Err(JobError::given_back(&id)),
        }
    }
}

fn decode<T: DeserializeOwned>(id: &str, result: &str) -> Result<T, JobError> {
    serde_json::from_str(result)
        .map_err(|e| JobError::fatal(format!("step `{id}`'s recorded result does not fit its type: {e}")))
}
