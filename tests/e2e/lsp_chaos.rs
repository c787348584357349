//! Chaos over JSON-RPC against the built `omega-lsp`: random Lisp-shaped documents, random
//! incremental edits (out-of-range positions, reversed ranges, positions inside a UTF-16
//! surrogate pair, whole-text replacements), saves that run the buffer, and after each step
//! random requests of every kind at random, often out-of-range, positions, in UTF-16 and
//! UTF-8. Invariants, not exact answers:
//!
//! - every request is answered (a result or a JSON-RPC error, never an internal error), and
//!   nothing reports a panic (`window/showMessage`, the client log, stderr);
//! - every position the server sends lies in the document as the client knows it: a line
//!   that exists, a column on a character boundary within that line, in the negotiated unit;
//!   ranges are ordered, selection ranges nest, document symbols hold their selection range;
//! - semantic tokens decode to sorted, non-overlapping tokens inside their lines;
//! - edits from formatting and indentation on Enter apply cleanly and change only
//!   whitespace between tokens; rename edits replace one name by the new one and nothing else;
//! - published diagnostics lie in the text of the version they name;
//! - `shutdown` and `exit` end the process within a second.
//!
//! The client applies each edit with the server's own rules for positions (see
//! lsp/src/document.rs: clamp into the text, round down to a character), so it always knows
//! the text the server holds; formatting results cross-check that.
//!
//! A few cases run by default with a fixed seed; for a longer hunt:
//! `PROPTEST_CASES=2000 OMEGA_CHAOS_SEED=7 cargo test -p omega-tests --test e2e lsp_chaos::random`
//! (`CHAOS_SHOW=1` prints every request).

use std::borrow::Cow;
use std::collections::HashMap;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use serde_json::{json, Value};

use omega_syntax::format;
use omega_tests::fuzz::within_stack;
use omega_tests::llm_server::{LlmServer, Reply};
use omega_tests::lsp::{file_uri, loopback_llm, percent_decode, LspClient, Options};
use omega_tests::TempDir;

/// How long `shutdown` + `exit` may take.
const EXIT_WITHIN: Duration = Duration::from_secs(1);

/// `cases` by default, or PROPTEST_CASES (as in fuzz.rs); the seed is fixed so CI reruns
/// the same cases, and OMEGA_CHAOS_SEED (a number) picks other ones for a hunt.
fn runner(cases: u32) -> TestRunner {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(cases);
    let config = Config { cases, failure_persistence: None, ..Config::default() };
    let mut seed = [0x0e; 32];
    if let Some(n) = std::env::var("OMEGA_CHAOS_SEED").ok().and_then(|s| s.parse::<u64>().ok()) {
        seed[..8].copy_from_slice(&n.to_le_bytes());
    }
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed))
}

// ----- the client's model of the text: LSP lines and columns -----

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Enc {
    Utf16,
    Utf8,
}

/// The byte range of each line's content: lines end at `\n`, `\r\n` or a lone `\r`.
fn lines(text: &str) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let (mut out, mut start, mut i) = (Vec::new(), 0, 0);
    while i < b.len() {
        match b[i] {
            b'\n' => {
                out.push((start, i));
                i += 1;
                start = i;
            }
            b'\r' => {
                out.push((start, i));
                i += if b.get(i + 1) == Some(&b'\n') { 2 } else { 1 };
                start = i;
            }
            _ => i += 1,
        }
    }
    out.push((start, b.len()));
    out
}

fn width(s: &str, enc: Enc) -> usize {
    match enc {
        Enc::Utf8 => s.len(),
        Enc::Utf16 => s.encode_utf16().count(),
    }
}

/// A text with its lines found once, for checking many positions.
struct Doc<'t> {
    text: &'t str,
    lines: Cow<'t, [(usize, usize)]>,
    ascii: bool,
}

