//! [`indent_for_line_at`]: the line holding `$0` in a fixture, and every line of formatted
//! programs, which must get the indentation `format` gave them.

use super::tests::{random_program, Rng, CHAPTER_39, EXAMPLES};
use super::*;

/// Indents the line holding `$0` in `fixture`, expecting `expected` (`None`: left alone).
fn check(fixture: &str, expected: Option<usize>) {
    let offset = fixture.find("$0").expect("the fixture marks the cursor with $0");
    let text = fixture.replacen("$0", "", 1);
    assert_eq!(indent_for_line_at(&text, offset), expected, "indenting the line of $0 in {fixture:?}");
}

#[test]
fn new_lines_indent_as_the_formatter_would() {
    let cases: &[(&str, Option<usize>)] = &[
        // Bodies: 2 columns past the form's parenthesis.
        ("(define (f x)\n$0", Some(2)),
        ("(define (f x)\n  (let ((a 1)\n        (b 2))\n$0", Some(4)),
        ("(define-tool (t)\n$0", Some(2)),
        ("(parallel\n$0", Some(2)),
        ("(handle (effect infer.op \"q\")\n  (on infer.op (p k)\n$0", Some(4)),
        ("(lambda (x)\n  (when (> x 1)\n$0", Some(4)),
        // Bindings: a list of lists lines up under its first element.
        ("(let ((a 1)\n$0", Some(6)),
        ("(define (f x)\n  (let ((a 1)\n$0", Some(8)),
        // Calls: under the first argument, or under the operator when there is none yet.
        ("(foo a\n$0", Some(5)),
        ("(foo a b\n$0", Some(5)),
        ("(foo\n$0", Some(1)),
        ("(define (f x)\n  (let ((y 2))\n    (+ x\n$0", Some(7)),
        ("(if (> x 1)\n$0", Some(4)),
        ("(effect infer.op\n$0", Some(8)),
        // Data and vectors: under the first element.
        ("'((a . 1)\n$0", Some(2)),
        ("(define x '(a\n$0", Some(12)),
        ("#(1 2\n$0", Some(2)),
        // Columns count characters, not bytes.
        ("(f \"é\" (g a\n$0", Some(10)),
        // A closed form at top level, stray parentheses, comments.
        ("(define (f x)\n  (+ x 1))\n$0", Some(0)),
        ("(a)))\n$0", Some(0)),
        ("(a)))\n(b c\n$0", Some(3)),
        ("$0", Some(0)),
        ("(define (f)\n  ; a note\n$0", Some(2)),
        ("; (define (f)\n$0", Some(0)),
        ("(a #;(b c)\n$0", Some(1)),
        ("(a #;(b\n$0", Some(6)),
        ("(a #;(b\nc)\n$0", Some(1)),
        ("(a #;\n(b\nc)\n$0", Some(1)),
        ("(a '\n(b\nc)\n$0", Some(3)),
        // Malformed text a `)` still closes.
        ("(a (b ')\n$0", Some(3)),
        ("(a (b #;)\n$0", Some(3)),
        ("(a '(b) (c ,)\n$0", Some(3)),
        ("(a #| note |#\n$0", Some(1)),
        // The line's own text does not matter, nor where on it the cursor is.
        ("(foo a\n$0)", Some(5)),
        ("(foo a\n        b$0 c)", Some(5)),
        ("(define (f x)\r\n$0", Some(2)),
        // The lines above count as written, even when `omega fmt` would move them.
        ("(define (f)\n      (foo a\n$0", Some(11)),
        // Inside a string or block comment the whitespace is the token's own.
        ("(display \"abc\n$0", None),
        ("(a \"x\" \"y\n$0", None),
        ("\"abc\n$0", None),
        ("(a #| note\n$0", None),
        ("#| a\n#| nested |#\n$0", None),
        // A string over several lines that is closed does not stop the next line.
        ("(display \"abc\ndef\" x\n$0", Some(9)),
    ];
    for &(fixture, expected) in cases {
        check(fixture, expected);
    }
}

#[test]
fn an_offset_outside_the_text_has_no_line() {
    assert_eq!(indent_for_line_at("(a", 3), None);
    assert_eq!(indent_for_line_at("(é\n", 2), None, "not a character boundary");
}

/// Every line of `formatted` gets, on its own, the indentation the whole text has; lines
/// that start inside a token get none.
fn assert_lines_indent_as_formatted(formatted: &str) {
    let tree = reader::parser().parse(formatted, None).expect("parsed");
    let lines = Lines::new(formatted);
    let layout = Indenter::new(formatted, &lines, Columns::Reindented).run(tree.walk());
    for (i, line) in layout.iter().enumerate() {
        let start = lines.starts[i];
        let expected = match (line.starts_in_token, formatted[start..lines.content_ends[i]].trim().is_empty()) {
            (true, _) => None,
            (false, true) => continue,
            (false, false) => Some(lines.indent(formatted, i)),
        };
        assert_eq!(indent_for_line_at(formatted, start), expected, "line {} of {formatted:?}", i + 1);
    }
}

#[test]
fn each_line_of_formatted_programs_indents_as_the_whole_file() {
    for program in CHAPTER_39.iter().chain(EXAMPLES) {
        assert_lines_indent_as_formatted(&format(program).expect("reads cleanly"));
    }
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    for _ in 0..300 {
        let program = random_program(&mut rng);
        assert_lines_indent_as_formatted(&format(&program).expect("reads cleanly"));
    }
}
