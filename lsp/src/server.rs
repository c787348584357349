//! The protocol edge: `LanguageServer` handlers over the shared [`State`].
//!
//! The one ordering rule: document edits are applied synchronously at the start of
//! `did_open`/`did_change`/`did_close`, before any `.await`, so they apply in arrival order
//! although handlers run concurrently. Analysis runs on the blocking pool over a snapshot;
//! evaluation on each file's worker thread ([`crate::eval`]); requests answer from the latest
//! snapshot and never wait for a run or an LLM call.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use serde_json::{json, Value as Json};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};
use tower_lsp_server::jsonrpc::{Error as RpcError, Result};
use tower_lsp_server::ls_types::notification::Notification;
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, LanguageServer};

use omega_syntax::diagnostic::Code;

use crate::diagnostics::{self, EvalDiagnostic};
use crate::document::{Document, Encoding};
use crate::eval::{self, Job, RunEvent, RunState, Target, Worker};
use crate::features;
use crate::results::Kind;
use crate::settings::{Settings, MAX_ANALYSIS_BYTES};
use crate::state::{lock, ClientFacts, DocState, Run, Snapshot, State};
use crate::{actions, completion, hover, navigation, semantic, structure};

pub const COMMANDS: &[&str] = &["omega.runFile", "omega.runForm", "omega.cancel", "omega.clearCache"];

/// `omega/evalStatus` (interfaces.md).
pub enum EvalStatus {}
impl Notification for EvalStatus {
    type Params = Json;
    const METHOD: &'static str = "omega/evalStatus";
}

/// `omega/output`: what the running program writes.
pub enum OmegaOutput {}
impl Notification for OmegaOutput {
    type Params = Json;
    const METHOD: &'static str = "omega/output";
}

/// How long a request waits for the analysis of the version it was made against.
const SNAPSHOT_WAIT: Duration = Duration::from_millis(750);
/// At most this many inlay refreshes a second or so.
const REFRESH_EVERY: Duration = Duration::from_millis(150);

#[derive(Clone)]
pub struct Backend {
    pub client: Client,
    pub state: Arc<State>,
}

impl Backend {
    pub fn new(client: Client) -> Backend {
        let panic_in = std::env::var("OMEGA_LSP_PANIC_IN").ok().filter(|s| !s.is_empty());
        Backend { client, state: Arc::new(State { panic_in, ..State::default() }) }
    }

    /// Runs a handler body, turning a panic into an internal error for this request and one
    /// message to the user; the server keeps serving.
    async fn guard<T>(&self, what: &str, body: impl Future<Output = Result<T>>) -> Result<T> {
        let inject = self.state.panic_in.as_deref() == Some(what);
        let body = async move {
            if inject {
                panic!("injected fault in {what} (OMEGA_LSP_PANIC_IN)");
            }
            body.await
        };
        match AssertUnwindSafe(body).catch_unwind().await {
            Ok(r) => r,
            Err(panic) => {
                let message = eval::panic_message(&*panic);
                self.report_panic(&format!("{what} failed: {message}")).await;
                Err(RpcError::internal_error())
            }
        }
    }

    async fn guard_notification(&self, what: &str, body: impl Future<Output = ()>) {
        let _ = self
            .guard(what, async {
                body.await;
                Ok(())
            })
            .await;
    }

    async fn report_panic(&self, message: &str) {
        self.client.log_message(MessageType::ERROR, format!("omega-lsp: internal error: {message}")).await;
        if !self.state.panic_reported.swap(true, Ordering::SeqCst) {
            self.client
                .show_message(
                    MessageType::ERROR,
                    format!("omega-lsp hit an internal error and keeps running ({message}). Details are in the log."),
                )
                .await;
        }
    }

    fn settings(&self) -> Settings {
        lock(&self.state.settings).clone()
    }

    fn facts(&self) -> ClientFacts {
        lock(&self.state.client).clone()
    }

    // ----- analysis -----

