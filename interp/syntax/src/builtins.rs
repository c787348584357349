//! The built-in procedures: names, arities, tiers and user documentation, in one table that
//! the evaluator's registry, the static analysis, the editor's hover and the generated
//! reference (docs/reference.md) all read.

/// The topic a built-in is listed under in the reference, in the order the reference shows them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Topic {
    Numbers,
    TypesEquality,
    Lists,
    HigherOrder,
    Strings,
    Chars,
    Vectors,
    HashTables,
    SicpTables,
    SharedState,
    Concurrency,
    Streams,
    InputOutput,
    ErrorsControl,
    LlmValues,
}

impl Topic {
    pub const ALL: [Topic; 15] = [
        Topic::Numbers,
        Topic::TypesEquality,
        Topic::Lists,
        Topic::HigherOrder,
        Topic::Strings,
        Topic::Chars,
        Topic::Vectors,
        Topic::HashTables,
        Topic::SicpTables,
        Topic::SharedState,
        Topic::Concurrency,
        Topic::Streams,
        Topic::InputOutput,
        Topic::ErrorsControl,
        Topic::LlmValues,
    ];

    /// The heading of the topic's section.
    pub fn title(self) -> &'static str {
        match self {
            Topic::Numbers => "Numbers",
            Topic::TypesEquality => "Types and equality",
            Topic::Lists => "Pairs and lists",
            Topic::HigherOrder => "Higher-order procedures",
            Topic::Strings => "Strings and symbols",
            Topic::Chars => "Characters",
            Topic::Vectors => "Vectors",
            Topic::HashTables => "Hash tables",
            Topic::SicpTables => "SICP tables",
            Topic::SharedState => "Shared state: snapshots, contexts, buffers",
            Topic::Concurrency => "Tasks, serializers and mutexes",
            Topic::Streams => "Promises and streams",
            Topic::InputOutput => "Output, reading and evaluation",
            Topic::ErrorsControl => "Errors and control",
            Topic::LlmValues => "LLM values: meanings and distributions",
        }
    }

    /// What the procedures of the topic have in common, in a sentence or two.
    pub fn intro(self) -> &'static str {
        match self {
            Topic::Numbers => {
                "Exact integers are signed 64-bit (a result out of range is the error `integer overflow`, \
                never a wraparound); inexact numbers are IEEE doubles. There are no rationals, bignums or complex \
                numbers. Any inexact operand makes a result inexact."
            }
            Topic::TypesEquality => {
                "Only `#f` is false. `eq?` and `eqv?` are the same test: numbers of the same \
                exactness and value, characters, booleans, symbols and `()` by value, **strings by content**, \
                everything else by identity. `equal?` also compares pairs and vectors element by element."
            }
            Topic::Lists => {
                "Procedures that walk a list need a proper list and say so (`length: expected list, got \
                (a . b)`). Nothing here mutates its argument except `set-car!` and `set-cdr!`."
            }
            Topic::HigherOrder => {
                "Any procedure is accepted where one is expected: a closure, a built-in, a \
                continuation or a serialized procedure. The n-ary forms stop at the shortest list and apply the \
                procedure in element order."
            }
            Topic::Strings => {
                "Strings are immutable sequences of Unicode characters; lengths and indices count \
                characters, not bytes."
            }
            Topic::Chars => {
                "Characters are Unicode scalar values, written `#\\a`, `#\\space`, `#\\newline`, \
                `#\\tab`, `#\\nul` or `#\\x41`."
            }
            Topic::Vectors => {
                "Vectors are mutable, fixed-length, 0-indexed; `#(1 2 3)` is a self-evaluating vector \
                literal."
            }
            Topic::HashTables => {
                "Keys are compared with `equal?` unless the table was made with another test. \
                Iteration (keys, values, `->alist`, walk) is in insertion order. Reads and writes are shared-state \
                accesses: the race check watches them and `--schedule` interleaves tasks at them."
            }
            Topic::SicpTables => {
                "The one- and two-dimensional tables of SICP §3.3.3, with `equal?` keys, and the \
                global operation table of SICP §2.4.3."
            }
            Topic::SharedState => {
                "The shared-state objects of the serializer chapter: table snapshots for \
                check-then-write updates, mutable contexts, and buffers that assemble chunks in position order. \
                Every read and write is a shared-state access (see Tasks, serializers and mutexes)."
            }
            Topic::Concurrency => {
                "Tasks are green threads on one OS thread: a task runs until it waits for an LLM \
                answer, a busy serializer or mutex, or a nested `parallel`, or calls `yield`. The special form \
                `parallel` starts tasks; these procedures start and coordinate them."
            }
            Topic::Streams => {
                "Promises memoise: a promise's body runs at most once. A stream is `()` or a pair \
                whose cdr is a promise of a stream, as `cons-stream` builds it."
            }
            Topic::InputOutput => {
                "Output goes to standard output (or to the editor's output channel) as it \
                happens. `write` prints strings JSON-quoted; `display` prints them raw."
            }
            Topic::ErrorsControl => {
                "Errors are values: every error, LLM failures and deadlocks included, can be \
                caught with `guard`; only the step, time and depth limits and `exit` cannot."
            }
            Topic::LlmValues => {
                "`int.op` answers with a meaning, `search.op` with a distribution; these \
                procedures take them apart or build them (for instance in a handler that mocks an op)."
            }
        }
    }
}

/// Arity, tier and documentation of a built-in procedure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signature {
    pub name: &'static str,
    pub min: usize,
    /// `None`: variadic.
    pub max: Option<usize>,
    /// 1: the first release's core; 2: the manual's example programs.
    pub tier: u8,
    pub topic: Topic,
    /// How a call looks: `(substring s start [end])`; `[x]` is optional, `x …` repeats.
    pub usage: &'static str,
    /// One paragraph for users, in Markdown, accurate for this implementation.
    pub doc: &'static str,
}

impl Signature {
    pub fn accepts(&self, n: usize) -> bool {
        n >= self.min && self.max.is_none_or(|max| n <= max)
    }

    /// The arity as the reference shows it: `1`, `1–2`, `0+`.
    pub fn arity(&self) -> String {
        match self.max {
            None => format!("{}+", self.min),
            Some(max) if max == self.min => max.to_string(),
            Some(max) => format!("{}–{}", self.min, max),
        }
    }
}

/// The signature of a built-in procedure, if `name` is one.
pub fn signature(name: &str) -> Option<&'static Signature> {
    SIGNATURES.iter().find(|s| s.name == name)
}

#[allow(clippy::too_many_arguments)]
const fn sig(
    topic: Topic,
    name: &'static str,
    min: usize,
    max: Option<usize>,
    tier: u8,
    usage: &'static str,
    doc: &'static str,
) -> Signature {
    Signature { name, min, max, tier, topic, usage, doc }
}

use Topic::*;

