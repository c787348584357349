//! Raising errors and taking error objects apart (docs/reference.md, Errors and control; docs/language.md §6).

use super::{prim, Ctx};
use crate::error::{Error, ErrorKind};
use crate::printer::{display_string, error_object_text, write_short};
use crate::value::{ErrorObject, Object, Primitive, Value};

pub const PRIMITIVES: &[Primitive] = &[
    prim("error", 1, None, error),
    prim("raise", 1, Some(1), raise),
    prim("error-object?", 1, Some(1), is_error_object),
    prim("error-object-message", 1, Some(1), error_object_message),
    prim("error-object-irritants", 1, Some(1), error_object_irritants),
    prim("assert", 1, None, assert),
    prim("exit", 0, Some(1), exit),
];

type R = Result<Value, Error>;

/// The error object of `(error …)`, in either shape:
/// - `(error "msg" irritant…)`: the message is msg;
/// - `(error 'type "msg" data…)`: the type is shown as `type: ` before msg, and a lone `'()`
///   datum is dropped;
/// - any other first argument is displayed to make the message.
pub fn make_error_object(args: &[Value]) -> ErrorObject {
    match args {
        [Value::Str(msg), irritants @ ..] => {
            ErrorObject { kind: None, message: msg.clone(), irritants: irritants.to_vec() }
        }
        [Value::Symbol(kind), Value::Str(msg), data @ ..] => {
            let irritants = match data {
                [Value::Null] => Vec::new(),
                _ => data.to_vec(),
            };
            ErrorObject { kind: Some(*kind), message: msg.clone(), irritants }
        }
        [first, irritants @ ..] => {
            ErrorObject { kind: None, message: display_string(first).into(), irritants: irritants.to_vec() }
        }
        [] => ErrorObject { kind: None, message: "error".into(), irritants: Vec::new() },
    }
}

/// An error that carries `object` as what `guard` binds.
fn raise_error_object(object: ErrorObject) -> Error {
    let mut e = Error::new(error_object_text(&object));
    e.payload = Some(Value::object(Object::Error(object)));
    e
}

fn error(_: &mut Ctx, args: &[Value]) -> R {
    Err(raise_error_object(make_error_object(args)))
}

/// `(raise obj)`: an error object keeps its message; any other value is
/// `uncaught raise: VALUE` until a `guard` catches it.
fn raise(_: &mut Ctx, args: &[Value]) -> R {
    let obj = &args[0];
    let message = match obj {
        Value::Object(o) => match &**o {
            Object::Error(e) => error_object_text(e),
            _ => format!("uncaught raise: {}", write_short(obj)),
        },
        _ => format!("uncaught raise: {}", write_short(obj)),
    };
    let mut e = Error::new(message);
    e.payload = Some(obj.clone());
    Err(e)
}

fn is_error_object(_: &mut Ctx, args: &[Value]) -> R {
    Ok(Value::Bool(matches!(&args[0], Value::Object(o) if matches!(**o, Object::Error(_)))))
}

/// The message without the type and irritants.
fn error_object_message(_: &mut Ctx, args: &[Value]) -> R {
    if let Value::Object(o) = &args[0] {
        if let Object::Error(e) = &**o {
            return Ok(Value::Str(e.message.clone()));
        }
    }
    Err(Error::wrong_type("error-object-message", "error object", &args[0]))
}

fn error_object_irritants(_: &mut Ctx, args: &[Value]) -> R {
    if let Value::Object(o) = &args[0] {
        if let Object::Error(e) = &**o {
            return Ok(Value::list(e.irritants.clone()));
        }
    }
    Err(Error::wrong_type("error-object-irritants", "error object", &args[0]))
}

/// `(assert v [message irritant…])`: `assertion failed`, then the message as `error` makes it.
fn assert(_: &mut Ctx, args: &[Value]) -> R {
    if args[0].is_true() {
        return Ok(Value::Unspecified);
    }
    let mut message = String::from("assertion failed");
    if args.len() > 1 {
        message.push_str(": ");
        message.push_str(&error_object_text(&make_error_object(&args[1..])));
    }
    Err(raise_error_object(ErrorObject { kind: None, message: message.into(), irritants: Vec::new() }))
}

