//! nginx `auth_request` in front of an app, end to end: a real `rampart
//! serve`, a real nginx running the shipped `docs/nginx/rampart-gate.conf`
//! (only its addresses and key filled in), and clients on their own
//! loopback addresses. The 11th request in 5 minutes from one client IP
//! gets a real `429` with `Retry-After`; the first 10 reach the app.
//!
//! nginx is Debian's `/usr/sbin/nginx` (`nginx-light`, which `.ci/run`
//! installs when missing). Without it the test prints `skipped: nginx not
//! installed` and passes, except under `CI=true`, where it fails.

use std::net::{IpAddr, TcpListener};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use rampart_client::wire::KeyCreateRequest;
use rampart_core::auth::Role;
use serde_json::{Value, json};

use crate::harness::{Process, TestServer, eventually};

const NGINX: &str = "/usr/sbin/nginx";

/// The example configuration, as shipped.
const EXAMPLE: &str = include_str!("../../../../docs/nginx/rampart-gate.conf");

/// rampart as the example expects it: nginx on 127.0.0.1 trusted; the
/// policy the example names, `oauth`, is a preset.
const RAMPART_CONFIG: &str = r#"
[ratelimit]
trusted_proxies = ["127.0.0.1"]
"#;

/// A free address on a loopback IP of its own (bound, then released): a
/// port released here could be taken by a parallel test before nginx binds
/// it, but not on an address of 127.0.0.0/8 that no other test uses.
fn free_addr() -> std::net::SocketAddr {
    use std::hash::{BuildHasher as _, Hasher as _};
    let random = std::collections::hash_map::RandomState::new().build_hasher().finish().to_le_bytes();
    // 127.a.b.c with a ≥ 16, clear of the 127.0.0.x addresses tests use as clients.
    let ip = std::net::Ipv4Addr::new(127, 16 + random[0] % 200, random[1], 1 + random[2] % 250);
    TcpListener::bind((ip, 0)).and_then(|l| l.local_addr()).expect("a free address")
}

/// `text` with `from` replaced by `to`, which must be there exactly once.
fn fill(text: &str, from: &str, to: &str) -> String {
    assert_eq!(text.matches(from).count(), 1, "the nginx example should hold `{from}` once");
    text.replace(from, to)
}

/// A running nginx with its prefix directory; killed on drop.
struct Nginx {
    // Declared before `dir`: nginx dies before its directory is removed.
    process: Process,
    dir: tempfile::TempDir,
    url: String,
}

impl Nginx {
    /// Starts nginx on the example, pointed at `rampart` with `key`, in front
    /// of an app (a second server block that answers `200 app`).
    async fn start(rampart: &str, key: &str) -> Nginx {
        let dir = tempfile::tempdir().expect("temp dir");
        let (addr, app_addr) = (free_addr(), free_addr());
        let rampart_addr = rampart.strip_prefix("http://").expect("an http URL");
        let example = fill(EXAMPLE, "server 127.0.0.1:7433;", &format!("server {rampart_addr};"));
        let example = fill(&example, "server 127.0.0.1:3000;", &format!("server {app_addr};"));
        let example = fill(&example, "listen 80;", &format!("listen {addr};"));
        let example = fill(&example, "Bearer RAMPART_API_KEY", &format!("Bearer {key}"));
        std::fs::write(dir.path().join("rampart-gate.conf"), example).expect("write the example");

        let path = dir.path().display();
        // As root, nginx would hand its workers to `nobody`: keep them ours.
        let user = if is_root(dir.path()) { "user root;" } else { "" };
        let conf = format!(
            r#"
{user}
worker_processes 1;
events {{ worker_connections 256; }}
http {{
    access_log {path}/access.log;
    client_body_temp_path {path}/client_body;
    proxy_temp_path {path}/proxy;
    fastcgi_temp_path {path}/fastcgi;
    uwsgi_temp_path {path}/uwsgi;
    scgi_temp_path {path}/scgi;
    include {path}/rampart-gate.conf;
    server {{
        listen {app_addr};
        location / {{
            add_header X-Upstream app;
            return 200 "app\n";
        }}
    }}
}}
"#
        );
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, conf).expect("write nginx.conf");
        let globals = format!("daemon off; pid {path}/nginx.pid; error_log {path}/error.log;");
        let mut command = Command::new(NGINX);
        command.arg("-p").arg(dir.path()).arg("-c").arg(&conf_path).arg("-g").arg(globals);
        let mut process = Process::spawn("nginx", command);

        let url = format!("http://{addr}");
        let http = reqwest::Client::new();
        let error_log = dir.path().join("error.log");
        eventually("nginx to answer", || {
            assert!(process.is_running(), "nginx exited:\n{}\n{}", process.stderr(), read(&error_log));
            let probe = http.get(format!("{url}/not-gated")).send();
            async move { probe.await.ok().map(|_| ()) }
        })
        .await;
        Nginx { process, dir, url }
    }

    /// nginx's error log so far.
    fn error_log(&self) -> String {
        read(&self.dir.path().join("error.log"))
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("----- nginx error.log -----\n{}", self.error_log());
        }
        self.process.kill();
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Whether this process runs as root: the owner of a file it just created.
fn is_root(dir: &Path) -> bool {
    let probe: PathBuf = dir.join("whoami");
    std::fs::write(&probe, "").expect("write a probe file");
    std::fs::metadata(&probe).expect("stat the probe file").uid() == 0
}

