//! The Anthropic adapter against the test server (keys, retries, the request body) and the
//! answer cache through the real service: what its key covers, and two processes sharing it.

use std::time::Duration;

use omega_llm::config::{AdapterKind, ApiKey, LlmConfig};
use omega_llm::{LlmErrorKind, LlmRequest, LlmService};
use omega_tests::cli::omega_in;
use omega_tests::llm_server::{Api, LlmServer, Reply};
use omega_tests::{files_under, TempDir};

const KEY: &str = "sk-ant-test-key-1234";

/// The Anthropic adapter pointed at `server`, with a fast backoff.
fn anthropic(server: &LlmServer, cache: &TempDir) -> LlmConfig {
    let mut cfg = LlmConfig::new(AdapterKind::Anthropic);
    cfg.base_url = Some(server.anthropic_url());
    cfg.set_api_key(Some(ApiKey::new(KEY)));
    cfg.model = "test-model".into();
    cfg.cache_dir = cache.path().to_path_buf();
    cfg.retry_base_ms = 5;
    cfg.request_timeout_secs = 10.0;
    cfg
}

fn ask(cfg: &LlmConfig, prompt: &str) -> Result<String, omega_llm::LlmError> {
    let service = LlmService::new(cfg).expect("valid configuration");
    let answer = service.session().call(LlmRequest::infer(prompt));
    answer.map(|a| a.text)
}

#[test]
fn anthropic_401_names_the_key_variable_and_hides_the_key() {
    let server = LlmServer::start();
    server.require_key("sk-ant-the-right-one");
    let cache = TempDir::new("anthropic-401");
    let err = ask(&anthropic(&server, &cache), "x").unwrap_err();
    assert_eq!(err.kind, LlmErrorKind::Http { status: 401 });
    assert_eq!(
        err.message,
        format!(
            "infer.op: HTTP 401 from anthropic ({}): unauthorized; check the API key in ANTHROPIC_API_KEY; server said: Incorrect API key provided: <redacted>",
            server.anthropic_url()
        )
    );
    assert_eq!(server.requests(), 1, "a rejected key is not retried");
}

/// Anthropic's own service needs a key (a server of one's own may not): the error comes
/// before any request and says what to set.
#[test]
fn anthropic_without_a_key_says_which_variable_to_set() {
    let cache = TempDir::new("anthropic-nokey");
    let mut cfg = LlmConfig::new(AdapterKind::Anthropic);
    cfg.cache_dir = cache.path().to_path_buf();
    assert_eq!(cfg.base_url.as_deref(), Some("https://api.anthropic.com"));
    let err = ask(&cfg, "x").unwrap_err();
    assert_eq!(err.kind, LlmErrorKind::NotConfigured);
    assert_eq!(
        err.message,
        "infer.op: the anthropic adapter needs an API key: set ANTHROPIC_API_KEY (or ANTHROPIC_BASE_URL for another server)"
    );
}

#[test]
fn anthropic_retries_rate_limits_and_server_errors() {
    let server = LlmServer::start();
    server.on("busy", Reply::status(429).retry_after("0").times(2));
    server.on("flaky", Reply::status(529).times(1));
    server.on("down", Reply::status(500));
    let cache = TempDir::new("anthropic-retry");
    let cfg = anthropic(&server, &cache);

    assert_eq!(ask(&cfg, "busy").unwrap(), "echo: busy");
    assert_eq!(server.requests(), 3, "two rate limits, then the answer");
    assert_eq!(ask(&cfg, "flaky").unwrap(), "echo: flaky");
    assert_eq!(server.requests(), 5, "one overload, then the answer");

    let err = ask(&cfg, "down").unwrap_err();
    assert_eq!(err.kind, LlmErrorKind::Http { status: 500 });
    assert_eq!(
        err.message,
        format!(
            "infer.op: HTTP 500 from anthropic ({}): server error; server said: injected status 500; gave up after 3 retries",
            server.anthropic_url()
        )
    );
    assert_eq!(server.requests(), 9, "one attempt and three retries");
}

