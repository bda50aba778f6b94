//! `rampart alerts`: list and show alerts, acknowledge one, silence them,
//! and send a test message to every channel.

use anyhow::Context as _;
use rampart_client::wire::{AlertRecordView, SilenceRequest, SilenceView};
use rampart_core::alert::{AlertId, AlertRule, AlertState, SilenceId};
use rampart_core::duration::HumanDuration;

use crate::cli::{Remote, output};

/// Options of `rampart alerts`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: AlertsCommand,
}

/// The subcommands of `rampart alerts`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum AlertsCommand {
    /// List alerts, newest first.
    List {
        /// Only `firing` or `resolved` alerts.
        #[arg(long, value_parser = parse_state)]
        state: Option<AlertState>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Show one alert, with the dead jobs it lists.
    Show {
        /// The alert's id.
        id: AlertId,
    },
    /// Acknowledge an alert: no more reminders for it (it still resolves).
    Ack {
        /// The alert's id.
        id: AlertId,
    },
    /// Silence alerts (all, or of one rule and/or subject) for a while.
    Silence {
        /// Only this rule (queue_waiting, queue_failed_rate, queue_stalled,
        /// store_latency, dead_letters).
        #[arg(long)]
        rule: Option<AlertRule>,
        /// Only this subject: a queue's name, or `store`.
        #[arg(long)]
        subject: Option<String>,
        /// How long, e.g. "2h".
        #[arg(long = "for", value_name = "DURATION")]
        duration: HumanDuration,
        /// Why, for the next person.
        #[arg(long)]
        reason: String,
    },
    /// List the silences that have not ended.
    Silences,
    /// End a silence now.
    Unsilence {
        /// The silence's id.
        id: SilenceId,
    },
    /// Send a test message to every channel and print each one's result.
    Test,
}

fn parse_state(s: &str) -> Result<AlertState, String> {
    s.parse().map_err(|e: rampart_core::alert::AlertStateError| e.to_string())
}

/// Runs a `rampart alerts` subcommand.
pub async fn run(args: Args, remote: &Remote) -> anyhow::Result<()> {
    let client = &remote.client;
    match args.command {
        AlertsCommand::List { state, limit } => {
            let state = state.map(AlertState::as_str);
            let page = client.alerts(state, Some(limit), None).await.context("cannot list the alerts")?;
            if remote.json {
                return output::json(&page);
            }
            if page.alerts.is_empty() {
                eprintln!("no alerts");
                return Ok(());
            }
            alerts_table(&page.alerts).print()
        }
        AlertsCommand::Show { id } => {
            let alert = client.alert(&id.to_string()).await.with_context(|| format!("cannot show alert {id}"))?;
            if remote.json {
                return output::json(&alert);
            }
            output::print(&render_alert(&alert))
        }
        AlertsCommand::Ack { id } => {
            let alert =
                client.alert_ack(&id.to_string()).await.with_context(|| format!("cannot acknowledge alert {id}"))?;
            if remote.json {
                return output::json(&alert);
            }
            output::line(&format!("acknowledged alert {id} ({} on {}): no more reminders", alert.rule, alert.subject))
        }
        AlertsCommand::Silence { rule, subject, duration, reason } => {
            let request = SilenceRequest {
                rule: rule.map(|r| r.to_string()),
                subject,
                ends_at: None,
                duration: Some(duration),
                reason,
            };
            let silence = client.alert_silence(&request).await.context("cannot create the silence")?;
            if remote.json {
                return output::json(&silence);
            }
            output::line(&format!("silence {} until {}", silence.id, silence.ends_at))
        }
        AlertsCommand::Silences => {
            let list = client.alert_silences().await.context("cannot list the silences")?;
            if remote.json {
                return output::json(&list);
            }
            if list.silences.is_empty() {
                eprintln!("no silences");
                return Ok(());
            }
            silences_table(&list.silences).print()
        }
        AlertsCommand::Unsilence { id } => {
            client.alert_silence_delete(&id.to_string()).await.with_context(|| format!("cannot end silence {id}"))?;
            if remote.json {
                return output::json(&serde_json::json!({ "deleted": id.to_string() }));
            }
            output::line(&format!("ended silence {id}"))
        }
        AlertsCommand::Test => {
            let results = client.alert_test().await.context("cannot send the test messages")?;
            if remote.json {
                output::json(&results)?;
            } else if results.channels.is_empty() {
                eprintln!("no alert channels are configured: add [[alerts.channels]] or set SLACK_WEBHOOK_URL");
            } else {
                let mut table = output::Table::new(&["CHANNEL", "KIND", "RESULT"]);
                for c in &results.channels {
                    let result = match &c.error {
                        None => "sent".to_string(),
                        Some(e) => format!("failed: {e}"),
                    };
                    table.row(vec![c.name.clone(), c.kind.clone(), result]);
                }
                table.print()?;
            }
            let failed = results.channels.iter().filter(|c| !c.ok).count();
            if failed > 0 {
                anyhow::bail!("{failed} of {} channels failed", results.channels.len());
            }
            Ok(())
        }
    }
}

