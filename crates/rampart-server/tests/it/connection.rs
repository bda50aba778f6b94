//! The HTTP edge over real TCP, with raw bytes: a real [`Server`] on
//! 127.0.0.1, clients that trickle or idle, too many connections, and
//! requests the framework refuses before any route runs. Timeouts are set
//! short (about a second) so each test waits on the server cutting a
//! client, with a bound far beyond them.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rampart_server::config::{Config, HttpConfig};
use rampart_server::server::Server;
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

/// Far beyond any timeout these tests set: a connection not cut by then never will be.
const PATIENCE: Duration = Duration::from_secs(30);

/// A server serving on a port of its own until dropped.
struct Running {
    addr: SocketAddr,
    key: String,
    _stop: oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

impl Running {
    async fn start(http: HttpConfig) -> Running {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.path().to_path_buf(),
            http,
            shutdown_grace: Duration::ZERO,
            ..Config::default()
        };
        let server = Server::start(config).await.unwrap();
        let addr = server.local_addr();
        let key = std::fs::read_to_string(dir.path().join("admin.key")).unwrap().trim().to_string();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(server.run(async move {
            let _ = stopped.await;
        }));
        Running { addr, key, _stop: stop, _dir: dir }
    }

    async fn connect(&self) -> TcpStream {
        TcpStream::connect(self.addr).await.unwrap()
    }

    /// Sends `request` on a new connection and reads the answer until the server closes it.
    async fn raw(&self, request: &[u8]) -> Answer {
        let mut tcp = self.connect().await;
        tcp.write_all(request).await.unwrap();
        let mut bytes = Vec::new();
        tokio::time::timeout(PATIENCE, tcp.read_to_end(&mut bytes)).await.expect("the server closes").ok();
        Answer::parse(&bytes)
    }
}

/// An HTTP/1.1 answer read off the wire.
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Answer {
    fn parse(bytes: &[u8]) -> Answer {
        let end = bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(bytes.len());
        let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
        let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let body = bytes.get(end + 4..).unwrap_or_default().to_vec();
        Answer { status, head, body }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then_some(v.trim())
        })
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The error code of a standard error body, checked to be JSON.
    fn code(&self) -> String {
        assert!(
            self.header("content-type").is_some_and(|t| t.starts_with("application/json")),
            "a JSON error body: {self:?}"
        );
        let message = self.json()["error"]["message"].as_str().unwrap_or("").to_string();
        assert!(!message.is_empty(), "an error message: {self:?}");
        self.json()["error"]["code"].as_str().unwrap_or("").to_string()
    }
}

/// Reads whatever comes until the server closes the connection, failing
/// the test if it has not after [`PATIENCE`]; answers what was read.
async fn until_closed(tcp: &mut TcpStream) -> Vec<u8> {
    let started = Instant::now();
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = PATIENCE.checked_sub(started.elapsed()).expect("the server never closed the connection");
        match tokio::time::timeout(left, tcp.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return bytes,
            Ok(Ok(n)) => bytes.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the server never closed the connection; read {:?}", String::from_utf8_lossy(&bytes)),
        }
    }
}

