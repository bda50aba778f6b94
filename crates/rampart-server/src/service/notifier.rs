//! The notifier: sends the alert notices the store's outbox holds.
//!
//! Every node runs one. Each round claims due notifications (a claim keeps
//! other nodes off a row for [`NotifierConfig::claim_lease`], and on
//! PostgreSQL skips rows another node holds), sends each to its channel,
//! records the channel's health, and settles the row: delivered, due again
//! after a backoff (1 s doubling to 5 min), or given up after
//! [`NotifierConfig::max_attempts`]. A node that dies mid-send leaves its
//! rows to come due again when their claim lapses: a notice is delivered at
//! least once, and a receiver can drop a repeat by its `webhook-id`. A
//! receiver's `Retry-After` sets the next attempt; a failure the channel
//! calls permanent (Slack's `invalid_auth`, `channel_not_found`) is given
//! up at once. What a channel answered for a delivered notice (Slack's
//! `ts`) is kept on its row, in the same write that settles it, and the
//! alert's later notices on that channel are claimed only after it is
//! done, so they can reply in its thread.
//!
//! Rounds run every [`NotifierConfig::interval`] of the clock and at once
//! when the alerter queued something on this node.

use super::loops::{Loops, names};
use std::sync::Arc;
use std::time::Duration;

use rampart_core::time::{SharedClock, UnixMillis};
use rampart_store::{AlertNotificationClaimParams, NotificationOutcome, Store, StoreError};
use tokio::sync::Notify;

use crate::alert::{ChannelHealth, Channels, Notice, Retry, SendError};
use crate::shutdown::Shutdown;
use crate::timer::Timer as _;

/// How the notifier runs.
#[derive(Debug, Clone)]
pub struct NotifierConfig {
    /// Time between rounds when nothing wakes it.
    pub interval: Duration,
    /// How long a claim keeps other nodes off a row: longer than a send.
    pub claim_lease: Duration,
    /// Attempts before a notice is given up.
    pub max_attempts: u32,
    /// Wait before the second attempt; doubles each time.
    pub first_backoff: Duration,
    /// The longest wait between attempts.
    pub max_backoff: Duration,
    /// Notices claimed per round, at most.
    pub batch: u32,
}

impl Default for NotifierConfig {
    fn default() -> Self {
        NotifierConfig {
            interval: Duration::from_secs(1),
            claim_lease: Duration::from_secs(60),
            max_attempts: 10,
            first_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
            batch: 50,
        }
    }
}

/// What one round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Round {
    /// Notices sent.
    pub delivered: u32,
    /// Notices that failed and will be tried again.
    pub retrying: u32,
    /// Notices given up.
    pub given_up: u32,
}

/// Sends queued alert notices to their channels.
pub struct Notifier {
    config: NotifierConfig,
    store: Store,
    clock: SharedClock,
    channels: Channels,
    health: ChannelHealth,
    wake: Arc<Notify>,
    loops: Loops,
}

impl Notifier {
    /// A notifier sending through `channels`, recording into `health`, woken by `wake`.
    pub fn new(
        config: NotifierConfig,
        store: Store,
        clock: SharedClock,
        channels: Channels,
        health: ChannelHealth,
        wake: Arc<Notify>,
    ) -> Notifier {
        Notifier { config, store, clock, channels, health, wake, loops: Loops::default() }
    }

    /// Reports each round to `loops` (the server's registry, for the admin diagnostics).
    pub fn with_loops(mut self, loops: Loops) -> Self {
        self.loops = loops;
        self
    }

    /// The wait after the `attempts`-th failed attempt.
    fn backoff(&self, attempts: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(20));
        self.config.first_backoff.saturating_mul(factor).min(self.config.max_backoff)
    }

    /// One round: claims due notices, sends them, settles them.
    pub async fn run_once(&self) -> Result<Round, StoreError> {
        let now = self.clock.now();
        let params = AlertNotificationClaimParams { now, lease: self.config.claim_lease, limit: self.config.batch };
        let claimed = self.store.alert_notification_claim(params).await?;
        let mut round = Round::default();
        for n in claimed {
            let sent = match self.channels.get(&n.channel) {
                Some(channel) => {
                    let notice = Notice::from_notification(&n);
                    let outcome = self.channels.send(channel, &notice, n.reply_to.as_deref(), self.clock.now()).await;
                    let health = outcome.as_ref().map(|_| ()).map_err(|e| e.error.clone());
                    self.health.record(&n.channel, &health, self.clock.now());
                    outcome
                }
                None => Err(SendError::backoff(format!(
                    "no channel named `{}` in this node's [[alerts.channels]]",
                    n.channel
                ))),
            };
            let now = self.clock.now();
            let outcome = match sent {
                Ok(sent) => {
                    round.delivered += 1;
                    NotificationOutcome::Delivered { remote_id: sent.remote_id }
                }
                Err(SendError { error, retry }) if retry == Retry::Never || n.attempts >= self.config.max_attempts => {
                    tracing::error!(channel = %n.channel, alert_id = n.alert.id.0, attempts = n.attempts, %error, "alert notice given up");
                    round.given_up += 1;
                    NotificationOutcome::GiveUp { error }
                }
                Err(SendError { error, retry }) => {
                    let at = match retry {
                        // The receiver's Retry-After, but never sooner than now.
                        Retry::At(at) => at.max(now),
                        _ => UnixMillis::plus(now, self.backoff(n.attempts)),
                    };
                    tracing::warn!(channel = %n.channel, alert_id = n.alert.id.0, attempts = n.attempts, retry_at = %at, %error, "alert notice failed; will retry");
                    round.retrying += 1;
                    NotificationOutcome::Retry { at, error }
                }
            };
            self.store.alert_notification_settle(n.id, outcome, now).await?;
        }
        Ok(round)
    }

    /// Sends until shutdown.
    pub async fn run(self, shutdown: Shutdown) {
        loop {
            let round = self.run_once().await;
            self.loops.report(names::NOTIFIER, &round);
            match round {
                // A full batch: there may be more due at once.
                Ok(r) if r.delivered + r.retrying + r.given_up >= self.config.batch => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "alert notice round failed; retrying shortly"),
            }
            tokio::select! {
                _ = self.clock.sleep(self.config.interval) => {}
                _ = self.wake.notified() => {}
                _ = shutdown.wait() => return,
            }
        }
    }
}
