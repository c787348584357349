//! The numeric tower: exact 64-bit integers and IEEE doubles (docs/language.md §3).
//!
//! Exact arithmetic never wraps: a result outside `i64` is the error `integer overflow`.
//! Mixed operations are inexact. Comparisons between an exact and an inexact number compare
//! the mathematical values, without rounding the integer to a double first.
//!
//! Also here: the number syntax of the reader (shared with `string->number`) and the float
//! format of `write` (JavaScript's shortest round-trip digits, plus `.0` on integral values).

use std::cmp::Ordering;

use crate::error::Error;
use crate::value::Value;

/// A number taken out of a `Value`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Num {
    Int(i64),
    Float(f64),
}

impl Num {
    /// The number in `v`, or `NAME: expected number, got V`.
    pub fn of(name: &str, v: &Value) -> Result<Num, Error> {
        match v {
            Value::Int(i) => Ok(Num::Int(*i)),
            Value::Float(f) => Ok(Num::Float(*f)),
            _ => Err(Error::wrong_type(name, "number", v)),
        }
    }

    pub fn to_value(self) -> Value {
        match self {
            Num::Int(i) => Value::Int(i),
            Num::Float(f) => Value::Float(f),
        }
    }

    pub fn to_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }

    pub fn is_exact(self) -> bool {
        matches!(self, Num::Int(_))
    }

    /// An exact integer, or an inexact one with no fractional part.
    pub fn is_integer(self) -> bool {
        match self {
            Num::Int(_) => true,
            Num::Float(f) => f.is_finite() && f.fract() == 0.0,
        }
    }

    pub fn is_zero(self) -> bool {
        match self {
            Num::Int(i) => i == 0,
            Num::Float(f) => f == 0.0,
        }
    }

    fn inexact(self) -> Num {
        Num::Float(self.to_f64())
    }
}

pub fn overflow() -> Error {
    Error::new("integer overflow")
}

pub fn division_by_zero() -> Error {
    Error::new("division by zero")
}

fn checked(r: Option<i64>) -> Result<Num, Error> {
    r.map(Num::Int).ok_or_else(overflow)
}

pub fn add(a: Num, b: Num) -> Result<Num, Error> {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => checked(x.checked_add(y)),
        _ => Ok(Num::Float(a.to_f64() + b.to_f64())),
    }
}

pub fn sub(a: Num, b: Num) -> Result<Num, Error> {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => checked(x.checked_sub(y)),
        _ => Ok(Num::Float(a.to_f64() - b.to_f64())),
    }
}

pub fn mul(a: Num, b: Num) -> Result<Num, Error> {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => checked(x.checked_mul(y)),
        _ => Ok(Num::Float(a.to_f64() * b.to_f64())),
    }
}

/// `/`: exact when both operands are exact and the division comes out even. An exact zero
/// divisor is an error whatever the dividend; an inexact one follows IEEE.
pub fn div(a: Num, b: Num) -> Result<Num, Error> {
    match (a, b) {
        (_, Num::Int(0)) => Err(division_by_zero()),
        (Num::Int(x), Num::Int(y)) => match x.checked_rem(y) {
            None => Err(overflow()),
            Some(0) => checked(x.checked_div(y)),
            Some(_) => Ok(Num::Float(x as f64 / y as f64)),
        },
        _ => Ok(Num::Float(a.to_f64() / b.to_f64())),
    }
}

pub fn negate(a: Num) -> Result<Num, Error> {
    match a {
        Num::Int(x) => checked(x.checked_neg()),
        Num::Float(f) => Ok(Num::Float(-f)),
    }
}

pub fn abs(a: Num) -> Result<Num, Error> {
    match a {
        Num::Int(x) => checked(x.checked_abs()),
        Num::Float(f) => Ok(Num::Float(f.abs())),
    }
}

/// Compares mathematical values; `None` when either is NaN.
pub fn compare(a: Num, b: Num) -> Option<Ordering> {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => Some(x.cmp(&y)),
        (Num::Float(x), Num::Float(y)) => x.partial_cmp(&y),
        (Num::Int(x), Num::Float(y)) => compare_int_float(x, y),
        (Num::Float(x), Num::Int(y)) => compare_int_float(y, x).map(Ordering::reverse),
    }
}

