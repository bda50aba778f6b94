//! Slack: `X-Slack-Request-Timestamp: <unix>` and `X-Slack-Signature:
//! v0=<hex>`, HMAC-SHA256 of `v0:{ts}:{body}` with the app's signing secret.

use super::{Context, Inbound, Rejection, unhex};
use crate::source::HmacAlgorithm;

pub(super) fn verify(ctx: &Context<'_>, req: &Inbound<'_>) -> Result<(), Rejection> {
    let ts = req.required("x-slack-request-timestamp")?;
    let header = req.required("x-slack-signature")?;
    ctx.check_timestamp(ts)?;
    let Some(signature) = header.trim().strip_prefix("v0=").and_then(unhex) else {
        return Err(Rejection::Invalid);
    };
    if ctx.matches(HmacAlgorithm::Sha256, &[b"v0:", ts.trim().as_bytes(), b":", req.body], &[signature]) {
        Ok(())
    } else {
        Err(Rejection::Invalid)
    }
}
