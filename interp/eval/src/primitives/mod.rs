//! Primitive procedures: Rust functions over evaluated arguments, grouped by topic.
//!
//! A primitive never calls back into Omega code: procedures that take procedures (`map`,
//! `sort`, `hash-table-update!` …) are written in Omega in `prelude.scm`, and the few that
//! need the evaluator itself (`apply`, `force`, `dynamic-wind`, `eval`, `parallel-map`,
//! `mutex-acquire`, `yield` …: `vm::MACHINE_PRIMITIVES`) are instructions of the machine.
//! So every call of user code goes through the machine and can be suspended, cancelled and
//! budgeted.

use std::rc::Rc;

use crate::error::Error;
use crate::value::{Object, Primitive, Table, Value};

mod chars_vectors;
mod errors;
mod hash_tables;
mod higher_order;
mod io;
mod lists;
mod llm_values;
mod locks;
mod numeric;
mod predicates;
#[cfg(test)]
mod prelude_tests;
mod shared_state;
mod sicp_tables;
mod streams;
mod strings;

/// The built-in procedures written in Omega (every one that takes a procedure argument),
/// loaded into the global environment at session start, after the primitives.
pub const PRELUDE: &str = include_str!("../prelude.scm");

/// Where `display`, `write` and `newline` send text.
pub trait Output {
    fn write_str(&mut self, text: &str);
    /// The task labelled `task` (`main`, `task 1`, `1.2`…) runs from now on; output that
    /// follows is its own.
    fn task_switched(&mut self, _task: &str) {}

    /// Why output can no longer be written (a closed or full stdout), once it failed: the
    /// primitive that wrote raises it as an error, so a program does not run on unheard.
    fn failure(&mut self) -> Option<String> {
        None
    }

    /// Writes out what is still buffered (at the end of a run); why that failed, as `failure`.
    fn flush(&mut self) -> Option<String> {
        self.failure()
    }
}

/// The state primitives may touch besides their arguments.
pub struct Ctx {
    pub out: Box<dyn Output>,
    /// SplitMix64 state for `random`.
    pub rng: u64,
    /// Numbers shown in `#<table N>`, `#<buffer N>` …
    pub next_id: u64,
    pub gensym_counter: u64,
    /// The one operation table of `put`/`get` (SICP 2.4.3), made on first use.
    pub op_table: Option<Value>,
    /// The running evaluation's memory budget and the work primitives did for it.
    pub budget: crate::memory::RunBudget,
}

impl Ctx {
    pub fn new(out: Box<dyn Output>) -> Ctx {
        Ctx {
            out,
            rng: 0x9E37_79B9_7F4A_7C15,
            next_id: 1,
            gensym_counter: 0,
            op_table: None,
            budget: Default::default(),
        }
    }

    pub fn fresh_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }
}

/// Every primitive, all groups together.
pub fn all() -> impl Iterator<Item = &'static Primitive> {
    GROUPS.iter().flat_map(|g| g.iter())
}

/// The primitives by group (the topics of docs/reference.md). Names starting with `%` are helpers for the
/// prelude, not part of the language.
pub const GROUPS: &[&[Primitive]] = &[
    numeric::PRIMITIVES,
    predicates::PRIMITIVES,
    lists::PRIMITIVES,
    higher_order::PRIMITIVES,
    strings::PRIMITIVES,
    chars_vectors::PRIMITIVES,
    hash_tables::PRIMITIVES,
    sicp_tables::PRIMITIVES,
    shared_state::PRIMITIVES,
    locks::PRIMITIVES,
    streams::PRIMITIVES,
    io::PRIMITIVES,
    errors::PRIMITIVES,
    llm_values::PRIMITIVES,
];

// ---------------------------------------------------------------------------------------
// Helpers shared by the groups

/// A primitive table entry: `prim("car", 1, Some(1), car)`.
const fn prim(
    name: &'static str,
    min: usize,
    max: Option<usize>,
    f: fn(&mut Ctx, &[Value]) -> Result<Value, Error>,
) -> Primitive {
    Primitive { name, min, max, f }
}

