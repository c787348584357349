//! `omega::unknown-effect`: an `(effect OP …)` whose OP nothing implements.
//!
//! Handlers are dynamic (a `handle` may wrap a call of the procedure that performs the effect),
//! so an op that any `on` clause of the file handles counts as known: no false warnings.

use crate::builtins::BUILTIN_OPS;
use crate::diagnostic::{Code, Diagnostic};

use super::resolve::Resolution;

pub fn check(res: &Resolution, out: &mut Vec<Diagnostic>) {
    for &(op, span) in &res.effects {
        if BUILTIN_OPS.contains(&op.as_str()) || res.handled_ops.contains(&op) {
            continue;
        }
        out.push(Diagnostic::warning(
            Code::UnknownEffect,
            span,
            format!("unknown effect `{op}`: it is not built in and no `handle` in this file has an `on {op}` clause"),
        ));
    }
}
