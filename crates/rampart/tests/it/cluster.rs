//! Several `rampart serve` nodes on one PostgreSQL database: jobs enqueued
//! and worked through both nodes run once each, a node killed with SIGKILL
//! leaves its jobs to the other, a database outage is survived without a
//! restart, unique keys hold across nodes, a webhook event posted to both at
//! once is taken once, a rate-limit policy put on one node is enforced by
//! both through one Redis, a lease that expires on one node is a stall the
//! other leases again, and a queue's start rate holds for both nodes
//! together.
//!
//! Each test gets a fresh database ([`TestDatabase`]) and two nodes with
//! data directories of their own; the second node uses the admin key the
//! first one made. Workers are real `rampart work` processes, one per node,
//! running a shell command that appends `JOB_ID ATTEMPT` to a log shared by
//! both. The outcome is read from the database itself: every job's history
//! must be one unbroken chain of transitions (each event starts in the state
//! the one before it ended in), so two leases of one job overlapping, or a
//! second completion, would show.
//!
//! Without PostgreSQL on `127.0.0.1:5432` (or `TEST_DATABASE_URL`) these
//! tests print that they skipped, except under `CI=true`, where they fail.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rampart_client::wire::{BatchRequest, EnqueueRequest, LeaseRequest, RateLimitCheckRequest, RateLimitPolicyPut};
use rampart_core::id::JobId;
use rampart_store::Store;
use rampart_store::postgres::PgConfig;
use rampart_store::postgres::testing::TestDatabase;
use serde_json::json;
use serde_json::value::RawValue;
use tokio::task::JoinSet;

use crate::harness::{TestServer, WorkerBuilder, eventually, eventually_within};
use crate::tcpproxy::TcpProxy;

/// Connections each node may open: tests run in parallel on one PostgreSQL
/// with `max_connections = 100`.
const POOL_SIZE: &str = "6";

/// The bound on draining a queue of thousands of jobs on a busy machine.
const DRAIN_PATIENCE: Duration = Duration::from_secs(300);

/// How a [`Cluster`] starts.
pub(crate) struct ClusterBuilder {
    test: &'static str,
    config: Option<String>,
    proxy: bool,
}

impl ClusterBuilder {
    /// Both nodes start with this `rampart.toml`.
    pub(crate) fn config(mut self, toml: &str) -> ClusterBuilder {
        self.config = Some(toml.to_string());
        self
    }

    /// The nodes reach the database through a [`TcpProxy`] the test controls.
    fn through_proxy(mut self) -> ClusterBuilder {
        self.proxy = true;
        self
    }

    /// Creates the database and starts node `a`, then node `b` with `a`'s
    /// key; `None` when the test is skipped for want of PostgreSQL.
    pub(crate) async fn start(self) -> Option<Cluster> {
        let db = TestDatabase::create(self.test).await?;
        let proxy = self.proxy.then(|| TcpProxy::for_postgres(&db.url));
        let node_url = proxy.as_ref().map_or_else(|| db.url.clone(), |proxy| proxy.url_for(&db.url));
        let node = |key: Option<&str>| {
            let mut builder =
                TestServer::builder().env("DATABASE_URL", &node_url).env("RAMPART_POSTGRES__POOL_SIZE", POOL_SIZE);
            if let Some(toml) = &self.config {
                builder = builder.config(toml);
            }
            if let Some(key) = key {
                builder = builder.api_key(key);
            }
            builder.start()
        };
        let a = node(None).await;
        let b = node(Some(a.api_key())).await;
        for node in [&a, &b] {
            let (status, body) = node.ready().await;
            let backend = &body["components"]["store"]["backend"];
            assert!(status == 200 && backend == "postgres", "the node is ready on PostgreSQL: {status} {body}");
        }
        let (sql, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to the test database: {e}"));
        tokio::spawn(async move {
            let _ = connection.await;
        });
        // Histories are read as the API shows them: the store assembles them
        // from the job row and its stored events.
        let store = Store::open_postgres(PgConfig { pool_size: 2, ..PgConfig::new(db.url.clone()) })
            .await
            .unwrap_or_else(|e| panic!("cannot open the test database as a store: {e}"));
        let (runs, holds) = (a.work_dir().join("runs.log"), a.work_dir().join("holds.log"));
        Some(Cluster { nodes: [a, b], sql, store, proxy, runs, holds, _db: db })
    }
}

/// Two nodes on one fresh database, and a direct connection to it.
pub(crate) struct Cluster {
    // Dropped in this order: the nodes first, the database last.
    pub(crate) nodes: [TestServer; 2],
    sql: tokio_postgres::Client,
    store: Store,
    proxy: Option<TcpProxy>,
    /// The log every worker script appends `JOB_ID ATTEMPT` to.
    runs: PathBuf,
    /// The log of the jobs the scripts hold on to, see [`Cluster::script`].
    holds: PathBuf,
    /// Dropped last: the database goes once nothing uses it.
    _db: TestDatabase,
}

impl Cluster {
    pub(crate) fn builder(test: &'static str) -> ClusterBuilder {
        ClusterBuilder { test, config: None, proxy: false }
    }

