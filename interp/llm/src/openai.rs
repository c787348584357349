//! Adapter `openai`: any OpenAI-compatible chat-completions server (`POST {base}/chat/completions`),
//! the public API or a local one (Ollama, llama.cpp, vLLM…). The prompt is one user message.

use std::time::Duration;

use reqwest::header::{HeaderMap, AUTHORIZATION};
use serde::{Deserialize, Serialize};

use super::adapter::{Adapter, AdapterInfo, BoxFuture, Local, Reply, RunCounters};
use super::error::{Failure, LlmError, LlmErrorKind};
use super::http;
use super::LlmRequest;
use crate::config::{display_url, AdapterKind, ApiKey, LlmConfig};

pub(crate) struct OpenAi {
    info: AdapterInfo,
    client: reqwest::Client,
    url: String,
    headers: HeaderMap,
    /// Request parameters, serialised around each prompt.
    model: String,
    system: Option<String>,
    temperature: Option<f64>,
    max_tokens: Option<u32>,
    timeout: Duration,
    /// Set when there is no way this can work (public API, no key): said on each request.
    missing_key: Option<String>,
}

impl OpenAi {
    pub(crate) fn new(cfg: &LlmConfig) -> Result<OpenAi, LlmError> {
        let base = cfg
            .base_url
            .clone()
            .unwrap_or_else(|| AdapterKind::OpenAi.default_base_url().unwrap_or_default().to_string());
        let timeout = Duration::from_secs_f64(cfg.request_timeout_secs);
        let key_env = cfg.api_key_env.clone().unwrap_or_else(|| "OPENAI_API_KEY".to_string());
        let mut headers = HeaderMap::new();
        if let Some(key) = cfg.api_key().map(ApiKey::expose) {
            let value = http::secret_header(&format!("Bearer {key}")).ok_or_else(|| {
                LlmError::new(LlmErrorKind::NotConfigured, format!("the key in {key_env} is not a valid header value"))
            })?;
            headers.insert(AUTHORIZATION, value);
        }
        let public = Some(base.as_str()) == AdapterKind::OpenAi.default_base_url();
        let missing_key = (cfg.api_key().is_none() && public).then(|| {
            format!(
                "the openai adapter needs an API key: set {key_env} (or OPENAI_BASE_URL, e.g. http://127.0.0.1:8080/v1, for a local server)"
            )
        })
        .or_else(|| cfg.key_withheld().map(str::to_string));
        Ok(OpenAi {
            info: AdapterInfo {
                name: "openai",
                model: cfg.model.clone(),
                base_url: Some(display_url(&base)),
                key_env: Some(key_env),
                cacheable: true,
                scripted: false,
            },
            client: http::client(timeout)?,
            url: format!("{}/chat/completions", base.trim_end_matches('/')),
            headers,
            model: cfg.model.clone(),
            system: cfg.system.clone(),
            temperature: cfg.temperature,
            max_tokens: cfg.max_tokens,
            timeout,
            missing_key,
        })
    }

    fn body(&self, prompt: &str) -> Vec<u8> {
        let mut messages = Vec::with_capacity(2);
        if let Some(system) = &self.system {
            messages.push(Message { role: "system", content: system });
        }
        messages.push(Message { role: "user", content: prompt });
        let request =
            ChatRequest { model: &self.model, messages, temperature: self.temperature, max_tokens: self.max_tokens };
        serde_json::to_vec(&request).expect("a chat request always serialises")
    }
}

#[derive(Serialize)]
struct ChatRequest<'a> {
    model: &'a str,
    messages: Vec<Message<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
}

#[derive(Serialize)]
struct Message<'a> {
    role: &'static str,
    content: &'a str,
}

