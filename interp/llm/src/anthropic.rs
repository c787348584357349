//! Adapter `anthropic`: the messages API (`POST {base}/v1/messages`, base without `/v1` as
//! Anthropic's SDKs take it). The prompt is one user message; `max_tokens` is required there,
//! so it defaults to [`DEFAULT_MAX_TOKENS`].

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};

use super::adapter::{Adapter, AdapterInfo, BoxFuture, Local, Reply, RunCounters};
use super::error::{Failure, LlmError, LlmErrorKind};
use super::http;
use super::LlmRequest;
use crate::config::{display_url, AdapterKind, ApiKey, LlmConfig};

pub const DEFAULT_MAX_TOKENS: u32 = 1024;
const API_VERSION: &str = "2023-06-01";

pub(crate) struct Anthropic {
    info: AdapterInfo,
    client: reqwest::Client,
    url: String,
    headers: HeaderMap,
    model: String,
    system: Option<String>,
    temperature: Option<f64>,
    max_tokens: u32,
    timeout: Duration,
    missing_key: Option<String>,
}

impl Anthropic {
    pub(crate) fn new(cfg: &LlmConfig) -> Result<Anthropic, LlmError> {
        let base = cfg
            .base_url
            .clone()
            .unwrap_or_else(|| AdapterKind::Anthropic.default_base_url().unwrap_or_default().to_string());
        let timeout = Duration::from_secs_f64(cfg.request_timeout_secs);
        let key_env = cfg.api_key_env.clone().unwrap_or_else(|| "ANTHROPIC_API_KEY".to_string());
        let mut headers = HeaderMap::new();
        headers.insert("anthropic-version", HeaderValue::from_static(API_VERSION));
        if let Some(key) = cfg.api_key().map(ApiKey::expose) {
            let value = http::secret_header(key).ok_or_else(|| {
                LlmError::new(LlmErrorKind::NotConfigured, format!("the key in {key_env} is not a valid header value"))
            })?;
            headers.insert("x-api-key", value);
        }
        let public = Some(base.as_str()) == AdapterKind::Anthropic.default_base_url();
        let missing_key = (cfg.api_key().is_none() && public)
            .then(|| {
                format!(
                    "the anthropic adapter needs an API key: set {key_env} (or ANTHROPIC_BASE_URL for another server)"
                )
            })
            .or_else(|| cfg.key_withheld().map(str::to_string));
        Ok(Anthropic {
            info: AdapterInfo {
                name: "anthropic",
                model: cfg.model.clone(),
                base_url: Some(display_url(&base)),
                key_env: Some(key_env),
                cacheable: true,
                scripted: false,
            },
            client: http::client(timeout)?,
            url: format!("{}/v1/messages", base.trim_end_matches('/')),
            headers,
            model: cfg.model.clone(),
            system: cfg.system.clone(),
            temperature: cfg.temperature,
            max_tokens: cfg.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
            timeout,
            missing_key,
        })
    }

    fn body(&self, prompt: &str) -> Vec<u8> {
        let request = MessagesRequest {
            model: &self.model,
            max_tokens: self.max_tokens,
            system: self.system.as_deref(),
            temperature: self.temperature,
            messages: [Message { role: "user", content: prompt }],
        };
        serde_json::to_vec(&request).expect("a messages request always serialises")
    }
}

#[derive(Serialize)]
struct MessagesRequest<'a> {
    model: &'a str,
    max_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    messages: [Message<'a>; 1],
}

#[derive(Serialize)]
struct Message<'a> {
    role: &'static str,
    content: &'a str,
}

#[derive(Deserialize)]
struct MessagesResponse {
    content: Vec<Block>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Block {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize)]
struct Usage {
    input_tokens: Option<u32>,
    output_tokens: Option<u32>,
}

fn parse_reply(body: &[u8]) -> Result<Reply, Failure> {
    let response: MessagesResponse = http::parse_body(body, "a message with a `content` list")?;
    let text: String = response.content.iter().filter(|b| b.kind == "text").filter_map(|b| b.text.as_deref()).collect();
    if text.trim().is_empty() {
        return Err(Failure::Empty);
    }
    let usage = response.usage;
    Ok(Reply {
        text,
        tokens_in: usage.as_ref().and_then(|u| u.input_tokens),
        tokens_out: usage.as_ref().and_then(|u| u.output_tokens),
        confidence: None,
    })
}

impl Adapter for Anthropic {
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
    fn replies_join_the_text_blocks() {
        let body = br#"{"id":"m","type":"message","role":"assistant","content":[{"type":"text","text":"Par"},{"type":"text","text":"is"}],"usage":{"input_tokens":12,"output_tokens":3}}"#;
        let reply = parse_reply(body).unwrap();
        assert_eq!((reply.text.as_str(), reply.tokens_in, reply.tokens_out), ("Paris", Some(12), Some(3)));
        assert_eq!(parse_reply(br#"{"content":[]}"#).unwrap_err(), Failure::Empty);
        assert!(matches!(parse_reply(br#"{"choices":[]}"#).unwrap_err(), Failure::Malformed(_)));
    }

    #[test]
    fn the_body_has_the_required_max_tokens() {
        let mut cfg = LlmConfig::new(AdapterKind::Anthropic);
        cfg.base_url = Some("http://127.0.0.1:9".into());
        let adapter = Anthropic::new(&cfg).unwrap();
        let body: serde_json::Value = serde_json::from_slice(&adapter.body("hi")).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"model": "claude-3-5-haiku-latest", "max_tokens": 1024,
                "messages": [{"role": "user", "content": "hi"}]})
        );
        assert_eq!(adapter.url, "http://127.0.0.1:9/v1/messages");
    }
}