/// Short limits, with the one a test looks at set by the caller.
fn short() -> HttpConfig {
    HttpConfig {
        header_read_timeout: Duration::from_secs(1),
        body_read_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(1),
        max_connections: 100,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_trickling_its_head_is_cut_after_the_header_read_timeout() {
    let server = Running::start(HttpConfig { idle_timeout: Duration::from_secs(3600), ..short() }).await;
    let mut tcp = server.connect().await;
    tcp.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    // One header byte every 200 ms, until the server has cut the connection.
    let (mut read, mut write) = tcp.into_split();
    let trickle = tokio::spawn(async move {
        while write.write_all(b"X").await.is_ok() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let mut rest = Vec::new();
    let read_all = tokio::time::timeout(PATIENCE, read.read_to_end(&mut rest)).await;
    assert!(read_all.is_ok(), "the server never cut the trickling client");
    assert!(rest.is_empty(), "a head that never ends is not answered: {:?}", String::from_utf8_lossy(&rest));
    trickle.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_body_answers_408_and_the_connection_closes() {
    let server = Running::start(short()).await;
    let mut tcp = server.connect().await;
    let head = format!(
        "POST /v1/queues/q/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"payload\":",
        server.key
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let (mut read, mut write) = tcp.into_split();
    let trickle = tokio::spawn(async move {
        while write.write_all(b" ").await.is_ok() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let mut bytes = Vec::new();
    let read_all = tokio::time::timeout(PATIENCE, read.read_to_end(&mut bytes)).await;
    assert!(read_all.is_ok(), "the server never cut the trickled body");
    let answer = Answer::parse(&bytes);
    assert_eq!((answer.status, answer.code().as_str()), (408, "REQUEST_TIMEOUT"), "{answer:?}");
    assert!(String::from_utf8_lossy(&answer.body).contains("body_read_timeout"), "{answer:?}");
    trickle.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout_not_the_header_one() {
    let server = Running::start(HttpConfig {
        header_read_timeout: Duration::from_millis(300),
        idle_timeout: Duration::from_secs(2),
        ..short()
    })
    .await;
    let mut tcp = server.connect().await;
    let request = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
    tcp.write_all(request).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tcp.read(&mut buf).await.unwrap();
    assert_eq!(Answer::parse(&buf[..n]).status, 200);
    // Longer than the header read timeout, well within the idle one: the
    // wait is the point (the header timeout must not run while idle).
    tokio::time::sleep(Duration::from_millis(900)).await;
    tcp.write_all(request).await.unwrap();
    let n = tcp.read(&mut buf).await.unwrap();
    assert_eq!(Answer::parse(&buf[..n]).status, 200, "the connection was still open");
    // Then, idle, it is closed.
    assert!(until_closed(&mut tcp).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_max_connections_a_new_connection_waits_until_one_closes() {
    let server =
        Running::start(HttpConfig { max_connections: 2, idle_timeout: Duration::from_secs(3600), ..short() }).await;
    let request = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut tcp = server.connect().await;
        tcp.write_all(request).await.unwrap();
        let mut buf = vec![0u8; 4096];
        let n = tcp.read(&mut buf).await.unwrap();
        assert_eq!(Answer::parse(&buf[..n]).status, 200);
        held.push(tcp);
    }
    let mut third = server.connect().await;
    third.write_all(request).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let early = tokio::time::timeout(Duration::from_millis(500), third.read(&mut buf)).await;
    assert!(early.is_err(), "a third connection is not served while two are open");
    drop(held.pop());
    let n = tokio::time::timeout(PATIENCE, third.read(&mut buf)).await.expect("served once one closed").unwrap();
    assert_eq!(Answer::parse(&buf[..n]).status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_frameworks_own_refusals_answer_the_standard_json_error() {
    let server = Running::start(HttpConfig::default()).await;
    let auth = format!("Authorization: Bearer {}\r\n", server.key);

    let a = server.raw(b"DELETE /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    assert_eq!((a.status, a.code().as_str()), (405, "METHOD_NOT_ALLOWED"), "{a:?}");
    assert!(a.header("allow").is_some_and(|v| v.contains("GET")), "{a:?}");

    let a = server
        .raw(format!("GET /v1/queues/%FF%FE HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n").as_bytes())
        .await;
    assert_eq!((a.status, a.code().as_str()), (400, "INVALID_PATH"), "{a:?}");

    let long = "a".repeat(10_000);
    let a = server
        .raw(format!("GET /v1/queues/{long} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n").as_bytes())
        .await;
    assert_eq!((a.status, a.code().as_str()), (414, "URI_TOO_LONG"), "{a:?}");
    assert!(a.json()["error"]["message"].as_str().unwrap().contains("8192"), "{a:?}");

    let big = "b".repeat(70_000);
    let a = server
        .raw(format!("GET /health HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\nConnection: close\r\n\r\n").as_bytes())
        .await;
    assert_eq!((a.status, a.code().as_str()), (431, "HEADERS_TOO_LARGE"), "{a:?}");

    // A HEAD answer never has a body, error or not.
    let a = server.raw(b"HEAD /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    assert_eq!(a.status, 404, "{a:?}");
    assert!(a.body.is_empty(), "{a:?}");

    // What hyper refuses before any of rampart runs (documented in the
    // README): the status alone, and the connection closed.
    let a = server.raw(b"GARBAGE\r\n\r\n").await;
    assert_eq!(a.status, 400, "{a:?}");
}
