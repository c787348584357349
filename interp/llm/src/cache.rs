//! The on-disk cache of LLM answers.
//!
//! One small JSON file per answer at `<cache_dir>/llm-v1/<2 hex>/<64 hex>.json`, named by the
//! SHA-256 of everything that can change the answer: adapter, base URL, model, every request
//! parameter, the prompt and the sample index. Never the key. Files are written to a temporary
//! name beside the target and renamed, so a reader sees a whole entry or none, and concurrent
//! writers (two runs of the same program) do not corrupt each other. An unreadable entry is a miss.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Subdirectory of the cache dir that this layout owns (and `clear` removes).
const LAYOUT: &str = "llm-v1";

#[derive(Clone, Debug)]
pub(crate) struct Cache {
    root: PathBuf,
}

/// The inputs of one answer, hashed into its file name.
#[derive(Serialize)]
pub(crate) struct CacheKey<'a> {
    pub adapter: &'a str,
    pub base_url: Option<&'a str>,
    pub model: &'a str,
    pub system: Option<&'a str>,
    pub temperature: Option<f64>,
    pub max_tokens: Option<u32>,
    pub prompt: &'a str,
    pub sample: u32,
}

impl CacheKey<'_> {
    pub(crate) fn digest(&self) -> String {
        let canonical = serde_json::to_vec(self).expect("a cache key always serialises");
        let hash = Sha256::digest(&canonical);
        let mut hex = String::with_capacity(64);
        for byte in hash.iter() {
            hex.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
            hex.push(char::from(b"0123456789abcdef"[usize::from(byte & 15)]));
        }
        hex
    }
}

/// What is stored for one answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Entry {
    pub text: String,
    pub model: String,
    pub tokens_in: Option<u32>,
    pub tokens_out: Option<u32>,
    /// How long the provider took when the answer was fetched.
    pub latency_ms: u64,
}

impl Cache {
    pub(crate) fn new(cache_dir: &Path) -> Cache {
        Cache { root: cache_dir.join(LAYOUT) }
    }

    fn path(&self, digest: &str) -> PathBuf {
        self.root.join(&digest[..2]).join(format!("{digest}.json"))
    }

    pub(crate) fn get(&self, digest: &str) -> Option<Entry> {
        let bytes = fs::read(self.path(digest)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    pub(crate) fn put(&self, digest: &str, entry: &Entry) -> io::Result<()> {
        static UNIQUE: AtomicU64 = AtomicU64::new(0);
        let target = self.path(digest);
        let dir = target.parent().expect("entries live in a shard directory");
        fs::create_dir_all(dir)?;
        let temp = dir.join(format!(".{digest}.{}.{}.tmp", std::process::id(), UNIQUE.fetch_add(1, Ordering::Relaxed)));
        let written = (|| {
            let mut file = fs::File::create(&temp)?;
            file.write_all(&serde_json::to_vec(entry).map_err(io::Error::other)?)?;
            fs::rename(&temp, &target)
        })();
        if written.is_err() {
            let _ = fs::remove_file(&temp);
        }
        written
    }

    /// Removes every cached answer (only this layout's directory, never the rest of the cache dir).
    pub(crate) fn clear(&self) -> io::Result<()> {
        match fs::remove_dir_all(&self.root) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(prompt: &str) -> CacheKey<'_> {
        CacheKey {
            adapter: "openai",
            base_url: Some("http://127.0.0.1:1/v1"),
            model: "m",
            system: None,
            temperature: Some(0.0),
            max_tokens: None,
            prompt,
            sample: 0,
        }
    }

    #[test]
    fn every_input_changes_the_key() {
        let base = key("p").digest();
        assert_eq!(base.len(), 64);
        assert_eq!(base, key("p").digest(), "stable");
        let variants = [
            CacheKey { prompt: "q", ..key("p") },
            CacheKey { adapter: "anthropic", ..key("p") },
            CacheKey { base_url: Some("http://other/v1"), ..key("p") },
            CacheKey { model: "n", ..key("p") },
            CacheKey { system: Some("s"), ..key("p") },
            CacheKey { temperature: Some(0.5), ..key("p") },
            CacheKey { max_tokens: Some(3), ..key("p") },
            CacheKey { sample: 1, ..key("p") },
        ];
        for v in variants {
            assert_ne!(v.digest(), base);
        }
    }

    #[test]
    fn entries_round_trip_and_clear() {
        let dir = std::env::temp_dir().join(format!("omega-cache-test-{}", std::process::id()));
        let cache = Cache::new(&dir);
        let digest = key("p").digest();
        assert_eq!(cache.get(&digest), None);
        let entry =
            Entry { text: "Paris".into(), model: "m".into(), tokens_in: Some(3), tokens_out: None, latency_ms: 12 };
        cache.put(&digest, &entry).unwrap();
        assert_eq!(cache.get(&digest), Some(entry.clone()));
        let shard: Vec<_> =
            fs::read_dir(cache.path(&digest).parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(shard, vec![std::ffi::OsString::from(format!("{digest}.json"))], "no temporary files left");

        fs::write(cache.path(&digest), b"{ torn").unwrap();
        assert_eq!(cache.get(&digest), None, "a damaged entry is a miss");

        cache.put(&digest, &entry).unwrap();
        cache.clear().unwrap();
        assert_eq!(cache.get(&digest), None);
        assert!(dir.exists(), "the cache dir itself stays");
        cache.clear().unwrap();
        fs::remove_dir_all(&dir).unwrap();
    }
}
