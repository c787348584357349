//! Calling procedures of every kind, returning through special frames, and unwinding errors.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use super::code::Fast;
use super::run::{holds_heap, push_new};
use super::sched::Wait;
use super::{Closure, Flow, Frame, Machine};
use crate::error::{Error, ErrorKind};
use crate::printer::write_short;
use crate::value::{Object, Primitive, Promise, RecordProcKind, Value};

/// Built-ins that need the machine itself rather than just their arguments.
pub static MACHINE_PRIMITIVES: [Primitive; 10] = [
    machine("apply", 2, None),
    machine("force", 1, Some(1)),
    machine("dynamic-wind", 3, Some(3)),
    machine("eval", 1, Some(2)),
    machine("parallel-map", 2, Some(2)),
    machine("mutex-acquire", 1, Some(1)),
    machine("mutex-release", 1, Some(1)),
    machine("yield", 0, Some(0)),
    machine("#%raise-again", 1, Some(1)),
    machine("make-promise", 1, Some(1)),
];

/// Primitives that read or write mutable state tasks may share.
const SHARED_STATE: &[&str] = &[
    "read-table",
    "add-entry",
    "write-table!",
    "detect-conflict",
    "read-context",
    "write-context!",
    "insert-at!",
    "get-buffer",
    "lookup",
    "insert!",
    "table->alist",
    "put",
    "get",
    "hash-table-set!",
    "hash-table-ref/default",
    "hash-table-delete!",
    "hash-table-contains?",
    "hash-table-count",
    "hash-table-keys",
    "hash-table-values",
    "hash-table->alist",
    "hash-table-clear!",
    "hash-set!",
    "hash-has-key?",
    "%hash-table-ref",
    "%hash-table-contains?",
    "vector-ref",
    "vector-set!",
    "vector-fill!",
    "set-car!",
    "set-cdr!",
];

#[cold]
fn too_deep() -> Error {
    Error::with_kind(ErrorKind::Limit, "recursion depth limit exceeded")
}

const fn machine(name: &'static str, min: usize, max: Option<usize>) -> Primitive {
    Primitive { name, min, max, f: |_, _| Err(Error::new("internal: machine primitive called directly")) }
}

impl Machine {
    #[inline]
    pub(super) fn is_machine_primitive(p: &Primitive) -> bool {
        let start = MACHINE_PRIMITIVES.as_ptr() as usize;
        let end = start + std::mem::size_of_val(&MACHINE_PRIMITIVES);
        (start..end).contains(&(p as *const Primitive as usize))
    }

    /// Pushes a frame for `closure` whose arguments (exactly its parameters) start at `fp`.
    #[inline(always)]
    pub(super) fn enter(&mut self, closure: Rc<Closure>, fp: usize) -> Result<(), Error> {
        if self.frames.len() >= self.limits.max_depth {
            return Err(too_deep());
        }
        let extra = (closure.proto.locals - closure.proto.params) as usize;
        for _ in 0..extra {
            push_new(&mut self.stack, || Value::Unspecified);
        }
        push_new(&mut self.frames, || Frame::Call { closure, pc: 0, fp: fp as u32 });
        Ok(())
    }

    /// A tail call of a closure that takes exactly the `argc` arguments on top of the stack:
    /// the callee and its arguments move down over the running frame at `fp`, and the callee
    /// takes that frame over, starting at its first instruction.
    #[inline(always)]
    pub(super) fn replace_frame(&mut self, fp: usize, argc: usize) {
        let base = fp - 1;
        let from = self.stack.len() - argc - 1;
        assert!(base <= from, "replace_frame: the callee is above the running frame");
        // The running frame's values go, then the callee is taken out and its arguments move
        // down to where the frame's arguments were.
        // SAFETY: `base <= from < len` (asserted; `from` is in bounds as `len - argc - 1`).
        // The length is cut to `base` first, so each value of `base..from` is dropped once
        // here and those of `from..len` are moved once: the callee read out, the arguments
        // copied (`ptr::copy` allows the overlap) into `fp..fp + argc`, and the callee's old
        // slot rewritten with a plain value, before the length takes them back.
        let callee = unsafe {
            let p = self.stack.as_mut_ptr();
            self.stack.set_len(base);
            for i in base..from {
                if holds_heap(&*p.add(i)) {
                    std::ptr::drop_in_place(p.add(i));
                }
            }
            let callee = std::ptr::read(p.add(from));
            std::ptr::copy(p.add(from + 1), p.add(fp), argc);
            std::ptr::write(p.add(base), Value::Unspecified);
            self.stack.set_len(fp + argc);
            callee
        };
        let Value::Closure(c) = callee else { unreachable!("replace_frame: the callee is a closure") };
        let extra = (c.proto.locals - c.proto.params) as usize;
        for _ in 0..extra {
            push_new(&mut self.stack, || Value::Unspecified);
        }
        if let Some(Frame::Call { closure, pc, .. }) = self.frames.last_mut() {
            *closure = c;
            *pc = 0;
        }
    }

