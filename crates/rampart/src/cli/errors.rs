//! `rampart errors`: the error events apps report (scrubbed), newest
//! first with filters, and their counts per kind and fingerprint.

use anyhow::Context as _;
use rampart_client::wire::ErrorsResponse;

use crate::cli::{Remote, output};

/// Options of `rampart errors`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// What to do [default: list].
    #[command(subcommand)]
    pub command: Option<ErrorsCommand>,
}

/// Filters of a listing.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Filters {
    /// Only this level and worse: info, warning, error, critical.
    #[arg(long)]
    pub level: Option<String>,
    /// Only this kind.
    #[arg(long)]
    pub kind: Option<String>,
    /// Only this fingerprint.
    #[arg(long)]
    pub fingerprint: Option<String>,
    /// Only this tenant's.
    #[arg(long)]
    pub tenant: Option<String>,
    /// Only since this time (RFC 3339); counts from here too (default: the last 24 hours).
    #[arg(long)]
    pub since: Option<String>,
    /// Most events shown.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
}

/// The subcommands of `rampart errors`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ErrorsCommand {
    /// The latest events, newest first.
    List(Filters),
    /// Counts per kind and fingerprint, largest first.
    Counts(Filters),
}

impl Filters {
    fn query(&self) -> Vec<(&'static str, String)> {
        let mut q = vec![("limit", self.limit.to_string())];
        for (name, value) in [
            ("level", &self.level),
            ("kind", &self.kind),
            ("fingerprint", &self.fingerprint),
            ("tenant", &self.tenant),
            ("since", &self.since),
        ] {
            if let Some(v) = value {
                q.push((name, v.clone()));
            }
        }
        q
    }
}

/// Runs a `rampart errors` subcommand.
pub async fn run(args: Args, remote: &Remote) -> anyhow::Result<()> {
    let command = args.command.unwrap_or(ErrorsCommand::List(Filters { limit: 50, ..Filters::default() }));
    let (filters, counts) = match &command {
        ErrorsCommand::List(f) => (f, false),
        ErrorsCommand::Counts(f) => (f, true),
    };
    let response = remote.client.errors(&filters.query()).await.context("cannot list the error events")?;
    if remote.json {
        return output::json(&response);
    }
    if counts { counts_table(&response).print() } else { events_table(&response) }
}

fn events_table(r: &ErrorsResponse) -> anyhow::Result<()> {
    if r.events.is_empty() {
        eprintln!("no error events: apps send them with POST /v1/errors");
        return Ok(());
    }
    let mut table = output::Table::new(&["ID", "AT", "LEVEL", "KIND", "FINGERPRINT", "TENANT", "MESSAGE"]);
    for e in &r.events {
        table.row(vec![
            e.id.clone(),
            e.at.to_string(),
            e.level.to_string(),
            output::truncate(&e.kind, 32),
            e.fingerprint.clone(),
            output::truncate(e.tenant.as_deref().unwrap_or("-"), 20),
            output::truncate(&e.message, 60),
        ]);
    }
    table.print()
}

fn counts_table(r: &ErrorsResponse) -> output::Table {
    let mut table = output::Table::new(&["KIND", "FINGERPRINT", "COUNT", "LAST INTERVAL"]);
    for c in &r.counts {
        table.row(vec![c.kind.clone(), c.fingerprint.clone(), c.count.to_string(), c.last_interval.to_string()]);
    }
    table
}
