//! The LLM provider layer: what answers `infer.op`, `int.op` and `search.op`.
//!
//! The evaluator runs on one OS thread with green threads, so this layer is synchronous on the
//! outside and asynchronous inside: [`LlmSession::submit`] never blocks (HTTP requests run on a
//! small tokio runtime owned by this module), and the evaluator collects completions when it
//! wants them, blocking only when it has nothing else to do.
//!
//! ```text
//! let service = LlmService::new(&config)?;          // once per configuration (cheap to clone)
//! let mut session = service.session();              // once per evaluation run: budget, tickets
//! let t = session.submit(LlmRequest::new("infer.op", prompt));   // park the green thread on t
//! ... run other green threads ...
//! while let Some(done) = session.try_next() { resume the thread waiting on done.ticket }
//! if every thread is parked: session.wait_next(deadline)  // blocks until ANY ticket completes
//! session.cancel(t) / drop(session)                 // aborts the HTTP requests
//! ```
//!
//! Around every adapter the service does, in this order: the cache lookup (hits are answered at
//! once and are free), `--offline` (a miss is an error), the per-session call budget, then
//! either a local answer (scripted, `none`, misconfiguration: delivered after the rule's delay,
//! ties in submission order) or an HTTP request under the service-wide in-flight cap, with
//! retries. Invariants: API keys never appear in a message, a log line, a `Debug` print or the
//! cache; every answer carries [`AnswerMeta`].
//!
//! Code map: [`adapter`] the trait; [`openai`], [`anthropic`], [`scripted`] the adapters;
//! [`http`] transport and error classification; [`retry`] backoff and `Retry-After`;
//! [`cache`] the on-disk cache; [`error`] messages.

pub mod config;
pub mod port;
mod runtime;
pub mod standin;

mod adapter;
mod anthropic;
mod cache;
mod error;
mod http;
mod openai;
mod retry;
mod scripted;

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::fmt;
use std::io;
use std::sync::atomic::{AtomicU32, Ordering as AtomicOrdering};
use std::sync::mpsc;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

pub use error::{LlmError, LlmErrorKind};
pub use runtime::Runtime;

use crate::config::{AdapterKind, ApiKey, LlmConfig};
use adapter::{Adapter, AdapterInfo, Local, NoAdapter, Reply, RunCounters};
use cache::{Cache, CacheKey, Entry};
use error::{describe, Provider, Redactor};
use retry::RetryPolicy;

/// One request to the model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LlmRequest {
    /// `"infer.op"`, `"int.op"` or `"search.op"`: names the request in error messages.
    pub op: &'static str,
    /// The prompt text (built as docs/language.md §7.2 says).
    pub prompt: String,
    /// Sample index for `search.op` (0 otherwise): part of the cache key, so n samples are n answers.
    pub sample: u32,
}

impl LlmRequest {
    pub fn new(op: &'static str, prompt: impl Into<String>) -> LlmRequest {
        LlmRequest { op, prompt: prompt.into(), sample: 0 }
    }

    /// An `infer.op` request.
    pub fn infer(prompt: impl Into<String>) -> LlmRequest {
        LlmRequest::new("infer.op", prompt)
    }

    pub fn with_sample(self, sample: u32) -> LlmRequest {
        LlmRequest { sample, ..self }
    }
}

/// A successful answer.
#[derive(Clone, Debug, PartialEq)]
pub struct LlmAnswer {
    /// The reply, trimmed of surrounding whitespace.
    pub text: String,
    pub meta: AnswerMeta,
}

