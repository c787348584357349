//! Data-driven tests of the static analysis: every `.omega` file under
//! `tests/analysis-examples/` (the public examples) and `tests/analysis-cases/` is checked
//! against its `;; expect:` header with the "What passes" rules of the examples' README.
//!
//! Header extensions for the cases (the public examples use none of them):
//! - `;; diag: CODE SEVERITY [LINE]` — such a diagnostic must be present (rule 6 then allows
//!   it even when it is an Error or a Warning); several lines may be given.
//! - `;; no-diag: CODE` — no diagnostic of this code at all, whatever its severity.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use omega::json::to_json;
use omega_analysis as analysis;
use omega_syntax::syntax::SourceFile;
use serde_json::Value;

const FINDINGS: [&str; 3] = ["omega::deadlock-order", "omega::self-deadlock", "omega::race"];

#[derive(Debug, Default)]
struct Expect {
    verdict: String,
    names: BTreeSet<String>,
    at: Vec<usize>,
    diags: Vec<(String, u64, Option<usize>)>,
    no_diags: Vec<String>,
}

fn parse_header(text: &str) -> Result<Expect, String> {
    let mut e = Expect::default();
    let mut lines = text.lines();
    let first = lines.next().ok_or("empty file")?;
    let rest = first.strip_prefix(";; expect:").ok_or("line 1 is not `;; expect:`")?;
    let mut words = rest.split_whitespace();
    e.verdict = words.next().ok_or("no verdict")?.to_string();
    e.names = words.map(String::from).collect();
    for line in text.lines().skip(1).take_while(|l| l.starts_with(";;")) {
        if let Some(at) = line.strip_prefix(";; at:") {
            e.at = at
                .split_whitespace()
                .map(|n| n.parse().map_err(|_| format!("bad line {n}")))
                .collect::<Result<_, _>>()?;
        } else if let Some(d) = line.strip_prefix(";; diag:") {
            let w: Vec<&str> = d.split_whitespace().collect();
            let sev = match w.get(1).copied() {
                Some("error") => 1,
                Some("warning") => 2,
                Some("info") => 3,
                Some("hint") => 4,
                other => return Err(format!("bad severity {other:?}")),
            };
            e.diags.push((w[0].to_string(), sev, w.get(2).and_then(|l| l.parse().ok())));
        } else if let Some(d) = line.strip_prefix(";; no-diag:") {
            e.no_diags.push(d.trim().to_string());
        }
    }
    if e.verdict != "none" && e.at.is_empty() {
        return Err("a verdict other than none needs `;; at:`".into());
    }
    Ok(e)
}

/// Names a finding is about: `data.locks`, or the backticked names of its message.
fn finding_names(d: &Value) -> BTreeSet<String> {
    if let Some(locks) = d["data"]["locks"].as_array() {
        return locks.iter().filter_map(|l| l.as_str().map(String::from)).collect();
    }
    let msg = d["message"].as_str().unwrap_or("");
    msg.split('`').skip(1).step_by(2).map(String::from).collect()
}

fn covers(range: &Value, line0: u64) -> bool {
    let s = range["start"]["line"].as_u64().unwrap_or(u64::MAX);
    let e = range["end"]["line"].as_u64().unwrap_or(0);
    s <= line0 && line0 <= e
}