/// Every built-in procedure of Tiers 1 and 2, grouped by topic in the order of `Topic::ALL`.
#[rustfmt::skip]
pub const SIGNATURES: &[Signature] = &[
    sig(Numbers, "+", 0, None, 1, "(+ z …)",
        "The sum of the numbers; `(+)` is `0`. Exact integers add exactly; a sum outside the 64-bit range is the error `integer overflow`. Any inexact argument makes the result inexact: `(+ 1 2.0)` ⇒ `3.0`."),
    sig(Numbers, "*", 0, None, 1, "(* z …)",
        "The product of the numbers; `(*)` is `1`. Overflow of exact integers is the error `integer overflow`."),
    sig(Numbers, "-", 1, None, 1, "(- z) | (- z1 z2 …)",
        "With one argument, its negation; with more, the first minus the rest, left to right: `(- 10 3 2)` ⇒ `5`."),
    sig(Numbers, "/", 1, None, 1, "(/ z) | (/ z1 z2 …)",
        "With one argument, its reciprocal; with more, the first divided by the rest. The result is an exact integer when every operand is exact and the division comes out even, otherwise a float: `(/ 6 2)` ⇒ `3`, `(/ 7 2)` ⇒ `3.5`. Dividing by an exact `0` is the error `division by zero`; a float zero divisor follows IEEE: `(/ 1 0.)` ⇒ `+inf.0`."),
    sig(Numbers, "quotient", 2, Some(2), 1, "(quotient n d)",
        "Integer division truncated toward zero: `(quotient -7 2)` ⇒ `-3`. `d` = 0 is `division by zero`."),
    sig(Numbers, "remainder", 2, Some(2), 1, "(remainder n d)",
        "The remainder of `quotient`; it has the sign of the dividend: `(remainder -7 3)` ⇒ `-1`."),
    sig(Numbers, "modulo", 2, Some(2), 1, "(modulo n d)",
        "The remainder of floor division; it has the sign of the divisor: `(modulo -7 3)` ⇒ `2`."),
    sig(Numbers, "abs", 1, Some(1), 1, "(abs x)", "The absolute value of x, of the same exactness."),
    sig(Numbers, "min", 1, None, 1, "(min x1 x2 …)",
        "The smallest argument. If any argument is inexact the result is inexact: `(min 1 2.0)` ⇒ `1.0`."),
    sig(Numbers, "max", 1, None, 1, "(max x1 x2 …)",
        "The largest argument. If any argument is inexact the result is inexact: `(max 1 2.0)` ⇒ `2.0`."),
    sig(Numbers, "floor", 1, Some(1), 1, "(floor x)",
        "The largest integer not above x; exact for an exact argument, a float for a float: `(floor 2.5)` ⇒ `2.0`."),
    sig(Numbers, "ceiling", 1, Some(1), 1, "(ceiling x)", "The smallest integer not below x, of x's exactness."),
    sig(Numbers, "round", 1, Some(1), 1, "(round x)",
        "The nearest integer, halves to even, of x's exactness: `(round 2.5)` ⇒ `2.0`, `(round 3.5)` ⇒ `4.0`."),
    sig(Numbers, "truncate", 1, Some(1), 1, "(truncate x)",
        "x with its fractional part dropped (toward zero), of x's exactness: `(truncate -2.7)` ⇒ `-2.0`."),
    sig(Numbers, "sqrt", 1, Some(1), 1, "(sqrt x)",
        "The square root: exact for an exact perfect square (`(sqrt 16)` ⇒ `4`), otherwise a float. A negative argument is an error."),
    sig(Numbers, "expt", 2, Some(2), 1, "(expt base power)",
        "base raised to power: exact for an exact base and an exact non-negative power (`(expt 2 10)` ⇒ `1024`), otherwise a float (`(expt 2 -1)` ⇒ `0.5`)."),
    sig(Numbers, "exact", 1, Some(1), 1, "(exact x)",
        "x as an exact integer. A float with a fractional part has none: `(exact 2.5)` is the error `exact: no exact integer for 2.5`; use `round` or `floor` first."),
    sig(Numbers, "inexact", 1, Some(1), 1, "(inexact x)", "x as a float: `(inexact 1)` ⇒ `1.0`."),
    sig(Numbers, "exact->inexact", 1, Some(1), 1, "(exact->inexact x)", "The older name of `inexact`."),
    sig(Numbers, "inexact->exact", 1, Some(1), 1, "(inexact->exact x)", "The older name of `exact`."),
    sig(Numbers, "number->string", 1, Some(2), 1, "(number->string z [radix])",
        "The printed form of z: `(number->string 3.5)` ⇒ `\"3.5\"`. An exact integer may be written in radix 2 to 36: `(number->string 10 2)` ⇒ `\"1010\"`."),
    sig(Numbers, "string->number", 1, Some(2), 1, "(string->number s [radix])",
        "The number that s spells in the reader's number syntax, else `#f`: `(string->number \"1e3\")` ⇒ `1000.0`, `(string->number \"12abc\")` ⇒ `#f`. With a radix, an integer in that base: `(string->number \"ff\" 16)` ⇒ `255`."),
    sig(Numbers, "=", 1, None, 1, "(= z1 z2 …)",
        "`#t` when all the numbers are equal as mathematical values: `(= 2 2.0)` ⇒ `#t` (unlike `eqv?`). Every argument must be a number."),
    sig(Numbers, "<", 1, None, 1, "(< x1 x2 …)", "`#t` when the numbers strictly increase from left to right."),
    sig(Numbers, ">", 1, None, 1, "(> x1 x2 …)", "`#t` when the numbers strictly decrease from left to right."),
    sig(Numbers, "<=", 1, None, 1, "(<= x1 x2 …)", "`#t` when no number is greater than the one after it."),
    sig(Numbers, ">=", 1, None, 1, "(>= x1 x2 …)", "`#t` when no number is less than the one after it."),
    sig(Numbers, "number?", 1, Some(1), 1, "(number? obj)", "`#t` for an exact integer or a float."),
    sig(Numbers, "integer?", 1, Some(1), 1, "(integer? obj)",
        "`#t` for a number with no fractional part, exact or not: `(integer? 2.0)` ⇒ `#t`."),
    sig(Numbers, "exact?", 1, Some(1), 1, "(exact? z)", "`#t` for an exact integer, `#f` for a float."),
    sig(Numbers, "inexact?", 1, Some(1), 1, "(inexact? z)", "`#t` for a float, `#f` for an exact integer."),
    sig(Numbers, "zero?", 1, Some(1), 1, "(zero? z)", "`#t` when z is `0` or `0.0`."),
    sig(Numbers, "positive?", 1, Some(1), 1, "(positive? x)", "`#t` when x is greater than zero."),
    sig(Numbers, "negative?", 1, Some(1), 1, "(negative? x)", "`#t` when x is less than zero."),
    sig(Numbers, "odd?", 1, Some(1), 1, "(odd? n)", "`#t` when the integer n is odd."),
    sig(Numbers, "even?", 1, Some(1), 1, "(even? n)", "`#t` when the integer n is even."),
    sig(Numbers, "exp", 1, Some(1), 2, "(exp x)", "e raised to x, a float."),
    sig(Numbers, "log", 1, Some(2), 2, "(log x [base])",
        "The natural logarithm of x, or its logarithm in base: `(log 100 10)` ⇒ `2.0`."),
    sig(Numbers, "sin", 1, Some(1), 2, "(sin x)", "The sine of x radians."),
    sig(Numbers, "cos", 1, Some(1), 2, "(cos x)", "The cosine of x radians."),
    sig(Numbers, "tan", 1, Some(1), 2, "(tan x)", "The tangent of x radians."),
    sig(Numbers, "asin", 1, Some(1), 2, "(asin x)", "The arcsine of x, in radians."),
    sig(Numbers, "acos", 1, Some(1), 2, "(acos x)", "The arccosine of x, in radians."),
    sig(Numbers, "atan", 1, Some(2), 2, "(atan x) | (atan y x)",
        "The arctangent of x, or of y/x using the signs of both to pick the quadrant: `(atan 1 1)` ⇒ `0.7853981633974483`."),
    sig(Numbers, "square", 1, Some(1), 2, "(square z)", "z times z, of z's exactness."),
    sig(Numbers, "gcd", 0, None, 2, "(gcd n …)", "The greatest common divisor of the integers; `(gcd)` is `0`."),
    sig(Numbers, "lcm", 0, None, 2, "(lcm n …)", "The least common multiple of the integers; `(lcm)` is `1`."),
    sig(Numbers, "exact-integer?", 1, Some(1), 2, "(exact-integer? obj)",
        "`#t` for an exact integer: `(exact-integer? 2.0)` ⇒ `#f`."),
    sig(Numbers, "nan?", 1, Some(1), 2, "(nan? x)", "`#t` when x is the float `+nan.0`."),
    sig(Numbers, "random", 1, Some(1), 2, "(random n)",
        "A random number from 0 up to but not including n: an exact integer for an exact n, a float for a float n. Under `--schedule SEED` the generator is seeded from SEED, so runs repeat."),
    sig(TypesEquality, "not", 1, Some(1), 1, "(not obj)",
        "`#t` if obj is `#f`, else `#f`. Only `#f` is false: `(not 0)`, `(not '())` and `(not \"\")` are all `#f`."),
    sig(TypesEquality, "boolean?", 1, Some(1), 1, "(boolean? obj)", "`#t` for `#t` and `#f`."),
    sig(TypesEquality, "symbol?", 1, Some(1), 1, "(symbol? obj)", "`#t` for a symbol, such as `'infer.op`."),
    sig(TypesEquality, "string?", 1, Some(1), 1, "(string? obj)", "`#t` for a string."),
    sig(TypesEquality, "procedure?", 1, Some(1), 1, "(procedure? obj)",
        "`#t` for anything that can be called: a closure, a built-in, a continuation `k` of a handler, a serializer or a serialized procedure."),
    sig(TypesEquality, "pair?", 1, Some(1), 1, "(pair? obj)", "`#t` for a pair (a non-empty list is one). `(pair? '())` ⇒ `#f`."),
    sig(TypesEquality, "null?", 1, Some(1), 1, "(null? obj)", "`#t` for the empty list `()` (also read as `null`)."),
    sig(TypesEquality, "list?", 1, Some(1), 1, "(list? obj)",
        "`#t` for a proper list: `()` or pairs ending in `()`. `(list? '(1 . 2))` ⇒ `#f`."),
    sig(TypesEquality, "eq?", 2, Some(2), 1, "(eq? a b)",
        "The same as `eqv?`: numbers of the same exactness and value, characters, booleans, symbols and `()` by value, strings by content, pairs, vectors, procedures and tables by identity. `(eq? '(1) '(1))` ⇒ `#f`."),
    sig(TypesEquality, "eqv?", 2, Some(2), 1, "(eqv? a b)",
        "Equivalence without looking inside structures (see `eq?`). Exactness matters: `(eqv? 2 2.0)` ⇒ `#f`."),
    sig(TypesEquality, "equal?", 2, Some(2), 1, "(equal? a b)",
        "Structural equality: pairs and vectors are compared element by element, everything else with `eqv?`. `(equal? '(1 2) (list 1 2))` ⇒ `#t`, `(equal? 2 2.0)` ⇒ `#f`."),
    sig(TypesEquality, "boolean=?", 2, None, 2, "(boolean=? b1 b2 b3 …)", "`#t` when all the arguments are the same boolean."),
    sig(TypesEquality, "vector?", 1, Some(1), 2, "(vector? obj)", "`#t` for a vector."),
    sig(TypesEquality, "char?", 1, Some(1), 2, "(char? obj)", "`#t` for a character such as `#\\a`."),
    sig(Lists, "cons", 2, Some(2), 1, "(cons a d)", "A new pair with car a and cdr d: `(cons 1 '(2))` ⇒ `(1 2)`, `(cons 1 2)` ⇒ `(1 . 2)`."),
    sig(Lists, "car", 1, Some(1), 1, "(car pair)", "The first element of a pair. `(car '())` is the error `car: expected pair, got ()`."),
    sig(Lists, "cdr", 1, Some(1), 1, "(cdr pair)", "The rest of a pair: everything after the first element."),
    sig(Lists, "caar", 1, Some(1), 1, "(caar x)", "`(car (car x))`."),
    sig(Lists, "cadr", 1, Some(1), 1, "(cadr x)", "`(car (cdr x))`: the second element of a list."),
    sig(Lists, "cdar", 1, Some(1), 1, "(cdar x)", "`(cdr (car x))`."),
    sig(Lists, "cddr", 1, Some(1), 1, "(cddr x)", "`(cdr (cdr x))`: a list without its first two elements."),
    sig(Lists, "caddr", 1, Some(1), 1, "(caddr x)", "`(car (cdr (cdr x)))`: the third element of a list."),
    sig(Lists, "cdddr", 1, Some(1), 1, "(cdddr x)", "`(cdr (cdr (cdr x)))`."),
    sig(Lists, "cadddr", 1, Some(1), 1, "(cadddr x)", "`(car (cdr (cdr (cdr x))))`: the fourth element of a list."),
    sig(Lists, "list", 0, None, 1, "(list obj …)", "A new list of the arguments: `(list 1 'a \"s\")` ⇒ `(1 a \"s\")`."),
    sig(Lists, "length", 1, Some(1), 1, "(length list)", "The number of elements of a proper list; an improper list is an error."),
    sig(Lists, "append", 0, None, 1, "(append list … [obj])",
        "A list of the elements of the lists in order. The last argument is not copied and may be any value: `(append '(1) 2)` ⇒ `(1 . 2)`; `(append)` ⇒ `()`."),
    sig(Lists, "reverse", 1, Some(1), 1, "(reverse list)", "A new list with the elements of a proper list in reverse order."),
    sig(Lists, "list-ref", 2, Some(2), 1, "(list-ref list k)",
        "The element at 0-based index k; past the end is the error `list-ref: index K out of range`."),
    sig(Lists, "list-tail", 2, Some(2), 1, "(list-tail list k)", "The list without its first k elements (shared, not copied)."),
    sig(Lists, "last-pair", 1, Some(1), 1, "(last-pair list)", "The last pair of a non-empty list: `(last-pair '(1 2 3))` ⇒ `(3)`."),
    sig(Lists, "list-copy", 1, Some(1), 1, "(list-copy obj)", "A fresh copy of the list's pairs; any other value is returned as is."),
    sig(Lists, "memq", 2, Some(2), 1, "(memq obj list)",
        "The first tail of list whose car is `eq?` to obj, else `#f`: `(memq 'c '(a c d))` ⇒ `(c d)`."),
    sig(Lists, "memv", 2, Some(2), 1, "(memv obj list)", "As `memq`, comparing with `eqv?` (the same test here)."),
    sig(Lists, "member", 2, Some(3), 1, "(member obj list [same?])",
        "The first tail of list whose car is `equal?` to obj (or satisfies `(same? obj elem)`), else `#f`."),
    sig(Lists, "assq", 2, Some(2), 1, "(assq key alist)",
        "The first pair of the association list whose car is `eq?` to key, else `#f`."),
    sig(Lists, "assv", 2, Some(2), 1, "(assv key alist)", "As `assq`, comparing with `eqv?` (the same test here)."),
    sig(Lists, "assoc", 2, Some(3), 1, "(assoc key alist [same?])",
        "The first pair of the association list whose car is `equal?` to key (or satisfies `(same? key car)`), else `#f`: `(assoc \"b\" '((\"a\" . 1) (\"b\" . 2)))` ⇒ `(\"b\" . 2)`."),
    sig(Lists, "sort", 2, Some(2), 1, "(sort list less?) | (sort less? list)",
        "A new list of the elements in the order `less?` defines; a stable merge sort. Either argument order works, and a vector gives a sorted vector: `(sort '(3 1 2) <)` ⇒ `(1 2 3)`."),
    sig(Lists, "set-car!", 2, Some(2), 2, "(set-car! pair obj)",
        "Replaces the car of pair. A shared-state write: the race check and `--schedule` watch it."),
    sig(Lists, "set-cdr!", 2, Some(2), 2, "(set-cdr! pair obj)",
        "Replaces the cdr of pair. A shared-state write: the race check and `--schedule` watch it."),
    sig(Lists, "iota", 1, Some(3), 2, "(iota count [start [step]])",
        "A list of count numbers from start (default 0) by step (default 1): `(iota 3 1)` ⇒ `(1 2 3)`."),
    sig(Lists, "last", 1, Some(1), 2, "(last list)", "The last element of a non-empty list."),
    sig(Lists, "delete", 2, Some(2), 2, "(delete obj list)", "A new list without the elements `equal?` to obj."),
    sig(Lists, "delete-duplicates", 1, Some(1), 2, "(delete-duplicates list)",
        "A new list keeping the first of each group of `equal?` elements: `(delete-duplicates '(1 2 1 3))` ⇒ `(1 2 3)`."),
    sig(Lists, "remove", 2, Some(2), 2, "(remove pred list)", "A new list without the elements that satisfy pred; the opposite of `filter`."),
    sig(Lists, "partition", 2, Some(2), 2, "(partition pred list)",
        "A two-element list: the elements that satisfy pred and those that do not, in order: `(partition odd? '(1 2 3))` ⇒ `((1 3) (2))`."),
    sig(Lists, "list-index", 2, Some(2), 2, "(list-index pred list)", "The 0-based index of the first element that satisfies pred, else `#f`."),
    sig(Lists, "any", 2, None, 2, "(any pred list1 list2 …)",
        "The first true value of `(pred elem …)` over the lists in order, else `#f`; stops at the first true value."),
    sig(Lists, "every", 2, None, 2, "(every pred list1 list2 …)",
        "`#f` as soon as `(pred elem …)` is false; otherwise the last value pred returned (`#t` for empty lists)."),
    sig(Lists, "append-map", 2, None, 2, "(append-map f list1 list2 …)",
        "`map`, then `append` the resulting lists: `(append-map (lambda (x) (list x x)) '(1 2))` ⇒ `(1 1 2 2)`."),
    sig(Lists, "filter-map", 2, None, 2, "(filter-map f list1 list2 …)", "`map`, keeping only the true results."),
    sig(HigherOrder, "map", 2, None, 1, "(map f list1 list2 …)",
        "A new list of `(f elem …)` for the elements of the lists, applied in element order and stopping at the shortest list: `(map + '(1 2) '(10 20))` ⇒ `(11 22)`. Sequential; `parallel-map` runs the calls as tasks."),
    sig(HigherOrder, "for-each", 2, None, 1, "(for-each f list1 list2 …)",
        "Calls `(f elem …)` for the elements of the lists in order, for the side effects; the unspecified value."),
    sig(HigherOrder, "filter", 2, Some(2), 1, "(filter pred list)",
        "A new list of the elements for which pred is true (anything but `#f`): `(filter odd? '(1 2 3))` ⇒ `(1 3)`."),
    sig(HigherOrder, "fold", 3, None, 1, "(fold f init list1 list2 …)",
        "SRFI-1 fold from the left, calling `(f elem … acc)`: `(fold cons '() '(1 2 3))` ⇒ `(3 2 1)`."),
    sig(HigherOrder, "fold-left", 3, None, 1, "(fold-left f init list1 list2 …)",
        "R6RS fold from the left, calling `(f acc elem …)`: `(fold-left - 10 '(1 2))` ⇒ `7`."),
    sig(HigherOrder, "fold-right", 3, None, 1, "(fold-right f init list1 list2 …)",
        "Fold from the right, calling `(f elem … acc)`: `(fold-right cons '() '(1 2 3))` ⇒ `(1 2 3)`."),
    sig(HigherOrder, "reduce", 3, Some(3), 1, "(reduce f ridentity list)",
        "SRFI-1 reduce: ridentity for an empty list, else `fold` of f over the rest with the first element as the start: `(reduce + 0 '(1 2 3 4))` ⇒ `10`."),
    sig(HigherOrder, "apply", 2, None, 1, "(apply f arg … list)",
        "Calls f with the args followed by the elements of list: `(apply + 1 2 '(3 4))` ⇒ `10`. The call is in tail position."),
    sig(HigherOrder, "compose", 0, None, 1, "(compose f …)",
        "A procedure that applies the last procedure to its arguments and each earlier one to the result: `((compose car cdr) '(1 2))` ⇒ `2`. `(compose)` is the identity."),
    sig(HigherOrder, "identity", 1, Some(1), 1, "(identity obj)", "Returns obj."),
    sig(HigherOrder, "foldr", 3, Some(3), 2, "(foldr f init list)", "`fold-right` over one list."),
    sig(HigherOrder, "andmap", 2, None, 2, "(andmap pred list1 list2 …)", "Racket's name for `every`."),
    sig(HigherOrder, "ormap", 2, None, 2, "(ormap pred list1 list2 …)", "Racket's name for `any`."),
    sig(Strings, "string-length", 1, Some(1), 1, "(string-length s)",
        "The number of characters (not bytes) in s: `(string-length \"héllo\")` ⇒ `5`."),
    sig(Strings, "string-append", 0, None, 1, "(string-append s …)",
        "A new string of the strings one after the other; `(string-append)` ⇒ `\"\"`. Every argument must be a string (use `format` or `number->string` for other values)."),
    sig(Strings, "substring", 2, Some(3), 1, "(substring s start [end])",
        "The characters of s from index start up to but not including end (default: the end): `(substring \"hello\" 1 3)` ⇒ `\"el\"`."),
    sig(Strings, "string=?", 1, None, 1, "(string=? s1 s2 …)", "`#t` when all the strings have the same characters."),
    sig(Strings, "string<?", 1, None, 1, "(string<? s1 s2 …)",
        "`#t` when the strings increase in lexicographic (code point) order: `(string<? \"apple\" \"banana\")` ⇒ `#t`."),
    sig(Strings, "string>?", 1, None, 1, "(string>? s1 s2 …)", "`#t` when the strings decrease in lexicographic order."),
    sig(Strings, "string<=?", 1, None, 1, "(string<=? s1 s2 …)", "`#t` when no string is greater than the one after it."),
    sig(Strings, "string>=?", 1, None, 1, "(string>=? s1 s2 …)", "`#t` when no string is less than the one after it."),
    sig(Strings, "string-upcase", 1, Some(1), 1, "(string-upcase s)", "s in upper case, by Unicode rules: `(string-upcase \"straße\")` ⇒ `\"STRASSE\"`."),
    sig(Strings, "string-downcase", 1, Some(1), 1, "(string-downcase s)", "s in lower case, by Unicode rules."),
    sig(Strings, "string-trim", 1, Some(1), 1, "(string-trim s)", "s without leading and trailing whitespace (Unicode): `(string-trim \"  hi \")` ⇒ `\"hi\"`."),
    sig(Strings, "string-contains?", 2, Some(2), 1, "(string-contains? s part)",
        "`#t` when part occurs in s: `(string-contains? \"hello\" \"ell\")` ⇒ `#t`."),
    sig(Strings, "string-split", 2, Some(2), 1, "(string-split s delim)",
        "The pieces of s between the occurrences of delim, keeping empty ones: `(string-split \"a,b,,c\" \",\")` ⇒ `(\"a\" \"b\" \"\" \"c\")`. An empty delim splits s into one-character strings."),
    sig(Strings, "string-join", 1, Some(2), 1, "(string-join list [delim])",
        "The strings of list joined with delim between them (default one space): `(string-join '(\"x\" \"y\") \", \")` ⇒ `\"x, y\"`. Every element must be a string."),
    sig(Strings, "string-replace-all", 3, Some(3), 1, "(string-replace-all s old new)",
        "s with every occurrence of old replaced by new, left to right, without overlaps: `(string-replace-all \"a-b-c\" \"-\" \"+\")` ⇒ `\"a+b+c\"`. An empty old is an error."),
    sig(Strings, "symbol->string", 1, Some(1), 1, "(symbol->string sym)", "The name of a symbol as a string."),
    sig(Strings, "string->symbol", 1, Some(1), 1, "(string->symbol s)", "The symbol whose name is s (any characters, spaces included)."),
    sig(Strings, "string-ci=?", 1, None, 2, "(string-ci=? s1 s2 …)", "`#t` when the strings are equal ignoring case."),
    sig(Strings, "string-prefix?", 2, Some(2), 2, "(string-prefix? s prefix)",
        "`#t` when s starts with prefix. Note the order: the string first, as in `string-contains?`."),
    sig(Strings, "string-suffix?", 2, Some(2), 2, "(string-suffix? s suffix)", "`#t` when s ends with suffix (the string first)."),
    sig(Strings, "string-trim-left", 1, Some(1), 2, "(string-trim-left s)", "s without leading whitespace."),
    sig(Strings, "string-trim-right", 1, Some(1), 2, "(string-trim-right s)", "s without trailing whitespace."),
    sig(Strings, "string-copy", 1, Some(1), 2, "(string-copy s)", "A string with the same characters (strings are immutable, so rarely needed)."),
    sig(Strings, "string-ref", 2, Some(2), 2, "(string-ref s k)", "The character at 0-based index k: `(string-ref \"abc\" 1)` ⇒ `#\\b`."),
    sig(Strings, "string->list", 1, Some(1), 2, "(string->list s)", "The characters of s as a list."),
    sig(Strings, "list->string", 1, Some(1), 2, "(list->string chars)", "A string of the characters in the list."),
    sig(Strings, "string", 0, None, 2, "(string char …)", "A string of the given characters: `(string #\\a #\\b)` ⇒ `\"ab\"`."),
    sig(Strings, "format", 1, None, 2, "(format [dest] fmt arg …)",
        "fmt with each directive replaced: `~a` by the next argument's `display` form, `~s` by its `write` form, `~%` by a newline, `~~` by `~`. Returns the string; with `#t` as dest it prints it instead (`#f` returns it)."),
    sig(Strings, "gensym", 0, Some(1), 2, "(gensym [prefix])",
        "A fresh symbol that no other symbol is `eq?` to, named from a counter: `g1`, or `p2` for `(gensym \"p\")`."),
    sig(Chars, "char->integer", 1, Some(1), 2, "(char->integer char)", "The Unicode code point of char: `(char->integer #\\A)` ⇒ `65`."),
    sig(Chars, "integer->char", 1, Some(1), 2, "(integer->char n)", "The character with code point n: `(integer->char 955)` ⇒ `#\\λ`."),
    sig(Chars, "char-upcase", 1, Some(1), 2, "(char-upcase char)", "char in upper case when it has a one-character upper case, else char."),
    sig(Chars, "char-downcase", 1, Some(1), 2, "(char-downcase char)", "char in lower case when it has a one-character lower case, else char."),
    sig(Chars, "char-alphabetic?", 1, Some(1), 2, "(char-alphabetic? char)", "`#t` for a Unicode letter."),
    sig(Chars, "char-numeric?", 1, Some(1), 2, "(char-numeric? char)", "`#t` for a Unicode digit."),
    sig(Chars, "char-whitespace?", 1, Some(1), 2, "(char-whitespace? char)", "`#t` for Unicode whitespace, such as a space, a tab or a newline."),
    sig(Chars, "char=?", 1, None, 2, "(char=? c1 c2 …)", "`#t` when all the characters are the same."),
    sig(Chars, "char<?", 1, None, 2, "(char<? c1 c2 …)", "`#t` when the code points strictly increase from left to right."),
    sig(Vectors, "vector", 0, None, 2, "(vector obj …)", "A new vector of the arguments: `(vector 1 \"x\")` ⇒ `#(1 \"x\")`."),
    sig(Vectors, "make-vector", 1, Some(2), 2, "(make-vector k [fill])", "A new vector of k elements, each fill (default `0`)."),
    sig(Vectors, "vector-length", 1, Some(1), 2, "(vector-length vec)", "The number of elements of vec."),
    sig(Vectors, "vector-ref", 2, Some(2), 2, "(vector-ref vec k)",
        "The element at 0-based index k; out of range is the error `vector-ref: index K out of range`. A shared-state read."),
    sig(Vectors, "vector-set!", 3, Some(3), 2, "(vector-set! vec k obj)", "Stores obj at index k; the unspecified value. A shared-state write."),
    sig(Vectors, "vector->list", 1, Some(1), 2, "(vector->list vec)", "A new list of the elements of vec."),
    sig(Vectors, "list->vector", 1, Some(1), 2, "(list->vector list)", "A new vector of the elements of a proper list."),
    sig(Vectors, "vector-fill!", 2, Some(2), 2, "(vector-fill! vec obj)", "Stores obj in every element of vec; the unspecified value."),
    sig(Vectors, "vector-map", 2, None, 2, "(vector-map f vec1 vec2 …)",
        "A new vector of `(f elem …)`, applied in element order and stopping at the shortest vector: `(vector-map + #(1 2) #(10 20))` ⇒ `#(11 22)`."),
    sig(Vectors, "vector-for-each", 2, None, 2, "(vector-for-each f vec1 vec2 …)", "Calls `(f elem …)` for the elements in order; the unspecified value."),
    sig(HashTables, "make-hash-table", 0, Some(1), 1, "(make-hash-table [same?])",
        "A new empty hash table, printed `#<hash-table N>`. Keys compare with `equal?`, or with the given test: one of `eq?`, `eqv?`, `equal?` or `string=?`."),
    sig(HashTables, "hash-table?", 1, Some(1), 1, "(hash-table? obj)", "`#t` for a hash table."),
    sig(HashTables, "hash-table-set!", 3, Some(3), 1, "(hash-table-set! table key value)", "Maps key to value, replacing any earlier value; the unspecified value."),
    sig(HashTables, "hash-table-ref", 2, Some(3), 1, "(hash-table-ref table key [fail])",
        "The value of key. When the key is missing, calls the thunk fail and returns its value, or without one raises `hash-table-ref: key not found: KEY`."),
    sig(HashTables, "hash-table-ref/default", 3, Some(3), 1, "(hash-table-ref/default table key default)",
        "The value of key, or default when the key is missing."),
    sig(HashTables, "hash-table-delete!", 2, Some(2), 1, "(hash-table-delete! table key)", "Removes key and its value if present; the unspecified value."),
    sig(HashTables, "hash-table-contains?", 2, Some(2), 1, "(hash-table-contains? table key)", "`#t` when table has key."),
    sig(HashTables, "hash-table-count", 1, Some(1), 1, "(hash-table-count table)", "The number of keys in table."),
    sig(HashTables, "hash-table-keys", 1, Some(1), 1, "(hash-table-keys table)", "A list of the keys, in insertion order."),
    sig(HashTables, "hash-table-values", 1, Some(1), 1, "(hash-table-values table)", "A list of the values, in the insertion order of their keys."),
    sig(HashTables, "hash-table->alist", 1, Some(1), 1, "(hash-table->alist table)", "A list of `(key . value)` pairs, in insertion order."),
    sig(HashTables, "hash-table-update!", 3, Some(4), 1, "(hash-table-update! table key f [fail])",
        "Sets key to `(f old)`, where old is the current value, or the value of the thunk fail when the key is missing (without fail, a missing key is an error). Reads and writes table in one step, but another task can run in between under `--schedule`: guard it with a serializer when tasks share the table."),
    sig(HashTables, "hash-table-update!/default", 4, Some(4), 1, "(hash-table-update!/default table key f default)",
        "Sets key to `(f old)`, where old is the current value or default when the key is missing: a counter is `(hash-table-update!/default h k (lambda (n) (+ n 1)) 0)`."),
    sig(HashTables, "hash-table-walk", 2, Some(2), 2, "(hash-table-walk table f)", "Calls `(f key value)` for each entry, in insertion order."),
    sig(HashTables, "hash-table-clear!", 1, Some(1), 2, "(hash-table-clear! table)", "Removes every entry."),
    sig(HashTables, "hash-table-copy", 1, Some(1), 2, "(hash-table-copy table)", "A new hash table with the same test and entries."),
    sig(HashTables, "make-hash", 0, Some(0), 2, "(make-hash)", "Racket's name for `(make-hash-table)`: a new table with `equal?` keys."),
    sig(HashTables, "hash-ref", 2, Some(3), 2, "(hash-ref table key [default])",
        "The value of key. When the key is missing: default if it is a value, its result if it is a thunk, and without it the error `hash-ref: key not found: KEY`."),
    sig(HashTables, "hash-set!", 3, Some(3), 2, "(hash-set! table key value)", "Racket's name for `hash-table-set!`."),
    sig(HashTables, "hash-has-key?", 2, Some(2), 2, "(hash-has-key? table key)", "Racket's name for `hash-table-contains?`."),
    sig(SicpTables, "make-table", 0, Some(0), 1, "(make-table)",
        "A new empty table, printed `#<table N>`, for `lookup` and `insert!` (and the snapshot procedures `read-table` and `write-table!`)."),
    sig(SicpTables, "lookup", 2, Some(3), 1, "(lookup key table) | (lookup key1 key2 table)",
        "The value stored under key (`equal?`), or `#f` when there is none. The two-key form looks up the key `(list key1 key2)`. A shared-state read."),
    sig(SicpTables, "insert!", 3, Some(4), 1, "(insert! key value table) | (insert! key1 key2 value table)",
        "Stores value under key, replacing an earlier value, and returns the symbol `ok` as in SICP. The two-key form stores under `(list key1 key2)`. A shared-state write."),
    sig(SicpTables, "table->alist", 1, Some(1), 1, "(table->alist table)", "A list of `(key . value)` pairs, in insertion order."),
    sig(SicpTables, "table?", 1, Some(1), 1, "(table? obj)", "`#t` for a table made by `make-table` or `read-table` (not a hash table)."),
    sig(SicpTables, "put", 3, Some(3), 2, "(put op type item)",
        "Stores item in the one global operation table under op and type (SICP §2.4.3)."),
    sig(SicpTables, "get", 2, Some(2), 2, "(get op type)", "The item `put` stored under op and type, or `#f`."),
    sig(SharedState, "read-table", 1, Some(1), 1, "(read-table table)",
        "A snapshot: a new table holding a copy of table's entries. Later changes to either do not affect the other. A shared-state read of table."),
    sig(SharedState, "add-entry", 3, Some(3), 1, "(add-entry snapshot term definition)",
        "Sets term to definition in a table (normally a snapshot from `read-table`), replacing any earlier definition; the unspecified value."),
    sig(SharedState, "write-table!", 2, Some(2), 1, "(write-table! table snapshot)",
        "Replaces all of table's entries with a copy of snapshot's; the unspecified value. A shared-state write: two tasks that read, change and write back the same table without a serializer lose updates."),
    sig(SharedState, "detect-conflict", 3, Some(4), 1, "(detect-conflict term snapshot table [new])",
        "table's current definition of term, when it exists and differs (not `equal?`) from the expected one — new when given, else snapshot's definition of term — otherwise `#f`. It tells that someone changed term since the snapshot was taken, or (with new) that adding would replace a different definition. No side effects."),
    sig(SharedState, "make-mutable-context", 0, Some(1), 1, "(make-mutable-context [init])",
        "A mutable cell holding init (default `()`), printed `#<context>`; read it with `read-context`, replace it with `write-context!`."),
    sig(SharedState, "read-context", 1, Some(1), 1, "(read-context context)", "The value a context holds. A shared-state read."),
    sig(SharedState, "write-context!", 2, Some(2), 1, "(write-context! context value)",
        "Replaces the value a context holds; the unspecified value. A shared-state write."),
    sig(SharedState, "make-buffer", 0, Some(0), 1, "(make-buffer)",
        "A new empty chunk buffer, printed `#<buffer N>`, for assembling parts that arrive in any order."),
    sig(SharedState, "insert-at!", 3, Some(3), 1, "(insert-at! buffer chunk position)",
        "Stores chunk at the exact integer position, replacing a chunk already there; positions need not be contiguous. The unspecified value; a shared-state write."),
    sig(SharedState, "get-buffer", 1, Some(1), 1, "(get-buffer buffer)",
        "A string of the chunks in ascending position order, each displayed, joined with one space (`\"\"` when empty)."),
    sig(Concurrency, "parallel-map", 2, Some(2), 1, "(parallel-map f list)",
        "Like `map` with one task per element: the calls `(f elem)` run concurrently (their LLM calls are in flight together) and the results come back in element order. If a call fails, the other tasks are cancelled and the error reads `parallel-map: task I failed: MESSAGE` (I counts from 1)."),
    sig(Concurrency, "make-serializer", 0, Some(1), 1, "(make-serializer [name])",
        "A new serializer s, printed `#<serializer NAME>`. `(s proc)` returns a procedure of proc's arity that acquires s, applies proc, and releases s however the call ends; making it acquires nothing. Serializers are FIFO-fair and not reentrant (acquiring one the task already holds is a deadlock error). Unnamed, it takes the name of the first variable it is bound to, else `serializer#N`."),
    sig(Concurrency, "make-mutex", 0, Some(1), 2, "(make-mutex [name])",
        "A new mutex, printed `#<mutex NAME>`: the lock of a serializer without the wrapper, for `mutex-acquire` and `mutex-release`. Named like serializers."),
    sig(Concurrency, "mutex-acquire", 1, Some(1), 2, "(mutex-acquire mutex)",
        "Acquires the mutex, waiting (while other tasks run) until it is free. Acquiring a mutex the task already holds, or closing a cycle of waiting tasks, is a `deadlock:` error instead of a hang."),
    sig(Concurrency, "mutex-release", 1, Some(1), 2, "(mutex-release mutex)",
        "Releases the mutex and hands it to the first waiting task. Releasing a mutex this task does not hold is an error."),
    sig(Concurrency, "yield", 0, Some(0), 2, "(yield)",
        "A scheduling point: lets the other ready tasks run before this one continues. The unspecified value."),
    sig(Streams, "force", 1, Some(1), 1, "(force promise)",
        "The value of a promise, running its body the first time only; any other value is returned as is."),
    sig(Streams, "stream-car", 1, Some(1), 1, "(stream-car stream)", "The first element of a non-empty stream."),
    sig(Streams, "stream-cdr", 1, Some(1), 1, "(stream-cdr stream)", "The rest of a non-empty stream, forcing its promise."),
    sig(Streams, "stream-null?", 1, Some(1), 1, "(stream-null? obj)", "`#t` for the empty stream `()`."),
    sig(Streams, "stream-pair?", 1, Some(1), 1, "(stream-pair? obj)", "`#t` for a non-empty stream: a pair whose cdr is a promise."),
    sig(Streams, "stream-map", 2, None, 1, "(stream-map f stream1 stream2 …)",
        "A lazy stream of `(f elem …)` over the streams, ending with the shortest; works on infinite streams."),
    sig(Streams, "stream-filter", 2, Some(2), 1, "(stream-filter pred stream)", "A lazy stream of the elements that satisfy pred."),
    sig(Streams, "stream->list", 1, Some(2), 1, "(stream->list stream [n])",
        "A list of the stream's first n elements, or of all of them without n (which never ends on an infinite stream)."),
    sig(Streams, "list->stream", 1, Some(1), 1, "(list->stream list)", "A stream of the list's elements."),
    sig(Streams, "stream-take", 2, Some(2), 1, "(stream-take stream n)", "A stream of the first n elements (fewer if the stream is shorter)."),
    sig(Streams, "stream-ref", 2, Some(2), 1, "(stream-ref stream k)", "The element at 0-based index k."),
    sig(Streams, "promise?", 1, Some(1), 2, "(promise? obj)", "`#t` for a promise, made by `delay`, `delay-force`, `cons-stream` or `make-promise`."),
    sig(Streams, "stream-for-each", 2, Some(2), 2, "(stream-for-each f stream)", "Calls `(f elem)` for each element of a finite stream, in order."),
    sig(Streams, "stream-append", 0, None, 2, "(stream-append stream …)", "A lazy stream of the elements of each stream in turn."),
    sig(Streams, "stream-interleave", 2, Some(2), 2, "(stream-interleave s1 s2)",
        "A lazy stream taking elements alternately from s1 and s2, as SICP §3.5.3 `interleave`."),
    sig(Streams, "stream", 0, None, 2, "(stream obj …)", "A stream of the arguments."),
    sig(Streams, "make-promise", 1, Some(1), 2, "(make-promise obj)",
        "A promise already forced to obj (obj itself if it is a promise). It takes a value, not a thunk."),
    sig(InputOutput, "display", 1, Some(1), 1, "(display obj)",
        "Writes obj for people: strings and characters raw, everything else in its printed form. The unspecified value."),
    sig(InputOutput, "write", 1, Some(1), 1, "(write obj)",
        "Writes obj's printed form as the REPL shows it: strings JSON-quoted (`\"a\\\"b\"`), characters as `#\\a`."),
    sig(InputOutput, "newline", 0, Some(0), 1, "(newline)", "Writes a line break."),
    sig(InputOutput, "write-string", 1, Some(1), 2, "(write-string s)", "Writes the string s raw, like `display`."),
    sig(InputOutput, "print", 0, None, 2, "(print obj …)",
        "Displays the arguments separated by spaces, then a newline: `(print \"x =\" 1)` writes `x = 1`."),
    sig(InputOutput, "read", 1, Some(1), 2, "(read s)",
        "The first datum written in the string s, as data (not evaluated): `(read \"(1 . 2)\")` ⇒ `(1 . 2)`. A string with no datum is an error."),
    sig(InputOutput, "exit", 0, Some(1), 2, "(exit [code])",
        "Ends the run at once with the exit status code: `0` for no argument or `#t`, `1` for `#f`. `guard` cannot catch it."),
    sig(InputOutput, "eval", 1, Some(2), 2, "(eval datum [environment])",
        "Evaluates datum as a program in the global environment and returns its value: `(eval '(+ 1 2))` ⇒ `3`. The second argument is accepted and ignored."),
    sig(ErrorsControl, "error", 1, None, 1, "(error message irritant …) | (error 'type message data …)",
        "Raises an error. The message is message followed by the `write` form of each irritant: `(error \"boom:\" 42 'x)` reads `boom: 42 x`. With a symbol first and a string second, the symbol is a type shown before the message: `(error 'fatal \"Something broke\")` reads `fatal: Something broke`."),
    sig(ErrorsControl, "raise", 1, Some(1), 2, "(raise obj)",
        "Raises obj: `guard` binds obj itself. Uncaught, an error object keeps its message and any other value reads `uncaught raise: VALUE`."),
    sig(ErrorsControl, "error-object?", 1, Some(1), 2, "(error-object? obj)",
        "`#t` for the error objects that `error`, `assert` and the built-ins raise, as `guard` binds them."),
    sig(ErrorsControl, "error-object-message", 1, Some(1), 2, "(error-object-message err)",
        "The message of an error object, without its type and irritants: `\"bad thing\"` for `(error \"bad thing\" 1)`."),
    sig(ErrorsControl, "error-object-irritants", 1, Some(1), 2, "(error-object-irritants err)", "The list of an error object's irritants."),
    sig(ErrorsControl, "assert", 1, None, 2, "(assert test [message irritant …])",
        "The unspecified value if test is true; otherwise raises `assertion failed`, followed by `: ` and the message made as `error` makes it when one is given."),
    sig(ErrorsControl, "dynamic-wind", 3, Some(3), 2, "(dynamic-wind before thunk after)",
        "Calls before, then thunk, then after, and returns thunk's value; after also runs when thunk raises an error. It does not run when a handler clause drops the continuation or the task is cancelled by a failing `parallel`."),
    sig(ErrorsControl, "require", 1, Some(1), 1, "(require test)",
        "`(if (not test) (amb))`: when test is false, backtracks to the most recent `amb` with alternatives left (or fails with `amb: all alternatives exhausted`)."),
    sig(LlmValues, "meaning?", 1, Some(1), 1, "(meaning? obj)", "`#t` for a meaning, as `int.op` returns."),
    sig(LlmValues, "meaning-denotation", 1, Some(1), 1, "(meaning-denotation m)", "The answer a meaning holds, a string for LLM answers."),
    sig(LlmValues, "meaning-confidence", 1, Some(1), 1, "(meaning-confidence m)",
        "The confidence of a meaning: `1` for LLM answers unless a scripted rule sets one."),
    sig(LlmValues, "meaning-trace", 1, Some(1), 1, "(meaning-trace m)",
        "Where a meaning came from: `\"scripted\"`, or `\"ADAPTER:MODEL\"`, with ` (cached)` added on a cache hit."),
    sig(LlmValues, "make-meaning", 3, Some(3), 2, "(make-meaning denotation confidence trace)",
        "A meaning with the given fields, e.g. for a handler that mocks `int.op`."),
    sig(LlmValues, "prompt->string", 1, Some(1), 2, "(prompt->string payload)",
        "The prompt text the LLM ops send for payload: a string as is, a list with each element displayed and concatenated with no separator, anything else displayed. Useful as a cache key in a handler."),
    sig(LlmValues, "dist?", 1, Some(1), 2, "(dist? obj)", "`#t` for a distribution, as `search.op` returns."),
    sig(LlmValues, "dist-count", 1, Some(1), 2, "(dist-count d)", "The number of distinct values in a distribution."),
    sig(LlmValues, "dist->list", 1, Some(1), 2, "(dist->list d)",
        "The entries as `((value . weight) …)`, most likely first (ties in order of first occurrence)."),
    sig(LlmValues, "dist-value-at", 2, Some(2), 2, "(dist-value-at d i)", "The value of the entry at 0-based index i, most likely first."),
    sig(LlmValues, "dist-weight-at", 2, Some(2), 2, "(dist-weight-at d i)",
        "The weight (a fraction of the samples) of the entry at 0-based index i."),
    sig(LlmValues, "dist-topk", 2, Some(2), 2, "(dist-topk d k)", "A list of the k most likely values (all of them when k is larger)."),
];

