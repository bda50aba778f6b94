//! Cron schedules: parsing, the next fire time, and what to do after downtime.
//!
//! A schedule is a cron expression read in an IANA time zone. Expressions
//! have 5 fields (`minute hour day-of-month month day-of-week`), or 6 with
//! seconds first, or are one of the macros `@yearly` (`@annually`),
//! `@monthly`, `@weekly`, `@daily` (`@midnight`) and `@hourly`. Fields
//! follow Vixie cron (`*/15`, `1-5`, `MON-FRI`, `JAN`; when both day fields
//! are restricted either may match), plus croner's `L`, `W` and `#`.
//! Parsing and matching are the `croner` crate's; this module fixes the
//! rules around it and keeps time as [`UnixMillis`].
//!
//! Daylight saving time, the rule every schedule follows:
//! - **A local time skipped by spring-forward.** A schedule at one fixed
//!   local time (`30 2 * * *`) fires once that day, at the first local time
//!   after the gap (03:00 in New York on 2026-03-08): a daily job is never
//!   lost. A repeating schedule (`*/15 * * * *`) simply has no ticks inside
//!   the gap.
//! - **A local time repeated at fall-back.** Every local time fires at most
//!   once: on its first pass (the earlier UTC instant). During the second
//!   pass of the repeated hour no tick fires, so neither a daily job at
//!   01:30 nor an every-15-minutes job runs twice for the same wall-clock
//!   time.
//!
//! Misfires: a tick counts as *missed* when it is more than [`MISFIRE_GRACE`]
//! older than now. A tick found a little late (the scheduler polled late, a
//! busy machine) is not missed and fires as usual, whatever the policy.
//! Whatever the lateness, a schedule fires at most one run at a time, for its
//! latest due tick: [`plan_due`] decides, from the stored next-due tick, what
//! fires and what the next due tick becomes.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, LocalResult, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

use crate::time::UnixMillis;

/// How late a tick may be found and still fire as scheduled; older ticks are
/// missed and follow the schedule's [`Misfire`] policy.
pub const MISFIRE_GRACE: Duration = Duration::from_secs(60);

/// The macros accepted in place of an expression, with what they mean.
pub const MACROS: &[(&str, &str)] = &[
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];

/// Most ticks of a repeated (fall-back) hour stepped over when looking for the
/// next tick: one an hour-long second-by-second schedule needs, and a bound.
const MAX_REPEATED_TICKS: usize = 4_000;

/// Why a schedule expression was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a cron schedule: {reason}")]
pub struct ScheduleError {
    /// The text given.
    pub input: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Why a time zone name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an IANA time zone; use e.g. \"UTC\", \"Europe/Berlin\" or \"America/New_York\"")]
pub struct TimezoneError(pub String);

/// An IANA time zone, by its canonical name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timezone(Tz);

impl Timezone {
    /// Coordinated Universal Time, the default.
    pub const UTC: Timezone = Timezone(Tz::UTC);

    /// The zone's IANA name.
    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// The wall-clock time at `at` in this zone.
    pub fn local(&self, at: UnixMillis) -> chrono::NaiveDateTime {
        let utc = DateTime::<Utc>::from_timestamp_millis(at.0).unwrap_or_default();
        self.0.from_utc_datetime(&utc.naive_utc()).naive_local()
    }

    /// The calendar day at `at` in this zone, as `2026-12-07`.
    pub fn local_day(&self, at: UnixMillis) -> String {
        self.local(at).format("%Y-%m-%d").to_string()
    }

    /// The instant `local` (a wall-clock time in this zone) first happens;
    /// a time skipped by a DST change is taken an hour later.
    pub fn instant(&self, local: chrono::NaiveDateTime) -> UnixMillis {
        let at = |t: chrono::NaiveDateTime| self.0.from_local_datetime(&t).earliest();
        let found = at(local).or_else(|| at(local + chrono::Duration::hours(1)));
        UnixMillis(found.map_or_else(|| local.and_utc().timestamp_millis(), |t| t.timestamp_millis()))
    }
}

