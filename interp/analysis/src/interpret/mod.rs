//! Abstract execution: the top-level forms run in file order over abstract values, and every
//! serializer acquisition, spawn and shared-state access becomes an event with its held set,
//! key facts, task path and call trace.
//!
//! Procedure summaries are realised by instantiation at each call site: a call re-analyses
//! the callee's body with the arguments' abstract values, so parameters take the identities
//! of the caller's serializers, literal keys fold guards, and the call site joins the trace.
//! Recursion is unrolled once (a procedure appears at most twice on the abstract stack), which
//! is enough for the held set to reach its fixpoint: the second level runs under every lock
//! the first one takes. A call identical to one already finished (callee, arguments, held
//! set, facts, task) is replayed from a memo instead of re-analysed, and budgets bound the
//! work per top-level form and per file.
//!
//! Lists of known length keep their elements in order, and `map`, `for-each` and
//! `parallel-map` over them run the procedure once per element (one task per element for
//! `parallel-map`). Over other lists one abstract call stands for all elements; a serializer
//! made there is a family member (`Run::made_family`).
//!
//! This file holds the events, the abstract values and the driver (top-level forms, variables,
//! bodies); `special_forms.rs`, `calls.rs` and `primitives.rs` evaluate each kind of form.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::builtins;
use crate::forms;
use crate::symbol::Symbol;
use crate::syntax::{Datum, DatumKind, Span};

use super::identity::{CollId, Lit, LockId, Term};
use super::key_order::{self, Fact, MAX_FACTS};
use super::resolve::{BindingId, BindingKind, Resolution};
use super::tasks::{Branch, Spawn, SpawnKind, Step, TaskPath};

mod calls;
mod primitives;
mod special_forms;

/// At most this many abstract values per expression; more is ⊤.
const MAX_VALUES: usize = 8;
/// Abstract evaluation steps allowed per top-level form.
const BUDGET_PER_FORM: u64 = 200_000;
/// Lists of known length up to this many elements are mapped element by element (and
/// `parallel-map` starts one task per element); longer ones as one abstract element.
const MAX_ITEMS: usize = 8;
/// Abstract evaluation steps allowed for the whole file.
const BUDGET_PER_FILE: u64 = 4_000_000;
/// Held serializers and trace steps copied into acquisition events, over the file: the
/// memory bound of the events (a ring of procedures each holding its own serializer makes
/// events whose held sets grow with the ring).
const MAX_EVENT_UNITS: u64 = 100_000;
/// Nested abstract evaluations (syntax nesting plus calls): deeper ones give up. A top-level
/// form nests at most `MAX_ANALYSIS_DEPTH` (128) levels, so this leaves room for calls; a
/// debug build spends about 6 KiB of stack per level.
const MAX_EVAL_DEPTH: usize = 200;
/// Abstract steps between two looks at the cancellation flag.
const CANCEL_CHECK_STEPS: u64 = 1024;

// ----- events -----

/// A serializer held at some point: which, where it was taken and how deep the trace was.
#[derive(Clone, Debug)]
pub struct Held {
    pub lock: LockId,
    /// The serializer token of `(s p)`.
    pub token: Span,
    /// Where the serialized procedure was called.
    pub call: Span,
    pub trace_len: usize,
    /// The argument expression that passed this serializer into a helper, if one did.
    pub passed_at: Option<Span>,
}

/// One call on the way from a task's start to an event.
#[derive(Clone, Debug)]
pub struct TraceStep {
    pub span: Span,
    pub callee: Option<Symbol>,
    /// Serializers among the arguments, for "calls `f` with `a`, `b`".
    pub locks: Vec<LockId>,
    /// Set when the call runs a stored serialized procedure.
    pub runs: Option<LockId>,
}

/// A lock held by an ancestor blocked in the join of `spawn`.
#[derive(Clone, Debug)]
pub struct Joined {
    pub held: Held,
    pub spawn: Span,
}

#[derive(Clone, Debug)]
pub struct Acquire {
    pub lock: LockId,
    /// The serializer value was one of several possible ones.
    pub may: bool,
    pub token: Span,
    pub passed_at: Option<Span>,
    pub held: Vec<Held>,
    pub facts: Rc<Vec<Fact>>,
    pub task: TaskPath,
    pub trace: Rc<Vec<TraceStep>>,
    pub joined: Rc<Vec<Joined>>,
    /// Found while analysing a procedure that nothing calls.
    pub latent: bool,
}

/// A shared location: a mutable object (by creation) or an assigned variable (by instance).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Place {
    Obj(u32),
    Var(BindingId, u32),
}

#[derive(Clone, Debug)]
pub struct PlaceInfo {
    pub name: Option<String>,
    /// Made in a region standing for several runs (see `Spawn::region`), else 0.
    pub region: u32,
    /// The task that created it: its own accesses are never concurrent with its children's.
    pub task: TaskPath,
}

#[derive(Clone, Debug)]
pub struct Access {
    pub loc: Place,
    pub write: bool,
    pub span: Span,
    pub held: Vec<Held>,
    pub task: TaskPath,
    pub trace: Rc<Vec<TraceStep>>,
}

