//! `rampart enqueue`: adds one job to a queue.
//!
//! The payload is checked to be JSON here, so a typo is reported before
//! anything is sent; durations and times are checked the same way.

use std::io::Read as _;
use std::path::PathBuf;

use anyhow::Context as _;
use rampart_client::wire::EnqueueRequest;
use rampart_core::duration::HumanDuration;
use rampart_core::id::QueueName;
use rampart_core::time::UnixMillis;
use serde_json::value::RawValue;

use crate::cli::{Remote, UsageError, output};

/// Options of `rampart enqueue`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The queue to add the job to.
    pub queue: QueueName,
    /// The job's payload, any JSON value.
    #[arg(long, default_value = "{}", value_parser = json_arg, conflicts_with = "payload_file")]
    pub payload: Box<RawValue>,
    /// Read the payload from this file (`-` for standard input).
    #[arg(long, value_name = "PATH|-")]
    pub payload_file: Option<PathBuf>,
    /// Run the job after this long (e.g. 30s, 5m, 1h30m).
    #[arg(long, value_parser = duration_arg, conflicts_with = "run_at")]
    pub delay: Option<HumanDuration>,
    /// Run the job at this RFC 3339 time (e.g. 2026-01-31T12:00:00Z).
    #[arg(long, value_parser = time_arg)]
    pub run_at: Option<UnixMillis>,
    /// Higher runs first [default: 0].
    #[arg(long, allow_negative_numbers = true)]
    pub priority: Option<i32>,
    /// Attempts before the job is dead [default: the queue's].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_attempts: Option<u32>,
    /// How long one attempt may run [default: the queue's].
    #[arg(long, value_parser = duration_arg)]
    pub timeout: Option<HumanDuration>,
    /// While a live job of the queue has this key, return it instead of adding another.
    #[arg(long)]
    pub unique_key: Option<String>,
    /// The customer the job belongs to (shown with it, filterable, counted in dead jobs).
    #[arg(long)]
    pub tenant: Option<String>,
}

/// Enqueues the job and prints its id and state.
pub async fn run(args: Args, remote: &Remote) -> anyhow::Result<()> {
    let payload = match &args.payload_file {
        Some(path) => read_payload(path)?,
        None => args.payload,
    };
    let request = EnqueueRequest {
        delay: args.delay,
        run_at: args.run_at,
        priority: args.priority,
        max_attempts: args.max_attempts,
        timeout: args.timeout,
        unique_key: args.unique_key,
        tenant: args.tenant,
        ..EnqueueRequest::new(payload)
    };
    let queue = args.queue;
    let response = remote
        .client
        .enqueue(queue.as_str(), &request)
        .await
        .with_context(|| format!("cannot enqueue into queue `{queue}`"))?;
    if remote.json {
        output::json(&response)
    } else if response.duplicate {
        output::line(&format!("duplicate of {} ({})", response.id, response.state))
    } else {
        output::line(&format!("enqueued {} ({})", response.id, response.state))
    }
}

/// Reads and checks a payload file, or standard input for `-`.
fn read_payload(path: &std::path::Path) -> anyhow::Result<Box<RawValue>> {
    let (text, source) = if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).context("cannot read the payload from standard input")?;
        (text, "standard input".to_string())
    } else {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the payload file {}", path.display()))?;
        (text, path.display().to_string())
    };
    RawValue::from_string(text)
        .map_err(|e| UsageError(format!("the payload in {source} is not valid JSON: {e}")).into())
}

/// Checks that `--payload` is JSON.
fn json_arg(text: &str) -> Result<Box<RawValue>, String> {
    RawValue::from_string(text.to_string())
        .map_err(|e| format!("not valid JSON ({e}); write e.g. --payload '{{\"to\": \"ada@example.com\"}}'"))
}

/// Reads a duration option (`30s`).
fn duration_arg(text: &str) -> Result<HumanDuration, String> {
    text.parse().map_err(|e: rampart_core::duration::DurationError| e.to_string())
}

/// Reads an RFC 3339 time option.
fn time_arg(text: &str) -> Result<UnixMillis, String> {
    UnixMillis::parse_rfc3339(text.trim())
}

#[cfg(test)]
mod tests {

    use super::*;

    fn parse(argv: &[&str]) -> Result<Args, clap::Error> {
        crate::cli::parse_args::<Args>("enqueue", argv)
    }

    #[test]
    fn defaults_to_an_empty_object() {
        let args = parse(&["email-send"]).expect("parses");
        assert_eq!(args.queue.as_str(), "email-send");
        assert_eq!(args.payload.get(), "{}");
        assert!(args.delay.is_none() && args.priority.is_none() && args.payload_file.is_none());
    }

    #[test]
    fn takes_every_option() {
        let args = parse(&[
            "q",
            "--payload",
            r#"{"to":"a@b.c"}"#,
            "--delay",
            "30s",
            "--priority",
            "-5",
            "--max-attempts",
            "4",
            "--timeout",
            "1m",
            "--unique-key",
            "k1",
        ])
        .expect("parses");
        assert_eq!(args.payload.get(), r#"{"to":"a@b.c"}"#);
        assert_eq!(args.delay.map(|d| d.to_string()).as_deref(), Some("30s"));
        assert_eq!(args.priority, Some(-5));
        assert_eq!(args.max_attempts, Some(4));
        assert_eq!(args.timeout.map(|d| d.to_string()).as_deref(), Some("1m"));
        assert_eq!(args.unique_key.as_deref(), Some("k1"));
    }

    #[test]
    fn refuses_bad_input_with_a_reason() {
        let message = |argv: &[&str]| parse(argv).expect_err("refused").to_string();
        assert!(message(&["q", "--payload", "{to: 1}"]).contains("not valid JSON"));
        assert!(message(&["bad name"]).contains("not a queue name"));
        assert!(message(&["q", "--delay", "30"]).contains("unit"));
        assert!(message(&["q", "--run-at", "tomorrow"]).contains("RFC 3339"));
        assert!(message(&["q", "--max-attempts", "0"]).contains("0"));
        assert!(parse(&["q", "--delay", "1s", "--run-at", "2026-01-31T12:00:00Z"]).is_err());
        assert!(parse(&["q", "--payload", "1", "--payload-file", "-"]).is_err());
    }

    #[test]
    fn payload_files_must_hold_json() {
        let dir = tempfile::tempdir().expect("tempdir");
        let good = dir.path().join("good.json");
        std::fs::write(&good, "[1, 2]\n").expect("write");
        assert_eq!(read_payload(&good).expect("json").get().trim(), "[1, 2]");
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "{oops").expect("write");
        let err = read_payload(&bad).expect_err("not json");
        assert!(err.downcast_ref::<UsageError>().is_some());
        assert!(err.to_string().contains("is not valid JSON"), "{err}");
    }
}
