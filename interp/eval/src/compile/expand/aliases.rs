//! Forgetting the aliases of a form once it is compiled.
//!
//! Macro expansion and the derived forms rename the symbols they introduce to fresh aliases
//! (`Alias`). The compiled form keeps none of them (names are resolved to slots and globals,
//! quoted data is stripped), so after the form only the aliases that a global macro's rules
//! name can be met again: when a later form uses that macro. A kept session (a REPL, an editor
//! evaluating a buffer on every save) would otherwise grow by every alias of every form.

use std::collections::HashSet;

use super::ExpandEnv;
use crate::symbol::Symbol;
use crate::syntax::{Datum, DatumKind};

impl ExpandEnv {
    /// Called after each top-level form (compiled or not): drops the aliases no global macro
    /// names.
    pub fn end_form(&mut self) {
        if std::mem::take(&mut self.macros_changed) {
            self.macro_aliases = self.aliases_named_by_macros();
        }
        if self.aliases.len() > self.macro_aliases.len() {
            let keep = &self.macro_aliases;
            self.aliases.retain(|s, _| keep.contains(s));
        }
    }

    /// The aliases in the global macros' literals and rules, and those they stand for.
    fn aliases_named_by_macros(&self) -> HashSet<Symbol> {
        let mut found = HashSet::new();
        let mut note = |mut s: Symbol| {
            while let Some(a) = self.aliases.get(&s) {
                if !found.insert(s) {
                    break;
                }
                s = a.orig;
            }
        };
        let mut data: Vec<&Datum> = Vec::new();
        for m in self.macros.values() {
            m.literals.iter().for_each(|&s| note(s));
            note(m.ellipsis);
            data.extend(m.rules.iter().flat_map(|(pattern, template)| [pattern, template]));
        }
        while let Some(d) = data.pop() {
            match &d.kind {
                DatumKind::Symbol(s) => note(*s),
                DatumKind::List(items, tail) => {
                    data.extend(items);
                    data.extend(tail.as_deref());
                }
                DatumKind::Vector(items) => data.extend(items),
                _ => {}
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use crate::compile::{compile_toplevel, ExpandEnv, GlobalNames};
    use crate::primitives::testing::run_program;

    fn compile(env: &mut ExpandEnv, text: &str) {
        let read = crate::reader::read(text);
        for form in &read.data {
            compile_toplevel(form, env, &mut GlobalNames::default(), 0, false).expect("compiles");
        }
    }

    #[test]
    fn a_form_leaves_no_aliases_behind() {
        let mut env = ExpandEnv::default();
        compile(&mut env, "(define-syntax swap! (syntax-rules () ((_ a b) (let ((t a)) (set! a b) (set! b t)))))");
        for _ in 0..3 {
            compile(&mut env, "(let ((x 1) (y 2)) (swap! x y) (cond ((= x 2) 'ok) (else (case y ((1) 'one)))))");
            assert!(env.aliases.is_empty(), "{} aliases kept", env.aliases.len());
        }
        // A macro that defines a macro: the aliases in the rules it defined are kept for its uses.
        compile(
            &mut env,
            "(define-syntax def-first (syntax-rules () ((_ name) \
               (define-syntax name (syntax-rules () ((_ x) (let ((t x)) (car t))))))))",
        );
        compile(&mut env, "(def-first first)");
        let kept = env.aliases.len();
        assert!(kept > 0);
        compile(&mut env, "(first '(1 2))");
        assert_eq!(env.aliases.len(), kept);
        // Redefined as a procedure: its aliases go.
        compile(&mut env, "(define (first l) (car l))");
        assert!(env.aliases.is_empty(), "{} aliases kept", env.aliases.len());
    }

    #[test]
    fn a_macro_defined_by_a_macro_works_in_later_forms() {
        let program = "(define-syntax def-first (syntax-rules () ((_ name) \
                         (define-syntax name (syntax-rules () ((_ x) (let ((t x)) (car t))))))))
                       (def-first first)
                       (define t '(9))
                       (list (first '(1 2)) (first t))";
        let (last, _) = run_program(program);
        assert_eq!(last, "(1 9)");
    }
}
