//! Schema migrations, applied in order under a session advisory lock so
//! that nodes starting together, or `rampart migrate` during a deploy, never
//! apply one twice. `rampart_migrations` records what is applied.

use tokio_postgres::NoTls;

use super::PgConfig;
use crate::error::StoreError;

/// Migrations in order; version N is `MIGRATIONS[N - 1]`.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_ratelimit_policies.sql"),
    include_str!("migrations/0003_cron.sql"),
    include_str!("migrations/0004_breakers.sql"),
    include_str!("migrations/0005_push.sql"),
    include_str!("migrations/0006_monitoring.sql"),
    include_str!("migrations/0007_alerts.sql"),
    include_str!("migrations/0008_integrations.sql"),
    include_str!("migrations/0009_write_probes.sql"),
    include_str!("migrations/0010_ui.sql"),
    include_str!("migrations/0011_webhooks.sql"),
    include_str!("migrations/0012_usage.sql"),
    include_str!("migrations/0013_telemetry.sql"),
    include_str!("migrations/0014_jobs_tenant_stalls.sql"),
    include_str!("migrations/0015_alert_threads.sql"),
    include_str!("migrations/0016_nodes.sql"),
    include_str!("migrations/0017_dashboard_jobs.sql"),
    include_str!("migrations/0018_queue_rates.sql"),
    include_str!("migrations/0019_job_steps.sql"),
    include_str!("migrations/0020_flows.sql"),
];

/// How many migrations this rampart knows.
pub(super) fn known() -> u32 {
    MIGRATIONS.len() as u32
}

/// The advisory lock key held while migrating ("rampart" in ASCII).
const LOCK_KEY: i64 = 0x72_61_6d_70_61_72_74;

/// What a migration run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrateReport {
    /// Versions applied by this run, in order.
    pub applied: Vec<u32>,
    /// The schema version now.
    pub version: u32,
}

/// Applies pending migrations to the database of `config` (`rampart migrate`).
pub async fn migrate(config: &PgConfig) -> Result<MigrateReport, StoreError> {
    apply(&config.driver()?).await
}

pub(super) async fn apply(driver: &tokio_postgres::Config) -> Result<MigrateReport, StoreError> {
    let (mut client, connection) = driver.connect(NoTls).await?;
    let driving = tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "the migration connection ended");
        }
    });
    let out = apply_on(&mut client).await;
    drop(client);
    let _ = driving.await;
    out
}

async fn apply_on(client: &mut tokio_postgres::Client) -> Result<MigrateReport, StoreError> {
    // `CREATE TABLE IF NOT EXISTS` would log a notice on every start; and a
    // migration may rightly run longer than the statement timeout of calls.
    client.batch_execute("SET client_min_messages = warning; SET statement_timeout = 0").await?;
    client.execute("SELECT pg_advisory_lock($1)", &[&LOCK_KEY]).await?;
    let out = apply_locked(client).await;
    // Closing the connection would release the lock too; unlock to be tidy.
    client.execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY]).await?;
    out
}

async fn apply_locked(client: &mut tokio_postgres::Client) -> Result<MigrateReport, StoreError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS rampart_migrations (
                 version    INTEGER PRIMARY KEY,
                 applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
             )",
        )
        .await?;
    let current: i32 = client.query_one("SELECT COALESCE(MAX(version), 0) FROM rampart_migrations", &[]).await?.get(0);
    let current = u32::try_from(current).unwrap_or(0);
    let known = MIGRATIONS.len() as u32;
    if current > known {
        return Err(StoreError::Unavailable(format!(
            "the database has schema version {current} but this rampart knows only {known}; run a newer rampart"
        )));
    }
    let mut applied = Vec::new();
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = i as u32 + 1;
        let tx = client.transaction().await?;
        tx.batch_execute(sql)
            .await
            .map_err(|e| StoreError::Internal(format!("PostgreSQL migration {version} failed: {e}")))?;
        tx.execute("INSERT INTO rampart_migrations (version) VALUES ($1)", &[&(version as i32)]).await?;
        tx.commit().await?;
        tracing::info!(version, "applied PostgreSQL schema migration");
        applied.push(version);
    }
    Ok(MigrateReport { applied, version: known.max(current) })
}