/// `(exit [code])`: ends the run; `#t` or nothing is 0, `#f` is 1.
fn exit(_: &mut Ctx, args: &[Value]) -> R {
    let code = match args.first() {
        None | Some(Value::Bool(true)) => 0,
        Some(Value::Bool(false)) => 1,
        Some(Value::Int(i)) => i32::try_from(*i).unwrap_or(1),
        Some(v) => return Err(Error::wrong_type("exit", "exit code", v)),
    };
    Err(Error::with_kind(ErrorKind::Exit(code), format!("exit {code}")))
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::Ctx;
    use crate::error::ErrorKind;
    use crate::value::Value;

    fn condition(name: &str, args: &[Value]) -> Value {
        call(name, args).unwrap_err().condition()
    }

    #[test]
    fn both_shapes_of_error() {
        assert_eq!(run("error", &[s("boom:"), int(42), sym("x"), s("s")]), "error: boom: 42 x \"s\"");
        assert_eq!(run("error", &[sym("fatal"), s("Something broke"), Value::Null]), "error: fatal: Something broke");
        assert_eq!(run("error", &[sym("fatal"), s("bad"), int(1), int(2)]), "error: fatal: bad 1 2");
        assert_eq!(run("error", &[sym("oops")]), "error: oops");
        assert_eq!(run("error", &[sym("oops"), int(1)]), "error: oops 1");
        assert_eq!(run("error", &[s("bad thing")]), "error: bad thing");
    }

    #[test]
    fn error_objects() {
        let e = condition("error", &[s("bad thing"), int(1)]);
        assert_eq!(run("error-object?", &[e.clone()]), "#t");
        assert_eq!(run("error-object-message", &[e.clone()]), "\"bad thing\"");
        assert_eq!(run("error-object-irritants", &[e.clone()]), "(1)");
        assert_eq!(show(Ok(e)), "#<error \"bad thing 1\">");
        let typed = condition("error", &[sym("fatal"), s("Something broke"), Value::Null]);
        assert_eq!(run("error-object-message", &[typed.clone()]), "\"Something broke\"");
        assert_eq!(run("error-object-irritants", &[typed]), "()");
        assert_eq!(run("error-object?", &[s("x")]), "#f");
        assert_eq!(run("error-object-message", &[int(1)]), "error: error-object-message: expected error object, got 1");
        let primitive_error = call("car", &[Value::Null]).unwrap_err().condition();
        assert_eq!(run("error-object-message", &[primitive_error]), "\"car: expected pair, got ()\"");
    }

    #[test]
    fn raise_keeps_the_value() {
        let e = call("raise", &[sym("oops")]).unwrap_err();
        assert_eq!(e.message, "uncaught raise: oops");
        assert_eq!(show(Ok(e.condition())), "oops");
        let obj = condition("error", &[s("inner")]);
        let e = call("raise", &[obj]).unwrap_err();
        assert_eq!(e.message, "inner");
    }

    #[test]
    fn assert_and_exit() {
        assert_eq!(run("assert", &[int(1)]), "#<unspecified>");
        assert_eq!(run("assert", &[Value::Bool(false)]), "error: assertion failed");
        assert_eq!(
            run("assert", &[Value::Bool(false), s("x must be positive:"), int(-1)]),
            "error: assertion failed: x must be positive: -1"
        );
        let mut c = Ctx::new(Box::new(SharedOutput::default()));
        let e = call_in(&mut c, "exit", &[]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Exit(0));
        assert!(!e.is_catchable());
        assert_eq!(call("exit", &[int(3)]).unwrap_err().kind, ErrorKind::Exit(3));
        assert_eq!(call("exit", &[Value::Bool(false)]).unwrap_err().kind, ErrorKind::Exit(1));
    }
}
