//! The workspace index: the top-level definitions of the `.omega` files under the workspace
//! folders, so that `workspace/symbol` finds definitions in files that are not open.
//!
//! Plain data behind one mutex, filled from the blocking pool ([`crate::workspace`] schedules
//! the work): a walk of each folder once after `initialized` (and of a folder added later),
//! and a re-read of each file the client reports changed, created or deleted, or closes.
//! Requests answer from whatever is indexed so far; they never wait for a walk.
//!
//! A file's definitions come from the same finder as document symbols
//! ([`navigation::top_level_definitions`]) over the name resolution alone.
//!
//! Bounds: at most [`MAX_INDEXED_FILES`] files, each at most [`MAX_INDEXED_FILE_BYTES`] (a
//! larger one is skipped without being read), at most [`MAX_WALKED_ENTRIES`] directory
//! entries looked at per walk. The walk skips hidden directories, `target` and
//! `node_modules`, and follows no symbolic link, so it never leaves its folder. Nothing is
//! written to disk. A file that cannot be read or is not UTF-8 is skipped (logged at `info`).
//!
//! Every read takes a stamp before it starts; an older read never replaces a newer one, so a
//! walk that read a file before it changed cannot undo the re-read the change caused.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use ropey::Rope;
use tower_lsp_server::ls_types::*;

use crate::document::{Encoding, LineMap};
use crate::log;
use crate::navigation;
use crate::state::lock;

/// At most this many files are indexed, over all folders.
pub const MAX_INDEXED_FILES: usize = 5_000;
/// A file larger than this (1 MB) is skipped, never read.
pub const MAX_INDEXED_FILE_BYTES: u64 = 1 << 20;
/// A walk looks at no more than this many directory entries (files and directories).
pub const MAX_WALKED_ENTRIES: usize = 200_000;
/// `workspace/symbol` answers at most this many symbols, best matches first.
pub const MAX_WORKSPACE_SYMBOLS: usize = 256;
/// Directories the walk never enters, besides hidden ones (`.git`, `.venv`…).
const SKIPPED_DIRECTORIES: [&str; 2] = ["target", "node_modules"];

/// One top-level definition of a file on disk.
pub struct IndexedSymbol {
    pub name: String,
    lowercase: String,
    pub kind: SymbolKind,
    /// The defined name's range.
    pub range: Range,
}

struct IndexedFile {
    uri: Uri,
    /// The file's path relative to its workspace folder: the symbols' container.
    container: String,
    symbols: Vec<IndexedSymbol>,
}

struct Entry {
    stamp: u64,
    /// `None`: the file was deleted, or skipped since it was stamped.
    file: Option<IndexedFile>,
}

#[derive(Default)]
struct Files {
    folders: Vec<PathBuf>,
    entries: HashMap<PathBuf, Entry>,
    /// Entries with a file.
    indexed: usize,
    encoding: Encoding,
}

#[derive(Default)]
pub struct WorkspaceIndex {
    files: Mutex<Files>,
    stamps: AtomicU64,
    /// Raised at shutdown: walks stop.
    stopped: AtomicBool,
}

/// What one walk did, for the log.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct WalkReport {
    pub files: usize,
    pub symbols: usize,
    /// The walk stopped at a bound.
    pub bounded: bool,
}

impl WorkspaceIndex {
    /// The workspace folders and the position encoding of the ranges (from `initialize`).
    pub fn start(&self, folders: Vec<PathBuf>, encoding: Encoding) {
        let mut f = lock(&self.files);
        f.folders = folders;
        f.encoding = encoding;
    }

    pub fn folders(&self) -> Vec<PathBuf> {
        lock(&self.files).folders.clone()
    }

    /// Adds a folder; `false` when it was one already.
    pub fn add_folder(&self, folder: PathBuf) -> bool {
        let mut f = lock(&self.files);
        if f.folders.contains(&folder) {
            return false;
        }
        f.folders.push(folder);
        true
    }

