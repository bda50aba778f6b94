//! HTTP connections: accepting them, and bounding what each may hold and
//! for how long (`[http]`, [`HttpConfig`]).
//!
//! axum's own `serve` has neither timeouts nor a cap, so a client sending
//! a header byte every few seconds, or nothing at all, would hold its
//! connection (and a file descriptor) forever. [`serve`] runs the router on
//! hyper's HTTP/1 connections with:
//!
//! - a cap, `max_connections`: while that many are open the loop stops
//!   accepting, so new connections wait in the kernel's listen backlog;
//! - a header read timeout, counted from the connection's opening or, on a
//!   kept-alive connection, from the first byte of the next request; and an
//!   idle timeout while no request is in flight and none has begun. Both
//!   are watched by [`Watched`], the socket's wrapper, which fails its read
//!   once the deadline has passed: hyper then drops the connection. A
//!   request in flight (a long-poll lease included) has no such deadline;
//! - a body read timeout: each request's body is a [`TimedBody`] that fails
//!   once `body_read_timeout` has passed since its head arrived; the JSON
//!   extractor answers that failure with `408 REQUEST_TIMEOUT`, and hyper
//!   closes the connection, whose body was not read to its end.
//!
//! On shutdown the loop stops accepting, every connection is asked to close
//! once its request in flight is answered, and [`serve`] returns when all
//! have closed.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker, ready};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::ConnectInfo;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rampart_core::duration::format_duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::time::{Instant, Sleep};
use tower::ServiceExt as _;

use crate::config::HttpConfig;

/// How long the accept loop pauses after an error that is not one
/// connection's (the process out of file descriptors, say).
const ACCEPT_PAUSE: Duration = Duration::from_secs(1);

/// A request body that did not arrive within `body_read_timeout`.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "the request body did not arrive within body_read_timeout ({}); send it at once, or raise [http] body_read_timeout",
    format_duration(*.0)
)]
pub struct BodyTimeout(pub Duration);

/// Serves `app` on `listener` until `stop` resolves, then stops accepting,
/// lets every connection finish the request it is serving, and returns once
/// all are closed. Each request carries its peer's address as
/// [`ConnectInfo<SocketAddr>`].
pub async fn serve(listener: TcpListener, app: Router, http: HttpConfig, stop: impl Future<Output = ()>) {
    let slots = Arc::new(Semaphore::new(http.max_connections));
    // Every connection holds a receiver: the sender sees them all gone once
    // the last connection has closed.
    let (closing, closing_rx) = watch::channel(false);
    let mut stop = pin!(stop);
    loop {
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => slot,
            () = &mut stop => break,
        };
        // The semaphore is never closed.
        let Ok(slot) = slot else { break };
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let (app, http, closing) = (app.clone(), http.clone(), closing_rx.clone());
        tokio::spawn(async move {
            connection(tcp, peer, app, http, closing).await;
            drop(slot);
        });
    }
    drop(listener);
    drop(closing_rx);
    // Ask every connection to close after its request in flight, and wait.
    let _ = closing.send(true);
    closing.closed().await;
}

/// What an accept error means: one connection's (it is skipped), or the
/// process's, which pauses the loop before it tries again.
async fn accept_failed(e: io::Error) {
    if matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "cannot accept connections; trying again in a second");
    tokio::time::sleep(ACCEPT_PAUSE).await;
}

/// Serves one connection until it closes, is cut by a timeout, or, once
/// `closing` turns true, has answered its request in flight.
async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    app: Router,
    http: HttpConfig,
    mut closing: watch::Receiver<bool>,
) {
    // Small JSON answers must not wait for Nagle's algorithm.
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!(error = %e, "cannot set TCP_NODELAY");
    }
    let activity = Activity::new();
    let io = Watched::new(tcp, Arc::clone(&activity), &http);
    let body_timeout = http.body_read_timeout;
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let in_flight = InFlight::begin(&activity);
        let mut req = req.map(|body| Body::new(TimedBody::new(body, body_timeout)));
        req.extensions_mut().insert(ConnectInfo(peer));
        let answer = app.clone().oneshot(req);
        async move {
            let Ok(resp) = answer.await;
            // The request is in flight until its answer has been written.
            Ok::<_, Infallible>(resp.map(|body| Body::new(Tracked { body, _in_flight: in_flight })))
        }
    });
    // Without a timer hyper's own header timeout is off; `Watched` keeps ours.
    let conn = hyper::server::conn::http1::Builder::new()
        .header_read_timeout(None)
        .serve_connection(TokioIo::new(io), service);
    let mut conn = pin!(conn);
    let served = tokio::select! {
        served = conn.as_mut() => served,
        () = async { drop(closing.wait_for(|closing| *closing).await) } => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = served {
        tracing::debug!(peer = %peer, error = %e, "connection ended");
    }
}

