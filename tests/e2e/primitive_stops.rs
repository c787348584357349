//! A timeout or a cancel stops a primitive that works through many items while it works, not
//! after it built its whole result: shown by the memory the run reached, never by wall time.

use std::time::Duration;

use omega_llm::config::{AdapterKind, LlmConfig};
use omega_tests::cli::omega_in;
use omega_tests::programs::{run_in, session};
use omega_tests::TempDir;
use serde_json::Value as Json;

const LIMIT: Duration = Duration::from_secs(120);

/// A timeout that has passed before any primitive polls the clock (64K items take longer).
const PASSED: &str = "0.000001";

/// Runs `program` as `p.omega` with a passed timeout; its first error line, the stack lines
/// under it, and the process's peak memory in bytes.
fn run_timed_out(program: &str) -> (String, Vec<String>, u64) {
    let dir = TempDir::new("primitive-stops");
    std::fs::write(dir.join("p.omega"), program).unwrap();
    let ran = omega_in(dir.path(), &["run", "--timeout", PASSED, "--stats=json", "p.omega"], "", LIMIT);
    ran.expect_code(1);
    let stats: Json = ran
        .stderr
        .lines()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no --stats=json line: {}", ran.stderr));
    let peak = stats["peakMemoryBytes"].as_u64().expect("the peak memory is known on Linux");
    let stack = ran.stderr.lines().filter(|l| l.starts_with("  at ")).map(str::to_string).collect();
    let error = ran.stderr.lines().find(|l| l.contains(": error: ")).unwrap_or_default().to_string();
    (error, stack, peak)
}

/// What a process that built nothing big may peak at; every full result below is far above.
const SMALL_PEAK: u64 = 100 << 20;

#[test]
fn a_passed_timeout_stops_iota_at_its_call_site_before_the_list_is_built() {
    // 4M elements: about 300 MB of pairs and numbers when built whole.
    let (error, stack, peak) =
        run_timed_out("(define (build n)\n  (define big (iota n))\n  (length big))\n(build 4000000)\n");
    assert_eq!(error, format!("p.omega:2:15: error: timeout after {PASSED} s"));
    assert_eq!(stack.first().map(String::as_str), Some("  at build (p.omega:2:15)"), "{stack:?}");
    assert!(peak < SMALL_PEAK, "the run reached {} MB", peak >> 20);
}

#[test]
fn a_passed_timeout_stops_make_vector_before_the_vector_is_filled() {
    // 15M slots: over 200 MB when filled.
    let (error, _, peak) = run_timed_out("(define v (make-vector 15000000 'x))\n");
    assert_eq!(error, format!("p.omega:1:11: error: timeout after {PASSED} s"));
    assert!(peak < SMALL_PEAK, "the run reached {} MB", peak >> 20);
}

/// Defines `parts`: 100,000 references to one 1 KiB string (so almost no memory), in a run of
/// its own; then cancels the session and runs `joining`, which would build 100 MiB of text.
/// The peak memory the cancelled run reached on this thread.
fn cancelled_join_peak(joining: &str) -> (Vec<Option<String>>, isize) {
    let (mut s, out) = session(&LlmConfig::new(AdapterKind::None));
    let setup = run_in(
        &mut s,
        &out,
        "(define kib (let loop ((s \"a\") (n 10)) (if (= n 0) s (loop (string-append s s) (- n 1)))))
         (define parts (vector->list (make-vector 100000 kib)))
         (string-length kib)",
    );
    assert_eq!(setup.results.last().unwrap().as_deref(), Some("=> 1024"));
    let token = omega_eval::CancelToken::default();
    s.set_cancel_token(token.clone());
    token.cancel();
    crate::reset_thread_peak();
    let before = crate::thread_live();
    let run = run_in(&mut s, &out, joining);
    (run.results, crate::thread_peak() - before)
}

#[test]
fn a_cancel_stops_string_append_and_string_join_before_the_text_is_built() {
    let mut problems = Vec::new();
    for joining in ["(define all (apply string-append parts))", "(define all (string-join parts \"\"))"] {
        let (results, peak) = cancelled_join_peak(joining);
        assert_eq!(results, vec![Some("error: evaluation cancelled".to_string())], "{joining}");
        // The argument vector is 1.6 MB; the whole text would be 100 MiB.
        if peak >= 20 << 20 {
            problems.push(format!("{joining}: the run reached {} MB", peak >> 20));
        }
    }
    assert!(problems.is_empty(), "{problems:?}");
}

/// Each covered primitive, cancelled before it runs over a list, vector or string of 1M items:
/// the run ends with the cancel error having held far less than the 1M-pair result (64 MB and
/// more) on top of the 16 MB of its argument's items.
#[test]
fn a_cancel_stops_each_long_list_and_string_primitive_midway() {
    let (mut s, out) = session(&LlmConfig::new(AdapterKind::None));
    let setup = run_in(
        &mut s,
        &out,
        "(define xs (iota 1000000))
         (define v (list->vector xs))
         (define text (let loop ((s \"ab\") (n 19)) (if (= n 0) s (loop (string-append s s) (- n 1)))))
         (string-length text)",
    );
    assert_eq!(setup.results.last().unwrap().as_deref(), Some("=> 1048576"));
    let token = omega_eval::CancelToken::default();
    s.set_cancel_token(token.clone());
    token.cancel();
    let mut problems = Vec::new();
    for call in [
        "(reverse xs)",
        "(append xs '(1))",
        "(list-copy xs)",
        "(delete -1 xs)",
        "(delete-duplicates xs)",
        "(vector->list v)",
        "(sort xs >)",
        "(string->list text)",
        "(string-split text \"\")",
        "(string-split text \"a\")",
    ] {
        crate::reset_thread_peak();
        let before = crate::thread_live();
        let run = run_in(&mut s, &out, &format!("(define r {call})"));
        let peak = crate::thread_peak() - before;
        if run.results != vec![Some("error: evaluation cancelled".to_string())] {
            problems.push(format!("{call}: {:?}", run.results));
        } else if peak >= 48 << 20 {
            problems.push(format!("{call}: the run reached {} MB", peak >> 20));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
