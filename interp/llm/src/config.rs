//! Configuration of the LLM layer: `omega.toml`, environment variables and explicit choices.
//!
//! Precedence, the same for every tool (docs/language.md §10.2): **explicit choices** (CLI flags, editor
//! settings) **> `omega.toml`** (the nearest one in the file's directory or its ancestors)
//! **> environment variables > built-in defaults**. Relative paths in `omega.toml` resolve
//! against the directory that holds it.
//!
//! This module only reads: it never creates directories or touches the network. API keys are
//! read from the environment (the variable's *name* may be configured, the key itself never is)
//! and kept in [`ApiKey`], whose `Debug` prints `<redacted>`.
//!
//! Keys only go where the user sent them: a project's `omega.toml` is written by whoever wrote
//! the project, so a `base_url` taken from it receives the environment's key only when the
//! user's own configuration names the same origin (explicit choice, `*_BASE_URL`, or
//! `trusted_base_urls` in the user-level [`UserConfig`]) or the host is loopback. Otherwise the
//! key is withheld and every request fails with [`LlmConfig::key_withheld`]'s message.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Name of the project configuration file.
pub const CONFIG_FILE_NAME: &str = "omega.toml";

/// Which provider answers `infer.op` and friends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AdapterKind {
    /// Any OpenAI-compatible chat-completions server.
    OpenAi,
    /// The Anthropic messages API.
    Anthropic,
    /// Answers from a responses file (offline demos and tests).
    Scripted,
    /// No provider: every request fails with a message that says how to configure one.
    None,
}

impl AdapterKind {
    pub fn parse(name: &str) -> Option<AdapterKind> {
        match name.trim().to_ascii_lowercase().as_str() {
            "openai" => Some(AdapterKind::OpenAi),
            "anthropic" => Some(AdapterKind::Anthropic),
            "scripted" => Some(AdapterKind::Scripted),
            "none" => Some(AdapterKind::None),
            _ => None,
        }
    }

    /// The name used in configuration, error messages and traces.
    pub fn name(self) -> &'static str {
        match self {
            AdapterKind::OpenAi => "openai",
            AdapterKind::Anthropic => "anthropic",
            AdapterKind::Scripted => "scripted",
            AdapterKind::None => "none",
        }
    }

    /// The model asked for when none is configured.
    pub fn default_model(self) -> &'static str {
        match self {
            AdapterKind::OpenAi => "gpt-4o-mini",
            AdapterKind::Anthropic => "claude-3-5-haiku-latest",
            AdapterKind::Scripted => "scripted",
            AdapterKind::None => "none",
        }
    }

    /// The public API's base URL (OpenAI's includes `/v1`, Anthropic's does not, as their SDKs take them).
    pub fn default_base_url(self) -> Option<&'static str> {
        match self {
            AdapterKind::OpenAi => Some("https://api.openai.com/v1"),
            AdapterKind::Anthropic => Some("https://api.anthropic.com"),
            AdapterKind::Scripted | AdapterKind::None => None,
        }
    }

    /// Environment variable holding the API key, unless configured otherwise.
    pub fn default_key_env(self) -> Option<&'static str> {
        match self {
            AdapterKind::OpenAi => Some("OPENAI_API_KEY"),
            AdapterKind::Anthropic => Some("ANTHROPIC_API_KEY"),
            AdapterKind::Scripted | AdapterKind::None => None,
        }
    }

    /// Environment variable holding the base URL.
    pub fn base_url_env(self) -> Option<&'static str> {
        match self {
            AdapterKind::OpenAi => Some("OPENAI_BASE_URL"),
            AdapterKind::Anthropic => Some("ANTHROPIC_BASE_URL"),
            AdapterKind::Scripted | AdapterKind::None => None,
        }
    }
}

