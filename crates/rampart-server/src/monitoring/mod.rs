//! Monitoring: the samples of every queue with their history, the totals
//! that survive restarts, firing alerts, HTTP request metrics, and the
//! Prometheus exposition built from them.
//!
//! The [`Monitor`] is the shared handle. The [`crate::service::Sampler`]
//! fills it once per `monitoring.interval`: jobs per state from the store,
//! what this node's engine counted since the last sample (attempts,
//! failures, run times), and the totals of every node, which it keeps in
//! the store by adding this node's deltas. Routes read it; nothing on the
//! queue's hot path waits on it.
//!
//! Hooks for the parts that build on it:
//! - [`Monitor::subscribe`] hands out a `watch` receiver of every new
//!   [`SampleSet`]: the alerting part evaluates its thresholds on each.
//! - [`Monitor::alerts_publish`] takes the alerts firing now; queue health
//!   and system health report them (and say `degraded` while any fires).
//! - Circuit breakers come in through [`crate::breaker::statuses`]: system
//!   health counts them (degraded while one is open) and `/metrics` writes
//!   `rampart_breaker_state`. Further components add a field to
//!   `SystemComponents` and a section to [`prometheus::render`].

pub mod http;
pub mod memory;
pub mod prometheus;

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rampart_core::id::QueueName;
use rampart_core::queue::QueueCounters;
use rampart_core::time::UnixMillis;
use rampart_store::{QueueCounts, QueueRecord, QueueTotalsDelta, QueueTotalsRecord};
use tokio::sync::watch;

use crate::config::MonitoringConfig;
use crate::engine::{Engine, RunningTotals};
use http::HttpMetrics;

/// One queue at one sampling.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueSample {
    /// The queue.
    pub queue: QueueName,
    /// When it was taken.
    pub at: UnixMillis,
    /// Jobs per state at that time.
    pub counts: QueueCounts,
    /// Totals of every node since they were first stored, this node's
    /// latest included.
    pub totals: QueueCounters,
    /// Attempts that ended on this node since the previous sample.
    pub interval_attempts: u64,
    /// Of those, the failed ones.
    pub interval_failed: u64,
    /// `interval_failed / interval_attempts` (0 with no attempts).
    pub failed_rate: f64,
    /// Mean run time of those attempts, in milliseconds.
    pub mean_processing_ms: f64,
    /// Their 95th percentile run time, in milliseconds (from the histogram).
    pub p95_processing_ms: f64,
    /// How long the store took to answer a trivial query at that time.
    pub store_latency_ms: f64,
}

/// Every queue at one sampling: what the sampler publishes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SampleSet {
    /// When it was taken; `None` before the first sample.
    pub at: Option<UnixMillis>,
    /// How long the store took to answer a trivial query.
    pub store_latency_ms: f64,
    /// One sample per known queue, by name.
    pub queues: Vec<QueueSample>,
    /// The server's memory and Redis's.
    pub memory: memory::MemorySample,
}

/// An alert firing now, as the alerting part publishes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FiringAlert {
    /// The alert's name (its rule).
    pub name: String,
    /// The queue it is about, when it is about one.
    pub queue: Option<QueueName>,
    /// What is wrong, for people.
    pub message: String,
    /// Since when it fires.
    pub since: UnixMillis,
}

/// The shared monitoring state. Cloning shares it.
#[derive(Clone)]
pub struct Monitor {
    inner: Arc<Inner>,
}

struct Inner {
    config: MonitoringConfig,
    engine: Engine,
    state: Mutex<State>,
    samples: watch::Sender<Arc<SampleSet>>,
    alerts: watch::Sender<Arc<[FiringAlert]>>,
    http: HttpMetrics,
}

#[derive(Default)]
struct State {
    rings: BTreeMap<QueueName, VecDeque<QueueSample>>,
    /// The stored totals as last read, plus what this node added since.
    stored: BTreeMap<QueueName, QueueCounters>,
    /// This node's running totals when last added to the store.
    flushed: BTreeMap<QueueName, RunningTotals>,
    /// This node's running totals at the last sample.
    sampled: BTreeMap<QueueName, RunningTotals>,
}

impl Monitor {
    /// A monitor of `engine`'s queues, empty until the first sample.
    pub fn new(config: MonitoringConfig, engine: Engine) -> Monitor {
        let (samples, _) = watch::channel(Arc::new(SampleSet::default()));
        let (alerts, _) = watch::channel(Arc::from(Vec::new()));
        Monitor {
            inner: Arc::new(Inner {
                config,
                engine,
                state: Mutex::new(State::default()),
                samples,
                alerts,
                http: HttpMetrics::default(),
            }),
        }
    }

    /// The `[monitoring]` settings.
    pub fn config(&self) -> &MonitoringConfig {
        &self.inner.config
    }

    /// The engine it watches.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The HTTP request counters.
    pub fn http(&self) -> &HttpMetrics {
        &self.inner.http
    }

    /// Every new sample set as it is taken: the hook the alerting part
    /// subscribes to. The receiver sees the latest set at once.
    pub fn subscribe(&self) -> watch::Receiver<Arc<SampleSet>> {
        self.inner.samples.subscribe()
    }