/// Everything the abstract run found.
#[derive(Debug, Default)]
pub struct Run {
    pub acquires: Vec<Acquire>,
    pub accesses: Vec<Access>,
    pub locs: HashMap<Place, PlaceInfo>,
    pub spawns: Vec<Spawn>,
    /// Display names of made serializers, by id.
    pub made_names: Vec<Option<String>>,
    /// Span where each made serializer was created.
    pub made_spans: Vec<Span>,
    /// Made serializers that stand for several runtime serializers (made in code that runs
    /// once per element of a list of unknown length): two acquisitions of one may be two.
    pub made_family: Vec<bool>,
    pub coll_names: HashMap<CollId, String>,
    /// Serialized procedures built and dropped: (expression, serializer token).
    pub not_called: BTreeMap<(Span, Span), LockId>,
    /// The first local variable each key term was bound to, for messages ("if `a` equals `b`").
    pub term_names: HashMap<Term, Symbol>,
    /// Whether a budget (steps or event memory) cut the run short.
    pub truncated: bool,
    /// Whether the caller's cancellation flag stopped the run.
    pub cancelled: bool,
}

impl Run {
    /// A key term as messages show it: the local variable it was bound to, if any.
    pub fn term_name(&self, t: &Term) -> String {
        match self.term_names.get(t) {
            Some(n) => n.to_string(),
            None => t.to_string(),
        }
    }

    /// The name a lock is shown with.
    pub fn lock_name(&self, lock: &LockId) -> String {
        match lock {
            LockId::Made(id) => self.made_names[*id as usize].clone().unwrap_or_else(|| "a serializer".into()),
            LockId::Keyed { coll, label, .. } => match label {
                Some(l) => l.to_string(),
                None => self.coll_names.get(coll).cloned().unwrap_or_else(|| "a keyed serializer".into()),
            },
            LockId::Param { name, .. } => name.to_string(),
            LockId::Unknown => "a lock".into(),
        }
    }

    pub fn loc_name(&self, loc: Place) -> String {
        self.locs.get(&loc).and_then(|l| l.name.clone()).unwrap_or_else(|| "shared state".into())
    }
}

// ----- abstract values -----

#[derive(Clone, Debug)]
struct SProc<'a> {
    lock: LockId,
    inner: AVal<'a>,
    token: Span,
    expr: Span,
    passed_at: Option<Span>,
    /// Built from a definite serializer (not a guessed table entry): may be reported unused.
    definite: bool,
}

#[derive(Debug)]
struct Closure<'a> {
    params: Vec<&'a Datum>,
    rest: Option<&'a Datum>,
    body: &'a [Datum],
    env: Option<Env<'a>>,
    name: Option<Symbol>,
    id: Span,
    /// Parameter groups still to come, for a curried `(define ((f a) b) …)`: a call binds
    /// `params` and returns a procedure of the next group.
    more: Rc<[(Vec<&'a Datum>, Option<&'a Datum>)]>,
}

impl Closure<'_> {
    fn accepts(&self, n: usize) -> bool {
        n == self.params.len() || (self.rest.is_some() && n >= self.params.len())
    }
}

/// Immutable structured data (pairs, lists); `coll` when it is a collection of serializers
/// fetched by `key`.
#[derive(Debug)]
struct DataV<'a> {
    coll: Option<CollId>,
    key: Option<Term>,
    elems: AVal<'a>,
    /// The elements in order, for a proper list of known length (`list`, `cons` onto one):
    /// `car`, `cdr` and friends then pick the right one instead of the join of all, so a
    /// list of serializers walked in order keeps its order.
    items: Option<Rc<Vec<AVal<'a>>>>,
    /// The two halves of a pair made by `cons` onto something that is not a known list.
    pair: Option<Rc<(AVal<'a>, AVal<'a>)>>,
}

