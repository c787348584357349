//! Lock-order cycles (docs/language.md §9): `omega::deadlock-order` when the acquisitions of a
//! cycle can run in concurrent tasks holding no common serializer, `omega::lock-order-latent`
//! when only the concurrency is missing.
//!
//! Nodes are serializers; one collection's keyed serializers share a node, and the edges
//! inside it are judged by the key order the guards prove.

use std::collections::{BTreeMap, BTreeSet};

use crate::diagnostic::{Code, Diagnostic, Fix, Related, Severity};
use crate::syntax::Span;

use super::identity::{CollId, LockId, Same};
use super::interpret::{Acquire, Held};
use super::key_order::{self, direction, Direction, Fact, Prover, Rel};
use super::report::Context;
use super::tasks::concurrent;

const MAX_CYCLE: usize = 4;
const MAX_CHOICES: usize = 64;
/// Cycles examined per file: a dense lock graph (every serializer nested in every other)
/// has a number of short cycles that grows with the fourth power of its size.
const MAX_CYCLES: usize = 2_000;
/// Nesting choices tried over all cycles of a file.
const MAX_TRIES: usize = 40_000;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Node {
    Made(u32),
    Coll(CollId),
    Param(String, usize),
}

/// The graph node of a lock; a lock the analysis cannot name has none (`identity::LockId::Unknown`).
fn node(lock: &LockId) -> Option<Node> {
    match lock {
        LockId::Made(m) => Some(Node::Made(*m)),
        LockId::Keyed { coll, .. } => Some(Node::Coll(*coll)),
        LockId::Param { proc, index, .. } => Some(Node::Param(proc.to_string(), *index)),
        LockId::Unknown => None,
    }
}

/// One nesting: event `ev` acquires its lock while holding `held[h]`.
#[derive(Clone, Copy, Debug)]
struct Edge {
    ev: usize,
    h: usize,
}

struct Graph<'r> {
    events: &'r [Acquire],
    /// Edges between distinct nodes, by (from, to).
    edges: BTreeMap<(Node, Node), Vec<Edge>>,
    /// Keyed nestings inside one collection.
    inner: BTreeMap<CollId, Vec<Edge>>,
}

impl<'r> Graph<'r> {
    fn ev(&self, e: Edge) -> &'r Acquire {
        &self.events[e.ev]
    }
    fn held(&self, e: Edge) -> &'r Held {
        &self.events[e.ev].held[e.h]
    }
}

fn build(events: &[Acquire]) -> Graph<'_> {
    let mut g = Graph { events, edges: BTreeMap::new(), inner: BTreeMap::new() };
    for (i, e) in events.iter().enumerate() {
        let prover = Prover::new(&e.facts);
        for (h, held) in e.held.iter().enumerate() {
            if e.lock.same(&held.lock, |a, b| prover.distinct(a, b)) == Same::Yes {
                continue; // self-deadlock, reported elsewhere
            }
            let (Some(from), Some(to)) = (node(&held.lock), node(&e.lock)) else { continue };
            let edge = Edge { ev: i, h };
            if from == to {
                if let Node::Coll(c) = from {
                    g.inner.entry(c).or_default().push(edge);
                }
                continue;
            }
            g.edges.entry((from, to)).or_default().push(edge);
        }
    }
    for list in g.edges.values_mut().chain(g.inner.values_mut()) {
        list.sort_by_key(|e| (events[e.ev].trace.len(), events[e.ev].token.start, e.h));
    }
    g
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    let g = build(&ctx.run.acquires);
    let mut reported: BTreeSet<Vec<String>> = BTreeSet::new();
    let mut latent: BTreeSet<Vec<String>> = BTreeSet::new();
    let name_of = |n: &Node| -> String {
        match n {
            Node::Made(m) => ctx.lock(&LockId::Made(*m)),
            Node::Coll(c) => ctx.run.coll_names.get(c).cloned().unwrap_or_default(),
            Node::Param(p, i) => format!("{p}#{i}"),
        }
    };
    let (found, complete) = cycles(&g, &name_of);
    if !complete {
        ctx.stop.exhausted("lock-order search");
    }
    let mut tries = 0;
    // One finding per set of serializers: a cycle through the same ones in another order
    // adds no news.
    let mut settled: BTreeSet<Vec<Node>> = BTreeSet::new();
    for cycle in found {
        if tries >= MAX_TRIES {
            ctx.stop.exhausted("lock-order search");
            break;
        }
        if ctx.stop.cancelled() {
            return;
        }
        let mut set = cycle.clone();
        set.sort();
        if settled.contains(&set) {
            continue;
        }
        let lists: Vec<&Vec<Edge>> =
            (0..cycle.len()).map(|i| &g.edges[&(cycle[i].clone(), cycle[(i + 1) % cycle.len()].clone())]).collect();
        // Through a family node the two ends may be different serializers: latent at most.
        let family = cycle.iter().any(|n| matches!(n, Node::Made(m) if ctx.is_family(&LockId::Made(*m))));
        let choice = choose(&g, &lists, &mut tries);
        if matches!(choice, Choice::Feasible(_)) {
            settled.insert(set);
        }
        match choice {
            Choice::Feasible(choice) if family => {
                let d = latent_report(ctx, &g, &choice);
                if latent.insert(d.data.locks.clone()) {
                    out.push(d);
                }
            }
            Choice::Feasible(choice) => {
                let d = deadlock_report(ctx, &g, &choice);
                let key = d.data.locks.clone();
                if reported.insert(key) {
                    out.push(d);
                }
            }
            Choice::Sequential(choice) => {
                let d = latent_report(ctx, &g, &choice);
                if latent.insert(d.data.locks.clone()) {
                    out.push(d);
                }
            }
            Choice::None => {}
        }
    }
    for edges in g.inner.values() {
        keyed(ctx, &g, edges, &mut reported, &mut latent, out);
    }
    // A latent note for a lock set that also has a real finding adds nothing.
    out.retain(|d| d.code != Code::LockOrderLatent || !reported.contains(&d.data.locks));
}

