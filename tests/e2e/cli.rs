//! The `omega` command line as users and scripts see it: error messages with
//! `FILE:LINE:COL`, call stacks, exit codes, limits, the REPL over stdin, `fmt` and `check`.

use std::time::Duration;

use omega_tests::cli::{omega_in, Ran};
use omega_tests::TempDir;

/// Generous: only a hang should ever come near it.
const LIMIT: Duration = Duration::from_secs(120);

/// Runs `omega ARGS…` in a scratch directory holding `files`.
fn omega(files: &[(&str, &str)], args: &[&str], stdin: &str) -> Ran {
    let dir = TempDir::new("cli");
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    omega_in(dir.path(), args, stdin, LIMIT)
}

/// `omega run prog.omega` on `program`.
fn run(program: &str) -> Ran {
    omega(&[("prog.omega", program)], &["run", "prog.omega"], "")
}

/// Each program fails with exit code 1 and this first line of stderr.
#[test]
fn evaluation_errors_name_the_innermost_form_at_fault() {
    let cases = [
        // wrong arity, of a closure and of a primitive, in and out of tail position
        (
            "(define (f a b) a)\n(display (f 1))\n",
            "prog.omega:2:10: error: #<procedure f>: expected 2 arguments, got 1",
        ),
        ("(define (f a b) a)\n(f 1)\n", "prog.omega:2:1: error: #<procedure f>: expected 2 arguments, got 1"),
        (
            "(define (f a b) a)\n(define (g)\n  (f 1))\n(g)\n",
            "prog.omega:3:3: error: #<procedure f>: expected 2 arguments, got 1",
        ),
        ("(display\n  (car 1 2))\n", "prog.omega:2:3: error: #<procedure car>: expected 1 argument, got 2"),
        ("((lambda (x) x))\n", "prog.omega:1:1: error: #<procedure>: expected 1 argument, got 0"),
        // unbound name
        ("(define x 1)\n(display (+ x y))\n", "prog.omega:2:15: error: unbound variable: y"),
        ("(list true)\n", "prog.omega:1:7: error: unbound variable: true (use #t, #f or '())"),
        // bad argument type
        ("(+ 1 \"a\")\n", "prog.omega:1:1: error: +: expected number, got \"a\""),
        (
            "(define (len s) (string-length s))\n(len 5)\n",
            "prog.omega:1:17: error: string-length: expected string, got 5",
        ),
        ("(map car '(1))\n", "prog.omega:1:1: error: car: expected pair, got 1"),
        // division by zero
        ("(display (/ 10 (- 2 2)))\n", "prog.omega:1:10: error: division by zero"),
        ("  (modulo 1 0)\n", "prog.omega:1:3: error: division by zero"),
        // car of the empty list
        ("(define (first l) (car l))\n(first '())\n", "prog.omega:1:19: error: car: expected pair, got ()"),
        // not a procedure, raise, error, effects, amb, match
        ("(5 3)\n", "prog.omega:1:1: error: not a procedure: 5"),
        ("(raise 'oops)\n", "prog.omega:1:1: error: uncaught raise: oops"),
        ("(error \"boom:\" 42)\n", "prog.omega:1:1: error: boom: 42"),
        ("(effect nobody.op 1)\n", "prog.omega:1:1: error: unhandled effect: nobody.op"),
        ("(amb)\n", "prog.omega:1:1: error: amb: all alternatives exhausted"),
        ("(match 5 ((?a) a))\n", "prog.omega:1:1: error: match: no clause matched 5"),
        ("(letrec ((a b) (b 1)) a)\n", "prog.omega:1:13: error: b: used before its definition"),
        ("(* 9223372036854775807 2)\n", "prog.omega:1:1: error: integer overflow"),
        // columns count characters, not bytes
        ("(display \"héllo\") (car '())\n", "prog.omega:1:19: error: car: expected pair, got ()"),
    ];
    let mut failures = Vec::new();
    for (program, expected) in cases {
        let r = run(program);
        if r.code != Some(1) || r.first_error_line() != expected {
            failures
                .push(format!("{program:?}\n  expected {expected:?}\n  got exit {:?}, stderr {:?}", r.code, r.stderr));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn reader_errors_point_at_the_unmatched_parenthesis_and_nothing_runs() {
    let cases = [
        ("(display 1)\n(define (f x)\n  (+ x 1)\n(display 2)\n", "prog.omega:2:1: error: unclosed parenthesis"),
        ("(display 1)\n  (list (list 1)\n", "prog.omega:2:3: error: unclosed parenthesis"),
        ("(display 1)\n(+ 1 2))\n", "prog.omega:2:8: error: unexpected )"),
        ("(display 1)\n\n   )\n", "prog.omega:3:4: error: unexpected )"),
        ("(display \"abc)\n", "prog.omega:1:1: error: unclosed parenthesis"),
        ("(display 1) \"abc\n", "prog.omega:1:13: error: unterminated string"),
        ("(display [1])\n", "prog.omega:1:10: error: brackets are not supported; use ( )"),
        ("(display 1/2)\n", "prog.omega:1:10: error: rational literals are not supported"),
        ("(display 99999999999999999999)\n", "prog.omega:1:10: error: integer literal out of range"),
        ("(display \"\\q\")\n", "prog.omega:1:10: error: invalid escape \\q in string"),
        ("(display #foo)\n", "prog.omega:1:10: error: unknown # syntax"),
        (
            "(display '(a . b . c))\n",
            "prog.omega:1:14: error: misplaced .: a dot must come just before the last datum of a list",
        ),
    ];
    let mut failures = Vec::new();
    for (program, expected) in cases {
        let r = run(program);
        if r.code != Some(1) || r.first_error_line() != expected || !r.stdout.is_empty() {
            failures.push(format!(
                "{program:?}\n  expected {expected:?}\n  got exit {:?}, stdout {:?}, stderr {:?}",
                r.code, r.stdout, r.stderr
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_malformed_special_form_fails_when_its_form_is_reached() {
    let r = run("(display \"before\")\n(let ((x)) x)\n(display \"after\")\n");
    r.expect_code(1);
    assert_eq!(r.stdout, "before");
    assert_eq!(r.first_error_line(), "prog.omega:2:7: error: let: malformed binding, expected (name value)");
    assert_eq!(r.stderr.lines().count(), 1, "a syntax error has no call stack: {:?}", r.stderr);
}

#[test]
fn the_call_stack_follows_the_error_one_frame_a_line() {
    let program = "\
(define (inner x)
  (car x))
(define (middle x)
  (list (inner x)))
(define (outer x)
  (+ 1 (length (middle x))))
(display \"start\")
(display (outer '()))
";
    let r = run(program);
    r.expect_code(1);
    assert_eq!(r.stdout, "start", "output before the error is kept");
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(
        lines,
        [
            "prog.omega:2:3: error: car: expected pair, got ()",
            "  at inner (prog.omega:2:3)",
            "  at middle (prog.omega:4:9)",
            "  at outer (prog.omega:6:16)",
            "  at <top level> (prog.omega:8:10)",
        ],
        "{}",
        r.stderr
    );
}

#[test]
fn eval_prints_the_last_value_in_write_form() {
    let cases: [(&[&str], &str); 8] = [
        (&["(+ 1 2)"], "3\n"),
        (&["(define x 5) (* x x)"], "25\n"),
        (&["(define x 5)", "(list x \"s\")"], "(5 \"s\")\n"),
        (&["\"a\\\"b\""], "\"a\\\"b\"\n"),
        (&["(display \"hi\")"], "hi"),
        (&["(display \"hi\") 42"], "hi\n42\n"),
        (&["(display \"hi\\n\") 'sym"], "hi\nsym\n"),
        (&["(if #f #f)"], ""),
    ];
    for (exprs, expected) in cases {
        let mut args = vec!["eval"];
        args.extend_from_slice(exprs);
        let r = omega(&[], &args, "");
        r.expect_code(0);
        assert_eq!(r.stdout, expected, "omega eval {exprs:?}");
        assert_eq!(r.stderr, "");
    }
    let r = omega(&[], &["eval", "(display 1) (car '())"], "");
    r.expect_code(1);
    assert_eq!(r.stdout, "1");
    assert_eq!(r.first_error_line(), "<eval>:1:13: error: car: expected pair, got ()");
}

#[test]
fn run_prints_only_what_the_program_writes() {
    let r = run("(define (sq x) (* x x))\n(sq 4)\n(display (sq 5))\n(newline)\n(write \"w\")\n");
    r.expect_code(0);
    assert_eq!(r.stdout, "25\n\"w\"");
    assert_eq!(r.stderr, "");
}

#[test]
fn usage_errors_and_unreadable_files_exit_with_2() {
    let cases: [&[&str]; 11] = [
        &[],
        &["frobnicate"],
        &["run"],
        &["run", "a.omega", "b.omega"],
        &["run", "missing.omega"],
        &["run", "--max-steps"],
        &["run", "--max-steps", "many", "prog.omega"],
        &["run", "--no-such-flag", "prog.omega"],
        &["eval"],
        &["check", "missing.omega"],
        &["fmt", "missing.omega"],
    ];
    for args in cases {
        let r = omega(&[("prog.omega", "(display 1)\n")], args, "");
        assert_eq!(r.code, Some(2), "omega {args:?}: {r:#?}");
        assert!(r.stderr.starts_with("omega: "), "omega {args:?}: {:?}", r.stderr);
        assert_eq!(r.stdout, "", "omega {args:?}");
    }
    let dir = TempDir::new("cli-dir");
    let r = omega_in(dir.path(), &["run", "."], "", LIMIT);
    assert_eq!(r.code, Some(2), "a directory is not a readable program: {r:#?}");
}

/// `--help` (anywhere on the line) lists every command and every flag the parser knows.
#[test]
fn help_names_every_command_and_flag_and_version_prints_the_version() {
    let main = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../interp/cli/src/main.rs")).unwrap();
    let parser = &main[main.find("fn parse_flags").unwrap()..];
    let parser = &parser[..parser.find("\n}\n").unwrap()];
    let flags: Vec<&str> = parser
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| s.starts_with("--") && s.len() > 2 && s.chars().all(|c| c.is_ascii_lowercase() || "-=".contains(c)))
        .map(|s| s.split('=').next().unwrap())
        .collect();
    assert!(flags.len() >= 15, "flags read from the parser: {flags:?}");
    for args in [&["--help"][..], &["-h"], &["help"], &["run", "--help"]] {
        let r = omega(&[], args, "");
        r.expect_code(0);
        assert!(r.stdout.starts_with("omega — "), "omega {args:?}: {:?}", r.stdout);
        for flag in &flags {
            assert!(r.stdout.contains(&format!("  {flag}")), "omega {args:?} does not explain {flag}");
        }
        for command in ["run FILE", "eval ", "repl", "check FILE", "fmt FILE", "explore FILE"] {
            assert!(r.stdout.contains(&format!("\n  {command}")), "omega {args:?} does not list {command}");
        }
    }
    for flag in ["--version", "-V"] {
        let r = omega(&[], &[flag], "");
        r.expect_code(0);
        assert_eq!(r.stdout, format!("omega {}\n", env!("CARGO_PKG_VERSION")));
    }
}

#[test]
fn max_steps_stops_an_infinite_loop() {
    let r = omega(
        &[("loop.omega", "(define (spin n) (spin (+ n 1)))\n(spin 0)\n")],
        &["run", "--max-steps", "20000", "loop.omega"],
        "",
    );
    r.expect_code(1);
    assert_eq!(r.first_error_line(), "loop.omega:1:18: error: step limit exceeded (20000 steps)");
    let r = omega(&[], &["eval", "--max-steps", "5000", "(do ((i 0 (+ i 1))) (#f))"], "");
    r.expect_code(1);
    assert!(r.first_error_line().ends_with("error: step limit exceeded (5000 steps)"), "{}", r.stderr);
    // a program within the budget is not disturbed
    let r = omega(&[], &["eval", "--max-steps", "1000000", "(let lp ((i 0)) (if (< i 1000) (lp (+ i 1)) i))"], "");
    r.expect_code(0);
    assert_eq!(r.stdout, "1000\n");
}

#[test]
fn timeout_stops_an_infinite_loop() {
    let r = omega(&[("loop.omega", "(let lp () (lp))\n")], &["run", "--timeout", "0.3", "loop.omega"], "");
    r.expect_code(1);
    assert_eq!(r.first_error_line(), "loop.omega:1:12: error: timeout after 0.3 s");
    // an infinite non-tail recursion also stops, at the deadline or at the memory budget,
    // whichever a machine of this speed reaches first
    let r = omega(&[], &["eval", "--timeout", "1", "(define (f n) (+ 1 (f n))) (f 0)"], "");
    r.expect_code(1);
    let first = r.first_error_line();
    assert!(
        first.ends_with("error: timeout after 1 s")
            || first.contains("error: memory limit exceeded: the run needs more than 512 MB"),
        "{}",
        r.stderr
    );
    // a guard cannot catch the timeout and keep going
    let r =
        omega(&[], &["eval", "--timeout", "0.3", "(let again () (guard (e (#t (again))) (let spin () (spin))))"], "");
    r.expect_code(1);
    assert!(r.first_error_line().ends_with("error: timeout after 0.3 s"), "{}", r.stderr);
    // a loop waiting on nothing but the clock: an LLM call with a scripted delay
    let script = "response = [ { contains = \"slow\", answer = \"late\", delay_ms = 60000 } ]\n";
    let config = "[llm]\nadapter = \"scripted\"\nscript = \"script.toml\"\n";
    let r = omega(
        &[("omega.toml", config), ("script.toml", script), ("wait.omega", "(display (effect infer.op \"slow\"))\n")],
        &["run", "--timeout", "0.5", "wait.omega"],
        "",
    );
    assert_eq!(r.code, Some(1), "{r:#?}");
    assert!(r.first_error_line().ends_with("error: timeout after 0.5 s"), "{}", r.stderr);
}

/// With the default cap of 10,000,000 frames, runaway recursion ends with a clear error and
/// a short report rather than running out of memory or printing every frame.
#[test]
fn runaway_recursion_stops_at_the_depth_limit() {
    let r = run("(define (f n)\n  (+ 1 (f n)))\n(f 0)\n");
    r.expect_code(1);
    let lines: Vec<&str> = r.stderr.lines().collect();
    // The default memory budget (512 MB) is reached before the 10,000,000 frames.
    assert!(lines[0].starts_with("prog.omega:2:8: error: memory limit exceeded"), "{}", r.stderr);
    assert!(lines[0].ends_with("frames deep"), "{}", r.stderr);
    assert!(lines.len() <= 60, "{} lines of call stack", lines.len());
    assert!(lines.iter().any(|l| l.contains("more frames")), "{}", r.stderr);
    assert!(lines[1..].iter().all(|l| l.starts_with("  at ")), "{}", r.stderr);
    eprintln!(
        "runaway recursion to 10,000,000 frames: {:?}, peak resident memory {} MiB",
        r.elapsed,
        r.peak_rss_kib.map_or("unknown".to_string(), |k| (k / 1024).to_string())
    );
    // Linux tells the peak; elsewhere there is nothing to check.
    if std::path::Path::new("/proc/self/status").exists() {
        let peak_kib = r.peak_rss_kib.expect("the peak resident set size from /proc");
        // About 160 bytes a frame today (1.5 GiB); 300 bytes a frame is the ceiling.
        let ceiling_kib = 10_000_000 * 300 / 1024;
        assert!(
            peak_kib < ceiling_kib,
            "peak {} MiB for 10,000,000 frames, more than 300 bytes a frame",
            peak_kib / 1024
        );
    }
}

#[test]
fn deep_non_tail_recursion_succeeds() {
    let program = "\
(define (count n) (if (= n 0) 0 (+ 1 (count (- n 1)))))
(display (count 1000000))
(newline)
(define (build n) (if (= n 0) '() (cons n (build (- n 1)))))
(display (length (build 1000000)))
";
    let r = run(program);
    r.expect_code(0);
    assert_eq!(r.stdout, "1000000\n1000000");
}

#[test]
fn deeply_nested_data_and_source_do_not_overflow_the_stack() {
    // nested quoted data: read, printed and compared
    let nested = |depth: usize| {
        format!("(define d '{}{})\n(display (equal? d d))\n(write d)\n", "(".repeat(depth), ")".repeat(depth))
    };
    let r = run(&nested(9_000));
    r.expect_code(0);
    assert!(r.stdout.starts_with("#t((((") && r.stdout.ends_with("))))"));
    // the reader refuses data nested deeper than 10,000 with a syntax error
    let r = run(&nested(100_000));
    r.expect_code(1);
    assert_eq!(r.first_error_line(), "prog.omega:1:10010: error: nesting too deep");
    // a nested list built at run time
    let r = omega(
        &[],
        &["eval", "(define (nest n acc) (if (= n 0) acc (nest (- n 1) (list acc)))) (length (nest 200000 '()))"],
        "",
    );
    r.expect_code(0);
    assert_eq!(r.stdout, "1\n");
    // eval of deeply nested data refuses it like the reader (it overflowed the stack)
    let r = omega(
        &[],
        &[
            "eval",
            "(define (nest n acc) (if (= n 0) acc (nest (- n 1) (list acc)))) (eval (list 'quote (nest 3000000 '())))",
        ],
        "",
    );
    r.expect_code(1);
    assert!(
        r.first_error_line().starts_with("<eval>:1:66: error: eval: expected expression, got (quote (((("),
        "{}",
        r.stderr
    );
    // deeply nested code
    let code = format!("(display {}1{})\n", "(+ 1 ".repeat(5000), ")".repeat(5000));
    let r = run(&code);
    assert!(matches!(r.code, Some(0) | Some(1)), "{:?} {}", r.code, r.first_error_line());
    if r.code == Some(0) {
        assert_eq!(r.stdout, "5001");
    }
}

#[test]
fn exit_ends_the_program_with_its_code() {
    let r = run("(display \"a\")\n(exit 3)\n(display \"b\")\n");
    assert_eq!((r.code, r.stdout.as_str()), (Some(3), "a"), "{r:#?}");
    let r = run("(exit)\n(display \"b\")\n");
    assert_eq!((r.code, r.stdout.as_str()), (Some(0), ""), "{r:#?}");
}

#[test]
fn repl_reads_forms_from_stdin() {
    let input = "\
(define x 5)
(+ x
   1)
(display \"hi\")
(car '())
(define (sq n) (* n n)) (sq x)
\"str\"
(if #f #f)
(begin (display \"out\") 7)
x
(+ 1 2))
(list 1
  \"multi
line\")
";
    let r = omega(&[], &["repl"], input);
    r.expect_code(0);
    // Lines that continue an incomplete form get the `.. ` prompt.
    let expected = "\
Ω> => x
Ω> .. => 6
Ω> hi
Ω> error: car: expected pair, got ()
Ω> => sq
=> 25
Ω> => \"str\"
Ω> Ω> out
=> 7
Ω> => 5
Ω> error: unexpected )
Ω> .. .. => (1 \"multi\\nline\")
Ω> ";
    assert_eq!(r.stdout, expected);
}

#[test]
fn repl_keeps_definitions_and_macros_between_inputs_and_survives_errors() {
    let input = "\
(define-syntax twice (syntax-rules () ((_ e) (begin e e))))
(define n 0)
(twice (set! n (+ n 1)))
n
(undefined-thing)
(amb 1 2)
(require #f)
n
";
    let r = omega(&[], &["repl", "--max-steps", "1000000"], input);
    r.expect_code(0);
    let results: Vec<&str> = r.stdout.split("Ω> ").filter(|s| !s.is_empty()).map(str::trim_end).collect();
    assert_eq!(
        results,
        [
            "=> n",
            "=> 2",
            "error: unbound variable: undefined-thing",
            "=> 1",
            "error: amb: all alternatives exhausted",
            "=> 2"
        ],
        "{:?}",
        r.stdout
    );
}

#[test]
fn fmt_check_exit_codes() {
    let tidy = "(define (f x)\n  (+ x 1))\n";
    let untidy = "(define (f x)\n(+ x 1))\n";
    let r = omega(&[("tidy.omega", tidy)], &["fmt", "--check", "tidy.omega"], "");
    r.expect_code(0);
    assert_eq!(r.stdout, "");
    let r =
        omega(&[("tidy.omega", tidy), ("untidy.omega", untidy)], &["fmt", "--check", "tidy.omega", "untidy.omega"], "");
    r.expect_code(1);
    assert_eq!(r.stdout, "untidy.omega\n");
    // fmt without --check rewrites the file; then --check passes
    let dir = TempDir::new("cli-fmt");
    std::fs::write(dir.join("untidy.omega"), untidy).unwrap();
    omega_in(dir.path(), &["fmt", "untidy.omega"], "", LIMIT).expect_code(0);
    assert_eq!(std::fs::read_to_string(dir.join("untidy.omega")).unwrap(), tidy);
    omega_in(dir.path(), &["fmt", "--check", "untidy.omega"], "", LIMIT).expect_code(0);
    // a file that does not read cannot be formatted
    let r = omega(&[("bad.omega", "(define (f x)\n")], &["fmt", "--check", "bad.omega"], "");
    r.expect_code(1);
    assert_eq!(r.first_error_line(), "bad.omega:1:1: error: unclosed parenthesis");
}

#[test]
fn check_exits_with_1_on_an_error_diagnostic() {
    let r = omega(&[("unbound.omega", "(define (f x)\n  (+ x y))\n")], &["check", "unbound.omega"], "");
    r.expect_code(1);
    assert!(r.stdout.starts_with("unbound.omega:2:8: error[omega::unbound]: "), "{:?}", r.stdout);
    let r = omega(&[("clean.omega", "(define (f x) (+ x 1))\n(f 2)\n")], &["check", "clean.omega"], "");
    r.expect_code(0);
    assert_eq!(r.stdout, "");
    // check never evaluates: an infinite loop is fine
    let r = omega(&[("loop.omega", "(define (spin) (spin))\n(spin)\n")], &["check", "loop.omega"], "");
    r.expect_code(0);
    let r = omega(&[("unbound.omega", "(display y)\n")], &["check", "--format", "json", "unbound.omega"], "");
    r.expect_code(1);
    let json: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON diagnostics");
    assert_eq!(json[0]["code"], "omega::unbound");
    assert_eq!(json[0]["severity"], 1);
}

#[test]
fn bad_input_never_panics_or_hangs() {
    // Odd bytes and odd programs: each ends with exit 0, 1 or 2 and no internal error.
    let programs: [&[u8]; 10] = [
        b"\xff\xfe(display 1)",
        b"\x00\x00\x00",
        b"(((((((((((((((((((((((((((",
        b")))))))))))))))))",
        b"#|unterminated block comment",
        b"(display \"\\u",
        b"'",
        b"(quasiquote (unquote-splicing 1))",
        b"(define-syntax m (syntax-rules () ((_ x) (m x)))) (m 1)",
        b"(define-syntax m (syntax-rules () ((_ x ...) (m x ... x ...)))) (m 1)",
    ];
    for p in programs {
        let dir = TempDir::new("cli-bad");
        std::fs::write(dir.join("bad.omega"), p).unwrap();
        let r = omega_in(dir.path(), &["run", "--timeout", "20", "bad.omega"], "", LIMIT);
        assert!(matches!(r.code, Some(0..=2)), "{:?}: {r:#?}", String::from_utf8_lossy(p));
        assert!(
            !r.stderr.contains("internal error") && !r.stderr.contains("panicked"),
            "{:?}: {}",
            String::from_utf8_lossy(p),
            r.stderr
        );
    }
}

#[test]
fn each_repl_input_gets_the_whole_step_budget() {
    let input = "(define (spin n) (if (> n 0) (spin (- n 1)) 0))\n(spin 100000)\n(spin 100000)\n(spin 1000000)\n";
    let ran = omega(&[], &["repl", "--max-steps", "150000"], input);
    ran.expect_code(0);
    let results: Vec<&str> = ran.stdout.split("Ω> ").filter(|s| !s.trim().is_empty()).map(str::trim).collect();
    assert_eq!(results, ["=> spin", "=> 0", "=> 0", "error: step limit exceeded (150000 steps)"], "{ran:#?}");
}
