//! The machine: runs compiled procedures with the continuation on the heap.
//!
//! Each task (the main program, or one branch of a `parallel`) owns a value stack and a
//! frame stack, both plain vectors. Nothing recurses on the host stack, so deep recursion
//! works, and evaluation can stop at any instruction and resume later: at an LLM call, a
//! busy serializer or a join. `run.rs` holds the instruction loop, `call.rs` procedure
//! calls and returns, `effects.rs` handlers and continuations, `sched.rs` tasks and locks.

mod call;
pub mod code;
mod effects;
pub mod pct;
mod races;
#[cfg(test)]
mod returns_tests;
mod run;
mod sched;

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

pub use call::{arity_text, MACHINE_PRIMITIVES};
pub use effects::prompt_text;
pub use races::{RaceAccess, RaceReport};
pub use sched::{LlmEvent, LlmPort, LlmReply, LlmWork};

use crate::compile::{ExpandEnv, GlobalNames};
use crate::error::{Error, ErrorKind, Loc, StackFrame};
use crate::lock::{Lock, TaskId};
use crate::primitives::Ctx;
use crate::symbol::Symbol;
use crate::value::Value;
use code::Proto;

/// A procedure value: compiled code plus the values it captured.
pub struct Closure {
    pub proto: Rc<Proto>,
    pub captures: Box<[Value]>,
}

impl Closure {
    pub fn name(&self) -> Option<Symbol> {
        self.proto.name
    }
}

/// A captured piece of a task's continuation: frames and their stack values, relative to a
/// base of 0. Resuming copies them back, so a continuation can be resumed many times.
pub struct Continuation {
    frames: Vec<Frame>,
    stack: Vec<Value>,
    /// Set when the captured part holds a serializer: it can be resumed only once.
    one_shot: bool,
    used: Cell<bool>,
    /// For a continuation that crosses into a parallel task: the task and marker depth.
    cross: Option<(TaskId, usize)>,
}

/// The handlers installed by one `handle` form.
pub struct HandlerSet {
    /// (op, clause takes the argument list as one parameter, clause procedure).
    pub clauses: Vec<(Symbol, bool, Value)>,
    pub ret: Option<Value>,
}

/// One entry of a task's frame stack: 24 bytes, the size of a call frame, so that deep
/// recursion takes no more memory than it needs; the rarer frames that hold values keep them
/// in a box.
#[derive(Clone)]
pub enum Frame {
    /// A running procedure: its closure, the next instruction, and where its locals start.
    Call { closure: Rc<Closure>, pc: u32, fp: u32 },
    /// Where a program procedure, whose frame is gone, called the prelude procedure above in
    /// tail position: errors in the prelude point at that call. A later such call from the
    /// frame right above replaces it, so recursion through the prelude stays in constant space.
    TailFrom { closure: Rc<Closure>, pc: u32 },
    /// A `handle` form's handlers; `base` is the stack height when it was installed.
    Handler { set: Rc<HandlerSet>, base: u32 },
    /// Releases `lock` when the serialized call below returns or unwinds (`held` is false
    /// while the task still waits for it).
    Release { lock: Rc<Lock>, held: bool },
    /// A `guard` form: catches errors raised above it.
    Guard { handler: Box<Value>, base: u32 },
    /// `dynamic-wind`: calls `after` when the thunk above returns.
    WindAfter { after: Box<Value> },
    /// Delivers `value` when the `after` thunk above returns.
    ReturnValue { value: Box<Value> },
    /// Goes on raising `error` when the `after` thunk above returns.
    Reraise { error: Rc<Cell<Option<Error>>> },
    /// Stores the result of forcing `promise`.
    Force { promise: Box<Value>, force_result: bool },
    /// `(compose f g …)`: calls the remaining procedures on the value, right to left.
    Compose { procs: Rc<[Value]>, next: u32 },
    /// The bottom of a parallel task: calls the value if it is a procedure of no arguments.
    TaskEntry,
    /// `dynamic-wind` after `before` returned: calls `thunk`, then `after`.
    ThenWind { thunk_after: Box<[Value; 2]> },
    /// Marks where a cross-task handler clause runs; resuming its continuation cuts back here.
    /// A clause that returns instead aborts to the handler: frame `depth` of task `owner`.
    CrossResume { owner: TaskId, depth: u32 },
    /// Under a handler clause whose continuation holds serializers or dynamic-wind extents: if
    /// the clause returns or fails without resuming it (a handler abort), the after-thunks run
    /// and the serializers are released, innermost first; holding serializers, it cannot resume.
    AbortRelease { k: Rc<Continuation> },
}

