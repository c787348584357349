//! `promise?` and the stream procedures that need no forcing (docs/reference.md,
//! Promises and streams); `make-promise` and `force` are the machine's. A stream is `()` or a pair whose cdr is a promise; `stream-cdr` and everything
//! that forces are in the prelude, since forcing runs Omega code.

use std::cell::RefCell;

use super::{boolean, list_arg, prim, Ctx};
use crate::error::Error;
use crate::value::{Object, Primitive, Promise, Value};

pub const PRIMITIVES: &[Primitive] = &[
    prim("promise?", 1, Some(1), is_promise),
    prim("stream-car", 1, Some(1), stream_car),
    prim("stream-null?", 1, Some(1), stream_null),
    prim("stream-pair?", 1, Some(1), stream_pair),
    prim("list->stream", 1, Some(1), list_to_stream),
    prim("stream", 0, None, stream),
];

type R = Result<Value, Error>;

fn is_promise_value(v: &Value) -> bool {
    matches!(v, Value::Object(o) if matches!(**o, Object::Promise(_)))
}

fn forced(v: Value) -> Value {
    Value::object(Object::Promise(RefCell::new(Promise::Forced(v))))
}

fn is_promise(_: &mut Ctx, args: &[Value]) -> R {
    boolean(is_promise_value(&args[0]))
}

fn stream_car(_: &mut Ctx, args: &[Value]) -> R {
    match &args[0] {
        Value::Pair(p) => Ok(p.car()),
        v => Err(Error::wrong_type("stream-car", "stream pair", v)),
    }
}

fn stream_null(_: &mut Ctx, args: &[Value]) -> R {
    boolean(args[0].is_null())
}

fn stream_pair(_: &mut Ctx, args: &[Value]) -> R {
    boolean(matches!(&args[0], Value::Pair(p) if is_promise_value(&p.cdr.borrow())))
}

/// A finite stream of the items, built eagerly with already-forced promises.
fn stream_of(items: Vec<Value>) -> Value {
    items.into_iter().rev().fold(Value::Null, |rest, item| Value::cons(item, forced(rest)))
}

fn list_to_stream(_: &mut Ctx, args: &[Value]) -> R {
    Ok(stream_of(list_arg("list->stream", &args[0])?))
}

fn stream(_: &mut Ctx, args: &[Value]) -> R {
    Ok(stream_of(args.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use crate::value::{Object, Promise, Value};

    fn cdr_value(v: &Value) -> Value {
        let Value::Pair(p) = v else { panic!("not a pair") };
        let Value::Object(o) = p.cdr() else { panic!("cdr is not a promise") };
        let Object::Promise(cell) = &*o else { panic!("cdr is not a promise") };
        let Promise::Forced(rest) = &*cell.borrow() else { panic!("not forced") };
        rest.clone()
    }

    #[test]
    fn promises() {
        let st = call("stream", &[int(1)]).unwrap();
        let Value::Pair(p) = &st else { panic!("not a pair") };
        assert_eq!(show(Ok(p.cdr())), "#<promise>");
        assert_eq!(run("promise?", &[p.cdr()]), "#t");
        assert_eq!(run("promise?", &[int(1)]), "#f");
    }

    #[test]
    fn streams_from_lists() {
        let st = call("list->stream", &[ints(&[1, 2])]).unwrap();
        assert_eq!(run("stream-pair?", &[st.clone()]), "#t");
        assert_eq!(run("stream-car", &[st.clone()]), "1");
        let rest = cdr_value(&st);
        assert_eq!(run("stream-car", &[rest.clone()]), "2");
        assert_eq!(run("stream-null?", &[cdr_value(&rest)]), "#t");
        assert_eq!(run("stream-null?", &[st]), "#f");
        assert_eq!(run("stream-pair?", &[ints(&[1, 2])]), "#f");
        let st = call("stream", &[sym("a")]).unwrap();
        assert_eq!(run("stream-car", &[st]), "a");
        assert_eq!(run("stream", &[]), "()");
        assert_eq!(run("stream-car", &[Value::Null]), "error: stream-car: expected stream pair, got ()");
        assert_eq!(run("list->stream", &[int(1)]), "error: list->stream: expected list, got 1");
    }
}