/// Exact comparison of an integer with a double: no rounding of `i` to `f64`.
fn compare_int_float(i: i64, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    // 2^63 is exactly representable; every double at or above it exceeds every i64.
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if f >= TWO_63 {
        return Some(Ordering::Less);
    }
    if f < -TWO_63 {
        return Some(Ordering::Greater);
    }
    let whole = f.trunc();
    let whole_int = whole as i64; // exact: |whole| < 2^63 or whole == -2^63
    match i.cmp(&whole_int) {
        Ordering::Equal => 0.0f64.partial_cmp(&(f - whole)),
        other => Some(other),
    }
}

/// The integer in an exact or integral inexact number, for `quotient`, `odd?`, `gcd` …
fn integer_operand(name: &str, v: Num) -> Result<Num, Error> {
    if v.is_integer() {
        Ok(v)
    } else {
        Err(Error::wrong_type(name, "integer", &v.to_value()))
    }
}

#[derive(Clone, Copy)]
pub enum IntDivision {
    Quotient,
    Remainder,
    Modulo,
}

/// R7RS `quotient` (truncates), `remainder` (sign of the dividend) and `modulo` (sign of
/// the divisor). Integral floats are accepted and give floats.
pub fn int_division(name: &str, op: IntDivision, a: Num, b: Num) -> Result<Num, Error> {
    let a = integer_operand(name, a)?;
    let b = integer_operand(name, b)?;
    if b.is_zero() {
        return Err(division_by_zero());
    }
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => checked(match op {
            IntDivision::Quotient => x.checked_div(y),
            // `wrapping_rem` only wraps for i64::MIN / -1, whose remainder is 0 anyway.
            IntDivision::Remainder => Some(x.wrapping_rem(y)),
            IntDivision::Modulo => {
                let r = x.wrapping_rem(y);
                Some(if r != 0 && (r < 0) != (y < 0) { r + y } else { r })
            }
        }),
        _ => {
            let (x, y) = (a.to_f64(), b.to_f64());
            Ok(Num::Float(match op {
                IntDivision::Quotient => (x / y).trunc(),
                IntDivision::Remainder => x % y,
                IntDivision::Modulo => {
                    let r = x % y;
                    if r != 0.0 && (r < 0.0) != (y < 0.0) {
                        r + y
                    } else {
                        r
                    }
                }
            }))
        }
    }
}

#[derive(Clone, Copy)]
pub enum Rounding {
    Floor,
    Ceiling,
    /// Halves go to the even neighbour.
    Round,
    Truncate,
}

pub fn round(a: Num, how: Rounding) -> Num {
    match a {
        Num::Int(_) => a,
        Num::Float(f) => Num::Float(match how {
            Rounding::Floor => f.floor(),
            Rounding::Ceiling => f.ceil(),
            Rounding::Round => f.round_ties_even(),
            Rounding::Truncate => f.trunc(),
        }),
    }
}

/// `exact`: an integral float in the `i64` range becomes exact; anything else is
/// `NAME: no exact integer for V`.
pub fn to_exact(name: &str, a: Num) -> Result<Num, Error> {
    match a {
        Num::Int(_) => Ok(a),
        Num::Float(f) => {
            if f.is_finite()
                && f.fract() == 0.0
                && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f)
            {
                Ok(Num::Int(f as i64))
            } else {
                Err(Error::new(format!("{name}: no exact integer for {}", format_float(f))))
            }
        }
    }
}

pub fn to_inexact(a: Num) -> Num {
    a.inexact()
}

/// `sqrt`: exact for an exact perfect square, else a float; negative numbers are an error.
pub fn sqrt(name: &str, a: Num) -> Result<Num, Error> {
    match a {
        Num::Int(i) if i < 0 => Err(Error::wrong_type(name, "non-negative number", &a.to_value())),
        Num::Float(f) if f < 0.0 => Err(Error::wrong_type(name, "non-negative number", &a.to_value())),
        Num::Int(i) => {
            let root = isqrt(i as u64);
            if root.checked_mul(root) == Some(i as u64) {
                Ok(Num::Int(root as i64))
            } else {
                Ok(Num::Float((i as f64).sqrt()))
            }
        }
        Num::Float(f) => Ok(Num::Float(f.sqrt())),
    }
}

/// The integer square root, rounded down.
fn isqrt(n: u64) -> u64 {
    let mut r = (n as f64).sqrt() as u64;
    while r.checked_mul(r).is_none_or(|sq| sq > n) {
        r -= 1;
    }
    while (r + 1).checked_mul(r + 1).is_some_and(|sq| sq <= n) {
        r += 1;
    }
    r
}

