//! The HTTP plumbing shared by the provider adapters: one pooled client, one POST with a
//! deadline, and the translation of transport errors into [`Failure`]s that name the cause.

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE};

use super::adapter::{BoxFuture, Local, Reply};
use super::error::{shorten, Failure, LlmError, LlmErrorKind};
use super::retry::parse_retry_after;
use super::LlmRequest;

/// The connection phase never waits longer than this, however long the request timeout.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) fn client(request_timeout: Duration) -> Result<reqwest::Client, LlmError> {
    reqwest::Client::builder()
        .connect_timeout(request_timeout.min(MAX_CONNECT_TIMEOUT))
        .read_timeout(request_timeout)
        .tcp_nodelay(true)
        .user_agent(concat!("omega/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| LlmError::new(LlmErrorKind::NotConfigured, format!("cannot set up the HTTP client: {e}")))
}

/// A header value that must never be shown (hyper leaves sensitive values out of its debug output).
pub(crate) fn secret_header(value: &str) -> Option<HeaderValue> {
    let mut header = HeaderValue::from_str(value).ok()?;
    header.set_sensitive(true);
    Some(header)
}

/// A response that arrived in full.
pub(crate) struct HttpReply {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: Vec<u8>,
}

impl HttpReply {
    pub(crate) fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The failure for a non-success status, with the provider's own explanation if it gave one.
    pub(crate) fn failure(&self) -> Failure {
        Failure::Http { status: self.status, detail: error_detail(&self.body), retry_after: self.retry_after }
    }
}

/// One attempt of an HTTP adapter: POSTs `body`, then reads a success with `parse` or turns
/// the status into a failure.
pub(crate) fn attempt(
    client: &reqwest::Client,
    url: &str,
    headers: &HeaderMap,
    body: Vec<u8>,
    timeout: Duration,
    parse: fn(&[u8]) -> Result<Reply, Failure>,
) -> BoxFuture<Result<Reply, Failure>> {
    let (client, url, headers) = (client.clone(), url.to_string(), headers.clone());
    Box::pin(async move {
        let reply = post_json(&client, &url, headers, body, timeout).await?;
        if !reply.ok() {
            return Err(reply.failure());
        }
        parse(&reply.body)
    })
}

/// The answer of an adapter that cannot work as configured (a public API without a key):
/// every request fails at once, saying how to fix it.
pub(crate) fn unconfigured(missing_key: &Option<String>, req: &LlmRequest) -> Option<Local> {
    let how = missing_key.as_ref()?;
    Some(Local::now(Err(LlmError::new(LlmErrorKind::NotConfigured, format!("{}: {how}", req.op)))))
}

/// The largest response body read: far above any model's answer, far below what would
/// strain the process (or the disk cache) holding it.
pub(crate) const MAX_BODY_BYTES: usize = 16 << 20;

/// POSTs a JSON body and reads the whole answer within `timeout`.
pub(crate) async fn post_json(
    client: &reqwest::Client,
    url: &str,
    mut headers: HeaderMap,
    body: Vec<u8>,
    timeout: Duration,
) -> Result<HttpReply, Failure> {
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let response =
        client.post(url).headers(headers).timeout(timeout).body(body).send().await.map_err(|e| classify(e, timeout))?;
    let status = response.status().as_u16();
    let retry_after = retry_after(response.headers());
    if response.content_length().is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(Failure::TooLarge(MAX_BODY_BYTES));
    }
    // Read by chunks, so a server that sends without end costs at most the limit.
    let mut response = response;
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| classify(e, timeout))? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(Failure::TooLarge(MAX_BODY_BYTES));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(HttpReply { status, retry_after, body })
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    // `retry-after-ms` is what OpenAI and Anthropic send for sub-second waits.
    if let Some(ms) =
        headers.get("retry-after-ms").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<f64>().ok())
    {
        if ms.is_finite() && ms >= 0.0 {
            return Some(Duration::from_secs_f64((ms / 1000.0).min(1e9)));
        }
    }
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, SystemTime::now())
}

/// Puts a transport error into words, without the URL (the message adds the base URL itself).
pub(crate) fn classify(error: reqwest::Error, timeout: Duration) -> Failure {
    if error.is_timeout() {
        // The connect phase has its own, shorter limit.
        let limit = if error.is_connect() { timeout.min(MAX_CONNECT_TIMEOUT) } else { timeout };
        return Failure::Timeout(limit);
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return Failure::Refused,
                std::io::ErrorKind::TimedOut => return Failure::Timeout(timeout),
                _ => {}
            }
        }
        source = e.source();
    }
    if error.is_decode() || error.is_body() {
        return Failure::Malformed(chain(&error.without_url()));
    }
    Failure::Connect(chain(&error.without_url()))
}

/// `outer: inner: innermost`, skipping repeats.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source = Some(error);
    while let Some(e) = source {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = e.source();
    }
    parts.join(": ")
}

/// The explanation inside an error body: `{"error": {"message": …}}` (OpenAI, Anthropic),
/// `{"error": "…"}`, `{"message": …}`, or else the start of the text.
pub(crate) fn error_detail(body: &[u8]) -> Option<String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) {
        let found = json
            .pointer("/error/message")
            .or_else(|| json.get("error").filter(|e| e.is_string()))
            .or_else(|| json.get("message"))
            .or_else(|| json.get("detail"))
            .and_then(|v| v.as_str());
        if let Some(text) = found {
            return Some(text.to_string());
        }
    }
    Some(shorten(String::from_utf8_lossy(body).trim(), 200))
}

/// Parses a 2xx body as JSON of shape `T`, or says why it is not.
pub(crate) fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8], expected: &str) -> Result<T, Failure> {
    serde_json::from_slice(body).map_err(|e| {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if text.is_empty() {
            Failure::Malformed("the body is empty".to_string())
        } else if serde_json::from_str::<serde_json::Value>(text).is_err() {
            Failure::Malformed(format!("not JSON ({e}); body starts with {:?}", shorten(text, 60)))
        } else {
            Failure::Malformed(format!("expected {expected} ({e})"))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_details_come_from_the_usual_places() {
        assert_eq!(
            error_detail(br#"{"error":{"message":"Rate limit reached","type":"x"}}"#).as_deref(),
            Some("Rate limit reached")
        );
        assert_eq!(
            error_detail(br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#).as_deref(),
            Some("Overloaded")
        );
        assert_eq!(error_detail(br#"{"error":"model not found"}"#).as_deref(), Some("model not found"));
        assert_eq!(error_detail(b"<html>Bad Gateway</html>").as_deref(), Some("<html>Bad Gateway</html>"));
        assert_eq!(error_detail(b"  \n"), None);
    }

    #[test]
    fn malformed_bodies_say_what_is_wrong() {
        #[derive(serde::Deserialize, Debug)]
        struct Shape {
            #[allow(dead_code)]
            choices: Vec<u8>,
        }
        let not_json = parse_body::<Shape>(b"{\"choices\": [", "x").unwrap_err();
        assert!(matches!(&not_json, Failure::Malformed(m) if m.starts_with("not JSON")), "{not_json:?}");
        let wrong = parse_body::<Shape>(b"{\"nope\": 1}", "a `choices` list").unwrap_err();
        assert!(matches!(&wrong, Failure::Malformed(m) if m.starts_with("expected a `choices` list")), "{wrong:?}");
        assert_eq!(parse_body::<Shape>(b"", "x").unwrap_err(), Failure::Malformed("the body is empty".into()));
    }
}