/// Where an answer came from and what it cost.
#[derive(Clone, Debug, PartialEq)]
pub struct AnswerMeta {
    pub adapter: String,
    pub model: String,
    /// Without credentials; `None` for scripted answers.
    pub base_url: Option<String>,
    /// Provider time (all attempts) for fresh answers, the lookup for cache hits, the
    /// rule's delay for scripted answers.
    pub latency: Duration,
    pub tokens_in: Option<u32>,
    pub tokens_out: Option<u32>,
    pub cached: bool,
    /// Came from a responses file: label it as scripted wherever it is shown.
    pub scripted: bool,
    /// Set by scripted rules; `None` means the default (1).
    pub confidence: Option<f64>,
    /// Attempts after the first (rate limits, server errors) before this answer came.
    pub retries: u32,
}

impl AnswerMeta {
    /// The Meaning's trace (docs/language.md §7.2): `"scripted"`, `"openai:gpt-4o"`, plus ` (cached)`.
    pub fn trace(&self) -> String {
        let source = if self.scripted { "scripted".to_string() } else { format!("{}:{}", self.adapter, self.model) };
        if self.cached {
            format!("{source} (cached)")
        } else {
            source
        }
    }
}

/// Names one submitted request within its session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TicketId(u64);

impl TicketId {
    pub fn index(self) -> u64 {
        self.0
    }
}

/// A finished request.
#[derive(Debug)]
pub struct Completion {
    pub ticket: TicketId,
    pub result: Result<LlmAnswer, LlmError>,
}

/// The LLM layer for one configuration. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct LlmService {
    inner: Arc<Inner>,
}

struct Inner {
    adapter: Box<dyn Adapter>,
    /// `None` when answers are not cached (scripted, none, `--no-cache`).
    cache: Option<Cache>,
    /// Where answers would be cached, for `clear_cache` even under `--no-cache`.
    store: Cache,
    offline: bool,
    permits: Semaphore,
    max_in_flight: usize,
    retry: RetryPolicy,
    max_llm_calls: Option<u64>,
    redactor: Redactor,
    system: Option<String>,
    temperature: Option<f64>,
    max_tokens: Option<u32>,
}

impl LlmService {
    /// Fails only on a configuration that cannot work at all; a missing key or responses file is
    /// reported by each request instead, so programs that make no LLM call still run.
    pub fn new(cfg: &LlmConfig) -> Result<LlmService, LlmError> {
        let adapter: Box<dyn Adapter> = match cfg.adapter {
            AdapterKind::OpenAi => Box::new(openai::OpenAi::new(cfg)?),
            AdapterKind::Anthropic => Box::new(anthropic::Anthropic::new(cfg)?),
            AdapterKind::Scripted => Box::new(scripted::Scripted::new(cfg.script.clone())),
            AdapterKind::None => Box::new(NoAdapter::new()),
        };
        let store = Cache::new(&cfg.cache_dir);
        let cache = (adapter.info().cacheable && !cfg.no_cache).then(|| store.clone());
        Ok(LlmService {
            inner: Arc::new(Inner {
                adapter,
                cache,
                store,
                offline: cfg.offline,
                permits: Semaphore::new(cfg.max_in_flight.max(1)),
                max_in_flight: cfg.max_in_flight.max(1),
                retry: RetryPolicy { max_retries: cfg.max_retries, base: Duration::from_millis(cfg.retry_base_ms) },
                max_llm_calls: cfg.max_llm_calls,
                redactor: Redactor::new(cfg.api_key().map(ApiKey::expose).map(str::to_string)),
                system: cfg.system.clone(),
                temperature: cfg.temperature,
                max_tokens: cfg.max_tokens,
            }),
        })
    }

    /// A new session: its own tickets, completions and call budget (`max_llm_calls`).
    pub fn session(&self) -> LlmSession {
        let (tx, rx) = mpsc::channel();
        LlmSession {
            service: self.clone(),
            tx,
            rx,
            next_id: 0,
            pending: HashMap::new(),
            timed: BinaryHeap::new(),
            parked: VecDeque::new(),
            budget: self.inner.max_llm_calls,
            calls: 0,
            counters: RunCounters::default(),
        }
    }

