//! Brief fuzzing of the reader and the evaluator with proptest, and the saved crashers of
//! tests/fuzz-regressions. Every input must end with values or clean errors: no panic, no
//! hang past the budget, no stack overflow.
//!
//! The number of cases is small so the normal test run stays fast; for a longer session:
//! `PROPTEST_CASES=5000 cargo test -p omega-tests --test e2e fuzz`. `FUZZ_SHOW=1` prints each
//! generated program with its results.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use omega_tests::fuzz::{read_everything, survive, within_stack, ORDINARY_STACK};
use omega_tests::{files_under, repo_root};
use std::time::Duration;

/// `cases` by default, or PROPTEST_CASES.
fn runner(cases: u32) -> TestRunner {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(cases);
    // Failures are kept as readable files in tests/fuzz-regressions, not as seeds.
    TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() })
}

// ----- the reader on arbitrary and mutated text -----

/// Characters that matter to the reader, plus some that do not.
const READER_ALPHABET: &[&str] = &[
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "'",
    "`",
    ",",
    ",@",
    "#",
    "#(",
    "#|",
    "|#",
    "#;",
    "#\\",
    "#t",
    "#f",
    "#true",
    "\"",
    "\\",
    "\\x41;",
    "\\u00e9",
    ";",
    "\n",
    " ",
    "\t",
    "\r",
    ".",
    "..",
    "...",
    "1",
    "-",
    "+",
    "1.5",
    "1e3",
    "1/2",
    "+inf.0",
    "a",
    "x",
    "null",
    "é",
    "λ",
    "\u{0}",
    "99999999999999999999",
    "#!",
    "#x",
    "define",
    "lambda",
    "quote",
    "|",
];

fn reader_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        prop::collection::vec(prop::sample::select(READER_ALPHABET), 0..80).prop_map(|parts| parts.concat()),
    ]
}

