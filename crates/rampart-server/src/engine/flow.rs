//! Enqueueing a flow (a parent with children, see `rampart_store::flow`):
//! each job of the tree gets its own queue's defaults, the whole tree goes
//! into the store in one transaction, and the queues that received jobs
//! ready to run are woken.

use rampart_client::wire::ChildView;
use rampart_core::id::QueueName;
use rampart_core::time::UnixMillis;
use rampart_store::{ChildOutcome, FlowInserted, FlowJob, JobFlowInsertParams};
use serde_json::value::RawValue;

use super::{Engine, EngineError, JobSpec, MAX_ENQUEUE_BATCH};

impl Engine {
    /// Enqueues jobs into `queue`, each with its children (of any queue),
    /// all-or-nothing. A parent waits until its children have ended.
    pub async fn enqueue_flow(&self, queue: &QueueName, specs: Vec<JobSpec>) -> Result<Vec<FlowInserted>, EngineError> {
        let total: usize = specs.iter().map(JobSpec::flow_jobs).sum();
        if total > MAX_ENQUEUE_BATCH {
            return Err(EngineError::Invalid(format!(
                "a request enqueues at most {MAX_ENQUEUE_BATCH} jobs, children included; this one has {total}; split it"
            )));
        }
        let now = self.now();
        let mut index = 0;
        let jobs =
            specs.into_iter().map(|spec| self.flow_job(queue, spec, now, &mut index)).collect::<Result<Vec<_>, _>>()?;
        let inserted = self.inner.store.job_insert_flow(JobFlowInsertParams { jobs: jobs.clone(), now }).await?;
        for (job, done) in jobs.iter().zip(&inserted) {
            self.flow_inserted(job, done);
        }
        Ok(inserted)
    }

    /// A spec's tree as the store's, numbering jobs depth first for errors.
    fn flow_job(
        &self,
        queue: &QueueName,
        mut spec: JobSpec,
        now: UnixMillis,
        index: &mut usize,
    ) -> Result<FlowJob, EngineError> {
        let children = spec.children.take();
        let (on_child_dead, timeout) = (spec.on_child_dead, spec.children_timeout);
        let job = self.new_job(queue, spec, now, *index)?;
        *index += 1;
        let children = match children {
            None => None,
            Some(list) => Some(
                list.into_iter()
                    .map(|(q, child)| self.flow_job(&q, child, now, index))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        Ok(FlowJob { job, children, on_child_dead, timeout })
    }

    /// Wakes what waits on a flow's new jobs, queue by queue.
    fn flow_inserted(&self, job: &FlowJob, done: &FlowInserted) {
        self.jobs_inserted(&job.job.queue, std::slice::from_ref(&done.job));
        for (child, child_done) in job.children.iter().flatten().zip(&done.children) {
            self.flow_inserted(child, child_done);
        }
    }
}

/// A child as a parent's lease and push delivery show it.
pub fn child_view(c: ChildOutcome) -> ChildView {
    ChildView { id: c.id, queue: c.queue, state: c.state, result: c.result.and_then(raw), error: c.error }
}

/// A stored result as a raw value; stored results are always valid JSON,
/// and a damaged one is left out rather than failing the lease.
fn raw(json: String) -> Option<Box<RawValue>> {
    RawValue::from_string(json).ok()
}
