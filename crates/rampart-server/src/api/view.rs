//! Store and engine records turned into the wire shapes.

use rampart_core::duration::HumanDuration;
use rampart_core::job::JobState;
use rampart_store::{JobRecord, LeasedJob, StepRecord};
use serde_json::value::RawValue;

use crate::engine::QueueStatus;
use rampart_client::wire::{
    ChildCount, JobErrorView, JobEventView, JobView, LeasedJobView, QueueRateView, QueueTotals, QueueView, StateCounts,
    StepView,
};

/// JSON text from the store as a raw value; stored text is always valid JSON,
/// but a damaged row shows as a string instead of failing the whole answer.
pub(crate) fn raw(json: String) -> Box<RawValue> {
    RawValue::from_string(json.clone()).unwrap_or_else(|_| {
        let quoted = serde_json::to_string(&json).unwrap_or_else(|_| "null".into());
        RawValue::from_string(quoted).unwrap_or_default()
    })
}

pub(crate) fn leased(j: LeasedJob) -> LeasedJobView {
    LeasedJobView {
        id: j.id,
        queue: j.queue,
        payload: raw(j.payload),
        attempt: j.attempt,
        max_attempts: j.max_attempts,
        lease_token: j.lease_token,
        lease_expires_at: j.lease_expires_at,
        timeout_at: j.timeout_at,
        created_at: j.created_at,
        tenant: j.tenant,
        children: j.children.map(|c| c.into_iter().map(crate::engine::child_view).collect()),
        step_order: j.steps.iter().map(|s| s.name.clone()).collect(),
        steps: j.steps.into_iter().map(|s| (s.name, raw(s.result))).collect(),
    }
}

pub(crate) fn step(s: StepRecord) -> StepView {
    StepView { name: s.name, result: raw(s.result), at: s.at, attempt: s.attempt }
}

pub(crate) fn job(j: JobRecord) -> JobView {
    let errors = j
        .history
        .iter()
        .filter_map(|e| {
            e.error.as_ref().map(|msg| JobErrorView {
                attempt: e.attempt,
                at: e.at,
                reason: e.reason.clone(),
                error: msg.clone(),
            })
        })
        .collect();
    let history = j
        .history
        .into_iter()
        .map(|e| JobEventView {
            at: e.at,
            from: e.from,
            to: e.to,
            attempt: e.attempt,
            worker: e.worker,
            reason: e.reason,
            error: e.error,
            step: e.step,
        })
        .collect();
    JobView {
        id: j.id,
        queue: j.queue,
        state: j.state,
        payload: raw(j.payload),
        priority: j.priority,
        attempt: j.attempt,
        max_attempts: j.max_attempts,
        timeout: j.timeout.map(HumanDuration),
        unique_key: j.unique_key,
        created_at: j.created_at,
        run_at: j.run_at,
        started_at: j.started_at,
        finished_at: j.finished_at,
        lease_expires_at: j.lease_expires_at,
        timeout_at: j.timeout_at,
        worker: j.worker,
        last_error: j.last_error,
        result: j.result.map(raw),
        tenant: j.tenant,
        stalls: j.stalls,
        progress: j.progress.map(raw),
        parent_id: j.parent_id,
        pending_children: j.pending_children.filter(|_| j.state == JobState::Waiting),
        children: j.children.into_iter().map(|(state, count)| ChildCount { state, count }).collect(),
        steps: j.steps.into_iter().map(step).collect(),
        errors,
        history,
    }
}

pub(crate) fn queue(q: QueueStatus) -> QueueView {
    let c = &q.counts;
    QueueView {
        name: q.name,
        paused: q.paused,
        counts: StateCounts {
            scheduled: c.get(JobState::Scheduled),
            available: c.get(JobState::Available),
            waiting: c.get(JobState::Waiting),
            active: c.get(JobState::Active),
            completed: c.get(JobState::Completed),
            dead: c.get(JobState::Dead),
            cancelled: c.get(JobState::Cancelled),
        },
        totals: QueueTotals::from(&q.totals),
        target: None,
        secret: None,
        rate: q.rate.map(|(rate, now)| QueueRateView {
            rate: rate.rate.to_string(),
            key: rate.key.map(|k| k.as_str().to_string()),
            started: now.started,
            groups: now.groups,
            full: now.full,
            reopens_at: now.reopens_at,
        }),
    }
}
