//! The shape check: reads a form's [`Part`]s and reports each mistake once, with its span.
//!
//! Only the form's own structure is checked; the expressions inside are forms of their own,
//! checked when their reader reaches them.

use super::{form, ClauseKind, Part};
use crate::symbol::Symbol;
use crate::syntax::{Datum, DatumKind, Span};

/// A malformed part of a special form: what to say and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mistake {
    pub span: Span,
    pub message: String,
}

/// How a reader of forms sees names: macro expansion renames the symbols it introduces, and
/// a local variable may shadow an auxiliary keyword such as `else`.
pub trait Names {
    /// The name a symbol was written as.
    fn original(&self, s: Symbol) -> Symbol {
        s
    }
    /// Whether `s` is the auxiliary keyword `keyword` here rather than a variable.
    fn is_keyword(&self, s: Symbol, keyword: &str) -> bool {
        self.original(s).as_str() == keyword
    }
}

/// Names as written, with no renaming and no shadowing.
pub struct PlainNames;

impl Names for PlainNames {}

/// Every mistake in the shape of `d`, a list whose head names a special form; none for
/// anything else.
pub fn check(d: &Datum, names: &dyn Names) -> Vec<Mistake> {
    let Some(items) = d.as_list() else {
        return Vec::new();
    };
    let Some(head) = items.first().and_then(Datum::as_symbol) else {
        return Vec::new();
    };
    let Some(f) = form(names.original(head).as_str()) else {
        return Vec::new();
    };
    let mut c = Checker { names, keyword: f.name, signature: f.signature, out: Vec::new() };
    c.form(d, f.parts, &items[1..]);
    c.out
}

/// Every mistake in `spec`, the `syntax-rules` transformer of the macro `name`.
pub fn check_transformer(name: Symbol, spec: &Datum, names: &dyn Names) -> Vec<Mistake> {
    let mut c = Checker { names, keyword: "syntax-rules", signature: "", out: Vec::new() };
    c.transformer(names.original(name), spec);
    c.out
}

struct Checker<'n> {
    names: &'n dyn Names,
    keyword: &'static str,
    signature: &'static str,
    out: Vec<Mistake>,
}

