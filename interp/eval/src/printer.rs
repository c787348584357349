//! The printed forms of values (docs/language.md §3): `write` (the REPL's `=> …` line and error
//! messages) and `display`.
//!
//! The printer walks with an explicit work list, so a list of a million elements or a tree a
//! hundred thousand levels deep prints without deep host recursion. Cyclic structures print
//! with R7RS datum labels, `#0=(1 . #0#)`: a first pass finds the pairs, vectors and LLM
//! values that some path leads back to, and only those get labels (shared but acyclic
//! structure prints in full, as R7RS `write` does).

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use crate::numbers::format_float;
use crate::value::{ErrorObject, Object, Pair, Value};

/// The `write` form: strings JSON-quoted, characters as `#\a`.
pub fn write_string(v: &Value) -> String {
    Printer::new(Mode::Write, None).run(v)
}

/// The `display` form: strings and characters as their raw text.
pub fn display_string(v: &Value) -> String {
    Printer::new(Mode::Display, None).run(v)
}

/// How many characters of a value an error message shows.
pub const SHORT_LIMIT: usize = 80;

/// The `write` form cut to [`SHORT_LIMIT`] characters (the last one then `…`), for error
/// messages. Stops printing early, so a huge value costs no more than a small one.
pub fn write_short(v: &Value) -> String {
    Printer::new(Mode::Write, Some(SHORT_LIMIT)).run(v)
}

/// `#<procedure NAME>` or `#<procedure>`: how a procedure appears in messages such as
/// `#<procedure f>: expected 2 arguments, got 3`.
pub fn procedure_label(v: &Value) -> String {
    match procedure_name(v) {
        Some(name) => format!("#<procedure {name}>"),
        None => "#<procedure>".into(),
    }
}

/// The name a procedure prints with: the `define`/`let` name of a closure, a primitive's
/// name, the wrapped procedure's name for a serialized one.
pub fn procedure_name(v: &Value) -> Option<String> {
    let mut v = v.clone();
    loop {
        match v {
            Value::Closure(c) => return c.name().map(|s| s.as_str().to_string()),
            Value::Primitive(p) => return Some(p.name.to_string()),
            Value::Object(o) => match &*o {
                Object::Serialized { proc, .. } => v = proc.clone(),
                Object::RecordProc { name, .. } => return Some(name.as_str().to_string()),
                _ => return None,
            },
            _ => return None,
        }
    }
}

/// The whole text of an error object: `TYPE: MSG IRRITANT…`, irritants in `write` form.
pub fn error_object_text(e: &ErrorObject) -> String {
    let mut text = match e.kind {
        Some(kind) => format!("{kind}: {}", e.message),
        None => e.message.to_string(),
    };
    for irritant in &e.irritants {
        text.push(' ');
        text.push_str(&write_string(irritant));
    }
    text
}

/// A string in `write` form: JSON-style escapes, non-ASCII as is.
pub fn quote_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_quoted(&mut out, s);
    out
}

