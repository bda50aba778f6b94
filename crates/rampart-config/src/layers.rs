//! Layers: where configuration comes from, merged into one TOML table that
//! remembers, per key, which file, variable or flag set it.
//!
//! The built-in [`DEFAULT_TOML`] is the base; a file merges over it table by
//! table; each variable and flag sets one key, its string read as the kind
//! the key expects ([`Kind`]). Nothing here knows which keys exist: the
//! loader resolves a variable's or flag's name to a path first.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use toml::{Table, Value};

use crate::keys::Kind;

/// The built-in configuration file: every key at its default value, with a
/// comment explaining it. It is the first layer of [`Config::load`](crate::Config::load).
pub const DEFAULT_TOML: &str = include_str!("../config.default.toml");

/// The file read when no file is named and looking for one is asked for.
pub(crate) const DEFAULT_FILE: &str = "./rampart.toml";

/// Where [`Config::load`](crate::Config::load) reads configuration from,
/// besides the built-in defaults.
#[derive(Debug, Clone, Default)]
pub struct ConfigSources {
    /// Explicit file (from `--config` or `RAMPART_CONFIG`). Must exist and be
    /// readable, else an error naming the path.
    pub file: Option<PathBuf>,
    /// When `file` is `None`: use `./rampart.toml` if it exists (not an error
    /// if missing).
    pub look_for_default_file: bool,
    /// Environment variables to consider (the binary passes
    /// `std::env::vars()`; tests pass their own list). Only `RAMPART_*`
    /// variables and `DATABASE_URL` are read.
    pub env: Vec<(String, String)>,
    /// Flag overrides as (dotted key, value string), e.g.
    /// `("listen", "0.0.0.0:8080")` or `("queues.email-send.timeout", "30s")`.
    /// Highest precedence.
    pub overrides: Vec<(String, String)>,
}

/// Where a value came from, for error messages.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// A configuration file.
    File(PathBuf),
    /// An environment variable, by name.
    Env(String),
    /// A command-line override.
    Flag,
}

impl Source {
    /// How late the layer comes: 1 for a file, 3 for a flag (0 is the
    /// built-in defaults, which have no source).
    pub(crate) fn layer(&self) -> u8 {
        match self {
            Source::File(_) => 1,
            Source::Env(_) => 2,
            Source::Flag => 3,
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::File(path) => write!(f, "in {}", path.display()),
            Source::Env(name) => write!(f, "from {name}"),
            Source::Flag => f.write_str("from the command line"),
        }
    }
}

/// The merged table and, per key path, the source that last set it.
#[derive(Default)]
pub(crate) struct Layers {
    pub(crate) table: Table,
    pub(crate) sources: BTreeMap<Vec<String>, Source>,
}

impl Layers {
    /// Merges a parsed file over the table: tables merge key by key, any other
    /// value replaces what was there.
    pub(crate) fn merge(&mut self, layer: Table, source: &Source) {
        let mut path = Vec::new();
        merge_table(&mut self.table, layer, &mut path, source, &mut self.sources);
    }

    /// Sets one key from a string, converted to the key's kind when it reads
    /// as one (otherwise kept as a string, for validation to report).
    pub(crate) fn set(&mut self, path: &[String], raw: &str, kind: Kind, source: Source) {
        let Some((leaf, parents)) = path.split_last() else {
            return;
        };
        let mut table = &mut self.table;
        for (depth, segment) in parents.iter().enumerate() {
            if !table.contains_key(segment) {
                table.insert(segment.clone(), Value::Table(Table::new()));
                self.sources.insert(path[..=depth].to_vec(), source.clone());
            }
            match table.get_mut(segment) {
                Some(Value::Table(inner)) => table = inner,
                // A value that is not a table is in the way; validation
                // reports it where it was set.
                _ => return,
            }
        }
        table.insert(leaf.clone(), convert(raw, kind));
        self.sources.insert(path.to_vec(), source);
    }
}

fn merge_table(
    base: &mut Table,
    layer: Table,
    path: &mut Vec<String>,
    source: &Source,
    sources: &mut BTreeMap<Vec<String>, Source>,
) {
    for (key, value) in layer {
        path.push(key.clone());
        match (base.get_mut(&key), value) {
            (Some(Value::Table(inner)), Value::Table(layer)) => merge_table(inner, layer, path, source, sources),
            (_, value) => {
                record_all(&value, path, source, sources);
                base.insert(key, value);
            }
        }
        path.pop();
    }
}

