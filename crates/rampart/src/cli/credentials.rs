//! The per-user credentials file `rampart login` writes: one API key per
//! server URL, so the CLI finds a key wherever it is run from, not only
//! beside the server's data directory.
//!
//! It lives at `$XDG_CONFIG_HOME/rampart/credentials.toml` (else
//! `~/.config/rampart/credentials.toml`), mode 0600 in a 0700 directory,
//! written whole to a temporary file and renamed over the old one, so a
//! crash never leaves half a file.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

/// The file's contents: a table per server URL.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Credentials {
    #[serde(flatten)]
    servers: BTreeMap<String, Entry>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    api_key: String,
}

/// Where the credentials file is, or `None` when neither
/// `XDG_CONFIG_HOME` nor `HOME` says where a user's configuration goes.
pub fn path() -> Option<PathBuf> {
    let nonempty = |name| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let base = nonempty("XDG_CONFIG_HOME").or_else(|| nonempty("HOME").map(|home| home.join(".config")))?;
    Some(base.join("rampart").join("credentials.toml"))
}

/// A server URL as a key of the file: without a trailing slash.
fn server_key(url: &str) -> String {
    url.trim().trim_end_matches('/').to_string()
}

fn read(file: &Path) -> anyhow::Result<Credentials> {
    match std::fs::read_to_string(file) {
        Ok(text) => toml::from_str(&text).with_context(|| {
            format!("{} is not a credentials file; remove it and run `rampart login`", file.display())
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Credentials::default()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", file.display())),
    }
}

/// The key saved for `url` in `file`, if any.
pub fn key_for(file: &Path, url: &str) -> anyhow::Result<Option<String>> {
    Ok(read(file)?.servers.remove(&server_key(url)).map(|entry| entry.api_key))
}

/// Saves `key` for `url` in `file`, keeping the other servers' keys.
pub fn save(file: &Path, url: &str, key: &str) -> anyhow::Result<()> {
    let mut credentials = read(file)?;
    credentials.servers.insert(server_key(url), Entry { api_key: key.to_string() });
    write(file, &credentials)
}

/// Forgets the key for `url`; answers whether there was one.
pub fn forget(file: &Path, url: &str) -> anyhow::Result<bool> {
    let mut credentials = read(file)?;
    let had = credentials.servers.remove(&server_key(url)).is_some();
    if had {
        write(file, &credentials)?;
    }
    Ok(had)
}

fn write(file: &Path, credentials: &Credentials) -> anyhow::Result<()> {
    let dir = file.parent().context("the credentials file has no directory")?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let text = format!(
        "# API keys saved by `rampart login`, one table per server URL.\n{}",
        toml::to_string(credentials).context("cannot write the credentials as TOML")?
    );
    let temporary = file.with_extension("toml.tmp");
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)
        .with_context(|| format!("cannot write {}", temporary.display()))?;
    out.write_all(text.as_bytes())
        .and_then(|()| out.sync_all())
        .with_context(|| format!("cannot write {}", temporary.display()))?;
    std::fs::rename(&temporary, file).with_context(|| format!("cannot replace {}", file.display()))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn keys_are_kept_per_server_and_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("rampart").join("credentials.toml");
        assert_eq!(key_for(&file, "http://a:7433").expect("read"), None);
        save(&file, "http://a:7433/", "rk_a").expect("save");
        save(&file, "https://b.example.com", "rk_b").expect("save");
        assert_eq!(key_for(&file, "http://a:7433").expect("read").as_deref(), Some("rk_a"));
        assert_eq!(key_for(&file, "https://b.example.com/").expect("read").as_deref(), Some("rk_b"));
        let mode = std::fs::metadata(&file).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(forget(&file, "http://a:7433").expect("forget"));
        assert!(!forget(&file, "http://a:7433").expect("forget"));
        assert_eq!(key_for(&file, "http://a:7433").expect("read"), None);
        assert_eq!(key_for(&file, "https://b.example.com").expect("read").as_deref(), Some("rk_b"));
    }

    #[test]
    fn a_file_that_is_not_credentials_says_what_to_do() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("credentials.toml");
        std::fs::write(&file, "not = [toml").expect("write");
        let err = key_for(&file, "http://a").expect_err("not TOML");
        assert!(format!("{err:#}").contains("run `rampart login`"), "{err:#}");
    }
}
