//! `rampart doctor`: a deployment's launch checklist as a table
//! (`CHECK · STATUS · DURATION · DETAIL`) or `--json`, exiting 1 when a
//! check fails.
//!
//! It asks the server whether it answers at all (`GET /health`), then for
//! its checks (`GET /v1/admin/doctor`, admin key: the server checks its
//! store, loops, cron, push targets, dead letters, its listener, admin key
//! file and data directory), and with `--send-test` sends a test alert to
//! every channel. The checks themselves are `rampart-doctor`'s.

use std::time::Instant;

use rampart_client::wire::DoctorReport;
use rampart_doctor::{check, tally};

use crate::cli::Remote;
use crate::cli::output::{self, Table};

/// Options of `rampart doctor`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Also send a test alert to every channel (fails when a channel refuses it).
    #[arg(long)]
    pub send_test: bool,
}

/// Runs `rampart doctor`.
pub async fn run(args: Args, remote: &Remote, url: &str) -> anyhow::Result<()> {
    let report = examine(&args, remote, url).await;
    if remote.json {
        output::json(&report)?;
    } else {
        output::print(&render(&report))?;
    }
    if report.ok {
        Ok(())
    } else {
        let n = report.failed;
        anyhow::bail!("{n} check{} failed", if n == 1 { "" } else { "s" })
    }
}

/// Every check's row: reachability, the server's checks, the test alert.
async fn examine(args: &Args, remote: &Remote, url: &str) -> DoctorReport {
    let client = &remote.client;
    let started = Instant::now();
    let health = client.health().await;
    let answer = health.as_ref().map(|h| h.version.as_str()).map_err(ToString::to_string);
    let mut rows = vec![check(rampart_doctor::reachable(url, answer), started.elapsed())];
    if health.is_err() {
        return tally(rows);
    }
    let started = Instant::now();
    match client.doctor().await {
        Ok(report) => rows.extend(report.checks),
        Err(e) => rows.push(check(rampart_doctor::unavailable("doctor", &e), started.elapsed())),
    }
    if args.send_test {
        let started = Instant::now();
        let finding = match client.alert_test().await {
            Ok(answer) => {
                let refused: Vec<(String, String)> = answer
                    .channels
                    .iter()
                    .filter(|c| !c.ok)
                    .map(|c| (c.name.clone(), c.error.clone().unwrap_or_else(|| "refused".into())))
                    .collect();
                rampart_doctor::alert_test(answer.channels.len() - refused.len(), &refused)
            }
            Err(e) => rampart_doctor::unavailable("alerts.test", &e),
        };
        rows.push(check(finding, started.elapsed()));
    }
    tally(rows)
}

/// The report as a table with a summary line.
fn render(report: &DoctorReport) -> String {
    let mut table = Table::new(&["CHECK", "STATUS", "DURATION", "DETAIL"]);
    for c in &report.checks {
        table.row(vec![c.name.clone(), c.status.to_uppercase(), format!("{:.1}ms", c.duration_ms), c.detail.clone()]);
    }
    let mut out = table.render();
    out.push_str(&format!(
        "\n{} checks: {} passed, {} warned, {} failed\n",
        report.checks.len(),
        report.passed,
        report.warned,
        report.failed
    ));
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_table_shows_each_check_and_a_summary() {
        let report = tally(vec![
            check(rampart_doctor::sentry(true), Duration::from_micros(300)),
            check(rampart_doctor::readiness("not_ready"), Duration::from_millis(12)),
        ]);
        let expected = "\
CHECK   STATUS  DURATION  DETAIL
sentry  PASS    0.3ms     a DSN is set: internal errors are reported
ready   FAIL    12.0ms    /health/ready answers not_ready

2 checks: 1 passed, 0 warned, 1 failed
";
        assert_eq!(render(&report), expected);
    }

    #[test]
    fn the_options_parse() {
        let args: Args = crate::cli::parse_args("doctor", &["--send-test"]).expect("parses");
        assert!(args.send_test);
    }
}
