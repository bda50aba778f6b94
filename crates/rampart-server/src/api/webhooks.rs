//! Webhook routes: the intake, `POST /in/{source}` (no key: the signature
//! is the authentication), and `/v1/webhooks/…`: sources, the delivery log
//! and replay of dead-lettered deliveries.
//!
//! The intake reads the body itself, up to the source's `max_body_bytes`
//! (not the API's body limit), and hands the raw bytes to
//! [`crate::webhook::Intake::receive`]: nothing parses them before the
//! signature is checked. It answers `200` only once the event, its job and
//! its log row are committed; a duplicate answers `200` with
//! `duplicate: true` and the original's status, never 409 or 500.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use rampart_client::endpoint::{
    WEBHOOK_DELIVERIES_GET, WEBHOOK_DELIVERIES_LIST, WEBHOOK_DELIVERIES_REPLAY, WEBHOOK_DELIVERIES_REPLAY_ALL,
    WEBHOOK_INTAKE, WEBHOOK_SOURCES_DELETE, WEBHOOK_SOURCES_GET, WEBHOOK_SOURCES_LIST, WEBHOOK_SOURCES_PUT,
};
use rampart_client::wire::{
    WebhookDeliveriesQuery, WebhookDeliveriesResponse, WebhookDeliveryDetail, WebhookDeliveryView,
    WebhookIntakeResponse, WebhookReplayRequest, WebhookReplayResponse, WebhookSecretView, WebhookSourceView,
    WebhookSourcesResponse,
};
use rampart_core::delivery::{DeliveryId, DeliveryStatus};
use rampart_core::duration::HumanDuration;
use rampart_core::id::SourceName;
use rampart_core::time::UnixMillis;
use rampart_store::{WebhookDeliveryListParams, WebhookDeliveryRecord};
use rampart_webhook::{Scheme, SourceSpec};

use super::extract::{Admin, Auth, Body, Read};
use super::route::Routes;
use super::{ApiError, AppState, view};
use crate::engine::EngineError;
use crate::ratelimit::CheckInput;
use crate::ratelimit::client_ip::{client_ip, forwarded_url, peer_addr};
use crate::ratelimit::headers::headers as limit_headers;
use crate::webhook::{IntakeError, Received, SourceEntry, SourceError};

/// Deliveries per page when the request does not say.
const DEFAULT_PAGE: u32 = 50;
/// Most deliveries one page holds.
const MAX_PAGE: u32 = 1_000;

pub(super) fn router() -> Routes {
    Routes::new()
        .add(WEBHOOK_INTAKE, webhook_intake)
        .add(WEBHOOK_SOURCES_LIST, sources_list)
        .add(WEBHOOK_SOURCES_GET, sources_get)
        .add(WEBHOOK_SOURCES_PUT, sources_put)
        .add(WEBHOOK_SOURCES_DELETE, sources_delete)
        .add(WEBHOOK_DELIVERIES_LIST, deliveries_list)
        .add(WEBHOOK_DELIVERIES_GET, deliveries_get)
        .add(WEBHOOK_DELIVERIES_REPLAY, deliveries_replay)
        .add(WEBHOOK_DELIVERIES_REPLAY_ALL, deliveries_replay_all)
}

impl From<SourceError> for ApiError {
    fn from(e: SourceError) -> Self {
        let message = e.to_string();
        match e {
            SourceError::NotFound(_) => ApiError::new(StatusCode::NOT_FOUND, "SOURCE_NOT_FOUND", message),
            SourceError::InConfig(_) => ApiError::new(StatusCode::CONFLICT, "SOURCE_IN_CONFIG", message),
            SourceError::Invalid(_) => ApiError::new(StatusCode::BAD_REQUEST, "INVALID_SOURCE", message),
            SourceError::Store(s) => s.into(),
        }
    }
}

fn source_name(raw: &str) -> Result<SourceName, ApiError> {
    SourceName::new(raw).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "INVALID_SOURCE_NAME", e.to_string()))
}

