//! `eqv?` (which is also `eq?`), `equal?` and the hashes that agree with them.
//!
//! `eqv?` compares numbers by exactness and value, strings by content (strings are immutable,
//! so content and identity cannot be told apart by programs) and every mutable or procedural
//! value by identity. `equal?` also descends into pairs and vectors; it walks with an explicit
//! stack, so a list of any length or depth never overflows the host stack.

use std::hash::{Hash, Hasher};
use std::rc::Rc;

use crate::value::Value;

/// `eqv?` and `eq?`.
pub fn eqv(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Unspecified, Value::Unspecified)
        | (Value::Undefined, Value::Undefined)
        | (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => float_bits(*x) == float_bits(*y),
        (Value::Char(x), Value::Char(y)) => x == y,
        (Value::Symbol(x), Value::Symbol(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Pair(x), Value::Pair(y)) => Rc::ptr_eq(x, y),
        (Value::Vector(x), Value::Vector(y)) => Rc::ptr_eq(x, y),
        (Value::Closure(x), Value::Closure(y)) => Rc::ptr_eq(x, y),
        (Value::Primitive(x), Value::Primitive(y)) => std::ptr::eq(*x, *y),
        (Value::Boxed(x), Value::Boxed(y)) => Rc::ptr_eq(x, y),
        (Value::Object(x), Value::Object(y)) => Rc::ptr_eq(x, y),
        _ => false,
    }
}

/// After this many pairs and vectors, `equal?` remembers which ones it has compared.
const EQUAL_TRACK_AFTER: usize = 100_000;

/// `equal?`: structural on pairs and vectors, `eqv?` everywhere else.
///
/// It terminates on cyclic data too (R7RS): past [`EQUAL_TRACK_AFTER`] nodes it records each
/// pair of pairs (or vectors) it compares, and a pair met again is taken as equal, since any
/// difference below it shows up where it was first compared.
pub fn equal(a: &Value, b: &Value) -> bool {
    let mut work: Vec<(Value, Value)> = vec![(a.clone(), b.clone())];
    let mut visited = 0usize;
    let mut compared: std::collections::HashSet<(usize, usize)> = std::collections::HashSet::new();
    let mut first_time = |x: usize, y: usize| {
        visited += 1;
        visited <= EQUAL_TRACK_AFTER || compared.insert((x, y))
    };
    while let Some((x, y)) = work.pop() {
        match (&x, &y) {
            (Value::Pair(p), Value::Pair(q)) => {
                if Rc::ptr_eq(p, q) || !first_time(Rc::as_ptr(p) as usize, Rc::as_ptr(q) as usize) {
                    continue;
                }
                // The cdr is pushed first so the car is compared first, which finds a
                // difference near the front of a long list without walking all of it.
                work.push((p.cdr(), q.cdr()));
                work.push((p.car(), q.car()));
            }
            (Value::Vector(v), Value::Vector(w)) => {
                if Rc::ptr_eq(v, w) || !first_time(Rc::as_ptr(v) as usize, Rc::as_ptr(w) as usize) {
                    continue;
                }
                let (v, w) = (v.borrow(), w.borrow());
                if v.len() != w.len() {
                    return false;
                }
                work.extend(v.iter().cloned().zip(w.iter().cloned()).rev());
            }
            _ => {
                if !eqv(&x, &y) {
                    return false;
                }
            }
        }
    }
    true
}

/// How many pairs and vector elements `hash_value` looks at in `equal?` mode. A bounded walk
/// keeps hashing of huge or cyclic keys cheap; equal values still hash equally because the
/// walk visits them in the same order.
const HASH_NODE_LIMIT: usize = 64;

/// A hash consistent with `eqv` (when `eqv` is true) or with `equal`.
pub fn hash_value<H: Hasher>(v: &Value, eqv: bool, state: &mut H) {
    // Atoms (most keys) hash without the work list and its allocation.
    if eqv || !matches!(v, Value::Pair(_) | Value::Vector(_)) {
        hash_atom(v, state);
        return;
    }
    let mut work: Vec<Value> = vec![v.clone()];
    let mut budget = HASH_NODE_LIMIT;
    while let Some(x) = work.pop() {
        if budget == 0 {
            break;
        }
        budget -= 1;
        match &x {
            Value::Pair(p) => {
                state.write_u8(20);
                work.push(p.cdr());
                work.push(p.car());
            }
            Value::Vector(items) => {
                let items = items.borrow();
                state.write_u8(21);
                state.write_usize(items.len());
                work.extend(items.iter().rev().cloned());
            }
            _ => hash_atom(&x, state),
        }
    }
}

/// Hashes by `eqv?`: content for immediates and strings, address for everything else.
fn hash_atom<H: Hasher>(v: &Value, state: &mut H) {
    match v {
        Value::Unspecified => state.write_u8(0),
        Value::Undefined => state.write_u8(1),
        Value::Null => state.write_u8(2),
        Value::Bool(b) => {
            state.write_u8(3);
            b.hash(state);
        }
        Value::Int(i) => {
            state.write_u8(4);
            i.hash(state);
        }
        Value::Float(f) => {
            state.write_u8(5);
            float_bits(*f).hash(state);
        }
        Value::Char(c) => {
            state.write_u8(6);
            c.hash(state);
        }
        Value::Symbol(s) => {
            state.write_u8(7);
            s.hash(state);
        }
        Value::Str(s) => {
            state.write_u8(8);
            s.hash(state);
        }
        Value::Pair(p) => address(9, Rc::as_ptr(p) as *const u8, state),
        Value::Vector(p) => address(10, Rc::as_ptr(p) as *const u8, state),
        Value::Closure(p) => address(11, Rc::as_ptr(p) as *const u8, state),
        Value::Primitive(p) => address(12, *p as *const _ as *const u8, state),
        Value::Boxed(p) => address(13, Rc::as_ptr(p) as *const u8, state),
        Value::Object(p) => address(14, Rc::as_ptr(p) as *const u8, state),
    }
}

