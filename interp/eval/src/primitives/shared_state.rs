//! The seed chapter's shared-state procedures (docs/language.md §8.4): table snapshots, mutable
//! contexts and chunk buffers.

use std::cell::RefCell;

use super::{int_arg, new_table, prim, table_arg, table_get, table_set, unspecified, Ctx};
use crate::equality::equal;
use crate::error::Error;
use crate::printer::display_string;
use crate::value::{Object, Primitive, Table, Value};

pub const PRIMITIVES: &[Primitive] = &[
    prim("read-table", 1, Some(1), read_table),
    prim("add-entry", 3, Some(3), add_entry),
    prim("write-table!", 2, Some(2), write_table),
    prim("detect-conflict", 3, Some(4), detect_conflict),
    prim("make-mutable-context", 0, Some(1), make_mutable_context),
    prim("read-context", 1, Some(1), read_context),
    prim("write-context!", 2, Some(2), write_context),
    prim("make-buffer", 0, Some(0), make_buffer),
    prim("insert-at!", 3, Some(3), insert_at),
    prim("get-buffer", 1, Some(1), get_buffer),
];

type R = Result<Value, Error>;

fn table<'a>(name: &str, v: &'a Value) -> Result<&'a Table, Error> {
    table_arg(name, "table", v)
}

/// A snapshot: a new table with a copy of the entries.
fn read_table(ctx: &mut Ctx, args: &[Value]) -> R {
    let t = table("read-table", &args[0])?;
    let snapshot = new_table(ctx, t.is_sicp, t.weak_eq);
    let entries = t.entries.borrow().clone();
    *snapshot.entries.borrow_mut() = entries;
    Ok(Value::object(Object::Table(snapshot)))
}

fn add_entry(ctx: &mut Ctx, args: &[Value]) -> R {
    table_set(ctx, table("add-entry", &args[0])?, &args[1], args[2].clone())?;
    unspecified()
}

/// Replaces all of t's entries with a copy of the snapshot's.
fn write_table(_: &mut Ctx, args: &[Value]) -> R {
    let t = table("write-table!", &args[0])?;
    let snapshot = table("write-table!", &args[1])?;
    let entries = snapshot.entries.borrow().clone();
    *t.entries.borrow_mut() = entries;
    unspecified()
}

/// `(detect-conflict term snap t [new])`: t's current definition of term when it exists and
/// differs from the expected one (`new`, else the snapshot's, else none); otherwise `#f`.
fn detect_conflict(_: &mut Ctx, args: &[Value]) -> R {
    let term = &args[0];
    let snapshot = table("detect-conflict", &args[1])?;
    let t = table("detect-conflict", &args[2])?;
    let Some(current) = table_get(t, term) else { return Ok(Value::Bool(false)) };
    let expected = match args.get(3) {
        Some(new) => Some(new.clone()),
        None => table_get(snapshot, term),
    };
    match expected {
        Some(e) if equal(&e, &current) => Ok(Value::Bool(false)),
        _ => Ok(current),
    }
}

fn context<'a>(name: &str, v: &'a Value) -> Result<&'a RefCell<Value>, Error> {
    if let Value::Object(o) = v {
        if let Object::Context(cell) = &**o {
            return Ok(cell);
        }
    }
    Err(Error::wrong_type(name, "context", v))
}

fn make_mutable_context(_: &mut Ctx, args: &[Value]) -> R {
    let init = args.first().cloned().unwrap_or(Value::Null);
    Ok(Value::object(Object::Context(RefCell::new(init))))
}

fn read_context(_: &mut Ctx, args: &[Value]) -> R {
    Ok(context("read-context", &args[0])?.borrow().clone())
}

fn write_context(_: &mut Ctx, args: &[Value]) -> R {
    *context("write-context!", &args[0])?.borrow_mut() = args[1].clone();
    unspecified()
}

fn make_buffer(ctx: &mut Ctx, _: &[Value]) -> R {
    Ok(Value::object(Object::Buffer { id: ctx.fresh_id(), chunks: Default::default() }))
}

fn buffer<'a>(name: &str, v: &'a Value) -> Result<&'a RefCell<std::collections::BTreeMap<i64, Value>>, Error> {
    if let Value::Object(o) = v {
        if let Object::Buffer { chunks, .. } = &**o {
            return Ok(chunks);
        }
    }
    Err(Error::wrong_type(name, "buffer", v))
}

/// `(insert-at! b chunk pos)`: stores chunk at pos, replacing one already there.
fn insert_at(_: &mut Ctx, args: &[Value]) -> R {
    let chunks = buffer("insert-at!", &args[0])?;
    let pos = int_arg("insert-at!", &args[2])?;
    chunks.borrow_mut().insert(pos, args[1].clone());
    unspecified()
}

