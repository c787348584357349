//! The expander: syntax tree → core language, resolving every name as it goes.
//!
//! Derived forms (`cond`, `case`, `do`, `match`, quasiquote …) are rewritten into simpler
//! syntax whose keywords are aliases resolved at top level, so a user's local `if` never
//! changes what a `cond` means; the built-in procedures they call are reached through
//! internal globals (`#%cons` …) that no program can name or redefine.
//!
//! This file holds the environment, the expander's core and the core special forms;
//! `derived.rs` the derived forms, `data.rs` quoted data as values and back.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use super::core::*;
use super::macros::{parse_syntax_rules, Macro, Unalias};
use crate::error::{Error, ErrorKind};
use crate::forms;
use crate::symbol::Symbol;
use crate::syntax::{Datum, DatumKind, Span};
use crate::value::{Object, RecordProcKind, RecordType, Value};

mod aliases;
mod data;
mod derived;

pub use data::{datum_to_value, value_to_datum};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Special {
    Quote,
    Quasiquote,
    Unquote,
    UnquoteSplicing,
    If,
    Define,
    Lambda,
    Let,
    LetStar,
    Letrec,
    Set,
    Begin,
    Cond,
    Case,
    When,
    Unless,
    Do,
    And,
    Or,
    DefineSyntax,
    LetSyntax,
    LetrecSyntax,
    Delay,
    DelayForce,
    ConsStream,
    Effect,
    Handle,
    Amb,
    Parallel,
    Match,
    Guard,
    DefineRecordType,
    SyntaxRules,
}

fn special(name: &str) -> Option<Special> {
    use Special::*;
    Some(match name {
        "quote" => Quote,
        "quasiquote" => Quasiquote,
        "unquote" => Unquote,
        "unquote-splicing" => UnquoteSplicing,
        "if" => If,
        "define" => Define,
        "lambda" => Lambda,
        "let" => Let,
        "let*" => LetStar,
        "letrec" | "letrec*" => Letrec,
        "set!" => Set,
        "begin" => Begin,
        "cond" => Cond,
        "case" => Case,
        "when" => When,
        "unless" => Unless,
        "do" => Do,
        "and" => And,
        "or" => Or,
        "define-syntax" => DefineSyntax,
        "let-syntax" => LetSyntax,
        "letrec-syntax" => LetrecSyntax,
        "delay" => Delay,
        "delay-force" => DelayForce,
        "cons-stream" => ConsStream,
        "effect" => Effect,
        "handle" => Handle,
        "amb" => Amb,
        "parallel" => Parallel,
        "match" => Match,
        "guard" => Guard,
        "define-record-type" => DefineRecordType,
        "syntax-rules" => SyntaxRules,
        _ => return None,
    })
}

/// What a name means at a point of the program.
#[derive(Clone)]
enum Meaning {
    Var(VarId),
    Global(Symbol),
    Macro(Rc<Macro>),
    Special(Special),
}

/// An alias made by a macro expansion: its original name and the scope depth it is seen from.
#[derive(Clone, Copy)]
pub struct Alias {
    pub orig: Symbol,
    pub depth: usize,
}

/// Expansion state that outlives one top-level form: global macros and the aliases their
/// rules name (`aliases.rs`).
#[derive(Default)]
pub struct ExpandEnv {
    pub macros: HashMap<Symbol, Rc<Macro>>,
    pub aliases: HashMap<Symbol, Alias>,
    /// The aliases to keep after a form, recomputed when `macros` changed.
    macro_aliases: HashSet<Symbol>,
    macros_changed: bool,
}

impl ExpandEnv {
    fn strip(&self, mut s: Symbol) -> Symbol {
        while let Some(a) = self.aliases.get(&s) {
            s = a.orig;
        }
        s
    }

    /// The datum with aliases replaced by the names the user wrote.
    pub fn strip_datum(&self, d: &Datum) -> Datum {
        let kind = match &d.kind {
            DatumKind::Symbol(s) => DatumKind::Symbol(self.strip(*s)),
            DatumKind::List(items, tail) => DatumKind::List(
                items.iter().map(|i| self.strip_datum(i)).collect(),
                tail.as_ref().map(|t| Box::new(self.strip_datum(t))),
            ),
            DatumKind::Vector(items) => DatumKind::Vector(items.iter().map(|i| self.strip_datum(i)).collect()),
            k => k.clone(),
        };
        Datum::new(kind, d.span)
    }
}

