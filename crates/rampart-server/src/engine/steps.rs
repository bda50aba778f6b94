//! Steps of step-function jobs: a step's result recorded under the lease,
//! and a durable sleep, which gives the job back `scheduled` for its wake
//! time (the promoter, not a timer of this process, wakes it, so the sleep
//! survives restarts and may end on any node).

use std::time::Duration;

use rampart_core::id::JobId;
use rampart_core::job::JobState;
use rampart_core::step::StepName;
use rampart_core::time::UnixMillis;
use rampart_store::{JobStepParams, JobStepRecorded};

use super::{Engine, EngineError};

/// Farthest a durable sleep may wake.
pub const MAX_SLEEP: Duration = Duration::from_secs(365 * 24 * 3600);

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
        let params = JobStepParams { id, lease_token, name, result, sleep_until: None, now: self.now() };
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
        let params = JobStepParams { id, lease_token, name, result: "null".into(), sleep_until: Some(until), now };
        let slept = self.inner.store.job_step_record(params).await?;
        if slept.state == JobState::Scheduled {
            self.inner.wakers.wake_promoter();
        }
        Ok(slept)
    }
}