impl FromStr for Timezone {
    type Err = TimezoneError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<Tz>().map(Timezone).map_err(|_| TimezoneError(s.chars().take(64).collect()))
    }
}

impl fmt::Display for Timezone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

crate::named_enum! {
    /// What a schedule does about ticks missed while no scheduler ran.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub enum Misfire {
        /// Missed ticks never run; the schedule resumes at its next tick.
        #[default]
        Skip = "skip",
        /// The missed ticks run once, as one run for the latest of them; the
        /// schedule then resumes at its next tick.
        RunOnce = "run_once",
    }
    parse_error: MisfireError = |s| MisfireError(s.chars().take(64).collect());
}

/// Why a misfire policy name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a misfire policy: use \"skip\" or \"run_once\"")]
pub struct MisfireError(pub String);

/// A parsed cron expression in a time zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    expression: String,
    timezone: Timezone,
    cron: Cron,
}

impl Schedule {
    /// Parses `expression` (5 or 6 fields, or a macro) to be read in `timezone`.
    pub fn new(expression: &str, timezone: Timezone) -> Result<Schedule, ScheduleError> {
        let err = |reason: String| ScheduleError { input: expression.chars().take(200).collect(), reason };
        let trimmed = expression.trim();
        let pattern = if trimmed.starts_with('@') {
            match MACROS.iter().find(|(name, _)| name.eq_ignore_ascii_case(trimmed)) {
                Some((_, pattern)) => *pattern,
                None => {
                    let names: Vec<&str> = MACROS.iter().map(|(name, _)| *name).collect();
                    return Err(err(format!("unknown macro; the macros are {}", names.join(", "))));
                }
            }
        } else {
            trimmed
        };
        let fields = pattern.split_whitespace().count();
        if !(5..=6).contains(&fields) {
            return Err(err(format!(
                "it has {fields} fields; write 5 (minute hour day month weekday) or 6 (second first)"
            )));
        }
        let parser = CronParser::builder().seconds(Seconds::Optional).year(Year::Disallowed).build();
        let cron = parser.parse(pattern).map_err(|e| err(e.to_string()))?;
        let schedule = Schedule { expression: trimmed.to_string(), timezone, cron };
        // An expression such as `0 0 30 2 *` parses but never fires.
        if schedule.next_after(UnixMillis(0)).is_none() {
            return Err(err("it never fires (no date matches it)".into()));
        }
        Ok(schedule)
    }

    /// The expression as given, trimmed.
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The time zone the expression is read in.
    pub fn timezone(&self) -> Timezone {
        self.timezone
    }

    /// The first tick strictly after `t`, by the DST rule of the module doc;
    /// `None` when the schedule never fires again.
    pub fn next_after(&self, t: UnixMillis) -> Option<UnixMillis> {
        let tz = self.timezone.0;
        // Ticks are whole seconds: searching after the second holding `t`
        // gives a tick later than `t` itself.
        let mut cursor = tz.from_utc_datetime(&DateTime::<Utc>::from_timestamp(t.0.div_euclid(1000), 0)?.naive_utc());
        for _ in 0..MAX_REPEATED_TICKS {
            let next = self.cron.find_next_occurrence(&cursor, false).ok()?;
            let at = UnixMillis(next.timestamp_millis());
            if at > t {
                return Some(at);
            }
            // `t` lies in the second pass of a repeated hour and croner found
            // the first pass of a later local time: that local time has
            // fired already. Step on past it, in the second pass.
            cursor = match tz.from_local_datetime(&next.naive_local()) {
                LocalResult::Ambiguous(_, later) => later,
                _ => next,
            };
        }
        None
    }

    /// The latest tick at or before `t`, if any in the last year or so.
    fn latest_at_or_before(&self, t: UnixMillis) -> Option<UnixMillis> {
        let tz = self.timezone.0;
        let at = tz.from_utc_datetime(&DateTime::<Utc>::from_timestamp(t.0.div_euclid(1000), 0)?.naive_utc());
        self.cron.find_previous_occurrence(&at, true).ok().map(|d| UnixMillis(d.timestamp_millis()))
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.expression, self.timezone)
    }
}