    /// An answer that costs nothing and needs no network: a cached one, or a scripted one
    /// (scripted `answers` cycle within `run`).
    pub(crate) fn free_answer(&self, req: &LlmRequest, run: &mut RunCounters) -> Option<LlmAnswer> {
        let inner = &self.inner;
        if let Some(cache) = &inner.cache {
            if let Some(entry) = cache.get(&inner.cache_key(req).digest()) {
                return Some(inner.cached_answer(entry, Duration::ZERO));
            }
        }
        if !inner.info().scripted {
            return None;
        }
        let local = inner.adapter.local(req, run)?;
        local.result.ok().map(|reply| inner.answer(reply, Duration::ZERO))
    }

    /// Removes every cached answer.
    pub fn clear_cache(&self) -> io::Result<()> {
        self.inner.store.clear()
    }

    /// `openai`, `anthropic`, `scripted` or `none`.
    pub fn adapter(&self) -> &str {
        self.inner.adapter.info().name
    }

    pub fn model(&self) -> &str {
        &self.inner.adapter.info().model
    }

    /// Without credentials.
    pub fn base_url(&self) -> Option<&str> {
        self.inner.adapter.info().base_url.as_deref()
    }

    /// HTTP requests on the wire right now, across all sessions.
    pub fn in_flight(&self) -> usize {
        self.inner.max_in_flight - self.inner.permits.available_permits()
    }
}

impl fmt::Debug for LlmService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LlmService")
            .field("adapter", &self.adapter())
            .field("model", &self.model())
            .field("base_url", &self.base_url())
            .field("cache", &self.inner.cache.is_some())
            .field("offline", &self.inner.offline)
            .finish_non_exhaustive()
    }
}

impl Inner {
    fn info(&self) -> &AdapterInfo {
        self.adapter.info()
    }

    fn cache_key<'a>(&'a self, req: &'a LlmRequest) -> CacheKey<'a> {
        let info = self.info();
        CacheKey {
            adapter: info.name,
            base_url: info.base_url.as_deref(),
            model: &info.model,
            system: self.system.as_deref(),
            temperature: self.temperature,
            max_tokens: self.max_tokens,
            prompt: &req.prompt,
            sample: req.sample,
        }
    }

    fn answer(&self, reply: Reply, latency: Duration) -> LlmAnswer {
        let info = self.info();
        LlmAnswer {
            text: self.redactor.redact(reply.text.trim()),
            meta: AnswerMeta {
                adapter: info.name.to_string(),
                model: info.model.clone(),
                base_url: info.base_url.clone(),
                latency,
                tokens_in: reply.tokens_in,
                tokens_out: reply.tokens_out,
                cached: false,
                scripted: info.scripted,
                confidence: reply.confidence,
                retries: 0,
            },
        }
    }

    fn cached_answer(&self, entry: Entry, lookup: Duration) -> LlmAnswer {
        let reply =
            Reply { text: entry.text, tokens_in: entry.tokens_in, tokens_out: entry.tokens_out, confidence: None };
        let mut answer = self.answer(reply, lookup);
        answer.meta.model = entry.model;
        answer.meta.cached = true;
        answer
    }

    fn offline_miss(&self, req: &LlmRequest) -> LlmError {
        let info = self.info();
        LlmError::new(
            LlmErrorKind::Offline,
            format!(
                "{}: offline, and no cached answer for this prompt from {} (model {}); run once without --offline to fill the cache",
                req.op, info.name, info.model
            ),
        )
    }

