//! rampart-usage: what apps report about their AI calls, and what rampart
//! makes of it. Pure logic, no I/O: the server reads requests and config
//! into these types, and the store keeps what they compute.
//!
//! Layout:
//! - [`money`]: [`Micros`], money as integer micro-dollars, and its
//!   conversion from the USD amounts the API and config speak.
//! - [`event`]: a usage report's tokens and their normalisation
//!   ([`Tokens::normalise`]): cached input counted inside or beside the
//!   input, by provider, so nothing is charged twice.
//! - [`price`]: the price table: per million tokens of each kind, a model
//!   matched exactly or by a `*` pattern, each price with `effective_from`
//!   so a call keeps the price of its time ([`PriceTable::cost`]).
//! - [`budget`]: budgets (scope, amount, period, thresholds, enforcement),
//!   the window a call falls in ([`Period::window`], a key, never a reset
//!   job) and the holds a reservation takes ([`Budget::applies`]).

pub mod budget;
pub mod event;
pub mod money;
pub mod price;

pub use budget::{Budget, BudgetSpec, CallKeys, Period, Scope, Threshold, crossed};
pub use event::{Tokens, TokensError};
pub use money::{Micros, MoneyError};
pub use price::{Price, PriceSpec, PriceTable, Priced};