    /// Analyses the current version of `uri` on the blocking pool and publishes, unless a
    /// newer version arrives first (then its own analysis publishes).
    fn schedule_analysis(&self, uri: Uri) {
        let Some((version, text, tree, map)) = ({
            let docs = lock(&self.state.docs);
            docs.get(&uri).map(|d| (d.doc.version, d.doc.text().clone(), d.doc.tree().cloned(), d.doc.map().clone()))
        }) else {
            return;
        };
        let this = self.clone();
        tokio::spawn(async move {
            let state = this.state.clone();
            let uri2 = uri.clone();
            let computed = tokio::task::spawn_blocking(move || {
                let current = lock(&state.docs).get(&uri2).map(|d| d.doc.version);
                if current != Some(version) {
                    return None;
                }
                let analysis = (text.len() <= MAX_ANALYSIS_BYTES).then(|| {
                    let parsed = match &tree {
                        Some(tree) => omega_syntax::reader::read_tree(&text, tree),
                        None => omega_syntax::reader::read(&text),
                    };
                    omega_analysis::analyze_parsed(&text, &parsed)
                });
                Some(Arc::new(Snapshot { version, text, map, tree, analysis }))
            })
            .await;
            let snapshot = match computed {
                Ok(Some(s)) => s,
                Ok(None) => return,
                Err(e) if e.is_panic() => {
                    let message = eval::panic_message(&*e.into_panic());
                    this.report_panic(&format!("analysis failed: {message}")).await;
                    return;
                }
                Err(_) => return,
            };
            let too_big = snapshot.analysis.is_none();
            let report = {
                let mut docs = lock(&this.state.docs);
                let Some(d) = docs.get_mut(&uri) else { return };
                if d.doc.version != version {
                    return;
                }
                d.snapshot.send_replace(Some(snapshot));
                let first = too_big && !d.too_big_reported;
                d.too_big_reported |= too_big;
                first
            };
            if report {
                this.client
                    .show_message(
                        MessageType::WARNING,
                        format!(
                            "{} is larger than {} MB: omega-lsp does not analyse it as you type (running it still works).",
                            uri.as_str(),
                            MAX_ANALYSIS_BYTES >> 20
                        ),
                    )
                    .await;
            }
            this.publish(&uri).await;
        });
    }

    /// Publishes analysis and evaluation diagnostics of the current version (nothing when the
    /// analysis of the current version is still on its way: it publishes when done).
    async fn publish(&self, uri: &Uri) {
        let built = {
            let docs = lock(&self.state.docs);
            let Some(d) = docs.get(uri) else { return };
            let Some(snap) = d.latest_snapshot() else {
                return;
            };
            if snap.version != d.doc.version {
                return;
            }
            let mut out: Vec<Diagnostic> = match &snap.analysis {
                Some(a) => a.diagnostics.iter().map(|x| diagnostics::from_analysis(&snap.map, uri, x)).collect(),
                None => Vec::new(),
            };
            out.extend(d.eval_diagnostics.iter().map(|x| diagnostics::from_eval(&snap.map, uri, x)));
            (out, d.doc.version)
        };
        self.client.publish_diagnostics(uri.clone(), built.0, Some(built.1)).await;
    }

    /// The analysis snapshot of the current version of `uri`, waiting a little for it when the
    /// latest edit is still being analysed; else the newest one there is.
    pub async fn snapshot(&self, uri: &Uri) -> Option<Arc<Snapshot>> {
        let (mut rx, version) = {
            let docs = lock(&self.state.docs);
            let d = docs.get(uri)?;
            (d.snapshot.subscribe(), d.doc.version)
        };
        let deadline = tokio::time::Instant::now() + SNAPSHOT_WAIT;
        loop {
            if let Some(s) = rx.borrow_and_update().clone() {
                if s.version >= version {
                    return Some(s);
                }
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => continue,
                _ => return rx.borrow().clone(),
            }
        }
    }

    // ----- evaluation -----

    fn worker(&self, uri: &Uri) -> std::result::Result<Arc<Worker>, String> {
        let mut workers = lock(&self.state.workers);
        if let Some(w) = workers.get(uri) {
            return Ok(w.clone());
        }
        let (tx, rx) = unbounded_channel();
        let worker = Arc::new(Worker::spawn(tx).map_err(|e| format!("cannot start an evaluation thread: {e}"))?);
        workers.insert(uri.clone(), worker.clone());
        tokio::spawn(self.clone().pump(uri.clone(), rx));
        Ok(worker)
    }