fn unspecified() -> Result<Value, Error> {
    Ok(Value::Unspecified)
}

fn boolean(b: bool) -> Result<Value, Error> {
    Ok(Value::Bool(b))
}

/// The most elements `make-vector` and `iota` build at once: a larger request is almost
/// surely a mistake, and must fail with an error rather than exhaust memory.
const MAX_LENGTH: i64 = 100_000_000;

/// A length or count argument: a non-negative exact integer up to [`MAX_LENGTH`].
fn length_arg(name: &str, what: &str, v: &Value) -> Result<usize, Error> {
    let n = int_arg(name, v)?;
    if n < 0 {
        return Err(Error::wrong_type(name, &format!("non-negative {what}"), v));
    }
    if n > MAX_LENGTH {
        return Err(Error::new(format!("{name}: {what} {n} is too large (at most {MAX_LENGTH})")));
    }
    Ok(n as usize)
}

/// Bytes a list of `n` elements takes: the pairs (with their reference counts) and the
/// vector of elements it is usually built from.
const LIST_ITEM_BYTES: usize = std::mem::size_of::<crate::value::Pair>() + 16 + std::mem::size_of::<Value>();

/// Asks the run's budget for a new list of `n` elements (memory, and `n` steps of work).
fn reserve_list(ctx: &mut Ctx, n: usize) -> Result<(), Error> {
    ctx.budget.reserve_items(n as u64, LIST_ITEM_BYTES)
}

/// Asks the run's budget for a new vector of `n` elements.
fn reserve_vector(ctx: &mut Ctx, n: usize) -> Result<(), Error> {
    ctx.budget.reserve_items(n as u64, std::mem::size_of::<Value>())
}

/// Asks the run's budget for a new string of `bytes` bytes.
fn reserve_text(ctx: &mut Ctx, bytes: usize) -> Result<(), Error> {
    ctx.budget.reserve_items(bytes as u64 / 64, 64)?;
    ctx.budget.reserve(bytes as u64)
}

/// A list of `items` ending in `tail`. The primitives that build or go through data as long as
/// their arguments make it call [`RunBudget::progress`](crate::memory::RunBudget::progress)
/// as they go, so a timeout or a cancel stops them midway, with their call site and stack:
/// `iota`, `make-vector`, `append`, `reverse`, `list-copy`, `delete`, `delete-duplicates`,
/// `vector->list`, `string->list`, `string-split`, `string-append`, `string-join`, and `sort`
/// with a primitive order (`sort` with a procedure runs as program code).
///
/// Left out, as their work is bounded by work the run already did and was checked for:
/// walking an existing list into a vector (`list->vector`, `apply`, `length`, `member` … read
/// what took at least as many checked steps to build, at a fraction of its cost; what `apply`
/// calls checks on its own), one pass over one existing string or vector (`string-copy`,
/// `string-upcase`, `string-replace-all`, `vector-fill!`: a `memcpy` or close to it), and hash
/// table listings (each entry took a `hash-table-set!` instruction).
fn build_list(ctx: &mut Ctx, items: Vec<Value>, tail: Value) -> Result<Value, Error> {
    let mut list = tail;
    for item in items.into_iter().rev() {
        ctx.budget.progress(1)?;
        list = Value::cons(item, list);
    }
    Ok(list)
}

/// The values `items` yields, each counted as progress (see [`build_list`]).
fn collect_polled(ctx: &mut Ctx, items: impl Iterator<Item = Value>) -> Result<Vec<Value>, Error> {
    let mut out = Vec::with_capacity(items.size_hint().0);
    for item in items {
        ctx.budget.progress(1)?;
        out.push(item);
    }
    Ok(out)
}

/// An exact integer argument.
fn int_arg(name: &str, v: &Value) -> Result<i64, Error> {
    match v {
        Value::Int(i) => Ok(*i),
        _ => Err(Error::wrong_type(name, "exact integer", v)),
    }
}

