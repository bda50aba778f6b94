//! Wake-ups: long-polling leases wait on their queue's notifier; the
//! promoter waits on its own, and waiters for a job's end on theirs. Waking is cheap when nobody waits.
//!
//! This node's own writes wake directly; other nodes' writes on a shared
//! store arrive as [`StoreSignal`]s (see [`crate::service::Relay`]).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use rampart_core::id::QueueName;
use rampart_store::StoreSignal;
use tokio::sync::Notify;

#[derive(Default)]
pub(super) struct Wakers {
    queues: RwLock<HashMap<QueueName, Arc<Notify>>>,
    promoter: Notify,
    ended: Notify,
}

impl Wakers {
    /// The notifier of a queue, created on first use.
    pub(super) fn queue(&self, queue: &QueueName) -> Arc<Notify> {
        if let Ok(map) = self.queues.read()
            && let Some(n) = map.get(queue)
        {
            return n.clone();
        }
        match self.queues.write() {
            Ok(mut map) => map.entry(queue.clone()).or_default().clone(),
            Err(_) => Arc::new(Notify::new()),
        }
    }

    /// Wakes every lease waiting on `queue`.
    pub(super) fn wake_queue(&self, queue: &QueueName) {
        if let Ok(map) = self.queues.read()
            && let Some(n) = map.get(queue)
        {
            n.notify_waiters();
        }
    }

    /// Wakes every waiting lease of every queue, and the promoter.
    pub(super) fn wake_all(&self) {
        if let Ok(map) = self.queues.read() {
            for n in map.values() {
                n.notify_waiters();
            }
        }
        self.wake_promoter();
    }

    /// Wakes whoever a signal from another node concerns.
    pub(super) fn on_signal(&self, signal: &StoreSignal) {
        match signal {
            StoreSignal::QueueReady(queue) => self.wake_queue(queue),
            StoreSignal::Resync => self.wake_all(),
        }
    }

    /// Tells the promoter to look again at what is due next.
    pub(super) fn wake_promoter(&self) {
        self.promoter.notify_one();
    }

    /// Tells whoever waits for jobs to end that some ended on this node.
    pub(super) fn wake_ended(&self) {
        self.ended.notify_waiters();
    }

    /// The notifier of jobs ending on this node.
    pub(super) fn ended(&self) -> &Notify {
        &self.ended
    }

    /// Resolves on the next [`Wakers::wake_promoter`] (or one that came since the last wait).
    pub(super) async fn promoter_woken(&self) {
        self.promoter.notified().await
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Waker};

    use super::*;

    fn queue(name: &str) -> QueueName {
        QueueName::new(name).unwrap()
    }

    /// Whether a future is ready when polled once now.
    fn ready(future: impl Future<Output = ()>) -> bool {
        pin!(future).poll(&mut Context::from_waker(Waker::noop())).is_ready()
    }

    #[test]
    fn a_signal_wakes_whoever_it_concerns() {
        let wakers = Wakers::default();
        let (a, b) = (wakers.queue(&queue("a")), wakers.queue(&queue("b")));
        let mut wait_a = pin!(a.notified());
        let mut wait_b = pin!(b.notified());
        wait_a.as_mut().enable();
        wait_b.as_mut().enable();

        wakers.on_signal(&StoreSignal::QueueReady(queue("a")));
        assert!(ready(wait_a.as_mut()), "the signalled queue's lease is woken");
        assert!(!ready(wait_b.as_mut()), "another queue's lease sleeps on");
        assert!(!ready(wakers.promoter_woken()), "the promoter sleeps on");
        // A queue nobody waits on yet: nothing to wake, nothing made.
        wakers.on_signal(&StoreSignal::QueueReady(queue("c")));
        assert!(wakers.queues.read().unwrap().get(&queue("c")).is_none());

        let mut wait_a = pin!(a.notified());
        wait_a.as_mut().enable();
        wakers.on_signal(&StoreSignal::Resync);
        assert!(ready(wait_a), "resync wakes every queue");
        assert!(ready(wait_b), "resync wakes every queue");
        assert!(ready(wakers.promoter_woken()), "resync wakes the promoter");
    }
}
