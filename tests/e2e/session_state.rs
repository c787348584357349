//! A kept session (a REPL, an editor evaluating a buffer on every save) runs many times in one
//! process: every budget and the cancel flag are per run, and its memory stays flat.

use std::time::Duration;

use omega_tests::programs::{run_in, scripted, session, without_delays};
use omega_tests::repo_root;
use std::sync::atomic::Ordering;

#[test]
fn a_cancel_stops_one_run_not_every_later_one() {
    let (mut s, out) = session(&scripted(&repo_root().join("tests/conformance/script.toml")));
    let token = s.cancel_token();
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        token.cancel();
    });
    let first = run_in(&mut s, &out, "(define (spin) (spin)) (spin)");
    canceller.join().unwrap();
    assert_eq!(first.results.last().unwrap().as_deref(), Some("error: evaluation cancelled"));
    let second = run_in(&mut s, &out, "(+ 1 2)");
    assert_eq!(second.results, vec![Some("=> 3".to_string())]);
}

#[test]
fn the_llm_call_budget_is_per_run() {
    let mut cfg = scripted(&repo_root().join("tests/conformance/script.toml"));
    cfg.max_llm_calls = Some(1);
    let (mut s, out) = session(&cfg);
    let program = "(string? (effect infer.op \"What is 2+2?\"))";
    for run in 0..3 {
        let r = run_in(&mut s, &out, program);
        assert_eq!(r.results, vec![Some("=> #t".to_string())], "run {run}");
    }
    let r = run_in(&mut s, &out, &format!("{program} {program}"));
    assert_eq!(r.results[1].as_deref(), Some("error: LLM call budget exhausted (1 calls)"));
}

/// Runs of the chapter example before measuring, and measured. The allocator counts live
/// bytes exactly, so 200 runs show a leak of a few bytes per run; 10,000 (the soak of
/// `bench/soak.rs`) would take about 5 minutes with fresh sessions in a debug build (28 ms a
/// run, most of it loading the prelude) and 35 s in a kept one.
const WARM_RUNS: usize = 30;
const MEASURED_RUNS: usize = 200;

/// Bytes the process holds after `runs` runs made by `run_once`.
fn live_after(runs: usize, run_once: &mut dyn FnMut()) -> isize {
    for _ in 0..runs {
        run_once();
    }
    crate::PROCESS_LIVE.load(Ordering::Relaxed)
}

/// Runs in a process of its own (started by the tests below, with `OMEGA_MEMORY_CHILD` set)
/// so other tests' allocations do not blur the count; prints the growth per run.
#[test]
fn memory_growth_child() {
    let Ok(mode) = std::env::var("OMEGA_MEMORY_CHILD") else {
        return;
    };
    let text = std::fs::read_to_string(repo_root().join("examples/chapter-39.omega")).unwrap();
    let cfg = scripted(&without_delays(&repo_root().join("examples/responses.toml")));
    let ok = |r: &omega_tests::programs::Run| {
        r.syntax_errors.is_empty() && r.results.iter().flatten().all(|r| !r.starts_with("error"))
    };
    let mut kept = session(&cfg);
    let mut run_once: Box<dyn FnMut()> = match mode.as_str() {
        // A fresh session per run.
        "fresh" => Box::new(|| {
            let (mut s, out) = session(&cfg);
            let r = run_in(&mut s, &out, &text);
            assert!(ok(&r), "{:?}", r.results);
        }),
        // One kept session, the whole file again each run (REPL-style, form by form).
        _ => Box::new(|| {
            let (s, out) = &mut kept;
            out.0.borrow_mut().clear();
            let r = run_in(s, out, &text);
            assert!(ok(&r), "{:?}", r.results);
        }),
    };
    let warm = live_after(WARM_RUNS, &mut *run_once);
    let later = live_after(MEASURED_RUNS, &mut *run_once);
    let _ = std::fs::remove_file(cfg.script.clone().unwrap());
    println!("GROWTH {}", (later - warm) / MEASURED_RUNS as isize);
}

/// Bytes the process keeps per run of the chapter, in a child process.
fn growth_per_run(mode: &str) -> isize {
    let mut child = std::process::Command::new(std::env::current_exe().unwrap());
    child.args(["--exact", "session_state::memory_growth_child", "--nocapture", "--test-threads", "1"]);
    child.env("OMEGA_MEMORY_CHILD", mode);
    let out = child.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let growth = stdout
        .lines()
        .find_map(|l| l.split("GROWTH ").nth(1))
        .unwrap_or_else(|| panic!("{mode}: no measurement: {stdout}{}", String::from_utf8_lossy(&out.stderr)));
    growth.trim().parse().unwrap()
}

/// Sessions, expander aliases, gensyms, budgets, local loops (the prelude's `for-each`, whose
/// closure once held itself through its variable): nothing a run leaves behind.
#[test]
fn memory_stays_flat_over_many_runs_in_fresh_sessions() {
    let growth = growth_per_run("fresh");
    assert!(growth < 64, "fresh sessions: memory grows by {growth} bytes per run");
}

/// The expander forgets each form's aliases once it is compiled (it kept about 220 bytes of
/// them per run of the chapter).
#[test]
fn memory_stays_flat_over_many_runs_in_a_kept_session() {
    let growth = growth_per_run("kept");
    assert!(growth < 64, "kept session: memory grows by {growth} bytes per run");
}

/// A server parses a buffer once and answers requests about it from other threads.
#[test]
fn a_parsed_snapshot_and_its_diagnostics_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync>(_: &T) {}
    let text = "(define s (make-serializer))\n(display \"héllo\")\n(car)\n";
    let parsed = omega_syntax::reader::read(text);
    let source = omega_syntax::syntax::SourceFile::new("buffer.omega", text);
    let diagnostics = omega_analysis::check(text);
    shareable(&parsed);
    shareable(&source);
    shareable(&diagnostics);
    let (parsed, source) = (&parsed, &source);
    let seen: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..2)
            .map(|_| scope.spawn(move || format!("{} forms, {}", parsed.data.len(), source.location(text.len() - 1))))
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    assert_eq!(seen, vec!["3 forms, buffer.omega:3:6".to_string(); 2]);
}