impl fmt::Display for AdapterKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An API key. Never printed: `Debug` and `Display` show `<redacted>`, and only the LLM layer
/// reads the text (to put it in a request header).
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> ApiKey {
        ApiKey(key.into())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Everything the LLM layer needs, fully resolved. Build it with [`LlmConfig::resolve`] (or
/// [`LlmConfig::resolve_with`] in tests), or start from [`LlmConfig::new`] and set fields.
#[derive(Clone, Debug)]
pub struct LlmConfig {
    pub adapter: AdapterKind,
    pub model: String,
    /// Provider base URL; `None` for `scripted` and `none`.
    pub base_url: Option<String>,
    /// Name of the environment variable the key was read from (shown in hints, never the key).
    pub api_key_env: Option<String>,
    api_key: Option<ApiKey>,
    pub system: Option<String>,
    pub temperature: Option<f64>,
    pub max_tokens: Option<u32>,
    /// Whole HTTP request (connect, send, wait, read), per attempt.
    pub request_timeout_secs: f64,
    /// Retries after a 429 or 5xx answer (so at most `max_retries + 1` attempts).
    pub max_retries: u32,
    /// First retry delay when the server gives no `Retry-After`; doubles on each retry.
    pub retry_base_ms: u64,
    /// Responses file of the `scripted` adapter.
    pub script: Option<PathBuf>,
    pub cache_dir: PathBuf,
    /// Neither read nor write the cache.
    pub no_cache: bool,
    /// Answer from the cache only: a miss is an error (scripted and none still answer).
    pub offline: bool,
    /// Requests allowed per session (cache hits are free); `None`: no limit.
    pub max_llm_calls: Option<u64>,
    /// HTTP requests in flight at once, across the whole service.
    pub max_in_flight: usize,
    /// The `omega.toml` that contributed, if any.
    pub source: Option<PathBuf>,
    /// Why the environment's key is not sent to `base_url` (it came from a project file and the
    /// user never named that origin); every request fails with this message.
    key_withheld: Option<String>,
}

pub const DEFAULT_REQUEST_TIMEOUT_SECS: f64 = 60.0;
pub const DEFAULT_MAX_RETRIES: u32 = 3;
pub const DEFAULT_RETRY_BASE_MS: u64 = 500;
pub const DEFAULT_MAX_IN_FLIGHT: usize = 32;

impl LlmConfig {
    /// Defaults for `adapter`, no key, cache in the user cache directory.
    pub fn new(adapter: AdapterKind) -> LlmConfig {
        LlmConfig {
            adapter,
            model: adapter.default_model().to_string(),
            base_url: adapter.default_base_url().map(str::to_string),
            api_key_env: adapter.default_key_env().map(str::to_string),
            api_key: None,
            system: None,
            temperature: None,
            max_tokens: None,
            request_timeout_secs: DEFAULT_REQUEST_TIMEOUT_SECS,
            max_retries: DEFAULT_MAX_RETRIES,
            retry_base_ms: DEFAULT_RETRY_BASE_MS,
            script: None,
            cache_dir: default_cache_dir(&|name| std::env::var(name).ok()),
            no_cache: false,
            offline: false,
            max_llm_calls: None,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            source: None,
            key_withheld: None,
        }
    }

    /// Set when a project file's `base_url` would have received the environment's key; the
    /// message names the origin and how to allow it.
    pub fn key_withheld(&self) -> Option<&str> {
        self.key_withheld.as_deref()
    }

    pub fn api_key(&self) -> Option<&ApiKey> {
        self.api_key.as_ref()
    }

    /// Sets the key directly (tests, embedders); normally it comes from the environment.
    pub fn set_api_key(&mut self, key: Option<ApiKey>) {
        self.api_key = key;
    }

    /// Resolves the configuration for a program at `start` (a file or a directory; `None`: the
    /// current directory) from the process environment, the nearest `omega.toml` and `explicit`.
    pub fn resolve(start: Option<&Path>, explicit: &LlmOverrides) -> Result<LlmConfig, ConfigError> {
        let start = match start {
            Some(p) => p.to_path_buf(),
            None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
        };
        let file = match find_config_file(&start) {
            Some(path) => Some(OmegaToml::load(&path)?),
            None => None,
        };
        let env = |name: &str| std::env::var(name).ok();
        let user = UserConfig::load(&env)?;
        LlmConfig::resolve_with(file.as_ref(), &user, &env, explicit)
    }

    /// Resolution as a pure function of its inputs.
    pub fn resolve_with(
        file: Option<&OmegaToml>,
        user: &UserConfig,
        env: &dyn Fn(&str) -> Option<String>,
        explicit: &LlmOverrides,
    ) -> Result<LlmConfig, ConfigError> {
        // An empty variable counts as unset, as shells make it easy to export one by accident.
        let env = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let toml = file.map(|f| &f.llm);
        let in_file = |field: &'static str| ConfigOrigin::File(file.map(|f| f.path.clone()), field);
        let from_file = |get: fn(&LlmTable) -> Option<String>| toml.and_then(get);

        let adapter = if let Some(name) = &explicit.adapter {
            parse_adapter(name, ConfigOrigin::Explicit("adapter"))?
        } else if let Some(name) = from_file(|t| t.adapter.clone()) {
            parse_adapter(&name, in_file("llm.adapter"))?
        } else if let Some(name) = env("OMEGA_ADAPTER") {
            parse_adapter(&name, ConfigOrigin::Env("OMEGA_ADAPTER"))?
        } else if env("OPENAI_API_KEY").is_some() || env("OPENAI_BASE_URL").is_some() {
            AdapterKind::OpenAi
        } else if env("ANTHROPIC_API_KEY").is_some() {
            AdapterKind::Anthropic
        } else {
            AdapterKind::None
        };

        let mut cfg = LlmConfig::new(adapter);
        cfg.source = file.map(|f| f.path.clone());

        if let Some(model) =
            explicit.model.clone().or_else(|| from_file(|t| t.model.clone())).or_else(|| env("OMEGA_MODEL"))
        {
            cfg.model = model;
        }

        if adapter.default_base_url().is_some() {
            let base = explicit
                .base_url
                .clone()
                .or_else(|| from_file(|t| t.base_url.clone()))
                .or_else(|| adapter.base_url_env().and_then(&env));
            if let Some(base) = base {
                cfg.base_url = Some(base.trim().trim_end_matches('/').to_string());
            }
            if let Some(var) = explicit.api_key_env.clone().or_else(|| from_file(|t| t.api_key_env.clone())) {
                cfg.api_key_env = Some(var);
            }
            cfg.api_key = cfg.api_key_env.as_deref().and_then(&env).map(|k| ApiKey(k.trim().to_string()));
            let project_base = if explicit.base_url.is_none() { from_file(|t| t.base_url.clone()) } else { None };
            if let (Some(project_base), Some(_), Some(f)) = (project_base, &cfg.api_key, file) {
                let env_base = adapter.base_url_env().and_then(&env);
                let vouched = is_loopback(&project_base)
                    || env_base.is_some_and(|b| same_origin(&b, &project_base))
                    || user.trusted_base_urls.iter().any(|b| same_origin(b, &project_base));
                if !vouched {
                    cfg.api_key = None;
                    cfg.key_withheld = Some(withheld_message(&project_base, f, user, adapter, &cfg.api_key_env));
                }
            }
        } else {
            cfg.base_url = None;
            cfg.api_key_env = None;
        }

        let relative = |p: PathBuf| match file {
            Some(f) if p.is_relative() => f.dir().join(p),
            _ => p,
        };
        cfg.script = explicit
            .script
            .clone()
            .or_else(|| toml.and_then(|t| t.script.clone()).map(relative))
            .or_else(|| env("OMEGA_SCRIPT").map(PathBuf::from));
        cfg.cache_dir = explicit
            .cache_dir
            .clone()
            .or_else(|| toml.and_then(|t| t.cache_dir.clone()).map(relative))
            .or_else(|| env("OMEGA_CACHE_DIR").map(PathBuf::from))
            .unwrap_or_else(|| default_cache_dir(&env));

        cfg.system = explicit.system.clone().or_else(|| from_file(|t| t.system.clone()));
        cfg.temperature = explicit.temperature.or(toml.and_then(|t| t.temperature));
        cfg.max_tokens = explicit.max_tokens.or(toml.and_then(|t| t.max_tokens));
        if let Some(secs) = explicit.request_timeout_secs.or(toml.and_then(|t| t.request_timeout_secs)) {
            cfg.request_timeout_secs = secs;
        }
        if let Some(n) = explicit.max_retries.or(toml.and_then(|t| t.max_retries)) {
            cfg.max_retries = n;
        }
        if let Some(ms) = explicit.retry_base_ms {
            cfg.retry_base_ms = ms;
        }
        cfg.max_llm_calls = explicit.max_llm_calls.or(toml.and_then(|t| t.max_llm_calls));
        if let Some(n) = explicit.max_in_flight.or(toml.and_then(|t| t.max_in_flight)) {
            cfg.max_in_flight = n;
        }
        cfg.no_cache = explicit.no_cache || toml.and_then(|t| t.no_cache).unwrap_or(false);
        cfg.offline = explicit.offline || toml.and_then(|t| t.offline).unwrap_or(false);

        cfg.validate(file)?;
        Ok(cfg)
    }

    fn validate(&self, file: Option<&OmegaToml>) -> Result<(), ConfigError> {
        let at = || match file {
            Some(f) => format!("{}: ", f.path.display()),
            None => String::new(),
        };
        if omega_eval::check_timeout(self.request_timeout_secs).is_err() {
            return Err(ConfigError::new(format!(
                "{}request timeout must be a positive number of seconds, at most {}",
                at(),
                omega_eval::MAX_TIMEOUT_SECS
            )));
        }
        if let Some(t) = self.temperature {
            if !(0.0..=2.0).contains(&t) {
                return Err(ConfigError::new(format!("{}temperature {t} is outside 0..=2", at())));
            }
        }
        if self.max_in_flight == 0 {
            return Err(ConfigError::new(format!("{}max_in_flight must be at least 1", at())));
        }
        if let Some(base) = &self.base_url {
            if !(base.starts_with("http://") || base.starts_with("https://")) {
                return Err(ConfigError::new(format!(
                    "{}base URL `{}` must start with http:// or https://",
                    at(),
                    display_url(base)
                )));
            }
        }
        Ok(())
    }
}

/// Explicit choices (CLI flags, editor settings): they beat `omega.toml` and the environment.
#[derive(Clone, Debug, Default)]
pub struct LlmOverrides {
    pub adapter: Option<String>,
    pub model: Option<String>,
    pub base_url: Option<String>,
    /// The *name* of the variable that holds the key (editor setting `omega.llm.apiKeyEnv`).
    pub api_key_env: Option<String>,
    pub system: Option<String>,
    pub temperature: Option<f64>,
    pub max_tokens: Option<u32>,
    pub request_timeout_secs: Option<f64>,
    pub max_retries: Option<u32>,
    pub retry_base_ms: Option<u64>,
    pub script: Option<PathBuf>,
    pub cache_dir: Option<PathBuf>,
    pub no_cache: bool,
    pub offline: bool,
    pub max_llm_calls: Option<u64>,
    pub max_in_flight: Option<usize>,
}

/// A parsed `omega.toml`. Only the `[llm]` table is read here (strictly: an unknown key there
/// is an error, so typos do not pass silently); other tables belong to other parts of the tool.
#[derive(Clone, Debug)]
pub struct OmegaToml {
    pub path: PathBuf,
    pub llm: LlmTable,
    /// The whole document, for other sections' readers.
    pub table: toml::Table,
}

/// The `[llm]` table of `omega.toml`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmTable {
    pub adapter: Option<String>,
    pub model: Option<String>,
    pub base_url: Option<String>,
    pub api_key_env: Option<String>,
    pub system: Option<String>,
    pub temperature: Option<f64>,
    pub max_tokens: Option<u32>,
    pub request_timeout_secs: Option<f64>,
    pub max_retries: Option<u32>,
    pub script: Option<PathBuf>,
    pub cache_dir: Option<PathBuf>,
    pub no_cache: Option<bool>,
    pub offline: Option<bool>,
    pub max_llm_calls: Option<u64>,
    pub max_in_flight: Option<usize>,
}

impl OmegaToml {
    pub fn load(path: &Path) -> Result<OmegaToml, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::new(format!("{}: cannot read: {e}", path.display())))?;
        OmegaToml::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<OmegaToml, ConfigError> {
        let bad = |e: &dyn fmt::Display| ConfigError::new(format!("{}: {}", path.display(), e.to_string().trim_end()));
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| bad(&e))?;
        let llm = match table.get("llm") {
            None => LlmTable::default(),
            Some(value) => value.clone().try_into().map_err(|e: toml::de::Error| bad(&format!("[llm]: {e}")))?,
        };
        Ok(OmegaToml { path: path.to_path_buf(), llm, table })
    }

    /// The directory that relative paths in the file resolve against.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }
}

