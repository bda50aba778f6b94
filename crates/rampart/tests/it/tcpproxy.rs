//! A TCP proxy between the nodes under test and a service they use
//! (PostgreSQL, Redis), which a test cuts to take the service away and
//! restores to bring it back.
//!
//! [`TcpProxy::start`] listens on `127.0.0.1:0` and forwards every connection
//! to the service's address. [`TcpProxy::cut`] closes every live connection
//! and from then on closes each new one as soon as it is accepted, as a lost
//! network or a restarting database would; [`TcpProxy::restore`] forwards new
//! connections again. The proxy runs on a thread and runtime of its own, so
//! it keeps forwarding whatever the test's runtime is doing, and it stops,
//! closing every connection, when dropped.

use std::net::{SocketAddr, ToSocketAddrs as _};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};

/// A cuttable TCP forwarder to one server.
pub struct TcpProxy {
    addr: SocketAddr,
    /// `true` while cut.
    cut: watch::Sender<bool>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TcpProxy {
    /// Starts forwarding to the host and port of the database URL `url`.
    pub fn for_postgres(url: &str) -> TcpProxy {
        TcpProxy::start(upstream(url))
    }

    /// Starts forwarding to `upstream`.
    pub fn start(upstream: SocketAddr) -> TcpProxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        listener.set_nonblocking(true).expect("a non-blocking listener");
        let addr = listener.local_addr().expect("the proxy's address");
        let (cut, cut_rx) = watch::channel(false);
        let (stop, stop_rx) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("tcpproxy".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
                runtime.block_on(async move {
                    let listener = TcpListener::from_std(listener).expect("a tokio listener");
                    tokio::select! {
                        _ = stop_rx => {}
                        () = accept(listener, upstream, cut_rx) => {}
                    }
                });
                // Dropping the runtime drops every connection task and its sockets.
            })
            .expect("start the proxy thread");
        TcpProxy { addr, cut, stop: Some(stop), thread: Some(thread) }
    }

    /// Where the proxy listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `url` (a `postgres://` URL) with its host and port replaced by the proxy's.
    pub fn url_for(&self, url: &str) -> String {
        with_address(url, self.addr)
    }

    /// Closes every live connection and every new one from now on.
    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    /// Forwards new connections again.
    pub fn restore(&self) {
        self.cut.send_replace(false);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Accepts connections until the proxy stops: each is forwarded, or closed
/// at once while the proxy is cut.
async fn accept(listener: TcpListener, upstream: SocketAddr, cut: watch::Receiver<bool>) {
    loop {
        match listener.accept().await {
            Ok((client, _)) if *cut.borrow() => drop(client),
            Ok((client, _)) => {
                tokio::spawn(forward(client, upstream, cut.clone()));
            }
            Err(e) => {
                // E.g. out of file descriptors: back off rather than spin.
                eprintln!("tcpproxy: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Copies bytes both ways until either side closes or the proxy is cut;
/// then both sockets are dropped, which closes them.
async fn forward(mut client: TcpStream, upstream: SocketAddr, mut cut: watch::Receiver<bool>) {
    let Ok(mut server) = TcpStream::connect(upstream).await else { return };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        // Checks the current value first: a cut since the accept is seen too.
        _ = cut.wait_for(|cut| *cut) => {}
    }
}

/// The socket address of the database URL's (first) host and port.
fn upstream(url: &str) -> SocketAddr {
    let config: tokio_postgres::Config = url.parse().unwrap_or_else(|e| panic!("`{url}` is not a database URL: {e}"));
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        other => panic!("the proxy needs a TCP host in `{url}`, not {other:?}"),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    (host.as_str(), port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .unwrap_or_else(|| panic!("cannot resolve {host}:{port}"))
}

/// `url` with the `host[:port]` after `://` and any `user@` replaced by `addr`.
fn with_address(url: &str, addr: SocketAddr) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    let end = url[start..].find(['/', '?']).map_or(url.len(), |i| start + i);
    let host_start = url[start..end].rfind('@').map_or(start, |i| start + i + 1);
    format!("{}{addr}{}", &url[..host_start], &url[end..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_of_a_url_is_replaced() {
        let addr: SocketAddr = "127.0.0.1:6000".parse().expect("an address");
        let check = |url: &str, expected: &str| assert_eq!(with_address(url, addr), expected, "{url}");
        check("postgres://postgres@127.0.0.1:5432/db", "postgres://postgres@127.0.0.1:6000/db");
        check("postgres://u:p@w@localhost/db?sslmode=disable", "postgres://u:p@w@127.0.0.1:6000/db?sslmode=disable");
        check("postgresql://db.example:5433", "postgresql://127.0.0.1:6000");
    }
}
