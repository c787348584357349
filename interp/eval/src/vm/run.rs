//! The instruction loop.

use std::cell::RefCell;
use std::rc::Rc;

use super::code::{CaptureFrom, Fast, Op};
use super::sched::Wait;
use super::{Closure, Flow, Frame, Machine};
use crate::error::{Error, Loc};
use crate::value::{Object, Promise, Value};

impl Machine {
    /// Runs the running task until it finishes, must wait, or fails. Errors are unwound to
    /// the nearest `guard` here; an uncaught one is returned.
    pub(super) fn execute(&mut self) -> Result<Flow, Error> {
        loop {
            match self.run_frames() {
                Ok(Flow::Continue) => continue,
                Ok(flow) => return Ok(flow),
                Err(mut e) => {
                    self.locate(&mut e);
                    self.unwind(e)?;
                }
            }
        }
    }

    /// Executes instructions of the top frame and the frames it calls, until control must
    /// leave the loop.
    fn run_frames(&mut self) -> Result<Flow, Error> {
        let Some(Frame::Call { closure, pc, fp }) = self.frames.last() else {
            return Ok(Flow::Continue);
        };
        // The running closure, borrowed from the top frame (which owns it) without touching
        // its reference count; re-read whenever the top frame changes.
        let mut clo: *const Closure = Rc::as_ptr(closure);
        // The running procedure's instructions, likewise borrowed.
        let mut code: *const [Op] = closure.proto.code.as_slice();
        let mut pc = *pc as usize;
        let mut fp = *fp as usize;
        // The instruction at `at`, read without a bounds check.
        macro_rules! op_at {
            ($at:expr) => {{
                let at: usize = $at;
                // SAFETY: `code` is borrowed as `clo` is (the instructions belong to the
                // closure's procedure). `at` is in bounds: every `pc` the loop reaches is 0, a
                // jump target, one past an instruction that is not its procedure's last, or
                // one saved in a frame from those; `code::check_code`, run on every procedure
                // the compiler makes, asserts that jump targets are in bounds and that the last
                // instruction never goes on to the next.
                unsafe {
                    let code: &[Op] = &*code;
                    debug_assert!(at < code.len(), "instruction {at} out of bounds");
                    *code.get_unchecked(at)
                }
            }};
        }
        macro_rules! clo {
            () => {
                // SAFETY: `clo` points into the `Rc` held by the top frame, which stays on the
                // frame stack until `reload!` re-reads it.
                unsafe { &*clo }
            };
        }

        macro_rules! save_pc {
            () => {
                if let Some(Frame::Call { pc: p, .. }) = self.frames.last_mut() {
                    *p = pc as u32;
                }
            };
        }
        macro_rules! reload {
            () => {
                match self.frames.last() {
                    Some(Frame::Call { closure, pc: p, fp: f }) => {
                        clo = Rc::as_ptr(closure);
                        code = closure.proto.code.as_slice();
                        pc = *p as usize;
                        fp = *f as usize;
                    }
                    _ => return Ok(Flow::Continue),
                }
            };
        }
        macro_rules! flow {
            ($e:expr) => {{
                save_pc!();
                match $e {
                    Ok(Flow::Continue) => reload!(),
                    other => return other,
                }
            }};
        }

        // Under the seeded scheduler, stops before the current instruction (a shared-state
        // access) so another task may run first; the instruction runs when this task resumes.
        macro_rules! interleave {
            () => {
                if self.sched.seed.is_some() && !std::mem::replace(&mut self.sched.retrying, false) {
                    pc -= 1;
                    save_pc!();
                    return Ok(Flow::Suspend(Wait::Retry));
                }
            };
        }

        // A call of a built-in that touches shared state is a scheduling point under a seeded
        // scheduler, and an access the race observer records.
        macro_rules! shared_state_point {
            ($callee:expr) => {
                if self.touches_shared_state(&self.stack[$callee]) {
                    interleave!();
                    if let (Some(_), Value::Primitive(p)) = (&self.races, &self.stack[$callee]) {
                        save_pc!();
                        self.note_shared_call(p.name, $callee + 1..self.stack.len());
                    }
                }
            };
        }

        // Returns `v` from the running frame: straight into a calling frame, or through
        // `deliver` when a special frame is below. The value goes at once into the callee's
        // slot below the frame, where the caller expects it: held across the drops of the
        // frame's values instead, it would sit in a temporary (see `push_new`).
        macro_rules! return_value {
            ($v:expr) => {{
                let v = $v;
                let callee_slot = std::mem::replace(&mut self.stack[fp - 1], v);
                return_from_frame!(callee_slot);
            }};
        }
        // The rest of a return, once the value is in the callee's slot (`callee_slot` is what
        // the slot held). Each return site writes its value itself: a value built there (an
        // integer result) is then stored straight from registers, where a value shared by all
        // sites would be merged through a temporary.
        macro_rules! return_from_frame {
            ($callee_slot:expr) => {{
                let callee_slot = $callee_slot;
                cut(&mut self.stack, fp);
                drop_value(callee_slot);
                self.pop_call_frame();
                if let Some(Frame::Call { closure, pc: p, fp: f }) = self.frames.last() {
                    clo = Rc::as_ptr(closure);
                    code = closure.proto.code.as_slice();
                    pc = *p as usize;
                    fp = *f as usize;
                } else {
                    let v = self.stack.pop().unwrap();
                    match self.deliver(v) {
                        Ok(Flow::Continue) => reload!(),
                        other => return other,
                    }
                }
            }};
        }

        // A fast built-in (`Op::Builtin`) with its arguments on the stack.
        macro_rules! builtin {
            ($g:expr, $op:expr, $tail:expr) => {{
                let (g, op, tail): (u32, Fast, bool) = ($g, $op, $tail);
                let n = op.arity();
                let len = self.stack.len();
                match self.builtin_if_original(g, op) {
                    // In tail position, a result on numbers goes straight to the caller,
                    // without a round trip through the stack (the arguments go with the frame).
                    Some(_)
                        if tail && n == 2 && int_result(op, &self.stack[len - 2], &self.stack[len - 1]).is_some() =>
                    {
                        let r = int_result(op, &self.stack[len - 2], &self.stack[len - 1]);
                        let slot = &mut self.stack[fp - 1];
                        let callee_slot = match r {
                            Some(IntResult::Int(r)) => std::mem::replace(slot, Value::Int(r)),
                            Some(IntResult::Bool(t)) => std::mem::replace(slot, Value::Bool(t)),
                            None => unreachable!("checked above"),
                        };
                        return_from_frame!(callee_slot);
                    }
                    Some(p) => {
                        if !fast_builtin(op, &mut self.stack) {
                            save_pc!();
                            let r = (p.f)(&mut self.ctx, &self.stack[len - n..])?;
                            cut(&mut self.stack, len - n);
                            self.stack.push(r);
                        }
                        if tail {
                            let r = self.stack.pop().unwrap();
                            return_value!(r);
                        } else if let Op::JumpIfFalse(t) = op_at!(pc) {
                            // A test followed by a branch: branch at once.
                            pc = if let Some(Value::Bool(false)) = self.stack.pop() { t as usize } else { pc + 1 };
                        }
                    }
                    None => {
                        // The name no longer holds the built-in: an ordinary call.
                        save_pc!();
                        let callee = self.globals[g as usize].clone();
                        if matches!(callee, Value::Undefined) {
                            return Err(self.unbound(g));
                        }
                        self.stack.insert(len - n, callee);
                        self.tick()?;
                        let r = if tail { self.tail_call(fp, n) } else { self.apply(len - n, n) };
                        match r {
                            Ok(Flow::Continue) => reload!(),
                            other => return other,
                        }
                    }
                }
            }};
        }

        loop {
            let op = op_at!(pc);
            pc += 1;
            match op {
                Op::Const(i) => self.stack.push(dup(&clo!().proto.consts[i as usize])),
                Op::Local(i) => {
                    let v = dup(&self.stack[fp + i as usize]);
                    self.stack.push(v);
                }
                Op::LocalBox(i) => {
                    let v = unbox(&self.stack[fp + i as usize]);
                    self.stack.push(v);
                }
                Op::LocalChecked(i) => {
                    let v = self.stack[fp + i as usize].clone();
                    if matches!(v, Value::Undefined) {
                        save_pc!();
                        return Err(used_early(clo!().proto.local_names[i as usize].as_str()));
                    }
                    self.stack.push(v);
                }
                Op::LocalBoxChecked(i) => {
                    let v = unbox(&self.stack[fp + i as usize]);
                    if matches!(v, Value::Undefined) {
                        save_pc!();
                        return Err(used_early(clo!().proto.local_names[i as usize].as_str()));
                    }
                    self.stack.push(v);
                }
                Op::SetLocal(i) => {
                    let v = self.stack.pop().unwrap();
                    self.stack[fp + i as usize] = v;
                }
                Op::SetLocalBox(i) => {
                    let v = self.stack.pop().unwrap();
                    set_box(&self.stack[fp + i as usize], v);
                }
                Op::BoxLocal(i) => {
                    let slot = &mut self.stack[fp + i as usize];
                    let v = std::mem::take(slot);
                    *slot = Value::Boxed(Rc::new(RefCell::new(v)));
                }
                Op::NewBox(i) => self.stack[fp + i as usize] = Value::Boxed(Rc::new(RefCell::new(Value::Undefined))),
                Op::Capture(i) => self.stack.push(dup(&clo!().captures[i as usize])),
                Op::OwnClosure => {
                    let Some(Frame::Call { closure, .. }) = self.frames.last() else {
                        unreachable!("the running frame is a call frame")
                    };
                    self.stack.push(Value::Closure(closure.clone()));
                }
                Op::CaptureBox(i) => {
                    if self.races.is_some() {
                        save_pc!();
                        self.note_capture(clo!(), i, false);
                    }
                    self.stack.push(unbox(&clo!().captures[i as usize]))
                }
                Op::CaptureBoxChecked(i) => {
                    if self.races.is_some() {
                        save_pc!();
                        self.note_capture(clo!(), i, false);
                    }
                    let v = unbox(&clo!().captures[i as usize]);
                    if matches!(v, Value::Undefined) {
                        save_pc!();
                        return Err(used_early(clo!().proto.capture_names[i as usize].as_str()));
                    }
                    self.stack.push(v);
                }
                Op::SetCaptureBox(i) => {
                    interleave!();
                    if self.races.is_some() {
                        save_pc!();
                        self.note_capture(clo!(), i, true);
                    }
                    let v = self.stack.pop().unwrap();
                    set_box(&clo!().captures[i as usize], v);
                }
                Op::Global(g) => {
                    if self.races.is_some() {
                        save_pc!();
                        self.note_access(super::races::Place::Global(g), false, None, None);
                    }
                    let v = &self.globals[g as usize];
                    if matches!(v, Value::Undefined) {
                        save_pc!();
                        return Err(self.unbound(g));
                    }
                    let v = dup(v);
                    self.stack.push(v);
                }
                Op::SetGlobal(g) => {
                    interleave!();
                    if self.races.is_some() {
                        save_pc!();
                        self.note_access(super::races::Place::Global(g), true, None, None);
                    }
                    if matches!(self.globals[g as usize], Value::Undefined) {
                        save_pc!();
                        let name = self.global_names.names[g as usize];
                        return Err(Error::new(format!("set!: unbound variable: {name}")));
                    }
                    self.globals[g as usize] = self.stack.pop().unwrap();
                }
                Op::DefineGlobal(g) => {
                    self.globals[g as usize] = self.stack.pop().unwrap();
                    self.stack.push(Value::Symbol(self.global_names.names[g as usize]));
                }
                Op::Pop => {
                    self.stack.pop();
                }
                Op::Name(c) => {
                    if let (Some(Value::Object(o)), Value::Symbol(name)) =
                        (self.stack.last(), &clo!().proto.consts[c as usize])
                    {
                        if let Object::Serializer(lock) | Object::Mutex(lock) = &**o {
                            lock.name_if_unnamed(name.as_str());
                        }
                    }
                }
                Op::Jump(t) => {
                    if (t as usize) < pc {
                        save_pc!();
                        self.tick()?;
                    }
                    pc = t as usize;
                }
                Op::JumpIfFalse(t) => {
                    if let Some(Value::Bool(false)) = self.stack.pop() {
                        pc = t as usize;
                    }
                }
                Op::Closure(i) => {
                    let proto = clo!().proto.protos[i as usize].clone();
                    let captures = proto
                        .captures
                        .iter()
                        .map(|c| match *c {
                            CaptureFrom::Local(s) => self.stack[fp + s as usize].clone(),
                            CaptureFrom::Capture(j) => clo!().captures[j as usize].clone(),
                            CaptureFrom::OwnClosure => match self.frames.last() {
                                Some(Frame::Call { closure, .. }) => Value::Closure(closure.clone()),
                                _ => unreachable!("the running frame is a call frame"),
                            },
                        })
                        .collect();
                    self.stack.push(Value::Closure(Rc::new(Closure { proto, captures })));
                }
                Op::Call(argc) => {
                    let callee = self.stack.len() - argc as usize - 1;
                    shared_state_point!(callee);
                    save_pc!();
                    self.tick()?;
                    // Fast paths: a closure or a plain primitive.
                    match &self.stack[callee] {
                        Value::Closure(c) if !c.proto.rest && c.proto.params == argc => {
                            // The frame takes over the callee's slot's reference.
                            let Value::Closure(c) = take_slot(&mut self.stack[callee]) else { unreachable!() };
                            clo = Rc::as_ptr(&c);
                            code = c.proto.code.as_slice();
                            self.enter(c, callee + 1)?;
                            pc = 0;
                            fp = callee + 1;
                        }
                        Value::Primitive(p) if !Self::is_machine_primitive(p) => {
                            let p = *p;
                            if argc as usize >= p.min && p.max.is_none_or(|m| argc as usize <= m) {
                                let r = (p.f)(&mut self.ctx, &self.stack[callee + 1..])?;
                                cut(&mut self.stack, callee);
                                self.stack.push(r);
                                if self.ctx.budget.work > 0 {
                                    save_pc!();
                                    self.collect_work()?;
                                }
                            } else {
                                return Err(self.arity_error(&self.stack[callee].clone(), argc as usize));
                            }
                        }
                        _ => flow!(self.apply(callee, argc as usize)),
                    }
                }
                Op::TailCall(argc) => {
                    let callee = self.stack.len() - argc as usize - 1;
                    shared_state_point!(callee);
                    save_pc!();
                    self.tick()?;
                    if let Value::Closure(c) = &self.stack[self.stack.len() - argc as usize - 1] {
                        let into_prelude = c.proto.hidden && !clo!().proto.hidden;
                        if !c.proto.rest && c.proto.params == argc && !into_prelude {
                            self.replace_frame(fp, argc as usize);
                            reload!();
                            continue;
                        }
                    }
                    if !clo!().proto.hidden {
                        match &self.stack[self.stack.len() - argc as usize - 1] {
                            Value::Closure(c) if c.proto.hidden => {
                                // Into the prelude: the callee replaces this frame, and a
                                // marker under it keeps this call as the place of errors in
                                // there.
                                let Some(Frame::Call { closure: caller, .. }) = self.frames.last() else {
                                    unreachable!("the running frame is a call frame")
                                };
                                let caller = caller.clone();
                                match self.tail_call(fp, argc as usize) {
                                    Ok(Flow::Continue) => {
                                        self.mark_tail_from(caller, pc as u32);
                                        reload!()
                                    }
                                    other => return other,
                                }
                                continue;
                            }
                            Value::Closure(_) => {}
                            // The frame goes before the callee runs: remember the call site.
                            _ => {
                                self.tail_site = clo!()
                                    .proto
                                    .spans
                                    .get(pc - 1)
                                    .map(|&span| Loc { source: clo!().proto.source, span });
                                self.tail_caller = Some((clo!().proto.name, self.frames.len() - 1, self.sched.current));
                            }
                        }
                    }
                    let r = self.tail_call(fp, argc as usize);
                    if r.is_ok() {
                        self.tail_site = None;
                    }
                    match r {
                        Ok(Flow::Continue) => reload!(),
                        other => return other,
                    }
                }
                Op::Builtin { g, op, tail } => builtin!(g, op, tail),
                Op::BuiltinLocalConst { g, op, slot, k } => {
                    let (a, b) = (&self.stack[fp + slot as usize], &clo!().proto.consts[k as usize]);
                    if let (Value::Int(x), Value::Int(y), Some(_)) = (a, b, self.builtin_if_original(g, op)) {
                        let (x, y) = (*x, *y);
                        // Tests and arithmetic apart, so that neither builds a `Value` it
                        // does not need (a test before a branch needs none).
                        let test = match op {
                            Fast::Lt => Some(x < y),
                            Fast::Gt => Some(x > y),
                            Fast::Le => Some(x <= y),
                            Fast::Ge => Some(x >= y),
                            Fast::NumEq => Some(x == y),
                            _ => None,
                        };
                        if let Some(t) = test {
                            match op_at!(pc) {
                                // A test followed by a branch: branch at once.
                                Op::JumpIfFalse(target) => pc = if t { pc + 1 } else { target as usize },
                                _ => push_new(&mut self.stack, || Value::Bool(t)),
                            }
                            continue;
                        }
                        let sum = match op {
                            Fast::Add => x.checked_add(y),
                            Fast::Sub => x.checked_sub(y),
                            Fast::Mul => x.checked_mul(y),
                            _ => None,
                        };
                        if let Some(r) = sum {
                            push_new(&mut self.stack, || Value::Int(r));
                            continue;
                        }
                    }
                    let (a, b) = (a.clone(), b.clone());
                    self.stack.push(a);
                    self.stack.push(b);
                    builtin!(g, op, false)
                }
                Op::TestLocalConst { g, op, slot, k, target } => {
                    let (a, b) = (&self.stack[fp + slot as usize], &clo!().proto.consts[k as usize]);
                    if let (Value::Int(x), Value::Int(y), Some(_)) = (a, b, self.builtin_if_original(g as u32, op)) {
                        let t = match op {
                            Fast::Lt => x < y,
                            Fast::Gt => x > y,
                            Fast::Le => x <= y,
                            Fast::Ge => x >= y,
                            // The compiler fuses only comparisons (`Fast::is_comparison`).
                            _ => x == y,
                        };
                        // True skips the `JumpIfFalse` that follows.
                        pc = if t { pc + 1 } else { target as usize };
                        continue;
                    }
                    // Any other case goes the general way; the `JumpIfFalse` takes the result.
                    let (a, b) = (a.clone(), b.clone());
                    self.stack.push(a);
                    self.stack.push(b);
                    builtin!(g as u32, op, false)
                }
                Op::Return => {
                    let v = self.stack.pop().unwrap();
                    return_value!(v);
                }
                Op::ReturnLocal(i) => {
                    // The frame's locals go with it: the value is moved out, not copied.
                    let v = take_slot(&mut self.stack[fp + i as usize]);
                    return_value!(v);
                }
                Op::Effect { op, argc } => {
                    let Value::Symbol(op) = clo!().proto.consts[op as usize] else { unreachable!() };
                    flow!(self.perform(op, argc as usize));
                }
                Op::Handle { ops, n, ret } => {
                    let ops = clo!().proto.consts[ops as usize].clone();
                    flow!(self.install_handler(&ops, n as usize, ret));
                }
                Op::Parallel(n) => flow!(self.parallel(n as usize)),
                Op::Guard => flow!(self.install_guard()),
                Op::Delay { force_result } => {
                    let thunk = self.stack.pop().unwrap();
                    let p = if force_result { Promise::DelayedForce(thunk) } else { Promise::Delayed(thunk) };
                    self.stack.push(Value::object(Object::Promise(RefCell::new(p))));
                }
            }
        }
    }
}