    fn proxy(&self) -> &TcpProxy {
        self.proxy.as_ref().expect("the cluster was built through_proxy")
    }

    /// The script of a worker: log the run; then, with `hold`, if that
    /// file exists, log the job as held and wait until the file is gone
    /// (for at most a minute).
    fn script(&self, hold: Option<&PathBuf>) -> String {
        let log = format!(r#"echo "$RAMPART_JOB_ID $RAMPART_ATTEMPT" >> '{}'"#, self.runs.display());
        match hold {
            None => log,
            Some(hold) => format!(
                r#"{log}; if [ -e '{hold}' ]; then echo "$RAMPART_JOB_ID" >> '{holds}'; i=0; while [ -e '{hold}' ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; fi"#,
                hold = hold.display(),
                holds = self.holds.display()
            ),
        }
    }

    /// Waits until the scripts hold `n` jobs and answers their ids.
    async fn held(&self, n: usize) -> BTreeSet<i64> {
        let what = format!("the workers to hold {n} jobs");
        eventually(&what, || {
            let text = std::fs::read_to_string(&self.holds).unwrap_or_default();
            // Only whole lines: a script may be writing the last one.
            let lines = text.split_inclusive('\n').filter(|line| line.ends_with('\n'));
            let held: BTreeSet<i64> = lines.filter_map(|line| line.trim().parse().ok()).collect();
            assert!(held.len() <= n, "more jobs held than expected: {held:?}");
            std::future::ready((held.len() == n).then_some(held))
        })
        .await
    }

    /// A `rampart work QUEUE` of node `node` (0 or 1), named `name` in job
    /// histories.
    fn worker(&self, node: usize, queue: &str, name: &str, concurrency: usize) -> WorkerBuilder {
        self.nodes[node].cli().worker(queue).name(name).concurrency(concurrency)
    }

    /// Enqueues `n` jobs in batches of `batch`, alternating between the
    /// nodes, all batches at once; answers the ids.
    async fn enqueue_spread(&self, queue: &str, n: usize, batch: usize) -> Vec<String> {
        let mut calls = JoinSet::new();
        for (i, start) in (0..n).step_by(batch).enumerate() {
            let client = self.nodes[i % 2].client().clone();
            let queue = queue.to_string();
            calls.spawn(async move {
                let jobs = (start..n.min(start + batch)).map(|n| request(json!({ "n": n }), None)).collect();
                let ids = client.enqueue_batch(&queue, &BatchRequest { jobs }).await.expect("a batch enqueue").ids;
                ids.iter().map(ToString::to_string).collect::<Vec<_>>()
            });
        }
        let mut ids = Vec::with_capacity(n);
        while let Some(batch) = calls.join_next().await {
            ids.extend(batch.expect("an enqueue task"));
        }
        assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), n, "every enqueued job has an id of its own");
        ids
    }

    /// Rows of `sql` with a text and a count column, e.g. counts per state.
    async fn counted(&self, sql: &str, queue: &str) -> BTreeMap<String, i64> {
        let rows = self.sql.query(sql, &[&queue]).await.unwrap_or_else(|e| panic!("`{sql}` failed: {e}"));
        rows.iter().map(|row| (row.get::<_, Option<String>>(0).unwrap_or_default(), row.get(1))).collect()
    }

    /// Jobs per state, straight from the database.
    async fn states(&self, queue: &str) -> BTreeMap<String, i64> {
        self.counted("SELECT state, count(*) FROM jobs WHERE queue = $1 GROUP BY state", queue).await
    }

    /// Completions per worker name, straight from the database.
    async fn completions_by_worker(&self, queue: &str) -> BTreeMap<String, i64> {
        // A completed job keeps the worker of its completed attempt.
        self.counted(
            "SELECT worker, count(*) FROM jobs WHERE queue = $1 AND state = 'completed' GROUP BY worker",
            queue,
        )
        .await
    }

    /// Waits until all `n` jobs of the queue are completed, failing early
    /// when one went dead or cancelled.
    async fn drained(&self, queue: &str, n: usize) {
        let what = format!("all {n} jobs of `{queue}` to complete");
        eventually_within(&what, DRAIN_PATIENCE, || async {
            let states = self.states(queue).await;
            assert!(!states.contains_key("dead") && !states.contains_key("cancelled"), "jobs were lost: {states:?}");
            (states.get("completed").copied() == Some(n as i64) && states.len() == 1).then_some(())
        })
        .await;
    }