/// Applies the README's rules; returns the reasons for failing, if any.
fn judge(text: &str, e: &Expect, diags: &[Value]) -> Vec<String> {
    let mut why = Vec::new();
    let findings: Vec<&Value> = diags
        .iter()
        .filter(|d| d["severity"].as_u64() <= Some(2) && FINDINGS.contains(&d["code"].as_str().unwrap_or("")))
        .collect();
    let code = match e.verdict.as_str() {
        "none" => None,
        "deadlock" => Some("omega::deadlock-order"),
        "self-deadlock" => Some("omega::self-deadlock"),
        "race" => Some("omega::race"),
        v => {
            why.push(format!("unknown verdict {v}"));
            None
        }
    };
    match code {
        None => {
            for f in &findings {
                why.push(format!("unexpected finding: {} {}", f["code"], f["message"]));
            }
        }
        Some(code) => {
            if findings.is_empty() {
                why.push(format!("no {code} finding"));
            }
            for f in &findings {
                if f["code"] != code {
                    why.push(format!("finding of the wrong kind: {} {}", f["code"], f["message"]));
                    continue;
                }
                let names: BTreeSet<String> = if code == "omega::race" {
                    f["data"]["state"].as_str().map(String::from).into_iter().collect()
                } else {
                    finding_names(f)
                };
                if names != e.names {
                    why.push(format!("names {names:?}, expected {:?}: {}", e.names, f["message"]));
                }
            }
            let cycles: BTreeSet<String> = findings.iter().map(|f| f["data"]["cycleId"].to_string()).collect();
            if code == "omega::deadlock-order" && findings.len() > 1 && cycles.len() > 1 {
                why.push(format!("{} deadlock findings with different cycleIds", findings.len()));
            }
            for &line in &e.at {
                let l0 = line as u64 - 1;
                let covered = findings.iter().any(|f| {
                    covers(&f["range"], l0)
                        || f["relatedInformation"]
                            .as_array()
                            .is_some_and(|r| r.iter().any(|x| covers(&x["location"]["range"], l0)))
                        || f["data"]["trace"].as_array().is_some_and(|t| t.iter().any(|x| covers(&x["range"], l0)))
                });
                if !covered {
                    why.push(format!("line {line} is not covered by any finding"));
                }
            }
        }
    }
    for (c, sev, line) in &e.diags {
        let found = diags.iter().any(|d| {
            d["code"] == c.as_str()
                && d["severity"].as_u64() == Some(*sev)
                && line.is_none_or(|l| covers(&d["range"], l as u64 - 1))
        });
        if !found {
            why.push(format!("missing diagnostic {c} severity {sev} at line {line:?}"));
        }
    }
    for c in &e.no_diags {
        for d in diags.iter().filter(|d| d["code"] == c.as_str()) {
            why.push(format!("unexpected {c}: {}", d["message"]));
        }
    }
    // Rule 6: nothing else may be an Error or a Warning.
    for d in diags {
        let sev = d["severity"].as_u64().unwrap_or(0);
        let code = d["code"].as_str().unwrap_or("");
        if sev > 2 || FINDINGS.contains(&code) {
            continue;
        }
        let listed = e.diags.iter().any(|(c, s, _)| c == code && *s == sev);
        if !listed {
            let line = d["range"]["start"]["line"].as_u64().unwrap_or(0) + 1;
            why.push(format!("unexpected {code} (severity {sev}) at line {line}: {}", d["message"]));
        }
    }
    let _ = text;
    why
}

fn files(dir: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("tests").join(dir);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "omega"))
        .collect();
    v.sort();
    v
}

/// Checks every file of a folder, printing one verdict line per file.
fn run_folder(dir: &str) {
    let mut failed = 0;
    let paths = files(dir);
    for path in &paths {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(path).unwrap();
        let verdict = match parse_header(&text) {
            Err(e) => vec![format!("bad header: {e}")],
            Ok(expect) => {
                let file = SourceFile::new(&name, &text);
                let diags = analysis::check(&text);
                let json = to_json(&file, "file:///test.omega", &diags);
                judge(&text, &expect, json.as_array().unwrap())
            }
        };
        if verdict.is_empty() {
            println!("PASS {dir}/{name}");
            if std::env::var_os("ANALYSIS_VERBOSE").is_some() {
                let file = SourceFile::new(&name, &text);
                for line in omega_syntax::diagnostic::render_human(&file, &analysis::check(&text)).lines() {
                    println!("     | {line}");
                }
            }
        } else {
            failed += 1;
            println!("FAIL {dir}/{name}");
            for w in verdict {
                println!("     {w}");
            }
            let file = SourceFile::new(&name, &text);
            for line in omega_syntax::diagnostic::render_human(&file, &analysis::check(&text)).lines() {
                println!("     | {line}");
            }
        }
    }
    println!("{dir}: {} passed, {failed} failed", paths.len() - failed);
    assert_eq!(failed, 0, "{failed} file(s) in {dir} failed; see the verdicts above");
}

