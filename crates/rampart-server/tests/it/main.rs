//! Integration tests of rampart-server: routes in process through
//! `tower::ServiceExt::oneshot`, the engine and services on a manual clock.

mod alerts;
mod api;
mod architecture;
mod breakers;
mod cron;
mod diagnostics;
mod engine;
mod gate;
mod harness;
mod layer;
mod logs;
mod monitoring;
mod own_limits;
mod policies;
mod push;
mod ratelimit;
mod receiver;
mod text;
mod timer;
mod worker;
