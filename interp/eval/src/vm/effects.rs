//! `handle`/`effect`: handler frames, capturing and resuming continuations, and the
//! built-in ops (`amb`, and the LLM ops, which suspend the task).

use std::cell::Cell;
use std::rc::Rc;

use super::sched::{LlmWork, Wait};
use super::{Continuation, Flow, Frame, HandlerSet, Machine};
use crate::error::{Error, Loc};
use crate::printer::display_string;
use crate::symbol::Symbol;
use crate::value::{Object, Value};

/// A saved state of the task to go back to when an `amb` alternative fails.
pub(super) struct ChoicePoint {
    frames: Vec<Frame>,
    stack: Vec<Value>,
    untried: Vec<Value>,
}

impl Machine {
    /// `(handle …)`: the body thunk, the clauses and the return clause are on the stack.
    pub(super) fn install_handler(&mut self, ops: &Value, n: usize, ret: bool) -> Result<Flow, Error> {
        let ret = if ret { self.stack.pop() } else { None };
        let procs: Vec<Value> = self.stack.drain(self.stack.len() - n..).collect();
        let body = self.stack.pop().unwrap();
        let clauses = ops
            .iter()
            .zip(procs)
            .map(|(op, proc)| {
                let Value::Pair(p) = op else { unreachable!() };
                let Value::Symbol(s) = p.car() else { unreachable!() };
                (s, p.cdr().is_true(), proc)
            })
            .collect();
        let base = self.stack.len() as u32;
        self.frames.push(Frame::Handler { set: Rc::new(HandlerSet { clauses, ret }), base });
        self.call_value(body, vec![])
    }

    /// `(guard …)`: the body thunk and the handler are on the stack.
    pub(super) fn install_guard(&mut self) -> Result<Flow, Error> {
        let handler = self.stack.pop().unwrap();
        let body = self.stack.pop().unwrap();
        let base = self.stack.len() as u32;
        self.frames.push(Frame::Guard { handler: Box::new(handler), base });
        self.call_value(body, vec![])
    }

    /// `(effect op a…)` with the arguments on the stack.
    pub(super) fn perform(&mut self, op: Symbol, argc: usize) -> Result<Flow, Error> {
        let args: Vec<Value> = self.stack.drain(self.stack.len() - argc..).collect();
        let found = self
            .frames
            .iter()
            .rposition(|f| matches!(f, Frame::Handler { set, .. } if set.clauses.iter().any(|c| c.0 == op)));
        if let Some(h) = found {
            let Frame::Handler { set, base } = &self.frames[h] else { unreachable!() };
            let (set, base) = (set.clone(), *base as usize);
            let frames: Vec<Frame> = self.frames.drain(h..).map(|f| rebase(f, -(base as i64))).collect();
            let stack = self.stack.split_off(base);
            let one_shot = frames.iter().any(|f| matches!(f, Frame::Release { held: true, .. }));
            let k = Continuation { frames, stack, one_shot, used: Cell::new(false), cross: None };
            return self.run_clause(&set, op, args, k);
        }
        if let Some((set, owner, depth)) = self.sched.inherited_handler(op) {
            // A handler around the `parallel` this task belongs to: the clause runs here, and
            // resuming it continues this task at the effect; returning from it aborts to the handler.
            self.frames.push(Frame::CrossResume { owner, depth: depth as u32 });
            let k = Continuation {
                frames: Vec::new(),
                stack: Vec::new(),
                one_shot: true,
                used: Cell::new(false),
                cross: Some((self.sched.current, self.frames.len() - 1)),
            };
            return self.run_clause(&set, op, args, k);
        }
        match op.as_str() {
            "amb.choose" => self.amb_choose(args),
            "amb.fail" => self.amb_fail(),
            "infer.op" | "int.op" | "search.op" => self.llm_request(op, args),
            _ => Err(Error::new(format!("unhandled effect: {op}"))),
        }
    }

    fn run_clause(&mut self, set: &HandlerSet, op: Symbol, args: Vec<Value>, k: Continuation) -> Result<Flow, Error> {
        let (_, list_form, proc) = set.clauses.iter().find(|c| c.0 == op).unwrap();
        let k = Rc::new(k);
        if (k.one_shot || holds_winds(&k)) && k.cross.is_none() {
            self.frames.push(Frame::AbortRelease { k: k.clone() });
        }
        let k = Value::object(Object::Continuation(k));
        if *list_form {
            return self.call_value(proc.clone(), vec![Value::list(args), k]);
        }
        if let Value::Closure(c) = proc {
            let m = c.proto.params as usize - 1;
            if !c.proto.rest && m != args.len() {
                let s = if m == 1 { "" } else { "s" };
                return Err(Error::new(format!(
                    "handle: {op} clause takes {m} argument{s}, effect passed {}",
                    args.len()
                )));
            }
        }
        let mut all = args;
        all.push(k);
        self.call_value(proc.clone(), all)
    }

    /// A handler clause finished without resuming `k`: releases the serializers `k` holds.
    pub(super) fn release_unresumed(&mut self, k: &Continuation) {
        if k.used.replace(true) {
            return;
        }
        for f in &k.frames {
            if let Frame::Release { lock, held: true } = f {
                self.release(lock);
            }
        }
    }

