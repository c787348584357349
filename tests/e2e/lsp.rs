//! The language server end to end: the built `omega-lsp` over stdio, driven by the test
//! client of `omega_tests::lsp`, with the loopback LLM server for answers and faults.

use std::time::Duration;

use serde_json::{json, Value};

use omega_tests::llm_server::{LlmServer, Reply};
use omega_tests::lsp::{file_uri, position, range, LspClient, Options};
use omega_tests::{repo_root, TempDir};

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

/// The key the tests' LLM server requires; no output of the server may contain it.
const KEY: &str = "sk-omega-test-5ecr3t-key";

/// A project directory, the loopback LLM server, and a language server configured to use it.
struct Setup {
    dir: TempDir,
    llm: LlmServer,
    client: LspClient,
}

impl Setup {
    fn new(trusted: bool) -> Setup {
        Setup::with(trusted, json!({}), Vec::new())
    }

    /// With `limits` as the `omega.limits` settings and more environment variables.
    fn with(trusted: bool, limits: Value, env: Vec<(String, String)>) -> Setup {
        let dir = TempDir::new("lsp");
        let llm = LlmServer::start();
        llm.require_key(KEY);
        let options = json!({
            "limits": limits,
            "eval": {"trusted": trusted, "onSave": true},
            "llm": {
                "adapter": "openai",
                "baseUrl": llm.openai_url(),
                "model": "loopback-model",
                "apiKeyEnv": "OMEGA_LSP_TEST_KEY",
                "cacheDir": dir.join("cache").display().to_string(),
            },
        });
        let client = LspClient::start(Options {
            initialization_options: options,
            // The whole log on stderr, so that `assert_no_key` scans it too.
            env: [vec![("OMEGA_LSP_TEST_KEY".to_string(), KEY.to_string()), ("OMEGA_LOG".into(), "debug".into())], env]
                .concat(),
            cwd: Some(dir.path().to_path_buf()),
            ..Options::default()
        });
        Setup { dir, llm, client }
    }

    /// Writes `text` to NAME in the project and opens it; its URI.
    fn open(&mut self, name: &str, text: &str) -> String {
        let path = self.dir.join(name);
        std::fs::write(&path, text).expect("write the file");
        let uri = file_uri(&path);
        self.client.open(&uri, text);
        self.client.diagnostics(&uri, 1);
        uri
    }

    /// Everything the server wrote, checked for the key.
    fn assert_no_key(&self) {
        let out = self.client.output_text();
        assert!(self.client.stderr_text().contains(" DEBUG "), "the scan covers the server's debug log");
        assert!(!out.contains(KEY), "the API key appears in the server's output");
        assert!(!out.contains("5ecr3t"), "part of the API key appears in the server's output");
    }
}

fn labels(hints: &[Value]) -> Vec<String> {
    hints.iter().map(|h| h["label"].as_str().unwrap_or("").to_string()).collect()
}

fn has_label(hints: &[Value], label: &str) -> bool {
    labels(hints).iter().any(|l| l == label)
}

#[test]
fn inline_answer_and_form_value_after_save() {
    let mut s = Setup::new(true);
    s.llm.on("capital of France", Reply::answer("Paris\nis the capital."));
    let text = "(define answer (effect infer.op \"What is the capital of France?\"))\n(string-length answer)\n(display answer)\n";
    let uri = s.open("answer.omega", text);
    s.client.save(&uri);
    let status = s.client.eval_status(&uri, "done");
    assert_eq!(status["llmCalls"], 1);
    assert_eq!(status["version"], 1);
    assert!(status["elapsedMs"].is_u64());
    let hints = s.client.wait_hints(&uri, |h| h.len() >= 3);
    assert_eq!(labels(&hints), vec!["Paris", "=> answer", "=> 21"], "{hints:#?}");
    // The answer sits right after the effect form; its tooltip has the whole text and metadata.
    assert_eq!(hints[0]["position"], position(0, 65));
    let tooltip = hints[0]["tooltip"]["value"].as_str().unwrap();
    assert!(tooltip.contains("Paris\nis the capital."), "{tooltip}");
    assert!(tooltip.contains("loopback-model") && tooltip.contains("fresh"), "{tooltip}");
    // The program's output reaches the client.
    let out = s.client.wait("omega/output", |p| p["uri"] == uri.as_str());
    assert!(out["text"].as_str().unwrap().contains("Paris"));
    s.client.wait("window/logMessage", |p| p["message"].as_str().unwrap_or("").contains("Paris"));
    // The run reported progress: begin, then end.
    s.client.wait("$/progress", |p| p["value"]["kind"] == "begin" && p["value"]["cancellable"] == true);
    s.client.wait("$/progress", |p| p["value"]["kind"] == "end");
    assert_eq!(s.llm.requests(), 1);
    s.assert_no_key();
}