/// Pushes the value `make` builds straight into the vector's next slot. `Vec::push` takes a
/// value built beforehand, which has to live in a temporary while the capacity check may
/// grow (and so unwind); writing its tag byte and payload there and copying it out whole
/// stalls the processor (a store it cannot forward to the wider load). Here the capacity is
/// made first, so the value is built in place.
#[inline(always)]
pub(super) fn push_new<T>(v: &mut Vec<T>, make: impl FnOnce() -> T) {
    if v.len() == v.capacity() {
        v.reserve(1);
    }
    let len = v.len();
    // SAFETY: there is room for one more element (reserved above); the length grows only
    // after the slot is written, so a panic in `make` leaves the vector as it was.
    unsafe {
        v.as_mut_ptr().add(len).write(make());
        v.set_len(len + 1);
    }
}

/// Takes the value out of `slot`, leaving `Unspecified`, written in place (see `push_new`).
#[inline(always)]
pub(super) fn take_slot(slot: &mut Value) -> Value {
    // SAFETY: the value is moved out and the slot overwritten at once, with nothing in
    // between that could unwind and see the slot moved-from.
    unsafe {
        let v = std::ptr::read(slot);
        std::ptr::write(slot, Value::Unspecified);
        v
    }
}

/// Whether dropping `v` has anything to do (it holds a reference count).
#[inline(always)]
pub(super) fn holds_heap(v: &Value) -> bool {
    !matches!(
        v,
        Value::Unspecified
            | Value::Undefined
            | Value::Null
            | Value::Bool(_)
            | Value::Int(_)
            | Value::Float(_)
            | Value::Char(_)
            | Value::Symbol(_)
            | Value::Primitive(_)
    )
}

