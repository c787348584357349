//! Where each task on a deadlock cycle is blocked, and on what, read from the machine's
//! deadlock error (`… deadlock: task 2 waits for serializer A held by task 1; task 1 waits for
//! serializer B held by task 2`): the task that closed the cycle waits at the error's own
//! place, every other one at its related place (`task 1 is blocked`).

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

/// The blocked places of a deadlock with `message`, whose own place is `here` and whose other
/// tasks' places are `related` (message, place); tasks without a place in the file are left out.
pub fn blocked_places(message: &str, here: Option<Span>, related: &[(String, Option<Span>)]) -> Vec<Blocked> {
    // A task's error may wrap it: `parallel: task 2 failed: deadlock: …`.
    let Some(at) = message.find("deadlock: ") else { return Vec::new() };
    let cycle = &message[at + "deadlock: ".len()..];
    let mut out: Vec<Blocked> = Vec::new();
    for (i, step) in cycle.split("; ").enumerate() {
        let Some((task, rest)) = step.split_once(" waits for ") else { continue };
        if out.iter().any(|b| b.task == task) {
            continue;
        }
        let rest = rest.trim_end_matches(" (serializers are not reentrant)");
        let waits_for = match rest.strip_prefix("serializer ").or_else(|| rest.strip_prefix("mutex ")) {
            Some(lock) => lock.split(" held by ").next().unwrap_or(lock),
            None => rest,
        };
        let span = if i == 0 {
            here
        } else {
            let blocked = format!("{task} is blocked");
            related.iter().find(|(m, _)| *m == blocked).and_then(|(_, s)| *s)
        };
        if let Some(span) = span {
            out.push(Blocked { task: task.to_string(), waits_for: waits_for.to_string(), span });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_task_on_the_cycle_gets_its_place_and_lock() {
        let message = "parallel: task 2 failed: deadlock: task 2 waits for serializer term-a held by task 1; \
                       task 1 waits for serializer term-b held by task 2; task 2 waits for serializer term-a held by task 1";
        let related = vec![("task 1 is blocked".to_string(), Some(Span::new(5, 9)))];
        let b = blocked_places(message, Some(Span::new(20, 30)), &related);
        let labels: Vec<(String, Span)> = b.iter().map(|b| (b.label(), b.span)).collect();
        assert_eq!(
            labels,
            [
                ("task 2 waits for term-a".to_string(), Span::new(20, 30)),
                ("task 1 waits for term-b".into(), Span::new(5, 9))
            ]
        );
    }

    #[test]
    fn self_deadlocks_and_joins_read_too() {
        let m = "deadlock: task 1 waits for serializer s held by task 1 (serializers are not reentrant)";
        assert_eq!(blocked_places(m, Some(Span::new(1, 2)), &[])[0].label(), "task 1 waits for s");
        let m = "deadlock: main waits for mutex m held by task 1; task 1 waits for main to finish";
        let related = vec![("task 1 is blocked".to_string(), Some(Span::new(3, 4)))];
        let labels: Vec<String> =
            blocked_places(m, Some(Span::new(1, 2)), &related).iter().map(Blocked::label).collect();
        assert_eq!(labels, ["main waits for m", "task 1 waits for main to finish"]);
        assert!(blocked_places("car: not a pair", None, &[]).is_empty());
    }
}
