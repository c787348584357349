//! The core language that every special form and macro expands to.
//!
//! Variables are resolved: a local is a `VarId` with what codegen needs to know about it
//! (is it assigned? captured by a closure? bound by `letrec`?); a global is its symbol.

use std::rc::Rc;

use crate::symbol::Symbol;
use crate::syntax::Span;
use crate::value::Value;

pub type VarId = usize;

pub struct VarInfo {
    pub name: Symbol,
    /// The procedure whose frame holds the variable.
    pub owner: usize,
    pub assigned: bool,
    pub captured: bool,
    /// Bound by `letrec`/internal `define`: may be read before it is initialised.
    pub letrec: bool,
    /// For a `letrec` variable never assigned and bound to a procedure: that procedure, in
    /// which (and in whose nested procedures) the variable is the running closure itself
    /// (see `own_name`).
    pub own_procedure: Option<usize>,
}

impl VarInfo {
    /// Lives in a box: closures copy captured values, so a variable that changes after a
    /// closure captured it must be shared through a box.
    pub fn boxed(&self) -> bool {
        self.assigned || (self.letrec && self.captured)
    }
}

pub struct Node {
    pub expr: Expr,
    pub span: Span,
}

pub enum Expr {
    Const(Value),
    Local(VarId),
    Global(Symbol),
    SetLocal(VarId, Box<Node>),
    SetGlobal(Symbol, Box<Node>),
    DefineGlobal(Symbol, Box<Node>),
    If(Box<Node>, Box<Node>, Box<Node>),
    Seq(Vec<Node>),
    Lambda(Rc<Lambda>),
    Call(Box<Node>, Vec<Node>),
    /// Binds fresh locals of the current procedure, inits evaluated in order.
    Let(Vec<(VarId, Node)>, Box<Node>),
    /// Binds `letrec` locals (not yet initialised); the body initialises them with `Init`.
    Letrec(Vec<VarId>, Box<Node>),
    Init(VarId, Box<Node>),
    Effect(Symbol, Vec<Node>),
    /// Clauses: op, whether the clause takes the argument list as one parameter, procedure.
    Handle {
        body: Box<Node>,
        clauses: Vec<(Symbol, bool, Node)>,
        ret: Option<Box<Node>>,
    },
    Parallel(Vec<Node>),
    Guard {
        body: Box<Node>,
        handler: Box<Node>,
    },
    Delay {
        thunk: Box<Node>,
        force_result: bool,
    },
}

pub struct Lambda {
    pub name: Option<Symbol>,
    pub params: Vec<VarId>,
    pub rest: Option<VarId>,
    pub body: Node,
    /// Index of this procedure in the expander's procedure list (owner of its variables).
    pub id: usize,
    pub span: Span,
}

impl Node {
    pub fn new(expr: Expr, span: Span) -> Node {
        Node { expr, span }
    }
    pub fn unspecified(span: Span) -> Node {
        Node::new(Expr::Const(Value::Unspecified), span)
    }
}
