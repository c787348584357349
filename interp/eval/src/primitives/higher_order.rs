//! The higher-order built-ins that need no callback (`compose`, `identity`) and the checks
//! the prelude's procedures use to report errors the way primitives do.

use super::{list_items, prim, procedure_arg, Ctx};
use crate::error::Error;
use crate::printer::write_short;
use crate::value::{Object, Primitive, Value};

pub const PRIMITIVES: &[Primitive] = &[
    prim("compose", 0, None, compose),
    prim("identity", 1, Some(1), identity),
    prim("%check", 3, Some(3), check),
    prim("%check-arity", 4, Some(4), check_arity),
    prim("%error", 1, None, error),
    prim("%heads", 1, Some(1), heads),
    prim("%tails", 1, Some(1), tails),
    prim("%append-reverse", 2, Some(2), append_reverse),
    prim("%sort-by-primitive", 2, Some(2), sort_by_primitive),
    prim("%primitive?", 1, Some(1), is_plain_primitive),
];

type R = Result<Value, Error>;

/// `((compose f g …) x…)` is `(f (g … x…))`: the machine applies the last procedure to the
/// arguments and each earlier one to the result; `(compose)` is the identity.
fn compose(_: &mut Ctx, args: &[Value]) -> R {
    for a in args {
        procedure_arg("compose", a)?;
    }
    Ok(Value::object(Object::Composed(args.to_vec())))
}

fn identity(_: &mut Ctx, args: &[Value]) -> R {
    Ok(args[0].clone())
}

fn who(v: &Value) -> Result<&'static str, Error> {
    match v {
        Value::Symbol(s) => Ok(s.as_str()),
        _ => Err(Error::wrong_type("%check", "symbol", v)),
    }
}

/// `(%check WHO KIND v)`: returns v when it is of KIND, else raises
/// `WHO: expected KIND, got V`. KIND is one of `procedure`, `list`, `vector`, `hash-table`,
/// `stream`, `stream-pair`, `integer` (exact) and `count` (exact, non-negative); `lists` and
/// `streams` check every element of a list and name the first bad one.
fn check(_: &mut Ctx, args: &[Value]) -> R {
    let name = who(&args[0])?;
    let v = &args[2];
    let kind = who(&args[1])?;
    if let Some(element_kind) = kind.strip_suffix('s').filter(|_| matches!(kind, "lists" | "streams")) {
        for item in list_items(v).ok_or_else(|| Error::wrong_type(name, "list", v))? {
            check_one(name, element_kind, &item)?;
        }
        return Ok(v.clone());
    }
    check_one(name, kind, v)?;
    Ok(v.clone())
}

fn check_one(name: &str, kind: &str, v: &Value) -> Result<(), Error> {
    let (ok, expected) = match kind {
        "procedure" => (v.is_procedure(), "procedure"),
        "list" => (list_items(v).is_some(), "list"),
        "vector" => (matches!(v, Value::Vector(_)), "vector"),
        "hash-table" => (matches!(v, Value::Object(o) if matches!(**o, Object::Table(_))), "hash table"),
        "stream" => (matches!(v, Value::Null | Value::Pair(_)), "stream"),
        "stream-pair" => (matches!(v, Value::Pair(_)), "stream pair"),
        "integer" => (matches!(v, Value::Int(_)), "exact integer"),
        "count" => (matches!(v, Value::Int(i) if *i >= 0), "non-negative exact integer"),
        other => return Err(Error::new(format!("%check: unknown kind {other}"))),
    };
    if ok {
        Ok(())
    } else {
        Err(Error::wrong_type(name, expected, v))
    }
}

/// `(%heads lists)`: the cars of the lists when every one is a pair, else `#f` (the n-ary
/// mapping procedures stop at the shortest list).
fn heads(_: &mut Ctx, args: &[Value]) -> R {
    let mut cars = Vec::new();
    for l in args[0].iter() {
        match l {
            Value::Pair(p) => cars.push(p.car()),
            _ => return Ok(Value::Bool(false)),
        }
    }
    Ok(Value::list(cars))
}

