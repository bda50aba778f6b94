//! `rampart bench`: the command line of the load generators, whose code
//! is the `rampart-bench` crate. This module only parses the options and
//! calls the bench.

use rampart_client::client::Client;
use rampart_core::id::QueueName;
use rampart_server::engine::{MAX_ENQUEUE_BATCH, MAX_LEASE_BATCH};

/// Options of `rampart bench`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// What to measure.
    #[command(subcommand)]
    pub what: What,
}

/// The benchmarks of `rampart bench`.
#[derive(clap::Subcommand, Debug)]
pub enum What {
    /// Queue throughput and latency: enqueue, drain with pull workers, and
    /// enqueue-to-start latency, against a running server.
    Queue(QueueArgs),
    /// Rate-limit checks per second and their latency over
    /// `POST /v1/ratelimit/check`, against a running server.
    Ratelimit(RatelimitArgs),
    /// Push delivery throughput, enqueue to delivered, through an
    /// in-process server on SQLite to a local no-op receiver.
    Push(PushArgs),
    /// Verified webhook intakes per second (signature, dedupe, log row and
    /// job, committed) through an in-process server on SQLite, over HTTP.
    Webhooks(WebhooksArgs),
    /// Jobs of four no-op steps per second (each step recorded durably)
    /// through the HTTP API, through an in-process server on SQLite.
    Steps(StepsArgs),
    /// AI usage events ingested per second in batches, and the round trip
    /// of a budget reservation, through an in-process server on SQLite (or
    /// the PostgreSQL of --database-url), over HTTP.
    Usage(UsageArgs),
}

/// Options of `rampart bench usage`.
#[derive(clap::Args, Debug)]
pub struct UsageArgs {
    /// Usage events to report, each once.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub events: u64,
    /// Events per POST /v1/usage.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub batch: u32,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub concurrency: u32,
    /// Reservations to take after the ingest.
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub reservations: u64,
    /// Run on this PostgreSQL (postgres://…) instead of SQLite in a temporary directory.
    #[arg(long)]
    pub database_url: Option<String>,
}

/// Options of `rampart bench steps`.
#[derive(clap::Args, Debug)]
pub struct StepsArgs {
    /// Jobs to run, four steps each.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub jobs: u64,
    /// Workers at once.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub concurrency: u32,
    /// Jobs per lease.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub batch: u32,
}

/// Options of `rampart bench webhooks`.
#[derive(clap::Args, Debug)]
pub struct WebhooksArgs {
    /// Events to post, each once, each signed the Standard Webhooks way.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub events: u64,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub concurrency: u32,
    /// Size of each event's JSON body, in bytes.
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u64).range(100..=1_048_576))]
    pub body_bytes: u64,
}

/// Options of `rampart bench queue`.
#[derive(clap::Args, Debug)]
pub struct QueueArgs {
    /// Jobs to enqueue and then drain.
    #[arg(long, default_value_t = 50_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub jobs: u64,
    /// Concurrent pull workers in the drain.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    pub concurrency: u32,
    /// Jobs per enqueue batch request.
    #[arg(
        long,
        default_value_t = 1_000,
        value_parser = clap::value_parser!(u32).range(1..=MAX_ENQUEUE_BATCH as i64)
    )]
    pub batch: u32,
    /// Most jobs one lease call takes.
    #[arg(
        long,
        default_value_t = 100,
        value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_LEASE_BATCH))
    )]
    pub lease_batch: u32,
    /// Enqueue batch requests in flight at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..))]
    pub producers: u32,
    /// Jobs enqueued one at a time to measure latency (0 skips the phase).
    #[arg(long, default_value_t = 1_000)]
    pub latency_samples: u32,
    /// The queue to use [default: bench-<unix millis>]; the latency phase
    /// uses `<queue>-latency`.
    #[arg(long)]
    pub queue: Option<QueueName>,
    /// Only enqueue, and leave the jobs waiting (to measure the server's
    /// memory with many jobs queued).
    #[arg(long)]
    pub skip_drain: bool,
    /// The server's process id: report its resident memory (Linux
    /// `/proc/<pid>/status`) before and after the enqueue and at the end.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// A node of the same cluster for the workers to lease from, while jobs
    /// are enqueued through `--url`: measures cross-node latency. Repeat it
    /// to spread the drain workers over several nodes (round robin; the
    /// latency worker uses the first). Takes the same API key [default: the
    /// `--url` server].
    #[arg(long, value_name = "URL")]
    pub worker_url: Vec<String>,
}

