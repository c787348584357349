//! `workspace/symbol` over the whole workspace: the index of the folders' `.omega` files on
//! disk (walked after `initialized`, kept fresh by the file watcher), open documents winning
//! over their files.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use omega_tests::lsp::{file_uri, range, LspClient, Options, TIMEOUT};
use omega_tests::TempDir;

const AGENTS: &str = ";; agents
(define agent-count 2)
(define (plan-trip city)
  (list city agent-count))
";

fn write(path: &Path, text: impl AsRef<[u8]>) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A workspace with nested folders and the files the walk must skip.
fn workspace() -> (TempDir, TempDir) {
    let dir = TempDir::new("wsym");
    let outside = TempDir::new("wsym-outside");
    let root = dir.path();
    write(&root.join("src/agents.omega"), AGENTS);
    write(&root.join("src/deep/er/memo.omega"), "(define memo-table (make-serializer))\n");
    let many: String = (0..300).map(|i| format!("(define cap-{i} {i})\n")).collect();
    write(&root.join("src/many.omega"), many);
    write(&root.join(".hidden/secret.omega"), "(define hidden-def 1)\n");
    write(&root.join("node_modules/pkg/dep.omega"), "(define vendored-def 1)\n");
    write(&root.join("target/out.omega"), "(define built-def 1)\n");
    let mut big = String::from("(define too-big-def 1)\n");
    while big.len() <= 1 << 20 {
        big.push_str(";; padding padding padding padding padding padding padding padding\n");
    }
    write(&root.join("big.omega"), big);
    write(&root.join("latin1.omega"), b"(define latin-def \"caf\xe9\")\n");
    write(&outside.join("x.omega"), "(define outside-def 1)\n");
    std::os::unix::fs::symlink(outside.path(), root.join("linked-dir")).unwrap();
    std::os::unix::fs::symlink(outside.join("x.omega"), root.join("linked-file.omega")).unwrap();
    (dir, outside)
}

fn start(root: &Path, watch_files: bool) -> LspClient {
    LspClient::start(Options {
        workspace_folders: vec![root.to_path_buf()],
        watch_files,
        env: vec![("OMEGA_LOG".into(), "info".into())],
        ..Options::default()
    })
}

fn symbols(c: &mut LspClient, query: &str) -> Vec<Value> {
    c.request("workspace/symbol", json!({"query": query})).as_array().cloned().unwrap_or_default()
}

fn names(symbols: &[Value]) -> Vec<&str> {
    symbols.iter().map(|s| s["name"].as_str().unwrap()).collect()
}

