//! LLM errors: one user-facing message plus a kind for tools (the language server) to act on.
//!
//! Every message names the op, the adapter and, for HTTP providers, the base URL — never the
//! key: messages pass through [`Redactor`] before they leave the service.

use std::fmt;
use std::time::Duration;

/// What went wrong, for programs; the message is for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LlmErrorKind {
    /// Adapter `none`, or a provider without a key.
    NotConfigured,
    /// The provider answered with a non-success status (after any retries).
    Http { status: u16 },
    /// No answer within the request timeout.
    Timeout,
    /// Nothing listens at the provider's address.
    Refused,
    /// Other connection failures (DNS, TLS, reset).
    Connect,
    /// The provider's answer is not the JSON shape its API documents.
    Malformed,
    /// The provider answered with no text.
    Empty,
    /// `--max-llm-calls` reached.
    Budget,
    /// `--offline` and the answer is not in the cache.
    Offline,
    /// The scripted adapter's responses file is missing or invalid, or has no rule for the prompt.
    Script,
    /// A scripted rule's `error = "…"`.
    Scripted,
}

/// A failed LLM request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LlmError {
    /// The full message, e.g. `infer.op: HTTP 429 from openai (http://127.0.0.1:8080/v1): rate limited; gave up after 3 retries`.
    pub message: String,
    pub kind: LlmErrorKind,
}

impl LlmError {
    pub fn new(kind: LlmErrorKind, message: impl Into<String>) -> LlmError {
        LlmError { message: message.into(), kind }
    }

    pub fn budget(limit: u64) -> LlmError {
        LlmError::new(LlmErrorKind::Budget, format!("LLM call budget exhausted ({limit} calls)"))
    }
}

impl fmt::Display for LlmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for LlmError {}

/// Why one HTTP attempt failed, before it is put into words.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Failure {
    Http {
        status: u16,
        detail: Option<String>,
        retry_after: Option<Duration>,
    },
    Timeout(Duration),
    Refused,
    Connect(String),
    Malformed(String),
    /// The response body is larger than this many bytes.
    TooLarge(usize),
    Empty,
    NotConfigured(String),
}

impl Failure {
    /// Worth another attempt: rate limits and server-side trouble.
    pub(crate) fn retryable(&self) -> bool {
        matches!(self, Failure::Http { status, .. } if *status == 429 || *status == 408 || (500..=599).contains(status))
    }

    pub(crate) fn retry_after(&self) -> Option<Duration> {
        match self {
            Failure::Http { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Who was asked: enough to name the provider in a message.
#[derive(Clone, Debug)]
pub(crate) struct Provider<'a> {
    pub adapter: &'a str,
    /// Already stripped of credentials.
    pub base_url: &'a str,
    pub key_env: Option<&'a str>,
}

/// How the retry loop ended, for the message's tail.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Ending {
    /// The failure was final at once (not retryable, or the first attempt).
    #[default]
    NoRetry,
    /// Retried this many times, then gave up.
    GaveUp(u32),
    /// The server asked to wait longer than we are willing to.
    WaitTooLong(Duration),
}

pub(crate) fn describe(op: &str, provider: &Provider<'_>, failure: &Failure, ending: Ending) -> LlmError {
    let from = format!("{} ({})", provider.adapter, provider.base_url);
    let (kind, mut message) = match failure {
        Failure::Http { status, detail, .. } => {
            let reason = match status {
                400 => "bad request".to_string(),
                401 => match provider.key_env {
                    Some(var) => format!("unauthorized; check the API key in {var}"),
                    None => "unauthorized; check the API key".to_string(),
                },
                403 => "forbidden".to_string(),
                404 => "not found; check the base URL and the model name".to_string(),
                408 => "request timeout".to_string(),
                413 => "prompt too large".to_string(),
                429 => "rate limited".to_string(),
                529 => "overloaded".to_string(),
                500..=599 => "server error".to_string(),
                _ => "unexpected status".to_string(),
            };
            let mut text = format!("{op}: HTTP {status} from {from}: {reason}");
            if let Some(detail) = detail.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
                if !detail.eq_ignore_ascii_case(&reason) {
                    text.push_str(&format!("; server said: {}", shorten(detail, 200)));
                }
            }
            (LlmErrorKind::Http { status: *status }, text)
        }
        Failure::Timeout(after) => {
            (LlmErrorKind::Timeout, format!("{op}: timed out after {} waiting for {from}", seconds(*after)))
        }
        Failure::Refused => {
            (LlmErrorKind::Refused, format!("{op}: connection refused by {from}; is the server running?"))
        }
        Failure::Connect(why) => (LlmErrorKind::Connect, format!("{op}: connection to {from} failed: {why}")),
        Failure::Malformed(why) => (LlmErrorKind::Malformed, format!("{op}: malformed response from {from}: {why}")),
        Failure::TooLarge(limit) => (
            LlmErrorKind::Malformed,
            format!(
                "{op}: the response from {from} is larger than {} MiB, more than any answer; check the base URL",
                limit >> 20
            ),
        ),
        Failure::Empty => (LlmErrorKind::Empty, format!("{op}: empty answer from {from}")),
        Failure::NotConfigured(how) => (LlmErrorKind::NotConfigured, format!("{op}: {how}")),
    };
    match ending {
        Ending::NoRetry => {}
        Ending::GaveUp(n) => {
            message.push_str(&format!("; gave up after {n} {}", if n == 1 { "retry" } else { "retries" }))
        }
        Ending::WaitTooLong(wait) => message.push_str(&format!("; server asks to retry after {}", seconds(wait))),
    }
    LlmError::new(kind, message)
}

/// `60s`, `0.5s`.
pub(crate) fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{}s", s as u64)
    } else {
        format!("{}s", (s * 1000.0).round() / 1000.0)
    }
}

