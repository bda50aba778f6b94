//! Alert rules and their lifecycle as pure logic.
//!
//! A rule compares one figure of a sample (a queue's waiting jobs, its failed
//! rate, …) with a threshold. Whether that comparison holds is fed, sample by
//! sample, into a [`Streak`]: a rule *fires* once it has held for
//! `fire_after` consecutive samples and *resolves* once it has stopped
//! holding for `resolve_after` consecutive samples, so a value flapping around
//! its threshold neither fires nor resolves. While an alert fires, a reminder
//! is due every `repeat_interval` unless someone acknowledged it.
//!
//! [`step`] turns one sample's verdict, the stored alert (if one fires) and
//! now into the one thing to do: fire, remind, resolve or nothing. The store
//! then claims that transition with a compare-and-set, so of several nodes
//! that decide the same thing only one notifies. Time comes in as an argument.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::time::UnixMillis;

/// An alert's id, or a silence's: a positive integer clients see as an
/// opaque string.
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $error:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        #[doc = concat!("Why a ", $what, " was refused.")]
        #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
        #[error("`{0}` is not {what}; ids are the strings rampart returned", what = $what)]
        pub struct $error(pub String);

        impl FromStr for $name {
            type Err = $error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                crate::id::parse_id(s).map($name).ok_or_else(|| $error(s.chars().take(64).collect()))
            }
        }
    };
}

id_type!(
    /// A stored alert's id.
    AlertId,
    AlertIdError,
    "an alert id"
);

id_type!(
    /// A silence's id.
    SilenceId,
    SilenceIdError,
    "a silence id"
);

crate::named_enum! {
    /// The rules rampart evaluates.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
    pub enum AlertRule {
        /// A queue's available jobs exceed the threshold.
        QueueWaiting = "queue_waiting",
        /// The share of a queue's attempts that failed during the interval
        /// exceeds the threshold (a fraction: 0.1 is 10%).
        QueueFailedRate = "queue_failed_rate",
        /// More of a queue's leases expired during the interval than the threshold.
        QueueStalled = "queue_stalled",
        /// A trivial store query took longer than the threshold, in milliseconds.
        StoreLatency = "store_latency",
        /// Jobs of a queue went dead since the last sample: at least the threshold.
        DeadLetters = "dead_letters",
        /// A shared circuit breaker is open (or probing): 1 while it is.
        BreakerOpen = "breaker_open",
        /// A cron schedule's latest run failed for good: 1 while it is the latest.
        CronFailed = "cron_failed",
        /// An integration's access token (as apps report it) expires within
        /// `diagnostics.token_expiry_horizon`, or has expired: 1 while it does.
        TokenExpiring = "token_expiring",
        /// Rate-limit checks of a policy on this node were decided by its
        /// `on_backend_error` (Redis failing) during the interval: at least 1.
        LimiterFallback = "ratelimit_fallback",
        /// The share of this node's API requests answered 5xx during the
        /// interval exceeds the threshold (a fraction), once enough came.
        ApiErrorRate = "api_error_rate",
        /// The share of a webhook source's requests this node rejected
        /// (unsigned, forged, stale) during the interval exceeds the
        /// threshold (a fraction), once enough came.
        WebhookRejections = "webhook_rejections",
        /// A queue holds at least the threshold of dead jobs, however old:
        /// checked every `dead_letter_depth_interval`, firing while they stay.
        DeadLetterDepth = "dead_letter_depth",
        /// The server's resident memory exceeds the threshold, in bytes.
        ProcessMemory = "process_memory",
        /// The configured Redis's `used_memory` exceeds the threshold, in bytes.
        RedisMemory = "redis_memory",
        /// A cache's size over its `max_size` exceeds the threshold (a fraction).
        CacheUtilisation = "cache_utilisation",
        /// A cache's hit rate is *below* the threshold (a fraction), once it
        /// counted enough loads.
        CacheHitRate = "cache_hit_rate",
        /// A cache's memory estimate exceeds the threshold, in bytes.
        CacheMemory = "cache_memory",
        /// More error events (of a kind, or of any) arrived within a rule's
        /// window than its threshold.
        ErrorCount = "error_count",
        /// An app reported a critical error event: fires at once, per kind.
        ErrorCritical = "error_critical",
        /// A budget's spending in a period reached one of its thresholds (a
        /// fraction of its limit): fires once per threshold and period.
        BudgetThreshold = "budget_threshold",
        /// The share of a model's reported calls that failed within the
        /// window exceeds the threshold (a fraction), once enough calls came.
        UsageFailureRate = "usage_failure_rate",
    }
    parse_error: AlertRuleError = |s| AlertRuleError(s.chars().take(64).collect());
}

