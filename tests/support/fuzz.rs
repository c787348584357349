//! Inputs for fuzzing the reader and the evaluator, and the checks every input must pass:
//! no panic, no hang past the budget, no stack overflow — only values and clean errors.

use std::ops::ControlFlow;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use omega_eval::printer::write_string;
use omega_eval::Limits;
use omega_llm::config::{AdapterKind, LlmConfig};

use crate::programs::session;

/// Budgets for one evaluation: small, so a runaway program ends quickly with an error.
pub fn fuzz_limits() -> Limits {
    Limits {
        max_steps: Some(200_000),
        deadline: Some(Instant::now() + Duration::from_secs(10)),
        timeout_secs: Some(10.0),
        max_depth: 100_000,
        memory: Some(64 << 20),
    }
}

/// Stack of the evaluator's worker thread, as the CLI runs evaluation (its compile and
/// expand passes recurse).
pub const EVAL_STACK: usize = 256 << 20;

/// Stack of an ordinary thread: the reader, formatter and analysis must fit in it, as in a
/// language server's worker.
pub const ORDINARY_STACK: usize = 2 << 20;

/// Runs `f` on a fresh thread with the evaluator's large stack and waits at most `limit`;
/// panics if it panicked or did not finish. A stack overflow aborts the test process, which
/// fails the run just as visibly.
pub fn within<T: Send + 'static>(limit: Duration, what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    within_stack(EVAL_STACK, limit, what, f)
}

/// [`within`] on a thread with a `stack`-byte stack.
pub fn within_stack<T: Send + 'static>(
    stack: usize,
    limit: Duration,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::Builder::new()
        .stack_size(stack)
        .spawn(move || {
            let _ = tx.send(f());
        })
        .expect("spawn a worker thread");
    match rx.recv_timeout(limit) {
        Ok(v) => {
            let _ = worker.join();
            v
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
            Err(p) => std::panic::resume_unwind(p),
            Ok(()) => panic!("{what}: the worker ended without an answer"),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what}: still running after {limit:?}"),
    }
}

/// Everything that looks at source text without running it: the reader, the formatter and
/// the static analysis. Returns the number of syntax errors.
pub fn read_everything(text: &str) -> usize {
    let parsed = omega_syntax::reader::read(text);
    for e in &parsed.errors {
        assert!(
            e.span.start <= e.span.end && e.span.end as usize <= text.len(),
            "error span {:?} outside the text",
            e.span
        );
        assert!(!e.message.is_empty());
    }
    // Whatever read back is printable.
    for d in &parsed.data {
        let _ = format!("{d:?}");
    }
    if let Ok(formatted) = omega_syntax::format::format(text) {
        // Formatting is idempotent and keeps the program readable.
        assert_eq!(
            omega_syntax::format::format(&formatted).ok().as_deref(),
            Some(formatted.as_str()),
            "formatting twice changes the text"
        );
        assert!(
            omega_syntax::reader::read(&formatted).errors.is_empty() || !parsed.errors.is_empty(),
            "formatting broke the program"
        );
    }
    let _ = omega_analysis::check(text);
    parsed.errors.len()
}

/// Evaluates `text` form by form in a fresh session under [`fuzz_limits`]; returns what the
/// REPL would print for each form (or the syntax errors).
pub fn eval_everything(text: &str) -> Vec<String> {
    let (mut s, _out) = session(&LlmConfig::new(AdapterKind::None));
    s.set_limits(fuzz_limits());
    let mut results = Vec::new();
    let read = s.run_source("<fuzz>", text, |s, r| {
        results.push(match r.result {
            Ok(v) => format!("=> {}", write_string(&v)),
            Err(e) => {
                // Formatting an error (location, stack) must work too.
                let _ = s.format_error(&e);
                format!("error: {}", e.message)
            }
        });
        ControlFlow::Continue(())
    });
    if let Err(errors) = read {
        results.extend(errors.into_iter().map(|e| format!("syntax: {}", e.message)));
    }
    results
}

/// Every check of a fuzz input with a time bound: reading, formatting and analysis on an
/// ordinary 2 MiB thread, evaluation on the evaluator's large-stack thread.
pub fn survive(text: &str) -> Vec<String> {
    let owned = text.to_string();
    within_stack(ORDINARY_STACK, Duration::from_secs(60), &format!("{text:?}"), move || read_everything(&owned));
    let owned = text.to_string();
    within(Duration::from_secs(60), &format!("{text:?}"), move || eval_everything(&owned))
}
