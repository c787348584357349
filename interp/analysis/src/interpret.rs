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
    let path: Vec<char> = match op {
        "list-ref" => std::iter::once('a').chain(std::iter::repeat_n('d', index?)).collect(),
        "last" => std::iter::once('a').chain(std::iter::repeat_n('d', items.len().checked_sub(1)?)).collect(),
        _ => op.strip_prefix('c')?.strip_suffix('r')?.chars().collect(),
    };
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

    fn special(&mut self, form: &'static str, d: &'a Datum, items: &'a [Datum], ctx: &Ctx<'a>) -> AVal<'a> {
        let args = &items[1..];
        match form {
            "quote" => match args.first().map(|a| &a.kind) {
                Some(DatumKind::Symbol(s)) => AVal::lit(Lit::Sym(*s)),
                Some(DatumKind::Str(s)) => AVal::lit(Lit::Str(s.clone())),
                Some(DatumKind::Int(n)) => AVal::lit(Lit::Int(*n)),
                _ => AVal::constant(),
            },
            "quasiquote" => {
                if let Some(t) = args.first() {
                    self.quasi(t, 1, ctx);
                }
                AVal::constant()
            }
            "if" => {
                let (Some(test), Some(then)) = (args.first(), args.get(1)) else { return AVal::unknown() };
                self.branch(
                    test,
                    |r, c| r.eval(then, c),
                    |r, c| args.get(2).map_or(AVal::constant(), |e| r.eval(e, c)),
                    ctx,
                )
            }
            "when" | "unless" => {
                let Some(test) = args.first() else { return AVal::unknown() };
                let body = &args[1..];
                if form == "when" {
                    self.branch(test, |r, c| r.body(body, c), |_, _| AVal::constant(), ctx)
                } else {
                    self.branch(test, |_, _| AVal::constant(), |r, c| r.body(body, c), ctx)
                }
            }
            "cond" => self.cond(args, ctx),
            "case" => {
                let mut out = AVal::default();
                if let Some(k) = args.first() {
                    self.eval(k, ctx);
                }
                for clause in args.iter().skip(1) {
                    if let Some(cl) = clause.as_list() {
                        out.join(self.clause_body(&cl[1..], AVal::unknown(), ctx));
                    }
                }
                out.join(AVal::constant());
                out
            }
            "and" | "or" => {
                let mut out = AVal::default();
                let mut c = ctx.clone();
                for a in args {
                    if form == "and" {
                        let (v, yes, _) = self.test(a, &c);
                        out.join(v);
                        c = c.with_facts(&yes);
                    } else {
                        let (v, _, no) = self.test(a, &c);
                        out.join(v);
                        c = c.with_facts(&no);
                    }
                }
                out.or_unknown()
            }
            "begin" => self.body(args, ctx),
            "lambda" => {
                let Some(formals) = args.first() else { return AVal::unknown() };
                let (params, rest) = formals_of(formals);
                AVal::one(V::Closure(Rc::new(Closure {
                    params,
                    rest,
                    body: &args[1..],
                    env: ctx.env.clone(),
                    name: None,
                    id: d.span,
                    more: Rc::from([]),
                })))
            }
            "let" | "let*" | "letrec" | "letrec*" => self.let_form(form, d, args, ctx),
            "set!" => {
                let (Some(target), Some(e)) = (args.first(), args.get(1)) else { return AVal::unknown() };
                let v = self.eval(e, ctx);
                if let Some(id) = self.res.reference(target.span) {
                    let name = self.res.binding(id).name;
                    match self.res.binding(id).kind {
                        BindingKind::TopLevel => {
                            self.globals.entry(id).or_default().join(v);
                            self.access(Place::Var(id, 0), name, Rc::new(Vec::new()), true, target.span, ctx);
                        }
                        BindingKind::Local | BindingKind::Parameter => {
                            if let Some((instance, task)) = self.set_local(&ctx.env, id, v) {
                                self.access(Place::Var(id, instance), name, task, true, target.span, ctx);
                            }
                        }
                        _ => {}
                    }
                }
                AVal::constant()
            }
            "do" => {
                let Some(specs) = args.first().and_then(Datum::as_list) else { return AVal::unknown() };
                let frame = self.new_frame(ctx, ctx.env.clone());
                for s in specs {
                    if let Some(parts) = s.as_list().filter(|p| p.len() >= 2) {
                        let v = self.eval(&parts[1], ctx);
                        self.bind(&frame, &parts[0], AVal { term: None, ..v });
                    }
                }
                let mut c = ctx.clone();
                c.env = Some(frame);
                let mut out = AVal::constant();
                if let Some(test) = args.get(1).and_then(Datum::as_list) {
                    if let Some(t) = test.first() {
                        self.eval(t, &c);
                    }
                    out = self.body(&test[1..], &c);
                }
                for cmd in args.iter().skip(2) {
                    self.eval(cmd, &c);
                }
                for s in specs {
                    if let Some(step) = s.as_list().and_then(|p| p.get(2)) {
                        self.eval(step, &c);
                    }
                }
                out
            }
            "delay" | "delay-force" => args.first().map_or(AVal::unknown(), |a| self.eval(a, ctx)),
            "cons-stream" => {
                let mut out = AVal::default();
                for a in args {
                    out.join(self.eval(a, ctx));
                }
                AVal::one(V::Data(Rc::new(DataV::new(out.or_unknown()))))
            }
            "amb" => {
                let mut out = AVal::default();
                for a in args {
                    out.join(self.eval(a, ctx));
                }
                out.or_unknown()
            }
            "effect" => {
                for a in args.iter().skip(1) {
                    self.eval(a, ctx);
                }
                AVal::constant()
            }
            "handle" => {
                let mut out = args.first().map_or(AVal::unknown(), |a| self.eval(a, ctx));
                for clause in args.iter().skip(1) {
                    let Some(cl) = clause.as_list() else { continue };
                    let frame = self.new_frame(ctx, ctx.env.clone());
                    let mut c = ctx.clone();
                    c.env = Some(frame.clone());
                    let from = match cl.first().and_then(Datum::as_symbol).map(|s| s.as_str()) {
                        Some("on") => {
                            if let Some(ps) = cl.get(2) {
                                let (params, rest) = formals_of(ps);
                                for p in params.into_iter().chain(rest) {
                                    self.bind(&frame, p, AVal::unknown());
                                }
                                if ps.as_symbol().is_some() {
                                    if let Some(k) = cl.get(3) {
                                        self.bind(&frame, k, AVal::unknown());
                                    }
                                    4
                                } else {
                                    3
                                }
                            } else {
                                3
                            }
                        }
                        Some("return") => {
                            if let Some([v]) = cl.get(1).and_then(Datum::as_list) {
                                self.bind(&frame, v, AVal::unknown());
                            }
                            2
                        }
                        // The shape check admits no other clause.
                        _ => continue,
                    };
                    out.join(self.body(cl.get(from..).unwrap_or(&[]), &c));
                }
                out
            }
            "match" => {
                if let Some(s) = args.first() {
                    self.eval(s, ctx);
                }
                let mut out = AVal::default();
                for clause in args.iter().skip(1) {
                    let Some(cl) = clause.as_list().filter(|c| !c.is_empty()) else { continue };
                    let frame = self.new_frame(ctx, ctx.env.clone());
                    self.bind_pattern(&frame, &cl[0]);
                    let mut c = ctx.clone();
                    c.env = Some(frame);
                    out.join(self.body(&cl[1..], &c));
                }
                out.or_unknown()
            }
            "guard" => {
                let mut out = self.body(&args[1.min(args.len())..], ctx);
                if let Some(spec) = args.first().and_then(Datum::as_list) {
                    let frame = self.new_frame(ctx, ctx.env.clone());
                    if let Some(v) = spec.first() {
                        self.bind(&frame, v, AVal::unknown());
                    }
                    let mut c = ctx.clone();
                    c.env = Some(frame);
                    out.join(self.cond(&spec[1..], &c));
                }
                out
            }
            "let-syntax" | "letrec-syntax" => self.body(&args[1.min(args.len())..], ctx),
            "parallel" => self.parallel(items, ctx),
            "define" => AVal::unknown(),
            _ => AVal::unknown(),
        }
    }

    fn bind_pattern(&mut self, frame: &Env<'a>, p: &Datum) {
        match &p.kind {
            DatumKind::Symbol(s) if s.as_str().len() > 1 && s.as_str().starts_with('?') => {
                let span = Span { start: p.span.start + 1, end: p.span.end };
                if let Some(id) = self.res.binder(span) {
                    let name = Symbol::intern(&s.as_str()[1..]);
                    let term = self.fresh_var(name);
                    frame.vars.borrow_mut().push((id, AVal { term: Some(term), ..AVal::unknown() }));
                }
            }
            DatumKind::List(items, tail) if p.head_symbol().is_none_or(|s| s.as_str() != "quote") => {
                for i in items {
                    self.bind_pattern(frame, i);
                }
                if let Some(t) = tail {
                    self.bind_pattern(frame, t);
                }
            }
            DatumKind::Vector(items) => items.iter().for_each(|i| self.bind_pattern(frame, i)),
            _ => {}
        }
    }

    fn quasi(&mut self, t: &'a Datum, depth: u32, ctx: &Ctx<'a>) {
        if let DatumKind::List(items, tail) = &t.kind {
            match t.head_symbol().map(|s| s.as_str()) {
                Some("unquote" | "unquote-splicing") if items.len() == 2 => {
                    if depth == 1 {
                        self.eval(&items[1], ctx);
                    } else {
                        self.quasi(&items[1], depth - 1, ctx);
                    }
                    return;
                }
                Some("quasiquote") if items.len() == 2 => return self.quasi(&items[1], depth + 1, ctx),
                _ => {}
            }
            for i in items {
                self.quasi(i, depth, ctx);
            }
            if let Some(t) = tail {
                self.quasi(t, depth, ctx);
            }
        } else if let DatumKind::Vector(items) = &t.kind {
            for i in items {
                self.quasi(i, depth, ctx);
            }
        }
    }

    fn cond(&mut self, clauses: &'a [Datum], ctx: &Ctx<'a>) -> AVal<'a> {
        let mut out = AVal::default();
        let mut c = ctx.clone();
        let mut exhaustive = false;
        for clause in clauses {
            let Some(cl) = clause.as_list().filter(|c| !c.is_empty()) else { continue };
            if cl[0].is_symbol("else") {
                out.join(self.clause_body(&cl[1..], AVal::unknown(), &c));
                exhaustive = true;
                break;
            }
            let (v, yes, no) = self.test(&cl[0], &c);
            if v.term.as_ref().and_then(Term::lit) == Some(&Lit::Bool(false)) {
                continue;
            }
            let taken = c.with_facts(&yes);
            out.join(self.clause_body(&cl[1..], v.clone(), &taken));
            if v.term.as_ref().and_then(Term::lit) == Some(&Lit::Bool(true)) {
                exhaustive = true;
                break;
            }
            c = c.with_facts(&no);
        }
        if !exhaustive {
            out.join(AVal::constant());
        }
        out.or_unknown()
    }

    fn clause_body(&mut self, rest: &'a [Datum], test: AVal<'a>, ctx: &Ctx<'a>) -> AVal<'a> {
        if rest.is_empty() {
            return test;
        }
        if rest[0].is_symbol("=>") {
            let Some(f) = rest.get(1) else { return AVal::unknown() };
            let fv = self.eval(f, ctx);
            let call = CallInfo::new(f.span, f.span, f.as_symbol(), vec![f.span]);
            return self.apply(&fv, vec![test], &call, ctx);
        }
        self.body(rest, ctx)
    }

    /// Evaluates a test once: its value (with a literal `#t`/`#f` term when it folds) and the
    /// facts each branch may assume.
    fn test(&mut self, test: &'a Datum, ctx: &Ctx<'a>) -> (AVal<'a>, Vec<Fact>, Vec<Fact>) {
        if let Some(items) = test.as_list() {
            if items.len() == 2 && self.is_prim(&items[0], "not") {
                let (v, yes, no) = self.test(&items[1], ctx);
                let folded = v.term.as_ref().and_then(Term::lit).and_then(|l| match l {
                    Lit::Bool(b) => Some(!b),
                    _ => None,
                });
                let v = match folded {
                    Some(b) => AVal::lit(Lit::Bool(b)),
                    None => AVal::constant(),
                };
                return (v, no, yes);
            }
            if items.len() == 3 {
                if let Some(op) = items[0].as_symbol().filter(|_| self.is_builtin(&items[0])) {
                    let x = self.eval(&items[1], ctx);
                    let y = self.eval(&items[2], ctx);
                    if let (Some(a), Some(b)) = (x.term.clone(), y.term.clone()) {
                        if let Some(result) = key_order::fold(op.as_str(), &a, &b) {
                            return (AVal::lit(Lit::Bool(result)), Vec::new(), Vec::new());
                        }
                        if let Some((yes, no)) = key_order::comparison(op.as_str(), a, b) {
                            return (AVal::constant(), yes, no);
                        }
                    }
                    let call = CallInfo::new(test.span, items[0].span, Some(op), vec![items[1].span, items[2].span]);
                    let f = self.eval(&items[0], ctx);
                    return (self.apply(&f, vec![x, y], &call, ctx), Vec::new(), Vec::new());
                }
            }
        }
        (self.eval(test, ctx), Vec::new(), Vec::new())
    }

    fn is_builtin(&self, d: &Datum) -> bool {
        self.res.reference(d.span).is_some_and(|id| self.res.binding(id).kind == BindingKind::Builtin)
    }

    fn is_prim(&self, d: &Datum, name: &str) -> bool {
        d.is_symbol(name) && self.is_builtin(d)
    }

    fn branch(
        &mut self,
        test: &'a Datum,
        then: impl FnOnce(&mut Self, &Ctx<'a>) -> AVal<'a>,
        otherwise: impl FnOnce(&mut Self, &Ctx<'a>) -> AVal<'a>,
        ctx: &Ctx<'a>,
    ) -> AVal<'a> {
        let (v, yes, no) = self.test(test, ctx);
        match v.term.as_ref().and_then(Term::lit) {
            Some(Lit::Bool(true)) => then(self, ctx),
            Some(Lit::Bool(false)) => otherwise(self, ctx),
            _ => {
                let mut out = then(self, &ctx.with_facts(&yes));
                out.join(otherwise(self, &ctx.with_facts(&no)));
                out
            }
        }
    }

    fn let_form(&mut self, form: &str, d: &'a Datum, args: &'a [Datum], ctx: &Ctx<'a>) -> AVal<'a> {
        let named = form == "let" && args.first().and_then(Datum::as_symbol).is_some();
        let (name, rest) = if named { (Some(&args[0]), &args[1..]) } else { (None, args) };
        let Some(clauses) = rest.first().and_then(Datum::as_list) else { return AVal::unknown() };
        let body = &rest[1..];
        let pairs: Vec<(&'a Datum, &'a Datum)> =
            clauses.iter().filter_map(|c| c.as_list().filter(|l| l.len() == 2).map(|l| (&l[0], &l[1]))).collect();
        match form {
            "let" if named => {
                let loop_frame = self.new_frame(ctx, ctx.env.clone());
                let closure = Rc::new(Closure {
                    params: pairs.iter().map(|(n, _)| *n).collect(),
                    rest: None,
                    body,
                    env: Some(loop_frame.clone()),
                    name: name.and_then(Datum::as_symbol),
                    id: d.span,
                    more: Rc::from([]),
                });
                if let Some(id) = name.and_then(|n| self.res.binder(n.span)) {
                    loop_frame.vars.borrow_mut().push((id, AVal::one(V::Closure(closure.clone()))));
                }
                let inits: Vec<AVal<'a>> = pairs.iter().map(|(_, e)| self.eval(e, ctx)).collect();
                let call = CallInfo::new(d.span, args[0].span, None, pairs.iter().map(|(_, e)| e.span).collect());
                self.call_closure(&closure, inits, &call, ctx)
            }
            "let" => {
                let inits: Vec<AVal<'a>> = pairs.iter().map(|(_, e)| self.eval(e, ctx)).collect();
                let frame = self.new_frame(ctx, ctx.env.clone());
                for ((n, _), v) in pairs.iter().zip(inits) {
                    self.bind(&frame, n, v);
                }
                let mut c = ctx.clone();
                c.env = Some(frame);
                self.body(body, &c)
            }
            "let*" => {
                let frame = self.new_frame(ctx, ctx.env.clone());
                let mut c = ctx.clone();
                c.env = Some(frame.clone());
                for (n, e) in &pairs {
                    let v = self.eval(e, &c);
                    self.bind(&frame, n, v);
                }
                self.body(body, &c)
            }
            _ => {
                let frame = self.new_frame(ctx, ctx.env.clone());
                let mut c = ctx.clone();
                c.env = Some(frame.clone());
                for (n, e) in &pairs {
                    let mut v = self.eval(e, &c);
                    if let Some(sym) = n.as_symbol() {
                        v = self.named_closure(v, sym);
                    }
                    self.bind(&frame, n, v);
                }
                self.body(body, &c)
            }
        }
    }

    // ----- calls -----

    fn apply(&mut self, f: &AVal<'a>, args: Vec<AVal<'a>>, call: &CallInfo, ctx: &Ctx<'a>) -> AVal<'a> {
        let sers = f.vals.iter().filter(|v| matches!(v, V::SProc(_) | V::Ser(_))).count();
        let mut out = AVal::default();
        for v in &f.vals {
            let r = self.apply_one(v, f, &args, call, ctx, sers > 1);
            out.join(r);
        }
        out.or_unknown()
    }

    fn apply_one(
        &mut self,
        v: &V<'a>,
        f: &AVal<'a>,
        args: &[AVal<'a>],
        call: &CallInfo,
        ctx: &Ctx<'a>,
        may: bool,
    ) -> AVal<'a> {
        match v {
            V::Closure(c) => {
                let c = c.clone();
                self.call_closure(&c, args.to_vec(), call, ctx)
            }
            V::Prim(name) => self.prim(*name, args, call, ctx),
            V::Ser(lock) if args.len() == 1 => self.serialize(lock.clone(), f, &args[0], call, true),
            V::Data(d) if args.len() == 1 && d.coll.is_some() => {
                let key = match &d.key {
                    Some(k) => k.clone(),
                    None => self.fresh_var(Symbol::intern("key")),
                };
                let lock = LockId::Keyed { coll: d.coll.unwrap(), key, label: f.label };
                let definite = matches!(d.coll, Some(CollId::Def(_)))
                    || matches!(d.coll, Some(CollId::Obj(o)) if self.objs[o as usize].holds_sers);
                self.serialize(lock, f, &args[0], call, definite)
            }
            V::Param(proc, index, name) if args.len() == 1 => {
                let lock = LockId::Param { proc: *proc, index: *index, name: *name };
                self.serialize(lock, f, &args[0], call, false)
            }
            V::SProc(sp) => {
                let sp = sp.clone();
                self.call_sproc(&sp, args, call, ctx, may, f.label.or(call.head_name))
            }
            _ => AVal::unknown(),
        }
    }

    fn serialize(&mut self, lock: LockId, f: &AVal<'a>, p: &AVal<'a>, call: &CallInfo, definite: bool) -> AVal<'a> {
        let lock = match lock {
            LockId::Made(m) => match self.members.get(&m) {
                Some((coll, key)) => LockId::Keyed { coll: *coll, key: key.clone(), label: f.label },
                None => LockId::Made(m),
            },
            LockId::Keyed { coll, key, label } => LockId::Keyed { coll, key, label: label.or(f.label) },
            other => other,
        };
        AVal::one(V::SProc(Rc::new(SProc {
            lock,
            inner: p.clone(),
            token: call.head,
            expr: call.span,
            passed_at: f.passed_at,
            definite,
        })))
    }

    fn call_sproc(
        &mut self,
        sp: &SProc<'a>,
        args: &[AVal<'a>],
        call: &CallInfo,
        ctx: &Ctx<'a>,
        may: bool,
        stored_name: Option<Symbol>,
    ) -> AVal<'a> {
        let mut ctx = ctx.clone();
        // A stored serialized procedure called by name: the call is a step of the path.
        if call.head != sp.token && stored_name.is_some() {
            let mut t = (*ctx.trace).clone();
            t.push(TraceStep { span: call.head, callee: stored_name, locks: Vec::new(), runs: Some(sp.lock.clone()) });
            ctx.trace = Rc::new(t);
        }
        if !self.charge(1 + ctx.held.len() + ctx.trace.len()) {
            return AVal::unknown();
        }
        self.out.acquires.push(Acquire {
            lock: sp.lock.clone(),
            may,
            token: sp.token,
            passed_at: sp.passed_at,
            held: ctx.held.clone(),
            facts: ctx.facts.clone(),
            task: ctx.task.clone(),
            trace: ctx.trace.clone(),
            joined: ctx.joined.clone(),
            latent: ctx.latent,
        });
        ctx.held.push(Held {
            lock: sp.lock.clone(),
            token: sp.token,
            call: call.head,
            trace_len: ctx.trace.len(),
            passed_at: sp.passed_at,
        });
        let inner_call = CallInfo::new(call.span, sp.token, None, call.args.clone());
        let inner = sp.inner.clone();
        self.apply(&inner, args.to_vec(), &inner_call, &ctx)
    }

    fn enter_closure(&mut self, c: &Rc<Closure<'a>>, args: Vec<AVal<'a>>, call: &CallInfo, ctx: &Ctx<'a>) -> AVal<'a> {
        self.called.insert(c.id);
        let frame = self.new_frame(ctx, c.env.clone());
        let mut args = args.into_iter();
        for (i, p) in c.params.iter().enumerate() {
            let mut v = args.next().unwrap_or_else(AVal::unknown);
            if v.passed_at.is_none() && v.vals.iter().any(|x| matches!(x, V::Ser(_) | V::Data(_) | V::SProc(_))) {
                v.passed_at = call.args.get(i).copied();
            }
            self.bind(&frame, p, v);
        }
        if let Some(rest) = c.rest {
            let v = AVal::one(V::Data(Rc::new(DataV::list(args.collect()))));
            self.bind(&frame, rest, v);
        }
        if let Some(((params, rest), more)) = c.more.split_first() {
            // A curried define: this call only binds its group and returns the next procedure.
            return AVal::one(V::Closure(Rc::new(Closure {
                params: params.clone(),
                rest: *rest,
                body: c.body,
                env: Some(frame),
                name: c.name,
                id: c.id,
                more: Rc::from(more),
            })));
        }
        let mut c2 = ctx.clone();
        c2.env = Some(frame);
        let name = call.head_name.or(c.name);
        if name.is_some() && call.head != c.id {
            let locks = self.arg_locks(&c2, c);
            let mut t = (*ctx.trace).clone();
            t.push(TraceStep { span: call.head, callee: name, locks, runs: None });
            c2.trace = Rc::new(t);
        }
        self.stack.push(c.id);
        let out = self.body(c.body, &c2);
        self.stack.pop();
        out
    }

    /// A call, replayed from the memo when an identical one already ran to the end.
    fn call_closure(&mut self, c: &Rc<Closure<'a>>, args: Vec<AVal<'a>>, call: &CallInfo, ctx: &Ctx<'a>) -> AVal<'a> {
        if self.budget == 0 || self.stack.iter().filter(|s| **s == c.id).count() >= 2 {
            self.out.truncated |= self.budget == 0;
            self.cuts += 1;
            return AVal::unknown();
        }
        let key = memo_key(c, &args, ctx);
        if let Some(m) = self.memo.get(&key) {
            let (mut result, delta, first_id) = (m.result.clone(), m.mutex_delta, m.first_id);
            self.mutex_depth += delta;
            if result.term.as_ref().is_some_and(|t| made_after(t, first_id)) {
                let name = match result.term.as_ref() {
                    Some(Term::Var(_, n)) => *n,
                    _ => Symbol::intern("value"),
                };
                result.term = Some(self.fresh_var(name));
            }
            return result;
        }
        let (first_id, made, objs, frames, depth, cuts) = (
            self.next_id,
            self.out.made_names.len(),
            self.objs.len(),
            self.assigned_frames,
            self.mutex_depth,
            self.cuts,
        );
        let kept = args.clone();
        let out = self.enter_closure(c, args, call, ctx);
        let replayable = self.out.made_names.len() == made
            && self.objs.len() == objs
            && self.assigned_frames == frames
            && self.cuts == cuts
            && plain_result(&out, first_id, 0);
        if replayable {
            self.memo.insert(
                key,
                Memo { result: out.clone(), mutex_delta: self.mutex_depth - depth, first_id, _keep: (c.clone(), kept) },
            );
        }
        out
    }

    /// Serializers passed as arguments, for the trace message.
    fn arg_locks(&self, ctx: &Ctx<'a>, c: &Closure<'a>) -> Vec<LockId> {
        let mut out = Vec::new();
        for p in &c.params {
            let Some(id) = self.res.binder(p.span) else { continue };
            if let Some((v, _, _)) = self.lookup_local(&ctx.env, id) {
                for x in &v.vals {
                    if let V::Ser(l) = x {
                        out.push(l.clone());
                    }
                }
            }
        }
        out
    }

    // ----- primitives -----

    fn prim(&mut self, name: Symbol, args: &[AVal<'a>], call: &CallInfo, ctx: &Ctx<'a>) -> AVal<'a> {
        let n = name.as_str();
        if let Some(acc) = builtins::state_access(n) {
            for (positions, write) in [(acc.reads, false), (acc.writes, true)] {
                for p in positions {
                    let Some(i) = p.index(args.len()) else { continue };
                    for v in &args[i].vals {
                        if let V::Obj(o) = v {
                            let loc = Place::Obj(*o);
                            self.push_access(loc, write, call.args[i], ctx);
                        }
                    }
                }
            }
        }
        let arg = |i: usize| args.get(i).cloned().unwrap_or_else(AVal::unknown);
        match n {
            "make-serializer" | "make-mutex" => {
                let id = self.out.made_names.len() as u32;
                let explicit = args.first().and_then(|a| a.term.as_ref()).and_then(Term::lit).map(|l| match l {
                    Lit::Str(s) => s.to_string(),
                    other => other.to_string().trim_start_matches('\'').to_string(),
                });
                self.made_top.push(explicit.is_some());
                self.out.made_names.push(explicit);
                self.out.made_spans.push(call.span);
                self.out.made_family.push(ctx.multi);
                AVal::one(V::Ser(LockId::Made(id)))
            }
            "make-table"
            | "make-hash-table"
            | "make-hash"
            | "make-vector"
            | "vector"
            | "make-buffer"
            | "make-mutable-context"
            | "list->vector"
            | "hash-table-copy"
            | "read-table" => {
                let o = self.objs.len() as u32;
                self.objs.push(ObjInfo::default());
                self.out
                    .locs
                    .insert(Place::Obj(o), PlaceInfo { name: None, region: ctx.region, task: ctx.task.clone() });
                AVal::one(V::Obj(o))
            }
            // Same name, same order (symbols compare by name): the key term carries over.
            "symbol->string" | "string->symbol" => {
                let term = arg(0).term.map(|t| match t {
                    Term::Lit(Lit::Sym(s)) if n == "symbol->string" => {
                        Term::Lit(Lit::Str(std::sync::Arc::from(s.as_str())))
                    }
                    Term::Lit(Lit::Str(s)) if n == "string->symbol" => Term::Lit(Lit::Sym(Symbol::intern(&s))),
                    other => other,
                });
                AVal { term, ..AVal::constant() }
            }
            "list" => AVal::one(V::Data(Rc::new(DataV::list(args.to_vec())))),
            "cons" if args.len() == 2 && known_list(&args[1]).is_some() => {
                let mut items = vec![args[0].clone()];
                items.extend(known_list(&args[1]).unwrap().iter().cloned());
                AVal::one(V::Data(Rc::new(DataV::list(items))))
            }
            "cons" | "append" | "list-copy" | "reverse" | "vector->list" | "iota" | "list-tail" | "delete"
            | "delete-duplicates" | "last-pair" => {
                let mut elems = AVal::default();
                for a in args {
                    for v in &a.vals {
                        match v {
                            V::Data(d) if n != "cons" && n != "list" => elems.join(d.elems.clone()),
                            _ => elems.join(AVal { vals: vec![v.clone()], term: a.term.clone(), ..Default::default() }),
                        }
                    }
                }
                let mut data = DataV::new(elems.or_unknown());
                if n == "cons" && args.len() == 2 {
                    data.pair = Some(Rc::new((args[0].clone(), args[1].clone())));
                }
                AVal::one(V::Data(Rc::new(data)))
            }
            "car" | "cdr" | "caar" | "cadr" | "cdar" | "cddr" | "caddr" | "cdddr" | "cadddr" | "list-ref" | "last"
            | "stream-car" | "stream-cdr" => {
                let x = arg(0);
                let term = x.term.clone().map(|t| Term::Acc(name, Rc::new(t)));
                let index = match arg(1).term.as_ref().and_then(Term::lit) {
                    Some(Lit::Int(i)) if *i >= 0 => Some(*i as usize),
                    _ => None,
                };
                let halves = match x.vals.as_slice() {
                    [V::Data(d)] if d.coll.is_none() => d.pair.as_deref(),
                    _ => None,
                };
                let half = match (n, halves) {
                    ("car", Some((head, _))) => Some(head.clone()),
                    ("cdr", Some((_, tail))) => Some(tail.clone()),
                    _ => None,
                };
                if let Some(mut v) = half.or_else(|| known_list(&x).and_then(|items| positional(n, index, items))) {
                    if v.term.is_none() {
                        v.term = term;
                    }
                    v.label = None;
                    return v;
                }
                let mut out = AVal::default();
                for v in &x.vals {
                    match v {
                        V::Data(d) if d.coll.is_some() => {
                            let key = d.key.clone().or_else(|| term.clone());
                            out.join(AVal::one(V::Data(Rc::new(DataV::keyed(d.coll, key, d.elems.clone())))));
                        }
                        V::Data(d) => {
                            out.join(d.elems.clone());
                            if n.ends_with("dr") || n == "stream-cdr" {
                                out.join(AVal::one(v.clone()));
                            }
                        }
                        _ => out.join(AVal::unknown()),
                    }
                }
                let mut out = out.or_unknown();
                out.term = term;
                out.label = None;
                out
            }
            "assoc" | "assq" | "assv" | "member" | "memq" | "memv" => {
                let key = arg(0).term;
                self.lookup_in(&arg(1), key)
            }
            "hash-table-ref" | "hash-table-ref/default" | "hash-ref" | "lookup" | "get" => {
                let (table, key) =
                    if n == "lookup" { (arg(args.len().saturating_sub(1)), arg(0)) } else { (arg(0), arg(1)) };
                if n == "hash-table-ref" && args.len() > 2 {
                    let call2 = CallInfo::new(call.span, call.head, None, Vec::new());
                    self.apply(&args[2], Vec::new(), &call2, ctx);
                }
                self.lookup_in(&table, key.term)
            }
            "hash-table-set!" | "hash-set!" | "insert!" | "put" => {
                let (table, key, value) = if n == "insert!" {
                    let l = args.len();
                    (arg(l.saturating_sub(1)), arg(0), arg(l.saturating_sub(2)))
                } else {
                    (arg(0), arg(1), arg(2))
                };
                for t in &table.vals {
                    if let V::Obj(o) = t {
                        let o = *o;
                        for v in &value.vals {
                            if let V::Ser(LockId::Made(m)) = v {
                                let key = key.term.clone().unwrap_or_else(|| self.fresh_var(Symbol::intern("key")));
                                self.members.insert(*m, (CollId::Obj(o), key));
                                self.objs[o as usize].holds_sers = true;
                            }
                        }
                        self.objs[o as usize].vals.join(AVal {
                            term: None,
                            label: None,
                            passed_at: None,
                            ..value.clone()
                        });
                    }
                }
                AVal::constant()
            }
            "parallel-map" => self.parallel_map(args, call, ctx),
            "mutex-acquire" => {
                self.mutex_depth += 1;
                AVal::constant()
            }
            "mutex-release" => {
                self.mutex_depth -= 1;
                AVal::constant()
            }
            "map"
            | "for-each"
            | "filter"
            | "fold"
            | "fold-left"
            | "fold-right"
            | "foldr"
            | "reduce"
            | "append-map"
            | "filter-map"
            | "any"
            | "every"
            | "andmap"
            | "ormap"
            | "vector-map"
            | "vector-for-each"
            | "sort"
            | "hash-table-walk"
            | "stream-map"
            | "stream-filter"
            | "stream-for-each"
            | "list-index"
            | "remove"
            | "partition"
            | "hash-table-update!"
            | "hash-table-update!/default"
            | "apply"
            | "dynamic-wind" => self.higher_order(n, args, call, ctx),
            _ => AVal::constant(),
        }
    }

    fn lookup_in(&mut self, coll: &AVal<'a>, key: Option<Term>) -> AVal<'a> {
        let mut out = AVal::default();
        for v in &coll.vals {
            match v {
                V::Data(d) if d.coll.is_some() => {
                    let key = key.clone().unwrap_or_else(|| self.fresh_var(Symbol::intern("key")));
                    out.join(AVal::one(V::Data(Rc::new(DataV::keyed(d.coll, Some(key), d.elems.clone())))));
                }
                V::Data(_) => out.join(AVal::one(v.clone())),
                V::Obj(o) => {
                    let o = *o;
                    if self.objs[o as usize].holds_sers {
                        let key = key.clone().unwrap_or_else(|| self.fresh_var(Symbol::intern("key")));
                        let elems = self.objs[o as usize].vals.clone();
                        out.join(AVal::one(V::Data(Rc::new(DataV::keyed(Some(CollId::Obj(o)), Some(key), elems)))));
                    } else {
                        out.join(self.objs[o as usize].vals.clone());
                        out.join(AVal::constant());
                    }
                }
                _ => out.join(AVal::unknown()),
            }
        }
        out.or_unknown()
    }

    /// Element values of a list argument.
    fn elements(&self, list: &AVal<'a>) -> AVal<'a> {
        let mut out = AVal::default();
        for v in &list.vals {
            match v {
                V::Data(d) if d.coll.is_none() => out.join(d.elems.clone()),
                _ => out.join(AVal::unknown()),
            }
        }
        let mut out = out.or_unknown();
        if out.vals.len() > 1 {
            out.term = None;
        }
        out
    }

    fn higher_order(&mut self, n: &str, args: &[AVal<'a>], call: &CallInfo, ctx: &Ctx<'a>) -> AVal<'a> {
        let (proc_idx, list_idxs, extra): (Vec<usize>, Vec<usize>, usize) = match n {
            "dynamic-wind" => (vec![0, 1, 2], vec![], 0),
            "apply" => (vec![0], (1..args.len()).collect(), 0),
            "sort" => {
                let first_proc = args.first().is_some_and(|a| a.vals.iter().any(is_procedure));
                if first_proc {
                    (vec![0], vec![], 2)
                } else {
                    (vec![1], vec![], 2)
                }
            }
            "hash-table-walk" => (vec![1], vec![], 2),
            "hash-table-update!" | "hash-table-update!/default" => (vec![2], vec![], 1),
            "fold" | "fold-left" | "fold-right" | "foldr" | "reduce" => (vec![0], (2..args.len()).collect(), 1),
            _ => (vec![0], (1..args.len()).collect(), 0),
        };
        // Over lists of known length, the procedure runs once per element, with that element:
        // `map` then keeps the results in order, and what each call makes stays its own.
        let per_item = matches!(
            n,
            "map"
                | "for-each"
                | "append-map"
                | "filter-map"
                | "any"
                | "every"
                | "andmap"
                | "ormap"
                | "filter"
                | "remove"
        ) && !list_idxs.is_empty()
            && list_idxs.iter().all(|&i| args.get(i).and_then(known_list).is_some_and(|l| l.len() <= MAX_ITEMS));
        if per_item {
            let lists: Vec<&[AVal<'a>]> = list_idxs.iter().map(|&i| known_list(&args[i]).unwrap()).collect();
            let len = lists.iter().map(|l| l.len()).min().unwrap_or(0);
            let mut inner = CallInfo::new(call.span, call.args.first().copied().unwrap_or(call.head), None, Vec::new());
            inner.head_name = call.arg_names.first().copied().flatten();
            let mut items = Vec::with_capacity(len);
            for k in 0..len {
                let call_args: Vec<AVal<'a>> = lists.iter().map(|l| l[k].clone()).collect();
                let r = self.apply(&args[0], call_args, &inner, ctx);
                if n == "for-each" {
                    self.dropped_result(&r, ctx);
                }
                items.push(r);
            }
            return match n {
                "map" => AVal::one(V::Data(Rc::new(DataV::list(items)))),
                "append-map" | "filter-map" => {
                    let mut all = AVal::default();
                    items.into_iter().for_each(|r| all.join(r));
                    AVal::one(V::Data(Rc::new(DataV::new(all.or_unknown()))))
                }
                "filter" | "remove" => AVal::one(V::Data(Rc::new(DataV::new(self.elements(&args[1]))))),
                _ => AVal::constant(),
            };
        }
        let mut results = AVal::default();
        // `dynamic-wind` whose before thunk takes a mutex runs the body under it.
        let mut cur = ctx.clone();
        // Otherwise one abstract call stands for the calls of every element.
        if !matches!(n, "apply" | "dynamic-wind" | "hash-table-update!" | "hash-table-update!/default") {
            cur.multi = true;
            cur.region = self.fresh();
        }
        let ctx = &mut cur;
        for &p in &proc_idx {
            let depth = self.mutex_depth;
            let Some(f) = args.get(p) else { continue };
            let mut call_args: Vec<AVal<'a>> = list_idxs.iter().map(|&i| self.elements(&args[i])).collect();
            if n == "apply" {
                call_args = list_idxs
                    .iter()
                    .enumerate()
                    .map(|(k, &i)| if k + 1 == list_idxs.len() { self.elements(&args[i]) } else { args[i].clone() })
                    .collect();
            }
            for _ in 0..extra {
                call_args.push(AVal::unknown());
            }
            let mut inner = CallInfo::new(call.span, call.args.get(p).copied().unwrap_or(call.head), None, Vec::new());
            inner.head_name = call.arg_names.get(p).copied().flatten();
            let r = self.apply(f, call_args, &inner, ctx);
            if n == "for-each" || n == "vector-for-each" || n == "hash-table-walk" || n == "stream-for-each" {
                self.dropped_result(&r, ctx);
            }
            if n == "dynamic-wind" {
                self.track_mutex(depth, call.span, ctx);
                if p != 1 {
                    continue;
                }
            }
            results.join(r);
        }
        match n {
            "map" | "append-map" | "filter-map" | "vector-map" | "stream-map" => {
                AVal::one(V::Data(Rc::new(DataV::new(results.or_unknown()))))
            }
            "filter" | "remove" | "sort" | "stream-filter" | "partition" => args
                .iter()
                .find(|a| a.vals.iter().any(|v| matches!(v, V::Data(_))))
                .cloned()
                .unwrap_or_else(AVal::unknown),
            "apply" | "fold" | "fold-left" | "fold-right" | "foldr" | "reduce" | "dynamic-wind" => results.or_unknown(),
            _ => AVal::constant(),
        }
    }

    // ----- concurrency -----

    fn spawn_ctx(&self, ctx: &Ctx<'a>, site: u32, branch: Branch, head: Span) -> Ctx<'a> {
        let mut joined = (*ctx.joined).clone();
        joined.extend(ctx.held.iter().map(|h| Joined { held: h.clone(), spawn: head }));
        let mut task = (*ctx.task).clone();
        task.push(Step { site, branch });
        Ctx {
            env: ctx.env.clone(),
            held: Vec::new(),
            facts: ctx.facts.clone(),
            task: Rc::new(task),
            trace: Rc::new(Vec::new()),
            joined: Rc::new(joined),
            latent: ctx.latent,
            multi: ctx.multi,
            region: ctx.region,
        }
    }

    fn parallel(&mut self, items: &'a [Datum], ctx: &Ctx<'a>) -> AVal<'a> {
        let site = self.out.spawns.len() as u32;
        let head = items[0].span;
        self.out.spawns.push(Spawn {
            kind: SpawnKind::Parallel,
            head,
            branches: items[1..].iter().map(|b| b.span).collect(),
            proc_name: None,
            region: ctx.region,
        });
        let mut results = Vec::with_capacity(items.len() - 1);
        for (i, e) in items[1..].iter().enumerate() {
            let tctx = self.spawn_ctx(ctx, site, Branch::Index(i as u32 + 1), head);
            let v = self.eval(e, &tctx);
            let call = CallInfo::new(e.span, e.span, e.as_symbol(), Vec::new());
            let mut r = AVal::default();
            for x in &v.vals {
                match x {
                    V::Closure(c) if c.accepts(0) => {
                        let c = c.clone();
                        r.join(self.call_closure(&c, Vec::new(), &call, &tctx));
                    }
                    V::SProc(sp) => {
                        let sp = sp.clone();
                        r.join(self.call_sproc(&sp, &[], &call, &tctx, false, e.as_symbol()));
                    }
                    other => r.join(AVal::one(other.clone())),
                }
            }
            results.push(r.or_unknown());
        }
        if results.is_empty() {
            return AVal::constant();
        }
        AVal::one(V::Data(Rc::new(DataV::list(results))))
    }

    fn parallel_map(&mut self, args: &[AVal<'a>], call: &CallInfo, ctx: &Ctx<'a>) -> AVal<'a> {
        let (Some(f), Some(list)) = (args.first(), args.get(1)) else { return AVal::unknown() };
        let site = self.out.spawns.len() as u32;
        let proc_name = f.vals.iter().find_map(|v| match v {
            V::Closure(c) => c.name.map(|s| s.to_string()),
            _ => None,
        });
        self.out.spawns.push(Spawn {
            kind: SpawnKind::ParallelMap,
            head: call.head,
            branches: call.args.first().copied().into_iter().collect(),
            proc_name,
            region: ctx.region,
        });
        // One task per element of a short list of known length; else one task family.
        if let Some(items) = known_list(list).filter(|l| l.len() <= MAX_ITEMS) {
            let items = items.to_vec();
            let inner = CallInfo::new(call.span, call.args.first().copied().unwrap_or(call.head), None, Vec::new());
            let mut results = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                let tctx = self.spawn_ctx(ctx, site, Branch::Index(i as u32 + 1), call.head);
                let r = self.apply(f, vec![item], &inner, &tctx);
                self.dropped_result(&r, ctx);
                results.push(r);
            }
            return AVal::one(V::Data(Rc::new(DataV::list(results))));
        }
        let mut tctx = self.spawn_ctx(ctx, site, Branch::Star, call.head);
        tctx.multi = true;
        tctx.region = self.fresh();
        let elem = self.elements(list);
        let inner = CallInfo::new(call.span, call.args.first().copied().unwrap_or(call.head), None, Vec::new());
        let r = self.apply(f, vec![elem], &inner, &tctx);
        self.dropped_result(&r, ctx);
        AVal::one(V::Data(Rc::new(DataV::new(r))))
    }

    // ----- procedures nothing calls -----

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

/// The memo key of a call: callee (lambda and environment), arguments, and the context
/// parts that events record (held set, facts, task, joined locks, latent). The trace is left
/// out on purpose: a replay differs only in the call path, and one path is enough.
fn memo_key<'a>(c: &Rc<Closure<'a>>, args: &[AVal<'a>], ctx: &Ctx<'a>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    c.id.hash(&mut h);
    c.env.as_ref().map(Rc::as_ptr).hash(&mut h);
    args.len().hash(&mut h);
    for a in args {
        hash_aval(a, &mut h, 0);
    }
    for held in &ctx.held {
        (&held.lock, held.token, held.call, held.passed_at).hash(&mut h);
    }
    ctx.facts.hash(&mut h);
    ctx.task.hash(&mut h);
    for j in ctx.joined.iter() {
        (&j.held.lock, j.held.token, j.spawn).hash(&mut h);
    }
    (ctx.latent, ctx.multi, ctx.region).hash(&mut h);
    h.finish()
}

fn hash_aval<H: std::hash::Hasher>(a: &AVal<'_>, h: &mut H, depth: u32) {
    use std::hash::Hash;
    (&a.term, a.label, a.passed_at, a.vals.len()).hash(h);
    for v in &a.vals {
        std::mem::discriminant(v).hash(h);
        match v {
            V::Const | V::Unknown => {}
            V::Ser(l) => l.hash(h),
            V::SProc(p) => Rc::as_ptr(p).hash(h),
            V::Closure(c) => (c.id, c.env.as_ref().map(Rc::as_ptr)).hash(h),
            V::Prim(p) => p.hash(h),
            V::Obj(o) => o.hash(h),
            V::Data(d) if depth < 2 => {
                (d.coll, &d.key).hash(h);
                hash_aval(&d.elems, h, depth + 1);
                if let Some(items) = &d.items {
                    items.len().hash(h);
                    for i in items.iter() {
                        hash_aval(i, h, depth + 1);
                    }
                }
                if let Some(pair) = &d.pair {
                    hash_aval(&pair.0, h, depth + 1);
                    hash_aval(&pair.1, h, depth + 1);
                }
            }
            V::Data(d) => Rc::as_ptr(d).hash(h),
            V::Param(p, i, n) => (p, i, n).hash(h),
        }
    }
}

/// Whether a term mentions a value first bound after `first_id` (inside the call).
fn made_after(t: &Term, first_id: u32) -> bool {
    match t {
        Term::Var(id, _) => *id > first_id,
        Term::Acc(_, inner) => made_after(inner, first_id),
        Term::Lit(_) | Term::Global(..) => false,
    }
}

/// A result that a replay may hand out again: no procedure (its frame belongs to one call)
/// and no data whose key terms were made inside the call.
fn plain_result(v: &AVal<'_>, first_id: u32, depth: u32) -> bool {
    depth < 4
        && v.vals.iter().all(|x| match x {
            V::Const | V::Unknown | V::Prim(_) | V::Obj(_) | V::Param(..) => true,
            V::Ser(l) => l.key().is_none_or(|k| !made_after(k, first_id)),
            V::Data(d) => {
                d.key.as_ref().is_none_or(|k| !made_after(k, first_id))
                    && (depth > 0 || d.elems.term.as_ref().is_none_or(|t| !made_after(t, first_id)))
                    && plain_result(&d.elems, first_id, depth + 1)
                    && d.items
                        .iter()
                        .flat_map(|items| items.iter())
                        .chain(d.pair.iter().flat_map(|p| [&p.0, &p.1]))
                        .all(|i| {
                            i.term.as_ref().is_none_or(|t| !made_after(t, first_id))
                                && plain_result(i, first_id, depth + 1)
                        })
            }
            V::SProc(_) | V::Closure(_) => false,
        })
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
