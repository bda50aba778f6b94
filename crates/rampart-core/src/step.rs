//! Steps of step-function jobs: a job that records each step's result while
//! it holds its lease, so a retry resumes after the last recorded step
//! instead of running the expensive ones again.
//!
//! A step's identity is its name, unique within the job; clients give a name
//! used more than once an occurrence counter (`name`, `name:1`, …). The first
//! result recorded for a name wins. The limits below bound what one job
//! keeps; the store and the API enforce them.

use std::fmt;

/// Most steps one job records.
pub const MAX_STEPS: usize = 1_000;
/// Largest result of one step, in bytes of JSON text.
pub const MAX_STEP_RESULT_BYTES: usize = 256 * 1024;
/// Largest step state of one job (every step with its result, as stored), in bytes.
pub const MAX_STEP_STATE_BYTES: usize = 4 * 1024 * 1024;
/// Longest step name, in characters.
pub const MAX_STEP_NAME_CHARS: usize = 200;

/// A step's name: 1 to 200 printable characters without `/` (it is a path
/// segment of the API).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StepName(String);

impl StepName {
    /// Checks a name; the error says what is wrong with it.
    pub fn parse(name: &str) -> Result<StepName, String> {
        let chars = name.chars().count();
        if chars == 0 || chars > MAX_STEP_NAME_CHARS {
            return Err(format!("a step name has 1 to {MAX_STEP_NAME_CHARS} characters; this one has {chars}"));
        }
        if let Some(c) = name.chars().find(|c| c.is_control() || *c == '/') {
            return Err(format!("a step name is printable and has no `/`; this one has {c:?}"));
        }
        Ok(StepName(name.to_string()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The step's idempotency key, for the APIs a step calls: stable across
    /// the job's attempts, so a step that ran but was not recorded can be
    /// told apart from a new call.
    pub fn idempotency_key(&self, job: crate::id::JobId) -> String {
        format!("{}:{}", job.0, self.0)
    }
}

impl fmt::Display for StepName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A step the store refused because the job's step state is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepLimit {
    /// The job already has [`MAX_STEPS`] steps.
    TooMany,
    /// The step would take the job's step state past [`MAX_STEP_STATE_BYTES`].
    StateTooLarge,
}

impl fmt::Display for StepLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepLimit::TooMany => write!(f, "the job already has {MAX_STEPS} steps, the most one job records"),
            StepLimit::StateTooLarge => write!(
                f,
                "this step would take the job's step state past {} MiB, the most one job keeps",
                MAX_STEP_STATE_BYTES / (1024 * 1024)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, ok: bool) {
        assert_eq!(StepName::parse(name).is_ok(), ok, "{name:?}");
    }

    #[test]
    fn names() {
        check("analyze photos", true);
        check("fetch:1", true);
        check("é", true);
        check(&"x".repeat(200), true);
        check(&"é".repeat(200), true);
        check("", false);
        check(&"x".repeat(201), false);
        check("a/b", false);
        check("tab\there", false);
        check("nul\0", false);
    }

    #[test]
    fn idempotency_key_is_job_and_step() {
        let name = StepName::parse("charge").unwrap();
        assert_eq!(name.idempotency_key(crate::id::JobId(42)), "42:charge");
    }
}
