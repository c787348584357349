//! Compiled procedures: instructions for the machine, with a source span per instruction.

use std::rc::Rc;

use crate::symbol::Symbol;
use crate::syntax::Span;
use crate::value::Value;

/// One instruction. Operands index the procedure's constants, locals, captures or globals.
///
/// The stack of a call holds `[callee, arg0 … argN, other locals…, temporaries…]`; the frame
/// pointer is the index of `arg0`, so local `i` lives at `fp + i`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Op {
    Const(u32),
    Local(u32),
    /// A local that holds a box (a `set!` variable or a captured `letrec` one).
    LocalBox(u32),
    /// Reads a `letrec` local, failing with "used before its definition" when not yet set.
    LocalChecked(u32),
    LocalBoxChecked(u32),
    /// The `Set…` instructions pop the value they store.
    SetLocal(u32),
    SetLocalBox(u32),
    /// Replaces local `i` by a box holding its value.
    BoxLocal(u32),
    /// Stores a fresh box holding `Undefined` in local `i` (entry of a `letrec` scope).
    NewBox(u32),
    Capture(u32),
    /// The running procedure's own closure: how a local procedure names itself (no capture
    /// of the variable that holds it, which would be a reference cycle).
    OwnClosure,
    CaptureBox(u32),
    CaptureBoxChecked(u32),
    SetCaptureBox(u32),
    Global(u32),
    /// Fails if the global is not defined (`set!` of an unbound name).
    SetGlobal(u32),
    /// Binds global `i` to the top of the stack and leaves the symbol as the value.
    DefineGlobal(u32),
    Pop,
    /// Names the unnamed serializer on top of the stack (if it is one) after constant symbol `i`.
    Name(u32),
    Jump(u32),
    JumpIfFalse(u32),
    /// Makes a closure of nested procedure `i`, capturing as its `captures` list says.
    Closure(u32),
    Call(u32),
    TailCall(u32),
    /// A call of global `g` that is usually built-in `op` with its arguments on the stack:
    /// done in place while `g` still holds that built-in, else an ordinary call.
    Builtin {
        g: u32,
        op: Fast,
        tail: bool,
    },
    /// `Builtin` of two arguments, local `slot` and constant `k` (as in `(- n 1)`), not in
    /// tail position.
    BuiltinLocalConst {
        g: u32,
        op: Fast,
        slot: u16,
        k: u16,
    },
    /// A comparison of local `slot` with constant `k` that decides a branch (`(if (< n 2) …)`):
    /// jumps to `target` when false, else skips the `JumpIfFalse(target)` that always follows.
    /// When `g` no longer holds the built-in or an operand is not an integer, it acts as
    /// `BuiltinLocalConst` and that `JumpIfFalse` takes the result.
    TestLocalConst {
        g: u16,
        op: Fast,
        slot: u16,
        k: u16,
        target: u32,
    },
    Return,
    /// Returns local `i` (`Local(i)` then `Return`).
    ReturnLocal(u32),
    /// `(effect op a…)`: constant `op` holds the op symbol; `argc` arguments are on the stack.
    Effect {
        op: u32,
        argc: u32,
    },
    /// `(handle …)`: on the stack are the body thunk, `n` clause closures (their ops in
    /// constant `ops`) and, if `ret`, the return clause.
    Handle {
        ops: u32,
        n: u32,
        ret: bool,
    },
    /// `(parallel …)`: `n` thunks on the stack.
    Parallel(u32),
    /// `(guard …)`: the body thunk and the handler on the stack.
    Guard,
    /// `(delay E)`: a thunk on the stack becomes a promise; `force_result` for `delay-force`.
    Delay {
        force_result: bool,
    },
}

/// Built-ins common enough in loops to get an instruction of their own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fast {
    Add,
    Sub,
    Mul,
    Lt,
    Gt,
    Le,
    Ge,
    NumEq,
    Car,
    Cdr,
    Cons,
    IsNull,
    IsPair,
    Not,
    IsEq,
    IsZero,
}

