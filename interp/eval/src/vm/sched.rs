//! Tasks and scheduling: `parallel` children, serializers and mutexes, LLM requests in
//! flight, and the wait-for graph that turns a deadlock into an error.
//!
//! All tasks run on this one thread. A task runs until a scheduling point (docs/language.md
//! §8.5): an LLM request, a busy lock, a join, its end, or `yield`. Then the next ready
//! task runs; when none is ready, the machine blocks on the LLM port.

use std::cell::Cell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::effects::ChoicePoint;
use super::{Flow, Frame, HandlerSet, Machine};
use crate::error::{Error, ErrorKind, Loc, LockKind, Related, WaitCycle, WaitStep, Waited};
use crate::lock::{Lock, TaskId};
use crate::symbol::Symbol;
use crate::value::{Object, Value};

/// One LLM request a task waits for.
#[derive(Clone, Debug)]
pub struct LlmWork {
    pub op: &'static str,
    pub prompt: String,
    /// Sample index (`search.op`), part of the cache key.
    pub sample: u32,
    /// The `effect` form that asked.
    pub loc: Option<Loc>,
}

/// A successful answer as the language sees it.
#[derive(Clone, Debug)]
pub struct LlmReply {
    pub text: String,
    /// `scripted`, `openai:gpt-4o` …, with ` (cached)` on cache hits.
    pub trace: String,
    pub confidence: Option<f64>,
}

/// What the port reports.
#[derive(Debug)]
pub struct LlmEvent {
    pub id: u64,
    pub result: Result<LlmReply, String>,
}

/// How the machine reaches LLM providers without blocking: requests go out, answers come
/// back in completion order. Implemented over the LLM service (and by tests).
pub trait LlmPort {
    fn submit(&mut self, id: u64, work: &LlmWork);
    /// Drops a request nobody waits for any more.
    fn cancel(&mut self, id: u64);
    /// The next finished request, waiting at most `timeout` (`None`: until one finishes).
    fn next(&mut self, timeout: Option<Duration>) -> Option<LlmEvent>;
    /// A new run (a file, a REPL input, a buffer) starts: per-run budgets start again.
    fn start_run(&mut self) {}
}

/// Why a task stopped running.
pub(super) enum Wait {
    /// Waits for these requests.
    Llm(Vec<LlmWork>),
    /// Waits for a lock another task holds; on grant, calls the serialized procedure at
    /// `callee` with `argc` arguments (`None` for `mutex-acquire`).
    Lock {
        lock: Rc<Lock>,
        call: Option<(usize, usize)>,
        loc: Option<Loc>,
    },
    /// Joins its children.
    Join,
    Yield,
    /// A scheduling point of the seeded scheduler: the instruction at the saved position runs
    /// again when the task resumes.
    Retry,
    /// A scheduling point of the seeded scheduler after taking an uncontended lock.
    Acquired {
        call: Option<(usize, usize)>,
    },
    /// A handler clause for an effect of this task returned without resuming: cancel the
    /// tasks under the handler (frame `depth` of task `owner`) and return `value` from it.
    AbortTo {
        owner: TaskId,
        depth: usize,
        value: Value,
    },
}

/// What to do when a task next runs.
enum Resume {
    /// A new child: call `proc` with `args`.
    Start {
        proc: Value,
        args: Vec<Value>,
    },
    Deliver(Value),
    Raise(Error),
    /// Run the `dynamic-wind` after-thunks of cancelled tasks (innermost first), then raise
    /// the error or deliver the value.
    AfterThunks {
        afters: Vec<Value>,
        then: Result<Value, Error>,
    },
    /// A lock was handed over: make the pending call, or just go on.
    Granted {
        call: Option<(usize, usize)>,
    },
    /// Go on where the task stopped.
    Continue,
    /// Run the instruction the task stopped before.
    Retry,
}

