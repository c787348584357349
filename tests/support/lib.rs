//! Support code shared by the end-to-end tests and benchmarks of omega-tools.
//!
//! - [`llm_server`]: a real OpenAI- and Anthropic-compatible HTTP server on 127.0.0.1 with
//!   latency and fault injection, for tests of the LLM layer and of programs that call it.
//! - [`programs`]: running programs in a session as the REPL would; [`program_files`]: program
//!   files with their expected transcript in comments (tests/programs).
//! - [`cli`]: the `omega` binary, built when needed, and running it.
//! - [`docs`]: the reference rendered from the built-in tables; examples in docs/.
//! - [`fuzz`]: the checks every fuzz input must pass, on a worker thread with a time bound.
//! - [`TempDir`]: a scratch directory removed on drop.

pub mod cli;
pub mod docs;
pub mod fuzz;
pub mod llm_server;
pub mod program_files;
pub mod programs;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh directory under the system temporary directory, removed (with its contents) on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static UNIQUE: AtomicUsize = AtomicUsize::new(0);
        let n = UNIQUE.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("omega-{label}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create a temporary directory");
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The repository root (the workspace directory).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ sits in the repository root").to_path_buf()
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let p = entry.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}