/// A mutation of a valid program.
#[derive(Clone, Debug)]
enum Mutation {
    Delete { at: usize, len: usize },
    Insert { at: usize, text: &'static str },
    Duplicate { at: usize, len: usize },
    Truncate { at: usize },
    Swap { a: usize, b: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let pos = 0usize..100_000;
    prop_oneof![
        (pos.clone(), 1usize..12).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (pos.clone(), prop::sample::select(READER_ALPHABET)).prop_map(|(at, text)| Mutation::Insert { at, text }),
        (pos.clone(), 1usize..40).prop_map(|(at, len)| Mutation::Duplicate { at, len }),
        pos.clone().prop_map(|at| Mutation::Truncate { at }),
        (pos.clone(), pos).prop_map(|(a, b)| Mutation::Swap { a, b }),
    ]
}

/// Applies `m` to `text`, on character boundaries.
fn mutate(text: &str, m: &Mutation) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let n = chars.len().max(1);
    match *m {
        Mutation::Delete { at, len } => {
            let at = at % n;
            let end = (at + len).min(chars.len());
            chars.drain(at.min(end)..end);
        }
        Mutation::Insert { at, text } => {
            let at = at % (chars.len() + 1);
            chars.splice(at..at, text.chars());
        }
        Mutation::Duplicate { at, len } => {
            let at = at % n;
            let end = (at + len).min(chars.len());
            let copy: Vec<char> = chars[at.min(end)..end].to_vec();
            chars.splice(end..end, copy);
        }
        Mutation::Truncate { at } => chars.truncate(at % n),
        Mutation::Swap { a, b } => {
            if !chars.is_empty() {
                let len = chars.len();
                chars.swap(a % len, b % len);
            }
        }
    }
    chars.into_iter().collect()
}

/// The repository's valid programs: the program tests and the examples.
fn valid_programs() -> Vec<String> {
    let root = repo_root();
    let mut files: Vec<_> = files_under(&root.join("tests/programs"))
        .into_iter()
        .chain(files_under(&root.join("examples")))
        .filter(|p| p.extension().is_some_and(|e| e == "omega"))
        .collect();
    files.sort();
    files.iter().filter_map(|f| std::fs::read_to_string(f).ok()).collect()
}

/// Runs every reader-side check, turning a panic into a test failure that shows the text, so
/// the shrunk input can be saved in tests/fuzz-regressions as it is.
fn check_reading(text: &str) -> Result<(), TestCaseError> {
    let owned = text.to_string();
    let on_ordinary_stack =
        move || within_stack(ORDINARY_STACK, Duration::from_secs(60), "reading", move || read_everything(&owned));
    match std::panic::catch_unwind(on_ordinary_stack) {
        Ok(_) => Ok(()),
        Err(_) => Err(TestCaseError::fail(format!("reading, formatting or analysing panicked on {text:?}"))),
    }
}

#[test]
fn the_reader_survives_arbitrary_text() {
    runner(300).run(&reader_text(), |text| check_reading(&text)).unwrap();
}

#[test]
fn the_reader_survives_mutated_programs() {
    let programs = valid_programs();
    assert!(!programs.is_empty());
    let strategy = (0..programs.len(), prop::collection::vec(mutation(), 1..4));
    runner(150)
        .run(&strategy, |(i, mutations)| {
            let text = mutations.iter().fold(programs[i].clone(), |t, m| mutate(&t, m));
            check_reading(&text)
        })
        .unwrap();
}

/// Valid text reads back to data that prints and reads again to the same data.
#[test]
fn written_data_reads_back_the_same() {
    runner(200)
        .run(&datum(), |text| {
            let first = omega_syntax::reader::read(&text);
            prop_assert!(first.errors.is_empty(), "{text:?} does not read: {:?}", first.errors[0].message);
            let (mut s, _) = omega_tests::programs::session(&omega_llm::config::LlmConfig::new(
                omega_llm::config::AdapterKind::None,
            ));
            let quoted = format!("(quote {text})");
            let mut printed = None;
            let _ = s.run_source("<datum>", &quoted, |_, r| {
                printed = r.result.ok().map(|v| omega_eval::printer::write_string(&v));
                std::ops::ControlFlow::Continue(())
            });
            let printed = printed.expect("a quoted datum evaluates");
            let mut again = None;
            let _ = s.run_source("<datum>", &format!("(quote {printed})"), |_, r| {
                again = r.result.ok().map(|v| omega_eval::printer::write_string(&v));
                std::ops::ControlFlow::Continue(())
            });
            prop_assert_eq!(again.as_deref(), Some(printed.as_str()));
            Ok(())
        })
        .unwrap();
}

/// Printed data: atoms, lists, dotted lists, vectors, quote forms.
fn datum() -> impl Strategy<Value = String> {
    let atom = prop_oneof![
        any::<i64>().prop_map(|i| i.to_string()),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| format!("{f:?}")),
        Just("+inf.0".to_string()),
        Just("-inf.0".to_string()),
        "[a-z!?*<>=][a-z0-9.!?*<>=/+-]{0,6}",
        any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap()),
        prop::sample::select(vec!["#t", "#f", "()", "#\\a", "#\\space", "null"]).prop_map(str::to_string),
    ];
    atom.prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(|xs| format!("({})", xs.join(" "))),
            (prop::collection::vec(inner.clone(), 1..4), inner.clone())
                .prop_map(|(xs, t)| format!("({} . {t})", xs.join(" "))),
            prop::collection::vec(inner.clone(), 0..4).prop_map(|xs| format!("#({})", xs.join(" "))),
            inner.prop_map(|x| format!("'{x}")),
        ]
    })
}

// ----- the evaluator on generated programs -----

/// Small literals of every type, including the edges of the integers.
fn literal() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "0",
        "1",
        "2",
        "-1",
        "3",
        "7",
        "9223372036854775807",
        "-9223372036854775808",
        "0.5",
        "-2.5",
        "+nan.0",
        "+inf.0",
        "\"\"",
        "\"ab\"",
        "\"héllo\"",
        "'a",
        "'()",
        "'(1 2 3)",
        "'(1 . 2)",
        "#(1 2)",
        "#t",
        "#f",
        "#\\a",
        "'sym",
        "(list 1 \"x\")",
        "car",
        "+",
        "(lambda (v) v)",
    ])
    .prop_map(str::to_string)
}

