//! How core values appear in the OpenAPI document: each type that travels
//! as text ([`crate::text`]) is a string schema whose pattern, length and
//! allowed values say exactly what its `FromStr` accepts, so a client
//! generated from the document refuses what the server would refuse.

use std::borrow::Cow;

use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaFormat, SchemaType, Type};
use utoipa::openapi::{KnownFormat, RefOr};
use utoipa::{PartialSchema, ToSchema};

use crate::alert::{AlertId, AlertState, SilenceId};
use crate::auth::Role;
use crate::delivery::{DeliveryId, DeliveryStatus};
use crate::duration::HumanDuration;
use crate::id::{BreakerName, BudgetName, CacheName, CronName, JobId, PolicyName, QueueName, SourceName};
use crate::insight::{CacheEventKind, ErrorLevel, EvictionReason};
use crate::job::{ChildDeadPolicy, JobState};
use crate::time::UnixMillis;

/// A positive 63-bit integer written in decimal, no sign, no leading zero.
pub const ID_PATTERN: &str = r"^[1-9][0-9]{0,17}$";

/// 1 to 128 characters of `A-Z a-z 0-9 _ . : -`, except `.` and `..`,
/// written without look-around so every regex engine reads it the same.
pub const NAME_PATTERN: &str =
    r"^([A-Za-z0-9_:-][A-Za-z0-9_.:-]{0,127}|\.[A-Za-z0-9_:-][A-Za-z0-9_.:-]{0,126}|\.\.[A-Za-z0-9_.:-]{1,126})$";

/// One or more `<whole number><unit>` parts, units `ms`, `s`, `m`, `h`, `d`
/// (each number at most 9 digits, so no sum can overflow).
pub const DURATION_PATTERN: &str = r"^([0-9]{1,9}(ms|s|m|h|d)){1,5}$";

/// A string schema with a pattern and a description.
pub fn text(pattern: &str, max_length: Option<usize>, description: &str) -> Schema {
    ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::String))
        .pattern(Some(pattern))
        .min_length(Some(1))
        .max_length(max_length)
        .description(Some(description))
        .into()
}

/// A string schema that takes one of `values`.
pub fn one_of<'a>(values: impl IntoIterator<Item = &'a str>, description: &str) -> Schema {
    ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::String))
        .enum_values(Some(values))
        .description(Some(description))
        .into()
}

macro_rules! schema {
    ($($t:ty => $schema:expr;)*) => {$(
        impl PartialSchema for $t {
            fn schema() -> RefOr<Schema> {
                RefOr::T($schema)
            }
        }

        impl ToSchema for $t {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($t))
            }
        }
    )*};
}

const NAME: &str = "1 to 128 characters of A-Z, a-z, 0-9, `_`, `.`, `:` and `-`, except `.` and `..`.";

schema! {
    JobId => text(ID_PATTERN, Some(18), "A job's id: an opaque string (digits) that enqueue returned.");
    AlertId => text(ID_PATTERN, Some(18), "An alert's id.");
    SilenceId => text(ID_PATTERN, Some(18), "A silence's id.");
    QueueName => text(NAME_PATTERN, Some(QueueName::MAX_LEN), &format!("A queue's name: {NAME}"));
    PolicyName => text(NAME_PATTERN, Some(PolicyName::MAX_LEN), &format!("A rate-limit policy's name: {NAME}"));
    BreakerName => text(NAME_PATTERN, Some(BreakerName::MAX_LEN), &format!("A circuit breaker's name: {NAME}"));
    CronName => text(NAME_PATTERN, Some(CronName::MAX_LEN), &format!("A cron schedule's name: {NAME}"));
    SourceName => text(NAME_PATTERN, Some(SourceName::MAX_LEN), &format!("A webhook source's name: {NAME}"));
    DeliveryId => text(ID_PATTERN, Some(18), "A webhook delivery's id.");
    BudgetName => text(NAME_PATTERN, Some(BudgetName::MAX_LEN), &format!("An AI usage budget's name: {NAME}"));
    HumanDuration => text(
        DURATION_PATTERN,
        Some(60),
        "A duration: whole numbers with units ms, s, m, h or d, largest first by convention (`500ms`, `30s`, `1h30m`).",
    );
    UnixMillis => ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::String))
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
        .description(Some("An RFC 3339 time; answers are in UTC with milliseconds (`2026-12-07T16:30:00.000Z`)."))
        .into();
    JobState => one_of(JobState::ALL.iter().map(|s| s.as_str()), "A job's state.");
    ChildDeadPolicy => one_of(
        ChildDeadPolicy::ALL.iter().map(|s| s.as_str()),
        "What a child that ends without completing does to its waiting parent.",
    );
    AlertState => one_of(AlertState::ALL.iter().map(|s| s.as_str()), "An alert's state.");
    Role => one_of(Role::ALL.iter().map(|r| r.as_str()), "An API key's role.");
    DeliveryStatus => one_of(DeliveryStatus::ALL.iter().map(|s| s.as_str()), "Where a webhook delivery stands.");
    CacheName => text(NAME_PATTERN, Some(CacheName::MAX_LEN), &format!("A cache's name: {NAME}"));
    EvictionReason => one_of(EvictionReason::ALL.iter().map(|s| s.as_str()), "Why a cache dropped an entry.");
    CacheEventKind => one_of(CacheEventKind::ALL.iter().map(|s| s.as_str()), "What happened in a cache.");
    ErrorLevel => one_of(ErrorLevel::ALL.iter().map(|s| s.as_str()), "How bad an error event is.");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Edge cases of names and ids; the patterns use only constructs that
    /// the `regex` crate and ECMA-262 read alike.
    fn samples() -> Vec<&'static str> {
        vec![
            "",
            ".",
            "..",
            "...",
            ".a",
            "..a",
            "a",
            "a.b",
            "A-Z_0:9",
            "-",
            "a b",
            "é",
            "a/b",
            "%2e",
            "1",
            "0",
            "01",
            "42",
            "-1",
            "9223372036854775807",
            "999999999999999999",
        ]
    }

    #[test]
    fn names_and_ids_match_their_patterns_exactly_as_their_parsers_accept() {
        let name = regex_lite(NAME_PATTERN);
        let id = regex_lite(ID_PATTERN);
        let long = "a".repeat(128);
        let too_long = "a".repeat(129);
        let mut all = samples();
        all.push(&long);
        all.push(&too_long);
        for s in all {
            assert_eq!(name(s), QueueName::new(s).is_ok(), "name {s:?}");
            assert_eq!(id(s), s.parse::<JobId>().is_ok(), "id {s:?}");
        }
    }

    #[test]
    fn durations_matching_the_pattern_parse() {
        let duration = regex_lite(DURATION_PATTERN);
        for s in ["250ms", "30s", "1h30m", "7d", "999999999d", "1d1h1m1s1ms"] {
            assert!(duration(s) && s.parse::<HumanDuration>().is_ok(), "{s}");
        }
        for s in ["", "30", "1.5s", "-1s", "1y", "1h1m1s1ms1s1m"] {
            assert!(!duration(s), "{s}");
        }
    }

    fn regex_lite(pattern: &str) -> impl Fn(&str) -> bool {
        let re = regex::Regex::new(pattern).unwrap();
        move |s| re.is_match(s)
    }
}
