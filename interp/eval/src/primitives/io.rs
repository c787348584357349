//! Output (docs/reference.md, Output, reading and evaluation): everything goes to the session's output sink, `ctx.out`.

use super::{prim, str_arg, unspecified, Ctx};
use crate::error::Error;
use crate::printer::{display_string, write_string};
use crate::value::{Primitive, Value};

pub const PRIMITIVES: &[Primitive] = &[
    prim("display", 1, Some(1), display),
    prim("write", 1, Some(1), write),
    prim("newline", 0, Some(0), newline),
    prim("write-string", 1, Some(1), write_str),
    prim("print", 0, None, print),
    prim("read", 1, Some(1), read),
];

type R = Result<Value, Error>;

/// The unspecified value, or the error of an output that cannot be written.
fn written(ctx: &mut Ctx) -> R {
    match ctx.out.failure() {
        Some(why) => Err(Error::new(why)),
        None => unspecified(),
    }
}

fn display(ctx: &mut Ctx, args: &[Value]) -> R {
    ctx.out.write_str(&display_string(&args[0]));
    written(ctx)
}

fn write(ctx: &mut Ctx, args: &[Value]) -> R {
    ctx.out.write_str(&write_string(&args[0]));
    written(ctx)
}

fn newline(ctx: &mut Ctx, _: &[Value]) -> R {
    ctx.out.write_str("\n");
    written(ctx)
}

fn write_str(ctx: &mut Ctx, args: &[Value]) -> R {
    let s = str_arg("write-string", &args[0])?;
    ctx.out.write_str(s);
    written(ctx)
}

/// Displays the arguments separated by spaces, then a newline.
fn print(ctx: &mut Ctx, args: &[Value]) -> R {
    let parts: Vec<String> = args.iter().map(display_string).collect();
    ctx.out.write_str(&parts.join(" "));
    ctx.out.write_str("\n");
    written(ctx)
}

/// `(read s)`: the first datum written in the string s, as `quote` would give it.
fn read(_: &mut Ctx, args: &[Value]) -> R {
    let text = str_arg("read", &args[0])?;
    let parsed = crate::reader::read(text);
    if let Some(e) = parsed.errors.first() {
        return Err(Error::new(format!("read: {}", e.message)));
    }
    match parsed.data.first() {
        Some(datum) => Ok(crate::compile::datum_to_value(datum)),
        None => Err(Error::wrong_type("read", "string holding a datum", &args[0])),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::Ctx;

    #[test]
    fn output_goes_to_the_sink() {
        let out = SharedOutput::default();
        let mut c = Ctx::new(Box::new(out.clone()));
        call_in(&mut c, "display", &[s("a\"b")]).unwrap();
        call_in(&mut c, "newline", &[]).unwrap();
        call_in(&mut c, "write", &[s("a\"b\n")]).unwrap();
        call_in(&mut c, "newline", &[]).unwrap();
        assert_eq!(out.0.borrow().as_str(), "a\"b\n\"a\\\"b\\n\"\n");
        out.0.borrow_mut().clear();
        call_in(&mut c, "print", &[s("x"), int(1), list(&[s("y")])]).unwrap();
        call_in(&mut c, "print", &[]).unwrap();
        call_in(&mut c, "write-string", &[s("raw\"")]).unwrap();
        assert_eq!(out.0.borrow().as_str(), "x 1 (y)\n\nraw\"");
        assert_eq!(show(call_in(&mut c, "display", &[int(1)])), "#<unspecified>");
        assert_eq!(show(call_in(&mut c, "write-string", &[int(1)])), "error: write-string: expected string, got 1");
    }

    #[test]
    fn read_parses_one_datum() {
        assert_eq!(run("read", &[s("(1 \"a\" #(b) . c) 2")]), "(1 \"a\" #(b) . c)");
        assert_eq!(run("read", &[s("  'x")]), "(quote x)");
        assert_eq!(run("read", &[s("")]), "error: read: expected string holding a datum, got \"\"");
        assert_eq!(run("read", &[int(1)]), "error: read: expected string, got 1");
        assert!(run("read", &[s("(1 2")]).starts_with("error: read: "));
    }
}