/// `POST /in/{source}`.
async fn webhook_intake(
    State(state): State<AppState>,
    Path(source): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let name = SourceName::new(&source).map_err(|_| {
        ApiError::new(StatusCode::NOT_FOUND, "SOURCE_NOT_FOUND", format!("no webhook source is named `{source}`"))
    })?;
    let SourceEntry { source, .. } = state.webhooks.sources().get(&name).await?;
    let (parts, body) = request.into_parts();
    if let Some(policy) = &source.ratelimit {
        let peer = peer_addr(&parts.extensions);
        let ip = peer.map(|p| client_ip(p.ip(), &parts.headers, state.own_limits.trusted_proxies()).to_string());
        let key = ip.as_deref().unwrap_or("unknown");
        let verdict = state.limiter.check(&[CheckInput { field: "", policy: policy.as_str(), key, cost: 1 }]).await?;
        if !verdict.decision.allowed {
            let mut answer = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMITED",
                format!(
                    "webhook source `{name}` takes fewer requests from this address (policy `{policy}`); retry later"
                ),
            )
            .into_response();
            answer.headers_mut().extend(limit_headers(&verdict, state.limiter.reset_format()));
            return Ok(answer);
        }
    }
    let body = read_body(body, &parts.headers, source.max_body_bytes).await?;
    // Only Twilio signs the URL, and only without a configured public_url.
    let url = match (source.scheme, &source.public_url) {
        (Scheme::Twilio, None) => {
            let peer = peer_addr(&parts.extensions).map(|p| p.ip());
            forwarded_url(peer, &parts.headers, parts.uri.path(), state.own_limits.trusted_proxies())
        }
        _ => None,
    };
    let received =
        state.webhooks.receive(&source, &parts.headers, parts.uri.query(), url.as_deref(), &body).await.map_err(
            |e| match e {
                IntakeError::Rejected(r) => ApiError::new(StatusCode::UNAUTHORIZED, r.code(), r.to_string()),
                IntakeError::Engine(e) => intake_engine_error(e),
            },
        )?;
    Ok(match received {
        Received::Challenge(challenge) => Json(serde_json::json!({ "challenge": challenge })).into_response(),
        Received::Accepted { delivery, event_id, job } => Json(WebhookIntakeResponse {
            delivery_id: delivery,
            event_id,
            duplicate: false,
            status: DeliveryStatus::Pending,
            job_id: Some(job),
            original_delivery_id: None,
        })
        .into_response(),
        Received::Duplicate { delivery, event_id, original, status, job } => Json(WebhookIntakeResponse {
            delivery_id: delivery,
            event_id,
            duplicate: true,
            status,
            job_id: job,
            original_delivery_id: Some(original),
        })
        .into_response(),
    })
}

/// A failure after verification: a payload over the job limit is the
/// sender's problem (413); anything else is ours, unacknowledged, and the
/// sender retries.
fn intake_engine_error(e: EngineError) -> ApiError {
    match e {
        EngineError::PayloadTooLarge { size, limit, .. } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!("the event's job payload is {size} bytes; the server's max_payload_bytes is {limit}"),
        ),
        other => other.into(),
    }
}

/// The raw body, at most `limit` bytes: a larger one is `413` before it is
/// read further.
async fn read_body(body: axum::body::Body, headers: &HeaderMap, limit: usize) -> Result<Bytes, ApiError> {
    let too_large = |size: String| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!("the body is {size} bytes; this source takes at most {limit} (its max_body_bytes)"),
        )
    };
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(n) = declared.filter(|n| *n > limit as u64) {
        return Err(too_large(n.to_string()));
    }
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let inner = e.into_inner();
        let limited = inner.downcast_ref::<http_body_util::LengthLimitError>().is_some();
        if limited {
            too_large(format!("more than {limit}"))
        } else {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "BODY_READ_FAILED",
                format!("the body could not be read: {inner}"),
            )
        }
    })
}