enum State {
    Ready,
    Running,
    WaitLlm {
        ids: Vec<u64>,
        replies: Vec<Option<LlmReply>>,
        op: &'static str,
    },
    Blocked {
        lock: Rc<Lock>,
        call: Option<(usize, usize)>,
        loc: Option<Loc>,
    },
    /// `remaining` counts the children still running, so a join of n tasks costs O(n).
    Joining {
        children: Vec<TaskId>,
        results: Vec<Option<Value>>,
        remaining: usize,
        what: &'static str,
    },
    Finished,
}

struct Task {
    label: String,
    /// `[]` for main, `[1]` for task 1, `[1, 2]` for task 1.2: the seeded scheduler's order.
    path: Vec<u32>,
    parent: Option<TaskId>,
    /// 1-based position among its siblings.
    index: usize,
    stack: Vec<Value>,
    frames: Vec<Frame>,
    choices: Vec<ChoicePoint>,
    state: State,
    resume: Option<Resume>,
    children_made: usize,
}

/// The most tasks of one run alive at once, and the deepest nesting of `parallel` inside
/// `parallel`: a program past them is almost surely runaway recursion, and each task costs
/// memory and scheduling work.
pub const MAX_LIVE_TASKS: usize = 250_000;
pub const MAX_TASK_NESTING: usize = 1_000;

/// Memory one task takes besides its stacks, for the budget check before spawning.
const TASK_BYTES: usize = std::mem::size_of::<Task>() + 64;

#[derive(Default)]
pub(super) struct Scheduler {
    tasks: Vec<Task>,
    /// Tasks started and not yet finished or cancelled (main included).
    live: usize,
    ready: VecDeque<TaskId>,
    pub current: TaskId,
    pub choices: Vec<ChoicePoint>,
    next_request: u64,
    /// Request id → (task, position among its requests).
    requests: std::collections::HashMap<u64, (TaskId, usize)>,
    /// `--schedule SEED`: the SplitMix64 state of the seeded scheduler.
    pub seed: Option<u64>,
    /// The running task resumed to run the instruction it stopped before.
    pub retrying: bool,
    /// PCT instead of uniform choice, when the seed says so.
    pub pct: Option<super::pct::Pct>,
    /// Scheduling decisions made by the seeded scheduler, over the whole session.
    pub decisions: u64,
    /// A handler abort the running task asked for, carried out once it is switched out.
    abort: Option<(TaskId, usize, Value)>,
}

impl Scheduler {
    pub fn reset(&mut self) {
        let mut pct = self.pct.take();
        if let Some(p) = &mut pct {
            p.restart();
        }
        *self = Scheduler {
            next_request: self.next_request,
            seed: self.seed,
            pct,
            decisions: self.decisions,
            ..Scheduler::default()
        };
    }

    fn label(&self, t: TaskId) -> &str {
        &self.tasks[t as usize].label
    }

    /// A handler for `op` around the `parallel` that started the running task (or an
    /// ancestor of it).
    /// Also says where it is: the task and the frame's index.
    pub fn inherited_handler(&self, op: Symbol) -> Option<(Rc<HandlerSet>, TaskId, usize)> {
        let mut t = self.tasks.get(self.current as usize)?.parent;
        while let Some(p) = t {
            let task = &self.tasks[p as usize];
            for (depth, f) in task.frames.iter().enumerate().rev() {
                if let Frame::Handler { set, .. } = f {
                    if set.clauses.iter().any(|c| c.0 == op) {
                        return Some((set.clone(), p, depth));
                    }
                }
            }
            t = task.parent;
        }
        None
    }
}

