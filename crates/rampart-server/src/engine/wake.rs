//! Wake-ups: long-polling leases wait on their queue's notifier; the
//! promoter waits on its own. Waking is cheap when nobody waits.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use rampart_core::id::QueueName;
use tokio::sync::Notify;

#[derive(Default)]
pub(super) struct Wakers {
    queues: RwLock<HashMap<QueueName, Arc<Notify>>>,
    promoter: Notify,
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

    /// Tells the promoter to look again at what is due next.
    pub(super) fn wake_promoter(&self) {
        self.promoter.notify_one();
    }

    /// Resolves on the next [`Wakers::wake_promoter`] (or one that came since the last wait).
    pub(super) async fn promoter_woken(&self) {
        self.promoter.notified().await
    }
}