    /// Starts a run of `uri`; the error says why nothing runs.
    pub async fn start_run(&self, uri: &Uri, target: Target) -> std::result::Result<u64, String> {
        let settings = self.settings();
        if !settings.trusted {
            return Err("omega-lsp evaluates nothing in an untrusted workspace: trust the workspace in the editor \
                        (setting `omega.eval.trusted`) to run this file. Analysis works either way."
                .into());
        }
        let worker = self.worker(uri)?;
        let job_id = self.state.next_job.fetch_add(1, Ordering::SeqCst) + 1;
        let text = {
            let mut docs = lock(&self.state.docs);
            let d = docs.get_mut(uri).ok_or_else(|| format!("{} is not open in the editor", uri.as_str()))?;
            d.last_job = job_id;
            d.edit_log.clear();
            let whole_file = matches!(target, Target::File);
            d.run = Some(Run {
                job: job_id,
                whole_file,
                started: Instant::now(),
                llm_sent: 0,
                llm_done: 0,
                progress: None,
            });
            d.doc.text().clone()
        };
        worker.cancel_upto(job_id - 1);
        let path = uri_path(uri);
        let name = path.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| uri.as_str().to_string());
        let inject_panic = self.state.panic_in.as_deref() == Some("run");
        let job = Job { id: job_id, name, path, text, target, settings, inject_panic };
        if !worker.submit(job) {
            return Err("the evaluation thread of this file has stopped".into());
        }
        Ok(job_id)
    }

    pub fn cancel_run(&self, uri: &Uri) -> bool {
        let last = lock(&self.state.docs).get(uri).map(|d| d.last_job).unwrap_or(0);
        match lock(&self.state.workers).get(uri) {
            Some(w) => {
                w.cancel_upto(last);
                true
            }
            None => false,
        }
    }

    /// Applies a worker's events to the state and tells the client, in order.
    async fn pump(self, uri: Uri, mut rx: UnboundedReceiver<RunEvent>) {
        while let Some(ev) = rx.recv().await {
            let this = self.clone();
            let uri = uri.clone();
            this.guard_notification("applying a run's results", async { self.on_run_event(&uri, ev).await }).await;
        }
    }

    async fn on_run_event(&self, uri: &Uri, ev: RunEvent) {
        match ev {
            RunEvent::Started { job } => {
                let current = {
                    let mut docs = lock(&self.state.docs);
                    match docs.get_mut(uri) {
                        Some(d) if d.last_job == job => {
                            d.eval_diagnostics.clear();
                            true
                        }
                        _ => false,
                    }
                };
                if !current {
                    return;
                }
                self.status(uri, "running", 0, Duration::ZERO).await;
                self.begin_progress(uri, job).await;
                self.publish(uri).await;
                self.refresh_lenses().await;
            }
            RunEvent::LlmSent { job, span } => {
                let changed = self.with_run(uri, job, |d| {
                    let (span, _) = d.from_run_text(span);
                    d.results.put(span, Kind::Pending, job);
                    if let Some(r) = &mut d.run {
                        r.llm_sent += 1;
                    }
                });
                if changed.is_some() {
                    self.report_progress(uri).await;
                    self.refresh_hints();
                }
            }
            RunEvent::LlmAnswered { job, span, result } => {
                let changed = self.with_run(uri, job, |d| {
                    let (span, stale) = d.from_run_text(span);
                    match result {
                        Ok(answer) => d.results.put(span, Kind::Answer { answer, calls: 1, previous: None }, job),
                        Err(message) => {
                            d.results.put(span, Kind::Error(message.clone()), job);
                            d.eval_diagnostics.push(EvalDiagnostic {
                                span,
                                code: Code::LlmError,
                                message: format!("LLM call failed: {message}"),
                                related: Vec::new(),
                            });
                        }
                    }
                    if stale {
                        if let Some(r) = d.results.entries.iter_mut().find(|r| r.span == span && r.job == job) {
                            r.stale = true;
                        }
                    }
                    if let Some(r) = &mut d.run {
                        r.llm_done += 1;
                    }
                });
                if changed.is_some() {
                    self.report_progress(uri).await;
                    self.refresh_hints();
                }
            }
            RunEvent::LlmDropped { job, span } => {
                if self
                    .with_run(uri, job, |d| {
                        let (span, _) = d.from_run_text(span);
                        d.results.drop_pending(span, job);
                    })
                    .is_some()
                {
                    self.refresh_hints();
                }
            }
            RunEvent::Form { job, span, result } => {
                let changed = self.with_run(uri, job, |d| {
                    let (span, stale) = d.from_run_text(span);
                    match result {
                        Ok(value) => d.results.put(span, Kind::Value(value), job),
                        Err(f) => {
                            let (at, _) = d.from_run_text(f.span);
                            let related =
                                f.related.iter().map(|p| (d.from_run_text(p.span).0, p.message.clone())).collect();
                            d.results.put(span, Kind::Error(f.message.clone()), job);
                            let duplicate =
                                f.llm && d.eval_diagnostics.iter().any(|e| e.code == Code::LlmError && e.span == at);
                            if !duplicate {
                                d.eval_diagnostics.push(EvalDiagnostic {
                                    span: at,
                                    code: if f.llm { Code::LlmError } else { Code::EvalError },
                                    message: f.message,
                                    related,
                                });
                            }
                        }
                    }
                    if stale {
                        if let Some(r) = d.results.entries.iter_mut().find(|r| r.span == span && r.job == job) {
                            r.stale = true;
                        }
                    }
                });
                if changed.is_some() {
                    self.refresh_hints();
                }
            }
            RunEvent::Output { job: _, text } => {
                self.client.log_message(MessageType::LOG, text.trim_end_matches('\n')).await;
                self.client.send_notification::<OmegaOutput>(json!({"uri": uri.as_str(), "text": text})).await;
            }
            RunEvent::Finished { job, state, elapsed } => {
                let done = {
                    let mut docs = lock(&self.state.docs);
                    docs.get_mut(uri).map(|d| {
                        let current = d.last_job == job;
                        let (calls, progress, whole_file) = match &d.run {
                            Some(r) if r.job == job => (r.llm_sent, r.progress.clone(), r.whole_file),
                            _ => (0, None, true),
                        };
                        if current {
                            d.results.finish(job, whole_file);
                            d.run = None;
                            d.edit_log.clear();
                        }
                        (current, calls, progress)
                    })
                };
                let Some((current, calls, progress)) = done else {
                    return;
                };
                self.status(uri, state.as_str(), calls, elapsed).await;
                if !current {
                    return;
                }
                if let Some(token) = progress {
                    self.end_progress(token, state).await;
                }
                self.publish(uri).await;
                self.refresh_hints();
                self.refresh_lenses().await;
            }
            RunEvent::Broken { job, message, panicked } => {
                if panicked {
                    self.report_panic(&format!("a run of {} failed: {message}", uri.as_str())).await;
                } else {
                    self.client
                        .show_message(MessageType::ERROR, format!("omega: cannot run {}: {message}", uri.as_str()))
                        .await;
                }
                let progress = {
                    let mut docs = lock(&self.state.docs);
                    match docs.get_mut(uri) {
                        Some(d) if d.last_job == job => d.run.take().and_then(|r| r.progress),
                        _ => None,
                    }
                };
                self.status(uri, "failed", 0, Duration::ZERO).await;
                if let Some(token) = progress {
                    self.end_progress(token, RunState::Failed).await;
                }
                self.refresh_lenses().await;
            }
        }
    }

    /// Runs `f` on the document if `job` is its current run.
    fn with_run<R>(&self, uri: &Uri, job: u64, f: impl FnOnce(&mut DocState) -> R) -> Option<R> {
        let mut docs = lock(&self.state.docs);
        let d = docs.get_mut(uri)?;
        (d.last_job == job).then(|| f(d))
    }

    async fn status(&self, uri: &Uri, state: &str, llm_calls: u64, elapsed: Duration) {
        let version = lock(&self.state.docs).get(uri).map(|d| d.doc.version);
        let params = json!({
            "uri": uri.as_str(),
            "version": version,
            "state": state,
            "llmCalls": llm_calls,
            "elapsedMs": elapsed.as_millis() as u64,
        });
        self.client.send_notification::<EvalStatus>(params).await;
    }

    async fn begin_progress(&self, uri: &Uri, job: u64) {
        if !self.facts().work_done_progress {
            return;
        }
        let token = format!("omega-run-{job}");
        if self.client.create_work_done_progress(NumberOrString::String(token.clone())).await.is_err() {
            return;
        }
        let name = uri.as_str().rsplit('/').next().unwrap_or("file").to_string();
        let known = self
            .with_run(uri, job, |d| {
                if let Some(r) = &mut d.run {
                    r.progress = Some(token.clone());
                }
            })
            .is_some();
        if !known {
            return;
        }
        self.progress(
            &token,
            WorkDoneProgress::Begin(WorkDoneProgressBegin {
                title: format!("Running {name}"),
                cancellable: Some(true),
                message: Some("LLM calls: 0/0".into()),
                percentage: Some(0),
            }),
        )
        .await;
    }

    async fn report_progress(&self, uri: &Uri) {
        let Some((token, sent, done)) = lock(&self.state.docs)
            .get(uri)
            .and_then(|d| d.run.as_ref())
            .and_then(|r| r.progress.clone().map(|t| (t, r.llm_sent, r.llm_done)))
        else {
            return;
        };
        let percentage = (done * 100).checked_div(sent).unwrap_or(0) as u32;
        self.progress(
            &token,
            WorkDoneProgress::Report(WorkDoneProgressReport {
                cancellable: Some(true),
                message: Some(format!("LLM calls: {done}/{sent}")),
                percentage: Some(percentage),
            }),
        )
        .await;
    }

    async fn end_progress(&self, token: String, state: RunState) {
        self.progress(&token, WorkDoneProgress::End(WorkDoneProgressEnd { message: Some(state.as_str().into()) }))
            .await;
    }

    async fn progress(&self, token: &str, value: WorkDoneProgress) {
        self.client
            .send_notification::<notification::Progress>(ProgressParams {
                token: NumberOrString::String(token.to_string()),
                value: ProgressParamsValue::WorkDone(value),
            })
            .await;
    }

    /// Asks the client to re-fetch inlay hints: at once when the last refresh is older than
    /// [`REFRESH_EVERY`], else once at the end of that interval (later changes ride along).
    fn refresh_hints(&self) {
        if !self.facts().inlay_refresh || self.state.refresh_pending.swap(true, Ordering::SeqCst) {
            return;
        }
        let wait = {
            let last = lock(&self.state.last_refresh);
            last.map_or(Duration::ZERO, |t| REFRESH_EVERY.saturating_sub(t.elapsed()))
        };
        let this = self.clone();
        tokio::spawn(async move {
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            *lock(&this.state.last_refresh) = Some(Instant::now());
            this.state.refresh_pending.store(false, Ordering::SeqCst);
            let _ = this.client.inlay_hint_refresh().await;
        });
    }

    async fn refresh_lenses(&self) {
        if self.facts().code_lens_refresh {
            let client = self.client.clone();
            // The client answers when it likes; do not hold this handler.
            tokio::spawn(async move {
                let _ = client.code_lens_refresh().await;
            });
        }
    }

    async fn fetch_configuration(&self) {
        if !self.facts().configuration {
            return;
        }
        let items = vec![ConfigurationItem { scope_uri: None, section: Some("omega".into()) }];
        if let Ok(values) = self.client.configuration(items).await {
            if let Some(v) = values.first().filter(|v| !v.is_null()) {
                let mut s = lock(&self.state.settings);
                *s = s.merged(v);
            }
        }
    }

    async fn execute(&self, params: ExecuteCommandParams) -> Result<Option<LSPAny>> {
        let arg_uri = |i: usize| -> Result<Uri> {
            let s = params
                .arguments
                .get(i)
                .and_then(|a| a.as_str().map(str::to_string).or_else(|| a.get("uri")?.as_str().map(str::to_string)));
            s.and_then(|s| s.parse().ok()).ok_or_else(|| {
                RpcError::invalid_params(format!("{}: argument {} must be a document URI", params.command, i + 1))
            })
        };
        match params.command.as_str() {
            "omega.runFile" | "omega.runForm" => {
                let uri = arg_uri(0)?;
                let target = if params.command == "omega.runForm" {
                    let pos: Position = params
                        .arguments
                        .get(1)
                        .and_then(|p| serde_json::from_value(p.clone()).ok())
                        .ok_or_else(|| {
                            RpcError::invalid_params("omega.runForm: argument 2 must be a position {line, character}")
                        })?;
                    let offset = lock(&self.state.docs)
                        .get(&uri)
                        .map(|d| d.doc.map().offset(pos))
                        .ok_or_else(|| RpcError::invalid_params(format!("{} is not open", uri.as_str())))?;
                    Target::Form(offset)
                } else {
                    Target::File
                };
                match self.start_run(&uri, target).await {
                    Ok(job) => Ok(Some(json!({"started": true, "run": job}))),
                    Err(message) => {
                        self.client.show_message(MessageType::WARNING, &message).await;
                        Ok(Some(json!({"started": false, "message": message})))
                    }
                }
            }
            "omega.cancel" => {
                let uri = arg_uri(0)?;
                Ok(Some(json!({"cancelled": self.cancel_run(&uri)})))
            }
            "omega.clearCache" => {
                let start = lock(&self.state.docs).keys().find_map(uri_path);
                let config = omega_llm::config::LlmConfig::resolve(start.as_deref(), &self.settings().llm_overrides())
                    .map_err(|e| RpcError::invalid_params(e.to_string()))?;
                let service = omega_llm::LlmService::new(&config).map_err(|e| RpcError::invalid_params(e.message))?;
                match service.clear_cache() {
                    Ok(()) => Ok(Some(json!({"cleared": true}))),
                    Err(e) => Err(RpcError::invalid_params(format!("cannot clear the LLM cache: {e}"))),
                }
            }
            other => Err(RpcError::invalid_params(format!("unknown command {other}; known: {}", COMMANDS.join(", ")))),
        }
    }
}

