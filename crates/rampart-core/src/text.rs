//! How core values travel as JSON text: each type below serializes as its
//! `Display` and deserializes through its `FromStr`, so a wire field typed
//! `JobId`, `QueueName`, `JobState`, `Role`, `UnixMillis` (RFC 3339) or
//! `HumanDuration` (`"30s"`) reads and writes exactly the string it would
//! have as a `String`, and a bad value is refused with the type's own
//! message (which `serde_path_to_error` prefixes with the field's path).

use std::borrow::Cow;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::alert::{AlertId, AlertState, SilenceId};
use crate::auth::Role;
use crate::delivery::{DeliveryId, DeliveryStatus};
use crate::duration::HumanDuration;
use crate::id::{BreakerName, BudgetName, CacheName, CronName, JobId, PolicyName, QueueName, SourceName};
use crate::insight::{CacheEventKind, ErrorLevel, EvictionReason};
use crate::job::{ChildDeadPolicy, JobState};
use crate::time::UnixMillis;

macro_rules! as_text {
    ($($t:ty),* $(,)?) => {$(
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = Cow::<'de, str>::deserialize(deserializer)?;
                text.parse().map_err(D::Error::custom)
            }
        }
    )*};
}

as_text!(
    JobId,
    QueueName,
    PolicyName,
    BreakerName,
    CronName,
    JobState,
    ChildDeadPolicy,
    Role,
    UnixMillis,
    HumanDuration,
    AlertId,
    SilenceId,
    AlertState,
    SourceName,
    DeliveryId,
    DeliveryStatus,
    BudgetName,
    CacheName,
    EvictionReason,
    CacheEventKind,
    ErrorLevel,
);

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn round_trip<T: Serialize + for<'de> Deserialize<'de> + PartialEq + std::fmt::Debug>(value: T, json: &str) {
        assert_eq!(serde_json::to_string(&value).unwrap(), json);
        assert_eq!(serde_json::from_str::<T>(json).unwrap(), value);
    }

    #[test]
    fn values_read_and_write_as_their_strings() {
        round_trip(JobId(42), r#""42""#);
        round_trip(QueueName::new("email-send").unwrap(), r#""email-send""#);
        round_trip(JobState::Completed, r#""completed""#);
        round_trip(Role::Producer, r#""producer""#);
        round_trip(UnixMillis(1_795_000_000_123), r#""2026-11-18T11:06:40.123Z""#);
        round_trip(HumanDuration(Duration::from_millis(5_400_250)), r#""1h30m250ms""#);
    }

    #[test]
    fn a_bad_value_is_refused_with_the_types_message() {
        let e = serde_json::from_str::<JobId>(r#""x""#).unwrap_err().to_string();
        assert!(e.contains("`x` is not a job id"), "{e}");
        let e = serde_json::from_str::<HumanDuration>(r#""30""#).unwrap_err().to_string();
        assert!(e.contains("`30` is not a duration"), "{e}");
        let e = serde_json::from_str::<UnixMillis>(r#""yesterday""#).unwrap_err().to_string();
        assert!(e.contains("not an RFC 3339 time"), "{e}");
        let e = serde_json::from_str::<JobId>("42").unwrap_err().to_string();
        assert!(e.contains("expected a string") || e.contains("invalid type"), "{e}");
    }

    #[test]
    fn an_escaped_string_is_read_too() {
        assert_eq!(serde_json::from_str::<QueueName>(r#""a\u002db""#).unwrap().as_str(), "a-b");
    }
}
