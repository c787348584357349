//! R7RS-style hash tables and their Racket-style aliases (docs/reference.md, Hash tables).
//! Iteration follows insertion order. `hash-table-ref` (with its optional thunk),
//! `hash-table-update!`, `hash-table-update!/default`, `hash-table-walk` and `hash-ref` are
//! in the prelude, on top of the `%hash-table-…` helpers here.

use super::{boolean, new_table, prim, table_arg, table_get, table_key, table_set, unspecified, Ctx};
use crate::error::Error;
use crate::printer::write_short;
use crate::value::{Object, Primitive, Table, Value};

pub const PRIMITIVES: &[Primitive] = &[
    prim("make-hash-table", 0, Some(1), make_hash_table),
    prim("hash-table?", 1, Some(1), is_hash_table),
    prim("hash-table-set!", 3, Some(3), hash_table_set),
    prim("hash-table-ref/default", 3, Some(3), hash_table_ref_default),
    prim("hash-table-delete!", 2, Some(2), hash_table_delete),
    prim("hash-table-contains?", 2, Some(2), hash_table_contains),
    prim("hash-table-count", 1, Some(1), hash_table_count),
    prim("hash-table-keys", 1, Some(1), hash_table_keys),
    prim("hash-table-values", 1, Some(1), hash_table_values),
    prim("hash-table->alist", 1, Some(1), hash_table_to_alist),
    prim("hash-table-clear!", 1, Some(1), hash_table_clear),
    prim("hash-table-copy", 1, Some(1), hash_table_copy),
    prim("make-hash", 0, Some(0), make_hash),
    prim("hash-set!", 3, Some(3), hash_set),
    prim("hash-has-key?", 2, Some(2), hash_has_key),
    prim("%hash-table-ref", 3, Some(3), helper_ref),
    prim("%hash-table-contains?", 3, Some(3), helper_contains),
];

type R = Result<Value, Error>;

fn hash_table<'a>(name: &str, v: &'a Value) -> Result<&'a Table, Error> {
    table_arg(name, "hash table", v)
}

/// `(make-hash-table [eq?|eqv?|equal?|string=?])`.
fn make_hash_table(ctx: &mut Ctx, args: &[Value]) -> R {
    let eqv_keys = match args.first() {
        None => false,
        Some(Value::Primitive(p)) if matches!(p.name, "eq?" | "eqv?") => true,
        Some(Value::Primitive(p)) if matches!(p.name, "equal?" | "string=?") => false,
        Some(v) => return Err(Error::wrong_type("make-hash-table", "eq?, eqv?, equal? or string=?", v)),
    };
    Ok(Value::object(Object::Table(new_table(ctx, false, eqv_keys))))
}

fn make_hash(ctx: &mut Ctx, _: &[Value]) -> R {
    Ok(Value::object(Object::Table(new_table(ctx, false, false))))
}

fn is_hash_table(_: &mut Ctx, args: &[Value]) -> R {
    boolean(matches!(&args[0], Value::Object(o) if matches!(&**o, Object::Table(t) if !t.is_sicp)))
}

fn set(ctx: &Ctx, name: &str, args: &[Value]) -> R {
    table_set(ctx, hash_table(name, &args[0])?, &args[1], args[2].clone())?;
    unspecified()
}

fn hash_table_set(ctx: &mut Ctx, args: &[Value]) -> R {
    set(ctx, "hash-table-set!", args)
}

fn hash_set(ctx: &mut Ctx, args: &[Value]) -> R {
    set(ctx, "hash-set!", args)
}

fn hash_table_ref_default(_: &mut Ctx, args: &[Value]) -> R {
    Ok(table_get(hash_table("hash-table-ref/default", &args[0])?, &args[1]).unwrap_or_else(|| args[2].clone()))
}

fn hash_table_delete(_: &mut Ctx, args: &[Value]) -> R {
    let t = hash_table("hash-table-delete!", &args[0])?;
    // `shift_remove` keeps the insertion order of the other keys.
    t.entries.borrow_mut().shift_remove(&table_key(t, &args[1]));
    unspecified()
}

fn contains(name: &str, args: &[Value]) -> R {
    let t = hash_table(name, &args[0])?;
    boolean(t.entries.borrow().contains_key(&table_key(t, &args[1])))
}

fn hash_table_contains(_: &mut Ctx, args: &[Value]) -> R {
    contains("hash-table-contains?", args)
}

fn hash_has_key(_: &mut Ctx, args: &[Value]) -> R {
    contains("hash-has-key?", args)
}

fn hash_table_count(_: &mut Ctx, args: &[Value]) -> R {
    Ok(Value::Int(hash_table("hash-table-count", &args[0])?.entries.borrow().len() as i64))
}

