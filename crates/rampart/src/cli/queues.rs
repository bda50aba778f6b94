//! `rampart queues`: list queues with their job counts, show one with its
//! totals since start-up, pause and resume leasing.

use anyhow::Context as _;
use rampart_client::wire::{QueuePausedResponse, QueueRateView, QueueView};
use rampart_core::id::QueueName;

use crate::cli::{Remote, output};

/// Options of `rampart queues`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// What to do [default: list].
    #[command(subcommand)]
    pub command: Option<QueuesCommand>,
}

/// The subcommands of `rampart queues`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum QueuesCommand {
    /// List every queue with its jobs per state.
    List,
    /// Show a queue's jobs per state and its totals since the server started;
    /// for a push queue also its target and (to an admin key) its secret.
    Show {
        /// The queue.
        name: QueueName,
    },
    /// Stop a queue's jobs from being leased (enqueueing goes on).
    Pause {
        /// The queue.
        name: QueueName,
    },
    /// Let a paused queue's jobs be leased again.
    Resume {
        /// The queue.
        name: QueueName,
    },
}

/// Runs a `rampart queues` subcommand.
pub async fn run(args: Args, remote: &Remote) -> anyhow::Result<()> {
    match args.command.unwrap_or(QueuesCommand::List) {
        QueuesCommand::List => list(remote).await,
        QueuesCommand::Show { name } => {
            let queue =
                remote.client.queue(name.as_str()).await.with_context(|| format!("cannot show queue `{name}`"))?;
            if remote.json {
                return output::json(&queue);
            }
            output::print(&render_queue(&queue))
        }
        QueuesCommand::Pause { name } => {
            let response = remote
                .client
                .queue_pause(name.as_str())
                .await
                .with_context(|| format!("cannot pause queue `{name}`"))?;
            print_paused(&response, remote)
        }
        QueuesCommand::Resume { name } => {
            let response = remote
                .client
                .queue_resume(name.as_str())
                .await
                .with_context(|| format!("cannot resume queue `{name}`"))?;
            print_paused(&response, remote)
        }
    }
}

async fn list(remote: &Remote) -> anyhow::Result<()> {
    let response = remote.client.queues().await.context("cannot list the queues")?;
    if remote.json {
        return output::json(&response);
    }
    let table = queues_table(&response.queues);
    if table.is_empty() {
        eprintln!("no queues yet: a queue appears when its first job is enqueued or it is configured");
    } else {
        table.print()?;
    }
    Ok(())
}

fn queues_table(queues: &[QueueView]) -> output::Table {
    let mut table = output::Table::new(&[
        "NAME",
        "PAUSED",
        "SCHEDULED",
        "AVAILABLE",
        "ACTIVE",
        "COMPLETED",
        "DEAD",
        "CANCELLED",
        "RATE",
    ]);
    for q in queues {
        let c = &q.counts;
        table.row(vec![
            q.name.to_string(),
            yes_no(q.paused),
            c.scheduled.to_string(),
            c.available.to_string(),
            c.active.to_string(),
            c.completed.to_string(),
            c.dead.to_string(),
            c.cancelled.to_string(),
            q.rate.as_ref().map_or_else(
                || "-".to_string(),
                |r| match &r.key {
                    Some(key) => format!("{} per {key}", r.rate),
                    None => r.rate.clone(),
                },
            ),
        ]);
    }
    table
}

/// A queue's details for people: counts per state, then totals since start-up.
fn render_queue(queue: &QueueView) -> String {
    let (c, t) = (&queue.counts, &queue.totals);
    let mut head = vec![("name", queue.name.to_string()), ("paused", yes_no(queue.paused))];
    if let Some(target) = &queue.target {
        head.push(("target", target.clone()));
        // Shown to admin keys only: others see that there is one.
        head.push(("secret", queue.secret.clone().unwrap_or_else(|| "(shown to admin keys only)".into())));
    }
    if let Some(rate) = &queue.rate {
        head.push(("rate", rate_line(rate)));
    }
    let mut out = output::fields(&head);
    out.push_str("\njobs now\n");
    out.push_str(&output::fields(&[
        ("  scheduled", c.scheduled.to_string()),
        ("  available", c.available.to_string()),
        ("  active", c.active.to_string()),
        ("  completed", c.completed.to_string()),
        ("  dead", c.dead.to_string()),
        ("  cancelled", c.cancelled.to_string()),
    ]));
    out.push_str("\nsince the server started\n");
    out.push_str(&output::fields(&[
        ("  completed", t.completed.to_string()),
        ("  failed", t.failed.to_string()),
        ("  retries", t.retries.to_string()),
        ("  dead", t.dead.to_string()),
        ("  stalled", t.stalled.to_string()),
        ("  timeouts", t.timeouts.to_string()),
        ("  mean processing", format!("{:.1}ms", t.mean_processing_ms)),
    ]));
    out
}

