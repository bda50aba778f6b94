//! Integration tests of rampart-store: the conformance suite, run against
//! every backend available here.

mod conformance;
mod cron_store;