/// One run to fire now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fire {
    /// The tick the run stands for: the latest due one.
    pub scheduled_at: UnixMillis,
    /// True when it stands for missed ticks (`run_once`), false for a tick
    /// found within the grace with none missed before it.
    pub missed: bool,
}

/// What to do with a schedule whose stored next tick has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DuePlan {
    /// The run to fire, if any (none when missed ticks are skipped).
    pub fire: Option<Fire>,
    /// The next due tick to store; `None` when the schedule never fires again.
    pub next_run_at: Option<UnixMillis>,
}

/// Decides what a due schedule does at `now`: `None` when `next_run_at` has
/// not come yet.
///
/// A schedule fires at most one run per call, for its latest due tick (the
/// latest tick at or before `now`), and its next due tick becomes the first
/// tick after `now`; every earlier due tick is dropped. So a scheduler that
/// looked late, or after downtime, never fires a burst of runs.
///
/// - The latest due tick within [`MISFIRE_GRACE`] of `now` fires under
///   either policy. Under `run_once` it is marked `missed` when an earlier
///   due tick was older than the grace: the run stands for those too.
/// - The latest due tick older than the grace is missed: `skip` fires
///   nothing, `run_once` fires one run for it, marked `missed`.
pub fn plan_due(schedule: &Schedule, next_run_at: UnixMillis, now: UnixMillis, misfire: Misfire) -> Option<DuePlan> {
    if next_run_at > now {
        return None;
    }
    let cutoff = UnixMillis(now.0.saturating_sub(i64::try_from(MISFIRE_GRACE.as_millis()).unwrap_or(i64::MAX)));
    let latest = latest_due(schedule, next_run_at, now);
    let fire = if latest >= cutoff {
        Some(Fire { scheduled_at: latest, missed: misfire == Misfire::RunOnce && next_run_at < cutoff })
    } else {
        match misfire {
            Misfire::Skip => None,
            Misfire::RunOnce => Some(Fire { scheduled_at: latest, missed: true }),
        }
    };
    Some(DuePlan { fire, next_run_at: schedule.next_after(now) })
}

