//! Built-in procedures, abstractly: what each does to values, shared state and serializers; the
//! higher-order ones calling back; the tasks that `parallel` and `parallel-map` start.

use super::*;

impl<'a> Runner<'a> {
    pub(super) fn prim(&mut self, name: Symbol, args: &[AVal<'a>], call: &CallInfo, ctx: &Ctx<'a>) -> AVal<'a> {
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

    pub(super) fn lookup_in(&mut self, coll: &AVal<'a>, key: Option<Term>) -> AVal<'a> {
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
    pub(super) fn elements(&self, list: &AVal<'a>) -> AVal<'a> {
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

    pub(super) fn higher_order(&mut self, n: &str, args: &[AVal<'a>], call: &CallInfo, ctx: &Ctx<'a>) -> AVal<'a> {
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

    pub(super) fn spawn_ctx(&self, ctx: &Ctx<'a>, site: u32, branch: Branch, head: Span) -> Ctx<'a> {
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

    pub(super) fn parallel(&mut self, items: &'a [Datum], ctx: &Ctx<'a>) -> AVal<'a> {
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

    pub(super) fn parallel_map(&mut self, args: &[AVal<'a>], call: &CallInfo, ctx: &Ctx<'a>) -> AVal<'a> {
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
}