impl Fast {
    pub const ALL: [Fast; 16] = [
        Fast::Add,
        Fast::Sub,
        Fast::Mul,
        Fast::Lt,
        Fast::Gt,
        Fast::Le,
        Fast::Ge,
        Fast::NumEq,
        Fast::Car,
        Fast::Cdr,
        Fast::Cons,
        Fast::IsNull,
        Fast::IsPair,
        Fast::Not,
        Fast::IsEq,
        Fast::IsZero,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Fast::Add => "+",
            Fast::Sub => "-",
            Fast::Mul => "*",
            Fast::Lt => "<",
            Fast::Gt => ">",
            Fast::Le => "<=",
            Fast::Ge => ">=",
            Fast::NumEq => "=",
            Fast::Car => "car",
            Fast::Cdr => "cdr",
            Fast::Cons => "cons",
            Fast::IsNull => "null?",
            Fast::IsPair => "pair?",
            Fast::Not => "not",
            Fast::IsEq => "eq?",
            Fast::IsZero => "zero?",
        }
    }

    /// Whether the instruction compares two numbers.
    pub fn is_comparison(self) -> bool {
        matches!(self, Fast::Lt | Fast::Gt | Fast::Le | Fast::Ge | Fast::NumEq)
    }

    /// How many arguments the instruction takes.
    pub fn arity(self) -> usize {
        match self {
            Fast::Car | Fast::Cdr | Fast::IsNull | Fast::IsPair | Fast::Not | Fast::IsZero => 1,
            _ => 2,
        }
    }

    /// The instruction for a call of global `name` (or its internal alias `#%name`).
    pub fn from_name(name: &str) -> Option<Fast> {
        let name = name.strip_prefix("#%").unwrap_or(name);
        Fast::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// Asserts what the instruction loop relies on to read instructions without bounds checks:
/// every jump target is an instruction, the last instruction never goes on to the next (it
/// returns or tail-calls), and a `TestLocalConst` is followed by the `JumpIfFalse` it fuses.
pub fn check_code(code: &[Op]) {
    let last_returns = matches!(code.last(), Some(Op::Return | Op::ReturnLocal(_) | Op::Builtin { tail: true, .. }));
    assert!(last_returns, "compiled code must end in a return: {:?}", code.last());
    for (i, op) in code.iter().enumerate() {
        match *op {
            Op::Jump(t) | Op::JumpIfFalse(t) => assert!((t as usize) < code.len(), "jump target {t} out of bounds"),
            Op::TestLocalConst { target, .. } => {
                assert!(matches!(code.get(i + 1), Some(&Op::JumpIfFalse(t)) if t == target), "unfused test at {i}")
            }
            _ => {}
        }
    }
}

/// Where a closure's captured variable comes from in the procedure that makes it.
#[derive(Clone, Copy, Debug)]
pub enum CaptureFrom {
    Local(u32),
    Capture(u32),
    /// The closure of the procedure that makes it (a nested procedure naming the local
    /// procedure it is inside).
    OwnClosure,
}

/// A compiled procedure (or a compiled top-level form, a procedure of no arguments).
pub struct Proto {
    pub name: Option<Symbol>,
    pub params: u32,
    pub rest: bool,
    /// All locals, parameters included.
    pub locals: u32,
    pub code: Vec<Op>,
    pub spans: Vec<Span>,
    pub consts: Vec<Value>,
    pub protos: Vec<Rc<Proto>>,
    pub captures: Vec<CaptureFrom>,
    /// Names of locals and captures, for "used before its definition" messages.
    pub local_names: Vec<Symbol>,
    pub capture_names: Vec<Symbol>,
    /// Which loaded source the spans point into.
    pub source: u32,
    /// Procedures of the prelude are left out of call stacks.
    pub hidden: bool,
    /// The whole form, for procedures' locations.
    pub span: Span,
}

impl Proto {
    pub fn arity_text(&self) -> String {
        let n = self.params as usize;
        let noun = if n == 1 { "argument" } else { "arguments" };
        if self.rest {
            format!("at least {n} {noun}")
        } else {
            format!("{n} {noun}")
        }
    }
}
