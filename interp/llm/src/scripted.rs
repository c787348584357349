//! Adapter `scripted`: answers from a responses file, for offline demos and tests
//! (docs/language.md §10.4).
//!
//! The file is TOML, or JSON of the same shape when its name ends in `.json`:
//! `default = "…"` (optional) and a list `response` of rules, each with one matcher
//! (`prompt` exact, `contains` substring, `regex` searched) and one outcome (`answer`,
//! `answers` cycling per rule and per run, or `error`), plus optional `delay_ms` and `confidence`.
//! Exact rules are tried first in file order, then `contains`/`regex` rules in file order, then
//! `default`. The file is read at the first request; a missing or invalid file is an LLM error
//! then, reported on every request. Answers are never cached.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use regex::Regex;
use serde::Deserialize;

use super::adapter::{Adapter, AdapterInfo, BoxFuture, Local, Reply, RunCounters};
use super::error::{shorten, Failure, LlmError, LlmErrorKind};
use super::LlmRequest;

pub(crate) struct Scripted {
    info: AdapterInfo,
    path: Option<PathBuf>,
    script: OnceLock<Result<Script, String>>,
}

impl Scripted {
    pub(crate) fn new(path: Option<PathBuf>) -> Scripted {
        Scripted {
            info: AdapterInfo {
                name: "scripted",
                model: "scripted".to_string(),
                base_url: None,
                key_env: None,
                cacheable: false,
                scripted: true,
            },
            path,
            script: OnceLock::new(),
        }
    }

    fn script(&self) -> Result<&Script, String> {
        let loaded = self.script.get_or_init(|| match &self.path {
            None => {
                Err("the scripted adapter needs a responses file; set OMEGA_SCRIPT or llm.script in omega.toml"
                    .to_string())
            }
            Some(path) => Script::load(path)
                .map_err(|why| format!("cannot load scripted responses from {}: {why}", path.display())),
        });
        loaded.as_ref().map_err(Clone::clone)
    }
}

impl Adapter for Scripted {
    fn info(&self) -> &AdapterInfo {
        &self.info
    }

    fn local(&self, req: &LlmRequest, run: &mut RunCounters) -> Option<Local> {
        let script = match self.script() {
            Ok(script) => script,
            Err(why) => {
                return Some(Local::now(Err(LlmError::new(LlmErrorKind::Script, format!("{}: {why}", req.op)))))
            }
        };
        Some(script.respond(req.op, &req.prompt, run))
    }

    fn attempt(&self, _prompt: &str) -> BoxFuture<Result<Reply, Failure>> {
        Box::pin(async { Err(Failure::NotConfigured("the scripted adapter makes no HTTP requests".to_string())) })
    }
}

/// The file as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScriptFile {
    default: Option<String>,
    #[serde(default)]
    response: Vec<RuleFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    prompt: Option<String>,
    contains: Option<String>,
    regex: Option<String>,
    answer: Option<String>,
    answers: Option<Vec<String>>,
    error: Option<String>,
    delay_ms: Option<u64>,
    confidence: Option<f64>,
}

/// The file, checked and compiled.
pub(crate) struct Script {
    default: Option<String>,
    /// Exact-prompt rules first, then the others, each group in file order.
    rules: Vec<Rule>,
}

struct Rule {
    matcher: Matcher,
    outcome: Outcome,
    delay: Duration,
    confidence: Option<f64>,
}

enum Matcher {
    Exact(String),
    Contains(String),
    Regex(Regex),
}

enum Outcome {
    Answers(Vec<String>),
    Error(String),
}

impl Script {
    pub(crate) fn load(path: &std::path::Path) -> Result<Script, String> {
        let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
        let json = path.extension().is_some_and(|ext| ext.eq_ignore_ascii_case("json"));
        Script::parse(&text, json)
    }

