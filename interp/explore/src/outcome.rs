//! One run of the program under one schedule, and what it left behind: its error, the data
//! races it showed, each task's output and the final values of the top-level variables.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::rc::Rc;

use omega_eval::error::{ErrorKind, Loc, WaitCycle};
use omega_eval::printer::write_string;
use omega_eval::{CancelToken, Limits, Output, RaceReport};
use omega_llm::Runtime;
use omega_syntax::syntax::Span;

use crate::blocked::{blocked_places, Blocked};

/// A failure of the run, as `omega run` would print it.
pub struct Failure {
    pub deadlock: bool,
    /// The first line of the error (`deadlock: task 2 waits for …`).
    pub message: String,
    /// The whole text `omega run --schedule SEED` prints on stderr.
    pub text: String,
    pub span: Option<Span>,
    /// Where the other tasks on a deadlock cycle are blocked.
    pub related: Vec<(String, Option<Span>)>,
    /// A deadlock's cycle of waiting tasks.
    pub cycle: Option<WaitCycle>,
    /// Where each task on a deadlock's cycle is blocked, in this file.
    pub blocked: Vec<Blocked>,
}

pub struct Outcome {
    pub seed: u64,
    pub failure: Option<Failure>,
    pub races: Vec<(RaceReport, Option<Span>, Option<Span>)>,
    /// Output by task label: the order within a task matters, the interleaving of tasks not.
    pub output: BTreeMap<String, String>,
    /// Printed final value of each top-level variable the file defines.
    pub finals: BTreeMap<String, String>,
    pub decisions: u64,
    /// LLM answers that were stand-ins (no cached or scripted answer).
    pub stand_ins: u64,
    /// The run was cancelled: what it left says nothing about the program.
    pub cancelled: bool,
}

/// Program output split by the task that wrote it.
struct TaskOutput {
    task: String,
    by_task: Rc<RefCell<BTreeMap<String, String>>>,
}

impl Output for TaskOutput {
    fn write_str(&mut self, text: &str) {
        self.by_task.borrow_mut().entry(self.task.clone()).or_default().push_str(text);
    }

    fn task_switched(&mut self, task: &str) {
        if self.task != task {
            self.task = task.to_string();
        }
    }
}

impl Outcome {
    pub fn run(
        runtime: &Runtime,
        name: &str,
        text: &str,
        seed: u64,
        limits: &Limits,
        live: bool,
        cancel: Option<&CancelToken>,
    ) -> Outcome {
        let by_task = Rc::new(RefCell::new(BTreeMap::new()));
        let out = Box::new(TaskOutput { task: "main".into(), by_task: by_task.clone() });
        let (mut session, counts) = if live {
            (runtime.session(out), None)
        } else {
            let (s, counts) = runtime.stand_in_session(out, seed);
            (s, Some(counts))
        };
        session.set_limits(limits.clone());
        if let Some(token) = cancel {
            session.set_cancel_token(token.clone());
        }
        session.set_schedule(seed);
        session.observe_races();
        let mut failure = None;
        let mut source = None;
        let mut cancelled = false;
        let _ = session.run_source(name, text, |s, r| {
            source = Some(r.source);
            match r.result {
                Ok(_) => ControlFlow::Continue(()),
                Err(e) => {
                    cancelled = e.kind == ErrorKind::Cancelled;
                    if !matches!(e.kind, ErrorKind::Exit(_) | ErrorKind::Cancelled) {
                        failure = Some(Failure {
                            deadlock: e.kind == ErrorKind::Deadlock,
                            message: e.message.clone(),
                            text: s.format_error(&e),
                            span: span_in(e.loc, r.source),
                            related: e.related.iter().map(|x| (x.message.clone(), span_in(x.loc, r.source))).collect(),
                            cycle: e.cycle.as_deref().cloned(),
                            blocked: blocked_places(&e, |loc| span_in(loc, r.source)),
                        });
                    }
                    ControlFlow::Break(())
                }
            }
        });
        let source = source.unwrap_or(u32::MAX);
        if failure.as_ref().is_none_or(|f| !f.deadlock) {
            // A deadlock the program caught (a retry loop): still a deadlock.
            if let Some(e) = session.take_deadlocks().into_iter().next() {
                failure = Some(Failure {
                    deadlock: true,
                    message: e.message.clone(),
                    text: format!("{} (caught by the program)", session.format_error(&e)),
                    span: span_in(e.loc, source),
                    related: e.related.iter().map(|x| (x.message.clone(), span_in(x.loc, source))).collect(),
                    cycle: e.cycle.as_deref().cloned(),
                    blocked: blocked_places(&e, |loc| span_in(loc, source)),
                });
            }
        }
        let races = session
            .take_races()
            .into_iter()
            .map(|r| {
                let (a, b) = (span_in(r.first.loc, source), span_in(r.second.loc, source));
                (r, a, b)
            })
            .collect();
        let finals = top_level_names(text)
            .into_iter()
            .filter_map(|n| session.global(&n).map(|v| (n, unnamed_serializers(&write_string(&v)))))
            .collect();
        let output = by_task.borrow().clone();
        Outcome {
            seed,
            failure,
            races,
            output,
            finals,
            decisions: session.schedule_decisions(),
            stand_ins: counts.map_or(0, |c| c.stand_ins.get()),
            cancelled,
        }
    }
}

/// A printed value with serializers shown as `#<serializer>`: a serializer takes the name of
/// the first variable it is acquired through, which depends on the schedule, not the outcome.
fn unnamed_serializers(printed: &str) -> String {
    let mut out = String::with_capacity(printed.len());
    let mut rest = printed;
    while let Some(i) = rest.find("#<serializer ") {
        out.push_str(&rest[..i]);
        out.push_str("#<serializer>");
        rest = &rest[i..];
        rest = rest.find('>').map_or("", |j| &rest[j + 1..]);
    }
    out.push_str(rest);
    out
}

/// The span of a location in the explored file (not in the prelude).
fn span_in(loc: Option<Loc>, source: u32) -> Option<Span> {
    loc.filter(|l| l.source == source).map(|l| l.span)
}

/// The variables the file's top-level `define`s name (procedures included: redefining one is
/// an outcome too).
pub fn top_level_names(text: &str) -> Vec<String> {
    let parsed = omega_syntax::reader::read(text);
    let mut names = Vec::new();
    for form in &parsed.data {
        let Some(items) = form.as_list() else { continue };
        if items.len() < 2 || !items[0].is_symbol("define") {
            continue;
        }
        let target = match items[1].as_list() {
            Some(header) => header.first().and_then(|h| h.as_symbol()),
            None => items[1].as_symbol(),
        };
        if let Some(sym) = target {
            let name = sym.as_str().to_string();
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}

/// Where a defined variable is defined.
pub fn define_span(text: &str, name: &str) -> Option<Span> {
    let parsed = omega_syntax::reader::read(text);
    parsed.data.iter().find_map(|form| {
        let items = form.as_list()?;
        let target = items.get(1)?;
        let sym = target.as_symbol().or_else(|| target.as_list()?.first()?.as_symbol())?;
        (items[0].is_symbol("define") && sym.as_str() == name).then_some(target.span)
    })
}
