//! `rampart diag`: the admin diagnostics as tables (or `--json`): what runs
//! in the background, and how the app's integrations stand.

use anyhow::Context as _;
use rampart_client::wire::{
    BackgroundJobsDiagnostics, BreakerView, IntegrationView, IntegrationsDiagnostics, PushTargetView,
};

use crate::cli::{Remote, output};

/// Longest error shown in a table cell; `--json` has them whole.
const ERROR_WIDTH: usize = 60;

/// Options of `rampart diag`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// What to show [default: background-jobs].
    #[command(subcommand)]
    pub command: Option<DiagCommand>,
}

/// The subcommands of `rampart diag`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum DiagCommand {
    /// The store, Redis, queues, background loops and cron schedules.
    BackgroundJobs,
    /// Connections per platform, expiring tokens, push targets and breakers.
    Integrations,
}

/// Runs a `rampart diag` subcommand.
pub async fn run(args: Args, remote: &Remote) -> anyhow::Result<()> {
    match args.command.unwrap_or(DiagCommand::BackgroundJobs) {
        DiagCommand::BackgroundJobs => {
            let d = remote.client.diagnostics_background_jobs().await.context("cannot read the diagnostics")?;
            if remote.json {
                return output::json(&d);
            }
            output::print(&render_background_jobs(&d))
        }
        DiagCommand::Integrations => {
            let d = remote.client.diagnostics_integrations().await.context("cannot read the diagnostics")?;
            if remote.json {
                return output::json(&d);
            }
            output::print(&render_integrations(&d))
        }
    }
}

fn error_cell(error: Option<&str>) -> String {
    error.map_or_else(|| "-".to_string(), |e| output::truncate(e, ERROR_WIDTH))
}

fn render_background_jobs(d: &BackgroundJobsDiagnostics) -> String {
    let store = match (&d.store.latency_ms, &d.store.error) {
        (Some(ms), _) => format!("{} {} ({ms}ms)", d.store.backend, d.store.status),
        (None, error) => format!("{} {}: {}", d.store.backend, d.store.status, output::or_dash(error.as_deref())),
    };
    let redis = match &d.redis {
        None => "not configured".to_string(),
        Some(r) if r.status == "up" => "up".to_string(),
        Some(r) => format!("down: {}", output::or_dash(r.last_error.as_deref())),
    };
    let mut out = output::fields(&[("store", store), ("redis", redis), ("memory", output::memory(&d.memory))]);

    let mut loops = output::Table::new(&["LOOP", "STATUS", "LAST RUN", "RUNS", "FAILURES", "LAST ERROR"]);
    for l in &d.loops {
        loops.row(vec![
            l.name.clone(),
            l.status.clone(),
            output::or_dash(l.last_run_at.as_deref()),
            l.runs.to_string(),
            l.failures.to_string(),
            error_cell(l.last_error.as_deref()),
        ]);
    }
    out.push('\n');
    out.push_str(&loops.render());

    let mut queues = output::Table::new(&["QUEUE", "PAUSED", "SCHEDULED", "AVAILABLE", "ACTIVE", "DEAD"]);
    for q in &d.queues {
        let c = &q.counts;
        queues.row(vec![
            q.name.to_string(),
            if q.paused { "yes" } else { "no" }.to_string(),
            c.scheduled.to_string(),
            c.available.to_string(),
            c.active.to_string(),
            c.dead.to_string(),
        ]);
    }
    out.push('\n');
    if queues.is_empty() {
        out.push_str("no queues yet\n");
    } else {
        out.push_str(&queues.render());
    }

    let mut cron = output::Table::new(&["SCHEDULE", "CRON", "LAST RUN", "STATUS", "ERROR"]);
    for c in &d.cron {
        let run = c.last_run.as_ref();
        cron.row(vec![
            c.name.clone(),
            c.schedule.clone(),
            output::or_dash(run.map(|r| r.enqueued_at)),
            output::or_dash(run.map(|r| r.status.as_str())),
            error_cell(run.and_then(|r| r.error.as_deref())),
        ]);
    }
    if !cron.is_empty() {
        out.push('\n');
        out.push_str(&cron.render());
    }

    let mut rates = output::Table::new(&["QUEUE", "START RATE"]);
    for q in &d.queues {
        if let Some(rate) = &q.rate {
            rates.row(vec![q.name.to_string(), super::queues::rate_line(rate)]);
        }
    }
    if !rates.is_empty() {
        out.push_str("\nstart rates\n");
        out.push_str(&rates.render());
    }

    let mut tenants = output::Table::new(&["QUEUE", "TENANT", "DEAD"]);
    for t in &d.dead_tenants {
        tenants.row(vec![t.queue.clone(), t.tenant.clone(), t.dead.to_string()]);
    }
    if !tenants.is_empty() {
        out.push_str("\ndead jobs by tenant\n");
        out.push_str(&tenants.render());
    }
    if let Some(r) = &d.reported {
        let breaching = if r.caches_breaching.is_empty() { "none".to_string() } else { r.caches_breaching.join(", ") };
        out.push_str(&format!(
            "\napps report: {} cache(s), breaching: {breaching}; {} error event(s) in the last hour, {} critical\n",
            r.caches, r.errors_last_hour, r.critical_last_hour
        ));
        let exhausted =
            if r.budgets_exhausted.is_empty() { "none".to_string() } else { r.budgets_exhausted.join(", ") };
        out.push_str(&format!(
            "AI usage: {} call(s) in the last hour, {} failed, ${:.2}; {} budget(s), exhausted: {exhausted}\n",
            r.usage_calls_last_hour, r.usage_failures_last_hour, r.usage_cost_usd_last_hour, r.budgets
        ));
    }
    out
}

