//! The language's conformance cases (tests/conformance/cases.txt), each a fresh run.

use omega_llm::config::{AdapterKind, LlmConfig};
use omega_tests::program_files::unescape;
use omega_tests::programs::{run, scripted};
use omega_tests::repo_root;

/// The prelude every case runs first (the head of tests/conformance/cases.txt describes it).
const PRELUDE: &str = r#"
(define (ints n) (cons-stream n (ints (+ n 1))))
(define (count n) (if (= n 0) 0 (+ 1 (count (- n 1)))))
(define (loop n acc) (if (= n 0) acc (loop (- n 1) (+ acc 1))))
(define events '()) (define (note! t) (set! events (cons t events)))
(define (step t) (note! t) (effect infer.op "x") (note! t))
"#;

struct Case {
    name: String,
    program: String,
    expect: Option<String>,
    out: Option<String>,
    adapter_none: bool,
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(repo_root().join("tests/conformance/cases.txt")).unwrap();
    let mut cases = Vec::new();
    for block in text.split("\n### ").skip(1) {
        let mut lines = block.lines();
        let name = lines.next().unwrap().trim().to_string();
        let mut case = Case { name, program: String::new(), expect: None, out: None, adapter_none: false };
        for line in lines {
            if let Some(v) = line.strip_prefix("=> ") {
                case.expect = Some(format!("=> {v}"));
            } else if line.starts_with("error: ") {
                case.expect = Some(line.to_string());
            } else if line == "nothing" {
                case.expect = None;
            } else if let Some(o) = line.strip_prefix("out: ") {
                case.out = Some(unescape(o));
            } else if line == "adapter: none" {
                case.adapter_none = true;
            } else if line.starts_with("tier: ") || line.starts_with("note: ") || line.is_empty() {
            } else {
                case.program.push_str(line);
                case.program.push('\n');
            }
        }
        cases.push(case);
    }
    cases
}

#[test]
fn every_conformance_case_prints_what_the_language_definition_says() {
    let script = repo_root().join("tests/conformance/script.toml");
    let cases = cases();
    assert!(cases.len() >= 54, "only {} cases read", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let cfg = if case.adapter_none { LlmConfig::new(AdapterKind::None) } else { scripted(&script) };
        let prelude = run(&cfg, PRELUDE);
        assert!(prelude.results.iter().all(|r| !r.as_deref().unwrap_or("").starts_with("error")));
        let r = run(&cfg, &format!("{PRELUDE}\n{}", case.program));
        let got = if r.syntax_errors.is_empty() {
            r.results.last().cloned().flatten()
        } else {
            Some(format!("syntax: {:?}", r.syntax_errors))
        };
        let mut problems = Vec::new();
        if case.expect != got {
            problems.push(format!("printed {got:?}, expected {:?}", case.expect));
        }
        if let Some(out) = &case.out {
            if &r.output != out {
                problems.push(format!("output {:?}, expected {out:?}", r.output));
            }
        }
        if !problems.is_empty() {
            failures.push(format!("#{}: {}", case.name, problems.join("; ")));
        }
    }
    let passed = cases.len() - failures.len();
    eprintln!("conformance: {passed} of {} cases pass", cases.len());
    assert!(failures.is_empty(), "{} failing:\n{}", failures.len(), failures.join("\n"));
}
