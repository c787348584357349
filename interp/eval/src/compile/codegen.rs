//! Code generation: core language → machine instructions.
//!
//! Locals get frame slots; a closure copies the variables it uses into its captures, and a
//! variable that can change after capture lives in a shared box (`VarInfo::boxed`).

use std::collections::HashMap;
use std::rc::Rc;

use super::core::*;
use crate::symbol::Symbol;
use crate::syntax::Span;
use crate::value::Value;
use crate::vm::code::{CaptureFrom, Fast, Op, Proto};

/// Global variables by number: instructions name globals by index into this table.
#[derive(Default)]
pub struct GlobalNames {
    pub ids: HashMap<Symbol, u32>,
    pub names: Vec<Symbol>,
}

impl GlobalNames {
    pub fn id(&mut self, s: Symbol) -> u32 {
        if let Some(&i) = self.ids.get(&s) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(s);
        self.ids.insert(s, i);
        i
    }
}

struct FnState {
    id: usize,
    code: Vec<Op>,
    spans: Vec<Span>,
    consts: Vec<Value>,
    protos: Vec<Rc<Proto>>,
    captures: Vec<(VarId, CaptureFrom)>,
    slots: HashMap<VarId, u32>,
    local_names: Vec<Symbol>,
}

pub struct Codegen<'a> {
    vars: &'a [VarInfo],
    globals: &'a mut GlobalNames,
    source: u32,
    hidden: bool,
    fns: Vec<FnState>,
}

/// Compiles a top-level form into a procedure of no arguments.
pub fn compile_toplevel(
    node: &Node,
    vars: &[VarInfo],
    globals: &mut GlobalNames,
    source: u32,
    hidden: bool,
) -> Rc<Proto> {
    let mut g = Codegen { vars, globals, source, hidden, fns: Vec::new() };
    g.function(0, None, &[], None, node, node.span)
}