    /// The latest sample set (empty before the first sample).
    pub fn latest(&self) -> Arc<SampleSet> {
        self.inner.samples.borrow().clone()
    }

    /// A queue's samples, oldest first; `None` for a queue never sampled.
    pub fn history(&self, queue: &QueueName) -> Option<Vec<QueueSample>> {
        let state = self.lock();
        state.rings.get(queue).map(|ring| ring.iter().cloned().collect())
    }

    /// Replaces the alerts firing now (the alerting part calls it on every
    /// change).
    pub fn alerts_publish(&self, firing: Vec<FiringAlert>) {
        self.inner.alerts.send_replace(Arc::from(firing));
    }

    /// The alerts firing now.
    pub fn alerts(&self) -> Arc<[FiringAlert]> {
        self.inner.alerts.borrow().clone()
    }

    /// Every queue's totals now: the stored ones of every node (as last
    /// read) plus what this node counted since it last added to them. Only
    /// grows while this server runs, so Prometheus can read them as counters.
    pub fn totals(&self) -> BTreeMap<QueueName, QueueCounters> {
        let running = self.inner.engine.running_totals();
        let state = self.lock();
        let mut out = state.stored.clone();
        for (queue, now) in &running {
            let pending = now.since(state.flushed.get(queue).unwrap_or(&RunningTotals::default())).counts;
            out.entry(queue.clone()).or_default().add(&pending);
        }
        out
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What this node counted since it last added to the stored totals, per
    /// queue with anything to add.
    pub(crate) fn unflushed(&self, running: &[(QueueName, RunningTotals)]) -> Vec<QueueTotalsDelta> {
        let state = self.lock();
        running
            .iter()
            .filter_map(|(queue, now)| {
                let counts = now.since(state.flushed.get(queue).unwrap_or(&RunningTotals::default())).counts;
                (!counts.is_zero()).then(|| QueueTotalsDelta { queue: queue.clone(), counts })
            })
            .collect()
    }

    /// Notes that `deltas`, taken from `running`, are now in the store.
    pub(crate) fn flushed(&self, running: &[(QueueName, RunningTotals)], deltas: &[QueueTotalsDelta]) {
        let mut state = self.lock();
        for d in deltas {
            state.stored.entry(d.queue.clone()).or_default().add(&d.counts);
            if let Some((_, now)) = running.iter().find(|(q, _)| q == &d.queue) {
                state.flushed.insert(d.queue.clone(), *now);
            }
        }
    }

    /// Takes the stored totals as read from the store.
    pub(crate) fn stored(&self, rows: Vec<QueueTotalsRecord>) {
        let mut state = self.lock();
        state.stored = rows.into_iter().map(|r| (r.queue, r.counts)).collect();
    }

    /// Builds, keeps and publishes the sample set of one sampling.
    pub(crate) fn record(
        &self,
        now: UnixMillis,
        store_latency: Duration,
        known: Vec<QueueRecord>,
        counts: Vec<QueueCounts>,
        running: Vec<(QueueName, RunningTotals)>,
        memory: memory::MemorySample,
    ) -> Arc<SampleSet> {
        let store_latency_ms = millis(store_latency);
        let totals = self.totals();
        let mut state = self.lock();
        let mut by_queue: BTreeMap<QueueName, QueueCounts> =
            known.into_iter().map(|q| (q.name.clone(), QueueCounts::empty(q.name))).collect();
        for c in counts {
            by_queue.insert(c.queue.clone(), c);
        }
        for queue in running.iter().map(|(q, _)| q).chain(totals.keys()) {
            by_queue.entry(queue.clone()).or_insert_with(|| QueueCounts::empty(queue.clone()));
        }
        let mut queues = Vec::with_capacity(by_queue.len());
        for (queue, counts) in by_queue {
            let now_totals = running.iter().find(|(q, _)| q == &queue).map(|(_, t)| *t).unwrap_or_default();
            let running_interval = now_totals.since(state.sampled.get(&queue).unwrap_or(&RunningTotals::default()));
            let interval = running_interval.counts;
            state.sampled.insert(queue.clone(), now_totals);
            let sample = QueueSample {
                totals: totals.get(&queue).copied().unwrap_or_default(),
                queue,
                at: now,
                counts,
                interval_attempts: interval.attempts,
                interval_failed: interval.failed,
                failed_rate: if interval.attempts == 0 {
                    0.0
                } else {
                    interval.failed as f64 / interval.attempts as f64
                },
                mean_processing_ms: round2(interval.mean_ms()),
                p95_processing_ms: round2(running_interval.quantile_ms(0.95)),
                store_latency_ms,
            };
            let ring = state.rings.entry(sample.queue.clone()).or_default();
            if ring.len() >= self.inner.config.retain {
                ring.pop_front();
            }
            ring.push_back(sample.clone());
            queues.push(sample);
        }
        drop(state);
        let set = Arc::new(SampleSet { at: Some(now), store_latency_ms, queues, memory });
        self.inner.samples.send_replace(set.clone());
        set
    }
}

/// A duration in milliseconds with two decimals.
pub(crate) fn millis(d: Duration) -> f64 {
    round2(d.as_secs_f64() * 1e3)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