    /// Removes a folder and drops what was indexed under it (and under no other folder).
    pub fn remove_folder(&self, folder: &Path) {
        let mut f = lock(&self.files);
        f.folders.retain(|x| x != folder);
        let Files { folders, entries, indexed, .. } = &mut *f;
        entries.retain(|path, e| {
            let keep = folders.iter().any(|root| path.starts_with(root));
            if !keep && e.file.is_some() {
                *indexed -= 1;
            }
            keep
        });
    }

    pub fn stop(&self) {
        self.stopped.store(true, Ordering::Relaxed);
    }

    /// How many files are indexed now.
    pub fn len(&self) -> usize {
        lock(&self.files).indexed
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Walks `root` (blocking) and indexes its `.omega` files, until a bound, the removal of
    /// the folder or [`WorkspaceIndex::stop`]. Directories in name order, so the files a
    /// bound leaves out are the same each time.
    pub fn walk(&self, root: &Path) -> WalkReport {
        let started = Instant::now();
        let mut report = WalkReport::default();
        let mut seen_entries = 0usize;
        let mut pending = vec![root.to_path_buf()];
        'walk: while let Some(dir) = pending.pop() {
            let Ok(read) = std::fs::read_dir(&dir) else {
                log::info(format_args!("index: cannot list {}: skipped", dir.display()));
                continue;
            };
            let mut children: Vec<(PathBuf, std::fs::FileType)> =
                read.filter_map(|e| e.ok()).filter_map(|e| Some((e.path(), e.file_type().ok()?))).collect();
            children.sort_by(|a, b| a.0.cmp(&b.0));
            let mut subdirectories = Vec::new();
            for (path, kind) in children {
                seen_entries += 1;
                if seen_entries > MAX_WALKED_ENTRIES || self.stopped.load(Ordering::Relaxed) {
                    report.bounded = seen_entries > MAX_WALKED_ENTRIES;
                    break 'walk;
                }
                // `DirEntry::file_type` does not follow links: a link is neither, so skipped.
                if kind.is_dir() && !skipped_directory(&path) {
                    subdirectories.push(path);
                } else if kind.is_file() && is_omega_file(&path) {
                    match self.refresh(&path) {
                        Refreshed::Indexed(symbols) => {
                            report.files += 1;
                            report.symbols += symbols;
                        }
                        Refreshed::Full => {
                            report.bounded = true;
                            break 'walk;
                        }
                        Refreshed::OutsideFolders => break 'walk, // the folder was removed
                        Refreshed::Skipped | Refreshed::Older => {}
                    }
                }
            }
            // Popped from the end: in name order.
            pending.extend(subdirectories.into_iter().rev());
        }
        let bounded = if report.bounded { " (stopped at a bound)" } else { "" };
        log::info(format_args!(
            "indexed {} files ({} symbols) under {} in {}{bounded}",
            report.files,
            report.symbols,
            root.display(),
            log::Millis(started.elapsed())
        ));
        report
    }

    /// Reads `path` again (blocking): its definitions replace the ones indexed, or go when
    /// the file is gone, unreadable or too large. Paths outside the folders, in skipped
    /// directories or under a symbolic link are not indexed.
    pub fn refresh(&self, path: &Path) -> Refreshed {
        let stamp = self.stamps.fetch_add(1, Ordering::Relaxed);
        let (root, encoding) = {
            let f = lock(&self.files);
            let root = f.folders.iter().filter(|r| path.starts_with(r)).max_by_key(|r| r.as_os_str().len()).cloned();
            (root, f.encoding)
        };
        let Some(root) = root else { return Refreshed::OutsideFolders };
        if !is_omega_file(path) || !walkable_below(&root, path) {
            return Refreshed::Skipped;
        }
        let file = match read_definitions(path, encoding) {
            Ok(symbols) => {
                Uri::from_file_path(path).map(|uri| IndexedFile { uri, container: relative_name(&root, path), symbols })
            }
            Err(Skip::Gone) => None,
            Err(Skip::Because(why)) => {
                log::info(format_args!("index: not indexing {}: {why}", path.display()));
                None
            }
        };
        self.apply(path, stamp, file)
    }

