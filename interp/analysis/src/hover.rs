//! Lock-order notes for hover: on a serializer's name, the order the file
//! shows it in, one line of plain facts with the verdict at the end:
//!
//! "`term-a-serializer` (line 4): before `term-b-serializer` at line 11 (task 1), after it at
//! line 17 (task 2): possible deadlock".
//!
//! Notes are computed with the diagnostics and kept as plain text, so a language server can
//! answer hovers from a snapshot without re-running the analysis.

use std::collections::{BTreeMap, BTreeSet};

use crate::diagnostic::{Code, Diagnostic};
use crate::symbol::Symbol;

use super::identity::{CollId, LockId};
use super::interpret::Acquire;
use super::key_order::{direction, Direction};
use super::report::Context;
use super::resolve::{BindingId, BindingKind};

/// The hover note of one serializer (or collection of keyed serializers) of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockOrderNote {
    /// The top-level binding that names it.
    pub binding: BindingId,
    pub name: String,
    /// One line, names in backticks.
    pub text: String,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Rel {
    Before,
    After,
}

/// One observed nesting with another serializer.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Seen {
    line: usize,
    rel: Rel,
    other: String,
    task: String,
}

/// What the file shows about one serializer: its nestings, the other serializers held at
/// each (gate candidates, by the other serializer of the nesting; named only when a verdict
/// needs them), the findings naming it.
#[derive(Default)]
struct Facts<'d> {
    seen: BTreeSet<Seen>,
    gates: BTreeMap<String, Vec<Vec<LockId>>>,
    diags: Vec<&'d Diagnostic>,
}

/// Held-set entries copied into gates over the file.
const MAX_WORK: usize = 200_000;

pub fn notes(ctx: &Context<'_>, diags: &[Diagnostic]) -> Vec<LockOrderNote> {
    let mut out = Vec::new();
    // Serializers a top-level define names (one per name: numbered families are skipped).
    let mut named: BTreeMap<BindingId, Vec<u32>> = BTreeMap::new();
    for (m, name) in ctx.run.made_names.iter().enumerate() {
        let Some(name) = name else { continue };
        let Some(id) = ctx.res.toplevel(Symbol::intern(name)) else { continue };
        if ctx.res.binding(id).kind == BindingKind::TopLevel {
            named.entry(id).or_default().push(m as u32);
        }
    }
    let mut facts: BTreeMap<u32, Facts<'_>> =
        named.values().filter(|m| m.len() == 1).map(|m| (m[0], Facts::default())).collect();
    // One pass over the events: each nesting is a fact about both of its serializers.
    // Each nesting copies the other held names: quadratic in the held set, so bounded.
    let mut work = 0usize;
    for e in &ctx.run.acquires {
        work += e.held.len() * e.held.len();
        if work > MAX_WORK {
            ctx.stop.exhausted("hover notes");
            break;
        }
        let task = task_label(ctx, e);
        let line = ctx.line(e.token);
        for h in &e.held {
            let (LockId::Made(outer), LockId::Made(inner)) = (&h.lock, &e.lock) else { continue };
            if outer == inner {
                continue;
            }
            for (me, other, rel) in [(*inner, &h.lock, Rel::After), (*outer, &e.lock, Rel::Before)] {
                if let Some(f) = facts.get_mut(&me) {
                    let other_name = ctx.lock(other);
                    f.seen.insert(Seen { line, rel, other: other_name.clone(), task: task.clone() });
                    f.gates.entry(other_name).or_default().push(others_held(e, &h.lock, &e.lock));
                }
            }
        }
    }
    let by_name: BTreeMap<String, u32> = facts.keys().map(|m| (ctx.lock(&LockId::Made(*m)), *m)).collect();
    for d in diags {
        for l in &d.data.locks {
            if let Some(f) = by_name.get(l).and_then(|m| facts.get_mut(m)) {
                f.diags.push(d);
            }
        }
    }
    for (id, made) in named {
        if let Some(f) = made.first().filter(|_| made.len() == 1).and_then(|m| facts.get(m)) {
            out.push(note_for(ctx, id, &LockId::Made(made[0]), f));
        }
    }
    // Keyed nestings inside one collection, by collection: (direction, line).
    let mut keyed: BTreeMap<CollId, Vec<(Direction, usize)>> = BTreeMap::new();
    for e in &ctx.run.acquires {
        let Some(coll) = e.lock.coll() else { continue };
        for h in e.held.iter().filter(|h| h.lock.coll() == Some(coll)) {
            if let (Some(a), Some(b)) = (h.lock.key(), e.lock.key()) {
                if a != b {
                    keyed.entry(coll).or_default().push((direction(&e.facts, a, b), ctx.line(e.token)));
                }
            }
        }
    }
    for (coll, name) in &ctx.run.coll_names {
        let CollId::Def(id) = coll else { continue };
        let text = collection_note(ctx, name, *id, keyed.get(coll).map_or(&[], Vec::as_slice));
        out.push(LockOrderNote { binding: *id, name: name.clone(), text });
    }
    out.sort_by(|a, b| (a.binding, &a.name).cmp(&(b.binding, &b.name)));
    out.dedup_by(|a, b| a.binding == b.binding);
    out
}

