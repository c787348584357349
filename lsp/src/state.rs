//! The server's shared state: open documents with their latest analysis snapshot, inline
//! results and evaluation diagnostics, the settings, and the negotiated client facts.
//!
//! Locks are plain `std` mutexes held for short, synchronous sections only: never across an
//! `.await`, never around analysis or evaluation.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::watch;
use tower_lsp_server::ls_types::Uri;

use omega_analysis::Analysis;

use crate::diagnostics::EvalDiagnostic;
use crate::document::{ByteEdit, Document, Encoding, LineMap};
use crate::eval::Worker;
use crate::explore::{Explored, Exploring};
use crate::results::{move_span, Results};
use crate::settings::Settings;
use crate::workspace_index::WorkspaceIndex;

/// One version of a document and what the analysis found in it. Plain data, shared with
/// request handlers that answer from it while newer versions are analysed.
pub struct Snapshot {
    pub version: i32,
    pub text: Arc<str>,
    pub map: LineMap,
    pub tree: Option<tree_sitter::Tree>,
    /// `None` when the file is above the analysis size limit.
    pub analysis: Option<Analysis>,
}

/// The run of a file in progress.
pub struct Run {
    pub job: u64,
    /// A run of the whole file (not one form in the kept session).
    pub whole_file: bool,
    pub started: Instant,
    pub llm_sent: u64,
    pub llm_done: u64,
    pub progress: Option<String>,
}

pub struct DocState {
    pub doc: Document,
    pub snapshot: watch::Sender<Option<Arc<Snapshot>>>,
    pub results: Results,
    pub eval_diagnostics: Vec<EvalDiagnostic>,
    /// Edits since the current run started: its spans are in the text it ran.
    pub edit_log: Vec<ByteEdit>,
    pub run: Option<Run>,
    /// The last job submitted for this file (runs of older jobs are superseded).
    pub last_job: u64,
    /// The document version each unfinished job evaluates.
    pub job_versions: HashMap<u64, i32>,
    pub too_big_reported: bool,
    /// Raised when a newer version is scheduled: the analysis of an older one stops early.
    pub analysis_cancel: Arc<AtomicBool>,
    /// The schedule exploration in progress.
    pub exploring: Option<Exploring>,
    /// What the last exploration said about this version's warnings.
    pub explored: Option<Explored>,
}

impl DocState {
    pub fn new(doc: Document) -> DocState {
        DocState {
            doc,
            snapshot: watch::channel(None).0,
            results: Results::default(),
            eval_diagnostics: Vec::new(),
            edit_log: Vec::new(),
            run: None,
            last_job: 0,
            job_versions: HashMap::new(),
            too_big_reported: false,
            analysis_cancel: Arc::new(AtomicBool::new(false)),
            exploring: None,
            explored: None,
        }
    }

    /// Moves results and evaluation diagnostics through edits of the text. An exploration's
    /// verdicts are about the text it ran: an edit drops them and cancels one in progress.
    pub fn track(&mut self, edits: &[ByteEdit]) {
        if !edits.is_empty() {
            self.explored = None;
            if let Some(e) = self.exploring.take() {
                e.cancel.cancel();
            }
        }
        for e in edits {
            self.results.apply_edit(e);
            for d in &mut self.eval_diagnostics {
                d.span = move_span(d.span, e).0;
                for (span, _) in &mut d.related {
                    *span = move_span(*span, e).0;
                }
            }
        }
        if self.run.is_some() {
            self.edit_log.extend_from_slice(edits);
        }
    }

    /// A span of the text the current run started from, in the current text; `true` when an
    /// edit since touched it.
    pub fn from_run_text(&self, span: omega_syntax::syntax::Span) -> (omega_syntax::syntax::Span, bool) {
        self.edit_log.iter().fold((span, false), |(s, touched), e| {
            let (s, t) = move_span(s, e);
            (s, touched || t)
        })
    }

    pub fn latest_snapshot(&self) -> Option<Arc<Snapshot>> {
        self.snapshot.borrow().clone()
    }
}

/// What the client told us at `initialize`.
#[derive(Clone, Debug, Default)]
pub struct ClientFacts {
    pub encoding: Encoding,
    pub configuration: bool,
    pub inlay_refresh: bool,
    pub code_lens_refresh: bool,
    pub work_done_progress: bool,
    /// The client runs `omega.copyAnswer` links in hovers (`experimental.commands.commands`).
    pub copy_answer: bool,
    /// Semantic tokens may span lines (`multilineTokenSupport`).
    pub multiline_tokens: bool,
    /// The server may register a file watcher (`didChangeWatchedFiles.dynamicRegistration`).
    pub watched_files_dynamic: bool,
}

#[derive(Default)]
pub struct State {
    pub docs: Mutex<HashMap<Uri, DocState>>,
    pub settings: Mutex<Settings>,
    pub client: Mutex<ClientFacts>,
    pub workers: Mutex<HashMap<Uri, Arc<Worker>>>,
    pub next_job: std::sync::atomic::AtomicU64,
    pub panic_reported: std::sync::atomic::AtomicBool,
    pub refresh_pending: std::sync::atomic::AtomicBool,
    pub last_refresh: Mutex<Option<Instant>>,
    pub shutting_down: std::sync::atomic::AtomicBool,
    /// The definitions in the workspace's files on disk.
    pub index: WorkspaceIndex,
    /// Fault injection for tests of panic safety: the handler named by `OMEGA_LSP_PANIC_IN`
    /// (e.g. `textDocument/hover`) panics.
    pub panic_in: Option<String>,
    /// Test hook for the slow-handler log line: the request handler named by
    /// `OMEGA_LSP_SLOW_IN` (e.g. `textDocument/hover`) first waits [`SLOW_IN_DELAY`]. Not for
    /// edit notifications, which must apply before their first `.await`.
    pub slow_in: Option<String>,
}

/// How long the handler named by `OMEGA_LSP_SLOW_IN` waits: past the slow-handler threshold.
pub const SLOW_IN_DELAY: std::time::Duration = std::time::Duration::from_millis(150);

/// Locks a mutex, taking the data even if a panicking thread poisoned it: handlers catch
/// panics and the state stays usable.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
