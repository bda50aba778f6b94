//! `rampart webhooks`: the webhook sources, the delivery log (filtered,
//! one delivery with its headers, body and job), replaying dead-lettered
//! deliveries, and defining or deleting a source of the API.

use anyhow::Context as _;
use rampart_client::wire::{WebhookDeliveryView, WebhookReplayRequest, WebhookSourceView};
use rampart_core::id::SourceName;

use crate::cli::{Remote, output};

/// Options of `rampart webhooks`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// What to do [default: sources].
    #[command(subcommand)]
    pub command: Option<WebhooksCommand>,
}

/// The subcommands of `rampart webhooks`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum WebhooksCommand {
    /// List every source (configured and put), with where each takes requests.
    Sources,
    /// Show one source (secrets never show).
    Source {
        /// The source.
        name: String,
    },
    /// Define or replace a source kept in the store (admin): the keys of a
    /// `[webhooks.NAME]` table, as JSON (e.g. '{"scheme":"github","secret":"..."}').
    Put {
        /// The source: it takes requests at /in/NAME.
        name: String,
        /// The source's spec as JSON.
        spec: String,
    },
    /// Delete a source of the API (admin).
    Delete {
        /// The source.
        name: String,
    },
    /// List deliveries, newest first.
    Deliveries {
        /// Only this source's.
        #[arg(long)]
        source: Option<String>,
        /// Only this tenant's.
        #[arg(long)]
        tenant: Option<String>,
        /// Only those with this status (pending, processing, completed, failed, dead_letter, duplicate, rejected, ...).
        #[arg(long)]
        status: Option<String>,
        /// Only events of this type.
        #[arg(long = "type")]
        event_type: Option<String>,
        /// Only those received at or after this time (RFC 3339).
        #[arg(long)]
        since: Option<String>,
        /// How many (1 to 1000).
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Show one delivery with its headers, body and job.
    Show {
        /// The delivery's id.
        id: String,
    },
    /// Replay one dead-lettered delivery, or every one of a source (admin).
    Replay {
        /// The delivery's id; leave out with --source.
        id: Option<String>,
        /// Replay every dead-lettered delivery of this source.
        #[arg(long, conflicts_with = "id")]
        source: Option<String>,
        /// With --source: only this tenant's.
        #[arg(long, requires = "source")]
        tenant: Option<String>,
    },
}

/// Runs a `rampart webhooks` subcommand.
pub async fn run(args: Args, remote: &Remote) -> anyhow::Result<()> {
    let client = &remote.client;
    match args.command.unwrap_or(WebhooksCommand::Sources) {
        WebhooksCommand::Sources => {
            let response = client.webhook_sources().await.context("cannot list the webhook sources")?;
            if remote.json {
                return output::json(&response);
            }
            if response.sources.is_empty() {
                eprintln!("no webhook sources: add a [webhooks.NAME] table or `rampart webhooks put NAME SPEC`");
                return Ok(());
            }
            sources_table(&response.sources).print()
        }
        WebhooksCommand::Source { name } => {
            let source = client.webhook_source(&name).await.with_context(|| format!("cannot show source `{name}`"))?;
            if remote.json {
                return output::json(&source);
            }
            output::print(&render_source(&source))
        }
        WebhooksCommand::Put { name, spec } => {
            let spec: serde_json::Value =
                serde_json::from_str(&spec).context("the spec is not JSON; write it like '{\"scheme\":\"github\"}'")?;
            let source =
                client.webhook_source_put(&name, &spec).await.with_context(|| format!("cannot put source `{name}`"))?;
            if remote.json {
                return output::json(&source);
            }
            output::line(&format!("source `{name}` ({}) takes requests at /in/{name}", source.scheme))
        }
        WebhooksCommand::Delete { name } => {
            client.webhook_source_delete(&name).await.with_context(|| format!("cannot delete source `{name}`"))?;
            output::line(&format!("source `{name}` deleted"))
        }
        WebhooksCommand::Deliveries { source, tenant, status, event_type, since, limit } => {
            let filters: Vec<(&str, String)> =
                [("source", source), ("tenant", tenant), ("status", status), ("type", event_type), ("since", since)]
                    .into_iter()
                    .filter_map(|(k, v)| v.map(|v| (k, v)))
                    .collect();
            let page = client.webhook_deliveries(&filters, Some(limit)).await.context("cannot list the deliveries")?;
            if remote.json {
                return output::json(&page);
            }
            if page.deliveries.is_empty() {
                eprintln!("no deliveries match");
                return Ok(());
            }
            deliveries_table(&page.deliveries).print()
        }
        WebhooksCommand::Show { id } => {
            let d = client.webhook_delivery(&id).await.with_context(|| format!("cannot show delivery {id}"))?;
            if remote.json {
                return output::json(&d);
            }
            let headers: Vec<String> = d.headers.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            let mut text = render_delivery(&d.delivery);
            text.push_str(&format!("\nheaders:\n  {}\n", headers.join("\n  ")));
            match &d.body {
                Some(body) => text.push_str(&format!("body ({}):\n{body}\n", d.body_encoding)),
                None => text.push_str("body: not kept\n"),
            }
            output::print(&text)
        }
        WebhooksCommand::Replay { id, source, tenant } => {
            let replayed = match (id, source) {
                (Some(id), _) => {
                    client.webhook_replay(&id).await.with_context(|| format!("cannot replay delivery {id}"))?
                }
                (None, Some(source)) => {
                    let source = SourceName::new(&source)?;
                    let request = WebhookReplayRequest { source: source.clone(), tenant };
                    client
                        .webhook_replay_all(&request)
                        .await
                        .with_context(|| format!("cannot replay the dead letters of `{source}`"))?
                }
                (None, None) => {
                    anyhow::bail!("name a delivery id, or --source to replay every dead letter of a source")
                }
            };
            if remote.json {
                return output::json(&replayed);
            }
            output::line(&format!("{} deliveries handed to their queue again", replayed.replayed))
        }
    }
}

