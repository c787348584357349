//! `parallel`, serializers and schedules: the manual's chapter as programs, properties over
//! many schedule seeds, and LLM calls really in flight together (seen by the test server).

use std::time::Duration;

use omega_llm::config::{AdapterKind, LlmConfig};
use omega_tests::llm_server::{LlmServer, Reply};
use omega_tests::programs::{run_in, scripted, session, Run};
use omega_tests::{repo_root, TempDir};

const SEEDS: std::ops::Range<u64> = 0..40;

fn chapter(name: &str) -> String {
    std::fs::read_to_string(repo_root().join("tests/chapter").join(name)).unwrap()
}

/// Runs a chapter program, under the seeded scheduler when `seed` is given.
fn run_chapter(name: &str, seed: Option<u64>) -> Run {
    let cfg = scripted(&repo_root().join("tests/chapter/responses.toml"));
    let (mut s, out) = session(&cfg);
    if let Some(seed) = seed {
        s.set_schedule(seed);
    }
    run_in(&mut s, &out, &chapter(name))
}

fn last(run: &Run) -> &str {
    run.results.last().and_then(|r| r.as_deref()).unwrap_or("")
}

#[test]
fn unserialized_glossary_updates_are_lost_under_some_schedule() {
    assert_eq!(last(&run_chapter("39-1-race.omega", None)), "=> 2");
    let lost: Vec<u64> = SEEDS.filter(|&seed| last(&run_chapter("39-1-race.omega", Some(seed))) == "=> 1").collect();
    assert!(!lost.is_empty(), "no seed in {SEEDS:?} shows the lost update");
    // The same seed gives the same interleaving.
    assert_eq!(last(&run_chapter("39-1-race.omega", Some(lost[0]))), "=> 1");
}

#[test]
fn serialized_glossary_keeps_both_entries_under_every_schedule() {
    for seed in std::iter::once(None).chain(SEEDS.map(Some)) {
        let r = run_chapter("39-2-serialized.omega", seed);
        let out = last(&r);
        assert!(out.contains("(\"API\" . \"Application Programming Interface\")"), "seed {seed:?}: {out}");
        assert!(out.contains("(\"LLM\" . \"Large Language Model\")"), "seed {seed:?}: {out}");
        assert!(out.ends_with(" ())"), "seed {seed:?}: a conflict was detected: {out}");
    }
}

#[test]
fn agents_turns_never_interleave_inside_the_serialized_section() {
    for seed in std::iter::once(None).chain(SEEDS.map(Some)) {
        let r = run_chapter("39-3-dialogue.omega", seed);
        let out = last(&r);
        let events: Vec<(bool, &str)> = out
            .split('(')
            .filter_map(|t| {
                let t = t.trim_end_matches([')', ' ']);
                t.strip_prefix("start ").map(|a| (true, a)).or_else(|| t.strip_prefix("end ").map(|a| (false, a)))
            })
            .collect();
        assert_eq!(events.len(), 6, "seed {seed:?}: {out}");
        for turn in events.chunks(2) {
            assert!(turn[0].0 && !turn[1].0 && turn[0].1 == turn[1].1, "seed {seed:?}: interleaved turns in {out}");
        }
    }
}

#[test]
fn inconsistent_order_with_llm_calls_deadlocks_every_time_under_the_default_scheduler() {
    for _ in 0..5 {
        let r = run_chapter("39-5-deadlock.omega", None);
        assert_eq!(
            last(&r),
            "error: parallel: task 2 failed: deadlock: task 2 waits for serializer term-a-serializer held by task 1; task 1 waits for serializer term-b-serializer held by task 2"
        );
    }
}

#[test]
fn deadlock_prone_program_completes_or_reports_the_deadlock_under_every_seed() {
    let mut outcomes = std::collections::BTreeSet::new();
    for seed in SEEDS {
        let r = run_chapter("39-5-deadlock.omega", Some(seed));
        let out = last(&r);
        assert!(
            [
                "=> (a-then-b b-then-a)",
                "error: parallel: task 1 failed: deadlock: task 1 waits for serializer term-b-serializer held by task 2; task 2 waits for serializer term-a-serializer held by task 1",
                "error: parallel: task 2 failed: deadlock: task 2 waits for serializer term-a-serializer held by task 1; task 1 waits for serializer term-b-serializer held by task 2",
            ]
            .contains(&out),
            "seed {seed}: {out}"
        );
        outcomes.insert(out.to_string());
    }
    assert_eq!(outcomes.len(), 3, "every outcome shows up under some seed: {outcomes:?}");
}

#[test]
fn consistent_order_never_deadlocks() {
    for seed in std::iter::once(None).chain(SEEDS.map(Some)) {
        assert_eq!(last(&run_chapter("39-5-ordered.omega", seed)), "=> (1 2)", "seed {seed:?}");
    }
}

#[test]
fn streamed_chunks_are_assembled_in_order() {
    for seed in std::iter::once(None).chain(SEEDS.map(Some)) {
        assert_eq!(
            last(&run_chapter("39-6-buffer.omega", seed)),
            "=> \"Introduction... Body content... Conclusion.\"",
            "seed {seed:?}"
        );
    }
}

const COUNTER: &str = "
(define counter 0)
(define s (make-serializer))
(define (bump) (let ((v counter)) (set! counter (+ v 1))))
(parallel-map (lambda (i) (WRAP)) (iota 50))
counter";

fn counter_after(wrap: &str, seed: u64) -> String {
    let (mut s, out) = session(&LlmConfig::new(AdapterKind::None));
    s.set_schedule(seed);
    let r = run_in(&mut s, &out, &COUNTER.replace("WRAP", wrap));
    // An error in the tasks is a failure of the test, never a count of updates.
    let errors: Vec<&str> =
        r.results.iter().flatten().filter(|r| r.starts_with("error: ")).map(String::as_str).collect();
    assert!(errors.is_empty(), "seed {seed}: {errors:?}");
    last(&r).to_string()
}

