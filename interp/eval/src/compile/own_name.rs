//! A local procedure's references to its own name.
//!
//! A procedure bound by `letrec`, an internal `define` or a named `let` usually calls itself.
//! Compiled naively it captures the variable that holds it, which must then live in a box
//! (the closure exists before the variable is set): closure → box → closure, a reference
//! cycle that reference counting never frees, so every run of a loop leaked its closure.
//!
//! When such a variable is never assigned, inside its own procedure (and procedures nested
//! in it) it always holds the running closure itself. This pass finds those variables
//! (`VarInfo::own_procedure`) and works out which variables closures really capture, leaving
//! out these self-references; code generation reads them from the running frame instead
//! (`Op::OwnClosure`, `CaptureFrom::OwnClosure`). No cycle, no box.
//!
//! Not covered: local procedures that call each other (`even?`/`odd?` defined inside a
//! body) still capture each other's boxes, and so do procedures whose variable is `set!`.

use super::core::{Expr, Node, VarInfo};

/// Sets `own_procedure` and recomputes `captured` for the variables of `node`, one top-level
/// form (procedure 0).
pub fn resolve(node: &Node, vars: &mut [VarInfo]) {
    for v in vars.iter_mut() {
        v.captured = false;
    }
    let mut procedures = vec![0];
    walk(node, vars, &mut procedures);
}

/// `procedures`: the procedures around `node`, innermost last.
fn walk(node: &Node, vars: &mut [VarInfo], procedures: &mut Vec<usize>) {
    match &node.expr {
        Expr::Const(_) | Expr::Global(_) => {}
        Expr::Local(v) => note_reference(*v, vars, procedures),
        Expr::SetLocal(v, value) => {
            note_reference(*v, vars, procedures);
            walk(value, vars, procedures);
        }
        Expr::Init(v, value) => {
            let info = &mut vars[*v];
            if let Expr::Lambda(l) = &value.expr {
                if info.letrec && !info.assigned {
                    info.own_procedure = Some(l.id);
                }
            }
            note_reference(*v, vars, procedures);
            walk(value, vars, procedures);
        }
        Expr::SetGlobal(_, value) | Expr::DefineGlobal(_, value) => walk(value, vars, procedures),
        Expr::If(t, c, a) => {
            for n in [t, c, a] {
                walk(n, vars, procedures);
            }
        }
        Expr::Seq(nodes) | Expr::Parallel(nodes) => nodes.iter().for_each(|n| walk(n, vars, procedures)),
        Expr::Lambda(l) => {
            procedures.push(l.id);
            walk(&l.body, vars, procedures);
            procedures.pop();
        }
        Expr::Call(f, args) => {
            walk(f, vars, procedures);
            args.iter().for_each(|n| walk(n, vars, procedures));
        }
        Expr::Effect(_, args) => args.iter().for_each(|n| walk(n, vars, procedures)),
        Expr::Let(binds, body) => {
            binds.iter().for_each(|(_, n)| walk(n, vars, procedures));
            walk(body, vars, procedures);
        }
        Expr::Letrec(_, body) => walk(body, vars, procedures),
        Expr::Handle { body, clauses, ret } => {
            walk(body, vars, procedures);
            clauses.iter().for_each(|(_, _, n)| walk(n, vars, procedures));
            if let Some(r) = ret {
                walk(r, vars, procedures);
            }
        }
        Expr::Guard { body, handler } => {
            walk(body, vars, procedures);
            walk(handler, vars, procedures);
        }
        Expr::Delay { thunk, .. } => walk(thunk, vars, procedures),
    }
}

/// A use of `v` inside the innermost of `procedures`: a capture unless it is the variable's
/// own procedure (or one inside it) naming itself.
fn note_reference(v: usize, vars: &mut [VarInfo], procedures: &[usize]) {
    let info = &mut vars[v];
    if procedures.last() != Some(&info.owner) && !is_own_name(info, procedures) {
        info.captured = true;
    }
}

/// Whether a reference to `info`'s variable inside the innermost of `procedures` is its own
/// procedure naming itself: the running closure, or a capture of it.
fn is_own_name(info: &VarInfo, procedures: &[usize]) -> bool {
    info.own_procedure.is_some_and(|p| procedures.contains(&p))
}

#[cfg(test)]
mod tests {
    use std::ops::ControlFlow;
    use std::rc::{Rc, Weak};

    use crate::primitives::testing::{NoLlm, SharedOutput};
    use crate::session::Session;
    use crate::value::Value;
    use crate::vm::Closure;

    /// Runs `program` in a session of its own, which is dropped after: the last form's result.
    fn last_result(program: &str) -> Result<Value, crate::error::Error> {
        let mut session = Session::new(Box::new(SharedOutput::default()), Box::new(NoLlm));
        let mut last = None;
        session
            .run_source("<test>", program, |_, form| {
                last = Some(form.result);
                ControlFlow::Continue(())
            })
            .unwrap_or_else(|_| panic!("{program} does not read"));
        last.expect("a form")
    }

    /// A handle on the procedure `program` returns, which outlives its session only through a
    /// reference cycle.
    fn last_procedure(program: &str) -> Weak<Closure> {
        match last_result(program) {
            Ok(Value::Closure(c)) => Rc::downgrade(&c),
            other => panic!("{program}: expected a procedure, got {:?}", other.map(|v| v.type_name())),
        }
    }

    fn shown(program: &str) -> String {
        match last_result(program) {
            Ok(v) => crate::printer::write_string(&v),
            Err(e) => format!("error: {}", e.message),
        }
    }

    #[test]
    fn a_procedure_naming_itself_is_the_value_of_its_variable() {
        assert_eq!(shown("(letrec ((g (lambda () g))) (eq? g (g)))"), "#t");
        assert_eq!(shown("(let loop ((i 0)) (if (< i 2) (loop (+ i 1)) (eq? loop ((lambda () loop)))))"), "#t");
        // Assigned: the old procedure calls whatever the variable holds now.
        let assigned = "(define (f) (define (g n) (if (= n 0) 'done (g (- n 1)))) (define h g) \
                        (set! g (lambda (n) 'replaced)) (h 3)) (f)";
        assert_eq!(shown(assigned), "replaced");
        assert_eq!(shown("(letrec ((a (b)) (b (lambda () a))) a)"), "error: b: used before its definition");
    }

    #[test]
    fn a_local_procedure_that_calls_itself_is_freed_with_its_last_use() {
        for program in [
            "(let loop ((i 0)) (if (< i 3) (loop (+ i 1)) loop))",
            "(define (f) (define (g n) (if (= n 0) g (g (- n 1)))) (g 3)) (f)",
            "(letrec ((g (lambda (n) (if (= n 0) g (g (- n 1)))))) (g 3))",
            // A procedure inside the loop names it: it holds the loop, not the other way.
            "(let loop ((i 0)) (if (< i 3) ((lambda () (loop (+ i 1)))) (lambda () loop)))",
            "(let loop ((i 0)) (if (< i 3) (loop (+ i 1)) (lambda () (lambda () loop))))",
        ] {
            let procedure = last_procedure(program);
            assert!(procedure.upgrade().is_none(), "{program}: the procedure outlives its session");
        }
    }
}