impl<'a> DataV<'a> {
    fn new(elems: AVal<'a>) -> DataV<'a> {
        DataV { coll: None, key: None, elems, items: None, pair: None }
    }

    fn keyed(coll: Option<CollId>, key: Option<Term>, elems: AVal<'a>) -> DataV<'a> {
        DataV { coll, key, elems, items: None, pair: None }
    }

    /// A proper list of these elements.
    fn list(items: Vec<AVal<'a>>) -> DataV<'a> {
        let mut elems = AVal::default();
        for a in &items {
            for v in &a.vals {
                elems.join(AVal { vals: vec![v.clone()], term: a.term.clone(), ..Default::default() });
            }
        }
        DataV { coll: None, key: None, elems: elems.or_unknown(), items: Some(Rc::new(items)), pair: None }
    }
}

/// `car`, `cdr`, `cadr`, … `list-ref` on a list of known elements; `None` when the path
/// leaves the known part.
fn positional<'a>(op: &str, index: Option<usize>, items: &[AVal<'a>]) -> Option<AVal<'a>> {
    match op {
        // Indexed directly: spelling them as `cadd…dr` paths built one step per index, and a
        // hostile index (2^63) asked for a path longer than memory.
        "list-ref" => return items.get(index?).cloned(),
        "last" => return items.last().cloned(),
        _ => {}
    }
    let path: Vec<char> = op.strip_prefix('c')?.strip_suffix('r')?.chars().collect();
    let mut rest: &[AVal<'a>] = items;
    // Applied right to left: `cadr` is `car` of `cdr`.
    let mut steps = path.iter().rev().peekable();
    while let Some(step) = steps.next() {
        match step {
            'd' => rest = rest.get(1..)?,
            'a' => {
                let item = rest.first()?;
                if steps.peek().is_none() {
                    return Some(item.clone());
                }
                let [V::Data(d)] = item.vals.as_slice() else { return None };
                rest = d.items.as_deref()?.as_slice();
            }
            _ => return None,
        }
    }
    if rest.is_empty() {
        Some(AVal::constant())
    } else {
        Some(AVal::one(V::Data(Rc::new(DataV::list(rest.to_vec())))))
    }
}

#[derive(Clone, Debug)]
enum V<'a> {
    Const,
    Ser(LockId),
    SProc(Rc<SProc<'a>>),
    Closure(Rc<Closure<'a>>),
    Prim(Symbol),
    Obj(u32),
    Data(Rc<DataV<'a>>),
    /// A parameter of a procedure analysed without a caller.
    Param(Symbol, usize, Symbol),
    Unknown,
}

#[derive(Clone, Debug, Default)]
struct AVal<'a> {
    vals: Vec<V<'a>>,
    term: Option<Term>,
    label: Option<Symbol>,
    passed_at: Option<Span>,
}

impl<'a> AVal<'a> {
    fn unknown() -> AVal<'a> {
        AVal { vals: vec![V::Unknown], ..Default::default() }
    }
    fn constant() -> AVal<'a> {
        AVal { vals: vec![V::Const], ..Default::default() }
    }
    fn lit(l: Lit) -> AVal<'a> {
        AVal { vals: vec![V::Const], term: Some(Term::Lit(l)), ..Default::default() }
    }
    fn one(v: V<'a>) -> AVal<'a> {
        AVal { vals: vec![v], ..Default::default() }
    }
    fn join(&mut self, other: AVal<'a>) {
        if self.vals.is_empty() {
            *self = other;
            return;
        }
        if self.term != other.term {
            self.term = None;
        }
        if self.label != other.label {
            self.label = self.label.or(other.label);
        }
        self.passed_at = self.passed_at.or(other.passed_at);
        for v in other.vals {
            if !self.vals.iter().any(|w| same_value(w, &v)) {
                self.vals.push(v);
            }
        }
        if self.vals.len() > MAX_VALUES {
            self.vals = vec![V::Unknown];
        }
    }
    fn or_unknown(self) -> AVal<'a> {
        if self.vals.is_empty() {
            AVal::unknown()
        } else {
            self
        }
    }
    fn holds_serializer(&self, depth: u32) -> bool {
        depth < 4
            && self.vals.iter().any(|v| match v {
                V::Ser(_) => true,
                V::Data(d) => d.coll.is_some() || d.elems.holds_serializer(depth + 1),
                _ => false,
            })
    }
}

fn same_value<'a>(a: &V<'a>, b: &V<'a>) -> bool {
    match (a, b) {
        (V::Const, V::Const) | (V::Unknown, V::Unknown) => true,
        (V::Ser(x), V::Ser(y)) => x == y,
        (V::SProc(x), V::SProc(y)) => Rc::ptr_eq(x, y),
        (V::Closure(x), V::Closure(y)) => Rc::ptr_eq(x, y) || (x.id == y.id && env_eq(&x.env, &y.env)),
        (V::Prim(x), V::Prim(y)) => x == y,
        (V::Obj(x), V::Obj(y)) => x == y,
        (V::Data(x), V::Data(y)) => Rc::ptr_eq(x, y),
        (V::Param(p, i, _), V::Param(q, j, _)) => p == q && i == j,
        _ => false,
    }
}

fn env_eq<'a>(a: &Option<Env<'a>>, b: &Option<Env<'a>>) -> bool {
    match (a, b) {
        (Some(x), Some(y)) => Rc::ptr_eq(x, y),
        (None, None) => true,
        _ => false,
    }
}

#[derive(Debug)]
struct Scope<'a> {
    vars: RefCell<Vec<(BindingId, AVal<'a>)>>,
    parent: Option<Env<'a>>,
    instance: u32,
    task: TaskPath,
}

type Env<'a> = Rc<Scope<'a>>;

#[derive(Clone)]
struct Ctx<'a> {
    env: Option<Env<'a>>,
    held: Vec<Held>,
    facts: Rc<Vec<Fact>>,
    task: TaskPath,
    trace: Rc<Vec<TraceStep>>,
    joined: Rc<Vec<Joined>>,
    latent: bool,
    /// This code stands for several runtime runs (the procedure of a `map` over a list of
    /// unknown length, a `parallel-map` task family): a serializer made here is a family.
    multi: bool,
    /// The innermost such region (0: none). Objects made in a region are families; two
    /// tasks started in the same region touch the same member, others may not.
    region: u32,
}

