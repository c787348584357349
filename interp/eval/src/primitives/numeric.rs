//! Arithmetic, comparison and numeric predicates (docs/reference.md, Numbers; docs/language.md §3).

use std::cmp::Ordering;

use super::{boolean, int_arg, prim, str_arg, Ctx};
use crate::error::Error;
use crate::numbers::{self, IntDivision, Num, Rounding};
use crate::value::{Primitive, Value};

pub const PRIMITIVES: &[Primitive] = &[
    prim("+", 0, None, add),
    prim("*", 0, None, mul),
    prim("-", 1, None, sub),
    prim("/", 1, None, div),
    prim("quotient", 2, Some(2), quotient),
    prim("remainder", 2, Some(2), remainder),
    prim("modulo", 2, Some(2), modulo),
    prim("abs", 1, Some(1), abs),
    prim("min", 1, None, min),
    prim("max", 1, None, max),
    prim("floor", 1, Some(1), floor),
    prim("ceiling", 1, Some(1), ceiling),
    prim("round", 1, Some(1), round),
    prim("truncate", 1, Some(1), truncate),
    prim("sqrt", 1, Some(1), sqrt),
    prim("expt", 2, Some(2), expt),
    prim("exact", 1, Some(1), exact),
    prim("inexact", 1, Some(1), inexact),
    prim("exact->inexact", 1, Some(1), exact_to_inexact),
    prim("inexact->exact", 1, Some(1), inexact_to_exact),
    prim("number->string", 1, Some(2), number_to_string),
    prim("string->number", 1, Some(2), string_to_number),
    prim("=", 1, None, num_eq),
    prim("<", 1, None, num_lt),
    prim(">", 1, None, num_gt),
    prim("<=", 1, None, num_le),
    prim(">=", 1, None, num_ge),
    prim("number?", 1, Some(1), is_number),
    prim("integer?", 1, Some(1), is_integer),
    prim("exact?", 1, Some(1), is_exact),
    prim("inexact?", 1, Some(1), is_inexact),
    prim("zero?", 1, Some(1), is_zero),
    prim("positive?", 1, Some(1), is_positive),
    prim("negative?", 1, Some(1), is_negative),
    prim("odd?", 1, Some(1), is_odd),
    prim("even?", 1, Some(1), is_even),
    prim("exp", 1, Some(1), exp),
    prim("log", 1, Some(2), log),
    prim("sin", 1, Some(1), sin),
    prim("cos", 1, Some(1), cos),
    prim("tan", 1, Some(1), tan),
    prim("asin", 1, Some(1), asin),
    prim("acos", 1, Some(1), acos),
    prim("atan", 1, Some(2), atan),
    prim("square", 1, Some(1), square),
    prim("gcd", 0, None, gcd),
    prim("lcm", 0, None, lcm),
    prim("exact-integer?", 1, Some(1), is_exact_integer),
    prim("nan?", 1, Some(1), is_nan),
    prim("random", 1, Some(1), random),
];

type R = Result<Value, Error>;

fn nums(name: &str, args: &[Value]) -> Result<Vec<Num>, Error> {
    args.iter().map(|a| Num::of(name, a)).collect()
}

fn fold(name: &str, args: &[Value], init: Num, op: fn(Num, Num) -> Result<Num, Error>) -> R {
    let mut acc = init;
    for a in args {
        acc = op(acc, Num::of(name, a)?)?;
    }
    Ok(acc.to_value())
}

fn add(_: &mut Ctx, args: &[Value]) -> R {
    fold("+", args, Num::Int(0), numbers::add)
}

fn mul(_: &mut Ctx, args: &[Value]) -> R {
    fold("*", args, Num::Int(1), numbers::mul)
}

fn sub(_: &mut Ctx, args: &[Value]) -> R {
    let first = Num::of("-", &args[0])?;
    if args.len() == 1 {
        return Ok(numbers::negate(first)?.to_value());
    }
    fold("-", &args[1..], first, numbers::sub)
}

