//! `omega::race` (docs/language.md §9): two accesses to one shared location, at least one a write, from
//! concurrent tasks, with no serializer certainly held by both.
//!
//! An object or variable is only shared with tasks started after it was made, so accesses
//! made by the creating task itself are never concurrent with its children's and are dropped;
//! this is also what keeps private copies (`read-table`) out of the report.

use std::collections::BTreeMap;

use crate::diagnostic::{Code, Diagnostic, Fix, Related};

use super::identity::{LockId, Same};
use super::interpret::{Access, Place};
use super::report::Context;
use super::tasks::concurrent;

/// Accesses kept per location (deduplicated first); bounds the pair search.
const MAX_ACCESSES: usize = 64;

pub fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    let mut by_loc: BTreeMap<Place, Vec<&Access>> = BTreeMap::new();
    for a in &ctx.run.accesses {
        let Some(info) = ctx.run.locs.get(&a.loc) else { continue };
        // Only tasks below the creator can share it.
        if a.task.len() <= info.task.len() || a.task[..info.task.len()] != info.task[..] {
            continue;
        }
        let list = by_loc.entry(a.loc).or_default();
        let dup = list
            .iter()
            .any(|b| b.span == a.span && b.write == a.write && b.task == a.task && b.held.len() == a.held.len());
        if !dup && list.len() < MAX_ACCESSES {
            list.push(a);
        }
    }
    for (loc, accesses) in by_loc {
        let base = ctx.run.locs[&loc].task.len();
        let region = ctx.run.locs[&loc].region;
        let mut best: Option<(bool, u32, usize, usize)> = None;
        for i in 0..accesses.len() {
            for j in i..accesses.len() {
                let (a, b) = (accesses[i], accesses[j]);
                if !(a.write || b.write) || !concurrent(&a.task[base..], &b.task[base..]) || common_lock(a, b) {
                    continue;
                }
                if !same_member(ctx, region, &a.task[base..], &b.task[base..]) {
                    continue;
                }
                // Primary: a write, preferring write/write pairs, then the later write.
                let (p, o) = if b.write && (b.span.start >= a.span.start || !a.write) { (j, i) } else { (i, j) };
                let key = (a.write && b.write, accesses[p].span.start, p, o);
                if best.as_ref().is_none_or(|k| (key.0, key.1) > (k.0, k.1)) {
                    best = Some(key);
                }
            }
        }
        if let Some((_, _, p, o)) = best {
            out.push(report(ctx, loc, base, accesses[p], accesses[o], &accesses));
        }
    }
}

/// A location made in code that stands for several runs (a `map` over a list of unknown
/// length) is one of several objects: two tasks touch the same one only when they were
/// started within that same run, i.e. by a spawn of the same region.
fn same_member(ctx: &Context<'_>, region: u32, a: &[super::tasks::Step], b: &[super::tasks::Step]) -> bool {
    if region == 0 {
        return true;
    }
    match super::tasks::divergence(a, b) {
        Some(i) => ctx.run.spawns[a[i].site as usize].region == region,
        None => true,
    }
}

/// Whether some serializer is certainly held at both accesses. A side holding a lock the
/// analysis cannot name (a parameter of an uncalled procedure, a mutex) counts as protected:
/// silence rather than a guess (see `identity::LockId::Unknown`).
fn common_lock(a: &Access, b: &Access) -> bool {
    let opaque = |x: &Access| x.held.iter().any(|h| matches!(h.lock, LockId::Param { .. } | LockId::Unknown));
    if opaque(a) || opaque(b) {
        return true;
    }
    a.held.iter().any(|x| {
        b.held.iter().any(|y| {
            let same = x.lock.same(&y.lock, |s, t| s.is_ground() && t.is_ground() && s != t);
            // A keyed serializer taken by a variable key names one serializer per task.
            same == Same::Yes && (x.lock.key().is_none_or(|k| k.is_ground()) || a.task == b.task)
        })
    })
}

fn holding(ctx: &Context<'_>, a: &Access) -> String {
    match a.held.last() {
        None => "holding no serializer".into(),
        Some(_) => {
            let names: Vec<String> = a.held.iter().map(|h| format!("`{}`", ctx.lock(&h.lock))).collect();
            format!("holding {}", names.join(", "))
        }
    }
}