#[test]
fn a_serialized_counter_bumped_by_50_tasks_ends_at_50_under_every_seed() {
    for seed in SEEDS {
        assert_eq!(counter_after("(s bump)", seed), "=> 50", "seed {seed}");
    }
}

#[test]
fn an_unserialized_counter_loses_updates_under_some_seed() {
    let mut lost = 0;
    for seed in SEEDS {
        let out = counter_after("bump", seed);
        // A lost update leaves a smaller count; an error is a failure, not a lost update.
        let count: u32 =
            out.strip_prefix("=> ").and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("seed {seed}: {out}"));
        assert!((1..=50).contains(&count), "seed {seed}: {out}");
        lost += u32::from(count < 50);
    }
    assert!(lost > 0, "no seed lost an update");
}

/// A session whose LLM is the test server, answering after `latency`.
fn served(server: &LlmServer, cache: &TempDir) -> LlmConfig {
    let mut cfg = LlmConfig::new(AdapterKind::OpenAi);
    cfg.base_url = Some(server.openai_url());
    cfg.cache_dir = cache.path().to_path_buf();
    cfg.no_cache = true;
    cfg
}

#[test]
fn sixteen_parallel_calls_are_in_flight_together() {
    let server = LlmServer::start();
    server.set_default(Reply::echo().after(Duration::from_millis(500)));
    let cache = TempDir::new("overlap");
    let (mut s, out) = session(&served(&server, &cache));
    let program = format!(
        "(length (parallel {}))",
        (0..16).map(|i| format!("(effect infer.op \"q{i}\")")).collect::<Vec<_>>().join(" ")
    );
    let r = run_in(&mut s, &out, &program);
    assert_eq!(last(&r), "=> 16");
    assert_eq!(server.requests(), 16);
    assert_eq!(server.max_in_flight(), 16, "the calls did not overlap");
}

#[test]
fn conformance_45_all_three_slow_calls_overlap() {
    let server = LlmServer::start();
    server.on("slow", Reply::echo().after(Duration::from_millis(300)));
    let cache = TempDir::new("c45");
    let (mut s, out) = session(&served(&server, &cache));
    let r = run_in(
        &mut s,
        &out,
        r#"(parallel (effect infer.op "slow a") (effect infer.op "slow b") (effect infer.op "slow c"))"#,
    );
    assert_eq!(last(&r), r#"=> ("echo: slow a" "echo: slow b" "echo: slow c")"#);
    assert_eq!(server.max_in_flight(), 3);
}

#[test]
fn the_in_flight_cap_bounds_parallel_calls() {
    let server = LlmServer::start();
    server.set_default(Reply::echo().after(Duration::from_millis(100)));
    let cache = TempDir::new("cap");
    let mut cfg = served(&server, &cache);
    cfg.max_in_flight = 4;
    let (mut s, out) = session(&cfg);
    let r = run_in(&mut s, &out, "(length (parallel-map (lambda (i) (effect infer.op (list \"q\" i))) (iota 12)))");
    assert_eq!(last(&r), "=> 12");
    assert_eq!(server.max_in_flight(), 4);
}

#[test]
fn a_failing_task_cancels_its_siblings_and_their_requests() {
    let server = LlmServer::start();
    server.on("hang", Reply::hang());
    // Task 2 fails only once the other two are waiting on the server.
    server.on("think", Reply::echo().once_in_flight(3));
    let cache = TempDir::new("cancel");
    let (mut s, out) = session(&served(&server, &cache));
    let r = run_in(
        &mut s,
        &out,
        r#"(parallel (lambda () (effect infer.op "hang 1")) (lambda () (effect infer.op "think") (car '())) (lambda () (effect infer.op "hang 2")))"#,
    );
    assert_eq!(last(&r), "error: parallel: task 2 failed: car: expected pair, got ()");
    assert!(
        server.wait_until(Duration::from_secs(5), |s| s.disconnects() >= 2),
        "the hanging requests were not dropped"
    );
}

#[test]
fn cancelling_the_evaluation_stops_every_task() {
    let server = LlmServer::start();
    server.on("hang", Reply::hang());
    let cache = TempDir::new("stop");
    let (mut s, out) = session(&served(&server, &cache));
    let token = s.cancel_token();
    let r = std::thread::scope(|scope| {
        scope.spawn(|| {
            assert!(server.wait_until(Duration::from_secs(10), |s| s.in_flight() == 3));
            token.cancel();
        });
        run_in(
            &mut s,
            &out,
            r#"(parallel (effect infer.op "hang a") (effect infer.op "hang b") (effect infer.op "hang c"))"#,
        )
    });
    assert_eq!(last(&r), "error: evaluation cancelled");
    assert!(
        server.wait_until(Duration::from_secs(5), |s| s.disconnects() >= 3),
        "requests still open after the cancel"
    );
}

#[test]
fn yield_lets_other_tasks_run_and_returns_nothing() {
    let (mut s, out) = session(&LlmConfig::new(AdapterKind::None));
    let r = run_in(
        &mut s,
        &out,
        "(define log '())
         (define (note! x) (set! log (cons x log)))
         (parallel (lambda () (note! 'a1) (yield) (note! 'a2) (list (yield) 1))
                   (lambda () (note! 'b1) (yield) (note! 'b2) 2))
         (reverse log)",
    );
    assert_eq!(r.results[2].as_deref(), Some("=> ((#<unspecified> 1) 2)"));
    assert_eq!(last(&r), "=> (a1 b1 a2 b2)");
}