fn address<H: Hasher>(tag: u8, ptr: *const u8, state: &mut H) {
    state.write_u8(tag);
    state.write_usize(ptr as usize);
}

/// The bits `eqv?` compares for a float: `0.0` and `-0.0` differ, every NaN is the same.
fn float_bits(f: f64) -> u64 {
    if f.is_nan() {
        f64::NAN.to_bits()
    } else {
        f.to_bits()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::hash_map::DefaultHasher;

    use super::*;
    use crate::value::Object;

    fn hash_of(v: &Value, eqv: bool) -> u64 {
        let mut h = DefaultHasher::new();
        hash_value(v, eqv, &mut h);
        h.finish()
    }

    fn ints(items: &[i64]) -> Value {
        Value::list(items.iter().map(|&i| Value::Int(i)).collect::<Vec<_>>())
    }

    #[test]
    fn eqv_compares_numbers_by_exactness_and_value() {
        assert!(eqv(&Value::Int(2), &Value::Int(2)));
        assert!(!eqv(&Value::Int(2), &Value::Float(2.0)));
        assert!(eqv(&Value::Float(2.5), &Value::Float(2.5)));
        assert!(!eqv(&Value::Float(0.0), &Value::Float(-0.0)));
        assert!(eqv(&Value::Float(f64::NAN), &Value::Float(-f64::NAN)));
    }

    #[test]
    fn eqv_compares_strings_by_content_and_pairs_by_identity() {
        assert!(eqv(&Value::str("ab"), &Value::str("ab")));
        assert!(!eqv(&Value::str("ab"), &Value::str("abc")));
        assert!(eqv(&Value::sym("a"), &Value::sym("a")));
        assert!(eqv(&Value::Null, &Value::Null));
        assert!(eqv(&Value::Char('x'), &Value::Char('x')));
        assert!(!eqv(&Value::Bool(true), &Value::Bool(false)));
        assert!(!eqv(&ints(&[1]), &ints(&[1])));
        let l = ints(&[1]);
        assert!(eqv(&l, &l.clone()));
        let v1 = Value::Vector(Rc::new(std::cell::RefCell::new(vec![])));
        let v2 = Value::Vector(Rc::new(std::cell::RefCell::new(vec![])));
        assert!(!eqv(&v1, &v2));
        let o = Value::object(Object::Context(Default::default()));
        assert!(eqv(&o, &o.clone()));
        assert!(!eqv(&o, &Value::object(Object::Context(Default::default()))));
    }

    #[test]
    fn equal_recurses_into_pairs_and_vectors() {
        assert!(equal(&ints(&[1, 2]), &ints(&[1, 2])));
        assert!(!equal(&ints(&[1, 2]), &ints(&[1, 2, 3])));
        assert!(!equal(&Value::Int(2), &Value::Float(2.0)));
        let vec = |items: Vec<Value>| Value::Vector(Rc::new(std::cell::RefCell::new(items)));
        assert!(equal(&vec(vec![Value::str("x"), ints(&[1])]), &vec(vec![Value::str("x"), ints(&[1])])));
        assert!(!equal(&vec(vec![Value::Int(1)]), &vec(vec![Value::Int(1), Value::Int(2)])));
        assert!(!equal(&vec(vec![]), &Value::Null));
        let dotted = Value::cons(Value::sym("a"), Value::sym("b"));
        assert!(equal(&dotted, &Value::cons(Value::sym("a"), Value::sym("b"))));
        assert!(!equal(&dotted, &Value::cons(Value::sym("a"), Value::sym("c"))));
    }

    #[test]
    fn equal_handles_long_and_deep_structures() {
        let long: Vec<Value> = (0..1_000_000).map(Value::Int).collect();
        let a = Value::list(long.clone());
        let b = Value::list(long);
        assert!(equal(&a, &b));
        let mut deep_a = Value::Null;
        let mut deep_b = Value::Null;
        for _ in 0..100_000 {
            deep_a = Value::cons(deep_a, Value::Null);
            deep_b = Value::cons(deep_b, Value::Null);
        }
        assert!(equal(&deep_a, &deep_b));
        assert_eq!(hash_of(&deep_a, false), hash_of(&deep_b, false));
    }

    #[test]
    fn hashes_agree_with_the_equivalences() {
        assert_eq!(hash_of(&ints(&[1, 2]), false), hash_of(&ints(&[1, 2]), false));
        assert_eq!(hash_of(&Value::str("k"), true), hash_of(&Value::str("k"), true));
        assert_ne!(hash_of(&Value::Int(2), true), hash_of(&Value::Float(2.0), true));
        assert_eq!(hash_of(&Value::Float(f64::NAN), true), hash_of(&Value::Float(-f64::NAN), true));
        let l = ints(&[1]);
        assert_eq!(hash_of(&l, true), hash_of(&l.clone(), true));
    }

    #[test]
    fn cyclic_values_hash_and_compare_with_themselves() {
        let p = Value::cons(Value::Int(1), Value::Null);
        if let Value::Pair(cell) = &p {
            *cell.cdr.borrow_mut() = p.clone();
        }
        assert!(equal(&p, &p));
        hash_of(&p, false);
        // Break the cycle so the test does not leak.
        if let Value::Pair(cell) = &p {
            *cell.cdr.borrow_mut() = Value::Null;
        }
    }
}
