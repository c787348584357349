//! `syntax-rules`: matching a macro use against patterns and filling in the template.
//!
//! Hygiene is by renaming: every symbol a template introduces becomes a fresh alias that
//! remembers its original name and the scope depth where the macro was defined (see
//! `Expander::lookup`), so introduced binders never capture the user's names and free
//! template names mean what they meant where the macro was written.

use std::collections::HashMap;
use std::rc::Rc;

use crate::symbol::Symbol;
use crate::syntax::{Datum, DatumKind, Span};

pub struct Macro {
    pub name: Symbol,
    pub literals: Vec<Symbol>,
    pub ellipsis: Symbol,
    pub rules: Vec<(Datum, Datum)>,
    /// Number of scopes visible where the macro was defined.
    pub depth: usize,
}

/// What a pattern variable matched.
#[derive(Clone, Debug)]
enum Match {
    One(Datum),
    Many(Vec<Match>),
}

type Bindings = HashMap<Symbol, Match>;

/// Strips aliases back to the names the user wrote, e.g. inside `quote`.
pub trait Unalias {
    fn unalias(&self, s: Symbol) -> Symbol;
}

impl Macro {
    /// Expands `form` with the first matching rule; `rename` maps a template symbol to a fresh
    /// alias. `None` when no rule matches.
    pub fn expand(
        &self,
        form: &Datum,
        unalias: &dyn Unalias,
        rename: &mut dyn FnMut(Symbol) -> Symbol,
    ) -> Option<Datum> {
        let DatumKind::List(items, tail) = &form.kind else { return None };
        let input = Datum::new(DatumKind::List(items[1..].to_vec(), tail.clone()), form.span);
        for (pattern, template) in &self.rules {
            let DatumKind::List(pitems, ptail) = &pattern.kind else { continue };
            let Some(pitems) = pitems.get(1..) else { continue };
            let pattern = Datum::new(DatumKind::List(pitems.to_vec(), ptail.clone()), pattern.span);
            let mut binds = Bindings::new();
            if self.matches(&pattern, &input, unalias, &mut binds) {
                let mut renames = HashMap::new();
                let mut fresh = |s: Symbol| *renames.entry(s).or_insert_with(|| rename(s));
                return self.transcribe(template, &binds, form.span, &mut fresh);
            }
        }
        None
    }

    fn is_ellipsis(&self, d: &Datum) -> bool {
        d.as_symbol() == Some(self.ellipsis)
    }