/// Elementary cycles of length ≤ 4 in strongly connected components, each found once from its
/// smallest node by name; at most [`MAX_CYCLES`] of them, and whether that was all.
fn cycles(g: &Graph<'_>, name_of: &dyn Fn(&Node) -> String) -> (Vec<Vec<Node>>, bool) {
    let mut nodes: BTreeSet<Node> = BTreeSet::new();
    for (a, b) in g.edges.keys() {
        nodes.insert(a.clone());
        nodes.insert(b.clone());
    }
    let mut named: Vec<(String, Node)> = nodes.into_iter().map(|n| (name_of(&n), n)).collect();
    named.sort();
    let order: Vec<Node> = named.into_iter().map(|(_, n)| n).collect();
    let ranks: BTreeMap<&Node, usize> = order.iter().enumerate().map(|(i, n)| (n, i)).collect();
    let rank = |n: &Node| ranks[n];
    let mut succ: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (a, b) in g.edges.keys() {
        succ.entry(rank(a)).or_default().push(rank(b));
    }
    for v in succ.values_mut() {
        v.sort();
        v.dedup();
    }
    let scc = tarjan(order.len(), &succ);
    let mut out = Vec::new();
    // Shortest first: when the budget cuts the search, the cycles kept are the plainest.
    for len in 2..=MAX_CYCLE {
        for start in 0..order.len() {
            let mut path = vec![start];
            dfs(start, start, len, &succ, &scc, &mut path, &mut out);
        }
    }
    let complete = out.len() < MAX_CYCLES;
    let found = out.into_iter().map(|c: Vec<usize>| c.into_iter().map(|i| order[i].clone()).collect()).collect();
    (found, complete)
}

fn dfs(
    start: usize,
    at: usize,
    len: usize,
    succ: &BTreeMap<usize, Vec<usize>>,
    scc: &[usize],
    path: &mut Vec<usize>,
    out: &mut Vec<Vec<usize>>,
) {
    for &next in succ.get(&at).map(Vec::as_slice).unwrap_or(&[]) {
        if out.len() >= MAX_CYCLES {
            return;
        }
        if scc[next] != scc[start] {
            continue;
        }
        if next == start && path.len() == len {
            out.push(path.clone());
        } else if next > start && !path.contains(&next) && path.len() < len {
            path.push(next);
            dfs(start, next, len, succ, scc, path, out);
            path.pop();
        }
    }
}

