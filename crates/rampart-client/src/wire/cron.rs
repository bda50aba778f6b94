//! The shapes of the cron routes (`/v1/cron/…`).

use rampart_core::id::JobId;
use rampart_core::time::UnixMillis;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// A cron schedule: `GET /v1/cron/{name}`, and each item of `GET /v1/cron`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CronView {
    /// Its name.
    pub name: String,
    /// The cron expression (5 or 6 fields, or a macro such as `@hourly`).
    pub schedule: String,
    /// The IANA zone it is read in.
    pub timezone: String,
    /// The queue its jobs go to; `null` for rampart's own schedules, which run in process.
    pub queue: Option<String>,
    /// Its jobs' payload.
    #[schema(value_type = serde_json::Value)]
    pub payload: Box<RawValue>,
    /// What it is for.
    pub description: String,
    /// `skip` or `run_once`: what ticks missed during downtime do.
    pub misfire: String,
    /// `config`, `api` or `builtin`.
    pub source: String,
    /// A paused schedule's ticks pass without runs.
    pub paused: bool,
    /// The next tick, RFC 3339; `null` when it never fires again.
    pub next_run_at: Option<UnixMillis>,
    /// Its latest run.
    pub last_run: Option<CronRunView>,
    /// When it was first stored.
    pub created_at: UnixMillis,
    /// When it was last changed.
    pub updated_at: UnixMillis,
    /// The tenant of each run's job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Attempts each run's job gets (1 unless the schedule sets more: a
    /// failed run waits for the next tick).
    #[serde(default = "one")]
    pub max_attempts: u32,
}

fn one() -> u32 {
    1
}

/// `GET /v1/cron`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CronListResponse {
    /// Every schedule, by name.
    pub schedules: Vec<CronView>,
}

/// `PUT /v1/cron/{name}`: a schedule kept in the store, fired by every node.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CronPut {
    /// The cron expression: 5 fields, 6 with seconds first, or `@hourly`,
    /// `@daily` (`@midnight`), `@weekly`, `@monthly`, `@yearly` (`@annually`).
    pub schedule: String,
    /// An IANA zone (default `UTC`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// The queue each run's job goes to.
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = r"^([A-Za-z0-9_:-][A-Za-z0-9_.:-]{0,127}|\.[A-Za-z0-9_:-][A-Za-z0-9_.:-]{0,126}|\.\.[A-Za-z0-9_.:-]{1,126})$"
    )]
    pub queue: String,
    /// Each job's payload, any JSON (default `{}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<serde_json::Value>)]
    pub payload: Option<Box<RawValue>>,
    /// What it is for.
    #[serde(default, deserialize_with = "rampart_core::nul::free_opt", skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `skip` (default) or `run_once`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = r"^(skip|run_once)$")]
    pub misfire: Option<String>,
    /// The tenant (customer) each run's job belongs to.
    #[serde(default, deserialize_with = "rampart_core::nul::key_opt", skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 200, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub tenant: Option<String>,
    /// Attempts each run's job gets (default 1: a failed run waits for the
    /// next tick rather than retrying).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 4294967295_u64)]
    pub max_attempts: Option<u32>,
}

/// One run of a schedule.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CronRunView {
    /// The run's id (a cursor for paging).
    pub id: String,
    /// The schedule.
    pub name: String,
    /// The tick it stands for, RFC 3339 (the trigger time for a manual run).
    pub scheduled_at: UnixMillis,
    /// When its job was enqueued.
    pub enqueued_at: UnixMillis,
    /// Its job; `null` for rampart's own work.
    pub job_id: Option<JobId>,
    /// `schedule`, `manual` or `misfire`.
    pub trigger: String,
    /// Its job's state as last seen: `available`, `active`, `completed`, `dead`, ….
    pub status: String,
    /// When its latest attempt started.
    pub started_at: Option<UnixMillis>,
    /// When it finished.
    pub finished_at: Option<UnixMillis>,
    /// Attempts made.
    pub attempts: u32,
    /// The last error.
    pub error: Option<String>,
    /// Its job's result; for retention, what it deleted.
    #[schema(value_type = Option<serde_json::Value>)]
    pub result: Option<Box<RawValue>>,
}

/// `GET /v1/cron/{name}/runs`: newest first.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CronRunsResponse {
    /// A page of runs, newest first.
    pub runs: Vec<CronRunView>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// The query of `GET /v1/cron/{name}/runs`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CronRunsQuery {
    /// Most runs on the page (default 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<String>, pattern = r"^[1-9][0-9]{0,17}$")]
    pub cursor: Option<String>,
}

impl CronRunsQuery {
    /// The largest page (`limit`).
    pub const MAX_LIMIT: u32 = 1000;
}