fn push_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A character in `write` form.
pub fn char_name(c: char) -> String {
    match c {
        ' ' => "#\\space".into(),
        '\n' => "#\\newline".into(),
        '\t' => "#\\tab".into(),
        '\0' => "#\\nul".into(),
        c if c.is_control() => format!("#\\x{:x}", c as u32),
        c => format!("#\\{c}"),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Write,
    Display,
}

/// One pending piece of output.
enum Step {
    Value(Value),
    Text(&'static str),
    /// The rest of a list after an element has been printed: ` next…`, ` . tail)` or `)`.
    Rest(Value),
}

struct Printer {
    mode: Mode,
    out: String,
    chars: usize,
    /// Stop once this many characters are out.
    limit: Option<usize>,
    /// Nodes that need a datum label, and the label once it has been printed.
    labels: HashMap<usize, Option<usize>>,
    next_label: usize,
}

impl Printer {
    fn new(mode: Mode, limit: Option<usize>) -> Printer {
        Printer { mode, out: String::new(), chars: 0, limit, labels: HashMap::new(), next_label: 0 }
    }

    fn run(mut self, v: &Value) -> String {
        // A cut-off print needs no labels to terminate; a huge structure is not worth the walk.
        let budget = self.limit.map(|_| 10_000);
        if let Some(targets) = cycle_targets(v, budget) {
            self.labels = targets.into_iter().map(|a| (a, None)).collect();
        }
        let mut work = vec![Step::Value(v.clone())];
        while let Some(step) = work.pop() {
            if self.limit.is_some_and(|limit| self.chars > limit) {
                break;
            }
            match step {
                Step::Text(t) => self.emit(t),
                Step::Value(v) => self.value(v, &mut work),
                Step::Rest(rest) => self.rest(rest, &mut work),
            }
        }
        match self.limit {
            Some(limit) if self.chars > limit => {
                let mut cut: String = self.out.chars().take(limit - 1).collect();
                cut.push('…');
                cut
            }
            _ => self.out,
        }
    }

    fn emit(&mut self, text: &str) {
        self.out.push_str(text);
        self.chars += if text.is_ascii() { text.len() } else { text.chars().count() };
    }

    /// Prints `#n#` and returns true for a node printed before; prints `#n=` before the
    /// first appearance of a node that needs a label.
    fn label(&mut self, addr: usize) -> bool {
        match self.labels.get(&addr).copied() {
            None => false,
            Some(Some(n)) => {
                self.emit(&format!("#{n}#"));
                true
            }
            Some(None) => {
                let n = self.next_label;
                self.next_label += 1;
                self.labels.insert(addr, Some(n));
                self.emit(&format!("#{n}="));
                false
            }
        }
    }

    fn value(&mut self, v: Value, work: &mut Vec<Step>) {
        match v {
            Value::Unspecified => self.emit("#<unspecified>"),
            Value::Undefined => self.emit("#<undefined>"),
            Value::Null => self.emit("()"),
            Value::Bool(true) => self.emit("#t"),
            Value::Bool(false) => self.emit("#f"),
            Value::Int(i) => self.emit(&i.to_string()),
            Value::Float(f) => self.emit(&format_float(f)),
            Value::Char(c) => match self.mode {
                Mode::Write => self.emit(&char_name(c)),
                Mode::Display => self.emit(c.encode_utf8(&mut [0; 4])),
            },
            Value::Symbol(s) => self.emit(s.as_str()),
            Value::Str(s) => match self.mode {
                Mode::Write => {
                    let mut q = String::new();
                    push_quoted(&mut q, &s);
                    self.emit(&q);
                }
                Mode::Display => self.emit(&s),
            },
            Value::Pair(p) => {
                if self.label(Rc::as_ptr(&p) as usize) {
                    return;
                }
                self.emit("(");
                work.push(Step::Rest(p.cdr()));
                work.push(Step::Value(p.car()));
            }
            Value::Vector(items) => {
                if self.label(Rc::as_ptr(&items) as usize) {
                    return;
                }
                self.emit("#(");
                work.push(Step::Text(")"));
                let items = items.borrow();
                for (i, item) in items.iter().enumerate().rev() {
                    work.push(Step::Value(item.clone()));
                    if i > 0 {
                        work.push(Step::Text(" "));
                    }
                }
            }
            Value::Closure(_) | Value::Primitive(_) => self.emit(&procedure_label(&v)),
            Value::Boxed(_) => self.emit("#<box>"),
            Value::Object(ref o) => self.object(&v, o, work),
        }
    }

    fn rest(&mut self, rest: Value, work: &mut Vec<Step>) {
        match rest {
            Value::Null => self.emit(")"),
            Value::Pair(p) if !self.labels.contains_key(&(Rc::as_ptr(&p) as usize)) => {
                self.emit(" ");
                work.push(Step::Rest(p.cdr()));
                work.push(Step::Value(p.car()));
            }
            other => {
                self.emit(" . ");
                work.push(Step::Text(")"));
                work.push(Step::Value(other));
            }
        }
    }

    fn object(&mut self, v: &Value, o: &Rc<Object>, work: &mut Vec<Step>) {
        match &**o {
            Object::Table(t) if t.is_sicp => self.emit(&format!("#<table {}>", t.id)),
            Object::Table(t) => self.emit(&format!("#<hash-table {}>", t.id)),
            Object::Promise(_) => self.emit("#<promise>"),
            Object::Context(_) => self.emit("#<context>"),
            Object::Buffer { id, .. } => self.emit(&format!("#<buffer {id}>")),
            Object::Serializer(lock) => self.emit(&format!("#<serializer {}>", lock.display_name())),
            Object::Mutex(lock) => self.emit(&format!("#<mutex {}>", lock.display_name())),
            Object::Continuation(_) => self.emit("#<continuation>"),
            Object::Serialized { .. } | Object::RecordProc { .. } | Object::Composed(_) => {
                self.emit(&procedure_label(v))
            }
            Object::Error(e) => {
                let mut text = String::from("#<error ");
                push_quoted(&mut text, &error_object_text(e));
                text.push('>');
                self.emit(&text);
            }
            Object::Record { rtd, .. } => self.emit(&format!("#<record {}>", bare_type_name(rtd.name.as_str()))),
            Object::RecordType(rtd) => self.emit(&format!("#<record-type {}>", bare_type_name(rtd.name.as_str()))),
            Object::Meaning { denotation, confidence, trace } => {
                if self.label(Rc::as_ptr(o) as *const u8 as usize) {
                    return;
                }
                self.emit("(meaning (denotation ");
                work.push(Step::Text("))"));
                work.push(Step::Value(trace.clone()));
                work.push(Step::Text(") (trace "));
                work.push(Step::Value(confidence.clone()));
                work.push(Step::Text(") (confidence "));
                work.push(Step::Value(denotation.clone()));
            }
            Object::Dist(entries) => {
                if self.label(Rc::as_ptr(o) as *const u8 as usize) {
                    return;
                }
                self.emit("(dist");
                work.push(Step::Text(")"));
                for (value, weight) in entries.iter().rev() {
                    work.push(Step::Text(")"));
                    work.push(Step::Value(Value::Float(*weight)));
                    work.push(Step::Text(" . "));
                    work.push(Step::Value(value.clone()));
                    work.push(Step::Text(" ("));
                }
            }
        }
    }
}

/// `<point>` → `point`, for `#<record point>`.
fn bare_type_name(name: &str) -> &str {
    name.strip_prefix('<').and_then(|n| n.strip_suffix('>')).unwrap_or(name)
}

// ---------------------------------------------------------------------------------------
// Cycle detection

/// A node of the value graph: something the printer descends into.
enum Node {
    Pair(Rc<Pair>),
    Vector(Rc<std::cell::RefCell<Vec<Value>>>),
    Object(Rc<Object>),
}

impl Node {
    /// The node in `v`, with whether `v` may be reached along more than one edge: whether
    /// more than `held` references to it exist, `held` being how many the walk itself holds.
    fn of(v: &Value, held: usize) -> Option<(Node, bool)> {
        match v {
            Value::Pair(p) => {
                let shared = Rc::strong_count(p) > held + 1;
                Some((Node::Pair(p.clone()), shared))
            }
            Value::Vector(items) => {
                let shared = Rc::strong_count(items) > held + 1;
                Some((Node::Vector(items.clone()), shared))
            }
            Value::Object(o) if matches!(**o, Object::Meaning { .. } | Object::Dist(_)) => {
                let shared = Rc::strong_count(o) > held + 1;
                Some((Node::Object(o.clone()), shared))
            }
            _ => None,
        }
    }

    fn addr(&self) -> usize {
        match self {
            Node::Pair(p) => Rc::as_ptr(p) as usize,
            Node::Vector(v) => Rc::as_ptr(v) as usize,
            Node::Object(o) => Rc::as_ptr(o) as *const u8 as usize,
        }
    }

    /// The i-th child and whether it is the last one.
    fn child(&self, i: usize) -> Option<(Value, bool)> {
        match self {
            Node::Pair(p) => match i {
                0 => Some((p.car(), false)),
                1 => Some((p.cdr(), true)),
                _ => None,
            },
            Node::Vector(items) => {
                let items = items.borrow();
                items.get(i).map(|v| (v.clone(), i + 1 == items.len()))
            }
            Node::Object(o) => match &**o {
                Object::Meaning { denotation, confidence, trace } => match i {
                    0 => Some((denotation.clone(), false)),
                    1 => Some((confidence.clone(), false)),
                    2 => Some((trace.clone(), true)),
                    _ => None,
                },
                Object::Dist(entries) => entries.get(i).map(|(v, _)| (v.clone(), i + 1 == entries.len())),
                _ => None,
            },
        }
    }
}

/// A node on the depth-first walk's stack, and the index of its next child to visit.
struct Visit {
    node: Node,
    /// Whether the node is in `marks` (it may be reached more than once).
    tracked: bool,
    next: usize,
}

/// The addresses of the nodes that some path from `root` leads back to (the targets of the
/// depth-first search's back edges): labelling them breaks every cycle. `None` when the walk
/// would visit more than `budget` nodes.
///
/// A node referenced only once (Rc count 1) can be reached along one edge only, so it is
/// never a back-edge target and needs no bookkeeping; for such a node the walk continues
/// with its last child without keeping a frame, so freshly built lists of any length take
/// constant stack and no hashing.
fn cycle_targets(root: &Value, budget: Option<usize>) -> Option<HashSet<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Active,
        Done,
    }
    let mut marks: HashMap<usize, Mark> = HashMap::new();
    let mut targets = HashSet::new();
    let mut stack: Vec<Visit> = Vec::new();
    let mut visited = 0usize;

    // `discover` returns the frame to push for a newly reached node.
    let discover = |v: &Value, held: usize, marks: &mut HashMap<usize, Mark>, targets: &mut HashSet<usize>| {
        let (node, shared) = Node::of(v, held)?;
        if shared {
            let addr = node.addr();
            match marks.get(&addr) {
                Some(Mark::Active) => {
                    targets.insert(addr);
                    return None;
                }
                Some(Mark::Done) => return None,
                None => {
                    marks.insert(addr, Mark::Active);
                }
            }
        }
        Some(Visit { node, tracked: shared, next: 0 })
    };

    // The root is always tracked: the caller's reference is not an edge of the graph.
    if let Some((node, _)) = Node::of(root, 0) {
        marks.insert(node.addr(), Mark::Active);
        stack.push(Visit { node, tracked: true, next: 0 });
    }
    while let Some(top) = stack.last_mut() {
        visited += 1;
        if budget.is_some_and(|b| visited > b) {
            return None;
        }
        match top.node.child(top.next) {
            None => {
                let done = stack.pop().expect("stack is not empty");
                if done.tracked {
                    marks.insert(done.node.addr(), Mark::Done);
                }
            }
            Some((child, last)) => {
                top.next += 1;
                if last && !top.tracked {
                    stack.pop();
                }
                // `child` is the one reference the walk holds besides the graph's own.
                if let Some(frame) = discover(&child, 1, &mut marks, &mut targets) {
                    stack.push(frame);
                }
            }
        }
    }
    Some(targets)
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use crate::symbol::Symbol;
    use crate::value::{ErrorObject, Table};

    fn ints(items: &[i64]) -> Value {
        Value::list(items.iter().map(|&i| Value::Int(i)).collect::<Vec<_>>())
    }

    fn vector(items: Vec<Value>) -> Value {
        Value::Vector(Rc::new(RefCell::new(items)))
    }

    fn set_cdr(p: &Value, v: Value) {
        if let Value::Pair(cell) = p {
            *cell.cdr.borrow_mut() = v;
        }
    }

    fn set_car(p: &Value, v: Value) {
        if let Value::Pair(cell) = p {
            *cell.car.borrow_mut() = v;
        }
    }

    #[test]
    fn atoms() {
        let cases: Vec<(Value, &str)> = vec![
            (Value::Int(-42), "-42"),
            (Value::Float(2.0), "2.0"),
            (Value::Float(1e21), "1e+21"),
            (Value::Bool(true), "#t"),
            (Value::Bool(false), "#f"),
            (Value::Null, "()"),
            (Value::sym("infer.op"), "infer.op"),
            (Value::Char('a'), "#\\a"),
            (Value::Char(' '), "#\\space"),
            (Value::Char('\n'), "#\\newline"),
            (Value::Char('\u{7}'), "#\\x7"),
            (Value::Unspecified, "#<unspecified>"),
        ];
        for (v, want) in cases {
            assert_eq!(write_string(&v), want);
        }
        assert_eq!(display_string(&Value::Char('a')), "a");
    }

    #[test]
    fn strings_use_json_escapes_in_write_form() {
        assert_eq!(write_string(&Value::str("a\"b\\c\n")), r#""a\"b\\c\n""#);
        assert_eq!(write_string(&Value::str("\t\r\u{8}\u{c}\u{1}\u{1f}")), r#""\t\r\b\f\u0001\u001f""#);
        assert_eq!(write_string(&Value::str("héllo λ /")), "\"héllo λ /\"");
        assert_eq!(display_string(&Value::str("a\"b\n")), "a\"b\n");
    }

    #[test]
    fn lists_vectors_and_dotted_pairs() {
        let v = Value::list(vec![
            Value::Int(1),
            Value::Int(-7),
            Value::str("s\n"),
            Value::Bool(true),
            Value::sym("infer.op"),
            Value::cons(Value::Int(1), Value::Int(2)),
            Value::Null,
            Value::Null,
            Value::Float(2.0),
            vector(vec![Value::Int(1), Value::str("a")]),
        ]);
        assert_eq!(write_string(&v), r#"(1 -7 "s\n" #t infer.op (1 . 2) () () 2.0 #(1 "a"))"#);
        assert_eq!(display_string(&v), "(1 -7 s\n #t infer.op (1 . 2) () () 2.0 #(1 a))");
        let dotted = Value::list_with_tail(vec![Value::sym("a"), Value::sym("b")], Value::sym("c"));
        assert_eq!(write_string(&dotted), "(a b . c)");
        let quoted = Value::list(vec![Value::sym("quote"), Value::sym("q")]);
        assert_eq!(write_string(&quoted), "(quote q)");
        assert_eq!(write_string(&vector(vec![])), "#()");
        assert_eq!(write_string(&Value::list(vec![Value::Unspecified])), "(#<unspecified>)");
        let nested = Value::list(vec![ints(&[1, 2, 3]), vector(vec![ints(&[]), ints(&[4])])]);
        assert_eq!(write_string(&nested), "((1 2 3) #(() (4)))");
    }

    #[test]
    fn shared_structure_without_cycles_prints_in_full() {
        let x = ints(&[1]);
        let v = Value::list(vec![x.clone(), x.clone()]);
        assert_eq!(write_string(&v), "((1) (1))");
        let w = vector(vec![x.clone(), x]);
        assert_eq!(write_string(&w), "#((1) (1))");
    }

    #[test]
    fn cycles_print_with_datum_labels() {
        let p = Value::cons(Value::Int(1), Value::Null);
        set_cdr(&p, p.clone());
        assert_eq!(write_string(&p), "#0=(1 . #0#)");
        assert_eq!(write_short(&p), "#0=(1 . #0#)");
        set_cdr(&p, Value::Null);

        let third = Value::cons(Value::Int(3), Value::Null);
        let l = Value::cons(Value::Int(1), Value::cons(Value::Int(2), third.clone()));
        set_cdr(&third, l.clone());
        assert_eq!(write_string(&l), "#0=(1 2 3 . #0#)");
        set_cdr(&third, Value::Null);

        let inner = ints(&[7]);
        set_car(&inner, inner.clone());
        let outer = Value::list(vec![Value::Int(0), inner.clone()]);
        assert_eq!(write_string(&outer), "(0 #0=(#0#))");
        set_car(&inner, Value::Null);

        let v = vector(vec![Value::Int(1), Value::Null]);
        if let Value::Vector(items) = &v {
            items.borrow_mut()[1] = v.clone();
        }
        assert_eq!(display_string(&v), "#0=#(1 #0#)");
        if let Value::Vector(items) = &v {
            items.borrow_mut()[1] = Value::Null;
        }
    }

    #[test]
    fn long_and_deep_structures_print_without_recursion() {
        let long = Value::list((0..1_000_000).map(|i| Value::Int(i % 10)).collect::<Vec<_>>());
        let text = write_string(&long);
        assert_eq!(text.len(), 2_000_001);
        assert!(text.starts_with("(0 1 2"));
        let mut deep = Value::Null;
        for _ in 0..100_000 {
            deep = Value::cons(deep, Value::Null);
        }
        let text = write_string(&deep);
        assert_eq!(text.len(), 200_002);
        assert!(text.starts_with("((((") && text.ends_with("))))") && text.contains("(())"));
        let short = write_short(&long);
        assert_eq!(short.chars().count(), SHORT_LIMIT);
        assert!(short.ends_with('…'));
    }

    #[test]
    fn a_long_list_held_twice_still_prints() {
        let long = Value::list((0..200_000).map(Value::Int).collect::<Vec<_>>());
        let both = Value::list(vec![long.clone(), long]);
        assert_eq!(write_string(&both).len(), 2 * 1_288_891 + 3);
    }

    #[test]
    fn short_form_cuts_at_80_characters() {
        let s = Value::str(&"x".repeat(200));
        let short = write_short(&s);
        assert_eq!(short.chars().count(), 80);
        assert!(short.starts_with("\"xxx") && short.ends_with("x…"));
        assert_eq!(write_short(&Value::str(&"y".repeat(78))).chars().count(), 80);
        assert_eq!(write_short(&ints(&[1, 2])), "(1 2)");
    }

    #[test]
    fn objects() {
        let table = |is_sicp| {
            Value::object(Object::Table(Table {
                id: 3,
                is_sicp,
                weak_eq: false,
                entries: RefCell::new(Default::default()),
                label: Default::default(),
            }))
        };
        assert_eq!(write_string(&table(true)), "#<table 3>");
        assert_eq!(write_string(&table(false)), "#<hash-table 3>");
        assert_eq!(write_string(&Value::object(Object::Context(RefCell::new(Value::Null)))), "#<context>");
        let buffer = Value::object(Object::Buffer { id: 2, chunks: Default::default() });
        assert_eq!(write_string(&buffer), "#<buffer 2>");
        let err = Value::object(Object::Error(ErrorObject {
            kind: Some(Symbol::intern("fatal")),
            message: "bad \"x\"".into(),
            irritants: vec![Value::Int(1), Value::str("s")],
        }));
        assert_eq!(write_string(&err), r#"#<error "fatal: bad \"x\" 1 \"s\"">"#);
        let meaning = Value::object(Object::Meaning {
            denotation: Value::str("42"),
            confidence: Value::Int(1),
            trace: Value::str("scripted"),
        });
        assert_eq!(write_string(&meaning), r#"(meaning (denotation "42") (confidence 1) (trace "scripted"))"#);
        assert_eq!(display_string(&meaning), "(meaning (denotation 42) (confidence 1) (trace scripted))");
        let dist = Value::object(Object::Dist(vec![(Value::str("yes"), 0.75), (Value::str("no"), 0.25)]));
        assert_eq!(write_string(&dist), r#"(dist ("yes" . 0.75) ("no" . 0.25))"#);
        let prim = crate::primitives::all().find(|p| p.name == "car").expect("car is a primitive");
        assert_eq!(write_string(&Value::Primitive(prim)), "#<procedure car>");
    }
}