/// Built-in global variables that are not procedures.
pub const CONSTANTS: &[&str] = &["the-empty-stream"];

/// Documentation of a built-in name that is not a procedure: a constant or an effect operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NameDoc {
    pub name: &'static str,
    /// How it is used: `the-empty-stream`, `(effect infer.op prompt)`.
    pub usage: &'static str,
    /// One paragraph for users, in Markdown.
    pub doc: &'static str,
}

/// The documentation of each of `CONSTANTS`, in the same order.
pub const CONSTANT_DOCS: &[NameDoc] = &[NameDoc {
    name: "the-empty-stream",
    usage: "the-empty-stream",
    doc: "The empty stream, the same object as `()`: `(stream-null? the-empty-stream)` ⇒ `#t`.",
}];

/// The documentation of a built-in constant, if `name` is one.
pub fn constant_doc(name: &str) -> Option<&'static NameDoc> {
    CONSTANT_DOCS.iter().find(|d| d.name == name)
}

/// The usage line and doc of a built-in procedure, constant or effect operation: what hover,
/// completion and signature help show.
pub fn documentation(name: &str) -> Option<(&'static str, &'static str)> {
    signature(name)
        .map(|s| (s.usage, s.doc))
        .or_else(|| constant_doc(name).or_else(|| op_doc(name)).map(|d| (d.usage, d.doc)))
}

