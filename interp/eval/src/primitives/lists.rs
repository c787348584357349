//! Pairs and lists (docs/reference.md, Pairs and lists). Every walk is a loop, and walks that could
//! go round a cyclic list forever stop with a type error instead.

use std::collections::HashSet;
use std::rc::Rc;

use super::{build_list, index_error, int_arg, length_arg, list_arg, prim, reserve_list, unspecified, Ctx};
use crate::equality::{equal, eqv};
use crate::error::Error;
use crate::numbers::{self, Num};
use crate::value::{Key, Pair, Primitive, Value};

pub const PRIMITIVES: &[Primitive] = &[
    prim("cons", 2, Some(2), cons),
    prim("car", 1, Some(1), car),
    prim("cdr", 1, Some(1), cdr),
    prim("caar", 1, Some(1), caar),
    prim("cadr", 1, Some(1), cadr),
    prim("cdar", 1, Some(1), cdar),
    prim("cddr", 1, Some(1), cddr),
    prim("caddr", 1, Some(1), caddr),
    prim("cdddr", 1, Some(1), cdddr),
    prim("cadddr", 1, Some(1), cadddr),
    prim("list", 0, None, list),
    prim("length", 1, Some(1), length),
    prim("append", 0, None, append),
    prim("reverse", 1, Some(1), reverse),
    prim("list-ref", 2, Some(2), list_ref),
    prim("list-tail", 2, Some(2), list_tail),
    prim("last-pair", 1, Some(1), last_pair),
    prim("list-copy", 1, Some(1), list_copy),
    prim("memq", 2, Some(2), memq),
    prim("memv", 2, Some(2), memv),
    prim("%member", 2, Some(2), member),
    prim("assq", 2, Some(2), assq),
    prim("assv", 2, Some(2), assv),
    prim("%assoc", 2, Some(2), assoc),
    prim("set-car!", 2, Some(2), set_car),
    prim("set-cdr!", 2, Some(2), set_cdr),
    prim("iota", 1, Some(3), iota),
    prim("last", 1, Some(1), last),
    prim("delete", 2, Some(2), delete),
    prim("delete-duplicates", 1, Some(1), delete_duplicates),
];

type R = Result<Value, Error>;

/// The pairs of a list, front to back, stopping at the first non-pair or when the list
/// turns out to be cyclic (Brent's algorithm).
struct Walk {
    cur: Value,
    mark: Option<Rc<Pair>>,
    power: usize,
    steps: usize,
    cyclic: bool,
}

fn walk(v: &Value) -> Walk {
    Walk { cur: v.clone(), mark: None, power: 1, steps: 0, cyclic: false }
}

impl Walk {
    /// Once the walk found the list cyclic: the cycle's length. `cur` is back at the mark,
    /// and `steps` counts the pairs walked after it.
    fn cycle_length(&self) -> Option<usize> {
        self.cyclic.then_some(self.steps + 1)
    }
}

impl Iterator for Walk {
    type Item = Rc<Pair>;

    fn next(&mut self) -> Option<Rc<Pair>> {
        let Value::Pair(p) = &self.cur else { return None };
        let p = p.clone();
        if self.mark.as_ref().is_some_and(|m| Rc::ptr_eq(m, &p)) {
            self.cyclic = true;
            return None;
        }
        self.steps += 1;
        if self.steps == self.power {
            self.mark = Some(p.clone());
            self.power *= 2;
            self.steps = 0;
        }
        self.cur = p.cdr();
        Some(p)
    }
}

fn pair_arg<'a>(name: &str, v: &'a Value) -> Result<&'a Rc<Pair>, Error> {
    match v {
        Value::Pair(p) => Ok(p),
        _ => Err(Error::wrong_type(name, "pair", v)),
    }
}

/// A list argument that is only walked: a pair or `()`.
fn list_start(name: &str, v: &Value) -> Result<(), Error> {
    match v {
        Value::Pair(_) | Value::Null => Ok(()),
        _ => Err(Error::wrong_type(name, "list", v)),
    }
}

fn cons(_: &mut Ctx, args: &[Value]) -> R {
    Ok(Value::cons(args[0].clone(), args[1].clone()))
}