fn connections_table(connections: &[&IntegrationView]) -> output::Table {
    let mut table =
        output::Table::new(&["PLATFORM", "CONNECTION", "STATUS", "LAST SYNC", "TOKEN EXPIRES", "LAST ERROR"]);
    for c in connections {
        table.row(vec![
            c.platform.clone(),
            c.id.clone(),
            c.status.clone(),
            output::or_dash(c.last_synced_at),
            output::or_dash(c.token_expires_at),
            error_cell(c.last_error.as_deref()),
        ]);
    }
    table
}

fn push_table(targets: &[PushTargetView]) -> output::Table {
    let mut table = output::Table::new(&[
        "QUEUE",
        "TARGET",
        "STATE",
        "LAST SUCCESS",
        "LAST FAILURE",
        "LAST OPENED",
        "WHY",
        "RECOVERED",
    ]);
    for t in targets {
        table.row(vec![
            t.queue.clone(),
            t.target.clone(),
            t.state.clone(),
            output::or_dash(t.last_success_at.as_deref()),
            output::or_dash(t.last_failure_at.as_deref()),
            output::or_dash(t.last_error_at.as_deref()),
            error_cell(t.last_error.as_deref()),
            output::or_dash(t.last_recovered_at.as_deref()),
        ]);
    }
    table
}

fn breakers_table(breakers: &[BreakerView]) -> output::Table {
    let mut table = output::Table::new(&["BREAKER", "SCOPE", "STATE", "SINCE", "FAILURES IN A ROW"]);
    for b in breakers {
        table.row(vec![
            b.name.clone(),
            b.scope.clone(),
            b.state.clone(),
            output::or_dash(b.since),
            b.consecutive_failures.to_string(),
        ]);
    }
    table
}

