//! Returns and tail calls on the machine's fast paths: a returned local moved out of its
//! frame, a built-in's result handed straight to the caller, a self tail call moving its
//! arguments down, and returns into special frames rather than calling frames.

use crate::primitives::testing::run_program;

/// What the REPL would print for the program's last form.
#[track_caller]
fn check(program: &str, expected: &str) {
    assert_eq!(run_program(program).0, expected, "program: {program}");
}

#[test]
fn a_returned_local_is_the_right_one_and_stays_alive() {
    check("(define (f n) (if (< n 2) n (f (- n 1)))) (f 10)", "1");
    // Not the first local: a `let` in the body.
    check("(define (k a) (let ((b (* a 2))) b)) (k 21)", "42");
    // A heap value moved out of the dying frame.
    check("(define (id x) x) (id (list 1 (string-append \"a\" \"b\")))", "(1 \"ab\")");
    // A variable captured and changed lives in a box: its value is returned, not the box.
    check("(define (g x) (let ((h (lambda () x))) (set! x (+ x 1)) x)) (g 1)", "2");
    check("(define (r) (letrec ((x 5)) x)) (r)", "5");
}

#[test]
fn built_ins_in_tail_position_return_their_result() {
    check("(define (add a b) (+ a b)) (add 2 3)", "5");
    check("(define (lt a b) (< a b)) (list (lt 1 2) (lt 2 1))", "(#t #f)");
    check("(define (pair a b) (cons a b)) (pair 1 2)", "(1 . 2)");
    check("(define (head l) (car l)) (head '(7 8))", "7");
    // An overflowing product leaves the fast path for the primitive, with the same result
    // as outside tail position.
    let big = "4611686018427387904";
    let (expected, _) = run_program(&format!("(* {big} {big})"));
    check(&format!("(define (sq a) (* a a)) (sq {big})"), &expected);
    check("(define (bad a) (+ a 1)) (bad \"x\")", "error: +: expected number, got \"x\"");
}

#[test]
fn self_tail_calls_move_their_arguments_and_drop_the_old_ones() {
    check("(define (loop i acc) (if (= i 0) acc (loop (- i 1) (+ acc 1)))) (loop 100000 0)", "100000");
    check("(define (build i acc) (if (= i 0) acc (build (- i 1) (cons i acc)))) (length (build 1000 '()))", "1000");
    // Extra locals in the looping procedure are reset on each round.
    check(
        "(define (walk i acc) (let ((sq (* i i))) (if (= i 0) acc (walk (- i 1) (cons sq acc))))) (walk 3 '())",
        "(1 4 9)",
    );
    // No arguments, and a closure's captured variable.
    check("(define n 0) (define (count) (if (< n 5) (begin (set! n (+ n 1)) (count)) n)) (count)", "5");
}

#[test]
fn returns_into_special_frames_deliver_the_value() {
    check("(force (delay (let ((x 5)) x)))", "5");
    check("(dynamic-wind (lambda () #f) (lambda () ((lambda (x) x) 7)) (lambda () #f))", "7");
    check("(guard (e (#t 'caught)) ((lambda (x) (+ x 1)) 1))", "2");
    check("(guard (e (#t 'caught)) ((lambda (x) (car x)) 1))", "caught");
}

#[test]
fn a_test_of_a_local_and_a_constant_branches_as_the_built_in_decides() {
    let all = "(define (t n) (list (if (< n 2) 'y 'n) (if (> n 2) 'y 'n) (if (<= n 2) 'y 'n) (if (>= n 2) 'y 'n) (if (= n 2) 'y 'n)))";
    check(&format!("{all} (list (t 1) (t 2) (t 3))"), "((y n y n n) (n n y y y) (n y n y n))");
    // Other numbers leave the integer path for the primitive.
    check(&format!("{all} (t 2.5)"), "(n y n y n)");
    check("(define (f n) (if (< n 2) 'y 'n)) (f 4611686018427387904)", "n");
    // A non-number fails as the built-in does outside a test.
    let (expected, _) = run_program("(< \"x\" 2)");
    assert!(expected.starts_with("error: <:"), "{expected}");
    check("(define (f n) (if (< n 2) 'y 'n)) (f \"x\")", &expected);
    // The name no longer holds the built-in: the new procedure decides.
    check("(define (f n) (if (< n 2) 'y 'n)) (define (< a b) (> a b)) (f 5)", "y");
    check("(define (f n) (if (= n 0) 'y 'n)) (set! = (lambda (a b) #t)) (f 5)", "y");
    // A local of that name is not the built-in.
    check("(define (f n) (let ((< (lambda (a b) 'yes))) (if (< n 2) 'y 'n))) (f 5)", "y");
    check("(define (f < n) (if (< n 2) 'y 'n)) (f > 5)", "y");
}
