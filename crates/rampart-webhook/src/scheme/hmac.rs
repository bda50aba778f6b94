//! The generic `hmac` scheme: a configured header, hash (SHA-256 or SHA-1),
//! encoding (hex or base64), optional prefix (`sha256=`), and what is
//! signed, a template of `{timestamp}` and `{body}` (`{timestamp}.{body}`),
//! with the timestamp read from its own header and held to the tolerance.

use super::{Context, Inbound, Rejection, unbase64, unhex};
use crate::source::{HmacEncoding, HmacOptions};

pub(super) fn verify(ctx: &Context<'_>, req: &Inbound<'_>, opts: &HmacOptions) -> Result<(), Rejection> {
    let missing = |name: &http::HeaderName| Rejection::Missing(name.as_str().to_string());
    let header = req.header(opts.header.as_str()).ok_or_else(|| missing(&opts.header))?;
    let timestamp = match &opts.timestamp_header {
        Some(name) => {
            let ts = req.header(name.as_str()).ok_or_else(|| missing(name))?;
            ctx.check_timestamp(ts)?;
            Some(ts.trim())
        }
        None => None,
    };
    let Some(encoded) = header.trim().strip_prefix(opts.prefix.as_str()) else { return Err(Rejection::Invalid) };
    let decoded = match opts.encoding {
        HmacEncoding::Hex => unhex(encoded),
        HmacEncoding::Base64 => unbase64(encoded),
    };
    let Some(signature) = decoded else { return Err(Rejection::Invalid) };
    let parts = render(&opts.template, timestamp.unwrap_or_default(), req.body);
    if ctx.matches(opts.algorithm, &parts, &[signature]) { Ok(()) } else { Err(Rejection::Invalid) }
}

/// The signed content's parts: the template's text with `{timestamp}` and
/// `{body}` in place, the body never copied.
pub(crate) fn render<'a>(template: &'a str, timestamp: &'a str, body: &'a [u8]) -> Vec<&'a [u8]> {
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(at) = rest.find('{') {
        let (text, tail) = rest.split_at(at);
        parts.push(text.as_bytes());
        if let Some(after) = tail.strip_prefix("{body}") {
            parts.push(body);
            rest = after;
        } else if let Some(after) = tail.strip_prefix("{timestamp}") {
            parts.push(timestamp.as_bytes());
            rest = after;
        } else {
            parts.push(b"{");
            rest = &tail[1..];
        }
    }
    parts.push(rest.as_bytes());
    parts
}