impl<'t> Doc<'t> {
    fn new(text: &'t str) -> Doc<'t> {
        Doc { text, lines: Cow::Owned(lines(text)), ascii: text.is_ascii() }
    }

    fn width(&self, s: &str, enc: Enc) -> usize {
        if self.ascii {
            s.len()
        } else {
            width(s, enc)
        }
    }

    /// The byte offset the server takes a client position for (document.rs's rules).
    fn offset(&self, line: u64, ch: u64, enc: Enc) -> usize {
        let Some(&(s, e)) = self.lines.get(line as usize) else { return self.text.len() };
        let content = &self.text[s..e];
        if self.ascii {
            return s + (ch.min(content.len() as u64)) as usize;
        }
        match enc {
            Enc::Utf8 => {
                let mut b = (ch.min(content.len() as u64)) as usize;
                while !content.is_char_boundary(b) {
                    b -= 1;
                }
                s + b
            }
            Enc::Utf16 => {
                let mut units = 0u64;
                for (i, c) in content.char_indices() {
                    let w = c.len_utf16() as u64;
                    if units + w > ch {
                        return s + i;
                    }
                    units += w;
                }
                e
            }
        }
    }

    /// The byte offset of a position the server sent, if it is a valid place in the text.
    fn strict_offset(&self, p: &Value, enc: Enc) -> Result<usize, String> {
        let (Some(line), Some(ch)) = (p["line"].as_u64(), p["character"].as_u64()) else {
            return Err(format!("not a position: {p}"));
        };
        let Some(&(s, e)) = self.lines.get(line as usize) else {
            return Err(format!("line {line} of a {}-line text: {p}", self.lines.len()));
        };
        let content = &self.text[s..e];
        let w = self.width(content, enc);
        if ch > w as u64 {
            return Err(format!("column {ch} past the end of line {line} ({w} units, {})", clip(content)));
        }
        let at = self.offset(line, ch, enc);
        if self.width(&self.text[s..at], enc) as u64 != ch {
            return Err(format!("column {ch} inside a character of line {line} ({})", clip(content)));
        }
        Ok(at)
    }

    /// The byte span of a range the server sent, if valid and ordered.
    fn strict_span(&self, r: &Value, enc: Enc) -> Result<(usize, usize), String> {
        let a = self.strict_offset(&r["start"], enc)?;
        let b = self.strict_offset(&r["end"], enc)?;
        if a > b {
            return Err(format!("range ends before it starts: {r}"));
        }
        Ok((a, b))
    }

    /// Applies LSP text edits the server sent; they must be valid and must not overlap.
    fn apply_edits(&self, edits: &[Value], enc: Enc) -> Result<String, String> {
        let mut spans = Vec::new();
        for e in edits {
            let (a, b) = self.strict_span(&e["range"], enc)?;
            let new = e["newText"].as_str().ok_or_else(|| format!("an edit without newText: {e}"))?;
            spans.push((a, b, new.to_string()));
        }
        spans.sort_by_key(|s| (s.0, s.1));
        for w in spans.windows(2) {
            if w[0].1 > w[1].0 {
                return Err(format!("overlapping edits: {}", clip(&format!("{edits:?}"))));
            }
        }
        let mut out = self.text.to_string();
        for (a, b, t) in spans.into_iter().rev() {
            out.replace_range(a..b, &t);
        }
        Ok(out)
    }
}

/// A text for a message: whole if short, else its start and end.
fn clip(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= 2000 {
        return format!("{text:?}");
    }
    let head: String = chars[..1000].iter().collect();
    let tail: String = chars[chars.len() - 1000..].iter().collect();
    format!("{head:?} … ({} characters) … {tail:?}", chars.len())
}

fn non_space(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Edits that may only re-indent: the same characters apart from whitespace, and, when both
/// texts read cleanly, the same tokens.
fn check_whitespace_only(before: &str, after: &str, what: &str) -> Result<(), String> {
    if non_space(before) != non_space(after) {
        return Err(format!("{what} changed more than whitespace: {} -> {}", clip(before), clip(after)));
    }
    // Comparing every token of megabytes in a debug build takes long; the characters were compared.
    if before.len() > 1 << 20 {
        return Ok(());
    }
    if let (Some(a), Some(b)) = (format::tokens(before), format::tokens(after)) {
        if a != b {
            return Err(format!("{what} changed the tokens: {} -> {}", clip(before), clip(after)));
        }
    }
    Ok(())
}

// ----- generators -----

/// Pieces of text, most of them Lisp-shaped, some hostile.
const PIECES: &[&str] = &[
    "(",
    "(",
    "(",
    ")",
    ")",
    ")",
    "[",
    "]",
    " ",
    " ",
    "\n",
    "\n",
    "\r\n",
    "\r",
    "\t",
    "x",
    "f",
    "total",
    "42",
    "-1.5e3",
    "#t",
    "\"",
    "\"str\"",
    "\"esc \\\" \\\\ \\n \\x41; é\"",
    "\"two\nlines\r\nand\rmore\"",
    "#|",
    "|#",
    "#| block\n comment |#",
    "#;",
    "'",
    "`",
    ",",
    ",@",
    "#\\x",
    "#\\(",
    "#\\space",
    "#\\😀",
    ";; comment\n",
    "; comment\r",
    "; trailing  \r\n",
    "😀",
    "𝔘𝔫𝔦",
    "e\u{301}",
    "é",
    "λ",
    "\u{200d}",
    "\u{feff}",
    "\u{2028}",
    "\u{0}",
    "define",
    "lambda",
    "(define (f x) (+ x 1))",
    "(define total 0)",
    "(f total)",
    "(let ((a 1) (b \"😀\")) (f a))",
    "(set! total (+ total 1))",
    "(define s (make-serializer))",
    "((s (lambda () total)))",
    "(effect infer.op \"q 😀\")",
    "(if #t 'yes `(a ,x ,@(list 1)))",
    "(lambda (a . rest) rest)",
    "#(1 2)",
    ".",
    "#!/usr/bin/env omega\n",
];

/// A piece, or now and then a long line or deep nesting.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        40 => prop::sample::select(PIECES).prop_map(str::to_string),
        1 => (1usize..3000).prop_map(|n| "x".repeat(n)),
        1 => (1usize..400).prop_map(|n| "(".repeat(n)),
        1 => (1usize..200).prop_map(|n| format!("{}x{}", "(f ".repeat(n), ")".repeat(n))),
        1 => (1usize..200).prop_map(|n| "😀".repeat(n)),
    ]
}

fn text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(piece(), 0..max).prop_map(|p| p.concat())
}

/// A position drawn as numbers and placed at run time against the current text: usually
/// somewhere on an existing line (often just past its end), sometimes anywhere at all.
#[derive(Clone, Debug)]
struct RawPos {
    line: u32,
    ch: u32,
    wild: bool,
}

fn raw_pos() -> impl Strategy<Value = RawPos> {
    let wild_line = prop_oneof![Just(u32::MAX), Just(i32::MAX as u32), 0u32..1000];
    let wild_ch = prop_oneof![Just(u32::MAX), 0u32..100_000];
    prop_oneof![
        8 => (any::<u32>(), any::<u32>()).prop_map(|(line, ch)| RawPos { line, ch, wild: false }),
        1 => (wild_line, wild_ch).prop_map(|(line, ch)| RawPos { line, ch, wild: true }),
    ]
}

impl RawPos {
    fn place(&self, text: &str, enc: Enc) -> (u32, u32) {
        if self.wild {
            return (self.line, self.ch);
        }
        let ls = lines(text);
        let line = self.line % (ls.len() as u32 + 1);
        let w = ls.get(line as usize).map_or(0, |&(s, e)| width(&text[s..e], enc)) as u32;
        (line, self.ch % (w + 3))
    }

