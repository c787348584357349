//! The command line's LLM flags against the test server, as users run them: `--offline`,
//! `--no-cache`, `--adapter`/`--model`, `--max-llm-calls`, `--max-in-flight` and
//! `--schedule`.

use std::time::Duration;

use omega_tests::cli::{omega_in, Ran};
use omega_tests::llm_server::{LlmServer, Reply};
use omega_tests::{repo_root, TempDir};

const LIMIT: Duration = Duration::from_secs(120);

/// A project directory whose omega.toml points the `openai` adapter at `server`.
fn project(server: &LlmServer, program: &str) -> TempDir {
    let dir = TempDir::new("cli-llm");
    let toml =
        format!("[llm]\nadapter = \"openai\"\nbase_url = \"{}\"\nmodel = \"configured-model\"\n", server.openai_url());
    std::fs::write(dir.join("omega.toml"), toml).unwrap();
    std::fs::write(dir.join("ask.omega"), program).unwrap();
    dir
}

fn run(dir: &TempDir, flags: &[&str]) -> Ran {
    let mut args = vec!["run"];
    args.extend_from_slice(flags);
    args.push("ask.omega");
    omega_in(dir.path(), &args, "", LIMIT)
}

const ASK: &str = "(display (effect infer.op \"capital of France\"))\n";

#[test]
fn offline_fails_on_a_cache_miss_and_answers_from_the_cache() {
    let server = LlmServer::start();
    let dir = project(&server, ASK);
    let miss = run(&dir, &["--offline"]);
    miss.expect_code(1);
    assert_eq!(miss.stdout, "");
    assert_eq!(
        miss.stderr,
        "ask.omega:1:10: error: infer.op: offline, and no cached answer for this prompt from openai (model configured-model); run once without --offline to fill the cache\n  at <top level> (ask.omega:1:10)\n"
    );
    assert_eq!(server.requests(), 0, "--offline sends nothing");

    run(&dir, &[]).expect_code(0);
    assert_eq!(server.requests(), 1);
    let hit = run(&dir, &["--offline"]);
    hit.expect_code(0);
    assert_eq!((hit.stdout.as_str(), hit.stderr.as_str()), ("echo: capital of France", ""));
    assert_eq!(server.requests(), 1);
}

#[test]
fn no_cache_asks_every_time() {
    let server = LlmServer::start();
    let dir = project(&server, ASK);
    for flags in [&[][..], &[]] {
        run(&dir, flags).expect_code(0);
    }
    assert_eq!(server.requests(), 1, "the second run is answered from the cache");
    for _ in 0..2 {
        let ran = run(&dir, &["--no-cache"]);
        ran.expect_code(0);
        assert_eq!(ran.stdout, "echo: capital of France");
    }
    assert_eq!(server.requests(), 3, "--no-cache reads no answer from the cache");
}

#[test]
fn adapter_and_model_flags_beat_omega_toml() {
    let server = LlmServer::start();
    let dir = project(&server, ASK);
    run(&dir, &[]).expect_code(0);
    run(&dir, &["--model", "flag-model"]).expect_code(0);
    let models: Vec<String> =
        server.received().iter().map(|r| r.body["model"].as_str().unwrap_or("").to_string()).collect();
    assert_eq!(models, ["configured-model", "flag-model"], "another model is another cache key, and is sent");

    // The configuration names the scripted adapter; the flag picks the server instead.
    std::fs::write(
        dir.join("omega.toml"),
        format!("[llm]\nadapter = \"scripted\"\nscript = \"answers.toml\"\nbase_url = \"{}\"\n", server.openai_url()),
    )
    .unwrap();
    std::fs::write(dir.join("answers.toml"), "default = \"scripted answer\"\n").unwrap();
    let scripted = run(&dir, &[]);
    scripted.expect_code(0);
    assert_eq!(scripted.stdout, "scripted answer");
    let served = run(&dir, &["--adapter", "openai", "--model", "m2", "--no-cache"]);
    served.expect_code(0);
    assert_eq!(served.stdout, "echo: capital of France");
    assert_eq!(server.received().last().unwrap().body["model"], "m2");
    let none = run(&dir, &["--adapter", "none"]);
    none.expect_code(1);
    assert_eq!(
        none.first_error_line(),
        "ask.omega:1:10: error: infer.op: no LLM provider configured; set OPENAI_API_KEY or OPENAI_BASE_URL, ANTHROPIC_API_KEY, or OMEGA_ADAPTER=scripted with OMEGA_SCRIPT"
    );
    assert_eq!(server.requests(), 3);
}

