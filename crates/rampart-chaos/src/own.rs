//! The scenarios that need more than the deployment's API: `restart` kills
//! the local server beside `rampart chaos` and starts it again;
//! `store_cut` and `push_target` start a throw-away server of their own
//! ([`LocalServer`]) set up for what they break: a store behind a proxy
//! they cut, a push queue to a target they make fail. Whatever they start
//! is dropped with their future, on Ctrl-C too: the processes killed, the
//! proxy and the target stopped, the throw-away database dropped.

use std::path::Path;
use std::time::{Duration, Instant};

use rampart_client::client::Client;
use rampart_client::wire::{BatchRequest, EnqueueRequest, JobView};
use rampart_core::duration::HumanDuration;
use rampart_core::id::JobId;
use rampart_core::job::JobState;

use crate::local::LocalServer;
use crate::proxy::{TcpProxy, rewrite_url};
use crate::restart::{Launch, RESTART_LOG, ServerProcess, is_running};
use crate::scenario::{Deadline, Options, call, payload, unique};
use crate::target::Target;
use crate::{Outcome, millis};

/// Jobs each scenario here enqueues.
const JOBS: usize = 5;
/// The queue of the throw-away servers.
const OWN_QUEUE: &str = "chaos";
/// How long the push target's breaker stays open before its probe.
const PUSH_COOLDOWN: &str = "2s";
/// Failed deliveries in a row that open the push target's breaker.
const PUSH_FAILURES: u32 = 3;

/// Enqueues `n` jobs, `delay` late when given; answers their ids.
async fn enqueue(client: &Client, queue: &str, n: usize, delay: Option<Duration>) -> Result<Vec<JobId>, String> {
    let jobs = (0..n)
        .map(|i| EnqueueRequest {
            max_attempts: Some(20),
            delay: delay.map(HumanDuration),
            ..EnqueueRequest::new(payload(&format!("{{\"chaos\":\"own\",\"n\":{i}}}")))
        })
        .collect();
    Ok(call("enqueue", client.enqueue_batch(queue, &BatchRequest { jobs }).await)?.ids)
}

async fn jobs(client: &Client, ids: &[JobId]) -> Result<Vec<JobView>, String> {
    let mut views = Vec::with_capacity(ids.len());
    for id in ids {
        views.push(call("job", client.job(&id.to_string()).await)?);
    }
    Ok(views)
}

/// Enqueued and scheduled jobs survive a SIGKILL of the server and its
/// start again: each is there after, in the same state, due at the same time.
pub(crate) async fn restart(client: &Client, queue: &str, server: &ServerProcess) -> Result<String, String> {
    let mut ids = enqueue(client, queue, JOBS, None).await?;
    ids.extend(enqueue(client, queue, JOBS, Some(Duration::from_secs(3600))).await?);
    let before = jobs(client, &ids).await?;
    let launch = Launch::of(server.pid)?;
    let pid = nix::unistd::Pid::from_raw(i32::try_from(server.pid).map_err(|e| e.to_string())?);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL)
        .map_err(|e| format!("cannot kill pid {}: {e}", server.pid))?;
    let killed_at = Instant::now();
    let deadline = Deadline::new("the killed server to end");
    while is_running(server.pid) {
        deadline.tick().await?;
    }
    let log = server.data_dir.join(RESTART_LOG);
    let new_pid = launch.start(server.addr, &log)?;
    let deadline = Deadline::new("the server started again to answer /health");
    while client.health().await.is_err() {
        deadline.tick().await.map_err(|e| format!("{e} (its log: {})", log.display()))?;
    }
    let back = killed_at.elapsed();
    let mut problems = Vec::new();
    for (was, now) in before.iter().zip(jobs(client, &ids).await?) {
        if (was.state, was.run_at) != (now.state, now.run_at) {
            problems.push(format!(
                "job {} was {} due {}, is {} due {}",
                was.id,
                was.state.as_str(),
                was.run_at.to_rfc3339(),
                now.state.as_str(),
                now.run_at.to_rfc3339()
            ));
        }
    }
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    Ok(format!(
        "{JOBS} available and {JOBS} scheduled jobs kept their state and due time across a SIGKILL of pid {} and a \
         start again (pid {new_pid}, answering {} after the kill; its log: {})",
        server.pid,
        millis(back),
        log.display()
    ))
}