    fn json(&self, text: &str, enc: Enc) -> Value {
        let (line, character) = self.place(text, enc);
        json!({"line": line, "character": character})
    }
}

#[derive(Clone, Debug)]
enum Edit {
    /// Replace the range between two positions (in either order).
    Range(RawPos, RawPos, String),
    /// Replace the whole text.
    Full(String),
    /// Press Enter at a position, then ask for its indentation.
    Enter(RawPos),
    /// Several replacements in one `didChange`, each placed in the text the ones before left.
    Batch(Vec<(RawPos, RawPos, String)>),
    /// Close the document (a run may be going) and open it again with the same text.
    Reopen,
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        12 => (raw_pos(), raw_pos(), text(4)).prop_map(|(a, b, t)| Edit::Range(a, b, t)),
        1 => text(30).prop_map(Edit::Full),
        3 => raw_pos().prop_map(Edit::Enter),
        2 => prop::collection::vec((raw_pos(), raw_pos(), text(3)), 2..5).prop_map(Edit::Batch),
        1 => Just(Edit::Reopen),
    ]
}

const METHODS: &[&str] = &[
    "textDocument/hover",
    "textDocument/completion",
    "textDocument/signatureHelp",
    "textDocument/definition",
    "textDocument/references",
    "textDocument/documentHighlight",
    "textDocument/prepareRename",
    "textDocument/documentSymbol",
    "workspace/symbol",
    "textDocument/semanticTokens/full",
    "textDocument/semanticTokens/range",
    "textDocument/foldingRange",
    "textDocument/selectionRange",
    "textDocument/formatting",
    "textDocument/rangeFormatting",
    "textDocument/onTypeFormatting",
    "textDocument/codeAction",
    "textDocument/codeLens",
    "textDocument/inlayHint",
    "omega.answerText",
];

#[derive(Clone, Debug)]
struct Request {
    method: &'static str,
    a: RawPos,
    b: RawPos,
    more: Vec<RawPos>,
    pick: u32,
}

fn request() -> impl Strategy<Value = Request> {
    (prop::sample::select(METHODS), raw_pos(), raw_pos(), prop::collection::vec(raw_pos(), 0..4), any::<u32>())
        .prop_map(|(method, a, b, more, pick)| Request { method, a, b, more, pick })
}

#[derive(Clone, Debug)]
struct Step {
    edits: Vec<Edit>,
    save: bool,
    requests: Vec<Request>,
}

#[derive(Clone, Debug)]
struct Case {
    utf8: bool,
    multiline_tokens: bool,
    /// The server logs everything (`OMEGA_LOG=debug`), URIs and timings of each message.
    debug_log: bool,
    text: String,
    steps: Vec<Step>,
}

fn case() -> impl Strategy<Value = Case> {
    let step = (prop::collection::vec(edit(), 1..3), prop::bool::weighted(0.2), prop::collection::vec(request(), 1..8))
        .prop_map(|(edits, save, requests)| Step { edits, save, requests });
    (any::<bool>(), any::<bool>(), any::<bool>(), text(60), prop::collection::vec(step, 1..6)).prop_map(
        |(utf8, multiline_tokens, debug_log, text, steps)| Case { utf8, multiline_tokens, debug_log, text, steps },
    )
}

// ----- one case against a fresh server -----

struct Chaos {
    client: LspClient,
    _llm: LlmServer,
    _dir: TempDir,
    uri: String,
    enc: Enc,
    multiline: bool,
    text: String,
    /// The lines of `text`, and whether it is all ASCII.
    lines: Vec<(usize, usize)>,
    ascii: bool,
    version: i64,
    /// The text of every version sent, for the diagnostics published for it.
    versions: HashMap<i64, String>,
}

const NEW_NAMES: &[&str] = &["renamed", "x2", "λ-ü😀", "set!", "a b", "", "(", "1"];

impl Chaos {
    fn start(case: &Case) -> Chaos {
        let dir = TempDir::new("lsp-chaos");
        let llm = LlmServer::start();
        llm.set_default(Reply::answer("4 😀\r\nsecond line"));
        let options = json!({
            "eval": {"trusted": true, "onSave": true},
            "limits": {"timeoutSecs": 2, "memoryMb": 64},
            "llm": loopback_llm(&llm, &dir.join("cache")),
        });
        let client = LspClient::start(Options {
            initialization_options: options,
            utf8: case.utf8,
            multiline_tokens: case.multiline_tokens,
            experimental: json!({"commands": {"commands": ["omega.copyAnswer"]}}),
            cwd: Some(dir.path().to_path_buf()),
            env: if case.debug_log { vec![("OMEGA_LOG".into(), "debug".into())] } else { Vec::new() },
            ..Options::default()
        });
        let negotiated = &client.initialize_result["capabilities"]["positionEncoding"];
        let enc = if negotiated == "utf-8" { Enc::Utf8 } else { Enc::Utf16 };
        assert_eq!(enc == Enc::Utf8, case.utf8, "negotiated {negotiated}");
        let path = dir.join("chaos.omega");
        std::fs::write(&path, &case.text).unwrap();
        let uri = file_uri(&path);
        let mut chaos = Chaos {
            client,
            _llm: llm,
            _dir: dir,
            uri,
            enc,
            multiline: case.multiline_tokens,
            text: case.text.clone(),
            lines: lines(&case.text),
            ascii: case.text.is_ascii(),
            version: 1,
            versions: HashMap::new(),
        };
        chaos.client.open(&chaos.uri, &case.text);
        chaos.versions.insert(1, case.text.clone());
        chaos
    }

