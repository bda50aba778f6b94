//! The scrubber: takes personal data and secrets out of text before it
//! leaves the process (error reports to Sentry) or is stored from an app's
//! report (an integration's `last_error`).
//!
//! In text it replaces e-mail addresses (`[email]`), bearer tokens
//! (`Bearer [redacted]`), rampart API keys (`rk_…` → `[api-key]`), webhook
//! secrets (`whsec_…` → `[secret]`), the values of `password=`, `token=`,
//! `api_key=`, `secret=`, `authorization:` and `cookie:` pairs, and card-like
//! numbers (13 to 19 digits, spaces or dashes between them allowed, that
//! pass the Luhn check: `[card]`). In a Sentry event it scrubs the message,
//! exception values, breadcrumbs, extra data, tags, contexts and request
//! data, and drops the `Authorization` and `Cookie` headers, the cookies and
//! the user's e-mail and address.
//!
//! It errs on the side of removing: a long order number that happens to
//! pass the Luhn check is replaced too.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Captures, Regex};
use sentry::protocol::{Breadcrumb, Context, Event, Map, Value};

/// `(pattern, replacement)` applied in order; `$k`/`$sep` keep a pair's key.
static RULES: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    [
        (r"(?i)\bbearer\s+[A-Za-z0-9._~+/=\-]+", "Bearer [redacted]"),
        (r"\brk_[A-Za-z0-9]{8,}", "[api-key]"),
        (r"\bwhsec_[A-Za-z0-9+/=_\-]+", "[secret]"),
        (
            r#"(?i)(?P<k>\b(?:password|passwd|pwd|secret|token|access_token|refresh_token|api[_-]?key|authorization|cookie|set-cookie))(?P<sep>"?\s*[:=]\s*"?)(?:bearer\s+)?[^\s"',;&]+"#,
            "$k$sep[redacted]",
        ),
        (r"(?i)[a-z0-9._%+\-]+@[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,}", "[email]"),
    ]
    .into_iter()
    .map(|(pattern, with)| (Regex::new(pattern).expect("a valid scrub pattern"), with))
    .collect()
});

/// Runs of 13 to 19 digits, with single spaces or dashes between them.
static CARD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b\d(?:[ \-]?\d){12,18}\b").expect("a valid card pattern"));

/// Whether the digits of `text` pass the Luhn check.
fn luhn(text: &str) -> bool {
    let digits: Vec<u32> = text.chars().filter_map(|c| c.to_digit(10)).collect();
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| if i % 2 == 1 { if d * 2 > 9 { d * 2 - 9 } else { d * 2 } } else { d })
        .sum();
    (13..=19).contains(&digits.len()) && sum.is_multiple_of(10)
}

/// `text` with personal data and secrets replaced; borrowed when there was
/// nothing to replace.
pub fn scrub(text: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(text);
    for (rule, with) in RULES.iter() {
        if let Cow::Owned(s) = rule.replace_all(&out, *with) {
            out = Cow::Owned(s);
        }
    }
    if let Cow::Owned(s) =
        CARD.replace_all(&out, |c: &Captures<'_>| if luhn(&c[0]) { "[card]".to_string() } else { c[0].to_string() })
    {
        out = Cow::Owned(s);
    }
    out
}

fn scrub_string(s: &mut String) {
    if let Cow::Owned(clean) = scrub(s) {
        *s = clean;
    }
}

fn scrub_option(s: &mut Option<String>) {
    if let Some(s) = s {
        scrub_string(s);
    }
}

/// Header and field names whose values are dropped whole.
fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["authorization", "cookie", "set-cookie", "x-api-key", "proxy-authorization"].contains(&name.as_str())
}

fn scrub_value(v: &mut Value) {
    match v {
        Value::String(s) => scrub_string(s),
        Value::Array(items) => items.iter_mut().for_each(scrub_value),
        Value::Object(map) => {
            map.retain(|k, _| !is_secret_name(k));
            map.values_mut().for_each(scrub_value);
        }
        _ => {}
    }
}

fn scrub_map(map: &mut Map<String, Value>) {
    map.retain(|k, _| !is_secret_name(k));
    map.values_mut().for_each(scrub_value);
}

/// A breadcrumb (a warning or info line before an error) without personal
/// data or secrets.
pub fn scrub_breadcrumb(mut crumb: Breadcrumb) -> Breadcrumb {
    scrub_option(&mut crumb.message);
    scrub_map(&mut crumb.data);
    crumb
}

