//! Errors say where and never panic: code run by `eval` is placed at the `eval` call; a
//! closed stdout is an error with exit code 1.

use std::time::Duration;

use omega_tests::cli::omega_in;
use omega_tests::TempDir;

#[test]
fn an_error_inside_eval_is_placed_at_the_eval_call() {
    let dir = TempDir::new("error-places");
    // In tail position (no frame of f is left) and not.
    for (body, at) in [("(eval '(car 1))", "e.omega:2:13"), ("(+ 1 (eval '(car 1)))", "e.omega:2:18")] {
        let program = format!("(display 1)\n(define (f) {body})\n(f)\n");
        std::fs::write(dir.join("e.omega"), program).unwrap();
        let ran = omega_in(dir.path(), &["run", "e.omega"], "", Duration::from_secs(120));
        ran.expect_code(1);
        let lines: Vec<&str> = ran.stderr.lines().collect();
        assert_eq!(lines[0], format!("{at}: error: car: expected pair, got 1"), "{}", ran.stderr);
        assert_eq!(lines[1], "  at <eval>", "{}", ran.stderr);
        assert!(lines.iter().all(|l| !l.contains("<eval>:") && !l.contains("(<eval>)")), "{}", ran.stderr);
    }
}

#[test]
fn a_closed_stdout_is_an_error_not_a_panic() {
    use std::io::{BufRead, BufReader, Read};
    use std::process::{Command, Stdio};

    let dir = TempDir::new("error-places");
    let program: String = (0..3000).map(|i| format!("(display undefined-{i})\n")).collect();
    std::fs::write(dir.join("many.omega"), program).unwrap();
    let mut child = Command::new(omega_tests::cli::omega_bin())
        .args(["check", "many.omega"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read one line, then close the pipe as `| head -1` does.
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    assert!(first.starts_with("many.omega:1:10: error"), "{first}");
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with("omega: cannot write the report:"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn invalid_utf8_is_reported_with_its_line_and_column() {
    let dir = TempDir::new("error-places");
    std::fs::write(dir.join("bad.omega"), b"(display 1)\n(display \"a\xffb\")\n").unwrap();
    for command in ["run", "check", "fmt"] {
        let ran = omega_in(dir.path(), &[command, "bad.omega"], "", Duration::from_secs(120));
        ran.expect_code(2);
        assert_eq!(ran.stderr.trim_end(), "omega: bad.omega:2:12: invalid UTF-8 (byte 0xff); save the file as UTF-8");
    }
    // The REPL reports the line and goes on.
    let mut child = std::process::Command::new(omega_tests::cli::omega_bin())
        .arg("repl")
        .current_dir(dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"(+ 1 2)\n\"\xff\"\n(+ 3 4)\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("=> 3") && stdout.contains("=> 7"), "{stdout}");
    assert_eq!(stderr.trim_end(), "error: invalid UTF-8 at column 2 (byte 0xff); the line is skipped");
}

#[test]
fn a_nul_byte_in_an_error_message_is_escaped() {
    let dir = TempDir::new("error-places");
    let ran = omega_in(dir.path(), &["eval", "(error \"a\\x0;b\")"], "", Duration::from_secs(120));
    ran.expect_code(1);
    assert_eq!(ran.first_error_line(), "<eval>:1:1: error: a\\0b");
    assert!(!ran.stderr.contains('\0'), "{:?}", ran.stderr);
}

#[test]
fn a_timeout_while_waiting_for_an_llm_answer_names_the_waiting_call() {
    let dir = TempDir::new("error-places");
    let script = "response = [ { contains = \"slow\", answer = \"late\", delay_ms = 60000 } ]\n";
    std::fs::write(dir.join("script.toml"), script).unwrap();
    std::fs::write(dir.join("omega.toml"), "[llm]\nadapter = \"scripted\"\nscript = \"script.toml\"\n").unwrap();
    let program = "(define (ask)\n  (string-append \"> \" (effect infer.op \"slow\")))\n(display (ask))\n";
    std::fs::write(dir.join("wait.omega"), program).unwrap();
    let ran = omega_in(dir.path(), &["run", "--timeout", "0.5", "wait.omega"], "", Duration::from_secs(120));
    ran.expect_code(1);
    let lines: Vec<&str> = ran.stderr.lines().collect();
    assert_eq!(lines[0], "wait.omega:2:23: error: timeout after 0.5 s", "{}", ran.stderr);
    assert_eq!(lines[1], "  at ask (wait.omega:2:23)", "{}", ran.stderr);
    // In a parallel task, the message names the task.
    let program = "(parallel (lambda () 1) (lambda () (effect infer.op \"slow\")))\n";
    std::fs::write(dir.join("wait.omega"), program).unwrap();
    let ran = omega_in(dir.path(), &["run", "--timeout", "0.5", "wait.omega"], "", Duration::from_secs(120));
    ran.expect_code(1);
    assert_eq!(
        ran.first_error_line(),
        "wait.omega:1:36: error: timeout after 0.5 s (while task 2 waited for an LLM answer)",
        "{}",
        ran.stderr
    );
}

#[test]
fn errors_raised_by_primitives_called_in_tail_position_show_the_caller() {
    let dir = TempDir::new("error-places");
    let cases = [
        ("(apply car '(1))", "car: expected pair, got 1"),
        ("(dynamic-wind 1 (lambda () 2) (lambda () 3))", "dynamic-wind: expected procedure, got 1"),
        ("(s 1 2)", "#<serializer s>: expected 1 argument, got 2"),
        ("(mutex-release m)", "mutex-release: mutex m is not held by this task"),
        ("(parallel-map car 5)", "parallel-map: expected list, got 5"),
    ];
    for (call, message) in cases {
        // In tail position of a procedure (its frame is gone when the primitive fails), and at top level.
        let program =
            format!("(define s (make-serializer))\n(define m (make-mutex))\n(define (f) {call})\n(+ 1 (f))\n{call}\n");
        std::fs::write(dir.join("p.omega"), &program).unwrap();
        let ran = omega_in(dir.path(), &["run", "p.omega"], "", Duration::from_secs(120));
        ran.expect_code(1);
        assert_eq!(
            ran.stderr,
            format!("p.omega:3:13: error: {message}\n  at f (p.omega:3:13)\n  at <top level> (p.omega:4:6)\n"),
            "{call}"
        );
        std::fs::write(dir.join("p.omega"), program.replace("(+ 1 (f))\n", "")).unwrap();
        let ran = omega_in(dir.path(), &["run", "p.omega"], "", Duration::from_secs(120));
        assert_eq!(ran.stderr, format!("p.omega:4:1: error: {message}\n  at <top level> (p.omega:4:1)\n"), "{call}");
    }
}

#[test]
fn a_program_writing_to_a_full_or_closed_stdout_stops_with_an_error() {
    use std::io::{BufRead, BufReader, Read};
    use std::process::{Command, Stdio};

    let dir = TempDir::new("error-places");
    std::fs::write(dir.join("loop.omega"), "(define (loop i) (display i) (newline) (loop (+ i 1)))\n(loop 0)\n")
        .unwrap();
    let run = |stdout: Stdio| {
        Command::new(omega_tests::cli::omega_bin())
            .args(["run", "--timeout", "60", "loop.omega"])
            .current_dir(dir.path())
            .stdout(stdout)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let ran = run(Stdio::from(full)).wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&ran.stderr);
    assert_eq!(ran.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with("loop.omega:1:18: error: cannot write to stdout: "), "{stderr}");

    let mut child = run(Stdio::piped());
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    assert_eq!(first, "0\n");
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("error: cannot write to stdout: Broken pipe"), "{stderr}");
}

/// Output small enough to stay in the buffer until the program ends is written then, and a
/// failure to write it fails the run as well.
#[test]
fn buffered_output_to_a_full_stdout_fails_the_run() {
    use std::process::{Command, Stdio};

    let dir = TempDir::new("error-places");
    std::fs::write(dir.join("hello.omega"), "(display \"hello\")\n").unwrap();
    for (args, place) in [(&["run", "hello.omega"][..], "hello.omega"), (&["eval", "(+ 1 2)"][..], "<eval>")] {
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
        let ran = Command::new(omega_tests::cli::omega_bin())
            .args(args)
            .current_dir(dir.path())
            .stdout(Stdio::from(full))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&ran.stderr);
        assert_eq!(ran.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(stderr, format!("{place}: error: cannot write to stdout: No space left on device (os error 28)\n"));
    }
}
