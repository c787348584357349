//! omega-lsp: the OmegaLLM language server.
//!
//! The only crate that knows the Language Server Protocol. It keeps open documents, runs the
//! static analysis as you type, answers language features from analysis snapshots, and
//! evaluates buffers on save or on command in the embedded evaluator, showing every top-level
//! result and LLM answer inline.
//!
//! # Threads
//!
//! - The tokio runtime (stdio transport and handlers). Handlers run concurrently; document
//!   edits are applied synchronously at the start of `did_open`/`did_change`/`did_close`,
//!   before any `.await`, so they apply in arrival order.
//! - The blocking pool: one analysis per document version, over a snapshot (text, tree); a
//!   newer version supersedes an older one, whose result is dropped unpublished.
//! - One evaluation thread per file that was run ([`eval::Worker`]): it owns that file's
//!   `Session` (not `Send`), takes runs in order, and reports events over a channel that one
//!   task per file applies to the state. A new run cancels the previous one through its
//!   `CancelToken`; the machine then drops its LLM requests.
//! - Schedule explorations run on the blocking pool ([`explore`]), one per file at a time,
//!   stopped by their own `CancelToken` (cancel, a newer exploration, an edit).
//! - The workspace index reads files on the blocking pool: a walk of the folders after
//!   `initialized`, then each file the client reports changed; requests never wait for it.
//!
//! # Code map
//!
//! - [`document`]: rope text, positions (UTF-16/UTF-8, CRLF, lone CR, clamping), incremental
//!   tree-sitter reparse, byte edits.
//! - [`settings`]: the `omega` settings section and the server's defaults.
//! - [`state`]: documents, snapshots, inline results, runs; locks never held across `.await`.
//! - [`diagnostics`]: core diagnostics and evaluation failures as LSP diagnostics.
//! - [`eval`]: the evaluation worker and its events.
//! - [`explore`]: "Reproduce by exploring schedules" on deadlock and race warnings, the
//!   verdicts on those warnings, and the "▶ Replay seed S" lenses.
//! - [`results`]: inline results attached to ranges and moved through edits (stale `↻`).
//! - [`features`]: capabilities, inlay hints and helpers shared by the language features:
//!   [`hover`], [`completion`] (and signature help), [`navigation`] (definition, references,
//!   highlight, rename, symbols), [`semantic`] tokens, [`structure`] (folding, selection,
//!   formatting, indentation on Enter, code lenses), [`actions`] (quick fixes).
//! - [`server`]: the `LanguageServer` handlers, analysis scheduling, runs, notifications.
//! - [`workspace_index`]: the top-level definitions of the workspace's `.omega` files on
//!   disk, for `workspace/symbol`; `workspace` keeps it fresh (folders, file watcher).
//! - [`log`]: the server's own log (`OMEGA_LOG`, `--log FILE`): handler timings, analyses,
//!   runs.
//!
//! # Invariants
//!
//! - No request waits for an evaluation or an LLM call; requests wait at most briefly for the
//!   analysis of the version they were made against.
//! - A panic in a handler or a run is caught and reported once; the server keeps serving.
//! - API keys are read by the core from the environment variable the settings name; they never
//!   pass through this crate's messages.

pub mod actions;
mod analyze;
pub mod completion;
pub mod diagnostics;
pub mod document;
pub mod eval;
pub mod explore;
pub mod features;
pub mod hover;
pub mod log;
pub mod navigation;
#[cfg(test)]
mod random_text;
pub mod results;
mod runs;
pub mod semantic;
pub mod server;
pub mod settings;
pub mod state;
pub mod structure;
mod workspace;
pub mod workspace_index;

use tower_lsp_server::{LspService, Server};

/// Serves the protocol on stdin/stdout until the client says `exit`.
pub async fn serve_stdio() {
    let (service, socket) = LspService::build(server::Backend::new)
        .custom_method("window/workDoneProgress/cancel", server::Backend::progress_cancel)
        .finish();
    Server::new(tokio::io::stdin(), tokio::io::stdout(), socket).serve(service).await;
}
