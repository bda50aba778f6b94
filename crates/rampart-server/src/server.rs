//! The server: opens the store (PostgreSQL when a database URL is set, else
//! SQLite in the data directory), makes the first admin key, starts the
//! background services and serves the API until told to stop.

use crate::webhook::{Intake, Sources};
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rampart_core::duration::format_duration;
use rampart_core::time::{SharedClock, SystemClock};
use rampart_store::postgres;
use rampart_store::sqlite::SqliteConfig;
use rampart_store::{Store, StoreError};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::alert::Alerting;
use crate::api::{self, AppState, Shared};
use crate::auth::{Authenticator, BootstrapError};
use crate::breaker::{LocalBreakers, SharedBreakers};
use crate::config::{Config, DatabaseUrl, HttpConfig};
use crate::engine::Engine;
use crate::monitoring::Monitor;
use crate::ratelimit::RateLimiter;
use crate::ratelimit::own::OwnLimits;
use crate::ratelimit::stored;
use crate::service::loops::{Loops, names};
use crate::service::{Alerter, AlerterConfig, Notifier, NotifierConfig};
use crate::service::{
    Dispatcher, DispatcherConfig, PolicySyncer, PolicySyncerConfig, Promoter, PromoterConfig, Reaper, ReaperConfig,
    RedisProber, RedisProberConfig, Relay, Sampler, SamplerConfig, Sweeper, SweeperConfig,
};
use crate::service::{Pruner, PrunerConfig, Scheduler, SchedulerConfig};
use crate::shutdown::{Shutdown, ShutdownTrigger};

pub use rampart_store::postgres::MigrateReport;

/// Why the server could not start or stopped badly.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The store could not be opened.
    #[error("cannot open the store: {0}")]
    Store(#[from] StoreError),
    /// PostgreSQL could not be reached or migrated.
    #[error("cannot use the PostgreSQL database at {url}: {source}")]
    Database {
        /// Where, its password hidden.
        url: DatabaseUrl,
        /// Why.
        source: StoreError,
    },
    /// The first admin key could not be made.
    #[error(transparent)]
    Bootstrap(#[from] BootstrapError),
    /// The listen address is taken or not allowed.
    #[error("cannot listen on {addr}: {source}; choose another with --listen or RAMPART_LISTEN")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// Serving failed.
    #[error("the HTTP server failed: {0}")]
    Serve(std::io::Error),
}

/// Opens the configured store: PostgreSQL when `database_url` is set, else
/// SQLite in `data_dir`.
async fn open_store(config: &Config) -> Result<Store, ServerError> {
    let Some(url) = &config.database_url else {
        let sqlite = SqliteConfig { data_dir: config.data_dir.clone(), durability: config.durability };
        return Ok(Store::open_sqlite(sqlite).await?);
    };
    tracing::info!(database = %url, "connecting to PostgreSQL");
    let pg = config.postgres.pg_config(url);
    Store::open_postgres(pg).await.map_err(|source| ServerError::Database { url: url.clone(), source })
}

/// What [`migrate`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Migration {
    /// The SQLite store in this directory, which migrates whenever it is
    /// opened, was opened: its schema is up to date.
    Sqlite(PathBuf),
    /// The PostgreSQL migrations this run applied, and the version now.
    Postgres(MigrateReport),
}

/// Brings the configured store's schema up to date without serving
/// (`rampart migrate`). PostgreSQL migrates under the advisory lock nodes
/// take on start, so it is safe while they start.
pub async fn migrate(config: &Config) -> Result<Migration, ServerError> {
    let Some(url) = &config.database_url else {
        open_store(config).await?;
        return Ok(Migration::Sqlite(config.data_dir.clone()));
    };
    let report = postgres::migrate(&config.postgres.pg_config(url))
        .await
        .map_err(|source| ServerError::Database { url: url.clone(), source })?;
    Ok(Migration::Postgres(report))
}

/// A started server, listening but not yet serving.
pub struct Server {
    listener: TcpListener,
    addr: SocketAddr,
    engine: Engine,
    state: AppState,
    trigger: ShutdownTrigger,
    shutdown: Shutdown,
    services: JoinSet<()>,
    grace: Duration,
    http: HttpConfig,
    mounted: axum::Router<AppState>,
}

impl Server {
    /// Starts with the system clock.
    pub async fn start(config: Config) -> Result<Server, ServerError> {
        Server::start_with_clock(config, Arc::new(SystemClock)).await
    }

