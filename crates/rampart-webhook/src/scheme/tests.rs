//! Each scheme against the cases that trip people up: signed by hand here
//! with [`mac`]; the providers' own libraries sign in `tests/it/providers.rs`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderName};
use rampart_core::id::SourceName;
use rampart_core::time::UnixMillis;

use super::*;
use crate::source::{SecretSpec, SourceSpec};

const NOW_S: i64 = 1_765_000_000;
const NOW: UnixMillis = UnixMillis(NOW_S * 1000);
const BODY: &[u8] = br#"{"id":"evt_1","type":"invoice.paid"}"#;

fn source(spec: SourceSpec) -> Source {
    spec.validate(&SourceName::new("s").unwrap()).unwrap()
}

fn simple(scheme: &str, secret: &str) -> Source {
    source(SourceSpec { scheme: Some(scheme.into()), secret: Some(secret.into()), ..Default::default() })
}

fn headers(pairs: &[(&str, String)]) -> HeaderMap {
    pairs.iter().map(|(k, v)| (k.parse::<HeaderName>().unwrap(), v.parse().unwrap())).collect()
}

fn check(source: &Source, headers: &HeaderMap, body: &[u8]) -> Result<(), Rejection> {
    verify(source, &Inbound { headers, body, query: None, url: None }, NOW)
}

fn hex256(key: &str, parts: &[&[u8]]) -> String {
    hex::encode(mac(HmacAlgorithm::Sha256, key.as_bytes(), parts))
}

fn stripe_header(secret: &str, t: i64, body: &[u8]) -> String {
    format!("t={t},v1={}", hex256(secret, &[t.to_string().as_bytes(), b".", body]))
}

#[test]
fn stripe_takes_any_v1_and_ignores_v0() {
    let s = simple("stripe", "whsec_new");
    let good = hex256("whsec_new", &[NOW_S.to_string().as_bytes(), b".", BODY]);
    let old = hex256("whsec_old", &[NOW_S.to_string().as_bytes(), b".", BODY]);
    let fake_v0 = format!("t={NOW_S},v1={old},v1={good},v0={}", "0".repeat(64));
    assert_eq!(check(&s, &headers(&[("stripe-signature", fake_v0)]), BODY), Ok(()));
    let only_v0 = format!("t={NOW_S},v0={good}");
    assert_eq!(check(&s, &headers(&[("stripe-signature", only_v0)]), BODY), Err(Rejection::Invalid));
    let old_only = format!("t={NOW_S},v1={old}");
    assert_eq!(check(&s, &headers(&[("stripe-signature", old_only)]), BODY), Err(Rejection::Invalid));
}

#[test]
fn stripe_refuses_stale_future_changed_and_unsigned() {
    let s = simple("stripe", "whsec_k");
    let h = |t: i64, body: &[u8]| headers(&[("stripe-signature", stripe_header("whsec_k", t, body))]);
    assert_eq!(check(&s, &h(NOW_S - 300, BODY), BODY), Ok(()));
    assert_eq!(check(&s, &h(NOW_S - 301, BODY), BODY), Err(Rejection::Stale(301)));
    assert_eq!(check(&s, &h(NOW_S + 301, BODY), BODY), Err(Rejection::Stale(301)));
    let mut changed = BODY.to_vec();
    changed[3] ^= 1;
    assert_eq!(check(&s, &h(NOW_S, BODY), &changed), Err(Rejection::Invalid));
    assert_eq!(check(&s, &HeaderMap::new(), BODY), Err(Rejection::Missing("stripe-signature".into())));
    assert_eq!(check(&simple("stripe", "whsec_other"), &h(NOW_S, BODY), BODY), Err(Rejection::Invalid));
    assert_eq!(Rejection::Stale(1).code(), "TIMESTAMP_STALE");
    assert_eq!(Rejection::Invalid.code(), "SIGNATURE_INVALID");
}

#[test]
fn github_signs_the_body_without_a_timestamp() {
    // GitHub's documented example ("Validating webhook deliveries").
    let s = simple("github", "It's a Secret to Everybody");
    let sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    let h = headers(&[("x-hub-signature-256", sig.to_string())]);
    assert_eq!(check(&s, &h, b"Hello, World!"), Ok(()));
    assert_eq!(check(&s, &h, b"Hello, World?"), Err(Rejection::Invalid));
    let no_prefix = headers(&[("x-hub-signature-256", sig.trim_start_matches("sha256=").to_string())]);
    assert_eq!(check(&s, &no_prefix, b"Hello, World!"), Err(Rejection::Invalid));
}

#[test]
fn slack_signs_version_timestamp_and_body() {
    let s = simple("slack", "8f742231b10e8888abcd99yyyzzz85a5");
    let sig =
        |ts: i64| format!("v0={}", hex256("8f742231b10e8888abcd99yyyzzz85a5", &[format!("v0:{ts}:").as_bytes(), BODY]));
    let h = |ts: i64| headers(&[("x-slack-request-timestamp", ts.to_string()), ("x-slack-signature", sig(ts))]);
    assert_eq!(check(&s, &h(NOW_S), BODY), Ok(()));
    assert_eq!(check(&s, &h(NOW_S - 600), BODY), Err(Rejection::Stale(600)));
    let wrong = headers(&[("x-slack-request-timestamp", NOW_S.to_string()), ("x-slack-signature", sig(NOW_S - 1))]);
    assert_eq!(check(&s, &wrong, BODY), Err(Rejection::Invalid));
}

#[test]
fn shopify_signs_the_body_in_base64() {
    let s = simple("shopify", "shpss_k");
    let sig = STANDARD.encode(mac(HmacAlgorithm::Sha256, b"shpss_k", &[BODY]));
    assert_eq!(check(&s, &headers(&[("x-shopify-hmac-sha256", sig.clone())]), BODY), Ok(()));
    assert_eq!(check(&s, &headers(&[("x-shopify-hmac-sha256", sig)]), b"{}"), Err(Rejection::Invalid));
}