#[test]
fn public_examples() {
    run_folder("analysis-examples");
}

#[test]
fn own_cases() {
    run_folder("analysis-cases");
}

#[test]
fn example_06_reports_one_latent_inversion() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/analysis-examples/06-sequential-inverse-order.omega"),
    )
    .unwrap();
    let latent: Vec<_> = analysis::check(&text)
        .into_iter()
        .filter(|d| d.code == omega_syntax::diagnostic::Code::LockOrderLatent)
        .collect();
    assert_eq!(latent.len(), 1, "{latent:#?}");
    assert_eq!(latent[0].severity, omega_syntax::diagnostic::Severity::Information);
    assert_eq!(latent[0].data.locks, vec!["facts-serializer", "style-serializer"]);
}

#[test]
fn examples_07_and_10_fail_the_check() {
    for name in ["07-reentry-by-recursion.omega", "10-spawn-while-holding.omega"] {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/analysis-examples").join(name),
        )
        .unwrap();
        let (_, failed) = omega::json::check_file_output(name, &text, false);
        assert!(failed, "{name} should make `omega check` exit 1");
    }
}

#[test]
fn exact_messages_of_the_design() {
    let cases = [
        ("01-chapter-deadlock.omega", "possible deadlock: `term-a-serializer` is acquired while holding `term-b-serializer`, but task 1 takes them in the opposite order (line 11)"),
        ("03-stage-ring.omega", "possible deadlock: 3 concurrent tasks wait in a cycle: `draft-guard` → `review-guard` → `outline-guard` → `draft-guard`"),
        ("07-reentry-by-recursion.omega", "deadlock: `outline-serializer` is acquired again while this task already holds it (serializers are not reentrant)"),
        ("11-chapter-table-race.omega", "data race on `shared-glossary`: task 2 writes it here holding no serializer, and task 1 also writes it (line 10)"),
    ];
    for (name, message) in cases {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/analysis-examples").join(name),
        )
        .unwrap();
        let diags = analysis::check(&text);
        assert!(
            diags.iter().any(|d| d.message == message),
            "{name}: {:#?}",
            diags.iter().map(|d| &d.message).collect::<Vec<_>>()
        );
    }
}

#[test]
fn output_is_deterministic() {
    for path in files("analysis-examples").into_iter().chain(files("analysis-cases")) {
        let text = std::fs::read_to_string(&path).unwrap();
        let file = SourceFile::new("f.omega", &text);
        let a = to_json(&file, "file:///f.omega", &analysis::check(&text)).to_string();
        let b = to_json(&file, "file:///f.omega", &analysis::check(&text)).to_string();
        assert_eq!(a, b, "{}", path.display());
    }
}

/// A chain where each procedure calls the previous one twice has 2^30 call paths. Identical
/// calls are replayed from the memo and a file-wide budget bounds the rest, so the check stays
/// fast and still finds the race at the bottom of the chain.
#[test]
fn doubling_call_chains_stay_cheap() {
    let mut text =
        String::from("(define s (make-serializer))\n(define t (make-table))\n(define (f0 x) (insert! x 1 t))\n");
    for i in 1..=30 {
        text.push_str(&format!("(define (f{i} x) (f{p} x) (f{p} (+ x 1)))\n", p = i - 1));
    }
    for i in 0..200 {
        text.push_str(&format!("(f30 {i})\n"));
    }
    text.push_str("(parallel (lambda () (f30 1)) (lambda () ((s (lambda () (f30 2))))))\n");
    let start = std::time::Instant::now();
    let diags = analysis::check(&text);
    let elapsed = start.elapsed();
    assert!(elapsed < std::time::Duration::from_secs(20), "took {elapsed:?}");
    let races: Vec<_> = diags.iter().filter(|d| d.code == omega_syntax::diagnostic::Code::Race).collect();
    assert_eq!(races.len(), 1, "{diags:#?}");
    assert_eq!(races[0].data.state.as_deref(), Some("t"));
}

