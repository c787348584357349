//! The prelude's procedures, run through a session: `check(program, expected)` evaluates the
//! program and compares what the REPL would print for its last form (`write` form, or
//! `error: MESSAGE`) and, with `check_out`, the program's output.

use super::testing::run_program as eval;

#[track_caller]
fn check(program: &str, expected: &str) {
    assert_eq!(eval(program).0, expected, "program: {program}");
}

#[track_caller]
fn check_out(program: &str, expected_out: &str, expected: &str) {
    let (last, printed) = eval(program);
    assert_eq!((last.as_str(), printed.as_str()), (expected, expected_out), "program: {program}");
}

#[test]
fn prelude_procedures_print_with_their_names() {
    check(
        "(list map sort hash-table-ref stream-map require)",
        "(#<procedure map> #<procedure sort> #<procedure hash-table-ref> #<procedure stream-map> #<procedure require>)",
    );
}

#[test]
fn map_and_for_each() {
    check("(map (lambda (x) (* x x)) '(1 2 3))", "(1 4 9)");
    check("(map + '(1 2 3) '(10 20))", "(11 22)");
    check("(map list '(1 2) '(a b) '(\"x\" \"y\" \"z\"))", "((1 a \"x\") (2 b \"y\"))");
    check("(map car '())", "()");
    check("(length (map (lambda (x) (+ x 1)) (iota 1000000)))", "1000000");
    check_out("(define r '()) (map (lambda (x) (display x) x) '(1 2 3))", "123", "(1 2 3)");
    check_out("(for-each (lambda (x y) (display (+ x y))) '(1 2) '(10 20 30))", "1122", "#<unspecified>");
    check("(for-each display '())", "#<unspecified>");
    check("(map 5 '(1))", "error: map: expected procedure, got 5");
    check("(map car 5)", "error: map: expected list, got 5");
    check("(map + '(1) '(1 . 2))", "error: map: expected list, got (1 . 2)");
    check("(for-each car '(1))", "error: car: expected pair, got 1");
    check("(map car)", "error: #<procedure map>: expected at least 2 arguments, got 1");
}

#[test]
fn filtering() {
    check("(filter odd? '(1 2 3 4 5))", "(1 3 5)");
    check("(filter (lambda (x) 0) '(1 2))", "(1 2)");
    check("(remove odd? '(1 2 3 4 5))", "(2 4)");
    check("(partition odd? '(1 2 3 4 5))", "((1 3 5) (2 4))");
    check("(filter-map (lambda (x) (and (odd? x) (* x 10))) '(1 2 3))", "(10 30)");
    check("(filter-map (lambda (x y) (and (< x y) (list x y))) '(1 5 2) '(2 3 4))", "((1 2) (2 4))");
    check("(append-map (lambda (x) (list x x)) '(1 2))", "(1 1 2 2)");
    check("(append-map list '(1 2) '(a b))", "(1 a 2 b)");
    check("(append-map (lambda (x) x) '(1))", "error: append-map: expected list, got 1");
    check("(filter odd? '(1 . 2))", "error: filter: expected list, got (1 . 2)");
    check("(delete 2 '(1 2 3 2))", "(1 3)");
    check("(list-index even? '(1 3 4 5))", "2");
    check("(list-index even? '(1 3))", "#f");
}

#[test]
fn folds() {
    check("(fold (lambda (x acc) (+ x acc)) 0 '(1 2 3))", "6");
    check("(fold cons '() '(1 2 3))", "(3 2 1)");
    check("(fold (lambda (x y acc) (cons (list x y) acc)) '() '(a b c) '(1 2))", "((b 2) (a 1))");
    check("(fold-right cons '() '(1 2 3))", "(1 2 3)");
    check("(fold-right (lambda (x y acc) (cons (+ x y) acc)) '() '(1 2 3) '(10 20))", "(11 22)");
    check("(fold-left (lambda (acc x) (+ acc x)) 0 '(1 2 3 4))", "10");
    check("(fold-left cons '() '(1 2 3))", "(((() . 1) . 2) . 3)");
    check("(fold-left (lambda (acc x y) (+ acc (* x y))) 0 '(1 2) '(3 4))", "11");
    check("(foldr cons '() '(1 2 3))", "(1 2 3)");
    check("(reduce + 0 '(1 2 3 4))", "10");
    check("(reduce + 0 '())", "0");
    check("(reduce - 0 '(1 2 3 4))", "2");
    check("(length (fold-right cons '() (iota 100000)))", "100000");
    check("(fold 5 0 '(1))", "error: fold: expected procedure, got 5");
}