/// What a client got.
struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

/// A client on its own loopback address, as nginx sees it.
fn client(ip: &str) -> reqwest::Client {
    let ip: IpAddr = ip.parse().expect("an IP");
    reqwest::Client::builder().local_address(ip).build().expect("an HTTP client")
}

async fn get(client: &reqwest::Client, url: &str, headers: &[(&str, &str)]) -> Reply {
    let mut request = client.get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap_or_else(|e| panic!("GET {url} failed: {e}"));
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    let body = response.text().await.expect("a body");
    Reply { status, headers, body }
}

/// Whether nginx is here; prints that the test skipped when not, and fails
/// under `CI=true`.
fn nginx_installed() -> bool {
    if Path::new(NGINX).exists() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "nginx is not installed at {NGINX} (CI=true: this test needs it; `apt-get install nginx-light`)"
    );
    eprintln!("skipped: nginx not installed");
    false
}

#[tokio::test]
async fn the_eleventh_request_in_five_minutes_from_one_ip_gets_429_through_nginx() {
    if !nginx_installed() {
        return;
    }
    let server = TestServer::builder().config(RAMPART_CONFIG).start().await;
    let created = server
        .client()
        .key_create(&KeyCreateRequest { name: "nginx-gate".into(), role: Role::Producer })
        .await
        .expect("create nginx's key");
    let nginx = Nginx::start(server.url(), &created.key).await;
    let callback = format!("{}/oauth/callback?code=abc", nginx.url);

    let alice = client("127.0.0.5");
    for i in 1..=10u32 {
        // What the client claims about itself changes nothing.
        let a = get(&alice, &callback, &[("x-forwarded-for", "198.51.100.1")]).await;
        assert_eq!((a.status, a.body.as_str()), (200, "app\n"), "request {i} reaches the app: {}", nginx.error_log());
        assert_eq!(a.header("x-upstream"), "app");
        assert_eq!(a.header("x-ratelimit-limit"), "10");
        assert_eq!(a.header("x-ratelimit-remaining"), (10 - i).to_string());
        assert_eq!(a.header("ratelimit-policy"), "\"oauth\";q=10;w=300");
        assert_eq!(a.header("retry-after"), "");
    }
    let denied = get(&alice, &callback, &[]).await;
    assert_eq!(denied.status, 429, "the 11th request: {} {}", denied.body, nginx.error_log());
    let retry: u64 = denied.header("retry-after").parse().expect("Retry-After in seconds");
    // The sliding window admits the next one once the ten weigh at most
    // nine: 10% (30 s) into the next aligned window, so at most 330 s away.
    assert!((1..=330).contains(&retry), "Retry-After {retry} past the 5-minute window's weighting");
    assert_eq!(denied.header("x-upstream"), "", "a denied request never reaches the app");
    assert_eq!((denied.header("x-ratelimit-limit"), denied.header("x-ratelimit-remaining")), ("10", "0"));
    assert!(denied.header("content-type").starts_with("application/json"), "{:?}", denied.headers);
    let body: Value = serde_json::from_str(&denied.body).expect("a JSON body");
    assert_eq!(
        body,
        json!({"error": {"code": "RATE_LIMIT_EXCEEDED", "message": "Too many requests. Please wait a moment."}, "retry_after_s": retry})
    );
    let spoofing = get(&alice, &callback, &[("x-forwarded-for", "198.51.100.2")]).await;
    assert_eq!(spoofing.status, 429, "X-Forwarded-For from the client is not believed");
    assert!(!nginx.error_log().contains("auth request unexpected status"), "{}", nginx.error_log());

    let bob = get(&client("127.0.0.6"), &callback, &[]).await;
    assert_eq!((bob.status, bob.header("x-ratelimit-remaining")), (200, "9"), "another client IP has its own count");

    // rampart counted the client's address, as nginx saw it.
    let state = reqwest::Client::new()
        .get(format!("{}/v1/ratelimit/policies/oauth/keys/127.0.0.5", server.url()))
        .bearer_auth(server.api_key())
        .send()
        .await
        .expect("the key's state");
    let state: Value = state.json().await.expect("a JSON body");
    assert_eq!((&state["remaining"], &state["fresh"]), (&json!(0), &json!(false)), "{state}");
}

#[tokio::test]
async fn a_gate_refusing_nginxs_key_is_a_server_error_not_a_rate_limit() {
    if !nginx_installed() {
        return;
    }
    let server = TestServer::builder().config(RAMPART_CONFIG).start().await;
    let nginx = Nginx::start(server.url(), "rk_not_a_key").await;
    let a = get(&client("127.0.0.5"), &format!("{}/oauth/callback", nginx.url), &[]).await;
    assert_eq!(a.status, 500, "rampart answered 401: the client is not to blame");
    assert_eq!((a.header("x-upstream"), a.header("retry-after")), ("", ""));
}