/// `expt`: exact for an exact base and an exact non-negative exponent.
pub fn expt(base: Num, exponent: Num) -> Result<Num, Error> {
    match (base, exponent) {
        (Num::Int(b), Num::Int(e)) if e >= 0 => match b {
            0 => Ok(Num::Int(if e == 0 { 1 } else { 0 })),
            1 => Ok(Num::Int(1)),
            -1 => Ok(Num::Int(if e % 2 == 0 { 1 } else { -1 })),
            _ => {
                let e = u32::try_from(e).map_err(|_| overflow())?;
                checked(b.checked_pow(e))
            }
        },
        (Num::Int(0), Num::Int(_)) => Err(division_by_zero()),
        (Num::Int(b), Num::Int(e)) => Ok(Num::Float((b as f64).powf(e as f64))),
        _ => Ok(Num::Float(base.to_f64().powf(exponent.to_f64()))),
    }
}

pub fn gcd(name: &str, a: Num, b: Num) -> Result<Num, Error> {
    let a = integer_operand(name, a)?;
    let b = integer_operand(name, b)?;
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => {
            let (mut x, mut y) = (x.unsigned_abs(), y.unsigned_abs());
            while y != 0 {
                (x, y) = (y, x % y);
            }
            i64::try_from(x).map(Num::Int).map_err(|_| overflow())
        }
        _ => {
            let (mut x, mut y) = (a.to_f64().abs(), b.to_f64().abs());
            while y != 0.0 {
                (x, y) = (y, x % y);
            }
            Ok(Num::Float(x))
        }
    }
}

pub fn lcm(name: &str, a: Num, b: Num) -> Result<Num, Error> {
    if a.is_zero() || b.is_zero() {
        let zero = if a.is_exact() && b.is_exact() { Num::Int(0) } else { Num::Float(0.0) };
        integer_operand(name, a)?;
        integer_operand(name, b)?;
        return Ok(zero);
    }
    let g = gcd(name, a, b)?;
    let quotient = int_division(name, IntDivision::Quotient, abs(a)?, g)?;
    mul(quotient, abs(b)?)
}

// ---------------------------------------------------------------------------------------
// Number syntax

/// What a token means as a number, per the reader's number syntax (docs/language.md §2).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NumberLiteral {
    Int(i64),
    Float(f64),
    /// Integer syntax, but outside the `i64` range: `integer literal out of range`.
    IntOutOfRange,
    /// `1/2`: `rational literals are not supported`.
    Rational,
    /// Not number syntax: a symbol, for the reader.
    NotANumber,
}

