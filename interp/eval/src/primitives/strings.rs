//! Strings and symbols (docs/reference.md, Strings and symbols). Strings are immutable sequences of Unicode
//! scalar values; lengths and indices count characters, not bytes.

use std::rc::Rc;

use super::{
    boolean, build_list, collect_polled, index_arg, index_error, list_arg, prim, reserve_list, reserve_text, str_arg,
    unspecified, Ctx,
};
use crate::error::Error;
use crate::printer::{display_string, write_string};
use crate::symbol::Symbol;
use crate::value::{Primitive, Value};

pub const PRIMITIVES: &[Primitive] = &[
    prim("string-length", 1, Some(1), string_length),
    prim("string-append", 0, None, string_append),
    prim("substring", 2, Some(3), substring),
    prim("string=?", 1, None, string_eq),
    prim("string<?", 1, None, string_lt),
    prim("string>?", 1, None, string_gt),
    prim("string<=?", 1, None, string_le),
    prim("string>=?", 1, None, string_ge),
    prim("string-upcase", 1, Some(1), string_upcase),
    prim("string-downcase", 1, Some(1), string_downcase),
    prim("string-trim", 1, Some(1), string_trim),
    prim("string-contains?", 2, Some(2), string_contains),
    prim("string-split", 2, Some(2), string_split),
    prim("string-join", 1, Some(2), string_join),
    prim("string-replace-all", 3, Some(3), string_replace_all),
    prim("symbol->string", 1, Some(1), symbol_to_string),
    prim("string->symbol", 1, Some(1), string_to_symbol),
    prim("string-ci=?", 1, None, string_ci_eq),
    prim("string-prefix?", 2, Some(2), string_prefix),
    prim("string-suffix?", 2, Some(2), string_suffix),
    prim("string-trim-left", 1, Some(1), string_trim_left),
    prim("string-trim-right", 1, Some(1), string_trim_right),
    prim("string-copy", 1, Some(1), string_copy),
    prim("string-ref", 2, Some(2), string_ref),
    prim("string->list", 1, Some(1), string_to_list),
    prim("list->string", 1, Some(1), list_to_string),
    prim("string", 0, None, string),
    prim("format", 1, None, format),
    prim("gensym", 0, Some(1), gensym),
];

type R = Result<Value, Error>;

fn text(s: impl AsRef<str>) -> R {
    Ok(Value::str(s.as_ref()))
}

fn char_count(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.chars().count()
    }
}

/// The byte offset of character `i` (`i` may be the length).
fn byte_offset(s: &str, i: usize) -> usize {
    if s.is_ascii() {
        i
    } else {
        s.char_indices().nth(i).map_or(s.len(), |(b, _)| b)
    }
}

fn string_length(_: &mut Ctx, args: &[Value]) -> R {
    Ok(Value::Int(char_count(str_arg("string-length", &args[0])?) as i64))
}

fn string_append(ctx: &mut Ctx, args: &[Value]) -> R {
    let mut total = 0usize;
    for a in args {
        total = total.saturating_add(str_arg("string-append", a)?.len());
    }
    // The text is built, then copied into the string value: twice its size for a moment.
    reserve_text(ctx, total.saturating_mul(2))?;
    // Huge texts grow as they are built, so one stopped midway never held its whole size.
    let mut out = String::with_capacity(total.min(1 << 20));
    for a in args {
        let s = str_arg("string-append", a)?;
        ctx.budget.progress(1 + s.len() as u64 / 64)?;
        out.push_str(s);
    }
    text(out)
}

fn substring(_: &mut Ctx, args: &[Value]) -> R {
    let s = str_arg("substring", &args[0])?;
    let len = char_count(s);
    let start = index_arg("substring", &args[1], len, true)?;
    let end = match args.get(2) {
        Some(e) => index_arg("substring", e, len, true)?,
        None => len,
    };
    if start > end {
        return Err(index_error("substring", start as i64));
    }
    text(&s[byte_offset(s, start)..byte_offset(s, end)])
}

fn compare_chain(name: &str, args: &[Value], fold_case: bool, holds: fn(std::cmp::Ordering) -> bool) -> R {
    let mut strings = Vec::with_capacity(args.len());
    for a in args {
        let s = str_arg(name, a)?;
        strings.push(if fold_case { Rc::from(s.to_lowercase()) } else { s.clone() });
    }
    boolean(strings.windows(2).all(|w| holds(w[0].cmp(&w[1]))))
}

fn string_eq(_: &mut Ctx, args: &[Value]) -> R {
    compare_chain("string=?", args, false, |o| o.is_eq())
}

fn string_lt(_: &mut Ctx, args: &[Value]) -> R {
    compare_chain("string<?", args, false, |o| o.is_lt())
}

