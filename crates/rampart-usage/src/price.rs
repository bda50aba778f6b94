//! The price table: what a call costs when its report gives no cost.
//!
//! Each price is per million tokens of each kind, for a model named
//! exactly (`gpt-4o-mini`) or by a pattern where `*` matches any run of
//! characters (`claude-3-5-sonnet-*`), from `effective_from` on. For a
//! call, an exact name wins over any pattern and a longer pattern over a
//! shorter one; among the prices of that model, the latest in force at
//! the call's time applies, so history keeps the price it was charged at.
//! A price's version (`model@effective_from`) is stored with the call.

use rampart_core::time::UnixMillis;
use serde::{Deserialize, Serialize};

use crate::event::Tokens;
use crate::money::{Micros, MoneyError};

/// One price as config and the API write it: dollars per million tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceSpec {
    /// The model's name, or a pattern with `*`.
    #[schema(min_length = 1, max_length = 200)]
    pub model: String,
    /// When the price starts to apply (RFC 3339); from the beginning when left out.
    #[serde(default)]
    pub effective_from: Option<String>,
    /// USD per million uncached input tokens.
    pub input: f64,
    /// USD per million output tokens (reasoning included).
    pub output: f64,
    /// USD per million input tokens read from cache; `input` when left out.
    #[serde(default)]
    pub cached_input: Option<f64>,
    /// USD per million input tokens written to cache; `input` when left out.
    #[serde(default)]
    pub cache_write: Option<f64>,
}

/// A price, validated: micro-dollars per million tokens of each kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Price {
    /// The model's name or pattern.
    pub model: String,
    /// From when it applies.
    pub effective_from: UnixMillis,
    /// Per million uncached input tokens.
    pub input: Micros,
    /// Per million cache reads.
    pub cached_input: Micros,
    /// Per million cache writes.
    pub cache_write: Micros,
    /// Per million output tokens.
    pub output: Micros,
}

/// A call priced from the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Priced {
    /// What the call cost.
    pub cost: Micros,
    /// The price used: `model@effective_from`.
    pub version: String,
}

/// Every price known, as the server holds it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PriceTable {
    prices: Vec<Price>,
}

impl PriceSpec {
    /// Validates one price; each problem names its field.
    pub fn validate(&self) -> Result<Price, (&'static str, String)> {
        if self.model.is_empty() || self.model.len() > 200 {
            return Err(("model", "must be 1 to 200 characters".into()));
        }
        let effective_from = match &self.effective_from {
            None => UnixMillis(i64::MIN),
            Some(t) => UnixMillis::parse_rfc3339(t).map_err(|e| ("effective_from", e))?,
        };
        let rate =
            |field: &'static str, usd: f64| Micros::from_usd(usd).map_err(|e: MoneyError| (field, e.to_string()));
        let input = rate("input", self.input)?;
        Ok(Price {
            model: self.model.clone(),
            effective_from,
            input,
            output: rate("output", self.output)?,
            cached_input: self.cached_input.map_or(Ok(input), |usd| rate("cached_input", usd))?,
            cache_write: self.cache_write.map_or(Ok(input), |usd| rate("cache_write", usd))?,
        })
    }
}

impl Price {
    /// What `tokens` cost at this price, rounded to the nearest micro-dollar.
    pub fn cost(&self, tokens: &Tokens) -> Micros {
        let part = |n: u64, rate: Micros| i128::from(n) * i128::from(rate.0);
        let total = part(tokens.input, self.input)
            + part(tokens.cached_input, self.cached_input)
            + part(tokens.cache_write, self.cache_write)
            + part(tokens.output, self.output);
        let rounded = (total + 500_000) / 1_000_000;
        Micros(i64::try_from(rounded).unwrap_or(i64::MAX))
    }

    /// The version a priced call records.
    pub fn version(&self) -> String {
        if self.effective_from.0 == i64::MIN {
            self.model.clone()
        } else {
            format!("{}@{}", self.model, self.effective_from.to_rfc3339())
        }
    }

    fn specificity(&self, model: &str) -> Option<usize> {
        if !self.model.contains('*') {
            return (self.model == model).then_some(usize::MAX);
        }
        glob(&self.model, model).then(|| self.model.chars().filter(|c| *c != '*').count())
    }
}

impl PriceTable {
    /// A table of validated prices.
    pub fn new(prices: Vec<Price>) -> PriceTable {
        PriceTable { prices }
    }

    /// Whether the table has no price.
    pub fn is_empty(&self) -> bool {
        self.prices.is_empty()
    }