#[test]
fn pending_mark_then_the_answer_with_a_slow_server() {
    let mut s = Setup::new(true);
    s.llm.on("slow", Reply::answer("finally").after(Duration::from_millis(1500)));
    let uri = s.open("slow.omega", "(effect infer.op \"a slow question\")\n");
    s.client.save(&uri);
    s.client.eval_status(&uri, "running");
    let pending = s.client.wait_hints(&uri, |h| has_label(h, "⏳"));
    assert_eq!(pending.len(), 1, "{pending:#?}");
    assert!(s.llm.wait_until(Duration::from_secs(10), |l| l.in_flight() == 1));
    assert!(has_label(&s.client.inlay_hints(&uri), "⏳"), "the mark shows while the request is on the wire");
    let hints = s.client.wait_hints(&uri, |h| has_label(h, "finally"));
    assert!(!has_label(&hints, "⏳"), "{hints:#?}");
    s.client.eval_status(&uri, "done");
    // The client was asked to refresh its hints.
    s.client.wait("workspace/inlayHint/refresh", |_| true);
}

#[test]
fn cancel_mid_run_drops_the_requests_in_flight() {
    let mut s = Setup::new(true);
    s.llm.on("forever", Reply::answer("too late").after(Duration::from_secs(60)));
    let text = "(parallel (lambda () (effect infer.op \"forever 1\")) (lambda () (effect infer.op \"forever 2\")))\n";
    let uri = s.open("cancel.omega", text);
    s.client.save(&uri);
    assert!(s.llm.wait_until(Duration::from_secs(20), |l| l.in_flight() == 2), "both calls reach the server");
    let r = s.client.command("omega.cancel", json!([uri]));
    assert_eq!(r["cancelled"], true);
    s.client.eval_status(&uri, "cancelled");
    assert!(s.llm.wait_until(Duration::from_secs(5), |l| l.in_flight() == 0), "in flight: {}", s.llm.in_flight());
    let hints = s.client.wait_hints(&uri, |h| !has_label(h, "⏳"));
    assert!(hints.is_empty(), "{hints:#?}");
}

#[test]
fn a_new_save_cancels_the_old_run() {
    let mut s = Setup::new(true);
    s.llm.on("forever", Reply::answer("too late").after(Duration::from_secs(60)));
    let uri = s.open("resave.omega", "(effect infer.op \"forever\")\n");
    s.client.save(&uri);
    assert!(s.llm.wait_until(Duration::from_secs(20), |l| l.in_flight() == 1));
    // An edit, then a save: the status of each run names the version it evaluated.
    s.client.change(&uri, 2, (1, 0), (1, 0), "(+ 1 2)\n");
    s.client.save(&uri);
    assert_eq!(s.client.eval_status(&uri, "cancelled")["version"], 1);
    s.client.wait("omega/evalStatus", |p| p["uri"] == uri.as_str() && p["state"] == "running" && p["version"] == 2);
    // The second run sends its own request once the first one's is dropped.
    assert!(s.llm.wait_until(Duration::from_secs(10), |l| l.requests() + l.in_flight() >= 2 && l.disconnects() >= 1));
    assert!(s.llm.wait_until(Duration::from_secs(10), |l| l.in_flight() == 1), "only the new run's call is in flight");
}

#[test]
fn a_second_save_answers_from_the_cache() {
    let mut s = Setup::new(true);
    s.llm.on("cache me", Reply::answer("kept"));
    let uri = s.open("cache.omega", "(effect infer.op \"cache me\")\n");
    s.client.save(&uri);
    s.client.eval_status(&uri, "done");
    assert_eq!(s.llm.requests(), 1);
    s.client.save(&uri);
    s.client.eval_status(&uri, "done");
    assert_eq!(s.llm.requests(), 1, "no new request: the answer came from the cache");
    let hints = s.client.wait_hints(&uri, |h| {
        h.iter().any(|x| x["label"] == "kept" && x["tooltip"]["value"].as_str().unwrap_or("").contains("cached"))
    });
    assert_eq!(hints.len(), 1, "a top-level call shows its answer once: {hints:#?}");
}

#[test]
fn untrusted_workspaces_send_nothing_to_the_llm() {
    let mut s = Setup::new(false);
    let uri = s.open("untrusted.omega", "(effect infer.op \"never sent\")\n");
    s.client.save(&uri);
    let r = s.client.command("omega.runFile", json!([uri]));
    assert_eq!(r["started"], false);
    assert!(r["message"].as_str().unwrap().contains("trust"), "{r}");
    // Analysis still works.
    s.client.change(&uri, 2, (0, 0), (0, 0), "(nope)\n");
    let diags = s.client.diagnostics(&uri, 2);
    assert!(diags.iter().any(|d| code(d) == "omega::unbound"));
    assert_eq!(s.llm.requests() + s.llm.in_flight(), 0);
    assert!(s.client.seen.iter().all(|m| m["method"] != "omega/evalStatus"));
}

