//! The embedding API: a session holds the global environment and evaluates sources one
//! top-level form at a time, reporting a result and a span per form.
//!
//! The CLI, the REPL and the language server all drive evaluation through this type.

use std::ops::ControlFlow;

use crate::compile::{compile_toplevel, internal_name};
use crate::error::{Error, ErrorKind, Loc};
use crate::primitives::{Ctx, Output};
use crate::reader::{read, SyntaxError};
use crate::symbol::Symbol;
use crate::syntax::{Datum, SourceFile, Span};
use crate::value::{Primitive, Value};
use crate::vm::{CancelToken, Limits, LlmPort, Machine};

/// The result of one top-level form.
pub struct FormResult {
    pub source: u32,
    pub span: Span,
    pub result: Result<Value, Error>,
}

pub struct Session {
    machine: Machine,
    sources: Vec<SourceFile>,
    llm: Box<dyn LlmPort>,
    /// The cancel token is the embedder's (`set_cancel_token`): runs do not reset it.
    shared_cancel: bool,
}

/// Internal procedures the expander's derived forms call.
static INTERNAL: [Primitive; 2] = [
    Primitive {
        name: "#%match-failed",
        min: 1,
        max: Some(1),
        f: |_, args| Err(Error::new(format!("match: no clause matched {}", crate::printer::write_short(&args[0])))),
    },
    Primitive {
        name: "#%match-symbol?",
        min: 2,
        max: Some(2),
        f: |_, args| {
            Ok(Value::Bool(match (&args[0], &args[1]) {
                (Value::Symbol(a), Value::Symbol(b)) => a == b,
                (Value::Str(a), Value::Symbol(b)) => &**a == b.as_str(),
                _ => false,
            }))
        },
    },
];

impl Session {
    /// A session with the built-ins and the prelude loaded; program output goes to `out`,
    /// LLM requests to `llm`.
    pub fn new(out: Box<dyn Output>, llm: Box<dyn LlmPort>) -> Session {
        let mut machine = Machine::new(Ctx::new(out));
        for p in crate::primitives::all().chain(crate::vm::MACHINE_PRIMITIVES.iter()).chain(INTERNAL.iter()) {
            let value = Value::Primitive(p);
            if !p.name.starts_with("#%") {
                machine.define_global(internal_name(p.name), value.clone());
            }
            machine.define_global(Symbol::intern(p.name), value);
        }
        for name in crate::builtins::CONSTANTS {
            machine.define_global(internal_name(name), Value::Null);
            machine.define_global(Symbol::intern(name), Value::Null);
        }
        let mut session = Session { machine, sources: Vec::new(), llm, shared_cancel: false };
        session.load_prelude();
        session
    }

    fn load_prelude(&mut self) {
        let parsed = read(crate::primitives::PRELUDE);
        assert!(parsed.errors.is_empty(), "prelude does not read: {:?}", parsed.errors.first().map(|e| &e.message));
        let id = self.add_source("<prelude>", crate::primitives::PRELUDE);
        for form in &parsed.data {
            let result = compile_toplevel(form, &mut self.machine.expand_env, &mut self.machine.global_names, id, true)
                .and_then(|proto| self.machine.run_toplevel(proto, &mut *self.llm));
            if let Err(e) = result {
                panic!("prelude fails: {}", self.format_error(&e));
            }
        }
    }

    /// The id of source `name` with `text`; running the same text again reuses its entry,
    /// so a kept session re-running a buffer does not grow.
    pub fn add_source(&mut self, name: &str, text: &str) -> u32 {
        if let Some(id) = self.sources.iter().rposition(|s| &*s.name == name && &*s.text == text) {
            return id as u32;
        }
        self.sources.push(SourceFile::new(name, text));
        self.sources.len() as u32 - 1
    }

    pub fn source(&self, id: u32) -> Option<&SourceFile> {
        self.sources.get(id as usize)
    }

    pub fn set_limits(&mut self, limits: Limits) {
        self.machine.limits = limits;
    }

    pub fn limits(&self) -> &Limits {
        &self.machine.limits
    }

    /// A token that stops the running evaluation from any thread.
    pub fn cancel_token(&self) -> CancelToken {
        self.machine.cancel.clone()
    }

    /// Makes `token` the one that stops this session's runs. It stays the embedder's: a run
    /// does not reset it, so one token stops many sessions, and a cancel made before a run
    /// starts stops it too (an exploration's runs, one after another).
    pub fn set_cancel_token(&mut self, token: CancelToken) {
        self.machine.cancel = token;
        self.shared_cancel = true;
    }

