//! The layering of the server's modules, as ARCHITECTURE.md states it: a
//! module uses only modules of lower layers, so no two modules import each
//! other and no arrow points back up. Read from the source: every
//! `crate::…` path outside comments and test code.

use std::collections::BTreeMap;
use std::path::Path;

/// The server's top-level modules by layer, lowest first. `config` is the
/// `rampart-config` crate re-exported, below every module.
const LAYERS: &[&[&str]] = &[
    &["config"],
    &["shutdown", "auth", "alert", "breaker", "telemetry", "connection"],
    &["timer", "ratelimit"],
    &["engine"],
    &["cron", "monitoring", "worker", "webhook", "usage"],
    &["cron", "monitoring", "worker", "webhook", "insight"],
    &["service"],
    &["api"],
    &["server"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// Every `.rs` file under `dir`, with its path relative to `root`.
fn sources(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            out.push((rel, std::fs::read_to_string(&path).unwrap()));
        }
    }
}

/// The modules a file's code names as `crate::NAME`, its comments and
/// its tests (from the first `#[cfg(test)]` on) left out.
fn uses(text: &str) -> Vec<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or("");
    let mut found = Vec::new();
    for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
        for (at, _) in line.match_indices("crate::") {
            let rest = &line[at + "crate::".len()..];
            let name: String = rest.chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
            // Another path that ends in `crate::` (`other_crate::…`) is not ours.
            let whole_word = at == 0 || !line[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_');
            if whole_word && !name.is_empty() {
                found.push(name);
            }
        }
    }
    found
}

#[test]
fn each_module_uses_only_modules_of_lower_layers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &root, &mut files);
    let mut wrong: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (rel, text) in &files {
        let module = rel.split('/').next().unwrap_or("").trim_end_matches(".rs");
        if module == "lib" {
            continue;
        }
        let Some(layer) = layer_of(module) else {
            wrong
                .entry(rel.clone())
                .or_default()
                .push(format!("module `{module}` has no layer: give it one here and in ARCHITECTURE.md"));
            continue;
        };
        for used in uses(text) {
            if used == module {
                continue;
            }
            match layer_of(&used) {
                Some(l) if l < layer => {}
                Some(_) => {
                    wrong.entry(rel.clone()).or_default().push(format!("`{module}` uses `{used}`, not below it"))
                }
                None => wrong.entry(rel.clone()).or_default().push(format!("`{used}` has no layer")),
            }
        }
    }
    assert!(wrong.is_empty(), "the layering is broken:\n{wrong:#?}");
}

#[test]
fn every_module_of_the_layers_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(root.join("lib.rs")).unwrap();
    for module in LAYERS.iter().flat_map(|layer| layer.iter()) {
        let declared = lib.contains(&format!("pub mod {module};")) || lib.contains(&format!(" as {module};"));
        assert!(
            declared,
            "`{module}` is in the layers but not a module of the server: take it out, here and in ARCHITECTURE.md"
        );
    }
}

#[test]
fn the_check_sees_paths_in_code_and_not_in_comments_or_tests() {
    let text = "use crate::engine::Engine;\n/// See [`crate::api`].\nlet x = crate::cron::RETENTION;\n\
                other_crate::api::x();\n#[cfg(test)]\nuse crate::server;\n";
    assert_eq!(uses(text), ["engine", "cron"]);
}