/// The text with a fix's edits applied.
fn apply_fix(text: &str, fix: &omega_syntax::diagnostic::Fix) -> String {
    let mut edits = fix.edits.clone();
    edits.sort_by_key(|(span, _)| std::cmp::Reverse(span.start));
    let mut out = text.to_string();
    for (span, new) in edits {
        out.replace_range(span.range(), &new);
    }
    out
}

fn example(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/analysis-examples").join(name))
        .unwrap()
}

fn is_finding(d: &omega_syntax::diagnostic::Diagnostic) -> bool {
    d.severity <= omega_syntax::diagnostic::Severity::Warning && FINDINGS.contains(&d.code.as_str())
}

#[test]
fn the_preferred_swap_fix_removes_the_deadlock() {
    for name in ["01-chapter-deadlock.omega", "03-stage-ring.omega", "04-nesting-in-a-helper.omega"] {
        let text = example(name);
        let diags = analysis::check(&text);
        let d = diags.iter().find(|d| d.code == omega_syntax::diagnostic::Code::DeadlockOrder).unwrap();
        let fix = d
            .fixes
            .iter()
            .find(|f| f.preferred)
            .unwrap_or_else(|| panic!("{name}: no preferred fix in {:#?}", d.fixes));
        assert!(fix.title.starts_with("take `"), "{name}: {}", fix.title);
        let fixed = apply_fix(&text, fix);
        let after: Vec<_> = analysis::check(&fixed).into_iter().filter(is_finding).collect();
        assert!(after.is_empty(), "{name} after `{}`:\n{fixed}\n{after:#?}", fix.title);
    }
    // 01 runs code between the two acquisitions: the title says where it then runs.
    let d = analysis::check(&example("01-chapter-deadlock.omega"))
        .into_iter()
        .find(|d| d.code == omega_syntax::diagnostic::Code::DeadlockOrder)
        .unwrap();
    assert!(d.fixes[0].title.contains("then runs under `term-a-serializer`"), "{}", d.fixes[0].title);
}

#[test]
fn no_swap_fix_when_both_orders_come_from_one_nesting() {
    // 08: both tasks run the same `((src … ((dst …` code with swapped keys: swapping the
    // tokens would change both, so the fix is not offered.
    let d = analysis::check(&example("08-guard-ignores-keys.omega"))
        .into_iter()
        .find(|d| d.code == omega_syntax::diagnostic::Code::DeadlockOrder)
        .unwrap();
    assert!(!d.fixes.iter().any(|f| f.title.starts_with("take `")), "{:#?}", d.fixes);
}

#[test]
fn every_finding_offers_a_suppression_that_works() {
    for path in files("analysis-examples").into_iter().chain(files("analysis-cases")) {
        let text = std::fs::read_to_string(&path).unwrap();
        let diags = analysis::check(&text);
        for d in diags.iter().filter(|d| is_finding(d)) {
            let fix = d
                .fixes
                .iter()
                .find(|f| f.title.starts_with("suppress"))
                .unwrap_or_else(|| panic!("{}: {d:#?}", path.display()));
            let fixed = apply_fix(&text, fix);
            let still =
                analysis::check(&fixed).into_iter().filter(|e| e.code == d.code && e.message == d.message).count();
            assert_eq!(still, 0, "{}: `{}` does not suppress {}\n{fixed}", path.display(), fix.title, d.message);
        }
    }
}