impl AlertRule {
    /// Whether the rule is about a queue (its subject is a queue's name).
    pub fn is_queue_rule(self) -> bool {
        matches!(
            self,
            AlertRule::QueueWaiting
                | AlertRule::QueueFailedRate
                | AlertRule::QueueStalled
                | AlertRule::DeadLetters
                | AlertRule::DeadLetterDepth
        )
    }

    /// Whether `value` breaches `threshold`: strictly above it, except the
    /// rules that count events, states or dead jobs, which hold from the
    /// threshold up (`≥ 1`).
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            AlertRule::DeadLetters
            | AlertRule::DeadLetterDepth
            | AlertRule::BreakerOpen
            | AlertRule::CronFailed
            | AlertRule::TokenExpiring
            | AlertRule::LimiterFallback
            | AlertRule::ErrorCritical
            | AlertRule::BudgetThreshold => value >= threshold,
            AlertRule::CacheHitRate => value < threshold,
            _ => value > threshold,
        }
    }

    /// Consecutive holding samples before the rule fires. Dead letters, an
    /// open breaker, a failed cron run and an expiring token are events, not
    /// levels: the first sample that sees one fires. The dead-letter depth
    /// is checked only every few minutes: the first check that sees it fires.
    pub fn fire_after(self, configured: u32) -> u32 {
        match self {
            AlertRule::DeadLetters
            | AlertRule::DeadLetterDepth
            | AlertRule::BreakerOpen
            | AlertRule::CronFailed
            | AlertRule::TokenExpiring
            | AlertRule::LimiterFallback
            | AlertRule::ErrorCritical
            | AlertRule::BudgetThreshold => 1,
            _ => configured.max(1),
        }
    }

    /// Consecutive clear samples before the rule resolves. The dead-letter
    /// depth only falls when someone retries or purges (or retention prunes),
    /// never by flapping: the first sample below the threshold resolves.
    pub fn resolve_after(self, configured: u32) -> u32 {
        match self {
            AlertRule::DeadLetterDepth => 1,
            _ => configured.max(1),
        }
    }

    /// What the rule watches, for people: "waiting jobs", "store latency".
    pub fn figure(self) -> &'static str {
        match self {
            AlertRule::QueueWaiting => "waiting jobs",
            AlertRule::QueueFailedRate => "failed rate",
            AlertRule::QueueStalled => "stalled jobs per interval",
            AlertRule::StoreLatency => "store latency",
            AlertRule::DeadLetters => "new dead jobs",
            AlertRule::BreakerOpen => "circuit breaker open",
            AlertRule::CronFailed => "cron run failed",
            AlertRule::TokenExpiring => "access token expiring",
            AlertRule::LimiterFallback => "rate-limit checks decided by fallback",
            AlertRule::ApiErrorRate => "API error rate",
            AlertRule::WebhookRejections => "webhook requests rejected",
            AlertRule::DeadLetterDepth => "dead jobs",
            AlertRule::ProcessMemory => "resident memory",
            AlertRule::RedisMemory => "Redis used memory",
            AlertRule::CacheUtilisation => "cache utilisation",
            AlertRule::CacheHitRate => "cache hit rate",
            AlertRule::CacheMemory => "cache memory",
            AlertRule::ErrorCount => "error events in the window",
            AlertRule::ErrorCritical => "critical error events",
            AlertRule::BudgetThreshold => "budget spent",
            AlertRule::UsageFailureRate => "AI call failure rate",
        }
    }

    /// A figure of this rule as people read it: `"12.5%"`, `"140 ms"`, `"1200"`.
    pub fn format_value(self, value: f64) -> String {
        match self {
            AlertRule::QueueFailedRate
            | AlertRule::ApiErrorRate
            | AlertRule::WebhookRejections
            | AlertRule::CacheUtilisation
            | AlertRule::CacheHitRate
            | AlertRule::BudgetThreshold
            | AlertRule::UsageFailureRate => format!("{}%", trim_number(value * 100.0)),
            AlertRule::CacheMemory => format!("{} MiB", trim_number(value / 1_048_576.0)),
            AlertRule::StoreLatency => format!("{} ms", trim_number(value)),
            AlertRule::ProcessMemory | AlertRule::RedisMemory => format_bytes(value),
            _ => trim_number(value),
        }
    }
}