fn string_gt(_: &mut Ctx, args: &[Value]) -> R {
    compare_chain("string>?", args, false, |o| o.is_gt())
}

fn string_le(_: &mut Ctx, args: &[Value]) -> R {
    compare_chain("string<=?", args, false, |o| o.is_le())
}

fn string_ge(_: &mut Ctx, args: &[Value]) -> R {
    compare_chain("string>=?", args, false, |o| o.is_ge())
}

fn string_ci_eq(_: &mut Ctx, args: &[Value]) -> R {
    compare_chain("string-ci=?", args, true, |o| o.is_eq())
}

fn string_upcase(_: &mut Ctx, args: &[Value]) -> R {
    text(str_arg("string-upcase", &args[0])?.to_uppercase())
}

fn string_downcase(_: &mut Ctx, args: &[Value]) -> R {
    text(str_arg("string-downcase", &args[0])?.to_lowercase())
}

fn string_trim(_: &mut Ctx, args: &[Value]) -> R {
    text(str_arg("string-trim", &args[0])?.trim())
}

fn string_trim_left(_: &mut Ctx, args: &[Value]) -> R {
    text(str_arg("string-trim-left", &args[0])?.trim_start())
}

fn string_trim_right(_: &mut Ctx, args: &[Value]) -> R {
    text(str_arg("string-trim-right", &args[0])?.trim_end())
}

fn string_contains(_: &mut Ctx, args: &[Value]) -> R {
    let s = str_arg("string-contains?", &args[0])?;
    boolean(s.contains(&**str_arg("string-contains?", &args[1])?))
}

/// `(string-prefix? s prefix)`: the string first, as `string-contains?` has it.
fn string_prefix(_: &mut Ctx, args: &[Value]) -> R {
    let s = str_arg("string-prefix?", &args[0])?;
    boolean(s.starts_with(&**str_arg("string-prefix?", &args[1])?))
}

fn string_suffix(_: &mut Ctx, args: &[Value]) -> R {
    let s = str_arg("string-suffix?", &args[0])?;
    boolean(s.ends_with(&**str_arg("string-suffix?", &args[1])?))
}

/// Splits at every occurrence of `delim`, keeping empty fields; `""` splits into characters.
fn string_split(ctx: &mut Ctx, args: &[Value]) -> R {
    let s = str_arg("string-split", &args[0])?;
    let delim = str_arg("string-split", &args[1])?;
    let fields = if delim.is_empty() { s.len() } else { s.matches(&**delim).count() + 1 };
    reserve_list(ctx, fields)?;
    reserve_text(ctx, s.len() + fields * 16)?;
    let fields = if delim.is_empty() {
        collect_polled(ctx, s.chars().map(|c| Value::str(c.encode_utf8(&mut [0; 4]))))?
    } else {
        collect_polled(ctx, s.split(&**delim).map(Value::str))?
    };
    build_list(ctx, fields, Value::Null)
}

fn string_join(ctx: &mut Ctx, args: &[Value]) -> R {
    let items = list_arg("string-join", &args[0])?;
    let delim = match args.get(1) {
        Some(d) => str_arg("string-join", d)?.clone(),
        None => Rc::from(" "),
    };
    let mut total = delim.len().saturating_mul(items.len());
    for item in &items {
        total = total.saturating_add(str_arg("string-join", item)?.len());
    }
    reserve_text(ctx, total)?;
    let mut out = String::new();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(&delim);
        }
        let s = str_arg("string-join", item)?;
        ctx.budget.progress(1 + (delim.len() + s.len()) as u64 / 64)?;
        out.push_str(s);
    }
    text(out)
}

fn string_replace_all(ctx: &mut Ctx, args: &[Value]) -> R {
    let s = str_arg("string-replace-all", &args[0])?;
    let old = str_arg("string-replace-all", &args[1])?;
    let new = str_arg("string-replace-all", &args[2])?;
    if old.is_empty() {
        return Err(Error::wrong_type("string-replace-all", "non-empty search string", &args[1]));
    }
    let hits = s.matches(&**old).count();
    reserve_text(ctx, s.len().saturating_add(hits.saturating_mul(new.len())))?;
    text(s.replace(&**old, new))
}

fn symbol_to_string(_: &mut Ctx, args: &[Value]) -> R {
    match &args[0] {
        Value::Symbol(s) => text(s.as_str()),
        v => Err(Error::wrong_type("symbol->string", "symbol", v)),
    }
}

fn string_to_symbol(_: &mut Ctx, args: &[Value]) -> R {
    Ok(Value::Symbol(Symbol::intern(str_arg("string->symbol", &args[0])?)))
}

fn string_copy(_: &mut Ctx, args: &[Value]) -> R {
    Ok(Value::Str(str_arg("string-copy", &args[0])?.clone()))
}