/// Shortens the stack to `n` values. `Vec::truncate` calls the generic drop, out of line, for
/// every value; here numbers, booleans and the like are skipped with a test of their tag.
#[inline(always)]
pub(super) fn cut(stack: &mut Vec<Value>, n: usize) {
    let len = stack.len();
    if n >= len {
        return;
    }
    // SAFETY: the length is shortened first, so the values past it are owned by this loop
    // alone and each is dropped once (a panicking drop leaks the rest, which is safe).
    unsafe {
        stack.set_len(n);
        let p = stack.as_mut_ptr();
        for i in n..len {
            if holds_heap(&*p.add(i)) {
                std::ptr::drop_in_place(p.add(i));
            }
        }
    }
}

/// A copy of `v` for a push: the reference count is taken as by `clone`, and the value is
/// copied as whole words straight from its slot. A derived `clone` builds the copy in a
/// temporary field by field first, and reading it back whole stalls the processor on every
/// push of the hot path.
#[inline(always)]
fn dup(v: &Value) -> Value {
    std::mem::forget(v.clone());
    // SAFETY: every variant of `Value` holds `Copy` data or one `Rc`, so a bitwise copy is a
    // second owner of the same data, and the forgotten clone above took its reference.
    unsafe { std::ptr::read(v) }
}

