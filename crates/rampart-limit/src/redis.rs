//! The Redis backend: keys' states in one Redis, shared by every node, with
//! the decisions of [`policy`](crate::policy) and of
//! [`MemoryLimiter::check_all`](crate::memory::MemoryLimiter::check_all).
//!
//! # How a check travels
//!
//! [`RedisLimiter::check`] hands its request to a background task through a
//! channel and waits for the answer (at most [`RedisConfig::timeout`]). The
//! task takes every request waiting (up to [`RedisConfig::max_batch`]) and
//! sends them as one `EVALSHA` of `redis.lua`, which evaluates each request
//! in turn: every request is atomic and independent of the others in its
//! batch (one denied does not affect another), and a request sees the
//! requests before it in the batch exactly as if each had been its own
//! call. Up to [`RedisConfig::max_in_flight`] batches are in flight at once,
//! pipelined on one multiplexed connection. The script reads the batch's
//! keys with one `MGET` and writes each allowed check's key with one
//! command; the batch's numbers travel packed (little-endian, `struct` in
//! Redis's Lua), both ways, since printing and parsing numbers is what
//! Redis's Lua does slowest. The task ends when the last clone of the
//! limiter is dropped.
//!
//! One call costs Redis about 10 µs of CPU (on the 2-core machine this was
//! measured on; `examples/redis_load.rs` prints it), so one Redis serves
//! about 100,000 checks a second. Batches of about 16 to 24 requests with
//! two in flight keep both Redis and the caller busy: bigger batches leave
//! each side waiting for the other.
//!
//! # Semantics
//!
//! The same as the memory backend's: several checks in one request are
//! allowed only if all allow; a denied request counts against none of them;
//! the binding decision is the first denying check's or, when all allow,
//! the one with the least remaining; a key repeated in one request sees its
//! earlier check. A denied request writes nothing, and neither does a check
//! at no cost (what it would store decides like what is stored).
//!
//! # Time and precision
//!
//! The time is Redis's own (`TIME`), so nodes with skewed clocks agree; a
//! call may give its own `now` instead (tests do), which is truncated to the
//! microsecond. Lua numbers are doubles, so the script works in whole
//! microseconds (now ≈ 1.8 × 10¹⁵ µs, below 2⁵³) and mirrors the integer
//! formulas of `policy.rs` scaled by 1000: windows are taken in whole
//! microseconds (rounded down). With integer costs and every product the
//! formulas form below 2⁵³ (`limit × window` in µs, and for GCRA `burst ×
//! window`: 1,000,000 per day is about 8.6 × 10¹⁶ and falls outside, 10,000
//! per hour at 3.6 × 10¹³ is well inside), the decisions are exactly the
//! memory backend's at the same times, with `reset_after` and
//! `retry_after` rounded up to the microsecond; beyond, a decision can
//! differ from the exact one only where the exact comparison is within a
//! rounding of equality.
//!
//! # Keys
//!
//! A key's state lives at `{prefix}{policy name}/{fingerprint}:{key}` (a
//! policy name must not hold `/`; rampart's never do, so the name ends at
//! the first one),
//! where the fingerprint is the algorithm's letter and the window (`s60000`
//! for a sliding window of 60,000 ms; `…u` when the window is not whole
//! milliseconds, in µs), so a policy whose algorithm or window changes
//! starts afresh instead of misreading old state. The value is 24 or 32
//! bytes, little-endian f64s: `window count` (fixed), `window previous
//! current` (sliding), or `µs remainder` (GCRA: the theoretical arrival
//! time in whole microseconds, and the rest in 1/limit µs), then the moment
//! the key expires. A value of another length reads as fresh.
//!
//! Every key written expires one second after its state stops mattering
//! ([`Policy::idle_at`]), so Redis never fills with idle keys: `PSETEX`
//! sets the expiry, and a write that the expiry already covers rewrites the
//! value in place (`SETRANGE`, which keeps it, at half the cost). A GCRA
//! key's expiry is set a quarter of the bucket's drain time (`window ×
//! burst / limit`) beyond need, so that a busy key is not re-expired at
//! every check; it can outlive its state by that much. The expiry a value
//! records is in the clock of the calls that wrote it: mixing Redis's time
//! and given times on one key can end its state early.
//!
//! Every key of a batch goes through one script call, so the backend needs
//! one Redis (or one primary), not a Redis Cluster.
//!
//! # Failures
//!
//! Every call is bounded by [`RedisConfig::timeout`] and answers
//! [`RedisLimitError`] when Redis is down, slow or restarting; a call that
//! timed out may still have been counted. The connection reconnects by
//! itself, and a restarted Redis that lost the script gets it again (`EVAL`
//! on `NOSCRIPT`).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::io::tcp::TcpSettings;
use redis::{AsyncConnectionConfig, Client, Cmd, ErrorKind, IntoConnectionInfo, RedisError, ServerErrorKind, Value};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::time::Instant;

