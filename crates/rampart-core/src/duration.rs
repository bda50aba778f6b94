//! Human duration strings: `"250ms"`, `"30s"`, `"5m"`, `"1h30m"`, `"7d"`.
//!
//! Config and API take durations only in this form so that a value reads the
//! same everywhere; a bare number is refused because its unit would be a guess.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Why a duration string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a duration: {reason}; write e.g. \"500ms\", \"30s\", \"5m\", \"1h\" or \"1h30m\"")]
pub struct DurationError {
    /// The text that was given.
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Parses a duration made of one or more `<integer><unit>` parts, where the
/// unit is `ms`, `s`, `m`, `h` or `d`.
pub fn parse_duration(input: &str) -> Result<Duration, DurationError> {
    let err = |reason| DurationError { input: input.to_string(), reason };
    let s = input;
    if s.is_empty() {
        return Err(err("it is empty"));
    }
    let mut total: u64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return Err(err("each part must start with a whole number"));
        }
        let n: u64 = rest[..digits].parse().map_err(|_| err("the number is too large"))?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit_ms: u64 = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "" => return Err(err("a unit is missing")),
            _ => return Err(err("the unit must be ms, s, m, h or d")),
        };
        rest = &rest[unit_len..];
        let part = n.checked_mul(unit_ms).ok_or_else(|| err("it is too large"))?;
        total = total.checked_add(part).ok_or_else(|| err("it is too large"))?;
    }
    Ok(Duration::from_millis(total))
}

/// Formats a duration in the same form, largest units first (`"1h30m"`).
pub fn format_duration(d: Duration) -> String {
    let mut ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    if ms == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    for (unit, size) in [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)] {
        if ms >= size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    out
}

/// A duration that reads and writes as a human string (`"30s"`): the type
/// of every duration field of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    /// The duration.
    pub fn get(self) -> Duration {
        self.0
    }
}

impl From<Duration> for HumanDuration {
    fn from(d: Duration) -> Self {
        HumanDuration(d)
    }
}

impl From<HumanDuration> for Duration {
    fn from(d: HumanDuration) -> Self {
        d.0
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

impl FromStr for HumanDuration {
    type Err = DurationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_duration(s).map(HumanDuration)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected_ms: Option<u64>) {
        let got = parse_duration(input).ok().map(|d| d.as_millis() as u64);
        assert_eq!(got, expected_ms, "parse_duration({input:?})");
    }

    #[test]
    fn parses_the_documented_forms() {
        check("250ms", Some(250));
        check("30s", Some(30_000));
        check("5m", Some(300_000));
        check("1h", Some(3_600_000));
        check("1h30m", Some(5_400_000));
        check("7d", Some(604_800_000));
        check(" 10s ", None);
        check("0s", Some(0));
    }

    #[test]
    fn refuses_what_would_be_a_guess() {
        for bad in ["", "30", "s", "1.5s", "-1s", "10 s", "5 minutes", "1y", "99999999999999999999s"] {
            check(bad, None);
        }
        let e = parse_duration("30").unwrap_err().to_string();
        assert!(e.contains("`30`") && e.contains("unit"), "{e}");
    }

    #[test]
    fn formats_round_trip() {
        for s in ["250ms", "30s", "5m", "1h30m", "7d", "1h1m1s1ms"] {
            assert_eq!(format_duration(parse_duration(s).unwrap()), s);
        }
    }
}