/// A size in bytes as people read it: `512 B`, `1.5 KiB`, `300 MiB`, `2 GiB`.
pub fn format_bytes(bytes: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes.max(0.0);
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    let shown = if unit == 0 { trim_number(value.round()) } else { trim_number((value * 10.0).round() / 10.0) };
    format!("{shown} {}", UNITS[unit])
}

/// A number without a useless fraction: `1200`, `12.5`, `0.33`.
fn trim_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        let s = format!("{x:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Why a rule name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not an alert rule; rules are queue_waiting, queue_failed_rate, queue_stalled, store_latency, \
     dead_letters, breaker_open, cron_failed, token_expiring, ratelimit_fallback, api_error_rate, \
     webhook_rejections, dead_letter_depth, process_memory, redis_memory, cache_utilisation, cache_hit_rate, \
     cache_memory, error_count, error_critical, budget_threshold and usage_failure_rate"
)]
pub struct AlertRuleError(pub String);

crate::named_enum! {
    /// The state of a stored alert.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum AlertState {
        /// The rule holds; notifications went out.
        Firing = "firing",
        /// The rule stopped holding; final.
        Resolved = "resolved",
    }
    parse_error: AlertStateError = |s| AlertStateError(s.chars().take(64).collect());
}

/// Why an alert state was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an alert state; use firing or resolved")]
pub struct AlertStateError(pub String);

crate::named_enum! {
    /// What a notification announces (its name as stored and sent).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum NoticeKind {
        /// The alert started firing (sent once).
        Firing = "firing",
        /// The alert still fires (at most every `repeat_interval`).
        Reminder = "reminder",
        /// The alert resolved (sent once).
        Resolved = "resolved",
        /// A test message from `rampart alerts test`.
        Test = "test",
    }
    parse_error: String = |s| format!("`{s}` is not a notification kind");
}

/// How many samples a rule must hold before firing and stop holding before
/// resolving, and how often a firing alert reminds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertTiming {
    /// Consecutive holding samples before firing (`for`, default 2).
    pub fire_after: u32,
    /// Consecutive clear samples before resolving (`resolve_after`, default 2).
    pub resolve_after: u32,
    /// Least time between two notifications of a firing alert (default 4h).
    pub repeat_interval: Duration,
}

impl Default for AlertTiming {
    fn default() -> Self {
        AlertTiming { fire_after: 2, resolve_after: 2, repeat_interval: Duration::from_secs(4 * 3600) }
    }
}

/// The run of consecutive samples one rule (for one subject) has seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Streak {
    /// Consecutive samples the rule held, while not firing.
    held: u32,
    /// Consecutive samples the rule did not hold, while firing.
    cleared: u32,
}

/// The stored alert that fires for a rule and subject, as [`step`] needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Firing {
    /// When its last notification (firing or reminder) was claimed.
    pub last_notified_at: UnixMillis,
    /// Whether someone acknowledged it: no more reminders.
    pub acked: bool,
}

/// What one sample calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Nothing to record or send.
    Nothing,
    /// Start an alert and send its firing notice.
    Fire,
    /// Send a reminder of the firing alert.
    Remind,
    /// Resolve the firing alert and send its resolved notice.
    Resolve,
}