    fn apply(&self, path: &Path, stamp: u64, file: Option<IndexedFile>) -> Refreshed {
        let mut f = lock(&self.files);
        if !f.folders.iter().any(|r| path.starts_with(r)) {
            return Refreshed::OutsideFolders;
        }
        let had = match f.entries.get(path) {
            Some(e) if e.stamp > stamp => return Refreshed::Older,
            Some(e) => e.file.is_some(),
            None => false,
        };
        if file.is_some() && !had && f.indexed >= MAX_INDEXED_FILES {
            return Refreshed::Full;
        }
        let outcome = match &file {
            Some(file) => Refreshed::Indexed(file.symbols.len()),
            None => Refreshed::Skipped,
        };
        f.indexed = f.indexed + usize::from(file.is_some()) - usize::from(had);
        f.entries.insert(path.to_path_buf(), Entry { stamp, file });
        outcome
    }

    /// The best [`MAX_WORKSPACE_SYMBOLS`] indexed symbols whose name contains `query`
    /// (case-insensitively), leaving out the files at `open` (their editor text wins).
    pub fn query(&self, query: &str, open: &HashSet<PathBuf>) -> Vec<WorkspaceSymbol> {
        let q = query.to_lowercase();
        let f = lock(&self.files);
        let mut found: Vec<(u8, &IndexedSymbol, &IndexedFile)> = Vec::new();
        for (path, entry) in &f.entries {
            let Some(file) = &entry.file else { continue };
            if open.contains(path) {
                continue;
            }
            for s in &file.symbols {
                if let Some(rank) = navigation::query_match(&s.lowercase, &q) {
                    found.push((rank, s, file));
                }
            }
        }
        let order = |a: &(u8, &IndexedSymbol, &IndexedFile), b: &(u8, &IndexedSymbol, &IndexedFile)| {
            rank_key(a.0, &a.1.name, a.2.uri.as_str(), a.1.range.start).cmp(&rank_key(
                b.0,
                &b.1.name,
                b.2.uri.as_str(),
                b.1.range.start,
            ))
        };
        if found.len() > MAX_WORKSPACE_SYMBOLS {
            found.select_nth_unstable_by(MAX_WORKSPACE_SYMBOLS - 1, order);
            found.truncate(MAX_WORKSPACE_SYMBOLS);
        }
        found
            .into_iter()
            .map(|(_, s, file)| WorkspaceSymbol {
                name: s.name.clone(),
                kind: s.kind,
                tags: None,
                container_name: Some(file.container.clone()),
                location: OneOf::Left(Location::new(file.uri.clone(), s.range)),
                data: None,
            })
            .collect()
    }

    /// The container to show for an open document: its path in its workspace folder.
    pub fn container_of(&self, path: &Path) -> Option<String> {
        let f = lock(&self.files);
        let root = f.folders.iter().filter(|r| path.starts_with(r)).max_by_key(|r| r.as_os_str().len())?;
        Some(relative_name(root, path))
    }
}

/// What [`WorkspaceIndex::refresh`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Refreshed {
    /// Indexed, with this many symbols.
    Indexed(usize),
    /// Gone, skipped or not indexable: nothing indexed for the path now.
    Skipped,
    /// A newer read of the file was applied first.
    Older,
    /// The index holds [`MAX_INDEXED_FILES`] files already.
    Full,
    OutsideFolders,
}

