//! The push step protocol: a push target runs a step-function job one step
//! per request, as serverless step functions do. Each delivery carries the
//! steps recorded so far (`steps`, `step_order`); the target answers `206`
//! with `{"step": name, "result": …}` to record a step and be called again
//! at once, or `{"step": name, "sleep": "30s"}` for a durable sleep (the
//! job is called again after it), and any other `2xx` to complete.

use std::time::Duration;

use rampart_core::duration::HumanDuration;
use rampart_core::step::StepName;
use serde::Deserialize;
use serde_json::value::RawValue;

/// What a `206` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum PushStep {
    /// Record the step's result (JSON text) and call again.
    Record(StepName, String),
    /// Sleep, then call again.
    Sleep(StepName, Duration),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Answer<'a> {
    step: String,
    #[serde(borrow, default)]
    result: Option<&'a RawValue>,
    #[serde(default)]
    sleep: Option<HumanDuration>,
}

/// Reads a `206`'s body; the error says what a target must answer instead.
pub(super) fn parse(body: &[u8]) -> Result<PushStep, String> {
    let shape = "a 206 answers {\"step\": NAME, \"result\": JSON} or {\"step\": NAME, \"sleep\": \"30s\"}";
    let answer: Answer<'_> = serde_json::from_slice(body).map_err(|e| format!("{shape}: {e}"))?;
    let name = StepName::parse(&answer.step).map_err(|e| format!("{shape}: {e}"))?;
    match (answer.result, answer.sleep) {
        (Some(result), None) => Ok(PushStep::Record(name, result.get().to_string())),
        (None, Some(sleep)) => Ok(PushStep::Sleep(name, sleep.get())),
        _ => Err(format!("{shape}, one of the two")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_record_or_sleep() {
        let name = || StepName::parse("scope").unwrap();
        assert_eq!(parse(br#"{"step":"scope","result":{"a":1}}"#), Ok(PushStep::Record(name(), r#"{"a":1}"#.into())));
        assert_eq!(parse(br#"{"step":"scope","sleep":"2s"}"#), Ok(PushStep::Sleep(name(), Duration::from_secs(2))));
        for bad in [
            &br#"{"step":"scope"}"#[..],
            br#"{"step":"a/b","result":1}"#,
            b"not json",
            br#"{"step":"s","result":1,"sleep":"1s"}"#,
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