impl Machine {
    /// Runs `closure` as the main task, and every task it starts, to the end.
    pub(super) fn run_main(&mut self, closure: Rc<super::Closure>, llm: &mut dyn LlmPort) -> Result<Value, Error> {
        self.sched.reset();
        if let Some(races) = &mut self.races {
            races.restart();
        }
        self.sched.tasks.push(Task {
            label: "main".into(),
            path: Vec::new(),
            parent: None,
            index: 0,
            stack: Vec::new(),
            frames: Vec::new(),
            choices: Vec::new(),
            state: State::Ready,
            resume: Some(Resume::Start { proc: Value::Closure(closure), args: vec![] }),
            children_made: 0,
        });
        self.sched.ready.push_back(0);
        self.sched.current = 0;
        self.sched.live = 1;
        loop {
            while let Some(ev) = llm.next(Some(Duration::ZERO)) {
                self.llm_done(ev, llm);
            }
            let next = match self.sched.seed {
                Some(_) => self.seeded_pick(llm),
                None => self.next_ready(),
            };
            if let Some(t) = next {
                if let Some(result) = self.run_task(t, llm) {
                    return result;
                }
                continue;
            }
            if let Err(e) = self.check_clock() {
                self.cancel_all(llm);
                return Err(self.at_a_waiting_call(e));
            }
            if !self.sched.requests.is_empty() {
                let timeout = self
                    .limits
                    .deadline
                    .map(|d| d.saturating_duration_since(Instant::now()))
                    .map_or(Duration::from_millis(100), |d| d.min(Duration::from_millis(100)));
                if let Some(ev) = llm.next(Some(timeout)) {
                    self.llm_done(ev, llm);
                }
                if let Err(e) = self.check_clock() {
                    self.cancel_all(llm);
                    return Err(self.at_a_waiting_call(e));
                }
                continue;
            }
            // Nothing can run and nothing is on its way: every live task is blocked.
            let blocked = (0..self.sched.tasks.len() as TaskId)
                .find(|&t| matches!(self.sched.tasks[t as usize].state, State::Blocked { .. }));
            match blocked {
                Some(t) => {
                    let task = &self.sched.tasks[t as usize];
                    let loc = match &task.state {
                        State::Blocked { loc, .. } => *loc,
                        _ => None,
                    };
                    let step = WaitStep { task: task.label.clone(), waits_for: Waited::Unreleased, loc };
                    self.wake(t, Resume::Raise(Error::deadlock(WaitCycle { steps: vec![step] })));
                }
                None => return Err(Error::new("internal: no task can run")),
            }
        }
    }

    /// Places a timeout that stopped the run while every task waited at the LLM call the
    /// first waiting task made, with that task's call stack.
    fn at_a_waiting_call(&self, mut e: Error) -> Error {
        let waiting = self.sched.tasks.iter().find(|t| matches!(t.state, State::WaitLlm { .. }));
        if let Some(task) = waiting.filter(|_| e.loc.is_none() && e.kind == ErrorKind::Budget) {
            let (loc, stack) = super::call_stack(&task.frames, task.parent.is_none());
            e.loc = loc;
            e.stack = stack;
            if task.parent.is_some() {
                e.message = format!("{} (while {} waited for an LLM answer)", e.message, task.label);
            }
        }
        e
    }

    /// The first task of the ready queue that still can run (cancelled ones are skipped
    /// here rather than searched for when cancelling, which would be quadratic).
    fn next_ready(&mut self) -> Option<TaskId> {
        while let Some(t) = self.sched.ready.pop_front() {
            if matches!(self.sched.tasks[t as usize].state, State::Ready) {
                return Some(t);
            }
        }
        None
    }

    /// The seeded scheduler's choice among the tasks that can run or wait only for an LLM
    /// answer, in task order; waits for the answer if the chosen task needs one.
    fn seeded_pick(&mut self, llm: &mut dyn LlmPort) -> Option<TaskId> {
        let mut candidates: Vec<TaskId> = (0..self.sched.tasks.len() as TaskId)
            .filter(|&t| matches!(self.sched.tasks[t as usize].state, State::Ready | State::WaitLlm { .. }))
            .collect();
        if candidates.is_empty() {
            return None;
        }
        candidates.sort_by(|a, b| self.sched.tasks[*a as usize].path.cmp(&self.sched.tasks[*b as usize].path));
        self.sched.decisions += 1;
        let pick = match &mut self.sched.pct {
            Some(pct) => pct.pick(&candidates),
            None => {
                let seed = self.sched.seed.as_mut().unwrap();
                candidates[(splitmix64(seed) % candidates.len() as u64) as usize]
            }
        };
        while matches!(self.sched.tasks[pick as usize].state, State::WaitLlm { .. }) {
            if let Some(ev) = llm.next(Some(Duration::from_millis(100))) {
                self.llm_done(ev, llm);
            }
            if self.check_clock().is_err() {
                return None;
            }
        }
        self.sched.ready.retain(|&r| r != pick);
        Some(pick)
    }

