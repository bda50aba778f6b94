//! The in-process guards' costs. Figures to hold: a breaker check (acquire
//! on a closed breaker) of at most 100 ns, and `safe_call` adding at most
//! 1 µs to a call that succeeds at once.

#![allow(clippy::unwrap_used, reason = "a benchmark that cannot set up should stop at once")]
#![allow(missing_docs, reason = "criterion_group! defines undocumented public functions")]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use rampart_core::breaker::{BreakerPolicy, Outcome};
use rampart_core::time::SystemClock;
use rampart_guard::{Breaker, CallPolicy, safe_call};

fn breaker(c: &mut Criterion) {
    let b = Breaker::new(BreakerPolicy::default(), Arc::new(SystemClock)).unwrap();
    let mut group = c.benchmark_group("breaker");
    group.bench_function("acquire_closed", |i| i.iter(|| black_box(b.acquire())));
    group.bench_function("acquire_record_closed", |i| {
        i.iter(|| {
            black_box(b.acquire());
            black_box(b.record(Outcome::Success, black_box(Duration::from_millis(3))))
        })
    });
    group.finish();
}

/// A call that is ready at once: what is measured is everything around it.
async fn ready() -> Result<u64, ()> {
    Ok(black_box(7))
}

fn call(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let plain = CallPolicy { timeout: None, ..CallPolicy::default() };
    let timed = CallPolicy::default();
    let guarded = CallPolicy::default()
        .with_breaker(Arc::new(Breaker::new(BreakerPolicy::default(), Arc::new(SystemClock)).unwrap()));
    let mut group = c.benchmark_group("call");
    // Each sample runs its iterations inside one `block_on`, so the runtime's
    // own cost is not in the figure.
    group.bench_function("direct", |i| {
        i.iter_custom(|n| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..n {
                    black_box(ready().await.ok());
                }
                start.elapsed()
            })
        })
    });
    for (name, policy) in [("safe_call_no_timeout", &plain), ("safe_call", &timed), ("safe_call_breaker", &guarded)] {
        group.bench_function(name, |i| {
            i.iter_custom(|n| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..n {
                        black_box(safe_call(policy, ready).await.ok());
                    }
                    start.elapsed()
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, breaker, call);
criterion_main!(benches);