use crate::policy::{Algorithm, Decision, Nanos, Policy};

/// The script every batch runs.
const SCRIPT: &str = include_str!("redis.lua");
/// Requests waiting for the batcher at most, per batch in flight.
const QUEUE_PER_BATCH: usize = 4;
/// Connecting gets at least this long, however short the call timeout.
const MIN_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Unacknowledged data on the socket for this long closes it (Linux), so a
/// Redis host that vanished without a reset is noticed and reconnected.
#[cfg(target_os = "linux")]
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(5);

/// Where Redis is and how the limiter talks to it.
#[derive(Clone)]
pub struct RedisConfig {
    /// `redis://[user:password@]host:port[/db]`.
    pub url: String,
    /// Put before every key, so several deployments (or tests) can share one
    /// Redis.
    pub prefix: String,
    /// How long any call may take, queueing included.
    pub timeout: Duration,
    /// Requests sent in one script call at most.
    pub max_batch: usize,
    /// Script calls awaiting their answer at once at most.
    pub max_in_flight: usize,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            url: "redis://127.0.0.1:6379".into(),
            prefix: "rampart:ratelimit:".into(),
            timeout: Duration::from_millis(50),
            max_batch: 24,
            max_in_flight: 2,
        }
    }
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &redacted(&self.url))
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("max_batch", &self.max_batch)
            .field("max_in_flight", &self.max_in_flight)
            .finish()
    }
}

/// A URL without the password it may carry, for messages and logs.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

/// Why a call to Redis gave no decision.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedisLimitError {
    /// No answer within the configured timeout (the check may still have
    /// been counted).
    #[error("Redis did not answer within {0:?}")]
    Timeout(Duration),
    /// Redis cannot be reached, the connection broke, or Redis refuses work
    /// for now (loading, out of memory, read-only).
    #[error("Redis is unavailable: {0}")]
    Unavailable(String),
    /// Redis ran the request and answered an error, or an answer that is
    /// not what the script returns.
    #[error("the rate-limit script failed: {0}")]
    Script(String),
    /// The configuration cannot work (a malformed URL).
    #[error("bad Redis configuration: {0}")]
    Config(String),
    /// [`RedisLimiter::check`] was given no checks.
    #[error("a check needs at least one policy")]
    NoChecks,
}

/// One check of a request: see [`RedisLimiter::check`].
#[derive(Debug, Clone, Copy)]
pub struct RedisCheck<'a> {
    /// The policy's name, part of the Redis key.
    pub name: &'a str,
    /// The policy itself.
    pub policy: &'a Policy,
    /// The key string.
    pub key: &'a str,
    /// What the request costs under this policy.
    pub cost: u64,
}

/// Rate-limit states in Redis; cheap to clone, every clone sharing one
/// connection and one batcher.
#[derive(Clone)]
pub struct RedisLimiter {
    shared: Arc<Shared>,
}

struct Shared {
    jobs: mpsc::Sender<Job>,
    conn: ConnectionManager,
    prefix: String,
    timeout: Duration,
}

