//! Type predicates and equivalence (docs/reference.md, Types and equality).

use super::{boolean, list_items, prim, Ctx};
use crate::equality;
use crate::error::Error;
use crate::value::{Primitive, Value};

pub const PRIMITIVES: &[Primitive] = &[
    prim("not", 1, Some(1), not),
    prim("boolean?", 1, Some(1), is_boolean),
    prim("symbol?", 1, Some(1), is_symbol),
    prim("string?", 1, Some(1), is_string),
    prim("procedure?", 1, Some(1), is_procedure),
    prim("pair?", 1, Some(1), is_pair),
    prim("null?", 1, Some(1), is_null),
    prim("list?", 1, Some(1), is_list),
    prim("eq?", 2, Some(2), eqv),
    prim("eqv?", 2, Some(2), eqv),
    prim("equal?", 2, Some(2), equal),
    prim("boolean=?", 2, None, boolean_eq),
    prim("vector?", 1, Some(1), is_vector),
    prim("char?", 1, Some(1), is_char),
];

type R = Result<Value, Error>;

fn not(_: &mut Ctx, args: &[Value]) -> R {
    boolean(!args[0].is_true())
}

fn is_boolean(_: &mut Ctx, args: &[Value]) -> R {
    boolean(matches!(args[0], Value::Bool(_)))
}

fn is_symbol(_: &mut Ctx, args: &[Value]) -> R {
    boolean(matches!(args[0], Value::Symbol(_)))
}

fn is_string(_: &mut Ctx, args: &[Value]) -> R {
    boolean(matches!(args[0], Value::Str(_)))
}

fn is_procedure(_: &mut Ctx, args: &[Value]) -> R {
    boolean(args[0].is_procedure())
}

fn is_pair(_: &mut Ctx, args: &[Value]) -> R {
    boolean(matches!(args[0], Value::Pair(_)))
}

fn is_null(_: &mut Ctx, args: &[Value]) -> R {
    boolean(args[0].is_null())
}

fn is_list(_: &mut Ctx, args: &[Value]) -> R {
    boolean(list_items(&args[0]).is_some())
}

fn eqv(_: &mut Ctx, args: &[Value]) -> R {
    boolean(equality::eqv(&args[0], &args[1]))
}

fn equal(_: &mut Ctx, args: &[Value]) -> R {
    boolean(equality::equal(&args[0], &args[1]))
}

fn boolean_eq(_: &mut Ctx, args: &[Value]) -> R {
    let mut bools = Vec::with_capacity(args.len());
    for a in args {
        match a {
            Value::Bool(b) => bools.push(*b),
            _ => return Err(Error::wrong_type("boolean=?", "boolean", a)),
        }
    }
    boolean(bools.windows(2).all(|w| w[0] == w[1]))
}

fn is_vector(_: &mut Ctx, args: &[Value]) -> R {
    boolean(matches!(args[0], Value::Vector(_)))
}

fn is_char(_: &mut Ctx, args: &[Value]) -> R {
    boolean(matches!(args[0], Value::Char(_)))
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use crate::value::Value;

    #[test]
    fn only_false_is_false() {
        assert_eq!(run("not", &[int(0)]), "#f");
        assert_eq!(run("not", &[Value::Null]), "#f");
        assert_eq!(run("not", &[s("")]), "#f");
        assert_eq!(run("not", &[Value::Bool(false)]), "#t");
    }

    #[test]
    fn type_predicates() {
        assert_eq!(run("boolean?", &[Value::Bool(false)]), "#t");
        assert_eq!(run("boolean?", &[Value::Null]), "#f");
        assert_eq!(run("symbol?", &[sym("a")]), "#t");
        assert_eq!(run("symbol?", &[s("a")]), "#f");
        assert_eq!(run("string?", &[s("a")]), "#t");
        assert_eq!(run("pair?", &[ints(&[1])]), "#t");
        assert_eq!(run("pair?", &[Value::Null]), "#f");
        assert_eq!(run("null?", &[Value::Null]), "#t");
        assert_eq!(run("null?", &[ints(&[1])]), "#f");
        assert_eq!(run("list?", &[ints(&[1, 2])]), "#t");
        assert_eq!(run("list?", &[Value::Null]), "#t");
        assert_eq!(run("list?", &[Value::cons(int(1), int(2))]), "#f");
        assert_eq!(run("vector?", &[Value::Vector(Default::default())]), "#t");
        assert_eq!(run("char?", &[Value::Char('a')]), "#t");
        assert_eq!(run("char?", &[s("a")]), "#f");
        let car = crate::primitives::all().find(|p| p.name == "car").unwrap();
        assert_eq!(run("procedure?", &[Value::Primitive(car)]), "#t");
        assert_eq!(run("procedure?", &[sym("car")]), "#f");
    }

    #[test]
    fn equivalences() {
        assert_eq!(run("eq?", &[sym("a"), sym("a")]), "#t");
        assert_eq!(run("eq?", &[ints(&[1]), ints(&[1])]), "#f");
        assert_eq!(run("equal?", &[ints(&[1, 2]), ints(&[1, 2])]), "#t");
        assert_eq!(run("eq?", &[s("ab"), s("ab")]), "#t");
        assert_eq!(run("eqv?", &[int(2), float(2.0)]), "#f");
        assert_eq!(run("equal?", &[int(2), float(2.0)]), "#f");
        assert_eq!(run("eqv?", &[Value::Null, Value::Null]), "#t");
        assert_eq!(run("boolean=?", &[Value::Bool(true), Value::Bool(true), Value::Bool(true)]), "#t");
        assert_eq!(run("boolean=?", &[Value::Bool(true), Value::Bool(false)]), "#f");
        assert_eq!(run("boolean=?", &[Value::Bool(true), int(1)]), "error: boolean=?: expected boolean, got 1");
    }
}