#[test]
fn sorting() {
    check("(sort '(3 1 2) <)", "(1 2 3)");
    check("(sort < '(3 1 2))", "(1 2 3)");
    check("(sort '(\"b\" \"a\") string<?)", "(\"a\" \"b\")");
    check("(sort '() <)", "()");
    check("(sort #(3 1 2) <)", "#(1 2 3)");
    // Stable: equal keys keep their order.
    check(
        "(sort '((1 . a) (0 . b) (1 . c) (0 . d) (1 . e)) (lambda (x y) (< (car x) (car y))))",
        "((0 . b) (0 . d) (1 . a) (1 . c) (1 . e))",
    );
    check(
        "(let ((l (map (lambda (i) (modulo (* i 7919) 10007)) (iota 10007)))) (equal? (sort l <) (iota 10007)))",
        "#t",
    );
    check("(length (sort (map (lambda (i) (modulo (* i 7919) 100003)) (iota 100000)) <))", "100000");
    check("(equal? (sort (iota 100000) <) (iota 100000))", "#t");
    check("(sort '(5 4 3 3 2 1 1) <)", "(1 1 2 3 3 4 5)");
    check("(sort '(1 2 2 1) >)", "(2 2 1 1)");
    check("(sort '(1 2) 5)", "error: sort: expected procedure, got 5");
    check("(sort 5 <)", "error: sort: expected list, got 5");
}

#[test]
fn searching() {
    check("(member 2 '(1 2 3))", "(2 3)");
    check("(member (list 1) '((1) 2))", "((1) 2)");
    check("(member 2.0 '(1 2 3) =)", "(2 3)");
    check("(member 5 '(1 2 3) =)", "#f");
    check("(assoc \"b\" '((\"a\" . 1) (\"b\" . 2)))", "(\"b\" . 2)");
    check("(assoc 2.0 '((1 . a) (2 . b)) =)", "(2 . b)");
    check("(assoc 2 '(1 2) =)", "error: assoc: expected association list, got (1 2)");
    check("(member 1 '(1) = 4)", "error: #<procedure member>: expected 2 to 3 arguments, got 4");
    check("(any odd? '(2 4 5))", "#t");
    check("(any (lambda (x) (and (> x 2) (* x 10))) '(1 2 3 4))", "30");
    check("(any odd? '())", "#f");
    check("(any < '(1 5) '(0 6))", "#t");
    check("(every odd? '(1 3 5))", "#t");
    check("(every (lambda (x) (and (odd? x) x)) '(1 3 5))", "5");
    check("(every odd? '(1 2 3))", "#f");
    check("(every odd? '())", "#t");
    check("(every < '(1 2) '(2 3 0))", "#t");
    check("(andmap positive? '(1 2))", "#t");
    check("(ormap negative? '(1 2))", "#f");
    check("((compose car cdr) '(1 2))", "2");
    check("((compose (lambda (x) (* x 2)) +) 1 2 3)", "12");
    check("((compose) 7)", "7");
    check("(identity 'x)", "x");
}