/// Built-ins called with generated arguments (arity and types are often wrong on purpose).
const CALLEES: &[&str] = &[
    "+",
    "-",
    "*",
    "/",
    "quotient",
    "remainder",
    "modulo",
    "expt",
    "sqrt",
    "exact",
    "abs",
    "min",
    "max",
    "<",
    "=",
    "number->string",
    "string->number",
    "car",
    "cdr",
    "cons",
    "list",
    "length",
    "append",
    "reverse",
    "list-ref",
    "list-tail",
    "memv",
    "assoc",
    "last-pair",
    "vector",
    "vector-ref",
    "make-vector",
    "vector->list",
    "list->vector",
    "string-append",
    "string-length",
    "substring",
    "string-split",
    "string-join",
    "string-upcase",
    "symbol->string",
    "string->symbol",
    "equal?",
    "eq?",
    "not",
    "null?",
    "pair?",
    "apply",
    "map",
    "for-each",
    "filter",
    "fold",
    "fold-right",
    "reduce",
    "sort",
    "iota",
    "member",
    "list-copy",
    "hash-table-set!",
    "make-hash-table",
    "hash-table-ref/default",
    "force",
    "make-promise",
    "error",
    "raise",
    "display",
    "write",
    "format",
    "stream->list",
    "compose",
    "identity",
    "read",
    "eval",
    "dynamic-wind",
    "vector-map",
    "string->list",
    "list->string",
    "gensym",
];

const VARS: &[&str] = &["x", "y", "z", "f", "h", "undefined-var"];

fn expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![literal(), prop::sample::select(VARS).prop_map(str::to_string)];
    leaf.prop_recursive(5, 60, 4, |e| {
        let e2 = (e.clone(), e.clone());
        let e3 = (e.clone(), e.clone(), e.clone());
        prop_oneof![
            (prop::sample::select(CALLEES), prop::collection::vec(e.clone(), 0..4))
                .prop_map(|(f, args)| format!("({f} {})", args.join(" "))),
            e3.clone().prop_map(|(a, b, c)| format!("(if {a} {b} {c})")),
            e2.clone().prop_map(|(a, b)| format!("(let ((x {a})) {b})")),
            e2.clone().prop_map(|(a, b)| format!("(let* ((y {a}) (z y)) {b})")),
            e2.clone().prop_map(|(a, b)| format!("(letrec ((f (lambda (x) {a}))) {b})")),
            e2.clone().prop_map(|(a, b)| format!("((lambda (x . z) {a}) {b} 1 2)")),
            e2.clone().prop_map(|(a, b)| format!("(begin {a} {b})")),
            e2.clone().prop_map(|(a, b)| format!("(and {a} {b})")),
            e2.clone().prop_map(|(a, b)| format!("(or {a} {b})")),
            e3.clone().prop_map(|(a, b, c)| format!("(cond ({a} => (lambda (v) {b})) (else {c}))")),
            e2.clone().prop_map(|(a, b)| format!("(case {a} ((1 \"ab\" a) {b}) (else 'no))")),
            e2.clone().prop_map(|(a, b)| format!("(when {a} {b})")),
            e.clone().prop_map(|a| format!("`(1 ,{a} ,@(list {a}) #(,{a}))")),
            e2.clone().prop_map(|(a, b)| format!("(let loop ((i 0) (acc {a})) (if (< i 3) (loop (+ i 1) {b}) acc))")),
            e2.clone().prop_map(|(a, b)| format!("(do ((i 0 (+ i 1))) ((= i 2) {a}) {b})")),
            e2.clone().prop_map(|(a, b)| format!("(let ((x 0)) (set! x {a}) (list x {b}))")),
            e2.clone().prop_map(|(a, b)| format!("(handle (+ 1 (effect op {a})) (on op (v k) (k {b})))")),
            e2.clone()
                .prop_map(|(a, b)| format!("(handle (list (effect pick)) (on pick (k) (append (k {a}) (k {b}))))")),
            e.clone().prop_map(|a| format!("(handle (effect stop) (on stop (k) {a}) (return (v) (list v)))")),
            e2.clone().prop_map(|(a, b)| format!("(amb {a} {b})")),
            e.clone().prop_map(|a| format!("(let ((v (amb 1 2 3))) (require (> v 1)) (list v {a}))")),
            e.clone().prop_map(|a| format!("(guard (ex (#t (list 'caught ex))) {a})")),
            e.clone().prop_map(|a| format!("(force (delay {a}))")),
            e.clone().prop_map(|a| format!("(stream->list (cons-stream {a} '()))")),
            e2.clone().prop_map(|(a, b)| format!("(match {a} ((?p . ?q) (list p q)) (#(?p) p) ((? p) p) (_ {b}))")),
            e2.clone().prop_map(|(a, b)| format!("(parallel {a} (lambda () {b}))")),
            e.clone().prop_map(|a| format!("(let ((s (make-serializer))) ((s (lambda () {a}))))")),
            e.clone().prop_map(|a| format!("(dynamic-wind (lambda () 1) (lambda () {a}) (lambda () 2))")),
            e.clone().prop_map(|a| format!("(call-or-apply {a})")),
            e.clone().prop_map(|a| format!("(map (lambda (x) {a}) '(1 2))")),
            e.clone().prop_map(|a| format!("(sort (list 3 {a} 1) <)")),
            e.clone().prop_map(|a| format!("(eval '(quote {a}))")),
            // odd data handed to any built-in: cyclic lists and vectors, deep nesting
            (prop::sample::select(CALLEES), e.clone())
                .prop_map(|(f, a)| format!("(let ((c (list 1 {a}))) (set-cdr! (cdr c) c) ({f} c {a}))")),
            (prop::sample::select(CALLEES), e.clone())
                .prop_map(|(f, a)| format!("(let ((v (vector {a}))) (vector-set! v 0 v) ({f} {a} v))")),
            (prop::sample::select(CALLEES), e.clone()).prop_map(|(f, a)| format!("({f} (deep 20000) {a})")),
        ]
    })
}