/// Feeds one sample's verdict (`holds`) into the streak of a rule, given
/// the alert the store has firing for it (`firing`, the truth shared by
/// every node), and answers what to do now.
///
/// Not firing: `fire_after` consecutive holding samples fire (a clear
/// sample starts the count again). Firing: `resolve_after` consecutive clear
/// samples resolve (a holding sample starts that count again); otherwise a
/// reminder is due once `repeat_interval` has passed since the last notice,
/// unless the alert was acknowledged.
pub fn step(streak: &mut Streak, holds: bool, firing: Option<Firing>, now: UnixMillis, timing: &AlertTiming) -> Step {
    match firing {
        None => {
            streak.cleared = 0;
            if !holds {
                streak.held = 0;
                return Step::Nothing;
            }
            streak.held = streak.held.saturating_add(1);
            if streak.held >= timing.fire_after.max(1) {
                streak.held = 0;
                Step::Fire
            } else {
                Step::Nothing
            }
        }
        Some(f) => {
            streak.held = 0;
            if holds {
                streak.cleared = 0;
            } else {
                streak.cleared = streak.cleared.saturating_add(1);
                if streak.cleared >= timing.resolve_after.max(1) {
                    streak.cleared = 0;
                    return Step::Resolve;
                }
            }
            if !f.acked && now >= f.last_notified_at.plus(timing.repeat_interval) {
                Step::Remind
            } else {
                Step::Nothing
            }
        }
    }
}

