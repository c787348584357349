//! A language-server test client: starts the built `omega-lsp`, speaks JSON-RPC with
//! `Content-Length` framing over its stdio, performs the handshake, answers the server's own
//! requests (`workspace/configuration`; progress creation, refreshes and capability
//! registrations get `null`), and lets tests await notifications by method and predicate, with
//! timeouts.
//!
//! Everything the server writes (stdout and stderr) is kept, for scans such as "no API key in
//! any output".

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The path of an up-to-date `omega-lsp` binary (`OMEGA_LSP_BIN` names a prebuilt one).
pub fn omega_lsp_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| crate::cli::workspace_bin("omega-lsp", "omega-lsp", "OMEGA_LSP_BIN"))
}

/// How to start the server.
#[derive(Clone)]
pub struct Options {
    pub initialization_options: Value,
    /// What the client answers to `workspace/configuration` for section `omega`.
    pub settings: Value,
    /// Offer UTF-8 positions (`general.positionEncodings`).
    pub utf8: bool,
    pub env: Vec<(String, String)>,
    pub cwd: Option<PathBuf>,
    /// The client's `capabilities.experimental` (null: none).
    pub experimental: Value,
    /// Command-line arguments (`--log FILE`).
    pub args: Vec<String>,
    /// Take semantic tokens that span lines (`multilineTokenSupport`).
    pub multiline_tokens: bool,
    /// The workspace folders sent at `initialize` (`workspaceFolders`, the first as `rootUri`).
    pub workspace_folders: Vec<PathBuf>,
    /// Let the server register file watchers (`didChangeWatchedFiles.dynamicRegistration`).
    pub watch_files: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            initialization_options: json!({}),
            settings: Value::Null,
            utf8: false,
            env: Vec::new(),
            cwd: None,
            experimental: Value::Null,
            args: Vec::new(),
            multiline_tokens: false,
            workspace_folders: Vec::new(),
            watch_files: false,
        }
    }
}

/// A message from the server.
pub type Message = Value;

pub struct LspClient {
    child: Child,
    stdin: Arc<Mutex<ChildStdin>>,
    incoming: Receiver<Message>,
    /// Notifications and server requests received and not yet taken by a `wait_*`.
    backlog: VecDeque<Message>,
    /// Every notification and server request, in arrival order.
    pub seen: Vec<Message>,
    next_id: i64,
    output: Arc<Mutex<Vec<u8>>>,
    /// What the server wrote to stderr alone (its log, by default).
    stderr: Arc<Mutex<Vec<u8>>>,
    pub initialize_result: Value,
}

pub const TIMEOUT: Duration = Duration::from_secs(20);

fn write_frame(stdin: &Mutex<ChildStdin>, msg: &Value) {
    let body = msg.to_string();
    let mut w = stdin.lock().unwrap_or_else(|e| e.into_inner());
    let _ = write!(w, "Content-Length: {}\r\n\r\n{}", body.len(), body);
    let _ = w.flush();
}

/// Reads one framed message; `None` at end of stream. A body that is not JSON (or nests
/// deeper than the parser takes) is reported on stderr and skipped, so the request it
/// answered times out with a message instead of silencing every later one.
fn read_frame(r: &mut impl BufRead, raw: &Mutex<Vec<u8>>) -> Option<Value> {
    loop {
        if let Some(msg) = read_body(r, raw)? {
            return Some(msg);
        }
    }
}

/// One framed body: `Some(None)` when it does not parse.
fn read_body(r: &mut impl BufRead, raw: &Mutex<Vec<u8>>) -> Option<Option<Value>> {
    let mut len = None;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        raw.lock().unwrap().extend_from_slice(line.as_bytes());
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(v) = line.strip_prefix("Content-Length:") {
            len = v.trim().parse::<usize>().ok();
        }
    }
    let mut body = vec![0; len?];
    r.read_exact(&mut body).ok()?;
    raw.lock().unwrap().extend_from_slice(&body);
    match serde_json::from_slice(&body) {
        Ok(v) => Some(Some(v)),
        Err(e) => {
            eprintln!("omega-lsp sent a message the client cannot read ({e}), {} bytes", body.len());
            Some(None)
        }
    }
}