fn div(_: &mut Ctx, args: &[Value]) -> R {
    let first = Num::of("/", &args[0])?;
    if args.len() == 1 {
        return Ok(numbers::div(Num::Int(1), first)?.to_value());
    }
    fold("/", &args[1..], first, numbers::div)
}

fn int_division(name: &str, op: IntDivision, args: &[Value]) -> R {
    let (a, b) = (Num::of(name, &args[0])?, Num::of(name, &args[1])?);
    Ok(numbers::int_division(name, op, a, b)?.to_value())
}

fn quotient(_: &mut Ctx, args: &[Value]) -> R {
    int_division("quotient", IntDivision::Quotient, args)
}

fn remainder(_: &mut Ctx, args: &[Value]) -> R {
    int_division("remainder", IntDivision::Remainder, args)
}

fn modulo(_: &mut Ctx, args: &[Value]) -> R {
    int_division("modulo", IntDivision::Modulo, args)
}

fn abs(_: &mut Ctx, args: &[Value]) -> R {
    Ok(numbers::abs(Num::of("abs", &args[0])?)?.to_value())
}

/// `min`/`max`: inexact if any argument is; NaN wins.
fn extremum(name: &str, args: &[Value], want: Ordering) -> R {
    let all = nums(name, args)?;
    let inexact = all.iter().any(|n| !n.is_exact());
    if all.iter().any(|n| n.to_f64().is_nan()) {
        return Ok(Value::Float(f64::NAN));
    }
    let mut best = all[0];
    for &n in &all[1..] {
        if numbers::compare(n, best) == Some(want) {
            best = n;
        }
    }
    Ok(if inexact { numbers::to_inexact(best) } else { best }.to_value())
}

fn min(_: &mut Ctx, args: &[Value]) -> R {
    extremum("min", args, Ordering::Less)
}

fn max(_: &mut Ctx, args: &[Value]) -> R {
    extremum("max", args, Ordering::Greater)
}

fn rounding(name: &str, how: Rounding, args: &[Value]) -> R {
    Ok(numbers::round(Num::of(name, &args[0])?, how).to_value())
}

fn floor(_: &mut Ctx, args: &[Value]) -> R {
    rounding("floor", Rounding::Floor, args)
}

fn ceiling(_: &mut Ctx, args: &[Value]) -> R {
    rounding("ceiling", Rounding::Ceiling, args)
}

fn round(_: &mut Ctx, args: &[Value]) -> R {
    rounding("round", Rounding::Round, args)
}

fn truncate(_: &mut Ctx, args: &[Value]) -> R {
    rounding("truncate", Rounding::Truncate, args)
}

fn sqrt(_: &mut Ctx, args: &[Value]) -> R {
    Ok(numbers::sqrt("sqrt", Num::of("sqrt", &args[0])?)?.to_value())
}

fn expt(_: &mut Ctx, args: &[Value]) -> R {
    let (base, exponent) = (Num::of("expt", &args[0])?, Num::of("expt", &args[1])?);
    Ok(numbers::expt(base, exponent)?.to_value())
}

fn to_exact(name: &str, args: &[Value]) -> R {
    Ok(numbers::to_exact(name, Num::of(name, &args[0])?)?.to_value())
}

fn to_inexact(name: &str, args: &[Value]) -> R {
    Ok(numbers::to_inexact(Num::of(name, &args[0])?).to_value())
}

fn exact(_: &mut Ctx, args: &[Value]) -> R {
    to_exact("exact", args)
}

fn inexact_to_exact(_: &mut Ctx, args: &[Value]) -> R {
    to_exact("inexact->exact", args)
}

fn inexact(_: &mut Ctx, args: &[Value]) -> R {
    to_inexact("inexact", args)
}

fn exact_to_inexact(_: &mut Ctx, args: &[Value]) -> R {
    to_inexact("exact->inexact", args)
}

fn radix_arg(name: &str, args: &[Value]) -> Result<u32, Error> {
    match args.get(1) {
        None => Ok(10),
        Some(v) => match int_arg(name, v)? {
            r @ 2..=36 => Ok(r as u32),
            _ => Err(Error::wrong_type(name, "radix between 2 and 36", v)),
        },
    }
}

