//! Each scheme checked against requests signed by the provider's own
//! library: Stripe's `stripe`, Slack's `slack_sdk`, the `standardwebhooks`
//! package and Twilio's `twilio` from Python, GitHub's
//! `@octokit/webhooks-methods` from Node, on sample payloads from their
//! documentation (`tests/providers/`).
//!
//! The libraries are installed once into the target directory's scratch
//! space (a virtualenv and an npm folder of this test's own). Without
//! Python or Node the test says it skipped; under `CI=true` it fails.

use std::path::{Path, PathBuf};
use std::process::Command;

use http::{HeaderMap, HeaderName, HeaderValue};
use rampart_core::id::SourceName;
use rampart_core::time::UnixMillis;
use rampart_webhook::event::extract;
use rampart_webhook::{Inbound, SourceSpec, verify};
use serde::Deserialize;

/// One signed request, as `sign.py` and `sign.mjs` print them.
#[derive(Debug, Deserialize)]
struct Case {
    name: String,
    spec: SourceSpec,
    headers: Vec<(String, String)>,
    body: String,
    query: Option<String>,
    now: i64,
    expect: String,
    event: Option<Expected>,
}

#[derive(Debug, Deserialize)]
struct Expected {
    id: String,
    event_type: Option<String>,
    tenant: Option<String>,
}

fn providers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/providers")
}

fn scratch() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("webhook-providers")
}

/// Runs a command (bounded by `timeout`), answering its stdout; panics with its stderr on failure.
fn run(what: &str, cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn bounded(seconds: u32, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new("timeout");
    cmd.arg(seconds.to_string()).arg(program);
    cmd
}

/// Whether a tool runs; when not, skipping is only allowed outside CI.
fn available(tool: &str) -> bool {
    let ok = Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success());
    if !ok {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{tool} is required under CI=true (install it)");
        eprintln!("skipped: {tool} is not installed");
    }
    ok
}

fn python_cases() -> Option<Vec<Case>> {
    if !available("python3") {
        return None;
    }
    let venv = scratch().join("venv");
    let requirements = providers_dir().join("requirements.txt");
    let stamp = venv.join("requirements.txt");
    let wanted = std::fs::read_to_string(&requirements).unwrap();
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) {
        let _ = std::fs::remove_dir_all(&venv);
        run("python3 -m venv", bounded(120, "python3").args(["-m", "venv"]).arg(&venv));
        run(
            "pip install",
            bounded(600, venv.join("bin/pip"))
                .args(["install", "-q", "--disable-pip-version-check", "-r"])
                .arg(&requirements),
        );
        std::fs::write(&stamp, wanted).unwrap();
    }
    let out = run("sign.py", bounded(120, venv.join("bin/python")).arg(providers_dir().join("sign.py")));
    Some(serde_json::from_str(&out).unwrap())
}

fn node_cases() -> Option<Vec<Case>> {
    if !available("node") || !available("npm") {
        return None;
    }
    let dir = scratch().join("node");
    std::fs::create_dir_all(&dir).unwrap();
    let manifest = std::fs::read_to_string(providers_dir().join("package.json")).unwrap();
    if std::fs::read_to_string(dir.join("package.json")).ok().as_deref() != Some(manifest.as_str())
        || !dir.join("node_modules").exists()
    {
        std::fs::write(dir.join("package.json"), &manifest).unwrap();
        run(
            "npm install",
            bounded(600, "npm").args(["install", "--no-audit", "--no-fund", "--silent"]).current_dir(&dir),
        );
    }
    // The script resolves its imports from its own folder.
    std::fs::copy(providers_dir().join("sign.mjs"), dir.join("sign.mjs")).unwrap();
    let samples = dir.join("samples");
    std::fs::create_dir_all(&samples).unwrap();
    std::fs::copy(providers_dir().join("samples/github_ping.json"), samples.join("github_ping.json")).unwrap();
    let out = run("sign.mjs", bounded(120, "node").arg(dir.join("sign.mjs")));
    Some(serde_json::from_str(&out).unwrap())
}

fn check(case: &Case) {
    let name = SourceName::new("provider").unwrap();
    let source = case.spec.validate(&name).unwrap_or_else(|p| panic!("{}: {p:?}", case.name));
    let headers: HeaderMap = case
        .headers
        .iter()
        .map(|(k, v)| (k.parse::<HeaderName>().unwrap(), HeaderValue::from_str(v).unwrap()))
        .collect();
    let now = UnixMillis(case.now * 1000);
    let verdict = |body: &[u8]| {
        verify(&source, &Inbound { headers: &headers, body, query: case.query.as_deref(), url: None }, now)
            .map_or_else(|r| r.code().to_string(), |()| "ok".to_string())
    };
    assert_eq!(verdict(case.body.as_bytes()), case.expect, "{}", case.name);
    if case.expect == "ok" {
        // One byte changed anywhere breaks it.
        for at in [0, case.body.len() / 2, case.body.len() - 1] {
            let mut changed = case.body.clone().into_bytes();
            changed[at] ^= 0x01;
            assert_eq!(verdict(&changed), "SIGNATURE_INVALID", "{}: byte {at} changed", case.name);
        }
    }
    if let Some(expected) = &case.event {
        let event = extract(&source, &headers, case.body.as_bytes());
        assert_eq!(event.id, expected.id, "{}", case.name);
        assert_eq!(event.event_type, expected.event_type, "{}", case.name);
        assert_eq!(event.tenant, expected.tenant, "{}", case.name);
    }
}

#[test]
fn signatures_made_by_the_providers_own_libraries_verify() {
    let mut checked = Vec::new();
    for cases in [python_cases(), node_cases()].into_iter().flatten() {
        for case in &cases {
            check(case);
            checked.push(case.name.clone());
        }
    }
    eprintln!("{} provider cases checked: {checked:?}", checked.len());
}
