//! `omega::self-deadlock` (docs/language.md §9): a task asks for a serializer it holds (nesting,
//! recursion, a stored serialized procedure, one serializer passed twice), or joins tasks that
//! need a serializer it holds. No concurrency is needed: the first run hangs.

use std::collections::BTreeSet;

use crate::diagnostic::{Code, Diagnostic, Related, Severity};
use crate::syntax::Span;

use super::identity::{LockId, Same};
use super::interpret::{Acquire, Held};
use super::key_order::Prover;
use super::report::Context;

pub fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    let mut seen: BTreeSet<(Span, String)> = BTreeSet::new();
    // A ring of procedures, each taking its own serializer and calling the next, comes back
    // to every serializer of the ring: one finding per ring (the set of serializers taken
    // between the first acquisition and the second), not one per serializer or path.
    let mut rings: BTreeSet<Vec<String>> = BTreeSet::new();
    for e in &ctx.run.acquires {
        let prover = Prover::new(&e.facts);
        for (i, h) in e.held.iter().enumerate() {
            let mut same = e.lock.same(&h.lock, |a, b| prover.distinct(a, b));
            if same == Same::No || param_guess(&e.lock, &h.lock, same) {
                continue;
            }
            let family = same == Same::Yes && ctx.is_family(&e.lock);
            if family {
                same = Same::Maybe;
            }
            let mut ring: Vec<String> = e.held[i..].iter().map(|h| ctx.lock(&h.lock)).collect();
            ring.sort();
            ring.dedup();
            if ring.len() > 1 && rings.contains(&ring) {
                continue;
            }
            let d = nested(ctx, e, h, same, family);
            if ring.len() > 1 {
                rings.insert(ring);
            }
            if seen.insert((d.span, d.message.clone())) {
                out.push(d);
            }
        }
        for j in e.joined.iter() {
            if e.lock.same(&j.held.lock, |a, b| prover.distinct(a, b)) != Same::Yes || ctx.is_family(&e.lock) {
                continue;
            }
            let d = joined(ctx, e, &j.held, j.spawn);
            if seen.insert((d.span, d.message.clone())) {
                out.push(d);
            }
        }
    }
}

/// Two different parameters of an uncalled procedure are not worth a note.
fn param_guess(a: &LockId, b: &LockId, same: Same) -> bool {
    same == Same::Maybe && (matches!(a, LockId::Param { .. }) || matches!(b, LockId::Param { .. }))
}

fn severity(e: &Acquire, same: Same) -> Severity {
    if e.latent || same == Same::Maybe {
        Severity::Information
    } else if e.may {
        Severity::Warning
    } else {
        Severity::Error
    }
}

fn nested(ctx: &Context<'_>, e: &Acquire, h: &Held, same: Same, family: bool) -> Diagnostic {
    let name = ctx.lock(&e.lock);
    let held_name = ctx.lock(&h.lock);
    let severity = severity(e, same);
    // The point in the holding task that leads to the second acquisition.
    let primary = e.trace.get(h.trace_len).map_or(e.token, |s| s.span);
    let message = if family {
        format!(
            "`{name}` stands for several serializers (one per element); if this acquires the one this task already holds, it waits for itself"
        )
    } else if same == Same::Maybe {
        match (h.lock.key(), e.lock.key()) {
            (Some(k1), Some(k2)) => format!(
                "if `{}` equals `{}`, `{held_name}` and `{name}` are the same serializer: this task would wait for itself",
                ctx.run.term_name(k1),
                ctx.run.term_name(k2)
            ),
            _ => format!("if `{held_name}` and `{name}` are the same serializer, this task waits for itself"),
        }
    } else if e.may {
        format!("possible deadlock: `{name}` may be acquired again while this task already holds it (serializers are not reentrant)")
    } else {
        format!("deadlock: `{name}` is acquired again while this task already holds it (serializers are not reentrant)")
    };
    let mut d = Diagnostic::new(Code::SelfDeadlock, severity, primary, message);
    d.related.push(Related { span: h.token, message: format!("`{held_name}` is first acquired here") });
    if primary != e.token {
        for step in e.trace.iter().skip(h.trace_len + 1) {
            d.related.push(Related { span: step.span, message: ctx.step_message("this task", step) });
        }
        d.related.push(Related { span: e.token, message: "and acquired again here".into() });
    }
    d.data.locks = vec![name];
    d.data.trace = ctx.path_related("this task", &e.task, &e.trace, e.token);
    d
}

fn joined(ctx: &Context<'_>, e: &Acquire, h: &Held, spawn: Span) -> Diagnostic {
    let name = ctx.lock(&e.lock);
    let severity = severity(e, Same::Yes);
    let what = ctx.slice(spawn).unwrap_or("parallel");
    let mut d = Diagnostic::new(
        Code::SelfDeadlock,
        severity,
        spawn,
        format!("deadlock: this `{what}` waits for tasks that need `{name}`, which the waiting task holds"),
    );
    d.related.push(Related { span: h.token, message: format!("`{name}` is acquired here before the tasks start") });
    d.related
        .push(Related { span: e.token, message: format!("a task acquires `{name}` here, so it waits for its parent") });
    d.data.locks = vec![name];
    d
}
