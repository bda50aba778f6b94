//! `rampart caches`: the caches apps report (size, utilisation, hit rate,
//! last hour's evictions, rules breached), and one with its thresholds,
//! counts per interval and latest evictions.

use anyhow::Context as _;
use rampart_client::wire::{CacheDetail, CacheView};

use crate::cli::{Remote, output};

/// Options of `rampart caches`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// What to do [default: list].
    #[command(subcommand)]
    pub command: Option<CachesCommand>,
}

/// The subcommands of `rampart caches`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum CachesCommand {
    /// List every cache that reports, with its figures.
    List,
    /// Show one cache: figures, thresholds, counts per interval, latest evictions.
    Show {
        /// The cache.
        name: String,
        /// Evictions shown, newest first.
        #[arg(long, default_value_t = 20)]
        evictions: usize,
    },
}

/// Runs a `rampart caches` subcommand.
pub async fn run(args: Args, remote: &Remote) -> anyhow::Result<()> {
    let client = &remote.client;
    match args.command.unwrap_or(CachesCommand::List) {
        CachesCommand::List => {
            let response = client.caches().await.context("cannot list the caches")?;
            if remote.json {
                return output::json(&response);
            }
            if response.caches.is_empty() {
                eprintln!("no cache reports yet: apps send them with POST /v1/caches/NAME/report");
                return Ok(());
            }
            caches_table(&response.caches).print()
        }
        CachesCommand::Show { name, evictions } => {
            let cache = client.cache(&name).await.with_context(|| format!("cannot show cache `{name}`"))?;
            if remote.json {
                return output::json(&cache);
            }
            output::print(&render_cache(&cache, evictions))
        }
    }
}

fn percent(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |x| format!("{:.1}%", x * 100.0))
}

fn mib(bytes: Option<u64>) -> String {
    bytes.map_or_else(|| "-".into(), |b| format!("{:.1} MiB", b as f64 / 1_048_576.0))
}

fn caches_table(caches: &[CacheView]) -> output::Table {
    let mut table = output::Table::new(&[
        "NAME",
        "SIZE",
        "MAX",
        "USED",
        "HIT RATE",
        "LOAD MS",
        "MEMORY",
        "EVICTED 1H",
        "BREACHING",
    ]);
    for c in caches {
        let h = &c.last_hour;
        table.row(vec![
            c.name.to_string(),
            output::or_dash(c.size),
            output::or_dash(c.max_size),
            percent(c.utilisation),
            percent(c.hit_rate),
            c.avg_load_ms.map_or_else(|| "-".into(), |ms| format!("{ms:.1}")),
            mib(c.memory_bytes),
            format!("{} lru/{} timeout/{} manual", h.evicted_lru, h.evicted_timeout, h.evicted_manual),
            if c.breaching.is_empty() { "-".into() } else { c.breaching.join(", ") },
        ]);
    }
    table
}

fn render_cache(c: &CacheDetail, evictions: usize) -> String {
    let v = &c.cache;
    let t = &c.thresholds;
    let mut text = output::fields(&[
        ("name", v.name.to_string()),
        ("reported at", v.reported_at.to_string()),
        ("size", format!("{} of {}", output::or_dash(v.size), output::or_dash(v.max_size))),
        ("utilisation", percent(v.utilisation)),
        ("hit rate", percent(v.hit_rate)),
        ("loads", output::or_dash(v.loads)),
        ("avg load", v.avg_load_ms.map_or_else(|| "-".into(), |ms| format!("{ms:.1} ms"))),
        ("memory", mib(v.memory_bytes)),
        ("breaching", if v.breaching.is_empty() { "nothing".into() } else { v.breaching.join(", ") }),
        (
            "thresholds",
            format!(
                "utilisation > {:.0}%, hit rate < {:.0}% once {} loads, memory > {}",
                t.utilisation * 100.0,
                t.hit_rate * 100.0,
                t.min_loads,
                mib(Some(t.memory_bytes))
            ),
        ),
    ]);
    let mut intervals = output::Table::new(&["INTERVAL", "LOADS", "HITS", "MISSES", "HIT RATE", "EVICTED"]);
    for i in &c.intervals {
        let n = &i.counts;
        intervals.row(vec![
            i.start.to_string(),
            n.loads.to_string(),
            n.hits.to_string(),
            n.misses.to_string(),
            percent(n.hit_rate),
            (n.evicted_lru + n.evicted_timeout + n.evicted_manual).to_string(),
        ]);
    }
    if !intervals.is_empty() {
        text.push_str("\n\nlast 24 hours:\n");
        text.push_str(&intervals.render());
    }
    let mut log = output::Table::new(&["AT", "REASON", "KEY", "USER", "IDLE MS"]);
    for e in c.evictions.iter().take(evictions) {
        log.row(vec![
            e.at.to_string(),
            e.reason.to_string(),
            output::truncate(e.key.as_deref().unwrap_or("-"), 40),
            output::truncate(e.user.as_deref().unwrap_or("-"), 24),
            e.idle_ms.map_or_else(|| "-".into(), |ms| format!("{ms:.0}")),
        ]);
    }
    if !log.is_empty() {
        text.push_str(&format!("\n\nlatest evictions ({} kept):\n", c.evictions.len()));
        text.push_str(&log.render());
    }
    text
}