#[test]
fn anthropic_sends_system_temperature_and_max_tokens() {
    let server = LlmServer::start();
    let cache = TempDir::new("anthropic-body");
    let mut cfg = anthropic(&server, &cache);
    cfg.system = Some("Answer in one word.".into());
    cfg.temperature = Some(0.25);
    cfg.max_tokens = Some(77);
    assert_eq!(ask(&cfg, "capital of France").unwrap(), "echo: capital of France");

    let seen = &server.received()[0];
    assert_eq!((seen.api, seen.path.as_str()), (Some(Api::Anthropic), "/v1/messages"));
    assert_eq!(seen.body["model"], "test-model");
    assert_eq!(seen.body["system"], "Answer in one word.", "Anthropic takes the system prompt at the top level");
    assert_eq!(seen.body["temperature"], 0.25);
    assert_eq!(seen.body["max_tokens"], 77);
    let messages = seen.body["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 1, "no system message among the messages: {messages:?}");
    assert_eq!(messages[0]["role"], "user");
    assert_eq!(seen.prompt, "capital of France");
}

/// Each change to what is asked is a new request; asking the same again is a cache hit.
#[test]
fn the_cache_key_covers_model_system_and_max_tokens() {
    let server = LlmServer::start();
    let cache = TempDir::new("cache-key");
    let base = anthropic(&server, &cache);
    let with = |change: fn(&mut LlmConfig)| {
        let mut cfg = base.clone();
        change(&mut cfg);
        cfg
    };
    let variants: Vec<(&str, LlmConfig)> = vec![
        ("as configured", base.clone()),
        ("another model", with(|c| c.model = "other-model".into())),
        ("a system prompt", with(|c| c.system = Some("Be brief.".into()))),
        ("another max_tokens", with(|c| c.max_tokens = Some(12))),
    ];
    for (i, (what, cfg)) in variants.iter().enumerate() {
        ask(cfg, "same prompt").unwrap();
        assert_eq!(server.requests(), i + 1, "{what}: a new request");
    }
    for (what, cfg) in &variants {
        ask(cfg, "same prompt").unwrap();
        assert_eq!(server.requests(), variants.len(), "{what}: answered from the cache the second time");
    }
    let models: Vec<String> =
        server.received().iter().map(|r| r.body["model"].as_str().unwrap_or("").to_string()).collect();
    assert_eq!(models, ["test-model", "other-model", "test-model", "test-model"]);
    assert_eq!(server.received()[3].body["max_tokens"], 12);
}

/// Two `omega run` processes fill one cache directory at the same time; a third run then
/// answers every prompt from it with `--offline`.
#[test]
fn two_processes_share_one_cache_directory() {
    let server = LlmServer::start();
    server.set_default(Reply::echo().after(Duration::from_millis(20)));
    let dir = TempDir::new("cache-two-processes");
    std::fs::write(
        dir.join("omega.toml"),
        format!("[llm]\nadapter = \"openai\"\nbase_url = \"{}\"\nmodel = \"m\"\n", server.openai_url()),
    )
    .unwrap();
    // Both runs ask the same 30 prompts, in opposite orders, 8 at a time.
    let program = |order: &str| {
        format!(
            "(define answers (parallel-map (lambda (i) (effect infer.op (string-append \"q\" (number->string i)))) {order}))\n(display (length answers))\n"
        )
    };
    std::fs::write(dir.join("up.omega"), program("(iota 30)")).unwrap();
    std::fs::write(dir.join("down.omega"), program("(reverse (iota 30))")).unwrap();
    std::fs::write(
        dir.join("all.omega"),
        program("(iota 30)").replace("(display (length answers))", "(write answers)"),
    )
    .unwrap();

    let limit = Duration::from_secs(120);
    let (up, down) = std::thread::scope(|s| {
        let up = s.spawn(|| omega_in(dir.path(), &["run", "up.omega"], "", limit));
        let down = s.spawn(|| omega_in(dir.path(), &["run", "down.omega"], "", limit));
        (up.join().unwrap(), down.join().unwrap())
    });
    for ran in [&up, &down] {
        ran.expect_code(0);
        assert_eq!(ran.stdout, "30", "{ran:#?}");
    }
    let sent = server.requests();
    assert!((30..=60).contains(&sent), "{sent} requests for 30 prompts asked twice");

    let entries: Vec<_> = files_under(&dir.join(".omega-cache"))
        .into_iter()
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    assert_eq!(entries.len(), 30, "one entry a prompt: {entries:?}");
    let leftovers: Vec<_> =
        files_under(&dir.join(".omega-cache")).into_iter().filter(|p| p.to_string_lossy().ends_with(".tmp")).collect();
    assert!(leftovers.is_empty(), "temporary files left behind: {leftovers:?}");

    let offline = omega_in(dir.path(), &["run", "--offline", "all.omega"], "", limit);
    offline.expect_code(0);
    let expected = format!("({})", (0..30).map(|i| format!("\"echo: q{i}\"")).collect::<Vec<_>>().join(" "));
    assert_eq!(offline.stdout, expected);
    assert_eq!(server.requests(), sent, "--offline sends nothing");
}