/// Strongly connected component index of each node (iterative Tarjan).
fn tarjan(n: usize, succ: &BTreeMap<usize, Vec<usize>>) -> Vec<usize> {
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut comp = vec![usize::MAX; n];
    let mut stack = Vec::new();
    let mut next = 0;
    let mut ncomp = 0;
    let empty = Vec::new();
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        let mut work: Vec<(usize, usize)> = vec![(root, 0)];
        while let Some(&mut (v, ref mut i)) = work.last_mut() {
            if *i == 0 && index[v] == usize::MAX {
                index[v] = next;
                low[v] = next;
                next += 1;
                stack.push(v);
                on_stack[v] = true;
            }
            let s = succ.get(&v).unwrap_or(&empty);
            if *i < s.len() {
                let w = s[*i];
                *i += 1;
                if index[w] == usize::MAX {
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
            } else {
                work.pop();
                if let Some(&(u, _)) = work.last() {
                    low[u] = low[u].min(low[v]);
                }
                if low[v] == index[v] {
                    while let Some(w) = stack.pop() {
                        on_stack[w] = false;
                        comp[w] = ncomp;
                        if w == v {
                            break;
                        }
                    }
                    ncomp += 1;
                }
            }
        }
    }
    comp
}

enum Choice {
    Feasible(Vec<Edge>),
    /// Every choice that passes F2 and F3 fails only F1: the tasks never overlap.
    Sequential(Vec<Edge>),
    None,
}

/// Picks one nesting per cycle edge: tasks pairwise concurrent (F1), held sets pairwise
/// disjoint (F2), keys consistent where the cycle passes through a collection (F3).
fn choose(g: &Graph<'_>, lists: &[&Vec<Edge>], tries: &mut usize) -> Choice {
    let mut tried = 0;
    let mut sequential = None;
    let mut chosen = Vec::new();
    let found = search(g, lists, &mut chosen, &mut tried, &mut sequential);
    *tries += tried;
    if found {
        return Choice::Feasible(chosen);
    }
    match sequential {
        Some(s) => Choice::Sequential(s),
        None => Choice::None,
    }
}

fn search(
    g: &Graph<'_>,
    lists: &[&Vec<Edge>],
    chosen: &mut Vec<Edge>,
    tried: &mut usize,
    seq: &mut Option<Vec<Edge>>,
) -> bool {
    let k = chosen.len();
    if k == lists.len() {
        let concurrent_all = pairs(chosen).all(|(a, b)| {
            let (ea, eb) = (g.ev(a), g.ev(b));
            !ea.latent && !eb.latent && concurrent(&ea.task, &eb.task)
        });
        if concurrent_all {
            return true;
        }
        if seq.is_none() {
            *seq = Some(chosen.clone());
        }
        return false;
    }
    for &e in lists[k].iter() {
        if *tried >= MAX_CHOICES {
            return false;
        }
        *tried += 1;
        let ok = chosen.iter().all(|&c| disjoint(g, c, e))
            && keys_meet(g, chosen.last().copied(), e)
            && (k + 1 != lists.len() || keys_meet(g, Some(e), chosen.first().copied().unwrap_or(e)));
        if !ok {
            continue;
        }
        chosen.push(e);
        if search(g, lists, chosen, tried, seq) {
            return true;
        }
        chosen.pop();
    }
    false
}

fn pairs(v: &[Edge]) -> impl Iterator<Item = (Edge, Edge)> + '_ {
    (0..v.len()).flat_map(move |i| (i + 1..v.len()).map(move |j| (v[i], v[j])))
}

/// F2: no serializer is certainly held by both nestings (a gate suppresses the cycle).
fn disjoint(g: &Graph<'_>, a: Edge, b: Edge) -> bool {
    let (ea, eb) = (g.ev(a), g.ev(b));
    !ea.held.iter().any(|x| {
        eb.held.iter().any(|y| {
            let same = x.lock.same(&y.lock, |s, t| s.is_ground() && t.is_ground() && s != t);
            same == Same::Yes && (x.lock.key().is_none_or(|k| k.is_ground()) || ea.task == eb.task)
        })
    })
}

/// F3: where the cycle passes through a collection, the key taken by one nesting can be the
/// key held by the next.
fn keys_meet(g: &Graph<'_>, prev: Option<Edge>, next: Edge) -> bool {
    let Some(prev) = prev else { return true };
    match (g.ev(prev).lock.key(), g.held(next).lock.key()) {
        (Some(a), Some(b)) => !(a.is_ground() && b.is_ground() && a != b),
        _ => true,
    }
}

/// The order most nestings of the file use between two nodes: true if `a` before `b` wins.
fn majority(g: &Graph<'_>, a: &Node, b: &Node) -> Option<bool> {
    let ab = g.edges.get(&(a.clone(), b.clone())).map_or(0, Vec::len);
    let ba = g.edges.get(&(b.clone(), a.clone())).map_or(0, Vec::len);
    match ab.cmp(&ba) {
        std::cmp::Ordering::Greater => Some(true),
        std::cmp::Ordering::Less => Some(false),
        std::cmp::Ordering::Equal => None,
    }
}

