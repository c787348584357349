//! Evaluation of buffers: one worker thread per file owns that file's `Session` (a session is
//! not `Send`), takes jobs in order and reports what happens as [`RunEvent`]s over a channel.
//!
//! The worker never touches protocol types: events carry byte spans of the text it ran, and
//! the server maps them onto the current document. A run is stopped through its session's
//! `CancelToken`; the machine then drops its LLM requests, which closes their connections.

use std::ops::ControlFlow;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;

use omega_eval::error::{Error, ErrorKind, Loc, StackFrame};
use omega_eval::memory::MEMORY_FLAG_HINT;
use omega_eval::printer::write_string;
use omega_eval::value::Value;
use omega_eval::Output;
use omega_eval::Session;
use omega_eval::{CancelToken, Limits, LlmEvent, LlmPort, LlmWork};
use omega_llm::config::LlmConfig;
use omega_llm::port::{PortEvent, ServicePort};
use omega_llm::standin::{AnswerCounts, StandInPort};
use omega_llm::LlmService;
use omega_syntax::syntax::Span;

use crate::settings::Settings;

/// What to run.
#[derive(Clone, Debug)]
pub enum Target {
    /// The whole text, in a fresh session.
    File,
    /// The top-level form at this byte offset, in the session the last run left.
    Form(usize),
    /// The whole text in a fresh session under schedule `seed`, with the answers an
    /// exploration gives (cached or scripted, else stand-ins; never a provider call), so the
    /// run takes the interleaving the exploration saw (`omega.replay`).
    Replay(u64),
}

impl Target {
    /// Runs the whole text in a fresh session.
    pub fn whole_file(&self) -> bool {
        !matches!(self, Target::Form(_))
    }
}

/// One run request for a file.
pub struct Job {
    pub id: u64,
    pub name: String,
    /// The file's path, where `omega.toml` is looked for.
    pub path: Option<PathBuf>,
    pub text: Arc<str>,
    pub target: Target,
    pub settings: Settings,
    /// Fault injection for tests: the run panics (see `OMEGA_LSP_PANIC_IN`).
    pub inject_panic: bool,
}

/// A finished LLM call's facts, for the hint and its tooltip.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    pub text: String,
    pub model: String,
    pub latency: Duration,
    pub tokens_in: Option<u32>,
    pub tokens_out: Option<u32>,
    pub cached: bool,
}

/// A place that explains an evaluation error, in the run's text.
#[derive(Clone, Debug, PartialEq)]
pub struct Place {
    pub span: Span,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    pub span: Span,
    pub message: String,
    pub llm: bool,
    pub related: Vec<Place>,
    /// A deadlock: where each task on the cycle is blocked (`task 2 waits for NAME`).
    pub blocked: Vec<Place>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunState {
    Done,
    Cancelled,
    Failed,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Done => "done",
            RunState::Cancelled => "cancelled",
            RunState::Failed => "failed",
        }
    }
}

/// What a worker reports, tagged with the job it belongs to.
#[derive(Debug)]
pub enum RunEvent {
    Started {
        job: u64,
    },
    LlmSent {
        job: u64,
        span: Span,
    },
    LlmAnswered {
        job: u64,
        span: Span,
        result: Result<Answer, String>,
    },
    LlmDropped {
        job: u64,
        span: Span,
    },
    Form {
        job: u64,
        span: Span,
        result: Result<String, Failure>,
    },
    Output {
        job: u64,
        text: String,
    },
    Finished {
        job: u64,
        state: RunState,
        elapsed: Duration,
    },
    /// The job could not start (configuration) or panicked.
    Broken {
        job: u64,
        message: String,
        panicked: bool,
    },
}

/// Cancels the current job of a worker and any job up to a given id, from any thread.
#[derive(Default)]
struct Control {
    cancelled_upto: u64,
    current: Option<(u64, CancelToken)>,
}

/// The handle the server keeps for one file's worker.
pub struct Worker {
    jobs: mpsc::Sender<Job>,
    control: Arc<Mutex<Control>>,
}

impl Worker {
    /// Starts the worker thread; it ends when the handle is dropped.
    pub fn spawn(events: UnboundedSender<RunEvent>) -> std::io::Result<Worker> {
        let (jobs, rx) = mpsc::channel::<Job>();
        let control = Arc::new(Mutex::new(Control::default()));
        let ctl = control.clone();
        // Expansion of deeply nested source recurses: give it the stack the command line gives.
        std::thread::Builder::new().name("omega-eval".into()).stack_size(256 << 20).spawn(move || {
            let mut kept: Option<Session> = None;
            while let Ok(job) = rx.recv() {
                let id = job.id;
                let outcome = catch_unwind(AssertUnwindSafe(|| run_job(job, &mut kept, &ctl, &events)));
                ctl.lock().unwrap_or_else(|e| e.into_inner()).current = None;
                if let Err(panic) = outcome {
                    kept = None;
                    let message = panic_message(&*panic);
                    let _ = events.send(RunEvent::Broken { job: id, message, panicked: true });
                }
            }
        })?;
        Ok(Worker { jobs, control })
    }