/// Options of `rampart bench ratelimit`.
#[derive(clap::Args, Debug)]
pub struct RatelimitArgs {
    /// Distinct keys the checks go round.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub keys: u64,
    /// Checks in flight at once.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub concurrency: u32,
    /// How long to run, in seconds.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub seconds: u64,
    /// Where the bench policy counts: `memory` or `redis` (the server needs a Redis).
    #[arg(long, default_value = "memory", value_parser = ["memory", "redis"])]
    pub backend: String,
    /// The bench policy's algorithm.
    #[arg(long, default_value = "sliding_window", value_parser = ["sliding_window", "fixed_window", "gcra"])]
    pub algorithm: String,
}

/// Options of `rampart bench push`.
#[derive(clap::Args, Debug)]
pub struct PushArgs {
    /// Jobs to push.
    #[arg(long, default_value_t = 50_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub jobs: u64,
    /// Deliveries in flight at once (the push queue's `concurrency`).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub concurrency: u32,
    /// Jobs per enqueue call.
    #[arg(
        long,
        default_value_t = 1_000,
        value_parser = clap::value_parser!(u32).range(1..=MAX_ENQUEUE_BATCH as i64)
    )]
    pub batch: u32,
}

/// Runs a `rampart bench` command against the server `client` talks to.
pub async fn run(args: Args, client: Client) -> anyhow::Result<()> {
    match args.what {
        What::Queue(a) => {
            let options = rampart_bench::QueueOptions {
                jobs: a.jobs,
                concurrency: a.concurrency,
                batch: a.batch,
                lease_batch: a.lease_batch,
                producers: a.producers,
                latency_samples: a.latency_samples,
                queue: a.queue,
                skip_drain: a.skip_drain,
                server_pid: a.server_pid,
                worker_url: a.worker_url,
            };
            rampart_bench::queue(options, client).await
        }
        What::Ratelimit(a) => {
            let options = rampart_bench::RatelimitOptions {
                keys: a.keys,
                concurrency: a.concurrency,
                seconds: a.seconds,
                backend: a.backend,
                algorithm: a.algorithm,
            };
            rampart_bench::ratelimit(options, client).await
        }
        What::Push(a) => {
            rampart_bench::push(rampart_bench::PushOptions { jobs: a.jobs, concurrency: a.concurrency, batch: a.batch })
                .await
        }
        What::Webhooks(a) => {
            let options = rampart_bench::WebhooksOptions {
                events: a.events,
                concurrency: a.concurrency,
                body_bytes: usize::try_from(a.body_bytes).unwrap_or(usize::MAX),
            };
            rampart_bench::webhooks(options).await
        }
        What::Steps(a) => {
            rampart_bench::steps(rampart_bench::StepsOptions {
                jobs: a.jobs,
                concurrency: a.concurrency,
                batch: a.batch,
            })
            .await
        }
        What::Usage(a) => {
            let options = rampart_bench::UsageOptions {
                events: a.events,
                batch: a.batch,
                concurrency: a.concurrency,
                reservations: a.reservations,
                database_url: a.database_url,
            };
            rampart_bench::usage(options).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_args_parse_with_their_defaults() {
        use clap::Parser as _;
        #[derive(clap::Parser, Debug)]
        struct Bench {
            #[command(flatten)]
            args: Args,
        }
        let parsed = Bench::try_parse_from(["bench", "queue"]).expect("parses");
        let What::Queue(q) = parsed.args.what else { panic!("bench queue parses as queue") };
        assert_eq!(
            (q.jobs, q.concurrency, q.batch, q.lease_batch, q.producers, q.latency_samples),
            (50_000, 50, 1_000, 100, 4, 1_000)
        );
        assert!(q.queue.is_none() && !q.skip_drain && q.server_pid.is_none() && q.worker_url.is_empty());
        let parsed = Bench::try_parse_from([
            "bench",
            "queue",
            "--jobs",
            "1000000",
            "--skip-drain",
            "--server-pid",
            "42",
            "--queue",
            "mem",
            "--worker-url",
            "http://10.0.0.2:7433",
        ])
        .expect("parses");
        let What::Queue(q) = parsed.args.what else { panic!("bench queue parses as queue") };
        assert_eq!(q.jobs, 1_000_000);
        assert!(q.skip_drain);
        assert_eq!(q.server_pid, Some(42));
        assert_eq!(q.queue.as_ref().map(QueueName::as_str), Some("mem"));
        assert_eq!(q.worker_url, ["http://10.0.0.2:7433"]);
        for bad in [
            &["bench", "queue", "--jobs", "0"][..],
            &["bench", "queue", "--lease-batch", "1001"],
            &["bench", "queue", "--batch", "10001"],
            &["bench", "queue", "--queue", "no spaces"],
        ] {
            assert!(Bench::try_parse_from(bad).is_err(), "{bad:?}");
        }
    }
}
