//! `rampart jobs`: look at one job or a queue's jobs, retry or cancel a job,
//! release or fail the lease of a job stuck active.

use anyhow::Context as _;
use rampart_client::wire::{JobStateResponse, JobView, LeaseFailRequest};
use rampart_core::id::{JobId, QueueName};
use rampart_core::job::JobState;

use crate::cli::{Remote, output};

/// Longest last error shown in a listing.
const ERROR_WIDTH: usize = 60;

/// Options of `rampart jobs`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: JobsCommand,
}

/// The subcommands of `rampart jobs`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum JobsCommand {
    /// Show a job: its state, attempts, times, payload, result, errors and history.
    Show {
        /// The job's id.
        id: JobId,
    },
    /// List a queue's jobs, oldest first.
    List(ListArgs),
    /// Make a dead or cancelled job available again.
    Retry {
        /// The job's id.
        id: JobId,
    },
    /// Cancel a job that has not started.
    Cancel {
        /// The job's id.
        id: JobId,
    },
    /// Give back the lease of a job stuck active, without its worker's token:
    /// available again, the attempt not counted.
    ReleaseLease {
        /// The job's id.
        id: JobId,
    },
    /// Fail the running attempt of a job stuck active now, without its
    /// worker's token; the queue's retry policy decides what follows.
    FailNow {
        /// The job's id.
        id: JobId,
        /// Why, recorded as the attempt's error.
        #[arg(long)]
        error: String,
    },
}

/// Options of `rampart jobs list`.
#[derive(Debug, Clone, clap::Args)]
pub struct ListArgs {
    /// The queue.
    pub queue: QueueName,
    /// Only jobs in this state (scheduled, available, active, completed, dead, cancelled).
    #[arg(long)]
    pub state: Option<JobState>,
    /// Only this tenant's jobs.
    #[arg(long)]
    pub tenant: Option<String>,
    /// Most jobs to show [default: the server's page size].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: Option<u32>,
    /// Continue from where a previous page ended.
    #[arg(long)]
    pub cursor: Option<String>,
}

/// Runs a `rampart jobs` subcommand.
pub async fn run(args: Args, remote: &Remote) -> anyhow::Result<()> {
    match args.command {
        JobsCommand::Show { id } => show(id, remote).await,
        JobsCommand::List(list_args) => list(list_args, remote).await,
        JobsCommand::Retry { id } => {
            let response =
                remote.client.job_retry(&id.to_string()).await.with_context(|| format!("cannot retry job {id}"))?;
            print_state(&response, remote)
        }
        JobsCommand::Cancel { id } => {
            let response =
                remote.client.job_cancel(&id.to_string()).await.with_context(|| format!("cannot cancel job {id}"))?;
            print_state(&response, remote)
        }
        JobsCommand::ReleaseLease { id } => {
            let response = remote
                .client
                .job_lease_release(&id.to_string())
                .await
                .with_context(|| format!("cannot release the lease of job {id}"))?;
            print_state(&response, remote)
        }
        JobsCommand::FailNow { id, error } => {
            let request = LeaseFailRequest { error };
            let response = remote
                .client
                .job_lease_fail(&id.to_string(), &request)
                .await
                .with_context(|| format!("cannot fail the attempt of job {id}"))?;
            print_state(&response, remote)
        }
    }
}

async fn show(id: JobId, remote: &Remote) -> anyhow::Result<()> {
    let job = remote.client.job(&id.to_string()).await.with_context(|| format!("cannot show job {id}"))?;
    if remote.json {
        return output::json(&job);
    }
    output::print(&render_job(&job))
}

