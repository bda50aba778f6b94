//! GitHub: `X-Hub-Signature-256: sha256=<hex>`, HMAC-SHA256 of the body
//! with the webhook's secret. GitHub signs no timestamp, so a captured
//! request can be replayed; the event id (`X-GitHub-Delivery`) dedupe is
//! what stops it from being processed twice.

use super::{Context, Inbound, Rejection, unhex};
use crate::source::HmacAlgorithm;

pub(super) fn verify(ctx: &Context<'_>, req: &Inbound<'_>) -> Result<(), Rejection> {
    let header = req.required("x-hub-signature-256")?;
    let Some(signature) = header.trim().strip_prefix("sha256=").and_then(unhex) else {
        return Err(Rejection::Invalid);
    };
    if ctx.matches(HmacAlgorithm::Sha256, &[req.body], &[signature]) { Ok(()) } else { Err(Rejection::Invalid) }
}