    /// Starts with the given clock (tests pass a manual one).
    pub async fn start_with_clock(config: Config, clock: SharedClock) -> Result<Server, ServerError> {
        let store = open_store(&config).await?;
        let auth = Authenticator::new(store.clone());
        if let Some(path) = auth.bootstrap(&config.data_dir, clock.now()).await? {
            tracing::info!(path = %path.display(), "created the first admin key; the CLI reads it from there");
        }
        for (name, q) in &config.queues {
            store.queue_ensure(vec![name.clone()], clock.now()).await?;
            if q.paused {
                store.queue_set_paused(name.clone(), true, clock.now()).await?;
            }
        }
        let (trigger, shutdown) = Shutdown::new();
        let limiter = RateLimiter::with_redis(&config.ratelimit, config.redis_url.as_ref(), clock.clone());
        stored::reload(&store, &limiter).await?;
        if let (Some(url), Some(redis)) = (&config.redis_url, limiter.redis()) {
            tracing::info!(redis = %url, "rate-limit policies count in Redis");
            // Connected before serving when Redis answers; otherwise checks
            // fall back and the prober keeps trying.
            redis.probe(clock.now()).await;
        }
        let engine = Engine::new(store, &config, clock.clone(), shutdown.clone());
        let (pruner, prune_requests) = Pruner::new(PrunerConfig::from_config(&config), engine.clone());
        let cron = crate::cron::Cron::new(engine.clone(), &config, prune_requests);
        cron.sync(&config).await?;
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| ServerError::Bind { addr: config.listen, source })?;
        let addr = listener.local_addr().map_err(ServerError::Serve)?;
        // This node's in-process breakers: services that keep some register them here.
        let breakers = LocalBreakers::new();
        let mut services = JoinSet::new();
        // Every loop started here reports each run; the admin diagnostics
        // list them, registered first so one that never ran shows too.
        let loops = Loops::new(clock.clone());
        let register = |name| {
            loops.register(name);
            loops.clone()
        };
        let reaper = Reaper::new(ReaperConfig::default(), engine.clone()).with_loops(register(names::REAPER));
        services.spawn(reaper.run(shutdown.clone()));
        let promoter = Promoter::new(PromoterConfig::default(), engine.clone()).with_loops(register(names::PROMOTER));
        services.spawn(promoter.run(shutdown.clone()));
        let scheduler = Scheduler::new(SchedulerConfig::default(), cron.clone()).with_loops(register(names::SCHEDULER));
        services.spawn(scheduler.run(shutdown.clone()));
        services.spawn(pruner.with_loops(register(names::PRUNER)).run(shutdown.clone()));
        if let Some(signals) = engine.store().subscribe() {
            services
                .spawn(Relay::new(engine.clone(), signals).with_loops(register(names::RELAY)).run(shutdown.clone()));
        }
        let dispatcher = Dispatcher::new(
            DispatcherConfig {
                worker: format!("dispatcher@{addr}"),
                breaker: config.push.breaker.clone(),
                shutdown_grace: config.shutdown_grace,
                ..DispatcherConfig::default()
            },
            &config,
            engine.clone(),
            breakers.clone(),
            clock.clone(),
        )
        .with_loops(loops.clone());
        if dispatcher.has_queues() {
            loops.register(names::DISPATCHER);
            services.spawn(dispatcher.run(shutdown.clone()));
        }
        let own_limits = OwnLimits::new(&config.ratelimit, clock.clone());
        let sweeper = Sweeper::new(SweeperConfig::default(), limiter.clone())
            .with_own_limits(own_limits.clone())
            .with_loops(register(names::SWEEPER));
        services.spawn(sweeper.run(shutdown.clone()));
        let syncer = PolicySyncer::new(PolicySyncerConfig::default(), engine.store().clone(), limiter.clone())
            .with_loops(register(names::POLICY_SYNCER));
        services.spawn(syncer.run(shutdown.clone()));
        if let Some(redis) = limiter.redis() {
            let prober = RedisProber::new(RedisProberConfig::default(), Arc::clone(redis), clock.clone())
                .with_loops(register(names::REDIS_PROBER));
            services.spawn(prober.run(shutdown.clone()));
        }
        let monitor = Monitor::new(config.monitoring.clone(), engine.clone());
        if config.monitoring.enabled {
            let sampler = Sampler::new(SamplerConfig::from_config(&config.monitoring), monitor.clone())
                .with_limiter(limiter.clone())
                .with_node(node_name(addr), clock.now())
                .with_loops(register(names::SAMPLER));
            services.spawn(sampler.run(shutdown.clone()));
        }
        let webhooks = Intake::new(engine.clone(), Sources::new(engine.clone(), config.webhooks.sources.clone()));
        for name in webhooks.sources().unsigned() {
            tracing::warn!(source = %name, "webhook source `{name}` has scheme `none`: anyone can post events to /in/{name}");
        }
        let alerting = Alerting::new(&config.alerts.channels);
        let mut insight = crate::insight::Insight::new(engine.clone(), &config);
        let usage = crate::usage::Usage::new(engine.clone(), config.usage.clone());
        if config.alerts.enabled {
            let queued = Arc::new(tokio::sync::Notify::new());
            insight = insight
                .with_alerts(crate::insight::AlertHook { channels: alerting.channels.names(), queued: queued.clone() });
            let (channels, health) = (alerting.channels.clone(), alerting.health.clone());
            let alerter_config = AlerterConfig {
                alerts: config.alerts.clone(),
                interval: config.monitoring.interval,
                channels: channels.names(),
                token_expiry_horizon: config.diagnostics.token_expiry_horizon,
            };
            let mut alerter = Alerter::new(alerter_config, engine.clone(), queued.clone())
                .with_loops(register(names::ALERTER))
                .with_limiter(limiter.clone())
                .with_insight(insight.clone())
                .with_usage(usage.clone())
                .with_webhooks(webhooks.clone());
            if config.monitoring.enabled {
                alerter = alerter.with_monitor(monitor.clone());
            }
            services.spawn(alerter.run(shutdown.clone()));
            let store = engine.store().clone();
            let notifier = Notifier::new(NotifierConfig::default(), store, clock.clone(), channels, health, queued)
                .with_loops(register(names::NOTIFIER));
            services.spawn(notifier.run(shutdown.clone()));
        }
        let releaser = crate::service::Releaser::new(crate::service::ReleaserConfig::default(), engine.clone())
            .with_loops(register(names::RELEASER));
        services.spawn(releaser.run(shutdown.clone()));
        let state = AppState::new(Shared {
            engine: engine.clone(),
            auth,
            limiter,
            own_limits,
            max_body_bytes: config.max_body_bytes,
            started: Arc::new(Instant::now()),
            loops,
            diagnostics: config.diagnostics.clone(),
            breakers,
            shared_breakers: SharedBreakers::new(engine.store().clone(), &config, clock.clone()),
            cron,
            monitor,
            alerting,
            webhooks,
            insight,
            doctor: crate::api::doctor::DoctorSettings::from_config(&config, addr),
            usage,
        });
        match &config.database_url {
            Some(url) => tracing::info!(
                address = %addr,
                data_dir = %config.data_dir.display(),
                store = "postgres",
                database = %url,
                "rampart is listening on http://{addr}"
            ),
            None => tracing::info!(
                address = %addr,
                data_dir = %config.data_dir.display(),
                store = "sqlite",
                "rampart is listening on http://{addr}"
            ),
        }
        Ok(Server {
            listener,
            addr,
            engine,
            state,
            trigger,
            shutdown,
            services,
            grace: config.shutdown_grace,
            http: config.http.clone(),
            mounted: axum::Router::new(),
        })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// What the API's handlers reach, for a part served beside them (the
    /// dashboard) that calls the same engine and store.
    pub fn state(&self) -> AppState {
        self.state.clone()
    }