// Frames that hold more than a call frame's closure and two numbers box it (see `Frame`).
const _: () = assert!(std::mem::size_of::<Frame>() == 24);

/// Limits on one evaluation.
#[derive(Clone, Debug)]
pub struct Limits {
    pub max_steps: Option<u64>,
    /// Set from `timeout_secs` when a run starts (`Machine::start_budget`).
    pub deadline: Option<Instant>,
    /// Seconds, for the message.
    pub timeout_secs: Option<f64>,
    pub max_depth: usize,
    /// Bytes a run may hold (`--max-memory`); `None` for no limit.
    pub memory: Option<u64>,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_steps: None,
            deadline: None,
            timeout_secs: None,
            max_depth: 10_000_000,
            memory: Some(crate::memory::DEFAULT_MEMORY_LIMIT),
        }
    }
}

/// The longest timeout accepted (about 115 days): beyond it a deadline is no limit at all,
/// and durations that large overflow the clock.
pub const MAX_TIMEOUT_SECS: f64 = 1e7;

/// Checks a timeout in seconds: a positive, finite number up to [`MAX_TIMEOUT_SECS`].
pub fn check_timeout(secs: f64) -> Result<std::time::Duration, String> {
    if secs.is_finite() && secs > 0.0 && secs <= MAX_TIMEOUT_SECS {
        Ok(std::time::Duration::from_secs_f64(secs))
    } else {
        Err(format!("a timeout must be a positive number of seconds, at most {MAX_TIMEOUT_SECS}; got {secs}"))
    }
}

/// Stops an evaluation from another thread.
#[derive(Clone, Debug, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed)
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
    pub fn reset(&self) {
        self.0.store(false, Ordering::Relaxed)
    }
}

/// How often (in steps) the clock and the cancel flag are looked at.
const CHECK_EVERY: u64 = 4096;

pub struct Machine {
    pub globals: Vec<Value>,
    pub global_names: GlobalNames,
    pub expand_env: ExpandEnv,
    pub ctx: Ctx,
    pub limits: Limits,
    pub cancel: CancelToken,
    /// Steps (calls and backward jumps) since the evaluation started.
    pub steps: u64,
    next_check: u64,
    /// The running task's stacks.
    stack: Vec<Value>,
    frames: Vec<Frame>,
    sched: sched::Scheduler,
    /// Where a call in tail position was made, while its frame is already gone.
    tail_site: Option<Loc>,
    /// The name and frame index of the procedure that made that call, and its task, to show it
    /// in the call stack of an error raised by the primitive it called.
    tail_caller: Option<(Option<Symbol>, usize, TaskId)>,
    /// Where the last `eval` was called: the place of errors in code it compiled when no
    /// frame of program code is left to name one (an `eval` in tail position).
    eval_site: Option<Loc>,
    /// The original built-ins behind `Op::Builtin`, by `Fast` number.
    fast: [Option<&'static crate::value::Primitive>; 16],
    /// Accesses to shared state and the data races among them, when observed (`omega explore`).
    races: Option<Box<races::RaceLog>>,
}

/// What the instruction loop stopped for.
enum Flow {
    /// Keep running the top frame.
    Continue,
    /// The task's last frame returned this value.
    Done(Value),
    /// The task must wait.
    Suspend(sched::Wait),
}

impl Machine {
    pub fn new(ctx: Ctx) -> Machine {
        Machine {
            globals: Vec::new(),
            global_names: GlobalNames::default(),
            expand_env: ExpandEnv::default(),
            ctx,
            limits: Limits::default(),
            cancel: CancelToken::default(),
            steps: 0,
            next_check: CHECK_EVERY,
            stack: Vec::new(),
            frames: Vec::new(),
            sched: sched::Scheduler::default(),
            tail_site: None,
            tail_caller: None,
            eval_site: None,
            fast: code::Fast::ALL.map(|op| crate::primitives::all().find(|p| p.name == op.name())),
            races: None,
        }
    }