fn render_integrations(d: &IntegrationsDiagnostics) -> String {
    let mut platforms = output::Table::new(&["PLATFORM", "TOTAL", "CONNECTED", "ERROR", "EXPIRED"]);
    for p in &d.platforms {
        platforms.row(vec![
            p.platform.clone(),
            p.total.to_string(),
            p.connected.to_string(),
            p.error.to_string(),
            p.expired.to_string(),
        ]);
    }
    if platforms.is_empty() {
        return "no integrations reported yet: apps report them with PUT /v1/integrations/{platform}/connections/{id}\n"
            .to_string();
    }
    let mut out = platforms.render();
    let recent: Vec<&IntegrationView> = d.platforms.iter().flat_map(|p| &p.recent).collect();
    out.push_str("\nmost recent connections\n");
    out.push_str(&connections_table(&recent).render());
    out.push_str(&format!("\ntokens expiring within {}\n", d.token_expiry_horizon));
    if d.expiring.is_empty() {
        out.push_str("none\n");
    } else {
        out.push_str(&connections_table(&d.expiring.iter().collect::<Vec<_>>()).render());
    }
    if !d.push_targets.is_empty() {
        out.push_str("\npush targets\n");
        out.push_str(&push_table(&d.push_targets).render());
    }
    if !d.breakers.is_empty() {
        out.push_str("\nbreakers\n");
        out.push_str(&breakers_table(&d.breakers).render());
    }
    out
}

#[cfg(test)]
mod tests {
    use rampart_client::wire::PlatformDiagnostics;

    use super::*;

    fn parse(argv: &[&str]) -> Result<Option<DiagCommand>, clap::Error> {
        crate::cli::parse_args::<Args>("diag", argv).map(|a| a.command)
    }

    #[test]
    fn bare_diag_shows_the_background_jobs() {
        assert!(matches!(parse(&[]), Ok(None)));
        assert!(matches!(parse(&["background-jobs"]), Ok(Some(DiagCommand::BackgroundJobs))));
        assert!(matches!(parse(&["integrations"]), Ok(Some(DiagCommand::Integrations))));
        assert!(parse(&["nope"]).is_err());
    }

    fn connection(platform: &str, id: &str, error: Option<&str>) -> IntegrationView {
        IntegrationView {
            platform: platform.into(),
            id: id.into(),
            status: if error.is_some() { "error" } else { "connected" }.into(),
            last_synced_at: Some("2026-12-04T08:00:00Z".parse().unwrap()),
            last_error: error.map(Into::into),
            last_error_at: None,
            token_expires_at: None,
            reported_by: "app".into(),
            created_at: "2026-12-01T00:00:00Z".parse().unwrap(),
            updated_at: "2026-12-04T08:00:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn integrations_show_platforms_connections_and_expiring_tokens() {
        let d = IntegrationsDiagnostics {
            platforms: vec![PlatformDiagnostics {
                platform: "gmail".into(),
                total: 2,
                connected: 1,
                error: 1,
                expired: 0,
                recent: vec![connection("gmail", "a", None), connection("gmail", "b", Some("invalid_grant"))],
            }],
            expiring: vec![],
            token_expiry_horizon: "7d".into(),
            push_targets: vec![PushTargetView {
                queue: "hooks".into(),
                target: "https://app.example/jobs".into(),
                breaker: "push:app.example:443".into(),
                state: "open".into(),
                last_error_at: Some("2026-12-04T08:00:00Z".parse().unwrap()),
                last_error: Some("5 consecutive failures".into()),
                last_recovered_at: None,
                last_success_at: Some("2026-12-04T07:59:00Z".parse().unwrap()),
                last_failure_at: Some("2026-12-04T08:00:00Z".parse().unwrap()),
            }],
            breakers: vec![],
        };
        let text = render_integrations(&d);
        assert!(
            text.starts_with("PLATFORM  TOTAL  CONNECTED  ERROR  EXPIRED\ngmail     2      1          1      0\n"),
            "{text}"
        );
        assert!(text.contains("gmail     b           error"), "{text}");
        assert!(text.contains("invalid_grant"), "{text}");
        assert!(text.contains("tokens expiring within 7d\nnone\n"), "{text}");
        assert!(text.contains("\npush targets\nQUEUE  TARGET"), "{text}");
        assert!(text.contains("5 consecutive failures"), "{text}");
        assert!(!text.contains("breakers"), "{text}");
    }
}