fn string_ref(_: &mut Ctx, args: &[Value]) -> R {
    let s = str_arg("string-ref", &args[0])?;
    let i = index_arg("string-ref", &args[1], char_count(s), false)?;
    Ok(Value::Char(s.chars().nth(i).expect("index checked")))
}

fn string_to_list(ctx: &mut Ctx, args: &[Value]) -> R {
    let s = str_arg("string->list", &args[0])?;
    reserve_list(ctx, s.len())?;
    let chars = collect_polled(ctx, s.chars().map(Value::Char))?;
    build_list(ctx, chars, Value::Null)
}

fn chars_to_string(name: &str, items: &[Value]) -> R {
    let mut out = String::with_capacity(items.len());
    for item in items {
        match item {
            Value::Char(c) => out.push(*c),
            v => return Err(Error::wrong_type(name, "char", v)),
        }
    }
    text(out)
}

fn list_to_string(_: &mut Ctx, args: &[Value]) -> R {
    chars_to_string("list->string", &list_arg("list->string", &args[0])?)
}

fn string(_: &mut Ctx, args: &[Value]) -> R {
    chars_to_string("string", args)
}

/// `(format [#t|#f] fmt arg…)` with `~a` (display), `~s` (write), `~%` and `~~`. A `#t`
/// destination prints the text; otherwise it is returned.
fn format(ctx: &mut Ctx, args: &[Value]) -> R {
    let (to_output, rest) = match &args[0] {
        Value::Bool(b) => (*b, &args[1..]),
        _ => (false, args),
    };
    let Some((fmt, values)) = rest.split_first() else {
        return Err(Error::new("format: expected a format string"));
    };
    let fmt = str_arg("format", fmt)?;
    let mut out = String::new();
    let mut values = values.iter();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '~' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(d @ ('a' | 'A' | 's' | 'S')) => {
                let Some(v) = values.next() else {
                    return Err(Error::new(format!("format: too few arguments for {}", write_string(&args[0]))));
                };
                out.push_str(&if d.eq_ignore_ascii_case(&'a') { display_string(v) } else { write_string(v) });
            }
            Some('%') => out.push('\n'),
            Some('~') => out.push('~'),
            Some(d) => return Err(Error::new(format!("format: unknown directive ~{d}"))),
            None => return Err(Error::new("format: format string ends with ~")),
        }
    }
    if to_output {
        ctx.out.write_str(&out);
        unspecified()
    } else {
        text(out)
    }
}

