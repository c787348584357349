//! Wording shared by the concurrency findings: task names, lines, trace steps (docs/language.md §9),
//! and the `omega::serializer-not-called` report.

use crate::diagnostic::{Code, Diagnostic, Fix, Related};
use crate::syntax::{Datum, LineIndex, Span};

use super::identity::LockId;
use super::interpret::{Run, TraceStep};
use super::resolve::Resolution;
use super::tasks::{divergence, Branch, SpawnKind, Step};

/// What the reporting passes read.
pub struct Context<'a> {
    pub text: &'a str,
    pub lines: &'a LineIndex,
    pub run: &'a Run,
    /// The top-level forms and their resolution, for fixes that rewrite code.
    pub data: &'a [Datum],
    pub res: &'a Resolution,
    /// Cancellation and budgets shared by the passes.
    pub stop: &'a super::budget::Stop,
}

impl Context<'_> {
    /// 1-based line of an offset.
    pub fn line(&self, span: Span) -> usize {
        self.lines.line(span.start as usize) + 1
    }

    pub fn lock(&self, lock: &LockId) -> String {
        self.run.lock_name(lock)
    }

    /// Whether a lock stands for several serializers (made once per element of a list of
    /// unknown length): two acquisitions of it may take two different ones.
    pub fn is_family(&self, lock: &LockId) -> bool {
        matches!(lock, LockId::Made(m) if self.run.made_family.get(*m as usize).copied().unwrap_or(false))
    }

    /// A lock for a message: `` `name` ``, plus its key when it is a keyed one with a
    /// literal key (`` `dst` (key "drafts") ``).
    pub fn lock_ref(&self, lock: &LockId) -> String {
        match lock.key() {
            Some(k @ super::identity::Term::Lit(_)) => format!("`{}` (key {k})", self.lock(lock)),
            _ => format!("`{}`", self.lock(lock)),
        }
    }

    /// The source text of a span.
    pub fn slice(&self, span: Span) -> Option<&str> {
        self.text.get(span.range())
    }

    /// How the task on path `of` is called, seen from the task on path `from`: "task 2",
    /// "another `parallel-map` task of `f`", or "this task" when they do not diverge.
    pub fn task_name(&self, of: &[Step], from: &[Step]) -> String {
        match divergence(of, from) {
            Some(i) => self.step_name(&of[i], of == from),
            None => match of.last() {
                Some(step) if of.len() > from.len() => self.step_name(step, false),
                _ => "this task".into(),
            },
        }
    }

    fn step_name(&self, step: &Step, same: bool) -> String {
        match step.branch {
            Branch::Index(i) => format!("task {i}"),
            Branch::Star => {
                let spawn = &self.run.spawns[step.site as usize];
                let of = spawn.proc_name.as_ref().map(|n| format!(" of `{n}`")).unwrap_or_default();
                if same {
                    format!("another `parallel-map` task{of}")
                } else {
                    format!("a `parallel-map` task{of}")
                }
            }
        }
    }

    /// "two `parallel-map` tasks of `f`" for a task family, else the task's own name.
    pub fn family_name(&self, path: &[Step]) -> String {
        match path.iter().rev().find(|s| s.branch == Branch::Star) {
            Some(step) => {
                let spawn = &self.run.spawns[step.site as usize];
                let of = spawn.proc_name.as_ref().map(|n| format!(" of `{n}`")).unwrap_or_default();
                format!("two `parallel-map` tasks{of}")
            }
            None => self.task_name(path, &[]),
        }
    }

    /// The span where a task starts (its branch expression), if it is a spawned task.
    pub fn task_start(&self, path: &[Step]) -> Option<Span> {
        let step = path.last()?;
        let spawn = &self.run.spawns[step.site as usize];
        match step.branch {
            Branch::Index(i) if spawn.kind == SpawnKind::Parallel => spawn.branches.get(i as usize - 1).copied(),
            _ => spawn.branches.first().copied(),
        }
    }

    /// The spawn where two paths part, with the branch names of both.
    pub fn spawn_between(&self, a: &[Step], b: &[Step]) -> Option<(Span, SpawnKind)> {
        let i = divergence(a, b)?;
        let spawn = &self.run.spawns[a[i].site as usize];
        Some((spawn.head, spawn.kind))
    }

    /// "task 1 calls `holding-both` with `memo-serializer`, `audit-serializer`".
    pub fn step_message(&self, task: &str, step: &TraceStep) -> String {
        let callee = step.callee.map(|c| format!("`{c}`")).unwrap_or_else(|| "a procedure".into());
        if let Some(lock) = &step.runs {
            return format!("{task} runs {callee}, serialized by `{}`", self.lock(lock));
        }
        if step.locks.is_empty() {
            format!("{task} calls {callee}")
        } else {
            let names: Vec<String> = step.locks.iter().map(|l| format!("`{}`", self.lock(l))).collect();
            format!("{task} calls {callee} with {}", names.join(", "))
        }
    }

    /// Related entries for a task's path: its start when the event lies outside it, then each
    /// call on the way.
    pub fn path_related(&self, task: &str, path: &[Step], trace: &[TraceStep], event: Span) -> Vec<Related> {
        let mut out = Vec::new();
        let outside = self.task_start(path).is_some_and(|s| !(s.start <= event.start && event.end <= s.end));
        if trace.is_empty() && !outside {
            return out;
        }
        if let Some(start) = self.task_start(path) {
            if trace.first().is_none_or(|t| t.span != start) {
                out.push(Related { span: start, message: format!("{task} starts here") });
            }
        }
        for step in trace {
            out.push(Related { span: step.span, message: self.step_message(task, step) });
        }
        out
    }
}

/// `omega::serializer-not-called`: `(s p)` built and dropped.
pub fn serializer_not_called(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    for (&(expr, token), lock) in &ctx.run.not_called {
        let name = ctx.slice(token).unwrap_or("s");
        let mut d = Diagnostic::warning(
            Code::SerializerNotCalled,
            expr,
            format!("this serialized procedure is built but never called: `({name} p)` acquires `{name}` only when it is called, as in `(({name} p))`"),
        );
        d.data.locks = vec![ctx.lock(lock)];
        if ctx.slice(expr).is_some() {
            d.fixes.push(Fix {
                title: "call the serialized procedure".into(),
                edits: vec![
                    (Span { start: expr.start, end: expr.start }, "(".into()),
                    (Span { start: expr.end, end: expr.end }, ")".into()),
                ],
                preferred: true,
            });
        }
        out.push(d);
    }
}