impl Unalias for ExpandEnv {
    fn unalias(&self, s: Symbol) -> Symbol {
        self.strip(s)
    }
}

struct Rib {
    names: Vec<(Symbol, Meaning)>,
}

/// Expands one top-level form.
pub struct Expander<'e> {
    env: &'e mut ExpandEnv,
    pub vars: Vec<VarInfo>,
    ribs: Vec<Rib>,
    /// Procedures being expanded, innermost last.
    fns: Vec<usize>,
    next_fn: usize,
    expansions: usize,
    expanded_nodes: usize,
    depth: usize,
    /// Prelude code: it reaches globals through their internal names, so a program that
    /// redefines `reverse` does not change what `map` does.
    internal: bool,
}

type Res<T> = Result<T, Error>;

const MAX_EXPANSIONS: usize = 100_000;
/// Bounds the data that macros of one top-level form may produce, so a macro that grows its
/// input at each step fails instead of exhausting memory.
const MAX_EXPANDED_NODES: usize = 1_000_000;
const MAX_DEPTH: usize = 20_000;

fn syntax_error(span: Span, message: impl Into<String>) -> Error {
    let mut e = Error::with_kind(ErrorKind::Syntax, message);
    e.loc = Some(crate::error::Loc { source: 0, span });
    e
}

/// The expander sees names through macro renaming, and a local binding hides an auxiliary
/// keyword such as `else`.
impl forms::Names for Expander<'_> {
    fn original(&self, s: Symbol) -> Symbol {
        self.env.strip(s)
    }
    fn is_keyword(&self, s: Symbol, keyword: &str) -> bool {
        self.env.strip(s).as_str() == keyword && matches!(self.lookup(s), Meaning::Global(_))
    }
}

/// The table's "KEYWORD: expected SIGNATURE" for a form named `keyword`: the fallback for a
/// shape the check let through but expansion cannot use.
fn malformed(keyword: Symbol, span: Span) -> Error {
    match forms::form(keyword.as_str()) {
        Some(f) => syntax_error(span, format!("{}: expected {}", f.name, f.signature)),
        None => syntax_error(span, format!("{keyword}: malformed special form")),
    }
}

/// An internal global bound to the built-in of the same name (`#%cons` → `cons`).
pub fn internal_name(name: &str) -> Symbol {
    Symbol::intern(&format!("#%{name}"))
}

