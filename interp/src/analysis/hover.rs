//! Lock-order notes for hover (design §5.4): on a serializer's name, the order the file
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

use super::identity::{CollId, Lock};
use super::key_order::{direction, Direction};
use super::report::Context;
use super::resolve::{BindingId, BindingKind};
use super::run::Acquire;

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
    for (id, made) in named {
        if made.len() != 1 {
            continue;
        }
        let lock = Lock::Made(made[0]);
        out.push(note_for(ctx, diags, id, &lock));
    }
    for (coll, name) in &ctx.run.coll_names {
        let CollId::Def(id) = coll else { continue };
        if let Some(text) = collection_note(ctx, *coll, name, *id) {
            out.push(LockOrderNote { binding: *id, name: name.clone(), text });
        }
    }
    out.sort_by(|a, b| (a.binding, &a.name).cmp(&(b.binding, &b.name)));
    out.dedup_by(|a, b| a.binding == b.binding);
    out
}

fn note_for(ctx: &Context<'_>, diags: &[Diagnostic], id: BindingId, lock: &Lock) -> LockOrderNote {
    let name = ctx.lock(lock);
    let mut seen: BTreeSet<Seen> = BTreeSet::new();
    let mut gates: BTreeMap<String, Vec<BTreeSet<String>>> = BTreeMap::new();
    for e in &ctx.run.acquires {
        let task = task_label(ctx, e);
        if &e.lock == lock {
            for h in e.held.iter().filter(|h| &h.lock != lock && h.lock != Lock::Unknown) {
                let other = ctx.lock(&h.lock);
                seen.insert(Seen { line: ctx.line(e.token), rel: Rel::After, other: other.clone(), task: task.clone() });
                gates.entry(other).or_default().push(others_held(ctx, e, lock, &h.lock));
            }
        } else if e.lock != Lock::Unknown && e.held.iter().any(|h| &h.lock == lock) {
            let other = ctx.lock(&e.lock);
            seen.insert(Seen { line: ctx.line(e.token), rel: Rel::Before, other: other.clone(), task: task.clone() });
            gates.entry(other).or_default().push(others_held(ctx, e, lock, &e.lock));
        }
    }
    let defined = ctx.res.binding(id).span.map_or(0, |s| ctx.line(s));
    let mut parts = Vec::new();
    let mut last_other: Option<&str> = None;
    for s in &seen {
        let rel = if s.rel == Rel::Before { "before" } else { "after" };
        let other = if last_other == Some(s.other.as_str()) { "it".to_string() } else { format!("`{}`", s.other) };
        let task = if s.task.is_empty() { String::new() } else { format!(" ({})", s.task) };
        parts.push(format!("{rel} {other} at line {}{task}", s.line));
        last_other = Some(&s.other);
    }
    let verdict = verdict(diags, &name, &seen, &gates);
    let text = if parts.is_empty() {
        let reentry = diags.iter().find(|d| {
            d.code == Code::SelfDeadlock && d.severity <= crate::diagnostic::Severity::Warning && d.data.locks.iter().any(|l| *l == name)
        });
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
fn others_held(ctx: &Context<'_>, e: &Acquire, a: &Lock, b: &Lock) -> BTreeSet<String> {
    e.held
        .iter()
        .filter(|h| &h.lock != a && &h.lock != b && !matches!(h.lock, Lock::Unknown | Lock::Param { .. }))
        .map(|h| ctx.lock(&h.lock))
        .collect()
}

fn verdict(
    diags: &[Diagnostic],
    name: &str,
    seen: &BTreeSet<Seen>,
    gates: &BTreeMap<String, Vec<BTreeSet<String>>>,
) -> String {
    let names = |d: &&Diagnostic| d.data.locks.iter().any(|l| l == name);
    if diags.iter().filter(names).any(|d| d.code == Code::DeadlockOrder) {
        return "possible deadlock".into();
    }
    if diags.iter().filter(names).any(|d| d.code == Code::SelfDeadlock && d.severity <= crate::diagnostic::Severity::Warning) {
        return "deadlock: requested again while held".into();
    }
    let inverted: Vec<&String> = gates
        .keys()
        .filter(|o| seen.iter().any(|s| &s.other == *o && s.rel == Rel::Before) && seen.iter().any(|s| &s.other == *o && s.rel == Rel::After))
        .collect();
    if inverted.is_empty() {
        return "one consistent order".into();
    }
    if diags.iter().filter(names).any(|d| d.code == Code::LockOrderLatent) {
        return "inverted, but never in tasks that run at the same time".into();
    }
    for other in inverted {
        let sets = &gates[other];
        let mut common = sets[0].clone();
        for s in &sets[1..] {
            common = common.intersection(s).cloned().collect();
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
fn collection_note(ctx: &Context<'_>, coll: CollId, name: &str, id: BindingId) -> Option<String> {
    let mut dirs = Vec::new();
    let mut lines = BTreeSet::new();
    for e in ctx.run.acquires.iter().filter(|e| e.lock.coll() == Some(coll)) {
        for h in e.held.iter().filter(|h| h.lock.coll() == Some(coll)) {
            if let (Some(a), Some(b)) = (h.lock.key(), e.lock.key()) {
                if a != b {
                    dirs.push(direction(&e.facts, a, b));
                    lines.insert(ctx.line(e.token));
                }
            }
        }
    }
    let defined = ctx.res.binding(id).span.map_or(0, |s| ctx.line(s));
    if dirs.is_empty() {
        return Some(format!("`{name}` (line {defined}): serializers fetched by key, never two at once"));
    }
    let at: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    let order = if dirs.iter().all(|d| matches!(d, Direction::Asc | Direction::AscEq)) {
        "always nested in ascending key order".to_string()
    } else if dirs.iter().all(|d| matches!(d, Direction::Desc | Direction::DescEq)) {
        "always nested in descending key order".to_string()
    } else {
        "nested in no provable key order: two tasks with swapped keys can deadlock".to_string()
    };
    Some(format!("`{name}` (line {defined}): serializers fetched by key, {order} (line {})", at.join(", ")))
}

/// The note for the binding under the cursor (a define's name or a reference to it).
pub fn note_at<'n>(notes: &'n [LockOrderNote], res: &super::Resolution, offset: usize) -> Option<&'n LockOrderNote> {
    let b = res.definition_at(offset)?;
    notes.iter().find(|n| n.binding == b.id)
}
