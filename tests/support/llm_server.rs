//! A real HTTP/1.1 server on 127.0.0.1 that speaks the OpenAI chat-completions API
//! (`POST …/chat/completions`) and the Anthropic messages API (`POST …/v1/messages`), for tests
//! that must exercise the whole client: sockets, keep-alive, timeouts, status codes, bodies.
//!
//! Answers are deterministic: `echo: PROMPT` unless a rule says otherwise. Rules match a
//! substring of the prompt (first match wins; `times(n)` rules retire after n uses) and can add
//! latency or inject faults: a status code with `Retry-After`, malformed JSON, empty content,
//! a hang, a dropped connection. The server counts requests, tracks how many are in flight
//! (and the maximum), notices clients that hang up before their answer, and records every
//! request's headers and body.
//!
//! ```ignore
//! let server = LlmServer::start();
//! server.on("slow", Reply::echo().after(Duration::from_millis(300)));
//! server.on("flaky", Reply::status(500).times(2));
//! config.base_url = Some(server.openai_url());   // or server.anthropic_url()
//! ```

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the server does with a request.
#[derive(Clone, Debug)]
pub struct Reply {
    action: Action,
    delay: Duration,
    retry_after: Option<String>,
    /// Uses left; `None`: unlimited.
    times: Option<usize>,
    /// Answer only once this many requests are in flight (this one included).
    with_in_flight: Option<usize>,
}

#[derive(Clone, Debug)]
enum Action {
    Echo,
    Answer(String),
    Status(u16, String),
    Malformed,
    Empty,
    Hang,
    Close,
}

impl Reply {
    /// Answers `echo: PROMPT`.
    pub fn echo() -> Reply {
        Reply::new(Action::Echo)
    }

    pub fn answer(text: impl Into<String>) -> Reply {
        Reply::new(Action::Answer(text.into()))
    }

    /// Fails with this status and a provider-style JSON error body.
    pub fn status(code: u16) -> Reply {
        let body = json!({"error": {"message": format!("injected status {code}"), "type": "test"}}).to_string();
        Reply::new(Action::Status(code, body))
    }

    /// Fails with this status and exactly this body.
    pub fn status_with_body(code: u16, body: impl Into<String>) -> Reply {
        Reply::new(Action::Status(code, body.into()))
    }

    /// 200 with a body that is not JSON.
    pub fn malformed() -> Reply {
        Reply::new(Action::Malformed)
    }

    /// 200 with well-formed JSON whose answer text is empty.
    pub fn empty() -> Reply {
        Reply::new(Action::Empty)
    }

    /// Never answers (until the client hangs up).
    pub fn hang() -> Reply {
        Reply::new(Action::Hang)
    }

    /// Closes the connection without answering.
    pub fn close() -> Reply {
        Reply::new(Action::Close)
    }

    /// Answers only after `delay`.
    pub fn after(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }

    /// Adds a `Retry-After` header with this value.
    pub fn retry_after(mut self, value: impl Into<String>) -> Reply {
        self.retry_after = Some(value.into());
        self
    }

    /// Answers only once `n` requests are in flight, this one included: orders the answer
    /// after other requests without guessing a delay.
    pub fn once_in_flight(mut self, n: usize) -> Reply {
        self.with_in_flight = Some(n);
        self
    }

    /// Applies to the first `n` matching requests only.
    pub fn times(mut self, n: usize) -> Reply {
        self.times = Some(n);
        self
    }

    fn new(action: Action) -> Reply {
        Reply { action, delay: Duration::ZERO, retry_after: None, times: None, with_in_flight: None }
    }
}