/// An index into something of `len` elements (`len` itself allowed when `inclusive`):
/// `NAME: index 5 out of range`.
fn index_arg(name: &str, v: &Value, len: usize, inclusive: bool) -> Result<usize, Error> {
    let i = int_arg(name, v)?;
    let ok = i >= 0 && if inclusive { i as u64 <= len as u64 } else { (i as u64) < len as u64 };
    if ok {
        Ok(i as usize)
    } else {
        Err(index_error(name, i))
    }
}

fn index_error(name: &str, i: i64) -> Error {
    Error::new(format!("{name}: index {i} out of range"))
}

fn str_arg<'a>(name: &str, v: &'a Value) -> Result<&'a Rc<str>, Error> {
    match v {
        Value::Str(s) => Ok(s),
        _ => Err(Error::wrong_type(name, "string", v)),
    }
}

fn procedure_arg(name: &str, v: &Value) -> Result<(), Error> {
    if v.is_procedure() {
        Ok(())
    } else {
        Err(Error::wrong_type(name, "procedure", v))
    }
}

/// The elements of a proper list; an improper or cyclic one is `NAME: expected list, got V`.
fn list_arg(name: &str, v: &Value) -> Result<Vec<Value>, Error> {
    list_items(v).ok_or_else(|| Error::wrong_type(name, "list", v))
}

/// The elements of a proper list, or `None` for an improper or cyclic one.
pub fn list_items(v: &Value) -> Option<Vec<Value>> {
    let mut items = Vec::new();
    let mut cur = v.clone();
    // Brent's cycle detection: `mark` is a pair seen `power` steps ago at most.
    let mut mark: Option<Rc<crate::value::Pair>> = None;
    let mut power = 1usize;
    let mut steps = 0usize;
    loop {
        match cur {
            Value::Null => return Some(items),
            Value::Pair(p) => {
                if mark.as_ref().is_some_and(|m| Rc::ptr_eq(m, &p)) {
                    return None;
                }
                steps += 1;
                if steps == power {
                    mark = Some(p.clone());
                    power *= 2;
                    steps = 0;
                }
                items.push(p.car());
                cur = p.cdr();
            }
            _ => return None,
        }
    }
}

/// A table argument (either kind: hash tables and SICP tables are one type of object).
fn table_arg<'a>(name: &str, expected: &str, v: &'a Value) -> Result<&'a Table, Error> {
    if let Value::Object(o) = v {
        if let Object::Table(t) = &**o {
            return Ok(t);
        }
    }
    Err(Error::wrong_type(name, expected, v))
}

/// A fresh table.
fn new_table(ctx: &mut Ctx, is_sicp: bool, eqv_keys: bool) -> Table {
    Table { id: ctx.fresh_id(), is_sicp, weak_eq: eqv_keys, entries: Default::default(), label: Default::default() }
}

/// The key for `k` in `t`: compared with `eqv?` or `equal?` as the table was made.
fn table_key(t: &Table, k: &Value) -> crate::value::Key {
    crate::value::Key { value: k.clone(), eqv: t.weak_eq }
}

fn table_get(t: &Table, k: &Value) -> Option<Value> {
    t.entries.borrow().get(&table_key(t, k)).cloned()
}

/// Sets `k` to `v` in `t`. A table's entries and index double when full, so its last growth
/// allocates as much as everything before it: the memory budget is asked for that growth
/// first, and a table that would pass the limit fails before allocating and copying it.
fn table_set(ctx: &Ctx, t: &Table, k: &Value, v: Value) -> Result<(), Error> {
    let key = table_key(t, k);
    let mut entries = t.entries.borrow_mut();
    if entries.len() == entries.capacity() && !entries.contains_key(&key) {
        // An entry (its hash, key and value) and its slot in the index, with the index's slack.
        let entry_bytes = std::mem::size_of::<(usize, crate::value::Key, Value)>() + 2 * std::mem::size_of::<usize>();
        ctx.budget.reserve((entries.capacity() as u64).saturating_mul(entry_bytes as u64))?;
    }
    entries.insert(key, v);
    Ok(())
}

#[cfg(test)]
pub(crate) mod testing {
    //! Calling primitives from unit tests.

    use std::cell::RefCell;
    use std::rc::Rc;

    use super::{Ctx, Output};
    use crate::error::Error;
    use crate::value::Value;