/// A request on its way to the batcher.
struct Job {
    peek: bool,
    /// Microseconds; `None` for Redis's own time.
    now: Option<u64>,
    checks: Checks,
    /// When the caller stops waiting: the batcher answers by then.
    deadline: Instant,
    reply: oneshot::Sender<Result<Answer, RedisLimitError>>,
}

/// A request's checks, most often one (kept without an allocation of its own).
enum Checks {
    One(JobCheck),
    Many(Vec<JobCheck>),
}

impl Checks {
    fn as_slice(&self) -> &[JobCheck] {
        match self {
            Checks::One(check) => std::slice::from_ref(check),
            Checks::Many(checks) => checks,
        }
    }
}

struct JobCheck {
    key: String,
    params: Params,
    cost: u64,
}

/// A policy as the script reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Params {
    /// 1 fixed window, 2 sliding window, 3 GCRA.
    algorithm: u8,
    limit: u64,
    window_us: u64,
    burst: u64,
}

/// The script's five numbers for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Answer {
    /// 1 allowed, 0 denied, -1 a peek at a key with no state that matters.
    allowed: i64,
    index: i64,
    remaining: i64,
    reset_us: i64,
    /// -1 for none.
    retry_us: i64,
}

impl RedisLimiter {
    /// Connects to Redis, loads the script and starts the batcher (a task on
    /// the current Tokio runtime). Bounded by the timeout, or one second if
    /// that is longer: a Redis that is down answers
    /// [`RedisLimitError::Unavailable`] or [`RedisLimitError::Timeout`],
    /// never a hang.
    pub async fn connect(config: RedisConfig) -> Result<RedisLimiter, RedisLimitError> {
        let connect_timeout = config.timeout.max(MIN_CONNECT_TIMEOUT);
        let info = config
            .url
            .as_str()
            .into_connection_info()
            .map_err(|e| RedisLimitError::Config(format!("`{}`: {e}", redacted(&config.url))))?;
        let info = info.set_tcp_settings(tcp_settings());
        let client =
            Client::open(info).map_err(|e| RedisLimitError::Config(format!("`{}`: {e}", redacted(&config.url))))?;

        // One attempt, with no retries, so that an unreachable Redis answers
        // with its reason instead of a timeout.
        let probe = async {
            let probe_config = AsyncConnectionConfig::new()
                .set_connection_timeout(Some(connect_timeout))
                .set_response_timeout(Some(connect_timeout));
            let mut conn = client.get_multiplexed_async_connection_with_config(&probe_config).await?;
            redis::cmd("SCRIPT").arg("LOAD").arg(SCRIPT).query_async::<String>(&mut conn).await
        };
        let sha = bounded(connect_timeout, probe).await?;

        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(connect_timeout))
            // Every call has its own deadline.
            .set_response_timeout(None)
            .set_number_of_retries(4)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client, manager_config)
            .map_err(|e| classify(e, connect_timeout))?;
        let mut warm = conn.clone();
        bounded(connect_timeout, async move { redis::cmd("PING").query_async::<()>(&mut warm).await }).await?;

        let max_batch = config.max_batch.max(1);
        let max_in_flight = config.max_in_flight.max(1);
        let (jobs, queue) = mpsc::channel(max_batch * max_in_flight * QUEUE_PER_BATCH);
        let link = Link { conn: conn.clone(), sha: sha.into(), timeout: config.timeout };
        tokio::spawn(batcher(queue, link, max_batch, Arc::new(Semaphore::new(max_in_flight))));
        Ok(RedisLimiter { shared: Arc::new(Shared { jobs, conn, prefix: config.prefix, timeout: config.timeout }) })
    }

    /// Checks one request against one or more policies at `now` (`None`:
    /// Redis's time) and counts it when allowed: allowed only if every check
    /// allows it, counted against none when denied. Answers the binding
    /// check's decision and its index: the first denying check, or when all
    /// allow the one with the least remaining.
    pub async fn check(
        &self,
        checks: &[RedisCheck<'_>],
        now: Option<Nanos>,
    ) -> Result<(Decision, usize), RedisLimitError> {
        if checks.is_empty() {
            return Err(RedisLimitError::NoChecks);
        }
        let job = |c: &RedisCheck<'_>| JobCheck {
            key: self.key(c.name, c.policy, c.key),
            params: Params::of(c.policy),
            // Any cost above the maximum decides alike; this one keeps the script's numbers small.
            cost: c.cost.min(c.policy.max_cost() + 1),
        };
        let jobs = match checks {
            [one] => Checks::One(job(one)),
            many => Checks::Many(many.iter().map(job).collect()),
        };
        let answer = self.submit(false, now, jobs).await?;
        let check = usize::try_from(answer.index)
            .ok()
            .and_then(|i| Some((i, checks.get(i)?)))
            .ok_or_else(|| RedisLimitError::Script(format!("binding index {} out of range", answer.index)))?;
        Ok((decision(&answer, check.1.policy, check.1.cost), check.0))
    }

    /// What a check of `key` would see at `now` (`None`: Redis's time),
    /// counting nothing. `None` when the key has no state that matters: it
    /// would decide as fresh.
    pub async fn peek(
        &self,
        name: &str,
        policy: &Policy,
        key: &str,
        now: Option<Nanos>,
    ) -> Result<Option<Decision>, RedisLimitError> {
        let job = JobCheck { key: self.key(name, policy, key), params: Params::of(policy), cost: 0 };
        let answer = self.submit(true, now, Checks::One(job)).await?;
        Ok((answer.allowed >= 0).then(|| decision(&answer, policy, 0)))
    }

    /// Forgets `key` under the policy: its next check starts fresh. Answers
    /// whether it had a state.
    pub async fn reset(&self, name: &str, policy: &Policy, key: &str) -> Result<bool, RedisLimitError> {
        let mut conn = self.shared.conn.clone();
        let key = self.key(name, policy, key);
        let deleted =
            bounded(self.shared.timeout, async move { redis::cmd("DEL").arg(key).query_async::<u64>(&mut conn).await })
                .await?;
        Ok(deleted > 0)
    }

    /// Checks that Redis answers, within the timeout.
    pub async fn ping(&self) -> Result<(), RedisLimitError> {
        let mut conn = self.shared.conn.clone();
        bounded(self.shared.timeout, async move { redis::cmd("PING").query_async::<()>(&mut conn).await }).await
    }

    /// Redis's `used_memory` from `INFO memory`, in bytes, within the timeout.
    pub async fn used_memory(&self) -> Result<u64, RedisLimitError> {
        let mut conn = self.shared.conn.clone();
        let info = bounded(self.shared.timeout, async move {
            redis::cmd("INFO").arg("memory").query_async::<String>(&mut conn).await
        })
        .await?;
        info_field(&info, "used_memory")
            .ok_or_else(|| RedisLimitError::Script("INFO memory has no used_memory line".to_string()))
    }

    /// The Redis key that holds `key`'s state under the policy named `name`.
    pub fn key(&self, name: &str, policy: &Policy, key: &str) -> String {
        let prefix = &self.shared.prefix;
        let mut out = String::with_capacity(prefix.len() + name.len() + key.len() + 16);
        out.push_str(prefix);
        out.push_str(name);
        // `/` never appears in a policy name (A-Z a-z 0-9 _ . : -), so it
        // ends the name unambiguously even when the name holds `:`.
        out.push('/');
        let letter = match policy.algorithm() {
            Algorithm::FixedWindow => 'f',
            Algorithm::SlidingWindow => 's',
            Algorithm::Gcra => 'g',
        };
        let window_us = Params::of(policy).window_us;
        // Writing to a String cannot fail.
        let _ = if window_us.is_multiple_of(1000) {
            write!(out, "{letter}{}", window_us / 1000)
        } else {
            write!(out, "{letter}{window_us}u")
        };
        out.push(':');
        out.push_str(key);
        out
    }

    /// Hands a request to the batcher and waits for its answer, which comes
    /// by the deadline: every batch ends by its earliest deadline, and the
    /// batcher answers a request whose deadline passed while it queued.
    /// That costs one timer a batch instead of one a call.
    async fn submit(&self, peek: bool, now: Option<Nanos>, checks: Checks) -> Result<Answer, RedisLimitError> {
        let (reply, answer) = oneshot::channel();
        let timeout = self.shared.timeout;
        let deadline = Instant::now() + timeout;
        let job = Job { peek, now: now.map(|n| n / 1000), checks, deadline, reply };
        let stopped = || RedisLimitError::Unavailable("the limiter's batcher has stopped".into());
        match self.shared.jobs.try_send(job) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(job)) => {
                match tokio::time::timeout_at(deadline, self.shared.jobs.send(job)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return Err(stopped()),
                    Err(_) => return Err(RedisLimitError::Timeout(timeout)),
                }
            }
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(stopped()),
        }
        answer.await.map_err(|_| stopped())?
    }
}