    pub fn submit(&self, job: Job) -> bool {
        self.jobs.send(job).is_ok()
    }

    /// Cancels every job with an id up to `upto`, the running one included.
    pub fn cancel_upto(&self, upto: u64) {
        let mut c = self.control.lock().unwrap_or_else(|e| e.into_inner());
        c.cancelled_upto = c.cancelled_upto.max(upto);
        if let Some((id, token)) = &c.current {
            if *id <= upto {
                token.cancel();
            }
        }
    }
}

pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// Program output, forwarded as it is written.
struct Forward {
    job: u64,
    events: UnboundedSender<RunEvent>,
}

impl Output for Forward {
    fn write_str(&mut self, text: &str) {
        if !text.is_empty() {
            let _ = self.events.send(RunEvent::Output { job: self.job, text: text.to_string() });
        }
    }
}

/// Builds a session as the command line does: configuration → LLM service → port → session,
/// with the port's events forwarded for calls made from source `source`.
fn new_session(job: &Job, events: &UnboundedSender<RunEvent>) -> Result<Session, String> {
    let overrides = job.settings.llm_overrides();
    let config = LlmConfig::resolve(job.path.as_deref(), &overrides).map_err(|e| e.to_string())?;
    let service = LlmService::new(&config).map_err(|e| e.message)?;
    if let Target::Replay(seed) = job.target {
        let port = StandInPort::new(service, seed, AnswerCounts::default());
        let port = Observed { inner: port, job: job.id, events: events.clone(), places: Default::default() };
        let out = Box::new(Forward { job: job.id, events: events.clone() });
        let mut session = Session::new(out, Box::new(port));
        session.set_limits(limits(&job.settings));
        session.set_schedule(seed);
        return Ok(session);
    }
    let mut port = ServicePort::new(service.session());
    let tx = events.clone();
    let job_id = job.id;
    port.observe(move |ev| {
        // Calls from the prelude have no place in the buffer.
        let span_of = |loc: Option<Loc>| loc.filter(|l| l.source != 0).map(|l| l.span);
        let event = match ev {
            PortEvent::Sent(work) => span_of(work.loc).map(|span| RunEvent::LlmSent { job: job_id, span }),
            PortEvent::Cancelled(work) => span_of(work.loc).map(|span| RunEvent::LlmDropped { job: job_id, span }),
            PortEvent::Finished(record) => span_of(record.work.loc).map(|span| {
                let result = match &record.result {
                    Ok(meta) => Ok(Answer {
                        text: record.text.clone().unwrap_or_default(),
                        model: if meta.scripted {
                            "scripted".into()
                        } else {
                            format!("{}:{}", meta.adapter, meta.model)
                        },
                        latency: meta.latency,
                        tokens_in: meta.tokens_in,
                        tokens_out: meta.tokens_out,
                        cached: meta.cached,
                    }),
                    Err(message) => Err(message.clone()),
                };
                RunEvent::LlmAnswered { job: job_id, span, result }
            }),
        };
        if let Some(event) = event {
            let _ = tx.send(event);
        }
    });
    let out = Box::new(Forward { job: job.id, events: events.clone() });
    let mut session = Session::new(out, Box::new(port));
    session.set_limits(limits(&job.settings));
    Ok(session)
}

fn limits(settings: &Settings) -> Limits {
    Limits {
        max_steps: Some(settings.steps),
        timeout_secs: Some(settings.timeout_secs),
        memory: Some(settings.memory_mb.saturating_mul(1 << 20)),
        ..Limits::default()
    }
}

/// A port that tells the server when calls are sent and answered, as `ServicePort::observe`
/// does, around a port without observers (the stand-in answers of a replay).
struct Observed<P> {
    inner: P,
    job: u64,
    events: UnboundedSender<RunEvent>,
    /// Where each request in flight was made, in the buffer.
    places: std::collections::HashMap<u64, Span>,
}

impl<P: LlmPort> LlmPort for Observed<P> {
    fn submit(&mut self, id: u64, work: &LlmWork) {
        // Calls from the prelude have no place in the buffer.
        if let Some(span) = work.loc.filter(|l| l.source != 0).map(|l| l.span) {
            self.places.insert(id, span);
            let _ = self.events.send(RunEvent::LlmSent { job: self.job, span });
        }
        self.inner.submit(id, work);
    }

    fn cancel(&mut self, id: u64) {
        if let Some(span) = self.places.remove(&id) {
            let _ = self.events.send(RunEvent::LlmDropped { job: self.job, span });
        }
        self.inner.cancel(id);
    }

    fn next(&mut self, timeout: Option<Duration>) -> Option<LlmEvent> {
        let event = self.inner.next(timeout)?;
        if let Some(span) = self.places.remove(&event.id) {
            let result = match &event.result {
                Ok(reply) => Ok(Answer {
                    text: reply.text.clone(),
                    model: reply.trace.clone(),
                    latency: Duration::ZERO,
                    tokens_in: None,
                    tokens_out: None,
                    cached: reply.trace.contains("cached"),
                }),
                Err(message) => Err(message.clone()),
            };
            let _ = self.events.send(RunEvent::LlmAnswered { job: self.job, span, result });
        }
        Some(event)
    }