    /// Every job of the queue with its history, checked: answers the
    /// histories, or fails the test naming the broken ones.
    async fn histories(&self, queue: &str) -> BTreeMap<i64, History> {
        let ids = self
            .sql
            .query("SELECT id FROM jobs WHERE queue = $1", &[&queue])
            .await
            .unwrap_or_else(|e| panic!("reading the jobs failed: {e}"));
        let mut histories = BTreeMap::new();
        for row in &ids {
            let id: i64 = row.get(0);
            let job = self.store.job_get(JobId(id)).await.unwrap_or_else(|e| panic!("reading job {id} failed: {e}"));
            let job = job.unwrap_or_else(|| panic!("job {id} vanished"));
            // Every transition after the creation.
            let events = job
                .history
                .iter()
                .skip(1)
                .map(|e| Event {
                    from: e.from.map(|s| s.as_str().to_string()),
                    to: e.to.as_str().to_string(),
                    reason: e.reason.clone(),
                    attempt: e.attempt,
                    worker: e.worker.clone(),
                })
                .collect();
            histories.insert(id, History { state: job.state.as_str().to_string(), events });
        }
        let broken: Vec<String> = histories
            .iter()
            .filter_map(|(id, history)| history.problem().map(|problem| format!("job {id}: {problem}\n{history:#?}")))
            .collect();
        assert!(
            broken.is_empty(),
            "{} broken histories, the first ones:\n{}",
            broken.len(),
            broken[..3.min(broken.len())].join("\n")
        );
        histories
    }

    /// How many times the workers ran each job, from their log.
    fn runs(&self) -> BTreeMap<String, usize> {
        let mut runs = BTreeMap::new();
        for line in std::fs::read_to_string(&self.runs).unwrap_or_default().lines() {
            let id = line.split_whitespace().next().unwrap_or_default().to_string();
            *runs.entry(id).or_insert(0) += 1;
        }
        runs
    }
}

/// Fails the test unless `node` answers `GET /v1/queues/QUEUE` with all `n`
/// jobs completed.
async fn assert_all_completed(node: &TestServer, queue: &str, n: u64) {
    let view = node.client().queue(queue).await.expect("the queue");
    let c = &view.counts;
    assert_eq!(
        (c.completed, c.available, c.active, c.scheduled, c.dead, c.cancelled),
        (n, 0, 0, 0, 0, 0),
        "counts of `{queue}` on {}: {c:?}",
        node.url()
    );
}

/// One transition in a job's history.
#[derive(Debug)]
struct Event {
    from: Option<String>,
    to: String,
    reason: String,
    attempt: u32,
    worker: Option<String>,
}

/// A job's state and its transitions in order.
#[derive(Debug)]
struct History {
    state: String,
    events: Vec<Event>,
}

impl History {
    /// What is wrong with this history, if anything: a transition from a
    /// state the job was not in (two leases at once, a second completion),
    /// an attempt ended under another attempt's number, or an end that is
    /// not the job's state.
    fn problem(&self) -> Option<String> {
        let Some(first) = self.events.first() else {
            return (self.state != "available" && self.state != "scheduled")
                .then(|| format!("state `{}` but no history", self.state));
        };
        if !matches!(first.from.as_deref(), Some("available" | "scheduled")) {
            return Some(format!("the first transition starts from {:?}", first.from));
        }
        for pair in self.events.windows(2) {
            if pair[1].from.as_deref() != Some(pair[0].to.as_str()) {
                return Some(format!(
                    "`{}` ({:?} → {}) follows a transition to {}",
                    pair[1].reason, pair[1].from, pair[1].to, pair[0].to
                ));
            }
        }
        let mut attempt = 0;
        // A stall or a release gives the job back without counting its
        // attempt: the next lease has the same number.
        let mut given_back = false;
        for event in &self.events {
            if (event.to == "active") != (event.reason == "leased") {
                return Some(format!("`{}` leads to {}", event.reason, event.to));
            }
            if event.reason == "leased" {
                if event.attempt <= attempt && !(given_back && event.attempt == attempt) {
                    return Some(format!("attempt {} is leased after attempt {attempt}", event.attempt));
                }
                attempt = event.attempt;
            } else if event.from.as_deref() == Some("active") && event.attempt != attempt {
                return Some(format!("`{}` of attempt {} ends attempt {attempt}", event.reason, event.attempt));
            }
            given_back = matches!(event.reason.as_str(), "stalled" | "released");
        }
        let last = self.events.last().map(|e| e.to.as_str()).unwrap_or_default();
        (last != self.state).then(|| format!("the history ends in {last} but the job is {}", self.state))
    }

    /// The events with this reason.
    fn count(&self, reason: &str) -> usize {
        self.events.iter().filter(|e| e.reason == reason).count()
    }
}

fn request(payload: serde_json::Value, unique_key: Option<&str>) -> EnqueueRequest {
    let mut request = EnqueueRequest::new(RawValue::from_string(payload.to_string()).expect("JSON"));
    request.unique_key = unique_key.map(str::to_string);
    request
}