/// Classifies a token: `[+-]?D+`, `[+-]?(D+.D*|.D+)([eE][+-]?D+)?`, `[+-]?D+[eE][+-]?D+`,
/// `+inf.0`, `-inf.0`, `+nan.0`; `[+-]?D+/D+` is a rational.
pub fn parse_number(text: &str) -> NumberLiteral {
    match text {
        "+inf.0" => return NumberLiteral::Float(f64::INFINITY),
        "-inf.0" => return NumberLiteral::Float(f64::NEG_INFINITY),
        "+nan.0" => return NumberLiteral::Float(f64::NAN),
        _ => {}
    }
    let bytes = text.as_bytes();
    let mut i = 0;
    if matches!(bytes.first(), Some(b'+' | b'-')) {
        i = 1;
    }
    let digits = |from: usize| bytes[from..].iter().take_while(|b| b.is_ascii_digit()).count();
    let int_digits = digits(i);
    i += int_digits;
    if i == bytes.len() {
        if int_digits == 0 {
            return NumberLiteral::NotANumber;
        }
        return match text.parse::<i64>() {
            Ok(n) => NumberLiteral::Int(n),
            Err(_) => NumberLiteral::IntOutOfRange,
        };
    }
    if bytes[i] == b'/' {
        let denominator = digits(i + 1);
        if int_digits > 0 && denominator > 0 && i + 1 + denominator == bytes.len() {
            return NumberLiteral::Rational;
        }
        return NumberLiteral::NotANumber;
    }
    let mut frac_digits = 0;
    let mut has_point = false;
    if bytes[i] == b'.' {
        has_point = true;
        frac_digits = digits(i + 1);
        i += 1 + frac_digits;
    }
    if int_digits == 0 && frac_digits == 0 {
        return NumberLiteral::NotANumber;
    }
    if i < bytes.len() && matches!(bytes[i], b'e' | b'E') {
        let mut j = i + 1;
        if matches!(bytes.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        let exp_digits = digits(j);
        if exp_digits == 0 {
            return NumberLiteral::NotANumber;
        }
        i = j + exp_digits;
    } else if !has_point {
        return NumberLiteral::NotANumber;
    }
    if i != bytes.len() {
        return NumberLiteral::NotANumber;
    }
    match text.parse::<f64>() {
        Ok(f) => NumberLiteral::Float(f),
        Err(_) => NumberLiteral::NotANumber,
    }
}

/// `string->number`: a number for the reader's number syntax (or, with a radix other than
/// 10, an integer in that radix), else `None`.
pub fn string_to_number(text: &str, radix: u32) -> Option<Num> {
    if radix == 10 {
        return match parse_number(text) {
            NumberLiteral::Int(i) => Some(Num::Int(i)),
            NumberLiteral::Float(f) => Some(Num::Float(f)),
            _ => None,
        };
    }
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    if unsigned.is_empty() || !unsigned.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    i64::from_str_radix(text, radix).ok().map(Num::Int)
}

/// `number->string`; floats only in radix 10.
pub fn number_to_string(a: Num, radix: u32) -> Option<String> {
    match a {
        Num::Int(i) if radix == 10 => Some(i.to_string()),
        Num::Int(i) => {
            let mut digits = Vec::new();
            let mut n = i.unsigned_abs();
            loop {
                digits.push(std::char::from_digit((n % radix as u64) as u32, radix).unwrap());
                n /= radix as u64;
                if n == 0 {
                    break;
                }
            }
            if i < 0 {
                digits.push('-');
            }
            Some(digits.iter().rev().collect())
        }
        Num::Float(f) if radix == 10 => Some(format_float(f)),
        Num::Float(_) => None,
    }
}

/// A float as `write` shows it: JavaScript's `Number.prototype.toString` (shortest digits
/// that read back as the same double; exponent form below 1e-6 and from 1e21), then `.0`
/// when the result looks like an integer. `-0.0` keeps its sign.
pub fn format_float(f: f64) -> String {
    if f.is_nan() {
        return "+nan.0".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+inf.0".into() } else { "-inf.0".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0".into() } else { "0.0".into() };
    }
    // `{:e}` gives the shortest round-trip digits as `d.ddde-N`.
    let sci = format!("{:e}", f.abs());
    let (mantissa, exponent) = sci.split_once('e').expect("LowerExp output has an exponent");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let exponent: i32 = exponent.parse().expect("LowerExp exponent is an integer");
    let k = digits.len() as i32;
    // JavaScript's n: the value is 0.DIGITS × 10^n.
    let n = exponent + 1;
    let mut out = String::new();
    if f < 0.0 {
        out.push('-');
    }
    if k <= n && n <= 21 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (n - k) as usize));
        out.push_str(".0");
    } else if 0 < n && n <= 21 {
        out.push_str(&digits[..n as usize]);
        out.push('.');
        out.push_str(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
        out.push_str(&digits);
    } else {
        out.push_str(&digits[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if n > 0 { '+' } else { '-' });
        out.push_str(&(n - 1).abs().to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn i(x: i64) -> Num {
        Num::Int(x)
    }
    fn f(x: f64) -> Num {
        Num::Float(x)
    }
    fn msg<T: std::fmt::Debug>(r: Result<T, Error>) -> String {
        r.unwrap_err().message
    }

    #[test]
    fn floats_print_like_javascript() {
        let cases: &[(f64, &str)] = &[
            (0.1, "0.1"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000.0"),
            (1.5e-7, "1.5e-7"),
            (1e-6, "0.000001"),
            (1.2345e-6, "0.0000012345"),
            (2.0, "2.0"),
            (-2.0, "-2.0"),
            (3.5, "3.5"),
            (0.25, "0.25"),
            (1000.0, "1000.0"),
            (std::f64::consts::SQRT_2, "1.4142135623730951"),
            (0.1 + 0.2, "0.30000000000000004"),
            (123.456, "123.456"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (-1.5e300, "-1.5e+300"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (f64::INFINITY, "+inf.0"),
            (f64::NEG_INFINITY, "-inf.0"),
            (f64::NAN, "+nan.0"),
        ];
        for &(x, want) in cases {
            assert_eq!(format_float(x), want, "formatting {x:?}");
        }
    }

    #[test]
    fn exact_arithmetic_checks_overflow() {
        assert_eq!(add(i(1), i(2)).unwrap(), i(3));
        assert_eq!(msg(mul(i(i64::MAX), i(2))), "integer overflow");
        assert_eq!(msg(add(i(i64::MAX), i(1))), "integer overflow");
        assert_eq!(msg(sub(i(i64::MIN), i(1))), "integer overflow");
        assert_eq!(msg(negate(i(i64::MIN))), "integer overflow");
        assert_eq!(msg(abs(i(i64::MIN))), "integer overflow");
        assert_eq!(msg(div(i(i64::MIN), i(-1))), "integer overflow");
        assert_eq!(add(i(1), f(2.0)).unwrap(), f(3.0));
        assert_eq!(mul(f(1.0), f(1e21)).unwrap(), f(1e21));
    }

    #[test]
    fn division_is_exact_when_even() {
        assert_eq!(div(i(7), i(2)).unwrap(), f(3.5));
        assert_eq!(div(i(6), i(2)).unwrap(), i(3));
        assert_eq!(div(f(1.0), i(4)).unwrap(), f(0.25));
        assert_eq!(msg(div(i(1), i(0))), "division by zero");
        assert_eq!(msg(div(f(1.0), i(0))), "division by zero");
        assert_eq!(div(i(1), f(0.0)).unwrap(), f(f64::INFINITY));
    }

    #[test]
    fn integer_division_follows_r7rs() {
        use IntDivision::*;
        let q = |op, a, b| int_division("x", op, a, b);
        assert_eq!(q(Modulo, i(-7), i(3)).unwrap(), i(2));
        assert_eq!(q(Remainder, i(-7), i(3)).unwrap(), i(-1));
        assert_eq!(q(Quotient, i(-7), i(2)).unwrap(), i(-3));
        assert_eq!(q(Modulo, i(7), i(-3)).unwrap(), i(-2));
        assert_eq!(q(Modulo, i(-6), i(3)).unwrap(), i(0));
        assert_eq!(q(Remainder, i(7), i(-3)).unwrap(), i(1));
        assert_eq!(q(Modulo, f(-7.0), i(3)).unwrap(), f(2.0));
        assert_eq!(q(Quotient, f(7.0), i(2)).unwrap(), f(3.0));
        assert_eq!(msg(q(Modulo, i(1), i(0))), "division by zero");
        assert_eq!(msg(q(Quotient, i(1), f(0.0))), "division by zero");
        assert_eq!(msg(q(Quotient, f(1.5), i(1))), "x: expected integer, got 1.5");
        assert_eq!(msg(q(Quotient, i(i64::MIN), i(-1))), "integer overflow");
        assert_eq!(q(Modulo, i(i64::MIN), i(-1)).unwrap(), i(0));
        assert_eq!(q(Remainder, i(i64::MIN), i(-1)).unwrap(), i(0));
    }

    #[test]
    fn comparisons_use_mathematical_values() {
        assert_eq!(compare(i(2), f(2.0)), Some(Ordering::Equal));
        assert_eq!(compare(i(2), f(2.5)), Some(Ordering::Less));
        assert_eq!(compare(f(-2.5), i(-2)), Some(Ordering::Less));
        assert_eq!(compare(i(i64::MAX), f(9_223_372_036_854_775_808.0)), Some(Ordering::Less));
        assert_eq!(compare(i(9_007_199_254_740_993), f(9_007_199_254_740_992.0)), Some(Ordering::Greater));
        assert_eq!(compare(i(i64::MIN), f(-9_223_372_036_854_775_808.0)), Some(Ordering::Equal));
        assert_eq!(compare(i(1), f(f64::NAN)), None);
        assert_eq!(compare(i(1), f(f64::INFINITY)), Some(Ordering::Less));
    }

    #[test]
    fn rounding_exactness_and_roots() {
        assert_eq!(round(f(2.5), Rounding::Round), f(2.0));
        assert_eq!(round(f(3.5), Rounding::Round), f(4.0));
        assert_eq!(round(f(-2.5), Rounding::Round), f(-2.0));
        assert_eq!(round(f(2.5), Rounding::Floor), f(2.0));
        assert_eq!(round(f(-2.5), Rounding::Ceiling), f(-2.0));
        assert_eq!(round(f(-2.7), Rounding::Truncate), f(-2.0));
        assert_eq!(round(i(7), Rounding::Round), i(7));
        assert_eq!(to_exact("exact", f(2.0)).unwrap(), i(2));
        assert_eq!(msg(to_exact("exact", f(2.5))), "exact: no exact integer for 2.5");
        assert_eq!(msg(to_exact("exact", f(f64::NAN))), "exact: no exact integer for +nan.0");
        assert_eq!(msg(to_exact("exact", f(1e19))), "exact: no exact integer for 10000000000000000000.0");
        assert_eq!(sqrt("sqrt", i(16)).unwrap(), i(4));
        assert_eq!(sqrt("sqrt", i(2)).unwrap(), f(std::f64::consts::SQRT_2));
        assert_eq!(sqrt("sqrt", i(i64::MAX)).unwrap(), f((i64::MAX as f64).sqrt()));
        assert_eq!(sqrt("sqrt", i(3_037_000_499 * 3_037_000_499)).unwrap(), i(3_037_000_499));
        assert_eq!(sqrt("sqrt", f(16.0)).unwrap(), f(4.0));
        assert_eq!(msg(sqrt("sqrt", i(-4))), "sqrt: expected non-negative number, got -4");
    }

    #[test]
    fn expt_gcd_lcm() {
        assert_eq!(expt(i(2), i(10)).unwrap(), i(1024));
        assert_eq!(expt(i(0), i(0)).unwrap(), i(1));
        assert_eq!(expt(i(-1), i(1 << 40)).unwrap(), i(1));
        assert_eq!(msg(expt(i(2), i(63))), "integer overflow");
        assert_eq!(expt(i(2), i(-1)).unwrap(), f(0.5));
        assert_eq!(expt(f(2.0), i(3)).unwrap(), f(8.0));
        assert_eq!(msg(expt(i(0), i(-1))), "division by zero");
        assert_eq!(gcd("gcd", i(12), i(-18)).unwrap(), i(6));
        assert_eq!(lcm("lcm", i(4), i(6)).unwrap(), i(12));
        assert_eq!(lcm("lcm", i(0), i(6)).unwrap(), i(0));
    }

    #[test]
    fn number_syntax_is_the_readers() {
        use NumberLiteral::*;
        assert_eq!(parse_number("42"), Int(42));
        assert_eq!(parse_number("-7"), Int(-7));
        assert_eq!(parse_number("+5"), Int(5));
        assert_eq!(parse_number("1."), Float(1.0));
        assert_eq!(parse_number(".5"), Float(0.5));
        assert_eq!(parse_number("1e3"), Float(1000.0));
        assert_eq!(parse_number("-2.5E-3"), Float(-0.0025));
        assert_eq!(parse_number("+inf.0"), Float(f64::INFINITY));
        assert!(matches!(parse_number("+nan.0"), Float(x) if x.is_nan()));
        assert_eq!(parse_number("9223372036854775808"), IntOutOfRange);
        assert_eq!(parse_number("-9223372036854775808"), Int(i64::MIN));
        assert_eq!(parse_number("1/2"), Rational);
        for not in [
            "12abc", "-", "+", ".", "...", "1+", "e3", "1e", "1e+", "1.2.3", "-nan.0", "inf", "1/", "/2", "", "1 2",
            "0x10", "1_000",
        ] {
            assert_eq!(parse_number(not), NotANumber, "{not:?}");
        }
    }

    #[test]
    fn string_number_conversions() {
        assert_eq!(string_to_number("ff", 16), Some(i(255)));
        assert_eq!(string_to_number("-101", 2), Some(i(-5)));
        assert_eq!(string_to_number("12", 2), None);
        assert_eq!(string_to_number("12abc", 10), None);
        assert_eq!(number_to_string(i(255), 16).unwrap(), "ff");
        assert_eq!(number_to_string(i(-5), 2).unwrap(), "-101");
        assert_eq!(number_to_string(i(i64::MIN), 16).unwrap(), "-8000000000000000");
        assert_eq!(number_to_string(f(3.5), 10).unwrap(), "3.5");
        assert_eq!(number_to_string(f(3.5), 2), None);
    }
}
