//! rampart-env: checks an application's environment before it starts.
//!
//! This is for the apps rampart serves, not for rampart itself: a small
//! schema written in TOML says which variables an app needs and what a good
//! value looks like, and a check reports every problem of an environment at
//! once, so a deploy fails fast with the whole list instead of one crash at
//! a time. Pure logic, no I/O: the CLI (`rampart env check`, `rampart env
//! example`) reads the files and the process environment and hands them in.
//!
//! - [`schema`]: the schema language ([`Schema::parse`]): `[vars.NAME]`
//!   tables with `required`, `required_if`, `kind` (`string`, `url`, `int`,
//!   `bool`, `duration`, `enum`, `secret`) and the rules that fit each kind
//!   (`min_len`, `max_len`, `pattern`, `one_of`, `schemes`, `min`, `max`);
//!   every mistake in a schema is reported at once.
//! - [`dotenv`]: a reader of `.env` files (`KEY=value`, quotes, comments,
//!   `export`), whose errors name the line but never echo it.
//! - [`check`]: an environment against a schema ([`check::check`]), every
//!   problem named by its variable; a secret's value never appears in a
//!   message, and a URL's password never does either.
//! - [`example`]: the `.env.example` a schema describes.

pub mod check;
pub mod dotenv;
pub mod example;
pub mod schema;

pub use check::{Problem, ProblemCode, Report, check};
pub use schema::{Kind, Schema, SchemaErrors, Var};
