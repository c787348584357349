//! `omega::arity`: calls of statically known procedures with a wrong number of arguments.
//!
//! Known means a primitive the file does not redefine, or a top-level procedure defined once
//! and never `set!` (resolve.rs decides); a variadic procedure is checked against its minimum.

use crate::diagnostic::{Code, Diagnostic};

use super::resolve::{Arity, Resolution};

pub fn check(res: &Resolution, out: &mut Vec<Diagnostic>) {
    for call in &res.calls {
        let Some(arity) = res.static_arity(call.callee) else { continue };
        if call.argc >= arity.min && arity.max.is_none_or(|max| call.argc <= max) {
            continue;
        }
        let name = res.binding(call.callee).name;
        let mut d = Diagnostic::error(
            Code::Arity,
            call.head,
            format!("`{name}` expects {}, but this call passes {}", expected(arity), call.argc),
        );
        if let Some(def) = res.binding(call.callee).span {
            d = d.with_related(def, format!("`{name}` is defined here"));
        }
        out.push(d);
    }
}

fn expected(a: Arity) -> String {
    let plural = |n: usize| if n == 1 { "argument" } else { "arguments" };
    match a.max {
        Some(max) if max == a.min => format!("{} {}", a.min, plural(a.min)),
        Some(max) => format!("{} to {} arguments", a.min, max),
        None => format!("at least {} {}", a.min, plural(a.min)),
    }
}