#[test]
fn max_llm_calls_stops_the_run_at_the_budget() {
    let server = LlmServer::start();
    let program = "(display (effect infer.op \"a\"))\n(display (effect infer.op \"a\"))\n(display (effect infer.op \"b\"))\n(display (effect infer.op \"c\"))\n";
    let dir = project(&server, program);
    let ran = run(&dir, &["--max-llm-calls", "2"]);
    ran.expect_code(1);
    assert_eq!(ran.stdout, "echo: aecho: aecho: b", "the cache hit is free");
    assert_eq!(ran.first_error_line(), "ask.omega:4:10: error: LLM call budget exhausted (2 calls)");
    assert_eq!(server.requests(), 2);
}

#[test]
fn max_in_flight_caps_the_requests_the_server_sees() {
    // Answers take long enough that every request the cap allows is on the wire together, even
    // on a loaded machine.
    let server = LlmServer::start();
    server.set_default(Reply::echo().after(Duration::from_secs(1)));
    let program = "(display (length (parallel-map (lambda (i) (effect infer.op (list \"q\" i))) (iota 12))))\n";
    let dir = project(&server, program);
    let ran = run(&dir, &["--max-in-flight", "3", "--no-cache"]);
    ran.expect_code(0);
    assert_eq!(ran.stdout, "12");
    assert_eq!((server.requests(), server.max_in_flight()), (12, 3));

    let server = LlmServer::start();
    server.set_default(Reply::echo().after(Duration::from_secs(1)));
    let dir = project(&server, program);
    run(&dir, &["--max-in-flight", "12", "--no-cache"]).expect_code(0);
    assert_eq!((server.requests(), server.max_in_flight()), (12, 12), "a higher cap lets them all overlap");
}

/// The chapter's 39.3 (agents taking turns on a shared conversation), printing the whole
/// conversation and the log of every turn's start and end.
fn dialogue() -> TempDir {
    let chapter = repo_root().join("tests/chapter");
    let dir = TempDir::new("cli-schedule");
    for name in ["omega.toml", "responses.toml"] {
        std::fs::copy(chapter.join(name), dir.join(name)).unwrap();
    }
    let program = std::fs::read_to_string(chapter.join("39-3-dialogue.omega")).unwrap();
    let last = "(list (map car (read-context conversation-state)) (reverse log))";
    assert!(program.contains(last), "39-3-dialogue.omega changed");
    let program = program.replace(last, "(write (list (read-context conversation-state) (reverse log)))");
    std::fs::write(dir.join("ask.omega"), program).unwrap();
    dir
}

#[test]
fn schedule_seed_replays_the_same_interleaving_byte_for_byte() {
    let dir = dialogue();
    let mut seen = std::collections::BTreeSet::new();
    for seed in ["0", "1", "2", "4"] {
        let first = run(&dir, &["--schedule", seed]);
        let again = run(&dir, &["--schedule", seed]);
        first.expect_code(0);
        assert_eq!(
            (first.stdout.as_bytes(), first.stderr.as_bytes()),
            (again.stdout.as_bytes(), again.stderr.as_bytes()),
            "seed {seed}"
        );
        seen.insert(first.stdout);
    }
    // Each output is a whole interleaving: three turns, never overlapping, in the order the
    // conversation records them.
    for out in &seen {
        let mut order = ["AgentA", "AgentB", "AgentC"];
        order.sort_by_key(|a| out.find(&format!("(start {a})")).unwrap_or_else(|| panic!("{a} never started: {out}")));
        let context: Vec<String> = order.iter().map(|a| format!("({a} . \"{a} says hello\")")).collect();
        let log: Vec<String> = order.iter().map(|a| format!("(start {a}) (end {a})")).collect();
        assert_eq!(out, &format!("(({}) ({}))", context.join(" "), log.join(" ")));
    }
    assert!(seen.len() >= 3, "the seeds give only {} interleavings: {seen:?}", seen.len());
}
