//! `rampart cron`: the cron schedules with their next and last runs, one
//! schedule, its run history, and running, pausing or resuming one.

use anyhow::Context as _;
use rampart_client::wire::{CronRunView, CronView};

use crate::cli::{Remote, output};

/// Options of `rampart cron`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// What to do [default: list].
    #[command(subcommand)]
    pub command: Option<CronCommand>,
}

/// The subcommands of `rampart cron`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum CronCommand {
    /// List every schedule with its next and last run.
    List,
    /// Show one schedule.
    Show {
        /// The schedule.
        name: String,
    },
    /// Show a schedule's runs, newest first.
    Runs {
        /// The schedule.
        name: String,
        /// How many runs (1 to 1000).
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Run a schedule once now, leaving its ticks alone (admin).
    Trigger {
        /// The schedule.
        name: String,
    },
    /// Pause a schedule: its ticks pass without runs (admin).
    Pause {
        /// The schedule.
        name: String,
    },
    /// Resume a paused schedule from its next tick (admin).
    Resume {
        /// The schedule.
        name: String,
    },
}

/// Runs a `rampart cron` subcommand.
pub async fn run(args: Args, remote: &Remote) -> anyhow::Result<()> {
    let client = &remote.client;
    match args.command.unwrap_or(CronCommand::List) {
        CronCommand::List => {
            let response = client.cron_list().await.context("cannot list the cron schedules")?;
            if remote.json {
                return output::json(&response);
            }
            schedules_table(&response.schedules).print()
        }
        CronCommand::Show { name } => {
            let schedule = client.cron_get(&name).await.with_context(|| format!("cannot show schedule `{name}`"))?;
            if remote.json {
                return output::json(&schedule);
            }
            output::print(&render_schedule(&schedule))
        }
        CronCommand::Runs { name, limit } => {
            let runs = client
                .cron_runs(&name, Some(limit), None)
                .await
                .with_context(|| format!("cannot list the runs of `{name}`"))?;
            if remote.json {
                return output::json(&runs);
            }
            if runs.runs.is_empty() {
                eprintln!("`{name}` has not run yet");
                return Ok(());
            }
            runs_table(&runs.runs).print()
        }
        CronCommand::Trigger { name } => {
            let run = client.cron_trigger(&name).await.with_context(|| format!("cannot trigger `{name}`"))?;
            if remote.json {
                return output::json(&run);
            }
            match &run.job_id {
                Some(job) => output::line(&format!("`{name}` triggered: run {} enqueued job {job}", run.id)),
                None => output::line(&format!("`{name}` triggered: run {} started", run.id)),
            }
        }
        CronCommand::Pause { name } => {
            let schedule = client.cron_pause(&name).await.with_context(|| format!("cannot pause `{name}`"))?;
            if remote.json {
                return output::json(&schedule);
            }
            output::line(&format!("`{name}` paused: its ticks pass without runs until resumed"))
        }
        CronCommand::Resume { name } => {
            let schedule = client.cron_resume(&name).await.with_context(|| format!("cannot resume `{name}`"))?;
            if remote.json {
                return output::json(&schedule);
            }
            let next = output::or_dash(schedule.next_run_at);
            output::line(&format!("`{name}` resumed; next run {next}"))
        }
    }
}

fn last_run(s: &CronView) -> String {
    match &s.last_run {
        Some(run) => format!("{} {}", run.scheduled_at, run.status),
        None => "-".to_string(),
    }
}

fn schedules_table(schedules: &[CronView]) -> output::Table {
    let mut table =
        output::Table::new(&["NAME", "SCHEDULE", "TIMEZONE", "QUEUE", "SOURCE", "NEXT RUN", "LAST RUN", "DESCRIPTION"]);
    for s in schedules {
        let next = if s.paused { "paused".to_string() } else { output::or_dash(s.next_run_at) };
        table.row(vec![
            s.name.clone(),
            s.schedule.clone(),
            s.timezone.clone(),
            output::or_dash(s.queue.as_deref()),
            s.source.clone(),
            next,
            last_run(s),
            output::truncate(&s.description, 60),
        ]);
    }
    table
}

fn runs_table(runs: &[CronRunView]) -> output::Table {
    let mut table = output::Table::new(&[
        "ID",
        "SCHEDULED",
        "TRIGGER",
        "JOB",
        "STATUS",
        "STARTED",
        "FINISHED",
        "ATTEMPTS",
        "ERROR",
    ]);
    for r in runs {
        table.row(vec![
            r.id.clone(),
            r.scheduled_at.to_string(),
            r.trigger.clone(),
            output::or_dash(r.job_id),
            r.status.clone(),
            output::or_dash(r.started_at),
            output::or_dash(r.finished_at),
            r.attempts.to_string(),
            output::truncate(r.error.as_deref().unwrap_or("-"), 60),
        ]);
    }
    table
}

fn render_schedule(s: &CronView) -> String {
    output::fields(&[
        ("name", s.name.clone()),
        ("schedule", format!("{} ({})", s.schedule, s.timezone)),
        ("queue", output::or_dash(s.queue.as_deref())),
        ("payload", s.payload.get().to_string()),
        ("description", output::or_dash(Some(s.description.as_str()).filter(|d| !d.is_empty()))),
        ("misfire", s.misfire.clone()),
        ("tenant", output::or_dash(s.tenant.as_deref())),
        ("max attempts", s.max_attempts.to_string()),
        ("source", s.source.clone()),
        ("paused", if s.paused { "yes" } else { "no" }.to_string()),
        ("next run", output::or_dash(s.next_run_at)),
        ("last run", last_run(s)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(argv: &[&str]) -> Result<Option<CronCommand>, clap::Error> {
        crate::cli::parse_args::<Args>("cron", argv).map(|a| a.command)
    }

    #[test]
    fn the_subcommands_parse() {
        assert!(matches!(parse(&[]), Ok(None)));
        assert!(matches!(parse(&["list"]), Ok(Some(CronCommand::List))));
        assert!(matches!(parse(&["runs", "nightly"]), Ok(Some(CronCommand::Runs { limit: 20, .. }))));
        assert!(matches!(parse(&["runs", "nightly", "--limit", "5"]), Ok(Some(CronCommand::Runs { limit: 5, .. }))));
        for cmd in ["show", "trigger", "pause", "resume"] {
            assert!(parse(&[cmd, "nightly"]).is_ok(), "{cmd}");
            assert!(parse(&[cmd]).is_err(), "{cmd} needs a name");
        }
    }
}
