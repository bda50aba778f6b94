//! An environment checked against a schema: every problem, named by its
//! variable, none showing a secret.
//!
//! A variable that is not set, or set to the empty string, counts as unset:
//! it is a problem only when it is required (always, or by its
//! `required_if`). A set variable must read as its kind and pass its rules.
//! Messages show a value only when the variable is not secret, cut to a few
//! dozen characters, with a URL's password replaced by `***`.

use std::collections::BTreeMap;

use regex::Regex;
use serde::Serialize;

use crate::schema::{Condition, Kind, Schema};

/// At most this many characters of a value appear in a message.
const SHOWN_CHARS: usize = 40;

/// What a variable's value must be, beyond being set.
#[derive(Debug, Clone)]
pub struct Rules {
    /// How the value is read.
    pub kind: Kind,
    /// Whether the value may never be shown.
    pub secret: bool,
    /// The fewest characters the value may have.
    pub min_len: Option<usize>,
    /// The most characters the value may have.
    pub max_len: Option<usize>,
    /// A regular expression the whole value must match.
    pub pattern: Option<Regex>,
    /// The values allowed, compared exactly.
    pub one_of: Option<Vec<String>>,
    /// The URL schemes allowed, lowercase.
    pub schemes: Option<Vec<String>>,
    /// The smallest number allowed.
    pub min: Option<i64>,
    /// The largest number allowed.
    pub max: Option<i64>,
}

rampart_core::named_enum! {
    /// The kind of a problem, for scripts.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum ProblemCode {
        /// A required variable is not set.
        Missing = "missing",
        /// A required variable is set to the empty string.
        Empty = "empty",
        /// The value does not read as the variable's kind.
        Invalid = "invalid",
        /// The value is shorter than `min_len` or longer than `max_len`.
        Length = "length",
        /// The value does not match `pattern`.
        Pattern = "pattern",
        /// The value is not one of `one_of`.
        NotAllowed = "not_allowed",
        /// The URL's scheme is not one of `schemes`.
        Scheme = "scheme",
        /// The number is outside `min`..`max`.
        Range = "range",
    }
}

impl Serialize for ProblemCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// One problem of one variable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The variable.
    pub var: String,
    /// What kind of problem it is.
    pub code: ProblemCode,
    /// What is wrong and what is expected, without a secret's value.
    pub message: String,
}

/// The outcome of a check.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// How many variables the schema defines.
    pub checked: usize,
    /// Every problem, in the schema's order.
    pub problems: Vec<Problem>,
    /// Variables the environment sets that the schema does not define
    /// (reported only for a dotenv file: a process has many others).
    pub unknown: Vec<String>,
}

