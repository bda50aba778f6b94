//! Push delivery against a real HTTP receiver the test runs on 127.0.0.1:
//! the engine, promoter, reaper and dispatcher in process on a real store,
//! real time for jobs, and a manual clock for the breakers so a test
//! decides when a cooldown is over.
//!
//! The receiver checks every signature with its own code for the Standard
//! Webhooks scheme (HMAC-SHA256 over `id.timestamp.body`), not rampart's.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use rampart_core::breaker::BreakerState;
use rampart_core::id::{JobId, QueueName};
use rampart_core::job::JobState;
use rampart_core::retry::Backoff;
use rampart_core::time::{ManualClock, SystemClock, UnixMillis};
use rampart_core::webhook::WebhookSecret;
use rampart_server::breaker::LocalBreakers;
use rampart_server::config::{Config, PushBreakerConfig, PushTarget, QueueConfig};
use rampart_server::engine::{Engine, JobSpec};
use rampart_server::service::dispatcher::{breaker_name, push_secret};
use rampart_server::service::{Dispatcher, DispatcherConfig, Promoter, PromoterConfig, Reaper, ReaperConfig};
use rampart_server::shutdown::{Shutdown, ShutdownTrigger};
use rampart_store::postgres::testing::TestDatabase;
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::task::JoinSet;

use axum::http::Method;

use crate::harness::{TestApp, eventually, open_store};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// What the receiver answers one request.
#[derive(Debug, Clone)]
enum Reply {
    /// 200 with this JSON body.
    Json(Value),
    /// This status, with `Retry-After` when given, and a short text body.
    Status(u16, Option<&'static str>),
    /// 200, after this long.
    Slow(Duration),
    /// 206 with this JSON body (a step of a step-function job).
    Partial(Value),
}

/// A request the receiver got.
#[derive(Debug, Clone)]
struct Seen {
    at: Instant,
    /// When it arrived, in Unix milliseconds (the receiver answers at once
    /// unless told to be slow), to compare with the job's history.
    arrived: UnixMillis,
    headers: HeaderMap,
    body: Value,
    /// Whether the signature matched, by the receiver's own check.
    signed: bool,
}

type Script = Box<dyn Fn(&Seen, usize) -> Reply + Send + Sync>;

struct ReceiverState {
    key: Mutex<Vec<u8>>,
    script: Mutex<Script>,
    seen: Mutex<Vec<Seen>>,
    count: AtomicUsize,
}

/// A local HTTP server standing in for an app's push endpoint.
#[derive(Clone)]
struct Receiver {
    addr: SocketAddr,
    state: Arc<ReceiverState>,
}

impl Receiver {
    async fn start(secret: &str, script: Script) -> Receiver {
        let state = Arc::new(ReceiverState {
            key: Mutex::new(key_of(secret)),
            script: Mutex::new(script),
            seen: Mutex::new(Vec::new()),
            count: AtomicUsize::new(0),
        });
        let app = Router::new().route("/hook", axum::routing::post(receive)).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { addr, state }
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    fn answer_with(&self, script: Script) {
        *self.state.script.lock().unwrap() = script;
    }

    fn use_secret(&self, secret: &str) {
        *self.state.key.lock().unwrap() = key_of(secret);
    }

    fn count(&self) -> usize {
        self.state.count.load(Ordering::SeqCst)
    }

    fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }
}

fn key_of(secret: &str) -> Vec<u8> {
    STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap()
}

/// The receiver's own check of a Standard Webhooks signature.
fn signature_matches(key: &[u8], headers: &HeaderMap, body: &[u8]) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let (id, ts, sigs) = (header("webhook-id"), header("webhook-timestamp"), header("webhook-signature"));
    let mut content = format!("{id}.{ts}.").into_bytes();
    content.extend_from_slice(body);
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(&content);
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    let fresh = ts.parse::<u64>().is_ok_and(|t| {
        let now = std::time::UNIX_EPOCH.elapsed().unwrap().as_secs();
        now.abs_diff(t) <= 300
    });
    fresh && sigs.split(' ').any(|s| s == expected)
}