fn unbox(v: &Value) -> Value {
    match v {
        Value::Boxed(b) => b.borrow().clone(),
        other => other.clone(),
    }
}

fn set_box(cell: &Value, v: Value) {
    if let Value::Boxed(b) = cell {
        *b.borrow_mut() = v;
    }
}

fn used_early(name: &str) -> Error {
    Error::new(format!("{name}: used before its definition"))
}

/// The result of a fast built-in on two integers, apart from `Value` so that each kind is
/// stored where it goes without a temporary.
enum IntResult {
    Int(i64),
    Bool(bool),
}

/// `op` on two integers, when it does not overflow.
#[inline(always)]
fn int_result(op: Fast, a: &Value, b: &Value) -> Option<IntResult> {
    let (Value::Int(a), Value::Int(b)) = (a, b) else { return None };
    let (a, b) = (*a, *b);
    Some(match op {
        Fast::Add => IntResult::Int(a.checked_add(b)?),
        Fast::Sub => IntResult::Int(a.checked_sub(b)?),
        Fast::Mul => IntResult::Int(a.checked_mul(b)?),
        Fast::Lt => IntResult::Bool(a < b),
        Fast::Gt => IntResult::Bool(a > b),
        Fast::Le => IntResult::Bool(a <= b),
        Fast::Ge => IntResult::Bool(a >= b),
        Fast::NumEq | Fast::IsEq => IntResult::Bool(a == b),
        _ => return None,
    })
}