/// A program: some top-level definitions, then expressions.
fn program() -> impl Strategy<Value = String> {
    (prop::collection::vec(expr(), 0..3), prop::collection::vec(expr(), 1..4)).prop_map(|(defs, exprs)| {
        let mut text = String::new();
        for (name, d) in ["x", "y", "h"].iter().zip(&defs) {
            text.push_str(&format!("(define {name} {d})\n"));
        }
        text.push_str("(define (call-or-apply v) (if (procedure? v) (v) v))\n");
        text.push_str("(define (deep n) (let loop ((n n) (acc '())) (if (= n 0) acc (loop (- n 1) (list acc)))))\n");
        text.push_str("(define-syntax twice (syntax-rules () ((_ e) (begin e e))))\n");
        for e in exprs {
            text.push_str(&format!("(twice {e})\n"));
        }
        text
    })
}

#[test]
fn the_evaluator_survives_generated_programs() {
    runner(40)
        .run(&program(), |text| {
            let results = survive(&text);
            if std::env::var_os("FUZZ_SHOW").is_some() {
                eprintln!("----\n{text}{results:?}");
            }
            prop_assert!(!results.is_empty());
            Ok(())
        })
        .unwrap();
}

#[test]
fn the_evaluator_survives_mutated_programs() {
    let programs = valid_programs();
    let strategy = (0..programs.len(), prop::collection::vec(mutation(), 1..3));
    runner(25)
        .run(&strategy, |(i, mutations)| {
            let text = mutations.iter().fold(programs[i].clone(), |t, m| mutate(&t, m));
            let owned = text.clone();
            match std::panic::catch_unwind(move || survive(&owned)) {
                Ok(_) => Ok(()),
                Err(_) => Err(TestCaseError::fail(format!("evaluation panicked or hung on {text:?}"))),
            }
        })
        .unwrap();
}

// ----- saved crashers -----

/// Every file of tests/fuzz-regressions once made the reader, the formatter, the analysis or
/// the evaluator panic, hang or overflow; now each must pass all the checks.
#[test]
fn saved_crashers_stay_fixed() {
    let dir = repo_root().join("tests/fuzz-regressions");
    let mut files: Vec<_> =
        files_under(&dir).into_iter().filter(|p| p.extension().is_some_and(|e| e == "omega")).collect();
    files.sort();
    assert!(!files.is_empty(), "no regression files in {}", dir.display());
    for f in files {
        let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
        eprintln!("{}", f.display());
        survive(&text);
    }
}
