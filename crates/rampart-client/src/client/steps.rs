//! The step-function calls of [`Client`]: a job's steps recorded under its
//! lease, durable sleeps, waits for events, and the events that wake them.

use super::{Client, ClientError};
use crate::endpoint::{EVENTS_SEND, JOBS_STEP_RECORD, JOBS_STEP_SLEEP, JOBS_STEP_WAIT, JOBS_STEPS};
use crate::wire::{
    EventSendRequest, EventSendResponse, StepRecordRequest, StepRecordResponse, StepSleepRequest, StepSleepResponse,
    StepWaitRequest, StepWaitResponse, StepsResponse,
};

impl Client {
    /// Records a step's result while holding the lease; a step records once,
    /// so a repeat answers the first result (`recorded: false`).
    pub async fn step_record(
        &self,
        id: &str,
        step: &str,
        req: &StepRecordRequest,
    ) -> Result<StepRecordResponse, ClientError> {
        let request = self.call(JOBS_STEP_RECORD, &[id, step])?.json(req);
        self.send(request, &[]).await
    }

    /// Records a durable sleep: the job goes back `scheduled` for its wake
    /// time without counting an attempt, and the lease ends.
    pub async fn step_sleep(
        &self,
        id: &str,
        step: &str,
        req: &StepSleepRequest,
    ) -> Result<StepSleepResponse, ClientError> {
        let request = self.call(JOBS_STEP_SLEEP, &[id, step])?.json(req);
        self.send(request, &[]).await
    }

    /// Waits for an event: parked `waiting` (the lease ends) unless the
    /// step has its result already (`active`).
    pub async fn step_wait(
        &self,
        id: &str,
        step: &str,
        req: &StepWaitRequest,
    ) -> Result<StepWaitResponse, ClientError> {
        let request = self.call(JOBS_STEP_WAIT, &[id, step])?.json(req);
        self.send(request, &[]).await
    }

    /// Sends an event, waking the jobs waiting for it.
    pub async fn event_send(&self, name: &str, req: &EventSendRequest) -> Result<EventSendResponse, ClientError> {
        let request = self.call(EVENTS_SEND, &[name])?.json(req);
        self.send(request, &[]).await
    }

    /// A job's recorded steps, in the order they were reached.
    pub async fn steps(&self, id: &str) -> Result<StepsResponse, ClientError> {
        let request = self.call(JOBS_STEPS, &[id])?;
        self.send(request, &[]).await
    }
}
