//! Analysis as you type: each version of a document is analysed on the blocking pool over a
//! snapshot, a newer version supersedes an older one, and diagnostics carry their version.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tower_lsp_server::ls_types::*;

use crate::server::{Backend, SNAPSHOT_WAIT};
use crate::settings::MAX_ANALYSIS_BYTES;
use crate::state::{lock, Snapshot};
use crate::{diagnostics, eval, explore, log};

impl Backend {
    /// Analyses the current version of `uri` on the blocking pool and publishes, unless a
    /// newer version arrives first (then its own analysis publishes).
    pub(crate) fn schedule_analysis(&self, uri: Uri) {
        let Some((version, text, tree, map, cancel)) = ({
            let mut docs = lock(&self.state.docs);
            docs.get_mut(&uri).map(|d| {
                // A newer version supersedes the analysis of the older one still running.
                let cancel = Arc::new(AtomicBool::new(false));
                std::mem::replace(&mut d.analysis_cancel, cancel.clone()).store(true, Ordering::Relaxed);
                (d.doc.version, d.doc.text().clone(), d.doc.tree().cloned(), d.doc.map().clone(), cancel)
            })
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
                let started = Instant::now();
                let analysis = (text.len() <= MAX_ANALYSIS_BYTES).then(|| {
                    let parsed = match &tree {
                        Some(tree) => omega_syntax::reader::read_tree(&text, tree),
                        None => omega_syntax::reader::read(&text),
                    };
                    let options = omega_analysis::Options { cancel: Some(cancel.clone()) };
                    omega_analysis::analyze_parsed_with(&text, &parsed, &options)
                });
                // Superseded while running: the newer analysis publishes.
                if cancel.load(Ordering::Relaxed) {
                    log::info(format_args!(
                        "analysis of {} version {version} superseded after {}",
                        uri2.as_str(),
                        log::Millis(started.elapsed())
                    ));
                    return None;
                }
                match &analysis {
                    Some(a) => log::info(format_args!(
                        "analysed {} version {version} ({} bytes) in {}: {} diagnostics",
                        uri2.as_str(),
                        text.len(),
                        log::Millis(started.elapsed()),
                        a.diagnostics.len()
                    )),
                    None => log::info(format_args!(
                        "not analysing {} version {version}: {} bytes is above the limit",
                        uri2.as_str(),
                        text.len()
                    )),
                }
                Some(Arc::new(Snapshot { version, text, map, tree, analysis }))
            })
            .await;
            let snapshot = match computed {
                Ok(Some(s)) => s,
                Ok(None) => return,
                Err(e) if e.is_panic() => {
                    let message = eval::panic_message(&*e.into_panic());
                    this.report_panic("analysis", &message).await;
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
    pub(crate) async fn publish(&self, uri: &Uri) {
        let built = {
            let docs = lock(&self.state.docs);
            let Some(d) = docs.get(uri) else { return };
            let Some(snap) = d.latest_snapshot() else {
                return;
            };
            if snap.version != d.doc.version {
                return;
            }
            let explored = d.explored.as_ref().filter(|e| e.version == snap.version);
            let mut out: Vec<Diagnostic> = match &snap.analysis {
                Some(a) => a
                    .diagnostics
                    .iter()
                    .map(|x| {
                        let mut out = diagnostics::from_analysis(&snap.map, uri, x);
                        if let Some(verdict) = explored.and_then(|e| e.verdict(x)) {
                            explore::annotate(&mut out, verdict, &snap.map, uri);
                        }
                        out
                    })
                    .collect(),
                None => Vec::new(),
            };
            out.extend(d.eval_diagnostics.iter().map(|x| diagnostics::from_eval(&snap.map, uri, x)));
            if let Some(e) = explored {
                out.extend(e.unexplained.iter().map(|u| explore::finding_diagnostic(u, &snap.map, uri)));
            }
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
}