    /// The price for `model` in force at `at` (see the module doc).
    pub fn find(&self, model: &str, at: UnixMillis) -> Option<&Price> {
        self.prices
            .iter()
            .filter(|p| p.effective_from <= at)
            .filter_map(|p| p.specificity(model).map(|s| (s, p.effective_from, p)))
            .max_by_key(|(s, from, _)| (*s, *from))
            .map(|(_, _, p)| p)
    }

    /// What a call of `model` at `at` with `tokens` cost; `None` when no
    /// price applies.
    pub fn cost(&self, model: &str, at: UnixMillis, tokens: &Tokens) -> Option<Priced> {
        self.find(model, at).map(|p| Priced { cost: p.cost(tokens), version: p.version() })
    }
}

/// Whether `text` matches `pattern`, where `*` matches any run of characters.
fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = text.strip_prefix(first) else { return false };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else { return rest.is_empty() };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price(model: &str, from: Option<&str>, input: f64, output: f64) -> Price {
        PriceSpec {
            model: model.into(),
            effective_from: from.map(str::to_string),
            input,
            output,
            cached_input: Some(input / 10.0),
            cache_write: None,
        }
        .validate()
        .unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn table() -> PriceTable {
        PriceTable::new(vec![
            price("gpt-4o", None, 5.0, 15.0),
            price("gpt-4o", Some("2025-01-01T00:00:00Z"), 2.5, 10.0),
            price("gpt-4o*", None, 100.0, 100.0),
            price("gpt-*", None, 50.0, 50.0),
            price("claude-*-sonnet-*", None, 3.0, 15.0),
        ])
    }

    fn at(rfc: &str) -> UnixMillis {
        UnixMillis::parse_rfc3339(rfc).unwrap_or_default()
    }

    #[test]
    fn exact_names_win_then_the_longest_pattern_then_the_latest_price() {
        let t = table();
        let version = |model: &str, when: &str| t.find(model, at(when)).map(Price::version);
        assert_eq!(version("gpt-4o", "2024-06-01T00:00:00Z").as_deref(), Some("gpt-4o"));
        assert_eq!(version("gpt-4o", "2025-06-01T00:00:00Z").as_deref(), Some("gpt-4o@2025-01-01T00:00:00.000Z"));
        assert_eq!(version("gpt-4o-mini", "2025-06-01T00:00:00Z").as_deref(), Some("gpt-4o*"));
        assert_eq!(version("gpt-5", "2025-06-01T00:00:00Z").as_deref(), Some("gpt-*"));
        assert_eq!(version("claude-3-5-sonnet-2024", "2025-06-01T00:00:00Z").as_deref(), Some("claude-*-sonnet-*"));
        assert_eq!(version("claude-3-haiku", "2025-06-01T00:00:00Z"), None);
    }

    #[test]
    fn every_kind_of_token_is_priced_once_at_its_rate() {
        let p = price("m", None, 2.5, 10.0);
        // 200 uncached at $2.50/M, 800 cached at $0.25/M, 50 out at $10/M.
        let tokens = Tokens { input: 200, cached_input: 800, cache_write: 0, output: 50, reasoning: 20 };
        assert_eq!(p.cost(&tokens), Micros(500 + 200 + 500));
        let writes = Tokens { cache_write: 1_000_000, ..Tokens::default() };
        assert_eq!(p.cost(&writes), Micros(2_500_000));
    }

    #[test]
    fn patterns_match_runs_of_characters() {
        for (pattern, text, expected) in [
            ("a*", "a", true),
            ("a*", "abc", true),
            ("*c", "abc", true),
            ("a*c", "ac", true),
            ("a*c", "abcbc", true),
            ("a*b*c", "aXbYc", true),
            ("a*c", "ab", false),
            ("ab*ba", "aba", false),
            ("*", "", true),
        ] {
            assert_eq!(glob(pattern, text), expected, "{pattern} {text}");
        }
    }

    #[test]
    fn prices_that_cannot_be_are_refused_naming_the_field() {
        let mut spec = PriceSpec {
            model: "m".into(),
            effective_from: Some("yesterday".into()),
            input: 1.0,
            output: 1.0,
            cached_input: None,
            cache_write: None,
        };
        assert_eq!(spec.validate().map_err(|e| e.0), Err("effective_from"));
        spec.effective_from = None;
        spec.output = -1.0;
        assert_eq!(spec.validate().map_err(|e| e.0), Err("output"));
    }
}
