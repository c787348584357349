//! Tidy checks of the workspace's shape: the layers of ARCHITECTURE.md, read from the
//! `Cargo.toml` files, so an arrow pointing up fails the build's tests.

use std::path::Path;

/// Each crate of the core, the workspace crates it may use, and whether it may link the
/// protocol, async or HTTP crates (only the layers that do I/O may).
const LAYERS: &[(&str, &str, &[&str], bool)] = &[
    ("interp/syntax", "omega-syntax", &[], false),
    ("interp/analysis", "omega-analysis", &["omega-syntax"], false),
    ("interp/eval", "omega-eval", &["omega-syntax"], false),
    ("interp/llm", "omega-llm", &["omega-syntax", "omega-eval"], true),
    ("interp/explore", "omega-explore", &["omega-syntax", "omega-analysis", "omega-eval", "omega-llm"], false),
    ("interp/cli", "omega", &["omega-syntax", "omega-analysis", "omega-eval", "omega-llm", "omega-explore"], true),
];

/// Crates that mean I/O, async or a protocol: the pure layers must not link them.
const IO_CRATES: &[&str] = &["tokio", "reqwest", "serde", "serde_json", "tower-lsp-server", "toml", "rustyline"];

fn manifest(dir: &str) -> toml::Table {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(dir).join("Cargo.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.parse().unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Names of the normal dependencies (not dev- or build-dependencies: tests may use anything).
fn dependencies(m: &toml::Table) -> Vec<String> {
    m.get("dependencies").and_then(|d| d.as_table()).map(|t| t.keys().cloned().collect()).unwrap_or_default()
}

#[test]
fn layers_depend_only_downward() {
    let workspace_crates: Vec<&str> = LAYERS.iter().map(|l| l.1).chain(["omega-lsp", "omega-tests"]).collect();
    let mut wrong = Vec::new();
    for (dir, name, allowed, io) in LAYERS {
        let m = manifest(dir);
        assert_eq!(m["package"]["name"].as_str(), Some(*name), "{dir}/Cargo.toml names another package");
        for dep in dependencies(&m) {
            if workspace_crates.contains(&dep.as_str()) && !allowed.contains(&dep.as_str()) {
                wrong.push(format!("{name} depends on {dep}, a layer it may not use"));
            }
            if !io && IO_CRATES.contains(&dep.as_str()) {
                wrong.push(format!("{name} links {dep}, but it is a pure layer (no I/O, async or protocol)"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_workspace_member_is_known_to_the_layer_table() {
    let root = manifest(".");
    let members: Vec<&str> =
        root["workspace"]["members"].as_array().unwrap().iter().filter_map(|m| m.as_str()).collect();
    for member in members.iter().filter(|m| m.starts_with("interp/")) {
        assert!(LAYERS.iter().any(|l| l.0 == *member), "{member} is a core crate missing from the layer table");
    }
}
