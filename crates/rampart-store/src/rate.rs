//! Queue start rates inside the lease (migration 0016, `queue_rates`).
//!
//! A lease of a queue with a [`QueueRate`] runs, in one transaction that
//! no other lease of the queue interleaves with (SQLite's one writer; a
//! per-queue advisory transaction lock on PostgreSQL): delete the queue's
//! ended windows, read the open ones into [`RateWindows`], then scan the
//! available jobs in lease order in passes. Each pass skips the groups
//! already full, so a full tenant never holds up the tenants behind it; a
//! row of a group that filled during the pass is left, and the next pass
//! excludes that group too. Each pass that goes on has filled one more
//! group, so a lease makes at most one pass more than the groups it fills.
//! The counts it took are added to the windows before it commits.

use std::collections::BTreeMap;

use rampart_core::id::QueueName;
use rampart_core::queue::{QueueRate, RateKey};
use rampart_core::time::UnixMillis;

use crate::job::LeasedJob;

/// What a lease gave out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobLeased {
    /// The jobs, highest priority first, then oldest `run_at`.
    pub jobs: Vec<LeasedJob>,
    /// When the queue has a start rate and a window is full: the earliest
    /// time one of the full windows ends, when jobs its rate held back may
    /// start (a long-poll wakes then).
    pub rate_reopens_at: Option<UnixMillis>,
}

/// A queue's start-rate windows now, as the diagnostics show them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueRateStatus {
    /// Leases given out in the open windows.
    pub started: u64,
    /// Groups with an open window (1 at most without a rate key).
    pub groups: u64,
    /// Groups whose window is full.
    pub full: u64,
    /// The earliest end of a full window.
    pub reopens_at: Option<UnixMillis>,
}

/// Reads a queue's start-rate windows.
#[derive(Debug, Clone)]
pub struct QueueRateParams {
    /// The queue.
    pub queue: QueueName,
    /// Its rate and key (only windows of that key are read).
    pub rate: QueueRate,
    /// Windows that ended by now are not counted.
    pub now: UnixMillis,
}

/// The `rate_key` column of a rate: '' for the whole queue.
pub(crate) fn key_column(rate: &QueueRate) -> &'static str {
    rate.key.map_or("", RateKey::as_str)
}

/// The SQL expression of a job's group under a rate: its tenant ('' for
/// none), or '' for every job when the queue shares one window.
pub(crate) fn group_sql(rate: &QueueRate) -> &'static str {
    match rate.key {
        Some(RateKey::Tenant) => "COALESCE(tenant, '')",
        None => "''",
    }
}

/// One group's window during a lease.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: UnixMillis,
    started: u64,
    taken: u64,
}

/// The open windows of a queue's groups during one lease, and what the
/// lease takes from them.
#[derive(Debug)]
pub(crate) struct RateWindows {
    rate: QueueRate,
    now: UnixMillis,
    windows: BTreeMap<String, Window>,
}

impl RateWindows {
    /// The windows read after the ended ones were deleted: `(group,
    /// window_start, started)`.
    pub(crate) fn new(rate: QueueRate, now: UnixMillis, rows: Vec<(String, i64, i64)>) -> Self {
        let windows = rows
            .into_iter()
            .map(|(group, start, started)| {
                (group, Window { start: UnixMillis(start), started: u64::try_from(started).unwrap_or(0), taken: 0 })
            })
            .collect();
        RateWindows { rate, now, windows }
    }

    fn room(&self, w: &Window) -> u64 {
        u64::from(self.rate.rate.limit).saturating_sub(w.started + w.taken)
    }

    /// The groups with no room left, which a scan skips.
    pub(crate) fn full(&self) -> Vec<String> {
        self.windows.iter().filter(|(_, w)| self.room(w) == 0).map(|(g, _)| g.clone()).collect()
    }

    /// Room left for the whole queue's window (a rate without a key).
    pub(crate) fn room_of(&self, group: &str) -> u64 {
        self.windows.get(group).map_or(u64::from(self.rate.rate.limit), |w| self.room(w))
    }

    /// Counts a start in `group` if its window has room; false leaves the row.
    pub(crate) fn take(&mut self, group: &str) -> bool {
        let limit = u64::from(self.rate.rate.limit);
        let now = self.now;
        let w = self.windows.entry(group.to_string()).or_insert(Window { start: now, started: 0, taken: 0 });
        if w.started + w.taken >= limit {
            return false;
        }
        w.taken += 1;
        true
    }

