//! Quoted data as values and back: what `quote` holds and what `eval` is given.

use super::*;

/// A quoted datum as a value.
pub fn datum_to_value(d: &Datum) -> Value {
    match &d.kind {
        DatumKind::Int(i) => Value::Int(*i),
        DatumKind::Float(f) => Value::Float(*f),
        DatumKind::Str(s) => Value::Str(std::rc::Rc::from(&**s)),
        DatumKind::Char(c) => Value::Char(*c),
        DatumKind::Bool(b) => Value::Bool(*b),
        DatumKind::Symbol(s) => Value::Symbol(*s),
        DatumKind::List(items, tail) => {
            let tail = tail.as_ref().map_or(Value::Null, |t| datum_to_value(t));
            Value::list_with_tail(items.iter().map(datum_to_value).collect::<Vec<_>>(), tail)
        }
        DatumKind::Vector(items) => {
            Value::Vector(Rc::new(std::cell::RefCell::new(items.iter().map(datum_to_value).collect())))
        }
    }
}

/// A value as source data (for `eval`): `None` for values that have no source form.
pub fn value_to_datum(v: &Value) -> Option<Datum> {
    value_to_datum_within(v, crate::reader::MAX_DEPTH)
}

/// As the reader, refuses data nested deeper than `depth` (and so cyclic data): this
/// recursion runs on the host stack.
fn value_to_datum_within(v: &Value, depth: usize) -> Option<Datum> {
    let depth = depth.checked_sub(1)?;
    let span = Span::default();
    let kind = match v {
        Value::Int(i) => DatumKind::Int(*i),
        Value::Float(f) => DatumKind::Float(*f),
        Value::Str(s) => DatumKind::Str(std::sync::Arc::from(&**s)),
        Value::Char(c) => DatumKind::Char(*c),
        Value::Bool(b) => DatumKind::Bool(*b),
        Value::Symbol(s) => DatumKind::Symbol(*s),
        Value::Null => DatumKind::List(vec![], None),
        Value::Pair(_) => {
            let mut items = Vec::new();
            let mut cur = v.clone();
            let mut cycle = crate::value::CycleCheck::default();
            while let Value::Pair(p) = cur {
                if cycle.seen_again(&p) {
                    return None;
                }
                items.push(value_to_datum_within(&p.car(), depth)?);
                cur = p.cdr();
            }
            let tail = match cur {
                Value::Null => None,
                other => Some(Box::new(value_to_datum_within(&other, depth)?)),
            };
            DatumKind::List(items, tail)
        }
        Value::Vector(items) => {
            DatumKind::Vector(items.borrow().iter().map(|i| value_to_datum_within(i, depth)).collect::<Option<_>>()?)
        }
        _ => return None,
    };
    Some(Datum::new(kind, span))
}
