//! Loading configurations in tests: a file written to a temporary
//! directory, the environment and flags given as pairs.

use crate::{Config, ConfigErrors, ConfigSources};

/// Pairs as owned strings.
pub(crate) fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Writes `file` (when given) to a temporary file and loads it with `env`
/// and `overrides`.
pub(crate) fn load(
    file: Option<&str>,
    env: &[(&str, &str)],
    overrides: &[(&str, &str)],
) -> Result<Config, ConfigErrors> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rampart.toml");
    if let Some(text) = file {
        std::fs::write(&path, text).unwrap();
    }
    let sources = ConfigSources {
        file: file.map(|_| path),
        look_for_default_file: false,
        env: owned(env),
        overrides: owned(overrides),
    };
    Config::load(&sources)
}

/// The configuration loaded, which must be valid.
pub(crate) fn ok(file: Option<&str>, env: &[(&str, &str)], overrides: &[(&str, &str)]) -> Config {
    match load(file, env, overrides) {
        Ok(config) => config,
        Err(e) => panic!("expected a valid configuration, got:\n{e}"),
    }
}

/// The problems found, which there must be.
pub(crate) fn errors(file: Option<&str>, env: &[(&str, &str)], overrides: &[(&str, &str)]) -> Vec<String> {
    match load(file, env, overrides) {
        Ok(config) => panic!("expected errors, got {config:#?}"),
        Err(e) => e.0,
    }
}
