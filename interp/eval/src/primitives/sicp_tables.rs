//! SICP tables (`equal?` keys; the 2-D forms key on `(list k1 k2)`) and the one operation
//! table of `put`/`get` (SICP 2.4.3).

use super::hash_tables::alist;
use super::{boolean, new_table, prim, table_arg, table_get, table_set, Ctx};
use crate::error::Error;
use crate::value::{Object, Primitive, Table, Value};

pub const PRIMITIVES: &[Primitive] = &[
    prim("make-table", 0, Some(0), make_table),
    prim("lookup", 2, Some(3), lookup),
    prim("insert!", 3, Some(4), insert),
    prim("table->alist", 1, Some(1), table_to_alist),
    prim("table?", 1, Some(1), is_table),
    prim("put", 3, Some(3), put),
    prim("get", 2, Some(2), get),
];

type R = Result<Value, Error>;

fn table<'a>(name: &str, v: &'a Value) -> Result<&'a Table, Error> {
    table_arg(name, "table", v)
}

pub(super) fn make_sicp_table(ctx: &mut Ctx) -> Value {
    Value::object(Object::Table(new_table(ctx, true, false)))
}

fn make_table(ctx: &mut Ctx, _: &[Value]) -> R {
    Ok(make_sicp_table(ctx))
}

/// The key of `(lookup k t)` or `(lookup k1 k2 t)`.
fn key(keys: &[Value]) -> Value {
    match keys {
        [k] => k.clone(),
        _ => Value::list(keys.to_vec()),
    }
}

/// `(lookup k t)`, `(lookup k1 k2 t)`: the value or `#f`.
fn lookup(_: &mut Ctx, args: &[Value]) -> R {
    let (t, keys) = args.split_last().expect("arity checked");
    Ok(table_get(table("lookup", t)?, &key(keys)).unwrap_or(Value::Bool(false)))
}

/// `(insert! k v t)`, `(insert! k1 k2 v t)`: returns `ok`.
fn insert(ctx: &mut Ctx, args: &[Value]) -> R {
    let (t, rest) = args.split_last().expect("arity checked");
    let (v, keys) = rest.split_last().expect("arity checked");
    table_set(ctx, table("insert!", t)?, &key(keys), v.clone())?;
    Ok(Value::sym("ok"))
}

fn table_to_alist(_: &mut Ctx, args: &[Value]) -> R {
    Ok(alist(table("table->alist", &args[0])?))
}

fn is_table(_: &mut Ctx, args: &[Value]) -> R {
    boolean(matches!(&args[0], Value::Object(o) if matches!(&**o, Object::Table(t) if t.is_sicp)))
}

fn op_table(ctx: &mut Ctx) -> Value {
    if ctx.op_table.is_none() {
        ctx.op_table = Some(make_sicp_table(ctx));
    }
    ctx.op_table.clone().expect("just made")
}

/// `(put op type item)`: returns `ok`, as SICP's `insert!` does.
fn put(ctx: &mut Ctx, args: &[Value]) -> R {
    let t = op_table(ctx);
    table_set(ctx, table("put", &t)?, &key(&args[..2]), args[2].clone())?;
    Ok(Value::sym("ok"))
}

/// `(get op type)`: the item or `#f`.
fn get(ctx: &mut Ctx, args: &[Value]) -> R {
    let t = op_table(ctx);
    Ok(table_get(table("get", &t)?, &key(&args[..2])).unwrap_or(Value::Bool(false)))
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    #[test]
    fn one_and_two_dimensional_tables() {
        let mut c = ctx();
        let t = call_in(&mut c, "make-table", &[]).unwrap();
        assert_eq!(show(Ok(t.clone())), "#<table 1>");
        assert_eq!(show(call_in(&mut c, "insert!", &[sym("a"), int(1), t.clone()])), "ok");
        assert_eq!(show(call_in(&mut c, "insert!", &[sym("x"), sym("y"), int(2), t.clone()])), "ok");
        assert_eq!(show(call_in(&mut c, "lookup", &[sym("a"), t.clone()])), "1");
        assert_eq!(show(call_in(&mut c, "lookup", &[sym("x"), sym("y"), t.clone()])), "2");
        assert_eq!(show(call_in(&mut c, "lookup", &[sym("b"), t.clone()])), "#f");
        assert_eq!(show(call_in(&mut c, "lookup", &[list(&[sym("x"), sym("y")]), t.clone()])), "2");
        assert_eq!(show(call_in(&mut c, "insert!", &[s("k"), s("v"), t.clone()])), "ok");
        assert_eq!(show(call_in(&mut c, "lookup", &[s("k"), t.clone()])), "\"v\"");
        assert_eq!(show(call_in(&mut c, "table->alist", &[t.clone()])), "((a . 1) ((x y) . 2) (\"k\" . \"v\"))");
        assert_eq!(show(call_in(&mut c, "table?", &[t])), "#t");
        assert_eq!(run("lookup", &[sym("a"), int(1)]), "error: lookup: expected table, got 1");
        assert_eq!(run("table?", &[int(1)]), "#f");
    }

    #[test]
    fn put_and_get_share_one_table() {
        let mut c = ctx();
        assert_eq!(show(call_in(&mut c, "get", &[sym("area"), sym("square")])), "#f");
        assert_eq!(show(call_in(&mut c, "put", &[sym("area"), sym("square"), int(4)])), "ok");
        assert_eq!(show(call_in(&mut c, "get", &[sym("area"), sym("square")])), "4");
        assert_eq!(show(call_in(&mut c, "get", &[sym("area"), sym("circle")])), "#f");
    }
}