#[test]
fn an_eval_error_is_a_diagnostic_with_the_call_stack() {
    let mut s = Setup::new(true);
    let text = "(define (first-of x)\n  (car x))\n(define (go) (+ 1 (first-of 5)))\n(go)\n";
    let uri = s.open("error.omega", text);
    s.client.save(&uri);
    s.client.eval_status(&uri, "failed");
    let p = s.client.wait("textDocument/publishDiagnostics", |p| {
        p["uri"] == uri.as_str()
            && p["diagnostics"].as_array().is_some_and(|d| d.iter().any(|d| code(d) == "omega::eval-error"))
    });
    let d = p["diagnostics"].as_array().unwrap().iter().find(|d| code(d) == "omega::eval-error").unwrap().clone();
    assert_eq!(d["severity"], 1);
    assert_eq!(d["range"]["start"], position(1, 2), "at (car x): {d:#}");
    assert!(d["message"].as_str().unwrap().contains("car"), "{d:#}");
    let related = d["relatedInformation"].as_array().expect("the call stack");
    let lines: Vec<u64> = related.iter().map(|r| r["location"]["range"]["start"]["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, vec![2], "the call in `go`: {related:#?}");
    assert_eq!(related[0]["message"], "in `go`");
    // The next run clears it.
    s.client.change(&uri, 2, (3, 0), (3, 4), "1");
    s.client.save(&uri);
    s.client.eval_status(&uri, "done");
    let p = s.client.wait("textDocument/publishDiagnostics", |p| {
        p["uri"] == uri.as_str()
            && p["version"] == 2
            && p["diagnostics"].as_array().is_some_and(|d| d.iter().all(|d| code(d) != "omega::eval-error"))
    });
    assert!(p["diagnostics"].as_array().unwrap().is_empty(), "{p:#}");
}

#[test]
fn a_failing_llm_call_names_the_status() {
    let mut s = Setup::new(true);
    s.llm.on("refused", Reply::status(400));
    let uri = s.open("llm-error.omega", "(define x 1)\n(effect infer.op \"refused question\")\n");
    s.client.save(&uri);
    s.client.eval_status(&uri, "failed");
    let p = s.client.wait("textDocument/publishDiagnostics", |p| {
        p["diagnostics"].as_array().is_some_and(|d| d.iter().any(|d| code(d) == "omega::llm-error"))
    });
    let diags = p["diagnostics"].as_array().unwrap();
    let errors: Vec<&Value> = diags.iter().filter(|d| code(d) == "omega::llm-error").collect();
    assert_eq!(errors.len(), 1, "one diagnostic per failed call: {diags:#?}");
    assert_eq!(errors[0]["range"]["start"], position(1, 0));
    assert!(errors[0]["message"].as_str().unwrap().contains("400"), "{:#}", errors[0]);
    s.assert_no_key();
}

#[test]
fn an_edit_inside_an_evaluated_form_marks_its_result_stale() {
    let mut s = Setup::new(true);
    let uri = s.open("stale.omega", "(+ 1 2)\n(* 2 3)\n");
    s.client.save(&uri);
    s.client.eval_status(&uri, "done");
    s.client.wait_hints(&uri, |h| labels(h) == ["=> 3", "=> 6"]);
    // Typing inside the second form; a line added above moves both results.
    s.client.change(&uri, 2, (1, 5), (1, 6), "30");
    s.client.change(&uri, 3, (0, 0), (0, 0), ";; note\n");
    let hints = s.client.wait_hints(&uri, |h| labels(h) == ["=> 3", "↻ => 6"]);
    assert_eq!(hints[0]["position"], position(1, 7));
    assert_eq!(hints[1]["position"], position(2, 8));
}

const FEATURES: &str = "\
;; Adds one to its argument.
(define (inc x) (+ x 1))
(define total 0)
(define s (make-serializer))
(set! total (inc total))
(inc
  2)
";

fn at(uri: &str, line: u32, character: u32) -> Value {
    json!({"textDocument": {"uri": uri}, "position": position(line, character)})
}

fn opened(text: &str) -> (LspClient, &'static str) {
    let mut c = LspClient::start(Options::default());
    let uri = "file:///work/features.omega";
    c.open(uri, text);
    c.diagnostics(uri, 1);
    (c, uri)
}

#[test]
fn hover_shows_signatures_docs_and_lock_order_notes() {
    let (mut c, uri) = opened(FEATURES);
    let h = c.request("textDocument/hover", at(uri, 4, 13));
    let text = h["contents"]["value"].as_str().unwrap();
    assert!(text.contains("(inc x)") && text.contains("Adds one to its argument."), "{text}");
    assert_eq!(h["range"], range((4, 13), (4, 16)));
    // Built-ins and special forms: the usage line and the doc of the language's tables.
    for ((line, character), name) in [((1, 17), "+"), ((1, 1), "define"), ((3, 11), "make-serializer")] {
        let h = c.request("textDocument/hover", at(uri, line, character));
        let text = h["contents"]["value"].as_str().unwrap();
        let (usage, doc) = omega_syntax::builtins::documentation(name)
            .or_else(|| omega_syntax::forms::documentation(name))
            .expect("a documented name");
        assert!(text.contains(usage) && text.contains(doc), "hover on {name}: {text}");
    }

    let mut c = LspClient::start(Options::default());
    let uri = "file:///work/deadlock.omega";
    c.open(uri, &example("01-chapter-deadlock.omega"));
    c.diagnostics(uri, 1);
    let h = c.request("textDocument/hover", at(uri, 3, 10));
    let text = h["contents"]["value"].as_str().unwrap();
    assert!(text.contains("Lock order") && text.contains("possible deadlock"), "{text}");
}

#[test]
fn completion_and_signature_help() {
    let (mut c, uri) = opened(FEATURES);
    c.change(uri, 2, (7, 0), (7, 0), "(in");
    c.diagnostics(uri, 2);
    let items = c.request("textDocument/completion", at(uri, 7, 3));
    let labels: Vec<&str> = items.as_array().unwrap().iter().map(|i| i["label"].as_str().unwrap()).collect();
    assert!(labels.contains(&"inc") && labels.contains(&"inexact"), "{labels:?}");
    assert!(!labels.contains(&"total"), "filtered by the prefix: {labels:?}");
    c.change(uri, 3, (7, 0), (7, 3), "(effect ");
    c.diagnostics(uri, 3);
    let items = c.request("textDocument/completion", at(uri, 7, 8));
    let labels: Vec<&str> = items.as_array().unwrap().iter().map(|i| i["label"].as_str().unwrap()).collect();
    assert!(labels.contains(&"infer.op") && !labels.contains(&"inc"), "{labels:?}");
    let infer = items.as_array().unwrap().iter().find(|i| i["label"] == "infer.op").unwrap();
    let doc = infer["documentation"]["value"].as_str().unwrap_or_default();
    assert!(doc.contains("Asks the configured LLM"), "the op's doc in its completion item: {infer}");

    let help = c.request("textDocument/signatureHelp", at(uri, 4, 17));
    assert_eq!(help["signatures"][0]["label"], "(inc x)");
    assert_eq!(help["activeParameter"], 0);
    let help = c.request("textDocument/signatureHelp", at(uri, 1, 21));
    assert_eq!(help["signatures"][0]["label"], omega_syntax::builtins::documentation("+").unwrap().0);
    assert_eq!(help["signatures"][0]["parameters"][0]["label"], "z …");
}

#[test]
fn definition_references_highlight_and_rename() {
    let (mut c, uri) = opened(FEATURES);
    let def = c.request("textDocument/definition", at(uri, 5, 2));
    assert_eq!(def["range"], range((1, 9), (1, 12)));
    let mut params = at(uri, 1, 10);
    params["context"] = json!({"includeDeclaration": true});
    let refs = c.request("textDocument/references", params);
    let lines: Vec<u64> =
        refs.as_array().unwrap().iter().map(|r| r["range"]["start"]["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, vec![1, 4, 5]);
    let hl = c.request("textDocument/documentHighlight", at(uri, 2, 9));
    assert_eq!(hl.as_array().unwrap().len(), 3, "define, set! target and read: {hl:#}");

    assert!(c.request("textDocument/prepareRename", at(uri, 1, 17)).is_null(), "built-ins are not renamed");
    assert_eq!(c.request("textDocument/prepareRename", at(uri, 5, 2)), range((5, 1), (5, 4)));
    let mut params = at(uri, 5, 2);
    params["newName"] = json!("increment");
    let edit = c.request("textDocument/rename", params.clone());
    let edits = edit["changes"][uri].as_array().unwrap();
    assert_eq!(edits.len(), 3);
    assert!(edits.iter().all(|e| e["newText"] == "increment"));
    params["newName"] = json!("two words");
    let err = c.request_raw("textDocument/rename", params).unwrap_err();
    assert!(err["message"].as_str().unwrap().contains("not an identifier"), "{err}");
}

#[test]
fn symbols_semantic_tokens_folding_and_selection() {
    let (mut c, uri) = opened(FEATURES);
    let symbols = c.request("textDocument/documentSymbol", json!({"textDocument": {"uri": uri}}));
    let got: Vec<(String, u64)> = symbols
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap().to_string(), s["kind"].as_u64().unwrap()))
        .collect();
    assert_eq!(got, vec![("inc".into(), 12), ("total".into(), 13), ("s".into(), 19)]);
    let ws = c.request("workspace/symbol", json!({"query": "TOT"}));
    assert_eq!(ws[0]["name"], "total");

    let legend = c.initialize_result["capabilities"]["semanticTokensProvider"]["legend"].clone();
    let modifiers: Vec<&str> =
        legend["tokenModifiers"].as_array().unwrap().iter().map(|m| m.as_str().unwrap()).collect();
    let bit = |name: &str| 1u64 << modifiers.iter().position(|m| *m == name).unwrap();
    let tokens = c.request("textDocument/semanticTokens/full", json!({"textDocument": {"uri": uri}}));
    let data: Vec<u64> = tokens["data"].as_array().unwrap().iter().map(|n| n.as_u64().unwrap()).collect();
    let (mut line, mut col) = (0, 0);
    let mut decoded = Vec::new();
    for t in data.chunks(5) {
        line += t[0];
        col = if t[0] == 0 { col + t[1] } else { t[1] };
        decoded.push((line, col, t[2], t[4]));
    }
    let find = |l: u64, ch: u64| decoded.iter().find(|t| t.0 == l && t.1 == ch).copied().unwrap();
    assert_ne!(find(3, 8).3 & bit("serializer"), 0, "`s` is a serializer: {decoded:?}");
    assert_ne!(find(4, 6).3 & bit("sharedState"), 0, "`total` is assigned shared state");
    assert_ne!(find(1, 9).3 & bit("declaration"), 0);
    let ranged = c.request(
        "textDocument/semanticTokens/range",
        json!({"textDocument": {"uri": uri}, "range": range((4, 0), (5, 0))}),
    );
    assert!(ranged["data"].as_array().unwrap().len() < data.len());

    let folds = c.request("textDocument/foldingRange", json!({"textDocument": {"uri": uri}}));
    assert!(folds.as_array().unwrap().iter().any(|f| f["startLine"] == 5 && f["endLine"] == 6), "{folds:#}");
    let sel =
        c.request("textDocument/selectionRange", json!({"textDocument": {"uri": uri}, "positions": [position(1, 19)]}));
    assert_eq!(sel[0]["range"], range((1, 19), (1, 20)));
    assert_eq!(sel[0]["parent"]["range"], range((1, 16), (1, 23)));
    assert_eq!(sel[0]["parent"]["parent"]["range"], range((1, 0), (1, 24)));
}

#[test]
fn formatting_whole_and_range() {
    let text = "(define x\n 1)\n(define (f a)\n      a)\n";
    let (mut c, uri) = opened(text);
    let edits = c.request(
        "textDocument/formatting",
        json!({"textDocument": {"uri": uri}, "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    assert_eq!(edits[0]["newText"], "(define x\n  1)\n(define (f a)\n  a)\n");
    assert_eq!(edits[0]["newText"], omega_syntax::format::format(text).unwrap());
    let edits = c.request(
        "textDocument/rangeFormatting",
        json!({"textDocument": {"uri": uri}, "range": range((2, 3), (2, 4)), "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    assert_eq!(edits.as_array().unwrap().len(), 1);
    assert_eq!(edits[0]["range"], range((2, 0), (3, 8)), "only the form the range touches");
    assert_eq!(edits[0]["newText"], "(define (f a)\n  a)");
}

/// Applies LSP text edits (non-overlapping) to a text with `\n` lines and ASCII columns.
fn apply_edits(text: &str, edits: &[Value]) -> String {
    let offset = |p: &Value| {
        let (line, ch) = (p["line"].as_u64().unwrap() as usize, p["character"].as_u64().unwrap() as usize);
        text.split_inclusive('\n').take(line).map(str::len).sum::<usize>() + ch
    };
    let mut spans: Vec<(usize, usize, String)> = edits
        .iter()
        .map(|e| (offset(&e["range"]["start"]), offset(&e["range"]["end"]), e["newText"].as_str().unwrap().to_string()))
        .collect();
    spans.sort_by_key(|s| std::cmp::Reverse(s.0));
    let mut out = text.to_string();
    for (a, b, t) in spans {
        out.replace_range(a..b, &t);
    }
    out
}

#[test]
fn a_quick_fix_round_trip_removes_the_deadlock() {
    let mut c = LspClient::start(Options::default());
    let uri = "file:///work/fix.omega";
    let text = example("01-chapter-deadlock.omega");
    c.open(uri, &text);
    let diags = c.diagnostics(uri, 1);
    let d = diags.iter().find(|d| code(d) == "omega::deadlock-order").unwrap().clone();
    let actions = c.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri}, "range": d["range"], "context": {"diagnostics": [d]}}),
    );
    let actions = actions.as_array().unwrap();
    let titles: Vec<&str> = actions.iter().map(|a| a["title"].as_str().unwrap()).collect();
    assert!(titles.iter().any(|t| t.starts_with("suppress")), "the suppression fix is offered: {titles:?}");
    let fix = actions.iter().find(|a| a["isPreferred"] == true).unwrap_or(&actions[0]);
    assert_eq!(fix["kind"], "quickfix");
    let edits = fix["edit"]["changes"][uri].as_array().unwrap();
    let fixed = apply_edits(&text, edits);
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": edits.iter().rev().map(|e| json!({"range": e["range"], "text": e["newText"]})).collect::<Vec<_>>()}),
    );
    let after = c.diagnostics(uri, 2);
    assert!(after.iter().all(|d| code(d) != "omega::deadlock-order"), "{after:#?}");
    // The server's text is the text the edits make.
    let edits = c.request(
        "textDocument/formatting",
        json!({"textDocument": {"uri": uri}, "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    let formatted = edits.as_array().unwrap().first().map(|e| e["newText"].as_str().unwrap().to_string());
    assert_eq!(formatted.unwrap_or(fixed.clone()), omega_syntax::format::format(&fixed).unwrap());
}

#[test]
fn code_lenses_run_each_form_and_cancel_while_running() {
    let mut s = Setup::new(true);
    s.llm.on("forever", Reply::answer("late").after(Duration::from_secs(60)));
    let uri = s.open("lens.omega", "(define a 1)\n(effect infer.op \"forever\")\n");
    let lenses = s.client.request("textDocument/codeLens", json!({"textDocument": {"uri": uri}}));
    let titles: Vec<&str> =
        lenses.as_array().unwrap().iter().map(|l| l["command"]["title"].as_str().unwrap()).collect();
    assert_eq!(titles, vec!["▶ Run file", "▶ Run", "▶ Run"]);
    // Running one form through its lens's command.
    let lens = &lenses.as_array().unwrap()[1];
    s.client.command(lens["command"]["command"].as_str().unwrap(), lens["command"]["arguments"].clone());
    s.client.eval_status(&uri, "done");
    s.client.wait_hints(&uri, |h| labels(h) == ["=> a"]);
    s.client.command("omega.runFile", json!([uri]));
    assert!(s.llm.wait_until(Duration::from_secs(20), |l| l.in_flight() == 1));
    let lenses = s.client.request("textDocument/codeLens", json!({"textDocument": {"uri": uri}}));
    let cancel =
        lenses.as_array().unwrap().iter().find(|l| l["command"]["title"] == "■ Cancel").expect("a cancel lens");
    s.client.command("omega.cancel", cancel["command"]["arguments"].clone());
    s.client.eval_status(&uri, "cancelled");
    assert!(s.llm.wait_until(Duration::from_secs(5), |l| l.in_flight() == 0));
}

fn shown_messages(c: &LspClient, needle: &str) -> usize {
    c.seen
        .iter()
        .filter(|m| {
            m["method"] == "window/showMessage" && m["params"]["message"].as_str().unwrap_or("").contains(needle)
        })
        .count()
}

#[test]
fn a_panicking_handler_is_reported_once_and_the_server_lives_on() {
    let env = vec![("OMEGA_LSP_PANIC_IN".to_string(), "textDocument/hover".to_string())];
    let mut s = Setup::with(true, json!({}), env);
    let uri = s.open("panic.omega", "(define x 1)\n(+ x 2)\n");
    for _ in 0..2 {
        let err = s.client.request_raw("textDocument/hover", at(&uri, 1, 1)).unwrap_err();
        assert_eq!(err["code"], -32603, "an internal error for this request: {err}");
    }
    s.client.wait("window/showMessage", |p| p["message"].as_str().unwrap_or("").contains("internal error"));
    // Other requests, edits and runs go on.
    let items = s.client.request("textDocument/completion", at(&uri, 1, 1));
    assert!(!items.as_array().unwrap().is_empty());
    s.client.save(&uri);
    s.client.eval_status(&uri, "done");
    s.client.wait_hints(&uri, |h| labels(h) == ["=> x", "=> 3"]);
    assert_eq!(shown_messages(&s.client, "internal error"), 1, "reported once");
}

#[test]
fn a_panicking_run_is_reported_and_the_server_lives_on() {
    let env = vec![("OMEGA_LSP_PANIC_IN".to_string(), "run".to_string())];
    let mut s = Setup::with(true, json!({}), env);
    let uri = s.open("panic-run.omega", "(define x 1)\n");
    s.client.save(&uri);
    s.client.eval_status(&uri, "failed");
    s.client.wait("window/showMessage", |p| p["message"].as_str().unwrap_or("").contains("internal error"));
    let h = s.client.request("textDocument/hover", at(&uri, 0, 9));
    assert!(h["contents"]["value"].as_str().unwrap().contains("top-level definition"));
    // The file's worker survives and takes the next run.
    s.client.save(&uri);
    s.client.eval_status(&uri, "failed");
}

#[test]
fn an_endless_loop_ends_at_its_budget_while_hover_answers() {
    let mut s = Setup::with(true, json!({"timeoutSecs": 2}), Vec::new());
    let uri = s.open("loop.omega", "(define (spin n) (spin (+ n 1)))\n(spin 0)\n");
    s.client.save(&uri);
    s.client.eval_status(&uri, "running");
    // While the buffer spins, requests are answered.
    let h = s.client.request("textDocument/hover", at(&uri, 1, 2));
    assert!(h["contents"]["value"].as_str().unwrap().contains("(spin n)"));
    assert!(
        s.client.try_wait("omega/evalStatus", Duration::ZERO, |p| p["state"] != "running").is_none(),
        "still running"
    );
    s.client.eval_status(&uri, "failed");
    let p = s.client.wait("textDocument/publishDiagnostics", |p| {
        p["diagnostics"].as_array().is_some_and(|d| d.iter().any(|d| code(d) == "omega::eval-error"))
    });
    let message = p["diagnostics"][0]["message"].as_str().unwrap().to_string();
    assert!(message.contains("timeout"), "{message}");
}

#[test]
fn a_memory_bomb_ends_at_its_budget_and_the_server_lives_on() {
    let mut s = Setup::with(true, json!({"memoryMb": 64}), Vec::new());
    // Each step doubles a string: without the budget, the allocator would abort the server.
    let uri = s.open("bomb.omega", "(define (grow s) (grow (string-append s s)))\n(grow \"x\")\n");
    s.client.save(&uri);
    s.client.eval_status(&uri, "failed");
    let p = s.client.wait("textDocument/publishDiagnostics", |p| {
        p["diagnostics"].as_array().is_some_and(|d| d.iter().any(|d| code(d) == "omega::eval-error"))
    });
    let message = p["diagnostics"][0]["message"].as_str().unwrap().to_string();
    assert!(
        message.starts_with("memory limit exceeded: the run needs more than 64 MB")
            && message.contains("`omega.limits.memoryMb`")
            && !message.contains("--max-memory"),
        "{message}"
    );
    // The server goes on answering, and runs the next save.
    let h = s.client.request("textDocument/hover", at(&uri, 0, 10));
    assert!(h["contents"]["value"].as_str().unwrap().contains("(grow s)"));
    s.client.save(&uri);
    s.client.eval_status(&uri, "running");
}

#[test]
fn exit_ends_the_process_with_a_run_and_calls_in_flight() {
    let mut s = Setup::new(true);
    s.llm.on("forever", Reply::answer("late").after(Duration::from_secs(60)));
    let uri = s.open("exit.omega", "(effect infer.op \"forever\")\n");
    s.client.save(&uri);
    assert!(s.llm.wait_until(Duration::from_secs(20), |l| l.in_flight() == 1));
    let Setup { client, llm, dir: _dir } = s;
    let (elapsed, status, output) = client.shutdown_and_exit();
    assert!(status.success(), "{status:?}");
    assert!(elapsed < Duration::from_secs(5), "exit took {elapsed:?}");
    assert!(llm.wait_until(Duration::from_secs(5), |l| l.in_flight() == 0), "the connection closed with the process");
    assert!(!output.contains(KEY));
}

#[test]
fn a_very_large_file_is_not_analysed_and_the_user_is_told() {
    let mut c = LspClient::start(Options::default());
    let uri = "file:///work/huge.omega";
    let text = "(define x (car 1 2))\n".repeat(150_000);
    c.open(uri, &text);
    let diags = c.diagnostics(uri, 1);
    assert!(diags.is_empty(), "no analysis above the limit");
    c.wait("window/showMessage", |p| p["message"].as_str().unwrap_or("").contains("larger than"));
    // Still served: folding comes from the syntax tree.
    let h = c.request("textDocument/foldingRange", json!({"textDocument": {"uri": uri}}));
    assert!(h.is_array());
}

#[test]
fn malformed_requests_get_json_rpc_errors() {
    let mut c = LspClient::start(Options::default());
    let err = c.request_raw("textDocument/hover", json!({"nonsense": true})).unwrap_err();
    assert_eq!(err["code"], -32602, "{err}");
    let err = c.request_raw("workspace/executeCommand", json!({"command": "omega.nope", "arguments": []})).unwrap_err();
    assert!(err["message"].as_str().unwrap().contains("unknown command"), "{err}");
    let err =
        c.request_raw("workspace/executeCommand", json!({"command": "omega.runFile", "arguments": [42]})).unwrap_err();
    assert!(err["message"].as_str().unwrap().contains("URI"), "{err}");
    // A request for a document that is not open answers nothing, not an error.
    assert!(c.request("textDocument/hover", at("file:///nowhere.omega", 0, 0)).is_null());
}

/// A deterministic generator for edit sequences (xorshift), so a failure reproduces.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

#[test]
fn random_edit_sequences_give_the_diagnostics_of_the_final_text() {
    const PIECES: &[&str] = &[
        "(",
        ")",
        " ",
        "\n",
        "\r\n",
        "x",
        "(define (f a) (+ a 1))",
        "(f 1 2)",
        "\"s\"",
        ";; c\n",
        "é",
        "(effect nope.op 1)",
    ];
    let mut c = LspClient::start(Options::default());
    for seed in 1..=4u64 {
        let uri = format!("file:///work/random-{seed}.omega");
        let mut text = example("01-chapter-deadlock.omega");
        c.open(&uri, &text);
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let steps = 30;
        for version in 2..2 + steps {
            // Work on `\n`-separated lines of ASCII and `é` (one UTF-16 unit, two bytes).
            let lines: Vec<&str> = text.split('\n').collect();
            let pick = |rng: &mut Rng| {
                let line = rng.below(lines.len());
                let chars: Vec<(usize, char)> = lines[line].char_indices().collect();
                let col = rng.below(chars.len() + 1);
                let byte = chars.get(col).map_or(lines[line].len(), |c| c.0);
                let offset = lines[..line].iter().map(|l| l.len() + 1).sum::<usize>() + byte;
                (line as u32, col as u32, offset)
            };
            let (a, b) = (pick(&mut rng), pick(&mut rng));
            let (a, b) = if a.2 <= b.2 { (a, b) } else { (b, a) };
            let insert: String = (0..rng.below(3)).map(|_| PIECES[rng.below(PIECES.len())]).collect();
            // A `\r` before the cut would make the split CRLF a lone CR plus a line: keep pairs whole.
            if text[..a.2].ends_with('\r') || text[..b.2].ends_with('\r') {
                continue;
            }
            c.change(&uri, version as i64, (a.0, a.1), (b.0, b.1), &insert);
            text.replace_range(a.2..b.2, &insert);
        }
        let last = (1 + steps) as i64;
        let incremental = c.diagnostics(&uri, last);
        let fresh_uri = format!("file:///work/random-{seed}-fresh.omega");
        c.open(&fresh_uri, &text);
        let fresh = c.diagnostics(&fresh_uri, 1);
        let strip = |ds: &[Value]| -> Vec<Value> {
            ds.iter()
                .map(|d| {
                    let mut d = d.clone();
                    d.as_object_mut().unwrap().remove("relatedInformation");
                    d
                })
                .collect()
        };
        assert_eq!(strip(&incremental), strip(&fresh), "seed {seed}: final text {text:?}");
    }
}

#[test]
fn a_run_time_deadlock_is_a_diagnostic_with_the_other_task_blocked_place() {
    let mut s = Setup::new(true);
    let text = std::fs::read_to_string(repo_root().join("tests/chapter/39-5-deadlock.omega")).unwrap();
    let uri = s.open("deadlock-run.omega", &text);
    s.client.save(&uri);
    s.client.eval_status(&uri, "failed");
    let p = s.client.wait("textDocument/publishDiagnostics", |p| {
        p["diagnostics"].as_array().is_some_and(|d| d.iter().any(|d| code(d) == "omega::eval-error"))
    });
    let d = p["diagnostics"].as_array().unwrap().iter().find(|d| code(d) == "omega::eval-error").unwrap().clone();
    assert!(d["message"].as_str().unwrap().contains("deadlock"), "{d:#}");
    // Which task finds the cycle depends on which answer comes first: the error sits where
    // one agent waits (line 8 or 12) and names the other agent's blocked place.
    let (here, there) = (
        d["range"]["start"].clone(),
        if d["range"]["start"] == position(11, 7) { position(7, 7) } else { position(11, 7) },
    );
    assert!(here == position(11, 7) || here == position(7, 7), "where a task waits: {d:#}");
    let related = d["relatedInformation"].as_array().expect("related places");
    assert!(
        related
            .iter()
            .any(|r| r["message"].as_str().unwrap().contains("is blocked") && r["location"]["range"]["start"] == there),
        "the other task's blocked place: {related:#?}"
    );
    // The static warning is there too, beside the run's error.
    assert!(p["diagnostics"].as_array().unwrap().iter().any(|d| code(d) == "omega::deadlock-order"));
}

#[test]
fn run_form_evaluates_in_the_session_the_last_run_left() {
    let mut s = Setup::new(true);
    let uri = s.open("repl.omega", "(define a 41)\n");
    s.client.save(&uri);
    s.client.eval_status(&uri, "done");
    // A form typed after the run, evaluated alone: it sees `a` from the file's last run.
    s.client.change(&uri, 2, (1, 0), (1, 0), "(+ a 1)\n");
    s.client.diagnostics(&uri, 2);
    s.client.command("omega.runForm", json!([uri, position(1, 3)]));
    s.client.eval_status(&uri, "done");
    s.client.wait_hints(&uri, |h| labels(h) == ["=> a", "=> 42"]);
}

#[test]
fn closing_a_file_cancels_its_run() {
    let mut s = Setup::new(true);
    s.llm.on("forever", Reply::answer("late").after(Duration::from_secs(60)));
    let uri = s.open("close.omega", "(effect infer.op \"forever\")\n");
    s.client.save(&uri);
    assert!(s.llm.wait_until(Duration::from_secs(20), |l| l.in_flight() == 1));
    s.client.notify("textDocument/didClose", json!({"textDocument": {"uri": uri}}));
    s.client.wait("textDocument/publishDiagnostics", |p| p["uri"] == uri.as_str() && p["diagnostics"] == json!([]));
    assert!(s.llm.wait_until(Duration::from_secs(5), |l| l.in_flight() == 0), "the call was dropped");
}

#[test]
fn cancelling_the_progress_cancels_the_run() {
    let mut s = Setup::new(true);
    s.llm.on("forever", Reply::answer("late").after(Duration::from_secs(60)));
    let uri = s.open("progress.omega", "(effect infer.op \"forever\")\n");
    s.client.save(&uri);
    let begin = s.client.wait("$/progress", |p| p["value"]["kind"] == "begin");
    assert!(s.llm.wait_until(Duration::from_secs(20), |l| l.in_flight() == 1));
    s.client.notify("window/workDoneProgress/cancel", json!({"token": begin["token"]}));
    s.client.eval_status(&uri, "cancelled");
    assert!(s.llm.wait_until(Duration::from_secs(5), |l| l.in_flight() == 0));
}
