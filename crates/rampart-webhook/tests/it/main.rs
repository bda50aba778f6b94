//! Integration tests of rampart-webhook: the schemes against signatures
//! made by the providers' own libraries.

#![allow(clippy::unwrap_used, reason = "a test that unwraps fails at the line that broke")]

mod providers;