    /// After a tail call from a program procedure into the prelude replaced the caller's frame
    /// by the callee's: remembers the caller (`closure` at `pc`) under the callee, in place of
    /// such a marker left by an earlier call from the same place in the stack.
    pub(super) fn mark_tail_from(&mut self, closure: Rc<Closure>, pc: u32) {
        let Some(callee) = self.frames.pop() else { return };
        let mark = Frame::TailFrom { closure, pc };
        match self.frames.last_mut() {
            Some(f @ Frame::TailFrom { .. }) => *f = mark,
            _ => self.frames.push(mark),
        }
        self.frames.push(callee);
    }

    /// Pops the running frame, a call frame: only its closure needs dropping, which spares
    /// the generic drop of every kind of frame.
    #[inline(always)]
    pub(super) fn pop_call_frame(&mut self) {
        let len = self.frames.len();
        let Some(Frame::Call { closure, .. }) = self.frames.last_mut() else {
            unreachable!("pop_call_frame: the running frame is a call frame")
        };
        // Only the closure is read out: moving the whole frame out would read back the `pc`
        // just stored into it as part of a wider load, which the processor cannot forward.
        // SAFETY: the closure is moved out and the frame, whose other fields are plain
        // numbers, is then forgotten by shortening the vector, so nothing is dropped twice.
        unsafe {
            let closure = std::ptr::read(closure);
            self.frames.set_len(len - 1);
            drop(closure);
        }
    }

    pub(super) fn arity_error(&self, f: &Value, got: usize) -> Error {
        let expected = match f {
            Value::Closure(c) => c.proto.arity_text(),
            Value::Primitive(p) => arity_text(p.min, p.max),
            _ => "a different number of arguments".into(),
        };
        let name = match f {
            Value::Primitive(p) => format!("#<procedure {}>", p.name.trim_start_matches("#%")),
            _ => write_short(f),
        };
        Error::new(format!("{name}: expected {expected}, got {got}"))
    }

    /// Whether calling `f` reads or writes state that tasks share (a scheduling point of the
    /// seeded scheduler).
    #[inline]
    pub(super) fn touches_shared_state(&self, f: &Value) -> bool {
        self.sched.seed.is_some() && matches!(f, Value::Primitive(p) if SHARED_STATE.contains(&p.name))
    }

