//! The language server's own log (`OMEGA_LOG`, `--log FILE`): what it names, where it goes,
//! and that no API key reaches it.

use serde_json::json;

use omega_tests::llm_server::{LlmServer, Reply};
use omega_tests::lsp::{file_uri, loopback_llm, omega_lsp_bin, position, LspClient, Options};
use omega_tests::TempDir;

/// One log line: seconds since start, level, message.
fn parse_line(line: &str) -> Option<(f64, &str, &str)> {
    let line = line.trim_start();
    let (secs, rest) = line.split_once("s ")?;
    let secs: f64 = secs.parse().ok()?;
    let (level, message) = rest.trim_start().split_once(' ')?;
    Some((secs, level, message.trim_start()))
}

/// The log's lines as (level, message), checking each has the line format.
fn lines(log: &str) -> Vec<(String, String)> {
    log.lines()
        .map(|l| {
            let (_, level, message) = parse_line(l).unwrap_or_else(|| panic!("not a log line: {l:?}\nlog:\n{log}"));
            assert!(["ERROR", "WARN", "INFO", "DEBUG"].contains(&level), "level {level:?} in {l:?}");
            (level.to_string(), message.to_string())
        })
        .collect()
}

/// The duration in milliseconds of the first `LEVEL` line of the log timing `method`.
fn timed(log: &[(String, String)], level: &str, method: &str) -> Option<f64> {
    log.iter().filter(|(l, _)| l == level).find_map(|(_, m)| {
        let rest = m.strip_prefix("slow handler: ").unwrap_or(m).strip_prefix(method)?.strip_prefix(" took ")?;
        rest.split_once(" ms")?.0.parse().ok()
    })
}