/// Effect operations with a built-in implementation (docs/language.md §7.2).
pub const BUILTIN_OPS: &[&str] = &["infer.op", "int.op", "search.op", "amb.choose", "amb.fail"];

/// The documentation of each of `BUILTIN_OPS`, in the same order.
pub const OP_DOCS: &[NameDoc] = &[
    NameDoc {
        name: "infer.op",
        usage: "(effect infer.op prompt)",
        doc: "Asks the configured LLM and returns its answer as a string, trimmed of surrounding whitespace. \
              The prompt is a string, or a list whose elements are displayed and concatenated \
              (`prompt->string`). The task waits for the answer while other tasks run; a `handle` clause \
              `(on infer.op (p k) …)` can answer instead (mocking, caching). Failures are catchable errors \
              that name the adapter and the cause.",
    },
    NameDoc {
        name: "int.op",
        usage: "(effect int.op prompt)",
        doc: "Asks the LLM like `infer.op` and returns a meaning: the answer with a confidence and a trace \
              (`meaning-denotation`, `meaning-confidence`, `meaning-trace`).",
    },
    NameDoc {
        name: "search.op",
        usage: "(effect search.op prompt [n])",
        doc: "Sends n independent requests for the prompt (default 8), all in flight together, and merges the \
              answers into a distribution: equal answers are counted together, weight = count / n, most likely \
              first (`dist-value-at`, `dist-weight-at`, `dist-topk`). Each request counts against \
              `--max-llm-calls`.",
    },
    NameDoc {
        name: "amb.choose",
        usage: "(effect amb.choose thunks)",
        doc: "The effect `amb` performs, with one thunk per alternative. Built in, it remembers a choice point \
              and continues with the first thunk's value; a `handle` clause can intercept it, for instance to \
              collect every solution.",
    },
    NameDoc {
        name: "amb.fail",
        usage: "(effect amb.fail)",
        doc: "The effect `(amb)` and a failing `require` perform. Built in, it resumes the most recent choice \
              point that has alternatives left, or raises `amb: all alternatives exhausted`.",
    },
];