async fn receive(State(state): State<Arc<ReceiverState>>, headers: HeaderMap, body: Bytes) -> Response {
    let signed = signature_matches(&state.key.lock().unwrap(), &headers, &body);
    let arrived = UnixMillis(std::time::UNIX_EPOCH.elapsed().unwrap().as_millis() as i64);
    let seen = Seen {
        at: Instant::now(),
        arrived,
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        signed,
    };
    let n = state.count.fetch_add(1, Ordering::SeqCst);
    let reply = (state.script.lock().unwrap())(&seen, n);
    state.seen.lock().unwrap().push(seen);
    match reply {
        Reply::Json(v) => axum::Json(v).into_response(),
        Reply::Partial(v) => (StatusCode::PARTIAL_CONTENT, axum::Json(v)).into_response(),
        Reply::Status(code, retry_after) => {
            let status = StatusCode::from_u16(code).unwrap();
            match retry_after {
                Some(r) => (status, [("retry-after", r)], "try again later").into_response(),
                None => (status, "no thanks").into_response(),
            }
        }
        Reply::Slow(d) => {
            // Answering late is the behaviour under test (a timeout, the
            // shutdown grace), not a wait for something.
            tokio::time::sleep(d).await;
            axum::Json(json!({"late": true})).into_response()
        }
    }
}

/// The engine and its services with a dispatcher, on a store of their own.
struct Rig {
    engine: Engine,
    breakers: LocalBreakers,
    breaker_clock: Arc<ManualClock>,
    trigger: Option<ShutdownTrigger>,
    services: JoinSet<()>,
    _dir: tempfile::TempDir,
    _db: Option<TestDatabase>,
}

fn queue(name: &str) -> QueueName {
    QueueName::new(name).unwrap()
}

/// A push queue to `url` retrying fast, with the test's secret.
fn push_queue(url: &str) -> QueueConfig {
    QueueConfig {
        max_attempts: 5,
        backoff: Backoff {
            initial: Duration::from_millis(50),
            factor: 1.0,
            max: Duration::from_millis(50),
            jitter: 0.0,
        },
        target: Some(PushTarget::parse(url).unwrap()),
        secret: Some(WebhookSecret::parse(SECRET).unwrap()),
        concurrency: Some(QueueConfig::PUSH_CONCURRENCY),
        timeout: Some(Duration::from_secs(10)),
        ..QueueConfig::default()
    }
}

impl Rig {
    async fn start(queues: Vec<(&str, QueueConfig)>, breaker: PushBreakerConfig, grace: Duration) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let (store, db) = open_store(dir.path()).await;
        let mut config = Config::default();
        for (name, q) in queues {
            config.queues.insert(queue(name), q);
        }
        let (trigger, shutdown) = Shutdown::new();
        let engine = Engine::new(store, &config, Arc::new(SystemClock), shutdown.clone());
        let breakers = LocalBreakers::new();
        let breaker_clock = Arc::new(ManualClock::new(UnixMillis(1_800_000_000_000)));
        let mut services = JoinSet::new();
        let promoter = PromoterConfig { max_sleep: Duration::from_millis(100) };
        services.spawn(Promoter::new(promoter, engine.clone()).run(shutdown.clone()));
        services.spawn(Reaper::new(ReaperConfig::default(), engine.clone()).run(shutdown.clone()));
        let dispatcher = Dispatcher::new(
            DispatcherConfig {
                worker: "dispatcher@test".into(),
                breaker,
                shutdown_grace: grace,
                ..DispatcherConfig::default()
            },
            &config,
            engine.clone(),
            breakers.clone(),
            breaker_clock.clone(),
        );
        services.spawn(dispatcher.run(shutdown));
        Rig { engine, breakers, breaker_clock, trigger: Some(trigger), services, _dir: dir, _db: db }
    }

    async fn enqueue(&self, name: &str, payload: Value) -> JobId {
        let spec = JobSpec { payload: payload.to_string(), ..JobSpec::default() };
        self.engine.enqueue(&queue(name), vec![spec]).await.unwrap()[0].id
    }

    async fn job(&self, id: JobId) -> rampart_store::JobRecord {
        self.engine.job(id).await.unwrap()
    }

    /// Waits until every job is in `state`.
    async fn wait_for_state(&self, ids: &[JobId], state: JobState) {
        eventually(&format!("{ids:?} {state}"), || async {
            for id in ids {
                if self.job(*id).await.state != state {
                    return None;
                }
            }
            Some(())
        })
        .await;
    }

    fn breaker_state(&self, url: &str) -> Option<BreakerState> {
        let name = breaker_name(&PushTarget::parse(url).unwrap());
        self.breakers.get(name.as_str()).map(|b| b.state())
    }

    /// How many admissions the target's breaker refused.
    fn breaker_rejections(&self, url: &str) -> u64 {
        let name = breaker_name(&PushTarget::parse(url).unwrap());
        self.breakers.get(name.as_str()).map_or(0, |b| b.snapshot().rejections)
    }

    /// Signals shutdown and waits for every service, the dispatcher's grace included.
    async fn stop(&mut self) {
        drop(self.trigger.take());
        while self.services.join_next().await.is_some() {}
    }
}

