//! A reader of `.env` files, as the dotenv libraries of Node, Python and
//! Ruby write them.
//!
//! - `KEY=value`, optionally after `export `; spaces around the key and
//!   before the value are ignored; blank lines and lines starting with `#`
//!   are skipped.
//! - An unquoted value ends at the line's end or at ` #` (a comment), and
//!   its trailing spaces are dropped.
//! - `'single quotes'` keep the text as it is; `"double quotes"` read `\n`,
//!   `\r`, `\t`, `\"`, `\\` and `\$`. Both may span lines.
//! - Nothing is expanded (`${OTHER}` stays as written); a key given twice
//!   takes its last value.
//!
//! Errors name the line and what is wrong, never the line's text: it may
//! hold a secret.

use std::collections::BTreeMap;

use crate::schema::valid_name;

/// A line the reader could not make sense of.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {problem}")]
pub struct LineError {
    /// The line, counting from 1.
    pub line: usize,
    /// What is wrong with it.
    pub problem: String,
}

/// Reads a dotenv file's text into its variables, or every line in error.
pub fn parse(text: &str) -> Result<BTreeMap<String, String>, Vec<LineError>> {
    let lines: Vec<&str> = text.lines().collect();
    let mut vars = BTreeMap::new();
    let mut errors = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let number = i + 1;
        let line = lines[i].trim_start();
        i += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map_or(line, str::trim_start);
        let Some((key, rest)) = line.split_once('=') else {
            errors.push(LineError { line: number, problem: "expected KEY=value".into() });
            continue;
        };
        let key = key.trim();
        if !valid_name(key) {
            errors.push(LineError {
                line: number,
                problem: "the name before `=` must be letters, digits and `_`, not starting with a digit".into(),
            });
            continue;
        }
        let rest = rest.trim_start();
        let value = match rest.chars().next() {
            Some(quote @ ('"' | '\'')) => {
                let mut text = rest[1..].to_string();
                loop {
                    if let Some((value, after)) = closed(&text, quote) {
                        let after = after.trim_start();
                        if after.is_empty() || after.starts_with('#') {
                            break Ok(value);
                        }
                        break Err("only a comment may follow the closing quote".to_string());
                    }
                    match lines.get(i) {
                        Some(next) => {
                            text.push('\n');
                            text.push_str(next);
                            i += 1;
                        }
                        None => break Err(format!("the value's {quote} is never closed")),
                    }
                }
            }
            _ => Ok(unquoted(rest)),
        };
        match value {
            Ok(value) => {
                vars.insert(key.to_string(), value);
            }
            Err(problem) => errors.push(LineError { line: number, problem }),
        }
    }
    if errors.is_empty() { Ok(vars) } else { Err(errors) }
}

/// An unquoted value: up to a ` #` comment, trailing spaces dropped.
fn unquoted(rest: &str) -> String {
    let end = rest
        .char_indices()
        .find(|&(i, c)| c == '#' && i > 0 && rest[..i].ends_with([' ', '\t']))
        .map_or(rest.len(), |(i, _)| i);
    rest[..end].trim_end().to_string()
}

/// The quoted value read up to its closing quote, and the text after it;
/// `None` when the quote is not closed in `text`.
fn closed(text: &str, quote: char) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        if c == quote {
            return Some((value, &text[i + 1..]));
        }
        if c == '\\' && quote == '"' {
            match chars.next() {
                Some((_, 'n')) => value.push('\n'),
                Some((_, 'r')) => value.push('\r'),
                Some((_, 't')) => value.push('\t'),
                Some((_, escaped @ ('"' | '\\' | '$'))) => value.push(escaped),
                Some((_, other)) => {
                    value.push('\\');
                    value.push(other);
                }
                None => return None,
            }
            continue;
        }
        value.push(c);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(text: &str) -> Vec<(String, String)> {
        parse(text).expect("parses").into_iter().collect()
    }

    fn pair(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    #[test]
    fn reads_the_common_forms() {
        let text = "\
# a comment
PLAIN=value
export EXPORTED = spaced value   
EMPTY=
HASH=a#b
COMMENTED=value # the comment
SINGLE='keep \\n ${X} # as is'
DOUBLE=\"line\\nbreak \\\"q\\\" \\$HOME\" # after
  INDENTED=yes
URL=postgres://u:p@h:5432/db?sslmode=require
";
        assert_eq!(
            vars(text),
            [
                pair("COMMENTED", "value"),
                pair("DOUBLE", "line\nbreak \"q\" $HOME"),
                pair("EMPTY", ""),
                pair("EXPORTED", "spaced value"),
                pair("HASH", "a#b"),
                pair("INDENTED", "yes"),
                pair("PLAIN", "value"),
                pair("SINGLE", "keep \\n ${X} # as is"),
                pair("URL", "postgres://u:p@h:5432/db?sslmode=require"),
            ]
        );
    }

    #[test]
    fn quoted_values_span_lines_and_the_last_key_wins() {
        let text = "KEY=\"-----BEGIN KEY-----\nabc\n-----END KEY-----\"\nA=1\nA=2\n";
        assert_eq!(vars(text), [pair("A", "2"), pair("KEY", "-----BEGIN KEY-----\nabc\n-----END KEY-----")]);
    }

    #[test]
    fn every_bad_line_is_reported_without_its_text() {
        let text = "GOOD=1\nsk_live_SECRET\n9BAD=x\nQ=\"open\nR='x' trailing\n";
        let errors = parse(text).expect_err("refused");
        let got: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            got,
            [
                "line 2: expected KEY=value",
                "line 3: the name before `=` must be letters, digits and `_`, not starting with a digit",
                "line 4: the value's \" is never closed",
            ]
        );
        let errors = parse("R='x' trailing\n").expect_err("refused");
        assert_eq!(errors[0].to_string(), "line 1: only a comment may follow the closing quote");
        assert!(got.iter().all(|e| !e.contains("SECRET")));
    }
}
