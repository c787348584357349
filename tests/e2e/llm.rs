//! The LLM layer over real HTTP: `omega_llm` against the loopback test server
//! (`omega_tests::llm_server`), and, when installed, against a real tiny model.

use std::time::{Duration, Instant};

use omega_llm::config::{AdapterKind, ApiKey, LlmConfig, LlmOverrides};
use omega_llm::{LlmErrorKind, LlmRequest, LlmService, LlmSession};
use omega_tests::llm_server::{Api, LlmServer, Reply};
use omega_tests::{files_under, repo_root, TempDir};

const KEY: &str = "sk-test-7f3a9c1e5b2d4f60";

/// A configuration pointing `adapter` at `server`, with a private cache dir and fast retries.
fn config(server: &LlmServer, adapter: AdapterKind, cache: &TempDir) -> LlmConfig {
    let mut cfg = LlmConfig::new(adapter);
    cfg.base_url = Some(match adapter {
        AdapterKind::Anthropic => server.anthropic_url(),
        _ => server.openai_url(),
    });
    cfg.set_api_key(Some(ApiKey::new(KEY)));
    cfg.model = "test-model".into();
    cfg.cache_dir = cache.path().to_path_buf();
    cfg.retry_base_ms = 5;
    cfg.request_timeout_secs = 10.0;
    cfg
}

fn session(cfg: &LlmConfig) -> LlmSession {
    LlmService::new(cfg).expect("valid configuration").session()
}