impl<'e> Expander<'e> {
    pub fn new(env: &'e mut ExpandEnv, internal: bool) -> Expander<'e> {
        Expander {
            env,
            vars: Vec::new(),
            ribs: Vec::new(),
            fns: vec![0],
            next_fn: 1,
            expansions: 0,
            expanded_nodes: 0,
            depth: 0,
            internal,
        }
    }

    // ----- names -----

    fn lookup(&self, sym: Symbol) -> Meaning {
        let mut sym = sym;
        let mut limit = self.ribs.len();
        loop {
            for rib in self.ribs[..limit].iter().rev() {
                if let Some((_, m)) = rib.names.iter().rev().find(|(s, _)| *s == sym) {
                    return m.clone();
                }
            }
            match self.env.aliases.get(&sym) {
                Some(a) => {
                    sym = a.orig;
                    limit = limit.min(a.depth);
                }
                None => break,
            }
        }
        if let Some(m) = self.env.macros.get(&sym) {
            return Meaning::Macro(m.clone());
        }
        match special(sym.as_str()) {
            Some(s) => Meaning::Special(s),
            None if self.internal && !sym.as_str().starts_with("#%") => Meaning::Global(internal_name(sym.as_str())),
            None => Meaning::Global(sym),
        }
    }

    fn current_fn(&self) -> usize {
        *self.fns.last().unwrap()
    }

    fn new_var(&mut self, name: Symbol, letrec: bool) -> VarId {
        let owner = self.current_fn();
        self.vars.push(VarInfo { name, owner, assigned: false, captured: false, letrec, own_procedure: None });
        self.vars.len() - 1
    }

    fn bind(&mut self, name: Symbol, meaning: Meaning) {
        self.ribs.last_mut().expect("a scope").names.push((name, meaning));
    }

    fn push_rib(&mut self) {
        self.ribs.push(Rib { names: Vec::new() });
    }

    fn pop_rib(&mut self) {
        self.ribs.pop();
    }

    /// A keyword or internal name that means what it means at top level, whatever the user
    /// has bound locally.
    fn core(&mut self, name: &str, span: Span) -> Datum {
        let orig = Symbol::intern(name);
        let alias = Symbol::uninterned(name);
        self.env.aliases.insert(alias, Alias { orig, depth: 0 });
        Datum::new(DatumKind::Symbol(alias), span)
    }

    /// A fresh variable name that cannot clash with any the user wrote.
    fn temp(&mut self, name: &str, span: Span) -> Datum {
        let s = Symbol::uninterned(name);
        Datum::new(DatumKind::Symbol(s), span)
    }

    fn var_ref(&mut self, id: VarId) -> Expr {
        if self.vars[id].owner != self.current_fn() {
            self.vars[id].captured = true;
        }
        Expr::Local(id)
    }

    // ----- top level -----

    /// Expands a top-level form: definitions bind globals, `begin` splices.
    pub fn toplevel(&mut self, d: &Datum) -> Res<Node> {
        let d = self.expand_macros(d)?;
        let span = d.span;
        if let Some((head, items)) = self.special_form(&d) {
            if matches!(head, Special::Define | Special::DefineSyntax | Special::DefineRecordType) {
                self.check_shape(&d)?;
            }
            match head {
                Special::Begin => {
                    let body = items[1..].iter().map(|i| self.toplevel(i)).collect::<Res<Vec<_>>>()?;
                    return Ok(seq(body, span));
                }
                Special::Define => {
                    let (name, value) = self.parse_define(&d, items)?;
                    let name = self.env.strip(name);
                    if self.env.macros.remove(&name).is_some() {
                        self.env.macros_changed = true;
                    }
                    let value = self.expand_named(&value, Some(name))?;
                    if self.internal {
                        // Defines the internal name, then the public one as a copy.
                        let inner = internal_name(name.as_str());
                        let copy = Node::new(Expr::Global(inner), span);
                        let define_inner = Node::new(Expr::DefineGlobal(inner, Box::new(value)), span);
                        let define = Node::new(Expr::DefineGlobal(name, Box::new(copy)), span);
                        return Ok(seq(vec![define_inner, define], span));
                    }
                    return Ok(Node::new(Expr::DefineGlobal(name, Box::new(value)), span));
                }
                Special::DefineSyntax => {
                    let (name, mac) = self.parse_define_syntax(items, span)?;
                    self.env.macros.insert(self.env.strip(name), mac);
                    self.env.macros_changed = true;
                    return Ok(Node::unspecified(span));
                }
                Special::DefineRecordType => {
                    let defs = self.record_type(items, span)?;
                    let body = defs
                        .into_iter()
                        .map(|(name, value, s)| {
                            let name = self.env.strip(name);
                            Node::new(Expr::DefineGlobal(name, Box::new(Node::new(Expr::Const(value), s))), s)
                        })
                        .collect();
                    return Ok(seq(body, span));
                }
                _ => {}
            }
        }
        self.expand(&d)
    }

    /// Whether `d` is the auxiliary keyword `keyword` (`else`, `=>`) here.
    fn is_aux(&self, d: &Datum, keyword: &str) -> bool {
        d.as_symbol().is_some_and(|s| forms::Names::is_keyword(self, s, keyword))
    }

    /// The first mistake in the shape of the special form `d`, from the table of forms.
    fn check_shape(&self, d: &Datum) -> Res<()> {
        match forms::check(d, self).into_iter().next() {
            Some(m) => Err(syntax_error(m.span, m.message)),
            None => Ok(()),
        }
    }

    // ----- expressions -----

    fn expand(&mut self, d: &Datum) -> Res<Node> {
        self.expand_named(d, None)
    }

    /// Expands `d`; a `lambda` gets `name` (from `define` or `let`).
    fn expand_named(&mut self, d: &Datum, name: Option<Symbol>) -> Res<Node> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(syntax_error(d.span, "expression nested too deeply"));
        }
        let r = self.expand_inner(d, name);
        self.depth -= 1;
        r
    }

    fn expand_inner(&mut self, d: &Datum, name: Option<Symbol>) -> Res<Node> {
        let span = d.span;
        let expr = match &d.kind {
            DatumKind::Symbol(s) => match self.lookup(*s) {
                Meaning::Var(id) => self.var_ref(id),
                Meaning::Global(g) => Expr::Global(g),
                Meaning::Macro(_) | Meaning::Special(_) => {
                    return Err(syntax_error(span, forms::keyword_as_variable(self.env.strip(*s).as_str())))
                }
            },
            DatumKind::List(items, tail) => {
                if items.is_empty() && tail.is_none() {
                    // `()` and `null` evaluate to the empty list (docs/language.md §2).
                    return Ok(Node::new(Expr::Const(Value::Null), span));
                }
                if let Some(tail) = tail {
                    return Err(syntax_error(tail.span, forms::DOTTED_CALL));
                }
                if let Some(head) = items[0].as_symbol() {
                    match self.lookup(head) {
                        Meaning::Macro(m) => {
                            let expanded = self.expand_macro(&m, d)?;
                            return self.expand_named(&expanded, name);
                        }
                        Meaning::Special(s) => return self.special(s, d, items, name),
                        _ => {}
                    }
                }
                let f = self.expand(&items[0])?;
                let args = items[1..].iter().map(|a| self.expand(a)).collect::<Res<Vec<_>>>()?;
                Expr::Call(Box::new(f), args)
            }
            DatumKind::Vector(_) => Expr::Const(datum_to_value(&self.env.strip_datum(d))),
            _ => Expr::Const(datum_to_value(d)),
        };
        Ok(Node::new(expr, span))
    }

    fn expand_macro(&mut self, m: &Rc<Macro>, d: &Datum) -> Res<Datum> {
        self.expansions += 1;
        if self.expansions > MAX_EXPANSIONS {
            return Err(syntax_error(d.span, format!("{}: macro expansion does not terminate", m.name)));
        }
        let depth = m.depth;
        let mut new_aliases = Vec::new();
        let mut rename = |s: Symbol| {
            let alias = Symbol::uninterned(s.as_str());
            new_aliases.push((alias, Alias { orig: s, depth }));
            alias
        };
        let out = m.expand(d, &*self.env, &mut rename);
        self.env.aliases.extend(new_aliases);
        let out = out.ok_or_else(|| syntax_error(d.span, format!("{}: no syntax rule matches", m.name)))?;
        self.expanded_nodes += datum_size(&out);
        if self.expanded_nodes > MAX_EXPANDED_NODES {
            return Err(syntax_error(d.span, format!("{}: macro expansion too large", m.name)));
        }
        Ok(out)
    }

    /// Expands macro uses at the head of `d` until it is something else.
    fn expand_macros(&mut self, d: &Datum) -> Res<Datum> {
        let mut d = d.clone();
        while let Some(head) = d.head_symbol() {
            match self.lookup(head) {
                Meaning::Macro(m) => d = self.expand_macro(&m, &d)?,
                _ => break,
            }
        }
        Ok(d)
    }

    /// If `d` is a special form, its keyword and items.
    fn special_form<'d>(&self, d: &'d Datum) -> Option<(Special, &'d [Datum])> {
        let items = d.as_list()?;
        match self.lookup(items.first()?.as_symbol()?) {
            Meaning::Special(s) => Some((s, items)),
            _ => None,
        }
    }

    fn special(&mut self, s: Special, d: &Datum, items: &[Datum], name: Option<Symbol>) -> Res<Node> {
        let span = d.span;
        if let Special::Define | Special::DefineSyntax | Special::DefineRecordType = s {
            let kw = self.env.strip(items[0].as_symbol().unwrap());
            return Err(syntax_error(span, forms::misplaced_definition(kw.as_str())));
        }
        self.check_shape(d)?;
        let kw = self.env.strip(items[0].as_symbol().unwrap());
        let bad = || malformed(kw, span);
        let n = items.len();
        let expr = match s {
            Special::Quote => {
                if n != 2 {
                    return Err(bad());
                }
                Expr::Const(datum_to_value(&self.env.strip_datum(&items[1])))
            }
            Special::Quasiquote => {
                if n != 2 {
                    return Err(bad());
                }
                let built = self.quasi(&items[1], 1)?;
                return self.expand(&built);
            }
            Special::Unquote | Special::UnquoteSplicing => return Err(bad()),
            Special::If => {
                if !(3..=4).contains(&n) {
                    return Err(bad());
                }
                let t = self.expand(&items[1])?;
                let c = self.expand(&items[2])?;
                let a = match items.get(3) {
                    Some(a) => self.expand(a)?,
                    None => Node::unspecified(span),
                };
                Expr::If(Box::new(t), Box::new(c), Box::new(a))
            }
            Special::Define | Special::DefineSyntax | Special::DefineRecordType | Special::SyntaxRules => {
                return Err(bad())
            }
            Special::Lambda => {
                if n < 3 {
                    return Err(bad());
                }
                return self.lambda(&items[1], &items[2..], name, span);
            }
            Special::Let => return self.let_form(items, span),
            Special::LetStar => {
                let (bindings, body) = self.let_parts(items, span)?;
                if bindings.is_empty() {
                    return self.let_form(items, span);
                }
                let mut nested = list(vec![self.core("let", span), list(vec![], span)], span);
                if let DatumKind::List(ref mut xs, _) = nested.kind {
                    xs.extend(body.iter().cloned());
                }
                for b in bindings.iter().rev() {
                    let let_kw = self.core("let", span);
                    nested = list(vec![let_kw, list(vec![b.clone()], b.span), nested], span);
                }
                return self.expand(&nested);
            }
            Special::Letrec => {
                let (bindings, body) = self.let_parts(items, span)?;
                self.distinct_names(&items[0], &bindings)?;
                self.push_rib();
                let mut vars = Vec::new();
                for b in &bindings {
                    let (name, _) = binding_parts(b).ok_or_else(bad)?;
                    let v = self.new_var(name, true);
                    self.bind(name, Meaning::Var(v));
                    vars.push((v, name));
                }
                let mut seq_items = Vec::new();
                for (b, (v, name)) in bindings.iter().zip(&vars) {
                    let (_, init) = binding_parts(b).unwrap();
                    let init = self.expand_named(init, Some(*name))?;
                    seq_items.push(Node::new(Expr::Init(*v, Box::new(init)), b.span));
                }
                seq_items.push(self.body(body, span)?);
                self.pop_rib();
                Expr::Letrec(vars.iter().map(|(v, _)| *v).collect(), Box::new(seq(seq_items, span)))
            }
            Special::Set => {
                if n != 3 {
                    return Err(bad());
                }
                let target = items[1].as_symbol().ok_or_else(bad)?;
                let meaning = self.lookup(target);
                if let Meaning::Macro(_) | Meaning::Special(_) = meaning {
                    let name = self.env.strip(target);
                    return Err(syntax_error(items[1].span, forms::assigned_keyword(name.as_str())));
                }
                let value = self.expand_named(&items[2], None)?;
                match meaning {
                    Meaning::Var(id) => {
                        self.vars[id].assigned = true;
                        self.var_ref(id);
                        Expr::SetLocal(id, Box::new(value))
                    }
                    Meaning::Global(g) => Expr::SetGlobal(g, Box::new(value)),
                    Meaning::Macro(_) | Meaning::Special(_) => return Err(bad()),
                }
            }
            Special::Begin => {
                let body = items[1..].iter().map(|i| self.expand(i)).collect::<Res<Vec<_>>>()?;
                return Ok(seq(body, span));
            }
            Special::Cond => return self.cond(&items[1..], span),
            Special::Case => return self.case(items, span),
            Special::When | Special::Unless => {
                if n < 2 {
                    return Err(bad());
                }
                let t = self.expand(&items[1])?;
                let body = items[2..].iter().map(|i| self.expand(i)).collect::<Res<Vec<_>>>()?;
                let body = seq(body, span);
                let none = Node::unspecified(span);
                let (c, a) = if s == Special::When { (body, none) } else { (none, body) };
                Expr::If(Box::new(t), Box::new(c), Box::new(a))
            }
            Special::Do => return self.do_loop(items, span),
            Special::And | Special::Or => {
                let parts = &items[1..];
                if parts.is_empty() {
                    return Ok(Node::new(Expr::Const(Value::Bool(s == Special::And)), span));
                }
                let mut result = self.expand(&parts[parts.len() - 1])?;
                for p in parts[..parts.len() - 1].iter().rev() {
                    let test = self.expand(p)?;
                    result = if s == Special::And {
                        Node::new(
                            Expr::If(
                                Box::new(test),
                                Box::new(result),
                                Box::new(Node::new(Expr::Const(Value::Bool(false)), span)),
                            ),
                            span,
                        )
                    } else {
                        let t = self.new_var(Symbol::intern("or"), false);
                        let r = self.var_ref(t);
                        let again = Node::new(r, p.span);
                        let r2 = self.var_ref(t);
                        Node::new(
                            Expr::Let(
                                vec![(t, test)],
                                Box::new(Node::new(
                                    Expr::If(Box::new(Node::new(r2, p.span)), Box::new(again), Box::new(result)),
                                    span,
                                )),
                            ),
                            span,
                        )
                    };
                }
                return Ok(result);
            }
            Special::LetSyntax | Special::LetrecSyntax => {
                if n < 3 {
                    return Err(bad());
                }
                let bindings = items[1].as_list().ok_or_else(bad)?;
                // The templates of let-syntax macros see the scope around the form; those of
                // letrec-syntax also see each other.
                let depth = if s == Special::LetSyntax { self.ribs.len() } else { self.ribs.len() + 1 };
                self.push_rib();
                for b in bindings {
                    let (name, spec) = binding_parts(b).ok_or_else(bad)?;
                    let mac = parse_syntax_rules(name, spec, depth).map_err(|(sp, m)| syntax_error(sp, m))?;
                    self.bind(name, Meaning::Macro(mac));
                }
                let body = self.body(&items[2..], span)?;
                self.pop_rib();
                return Ok(body);
            }
            Special::Delay | Special::DelayForce => {
                if n != 2 {
                    return Err(bad());
                }
                let thunk = self.thunk(&items[1], span)?;
                Expr::Delay { thunk: Box::new(thunk), force_result: s == Special::DelayForce }
            }
            Special::ConsStream => {
                if n != 3 {
                    return Err(bad());
                }
                let head = self.expand(&items[1])?;
                let thunk = self.thunk(&items[2], span)?;
                let promise = Node::new(Expr::Delay { thunk: Box::new(thunk), force_result: false }, items[2].span);
                let cons = Node::new(Expr::Global(internal_name("cons")), span);
                Expr::Call(Box::new(cons), vec![head, promise])
            }
            Special::Effect => {
                let op = items.get(1).and_then(Datum::as_symbol).ok_or_else(bad)?;
                let args = items[2..].iter().map(|a| self.expand(a)).collect::<Res<Vec<_>>>()?;
                Expr::Effect(self.env.strip(op), args)
            }
            Special::Handle => return self.handle(items, span),
            Special::Amb => {
                if n == 1 {
                    Expr::Effect(Symbol::intern("amb.fail"), vec![])
                } else {
                    let thunks = items[1..].iter().map(|a| self.thunk(a, a.span)).collect::<Res<Vec<_>>>()?;
                    let list = Node::new(Expr::Global(internal_name("list")), span);
                    Expr::Effect(
                        Symbol::intern("amb.choose"),
                        vec![Node::new(Expr::Call(Box::new(list), thunks), span)],
                    )
                }
            }
            Special::Parallel => {
                let thunks = items[1..].iter().map(|a| self.thunk(a, a.span)).collect::<Res<Vec<_>>>()?;
                Expr::Parallel(thunks)
            }
            Special::Match => {
                let built = self.match_form(items, span)?;
                return self.expand(&built);
            }
            Special::Guard => return self.guard(items, span),
        };
        Ok(Node::new(expr, span))
    }

    /// `(lambda () d)`, expanded.
    fn thunk(&mut self, d: &Datum, span: Span) -> Res<Node> {
        let nil = list(vec![], span);
        self.lambda(&nil, std::slice::from_ref(d), None, span)
    }

    fn lambda(&mut self, formals: &Datum, body: &[Datum], name: Option<Symbol>, span: Span) -> Res<Node> {
        let (params, rest) = parse_formals(formals).ok_or_else(|| malformed(Symbol::intern("lambda"), span))?;
        let id = self.next_fn;
        self.next_fn += 1;
        self.fns.push(id);
        self.push_rib();
        let params: Vec<VarId> = params
            .into_iter()
            .map(|p| {
                let v = self.new_var(p, false);
                self.bind(p, Meaning::Var(v));
                v
            })
            .collect();
        let rest = rest.map(|r| {
            let v = self.new_var(r, false);
            self.bind(r, Meaning::Var(v));
            v
        });
        let body = self.body(body, span);
        self.pop_rib();
        self.fns.pop();
        let body = body?;
        let name = name.map(|n| self.env.strip(n));
        Ok(Node::new(Expr::Lambda(Rc::new(Lambda { name, params, rest, body, id, span })), span))
    }

    /// A body: internal definitions (letrec* semantics) mixed with expressions.
    fn body(&mut self, items: &[Datum], span: Span) -> Res<Node> {
        if items.is_empty() {
            return Err(syntax_error(span, "empty body"));
        }
        enum Item {
            Def(VarId, Datum, Span),
            Const(VarId, Value, Span),
            Expr(Datum),
        }
        self.push_rib();
        let mut queue: std::collections::VecDeque<Datum> = items.iter().cloned().collect();
        let mut out = Vec::new();
        let mut vars = Vec::new();
        let result = (|| {
            while let Some(d) = queue.pop_front() {
                let d = self.expand_macros(&d)?;
                let head = self.special_form(&d).map(|(s, _)| s);
                if matches!(head, Some(Special::Define | Special::DefineSyntax | Special::DefineRecordType)) {
                    self.check_shape(&d)?;
                }
                match self.special_form(&d) {
                    Some((Special::Begin, its)) => {
                        for i in its[1..].iter().rev() {
                            queue.push_front(i.clone());
                        }
                    }
                    Some((Special::Define, its)) => {
                        let (name, value) = self.parse_define(&d, its)?;
                        let v = self.new_var(name, true);
                        self.bind(name, Meaning::Var(v));
                        vars.push(v);
                        out.push(Item::Def(v, value, d.span));
                    }
                    Some((Special::DefineSyntax, its)) => {
                        let (name, mac) = self.parse_define_syntax(its, d.span)?;
                        self.bind(name, Meaning::Macro(mac));
                    }
                    Some((Special::DefineRecordType, its)) => {
                        for (name, value, s) in self.record_type(its, d.span)? {
                            let v = self.new_var(name, true);
                            self.bind(name, Meaning::Var(v));
                            vars.push(v);
                            out.push(Item::Const(v, value, s));
                        }
                    }
                    _ => out.push(Item::Expr(d)),
                }
            }
            let mut nodes = Vec::new();
            for item in out {
                nodes.push(match item {
                    Item::Def(v, value, s) => {
                        let name = self.vars[v].name;
                        let value = self.expand_named(&value, Some(name))?;
                        Node::new(Expr::Init(v, Box::new(value)), s)
                    }
                    Item::Const(v, value, s) => Node::new(Expr::Init(v, Box::new(Node::new(Expr::Const(value), s))), s),
                    Item::Expr(d) => self.expand(&d)?,
                });
            }
            Ok(nodes)
        })();
        self.pop_rib();
        let nodes = result?;
        let body = seq(nodes, span);
        Ok(if vars.is_empty() { body } else { Node::new(Expr::Letrec(vars, Box::new(body)), span) })
    }

    /// `(define name value)` or `(define (name . formals) body…)` (curried forms too).
    fn parse_define(&mut self, d: &Datum, items: &[Datum]) -> Res<(Symbol, Datum)> {
        let span = d.span;
        let bad = || malformed(Symbol::intern("define"), span);
        let target = items.get(1).ok_or_else(bad)?;
        match &target.kind {
            DatumKind::Symbol(s) => match items.len() {
                2 => Ok((
                    *s,
                    Datum::new(
                        DatumKind::List(vec![self.core("if", span), Datum::new(DatumKind::Bool(false), span)], None),
                        span,
                    ),
                )),
                3 => Ok((*s, items[2].clone())),
                _ => Err(bad()),
            },
            DatumKind::List(head, tail) if !head.is_empty() && items.len() >= 3 => {
                let formals = Datum::new(DatumKind::List(head[1..].to_vec(), tail.clone()), target.span);
                let mut lambda = vec![self.core("lambda", span), formals];
                lambda.extend(items[2..].iter().cloned());
                let lambda = list(lambda, span);
                // (define ((f a) b) …) defines f as a procedure returning a procedure.
                let mut inner = head[0].clone();
                let mut value = lambda;
                while let DatumKind::List(h, t) = &inner.kind {
                    let formals = Datum::new(DatumKind::List(h[1..].to_vec(), t.clone()), inner.span);
                    value = list(vec![self.core("lambda", span), formals, value], span);
                    inner = h.first().cloned().ok_or_else(bad)?;
                }
                let name = inner.as_symbol().ok_or_else(bad)?;
                Ok((name, value))
            }
            _ => Err(bad()),
        }
    }

    fn parse_define_syntax(&mut self, items: &[Datum], span: Span) -> Res<(Symbol, Rc<Macro>)> {
        match items {
            [_, name, spec] => {
                let name = name.as_symbol().ok_or_else(|| malformed(Symbol::intern("define-syntax"), span))?;
                let mac = parse_syntax_rules(self.env.strip(name), spec, self.ribs.len())
                    .map_err(|(s, m)| syntax_error(s, m))?;
                Ok((name, mac))
            }
            _ => Err(malformed(Symbol::intern("define-syntax"), span)),
        }
    }
}

