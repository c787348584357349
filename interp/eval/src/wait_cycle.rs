//! The wait-for cycle of a deadlock as data: each task on it, what it waits for and where.
//! The deadlock message is printed from this, so tools that read the cycle (the inlay hints
//! of blocked tasks, explore's self-deadlock test) never parse the message back.

use std::fmt;

use crate::error::Loc;

/// The steps of a deadlock, starting with the task whose wait closed the cycle.
#[derive(Clone, Debug, PartialEq)]
pub struct WaitCycle {
    pub steps: Vec<WaitStep>,
}

/// One task on the cycle and what it waits for.
#[derive(Clone, Debug, PartialEq)]
pub struct WaitStep {
    /// The waiting task's label: `main`, `task 2`.
    pub task: String,
    pub waits_for: Waited,
    /// Where the task waits (the acquire or the join).
    pub loc: Option<Loc>,
}

/// What a task on the cycle waits for.
#[derive(Clone, Debug, PartialEq)]
pub enum Waited {
    /// A lock another task (or the waiting task itself) holds.
    Lock { kind: LockKind, name: String, holder: String },
    /// A task to finish (a join): its label.
    Task(String),
    /// A lock no task that can still run will release.
    Unreleased,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockKind {
    /// Taken by calling a serialized procedure.
    Serializer,
    /// Taken by `mutex-acquire`.
    Mutex,
}

impl LockKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LockKind::Serializer => "serializer",
            LockKind::Mutex => "mutex",
        }
    }
}

impl WaitCycle {
    /// `deadlock: STEP; STEP; …`, the error message.
    pub fn message(&self) -> String {
        let steps: Vec<String> = self.steps.iter().map(WaitStep::to_string).collect();
        format!("deadlock: {}", steps.join("; "))
    }

    /// The lock edges of the cycle: one means a task waits for a lock it holds itself (or for
    /// a task it joins, which waits for that lock).
    pub fn lock_edges(&self) -> usize {
        self.steps.iter().filter(|s| matches!(s.waits_for, Waited::Lock { .. })).count()
    }

    /// The names of the locks on the cycle, in cycle order (with repeats).
    pub fn lock_names(&self) -> impl Iterator<Item = &str> {
        self.steps.iter().filter_map(|s| match &s.waits_for {
            Waited::Lock { name, .. } => Some(name.as_str()),
            _ => None,
        })
    }
}

