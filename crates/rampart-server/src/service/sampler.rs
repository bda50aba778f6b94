//! The sampler: once per `monitoring.interval` it samples every queue into
//! the [`Monitor`] (jobs per state from the store, what this node's engine
//! counted since the last sample, the store's latency) and adds this node's
//! totals to the stored ones, one small upsert per queue, never one per
//! job, so a restart does not reset them. On shutdown it stores what it
//! counted since its last sample. Each sample also takes the server's
//! memory and, with [`Sampler::with_limiter`] over a limiter with Redis,
//! Redis's `used_memory` ([`MemorySample`]), and, with [`Sampler::with_node`],
//! reports this node to the store's node registry (the doctor's `nodes`).
//!
//! When the store is down a sample is skipped (readiness says why); what
//! was not stored is kept and added at the next sample that reaches it.

use std::time::{Duration, Instant};

use rampart_core::time::UnixMillis;
use rampart_store::{NodeReportParams, QueueTotalsAddParams, StoreError};

use super::loops::{Loops, names};
use crate::config::MonitoringConfig;
use crate::monitoring::memory::MemorySample;
use crate::monitoring::{Monitor, SampleSet};
use crate::ratelimit::RateLimiter;
use crate::shutdown::Shutdown;
use crate::timer::Ticks;

/// Longest the last store of the totals may take on shutdown.
const FINAL_FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// How the sampler runs.
#[derive(Debug, Clone)]
pub struct SamplerConfig {
    /// Time between samples (`monitoring.interval`).
    pub interval: Duration,
}

impl SamplerConfig {
    /// The sampler's part of `[monitoring]`.
    pub fn from_config(config: &MonitoringConfig) -> SamplerConfig {
        SamplerConfig { interval: config.interval }
    }
}

impl Default for SamplerConfig {
    fn default() -> Self {
        SamplerConfig::from_config(&MonitoringConfig::default())
    }
}

/// Samples every queue and keeps the totals in the store.
pub struct Sampler {
    config: SamplerConfig,
    monitor: Monitor,
    loops: Loops,
    limiter: Option<RateLimiter>,
    /// This node's name and start, for the node registry.
    node: Option<(String, UnixMillis)>,
}

impl Sampler {
    /// A sampler filling `monitor`.
    pub fn new(config: SamplerConfig, monitor: Monitor) -> Sampler {
        Sampler { config, monitor, loops: Loops::default(), limiter: None, node: None }
    }

    /// Samples Redis's memory too, when `limiter` has Redis.
    pub fn with_limiter(mut self, limiter: RateLimiter) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// Reports this node, named `name` and started at `started_at`, to the
    /// node registry at each sample.
    pub fn with_node(mut self, name: String, started_at: UnixMillis) -> Self {
        self.node = Some((name, started_at));
        self
    }

    /// Reports each run to `loops` (the server's registry, for the admin diagnostics).
    pub fn with_loops(mut self, loops: Loops) -> Self {
        self.loops = loops;
        self
    }

    /// Stores this node's totals since they were last stored; a failure
    /// keeps them for the next try.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let engine = self.monitor.engine();
        let running = engine.running_totals();
        let deltas = self.monitor.unflushed(&running);
        if deltas.is_empty() {
            return Ok(());
        }
        engine.store().queue_totals_add(QueueTotalsAddParams { deltas: deltas.clone(), now: engine.now() }).await?;
        self.monitor.flushed(&running, &deltas);
        Ok(())
    }

    /// One sample of every queue, published to the monitor's subscribers.
    pub async fn run_once(&self) -> Result<std::sync::Arc<SampleSet>, StoreError> {
        let engine = self.monitor.engine();
        let store = engine.store();
        // The sample's time is taken before the queues are read: the alerter
        // lists the jobs that died up to this time by queue, and a queue
        // made after the list was read would lose its first dead jobs.
        let now = engine.now();
        let started = Instant::now();
        store.ping().await?;
        let latency = started.elapsed();
        if let Some((node, started_at)) = &self.node {
            let report = NodeReportParams { node: node.clone(), started_at: *started_at, now: engine.now() };
            if let Err(e) = store.node_report(report).await {
                tracing::warn!(error = %e, "cannot report this node to the node registry");
            }
        }
        let (known, counts) = tokio::try_join!(store.queue_list(), store.queue_counts())?;
        if let Err(e) = self.flush().await {
            tracing::warn!(error = %e, "cannot store the queue totals; they are kept for the next sample");
        }
        match store.queue_totals_list().await {
            Ok(rows) => self.monitor.stored(rows),
            Err(e) => tracing::warn!(error = %e, "cannot read the stored queue totals; using the last ones read"),
        }
        let running = engine.running_totals();
        let memory = MemorySample::take(self.limiter.as_ref()).await;
        Ok(self.monitor.record(now, latency, known, counts, running, memory))
    }

    /// Samples until shutdown, then stores the last totals.
    pub async fn run(self, shutdown: Shutdown) {
        let mut ticks = Ticks::new(self.config.interval, self.monitor.engine().clock().clone(), shutdown);
        while ticks.next().await {
            let result = self.run_once().await;
            self.loops.report(names::SAMPLER, &result);
            if let Err(e) = result {
                tracing::warn!(error = %e, "cannot sample the queues; trying again on the next tick");
            }
        }
        match tokio::time::timeout(FINAL_FLUSH_TIMEOUT, self.flush()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot store the last queue totals before stopping"),
            Err(_) => tracing::warn!("storing the last queue totals took too long; stopping without them"),
        }
    }
}
