//! The node's ear: one dedicated connection that `LISTEN`s for other nodes'
//! commits and turns them into [`StoreSignal`]s. It reconnects by itself
//! (backing off up to 2 s) and sends [`StoreSignal::Resync`] each time it has
//! (re)connected, since notifications sent meanwhile are lost.

use std::future::poll_fn;
use std::time::Duration;

use rampart_core::id::QueueName;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, NoTls};

use crate::signal::StoreSignal;

/// The channel every node listens on; test databases are separate, so
/// their nodes never hear each other.
pub(super) const CHANNEL: &str = "rampart_jobs";

const RETRY_MIN: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(2);

/// The listening task; it stops when this is dropped.
pub(super) struct Listener {
    task: JoinHandle<()>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Listener {
    /// Starts listening; the receiver resolves once the first `LISTEN` holds.
    pub(super) fn spawn(
        driver: tokio_postgres::Config,
        node: String,
        signals: broadcast::Sender<StoreSignal>,
    ) -> (Listener, oneshot::Receiver<()>) {
        let (listening, first) = oneshot::channel();
        (Listener { task: tokio::spawn(listen(driver, node, signals, listening)) }, first)
    }
}

async fn listen(
    driver: tokio_postgres::Config,
    node: String,
    signals: broadcast::Sender<StoreSignal>,
    listening: oneshot::Sender<()>,
) {
    let mut listening = Some(listening);
    let mut retry = RETRY_MIN;
    let mut was_lost = false;
    loop {
        match driver.connect(NoTls).await {
            Ok((client, mut connection)) => {
                let (tx, mut rx) = mpsc::unbounded_channel();
                let driving = tokio::spawn(async move {
                    while let Some(message) = poll_fn(|cx| connection.poll_message(cx)).await {
                        match message {
                            Ok(AsyncMessage::Notification(n)) => {
                                if tx.send(n.payload().to_string()).is_err() {
                                    return;
                                }
                            }
                            Ok(_) => {}
                            Err(e) => {
                                tracing::debug!(error = %e, "the LISTEN connection failed");
                                return;
                            }
                        }
                    }
                });
                match client.batch_execute(&format!("LISTEN {CHANNEL}")).await {
                    Ok(()) => {
                        if was_lost {
                            tracing::info!("listening for other nodes again");
                        }
                        retry = RETRY_MIN;
                        if let Some(first) = listening.take() {
                            let _ = first.send(());
                        }
                        let _ = signals.send(StoreSignal::Resync);
                        while let Some(payload) = rx.recv().await {
                            if let Some(signal) = parse(&payload, &node) {
                                let _ = signals.send(signal);
                            }
                        }
                    }
                    Err(e) => tracing::debug!(error = %e, "LISTEN failed"),
                }
                driving.abort();
                tracing::warn!("lost the connection that listens for other nodes; reconnecting");
            }
            Err(e) => tracing::debug!(error = %e, "cannot connect to listen for other nodes; retrying"),
        }
        was_lost = true;
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(RETRY_MAX);
    }
}

/// A payload is `NODE:QUEUE`; a node ignores its own.
fn parse(payload: &str, node: &str) -> Option<StoreSignal> {
    let (from, queue) = payload.split_once(':')?;
    if from == node {
        return None;
    }
    QueueName::new(queue).ok().map(StoreSignal::QueueReady)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_name_a_node_and_a_queue() {
        let q = |s: &str| QueueName::new(s).unwrap();
        assert_eq!(parse("n2:email", "n1"), Some(StoreSignal::QueueReady(q("email"))));
        // Queue names may hold colons; only the first one splits.
        assert_eq!(parse("n2:a:b", "n1"), Some(StoreSignal::QueueReady(q("a:b"))));
        assert_eq!(parse("n1:email", "n1"), None);
        assert_eq!(parse("garbage", "n1"), None);
        assert_eq!(parse("n2:bad name", "n1"), None);
    }
}