/// Sorts `symbols` best match for `query` first and keeps the first [`MAX_WORKSPACE_SYMBOLS`]:
/// equal names, then names starting with the query, then the others; shorter names first,
/// then by name, file and position.
pub fn best_first(symbols: &mut Vec<WorkspaceSymbol>, query: &str) {
    let q = query.to_lowercase();
    let key = |s: &WorkspaceSymbol| {
        let rank = navigation::query_match(&s.name.to_lowercase(), &q).unwrap_or(u8::MAX);
        let (uri, start) = match &s.location {
            OneOf::Left(l) => (l.uri.as_str().to_string(), l.range.start),
            OneOf::Right(w) => (w.uri.as_str().to_string(), Position::default()),
        };
        (rank, s.name.len(), s.name.clone(), uri, start.line, start.character)
    };
    symbols.sort_by_cached_key(key);
    symbols.truncate(MAX_WORKSPACE_SYMBOLS);
}

fn rank_key<'a>(rank: u8, name: &'a str, uri: &'a str, start: Position) -> (u8, usize, &'a str, &'a str, u32, u32) {
    (rank, name.len(), name, uri, start.line, start.character)
}

enum Skip {
    /// Not there (deleted): dropped without a log line.
    Gone,
    Because(String),
}

/// The top-level definitions of the file at `path`, with ranges in `encoding`.
fn read_definitions(path: &Path, encoding: Encoding) -> Result<Vec<IndexedSymbol>, Skip> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Skip::Gone),
        Err(e) => return Err(Skip::Because(format!("cannot read it ({e})"))),
    };
    if !meta.file_type().is_file() {
        return Err(Skip::Because("not a regular file (symbolic links are not followed)".into()));
    }
    let too_big = || Skip::Because(format!("larger than {} MB", MAX_INDEXED_FILE_BYTES >> 20));
    if meta.len() > MAX_INDEXED_FILE_BYTES {
        return Err(too_big());
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    let read = std::fs::File::open(path).and_then(|f| f.take(MAX_INDEXED_FILE_BYTES + 1).read_to_end(&mut bytes));
    match read {
        Ok(_) if bytes.len() as u64 > MAX_INDEXED_FILE_BYTES => return Err(too_big()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Skip::Gone),
        Err(e) => return Err(Skip::Because(format!("cannot read it ({e})"))),
    }
    let text = String::from_utf8(bytes).map_err(|_| Skip::Because("not UTF-8".into()))?;
    let parsed = omega_syntax::reader::read(&text);
    let resolution = omega_analysis::resolve_parsed(&parsed);
    let definitions = navigation::top_level_definitions(&text, &resolution);
    let map = LineMap::new(Rope::from_str(&text), encoding);
    Ok(definitions
        .into_iter()
        .map(|(name, kind, _, at)| IndexedSymbol { lowercase: name.to_lowercase(), name, kind, range: map.range(at) })
        .collect())
}

fn is_omega_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "omega")
}

/// A directory the walk does not enter: hidden, `target`, `node_modules`.
fn skipped_directory(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.') || SKIPPED_DIRECTORIES.contains(&n))
}

/// Whether the walk from `root` would reach `path`: no skipped directory and no symbolic link
/// on the way (a reported change may name any path).
fn walkable_below(root: &Path, path: &Path) -> bool {
    let Ok(rest) = path.strip_prefix(root) else { return false };
    let mut at = root.to_path_buf();
    let parts: Vec<Component> = rest.components().collect();
    for (i, part) in parts.iter().enumerate() {
        let Component::Normal(name) = part else { return false };
        at.push(name);
        let last = i + 1 == parts.len();
        if !last && skipped_directory(&at) {
            return false;
        }
        if std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
            return false;
        }
    }
    true
}

