//! Quick fixes that rewrite code (the `data.fixes` of docs/language.md §9): "order by key" for keyed deadlocks and "wrap
//! in `s`" for races. The swap fix lives with the lock-order check, the suppression comment
//! with `suppress`.
//!
//! Fixes are plain text edits built from the syntax tree and the resolution; they are only
//! offered when the code has the shape the rewrite understands, never guessed.

use crate::diagnostic::Fix;
use crate::syntax::{Datum, DatumKind, Span};

use super::identity::{Lit, Term};
use super::report::Context;
use super::resolve::BindingKind;

/// The name of the helper the fix inserts.
const HELPER: &str = "with-key-order";

/// How one serializer of a nesting is fetched: `(selector key)`, written inline or bound to
/// the variable used at the acquisition.
struct Fetch<'d> {
    selector: &'d Datum,
    key: &'d Datum,
}

/// "Order by key": insert `with-key-order` once, after the selector's definition, and call
/// it instead of the nesting `((outer (lambda () ((inner thunk)))))` or
/// `((outer (inner thunk)))`. `outer_call` is the span of `(outer …)`, `inner_token` that of
/// the inner serializer; `keys` are the key terms seen there (they choose `<`, `char<?` or
/// `string<?`).
pub fn order_by_key(ctx: &Context<'_>, outer_call: Span, inner_token: Span, keys: [&Term; 2]) -> Option<Fix> {
    let nesting = find_at(
        ctx.data,
        outer_call,
        &|d| matches!(&d.kind, DatumKind::List(items, None) if items.len() == 1 && items[0].span == outer_call),
    )?;
    let outer = nesting.as_list()?[0].as_list()?;
    let [outer_ser, wrapped] = outer else { return None };
    let inner = match wrapped.as_list()? {
        // ((outer (inner thunk)))
        [s, _] if s.span == inner_token => wrapped,
        // ((outer (lambda () ((inner thunk)))))
        [lambda, formals, body] if is_keyword(ctx, lambda, "lambda") && formals.as_list() == Some(&[]) => {
            match body.as_list()? {
                [call] if call.as_list().is_some_and(|c| c.len() == 2 && c[0].span == inner_token) => call,
                _ => return None,
            }
        }
        _ => return None,
    };
    let [inner_ser, thunk] = inner.as_list()? else { return None };
    let (first, second) = (fetch(ctx, outer_ser)?, fetch(ctx, inner_ser)?);
    let selector = first.selector.as_symbol()?;
    if second.selector.as_symbol() != Some(selector) {
        return None;
    }
    let sel_id = ctx.res.reference(first.selector.span)?;
    if ctx.res.binding(sel_id).kind != BindingKind::TopLevel {
        return None;
    }
    let text = |d: &Datum| ctx.slice(d.span).map(str::to_string);
    let call = format!("({HELPER} {} {} {})", text(first.key)?, text(second.key)?, text(thunk)?);
    let mut edits = vec![(nesting.span, call)];
    let helper_defined = ctx.res.toplevel(crate::symbol::Symbol::intern(HELPER)).is_some();
    if !helper_defined {
        let def_span = ctx.res.binding(sel_id).span?;
        let def = ctx.data.get(ctx.data.partition_point(|f| f.span.end <= def_span.start))?;
        let less = match keys.iter().find_map(|k| k.lit()) {
            Some(Lit::Int(_)) => "(< k1 k2)",
            Some(Lit::Char(_)) => "(char<? k1 k2)",
            Some(Lit::Sym(_)) => "(string<? (symbol->string k1) (symbol->string k2))",
            _ => "(string<? k1 k2)",
        };
        let helper = format!(
            "\n\n;; Takes the serializers of two keys in key order (one if the keys are equal), then runs thunk.\n\
             (define ({HELPER} k1 k2 thunk)\n  \
             (let ((s1 ({selector} k1)) (s2 ({selector} k2)))\n    \
             (cond ((equal? k1 k2) ((s1 thunk)))\n          \
             ({less} ((s1 (lambda () ((s2 thunk))))))\n          \
             (else ((s2 (lambda () ((s1 thunk)))))))))"
        );
        edits.push((Span { start: def.span.end, end: def.span.end }, helper));
    }
    Some(Fix { title: format!("take both serializers in key order with `{HELPER}`"), edits, preferred: false })
}

/// `(selector key)` itself, or a variable bound to it by a `let`-family clause.
fn fetch<'d>(ctx: &Context<'d>, d: &'d Datum) -> Option<Fetch<'d>> {
    if let Some([selector, key]) = d.as_list() {
        return selector.as_symbol().map(|_| Fetch { selector, key });
    }
    d.as_symbol()?;
    let id = ctx.res.reference(d.span)?;
    let binder = ctx.res.binding(id);
    if binder.kind != BindingKind::Local {
        return None;
    }
    let at = binder.span?;
    let clause = find_at(ctx.data, at, &|c| matches!(c.as_list(), Some([n, _]) if n.span == at))?;
    let [_, init] = clause.as_list()? else { return None };
    match init.as_list()? {
        [selector, key] if selector.as_symbol().is_some() => Some(Fetch { selector, key }),
        _ => None,
    }
}