    /// Output that a test can read back.
    #[derive(Clone, Default)]
    pub struct SharedOutput(pub Rc<RefCell<String>>);

    impl Output for SharedOutput {
        fn write_str(&mut self, text: &str) {
            self.0.borrow_mut().push_str(text);
        }
    }

    /// No LLM, for programs that perform no effects.
    pub struct NoLlm;

    impl crate::vm::LlmPort for NoLlm {
        fn submit(&mut self, _: u64, _: &crate::vm::LlmWork) {}
        fn cancel(&mut self, _: u64) {}
        fn next(&mut self, _: Option<std::time::Duration>) -> Option<crate::vm::LlmEvent> {
            None
        }
    }

    pub fn ctx() -> Ctx {
        Ctx::new(Box::new(SharedOutput::default()))
    }

    /// Runs `program` in a new session with no LLM: what the REPL would print for its last
    /// form (`error: MESSAGE` for an error), and what the program wrote.
    pub fn run_program(program: &str) -> (String, String) {
        let out = SharedOutput::default();
        let mut session = crate::session::Session::new(Box::new(out.clone()), Box::new(NoLlm));
        let mut last = String::new();
        session
            .run_source("<test>", program, |_, form| {
                last = match form.result {
                    Ok(v) => crate::printer::write_string(&v),
                    Err(e) => format!("error: {}", e.message),
                };
                std::ops::ControlFlow::Continue(())
            })
            .unwrap_or_else(|errors| panic!("{program} does not read: {}", errors[0].message));
        let printed = out.0.borrow().clone();
        (last, printed)
    }

    /// Calls the primitive `name` after the machine's arity check.
    pub fn call_in(ctx: &mut Ctx, name: &str, args: &[Value]) -> Result<Value, Error> {
        let p = super::all().find(|p| p.name == name).unwrap_or_else(|| panic!("no primitive {name}"));
        assert!(
            args.len() >= p.min && p.max.is_none_or(|m| args.len() <= m),
            "{name} called with {} arguments",
            args.len()
        );
        (p.f)(ctx, args)
    }

    pub fn call(name: &str, args: &[Value]) -> Result<Value, Error> {
        call_in(&mut ctx(), name, args)
    }

    /// The `write` form of the result, or `error: MESSAGE`.
    pub fn show(r: Result<Value, Error>) -> String {
        match r {
            Ok(v) => crate::printer::write_string(&v),
            Err(e) => format!("error: {}", e.message),
        }
    }

    /// Calls and shows.
    pub fn run(name: &str, args: &[Value]) -> String {
        show(call(name, args))
    }

    pub fn int(i: i64) -> Value {
        Value::Int(i)
    }

    pub fn float(f: f64) -> Value {
        Value::Float(f)
    }

    pub fn s(text: &str) -> Value {
        Value::str(text)
    }

    pub fn sym(name: &str) -> Value {
        Value::sym(name)
    }

    pub fn ints(items: &[i64]) -> Value {
        Value::list(items.iter().map(|&i| Value::Int(i)).collect::<Vec<_>>())
    }