    /// The current text with its lines, for position checks.
    fn doc_text(&self) -> Doc<'_> {
        Doc { text: &self.text, lines: Cow::Borrowed(&self.lines), ascii: self.ascii }
    }

    fn doc(&self) -> Value {
        json!({"uri": self.uri})
    }

    /// The client's copy of the text after a change, sent as the next version.
    fn change(&mut self, changes: Vec<Value>) {
        self.lines = lines(&self.text);
        self.ascii = self.text.is_ascii();
        self.version += 1;
        self.client.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": self.uri, "version": self.version}, "contentChanges": changes}),
        );
        self.versions.insert(self.version, self.text.clone());
    }

    fn edit(&mut self, e: &Edit) -> Result<(), String> {
        match e {
            Edit::Range(a, b, new) => {
                let (pa, pb) = (a.place(&self.text, self.enc), b.place(&self.text, self.enc));
                let oa = self.doc_text().offset(pa.0 as u64, pa.1 as u64, self.enc);
                let ob = self.doc_text().offset(pb.0 as u64, pb.1 as u64, self.enc);
                self.text.replace_range(oa.min(ob)..oa.max(ob), new);
                let range =
                    json!({"start": {"line": pa.0, "character": pa.1}, "end": {"line": pb.0, "character": pb.1}});
                self.change(vec![json!({"range": range, "text": new})]);
            }
            Edit::Batch(changes) => {
                let mut sent = Vec::new();
                for (a, b, new) in changes {
                    let (pa, pb) = (a.place(&self.text, self.enc), b.place(&self.text, self.enc));
                    let doc = Doc::new(&self.text);
                    let oa = doc.offset(pa.0 as u64, pa.1 as u64, self.enc);
                    let ob = doc.offset(pb.0 as u64, pb.1 as u64, self.enc);
                    self.text.replace_range(oa.min(ob)..oa.max(ob), new);
                    let range =
                        json!({"start": {"line": pa.0, "character": pa.1}, "end": {"line": pb.0, "character": pb.1}});
                    sent.push(json!({"range": range, "text": new}));
                }
                self.change(sent);
            }
            Edit::Reopen => {
                self.client.notify("textDocument/didClose", json!({"textDocument": self.doc()}));
                self.version += 1;
                self.client.notify(
                    "textDocument/didOpen",
                    json!({"textDocument": {"uri": self.uri, "languageId": "omega", "version": self.version, "text": self.text}}),
                );
                self.versions.insert(self.version, self.text.clone());
            }
            Edit::Full(new) => {
                self.text = new.clone();
                self.change(vec![json!({"text": new})]);
            }
            Edit::Enter(at) => {
                let p = at.place(&self.text, self.enc);
                let o = self.doc_text().offset(p.0 as u64, p.1 as u64, self.enc);
                self.text.insert(o, '\n');
                let range = json!({"start": {"line": p.0, "character": p.1}, "end": {"line": p.0, "character": p.1}});
                self.change(vec![json!({"range": range, "text": "\n"})]);
                // The cursor after the break: the start of the next line (a `\r` before it
                // makes a CRLF, which is still one break).
                let next = self.position_of(o + 1);
                let edits = self.call(
                    "textDocument/onTypeFormatting",
                    json!({"textDocument": self.doc(), "position": next, "ch": "\n",
                           "options": {"tabSize": 2, "insertSpaces": true}}),
                )?;
                self.check_reindent(&edits, "indentation on Enter")?;
            }
        }
        Ok(())
    }

    /// The position of a byte offset of the current text.
    fn position_of(&self, at: usize) -> Value {
        let ls = &self.lines;
        let line = ls.iter().rposition(|&(s, _)| s <= at).unwrap_or(0);
        let (s, e) = ls[line];
        json!({"line": line, "character": width(&self.text[s..at.min(e)], self.enc)})
    }

    /// Sends a request: its result, or `Null` for a JSON-RPC error that is not an internal one.
    fn call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        if show() {
            eprintln!("{method} {params} on {}", clip(&self.text));
        }
        match self.client.request_raw(method, params.clone()) {
            Ok(v) => Ok(v),
            Err(e) if e["code"] == -32603 => Err(format!("{method} failed inside the server: {e}; params {params}")),
            Err(e) if e["code"] == -32601 => Err(format!("{method} is not served: {e}")),
            Err(_) => Ok(Value::Null),
        }
    }

    fn range(&self, r: &Value, what: &str) -> Result<(usize, usize), String> {
        self.doc_text().strict_span(r, self.enc).map_err(|e| format!("{what}: {e} in {}", clip(&self.text)))
    }

    fn position(&self, p: &Value, what: &str) -> Result<usize, String> {
        self.doc_text().strict_offset(p, self.enc).map_err(|e| format!("{what}: {e} in {}", clip(&self.text)))
    }

    /// Ranges of locations in this document (others are not ours to check).
    fn locations(&self, v: &Value, what: &str) -> Result<(), String> {
        let list = match v {
            Value::Array(a) => a.clone(),
            Value::Null => Vec::new(),
            one => vec![one.clone()],
        };
        for l in &list {
            let uri = l.get("uri").or_else(|| l.get("targetUri"));
            if uri.and_then(Value::as_str) != Some(self.uri.as_str()) {
                continue;
            }
            for key in ["range", "targetRange", "targetSelectionRange"] {
                if !l[key].is_null() {
                    self.range(&l[key], what)?;
                }
            }
        }
        Ok(())
    }

    fn check_reindent(&self, edits: &Value, what: &str) -> Result<(), String> {
        let Some(list) = edits.as_array() else { return Ok(()) };
        let after =
            self.doc_text().apply_edits(list, self.enc).map_err(|e| format!("{what}: {e} in {}", clip(&self.text)))?;
        check_whitespace_only(&self.text, &after, what)
    }

    fn request(&mut self, r: &Request) -> Result<(), String> {
        let (text, enc) = (self.text.clone(), self.enc);
        let at = json!({"textDocument": self.doc(), "position": r.a.json(&text, enc)});
        let range = json!({"start": r.a.json(&text, enc), "end": r.b.json(&text, enc)});
        let options = json!({"tabSize": 2, "insertSpaces": true});
        let method = r.method;
        match method {
            "textDocument/hover" => {
                let h = self.call(method, at)?;
                if !h["range"].is_null() {
                    self.range(&h["range"], "hover")?;
                }
                self.copy_links(&h)?;
            }
            "textDocument/completion" => {
                let c = self.call(method, at)?;
                let items = c.get("items").unwrap_or(&c).as_array().cloned().unwrap_or_default();
                for item in items {
                    if let Some(edit) = item.get("textEdit") {
                        for key in ["range", "insert", "replace"] {
                            if !edit[key].is_null() {
                                self.range(&edit[key], "completion edit")?;
                            }
                        }
                    }
                }
            }
            "textDocument/signatureHelp" => {
                let s = self.call(method, at)?;
                if let Some(sigs) = s["signatures"].as_array() {
                    if let Some(i) = s["activeSignature"].as_u64() {
                        if i as usize >= sigs.len().max(1) {
                            return Err(format!("activeSignature {i} of {} signatures", sigs.len()));
                        }
                    }
                }
            }
            "textDocument/definition" => {
                let d = self.call(method, at)?;
                self.locations(&d, "definition")?;
            }
            "textDocument/references" => {
                let mut params = at;
                params["context"] = json!({"includeDeclaration": r.pick.is_multiple_of(2)});
                let d = self.call(method, params)?;
                self.locations(&d, "references")?;
            }
            "textDocument/documentHighlight" => {
                let d = self.call(method, at)?;
                for h in d.as_array().cloned().unwrap_or_default() {
                    self.range(&h["range"], "highlight")?;
                }
            }
            "textDocument/prepareRename" => self.rename(r, at)?,
            "textDocument/documentSymbol" => {
                let d = self.call(method, json!({"textDocument": self.doc()}))?;
                for s in d.as_array().cloned().unwrap_or_default() {
                    self.symbol(&s)?;
                }
            }
            "workspace/symbol" => {
                // This branch's server answers from each file's latest analysis, which may be of
                // an older version (the workspace index waits for the current one): wait for it.
                let (uri, version) = (self.uri.clone(), self.version);
                let current = |p: &Value| p["uri"] == uri.as_str() && p["version"] == version;
                if !self
                    .client
                    .seen
                    .iter()
                    .any(|m| m["method"] == "textDocument/publishDiagnostics" && current(&m["params"]))
                {
                    self.client.try_wait("textDocument/publishDiagnostics", Duration::from_secs(10), current);
                }
                let query = ["", "f", "tot", "😀", "λ-", "(", "zzz"][r.pick as usize % 7];
                let d = self.call(method, json!({"query": query}))?;
                for s in d.as_array().cloned().unwrap_or_default() {
                    self.locations(&s["location"], "workspace symbol")?;
                }
            }
            "textDocument/semanticTokens/full" => {
                let t = self.call(method, json!({"textDocument": self.doc()}))?;
                self.semantic_tokens(&t)?;
            }
            "textDocument/semanticTokens/range" => {
                let t = self.call(method, json!({"textDocument": self.doc(), "range": range}))?;
                self.semantic_tokens(&t)?;
            }
            "textDocument/foldingRange" => {
                let f = self.call(method, json!({"textDocument": self.doc()}))?;
                let count = self.lines.len() as u64;
                for fr in f.as_array().cloned().unwrap_or_default() {
                    let (s, e) = (fr["startLine"].as_u64().unwrap_or(u64::MAX), fr["endLine"].as_u64().unwrap_or(0));
                    if s > e || e >= count {
                        return Err(format!("folding range {fr} in a {count}-line text {}", clip(&self.text)));
                    }
                    for (line, key) in [(s, "startCharacter"), (e, "endCharacter")] {
                        if let Some(ch) = fr[key].as_u64() {
                            self.position(&json!({"line": line, "character": ch}), "folding range")?;
                        }
                    }
                }
            }
            "textDocument/selectionRange" => {
                let mut positions = vec![r.a.json(&text, enc), r.b.json(&text, enc)];
                positions.extend(r.more.iter().map(|p| p.json(&text, enc)));
                let s = self.call(method, json!({"textDocument": self.doc(), "positions": positions}))?;
                if let Some(list) = s.as_array() {
                    if list.len() != positions.len() {
                        return Err(format!("{} selection ranges for {} positions", list.len(), positions.len()));
                    }
                    for (sel, p) in list.iter().zip(&positions) {
                        self.selection(sel, p)?;
                    }
                }
            }
            "textDocument/formatting" => {
                let edits = self.call(method, json!({"textDocument": self.doc(), "options": options}))?;
                self.check_reindent(&edits, "formatting")?;
                if let (Some(list), Ok(formatted)) = (edits.as_array(), format::format(&self.text)) {
                    let after = self.doc_text().apply_edits(list, enc)?;
                    if after != formatted {
                        return Err(format!(
                            "formatting the server's text is not `omega fmt` of the client's: {:?}",
                            self.text
                        ));
                    }
                }
            }
            "textDocument/rangeFormatting" => {
                let edits =
                    self.call(method, json!({"textDocument": self.doc(), "range": range, "options": options}))?;
                self.check_reindent(&edits, "range formatting")?;
            }
            "textDocument/onTypeFormatting" => {
                let mut params = at;
                params["ch"] = json!("\n");
                params["options"] = options;
                let edits = self.call(method, params)?;
                self.check_reindent(&edits, "indentation at a random place")?;
            }
            "textDocument/codeAction" => {
                let diagnostics = match r.pick % 3 {
                    0 => json!([]),
                    1 => {
                        json!([{"range": range, "message": "made up", "code": "omega::deadlock-order", "source": "omega"}])
                    }
                    _ => json!(self.latest_diagnostics()),
                };
                let params =
                    json!({"textDocument": self.doc(), "range": range, "context": {"diagnostics": diagnostics}});
                let actions = self.call(method, params)?;
                for a in actions.as_array().cloned().unwrap_or_default() {
                    for edits in self.workspace_edits(&a["edit"]) {
                        self.doc_text().apply_edits(&edits, enc).map_err(|e| format!("code action {a}: {e}"))?;
                    }
                }
            }
            "textDocument/codeLens" => {
                let lenses = self.call(method, json!({"textDocument": self.doc()}))?;
                for l in lenses.as_array().cloned().unwrap_or_default() {
                    self.range(&l["range"], "code lens")?;
                }
            }
            "textDocument/inlayHint" => {
                let hints = self.call(method, json!({"textDocument": self.doc(), "range": range}))?;
                for h in hints.as_array().cloned().unwrap_or_default() {
                    self.position(&h["position"], "inlay hint")?;
                }
            }
            "omega.answerText" => {
                let id = if r.pick.is_multiple_of(2) { json!(r.pick % 8) } else { json!("nope") };
                self.call("workspace/executeCommand", json!({"command": method, "arguments": [self.uri, id]}))?;
            }
            other => unreachable!("{other}"),
        }
        Ok(())
    }

    /// Follows hover "Copy answer" links: each names a result that `omega.answerText` gives
    /// back (or says is gone).
    fn copy_links(&mut self, hover: &Value) -> Result<(), String> {
        let value = hover["contents"]["value"].as_str().unwrap_or("").to_string();
        for part in value.split("command:omega.copyAnswer?").skip(1) {
            let encoded = part.split(')').next().unwrap_or("");
            let args: Value = serde_json::from_str(&percent_decode(encoded))
                .map_err(|e| format!("a copy link whose arguments are not JSON ({e}): {encoded}"))?;
            self.call("workspace/executeCommand", json!({"command": "omega.answerText", "arguments": args}))?;
        }
        Ok(())
    }

    fn rename(&mut self, r: &Request, at: Value) -> Result<(), String> {
        let prepared = self.call("textDocument/prepareRename", at.clone())?;
        if prepared.is_null() {
            return Ok(());
        }
        let range = if prepared["range"].is_object() { prepared["range"].clone() } else { prepared.clone() };
        let old_name = if range["start"].is_object() {
            let (a, b) = self.range(&range, "prepareRename")?;
            Some(self.text[a..b].to_string())
        } else {
            None
        };
        let new_name = NEW_NAMES[r.pick as usize % NEW_NAMES.len()];
        let mut params = at;
        params["newName"] = json!(new_name);
        let edit = self.call("textDocument/rename", params)?;
        let lists = self.workspace_edits(&edit);
        for edits in &lists {
            let after = self.doc_text().apply_edits(edits, self.enc).map_err(|e| format!("rename: {e}"))?;
            for e in edits {
                let (a, b) = self.range(&e["range"], "rename")?;
                if Some(&self.text[a..b]) != old_name.as_deref() || e["newText"] != new_name {
                    return Err(format!(
                        "rename of {old_name:?} to {new_name:?} edits {:?} into {}",
                        &self.text[a..b],
                        e["newText"]
                    ));
                }
            }
            // The new name is one symbol: the text reads as the same tokens, renamed.
            if let (Some(before), Some(after_tokens)) = (format::tokens(&self.text), format::tokens(&after)) {
                let renamed: Vec<(String, String)> = before
                    .into_iter()
                    .map(|(k, t)| if Some(&t) == old_name.as_ref() { (k, new_name.to_string()) } else { (k, t) })
                    .collect();
                if renamed.iter().map(|t| &t.0).ne(after_tokens.iter().map(|t| &t.0)) {
                    return Err(format!(
                        "rename to {new_name:?} changed the tokens: {} -> {}",
                        clip(&self.text),
                        clip(&after)
                    ));
                }
            } else if format::tokens(&self.text).is_some() {
                return Err(format!(
                    "rename to {new_name:?} broke the program: {} -> {}",
                    clip(&self.text),
                    clip(&after)
                ));
            }
        }
        Ok(())
    }

    /// The text edits of a workspace edit for this document.
    fn workspace_edits(&self, edit: &Value) -> Vec<Vec<Value>> {
        let mut out = Vec::new();
        if let Some(e) = edit["changes"][&self.uri].as_array() {
            out.push(e.clone());
        }
        for dc in edit["documentChanges"].as_array().cloned().unwrap_or_default() {
            if dc["textDocument"]["uri"] == self.uri.as_str() {
                out.push(dc["edits"].as_array().cloned().unwrap_or_default());
            }
        }
        out
    }

    fn symbol(&self, s: &Value) -> Result<(), String> {
        if !s["location"].is_null() {
            return self.locations(&s["location"], "document symbol");
        }
        let outer = self.range(&s["range"], "document symbol")?;
        let inner = self.range(&s["selectionRange"], "document symbol selection")?;
        if inner.0 < outer.0 || inner.1 > outer.1 {
            return Err(format!("a symbol's selection range is outside its range: {s}"));
        }
        for child in s["children"].as_array().cloned().unwrap_or_default() {
            self.symbol(&child)?;
        }
        Ok(())
    }

    fn selection(&self, sel: &Value, p: &Value) -> Result<(), String> {
        let mut inner: Option<(usize, usize)> = None;
        let mut cur = sel;
        while !cur.is_null() {
            let span = self.range(&cur["range"], "selection range")?;
            if let Some(i) = inner {
                if span.0 > i.0 || span.1 < i.1 {
                    return Err(format!("a selection range's parent does not contain it at {p}: {sel}"));
                }
            }
            inner = Some(span);
            cur = &cur["parent"];
        }
        Ok(())
    }

    fn semantic_tokens(&self, t: &Value) -> Result<(), String> {
        if t.is_null() {
            return Ok(());
        }
        let data: Vec<u64> = t["data"]
            .as_array()
            .ok_or("semantic tokens without data")?
            .iter()
            .map(|n| n.as_u64().unwrap_or(u64::MAX))
            .collect();
        if !data.len().is_multiple_of(5) {
            return Err(format!("{} numbers of semantic tokens", data.len()));
        }
        let ls = &self.lines;
        let (mut line, mut col) = (0u64, 0u64);
        let mut prev: Option<(u64, u64, u64)> = None;
        for (i, tok) in data.chunks(5).enumerate() {
            line += tok[0];
            col = if tok[0] == 0 { col + tok[1] } else { tok[1] };
            let len = tok[2];
            let bad =
                |why: &str| Err(format!("semantic token {i} ({line}, {col}, {len}): {why} in {}", clip(&self.text)));
            if i > 0 && tok[0] == 0 && tok[1] == 0 {
                return bad("at the same place as the one before");
            }
            if len == 0 || tok[3] >= 10 || tok[4] >= 16 {
                return bad("empty, or an unknown type or modifier");
            }
            if line as usize >= ls.len() {
                return bad("on a line past the end");
            }
            let start = self.position(&json!({"line": line, "character": col}), "semantic token start")?;
            if !self.multiline {
                self.position(&json!({"line": line, "character": col + len}), "semantic token end")?;
            } else if width(&self.text[start..], self.enc) < len as usize {
                return bad("longer than the rest of the text");
            }
            if let Some((pl, pc, plen)) = prev {
                if pl == line && pc + plen > col {
                    return bad("overlapping the one before");
                }
            }
            prev = Some((line, col, len));
        }
        Ok(())
    }

    fn latest_diagnostics(&self) -> Vec<Value> {
        self.client
            .seen
            .iter()
            .rev()
            .find(|m| m["method"] == "textDocument/publishDiagnostics" && m["params"]["version"] == self.version)
            .and_then(|m| m["params"]["diagnostics"].as_array().cloned())
            .unwrap_or_default()
    }

    /// Diagnostics published so far lie in the text of the version they name.
    fn check_diagnostics(&self) -> Result<(), String> {
        for m in self.client.seen.iter().filter(|m| m["method"] == "textDocument/publishDiagnostics") {
            let p = &m["params"];
            let Some(text) = p["version"].as_i64().and_then(|v| self.versions.get(&v)) else { continue };
            for d in p["diagnostics"].as_array().cloned().unwrap_or_default() {
                let doc = Doc::new(text);
                doc.strict_span(&d["range"], self.enc)
                    .map_err(|e| format!("diagnostic {d}: {e} in version {} {text:?}", p["version"]))?;
                for rel in d["relatedInformation"].as_array().cloned().unwrap_or_default() {
                    if rel["location"]["uri"] == self.uri.as_str() {
                        doc.strict_span(&rel["location"]["range"], self.enc)
                            .map_err(|e| format!("related place {rel}: {e} in version {} {text:?}", p["version"]))?;
                    }
                }
            }
        }
        Ok(())
    }

    fn run(&mut self, case: &Case) -> Result<(), String> {
        for step in &case.steps {
            for e in &step.edits {
                self.edit(e)?;
            }
            if step.save {
                self.client.save(&self.uri);
            }
            for r in &step.requests {
                self.request(r)?;
            }
        }
        // Diagnostics of the last version arrive after the analysis of it.
        let (uri, version) = (self.uri.clone(), self.version);
        self.client.try_wait("textDocument/publishDiagnostics", Duration::from_secs(5), |p| {
            p["uri"] == uri.as_str() && p["version"] == version
        });
        self.check_diagnostics()?;
        self.check_reports()
    }

    /// No panic reported to the user or the client's log.
    fn check_reports(&self) -> Result<(), String> {
        let reports: Vec<&Value> = self
            .client
            .seen
            .iter()
            .filter(|m| {
                matches!(m["method"].as_str(), Some("window/showMessage" | "window/logMessage"))
                    && m["params"]["message"].as_str().unwrap_or("").contains("internal error")
            })
            .collect();
        if !reports.is_empty() {
            return Err(format!("the server reported an internal error: {reports:#?}"));
        }
        Ok(())
    }
}

