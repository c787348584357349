//! The static analysis stays bounded on hostile and generated files: rings of serializers,
//! 100,000 open parentheses, nesting as deep as the reader accepts, and a caller that
//! cancels. Work is shown by counts (findings, lines), never by wall time.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use omega_analysis::{analyze_with, check, Options, MAX_ANALYSIS_DEPTH};
use omega_syntax::diagnostic::{Code, Severity};
use omega_syntax::reader::{self, MAX_DEPTH};
use omega_tests::fuzz::{within_stack, ORDINARY_STACK};

/// `n` procedures, each holding its own serializer and calling the next, run from two tasks.
fn ring(n: usize) -> String {
    let mut t = String::new();
    for i in 0..n {
        t.push_str(&format!("(define s{i} (make-serializer))\n"));
    }
    for i in 0..n {
        let next = (i + 1) % n;
        t.push_str(&format!("(define (f{i} n) ((s{i} (lambda () (if (> n 0) (f{next} (- n 1)) 0)))))\n"));
    }
    t.push_str(&format!("(parallel (lambda () (f0 5)) (lambda () (f{} 5)))\n", n / 2));
    t
}

fn count(diags: &[omega_syntax::diagnostic::Diagnostic], code: Code) -> usize {
    diags.iter().filter(|d| d.code == code).count()
}

#[test]
fn a_ring_of_a_hundred_serializers_gives_one_finding_and_says_the_analysis_stopped() {
    let diags = within_stack(ORDINARY_STACK, Duration::from_secs(60), "ring", || check(&ring(100)));
    // One deadlock between the two tasks, not one per cycle through the ring's serializers;
    // the ring coming back to `s0` is too deep a call chain to follow here.
    assert_eq!(count(&diags, Code::DeadlockOrder), 1, "{diags:#?}");
    assert!(count(&diags, Code::SelfDeadlock) <= 1, "{diags:#?}");
    let incomplete: Vec<_> = diags.iter().filter(|d| d.code == Code::AnalysisIncomplete).collect();
    assert_eq!(incomplete.len(), 1, "{diags:#?}");
    assert_eq!(incomplete[0].severity, Severity::Information);
    assert!(incomplete[0].message.starts_with("analysis incomplete:"), "{}", incomplete[0].message);
    let related: usize = diags.iter().map(|d| d.related.len()).sum();
    assert!(related < 1_000, "{related} related lines");
}

#[test]
fn a_small_ring_is_analysed_to_the_end_with_one_finding_per_cycle() {
    let diags = check(&ring(6));
    assert_eq!(count(&diags, Code::AnalysisIncomplete), 0, "{diags:#?}");
    // Every serializer of the ring is taken again: one finding for the ring.
    assert_eq!(count(&diags, Code::SelfDeadlock), 1, "{diags:#?}");
    assert_eq!(count(&diags, Code::DeadlockOrder), 1, "{diags:#?}");
}

#[test]
fn a_raised_cancel_flag_stops_the_analysis() {
    let text = ring(3);
    let flag = Arc::new(AtomicBool::new(true));
    let a = analyze_with(&text, &Options { cancel: Some(flag) });
    assert_eq!(count(&a.diagnostics, Code::SelfDeadlock), 0, "{:#?}", a.diagnostics);
    let d = a.diagnostics.iter().find(|d| d.code == Code::AnalysisIncomplete).expect("the incomplete note");
    assert!(d.message.contains("cancelled"), "{}", d.message);
    // Names still resolve: the editor's queries work on a cancelled analysis.
    assert!(a.resolution.definition_at(text.find("f1 (-").unwrap()).is_some());
    // A lowered flag changes nothing.
    let a = analyze_with(&text, &Options { cancel: Some(Arc::new(AtomicBool::new(false))) });
    assert_eq!(a.diagnostics, check(&text));
}

#[test]
fn open_parentheses_give_one_error_for_the_outermost() {
    let text = "(".repeat(100_000);
    let parsed = within_stack(ORDINARY_STACK, Duration::from_secs(60), "open parens", move || reader::read(&text));
    let unclosed: Vec<_> = parsed.errors.iter().filter(|e| e.message.starts_with("unclosed parenthesis")).collect();
    assert_eq!(unclosed.len(), 1, "{:?}", &parsed.errors[..parsed.errors.len().min(3)]);
    assert_eq!(unclosed[0].span.start, 0);
    assert!(unclosed[0].message.contains("99999 more"), "{}", unclosed[0].message);
}

#[test]
fn two_unclosed_parentheses_keep_the_plain_message_count() {
    let parsed = reader::read("(a (b");
    let messages: Vec<_> = parsed.errors.iter().map(|e| (e.span.start, e.message.as_str())).collect();
    assert_eq!(messages, [(0, "unclosed parenthesis (and 1 more unclosed parenthesis after it)")]);
}

fn nested(depth: usize) -> String {
    format!("{}x{}", "(".repeat(depth), ")".repeat(depth))
}

#[test]
fn the_deepest_nesting_the_reader_accepts_is_analysed_on_an_ordinary_stack() {
    let diags = within_stack(ORDINARY_STACK, Duration::from_secs(60), "deep", || {
        let text = format!("(define y 1)\n{}\n(define z y)\n", nested(MAX_DEPTH));
        check(&text)
    });
    let deep: Vec<_> = diags.iter().filter(|d| d.message.starts_with("form nested deeper than")).collect();
    assert_eq!(deep.len(), 1, "{diags:#?}");
    assert_eq!(deep[0].severity, Severity::Error);
    // The shallow forms around it are still analysed.
    assert_eq!(count(&diags, Code::Unbound), 0, "{diags:#?}");
}

#[test]
fn nesting_up_to_the_analysis_limit_is_analysed() {
    let diags = within_stack(ORDINARY_STACK, Duration::from_secs(60), "limit", || {
        check(&format!("(define (g) {})", nested(MAX_ANALYSIS_DEPTH - 1)))
    });
    assert!(!diags.iter().any(|d| d.message.starts_with("form nested deeper than")), "{diags:#?}");
    // `x` is unbound: the form was analysed.
    assert_eq!(count(&diags, Code::Unbound), 1, "{diags:#?}");
}