impl std::fmt::Debug for RedisLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLimiter")
            .field("prefix", &self.shared.prefix)
            .field("timeout", &self.shared.timeout)
            .finish_non_exhaustive()
    }
}

impl Params {
    fn of(policy: &Policy) -> Params {
        let algorithm = match policy.algorithm() {
            Algorithm::FixedWindow => 1,
            Algorithm::SlidingWindow => 2,
            Algorithm::Gcra => 3,
        };
        // At most 366 days: far inside u64.
        let window_us = u64::try_from(policy.window().as_micros()).unwrap_or(u64::MAX);
        Params { algorithm, limit: policy.limit(), window_us, burst: policy.burst() }
    }
}

fn decision(answer: &Answer, policy: &Policy, cost: u64) -> Decision {
    let micros = |us: i64| Duration::from_micros(u64::try_from(us).unwrap_or(0));
    let allowed = answer.allowed == 1;
    let retry_after = (!allowed && cost <= policy.max_cost() && answer.retry_us >= 0).then(|| micros(answer.retry_us));
    Decision {
        allowed,
        limit: policy.limit(),
        remaining: u64::try_from(answer.remaining).unwrap_or(0),
        reset_after: micros(answer.reset_us),
        retry_after,
    }
}

fn tcp_settings() -> TcpSettings {
    let settings = TcpSettings::default().set_nodelay(true);
    #[cfg(target_os = "linux")]
    let settings = settings.set_user_timeout(TCP_USER_TIMEOUT);
    settings
}

