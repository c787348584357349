//! The one small trait every provider sits behind, and the two adapters too small for a file
//! of their own (`none`, and the "no key" case of the HTTP adapters).
//!
//! An adapter either answers on the spot without I/O ([`Adapter::local`]: scripted answers,
//! configuration errors) or makes one HTTP attempt per call of [`Adapter::attempt`]; the
//! service around it does caching, budgets, the in-flight cap, retries and timing, so adapters
//! stay a request builder plus a response parser.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use super::error::{Failure, LlmError, LlmErrorKind};
use super::LlmRequest;

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// What the provider said, before the service adds timing and cache status.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Reply {
    pub text: String,
    pub tokens_in: Option<u32>,
    pub tokens_out: Option<u32>,
    /// Set by scripted rules only.
    pub confidence: Option<f64>,
}

impl Reply {
    pub(crate) fn text(text: impl Into<String>) -> Reply {
        Reply { text: text.into(), tokens_in: None, tokens_out: None, confidence: None }
    }
}

/// An answer that needs no network: delivered `delay` after submission.
#[derive(Debug)]
pub(crate) struct Local {
    pub result: Result<Reply, LlmError>,
    pub delay: Duration,
}

impl Local {
    pub(crate) fn now(result: Result<Reply, LlmError>) -> Local {
        Local { result, delay: Duration::ZERO }
    }
}

/// What an adapter remembers between the requests of one run (a session), not of the whole
/// service: a server that keeps one service for hours answers every run alike.
#[derive(Debug, Default)]
pub(crate) struct RunCounters {
    /// Requests each scripted rule (by index) has answered, for `answers` cycling.
    hits: HashMap<usize, usize>,
}

impl RunCounters {
    /// How many times `rule` answered before, counting this one from now on.
    pub(crate) fn next_hit(&mut self, rule: usize) -> usize {
        let hits = self.hits.entry(rule).or_insert(0);
        *hits += 1;
        *hits - 1
    }
}

/// Who answers, as shown in metadata and messages.
#[derive(Clone, Debug)]
pub(crate) struct AdapterInfo {
    pub name: &'static str,
    pub model: String,
    /// Without credentials; `None` for adapters that do no HTTP.
    pub base_url: Option<String>,
    /// Name of the variable holding the key, for hints.
    pub key_env: Option<String>,
    /// Answers may be cached (HTTP providers); scripted answers never are.
    pub cacheable: bool,
    pub scripted: bool,
}

pub(crate) trait Adapter: Send + Sync + 'static {
    fn info(&self) -> &AdapterInfo;

    /// The answer, if this request needs no network.
    fn local(&self, req: &LlmRequest, run: &mut RunCounters) -> Option<Local>;

    /// One HTTP attempt (called again for each retry). Only called when `local` gave `None`.
    fn attempt(&self, prompt: &str) -> BoxFuture<Result<Reply, Failure>>;
}

/// The message for adapter `none` (docs/language.md §10.1).
pub(crate) fn not_configured(op: &str) -> LlmError {
    LlmError::new(
        LlmErrorKind::NotConfigured,
        format!(
            "{op}: no LLM provider configured; set OPENAI_API_KEY or OPENAI_BASE_URL, ANTHROPIC_API_KEY, or OMEGA_ADAPTER=scripted with OMEGA_SCRIPT"
        ),
    )
}

/// Adapter `none`: every request fails, saying how to configure a provider.
pub(crate) struct NoAdapter {
    info: AdapterInfo,
}

impl NoAdapter {
    pub(crate) fn new() -> NoAdapter {
        NoAdapter {
            info: AdapterInfo {
                name: "none",
                model: "none".to_string(),
                base_url: None,
                key_env: None,
                cacheable: false,
                scripted: false,
            },
        }
    }
}

impl Adapter for NoAdapter {
    fn info(&self) -> &AdapterInfo {
        &self.info
    }

    fn local(&self, req: &LlmRequest, _run: &mut RunCounters) -> Option<Local> {
        Some(Local::now(Err(not_configured(req.op))))
    }

    fn attempt(&self, _prompt: &str) -> BoxFuture<Result<Reply, Failure>> {
        Box::pin(async { Err(Failure::NotConfigured("no LLM provider configured".to_string())) })
    }
}
