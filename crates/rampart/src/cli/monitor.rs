//! `rampart monitor`: the system's health and every queue's latest sample
//! as tables, or one queue's kept samples (`rampart monitor queue NAME`).

use anyhow::Context as _;
use rampart_client::wire::{QueueSampleView, SystemHealthResponse};
use rampart_core::id::QueueName;

use crate::cli::{Remote, output};

/// Options of `rampart monitor`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// What to show [default: the system's health and every queue's latest sample].
    #[command(subcommand)]
    pub command: Option<MonitorCommand>,
}

/// The subcommands of `rampart monitor`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum MonitorCommand {
    /// One queue's samples, oldest first.
    Queue {
        /// The queue.
        name: QueueName,
    },
}

/// Runs `rampart monitor`.
pub async fn run(args: Args, remote: &Remote) -> anyhow::Result<()> {
    match args.command {
        None => overview(remote).await,
        Some(MonitorCommand::Queue { name }) => {
            let history = remote
                .client
                .queue_metrics_history(name.as_str())
                .await
                .with_context(|| format!("cannot show the metrics of queue `{name}`"))?;
            if remote.json {
                return output::json(&history);
            }
            samples_table(&history.samples, true).print()
        }
    }
}

async fn overview(remote: &Remote) -> anyhow::Result<()> {
    let (system, metrics) = tokio::try_join!(remote.client.system_health(), remote.client.queue_metrics())
        .context("cannot read the server's monitoring")?;
    if remote.json {
        return output::json(&serde_json::json!({"system": system, "queues": metrics}));
    }
    output::print(&render_system(&system))?;
    let table = samples_table(&metrics.queues, false);
    if table.is_empty() {
        eprintln!("no queue sampled yet: samples come every {}", metrics.interval);
        return Ok(());
    }
    println!();
    table.print()
}

fn render_system(s: &SystemHealthResponse) -> String {
    let c = &s.components;
    let store = match (&c.store.latency_ms, &c.store.error) {
        (Some(ms), _) => format!("{} ({}, {ms} ms)", c.store.status, c.store.backend),
        (None, error) => format!("{} ({}): {}", c.store.status, c.store.backend, output::or_dash(error.as_deref())),
    };
    let redis = c.redis.as_ref().map_or_else(|| "not configured".to_string(), |r| r.status.clone());
    let alerts = if c.alerts.alerts.is_empty() {
        "none firing".to_string()
    } else {
        c.alerts.alerts.iter().map(|a| format!("{}: {}", a.name, a.message)).collect::<Vec<_>>().join("; ")
    };
    output::fields(&[
        ("status", s.status.clone()),
        ("store", store),
        ("redis", redis),
        ("queues", format!("{} ({} waiting, {} active)", c.queues.count, c.queues.waiting, c.queues.active)),
        (
            "rate limits",
            format!(
                "{} policies, {} allowed, {} denied",
                c.ratelimit.policies, c.ratelimit.allowed, c.ratelimit.denied
            ),
        ),
        ("alerts", alerts),
        ("memory", output::memory(&c.memory)),
    ])
}

fn samples_table(samples: &[QueueSampleView], by_time: bool) -> output::Table {
    let first: &'static str = if by_time { "AT" } else { "QUEUE" };
    let mut table = output::Table::new(&[
        first,
        "WAITING",
        "DELAYED",
        "ACTIVE",
        "COMPLETED",
        "DEAD",
        "STALLED",
        "FAILED/INT",
        "MEAN MS",
        "P95 MS",
    ]);
    for s in samples {
        table.row(vec![
            if by_time { s.at.to_string() } else { s.queue.clone() },
            s.waiting.to_string(),
            s.delayed.to_string(),
            s.active.to_string(),
            s.completed.to_string(),
            s.dead.to_string(),
            s.stalled.to_string(),
            format!("{:.1}%", s.failed_rate * 100.0),
            format!("{:.2}", s.mean_processing_ms),
            format!("{:.2}", s.p95_processing_ms),
        ]);
    }
    table
}