/// `c[ad]+r`: `path` is the letters between `c` and `r`, applied right to left. An error
/// names the value where the walk failed.
fn cxr(name: &str, path: &str, v: &Value) -> R {
    let mut cur = v.clone();
    for step in path.bytes().rev() {
        let p = pair_arg(name, &cur)?;
        cur = if step == b'a' { p.car() } else { p.cdr() };
    }
    Ok(cur)
}

fn car(_: &mut Ctx, args: &[Value]) -> R {
    cxr("car", "a", &args[0])
}

fn cdr(_: &mut Ctx, args: &[Value]) -> R {
    cxr("cdr", "d", &args[0])
}

fn caar(_: &mut Ctx, args: &[Value]) -> R {
    cxr("caar", "aa", &args[0])
}

fn cadr(_: &mut Ctx, args: &[Value]) -> R {
    cxr("cadr", "ad", &args[0])
}

fn cdar(_: &mut Ctx, args: &[Value]) -> R {
    cxr("cdar", "da", &args[0])
}

fn cddr(_: &mut Ctx, args: &[Value]) -> R {
    cxr("cddr", "dd", &args[0])
}

fn caddr(_: &mut Ctx, args: &[Value]) -> R {
    cxr("caddr", "add", &args[0])
}

fn cdddr(_: &mut Ctx, args: &[Value]) -> R {
    cxr("cdddr", "ddd", &args[0])
}

fn cadddr(_: &mut Ctx, args: &[Value]) -> R {
    cxr("cadddr", "addd", &args[0])
}

fn list(_: &mut Ctx, args: &[Value]) -> R {
    Ok(Value::list(args.to_vec()))
}

fn length(_: &mut Ctx, args: &[Value]) -> R {
    let mut w = walk(&args[0]);
    let n = w.by_ref().count();
    if w.cyclic || !w.cur.is_null() {
        return Err(Error::wrong_type("length", "list", &args[0]));
    }
    Ok(Value::Int(n as i64))
}

fn append(ctx: &mut Ctx, args: &[Value]) -> R {
    let Some((last, init)) = args.split_last() else { return Ok(Value::Null) };
    let mut items = Vec::new();
    for a in init {
        let more = list_arg("append", a)?;
        reserve_list(ctx, items.len() + more.len())?;
        items.extend(more);
    }
    build_list(ctx, items, last.clone())
}

fn reverse(ctx: &mut Ctx, args: &[Value]) -> R {
    let items = list_arg("reverse", &args[0])?;
    reserve_list(ctx, items.len())?;
    let mut reversed = Value::Null;
    for item in items {
        ctx.budget.progress(1)?;
        reversed = Value::cons(item, reversed);
    }
    Ok(reversed)
}

/// The list after `k` cdrs. On a cyclic list the cdrs past the first lap are counted
/// modulo the cycle's length, so a huge `k` costs no more than walking the list once.
fn nth_tail(name: &str, lst: &Value, k: &Value) -> R {
    list_start(name, lst)?;
    let k = int_arg(name, k)?;
    if k < 0 {
        return Err(index_error(name, k));
    }
    let mut left = k as u64;
    let mut w = walk(lst);
    while left > 0 && w.next().is_some() {
        left -= 1;
    }
    if let Some(cycle) = w.cycle_length() {
        left %= cycle as u64;
    }
    let mut cur = w.cur;
    for _ in 0..left {
        match cur {
            Value::Pair(p) => cur = p.cdr(),
            _ => return Err(index_error(name, k)),
        }
    }
    Ok(cur)
}

fn list_ref(_: &mut Ctx, args: &[Value]) -> R {
    match nth_tail("list-ref", &args[0], &args[1])? {
        Value::Pair(p) => Ok(p.car()),
        _ => Err(index_error("list-ref", int_arg("list-ref", &args[1])?)),
    }
}

fn list_tail(_: &mut Ctx, args: &[Value]) -> R {
    nth_tail("list-tail", &args[0], &args[1])
}

/// The last pair of a non-empty list (its tail may be improper).
fn final_pair(name: &str, v: &Value) -> Result<Rc<Pair>, Error> {
    pair_arg(name, v)?;
    let mut w = walk(v);
    let last = w.by_ref().last();
    match last {
        Some(p) if !w.cyclic => Ok(p),
        _ => Err(Error::wrong_type(name, "list", v)),
    }
}

fn last_pair(_: &mut Ctx, args: &[Value]) -> R {
    Ok(Value::Pair(final_pair("last-pair", &args[0])?))
}

