//! The webhook intake bench (`rampart bench webhooks`): verified intakes
//! per second, each a signature check, a dedupe, a log row and a job,
//! committed before the answer.
//!
//! Like the push bench it starts what it measures, in this process: a
//! rampart server on SQLite in a fresh temporary data directory (removed at
//! the end) with one `standard` (Standard Webhooks) source. Every request
//! is signed before the clock starts (a sender's cost, not rampart's), each
//! with its own event id; `--concurrency` requests are in flight at once
//! over keep-alive HTTP/1.1 connections on 127.0.0.1. The clock stops when
//! the last answer arrives; every answer must be `200` and new (not a
//! duplicate), and the queue must then hold one job per event. One JSON
//! line on stdout gives `intakes_per_s` and the latency percentiles.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rampart_core::id::{QueueName, SourceName};
use rampart_core::job::JobState;
use rampart_core::time::{Clock as _, SystemClock};
use rampart_server::config::Config;
use rampart_server::server::Server;
use rampart_webhook::scheme::mac;
use rampart_webhook::{HmacAlgorithm, SourceSpec};
use serde::Serialize;
use tokio::sync::Mutex;

use crate::stats::{percentile, rate, round};

/// The source's signing secret (the Standard Webhooks specification's example).
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// What the webhooks bench runs: the options of `rampart bench webhooks`.
#[derive(Debug, Clone)]
pub struct WebhooksOptions {
    /// Events to post, each once.
    pub events: u64,
    /// Requests in flight at once.
    pub concurrency: u32,
    /// Size of each event's JSON body, in bytes (at least 100).
    pub body_bytes: usize,
}

/// What `rampart bench webhooks` prints: one JSON object on one line.
#[derive(Debug, Serialize)]
struct Report {
    store: &'static str,
    scheme: &'static str,
    events: u64,
    concurrency: u32,
    body_bytes: usize,
    total_s: f64,
    intakes_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    jobs: u64,
}

/// Runs the webhooks bench and prints its report on stdout.
pub async fn webhooks(args: WebhooksOptions) -> anyhow::Result<()> {
    let dir =
        std::env::temp_dir().join(format!("rampart-bench-webhooks-{}-{}", std::process::id(), SystemClock.now().0));
    let outcome = measure(&args, &dir).await;
    if let Err(e) = std::fs::remove_dir_all(&dir) {
        eprintln!("could not remove the bench data directory {}: {e}", dir.display());
    }
    let report = outcome?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

/// One signed request: its event id, its `webhook-timestamp`, its signature and body.
struct Signed {
    id: String,
    timestamp: String,
    signature: String,
    body: String,
}

fn sign(n: u64, now_s: i64, body_bytes: usize) -> Signed {
    let id = format!("msg_bench_{n}");
    let head = format!(r#"{{"type":"invoice.paid","data":{{"n":{n},"org":"org_{}","pad":""#, n % 100);
    let pad = "x".repeat(body_bytes.saturating_sub(head.len() + 3));
    let body = format!("{head}{pad}\"}}}}");
    let key = STANDARD.decode(SECRET.trim_start_matches("whsec_")).unwrap_or_default();
    let timestamp = now_s.to_string();
    let parts: [&[u8]; 5] = [id.as_bytes(), b".", timestamp.as_bytes(), b".", body.as_bytes()];
    let signature = format!("v1,{}", STANDARD.encode(mac(HmacAlgorithm::Sha256, &key, &parts)));
    Signed { id, timestamp, signature, body }
}

async fn measure(args: &WebhooksOptions, dir: &std::path::Path) -> anyhow::Result<Report> {
    let name = SourceName::new("bench")?;
    let spec = SourceSpec {
        scheme: Some("standard".into()),
        secret: Some(SECRET.into()),
        tenant: Some("/data/org".into()),
        ..SourceSpec::default()
    };
    let source = spec.validate(&name).map_err(|p| anyhow::anyhow!("the bench source is invalid: {p:?}"))?;
    let mut config = Config { data_dir: dir.to_path_buf(), listen: "127.0.0.1:0".parse()?, ..Config::default() };
    config.webhooks.sources.insert(name, source);
    config.max_body_bytes = config.max_body_bytes.max(args.body_bytes * 2);
    let server = Server::start(config).await.context("cannot start the in-process server")?;
    let url = format!("http://{}/in/bench", server.local_addr());
    let engine = server.engine();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    eprintln!(
        "bench webhooks: {} events of {} bytes, standard scheme, {} in flight, SQLite",
        args.events, args.body_bytes, args.concurrency
    );
    let now_s = SystemClock.now().0 / 1000;
    let requests: Vec<Signed> = (0..args.events).map(|n| sign(n, now_s, args.body_bytes)).collect();
    let queue = Arc::new(Mutex::new(requests.into_iter()));
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency as usize)
        .timeout(Duration::from_secs(30))
        .build()?;

    let started = Instant::now();
    let mut senders = tokio::task::JoinSet::new();
    for _ in 0..args.concurrency {
        let (http, url, queue) = (http.clone(), url.clone(), queue.clone());
        senders.spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let Some(req) = queue.lock().await.next() else { return Ok::<_, anyhow::Error>(latencies) };
                let sent = Instant::now();
                let answer = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("webhook-id", &req.id)
                    .header("webhook-timestamp", &req.timestamp)
                    .header("webhook-signature", &req.signature)
                    .body(req.body)
                    .send()
                    .await
                    .context("the intake did not answer")?;
                let status = answer.status();
                let text = answer.text().await.context("the intake's answer did not arrive")?;
                latencies.push(sent.elapsed());
                if status != reqwest::StatusCode::OK || !text.contains("\"duplicate\":false") {
                    bail!("event {} was not taken: {status} {text}", req.id);
                }
            }
        });
    }
    let mut latencies = Vec::with_capacity(args.events as usize);
    let mut failure = None;
    while let Some(done) = senders.join_next().await {
        match done.context("a sender panicked")? {
            Ok(mut l) => latencies.append(&mut l),
            Err(e) => failure = Some(e),
        }
    }
    let total_s = started.elapsed().as_secs_f64();
    let jobs = engine.queue(&QueueName::new("bench")?).await.map(|q| q.counts.get(JobState::Available));
    let _ = stop.send(());
    serving.await.context("the in-process server panicked")?.context("the in-process server failed")?;
    if let Some(e) = failure {
        return Err(e);
    }
    let jobs = jobs.context("reading the queue's counts failed")?;
    if jobs != args.events {
        bail!("{} events were acknowledged but the queue holds {jobs} jobs", args.events);
    }
    let mut latencies: Vec<f64> = latencies.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    latencies.sort_by(f64::total_cmp);
    eprintln!("bench webhooks: {} intakes in {total_s:.3}s", args.events);
    let ms = |v: Option<f64>| round(v.unwrap_or_default(), 2);
    Ok(Report {
        store: "sqlite",
        scheme: "standard",
        events: args.events,
        concurrency: args.concurrency,
        body_bytes: args.body_bytes,
        total_s: round(total_s, 3),
        intakes_per_s: round(rate(args.events, total_s), 1),
        p50_ms: ms(percentile(&latencies, 50)),
        p99_ms: ms(percentile(&latencies, 99)),
        jobs,
    })
}