fn hash_table_keys(_: &mut Ctx, args: &[Value]) -> R {
    let t = hash_table("hash-table-keys", &args[0])?;
    Ok(Value::list(t.entries.borrow().keys().map(|k| k.value.clone()).collect::<Vec<_>>()))
}

fn hash_table_values(_: &mut Ctx, args: &[Value]) -> R {
    let t = hash_table("hash-table-values", &args[0])?;
    Ok(Value::list(t.entries.borrow().values().cloned().collect::<Vec<_>>()))
}

/// The entries as an association list, in insertion order.
pub(super) fn alist(t: &Table) -> Value {
    let entries = t.entries.borrow();
    Value::list(entries.iter().map(|(k, v)| Value::cons(k.value.clone(), v.clone())).collect::<Vec<_>>())
}

fn hash_table_to_alist(_: &mut Ctx, args: &[Value]) -> R {
    Ok(alist(hash_table("hash-table->alist", &args[0])?))
}

fn hash_table_clear(_: &mut Ctx, args: &[Value]) -> R {
    hash_table("hash-table-clear!", &args[0])?.entries.borrow_mut().clear();
    unspecified()
}

fn hash_table_copy(ctx: &mut Ctx, args: &[Value]) -> R {
    let t = hash_table("hash-table-copy", &args[0])?;
    let copy = new_table(ctx, t.is_sicp, t.weak_eq);
    let entries = t.entries.borrow().clone();
    *copy.entries.borrow_mut() = entries;
    Ok(Value::object(Object::Table(copy)))
}

fn who(v: &Value) -> Result<&'static str, Error> {
    match v {
        Value::Symbol(s) => Ok(s.as_str()),
        _ => Err(Error::wrong_type("%hash-table-ref", "symbol", v)),
    }
}

/// `(%hash-table-ref WHO table key)`: the value, or `WHO: key not found: KEY`.
fn helper_ref(_: &mut Ctx, args: &[Value]) -> R {
    let name = who(&args[0])?;
    let t = hash_table(name, &args[1])?;
    table_get(t, &args[2]).ok_or_else(|| Error::new(format!("{name}: key not found: {}", write_short(&args[2]))))
}