/// A job's details for people: fields, then its errors and its history.
fn render_job(job: &JobView) -> String {
    let mut pairs = vec![
        ("id", job.id.to_string()),
        ("state", job.state.to_string()),
        ("queue", job.queue.to_string()),
        ("attempts", format!("{}/{}", job.attempt, job.max_attempts)),
        ("priority", job.priority.to_string()),
    ];
    let optional = [
        ("tenant", job.tenant.clone()),
        ("stalls", (job.stalls > 0).then(|| job.stalls.to_string())),
        ("timeout", job.timeout.map(|t| t.to_string())),
        ("unique key", job.unique_key.clone()),
        ("worker", job.worker.clone()),
        ("created", Some(job.created_at.to_string())),
        ("run at", Some(job.run_at.to_string())),
        ("started", job.started_at.map(|t| t.to_string())),
        ("finished", job.finished_at.map(|t| t.to_string())),
        ("lease expires", job.lease_expires_at.map(|t| t.to_string())),
        ("times out", job.timeout_at.map(|t| t.to_string())),
        ("last error", job.last_error.clone()),
    ];
    pairs.extend(optional.into_iter().filter_map(|(label, value)| Some((label, value?))));
    if let Some(progress) = &job.progress {
        pairs.push(("progress", progress.get().to_string()));
    }
    if let Some(result) = &job.result {
        pairs.push(("result", result.get().to_string()));
    }
    pairs.push(("payload", job.payload.get().to_string()));
    let mut out = output::fields(&pairs);

    if !job.errors.is_empty() {
        let mut errors = output::Table::new(&["ATTEMPT", "AT", "REASON", "ERROR"]);
        for e in &job.errors {
            errors.row(vec![e.attempt.to_string(), e.at.to_string(), e.reason.clone(), e.error.clone()]);
        }
        out.push_str("\nerrors\n");
        out.push_str(&errors.render());
    }
    if !job.history.is_empty() {
        let mut history = output::Table::new(&["AT", "TRANSITION", "ATTEMPT", "WORKER", "REASON", "ERROR"]);
        for event in &job.history {
            history.row(vec![
                event.at.to_string(),
                format!("{} → {}", output::or_dash(event.from), event.to),
                event.attempt.to_string(),
                output::or_dash(event.worker.as_deref()),
                event.reason.clone(),
                event.error.clone().unwrap_or_default(),
            ]);
        }
        out.push_str("\nhistory\n");
        out.push_str(&history.render());
    }
    out
}

async fn list(args: ListArgs, remote: &Remote) -> anyhow::Result<()> {
    let queue = &args.queue;
    let state = args.state.map(JobState::as_str);
    let cursor = args.cursor.as_deref();
    let page = match &args.tenant {
        Some(tenant) => remote.client.jobs_of_tenant(queue.as_str(), tenant, state, args.limit, cursor).await,
        None => remote.client.jobs(queue.as_str(), state, args.limit, cursor).await,
    }
    .with_context(|| format!("cannot list the jobs of queue `{queue}`"))?;
    if remote.json {
        return output::json(&page);
    }
    let mut table = output::Table::new(&["ID", "STATE", "TENANT", "ATTEMPT", "CREATED", "LAST ERROR"]);
    for job in &page.jobs {
        table.row(vec![
            job.id.to_string(),
            job.state.to_string(),
            output::or_dash(job.tenant.as_deref()),
            format!("{}/{}", job.attempt, job.max_attempts),
            job.created_at.to_string(),
            output::truncate(job.last_error.as_deref().unwrap_or("-"), ERROR_WIDTH),
        ]);
    }
    if table.is_empty() {
        match args.state {
            Some(state) => eprintln!("queue `{queue}` has no {state} jobs"),
            None => eprintln!("queue `{queue}` has no jobs"),
        }
    } else {
        table.print()?;
    }
    if let Some(cursor) = &page.next_cursor {
        eprintln!("more jobs: pass --cursor {cursor}");
    }
    Ok(())
}

fn print_state(response: &JobStateResponse, remote: &Remote) -> anyhow::Result<()> {
    if remote.json {
        return output::json(response);
    }
    output::line(&format!("job {} is now {}", response.id, response.state))
}

#[cfg(test)]
mod tests {
    use rampart_client::wire::{JobErrorView, JobEventView};
    use serde_json::value::RawValue;

    use super::*;

    fn parse(argv: &[&str]) -> Result<JobsCommand, clap::Error> {
        crate::cli::parse_args::<Args>("jobs", argv).map(|a| a.command)
    }