#[test]
fn the_order_by_key_fix_removes_keyed_deadlocks() {
    let cases = [
        ("analysis-examples", "08-guard-ignores-keys.omega"),
        ("analysis-cases", "c11-parallel-map-unordered.omega"),
        ("analysis-cases", "c20-keyed-literal-inversion.omega"),
    ];
    for (dir, name) in cases {
        let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests").join(dir).join(name))
            .unwrap();
        let diags = analysis::check(&text);
        let d = diags.iter().find(|d| d.code == omega_syntax::diagnostic::Code::DeadlockOrder).unwrap();
        let fix = d
            .fixes
            .iter()
            .find(|f| f.title.contains("with-key-order"))
            .unwrap_or_else(|| panic!("{name}: no key-order fix in {:#?}", d.fixes));
        let fixed = apply_fix(&text, fix);
        let after = analysis::check(&fixed);
        let bad: Vec<_> = after.iter().filter(|d| d.severity <= omega_syntax::diagnostic::Severity::Warning).collect();
        assert!(bad.is_empty(), "{name} after the fix:\n{fixed}\n{bad:#?}");
        // Applied twice (another finding's fix), the helper is not inserted again.
        let again = analysis::check(&fixed);
        assert!(again
            .iter()
            .all(|d| d.fixes.iter().all(|f| f.edits.len() == 1 || !f.title.contains("with-key-order"))));
    }
}

/// The hover note at the `$0` cursor of a fixture.
fn hover_at(marked: &str) -> Option<String> {
    let offset = marked.find("$0").expect("a `$0` cursor");
    let text = marked.replacen("$0", "", 1);
    analysis::analyze_file(&text).lock_order_at(offset).map(|n| n.text.clone())
}

#[test]
fn hover_shows_the_observed_order_and_the_verdict() {
    let ex01 = example("01-chapter-deadlock.omega");
    // On the define's name, and on a reference.
    let on_define = ex01.replacen("(define term-a-serializer", "(define term-a-$0serializer", 1);
    let on_use = ex01.replacen("((term-a-serializer", "((term-a-serializer$0", 1);
    let expected = "`term-a-serializer` (line 4): before `term-b-serializer` at line 11 (task 1), after it at line 17 (task 2): possible deadlock";
    assert_eq!(hover_at(&on_define).as_deref(), Some(expected));
    assert_eq!(hover_at(&on_use).as_deref(), Some(expected));

    let gate =
        example("05-gate-serializer.omega").replacen("(define inbox-serializer", "(define $0inbox-serializer", 1);
    assert!(hover_at(&gate).unwrap().ends_with(": inverted, always under `desk-gate`"), "{:?}", hover_at(&gate));
    let sequential = example("06-sequential-inverse-order.omega").replacen(
        "(define style-serializer",
        "(define $0style-serializer",
        1,
    );
    assert!(hover_at(&sequential).unwrap().ends_with("inverted, but never in tasks that run at the same time"));
    let keys =
        example("02-chapter-key-order.omega").replacen("(define term-serializers", "(define $0term-serializers", 1);
    assert!(hover_at(&keys).unwrap().contains("always nested in ascending key order"), "{:?}", hover_at(&keys));
    let mirrored = example("09-descending-key-order.omega").replacen(
        "(define topic-serializers",
        "(define $0topic-serializers",
        1,
    );
    assert!(hover_at(&mirrored).unwrap().contains("always nested in descending key order"));
    let reentry = example("07-reentry-by-recursion.omega").replacen(
        "(define outline-serializer",
        "(define $0outline-serializer",
        1,
    );
    assert!(
        hover_at(&reentry).unwrap().contains("deadlock: requested again while held (line 11)"),
        "{:?}",
        hover_at(&reentry)
    );

    // Not a serializer: no note.
    assert_eq!(hover_at("(define (f x) x$0)\n(define s (make-serializer))"), None);
    assert_eq!(hover_at("(define t$0 (make-table))"), None);
}

