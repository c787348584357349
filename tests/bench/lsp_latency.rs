//! Latency of the language server as an editor sees it, over stdio against the built
//! `omega-lsp` (release build under `cargo bench`):
//!
//! - didChange → publishDiagnostics for that version, files of 1,000 / 5,000 / 20,000 lines;
//! - hover and completion at 5,000 lines;
//! - Enter → onTypeFormatting at the end of files of 1,000 / 20,000 lines;
//! - semantic tokens of the whole file at 5,000 and 20,000 lines;
//! - process start → `initialize` answered;
//! - didSave → first inlay refresh and → run done when every answer is cached (chapter 39.5);
//! - resident memory with 50 open files of 1,000 lines;
//! - the workspace index of 1,000 files of 99 lines: `initialized` → walk done, and
//!   `workspace/symbol` during the walk and after it.
//!
//! `cargo bench -p omega-tests --bench lsp_latency [-- WORD]` (WORD: only the lines it names)

use std::time::{Duration, Instant};

use serde_json::json;

use omega_tests::llm_server::LlmServer;
use omega_tests::lsp::{file_uri, position, LspClient, Options};
use omega_tests::{repo_root, TempDir};

/// A realistic block of 11 lines: a serializer, shared state, procedures that use them.
fn block(i: usize) -> String {
    format!(
        ";; block {i}
(define acc-{i} (make-serializer))
(define total-{i} 0)
(define (deposit-{i} n)
  (acc-{i} (lambda ()
    (set! total-{i} (+ total-{i} n)))))
(define (report-{i})
  (display total-{i})
  (newline))
((acc-{i} (lambda () (deposit-{i} 1))))
(report-{i})
"
    )
}

fn file_of(lines: usize) -> String {
    (0..lines.div_ceil(11)).map(block).collect()
}

fn stats(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = samples[samples.len() / 2];
    let p90 = samples[(samples.len() * 9 / 10).min(samples.len() - 1)];
    format!("median {:7.2} ms   p90 {:7.2} ms   (n = {})", ms(median), ms(p90), samples.len())
}

fn change_to_diagnostics(lines: usize, rounds: usize) -> Vec<Duration> {
    let mut c = LspClient::start(Options::default());
    let uri = format!("file:///bench/file-{lines}.omega");
    c.open(&uri, &file_of(lines));
    c.diagnostics(&uri, 1);
    // Edit the value in `(define total-K 0)` of a block in the middle, back and forth.
    let line = (lines / 11 / 2) * 11 + 2;
    let col = format!("(define total-{} ", lines / 11 / 2).len() as u32;
    let mut out = Vec::new();
    for v in 2..2 + rounds as i64 {
        let text = if v % 2 == 0 { "1" } else { "0" };
        let start = Instant::now();
        c.change(&uri, v, (line as u32, col), (line as u32, col + 1), text);
        c.diagnostics(&uri, v);
        out.push(start.elapsed());
    }
    out
}

fn requests_at_5000() -> (Vec<Duration>, Vec<Duration>) {
    let mut c = LspClient::start(Options::default());
    let uri = "file:///bench/requests.omega";
    c.open(uri, &file_of(5000));
    c.diagnostics(uri, 1);
    let mid = 5000 / 11 / 2;
    let line = (mid * 11 + 5) as u32; // `    (set! total-K (+ total-K n)))))`
    let at = |l: u32, ch: u32| json!({"textDocument": {"uri": uri}, "position": position(l, ch)});
    let mut hover = Vec::new();
    let mut completion = Vec::new();
    for _ in 0..50 {
        let start = Instant::now();
        let h = c.request("textDocument/hover", at(line, 12));
        hover.push(start.elapsed());
        assert!(h.is_object());
        let start = Instant::now();
        let items = c.request("textDocument/completion", at(line + 5, 4));
        completion.push(start.elapsed());
        assert!(items.as_array().is_some_and(|a| !a.is_empty()));
    }
    (hover, completion)
}