/// An event without personal data or secrets: Sentry's `before_send`.
pub fn scrub_event(mut event: Event<'static>) -> Event<'static> {
    scrub_option(&mut event.message);
    if let Some(entry) = &mut event.logentry {
        scrub_string(&mut entry.message);
        entry.params.iter_mut().for_each(scrub_value);
    }
    for exception in &mut event.exception.values {
        scrub_option(&mut exception.value);
    }
    event.breadcrumbs.values =
        std::mem::take(&mut event.breadcrumbs.values).into_iter().map(scrub_breadcrumb).collect();
    scrub_map(&mut event.extra);
    event.tags.retain(|k, _| !is_secret_name(k));
    event.tags.values_mut().for_each(scrub_string);
    for context in event.contexts.values_mut() {
        if let Context::Other(map) = context {
            scrub_map(map);
        }
    }
    if let Some(request) = &mut event.request {
        request.headers.retain(|k, _| !is_secret_name(k));
        request.headers.values_mut().for_each(scrub_string);
        request.cookies = None;
        scrub_option(&mut request.query_string);
        scrub_option(&mut request.data);
        if let Some(url) = &mut request.url {
            let clean = scrub(url.as_str()).into_owned();
            match clean.parse() {
                Ok(clean) => *url = clean,
                Err(_) => request.url = None,
            }
        }
        request.env.values_mut().for_each(scrub_string);
    }
    if let Some(user) = &mut event.user {
        user.email = None;
        user.ip_address = None;
        scrub_option(&mut user.username);
        scrub_map(&mut user.other);
    }
    event
}

#[cfg(test)]
mod tests {
    use sentry::protocol::{Exception, LogEntry, Request, User};

    use super::*;

    #[test]
    fn text_loses_emails_keys_tokens_secrets_and_cards() {
        let cases = [
            ("nothing to hide here", "nothing to hide here"),
            ("mail ada.lovelace+x@example.co.uk failed", "mail [email] failed"),
            ("From: <Bob@Mail.Example.com>", "From: <[email]>"),
            ("Authorization: Bearer eyJhbGciOi.J9.abc-_", "Authorization: [redacted]"),
            ("header bearer abc123", "header Bearer [redacted]"),
            ("key rk_0123456789abcdef0123 rejected", "key [api-key] rejected"),
            ("signing with whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "signing with [secret]"),
            ("GET /cb?code=1&token=abc.def&x=2", "GET /cb?code=1&token=[redacted]&x=2"),
            (r#"{"password": "hunter2", "api_key":"k-1"}"#, r#"{"password": "[redacted]", "api_key":"[redacted]"}"#),
            ("cookie: session=abc; path=/", "cookie: [redacted]; path=/"),
            ("card 4242 4242 4242 4242 declined", "card [card] declined"),
            ("card 4242-4242-4242-4242 declined", "card [card] declined"),
            ("amex 378282246310005", "amex [card]"),
            ("discover 6011-0009-9013-9424.", "discover [card]."),
            // Not Luhn-valid: an order number stays.
            ("order 4242424242424241", "order 4242424242424241"),
            // Too short or too long to be a card.
            ("id 424242424242", "id 424242424242"),
            ("big 42424242424242424242424", "big 42424242424242424242424"),
            ("token_expires_at=2026-12-04", "token_expires_at=2026-12-04"),
            ("rk_short stays", "rk_short stays"),
        ];
        for (input, want) in cases {
            assert_eq!(scrub(input), want, "scrub({input:?})");
        }
        assert!(matches!(scrub("clean"), Cow::Borrowed(_)), "clean text is not copied");
    }

    #[test]
    fn the_luhn_check_takes_only_card_lengths() {
        let cases = [
            ("4242424242424242", true),
            ("4242 4242 4242 4242", true),
            ("4242424242424241", false),
            ("4222222222222", true),
            ("0000000000000", true),
            ("000000000000", false),
            ("00000000000000000000", false),
        ];
        for (digits, want) in cases {
            assert_eq!(luhn(digits), want, "{digits}");
        }
    }

    #[test]
    fn an_event_loses_personal_data_everywhere_it_can_hide() {
        let secret = "rk_00112233445566778899aabbccddeeff";
        let mut event = Event {
            message: Some(format!("request by ada@example.com with {secret}")),
            logentry: Some(LogEntry {
                message: "user %s".into(),
                params: vec![Value::String("ada@example.com".into())],
            }),
            ..Event::default()
        };
        event.exception.values.push(Exception {
            ty: "Error".into(),
            value: Some("card 4242424242424242 declined".into()),
            ..Exception::default()
        });
        event.breadcrumbs.values.push(Breadcrumb {
            message: Some("signing with whsec_abc123".into()),
            data: [("authorization".to_string(), Value::String("Bearer x".into()))].into_iter().collect(),
            ..Breadcrumb::default()
        });
        event.extra.insert("who".into(), serde_json::json!({"emails": ["bob@example.org"], "n": 1}));
        event.tags.insert("reported_by".into(), "ada@example.com".into());
        event.tags.insert("Cookie".into(), "a=b".into());
        let fields: Map<String, Value> =
            [("error".to_string(), Value::String(format!("Bearer {secret}")))].into_iter().collect();
        event.contexts.insert("Rust Tracing Fields".into(), Context::Other(fields));
        event.request = Some(Request {
            url: Some(format!("http://h/cb?api_key={secret}").parse().unwrap()),
            headers: [
                ("Authorization".to_string(), format!("Bearer {secret}")),
                ("Cookie".to_string(), "session=1".to_string()),
                ("X-Request-Id".to_string(), "r-1".to_string()),
            ]
            .into_iter()
            .collect(),
            cookies: Some("session=1".into()),
            query_string: Some("email=ada@example.com".into()),
            data: Some(r#"{"card":"4242 4242 4242 4242"}"#.into()),
            ..Request::default()
        });
        event.user = Some(User {
            email: Some("ada@example.com".into()),
            ip_address: Some(sentry::protocol::IpAddress::Exact("203.0.113.9".parse().unwrap())),
            username: Some("ada@example.com".into()),
            ..User::default()
        });

        let event = scrub_event(event);
        let json = serde_json::to_string(&event).unwrap();
        for leaked in [secret, "ada@example.com", "bob@example.org", "4242", "whsec_", "session=1", "203.0.113.9"] {
            assert!(!json.contains(leaked), "{leaked} leaked: {json}");
        }
        let request = event.request.as_ref().unwrap();
        assert_eq!(request.headers.keys().collect::<Vec<_>>(), ["X-Request-Id"]);
        assert!(request.cookies.is_none());
        assert_eq!(event.message.as_deref(), Some("request by [email] with [api-key]"));
        assert_eq!(event.exception.values[0].value.as_deref(), Some("card [card] declined"));
        assert!(event.breadcrumbs.values[0].data.is_empty());
        assert_eq!(event.tags.get("reported_by").map(String::as_str), Some("[email]"));
        assert!(!event.tags.contains_key("Cookie"));
    }
}