    pub(crate) fn parse(text: &str, json: bool) -> Result<Script, String> {
        let file: ScriptFile = if json {
            serde_json::from_str(text).map_err(|e| e.to_string())?
        } else {
            toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())?
        };
        let mut exact = Vec::new();
        let mut others = Vec::new();
        for (i, spec) in file.response.into_iter().enumerate() {
            let rule = Rule::compile(spec).map_err(|why| format!("response #{}: {why}", i + 1))?;
            match rule.matcher {
                Matcher::Exact(_) => exact.push(rule),
                _ => others.push(rule),
            }
        }
        exact.extend(others);
        Ok(Script { default: file.default, rules: exact })
    }

    /// The answer to `prompt`; `answers` cycle per rule and per run (`run`).
    fn respond(&self, op: &str, prompt: &str, run: &mut RunCounters) -> Local {
        for (index, rule) in self.rules.iter().enumerate() {
            let captures = match &rule.matcher {
                Matcher::Exact(p) if p == prompt => None,
                Matcher::Contains(s) if prompt.contains(s.as_str()) => None,
                Matcher::Regex(re) => match re.captures(prompt) {
                    Some(c) => Some(c),
                    None => continue,
                },
                _ => continue,
            };
            let n = run.next_hit(index);
            let result = match &rule.outcome {
                Outcome::Error(text) => Err(LlmError::new(LlmErrorKind::Scripted, format!("{op}: {text}"))),
                Outcome::Answers(answers) => {
                    let template = &answers[n % answers.len()];
                    let text = match captures {
                        Some(c) => {
                            let mut out = String::new();
                            c.expand(template, &mut out);
                            out
                        }
                        None => template.clone(),
                    };
                    Ok(Reply { confidence: rule.confidence, ..Reply::text(text) })
                }
            };
            return Local { result, delay: rule.delay };
        }
        match &self.default {
            Some(answer) => Local::now(Ok(Reply::text(answer.clone()))),
            None => Local::now(Err(LlmError::new(
                LlmErrorKind::Script,
                format!("{op}: scripted adapter has no response for {}", quote(prompt)),
            ))),
        }
    }
}

impl Rule {
    fn compile(spec: RuleFile) -> Result<Rule, String> {
        let matcher = match (spec.prompt, spec.contains, spec.regex) {
            (Some(p), None, None) => Matcher::Exact(p),
            (None, Some(s), None) => Matcher::Contains(s),
            (None, None, Some(r)) => Matcher::Regex(Regex::new(&r).map_err(|e| format!("bad regex: {e}"))?),
            _ => return Err("needs exactly one of `prompt`, `contains` or `regex`".to_string()),
        };
        let outcome = match (spec.answer, spec.answers, spec.error) {
            (Some(a), None, None) => Outcome::Answers(vec![a]),
            (None, Some(list), None) if list.is_empty() => return Err("`answers` is empty".to_string()),
            (None, Some(list), None) => Outcome::Answers(list),
            (None, None, Some(e)) => Outcome::Error(e),
            _ => return Err("needs exactly one of `answer`, `answers` or `error`".to_string()),
        };
        if let Some(c) = spec.confidence {
            if !(c.is_finite() && (0.0..=1.0).contains(&c)) {
                return Err(format!("confidence {c} is outside 0..=1"));
            }
        }
        Ok(Rule {
            matcher,
            outcome,
            delay: Duration::from_millis(spec.delay_ms.unwrap_or(0)),
            confidence: spec.confidence,
        })
    }
}