/// A fresh uninterned symbol: `g1`, `g2` … or `PREFIX1` ….
fn gensym(ctx: &mut Ctx, args: &[Value]) -> R {
    let prefix = match args.first() {
        None => "g".to_string(),
        Some(Value::Str(s)) => s.to_string(),
        Some(Value::Symbol(s)) => s.as_str().to_string(),
        Some(v) => return Err(Error::wrong_type("gensym", "string or symbol", v)),
    };
    ctx.gensym_counter += 1;
    Ok(Value::Symbol(Symbol::uninterned(&format!("{prefix}{}", ctx.gensym_counter))))
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use crate::value::Value;

    #[test]
    fn lengths_and_slices_count_characters() {
        assert_eq!(run("string-length", &[s("héllo")]), "5");
        assert_eq!(run("string-length", &[sym("a")]), "error: string-length: expected string, got a");
        assert_eq!(run("substring", &[s("hello"), int(1), int(3)]), "\"el\"");
        assert_eq!(run("substring", &[s("héllo"), int(1)]), "\"éllo\"");
        assert_eq!(run("substring", &[s("héllo"), int(1), int(2)]), "\"é\"");
        assert_eq!(run("substring", &[s("abc"), int(3)]), "\"\"");
        assert_eq!(run("substring", &[s("abc"), int(1), int(5)]), "error: substring: index 5 out of range");
        assert_eq!(run("substring", &[s("abc"), int(2), int(1)]), "error: substring: index 2 out of range");
        assert_eq!(run("string-ref", &[s("héllo"), int(1)]), "#\\é");
        assert_eq!(run("string-ref", &[s("abc"), int(3)]), "error: string-ref: index 3 out of range");
    }

    #[test]
    fn conformance_string_operations() {
        assert_eq!(run("string-split", &[s("a,b,,c"), s(",")]), r#"("a" "b" "" "c")"#);
        assert_eq!(run("string-split", &[s("abc"), s("")]), r#"("a" "b" "c")"#);
        assert_eq!(run("string-split", &[s("a::b"), s("::")]), r#"("a" "b")"#);
        assert_eq!(run("string-join", &[list(&[s("x"), s("y")]), s(", ")]), "\"x, y\"");
        assert_eq!(run("string-join", &[list(&[s("x"), s("y")])]), "\"x y\"");
        assert_eq!(run("string-join", &[Value::Null]), "\"\"");
        assert_eq!(run("string-join", &[list(&[s("x"), int(5)])]), "error: string-join: expected string, got 5");
        assert_eq!(run("string-replace-all", &[s("a-b-c"), s("-"), s("+")]), "\"a+b+c\"");
        assert_eq!(run("string-replace-all", &[s("aaa"), s("aa"), s("b")]), "\"ba\"");
        assert_eq!(
            run("string-replace-all", &[s("abc"), s(""), s("x")]),
            "error: string-replace-all: expected non-empty search string, got \"\""
        );
        assert_eq!(run("string-trim", &[s("  hi ")]), "\"hi\"");
        assert_eq!(run("string-trim", &[s("\u{3000}\thi\n")]), "\"hi\"");
        assert_eq!(run("string-trim-left", &[s("  hi ")]), "\"hi \"");
        assert_eq!(run("string-trim-right", &[s("  hi ")]), "\"  hi\"");
        assert_eq!(run("string-upcase", &[s("abc")]), "\"ABC\"");
        assert_eq!(run("string-downcase", &[s("ÀB")]), "\"àb\"");
        assert_eq!(run("string-contains?", &[s("hello"), s("ell")]), "#t");
        assert_eq!(run("string-contains?", &[s("hello"), s("xyz")]), "#f");
        assert_eq!(run("string-prefix?", &[s("hello"), s("he")]), "#t");
        assert_eq!(run("string-suffix?", &[s("hello"), s("he")]), "#f");
    }

    #[test]
    fn comparisons_and_conversions() {
        assert_eq!(run("string<?", &[s("apple"), s("banana")]), "#t");
        assert_eq!(run("string=?", &[s("a"), s("a"), s("a")]), "#t");
        assert_eq!(run("string>?", &[s("b"), s("a")]), "#t");
        assert_eq!(run("string<=?", &[s("a"), s("a")]), "#t");
        assert_eq!(run("string>=?", &[s("a"), s("b")]), "#f");
        assert_eq!(run("string-ci=?", &[s("AbC"), s("aBc")]), "#t");
        assert_eq!(run("string=?", &[s("a"), sym("a")]), "error: string=?: expected string, got a");
        assert_eq!(run("string-append", &[s("a"), s("b"), s("")]), "\"ab\"");
        assert_eq!(run("string-append", &[]), "\"\"");
        assert_eq!(run("string-append", &[s("a"), int(5)]), "error: string-append: expected string, got 5");
        assert_eq!(run("symbol->string", &[sym("bar")]), "\"bar\"");
        assert_eq!(run("symbol->string", &[s("bar")]), "error: symbol->string: expected symbol, got \"bar\"");
        assert_eq!(run("string->symbol", &[s("foo")]), "foo");
        assert_eq!(run("string->list", &[s("ab")]), "(#\\a #\\b)");
        assert_eq!(run("list->string", &[list(&[Value::Char('a'), Value::Char('é')])]), "\"aé\"");
        assert_eq!(run("list->string", &[ints(&[1])]), "error: list->string: expected char, got 1");
        assert_eq!(run("string", &[Value::Char('x'), Value::Char('y')]), "\"xy\"");
        assert_eq!(run("string-copy", &[s("x")]), "\"x\"");
    }

    #[test]
    fn format_directives() {
        assert_eq!(run("format", &[s("x=~a y=~s~%~~"), s("a"), s("b")]), "\"x=a y=\\\"b\\\"\\n~\"");
        assert_eq!(run("format", &[Value::Bool(false), s("~a!"), int(1)]), "\"1!\"");
        assert_eq!(run("format", &[s("~a ~a"), int(1)]), "error: format: too few arguments for \"~a ~a\"");
        assert_eq!(run("format", &[s("~d"), int(1)]), "error: format: unknown directive ~d");
        let out = SharedOutput::default();
        let mut c = crate::primitives::Ctx::new(Box::new(out.clone()));
        assert_eq!(show(call_in(&mut c, "format", &[Value::Bool(true), s("n=~a~%"), int(3)])), "#<unspecified>");
        assert_eq!(out.0.borrow().as_str(), "n=3\n");
    }

    #[test]
    fn gensyms_are_fresh() {
        let mut c = ctx();
        let a = call_in(&mut c, "gensym", &[]).unwrap();
        let b = call_in(&mut c, "gensym", &[s("tmp")]).unwrap();
        assert_eq!(show(Ok(a.clone())), "g1");
        assert_eq!(show(Ok(b)), "tmp2");
        assert!(!crate::equality::eqv(&a, &sym("g1")));
    }
}