/// `call` bounded by `timeout`, its error classified.
/// A whole-number field (`name:value`) of an `INFO` answer.
fn info_field(info: &str, name: &str) -> Option<u64> {
    info.lines().find_map(|line| line.trim_end().strip_prefix(name)?.strip_prefix(':')?.parse().ok())
}

async fn bounded<T>(
    timeout: Duration,
    call: impl Future<Output = Result<T, RedisError>>,
) -> Result<T, RedisLimitError> {
    match tokio::time::timeout(timeout, call).await {
        Ok(result) => result.map_err(|e| classify(e, timeout)),
        Err(_) => Err(RedisLimitError::Timeout(timeout)),
    }
}

/// An error the script or its arguments caused is [`RedisLimitError::Script`];
/// everything else means Redis cannot serve now (a socket timeout is the
/// call's `timeout`).
fn classify(error: RedisError, timeout: Duration) -> RedisLimitError {
    if error.is_timeout() {
        return RedisLimitError::Timeout(timeout);
    }
    match error.kind() {
        ErrorKind::Server(ServerErrorKind::ResponseError | ServerErrorKind::ExecAbort | ServerErrorKind::NoPerm)
        | ErrorKind::UnexpectedReturnType
        | ErrorKind::Client => RedisLimitError::Script(error.to_string()),
        ErrorKind::InvalidClientConfig => RedisLimitError::Config(error.to_string()),
        _ => RedisLimitError::Unavailable(error.to_string()),
    }
}

/// What a batch needs to reach Redis.
#[derive(Clone)]
struct Link {
    conn: ConnectionManager,
    sha: Arc<str>,
    timeout: Duration,
}