    /// A handler clause finished without resuming `k`, whose dynamic-wind extents are left
    /// as by an error: pushes `bottom` (what to do after) and, innermost on top, `k`'s
    /// after-thunks and held serializers, for `deliver` to run and release in order.
    pub(super) fn leave_unresumed(&mut self, k: &Continuation, bottom: Frame) {
        k.used.set(true);
        self.frames.push(bottom);
        for f in &k.frames {
            match f {
                Frame::Release { lock, held: true } => {
                    self.frames.push(Frame::Release { lock: lock.clone(), held: true })
                }
                Frame::WindAfter { after } => self.frames.push(Frame::WindAfter { after: after.clone() }),
                _ => {}
            }
        }
    }

    /// Calls continuation `k` with `v`: copies its frames back on top of the stack.
    pub(super) fn resume(&mut self, k: &Continuation, v: Value) -> Result<Flow, Error> {
        if k.used.replace(true) && k.one_shot {
            return Err(Error::new("continuation already resumed"));
        }
        if let Some((task, depth)) = k.cross {
            if task != self.sched.current
                || self.frames.len() <= depth
                || !matches!(self.frames[depth], Frame::CrossResume { .. })
            {
                return Err(Error::new("continuation already resumed"));
            }
            self.frames.truncate(depth);
            return self.deliver(v);
        }
        let base = self.stack.len() as i64;
        self.stack.extend(k.stack.iter().cloned());
        self.frames.extend(k.frames.iter().cloned().map(|f| rebase(f, base)));
        self.deliver(v)
    }

    fn amb_choose(&mut self, args: Vec<Value>) -> Result<Flow, Error> {
        let thunks = match args.as_slice() {
            [list] => list.list_to_vec().ok_or_else(|| Error::wrong_type("amb.choose", "list of procedures", list))?,
            _ => return Err(Error::new(format!("amb.choose: expected 1 argument, got {}", args.len()))),
        };
        let Some((first, rest)) = thunks.split_first() else { return self.amb_fail() };
        if !rest.is_empty() {
            self.sched.choices.push(ChoicePoint {
                frames: self.frames.clone(),
                stack: self.stack.clone(),
                untried: rest.to_vec(),
            });
        }
        self.call_value(first.clone(), vec![])
    }

    fn amb_fail(&mut self) -> Result<Flow, Error> {
        while let Some(mut cp) = self.sched.choices.pop() {
            if cp.untried.is_empty() {
                continue;
            }
            let next = cp.untried.remove(0);
            self.frames = cp.frames.clone();
            self.stack = cp.stack.clone();
            if !cp.untried.is_empty() {
                self.sched.choices.push(cp);
            }
            return self.call_value(next, vec![]);
        }
        Err(Error::new("amb: all alternatives exhausted"))
    }

    fn llm_request(&mut self, op: Symbol, args: Vec<Value>) -> Result<Flow, Error> {
        let op_name: &'static str = match op.as_str() {
            "infer.op" => "infer.op",
            "int.op" => "int.op",
            _ => "search.op",
        };
        let (payload, n) = match (op_name, args.as_slice()) {
            (_, [p]) => (p.clone(), if op_name == "search.op" { 8 } else { 1 }),
            ("search.op", [p, Value::Int(n)]) if *n > 0 => (p.clone(), *n as u32),
            ("search.op", [_, n]) => return Err(Error::wrong_type("search.op", "positive integer", n)),
            _ => return Err(Error::new(format!("{op_name}: expected 1 argument, got {}", args.len()))),
        };
        let prompt = prompt_text(&payload);
        // Each sample is a request with its own copy of the prompt: ask before allocating.
        let sample_bytes = std::mem::size_of::<LlmWork>() + 64 + prompt.len();
        self.ctx.budget.reserve_items(n as u64, sample_bytes)?;
        let loc = self.current_loc();
        let work = (0..n).map(|sample| LlmWork { op: op_name, prompt: prompt.clone(), sample, loc }).collect();
        Ok(Flow::Suspend(Wait::Llm(work)))
    }

    /// Where the running instruction is (or the call in tail position being made).
    pub(super) fn current_loc(&self) -> Option<Loc> {
        if self.tail_site.is_some() {
            return self.tail_site;
        }
        let Some(Frame::Call { closure, pc, .. }) = self.frames.iter().rev().find(|f| matches!(f, Frame::Call { .. }))
        else {
            return None;
        };
        let at = (*pc as usize).saturating_sub(1);
        closure.proto.spans.get(at).map(|&span| Loc { source: closure.proto.source, span })
    }
}

/// The text an LLM receives for a payload: strings as they are, list elements displayed
/// and joined with no separator, anything else displayed.
pub fn prompt_text(payload: &Value) -> String {
    match payload {
        Value::Str(s) => s.to_string(),
        Value::Pair(_) | Value::Null => match payload.list_to_vec() {
            Some(items) => items.iter().map(display_string).collect(),
            None => display_string(payload),
        },
        other => display_string(other),
    }
}

/// Whether `k` is inside a `dynamic-wind` thunk it has not resumed yet: a handler clause
/// that returns or fails without resuming it must run the after-thunks.
pub(super) fn holds_winds(k: &Continuation) -> bool {
    !k.used.get() && k.frames.iter().any(|f| matches!(f, Frame::WindAfter { .. }))
}

/// Shifts a frame's stack positions by `delta`.
fn rebase(f: Frame, delta: i64) -> Frame {
    let shift = |x: u32| (x as i64 + delta) as u32;
    match f {
        Frame::Call { closure, pc, fp } => Frame::Call { closure, pc, fp: shift(fp) },
        Frame::Handler { set, base } => Frame::Handler { set, base: shift(base) },
        Frame::Guard { handler, base } => Frame::Guard { handler, base: shift(base) },
        other => other,
    }
}
