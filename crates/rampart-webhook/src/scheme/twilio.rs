//! Twilio: `X-Twilio-Signature: <base64>`, HMAC-SHA1 keyed with the auth
//! token over the exact URL Twilio called followed by every form field,
//! sorted by name, as `{name}{value}` (a name's values sorted too). A JSON
//! body is signed instead through a `bodySHA256=<hex>` query parameter of
//! the URL (the URL alone is signed, and the body must hash to it).
//!
//! The URL is the source's `public_url` with the request's query, else the
//! URL the server rebuilt from the request (`Host`, and a trusted proxy's
//! `X-Forwarded-Proto` and `X-Forwarded-Host`): behind proxies the address
//! rampart sees is not the one Twilio signed. Twilio's
//! own validator also accepts the URL with the default port added or
//! removed, and so does this. A request carrying
//! `X-Twilio-Webhooks-Signature-Settings: …,algorithm=HMAC_SHA256` is
//! signed with HMAC-SHA256 instead (the source's secret is then that
//! setting's shared key).

use sha2::{Digest, Sha256};

use super::{Context, Inbound, Rejection, unbase64};
use crate::source::HmacAlgorithm;

pub(super) fn verify(ctx: &Context<'_>, req: &Inbound<'_>, public_url: &str) -> Result<(), Rejection> {
    let header = req.required("x-twilio-signature")?;
    let Some(signature) = unbase64(header) else { return Err(Rejection::Invalid) };
    let url = match req.query.filter(|q| !q.is_empty()) {
        Some(q) if public_url.contains('?') => format!("{public_url}&{q}"),
        Some(q) => format!("{public_url}?{q}"),
        None => public_url.to_string(),
    };
    let body_hash = url::Url::parse(&url)
        .ok()
        .and_then(|u| u.query_pairs().find(|(k, _)| k == "bodySHA256").map(|(_, v)| v.into_owned()));
    let fields = match &body_hash {
        Some(expected) => {
            let actual = hex::encode(Sha256::digest(req.body));
            if !actual.eq_ignore_ascii_case(expected.trim()) {
                return Err(Rejection::Invalid);
            }
            String::new()
        }
        None => form_fields(req.body),
    };
    let algorithm = algorithm(req.header("x-twilio-webhooks-signature-settings")).ok_or(Rejection::Invalid)?;
    let signature = [signature];
    let ok = url_variants(&url).iter().any(|u| ctx.matches(algorithm, &[u.as_bytes(), fields.as_bytes()], &signature));
    if ok { Ok(()) } else { Err(Rejection::Invalid) }
}

/// The hash the settings header names; HMAC-SHA1 without one, `None` for one unknown.
fn algorithm(settings: Option<&str>) -> Option<HmacAlgorithm> {
    let named = settings.unwrap_or_default().split(',').find_map(|part| {
        let (name, value) = part.split_once('=')?;
        (name.trim() == "algorithm" && !value.trim().is_empty()).then(|| value.trim().to_ascii_uppercase())
    });
    match named.as_deref() {
        None | Some("HMAC_SHA1") => Some(HmacAlgorithm::Sha1),
        Some("HMAC_SHA256") => Some(HmacAlgorithm::Sha256),
        Some(_) => None,
    }
}

/// The form fields as Twilio appends them: names sorted, each name's
/// distinct values sorted, `{name}{value}` each.
fn form_fields(body: &[u8]) -> String {
    let mut pairs: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
    pairs.sort();
    pairs.dedup();
    pairs.into_iter().map(|(k, v)| k + &v).collect()
}

/// The URL as given, with the default port added, and without its port.
fn url_variants(url: &str) -> Vec<String> {
    let mut out = vec![url.to_string()];
    let Some((scheme, rest)) = url.split_once("://") else { return out };
    let split = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(split);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let has_port = host.rsplit_once(':').is_some_and(|(_, p)| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if has_port {
        if let Some((without, _)) = authority.rsplit_once(':') {
            out.push(format!("{scheme}://{without}{tail}"));
        }
    } else {
        let port = if scheme.eq_ignore_ascii_case("https") { 443 } else { 80 };
        out.push(format!("{scheme}://{authority}:{port}{tail}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_vary_by_their_default_port() {
        assert_eq!(
            url_variants("https://a.example/in/x?y=1"),
            ["https://a.example/in/x?y=1", "https://a.example:443/in/x?y=1"]
        );
        assert_eq!(url_variants("http://a.example:8080/in"), ["http://a.example:8080/in", "http://a.example/in"]);
    }

    #[test]
    fn fields_sort_by_name_then_value() {
        assert_eq!(form_fields(b"To=%2B1&From=%2B2&Body=hi+there&A=2&A=1"), "A1A2Bodyhi thereFrom+2To+1");
    }
}