/// Takes the waiting requests, as many as fit a batch, whenever a batch may
/// be sent, until every handle to the limiter is gone.
async fn batcher(mut queue: mpsc::Receiver<Job>, link: Link, max_batch: usize, in_flight: Arc<Semaphore>) {
    loop {
        // The semaphore is never closed.
        let Ok(permit) = Arc::clone(&in_flight).acquire_owned().await else { return };
        let mut batch = Vec::with_capacity(max_batch);
        if queue.recv_many(&mut batch, max_batch).await == 0 {
            return;
        }
        // A request whose deadline passed while it queued is answered now;
        // one whose caller left needs no answer. Neither is counted late.
        let now = Instant::now();
        for job in batch.extract_if(.., |job| job.deadline <= now) {
            let _ = job.reply.send(Err(RedisLimitError::Timeout(link.timeout)));
        }
        batch.retain(|job| !job.reply.is_closed());
        if batch.is_empty() {
            continue;
        }
        let link = link.clone();
        tokio::spawn(async move {
            link.send(batch).await;
            drop(permit);
        });
    }
}

impl Link {
    /// Runs one batch and answers each of its callers.
    async fn send(&self, batch: Vec<Job>) {
        // The earliest caller's: every caller has its answer by its own deadline.
        let deadline = batch.iter().map(|job| job.deadline).min().unwrap_or_else(|| Instant::now() + self.timeout);
        let mut conn = self.conn.clone();
        let mut result = self.run(&mut conn, &batch, Some(&self.sha), deadline).await;
        if matches!(&result, Err(RunError::Redis(e)) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript)) {
            // Redis restarted or flushed its scripts: EVAL runs the batch and loads the script again.
            result = self.run(&mut conn, &batch, None, deadline).await;
        }
        let answers = match result {
            Ok(value) => decode(value, batch.len()),
            Err(RunError::Timeout) => Err(RedisLimitError::Timeout(self.timeout)),
            Err(RunError::Redis(e)) => Err(classify(e, self.timeout)),
        };
        match answers {
            Ok(answers) => {
                for (job, answer) in batch.into_iter().zip(answers) {
                    let _ = job.reply.send(Ok(answer));
                }
            }
            Err(e) => {
                for job in batch {
                    let _ = job.reply.send(Err(e.clone()));
                }
            }
        }
    }

    async fn run(
        &self,
        conn: &mut ConnectionManager,
        batch: &[Job],
        sha: Option<&str>,
        deadline: Instant,
    ) -> Result<Value, RunError> {
        let cmd = encode(batch, sha);
        match tokio::time::timeout_at(deadline, conn.send_packed_command(&cmd)).await {
            // A server error (NOSCRIPT, a script error) comes as a value.
            Ok(Ok(value @ Value::ServerError(_))) => value.extract_error().map_err(RunError::Redis),
            Ok(result) => result.map_err(RunError::Redis),
            Err(_) => Err(RunError::Timeout),
        }
    }
}

/// Why a script call gave no answer: its deadline, or Redis.
enum RunError {
    Timeout,
    Redis(RedisError),
}

