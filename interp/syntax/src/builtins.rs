//! The built-in procedures' names, arities and tiers (language.md §4): one table that the
//! evaluator's registry, the static analysis and the docs check agree on.

/// Arity and tier of a built-in procedure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signature {
    pub name: &'static str,
    pub min: usize,
    /// `None`: variadic.
    pub max: Option<usize>,
    pub tier: u8,
}

impl Signature {
    pub fn accepts(&self, n: usize) -> bool {
        n >= self.min && self.max.is_none_or(|max| n <= max)
    }
}

/// The signature of a built-in procedure, if `name` is one.
pub fn signature(name: &str) -> Option<&'static Signature> {
    SIGNATURES.iter().find(|s| s.name == name)
}

const fn sig(name: &'static str, min: usize, max: Option<usize>, tier: u8) -> Signature {
    Signature { name, min, max, tier }
}

/// Every built-in procedure of Tiers 1 and 2, in the order of language.md §4.
pub const SIGNATURES: &[Signature] = &[
    sig("+", 0, None, 1),
    sig("*", 0, None, 1),
    sig("-", 1, None, 1),
    sig("/", 1, None, 1),
    sig("quotient", 2, Some(2), 1),
    sig("remainder", 2, Some(2), 1),
    sig("modulo", 2, Some(2), 1),
    sig("abs", 1, Some(1), 1),
    sig("min", 1, None, 1),
    sig("max", 1, None, 1),
    sig("floor", 1, Some(1), 1),
    sig("ceiling", 1, Some(1), 1),
    sig("round", 1, Some(1), 1),
    sig("truncate", 1, Some(1), 1),
    sig("sqrt", 1, Some(1), 1),
    sig("expt", 2, Some(2), 1),
    sig("exact", 1, Some(1), 1),
    sig("inexact", 1, Some(1), 1),
    sig("exact->inexact", 1, Some(1), 1),
    sig("inexact->exact", 1, Some(1), 1),
    sig("number->string", 1, Some(2), 1),
    sig("string->number", 1, Some(2), 1),
    sig("=", 1, None, 1),
    sig("<", 1, None, 1),
    sig(">", 1, None, 1),
    sig("<=", 1, None, 1),
    sig(">=", 1, None, 1),
    sig("number?", 1, Some(1), 1),
    sig("integer?", 1, Some(1), 1),
    sig("exact?", 1, Some(1), 1),
    sig("inexact?", 1, Some(1), 1),
    sig("zero?", 1, Some(1), 1),
    sig("positive?", 1, Some(1), 1),
    sig("negative?", 1, Some(1), 1),
    sig("odd?", 1, Some(1), 1),
    sig("even?", 1, Some(1), 1),
    sig("exp", 1, Some(1), 2),
    sig("log", 1, Some(2), 2),
    sig("sin", 1, Some(1), 2),
    sig("cos", 1, Some(1), 2),
    sig("tan", 1, Some(1), 2),
    sig("asin", 1, Some(1), 2),
    sig("acos", 1, Some(1), 2),
    sig("atan", 1, Some(2), 2),
    sig("square", 1, Some(1), 2),
    sig("gcd", 0, None, 2),
    sig("lcm", 0, None, 2),
    sig("exact-integer?", 1, Some(1), 2),
    sig("nan?", 1, Some(1), 2),
    sig("random", 1, Some(1), 2),
    sig("not", 1, Some(1), 1),
    sig("boolean?", 1, Some(1), 1),
    sig("symbol?", 1, Some(1), 1),
    sig("string?", 1, Some(1), 1),
    sig("procedure?", 1, Some(1), 1),
    sig("pair?", 1, Some(1), 1),
    sig("null?", 1, Some(1), 1),
    sig("list?", 1, Some(1), 1),
    sig("eq?", 2, Some(2), 1),
    sig("eqv?", 2, Some(2), 1),
    sig("equal?", 2, Some(2), 1),
    sig("boolean=?", 2, None, 2),
    sig("vector?", 1, Some(1), 2),
    sig("char?", 1, Some(1), 2),
    sig("cons", 2, Some(2), 1),
    sig("car", 1, Some(1), 1),
    sig("cdr", 1, Some(1), 1),
    sig("caar", 1, Some(1), 1),
    sig("cadr", 1, Some(1), 1),
    sig("cdar", 1, Some(1), 1),
    sig("cddr", 1, Some(1), 1),
    sig("caddr", 1, Some(1), 1),
    sig("cdddr", 1, Some(1), 1),
    sig("cadddr", 1, Some(1), 1),
    sig("list", 0, None, 1),
    sig("length", 1, Some(1), 1),
    sig("append", 0, None, 1),
    sig("reverse", 1, Some(1), 1),
    sig("list-ref", 2, Some(2), 1),
    sig("list-tail", 2, Some(2), 1),
    sig("last-pair", 1, Some(1), 1),
    sig("list-copy", 1, Some(1), 1),
    sig("memq", 2, Some(2), 1),
    sig("memv", 2, Some(2), 1),
    sig("member", 2, Some(3), 1),
    sig("assq", 2, Some(2), 1),
    sig("assv", 2, Some(2), 1),
    sig("assoc", 2, Some(3), 1),
    sig("sort", 2, Some(2), 1),
    sig("set-car!", 2, Some(2), 2),
    sig("set-cdr!", 2, Some(2), 2),
    sig("iota", 1, Some(3), 2),
    sig("last", 1, Some(1), 2),
    sig("delete", 2, Some(2), 2),
    sig("delete-duplicates", 1, Some(1), 2),
    sig("remove", 2, Some(2), 2),
    sig("partition", 2, Some(2), 2),
    sig("list-index", 2, Some(2), 2),
    sig("any", 2, None, 2),
    sig("every", 2, None, 2),
    sig("append-map", 2, None, 2),
    sig("filter-map", 2, None, 2),
    sig("map", 2, None, 1),
    sig("for-each", 2, None, 1),
    sig("filter", 2, Some(2), 1),
    sig("fold", 3, None, 1),
    sig("fold-left", 3, None, 1),
    sig("fold-right", 3, None, 1),
    sig("reduce", 3, Some(3), 1),
    sig("apply", 2, None, 1),
    sig("compose", 0, None, 1),
    sig("identity", 1, Some(1), 1),
    sig("foldr", 3, Some(3), 2),
    sig("andmap", 2, None, 2),
    sig("ormap", 2, None, 2),
    sig("string-length", 1, Some(1), 1),
    sig("string-append", 0, None, 1),
    sig("substring", 2, Some(3), 1),
    sig("string=?", 1, None, 1),
    sig("string<?", 1, None, 1),
    sig("string>?", 1, None, 1),
    sig("string<=?", 1, None, 1),
    sig("string>=?", 1, None, 1),
    sig("string-upcase", 1, Some(1), 1),
    sig("string-downcase", 1, Some(1), 1),
    sig("string-trim", 1, Some(1), 1),
    sig("string-contains?", 2, Some(2), 1),
    sig("string-split", 2, Some(2), 1),
    sig("string-join", 1, Some(2), 1),
    sig("string-replace-all", 3, Some(3), 1),
    sig("symbol->string", 1, Some(1), 1),
    sig("string->symbol", 1, Some(1), 1),
    sig("string-ci=?", 1, None, 2),
    sig("string-prefix?", 2, Some(2), 2),
    sig("string-suffix?", 2, Some(2), 2),
    sig("string-trim-left", 1, Some(1), 2),
    sig("string-trim-right", 1, Some(1), 2),
    sig("string-copy", 1, Some(1), 2),
    sig("string-ref", 2, Some(2), 2),
    sig("string->list", 1, Some(1), 2),
    sig("list->string", 1, Some(1), 2),
    sig("string", 0, None, 2),
    sig("format", 1, None, 2),
    sig("gensym", 0, Some(1), 2),
    sig("char->integer", 1, Some(1), 2),
    sig("integer->char", 1, Some(1), 2),
    sig("char-upcase", 1, Some(1), 2),
    sig("char-downcase", 1, Some(1), 2),
    sig("char-alphabetic?", 1, Some(1), 2),
    sig("char-numeric?", 1, Some(1), 2),
    sig("char-whitespace?", 1, Some(1), 2),
    sig("char=?", 1, None, 2),
    sig("char<?", 1, None, 2),
    sig("vector", 0, None, 2),
    sig("make-vector", 1, Some(2), 2),
    sig("vector-length", 1, Some(1), 2),
    sig("vector-ref", 2, Some(2), 2),
    sig("vector-set!", 3, Some(3), 2),
    sig("vector->list", 1, Some(1), 2),
    sig("list->vector", 1, Some(1), 2),
    sig("vector-fill!", 2, Some(2), 2),
    sig("vector-map", 2, None, 2),
    sig("vector-for-each", 2, None, 2),
    sig("make-hash-table", 0, Some(1), 1),
    sig("hash-table?", 1, Some(1), 1),
    sig("hash-table-set!", 3, Some(3), 1),
    sig("hash-table-ref", 2, Some(3), 1),
    sig("hash-table-ref/default", 3, Some(3), 1),
    sig("hash-table-delete!", 2, Some(2), 1),
    sig("hash-table-contains?", 2, Some(2), 1),
    sig("hash-table-count", 1, Some(1), 1),
    sig("hash-table-keys", 1, Some(1), 1),
    sig("hash-table-values", 1, Some(1), 1),
    sig("hash-table->alist", 1, Some(1), 1),
    sig("hash-table-update!", 3, Some(4), 1),
    sig("hash-table-update!/default", 4, Some(4), 1),
    sig("hash-table-walk", 2, Some(2), 2),
    sig("hash-table-clear!", 1, Some(1), 2),
    sig("hash-table-copy", 1, Some(1), 2),
    sig("make-hash", 0, Some(0), 2),
    sig("hash-ref", 2, Some(3), 2),
    sig("hash-set!", 3, Some(3), 2),
    sig("hash-has-key?", 2, Some(2), 2),
    sig("make-table", 0, Some(0), 1),
    sig("lookup", 2, Some(3), 1),
    sig("insert!", 3, Some(4), 1),
    sig("table->alist", 1, Some(1), 1),
    sig("table?", 1, Some(1), 1),
    sig("put", 3, Some(3), 2),
    sig("get", 2, Some(2), 2),
    sig("read-table", 1, Some(1), 1),
    sig("add-entry", 3, Some(3), 1),
    sig("write-table!", 2, Some(2), 1),
    sig("detect-conflict", 3, Some(4), 1),
    sig("make-mutable-context", 0, Some(1), 1),
    sig("read-context", 1, Some(1), 1),
    sig("write-context!", 2, Some(2), 1),
    sig("make-buffer", 0, Some(0), 1),
    sig("insert-at!", 3, Some(3), 1),
    sig("get-buffer", 1, Some(1), 1),
    sig("parallel-map", 2, Some(2), 1),
    sig("make-serializer", 0, Some(1), 1),
    sig("make-mutex", 0, Some(1), 2),
    sig("mutex-acquire", 1, Some(1), 2),
    sig("mutex-release", 1, Some(1), 2),
    sig("yield", 0, Some(0), 2),
    sig("force", 1, Some(1), 1),
    sig("stream-car", 1, Some(1), 1),
    sig("stream-cdr", 1, Some(1), 1),
    sig("stream-null?", 1, Some(1), 1),
    sig("stream-pair?", 1, Some(1), 1),
    sig("stream-map", 2, None, 1),
    sig("stream-filter", 2, Some(2), 1),
    sig("stream->list", 1, Some(2), 1),
    sig("list->stream", 1, Some(1), 1),
    sig("stream-take", 2, Some(2), 1),
    sig("stream-ref", 2, Some(2), 1),
    sig("promise?", 1, Some(1), 2),
    sig("stream-for-each", 2, Some(2), 2),
    sig("stream-append", 0, None, 2),
    sig("stream-interleave", 2, Some(2), 2),
    sig("stream", 0, None, 2),
    sig("display", 1, Some(1), 1),
    sig("write", 1, Some(1), 1),
    sig("newline", 0, Some(0), 1),
    sig("write-string", 1, Some(1), 2),
    sig("print", 0, None, 2),
    sig("read", 1, Some(1), 2),
    sig("exit", 0, Some(1), 2),
    sig("eval", 1, Some(2), 2),
    sig("error", 1, None, 1),
    sig("raise", 1, Some(1), 2),
    sig("error-object?", 1, Some(1), 2),
    sig("error-object-message", 1, Some(1), 2),
    sig("error-object-irritants", 1, Some(1), 2),
    sig("assert", 1, None, 2),
    sig("dynamic-wind", 3, Some(3), 2),
    sig("meaning?", 1, Some(1), 1),
    sig("meaning-denotation", 1, Some(1), 1),
    sig("meaning-confidence", 1, Some(1), 1),
    sig("meaning-trace", 1, Some(1), 1),
    sig("make-meaning", 3, Some(3), 2),
    sig("prompt->string", 1, Some(1), 2),
    sig("dist?", 1, Some(1), 2),
    sig("dist-count", 1, Some(1), 2),
    sig("dist->list", 1, Some(1), 2),
    sig("dist-value-at", 2, Some(2), 2),
    sig("dist-weight-at", 2, Some(2), 2),
    sig("dist-topk", 2, Some(2), 2),
    sig("require", 1, Some(1), 1),
    sig("make-promise", 1, Some(1), 2),
];