fn collect_pattern_vars(p: &Datum, out: &mut Vec<Symbol>) {
    match &p.kind {
        DatumKind::Symbol(s) if s.as_str().starts_with('?') && s.as_str().len() > 1 => {
            let name = Symbol::intern(&s.as_str()[1..]);
            if !out.contains(&name) {
                out.push(name);
            }
        }
        DatumKind::List(items, tail) => {
            if items.len() == 2 && items[0].is_symbol("quote") {
                return;
            }
            for i in items {
                collect_pattern_vars(i, out);
            }
            if let Some(t) = tail {
                collect_pattern_vars(t, out);
            }
        }
        DatumKind::Vector(items) => items.iter().for_each(|i| collect_pattern_vars(i, out)),
        _ => {}
    }
}

fn list(items: Vec<Datum>, span: Span) -> Datum {
    Datum::new(DatumKind::List(items, None), span)
}

/// An internal name for built-in `name` (see `internal_name`).
fn builtin(name: &str, span: Span) -> Datum {
    Datum::new(DatumKind::Symbol(internal_name(name)), span)
}

fn seq(mut nodes: Vec<Node>, span: Span) -> Node {
    match nodes.len() {
        0 => Node::unspecified(span),
        1 => nodes.pop().unwrap(),
        _ => Node::new(Expr::Seq(nodes), span),
    }
}

