//! Constructors of serializers and mutexes (docs/language.md §8.2, §8.3). Acquiring and releasing is
//! the machine's job: it can block the task.

use std::rc::Rc;

use super::{prim, Ctx};
use crate::error::Error;
use crate::lock::Lock;
use crate::value::{Object, Primitive, Value};

pub const PRIMITIVES: &[Primitive] =
    &[prim("make-serializer", 0, Some(1), make_serializer), prim("make-mutex", 0, Some(1), make_mutex)];

type R = Result<Value, Error>;

/// The optional name argument: a string or a symbol. Without one the lock is unnamed, and
/// the machine names it after the first variable it is bound to.
fn name_arg(name: &str, args: &[Value]) -> Result<Option<Rc<str>>, Error> {
    match args.first() {
        None => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s.clone())),
        Some(Value::Symbol(s)) => Ok(Some(Rc::from(s.as_str()))),
        Some(v) => Err(Error::wrong_type(name, "string or symbol", v)),
    }
}

fn make_serializer(ctx: &mut Ctx, args: &[Value]) -> R {
    let lock = Lock::new(name_arg("make-serializer", args)?, ctx.fresh_id());
    Ok(Value::object(Object::Serializer(Rc::new(lock))))
}

fn make_mutex(ctx: &mut Ctx, args: &[Value]) -> R {
    let lock = Lock::new(name_arg("make-mutex", args)?, ctx.fresh_id());
    Ok(Value::object(Object::Mutex(Rc::new(lock))))
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    #[test]
    fn named_locks_print_their_names() {
        assert_eq!(run("make-serializer", &[s("glossary")]), "#<serializer glossary>");
        assert_eq!(run("make-serializer", &[sym("s")]), "#<serializer s>");
        assert_eq!(run("make-mutex", &[s("m")]), "#<mutex m>");
        assert_eq!(run("make-serializer", &[int(1)]), "error: make-serializer: expected string or symbol, got 1");
        let s = call("make-serializer", &[]).unwrap();
        assert!(s.is_procedure());
    }
}
