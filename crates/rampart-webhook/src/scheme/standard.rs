//! Standard Webhooks (and Svix, its origin): `webhook-id`,
//! `webhook-timestamp` and `webhook-signature: v1,<base64> [v1,<base64>…]`
//! (or the same under `svix-`), HMAC-SHA256 of `{id}.{ts}.{body}` keyed
//! with the bytes of the base64 after `whsec_`.

use super::{Context, Inbound, Rejection, unbase64};
use crate::source::HmacAlgorithm;

pub(super) fn verify(ctx: &Context<'_>, req: &Inbound<'_>) -> Result<(), Rejection> {
    let prefix = if req.header("webhook-signature").is_none() && req.header("svix-signature").is_some() {
        "svix"
    } else {
        "webhook"
    };
    let (id, ts, header) = if prefix == "svix" {
        (req.required("svix-id")?, req.required("svix-timestamp")?, req.required("svix-signature")?)
    } else {
        (req.required("webhook-id")?, req.required("webhook-timestamp")?, req.required("webhook-signature")?)
    };
    ctx.check_timestamp(ts)?;
    let signatures: Vec<Vec<u8>> =
        header.split(' ').filter_map(|s| s.trim().strip_prefix("v1,")).filter_map(unbase64).collect();
    let parts: [&[u8]; 5] = [id.as_bytes(), b".", ts.trim().as_bytes(), b".", req.body];
    if !signatures.is_empty() && ctx.matches(HmacAlgorithm::Sha256, &parts, &signatures) {
        Ok(())
    } else {
        Err(Rejection::Invalid)
    }
}
