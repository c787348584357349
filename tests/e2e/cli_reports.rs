//! What the command line reports, whole: the run-time deadlock report of `omega run`, the
//! README's quick start, `omega fmt` on every program of the repository, and the JSON of
//! `omega check` against the documented diagnostic shape.

use std::path::PathBuf;
use std::time::Duration;

use omega_tests::cli::{omega_in, Ran};
use omega_tests::{files_under, repo_root, TempDir};

const LIMIT: Duration = Duration::from_secs(120);

/// Runs `omega ARGS…` in a scratch directory holding `files`.
fn omega(files: &[(&str, &str)], args: &[&str]) -> Ran {
    let dir = TempDir::new("cli-reports");
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    omega_in(dir.path(), args, "", LIMIT)
}

const SCRIPTED: &str = "[llm]\nadapter = \"scripted\"\nscript = \"answers.toml\"\n";
const ANSWERS: &str = "default = \"ok\"\n";

/// `omega run prog.omega` with scripted answers.
fn run(program: &str) -> Ran {
    omega(&[("omega.toml", SCRIPTED), ("answers.toml", ANSWERS), ("prog.omega", program)], &["run", "prog.omega"])
}

/// Three tasks in a ring, each holding one serializer and asking for the next one's: the
/// task that closes the cycle fails, and the report shows where each of the others is
/// blocked, with its call stack.
#[test]
fn a_deadlock_report_names_every_task_with_its_place_and_stack() {
    let program = "\
(define a (make-serializer))
(define b (make-serializer))
(define c (make-serializer))
(define (think) (effect infer.op \"think\"))
(define (enter s name)
  (list ((s (lambda () name)))))
(define (hold first then name)
  (list ((first (lambda ()
                  (think)
                  (list (enter then name)))))))
(display \"start\")
(parallel
  (lambda () (hold a b 'ab))
  (lambda () (hold b c 'bc))
  (lambda () (hold c a 'ca)))
(display \"not reached\")
";
    let r = run(program);
    r.expect_code(1);
    assert_eq!(r.stdout, "start");
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(
        lines,
        [
            "prog.omega:6:9: error: parallel: task 3 failed: deadlock: task 3 waits for serializer a held by task 1; task 1 waits for serializer b held by task 2; task 2 waits for serializer c held by task 3",
            "  at enter (prog.omega:6:9)",
            "  at <lambda> (prog.omega:10:25)",
            "  at hold (prog.omega:8:9)",
            "  task 1 is blocked at prog.omega:6:9",
            "    at enter (prog.omega:6:9)",
            "    at <lambda> (prog.omega:10:25)",
            "    at hold (prog.omega:8:9)",
            "  task 2 is blocked at prog.omega:6:9",
            "    at enter (prog.omega:6:9)",
            "    at <lambda> (prog.omega:10:25)",
            "    at hold (prog.omega:8:9)",
        ],
        "{}",
        r.stderr
    );
}

/// The chapter's 39.5 under the default scheduler: the same report, where the other task's
/// stack is empty because every call on its way is a tail call.
#[test]
fn the_chapter_deadlock_is_reported_by_omega_run() {
    let chapter = repo_root().join("tests/chapter");
    let read = |name: &str| std::fs::read_to_string(chapter.join(name)).unwrap();
    let r = omega(
        &[
            ("omega.toml", &read("omega.toml")),
            ("responses.toml", &read("responses.toml")),
            ("prog.omega", &read("39-5-deadlock.omega")),
        ],
        &["run", "prog.omega"],
    );
    r.expect_code(1);
    assert_eq!(r.stdout, "");
    assert_eq!(
        r.stderr,
        "\
prog.omega:12:8: error: parallel: task 2 failed: deadlock: task 2 waits for serializer term-a-serializer held by task 1; task 1 waits for serializer term-b-serializer held by task 2
  at <top level> (prog.omega:4:1)
  task 1 is blocked at prog.omega:8:8
"
    );
}

/// A task that finished while holding a mutex: whoever asks for it next waits forever, and
/// the run ends with that instead of hanging.
#[test]
fn waiting_for_a_lock_that_is_never_released_is_reported() {
    let program = "\
(define gate (make-mutex 'gate))
(define (take who)
  (mutex-acquire gate)
  who)
(display \"start\")
(parallel
  (lambda () (take 'first))
  (lambda () (yield) (list (take 'second))))
";
    let r = run(program);
    r.expect_code(1);
    assert_eq!(r.stdout, "start");
    assert_eq!(
        r.stderr,
        "\
prog.omega:3:3: error: parallel: task 2 failed: deadlock: task 2 waits for a lock that is never released
  at take (prog.omega:3:3)
  at <lambda> (prog.omega:8:28)
"
    );
}

/// The command the README's quick start gives, with the output it documents in words: the
/// glossary, the three agents' turns and the assembled answer.
#[test]
fn the_readme_quick_start_runs_the_chapter() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let command = readme
        .lines()
        .find_map(|l| l.strip_prefix("cargo run --release --bin omega -- "))
        .expect("the README's quick start runs omega with cargo run");
    let args: Vec<&str> = command.split('#').next().unwrap().split_whitespace().collect();
    assert_eq!(args, ["run", "examples/chapter-39.omega"]);

    // From a copy of the repository's examples, so that nothing is written into the tree.
    let dir = TempDir::new("quick-start");
    std::fs::create_dir(dir.join("examples")).unwrap();
    for file in files_under(&repo_root().join("examples")) {
        std::fs::copy(&file, dir.join("examples").join(file.file_name().unwrap())).unwrap();
    }
    let r = omega_in(dir.path(), &args, "", LIMIT);
    r.expect_code(0);
    assert_eq!(r.stderr, "");
    assert_eq!(
        r.stdout,
        "\
glossary: ((\"API\" . \"Application Programming Interface\") (\"API (explained)\" . \"A short definition.\") (\"LLM\" . \"Large Language Model\") (\"LLM (explained)\" . \"A short definition.\"))
AgentA: I agree.
AgentB: Let me add a caveat.
AgentC: Summing up.
Introduction... Body content... Conclusion.
"
    );
}

/// Every `.omega` file of the repository that reads.
fn repository_programs() -> Vec<PathBuf> {
    let root = repo_root();
    let mut files: Vec<PathBuf> = ["examples", "tests", "interp", "grammar"]
        .iter()
        .flat_map(|d| files_under(&root.join(d)))
        .filter(|p| p.extension().is_some_and(|e| e == "omega"))
        .collect();
    files.sort();
    files
}

/// `omega fmt` on a copy of every program in the repository: a second `fmt --check` passes
/// (formatting is idempotent), only the whitespace at the edges of lines changed, and a file
/// that does not read is refused with its syntax error and left alone.
#[test]
fn fmt_is_idempotent_and_keeps_every_token_on_every_repository_program() {
    let files = repository_programs();
    assert!(files.len() >= 150, "only {} .omega files found", files.len());
    let dir = TempDir::new("fmt-all");
    let mut failures = Vec::new();
    let mut reformatted = Vec::new();
    for (i, file) in files.iter().enumerate() {
        let name = file.strip_prefix(repo_root()).unwrap().display().to_string();
        let original = std::fs::read_to_string(file).unwrap();
        let copy = format!("{i}.omega");
        std::fs::write(dir.join(&copy), &original).unwrap();
        let reads = omega_syntax::reader::read(&original).errors.is_empty();
        let fmt = omega_in(dir.path(), &["fmt", &copy], "", LIMIT);
        let formatted = std::fs::read_to_string(dir.join(&copy)).unwrap();
        if !reads {
            if fmt.code != Some(1) || !fmt.first_error_line().starts_with(&format!("{copy}:")) || formatted != original
            {
                failures.push(format!("{name}: does not read, yet fmt gave {fmt:?}"));
            }
            continue;
        }
        if fmt.code != Some(0) {
            failures.push(format!("{name}: fmt failed: {fmt:?}"));
            continue;
        }
        if formatted != original {
            reformatted.push(name.clone());
        }
        let check = omega_in(dir.path(), &["fmt", "--check", &copy], "", LIMIT);
        if check.code != Some(0) {
            failures.push(format!("{name}: not idempotent, fmt --check after fmt gave {check:?}"));
        }
        if let Some(why) = changed_more_than_indentation(&original, &formatted) {
            failures.push(format!("{name}: {why}"));
        }
    }
    eprintln!(
        "fmt: {} programs; {} not formatted as omega fmt would: {}",
        files.len(),
        reformatted.len(),
        reformatted.join(" ")
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Why `after` differs from `before` by more than whitespace at the edges of lines and runs
/// of blank lines, if it does.
fn changed_more_than_indentation(before: &str, after: &str) -> Option<String> {
    let lines = |text: &str| -> Vec<String> {
        text.lines().map(|l| l.trim_matches([' ', '\t', '\r', '\u{c}']).to_string()).filter(|l| !l.is_empty()).collect()
    };
    let (b, a) = (lines(before), lines(after));
    if b.len() != a.len() {
        return Some(format!("{} non-blank lines became {}", b.len(), a.len()));
    }
    let at = b.iter().zip(&a).position(|(x, y)| x != y)?;
    Some(format!("line {:?} became {:?}", b[at], a[at]))
}

/// `omega check --format json` gives the LSP diagnostic shape of interfaces.md, plus `file`.
#[test]
fn check_json_has_the_documented_diagnostic_shape() {
    let chapter = std::fs::read_to_string(repo_root().join("tests/chapter/39-5-deadlock.omega")).unwrap();
    // The unbound name comes after a character outside the Basic Multilingual Plane: two
    // UTF-16 code units, one character.
    let wide = "(define s \"\u{1F600}\") (display y)\n";
    let dir = TempDir::new("check-json");
    std::fs::write(dir.join("wide.omega"), wide).unwrap();
    std::fs::write(dir.join("chapter.omega"), &chapter).unwrap();
    let r = omega_in(dir.path(), &["check", "--format", "json", "wide.omega", "chapter.omega"], "", LIMIT);
    r.expect_code(1);
    assert_eq!(r.stderr, "");
    let json: serde_json::Value = serde_json::from_str(&r.stdout).expect("one JSON document");
    let diags = json.as_array().expect("an array of diagnostics");
    assert_eq!(diags.len(), 2, "{json:#}");

    for d in diags {
        let keys: Vec<&str> = d.as_object().expect("an object").keys().map(String::as_str).collect();
        for key in &keys {
            assert!(
                ["file", "range", "severity", "code", "source", "message", "relatedInformation", "data"].contains(key),
                "undocumented key {key} in {d:#}"
            );
        }
        assert_eq!(d["source"], "omega");
        assert!(d["message"].as_str().is_some_and(|m| !m.is_empty()));
        assert!(d["code"].as_str().is_some_and(|c| c.starts_with("omega::")));
        assert!((1..=4).contains(&d["severity"].as_u64().expect("a numeric severity")));
        assert_range(&d["range"]);
    }

    let unbound = &diags[0];
    assert_eq!(
        (unbound["file"].as_str(), unbound["code"].as_str(), unbound["severity"].as_u64()),
        (Some("wide.omega"), Some("omega::unbound"), Some(1))
    );
    assert_eq!(unbound["message"], "unbound variable: `y`");
    // 0-based; `y` is the 25th character of the line but its 26th UTF-16 code unit.
    assert_eq!(
        unbound["range"],
        serde_json::json!({"start": {"line": 0, "character": 25}, "end": {"line": 0, "character": 26}})
    );

    let deadlock = &diags[1];
    assert_eq!(
        (deadlock["file"].as_str(), deadlock["code"].as_str(), deadlock["severity"].as_u64()),
        (Some("chapter.omega"), Some("omega::deadlock-order"), Some(2))
    );
    assert_eq!(deadlock["data"]["locks"], serde_json::json!(["term-a-serializer", "term-b-serializer"]));
    let related = deadlock["relatedInformation"].as_array().expect("related places");
    assert!(!related.is_empty());
    let uri = format!("file://{}", dir.join("chapter.omega").display());
    for place in related {
        assert_eq!(place["location"]["uri"].as_str(), Some(uri.as_str()), "an absolute file URI: {place:#}");
        assert_range(&place["location"]["range"]);
        assert!(place["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // The same findings as the human format, which counts lines and columns from 1.
    let human = omega_in(dir.path(), &["check", "wide.omega", "chapter.omega"], "", LIMIT);
    human.expect_code(1);
    let firsts: Vec<&str> = human.stdout.lines().filter(|l| !l.starts_with("  ")).collect();
    assert_eq!(firsts.len(), 2, "{}", human.stdout);
    assert!(firsts[0].starts_with("wide.omega:1:25: error[omega::unbound]: "), "{}", firsts[0]);
    let (line, col) = (
        deadlock["range"]["start"]["line"].as_u64().unwrap() + 1,
        deadlock["range"]["start"]["character"].as_u64().unwrap() + 1,
    );
    assert!(
        firsts[1].starts_with(&format!("chapter.omega:{line}:{col}: warning[omega::deadlock-order]: ")),
        "{}",
        firsts[1]
    );
}

/// `{"start": {"line", "character"}, "end": {…}}` with the start not after the end.
#[track_caller]
fn assert_range(range: &serde_json::Value) {
    let pos = |p: &serde_json::Value| (p["line"].as_u64().expect("line"), p["character"].as_u64().expect("character"));
    let (start, end) = (pos(&range["start"]), pos(&range["end"]));
    assert!(start <= end, "{range}");
    assert_eq!(range.as_object().map(|o| o.len()), Some(2), "{range}");
}