#[test]
fn analysis_snapshots_can_move_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<analysis::Analysis>();
}

#[test]
fn the_wrap_fix_removes_the_race() {
    for (dir, name) in [
        ("analysis-examples", "13-progress-counter-race.omega"),
        ("analysis-cases", "c32-race-counter-one-side-locked.omega"),
    ] {
        let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests").join(dir).join(name))
            .unwrap();
        let d = analysis::check(&text).into_iter().find(|d| d.code == omega_syntax::diagnostic::Code::Race).unwrap();
        let fix = d
            .fixes
            .iter()
            .find(|f| f.title.starts_with("run this under"))
            .unwrap_or_else(|| panic!("{name}: {:#?}", d.fixes));
        let fixed = apply_fix(&text, fix);
        let after: Vec<_> = analysis::check(&fixed)
            .into_iter()
            .filter(|d| d.severity <= omega_syntax::diagnostic::Severity::Warning)
            .collect();
        assert!(after.is_empty(), "{name} after the fix:\n{fixed}\n{after:#?}");
    }
    // No serializer anywhere (11): nothing to wrap in.
    let d = analysis::check(&example("11-chapter-table-race.omega"))
        .into_iter()
        .find(|d| d.code == omega_syntax::diagnostic::Code::Race)
        .unwrap();
    assert!(!d.fixes.iter().any(|f| f.title.starts_with("run this under")));
}

#[test]
fn findings_carry_locks_cycle_ids_traces_and_related_places() {
    let text = example("04-nesting-in-a-helper.omega");
    let file = SourceFile::new("04.omega", &text);
    let json = to_json(&file, "file:///04.omega", &analysis::check(&text));
    let d = json.as_array().unwrap().iter().find(|d| d["code"] == "omega::deadlock-order").unwrap();
    assert_eq!(d["severity"], 2);
    assert_eq!(d["data"]["locks"], serde_json::json!(["audit-serializer", "memo-serializer"]));
    assert_eq!(d["data"]["cycleId"], "deadlock-order:audit-serializer,memo-serializer");
    let trace: Vec<&str> =
        d["data"]["trace"].as_array().unwrap().iter().map(|t| t["message"].as_str().unwrap()).collect();
    assert_eq!(
        trace,
        [
            "task 2 starts here",
            "task 2 calls `holding-both` with `audit-serializer`, `memo-serializer`",
            "task 2 acquires `audit-serializer`",
            "task 2 then waits for `memo-serializer`"
        ]
    );
    let related: Vec<&str> =
        d["relatedInformation"].as_array().unwrap().iter().map(|r| r["message"].as_str().unwrap()).collect();
    assert!(related.contains(&"task 1 takes `audit-serializer` here while holding `memo-serializer`"), "{related:#?}");
    assert!(
        related.contains(&"task 1 calls `holding-both` with `memo-serializer`, `audit-serializer`"),
        "{related:#?}"
    );
    assert!(related.contains(&"tasks 1 and 2 are branches of this `parallel`"), "{related:#?}");
    // The preferred fix swaps the serializer arguments at task 2's call site (line 13).
    let fix = &d["data"]["fixes"][0];
    assert_eq!(fix["isPreferred"], true);
    let edits = fix["edits"].as_array().unwrap();
    assert!(edits.iter().all(|e| e["range"]["start"]["line"] == 12), "{edits:#?}");

    let text = example("13-progress-counter-race.omega");
    let file = SourceFile::new("13.omega", &text);
    let json = to_json(&file, "file:///13.omega", &analysis::check(&text));
    let d = json.as_array().unwrap().iter().find(|d| d["code"] == "omega::race").unwrap();
    assert_eq!(d["data"]["state"], "pages-done");
    assert!(d["relatedInformation"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["message"] == "the tasks are started by this `parallel`"));
}