fn sources_table(sources: &[WebhookSourceView]) -> output::Table {
    let mut table = output::Table::new(&["NAME", "SCHEME", "QUEUE", "ORIGIN", "SECRETS", "WINDOW", "URL"]);
    for s in sources {
        table.row(vec![
            s.name.to_string(),
            s.scheme.clone(),
            s.queue.to_string(),
            s.origin.clone(),
            s.secrets.len().to_string(),
            s.dedupe_window.to_string(),
            format!("/in/{}", s.name),
        ]);
    }
    table
}

fn render_source(s: &WebhookSourceView) -> String {
    let expiries: Vec<String> = s.secrets.iter().map(|x| output::or_dash(x.expires_at)).collect();
    output::fields(&[
        ("name", s.name.to_string()),
        ("intake", format!("POST /in/{}", s.name)),
        ("scheme", s.scheme.clone()),
        ("queue", s.queue.to_string()),
        ("origin", s.origin.clone()),
        ("event id", s.event_id.join(", ")),
        ("event type", output::or_dash(Some(s.event_type.join(", ")).filter(|x| !x.is_empty()))),
        ("tenant", output::or_dash(Some(s.tenant.join(", ")).filter(|x| !x.is_empty()))),
        ("tolerance", s.tolerance.to_string()),
        ("dedupe window", s.dedupe_window.to_string()),
        ("max body", format!("{} bytes", s.max_body_bytes)),
        ("secrets", format!("{} (expiring: {})", s.secrets.len(), expiries.join(", "))),
        ("public url", output::or_dash(s.public_url.as_deref())),
        ("rate limit", output::or_dash(s.ratelimit.as_deref())),
    ])
}

fn deliveries_table(deliveries: &[WebhookDeliveryView]) -> output::Table {
    let mut table = output::Table::new(&[
        "ID", "RECEIVED", "SOURCE", "TENANT", "TYPE", "EVENT", "STATUS", "ATTEMPTS", "JOB", "ERROR",
    ]);
    for d in deliveries {
        let error = d.last_error.as_deref().or(d.reason.as_deref()).unwrap_or("-");
        table.row(vec![
            d.id.to_string(),
            d.received_at.to_string(),
            d.source.to_string(),
            output::or_dash(d.tenant.as_deref()),
            output::or_dash(d.event_type.as_deref()),
            output::truncate(d.event_id.as_deref().unwrap_or("-"), 40),
            d.status.to_string(),
            d.attempts.to_string(),
            output::or_dash(d.job_id),
            output::truncate(error, 60),
        ]);
    }
    table
}

fn render_delivery(d: &WebhookDeliveryView) -> String {
    output::fields(&[
        ("id", d.id.to_string()),
        ("source", d.source.to_string()),
        ("received", d.received_at.to_string()),
        ("status", d.status.to_string()),
        ("event id", output::or_dash(d.event_id.as_deref())),
        ("event type", output::or_dash(d.event_type.as_deref())),
        ("tenant", output::or_dash(d.tenant.as_deref())),
        ("job", output::or_dash(d.job_id)),
        ("attempts", d.attempts.to_string()),
        ("last attempt", output::or_dash(d.last_attempt_at)),
        ("completed", output::or_dash(d.completed_at)),
        ("last error", output::or_dash(d.last_error.as_deref())),
        ("reason", output::or_dash(d.reason.as_deref())),
        ("duplicate of", output::or_dash(d.duplicate_of)),
        ("body", format!("{} bytes, sha256 {}", d.body_size, d.body_sha256)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(argv: &[&str]) -> Result<Option<WebhooksCommand>, clap::Error> {
        crate::cli::parse_args::<Args>("webhooks", argv).map(|a| a.command)
    }

    #[test]
    fn the_subcommands_parse() {
        assert!(matches!(parse(&[]), Ok(None)));
        assert!(matches!(
            parse(&["deliveries", "--status", "dead_letter"]),
            Ok(Some(WebhooksCommand::Deliveries { limit: 50, .. }))
        ));
        assert!(matches!(parse(&["replay", "12"]), Ok(Some(WebhooksCommand::Replay { .. }))));
        assert!(matches!(
            parse(&["replay", "--source", "stripe", "--tenant", "acme"]),
            Ok(Some(WebhooksCommand::Replay { .. }))
        ));
        assert!(parse(&["replay", "--tenant", "acme"]).is_err(), "--tenant needs --source");
        assert!(parse(&["put", "gh"]).is_err(), "put needs a spec");
    }
}
