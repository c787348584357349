//! Limits of a run through the real `omega` binary: the memory bombs of
//! tests/programs/limits end with an error under the default budget (never an allocator
//! abort), and out-of-range limits are usage errors.

use std::path::Path;
use std::time::Duration;

use omega_tests::cli::{omega_in, Ran};
use omega_tests::{files_under, repo_root, TempDir};

/// Generous: only a hang or a runaway should come near it.
const LIMIT: Duration = Duration::from_secs(180);

/// The default budget is 512 MB of live data; the process around it (allocator slack, code,
/// the tree of the source) may add a little, never gigabytes.
const PEAK_RSS_KIB: u64 = 900 << 10;

/// The first `;error: MESSAGE` of a program file, without a trailing `…`.
/// The file's first expected error, as `omega run` words it under the default budgets: its
/// `;!default-budget-error` when another limit comes first there, else its own expectation with
/// the default memory limit in place of its smaller `;!max-memory`.
fn first_expected_error(text: &str) -> Option<String> {
    if let Some(own) = text.lines().find_map(|l| l.strip_prefix(";!default-budget-error ")) {
        return Some(own.trim().to_string());
    }
    let at = text.find(";error: ")?;
    let rest = &text[at + ";error: ".len()..];
    let message = rest.lines().next()?.split(" ;").next()?.trim_end();
    let Some(own) = text.lines().find_map(|l| l.strip_prefix(";!max-memory ")) else {
        return Some(message.to_string());
    };
    let default = (omega_eval::memory::DEFAULT_MEMORY_LIMIT >> 20).to_string();
    Some(message.replace(&format!("more than {} MB", own.trim()), &format!("more than {default} MB")))
}