    /// The built-in that global `g` still holds, if it is the original `op`.
    #[inline]
    pub(super) fn builtin_if_original(&self, g: u32, op: Fast) -> Option<&'static Primitive> {
        let original = self.fast[op as usize]?;
        match &self.globals[g as usize] {
            Value::Primitive(p) if std::ptr::eq(*p, original) => Some(original),
            _ => None,
        }
    }

    /// A call in tail position from the frame at `fp`: the callee and its `argc` arguments
    /// on top of the stack replace the returning frame.
    pub(super) fn tail_call(&mut self, fp: usize, argc: usize) -> Result<Flow, Error> {
        let callee = self.stack.len() - argc - 1;
        if let Value::Closure(c) = &self.stack[callee] {
            // Checked while the calling frame is still there, so the error points at the call.
            if argc < c.proto.params as usize || (!c.proto.rest && argc > c.proto.params as usize) {
                return Err(self.arity_error(&self.stack[callee].clone(), argc));
            }
        }
        if let Value::Primitive(p) = &self.stack[callee] {
            if !Self::is_machine_primitive(p) {
                // A primitive returns at once: call it, then return its value.
                let p = *p;
                if argc < p.min || p.max.is_some_and(|m| argc > m) {
                    return Err(self.arity_error(&self.stack[callee].clone(), argc));
                }
                let r = (p.f)(&mut self.ctx, &self.stack[callee + 1..])?;
                self.collect_work()?;
                self.stack.truncate(fp - 1);
                self.frames.pop();
                return self.deliver(r);
            }
        }
        // Move callee and arguments down over the returning frame.
        let base = fp - 1;
        let n = argc + 1;
        let len = self.stack.len();
        for k in 0..n {
            self.stack.swap(base + k, len - n + k);
        }
        self.stack.truncate(base + n);
        self.frames.pop();
        match &self.stack[base] {
            Value::Closure(c) if !c.proto.rest && c.proto.params as usize == argc => {
                let c = c.clone();
                self.enter(c, base + 1)?;
                Ok(Flow::Continue)
            }
            _ => self.apply(base, argc),
        }
    }

    /// Calls the procedure at `stack[callee]` with the `argc` values above it.
    pub(super) fn apply(&mut self, callee: usize, argc: usize) -> Result<Flow, Error> {
        let f = self.stack[callee].clone();
        match &f {
            Value::Closure(c) => {
                let (params, rest) = (c.proto.params as usize, c.proto.rest);
                if argc < params || (!rest && argc > params) {
                    return Err(self.arity_error(&f, argc));
                }
                if rest {
                    let list = Value::list(self.stack.drain(callee + 1 + params..).collect::<Vec<_>>());
                    self.stack.push(list);
                }
                // A rest parameter counts as one more parameter slot.
                let c = c.clone();
                let extra = (c.proto.locals - c.proto.params - rest as u32) as usize;
                for _ in 0..extra {
                    self.stack.push(Value::Unspecified);
                }
                if self.frames.len() >= self.limits.max_depth {
                    return Err(Error::with_kind(ErrorKind::Limit, "recursion depth limit exceeded"));
                }
                self.frames.push(Frame::Call { closure: c, pc: 0, fp: callee as u32 + 1 });
                Ok(Flow::Continue)
            }
            Value::Primitive(p) => {
                if argc < p.min || p.max.is_some_and(|m| argc > m) {
                    return Err(self.arity_error(&f, argc));
                }
                if Self::is_machine_primitive(p) {
                    return self.machine_primitive(p.name, callee);
                }
                let r = (p.f)(&mut self.ctx, &self.stack[callee + 1..])?;
                self.collect_work()?;
                self.stack.truncate(callee);
                self.deliver(r)
            }
            Value::Object(o) => match &**o {
                Object::Serializer(lock) => {
                    if argc != 1 {
                        return Err(Error::new(format!("{}: expected 1 argument, got {argc}", write_short(&f))));
                    }
                    let proc = self.stack.pop().unwrap();
                    if !proc.is_procedure() {
                        return Err(Error::wrong_type(&lock.display_name(), "procedure", &proc));
                    }
                    self.stack.truncate(callee);
                    self.deliver(Value::object(Object::Serialized { lock: lock.clone(), proc }))
                }
                Object::Serialized { lock, proc } => {
                    if let Some(e) = self.check_arity(proc, argc) {
                        return Err(e);
                    }
                    // The wrapped procedure is called once the lock is taken.
                    self.acquire(lock.clone(), Some((callee, argc)))
                }
                Object::Continuation(k) => {
                    if argc > 1 {
                        return Err(Error::new(format!("#<continuation>: expected 1 argument, got {argc}")));
                    }
                    let v = if argc == 1 { self.stack.pop().unwrap() } else { Value::Unspecified };
                    self.stack.truncate(callee);
                    let k = k.clone();
                    self.resume(&k, v)
                }
                Object::RecordProc { rtd, kind, name } => {
                    let args: Vec<Value> = self.stack.drain(callee + 1..).collect();
                    self.stack.truncate(callee);
                    let expect = |n: usize| {
                        if args.len() != n {
                            Err(Error::new(format!(
                                "#<procedure {name}>: expected {} argument{}, got {}",
                                n,
                                if n == 1 { "" } else { "s" },
                                args.len()
                            )))
                        } else {
                            Ok(())
                        }
                    };
                    let record_of = |v: &Value| -> Result<Rc<Object>, Error> {
                        match v {
                            Value::Object(r) if matches!(&**r, Object::Record { rtd: t, .. } if Rc::ptr_eq(t, rtd)) => {
                                Ok(r.clone())
                            }
                            _ => Err(Error::wrong_type(name.as_str(), rtd.name.as_str(), v)),
                        }
                    };
                    let r = match *kind {
                        RecordProcKind::Constructor(n) => {
                            expect(n)?;
                            let mut fields = args;
                            fields.resize(rtd.fields.len(), Value::Bool(false));
                            Value::object(Object::Record { rtd: rtd.clone(), fields: RefCell::new(fields) })
                        }
                        RecordProcKind::Predicate => {
                            expect(1)?;
                            Value::Bool(record_of(&args[0]).is_ok())
                        }
                        RecordProcKind::Accessor(i) => {
                            expect(1)?;
                            let r = record_of(&args[0])?;
                            let Object::Record { fields, .. } = &*r else { unreachable!() };
                            let v = fields.borrow()[i].clone();
                            v
                        }
                        RecordProcKind::Modifier(i) => {
                            expect(2)?;
                            let r = record_of(&args[0])?;
                            let Object::Record { fields, .. } = &*r else { unreachable!() };
                            fields.borrow_mut()[i] = args[1].clone();
                            Value::Unspecified
                        }
                    };
                    self.deliver(r)
                }
                Object::Composed(procs) => {
                    let Some((last, rest)) = procs.split_last() else {
                        if argc != 1 {
                            return Err(Error::new(format!("#<procedure>: expected 1 argument, got {argc}")));
                        }
                        let v = self.stack.pop().unwrap();
                        self.stack.truncate(callee);
                        return self.deliver(v);
                    };
                    if !rest.is_empty() {
                        self.frames.push(Frame::Compose { procs: procs.clone().into(), next: rest.len() as u32 });
                    }
                    self.stack[callee] = last.clone();
                    self.apply(callee, argc)
                }
                _ => Err(Error::new(format!("not a procedure: {}", write_short(&f)))),
            },
            _ => Err(Error::new(format!("not a procedure: {}", write_short(&f)))),
        }
    }

    /// An arity error for calling `f` with `argc` arguments, if it would be one.
    pub(super) fn check_arity(&self, f: &Value, argc: usize) -> Option<Error> {
        let ok = match f {
            Value::Closure(c) => argc == c.proto.params as usize || (c.proto.rest && argc >= c.proto.params as usize),
            Value::Primitive(p) => argc >= p.min && p.max.is_none_or(|m| argc <= m),
            _ => true,
        };
        (!ok).then(|| self.arity_error(f, argc))
    }

    /// Pushes `f` and `args` and calls it.
    pub(super) fn call_value(&mut self, f: Value, args: Vec<Value>) -> Result<Flow, Error> {
        let callee = self.stack.len();
        let argc = args.len();
        self.stack.push(f);
        self.stack.extend(args);
        self.apply(callee, argc)
    }

    /// Hands `v` to whatever waits for it: the calling frame, or a special frame.
    pub(super) fn deliver(&mut self, mut v: Value) -> Result<Flow, Error> {
        loop {
            match self.frames.last() {
                None => return Ok(Flow::Done(v)),
                Some(Frame::Call { .. }) => {
                    self.stack.push(v);
                    return Ok(Flow::Continue);
                }
                Some(_) => {}
            }
            match self.frames.pop().unwrap() {
                Frame::Call { .. } => unreachable!(),
                Frame::Handler { set, .. } => {
                    if let Some(ret) = &set.ret {
                        return self.call_value(ret.clone(), vec![v]);
                    }
                }
                Frame::Release { lock, held } => {
                    if held {
                        self.release(&lock);
                    }
                }
                Frame::Guard { base, .. } => self.stack.truncate(base as usize),
                Frame::WindAfter { after } => {
                    self.frames.push(Frame::ReturnValue { value: Box::new(v) });
                    return self.call_value(*after, vec![]);
                }
                Frame::ReturnValue { value } => v = *value,
                Frame::TailFrom { .. } => {}
                Frame::Reraise { error } => {
                    return Err(error.take().unwrap_or_else(|| Error::new("error lost while unwinding")))
                }
                Frame::Force { promise, force_result } => {
                    let Value::Object(o) = &*promise else { unreachable!() };
                    let Object::Promise(p) = &**o else { unreachable!() };
                    if let Promise::Forced(done) = &*p.borrow() {
                        v = done.clone();
                        continue;
                    }
                    if force_result && promise_state(&v).is_some() {
                        // delay-force: this promise's value is the inner promise's.
                        self.frames.push(Frame::Force { promise, force_result: false });
                        return self.force(v);
                    }
                    *p.borrow_mut() = Promise::Forced(v.clone());
                }
                Frame::Compose { procs, next } => {
                    let f = procs[next as usize - 1].clone();
                    if next > 1 {
                        self.frames.push(Frame::Compose { procs, next: next - 1 });
                    }
                    return self.call_value(f, vec![v]);
                }
                Frame::TaskEntry => {
                    if v.is_procedure() && self.check_arity(&v, 0).is_none() && accepts_no_args(&v) {
                        return self.call_value(v, vec![]);
                    }
                    return Ok(Flow::Done(v));
                }
                Frame::CrossResume { owner, depth } => {
                    return Ok(Flow::Suspend(Wait::AbortTo { owner, depth: depth as usize, value: v }))
                }
                Frame::ThenWind { thunk_after } => {
                    let [thunk, after] = *thunk_after;
                    self.frames.push(Frame::WindAfter { after: Box::new(after) });
                    return self.call_value(thunk, vec![]);
                }
                Frame::AbortRelease { k } => self.release_unresumed(&k),
            }
        }
    }

    /// Unwinds the running task to the nearest `guard`, releasing serializers on the way.
    /// Returns the error if nothing catches it.
    pub(super) fn unwind(&mut self, e: Error) -> Result<(), Error> {
        while let Some(frame) = self.frames.pop() {
            match frame {
                Frame::Release { lock, held } => {
                    if held || lock.holder.get() == Some(self.sched.current) {
                        self.release(&lock);
                    } else {
                        lock.remove_waiter(self.sched.current);
                    }
                }
                Frame::Guard { handler, base } if e.is_catchable() => {
                    self.stack.truncate(base as usize);
                    let condition = e.condition();
                    return match self.call_value(*handler, vec![condition]) {
                        Ok(_) => Ok(()),
                        Err(e2) => self.unwind(e2),
                    };
                }
                Frame::AbortRelease { k } => self.release_unresumed(&k),
                Frame::WindAfter { after } if e.is_catchable() => {
                    self.frames.push(Frame::Reraise { error: Rc::new(Cell::new(Some(e))) });
                    return match self.call_value(*after, vec![]) {
                        Ok(_) => Ok(()),
                        Err(e2) => self.unwind(e2),
                    };
                }
                _ => {}
            }
        }
        Err(e)
    }

    fn machine_primitive(&mut self, name: &str, callee: usize) -> Result<Flow, Error> {
        let args: Vec<Value> = self.stack.drain(callee + 1..).collect();
        self.stack.truncate(callee);
        match name {
            "apply" => {
                let (f, rest) = args.split_first().unwrap();
                let (last, middle) = rest.split_last().unwrap();
                let tail = last.list_to_vec().ok_or_else(|| Error::wrong_type("apply", "list", last))?;
                let mut all = middle.to_vec();
                all.extend(tail);
                self.call_value(f.clone(), all)
            }
            "force" => self.force(args[0].clone()),
            "make-promise" => {
                if promise_state(&args[0]).is_some() {
                    return self.deliver(args[0].clone());
                }
                self.deliver(Value::object(Object::Promise(RefCell::new(Promise::Forced(args[0].clone())))))
            }
            "dynamic-wind" => {
                for a in &args {
                    if !a.is_procedure() {
                        return Err(Error::wrong_type("dynamic-wind", "procedure", a));
                    }
                }
                self.frames.push(Frame::ThenWind { thunk_after: Box::new([args[1].clone(), args[2].clone()]) });
                self.call_value(args[0].clone(), vec![])
            }
            "eval" => self.eval_value(&args[0]),
            "#%raise-again" => {
                let condition = args[0].clone();
                let message = match &condition {
                    Value::Object(o) => match &**o {
                        Object::Error(eo) => crate::error::error_object_message(eo),
                        _ => format!("uncaught raise: {}", write_short(&condition)),
                    },
                    _ => format!("uncaught raise: {}", write_short(&condition)),
                };
                let mut e = Error::new(message);
                e.payload = Some(condition);
                Err(e)
            }
            "parallel-map" => {
                let f = args[0].clone();
                let items = args[1].list_to_vec().ok_or_else(|| Error::wrong_type("parallel-map", "list", &args[1]))?;
                if !f.is_procedure() {
                    return Err(Error::wrong_type("parallel-map", "procedure", &f));
                }
                let starts = items.into_iter().map(|x| (f.clone(), vec![x])).collect();
                Ok(Flow::Suspend(self.spawn(starts, "parallel-map", false)?))
            }
            "mutex-acquire" => {
                let lock = mutex_of(&args[0], "mutex-acquire")?;
                self.acquire(lock, None)
            }
            "mutex-release" => {
                let lock = mutex_of(&args[0], "mutex-release")?;
                if lock.holder.get() != Some(self.sched.current) {
                    return Err(Error::new(format!(
                        "mutex-release: mutex {} is not held by this task",
                        lock.display_name()
                    )));
                }
                self.release(&lock);
                self.deliver(Value::Unspecified)
            }
            "yield" => Ok(Flow::Suspend(super::sched::Wait::Yield)),
            _ => Err(Error::new(format!("internal: unknown machine primitive {name}"))),
        }
    }

    pub(super) fn force(&mut self, v: Value) -> Result<Flow, Error> {
        let Some(state) = promise_state(&v) else { return self.deliver(v) };
        match state {
            Promise::Forced(x) => self.deliver(x),
            Promise::Delayed(thunk) => {
                self.frames.push(Frame::Force { promise: Box::new(v), force_result: false });
                self.call_value(thunk, vec![])
            }
            Promise::DelayedForce(thunk) => {
                self.frames.push(Frame::Force { promise: Box::new(v), force_result: true });
                self.call_value(thunk, vec![])
            }
        }
    }

    /// `(eval expr)`: compiles the datum and runs it in the global environment.
    fn eval_value(&mut self, expr: &Value) -> Result<Flow, Error> {
        let datum =
            crate::compile::value_to_datum(expr).ok_or_else(|| Error::wrong_type("eval", "expression", expr))?;
        self.eval_site = self.current_loc();
        let proto = crate::compile::compile_toplevel(
            &datum,
            &mut self.expand_env,
            &mut self.global_names,
            super::EVAL_SOURCE,
            false,
        )?;
        self.sync_globals();
        self.call_value(Value::Closure(Rc::new(Closure { proto, captures: Box::new([]) })), vec![])
    }
}