/// The user's own configuration file, `omega/config.toml` under `$XDG_CONFIG_HOME` (else
/// `~/.config`). Only what a project must not decide for the user lives here: which base URLs
/// may receive the key from the environment.
#[derive(Clone, Debug, Default)]
pub struct UserConfig {
    /// Where the file is (or would be), for messages.
    pub path: Option<PathBuf>,
    /// `[llm] trusted_base_urls`: origins a project's `base_url` may name and still get the key.
    pub trusted_base_urls: Vec<String>,
}

/// The `[llm]` table of the user-level config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserLlmTable {
    #[serde(default)]
    trusted_base_urls: Vec<String>,
}

impl UserConfig {
    /// Reads the user-level file if there is one; a missing file is an empty configuration.
    pub fn load(env: &dyn Fn(&str) -> Option<String>) -> Result<UserConfig, ConfigError> {
        let Some(path) = user_config_file(env) else {
            return Ok(UserConfig::default());
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => UserConfig::parse(&path, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok(UserConfig { path: Some(path), ..Default::default() })
            }
            Err(e) => Err(ConfigError::new(format!("{}: cannot read: {e}", path.display()))),
        }
    }

    pub fn parse(path: &Path, text: &str) -> Result<UserConfig, ConfigError> {
        let bad = |e: &dyn fmt::Display| ConfigError::new(format!("{}: {}", path.display(), e.to_string().trim_end()));
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| bad(&e))?;
        let llm: UserLlmTable = match table.get("llm") {
            None => UserLlmTable::default(),
            Some(value) => value.clone().try_into().map_err(|e: toml::de::Error| bad(&format!("[llm]: {e}")))?,
        };
        Ok(UserConfig { path: Some(path.to_path_buf()), trusted_base_urls: llm.trusted_base_urls })
    }
}

