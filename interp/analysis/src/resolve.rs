//! Name resolution: which binder each identifier refers to, lexically.
//!
//! One walk over the syntax tree builds scopes, binders and references. The same walk reports
//! the shape mistakes of special forms (`omega::syntax`) from the table of forms
//! (`forms::check`, the messages the evaluator gives), records unbound names and the facts that the
//! arity and effect checks need, so those never re-parse forms. The language server uses the
//! result for definition, references, rename, completion and hover.

use std::collections::{BTreeSet, HashMap};

use crate::builtins;
use crate::diagnostic::{Code, Diagnostic};
use crate::forms;
use crate::symbol::Symbol;
use crate::syntax::{Datum, DatumKind, Span};

pub type BindingId = u32;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BindingKind {
    /// A top-level `define` (or `define-record-type` name); visible in the whole file.
    TopLevel,
    /// A `let`-family, internal-`define`, `do`, `match`, `guard` or named-`let` binder.
    Local,
    /// A `lambda` or `handle` clause parameter.
    Parameter,
    /// A `define-syntax`, `let-syntax` or `letrec-syntax` name.
    Macro,
    Builtin,
    SpecialForm,
}

/// A binder: its name, where it is written (`None` for built-ins) and what bound it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    pub id: BindingId,
    pub name: Symbol,
    pub span: Option<Span>,
    pub kind: BindingKind,
}

/// A region of text and the names it binds.
#[derive(Clone, Debug)]
pub struct Scope {
    pub region: Span,
    pub bindings: Vec<BindingId>,
}

/// A call whose operator is an identifier: what the arity check needs.
#[derive(Clone, Debug)]
pub struct CallSite {
    pub callee: BindingId,
    pub head: Span,
    pub span: Span,
    pub argc: usize,
}

/// Arity of a `lambda` formals list: `max` is `None` for a rest parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arity {
    pub min: usize,
    pub max: Option<usize>,
}

#[derive(Clone, Debug, Default)]
struct BindingInfo {
    reads: u32,
    sets: u32,
    /// Report this binder if it is never read (`let` family and internal defines).
    check_unused: bool,
    /// Number of `define`s of this top-level name.
    defines: u32,
    /// The arity of the procedure a top-level `define` binds, if it binds one.
    arity: Option<Arity>,
}

/// The result of resolving one file.
#[derive(Clone, Debug, Default)]
pub struct Resolution {
    bindings: Vec<Binding>,
    info: Vec<BindingInfo>,
    /// References, sorted by position once resolution ends.
    refs: Vec<(Span, BindingId)>,
    ref_index: HashMap<Span, BindingId>,
    binder_index: HashMap<Span, BindingId>,
    scopes: Vec<Scope>,
    toplevel: HashMap<Symbol, BindingId>,
    pseudo: HashMap<Symbol, BindingId>,
    /// Identifiers bound nowhere, in source order.
    pub unbound: Vec<(Span, Symbol)>,
    /// Malformed special forms and the like.
    pub syntax_errors: Vec<Diagnostic>,
    /// Indices of top-level forms with a syntax error: the other checks skip them.
    pub malformed_forms: BTreeSet<usize>,
    pub calls: Vec<CallSite>,
    /// `(effect OP …)`: OP and its span.
    pub effects: Vec<(Symbol, Span)>,
    /// Every op some `handle` clause in the file handles.
    pub handled_ops: BTreeSet<Symbol>,
    /// Spans of top-level forms, in order.
    pub form_spans: Vec<Span>,
    /// Symbols that appear inside quoted data: names `eval` may define at run time.
    pub quoted: BTreeSet<Symbol>,
    /// Whether the file calls the built-in `eval` (which can define globals at run time).
    pub calls_eval: bool,
}

impl Resolution {
    pub fn binding(&self, id: BindingId) -> &Binding {
        &self.bindings[id as usize]
    }

    pub fn bindings(&self) -> &[Binding] {
        &self.bindings
    }