/// Enter at the end of a file's last procedure, then the onTypeFormatting request for the new
/// line, which indents it from the whole text above.
fn enter_at_the_end(lines: usize) -> Vec<Duration> {
    let mut c = LspClient::start(Options::default());
    let uri = format!("file:///bench/typing-{lines}.omega");
    let text = format!("{}(define (last x)", file_of(lines));
    let last = text.lines().count() as u32 - 1;
    c.open(&uri, &text);
    c.diagnostics(&uri, 1);
    let end = "(define (last x)".len() as u32;
    let mut out = Vec::new();
    for round in 0..20i64 {
        c.change(&uri, 2 + 2 * round, (last, end), (last, end), "\n");
        let params = json!({"textDocument": {"uri": uri}, "position": position(last + 1, 0), "ch": "\n",
                            "options": {"tabSize": 2, "insertSpaces": true}});
        let start = Instant::now();
        let edits = c.request("textDocument/onTypeFormatting", params);
        out.push(start.elapsed());
        assert_eq!(edits[0]["newText"], "  ", "the body of (define (last x) …)");
        c.change(&uri, 3 + 2 * round, (last, end), (last + 1, 0), "");
    }
    out
}

fn semantic_tokens(lines: usize) -> Vec<Duration> {
    let mut c = LspClient::start(Options::default());
    let uri = format!("file:///bench/tokens-{lines}.omega");
    c.open(&uri, &file_of(lines));
    c.diagnostics(&uri, 1);
    (0..20)
        .map(|_| {
            let start = Instant::now();
            let t = c.request("textDocument/semanticTokens/full", json!({"textDocument": {"uri": uri}}));
            let elapsed = start.elapsed();
            assert!(t["data"].as_array().is_some_and(|d| !d.is_empty()));
            elapsed
        })
        .collect()
}

fn startup() -> Vec<Duration> {
    (0..10)
        .map(|_| {
            let start = Instant::now();
            let c = LspClient::start(Options::default());
            let elapsed = start.elapsed();
            drop(c);
            elapsed
        })
        .collect()
}

fn cached_save() -> (Vec<Duration>, Vec<Duration>) {
    let dir = TempDir::new("lsp-bench");
    let llm = LlmServer::start();
    let mut c = LspClient::start(Options {
        initialization_options: json!({
            "eval": {"trusted": true},
            "llm": {"adapter": "openai", "baseUrl": llm.openai_url(), "model": "bench",
                    "cacheDir": dir.join("cache").display().to_string()},
        }),
        cwd: Some(dir.path().to_path_buf()),
        ..Options::default()
    });
    let text = std::fs::read_to_string(repo_root().join("tests/chapter/39-5-ordered.omega")).unwrap();
    let path = dir.join("chapter.omega");
    std::fs::write(&path, &text).unwrap();
    let uri = file_uri(&path);
    c.open(&uri, &text);
    c.diagnostics(&uri, 1);
    c.save(&uri);
    c.wait("omega/evalStatus", |p| p["state"] != "running");
    let (mut first_hint, mut done) = (Vec::new(), Vec::new());
    for _ in 0..10 {
        let before = llm.requests();
        std::thread::sleep(Duration::from_millis(200)); // let the previous refresh settle
        let start = Instant::now();
        c.save(&uri);
        c.wait("workspace/inlayHint/refresh", |_| true);
        let hints = c.inlay_hints(&uri);
        first_hint.push(start.elapsed());
        c.wait("omega/evalStatus", |p| p["state"] != "running");
        done.push(start.elapsed());
        assert!(!hints.is_empty());
        assert_eq!(llm.requests(), before, "every answer came from the cache");
    }
    (first_hint, done)
}

fn memory_with_50_files() -> u64 {
    let mut c = LspClient::start(Options::default());
    let text = file_of(1000);
    for i in 0..50 {
        let uri = format!("file:///bench/m{i}.omega");
        c.open(&uri, &text);
        c.diagnostics(&uri, 1);
    }
    let status = std::fs::read_to_string(format!("/proc/{}/status", c.pid())).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .unwrap_or(0)
}

/// A workspace of `files` files of 99 lines (9 blocks each, names unique across files).
fn workspace_of(files: usize) -> TempDir {
    let dir = TempDir::new("lsp-bench-workspace");
    for k in 0..files {
        let path = dir.join(format!("pkg-{}/file-{k}.omega", k % 10));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, (k * 9..k * 9 + 9).map(block).collect::<String>()).unwrap();
    }
    dir
}