fn note_for(ctx: &Context<'_>, id: BindingId, lock: &LockId, facts: &Facts<'_>) -> LockOrderNote {
    let name = ctx.lock(lock);
    let seen = &facts.seen;
    let defined = ctx.res.binding(id).span.map_or(0, |s| ctx.line(s));
    let mut parts = Vec::new();
    let mut last_other: Option<&str> = None;
    for s in seen {
        let rel = if s.rel == Rel::Before { "before" } else { "after" };
        let other = if last_other == Some(s.other.as_str()) { "it".to_string() } else { format!("`{}`", s.other) };
        let task = if s.task.is_empty() { String::new() } else { format!(" ({})", s.task) };
        parts.push(format!("{rel} {other} at line {}{task}", s.line));
        last_other = Some(&s.other);
    }
    let verdict = verdict(ctx, &facts.diags, seen, &facts.gates);
    let text = if parts.is_empty() {
        let reentry = facts
            .diags
            .iter()
            .find(|d| d.code == Code::SelfDeadlock && d.severity <= crate::diagnostic::Severity::Warning);
        match reentry {
            Some(d) => format!(
                "`{name}` (line {defined}): never nested with another serializer; deadlock: requested again while held (line {})",
                ctx.line(d.span)
            ),
            None => format!("`{name}` (line {defined}): never nested with another serializer"),
        }
    } else {
        format!("`{name}` (line {defined}): {}: {verdict}", parts.join(", "))
    };
    LockOrderNote { binding: id, name, text }
}

/// Serializers held at a nesting besides the two it orders: gate candidates.
fn others_held(e: &Acquire, a: &LockId, b: &LockId) -> Vec<LockId> {
    e.held
        .iter()
        .filter(|h| &h.lock != a && &h.lock != b && !matches!(h.lock, LockId::Unknown | LockId::Param { .. }))
        .map(|h| h.lock.clone())
        .collect()
}

fn verdict(
    ctx: &Context<'_>,
    diags: &[&Diagnostic],
    seen: &BTreeSet<Seen>,
    gates: &BTreeMap<String, Vec<Vec<LockId>>>,
) -> String {
    if diags.iter().any(|d| d.code == Code::DeadlockOrder) {
        return "possible deadlock".into();
    }
    if diags.iter().any(|d| d.code == Code::SelfDeadlock && d.severity <= crate::diagnostic::Severity::Warning) {
        return "deadlock: requested again while held".into();
    }
    let inverted: Vec<&String> = gates
        .keys()
        .filter(|o| {
            seen.iter().any(|s| &s.other == *o && s.rel == Rel::Before)
                && seen.iter().any(|s| &s.other == *o && s.rel == Rel::After)
        })
        .collect();
    if inverted.is_empty() {
        return "one consistent order".into();
    }
    if diags.iter().any(|d| d.code == Code::LockOrderLatent) {
        return "inverted, but never in tasks that run at the same time".into();
    }
    let names = |locks: &[LockId]| -> BTreeSet<String> { locks.iter().map(|l| ctx.lock(l)).collect() };
    for other in inverted {
        let sets = &gates[other];
        let mut common = names(&sets[0]);
        for s in &sets[1..] {
            let these = names(s);
            common.retain(|name| these.contains(name));
        }
        if let Some(gate) = common.iter().next() {
            return format!("inverted, always under `{gate}`");
        }
    }
    "inverted, but no two tasks can run both orders at once".into()
}

fn task_label(ctx: &Context<'_>, e: &Acquire) -> String {
    if e.latent {
        "in code nothing calls".into()
    } else if e.task.is_empty() {
        String::new()
    } else {
        ctx.task_name(&e.task, &[])
    }
}

/// "always nested in ascending key order" for a collection of keyed serializers.
fn collection_note(ctx: &Context<'_>, name: &str, id: BindingId, nestings: &[(Direction, usize)]) -> String {
    let defined = ctx.res.binding(id).span.map_or(0, |s| ctx.line(s));
    if nestings.is_empty() {
        return format!("`{name}` (line {defined}): serializers fetched by key, never two at once");
    }
    let lines: BTreeSet<usize> = nestings.iter().map(|(_, l)| *l).collect();
    let at: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    let order = if nestings.iter().all(|(d, _)| matches!(d, Direction::Asc | Direction::AscEq)) {
        "always nested in ascending key order"
    } else if nestings.iter().all(|(d, _)| matches!(d, Direction::Desc | Direction::DescEq)) {
        "always nested in descending key order"
    } else {
        "nested in no provable key order: two tasks with swapped keys can deadlock"
    };
    format!("`{name}` (line {defined}): serializers fetched by key, {order} (line {})", at.join(", "))
}

/// The note for the binding under the cursor (a define's name or a reference to it).
pub fn note_at<'n>(notes: &'n [LockOrderNote], res: &super::Resolution, offset: usize) -> Option<&'n LockOrderNote> {
    let b = res.definition_at(offset)?;
    notes.iter().find(|n| n.binding == b.id)
}