/// The script call for a batch: `EVALSHA sha` or, without one, `EVAL` with
/// the script; the keys, then everything else packed as `redis.lua` reads it.
fn encode(batch: &[Job], sha: Option<&str>) -> Cmd {
    let checks: usize = batch.iter().map(|job| job.checks.as_slice().len()).sum();
    let mut index: HashMap<&str, u32> = HashMap::with_capacity(checks);
    let mut keys: Vec<&str> = Vec::with_capacity(checks);
    // Few policies in a batch: a list beats a map.
    let mut policies: Vec<Params> = Vec::new();
    let mut refs: Vec<(u32, u32)> = Vec::with_capacity(checks);
    for check in batch.iter().flat_map(|job| job.checks.as_slice()) {
        let key = *index.entry(&check.key).or_insert_with(|| {
            keys.push(&check.key);
            count(keys.len())
        });
        let policy = match policies.iter().position(|p| *p == check.params) {
            Some(i) => count(i + 1),
            None => {
                policies.push(check.params);
                count(policies.len())
            }
        };
        refs.push((key, policy));
    }

    let mut blob = Vec::with_capacity(8 + policies.len() * 25 + batch.len() * 13 + checks * 16);
    blob.extend_from_slice(&count(policies.len()).to_le_bytes());
    blob.extend_from_slice(&count(batch.len()).to_le_bytes());
    for p in &policies {
        blob.push(p.algorithm);
        for n in [p.limit, p.window_us, p.burst] {
            blob.extend_from_slice(&number(n).to_le_bytes());
        }
    }
    let mut refs = refs.into_iter();
    for job in batch {
        blob.push(u8::from(job.peek));
        blob.extend_from_slice(&job.now.map_or(-1.0, number).to_le_bytes());
        let checks = job.checks.as_slice();
        blob.extend_from_slice(&count(checks.len()).to_le_bytes());
        for (check, (key, policy)) in checks.iter().zip(refs.by_ref()) {
            blob.extend_from_slice(&key.to_le_bytes());
            blob.extend_from_slice(&policy.to_le_bytes());
            blob.extend_from_slice(&number(check.cost).to_le_bytes());
        }
    }

    let (verb, script) = match sha {
        Some(sha) => ("EVALSHA", sha),
        None => ("EVAL", SCRIPT),
    };
    // Sized up front: growing it would copy every key again.
    let data = verb.len() + script.len() + 8 + keys.iter().map(|k| k.len()).sum::<usize>() + blob.len();
    let mut cmd = Cmd::with_capacity(keys.len() + 4, data);
    cmd.arg(verb).arg(script).arg(keys.len()).arg(&keys[..]).arg(blob);
    cmd
}