/// Drops `v`, without the call of the generic drop when it holds no reference.
#[inline(always)]
fn drop_value(v: Value) {
    if holds_heap(&v) {
        drop(v)
    } else {
        std::mem::forget(v)
    }
}

/// The common cases of a fast built-in, done in place on the stack without a call; `false`
/// (stack untouched) leaves the rest (other number types, errors) to the primitive itself.
#[inline(always)]
fn fast_builtin(op: Fast, stack: &mut Vec<Value>) -> bool {
    use Value::{Bool, Int};
    let len = stack.len();
    if op.arity() == 1 {
        let v = &stack[len - 1];
        let r = match (op, v) {
            (Fast::Car, Value::Pair(p)) => p.car(),
            (Fast::Cdr, Value::Pair(p)) => p.cdr(),
            (Fast::IsNull, v) => Bool(matches!(v, Value::Null)),
            (Fast::IsPair, v) => Bool(matches!(v, Value::Pair(_))),
            (Fast::Not, v) => Bool(matches!(v, Bool(false))),
            (Fast::IsZero, Int(a)) => Bool(*a == 0),
            _ => return false,
        };
        // Written before the old value is dropped, so `r` goes straight into the slot.
        drop(std::mem::replace(&mut stack[len - 1], r));
        return true;
    }
    let (a, b) = (&stack[len - 2], &stack[len - 1]);
    let r = match (op, a, b) {
        (Fast::Add, Int(a), Int(b)) => match a.checked_add(*b) {
            Some(x) => Int(x),
            None => return false,
        },
        (Fast::Sub, Int(a), Int(b)) => match a.checked_sub(*b) {
            Some(x) => Int(x),
            None => return false,
        },
        (Fast::Mul, Int(a), Int(b)) => match a.checked_mul(*b) {
            Some(x) => Int(x),
            None => return false,
        },
        (Fast::Lt, Int(a), Int(b)) => Bool(a < b),
        (Fast::Gt, Int(a), Int(b)) => Bool(a > b),
        (Fast::Le, Int(a), Int(b)) => Bool(a <= b),
        (Fast::Ge, Int(a), Int(b)) => Bool(a >= b),
        (Fast::NumEq, Int(a), Int(b)) => Bool(a == b),
        (Fast::IsEq, Int(a), Int(b)) => Bool(a == b),
        (Fast::IsEq, Value::Symbol(a), Value::Symbol(b)) => Bool(a == b),
        (Fast::Cons, _, _) => {
            let b = stack.pop().unwrap();
            let a = stack.pop().unwrap();
            stack.push(Value::cons(a, b));
            return true;
        }
        _ => return false,
    };
    let a = std::mem::replace(&mut stack[len - 2], r);
    cut(stack, len - 1);
    drop(a);
    true
}