/// Built-in global variables that are not procedures.
pub const CONSTANTS: &[&str] = &["the-empty-stream"];

/// Effect operations with a built-in implementation (language.md §6.1).
pub const BUILTIN_OPS: &[&str] = &["infer.op", "int.op", "search.op", "amb.choose", "amb.fail"];

/// An argument position of a primitive, for the shared-state access table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgPos {
    First,
    Second,
    Third,
    Last,
}

impl ArgPos {
    /// The index of this position among `n` arguments.
    pub fn index(self, n: usize) -> Option<usize> {
        let i = match self {
            ArgPos::First => 0,
            ArgPos::Second => 1,
            ArgPos::Third => 2,
            ArgPos::Last => n.checked_sub(1)?,
        };
        (i < n).then_some(i)
    }
}

/// Which arguments of a primitive are shared mutable state it writes or reads
/// (static-analysis.md §4); the evaluator's scheduling points and the race analysis agree on it.
#[derive(Clone, Copy, Debug)]
pub struct StateAccess {
    pub name: &'static str,
    pub writes: &'static [ArgPos],
    pub reads: &'static [ArgPos],
}

const fn acc(name: &'static str, writes: &'static [ArgPos], reads: &'static [ArgPos]) -> StateAccess {
    StateAccess { name, writes, reads }
}

