//! URLs that may carry a secret, and the push target: each checked when
//! read, and each shown with its password (or, for a secret URL, everything
//! past the host) hidden, so that `Display` and `Debug` are safe in logs and
//! messages; `expose` gives the real one to connect with.
//!
//! The redaction splits a PostgreSQL URL or `key=value` string the way the
//! driver does (libpq's rules), so what it reads as a password is what is
//! hidden.

use std::fmt;

use rampart_store::postgres::check_url;

/// A PostgreSQL connection URL (or `key=value` string), checked when read.
///
/// It may hold a password, so it shows redacted (`postgres://user:***@host/db`)
/// in `Display` and `Debug`, which is what logs and messages use;
/// [`DatabaseUrl::expose`] gives the real one to connect with.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// Checks `url` without connecting; the error says what is wrong, without
    /// repeating the URL.
    pub fn parse(url: &str) -> Result<DatabaseUrl, String> {
        let url = url.trim();
        check_url(url)?;
        Ok(DatabaseUrl(url.to_string()))
    }

    /// The URL with its password, for connecting only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_password(&self.0))
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({:?})", redact_password(&self.0))
    }
}

/// A Redis URL (`redis://[user:password@]host[:port][/db]`, `rediss://` for
/// TLS, or `redis+unix:///path`), checked when read. It shows with its
/// password hidden; [`RedisUrl::expose`] gives the real one.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl(String);

impl RedisUrl {
    /// Checks the form of `url` without connecting.
    pub fn parse(url: &str) -> Result<RedisUrl, String> {
        let url = url.trim();
        let rest = ["redis://", "rediss://", "redis+unix://", "unix://"]
            .iter()
            .find_map(|scheme| url.strip_prefix(scheme))
            .ok_or("the Redis URL must start with redis://, rediss:// or redis+unix://, e.g. redis://127.0.0.1:6379")?;
        if rest.is_empty() {
            return Err("the Redis URL names no host; write e.g. redis://127.0.0.1:6379".to_string());
        }
        Ok(RedisUrl(url.to_string()))
    }

    /// The URL with its password, for connecting only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    fn redacted(&self) -> String {
        let Some((scheme, rest)) = self.0.split_once("://") else { return self.0.clone() };
        match rest.rsplit_once('@') {
            Some((credentials, place)) => match credentials.split_once(':') {
                Some((user, _)) => format!("{scheme}://{user}:***@{place}"),
                None => format!("{scheme}://***@{place}"),
            },
            None => self.0.clone(),
        }
    }
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedisUrl({:?})", self.redacted())
    }
}

/// The connection string with every password replaced by `***`: the one
/// after `user:` in a URL, a `password=` query parameter, and a `password`
/// value of a `key=value` string. Splits the way the PostgreSQL driver does
/// (libpq's rules), so that what it reads as a password is what is hidden.
fn redact_password(url: &str) -> String {
    const HIDDEN: &str = "***";
    let Some((scheme, rest)) =
        ["postgres://", "postgresql://"].iter().find_map(|scheme| url.strip_prefix(scheme).map(|rest| (*scheme, rest)))
    else {
        return redact_key_values(url, HIDDEN);
    };
    let mut out = scheme.to_string();
    // The credentials run to the first `@`, the password from their first `:`.
    let rest = match rest.split_once('@') {
        Some((credentials, rest)) => {
            match credentials.split_once(':') {
                Some((user, _)) => out.push_str(&format!("{user}:{HIDDEN}@")),
                None => out.push_str(&format!("{credentials}@")),
            }
            rest
        }
        None => rest,
    };
    match rest.split_once('?') {
        Some((place, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|param| match param.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}={HIDDEN}"),
                    _ => param.to_string(),
                })
                .collect();
            out.push_str(&format!("{place}?{}", params.join("&")));
        }
        None => out.push_str(rest),
    }
    out
}