    /// Makes `parallel` interleavings reproducible (`--schedule SEED`), and seeds `random`.
    pub fn set_schedule(&mut self, seed: u64) {
        self.machine.set_schedule(seed);
    }

    /// Records accesses to shared state and reports data races ([`Session::take_races`]).
    pub fn observe_races(&mut self) {
        self.machine.observe_races();
    }

    /// The data races observed since the last call, each once.
    pub fn take_races(&mut self) -> Vec<crate::vm::RaceReport> {
        self.machine.take_races()
    }

    /// The deadlocks detected since the last call (with [`Session::observe_races`]), also
    /// those the program caught: a retry loop can hide one.
    pub fn take_deadlocks(&mut self) -> Vec<crate::error::Error> {
        self.machine.take_deadlocks()
    }

    /// Scheduling decisions the seeded scheduler has made so far (PCT's `k` is sized from it).
    pub fn schedule_decisions(&self) -> u64 {
        self.machine.schedule_decisions()
    }

    /// Writes to the program's output (the REPL prints results there).
    pub fn write_output(&mut self, text: &str) {
        self.machine.ctx.out.write_str(text);
    }

    /// Writes out the program's buffered output: why it could not be written, if it could not
    /// (a host reports that as an error: the output a user expects is lost).
    pub fn flush_output(&mut self) -> Option<String> {
        self.machine.ctx.out.flush()
    }

    pub fn steps(&self) -> u64 {
        self.machine.steps
    }

    pub fn global(&self, name: &str) -> Option<Value> {
        self.machine.global(Symbol::intern(name)).cloned()
    }

    /// Evaluates one top-level form of source `source`.
    pub fn eval_form(&mut self, source: u32, form: &Datum) -> Result<Value, Error> {
        let proto =
            compile_toplevel(form, &mut self.machine.expand_env, &mut self.machine.global_names, source, false)?;
        self.machine.run_toplevel(proto, &mut *self.llm)
    }

    /// Reads `text` whole, then evaluates its forms in order, handing each result to
    /// `each`, which may stop the run. A reader error anywhere means nothing runs.
    pub fn run_source(
        &mut self,
        name: &str,
        text: &str,
        mut each: impl FnMut(&mut Session, FormResult) -> ControlFlow<()>,
    ) -> Result<u32, Vec<SyntaxError>> {
        let parsed = read(text);
        let id = self.add_source(name, text);
        if !parsed.errors.is_empty() {
            return Err(parsed.errors);
        }
        // Each run (a file, a REPL input, a buffer) has the whole step, time, memory and LLM
        // call budget, and is cancelled only by a cancel made while it runs.
        if !self.shared_cancel {
            self.machine.cancel.reset();
        }
        self.machine.start_budget();
        self.llm.start_run();
        for form in &parsed.data {
            let result = self.eval_form(id, form);
            if each(self, FormResult { source: id, span: form.span, result }).is_break() {
                break;
            }
        }
        Ok(id)
    }

    /// `FILE:LINE:COL` of a location.
    pub fn location(&self, loc: Loc) -> String {
        match self.source(loc.source) {
            Some(src) => src.location(loc.span.start as usize),
            None => "<eval>".to_string(),
        }
    }

    /// An error as the command line shows it: `FILE:LINE:COL: error: MESSAGE`, then the
    /// call stack, one `  at NAME (FILE:LINE:COL)` line per frame.
    pub fn format_error(&self, e: &Error) -> String {
        let mut out = match e.loc {
            Some(loc) => format!("{}: error: {}", self.location(loc), e.message),
            None => format!("error: {}", e.message),
        };
        if e.kind != ErrorKind::Syntax {
            self.push_stack(&mut out, "  ", &e.stack);
        }
        for r in &e.related {
            match r.loc {
                Some(loc) => out.push_str(&format!("\n  {} at {}", r.message, self.location(loc))),
                None => out.push_str(&format!("\n  {}", r.message)),
            }
            self.push_stack(&mut out, "    ", &r.stack);
        }
        // A NUL byte (from a string in the program) would cut the message short in a terminal.
        out.replace('\0', "\\0")
    }

    fn push_stack(&self, out: &mut String, indent: &str, stack: &[crate::error::StackFrame]) {
        for frame in stack {
            match frame.loc {
                Some(loc) => out.push_str(&format!("\n{indent}at {} ({})", frame.name, self.location(loc))),
                None => out.push_str(&format!("\n{indent}at {}", frame.name)),
            }
        }
    }

    /// A reader error as `FILE:LINE:COL: error: MESSAGE`.
    pub fn format_syntax_error(source: &SourceFile, e: &SyntaxError) -> String {
        format!("{}: error: {}", source.location(e.span.start as usize), e.message)
    }
}
