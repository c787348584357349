//! The workspace around the open documents: its folders, the file watcher, and
//! `workspace/symbol` over open documents and the [`crate::workspace_index`] of files on disk.
//!
//! Reading files happens on the blocking pool; the handlers here only schedule it, so
//! `workspace/symbol` answers from what is indexed so far, during the first walk too.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use futures::future::join_all;
use tower_lsp_server::ls_types::*;

use crate::server::Backend;
use crate::state::{lock, Snapshot};
use crate::workspace_index::{best_first, WorkspaceIndex};
use crate::{eval, log, navigation};

/// The id of the `**/*.omega` watcher registration.
const WATCHER_ID: &str = "omega-watched-files";

/// The workspace folders `initialize` names: `workspaceFolders`, else `rootUri`.
pub(crate) fn initial_folders(params: &InitializeParams) -> Vec<PathBuf> {
    #[allow(deprecated)] // `rootUri` is what older clients send.
    let root = params.root_uri.as_ref();
    match params.workspace_folders.as_deref() {
        Some(folders) if !folders.is_empty() => folders.iter().filter_map(|f| uri_path(&f.uri)).collect(),
        _ => root.and_then(uri_path).into_iter().collect(),
    }
}

/// The path of a `file:` URI (percent escapes decoded); `None` for other schemes.
pub(crate) fn uri_path(uri: &Uri) -> Option<PathBuf> {
    uri.as_str().starts_with("file:").then(|| uri.to_file_path().map(|p| p.into_owned())).flatten()
}

impl Backend {
    fn index(&self) -> &WorkspaceIndex {
        &self.state.index
    }

    /// After `initialized`: watch `**/*.omega` when the client lets us register the watcher,
    /// and walk the folders in the background.
    pub(crate) async fn start_workspace_index(&self) {
        self.index_folders(self.index().folders());
        if !self.facts().watched_files_dynamic {
            return;
        }
        let options = DidChangeWatchedFilesRegistrationOptions {
            watchers: vec![FileSystemWatcher { glob_pattern: GlobPattern::String("**/*.omega".into()), kind: None }],
        };
        let registration = Registration {
            id: WATCHER_ID.into(),
            method: "workspace/didChangeWatchedFiles".into(),
            register_options: serde_json::to_value(options).ok(),
        };
        if self.client.register_capability(vec![registration]).await.is_err() {
            log::info(format_args!(
                "the client refused the **/*.omega file watcher: the index follows only closed files"
            ));
        }
    }

    /// Walks `folders` one after the other on the blocking pool.
    fn index_folders(&self, folders: Vec<PathBuf>) {
        if folders.is_empty() {
            return;
        }
        let state = self.state.clone();
        self.on_blocking_pool("indexing the workspace", move || {
            for folder in folders {
                state.index.walk(&folder);
            }
        });
    }

    /// Reads `paths` again on the blocking pool.
    pub(crate) fn reindex_files(&self, paths: Vec<PathBuf>) {
        if paths.is_empty() {
            return;
        }
        let state = self.state.clone();
        self.on_blocking_pool("re-indexing files", move || {
            for path in paths {
                state.index.refresh(&path);
            }
        });
    }

    /// Runs `work` on the blocking pool; a panic is reported as other internal errors are.
    fn on_blocking_pool(&self, what: &'static str, work: impl FnOnce() + Send + 'static) {
        let this = self.clone();
        tokio::spawn(async move {
            if let Err(e) = tokio::task::spawn_blocking(work).await {
                if e.is_panic() {
                    let message = eval::panic_message(&*e.into_panic());
                    this.report_panic(what, &message).await;
                }
            }
        });
    }

    /// `workspace/didChangeWorkspaceFolders`: index added folders, forget removed ones.
    pub(crate) fn workspace_folders_changed(&self, event: WorkspaceFoldersChangeEvent) {
        for removed in event.removed.iter().filter_map(|f| uri_path(&f.uri)) {
            self.index().remove_folder(&removed);
        }
        let added: Vec<PathBuf> = event
            .added
            .iter()
            .filter_map(|f| uri_path(&f.uri))
            .filter(|p| self.index().add_folder(p.clone()))
            .collect();
        self.index_folders(added);
    }

    /// `workspace/didChangeWatchedFiles`: each file named is read again (or dropped when
    /// gone).
    pub(crate) fn watched_files_changed(&self, params: DidChangeWatchedFilesParams) {
        self.reindex_files(params.changes.iter().filter_map(|c| uri_path(&c.uri)).collect());
    }

    /// A closed document's definitions are its file's again.
    pub(crate) fn reindex_closed(&self, uri: &Uri) {
        self.reindex_files(uri_path(uri).into_iter().collect());
    }

    /// `workspace/symbol`: open documents (their current analysis) and the index (files not
    /// open), names containing `query`, best first, at most
    /// [`crate::workspace_index::MAX_WORKSPACE_SYMBOLS`].
    pub(crate) async fn workspace_symbols(&self, query: &str) -> Vec<WorkspaceSymbol> {
        let open: Vec<Uri> = lock(&self.state.docs).keys().cloned().collect();
        let snaps: Vec<(Uri, Option<Arc<Snapshot>>)> = join_all(open.into_iter().map(|uri| async move {
            let snap = self.snapshot(&uri).await;
            (uri, snap)
        }))
        .await;
        let open_paths: HashSet<PathBuf> = snaps.iter().filter_map(|(uri, _)| uri_path(uri)).collect();
        let mut out = self.index().query(query, &open_paths);
        for (uri, snap) in snaps {
            let Some(snap) = snap else { continue };
            let container = uri_path(&uri).and_then(|p| self.index().container_of(&p));
            out.extend(navigation::workspace_symbols(&snap, &uri, query, container));
        }
        best_first(&mut out, query);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_uris_become_decoded_paths_and_other_schemes_none() {
        let uri = |s: &str| s.parse::<Uri>().unwrap();
        assert_eq!(
            uri_path(&uri("file:///tmp/my%20agents/caf%C3%A9.omega")),
            Some(PathBuf::from("/tmp/my agents/café.omega"))
        );
        assert_eq!(uri_path(&uri("untitled:Untitled-1")), None);
    }
}
