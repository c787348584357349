//! Run-time values. A `Value` is 16 bytes: immediates inline, everything else behind an `Rc`.
//!
//! Evaluation happens on one OS thread (tasks are green threads), so values use `Rc`/`RefCell`.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

use crate::error::Error;
use crate::symbol::Symbol;

#[derive(Clone, Default)]
pub enum Value {
    /// The value of `set!`, `display`, a one-armed `if` not taken…; never printed at top level.
    #[default]
    Unspecified,
    /// A `letrec`/internal-define variable before its initialisation; never escapes to programs.
    Undefined,
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Char(char),
    Symbol(Symbol),
    Str(Rc<str>),
    Pair(Rc<Pair>),
    Vector(Rc<RefCell<Vec<Value>>>),
    Closure(Rc<crate::vm::Closure>),
    Primitive(&'static Primitive),
    /// A mutable cell shared by closures (a `set!` variable); internal to the evaluator.
    Boxed(Rc<RefCell<Value>>),
    Object(Rc<Object>),
}

/// A mutable pair. Long lists are dropped iteratively (see `Drop`).
pub struct Pair {
    pub car: RefCell<Value>,
    pub cdr: RefCell<Value>,
}

/// A primitive procedure: a Rust function over already-evaluated arguments.
pub struct Primitive {
    pub name: &'static str,
    pub min: usize,
    /// `None`: variadic.
    pub max: Option<usize>,
    pub f: fn(&mut crate::primitives::Ctx, &[Value]) -> Result<Value, Error>,
}

/// Heap objects that are neither pairs, vectors nor procedures.
pub enum Object {
    /// R7RS-style hash tables and SICP tables (`table: true`): insertion-ordered, `equal?` keys by default.
    Table(Table),
    Promise(RefCell<Promise>),
    /// `make-mutable-context`.
    Context(RefCell<Value>),
    /// `make-buffer`: chunks by position.
    Buffer {
        id: u64,
        chunks: RefCell<BTreeMap<i64, Value>>,
    },
    Serializer(Rc<crate::lock::Lock>),
    Mutex(Rc<crate::lock::Lock>),
    /// `(s proc)`: calling it acquires `s` around a call of `proc`.
    Serialized {
        lock: Rc<crate::lock::Lock>,
        proc: Value,
    },
    Continuation(Rc<crate::vm::Continuation>),
    Meaning {
        denotation: Value,
        confidence: Value,
        trace: Value,
    },
    /// `search.op` results: entries by descending weight.
    Dist(Vec<(Value, f64)>),
    Error(ErrorObject),
    Record {
        rtd: Rc<RecordType>,
        fields: RefCell<Vec<Value>>,
    },
    RecordType(Rc<RecordType>),
    /// A procedure defined by a record type: constructor, predicate, accessor or modifier.
    RecordProc {
        rtd: Rc<RecordType>,
        kind: RecordProcKind,
        name: Symbol,
    },
    /// `(compose f g …)`.
    Composed(Vec<Value>),
}

pub struct ErrorObject {
    pub kind: Option<Symbol>,
    pub message: Rc<str>,
    pub irritants: Vec<Value>,
}

pub struct RecordType {
    pub name: Symbol,
    pub fields: Vec<Symbol>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum RecordProcKind {
    /// Takes this many arguments: the first fields of the descriptor.
    Constructor(usize),
    Predicate,
    Accessor(usize),
    Modifier(usize),
}

pub enum Promise {
    Delayed(Value /* thunk */),
    /// `delay-force`: forcing runs the thunk and then forces its result.
    DelayedForce(Value),
    Forced(Value),
}

/// Keys compared with `equal?` (or `eqv?`/`string=?` as the table was made with).
pub struct Table {
    pub id: u64,
    pub is_sicp: bool,
    pub weak_eq: bool,
    pub entries: RefCell<indexmap::IndexMap<Key, Value>>,
    /// Name of the variable a serializer kept in it was bound to, for messages; unused otherwise.
    pub label: Cell<Option<Symbol>>,
}

/// A hash-table key: hashes and compares by `equal?` (or `eqv?` when `eqv` is set).
#[derive(Clone)]
pub struct Key {
    pub value: Value,
    pub eqv: bool,
}

impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        crate::equality::hash_value(&self.value, self.eqv, state)
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        if self.eqv {
            crate::equality::eqv(&self.value, &other.value)
        } else {
            crate::equality::equal(&self.value, &other.value)
        }
    }
}
impl Eq for Key {}

impl Value {
    pub fn sym(name: &str) -> Value {
        Value::Symbol(Symbol::intern(name))
    }

    pub fn str(s: &str) -> Value {
        Value::Str(s.into())
    }

    pub fn cons(car: Value, cdr: Value) -> Value {
        Value::Pair(Rc::new(Pair { car: RefCell::new(car), cdr: RefCell::new(cdr) }))
    }

    pub fn object(o: Object) -> Value {
        Value::Object(Rc::new(o))
    }

    /// A proper list of the items.
    pub fn list(items: impl IntoIterator<Item = Value, IntoIter: DoubleEndedIterator>) -> Value {
        Value::list_with_tail(items, Value::Null)
    }

    pub fn list_with_tail(items: impl IntoIterator<Item = Value, IntoIter: DoubleEndedIterator>, tail: Value) -> Value {
        items.into_iter().rev().fold(tail, |acc, v| Value::cons(v, acc))
    }