fn report(ctx: &Context<'_>, loc: Place, base: usize, p: &Access, o: &Access, all: &[&Access]) -> Diagnostic {
    let name = ctx.run.loc_name(loc);
    let (pt, ot) = (&p.task[base..], &o.task[base..]);
    let same_event = std::ptr::eq(p, o);
    let ptask = ctx.task_name(pt, ot);
    let otask = if same_event { ctx.task_name(ot, ot) } else { ctx.task_name(ot, pt) };
    let verb = |a: &Access| if a.write { "writes" } else { "reads" };
    let (ph, oh) = (holding(ctx, p), holding(ctx, o));
    let message = if same_event {
        let verb = if p.write { "write" } else { "read" };
        format!("data race on `{name}`: {} {verb} it here {ph}", ctx.family_name(pt))
    } else {
        let also = if ph == oh { String::new() } else { format!(" {oh}") };
        format!(
            "data race on `{name}`: {ptask} {} it here {ph}, and {otask} also {} it (line {}){also}",
            verb(p),
            verb(o),
            ctx.line(o.span)
        )
    };
    let mut d = Diagnostic::warning(Code::Race, p.span, message);
    if !same_event {
        d.related.push(Related { span: o.span, message: format!("{otask} {} `{name}` here {oh}", verb(o)) });
    }
    let sides: &[(&String, &Access, &[super::tasks::Step])] =
        if same_event { &[(&ptask, p, pt)] } else { &[(&otask, o, ot), (&ptask, p, pt)] };
    for &(task, a, path) in sides {
        d.related.extend(ctx.path_related(task, path, &a.trace, a.span));
    }
    if let Some((spawn, _)) = ctx.spawn_between(pt, ot).or_else(|| ctx.spawn_between(pt, pt)) {
        let what = ctx.slice(spawn).unwrap_or("parallel");
        d.related.push(Related { span: spawn, message: format!("the tasks are started by this `{what}`") });
    }
    // "other accesses hold `s`" when most do.
    let mut counts: BTreeMap<String, (usize, u32)> = BTreeMap::new();
    for a in all {
        for h in &a.held {
            let e = counts.entry(ctx.lock(&h.lock)).or_insert((0, a.span.start));
            e.0 += 1;
        }
    }
    if let Some((lock, (n, at))) = counts.into_iter().max_by_key(|(_, (n, _))| *n) {
        if n * 2 > all.len() {
            let span = all.iter().find(|a| a.span.start == at).map(|a| a.span).unwrap_or(p.span);
            d.related
                .push(Related { span, message: format!("other accesses hold `{lock}` (line {})", ctx.line(span)) });
        }
    }
    if let Some(fix) = wrap_fix(ctx, p, o, all) {
        d.fixes.push(fix);
    }
    d.data.state = Some(name);
    if !p.trace.is_empty() {
        d.data.trace = p.trace.iter().map(|s| Related { span: s.span, message: ctx.step_message(&ptask, s) }).collect();
        d.data
            .trace
            .push(Related { span: p.span, message: format!("{ptask} {} `{}` here", verb(p), ctx.run.loc_name(loc)) });
    }
    d
}

/// "Wrap in `s`" for the side that holds no serializer, when the other side (or most
/// accesses) hold one with a top-level name.
fn wrap_fix(ctx: &Context<'_>, p: &Access, o: &Access, all: &[&Access]) -> Option<Fix> {
    let named = |a: &Access| -> Option<String> {
        a.held.iter().rev().find_map(|h| match h.lock {
            LockId::Made(_) => Some(ctx.lock(&h.lock)),
            _ => None,
        })
    };
    let (bare, lock) = match (named(p), named(o)) {
        (Some(l), None) if o.held.is_empty() => (o, l),
        (None, Some(l)) if p.held.is_empty() => (p, l),
        _ => {
            let mut counts: BTreeMap<String, usize> = BTreeMap::new();
            for a in all {
                if let Some(l) = named(a) {
                    *counts.entry(l).or_default() += 1;
                }
            }
            let (l, n) = counts.into_iter().max_by_key(|(_, n)| *n)?;
            let bare = [p, o].into_iter().find(|a| a.held.is_empty())?;
            if n * 2 <= all.len() {
                return None;
            }
            (bare, l)
        }
    };
    let id = ctx.res.toplevel(crate::symbol::Symbol::intern(&lock))?;
    if ctx.res.binding(id).kind != super::resolve::BindingKind::TopLevel {
        return None;
    }
    super::fixes::wrap_in_serializer(ctx, bare.span, &lock)
}