/// The nesting to point at: against the majority order, else the later one.
fn primary_index(ctx: &Context<'_>, g: &Graph<'_>, choice: &[Edge]) -> usize {
    let mut best = 0;
    let mut best_key = (false, 0u32, 0u32);
    for (i, &e) in choice.iter().enumerate() {
        let ev = g.ev(e);
        let against = match (node(&g.held(e).lock), node(&ev.lock)) {
            (Some(from), Some(to)) => majority(g, &from, &to) == Some(false),
            _ => false,
        };
        let start = ctx.task_start(&ev.task).map_or(0, |s| s.start);
        let key = (against, ev.token.start, start);
        if i == 0 || key > best_key {
            best = i;
            best_key = key;
        }
    }
    best
}

fn deadlock_report(ctx: &Context<'_>, g: &Graph<'_>, choice: &[Edge]) -> Diagnostic {
    let p = primary_index(ctx, g, choice);
    let pe = g.ev(choice[p]);
    let ph = g.held(choice[p]);
    let names: Vec<String> = choice.iter().map(|&e| ctx.lock(&g.held(e).lock)).collect();
    let mut locks: Vec<String> = names.clone();
    locks.extend(choice.iter().map(|&e| ctx.lock(&g.ev(e).lock)));
    locks.sort();
    locks.dedup();
    let message = if choice.len() == 2 {
        let other = choice[1 - p];
        let oe = g.ev(other);
        format!(
            "possible deadlock: {} is acquired while holding {}, but {} takes them in the opposite order (line {})",
            ctx.lock_ref(&pe.lock),
            ctx.lock_ref(&ph.lock),
            ctx.task_name(&oe.task, &pe.task),
            // Where that task does it: its first call when the nesting is in a helper.
            ctx.line(oe.trace.first().map_or(oe.token, |step| step.span))
        )
    } else {
        // Rotate to the smallest name, following the edges.
        let start = (0..choice.len()).min_by_key(|&i| names[i].clone()).unwrap();
        let mut ring: Vec<String> =
            (0..choice.len()).map(|k| format!("`{}`", names[(start + k) % choice.len()])).collect();
        ring.push(format!("`{}`", names[start]));
        format!("possible deadlock: {} concurrent tasks wait in a cycle: {}", choice.len(), ring.join(" → "))
    };
    let mut d = Diagnostic::warning(Code::DeadlockOrder, pe.token, message);
    let mut tasks = vec![ctx.task_name(&pe.task, &g.ev(choice[(p + 1) % choice.len()]).task)];
    for (i, &e) in choice.iter().enumerate() {
        if i == p {
            continue;
        }
        let (ev, h) = (g.ev(e), g.held(e));
        let task = ctx.task_name(&ev.task, &pe.task);
        d.related.push(Related {
            span: ev.token,
            message: format!("{task} takes {} here while holding {}", ctx.lock_ref(&ev.lock), ctx.lock_ref(&h.lock)),
        });
        d.related.push(Related { span: h.token, message: format!("{task} holds `{}` from here", ctx.lock(&h.lock)) });
        d.related.extend(ctx.path_related(&task, &ev.task, &ev.trace, ev.token));
        tasks.push(task);
    }
    let ptask = &tasks[0];
    d.related.push(Related { span: ph.token, message: format!("{ptask} holds `{}` from here", ctx.lock(&ph.lock)) });
    if let Some((spawn, _)) = ctx.spawn_between(&pe.task, &g.ev(choice[(p + 1) % choice.len()]).task) {
        let mut ts: Vec<String> = tasks.iter().map(|t| t.trim_start_matches("task ").to_string()).collect();
        ts.sort();
        let what = ctx.slice(spawn).unwrap_or("parallel");
        let message = if tasks.iter().all(|t| t.starts_with("task ")) {
            let last = ts.pop().unwrap_or_default();
            format!("tasks {} and {last} are branches of this `{what}`", ts.join(", "))
        } else {
            format!("the tasks are started by this `{what}`")
        };
        d.related.push(Related { span: spawn, message });
    }
    d.data.locks = locks.clone();
    d.data.cycle_id = Some(format!("deadlock-order:{}", locks.join(",")));
    let trace = ctx.path_related(ptask, &pe.task, &pe.trace, pe.token);
    if !trace.is_empty() {
        d.data.trace = trace;
        d.data.trace.push(Related { span: ph.token, message: format!("{ptask} acquires `{}`", ctx.lock(&ph.lock)) });
        d.data
            .trace
            .push(Related { span: pe.token, message: format!("{ptask} then waits for `{}`", ctx.lock(&pe.lock)) });
    }
    if let Some(fix) = swap_fix(ctx, g, choice, p) {
        d.fixes.push(fix);
    }
    if let (Some(k1), Some(k2)) = (ph.lock.key(), pe.lock.key()) {
        if ph.lock.coll() == pe.lock.coll() {
            if let Some(mut fix) = super::fixes::order_by_key(ctx, ph.call, pe.token, [k1, k2]) {
                fix.preferred = d.fixes.is_empty();
                d.fixes.push(fix);
            }
        }
    }
    d
}

