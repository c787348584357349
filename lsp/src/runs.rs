//! Runs of a document: starting and cancelling them on the file's worker thread, applying
//! their events (results, LLM calls in flight, output, errors) to the state in order, and
//! telling the client (inlay refreshes, `omega/evalStatus`, `$/progress`, code lenses).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};
use tower_lsp_server::jsonrpc::{Error as RpcError, Result};
use tower_lsp_server::ls_types::*;

use omega_syntax::diagnostic::Code;

use crate::diagnostics::EvalDiagnostic;
use crate::eval::{Job, RunEvent, RunState, Target, Worker};
use crate::explore::Target as ExploreTarget;
use crate::log;
use crate::results::Kind;
use crate::server::{Backend, EvalStatus, OmegaOutput, COMMANDS, REFRESH_EVERY};
use crate::state::{lock, DocState, Run};
use crate::workspace::uri_path;

impl Backend {
    pub(crate) fn worker(&self, uri: &Uri) -> std::result::Result<Arc<Worker>, String> {
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
            let whole_file = target.whole_file();
            d.job_versions.insert(job_id, d.doc.version);
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
        let what = match target {
            Target::File => "the file".to_string(),
            Target::Form(offset) => format!("the form at byte {offset}"),
            Target::Replay(seed) => format!("the file under schedule seed {seed}"),
        };
        log::info(format_args!("run {job_id} of {}: {what}", uri.as_str()));
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
    pub(crate) async fn pump(self, uri: Uri, mut rx: UnboundedReceiver<RunEvent>) {
        while let Some(ev) = rx.recv().await {
            let this = self.clone();
            let uri = uri.clone();
            this.guard_background("applying a run's results", async { self.on_run_event(&uri, ev).await }).await;
        }
    }

    pub(crate) async fn on_run_event(&self, uri: &Uri, ev: RunEvent) {
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
                self.status(uri, job, "running", 0, Duration::ZERO).await;
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
                            for b in &f.blocked {
                                d.results.put(d.from_run_text(b.span).0, Kind::Blocked(b.message.clone()), job);
                            }
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
                log::info(format_args!(
                    "run {job} of {} {} after {}: {calls} LLM calls",
                    uri.as_str(),
                    state.as_str(),
                    log::Millis(elapsed)
                ));
                self.status(uri, job, state.as_str(), calls, elapsed).await;
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
                // The message is shown to the user; it may quote settings, so the log does not.
                log::warn(format_args!("run {job} of {} could not run (the user is told why)", uri.as_str()));
                if panicked {
                    self.report_panic(&format!("a run of {}", uri.as_str()), &message).await;
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
                self.status(uri, job, "failed", 0, Duration::ZERO).await;
                if let Some(token) = progress {
                    self.end_progress(token, RunState::Failed).await;
                }
                self.refresh_lenses().await;
            }
        }
    }

    /// Runs `f` on the document if `job` is its current run.
    pub(crate) fn with_run<R>(&self, uri: &Uri, job: u64, f: impl FnOnce(&mut DocState) -> R) -> Option<R> {
        let mut docs = lock(&self.state.docs);
        let d = docs.get_mut(uri)?;
        (d.last_job == job).then(|| f(d))
    }

    /// `omega/evalStatus` of the run of `job`, with the document version it evaluates.
    pub(crate) async fn status(&self, uri: &Uri, job: u64, state: &str, llm_calls: u64, elapsed: Duration) {
        let version = lock(&self.state.docs).get_mut(uri).and_then(|d| {
            let v = d.job_versions.get(&job).copied();
            if state != "running" {
                d.job_versions.remove(&job);
            }
            v
        });
        let params = json!({
            "uri": uri.as_str(),
            "version": version,
            "state": state,
            "llmCalls": llm_calls,
            "elapsedMs": elapsed.as_millis() as u64,
        });
        self.client.send_notification::<EvalStatus>(params).await;
    }

    pub(crate) async fn begin_progress(&self, uri: &Uri, job: u64) {
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

    pub(crate) async fn report_progress(&self, uri: &Uri) {
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

    pub(crate) async fn end_progress(&self, token: String, state: RunState) {
        self.progress(&token, WorkDoneProgress::End(WorkDoneProgressEnd { message: Some(state.as_str().into()) }))
            .await;
    }

    pub(crate) async fn progress(&self, token: &str, value: WorkDoneProgress) {
        self.client
            .send_notification::<notification::Progress>(ProgressParams {
                token: NumberOrString::String(token.to_string()),
                value: ProgressParamsValue::WorkDone(value),
            })
            .await;
    }

    /// Asks the client to re-fetch inlay hints: at once when the last refresh is older than
    /// [`REFRESH_EVERY`], else once at the end of that interval (later changes ride along).
    pub(crate) fn refresh_hints(&self) {
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

    pub(crate) async fn refresh_lenses(&self) {
        if self.facts().code_lens_refresh {
            let client = self.client.clone();
            // The client answers when it likes; do not hold this handler.
            tokio::spawn(async move {
                let _ = client.code_lens_refresh().await;
            });
        }
    }

    /// The reply to a command that starts work: `{started: true, KEY: id}`, or, when it was
    /// refused (an untrusted workspace…), the reason, also shown to the user.
    async fn started(&self, key: &str, start: std::result::Result<u64, String>) -> Result<Option<LSPAny>> {
        match start {
            Ok(id) => Ok(Some(json!({"started": true, key: id}))),
            Err(message) => {
                self.client.show_message(MessageType::WARNING, &message).await;
                Ok(Some(json!({"started": false, "message": message})))
            }
        }
    }

    pub(crate) async fn execute(&self, params: ExecuteCommandParams) -> Result<Option<LSPAny>> {
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
                self.started("run", self.start_run(&uri, target).await).await
            }
            "omega.cancel" => {
                let uri = arg_uri(0)?;
                let exploration = self.cancel_exploration(&uri);
                Ok(Some(json!({"cancelled": self.cancel_run(&uri) || exploration})))
            }
            "omega.explore" => {
                let uri = arg_uri(0)?;
                let target = params.arguments.get(1).and_then(ExploreTarget::from_json).ok_or_else(|| {
                    RpcError::invalid_params(
                        "omega.explore: argument 2 must name a warning: {code: omega::deadlock-order, \
                         omega::self-deadlock or omega::race, locks, state}",
                    )
                })?;
                self.started("exploration", self.start_exploration(&uri, target).await).await
            }
            "omega.replay" => {
                let uri = arg_uri(0)?;
                let seed = params.arguments.get(1).and_then(|s| s.as_u64()).ok_or_else(|| {
                    RpcError::invalid_params("omega.replay: argument 2 must be the schedule seed (a number)")
                })?;
                self.started("run", self.start_run(&uri, Target::Replay(seed)).await).await
            }
            "omega.answerText" => {
                let uri = arg_uri(0)?;
                let id = params.arguments.get(1).and_then(|a| a.as_u64()).ok_or_else(|| {
                    RpcError::invalid_params("omega.answerText: argument 2 must be the result's id (a number)")
                })?;
                let docs = lock(&self.state.docs);
                let d = docs.get(&uri).ok_or_else(|| {
                    RpcError::invalid_params(format!("omega.answerText: {} is not open", uri.as_str()))
                })?;
                match d.results.by_id(id).and_then(|r| Some((r.copy_text()?, r.copy_kind()))) {
                    Some((text, kind)) => Ok(Some(json!({"text": text, "kind": kind}))),
                    None => Err(RpcError::invalid_params(
                        "omega.answerText: that result is gone (the file ran again since the hover); \
                         hover the call again to copy the current one",
                    )),
                }
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
