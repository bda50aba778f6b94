//! Integration tests of rampart-server: routes in process through
//! `tower::ServiceExt::oneshot`, the engine and services on a manual clock.

#![allow(clippy::unwrap_used, reason = "a test that unwraps fails at the line that broke")]

mod alerts;
mod api;
mod architecture;
mod bounds;
mod breakers;
mod connection;
mod cron;
mod diagnostics;
mod engine;
mod flow;
mod gate;
mod harness;
mod insight;
mod json;
mod layer;
mod logs;
mod monitoring;
mod nul;
mod openapi;
mod own_limits;
mod policies;
mod push;
mod rate;
mod ratelimit;
mod receiver;
mod routes;
mod steps;
mod tenant;
mod timer;
mod usage;
mod usage_alerts;
mod webhooks;
mod worker;
