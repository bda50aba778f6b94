//! Validated names and ids: a value of these types has passed its checks.
//!
//! Raw strings from HTTP or the command line become these at the edge; bare
//! strings do not cross crate boundaries.

use std::fmt;
use std::str::FromStr;

/// A job's id. Clients see it as an opaque string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JobId(pub i64);

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Why a job id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a job id; ids are the strings rampart returned from enqueue")]
pub struct JobIdError(pub String);

/// Reads an id as rampart writes one: 1 to 18 decimal digits, the first not
/// `0` (no sign, no leading zero, so each id has one spelling, and the
/// pattern of `schema::ID_PATTERN` says exactly what is read).
pub fn parse_id(s: &str) -> Option<i64> {
    let digits = s.len() <= 18 && s.bytes().all(|b| b.is_ascii_digit()) && !s.starts_with('0');
    s.parse::<i64>().ok().filter(|n| digits && *n > 0)
}

impl FromStr for JobId {
    type Err = JobIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_id(s).map(JobId).ok_or_else(|| JobIdError(s.chars().take(64).collect()))
    }
}

/// Why a name breaks the alphabet of names.
const ALPHABET: &str = "use 1 to 128 characters of A-Z, a-z, 0-9, `_`, `.`, `:` and `-`";
/// Why `.` and `..` are no names: names are path segments of the API's URLs.
const DOT_SEGMENT: &str =
    "`.` and `..` are path segments that HTTP clients resolve away, so the name could not be reached; choose another";

/// Checks a name against the rule every name type shares; answers why not.
fn name_problem(name: &str, max_len: usize) -> Option<&'static str> {
    let alphabet = !name.is_empty()
        && name.len() <= max_len
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'));
    if !alphabet {
        Some(ALPHABET)
    } else if name == "." || name == ".." {
        Some(DOT_SEGMENT)
    } else {
        None
    }
}

/// A name type: 1 to 128 characters of `A-Z`, `a-z`, `0-9`, `_`, `.`, `:`
/// and `-`, except `.` and `..` (names are path segments of the API's URLs),
/// with its error. Queue and policy names follow the same rule, so one
/// definition serves both.
macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident, $error:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        #[doc = concat!("Why a ", $what, " was refused.")]
        #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
        #[error("`{name}` is not a {what}: {reason}", what = $what)]
        pub struct $error {
            /// The refused name (its first 140 characters).
            pub name: String,
            /// What is wrong with it.
            pub reason: &'static str,
        }

        impl $name {
            /// The longest name allowed.
            pub const MAX_LEN: usize = 128;

            /// Checks and wraps a name.
            pub fn new(name: &str) -> Result<Self, $error> {
                match name_problem(name, Self::MAX_LEN) {
                    None => Ok($name(name.to_string())),
                    Some(reason) => Err($error { name: name.chars().take(140).collect(), reason }),
                }
            }

            /// The name as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = $error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::new(s)
            }
        }
    };
}

name_type!(
    /// A queue's name: 1–128 characters of `A-Za-z0-9_.:-`.
    QueueName,
    QueueNameError,
    "queue name"
);

name_type!(
    /// The name of a rate-limit policy, by the same rule as queue names.
    PolicyName,
    PolicyNameError,
    "policy name"
);

name_type!(
    /// A circuit breaker's name, by the same rule as queue names
    /// (`payments-api`, `push:hooks.example.com`).
    BreakerName,
    BreakerNameError,
    "breaker name"
);

name_type!(
    /// The name of a cron schedule, by the same rule as queue names. Names
    /// starting with `rampart.` are reserved for built-in schedules.
    CronName,
    CronNameError,
    "cron schedule name"
);

impl CronName {
    /// The prefix of built-in schedules' names, refused for user schedules.
    pub const RESERVED_PREFIX: &'static str = "rampart.";

    /// True for the names of built-in schedules.
    pub fn is_reserved(&self) -> bool {
        self.0.starts_with(Self::RESERVED_PREFIX)
    }
}

name_type!(
    /// The name of a third-party platform an app connects to (`stripe`,
    /// `gmail`), by the same rule as queue names.
    PlatformName,
    PlatformNameError,
    "platform name"
);

name_type!(
    /// The app's id of one connection to a platform (an account, a
    /// workspace), by the same rule as queue names: an email address is not
    /// an id, so none ends up in the store or the logs by that road.
    ConnectionId,
    ConnectionIdError,
    "connection id"
);

name_type!(
    /// The name of a webhook source (`stripe`, `github-acme`): the last
    /// segment of its intake URL `/in/{name}`, by the same rule as queue names.
    SourceName,
    SourceNameError,
    "webhook source name"
);

name_type!(
    /// The name of an AI usage budget (`monthly-total`, `acme-daily`), by
    /// the same rule as queue names.
    BudgetName,
    BudgetNameError,
    "budget name"
);

name_type!(
    /// The name of a cache an app reports telemetry for (`models`,
    /// `sessions:eu`), by the same rule as queue names.
    CacheName,
    CacheNameError,
    "cache name"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_names_follow_the_documented_alphabet() {
        for ok in ["email-send", "a", "billing.invoices:v2", "A_Z-09", &"q".repeat(128)] {
            assert!(QueueName::new(ok).is_ok(), "{ok}");
        }
        for bad in ["", "has space", "slash/es", "ünï", "semi;colon", &"q".repeat(129)] {
            assert!(QueueName::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dot_segments_are_no_names_and_the_error_says_why() {
        for dots in [".", ".."] {
            let err = QueueName::new(dots).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "`{dots}` is not a queue name: `.` and `..` are path segments that HTTP clients resolve away, so the name could not be reached; choose another"
                )
            );
            assert!(CronName::new(dots).is_err() && BreakerName::new(dots).is_err() && PolicyName::new(dots).is_err());
        }
        for ok in ["...", ".a", "a.", "a..b", ".hidden"] {
            assert!(QueueName::new(ok).is_ok(), "{ok}");
        }
        assert!(
            QueueName::new("a b")
                .unwrap_err()
                .to_string()
                .ends_with("use 1 to 128 characters of A-Z, a-z, 0-9, `_`, `.`, `:` and `-`")
        );
    }

    #[test]
    fn policy_names_follow_the_documented_alphabet() {
        for ok in ["oauth", "a", "api:v2", "per-key.login_1", &"p".repeat(128)] {
            assert_eq!(PolicyName::new(ok).map(|n| n.to_string()), Ok(ok.to_string()));
        }
        for bad in ["", "has space", "slash/es", "ünï", "semi;colon", &"p".repeat(129)] {
            let err = PolicyName::new(bad).unwrap_err();
            assert!(err.to_string().contains("is not a policy name"), "{bad}: {err}");
        }
    }

    #[test]
    fn cron_names_follow_the_alphabet_and_reserve_the_rampart_prefix() {
        assert!(!CronName::new("nightly-report").unwrap().is_reserved());
        assert!(CronName::new("rampart.retention").unwrap().is_reserved());
        assert!(!CronName::new("rampart-retention").unwrap().is_reserved());
        assert!(CronName::new("has space").is_err());
    }

    #[test]
    fn job_ids_are_positive_integers_in_text() {
        assert_eq!("42".parse::<JobId>().unwrap(), JobId(42));
        for bad in ["", "0", "-3", "abc", "1.5"] {
            assert!(bad.parse::<JobId>().is_err(), "{bad}");
        }
    }
}