/// The two places that decide a nesting's order: the acquisition tokens when both are
/// written there, else the arguments that passed them into the helper.
fn order_sites(g: &Graph<'_>, e: Edge) -> Option<(Span, Span)> {
    let (ev, h) = (g.ev(e), g.held(e));
    match (h.passed_at, ev.passed_at) {
        (Some(x), Some(y)) => Some((x, y)),
        (None, None) => Some((h.token, ev.token)),
        _ => None,
    }
}

/// Swap the two serializers of the primary nesting, so it follows the file's majority order.
/// Not offered when another nesting of the cycle goes through the same two places (the
/// order then follows the data, and swapping changes both).
fn swap_fix(ctx: &Context<'_>, g: &Graph<'_>, choice: &[Edge], p: usize) -> Option<Fix> {
    let e = choice[p];
    let (ev, h) = (g.ev(e), g.held(e));
    let (a, b) = order_sites(g, e)?;
    if a == b || a.end > b.start && b.end > a.start {
        return None;
    }
    let same_sites = |o: &Edge| order_sites(g, *o).is_some_and(|(x, y)| (x == a && y == b) || (x == b && y == a));
    if choice.iter().enumerate().any(|(i, o)| i != p && same_sites(o)) {
        return None;
    }
    let (ta, tb) = (ctx.slice(a)?.to_string(), ctx.slice(b)?.to_string());
    let inner = ctx.lock(&ev.lock);
    let outer = ctx.lock(&h.lock);
    let mut title = format!("take `{inner}` before `{outer}`, as the other nestings do");
    if h.passed_at.is_none() && code_between(ctx, a, b) {
        title.push_str(&format!(
            " (the code before the inner acquisition then runs under `{inner}` instead of `{outer}`)"
        ));
    }
    Some(Fix { title, edits: vec![(a, tb), (b, ta)], preferred: true })
}

/// Whether anything but `(lambda ()` and parentheses lies between the outer and the inner
/// serializer token of a nesting.
fn code_between(ctx: &Context<'_>, outer: Span, inner: Span) -> bool {
    if outer.end > inner.start {
        return true;
    }
    let Some(between) = ctx.slice(Span { start: outer.end, end: inner.start }) else { return true };
    let rest: String = between.chars().filter(|c| !c.is_whitespace() && *c != '(').collect();
    !(rest.is_empty() || rest == "lambda)")
}

fn latent_report(ctx: &Context<'_>, g: &Graph<'_>, choice: &[Edge]) -> Diagnostic {
    let p = primary_index(ctx, g, choice);
    let pe = g.ev(choice[p]);
    let ph = g.held(choice[p]);
    let mut locks: Vec<String> = choice.iter().map(|&e| ctx.lock(&g.held(e).lock)).collect();
    locks.extend(choice.iter().map(|&e| ctx.lock(&g.ev(e).lock)));
    locks.sort();
    locks.dedup();
    let why = if choice.iter().any(|&e| g.ev(e).latent) {
        "in code that nothing calls"
    } else {
        "but never in tasks that run at the same time"
    };
    let mut d = Diagnostic::new(
        Code::LockOrderLatent,
        Severity::Information,
        pe.token,
        format!(
            "inconsistent lock order: `{}` is acquired while holding `{}` here, and the opposite order occurs elsewhere, {why}; a deadlock would need them to overlap",
            ctx.lock(&pe.lock),
            ctx.lock(&ph.lock)
        ),
    );
    for (i, &e) in choice.iter().enumerate() {
        if i != p {
            let (ev, h) = (g.ev(e), g.held(e));
            d.related.push(Related {
                span: ev.token,
                message: format!("`{}` is acquired while holding `{}` here", ctx.lock(&ev.lock), ctx.lock(&h.lock)),
            });
        }
    }
    d.data.locks = locks;
    d
}

