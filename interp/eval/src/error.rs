//! Evaluation errors: a message, the raised object, where it happened and the Omega call stack.

use std::fmt;

use crate::syntax::Span;
use crate::value::{ErrorObject, Object, Value};
pub use crate::wait_cycle::{LockKind, WaitCycle, WaitStep, Waited};

/// A place in a loaded source: which source (an index into the session's sources) and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Loc {
    pub source: u32,
    pub span: Span,
}

/// One line of an Omega call stack: the procedure and the call site in it that is running.
#[derive(Clone, Debug, PartialEq)]
pub struct StackFrame {
    pub name: String,
    pub loc: Option<Loc>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Raised by the program or a primitive; catchable by `guard`.
    Eval,
    /// A malformed special form, found when its top-level form is expanded.
    Syntax,
    /// An LLM request failed.
    Llm,
    /// The recursion depth limit was reached; catchable like any error.
    Limit,
    /// The step or time budget of the evaluation ran out (`--max-steps`, `--timeout`). Never
    /// caught by programs: a `guard` that caught it could keep running past the budget.
    Budget,
    /// A cycle of tasks waiting on each other.
    Deadlock,
    /// The evaluation was cancelled from outside; never caught by programs.
    Cancelled,
    /// `(exit [code])`; never caught by programs.
    Exit(i32),
}

pub struct Error {
    pub kind: ErrorKind,
    /// The whole message as users see it, e.g. `car: expected pair, got ()`.
    pub message: String,
    /// What `guard` binds: an error object, or the value given to `raise`.
    pub payload: Option<Value>,
    /// The innermost form at fault.
    pub loc: Option<Loc>,
    /// Innermost first.
    pub stack: Vec<StackFrame>,
    /// Other places that explain the error: for a deadlock, where each other task on the
    /// cycle waits, with its call stack. A boxed slice, not a `Vec`: it is rarely filled and
    /// the saved word pays for `cycle`, keeping `Error` at 120 bytes.
    pub related: Box<[Related]>,
    /// For a deadlock: the cycle of waiting tasks the message spells, as data. Boxed: errors
    /// travel on hot paths and most have none.
    pub cycle: Option<Box<WaitCycle>>,
}

// Errors are returned on every fallible step: a bigger one makes every `Result` bigger (and
// clippy's `result_large_err` starts at 128 bytes).
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<Error>() <= 120);

/// A place that explains an error.
#[derive(Clone, Debug, PartialEq)]
pub struct Related {
    pub message: String,
    pub loc: Option<Loc>,
    pub stack: Vec<StackFrame>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(message: impl Into<String>) -> Error {
        Error {
            kind: ErrorKind::Eval,
            message: message.into(),
            payload: None,
            loc: None,
            stack: Vec::new(),
            related: Box::default(),
            cycle: None,
        }
    }

    /// A deadlock error whose message is printed from `cycle`.
    pub fn deadlock(cycle: WaitCycle) -> Error {
        let message = cycle.message();
        Error { cycle: Some(Box::new(cycle)), ..Error::with_kind(ErrorKind::Deadlock, message) }
    }

    pub fn with_kind(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error { kind, ..Error::new(message) }
    }

    /// `NAME: expected TYPE, got VALUE`.
    pub fn wrong_type(name: &str, expected: &str, got: &Value) -> Error {
        Error::new(format!("{name}: expected {expected}, got {}", crate::printer::write_short(got)))
    }

    /// Programs can catch it with `guard`.
    pub fn is_catchable(&self) -> bool {
        !matches!(self.kind, ErrorKind::Cancelled | ErrorKind::Budget | ErrorKind::Exit(_))
    }

    /// The object `guard` binds for this error: the raised value, or an error object built from
    /// the message.
    pub fn condition(&self) -> Value {
        match &self.payload {
            Some(v) => v.clone(),
            None => Value::object(Object::Error(ErrorObject {
                kind: None,
                message: self.message.as_str().into(),
                irritants: Vec::new(),
            })),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The message of an error object: `TYPE: MESSAGE IRRITANT…` (irritants in `write` form).
pub fn error_object_message(e: &ErrorObject) -> String {
    let mut s = match e.kind {
        Some(kind) => format!("{kind}: {}", e.message),
        None => e.message.to_string(),
    };
    for i in &e.irritants {
        s.push(' ');
        s.push_str(&crate::printer::write_string(i));
    }
    s
}