    /// The HTTP path: attempts under the in-flight cap, with retries, then the cache write.
    async fn fetch(&self, req: &LlmRequest, digest: Option<String>) -> Result<LlmAnswer, LlmError> {
        let first_attempt = OnceLock::new();
        let attempts = AtomicU32::new(0);
        let (permits, adapter, prompt, first, count) =
            (&self.permits, &*self.adapter, req.prompt.as_str(), &first_attempt, &attempts);
        let outcome = self
            .retry
            .run(|| async move {
                let _permit = permits.acquire().await.expect("the in-flight semaphore is never closed");
                first.get_or_init(Instant::now);
                count.fetch_add(1, AtomicOrdering::Relaxed);
                adapter.attempt(prompt).await
            })
            .await;
        let latency = first_attempt.get().map(Instant::elapsed).unwrap_or_default();
        match outcome {
            Ok(reply) => {
                let mut answer = self.answer(reply, latency);
                answer.meta.retries = attempts.into_inner().saturating_sub(1);
                if let (Some(cache), Some(digest)) = (&self.cache, digest) {
                    let entry = Entry {
                        text: answer.text.clone(),
                        model: answer.meta.model.clone(),
                        tokens_in: answer.meta.tokens_in,
                        tokens_out: answer.meta.tokens_out,
                        latency_ms: latency.as_millis() as u64,
                    };
                    // A cache that cannot be written costs a future re-fetch, not this answer.
                    let _ = cache.put(&digest, &entry);
                }
                Ok(answer)
            }
            Err((failure, ending)) => {
                let info = self.info();
                let provider = Provider {
                    adapter: info.name,
                    base_url: info.base_url.as_deref().unwrap_or("-"),
                    key_env: info.key_env.as_deref(),
                };
                Err(self.redactor.scrub(describe(req.op, &provider, &failure, ending)))
            }
        }
    }
}

/// The runtime that carries every HTTP request of the process: two worker threads are plenty
/// for I/O-bound work, and a process-wide runtime makes services cheap to create and safe to
/// drop anywhere (including inside another runtime, as in the language server).
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("omega-llm")
            .enable_all()
            .build()
            .expect("cannot start the LLM I/O threads")
    })
}

/// One evaluation run's view of the service: submits requests, hands back completions, owns
/// the call budget. Dropping it cancels everything still outstanding.
pub struct LlmSession {
    service: LlmService,
    tx: mpsc::Sender<Completion>,
    rx: mpsc::Receiver<Completion>,
    next_id: u64,
    /// Submitted, not yet handed out; HTTP ones with the handle that aborts them.
    pending: HashMap<TicketId, Option<tokio::task::AbortHandle>>,
    /// Answers known at submission (cache hits, scripted, errors), due at a moment.
    timed: BinaryHeap<Timed>,
    /// Completions received while waiting for a particular ticket.
    parked: VecDeque<Completion>,
    budget: Option<u64>,
    calls: u64,
    /// Scripted cycling, per run.
    counters: RunCounters,
}

/// A completion due at `due`; ordered so the heap pops the earliest, ties in submission order.
struct Timed {
    due: Instant,
    completion: Completion,
}

impl PartialEq for Timed {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Timed {}

impl PartialOrd for Timed {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Timed {
    fn cmp(&self, other: &Self) -> Ordering {
        (other.due, other.completion.ticket).cmp(&(self.due, self.completion.ticket))
    }
}

impl LlmSession {
    pub fn service(&self) -> &LlmService {
        &self.service
    }

    /// Starts a request; never blocks on the network. Cache hits, scripted answers and errors
    /// known up front (budget, offline miss, no provider) are ready from the next `try_next`
    /// (scripted ones after their `delay_ms`).
    pub fn submit(&mut self, req: LlmRequest) -> TicketId {
        let ticket = TicketId(self.next_id);
        self.next_id += 1;
        let submitted = Instant::now();
        let inner = &self.service.inner;

        let digest = inner.cache.as_ref().map(|_| inner.cache_key(&req).digest());
        if let (Some(cache), Some(digest)) = (&inner.cache, &digest) {
            if let Some(entry) = cache.get(digest) {
                let answer = inner.cached_answer(entry, submitted.elapsed());
                return self.ready(ticket, submitted, Ok(answer));
            }
        }
        if inner.offline && inner.info().cacheable {
            let error = inner.offline_miss(&req);
            return self.ready(ticket, submitted, Err(error));
        }
        if let Some(limit) = self.budget {
            if self.calls >= limit {
                return self.ready(ticket, submitted, Err(LlmError::budget(limit)));
            }
        }
        self.calls += 1;

        if let Some(Local { result, delay }) = inner.adapter.local(&req, &mut self.counters) {
            let result = result.map(|reply| inner.answer(reply, delay)).map_err(|e| inner.redactor.scrub(e));
            return self.ready(ticket, submitted + delay, result);
        }

        let service = self.service.clone();
        let tx = self.tx.clone();
        let task = runtime().spawn(async move {
            let result = service.inner.fetch(&req, digest).await;
            let _ = tx.send(Completion { ticket, result });
        });
        self.pending.insert(ticket, Some(task.abort_handle()));
        ticket
    }