/// `omega/config.toml` under `$XDG_CONFIG_HOME`, else under `~/.config`.
pub fn user_config_file(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let non_empty = |name: &str| env(name).filter(|v| !v.is_empty());
    let base = non_empty("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| non_empty("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    Some(base.join("omega").join("config.toml"))
}

/// Scheme, host and port (the default one when absent), lower-cased; `None` if `url` has no scheme.
fn origin(url: &str) -> Option<(String, String, u16)> {
    let (scheme, rest) = url.trim().split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let (host, port) = match host_port.rfind(':') {
        Some(colon) if !host_port[colon..].contains(']') => {
            (&host_port[..colon], host_port[colon + 1..].parse::<u16>().ok()?)
        }
        _ => (host_port, if scheme == "https" { 443 } else { 80 }),
    };
    Some((scheme, host.trim_end_matches('.').to_ascii_lowercase(), port))
}

fn same_origin(a: &str, b: &str) -> bool {
    matches!((origin(a), origin(b)), (Some(x), Some(y)) if x == y)
}

/// `localhost`, `127.0.0.0/8` or `[::1]`: a server on the user's own machine.
fn is_loopback(url: &str) -> bool {
    let Some((_, host, _)) = origin(url) else {
        return false;
    };
    if host == "localhost" || host.ends_with(".localhost") {
        return true;
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn withheld_message(
    base: &str,
    file: &OmegaToml,
    user: &UserConfig,
    adapter: AdapterKind,
    key_env: &Option<String>,
) -> String {
    let shown = display_url(base.trim().trim_end_matches('/'));
    let user_file = match &user.path {
        Some(path) => path.display().to_string(),
        None => "$XDG_CONFIG_HOME/omega/config.toml".to_string(),
    };
    let base_env = adapter.base_url_env().unwrap_or("the base URL variable");
    format!(
        "{}: llm.base_url points at {shown}, which your own configuration does not name, so the key in {} is not sent there; \
         to allow it, add `trusted_base_urls = [\"{shown}\"]` under [llm] in {user_file}, or set {base_env} to it",
        file.path.display(),
        key_env.as_deref().unwrap_or("the environment"),
    )
}

/// The nearest `omega.toml` in `start` (a file's directory, or the directory itself) or its ancestors.
pub fn find_config_file(start: &Path) -> Option<PathBuf> {
    let start = if start.is_file() { start.parent()? } else { start };
    let start = if start.as_os_str().is_empty() { Path::new(".") } else { start };
    let absolute = std::path::absolute(start).unwrap_or_else(|_| start.to_path_buf());
    absolute.ancestors().map(|dir| dir.join(CONFIG_FILE_NAME)).find(|candidate| candidate.is_file())
}

/// `omega/` under `$XDG_CACHE_HOME`, else under `~/.cache`, else under the temporary directory.
pub fn default_cache_dir(env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    let non_empty = |name: &str| env(name).filter(|v| !v.is_empty());
    if let Some(xdg) = non_empty("XDG_CACHE_HOME") {
        return PathBuf::from(xdg).join("omega");
    }
    if let Some(home) = non_empty("HOME") {
        return PathBuf::from(home).join(".cache").join("omega");
    }
    std::env::temp_dir().join("omega-cache")
}

/// A URL fit for messages: user information (`user:password@`) removed.
pub fn display_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}{}", &url[..scheme_end + 3], &rest[at + 1..]),
        None => url.to_string(),
    }
}