    fn matches(&self, pat: &Datum, input: &Datum, ua: &dyn Unalias, binds: &mut Bindings) -> bool {
        match &pat.kind {
            DatumKind::Symbol(s) => {
                if s.as_str() == "_" {
                    true
                } else if self.literals.contains(s) {
                    input.as_symbol().is_some_and(|i| ua.unalias(i) == ua.unalias(*s))
                } else {
                    binds.insert(*s, Match::One(input.clone()));
                    true
                }
            }
            DatumKind::List(pitems, ptail) => {
                let DatumKind::List(items, tail) = &input.kind else { return false };
                self.match_sequence(pitems, ptail.as_deref(), items, tail.as_deref(), input.span, ua, binds)
            }
            DatumKind::Vector(pitems) => {
                let DatumKind::Vector(items) = &input.kind else { return false };
                self.match_sequence(pitems, None, items, None, input.span, ua, binds)
            }
            _ => literal_eq(pat, input),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn match_sequence(
        &self,
        pats: &[Datum],
        ptail: Option<&Datum>,
        items: &[Datum],
        tail: Option<&Datum>,
        span: Span,
        ua: &dyn Unalias,
        binds: &mut Bindings,
    ) -> bool {
        let ell = pats.iter().position(|p| self.is_ellipsis(p)).filter(|&i| i > 0);
        let Some(e) = ell else {
            if items.len() < pats.len() {
                return false;
            }
            for (p, d) in pats.iter().zip(items) {
                if !self.matches(p, d, ua, binds) {
                    return false;
                }
            }
            let rest = &items[pats.len()..];
            return match ptail {
                Some(pt) => {
                    let rest = Datum::new(DatumKind::List(rest.to_vec(), tail.cloned().map(Box::new)), span);
                    self.matches(pt, &rest, ua, binds)
                }
                None => rest.is_empty() && tail.is_none(),
            };
        };
        let before = &pats[..e - 1];
        let repeated = &pats[e - 1];
        let after = &pats[e + 1..];
        if items.len() < before.len() + after.len() {
            return false;
        }
        if ptail.is_none() && tail.is_some() {
            return false;
        }
        for (p, d) in before.iter().zip(items) {
            if !self.matches(p, d, ua, binds) {
                return false;
            }
        }
        let middle = &items[before.len()..items.len() - after.len()];
        let mut runs: Vec<Bindings> = Vec::new();
        for d in middle {
            let mut b = Bindings::new();
            if !self.matches(repeated, d, ua, &mut b) {
                return false;
            }
            runs.push(b);
        }
        for var in pattern_vars(repeated, self) {
            let seq = runs.iter().map(|b| b.get(&var).cloned().unwrap_or(Match::Many(vec![]))).collect();
            binds.insert(var, Match::Many(seq));
        }
        for (p, d) in after.iter().zip(&items[items.len() - after.len()..]) {
            if !self.matches(p, d, ua, binds) {
                return false;
            }
        }
        match ptail {
            Some(pt) => {
                let rest = tail.cloned().unwrap_or_else(|| Datum::new(DatumKind::List(vec![], None), span));
                self.matches(pt, &rest, ua, binds)
            }
            None => true,
        }
    }

    fn transcribe(
        &self,
        t: &Datum,
        binds: &Bindings,
        span: Span,
        rename: &mut dyn FnMut(Symbol) -> Symbol,
    ) -> Option<Datum> {
        Some(match &t.kind {
            DatumKind::Symbol(s) => match binds.get(s) {
                Some(Match::One(d)) => d.clone(),
                Some(Match::Many(_)) => return None,
                None => Datum::new(DatumKind::Symbol(rename(*s)), span),
            },
            DatumKind::List(items, tail) => {
                // `(... ...)` stands for a literal ellipsis.
                if items.len() == 2 && self.is_ellipsis(&items[0]) && tail.is_none() {
                    return self.transcribe_escaped(&items[1], span);
                }
                let items = self.transcribe_items(items, binds, span, rename)?;
                let tail = match tail {
                    Some(t) => Some(Box::new(self.transcribe(t, binds, span, rename)?)),
                    None => None,
                };
                // A spliced tail that is itself a list joins the list.
                match tail.map(|t| *t) {
                    Some(Datum { kind: DatumKind::List(more, more_tail), .. }) => {
                        let mut items = items;
                        items.extend(more);
                        Datum::new(DatumKind::List(items, more_tail), span)
                    }
                    other => Datum::new(DatumKind::List(items, other.map(Box::new)), span),
                }
            }
            DatumKind::Vector(items) => {
                Datum::new(DatumKind::Vector(self.transcribe_items(items, binds, span, rename)?), span)
            }
            _ => Datum::new(t.kind.clone(), span),
        })
    }

    fn transcribe_escaped(&self, t: &Datum, span: Span) -> Option<Datum> {
        Some(Datum::new(t.kind.clone(), span))
    }

    fn transcribe_items(
        &self,
        items: &[Datum],
        binds: &Bindings,
        span: Span,
        rename: &mut dyn FnMut(Symbol) -> Symbol,
    ) -> Option<Vec<Datum>> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < items.len() {
            let item = &items[i];
            let mut depth = 0;
            while items.get(i + 1 + depth).is_some_and(|d| self.is_ellipsis(d)) {
                depth += 1;
            }
            if depth == 0 {
                out.push(self.transcribe(item, binds, span, rename)?);
            } else {
                let mut results = vec![binds.clone()];
                for _ in 0..depth {
                    results = results.iter().map(|b| self.unroll(item, b)).collect::<Option<Vec<_>>>()?.concat();
                }
                for b in &results {
                    out.push(self.transcribe(item, b, span, rename)?);
                }
            }
            i += 1 + depth;
        }
        Some(out)
    }

    /// The bindings for each repetition of `item` under one ellipsis.
    fn unroll(&self, item: &Datum, binds: &Bindings) -> Option<Vec<Bindings>> {
        let mut symbols = template_symbols(item);
        symbols.sort();
        symbols.dedup();
        let (vars, others): (Vec<Symbol>, Vec<Symbol>) =
            symbols.into_iter().partition(|s| matches!(binds.get(s), Some(Match::Many(_))));
        // Each repetition needs only the bindings `item` mentions: copying all of them for
        // every repetition would make long matches quadratic.
        let base: Bindings = others.iter().filter_map(|s| Some((*s, binds.get(s)?.clone()))).collect();
        if vars.is_empty() {
            return None;
        }
        let len = vars
            .iter()
            .filter_map(|v| match binds.get(v) {
                Some(Match::Many(m)) => Some(m.len()),
                _ => None,
            })
            .max()?;
        let mut out = Vec::with_capacity(len);
        for k in 0..len {
            let mut b = base.clone();
            for v in &vars {
                if let Some(Match::Many(m)) = binds.get(v) {
                    match m.get(k) {
                        Some(x) => b.insert(*v, x.clone()),
                        None => return None,
                    };
                }
            }
            out.push(b);
        }
        Some(out)
    }
}

fn literal_eq(a: &Datum, b: &Datum) -> bool {
    match (&a.kind, &b.kind) {
        (DatumKind::Int(x), DatumKind::Int(y)) => x == y,
        (DatumKind::Float(x), DatumKind::Float(y)) => x == y,
        (DatumKind::Str(x), DatumKind::Str(y)) => x == y,
        (DatumKind::Char(x), DatumKind::Char(y)) => x == y,
        (DatumKind::Bool(x), DatumKind::Bool(y)) => x == y,
        _ => false,
    }
}

/// The pattern variables of a pattern: its symbols but `_`, the ellipsis and literals.
fn pattern_vars(p: &Datum, m: &Macro) -> Vec<Symbol> {
    let mut out = template_symbols(p);
    out.retain(|s| s.as_str() != "_" && *s != m.ellipsis && !m.literals.contains(s));
    out
}

/// Every symbol in a datum.
fn template_symbols(t: &Datum) -> Vec<Symbol> {
    let mut out = Vec::new();
    let mut stack = vec![t];
    while let Some(d) = stack.pop() {
        match &d.kind {
            DatumKind::Symbol(s) => out.push(*s),
            DatumKind::List(items, tail) => {
                stack.extend(items.iter());
                stack.extend(tail.as_deref());
            }
            DatumKind::Vector(items) => stack.extend(items.iter()),
            _ => {}
        }
    }
    out
}

/// Parses `(syntax-rules [ellipsis] (literal…) (pattern template)…)`.
pub fn parse_syntax_rules(name: Symbol, spec: &Datum, depth: usize) -> Result<Rc<Macro>, (Span, String)> {
    if let Some(m) = crate::forms::check_transformer(name, spec, &crate::forms::PlainNames).into_iter().next() {
        return Err((m.span, m.message));
    }
    let bad = || (spec.span, format!("{name}: expected (syntax-rules (literal …) (pattern template) …)"));
    let items = spec.as_list().ok_or_else(bad)?;
    if items.len() < 2 || !items[0].is_symbol("syntax-rules") {
        return Err(bad());
    }
    let (ellipsis, rest) = match items[1].as_symbol() {
        Some(s) => (s, &items[2..]),
        None => (Symbol::intern("..."), &items[1..]),
    };
    let literals = rest
        .first()
        .and_then(Datum::as_list)
        .ok_or_else(bad)?
        .iter()
        .map(|d| d.as_symbol().ok_or_else(bad))
        .collect::<Result<Vec<_>, _>>()?;
    let mut rules = Vec::new();
    for rule in &rest[1..] {
        match rule.as_list() {
            Some([pattern, template]) if matches!(pattern.kind, DatumKind::List(..)) => {
                rules.push((pattern.clone(), template.clone()))
            }
            _ => return Err((rule.span, format!("{name}: each rule must be (pattern template)"))),
        }
    }
    Ok(Rc::new(Macro { name, literals, ellipsis, rules, depth }))
}
