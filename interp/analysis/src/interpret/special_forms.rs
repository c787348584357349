//! The special forms, abstractly: bindings, conditionals, `quasiquote`, `let`-family forms.

use super::*;

impl<'a> Runner<'a> {
    pub(super) fn special(&mut self, form: &'static str, d: &'a Datum, items: &'a [Datum], ctx: &Ctx<'a>) -> AVal<'a> {
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

    pub(super) fn bind_pattern(&mut self, frame: &Env<'a>, p: &Datum) {
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

    pub(super) fn quasi(&mut self, t: &'a Datum, depth: u32, ctx: &Ctx<'a>) {
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

    pub(super) fn cond(&mut self, clauses: &'a [Datum], ctx: &Ctx<'a>) -> AVal<'a> {
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

    pub(super) fn clause_body(&mut self, rest: &'a [Datum], test: AVal<'a>, ctx: &Ctx<'a>) -> AVal<'a> {
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
    pub(super) fn test(&mut self, test: &'a Datum, ctx: &Ctx<'a>) -> (AVal<'a>, Vec<Fact>, Vec<Fact>) {
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

    pub(super) fn is_builtin(&self, d: &Datum) -> bool {
        self.res.reference(d.span).is_some_and(|id| self.res.binding(id).kind == BindingKind::Builtin)
    }

    pub(super) fn is_prim(&self, d: &Datum, name: &str) -> bool {
        d.is_symbol(name) && self.is_builtin(d)
    }

    pub(super) fn branch(
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

    pub(super) fn let_form(&mut self, form: &str, d: &'a Datum, args: &'a [Datum], ctx: &Ctx<'a>) -> AVal<'a> {
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
}
