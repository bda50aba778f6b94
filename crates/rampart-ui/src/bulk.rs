//! Bulk actions by filter: retry, cancel or purge every job of a queue that
//! matches a filter, run by the server in the background in batches of
//! [`BATCH`] (one keyset page of the search at a time, so each store call
//! stays short and the queue keeps moving), with its progress kept here for
//! the page that follows it.
//!
//! Runs live in this node's memory, like sessions: the progress page is
//! this node's, the last [`KEPT`] runs are kept, and a run stops between
//! batches when the server shuts down (what it did is done; the rest is
//! not, and the audit log says so). Each job is acted on through the same
//! engine call as its own button, so a job that no longer fits (a retry of
//! a job that is not dead or cancelled, a cancel of a running one, a purge
//! of a live one) is skipped and counted, never forced.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use rampart_core::id::{JobId, QueueName};
use rampart_core::job::JobState;
use rampart_core::time::UnixMillis;
use rampart_server::engine::EngineError;
use rampart_store::{JobFilter, JobRecord, JobSearchParams};

use crate::Ui;
use crate::audit;

/// Jobs read and acted on per step.
pub const BATCH: u32 = 200;
/// Runs kept for their progress pages.
const KEPT: usize = 100;

/// What a bulk action does to each matching job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkAction {
    /// Retry dead and cancelled jobs.
    Retry,
    /// Cancel jobs that have not started.
    Cancel,
    /// Delete finished jobs (completed, dead, cancelled) for good.
    Purge,
}

impl BulkAction {
    /// The action named in a form or path.
    pub fn parse(raw: &str) -> Option<BulkAction> {
        match raw {
            "retry" => Some(BulkAction::Retry),
            "cancel" => Some(BulkAction::Cancel),
            "purge" => Some(BulkAction::Purge),
            _ => None,
        }
    }

    /// Its name in forms, paths and the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            BulkAction::Retry => "retry",
            BulkAction::Cancel => "cancel",
            BulkAction::Purge => "purge",
        }
    }

    /// What it does, past tense.
    pub fn done(self) -> &'static str {
        match self {
            BulkAction::Retry => "retried",
            BulkAction::Cancel => "cancelled",
            BulkAction::Purge => "purged",
        }
    }

    /// Which jobs it acts on; the others are skipped.
    pub fn applies_to(self) -> &'static str {
        match self {
            BulkAction::Retry => "dead and cancelled jobs get fresh attempts",
            BulkAction::Cancel => {
                "scheduled, available and waiting jobs are cancelled; running and finished ones are left"
            }
            BulkAction::Purge => "completed, dead and cancelled jobs are deleted for good; live ones are left",
        }
    }
}

/// One bulk action and how far it got.
#[derive(Debug, Clone)]
pub struct BulkRun {
    /// Its id, for the progress page.
    pub id: u64,
    /// What it does.
    pub action: BulkAction,
    /// The queue.
    pub queue: QueueName,
    /// The filter, in words.
    pub filter: String,
    /// Who started it.
    pub actor: String,
    /// The jobs matching when it started (counted up to a cap).
    pub matched: u64,
    /// Whether `matched` stopped at the cap.
    pub capped: bool,
    /// Jobs acted on.
    pub done: u64,
    /// Jobs that matched but that the action does not apply to.
    pub skipped: u64,
    /// When it started.
    pub started_at: UnixMillis,
    /// When it ended, once it has.
    pub finished_at: Option<UnixMillis>,
    /// Why it stopped early, if it did.
    pub error: Option<String>,
}

/// The runs of this node; cheap to clone.
#[derive(Clone, Default)]
pub struct Bulks {
    runs: Arc<Mutex<BTreeMap<u64, BulkRun>>>,
}

impl Bulks {
    /// A run's progress, while it is kept.
    pub fn get(&self, id: u64) -> Option<BulkRun> {
        self.runs.lock().ok()?.get(&id).cloned()
    }

    fn insert(&self, mut run: BulkRun) -> u64 {
        let Ok(mut runs) = self.runs.lock() else { return 0 };
        run.id = runs.last_key_value().map_or(1, |(id, _)| id + 1);
        let id = run.id;
        runs.insert(id, run);
        while runs.len() > KEPT {
            runs.pop_first();
        }
        id
    }