    fn start_run(&mut self) {
        self.inner.start_run();
    }
}

fn run_job(job: Job, kept: &mut Option<Session>, control: &Mutex<Control>, events: &UnboundedSender<RunEvent>) {
    let started = Instant::now();
    let id = job.id;
    let _ = events.send(RunEvent::Started { job: id });
    if job.inject_panic {
        panic!("injected fault in a run (OMEGA_LSP_PANIC_IN)");
    }
    let fresh = job.target.whole_file() || kept.is_none();
    if fresh {
        *kept = None;
        match new_session(&job, events) {
            Ok(s) => *kept = Some(s),
            Err(message) => {
                let _ = events.send(RunEvent::Broken { job: id, message, panicked: false });
                return;
            }
        }
    }
    let session = kept.as_mut().expect("a session was just made");
    {
        let mut c = control.lock().unwrap_or_else(|e| e.into_inner());
        let token = session.cancel_token();
        token.reset();
        if id <= c.cancelled_upto {
            token.cancel();
        }
        c.current = Some((id, token));
    }
    let mut state = RunState::Done;
    let mut emit = |source: u32, span: Span, result: Result<Value, Error>| -> ControlFlow<()> {
        match result {
            // Forms run for their effect (`display`, `set!`) show nothing.
            Ok(Value::Unspecified) => ControlFlow::Continue(()),
            Ok(v) => {
                let _ = events.send(RunEvent::Form { job: id, span, result: Ok(write_string(&v)) });
                ControlFlow::Continue(())
            }
            Err(e) => {
                state = match e.kind {
                    ErrorKind::Cancelled => RunState::Cancelled,
                    _ => RunState::Failed,
                };
                if e.kind != ErrorKind::Cancelled && !matches!(e.kind, ErrorKind::Exit(0)) {
                    let failure = failure(source, span, &e);
                    let _ = events.send(RunEvent::Form { job: id, span, result: Err(failure) });
                }
                ControlFlow::Break(())
            }
        }
    };
    match job.target {
        Target::File | Target::Replay(_) => {
            let outcome = session.run_source(&job.name, &job.text, |_, r| emit(r.source, r.span, r.result));
            if outcome.is_err() {
                // Reader errors: the analysis already shows them; nothing ran.
                state = RunState::Failed;
            }
        }
        Target::Form(offset) => {
            let parsed = omega_syntax::reader::read(&job.text);
            let source = session.add_source(&job.name, &job.text);
            match parsed.data.iter().find(|d| d.span.start as usize <= offset && offset <= d.span.end as usize) {
                Some(form) => {
                    let span = form.span;
                    let result = session.eval_form(source, form);
                    let _ = emit(source, span, result);
                }
                None => state = RunState::Failed,
            }
        }
    }
    let _ = events.send(RunEvent::Finished { job: id, state, elapsed: started.elapsed() });
}

/// An evaluation error as a failure at the innermost place in this source, with the call
/// stack and other tasks' places as related places.
fn failure(source: u32, form: Span, e: &Error) -> Failure {
    let here = |loc: Option<Loc>| loc.filter(|l| l.source == source).map(|l| l.span);
    let span = here(e.loc).unwrap_or(form);
    let mut related = Vec::new();
    // Each frame: the procedure and the call in it that is running (the innermost one is
    // the failing place itself).
    let stack = |related: &mut Vec<Place>, frames: &[StackFrame], who: &str| {
        for f in frames {
            if let Some(at) = here(f.loc).filter(|at| *at != span) {
                related.push(Place { span: at, message: format!("{who}in `{}`", f.name) });
            }
        }
    };
    stack(&mut related, &e.stack, "");
    for r in &e.related {
        if let Some(span) = here(r.loc) {
            related.push(Place { span, message: r.message.clone() });
        }
        stack(&mut related, &r.stack, "that task: ");
    }
    let blocked = if e.kind == ErrorKind::Deadlock {
        let blocked = omega_explore::blocked_places(e, here);
        blocked.iter().map(|b| Place { span: b.span, message: b.label() }).collect()
    } else {
        Vec::new()
    };
    let message = match e.kind {
        ErrorKind::Budget => {
            // The core names the command line's flag; in the editor the knob is a setting.
            let (message, setting) = match e.message.strip_suffix(MEMORY_FLAG_HINT) {
                Some(m) => (m, "`omega.limits.memoryMb`"),
                None => (e.message.as_str(), "`omega.limits.steps` or `omega.limits.timeoutSecs`"),
            };
            format!("{message} (the run's budget; raise {setting} to allow more)")
        }
        _ => e.message.clone(),
    };
    Failure { span, message, llm: e.kind == ErrorKind::Llm, related, blocked }
}
