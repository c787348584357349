//! The language server end to end: the built `omega-lsp` over stdio, driven by the test
//! client of `omega_tests::lsp`, with the loopback LLM server for answers and faults.

use serde_json::{json, Value};

use omega_tests::lsp::{position, range, LspClient, Options};
use omega_tests::repo_root;

fn example(name: &str) -> String {
    std::fs::read_to_string(repo_root().join("tests/analysis-examples").join(name)).expect("read the example")
}

fn code(d: &Value) -> &str {
    d["code"].as_str().unwrap_or("")
}

#[test]
fn deadlock_warning_with_related_places_on_open() {
    let mut c = LspClient::start(Options::default());
    let uri = "file:///work/chapter-deadlock.omega";
    c.open(uri, &example("01-chapter-deadlock.omega"));
    let diags = c.diagnostics(uri, 1);
    let d = diags.iter().find(|d| code(d) == "omega::deadlock-order").expect("a deadlock warning");
    assert_eq!(d["severity"], 2);
    assert_eq!(d["range"]["start"], position(16, 9), "at the inner acquisition of agent 2 (line 17)");
    let related = d["relatedInformation"].as_array().expect("related places");
    let lines: Vec<u64> = related.iter().map(|r| r["location"]["range"]["start"]["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, vec![10, 7, 13, 5], "the other order, both holds, the parallel");
    assert!(related.iter().all(|r| r["location"]["uri"] == uri));
    assert_eq!(d["data"]["locks"], json!(["term-a-serializer", "term-b-serializer"]));
    assert!(d["data"]["fixes"].as_array().is_some_and(|f| !f.is_empty()), "quick fixes travel in data");
}

#[test]
fn diagnostics_follow_edits_and_carry_the_version() {
    let mut c = LspClient::start(Options::default());
    let uri = "file:///work/edits.omega";
    c.open(uri, "(define x 1)\r\n(display y)\n");
    let diags = c.diagnostics(uri, 1);
    let unbound = diags.iter().find(|d| code(d) == "omega::unbound").expect("y is unbound");
    assert_eq!(unbound["range"], range((1, 9), (1, 10)));
    // Several quick edits: only their result matters, and it names the last version.
    c.change(uri, 2, (1, 9), (1, 10), "z");
    c.change(uri, 3, (1, 9), (1, 10), "x");
    let diags = c.diagnostics(uri, 3);
    assert!(diags.is_empty(), "{diags:#?}");
}

#[test]
fn utf8_positions_when_the_client_offers_them() {
    let mut c = LspClient::start(Options { utf8: true, ..Options::default() });
    assert_eq!(c.initialize_result["capabilities"]["positionEncoding"], "utf-8");
    let uri = "file:///work/utf8.omega";
    c.open(uri, "(list \"é😀\" nope)\n");
    let diags = c.diagnostics(uri, 1);
    // `nope` starts at byte 15 (é is 2 bytes, 😀 is 4).
    assert_eq!(diags[0]["range"], range((0, 15), (0, 19)));

    let mut c = LspClient::start(Options::default());
    assert_eq!(c.initialize_result["capabilities"]["positionEncoding"], "utf-16");
    c.open(uri, "(list \"é😀\" nope)\n");
    let diags = c.diagnostics(uri, 1);
    // In UTF-16 units: é is 1, 😀 is 2.
    assert_eq!(diags[0]["range"], range((0, 12), (0, 16)));
}
