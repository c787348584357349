//! The instruction loop.

use std::cell::RefCell;
use std::rc::Rc;

use super::code::{CaptureFrom, Op};
use super::{Closure, Flow, Frame, Machine};
use crate::error::Error;
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
        let mut clo: Rc<Closure> = closure.clone();
        let mut pc = *pc as usize;
        let mut fp = *fp as usize;

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
                        clo = closure.clone();
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

        loop {
            let op = clo.proto.code[pc];
            pc += 1;
            match op {
                Op::Const(i) => self.stack.push(clo.proto.consts[i as usize].clone()),
                Op::Local(i) => {
                    let v = self.stack[fp + i as usize].clone();
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
                        return Err(used_early(clo.proto.local_names[i as usize].as_str()));
                    }
                    self.stack.push(v);
                }
                Op::LocalBoxChecked(i) => {
                    let v = unbox(&self.stack[fp + i as usize]);
                    if matches!(v, Value::Undefined) {
                        save_pc!();
                        return Err(used_early(clo.proto.local_names[i as usize].as_str()));
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
                Op::Capture(i) => self.stack.push(clo.captures[i as usize].clone()),
                Op::CaptureBox(i) => self.stack.push(unbox(&clo.captures[i as usize])),
                Op::CaptureBoxChecked(i) => {
                    let v = unbox(&clo.captures[i as usize]);
                    if matches!(v, Value::Undefined) {
                        save_pc!();
                        return Err(used_early(clo.proto.capture_names[i as usize].as_str()));
                    }
                    self.stack.push(v);
                }
                Op::SetCaptureBox(i) => {
                    let v = self.stack.pop().unwrap();
                    set_box(&clo.captures[i as usize], v);
                }
                Op::Global(g) => {
                    let v = &self.globals[g as usize];
                    if matches!(v, Value::Undefined) {
                        save_pc!();
                        return Err(self.unbound(g));
                    }
                    self.stack.push(v.clone());
                }
                Op::SetGlobal(g) => {
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
                    if let (Some(Value::Object(o)), Value::Symbol(name)) = (self.stack.last(), &clo.proto.consts[c as usize]) {
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
                    let proto = clo.proto.protos[i as usize].clone();
                    let captures = proto
                        .captures
                        .iter()
                        .map(|c| match *c {
                            CaptureFrom::Local(s) => self.stack[fp + s as usize].clone(),
                            CaptureFrom::Capture(j) => clo.captures[j as usize].clone(),
                        })
                        .collect();
                    self.stack.push(Value::Closure(Rc::new(Closure { proto, captures })));
                }
                Op::Call(argc) => {
                    save_pc!();
                    self.tick()?;
                    let callee = self.stack.len() - argc as usize - 1;
                    // Fast paths: a closure or a plain primitive.
                    match &self.stack[callee] {
                        Value::Closure(c) if !c.proto.rest && c.proto.params == argc => {
                            let c = c.clone();
                            self.enter(c, callee + 1)?;
                            reload!();
                        }
                        Value::Primitive(p) if !Self::is_machine_primitive(p) => {
                            let p = *p;
                            if argc as usize >= p.min && p.max.is_none_or(|m| argc as usize <= m) {
                                let r = (p.f)(&mut self.ctx, &self.stack[callee + 1..])?;
                                self.stack.truncate(callee);
                                self.stack.push(r);
                            } else {
                                return Err(self.arity_error(&self.stack[callee].clone(), argc as usize));
                            }
                        }
                        _ => flow!(self.apply(callee, argc as usize)),
                    }
                }
                Op::TailCall(argc) => {
                    save_pc!();
                    self.tick()?;
                    let callee = self.stack.len() - argc as usize - 1;
                    if let Value::Primitive(p) = &self.stack[callee] {
                        if !Self::is_machine_primitive(p) {
                            // A primitive returns at once: call it, then return its value.
                            let p = *p;
                            if argc as usize >= p.min && p.max.is_none_or(|m| argc as usize <= m) {
                                let r = (p.f)(&mut self.ctx, &self.stack[callee + 1..])?;
                                self.stack.truncate(fp - 1);
                                self.frames.pop();
                                match self.deliver(r) {
                                    Ok(Flow::Continue) => reload!(),
                                    other => return other,
                                }
                                continue;
                            }
                            return Err(self.arity_error(&self.stack[callee].clone(), argc as usize));
                        }
                    }
                    // Move callee and arguments down over the returning frame.
                    let base = fp - 1;
                    let n = argc as usize + 1;
                    let len = self.stack.len();
                    for k in 0..n {
                        self.stack.swap(base + k, len - n + k);
                    }
                    self.stack.truncate(base + n);
                    self.frames.pop();
                    match &self.stack[base] {
                        Value::Closure(c) if !c.proto.rest && c.proto.params == argc => {
                            let c = c.clone();
                            self.enter(c, base + 1)?;
                            reload!();
                        }
                        _ => match self.apply(base, argc as usize) {
                            Ok(Flow::Continue) => reload!(),
                            other => return other,
                        },
                    }
                }
                Op::Return => {
                    let v = self.stack.pop().unwrap();
                    self.stack.truncate(fp - 1);
                    self.frames.pop();
                    if let Some(Frame::Call { closure, pc: p, fp: f }) = self.frames.last() {
                        clo = closure.clone();
                        pc = *p as usize;
                        fp = *f as usize;
                        self.stack.push(v);
                    } else {
                        match self.deliver(v) {
                            Ok(Flow::Continue) => reload!(),
                            other => return other,
                        }
                    }
                }
                Op::Effect { op, argc } => {
                    let Value::Symbol(op) = clo.proto.consts[op as usize] else { unreachable!() };
                    flow!(self.perform(op, argc as usize));
                }
                Op::Handle { ops, n, ret } => {
                    let ops = clo.proto.consts[ops as usize].clone();
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
