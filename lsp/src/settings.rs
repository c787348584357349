//! The `omega` settings section (interfaces.md, "Language server"), from
//! `initializationOptions` and `workspace/configuration`, with the server's defaults.
//!
//! Keys are accepted nested (`{"eval": {"onSave": true}}`) or dotted (`{"eval.onSave": true}`),
//! with or without an outer `omega` object. API keys never travel here: only the *name* of the
//! variable that holds one (`llm.apiKeyEnv`).

use std::path::PathBuf;

use serde_json::Value as Json;

use omega_llm::config::LlmOverrides;

/// The budgets a buffer's run gets when the settings name none: they end a runaway buffer
/// (an endless loop, a flood of calls) long before it harms the server.
pub const DEFAULT_STEPS: u64 = 200_000_000;
pub const DEFAULT_TIMEOUT_SECS: f64 = 60.0;
pub const DEFAULT_MAX_LLM_CALLS: u64 = 200;
/// The same default as `omega run`: far from what takes a developer's machine down.
pub const DEFAULT_MEMORY_MB: u64 = omega_eval::memory::DEFAULT_MEMORY_LIMIT >> 20;

/// Schedules one "Reproduce by exploring schedules" runs at most (as `omega explore`).
pub const DEFAULT_EXPLORE_SCHEDULES: u64 = 1000;

/// Files larger than this are not analysed as you type (the server says so once per file).
pub const MAX_ANALYSIS_BYTES: usize = 2 << 20;

#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub eval_on_save: bool,
    /// The client's word that the workspace is trusted; nothing runs without it.
    pub trusted: bool,
    pub adapter: Option<String>,
    pub model: Option<String>,
    pub base_url: Option<String>,
    pub api_key_env: Option<String>,
    pub script: Option<PathBuf>,
    pub cache_dir: Option<PathBuf>,
    pub steps: u64,
    pub timeout_secs: f64,
    pub max_llm_calls: u64,
    /// Memory a run may hold, in MB.
    pub memory_mb: u64,
    /// Schedules an exploration runs at most (`omega.explore.schedules`).
    pub explore_schedules: u64,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            eval_on_save: true,
            trusted: false,
            adapter: None,
            model: None,
            base_url: None,
            api_key_env: None,
            script: None,
            cache_dir: None,
            steps: DEFAULT_STEPS,
            timeout_secs: DEFAULT_TIMEOUT_SECS,
            max_llm_calls: DEFAULT_MAX_LLM_CALLS,
            memory_mb: DEFAULT_MEMORY_MB,
            explore_schedules: DEFAULT_EXPLORE_SCHEDULES,
        }
    }
}

impl Settings {
    /// Settings from `value` over `self`: keys present replace, keys absent stay.
    pub fn merged(&self, value: &Json) -> Settings {
        let root = value.get("omega").unwrap_or(value);
        let get = |key: &str| lookup(root, key);
        let string = |key: &str| get(key).and_then(Json::as_str).filter(|s| !s.trim().is_empty()).map(str::to_string);
        let mut s = self.clone();
        if let Some(b) = get("eval.onSave").and_then(Json::as_bool) {
            s.eval_on_save = b;
        }
        if let Some(b) = get("eval.trusted").and_then(Json::as_bool) {
            s.trusted = b;
        }
        s.adapter = string("llm.adapter").or(s.adapter);
        s.model = string("llm.model").or(s.model);
        s.base_url = string("llm.baseUrl").or(s.base_url);
        s.api_key_env = string("llm.apiKeyEnv").or(s.api_key_env);
        s.script = string("llm.script").map(PathBuf::from).or(s.script);
        s.cache_dir = string("llm.cacheDir").map(PathBuf::from).or(s.cache_dir);
        if let Some(n) = get("limits.steps").and_then(Json::as_u64).filter(|n| *n > 0) {
            s.steps = n;
        }
        if let Some(n) = get("limits.timeoutSecs").and_then(Json::as_f64).filter(|n| *n > 0.0) {
            s.timeout_secs = n;
        }
        if let Some(n) = get("limits.maxLlmCalls").and_then(Json::as_u64) {
            s.max_llm_calls = n;
        }
        if let Some(n) = get("limits.memoryMb").and_then(Json::as_u64).filter(|n| *n > 0) {
            s.memory_mb = n;
        }
        if let Some(n) = get("explore.schedules").and_then(Json::as_u64).filter(|n| *n > 0) {
            s.explore_schedules = n;
        }
        s
    }

    /// The explicit layer of the LLM configuration: editor settings beat `omega.toml` and the
    /// environment (interfaces.md precedence).
    pub fn llm_overrides(&self) -> LlmOverrides {
        LlmOverrides {
            adapter: self.adapter.clone(),
            model: self.model.clone(),
            base_url: self.base_url.clone(),
            api_key_env: self.api_key_env.clone(),
            script: self.script.clone(),
            cache_dir: self.cache_dir.clone(),
            max_llm_calls: Some(self.max_llm_calls),
            ..LlmOverrides::default()
        }
    }
}

/// `a.b` as `{"a": {"b": …}}` or `{"a.b": …}`.
fn lookup<'j>(root: &'j Json, key: &str) -> Option<&'j Json> {
    if let Some(v) = root.get(key) {
        return Some(v);
    }
    let (head, rest) = key.split_once('.')?;
    lookup(root.get(head)?, rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_are_untrusted_with_budgets() {
        let s = Settings::default();
        assert!(!s.trusted);
        assert!(s.eval_on_save);
        assert_eq!(s.steps, DEFAULT_STEPS);
    }

    #[test]
    fn nested_dotted_and_wrapped_keys_are_read() {
        let s = Settings::default().merged(&json!({"omega": {"eval": {"trusted": true}, "llm.model": "m"}}));
        assert!(s.trusted);
        assert_eq!(s.model.as_deref(), Some("m"));
        let s = s.merged(&json!({"limits": {"steps": 10, "timeoutSecs": 1.5}}));
        assert_eq!((s.steps, s.timeout_secs), (10, 1.5));
        assert!(s.trusted, "absent keys keep their value");
        assert_eq!(s.explore_schedules, DEFAULT_EXPLORE_SCHEDULES);
        assert_eq!(s.merged(&json!({"explore.schedules": 50})).explore_schedules, 50);
        assert_eq!(s.merged(&json!({"explore": {"schedules": 0}})).explore_schedules, DEFAULT_EXPLORE_SCHEDULES);
    }

    #[test]
    fn wrong_types_are_ignored() {
        let s = Settings::default().merged(&json!({"eval": {"trusted": "yes"}, "limits": {"steps": -1}}));
        assert_eq!(s, Settings::default());
    }
}
