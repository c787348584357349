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
use std::time::Duration;

use futures::FutureExt;
use serde_json::Value as Json;
use tower_lsp_server::jsonrpc::{Error as RpcError, Result};
use tower_lsp_server::ls_types::notification::Notification;
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, LanguageServer};

use crate::document::{Document, Encoding};
use crate::eval::{self, Target};
use crate::features;
use crate::settings::Settings;
use crate::state::{lock, ClientFacts, DocState, Snapshot, State};
use crate::{actions, completion, explore, hover, navigation, semantic, structure};

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
        let panic_in = std::env::var("OMEGA_LSP_PANIC_IN").ok().filter(|s| !s.is_empty());
        Backend { client, state: Arc::new(State { panic_in, ..State::default() }) }
    }

    /// Runs a handler body, turning a panic into an internal error for this request and one
    /// message to the user; the server keeps serving.
    pub(crate) async fn guard<T>(&self, what: &str, body: impl Future<Output = Result<T>>) -> Result<T> {
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

    pub(crate) async fn guard_notification(&self, what: &str, body: impl Future<Output = ()>) {
        let _ = self
            .guard(what, async {
                body.await;
                Ok(())
            })
            .await;
    }

    pub(crate) async fn report_panic(&self, message: &str) {
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
        let explored: Vec<Uri> = lock(&self.state.docs).keys().cloned().collect();
        for uri in explored {
            self.cancel_exploration(&uri);
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
        self.cancel_exploration(&uri);
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
            let copy_from = self.facts().copy_answer.then_some(&uri);
            Ok(hover::hover(&snap, offset, result.as_ref(), copy_from).map(|(text, span)| Hover {
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
        self.guard("textDocument/codeAction", async {
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
        self.guard("textDocument/codeLens", async {
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
