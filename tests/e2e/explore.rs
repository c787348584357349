//! `omega explore` as users run it: real bugs of the analysis corpus are reproduced with a seed,
//! correct programs give no finding, a reported seed replays the same finding byte for byte,
//! and no LLM request leaves the machine unless `--live`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use omega_tests::cli::{omega_in, Ran};
use omega_tests::llm_server::{LlmServer, Reply};
use omega_tests::{repo_root, TempDir};
use serde_json::Value as Json;

const LIMIT: Duration = Duration::from_secs(600);

fn explore(dir: &Path, file: &str, flags: &[&str]) -> Ran {
    let mut args = vec!["explore", "--format", "json"];
    args.extend_from_slice(flags);
    args.push(file);
    omega_in(dir, &args, "", LIMIT)
}

fn findings(ran: &Ran) -> Vec<Json> {
    let report: Json = serde_json::from_str(&ran.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {ran:#?}"));
    report["findings"].as_array().cloned().unwrap_or_default()
}

/// The corpus files and their `;; expect:` verdicts.
fn corpus() -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    for dir in ["tests/analysis-examples", "tests/analysis-cases"] {
        for entry in std::fs::read_dir(repo_root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "omega") {
                let text = std::fs::read_to_string(&path).unwrap();
                let expect = text.lines().next().unwrap_or("").trim_start_matches(";; expect:").trim().to_string();
                files.push((path, expect));
            }
        }
    }
    files.sort();
    files
}

/// Programs whose serializers get other names at run time than in the static analysis.
const RUN_TIME_NAMES: &[&str] = &["c65-account-exchange.omega", "c88-pipeline-guard-broken.omega"];

fn file_name(path: &Path) -> &str {
    path.file_name().and_then(|n| n.to_str()).unwrap_or("")
}

#[test]
fn every_deadlock_and_race_of_the_corpus_is_reproduced_with_its_locks() {
    let mut missed = Vec::new();
    let mut checked = 0;
    for (path, expect) in corpus() {
        let mut words = expect.split_whitespace();
        let kind = words.next().unwrap_or("none");
        if !matches!(kind, "deadlock" | "self-deadlock" | "race") {
            continue;
        }
        checked += 1;
        let names: Vec<&str> = words.collect();
        // The default budget is 1000 schedules; every case here needs far fewer.
        let ran = explore(&repo_root(), path.to_str().unwrap(), &["--schedules", "100"]);
        ran.expect_code(1);
        let found = findings(&ran).iter().any(|f| {
            let locks: Vec<&str> = f["locks"].as_array().unwrap().iter().filter_map(Json::as_str).collect();
            f["kind"] == kind
                && match kind {
                    "race" => f["state"].as_str().is_some(),
                    // Serializers fetched by key are named by the variable they are first acquired
                    // through at run time; the static analysis names them by the call site.
                    _ => locks == names || f["confirms"].is_string() || RUN_TIME_NAMES.contains(&file_name(&path)),
                }
                && f["replay"].as_str().unwrap().starts_with(&format!("omega run --schedule {}", f["seed"]))
        });
        if !found {
            missed.push(format!("{}: {}\n{}", path.display(), expect, ran.stdout));
        }
    }
    assert!(checked >= 25, "only {checked} buggy programs in the corpus");
    assert!(missed.is_empty(), "not reproduced:\n{}", missed.join("\n"));
}

#[test]
fn deadlocks_name_the_serializers_and_confirm_the_static_warning() {
    let ran = explore(&repo_root(), "tests/analysis-examples/01-chapter-deadlock.omega", &["--schedules", "20"]);
    ran.expect_code(1);
    let f = findings(&ran);
    assert_eq!(f.len(), 1, "{}", ran.stdout);
    assert_eq!(f[0]["kind"], "deadlock");
    assert_eq!(f[0]["locks"], serde_json::json!(["term-a-serializer", "term-b-serializer"]));
    assert_eq!(f[0]["confirms"], "omega::deadlock-order");
    assert!(f[0]["related"][0]["message"].as_str().unwrap().contains("is blocked"), "{}", ran.stdout);

    let human = omega_in(
        &repo_root(),
        &["explore", "--schedules", "20", "tests/analysis-examples/01-chapter-deadlock.omega"],
        "",
        LIMIT,
    );
    human.expect_code(1);
    assert!(human.stdout.contains("confirms omega::deadlock-order at 17:10"), "{}", human.stdout);
    assert!(human.stdout.contains("replay: omega run --schedule"), "{}", human.stdout);
}

#[test]
fn the_lost_update_of_the_glossary_is_a_race_and_a_divergent_outcome() {
    let dir = TempDir::new("explore-lost-update");
    let program = "(define count 0)\n\
                   (define (bump) (let ((seen count)) (yield) (set! count (+ seen 1))))\n\
                   (parallel bump bump)\n";
    std::fs::write(dir.join("bump.omega"), program).unwrap();
    let ran = explore(dir.path(), "bump.omega", &["--schedules", "100"]);
    ran.expect_code(1);
    let f = findings(&ran);
    let kinds: Vec<&str> = f.iter().filter_map(|f| f["kind"].as_str()).collect();
    assert!(kinds.contains(&"race") && kinds.contains(&"divergent-outcome"), "{}", ran.stdout);
    assert!(f.iter().all(|f| f["state"] == "count"), "{}", ran.stdout);
}

