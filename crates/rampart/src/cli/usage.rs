//! `rampart usage`: AI usage totals (grouped), budgets with their current
//! period's figures, and defining or deleting a budget of the API.

use anyhow::Context as _;
use rampart_client::wire::{BudgetView, UsageGroupView};

use crate::cli::{Remote, output};

/// Options of `rampart usage`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// What to do [default: summary].
    #[command(subcommand)]
    pub command: Option<UsageCommand>,
}

/// The subcommands of `rampart usage`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum UsageCommand {
    /// Calls, failures, tokens, cost and p50/p95 duration.
    Summary {
        /// Group by model, feature, tenant, user or day.
        #[arg(long)]
        group_by: Option<String>,
        /// From this time (RFC 3339) [default: 24 hours ago].
        #[arg(long)]
        since: Option<String>,
        /// Up to this time (RFC 3339) [default: now].
        #[arg(long)]
        until: Option<String>,
    },
    /// Every budget with its current period's spent, reserved and limit.
    Budgets,
    /// Define or replace a budget kept in the store (admin): the keys of a
    /// `[budgets.NAME]` table, as JSON (e.g. '{"scope":"tenant","amount_usd":50,"period":"day"}').
    Put {
        /// The budget.
        name: String,
        /// The budget's spec as JSON.
        spec: String,
    },
    /// Delete a budget of the API (admin).
    Delete {
        /// The budget.
        name: String,
    },
}

/// Runs a `rampart usage` subcommand.
pub async fn run(args: Args, remote: &Remote) -> anyhow::Result<()> {
    let client = &remote.client;
    let command = args.command.unwrap_or(UsageCommand::Summary { group_by: None, since: None, until: None });
    match command {
        UsageCommand::Summary { group_by, since, until } => {
            let query: Vec<(&str, String)> = [("group_by", group_by), ("since", since), ("until", until)]
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| (k, v)))
                .collect();
            let summary = client.usage_summary(&query).await.context("cannot read the usage summary")?;
            if remote.json {
                return output::json(&summary);
            }
            summary_table(&summary.groups).print()
        }
        UsageCommand::Budgets => {
            let response = client.budgets().await.context("cannot list the budgets")?;
            if remote.json {
                return output::json(&response);
            }
            if response.budgets.is_empty() {
                eprintln!("no budgets: add a [budgets.NAME] table or `rampart usage put NAME SPEC`");
                return Ok(());
            }
            budgets_table(&response.budgets).print()
        }
        UsageCommand::Put { name, spec } => {
            let spec: serde_json::Value = serde_json::from_str(&spec)
                .context("the spec is not JSON; write it like '{\"amount_usd\":50,\"period\":\"day\"}'")?;
            let budget =
                client.budget_put(&name, &spec).await.with_context(|| format!("cannot put budget `{name}`"))?;
            if remote.json {
                return output::json(&budget);
            }
            output::line(&format!("budget `{name}`: ${} per {} ({})", budget.amount_usd, budget.period, budget.scope))
        }
        UsageCommand::Delete { name } => {
            client.budget_delete(&name).await.with_context(|| format!("cannot delete budget `{name}`"))?;
            output::line(&format!("budget `{name}` deleted"))
        }
    }
}

fn summary_table(groups: &[UsageGroupView]) -> output::Table {
    let mut table =
        output::Table::new(&["GROUP", "CALLS", "FAILED", "INPUT", "CACHED", "OUTPUT", "COST_USD", "P50_MS", "P95_MS"]);
    for g in groups {
        table.row(vec![
            output::or_dash(g.key.as_ref()),
            g.calls.to_string(),
            g.failures.to_string(),
            g.input_tokens.to_string(),
            g.cached_input_tokens.to_string(),
            g.output_tokens.to_string(),
            format!("{:.6}", g.cost_usd),
            g.p50_ms.to_string(),
            g.p95_ms.to_string(),
        ]);
    }
    table
}

fn budgets_table(budgets: &[BudgetView]) -> output::Table {
    let mut table = output::Table::new(&[
        "NAME",
        "SCOPE",
        "SUBJECT",
        "WINDOW",
        "SPENT_USD",
        "RESERVED_USD",
        "LIMIT_USD",
        "ENFORCE",
    ]);
    for b in budgets {
        let scope = match &b.matches {
            Some(m) => format!("{}={m}", b.scope),
            None => b.scope.clone(),
        };
        let rows: Vec<(String, f64, f64)> = if b.windows.is_empty() {
            vec![(String::new(), 0.0, 0.0)]
        } else {
            b.windows.iter().map(|w| (w.subject.clone(), w.spent_usd, w.reserved_usd)).collect()
        };
        for (subject, spent, reserved) in rows {
            table.row(vec![
                b.name.to_string(),
                scope.clone(),
                if subject.is_empty() { "-".into() } else { subject },
                b.window.clone(),
                format!("{spent:.6}"),
                format!("{reserved:.6}"),
                format!("{:.2}", b.amount_usd),
                b.enforce.to_string(),
            ]);
        }
    }
    table
}