fn source_view(entry: &SourceEntry) -> WebhookSourceView {
    let s = &entry.source;
    let shown = |ls: &[rampart_webhook::Locator]| ls.iter().map(ToString::to_string).collect();
    WebhookSourceView {
        name: s.name.clone(),
        origin: entry.origin.as_str().into(),
        scheme: s.scheme.as_str().into(),
        queue: s.queue.clone(),
        event_id: shown(&s.event_id),
        event_type: shown(&s.event_type),
        tenant: shown(&s.tenant),
        tolerance: HumanDuration(s.tolerance),
        dedupe_window: HumanDuration(s.dedupe_window),
        max_body_bytes: s.max_body_bytes as u64,
        secrets: s.secrets.iter().map(|x| WebhookSecretView { expires_at: x.expires_at }).collect(),
        public_url: s.public_url.clone(),
        ratelimit: s.ratelimit.as_ref().map(ToString::to_string),
    }
}

async fn sources_list(
    State(state): State<AppState>,
    _auth: Auth<Read>,
) -> Result<Json<WebhookSourcesResponse>, ApiError> {
    let sources = state.webhooks.sources().list().await?.iter().map(source_view).collect();
    Ok(Json(WebhookSourcesResponse { sources }))
}

async fn sources_get(
    State(state): State<AppState>,
    _auth: Auth<Read>,
    Path(name): Path<String>,
) -> Result<Json<WebhookSourceView>, ApiError> {
    Ok(Json(source_view(&state.webhooks.sources().get(&source_name(&name)?).await?)))
}

/// Defines or replaces a source kept in the store; every node takes it
/// within `webhook::sources::RELOAD_AFTER`.
async fn sources_put(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
    Path(name): Path<String>,
    Body(spec): Body<SourceSpec>,
) -> Result<Json<WebhookSourceView>, ApiError> {
    let entry = state.webhooks.sources().put(&source_name(&name)?, &spec).await?;
    Ok(Json(source_view(&entry)))
}

async fn sources_delete(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.webhooks.sources().delete(&source_name(&name)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) fn delivery_view(d: WebhookDeliveryRecord) -> WebhookDeliveryView {
    WebhookDeliveryView {
        id: d.id,
        source: d.source,
        tenant: d.tenant,
        event_type: d.event_type,
        event_id: d.event_id,
        received_at: d.received_at,
        status: d.status,
        reason: d.reason,
        duplicate_of: d.duplicate_of,
        job_id: d.job_id,
        attempts: d.attempts,
        last_attempt_at: d.last_attempt_at,
        completed_at: d.completed_at,
        last_error: d.last_error,
        body_size: d.body_size,
        body_sha256: d.body_sha256,
        body_kept: d.body_kept,
    }
}

async fn deliveries_list(
    State(state): State<AppState>,
    _auth: Auth<Read>,
    query: Result<Query<WebhookDeliveriesQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<WebhookDeliveriesResponse>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::invalid(format!("invalid query: {}", e.body_text())))?;
    let limit = q.limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::invalid(format!("invalid parameter `limit`: use 1 to {MAX_PAGE}")));
    }
    let invalid = |field: &str, e: String| ApiError::invalid(format!("invalid parameter `{field}`: {e}"));
    let params = WebhookDeliveryListParams {
        source: q.source.as_deref().map(source_name).transpose()?,
        tenant: q.tenant,
        status: q
            .status
            .as_deref()
            .map(str::parse::<DeliveryStatus>)
            .transpose()
            .map_err(|e| invalid("status", e.to_string()))?,
        event_type: q.event_type,
        since: q.since.as_deref().map(UnixMillis::parse_rfc3339).transpose().map_err(|e| invalid("since", e))?,
        before: q
            .cursor
            .as_deref()
            .map(str::parse::<DeliveryId>)
            .transpose()
            .map_err(|_| invalid("cursor", "pass the `next_cursor` of the previous page".into()))?,
        limit,
    };
    let page = state.engine.store().webhook_delivery_list(params).await.map_err(EngineError::from)?;
    let next_cursor = (page.len() == limit as usize).then(|| page.last().map(|d| d.id.to_string())).flatten();
    Ok(Json(WebhookDeliveriesResponse { deliveries: page.into_iter().map(delivery_view).collect(), next_cursor }))
}

