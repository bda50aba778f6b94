//! Steps of step-function jobs: a step's result recorded under the lease,
//! and a durable sleep, which gives the job back `scheduled` for its wake
//! time (the promoter, not a timer of this process, wakes it, so the sleep
//! survives restarts and may end on any node).

use std::time::Duration;

use rampart_core::id::JobId;
use rampart_core::job::JobState;
use rampart_core::step::StepName;
use rampart_core::time::UnixMillis;
use rampart_store::{EventSendParams, EventSent, JobStepParams, JobStepRecorded, StepWait};

use super::{Engine, EngineError};

/// Farthest a durable sleep may wake.
pub const MAX_SLEEP: Duration = Duration::from_secs(365 * 24 * 3600);

/// Longest a wait for an event may last before it times out.
pub const MAX_WAIT_TIMEOUT: Duration = MAX_SLEEP;
/// How long sent events are kept, so a wait registered just after its event
/// still matches it (the lookback).
pub const EVENT_KEEP: Duration = Duration::from_secs(3600);
/// Largest event payload, in bytes of JSON.
pub const MAX_EVENT_BYTES: usize = rampart_core::step::MAX_STEP_RESULT_BYTES;

/// What a step waits for: an event of a name, whose payload holds `value`
/// (JSON text) at the dotted `path`, when given.
#[derive(Debug, Clone)]
pub struct WaitFor {
    /// The event's name.
    pub event: String,
    /// The path and JSON value the payload must hold.
    pub match_on: Option<(String, String)>,
    /// How long to wait; the step's result is `null` after it.
    pub timeout: Duration,
}

/// When a durable sleep wakes.
#[derive(Debug, Clone, Copy)]
pub enum Wake {
    /// At this time.
    At(UnixMillis),
    /// After this long from now.
    After(Duration),
}

impl Engine {
    /// Records a step's result (JSON text, at most
    /// `rampart_core::step::MAX_STEP_RESULT_BYTES`, checked by the caller)
    /// while the lease holds; a step records once, so a repeat answers the
    /// first result.
    pub async fn step_record(
        &self,
        id: JobId,
        lease_token: String,
        name: StepName,
        result: String,
    ) -> Result<JobStepRecorded, EngineError> {
        let params = JobStepParams { id, lease_token, name, result, sleep_until: None, wait: None, now: self.now() };
        Ok(self.inner.store.job_step_record(params).await?)
    }

    /// Records a durable sleep: the job goes back `scheduled` for its wake
    /// time, its attempt not counted. A sleep recorded before changes
    /// nothing (the job stays held by the caller).
    pub async fn step_sleep(
        &self,
        id: JobId,
        lease_token: String,
        name: StepName,
        wake: Wake,
    ) -> Result<JobStepRecorded, EngineError> {
        let now = self.now();
        let until = match wake {
            Wake::At(at) => at,
            Wake::After(d) if d <= MAX_SLEEP => now.plus(d),
            Wake::After(_) => return Err(EngineError::Invalid("invalid field `duration`: at most 365d".into())),
        };
        if until.0 > now.plus(MAX_SLEEP).0 {
            return Err(EngineError::Invalid("invalid field `until`: at most 365 days from now".into()));
        }
        let params =
            JobStepParams { id, lease_token, name, result: "null".into(), sleep_until: Some(until), wait: None, now };
        let slept = self.inner.store.job_step_record(params).await?;
        if slept.state == JobState::Scheduled {
            self.inner.wakers.wake_promoter();
        }
        Ok(slept)
    }

    /// Waits for an event: an event of the lookback that matches records
    /// the step at once (the job stays held); otherwise the job is parked
    /// `waiting` with its wait and timeout rows, its attempt not counted. A
    /// step recorded before answers its result.
    pub async fn step_wait(
        &self,
        id: JobId,
        lease_token: String,
        name: StepName,
        wait: WaitFor,
    ) -> Result<JobStepRecorded, EngineError> {
        if wait.timeout.is_zero() || wait.timeout > MAX_WAIT_TIMEOUT {
            return Err(EngineError::Invalid("invalid field `timeout`: more than 0s and at most 365d".into()));
        }
        let now = self.now();
        let wait = StepWait {
            event: wait.event,
            match_on: wait.match_on,
            timeout_at: now.plus(wait.timeout),
            lookback_from: UnixMillis(now.0 - EVENT_KEEP.as_millis() as i64),
        };
        let params =
            JobStepParams { id, lease_token, name, result: "null".into(), sleep_until: None, wait: Some(wait), now };
        let parked = self.inner.store.job_step_record(params).await?;
        if parked.state == JobState::Waiting {
            // Its timeout is a due row the promoter sweeps.
            self.inner.wakers.wake_promoter();
        }
        Ok(parked)
    }

    /// Sends an event (`payload` JSON text, at most [`MAX_EVENT_BYTES`],
    /// checked by the caller): kept for the lookback, and every matching wait
    /// woken in the same transaction.
    pub async fn event_send(
        &self,
        name: String,
        event_id: Option<String>,
        payload: String,
    ) -> Result<EventSent, EngineError> {
        let params = EventSendParams { name, event_id, payload, keep: EVENT_KEEP, now: self.now() };
        let sent = self.inner.store.event_send(params).await?;
        let mut woken: Vec<&rampart_core::id::QueueName> = Vec::new();
        for (_, queue) in &sent.woken {
            if !woken.contains(&queue) {
                self.inner.wakers.wake_queue(queue);
                woken.push(queue);
            }
        }
        Ok(sent)
    }
}
