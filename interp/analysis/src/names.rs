//! `omega::unbound` and `omega::unused`, read off the resolution.

use crate::diagnostic::{Code, Diagnostic, Fix, Severity, Tag};
use crate::syntax::Span;

use super::resolve::Resolution;

pub fn unbound(res: &Resolution, out: &mut Vec<Diagnostic>) {
    for &(span, name) in &res.unbound {
        // `(eval (list 'define 'x …))` defines x at run time: a quoted name may be bound.
        if res.calls_eval && res.quoted.contains(&name) {
            continue;
        }
        let hint = match name.as_str() {
            "true" | "false" | "nil" => " (use #t, #f or '())",
            _ => "",
        };
        out.push(Diagnostic::error(Code::Unbound, span, format!("unbound variable: `{name}`{hint}")));
    }
}

pub fn unused(res: &Resolution, out: &mut Vec<Diagnostic>) {
    for b in res.unused_bindings() {
        let Some(span) = b.span else { continue };
        let mut d = Diagnostic::new(Code::Unused, Severity::Hint, span, format!("`{}` is never used", b.name));
        d.tags.push(Tag::Unnecessary);
        d.fixes.push(Fix {
            title: format!("rename to `_{}` to mark it unused", b.name),
            edits: vec![(Span { start: span.start, end: span.start }, "_".to_string())],
            preferred: false,
        });
        out.push(d);
    }
}