    /// Runs task `t` until it stops; `Some` when the main task has finished.
    fn run_task(&mut self, t: TaskId, llm: &mut dyn LlmPort) -> Option<Result<Value, Error>> {
        self.switch_to(t);
        let resume = self.sched.tasks[t as usize].resume.take().unwrap_or(Resume::Continue);
        let first = match resume {
            Resume::Start { proc, args } => self.call_value(proc, args),
            Resume::Deliver(v) => self.deliver(v),
            Resume::Raise(e) => Err(e),
            Resume::AfterThunks { afters, then } => {
                self.frames.push(match then {
                    Ok(value) => Frame::ReturnValue { value: Box::new(value) },
                    Err(error) => Frame::Reraise { error: Rc::new(Cell::new(Some(error))) },
                });
                self.frames.extend(afters.into_iter().rev().map(|after| Frame::WindAfter { after: Box::new(after) }));
                self.deliver(Value::Unspecified)
            }
            Resume::Granted { call } => self.granted(call),
            Resume::Continue => Ok(Flow::Continue),
            Resume::Retry => {
                self.sched.retrying = true;
                Ok(Flow::Continue)
            }
        };
        let outcome = match first {
            Ok(Flow::Continue) => self.execute(),
            Ok(flow) => Ok(flow),
            Err(mut e) => {
                self.locate(&mut e);
                match self.unwind(e) {
                    Ok(()) => self.execute(),
                    Err(e) => Err(e),
                }
            }
        };
        let outcome = match outcome {
            Ok(Flow::Suspend(w)) => match self.suspend(w, llm) {
                Ok(()) => None,
                Err(e) => Some(Err(e)),
            },
            Ok(Flow::Done(v)) => Some(Ok(v)),
            Ok(Flow::Continue) => unreachable!("execute never stops to continue"),
            Err(e) => Some(Err(e)),
        };
        self.switch_out();
        if let Some(abort) = self.sched.abort.take() {
            self.abort_to(abort, llm);
            return None;
        }
        let result = outcome?;
        self.sched.tasks[t as usize].state = State::Finished;
        self.sched.live = self.sched.live.saturating_sub(1);
        if t == 0 {
            if result.is_err() {
                self.cancel_all(llm);
            }
            return Some(result);
        }
        self.child_finished(t, result, llm);
        None
    }

    fn switch_to(&mut self, t: TaskId) {
        self.sched.current = t;
        let task = &mut self.sched.tasks[t as usize];
        self.ctx.out.task_switched(&task.label);
        task.state = State::Running;
        std::mem::swap(&mut self.stack, &mut task.stack);
        std::mem::swap(&mut self.frames, &mut task.frames);
        std::mem::swap(&mut self.sched.choices, &mut task.choices);
    }

    fn switch_out(&mut self) {
        let t = self.sched.current as usize;
        let task = &mut self.sched.tasks[t];
        std::mem::swap(&mut self.stack, &mut task.stack);
        std::mem::swap(&mut self.frames, &mut task.frames);
        std::mem::swap(&mut self.sched.choices, &mut task.choices);
    }

    fn wake(&mut self, t: TaskId, resume: Resume) {
        let task = &mut self.sched.tasks[t as usize];
        task.state = State::Ready;
        task.resume = Some(resume);
        self.sched.ready.push_back(t);
    }

