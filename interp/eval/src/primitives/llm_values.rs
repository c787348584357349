//! Meanings, distributions and prompt text (docs/language.md §7.2).

use super::{boolean, index_arg, int_arg, prim, Ctx};
use crate::error::Error;
use crate::value::{Object, Primitive, Value};

pub const PRIMITIVES: &[Primitive] = &[
    prim("meaning?", 1, Some(1), is_meaning),
    prim("meaning-denotation", 1, Some(1), meaning_denotation),
    prim("meaning-confidence", 1, Some(1), meaning_confidence),
    prim("meaning-trace", 1, Some(1), meaning_trace),
    prim("make-meaning", 3, Some(3), make_meaning),
    prim("prompt->string", 1, Some(1), prompt_to_string),
    prim("dist?", 1, Some(1), is_dist),
    prim("dist-count", 1, Some(1), dist_count),
    prim("dist->list", 1, Some(1), dist_to_list),
    prim("dist-value-at", 2, Some(2), dist_value_at),
    prim("dist-weight-at", 2, Some(2), dist_weight_at),
    prim("dist-topk", 2, Some(2), dist_topk),
];

type R = Result<Value, Error>;

/// The prompt text of an effect payload, exactly as the LLM ops compute it.
pub use crate::vm::prompt_text;

fn prompt_to_string(_: &mut Ctx, args: &[Value]) -> R {
    Ok(Value::str(&prompt_text(&args[0])))
}

/// A Meaning value (`int.op`'s result, or `make-meaning`'s).
pub fn make_meaning_value(denotation: Value, confidence: Value, trace: Value) -> Value {
    Value::object(Object::Meaning { denotation, confidence, trace })
}

fn meaning_field(name: &str, v: &Value, field: usize) -> R {
    if let Value::Object(o) = v {
        if let Object::Meaning { denotation, confidence, trace } = &**o {
            return Ok([denotation, confidence, trace][field].clone());
        }
    }
    Err(Error::wrong_type(name, "meaning", v))
}

fn is_meaning(_: &mut Ctx, args: &[Value]) -> R {
    boolean(matches!(&args[0], Value::Object(o) if matches!(**o, Object::Meaning { .. })))
}

fn meaning_denotation(_: &mut Ctx, args: &[Value]) -> R {
    meaning_field("meaning-denotation", &args[0], 0)
}

fn meaning_confidence(_: &mut Ctx, args: &[Value]) -> R {
    meaning_field("meaning-confidence", &args[0], 1)
}

fn meaning_trace(_: &mut Ctx, args: &[Value]) -> R {
    meaning_field("meaning-trace", &args[0], 2)
}

fn make_meaning(_: &mut Ctx, args: &[Value]) -> R {
    if !matches!(args[1], Value::Int(_) | Value::Float(_)) {
        return Err(Error::wrong_type("make-meaning", "number", &args[1]));
    }
    Ok(make_meaning_value(args[0].clone(), args[1].clone(), args[2].clone()))
}

fn dist<'a>(name: &str, v: &'a Value) -> Result<&'a [(Value, f64)], Error> {
    if let Value::Object(o) = v {
        if let Object::Dist(entries) = &**o {
            return Ok(entries);
        }
    }
    Err(Error::wrong_type(name, "distribution", v))
}

fn is_dist(_: &mut Ctx, args: &[Value]) -> R {
    boolean(matches!(&args[0], Value::Object(o) if matches!(**o, Object::Dist(_))))
}

fn dist_count(_: &mut Ctx, args: &[Value]) -> R {
    Ok(Value::Int(dist("dist-count", &args[0])?.len() as i64))
}

fn dist_to_list(_: &mut Ctx, args: &[Value]) -> R {
    let entries = dist("dist->list", &args[0])?;
    Ok(Value::list(entries.iter().map(|(v, w)| Value::cons(v.clone(), Value::Float(*w))).collect::<Vec<_>>()))
}

fn dist_value_at(_: &mut Ctx, args: &[Value]) -> R {
    let entries = dist("dist-value-at", &args[0])?;
    Ok(entries[index_arg("dist-value-at", &args[1], entries.len(), false)?].0.clone())
}

fn dist_weight_at(_: &mut Ctx, args: &[Value]) -> R {
    let entries = dist("dist-weight-at", &args[0])?;
    Ok(Value::Float(entries[index_arg("dist-weight-at", &args[1], entries.len(), false)?].1))
}

/// The k most likely values (all of them when k exceeds the count).
fn dist_topk(_: &mut Ctx, args: &[Value]) -> R {
    let entries = dist("dist-topk", &args[0])?;
    let k = int_arg("dist-topk", &args[1])?;
    if k < 0 {
        return Err(Error::wrong_type("dist-topk", "non-negative exact integer", &args[1]));
    }
    Ok(Value::list(entries.iter().take(k as usize).map(|(v, _)| v.clone()).collect::<Vec<_>>()))
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use crate::value::{Object, Value};

    fn vote() -> Value {
        Value::object(Object::Dist(vec![(s("yes"), 0.75), (s("no"), 0.25)]))
    }

    #[test]
    fn meanings() {
        let m = call("make-meaning", &[s("42"), int(1), s("scripted")]).unwrap();
        assert_eq!(show(Ok(m.clone())), "(meaning (denotation \"42\") (confidence 1) (trace \"scripted\"))");
        assert_eq!(run("meaning?", &[m.clone()]), "#t");
        assert_eq!(run("meaning?", &[s("42")]), "#f");
        assert_eq!(run("meaning-denotation", &[m.clone()]), "\"42\"");
        assert_eq!(run("meaning-confidence", &[m.clone()]), "1");
        assert_eq!(run("meaning-trace", &[m]), "\"scripted\"");
        assert_eq!(run("meaning-trace", &[int(1)]), "error: meaning-trace: expected meaning, got 1");
        assert_eq!(
            run("make-meaning", &[s("x"), s("high"), s("t")]),
            "error: make-meaning: expected number, got \"high\""
        );
    }

    #[test]
    fn distributions() {
        let d = vote();
        assert_eq!(run("dist?", &[d.clone()]), "#t");
        assert_eq!(run("dist-count", &[d.clone()]), "2");
        assert_eq!(run("dist-value-at", &[d.clone(), int(0)]), "\"yes\"");
        assert_eq!(run("dist-weight-at", &[d.clone(), int(0)]), "0.75");
        assert_eq!(run("dist-weight-at", &[d.clone(), int(2)]), "error: dist-weight-at: index 2 out of range");
        assert_eq!(run("dist-topk", &[d.clone(), int(1)]), "(\"yes\")");
        assert_eq!(run("dist-topk", &[d.clone(), int(5)]), "(\"yes\" \"no\")");
        assert_eq!(run("dist->list", &[d]), "((\"yes\" . 0.75) (\"no\" . 0.25))");
        assert_eq!(run("dist-count", &[Value::Null]), "error: dist-count: expected distribution, got ()");
    }

    #[test]
    fn prompt_text() {
        assert_eq!(run("prompt->string", &[s("what is 2+2?")]), "\"what is 2+2?\"");
        assert_eq!(
            run("prompt->string", &[list(&[s("What is the "), sym("capital"), s(" of France?")])]),
            "\"What is the capital of France?\""
        );
        assert_eq!(
            run("prompt->string", &[list(&[sym("AgentA"), s(" responds to: "), Value::Null])]),
            "\"AgentA responds to: ()\""
        );
        assert_eq!(run("prompt->string", &[int(42)]), "\"42\"");
    }
}