fn hover(c: &mut LspClient, uri: &str) {
    c.request("textDocument/hover", json!({"textDocument": {"uri": uri}, "position": position(0, 9)}));
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn at_debug_every_handled_message_is_named_with_its_duration() {
    let mut c = LspClient::start(Options { env: env(&[("OMEGA_LOG", "debug")]), ..Options::default() });
    let uri = "file:///work/log.omega";
    c.open(uri, "(define x 1)\n(+ x 2)\n");
    c.diagnostics(uri, 1);
    hover(&mut c, uri);
    c.request("textDocument/completion", json!({"textDocument": {"uri": uri}, "position": position(1, 1)}));
    c.change(uri, 2, (1, 0), (1, 0), ";; c\n");
    c.diagnostics(uri, 2);
    let (_, _, log) = c.shutdown_and_exit_keeping(|c| c.stderr_text());
    let log = lines(&log);
    for method in [
        "initialize",
        "textDocument/didOpen",
        "textDocument/hover",
        "textDocument/completion",
        "textDocument/didChange",
        "shutdown",
    ] {
        let ms = timed(&log, "DEBUG", method).unwrap_or_else(|| panic!("no DEBUG line timing {method}: {log:#?}"));
        assert!(ms >= 0.0);
    }
    // Analyses are logged at info, with the document and its version.
    assert!(log.iter().any(|(l, m)| l == "INFO" && m.starts_with(&format!("analysed {uri} version 2 ("))), "{log:#?}");
    // Nothing of the document's text.
    assert!(!log.iter().any(|(_, m)| m.contains("(define x 1)") || m.contains(";; c")), "{log:#?}");
}

#[test]
fn by_default_the_log_is_quiet_and_a_slow_handler_is_a_warning_naming_its_document() {
    let options = Options { env: env(&[("OMEGA_LSP_SLOW_IN", "textDocument/hover")]), ..Options::default() };
    let mut c = LspClient::start(options);
    let uri = "file:///work/slow.omega";
    c.open(uri, "(define x 1)\n");
    c.diagnostics(uri, 1);
    hover(&mut c, uri);
    c.request("textDocument/foldingRange", json!({"textDocument": {"uri": uri}}));
    let (_, _, log) = c.shutdown_and_exit_keeping(|c| c.stderr_text());
    let log = lines(&log);
    // Only warnings by default (on a loaded machine another handler may pass 100 ms too).
    assert!(log.iter().all(|(l, m)| l == "WARN" && m.starts_with("slow handler: ")), "{log:#?}");
    let ms = timed(&log, "WARN", "textDocument/hover").unwrap_or_else(|| panic!("no slow hover: {log:#?}"));
    assert!(ms >= 150.0, "{log:#?}");
    let hover = log.iter().find(|(_, m)| m.starts_with("slow handler: textDocument/hover took ")).unwrap();
    assert!(hover.1.ends_with(&format!(" on {uri}")), "names the document: {hover:?}");
}

#[test]
fn with_log_file_the_lines_go_to_the_file_and_stderr_stays_empty() {
    let dir = TempDir::new("lsp-log");
    let path = dir.join("omega-lsp.log");
    std::fs::write(&path, "an earlier line\n").unwrap();
    let options = Options {
        env: env(&[("OMEGA_LOG", "debug")]),
        args: vec!["--log".into(), path.display().to_string()],
        ..Options::default()
    };
    let mut c = LspClient::start(options);
    let uri = "file:///work/file-log.omega";
    c.open(uri, "(define x 1)\n");
    c.diagnostics(uri, 1);
    hover(&mut c, uri);
    let (_, _, stderr) = c.shutdown_and_exit_keeping(|c| c.stderr_text());
    assert_eq!(stderr, "", "nothing on stderr");
    let text = std::fs::read_to_string(&path).unwrap();
    let appended = text.strip_prefix("an earlier line\n").expect("the file is appended to, not replaced");
    let log = lines(appended);
    assert!(timed(&log, "DEBUG", "textDocument/hover").is_some(), "{log:#?}");
    assert!(timed(&log, "DEBUG", "textDocument/didOpen").is_some(), "{log:#?}");
}

/// The key the loopback server requires; it must appear nowhere in the log.
const KEY: &str = "sk-test-SECRET-9f3a1c";

#[test]
fn a_run_is_logged_with_its_state_and_calls_and_the_key_never_appears() {
    let dir = TempDir::new("lsp-log-key");
    let llm = LlmServer::start();
    llm.require_key(KEY);
    llm.on("capital", Reply::answer("Paris"));
    let path = dir.join("omega-lsp.log");
    let settings = json!({
        "eval": {"trusted": true, "onSave": true},
        "llm": loopback_llm(&llm, &dir.join("cache")),
    });
    let mut c = LspClient::start(Options {
        initialization_options: settings,
        env: env(&[("OMEGA_LOG", "debug"), ("OPENAI_API_KEY", KEY)]),
        args: vec![format!("--log={}", path.display())],
        cwd: Some(dir.path().to_path_buf()),
        ..Options::default()
    });
    let file = dir.join("capital.omega");
    let text = "(effect infer.op \"What is the capital of France?\")\n";
    std::fs::write(&file, text).unwrap();
    let uri = file_uri(&file);
    c.open(&uri, text);
    c.diagnostics(&uri, 1);
    c.save(&uri);
    let status = c.eval_status(&uri, "done");
    assert_eq!(status["llmCalls"], 1, "the call reached the server with the key");
    assert_eq!(llm.requests(), 1);
    let (_, _, output) = c.shutdown_and_exit_keeping(|c| c.output_text());
    let log = std::fs::read_to_string(&path).unwrap();
    let parsed = lines(&log);
    assert!(
        parsed.iter().any(|(l, m)| l == "INFO" && m.starts_with(&format!("run 1 of {uri}: the file"))),
        "{parsed:#?}"
    );
    let ended = parsed
        .iter()
        .find(|(l, m)| l == "INFO" && m.starts_with(&format!("run 1 of {uri} done after ")))
        .unwrap_or_else(|| panic!("no end-of-run line: {parsed:#?}"));
    assert!(ended.1.ends_with(": 1 LLM calls"), "{ended:?}");
    assert!(timed(&parsed, "DEBUG", "textDocument/didSave").is_some(), "{parsed:#?}");
    for (name, text) in [("log", &log), ("protocol and stderr", &output)] {
        assert!(!text.contains(KEY) && !text.contains("SECRET"), "the API key appears in the server's {name}");
    }
}

#[test]
fn help_explains_the_log_and_bad_arguments_exit_with_2() {
    let run = |args: &[&str]| std::process::Command::new(omega_lsp_bin()).args(args).output().expect("run omega-lsp");
    let help = run(&["--help"]);
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for needle in ["--log FILE", "--version", "OMEGA_LOG", "error, warn (default), info or debug"] {
        assert!(text.contains(needle), "--help does not mention {needle}:\n{text}");
    }
    let version = run(&["--version"]);
    assert_eq!(String::from_utf8_lossy(&version.stdout), format!("omega-lsp {}\n", env!("CARGO_PKG_VERSION")));
    let unknown = run(&["--verbose"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown argument `--verbose`; see omega-lsp --help"));
    let dir = TempDir::new("lsp-log-bad");
    let unwritable = dir.join("no-such-dir").join("x.log");
    let bad = run(&["--log", &unwritable.display().to_string()]);
    assert_eq!(bad.status.code(), Some(2));
    let message = String::from_utf8_lossy(&bad.stderr);
    assert!(message.contains("cannot open the log file") && message.contains("no-such-dir"), "{message}");
}

#[test]
fn an_internal_error_is_logged_by_name_without_its_message() {
    let options = Options {
        env: env(&[("OMEGA_LSP_PANIC_IN", "textDocument/hover"), ("OMEGA_LOG", "error")]),
        ..Options::default()
    };
    let mut c = LspClient::start(options);
    let uri = "file:///work/panic.omega";
    c.open(uri, "(define x 1)\n");
    c.diagnostics(uri, 1);
    let err = c.request_raw("textDocument/hover", json!({"textDocument": {"uri": uri}, "position": position(0, 9)}));
    assert!(err.is_err());
    let (_, _, log) = c.shutdown_and_exit_keeping(|c| c.stderr_text());
    let log = lines(&log);
    assert!(log.iter().all(|(l, m)| l == "ERROR" && !m.contains("injected fault")), "no panic message: {log:#?}");
    assert!(log.iter().any(|(_, m)| m.starts_with("panic at lsp/src/server.rs:")), "where: {log:#?}");
    let named = "internal error: textDocument/hover failed (the message is in the client's log)";
    assert!(log.iter().any(|(_, m)| m == named), "{log:#?}");
}