/// `path` relative to `root`, with `/` between parts.
fn relative_name(root: &Path, path: &Path) -> String {
    let rest = path.strip_prefix(root).unwrap_or(path);
    rest.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_and_build_directories_are_skipped() {
        assert!(skipped_directory(Path::new("/w/.git")));
        assert!(skipped_directory(Path::new("/w/node_modules")));
        assert!(skipped_directory(Path::new("/w/a/target")));
        assert!(!skipped_directory(Path::new("/w/src")));
        assert_eq!(relative_name(Path::new("/w"), Path::new("/w/a/b.omega")), "a/b.omega");
    }

    fn file(name: &str) -> Option<IndexedFile> {
        let symbol = IndexedSymbol {
            name: name.into(),
            lowercase: name.to_lowercase(),
            kind: SymbolKind::VARIABLE,
            range: Range::default(),
        };
        let uri = format!("file:///w/{name}.omega").parse().unwrap();
        Some(IndexedFile { uri, container: format!("{name}.omega"), symbols: vec![symbol] })
    }

    #[test]
    fn an_older_read_never_replaces_a_newer_one() {
        let index = WorkspaceIndex::default();
        index.start(vec![PathBuf::from("/w")], Encoding::Utf16);
        let path = Path::new("/w/a.omega");
        assert_eq!(index.apply(path, 5, file("new-name")), Refreshed::Indexed(1));
        assert_eq!(index.apply(path, 3, file("old-name")), Refreshed::Older);
        assert_eq!(index.apply(path, 4, None), Refreshed::Older, "nor an older deletion");
        let names = |q: &str| index.query(q, &HashSet::new()).into_iter().map(|s| s.name).collect::<Vec<_>>();
        assert_eq!(names("name"), ["new-name"]);
        assert_eq!(index.apply(path, 6, None), Refreshed::Skipped);
        assert!(names("name").is_empty() && index.is_empty());
        assert_eq!(index.apply(Path::new("/elsewhere/b.omega"), 7, file("b")), Refreshed::OutsideFolders);
    }

    #[test]
    fn the_index_stops_at_its_file_bound() {
        let index = WorkspaceIndex::default();
        index.start(vec![PathBuf::from("/w")], Encoding::Utf16);
        for i in 0..MAX_INDEXED_FILES {
            let path = PathBuf::from(format!("/w/f{i}.omega"));
            assert_eq!(index.apply(&path, i as u64, file(&format!("f{i}"))), Refreshed::Indexed(1));
        }
        let one_more = Path::new("/w/one-more.omega");
        assert_eq!(index.apply(one_more, u64::MAX - 1, file("one-more")), Refreshed::Full);
        // A file already indexed may still change.
        assert_eq!(index.apply(Path::new("/w/f0.omega"), u64::MAX, file("f0-changed")), Refreshed::Indexed(1));
        assert_eq!(index.len(), MAX_INDEXED_FILES);
        index.remove_folder(Path::new("/w"));
        assert!(index.is_empty());
    }

    #[test]
    fn the_readme_states_the_bounds() {
        let readme = include_str!("../../README.md").split_whitespace().collect::<Vec<_>>().join(" ");
        let thousands = |n: usize| {
            let s = n.to_string();
            if n < 1000 {
                s
            } else {
                format!("{},{}", &s[..s.len() - 3], &s[s.len() - 3..])
            }
        };
        for stated in [
            format!("at most {} files", thousands(MAX_INDEXED_FILES)),
            format!("{} directory entries", thousands(MAX_WALKED_ENTRIES)),
            format!("above {} MB", MAX_INDEXED_FILE_BYTES >> 20),
            format!("at most {} answers", MAX_WORKSPACE_SYMBOLS),
        ] {
            assert!(readme.contains(&stated), "README.md should say {stated:?}");
        }
    }

    #[test]
    fn best_matches_come_first() {
        let uri: Uri = "file:///w/a.omega".parse().unwrap();
        let sym = |name: &str| WorkspaceSymbol {
            name: name.into(),
            kind: SymbolKind::FUNCTION,
            tags: None,
            container_name: None,
            location: OneOf::Left(Location::new(uri.clone(), Range::default())),
            data: None,
        };
        let mut got = vec![sym("my-total"), sym("totals"), sym("total"), sym("Total-x")];
        best_first(&mut got, "TOTAL");
        let names: Vec<&str> = got.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["total", "totals", "Total-x", "my-total"]);
    }
}