    /// Records why the running task stopped; an immediate error (a deadlock) is raised in it.
    fn suspend(&mut self, w: Wait, llm: &mut dyn LlmPort) -> Result<(), Error> {
        let t = self.sched.current;
        let state = match w {
            Wait::Llm(work) => {
                let op = work[0].op;
                let mut ids = Vec::new();
                for (i, item) in work.iter().enumerate() {
                    let id = self.sched.next_request;
                    self.sched.next_request += 1;
                    self.sched.requests.insert(id, (t, i));
                    ids.push(id);
                    llm.submit(id, item);
                }
                State::WaitLlm { replies: vec![None; ids.len()], ids, op }
            }
            Wait::Lock { lock, call, loc } => State::Blocked { lock, call, loc },
            Wait::Join => return Ok(()),
            Wait::AbortTo { owner, depth, value } => {
                self.sched.abort = Some((owner, depth, value));
                return Ok(());
            }
            Wait::Yield | Wait::Retry | Wait::Acquired { .. } => {
                self.sched.tasks[t as usize].resume = Some(match w {
                    Wait::Retry => Resume::Retry,
                    Wait::Acquired { call } => Resume::Granted { call },
                    _ => Resume::Deliver(Value::Unspecified),
                });
                self.sched.ready.push_back(t);
                State::Ready
            }
        };
        self.sched.tasks[t as usize].state = state;
        Ok(())
    }

    fn llm_done(&mut self, ev: super::LlmEvent, llm: &mut dyn LlmPort) {
        let Some((t, i)) = self.sched.requests.remove(&ev.id) else { return };
        let State::WaitLlm { ids, replies, op } = &mut self.sched.tasks[t as usize].state else { return };
        match ev.result {
            Ok(reply) => {
                replies[i] = Some(reply);
                if replies.iter().all(Option::is_some) {
                    let replies: Vec<LlmReply> = replies.drain(..).map(Option::unwrap).collect();
                    let value = llm_value(op, replies);
                    self.wake(t, Resume::Deliver(value));
                }
            }
            Err(message) => {
                for id in ids.iter() {
                    if self.sched.requests.remove(id).is_some() {
                        llm.cancel(*id);
                    }
                }
                self.wake(t, Resume::Raise(Error::with_kind(ErrorKind::Llm, message)));
            }
        }
    }

    /// Starts one child task per `(procedure, arguments)` and makes the running task join them.
    pub(super) fn spawn(
        &mut self,
        starts: Vec<(Value, Vec<Value>)>,
        what: &'static str,
        call_thunks: bool,
    ) -> Result<Wait, Error> {
        let parent = self.sched.current;
        if starts.is_empty() {
            self.wake(parent, Resume::Deliver(Value::Null));
            return Ok(Wait::Join);
        }
        let n = starts.len();
        if self.sched.tasks[parent as usize].path.len() >= MAX_TASK_NESTING {
            let why = "a `parallel` that starts itself without end?";
            return Err(Error::with_kind(
                ErrorKind::Budget,
                format!("{what}: tasks nested more than {MAX_TASK_NESTING} deep ({why})"),
            ));
        }
        if self.sched.live + n > MAX_LIVE_TASKS {
            return Err(Error::with_kind(
                ErrorKind::Budget,
                format!("{what}: more than {MAX_LIVE_TASKS} tasks at once (start fewer, or wait for some to finish)"),
            ));
        }
        self.ctx.budget.reserve_items(n as u64, TASK_BYTES)?;
        self.collect_work()?;
        self.sched.live += n;
        let mut children = Vec::new();
        for (proc, args) in starts {
            let id = self.sched.tasks.len() as TaskId;
            let p = &mut self.sched.tasks[parent as usize];
            p.children_made += 1;
            let index = children.len() + 1;
            let label = if parent == 0 { format!("task {index}") } else { format!("{}.{index}", p.label) };
            let mut path = p.path.clone();
            path.push(index as u32);
            let frames = if call_thunks { vec![Frame::TaskEntry] } else { Vec::new() };
            self.sched.tasks.push(Task {
                label,
                path,
                parent: Some(parent),
                index,
                stack: Vec::new(),
                frames,
                choices: Vec::new(),
                state: State::Ready,
                resume: Some(Resume::Start { proc, args }),
                children_made: 0,
            });
            self.sched.ready.push_back(id);
            children.push(id);
        }
        if let Some(races) = &mut self.races {
            let labelled: Vec<(TaskId, String)> =
                children.iter().map(|&c| (c, self.sched.tasks[c as usize].label.clone())).collect();
            races.spawned(parent, &labelled);
        }
        self.sched.tasks[parent as usize].state =
            State::Joining { children, results: vec![None; n], remaining: n, what };
        Ok(Wait::Join)
    }

