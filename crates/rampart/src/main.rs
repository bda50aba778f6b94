//! `rampart`: the server and its command-line client in one binary.
//!
//! This file only parses the command line and hands each command to its
//! module under [`cli`]; errors come back here to be printed as one line
//! with the exit code they call for (1 at run time, 2 for usage and
//! configuration mistakes).

mod cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::cli::{GlobalArgs, Remote};

/// Production safeguards in one server: durable jobs with retries and dead
/// letters, and the tools to look after them.
#[derive(Debug, Parser)]
#[command(name = "rampart", version, propagate_version = true, arg_required_else_help = true)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve(cli::serve::Args),
    /// Check the server's configuration.
    Config(cli::config::Args),
    /// Bring the store's schema up to date without starting the server.
    Migrate(cli::migrate::Args),
    /// Add a job to a queue.
    Enqueue(cli::enqueue::Args),
    /// Look at, retry and cancel jobs.
    Jobs(cli::jobs::Args),
    /// List queues, show one, pause or resume one.
    Queues(cli::queues::Args),
    /// List, retry and purge a queue's dead jobs.
    Dlq(cli::dlq::Args),
    /// Create, list and revoke API keys.
    Keys(cli::keys::Args),
    /// Save an API key for --url, so every command finds it from any directory.
    Login(cli::login::LoginArgs),
    /// Forget the API key saved for --url.
    Logout,
    /// List rate-limit policies, check one, look at or reset a key, define or delete a policy.
    Ratelimit(cli::ratelimit::Args),
    /// List circuit breakers, show one with its transitions, reset one.
    Breakers(cli::breakers::Args),
    /// List cron schedules, show one and its runs, trigger, pause or resume one.
    Cron(cli::cron::Args),
    /// Run a shell command for every job of a queue.
    Work(cli::work::Args),
    /// Show the system's health and every queue's metrics, or one queue's history.
    Monitor(cli::monitor::Args),
    /// List, show and acknowledge alerts, silence them, test the channels.
    Alerts(cli::alerts::Args),
    /// Show the admin diagnostics: background jobs and loops, integrations.
    Diag(cli::diag::Args),
    /// Look at webhook sources and the delivery log; replay dead letters.
    Webhooks(cli::webhooks::Args),
    /// AI usage totals and budgets; define or delete a budget.
    Usage(cli::usage::Args),
    /// List the caches apps report, or show one with its counts and evictions.
    Caches(cli::caches::Args),
    /// List the error events apps report, or their counts per kind and fingerprint.
    Errors(cli::errors::Args),
    /// Measure a running server's throughput and latency.
    Bench(cli::bench::Args),
    /// Check a deployment before launch: PASS / WARN / FAIL per check; exit 1 on any FAIL.
    Doctor(cli::doctor::Args),
    /// Run recovery scenarios (worker crash, retry policy, queue metrics, monitoring, restart, store cut, push target) on a throw-away queue; exit 1 unless all that ran pass.
    Chaos(cli::chaos::Args),
    /// Check an app's environment variables against a schema, or write its .env.example.
    Env(cli::env::Args),
    /// Print the API's OpenAPI 3.1 document (as `GET /openapi.json` serves it).
    Openapi(cli::openapi::Args),
}

/// mimalloc rather than the system allocator: a request allocates and frees
/// dozens of small buffers, and glibc's malloc was a tenth of the server's
/// time under load (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => cli::report(&err),
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let global = cli.global;
    match cli.command {
        Command::Serve(args) => cli::serve::run(args).await,
        Command::Config(args) => cli::config::run(args, global.json),
        Command::Migrate(args) => cli::migrate::run(args, global.json).await,
        Command::Enqueue(args) => cli::enqueue::run(args, &Remote::connect(&global)?).await,
        Command::Jobs(args) => cli::jobs::run(args, &Remote::connect(&global)?).await,
        Command::Queues(args) => cli::queues::run(args, &Remote::connect(&global)?).await,
        Command::Ratelimit(args) => cli::ratelimit::run(args, &Remote::connect(&global)?).await,
        Command::Dlq(args) => cli::dlq::run(args, &Remote::connect(&global)?).await,
        Command::Keys(args) => cli::keys::run(args, &Remote::connect(&global)?).await,
        Command::Login(args) => cli::login::login(args, &global).await,
        Command::Logout => cli::login::logout(&global),
        Command::Breakers(args) => cli::breakers::run(args, &Remote::connect(&global)?).await,
        Command::Cron(args) => cli::cron::run(args, &Remote::connect(&global)?).await,
        Command::Work(args) => cli::work::run(args, &Remote::connect(&global)?).await,
        Command::Monitor(args) => cli::monitor::run(args, &Remote::connect(&global)?).await,
        Command::Alerts(args) => cli::alerts::run(args, &Remote::connect(&global)?).await,
        Command::Diag(args) => cli::diag::run(args, &Remote::connect(&global)?).await,
        Command::Webhooks(args) => cli::webhooks::run(args, &Remote::connect(&global)?).await,
        Command::Usage(args) => cli::usage::run(args, &Remote::connect(&global)?).await,
        Command::Caches(args) => cli::caches::run(args, &Remote::connect(&global)?).await,
        Command::Errors(args) => cli::errors::run(args, &Remote::connect(&global)?).await,
        Command::Bench(args) => cli::bench::run(args, Remote::connect(&global)?.client).await,
        Command::Openapi(args) => cli::openapi::run(args),
        Command::Doctor(args) => cli::doctor::run(args, &Remote::connect(&global)?, &global.url).await,
        Command::Chaos(args) => cli::chaos::run(args, &Remote::connect(&global)?, &global.url).await,
        Command::Env(args) => cli::env::run(args, global.json),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(argv: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("rampart").chain(argv.iter().copied()))
    }

    #[test]
    fn the_command_tree_is_consistent() {
        use clap::CommandFactory as _;
        Cli::command().debug_assert();
    }

    #[test]
    fn global_options_go_anywhere() {
        let cli = parse(&["queues", "--json", "--url", "http://10.0.0.1:1", "--api-key", "k"]).expect("parses");
        assert!(cli.global.json);
        assert_eq!(cli.global.url, "http://10.0.0.1:1");
        assert_eq!(cli.global.api_key.as_deref(), Some("k"));
        let cli = parse(&["--json", "jobs", "show", "1"]).expect("parses");
        assert!(cli.global.json);
        assert!(matches!(cli.command, Command::Jobs(_)));
    }

    #[test]
    fn usage_mistakes_are_clap_errors() {
        assert!(parse(&[]).is_err());
        assert!(parse(&["frobnicate"]).is_err());
        assert!(parse(&["enqueue"]).is_err());
        assert!(matches!(parse(&["config", "check"]).map(|c| c.command), Ok(Command::Config(_))));
        assert!(matches!(parse(&["serve", "--listen", "127.0.0.1:0"]).map(|c| c.command), Ok(Command::Serve(_))));
        assert!(matches!(parse(&["migrate", "--json"]).map(|c| c.command), Ok(Command::Migrate(_))));
        assert!(parse(&["migrate", "--listen", "127.0.0.1:0"]).is_err());
    }
}