/// CHAOS_SHOW=1 prints each request with the text it is about.
fn show() -> bool {
    std::env::var_os("CHAOS_SHOW").is_some()
}

/// Runs one case: the checks, then `shutdown`/`exit` in time with nothing panicking on stderr.
fn run_case(case: &Case) -> Result<(), String> {
    let mut chaos = Chaos::start(case);
    let outcome = chaos.run(case);
    let Chaos { client, .. } = chaos;
    let (elapsed, status, stderr) = client.shutdown_and_exit_keeping(LspClient::stderr_text);
    outcome?;
    if stderr.contains("panicked") || stderr.contains("internal error") {
        return Err(format!("the server's stderr reports a panic: {stderr}"));
    }
    if !status.success() || elapsed > EXIT_WITHIN {
        return Err(format!("shutdown and exit took {elapsed:?} and ended with {status:?}"));
    }
    Ok(())
}

#[test]
fn random_documents_edits_and_requests_keep_every_invariant() {
    let mut runner = runner(24);
    let result = runner.run(&case(), |case| run_case(&case).map_err(TestCaseError::fail));
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Documents built to hurt: huge, deep, one enormous line, an unclosed block comment. After
/// each is opened (and after each request on it) the server still answers hover, and every
/// answer keeps the invariants above. lsp.rs covers a file of many lines above the analysis
/// limit; these are the shapes it does not.
#[test]
fn evil_documents_keep_the_server_responsive() {
    let evil: Vec<(&'static str, String)> = vec![
        ("100,000 `(`", "(".repeat(100_000)),
        ("50,000 levels of nesting", format!("{}x{}", "(f ".repeat(50_000), ")".repeat(50_000))),
        // The deepest the reader takes: every pass runs over it.
        ("10,000 levels of nesting", format!("(define (g) {}x{})", "(f ".repeat(9_998), ")".repeat(9_998))),
        ("a 1 MB string on one line", format!("(define s \"{}\")", "a😀\\\" ".repeat(1 << 17))),
        ("only `#|`", "#|".to_string()),
        ("`#|` on every line", "#|\n".repeat(50_000)),
    ];
    for (name, text) in evil {
        // The client's own reading and formatting of deep text recurse: a large stack.
        within_stack(256 << 20, Duration::from_secs(600), name, move || evil_document(name, &text, METHODS));
    }
}

/// 10 MB of program, with the requests an editor sends on opening it and typing in it (a
/// debug build takes seconds for each).
#[test]
fn a_10_mb_document_keeps_the_server_responsive() {
    let line = "(define (f x) (string-append \"é😀\" x)) ; a comment\r\n";
    let text = line.repeat((10 << 20) / line.len() + 1);
    let methods = [
        "textDocument/foldingRange",
        "textDocument/codeLens",
        "textDocument/semanticTokens/range",
        "textDocument/documentSymbol",
        "textDocument/inlayHint",
        "textDocument/selectionRange",
        "textDocument/onTypeFormatting",
        "textDocument/completion",
    ];
    within_stack(256 << 20, Duration::from_secs(600), "10 MB", move || evil_document("10 MB", &text, &methods));
}

/// Opens `text`, then sends hover, each of `methods` with a hover after it, and Enter at the
/// end; every answer keeps the invariants, and the server ends cleanly.
fn evil_document(name: &str, text: &str, methods: &[&'static str]) {
    let case =
        Case { utf8: false, multiline_tokens: false, debug_log: true, text: text.to_string(), steps: Vec::new() };
    let mut chaos = Chaos::start(&case);
    let ls = lines(text);
    let (s, e) = ls[ls.len() / 2];
    let middle = RawPos { line: (ls.len() / 2) as u32, ch: width(&text[s..e], Enc::Utf16) as u32 / 2, wild: false };
    let end = RawPos { line: ls.len() as u32 - 1, ch: u32::MAX - 3, wild: false };
    let hover = Request { method: "textDocument/hover", a: middle.clone(), b: end.clone(), more: Vec::new(), pick: 0 };
    chaos.request(&hover).unwrap_or_else(|e| panic!("{name}: {e}"));
    for &method in methods {
        let r = Request { method, a: middle.clone(), b: end.clone(), more: vec![end.clone()], pick: 1 };
        chaos.request(&r).unwrap_or_else(|e| panic!("{name}: {e}"));
        chaos.request(&hover).unwrap_or_else(|e| panic!("{name}, after {method}: {e}"));
    }
    chaos.edit(&Edit::Enter(end.clone())).unwrap_or_else(|e| panic!("{name}: {e}"));
    chaos.request(&hover).unwrap_or_else(|e| panic!("{name}, after Enter: {e}"));
    chaos.check_diagnostics().and_then(|()| chaos.check_reports()).unwrap_or_else(|e| panic!("{name}: {e}"));
    let Chaos { client, .. } = chaos;
    let (_, status, stderr) = client.shutdown_and_exit_keeping(LspClient::stderr_text);
    assert!(status.success(), "{name}: {status:?}; {stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("overflow"), "{name}: {stderr}");
}

// ----- cases the chaos found, kept as plain tests -----

/// One step of requests at fixed places, for the saved cases below.
fn requests_at(methods: &[&'static str], a: (u32, u32), b: (u32, u32)) -> Step {
    let pos = |(line, ch): (u32, u32)| RawPos { line, ch, wild: true };
    let requests =
        methods.iter().map(|&method| Request { method, a: pos(a), b: pos(b), more: vec![pos(b)], pick: 0 }).collect();
    Step { edits: Vec::new(), save: false, requests }
}

#[test]
fn a_line_comment_ending_in_the_cr_of_a_crlf_stays_on_its_line() {
    // The comment `;\r` ends between `\r` and `\n`: its end was sent as column 2 of a
    // one-column line.
    let case = Case {
        utf8: false,
        multiline_tokens: false,
        debug_log: false,
        text: ";\r\n\n".into(),
        steps: vec![requests_at(&["textDocument/selectionRange", "textDocument/foldingRange"], (0, 1), (0, 0))],
    };
    run_case(&case).unwrap();
}

#[test]
fn deep_nesting_gives_a_selection_chain_clients_can_read() {
    // 200 levels: a chain of 400 nested ranges, deeper than JSON decoders take (this client's
    // stops at 128 and dropped the answer); 50,000 levels took minutes to climb.
    for n in [200, 50_000] {
        let text = format!("(define (f x) x)\n{}x{}\n", "(f ".repeat(n), ")".repeat(n));
        let x = (3 * n) as u32;
        let case = Case {
            utf8: true,
            multiline_tokens: false,
            debug_log: false,
            text,
            steps: vec![requests_at(&["textDocument/selectionRange"], (1, x), (1, 0))],
        };
        run_case(&case).unwrap();
    }
}