/// Nestings inside one collection: order-safe when every edge goes up, or every edge goes
/// down, in key order; otherwise two concurrent nestings that can invert each other deadlock.
fn keyed(
    ctx: &Context<'_>,
    g: &Graph<'_>,
    edges: &[Edge],
    reported: &mut BTreeSet<Vec<String>>,
    latent: &mut BTreeSet<Vec<String>>,
    out: &mut Vec<Diagnostic>,
) {
    let dirs: Vec<Direction> = edges
        .iter()
        .map(|&e| {
            let (ev, h) = (g.ev(e), g.held(e));
            match (h.lock.key(), ev.lock.key()) {
                (Some(a), Some(b)) => direction(&ev.facts, a, b),
                _ => Direction::Unknown,
            }
        })
        .collect();
    let up = dirs.iter().all(|d| matches!(d, Direction::Asc | Direction::AscEq));
    let down = dirs.iter().all(|d| matches!(d, Direction::Desc | Direction::DescEq));
    if up || down {
        return;
    }
    let mut sequential = None;
    let mut tried = 0;
    for i in 0..edges.len() {
        for j in i..edges.len() {
            if tried >= MAX_CHOICES * 4 {
                break;
            }
            tried += 1;
            let (a, b) = (edges[i], edges[j]);
            let (ea, eb) = (g.ev(a), g.ev(b));
            // One nesting inverts itself only in two members of a task family.
            if i == j && (ea.latent || !concurrent(&ea.task, &ea.task)) {
                continue;
            }
            if !can_invert(g, a, b) || !disjoint_keyed(g, a, b) {
                continue;
            }
            if !ea.latent && !eb.latent && concurrent(&ea.task, &eb.task) {
                let d = deadlock_report(ctx, g, &[a, b]);
                if reported.insert(d.data.locks.clone()) {
                    out.push(d);
                }
                return;
            }
            if sequential.is_none() {
                sequential = Some([a, b]);
            }
        }
    }
    if let Some(choice) = sequential {
        let d = latent_report(ctx, g, &choice);
        if latent.insert(d.data.locks.clone()) {
            out.push(d);
        }
    }
}

/// Nesting `a` takes (k1, k2) and `b` takes (k2', k1'): can k1 = k1' and k2 = k2' hold,
/// with both nestings' facts, and k1 ≠ k2?
fn can_invert(g: &Graph<'_>, a: Edge, b: Edge) -> bool {
    let (ea, eb) = (g.ev(a), g.ev(b));
    let (Some(a1), Some(a2)) = (g.held(a).lock.key(), ea.lock.key()) else { return false };
    let (Some(b1), Some(b2)) = (g.held(b).lock.key(), eb.lock.key()) else { return false };
    if a1 == a2 {
        return false;
    }
    let ground_clash = |x: &super::identity::Term, y: &super::identity::Term| x.is_ground() && y.is_ground() && x != y;
    if ground_clash(a1, b2) || ground_clash(a2, b1) {
        return false;
    }
    let mut facts: Vec<Fact> = ea.facts.iter().cloned().collect();
    if a.ev != b.ev {
        facts.extend(eb.facts.iter().cloned());
    } else {
        // The same nesting in two members of a task family: its facts hold in each, but
        // about different values; only ground facts carry over.
        facts.extend(eb.facts.iter().filter(|f| f.a.is_ground() && f.b.is_ground()).cloned());
    }
    if a.ev == b.ev {
        // Two members invert each other iff the nesting is not ordered by its own facts.
        return matches!(direction(&ea.facts, a1, a2), Direction::Unknown);
    }
    facts.push(Fact { a: a1.clone(), rel: Rel::Eq, b: b2.clone() });
    facts.push(Fact { a: a2.clone(), rel: Rel::Eq, b: b1.clone() });
    facts.push(Fact { a: a1.clone(), rel: Rel::Ne, b: a2.clone() });
    key_order::satisfiable(&facts)
}

fn disjoint_keyed(g: &Graph<'_>, a: Edge, b: Edge) -> bool {
    let (ea, eb) = (g.ev(a), g.ev(b));
    // Holding the collection's own serializers is what the inversion is about; any other
    // serializer held by both is a gate.
    !ea.held
        .iter()
        .any(|x| x.lock.coll().is_none() && eb.held.iter().any(|y| x.lock.same(&y.lock, |_, _| false) == Same::Yes))
}