impl fmt::Display for WaitStep {
    /// `task 2 waits for serializer A held by task 1`, `task 1 waits for task 3 to finish`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} waits for ", self.task)?;
        match &self.waits_for {
            Waited::Lock { kind, name, holder } => {
                write!(f, "{} {name} held by {holder}", kind.as_str())?;
                if *holder == self.task {
                    f.write_str(" (serializers are not reentrant)")?;
                }
                Ok(())
            }
            Waited::Task(t) => write!(f, "{t} to finish"),
            Waited::Unreleased => f.write_str("a lock that is never released"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::ops::ControlFlow;

    use super::*;
    use crate::error::{Error, ErrorKind};
    use crate::primitives::testing::{NoLlm, SharedOutput};
    use crate::session::Session;

    /// The last error `program` raised, with the text it was loaded from and the session.
    fn last_error(program: &str, observe: bool) -> (Option<Error>, Session) {
        let mut session = Session::new(Box::new(SharedOutput::default()), Box::new(NoLlm));
        if observe {
            session.observe_races();
        }
        let mut last = None;
        session
            .run_source("<test>", program, |_, form| {
                if let Err(e) = form.result {
                    last = Some(e);
                }
                ControlFlow::Continue(())
            })
            .unwrap();
        (last, session)
    }

    fn text_at(program: &str, loc: Option<Loc>) -> &str {
        let span = loc.expect("a step has a place").span;
        &program[span.start as usize..span.end as usize]
    }

    fn lock(task: &str, kind: LockKind, name: &str, holder: &str) -> (String, Waited) {
        (task.into(), Waited::Lock { kind, name: name.into(), holder: holder.into() })
    }

    fn shape(cycle: &WaitCycle) -> Vec<(String, Waited)> {
        cycle.steps.iter().map(|s| (s.task.clone(), s.waits_for.clone())).collect()
    }

    const CROSSED: &str = "(define a (make-serializer)) (define b (make-serializer))
(parallel (lambda () ((a (lambda () (yield) ((b (lambda () 1)))))))
          (lambda () ((b (lambda () (yield) ((a (lambda () 2))))))))";

    #[test]
    fn a_crossed_order_deadlock_carries_its_cycle_and_prints_it() {
        let (e, _) = last_error(CROSSED, false);
        let e = e.expect("the program deadlocks");
        assert_eq!(e.kind, ErrorKind::Deadlock);
        let cycle = e.cycle.as_deref().expect("a deadlock carries its cycle");
        let s = LockKind::Serializer;
        assert_eq!(shape(cycle), [lock("task 2", s, "a", "task 1"), lock("task 1", s, "b", "task 2")]);
        // The message is the cycle's, behind the task that failed.
        assert_eq!(e.message, format!("parallel: task 2 failed: {}", cycle.message()));
        assert_eq!(cycle.lock_edges(), 2);
        assert_eq!(cycle.lock_names().collect::<Vec<_>>(), ["a", "b"]);
        // Each task waits at the call of the serialized procedure it cannot enter.
        assert_eq!(text_at(CROSSED, cycle.steps[0].loc), "((a (lambda () 2)))");
        assert_eq!(text_at(CROSSED, cycle.steps[1].loc), "((b (lambda () 1)))");
        assert_eq!(e.related[0].loc, cycle.steps[1].loc);
    }

    #[test]
    fn a_self_deadlock_and_a_join_are_steps_too() {
        let (e, _) = last_error("(let ((s (make-serializer))) ((s (lambda () ((s (lambda () 1)))))))", false);
        let e = e.unwrap();
        let cycle = e.cycle.as_deref().unwrap();
        assert_eq!(shape(cycle), [lock("main", LockKind::Serializer, "s", "main")]);
        assert_eq!(e.message, "deadlock: main waits for serializer s held by main (serializers are not reentrant)");
        assert_eq!(cycle.lock_edges(), 1);

        let program = "(define m (make-mutex)) (mutex-acquire m) (parallel (lambda () (mutex-acquire m) 1))";
        let (e, _) = last_error(program, false);
        let e = e.unwrap();
        let cycle = e.cycle.as_deref().unwrap();
        assert_eq!(
            shape(cycle),
            [lock("task 1", LockKind::Mutex, "m", "main"), ("main".into(), Waited::Task("task 1".into()))]
        );
        assert!(e.message.ends_with(&cycle.message()), "{}", e.message);
        assert!(e.message.contains("main waits for task 1 to finish"), "{}", e.message);
        assert_eq!(cycle.lock_edges(), 1);
        assert!(cycle.steps[1].loc.is_some(), "the joining task's place is known");
    }

    #[test]
    fn a_deadlock_the_program_catches_keeps_its_cycle() {
        let program = format!("(guard (e (#t 'caught)) {})", CROSSED.split_once('\n').unwrap().1);
        let program = format!("{}\n{program}", CROSSED.lines().next().unwrap());
        let (e, mut session) = last_error(&program, true);
        assert!(e.is_none(), "the guard catches the deadlock: {e:?}");
        let seen = session.take_deadlocks();
        let cycle = seen[0].cycle.as_deref().expect("the caught deadlock carries its cycle");
        assert_eq!(seen[0].message, cycle.message());
        assert_eq!(cycle.steps[0].loc, seen[0].loc);
        assert_eq!(cycle.lock_names().collect::<Vec<_>>(), ["a", "b"]);
    }
}
