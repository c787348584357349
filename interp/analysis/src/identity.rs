//! Who a serializer is (its display name, as in docs/language.md §8.2) and the key terms that
//! name keyed ones (the guarded idiom of docs/language.md §9).
//!
//! Serializers are named by what made them, never by their `make-serializer` call site: each
//! abstract evaluation of `(make-serializer)` gets its own id, and the top-level `define`
//! that receives it (or the first variable bound to it) gives the display name.

use std::fmt;
use std::rc::Rc;

use crate::symbol::Symbol;

use super::resolve::BindingId;

/// A literal that can serve as a key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lit {
    Int(i64),
    Str(std::sync::Arc<str>),
    Sym(Symbol),
    Char(char),
    Bool(bool),
}

impl Lit {
    /// The total order that `<`, `string<?` and `char<?` use, when both sides are comparable.
    pub fn compare(&self, other: &Lit) -> Option<std::cmp::Ordering> {
        match (self, other) {
            (Lit::Int(a), Lit::Int(b)) => Some(a.cmp(b)),
            (Lit::Str(a), Lit::Str(b)) => Some(a.cmp(b)),
            (Lit::Char(a), Lit::Char(b)) => Some(a.cmp(b)),
            (Lit::Sym(a), Lit::Sym(b)) => Some(a.as_str().cmp(b.as_str())),
            (Lit::Bool(a), Lit::Bool(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }
}

impl fmt::Display for Lit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Lit::Int(n) => write!(f, "{n}"),
            Lit::Str(s) => write!(f, "{s:?}"),
            Lit::Sym(s) => write!(f, "'{s}"),
            Lit::Char(c) => write!(f, "#\\{c}"),
            Lit::Bool(b) => f.write_str(if *b { "#t" } else { "#f" }),
        }
    }
}

/// A symbolic description of a key value.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Term {
    Lit(Lit),
    /// A binding instance whose value is not known: the same `Var` is the same value.
    Var(u32, Symbol),
    /// A top-level variable never `set!`: one value for the whole run.
    Global(BindingId, Symbol),
    /// A pure accessor (`car`, `cdr`, …) applied to a term.
    Acc(Symbol, Rc<Term>),
}

impl Term {
    /// Ground terms mean the same value in every task and call.
    pub fn is_ground(&self) -> bool {
        match self {
            Term::Lit(_) | Term::Global(..) => true,
            Term::Var(..) => false,
            Term::Acc(_, t) => t.is_ground(),
        }
    }

    pub fn lit(&self) -> Option<&Lit> {
        match self {
            Term::Lit(l) => Some(l),
            _ => None,
        }
    }
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Term::Lit(l) => write!(f, "{l}"),
            Term::Var(_, s) | Term::Global(_, s) => write!(f, "{s}"),
            Term::Acc(op, t) => write!(f, "({op} {t})"),
        }
    }
}

/// A collection of serializers fetched by key: a top-level list/alist (its define) or a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CollId {
    Def(BindingId),
    Obj(u32),
}

/// A serializer identity as the checks see it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LockId {
    /// One abstract `(make-serializer)` result; its name comes from the binder that got it.
    Made(u32),
    /// Fetched from a collection by a key term; `label` is the local variable used for it.
    Keyed { coll: CollId, key: Term, label: Option<Symbol> },
    /// Parameter `index` of a procedure nothing calls.
    Param { proc: Symbol, index: usize, name: Symbol },
    /// A lock the analysis cannot name (a mutex taken with `mutex-acquire`): no graph node,
    /// never a common serializer, never a self-deadlock, and a race side holding it is silent
    /// (silence rather than a guess, as docs/language.md §9 promises).
    Unknown,
}

/// Three-valued identity test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Same {
    Yes,
    Maybe,
    No,
}

impl LockId {
    pub fn coll(&self) -> Option<CollId> {
        match self {
            LockId::Keyed { coll, .. } => Some(*coll),
            _ => None,
        }
    }

    pub fn key(&self) -> Option<&Term> {
        match self {
            LockId::Keyed { key, .. } => Some(key),
            _ => None,
        }
    }

    /// Whether two identities denote the same serializer; `distinct` says whether the facts
    /// in force prove two key terms different.
    pub fn same(&self, other: &LockId, distinct: impl Fn(&Term, &Term) -> bool) -> Same {
        match (self, other) {
            (LockId::Made(a), LockId::Made(b)) => {
                if a == b {
                    Same::Yes
                } else {
                    Same::No
                }
            }
            (LockId::Keyed { coll: c1, key: k1, .. }, LockId::Keyed { coll: c2, key: k2, .. }) => {
                if c1 != c2 {
                    Same::No
                } else if k1 == k2 {
                    Same::Yes
                } else if distinct(k1, k2) {
                    Same::No
                } else {
                    Same::Maybe
                }
            }
            (LockId::Param { proc: p1, index: i1, .. }, LockId::Param { proc: p2, index: i2, .. }) => {
                if p1 == p2 && i1 == i2 {
                    Same::Yes
                } else {
                    Same::Maybe
                }
            }
            (LockId::Unknown, _) | (_, LockId::Unknown) => Same::No,
            (LockId::Param { .. }, _) | (_, LockId::Param { .. }) => Same::Maybe,
            _ => Same::No,
        }
    }
}
