//! The schema language: which variables an app reads and what each must hold.
//!
//! ```toml
//! [vars.DATABASE_URL]
//! required = true
//! kind = "url"
//! schemes = ["postgres", "postgresql"]
//! description = "The app's PostgreSQL database."
//!
//! [vars.NODE_ENV]
//! kind = "enum"
//! one_of = ["development", "test", "production"]
//! default = "development"
//!
//! [vars.STRIPE_WEBHOOK_SECRET]
//! kind = "secret"
//! required_if = "STRIPE_SECRET_KEY"   # or "NODE_ENV=production"
//! pattern = "whsec_[A-Za-z0-9]+"
//! ```
//!
//! Every key of a variable is optional; `kind` defaults to `string`. A
//! `pattern` must match the whole value. `required_if` is either `"OTHER"`
//! (required when OTHER is set and not empty) or `"OTHER=value"` (required
//! when OTHER holds exactly that value). `secret = true` hides the value of
//! a variable of any kind, as `kind = "secret"` does for a string.
//! [`Schema::parse`] reports every mistake of a schema at once
//! ([`SchemaErrors`]), each naming its variable and key.

use std::collections::BTreeMap;
use std::fmt;

use regex::Regex;
use serde::Deserialize;

use crate::check::{self, Rules};

rampart_core::named_enum! {
    /// What a variable holds, which decides how its value is read.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Kind {
        /// Any text.
        String = "string",
        /// An absolute URL, optionally limited to some schemes.
        Url = "url",
        /// A whole number, optionally between `min` and `max`.
        Int = "int",
        /// `true`/`false`, `1`/`0`, `yes`/`no` or `on`/`off` (any case).
        Bool = "bool",
        /// A human duration: `"500ms"`, `"30s"`, `"5m"`, `"1h30m"`, `"7d"`.
        Duration = "duration",
        /// One of the values listed in `one_of`.
        Enum = "enum",
        /// Text whose value is never shown.
        Secret = "secret",
    }
    parse_error: UnknownKind = |_| UnknownKind;
}

/// A `kind` the schema language does not have.
#[derive(Debug, Clone, Copy)]
pub struct UnknownKind;

/// A variable as the schema file writes it, before its checks.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVar {
    #[serde(default)]
    required: bool,
    required_if: Option<String>,
    kind: Option<String>,
    #[serde(default)]
    secret: bool,
    min_len: Option<usize>,
    max_len: Option<usize>,
    pattern: Option<String>,
    one_of: Option<Vec<String>>,
    schemes: Option<Vec<String>>,
    min: Option<i64>,
    max: Option<i64>,
    default: Option<toml::Value>,
    example: Option<String>,
    description: Option<String>,
}

/// The schema file as written: `[vars.NAME]` tables, in the file's order.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchema {
    #[serde(default)]
    vars: BTreeMap<toml::Spanned<String>, RawVar>,
}

/// When a variable that is not always required is required.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// When the other variable is set and not empty.
    Set(String),
    /// When the other variable holds exactly this value.
    Equals(String, String),
}

impl Condition {
    /// Reads `"OTHER"` or `"OTHER=value"`.
    fn parse(text: &str) -> Condition {
        match text.split_once('=') {
            Some((name, value)) => Condition::Equals(name.trim().to_string(), value.to_string()),
            None => Condition::Set(text.trim().to_string()),
        }
    }

    /// The variable the condition reads.
    pub fn var(&self) -> &str {
        match self {
            Condition::Set(name) | Condition::Equals(name, _) => name,
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Condition::Set(name) => write!(f, "when {name} is set"),
            Condition::Equals(name, value) => write!(f, "when {name}={value}"),
        }
    }
}

/// One variable of a checked schema.
#[derive(Debug, Clone)]
pub struct Var {
    /// The variable's name.
    pub name: String,
    /// Whether it must be set (and not empty) whatever else holds.
    pub required: bool,
    /// When it must be set, if not always.
    pub required_if: Option<Condition>,
    /// What it holds, and whether its value may be shown.
    pub rules: Rules,
    /// The value the app uses when it is not set, if any.
    pub default: Option<String>,
    /// The value `.env.example` shows, if any.
    pub example: Option<String>,
    /// What it is for, written above it in `.env.example`.
    pub description: Option<String>,
}

/// A checked schema: its variables in the order the file lists them.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    /// The variables, in the file's order.
    pub vars: Vec<Var>,
}

/// Every mistake found in a schema, one sentence each naming the variable
/// and key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.join("; "))]
pub struct SchemaErrors(pub Vec<String>);