/// `(%tails lists)`: the cdrs of the lists (all pairs, as `%heads` found).
fn tails(_: &mut Ctx, args: &[Value]) -> R {
    let mut cdrs = Vec::new();
    for l in args[0].iter() {
        match l {
            Value::Pair(p) => cdrs.push(p.cdr()),
            other => return Err(Error::wrong_type("%tails", "pair", &other)),
        }
    }
    Ok(Value::list(cdrs))
}

/// `(%append-reverse rev tail)`: the elements of rev, reversed, in front of tail.
/// A primitive that works on its arguments alone (not one the machine runs, like `apply`).
fn is_plain_primitive(_: &mut Ctx, args: &[Value]) -> R {
    Ok(Value::Bool(
        matches!(&args[0], Value::Primitive(p) if !crate::vm::MACHINE_PRIMITIVES.iter().any(|m| m.name == p.name)),
    ))
}

/// `(%sort-by-primitive list less?)` where `less?` is a primitive (`<`, `string<?` …): a
/// stable sort without leaving Rust, since a primitive cannot call back into the program.
fn sort_by_primitive(ctx: &mut Ctx, args: &[Value]) -> R {
    let Value::Primitive(less) = &args[1] else { return Err(Error::wrong_type("sort", "procedure", &args[1])) };
    let mut items = list_items(&args[0]).ok_or_else(|| Error::wrong_type("sort", "list", &args[0]))?;
    let mut failure = None;
    items.sort_by(|a, b| {
        if failure.is_some() {
            return std::cmp::Ordering::Equal;
        }
        if let Err(e) = ctx.budget.progress(1) {
            failure = Some(e);
            return std::cmp::Ordering::Equal;
        }
        let mut test = |x: &Value, y: &Value| match (less.f)(ctx, &[x.clone(), y.clone()]) {
            Ok(v) => v.is_true(),
            Err(e) => {
                failure = Some(e);
                false
            }
        };
        if test(a, b) {
            std::cmp::Ordering::Less
        } else if test(b, a) {
            std::cmp::Ordering::Greater
        } else {
            std::cmp::Ordering::Equal
        }
    });
    match failure {
        Some(e) => Err(e),
        None => super::build_list(ctx, items, Value::Null),
    }
}

fn append_reverse(_: &mut Ctx, args: &[Value]) -> R {
    let items = list_items(&args[0]).ok_or_else(|| Error::wrong_type("%append-reverse", "list", &args[0]))?;
    Ok(items.into_iter().fold(args[1].clone(), |acc, v| Value::cons(v, acc)))
}

/// `(%check-arity WHO MIN MAX optionals)`: for a prelude procedure `(define (WHO a… . optionals))`
/// that accepts MIN to MAX arguments, raises the machine's arity error when too many came
/// (the machine itself checks the minimum).
fn check_arity(_: &mut Ctx, args: &[Value]) -> R {
    let name = who(&args[0])?;
    let (Value::Int(min), Value::Int(max)) = (&args[1], &args[2]) else {
        return Err(Error::new("%check-arity: bounds must be exact integers"));
    };
    let optionals = list_items(&args[3]).map_or(0, |v| v.len());
    let got = *min as usize + optionals;
    if got > *max as usize {
        let expected = crate::vm::arity_text(*min as usize, Some(*max as usize));
        return Err(Error::new(format!("#<procedure {name}>: expected {expected}, got {got}")));
    }
    Ok(Value::Unspecified)
}