impl<'a> Ctx<'a> {
    fn with_facts(&self, more: &[Fact]) -> Ctx<'a> {
        let mut c = self.clone();
        if !more.is_empty() {
            let mut f: Vec<Fact> = (*self.facts).clone();
            f.extend(more.iter().cloned());
            if f.len() > MAX_FACTS {
                f.drain(..f.len() - MAX_FACTS);
            }
            c.facts = Rc::new(f);
        }
        c
    }
}

struct CallInfo {
    span: Span,
    head: Span,
    head_name: Option<Symbol>,
    args: Vec<Span>,
    /// Arguments that are identifiers: names a procedure argument is called by.
    arg_names: Vec<Option<Symbol>>,
}

impl CallInfo {
    fn new(span: Span, head: Span, head_name: Option<Symbol>, args: Vec<Span>) -> CallInfo {
        CallInfo { span, head, head_name, args, arg_names: Vec::new() }
    }
}

#[derive(Default)]
struct ObjInfo<'a> {
    holds_sers: bool,
    vals: AVal<'a>,
}

struct Runner<'a> {
    res: &'a Resolution,
    globals: HashMap<BindingId, AVal<'a>>,
    objs: Vec<ObjInfo<'a>>,
    /// Made serializers stored in a table under a key: fetched later as keyed ones.
    members: HashMap<u32, (CollId, Term)>,
    /// Whether the made name came from a top-level define (which local names yield to).
    made_top: Vec<bool>,
    out: Run,
    next_id: u32,
    stack: Vec<Span>,
    called: HashSet<Span>,
    budget: u64,
    /// `mutex-acquire` calls minus `mutex-release` calls so far: a statement that raises it
    /// leaves the rest of its body under a lock the analysis cannot name.
    mutex_depth: i64,
    /// Finished instantiations that can be replayed: a second call with the same callee,
    /// arguments, held set, facts and task adds only duplicate events.
    memo: HashMap<u64, Memo<'a>>,
    /// Frames made so far that bind a `set!` variable: such a frame is a location of its
    /// own, so a call that makes one is never replayed.
    assigned_frames: u32,
    /// Abstract steps left for the whole file: a hard bound on pathological inputs, after
    /// which calls are no longer entered (fewer findings, never false ones).
    file_budget: u64,
    /// Calls not entered (recursion bound or budget): a call during which this grows saw a
    /// truncated picture and is not replayed.
    cuts: u64,
    /// Frames made in a region standing for several runs: their variables are families.
    frame_regions: HashMap<u32, u32>,
    /// The caller's cancellation flag.
    cancel: Option<Arc<AtomicBool>>,
    /// Steps taken, for spacing the looks at `cancel`.
    steps: u64,
    /// Held serializers and trace steps recorded in events so far (see [`MAX_EVENT_UNITS`]).
    event_units: u64,
    /// Cancelled or out of event memory: no more calls are entered in this file.
    stopped: bool,
    /// Evaluations in progress (see [`MAX_EVAL_DEPTH`]).
    eval_depth: usize,
}

/// A replayable call: its result, and what its body did to the mutex depth. The arguments
/// and callee are kept so the addresses in the key stay theirs.
struct Memo<'a> {
    result: AVal<'a>,
    mutex_delta: i64,
    first_id: u32,
    _keep: (Rc<Closure<'a>>, Vec<AVal<'a>>),
}

/// Runs the file's top-level forms (skipping malformed ones), then each procedure nothing
/// called, with unknown parameters, for latent findings.
pub fn run(data: &[Datum], res: &Resolution, cancel: Option<Arc<AtomicBool>>) -> Run {
    let mut r = Runner {
        res,
        globals: HashMap::new(),
        objs: Vec::new(),
        members: HashMap::new(),
        made_top: Vec::new(),
        out: Run::default(),
        next_id: 1,
        stack: Vec::new(),
        called: HashSet::new(),
        budget: 0,
        mutex_depth: 0,
        memo: HashMap::new(),
        assigned_frames: 0,
        file_budget: BUDGET_PER_FILE,
        cuts: 0,
        frame_regions: HashMap::new(),
        cancel,
        steps: 0,
        event_units: 0,
        stopped: false,
        eval_depth: 0,
    };
    let root = Ctx {
        env: None,
        held: Vec::new(),
        facts: Rc::new(Vec::new()),
        task: Rc::new(Vec::new()),
        trace: Rc::new(Vec::new()),
        joined: Rc::new(Vec::new()),
        latent: false,
        multi: false,
        region: 0,
    };
    for (i, form) in data.iter().enumerate() {
        if res.malformed_forms.contains(&i) {
            continue;
        }
        r.budget = r.form_budget();
        let before = r.budget;
        r.toplevel(form, &root);
        r.file_budget -= before - r.budget;
    }
    r.latent_procedures(data);
    r.number_shared_names();
    r.out
}