    /// `(parallel …)`: `n` thunks on the stack.
    pub(super) fn parallel(&mut self, n: usize) -> Result<Flow, Error> {
        let thunks: Vec<Value> = self.stack.drain(self.stack.len() - n..).collect();
        let starts = thunks.into_iter().map(|t| (t, vec![])).collect();
        Ok(Flow::Suspend(self.spawn(starts, "parallel", true)?))
    }

    fn child_finished(&mut self, t: TaskId, result: Result<Value, Error>, llm: &mut dyn LlmPort) {
        let task = &self.sched.tasks[t as usize];
        let (parent, index) = (task.parent.unwrap(), task.index);
        let State::Joining { children, results, remaining, what } = &mut self.sched.tasks[parent as usize].state else {
            return;
        };
        match result {
            Ok(v) => {
                results[index - 1] = Some(v);
                *remaining -= 1;
                if *remaining == 0 {
                    let list = Value::list(results.drain(..).map(Option::unwrap).collect::<Vec<_>>());
                    self.wake(parent, Resume::Deliver(list));
                }
            }
            Err(mut e) => {
                let siblings = children.clone();
                // A budget error is about the whole run: the tasks it passed through add nothing.
                if e.kind != ErrorKind::Budget {
                    e.message = format!("{what}: task {index} failed: {}", e.message);
                }
                let mut afters = Vec::new();
                for s in siblings {
                    if s != t {
                        self.cancel_task(s, llm, &mut afters);
                    }
                }
                // The cancelled tasks' after-thunks run in the parent before it sees the error,
                // so a `guard` around the `parallel` sees their effects.
                if afters.is_empty() || !e.is_catchable() {
                    self.wake(parent, Resume::Raise(e));
                } else {
                    self.wake(parent, Resume::AfterThunks { afters, then: Err(e) });
                }
            }
        }
    }

    /// Stops task `t` and its descendants: drops their requests, releases their locks, and
    /// adds their pending `dynamic-wind` after-thunks to `afters`, innermost first.
    fn cancel_task(&mut self, t: TaskId, llm: &mut dyn LlmPort, afters: &mut Vec<Value>) {
        let state = std::mem::replace(&mut self.sched.tasks[t as usize].state, State::Finished);
        if !matches!(state, State::Finished) {
            self.sched.live = self.sched.live.saturating_sub(1);
        }
        match state {
            State::Finished => return,
            State::WaitLlm { ids, .. } => {
                for id in ids {
                    if self.sched.requests.remove(&id).is_some() {
                        llm.cancel(id);
                    }
                }
            }
            State::Blocked { lock, .. } => lock.remove_waiter(t),
            State::Joining { children, .. } => {
                for c in children {
                    self.cancel_task(c, llm, afters);
                }
            }
            State::Ready | State::Running => {}
        }
        let frames = std::mem::take(&mut self.sched.tasks[t as usize].frames);
        for f in frames.into_iter().rev() {
            match f {
                // A lock handed over while the task waited to run is held all the same.
                Frame::Release { lock, held } if held || lock.holder.get() == Some(t) => self.release(&lock),
                Frame::Release { lock, .. } => lock.remove_waiter(t),
                Frame::WindAfter { after } => afters.push(*after),
                _ => {}
            }
        }
        self.sched.tasks[t as usize].stack.clear();
    }

    /// A clause of the handler at frame `depth` of `owner` returned `value` without resuming an
    /// effect of one of its tasks: cancels the tasks under it (after-thunks run, locks are
    /// released), unwinds `owner` to the handler and returns `value` from the `handle`.
    fn abort_to(&mut self, (owner, depth, value): (TaskId, usize, Value), llm: &mut dyn LlmPort) {
        let mut afters = Vec::new();
        let state = std::mem::replace(&mut self.sched.tasks[owner as usize].state, State::Ready);
        if let State::Joining { children, .. } = state {
            for c in children {
                self.cancel_task(c, llm, &mut afters);
            }
        }
        let task = &mut self.sched.tasks[owner as usize];
        let above: Vec<Frame> = task.frames.drain(depth.min(task.frames.len())..).collect();
        if let Some(Frame::Handler { base, .. }) = above.first() {
            task.stack.truncate(*base as usize);
        }
        for f in above.into_iter().rev() {
            match f {
                Frame::Release { lock, held } if held || lock.holder.get() == Some(owner) => self.release(&lock),
                Frame::Release { lock, .. } => lock.remove_waiter(owner),
                Frame::WindAfter { after } => afters.push(*after),
                _ => {}
            }
        }
        let resume =
            if afters.is_empty() { Resume::Deliver(value) } else { Resume::AfterThunks { afters, then: Ok(value) } };
        self.wake(owner, resume);
    }