impl Schema {
    /// Reads and checks a schema, reporting every mistake at once.
    pub fn parse(text: &str) -> Result<Schema, SchemaErrors> {
        let raw: RawSchema = toml::from_str(text).map_err(|e| SchemaErrors(vec![one_line(e.message(), e.span())]))?;
        let mut entries: Vec<(toml::Spanned<String>, RawVar)> = raw.vars.into_iter().collect();
        entries.sort_by_key(|(name, _)| name.span().start);
        let names: Vec<String> = entries.iter().map(|(name, _)| name.get_ref().clone()).collect();
        let mut errors = Vec::new();
        let mut vars = Vec::new();
        for (name, raw) in entries {
            let name = name.into_inner();
            let before = errors.len();
            let var = build(&name, raw, &names, &mut errors);
            if errors.len() == before {
                vars.extend(var);
            }
        }
        if errors.is_empty() { Ok(Schema { vars }) } else { Err(SchemaErrors(errors)) }
    }

    /// The variable of that name, if the schema has it.
    pub fn var(&self, name: &str) -> Option<&Var> {
        self.vars.iter().find(|v| v.name == name)
    }
}

/// The parser's message as one line, with where it is when known.
fn one_line(message: &str, span: Option<std::ops::Range<usize>>) -> String {
    let text = message.trim().replace('\n', " ");
    match span {
        Some(span) => format!("the schema is not valid TOML at byte {}: {text}", span.start),
        None => format!("the schema is not valid: {text}"),
    }
}

/// Checks one variable's keys, pushing each mistake; the variable when it
/// has none.
fn build(name: &str, raw: RawVar, names: &[String], errors: &mut Vec<String>) -> Option<Var> {
    let mut err = |key: &str, problem: String| errors.push(format!("vars.{name}.{key}: {problem}"));
    if !valid_name(name) {
        err("name", "a variable name is letters, digits and `_`, not starting with a digit".into());
    }
    let kind = match raw.kind.as_deref().map(str::parse::<Kind>) {
        None => Kind::String,
        Some(Ok(kind)) => kind,
        Some(Err(_)) => {
            let all: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
            err("kind", format!("must be one of {}", all.join(", ")));
            Kind::String
        }
    };
    let required_if = raw.required_if.as_deref().map(Condition::parse);
    if let Some(condition) = &required_if {
        if raw.required {
            err("required_if", "says when the variable is required, so `required = true` cannot be set with it".into());
        }
        if condition.var() == name {
            err("required_if", "cannot depend on the variable itself".into());
        } else if !names.iter().any(|n| n == condition.var()) {
            err("required_if", format!("names {}, which the schema does not define", condition.var()));
        }
    }
    let only = |present: bool, kinds: &[Kind]| -> Option<String> {
        (present && !kinds.contains(&kind)).then(|| {
            let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
            format!("applies only to kind {}, not {kind}", names.join(" or "))
        })
    };
    let textual = [Kind::String, Kind::Secret, Kind::Url];
    for (key, present, kinds) in [
        ("min_len", raw.min_len.is_some(), &textual[..]),
        ("max_len", raw.max_len.is_some(), &textual[..]),
        ("pattern", raw.pattern.is_some(), &textual[..]),
        ("schemes", raw.schemes.is_some(), &[Kind::Url][..]),
        ("min", raw.min.is_some(), &[Kind::Int][..]),
        ("max", raw.max.is_some(), &[Kind::Int][..]),
        ("one_of", raw.one_of.is_some(), &[Kind::Enum, Kind::String][..]),
    ] {
        if let Some(problem) = only(present, kinds) {
            err(key, problem);
        }
    }
    if let (Some(min), Some(max)) = (raw.min_len, raw.max_len)
        && min > max
    {
        err("min_len", format!("{min} is more than max_len {max}"));
    }
    if let (Some(min), Some(max)) = (raw.min, raw.max)
        && min > max
    {
        err("min", format!("{min} is more than max {max}"));
    }
    if kind == Kind::Enum && raw.one_of.as_ref().is_none_or(Vec::is_empty) {
        err("one_of", "kind enum needs the list of its values".into());
    }
    if raw.schemes.as_ref().is_some_and(Vec::is_empty) {
        err("schemes", "an empty list would refuse every URL; leave it out to allow any scheme".into());
    }
    let pattern = match raw.pattern.as_deref().map(|p| Regex::new(&format!("^(?:{p})$"))) {
        None => None,
        Some(Ok(regex)) => Some(regex),
        Some(Err(e)) => {
            err("pattern", format!("is not a valid regular expression: {}", first_line(&e.to_string())));
            None
        }
    };
    let secret = raw.secret || kind == Kind::Secret;
    let rules = Rules {
        kind,
        secret,
        min_len: raw.min_len,
        max_len: raw.max_len,
        pattern,
        one_of: raw.one_of,
        schemes: raw.schemes.map(|s| s.into_iter().map(|s| s.to_ascii_lowercase()).collect()),
        min: raw.min,
        max: raw.max,
    };
    let default = match raw.default {
        None => None,
        Some(toml::Value::String(s)) => Some(s),
        Some(toml::Value::Integer(n)) => Some(n.to_string()),
        Some(toml::Value::Boolean(b)) => Some(b.to_string()),
        Some(_) => {
            err("default", "must be a string, a whole number or a boolean".into());
            None
        }
    };
    if let Some(value) = &default {
        if raw.required {
            err("default", "a required variable has no default; leave out one of the two".into());
        }
        if secret {
            err("default", "a secret has no default: a shared default secret is no secret".into());
        } else if let Err(problem) = check::value(&rules, value) {
            err("default", problem.1);
        }
    }
    if let Some(value) = &raw.example
        && let Err(problem) = check::value(&rules, value)
    {
        err("example", problem.1);
    }
    Some(Var {
        name: name.to_string(),
        required: raw.required,
        required_if,
        rules,
        default,
        example: raw.example,
        description: raw.description,
    })
}