    pub fn is_true(&self) -> bool {
        !matches!(self, Value::Bool(false))
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The elements of a proper list, or `None` for an improper or cyclic one.
    /// The elements of a proper list; `None` for anything else, cyclic lists included.
    pub fn list_to_vec(&self) -> Option<Vec<Value>> {
        let mut out = Vec::new();
        let mut cur = self.clone();
        let mut cycle = CycleCheck::default();
        loop {
            match cur {
                Value::Null => return Some(out),
                Value::Pair(p) => {
                    if cycle.seen_again(&p) {
                        return None;
                    }
                    out.push(p.car());
                    cur = p.cdr();
                }
                _ => return None,
            }
        }
    }

    pub fn is_procedure(&self) -> bool {
        match self {
            Value::Closure(_) | Value::Primitive(_) => true,
            Value::Object(o) => matches!(
                **o,
                Object::Serializer(_)
                    | Object::Serialized { .. }
                    | Object::Continuation(_)
                    | Object::RecordProc { .. }
                    | Object::Composed(_)
            ),
            _ => false,
        }
    }

    /// The name a type error shows for the kind of this value.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Unspecified | Value::Undefined => "unspecified",
            Value::Null => "empty list",
            Value::Bool(_) => "boolean",
            Value::Int(_) | Value::Float(_) => "number",
            Value::Char(_) => "char",
            Value::Symbol(_) => "symbol",
            Value::Str(_) => "string",
            Value::Pair(_) => "pair",
            Value::Vector(_) => "vector",
            Value::Closure(_) | Value::Primitive(_) => "procedure",
            Value::Boxed(_) => "box",
            Value::Object(o) => match **o {
                Object::Table(ref t) if t.is_sicp => "table",
                Object::Table(_) => "hash table",
                Object::Promise(_) => "promise",
                Object::Context(_) => "context",
                Object::Buffer { .. } => "buffer",
                Object::Serializer(_) => "serializer",
                Object::Mutex(_) => "mutex",
                Object::Meaning { .. } => "meaning",
                Object::Dist(_) => "distribution",
                Object::Error(_) => "error object",
                Object::Record { .. } => "record",
                Object::RecordType(_) => "record type",
                Object::Serialized { .. }
                | Object::Continuation(_)
                | Object::RecordProc { .. }
                | Object::Composed(_) => "procedure",
            },
        }
    }
}

impl Pair {
    pub fn car(&self) -> Value {
        self.car.borrow().clone()
    }
    pub fn cdr(&self) -> Value {
        self.cdr.borrow().clone()
    }
}

impl Drop for Pair {
    /// Unlinks chains of uniquely owned pairs with a work list, so dropping a list of a
    /// million elements (or a deep tree) never recurses on the host stack.
    fn drop(&mut self) {
        let mut work = Vec::new();
        unlink(self.car.get_mut(), &mut work);
        unlink(self.cdr.get_mut(), &mut work);
        while let Some(v) = work.pop() {
            match v {
                Value::Pair(rc) => {
                    if let Ok(mut pair) = Rc::try_unwrap(rc) {
                        unlink(pair.car.get_mut(), &mut work);
                        unlink(pair.cdr.get_mut(), &mut work);
                    }
                }
                // Streams chain pairs through promises: `(a . #<promise (b . #<promise …>)>)`.
                Value::Object(rc) => {
                    if let Ok(Object::Promise(cell)) = Rc::try_unwrap(rc) {
                        match cell.into_inner() {
                            Promise::Delayed(v) | Promise::DelayedForce(v) | Promise::Forced(v) => work.push(v),
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// Moves a pair or promise that this drop frees (its only owner is `v`) onto the work list;
/// shared ones just lose a reference, which frees nothing.
fn unlink(v: &mut Value, work: &mut Vec<Value>) {
    let unique = match v {
        Value::Pair(rc) => Rc::strong_count(rc) == 1,
        Value::Object(rc) => Rc::strong_count(rc) == 1 && matches!(**rc, Object::Promise(_)),
        _ => false,
    };
    if unique {
        work.push(std::mem::take(v));
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::printer::write_string(self))
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::printer::display_string(self))
    }
}

/// Iterates over the elements of a list, stopping at the first non-pair.
/// Finds a cycle in a walk along `cdr`s (Brent's method: one pointer comparison a step, and
/// a cycle is noticed within twice its length after the walk enters it).
#[derive(Default)]
pub struct CycleCheck {
    mark: Option<*const Pair>,
    power: usize,
    since_mark: usize,
}

impl CycleCheck {
    /// Call with each pair of the walk in turn; true once the walk has come back to a pair.
    pub fn seen_again(&mut self, p: &Rc<Pair>) -> bool {
        let here = Rc::as_ptr(p);
        if self.mark == Some(here) {
            return true;
        }
        self.since_mark += 1;
        if self.since_mark >= self.power {
            self.mark = Some(here);
            self.power = (self.power * 2).max(1);
            self.since_mark = 0;
        }
        false
    }
}

pub struct ListIter(Value);

impl Iterator for ListIter {
    type Item = Value;
    fn next(&mut self) -> Option<Value> {
        match std::mem::take(&mut self.0) {
            Value::Pair(p) => {
                let item = p.car();
                self.0 = p.cdr();
                Some(item)
            }
            _ => None,
        }
    }
}

impl Value {
    pub fn iter(&self) -> ListIter {
        ListIter(self.clone())
    }
}