#[test]
fn hash_tables() {
    let setup = "(define h (make-hash-table)) (hash-table-set! h 'a 1) ";
    check(&format!("{setup} (hash-table-ref h 'a)"), "1");
    check(&format!("{setup} (hash-table-ref h 'b (lambda () 'none))"), "none");
    check(&format!("{setup} (hash-table-ref h 'b)"), "error: hash-table-ref: key not found: b");
    check(&format!("{setup} (hash-ref h 'a)"), "1");
    check(&format!("{setup} (hash-ref h 'b 0)"), "0");
    check(&format!("{setup} (hash-ref h 'b (lambda () 'thunk))"), "thunk");
    check(&format!("{setup} (hash-ref h 'b)"), "error: hash-ref: key not found: b");
    check(&format!("{setup} (hash-table-update! h 'a (lambda (v) (+ v 10))) (hash-table-ref h 'a)"), "11");
    check(
        &format!("{setup} (hash-table-update! h 'b (lambda (v) (+ v 10)) (lambda () 0)) (hash-table-ref h 'b)"),
        "10",
    );
    check(&format!("{setup} (hash-table-update! h 'b (lambda (v) v))"), "error: hash-table-update!: key not found: b");
    check(
        &format!("{setup} (hash-table-update!/default h 'c (lambda (v) (cons 1 v)) '()) (hash-table-ref h 'c)"),
        "(1)",
    );
    check_out(
        &format!("{setup} (hash-table-set! h 'z 26) (hash-table-walk h (lambda (k v) (display k) (display v)))"),
        "a1z26",
        "#<unspecified>",
    );
    check("(hash-table-walk 5 list)", "error: hash-table-walk: expected hash table, got 5");
    check("(hash-ref 5 1)", "error: hash-ref: expected hash table, got 5");
}

#[test]
fn vectors() {
    check("(vector-map (lambda (x) (* x x)) #(1 2 3))", "#(1 4 9)");
    check("(vector-map + #(1 2) #(10 20 30))", "#(11 22)");
    check_out("(vector-for-each display #(1 2 3))", "123", "#<unspecified>");
    check("(vector-map car '(1))", "error: vector-map: expected vector, got (1)");
}

#[test]
fn streams() {
    let ints = "(define (ints n) (cons-stream n (ints (+ n 1)))) ";
    check(&format!("{ints} (stream->list (stream-map (lambda (x) (* x x)) (ints 1)) 5)"), "(1 4 9 16 25)");
    check(&format!("{ints} (stream->list (stream-map + (ints 1) (ints 10)) 3)"), "(11 13 15)");
    check(&format!("{ints} (stream->list (stream-filter (lambda (x) (> x 2)) (ints 1)) 3)"), "(3 4 5)");
    check(&format!("{ints} (stream->list (stream-take (ints 1) 3))"), "(1 2 3)");
    check(&format!("{ints} (stream-ref (ints 0) 1000)"), "1000");
    check(&format!("{ints} (stream->list (stream-interleave (stream 1 2) (ints 10)) 5)"), "(1 10 2 11 12)");
    check("(stream->list (stream-append (stream 1 2) '() (list->stream '(3))))", "(1 2 3)");
    check("(stream->list (stream))", "()");
    check("(stream-null? the-empty-stream)", "#t");
    check("(stream-cdr '())", "error: stream-cdr: expected stream pair, got ()");
    check("(stream-ref (stream 1) 3)", "error: stream-ref: index 3 out of range");
    check_out("(stream-for-each display (stream 1 2 3))", "123", "#<unspecified>");
    // Nothing is forced beyond what is asked for.
    check_out(
        "(define (noisy n) (cons-stream n (begin (display n) (noisy (+ n 1))))) \
         (stream->list (stream-take (noisy 1) 3))",
        "12",
        "(1 2 3)",
    );
    check_out(
        "(define (noisy n) (cons-stream n (begin (display n) (noisy (+ n 1))))) (stream->list (noisy 1) 2)",
        "1",
        "(1 2)",
    );
    check_out(
        "(define (noisy n) (cons-stream n (begin (display n) (noisy (+ n 1))))) (stream-car (stream-map - (noisy 1)))",
        "",
        "-1",
    );
}

#[test]
fn require_backtracks() {
    check("(let ((x (amb 1 3 5))) (require (> x 2)) x)", "3");
    check("(let ((x (amb 1 2))) (require (> x 5)) x)", "error: amb: all alternatives exhausted");
}
