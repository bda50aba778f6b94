//! The workers this node has seen lease, with when each last did: what
//! readiness reports as "workers seen in the last minute", and, for the
//! queues whose readiness requires workers (`ready_requires_workers`), the
//! workers seen per queue.
//!
//! A worker is known by the name it leases under (`worker` of a lease), or
//! by its API key (`key:<id>`) when it gives none. One lock and one lookup
//! per lease call; a name is copied only the first time it is seen. Names
//! not seen for [`FORGET_AFTER`] are dropped when the map grows past
//! [`PRUNE_ABOVE`], so a stream of one-off names cannot grow it for ever.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use rampart_core::id::QueueName;
use rampart_core::time::UnixMillis;

/// How long a name is kept after it was last seen, once the map is large.
const FORGET_AFTER: Duration = Duration::from_secs(600);
/// Size past which old names are dropped.
const PRUNE_ABOVE: usize = 10_000;

#[derive(Default)]
pub(super) struct Workers {
    seen: Mutex<Seen>,
    /// Only the queues whose readiness requires workers.
    per_queue: Mutex<HashMap<QueueName, Seen>>,
}

/// Names with when each was last seen.
#[derive(Default)]
struct Seen(HashMap<String, UnixMillis>);

impl Seen {
    fn note(&mut self, who: &str, now: UnixMillis) {
        if let Some(at) = self.0.get_mut(who) {
            *at = now;
            return;
        }
        if self.0.len() >= PRUNE_ABOVE {
            let cutoff = UnixMillis(now.0 - FORGET_AFTER.as_millis() as i64);
            self.0.retain(|_, at| *at >= cutoff);
        }
        self.0.insert(who.to_string(), now);
    }

    fn count_since(&self, since: UnixMillis) -> usize {
        self.0.values().filter(|at| **at >= since).count()
    }
}

impl Workers {
    pub(super) fn seen(&self, who: &str, now: UnixMillis) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.note(who, now);
        }
    }

    /// Notes a worker of a queue whose readiness counts its workers.
    pub(super) fn seen_on(&self, queue: &QueueName, who: &str, now: UnixMillis) {
        let Ok(mut per_queue) = self.per_queue.lock() else { return };
        match per_queue.get_mut(queue) {
            Some(seen) => seen.note(who, now),
            None => per_queue.entry(queue.clone()).or_default().note(who, now),
        }
    }

    pub(super) fn count_since(&self, since: UnixMillis) -> usize {
        self.seen.lock().map(|seen| seen.count_since(since)).unwrap_or(0)
    }

    /// Workers of `queue` seen since `since` (only counted for the queues
    /// noted with [`Workers::seen_on`]).
    pub(super) fn count_on_since(&self, queue: &QueueName, since: UnixMillis) -> usize {
        self.per_queue.lock().ok().and_then(|m| m.get(queue).map(|s| s.count_since(since))).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_the_names_seen_since_a_time() {
        let w = Workers::default();
        w.seen("a", UnixMillis(1_000));
        w.seen("b", UnixMillis(2_000));
        w.seen("a", UnixMillis(3_000));
        assert_eq!(w.count_since(UnixMillis(2_500)), 1);
        assert_eq!(w.count_since(UnixMillis(2_000)), 2);
        assert_eq!(w.count_since(UnixMillis(3_001)), 0);
    }

    #[test]
    fn counts_each_queue_apart() {
        let w = Workers::default();
        let (a, b) = (QueueName::new("a").unwrap(), QueueName::new("b").unwrap());
        w.seen_on(&a, "w1", UnixMillis(1_000));
        w.seen_on(&a, "w2", UnixMillis(2_000));
        w.seen_on(&b, "w1", UnixMillis(2_000));
        assert_eq!(w.count_on_since(&a, UnixMillis(1_000)), 2);
        assert_eq!(w.count_on_since(&a, UnixMillis(1_500)), 1);
        assert_eq!(w.count_on_since(&b, UnixMillis(0)), 1);
        assert_eq!(w.count_on_since(&QueueName::new("c").unwrap(), UnixMillis(0)), 0);
    }

    #[test]
    fn old_names_go_once_the_map_is_large() {
        let w = Workers::default();
        for i in 0..PRUNE_ABOVE {
            w.seen(&format!("old-{i}"), UnixMillis(0));
        }
        let later = UnixMillis(FORGET_AFTER.as_millis() as i64 + 1);
        w.seen("new", later);
        assert_eq!(w.seen.lock().unwrap().0.len(), 1);
        assert_eq!(w.count_since(UnixMillis(0)), 1);
    }
}