/// Where a configuration value came from, for error messages.
enum ConfigOrigin {
    Explicit(&'static str),
    File(Option<PathBuf>, &'static str),
    Env(&'static str),
}

fn parse_adapter(name: &str, origin: ConfigOrigin) -> Result<AdapterKind, ConfigError> {
    AdapterKind::parse(name).ok_or_else(|| {
        let from = match origin {
            ConfigOrigin::Explicit(what) => format!("--{what}"),
            ConfigOrigin::File(Some(path), key) => format!("{} ({key})", path.display()),
            ConfigOrigin::File(None, key) => key.to_string(),
            ConfigOrigin::Env(var) => var.to_string(),
        };
        ConfigError::new(format!(
            "{from}: unknown LLM adapter `{}`; expected openai, anthropic, scripted or none",
            name.trim()
        ))
    })
}

/// A configuration that cannot be used; the message names the file or variable at fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub message: String,
}

impl ConfigError {
    fn new(message: String) -> ConfigError {
        ConfigError { message }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    fn file(text: &str) -> OmegaToml {
        OmegaToml::parse(Path::new("/proj/omega.toml"), text).unwrap()
    }

    fn resolve(file: Option<&OmegaToml>, env: &[(&str, &str)], explicit: &LlmOverrides) -> LlmConfig {
        LlmConfig::resolve_with(file, &UserConfig::default(), &env_of(env), explicit).unwrap()
    }

    #[test]
    fn adapter_defaults_follow_the_environment() {
        let none = LlmOverrides::default();
        assert_eq!(resolve(None, &[], &none).adapter, AdapterKind::None);
        assert_eq!(resolve(None, &[("OPENAI_API_KEY", "k")], &none).adapter, AdapterKind::OpenAi);
        assert_eq!(resolve(None, &[("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")], &none).adapter, AdapterKind::OpenAi);
        assert_eq!(resolve(None, &[("ANTHROPIC_API_KEY", "k")], &none).adapter, AdapterKind::Anthropic);
        assert_eq!(
            resolve(None, &[("ANTHROPIC_API_KEY", "k"), ("OPENAI_API_KEY", "k")], &none).adapter,
            AdapterKind::OpenAi
        );
        assert_eq!(resolve(None, &[("OPENAI_API_KEY", "")], &none).adapter, AdapterKind::None, "empty = unset");
    }

    #[test]
    fn explicit_beats_file_beats_env_beats_default() {
        let env = [("OMEGA_ADAPTER", "scripted"), ("OMEGA_MODEL", "env-model"), ("OPENAI_API_KEY", "sk-env")];
        let f = file("[llm]\nadapter = \"openai\"\nmodel = \"file-model\"\ntemperature = 0.5\n");
        let explicit = LlmOverrides { model: Some("flag-model".into()), ..Default::default() };

        let cfg = resolve(Some(&f), &env, &explicit);
        assert_eq!(cfg.adapter, AdapterKind::OpenAi, "file beats env");
        assert_eq!(cfg.model, "flag-model", "explicit beats file");
        assert_eq!(cfg.temperature, Some(0.5));

        let cfg = resolve(None, &env, &LlmOverrides::default());
        assert_eq!((cfg.adapter, cfg.model.as_str()), (AdapterKind::Scripted, "env-model"), "env beats default");

        let cfg = resolve(None, &[("OPENAI_API_KEY", "k")], &LlmOverrides::default());
        assert_eq!(cfg.model, "gpt-4o-mini");
        assert_eq!(cfg.request_timeout_secs, 60.0);
        assert_eq!(cfg.max_retries, 3);
        assert_eq!(cfg.max_in_flight, 32);
    }

    #[test]
    fn base_url_and_key_come_from_the_chosen_adapters_variables() {
        let env = [
            ("OPENAI_BASE_URL", "http://127.0.0.1:8080/v1/"),
            ("ANTHROPIC_BASE_URL", "http://127.0.0.1:9090"),
            ("ANTHROPIC_API_KEY", "sk-ant"),
            ("MY_KEY", "sk-mine"),
        ];
        let cfg = resolve(None, &env, &LlmOverrides::default());
        assert_eq!(cfg.base_url.as_deref(), Some("http://127.0.0.1:8080/v1"), "trailing slash dropped");
        assert!(cfg.api_key().is_none());

        let explicit = LlmOverrides { adapter: Some("anthropic".into()), ..Default::default() };
        let cfg = resolve(None, &env, &explicit);
        assert_eq!(cfg.base_url.as_deref(), Some("http://127.0.0.1:9090"));
        assert_eq!(cfg.api_key().map(ApiKey::expose), Some("sk-ant"));

        let explicit = LlmOverrides {
            adapter: Some("anthropic".into()),
            api_key_env: Some("MY_KEY".into()),
            ..Default::default()
        };
        let cfg = resolve(None, &env, &explicit);
        assert_eq!(cfg.api_key().map(ApiKey::expose), Some("sk-mine"));
        assert_eq!(cfg.api_key_env.as_deref(), Some("MY_KEY"));

        let cfg = resolve(None, &[("OPENAI_API_KEY", "k")], &LlmOverrides::default());
        assert_eq!(cfg.base_url.as_deref(), Some("https://api.openai.com/v1"));
        let scripted = LlmOverrides { adapter: Some("scripted".into()), ..Default::default() };
        assert_eq!(resolve(None, &env, &scripted).base_url, None);
    }

    #[test]
    fn relative_paths_in_the_file_resolve_against_its_directory() {
        let f = file("[llm]\nscript = \"answers.toml\"\ncache_dir = \".cache/llm\"\n");
        let cfg = resolve(Some(&f), &[("OMEGA_CACHE_DIR", "/elsewhere")], &LlmOverrides::default());
        assert_eq!(cfg.script, Some(PathBuf::from("/proj/answers.toml")));
        assert_eq!(cfg.cache_dir, PathBuf::from("/proj/.cache/llm"));

        let cfg = resolve(None, &[("OMEGA_SCRIPT", "s.toml"), ("OMEGA_CACHE_DIR", "/c")], &LlmOverrides::default());
        assert_eq!(cfg.script, Some(PathBuf::from("s.toml")), "env paths are taken as given");
        assert_eq!(cfg.cache_dir, PathBuf::from("/c"));
    }

    #[test]
    fn cache_dir_defaults_to_the_user_cache_directory() {
        let none = LlmOverrides::default();
        assert_eq!(
            resolve(None, &[("XDG_CACHE_HOME", "/x"), ("HOME", "/h")], &none).cache_dir,
            PathBuf::from("/x/omega")
        );
        assert_eq!(resolve(None, &[("HOME", "/h")], &none).cache_dir, PathBuf::from("/h/.cache/omega"));
    }

    #[test]
    fn keys_are_never_debug_printed() {
        let cfg = resolve(None, &[("OPENAI_API_KEY", "sk-very-secret")], &LlmOverrides::default());
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("sk-very-secret"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn bad_configuration_is_reported_with_its_origin() {
        let err = LlmConfig::resolve_with(
            None,
            &UserConfig::default(),
            &env_of(&[("OMEGA_ADAPTER", "gpt")]),
            &LlmOverrides::default(),
        )
        .unwrap_err();
        assert_eq!(
            err.message,
            "OMEGA_ADAPTER: unknown LLM adapter `gpt`; expected openai, anthropic, scripted or none"
        );

        let f = file("[llm]\nadapter = \"nope\"\n");
        let err = LlmConfig::resolve_with(Some(&f), &UserConfig::default(), &env_of(&[]), &LlmOverrides::default())
            .unwrap_err();
        assert!(
            err.message.starts_with("/proj/omega.toml (llm.adapter): unknown LLM adapter `nope`"),
            "{}",
            err.message
        );

        let err = OmegaToml::parse(Path::new("/p/omega.toml"), "[llm]\nmodle = \"x\"\n").unwrap_err();
        assert!(err.message.contains("/p/omega.toml") && err.message.contains("modle"), "{}", err.message);

        let err = OmegaToml::parse(Path::new("/p/omega.toml"), "[llm\n").unwrap_err();
        assert!(err.message.starts_with("/p/omega.toml: "), "{}", err.message);

        let explicit = LlmOverrides {
            adapter: Some("openai".into()),
            base_url: Some("localhost:8080".into()),
            ..Default::default()
        };
        let err = LlmConfig::resolve_with(None, &UserConfig::default(), &env_of(&[]), &explicit).unwrap_err();
        assert!(err.message.contains("must start with http://"), "{}", err.message);

        let other_tables_are_fine = file("[format]\nwidth = 80\n[llm]\nmodel = \"m\"\n");
        assert_eq!(other_tables_are_fine.llm.model.as_deref(), Some("m"));
    }

    #[test]
    fn the_nearest_config_file_wins() {
        let root = std::env::temp_dir().join(format!("omega-config-test-{}", std::process::id()));
        let inner = root.join("a/b");
        std::fs::create_dir_all(&inner).unwrap();
        std::fs::write(root.join(CONFIG_FILE_NAME), "[llm]\nmodel = \"outer\"\n").unwrap();
        let program = inner.join("p.omega");
        std::fs::write(&program, "").unwrap();
        assert_eq!(find_config_file(&program), Some(root.join(CONFIG_FILE_NAME)));
        std::fs::write(root.join("a").join(CONFIG_FILE_NAME), "[llm]\nmodel = \"inner\"\n").unwrap();
        assert_eq!(find_config_file(&program), Some(root.join("a").join(CONFIG_FILE_NAME)));
        let cfg = LlmConfig::resolve(Some(&program), &LlmOverrides::default()).unwrap();
        assert_eq!(cfg.model, "inner");
        assert_eq!(cfg.source, Some(root.join("a").join(CONFIG_FILE_NAME)));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_project_base_url_gets_the_key_only_when_the_user_names_its_origin() {
        let project = file("[llm]\nadapter = \"openai\"\nbase_url = \"https://collector.example/v1\"\n");
        let key = ("OPENAI_API_KEY", "sk-user");
        let none = LlmOverrides::default();
        let user = |urls: &[&str]| UserConfig {
            path: Some(PathBuf::from("/home/u/.config/omega/config.toml")),
            trusted_base_urls: urls.iter().map(|u| u.to_string()).collect(),
        };
        let with = |user: &UserConfig, env: &[(&str, &str)]| {
            LlmConfig::resolve_with(Some(&project), user, &env_of(env), &none).unwrap()
        };

        let cfg = with(&user(&[]), &[key]);
        assert!(cfg.api_key().is_none(), "withheld");
        let why = cfg.key_withheld().unwrap();
        assert!(why.starts_with("/proj/omega.toml: llm.base_url points at https://collector.example/v1"), "{why}");
        assert!(why.contains("OPENAI_API_KEY") && !why.contains("sk-user"), "{why}");
        assert!(why.contains("trusted_base_urls") && why.contains("/home/u/.config/omega/config.toml"), "{why}");

        let trusted = with(&user(&["https://COLLECTOR.example:443"]), &[key]);
        assert_eq!(trusted.api_key().map(ApiKey::expose), Some("sk-user"), "same origin, other spelling");
        assert!(trusted.key_withheld().is_none());
        assert!(with(&user(&["https://collector.example:8443"]), &[key]).api_key().is_none(), "other port");
        assert!(with(&user(&["http://collector.example"]), &[key]).api_key().is_none(), "other scheme");
        let env_names_it = with(&user(&[]), &[key, ("OPENAI_BASE_URL", "https://collector.example/other")]);
        assert!(env_names_it.api_key().is_some(), "the environment's *_BASE_URL names the origin");

        for local in ["http://127.0.0.1:8080/v1", "http://localhost:11434/v1", "http://[::1]:9/v1"] {
            let f = file(&format!("[llm]\nadapter = \"openai\"\nbase_url = \"{local}\"\n"));
            let cfg = LlmConfig::resolve_with(Some(&f), &user(&[]), &env_of(&[key]), &none).unwrap();
            assert!(cfg.api_key().is_some(), "loopback {local}");
        }
        let explicit = LlmOverrides { base_url: Some("https://mine.example/v1".into()), ..Default::default() };
        let cfg = LlmConfig::resolve_with(Some(&project), &user(&[]), &env_of(&[key]), &explicit).unwrap();
        assert!(cfg.api_key().is_some(), "an explicit base URL replaces the project's");
        assert!(with(&user(&[]), &[]).key_withheld().is_none(), "no key, nothing to withhold");
    }

    #[test]
    fn the_user_config_lives_under_the_config_directory() {
        assert_eq!(
            user_config_file(&env_of(&[("XDG_CONFIG_HOME", "/x"), ("HOME", "/h")])),
            Some(PathBuf::from("/x/omega/config.toml"))
        );
        assert_eq!(user_config_file(&env_of(&[("HOME", "/h")])), Some(PathBuf::from("/h/.config/omega/config.toml")));
        let user =
            UserConfig::parse(Path::new("/c.toml"), "[llm]\ntrusted_base_urls = [\"https://a.example\"]\n").unwrap();
        assert_eq!(user.trusted_base_urls, vec!["https://a.example".to_string()]);
        let err = UserConfig::parse(Path::new("/c.toml"), "[llm]\nbase_url = \"x\"\n").unwrap_err();
        assert!(err.message.starts_with("/c.toml: ") && err.message.contains("base_url"), "{}", err.message);
    }

    #[test]
    fn urls_lose_their_credentials_for_display() {
        assert_eq!(display_url("https://user:pw@host:1/v1"), "https://host:1/v1");
        assert_eq!(display_url("http://127.0.0.1:8080/v1"), "http://127.0.0.1:8080/v1");
        assert_eq!(display_url("http://h/a@b"), "http://h/a@b");
    }
}