/// True for a portable environment variable name: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The first line of a multi-line message.
fn first_line(text: &str) -> String {
    text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(text: &str) -> Vec<String> {
        Schema::parse(text).expect_err("the schema is refused").0
    }

    #[test]
    fn variables_keep_the_files_order_and_their_rules() {
        let schema = Schema::parse(
            r#"
            [vars.ZETA]
            required = true
            [vars.ALPHA]
            kind = "url"
            schemes = ["Postgres"]
            required_if = "ZETA=on"
            [vars.MIDDLE]
            kind = "int"
            min = 1
            max = 10
            default = 5
            "#,
        )
        .expect("valid");
        let names: Vec<&str> = schema.vars.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["ZETA", "ALPHA", "MIDDLE"]);
        let alpha = schema.var("ALPHA").expect("alpha");
        assert_eq!(alpha.rules.kind, Kind::Url);
        assert_eq!(alpha.rules.schemes.as_deref(), Some(&["postgres".to_string()][..]));
        assert_eq!(alpha.required_if, Some(Condition::Equals("ZETA".into(), "on".into())));
        assert_eq!(schema.var("MIDDLE").and_then(|v| v.default.as_deref()), Some("5"));
        assert!(!schema.var("ZETA").expect("zeta").rules.secret);
    }

    #[test]
    fn a_secret_kind_or_flag_hides_the_value() {
        let schema =
            Schema::parse("[vars.A]\nkind = \"secret\"\n[vars.B]\nkind = \"url\"\nsecret = true\n").expect("valid");
        assert!(schema.vars.iter().all(|v| v.rules.secret));
    }

    #[test]
    fn every_mistake_is_reported_at_once() {
        let got = errors(
            r#"
            [vars.A]
            kind = "number"
            [vars.B]
            kind = "enum"
            [vars.C]
            kind = "int"
            pattern = "x"
            min = 5
            max = 1
            [vars.D]
            required = true
            required_if = "NOPE"
            [vars.E]
            pattern = "("
            [vars.F]
            kind = "int"
            default = "many"
            [vars.G]
            kind = "secret"
            default = "hunter2"
            [vars.H]
            kind = "url"
            schemes = []
            [vars.1X]
            "#,
        );
        let expected = [
            "vars.A.kind: must be one of string, url, int, bool, duration, enum, secret",
            "vars.B.one_of: kind enum needs the list of its values",
            "vars.C.pattern: applies only to kind string or secret or url, not int",
            "vars.C.min: 5 is more than max 1",
            "vars.D.required_if: says when the variable is required, so `required = true` cannot be set with it",
            "vars.D.required_if: names NOPE, which the schema does not define",
            "vars.E.pattern: is not a valid regular expression: regex parse error:",
            "vars.F.default: \"many\" is not a whole number",
            "vars.G.default: a secret has no default: a shared default secret is no secret",
            "vars.H.schemes: an empty list would refuse every URL; leave it out to allow any scheme",
            "vars.1X.name: a variable name is letters, digits and `_`, not starting with a digit",
        ];
        assert_eq!(got.len(), expected.len(), "{got:#?}");
        for (got, expected) in got.iter().zip(expected) {
            assert!(got.starts_with(expected), "{got:?} should start with {expected:?}");
        }
    }

    #[test]
    fn unknown_keys_and_bad_toml_are_refused() {
        let got = errors("[vars.A]\nrequird = true\n");
        assert!(got[0].contains("unknown field `requird`"), "{got:?}");
        let got = errors("[vars.A\n");
        assert!(got[0].starts_with("the schema is not valid TOML at byte"), "{got:?}");
        let got = errors("[other]\n");
        assert!(got[0].contains("unknown field `other`"), "{got:?}");
    }

    #[test]
    fn names_are_portable() {
        assert!(valid_name("DATABASE_URL"));
        assert!(valid_name("_X1"));
        assert!(!valid_name(""));
        assert!(!valid_name("9LIVES"));
        assert!(!valid_name("A-B"));
    }
}
