//! The push target `push_target` runs: a minimal HTTP/1.1 endpoint on
//! `127.0.0.1` that answers every request `503` while failing and `204`
//! once healed, counting the requests it got. One request per connection
//! (`connection: close`): enough for a push delivery, nothing more.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// The largest request head read; a push delivery's is far smaller.
const MAX_HEAD: usize = 64 * 1024;

/// A local push target that fails until healed.
pub struct Target {
    /// Where it listens, `http://127.0.0.1:PORT/hook`.
    pub url: String,
    /// The breaker rampart keeps for it: `push:127.0.0.1:PORT`.
    pub breaker: String,
    healthy: Arc<AtomicBool>,
    requests: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl Target {
    /// Starts the target, failing.
    pub async fn start() -> Result<Target, String> {
        let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| format!("cannot bind the target: {e}"))?;
        let addr = listener.local_addr().map_err(|e| format!("the target's address: {e}"))?;
        let healthy = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn(serve(listener, healthy.clone(), requests.clone()));
        Ok(Target { url: format!("http://{addr}/hook"), breaker: format!("push:{addr}"), healthy, requests, task })
    }

    /// Answers `204` from now on.
    pub fn heal(&self) {
        self.healthy.store(true, Ordering::SeqCst);
    }

    /// The requests it got so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(listener: TcpListener, healthy: Arc<AtomicBool>, requests: Arc<AtomicU64>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    connections.spawn(answer(stream, healthy.clone(), requests.clone()));
                }
            }
            Some(_) = connections.join_next() => {}
        }
    }
}

/// Reads one request (head and `content-length` body) and answers it.
async fn answer(mut stream: TcpStream, healthy: Arc<AtomicBool>, requests: Arc<AtomicU64>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match stream.read(&mut chunk).await {
            Ok(n @ 1..) if buf.len() < MAX_HEAD => buf.extend_from_slice(&chunk[..n]),
            _ => return,
        }
    };
    let length = content_length(&String::from_utf8_lossy(&buf[..head_end]));
    while buf.len() < head_end + length {
        match stream.read(&mut chunk).await {
            Ok(n @ 1..) => buf.extend_from_slice(&chunk[..n]),
            _ => return,
        }
    }
    requests.fetch_add(1, Ordering::SeqCst);
    let status = if healthy.load(Ordering::SeqCst) { "204 No Content" } else { "503 Service Unavailable" };
    let response = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// The `content-length` of a request head, 0 when absent.
fn content_length(head: &str) -> usize {
    head.lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn post(url: &str) -> String {
        let addr = url.trim_start_matches("http://").split('/').next().unwrap_or_default().to_string();
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream.write_all(b"POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello").await.expect("write");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.expect("read");
        answer
    }

    #[tokio::test]
    async fn the_target_fails_until_healed_and_counts_requests() {
        let target = Target::start().await.expect("target");
        assert!(target.breaker.starts_with("push:127.0.0.1:"));
        assert!(post(&target.url).await.starts_with("HTTP/1.1 503"));
        target.heal();
        assert!(post(&target.url).await.starts_with("HTTP/1.1 204"));
        assert_eq!(target.requests(), 2);
    }

    #[test]
    fn the_content_length_is_read() {
        assert_eq!(content_length("POST / HTTP/1.1\r\nContent-Length: 12\r\n"), 12);
        assert_eq!(content_length("GET / HTTP/1.1\r\n"), 0);
    }
}
