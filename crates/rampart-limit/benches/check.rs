//! An in-process check on the memory backend: the figure to hold is a
//! median of at most 150 ns.

#![allow(clippy::unwrap_used, reason = "a benchmark that cannot set up should stop at once")]
#![allow(missing_docs, reason = "criterion_group! defines undocumented public functions")]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use rampart_limit::memory::{MemoryLimiter, PolicyId};
use rampart_limit::policy::MAX_LIMIT;
use rampart_limit::{Algorithm, Nanos, Policy};

/// Keys already present, so lookups probe a table of realistic size.
const KEYS: usize = 100_000;
const NOW: Nanos = 1_750_000_000_000_000_000;

fn check(c: &mut Criterion) {
    let keys: Vec<String> = (0..KEYS).map(|i| format!("user:{i}")).collect();
    for algorithm in [Algorithm::SlidingWindow, Algorithm::Gcra] {
        // A limit no run reaches, so every check is an allowed hit that writes.
        let burst = (algorithm == Algorithm::Gcra).then_some(MAX_LIMIT);
        let policy = Policy::new(MAX_LIMIT, Duration::from_secs(60), algorithm, burst).unwrap();
        let limiter = MemoryLimiter::new(1_000_000);
        for key in &keys {
            limiter.check(PolicyId(1), &policy, key, 1, NOW);
        }
        let mut group = c.benchmark_group(algorithm.as_str());
        group.bench_function("same_key", |b| {
            b.iter(|| limiter.check(PolicyId(1), &policy, black_box("user:4242"), 1, black_box(NOW)))
        });
        let mut next = 0;
        group.bench_function("many_keys", |b| {
            b.iter(|| {
                next = (next + 7919) % KEYS;
                limiter.check(PolicyId(1), &policy, black_box(&keys[next]), 1, black_box(NOW))
            })
        });
        group.finish();
    }
}

criterion_group!(benches, check);
criterion_main!(benches);