fn is_keyword(ctx: &Context<'_>, d: &Datum, name: &str) -> bool {
    d.is_symbol(name) && is_special(ctx, d)
}

/// The datum at `span` satisfying `pred`, searched only in the top-level form around it.
fn find_at<'d>(data: &'d [Datum], span: Span, pred: &dyn Fn(&Datum) -> bool) -> Option<&'d Datum> {
    let i = data.partition_point(|f| f.span.end <= span.start);
    find(data.get(i..=i)?, pred)
}

/// The first datum (pre-order) satisfying `pred`.
fn find<'d>(data: &'d [Datum], pred: &dyn Fn(&Datum) -> bool) -> Option<&'d Datum> {
    for d in data {
        if pred(d) {
            return Some(d);
        }
        let found = match &d.kind {
            DatumKind::List(items, tail) => {
                find(items, pred).or_else(|| tail.as_deref().and_then(|t| find(std::slice::from_ref(t), pred)))
            }
            DatumKind::Vector(items) => find(items, pred),
            _ => None,
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

/// "Wrap in `s`": run the statement holding an unprotected access under the serializer the
/// other accesses hold, as `((s (lambda () statement)))`. The statement is the access's
/// enclosing body form (of a `lambda`, `let`, `begin`, `when`, … or the top level); it is
/// not offered when that statement performs an effect (LLM calls stay outside critical
/// sections) or is a definition.
pub fn wrap_in_serializer(ctx: &Context<'_>, access: Span, serializer: &str) -> Option<Fix> {
    let i = ctx.data.partition_point(|f| f.span.end <= access.start);
    let form = ctx.data.get(i)?;
    let mut chain = Vec::new();
    ancestors(form, access, &mut chain);
    // chain: outermost first, ending at the innermost list around the access.
    let mut statement = None;
    for (k, d) in chain.iter().enumerate() {
        let is_body_form = match k {
            0 => true,
            _ => body_parent(ctx, chain[k - 1], d),
        };
        if is_body_form {
            statement = Some(*d);
        }
    }
    let statement = statement?;
    if is_keyword_form(ctx, statement, &["define", "define-syntax", "define-record-type", "begin"])
        || performs_effect(ctx, statement)
    {
        return None;
    }
    let text = ctx.slice(statement.span)?;
    Some(Fix {
        title: format!("run this under `{serializer}`, as the other accesses do"),
        edits: vec![(statement.span, format!("(({serializer} (lambda () {text})))"))],
        preferred: true,
    })
}

/// The lists from `d` down to the innermost one containing `span`.
fn ancestors<'d>(d: &'d Datum, span: Span, out: &mut Vec<&'d Datum>) {
    if !(d.span.start <= span.start && span.end <= d.span.end) {
        return;
    }
    if let DatumKind::List(items, _) = &d.kind {
        out.push(d);
        if let Some(child) = items.iter().find(|c| c.span.start <= span.start && span.end <= c.span.end) {
            ancestors(child, span, out);
        }
    }
}

/// Whether `child` is a body form of `parent` (a statement position).
fn body_parent(ctx: &Context<'_>, parent: &Datum, child: &Datum) -> bool {
    let Some(items) = parent.as_list() else { return false };
    let Some(pos) = items.iter().position(|c| std::ptr::eq(c, child)) else { return false };
    let Some(form) = items.first().filter(|h| is_special(ctx, h)).and_then(Datum::as_symbol) else { return false };
    match form.as_str() {
        "lambda" | "when" | "unless" => pos >= 2,
        "begin" => pos >= 1,
        "let" if items.get(1).is_some_and(|n| n.as_symbol().is_some()) => pos >= 3,
        "let" | "let*" | "letrec" | "letrec*" => pos >= 2,
        "define" => pos >= 2 && items.get(1).is_some_and(|t| matches!(t.kind, DatumKind::List(..))),
        _ => false,
    }
}

/// Whether an identifier names a special form (not shadowed).
fn is_special(ctx: &Context<'_>, d: &Datum) -> bool {
    ctx.res.reference(d.span).is_some_and(|id| ctx.res.binding(id).kind == BindingKind::SpecialForm)
}

fn is_keyword_form(ctx: &Context<'_>, d: &Datum, names: &[&str]) -> bool {
    d.as_list().and_then(|l| l.first()).is_some_and(|h| names.iter().any(|n| is_keyword(ctx, h, n)))
}

/// Whether `(effect …)` occurs in the datum.
fn performs_effect(ctx: &Context<'_>, d: &Datum) -> bool {
    match &d.kind {
        DatumKind::List(items, _) => {
            is_keyword_form(ctx, d, &["effect"]) || items.iter().any(|i| performs_effect(ctx, i))
        }
        _ => false,
    }
}