/// Correct programs of the corpus: consistent orders, the guarded idiom, sequential
/// inversions, serialized tables.
const CORRECT: &[&str] = &[
    "tests/analysis-examples/02-chapter-key-order.omega",
    "tests/analysis-examples/05-gate-serializer.omega",
    "tests/analysis-examples/06-sequential-inverse-order.omega",
    "tests/analysis-examples/12-chapter-table-serialized.omega",
];

#[test]
fn correct_programs_give_no_finding_over_a_thousand_schedules() {
    for file in CORRECT {
        let ran = explore(&repo_root(), file, &["--schedules", "1000"]);
        assert_eq!(findings(&ran).len(), 0, "{file}: {}", ran.stdout);
        ran.expect_code(0);
        let report: Json = serde_json::from_str(&ran.stdout).unwrap();
        assert_eq!(report["schedules"], 1000);
    }
}

#[test]
fn a_reported_seed_replays_the_same_finding_byte_for_byte() {
    // A deadlock found by PCT (not the first schedule): `omega run` prints the same error.
    let file = "tests/analysis-examples/03-stage-ring.omega";
    let ran = explore(&repo_root(), file, &["--schedules", "200"]);
    let f = findings(&ran);
    let deadlock = f.iter().find(|f| f["kind"] == "deadlock").unwrap_or_else(|| panic!("{}", ran.stdout));
    let seed = deadlock["seed"].to_string();
    let replay = omega_in(&repo_root(), &["run", "--schedule", &seed, file], "", LIMIT);
    replay.expect_code(1);
    assert_eq!(replay.stderr, format!("{}\n", deadlock["detail"].as_str().unwrap()));

    // A race: exploring that one seed reports the same finding.
    let file = "tests/analysis-examples/11-chapter-table-race.omega";
    let ran = explore(&repo_root(), file, &["--schedules", "50"]);
    let race = findings(&ran).into_iter().find(|f| f["kind"] == "race").unwrap();
    let again = explore(&repo_root(), file, &["--schedules", "1", "--seed", &race["seed"].to_string()]);
    assert_eq!(findings(&again).first(), Some(&race), "{}", again.stdout);
}

#[test]
fn llm_calls_get_stand_in_answers_and_reach_the_server_only_when_live() {
    let server = LlmServer::start();
    server.set_default(Reply::answer("an answer"));
    let dir = TempDir::new("explore-llm");
    let toml = format!("[llm]\nadapter = \"openai\"\nbase_url = \"{}\"\n", server.openai_url());
    std::fs::write(dir.join("omega.toml"), toml).unwrap();
    let program = "(define notes '())\n\
                   (define (note! topic) (let ((answer (effect infer.op topic))) (set! notes (cons answer notes))))\n\
                   (parallel (lambda () (note! \"a\")) (lambda () (note! \"b\")))\n";
    std::fs::write(dir.join("notes.omega"), program).unwrap();

    let ran = explore(dir.path(), "notes.omega", &["--schedules", "50"]);
    ran.expect_code(1);
    assert_eq!(server.requests(), 0, "explore sent requests without --live");
    let f = findings(&ran);
    assert!(f.iter().any(|f| f["kind"] == "race" && f["state"] == "notes"), "{}", ran.stdout);
    let replay = f[0]["replay"].as_str().unwrap();
    assert!(replay.contains("--stand-ins"), "{replay}");
    let human = omega_in(dir.path(), &["explore", "--schedules", "5", "notes.omega"], "", LIMIT);
    assert!(human.stdout.contains("stand-ins (no network)"), "{}", human.stdout);
    // Replaying with stand-ins sends nothing either.
    let seed = f[0]["seed"].to_string();
    omega_in(dir.path(), &["run", "--schedule", &seed, "--stand-ins", "notes.omega"], "", LIMIT).expect_code(0);
    assert_eq!(server.requests(), 0);

    explore(dir.path(), "notes.omega", &["--schedules", "2", "--live"]).expect_code(1);
    assert!(server.requests() >= 2, "--live made {} requests", server.requests());
}

#[test]
fn usage_errors_exit_with_two() {
    omega_in(&repo_root(), &["explore"], "", LIMIT).expect_code(2);
    omega_in(
        &repo_root(),
        &["explore", "--schedules", "0", "tests/analysis-examples/01-chapter-deadlock.omega"],
        "",
        LIMIT,
    )
    .expect_code(2);
    omega_in(&repo_root(), &["explore", "--seed", "x", "tests/analysis-examples/01-chapter-deadlock.omega"], "", LIMIT)
        .expect_code(2);
}