    /// Starts a new evaluation: step count and deadline start again from its limits.
    pub fn start_budget(&mut self) {
        self.steps = 0;
        self.ctx.budget.start(self.limits.memory);
        self.next_check = CHECK_EVERY;
        // A timeout out of range (checked by hosts, see `check_timeout`) sets no deadline.
        self.limits.deadline =
            self.limits.timeout_secs.and_then(|secs| Instant::now().checked_add(check_timeout(secs).ok()?));
        self.ctx.budget.watch(self.limits.deadline, self.limits.timeout_secs, self.cancel.clone());
    }

    /// Switches to the seeded scheduler (docs/language.md §8.5).
    pub fn set_schedule(&mut self, seed: u64) {
        self.sched.seed = Some(seed);
        self.sched.pct = pct::Pct::from_seed(seed);
        self.ctx.rng = seed;
    }

    /// Sets global `name` (a built-in or prelude definition).
    pub fn define_global(&mut self, name: Symbol, value: Value) {
        let id = self.global_names.id(name) as usize;
        self.sync_globals();
        self.globals[id] = value;
    }

    /// Scheduling decisions the seeded scheduler has made in this session.
    pub fn schedule_decisions(&self) -> u64 {
        self.sched.decisions
    }

    pub fn global(&self, name: Symbol) -> Option<&Value> {
        let id = *self.global_names.ids.get(&name)? as usize;
        self.globals.get(id).filter(|v| !matches!(v, Value::Undefined))
    }

    /// Makes room for globals that compilation introduced.
    fn sync_globals(&mut self) {
        let n = self.global_names.names.len();
        if self.globals.len() < n {
            self.globals.resize(n, Value::Undefined);
        }
    }

    /// Runs a compiled top-level form to completion (all its tasks, LLM calls, waits).
    pub fn run_toplevel(&mut self, proto: Rc<Proto>, llm: &mut dyn LlmPort) -> Result<Value, Error> {
        self.sync_globals();
        let closure = Rc::new(Closure { proto, captures: Box::new([]) });
        self.eval_site = None;
        let result = self.run_main(closure, llm);
        self.sched.reset();
        self.stack.clear();
        self.frames.clear();
        result
    }

    /// Error for an unbound global, with a hint for names from other Lisps.
    fn unbound(&self, g: u32) -> Error {
        let name = self.global_names.names[g as usize].as_str();
        let hint = if matches!(name, "true" | "false" | "nil") { " (use #t, #f or '())" } else { "" };
        Error::new(format!("unbound variable: {name}{hint}"))
    }

    /// Counts a step and, now and then, checks the budgets and the cancel flag.
    #[inline]
    fn tick(&mut self) -> Result<(), Error> {
        self.steps += 1;
        if self.steps >= self.next_check {
            self.check_limits()?;
        }
        Ok(())
    }

    /// Adds the work the last primitive did (`iota`, `append` …) to the step count.
    #[inline]
    fn collect_work(&mut self) -> Result<(), Error> {
        if self.ctx.budget.work > 0 {
            self.steps = self.steps.saturating_add(std::mem::take(&mut self.ctx.budget.work));
            if self.steps >= self.next_check {
                self.check_limits()?;
            }
        }
        Ok(())
    }

    #[cold]
    fn check_limits(&mut self) -> Result<(), Error> {
        self.next_check = self.steps + CHECK_EVERY;
        if let Some(max) = self.limits.max_steps {
            if self.steps > max {
                return Err(Error::with_kind(ErrorKind::Budget, format!("step limit exceeded ({max} steps)")));
            }
            self.next_check = self.next_check.min(max + 1);
        }
        self.ctx.budget.reserve(0).map_err(|mut e| {
            // Runaway recursion usually meets the memory limit before the depth limit.
            if self.frames.len() > 100_000 {
                e.message.push_str(&format!("; the recursion is {} frames deep", self.frames.len()));
            }
            e
        })?;
        self.check_clock()
    }

