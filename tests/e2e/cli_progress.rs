//! What the command line shows while a run waits on LLM calls: the live status line on a
//! terminal (a real pseudo-terminal), nothing extra in a pipe, `--stats`, and Ctrl-C in the REPL.

use std::process::Command;
use std::time::Duration;

use omega_tests::cli::{omega_bin, omega_in};
use omega_tests::llm_server::{LlmServer, Reply};
use omega_tests::TempDir;
use rexpect::session::{spawn_command, PtySession};
use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(120);

/// Three calls one after the other, then output.
const THREE_CALLS: &str = "(define a (effect infer.op \"first question\"))
(define b (effect infer.op \"second question\"))
(define c (effect infer.op \"third question\"))
(display (list a b c))
";

fn project(server: &LlmServer, program: &str) -> TempDir {
    let dir = TempDir::new("cli-progress");
    let toml = format!("[llm]\nadapter = \"openai\"\nbase_url = \"{}\"\nmodel = \"m\"\n", server.openai_url());
    std::fs::write(dir.join("omega.toml"), toml).unwrap();
    std::fs::write(dir.join("p.omega"), program).unwrap();
    dir
}

/// `text` as the pseudo-terminal reader hands it back: one `char` per byte.
fn raw(text: &str) -> String {
    text.bytes().map(char::from).collect()
}

/// `omega ARGS…` on a pseudo-terminal in `dir`, with an environment that selects nothing.
fn on_terminal(dir: &TempDir, args: &[&str]) -> PtySession {
    let mut cmd = Command::new(omega_bin());
    cmd.args(args)
        .current_dir(dir.path())
        .env_remove("CI")
        .env_remove("NO_COLOR")
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("OMEGA_ADAPTER")
        .env("OMEGA_CACHE_DIR", dir.join(".omega-cache"))
        .env("TERM", "xterm");
    spawn_command(cmd, Some(LIMIT.as_millis() as u64)).expect("omega on a pseudo-terminal")
}

#[test]
fn a_terminal_sees_the_calls_counted_live_and_the_line_cleared() {
    let server = LlmServer::start();
    server.set_default(Reply::echo().after(Duration::from_millis(500)));
    let dir = project(&server, THREE_CALLS);
    let mut pty = on_terminal(&dir, &["run", "p.omega"]);
    pty.exp_string(&raw("LLM 0 done · 1 in flight · 0 cached")).expect("the line while the first call waits");
    pty.exp_string("infer.op \"first question\"").expect("the oldest prompt on the line");
    pty.exp_string(&raw("LLM 1 done · 1 in flight")).expect("counted up after the first answer");
    pty.exp_string(&raw("LLM 2 done · 1 in flight")).expect("counted up after the second answer");
    pty.exp_string("infer.op \"third question").expect("the third prompt while it waits");
    let rest = pty.exp_eof().expect("the run ends");
    // indicatif clears its line (carriage return, erase line) before the program's output.
    let out = rest.rfind("(echo: first question").expect("the program's output");
    assert!(rest[..out].contains("\x1b[2K"), "the status line is erased before the output: {rest:?}");
    assert!(!rest[out..].contains("in flight"), "nothing is drawn after the run: {rest:?}");
}

#[test]
fn a_pipe_gets_the_program_output_and_nothing_else() {
    let server = LlmServer::start();
    server.set_default(Reply::echo().after(Duration::from_millis(200)));
    let dir = project(&server, THREE_CALLS);
    let ran = omega_in(dir.path(), &["run", "p.omega"], "", LIMIT);
    ran.expect_code(0);
    assert_eq!(ran.stdout, "(echo: first question echo: second question echo: third question)");
    assert_eq!(ran.stderr, "", "no status line and no summary unless asked");
}

#[test]
fn stats_json_counts_calls_cache_hits_and_tokens() {
    let server = LlmServer::start();
    let dir = project(&server, THREE_CALLS);
    let stats = |ran: &omega_tests::cli::Ran| -> Value {
        ran.expect_code(0);
        serde_json::from_str(ran.stderr.trim()).unwrap_or_else(|e| panic!("{e}: {:?}", ran.stderr))
    };
    let first = stats(&omega_in(dir.path(), &["run", "--stats=json", "p.omega"], "", LIMIT));
    assert_eq!(first["llm"]["calls"], 3);
    assert_eq!(first["llm"]["byOp"]["infer.op"], 3);
    assert_eq!(first["llm"]["cached"], 0);
    assert_eq!(first["llm"]["failed"], 0);
    assert_eq!(first["llm"]["retries"], 0);
    assert!(first["llm"]["tokensIn"].as_u64().unwrap() > 0, "the test server reports usage: {first}");
    assert!(first["peakMemoryBytes"].as_u64().unwrap() > 1 << 20);
    assert!(first["wallMs"].as_u64().is_some());

    // The same prompts again: every answer from the cache, no request to the server.
    let second = stats(&omega_in(dir.path(), &["run", "--stats=json", "p.omega"], "", LIMIT));
    assert_eq!(server.requests(), 3);
    assert_eq!(second["llm"]["calls"], 3);
    assert_eq!(second["llm"]["cached"], 3);

    let human = omega_in(dir.path(), &["eval", "--stats", "(effect infer.op \"first question\")"], "", LIMIT);
    human.expect_code(0);
    assert!(
        human.stderr.starts_with("omega: LLM calls: 1 (infer.op 1), 1 cached, 0 failed, 0 cancelled, 0 retries\n"),
        "{:?}",
        human.stderr
    );
}

#[test]
fn retries_are_counted() {
    let server = LlmServer::start();
    server.on("flaky", Reply::status(500).times(1));
    let dir = project(&server, "(effect infer.op \"flaky\")\n");
    let ran = omega_in(dir.path(), &["run", "--stats=json", "p.omega"], "", LIMIT);
    ran.expect_code(0);
    let stats: Value = serde_json::from_str(ran.stderr.trim()).unwrap();
    assert_eq!(stats["llm"]["retries"], 1, "{stats}");
}

#[test]
fn ctrl_c_in_the_repl_cancels_the_input_and_keeps_the_session() {
    let server = LlmServer::start();
    server.on("slow", Reply::echo().after(Duration::from_secs(60)));
    let dir = project(&server, "");
    let mut pty = on_terminal(&dir, &["repl"]);
    pty.exp_string(&raw("Ω> ")).unwrap();
    pty.send_line("(define x 42)").unwrap();
    pty.exp_string(&raw("Ω> ")).unwrap();
    pty.send_line("(effect infer.op \"slow question\")").unwrap();
    assert!(server.wait_until(Duration::from_secs(30), |s| s.in_flight() == 1), "the call reaches the server");
    pty.exp_string("1 in flight").expect("the status line while the form waits");
    pty.send_control('c').unwrap();
    pty.exp_string("error: evaluation cancelled").expect("the input is cancelled");
    pty.exp_string(&raw("Ω> ")).expect("the prompt comes back");
    assert!(server.wait_until(Duration::from_secs(30), |s| s.in_flight() == 0), "the request is dropped");
    assert_eq!(server.disconnects(), 1);
    pty.send_line("(+ x 1)").unwrap();
    pty.exp_string("=> 43").expect("earlier definitions survive");
}