/// Whether a silence with these matchers covers an alert of `rule` on
/// `subject`: a matcher left out matches everything.
pub fn silence_matches(
    silence_rule: Option<AlertRule>,
    silence_subject: Option<&str>,
    rule: AlertRule,
    subject: &str,
) -> bool {
    silence_rule.is_none_or(|r| r == rule) && silence_subject.is_none_or(|s| s == subject)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    fn timing() -> AlertTiming {
        AlertTiming { fire_after: 2, resolve_after: 2, repeat_interval: Duration::from_secs(4 * 3600) }
    }

    /// Runs a sequence of verdicts one minute apart through [`step`], keeping
    /// the firing alert the way the store would (a claimed fire starts it, a
    /// reminder moves its notice time, a resolve ends it), and answers the
    /// steps taken, with the minute each was taken at.
    fn check(verdicts: &str, acked: bool, expected: &[(usize, Step)]) {
        let mut streak = Streak::default();
        let mut firing: Option<Firing> = None;
        let mut taken = Vec::new();
        for (minute, c) in verdicts.chars().enumerate() {
            let now = UnixMillis(0).plus(MIN * minute as u32);
            let holds = match c {
                'x' => true,
                '.' => false,
                other => panic!("verdicts are x or ., got {other}"),
            };
            let s = step(&mut streak, holds, firing, now, &timing());
            match s {
                Step::Nothing => {}
                Step::Fire => firing = Some(Firing { last_notified_at: now, acked }),
                Step::Remind => firing = firing.map(|f| Firing { last_notified_at: now, ..f }),
                Step::Resolve => firing = None,
            }
            if s != Step::Nothing {
                taken.push((minute, s));
            }
        }
        assert_eq!(taken, expected, "verdicts {verdicts}");
    }

    #[test]
    fn fires_once_after_for_and_resolves_once_after_resolve_after() {
        check("xxxxx..", false, &[(1, Step::Fire), (6, Step::Resolve)]);
        check(".x.xx...x", false, &[(4, Step::Fire), (6, Step::Resolve)]);
    }

    #[test]
    fn flapping_values_neither_fire_nor_resolve() {
        check("x.x.x.x.x.x.", false, &[]);
        check("xx.x.x.x.x..", false, &[(1, Step::Fire), (11, Step::Resolve)]);
    }

    #[test]
    fn reminders_come_every_repeat_interval_unless_acknowledged() {
        // 4h = 240 samples a minute apart: fired at minute 1, reminded at 241 and 481.
        let long = "x".repeat(500);
        check(&long, false, &[(1, Step::Fire), (241, Step::Remind), (481, Step::Remind)]);
        check(&long, true, &[(1, Step::Fire)]);
    }

    #[test]
    fn an_alert_another_node_fired_is_resolved_from_this_node_too() {
        let mut streak = Streak::default();
        let firing = Some(Firing { last_notified_at: UnixMillis(0), acked: false });
        let t = timing();
        assert_eq!(step(&mut streak, false, firing, UnixMillis(1), &t), Step::Nothing);
        assert_eq!(step(&mut streak, false, firing, UnixMillis(2), &t), Step::Resolve);
    }

    #[test]
    fn dead_letters_fire_on_the_first_sample_and_count_from_the_threshold() {
        assert_eq!(AlertRule::DeadLetters.fire_after(2), 1);
        assert_eq!(AlertRule::BreakerOpen.fire_after(2), 1);
        assert!(AlertRule::CronFailed.holds(1.0, 1.0) && !AlertRule::CronFailed.holds(0.0, 1.0));
        assert!(AlertRule::DeadLetters.is_queue_rule() && !AlertRule::BreakerOpen.is_queue_rule());
        assert_eq!(AlertRule::QueueWaiting.fire_after(3), 3);
        assert!(AlertRule::DeadLetters.holds(1.0, 1.0));
        assert!(!AlertRule::QueueWaiting.holds(1000.0, 1000.0));
        assert!(AlertRule::QueueWaiting.holds(1001.0, 1000.0));
    }

    #[test]
    fn rules_and_states_round_trip_through_their_names() {
        for r in AlertRule::ALL {
            assert_eq!(r.as_str().parse::<AlertRule>().unwrap(), r);
        }
        assert!("waiting".parse::<AlertRule>().is_err());
        assert_eq!("firing".parse::<AlertState>().unwrap(), AlertState::Firing);
        assert!("open".parse::<AlertState>().is_err());
    }

    #[test]
    fn figures_read_as_people_write_them() {
        assert_eq!(AlertRule::QueueFailedRate.format_value(0.125), "12.5%");
        assert_eq!(AlertRule::StoreLatency.format_value(140.0), "140 ms");
        assert_eq!(AlertRule::QueueWaiting.format_value(1200.0), "1200");
        assert_eq!(AlertRule::DeadLetterDepth.format_value(3.0), "3");
        for (bytes, shown) in [
            (512.0, "512 B"),
            (1536.0, "1.5 KiB"),
            (300.0 * 1048576.0, "300 MiB"),
            (2.0 * 1073741824.0, "2 GiB"),
            (1073741824.0 * 1.25, "1.3 GiB"),
        ] {
            assert_eq!(AlertRule::ProcessMemory.format_value(bytes), shown, "{bytes}");
        }
        assert_eq!(AlertRule::RedisMemory.format_value(1048576.0), "1 MiB");
    }

    #[test]
    fn the_dead_letter_depth_is_a_level_held_from_the_threshold_that_fires_and_resolves_at_once() {
        let d = AlertRule::DeadLetterDepth;
        assert!(d.is_queue_rule());
        assert!(d.holds(1.0, 1.0) && d.holds(12.0, 10.0) && !d.holds(9.0, 10.0) && !d.holds(0.0, 1.0));
        assert_eq!((d.fire_after(3), d.resolve_after(3)), (1, 1));
        assert_eq!(AlertRule::QueueWaiting.resolve_after(3), 3);
        assert_eq!(AlertRule::QueueWaiting.resolve_after(0), 1);
        // Memory is a level like the others: strictly above, after `for`.
        let m = AlertRule::ProcessMemory;
        assert!(!m.is_queue_rule() && !m.holds(100.0, 100.0) && m.holds(101.0, 100.0));
        assert_eq!((m.fire_after(2), AlertRule::RedisMemory.resolve_after(2)), (2, 2));
    }

    #[test]
    fn silences_match_by_rule_and_subject_with_blanks_matching_all() {
        let r = AlertRule::QueueWaiting;
        assert!(silence_matches(None, None, r, "email"));
        assert!(silence_matches(Some(r), Some("email"), r, "email"));
        assert!(!silence_matches(Some(r), Some("sms"), r, "email"));
        assert!(!silence_matches(Some(AlertRule::DeadLetters), None, r, "email"));
    }
}
