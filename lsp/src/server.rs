//! The protocol edge: `LanguageServer` handlers over the shared [`State`].
//!
//! The one ordering rule: document edits are applied synchronously at the start of
//! `did_open`/`did_change`/`did_close`, before any `.await`, so they apply in arrival order
//! although handlers run concurrently. Analysis runs on the blocking pool over a snapshot;
//! evaluation on each file's worker thread ([`crate::eval`]); requests answer from the latest
//! snapshot and never wait for a run or an LLM call.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use serde_json::Value as Json;
use tower_lsp_server::jsonrpc::{Error as RpcError, Result};
use tower_lsp_server::ls_types::notification::Notification;
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, LanguageServer};

use crate::document::{Document, Encoding};
use crate::eval::{self, Target};
use crate::features;
use crate::log;
use crate::settings::Settings;
use crate::state::{lock, ClientFacts, DocState, Snapshot, State, SLOW_IN_DELAY};
use crate::{actions, completion, explore, hover, navigation, semantic, structure, workspace};

pub const COMMANDS: &[&str] = &[
    "omega.runFile",
    "omega.runForm",
    "omega.cancel",
    "omega.clearCache",
    "omega.explore",
    "omega.replay",
    "omega.answerText",
];

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
pub(crate) const SNAPSHOT_WAIT: Duration = Duration::from_millis(750);
/// At most this many inlay refreshes a second or so.
pub(crate) const REFRESH_EVERY: Duration = Duration::from_millis(150);

#[derive(Clone)]
pub struct Backend {
    pub client: Client,
    pub state: Arc<State>,
}

impl Backend {
    pub fn new(client: Client) -> Backend {
        let hook = |name| std::env::var(name).ok().filter(|s: &String| !s.is_empty());
        let (panic_in, slow_in) = (hook("OMEGA_LSP_PANIC_IN"), hook("OMEGA_LSP_SLOW_IN"));
        Backend { client, state: Arc::new(State { panic_in, slow_in, ..State::default() }) }
    }

    /// Runs a handler body, turning a panic into an internal error for this request and one
    /// message to the user; the server keeps serving. Timed for the log: every message at
    /// `debug`, one slower than [`log::SLOW_HANDLER`] at `warn`.
    pub(crate) async fn guard<T>(&self, what: &str, body: impl Future<Output = Result<T>>) -> Result<T> {
        self.guard_on(what, None, body).await
    }

    /// [`Backend::guard`] for a message about document `doc`, which a slow-handler line names.
    pub(crate) async fn guard_on<T>(
        &self,
        what: &str,
        doc: Option<Uri>,
        body: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let mut timed = Timed::start(what, doc);
        let result = self.catch_panic(what, body).await;
        timed.failed = result.is_err();
        result
    }

    pub(crate) async fn guard_notification_on(&self, what: &str, doc: Option<Uri>, body: impl Future<Output = ()>) {
        let _ = self
            .guard_on(what, doc, async {
                body.await;
                Ok(())
            })
            .await;
    }

    /// Guards work that is no message (a run's events, an exploration): a panic is caught as
    /// in [`Backend::guard`], but the work is not timed as a handler.
    pub(crate) async fn guard_background(&self, what: &str, body: impl Future<Output = ()>) {
        let _ = self
            .catch_panic(what, async {
                body.await;
                Ok(())
            })
            .await;
    }

    async fn catch_panic<T>(&self, what: &str, body: impl Future<Output = Result<T>>) -> Result<T> {
        let inject = self.state.panic_in.as_deref() == Some(what);
        let slow = self.state.slow_in.as_deref() == Some(what);
        let body = async move {
            if inject {
                panic!("injected fault in {what} (OMEGA_LSP_PANIC_IN)");
            }
            if slow {
                tokio::time::sleep(SLOW_IN_DELAY).await;
            }
            body.await
        };
        match AssertUnwindSafe(body).catch_unwind().await {
            Ok(r) => r,
            Err(panic) => {
                let message = eval::panic_message(&*panic);
                self.report_panic(what, &message).await;
                Err(RpcError::internal_error())
            }
        }
    }

