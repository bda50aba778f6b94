//! Resident memory with a million live keys in the memory backend:
//! `cargo run --release -p rampart-limit --example million_keys`.

use std::time::Duration;

use rampart_limit::memory::{MemoryLimiter, PolicyId};
use rampart_limit::{Algorithm, Policy};

const KEYS: usize = 1_000_000;

fn main() {
    let now = 1_750_000_000_000_000_000;
    let policy = Policy::new(100, Duration::from_secs(60), Algorithm::SlidingWindow, None)
        .expect("100 per minute is a valid policy");
    let limiter = MemoryLimiter::new(2 * KEYS);
    let before = rss_kib();
    let mut key = String::new();
    for i in 0..KEYS {
        key.clear();
        key.push_str("user:");
        key.push_str(&i.to_string());
        limiter.check(PolicyId(1), &policy, &key, 1, now);
    }
    let after = rss_kib();
    println!("{limiter:?}: {} live keys", limiter.len());
    println!("VmRSS before: {:.1} MiB, after: {:.1} MiB", before as f64 / 1024.0, after as f64 / 1024.0);
    println!("about {} bytes a key", (after - before) * 1024 / KEYS as u64);
}

/// VmRSS from /proc/self/status, in KiB (0 where there is none).
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
