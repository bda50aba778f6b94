//! `rampart env check` and `rampart env example`: an app's environment
//! checked against its schema (the logic is `rampart-env`; this reads the
//! files and the process environment, prints, and picks the exit code).
//!
//! `check` exits 0 when every variable is good and 2 with the list of every
//! problem otherwise (a value is never shown when its variable is secret).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use rampart_env::{Report, Schema, dotenv};
use serde::Serialize;

use crate::cli::UsageError;
use crate::cli::output::{self, Table};

/// Options of `rampart env`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: EnvCommand,
}

/// The subcommands of `rampart env`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum EnvCommand {
    /// Check the process environment, or a dotenv file, against a schema; exit 2 listing every problem.
    Check {
        /// The schema: `[vars.NAME]` tables (see the README's "Checking an app's environment").
        #[arg(long, value_name = "FILE")]
        schema: PathBuf,
        /// Check this dotenv file instead of the process environment.
        #[arg(long, value_name = "FILE")]
        env_file: Option<PathBuf>,
    },
    /// Print the `.env.example` the schema describes, or write it with `--output`.
    Example {
        /// The schema.
        #[arg(long, value_name = "FILE")]
        schema: PathBuf,
        /// Write the example to this file instead of stdout.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

/// What `rampart env check --json` prints.
#[derive(Debug, Serialize)]
struct CheckOutput<'a> {
    ok: bool,
    source: String,
    #[serde(flatten)]
    report: &'a Report,
}

/// Runs a `rampart env` subcommand.
pub fn run(args: Args, json: bool) -> anyhow::Result<()> {
    match args.command {
        EnvCommand::Check { schema, env_file } => {
            let schema = read_schema(&schema)?;
            let (source, env, from_file) = match &env_file {
                Some(path) => (path.display().to_string(), read_env_file(path)?, true),
                None => ("the process environment".to_string(), process_env(), false),
            };
            let mut report = rampart_env::check(&schema, &env);
            if from_file {
                report.unknown = rampart_env::check::unknown(&schema, &env);
            }
            print_report(&report, &source, json)?;
            if report.ok() {
                Ok(())
            } else {
                let n = report.problems.len();
                Err(UsageError(format!("{n} problem{} in {source}", if n == 1 { "" } else { "s" })).into())
            }
        }
        EnvCommand::Example { schema, output: path } => {
            let text = rampart_env::example::render(&read_schema(&schema)?);
            match path {
                Some(path) => {
                    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
                    eprintln!("wrote {}", path.display());
                    Ok(())
                }
                None => output::print(&text),
            }
        }
    }
}

/// Reads and checks the schema; its mistakes are a usage error (exit 2).
fn read_schema(path: &Path) -> anyhow::Result<Schema> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the schema {}", path.display()))?;
    Schema::parse(&text).map_err(|e| UsageError(format!("the schema {} has mistakes: {e}", path.display())).into())
}

/// Reads a dotenv file; its bad lines are a usage error (exit 2).
fn read_env_file(path: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    dotenv::parse(&text).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        UsageError(format!("{} cannot be read: {}", path.display(), lines.join("; "))).into()
    })
}

/// The process environment; a variable whose name or value is not UTF-8 is
/// kept with its text made valid, so it is checked rather than missed.
fn process_env() -> BTreeMap<String, String> {
    std::env::vars_os().map(|(k, v)| (k.to_string_lossy().into_owned(), v.to_string_lossy().into_owned())).collect()
}

/// Prints the report as a table (or JSON); problems go to stdout so a
/// deploy log shows them.
fn print_report(report: &Report, source: &str, json: bool) -> anyhow::Result<()> {
    if json {
        return output::json(&CheckOutput { ok: report.ok(), source: source.to_string(), report });
    }
    if report.ok() {
        output::line(&format!("ok: {} variables checked in {source}", report.checked))?;
    } else {
        let mut table = Table::new(&["VARIABLE", "PROBLEM", "DETAIL"]);
        for problem in &report.problems {
            table.row(vec![problem.var.clone(), problem.code.to_string(), problem.message.clone()]);
        }
        table.print()?;
    }
    if !report.unknown.is_empty() {
        eprintln!("note: not in the schema: {}", report.unknown.join(", "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commands_parse() {
        let args: Args =
            crate::cli::parse_args("env", &["check", "--schema", "env.toml", "--env-file", ".env"]).expect("parses");
        assert!(matches!(args.command, EnvCommand::Check { env_file: Some(_), .. }));
        let args: Args =
            crate::cli::parse_args("env", &["example", "--schema", "env.toml", "-o", "x"]).expect("parses");
        assert!(matches!(args.command, EnvCommand::Example { output: Some(_), .. }));
        assert!(crate::cli::parse_args::<Args>("env", &["check"]).is_err());
    }
}