    /// Reports that `what` failed with `panic`: to the client's log, and once as a message.
    /// A panic's own message may quote the document (a slicing panic does), so the server's
    /// log names only what failed.
    pub(crate) async fn report_panic(&self, what: &str, panic: &str) {
        let message = format!("{what} failed: {panic}");
        log::error(format_args!("internal error: {what} failed (the message is in the client's log)"));
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

    pub(crate) fn settings(&self) -> Settings {
        lock(&self.state.settings).clone()
    }

    pub(crate) fn facts(&self) -> ClientFacts {
        lock(&self.state.client).clone()
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
}

/// Logs how long a message took to handle when dropped, so every way out of a handler counts:
/// at `debug`, or at `warn` when slower than [`log::SLOW_HANDLER`] (naming the document).
struct Timed<'a> {
    what: &'a str,
    doc: Option<Uri>,
    started: Instant,
    failed: bool,
}

impl<'a> Timed<'a> {
    fn start(what: &'a str, doc: Option<Uri>) -> Timed<'a> {
        Timed { what, doc, started: Instant::now(), failed: false }
    }
}

impl Drop for Timed<'_> {
    fn drop(&mut self) {
        let (what, took) = (self.what, log::Millis(self.started.elapsed()));
        let failed = if self.failed { " (failed)" } else { "" };
        if self.started.elapsed() > log::SLOW_HANDLER {
            let doc = self.doc.as_ref().map(|u| format!(" on {}", u.as_str())).unwrap_or_default();
            log::warn(format_args!("slow handler: {what} took {took}{doc}{failed}"));
        } else {
            log::debug(format_args!("{what} took {took}{failed}"));
        }
    }
}

/// The document a request is about, for the log.
trait AboutDocument {
    fn doc(&self) -> Option<Uri>;
}

impl AboutDocument for TextDocumentIdentifier {
    fn doc(&self) -> Option<Uri> {
        Some(self.uri.clone())
    }
}

impl AboutDocument for TextDocumentPositionParams {
    fn doc(&self) -> Option<Uri> {
        self.text_document.doc()
    }
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
        copy_answer: client_runs(params, hover::COPY_ANSWER),
        multiline_tokens: caps
            .text_document
            .as_ref()
            .and_then(|t| t.semantic_tokens.as_ref())
            .and_then(|s| s.multiline_token_support)
            .unwrap_or(false),
        watched_files_dynamic: ws
            .and_then(|w| w.did_change_watched_files.as_ref())
            .and_then(|w| w.dynamic_registration)
            .unwrap_or(false),
    }
}

/// Whether the client says it runs `command` from links the server sends, in rust-analyzer's
/// shape: `capabilities.experimental.commands.commands: ["omega.copyAnswer", …]`. Clients
/// that do not say so (Neovim, Helix) get no such links: they could not follow them.
fn client_runs(params: &InitializeParams, command: &str) -> bool {
    let listed = params.capabilities.experimental.as_ref().and_then(|e| e.get("commands")?.get("commands")?.as_array());
    listed.is_some_and(|cs| cs.iter().any(|c| c.as_str() == Some(command)))
}

