//! Where each task on a deadlock cycle is blocked, and on what, read from the cycle the
//! machine's deadlock error carries as data ([`WaitCycle`]): the task that closed the cycle
//! waits at the error's own place, every other one where its step says.

use omega_eval::error::{Error, Loc, WaitCycle, Waited};
use omega_syntax::syntax::Span;

/// One task on the cycle: `{task} waits for {waits_for}` at `span`.
#[derive(Clone, Debug, PartialEq)]
pub struct Blocked {
    pub task: String,
    /// A serializer or mutex name, or `task 3 to finish` for a join.
    pub waits_for: String,
    pub span: Span,
}

impl Blocked {
    /// `task 2 waits for term-a-serializer`.
    pub fn label(&self) -> String {
        format!("{} waits for {}", self.task, self.waits_for)
    }
}

/// The blocked places of deadlock error `e`; `here` maps a place to its span in the file
/// shown (tasks without a place there are left out). Empty for errors without a cycle.
pub fn blocked_places(e: &Error, here: impl Fn(Option<Loc>) -> Option<Span>) -> Vec<Blocked> {
    match &e.cycle {
        Some(cycle) => cycle_places(cycle, here(e.loc), here),
        None => Vec::new(),
    }
}

/// The blocked places of `cycle`: its first task at `first`, the others at their own place.
fn cycle_places(cycle: &WaitCycle, first: Option<Span>, here: impl Fn(Option<Loc>) -> Option<Span>) -> Vec<Blocked> {
    let mut out: Vec<Blocked> = Vec::new();
    for (i, step) in cycle.steps.iter().enumerate() {
        if out.iter().any(|b| b.task == step.task) {
            continue;
        }
        let waits_for = match &step.waits_for {
            Waited::Lock { name, .. } => name.clone(),
            Waited::Task(t) => format!("{t} to finish"),
            Waited::Unreleased => "a lock that is never released".to_string(),
        };
        let span = if i == 0 { first } else { here(step.loc) };
        if let Some(span) = span {
            out.push(Blocked { task: step.task.clone(), waits_for, span });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use omega_eval::error::{ErrorKind, LockKind, WaitStep};

    use super::*;

    fn at(start: usize, end: usize) -> Option<Loc> {
        Some(Loc { source: 0, span: Span::new(start, end) })
    }

    fn lock(task: &str, name: &str, holder: &str, loc: Option<Loc>) -> WaitStep {
        let waits_for = Waited::Lock { kind: LockKind::Serializer, name: name.into(), holder: holder.into() };
        WaitStep { task: task.into(), waits_for, loc }
    }

    fn in_file(loc: Option<Loc>) -> Option<Span> {
        loc.filter(|l| l.source == 0).map(|l| l.span)
    }

    fn labels(e: &Error) -> Vec<(String, Span)> {
        blocked_places(e, in_file).iter().map(|b| (b.label(), b.span)).collect()
    }

    #[test]
    fn each_task_on_the_cycle_gets_its_place_and_lock() {
        let steps = vec![lock("task 2", "term-a", "task 1", at(20, 30)), lock("task 1", "term-b", "task 2", at(5, 9))];
        let mut e = Error::deadlock(WaitCycle { steps });
        // The error's own place wins for the task that closed the cycle; a wrapped message is no matter.
        e.loc = at(21, 29);
        e.message = format!("parallel: task 2 failed: {}", e.message);
        assert_eq!(
            labels(&e),
            [
                ("task 2 waits for term-a".to_string(), Span::new(21, 29)),
                ("task 1 waits for term-b".into(), Span::new(5, 9))
            ]
        );
    }

    #[test]
    fn self_deadlocks_joins_and_places_elsewhere_read_too() {
        let mut e = Error::deadlock(WaitCycle { steps: vec![lock("task 1", "s", "task 1", None)] });
        e.loc = at(1, 2);
        assert_eq!(labels(&e), [("task 1 waits for s".to_string(), Span::new(1, 2))]);

        let join = WaitStep { task: "task 1".into(), waits_for: Waited::Task("main".into()), loc: at(3, 4) };
        let other_file = Some(Loc { source: 7, span: Span::new(8, 9) });
        let steps = vec![lock("main", "m", "task 1", None), join, lock("task 3", "n", "main", other_file)];
        let mut e = Error::deadlock(WaitCycle { steps });
        e.loc = at(1, 2);
        let found: Vec<String> = labels(&e).into_iter().map(|(l, _)| l).collect();
        assert_eq!(found, ["main waits for m", "task 1 waits for main to finish"]);

        let mut plain = Error::with_kind(ErrorKind::Deadlock, "deadlock: task 1 waits for serializer s held by task 2");
        plain.loc = at(1, 2);
        assert!(blocked_places(&plain, in_file).is_empty(), "the message alone is not read");
    }
}
