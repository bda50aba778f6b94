//! `rampart dlq`: a queue's dead letters: list them, retry them, purge them.
//!
//! A purge cannot be undone, so it asks first on a terminal and refuses to
//! run unattended without `--yes`.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use anyhow::Context as _;
use rampart_client::wire::DeadRetryRequest;
use rampart_core::id::{JobId, QueueName};
use rampart_core::job::JobState;

use crate::cli::{Remote, UsageError, output};

/// Longest last error shown in a listing.
const ERROR_WIDTH: usize = 60;

/// Options of `rampart dlq`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: DlqCommand,
}

/// The subcommands of `rampart dlq`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum DlqCommand {
    /// List a queue's dead jobs.
    List {
        /// The queue.
        queue: QueueName,
        /// Most jobs to show [default: the server's page size].
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        limit: Option<u32>,
        /// Continue from where a previous page ended.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Make a queue's dead jobs available again: all of them, or those named.
    Retry {
        /// The queue.
        queue: QueueName,
        /// Only this dead job (repeat for several).
        #[arg(long = "id", value_name = "ID")]
        ids: Vec<JobId>,
    },
    /// Delete a queue's dead jobs for good.
    Purge {
        /// The queue.
        queue: QueueName,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

/// Runs a `rampart dlq` subcommand.
pub async fn run(args: Args, remote: &Remote) -> anyhow::Result<()> {
    match args.command {
        DlqCommand::List { queue, limit, cursor } => list(&queue, limit, cursor.as_deref(), remote).await,
        DlqCommand::Retry { queue, ids } => retry(&queue, ids, remote).await,
        DlqCommand::Purge { queue, yes } => purge(&queue, yes, remote).await,
    }
}

async fn list(queue: &QueueName, limit: Option<u32>, cursor: Option<&str>, remote: &Remote) -> anyhow::Result<()> {
    let page = remote
        .client
        .jobs(queue.as_str(), Some(JobState::Dead.as_str()), limit, cursor)
        .await
        .with_context(|| format!("cannot list the dead jobs of queue `{queue}`"))?;
    if remote.json {
        return output::json(&page);
    }
    let mut table = output::Table::new(&["ID", "ATTEMPTS", "FINISHED", "LAST ERROR"]);
    for job in &page.jobs {
        table.row(vec![
            job.id.to_string(),
            format!("{}/{}", job.attempt, job.max_attempts),
            output::or_dash(job.finished_at),
            output::truncate(job.last_error.as_deref().unwrap_or("-"), ERROR_WIDTH),
        ]);
    }
    if table.is_empty() {
        eprintln!("queue `{queue}` has no dead jobs");
    } else {
        table.print()?;
    }
    if let Some(cursor) = &page.next_cursor {
        eprintln!("more dead jobs: pass --cursor {cursor}");
    }
    Ok(())
}

async fn retry(queue: &QueueName, ids: Vec<JobId>, remote: &Remote) -> anyhow::Result<()> {
    let request = DeadRetryRequest { ids: Some(ids).filter(|ids| !ids.is_empty()) };
    let response = remote
        .client
        .dead_retry(queue.as_str(), &request)
        .await
        .with_context(|| format!("cannot retry the dead jobs of queue `{queue}`"))?;
    if remote.json {
        return output::json(&response);
    }
    output::line(&format!("retried {} dead {} of queue `{queue}`", response.retried, jobs_word(response.retried)))
}

async fn purge(queue: &QueueName, yes: bool, remote: &Remote) -> anyhow::Result<()> {
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(UsageError(format!(
                "purging the dead jobs of queue `{queue}` cannot be undone; pass --yes to confirm when not at a terminal"
            ))
            .into());
        }
        let dead = remote
            .client
            .queue(queue.as_str())
            .await
            .with_context(|| format!("cannot look at queue `{queue}`"))?
            .counts
            .dead;
        if dead == 0 {
            eprintln!("queue `{queue}` has no dead jobs");
            return Ok(());
        }
        if !confirm(&format!("delete {dead} dead {} of queue `{queue}` for good?", jobs_word(dead)))? {
            eprintln!("nothing purged");
            return Ok(());
        }
    }
    let response = remote
        .client
        .dead_purge(queue.as_str())
        .await
        .with_context(|| format!("cannot purge the dead jobs of queue `{queue}`"))?;
    if remote.json {
        return output::json(&response);
    }
    output::line(&format!("purged {} dead {} of queue `{queue}`", response.purged, jobs_word(response.purged)))
}

/// Asks a yes/no question on the terminal; only `y` or `yes` is a yes.
pub(super) fn confirm(question: &str) -> anyhow::Result<bool> {
    eprint!("{question} [y/N] ");
    std::io::stderr().flush().context("cannot write to the terminal")?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).context("cannot read the answer")?;
    Ok(is_yes(&answer))
}

fn is_yes(answer: &str) -> bool {
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

pub(super) fn jobs_word(n: u64) -> &'static str {
    if n == 1 { "job" } else { "jobs" }
}

#[cfg(test)]
mod tests {

    use super::*;

    fn parse(argv: &[&str]) -> Result<DlqCommand, clap::Error> {
        crate::cli::parse_args::<Args>("dlq", argv).map(|a| a.command)
    }

    #[test]
    fn retry_takes_repeated_ids() {
        let Ok(DlqCommand::Retry { queue, ids }) = parse(&["retry", "email", "--id", "3", "--id", "9"]) else {
            panic!("retry parses");
        };
        assert_eq!(queue.as_str(), "email");
        assert_eq!(ids, [JobId(3), JobId(9)]);
        assert!(matches!(parse(&["retry", "email"]), Ok(DlqCommand::Retry { ids, .. }) if ids.is_empty()));
        assert!(parse(&["retry", "email", "--id", "x"]).is_err());
    }

    #[test]
    fn list_and_purge_parse() {
        assert!(matches!(parse(&["list", "email", "--limit", "10"]), Ok(DlqCommand::List { limit: Some(10), .. })));
        assert!(matches!(parse(&["purge", "email"]), Ok(DlqCommand::Purge { yes: false, .. })));
        assert!(matches!(parse(&["purge", "email", "--yes"]), Ok(DlqCommand::Purge { yes: true, .. })));
        assert!(parse(&["purge"]).is_err());
    }

    #[test]
    fn only_an_explicit_yes_confirms() {
        for yes in ["y\n", "Y", " yes ", "YES\n"] {
            assert!(is_yes(yes), "{yes:?}");
        }
        for no in ["", "\n", "n", "no", "yeah", "sure"] {
            assert!(!is_yes(no), "{no:?}");
        }
    }
}