fn number_to_string(_: &mut Ctx, args: &[Value]) -> R {
    let n = Num::of("number->string", &args[0])?;
    let radix = radix_arg("number->string", args)?;
    match numbers::number_to_string(n, radix) {
        Some(text) => Ok(Value::str(&text)),
        None => Err(Error::wrong_type("number->string", "exact integer for a radix other than 10", &args[0])),
    }
}

fn string_to_number(_: &mut Ctx, args: &[Value]) -> R {
    let text = str_arg("string->number", &args[0])?;
    let radix = radix_arg("string->number", args)?;
    Ok(numbers::string_to_number(text, radix).map_or(Value::Bool(false), Num::to_value))
}

/// A chain comparison: every argument is type-checked, NaN compares false.
fn chain(name: &str, args: &[Value], holds: fn(Ordering) -> bool) -> R {
    // Every argument is checked, even after the answer is known.
    let mut prev = Num::of(name, &args[0])?;
    let mut all = true;
    for a in &args[1..] {
        let n = Num::of(name, a)?;
        all &= numbers::compare(prev, n).is_some_and(holds);
        prev = n;
    }
    boolean(all)
}

fn num_eq(_: &mut Ctx, args: &[Value]) -> R {
    chain("=", args, Ordering::is_eq)
}

fn num_lt(_: &mut Ctx, args: &[Value]) -> R {
    chain("<", args, Ordering::is_lt)
}

fn num_gt(_: &mut Ctx, args: &[Value]) -> R {
    chain(">", args, Ordering::is_gt)
}

fn num_le(_: &mut Ctx, args: &[Value]) -> R {
    chain("<=", args, Ordering::is_le)
}

fn num_ge(_: &mut Ctx, args: &[Value]) -> R {
    chain(">=", args, Ordering::is_ge)
}

fn is_number(_: &mut Ctx, args: &[Value]) -> R {
    boolean(matches!(args[0], Value::Int(_) | Value::Float(_)))
}

fn is_integer(_: &mut Ctx, args: &[Value]) -> R {
    boolean(match args[0] {
        Value::Int(_) => true,
        Value::Float(f) => Num::Float(f).is_integer(),
        _ => false,
    })
}

fn is_exact(_: &mut Ctx, args: &[Value]) -> R {
    boolean(Num::of("exact?", &args[0])?.is_exact())
}

fn is_inexact(_: &mut Ctx, args: &[Value]) -> R {
    boolean(!Num::of("inexact?", &args[0])?.is_exact())
}

fn is_zero(_: &mut Ctx, args: &[Value]) -> R {
    boolean(Num::of("zero?", &args[0])?.is_zero())
}

fn is_positive(_: &mut Ctx, args: &[Value]) -> R {
    boolean(numbers::compare(Num::of("positive?", &args[0])?, Num::Int(0)) == Some(Ordering::Greater))
}

fn is_negative(_: &mut Ctx, args: &[Value]) -> R {
    boolean(numbers::compare(Num::of("negative?", &args[0])?, Num::Int(0)) == Some(Ordering::Less))
}

fn parity(name: &str, v: &Value) -> Result<bool, Error> {
    let n = Num::of(name, v)?;
    let r = numbers::int_division(name, IntDivision::Remainder, n, Num::Int(2))?;
    Ok(!r.is_zero())
}

fn is_odd(_: &mut Ctx, args: &[Value]) -> R {
    boolean(parity("odd?", &args[0])?)
}

fn is_even(_: &mut Ctx, args: &[Value]) -> R {
    boolean(!parity("even?", &args[0])?)
}

fn float_fn(name: &str, args: &[Value], f: fn(f64) -> f64) -> R {
    Ok(Value::Float(f(Num::of(name, &args[0])?.to_f64())))
}

fn exp(_: &mut Ctx, args: &[Value]) -> R {
    float_fn("exp", args, f64::exp)
}

