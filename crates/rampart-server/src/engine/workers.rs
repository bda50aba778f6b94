//! The workers this node has seen lease, with when each last did: what
//! readiness reports as "workers seen in the last minute".
//!
//! A worker is known by the name it leases under (`worker` of a lease), or
//! by its API key (`key:<id>`) when it gives none. One lock and one lookup
//! per lease call; a name is copied only the first time it is seen. Names
//! not seen for [`FORGET_AFTER`] are dropped when the map grows past
//! [`PRUNE_ABOVE`], so a stream of one-off names cannot grow it for ever.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use rampart_core::time::UnixMillis;

/// How long a name is kept after it was last seen, once the map is large.
const FORGET_AFTER: Duration = Duration::from_secs(600);
/// Size past which old names are dropped.
const PRUNE_ABOVE: usize = 10_000;

#[derive(Default)]
pub(super) struct Workers {
    seen: Mutex<HashMap<String, UnixMillis>>,
}

impl Workers {
    pub(super) fn seen(&self, who: &str, now: UnixMillis) {
        let Ok(mut seen) = self.seen.lock() else { return };
        if let Some(at) = seen.get_mut(who) {
            *at = now;
            return;
        }
        if seen.len() >= PRUNE_ABOVE {
            let cutoff = UnixMillis(now.0 - FORGET_AFTER.as_millis() as i64);
            seen.retain(|_, at| *at >= cutoff);
        }
        seen.insert(who.to_string(), now);
    }

    pub(super) fn count_since(&self, since: UnixMillis) -> usize {
        self.seen.lock().map(|seen| seen.values().filter(|at| **at >= since).count()).unwrap_or(0)
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
    fn old_names_go_once_the_map_is_large() {
        let w = Workers::default();
        for i in 0..PRUNE_ABOVE {
            w.seen(&format!("old-{i}"), UnixMillis(0));
        }
        let later = UnixMillis(FORGET_AFTER.as_millis() as i64 + 1);
        w.seen("new", later);
        assert_eq!(w.seen.lock().unwrap().len(), 1);
        assert_eq!(w.count_since(UnixMillis(0)), 1);
    }
}