/// What [`workspace_index`] measured.
struct IndexTimes {
    /// `initialized` → the walk's log line.
    walks: Vec<Duration>,
    /// The walk's own time, from that line.
    logged: Vec<String>,
    /// `workspace/symbol` sent right after `initialized`.
    during: Vec<Duration>,
    /// `workspace/symbol` on the full index, by query.
    queries: [(&'static str, Vec<Duration>); 3],
}

fn workspace_index() -> IndexTimes {
    let dir = workspace_of(1000);
    let (mut walks, mut logged, mut during) = (Vec::new(), Vec::new(), Vec::new());
    let mut queries: [(&'static str, Vec<Duration>); 3] =
        [("deposit-4500", Vec::new()), ("total", Vec::new()), ("", Vec::new())];
    for round in 0..5 {
        let mut c = LspClient::start(Options {
            workspace_folders: vec![dir.path().to_path_buf()],
            env: vec![("OMEGA_LOG".into(), "info".into())],
            ..Options::default()
        });
        let start = Instant::now();
        let asked = Instant::now();
        c.request("workspace/symbol", json!({"query": "report"}));
        during.push(asked.elapsed());
        let line = loop {
            if let Some(l) = c.stderr_text().lines().find(|l| l.contains("indexed ")) {
                break l.to_string();
            }
            assert!(start.elapsed() < Duration::from_secs(120), "the walk never ended");
            std::thread::sleep(Duration::from_millis(2));
        };
        walks.push(start.elapsed());
        assert!(line.contains("indexed 1000 files (36000 symbols)"), "{line}");
        logged.push(line.split(" in ").last().unwrap_or("").to_string());
        if round == 0 {
            for (query, samples) in &mut queries {
                for _ in 0..30 {
                    let asked = Instant::now();
                    let got = c.request("workspace/symbol", json!({"query": query}));
                    samples.push(asked.elapsed());
                    assert!(got.as_array().is_some_and(|a| !a.is_empty()));
                }
            }
        }
    }
    IndexTimes { walks, logged, during, queries }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    // `cargo bench … -- WORD` measures only the lines whose label contains WORD.
    let only = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let wanted = |label: &str| only.as_deref().is_none_or(|w| label.contains(w));
    println!("omega-lsp latency over stdio");
    if wanted("didChange") {
        for lines in [1000, 5000, 20000] {
            let rounds = if lines >= 20000 { 10 } else { 20 };
            println!(
                "didChange → publishDiagnostics, {lines:>6} lines: {}",
                stats(change_to_diagnostics(lines, rounds))
            );
        }
    }
    if wanted("hover") || wanted("completion") {
        let (hover, completion) = requests_at_5000();
        println!("hover at 5,000 lines:                       {}", stats(hover));
        println!("completion at 5,000 lines:                  {}", stats(completion));
    }
    if wanted("onTypeFormatting") {
        for lines in [1000, 20000] {
            println!("Enter → onTypeFormatting at the end, {lines:>6} lines: {}", stats(enter_at_the_end(lines)));
        }
    }
    if wanted("initialize") {
        println!("start → initialize answered:                {}", stats(startup()));
    }
    if wanted("didSave") {
        let (first_hint, done) = cached_save();
        println!("didSave → first inlay refresh + hints (cached chapter): {}", stats(first_hint));
        println!("didSave → run done (cached chapter):                    {}", stats(done));
    }
    if wanted("memory") {
        println!("resident memory, 50 files of 1,000 lines: {} MB", memory_with_50_files() / 1024);
    }
    if wanted("workspace") {
        let IndexTimes { walks, logged, during, queries } = workspace_index();
        println!("workspace index, 1,000 files of 99 lines: initialized → walk done {}", stats(walks));
        println!("  (the walk's own time in the server's log: {})", logged.join(", "));
        println!("workspace/symbol during the walk:           {}", stats(during));
        for (query, samples) in queries {
            println!("workspace/symbol {:<14} on 36,000 symbols: {}", format!("{query:?}"), stats(samples));
        }
    }
    if wanted("semanticTokens") {
        for lines in [5000, 20000] {
            println!("semanticTokens/full, {lines:>6} lines:        {}", stats(semantic_tokens(lines)));
        }
    }
}
