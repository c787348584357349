//! Derived forms, rewritten into the core ones: the `let` family, `cond`, `case`, `do`, `handle`,
//! `guard`, records, `quasiquote` and `match`.

use super::*;

impl Expander<'_> {
    pub(super) fn let_parts<'d>(&self, items: &'d [Datum], span: Span) -> Res<(Vec<Datum>, &'d [Datum])> {
        let kw = self.env.strip(items[0].as_symbol().unwrap());
        let bindings =
            items.get(1).and_then(Datum::as_list).filter(|_| items.len() >= 3).ok_or_else(|| malformed(kw, span))?;
        if !bindings.iter().all(|b| binding_parts(b).is_some()) {
            return Err(malformed(kw, span));
        }
        Ok((bindings.to_vec(), &items[2..]))
    }

    /// `let`, `letrec` and `letrec*` bind each name once (`let*` may repeat one).
    pub(super) fn distinct_names(&self, keyword: &Datum, bindings: &[Datum]) -> Res<()> {
        let kw = keyword.as_symbol().map_or(Symbol::intern("let"), |k| self.env.strip(k));
        let mut seen = Vec::new();
        for b in bindings {
            let (name, _) = binding_parts(b).unwrap();
            if seen.contains(&name) {
                return Err(malformed(kw, b.span));
            }
            seen.push(name);
        }
        Ok(())
    }

    pub(super) fn let_form(&mut self, items: &[Datum], span: Span) -> Res<Node> {
        if let Some(loop_name) = items.get(1).and_then(Datum::as_symbol) {
            return self.named_let(loop_name, &items[1..], span);
        }
        let (bindings, body) = self.let_parts(items, span)?;
        self.distinct_names(&items[0], &bindings)?;
        let mut inits = Vec::new();
        for b in &bindings {
            let (name, init) = binding_parts(b).unwrap();
            inits.push((name, self.expand_named(init, Some(name))?));
        }
        self.push_rib();
        let mut binds = Vec::new();
        for (name, init) in inits {
            let v = self.new_var(name, false);
            self.bind(name, Meaning::Var(v));
            binds.push((v, init));
        }
        let body = self.body(body, span);
        self.pop_rib();
        Ok(Node::new(Expr::Let(binds, Box::new(body?)), span))
    }

    /// `(let name ((v init) …) body…)`: a loop procedure bound only inside the body.
    pub(super) fn named_let(&mut self, name: Symbol, items: &[Datum], span: Span) -> Res<Node> {
        let bindings = items
            .get(1)
            .and_then(Datum::as_list)
            .filter(|_| items.len() >= 3)
            .ok_or_else(|| malformed(Symbol::intern("let"), span))?;
        let mut params = Vec::new();
        let mut inits = Vec::new();
        for b in bindings {
            let (v, init) = binding_parts(b).ok_or_else(|| malformed(Symbol::intern("let"), b.span))?;
            params.push(Datum::new(DatumKind::Symbol(v), b.span));
            inits.push(self.expand(init)?);
        }
        self.push_rib();
        let var = self.new_var(name, true);
        self.bind(name, Meaning::Var(var));
        let formals = list(params, span);
        let lambda = self.lambda(&formals, &items[2..], Some(name), span);
        self.pop_rib();
        let lambda = lambda?;
        let f = self.var_ref(var);
        let call = Node::new(Expr::Call(Box::new(Node::new(f, span)), inits), span);
        let init = Node::new(Expr::Init(var, Box::new(lambda)), span);
        Ok(Node::new(Expr::Letrec(vec![var], Box::new(seq(vec![init, call], span))), span))
    }

    pub(super) fn cond(&mut self, clauses: &[Datum], span: Span) -> Res<Node> {
        let Some((first, rest)) = clauses.split_first() else {
            return Ok(Node::unspecified(span));
        };
        let cond = Symbol::intern("cond");
        let parts = first.as_list().filter(|p| !p.is_empty()).ok_or_else(|| malformed(cond, first.span))?;
        if self.is_aux(&parts[0], "else") {
            if !rest.is_empty() {
                return Err(malformed(cond, first.span));
            }
            let body = parts[1..].iter().map(|i| self.expand(i)).collect::<Res<Vec<_>>>()?;
            return Ok(seq(body, first.span));
        }
        let test = self.expand(&parts[0])?;
        let otherwise = self.cond(rest, span)?;
        let arrow = parts.get(1).is_some_and(|p| self.is_aux(p, "=>"));
        if parts.len() == 1 || arrow {
            if arrow && parts.len() != 3 {
                return Err(malformed(cond, first.span));
            }
            let t = self.new_var(Symbol::intern("cond"), false);
            let r = self.var_ref(t);
            let then = if arrow {
                let f = self.expand(&parts[2])?;
                Node::new(Expr::Call(Box::new(f), vec![Node::new(r, first.span)]), first.span)
            } else {
                Node::new(r, first.span)
            };
            let r2 = self.var_ref(t);
            let body = Node::new(
                Expr::If(Box::new(Node::new(r2, first.span)), Box::new(then), Box::new(otherwise)),
                first.span,
            );
            return Ok(Node::new(Expr::Let(vec![(t, test)], Box::new(body)), first.span));
        }
        let body = parts[1..].iter().map(|i| self.expand(i)).collect::<Res<Vec<_>>>()?;
        Ok(Node::new(Expr::If(Box::new(test), Box::new(seq(body, first.span)), Box::new(otherwise)), first.span))
    }

    pub(super) fn case(&mut self, items: &[Datum], span: Span) -> Res<Node> {
        let case = Symbol::intern("case");
        if items.len() < 2 {
            return Err(malformed(case, span));
        }
        let key = self.temp("key", span);
        let mut clauses = Vec::new();
        for c in &items[2..] {
            let parts = c.as_list().filter(|p| p.len() >= 2).ok_or_else(|| malformed(case, c.span))?;
            let is_else = self.is_aux(&parts[0], "else");
            let test = if is_else {
                self.core("else", c.span)
            } else {
                let data = parts[0].as_list().ok_or_else(|| malformed(case, parts[0].span))?;
                let quoted = list(vec![self.core("quote", c.span), list(data.to_vec(), parts[0].span)], c.span);
                list(vec![builtin("memv", c.span), key.clone(), quoted], c.span)
            };
            let mut clause = vec![test];
            if self.is_aux(&parts[1], "=>") {
                let f = parts.get(2).ok_or_else(|| malformed(case, c.span))?;
                clause.push(list(vec![f.clone(), key.clone()], c.span));
            } else {
                clause.extend(parts[1..].iter().cloned());
            }
            clauses.push(list(clause, c.span));
        }
        let mut cond = vec![self.core("cond", span)];
        cond.extend(clauses);
        let binding = list(vec![key.clone(), items[1].clone()], span);
        let form = list(vec![self.core("let", span), list(vec![binding], span), list(cond, span)], span);
        self.expand(&form)
    }

    pub(super) fn do_loop(&mut self, items: &[Datum], span: Span) -> Res<Node> {
        let bad = || malformed(Symbol::intern("do"), span);
        let specs = items.get(1).and_then(Datum::as_list).ok_or_else(bad)?;
        let exit = items.get(2).and_then(Datum::as_list).filter(|e| !e.is_empty()).ok_or_else(bad)?;
        let lp = self.temp("do-loop", span);
        let mut bindings = Vec::new();
        let mut steps = Vec::new();
        for s in specs {
            let parts =
                s.as_list().filter(|p| (2..=3).contains(&p.len()) && p[0].as_symbol().is_some()).ok_or_else(bad)?;
            bindings.push(list(vec![parts[0].clone(), parts[1].clone()], s.span));
            steps.push(parts.get(2).unwrap_or(&parts[0]).clone());
        }
        let mut again = vec![lp.clone()];
        again.extend(steps);
        let mut body = vec![self.core("begin", span)];
        body.extend(items[3..].iter().cloned());
        body.push(list(again, span));
        let mut result = vec![self.core("begin", span)];
        result.extend(exit[1..].iter().cloned());
        if exit.len() == 1 {
            let no = Datum::new(DatumKind::Bool(false), span);
            result.push(list(vec![self.core("if", span), no.clone(), no], span));
        }
        let test = list(vec![self.core("if", span), exit[0].clone(), list(result, span), list(body, span)], span);
        let form = list(vec![self.core("let", span), lp, list(bindings, span), test], span);
        self.expand(&form)
    }

    pub(super) fn handle(&mut self, items: &[Datum], span: Span) -> Res<Node> {
        let bad = |s: Span| malformed(Symbol::intern("handle"), s);
        let body_expr = items.get(1).ok_or_else(|| bad(span))?;
        let body = self.thunk(body_expr, body_expr.span)?;
        let mut clauses: Vec<(Symbol, bool, Node)> = Vec::new();
        let mut ret = None;
        for c in &items[2..] {
            let parts = c.as_list().ok_or_else(|| bad(c.span))?;
            match parts.first().and_then(Datum::as_symbol).map(|s| self.env.strip(s)).as_ref().map(|s| s.as_str()) {
                Some("on") => {
                    let op = parts.get(1).and_then(Datum::as_symbol).ok_or_else(|| bad(c.span))?;
                    let op = self.env.strip(op);
                    if parts.len() < 4 {
                        return Err(bad(c.span));
                    }
                    if clauses.iter().any(|(o, _, _)| *o == op) {
                        return Err(bad(c.span));
                    }
                    // (on op args k body…) binds the argument list to `args`.
                    let (formals, body) = match parts[2].as_symbol() {
                        Some(args) => {
                            let k = parts[3].as_symbol().ok_or_else(|| bad(c.span))?;
                            if parts.len() < 5 {
                                return Err(bad(c.span));
                            }
                            let formals = list(
                                vec![
                                    Datum::new(DatumKind::Symbol(args), parts[2].span),
                                    Datum::new(DatumKind::Symbol(k), parts[3].span),
                                ],
                                c.span,
                            );
                            (formals, &parts[4..])
                        }
                        None => {
                            let ok = parts[2]
                                .as_list()
                                .is_some_and(|f| !f.is_empty() && f.iter().all(|x| x.as_symbol().is_some()));
                            if !ok {
                                return Err(bad(parts[2].span));
                            }
                            (parts[2].clone(), &parts[3..])
                        }
                    };
                    let lambda = self.lambda(&formals, body, Some(op), c.span)?;
                    let list_form = parts[2].as_symbol().is_some();
                    clauses.push((op, list_form, lambda));
                }
                Some("return") => {
                    let ok = parts.len() >= 3 && parts[1].as_list().is_some_and(|f| f.len() == 1);
                    if !ok || ret.is_some() {
                        return Err(bad(c.span));
                    }
                    ret = Some(Box::new(self.lambda(&parts[1], &parts[2..], None, c.span)?));
                }
                _ => return Err(bad(c.span)),
            }
        }
        Ok(Node::new(Expr::Handle { body: Box::new(body), clauses, ret }, span))
    }

    pub(super) fn guard(&mut self, items: &[Datum], span: Span) -> Res<Node> {
        let bad = || malformed(Symbol::intern("guard"), span);
        let spec = items.get(1).and_then(Datum::as_list).filter(|s| !s.is_empty()).ok_or_else(bad)?;
        if items.len() < 3 {
            return Err(bad());
        }
        let var = spec[0].clone();
        var.as_symbol().ok_or_else(bad)?;
        let mut clauses = spec[1..].to_vec();
        let has_else =
            clauses.last().and_then(Datum::as_list).and_then(|c| c.first()).is_some_and(|h| self.is_aux(h, "else"));
        if !has_else {
            let reraise = list(vec![builtin("raise-again", span), var.clone()], span);
            clauses.push(list(vec![self.core("else", span), reraise], span));
        }
        let mut cond = vec![self.core("cond", span)];
        cond.extend(clauses);
        let handler_body = list(cond, span);
        let formals = list(vec![var], span);
        let handler = self.lambda(&formals, &[handler_body], None, span)?;
        let mut body = vec![self.core("begin", span)];
        body.extend(items[2..].iter().cloned());
        let body = list(body, span);
        let body = self.thunk(&body, span)?;
        Ok(Node::new(Expr::Guard { body: Box::new(body), handler: Box::new(handler) }, span))
    }

    /// `(define-record-type name (ctor field…) pred (field accessor [modifier])…)` as
    /// (name, value) definitions. The descriptor lists the constructor's fields first, so
    /// the constructor fills a record from its arguments in order and pads the rest.
    pub(super) fn record_type(&mut self, items: &[Datum], span: Span) -> Res<Vec<(Symbol, Value, Span)>> {
        let bad = || malformed(Symbol::intern("define-record-type"), span);
        if items.len() < 4 {
            return Err(bad());
        }
        let type_name = match &items[1].kind {
            DatumKind::Symbol(s) => *s,
            DatumKind::List(xs, _) => xs.first().and_then(Datum::as_symbol).ok_or_else(bad)?,
            _ => return Err(bad()),
        };
        let mut specs = Vec::new();
        for f in &items[4..] {
            let parts = f.as_list().filter(|p| (2..=3).contains(&p.len())).ok_or_else(bad)?;
            let names = parts.iter().map(Datum::as_symbol).collect::<Option<Vec<_>>>().ok_or_else(bad)?;
            specs.push((names, f.span));
        }
        let declared: Vec<Symbol> = specs.iter().map(|(n, _)| n[0]).collect();
        for (i, (names, s)) in specs.iter().enumerate() {
            if declared[..i].contains(&names[0]) {
                return Err(malformed(Symbol::intern("define-record-type"), *s));
            }
        }
        let (ctor, ctor_fields) = match &items[2].kind {
            DatumKind::List(c, None) if !c.is_empty() => {
                let name = c[0].as_symbol().ok_or_else(bad)?;
                let fields = c[1..].iter().map(Datum::as_symbol).collect::<Option<Vec<_>>>().ok_or_else(bad)?;
                if fields.iter().any(|f| !declared.contains(f)) {
                    return Err(malformed(Symbol::intern("define-record-type"), items[2].span));
                }
                (Some(name), fields)
            }
            DatumKind::Symbol(name) => (Some(*name), declared.clone()),
            DatumKind::Bool(false) => (None, Vec::new()),
            _ => return Err(bad()),
        };
        let mut fields = ctor_fields.clone();
        fields.extend(declared.iter().filter(|f| !ctor_fields.contains(f)));
        let strip = |s: Symbol| self.env.strip(s);
        let rtd = Rc::new(RecordType { name: strip(type_name), fields: fields.iter().map(|f| strip(*f)).collect() });
        let proc = |kind, name: Symbol| Value::object(Object::RecordProc { rtd: rtd.clone(), kind, name: strip(name) });
        let mut defs = vec![(type_name, Value::object(Object::RecordType(rtd.clone())), items[1].span)];
        if let Some(c) = ctor {
            defs.push((c, proc(RecordProcKind::Constructor(ctor_fields.len()), c), items[2].span));
        }
        let pred = items[3].as_symbol().ok_or_else(bad)?;
        defs.push((pred, proc(RecordProcKind::Predicate, pred), items[3].span));
        for (names, s) in specs {
            let i = fields.iter().position(|f| *f == names[0]).unwrap();
            defs.push((names[1], proc(RecordProcKind::Accessor(i), names[1]), s));
            if let Some(m) = names.get(2) {
                defs.push((*m, proc(RecordProcKind::Modifier(i), *m), s));
            }
        }
        Ok(defs)
    }

    // ----- quasiquote -----

    /// Rewrites a quasiquote template into calls of `#%cons`, `#%append` … at `depth`.
    pub(super) fn quasi(&mut self, t: &Datum, depth: usize) -> Res<Datum> {
        let span = t.span;
        let quoted = |this: &mut Self, d: &Datum| list(vec![this.core("quote", span), d.clone()], span);
        match &t.kind {
            DatumKind::List(items, tail) => {
                if let Some(head) = items.first().and_then(Datum::as_symbol).map(|s| self.env.strip(s)) {
                    let arg = |this: &mut Self, d: usize| -> Res<Datum> {
                        match (items.len(), tail) {
                            (2, None) => this.quasi(&items[1], d),
                            _ => Err(malformed(head, span)),
                        }
                    };
                    match head.as_str() {
                        "unquote" if depth == 1 => {
                            return match (items.len(), tail) {
                                (2, None) => Ok(items[1].clone()),
                                _ => Err(malformed(head, span)),
                            }
                        }
                        "unquote-splicing" if depth == 1 => {
                            return Err(malformed(head, span));
                        }
                        "unquote" | "unquote-splicing" if depth > 1 => {
                            let inner = arg(self, depth - 1)?;
                            let sym = quoted(self, &Datum::new(DatumKind::Symbol(head), span));
                            return Ok(list(vec![builtin("list", span), sym, inner], span));
                        }
                        "quasiquote" => {
                            let inner = arg(self, depth + 1)?;
                            let sym = quoted(self, &Datum::new(DatumKind::Symbol(head), span));
                            return Ok(list(vec![builtin("list", span), sym, inner], span));
                        }
                        _ => {}
                    }
                }
                let mut result = match tail {
                    Some(t) => self.quasi(t, depth)?,
                    None => quoted(self, &Datum::new(DatumKind::List(vec![], None), span)),
                };
                let mut end = items.len();
                // `(a . ,b)` reads as `(a unquote b)`.
                if tail.is_none()
                    && end >= 2
                    && items[end - 2].as_symbol().is_some_and(|s| self.env.strip(s).as_str() == "unquote")
                    && depth == 1
                {
                    result = items[end - 1].clone();
                    end -= 2;
                }
                for item in items[..end].iter().rev() {
                    let splice = item.as_list().filter(|l| {
                        l.len() == 2
                            && l[0].as_symbol().is_some_and(|s| self.env.strip(s).as_str() == "unquote-splicing")
                    });
                    result = match splice {
                        Some(l) if depth == 1 => list(vec![builtin("append", span), l[1].clone(), result], span),
                        _ => {
                            let x = self.quasi(item, depth)?;
                            list(vec![builtin("cons", span), x, result], span)
                        }
                    };
                }
                Ok(result)
            }
            DatumKind::Vector(items) => {
                let as_list = self.quasi(&Datum::new(DatumKind::List(items.clone(), None), span), depth)?;
                Ok(list(vec![builtin("list->vector", span), as_list], span))
            }
            DatumKind::Symbol(_) => Ok(quoted(self, t)),
            _ => Ok(t.clone()),
        }
    }

    // ----- match -----

    pub(super) fn match_form(&mut self, items: &[Datum], span: Span) -> Res<Datum> {
        if items.len() < 2 {
            return Err(malformed(Symbol::intern("match"), span));
        }
        let v = self.temp("match-value", span);
        let mut result = list(vec![builtin("match-failed", span), v.clone()], span);
        for clause in items[2..].iter().rev() {
            let parts = clause
                .as_list()
                .filter(|p| p.len() >= 2)
                .ok_or_else(|| malformed(Symbol::intern("match"), clause.span))?;
            let fail = self.temp("match-fail", clause.span);
            // A body, so it may start with definitions (P8).
            let mut body = vec![self.core("let", clause.span), list(vec![], clause.span)];
            body.extend(parts[1..].iter().cloned());
            let success = list(body, clause.span);
            let fail_call = list(vec![fail.clone()], clause.span);
            let mut bound = Vec::new();
            let test = if self.is_aux(&parts[0], "else") {
                success
            } else {
                self.pattern(&parts[0], &v, success, &fail_call, &mut bound)?
            };
            let thunk = list(vec![self.core("lambda", clause.span), list(vec![], clause.span), result], clause.span);
            let binding = list(vec![fail, thunk], clause.span);
            result = list(vec![self.core("let", clause.span), list(vec![binding], clause.span), test], clause.span);
        }
        let binding = list(vec![v, items[1].clone()], span);
        Ok(list(vec![self.core("let", span), list(vec![binding], span), result], span))
    }

    /// Code that tests `v` (a variable) against `pat` and evaluates `ok` with the pattern's
    /// variables bound, or `fail`.
    pub(super) fn pattern(
        &mut self,
        pat: &Datum,
        v: &Datum,
        ok: Datum,
        fail: &Datum,
        bound: &mut Vec<Symbol>,
    ) -> Res<Datum> {
        let span = pat.span;
        let iff =
            |this: &mut Self, test: Datum, ok: Datum| list(vec![this.core("if", span), test, ok, fail.clone()], span);
        let quote = |this: &mut Self, d: Datum| list(vec![this.core("quote", span), d], span);
        Ok(match &pat.kind {
            DatumKind::Symbol(s) if s.as_str() == "_" => ok,
            DatumKind::Symbol(s) if s.as_str().starts_with('?') && s.as_str().len() > 1 => {
                let name = Datum::new(DatumKind::Symbol(Symbol::intern(&s.as_str()[1..])), span);
                let sym = name.as_symbol().unwrap();
                if bound.contains(&sym) {
                    let test = list(vec![builtin("equal?", span), name, v.clone()], span);
                    iff(self, test, ok)
                } else {
                    bound.push(sym);
                    let binding = list(vec![name, v.clone()], span);
                    list(vec![self.core("let", span), list(vec![binding], span), ok], span)
                }
            }
            DatumKind::Symbol(_) => {
                let q = quote(self, pat.clone());
                let test = list(vec![builtin("match-symbol?", span), v.clone(), q], span);
                iff(self, test, ok)
            }
            DatumKind::List(items, None)
                if items.len() == 2 && items[0].as_symbol().is_some_and(|s| self.env.strip(s).as_str() == "quote") =>
            {
                let test = list(vec![builtin("equal?", span), v.clone(), pat.clone()], span);
                iff(self, test, ok)
            }
            DatumKind::List(items, tail) => self.list_pattern(items, tail.as_deref(), v, ok, fail, bound)?,
            DatumKind::Vector(items) => {
                let as_list = self.temp("vector-items", span);
                let list_pat = Datum::new(DatumKind::List(items.clone(), None), span);
                let inner = self.pattern(&list_pat, &as_list, ok, fail, bound)?;
                let conv = list(vec![builtin("vector->list", span), v.clone()], span);
                let binding = list(vec![as_list, conv], span);
                let body = list(vec![self.core("let", span), list(vec![binding], span), inner], span);
                let test = list(vec![builtin("vector?", span), v.clone()], span);
                iff(self, test, body)
            }
            _ => {
                let q = quote(self, pat.clone());
                let test = list(vec![builtin("equal?", span), v.clone(), q], span);
                iff(self, test, ok)
            }
        })
    }

    /// Tests a list pattern `(p1 … pn . tail)` element by element; variables bound by
    /// earlier elements are visible (and compared with `equal?`) in later ones.
    pub(super) fn list_pattern(
        &mut self,
        items: &[Datum],
        tail: Option<&Datum>,
        v: &Datum,
        ok: Datum,
        fail: &Datum,
        bound: &mut Vec<Symbol>,
    ) -> Res<Datum> {
        let span = v.span;
        let Some((first, rest)) = items.split_first() else {
            return match tail {
                Some(t) => self.pattern(t, v, ok, fail, bound),
                None => {
                    let test = list(vec![builtin("null?", span), v.clone()], span);
                    Ok(list(vec![self.core("if", span), test, ok, fail.clone()], span))
                }
            };
        };
        let car = self.temp("car", first.span);
        let cdr = self.temp("cdr", first.span);
        let mut inner_bound = bound.clone();
        collect_pattern_vars(first, &mut inner_bound);
        let inner = self.list_pattern(rest, tail, &cdr, ok, fail, &mut inner_bound)?;
        let elem = self.pattern(first, &car, inner, fail, &mut bound.clone())?;
        *bound = inner_bound;
        let get_car = list(vec![builtin("car", span), v.clone()], span);
        let get_cdr = list(vec![builtin("cdr", span), v.clone()], span);
        let bindings = list(vec![list(vec![car, get_car], span), list(vec![cdr, get_cdr], span)], span);
        let body = list(vec![self.core("let*", span), bindings, elem], span);
        let test = list(vec![builtin("pair?", span), v.clone()], span);
        Ok(list(vec![self.core("if", span), test, body, fail.clone()], span))
    }
}