impl Report {
    /// True when no variable has a problem.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Checks an environment (name → value) against the schema.
pub fn check(schema: &Schema, env: &BTreeMap<String, String>) -> Report {
    let set = |name: &str| env.get(name).filter(|v| !v.is_empty());
    let mut problems = Vec::new();
    for var in &schema.vars {
        let mut problem = |code, message: String| problems.push(Problem { var: var.name.clone(), code, message });
        let required_because = if var.required {
            Some(String::new())
        } else {
            var.required_if
                .as_ref()
                .filter(|condition| match condition {
                    Condition::Set(other) => set(other).is_some(),
                    Condition::Equals(other, value) => env.get(other) == Some(value),
                })
                .map(|condition| format!(" {condition}"))
        };
        match env.get(&var.name) {
            None => {
                if let Some(when) = required_because {
                    problem(ProblemCode::Missing, format!("is required{when} but not set"));
                }
            }
            Some(value) if value.is_empty() => {
                if let Some(when) = required_because {
                    problem(ProblemCode::Empty, format!("is required{when} but set to the empty string"));
                }
            }
            Some(value) => {
                if let Err((code, message)) = self::value(&var.rules, value) {
                    problem(code, message);
                }
            }
        }
    }
    Report { checked: schema.vars.len(), problems, unknown: Vec::new() }
}

/// The names an environment sets that the schema does not define.
pub fn unknown(schema: &Schema, env: &BTreeMap<String, String>) -> Vec<String> {
    env.keys().filter(|name| schema.var(name).is_none()).cloned().collect()
}

/// Checks one set value against its rules: the first problem found, with a
/// message that shows the value only when it is not secret.
pub fn value(rules: &Rules, value: &str) -> Result<(), (ProblemCode, String)> {
    let shown = || if rules.secret { "the value (secret, not shown)".to_string() } else { show(value) };
    let chars = value.chars().count();
    if let Some(min) = rules.min_len
        && chars < min
    {
        return Err((ProblemCode::Length, format!("is shorter than {min} characters")));
    }
    if let Some(max) = rules.max_len
        && chars > max
    {
        return Err((ProblemCode::Length, format!("is longer than {max} characters")));
    }
    match rules.kind {
        Kind::String | Kind::Secret | Kind::Enum => {}
        Kind::Url => url_value(rules, value, &shown)?,
        Kind::Int => {
            let n: i64 = value
                .trim()
                .parse()
                .map_err(|_| (ProblemCode::Invalid, format!("{} is not a whole number", shown())))?;
            if rules.min.is_some_and(|min| n < min) || rules.max.is_some_and(|max| n > max) {
                let bound = |b: Option<i64>| b.map_or_else(|| "…".to_string(), |b| b.to_string());
                return Err((
                    ProblemCode::Range,
                    format!("{} is outside {}..{}", shown(), bound(rules.min), bound(rules.max)),
                ));
            }
        }
        Kind::Bool => {
            if parse_bool(value).is_none() {
                return Err((
                    ProblemCode::Invalid,
                    format!("{} is not a boolean: write true or false (or 1/0, yes/no, on/off)", shown()),
                ));
            }
        }
        Kind::Duration => {
            if let Err(e) = rampart_core::duration::parse_duration(value.trim()) {
                return Err((
                    ProblemCode::Invalid,
                    format!(
                        "{} is not a duration: {}; write e.g. \"500ms\", \"30s\", \"5m\" or \"1h30m\"",
                        shown(),
                        e.reason
                    ),
                ));
            }
        }
    }
    if let Some(allowed) = &rules.one_of
        && !allowed.iter().any(|a| a == value)
    {
        return Err((ProblemCode::NotAllowed, format!("{} is not one of {}", shown(), allowed.join(", "))));
    }
    if let Some(pattern) = &rules.pattern
        && !pattern.is_match(value)
    {
        let written = pattern.as_str().trim_start_matches("^(?:").trim_end_matches(")$");
        return Err((ProblemCode::Pattern, format!("{} does not match the pattern {written}", shown())));
    }
    Ok(())
}

/// Checks an absolute URL and its scheme.
fn url_value(rules: &Rules, value: &str, shown: &dyn Fn() -> String) -> Result<(), (ProblemCode, String)> {
    let url = url::Url::parse(value).map_err(|e| (ProblemCode::Invalid, format!("{} is not a URL: {e}", shown())))?;
    if !url.has_host() && url.cannot_be_a_base() {
        return Err((ProblemCode::Invalid, format!("{} is not a URL with a host", shown())));
    }
    if let Some(schemes) = &rules.schemes
        && !schemes.iter().any(|s| s == url.scheme())
    {
        return Err((
            ProblemCode::Scheme,
            format!("has the scheme {}, expected {}", url.scheme(), schemes.join(" or ")),
        ));
    }
    Ok(())
}

/// Reads a boolean the way apps commonly do.
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// A value as a message shows it: quoted, a URL's password as `***`, cut to
/// [`SHOWN_CHARS`] characters.
fn show(value: &str) -> String {
    let redacted = match url::Url::parse(value) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        _ => value.to_string(),
    };
    let flat: String = redacted.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if flat.chars().count() <= SHOWN_CHARS {
        format!("{flat:?}")
    } else {
        let cut: String = flat.chars().take(SHOWN_CHARS - 1).collect();
        format!("{:?}", format!("{cut}…"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The typical Node app's schema, as the README shows it.
    const NODE_APP: &str = r#"
        [vars.NODE_ENV]
        kind = "enum"
        one_of = ["development", "test", "production"]
        default = "development"

        [vars.PORT]
        kind = "int"
        min = 1
        max = 65535
        default = 3000

        [vars.DATABASE_URL]
        required = true
        kind = "url"
        schemes = ["postgres", "postgresql"]

        [vars.REDIS_URL]
        kind = "url"
        schemes = ["redis", "rediss"]
        required_if = "NODE_ENV=production"

        [vars.STRIPE_SECRET_KEY]
        kind = "secret"
        required = true
        pattern = "sk_(test|live)_[A-Za-z0-9]+"

        [vars.STRIPE_WEBHOOK_SECRET]
        kind = "secret"
        required_if = "STRIPE_SECRET_KEY"
        min_len = 16

        [vars.SLACK_WEBHOOK_URL]
        kind = "url"
        secret = true
        schemes = ["https"]

        [vars.SENTRY_DSN]
        kind = "url"
        required_if = "NODE_ENV=production"

        [vars.OPENAI_API_KEY]
        kind = "secret"
        required = true
        min_len = 20

        [vars.REQUEST_TIMEOUT]
        kind = "duration"
        default = "30s"

        [vars.FEATURE_SIGNUPS]
        kind = "bool"
    "#;

    const GOOD: &[(&str, &str)] = &[
        ("NODE_ENV", "production"),
        ("PORT", "8080"),
        ("DATABASE_URL", "postgres://app:pw@db:5432/app"),
        ("REDIS_URL", "rediss://cache:6380"),
        ("STRIPE_SECRET_KEY", "sk_live_abc123"),
        ("STRIPE_WEBHOOK_SECRET", "whsec_0123456789abcdef"),
        ("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T/B/x"),
        ("SENTRY_DSN", "https://key@o1.ingest.sentry.io/2"),
        ("OPENAI_API_KEY", "sk-proj-0123456789abcdefghij"),
        ("REQUEST_TIMEOUT", "1m30s"),
        ("FEATURE_SIGNUPS", "yes"),
    ];

    /// Variables to set (`Some`) or remove (`None`) from the good environment.
    type Changes<'a> = &'a [(&'a str, Option<&'a str>)];

    /// The good environment with some variables changed (`None` removes one),
    /// checked; the problems as `VAR code: message`.
    fn problems(changes: Changes) -> Vec<String> {
        let schema = Schema::parse(NODE_APP).expect("the README's schema is valid");
        let mut env: BTreeMap<String, String> = GOOD.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        for (name, value) in changes {
            match value {
                Some(v) => env.insert(name.to_string(), v.to_string()),
                None => env.remove(*name),
            };
        }
        let report = check(&schema, &env);
        assert_eq!(report.checked, schema.vars.len());
        report.problems.iter().map(|p| format!("{} {}: {}", p.var, p.code, p.message)).collect()
    }

    #[test]
    fn a_good_environment_has_no_problem() {
        assert_eq!(problems(&[]), Vec::<String>::new());
        // Optional variables may be unset or empty; a development setup needs no Redis or Sentry.
        let dev = problems(&[
            ("NODE_ENV", Some("development")),
            ("REDIS_URL", None),
            ("SENTRY_DSN", Some("")),
            ("PORT", None),
            ("FEATURE_SIGNUPS", Some("")),
        ]);
        assert_eq!(dev, Vec::<String>::new());
    }

    #[test]
    fn bad_environments_report_every_problem_at_once() {
        let table: &[(Changes, &[&str])] = &[
            (&[("DATABASE_URL", None)], &["DATABASE_URL missing: is required but not set"]),
            (&[("DATABASE_URL", Some(""))], &["DATABASE_URL empty: is required but set to the empty string"]),
            (
                &[("DATABASE_URL", Some("mysql://root:hunter2@db/app"))],
                &["DATABASE_URL scheme: has the scheme mysql, expected postgres or postgresql"],
            ),
            (&[("DATABASE_URL", Some("db:5432"))], &["DATABASE_URL invalid: \"db:5432\" is not a URL with a host"]),
            (&[("PORT", Some("eighty"))], &["PORT invalid: \"eighty\" is not a whole number"]),
            (&[("PORT", Some("70000"))], &["PORT range: \"70000\" is outside 1..65535"]),
            (
                &[("NODE_ENV", Some("staging"))],
                &["NODE_ENV not_allowed: \"staging\" is not one of development, test, production"],
            ),
            (
                &[("REDIS_URL", None), ("SENTRY_DSN", None)],
                &[
                    "REDIS_URL missing: is required when NODE_ENV=production but not set",
                    "SENTRY_DSN missing: is required when NODE_ENV=production but not set",
                ],
            ),
            (
                &[("STRIPE_WEBHOOK_SECRET", None)],
                &["STRIPE_WEBHOOK_SECRET missing: is required when STRIPE_SECRET_KEY is set but not set"],
            ),
            (
                &[("STRIPE_SECRET_KEY", Some("pk_live_oops"))],
                &[
                    "STRIPE_SECRET_KEY pattern: the value (secret, not shown) does not match the pattern sk_(test|live)_[A-Za-z0-9]+",
                ],
            ),
            (&[("OPENAI_API_KEY", Some("sk-short"))], &["OPENAI_API_KEY length: is shorter than 20 characters"]),
            (
                &[("SLACK_WEBHOOK_URL", Some("http://hooks.slack.com/services/T/B/x"))],
                &["SLACK_WEBHOOK_URL scheme: has the scheme http, expected https"],
            ),
            (
                &[("REQUEST_TIMEOUT", Some("30"))],
                &[
                    "REQUEST_TIMEOUT invalid: \"30\" is not a duration: a unit is missing; write e.g. \"500ms\", \"30s\", \"5m\" or \"1h30m\"",
                ],
            ),
            (
                &[("FEATURE_SIGNUPS", Some("maybe"))],
                &["FEATURE_SIGNUPS invalid: \"maybe\" is not a boolean: write true or false (or 1/0, yes/no, on/off)"],
            ),
            (
                &[
                    ("DATABASE_URL", None),
                    ("PORT", Some("0")),
                    ("OPENAI_API_KEY", Some("")),
                    ("NODE_ENV", Some("prod")),
                ],
                &[
                    "NODE_ENV not_allowed: \"prod\" is not one of development, test, production",
                    "PORT range: \"0\" is outside 1..65535",
                    "DATABASE_URL missing: is required but not set",
                    "OPENAI_API_KEY empty: is required but set to the empty string",
                ],
            ),
        ];
        for (changes, expected) in table {
            assert_eq!(problems(changes), *expected, "with {changes:?}");
        }
    }

    #[test]
    fn no_message_shows_a_secret_or_a_password() {
        let secrets = ["hunter2", "sk_live_SECRET", "xoxb-SLACK", "whsec_SHORT"];
        let got = problems(&[
            ("DATABASE_URL", Some("mysql://root:hunter2@db/app")),
            ("PORT", Some("postgres://u:hunter2@h/db")),
            ("STRIPE_SECRET_KEY", Some("bad sk_live_SECRET")),
            ("SLACK_WEBHOOK_URL", Some("xoxb-SLACK")),
            ("STRIPE_WEBHOOK_SECRET", Some("whsec_SHORT")),
        ]);
        assert_eq!(got.len(), 5, "{got:#?}");
        assert!(got.iter().any(|p| p.contains("postgres://u:***@h/db")), "{got:#?}");
        for problem in &got {
            for secret in secrets {
                assert!(!problem.contains(secret), "{problem:?} shows {secret:?}");
            }
        }
    }

    #[test]
    fn long_values_are_cut_and_unknown_names_listed() {
        let rules = Rules {
            kind: Kind::Int,
            secret: false,
            min_len: None,
            max_len: None,
            pattern: None,
            one_of: None,
            schemes: None,
            min: None,
            max: None,
        };
        let (_, message) = value(&rules, &"x".repeat(100)).expect_err("not a number");
        assert_eq!(message, format!("\"{}…\" is not a whole number", "x".repeat(39)));
        let schema = Schema::parse(NODE_APP).expect("valid");
        let env = BTreeMap::from([("PORT".to_string(), "1".to_string()), ("EXTRA".to_string(), String::new())]);
        assert_eq!(unknown(&schema, &env), ["EXTRA"]);
    }

    #[test]
    fn the_readme_schema_is_valid_and_its_example_passes() {
        let readme = include_str!("../../../README.md");
        let start = readme.find("A schema for a typical Node app").expect("the README shows the schema");
        let block = &readme[start..];
        let toml_start = block.find("```toml\n").expect("a toml block") + "```toml\n".len();
        let text = &block[toml_start..toml_start + block[toml_start..].find("```").expect("closed")];
        let schema = Schema::parse(text).expect("the README's schema is valid");
        assert_eq!(schema.vars.len(), 10);
        let env = crate::dotenv::parse(&crate::example::render(&schema)).expect("the example reads");
        let report = check(&schema, &env);
        let names: Vec<&str> = report.problems.iter().map(|p| p.var.as_str()).collect();
        assert_eq!(names, ["STRIPE_WEBHOOK_SECRET", "OPENAI_API_KEY"], "only what has no example is missing");
    }

    #[test]
    fn booleans_read_the_common_spellings() {
        for (text, expected) in
            [("TRUE", Some(true)), ("on", Some(true)), ("0", Some(false)), ("No", Some(false)), ("y", None)]
        {
            assert_eq!(parse_bool(text), expected, "{text}");
        }
    }
}