#[test]
fn standard_webhooks_matches_the_specification_example_and_rotates() {
    // The example of the Standard Webhooks specification.
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let body = br#"{"test": 2432232314}"#;
    let spec = |secrets: Vec<SecretSpec>| {
        source(SourceSpec {
            scheme: Some("standard".into()),
            secrets,
            tolerance: Some("3650d".into()),
            ..Default::default()
        })
    };
    let h = headers(&[
        ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek".into()),
        ("webhook-timestamp", "1614265330".into()),
        ("webhook-signature", "v1,bm90IGl0 v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=".into()),
    ]);
    let current = SecretSpec { value: secret.into(), expires_at: None };
    let other = SecretSpec { value: "whsec_b3RoZXIga2V5IGJ5dGVz".into(), expires_at: None };
    assert_eq!(check(&spec(vec![other.clone(), current.clone()]), &h, body), Ok(()));
    assert_eq!(check(&spec(vec![other]), &h, body), Err(Rejection::Invalid));
    let expired = SecretSpec { value: secret.into(), expires_at: Some(NOW.to_rfc3339()) };
    assert_eq!(check(&spec(vec![expired]), &h, body), Err(Rejection::Invalid));
    let svix = headers(&[
        ("svix-id", "msg_p5jXN8AQM9LWM0D4loKWxJek".into()),
        ("svix-timestamp", "1614265330".into()),
        ("svix-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=".into()),
    ]);
    assert_eq!(check(&spec(vec![current]), &svix, body), Ok(()));
}

#[test]
fn twilio_signs_the_url_and_sorted_form_fields_or_the_body_hash() {
    let url = "https://example.com/in/sms";
    let s = source(SourceSpec {
        scheme: Some("twilio".into()),
        secret: Some("token".into()),
        public_url: Some(url.into()),
        ..Default::default()
    });
    let form = b"To=%2B15551234567&From=%2B15557654321&Body=Hello";
    let signed = format!("{url}BodyHelloFrom+15557654321To+15551234567");
    let sig = STANDARD.encode(mac(HmacAlgorithm::Sha1, b"token", &[signed.as_bytes()]));
    let h = headers(&[("x-twilio-signature", sig.clone())]);
    assert_eq!(check(&s, &h, form), Ok(()));
    assert_eq!(check(&s, &h, b"To=%2B15551234567&From=%2B15557654321&Body=Hellp"), Err(Rejection::Invalid));
    // A JSON body: the URL carries the body's hash, and only the URL is signed.
    let hash = crate::event::body_sha256(BODY);
    let query = format!("bodySHA256={hash}");
    let signed = format!("{url}?{query}");
    let sig = STANDARD.encode(mac(HmacAlgorithm::Sha1, b"token", &[signed.as_bytes()]));
    let h = headers(&[("x-twilio-signature", sig)]);
    let req = |body: &'static [u8]| verify(&s, &Inbound { headers: &h, body, query: Some(&query), url: None }, NOW);
    assert_eq!(req(BODY), Ok(()));
    assert_eq!(req(b"{}"), Err(Rejection::Invalid));
}

#[test]
fn twilio_without_a_public_url_checks_the_url_the_server_rebuilt() {
    let url = "https://example.com/in/sms";
    let s = source(SourceSpec { scheme: Some("twilio".into()), secret: Some("token".into()), ..Default::default() });
    let form = b"Body=Hello";
    let signed = format!("{url}BodyHello");
    let h =
        headers(&[("x-twilio-signature", STANDARD.encode(mac(HmacAlgorithm::Sha1, b"token", &[signed.as_bytes()])))]);
    let req = |url| verify(&s, &Inbound { headers: &h, body: form, query: None, url }, NOW);
    assert_eq!(req(Some(url)), Ok(()));
    assert_eq!(req(Some("http://example.com/in/sms")), Err(Rejection::Invalid), "the scheme is signed too");
    assert_eq!(req(None), Err(Rejection::Invalid), "no URL to check against");
}

#[test]
fn generic_hmac_follows_its_template() {
    let s = source(SourceSpec {
        scheme: Some("hmac".into()),
        secret: Some("k".into()),
        header: Some("X-Signature".into()),
        prefix: Some("sha1=".into()),
        algorithm: Some("sha1".into()),
        encoding: Some("base64".into()),
        template: Some("{timestamp}.{body}".into()),
        timestamp_header: Some("X-Timestamp".into()),
        ..Default::default()
    });
    let sig = |ts: i64| {
        format!("sha1={}", STANDARD.encode(mac(HmacAlgorithm::Sha1, b"k", &[ts.to_string().as_bytes(), b".", BODY])))
    };
    let h = |ts: i64| headers(&[("x-signature", sig(ts)), ("x-timestamp", ts.to_string())]);
    assert_eq!(check(&s, &h(NOW_S), BODY), Ok(()));
    assert_eq!(check(&s, &h(NOW_S + 3600), BODY), Err(Rejection::Stale(3600)));
    assert_eq!(
        check(&s, &headers(&[("x-signature", sig(NOW_S))]), BODY),
        Err(Rejection::Missing("x-timestamp".into()))
    );
    assert_eq!(hmac::render("a{timestamp}{x}{body}", "7", b"B"), [&b"a"[..], b"7", b"", b"{", b"x}", b"B", b""]);
}

#[test]
fn none_lets_everything_through() {
    let s = source(SourceSpec { scheme: Some("none".into()), ..Default::default() });
    assert_eq!(check(&s, &HeaderMap::new(), b"anything"), Ok(()));
}
