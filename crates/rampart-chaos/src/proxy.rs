//! A TCP proxy in front of a store (PostgreSQL), which `store_cut` puts
//! between a throw-away server and the database and cuts.
//!
//! [`TcpProxy::start`] listens on `127.0.0.1:0` and forwards every
//! connection to the upstream address. [`TcpProxy::cut`] closes every live
//! connection and from then on each new one as soon as it is accepted, as a
//! lost network or a restarting database would; [`TcpProxy::restore`]
//! forwards new connections again. Dropping the proxy stops it and closes
//! every connection.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// A cuttable TCP forwarder to one server.
pub struct TcpProxy {
    addr: SocketAddr,
    /// `true` while cut.
    cut: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl TcpProxy {
    /// Starts forwarding to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Result<TcpProxy, String> {
        let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| format!("cannot bind the proxy: {e}"))?;
        let addr = listener.local_addr().map_err(|e| format!("the proxy's address: {e}"))?;
        let (cut, cut_rx) = watch::channel(false);
        let task = tokio::spawn(accept(listener, upstream, cut_rx));
        Ok(TcpProxy { addr, cut, task })
    }

    /// Where the proxy listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
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
        // Aborting the accept loop drops its set of connections, which aborts them.
        self.task.abort();
    }
}

/// Accepts connections until the proxy stops: each is forwarded, or closed
/// at once while the proxy is cut.
async fn accept(listener: TcpListener, upstream: SocketAddr, cut: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((client, _)) if *cut.borrow() => drop(client),
                Ok((client, _)) => {
                    connections.spawn(forward(client, upstream, cut.clone()));
                }
                // E.g. out of file descriptors: back off rather than spin.
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            },
            Some(_) = connections.join_next() => {}
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

/// `url` with the `host[:port]` after `://` (and any `user@` kept)
/// replaced by `addr`, and its path (the database) by `/database`.
pub fn rewrite_url(url: &str, addr: SocketAddr, database: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    let end = url[start..].find(['/', '?']).map_or(url.len(), |i| start + i);
    let host_start = url[start..end].rfind('@').map_or(start, |i| start + i + 1);
    let query = url[end..].find('?').map_or("", |i| &url[end + i..]);
    format!("{}{addr}/{database}{query}", &url[..host_start])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_and_database_of_a_url_are_replaced() {
        let addr: SocketAddr = "127.0.0.1:6000".parse().expect("an address");
        let check = |url: &str, expected: &str| assert_eq!(rewrite_url(url, addr, "x"), expected, "{url}");
        check("postgres://postgres@127.0.0.1:5432/db", "postgres://postgres@127.0.0.1:6000/x");
        check("postgres://u:p@w@localhost/db?sslmode=disable", "postgres://u:p@w@127.0.0.1:6000/x?sslmode=disable");
        check("postgresql://db.example:5433", "postgresql://127.0.0.1:6000/x");
    }

    #[tokio::test]
    async fn a_cut_closes_connections_and_a_restore_forwards_again() {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let echo = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let upstream = echo.local_addr().expect("address");
        tokio::spawn(async move {
            while let Ok((mut s, _)) = echo.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 16];
                    while let Ok(n @ 1..) = s.read(&mut buf).await {
                        let _ = s.write_all(&buf[..n]).await;
                    }
                });
            }
        });
        let proxy = TcpProxy::start(upstream).await.expect("proxy");
        let roundtrip = async || -> std::io::Result<Vec<u8>> {
            let mut s = TcpStream::connect(proxy.addr()).await?;
            s.write_all(b"hi").await?;
            let mut buf = vec![0u8; 2];
            s.read_exact(&mut buf).await?;
            Ok(buf)
        };
        assert_eq!(roundtrip().await.expect("forwarded"), b"hi");
        proxy.cut();
        assert!(roundtrip().await.is_err(), "a cut proxy closes new connections");
        proxy.restore();
        assert_eq!(roundtrip().await.expect("forwarded again"), b"hi");
    }
}