    fn update(&self, id: u64, step: impl FnOnce(&mut BulkRun)) {
        if let Ok(mut runs) = self.runs.lock()
            && let Some(run) = runs.get_mut(&id)
        {
            step(run);
        }
    }
}

/// What a run is started with.
pub struct BulkStart {
    /// What it does.
    pub action: BulkAction,
    /// The queue.
    pub queue: QueueName,
    /// Which jobs.
    pub filter: JobFilter,
    /// The filter in words.
    pub words: String,
    /// Who starts it.
    pub actor: String,
    /// The jobs matching now, up to a cap, and whether the cap was hit.
    pub matched: (u64, bool),
}

/// Starts a run in the background; answers its id.
pub fn start(ui: &Ui, start: BulkStart) -> u64 {
    let record = BulkRun {
        id: 0,
        action: start.action,
        queue: start.queue.clone(),
        filter: start.words,
        actor: start.actor,
        matched: start.matched.0,
        capped: start.matched.1,
        done: 0,
        skipped: 0,
        started_at: ui.app.engine.now(),
        finished_at: None,
        error: None,
    };
    let id = ui.bulks.insert(record);
    tokio::spawn(work(ui.clone(), id, start.action, start.queue, start.filter));
    id
}

async fn work(ui: Ui, id: u64, action: BulkAction, queue: QueueName, filter: JobFilter) {
    let shutdown = ui.app.engine.shutdown().clone();
    let mut after = None;
    let error = loop {
        if shutdown.is_triggered() {
            break Some("stopped: the server is shutting down; start it again for the rest".to_string());
        }
        let params = JobSearchParams { queue: queue.clone(), filter: filter.clone(), after, limit: BATCH };
        let page = match ui.app.engine.store().job_search(params).await {
            Ok(page) => page,
            Err(e) => break Some(format!("stopped: could not read the next jobs: {e}")),
        };
        let (done, skipped) = match step(&ui, action, &queue, &page).await {
            Ok(counts) => counts,
            Err(e) => break Some(format!("stopped: {e}")),
        };
        ui.bulks.update(id, |r| {
            r.done += done;
            r.skipped += skipped;
        });
        match page.last() {
            Some(last) if page.len() == BATCH as usize => after = Some(last.id),
            _ => break None,
        }
        // Between batches, the rest of the server goes first.
        tokio::task::yield_now().await;
    };
    let now = ui.app.engine.now();
    ui.bulks.update(id, |r| {
        r.finished_at = Some(now);
        r.error.clone_from(&error);
    });
    if let Some(run) = ui.bulks.get(id) {
        let outcome = match &run.error {
            None => format!("finished: {} {}, {} skipped", run.action.done(), run.done, run.skipped),
            Some(e) => format!("{e} ({} {}, {} skipped)", run.action.done(), run.done, run.skipped),
        };
        audit::record(&ui, &run.actor, &format!("bulk.{}.end", action.as_str()), queue.as_str(), outcome).await;
    }
}

/// Acts on one page of jobs; answers how many were acted on and skipped.
async fn step(ui: &Ui, action: BulkAction, queue: &QueueName, page: &[JobRecord]) -> Result<(u64, u64), EngineError> {
    let engine = &ui.app.engine;
    let total = page.len() as u64;
    if action == BulkAction::Purge {
        let finished: Vec<JobId> = page.iter().filter(|j| j.state.is_terminal()).map(|j| j.id).collect();
        let deleted = engine.store().job_delete_finished(queue.clone(), finished).await?;
        return Ok((deleted, total - deleted));
    }
    let mut done = 0;
    for job in page {
        let acted = match action {
            BulkAction::Retry if matches!(job.state, JobState::Dead | JobState::Cancelled) => {
                engine.job_retry(job.id).await
            }
            BulkAction::Cancel
                if matches!(job.state, JobState::Scheduled | JobState::Available | JobState::Waiting) =>
            {
                engine.job_cancel(job.id).await
            }
            _ => continue,
        };
        match acted {
            Ok(()) => done += 1,
            // Moved on since it was read, gone, or its unique key taken by a live twin: skipped.
            Err(EngineError::InvalidState(_) | EngineError::JobNotFound(_) | EngineError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok((done, total - done))
}
