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