impl Checker<'_> {
    fn mistake(&mut self, span: Span, what: impl std::fmt::Display) {
        self.out.push(Mistake { span, message: format!("{}: {what}", self.keyword) });
    }

    /// "KEYWORD: expected SIGNATURE", the message for a part that is not what the form needs.
    fn expected(&mut self, span: Span) {
        let sig = self.signature;
        self.mistake(span, format_args!("expected {sig}"));
    }

    fn name(&self, s: Symbol) -> Symbol {
        self.names.original(s)
    }

    fn form(&mut self, d: &Datum, parts: &[Part], args: &[Datum]) {
        match parts {
            [Part::Misplaced(what)] => return self.mistake(d.span, what),
            [Part::Definition] => return self.definition(d, args),
            [Part::RecordType] => return self.record_type(d, args),
            _ => {}
        }
        let named = args.first().is_some_and(|a| a.as_symbol().is_some());
        let parts: Vec<Part> = parts.iter().copied().filter(|p| *p != Part::LoopName || named).collect();
        let min = parts.iter().filter(|p| !matches!(p, Part::OptionalExpr | Part::Exprs | Part::Clauses(_))).count();
        let max = if parts.iter().any(|p| p.is_rest()) { usize::MAX } else { parts.len() };
        if args.len() < min || args.len() > max {
            return self.expected(d.span);
        }
        let mut name = None;
        for (i, part) in parts.iter().enumerate() {
            if part.is_rest() {
                if let Part::Clauses(kind) = part {
                    self.clauses(*kind, &args[i..]);
                }
                break;
            }
            let Some(a) = args.get(i) else { break };
            self.part(*part, a, name);
            name = a.as_symbol().or(name);
        }
    }

    /// One part; `name` is the last symbol part before it (a macro's name).
    fn part(&mut self, part: Part, a: &Datum, name: Option<Symbol>) {
        match part {
            Part::Template => self.template(a, 1),
            Part::Name if a.as_symbol().is_none() => self.mistake(a.span, "expected a name"),
            Part::Variable if a.as_symbol().is_none() => self.mistake(a.span, "expected a variable name"),
            Part::Op if a.as_symbol().is_none() => {
                self.mistake(a.span, "the operation must be a literal symbol, as in (effect infer.op argument…)")
            }
            Part::Formals => self.formals(a),
            Part::Bindings { distinct } => self.bindings(a, distinct),
            Part::SyntaxBindings => self.syntax_bindings(a),
            Part::Transformer => {
                if let Some(name) = name {
                    self.transformer(self.name(name), a);
                }
            }
            Part::DoVariables => self.do_variables(a),
            Part::DoExit if a.as_list().is_none_or(|e| e.is_empty()) => {
                self.mistake(a.span, "expected the exit clause (test result…)")
            }
            Part::GuardSpec => match a.as_list() {
                Some([var, clauses @ ..]) if var.as_symbol().is_some() => self.clauses(ClauseKind::Cond, clauses),
                _ => self.expected(a.span),
            },
            _ => {}
        }
    }

    /// Parameters: `(a b)`, `(a . rest)` or `args`, each name once.
    fn formals(&mut self, f: &Datum) {
        match &f.kind {
            DatumKind::Symbol(_) => {}
            DatumKind::List(items, tail) => self.parameters(items.iter().chain(tail.as_deref())),
            _ => self.mistake(f.span, "expected parameters: (a b), (a . rest) or args"),
        }
    }

    fn parameters<'d>(&mut self, params: impl Iterator<Item = &'d Datum>) {
        let mut seen = Vec::new();
        for p in params {
            match p.as_symbol() {
                None => self.mistake(p.span, "a parameter must be a name"),
                Some(s) if seen.contains(&s) => {
                    self.mistake(p.span, format_args!("parameter {} appears twice", self.name(s)))
                }
                Some(s) => seen.push(s),
            }
        }
    }

    fn bindings(&mut self, b: &Datum, distinct: bool) {
        let Some(bindings) = b.as_list() else {
            return self.expected(b.span);
        };
        let mut seen = Vec::new();
        for b in bindings {
            match b.as_list() {
                Some([name, _]) if name.as_symbol().is_some() => {
                    let s = name.as_symbol().unwrap();
                    if distinct && seen.contains(&s) {
                        self.mistake(b.span, format_args!("duplicate binding of {}", self.name(s)));
                    }
                    seen.push(s);
                }
                _ => self.mistake(b.span, "malformed binding, expected (name value)"),
            }
        }
    }

    fn syntax_bindings(&mut self, b: &Datum) {
        let Some(bindings) = b.as_list() else {
            return self.expected(b.span);
        };
        for b in bindings {
            match b.as_list() {
                Some([name, t]) if name.as_symbol().is_some() => {
                    self.transformer(self.name(name.as_symbol().unwrap()), t)
                }
                _ => self.mistake(b.span, "malformed binding, expected (name (syntax-rules …))"),
            }
        }
    }

    /// `(syntax-rules [ellipsis] (literal …) (pattern template) …)`; messages name the macro.
    fn transformer(&mut self, name: Symbol, spec: &Datum) {
        let bad =
            |c: &mut Self, span: Span, what: &str| c.out.push(Mistake { span, message: format!("{name}: {what}") });
        let expected = "expected (syntax-rules (literal …) (pattern template) …)";
        let items = match spec.as_list() {
            Some(items)
                if items.len() >= 2
                    && items[0].as_symbol().is_some_and(|s| self.name(s).as_str() == "syntax-rules") =>
            {
                items
            }
            _ => return bad(self, spec.span, expected),
        };
        let rest = if items[1].as_symbol().is_some() { &items[2..] } else { &items[1..] };
        let literals_ok =
            rest.first().and_then(Datum::as_list).is_some_and(|ls| ls.iter().all(|l| l.as_symbol().is_some()));
        if !literals_ok {
            return bad(self, spec.span, expected);
        }
        for rule in &rest[1..] {
            if !matches!(rule.as_list(), Some([pattern, _]) if matches!(pattern.kind, DatumKind::List(..))) {
                bad(self, rule.span, "each rule must be (pattern template)");
            }
        }
    }

    fn do_variables(&mut self, specs: &Datum) {
        let Some(specs) = specs.as_list() else {
            return self.expected(specs.span);
        };
        let mut seen = Vec::new();
        for s in specs {
            match s.as_list() {
                Some(parts) if (2..=3).contains(&parts.len()) && parts[0].as_symbol().is_some() => {
                    let var = parts[0].as_symbol().unwrap();
                    if seen.contains(&var) {
                        self.mistake(s.span, format_args!("duplicate binding of {}", self.name(var)));
                    }
                    seen.push(var);
                }
                _ => self.mistake(s.span, "each variable must be (var init [step])"),
            }
        }
    }

    fn clauses(&mut self, kind: ClauseKind, clauses: &[Datum]) {
        let mut ops = Vec::new();
        let mut returns = false;
        for (i, c) in clauses.iter().enumerate() {
            let last = i + 1 == clauses.len();
            match kind {
                ClauseKind::Cond => self.cond_clause(c, last),
                ClauseKind::Case => self.case_clause(c, last),
                ClauseKind::Handle => self.handle_clause(c, &mut ops, &mut returns),
                ClauseKind::Match => {
                    if c.as_list().is_none_or(|p| p.len() < 2) {
                        self.mistake(c.span, "each clause must be (pattern body…)");
                    }
                }
            }
        }
    }

    fn is_keyword(&self, d: &Datum, keyword: &str) -> bool {
        d.as_symbol().is_some_and(|s| self.names.is_keyword(s, keyword))
    }

    fn cond_clause(&mut self, c: &Datum, last: bool) {
        let Some(parts) = c.as_list().filter(|p| !p.is_empty()) else {
            return self.mistake(c.span, "each clause must be (test expression…)");
        };
        if self.is_keyword(&parts[0], "else") {
            if !last {
                self.mistake(c.span, "else must be the last clause");
            }
        } else if parts.get(1).is_some_and(|p| self.is_keyword(p, "=>")) && parts.len() != 3 {
            self.mistake(c.span, "expected (test => procedure)");
        }
    }

    fn case_clause(&mut self, c: &Datum, last: bool) {
        let Some(parts) = c.as_list().filter(|p| p.len() >= 2) else {
            return self.mistake(c.span, "each clause must be ((datum…) expression…)");
        };
        if self.is_keyword(&parts[0], "else") {
            if !last {
                self.mistake(c.span, "else must be the last clause");
            }
        } else if parts[0].as_list().is_none() {
            self.mistake(parts[0].span, "expected a list of data");
        }
        if self.is_keyword(&parts[1], "=>") && parts.len() != 3 {
            self.mistake(c.span, "expected ((datum…) => procedure)");
        }
    }

    fn handle_clause(&mut self, c: &Datum, ops: &mut Vec<Symbol>, returns: &mut bool) {
        let parts = c.as_list().unwrap_or(&[]);
        let head = parts.first().and_then(Datum::as_symbol).map(|s| self.name(s));
        match head.map(Symbol::as_str) {
            Some("on") => {
                let op = parts.get(1).and_then(Datum::as_symbol).map(|s| self.name(s));
                let Some(op) = op.filter(|_| parts.len() >= 4) else {
                    return self.mistake(c.span, "expected (on op (arg… k) body…)");
                };
                if ops.contains(&op) {
                    return self.mistake(c.span, format_args!("more than one clause for {op}"));
                }
                ops.push(op);
                match &parts[2].kind {
                    DatumKind::Symbol(_) if parts[3].as_symbol().is_none() => {
                        self.mistake(c.span, "expected (on op args k body…)")
                    }
                    DatumKind::Symbol(_) if parts.len() < 5 => {
                        self.mistake(c.span, "empty clause body, expected (on op args k body…)")
                    }
                    DatumKind::Symbol(_) => {}
                    DatumKind::List(ps, None) if !ps.is_empty() && ps.iter().all(|p| p.as_symbol().is_some()) => {
                        self.parameters(ps.iter())
                    }
                    _ => self.mistake(
                        parts[2].span,
                        "expected a parameter list ending with the continuation, e.g. (prompt k)",
                    ),
                }
            }
            Some("return") => {
                let ok = parts.len() >= 3 && matches!(parts[1].as_list(), Some([v]) if v.as_symbol().is_some());
                if !ok {
                    self.mistake(c.span, "expected (return (v) body…)");
                } else if *returns {
                    self.mistake(c.span, "more than one return clause");
                }
                *returns = true;
            }
            _ => self.mistake(c.span, "each clause must be (on op (arg… k) body…) or (return (v) body…)"),
        }
    }

    /// `(define name [value])` or `(define (name . formals) body…)`, curried to any depth.
    fn definition(&mut self, d: &Datum, args: &[Datum]) {
        let Some(target) = args.first() else {
            return self.expected(d.span);
        };
        match &target.kind {
            DatumKind::Symbol(_) if args.len() > 2 => self.expected(d.span),
            DatumKind::Symbol(_) => {}
            DatumKind::List(..) if args.len() < 2 => self.expected(d.span),
            DatumKind::List(..) => {
                // `((f a) b)`: each level is a parameter list, the innermost head the name.
                let mut level = target;
                while let DatumKind::List(head, tail) = &level.kind {
                    let Some(first) = head.first() else {
                        return self.expected(target.span);
                    };
                    self.parameters(head[1..].iter().chain(tail.as_deref()));
                    level = first;
                }
                if level.as_symbol().is_none() {
                    self.expected(target.span);
                }
            }
            _ => self.expected(target.span),
        }
    }

    fn record_type(&mut self, d: &Datum, args: &[Datum]) {
        let [type_name, ctor, pred, fields @ ..] = args else {
            return self.expected(d.span);
        };
        let named = match &type_name.kind {
            DatumKind::Symbol(_) => true,
            DatumKind::List(xs, _) => xs.first().is_some_and(|x| x.as_symbol().is_some()),
            _ => false,
        };
        if !named {
            self.expected(type_name.span);
        }
        // A malformed field spec still declares its name, so that it is one mistake.
        let declared: Vec<Symbol> = fields.iter().filter_map(|f| f.as_list()?.first()?.as_symbol()).collect();
        let mut seen = Vec::new();
        for f in fields {
            match f.as_list() {
                Some(parts) if (2..=3).contains(&parts.len()) && parts.iter().all(|p| p.as_symbol().is_some()) => {
                    let field = parts[0].as_symbol().unwrap();
                    if seen.contains(&field) {
                        self.mistake(f.span, format_args!("duplicate field {}", self.name(field)));
                    }
                    seen.push(field);
                }
                _ => self.expected(f.span),
            }
        }
        match &ctor.kind {
            DatumKind::List(c, None) if !c.is_empty() && c.iter().all(|x| x.as_symbol().is_some()) => {
                if let Some(f) = c[1..].iter().filter_map(Datum::as_symbol).find(|f| !declared.contains(f)) {
                    self.mistake(ctor.span, format_args!("{} is not a field", self.name(f)));
                }
            }
            DatumKind::Symbol(_) | DatumKind::Bool(false) => {}
            _ => self.expected(ctor.span),
        }
        if pred.as_symbol().is_none() {
            self.expected(pred.span);
        }
    }

    /// A quasiquote template at nesting `depth`: `,e` takes one expression, and `,@e` is
    /// only valid as an element of a list or vector.
    fn template(&mut self, t: &Datum, depth: usize) {
        let items: &[Datum] = match &t.kind {
            DatumKind::Vector(items) => items,
            DatumKind::List(items, _) => items,
            _ => return,
        };
        let tail = match &t.kind {
            DatumKind::List(_, tail) => tail.as_deref(),
            _ => None,
        };
        if let DatumKind::List(..) = t.kind {
            let head = items.first().and_then(Datum::as_symbol).map(|s| self.name(s));
            if let Some(head @ ("unquote" | "unquote-splicing" | "quasiquote")) = head.map(Symbol::as_str) {
                let one = items.len() == 2 && tail.is_none();
                let keyword = std::mem::replace(&mut self.keyword, head);
                match head {
                    "unquote-splicing" if depth == 1 => self.mistake(t.span, "not inside a list or vector"),
                    _ if !one => self.mistake(t.span, "expects one argument"),
                    "unquote" if depth == 1 => {}
                    "quasiquote" => self.template(&items[1], depth + 1),
                    _ => self.template(&items[1], depth - 1),
                }
                self.keyword = keyword;
                return;
            }
        }
        let mut end = items.len();
        // `(a . ,b)` reads as `(a unquote b)`: `b` is an expression.
        if tail.is_none()
            && end >= 2
            && depth == 1
            && items[end - 2].as_symbol().is_some_and(|s| self.name(s).as_str() == "unquote")
        {
            end -= 2;
        }
        for item in &items[..end] {
            let splice = item.as_list().is_some_and(|l| {
                l.len() == 2 && l[0].as_symbol().is_some_and(|s| self.name(s).as_str() == "unquote-splicing")
            });
            if !(splice && depth == 1) {
                self.template(item, depth);
            }
        }
        if let Some(tail) = tail {
            self.template(tail, depth);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reader::read;

    /// The messages for the first form of `text`, each with the text it underlines.
    fn mistakes(text: &str) -> Vec<(String, String)> {
        let parsed = read(text);
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        check(&parsed.data[0], &PlainNames).into_iter().map(|m| (m.message, text[m.span.range()].to_string())).collect()
    }

    fn one(text: &str, message: &str, at: &str) {
        assert_eq!(mistakes(text), vec![(message.to_string(), at.to_string())], "{text}");
    }

    #[test]
    fn well_formed_forms_have_no_mistakes() {
        for ok in [
            "(if 1 2)",
            "(if 1 2 3)",
            "(let loop ((i 0)) (loop i))",
            "(let* ((x 1) (x 2)) x)",
            "(define x)",
            "(define ((f a) . b) a)",
            "(cond (1 => car) (2) (else 3))",
            "(case 1 ((1) 2) (else => car))",
            "(handle (f) (on ask (q k) (k 1)) (on tell args k 2) (return (v) v))",
            "(do ((i 0 (+ i 1)) (j 1)) ((= i 3) i) (display i))",
            "(guard (e ((string? e) 1) (else 2)) (raise 1))",
            "(define-record-type point (make-point x) point? (x px) (y py set-y!))",
            "`(1 ,x ,@y (a . ,z) #(,@w) `(,,x))",
            "(define-syntax m (syntax-rules ::: () ((_ a) a)))",
            "(match x ((?a . ?b) a) (_ 0))",
            "(begin)",
        ] {
            assert_eq!(mistakes(ok), vec![], "{ok}");
        }
    }

    #[test]
    fn each_mistake_has_one_message_at_its_part() {
        one("(if)", "if: expected (if test then [else])", "(if)");
        one("(let ((x)) x)", "let: malformed binding, expected (name value)", "(x)");
        one("(let ((x 1) (x 2)) x)", "let: duplicate binding of x", "(x 2)");
        one("(lambda (x 1) x)", "lambda: a parameter must be a name", "1");
        one("(lambda (x x) x)", "lambda: parameter x appears twice", "x");
        one("(cond (else 1) (#t 2))", "cond: else must be the last clause", "(else 1)");
        one("(case 1 (else 2) ((1) 3))", "case: else must be the last clause", "(else 2)");
        one("(handle 1 (on a (k) k) (on a (k) k))", "handle: more than one clause for a", "(on a (k) k)");
        one(
            "(handle 1 (finally 2))",
            "handle: each clause must be (on op (arg… k) body…) or (return (v) body…)",
            "(finally 2)",
        );
        one("(set! 5 1)", "set!: expected a variable name", "5");
        one("(define-syntax m (syntax-rules () (bad)))", "m: each rule must be (pattern template)", "(bad)");
        one("`,@x", "unquote-splicing: not inside a list or vector", ",@x");
        one("(define-record-type p (mk y) p? (x px))", "define-record-type: y is not a field", "(mk y)");
        one("(unquote x)", "unquote: not inside a quasiquote", "(unquote x)");
    }
}