/// `redact_password` for a `key=value` string (`host=db user=app
/// password='a secret'`): values are unquoted up to white space, or quoted
/// with `'`, and `\` escapes the next character in both.
fn redact_key_values(text: &str, hidden: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let skip_space = |mut i: usize| {
        while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        i
    };
    while i < bytes.len() {
        let start = i;
        let key_start = skip_space(i);
        i = key_start;
        while bytes.get(i).is_some_and(|b| !b.is_ascii_whitespace() && *b != b'=') {
            i += 1;
        }
        let key = &text[key_start..i];
        i = skip_space(i);
        if bytes.get(i) == Some(&b'=') {
            i = skip_space(i + 1);
        }
        // White space, key, `=` and the space around it, as written.
        out.push_str(&text[start..i]);
        let value_start = i;
        let quoted = bytes.get(i) == Some(&b'\'');
        if quoted {
            i += 1;
        }
        while let Some(&b) = bytes.get(i) {
            if b == b'\\' {
                i += 2;
                continue;
            }
            if (quoted && b == b'\'') || (!quoted && b.is_ascii_whitespace()) {
                break;
            }
            i += 1;
        }
        if quoted && i < bytes.len() {
            i += 1;
        }
        // An escape at the very end steps past it.
        i = i.min(bytes.len());
        if key.eq_ignore_ascii_case("password") {
            out.push_str(hidden);
        } else {
            out.push_str(&text[value_start..i]);
        }
    }
    out
}

/// A push queue's target: an absolute http or https URL with a host.
/// Receivers take tokens in the query string, so `Display` and `Debug`
/// show its query values and fragment hidden ([`redact_query`]); only
/// [`PushTarget::url`] holds it whole.
#[derive(Clone, PartialEq, Eq)]
pub struct PushTarget {
    url: url::Url,
}

impl PushTarget {
    /// Parses and checks a target URL.
    pub fn parse(s: &str) -> Result<PushTarget, String> {
        let shown = redact_query(s);
        let url = url::Url::parse(s.trim()).map_err(|e| format!("{shown:?} is not a URL ({e})"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("{shown:?} must be an http:// or https:// URL, not {}://", url.scheme()));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("{shown:?} names no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            let mut shown = url.clone();
            if shown.password().is_some() {
                // Never quote a password: `set_password` fails only for URLs that cannot hold one.
                let _ = shown.set_password(Some("***"));
            }
            return Err(format!(
                "{:?} holds credentials; deliveries are signed with the queue's secret instead",
                redact_query(shown.as_str())
            ));
        }
        Ok(PushTarget { url })
    }

    /// The URL requests go to.
    pub fn url(&self) -> &url::Url {
        &self.url
    }

    /// The host and port its circuit breaker is named after (`host:port`,
    /// the port being the scheme's default when the URL gives none).
    pub fn host(&self) -> String {
        let host = self.url.host_str().unwrap_or_default();
        match self.url.port_or_known_default() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        }
    }
}

impl fmt::Display for PushTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_query(self.url.as_str()))
    }
}

impl fmt::Debug for PushTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PushTarget({self})")
    }
}

/// A URL with the values of its query and its fragment hidden
/// (`https://app.example/hook?token=***&team=***`), for every place a URL
/// that may carry a token is shown or logged.
pub fn redact_query(url: &str) -> String {
    const HIDDEN: &str = "***";
    let (before_fragment, fragment) = match url.split_once('#') {
        Some((before, fragment)) => (before, Some(fragment)),
        None => (url, None),
    };
    let mut shown = match before_fragment.split_once('?') {
        Some((base, query)) => {
            let pairs: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) => format!("{key}={HIDDEN}"),
                    None if pair.is_empty() => String::new(),
                    None => HIDDEN.to_string(),
                })
                .collect();
            format!("{base}?{}", pairs.join("&"))
        }
        None => before_fragment.to_string(),
    };
    match fragment {
        Some("") => shown.push('#'),
        Some(_) => shown.push_str(&format!("#{HIDDEN}")),
        None => {}
    }
    shown
}

/// A URL that is a secret (a Slack webhook URL is one): `Display` and
/// `Debug` show only its scheme and host.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(String);