/// The number of data in `d`, counting every element of every list and vector.
fn datum_size(d: &Datum) -> usize {
    let mut n = 0;
    let mut todo = vec![d];
    while let Some(d) = todo.pop() {
        n += 1;
        match &d.kind {
            DatumKind::List(items, tail) => {
                todo.extend(items.iter());
                todo.extend(tail.as_deref());
            }
            DatumKind::Vector(items) => todo.extend(items.iter()),
            _ => {}
        }
    }
    n
}

fn binding_parts(b: &Datum) -> Option<(Symbol, &Datum)> {
    match b.as_list()? {
        [name, init] => Some((name.as_symbol()?, init)),
        _ => None,
    }
}

/// `(a b)`, `args` or `(a . rest)`: parameter names and the rest parameter.
fn parse_formals(f: &Datum) -> Option<(Vec<Symbol>, Option<Symbol>)> {
    let (params, rest) = match &f.kind {
        DatumKind::Symbol(s) => (vec![], Some(*s)),
        DatumKind::List(items, tail) => {
            let params = items.iter().map(Datum::as_symbol).collect::<Option<Vec<_>>>()?;
            let rest = match tail {
                Some(t) => Some(t.as_symbol()?),
                None => None,
            };
            (params, rest)
        }
        _ => return None,
    };
    let mut all: Vec<Symbol> = params.clone();
    all.extend(rest);
    let mut sorted = all.clone();
    sorted.sort();
    sorted.dedup();
    (sorted.len() == all.len()).then_some((params, rest))
}

#[cfg(test)]
mod tests {
    use super::special;
    use crate::forms::FORMS;

    #[test]
    fn the_expander_implements_exactly_the_forms_of_the_table() {
        for f in FORMS {
            assert!(special(f.name).is_some(), "{} is in the table of forms but the expander does not know it", f.name);
        }
        // Every keyword the expander knows is in the table (the table is what the analysis,
        // the formatter and the editors read).
        let known = [
            "quote",
            "quasiquote",
            "unquote",
            "unquote-splicing",
            "if",
            "define",
            "lambda",
            "let",
            "let*",
            "letrec",
            "letrec*",
            "set!",
            "begin",
            "cond",
            "case",
            "when",
            "unless",
            "do",
            "and",
            "or",
            "define-syntax",
            "let-syntax",
            "letrec-syntax",
            "delay",
            "delay-force",
            "cons-stream",
            "effect",
            "handle",
            "amb",
            "parallel",
            "match",
            "guard",
            "define-record-type",
            "syntax-rules",
        ];
        for name in known {
            assert!(FORMS.iter().any(|f| f.name == name), "{name}");
        }
        assert_eq!(known.len(), FORMS.len());
    }
}
