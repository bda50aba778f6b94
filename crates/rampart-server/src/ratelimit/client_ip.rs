//! The client IP of a request, as a policy keyed on `ip` counts it.
//!
//! The TCP peer is the client unless it is one of `ratelimit.trusted_proxies`.
//! A trusted peer speaks for the client through `X-Forwarded-For`, which each
//! proxy extends on the right with the address it saw, so the header is read
//! from the right: every entry written by a trusted proxy is skipped, and the
//! first address that is not a trusted proxy is the client. Entries further
//! left were written by the client itself and are never believed.
//!
//! The edge cases, each decided towards "never let a client choose its key":
//!
//! - an entry that is not an address (`unknown`, a hostname, an obfuscated
//!   `_id`, a zone id) ends the walk: the client is the last trusted hop that
//!   passed it on, since anything left of it cannot be vouched for;
//! - when every entry is a trusted proxy, the client is the left-most one
//!   (a request made from inside the trusted network);
//! - `X-Real-IP` is read only from a trusted peer, and only when it sent no
//!   `X-Forwarded-For`: proxies configured with `proxy_set_header X-Real-IP
//!   $remote_addr` alone work too;
//! - entries may carry a port (`203.0.113.7:4711`, `[2001:db8::1]:443`) or
//!   brackets, several header lines count as one list, and an IPv4 address
//!   written as IPv6 (`::ffff:203.0.113.7`) is the IPv4 address, for trust
//!   and as the key alike.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Extensions, HeaderMap, HeaderName};

use crate::config::IpNet;

/// `X-Forwarded-For`: the chain of addresses proxies saw, client first.
pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
/// `X-Real-IP`: the client address, as one proxy saw it.
pub const X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");

/// The TCP peer of a request: axum's `ConnectInfo<SocketAddr>`, set when the
/// app is served with `into_make_service_with_connect_info::<SocketAddr>()`,
/// else a `MockConnectInfo<SocketAddr>` layer's (tests); `None` without either.
pub fn peer_addr(extensions: &Extensions) -> Option<SocketAddr> {
    match extensions.get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(addr)) => Some(*addr),
        None => extensions.get::<MockConnectInfo<SocketAddr>>().map(|MockConnectInfo(addr)| *addr),
    }
}

/// The client IP of a request from `peer` with `headers`, believing only the
/// `trusted` proxies (see the module documentation).
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = peer.to_canonical();
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let mut forwarded = headers.get_all(X_FORWARDED_FOR).iter().peekable();
    if forwarded.peek().is_none() {
        return headers.get(X_REAL_IP).and_then(|v| parse_entry(v.to_str().ok()?)).unwrap_or(peer);
    }
    let lines: Vec<_> = forwarded.collect();
    // The last trusted hop passed so far: the client when the walk stops.
    let mut nearest = peer;
    for line in lines.iter().rev() {
        // A line that is not text is garbage like any other.
        let Ok(line) = line.to_str() else {
            return nearest;
        };
        for entry in line.rsplit(',').map(str::trim) {
            if entry.is_empty() {
                // `a,,b` or a trailing comma: nothing was written there.
                continue;
            }
            let Some(ip) = parse_entry(entry) else {
                return nearest;
            };
            if !is_trusted(ip) {
                return ip;
            }
            nearest = ip;
        }
    }
    nearest
}

/// One `X-Forwarded-For` entry as an address: `1.2.3.4`, `1.2.3.4:80`,
/// `2001:db8::1`, `[2001:db8::1]` or `[2001:db8::1]:443`.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    let ip = match entry.parse::<IpAddr>() {
        Ok(ip) => ip,
        Err(_) => match entry.parse::<SocketAddr>() {
            Ok(addr) => addr.ip(),
            Err(_) => entry.strip_prefix('[')?.strip_suffix(']')?.parse().ok()?,
        },
    };
    Some(ip.to_canonical())
}