    fn cancel_all(&mut self, llm: &mut dyn LlmPort) {
        for (id, _) in self.sched.requests.drain() {
            llm.cancel(id);
        }
    }

    // ----- locks -----

    /// Takes `lock` for the running task, or makes it wait in line (detecting deadlocks).
    pub(super) fn acquire(&mut self, lock: Rc<Lock>, call: Option<(usize, usize)>) -> Result<Flow, Error> {
        let me = self.sched.current;
        if let Some(races) = &mut self.races {
            races.saw_lock(&lock);
        }
        match lock.holder.get() {
            None => {
                lock.holder.set(Some(me));
                if self.sched.seed.is_some() {
                    if call.is_some() {
                        self.frames.push(Frame::Release { lock, held: true });
                    }
                    return Ok(Flow::Suspend(Wait::Acquired { call }));
                }
                self.after_acquire(lock, call)
            }
            Some(holder) => {
                let loc = self.current_loc();
                if let Some(rest) = self.find_cycle(me, holder) {
                    let first = WaitStep {
                        task: self.sched.label(me).to_string(),
                        waits_for: Waited::Lock {
                            kind: if call.is_some() { LockKind::Serializer } else { LockKind::Mutex },
                            name: lock.display_name(),
                            holder: self.sched.label(holder).to_string(),
                        },
                        loc,
                    };
                    let mut steps = vec![first];
                    let mut related = Vec::new();
                    for (task, mut step) in rest {
                        if task != me {
                            let t = &self.sched.tasks[task as usize];
                            let (here, stack) = super::call_stack(&t.frames, task == 0);
                            step.loc = match &t.state {
                                State::Blocked { loc, .. } => loc.or(here),
                                _ => here,
                            };
                            related.push(Related { message: format!("{} is blocked", t.label), loc: step.loc, stack });
                        }
                        steps.push(step);
                    }
                    let mut e = Error::deadlock(WaitCycle { steps });
                    e.related = related.into();
                    if let Some(races) = &mut self.races {
                        let mut seen = Error::with_kind(ErrorKind::Deadlock, e.message.clone());
                        seen.loc = loc;
                        seen.related = e.related.clone();
                        seen.cycle = e.cycle.clone();
                        races.deadlocks.push(seen);
                    }
                    return Err(e);
                }
                lock.waiters.borrow_mut().push_back(me);
                if call.is_some() {
                    self.frames.push(Frame::Release { lock: lock.clone(), held: false });
                }
                Ok(Flow::Suspend(Wait::Lock { lock, call, loc }))
            }
        }
    }

    fn after_acquire(&mut self, lock: Rc<Lock>, call: Option<(usize, usize)>) -> Result<Flow, Error> {
        match call {
            Some((callee, argc)) => {
                self.frames.push(Frame::Release { lock, held: true });
                self.call_serialized_proc(callee, argc)
            }
            None => self.deliver(Value::Unspecified),
        }
    }

    /// Replaces the serialized procedure at `callee` by the procedure it wraps and calls it.
    fn call_serialized_proc(&mut self, callee: usize, argc: usize) -> Result<Flow, Error> {
        let Value::Object(o) = &self.stack[callee] else { unreachable!() };
        let Object::Serialized { proc, .. } = &**o else { unreachable!() };
        self.stack[callee] = proc.clone();
        self.apply(callee, argc)
    }