    fn check_clock(&self) -> Result<(), Error> {
        if self.cancel.is_cancelled() {
            return Err(Error::with_kind(ErrorKind::Cancelled, "evaluation cancelled"));
        }
        if let Some(deadline) = self.limits.deadline {
            if Instant::now() >= deadline {
                let secs = self.limits.timeout_secs.unwrap_or(0.0);
                return Err(Error::with_kind(ErrorKind::Budget, format!("timeout after {secs} s")));
            }
        }
        Ok(())
    }

    /// Fills in where an error happened and the Omega call stack, from the running frames.
    fn locate(&mut self, e: &mut Error) {
        let caller = self.tail_caller.take();
        let mut tail_frame = None;
        if let Some(site) = self.tail_site.take().filter(|site| site.source != EVAL_SOURCE) {
            e.loc.get_or_insert(site);
            let here = self.sched.current;
            tail_frame = caller.filter(|c| c.2 == here).map(|(name, depth, _)| (name, depth, site));
        }
        if !e.stack.is_empty() {
            return;
        }
        let main = self.sched.current == 0;
        let (loc, mut stack) = call_stack(&self.frames, main);
        // The caller's frame went before the primitive it called in tail position raised this
        // error: put it back where it was.
        // (In the main task only: a task's error is shown with its parent's stack, where the
        // `parallel` is.)
        let shown = |depth: usize| main && depth <= self.frames.len();
        if let Some((name, depth, site)) = tail_frame.filter(|(_, depth, _)| shown(*depth)) {
            let inner = self.frames[depth..]
                .iter()
                .filter(|f| matches!(f, Frame::Call { closure, .. } if !closure.proto.hidden))
                .count();
            let name = match name {
                Some(n) => n.as_str().to_string(),
                None if depth == 0 && main => "<top level>".to_string(),
                None => "<lambda>".to_string(),
            };
            stack.insert(inner.min(stack.len()), StackFrame { name, loc: Some(site) });
        }
        e.loc = e.loc.or(loc).or(self.eval_site);
        e.stack = stack;
    }
}

/// The source id of code compiled by `eval`: it has no text of its own, so errors in it are
/// placed at the `eval` call that ran it.
pub(crate) const EVAL_SOURCE: u32 = u32::MAX;

/// Where a task is (its innermost frame of program code) and its Omega call stack,
/// innermost first. Prelude frames are left out; a runaway recursion with millions of frames
/// shows the innermost and outermost ones. Only the main task's outermost frame is the top
/// level; another task's is the procedure it was started with.
pub(super) fn call_stack(frames: &[Frame], main: bool) -> (Option<Loc>, Vec<StackFrame>) {
    const INNERMOST: usize = 40;
    const OUTERMOST: usize = 10;
    let shown = frames
        .iter()
        .filter(|f| matches!(f, Frame::Call { closure, .. } | Frame::TailFrom { closure, .. } if !closure.proto.hidden))
        .count();
    let mut stack = Vec::new();
    let mut here = None;
    let mut index = 0;
    for (depth, f) in frames.iter().enumerate().rev() {
        let (Frame::Call { closure, pc, .. } | Frame::TailFrom { closure, pc }) = f else { continue };
        let proto = &closure.proto;
        if proto.hidden {
            continue;
        }
        index += 1;
        if shown > INNERMOST + OUTERMOST && index > INNERMOST && index <= shown - OUTERMOST {
            if index == INNERMOST + 1 {
                let name = format!("… {} more frames", shown - INNERMOST - OUTERMOST);
                stack.push(StackFrame { name, loc: None });
            }
            continue;
        }
        let at = (*pc as usize).saturating_sub(1).min(proto.spans.len().saturating_sub(1));
        let from_eval = proto.source == EVAL_SOURCE;
        let loc = proto.spans.get(at).map(|&span| Loc { source: proto.source, span }).filter(|_| !from_eval);
        if here.is_none() {
            here = loc;
        }
        let name = match proto.name {
            Some(n) => n.as_str().to_string(),
            None if from_eval => "<eval>".to_string(),
            None if depth == 0 && main => "<top level>".to_string(),
            None => "<lambda>".to_string(),
        };
        stack.push(StackFrame { name, loc });
    }
    (here, stack)
}
