//! How the pages show figures, times, JSON and trends: counts past 10,000
//! as "10k+", times in UTC, JSON pretty-printed and cut to a bounded size
//! (a 10 MB payload never reaches the browser whole unless asked for), and
//! sparklines as inline SVG drawn here.

use std::fmt::Write as _;

use maud::{Markup, PreEscaped, html};
use rampart_core::time::UnixMillis;

/// Characters of a payload, result or error shown before "show all".
pub const SHOWN_CHARS: usize = 4_000;
/// The most characters shown even when expanded: beyond it the page points
/// to the API for the rest.
pub const EXPANDED_CHARS: usize = 1_000_000;

/// A count as shown in lists: exact up to 10,000, then "10k+" (the sampled
/// figure is not exact at that size anyway).
pub fn count(n: u64) -> String {
    if n > 10_000 { "10k+".to_string() } else { n.to_string() }
}

/// A time as `2026-12-07 16:30:05 UTC`.
pub fn time(t: UnixMillis) -> String {
    chrono::DateTime::from_timestamp_millis(t.0)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| t.0.to_string())
}

/// A time as a `<time>` element, with the machine-readable instant.
pub fn when(t: UnixMillis) -> Markup {
    let iso = chrono::DateTime::from_timestamp_millis(t.0).map(|d| d.to_rfc3339()).unwrap_or_default();
    html! { time datetime=(iso) { (time(t)) } }
}

/// An optional time, or a dash.
pub fn when_opt(t: Option<UnixMillis>) -> Markup {
    match t {
        Some(t) => when(t),
        None => html! { span.muted { "—" } },
    }
}

/// JSON text pretty-printed (kept as it is when it does not parse), cut to
/// `limit` characters; answers whether it was cut.
pub fn json(text: &str, limit: usize) -> (String, bool) {
    // Pretty-printing a huge value costs as much as sending it: only what
    // is shown is parsed.
    let pretty = if text.len() <= limit.saturating_mul(4) {
        serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| text.to_string())
    } else {
        text.to_string()
    };
    truncate(&pretty, limit)
}

/// `text` cut to at most `limit` characters; answers whether it was cut.
pub fn truncate(text: &str, limit: usize) -> (String, bool) {
    match text.char_indices().nth(limit) {
        Some((at, _)) => (text[..at].to_string(), true),
        None => (text.to_string(), false),
    }
}

/// A sparkline of `points` (oldest first) as inline SVG, scaled to its own
/// maximum, with a text alternative for screen readers.
pub fn sparkline(points: &[f64], label: &str) -> Markup {
    const W: f64 = 120.0;
    const H: f64 = 24.0;
    if points.len() < 2 {
        return html! { span.muted { "—" } };
    }
    let max = points.iter().copied().fold(0.0_f64, f64::max).max(f64::MIN_POSITIVE);
    let step = W / (points.len() - 1) as f64;
    let mut path = String::new();
    for (i, p) in points.iter().enumerate() {
        let x = i as f64 * step;
        let y = H - 1.0 - (p.max(0.0) / max) * (H - 2.0);
        let _ = write!(path, "{}{x:.1},{y:.1}", if i == 0 { "M" } else { " L" });
    }
    let last = points.last().copied().unwrap_or_default();
    let label = html! { (label) }.into_string();
    let svg = format!(
        r##"<svg class="spark" width="{W}" height="{H}" viewBox="0 0 {W} {H}" role="img" aria-label="{label}: latest {last:.1}, peak {max:.1}"><path d="{path}" fill="none" stroke="#2357c6" stroke-width="1.5"/></svg>"##,
    );
    PreEscaped(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_past_ten_thousand_read_10k_plus() {
        for (n, want) in [(0, "0"), (9_999, "9999"), (10_000, "10000"), (10_001, "10k+"), (1_000_000, "10k+")] {
            assert_eq!(count(n), want, "{n}");
        }
    }

    #[test]
    fn json_is_pretty_and_cut_on_a_character_boundary() {
        assert_eq!(json(r#"{"a":1}"#, 100), ("{\n  \"a\": 1\n}".to_string(), false));
        assert_eq!(json("not json", 100), ("not json".to_string(), false));
        let (cut, was_cut) = json(&format!("\"{}\"", "é".repeat(50)), 10);
        assert!(was_cut);
        assert_eq!(cut.chars().count(), 10);
    }

    #[test]
    fn a_huge_payload_is_cut_without_being_parsed_whole() {
        let huge = format!("[{}1]", "1,".repeat(5_000_000));
        let (shown, cut) = json(&huge, SHOWN_CHARS);
        assert!(cut);
        assert_eq!(shown.len(), SHOWN_CHARS);
    }

    #[test]
    fn sparklines_scale_to_their_peak_and_say_it_in_words() {
        let svg = sparkline(&[0.0, 5.0, 10.0], "completed per interval").into_string();
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("M0.0,23.0 L60.0,12.0 L120.0,1.0"), "{svg}");
        assert!(svg.contains("aria-label=\"completed per interval: latest 10.0, peak 10.0\""), "{svg}");
        assert_eq!(sparkline(&[1.0], "x").into_string(), "<span class=\"muted\">—</span>");
    }
}