    /// The starts this lease took per group, with each window's start, to
    /// add to `queue_rates`.
    pub(crate) fn taken(&self) -> impl Iterator<Item = (&str, UnixMillis, i64)> {
        self.windows
            .iter()
            .filter(|(_, w)| w.taken > 0)
            .map(|(g, w)| (g.as_str(), w.start, i64::try_from(w.taken).unwrap_or(i64::MAX)))
    }

    /// The windows as the diagnostics show them.
    pub(crate) fn status(&self) -> QueueRateStatus {
        QueueRateStatus {
            started: self.windows.values().map(|w| w.started + w.taken).sum(),
            groups: self.windows.len() as u64,
            full: self.windows.values().filter(|w| self.room(w) == 0).count() as u64,
            reopens_at: self.reopens_at(),
        }
    }

    /// The earliest end of a full window.
    pub(crate) fn reopens_at(&self) -> Option<UnixMillis> {
        self.windows.values().filter(|w| self.room(w) == 0).map(|w| w.start.plus(self.rate.rate.per)).min()
    }
}

/// What a lease may take under the rate: all of `max` for a rate by
/// group, at most the window's room for one rate over the whole queue.
pub(crate) fn lease_cap(windows: &RateWindows, max: u32) -> u64 {
    let max = u64::from(max);
    if windows.rate.key.is_none() { max.min(windows.room_of("")) } else { max }
}

impl RateWindows {
    /// Keeps the rows of one pass (`(id, group)`, read asking for `want`)
    /// whose group has room, counting them; answers their ids and whether
    /// another pass may find more (a row was left because its group filled).
    pub(crate) fn keep(&mut self, rows: Vec<(i64, String)>, want: u64) -> (Vec<i64>, bool) {
        let seen = rows.len() as u64;
        let ids: Vec<i64> = rows.into_iter().filter(|(_, group)| self.take(group)).map(|(id, _)| id).collect();
        // Fewer rows than asked: nothing more is available outside the full
        // groups. None left: the pass took all it asked for.
        let more = seen == want && (ids.len() as u64) < seen;
        (ids, more)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rampart_core::queue::StartRate;

    use super::*;

    fn rate(limit: u32, key: Option<RateKey>) -> QueueRate {
        QueueRate { rate: StartRate { limit, per: Duration::from_secs(60) }, key }
    }

    #[test]
    fn a_pass_that_left_a_row_of_a_group_it_filled_asks_for_another() {
        let rows = |groups: &[&str]| groups.iter().enumerate().map(|(i, g)| (i as i64, g.to_string())).collect();
        let mut w = RateWindows::new(rate(1, Some(RateKey::Tenant)), UnixMillis(0), Vec::new());
        assert_eq!(w.keep(rows(&["a", "a", "b"]), 3), (vec![0, 2], true));
        assert_eq!(w.keep(rows(&["c"]), 1), (vec![0], false), "took all it asked for");
        assert_eq!(w.keep(rows(&["d", "d"]), 3), (vec![0], false), "nothing more outside the full groups");
        let whole = RateWindows::new(rate(3, None), UnixMillis(0), vec![(String::new(), 0, 1)]);
        assert_eq!(lease_cap(&whole, 10), 2);
    }

    #[test]
    fn groups_fill_and_reopen_when_their_window_ends() {
        let now = UnixMillis(10_000);
        let rows = vec![("a".to_string(), 1_000, 2), ("b".to_string(), 5_000, 1)];
        let mut w = RateWindows::new(rate(2, Some(RateKey::Tenant)), now, rows);
        assert_eq!(w.full(), vec!["a".to_string()]);
        assert_eq!(w.reopens_at(), Some(UnixMillis(61_000)));
        assert!(!w.take("a"));
        assert!(w.take("b") && !w.take("b"));
        assert!(w.take("") && w.take("") && !w.take(""));
        assert_eq!(w.full(), vec![String::new(), "a".to_string(), "b".to_string()]);
        let taken: Vec<_> = w.taken().collect();
        assert_eq!(lease_cap(&w, 5), 5, "a rate by group takes what it is asked");
        assert_eq!(taken, vec![("", now, 2), ("b", UnixMillis(5_000), 1)]);
        assert_eq!(w.room_of("c"), 2);
    }
}