/// The documentation of a built-in effect operation, if `name` is one.
pub fn op_doc(name: &str) -> Option<&'static NameDoc> {
    OP_DOCS.iter().find(|d| d.name == name)
}

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
/// (docs/language.md §8.4, §8.5); the evaluator's scheduling points and the race analysis agree on it.
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
mod doc_table_tests {
    use super::*;
    use std::collections::HashSet;

    /// The arity a usage line shows: a word followed by `…` repeats zero or more times, words in
    /// `[…]` are optional, and alternatives are separated by ` | `.
    fn arity_of_usage(usage: &str) -> (usize, Option<usize>) {
        let mut min = usize::MAX;
        let mut max = Some(0);
        for alternative in usage.split(" | ") {
            let inner = alternative.strip_prefix('(').and_then(|a| a.strip_suffix(')'));
            let inner = inner.unwrap_or_else(|| panic!("usage {usage:?} is not a call"));
            let (mut required, mut optional, mut variadic, mut depth) = (0, 0, false, 0);
            let words: Vec<&str> = inner.split_whitespace().skip(1).collect();
            for (i, word) in words.iter().enumerate() {
                let opens = word.matches('[').count();
                depth += opens;
                let name = word.trim_matches(|c| c == '[' || c == ']');
                let repeated = words.get(i + 1).is_some_and(|next| next.trim_end_matches(']') == "…");
                if name == "…" || name.is_empty() {
                    variadic |= name == "…";
                } else if repeated {
                    variadic = true;
                } else if depth > 0 {
                    optional += 1;
                } else {
                    required += 1;
                }
                depth -= word.matches(']').count();
            }
            min = min.min(required);
            max = match (max, variadic) {
                (Some(m), false) => Some(m.max(required + optional)),
                _ => None,
            };
        }
        (min, max)
    }