/// Polls `workspace/symbol` until `pred` holds for the answer to `query`.
#[track_caller]
fn wait_symbols(c: &mut LspClient, query: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let end = Instant::now() + TIMEOUT;
    loop {
        let got = symbols(c, query);
        if pred(&got) {
            return got;
        }
        assert!(Instant::now() < end, "workspace/symbol {query:?} never matched; last: {got:#?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for the log line of the finished walk of `root` and returns it.
#[track_caller]
fn walk_done(c: &LspClient, root: &Path) -> String {
    let end = Instant::now() + TIMEOUT;
    let wanted = format!("under {} in", root.display());
    loop {
        if let Some(line) = c.stderr_text().lines().find(|l| l.contains("indexed ") && l.contains(&wanted)) {
            return line.to_string();
        }
        assert!(Instant::now() < end, "no end of the walk in the log: {}", c.stderr_text());
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn change(c: &mut LspClient, path: &Path, kind: u8) {
    c.notify("workspace/didChangeWatchedFiles", json!({"changes": [{"uri": file_uri(path), "type": kind}]}));
}

#[test]
fn unopened_files_are_found_and_the_walk_keeps_its_bounds() {
    let (dir, _outside) = workspace();
    let mut c = start(dir.path(), true);
    let caps = &c.initialize_result["capabilities"]["workspace"]["workspaceFolders"];
    assert_eq!(caps["supported"], true);
    assert_eq!(caps["changeNotifications"], true);
    let reg =
        c.wait("client/registerCapability", |p| p["registrations"][0]["method"] == "workspace/didChangeWatchedFiles");
    assert_eq!(reg["registrations"][0]["registerOptions"]["watchers"][0]["globPattern"], "**/*.omega");

    let found = wait_symbols(&mut c, "PLAN-TRIP", |s| !s.is_empty());
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0]["name"], "plan-trip");
    assert_eq!(found[0]["kind"], 12, "a function");
    assert_eq!(found[0]["containerName"], "src/agents.omega");
    assert_eq!(found[0]["location"]["uri"], file_uri(&dir.join("src/agents.omega")));
    assert_eq!(found[0]["location"]["range"], range((2, 9), (2, 18)));

    let line = walk_done(&c, dir.path());
    assert!(line.contains("indexed 3 files (303 symbols)"), "agents, memo, many: {line}");
    let memo = symbols(&mut c, "memo");
    assert_eq!(names(&memo), ["memo-table"]);
    assert_eq!(memo[0]["location"]["uri"], file_uri(&dir.join("src/deep/er/memo.omega")));
    // Hidden, node_modules, target, too big, not UTF-8, behind a symbolic link: none of them.
    assert_eq!(symbols(&mut c, "-def"), Vec::<Value>::new());
    let log = c.stderr_text();
    assert!(log.contains("big.omega: larger than 1 MB"), "{log}");
    assert!(log.contains("latin1.omega: not UTF-8"), "{log}");
    assert_eq!(symbols(&mut c, "no-such-name-anywhere"), Vec::<Value>::new());

    // At most 256 answers, the best first: `cap-0` … `cap-9` before `cap-10`.
    let capped = symbols(&mut c, "cap-");
    assert_eq!(capped.len(), 256);
    assert_eq!(
        names(&capped[..11]),
        ["cap-0", "cap-1", "cap-2", "cap-3", "cap-4", "cap-5", "cap-6", "cap-7", "cap-8", "cap-9", "cap-10"]
    );
    assert_eq!(names(&symbols(&mut c, "cap-299")), ["cap-299"]);
}

#[test]
fn changed_created_and_deleted_files_follow_the_watcher() {
    let (dir, _outside) = workspace();
    let mut c = start(dir.path(), true);
    walk_done(&c, dir.path());
    assert_eq!(names(&symbols(&mut c, "plan-")), ["plan-trip"]);

    let agents = dir.join("src/agents.omega");
    write(&agents, AGENTS.replace("plan-trip", "plan-journey"));
    change(&mut c, &agents, 2);
    let found = wait_symbols(&mut c, "plan-", |s| !s.is_empty() && s[0]["name"] == "plan-journey");
    assert_eq!(names(&found), ["plan-journey"], "the old name is gone");
    assert_eq!(found[0]["location"]["range"], range((2, 9), (2, 21)));

    let fresh = dir.join("src/fresh.omega");
    write(&fresh, "\n(define fresh-def 1)\n");
    change(&mut c, &fresh, 1);
    let found = wait_symbols(&mut c, "fresh", |s| !s.is_empty());
    assert_eq!(found[0]["location"]["range"], range((1, 8), (1, 17)));

    std::fs::remove_file(dir.join("src/deep/er/memo.omega")).unwrap();
    change(&mut c, &dir.join("src/deep/er/memo.omega"), 3);
    wait_symbols(&mut c, "memo", |s| s.is_empty());

    // A change reported in a skipped directory is not indexed either (one notification: once
    // the second file shows, the first was handled).
    write(&fresh, "(define fresh-again 1)\n");
    let changes =
        json!([{"uri": file_uri(&dir.join(".hidden/secret.omega")), "type": 2}, {"uri": file_uri(&fresh), "type": 2}]);
    c.notify("workspace/didChangeWatchedFiles", json!({"changes": changes}));
    wait_symbols(&mut c, "fresh-again", |s| !s.is_empty());
    assert_eq!(symbols(&mut c, "hidden-def"), Vec::<Value>::new());
}

#[test]
fn an_open_document_wins_over_its_file() {
    let (dir, _outside) = workspace();
    let mut c = start(dir.path(), false);
    walk_done(&c, dir.path());
    let uri = file_uri(&dir.join("src/agents.omega"));
    c.open(&uri, "\n\n(define (plan-unsaved x) x)\n");
    let found = symbols(&mut c, "plan-");
    assert_eq!(names(&found), ["plan-unsaved"], "the editor's text, not the file's");
    assert_eq!(found[0]["location"]["uri"], uri);
    assert_eq!(found[0]["location"]["range"], range((2, 9), (2, 21)));
    assert_eq!(found[0]["containerName"], "src/agents.omega");

    c.notify("textDocument/didClose", json!({"textDocument": {"uri": uri}}));
    let found = wait_symbols(&mut c, "plan-", |s| !s.is_empty());
    assert_eq!(names(&found), ["plan-trip"], "closed: the file on disk again");
    // No file watcher without dynamic registration.
    assert!(!c.seen.iter().any(|m| m["method"] == "client/registerCapability"), "{:#?}", c.seen);
}

#[test]
fn added_folders_are_indexed_and_removed_ones_forgotten() {
    let (dir, _outside) = workspace();
    let other = TempDir::new("wsym-other");
    write(&other.join("lib/extra.omega"), "(define extra-def 1)\n");
    let mut c = start(dir.path(), false);
    walk_done(&c, dir.path());
    assert_eq!(symbols(&mut c, "extra"), Vec::<Value>::new());
    let folder = json!([{"uri": file_uri(other.path()), "name": "other"}]);
    c.notify("workspace/didChangeWorkspaceFolders", json!({"event": {"added": folder, "removed": []}}));
    let found = wait_symbols(&mut c, "extra", |s| !s.is_empty());
    assert_eq!(found[0]["location"]["uri"], file_uri(&other.join("lib/extra.omega")));
    assert_eq!(found[0]["containerName"], "lib/extra.omega");
    c.notify("workspace/didChangeWorkspaceFolders", json!({"event": {"added": [], "removed": folder}}));
    wait_symbols(&mut c, "extra", |s| s.is_empty());
    assert_eq!(names(&symbols(&mut c, "plan-")), ["plan-trip"], "the first folder stays");
}