/// What a connection is doing, shared by its socket ([`Watched`]) and its
/// requests ([`InFlight`]).
struct Activity {
    /// Requests being served (more than one only while HTTP/1 pipelining).
    in_flight: usize,
    /// When the head being read began: the connection's opening, or the
    /// first byte after it went idle. `None` while idle or in flight.
    head_since: Option<Instant>,
    /// When the last request in flight ended (or the connection opened).
    idle_since: Instant,
    /// The task reading the socket, woken when the last request ends so
    /// its next read arms the idle deadline.
    reader: Option<Waker>,
}

impl Activity {
    fn new() -> Arc<Mutex<Activity>> {
        let now = Instant::now();
        Arc::new(Mutex::new(Activity { in_flight: 0, head_since: Some(now), idle_since: now, reader: None }))
    }
}

/// Locks `activity`; a panic while it was held left nothing half-changed
/// that matters, so a poisoned lock is used as is.
fn lock(activity: &Mutex<Activity>) -> MutexGuard<'_, Activity> {
    activity.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One request being served; dropped once its answer has been written (or
/// abandoned).
struct InFlight(Arc<Mutex<Activity>>);

impl InFlight {
    fn begin(activity: &Arc<Mutex<Activity>>) -> InFlight {
        let mut a = lock(activity);
        a.in_flight += 1;
        a.head_since = None;
        InFlight(Arc::clone(activity))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let reader = {
            let mut a = lock(&self.0);
            a.in_flight = a.in_flight.saturating_sub(1);
            if a.in_flight > 0 {
                return;
            }
            a.idle_since = Instant::now();
            a.reader.take()
        };
        if let Some(reader) = reader {
            reader.wake();
        }
    }
}

/// A response body that holds its request's [`InFlight`] until it is
/// written to its end or dropped.
struct Tracked {
    body: Body,
    _in_flight: InFlight,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A request body that fails with [`BodyTimeout`] once its deadline passes.
/// The timer starts only if the body is not all there when first read.
struct TimedBody {
    body: Incoming,
    deadline: Instant,
    limit: Duration,
    timer: Option<Pin<Box<Sleep>>>,
}

impl TimedBody {
    fn new(body: Incoming, limit: Duration) -> TimedBody {
        TimedBody { body, deadline: Instant::now() + limit, limit, timer: None }
    }
}

impl HttpBody for TimedBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.body).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let deadline = self.deadline;
        let timer = self.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        ready!(timer.as_mut().poll(cx));
        Poll::Ready(Some(Err(Box::new(BodyTimeout(self.limit)))))
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A socket whose reads fail once the connection has waited too long for a
/// request's head (`header_read_timeout`) or sat idle (`idle_timeout`).
struct Watched {
    tcp: TcpStream,
    activity: Arc<Mutex<Activity>>,
    header_timeout: Duration,
    idle_timeout: Duration,
    timer: Pin<Box<Sleep>>,
}

impl Watched {
    fn new(tcp: TcpStream, activity: Arc<Mutex<Activity>>, http: &HttpConfig) -> Watched {
        let timer = Box::pin(tokio::time::sleep(http.header_read_timeout));
        Watched { tcp, activity, header_timeout: http.header_read_timeout, idle_timeout: http.idle_timeout, timer }
    }

    /// The deadline the connection is under now, and what it bounds; none
    /// while a request is in flight. Keeps the reader's waker.
    fn deadline(&self, cx: &Context<'_>) -> Option<(Instant, &'static str)> {
        let mut a = lock(&self.activity);
        if !a.reader.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            a.reader = Some(cx.waker().clone());
        }
        if a.in_flight > 0 {
            return None;
        }
        Some(match a.head_since {
            Some(since) => (since + self.header_timeout, "the request head did not arrive within header_read_timeout"),
            None => (a.idle_since + self.idle_timeout, "the connection was idle for idle_timeout"),
        })
    }
}

impl AsyncRead for Watched {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some((deadline, why)) = this.deadline(cx) {
            if this.timer.deadline() != deadline {
                this.timer.as_mut().reset(deadline);
            }
            if this.timer.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, why)));
            }
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.tcp).poll_read(cx, buf))?;
        if buf.filled().len() > before {
            let mut a = lock(&this.activity);
            if a.in_flight == 0 && a.head_since.is_none() {
                a.head_since = Some(Instant::now());
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Watched {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}