fn log(_: &mut Ctx, args: &[Value]) -> R {
    let z = Num::of("log", &args[0])?.to_f64();
    match args.get(1) {
        None => Ok(Value::Float(z.ln())),
        Some(b) => Ok(Value::Float(z.ln() / Num::of("log", b)?.to_f64().ln())),
    }
}

fn sin(_: &mut Ctx, args: &[Value]) -> R {
    float_fn("sin", args, f64::sin)
}

fn cos(_: &mut Ctx, args: &[Value]) -> R {
    float_fn("cos", args, f64::cos)
}

fn tan(_: &mut Ctx, args: &[Value]) -> R {
    float_fn("tan", args, f64::tan)
}

fn asin(_: &mut Ctx, args: &[Value]) -> R {
    float_fn("asin", args, f64::asin)
}

fn acos(_: &mut Ctx, args: &[Value]) -> R {
    float_fn("acos", args, f64::acos)
}

fn atan(_: &mut Ctx, args: &[Value]) -> R {
    let y = Num::of("atan", &args[0])?.to_f64();
    match args.get(1) {
        None => Ok(Value::Float(y.atan())),
        Some(x) => Ok(Value::Float(y.atan2(Num::of("atan", x)?.to_f64()))),
    }
}

fn square(_: &mut Ctx, args: &[Value]) -> R {
    let n = Num::of("square", &args[0])?;
    Ok(numbers::mul(n, n)?.to_value())
}

fn gcd(_: &mut Ctx, args: &[Value]) -> R {
    let mut acc = Num::Int(0);
    for n in nums("gcd", args)? {
        acc = numbers::gcd("gcd", acc, n)?;
    }
    Ok(acc.to_value())
}

fn lcm(_: &mut Ctx, args: &[Value]) -> R {
    let mut acc = Num::Int(1);
    for n in nums("lcm", args)? {
        acc = numbers::lcm("lcm", acc, n)?;
    }
    Ok(acc.to_value())
}

fn is_exact_integer(_: &mut Ctx, args: &[Value]) -> R {
    boolean(matches!(args[0], Value::Int(_)))
}

fn is_nan(_: &mut Ctx, args: &[Value]) -> R {
    boolean(Num::of("nan?", &args[0])?.to_f64().is_nan())
}