impl SecretUrl {
    /// Checks an `http://` or `https://` URL with a host; the message never
    /// quotes it.
    pub fn parse(s: &str) -> Result<SecretUrl, String> {
        let s = s.trim();
        match url::Url::parse(s) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Ok(SecretUrl(s.to_string())),
            _ => Err("is not an http:// or https:// URL".to_string()),
        }
    }

    /// The URL to send to.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let after_scheme = self.0.find("://").map_or(0, |i| i + 3);
        let host_end = self.0[after_scheme..].find('/').map_or(self.0.len(), |i| after_scheme + i);
        write!(f, "{}/***", &self.0[..host_end])
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretUrl({self})")
    }
}

/// A secret that is not a URL (a Slack bot token is one): `Display` and
/// `Debug` show `***`, so no log line, error or dump quotes it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretText(String);

impl SecretText {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> SecretText {
        SecretText(s.into())
    }

    /// The secret itself, to send.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretText(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{errors, ok};

    #[test]
    fn passwords_never_show() {
        fn check(url: &str, expected: &str) {
            assert_eq!(redact_password(url), expected, "{url:?}");
        }
        check("postgres://app:s3cret@db:5432/jobs", "postgres://app:***@db:5432/jobs");
        check("postgresql://app:@db/jobs", "postgresql://app:***@db/jobs");
        check("postgres://app@db/jobs", "postgres://app@db/jobs");
        check("postgres://db/jobs", "postgres://db/jobs");
        check("postgres://app:p:w@db/jobs?sslmode=disable", "postgres://app:***@db/jobs?sslmode=disable");
        check("postgres://a:x@y@db/jobs", "postgres://a:***@y@db/jobs");
        check(
            "postgres://db/jobs?user=app&password=s3cret&application_name=x",
            "postgres://db/jobs?user=app&password=***&application_name=x",
        );
        check("host=db user=app password=s3cret dbname=jobs", "host=db user=app password=*** dbname=jobs");
        check("host=db password = 's3 cr\\'et' user=app", "host=db password = *** user=app");
        check("password=s3\\ cret host=db", "password=*** host=db");
        check("host=db user=app", "host=db user=app");
        check("password='unterminated", "password=***");
        check("password=trailing\\", "password=***");

        let secret = "hunter2";
        let url = DatabaseUrl::parse(&format!("postgres://app:{secret}@db/jobs")).unwrap();
        assert_eq!(url.to_string(), "postgres://app:***@db/jobs");
        assert_eq!(url.expose(), format!("postgres://app:{secret}@db/jobs"));
        let config = ok(None, &[("DATABASE_URL", url.expose())], &[]);
        assert!(!format!("{config:?}").contains(secret), "{config:?}");
        // A URL the driver refuses is reported without being repeated.
        let lines = errors(None, &[("DATABASE_URL", &format!("postgres://app:{secret}@db:port/jobs"))], &[]);
        assert_eq!(lines.len(), 1, "{lines:#?}");
        assert!(lines[0].starts_with("database_url: ") && !lines[0].contains(secret), "{}", lines[0]);
    }

    #[test]
    fn a_push_targets_query_values_never_show() {
        fn check(url: &str, shown: &str) {
            let target = PushTarget::parse(url).unwrap();
            assert_eq!(target.to_string(), shown, "{url}");
            assert!(format!("{target:?}").contains(shown), "{target:?}");
            assert_eq!(target.url().as_str(), url, "requests go to the whole URL");
        }
        check("https://app.example/hook?token=s3cret&team=ops", "https://app.example/hook?token=***&team=***");
        check("http://127.0.0.1:9000/jobs?s3cret", "http://127.0.0.1:9000/jobs?***");
        check("https://app.example/hook?a=1&&b", "https://app.example/hook?a=***&&***");
        check("https://app.example/hook#s3cret", "https://app.example/hook#***");
        check("https://app.example/hook", "https://app.example/hook");
        check("https://app.example/hook?", "https://app.example/hook?");
        // Refused targets are quoted with their query values hidden too.
        for bad in
            ["ftp://a.example/x?token=s3cret", "https://user:pw@b.example/?token=s3cret", "not a url?token=s3cret"]
        {
            let e = PushTarget::parse(bad).unwrap_err();
            assert!(e.contains("token=***") && !e.contains("s3cret"), "{bad}: {e}");
        }
    }
}
