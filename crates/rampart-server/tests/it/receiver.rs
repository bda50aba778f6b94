//! A real local HTTP receiver for channel tests: it records every request
//! (path, headers, body) and answers 200, or 500 for the first `fail_first`
//! requests, so tests see exactly what a channel sent and how it retried.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};

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

#[derive(Default)]
struct Log {
    received: Vec<Received>,
    fail_first: usize,
}

/// The receiver; dropping it stops the server.
pub struct Receiver {
    pub addr: SocketAddr,
    log: Arc<Mutex<Log>>,
    _server: tokio::task::JoinHandle<()>,
}

async fn record(State(log): State<Arc<Mutex<Log>>>, uri: Uri, headers: HeaderMap, body: Bytes) -> StatusCode {
    let mut log = log.lock().unwrap();
    log.received.push(Received { path: uri.path().to_string(), headers, body: body.to_vec() });
    if log.received.len() <= log.fail_first { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::OK }
}

impl Receiver {
    /// Starts a receiver that fails its first `fail_first` requests with 500.
    pub async fn start(fail_first: usize) -> Receiver {
        let log = Arc::new(Mutex::new(Log { received: Vec::new(), fail_first }));
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

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.log.lock().unwrap().received.clone()
    }
}