fn header<'a>(seen: &'a Seen, name: &str) -> &'a str {
    seen.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2xx_completes_the_job_with_its_json_result_and_the_request_is_signed() {
    let rx = Receiver::start(
        SECRET,
        Box::new(|seen, _| Reply::Json(json!({"sent_to": seen.body["payload"]["to"], "ok": true}))),
    )
    .await;
    let mut rig = Rig::start(vec![("mail", push_queue(&rx.url()))], PushBreakerConfig::default(), Duration::ZERO).await;
    let id = rig.enqueue("mail", json!({"to": "a@b.c"})).await;
    rig.wait_for_state(&[id], JobState::Completed).await;

    let job = rig.job(id).await;
    let result: Value = serde_json::from_str(job.result.as_deref().unwrap()).unwrap();
    assert_eq!(result, json!({"sent_to": "a@b.c", "ok": true}));
    assert_eq!(job.attempt, 1);
    assert_eq!(job.worker.as_deref(), Some("dispatcher@test"));

    let seen = rx.seen();
    assert_eq!(seen.len(), 1);
    let s = &seen[0];
    assert!(s.signed, "the receiver's own check accepts the signature: {:?}", s.headers);
    assert_eq!(
        s.body,
        json!({"id": id.to_string(), "queue": "mail", "attempt": 1, "max_attempts": 5, "payload": {"to": "a@b.c"}})
    );
    assert_eq!(header(s, "webhook-id"), format!("job_{id}"));
    assert_eq!(header(s, "rampart-job-id"), id.to_string());
    assert_eq!(header(s, "rampart-attempt"), "1");
    assert_eq!(header(s, "rampart-queue"), "mail");
    assert_eq!(header(s, "content-type"), "application/json");

    // A receiver with another key refuses the same scheme's signature.
    rx.use_secret("whsec_c2VjcmV0LWtleS1vZi10aGUtb3RoZXItYXBw");
    let other = rig.enqueue("mail", json!({"to": "x@y.z"})).await;
    rig.wait_for_state(&[other], JobState::Completed).await;
    assert!(!rx.seen()[1].signed);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_with_retry_after_retries_no_sooner_with_the_same_message_id() {
    let rx = Receiver::start(
        SECRET,
        Box::new(|_, n| if n == 0 { Reply::Status(503, Some("2")) } else { Reply::Json(json!({"ok": true})) }),
    )
    .await;
    let mut rig = Rig::start(vec![("sync", push_queue(&rx.url()))], PushBreakerConfig::default(), Duration::ZERO).await;
    let id = rig.enqueue("sync", json!({"n": 1})).await;
    rig.wait_for_state(&[id], JobState::Completed).await;

    let job = rig.job(id).await;
    assert_eq!(job.attempt, 2);
    let failed = job.history.iter().find(|e| e.reason == "error").expect("the failed attempt is in the history");
    assert!(failed.error.as_deref().unwrap_or("").contains("503"), "{failed:?}");
    let second = job.history.iter().find(|e| e.reason == "leased" && e.attempt == 2).expect("the second attempt");
    let seen = rx.seen();
    // Retry-After counts from the answer, which left just after the request arrived.
    assert!(
        second.at.0 - seen[0].arrived.0 >= 2_000,
        "Retry-After: 2 is honoured: answered at {}, failure recorded at {}, retried at {}",
        seen[0].arrived,
        failed.at,
        second.at
    );
    assert_eq!(seen.len(), 2);
    assert!(seen[1].at.duration_since(seen[0].at) >= Duration::from_secs(2));
    assert_eq!(header(&seen[0], "webhook-id"), header(&seen[1], "webhook-id"), "one message id across retries");
    assert_eq!((header(&seen[0], "rampart-attempt"), header(&seen[1], "rampart-attempt")), ("1", "2"));
    assert!(seen.iter().all(|s| s.signed));
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_400_is_dead_after_one_attempt_unless_the_queue_retries_4xx() {
    let rx = Receiver::start(SECRET, Box::new(|_, _| Reply::Status(400, None))).await;
    let retrying = QueueConfig { max_attempts: 2, retry_4xx: true, ..push_queue(&rx.url()) };
    let mut rig = Rig::start(
        vec![("strict", push_queue(&rx.url())), ("lenient", retrying)],
        PushBreakerConfig::default(),
        Duration::ZERO,
    )
    .await;
    let strict = rig.enqueue("strict", json!({})).await;
    rig.wait_for_state(&[strict], JobState::Dead).await;
    let job = rig.job(strict).await;
    assert_eq!(job.attempt, 1, "no retry after a 400");
    assert_eq!(job.last_error.as_deref(), Some("HTTP 400 Bad Request: no thanks"));

    let lenient = rig.enqueue("lenient", json!({})).await;
    rig.wait_for_state(&[lenient], JobState::Dead).await;
    assert_eq!(rig.job(lenient).await.attempt, 2, "retry_4xx uses every attempt");
    // A 4xx is the request's fault, not the host's: the breaker stays closed.
    assert_eq!(rig.breaker_state(&rx.url()), Some(BreakerState::Closed));
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_slower_than_the_timeout_fails_the_attempt_with_timeout() {
    let rx = Receiver::start(SECRET, Box::new(|_, _| Reply::Slow(Duration::from_secs(5)))).await;
    let slow = QueueConfig { max_attempts: 1, timeout: Some(Duration::from_millis(500)), ..push_queue(&rx.url()) };
    let mut rig = Rig::start(vec![("slow", slow)], PushBreakerConfig::default(), Duration::ZERO).await;
    let started = Instant::now();
    let id = rig.enqueue("slow", json!({})).await;
    rig.wait_for_state(&[id], JobState::Dead).await;
    assert!(started.elapsed() < Duration::from_secs(5), "the attempt ended before the receiver answered");
    let job = rig.job(id).await;
    assert!(job.last_error.as_deref().unwrap_or("").contains("timeout"), "{:?}", job.last_error);
    // The error states the queue's timeout, not the request's own (a margin less).
    assert!(job.last_error.as_deref().unwrap_or("").contains("within 500ms"), "{:?}", job.last_error);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_breaker_opens_sends_nothing_while_open_and_a_probe_closes_it() {
    let rx = Receiver::start(SECRET, Box::new(|_, _| Reply::Status(503, None))).await;
    let flaky = QueueConfig { concurrency: Some(1), max_attempts: 20, ..push_queue(&rx.url()) };
    let breaker = PushBreakerConfig { failure_threshold: 3, cooldown: Duration::from_secs(30), half_open_max: 1 };
    let mut rig = Rig::start(vec![("flaky", flaky)], breaker, Duration::ZERO).await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(rig.enqueue("flaky", json!({"n": n})).await);
    }
    eventually("three failed deliveries", || std::future::ready((rx.count() >= 3).then_some(()))).await;
    eventually("the breaker to open", || {
        std::future::ready((rig.breaker_state(&rx.url()) == Some(BreakerState::Open)).then_some(()))
    })
    .await;
    assert_eq!(rx.count(), 3, "the threshold's failures, then nothing");

    // While open, nothing is sent and no attempt is used, however long it
    // lasts: the lane sleeps on the breakers' clock (a second at most), so
    // each move of it brings a look at the breaker, which refuses.
    for _ in 0..2 {
        let refused = rig.breaker_rejections(&rx.url());
        rig.breaker_clock.advance(Duration::from_secs(1));
        eventually("the lane to ask the open breaker again", || {
            std::future::ready((rig.breaker_rejections(&rx.url()) > refused).then_some(()))
        })
        .await;
        assert_eq!(rx.count(), 3, "a request reached the receiver while the breaker was open");
    }
    let mut attempts = 0;
    for id in &ids {
        let job = rig.job(*id).await;
        assert_ne!(job.state, JobState::Active, "no job is held while the breaker is open");
        attempts += job.attempt;
    }
    assert_eq!(attempts, 3, "only the failed deliveries used attempts");

    // The target recovers; once the cooldown is over one probe goes, its
    // success closes the breaker and everything is delivered.
    rx.answer_with(Box::new(|_, _| Reply::Json(json!({"ok": true}))));
    rig.breaker_clock.advance(Duration::from_secs(30));
    rig.wait_for_state(&ids, JobState::Completed).await;
    assert_eq!(rig.breaker_state(&rx.url()), Some(BreakerState::Closed));
    assert_eq!(rx.count(), 3 + ids.len(), "each job delivered once more, no request wasted");
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_deliveries_finish_within_the_grace_and_releases_the_rest() {
    // Two jobs answer in 300 ms, two hang: a grace of 1.5 s finishes the
    // first two and gives the others back without using their attempt.
    let rx = Receiver::start(
        SECRET,
        Box::new(|seen, _| {
            if seen.body["payload"]["hang"] == json!(true) {
                Reply::Slow(Duration::from_secs(30))
            } else {
                Reply::Slow(Duration::from_millis(300))
            }
        }),
    )
    .await;
    let q = QueueConfig { timeout: Some(Duration::from_secs(60)), ..push_queue(&rx.url()) };
    let mut rig = Rig::start(vec![("work", q)], PushBreakerConfig::default(), Duration::from_millis(1_500)).await;
    let quick = [rig.enqueue("work", json!({"hang": false})).await, rig.enqueue("work", json!({"hang": false})).await];
    let hung = [rig.enqueue("work", json!({"hang": true})).await, rig.enqueue("work", json!({"hang": true})).await];
    eventually("four requests in flight", || std::future::ready((rx.count() == 4).then_some(()))).await;
    let stopping = Instant::now();
    rig.stop().await;
    assert!(stopping.elapsed() < Duration::from_secs(10), "the grace bounds the stop");

    rig.wait_for_state(&quick, JobState::Completed).await;
    for id in hung {
        let job = rig.job(id).await;
        assert_eq!(job.state, JobState::Available, "released, not failed: {job:?}");
        assert!(job.last_error.is_none(), "{:?}", job.last_error);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_configured_secret_one_is_made_once_and_signs_deliveries() {
    let rx = Receiver::start(SECRET, Box::new(|_, _| Reply::Json(json!({})))).await;
    let q = QueueConfig { secret: None, ..push_queue(&rx.url()) };
    let mut rig = Rig::start(vec![("made", q)], PushBreakerConfig::default(), Duration::ZERO).await;
    let secret = push_secret(&rig.engine, &queue("made")).await.unwrap();
    assert!(secret.expose().starts_with("whsec_") && secret.expose() != SECRET);
    assert_eq!(push_secret(&rig.engine, &queue("made")).await.unwrap(), secret, "kept, not made again");
    rx.use_secret(secret.expose());
    let id = rig.enqueue("made", json!({})).await;
    rig.wait_for_state(&[id], JobState::Completed).await;
    assert!(rx.seen()[0].signed, "signed with the kept secret");
    rig.stop().await;
}

#[tokio::test]
async fn a_push_queue_refuses_pull_leases_and_shows_its_secret_to_admins_only() {
    let mut config = Config::default();
    config.queues.insert(queue("hook"), push_queue("https://app.example.com/jobs"));
    config.queues.insert(queue("made"), QueueConfig { secret: None, ..push_queue("http://127.0.0.1:9/x") });
    let app = TestApp::with_config(config).await;
    // The server makes configured queues known at start; this test app does not start one.
    app.engine.store().queue_ensure(vec![queue("hook"), queue("made")], app.engine.now()).await.unwrap();

    let a = app.send_as("worker", Method::POST, "/v1/queues/hook/lease", Some(r#"{"max":1}"#)).await;
    assert_eq!((a.status, a.code()), (StatusCode::CONFLICT, "QUEUE_IS_PUSH"), "{}", a.body);
    assert!(a.message().contains("https://app.example.com/jobs"), "{}", a.message());

    let admin = app.send(Method::GET, "/v1/queues/hook", None).await;
    assert_eq!(admin.status, StatusCode::OK, "{}", admin.body);
    assert_eq!(admin.body["target"], "https://app.example.com/jobs");
    assert_eq!(admin.body["secret"], SECRET);
    let reader = app.send_as("reader", Method::GET, "/v1/queues/hook", None).await;
    assert_eq!(reader.body["target"], "https://app.example.com/jobs");
    assert!(reader.body.get("secret").is_none(), "{}", reader.body);
    let list = app.send_as("reader", Method::GET, "/v1/queues", None).await;
    let hook = list.body["queues"].as_array().unwrap().iter().find(|q| q["name"] == "hook").cloned();
    assert_eq!(hook.map(|q| q["target"].clone()), Some(json!("https://app.example.com/jobs")));

    // Without a configured secret, the one made and kept is shown, the same each time.
    let first = app.send(Method::GET, "/v1/queues/made", None).await.body["secret"].clone();
    assert!(first.as_str().is_some_and(|s| s.starts_with("whsec_")), "{first}");
    assert_eq!(app.send(Method::GET, "/v1/queues/made", None).await.body["secret"], first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_pushed_after_its_children_carries_their_results() {
    let rx = Receiver::start(SECRET, Box::new(|seen, _| Reply::Json(json!({"echo": seen.body["payload"]["n"]})))).await;
    let queues = vec![("report", push_queue(&rx.url())), ("shard", push_queue(&rx.url()))];
    let rig = Rig::start(queues, PushBreakerConfig::default(), Duration::ZERO).await;
    let child = |n: u32| (queue("shard"), JobSpec { payload: json!({"n": n}).to_string(), ..JobSpec::default() });
    let spec = JobSpec { payload: "{}".into(), children: Some(vec![child(1), child(2)]), ..JobSpec::default() };
    let flow = rig.engine.enqueue_flow(&queue("report"), vec![spec]).await.unwrap().remove(0);
    rig.wait_for_state(&[flow.job.id], JobState::Completed).await;
    let seen = rx.seen();
    let parent = seen.iter().find(|s| s.body["queue"] == "report").expect("the parent was pushed");
    let children = parent.body["children"].as_array().expect("with its children");
    let echoed: Vec<&Value> = children.iter().map(|c| &c["result"]["echo"]).collect();
    assert_eq!(echoed, [&json!(1), &json!(2)]);
    assert!(children.iter().all(|c| c["state"] == "completed" && c["queue"] == "shard"));
    assert!(seen.iter().filter(|s| s.body["queue"] == "shard").all(|s| s.body.get("children").is_none()));
}

/// A step-function target: each 206 records a step and the target is called
/// again at once with the steps so far; a 2xx completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_206_records_a_step_and_calls_again_with_the_steps_until_a_2xx() {
    let rx = Receiver::start(
        SECRET,
        Box::new(|seen, _| match seen.body["step_order"].as_array().map_or(0, Vec::len) {
            0 => Reply::Partial(json!({"step": "analyze", "result": {"labels": 2}})),
            1 => Reply::Partial(json!({"step": "scope", "result": "small"})),
            _ => Reply::Json(json!({"done": seen.body["steps"]})),
        }),
    )
    .await;
    let mut rig =
        Rig::start(vec![("steps", push_queue(&rx.url()))], PushBreakerConfig::default(), Duration::ZERO).await;
    let id = rig.enqueue("steps", json!({"photo": 1})).await;
    rig.wait_for_state(&[id], JobState::Completed).await;
    let job = rig.job(id).await;
    assert_eq!(job.attempt, 1, "one attempt, three calls");
    let names: Vec<&str> = job.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["analyze", "scope"]);
    let result: Value = serde_json::from_str(job.result.as_deref().unwrap()).unwrap();
    assert_eq!(result, json!({"done": {"analyze": {"labels": 2}, "scope": "small"}}));
    let seen = rx.seen();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[1].body["steps"], json!({"analyze": {"labels": 2}}));
    assert_eq!(seen[2].body["step_order"], json!(["analyze", "scope"]));
    rig.stop().await;
}