/// `X-Forwarded-Proto`: the scheme the client-facing proxy received.
pub const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
/// `X-Forwarded-Host`: the `Host` the client-facing proxy received.
pub const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// The URL the client of a request called, without its query: `http://`
/// and the `Host` header as received, or, from a `trusted` proxy, the
/// scheme and host it says it received (`X-Forwarded-Proto`,
/// `X-Forwarded-Host`; of a list, the left-most entry, the client-facing
/// proxy's). `None` when the host is missing or not a plain host and port,
/// or the scheme is not `http` or `https`.
pub fn forwarded_url(peer: Option<IpAddr>, headers: &HeaderMap, path: &str, trusted: &[IpNet]) -> Option<String> {
    let from_proxy = peer.is_some_and(|peer| trusted.iter().any(|net| net.contains(peer.to_canonical())));
    let first = |name: HeaderName| {
        let value = headers.get(name)?.to_str().ok()?;
        Some(value.split(',').next().unwrap_or_default().trim().to_string())
    };
    let forwarded = |name| if from_proxy { first(name) } else { None };
    let scheme = forwarded(X_FORWARDED_PROTO).unwrap_or_else(|| "http".to_string()).to_ascii_lowercase();
    let host = forwarded(X_FORWARDED_HOST).or_else(|| first(axum::http::header::HOST))?;
    let plain_host = !host.is_empty()
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']' | b'_'));
    (matches!(scheme.as_str(), "http" | "https") && plain_host).then(|| format!("{scheme}://{host}{path}"))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    /// The client IP of a request from `peer`, with `headers` as
    /// (name, value) lines, under `trusted`, must be `expected`.
    fn check(peer: &str, headers: &[(&str, &str)], trusted: &[&str], expected: &str) {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(value).unwrap());
        }
        let got = client_ip(peer.parse().unwrap(), &map, &nets(trusted));
        assert_eq!(got, expected.parse::<IpAddr>().unwrap(), "peer {peer}, headers {headers:?}, trusted {trusted:?}");
    }

    const XFF: &str = "x-forwarded-for";

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        check("203.0.113.7", &[], &[], "203.0.113.7");
        check("203.0.113.7", &[(XFF, "198.51.100.1")], &[], "203.0.113.7");
        check("203.0.113.7", &[(XFF, "198.51.100.1")], &["10.0.0.0/8"], "203.0.113.7");
        check("203.0.113.7", &[("x-real-ip", "198.51.100.1")], &["127.0.0.1"], "203.0.113.7");
        check("2001:db8::7", &[(XFF, "2001:db8::1")], &["127.0.0.1", "::1"], "2001:db8::7");
    }

    #[test]
    fn a_trusted_peer_names_the_client_in_x_forwarded_for() {
        check("127.0.0.1", &[(XFF, "203.0.113.7")], &["127.0.0.1"], "203.0.113.7");
        check("::1", &[(XFF, "2001:db8::7")], &["::1"], "2001:db8::7");
        check("10.1.2.3", &[(XFF, "2001:db8::7")], &["10.0.0.0/8"], "2001:db8::7");
        // A trusted peer without the header is the client.
        check("127.0.0.1", &[], &["127.0.0.1"], "127.0.0.1");
    }

    #[test]
    fn a_spoofed_entry_left_of_the_proxy_is_ignored() {
        // The client sent `X-Forwarded-For: 1.1.1.1`; nginx appended what it saw.
        check("127.0.0.1", &[(XFF, "1.1.1.1, 203.0.113.7")], &["127.0.0.1"], "203.0.113.7");
        check("127.0.0.1", &[(XFF, "1.1.1.1"), (XFF, "203.0.113.7")], &["127.0.0.1"], "203.0.113.7");
        // A client claiming to be a trusted proxy gets no further.
        check("127.0.0.1", &[(XFF, "1.1.1.1, 10.0.0.9, 203.0.113.7")], &["127.0.0.1", "10.0.0.0/8"], "203.0.113.7");
    }

    #[test]
    fn several_proxies_are_walked_from_the_right() {
        let trusted = ["127.0.0.1", "10.0.0.0/8", "fd00::/8"];
        check("127.0.0.1", &[(XFF, "203.0.113.7, 10.0.0.2, 10.0.0.1")], &trusted, "203.0.113.7");
        check("127.0.0.1", &[(XFF, "203.0.113.7,10.0.0.2"), (XFF, "fd00::1")], &trusted, "203.0.113.7");
        check("127.0.0.1", &[(XFF, "2001:db8::9, fd00::1, 10.9.9.9")], &trusted, "2001:db8::9");
        // Every hop trusted: the left-most, where the request started.
        check("127.0.0.1", &[(XFF, "10.0.0.5, 10.0.0.2")], &trusted, "10.0.0.5");
    }

    #[test]
    fn mapped_ipv4_addresses_are_ipv4() {
        check("::ffff:127.0.0.1", &[(XFF, "203.0.113.7")], &["127.0.0.1"], "203.0.113.7");
        check("::ffff:203.0.113.7", &[], &[], "203.0.113.7");
        check("127.0.0.1", &[(XFF, "::ffff:203.0.113.7")], &["127.0.0.1"], "203.0.113.7");
        check("127.0.0.1", &[(XFF, "203.0.113.7, ::ffff:10.0.0.1")], &["127.0.0.1", "10.0.0.0/8"], "203.0.113.7");
    }

    #[test]
    fn ports_and_brackets_are_read() {
        let trusted = ["127.0.0.1"];
        check("127.0.0.1", &[(XFF, "203.0.113.7:4711")], &trusted, "203.0.113.7");
        check("127.0.0.1", &[(XFF, "[2001:db8::7]:443")], &trusted, "2001:db8::7");
        check("127.0.0.1", &[(XFF, "[2001:db8::7]")], &trusted, "2001:db8::7");
        check("127.0.0.1", &[(XFF, " 203.0.113.7 ,, ")], &trusted, "203.0.113.7");
    }

    #[test]
    fn garbage_ends_the_walk_at_the_last_trusted_hop() {
        let trusted = ["127.0.0.1", "10.0.0.0/8"];
        // Garbage written by the proxy itself: keyed on the proxy.
        check("127.0.0.1", &[(XFF, "unknown")], &trusted, "127.0.0.1");
        check("127.0.0.1", &[(XFF, "203.0.113.7, not-an-ip")], &trusted, "127.0.0.1");
        // Garbage further left cannot hide the client a trusted hop saw.
        check("127.0.0.1", &[(XFF, "junk, 203.0.113.7")], &trusted, "203.0.113.7");
        // A trusted hop that passed garbage on is the nearest known address.
        check("127.0.0.1", &[(XFF, "203.0.113.7, _hidden, 10.0.0.2")], &trusted, "10.0.0.2");
        check("127.0.0.1", &[(XFF, "fe80::1%eth0")], &trusted, "127.0.0.1");
        check("127.0.0.1", &[(XFF, "1.2.3.4.5"), (XFF, "")], &trusted, "127.0.0.1");
        check("127.0.0.1", &[(XFF, "[203.0.113.7")], &trusted, "127.0.0.1");
    }

    #[test]
    fn x_real_ip_counts_only_from_a_trusted_peer_without_x_forwarded_for() {
        let trusted = ["127.0.0.1"];
        check("127.0.0.1", &[("x-real-ip", "203.0.113.7")], &trusted, "203.0.113.7");
        check("127.0.0.1", &[("x-real-ip", "2001:db8::7")], &trusted, "2001:db8::7");
        check("127.0.0.1", &[("x-real-ip", "garbage")], &trusted, "127.0.0.1");
        check("127.0.0.1", &[("x-real-ip", "198.51.100.1"), (XFF, "203.0.113.7")], &trusted, "203.0.113.7");
    }

    #[test]
    fn a_header_that_is_not_text_ends_the_walk() {
        let mut map = HeaderMap::new();
        map.append(X_FORWARDED_FOR, HeaderValue::from_bytes(b"203.0.113.7").unwrap());
        map.append(X_FORWARDED_FOR, HeaderValue::from_bytes(b"\xff\xfe").unwrap());
        let got = client_ip("127.0.0.1".parse().unwrap(), &map, &nets(&["127.0.0.1"]));
        // Skipping the unreadable line would believe what the client wrote before it.
        assert_eq!(got, "127.0.0.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn the_peer_comes_from_connect_info_or_its_mock() {
        let addr: SocketAddr = "203.0.113.7:4711".parse().unwrap();
        let mut extensions = Extensions::new();
        assert_eq!(peer_addr(&extensions), None);
        extensions.insert(MockConnectInfo(addr));
        assert_eq!(peer_addr(&extensions), Some(addr));
        let real: SocketAddr = "198.51.100.1:80".parse().unwrap();
        extensions.insert(ConnectInfo(real));
        assert_eq!(peer_addr(&extensions), Some(real), "the real connection wins");
    }

    #[test]
    fn the_called_url_believes_forwarded_headers_from_trusted_proxies_only() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let proxy: Option<IpAddr> = Some("10.1.2.3".parse().unwrap());
        let stranger: Option<IpAddr> = Some("203.0.113.7".parse().unwrap());
        let mut h = HeaderMap::new();
        h.insert("host", "rampart.internal:7433".parse().unwrap());
        let url = |peer, h: &HeaderMap| forwarded_url(peer, h, "/in/sms", &trusted);
        assert_eq!(url(proxy, &h).as_deref(), Some("http://rampart.internal:7433/in/sms"));
        h.insert("x-forwarded-proto", "https".parse().unwrap());
        h.insert("x-forwarded-host", "example.com, rampart.internal".parse().unwrap());
        assert_eq!(url(proxy, &h).as_deref(), Some("https://example.com/in/sms"));
        assert_eq!(url(stranger, &h).as_deref(), Some("http://rampart.internal:7433/in/sms"), "not believed");
        h.insert("x-forwarded-host", "evil.example/path@x".parse().unwrap());
        assert_eq!(url(proxy, &h), None, "not a plain host");
        h.insert("x-forwarded-host", "example.com".parse().unwrap());
        h.insert("x-forwarded-proto", "gopher".parse().unwrap());
        assert_eq!(url(proxy, &h), None);
        assert_eq!(url(stranger, &HeaderMap::new()), None, "no Host at all");
    }
}
