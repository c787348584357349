//! Running programs in a fresh session, as the REPL would, and capturing what it prints.

use std::cell::RefCell;
use std::ops::ControlFlow;
use std::path::Path;
use std::rc::Rc;

use omega_eval::printer::write_string;
use omega_eval::value::Value;
use omega_eval::Output;
use omega_eval::Session;
use omega_llm::config::{AdapterKind, LlmConfig};
use omega_llm::Runtime;

/// Output shared with the test that reads it.
#[derive(Clone, Default)]
pub struct Captured(pub Rc<RefCell<String>>);

impl Output for Captured {
    fn write_str(&mut self, text: &str) {
        self.0.borrow_mut().push_str(text);
    }
}

/// What one run printed.
pub struct Run {
    /// The program's output.
    pub output: String,
    /// Per top-level form: `Some("=> VALUE")`, `Some("error: MESSAGE")`, or `None` when
    /// the REPL prints nothing (an unspecified value).
    pub results: Vec<Option<String>>,
    /// Reader errors, if the text did not read.
    pub syntax_errors: Vec<String>,
}

/// A configuration for the scripted adapter with responses file `script`.
pub fn scripted(script: &Path) -> LlmConfig {
    let mut cfg = LlmConfig::new(AdapterKind::Scripted);
    cfg.script = Some(script.to_path_buf());
    cfg.no_cache = true;
    cfg
}

/// A session over `cfg`, with its output captured.
pub fn session(cfg: &LlmConfig) -> (Session, Captured) {
    let out = Captured::default();
    let session = Runtime::new(cfg).expect("a valid LLM configuration").session(Box::new(out.clone()));
    (session, out)
}

/// Runs `text` form by form in `session`, as the REPL prints results.
pub fn run_in(session: &mut Session, out: &Captured, text: &str) -> Run {
    let mut results = Vec::new();
    let read = session.run_source("<test>", text, |_, r| {
        results.push(match r.result {
            Ok(Value::Unspecified) => None,
            Ok(v) => Some(format!("=> {}", write_string(&v))),
            Err(e) => Some(format!("error: {}", e.message)),
        });
        ControlFlow::Continue(())
    });
    let syntax_errors = read.err().unwrap_or_default().into_iter().map(|e| e.message).collect();
    Run { output: out.0.borrow().clone(), results, syntax_errors }
}

/// Runs `text` in a fresh session over `cfg`.
pub fn run(cfg: &LlmConfig, text: &str) -> Run {
    let (mut s, out) = session(cfg);
    run_in(&mut s, &out, text)
}

/// A copy of the scripted answers `script` without their `delay_ms` (which only make an example
/// look like a real LLM at work), in a file of this process: for runs that measure the
/// evaluator, not sleeps.
pub fn without_delays(script: &Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(script).unwrap();
    let undelayed: Vec<String> = text
        .lines()
        .map(|l| match l.find(", delay_ms = ") {
            Some(i) => format!("{}{}", &l[..i], &l[l[i..].find(" }").map_or(l.len(), |j| i + j)..]),
            None => l.to_string(),
        })
        .collect();
    let undelayed = undelayed.join("\n");
    assert!(!undelayed.contains("delay_ms"), "a delay this does not remove: {undelayed}");
    let name = script.file_stem().unwrap().to_string_lossy();
    let path = std::env::temp_dir().join(format!("omega-{name}-undelayed-{}.toml", std::process::id()));
    std::fs::write(&path, undelayed).unwrap();
    path
}