impl Codegen<'_> {
    fn st(&mut self) -> &mut FnState {
        self.fns.last_mut().unwrap()
    }

    fn emit(&mut self, op: Op, span: Span) {
        let st = self.st();
        st.code.push(op);
        st.spans.push(span);
    }

    fn constant(&mut self, v: Value) -> u32 {
        let st = self.st();
        st.consts.push(v);
        st.consts.len() as u32 - 1
    }

    fn new_slot(&mut self, v: VarId) -> u32 {
        let name = self.vars[v].name;
        let st = self.st();
        let slot = st.local_names.len() as u32;
        st.local_names.push(name);
        st.slots.insert(v, slot);
        slot
    }

    fn here(&self) -> usize {
        self.fns.last().unwrap().code.len()
    }

    fn patch(&mut self, at: usize, target: usize) {
        let t = target as u32;
        match &mut self.st().code[at] {
            Op::Jump(x) | Op::JumpIfFalse(x) => *x = t,
            _ => unreachable!("only jumps are patched"),
        }
        // The comparison fused with this branch carries the same target.
        if at > 0 {
            if let Op::TestLocalConst { target, .. } = &mut self.st().code[at - 1] {
                *target = t;
            }
        }
    }

    fn function(
        &mut self,
        id: usize,
        name: Option<Symbol>,
        params: &[VarId],
        rest: Option<VarId>,
        body: &Node,
        span: Span,
    ) -> Rc<Proto> {
        self.fns.push(FnState {
            id,
            code: Vec::new(),
            spans: Vec::new(),
            consts: Vec::new(),
            protos: Vec::new(),
            captures: Vec::new(),
            slots: HashMap::new(),
            local_names: Vec::new(),
        });
        for &p in params.iter().chain(rest.iter()) {
            let slot = self.new_slot(p);
            if self.vars[p].boxed() {
                self.emit(Op::BoxLocal(slot), span);
            }
        }
        self.expr(body, true);
        let st = self.fns.pop().unwrap();
        crate::vm::code::check_code(&st.code);
        let capture_names = st.captures.iter().map(|(v, _)| self.vars[*v].name).collect();
        Rc::new(Proto {
            name,
            params: params.len() as u32,
            rest: rest.is_some(),
            locals: st.local_names.len() as u32,
            code: st.code,
            spans: st.spans,
            consts: st.consts,
            protos: st.protos,
            captures: st.captures.into_iter().map(|(_, c)| c).collect(),
            local_names: st.local_names,
            capture_names,
            source: self.source,
            hidden: self.hidden,
            span,
        })
    }

    /// The capture index of `v` in procedure `depth` (an index into `fns`).
    fn capture(&mut self, depth: usize, v: VarId) -> u32 {
        if let Some(i) = self.fns[depth].captures.iter().position(|(c, _)| *c == v) {
            return i as u32;
        }
        let parent = depth - 1;
        let from = if self.fns[parent].id == self.vars[v].owner {
            CaptureFrom::Local(self.fns[parent].slots[&v])
        } else if self.vars[v].own_procedure == Some(self.fns[parent].id) {
            CaptureFrom::OwnClosure
        } else {
            CaptureFrom::Capture(self.capture(parent, v))
        };
        self.fns[depth].captures.push((v, from));
        self.fns[depth].captures.len() as u32 - 1
    }

    fn load(&mut self, v: VarId, span: Span) {
        let info = &self.vars[v];
        let (boxed, letrec) = (info.boxed(), info.letrec);
        let op = if self.fns.last().unwrap().id == info.owner {
            let slot = self.fns.last().unwrap().slots[&v];
            match (boxed, letrec) {
                (true, true) => Op::LocalBoxChecked(slot),
                (true, false) => Op::LocalBox(slot),
                (false, true) => Op::LocalChecked(slot),
                (false, false) => Op::Local(slot),
            }
        } else if info.own_procedure.is_some_and(|p| self.fns.iter().any(|f| f.id == p)) {
            // The variable's own procedure, or one inside it, naming it (see `own_name`).
            if info.own_procedure == Some(self.fns.last().unwrap().id) {
                Op::OwnClosure
            } else {
                Op::Capture(self.capture(self.fns.len() - 1, v))
            }
        } else {
            let i = self.capture(self.fns.len() - 1, v);
            match (boxed, letrec) {
                (true, true) => Op::CaptureBoxChecked(i),
                (true, false) => Op::CaptureBox(i),
                (false, _) => Op::Capture(i),
            }
        };
        self.emit(op, span);
    }

    /// Stores the value on top of the stack into `v`.
    fn store(&mut self, v: VarId, span: Span) {
        let boxed = self.vars[v].boxed();
        let op = if self.fns.last().unwrap().id == self.vars[v].owner {
            let slot = self.fns.last().unwrap().slots[&v];
            if boxed {
                Op::SetLocalBox(slot)
            } else {
                Op::SetLocal(slot)
            }
        } else {
            Op::SetCaptureBox(self.capture(self.fns.len() - 1, v))
        };
        self.emit(op, span);
    }

    fn name_result(&mut self, value: &Node, name: Symbol) {
        if matches!(value.expr, Expr::Call(..)) {
            let c = self.constant(Value::Symbol(name));
            self.emit(Op::Name(c), value.span);
        }
    }

    fn ret(&mut self, tail: bool, span: Span) {
        if tail {
            self.emit(Op::Return, span);
        }
    }

    fn expr(&mut self, node: &Node, tail: bool) {
        let span = node.span;
        match &node.expr {
            Expr::Const(v) => {
                let c = self.constant(v.clone());
                self.emit(Op::Const(c), span);
                self.ret(tail, span);
            }
            Expr::Local(v) => {
                self.load(*v, span);
                let st = self.st();
                match st.code.last_mut() {
                    // Returning a plain local, as in a recursion's base case: one instruction.
                    Some(op @ Op::Local(_)) if tail => {
                        let Op::Local(slot) = *op else { unreachable!() };
                        *op = Op::ReturnLocal(slot);
                    }
                    _ => self.ret(tail, span),
                }
            }
            Expr::Global(s) => {
                let g = self.globals.id(*s);
                self.emit(Op::Global(g), span);
                self.ret(tail, span);
            }
            Expr::SetLocal(v, value) => {
                self.expr(value, false);
                self.name_result(value, self.vars[*v].name);
                self.store(*v, span);
                self.unspecified(tail, span);
            }
            Expr::SetGlobal(s, value) => {
                self.expr(value, false);
                self.name_result(value, *s);
                let g = self.globals.id(*s);
                self.emit(Op::SetGlobal(g), span);
                self.unspecified(tail, span);
            }
            Expr::DefineGlobal(s, value) => {
                self.expr(value, false);
                self.name_result(value, *s);
                let g = self.globals.id(*s);
                self.emit(Op::DefineGlobal(g), span);
                self.ret(tail, span);
            }
            Expr::If(t, c, a) => {
                if !self.test_local_const(t) {
                    self.expr(t, false);
                }
                let jf = self.here();
                self.emit(Op::JumpIfFalse(0), span);
                self.expr(c, tail);
                if tail {
                    let here = self.here();
                    self.patch(jf, here);
                    self.expr(a, true);
                } else {
                    let j = self.here();
                    self.emit(Op::Jump(0), span);
                    let here = self.here();
                    self.patch(jf, here);
                    self.expr(a, false);
                    let end = self.here();
                    self.patch(j, end);
                }
            }
            Expr::Seq(nodes) => {
                let (last, init) = nodes.split_last().expect("non-empty sequence");
                for n in init {
                    self.expr(n, false);
                    self.emit(Op::Pop, n.span);
                }
                self.expr(last, tail);
            }
            Expr::Lambda(l) => {
                let proto = self.function(l.id, l.name, &l.params, l.rest, &l.body, l.span);
                let st = self.st();
                st.protos.push(proto);
                let i = st.protos.len() as u32 - 1;
                self.emit(Op::Closure(i), span);
                self.ret(tail, span);
            }
            Expr::Call(f, args) => {
                if let Expr::Global(name) = &f.expr {
                    if let Some(op) = Fast::from_name(name.as_str()).filter(|op| op.arity() == args.len()) {
                        if let Some((slot, k)) = self.local_and_constant(args).filter(|_| !tail) {
                            let g = self.globals.id(*name);
                            self.emit(Op::BuiltinLocalConst { g, op, slot, k }, span);
                            return;
                        }
                        for a in args {
                            self.expr(a, false);
                        }
                        let g = self.globals.id(*name);
                        self.emit(Op::Builtin { g, op, tail }, span);
                        return;
                    }
                }
                self.expr(f, false);
                for a in args {
                    self.expr(a, false);
                }
                let n = args.len() as u32;
                if tail {
                    self.emit(Op::TailCall(n), span);
                    // Reached only when the machine makes the call an ordinary one (a call
                    // from the program into the prelude keeps the caller's frame, for errors).
                    self.emit(Op::Return, span);
                } else {
                    self.emit(Op::Call(n), span);
                }
            }
            Expr::Let(binds, body) => {
                for (v, init) in binds {
                    self.expr(init, false);
                    self.name_result(init, self.vars[*v].name);
                    let slot = self.new_slot(*v);
                    self.emit(Op::SetLocal(slot), init.span);
                    if self.vars[*v].boxed() {
                        self.emit(Op::BoxLocal(slot), init.span);
                    }
                }
                self.expr(body, tail);
            }
            Expr::Letrec(vars, body) => {
                for &v in vars {
                    let slot = self.new_slot(v);
                    if self.vars[v].boxed() {
                        self.emit(Op::NewBox(slot), span);
                    } else {
                        let c = self.constant(Value::Undefined);
                        self.emit(Op::Const(c), span);
                        self.emit(Op::SetLocal(slot), span);
                    }
                }
                self.expr(body, tail);
            }
            Expr::Init(v, value) => {
                self.expr(value, false);
                self.name_result(value, self.vars[*v].name);
                self.store(*v, span);
                self.unspecified(tail, span);
            }
            Expr::Effect(op, args) => {
                for a in args {
                    self.expr(a, false);
                }
                let c = self.constant(Value::Symbol(*op));
                self.emit(Op::Effect { op: c, argc: args.len() as u32 }, span);
                self.ret(tail, span);
            }
            Expr::Handle { body, clauses, ret } => {
                self.expr(body, false);
                let mut ops = Vec::new();
                for (op, list_form, clause) in clauses {
                    self.expr(clause, false);
                    ops.push(Value::cons(Value::Symbol(*op), Value::Bool(*list_form)));
                }
                if let Some(r) = ret {
                    self.expr(r, false);
                }
                let c = self.constant(Value::list(ops));
                self.emit(Op::Handle { ops: c, n: clauses.len() as u32, ret: ret.is_some() }, span);
                self.ret(tail, span);
            }
            Expr::Parallel(thunks) => {
                for t in thunks {
                    self.expr(t, false);
                }
                self.emit(Op::Parallel(thunks.len() as u32), span);
                self.ret(tail, span);
            }
            Expr::Guard { body, handler } => {
                self.expr(body, false);
                self.expr(handler, false);
                self.emit(Op::Guard, span);
                self.ret(tail, span);
            }
            Expr::Delay { thunk, force_result } => {
                self.expr(thunk, false);
                self.emit(Op::Delay { force_result: *force_result }, span);
                self.ret(tail, span);
            }
        }
    }

    /// `(f x K)` with `x` a plain local of this procedure and `K` a number literal: the
    /// operands of `Op::BuiltinLocalConst`.
    fn local_and_constant(&mut self, args: &[Node]) -> Option<(u16, u16)> {
        let [Node { expr: Expr::Local(v), .. }, Node { expr: Expr::Const(c @ Value::Int(_)), .. }] = args else {
            return None;
        };
        let info = &self.vars[*v];
        let st = self.fns.last().unwrap();
        if info.boxed() || info.letrec || st.id != info.owner {
            return None;
        }
        let slot = u16::try_from(*st.slots.get(v)?).ok()?;
        let k = u16::try_from(self.fns.last().unwrap().consts.len()).ok()?;
        self.constant(c.clone());
        Some((slot, k))
    }

    /// A test `(op x K)` of a built-in comparison, a plain local and a number literal, as
    /// `Op::TestLocalConst` (its target patched with the `JumpIfFalse` that follows);
    /// `false` when the test is not of that form.
    fn test_local_const(&mut self, test: &Node) -> bool {
        let Expr::Call(f, args) = &test.expr else { return false };
        let Expr::Global(name) = &f.expr else { return false };
        let Some(op) = Fast::from_name(name.as_str()).filter(|op| op.is_comparison() && args.len() == 2) else {
            return false;
        };
        let Ok(g) = u16::try_from(self.globals.id(*name)) else { return false };
        let Some((slot, k)) = self.local_and_constant(args) else { return false };
        self.emit(Op::TestLocalConst { g, op, slot, k, target: 0 }, test.span);
        true
    }

    fn unspecified(&mut self, tail: bool, span: Span) {
        let c = self.constant(Value::Unspecified);
        self.emit(Op::Const(c), span);
        self.ret(tail, span);
    }
}
