//! How commands print: aligned text tables and `label  value` blocks for
//! people, pretty JSON for scripts (`--json`).
//!
//! Everything meant to be read by a program goes to stdout through
//! [`print`], [`line`], [`Table::print`] and [`json`], which return write
//! errors instead of panicking, so that a closed pipe (`rampart … | head`)
//! ends the command quietly; notes and progress go to stderr so that they
//! never mix with it.

use std::io::Write as _;

use rampart_core::alert::format_bytes;
use serde::Serialize;

/// Columns are separated by this many spaces.
const GAP: usize = 2;

/// A table with a header row, printed with each column as wide as its widest cell.
#[derive(Debug, Clone)]
pub struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table with these column headers.
    pub fn new(headers: &[&'static str]) -> Table {
        Table { headers: headers.to_vec(), rows: Vec::new() }
    }

    /// Adds a row; missing cells print empty, extra cells are dropped.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// True when no row was added.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as text, one line per row, each ending in a newline. The
    /// last column is not padded, so lines carry no trailing spaces.
    pub fn render(&self) -> String {
        let columns = self.headers.len();
        let cell = |row: &[String], i: usize| row.get(i).map(|c| one_line(c)).unwrap_or_default();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        let rows: Vec<Vec<String>> = self.rows.iter().map(|r| (0..columns).map(|i| cell(r, i)).collect()).collect();
        for row in &rows {
            for (width, value) in widths.iter_mut().zip(row) {
                *width = (*width).max(value.chars().count());
            }
        }
        let header: Vec<String> = self.headers.iter().map(|h| h.to_string()).collect();
        let mut out = String::new();
        for row in std::iter::once(&header).chain(&rows) {
            let mut line = String::new();
            for (i, value) in row.iter().enumerate() {
                line.push_str(value);
                if i + 1 < columns {
                    let pad = widths[i] - value.chars().count() + GAP;
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    /// Prints the table to stdout.
    pub fn print(&self) -> anyhow::Result<()> {
        print(&self.render())
    }
}

/// `label  value` lines with the values aligned, one per pair; the further
/// lines of a multi-line value are indented to the value column.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let width = pairs.iter().map(|(label, _)| label.chars().count()).max().unwrap_or(0);
    let continuation = format!("\n{}", " ".repeat(width + GAP));
    let mut out = String::new();
    for (label, value) in pairs {
        let value = value.lines().collect::<Vec<_>>().join(&continuation);
        let line = format!("{label:<width$}{:GAP$}{value}", "");
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Writes text to stdout as it is.
pub fn print(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

/// Writes one line to stdout.
pub fn line(text: &str) -> anyhow::Result<()> {
    print(&format!("{text}\n"))
}

/// Prints a value as pretty JSON to stdout.
pub fn json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    line(&serde_json::to_string_pretty(value)?)
}

/// The text on one line (line breaks and tabs become spaces), cut to at most
/// `max` characters with `…` marking a cut.
pub fn truncate(text: &str, max: usize) -> String {
    let flat = one_line(text);
    if flat.chars().count() <= max {
        return flat;
    }
    let mut cut: String = flat.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// The value, or `-` when there is none.
pub fn or_dash(value: Option<impl std::fmt::Display>) -> String {
    value.map_or_else(|| "-".to_string(), |v| v.to_string())
}

/// Replaces control characters (line breaks, tabs) with spaces so a value
/// keeps to its cell.
fn one_line(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// Memory figures on one line: `rss 120 MiB, heap 80 MiB, redis 1.2 MiB`,
/// each `-` where it is not known (off Linux, without Redis).
pub fn memory(m: &rampart_client::wire::MemoryHealth) -> String {
    let shown = |bytes: Option<u64>| bytes.map_or_else(|| "-".to_string(), |b| format_bytes(b as f64));
    format!("rss {}, heap {}, redis {}", shown(m.resident_bytes), shown(m.heap_bytes), shown(m.redis_used_bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_reads_in_binary_units_with_dashes_for_the_unknown() {
        let m = rampart_client::wire::MemoryHealth {
            resident_bytes: Some(120 * 1024 * 1024),
            heap_bytes: Some(81 * 1024 * 1024 + 300 * 1024),
            redis_used_bytes: None,
        };
        assert_eq!(memory(&m), "rss 120 MiB, heap 81.3 MiB, redis -");
    }

    #[test]
    fn columns_align_on_the_widest_cell() {
        let mut t = Table::new(&["ID", "STATE", "LAST ERROR"]);
        t.row(vec!["7".into(), "available".into(), "-".into()]);
        t.row(vec!["1234".into(), "dead".into(), "smtp timeout".into()]);
        let expected = "\
ID    STATE      LAST ERROR
7     available  -
1234  dead       smtp timeout
";
        assert_eq!(t.render(), expected);
    }

    #[test]
    fn an_empty_table_prints_its_header_and_no_trailing_spaces() {
        let mut t = Table::new(&["NAME", "PAUSED"]);
        assert!(t.is_empty());
        assert_eq!(t.render(), "NAME  PAUSED\n");
        t.row(vec!["q".into(), String::new()]);
        assert_eq!(t.render(), "NAME  PAUSED\nq\n");
    }

    #[test]
    fn ragged_rows_and_multiline_cells_keep_the_grid() {
        let mut t = Table::new(&["A", "B", "C"]);
        t.row(vec!["x".into()]);
        t.row(vec!["y".into(), "two\nlines".into(), "c".into(), "extra".into()]);
        assert_eq!(t.render(), "A  B          C\nx\ny  two lines  c\n");
    }

    #[test]
    fn wide_characters_count_once() {
        let mut t = Table::new(&["K", "V"]);
        t.row(vec!["éé".into(), "1".into()]);
        assert_eq!(t.render(), "K   V\néé  1\n");
    }

    #[test]
    fn fields_align_values() {
        let got = fields(&[("state", "dead".into()), ("attempts", "3/3".into()), ("worker", String::new())]);
        assert_eq!(got, "state     dead\nattempts  3/3\nworker\n");
        let got = fields(&[("id", "7".into()), ("error", "line one\nline two".into())]);
        assert_eq!(got, "id     7\nerror  line one\n       line two\n");
    }

    #[test]
    fn truncate_cuts_long_text_and_flattens_lines() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("exactly10!", 10), "exactly10!");
        assert_eq!(truncate("this is far too long", 10), "this is f…");
        assert_eq!(truncate("a\nb", 10), "a b");
        assert_eq!(or_dash(None::<&str>), "-");
        assert_eq!(or_dash(Some("w1")), "w1");
    }
}