/// At most `max` characters, with `…` when cut; newlines flattened.
pub(crate) fn shorten(text: &str, max: usize) -> String {
    let flat: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    match flat.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}

/// Removes secrets from text that is about to be shown.
#[derive(Clone, Default)]
pub(crate) struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    pub(crate) fn new(secrets: impl IntoIterator<Item = String>) -> Redactor {
        // Very short "keys" would shred ordinary text; real keys are long.
        Redactor { secrets: secrets.into_iter().filter(|s| s.len() >= 4).collect() }
    }

    /// `text` with every secret replaced by `<redacted>`: a provider that echoes the key back
    /// must not get it printed or written to the cache.
    pub(crate) fn redact(&self, text: &str) -> String {
        let mut text = text.to_string();
        for secret in &self.secrets {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), "<redacted>");
            }
        }
        text
    }

    pub(crate) fn scrub(&self, mut error: LlmError) -> LlmError {
        for secret in &self.secrets {
            if error.message.contains(secret.as_str()) {
                error.message = error.message.replace(secret.as_str(), "<redacted>");
            }
        }
        error
    }
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} secret(s))", self.secrets.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCAL: Provider<'static> =
        Provider { adapter: "openai", base_url: "http://127.0.0.1:8080/v1", key_env: Some("OPENAI_API_KEY") };

    #[test]
    fn messages_name_op_provider_and_cause() {
        let rate = Failure::Http { status: 429, detail: None, retry_after: None };
        assert_eq!(
            describe("infer.op", &LOCAL, &rate, Ending::GaveUp(3)).message,
            "infer.op: HTTP 429 from openai (http://127.0.0.1:8080/v1): rate limited; gave up after 3 retries"
        );
        let unauthorized = Failure::Http { status: 401, detail: Some("Incorrect API key".into()), retry_after: None };
        let err = describe("int.op", &LOCAL, &unauthorized, Ending::NoRetry);
        assert_eq!(
            err.message,
            "int.op: HTTP 401 from openai (http://127.0.0.1:8080/v1): unauthorized; check the API key in OPENAI_API_KEY; server said: Incorrect API key"
        );
        assert_eq!(err.kind, LlmErrorKind::Http { status: 401 });
        assert_eq!(
            describe("infer.op", &LOCAL, &Failure::Timeout(Duration::from_millis(1500)), Ending::NoRetry).message,
            "infer.op: timed out after 1.5s waiting for openai (http://127.0.0.1:8080/v1)"
        );
        assert_eq!(
            describe("infer.op", &LOCAL, &Failure::Refused, Ending::NoRetry).message,
            "infer.op: connection refused by openai (http://127.0.0.1:8080/v1); is the server running?"
        );
        let slow = Failure::Http { status: 503, detail: None, retry_after: None };
        assert_eq!(
            describe("infer.op", &LOCAL, &slow, Ending::WaitTooLong(Duration::from_secs(3600))).message,
            "infer.op: HTTP 503 from openai (http://127.0.0.1:8080/v1): server error; server asks to retry after 3600s"
        );
    }

    #[test]
    fn secrets_are_scrubbed() {
        let r = Redactor::new(["sk-secret-123".to_string()]);
        let e = r.scrub(LlmError::new(LlmErrorKind::Http { status: 401 }, "bad key sk-secret-123 given"));
        assert_eq!(e.message, "bad key <redacted> given");
        assert!(!format!("{r:?}").contains("sk-secret"));
    }

    #[test]
    fn shorten_cuts_on_characters() {
        assert_eq!(shorten("héllo\nworld", 5), "héllo…");
        assert_eq!(shorten("ok", 5), "ok");
    }
}