/// The file path of a `file:` URI.
pub fn uri_path(uri: &Uri) -> Option<PathBuf> {
    let s = uri.as_str().strip_prefix("file://")?;
    let decoded = percent_decode(s);
    Some(PathBuf::from(decoded))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn negotiate(params: &InitializeParams) -> ClientFacts {
    let caps = &params.capabilities;
    let utf8 = caps
        .general
        .as_ref()
        .and_then(|g| g.position_encodings.as_ref())
        .is_some_and(|encs| encs.contains(&PositionEncodingKind::UTF8));
    let ws = caps.workspace.as_ref();
    ClientFacts {
        encoding: if utf8 { Encoding::Utf8 } else { Encoding::Utf16 },
        configuration: ws.and_then(|w| w.configuration).unwrap_or(false),
        inlay_refresh: ws.and_then(|w| w.inlay_hint.as_ref()).and_then(|h| h.refresh_support).unwrap_or(false),
        code_lens_refresh: ws.and_then(|w| w.code_lens.as_ref()).and_then(|h| h.refresh_support).unwrap_or(false),
        work_done_progress: caps.window.as_ref().and_then(|w| w.work_done_progress).unwrap_or(false),
    }
}

impl LanguageServer for Backend {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        let facts = negotiate(&params);
        let encoding = facts.encoding;
        *lock(&self.state.client) = facts;
        if let Some(opts) = &params.initialization_options {
            let mut s = lock(&self.state.settings);
            *s = s.merged(opts);
        }
        Ok(InitializeResult {
            capabilities: features::capabilities(encoding),
            server_info: Some(ServerInfo { name: "omega-lsp".into(), version: Some(env!("CARGO_PKG_VERSION").into()) }),
            offset_encoding: None,
        })
    }

    async fn initialized(&self, _: InitializedParams) {
        self.fetch_configuration().await;
    }

    async fn shutdown(&self) -> Result<()> {
        self.state.shutting_down.store(true, Ordering::SeqCst);
        let uris: Vec<Uri> = lock(&self.state.workers).keys().cloned().collect();
        for uri in uris {
            self.cancel_run(&uri);
        }
        Ok(())
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        // The guard polls its body at once: the edit still applies before any `.await`.
        self.guard_notification("textDocument/didOpen", async {
            let td = params.text_document;
            let encoding = lock(&self.state.client).encoding;
            {
                let doc = Document::new(&td.text, td.version, encoding);
                lock(&self.state.docs).insert(td.uri.clone(), DocState::new(doc));
            }
            self.schedule_analysis(td.uri);
        })
        .await
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        self.guard_notification("textDocument/didChange", async {
            let uri = params.text_document.uri;
            // (applied, whether inline results may have moved or gone stale)
            let applied = {
                let mut docs = lock(&self.state.docs);
                docs.get_mut(&uri).map(|d| {
                    let edits = d.doc.apply(params.text_document.version, params.content_changes);
                    d.track(&edits);
                    !d.results.entries.is_empty()
                })
            };
            if let Some(has_results) = applied {
                self.schedule_analysis(uri);
                if has_results {
                    self.refresh_hints();
                }
            }
        })
        .await
    }

    async fn did_save(&self, params: DidSaveTextDocumentParams) {
        let uri = params.text_document.uri;
        let settings = self.settings();
        if !settings.eval_on_save {
            return;
        }
        if !settings.trusted {
            self.client
                .log_message(
                    MessageType::INFO,
                    format!("omega: not running {} on save: the workspace is not trusted", uri.as_str()),
                )
                .await;
            return;
        }
        self.guard_notification("running on save", async {
            if let Err(message) = self.start_run(&uri, Target::File).await {
                self.client.show_message(MessageType::WARNING, message).await;
            }
        })
        .await;
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        let uri = params.text_document.uri;
        self.cancel_run(&uri);
        lock(&self.state.docs).remove(&uri);
        lock(&self.state.workers).remove(&uri);
        self.client.publish_diagnostics(uri, Vec::new(), None).await;
    }

    async fn did_change_configuration(&self, params: DidChangeConfigurationParams) {
        if !params.settings.is_null() {
            let mut s = lock(&self.state.settings);
            *s = s.merged(&params.settings);
        }
        self.fetch_configuration().await;
    }

    async fn execute_command(&self, params: ExecuteCommandParams) -> Result<Option<LSPAny>> {
        self.guard("workspace/executeCommand", self.execute(params)).await
    }

    async fn hover(&self, params: HoverParams) -> Result<Option<Hover>> {
        self.guard("textDocument/hover", async {
            let tdp = params.text_document_position_params;
            let uri = tdp.text_document.uri;
            let Some((snap, offset)) = self.at(&uri, tdp.position).await else { return Ok(None) };
            let result = lock(&self.state.docs).get(&uri).and_then(|d| {
                let here = d.doc.map().offset(tdp.position);
                d.results.at(here).cloned()
            });
            Ok(hover::hover(&snap, offset, result.as_ref()).map(|(text, span)| Hover {
                contents: HoverContents::Markup(MarkupContent { kind: MarkupKind::Markdown, value: text }),
                range: Some(snap.map.range(span)),
            }))
        })
        .await
    }

    async fn completion(&self, params: CompletionParams) -> Result<Option<CompletionResponse>> {
        self.guard("textDocument/completion", async {
            let tdp = params.text_document_position;
            let Some((snap, offset)) = self.at(&tdp.text_document.uri, tdp.position).await else { return Ok(None) };
            Ok(Some(CompletionResponse::Array(completion::complete(&snap, offset))))
        })
        .await
    }

    async fn signature_help(&self, params: SignatureHelpParams) -> Result<Option<SignatureHelp>> {
        self.guard("textDocument/signatureHelp", async {
            let tdp = params.text_document_position_params;
            let Some((snap, offset)) = self.at(&tdp.text_document.uri, tdp.position).await else { return Ok(None) };
            Ok(completion::signature_help(&snap, offset))
        })
        .await
    }

    async fn goto_definition(&self, params: GotoDefinitionParams) -> Result<Option<GotoDefinitionResponse>> {
        self.guard("textDocument/definition", async {
            let tdp = params.text_document_position_params;
            let uri = tdp.text_document.uri;
            let Some((snap, offset)) = self.at(&uri, tdp.position).await else { return Ok(None) };
            Ok(navigation::definition(&snap, &uri, offset).map(GotoDefinitionResponse::Scalar))
        })
        .await
    }

    async fn references(&self, params: ReferenceParams) -> Result<Option<Vec<Location>>> {
        self.guard("textDocument/references", async {
            let tdp = params.text_document_position;
            let uri = tdp.text_document.uri;
            let Some((snap, offset)) = self.at(&uri, tdp.position).await else { return Ok(None) };
            Ok(Some(navigation::references(&snap, &uri, offset, params.context.include_declaration)))
        })
        .await
    }

    async fn document_highlight(&self, params: DocumentHighlightParams) -> Result<Option<Vec<DocumentHighlight>>> {
        self.guard("textDocument/documentHighlight", async {
            let tdp = params.text_document_position_params;
            let Some((snap, offset)) = self.at(&tdp.text_document.uri, tdp.position).await else { return Ok(None) };
            Ok(Some(navigation::highlights(&snap, offset)))
        })
        .await
    }

    async fn prepare_rename(&self, params: TextDocumentPositionParams) -> Result<Option<PrepareRenameResponse>> {
        self.guard("textDocument/prepareRename", async {
            let Some((snap, offset)) = self.at(&params.text_document.uri, params.position).await else {
                return Ok(None);
            };
            Ok(navigation::prepare_rename(&snap, offset).map(PrepareRenameResponse::Range))
        })
        .await
    }

    async fn rename(&self, params: RenameParams) -> Result<Option<WorkspaceEdit>> {
        self.guard("textDocument/rename", async {
            let tdp = params.text_document_position;
            let uri = tdp.text_document.uri;
            let Some((snap, offset)) = self.at(&uri, tdp.position).await else { return Ok(None) };
            navigation::rename(&snap, &uri, offset, &params.new_name).map_err(RpcError::invalid_params)
        })
        .await
    }

    async fn document_symbol(&self, params: DocumentSymbolParams) -> Result<Option<DocumentSymbolResponse>> {
        self.guard("textDocument/documentSymbol", async {
            let Some(snap) = self.snapshot(&params.text_document.uri).await else { return Ok(None) };
            Ok(Some(DocumentSymbolResponse::Nested(navigation::document_symbols(&snap))))
        })
        .await
    }

    async fn symbol(&self, params: WorkspaceSymbolParams) -> Result<Option<WorkspaceSymbolResponse>> {
        self.guard("workspace/symbol", async {
            let snaps: Vec<(Uri, Arc<Snapshot>)> = lock(&self.state.docs)
                .iter()
                .filter_map(|(u, d)| d.latest_snapshot().map(|s| (u.clone(), s)))
                .collect();
            let mut out = Vec::new();
            for (uri, snap) in snaps {
                out.extend(navigation::workspace_symbols(&snap, &uri, &params.query));
            }
            out.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(Some(WorkspaceSymbolResponse::Nested(out)))
        })
        .await
    }

    async fn semantic_tokens_full(&self, params: SemanticTokensParams) -> Result<Option<SemanticTokensResult>> {
        self.guard("textDocument/semanticTokens/full", async {
            let Some(snap) = self.snapshot(&params.text_document.uri).await else { return Ok(None) };
            Ok(Some(SemanticTokensResult::Tokens(semantic::tokens(&snap, None))))
        })
        .await
    }

    async fn semantic_tokens_range(
        &self,
        params: SemanticTokensRangeParams,
    ) -> Result<Option<SemanticTokensRangeResult>> {
        self.guard("textDocument/semanticTokens/range", async {
            let Some(snap) = self.snapshot(&params.text_document.uri).await else { return Ok(None) };
            let within = snap.map.span(params.range);
            Ok(Some(SemanticTokensRangeResult::Tokens(semantic::tokens(&snap, Some(within)))))
        })
        .await
    }

    async fn folding_range(&self, params: FoldingRangeParams) -> Result<Option<Vec<FoldingRange>>> {
        self.guard("textDocument/foldingRange", async {
            let Some(snap) = self.snapshot(&params.text_document.uri).await else { return Ok(None) };
            Ok(Some(structure::folding_ranges(&snap)))
        })
        .await
    }

    async fn selection_range(&self, params: SelectionRangeParams) -> Result<Option<Vec<SelectionRange>>> {
        self.guard("textDocument/selectionRange", async {
            let Some(snap) = self.snapshot(&params.text_document.uri).await else { return Ok(None) };
            let offsets: Vec<usize> = params.positions.iter().map(|p| snap.map.offset(*p)).collect();
            Ok(Some(structure::selection_ranges(&snap, &offsets)))
        })
        .await
    }

    async fn formatting(&self, params: DocumentFormattingParams) -> Result<Option<Vec<TextEdit>>> {
        self.guard("textDocument/formatting", async {
            let Some(snap) = self.snapshot(&params.text_document.uri).await else { return Ok(None) };
            structure::format_document(&snap).map(Some).map_err(RpcError::invalid_params)
        })
        .await
    }

    async fn range_formatting(&self, params: DocumentRangeFormattingParams) -> Result<Option<Vec<TextEdit>>> {
        self.guard("textDocument/rangeFormatting", async {
            let Some(snap) = self.snapshot(&params.text_document.uri).await else { return Ok(None) };
            let range = snap.map.span(params.range);
            structure::format_range(&snap, range).map(Some).map_err(RpcError::invalid_params)
        })
        .await
    }

    async fn code_action(&self, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        self.guard("textDocument/codeAction", async {
            let uri = params.text_document.uri;
            let Some(snap) = self.snapshot(&uri).await else { return Ok(None) };
            let range = snap.map.span(params.range);
            Ok(Some(actions::quick_fixes(&snap, &uri, range)))
        })
        .await
    }

    async fn code_lens(&self, params: CodeLensParams) -> Result<Option<Vec<CodeLens>>> {
        self.guard("textDocument/codeLens", async {
            let uri = params.text_document.uri;
            let Some(snap) = self.snapshot(&uri).await else { return Ok(None) };
            let running = lock(&self.state.docs).get(&uri).is_some_and(|d| d.run.is_some());
            Ok(Some(structure::code_lenses(&snap, &uri, running)))
        })
        .await
    }

    async fn inlay_hint(&self, params: InlayHintParams) -> Result<Option<Vec<InlayHint>>> {
        self.guard("textDocument/inlayHint", async {
            let docs = lock(&self.state.docs);
            let Some(d) = docs.get(&params.text_document.uri) else {
                return Ok(None);
            };
            Ok(Some(features::inlay_hints(d, params.range)))
        })
        .await
    }
}

impl Backend {
    /// The snapshot for a request at `pos` and the byte offset there.
    async fn at(&self, uri: &Uri, pos: Position) -> Option<(Arc<Snapshot>, usize)> {
        let snap = self.snapshot(uri).await?;
        let offset = snap.map.offset(pos);
        Some((snap, offset))
    }

    /// `window/workDoneProgress/cancel`: cancelling a run's progress cancels the run.
    pub async fn progress_cancel(&self, params: WorkDoneProgressCancelParams) {
        let NumberOrString::String(token) = params.token else {
            return;
        };
        let uri = lock(&self.state.docs)
            .iter()
            .find(|(_, d)| d.run.as_ref().and_then(|r| r.progress.as_deref()) == Some(token.as_str()))
            .map(|(u, _)| u.clone());
        if let Some(uri) = uri {
            self.cancel_run(&uri);
        }
    }
}