/// The store cut off and back: a throw-away node on a throw-away database
/// of `--store-url`'s server, through a proxy, answers readiness 503 while
/// the proxy is cut, comes back by itself, and keeps every job it acknowledged.
pub(crate) async fn store_cut(options: &Options) -> Outcome {
    let Some(url) = &options.store_url else {
        return Outcome::Skip(
            "needs --store-url postgres://… (a database server it may create a throw-away database on): it runs a \
             throw-away node there behind a proxy it cuts"
                .into(),
        );
    };
    let Some(program) = &options.program else {
        return Outcome::Skip("needs the rampart executable to start a throw-away node".into());
    };
    if !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
        return Outcome::Skip(format!(
            "--store-url must be a postgres:// URL, not {}",
            url.split("://").next().unwrap_or("")
        ));
    }
    store_cut_on(program, url).await.into()
}

async fn store_cut_on(program: &Path, url: &str) -> Result<String, String> {
    let upstream = upstream(url).await?;
    let db = ThrowawayDatabase::create(url).await?;
    let proxy = TcpProxy::start(upstream).await?;
    let env = [
        ("DATABASE_URL".to_string(), rewrite_url(url, proxy.addr(), &db.name)),
        ("RAMPART_POSTGRES__POOL_SIZE".to_string(), "4".to_string()),
    ];
    let node = LocalServer::start(program, "", &env).await?;
    let client = &node.client;
    let mut ids = enqueue(client, OWN_QUEUE, JOBS, None).await?;
    let status = call("/health/ready", client.ready().await)?.status;
    if status != "ready" {
        return Err(format!("the node answers {status} before the cut"));
    }
    proxy.cut();
    let cut_at = Instant::now();
    let deadline = Deadline::new("readiness to answer 503 while the store is cut");
    while call("/health/ready", client.ready().await)?.status == "ready" {
        deadline.tick().await?;
    }
    let noticed = cut_at.elapsed();
    // An enqueue the node acknowledges while cut must be kept as well.
    let during = match enqueue(client, OWN_QUEUE, 1, None).await {
        Ok(acked) => {
            ids.extend(acked);
            "acknowledged"
        }
        Err(_) => "refused",
    };
    proxy.restore();
    let restored_at = Instant::now();
    let deadline = Deadline::new("readiness to answer ready again after the store came back");
    while call("/health/ready", client.ready().await)?.status != "ready" {
        deadline.tick().await?;
    }
    let back = restored_at.elapsed();
    let kept = jobs(client, &ids).await?;
    let lost: Vec<String> = kept
        .iter()
        .filter(|j| j.state != JobState::Available)
        .map(|j| format!("{} {}", j.id, j.state.as_str()))
        .collect();
    if !lost.is_empty() {
        return Err(format!("acknowledged jobs not kept as available: {}", lost.join(", ")));
    }
    Ok(format!(
        "readiness 503 {} after the cut, ready again by itself {} after the restore; {}/{} acknowledged jobs kept \
         (an enqueue during the cut was {during})",
        millis(noticed),
        millis(back),
        kept.len(),
        ids.len()
    ))
}

/// The first host and port of a PostgreSQL URL, resolved.
async fn upstream(url: &str) -> Result<std::net::SocketAddr, String> {
    let config: tokio_postgres::Config = url.parse().map_err(|e| format!("--store-url: {e}"))?;
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        _ => return Err("--store-url needs a TCP host".into()),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    tokio::net::lookup_host((host.as_str(), port))
        .await
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| format!("cannot resolve {host}:{port}"))
}

/// A database `rampart_chaos_<pid>_<n>` made for one run, dropped with it.
struct ThrowawayDatabase {
    url: String,
    name: String,
}