/// A start rate and its windows now: `100/1m, 40 started in the open window`,
/// by tenant `5/1s per tenant, 12 started in 4 open windows, 2 full until …`.
pub(crate) fn rate_line(rate: &QueueRateView) -> String {
    let mut line = match &rate.key {
        Some(key) => format!(
            "{} per {key}, {} started in {} open window{}",
            rate.rate,
            rate.started,
            rate.groups,
            if rate.groups == 1 { "" } else { "s" }
        ),
        None => format!("{}, {} started in the open window", rate.rate, rate.started),
    };
    if let Some(at) = rate.reopens_at {
        let full = if rate.key.is_some() { format!("{} full", rate.full) } else { "full".to_string() };
        line.push_str(&format!(", {full} until {at}"));
    }
    line
}

fn print_paused(response: &QueuePausedResponse, remote: &Remote) -> anyhow::Result<()> {
    if remote.json {
        return output::json(response);
    }
    let now = if response.paused { "paused" } else { "running" };
    output::line(&format!("queue `{}` is {now}", response.name))
}

fn yes_no(flag: bool) -> String {
    if flag { "yes" } else { "no" }.to_string()
}

#[cfg(test)]
mod tests {
    use rampart_client::wire::{QueueTotals, StateCounts};

    use super::*;

    fn parse(argv: &[&str]) -> Result<Option<QueuesCommand>, clap::Error> {
        crate::cli::parse_args::<Args>("queues", argv).map(|a| a.command)
    }

    #[test]
    fn bare_queues_lists() {
        assert!(matches!(parse(&[]), Ok(None)));
        assert!(matches!(parse(&["list"]), Ok(Some(QueuesCommand::List))));
        assert!(
            matches!(parse(&["pause", "email"]), Ok(Some(QueuesCommand::Pause { name })) if name.as_str() == "email")
        );
        assert!(matches!(parse(&["resume", "email"]), Ok(Some(QueuesCommand::Resume { .. }))));
        assert!(matches!(parse(&["show", "email"]), Ok(Some(QueuesCommand::Show { .. }))));
        assert!(parse(&["show", "no/slash"]).is_err());
    }

    fn queue(name: &str, paused: bool) -> QueueView {
        QueueView {
            name: name.parse().unwrap(),
            paused,
            counts: StateCounts {
                scheduled: 1,
                available: 20,
                active: 3,
                waiting: 0,
                completed: 400,
                dead: 5,
                cancelled: 0,
            },
            totals: QueueTotals { completed: 10, failed: 2, mean_processing_ms: 12.25, ..QueueTotals::default() },
            target: None,
            secret: None,
            rate: None,
        }
    }

    #[test]
    fn the_list_is_one_row_per_queue() {
        let text = queues_table(&[queue("email", false), queue("billing.invoices", true)]).render();
        let expected = "\
NAME              PAUSED  SCHEDULED  AVAILABLE  ACTIVE  COMPLETED  DEAD  CANCELLED  RATE
email             no      1          20         3       400        5     0          -
billing.invoices  yes     1          20         3       400        5     0          -
";
        assert_eq!(text, expected);
    }

    #[test]
    fn a_queue_shows_counts_and_totals() {
        let text = render_queue(&queue("email", true));
        assert!(text.starts_with("name    email\npaused  yes\n"), "{text}");
        assert!(text.contains("\njobs now\n  scheduled  1\n"), "{text}");
        assert!(text.contains("  mean processing  12.2ms\n") || text.contains("  mean processing  12.3ms\n"), "{text}");
        assert!(text.contains("  failed           2\n"), "{text}");
        assert!(!text.contains("target"), "a pull queue has none: {text}");
    }

    #[test]
    fn a_rated_queue_shows_its_rate_and_open_windows() {
        let mut q = queue("sync", false);
        let rate =
            QueueRateView { rate: "100/1m".into(), key: None, started: 40, groups: 1, full: 0, reopens_at: None };
        q.rate = Some(rate.clone());
        assert!(render_queue(&q).contains("rate    100/1m, 40 started in the open window\n"), "{}", render_queue(&q));
        let full =
            QueueRateView { started: 100, full: 1, reopens_at: Some("2026-12-07T23:00:00Z".parse().unwrap()), ..rate };
        assert_eq!(rate_line(&full), "100/1m, 100 started in the open window, full until 2026-12-07T23:00:00.000Z");
        let by_tenant = QueueRateView { key: Some("tenant".into()), started: 12, groups: 4, full: 2, ..full };
        assert_eq!(
            rate_line(&by_tenant),
            "100/1m per tenant, 12 started in 4 open windows, 2 full until 2026-12-07T23:00:00.000Z"
        );
    }

    #[test]
    fn a_push_queue_shows_its_target_and_secret() {
        let mut q = queue("hook", false);
        q.target = Some("https://app.example.com/jobs".into());
        q.secret = Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into());
        let text = render_queue(&q);
        assert!(text.contains("target  https://app.example.com/jobs\n"), "{text}");
        assert!(text.contains("secret  whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n"), "{text}");
        q.secret = None;
        assert!(render_queue(&q).contains("secret  (shown to admin keys only)\n"));
    }
}
