//! Keys only go where the user sent them: a project's `omega.toml` cannot send the key from the
//! user's environment to a host of its choosing, and an answer that echoes the key is redacted
//! before it is printed or cached. Over real HTTP: the loopback test server also serves as the
//! HTTP proxy, so a request to a non-loopback `base_url` would be seen (and counted) there.

use std::time::Duration;

use omega_tests::cli::{omega_in_env, Ran};
use omega_tests::llm_server::{LlmServer, Reply};
use omega_tests::{files_under, TempDir};

const LIMIT: Duration = Duration::from_secs(120);
const KEY: &str = "sk-user-5c1d9e7a3b8f2046";
const ASK: &str = "(display (effect infer.op \"capital of France\"))\n";

fn project(base_url: &str) -> TempDir {
    let dir = TempDir::new("keys");
    let toml =
        format!("[llm]\nadapter = \"openai\"\nbase_url = \"{base_url}\"\nmodel = \"m\"\nrequest_timeout_secs = 20\n");
    std::fs::write(dir.join("omega.toml"), toml).unwrap();
    std::fs::write(dir.join("ask.omega"), ASK).unwrap();
    dir
}

/// `omega run ask.omega` with the key in the environment and every HTTP request proxied
/// through `server`.
fn run(dir: &TempDir, server: &LlmServer, extra: &[(&str, &str)]) -> Ran {
    let proxy = format!("http://{}", server.addr());
    let mut env = vec![
        ("OPENAI_API_KEY", KEY),
        ("HTTP_PROXY", proxy.as_str()),
        ("http_proxy", proxy.as_str()),
        ("NO_PROXY", ""),
        ("no_proxy", ""),
    ];
    env.extend_from_slice(extra);
    omega_in_env(dir.path(), &["run", "ask.omega"], "", LIMIT, &env)
}

fn trust(dir: &TempDir, origins: &str) {
    let user = dir.join(".config").join("omega");
    std::fs::create_dir_all(&user).unwrap();
    std::fs::write(user.join("config.toml"), format!("[llm]\ntrusted_base_urls = [{origins}]\n")).unwrap();
}

#[test]
fn a_project_base_url_the_user_never_named_gets_no_request() {
    let server = LlmServer::start();
    let dir = project("http://example.invalid/v1");
    let refused = run(&dir, &server, &[]);
    refused.expect_code(1);
    assert_eq!(refused.stdout, "");
    assert!(
        refused.stderr.starts_with("ask.omega:1:10: error: infer.op: ")
            && refused.stderr.contains("llm.base_url points at http://example.invalid/v1")
            && refused.stderr.contains("the key in OPENAI_API_KEY is not sent there")
            && refused.stderr.contains("add `trusted_base_urls = [\"http://example.invalid/v1\"]` under [llm] in ")
            && refused.stderr.contains("or set OPENAI_BASE_URL to it"),
        "{}",
        refused.stderr
    );
    assert!(!refused.stderr.contains(KEY));
    assert_eq!(server.requests(), 0, "nothing is sent, with or without the key");

    trust(&dir, "\"http://example.invalid:8080\"");
    run(&dir, &server, &[]).expect_code(1);
    assert_eq!(server.requests(), 0, "another port is another origin");
}

#[test]
fn the_users_own_configuration_lets_the_key_go_to_the_origin_it_names() {
    let server = LlmServer::start();
    let dir = project("http://example.invalid/v1");
    trust(&dir, "\"http://EXAMPLE.invalid\"");
    let allowed = run(&dir, &server, &[]);
    allowed.expect_code(0);
    assert_eq!(allowed.stdout, "echo: capital of France");
    let seen = server.received();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].header("authorization"), Some(format!("Bearer {KEY}").as_str()));
    assert_eq!(seen[0].header("host"), Some("example.invalid"), "sent to the named origin, via the proxy");

    let dir = project("http://example.invalid/v1");
    let by_env = run(&dir, &server, &[("OPENAI_BASE_URL", "http://example.invalid/elsewhere")]);
    by_env.expect_code(0);
    assert_eq!(server.requests(), 2, "OPENAI_BASE_URL names the same origin");
}

#[test]
fn a_loopback_base_url_gets_the_key() {
    let server = LlmServer::start();
    let dir = project(&server.openai_url());
    let ran = run(&dir, &server, &[]);
    ran.expect_code(0);
    assert_eq!(server.received()[0].header("authorization"), Some(format!("Bearer {KEY}").as_str()));
}

#[test]
fn an_answer_that_contains_the_key_is_redacted_before_it_is_printed_or_cached() {
    let server = LlmServer::start();
    server.set_default(Reply::answer(format!("your key is {KEY}, thanks")));
    let dir = project(&server.openai_url());
    let ran = run(&dir, &server, &[]);
    ran.expect_code(0);
    assert_eq!(ran.stdout, "your key is <redacted>, thanks");
    let cached = files_under(&dir.join(".omega-cache"));
    assert!(!cached.is_empty(), "the answer was cached");
    for file in cached {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        assert!(!text.contains(KEY), "{} holds the key", file.display());
    }
    let again = run(&dir, &server, &[]);
    assert_eq!((again.stdout.as_str(), server.requests()), ("your key is <redacted>, thanks", 1), "from the cache");
}
