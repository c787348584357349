//! Calls: applying abstract procedures, serialized calls, closures, and the memo of replayable calls.

use super::*;

impl<'a> Runner<'a> {
    pub(super) fn apply(&mut self, f: &AVal<'a>, args: Vec<AVal<'a>>, call: &CallInfo, ctx: &Ctx<'a>) -> AVal<'a> {
        let sers = f.vals.iter().filter(|v| matches!(v, V::SProc(_) | V::Ser(_))).count();
        let mut out = AVal::default();
        for v in &f.vals {
            let r = self.apply_one(v, f, &args, call, ctx, sers > 1);
            out.join(r);
        }
        out.or_unknown()
    }

    pub(super) fn apply_one(
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

    pub(super) fn serialize(
        &mut self,
        lock: LockId,
        f: &AVal<'a>,
        p: &AVal<'a>,
        call: &CallInfo,
        definite: bool,
    ) -> AVal<'a> {
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

    pub(super) fn call_sproc(
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

    pub(super) fn enter_closure(
        &mut self,
        c: &Rc<Closure<'a>>,
        args: Vec<AVal<'a>>,
        call: &CallInfo,
        ctx: &Ctx<'a>,
    ) -> AVal<'a> {
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
    pub(super) fn call_closure(
        &mut self,
        c: &Rc<Closure<'a>>,
        args: Vec<AVal<'a>>,
        call: &CallInfo,
        ctx: &Ctx<'a>,
    ) -> AVal<'a> {
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
    pub(super) fn arg_locks(&self, ctx: &Ctx<'a>, c: &Closure<'a>) -> Vec<LockId> {
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
}

/// The memo key of a call: callee (lambda and environment), arguments, and the context
/// parts that events record (held set, facts, task, joined locks, latent). The trace is left
/// out on purpose: a replay differs only in the call path, and one path is enough.
pub(super) fn memo_key<'a>(c: &Rc<Closure<'a>>, args: &[AVal<'a>], ctx: &Ctx<'a>) -> u64 {
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

pub(super) fn hash_aval<H: std::hash::Hasher>(a: &AVal<'_>, h: &mut H, depth: u32) {
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
pub(super) fn made_after(t: &Term, first_id: u32) -> bool {
    match t {
        Term::Var(id, _) => *id > first_id,
        Term::Acc(_, inner) => made_after(inner, first_id),
        Term::Lit(_) | Term::Global(..) => false,
    }
}

/// A result that a replay may hand out again: no procedure (its frame belongs to one call)
/// and no data whose key terms were made inside the call.
pub(super) fn plain_result(v: &AVal<'_>, first_id: u32, depth: u32) -> bool {
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