impl ThrowawayDatabase {
    async fn create(url: &str) -> Result<ThrowawayDatabase, String> {
        let name = format!("rampart_chaos_{}_{}", std::process::id(), unique());
        sql(url, &format!("CREATE DATABASE \"{name}\""))
            .await
            .map_err(|e| format!("cannot create a throw-away database: {e}"))?;
        Ok(ThrowawayDatabase { url: url.to_string(), name })
    }
}

impl Drop for ThrowawayDatabase {
    fn drop(&mut self) {
        // Drop cannot wait on the caller's runtime: a thread with its own does.
        let (url, statement) = (self.url.clone(), format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name));
        let dropped = std::thread::spawn(move || {
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
            runtime.block_on(sql(&url, &statement))
        });
        if let Ok(Err(e)) = dropped.join() {
            eprintln!("rampart chaos: cannot drop the throw-away database {}: {e}", self.name);
        }
    }
}

/// Runs one statement on a connection of its own.
async fn sql(url: &str, statement: &str) -> Result<(), String> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.map_err(|e| e.to_string())?;
    let driver = tokio::spawn(connection);
    let done = client.batch_execute(statement).await.map_err(|e| e.to_string());
    drop(client);
    let _ = driver.await;
    done
}

/// A push target failing: a throw-away server's push queue to a target that
/// answers 503 opens the target's breaker; the jobs waiting behind it use
/// no attempt while it is open, and all are delivered once it recovers.
pub(crate) async fn push_target(options: &Options) -> Outcome {
    let Some(program) = &options.program else {
        return Outcome::Skip("needs the rampart executable to start a throw-away server".into());
    };
    push_target_on(program).await.into()
}

async fn push_target_on(program: &Path) -> Result<String, String> {
    let target = Target::start().await?;
    let config = format!(
        "[queues.{OWN_QUEUE}]\ntarget = \"{}\"\nconcurrency = 1\nmax_attempts = 20\n\n\
         [queues.{OWN_QUEUE}.backoff]\ninitial = \"100ms\"\nmax = \"100ms\"\n\n\
         [push.breaker]\nfailure_threshold = {PUSH_FAILURES}\ncooldown = \"{PUSH_COOLDOWN}\"\n",
        target.url
    );
    let node = LocalServer::start(program, &config, &[]).await?;
    let client = &node.client;
    let ids = enqueue(client, OWN_QUEUE, JOBS, None).await?;
    let breaker_state = async || -> Result<String, String> {
        let breakers = call("breakers", client.breakers().await)?.breakers;
        Ok(breakers.into_iter().find(|b| b.name == target.breaker).map_or_else(|| "closed".into(), |b| b.state))
    };
    let deadline = Deadline::new("the push target's breaker to open");
    while breaker_state().await? != "open" {
        deadline.tick().await?;
    }
    let failed = target.requests();
    target.heal();
    let deadline = Deadline::new("every push job to be delivered after the target recovered");
    let delivered = loop {
        let now = jobs(client, &ids).await?;
        if let Some(dead) = now.iter().find(|j| j.state == JobState::Dead) {
            return Err(format!("job {} went dead: {}", dead.id, dead.last_error.as_deref().unwrap_or("no error")));
        }
        if now.iter().all(|j| j.state == JobState::Completed) {
            break now;
        }
        deadline.tick().await?;
    };
    // An attempt is used only by a request to the target: one used while
    // the breaker held the requests back would show as more attempts.
    let attempts: u64 = delivered.iter().map(|j| u64::from(j.attempt)).sum();
    let requests = target.requests();
    if attempts != requests {
        return Err(format!(
            "the jobs used {attempts} attempts for {requests} requests to the target: attempts were burned while \
             the breaker was open"
        ));
    }
    Ok(format!(
        "the breaker opened after {failed} failed deliveries; the jobs behind it used no attempt while it was open \
         ({PUSH_COOLDOWN}): {attempts} attempts, each a request to the target; once it recovered {JOBS}/{JOBS} \
         delivered, none dead"
    ))
}