impl LanguageServer for Backend {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        let _timed = Timed::start("initialize", None);
        let facts = negotiate(&params);
        let encoding = facts.encoding;
        let client = params
            .client_info
            .as_ref()
            .map_or("an unnamed client".into(), |c| format!("{} {}", c.name, c.version.as_deref().unwrap_or("")));
        let positions = if encoding == Encoding::Utf8 { "UTF-8" } else { "UTF-16" };
        log::info(format_args!(
            "omega-lsp {} serving {}; positions in {positions}",
            env!("CARGO_PKG_VERSION"),
            client.trim_end()
        ));
        *lock(&self.state.client) = facts;
        self.state.index.start(workspace::initial_folders(&params), encoding);
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
        let _timed = Timed::start("initialized", None);
        // Neither waits for the other's answer from the client.
        futures::join!(self.fetch_configuration(), self.start_workspace_index());
    }

    async fn shutdown(&self) -> Result<()> {
        let _timed = Timed::start("shutdown", None);
        self.state.shutting_down.store(true, Ordering::SeqCst);
        self.state.index.stop();
        let uris: Vec<Uri> = lock(&self.state.workers).keys().cloned().collect();
        for uri in uris {
            self.cancel_run(&uri);
        }
        let explored: Vec<Uri> = lock(&self.state.docs).keys().cloned().collect();
        for uri in explored {
            self.cancel_exploration(&uri);
        }
        Ok(())
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        // The guard polls its body at once: the edit still applies before any `.await`.
        self.guard_notification_on("textDocument/didOpen", Some(params.text_document.uri.clone()), async {
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
        self.guard_notification_on("textDocument/didChange", Some(params.text_document.uri.clone()), async {
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
        let _timed = Timed::start("textDocument/didSave", params.text_document.doc());
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
        self.guard_background("running on save", async {
            if let Err(message) = self.start_run(&uri, Target::File).await {
                self.client.show_message(MessageType::WARNING, message).await;
            }
        })
        .await;
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        let _timed = Timed::start("textDocument/didClose", params.text_document.doc());
        let uri = params.text_document.uri;
        self.cancel_run(&uri);
        self.cancel_exploration(&uri);
        lock(&self.state.docs).remove(&uri);
        lock(&self.state.workers).remove(&uri);
        self.reindex_closed(&uri);
        self.client.publish_diagnostics(uri, Vec::new(), None).await;
    }

    async fn did_change_workspace_folders(&self, params: DidChangeWorkspaceFoldersParams) {
        let _timed = Timed::start("workspace/didChangeWorkspaceFolders", None);
        self.workspace_folders_changed(params.event);
    }

    async fn did_change_watched_files(&self, params: DidChangeWatchedFilesParams) {
        let _timed = Timed::start("workspace/didChangeWatchedFiles", None);
        self.watched_files_changed(params);
    }

    async fn did_change_configuration(&self, params: DidChangeConfigurationParams) {
        let _timed = Timed::start("workspace/didChangeConfiguration", None);
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
        self.guard_on("textDocument/hover", params.text_document_position_params.doc(), async {
            let tdp = params.text_document_position_params;
            let uri = tdp.text_document.uri;
            let Some((snap, offset)) = self.at(&uri, tdp.position).await else { return Ok(None) };
            let result = lock(&self.state.docs).get(&uri).and_then(|d| {
                let here = d.doc.map().offset(tdp.position);
                d.results.at(here).cloned()
            });
            let copy_from = self.facts().copy_answer.then_some(&uri);
            Ok(hover::hover(&snap, offset, result.as_ref(), copy_from).map(|(text, span)| Hover {
                contents: HoverContents::Markup(MarkupContent { kind: MarkupKind::Markdown, value: text }),
                range: Some(snap.map.range(span)),
            }))
        })
        .await
    }

    async fn completion(&self, params: CompletionParams) -> Result<Option<CompletionResponse>> {
        self.guard_on("textDocument/completion", params.text_document_position.doc(), async {
            let tdp = params.text_document_position;
            let Some((snap, offset)) = self.at(&tdp.text_document.uri, tdp.position).await else { return Ok(None) };
            Ok(Some(CompletionResponse::Array(completion::complete(&snap, offset))))
        })
        .await
    }

    async fn signature_help(&self, params: SignatureHelpParams) -> Result<Option<SignatureHelp>> {
        self.guard_on("textDocument/signatureHelp", params.text_document_position_params.doc(), async {
            let tdp = params.text_document_position_params;
            let Some((snap, offset)) = self.at(&tdp.text_document.uri, tdp.position).await else { return Ok(None) };
            Ok(completion::signature_help(&snap, offset))
        })
        .await
    }

    async fn goto_definition(&self, params: GotoDefinitionParams) -> Result<Option<GotoDefinitionResponse>> {
        self.guard_on("textDocument/definition", params.text_document_position_params.doc(), async {
            let tdp = params.text_document_position_params;
            let uri = tdp.text_document.uri;
            let Some((snap, offset)) = self.at(&uri, tdp.position).await else { return Ok(None) };
            Ok(navigation::definition(&snap, &uri, offset).map(GotoDefinitionResponse::Scalar))
        })
        .await
    }

    async fn references(&self, params: ReferenceParams) -> Result<Option<Vec<Location>>> {
        self.guard_on("textDocument/references", params.text_document_position.doc(), async {
            let tdp = params.text_document_position;
            let uri = tdp.text_document.uri;
            let Some((snap, offset)) = self.at(&uri, tdp.position).await else { return Ok(None) };
            Ok(Some(navigation::references(&snap, &uri, offset, params.context.include_declaration)))
        })
        .await
    }

    async fn document_highlight(&self, params: DocumentHighlightParams) -> Result<Option<Vec<DocumentHighlight>>> {
        self.guard_on("textDocument/documentHighlight", params.text_document_position_params.doc(), async {
            let tdp = params.text_document_position_params;
            let Some((snap, offset)) = self.at(&tdp.text_document.uri, tdp.position).await else { return Ok(None) };
            Ok(Some(navigation::highlights(&snap, offset)))
        })
        .await
    }

    async fn prepare_rename(&self, params: TextDocumentPositionParams) -> Result<Option<PrepareRenameResponse>> {
        self.guard_on("textDocument/prepareRename", params.doc(), async {
            let Some((snap, offset)) = self.at(&params.text_document.uri, params.position).await else {
                return Ok(None);
            };
            Ok(navigation::prepare_rename(&snap, offset).map(PrepareRenameResponse::Range))
        })
        .await
    }

    async fn rename(&self, params: RenameParams) -> Result<Option<WorkspaceEdit>> {
        self.guard_on("textDocument/rename", params.text_document_position.doc(), async {
            let tdp = params.text_document_position;
            let uri = tdp.text_document.uri;
            let Some((snap, offset)) = self.at(&uri, tdp.position).await else { return Ok(None) };
            navigation::rename(&snap, &uri, offset, &params.new_name).map_err(RpcError::invalid_params)
        })
        .await
    }

    async fn document_symbol(&self, params: DocumentSymbolParams) -> Result<Option<DocumentSymbolResponse>> {
        self.guard_on("textDocument/documentSymbol", params.text_document.doc(), async {
            let Some(snap) = self.snapshot(&params.text_document.uri).await else { return Ok(None) };
            Ok(Some(DocumentSymbolResponse::Nested(navigation::document_symbols(&snap))))
        })
        .await
    }

    async fn symbol(&self, params: WorkspaceSymbolParams) -> Result<Option<WorkspaceSymbolResponse>> {
        self.guard("workspace/symbol", async {
            Ok(Some(WorkspaceSymbolResponse::Nested(self.workspace_symbols(&params.query).await)))
        })
        .await
    }

    async fn semantic_tokens_full(&self, params: SemanticTokensParams) -> Result<Option<SemanticTokensResult>> {
        self.guard_on("textDocument/semanticTokens/full", params.text_document.doc(), async {
            let Some(snap) = self.snapshot(&params.text_document.uri).await else { return Ok(None) };
            Ok(Some(SemanticTokensResult::Tokens(semantic::tokens(&snap, None, self.facts().multiline_tokens))))
        })
        .await
    }

    async fn semantic_tokens_range(
        &self,
        params: SemanticTokensRangeParams,
    ) -> Result<Option<SemanticTokensRangeResult>> {
        self.guard_on("textDocument/semanticTokens/range", params.text_document.doc(), async {
            let Some(snap) = self.snapshot(&params.text_document.uri).await else { return Ok(None) };
            let within = snap.map.span(params.range);
            Ok(Some(SemanticTokensRangeResult::Tokens(semantic::tokens(
                &snap,
                Some(within),
                self.facts().multiline_tokens,
            ))))
        })
        .await
    }

    async fn folding_range(&self, params: FoldingRangeParams) -> Result<Option<Vec<FoldingRange>>> {
        self.guard_on("textDocument/foldingRange", params.text_document.doc(), async {
            let Some(snap) = self.snapshot(&params.text_document.uri).await else { return Ok(None) };
            Ok(Some(structure::folding_ranges(&snap)))
        })
        .await
    }

    async fn selection_range(&self, params: SelectionRangeParams) -> Result<Option<Vec<SelectionRange>>> {
        self.guard_on("textDocument/selectionRange", params.text_document.doc(), async {
            let Some(snap) = self.snapshot(&params.text_document.uri).await else { return Ok(None) };
            let offsets: Vec<usize> = params.positions.iter().map(|p| snap.map.offset(*p)).collect();
            Ok(Some(structure::selection_ranges(&snap, &offsets)))
        })
        .await
    }

    async fn formatting(&self, params: DocumentFormattingParams) -> Result<Option<Vec<TextEdit>>> {
        self.guard_on("textDocument/formatting", params.text_document.doc(), async {
            let Some(snap) = self.snapshot(&params.text_document.uri).await else { return Ok(None) };
            structure::format_document(&snap).map(Some).map_err(RpcError::invalid_params)
        })
        .await
    }

    async fn range_formatting(&self, params: DocumentRangeFormattingParams) -> Result<Option<Vec<TextEdit>>> {
        self.guard_on("textDocument/rangeFormatting", params.text_document.doc(), async {
            let Some(snap) = self.snapshot(&params.text_document.uri).await else { return Ok(None) };
            structure::format_range(&snap, params.range).map(Some).map_err(RpcError::invalid_params)
        })
        .await
    }

    async fn on_type_formatting(&self, params: DocumentOnTypeFormattingParams) -> Result<Option<Vec<TextEdit>>> {
        self.guard("textDocument/onTypeFormatting", async {
            let tdp = params.text_document_position;
            // The text as edited, not the last analysed snapshot: the Enter that asks is the
            // latest edit, and an edit for an older text would land in the wrong place.
            let docs = lock(&self.state.docs);
            let Some(d) = docs.get(&tdp.text_document.uri) else { return Ok(None) };
            Ok(Some(structure::indent_line(d.doc.text(), d.doc.map(), d.doc.tree(), tdp.position.line)))
        })
        .await
    }

    async fn code_action(&self, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        self.guard_on("textDocument/codeAction", params.text_document.doc(), async {
            let uri = params.text_document.uri;
            let Some(snap) = self.snapshot(&uri).await else { return Ok(None) };
            let range = snap.map.span(params.range);
            let mut out = actions::quick_fixes(&snap, &uri, range);
            if self.settings().trusted {
                out.extend(explore::actions(&snap, &uri, range));
            }
            Ok(Some(out))
        })
        .await
    }

    async fn code_lens(&self, params: CodeLensParams) -> Result<Option<Vec<CodeLens>>> {
        self.guard_on("textDocument/codeLens", params.text_document.doc(), async {
            let uri = params.text_document.uri;
            let Some(snap) = self.snapshot(&uri).await else { return Ok(None) };
            let (running, explored) = {
                let docs = lock(&self.state.docs);
                let d = docs.get(&uri);
                (d.is_some_and(|d| d.run.is_some()), d.and_then(|d| d.explored.clone()))
            };
            let mut lenses = structure::code_lenses(&snap, &uri, running);
            if let Some(explored) = explored {
                lenses.extend(explore::replay_lenses(&snap, &uri, &explored));
            }
            Ok(Some(lenses))
        })
        .await
    }

    async fn inlay_hint(&self, params: InlayHintParams) -> Result<Option<Vec<InlayHint>>> {
        self.guard_on("textDocument/inlayHint", params.text_document.doc(), async {
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

    /// `window/workDoneProgress/cancel`: cancelling a run's progress cancels the run, an
    /// exploration's the exploration.
    pub async fn progress_cancel(&self, params: WorkDoneProgressCancelParams) {
        let NumberOrString::String(token) = params.token else {
            return;
        };
        if self.cancel_exploration_by_token(&token) {
            return;
        }
        let uri = lock(&self.state.docs)
            .iter()
            .find(|(_, d)| d.run.as_ref().and_then(|r| r.progress.as_deref()) == Some(token.as_str()))
            .map(|(u, _)| u.clone());
        if let Some(uri) = uri {
            self.cancel_run(&uri);
        }
    }
}
