//! The arithmetic every bench reports with: rates, rounding, percentiles.

/// Items per second, 0 when no time passed.
pub(crate) fn rate(count: u64, seconds: f64) -> f64 {
    if seconds > 0.0 { count as f64 / seconds } else { 0.0 }
}

/// `value` rounded to `decimals` decimal places.
pub(crate) fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

/// The nearest-rank `p`th percentile (1 to 100) of sorted values: the
/// smallest value at least `p`% of the values are less than or equal to.
/// `None` for no values.
pub(crate) fn percentile(sorted: &[f64], p: u32) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p as usize * sorted.len()).div_ceil(100).clamp(1, sorted.len());
    sorted.get(rank - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        fn check(values: &[f64], p: u32, expected: Option<f64>) {
            assert_eq!(percentile(values, p), expected, "p{p} of {values:?}");
        }
        let ten: Vec<f64> = (1..=10).map(f64::from).collect();
        check(&ten, 50, Some(5.0));
        check(&ten, 99, Some(10.0));
        check(&ten, 100, Some(10.0));
        check(&ten, 10, Some(1.0));
        check(&ten, 11, Some(2.0));
        check(&ten, 0, Some(1.0));
        check(&[7.5], 50, Some(7.5));
        check(&[7.5], 99, Some(7.5));
        check(&[], 50, None);
        let thousand: Vec<f64> = (1..=1000).map(f64::from).collect();
        check(&thousand, 50, Some(500.0));
        check(&thousand, 99, Some(990.0));
        let hundred_one: Vec<f64> = (1..=101).map(f64::from).collect();
        check(&hundred_one, 99, Some(100.0));
        check(&hundred_one, 50, Some(51.0));
    }
}