use ArgPos::{First, Last, Second, Third};

pub const STATE_ACCESSES: &[StateAccess] = &[
    acc("insert!", &[Last], &[]),
    acc("add-entry", &[First], &[]),
    acc("write-table!", &[First], &[Second]),
    acc("hash-table-set!", &[First], &[]),
    acc("hash-table-update!", &[First], &[First]),
    acc("hash-table-update!/default", &[First], &[First]),
    acc("hash-table-delete!", &[First], &[]),
    acc("hash-table-clear!", &[First], &[]),
    acc("hash-set!", &[First], &[]),
    acc("set-car!", &[First], &[]),
    acc("set-cdr!", &[First], &[]),
    acc("vector-set!", &[First], &[]),
    acc("vector-fill!", &[First], &[]),
    acc("insert-at!", &[First], &[]),
    acc("write-context!", &[First], &[]),
    acc("lookup", &[], &[Last]),
    acc("read-table", &[], &[First]),
    acc("detect-conflict", &[], &[Second, Third]),
    acc("hash-table-ref", &[], &[First]),
    acc("hash-table-ref/default", &[], &[First]),
    acc("hash-table-contains?", &[], &[First]),
    acc("hash-table-count", &[], &[First]),
    acc("hash-table-keys", &[], &[First]),
    acc("hash-table-values", &[], &[First]),
    acc("hash-table->alist", &[], &[First]),
    acc("hash-table-walk", &[], &[First]),
    acc("hash-table-copy", &[], &[First]),
    acc("hash-ref", &[], &[First]),
    acc("hash-has-key?", &[], &[First]),
    acc("table->alist", &[], &[First]),
    acc("vector-ref", &[], &[First]),
    acc("vector->list", &[], &[First]),
    acc("read-context", &[], &[First]),
    acc("get-buffer", &[], &[First]),
];

/// The shared-state accesses of a primitive, if it makes any.
pub fn state_access(name: &str) -> Option<&'static StateAccess> {
    STATE_ACCESSES.iter().find(|a| a.name == name)
}

#[cfg(test)]
mod access_table_tests {
    use super::*;

    #[test]
    fn every_state_access_names_a_primitive() {
        for a in STATE_ACCESSES {
            assert!(signature(a.name).is_some(), "{} is in STATE_ACCESSES but not in SIGNATURES", a.name);
        }
    }
}