    #[test]
    fn parses_each_subcommand() {
        assert!(matches!(parse(&["show", "42"]), Ok(JobsCommand::Show { id: JobId(42) })));
        assert!(matches!(parse(&["retry", "7"]), Ok(JobsCommand::Retry { id: JobId(7) })));
        assert!(matches!(parse(&["cancel", "7"]), Ok(JobsCommand::Cancel { id: JobId(7) })));
        let Ok(JobsCommand::List(list)) =
            parse(&["list", "email", "--state", "dead", "--tenant", "acme", "--limit", "5", "--cursor", "c1"])
        else {
            panic!("list parses");
        };
        assert_eq!(list.queue.as_str(), "email");
        assert_eq!(list.state, Some(JobState::Dead));
        assert_eq!(list.tenant.as_deref(), Some("acme"));
        assert_eq!(list.limit, Some(5));
        assert_eq!(list.cursor.as_deref(), Some("c1"));
    }

    #[test]
    fn refuses_bad_ids_and_states() {
        assert!(parse(&["show", "abc"]).expect_err("bad id").to_string().contains("not a job id"));
        assert!(
            parse(&["list", "q", "--state", "done"]).expect_err("bad state").to_string().contains("not a job state")
        );
        assert!(parse(&["list", "q", "--limit", "0"]).is_err());
    }

    #[test]
    fn a_job_shows_its_fields_errors_and_history() {
        let raw = |s: &str| RawValue::from_string(s.to_string()).expect("json");
        let job = JobView {
            id: "42".parse().unwrap(),
            queue: "email".parse().unwrap(),
            state: "dead".parse().unwrap(),
            payload: raw(r#"{"to":"a@b.c"}"#),
            priority: 0,
            attempt: 1,
            max_attempts: 1,
            timeout: None,
            unique_key: None,
            created_at: "2026-01-01T00:00:00.000Z".parse().unwrap(),
            run_at: "2026-01-01T00:00:00.000Z".parse().unwrap(),
            started_at: Some("2026-01-01T00:00:01.000Z".parse().unwrap()),
            finished_at: Some("2026-01-01T00:00:02.000Z".parse().unwrap()),
            lease_expires_at: None,
            timeout_at: None,
            worker: Some("w1".into()),
            last_error: Some("smtp down".into()),
            result: None,
            tenant: Some("acme".into()),
            stalls: 0,
            progress: None,
            parent_id: None,
            pending_children: None,
            children: Vec::new(),
            steps: Vec::new(),
            errors: vec![JobErrorView {
                attempt: 1,
                at: "2026-01-01T00:00:02.000Z".parse().unwrap(),
                reason: "error".into(),
                error: "smtp down".into(),
            }],
            history: vec![
                JobEventView {
                    at: "2026-01-01T00:00:00.000Z".parse().unwrap(),
                    from: None,
                    to: "available".parse().unwrap(),
                    attempt: 0,
                    worker: None,
                    reason: "enqueued".into(),
                    error: None,
                    step: None,
                },
                JobEventView {
                    at: "2026-01-01T00:00:02.000Z".parse().unwrap(),
                    from: Some("active".parse().unwrap()),
                    to: "dead".parse().unwrap(),
                    attempt: 1,
                    worker: Some("w1".into()),
                    reason: "error".into(),
                    error: Some("smtp down".into()),
                    step: None,
                },
            ],
        };
        let text = render_job(&job);
        let expected = "\
id          42
state       dead
queue       email
attempts    1/1
priority    0
tenant      acme
worker      w1
created     2026-01-01T00:00:00.000Z
run at      2026-01-01T00:00:00.000Z
started     2026-01-01T00:00:01.000Z
finished    2026-01-01T00:00:02.000Z
last error  smtp down
payload     {\"to\":\"a@b.c\"}

errors
ATTEMPT  AT                        REASON  ERROR
1        2026-01-01T00:00:02.000Z  error   smtp down

history
AT                        TRANSITION     ATTEMPT  WORKER  REASON    ERROR
2026-01-01T00:00:00.000Z  - → available  0        -       enqueued
2026-01-01T00:00:02.000Z  active → dead  1        w1      error     smtp down
";
        assert_eq!(text, expected);
    }
}