    fn ready(&mut self, ticket: TicketId, due: Instant, result: Result<LlmAnswer, LlmError>) -> TicketId {
        self.pending.insert(ticket, None);
        self.timed.push(Timed { due, completion: Completion { ticket, result } });
        ticket
    }

    /// A finished request, if any, without blocking.
    pub fn try_next(&mut self) -> Option<Completion> {
        self.wait_next(Some(Instant::now()))
    }

    /// Blocks until any outstanding request finishes or `deadline` passes (`None`: no deadline).
    /// `None` when the deadline passed or nothing is outstanding.
    pub fn wait_next(&mut self, deadline: Option<Instant>) -> Option<Completion> {
        if let Some(done) = self.parked.pop_front() {
            return Some(done);
        }
        self.next_fresh(deadline)
    }

    /// Blocks until `ticket` finishes; other completions that arrive meanwhile are kept for
    /// `try_next`/`wait_next`. `None` if the ticket was already handed out or cancelled.
    pub fn wait_for(&mut self, ticket: TicketId) -> Option<Result<LlmAnswer, LlmError>> {
        if let Some(i) = self.parked.iter().position(|c| c.ticket == ticket) {
            return self.parked.remove(i).map(|c| c.result);
        }
        while self.pending.contains_key(&ticket) {
            let done = self.next_fresh(None)?;
            if done.ticket == ticket {
                return Some(done.result);
            }
            self.parked.push_back(done);
        }
        None
    }

    /// Submits and waits: the whole round trip for sequential callers.
    pub fn call(&mut self, req: LlmRequest) -> Result<LlmAnswer, LlmError> {
        let ticket = self.submit(req);
        self.wait_for(ticket).expect("a just-submitted ticket is outstanding")
    }

    /// Abandons a request: its HTTP request is aborted (the connection closed) and its
    /// completion never delivered. `false` if it was not outstanding.
    pub fn cancel(&mut self, ticket: TicketId) -> bool {
        if let Some(i) = self.parked.iter().position(|c| c.ticket == ticket) {
            self.parked.remove(i);
            return true;
        }
        match self.pending.remove(&ticket) {
            Some(Some(task)) => {
                task.abort();
                true
            }
            Some(None) => true,
            None => false,
        }
    }

    pub fn cancel_all(&mut self) {
        for (_, task) in self.pending.drain() {
            if let Some(task) = task {
                task.abort();
            }
        }
        self.timed.clear();
        self.parked.clear();
    }

    /// Requests submitted and not yet handed out.
    pub fn outstanding(&self) -> usize {
        self.pending.len() + self.parked.len()
    }

    /// Requests counted against the budget so far (cache hits are free).
    pub fn calls(&self) -> u64 {
        self.calls
    }

    /// A new evaluation run starts with the whole call budget and scripted `answers` from
    /// their first: a kept session (a REPL, an editor's buffer) pays per run, not for its whole life.
    pub fn start_run(&mut self) {
        self.calls = 0;
        self.counters = RunCounters::default();
    }

    /// Replaces the budget from the configuration (`None`: unlimited).
    pub fn set_budget(&mut self, max_llm_calls: Option<u64>) {
        self.budget = max_llm_calls;
    }