    /// Serves `routes` on this server's listener beside the API (see
    /// [`api::router_with`]); their paths must not be the API's.
    pub fn mount(mut self, routes: axum::Router<AppState>) -> Server {
        self.mounted = self.mounted.merge(routes);
        self
    }

    /// The engine, for in-process use.
    pub fn engine(&self) -> Engine {
        self.engine.clone()
    }

    /// Serves until `signal` resolves, then stops gracefully: no new
    /// connections and no new work (long-polls answered empty, services
    /// told to stop), in-flight requests and the services' own work given up
    /// to the shutdown grace, then every pending write flushed.
    pub async fn run(self, signal: impl Future<Output = ()> + Send + 'static) -> Result<(), ServerError> {
        let Server { listener, engine, state, trigger, shutdown, mut services, grace, http, mounted, .. } = self;
        let app = api::router_with(state, mounted);
        let stop = shutdown.clone();
        let served = crate::connection::serve(listener, app, http, async move {
            tokio::select! {
                _ = signal => {}
                _ = stop.wait() => {}
            }
            tracing::info!(grace = %format_duration(grace), "shutting down: taking no new work, finishing what is in flight");
            trigger.trigger();
        });
        // Requests still running when the grace is over are cut off with
        // their connections; the work they held is given back by the services.
        tokio::select! {
            () = served => {}
            _ = after_grace(&shutdown, grace) => {
                tracing::warn!("the grace period is over; closing connections with requests still in flight");
            }
        }
        // Services hand back what they hold when their own grace ends; a
        // margin beyond it covers that last round trip to the store.
        let joined =
            tokio::time::timeout(grace + SERVICE_STOP_MARGIN, async { while services.join_next().await.is_some() {} })
                .await;
        if joined.is_err() {
            tracing::warn!("background services did not stop in time; stopping them now");
            services.abort_all();
        }
        if let Err(e) = engine.store().flush().await {
            tracing::error!(error = %e, "could not flush the store's last writes");
        }
        tracing::info!("rampart stopped");
        Ok(())
    }
}

/// How long past the grace the services may take to give back what they hold.
const SERVICE_STOP_MARGIN: Duration = Duration::from_secs(5);

/// Resolves `grace` after the shutdown starts.
async fn after_grace(shutdown: &Shutdown, grace: Duration) {
    shutdown.wait().await;
    tokio::time::sleep(grace).await;
}

/// This node's name in the node registry: `host:port (pid N)`.
fn node_name(addr: std::net::SocketAddr) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| addr.ip().to_string());
    format!("{host}:{} (pid {})", addr.port(), std::process::id())
}