/// The chunks in position order, each displayed, joined with one space.
fn get_buffer(_: &mut Ctx, args: &[Value]) -> R {
    let chunks = buffer("get-buffer", &args[0])?.borrow();
    let parts: Vec<String> = chunks.values().map(display_string).collect();
    Ok(Value::str(&parts.join(" ")))
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use crate::value::Value;

    #[test]
    fn snapshots_are_independent_copies() {
        let mut c = ctx();
        let t = call_in(&mut c, "make-table", &[]).unwrap();
        call_in(&mut c, "insert!", &[s("a"), int(1), t.clone()]).unwrap();
        let g = call_in(&mut c, "read-table", &[t.clone()]).unwrap();
        assert_eq!(show(call_in(&mut c, "add-entry", &[g.clone(), s("b"), int(2)])), "#<unspecified>");
        call_in(&mut c, "insert!", &[s("a"), int(9), t.clone()]).unwrap();
        assert_eq!(show(call_in(&mut c, "lookup", &[s("b"), t.clone()])), "#f");
        assert_eq!(show(call_in(&mut c, "lookup", &[s("a"), g.clone()])), "1");
        assert_eq!(show(call_in(&mut c, "write-table!", &[t.clone(), g.clone()])), "#<unspecified>");
        assert_eq!(show(call_in(&mut c, "table->alist", &[t.clone()])), "((\"a\" . 1) (\"b\" . 2))");
        call_in(&mut c, "add-entry", &[g.clone(), s("c"), int(3)]).unwrap();
        assert_eq!(show(call_in(&mut c, "lookup", &[s("c"), t.clone()])), "#f");
        call_in(&mut c, "write-table!", &[t.clone(), t.clone()]).unwrap();
        assert_eq!(show(call_in(&mut c, "table->alist", &[t])), "((\"a\" . 1) (\"b\" . 2))");
    }

    #[test]
    fn conflicts_as_in_conformance_case_53() {
        let mut c = ctx();
        let t = call_in(&mut c, "make-table", &[]).unwrap();
        let g = call_in(&mut c, "read-table", &[t.clone()]).unwrap();
        let def = s("Application Programming Interface");
        call_in(&mut c, "add-entry", &[g.clone(), s("API"), def]).unwrap();
        assert_eq!(show(call_in(&mut c, "lookup", &[s("API"), t.clone()])), "#f");
        assert_eq!(show(call_in(&mut c, "detect-conflict", &[s("API"), g.clone(), t.clone()])), "#f");
        call_in(&mut c, "write-table!", &[t.clone(), g.clone()]).unwrap();
        assert_eq!(show(call_in(&mut c, "detect-conflict", &[s("API"), g.clone(), t.clone()])), "#f");
        let empty = call_in(&mut c, "make-table", &[]).unwrap();
        assert_eq!(
            show(call_in(&mut c, "detect-conflict", &[s("API"), empty, t.clone()])),
            "\"Application Programming Interface\""
        );
        assert_eq!(
            show(call_in(
                &mut c,
                "detect-conflict",
                &[s("API"), g.clone(), t.clone(), s("American Petroleum Institute")]
            )),
            "\"Application Programming Interface\""
        );
        assert_eq!(
            show(call_in(&mut c, "detect-conflict", &[s("API"), g, t, s("Application Programming Interface")])),
            "#f"
        );
    }

    #[test]
    fn contexts() {
        let c = call("make-mutable-context", &[]).unwrap();
        assert_eq!(show(Ok(c.clone())), "#<context>");
        assert_eq!(run("read-context", &[c.clone()]), "()");
        assert_eq!(run("write-context!", &[c.clone(), list(&[Value::cons(sym("AgentA"), s("42"))])]), "#<unspecified>");
        assert_eq!(run("read-context", &[c]), "((AgentA . \"42\"))");
        assert_eq!(run("read-context", &[call("make-mutable-context", &[int(5)]).unwrap()]), "5");
        assert_eq!(run("read-context", &[int(5)]), "error: read-context: expected context, got 5");
    }

    #[test]
    fn buffers_join_chunks_in_position_order() {
        let mut c = ctx();
        let b = call_in(&mut c, "make-buffer", &[]).unwrap();
        assert_eq!(show(Ok(b.clone())), "#<buffer 1>");
        assert_eq!(show(call_in(&mut c, "get-buffer", &[b.clone()])), "\"\"");
        call_in(&mut c, "insert-at!", &[b.clone(), s("Conclusion."), int(2)]).unwrap();
        call_in(&mut c, "insert-at!", &[b.clone(), s("Introduction..."), int(0)]).unwrap();
        call_in(&mut c, "insert-at!", &[b.clone(), s("Body"), int(1)]).unwrap();
        call_in(&mut c, "insert-at!", &[b.clone(), s("Body content..."), int(1)]).unwrap();
        assert_eq!(
            show(call_in(&mut c, "get-buffer", &[b.clone()])),
            "\"Introduction... Body content... Conclusion.\""
        );
        call_in(&mut c, "insert-at!", &[b.clone(), int(7), int(10)]).unwrap();
        assert_eq!(
            show(call_in(&mut c, "get-buffer", &[b.clone()])),
            "\"Introduction... Body content... Conclusion. 7\""
        );
        assert_eq!(
            show(call_in(&mut c, "insert-at!", &[b, s("x"), s("0")])),
            "error: insert-at!: expected exact integer, got \"0\""
        );
    }
}