    pub fn list(items: &[Value]) -> Value {
        Value::list(items.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;
    use crate::builtins::{CONSTANTS, SIGNATURES};

    /// A top-level `(define (NAME formals…) …)` of the prelude: its arity, and the bounds of
    /// its `%check-arity` call if it has one.
    struct PreludeDef {
        min: usize,
        rest: bool,
        checked_max: Option<(usize, usize)>,
    }

    fn prelude_definitions() -> (HashMap<String, PreludeDef>, HashSet<String>) {
        let mut procedures = HashMap::new();
        let mut variables = HashSet::new();
        let mut current: Option<String> = None;
        for line in PRELUDE.lines() {
            if let Some(rest) = line.strip_prefix("(define (") {
                let formals_end = rest.find(')').expect("formals end on the define line");
                let mut words = rest[..formals_end].split_whitespace();
                let name = words.next().expect("a name").to_string();
                let params: Vec<&str> = words.collect();
                let rest_param = params.iter().position(|p| *p == ".");
                let min = rest_param.unwrap_or(params.len());
                procedures.insert(name.clone(), PreludeDef { min, rest: rest_param.is_some(), checked_max: None });
                current = Some(name);
            } else if let Some(rest) = line.strip_prefix("(define ") {
                variables.insert(rest.split_whitespace().next().unwrap().to_string());
                current = None;
            } else if let (Some(name), Some(at)) = (&current, line.find("(%check-arity '")) {
                let words: Vec<&str> = line[at + "(%check-arity '".len()..].split_whitespace().collect();
                assert_eq!(words[0], name, "%check-arity names its procedure");
                let def = procedures.get_mut(name).unwrap();
                def.checked_max = Some((words[1].parse().unwrap(), words[2].parse().unwrap()));
            }
        }
        (procedures, variables)
    }

    #[test]
    fn every_builtin_is_a_primitive_a_prelude_definition_or_a_machine_procedure() {
        let primitives: HashMap<&str, &Primitive> = all().map(|p| (p.name, p)).collect();
        assert_eq!(primitives.len(), all().count(), "no primitive is registered twice");
        let (prelude, prelude_vars) = prelude_definitions();
        let machine: HashMap<&str, &Primitive> =
            crate::vm::MACHINE_PRIMITIVES.iter().filter(|p| !p.name.starts_with("#%")).map(|p| (p.name, p)).collect();
        for sig in SIGNATURES {
            let homes =
                [primitives.contains_key(sig.name), prelude.contains_key(sig.name), machine.contains_key(sig.name)];
            assert_eq!(homes.iter().filter(|h| **h).count(), 1, "{} must be defined exactly once", sig.name);
            if let Some(p) = primitives.get(sig.name).or(machine.get(sig.name)) {
                assert_eq!((p.min, p.max), (sig.min, sig.max), "arity of primitive {}", sig.name);
            }
            if let Some(def) = prelude.get(sig.name) {
                assert_eq!(def.min, sig.min, "minimum arity of prelude {}", sig.name);
                match sig.max {
                    None => assert!(def.rest && def.checked_max.is_none(), "prelude {} is variadic", sig.name),
                    Some(max) if max == def.min && !def.rest => {}
                    Some(max) => {
                        assert_eq!(def.checked_max, Some((sig.min, max)), "prelude {} checks its maximum", sig.name)
                    }
                }
            }
        }
        let documented: HashSet<&str> = SIGNATURES.iter().map(|s| s.name).collect();
        for name in primitives.keys() {
            assert!(documented.contains(name) || name.starts_with('%'), "primitive {name} is not in SIGNATURES");
        }
        for name in prelude.keys() {
            assert!(documented.contains(name.as_str()), "prelude defines {name}, which is not in SIGNATURES");
        }
        for name in machine.keys() {
            assert!(documented.contains(name), "machine procedure {name} is not in SIGNATURES");
        }
        for name in &prelude_vars {
            assert!(CONSTANTS.contains(&name.as_str()), "prelude defines {name}, which is not in CONSTANTS");
        }
    }

    #[test]
    fn prelude_uses_only_known_helpers() {
        let primitives: HashSet<&str> = all().map(|p| p.name).collect();
        for (at, _) in PRELUDE.match_indices("(%") {
            let name: String = PRELUDE[at + 1..].chars().take_while(|c| !c.is_whitespace() && *c != ')').collect();
            assert!(primitives.contains(name.as_str()), "prelude calls unknown helper {name}");
        }
    }

    #[test]
    fn list_items_rejects_improper_and_cyclic_lists() {
        use testing::*;
        assert_eq!(list_items(&ints(&[1, 2, 3])).unwrap().len(), 3);
        assert!(list_items(&Value::cons(int(1), int(2))).is_none());
        let p = Value::cons(int(1), Value::Null);
        let q = Value::cons(int(0), p.clone());
        if let Value::Pair(cell) = &p {
            *cell.cdr.borrow_mut() = q.clone();
        }
        assert!(list_items(&q).is_none());
        if let Value::Pair(cell) = &p {
            *cell.cdr.borrow_mut() = Value::Null;
        }
    }
}