/// The status and body of `GET /health/ready` when it says the store is
/// down, else `None`.
async fn store_down(node: &TestServer) -> Option<serde_json::Value> {
    let (status, body) = node.ready().await;
    let store = &body["components"]["store"];
    (status == 503 && body["status"] == "not_ready" && store["status"] == "down" && store["backend"] == "postgres")
        .then_some(body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_jobs_through_two_nodes_each_run_once() {
    const QUEUE: &str = "spread";
    const JOBS: usize = 10_000;
    let Some(cluster) = Cluster::builder("ten_thousand_jobs").start().await else { return };
    let script = cluster.script(None);
    let _a = cluster.worker(0, QUEUE, "a", 16).script(&script).await;
    let _b = cluster.worker(1, QUEUE, "b", 16).script(&script).await;

    let started = Instant::now();
    let ids = cluster.enqueue_spread(QUEUE, JOBS, 500).await;
    let enqueued = started.elapsed();
    cluster.drained(QUEUE, JOBS).await;
    eprintln!("{JOBS} jobs: enqueued in {enqueued:?}, all completed after {:?}", started.elapsed());

    // Every node answers the totals of every node (the stored ones plus its
    // own since it last stored them): once both have sampled, each shows
    // every job completed exactly once.
    for node in &cluster.nodes {
        assert_all_completed(node, QUEUE, JOBS as u64).await;
        let client = node.client();
        eventually("each node's totals counting every completion once", || async {
            let completed = client.queue(QUEUE).await.expect("the queue").totals.completed;
            assert!(completed <= JOBS as u64, "{completed} completions counted for {JOBS} jobs");
            (completed == JOBS as u64).then_some(())
        })
        .await;
    }

    let histories = cluster.histories(QUEUE).await;
    assert_eq!(histories.len(), JOBS);
    for (id, history) in &histories {
        assert_eq!((history.count("leased"), history.count("completed")), (1, 1), "job {id}: {history:#?}");
    }
    let by_worker = cluster.completions_by_worker(QUEUE).await;
    assert!(
        by_worker.get("a") > Some(&0) && by_worker.get("b") > Some(&0),
        "both nodes' workers worked: {by_worker:?}"
    );

    let runs = cluster.runs();
    assert_eq!(runs.keys().cloned().collect::<BTreeSet<_>>(), ids.into_iter().collect(), "every job ran");
    assert!(runs.values().all(|&n| n == 1), "a job ran twice: {:?}", runs.iter().find(|(_, n)| **n != 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_surviving_node_finishes_the_jobs_of_a_node_killed_with_sigkill() {
    const QUEUE: &str = "kill";
    const JOBS: usize = 1_000;
    const A_CONCURRENCY: usize = 4;
    let config = r#"
[queues.kill]
lease = "2s"
max_attempts = 5
backoff = { initial = "50ms", factor = 1.0, max = "1s", jitter = 0.0 }
"#;
    let Some(mut cluster) = Cluster::builder("node_killed").config(config).start().await else { return };
    // Node a's worker holds on to each job it gets while `hold` exists.
    let hold = cluster.nodes[0].work_dir().join("hold");
    // Leases as short as the queue's: a's jobs come back soon after a dies.
    let mut worker_a =
        cluster.worker(0, QUEUE, "a", A_CONCURRENCY).lease("2s").script(&cluster.script(Some(&hold))).await;
    let _worker_b = cluster.worker(1, QUEUE, "b", 8).lease("2s").script(&cluster.script(None)).await;
    cluster.enqueue_spread(QUEUE, JOBS, 500).await;

    // Mid-run: once a's worker has completed jobs, it holds the next ones.
    eventually("the worker of node a to complete 50 jobs", || async {
        (cluster.completions_by_worker(QUEUE).await.get("a").copied().unwrap_or(0) >= 50).then_some(())
    })
    .await;
    std::fs::write(&hold, "").expect("create the hold file");
    let held = cluster.held(A_CONCURRENCY).await;
    let remaining = cluster.states(QUEUE).await;
    assert!(remaining.get("available") > Some(&0), "jobs are left to do when node a dies: {remaining:?}");

    let [a, b] = &mut cluster.nodes;
    a.kill();
    // Its worker is of no use without its node.
    worker_a.kill();
    assert!(b.is_running(), "node b survives node a");

    cluster.drained(QUEUE, JOBS).await;
    assert_all_completed(&cluster.nodes[1], QUEUE, JOBS as u64).await;
    let histories = cluster.histories(QUEUE).await;
    for (id, history) in &histories {
        assert_eq!(history.count("completed"), 1, "job {id}: {history:#?}");
    }
    for id in &held {
        let history = &histories[id];
        let workers: Vec<_> = history.events.iter().map(|e| (e.reason.as_str(), e.worker.as_deref())).collect();
        assert!(
            history.count("stalled") == 1 && history.events.last().is_some_and(|e| e.worker.as_deref() == Some("b")),
            "job {id}, held by a when it died, stalled (its lease expired, the attempt not counted) and was \
             completed by b: {workers:?}"
        );
    }
    assert!(cluster.nodes[1].is_running(), "node b is still up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nodes_ride_out_a_database_outage_and_complete_every_job_once() {
    const QUEUE: &str = "outage";
    const JOBS: usize = 1_000;
    const CONCURRENCY: usize = 4;
    let config = r#"
[queues.outage]
lease = "2s"
max_attempts = 10
backoff = { initial = "50ms", factor = 1.0, max = "1s", jitter = 0.0 }
"#;
    let Some(mut cluster) = Cluster::builder("db_outage").config(config).through_proxy().start().await else {
        return;
    };
    // While `hold` exists, every worker holds on to the jobs it gets.
    let hold = cluster.nodes[0].work_dir().join("hold");
    let script = cluster.script(Some(&hold));
    let mut workers = [
        cluster.worker(0, QUEUE, "a", CONCURRENCY).lease("2s").script(&script).await,
        cluster.worker(1, QUEUE, "b", CONCURRENCY).lease("2s").script(&script).await,
    ];
    let ids = cluster.enqueue_spread(QUEUE, JOBS, 500).await;
    eventually("300 jobs to complete", || async {
        (cluster.states(QUEUE).await.get("completed").copied().unwrap_or(0) >= 300).then_some(())
    })
    .await;

    // Mid-run, every worker slot holds a job when the database goes away.
    std::fs::write(&hold, "").expect("create the hold file");
    let held = cluster.held(2 * CONCURRENCY).await;
    cluster.proxy().cut();
    for node in &cluster.nodes {
        let body = eventually("/health/ready to report the store down", || store_down(node)).await;
        assert!(body["components"]["store"]["error"].as_str().is_some_and(|e| !e.is_empty()), "{body}");
        let refused = node.client().enqueue(QUEUE, &request(json!({"n": "late"}), None)).await;
        let error = refused.expect_err("no enqueue while the database is away");
        assert!(
            error.status_code() == Some(503) && error.is_code("STORE_UNAVAILABLE"),
            "an enqueue without a database answers 503 STORE_UNAVAILABLE, not: {error}"
        );
    }
    // The held jobs finish in the outage: their acks fail until the workers give up on them.
    std::fs::remove_file(&hold).expect("remove the hold file");
    for worker in &workers {
        eventually("the worker to give up acknowledging its held jobs", || async {
            (worker.stderr().matches("could not acknowledge the job").count() >= CONCURRENCY).then_some(())
        })
        .await;
    }
    for node in &mut cluster.nodes {
        assert!(node.is_running(), "a node died in the outage:\n{}", node.stderr());
    }

    cluster.proxy().restore();
    for node in &cluster.nodes {
        eventually("/health/ready to answer 200 again", || async { (node.ready().await.0 == 200).then_some(()) }).await;
    }
    cluster.drained(QUEUE, JOBS).await;
    for node in &mut cluster.nodes {
        assert!(node.is_running(), "a node died after the outage:\n{}", node.stderr());
    }
    for worker in &mut workers {
        assert!(worker.is_running(), "a worker died in the outage:\n{}", worker.stderr());
    }

    for node in &cluster.nodes {
        assert_all_completed(node, QUEUE, JOBS as u64).await;
    }
    let histories = cluster.histories(QUEUE).await;
    assert_eq!(histories.len(), JOBS, "the refused enqueues left no job behind");
    for (id, history) in &histories {
        assert_eq!(history.count("completed"), 1, "job {id}: {history:#?}");
    }
    let runs = cluster.runs();
    assert!(ids.iter().all(|id| runs.contains_key(id)), "every job ran");
    for id in &held {
        let history = &histories[id];
        assert!(
            history.count("stalled") + history.count("lease_expired") >= 1 && runs[&id.to_string()] >= 2,
            "job {id}, whose run ended in the outage, expired and ran again: {} runs, {history:#?}",
            runs[&id.to_string()]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unique_key_gives_one_live_job_across_nodes_under_concurrent_enqueues() {
    const QUEUE: &str = "unique";
    const KEYS: [&str; 4] = ["order-1", "order-2", "order-3", "order-4"];
    let Some(cluster) = Cluster::builder("unique_keys").start().await else { return };

    // 200 single enqueues and 20 batches of every key, half to each node, all at once.
    let mut calls = JoinSet::new();
    for i in 0..220 {
        let client = cluster.nodes[i % 2].client().clone();
        calls.spawn(async move {
            if i < 200 {
                let key = KEYS[i % KEYS.len()];
                let answer = client.enqueue(QUEUE, &request(json!({ "i": i }), Some(key))).await.expect("enqueue");
                vec![(key, answer.id.to_string(), Some(answer.duplicate))]
            } else {
                let jobs = KEYS.iter().map(|key| request(json!({ "i": i }), Some(key))).collect();
                let ids = client.enqueue_batch(QUEUE, &BatchRequest { jobs }).await.expect("batch enqueue").ids;
                KEYS.into_iter().zip(ids).map(|(key, id)| (key, id.to_string(), None)).collect()
            }
        });
    }
    let mut answers: BTreeMap<&str, Vec<(String, Option<bool>)>> = BTreeMap::new();
    while let Some(answered) = calls.join_next().await {
        for (key, id, duplicate) in answered.expect("an enqueue task") {
            answers.entry(key).or_default().push((id, duplicate));
        }
    }

    let live = cluster
        .sql
        .query("SELECT unique_key, id, state FROM jobs WHERE queue = $1 ORDER BY unique_key", &[&QUEUE])
        .await
        .expect("the jobs");
    let stored: Vec<(String, String, String)> =
        live.iter().map(|row| (row.get(0), row.get::<_, i64>(1).to_string(), row.get(2))).collect();
    assert_eq!(
        stored.iter().map(|(key, _, state)| (key.as_str(), state.as_str())).collect::<Vec<_>>(),
        KEYS.iter().map(|key| (*key, "available")).collect::<Vec<_>>(),
        "one live job per key"
    );
    for (key, id, _) in &stored {
        let answered = &answers[key.as_str()];
        assert_eq!(answered.len(), 70);
        assert!(
            answered.iter().all(|(other, _)| other == id),
            "every enqueue of `{key}` answers job {id}: {answered:?}"
        );
        let created = answered.iter().filter(|(_, duplicate)| *duplicate == Some(false)).count();
        assert!(created <= 1, "{created} single enqueues of `{key}` say they created the job");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_deliveries_of_one_webhook_event_through_two_nodes_make_one_job() {
    use crate::webhooks::{CONFIG, deliver};
    let Some(cluster) = Cluster::builder("webhook_dedupe").config(CONFIG).start().await else { return };
    let http = reqwest::Client::new();
    let mut posts = JoinSet::new();
    for i in 0..50 {
        let (http, url) = (http.clone(), cluster.nodes[i % 2].url().to_string());
        posts.spawn(async move { deliver(&http, &url, 42).await });
    }
    let mut answers = Vec::new();
    while let Some(answer) = posts.join_next().await {
        answers.push(answer.expect("a delivery task"));
    }
    let taken: Vec<&serde_json::Value> = answers.iter().filter(|a| a["duplicate"] == false).collect();
    assert_eq!(taken.len(), 1, "one delivery is taken, 49 are duplicates: {answers:#?}");
    let job = taken[0]["job_id"].as_str().unwrap();
    assert!(answers.iter().all(|a| a["job_id"].as_str() == Some(job)), "every answer names its job: {answers:#?}");
    let jobs = cluster.sql.query("SELECT id FROM jobs WHERE queue = 'github-events'", &[]).await.expect("the jobs");
    assert_eq!(jobs.len(), 1, "one job for the event");
    let logged = cluster
        .sql
        .query("SELECT status, count(*) FROM webhook_deliveries GROUP BY status ORDER BY status", &[])
        .await
        .expect("the delivery log");
    let logged: Vec<(String, i64)> = logged.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(logged, vec![("duplicate".to_string(), 49), ("pending".to_string(), 1)]);
}

#[test]
fn broken_histories_are_found() {
    let event = |from: &str, to: &str, reason: &str, attempt: u32| Event {
        from: Some(from.to_string()),
        to: to.to_string(),
        reason: reason.to_string(),
        attempt,
        worker: None,
    };
    let check = |state: &str, events: Vec<Event>, broken: bool| {
        let history = History { state: state.to_string(), events };
        assert_eq!(history.problem().is_some(), broken, "{history:#?}: {:?}", history.problem());
    };
    let leased = |attempt| event("available", "active", "leased", attempt);
    let completed = |attempt| event("active", "completed", "completed", attempt);
    check("completed", vec![leased(1), completed(1)], false);
    check("available", vec![], false);
    check(
        "completed",
        vec![
            leased(1),
            event("active", "scheduled", "lease_expired", 1),
            event("scheduled", "available", "due", 1),
            leased(2),
            completed(2),
        ],
        false,
    );
    check("completed", vec![leased(1), event("active", "available", "stalled", 1), leased(1), completed(1)], false);
    check("completed", vec![leased(1), completed(1), leased(1), completed(1)], true);
    // Two leases at once, a second completion, a lease ended under another
    // attempt, a history that does not end in the job's state.
    check("completed", vec![leased(1), leased(2), completed(2)], true);
    check("completed", vec![leased(1), completed(1), completed(1)], true);
    check("completed", vec![leased(2), completed(1)], true);
    check("active", vec![leased(1), completed(1)], true);
    check("completed", vec![], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_applies_the_schema_once_and_names_a_bad_database_url() {
    let Some(db) = TestDatabase::create("rampart migrate").await else { return };
    let dir = tempfile::tempdir().expect("a temp dir");
    let cli = crate::harness::Cli::new(&crate::harness::unused_url(), dir.path(), dir.path());
    let first: serde_json::Value = cli.json(&["migrate", "--database-url", &db.url]).await;
    // Every migration this rampart knows, in order, whatever their number.
    let version = first["version"].as_u64().expect("a version");
    assert!(version >= 3, "{first}");
    let all: Vec<u64> = (1..=version).collect();
    assert_eq!(first, json!({"backend": "postgres", "applied": all, "version": version}));
    let again = cli.run(&["migrate", "--database-url", &db.url]).await;
    again.expect_code(0);
    assert!(again.stdout.contains(&format!("schema is up to date (version {version})")), "{}", again.stdout);
    // A node starts on the migrated database without migrating again.
    let node = TestServer::builder().env("DATABASE_URL", &db.url).env("RAMPART_POSTGRES__POOL_SIZE", "2").start().await;
    let (status, body) = node.ready().await;
    assert_eq!((status, &body["components"]["store"]["backend"]), (200, &json!("postgres")), "{body}");
    drop(node);
    let bad = cli.run(&["migrate", "--database-url", "mysql://nope"]).await;
    bad.expect_code(2);
    assert!(bad.stderr.contains("database_url"), "the problem names the key: {}", bad.stderr);
    assert!(!bad.stderr.contains("panicked"), "{}", bad.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_put_on_one_node_is_enforced_by_both_through_one_redis() {
    let Some(redis) = crate::shared_limits::TestRedis::connect("cluster_policy") else { return };
    // A timeout no busy machine reaches: this test is about counting, not fallback.
    let toml = format!(
        "redis_url = \"{}\"\n[ratelimit]\nredis_prefix = \"{}\"\nredis_timeout = \"5s\"",
        redis.url, redis.prefix
    );
    let Some(cluster) = Cluster::builder("policy_put_across_nodes").config(&toml).start().await else { return };
    let [a, b] = &cluster.nodes;
    let policy = RateLimitPolicyPut {
        limit: Some(40),
        window: Some("300d".into()),
        algorithm: Some("fixed_window".into()),
        ..RateLimitPolicyPut::default()
    };
    let made = a.client().ratelimit_policy_put("signup", &policy).await.expect("put the policy on node a");
    assert_eq!((made.backend.as_str(), made.source.as_str()), ("redis", "api"));
    let check =
        RateLimitCheckRequest { policy: Some("signup".into()), key: Some("203.0.113.9".into()), ..Default::default() };
    eventually("node b to load the policy from the store", || async {
        b.client().ratelimit_policies().await.ok()?.policies.iter().any(|p| p.name == "signup").then_some(())
    })
    .await;

    let mut tasks = JoinSet::new();
    for node in [a, b] {
        for _ in 0..8 {
            let (client, check) = (node.client().clone(), check.clone());
            tasks.spawn(async move {
                let mut admitted = 0;
                for _ in 0..10 {
                    let answer = client.ratelimit_check(&check).await.expect("a check");
                    assert!(!answer.fallback, "counted in Redis: {answer:?}");
                    admitted += u32::from(answer.allowed);
                }
                admitted
            });
        }
    }
    let mut admitted = 0;
    while let Some(n) = tasks.join_next().await {
        admitted += n.expect("a check task");
    }
    assert_eq!(admitted, 40, "160 checks through two nodes admit the limit exactly");

    a.client().ratelimit_policy_delete("signup").await.expect("delete on node a");
    eventually("node b to drop the policy", || async {
        let policies = b.client().ratelimit_policies().await.ok()?;
        (!policies.policies.iter().any(|p| p.name == "signup")).then_some(())
    })
    .await;
}

/// A lease on node `node` of at most `max` jobs, without waiting unless `wait` says.
async fn lease_on(
    cluster: &Cluster,
    node: usize,
    queue: &str,
    max: u32,
    wait: Option<&str>,
) -> Vec<rampart_client::wire::LeasedJobView> {
    let req = LeaseRequest {
        max: Some(max),
        wait: wait.map(|w| w.parse().expect("a duration")),
        lease: None,
        worker: Some(format!("node-{node}")),
    };
    cluster.nodes[node].client().lease(queue, &req).await.expect("a lease").jobs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_that_expires_on_one_node_is_a_stall_the_other_node_leases_again() {
    const QUEUE: &str = "stall";
    let config = "[queues.stall]\nlease = \"1s\"\n";
    let Some(cluster) = Cluster::builder("stall_two_nodes").config(config).start().await else { return };
    let id = cluster.nodes[0].client().enqueue(QUEUE, &request(json!({}), None)).await.expect("enqueue").id;
    let first = lease_on(&cluster, 0, QUEUE, 1, None).await;
    assert_eq!((first[0].id, first[0].attempt), (id, 1));
    // Node a's worker never heartbeats: the lease expires, a reaper (either
    // node's) gives the job back, and node b's waiting lease takes it.
    let again = eventually("node b to lease the stalled job", || async {
        let jobs = lease_on(&cluster, 1, QUEUE, 1, Some("5s")).await;
        jobs.into_iter().next()
    })
    .await;
    assert_eq!((again.id, again.attempt), (id, 1), "a stall does not count an attempt");
    let histories = cluster.histories(QUEUE).await;
    let history = &histories[&id.0];
    assert_eq!(history.count("stalled"), 1, "{history:#?}");
    let workers: Vec<_> = history.events.iter().filter_map(|e| e.worker.as_deref()).collect();
    assert_eq!(workers.first(), Some(&"node-0"), "{history:#?}");
    assert_eq!(workers.last(), Some(&"node-1"), "{history:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_together_start_no_more_jobs_than_the_queue_rate() {
    const QUEUE: &str = "rated";
    let config = "[queues.rated]\nrate = \"5/1h\"\n";
    let Some(cluster) = Cluster::builder("rate_two_nodes").config(config).start().await else { return };
    cluster.enqueue_spread(QUEUE, 40, 10).await;
    // Eight claimers, four per node, all at once, each asking for two jobs
    // five times: the window of one hour admits five between them.
    let mut claims = JoinSet::new();
    for claimer in 0..8 {
        let client = cluster.nodes[claimer % 2].client().clone();
        claims.spawn(async move {
            let mut got = Vec::new();
            for _ in 0..5 {
                let req = LeaseRequest { max: Some(2), ..LeaseRequest::default() };
                got.extend(client.lease(QUEUE, &req).await.expect("a lease").jobs.into_iter().map(|j| j.id));
            }
            got
        });
    }
    let mut started = BTreeSet::new();
    while let Some(got) = claims.join_next().await {
        for id in got.expect("a claimer") {
            assert!(started.insert(id), "job {id} was leased twice");
        }
    }
    assert_eq!(started.len(), 5, "both nodes together start the rate's five in its window");
    let states = cluster.states(QUEUE).await;
    assert_eq!((states.get("active"), states.get("available")), (Some(&5), Some(&35)), "{states:?}");
    for node in 0..2 {
        assert!(lease_on(&cluster, node, QUEUE, 10, None).await.is_empty(), "node {node} starts none past the rate");
        let view = cluster.nodes[node].client().queue(QUEUE).await.expect("the queue");
        let rate = view.rate.expect("the queue shows its rate");
        assert_eq!((rate.rate.as_str(), rate.started, rate.full), ("5/1h", 5, 1), "node {node}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_of_a_hundred_children_worked_on_both_nodes_runs_once_after_the_last() {
    const KIDS: &str = "flow-kids";
    const PARENT: &str = "flow-parent";
    let Some(cluster) = Cluster::builder("flow_two_nodes").start().await else { return };
    let children = (0..100).map(|n| json!({"queue": KIDS, "payload": {"n": n}})).collect::<Vec<_>>();
    let payload = RawValue::from_string("{}".into()).expect("JSON");
    let body = EnqueueRequest {
        children: Some(children.into_iter().map(|c| serde_json::from_value(c).expect("a child")).collect()),
        ..EnqueueRequest::new(payload)
    };
    let parent = cluster.nodes[0].client().enqueue(PARENT, &body).await.expect("enqueue the flow");
    assert_eq!(parent.children.len(), 100);
    let script = cluster.script(None);
    let _a = cluster.worker(0, KIDS, "a", 8).script(&script).await;
    let _b = cluster.worker(1, KIDS, "b", 8).script(&script).await;
    cluster.drained(KIDS, 100).await;
    let by_worker = cluster.completions_by_worker(KIDS).await;
    assert!(by_worker.len() == 2, "both nodes' workers took children: {by_worker:?}");
    // Either node's promoter makes the parent available; node b leases it.
    let run = eventually("the parent to become available", || async {
        lease_on(&cluster, 1, PARENT, 2, Some("5s")).await.into_iter().next()
    })
    .await;
    assert_eq!(run.id, parent.id);
    let outcomes = run.children.expect("a parent's lease carries its children");
    assert_eq!(outcomes.len(), 100);
    assert!(outcomes.iter().all(|c| c.state.as_str() == "completed"), "{outcomes:?}");
    assert!(lease_on(&cluster, 0, PARENT, 2, None).await.is_empty(), "the parent runs once");
    let last_child = cluster
        .sql
        .query_one("SELECT max(finished_at) FROM jobs WHERE queue = $1", &[&KIDS])
        .await
        .expect("the children's ends")
        .get::<_, i64>(0);
    let job = cluster.store.job_get(run.id).await.expect("read the parent").expect("the parent");
    assert!(job.started_at.expect("started").0 >= last_child, "the parent started after the last child ended");
    let reasons: Vec<&str> = job.history.iter().map(|e| e.reason.as_str()).collect();
    assert_eq!(reasons, ["enqueued", "children_done", "due", "leased"], "{:#?}", job.history);
}
