//! rampart-webhook: what webhook intake decides, without any I/O.
//!
//! A *source* is one sender of webhooks (a Stripe account, a GitHub app, a
//! Slack app, …) reached at `POST /in/{source}`. This crate holds everything
//! about a source that needs neither the network nor the store, so the
//! server only wires it in:
//!
//! - [`source`]: a source as written ([`SourceSpec`], from `[webhooks.NAME]`
//!   or `PUT /v1/webhooks/sources/{name}`) and its one validation into a
//!   [`Source`], every problem named by its field; secrets with expiries.
//! - [`scheme`]: the signature schemes ([`Scheme`]) and [`verify`], which
//!   checks a request's raw bytes before anything parses them, comparing
//!   MACs in constant time, and answers a [`Rejection`] with its code.
//! - [`event`]: what is read from a verified request: the event id (the
//!   provider's documented field, else the SHA-256 of the body), type and
//!   tenant ([`Locator`]s: JSON pointers or header names), Slack's
//!   `url_verification` challenge, the headers as logged (secrets masked),
//!   and the job's payload.
//!
//! Time comes in as an argument, so tests fix it.

pub mod event;
pub mod scheme;
pub mod source;

pub use event::{Event, Locator, LocatorError};
pub use scheme::{Inbound, Rejection, Scheme, verify};
pub use source::{HmacAlgorithm, HmacEncoding, HmacOptions, Secret, SecretSpec, Source, SourceSpec, SpecProblem};