    /// Every identifier token with its binding, in one pass (semantic tokens of a whole file):
    /// references in order, then binders in no particular order.
    pub fn identifiers(&self) -> impl Iterator<Item = (Span, BindingId)> + '_ {
        self.refs.iter().copied().chain(self.binder_index.iter().map(|(s, b)| (*s, *b)))
    }

    /// The binding an identifier token refers to (a reference or a binder).
    pub fn binding_of(&self, span: Span) -> Option<BindingId> {
        self.ref_index.get(&span).or_else(|| self.binder_index.get(&span)).copied()
    }

    /// The binding a reference token refers to.
    pub fn reference(&self, span: Span) -> Option<BindingId> {
        self.ref_index.get(&span).copied()
    }

    /// The binding a binder token introduces.
    pub fn binder(&self, span: Span) -> Option<BindingId> {
        self.binder_index.get(&span).copied()
    }

    /// The binding of the identifier (reference or binder) under the cursor.
    pub fn definition_at(&self, offset: usize) -> Option<&Binding> {
        let offset = offset as u32;
        let i = self.refs.partition_point(|(s, _)| s.end < offset);
        for (span, id) in &self.refs[i..] {
            if span.start > offset {
                break;
            }
            if span.start <= offset && offset <= span.end {
                return Some(self.binding(*id));
            }
        }
        self.binder_index
            .iter()
            .filter(|(s, _)| s.start <= offset && offset <= s.end)
            .min_by_key(|(s, _)| (s.end - s.start, s.start))
            .map(|(_, id)| self.binding(*id))
    }

    /// Every reference to a binding, in source order; with its binder first when asked.
    pub fn references(&self, id: BindingId, include_declaration: bool) -> Vec<Span> {
        let mut out = Vec::new();
        if include_declaration {
            if let Some(span) = self.binding(id).span {
                out.push(span);
            }
            // A top-level name defined twice has several binders.
            let mut more: Vec<Span> = self
                .binder_index
                .iter()
                .filter(|(s, b)| **b == id && Some(**s) != self.binding(id).span)
                .map(|(s, _)| *s)
                .collect();
            more.sort();
            out.extend(more);
        }
        out.extend(self.refs.iter().filter(|(_, b)| *b == id).map(|(s, _)| *s));
        out
    }

    /// The binding of the identifier under the cursor and its references (see [`references`]).
    ///
    /// [`references`]: Resolution::references
    pub fn references_at(&self, offset: usize, include_declaration: bool) -> Option<(BindingId, Vec<Span>)> {
        let id = self.definition_at(offset)?.id;
        Some((id, self.references(id, include_declaration)))
    }

    /// Names visible at an offset, innermost first, then top-level names, built-ins and
    /// special forms; each name once (the innermost binding wins).
    pub fn visible_names_at(&self, offset: usize) -> Vec<&Binding> {
        let offset = offset as u32;
        let mut inner: Vec<&Scope> =
            self.scopes.iter().filter(|s| s.region.start <= offset && offset <= s.region.end).collect();
        inner.sort_by_key(|s| std::cmp::Reverse((s.region.start, std::cmp::Reverse(s.region.end))));
        let mut tops: Vec<&Binding> = self.toplevel.values().map(|id| self.binding(*id)).collect();
        tops.sort_by_key(|b| b.name.as_str());
        let mut builtins: Vec<&Binding> = self.pseudo.values().map(|id| self.binding(*id)).collect();
        builtins.sort_by_key(|b| (b.name.as_str(), b.kind));
        let locals = inner.into_iter().flat_map(|s| s.bindings.iter().rev().map(|id| self.binding(*id)));
        let mut seen = BTreeSet::new();
        locals.chain(tops).chain(builtins).filter(|b| seen.insert(b.name)).collect()
    }

    /// The top-level binding of a name, if the file defines it.
    pub fn toplevel(&self, name: Symbol) -> Option<BindingId> {
        self.toplevel.get(&name).copied()
    }

    /// How many times a binding is read (references other than `set!` targets).
    pub fn reads(&self, id: BindingId) -> u32 {
        self.info[id as usize].reads
    }

    /// Whether some `set!` assigns the binding.
    pub fn is_assigned(&self, id: BindingId) -> bool {
        self.info[id as usize].sets > 0
    }

    /// The arity of a procedure whose value is statically known: a primitive that the file
    /// does not redefine, or a top-level procedure defined once and never `set!`.
    pub fn static_arity(&self, id: BindingId) -> Option<Arity> {
        let b = self.binding(id);
        match b.kind {
            BindingKind::Builtin => builtins::signature(b.name.as_str()).map(|s| Arity { min: s.min, max: s.max }),
            BindingKind::TopLevel => {
                let info = &self.info[id as usize];
                if info.defines == 1 && info.sets == 0 {
                    info.arity
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    /// Binders never read, for `omega::unused`.
    pub fn unused_bindings(&self) -> impl Iterator<Item = &Binding> + '_ {
        self.bindings.iter().filter(|b| {
            let info = &self.info[b.id as usize];
            info.check_unused && info.reads == 0 && !b.name.as_str().starts_with('_')
        })
    }

    /// The top-level form index that contains an offset.
    pub fn form_index_at(&self, offset: u32) -> Option<usize> {
        let i = self.form_spans.partition_point(|s| s.end <= offset);
        (i < self.form_spans.len() && self.form_spans[i].start <= offset).then_some(i)
    }
}

/// Resolves a file's top-level forms.
pub fn resolve(data: &[Datum]) -> Resolution {
    let mut r = Resolver {
        res: Resolution::default(),
        chain: Vec::new(),
        lenient: 0,
        form: 0,
        defining_macros: BTreeSet::new(),
    };
    r.res.form_spans = data.iter().map(|d| d.span).collect();
    r.declare_builtins();
    r.defining_macros = defining_macros(data);
    // Top-level names first: forward references and mutual recursion are fine (P5).
    for (i, form) in data.iter().enumerate() {
        r.form = i;
        r.declare_toplevel(form);
    }
    for (i, form) in data.iter().enumerate() {
        r.form = i;
        r.walk_toplevel(form);
    }
    r.res.refs.sort_by_key(|(s, _)| (s.start, s.end));
    r.res.scopes.sort_by_key(|s| (s.region.start, s.region.end));
    r.res
}

struct Resolver {
    res: Resolution,
    /// Open scopes, innermost last: (scope index, names).
    chain: Vec<(usize, HashMap<Symbol, BindingId>)>,
    /// Inside a macro use: identifiers resolve if they can, but nothing is reported.
    lenient: u32,
    form: usize,
    /// Top-level macros whose templates contain a definition: a use may define its arguments.
    defining_macros: BTreeSet<Symbol>,
}

/// Names of top-level `define-syntax` macros whose transformer mentions a defining form.
fn defining_macros(data: &[Datum]) -> BTreeSet<Symbol> {
    fn mentions_define(d: &Datum) -> bool {
        match &d.kind {
            DatumKind::Symbol(s) => matches!(s.as_str(), "define" | "define-record-type" | "define-syntax"),
            DatumKind::List(items, tail) => {
                items.iter().any(mentions_define) || tail.as_deref().is_some_and(mentions_define)
            }
            DatumKind::Vector(items) => items.iter().any(mentions_define),
            _ => false,
        }
    }
    let mut out = BTreeSet::new();
    for form in data {
        match form.as_list() {
            Some([head, name, transformer]) if head.is_symbol("define-syntax") && mentions_define(transformer) => {
                out.extend(name.as_symbol());
            }
            Some([head, rest @ ..]) if head.is_symbol("begin") => out.extend(defining_macros(rest)),
            _ => {}
        }
    }
    out
}

fn sym(d: &Datum) -> Option<Symbol> {
    d.as_symbol()
}

/// `(a b . c)` → items and tail; other data → None.
fn list_parts(d: &Datum) -> Option<(&[Datum], Option<&Datum>)> {
    match &d.kind {
        DatumKind::List(items, tail) => Some((items, tail.as_deref())),
        _ => None,
    }
}

/// The parameter groups of a procedure `define`'s target, in call order, and its name:
/// `(f a b)` has one group, the curried `((f a) b)` two (`((f a) b)` is `(f a)` returning
/// `(lambda (b) …)`).
pub type ParamGroup<'d> = (&'d [Datum], Option<&'d Datum>);

pub fn define_target(target: &Datum) -> Option<(&Datum, Vec<ParamGroup<'_>>)> {
    let mut groups = Vec::new();
    let mut at = target;
    loop {
        let (items, tail) = list_parts(at)?;
        let (head, params) = items.split_first()?;
        groups.push((params, tail));
        if head.as_symbol().is_some() {
            groups.reverse();
            return Some((head, groups));
        }
        at = head;
    }
}

/// The arity of formals `(a b)`, `(a . r)` or `args`.
pub fn formals_arity(formals: &Datum) -> Option<Arity> {
    match &formals.kind {
        DatumKind::Symbol(_) => Some(Arity { min: 0, max: None }),
        DatumKind::List(items, None) => Some(Arity { min: items.len(), max: Some(items.len()) }),
        DatumKind::List(items, Some(_)) => Some(Arity { min: items.len(), max: None }),
        _ => None,
    }
}

/// A local binder hides an auxiliary keyword such as `else`, as in the expander.
impl forms::Names for Resolver {
    fn is_keyword(&self, s: Symbol, keyword: &str) -> bool {
        let hidden = self.lookup(s).is_some_and(|id| {
            matches!(
                self.res.bindings[id as usize].kind,
                BindingKind::Local | BindingKind::Parameter | BindingKind::Macro
            )
        });
        s.as_str() == keyword && !hidden
    }
}

impl Resolver {
    fn new_binding(&mut self, name: Symbol, span: Option<Span>, kind: BindingKind) -> BindingId {
        let id = self.res.bindings.len() as BindingId;
        self.res.bindings.push(Binding { id, name, span, kind });
        self.res.info.push(BindingInfo::default());
        if let Some(span) = span {
            self.res.binder_index.insert(span, id);
        }
        id
    }

    fn error(&mut self, span: Span, message: impl Into<String>) {
        if self.lenient > 0 {
            return;
        }
        self.res.syntax_errors.push(Diagnostic::error(Code::Syntax, span, message));
        self.res.malformed_forms.insert(self.form);
    }

    fn push_scope(&mut self, region: Span) {
        let index = self.res.scopes.len();
        self.res.scopes.push(Scope { region, bindings: Vec::new() });
        self.chain.push((index, HashMap::new()));
    }

    fn pop_scope(&mut self) {
        self.chain.pop();
    }

    /// Binds a name in the innermost scope.
    fn bind(&mut self, d: &Datum, kind: BindingKind, check_unused: bool) -> Option<BindingId> {
        let name = sym(d)?;
        self.bind_at(name, d.span, kind, check_unused)
    }

    fn bind_at(&mut self, name: Symbol, span: Span, kind: BindingKind, check_unused: bool) -> Option<BindingId> {
        let id = self.new_binding(name, Some(span), kind);
        self.res.info[id as usize].check_unused = check_unused && self.lenient == 0;
        let (index, names) = self.chain.last_mut()?;
        names.insert(name, id);
        self.res.scopes[*index].bindings.push(id);
        Some(id)
    }

    fn lookup(&self, name: Symbol) -> Option<BindingId> {
        for (_, names) in self.chain.iter().rev() {
            if let Some(&id) = names.get(&name) {
                return Some(id);
            }
        }
        if let Some(&id) = self.res.toplevel.get(&name) {
            return Some(id);
        }
        self.res.pseudo.get(&name).copied()
    }

    /// Built-in procedures, constants and special forms, as bindings without a span.
    fn declare_builtins(&mut self) {
        let forms = forms::FORMS.iter().map(|f| (f.name, BindingKind::SpecialForm));
        let procs = builtins::SIGNATURES.iter().map(|s| (s.name, BindingKind::Builtin));
        let consts = builtins::CONSTANTS.iter().map(|s| (*s, BindingKind::Builtin));
        for (name, kind) in forms.chain(procs).chain(consts) {
            let name = Symbol::intern(name);
            if !self.res.pseudo.contains_key(&name) {
                let id = self.new_binding(name, None, kind);
                self.res.pseudo.insert(name, id);
            }
        }
    }

    /// A reference to an identifier; `read` is false for a `set!` target.
    fn reference(&mut self, d: &Datum, read: bool) -> Option<BindingId> {
        let name = sym(d)?;
        match self.lookup(name) {
            Some(id) => {
                self.res.refs.push((d.span, id));
                self.res.ref_index.insert(d.span, id);
                let info = &mut self.res.info[id as usize];
                if read {
                    info.reads += 1;
                } else {
                    info.sets += 1;
                }
                Some(id)
            }
            None => {
                if self.lenient == 0 {
                    self.res.unbound.push((d.span, name));
                }
                None
            }
        }
    }

    /// The special form a list's head names, unless a binding shadows it.
    fn special_form(&mut self, d: &Datum) -> Option<&'static str> {
        // A dotted form such as `(begin . x)` is not a special form; `expr` reports it.
        d.as_list()?;
        let head = d.head_symbol()?;
        let id = self.lookup(head)?;
        (self.res.bindings[id as usize].kind == BindingKind::SpecialForm)
            .then(|| forms::form(head.as_str()).map(|f| f.name))
            .flatten()
    }

    // ----- top level -----

    fn declare_toplevel(&mut self, form: &Datum) {
        let Some(items) = form.as_list() else { return };
        let Some(head) = form.head_symbol() else { return };
        match head.as_str() {
            "define" | "define-syntax" => {
                let kind = if head.as_str() == "define" { BindingKind::TopLevel } else { BindingKind::Macro };
                let (target, arity) = match items.get(1) {
                    Some(d) if d.as_symbol().is_some() => {
                        let arity = items.get(2).and_then(lambda_arity);
                        (d, arity)
                    }
                    Some(d) => match define_target(d) {
                        Some((name, groups)) => {
                            let (params, tail) = groups[0];
                            let arity = Some(Arity { min: params.len(), max: tail.is_none().then_some(params.len()) });
                            (name, arity)
                        }
                        None => return,
                    },
                    None => return,
                };
                self.declare_global(target, kind, arity);
            }
            "begin" => {
                for f in &items[1..] {
                    self.declare_toplevel(f);
                }
            }
            "define-record-type" => {
                for d in record_names(items) {
                    self.declare_global(d, BindingKind::TopLevel, None);
                }
            }
            // `(def-const seven 7)` with a macro that expands into a definition: its symbol
            // arguments may be defined (not built-in names, which it would rather use).
            _ if self.defining_macros.contains(&head) => {
                for d in &items[1..] {
                    if d.as_symbol().is_some_and(|s| !self.res.pseudo.contains_key(&s)) {
                        self.declare_global(d, BindingKind::TopLevel, None);
                    }
                }
            }
            _ => {}
        }
    }

    fn declare_global(&mut self, d: &Datum, kind: BindingKind, arity: Option<Arity>) {
        let Some(name) = sym(d) else { return };
        let id = match self.res.toplevel.get(&name) {
            Some(&id) => {
                self.res.binder_index.insert(d.span, id);
                id
            }
            None => {
                let id = self.new_binding(name, Some(d.span), kind);
                self.res.toplevel.insert(name, id);
                id
            }
        };
        let info = &mut self.res.info[id as usize];
        info.defines += 1;
        info.arity = arity;
    }

    fn walk_toplevel(&mut self, form: &Datum) {
        match self.special_form(form) {
            Some("define") => self.walk_define(form, true),
            Some("define-syntax") => self.walk_define_syntax(form, true),
            Some("define-record-type") => self.walk_record_type(form, true),
            Some("begin") => {
                for f in &form.as_list().unwrap_or(&[])[1..] {
                    self.walk_toplevel(f);
                }
            }
            _ => self.expr(form),
        }
    }

    // ----- expressions -----

    fn expr(&mut self, d: &Datum) {
        match &d.kind {
            DatumKind::Symbol(s) => {
                let id = self.reference(d, true);
                if id.is_some_and(|id| self.is_keyword_binding(id)) {
                    self.error(d.span, forms::keyword_as_variable(s.as_str()));
                }
            }
            DatumKind::List(items, tail) => {
                if items.is_empty() {
                    return;
                }
                if let Some(form) = self.special_form(d) {
                    self.reference(&items[0], true);
                    self.special(form, d, items);
                    return;
                }
                let head_id = if items[0].as_symbol().is_some() { self.reference(&items[0], true) } else { None };
                if let Some(tail) = tail {
                    self.error(tail.span, forms::DOTTED_CALL);
                }
                if let Some(id) = head_id {
                    if self.res.bindings[id as usize].kind == BindingKind::Macro {
                        self.lenient += 1;
                        for a in &items[1..] {
                            self.lenient_walk(a);
                        }
                        self.lenient -= 1;
                        return;
                    }
                    self.res.calls.push(CallSite {
                        callee: id,
                        head: items[0].span,
                        span: d.span,
                        argc: items.len() - 1,
                    });
                    let b = &self.res.bindings[id as usize];
                    if b.kind == BindingKind::Builtin && b.name.as_str() == "eval" {
                        self.res.calls_eval = true;
                    }
                } else {
                    self.expr(&items[0]);
                }
                for a in &items[1..] {
                    self.expr(a);
                }
            }
            _ => {}
        }
    }

    /// A macro argument: resolve what resolves, report nothing.
    fn lenient_walk(&mut self, d: &Datum) {
        match &d.kind {
            DatumKind::Symbol(_) => {
                self.reference(d, true);
            }
            DatumKind::List(items, tail) => {
                for i in items {
                    self.lenient_walk(i);
                }
                if let Some(t) = tail {
                    self.lenient_walk(t);
                }
            }
            DatumKind::Vector(items) => items.iter().for_each(|i| self.lenient_walk(i)),
            _ => {}
        }
    }

    /// A body: internal definitions (letrec*) mixed with expressions. Returns false if empty.
    fn body(&mut self, forms: &[Datum], region: Span) {
        let has_defs = forms.iter().any(|f| self.is_definition(f));
        if has_defs {
            self.push_scope(region);
            for f in forms {
                self.declare_internal(f);
            }
        }
        for f in forms {
            self.body_form(f);
        }
        if has_defs {
            self.pop_scope();
        }
    }

    fn is_definition(&mut self, f: &Datum) -> bool {
        match self.special_form(f) {
            Some("define" | "define-syntax" | "define-record-type") => true,
            Some("begin") => {
                let items = f.as_list().unwrap_or(&[]);
                items[1..].iter().any(|g| self.is_definition(g))
            }
            _ => false,
        }
    }

    fn declare_internal(&mut self, f: &Datum) {
        let items = f.as_list().unwrap_or(&[]);
        match self.special_form(f) {
            Some("define") => {
                let target = match items.get(1) {
                    Some(d) if d.as_symbol().is_some() => Some(d),
                    Some(d) => define_target(d).map(|(name, _)| name),
                    None => None,
                };
                if let Some(t) = target {
                    self.bind(t, BindingKind::Local, true);
                }
            }
            Some("define-syntax") => {
                if let Some(t) = items.get(1) {
                    self.bind(t, BindingKind::Macro, false);
                }
            }
            Some("define-record-type") => {
                for d in record_names(items) {
                    self.bind(d, BindingKind::Local, false);
                }
            }
            Some("begin") => {
                for g in &items[1..] {
                    self.declare_internal(g);
                }
            }
            _ => {}
        }
    }

    fn body_form(&mut self, f: &Datum) {
        match self.special_form(f) {
            Some("define") => {
                self.reference(&f.as_list().unwrap()[0], true);
                self.walk_define(f, false)
            }
            Some("define-syntax") => {
                self.reference(&f.as_list().unwrap()[0], true);
                self.walk_define_syntax(f, false)
            }
            Some("define-record-type") => {
                self.reference(&f.as_list().unwrap()[0], true);
                self.walk_record_type(f, false)
            }
            Some("begin") if self.is_definition(f) => {
                self.reference(&f.as_list().unwrap()[0], true);
                for g in &f.as_list().unwrap()[1..] {
                    self.body_form(g);
                }
            }
            _ => self.expr(f),
        }
    }

    fn walk_define(&mut self, form: &Datum, toplevel: bool) {
        let items = form.as_list().unwrap_or(&[]);
        if toplevel {
            self.reference(&items[0], true);
        }
        self.check_shape(form);
        let Some(target) = items.get(1) else { return };
        if target.as_symbol().is_some() {
            // The name is bound by declare_toplevel or declare_internal.
            items[2..].iter().for_each(|v| self.expr(v));
        } else if let Some((name, groups)) = define_target(target) {
            // One scope per parameter group, innermost last: `((f a) b)` sees a and b.
            let mut after = name.span;
            for (params, tail) in &groups {
                let formals = Datum::new(
                    DatumKind::List(params.to_vec(), tail.map(|t| Box::new(t.clone()))),
                    Span { start: after.end, end: target.span.end },
                );
                self.push_scope(Span { start: after.end, end: form.span.end });
                self.params(&formals);
                after = params.last().or(*tail).map_or(after, |p| p.span);
            }
            self.body(&items[2..], Span { start: target.span.end, end: form.span.end });
            for _ in &groups {
                self.pop_scope();
            }
        }
    }

    /// Parameters and body of a `lambda` or procedure `define`.
    fn lambda_like(&mut self, form: &Datum, formals: &Datum, body: &[Datum], after: Span) {
        self.push_scope(Span { start: after.end, end: form.span.end });
        self.params(formals);
        self.body(body, Span { start: formals.span.end, end: form.span.end });
        self.pop_scope();
    }

    /// Binds the names of `(a b)`, `(a . rest)` or `args`; the shape check reports the rest.
    fn params(&mut self, formals: &Datum) {
        match &formals.kind {
            DatumKind::Symbol(_) => {
                self.bind(formals, BindingKind::Parameter, false);
            }
            DatumKind::List(items, tail) => {
                for p in items.iter().chain(tail.as_deref()) {
                    self.bind(p, BindingKind::Parameter, false);
                }
            }
            _ => {}
        }
    }

    fn walk_define_syntax(&mut self, form: &Datum, toplevel: bool) {
        let items = form.as_list().unwrap_or(&[]);
        if toplevel {
            self.reference(&items[0], true);
        }
        self.check_shape(form);
        if let Some(t) = items.get(2) {
            self.transformer(t);
        }
    }

    /// A `syntax-rules` transformer: pattern variables are not references; free template
    /// identifiers that resolve count as uses, and nothing is reported unbound.
    fn transformer(&mut self, d: &Datum) {
        self.lenient += 1;
        self.lenient_walk(d);
        self.lenient -= 1;
    }

    fn walk_record_type(&mut self, form: &Datum, toplevel: bool) {
        let items = form.as_list().unwrap_or(&[]);
        if toplevel {
            self.reference(&items[0], true);
        }
        self.check_shape(form);
    }

    /// Whether a binding is a keyword (a special form or a macro), which has no value.
    fn is_keyword_binding(&self, id: BindingId) -> bool {
        matches!(self.res.bindings[id as usize].kind, BindingKind::SpecialForm | BindingKind::Macro)
    }

    /// Whether `d` is the auxiliary keyword `keyword` (`else`, `=>`) here.
    fn is_aux(&self, d: &Datum, keyword: &str) -> bool {
        d.as_symbol().is_some_and(|s| forms::Names::is_keyword(self, s, keyword))
    }

    /// Reports every mistake in the shape of the special form `d`, from the table of forms.
    fn check_shape(&mut self, d: &Datum) {
        for m in forms::check(d, self) {
            self.error(m.span, m.message);
        }
    }

    fn special(&mut self, form: &'static str, d: &Datum, items: &[Datum]) {
        let args = &items[1..];
        let region = Span { start: items[0].span.end, end: d.span.end };
        if forms::form(form).is_some_and(forms::Form::is_definition) {
            self.error(d.span, forms::misplaced_definition(form));
            // Still resolve its parts for the editor.
            self.push_scope(d.span);
            self.declare_internal(d);
            match form {
                "define" => self.walk_define(d, false),
                "define-syntax" => self.walk_define_syntax(d, false),
                _ => self.walk_record_type(d, false),
            }
            self.pop_scope();
            return;
        }
        self.check_shape(d);
        match form {
            "quote" => args.iter().for_each(|a| collect_symbols(a, &mut self.res.quoted)),
            "quasiquote" => {
                if let [template] = args {
                    self.quasi(template, 1);
                }
            }
            "unquote" | "unquote-splicing" | "syntax-rules" => {}
            "if" => args.iter().for_each(|a| self.expr(a)),
            "lambda" => {
                if let Some(formals) = args.first() {
                    self.lambda_like(d, formals, &args[1..], items[0].span);
                }
            }
            "let" | "let*" | "letrec" | "letrec*" => self.walk_let(form, d, args),
            "set!" => match args {
                [target, value] if target.as_symbol().is_some() => {
                    let id = self.reference(target, false);
                    if id.is_some_and(|id| self.is_keyword_binding(id)) {
                        self.error(target.span, forms::assigned_keyword(target.as_symbol().unwrap().as_str()));
                    }
                    self.expr(value);
                }
                _ => args.iter().for_each(|a| self.expr(a)),
            },
            "begin" => args.iter().for_each(|a| self.expr(a)),
            "cond" => self.walk_cond(args),
            "case" => {
                if let Some(k) = args.first() {
                    self.expr(k);
                }
                for clause in args.iter().skip(1) {
                    if let Some([_, rest @ ..]) = clause.as_list() {
                        self.clause_body(rest);
                    }
                }
            }
            "when" | "unless" => args.iter().for_each(|a| self.expr(a)),
            "do" => self.walk_do(d, args),
            "and" | "or" | "amb" | "parallel" => args.iter().for_each(|a| self.expr(a)),
            "let-syntax" | "letrec-syntax" => {
                let Some(bs) = args.first().and_then(Datum::as_list) else { return };
                self.push_scope(region);
                for b in bs {
                    match b.as_list() {
                        Some([name, t]) if name.as_symbol().is_some() => {
                            self.bind(name, BindingKind::Macro, false);
                            self.transformer(t);
                        }
                        _ => {}
                    }
                }
                self.body(&args[1..], region);
                self.pop_scope();
            }
            "delay" | "delay-force" | "cons-stream" => args.iter().for_each(|a| self.expr(a)),
            "effect" => match args.first() {
                Some(op) if op.as_symbol().is_some() => {
                    self.res.effects.push((op.as_symbol().unwrap(), op.span));
                    args[1..].iter().for_each(|a| self.expr(a));
                }
                _ => args.iter().for_each(|a| self.expr(a)),
            },
            "handle" => self.walk_handle(args),
            "match" => self.walk_match(args),
            "guard" => self.walk_guard(d, args),
            _ => args.iter().for_each(|a| self.expr(a)),
        }
    }

    fn quasi(&mut self, t: &Datum, depth: u32) {
        if let Some(s) = t.as_symbol() {
            self.res.quoted.insert(s);
        }
        match &t.kind {
            DatumKind::List(items, tail) => {
                let head = t.head_symbol().map(|s| s.as_str());
                match head {
                    Some("unquote" | "unquote-splicing") if items.len() == 2 => {
                        if depth == 1 {
                            self.expr(&items[1]);
                        } else {
                            self.quasi(&items[1], depth - 1);
                        }
                        return;
                    }
                    Some("quasiquote") if items.len() == 2 => {
                        self.quasi(&items[1], depth + 1);
                        return;
                    }
                    _ => {}
                }
                items.iter().for_each(|i| self.quasi(i, depth));
                if let Some(t) = tail {
                    self.quasi(t, depth);
                }
            }
            DatumKind::Vector(items) => items.iter().for_each(|i| self.quasi(i, depth)),
            _ => {}
        }
    }

    fn walk_let(&mut self, form: &'static str, d: &Datum, args: &[Datum]) {
        let named = args.first().and_then(Datum::as_symbol).is_some() && form == "let";
        let (name, rest) = if named { (Some(&args[0]), &args[1..]) } else { (None, args) };
        let Some(bindings) = rest.first() else { return };
        let Some(clauses) = bindings.as_list() else { return };
        let body = &rest[1..];
        let mut valid: Vec<(&Datum, &Datum)> = Vec::new();
        for c in clauses {
            if let Some([n, init]) = c.as_list() {
                if n.as_symbol().is_some() {
                    valid.push((n, init));
                }
            }
        }
        let body_start = body.first().map_or(d.span.end, |b| b.span.start);
        let end = d.span.end;
        match form {
            "let" => {
                for (_, init) in &valid {
                    self.expr(init);
                }
                if let Some(name) = name {
                    self.push_scope(Span { start: bindings.span.start, end });
                    self.bind(name, BindingKind::Local, false);
                }
                self.push_scope(Span { start: body_start, end });
                for (n, _) in &valid {
                    self.bind(n, BindingKind::Local, name.is_none());
                }
                self.body(body, Span { start: body_start, end });
                self.pop_scope();
                if name.is_some() {
                    self.pop_scope();
                }
            }
            "let*" => {
                let mut opened = 0;
                for (n, init) in &valid {
                    self.expr(init);
                    self.push_scope(Span { start: init.span.end, end });
                    opened += 1;
                    self.bind(n, BindingKind::Local, true);
                }
                self.body(body, Span { start: body_start, end });
                for _ in 0..opened {
                    self.pop_scope();
                }
            }
            _ => {
                self.push_scope(Span { start: bindings.span.start, end });
                for (n, _) in &valid {
                    self.bind(n, BindingKind::Local, true);
                }
                for (_, init) in &valid {
                    self.expr(init);
                }
                self.body(body, Span { start: body_start, end });
                self.pop_scope();
            }
        }
    }

    /// The expressions of a clause after its test; `=>` is not one.
    fn clause_body(&mut self, rest: &[Datum]) {
        if rest.first().is_some_and(|d| self.is_aux(d, "=>")) {
            rest[1..].iter().for_each(|a| self.expr(a));
        } else {
            rest.iter().for_each(|a| self.expr(a));
        }
    }

    /// `cond` clauses; for `guard`, `guard_var` is already bound by the caller.
    fn walk_cond(&mut self, clauses: &[Datum]) {
        for clause in clauses {
            if let Some([test, rest @ ..]) = clause.as_list() {
                if !self.is_aux(test, "else") {
                    self.expr(test);
                }
                self.clause_body(rest);
            }
        }
    }

    fn walk_do(&mut self, d: &Datum, args: &[Datum]) {
        let (Some(specs), Some(test)) = (args.first().and_then(Datum::as_list), args.get(1)) else { return };
        let mut vars = Vec::new();
        for s in specs {
            if let Some(parts) = s.as_list().filter(|p| (2..=3).contains(&p.len()) && p[0].as_symbol().is_some()) {
                self.expr(&parts[1]);
                vars.push(parts);
            }
        }
        self.push_scope(Span { start: args[0].span.end, end: d.span.end });
        for parts in &vars {
            self.bind(&parts[0], BindingKind::Local, false);
        }
        for parts in &vars {
            if let Some(step) = parts.get(2) {
                self.expr(step);
            }
        }
        if let Some(t) = test.as_list() {
            t.iter().for_each(|e| self.expr(e));
        }
        args[2..].iter().for_each(|c| self.expr(c));
        self.pop_scope();
    }

    fn walk_handle(&mut self, args: &[Datum]) {
        let Some(body) = args.first() else { return };
        self.expr(body);
        for clause in &args[1..] {
            let cl = clause.as_list().unwrap_or(&[]);
            match cl.first().and_then(Datum::as_symbol).map(|s| s.as_str()) {
                Some("on") => {
                    let op = cl.get(1).and_then(Datum::as_symbol);
                    let (Some(op), Some(params)) = (op, cl.get(2)) else { continue };
                    self.res.handled_ops.insert(op);
                    self.push_scope(Span { start: params.span.start, end: clause.span.end });
                    let body_from = match &params.kind {
                        DatumKind::List(ps, None) if !ps.is_empty() => {
                            self.params(params);
                            3
                        }
                        DatumKind::Symbol(_) if cl.get(3).and_then(Datum::as_symbol).is_some() => {
                            self.bind(params, BindingKind::Parameter, false);
                            self.bind(&cl[3], BindingKind::Parameter, false);
                            4
                        }
                        _ => 3,
                    };
                    self.body(cl.get(body_from..).unwrap_or(&[]), clause.span);
                    self.pop_scope();
                }
                Some("return") => match cl.get(1).and_then(Datum::as_list) {
                    Some([v]) if v.as_symbol().is_some() => {
                        self.push_scope(clause.span);
                        self.bind(v, BindingKind::Parameter, false);
                        self.body(&cl[2..], clause.span);
                        self.pop_scope();
                    }
                    _ => {}
                },
                _ => {}
            }
        }
    }

    fn walk_match(&mut self, args: &[Datum]) {
        let Some(subject) = args.first() else { return };
        self.expr(subject);
        for clause in &args[1..] {
            if let Some(cl) = clause.as_list().filter(|cl| !cl.is_empty()) {
                self.push_scope(clause.span);
                let mut seen = HashMap::new();
                self.pattern(&cl[0], &mut seen);
                self.body(&cl[1..], clause.span);
                self.pop_scope();
            }
        }
    }

    fn pattern(&mut self, p: &Datum, seen: &mut HashMap<Symbol, BindingId>) {
        match &p.kind {
            DatumKind::Symbol(s) => {
                let name = s.as_str();
                if let Some(var) = name.strip_prefix('?') {
                    if var.is_empty() {
                        return;
                    }
                    let var = Symbol::intern(var);
                    let span = Span { start: p.span.start + 1, end: p.span.end };
                    if let Some(&id) = seen.get(&var) {
                        // `?x` twice: the second must equal the first.
                        self.res.refs.push((span, id));
                        self.res.ref_index.insert(span, id);
                    } else if let Some(id) = self.bind_at(var, span, BindingKind::Local, false) {
                        seen.insert(var, id);
                    }
                }
            }
            DatumKind::List(items, tail) => {
                if p.head_symbol().is_some_and(|s| s.as_str() == "quote") {
                    return;
                }
                items.iter().for_each(|i| self.pattern(i, seen));
                if let Some(t) = tail {
                    self.pattern(t, seen);
                }
            }
            DatumKind::Vector(items) => items.iter().for_each(|i| self.pattern(i, seen)),
            _ => {}
        }
    }

    fn walk_guard(&mut self, d: &Datum, args: &[Datum]) {
        let spec = args.first().and_then(Datum::as_list);
        let Some(spec) = spec.filter(|s| s.first().is_some_and(|v| v.as_symbol().is_some())) else { return };
        self.body(&args[1..], d.span);
        self.push_scope(args[0].span);
        self.bind(&spec[0], BindingKind::Local, false);
        self.walk_cond(&spec[1..]);
        self.pop_scope();
    }
}

fn collect_symbols(d: &Datum, out: &mut BTreeSet<Symbol>) {
    match &d.kind {
        DatumKind::Symbol(s) => {
            out.insert(*s);
        }
        DatumKind::List(items, tail) => {
            items.iter().for_each(|i| collect_symbols(i, out));
            if let Some(t) = tail {
                collect_symbols(t, out);
            }
        }
        DatumKind::Vector(items) => items.iter().for_each(|i| collect_symbols(i, out)),
        _ => {}
    }
}

/// `(define f (lambda formals …))` → the lambda's arity.
fn lambda_arity(e: &Datum) -> Option<Arity> {
    let items = e.as_list()?;
    if items.len() >= 3 && items[0].is_symbol("lambda") {
        formals_arity(&items[1])
    } else {
        None
    }
}

/// Names a `define-record-type` binds: constructor, predicate, accessors and modifiers.
fn record_names(items: &[Datum]) -> Vec<&Datum> {
    let mut out = Vec::new();
    if let Some(name) = items.get(1).filter(|n| n.as_symbol().is_some()) {
        out.push(name);
    }
    if let Some(ctor) = items.get(2) {
        match ctor.as_list() {
            Some(l) if !l.is_empty() => out.push(&l[0]),
            _ if ctor.as_symbol().is_some() => out.push(ctor),
            _ => {}
        }
    }
    if let Some(pred) = items.get(3).filter(|p| p.as_symbol().is_some()) {
        out.push(pred);
    }
    for field in items.iter().skip(4) {
        if let Some(f) = field.as_list() {
            out.extend(f.iter().skip(1).filter(|d| d.as_symbol().is_some()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    //! Fixtures mark the cursor with `$0`; `check_*` helpers strip it and query the resolution.

    use super::*;
    use crate::reader;

    /// The text without its `$0` marker, the marker's offset and the resolution.
    fn fixture(marked: &str) -> (String, usize, Resolution) {
        let offset = marked.find("$0").expect("the fixture needs a `$0` cursor");
        let text = marked.replacen("$0", "", 1);
        let parsed = reader::read(&text);
        assert!(parsed.errors.is_empty(), "fixture does not read: {:?}", parsed.errors);
        let res = resolve(&parsed.data);
        (text, offset, res)
    }

    fn slice(text: &str, span: Span) -> &str {
        &text[span.range()]
    }

    /// The binding at the cursor: its name, kind and the text from its binder to the end of
    /// that line (enough to tell which binder it is), or `None` for built-ins.
    fn check_definition(marked: &str, name: &str, kind: BindingKind, binder_context: Option<&str>) {
        let (text, offset, res) = fixture(marked);
        let b = res.definition_at(offset).unwrap_or_else(|| panic!("nothing at the cursor of {marked:?}"));
        assert_eq!(b.name.as_str(), name, "{marked}");
        assert_eq!(b.kind, kind, "{marked}");
        let context = b.span.map(|s| {
            let rest = &text[s.start as usize..];
            rest.lines().next().unwrap_or("").to_string()
        });
        assert_eq!(context.as_deref(), binder_context, "{marked}");
    }

    #[test]
    fn definition_of_locals_parameters_and_top_level_names() {
        check_definition("(let ((x 1)) (+ x$0 1))", "x", BindingKind::Local, Some("x 1)) (+ x 1))"));
        check_definition("(define (f x) x$0)\n(define x 1)", "x", BindingKind::Parameter, Some("x) x)"));
        check_definition("(define (f) (g$0))\n(define (g) 1)", "g", BindingKind::TopLevel, Some("g) 1)"));
        check_definition("(define (f a$0) a)", "a", BindingKind::Parameter, Some("a) a)"));
        check_definition("(define (f a) a$0)", "a", BindingKind::Parameter, Some("a) a)"));
        check_definition("(define (f a) $0a)", "a", BindingKind::Parameter, Some("a) a)"));
    }

    #[test]
    fn definition_of_built_ins_and_special_forms() {
        check_definition("(car$0 '(1))", "car", BindingKind::Builtin, None);
        check_definition("(i$0f #t 1 2)", "if", BindingKind::SpecialForm, None);
        check_definition("(let ((if 1)) if$0)", "if", BindingKind::Local, Some("if 1)) if)"));
        check_definition("(define (car x) x)\n(car$0 1)", "car", BindingKind::TopLevel, Some("car x) x)"));
    }

    #[test]
    fn definition_in_every_binding_form() {
        check_definition(
            "(let loop ((i 0)) (loop$0 (+ i 1)))",
            "loop",
            BindingKind::Local,
            Some("loop ((i 0)) (loop (+ i 1)))"),
        );
        check_definition("(let* ((a 1) (b a$0)) b)", "a", BindingKind::Local, Some("a 1) (b a)) b)"));
        check_definition(
            "(letrec ((ev? (lambda (n) (od?$0 n))) (od? (lambda (n) n))) 1)",
            "od?",
            BindingKind::Local,
            Some("od? (lambda (n) n))) 1)"),
        );
        check_definition(
            "(define (f)\n  (define (g) (h$0))\n  (define (h) 1)\n  (g))",
            "h",
            BindingKind::Local,
            Some("h) 1)"),
        );
        check_definition("(define ((adder n) m) (+ n$0 m))", "n", BindingKind::Parameter, Some("n) m) (+ n m))"));
        check_definition("(define ((adder n) m) (+ n m$0))", "m", BindingKind::Parameter, Some("m) (+ n m))"));
        check_definition(
            "(define ((adder n) m) m)\n((adder$0 1) 2)",
            "adder",
            BindingKind::TopLevel,
            Some("adder n) m) m)"),
        );
        check_definition("(do ((i 0 (+ i$0 1))) ((= i 3)))", "i", BindingKind::Local, Some("i 0 (+ i 1))) ((= i 3)))"));
        check_definition("(match '(1 2) ((?a ?b) (+ a$0 b)))", "a", BindingKind::Local, Some("a ?b) (+ a b)))"));
        check_definition(
            "(handle (effect ask 1) (on ask (q k) (k q$0)))",
            "q",
            BindingKind::Parameter,
            Some("q k) (k q)))"),
        );
        check_definition(
            "(define-syntax my-if (syntax-rules () ((_ c a b) (cond (c a) (else b)))))\n(my-if$0 #t 1 2)",
            "my-if",
            BindingKind::Macro,
            Some("my-if (syntax-rules () ((_ c a b) (cond (c a) (else b)))))"),
        );
    }

    #[test]
    fn nothing_at_whitespace_strings_or_numbers() {
        for marked in ["(define x 1) $0", "(display \"a$0b\")", "(+ 1$02 3)"] {
            let (_, offset, res) = fixture(marked);
            assert!(res.definition_at(offset).is_none(), "{marked}");
        }
    }

    /// References of the binding at the cursor, as `line:col` of their starts (0-based).
    fn check_references(marked: &str, include_declaration: bool, expected: &[&str]) {
        let (text, offset, res) = fixture(marked);
        let spans = res.references_at(offset, include_declaration).map(|(_, s)| s).unwrap_or_default();
        let lines = crate::syntax::LineIndex::new(&text);
        let got: Vec<String> = spans
            .iter()
            .map(|s| {
                let l = lines.line(s.start as usize);
                format!("{}:{} {}", l, s.start as usize - lines.line_start(l), slice(&text, *s))
            })
            .collect();
        assert_eq!(got, expected, "{marked}");
    }

    #[test]
    fn references_in_source_order_with_or_without_the_binder() {
        let marked = "(define (f a$0)\n  (+ a a))\n(define a 2)\n(f a)";
        check_references(marked, true, &["0:11 a", "1:5 a", "1:7 a"]);
        check_references(marked, false, &["1:5 a", "1:7 a"]);
        // From a reference, the same set; the top-level `a` is another binding.
        check_references("(define (f a) (+ a$0 a))\n(f a)", false, &["0:17 a", "0:19 a"]);
        check_references("(define a 1)\n(define (f) a)\n(f a$0)", true, &["0:8 a", "1:12 a", "2:3 a"]);
    }

    #[test]
    fn references_of_a_name_defined_twice_list_both_binders() {
        check_references("(define x 1)\n(define x 2)\n(display x$0)", true, &["0:8 x", "1:8 x", "2:9 x"]);
    }

    #[test]
    fn references_follow_set_targets_and_forward_uses() {
        check_references("(define (bump) (set! n (+ n 1)))\n(define n$0 0)", true, &["1:8 n", "0:21 n", "0:26 n"]);
    }

    /// Names visible at the cursor: the first `locals` entries (innermost first) and that
    /// `also` are among them, with their kinds.
    fn check_visible(marked: &str, locals: &[(&str, BindingKind)], also: &[(&str, BindingKind)], hidden: &[&str]) {
        let (_, offset, res) = fixture(marked);
        let names = res.visible_names_at(offset);
        let got: Vec<(&str, BindingKind)> = names.iter().map(|b| (b.name.as_str(), b.kind)).collect();
        assert_eq!(&got[..locals.len()], locals, "{marked}");
        for a in also {
            assert!(got.contains(a), "{marked}: {a:?} missing");
        }
        for h in hidden {
            assert!(!got.iter().any(|(n, _)| n == h), "{marked}: `{h}` should not be visible");
        }
        let mut seen = BTreeSet::new();
        assert!(got.iter().all(|(n, _)| seen.insert(*n)), "each name once");
    }

    #[test]
    fn visible_names_innermost_first_then_top_level_then_built_ins() {
        check_visible(
            "(define top 1)\n(define (f a)\n  (let ((b 2))\n    (+ $0 b)))",
            &[
                ("b", BindingKind::Local),
                ("a", BindingKind::Parameter),
                ("f", BindingKind::TopLevel),
                ("top", BindingKind::TopLevel),
            ],
            &[
                ("car", BindingKind::Builtin),
                ("if", BindingKind::SpecialForm),
                ("make-serializer", BindingKind::Builtin),
            ],
            &[],
        );
    }

    #[test]
    fn visible_names_respect_binding_form_scopes() {
        // `let` inits do not see the names they bind; `let*` inits see the earlier ones.
        check_visible("(let ((a 1) (b $0)) b)", &[], &[], &["a", "b"]);
        check_visible("(let* ((a 1) (b $0)) b)", &[("a", BindingKind::Local)], &[], &["b"]);
        check_visible(
            "(letrec ((a (lambda () $0)) (b 2)) a)",
            &[("b", BindingKind::Local), ("a", BindingKind::Local)],
            &[],
            &[],
        );
        // A local shadows a top-level name of the same name: it appears once, as the local.
        check_visible(
            "(define x 1)\n(define (f x) $0)",
            &[("x", BindingKind::Parameter), ("f", BindingKind::TopLevel)],
            &[],
            &[],
        );
        // Outside a procedure its parameters are gone.
        check_visible("(define (f a) a)\n$0", &[("f", BindingKind::TopLevel)], &[], &["a"]);
    }
}
