//! Integration tests of rampart-store: the conformance suite, run against
//! every backend available here.

mod alert_store;
mod conformance;
mod cron_store;