/// Which API a request used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    OpenAi,
    Anthropic,
}

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Received {
    pub api: Option<Api>,
    pub method: String,
    pub path: String,
    /// Names lower-cased, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Value,
    /// The last user message's text.
    pub prompt: String,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State {
    rules: Mutex<Vec<(String, Reply)>>,
    default: Mutex<Option<Reply>>,
    required_key: Mutex<Option<String>>,
    requests: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    disconnects: AtomicUsize,
    /// Time spent handling requests, injected delays excluded (for overhead measurements).
    busy_nanos: AtomicU64,
    log: Mutex<Vec<Received>>,
}

/// The running server; stops when dropped.
pub struct LlmServer {
    addr: SocketAddr,
    state: Arc<State>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl LlmServer {
    /// Binds a free port on 127.0.0.1 and starts serving.
    pub fn start() -> LlmServer {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("test-llm-server")
            .enable_all()
            .build()
            .expect("test server runtime");
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let state = Arc::new(State::default());
        let accept_state = state.clone();
        runtime.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve_connection(stream, accept_state.clone()));
            }
        });
        LlmServer { addr, state, runtime: Some(runtime) }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL for the `openai` adapter (`…/v1`).
    pub fn openai_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Base URL for the `anthropic` adapter (no `/v1`, as Anthropic's SDKs take it).
    pub fn anthropic_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests whose prompt contains `needle` get `reply` (rules are tried in the order added).
    pub fn on(&self, needle: &str, reply: Reply) {
        self.state.rules.lock().unwrap().push((needle.to_string(), reply));
    }

    /// What unmatched requests get (initially `Reply::echo()`).
    pub fn set_default(&self, reply: Reply) {
        *self.state.default.lock().unwrap() = Some(reply);
    }

    /// From now on, answer 401 unless the request carries this key (`Authorization: Bearer` or
    /// `x-api-key`). The 401 body quotes the key that was sent, as some providers do, so tests can
    /// check that clients never repeat it.
    pub fn require_key(&self, key: &str) {
        *self.state.required_key.lock().unwrap() = Some(key.to_string());
    }

    /// Complete requests received so far.
    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// Requests received and not yet answered.
    pub fn in_flight(&self) -> usize {
        self.state.in_flight.load(Ordering::SeqCst)
    }

    /// The most requests ever in flight at once.
    pub fn max_in_flight(&self) -> usize {
        self.state.max_in_flight.load(Ordering::SeqCst)
    }

    /// Requests whose client hung up before the answer was sent.
    pub fn disconnects(&self) -> usize {
        self.state.disconnects.load(Ordering::SeqCst)
    }

    /// Total time spent handling requests, injected delays excluded.
    pub fn busy_time(&self) -> Duration {
        Duration::from_nanos(self.state.busy_nanos.load(Ordering::SeqCst))
    }

    /// Every request so far, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.state.log.lock().unwrap().clone()
    }

    /// Polls `condition` until it holds or `timeout` passes; says whether it held.
    pub fn wait_until(&self, timeout: Duration, condition: impl Fn(&LlmServer) -> bool) -> bool {
        let end = Instant::now() + timeout;
        loop {
            if condition(self) {
                return true;
            }
            if Instant::now() >= end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for LlmServer {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// A parsed request head plus body.
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

async fn serve_connection(mut stream: TcpStream, state: Arc<State>) {
    let mut buffer = Vec::with_capacity(4096);
    loop {
        let request = match read_request(&mut stream, &mut buffer).await {
            Some(request) => request,
            None => return,
        };
        let started = Instant::now();
        state.requests.fetch_add(1, Ordering::SeqCst);
        let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        state.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let close = request.headers.iter().any(|(n, v)| n == "connection" && v.eq_ignore_ascii_case("close"));
        let outcome = handle(&mut stream, &mut buffer, &state, request, started).await;
        state.in_flight.fetch_sub(1, Ordering::SeqCst);
        if outcome.is_err() || close {
            return;
        }
    }
}

/// Reads one request; `None` at end of stream or on a request we cannot parse.
async fn read_request(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<Request> {
    let head_end = loop {
        if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if read_more(stream, buffer).await == 0 {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, path) = (first.next()?.to_string(), first.next()?.to_string());
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    let length: usize =
        headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    while buffer.len() < head_end + length {
        if read_more(stream, buffer).await == 0 {
            return None;
        }
    }
    let body = buffer[head_end..head_end + length].to_vec();
    buffer.drain(..head_end + length);
    Some(Request { method, path, headers, body })
}

async fn read_more(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> usize {
    let mut chunk = [0u8; 8192];
    match stream.read(&mut chunk).await {
        Ok(n) => {
            buffer.extend_from_slice(&chunk[..n]);
            n
        }
        Err(_) => 0,
    }
}

/// Sleeps for `delay` unless the client hangs up first (then `Err`).
async fn pause(stream: &mut TcpStream, buffer: &mut Vec<u8>, delay: Duration) -> Result<(), ()> {
    let sleep = tokio::time::sleep(delay);
    tokio::pin!(sleep);
    loop {
        tokio::select! {
            _ = &mut sleep => return Ok(()),
            n = read_more(stream, buffer) => if n == 0 { return Err(()) },
        }
    }
}

async fn handle(
    stream: &mut TcpStream,
    buffer: &mut Vec<u8>,
    state: &State,
    request: Request,
    started: Instant,
) -> Result<(), ()> {
    let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
    let api = if request.method == "POST" && request.path.ends_with("/chat/completions") {
        Some(Api::OpenAi)
    } else if request.method == "POST" && request.path.ends_with("/v1/messages") {
        Some(Api::Anthropic)
    } else {
        None
    };
    let prompt = last_user_text(&body);
    let received = Received {
        api,
        method: request.method.clone(),
        path: request.path.clone(),
        headers: request.headers.clone(),
        body: body.clone(),
        prompt: prompt.clone(),
    };
    state.log.lock().unwrap().push(received.clone());

    let Some(api) = api else {
        let msg = json!({"error": {"message": format!("no route for {} {}", request.method, request.path)}});
        return respond(stream, state, started, 404, None, &msg.to_string()).await;
    };
    let required_key = state.required_key.lock().unwrap().clone();
    if let Some(required) = required_key {
        let sent = received
            .header("x-api-key")
            .map(str::to_string)
            .or_else(|| received.header("authorization").and_then(|v| v.strip_prefix("Bearer ")).map(str::to_string))
            .unwrap_or_default();
        if sent != required {
            let msg = json!({"error": {"message": format!("Incorrect API key provided: {sent}"), "type": "invalid_request_error"}});
            return respond(stream, state, started, 401, None, &msg.to_string()).await;
        }
    }

    let reply = choose(state, &prompt);
    if let Some(n) = reply.with_in_flight {
        while state.in_flight.load(Ordering::SeqCst) < n {
            if pause(stream, buffer, Duration::from_millis(5)).await.is_err() {
                state.disconnects.fetch_add(1, Ordering::SeqCst);
                return Err(());
            }
        }
    }
    if !reply.delay.is_zero() {
        let paused = Instant::now();
        if pause(stream, buffer, reply.delay).await.is_err() {
            state.disconnects.fetch_add(1, Ordering::SeqCst);
            return Err(());
        }
        let started_late = started + paused.elapsed();
        return act(stream, buffer, state, api, &reply, &prompt, &body, started_late).await;
    }
    act(stream, buffer, state, api, &reply, &prompt, &body, started).await
}

#[allow(clippy::too_many_arguments)]
async fn act(
    stream: &mut TcpStream,
    buffer: &mut Vec<u8>,
    state: &State,
    api: Api,
    reply: &Reply,
    prompt: &str,
    body: &Value,
    started: Instant,
) -> Result<(), ()> {
    let retry_after = reply.retry_after.as_deref();
    let model = body.get("model").and_then(Value::as_str).unwrap_or("test-model");
    let answer = match &reply.action {
        Action::Echo => format!("echo: {prompt}"),
        Action::Answer(text) => text.clone(),
        Action::Empty => String::new(),
        Action::Status(code, text) => return respond(stream, state, started, *code, retry_after, text).await,
        Action::Malformed => {
            return respond(stream, state, started, 200, retry_after, "{\"choices\": [ this is not json").await
        }
        Action::Close => {
            state.busy_nanos.fetch_add(started.elapsed().as_nanos() as u64, Ordering::SeqCst);
            return Err(());
        }
        Action::Hang => {
            let _ = pause(stream, buffer, Duration::from_secs(3600)).await;
            state.disconnects.fetch_add(1, Ordering::SeqCst);
            return Err(());
        }
    };
    let (tokens_in, tokens_out) = (prompt.split_whitespace().count(), answer.split_whitespace().count());
    let out = match api {
        Api::OpenAi => json!({
            "id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": answer}}],
            "usage": {"prompt_tokens": tokens_in, "completion_tokens": tokens_out, "total_tokens": tokens_in + tokens_out},
        }),
        Api::Anthropic => json!({
            "id": "msg_test", "type": "message", "role": "assistant", "model": model, "stop_reason": "end_turn",
            "content": [{"type": "text", "text": answer}],
            "usage": {"input_tokens": tokens_in, "output_tokens": tokens_out},
        }),
    };
    respond(stream, state, started, 200, retry_after, &out.to_string()).await
}

fn choose(state: &State, prompt: &str) -> Reply {
    let mut rules = state.rules.lock().unwrap();
    for (needle, reply) in rules.iter_mut() {
        if !prompt.contains(needle.as_str()) || reply.times == Some(0) {
            continue;
        }
        if let Some(left) = reply.times.as_mut() {
            *left -= 1;
        }
        return reply.clone();
    }
    state.default.lock().unwrap().clone().unwrap_or_else(Reply::echo)
}

/// The text of the last user message (string content, or text blocks).
fn last_user_text(body: &Value) -> String {
    let Some(messages) = body.get("messages").and_then(Value::as_array) else {
        return String::new();
    };
    let Some(message) = messages.iter().rev().find(|m| m.get("role").and_then(Value::as_str) == Some("user")) else {
        return String::new();
    };
    match message.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect(),
        _ => String::new(),
    }
}

async fn respond(
    stream: &mut TcpStream,
    state: &State,
    started: Instant,
    status: u16,
    retry_after: Option<&str>,
    body: &str,
) -> Result<(), ()> {
    let reason = match status {
        200 => "OK",
        401 => "Unauthorized",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    };
    let mut head =
        format!("HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n", body.len());
    if let Some(value) = retry_after {
        head.push_str(&format!("retry-after: {value}\r\n"));
    }
    head.push_str("\r\n");
    head.push_str(body);
    let written = stream.write_all(head.as_bytes()).await.map_err(|_| ());
    state.busy_nanos.fetch_add(started.elapsed().as_nanos() as u64, Ordering::SeqCst);
    written
}