fn promise_state(v: &Value) -> Option<Promise> {
    let Value::Object(o) = v else { return None };
    let Object::Promise(p) = &**o else { return None };
    Some(match &*p.borrow() {
        Promise::Forced(x) => Promise::Forced(x.clone()),
        Promise::Delayed(t) => Promise::Delayed(t.clone()),
        Promise::DelayedForce(t) => Promise::DelayedForce(t.clone()),
    })
}

fn mutex_of(v: &Value, who: &str) -> Result<Rc<crate::lock::Lock>, Error> {
    match v {
        Value::Object(o) => match &**o {
            Object::Mutex(l) => Ok(l.clone()),
            _ => Err(Error::wrong_type(who, "mutex", v)),
        },
        _ => Err(Error::wrong_type(who, "mutex", v)),
    }
}

/// A procedure `parallel` calls in its task: one that takes no arguments.
fn accepts_no_args(v: &Value) -> bool {
    match v {
        Value::Closure(c) => c.proto.params == 0,
        Value::Primitive(p) => p.min == 0,
        Value::Object(o) => match &**o {
            Object::Serialized { proc, .. } => accepts_no_args(proc),
            Object::Composed(ps) => ps.last().is_some_and(accepts_no_args),
            _ => false,
        },
        _ => false,
    }
}

pub fn arity_text(min: usize, max: Option<usize>) -> String {
    let noun = |n: usize| if n == 1 { "argument" } else { "arguments" };
    match max {
        Some(m) if m == min => format!("{min} {}", noun(min)),
        Some(m) => format!("{min} to {m} arguments"),
        None => format!("at least {min} {}", noun(min)),
    }
}
