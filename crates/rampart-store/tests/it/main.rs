//! Integration tests of rampart-store: the conformance suite, run against
//! every backend available here.

#![allow(clippy::unwrap_used, reason = "a test that unwraps fails at the line that broke")]

mod alert_store;
mod conformance;
mod cron_store;
mod insight_store;
mod usage_store;
mod webhook_store;
