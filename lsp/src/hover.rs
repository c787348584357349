//! Hover: built-in signatures, user definitions with their doc comment, a serializer's
//! lock-order notes, and the last inline result (an LLM answer in full, with its metadata,
//! and a "Copy answer" link for clients that run `omega.copyAnswer`).

use omega_analysis::BindingKind;
use tower_lsp_server::ls_types::Uri;

use crate::features::{doc_comment, enclosing_form, procedure_head, table_doc, word_at};
use crate::results::InlineResult;
use crate::state::Snapshot;

/// The client-side command a "Copy answer" link runs (the clipboard is the client's).
pub const COPY_ANSWER: &str = "omega.copyAnswer";

/// The hover text at `offset` of the snapshot, as Markdown; `result` is the inline result
/// under the cursor, if any; `copy_from` is the document's URI when the client runs
/// [`COPY_ANSWER`] links.
pub fn hover(
    snap: &Snapshot,
    offset: usize,
    result: Option<&InlineResult>,
    copy_from: Option<&Uri>,
) -> Option<(String, omega_syntax::syntax::Span)> {
    let last_result = |r: &InlineResult| {
        let mut text = format!("**Last result**\n\n{}", r.details());
        if let Some(link) = copy_from.and_then(|uri| copy_link(uri, r)) {
            text.push_str(&format!("\n\n{link}"));
        }
        text
    };
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
                parts.push(last_result(r));
            }
            return Some((parts.join("\n\n---\n\n"), word));
        }
    }
    let r = result?;
    Some((last_result(r), r.span))
}

/// `[Copy answer](command:omega.copyAnswer?ARGS)`, ARGS the percent-encoded JSON array
/// `[uri, id]` of the result, for answers and values; `None` for other results.
///
/// The link names the result rather than carrying its text: answers run to many kilobytes,
/// and a command URI holding one (percent-encoded, so up to three times its size) would sit in
/// every hover and protocol trace. The client asks for the text with `omega.answerText` when
/// the link is clicked; the id is never reused, so a link from an older hover copies the answer
/// it showed or fails, never a newer one.
pub fn copy_link(uri: &Uri, r: &InlineResult) -> Option<String> {
    r.copy_text()?;
    let what = r.copy_kind();
    let args = serde_json::json!([uri.as_str(), r.id]).to_string();
    Some(format!(
        "[Copy {what}](command:{COPY_ANSWER}?{} \"Copy the whole {what} to the clipboard\")",
        percent_encode(&args)
    ))
}

/// Every byte but RFC 3986's unreserved characters as `%XX`, so the link's target holds no
/// Markdown syntax (spaces, parentheses) and decodes with `decodeURIComponent`.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
