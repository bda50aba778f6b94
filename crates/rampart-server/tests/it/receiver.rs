//! A real local HTTP receiver for channel tests: it records every request
//! (path, headers, body) and answers 200, or 500 for the first `fail_first`
//! requests, so tests see exactly what a channel sent and how it retried.
//! It speaks Slack's Web API too: `…/chat.postMessage` answers
//! `{"ok": true, "ts": …}` like Slack, and [`Receiver::script`] queues the
//! exact answers (a 429 with `Retry-After`, `"ok": false`) the next
//! requests get.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }
}

/// An answer queued for the next request.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

#[derive(Default)]
struct Log {
    received: Vec<Received>,
    fail_first: usize,
    script: VecDeque<Reply>,
}

/// The `ts` the receiver answers for its `n`-th request (1-based), as Slack would.
pub fn slack_ts(n: usize) -> String {
    format!("1800000000.{n:06}")
}

/// The receiver; dropping it stops the server.
pub struct Receiver {
    pub addr: SocketAddr,
    log: Arc<Mutex<Log>>,
    _server: tokio::task::JoinHandle<()>,
}

async fn record(State(log): State<Arc<Mutex<Log>>>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let mut log = log.lock().unwrap();
    let path = uri.path().to_string();
    log.received.push(Received { path: path.clone(), headers, body: body.to_vec() });
    let n = log.received.len();
    if let Some(reply) = log.script.pop_front() {
        let mut response = (StatusCode::from_u16(reply.status).unwrap(), reply.body).into_response();
        for (name, value) in reply.headers {
            response.headers_mut().insert(name, value.parse().unwrap());
        }
        return response;
    }
    if n <= log.fail_first {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    if path.ends_with("/chat.postMessage") {
        let body = serde_json::json!({"ok": true, "channel": "C0123ABCD", "ts": slack_ts(n)});
        return ([("content-type", "application/json")], body.to_string()).into_response();
    }
    StatusCode::OK.into_response()
}

impl Receiver {
    /// Starts a receiver that fails its first `fail_first` requests with 500.
    pub async fn start(fail_first: usize) -> Receiver {
        let log = Arc::new(Mutex::new(Log { fail_first, ..Log::default() }));
        let app = Router::new().fallback(record).with_state(log.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver { addr, log, _server: server }
    }

    /// The URL of `path` on this receiver.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Queues `reply` as the answer to the next request not yet answered.
    pub fn script(&self, reply: Reply) {
        self.log.lock().unwrap().script.push_back(reply);
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.log.lock().unwrap().received.clone()
    }
}