/// `(%error WHO part…)`: raises `WHO: PART …`, a primitive-style message; string parts are
/// text, other values appear in short `write` form.
fn error(_: &mut Ctx, args: &[Value]) -> R {
    let mut text = format!("{}:", who(&args[0])?);
    for part in &args[1..] {
        text.push(' ');
        match part {
            Value::Str(s) => text.push_str(s),
            v => text.push_str(&write_short(v)),
        }
    }
    Err(Error::new(text))
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use crate::value::Value;

    #[test]
    fn compose_checks_its_arguments() {
        let car = Value::Primitive(crate::primitives::all().find(|p| p.name == "car").unwrap());
        assert_eq!(run("compose", &[car.clone(), car.clone()]), "#<procedure>");
        assert_eq!(run("compose", &[]), "#<procedure>");
        assert_eq!(run("compose", &[car, int(5)]), "error: compose: expected procedure, got 5");
        assert_eq!(run("identity", &[s("x")]), "\"x\"");
    }

    #[test]
    fn list_helpers() {
        assert_eq!(run("%heads", &[list(&[ints(&[1, 2]), ints(&[10, 20])])]), "(1 10)");
        assert_eq!(run("%heads", &[list(&[ints(&[1, 2]), Value::Null])]), "#f");
        assert_eq!(run("%tails", &[list(&[ints(&[1, 2]), ints(&[10, 20])])]), "((2) (20))");
        assert_eq!(run("%append-reverse", &[ints(&[3, 2, 1]), ints(&[4])]), "(1 2 3 4)");
        assert_eq!(run("%append-reverse", &[Value::Null, int(5)]), "5");
    }

    #[test]
    fn checks_raise_primitive_style_errors() {
        let car = Value::Primitive(crate::primitives::all().find(|p| p.name == "car").unwrap());
        assert_eq!(run("%check", &[sym("map"), sym("procedure"), car]), "#<procedure car>");
        assert_eq!(run("%check", &[sym("map"), sym("procedure"), int(5)]), "error: map: expected procedure, got 5");
        assert_eq!(
            run("%check", &[sym("map"), sym("list"), Value::cons(int(1), int(2))]),
            "error: map: expected list, got (1 . 2)"
        );
        assert_eq!(run("%check", &[sym("map"), sym("list"), Value::Null]), "()");
        assert_eq!(
            run("%check", &[sym("vector-map"), sym("vector"), int(1)]),
            "error: vector-map: expected vector, got 1"
        );
        assert_eq!(
            run("%check", &[sym("stream-map"), sym("stream"), int(1)]),
            "error: stream-map: expected stream, got 1"
        );
        assert_eq!(
            run("%check", &[sym("hash-ref"), sym("hash-table"), int(1)]),
            "error: hash-ref: expected hash table, got 1"
        );
        assert_eq!(
            run("%check", &[sym("stream-ref"), sym("count"), int(-1)]),
            "error: stream-ref: expected non-negative exact integer, got -1"
        );
        assert_eq!(
            run("%check", &[sym("map"), sym("lists"), list(&[ints(&[1]), int(2)])]),
            "error: map: expected list, got 2"
        );
        assert_eq!(run("%check", &[sym("map"), sym("lists"), list(&[ints(&[1]), ints(&[])])]), "((1) ())");
        assert_eq!(
            run("%check", &[sym("stream-append"), sym("streams"), list(&[Value::Null, s("x")])]),
            "error: stream-append: expected stream, got \"x\""
        );
        assert_eq!(
            run("%check", &[sym("stream-cdr"), sym("stream-pair"), Value::Null]),
            "error: stream-cdr: expected stream pair, got ()"
        );
        assert_eq!(run("%check-arity", &[sym("hash-ref"), int(2), int(3), ints(&[1])]), "#<unspecified>");
        assert_eq!(
            run("%check-arity", &[sym("hash-ref"), int(2), int(3), ints(&[1, 2])]),
            "error: #<procedure hash-ref>: expected 2 to 3 arguments, got 4"
        );
        assert_eq!(
            run("%error", &[sym("stream-ref"), s("index"), int(5), s("out of range")]),
            "error: stream-ref: index 5 out of range"
        );
    }
}