/// A count or index as the script reads it; a batch holds far fewer than
/// 2³² of anything.
fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A number as the script reads it: a double, exact below 2⁵³ (every limit,
/// window, cost and time here is).
fn number(n: u64) -> f64 {
    n as f64
}

/// The script's answer: five little-endian f64 per request, each an
/// integer.
fn decode(value: Value, requests: usize) -> Result<Vec<Answer>, RedisLimitError> {
    let Value::BulkString(bytes) = value else {
        return Err(RedisLimitError::Script(format!("unexpected answer: {value:?}")));
    };
    if bytes.len() != requests * 40 {
        return Err(RedisLimitError::Script(format!("{} bytes of answers for {requests} requests", bytes.len())));
    }
    // Integers far inside i64: every number the script answers is.
    let int = |at: &[u8]| f64::from_le_bytes(at.try_into().unwrap_or_default()) as i64;
    Ok(bytes
        .chunks_exact(40)
        .map(|a| Answer {
            allowed: int(&a[0..8]),
            index: int(&a[8..16]),
            remaining: int(&a[16..24]),
            reset_us: int(&a[24..32]),
            retry_us: int(&a[32..40]),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_fields_are_read_by_their_exact_name() {
        let info = "# Memory\r\nused_memory:1048576\r\nused_memory_human:1.00M\r\nused_memory_rss:2000000\r\n";
        assert_eq!(info_field(info, "used_memory"), Some(1_048_576));
        assert_eq!(info_field(info, "used_memory_rss"), Some(2_000_000));
        assert_eq!(info_field(info, "used_memory_peak"), None);
    }

    fn job(peek: bool, now: Option<u64>, checks: &[(&str, Params, u64)]) -> Job {
        let checks = checks.iter().map(|&(key, params, cost)| JobCheck { key: key.into(), params, cost }).collect();
        Job { peek, now, checks: Checks::Many(checks), deadline: Instant::now(), reply: oneshot::channel().0 }
    }

    fn args_of(cmd: &Cmd) -> Vec<String> {
        cmd.args_iter()
            .map(|arg| match arg {
                redis::Arg::Simple(bytes) => String::from_utf8_lossy(bytes).into_owned(),
                _ => "<other>".into(),
            })
            .collect()
    }

    /// The packed batch, built by hand: `u` a u32, `f` a f64, `b` a byte.
    enum Field {
        U(u32),
        F(f64),
        B(u8),
    }

    fn packed(fields: &[Field]) -> Vec<u8> {
        let mut out = Vec::new();
        for field in fields {
            match *field {
                Field::U(u) => out.extend_from_slice(&u.to_le_bytes()),
                Field::F(f) => out.extend_from_slice(&f.to_le_bytes()),
                Field::B(b) => out.push(b),
            }
        }
        out
    }

    #[test]
    fn a_batch_names_each_key_and_policy_once() {
        use Field::{B, F, U};
        let a = Params { algorithm: 1, limit: 10, window_us: 1_000_000, burst: 10 };
        let b = Params { algorithm: 3, limit: 5, window_us: 60_000_000, burst: 8 };
        let batch = [
            job(false, Some(7), &[("k1", a, 1), ("k2", b, 2)]),
            job(true, None, &[("k2", b, 0)]),
            job(false, None, &[("k1", a, 3)]),
        ];
        let cmd = encode(&batch, Some("abc"));
        let args: Vec<Vec<u8>> = cmd
            .args_iter()
            .map(|arg| match arg {
                redis::Arg::Simple(bytes) => bytes.to_vec(),
                _ => b"<other>".to_vec(),
            })
            .collect();
        let text = |s: &str| s.as_bytes().to_vec();
        assert_eq!(args[..5], [text("EVALSHA"), text("abc"), text("2"), text("k1"), text("k2")]);
        let blob = packed(&[
            U(2),
            U(3),
            B(1),
            F(10.0),
            F(1_000_000.0),
            F(10.0),
            B(3),
            F(5.0),
            F(60_000_000.0),
            F(8.0),
            // check at 7 µs: k1 under a, k2 under b
            B(0),
            F(7.0),
            U(2),
            U(1),
            U(1),
            F(1.0),
            U(2),
            U(2),
            F(2.0),
            // peek at Redis's time
            B(1),
            F(-1.0),
            U(1),
            U(2),
            U(2),
            F(0.0),
            B(0),
            F(-1.0),
            U(1),
            U(1),
            U(1),
            F(3.0),
        ]);
        assert_eq!(args[5], blob);
        assert_eq!(args.len(), 6);
        assert_eq!(args_of(&encode(&batch, None))[..2], ["EVAL".to_string(), SCRIPT.to_string()]);
    }

    #[test]
    fn a_url_loses_its_password_in_messages() {
        assert_eq!(redacted("redis://user:secret@host:6379/0"), "redis://user:***@host:6379/0");
        assert_eq!(redacted("redis://:secret@host"), "redis://:***@host");
        assert_eq!(redacted("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        let config = RedisConfig { url: "redis://u:p@h".into(), ..Default::default() };
        assert!(!format!("{config:?}").contains(":p@"));
    }

    #[test]
    fn answers_decode_five_numbers_a_request() {
        let doubles = |v: &[f64]| Value::BulkString(v.iter().flat_map(|f| f.to_le_bytes()).collect());
        let answers = decode(doubles(&[1.0, 0.0, 4.0, 900.0, -1.0, -1.0, 0.0, 0.0, 0.0, -1.0]), 2).unwrap();
        assert_eq!(answers[0], Answer { allowed: 1, index: 0, remaining: 4, reset_us: 900, retry_us: -1 });
        assert_eq!(answers[1].allowed, -1);
        assert!(matches!(decode(doubles(&[1.0, 0.0, 4.0]), 1), Err(RedisLimitError::Script(_))));
        assert!(matches!(decode(Value::Okay, 1), Err(RedisLimitError::Script(_))));
    }

    #[test]
    fn a_decision_keeps_no_retry_for_a_cost_no_wait_admits() {
        let policy = Policy::new(3, Duration::from_secs(1), Algorithm::FixedWindow, None).unwrap();
        let denied = Answer { allowed: 0, index: 0, remaining: 0, reset_us: 250_000, retry_us: 250_000 };
        let d = decision(&denied, &policy, 2);
        assert_eq!((d.allowed, d.limit, d.remaining), (false, 3, 0));
        assert_eq!(d.retry_after, Some(Duration::from_millis(250)));
        assert_eq!(decision(&denied, &policy, 4).retry_after, None);
    }
}