fn delivery_id(raw: &str) -> Result<DeliveryId, ApiError> {
    raw.parse().map_err(|e: rampart_core::delivery::DeliveryIdError| {
        ApiError::new(StatusCode::BAD_REQUEST, "INVALID_DELIVERY_ID", e.to_string())
    })
}

async fn delivery(state: &AppState, id: DeliveryId) -> Result<(WebhookDeliveryRecord, Option<Vec<u8>>), ApiError> {
    state.engine.store().webhook_delivery_get(id).await.map_err(EngineError::from)?.ok_or_else(|| {
        ApiError::new(StatusCode::NOT_FOUND, "DELIVERY_NOT_FOUND", format!("no delivery has the id `{id}`"))
    })
}

async fn deliveries_get(
    State(state): State<AppState>,
    _auth: Auth<Read>,
    Path(id): Path<String>,
) -> Result<Json<WebhookDeliveryDetail>, ApiError> {
    let (record, body) = delivery(&state, delivery_id(&id)?).await?;
    let job = match record.job_id {
        Some(id) => match state.engine.job(id).await {
            Ok(job) => Some(view::job(job)),
            Err(EngineError::JobNotFound(_)) => None,
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    let (body, body_encoding) = match body {
        Some(bytes) => match String::from_utf8(bytes) {
            Ok(text) => (Some(text), "utf8"),
            Err(e) => (Some(base64::engine::general_purpose::STANDARD.encode(e.into_bytes())), "base64"),
        },
        None => (None, "utf8"),
    };
    let headers = record.headers.clone();
    Ok(Json(WebhookDeliveryDetail {
        delivery: delivery_view(record),
        headers,
        body,
        body_encoding: body_encoding.into(),
        job,
    }))
}

/// Makes a dead-lettered delivery's job available again; answers whether it was dead.
async fn replay(state: &AppState, record: &WebhookDeliveryRecord) -> Result<bool, ApiError> {
    let Some(job) = record.job_id.filter(|_| record.status == DeliveryStatus::DeadLetter) else { return Ok(false) };
    state.engine.job_retry(job).await?;
    state.engine.store().webhook_delivery_reopen(record.id).await.map_err(EngineError::from)?;
    Ok(true)
}

async fn deliveries_replay(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
    Path(id): Path<String>,
) -> Result<Json<WebhookReplayResponse>, ApiError> {
    let (record, _) = delivery(&state, delivery_id(&id)?).await?;
    if !replay(&state, &record).await? {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "DELIVERY_NOT_DEAD",
            format!("delivery {} is {}; only dead-lettered deliveries are replayed", record.id, record.status),
        ));
    }
    Ok(Json(WebhookReplayResponse { replayed: 1 }))
}

async fn deliveries_replay_all(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
    Body(req): Body<WebhookReplayRequest>,
) -> Result<Json<WebhookReplayResponse>, ApiError> {
    let mut replayed = 0;
    let mut before = None;
    loop {
        let params = WebhookDeliveryListParams {
            source: Some(req.source.clone()),
            tenant: req.tenant.clone(),
            status: Some(DeliveryStatus::DeadLetter),
            before,
            limit: MAX_PAGE,
            ..Default::default()
        };
        let page = state.engine.store().webhook_delivery_list(params).await.map_err(EngineError::from)?;
        for record in &page {
            replayed += u64::from(replay(&state, record).await?);
        }
        match page.last() {
            Some(last) if page.len() == MAX_PAGE as usize => before = Some(last.id),
            _ => return Ok(Json(WebhookReplayResponse { replayed })),
        }
    }
}