/// The prompt as `write` would print it (JSON-quoted), shortened if long.
fn quote(prompt: &str) -> String {
    let shown = if prompt.chars().count() > 200 { shorten(prompt, 200) } else { prompt.to_string() };
    serde_json::to_string(&shown).unwrap_or(shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The conformance script, tests/conformance/script.toml (shown in docs/language.md §10.4).
    const CONFORMANCE: &str = r#"
default = "42"                                              # optional: answer when no rule matches
response = [
  { prompt = "Generate introduction", answer = "Introduction..." },    # exact match
  { prompt = "Generate body", answer = "Body content..." },
  { prompt = "Generate conclusion", answer = "Conclusion." },
  { prompt = "vote", answers = ["yes", "no", "yes", "yes"] },
  { contains = "capital of France", answer = "Paris", confidence = 0.9 },
  { regex = '^slow (\w+)$', answer = "S-$1", delay_ms = 300 },
]
"#;

    fn answer(script: &Script, run: &mut RunCounters, prompt: &str) -> String {
        script.respond("infer.op", prompt, run).result.unwrap().text
    }

    #[test]
    fn the_conformance_script_answers_as_specified() {
        let script = Script::parse(CONFORMANCE, false).unwrap();
        let mut run = RunCounters::default();
        assert_eq!(answer(&script, &mut run, "Generate body"), "Body content...");
        assert_eq!(answer(&script, &mut run, "what is 2+2?"), "42");
        let paris = script.respond("int.op", "What is the capital of France?", &mut run);
        assert_eq!(paris.result.as_ref().unwrap().confidence, Some(0.9));
        assert_eq!(paris.delay, Duration::ZERO);
        let slow = script.respond("infer.op", "slow a", &mut run);
        assert_eq!(slow.result.unwrap().text, "S-a");
        assert_eq!(slow.delay, Duration::from_millis(300));
        assert_eq!(answer(&script, &mut run, "slow a b"), "42", "anchored by the pattern itself");
        let votes: Vec<String> = (0..6).map(|_| answer(&script, &mut run, "vote")).collect();
        assert_eq!(votes, ["yes", "no", "yes", "yes", "yes", "no"]);
    }

    #[test]
    fn exact_rules_win_over_earlier_substring_rules() {
        let script = Script::parse(
            r#"response = [ { contains = "a", answer = "substring" }, { prompt = "abc", answer = "exact" }, { regex = "b", answer = "regex" } ]"#,
            false,
        )
        .unwrap();
        let mut run = RunCounters::default();
        assert_eq!(answer(&script, &mut run, "abc"), "exact");
        assert_eq!(answer(&script, &mut run, "xa"), "substring");
        assert_eq!(answer(&script, &mut run, "b"), "regex");
        let err = script.respond("search.op", "zzz", &mut run).result.unwrap_err();
        assert_eq!(err.message, r#"search.op: scripted adapter has no response for "zzz""#);
        assert_eq!(err.kind, LlmErrorKind::Script);
    }

    #[test]
    fn named_groups_errors_and_json() {
        let script = Script::parse(
            r#"{"response": [
                {"regex": "(?P<who>\\w+) says (?P<what>\\w+)", "answers": ["${who}: ${what}", "again ${what}"]},
                {"prompt": "boom", "error": "provider exploded", "delay_ms": 5}
            ]}"#,
            true,
        )
        .unwrap();
        let mut run = RunCounters::default();
        assert_eq!(answer(&script, &mut run, "Ann says hi"), "Ann: hi");
        assert_eq!(answer(&script, &mut run, "Bob says yo"), "again yo");
        let boom = script.respond("infer.op", "boom", &mut run);
        assert_eq!(boom.result.unwrap_err().message, "infer.op: provider exploded");
        assert_eq!(boom.delay, Duration::from_millis(5));
    }

    #[test]
    fn invalid_files_say_where() {
        let bad = |text: &str| Script::parse(text, false).err().unwrap();
        assert_eq!(
            bad(r#"response = [ { answer = "x" } ]"#),
            "response #1: needs exactly one of `prompt`, `contains` or `regex`"
        );
        assert_eq!(bad(r#"response = [ { prompt = "p", answers = [] } ]"#), "response #1: `answers` is empty");
        assert!(bad(r#"response = [ { prompt = "p", answer = "a" }, { regex = "(", answer = "a" } ]"#)
            .starts_with("response #2: bad regex"));
        assert!(bad(r#"response = [ { prompt = "p", answr = "a" } ]"#).contains("answr"));
        assert!(bad("default = ").contains("line 1"));
    }

    #[test]
    fn a_missing_file_is_an_error_at_each_request() {
        let adapter = Scripted::new(Some(PathBuf::from("/nonexistent/answers.toml")));
        for _ in 0..2 {
            let err = adapter.local(&LlmRequest::infer("hi"), &mut RunCounters::default()).unwrap().result.unwrap_err();
            assert!(
                err.message.starts_with("infer.op: cannot load scripted responses from /nonexistent/answers.toml: "),
                "{}",
                err.message
            );
        }
        let err = Scripted::new(None)
            .local(&LlmRequest::infer("hi"), &mut RunCounters::default())
            .unwrap()
            .result
            .unwrap_err();
        assert!(err.message.contains("set OMEGA_SCRIPT"), "{}", err.message);
    }
}