#[test]
fn openai_answers_with_metadata() {
    let server = LlmServer::start();
    let cache = TempDir::new("llm-cache");
    let mut cfg = config(&server, AdapterKind::OpenAi, &cache);
    cfg.system = Some("Be brief.".into());
    cfg.temperature = Some(0.0);
    cfg.max_tokens = Some(32);

    let answer = session(&cfg).call(LlmRequest::infer("What is the capital of France?")).unwrap();
    assert_eq!(answer.text, "echo: What is the capital of France?");
    let meta = &answer.meta;
    assert_eq!((meta.adapter.as_str(), meta.model.as_str()), ("openai", "test-model"));
    assert_eq!(meta.base_url.as_deref(), Some(server.openai_url().as_str()));
    assert_eq!((meta.tokens_in, meta.tokens_out), (Some(6), Some(7)));
    assert!(!meta.cached && !meta.scripted);
    assert!(meta.latency > Duration::ZERO && meta.latency < Duration::from_secs(5), "{:?}", meta.latency);
    assert_eq!(meta.trace(), "openai:test-model");

    let seen = &server.received()[0];
    assert_eq!((seen.api, seen.path.as_str()), (Some(Api::OpenAi), "/v1/chat/completions"));
    assert_eq!(seen.header("authorization"), Some(format!("Bearer {KEY}").as_str()), "the key is sent");
    assert_eq!(
        seen.body,
        serde_json::json!({"model": "test-model", "temperature": 0.0, "max_tokens": 32, "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "What is the capital of France?"}]})
    );
}

#[test]
fn anthropic_answers_with_metadata() {
    let server = LlmServer::start();
    server.on("France", Reply::answer("  Paris\n"));
    let cache = TempDir::new("llm-cache");
    let cfg = config(&server, AdapterKind::Anthropic, &cache);

    let answer = session(&cfg).call(LlmRequest::new("int.op", "capital of France")).unwrap();
    assert_eq!(answer.text, "Paris", "trimmed");
    assert_eq!(answer.meta.adapter, "anthropic");
    assert_eq!((answer.meta.tokens_in, answer.meta.tokens_out), (Some(3), Some(1)));

    let seen = &server.received()[0];
    assert_eq!((seen.api, seen.path.as_str()), (Some(Api::Anthropic), "/v1/messages"));
    assert_eq!(seen.header("x-api-key"), Some(KEY));
    assert_eq!(seen.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(seen.body["max_tokens"], 1024);
}

#[test]
fn a_cache_hit_sends_no_second_request() {
    let server = LlmServer::start();
    let cache = TempDir::new("llm-cache");
    let cfg = config(&server, AdapterKind::OpenAi, &cache);

    let first = session(&cfg).call(LlmRequest::infer("hello")).unwrap();
    assert!(!first.meta.cached);
    // A new service (as in a new run of the program) finds the answer on disk.
    let second = session(&cfg).call(LlmRequest::infer("hello")).unwrap();
    assert_eq!(server.requests(), 1, "the server saw no second request");
    assert_eq!(second.text, first.text);
    assert!(second.meta.cached);
    assert_eq!(second.meta.trace(), "openai:test-model (cached)");
    assert_eq!(second.meta.tokens_in, first.meta.tokens_in);

    // Another sample index, prompt or parameter is another answer.
    let mut s = session(&cfg);
    assert!(!s.call(LlmRequest::new("search.op", "hello").with_sample(1)).unwrap().meta.cached);
    let mut warmer = cfg.clone();
    warmer.temperature = Some(0.7);
    assert!(!session(&warmer).call(LlmRequest::infer("hello")).unwrap().meta.cached);
    assert_eq!(server.requests(), 3);

    // --no-cache neither reads nor writes.
    let mut fresh = cfg.clone();
    fresh.no_cache = true;
    assert!(!session(&fresh).call(LlmRequest::infer("hello")).unwrap().meta.cached);
    assert_eq!(server.requests(), 4);

    // Clearing the cache makes the next call go out again.
    LlmService::new(&cfg).unwrap().clear_cache().unwrap();
    assert!(!session(&cfg).call(LlmRequest::infer("hello")).unwrap().meta.cached);
    assert_eq!(server.requests(), 5);
}

#[test]
fn offline_answers_from_the_cache_only() {
    let server = LlmServer::start();
    let cache = TempDir::new("llm-cache");
    let cfg = config(&server, AdapterKind::OpenAi, &cache);
    session(&cfg).call(LlmRequest::infer("known")).unwrap();

    let mut offline = cfg.clone();
    offline.offline = true;
    let mut s = session(&offline);
    assert!(s.call(LlmRequest::infer("known")).unwrap().meta.cached);
    let err = s.call(LlmRequest::infer("unknown")).unwrap_err();
    assert_eq!(err.kind, LlmErrorKind::Offline);
    assert!(err.message.starts_with("infer.op: offline, and no cached answer"), "{}", err.message);
    assert_eq!(server.requests(), 1);
}

#[test]
fn server_errors_are_retried_then_reported() {
    let server = LlmServer::start();
    server.set_default(Reply::status(500));
    let cache = TempDir::new("llm-cache");
    let cfg = config(&server, AdapterKind::OpenAi, &cache);

    let err = session(&cfg).call(LlmRequest::infer("anything")).unwrap_err();
    assert_eq!(err.kind, LlmErrorKind::Http { status: 500 });
    assert_eq!(
        err.message,
        format!(
            "infer.op: HTTP 500 from openai ({}): server error; server said: injected status 500; gave up after 3 retries",
            server.openai_url()
        )
    );
    assert_eq!(server.requests(), 4, "one attempt and three retries");
}

#[test]
fn a_transient_server_error_is_retried_to_success() {
    let server = LlmServer::start();
    server.on("flaky", Reply::status(503).times(2));
    let cache = TempDir::new("llm-cache");
    let cfg = config(&server, AdapterKind::OpenAi, &cache);

    let answer = session(&cfg).call(LlmRequest::infer("flaky")).unwrap();
    assert_eq!(answer.text, "echo: flaky");
    assert_eq!(server.requests(), 3);
}

#[test]
fn rate_limits_honour_retry_after() {
    let server = LlmServer::start();
    server.on("busy", Reply::status(429).retry_after("1").times(1));
    let cache = TempDir::new("llm-cache");
    let cfg = config(&server, AdapterKind::OpenAi, &cache); // own backoff: 5 ms

    let started = Instant::now();
    let answer = session(&cfg).call(LlmRequest::infer("busy")).unwrap();
    let waited = started.elapsed();
    assert_eq!(answer.text, "echo: busy");
    assert_eq!(server.requests(), 2);
    assert!(waited >= Duration::from_millis(950), "Retry-After: 1 was not honoured: {waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
}

#[test]
fn a_persistent_rate_limit_gives_up_with_a_clear_message() {
    let server = LlmServer::start();
    server.set_default(Reply::status_with_body(429, "").retry_after("0"));
    let cache = TempDir::new("llm-cache");
    let cfg = config(&server, AdapterKind::OpenAi, &cache);

    let err = session(&cfg).call(LlmRequest::infer("x")).unwrap_err();
    assert_eq!(
        err.message,
        format!("infer.op: HTTP 429 from openai ({}): rate limited; gave up after 3 retries", server.openai_url())
    );
    assert_eq!(err.kind, LlmErrorKind::Http { status: 429 });
}

#[test]
fn a_retry_after_beyond_a_minute_is_not_waited_for() {
    let server = LlmServer::start();
    server.set_default(Reply::status(503).retry_after("3600"));
    let cache = TempDir::new("llm-cache");
    let cfg = config(&server, AdapterKind::OpenAi, &cache);

    let started = Instant::now();
    let err = session(&cfg).call(LlmRequest::infer("x")).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(err.message.ends_with("; server asks to retry after 3600s"), "{}", err.message);
    assert_eq!(server.requests(), 1);
}

#[test]
fn a_timeout_names_the_provider_and_hangs_up() {
    let server = LlmServer::start();
    server.set_default(Reply::hang());
    let cache = TempDir::new("llm-cache");
    let mut cfg = config(&server, AdapterKind::OpenAi, &cache);
    cfg.request_timeout_secs = 0.3;

    let started = Instant::now();
    let err = session(&cfg).call(LlmRequest::infer("x")).unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(err.kind, LlmErrorKind::Timeout);
    assert_eq!(err.message, format!("infer.op: timed out after 0.3s waiting for openai ({})", server.openai_url()));
    assert!(elapsed >= Duration::from_millis(290) && elapsed < Duration::from_secs(3), "{elapsed:?}");
    assert_eq!(server.requests(), 1, "timeouts are not retried");
    assert!(server.wait_until(Duration::from_secs(2), |s| s.disconnects() == 1), "the client closed the connection");
}

#[test]
fn malformed_and_empty_responses_are_errors() {
    let server = LlmServer::start();
    server.on("garbled", Reply::malformed());
    server.on("silent", Reply::empty());
    let cache = TempDir::new("llm-cache");
    let mut s = session(&config(&server, AdapterKind::OpenAi, &cache));
    let url = server.openai_url();

    let err = s.call(LlmRequest::infer("garbled")).unwrap_err();
    assert_eq!(err.kind, LlmErrorKind::Malformed);
    assert!(
        err.message.starts_with(&format!("infer.op: malformed response from openai ({url}): not JSON")),
        "{}",
        err.message
    );

    let err = s.call(LlmRequest::infer("silent")).unwrap_err();
    assert_eq!(err.kind, LlmErrorKind::Empty);
    assert_eq!(err.message, format!("infer.op: empty answer from openai ({url})"));

    let mut anthropic = session(&config(&server, AdapterKind::Anthropic, &cache));
    let err = anthropic.call(LlmRequest::infer("garbled")).unwrap_err();
    assert_eq!(err.kind, LlmErrorKind::Malformed);
    assert!(err.message.contains(&format!("from anthropic ({})", server.anthropic_url())), "{}", err.message);
    assert_eq!(server.requests(), 3, "neither is retried");
}

#[test]
fn a_dropped_connection_is_an_error() {
    let server = LlmServer::start();
    server.set_default(Reply::close());
    let cache = TempDir::new("llm-cache");
    let err = session(&config(&server, AdapterKind::OpenAi, &cache)).call(LlmRequest::infer("x")).unwrap_err();
    assert_eq!(err.kind, LlmErrorKind::Connect, "{}", err.message);
    assert!(
        err.message.starts_with(&format!("infer.op: connection to openai ({}) failed: ", server.openai_url())),
        "{}",
        err.message
    );
}

#[test]
fn a_refused_connection_names_the_url() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let cache = TempDir::new("llm-cache");
    let mut cfg = LlmConfig::new(AdapterKind::OpenAi);
    cfg.base_url = Some(format!("http://127.0.0.1:{port}/v1"));
    cfg.cache_dir = cache.path().to_path_buf();

    let started = Instant::now();
    let err = session(&cfg).call(LlmRequest::infer("x")).unwrap_err();
    assert_eq!(err.kind, LlmErrorKind::Refused);
    assert_eq!(
        err.message,
        format!("infer.op: connection refused by openai (http://127.0.0.1:{port}/v1); is the server running?")
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn the_api_key_is_never_shown() {
    let server = LlmServer::start();
    server.require_key("sk-the-right-one-000");
    let cache = TempDir::new("llm-cache");
    let cfg = config(&server, AdapterKind::OpenAi, &cache);
    let service = LlmService::new(&cfg).unwrap();
    let mut s = service.session();

    // The server rejects the key and quotes it back, as real providers do.
    let err = s.call(LlmRequest::infer("x")).unwrap_err();
    assert_eq!(err.kind, LlmErrorKind::Http { status: 401 });
    assert_eq!(
        err.message,
        format!(
            "infer.op: HTTP 401 from openai ({}): unauthorized; check the API key in OPENAI_API_KEY; server said: Incorrect API key provided: <redacted>",
            server.openai_url()
        )
    );
    assert_eq!(server.received()[0].header("authorization"), Some(format!("Bearer {KEY}").as_str()));

    // A successful, cached exchange, then everything that could show the key.
    server.require_key(KEY);
    let answer = s.call(LlmRequest::infer("y")).unwrap();
    let cached = service.session().call(LlmRequest::infer("y")).unwrap();
    assert!(cached.meta.cached);
    let shown = [
        format!("{err:?} {err}"),
        format!("{cfg:?}"),
        format!("{service:?} {s:?}"),
        format!("{answer:?} {cached:?}"),
        format!("{:?}", cfg.api_key()),
    ];
    for text in &shown {
        assert!(!text.contains(KEY), "key leaked into: {text}");
    }
    let files = files_under(cache.path());
    assert!(!files.is_empty());
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(!text.contains(KEY), "key leaked into {}", file.display());
    }
}

#[test]
fn the_budget_counts_requests_and_not_cache_hits() {
    let server = LlmServer::start();
    let cache = TempDir::new("llm-cache");
    let mut cfg = config(&server, AdapterKind::OpenAi, &cache);
    cfg.max_llm_calls = Some(2);
    let mut s = session(&cfg);

    s.call(LlmRequest::infer("a")).unwrap();
    s.call(LlmRequest::infer("a")).unwrap(); // cache hit: free
    s.call(LlmRequest::infer("b")).unwrap();
    let err = s.call(LlmRequest::infer("c")).unwrap_err();
    assert_eq!((err.kind, err.message.as_str()), (LlmErrorKind::Budget, "LLM call budget exhausted (2 calls)"));
    assert_eq!(server.requests(), 2);
    assert_eq!(s.calls(), 2);
}

#[test]
fn requests_run_concurrently_while_the_caller_computes() {
    let server = LlmServer::start();
    server.on("slow", Reply::echo().after(Duration::from_millis(300)));
    let cache = TempDir::new("llm-cache");
    let mut s = session(&config(&server, AdapterKind::OpenAi, &cache));

    let started = Instant::now();
    let tickets: Vec<_> = ["slow a", "slow b", "slow c"].map(|p| s.submit(LlmRequest::infer(p))).into();
    // All three on the wire at once: submit did not wait for an answer before the next.
    assert!(server.wait_until(Duration::from_secs(10), |s| s.in_flight() == 3), "all three on the wire together");

    let mut done = Vec::new();
    while let Some(c) = s.wait_next(Some(started + Duration::from_secs(5))) {
        done.push((c.ticket, c.result.unwrap().text));
    }
    done.sort();
    assert_eq!(
        done,
        vec![
            (tickets[0], "echo: slow a".into()),
            (tickets[1], "echo: slow b".into()),
            (tickets[2], "echo: slow c".into())
        ]
    );
    assert_eq!(server.max_in_flight(), 3);
}

#[test]
fn the_in_flight_cap_bounds_concurrent_requests() {
    let server = LlmServer::start();
    server.set_default(Reply::echo().after(Duration::from_millis(100)));
    let cache = TempDir::new("llm-cache");
    let mut cfg = config(&server, AdapterKind::OpenAi, &cache);
    cfg.max_in_flight = 2;
    let service = LlmService::new(&cfg).unwrap();
    let mut s = service.session();

    for i in 0..6 {
        s.submit(LlmRequest::infer(format!("p{i}")));
    }
    let mut answers = 0;
    while let Some(c) = s.wait_next(Some(Instant::now() + Duration::from_secs(5))) {
        c.result.unwrap();
        answers += 1;
    }
    assert_eq!(answers, 6);
    assert_eq!(server.max_in_flight(), 2);
    assert_eq!(service.in_flight(), 0);
}

#[test]
fn cancelling_aborts_the_http_request() {
    let server = LlmServer::start();
    server.set_default(Reply::echo().after(Duration::from_secs(10)));
    let cache = TempDir::new("llm-cache");
    let mut s = session(&config(&server, AdapterKind::OpenAi, &cache));

    let a = s.submit(LlmRequest::infer("a"));
    let b = s.submit(LlmRequest::infer("b"));
    assert!(server.wait_until(Duration::from_secs(2), |s| s.in_flight() == 2));
    assert!(s.cancel(a));
    assert!(server.wait_until(Duration::from_secs(2), |s| s.disconnects() == 1), "the server saw the client hang up");
    assert_eq!(s.outstanding(), 1);

    drop(s); // dropping the session cancels the rest
    assert!(server.wait_until(Duration::from_secs(2), |s| s.disconnects() == 2 && s.in_flight() == 0));
    let _ = b;
}

#[test]
fn omega_toml_points_the_service_at_a_server() {
    let server = LlmServer::start();
    let project = TempDir::new("llm-project");
    std::fs::create_dir_all(project.join("src")).unwrap();
    std::fs::write(
        project.join("omega.toml"),
        format!(
            "[llm]\nadapter = \"openai\"\nbase_url = \"{}\"\nmodel = \"from-toml\"\ncache_dir = \".omega-cache\"\n",
            server.openai_url()
        ),
    )
    .unwrap();
    let program = project.join("src/main.omega");
    std::fs::write(&program, "(effect infer.op \"hi\")").unwrap();

    let cfg = LlmConfig::resolve(Some(&program), &LlmOverrides::default()).unwrap();
    assert_eq!(cfg.cache_dir, project.join(".omega-cache"));
    let answer = session(&cfg).call(LlmRequest::infer("hi")).unwrap();
    assert_eq!((answer.text.as_str(), answer.meta.model.as_str()), ("echo: hi", "from-toml"));
    assert_eq!(server.received()[0].body["model"], "from-toml");
    assert!(!files_under(&project.join(".omega-cache")).is_empty());
}

/// A real model: SmolLM2-135M-Instruct served by node-llama-cpp (tests/llm/smollm2-server.mjs).
/// Runs when `OMEGA_SMOLLM2` names the directory made by tests/llm/install-smollm2.sh, or when
/// that script's default directory (.tools/smollm2) holds the model. It is skipped only on a
/// developer's machine without the model: under CI (`CI` set) a missing model is a failure.
#[test]
fn smollm2_answers() {
    let installed = repo_root().join(".tools/smollm2");
    let dir = match std::env::var_os("OMEGA_SMOLLM2").filter(|d| !d.is_empty()) {
        Some(dir) => std::path::PathBuf::from(dir),
        None if installed.join("model.gguf").exists() => installed,
        None => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but the model is not installed: run tests/run-all.sh, which installs it, \
                 or set OMEGA_SMOLLM2 to the directory made by tests/llm/install-smollm2.sh"
            );
            eprintln!("smollm2_answers: skipped (set OMEGA_SMOLLM2; see tests/llm/install-smollm2.sh)");
            return;
        }
    };
    let server = smollm2::Server::start(&dir);
    let cache = TempDir::new("llm-cache");
    let mut cfg = LlmConfig::new(AdapterKind::OpenAi);
    cfg.base_url = Some(server.base_url.clone());
    cfg.model = "smollm2-135m".into();
    cfg.temperature = Some(0.0);
    cfg.max_tokens = Some(24);
    cfg.cache_dir = cache.path().to_path_buf();

    let mut s = session(&cfg);
    let answer = s.call(LlmRequest::infer("What is the capital of France? Answer in one word.")).unwrap();
    eprintln!("smollm2 answered {:?} in {:?}", answer.text, answer.meta.latency);
    assert!(answer.text.to_lowercase().contains("paris"), "an implausible answer: {:?}", answer.text);
    assert!(answer.meta.tokens_out.is_some_and(|n| n > 0));
    let again = s.call(LlmRequest::infer("What is the capital of France? Answer in one word.")).unwrap();
    assert!(again.meta.cached && again.text == answer.text);

    // The same model through the command line, configured by the program's omega.toml.
    let project = TempDir::new("smollm2-run");
    let toml = format!(
        "[llm]\nadapter = \"openai\"\nbase_url = \"{}\"\nmodel = \"smollm2-135m\"\ntemperature = 0.0\nmax_tokens = 24\n",
        server.base_url
    );
    std::fs::write(project.join("omega.toml"), toml).unwrap();
    std::fs::write(
        project.join("ask.omega"),
        "(display (effect infer.op \"What is the capital of France? Answer in one word.\"))\n",
    )
    .unwrap();
    let ran = omega_tests::cli::omega_in(project.path(), &["run", "ask.omega"], "", Duration::from_secs(180));
    ran.expect_code(0);
    eprintln!("omega run printed {:?}", ran.stdout);
    assert!(ran.stdout.to_lowercase().contains("paris"), "an implausible answer: {ran:#?}");
}

mod smollm2 {
    use std::io::{BufRead, BufReader};
    use std::path::Path;
    use std::process::{Child, Command, Stdio};
    use std::sync::mpsc;
    use std::time::Duration;

    /// The node wrapper, started on a free port and stopped on drop.
    pub struct Server {
        child: Child,
        pub base_url: String,
    }

    impl Server {
        pub fn start(dir: &Path) -> Server {
            let script = super::repo_root().join("tests/llm/smollm2-server.mjs");
            let mut child = Command::new("node")
                .arg(&script)
                .arg(dir)
                .arg("0")
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("start node (is Node.js installed?)");
            let stdout = child.stdout.take().unwrap();
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if let Some(url) = line.strip_prefix("listening on ") {
                        let _ = tx.send(url.trim().to_string());
                    }
                }
            });
            match rx.recv_timeout(Duration::from_secs(120)) {
                Ok(base_url) => Server { child, base_url },
                Err(why) => {
                    let _ = child.kill();
                    let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
                    match why {
                        mpsc::RecvTimeoutError::Timeout => {
                            panic!("{} did not start within 120 s", script.display())
                        }
                        mpsc::RecvTimeoutError::Disconnected => {
                            panic!("{} exited ({status}) before listening", script.display())
                        }
                    }
                }
            }
        }
    }

    impl Drop for Server {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
