//! Characters and vectors (docs/reference.md, Characters and Vectors; Tier 2). `vector-map` and `vector-for-each` take
//! procedures and live in the prelude.

use std::cell::RefCell;
use std::rc::Rc;

use super::{
    boolean, build_list, index_arg, int_arg, length_arg, list_arg, prim, reserve_list, reserve_vector, unspecified, Ctx,
};
use crate::error::Error;
use crate::value::{Primitive, Value};

pub const PRIMITIVES: &[Primitive] = &[
    prim("char->integer", 1, Some(1), char_to_integer),
    prim("integer->char", 1, Some(1), integer_to_char),
    prim("char-upcase", 1, Some(1), char_upcase),
    prim("char-downcase", 1, Some(1), char_downcase),
    prim("char-alphabetic?", 1, Some(1), char_alphabetic),
    prim("char-numeric?", 1, Some(1), char_numeric),
    prim("char-whitespace?", 1, Some(1), char_whitespace),
    prim("char=?", 1, None, char_eq),
    prim("char<?", 1, None, char_lt),
    prim("vector", 0, None, vector),
    prim("make-vector", 1, Some(2), make_vector),
    prim("vector-length", 1, Some(1), vector_length),
    prim("vector-ref", 2, Some(2), vector_ref),
    prim("vector-set!", 3, Some(3), vector_set),
    prim("vector->list", 1, Some(1), vector_to_list),
    prim("list->vector", 1, Some(1), list_to_vector),
    prim("vector-fill!", 2, Some(2), vector_fill),
];

type R = Result<Value, Error>;

fn char_arg(name: &str, v: &Value) -> Result<char, Error> {
    match v {
        Value::Char(c) => Ok(*c),
        _ => Err(Error::wrong_type(name, "char", v)),
    }
}

fn vector_arg<'a>(name: &str, v: &'a Value) -> Result<&'a Rc<RefCell<Vec<Value>>>, Error> {
    match v {
        Value::Vector(items) => Ok(items),
        _ => Err(Error::wrong_type(name, "vector", v)),
    }
}

fn new_vector(items: Vec<Value>) -> R {
    Ok(Value::Vector(Rc::new(RefCell::new(items))))
}

fn char_to_integer(_: &mut Ctx, args: &[Value]) -> R {
    Ok(Value::Int(char_arg("char->integer", &args[0])? as i64))
}

fn integer_to_char(_: &mut Ctx, args: &[Value]) -> R {
    let i = int_arg("integer->char", &args[0])?;
    u32::try_from(i)
        .ok()
        .and_then(char::from_u32)
        .map(Value::Char)
        .ok_or_else(|| Error::wrong_type("integer->char", "Unicode scalar value", &args[0]))
}

/// The case mapping of a character when it is a single character (else unchanged).
fn single(mut mapped: impl Iterator<Item = char>, c: char) -> char {
    match (mapped.next(), mapped.next()) {
        (Some(m), None) => m,
        _ => c,
    }
}

fn char_upcase(_: &mut Ctx, args: &[Value]) -> R {
    let c = char_arg("char-upcase", &args[0])?;
    Ok(Value::Char(single(c.to_uppercase(), c)))
}

fn char_downcase(_: &mut Ctx, args: &[Value]) -> R {
    let c = char_arg("char-downcase", &args[0])?;
    Ok(Value::Char(single(c.to_lowercase(), c)))
}

fn char_alphabetic(_: &mut Ctx, args: &[Value]) -> R {
    boolean(char_arg("char-alphabetic?", &args[0])?.is_alphabetic())
}

fn char_numeric(_: &mut Ctx, args: &[Value]) -> R {
    boolean(char_arg("char-numeric?", &args[0])?.is_numeric())
}

fn char_whitespace(_: &mut Ctx, args: &[Value]) -> R {
    boolean(char_arg("char-whitespace?", &args[0])?.is_whitespace())
}

fn char_chain(name: &str, args: &[Value], holds: fn(char, char) -> bool) -> R {
    let chars = args.iter().map(|a| char_arg(name, a)).collect::<Result<Vec<_>, _>>()?;
    boolean(chars.windows(2).all(|w| holds(w[0], w[1])))
}

fn char_eq(_: &mut Ctx, args: &[Value]) -> R {
    char_chain("char=?", args, |a, b| a == b)
}

fn char_lt(_: &mut Ctx, args: &[Value]) -> R {
    char_chain("char<?", args, |a, b| a < b)
}

fn vector(_: &mut Ctx, args: &[Value]) -> R {
    new_vector(args.to_vec())
}