    fn next_fresh(&mut self, deadline: Option<Instant>) -> Option<Completion> {
        loop {
            let now = Instant::now();
            while self.timed.peek().is_some_and(|t| t.due <= now) {
                let Timed { completion, .. } = self.timed.pop().expect("peeked");
                if self.pending.remove(&completion.ticket).is_some() {
                    return Some(completion);
                }
            }
            while let Ok(done) = self.rx.try_recv() {
                if self.pending.remove(&done.ticket).is_some() {
                    return Some(done);
                }
            }
            if self.pending.is_empty() || deadline.is_some_and(|d| d <= now) {
                return None;
            }
            let wake = match (deadline, self.timed.peek().map(|t| t.due)) {
                (Some(d), Some(t)) => Some(d.min(t)),
                (d, t) => d.or(t),
            };
            let received = match wake {
                Some(wake) => self.rx.recv_timeout(wake.saturating_duration_since(now)).ok(),
                None => self.rx.recv().ok(),
            };
            if let Some(done) = received {
                if self.pending.remove(&done.ticket).is_some() {
                    return Some(done);
                }
            }
        }
    }
}

impl Drop for LlmSession {
    fn drop(&mut self) {
        self.cancel_all();
    }
}

impl fmt::Debug for LlmSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LlmSession")
            .field("service", &self.service)
            .field("outstanding", &self.outstanding())
            .field("calls", &self.calls)
            .field("budget", &self.budget)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn scripted(text: &str) -> (LlmService, PathBuf) {
        static UNIQUE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = UNIQUE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("omega-llm-test-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("answers.toml");
        std::fs::write(&path, text).unwrap();
        let mut cfg = LlmConfig::new(AdapterKind::Scripted);
        cfg.script = Some(path);
        cfg.cache_dir = dir.join("cache");
        (LlmService::new(&cfg).unwrap(), dir)
    }

    #[test]
    fn scripted_answers_are_labelled_and_never_cached() {
        let (service, dir) =
            scripted(r#"response = [ { contains = "France", answer = "  Paris ", confidence = 0.9 } ]"#);
        let mut session = service.session();
        let answer = session.call(LlmRequest::new("int.op", "capital of France")).unwrap();
        assert_eq!(answer.text, "Paris");
        assert!(answer.meta.scripted && !answer.meta.cached);
        assert_eq!(answer.meta.trace(), "scripted");
        assert_eq!(answer.meta.confidence, Some(0.9));
        assert!(!dir.join("cache").exists(), "scripted answers are never cached");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn scripted_cycling_is_per_run_not_per_service() {
        let (service, dir) = scripted(r#"response = [ { contains = "dice", answers = ["one", "two", "three"] } ]"#);
        let roll = |session: &mut LlmSession| session.call(LlmRequest::infer("dice")).unwrap().text;
        let mut first = service.session();
        assert_eq!([roll(&mut first), roll(&mut first)], ["one", "two"]);
        let mut second = service.session();
        assert_eq!(roll(&mut second), "one", "a new session starts from the first answer");
        first.start_run();
        assert_eq!(roll(&mut first), "one", "a new run of a kept session starts over");
        assert_eq!(roll(&mut first), "two");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn equal_delays_complete_in_submission_order_and_together() {
        let delay = Duration::from_millis(150);
        let (service, dir) = scripted(r#"response = [ { regex = '^slow (\w+)$', answer = "S-$1", delay_ms = 150 } ]"#);
        let mut session = service.session();
        let started = Instant::now();
        let tickets: Vec<TicketId> =
            ["slow a", "slow b", "slow c"].iter().map(|p| session.submit(LlmRequest::infer(*p))).collect();
        let first = session.wait_next(None).unwrap();
        assert!(started.elapsed() >= delay, "not before the delay");
        // The delays run side by side: once the first answer is in, the other two are due
        // within half a delay. One after another, the next would be a whole delay away.
        let window = Instant::now() + delay / 2;
        let mut got = vec![(first.ticket, first.result.unwrap().text)];
        while let Some(done) = session.wait_next(Some(window)) {
            got.push((done.ticket, done.result.unwrap().text));
        }
        assert_eq!(
            got,
            vec![(tickets[0], "S-a".into()), (tickets[1], "S-b".into()), (tickets[2], "S-c".into())],
            "all three answers together, in submission order"
        );
        assert_eq!(session.outstanding(), 0);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn shorter_delays_overtake_and_wait_for_parks_the_rest() {
        let (service, dir) = scripted(
            r#"response = [ { prompt = "late", answer = "L", delay_ms = 120 }, { prompt = "soon", answer = "S", delay_ms = 10 } ]"#,
        );
        let mut session = service.session();
        let late = session.submit(LlmRequest::infer("late"));
        let soon = session.submit(LlmRequest::infer("soon"));
        assert_eq!(session.wait_for(late).unwrap().unwrap().text, "L");
        let parked = session.try_next().unwrap();
        assert_eq!((parked.ticket, parked.result.unwrap().text.as_str()), (soon, "S"));
        assert_eq!(session.outstanding(), 0);
        assert!(session.wait_next(None).is_none(), "nothing outstanding: no blocking");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn budgets_count_requests_per_session() {
        let (service, dir) = scripted(r#"default = "ok""#);
        let mut session = service.session();
        session.set_budget(Some(2));
        assert!(session.call(LlmRequest::infer("a")).is_ok());
        assert!(session.call(LlmRequest::infer("b")).is_ok());
        let err = session.call(LlmRequest::infer("c")).unwrap_err();
        assert_eq!((err.kind, err.message.as_str()), (LlmErrorKind::Budget, "LLM call budget exhausted (2 calls)"));
        assert_eq!(session.calls(), 2);
        assert!(service.session().call(LlmRequest::infer("d")).is_ok(), "a new session, a new budget");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn cancelled_tickets_are_never_delivered() {
        let (service, dir) = scripted(r#"response = [ { prompt = "x", answer = "X", delay_ms = 30 } ]"#);
        let mut session = service.session();
        let a = session.submit(LlmRequest::infer("x"));
        let b = session.submit(LlmRequest::infer("x"));
        assert!(session.cancel(a));
        assert!(!session.cancel(a));
        assert_eq!(session.wait_next(None).unwrap().ticket, b);
        assert!(session.wait_next(None).is_none());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn adapter_none_says_how_to_configure_a_provider() {
        let mut cfg = LlmConfig::new(AdapterKind::None);
        cfg.cache_dir = std::env::temp_dir().join("omega-llm-test-none");
        let service = LlmService::new(&cfg).unwrap();
        let err = service.session().call(LlmRequest::new("int.op", "hi")).unwrap_err();
        assert_eq!(err.kind, LlmErrorKind::NotConfigured);
        assert_eq!(
            err.message,
            "int.op: no LLM provider configured; set OPENAI_API_KEY or OPENAI_BASE_URL, ANTHROPIC_API_KEY, or OMEGA_ADAPTER=scripted with OMEGA_SCRIPT"
        );
    }

    #[test]
    fn the_service_is_shareable() {
        fn assert_send_sync<T: Send + Sync>() {}
        fn assert_send<T: Send>() {}
        assert_send_sync::<LlmService>();
        assert_send::<LlmSession>();
    }

    #[test]
    fn traces_follow_the_meaning_format() {
        let meta = AnswerMeta {
            adapter: "openai".into(),
            model: "gpt-4o".into(),
            base_url: None,
            latency: Duration::ZERO,
            tokens_in: None,
            tokens_out: None,
            cached: true,
            scripted: false,
            confidence: None,
            retries: 0,
        };
        assert_eq!(meta.trace(), "openai:gpt-4o (cached)");
    }
}
