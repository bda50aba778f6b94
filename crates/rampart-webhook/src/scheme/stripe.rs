//! Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…][,v0=<hex>]`,
//! HMAC-SHA256 of `{t}.{body}` keyed with the whole `whsec_…` text.
//!
//! During a secret roll Stripe sends one `v1` per live secret, and in test
//! mode a `v0` signed with a fake key: only `v1` counts, any match passes.

use super::{Context, Inbound, Rejection, unhex};
use crate::source::HmacAlgorithm;

pub(super) fn verify(ctx: &Context<'_>, req: &Inbound<'_>) -> Result<(), Rejection> {
    let header = req.required("stripe-signature")?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for item in header.split(',') {
        match item.trim().split_once('=') {
            Some(("t", t)) if timestamp.is_none() => timestamp = Some(t),
            Some(("v1", s)) => signatures.extend(unhex(s)),
            _ => {}
        }
    }
    let Some(t) = timestamp else { return Err(Rejection::Invalid) };
    ctx.check_timestamp(t)?;
    if signatures.is_empty() {
        return Err(Rejection::Invalid);
    }
    if ctx.matches(HmacAlgorithm::Sha256, &[t.as_bytes(), b".", req.body], &signatures) {
        Ok(())
    } else {
        Err(Rejection::Invalid)
    }
}