/// SplitMix64.
fn next_random(ctx: &mut Ctx) -> u64 {
    ctx.rng = ctx.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = ctx.rng;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `(random n)`: an exact integer in [0, n) for exact n, a float in [0, n) for inexact n.
fn random(ctx: &mut Ctx, args: &[Value]) -> R {
    match Num::of("random", &args[0])? {
        Num::Int(n) if n > 0 => Ok(Value::Int(((next_random(ctx) as u128 * n as u128) >> 64) as i64)),
        Num::Float(f) if f > 0.0 && f.is_finite() => {
            let unit = (next_random(ctx) >> 11) as f64 / (1u64 << 53) as f64;
            Ok(Value::Float(unit * f))
        }
        _ => Err(Error::wrong_type("random", "positive number", &args[0])),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    #[test]
    fn arithmetic() {
        assert_eq!(run("+", &[]), "0");
        assert_eq!(run("*", &[]), "1");
        assert_eq!(run("+", &[int(1), float(2.0)]), "3.0");
        assert_eq!(run("+", &[int(1), int(2), int(3)]), "6");
        assert_eq!(run("-", &[int(10), int(5)]), "5");
        assert_eq!(run("-", &[int(5)]), "-5");
        assert_eq!(run("-", &[int(10), int(1), int(2)]), "7");
        assert_eq!(run("*", &[int(3), int(4)]), "12");
        assert_eq!(run("*", &[float(1.0), float(1e21)]), "1e+21");
        assert_eq!(run("/", &[int(7), int(2)]), "3.5");
        assert_eq!(run("/", &[int(6), int(2)]), "3");
        assert_eq!(run("/", &[float(1.0), int(4)]), "0.25");
        assert_eq!(run("/", &[int(2)]), "0.5");
        assert_eq!(run("/", &[int(1)]), "1");
        assert_eq!(run("/", &[int(1), float(0.0)]), "+inf.0");
        assert_eq!(run("/", &[int(1), int(0)]), "error: division by zero");
        assert_eq!(run("/", &[int(0)]), "error: division by zero");
        assert_eq!(run("*", &[int(9223372036854775807), int(2)]), "error: integer overflow");
        assert_eq!(run("+", &[int(1), s("a")]), "error: +: expected number, got \"a\"");
        assert_eq!(run("-", &[sym("x")]), "error: -: expected number, got x");
    }

    #[test]
    fn integer_division() {
        assert_eq!(run("modulo", &[int(-7), int(3)]), "2");
        assert_eq!(run("remainder", &[int(-7), int(3)]), "-1");
        assert_eq!(run("quotient", &[int(-7), int(2)]), "-3");
        assert_eq!(run("quotient", &[int(1), int(0)]), "error: division by zero");
        assert_eq!(run("remainder", &[int(1), int(0)]), "error: division by zero");
        assert_eq!(run("modulo", &[int(1), int(0)]), "error: division by zero");
        assert_eq!(run("modulo", &[float(1.5), int(1)]), "error: modulo: expected integer, got 1.5");
        assert_eq!(run("abs", &[int(-5)]), "5");
        assert_eq!(run("abs", &[float(-0.5)]), "0.5");
    }

    #[test]
    fn rounding_and_exactness() {
        assert_eq!(run("floor", &[float(2.5)]), "2.0");
        assert_eq!(run("ceiling", &[float(2.1)]), "3.0");
        assert_eq!(run("round", &[float(2.5)]), "2.0");
        assert_eq!(run("round", &[float(3.5)]), "4.0");
        assert_eq!(run("round", &[float(-3.5)]), "-4.0");
        assert_eq!(run("truncate", &[float(-2.7)]), "-2.0");
        assert_eq!(run("round", &[int(3)]), "3");
        assert_eq!(run("exact", &[float(2.0)]), "2");
        assert_eq!(run("exact", &[float(2.5)]), "error: exact: no exact integer for 2.5");
        assert_eq!(run("inexact->exact", &[float(0.5)]), "error: inexact->exact: no exact integer for 0.5");
        assert_eq!(run("inexact", &[int(3)]), "3.0");
        assert_eq!(run("exact->inexact", &[int(1)]), "1.0");
        assert_eq!(run("sqrt", &[int(16)]), "4");
        assert_eq!(run("sqrt", &[int(2)]), "1.4142135623730951");
        assert_eq!(run("sqrt", &[float(2.25)]), "1.5");
        assert_eq!(run("sqrt", &[int(-1)]), "error: sqrt: expected non-negative number, got -1");
        assert_eq!(run("expt", &[int(2), int(10)]), "1024");
        assert_eq!(run("expt", &[float(2.0), float(0.5)]), "1.4142135623730951");
        assert_eq!(run("expt", &[int(2), int(64)]), "error: integer overflow");
    }

    #[test]
    fn min_and_max_are_inexact_if_any_argument_is() {
        assert_eq!(run("max", &[int(1), float(2.0)]), "2.0");
        assert_eq!(run("max", &[int(3), float(2.0)]), "3.0");
        assert_eq!(run("min", &[int(3), int(1), int(2)]), "1");
        assert_eq!(run("max", &[int(7)]), "7");
        assert_eq!(run("min", &[int(1), float(f64::NAN)]), "+nan.0");
        assert_eq!(run("max", &[int(1), s("x")]), "error: max: expected number, got \"x\"");
    }

    #[test]
    fn comparisons() {
        assert_eq!(run("=", &[int(2), float(2.0)]), "#t");
        assert_eq!(run("<", &[int(1), int(2), int(3)]), "#t");
        assert_eq!(run("<", &[int(1), int(3), int(2)]), "#f");
        assert_eq!(run(">", &[int(3), float(2.5)]), "#t");
        assert_eq!(run("<=", &[int(2), int(2), float(2.0)]), "#t");
        assert_eq!(run(">=", &[int(1), int(2)]), "#f");
        assert_eq!(run("=", &[int(1)]), "#t");
        assert_eq!(run("=", &[float(f64::NAN), float(f64::NAN)]), "#f");
        assert_eq!(run("<", &[int(2), int(1), sym("a")]), "error: <: expected number, got a");
    }

    #[test]
    fn predicates() {
        assert_eq!(run("number?", &[float(1.0)]), "#t");
        assert_eq!(run("number?", &[s("1")]), "#f");
        assert_eq!(run("integer?", &[float(2.0)]), "#t");
        assert_eq!(run("integer?", &[float(2.5)]), "#f");
        assert_eq!(run("integer?", &[s("x")]), "#f");
        assert_eq!(run("exact?", &[int(1)]), "#t");
        assert_eq!(run("inexact?", &[int(1)]), "#f");
        assert_eq!(run("exact?", &[s("x")]), "error: exact?: expected number, got \"x\"");
        assert_eq!(run("zero?", &[float(-0.0)]), "#t");
        assert_eq!(run("positive?", &[int(3)]), "#t");
        assert_eq!(run("negative?", &[float(-0.5)]), "#t");
        assert_eq!(run("odd?", &[int(-3)]), "#t");
        assert_eq!(run("even?", &[int(0)]), "#t");
        assert_eq!(run("even?", &[float(4.0)]), "#t");
        assert_eq!(run("odd?", &[float(1.5)]), "error: odd?: expected integer, got 1.5");
        assert_eq!(run("exact-integer?", &[float(1.0)]), "#f");
        assert_eq!(run("nan?", &[float(f64::NAN)]), "#t");
        assert_eq!(run("nan?", &[int(1)]), "#f");
    }

    #[test]
    fn conversions_with_strings() {
        assert_eq!(run("number->string", &[float(3.5)]), "\"3.5\"");
        assert_eq!(run("number->string", &[int(255), int(16)]), "\"ff\"");
        assert_eq!(
            run("number->string", &[int(1), int(1)]),
            "error: number->string: expected radix between 2 and 36, got 1"
        );
        assert_eq!(run("string->number", &[s("12abc")]), "#f");
        assert_eq!(run("string->number", &[s("1e3")]), "1000.0");
        assert_eq!(run("string->number", &[s("-17")]), "-17");
        assert_eq!(run("string->number", &[s("ff"), int(16)]), "255");
        assert_eq!(run("string->number", &[int(1)]), "error: string->number: expected string, got 1");
    }

    #[test]
    fn transcendental_and_integer_functions() {
        assert_eq!(run("exp", &[int(0)]), "1.0");
        assert_eq!(run("log", &[int(1)]), "0.0");
        assert_eq!(run("log", &[int(8), int(2)]), "3.0");
        assert_eq!(run("sin", &[int(0)]), "0.0");
        assert_eq!(run("cos", &[int(0)]), "1.0");
        assert_eq!(run("atan", &[int(1), int(1)]), "0.7853981633974483");
        assert_eq!(run("square", &[int(5)]), "25");
        assert_eq!(run("square", &[float(1.5)]), "2.25");
        assert_eq!(run("gcd", &[]), "0");
        assert_eq!(run("gcd", &[int(12), int(18), int(-8)]), "2");
        assert_eq!(run("lcm", &[]), "1");
        assert_eq!(run("lcm", &[int(4), int(6)]), "12");
    }

    #[test]
    fn random_stays_in_range() {
        let mut c = ctx();
        for _ in 0..1000 {
            let v = call_in(&mut c, "random", &[int(10)]).unwrap();
            assert!(matches!(v, crate::value::Value::Int(0..=9)));
            let f = call_in(&mut c, "random", &[float(1.0)]).unwrap();
            assert!(matches!(f, crate::value::Value::Float(x) if (0.0..1.0).contains(&x)));
        }
        assert_eq!(run("random", &[int(0)]), "error: random: expected positive number, got 0");
    }
}