fn last(_: &mut Ctx, args: &[Value]) -> R {
    Ok(final_pair("last", &args[0])?.car())
}

fn list_copy(ctx: &mut Ctx, args: &[Value]) -> R {
    let mut w = walk(&args[0]);
    let items: Vec<Value> = w.by_ref().map(|p| p.car()).collect();
    if w.cyclic {
        return Err(Error::wrong_type("list-copy", "list", &args[0]));
    }
    reserve_list(ctx, items.len())?;
    build_list(ctx, items, w.cur)
}

/// The first tail of `lst` whose car satisfies `same`, or `#f`.
fn mem(name: &str, x: &Value, lst: &Value, same: fn(&Value, &Value) -> bool) -> R {
    list_start(name, lst)?;
    let mut w = walk(lst);
    for p in w.by_ref() {
        if same(x, &p.car.borrow()) {
            return Ok(Value::Pair(p));
        }
    }
    if w.cyclic {
        return Err(Error::wrong_type(name, "list", lst));
    }
    Ok(Value::Bool(false))
}

fn memq(_: &mut Ctx, args: &[Value]) -> R {
    mem("memq", &args[0], &args[1], eqv)
}

fn memv(_: &mut Ctx, args: &[Value]) -> R {
    mem("memv", &args[0], &args[1], eqv)
}

fn member(_: &mut Ctx, args: &[Value]) -> R {
    mem("member", &args[0], &args[1], equal)
}

/// The first entry of an association list whose car satisfies `same`, or `#f`.
fn ass(name: &str, key: &Value, alist: &Value, same: fn(&Value, &Value) -> bool) -> R {
    list_start(name, alist)?;
    let mut w = walk(alist);
    for p in w.by_ref() {
        let entry = p.car();
        let Value::Pair(e) = &entry else {
            return Err(Error::wrong_type(name, "association list", alist));
        };
        if same(key, &e.car.borrow()) {
            return Ok(entry);
        }
    }
    if w.cyclic {
        return Err(Error::wrong_type(name, "list", alist));
    }
    Ok(Value::Bool(false))
}

fn assq(_: &mut Ctx, args: &[Value]) -> R {
    ass("assq", &args[0], &args[1], eqv)
}

fn assv(_: &mut Ctx, args: &[Value]) -> R {
    ass("assv", &args[0], &args[1], eqv)
}

fn assoc(_: &mut Ctx, args: &[Value]) -> R {
    ass("assoc", &args[0], &args[1], equal)
}

fn set_car(_: &mut Ctx, args: &[Value]) -> R {
    *pair_arg("set-car!", &args[0])?.car.borrow_mut() = args[1].clone();
    unspecified()
}

fn set_cdr(_: &mut Ctx, args: &[Value]) -> R {
    *pair_arg("set-cdr!", &args[0])?.cdr.borrow_mut() = args[1].clone();
    unspecified()
}

/// `(iota count [start 0] [step 1])`.
fn iota(ctx: &mut Ctx, args: &[Value]) -> R {
    let count = length_arg("iota", "count", &args[0])? as i64;
    reserve_list(ctx, count as usize)?;
    let start = args.get(1).map_or(Ok(Num::Int(0)), |v| Num::of("iota", v))?;
    let step = args.get(2).map_or(Ok(Num::Int(1)), |v| Num::of("iota", v))?;
    let mut items = Vec::with_capacity(count as usize);
    for i in 0..count {
        ctx.budget.progress(1)?;
        items.push(numbers::add(start, numbers::mul(Num::Int(i), step)?)?.to_value());
    }
    build_list(ctx, items, Value::Null)
}

fn delete(ctx: &mut Ctx, args: &[Value]) -> R {
    let items = list_arg("delete", &args[1])?;
    reserve_list(ctx, items.len())?;
    let mut kept = Vec::new();
    for item in items {
        ctx.budget.progress(1)?;
        if !equal(&args[0], &item) {
            kept.push(item);
        }
    }
    build_list(ctx, kept, Value::Null)
}

