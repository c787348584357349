//! Hover: built-in signatures, user definitions with their doc comment, a serializer's
//! lock-order notes, and the last inline result (an LLM answer in full, with its metadata).

use omega_analysis::BindingKind;

use crate::features::{doc_comment, enclosing_form, procedure_head, table_doc, word_at};
use crate::results::InlineResult;
use crate::state::Snapshot;

/// The hover text at `offset` of the snapshot, as Markdown; `result` is the inline result
/// under the cursor, if any.
pub fn hover(
    snap: &Snapshot,
    offset: usize,
    result: Option<&InlineResult>,
) -> Option<(String, omega_syntax::syntax::Span)> {
    let mut parts: Vec<String> = Vec::new();
    let word = word_at(&snap.text, offset);
    if let (Some(a), Some(word)) = (&snap.analysis, word) {
        if let Some(b) = a.resolution.definition_at(offset) {
            let name = b.name.as_str();
            match b.kind {
                BindingKind::Builtin | BindingKind::SpecialForm => {
                    let what = if b.kind == BindingKind::Builtin { "built-in" } else { "special form" };
                    match table_doc(name) {
                        Some((usage, doc)) => parts.push(format!("```omega\n{usage}\n```\n{doc}\n\n*{what}*")),
                        None => parts.push(format!("`{name}`: {what}")),
                    }
                }
                _ => {
                    let what = match b.kind {
                        BindingKind::TopLevel => "top-level definition",
                        BindingKind::Local => "local binding",
                        BindingKind::Parameter => "parameter",
                        BindingKind::Macro => "macro",
                        _ => "binding",
                    };
                    let line = b.span.map(|s| snap.map.position(s.start as usize).line + 1);
                    let form = b.span.and_then(|s| enclosing_form(snap, s));
                    let head = form
                        .filter(|_| b.kind == BindingKind::TopLevel)
                        .and_then(|f| procedure_head(&snap.text, f))
                        .map(|(h, _)| h)
                        .unwrap_or_else(|| name.to_string());
                    let mut text = format!("```omega\n{head}\n```\n{what}");
                    if let Some(line) = line {
                        text.push_str(&format!(" (line {line})"));
                    }
                    if let Some(doc) =
                        form.filter(|_| b.kind == BindingKind::TopLevel).and_then(|f| doc_comment(&snap.text, f))
                    {
                        text.push_str(&format!("\n\n{doc}"));
                    }
                    parts.push(text);
                }
            }
        }
        // Effect operations are not bindings: `infer.op` in `(effect infer.op …)`.
        if parts.is_empty() {
            let text = &snap.text[word.start as usize..word.end as usize];
            if let Some((usage, doc)) =
                omega_syntax::builtins::BUILTIN_OPS.contains(&text).then(|| table_doc(text)).flatten()
            {
                parts.push(format!("```omega\n{usage}\n```\n{doc}\n\n*effect operation*"));
            }
        }
        if let Some(note) = a.lock_order_at(offset) {
            parts.push(format!("**Lock order** — {}", note.text));
        }
        if !parts.is_empty() {
            if let Some(r) = result {
                parts.push(format!("**Last result**\n\n{}", r.details()));
            }
            return Some((parts.join("\n\n---\n\n"), word));
        }
    }
    let r = result?;
    Some((format!("**Last result**\n\n{}", r.details()), r.span))
}
