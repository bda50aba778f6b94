//! `rampart chaos`: recovery scenarios against a deployment, on a throw-away
//! queue, as a table (`SCENARIO · RESULT · DURATION · DETAIL`) with the score
//! and the verdict, or `--json`; exit 1 unless every scenario that ran
//! passes. The scenarios themselves are `rampart-chaos`'s.

use std::time::Duration;

use rampart_chaos::restart::ServerProcess;
use rampart_chaos::scenario::WorkerCommand;
use rampart_chaos::{Backoff, ChaosReport, Options, SCENARIOS};
use rampart_core::duration::HumanDuration;

use crate::cli::Remote;
use crate::cli::output::{self, Table};

/// Options of `rampart chaos`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Run only this scenario (repeat for more) [default: all].
    #[arg(long, value_parser = SCENARIOS)]
    pub scenario: Vec<String>,
    /// The retry policy's first wait, as the server's [queue_defaults.backoff] sets it
    /// (the API does not show it; `retry_policy` measures against this).
    #[arg(long, default_value = "1s")]
    pub backoff_initial: HumanDuration,
    /// The retry policy's multiplier ([queue_defaults.backoff] factor).
    #[arg(long, default_value_t = 2.0)]
    pub backoff_factor: f64,
    /// The retry policy's longest wait ([queue_defaults.backoff] max).
    #[arg(long, default_value = "1h")]
    pub backoff_max: HumanDuration,
    /// The retry policy's jitter ([queue_defaults.backoff] jitter).
    #[arg(long, default_value_t = 0.2)]
    pub backoff_jitter: f64,
    /// In `worker_crash`, lease the jobs in this process and drop the leases,
    /// instead of starting `rampart work` and killing it with SIGKILL.
    #[arg(long)]
    pub crash_in_process: bool,
    /// Let `restart` SIGKILL the server beside this command (the one whose
    /// `rampart.pid` is in RAMPART_DATA_DIR) and start it again as it was.
    #[arg(long)]
    pub allow_restart: bool,
    /// The PostgreSQL server `store_cut` creates a throw-away database on, for
    /// a throw-away node it reaches through a proxy it cuts [default: skipped].
    #[arg(long, value_name = "URL")]
    pub store_url: Option<String>,
    /// The throw-away queue's name [default: chaos-PID-N]; it must hold no other work.
    #[arg(long)]
    pub queue: Option<String>,
    /// How long a scenario waits for something to happen before it fails.
    #[arg(long, default_value = "2m")]
    pub patience: HumanDuration,
}

impl Args {
    fn options(&self, worker: Option<WorkerCommand>, restart: Result<ServerProcess, String>) -> Options {
        let scenarios = if self.scenario.is_empty() {
            SCENARIOS.iter().map(ToString::to_string).collect()
        } else {
            self.scenario.clone()
        };
        let backoff = Backoff {
            initial: Duration::from(self.backoff_initial),
            factor: self.backoff_factor,
            max: Duration::from(self.backoff_max),
            jitter: self.backoff_jitter,
        };
        let program = worker.as_ref().map(|w| w.program.clone());
        Options {
            scenarios,
            backoff,
            worker: worker.filter(|_| !self.crash_in_process),
            queue: self.queue.clone(),
            patience: Duration::from(self.patience),
            restart: if self.allow_restart {
                restart
            } else {
                Err("needs --allow-restart (it SIGKILLs the server beside this command and starts it again)".into())
            },
            store_url: self.store_url.clone(),
            program,
        }
    }
}

/// Runs `rampart chaos`.
pub async fn run(args: Args, remote: &Remote, url: &str) -> anyhow::Result<()> {
    let program = std::env::current_exe()?;
    let worker = WorkerCommand {
        program,
        args: vec!["--url".into(), url.into()],
        env: remote.key.iter().map(|k| ("RAMPART_API_KEY".to_string(), k.clone())).collect(),
    };
    let data_dir = crate::cli::admin_key_file().parent().map(std::path::Path::to_path_buf).unwrap_or_default();
    let restart = ServerProcess::find(&data_dir, url);
    let report = rampart_chaos::run(&remote.client, &args.options(Some(worker), restart)).await;
    if remote.json {
        output::json(&report)?;
    } else {
        output::print(&render(&report))?;
    }
    if report.ok {
        Ok(())
    } else {
        let n = report.total - report.passed;
        anyhow::bail!("{n} of {} scenario{} failed", report.total, if report.total == 1 { "" } else { "s" })
    }
}

/// The report as a table with the score and the verdict.
fn render(report: &ChaosReport) -> String {
    let mut table = Table::new(&["SCENARIO", "RESULT", "DURATION", "DETAIL"]);
    for r in &report.scenarios {
        table.row(vec![
            r.scenario.clone(),
            r.result.to_uppercase(),
            format!("{:.1}s", r.duration_ms / 1000.0),
            r.detail.clone(),
        ]);
    }
    let mut out = table.render();
    let skipped = report.scenarios.len() - report.total;
    let skipped = if skipped > 0 { format!(" ({skipped} skipped)") } else { String::new() };
    out.push_str(&format!(
        "\nqueue {}: {}/{} {}{skipped}\n",
        report.queue, report.passed, report.total, report.verdict
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_shows_each_scenario_the_score_and_the_verdict() {
        let report = rampart_chaos::tally(
            "chaos-1-2",
            vec![
                rampart_chaos::row("worker_crash", Ok("10/10 recovered".into()), Duration::from_millis(3400)),
                rampart_chaos::row(
                    "monitoring",
                    Err("/health/ready answers not_ready".into()),
                    Duration::from_millis(20),
                ),
            ],
        );
        let expected = "\
SCENARIO      RESULT  DURATION  DETAIL
worker_crash  PASS    3.4s      10/10 recovered
monitoring    FAIL    0.0s      /health/ready answers not_ready

queue chaos-1-2: 1/2 review
";
        assert_eq!(render(&report), expected);
    }

    #[test]
    fn the_options_parse() {
        let args: Args = crate::cli::parse_args("chaos", &["--scenario", "retry_policy", "--backoff-initial", "200ms"])
            .expect("parses");
        let options = args.options(None, Err("no server".into()));
        assert_eq!(options.scenarios, ["retry_policy"]);
        assert_eq!(options.backoff.initial, Duration::from_millis(200));
        assert_eq!(options.backoff.factor, 2.0);
        assert!(options.restart.expect_err("no --allow-restart").contains("needs --allow-restart"));
        assert!(crate::cli::parse_args::<Args>("chaos", &["--scenario", "reboot"]).is_err());
        let all: Args = crate::cli::parse_args("chaos", &["--allow-restart"]).expect("parses");
        let options = all.options(None, Err("no pid file".into()));
        assert_eq!((options.scenarios.len(), options.restart), (7, Err("no pid file".into())));
    }
}