/// The latest tick of `schedule` at or before `now`, given that `next_run_at`
/// (≤ `now`) is due: croner's latest occurrence when it is a tick by the DST
/// rule, then forward tick by tick (bounded) to the last one not after `now`.
fn latest_due(schedule: &Schedule, next_run_at: UnixMillis, now: UnixMillis) -> UnixMillis {
    let mut latest = next_run_at;
    // Croner's occurrence may be the second pass of a repeated hour, which is
    // no tick: the tick found from just before it is, if not after `now`.
    if let Some(near) = schedule.latest_at_or_before(now).filter(|t| *t > next_run_at)
        && let Some(tick) = schedule.next_after(UnixMillis(near.0 - 1)).filter(|t| *t <= now)
    {
        latest = latest.max(tick);
    }
    for _ in 0..MAX_REPEATED_TICKS {
        match schedule.next_after(latest) {
            Some(t) if t <= now => latest = t,
            _ => break,
        }
    }
    latest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> UnixMillis {
        UnixMillis::parse_rfc3339(s).unwrap()
    }

    fn schedule(expr: &str, tz: &str) -> Schedule {
        Schedule::new(expr, tz.parse().unwrap()).unwrap()
    }

    /// The ticks of `expr` in `tz` after `from`, in UTC, as RFC 3339.
    fn check(expr: &str, tz: &str, from: &str, expected: &[&str]) {
        let s = schedule(expr, tz);
        let mut t = utc(from);
        let mut got = Vec::new();
        for _ in 0..expected.len() {
            t = s.next_after(t).unwrap_or_else(|| panic!("{expr} in {tz} stopped after {t}"));
            got.push(t.to_rfc3339());
        }
        let expected: Vec<String> = expected.iter().map(|e| utc(e).to_rfc3339()).collect();
        assert_eq!(got, expected, "{expr} in {tz} after {from}");
    }

    #[test]
    fn five_field_schedules_in_utc() {
        check(
            "*/15 * * * *",
            "UTC",
            "2026-01-01T10:07:00Z",
            &["2026-01-01T10:15:00Z", "2026-01-01T10:30:00Z", "2026-01-01T10:45:00Z"],
        );
        check("0 9 * * MON-FRI", "UTC", "2026-01-02T12:00:00Z", &["2026-01-05T09:00:00Z", "2026-01-06T09:00:00Z"]);
        check("30 4 1 * *", "UTC", "2026-01-15T00:00:00Z", &["2026-02-01T04:30:00Z", "2026-03-01T04:30:00Z"]);
    }

    #[test]
    fn a_tick_is_strictly_after_the_given_time() {
        check("0 * * * *", "UTC", "2026-01-01T10:00:00Z", &["2026-01-01T11:00:00Z"]);
        check("0 * * * *", "UTC", "2026-01-01T09:59:59.999Z", &["2026-01-01T10:00:00Z"]);
    }

    #[test]
    fn six_field_schedules_have_seconds_first() {
        check("* * * * * *", "UTC", "2026-01-01T10:00:00.500Z", &["2026-01-01T10:00:01Z", "2026-01-01T10:00:02Z"]);
        check("*/20 * * * * *", "UTC", "2026-01-01T10:00:05Z", &["2026-01-01T10:00:20Z", "2026-01-01T10:00:40Z"]);
        check("30 0 12 * * *", "UTC", "2026-01-01T00:00:00Z", &["2026-01-01T12:00:30Z", "2026-01-02T12:00:30Z"]);
    }

    #[test]
    fn macros_mean_their_documented_expressions() {
        check("@hourly", "UTC", "2026-01-01T10:20:00Z", &["2026-01-01T11:00:00Z"]);
        check("@daily", "UTC", "2026-01-01T10:20:00Z", &["2026-01-02T00:00:00Z"]);
        check("@midnight", "UTC", "2026-01-01T10:20:00Z", &["2026-01-02T00:00:00Z"]);
        // 2026-01-01 is a Thursday; weeks start on Sunday.
        check("@weekly", "UTC", "2026-01-01T10:20:00Z", &["2026-01-04T00:00:00Z"]);
        check("@monthly", "UTC", "2026-01-01T10:20:00Z", &["2026-02-01T00:00:00Z"]);
        check("@yearly", "UTC", "2026-01-01T10:20:00Z", &["2027-01-01T00:00:00Z"]);
        check("@annually", "UTC", "2026-01-01T10:20:00Z", &["2027-01-01T00:00:00Z"]);
        check("@DAILY", "UTC", "2026-01-01T10:20:00Z", &["2026-01-02T00:00:00Z"]);
    }

    #[test]
    fn time_zones_move_local_times() {
        // New York is UTC-5 in winter, UTC-4 in summer; Berlin UTC+1 and UTC+2.
        check("0 9 * * *", "America/New_York", "2026-01-10T00:00:00Z", &["2026-01-10T14:00:00Z"]);
        check("0 9 * * *", "America/New_York", "2026-07-10T00:00:00Z", &["2026-07-10T13:00:00Z"]);
        check("0 9 * * *", "Europe/Berlin", "2026-01-10T00:00:00Z", &["2026-01-10T08:00:00Z"]);
        check("0 9 * * *", "Europe/Berlin", "2026-07-10T00:00:00Z", &["2026-07-10T07:00:00Z"]);
    }

    #[test]
    fn daily_runs_keep_their_local_time_across_dst() {
        // New York springs forward on 2026-03-08 and falls back on 2026-11-01.
        check(
            "0 9 * * *",
            "America/New_York",
            "2026-03-07T00:00:00Z",
            &["2026-03-07T14:00:00Z", "2026-03-08T13:00:00Z"],
        );
        check(
            "0 9 * * *",
            "America/New_York",
            "2026-10-31T00:00:00Z",
            &["2026-10-31T13:00:00Z", "2026-11-01T14:00:00Z"],
        );
    }

    #[test]
    fn a_local_time_skipped_by_spring_forward_fires_right_after_the_gap() {
        // 02:30 does not exist in New York on 2026-03-08: it fires at 03:00 EDT.
        check(
            "30 2 * * *",
            "America/New_York",
            "2026-03-07T12:00:00Z",
            &["2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"],
        );
        // Berlin skips 02:00-03:00 on 2026-03-29.
        check("30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", &["2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"]);
        // A repeating schedule has no ticks inside the gap.
        check(
            "*/30 * * * *",
            "America/New_York",
            "2026-03-08T06:15:00Z",
            &["2026-03-08T06:30:00Z", "2026-03-08T07:00:00Z", "2026-03-08T07:30:00Z"],
        );
    }

    #[test]
    fn a_local_time_repeated_at_fall_back_fires_once() {
        // 01:30 happens twice in New York on 2026-11-01 (EDT, then EST).
        check(
            "30 1 * * *",
            "America/New_York",
            "2026-10-31T12:00:00Z",
            &["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"],
        );
        // Berlin repeats 02:00-03:00 on 2026-10-25.
        check("30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", &["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]);
        // Every 30 minutes: the repeated hour runs on its first pass only,
        // then 02:00 EST follows 01:30 EDT.
        check(
            "*/30 * * * *",
            "America/New_York",
            "2026-11-01T04:45:00Z",
            &["2026-11-01T05:00:00Z", "2026-11-01T05:30:00Z", "2026-11-01T07:00:00Z", "2026-11-01T07:30:00Z"],
        );
        // Asked from inside the second pass, the next tick is after it.
        check("*/30 * * * *", "America/New_York", "2026-11-01T06:10:00Z", &["2026-11-01T07:00:00Z"]);
        check("30 1 * * *", "America/New_York", "2026-11-01T06:10:00Z", &["2026-11-02T06:30:00Z"]);
    }

    #[test]
    fn bad_expressions_and_zones_say_why() {
        for bad in ["", "* * * *", "* * * * * * *", "61 * * * *", "* * * * MONDAY", "@reboot", "@often", "0 0 30 2 *"] {
            let e = Schedule::new(bad, Timezone::UTC).unwrap_err();
            assert!(e.to_string().contains("is not a cron schedule"), "{bad}: {e}");
        }
        let e = Schedule::new("* * * *", Timezone::UTC).unwrap_err();
        assert!(e.to_string().contains("4 fields"), "{e}");
        assert!("Mars/Olympus".parse::<Timezone>().is_err());
        assert_eq!("Europe/Berlin".parse::<Timezone>().unwrap().name(), "Europe/Berlin");
        assert_eq!("run_once".parse::<Misfire>().unwrap(), Misfire::RunOnce);
        assert!("later".parse::<Misfire>().is_err());
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        /// Schedules of each kind (fixed local time, intervals, seconds),
        /// several of them touching the hours DST moves.
        const EXPRESSIONS: &[&str] = &[
            "30 2 * * *",
            "0 3 * * *",
            "*/15 * * * *",
            "0,30 1-3 * * *",
            "*/20 * 2 * * *",
            "0 9 * * MON-FRI",
            "@hourly",
            "@daily",
        ];
        const ZONES: &[&str] = &["America/New_York", "Europe/Berlin", "UTC"];
        /// 2026-01-01 to 2028-01-01: two springs and two autumns of each zone.
        const SPAN: std::ops::Range<i64> = 1_767_225_600_000..1_830_297_600_000;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(200))]

            /// Ticks come strictly later in UTC and in local wall-clock time
            /// alike (so no local time fires twice), and nothing is skipped:
            /// asking from any instant between two ticks gives the second.
            #[test]
            fn ticks_move_forward_in_utc_and_in_local_time(
                expr in proptest::sample::select(EXPRESSIONS),
                zone in proptest::sample::select(ZONES),
                start in SPAN,
                probe in 0.0f64..1.0,
            ) {
                let tz: Timezone = zone.parse().unwrap();
                let s = Schedule::new(expr, tz).unwrap();
                let local = |t: UnixMillis| {
                    DateTime::<Utc>::from_timestamp_millis(t.0).unwrap().with_timezone(&tz.0).naive_local()
                };
                let mut t = UnixMillis(start);
                for _ in 0..40 {
                    let next = s.next_after(t).unwrap();
                    prop_assert!(next > t, "{expr} in {zone}: {next} after {t}");
                    let between = UnixMillis(t.0 + ((next.0 - t.0) as f64 * probe) as i64);
                    prop_assert_eq!(s.next_after(between.min(UnixMillis(next.0 - 1))), Some(next));
                    if t.0 != start {
                        prop_assert!(local(next) > local(t), "{expr} in {zone}: local {} then {}", local(t), local(next));
                    }
                    t = next;
                }
            }
        }
    }

    fn plan(expr: &str, next: &str, now: &str, misfire: Misfire) -> Option<(Option<(String, bool)>, String)> {
        plan_due(&schedule(expr, "UTC"), utc(next), utc(now), misfire)
            .map(|p| (p.fire.map(|f| (f.scheduled_at.to_rfc3339(), f.missed)), p.next_run_at.unwrap().to_rfc3339()))
    }

    fn at(s: &str) -> String {
        utc(s).to_rfc3339()
    }

    #[test]
    fn nothing_is_due_before_the_next_tick() {
        assert_eq!(plan("0 * * * *", "2026-01-01T11:00:00Z", "2026-01-01T10:59:59.999Z", Misfire::Skip), None);
    }

    #[test]
    fn a_tick_found_late_within_the_grace_fires_under_either_policy() {
        for misfire in [Misfire::Skip, Misfire::RunOnce] {
            assert_eq!(
                plan("0 * * * *", "2026-01-01T11:00:00Z", "2026-01-01T11:00:01Z", misfire),
                Some((Some((at("2026-01-01T11:00:00Z"), false)), at("2026-01-01T12:00:00Z")))
            );
            assert_eq!(
                plan("0 * * * *", "2026-01-01T11:00:00Z", "2026-01-01T11:01:00Z", misfire),
                Some((Some((at("2026-01-01T11:00:00Z"), false)), at("2026-01-01T12:00:00Z")))
            );
        }
        // Several ticks due at once: only the latest fires, and the schedule
        // moves past now (a scheduler that looked late never bursts).
        for misfire in [Misfire::Skip, Misfire::RunOnce] {
            assert_eq!(
                plan("* * * * * *", "2026-01-01T11:00:00Z", "2026-01-01T11:00:03Z", misfire),
                Some((Some((at("2026-01-01T11:00:03Z"), false)), at("2026-01-01T11:00:04Z")))
            );
        }
    }

    #[test]
    fn skip_fires_at_most_one_catch_up_run_whatever_the_lateness() {
        // A per-second schedule after 75 s with no scheduler: the ticks less
        // than 60 s late do not all fire; only the latest due tick does.
        let s = schedule("* * * * * *", "UTC");
        let next = utc("2026-01-01T11:00:00Z");
        for late_s in [1, 2, 30, 59, 60, 61, 75, 3_600, 86_400 * 3] {
            let now = UnixMillis(next.0 + late_s * 1000 + 400);
            let p = plan_due(&s, next, now, Misfire::Skip).unwrap();
            let fired = p.fire.expect("the latest due tick is always within the grace");
            assert_eq!(
                fired,
                Fire { scheduled_at: UnixMillis(next.0 + late_s * 1000), missed: false },
                "{late_s}s late"
            );
            assert_eq!(p.next_run_at, Some(UnixMillis(next.0 + (late_s + 1) * 1000)), "{late_s}s late");
            assert_eq!(plan_due(&s, p.next_run_at.unwrap(), now, Misfire::Skip), None, "nothing more is due");
        }
        // An hourly schedule found 75 s late (within a minute-and-a-bit): its
        // one due tick is older than the grace, so skip drops it.
        let hourly = schedule("0 * * * *", "UTC");
        let p = plan_due(&hourly, next, utc("2026-01-01T11:01:15Z"), Misfire::Skip).unwrap();
        assert_eq!((p.fire, p.next_run_at), (None, Some(utc("2026-01-01T12:00:00Z"))));
    }

    #[test]
    fn run_once_fires_one_run_standing_for_every_due_tick() {
        // Down 75 s: one run for the latest tick, marked as standing for
        // missed ones, then on with the schedule.
        let s = schedule("* * * * * *", "UTC");
        let next = utc("2026-01-01T11:00:00Z");
        let p = plan_due(&s, next, utc("2026-01-01T11:01:15Z"), Misfire::RunOnce).unwrap();
        assert_eq!(p.fire, Some(Fire { scheduled_at: utc("2026-01-01T11:01:15Z"), missed: true }));
        assert_eq!(p.next_run_at, Some(utc("2026-01-01T11:01:16Z")));
    }

    #[test]
    fn skip_drops_missed_ticks_and_resumes_at_the_next() {
        assert_eq!(
            plan("0 * * * *", "2026-01-01T11:00:00Z", "2026-01-01T15:30:00Z", Misfire::Skip),
            Some((None, at("2026-01-01T16:00:00Z")))
        );
        // The latest due tick within the grace of now is not missed: it fires,
        // alone.
        assert_eq!(
            plan("*/5 * * * *", "2026-01-01T11:00:00Z", "2026-01-01T15:00:30Z", Misfire::Skip),
            Some((Some((at("2026-01-01T15:00:00Z"), false)), at("2026-01-01T15:05:00Z")))
        );
    }

    #[test]
    fn run_once_fires_one_run_for_the_latest_missed_tick() {
        assert_eq!(
            plan("0 * * * *", "2026-01-01T11:00:00Z", "2026-01-01T15:30:00Z", Misfire::RunOnce),
            Some((Some((at("2026-01-01T15:00:00Z"), true)), at("2026-01-01T16:00:00Z")))
        );
        // One missed tick only.
        assert_eq!(
            plan("0 * * * *", "2026-01-01T11:00:00Z", "2026-01-01T11:30:00Z", Misfire::RunOnce),
            Some((Some((at("2026-01-01T11:00:00Z"), true)), at("2026-01-01T12:00:00Z")))
        );
    }

    #[test]
    fn the_latest_due_tick_in_a_repeated_hour_is_on_its_first_pass() {
        // New York falls back at 02:00 EDT on 2026-11-01: 01:00–01:59 passes
        // twice, and only the first pass has ticks.
        let s = schedule("*/15 * * * *", "America/New_York");
        let first_pass = utc("2026-11-01T05:00:00Z");
        let in_second_pass = utc("2026-11-01T06:20:00Z");
        let p = plan_due(&s, first_pass, in_second_pass, Misfire::RunOnce).unwrap();
        assert_eq!(p.fire, Some(Fire { scheduled_at: utc("2026-11-01T05:45:00Z"), missed: true }));
        assert_eq!(p.next_run_at, Some(utc("2026-11-01T07:00:00Z")), "02:00 EST");
        let p = plan_due(&s, first_pass, in_second_pass, Misfire::Skip).unwrap();
        assert_eq!((p.fire, p.next_run_at), (None, Some(utc("2026-11-01T07:00:00Z"))));
    }

    #[test]
    fn after_downtime_across_dst_the_schedule_resumes_in_local_time() {
        let s = schedule("30 1 * * *", "America/New_York");
        let p = plan_due(&s, utc("2026-10-30T05:30:00Z"), utc("2026-11-01T06:45:00Z"), Misfire::RunOnce).unwrap();
        assert_eq!(p.fire, Some(Fire { scheduled_at: utc("2026-11-01T05:30:00Z"), missed: true }));
        assert_eq!(p.next_run_at, Some(utc("2026-11-02T06:30:00Z")));
    }
}