impl LspClient {
    /// Starts the server and completes `initialize`/`initialized`.
    pub fn start(options: Options) -> LspClient {
        let mut cmd = Command::new(omega_lsp_bin());
        cmd.args(&options.args);
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        // Keep the environment from choosing an LLM provider or a cache.
        for var in
            ["OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "OMEGA_ADAPTER", "OMEGA_SCRIPT", "OMEGA_MODEL"]
        {
            cmd.env_remove(var);
        }
        for (k, v) in &options.env {
            cmd.env(k, v);
        }
        if let Some(dir) = &options.cwd {
            cmd.current_dir(dir);
        }
        let mut child = cmd.spawn().expect("start omega-lsp");
        let stdin = Arc::new(Mutex::new(child.stdin.take().unwrap()));
        let output = Arc::new(Mutex::new(Vec::new()));
        let (tx, incoming) = channel();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let (raw, replies) = (output.clone(), stdin.clone());
        let settings = Arc::new(options.settings.clone());
        std::thread::spawn(move || {
            while let Some(msg) = read_frame(&mut stdout, &raw) {
                // Answer the server's requests at once, as editors do.
                if let (Some(id), Some(method)) = (msg.get("id"), msg.get("method").and_then(Value::as_str)) {
                    let result = match method {
                        "workspace/configuration" => {
                            let n = msg["params"]["items"].as_array().map_or(1, Vec::len);
                            Value::Array(vec![(*settings).clone(); n])
                        }
                        _ => Value::Null,
                    };
                    write_frame(&replies, &json!({"jsonrpc": "2.0", "id": id, "result": result}));
                }
                if tx.send(msg).is_err() {
                    break;
                }
            }
        });
        let mut stderr = child.stderr.take().unwrap();
        let raw = output.clone();
        let stderr_text = Arc::new(Mutex::new(Vec::new()));
        let err_only = stderr_text.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                raw.lock().unwrap().extend_from_slice(&buf[..n]);
                err_only.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        let mut client = LspClient {
            child,
            stdin,
            incoming,
            backlog: VecDeque::new(),
            seen: Vec::new(),
            next_id: 0,
            output,
            stderr: stderr_text,
            initialize_result: Value::Null,
        };
        let mut general = json!({});
        if options.utf8 {
            general = json!({"positionEncodings": ["utf-8", "utf-16"]});
        }
        let mut capabilities = json!({
            "general": general,
            "workspace": {
                "configuration": true,
                "inlayHint": {"refreshSupport": true},
                "codeLens": {"refreshSupport": true},
                "workspaceEdit": {"documentChanges": true},
                "workspaceFolders": true,
                "didChangeWatchedFiles": {"dynamicRegistration": options.watch_files},
            },
            "window": {"workDoneProgress": true},
            "textDocument": {
                "publishDiagnostics": {"relatedInformation": true, "versionSupport": true},
                "inlayHint": {},
                "synchronization": {"didSave": true},
                "semanticTokens": {
                    "requests": {"full": true, "range": true},
                    "tokenTypes": [],
                    "tokenModifiers": [],
                    "formats": ["relative"],
                    "multilineTokenSupport": options.multiline_tokens,
                },
            },
        });
        if !options.experimental.is_null() {
            capabilities["experimental"] = options.experimental.clone();
        }
        let folders: Vec<Value> = options
            .workspace_folders
            .iter()
            .map(
                |p| json!({"uri": file_uri(p), "name": p.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()}),
            )
            .collect();
        let root_uri = options.workspace_folders.first().map_or(Value::Null, |p| json!(file_uri(p)));
        client.initialize_result = client.request(
            "initialize",
            json!({
                "processId": std::process::id(),
                "rootUri": root_uri,
                "workspaceFolders": if folders.is_empty() { Value::Null } else { Value::Array(folders) },
                "capabilities": capabilities,
                "initializationOptions": options.initialization_options,
            }),
        );
        client.notify("initialized", json!({}));
        client
    }

    pub fn notify(&mut self, method: &str, params: Value) {
        write_frame(&self.stdin, &json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Sends a request and waits for its response: `Ok(result)` or `Err(error)`.
    pub fn request_raw(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        self.next_id += 1;
        let id = self.next_id;
        write_frame(&self.stdin, &json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let end = Instant::now() + TIMEOUT;
        loop {
            let msg = self.recv_until(end).unwrap_or_else(|| panic!("no response to {method} within {TIMEOUT:?}"));
            if msg.get("method").is_none() && msg.get("id") == Some(&json!(id)) {
                return match msg.get("error") {
                    Some(e) => Err(e.clone()),
                    None => Ok(msg.get("result").cloned().unwrap_or(Value::Null)),
                };
            }
            if msg.get("method").is_some() {
                self.seen.push(msg.clone());
                self.backlog.push_back(msg);
            }
        }
    }

    /// Sends a request and returns its result; panics on an error response.
    #[track_caller]
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        match self.request_raw(method, params) {
            Ok(v) => v,
            Err(e) => panic!("{method} failed: {e}"),
        }
    }

    fn recv_until(&mut self, end: Instant) -> Option<Message> {
        let left = end.saturating_duration_since(Instant::now());
        match self.incoming.recv_timeout(left) {
            Ok(m) => Some(m),
            Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => None,
        }
    }

    /// The first notification (or server request) `method` for which `pred` holds, received
    /// since the last wait took one; earlier non-matching ones stay for later waits.
    pub fn try_wait(&mut self, method: &str, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Option<Value> {
        if let Some(i) = self.backlog.iter().position(|m| m["method"] == method && pred(&m["params"])) {
            return self.backlog.remove(i).map(|m| m["params"].clone());
        }
        let end = Instant::now() + timeout;
        while let Some(msg) = self.recv_until(end) {
            if msg.get("method").is_none() {
                continue;
            }
            self.seen.push(msg.clone());
            if msg["method"] == method && pred(&msg["params"]) {
                return Some(msg["params"].clone());
            }
            self.backlog.push_back(msg);
        }
        None
    }

    #[track_caller]
    pub fn wait(&mut self, method: &str, pred: impl Fn(&Value) -> bool) -> Value {
        match self.try_wait(method, TIMEOUT, pred) {
            Some(v) => v,
            None => panic!(
                "no {method} matching the test within {TIMEOUT:?}; received: {:#?}",
                self.seen.iter().filter(|m| m["method"] == method).collect::<Vec<_>>()
            ),
        }
    }

    /// Diagnostics published for `uri` at `version`.
    #[track_caller]
    pub fn diagnostics(&mut self, uri: &str, version: i64) -> Vec<Value> {
        let p = self.wait("textDocument/publishDiagnostics", |p| p["uri"] == uri && p["version"] == version);
        p["diagnostics"].as_array().cloned().unwrap_or_default()
    }

    /// Waits for `omega/evalStatus` of `uri` in `state`.
    #[track_caller]
    pub fn eval_status(&mut self, uri: &str, state: &str) -> Value {
        self.wait("omega/evalStatus", |p| p["uri"] == uri && p["state"] == state)
    }

    pub fn open(&mut self, uri: &str, text: &str) {
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": "omega", "version": 1, "text": text}}),
        );
    }

    /// One incremental change: replace `range` ((line, character) pairs) by `text`.
    pub fn change(&mut self, uri: &str, version: i64, start: (u32, u32), end: (u32, u32), text: &str) {
        self.notify(
            "textDocument/didChange",
            json!({
                "textDocument": {"uri": uri, "version": version},
                "contentChanges": [{"range": range(start, end), "text": text}],
            }),
        );
    }

    pub fn save(&mut self, uri: &str) {
        self.notify("textDocument/didSave", json!({"textDocument": {"uri": uri}}));
    }

    /// Inlay hints over the whole document.
    pub fn inlay_hints(&mut self, uri: &str) -> Vec<Value> {
        let r = self.request(
            "textDocument/inlayHint",
            json!({"textDocument": {"uri": uri}, "range": range((0, 0), (100_000, 0))}),
        );
        r.as_array().cloned().unwrap_or_default()
    }

    /// Polls inlay hints until `pred` holds for the list (the server also asks for a refresh).
    #[track_caller]
    pub fn wait_hints(&mut self, uri: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let end = Instant::now() + TIMEOUT;
        loop {
            let hints = self.inlay_hints(uri);
            if pred(&hints) {
                return hints;
            }
            if Instant::now() > end {
                panic!("inlay hints never matched; last: {hints:#?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn command(&mut self, command: &str, arguments: Value) -> Value {
        self.request("workspace/executeCommand", json!({"command": command, "arguments": arguments}))
    }

    /// `shutdown` then `exit`; how long until the process ended, and its status.
    pub fn shutdown_and_exit(self) -> (Duration, ExitStatus, String) {
        self.shutdown_and_exit_keeping(LspClient::output_text)
    }

    /// [`LspClient::shutdown_and_exit`], then `keep` reads what the ended process left.
    pub fn shutdown_and_exit_keeping<T>(mut self, keep: impl FnOnce(&LspClient) -> T) -> (Duration, ExitStatus, T) {
        let start = Instant::now();
        let _ = self.request_raw("shutdown", Value::Null);
        self.notify("exit", Value::Null);
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait for omega-lsp") {
                break s;
            }
            if start.elapsed() > Duration::from_secs(10) {
                let _ = self.child.kill();
                panic!("omega-lsp still running 10 s after exit");
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let elapsed = start.elapsed();
        std::thread::sleep(Duration::from_millis(50));
        let kept = keep(&self);
        (elapsed, status, kept)
    }

    /// The server's process id (for memory readings).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the server wrote to stderr so far.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// Everything the server wrote so far (protocol and stderr).
    pub fn output_text(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }
}

impl Drop for LspClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn range(start: (u32, u32), end: (u32, u32)) -> Value {
    json!({"start": {"line": start.0, "character": start.1}, "end": {"line": end.0, "character": end.1}})
}

pub fn position(line: u32, character: u32) -> Value {
    json!({"line": line, "character": character})
}

/// A `file://` URI for a path.
/// The `llm` settings section for the loopback LLM server `llm`, caching under `cache`.
pub fn loopback_llm(llm: &crate::llm_server::LlmServer, cache: &Path) -> Value {
    json!({
        "adapter": "openai",
        "baseUrl": llm.openai_url(),
        "model": "loopback-model",
        "cacheDir": cache.display().to_string(),
    })
}

/// `decodeURIComponent`, as the editor applies it to a command link's query.
pub fn percent_decode(s: &str) -> String {
    let mut out = Vec::new();
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex = [bytes.next().unwrap(), bytes.next().unwrap()];
            out.push(u8::from_str_radix(std::str::from_utf8(&hex).unwrap(), 16).expect("a %XX escape"));
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).expect("UTF-8")
}

pub fn file_uri(path: &Path) -> String {
    format!("file://{}", path.display())
}
