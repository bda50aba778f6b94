//! Money as integer micro-dollars: sums and comparisons are exact, and a
//! budget's limit is compared with what was spent without rounding.

use std::fmt;

/// An amount in millionths of a US dollar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Micros(pub i64);

/// Why an amount in dollars was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be a finite amount of US dollars from 0 to 1,000,000,000")]
pub struct MoneyError;

/// The largest amount taken from outside: a billion dollars.
const MAX_USD: f64 = 1e9;

impl Micros {
    /// Zero dollars.
    pub const ZERO: Micros = Micros(0);

    /// An amount in dollars, rounded to the nearest micro-dollar; refused
    /// when negative, not finite or beyond a billion dollars.
    pub fn from_usd(usd: f64) -> Result<Micros, MoneyError> {
        if !usd.is_finite() || !(0.0..=MAX_USD).contains(&usd) {
            return Err(MoneyError);
        }
        // Within ±1e15, exact in an i64.
        #[allow(clippy::cast_possible_truncation, reason = "bounded to ±1e15 above")]
        Ok(Micros((usd * 1e6).round() as i64))
    }

    /// The amount in dollars, for answers and metrics.
    pub fn usd(self) -> f64 {
        self.0 as f64 / 1e6
    }

    /// This amount plus another, saturating.
    pub fn plus(self, other: Micros) -> Micros {
        Micros(self.0.saturating_add(other.0))
    }

    /// This amount minus another, saturating.
    pub fn minus(self, other: Micros) -> Micros {
        Micros(self.0.saturating_sub(other.0))
    }
}

impl fmt::Display for Micros {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}${}.{:06}", abs / 1_000_000, abs % 1_000_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollars_round_to_the_nearest_micro_dollar() {
        assert_eq!(Micros::from_usd(0.0), Ok(Micros(0)));
        assert_eq!(Micros::from_usd(1.5), Ok(Micros(1_500_000)));
        assert_eq!(Micros::from_usd(0.000_000_4), Ok(Micros(0)));
        assert_eq!(Micros::from_usd(0.000_000_6), Ok(Micros(1)));
        assert_eq!(Micros::from_usd(0.1 + 0.2), Ok(Micros(300_000)));
        assert_eq!(Micros::from_usd(1e9), Ok(Micros(1_000_000_000_000_000)));
    }

    #[test]
    fn negative_huge_and_not_finite_amounts_are_refused() {
        for usd in [-0.01, 1e9 + 1.0, f64::NAN, f64::INFINITY] {
            assert_eq!(Micros::from_usd(usd), Err(MoneyError), "{usd}");
        }
    }

    #[test]
    fn amounts_show_as_dollars() {
        assert_eq!(Micros(1_234_567).to_string(), "$1.234567");
        assert_eq!(Micros(-5).to_string(), "-$0.000005");
        assert_eq!(Micros(12_000_000).usd(), 12.0);
    }
}