fn alerts_table(alerts: &[AlertRecordView]) -> output::Table {
    let mut table = output::Table::new(&["ID", "STATE", "RULE", "SUBJECT", "FIGURE", "SINCE", "ACKED BY"]);
    for a in alerts {
        table.row(vec![
            a.id.clone(),
            a.state.clone(),
            a.rule.clone(),
            a.subject.clone(),
            a.summary.clone(),
            a.started_at.to_string(),
            a.acked_by.clone().unwrap_or_default(),
        ]);
    }
    table
}

fn silences_table(silences: &[SilenceView]) -> output::Table {
    let mut table = output::Table::new(&["ID", "RULE", "SUBJECT", "ENDS", "BY", "REASON"]);
    for s in silences {
        table.row(vec![
            s.id.clone(),
            s.rule.clone().unwrap_or_else(|| "*".into()),
            s.subject.clone().unwrap_or_else(|| "*".into()),
            s.ends_at.to_string(),
            s.created_by.clone(),
            s.reason.clone(),
        ]);
    }
    table
}

fn render_alert(a: &AlertRecordView) -> String {
    let mut out = format!(
        "alert      {}\nstate      {}\nrule       {}\nsubject    {}\nfigure     {}\nsince      {}\nnotified   {}\n",
        a.id, a.state, a.rule, a.subject, a.summary, a.started_at, a.last_notified_at
    );
    if let Some(t) = &a.resolved_at {
        out.push_str(&format!("resolved   {t}\n"));
    }
    if let (Some(t), Some(by)) = (&a.acked_at, &a.acked_by) {
        out.push_str(&format!("acked      {t} by {by}\n"));
    }
    for j in &a.dead_jobs {
        let error = j["last_error"].as_str().unwrap_or("no error recorded");
        out.push_str(&format!(
            "dead job   {} ({} attempts): {error}\n",
            j["id"].as_str().unwrap_or("?"),
            j["attempts"]
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(argv: &[&str]) -> Result<AlertsCommand, clap::Error> {
        crate::cli::parse_args::<Args>("alerts", argv).map(|a| a.command)
    }

    #[test]
    fn subcommands_parse_their_ids_rules_and_states() {
        assert!(matches!(parse(&["ack", "7"]), Ok(AlertsCommand::Ack { id: AlertId(7) })));
        assert!(parse(&["ack", "x"]).is_err());
        assert!(matches!(
            parse(&["list", "--state", "firing"]),
            Ok(AlertsCommand::List { state: Some(AlertState::Firing), limit: 50 })
        ));
        assert!(parse(&["list", "--state", "open"]).is_err());
        let Ok(AlertsCommand::Silence { rule, subject, duration, reason }) =
            parse(&["silence", "--rule", "dead_letters", "--subject", "email", "--for", "2h", "--reason", "deploy"])
        else {
            panic!("silence parses");
        };
        assert_eq!(
            (rule, subject.as_deref(), duration.to_string().as_str(), reason.as_str()),
            (Some(AlertRule::DeadLetters), Some("email"), "2h", "deploy")
        );
        assert!(parse(&["silence", "--rule", "nope", "--for", "1h", "--reason", "x"]).is_err());
        assert!(matches!(parse(&["test"]), Ok(AlertsCommand::Test)));
    }
}
