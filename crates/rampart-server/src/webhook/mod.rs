//! Webhook intake as the server runs it: the sources (configured, and kept
//! in the store through the API) and what a request to `POST /in/{source}`
//! becomes.
//!
//! The rules live in `rampart-webhook` (schemes, extraction) and the store
//! (the one intake transaction); this module joins them: verify the raw
//! bytes, log a rejection without its body, answer Slack's challenge, read
//! the event and hand it to [`Engine::webhook_intake`], which makes the job
//! and commits it with the delivery row and the event id before the route
//! answers. It also counts each source's requests for `/metrics`.

mod counts;
mod sources;

pub use counts::{SourceCounts, WebhookCounts};
pub use sources::{Origin, SourceEntry, SourceError, Sources};

use std::sync::Arc;

use axum::http::HeaderMap;
use rampart_core::delivery::{DeliveryId, DeliveryStatus};
use rampart_core::id::JobId;
use rampart_store::{WebhookIntakeParams, WebhookIntaken, WebhookRejectParams};
use rampart_webhook::event::{body_sha256, extract, job_payload, logged_headers, slack_challenge};
use rampart_webhook::{Inbound, Rejection, Source, verify};

use crate::engine::{Engine, EngineError};

/// What became of a verified request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// A new event: logged and enqueued.
    Accepted {
        /// Its delivery.
        delivery: DeliveryId,
        /// Its event id.
        event_id: String,
        /// Its job.
        job: JobId,
    },
    /// A redelivery within the window: logged as a duplicate, nothing enqueued.
    Duplicate {
        /// Its own delivery row.
        delivery: DeliveryId,
        /// Its event id.
        event_id: String,
        /// The delivery that took the event first.
        original: DeliveryId,
        /// That delivery's status.
        status: DeliveryStatus,
        /// That delivery's job.
        job: Option<JobId>,
    },
    /// Slack's `url_verification`: answered with its challenge, nothing logged.
    Challenge(String),
}

/// Why a request was not taken.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// Unsigned, forged or stale: `401` (logged as `rejected`).
    #[error("{0}")]
    Rejected(Rejection),
    /// The engine or store failed: nothing was acknowledged, the sender retries.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// Webhook intake. Cloning shares it.
#[derive(Clone)]
pub struct Intake {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    sources: Sources,
    counts: WebhookCounts,
}

impl Intake {
    /// Intake over `engine` with these sources.
    pub fn new(engine: Engine, sources: Sources) -> Intake {
        Intake { inner: Arc::new(Inner { engine, sources, counts: WebhookCounts::default() }) }
    }

    /// The sources.
    pub fn sources(&self) -> &Sources {
        &self.inner.sources
    }

    /// Every source's counts since start, by name.
    pub fn counts(&self) -> Vec<(rampart_core::id::SourceName, SourceCounts)> {
        self.inner.counts.all()
    }

    /// Takes one request to `source`: verifies it at once on its raw bytes,
    /// then logs and enqueues it in one transaction, or logs its rejection.
    pub async fn receive(
        &self,
        source: &Source,
        headers: &HeaderMap,
        query: Option<&str>,
        url: Option<&str>,
        body: &[u8],
    ) -> Result<Received, IntakeError> {
        let engine = &self.inner.engine;
        let counts = &self.inner.counts;
        counts.received(&source.name);
        if let Err(rejection) = verify(source, &Inbound { headers, body, query, url }, engine.now()) {
            counts.rejected(&source.name);
            tracing::warn!(source = %source.name, code = rejection.code(), reason = %rejection, size = body.len(), "webhook rejected");
            let reject = WebhookRejectParams {
                source: source.name.clone(),
                reason: format!("{}: {rejection}", rejection.code()),
                headers: logged_headers(source.scheme, headers),
                body_size: body.len() as u64,
                body_sha256: body_sha256(body),
                now: engine.now(),
            };
            if let Err(e) = engine.store().webhook_reject(reject).await {
                tracing::warn!(source = %source.name, error = %e, "cannot log a rejected webhook");
            }
            return Err(IntakeError::Rejected(rejection));
        }
        counts.verified(&source.name);
        if let Some(challenge) = slack_challenge(source, body) {
            return Ok(Received::Challenge(challenge));
        }
        let event = extract(source, headers, body);
        let payload = job_payload(source, &event, engine.now(), headers, body);
        let event_id = event.id.clone();
        let taken = engine
            .webhook_intake(&source.queue, payload, |job, now| WebhookIntakeParams {
                source: source.name.clone(),
                event_id: event.id,
                expires_at: now.plus(source.dedupe_window),
                event_type: event.event_type,
                tenant: event.tenant,
                headers: logged_headers(source.scheme, headers),
                body: body.to_vec(),
                body_sha256: body_sha256(body),
                job,
                now,
            })
            .await?;
        Ok(match taken {
            WebhookIntaken::Accepted { delivery, job } => Received::Accepted { delivery, event_id, job: job.id },
            WebhookIntaken::Duplicate { delivery, original, status, job } => {
                counts.duplicate(&source.name);
                Received::Duplicate { delivery, event_id, original, status, job }
            }
        })
    }
}