/// `(make-vector k [fill 0])`.
fn make_vector(ctx: &mut Ctx, args: &[Value]) -> R {
    let k = length_arg("make-vector", "length", &args[0])?;
    reserve_vector(ctx, k)?;
    let fill = args.get(1).cloned().unwrap_or(Value::Int(0));
    // Filled a chunk at a time, so a timeout or cancel stops a huge one midway.
    let chunk = crate::memory::POLL_EVERY as usize;
    let mut items = Vec::with_capacity(k);
    while items.len() < k {
        let n = chunk.min(k - items.len());
        items.extend(std::iter::repeat_n(&fill, n).cloned());
        ctx.budget.progress(n as u64)?;
    }
    new_vector(items)
}

fn vector_length(_: &mut Ctx, args: &[Value]) -> R {
    Ok(Value::Int(vector_arg("vector-length", &args[0])?.borrow().len() as i64))
}

fn vector_ref(_: &mut Ctx, args: &[Value]) -> R {
    let items = vector_arg("vector-ref", &args[0])?.borrow();
    let i = index_arg("vector-ref", &args[1], items.len(), false)?;
    Ok(items[i].clone())
}

fn vector_set(_: &mut Ctx, args: &[Value]) -> R {
    let mut items = vector_arg("vector-set!", &args[0])?.borrow_mut();
    let i = index_arg("vector-set!", &args[1], items.len(), false)?;
    items[i] = args[2].clone();
    unspecified()
}

fn vector_to_list(ctx: &mut Ctx, args: &[Value]) -> R {
    let items = vector_arg("vector->list", &args[0])?;
    reserve_list(ctx, items.borrow().len())?;
    let items = items.borrow().clone();
    build_list(ctx, items, Value::Null)
}

fn list_to_vector(ctx: &mut Ctx, args: &[Value]) -> R {
    let items = list_arg("list->vector", &args[0])?;
    reserve_vector(ctx, items.len())?;
    new_vector(items)
}

fn vector_fill(_: &mut Ctx, args: &[Value]) -> R {
    vector_arg("vector-fill!", &args[0])?.borrow_mut().fill(args[1].clone());
    unspecified()
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use crate::value::Value;

    #[test]
    fn characters() {
        assert_eq!(run("char->integer", &[Value::Char('A')]), "65");
        assert_eq!(run("integer->char", &[int(955)]), "#\\λ");
        assert_eq!(
            run("integer->char", &[int(0xD800)]),
            "error: integer->char: expected Unicode scalar value, got 55296"
        );
        assert_eq!(run("char-upcase", &[Value::Char('a')]), "#\\A");
        assert_eq!(run("char-upcase", &[Value::Char('ß')]), "#\\ß");
        assert_eq!(run("char-downcase", &[Value::Char('Ä')]), "#\\ä");
        assert_eq!(run("char-alphabetic?", &[Value::Char('a')]), "#t");
        assert_eq!(run("char-numeric?", &[Value::Char('7')]), "#t");
        assert_eq!(run("char-whitespace?", &[Value::Char(' ')]), "#t");
        assert_eq!(run("char=?", &[Value::Char('a'), Value::Char('a')]), "#t");
        assert_eq!(run("char<?", &[Value::Char('a'), Value::Char('b'), Value::Char('c')]), "#t");
        assert_eq!(run("char<?", &[Value::Char('a'), s("b")]), "error: char<?: expected char, got \"b\"");
    }

    #[test]
    fn vectors() {
        assert_eq!(run("vector", &[int(1), s("x")]), "#(1 \"x\")");
        assert_eq!(run("make-vector", &[int(3)]), "#(0 0 0)");
        assert_eq!(run("make-vector", &[int(2), sym("a")]), "#(a a)");
        assert_eq!(run("make-vector", &[int(-2)]), "error: make-vector: expected non-negative length, got -2");
        let v = call("vector", &[int(1), int(2), int(3)]).unwrap();
        assert_eq!(run("vector-length", &[v.clone()]), "3");
        assert_eq!(run("vector-ref", &[v.clone(), int(2)]), "3");
        assert_eq!(run("vector-ref", &[v.clone(), int(3)]), "error: vector-ref: index 3 out of range");
        assert_eq!(run("vector-set!", &[v.clone(), int(0), sym("z")]), "#<unspecified>");
        assert_eq!(run("vector->list", &[v.clone()]), "(z 2 3)");
        assert_eq!(run("vector-fill!", &[v.clone(), int(7)]), "#<unspecified>");
        assert_eq!(show(Ok(v)), "#(7 7 7)");
        assert_eq!(run("list->vector", &[ints(&[1, 2])]), "#(1 2)");
        assert_eq!(run("vector-ref", &[ints(&[1]), int(0)]), "error: vector-ref: expected vector, got (1)");
    }
}