/// `(%hash-table-contains? WHO table key)`.
fn helper_contains(_: &mut Ctx, args: &[Value]) -> R {
    let name = who(&args[0])?;
    contains(name, &args[1..])
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use crate::value::Value;

    fn prim_value(name: &str) -> Value {
        Value::Primitive(crate::primitives::all().find(|p| p.name == name).unwrap())
    }

    #[test]
    fn set_ref_and_iterate_in_insertion_order() {
        let mut c = ctx();
        let h = call_in(&mut c, "make-hash-table", &[]).unwrap();
        call_in(&mut c, "hash-table-set!", &[h.clone(), s("k"), int(1)]).unwrap();
        call_in(&mut c, "hash-table-set!", &[h.clone(), ints(&[1, 2]), int(2)]).unwrap();
        call_in(&mut c, "hash-table-set!", &[h.clone(), sym("z"), int(3)]).unwrap();
        call_in(&mut c, "hash-table-set!", &[h.clone(), s("k"), int(10)]).unwrap();
        assert_eq!(show(call_in(&mut c, "hash-table-ref/default", &[h.clone(), s("k"), int(0)])), "10");
        assert_eq!(show(call_in(&mut c, "%hash-table-ref", &[sym("hash-table-ref"), h.clone(), ints(&[1, 2])])), "2");
        assert_eq!(show(call_in(&mut c, "hash-table-ref/default", &[h.clone(), s("zz"), sym("none")])), "none");
        assert_eq!(show(call_in(&mut c, "hash-table-count", &[h.clone()])), "3");
        assert_eq!(show(call_in(&mut c, "hash-table-keys", &[h.clone()])), "(\"k\" (1 2) z)");
        assert_eq!(show(call_in(&mut c, "hash-table-values", &[h.clone()])), "(10 2 3)");
        assert_eq!(show(call_in(&mut c, "hash-table->alist", &[h.clone()])), "((\"k\" . 10) ((1 2) . 2) (z . 3))");
        call_in(&mut c, "hash-table-delete!", &[h.clone(), ints(&[1, 2])]).unwrap();
        assert_eq!(show(call_in(&mut c, "hash-table-keys", &[h.clone()])), "(\"k\" z)");
        assert_eq!(show(call_in(&mut c, "hash-table-contains?", &[h.clone(), sym("z")])), "#t");
        assert_eq!(show(call_in(&mut c, "hash-has-key?", &[h.clone(), sym("q")])), "#f");
        let copy = call_in(&mut c, "hash-table-copy", &[h.clone()]).unwrap();
        call_in(&mut c, "hash-table-clear!", &[h.clone()]).unwrap();
        assert_eq!(show(call_in(&mut c, "hash-table-count", &[h])), "0");
        assert_eq!(show(call_in(&mut c, "hash-table-count", &[copy.clone()])), "2");
        assert_eq!(show(Ok(copy)), "#<hash-table 2>");
    }

    #[test]
    fn missing_keys_and_wrong_types() {
        let h = call("make-hash-table", &[]).unwrap();
        assert_eq!(
            run("%hash-table-ref", &[sym("hash-table-ref"), h.clone(), sym("x")]),
            "error: hash-table-ref: key not found: x"
        );
        assert_eq!(
            run("%hash-table-ref", &[sym("hash-ref"), h.clone(), s("x")]),
            "error: hash-ref: key not found: \"x\""
        );
        assert_eq!(
            run("%hash-table-ref", &[sym("hash-ref"), int(5), s("x")]),
            "error: hash-ref: expected hash table, got 5"
        );
        assert_eq!(run("%hash-table-contains?", &[sym("hash-ref"), h, s("x")]), "#f");
        assert_eq!(
            run("hash-table-set!", &[ints(&[]), int(1), int(2)]),
            "error: hash-table-set!: expected hash table, got ()"
        );
        assert_eq!(
            run("make-hash-table", &[int(1)]),
            "error: make-hash-table: expected eq?, eqv?, equal? or string=?, got 1"
        );
        assert_eq!(run("hash-table?", &[call("make-hash", &[]).unwrap()]), "#t");
        assert_eq!(run("hash-table?", &[call("make-table", &[]).unwrap()]), "#f");
        assert_eq!(run("hash-table?", &[int(1)]), "#f");
    }

    #[test]
    fn eqv_tables_compare_pairs_by_identity() {
        let mut c = ctx();
        let h = call_in(&mut c, "make-hash-table", &[prim_value("eq?")]).unwrap();
        let key = ints(&[1]);
        call_in(&mut c, "hash-table-set!", &[h.clone(), key.clone(), int(1)]).unwrap();
        call_in(&mut c, "hash-table-set!", &[h.clone(), s("s"), int(2)]).unwrap();
        assert_eq!(show(call_in(&mut c, "hash-table-ref/default", &[h.clone(), key, int(0)])), "1");
        assert_eq!(show(call_in(&mut c, "hash-table-ref/default", &[h.clone(), ints(&[1]), int(0)])), "0");
        assert_eq!(show(call_in(&mut c, "hash-table-ref/default", &[h.clone(), s("s"), int(0)])), "2");
        let h = call_in(&mut c, "make-hash-table", &[prim_value("equal?")]).unwrap();
        call_in(&mut c, "hash-set!", &[h.clone(), ints(&[1]), int(1)]).unwrap();
        assert_eq!(show(call_in(&mut c, "hash-table-ref/default", &[h, ints(&[1]), int(0)])), "1");
    }

    #[test]
    fn many_keys() {
        let mut c = ctx();
        let h = call_in(&mut c, "make-hash-table", &[]).unwrap();
        for i in 0..10_000 {
            call_in(&mut c, "hash-table-set!", &[h.clone(), list(&[int(i), s("k")]), int(i)]).unwrap();
        }
        assert_eq!(show(call_in(&mut c, "hash-table-count", &[h.clone()])), "10000");
        assert_eq!(show(call_in(&mut c, "hash-table-ref/default", &[h, list(&[int(9999), s("k")]), int(-1)])), "9999");
        let _ = Value::Null;
    }

    /// The last doubling of a table is as large as all it holds: it is refused before it is
    /// allocated, even when the allocator's count of live bytes does not show the table.
    #[test]
    fn a_table_that_would_outgrow_the_memory_budget_fails_before_growing() {
        let mut ctx = ctx();
        ctx.budget.start(Some(1 << 20));
        let table = call_in(&mut ctx, "make-hash-table", &[]).unwrap();
        let failed =
            (0..1_000_000).find_map(|i| call_in(&mut ctx, "hash-table-set!", &[table.clone(), int(i), int(i)]).err());
        let e = failed.expect("the table stops growing within the budget");
        assert!(e.message.starts_with("memory limit exceeded"), "{}", e.message);
        let count = show(call_in(&mut ctx, "hash-table-count", &[table]));
        let count: u64 = count.parse().unwrap();
        assert!((4_000..=16_384).contains(&count), "{count} entries within 1 MB");
    }
}