/// `omega run FILE` with the file's `;!max-steps` as a flag; memory at its default.
fn run_file(file: &Path) -> Ran {
    let text = std::fs::read_to_string(file).unwrap();
    let mut args = vec!["run".to_string(), file.display().to_string()];
    for line in text.lines() {
        if let Some(n) = line.strip_prefix(";!max-steps ") {
            args.extend(["--max-steps".to_string(), n.trim().to_string()]);
        }
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let dir = TempDir::new("limits");
    omega_in(dir.path(), &args, "", LIMIT)
}

/// One after the other: each may hold the whole default budget while it runs.
#[test]
fn memory_bombs_end_with_an_error_under_the_default_budget() {
    let dir = repo_root().join("tests/programs/limits");
    let mut files: Vec<_> =
        files_under(&dir).into_iter().filter(|p| p.extension().is_some_and(|e| e == "omega")).collect();
    files.sort();
    assert!(files.len() >= 10, "only {} limit programs", files.len());
    let mut problems = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let ran = run_file(file);
        let name = file.file_name().unwrap().to_string_lossy();
        let rss = ran.peak_rss_kib.unwrap_or(0);
        eprintln!("{name}: exit {:?}, {:.1} s, peak {} MiB", ran.code, ran.elapsed.as_secs_f64(), rss >> 10);
        match first_expected_error(&text) {
            Some(wanted) => {
                if ran.code != Some(1) || !ran.first_error_line().contains(wanted.as_str()) {
                    problems
                        .push(format!("{name}: expected exit 1 and {wanted:?}, got {:?}: {}", ran.code, ran.stderr));
                }
            }
            None => {
                if ran.code != Some(0) {
                    problems.push(format!("{name}: expected success, got {:?}: {}", ran.code, ran.stderr));
                }
            }
        }
        if rss > PEAK_RSS_KIB {
            problems.push(format!("{name}: peak resident memory {} MiB", rss >> 10));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_memory_limit_names_itself_and_the_flag_that_raises_it() {
    let dir = TempDir::new("limits");
    std::fs::write(dir.join("p.omega"), "(define (f l) (f (cons 1 l)))\n(f '())\n").unwrap();
    let ran = omega_in(dir.path(), &["run", "--max-memory", "16", "p.omega"], "", LIMIT);
    ran.expect_code(1);
    assert_eq!(
        ran.first_error_line(),
        "p.omega:1:15: error: memory limit exceeded: the run needs more than 16 MB (raise the limit with --max-memory MB)"
    );
    // 0 lifts the limit; the step budget still ends the run.
    let ran = omega_in(dir.path(), &["run", "--max-memory", "0", "--max-steps", "100000", "p.omega"], "", LIMIT);
    ran.expect_code(1);
    assert!(ran.first_error_line().contains("step limit exceeded"), "{}", ran.stderr);
}

#[test]
fn out_of_range_timeouts_are_usage_errors() {
    let dir = TempDir::new("limits");
    std::fs::write(dir.join("p.omega"), "(display 1)\n").unwrap();
    for bad in ["-1", "nan", "inf", "1e30", "0"] {
        let ran = omega_in(dir.path(), &["run", "--timeout", bad, "p.omega"], "", LIMIT);
        ran.expect_code(2);
        assert!(
            ran.stderr.starts_with("omega: --timeout: a timeout must be a positive number of seconds"),
            "{bad}: {}",
            ran.stderr
        );
    }
    let ran = omega_in(dir.path(), &["run", "--timeout", "1e6", "p.omega"], "", LIMIT);
    ran.expect_code(0);
    assert_eq!(ran.stdout, "1");

    std::fs::write(dir.join("omega.toml"), "[llm]\nadapter = \"none\"\nrequest_timeout_secs = 1e30\n").unwrap();
    let ran = omega_in(dir.path(), &["run", "p.omega"], "", LIMIT);
    ran.expect_code(2);
    assert!(ran.stderr.contains("request timeout must be a positive number of seconds, at most"), "{}", ran.stderr);
}

#[test]
fn an_answer_larger_than_16_mib_is_an_llm_error_and_is_not_cached() {
    use omega_llm::config::{AdapterKind, ApiKey, LlmConfig};
    use omega_llm::{LlmErrorKind, LlmRequest, LlmService};
    use omega_tests::llm_server::{LlmServer, Reply};

    let server = LlmServer::start();
    server.on("huge", Reply::answer("x".repeat(17 << 20)));
    server.on("fine", Reply::answer("x".repeat(15 << 20)));
    let cache = TempDir::new("llm-cache");
    let mut cfg = LlmConfig::new(AdapterKind::OpenAi);
    cfg.base_url = Some(server.openai_url());
    cfg.set_api_key(Some(ApiKey::new("sk-test-limits")));
    cfg.model = "test-model".into();
    cfg.cache_dir = cache.path().to_path_buf();
    cfg.retry_base_ms = 5;
    let mut session = LlmService::new(&cfg).unwrap().session();
    let e = session.call(LlmRequest::infer("huge")).unwrap_err();
    assert_eq!(e.kind, LlmErrorKind::Malformed);
    assert!(e.message.contains("is larger than 16 MiB"), "{}", e.message);
    let cached: u64 = files_under(cache.path()).iter().map(|f| std::fs::metadata(f).unwrap().len()).sum();
    assert!(cached < 1 << 20, "the cache holds {cached} bytes after a refused answer");
    // An answer under the limit still arrives whole.
    assert_eq!(session.call(LlmRequest::infer("fine")).unwrap().text.len(), 15 << 20);
}

#[test]
fn check_and_fmt_go_on_past_a_file_they_cannot_read() {
    let dir = TempDir::new("limits");
    std::fs::write(dir.join("b.omega"), "(display undefined-name)\n").unwrap();
    let ran = omega_in(dir.path(), &["check", "missing.omega", "b.omega"], "", LIMIT);
    ran.expect_code(2);
    assert!(ran.stderr.contains("cannot read missing.omega"), "{}", ran.stderr);
    assert!(ran.stdout.contains("b.omega:1:10") && ran.stdout.contains("undefined-name"), "{}", ran.stdout);

    std::fs::write(dir.join("c.omega"), "(define (f x)\nx)\n").unwrap();
    let ran = omega_in(dir.path(), &["fmt", "missing.omega", "c.omega"], "", LIMIT);
    ran.expect_code(2);
    assert!(ran.stderr.contains("cannot read missing.omega"), "{}", ran.stderr);
    assert_eq!(std::fs::read_to_string(dir.join("c.omega")).unwrap(), "(define (f x)\n  x)\n");
}