/// Records `source` for a value and everything nested in it.
fn record_all(value: &Value, path: &mut Vec<String>, source: &Source, sources: &mut BTreeMap<Vec<String>, Source>) {
    sources.insert(path.clone(), source.clone());
    if let Value::Table(table) = value {
        for (key, value) in table {
            path.push(key.clone());
            record_all(value, path, source, sources);
            path.pop();
        }
    }
}

/// Reads a string from the environment or a flag as the kind its key expects.
fn convert(raw: &str, kind: Kind) -> Value {
    let text = raw.trim();
    let converted = match kind {
        Kind::Int => text.parse().ok().map(Value::Integer),
        Kind::Float => text.parse().ok().map(Value::Float),
        Kind::Bool => match text.to_ascii_lowercase().as_str() {
            "true" => Some(Value::Boolean(true)),
            "false" => Some(Value::Boolean(false)),
            _ => None,
        },
        Kind::List => {
            let items = text.split(',').map(str::trim).filter(|item| !item.is_empty());
            Some(Value::Array(items.map(|item| Value::String(item.to_string())).collect()))
        }
        Kind::Text | Kind::Table => None,
    };
    converted.unwrap_or_else(|| Value::String(raw.to_string()))
}

/// Reads the configuration file, if any; a failure to read is an error unless
/// the file was only looked for and is not there.
pub(crate) fn read_file(sources: &ConfigSources, errors: &mut Vec<String>) -> Option<(PathBuf, String)> {
    let (path, required) = match (&sources.file, sources.look_for_default_file) {
        (Some(path), _) => (path.clone(), true),
        (None, true) => (PathBuf::from(DEFAULT_FILE), false),
        (None, false) => return None,
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => Some((path, text)),
        Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            errors.push(format!("{}: cannot read the configuration file: {e}", path.display()));
            None
        }
    }
}

/// One line for a TOML syntax error: the file, line and column, and toml's message.
pub(crate) fn toml_error(file: &str, text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim().replace('\n', "; ");
    let position = e.span().and_then(|span| text.get(..span.start)).map(|before| {
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, column)
    });
    match position {
        Some((line, column)) => format!("{file}: invalid TOML at line {line}, column {column}: {message}"),
        None => format!("{file}: invalid TOML: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(keys: &[&str]) -> Vec<String> {
        keys.iter().map(|k| k.to_string()).collect()
    }

    #[test]
    fn each_key_remembers_the_layer_that_set_it_last() {
        let base = "listen = \"a\"\n[queue_defaults]\nlease = \"1s\"".parse().unwrap();
        let mut layers = Layers { table: base, sources: BTreeMap::new() };
        let file = Source::File(PathBuf::from("/etc/rampart.toml"));
        layers.merge("[queue_defaults]\nmax_attempts = 4\n[queues.a]\npaused = true".parse().unwrap(), &file);
        layers.set(&path(&["queues", "a", "paused"]), "FALSE", Kind::Bool, Source::Env("RAMPART_X".into()));
        layers.set(&path(&["ratelimit", "trusted_proxies"]), "::1, 10.0.0.0/8,", Kind::List, Source::Flag);
        layers.set(&path(&["queue_defaults", "max_attempts"]), "many", Kind::Int, Source::Flag);

        let shown = |keys: &[&str]| layers.sources.get(&path(keys)).map(|s| s.to_string());
        assert_eq!(shown(&["listen"]), None, "a built-in default has no source");
        assert_eq!(shown(&["queue_defaults", "lease"]), None, "tables merge key by key");
        assert_eq!(shown(&["queues", "a"]).as_deref(), Some("in /etc/rampart.toml"));
        assert_eq!(shown(&["queues", "a", "paused"]).as_deref(), Some("from RAMPART_X"));
        assert_eq!(shown(&["ratelimit"]).as_deref(), Some("from the command line"));
        assert_eq!(layers.table["queues"]["a"]["paused"], Value::Boolean(false));
        assert_eq!(layers.table["ratelimit"]["trusted_proxies"], Value::Array(vec!["::1".into(), "10.0.0.0/8".into()]));
        assert_eq!(layers.table["queue_defaults"]["max_attempts"], Value::String("many".into()), "left to the checks");
    }
}