    #[test]
    fn every_builtin_has_a_usage_line_that_matches_its_arity_and_a_doc() {
        let mut seen = HashSet::new();
        for s in SIGNATURES {
            assert!(seen.insert(s.name), "{} is in SIGNATURES twice", s.name);
            for alternative in s.usage.split(" | ") {
                assert!(
                    alternative.starts_with(&format!("({} ", s.name)) || alternative == format!("({})", s.name),
                    "{}: usage {:?} does not call it",
                    s.name,
                    s.usage
                );
            }
            assert_eq!(arity_of_usage(s.usage), (s.min, s.max), "{}: usage {:?} shows another arity", s.name, s.usage);
            assert!(s.doc.len() > 10 && s.doc.ends_with('.'), "{}: the doc is not a sentence: {:?}", s.name, s.doc);
        }
    }

    #[test]
    fn the_usage_reader_sees_optional_and_repeated_arguments() {
        assert_eq!(arity_of_usage("(f a [b [c]])"), (1, Some(3)));
        assert_eq!(arity_of_usage("(f a b …)"), (1, None));
        assert_eq!(arity_of_usage("(f a) | (f a b c)"), (1, Some(3)));
        assert_eq!(arity_of_usage("(f [a b …])"), (0, None));
    }

    #[test]
    fn every_constant_and_builtin_op_is_documented_in_order() {
        let constants: Vec<&str> = CONSTANT_DOCS.iter().map(|d| d.name).collect();
        assert_eq!(constants, CONSTANTS);
        let ops: Vec<&str> = OP_DOCS.iter().map(|d| d.name).collect();
        assert_eq!(ops, BUILTIN_OPS);
    }

    #[test]
    fn documentation_covers_procedures_constants_and_ops() {
        assert_eq!(documentation("string-append").map(|d| d.0), Some("(string-append s …)"));
        assert_eq!(documentation("the-empty-stream").map(|d| d.0), Some("the-empty-stream"));
        assert_eq!(documentation("infer.op").map(|d| d.0), Some("(effect infer.op prompt)"));
        assert_eq!(documentation("no-such-name"), None);
    }

    #[test]
    fn topics_are_listed_in_the_order_of_the_table() {
        let order: Vec<Topic> = SIGNATURES.iter().map(|s| s.topic).collect();
        assert!(order.windows(2).all(|w| w[0] <= w[1]), "SIGNATURES is not grouped in the order of Topic::ALL");
        assert!(Topic::ALL.windows(2).all(|w| w[0] < w[1]));
        for topic in Topic::ALL {
            assert!(order.contains(&topic), "{topic:?} has no built-ins");
        }
    }
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