    /// Runs after a lock was handed to the running task.
    fn granted(&mut self, call: Option<(usize, usize)>) -> Result<Flow, Error> {
        match call {
            Some((callee, argc)) => {
                if let Some(Frame::Release { held, .. }) = self.frames.last_mut() {
                    *held = true;
                }
                self.call_serialized_proc(callee, argc)
            }
            None => self.deliver(Value::Unspecified),
        }
    }

    /// Releases `lock`, handing it to the first waiter, which becomes ready.
    pub(super) fn release(&mut self, lock: &Lock) {
        if let Some(next) = lock.release() {
            let State::Blocked { call, .. } = &self.sched.tasks[next as usize].state else { return };
            let call = *call;
            self.wake(next, Resume::Granted { call });
        }
    }

    /// If making `me` wait for `holder` closes a cycle of waiting tasks, the steps of the
    /// cycle after the first, from `holder` back to `me`.
    /// Each step is the waiting task and what it waits for (its place not filled in yet).
    fn find_cycle(&self, me: TaskId, holder: TaskId) -> Option<Vec<(TaskId, WaitStep)>> {
        if holder == me {
            return Some(Vec::new());
        }
        // Depth-first search over wait-for edges, remembering the path.
        let mut path: Vec<(TaskId, WaitStep)> = Vec::new();
        self.search(holder, me, &mut path, &mut Vec::new()).then_some(path)
    }

    fn search(&self, from: TaskId, target: TaskId, path: &mut Vec<(TaskId, WaitStep)>, seen: &mut Vec<TaskId>) -> bool {
        if seen.contains(&from) {
            return false;
        }
        seen.push(from);
        for (to, step) in self.waits_for(from) {
            path.push((from, step));
            if to == target || self.search(to, target, path, seen) {
                return true;
            }
            path.pop();
        }
        false
    }

    /// The tasks `t` waits for, with the step describing each edge.
    fn waits_for(&self, t: TaskId) -> Vec<(TaskId, WaitStep)> {
        let task = &self.sched.tasks[t as usize];
        let step = |waits_for| WaitStep { task: task.label.clone(), waits_for, loc: None };
        match &task.state {
            State::Blocked { lock, call, .. } => match lock.holder.get() {
                Some(h) => {
                    let kind = if call.is_some() { LockKind::Serializer } else { LockKind::Mutex };
                    let name = lock.display_name();
                    vec![(h, step(Waited::Lock { kind, name, holder: self.sched.label(h).to_string() }))]
                }
                None => vec![],
            },
            State::Joining { children, results, .. } => children
                .iter()
                .zip(results)
                .filter(|(_, r)| r.is_none())
                .map(|(&c, _)| (c, step(Waited::Task(self.sched.label(c).to_string()))))
                .collect(),
            _ => vec![],
        }
    }
}

/// The value an LLM op gives the program.
fn llm_value(op: &str, mut replies: Vec<LlmReply>) -> Value {
    match op {
        "infer.op" => Value::str(replies.remove(0).text.trim()),
        "int.op" => {
            let r = replies.remove(0);
            let confidence = match r.confidence {
                Some(c) if c.fract() == 0.0 && c.abs() < 1e15 => Value::Int(c as i64),
                Some(c) => Value::Float(c),
                None => Value::Int(1),
            };
            Value::object(Object::Meaning {
                denotation: Value::str(r.text.trim()),
                confidence,
                trace: Value::str(&r.trace),
            })
        }
        _ => {
            // Merge equal samples; weight = count / n; by descending weight, ties by first seen.
            let n = replies.len() as f64;
            let mut entries: Vec<(String, usize)> = Vec::new();
            for r in &replies {
                let text = r.text.trim().to_string();
                match entries.iter_mut().find(|(t, _)| *t == text) {
                    Some(e) => e.1 += 1,
                    None => entries.push((text, 1)),
                }
            }
            entries.sort_by_key(|e| std::cmp::Reverse(e.1));
            Value::object(Object::Dist(entries.into_iter().map(|(t, c)| (Value::str(&t), c as f64 / n)).collect()))
        }
    }
}

/// The SplitMix64 generator: advances `state` and returns the next number.
pub(super) fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