impl<'a> Runner<'a> {
    /// Several serializers made while evaluating one top-level define (a list of objects,
    /// each with its own) would all show the define's name: number them `name#1`, `name#2`.
    fn number_shared_names(&mut self) {
        let mut count: HashMap<String, u32> = HashMap::new();
        for (m, name) in self.out.made_names.iter().enumerate() {
            if let (Some(name), true) = (name, self.made_top[m]) {
                *count.entry(name.clone()).or_default() += 1;
            }
        }
        let mut next: HashMap<String, u32> = HashMap::new();
        for m in 0..self.out.made_names.len() {
            let Some(name) = self.out.made_names[m].clone() else { continue };
            if self.made_top[m] && count.get(&name).copied().unwrap_or(0) > 1 && !self.members.contains_key(&(m as u32))
            {
                let k = next.entry(name.clone()).or_default();
                *k += 1;
                self.out.made_names[m] = Some(format!("{name}#{k}"));
            }
        }
    }

    /// Counts `units` of held sets and traces copied; false (and the run stops) past
    /// [`MAX_EVENT_UNITS`].
    fn charge(&mut self, units: usize) -> bool {
        self.event_units += units as u64;
        if self.event_units > MAX_EVENT_UNITS {
            self.out.truncated = true;
            self.give_up();
            return false;
        }
        true
    }

    /// Stops entering calls for the rest of the file.
    fn give_up(&mut self) {
        self.budget = 0;
        self.stopped = true;
    }

    /// The step budget of the next top-level form or latent procedure.
    fn form_budget(&self) -> u64 {
        if self.stopped {
            0
        } else {
            BUDGET_PER_FORM.min(self.file_budget)
        }
    }

    fn fresh(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id
    }

    fn fresh_var(&mut self, name: Symbol) -> Term {
        Term::Var(self.fresh(), name)
    }