// The set lives only for this call, while no program code can mutate the values it holds.
#[allow(clippy::mutable_key_type)]
fn delete_duplicates(ctx: &mut Ctx, args: &[Value]) -> R {
    let items = list_arg("delete-duplicates", &args[0])?;
    reserve_list(ctx, items.len())?;
    let mut seen = HashSet::new();
    let mut kept = Vec::new();
    for item in items {
        ctx.budget.progress(1)?;
        if seen.insert(Key { value: item.clone(), eqv: false }) {
            kept.push(item);
        }
    }
    build_list(ctx, kept, Value::Null)
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use crate::value::Value;

    fn cyclic() -> Value {
        let p = Value::cons(int(1), Value::Null);
        if let Value::Pair(cell) = &p {
            *cell.cdr.borrow_mut() = p.clone();
        }
        p
    }

    fn uncycle(p: &Value) {
        if let Value::Pair(cell) = p {
            *cell.cdr.borrow_mut() = Value::Null;
        }
    }

    #[test]
    fn pairs_and_accessors() {
        assert_eq!(run("cons", &[int(1), int(2)]), "(1 . 2)");
        assert_eq!(run("cons", &[int(1), ints(&[2, 3])]), "(1 2 3)");
        assert_eq!(run("car", &[ints(&[1, 2])]), "1");
        assert_eq!(run("cdr", &[ints(&[1, 2])]), "(2)");
        assert_eq!(run("car", &[Value::Null]), "error: car: expected pair, got ()");
        assert_eq!(run("cdr", &[int(5)]), "error: cdr: expected pair, got 5");
        let nested = list(&[ints(&[1, 2]), int(3), int(4), int(5)]);
        assert_eq!(run("caar", &[nested.clone()]), "1");
        assert_eq!(run("cdar", &[nested.clone()]), "(2)");
        assert_eq!(run("cadr", &[nested.clone()]), "3");
        assert_eq!(run("cddr", &[nested.clone()]), "(4 5)");
        assert_eq!(run("caddr", &[nested.clone()]), "4");
        assert_eq!(run("cdddr", &[nested.clone()]), "(5)");
        assert_eq!(run("cadddr", &[nested]), "5");
        assert_eq!(run("cadr", &[ints(&[1])]), "error: cadr: expected pair, got ()");
    }

    #[test]
    fn building_and_measuring() {
        assert_eq!(run("list", &[]), "()");
        assert_eq!(run("list", &[int(1), s("a")]), "(1 \"a\")");
        assert_eq!(run("length", &[ints(&[1, 2, 3])]), "3");
        assert_eq!(run("length", &[Value::Null]), "0");
        assert_eq!(run("length", &[Value::cons(sym("a"), sym("b"))]), "error: length: expected list, got (a . b)");
        let c = cyclic();
        assert_eq!(run("length", &[c.clone()]), "error: length: expected list, got #0=(1 . #0#)");
        uncycle(&c);
        assert_eq!(run("append", &[]), "()");
        assert_eq!(run("append", &[ints(&[1]), ints(&[2, 3]), Value::Null]), "(1 2 3)");
        assert_eq!(run("append", &[ints(&[1]), int(2)]), "(1 . 2)");
        assert_eq!(run("append", &[int(1)]), "1");
        assert_eq!(run("append", &[int(1), ints(&[2])]), "error: append: expected list, got 1");
        assert_eq!(run("reverse", &[ints(&[1, 2, 3])]), "(3 2 1)");
        assert_eq!(run("reverse", &[Value::cons(int(1), int(2))]), "error: reverse: expected list, got (1 . 2)");
        let long = Value::list((0..1_000_000).map(Value::Int).collect::<Vec<_>>());
        assert_eq!(run("length", &[long.clone()]), "1000000");
        assert_eq!(run("length", &[call("reverse", &[long]).unwrap()]), "1000000");
    }

    #[test]
    fn indexing() {
        let l = ints(&[10, 20, 30]);
        assert_eq!(run("list-ref", &[l.clone(), int(1)]), "20");
        assert_eq!(run("list-ref", &[l.clone(), int(5)]), "error: list-ref: index 5 out of range");
        assert_eq!(run("list-ref", &[l.clone(), int(3)]), "error: list-ref: index 3 out of range");
        assert_eq!(run("list-ref", &[l.clone(), int(-1)]), "error: list-ref: index -1 out of range");
        assert_eq!(run("list-ref", &[l.clone(), float(1.0)]), "error: list-ref: expected exact integer, got 1.0");
        assert_eq!(run("list-ref", &[int(3), int(0)]), "error: list-ref: expected list, got 3");
        assert_eq!(run("list-tail", &[ints(&[1, 2, 3]), int(1)]), "(2 3)");
        assert_eq!(run("list-tail", &[ints(&[1, 2, 3]), int(3)]), "()");
        assert_eq!(run("list-tail", &[ints(&[1, 2, 3]), int(4)]), "error: list-tail: index 4 out of range");
        // A cyclic list answers any index at once: past the first lap, modulo the cycle.
        let c = ints(&[0, 1, 2, 3, 4]);
        let last = call("last-pair", &[c.clone()]).unwrap();
        call("set-cdr!", &[last.clone(), call("cdr", &[c.clone()]).unwrap()]).unwrap();
        for (k, expected) in [(0, "0"), (4, "4"), (5, "1"), (9, "1"), (10, "2"), (i64::MAX, "3")] {
            assert_eq!(run("list-ref", &[c.clone(), int(k)]), expected, "(list-ref c {k})");
        }
        uncycle(&last);
        assert_eq!(run("last-pair", &[ints(&[1, 2, 3])]), "(3)");
        assert_eq!(run("last-pair", &[Value::Null]), "error: last-pair: expected pair, got ()");
        assert_eq!(run("last", &[ints(&[1, 2, 3])]), "3");
        assert_eq!(run("list-copy", &[ints(&[1, 2])]), "(1 2)");
        assert_eq!(run("list-copy", &[Value::cons(int(1), int(2))]), "(1 . 2)");
    }

    #[test]
    fn searching() {
        assert_eq!(run("memq", &[sym("b"), list(&[sym("a"), sym("b"), sym("c")])]), "(b c)");
        assert_eq!(run("memv", &[int(5), ints(&[1, 2])]), "#f");
        assert_eq!(run("memv", &[float(2.0), ints(&[1, 2])]), "#f");
        assert_eq!(run("%member", &[int(2), ints(&[1, 2, 3])]), "(2 3)");
        assert_eq!(run("%member", &[ints(&[1]), list(&[ints(&[1]), int(2)])]), "((1) 2)");
        assert_eq!(run("memq", &[int(1), int(2)]), "error: memq: expected list, got 2");
        let c = cyclic();
        assert_eq!(run("memq", &[int(9), c.clone()]), "error: memq: expected list, got #0=(1 . #0#)");
        uncycle(&c);
        let alist = list(&[Value::cons(s("a"), int(1)), Value::cons(s("b"), int(2))]);
        assert_eq!(run("%assoc", &[s("b"), alist.clone()]), "(\"b\" . 2)");
        assert_eq!(run("assq", &[s("b"), alist.clone()]), "(\"b\" . 2)");
        assert_eq!(run("assv", &[s("z"), alist]), "#f");
        let alist = list(&[Value::cons(int(1), sym("a")), Value::cons(int(2), sym("b"))]);
        assert_eq!(run("assv", &[int(2), alist]), "(2 . b)");
        assert_eq!(run("assq", &[int(2), ints(&[1, 2])]), "error: assq: expected association list, got (1 2)");
    }

    #[test]
    fn mutation_and_srfi1() {
        let p = Value::cons(int(1), int(2));
        assert_eq!(run("set-car!", &[p.clone(), int(9)]), "#<unspecified>");
        assert_eq!(run("set-cdr!", &[p.clone(), Value::Null]), "#<unspecified>");
        assert_eq!(crate::printer::write_string(&p), "(9)");
        assert_eq!(run("set-car!", &[Value::Null, int(1)]), "error: set-car!: expected pair, got ()");
        assert_eq!(run("iota", &[int(5)]), "(0 1 2 3 4)");
        assert_eq!(run("iota", &[int(3), int(1)]), "(1 2 3)");
        assert_eq!(run("iota", &[int(3), int(0), float(0.5)]), "(0.0 0.5 1.0)");
        assert_eq!(run("iota", &[int(0)]), "()");
        assert_eq!(run("iota", &[int(-1)]), "error: iota: expected non-negative count, got -1");
        assert_eq!(run("delete", &[int(2), ints(&[1, 2, 3, 2])]), "(1 3)");
        assert_eq!(run("delete", &[ints(&[1]), list(&[ints(&[1]), int(1)])]), "(1)");
        assert_eq!(run("delete-duplicates", &[ints(&[1, 2, 1, 3, 2])]), "(1 2 3)");
        assert_eq!(run("delete-duplicates", &[list(&[s("a"), s("a"), ints(&[1]), ints(&[1])])]), "(\"a\" (1))");
    }
}
