//! `rampart breakers`: every circuit breaker (the shared ones and the
//! server node's own), one with its latest transitions, and a reset.

use anyhow::Context as _;
use rampart_client::wire::{BreakerPolicyView, BreakerStepResponse, BreakerView};

use crate::cli::{Remote, output};

/// Options of `rampart breakers`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// What to do [default: list].
    #[command(subcommand)]
    pub command: Option<BreakersCommand>,
}

/// The subcommands of `rampart breakers`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum BreakersCommand {
    /// List every breaker with its state: the shared ones, then the node's own.
    List,
    /// Show one breaker with its policy and latest transitions.
    Show {
        /// The breaker.
        name: String,
    },
    /// Close a breaker and forget its counts (admin).
    Reset {
        /// The breaker.
        name: String,
    },
}

/// Runs a `rampart breakers` subcommand.
pub async fn run(args: Args, remote: &Remote) -> anyhow::Result<()> {
    let client = &remote.client;
    match args.command.unwrap_or(BreakersCommand::List) {
        BreakersCommand::List => {
            let response = client.breakers().await.context("cannot list the breakers")?;
            if remote.json {
                return output::json(&response);
            }
            let table = breakers_table(&response.breakers);
            if table.is_empty() {
                eprintln!(
                    "no breakers yet: apps make one with POST /v1/breakers/NAME/acquire, or add [breakers.NAME] \
                     to the configuration"
                );
                return Ok(());
            }
            table.print()
        }
        BreakersCommand::Show { name } => {
            let breaker = client.breaker(&name).await.with_context(|| format!("cannot show breaker `{name}`"))?;
            if remote.json {
                return output::json(&breaker);
            }
            output::print(&render_breaker(&breaker))
        }
        BreakersCommand::Reset { name } => {
            let step = client.breaker_reset(&name).await.with_context(|| format!("cannot reset breaker `{name}`"))?;
            if remote.json {
                return output::json(&step);
            }
            output::line(&reset_line(&name, &step))
        }
    }
}

fn reset_line(name: &str, step: &BreakerStepResponse) -> String {
    match &step.transition {
        Some(t) => format!("breaker `{name}` reset: {} → {}", t.from, t.to),
        None => format!("breaker `{name}` was already {}; its counts are cleared", step.state),
    }
}

/// "5 failures in a row, or 50% of ≥ 10 calls in 60s; 30s cooldown; 1 probe".
fn policy_line(p: &BreakerPolicyView) -> String {
    let mut text = format!("{} failures in a row", p.failure_threshold);
    if let (Some(rate), Some(window), Some(min)) = (p.failure_rate, &p.window, p.min_calls) {
        text.push_str(&format!(", or {}% of ≥ {min} calls in {window}", rate * 100.0));
    }
    text.push_str(&format!("; {} cooldown; {} probe(s)", p.cooldown, p.half_open_max));
    if let Some(slow) = &p.slow_call {
        text.push_str(&format!("; slower than {slow} fails"));
    }
    text
}

fn breakers_table(breakers: &[BreakerView]) -> output::Table {
    let mut table = output::Table::new(&["NAME", "SCOPE", "STATE", "SINCE", "FAILURES", "RETRY IN", "POLICY"]);
    for b in breakers {
        table.row(vec![
            b.name.clone(),
            b.scope.clone(),
            b.state.clone(),
            output::or_dash(b.since),
            b.consecutive_failures.to_string(),
            b.retry_after_s.map_or_else(|| "-".into(), |s| format!("{s}s")),
            policy_line(&b.policy),
        ]);
    }
    table
}

fn render_breaker(b: &BreakerView) -> String {
    let mut pairs = vec![
        ("name", b.name.clone()),
        ("scope", b.scope.clone()),
        ("state", b.state.clone()),
        ("since", b.since.map_or_else(|| "never used".into(), |t| t.to_string())),
    ];
    if let Some(retry) = b.retry_after_s {
        pairs.push(("retry in", format!("{retry}s")));
    }
    pairs.push(("failures in a row", b.consecutive_failures.to_string()));
    if b.policy.failure_rate.is_some() {
        pairs.push(("window", format!("{} failed of {} calls", b.window_failures, b.window_calls)));
    }
    if b.probes_in_flight > 0 {
        pairs.push(("probes in flight", b.probes_in_flight.to_string()));
    }
    if let Some(calls) = &b.calls {
        pairs.push((
            "since start",
            format!("{} successes, {} failures, {} rejected", calls.successes, calls.failures, calls.rejections),
        ));
    }
    pairs.push(("policy", policy_line(&b.policy)));
    let mut text = output::fields(&pairs);
    if let Some(transitions) = b.transitions.as_ref().filter(|t| !t.is_empty()) {
        let mut table = output::Table::new(&["AT", "FROM", "TO", "REASON"]);
        for t in transitions {
            table.row(vec![t.at.to_string(), t.from.clone(), t.to.clone(), t.reason.clone()]);
        }
        text.push('\n');
        text.push_str(&table.render());
    }
    text
}

#[cfg(test)]
mod tests {
    use rampart_client::wire::BreakerTransitionView;

    use super::*;

    fn parse(argv: &[&str]) -> Result<Option<BreakersCommand>, clap::Error> {
        crate::cli::parse_args::<Args>("breakers", argv).map(|a| a.command)
    }

    fn view(name: &str, state: &str) -> BreakerView {
        BreakerView {
            name: name.into(),
            scope: "shared".into(),
            state: state.into(),
            since: Some("2027-01-15T08:00:00.000Z".parse().unwrap()),
            retry_after_s: (state == "open").then_some(25),
            consecutive_failures: 0,
            window_calls: 0,
            window_failures: 0,
            probes_in_flight: 0,
            policy: BreakerPolicyView {
                failure_threshold: 5,
                failure_rate: None,
                window: None,
                min_calls: None,
                cooldown: "30s".into(),
                half_open_max: 1,
                slow_call: None,
            },
            calls: None,
            transitions: None,
        }
    }

    #[test]
    fn the_subcommands_parse() {
        assert!(matches!(parse(&[]), Ok(None)));
        assert!(matches!(parse(&["list"]), Ok(Some(BreakersCommand::List))));
        assert!(matches!(parse(&["show", "pay"]), Ok(Some(BreakersCommand::Show { ref name })) if name == "pay"));
        assert!(matches!(parse(&["reset", "pay"]), Ok(Some(BreakersCommand::Reset { .. }))));
        assert!(parse(&["reset"]).is_err(), "a name is required");
    }

    #[test]
    fn the_list_is_one_row_per_breaker() {
        let text = breakers_table(&[view("pay", "open"), view("search", "closed")]).render();
        let expected = "\
NAME    SCOPE   STATE   SINCE                     FAILURES  RETRY IN  POLICY
pay     shared  open    2027-01-15T08:00:00.000Z  0         25s       5 failures in a row; 30s cooldown; 1 probe(s)
search  shared  closed  2027-01-15T08:00:00.000Z  0         -         5 failures in a row; 30s cooldown; 1 probe(s)
";
        assert_eq!(text, expected);
    }

    #[test]
    fn show_lists_the_transitions() {
        let mut b = view("pay", "open");
        b.transitions.get_or_insert_default().push(BreakerTransitionView {
            at: "2027-01-15T08:00:00.000Z".parse().unwrap(),
            from: "closed".into(),
            to: "open".into(),
            reason: "5 consecutive failures".into(),
        });
        let text = render_breaker(&b);
        assert!(text.contains("retry in"), "{text}");
        assert!(text.contains("closed  open  5 consecutive failures"), "{text}");
    }
}
