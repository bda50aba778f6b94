//! Shopify: `X-Shopify-Hmac-Sha256: <base64>`, HMAC-SHA256 of the body with
//! the app's client secret. No timestamp is signed.

use super::{Context, Inbound, Rejection, unbase64};
use crate::source::HmacAlgorithm;

pub(super) fn verify(ctx: &Context<'_>, req: &Inbound<'_>) -> Result<(), Rejection> {
    let header = req.required("x-shopify-hmac-sha256")?;
    let Some(signature) = unbase64(header) else { return Err(Rejection::Invalid) };
    if ctx.matches(HmacAlgorithm::Sha256, &[req.body], &[signature]) { Ok(()) } else { Err(Rejection::Invalid) }
}