    /// The special form a list is, unless its keyword is shadowed. Only forms that passed the
    /// table's shape check get here (the resolver marks the others malformed), so the parts
    /// are where the table puts them.
    fn form_of(&self, d: &Datum) -> Option<&'static str> {
        let DatumKind::List(items, _) = &d.kind else { return None };
        let head = items.first()?;
        head.as_symbol()?;
        let id = self.res.reference(head.span)?;
        let b = self.res.binding(id);
        if b.kind != BindingKind::SpecialForm {
            return None;
        }
        forms::form(b.name.as_str()).map(|f| f.name)
    }

    // ----- top level -----

    fn toplevel(&mut self, form: &'a Datum, ctx: &Ctx<'a>) {
        match self.form_of(form) {
            Some("define") => {
                let items = form.as_list().unwrap_or(&[]);
                let Some((name, value)) = self.define_parts(form, ctx) else { return };
                let Some(id) = self.res.binder(name.span) else { return };
                let sym = name.as_symbol().unwrap();
                let first_made = self.out.made_names.len();
                let first_obj = self.objs.len();
                let _ = items;
                let mut v = value(self);
                // Serializers made while evaluating the value take the define's name.
                for m in first_made..self.out.made_names.len() {
                    if !self.made_top[m] {
                        self.out.made_names[m] = Some(sym.to_string());
                        self.made_top[m] = true;
                    }
                }
                for o in first_obj..self.objs.len() {
                    let loc = Place::Obj(o as u32);
                    if let Some(info) = self.out.locs.get_mut(&loc) {
                        if info.name.is_none() {
                            info.name = Some(sym.to_string());
                        }
                    }
                }
                v = self.as_collection(v, CollId::Def(id), sym);
                for val in &v.vals {
                    if let V::Obj(o) = val {
                        self.name_obj(*o, sym);
                        self.out.coll_names.entry(CollId::Obj(*o)).or_insert_with(|| sym.to_string());
                    }
                }
                self.globals.insert(id, v);
            }
            Some("begin") => {
                for f in &form.as_list().unwrap_or(&[])[1..] {
                    self.toplevel(f, ctx);
                }
            }
            Some("define-syntax" | "define-record-type") => {}
            _ => {
                let v = self.eval(form, ctx);
                self.statement(form, &v, ctx);
            }
        }
    }

    /// `(define x E)` / `(define (f …) …)`: the name and a thunk evaluating the value.
    #[allow(clippy::type_complexity)]
    fn define_parts(
        &mut self,
        form: &'a Datum,
        ctx: &Ctx<'a>,
    ) -> Option<(&'a Datum, Box<dyn FnOnce(&mut Runner<'a>) -> AVal<'a> + 'a>)> {
        let items = form.as_list()?;
        let target = items.get(1)?;
        if target.as_symbol().is_some() {
            let e = items.get(2)?;
            let ctx = ctx.clone();
            return Some((
                target,
                Box::new(move |r: &mut Runner<'a>| {
                    let mut v = r.eval(e, &ctx);
                    if let Some(sym) = target.as_symbol() {
                        v = r.named_closure(v, sym);
                    }
                    v
                }),
            ));
        }
        let (name, groups) = super::resolve::define_target(target)?;
        let mut groups = groups.into_iter().map(|(params, tail)| (params.iter().collect::<Vec<_>>(), tail));
        let (params, rest) = groups.next()?;
        let closure = Closure {
            params,
            rest,
            body: &items[2..],
            env: ctx.env.clone(),
            name: name.as_symbol(),
            id: form.span,
            more: groups.collect(),
        };
        Some((name, Box::new(move |_r: &mut Runner<'a>| AVal::one(V::Closure(Rc::new(closure))))))
    }

    fn named_closure(&self, v: AVal<'a>, name: Symbol) -> AVal<'a> {
        let vals = v
            .vals
            .into_iter()
            .map(|x| match x {
                V::Closure(c) if c.name.is_none() => V::Closure(Rc::new(Closure {
                    params: c.params.clone(),
                    rest: c.rest,
                    body: c.body,
                    env: c.env.clone(),
                    name: Some(name),
                    id: c.id,
                    more: c.more.clone(),
                })),
                other => other,
            })
            .collect();
        AVal { vals, ..v }
    }

    /// A top-level list holding serializers becomes a keyed collection.
    fn as_collection(&mut self, v: AVal<'a>, coll: CollId, name: Symbol) -> AVal<'a> {
        let vals = v
            .vals
            .iter()
            .map(|x| match x {
                V::Data(d) if d.coll.is_none() && d.elems.holds_serializer(0) => {
                    self.out.coll_names.insert(coll, name.to_string());
                    V::Data(Rc::new(DataV::keyed(Some(coll), None, d.elems.clone())))
                }
                other => other.clone(),
            })
            .collect();
        AVal { vals, ..v }
    }

    /// An object takes the name of the first binder that receives it.
    fn name_obj(&mut self, o: u32, name: Symbol) {
        if let Some(info) = self.out.locs.get_mut(&Place::Obj(o)) {
            if info.name.is_none() {
                info.name = Some(name.to_string());
            }
        }
    }

    /// A binder receives a value: unnamed serializers and objects take its name.
    fn bind_name(&mut self, v: &mut AVal<'a>, name: Symbol) {
        for val in &v.vals {
            match val {
                V::Ser(LockId::Made(m)) if self.out.made_names[*m as usize].is_none() => {
                    self.out.made_names[*m as usize] = Some(name.to_string());
                }
                V::Obj(o) => self.name_obj(*o, name),
                _ => {}
            }
        }
        if v.label.is_none() && v.vals.iter().any(|x| matches!(x, V::Data(d) if d.coll.is_some())) {
            v.label = Some(name);
        }
    }

    fn statement(&mut self, d: &'a Datum, v: &AVal<'a>, ctx: &Ctx<'a>) {
        if ctx.latent {
            return;
        }
        for val in &v.vals {
            if let V::SProc(sp) = val {
                if sp.expr == d.span && sp.definite {
                    self.out.not_called.entry((sp.expr, sp.token)).or_insert_with(|| sp.lock.clone());
                }
            }
        }
    }

    fn dropped_result(&mut self, v: &AVal<'a>, ctx: &Ctx<'a>) {
        if ctx.latent {
            return;
        }
        for val in &v.vals {
            if let V::SProc(sp) = val {
                if sp.definite {
                    self.out.not_called.entry((sp.expr, sp.token)).or_insert_with(|| sp.lock.clone());
                }
            }
        }
    }

    // ----- expressions -----

    /// Evaluates `d`, or gives up (unknown value, run marked truncated) when the abstract
    /// evaluation nests deeper than [`MAX_EVAL_DEPTH`]: calls nest evaluations too, and the
    /// analysis must fit an ordinary thread's stack.
    fn eval(&mut self, d: &'a Datum, ctx: &Ctx<'a>) -> AVal<'a> {
        if self.eval_depth >= MAX_EVAL_DEPTH {
            self.out.truncated = true;
            return AVal::unknown();
        }
        self.eval_depth += 1;
        let v = self.eval_nested(d, ctx);
        self.eval_depth -= 1;
        v
    }

    fn eval_nested(&mut self, d: &'a Datum, ctx: &Ctx<'a>) -> AVal<'a> {
        self.budget = self.budget.saturating_sub(1);
        self.steps += 1;
        if self.steps.is_multiple_of(CANCEL_CHECK_STEPS)
            && self.cancel.as_ref().is_some_and(|c| c.load(Ordering::Relaxed))
        {
            self.out.cancelled = true;
            self.give_up();
        }
        match &d.kind {
            DatumKind::Int(n) => AVal::lit(Lit::Int(*n)),
            DatumKind::Str(s) => AVal::lit(Lit::Str(s.clone())),
            DatumKind::Char(c) => AVal::lit(Lit::Char(*c)),
            DatumKind::Bool(b) => AVal::lit(Lit::Bool(*b)),
            DatumKind::Float(_) | DatumKind::Vector(_) => AVal::constant(),
            DatumKind::Symbol(_) => self.variable(d, ctx),
            DatumKind::List(items, _) => {
                if items.is_empty() {
                    return AVal::constant();
                }
                if let Some(form) = self.form_of(d) {
                    return self.special(form, d, items, ctx);
                }
                if self.res.reference(items[0].span).is_some_and(|id| self.res.binding(id).kind == BindingKind::Macro) {
                    return AVal::unknown();
                }
                let f = self.eval(&items[0], ctx);
                let args: Vec<AVal<'a>> = items[1..].iter().map(|a| self.eval(a, ctx)).collect();
                let call = CallInfo {
                    span: d.span,
                    head: items[0].span,
                    head_name: items[0].as_symbol(),
                    args: items[1..].iter().map(|a| a.span).collect(),
                    arg_names: items[1..].iter().map(Datum::as_symbol).collect(),
                };
                self.apply(&f, args, &call, ctx)
            }
        }
    }

    fn lookup_local(&self, env: &Option<Env<'a>>, id: BindingId) -> Option<(AVal<'a>, u32, TaskPath)> {
        let mut frame = env.clone();
        while let Some(f) = frame {
            if let Some((_, v)) = f.vars.borrow().iter().rev().find(|(b, _)| *b == id) {
                return Some((v.clone(), f.instance, f.task.clone()));
            }
            frame = f.parent.clone();
        }
        None
    }

    fn set_local(&self, env: &Option<Env<'a>>, id: BindingId, v: AVal<'a>) -> Option<(u32, TaskPath)> {
        let mut frame = env.clone();
        while let Some(f) = frame {
            {
                let mut vars = f.vars.borrow_mut();
                if let Some(slot) = vars.iter_mut().rev().find(|(b, _)| *b == id) {
                    slot.1.join(v);
                    return Some((f.instance, f.task.clone()));
                }
            }
            frame = f.parent.clone();
        }
        None
    }

    fn variable(&mut self, d: &'a Datum, ctx: &Ctx<'a>) -> AVal<'a> {
        let Some(id) = self.res.reference(d.span) else { return AVal::unknown() };
        let b = self.res.binding(id);
        let assigned = self.res.is_assigned(id);
        match b.kind {
            BindingKind::Builtin => {
                if builtins::signature(b.name.as_str()).is_some() {
                    AVal::one(V::Prim(b.name))
                } else {
                    AVal::constant()
                }
            }
            BindingKind::SpecialForm | BindingKind::Macro => AVal::unknown(),
            BindingKind::TopLevel => {
                let v = self.globals.get(&id).cloned();
                if assigned {
                    self.access(Place::Var(id, 0), b.name, Rc::new(Vec::new()), false, d.span, ctx);
                    return self.mutable_view(v);
                }
                match v {
                    Some(mut v) => {
                        if v.term.as_ref().is_none_or(|t| t.lit().is_none()) {
                            v.term = Some(Term::Global(id, b.name));
                        }
                        v
                    }
                    None => AVal { term: Some(Term::Global(id, b.name)), ..AVal::unknown() },
                }
            }
            BindingKind::Local | BindingKind::Parameter => match self.lookup_local(&ctx.env, id) {
                Some((v, instance, task)) => {
                    if assigned {
                        self.access(Place::Var(id, instance), b.name, task, false, d.span, ctx);
                        return self.mutable_view(Some(v));
                    }
                    v
                }
                None => {
                    let name = b.name;
                    AVal { term: Some(self.fresh_var(name)), ..AVal::unknown() }
                }
            },
        }
    }

    /// The value of an assigned variable: its objects stay, its identities do not (`identity::LockId::Unknown`).
    fn mutable_view(&self, v: Option<AVal<'a>>) -> AVal<'a> {
        let mut out = AVal::unknown();
        if let Some(v) = v {
            for x in v.vals {
                if let V::Obj(_) = x {
                    out.vals.push(x);
                }
            }
        }
        out
    }

    fn access(&mut self, loc: Place, name: Symbol, task: TaskPath, write: bool, span: Span, ctx: &Ctx<'a>) {
        if ctx.latent {
            return;
        }
        let region = match loc {
            Place::Var(_, instance) => self.frame_regions.get(&instance).copied().unwrap_or(0),
            Place::Obj(_) => 0,
        };
        self.out.locs.entry(loc).or_insert_with(|| PlaceInfo { name: Some(name.to_string()), region, task });
        self.push_access(loc, write, span, ctx);
    }

    fn push_access(&mut self, loc: Place, write: bool, span: Span, ctx: &Ctx<'a>) {
        if ctx.latent {
            return;
        }
        self.out.accesses.push(Access {
            loc,
            write,
            span,
            held: ctx.held.clone(),
            task: ctx.task.clone(),
            trace: ctx.trace.clone(),
        });
    }

    fn body(&mut self, forms: &'a [Datum], ctx: &Ctx<'a>) -> AVal<'a> {
        let mut last = AVal::constant();
        let mut cur = ctx.clone();
        for (i, f) in forms.iter().enumerate() {
            let depth = self.mutex_depth;
            last = match self.form_of(f) {
                Some("define") => {
                    if let Some((name, value)) = self.define_parts(f, &cur) {
                        let mut v = value(self);
                        if let (Some(id), Some(sym)) = (self.res.binder(name.span), name.as_symbol()) {
                            self.bind_name(&mut v, sym);
                            self.define_local(&cur, id, v);
                        }
                    }
                    AVal::constant()
                }
                Some("begin")
                    if f.as_list().is_some_and(|l| l[1..].iter().any(|g| self.form_of(g) == Some("define"))) =>
                {
                    self.body(&f.as_list().unwrap()[1..], &cur)
                }
                Some("define-syntax" | "define-record-type") => AVal::constant(),
                _ => self.eval(f, &cur),
            };
            if i + 1 < forms.len() {
                self.statement(f, &last, &cur);
            }
            self.track_mutex(depth, f.span, &mut cur);
        }
        last
    }

    /// After a statement that took (or released) a mutex, the rest of the body runs under
    /// (or outside) a lock the analysis cannot name.
    fn track_mutex(&mut self, before: i64, at: Span, ctx: &mut Ctx<'a>) {
        if self.mutex_depth > before {
            ctx.held.push(Held {
                lock: LockId::Unknown,
                token: at,
                call: at,
                trace_len: ctx.trace.len(),
                passed_at: None,
            });
        } else if self.mutex_depth < before {
            if let Some(i) = ctx.held.iter().rposition(|h| h.lock == LockId::Unknown) {
                ctx.held.remove(i);
            }
        }
    }

    fn define_local(&mut self, ctx: &Ctx<'a>, id: BindingId, v: AVal<'a>) {
        match &ctx.env {
            Some(frame) => frame.vars.borrow_mut().push((id, v)),
            None => {
                self.globals.insert(id, v);
            }
        }
    }

    fn new_frame(&mut self, ctx: &Ctx<'a>, parent: Option<Env<'a>>) -> Env<'a> {
        let instance = self.fresh();
        if ctx.region != 0 {
            self.frame_regions.insert(instance, ctx.region);
        }
        Rc::new(Scope { vars: RefCell::new(Vec::new()), parent, instance, task: ctx.task.clone() })
    }

    fn bind(&mut self, frame: &Env<'a>, binder: &Datum, mut v: AVal<'a>) {
        let Some(id) = self.res.binder(binder.span) else { return };
        if self.res.is_assigned(id) {
            self.assigned_frames += 1;
        }
        if let Some(name) = binder.as_symbol() {
            match &v.term {
                None => v.term = Some(self.fresh_var(name)),
                Some(t @ Term::Acc(..)) if self.res.binding(id).kind == BindingKind::Local => {
                    self.out.term_names.entry(t.clone()).or_insert(name);
                }
                Some(_) => {}
            }
            self.bind_name(&mut v, name);
        }
        frame.vars.borrow_mut().push((id, v));
    }

    fn latent_procedures(&mut self, data: &'a [Datum]) {
        let mut procs: Vec<(BindingId, Rc<Closure<'a>>)> = Vec::new();
        for (id, v) in &self.globals {
            for x in &v.vals {
                if let V::Closure(c) = x {
                    let form = data.get(data.partition_point(|d| d.span.end <= c.id.start));
                    if !self.called.contains(&c.id)
                        && form.is_some_and(|d| d.span.start <= c.id.start && c.id.end <= d.span.end)
                    {
                        procs.push((*id, c.clone()));
                    }
                }
            }
        }
        procs.sort_by_key(|(_, c)| c.id.start);
        for (_, c) in procs {
            if self.called.contains(&c.id) {
                continue;
            }
            let site = self.out.spawns.len() as u32;
            self.out.spawns.push(Spawn {
                kind: SpawnKind::Parallel,
                head: c.id,
                branches: vec![c.id],
                proc_name: None,
                region: 0,
            });
            let ctx = Ctx {
                env: None,
                held: Vec::new(),
                facts: Rc::new(Vec::new()),
                task: Rc::new(vec![Step { site, branch: Branch::Index(1) }]),
                trace: Rc::new(Vec::new()),
                joined: Rc::new(Vec::new()),
                latent: true,
                multi: false,
                region: 0,
            };
            let proc_name = c.name.unwrap_or_else(|| Symbol::intern("procedure"));
            let args: Vec<AVal<'a>> = c
                .params
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let name = p.as_symbol().unwrap_or(proc_name);
                    AVal { vals: vec![V::Param(proc_name, i, name)], ..Default::default() }
                })
                .collect();
            let call = CallInfo::new(c.id, c.id, None, Vec::new());
            self.budget = self.form_budget();
            let before = self.budget;
            self.call_closure(&c, args, &call, &ctx);
            self.file_budget -= before - self.budget;
        }
    }
}

/// The elements of a value that is one proper list of known length.
fn known_list<'v, 'a>(v: &'v AVal<'a>) -> Option<&'v [AVal<'a>]> {
    match v.vals.as_slice() {
        [V::Data(d)] if d.coll.is_none() => d.items.as_deref().map(Vec::as_slice),
        _ => None,
    }
}

fn is_procedure(v: &V<'_>) -> bool {
    matches!(v, V::Closure(_) | V::Prim(_) | V::SProc(_))
}

fn formals_of(formals: &Datum) -> (Vec<&Datum>, Option<&Datum>) {
    match &formals.kind {
        DatumKind::Symbol(_) => (Vec::new(), Some(formals)),
        DatumKind::List(items, tail) => (items.iter().collect(), tail.as_deref()),
        _ => (Vec::new(), None),
    }
}