#[derive(Deserialize)]
struct ChatResponse {
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Choice {
    message: Option<ResponseMessage>,
}

#[derive(Deserialize)]
struct ResponseMessage {
    /// A string, `null` (refusals, tool calls) or, from some servers, a list of text parts.
    #[serde(default)]
    content: serde_json::Value,
}

#[derive(Deserialize)]
struct Usage {
    prompt_tokens: Option<u32>,
    completion_tokens: Option<u32>,
}

/// The answer text in a 2xx body.
fn parse_reply(body: &[u8]) -> Result<Reply, Failure> {
    let response: ChatResponse = http::parse_body(body, "a chat completion with `choices`")?;
    let Some(choice) = response.choices.into_iter().next() else {
        return Err(Failure::Malformed("`choices` is empty".to_string()));
    };
    let Some(message) = choice.message else {
        return Err(Failure::Malformed("`choices[0]` has no `message`".to_string()));
    };
    let text = match message.content {
        serde_json::Value::String(s) => s,
        serde_json::Value::Null => String::new(),
        serde_json::Value::Array(parts) => {
            parts.iter().filter_map(|p| p.get("text").and_then(|t| t.as_str())).collect::<Vec<_>>().join("")
        }
        other => return Err(Failure::Malformed(format!("`choices[0].message.content` is {other}, not text"))),
    };
    if text.trim().is_empty() {
        return Err(Failure::Empty);
    }
    let usage = response.usage;
    Ok(Reply {
        text,
        tokens_in: usage.as_ref().and_then(|u| u.prompt_tokens),
        tokens_out: usage.as_ref().and_then(|u| u.completion_tokens),
        confidence: None,
    })
}

impl Adapter for OpenAi {
    fn info(&self) -> &AdapterInfo {
        &self.info
    }

    fn local(&self, req: &LlmRequest, _run: &mut RunCounters) -> Option<Local> {
        http::unconfigured(&self.missing_key, req)
    }

    fn attempt(&self, prompt: &str) -> BoxFuture<Result<Reply, Failure>> {
        http::attempt(&self.client, &self.url, &self.headers, self.body(prompt), self.timeout, parse_reply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_read_from_choices() {
        let body = br#"{"choices":[{"message":{"role":"assistant","content":" Paris "}}],"usage":{"prompt_tokens":9,"completion_tokens":2}}"#;
        let reply = parse_reply(body).unwrap();
        assert_eq!((reply.text.as_str(), reply.tokens_in, reply.tokens_out), (" Paris ", Some(9), Some(2)));

        let parts = br#"{"choices":[{"message":{"content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}}]}"#;
        assert_eq!(parse_reply(parts).unwrap().text, "ab");
        assert_eq!(parse_reply(br#"{"choices":[{"message":{"content":"  "}}]}"#).unwrap_err(), Failure::Empty);
        assert_eq!(parse_reply(br#"{"choices":[{"message":{"content":null}}]}"#).unwrap_err(), Failure::Empty);
        assert!(matches!(parse_reply(br#"{"choices":[]}"#).unwrap_err(), Failure::Malformed(_)));
        assert!(matches!(parse_reply(br#"{"id":"x"}"#).unwrap_err(), Failure::Malformed(_)));
    }

    #[test]
    fn the_body_carries_every_parameter() {
        let mut cfg = LlmConfig::new(AdapterKind::OpenAi);
        cfg.base_url = Some("http://127.0.0.1:9/v1".into());
        cfg.system = Some("Be brief.".into());
        cfg.temperature = Some(0.0);
        cfg.max_tokens = Some(16);
        let adapter = OpenAi::new(&cfg).unwrap();
        let body: serde_json::Value = serde_json::from_slice(&adapter.body("hi")).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"model": "gpt-4o-mini", "temperature": 0.0, "max_tokens": 16,
                "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]})
        );
        assert_eq!(adapter.url, "http://127.0.0.1:9/v1/chat/completions");
    }

    #[test]
    fn the_public_api_without_a_key_says_what_to_set() {
        let adapter = OpenAi::new(&LlmConfig::new(AdapterKind::OpenAi)).unwrap();
        let req = LlmRequest::infer("hi");
        let err = adapter.local(&req, &mut RunCounters::default()).unwrap().result.unwrap_err();
        assert_eq!(err.kind, LlmErrorKind::NotConfigured);
        assert!(
            err.message.starts_with("infer.op: the openai adapter needs an API key: set OPENAI_API_KEY"),
            "{}",
            err.message
        );
    }
}
