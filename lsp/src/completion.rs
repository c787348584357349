//! Completion (special forms, built-ins, names in scope, effect operations after `(effect `)
//! and signature help for the call around the cursor.

use std::collections::BTreeSet;

use tower_lsp_server::ls_types::*;

use omega_analysis::BindingKind;
use omega_syntax::builtins;

use crate::features::{enclosing_form, procedure_head, table_doc, usage_head};
use crate::state::Snapshot;

/// The identifier prefix typed before `offset`.
fn prefix(text: &str, offset: usize) -> &str {
    let before = &text[..offset];
    let start = before
        .char_indices()
        .rev()
        .find(|(_, c)| c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | '"' | ';' | '\'' | '`' | ','))
        .map_or(0, |(i, c)| i + c.len_utf8());
    &before[start..]
}

fn item(label: &str, kind: CompletionItemKind, detail: String) -> CompletionItem {
    let documentation = table_doc(label)
        .filter(|_| {
            matches!(kind, CompletionItemKind::FUNCTION | CompletionItemKind::KEYWORD | CompletionItemKind::EVENT)
        })
        .map(|(_, doc)| Documentation::MarkupContent(MarkupContent { kind: MarkupKind::Markdown, value: doc.into() }));
    CompletionItem {
        label: label.to_string(),
        kind: Some(kind),
        detail: Some(detail),
        documentation,
        ..Default::default()
    }
}

pub fn complete(snap: &Snapshot, offset: usize) -> Vec<CompletionItem> {
    let offset = floor_boundary(&snap.text, offset);
    let typed = prefix(&snap.text, offset);
    let before = snap.text[..offset - typed.len()].trim_end_matches([' ', '\t']);
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    if before.ends_with("(effect") {
        let mut ops: BTreeSet<String> = builtins::BUILTIN_OPS.iter().map(|s| s.to_string()).collect();
        if let Some(a) = &snap.analysis {
            ops.extend(a.resolution.handled_ops.iter().map(|s| s.as_str().to_string()));
        }
        for op in ops.into_iter().filter(|o| o.starts_with(typed)) {
            let built_in = builtins::BUILTIN_OPS.contains(&op.as_str());
            out.push(item(
                &op,
                CompletionItemKind::EVENT,
                if built_in { "built-in effect".into() } else { "effect handled in this file".into() },
            ));
        }
        return out;
    }
    if let Some(a) = &snap.analysis {
        for b in a.resolution.visible_names_at(offset) {
            let name = b.name.as_str();
            if !name.starts_with(typed) || name.starts_with("#%") || !seen.insert(name.to_string()) {
                continue;
            }
            let (kind, detail) = match b.kind {
                BindingKind::TopLevel => (CompletionItemKind::FUNCTION, "defined in this file".to_string()),
                BindingKind::Local => (CompletionItemKind::VARIABLE, "local".to_string()),
                BindingKind::Parameter => (CompletionItemKind::VARIABLE, "parameter".to_string()),
                BindingKind::Macro => (CompletionItemKind::SNIPPET, "macro".to_string()),
                BindingKind::SpecialForm => (CompletionItemKind::KEYWORD, "special form".to_string()),
                BindingKind::Builtin => (CompletionItemKind::FUNCTION, "built-in".to_string()),
            };
            out.push(item(name, kind, detail));
        }
    }
    for form in omega_syntax::forms::FORMS {
        if form.name.starts_with(typed) && seen.insert(form.name.to_string()) {
            out.push(item(form.name, CompletionItemKind::KEYWORD, form.signature.into()));
        }
    }
    for sig in builtins::SIGNATURES {
        if sig.name.starts_with(typed) && seen.insert(sig.name.to_string()) {
            out.push(item(sig.name, CompletionItemKind::FUNCTION, sig.usage.into()));
        }
    }
    out
}

fn floor_boundary(text: &str, mut offset: usize) -> usize {
    offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// The innermost list open at `offset`: where its head starts and how many complete
/// arguments precede the cursor. Strings and comments are skipped.
fn open_call(text: &str, offset: usize) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    // Scan from the start of the enclosing top-level region: a linear pass with a stack.
    let mut stack: Vec<(usize, usize, bool)> = Vec::new(); // (open index, args, in token)
    let mut i = 0;
    while i < offset.min(bytes.len()) {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                if let Some(top) = stack.last_mut() {
                    top.1 += 1;
                }
            }
            b';' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'(' | b'[' => {
                if let Some(top) = stack.last_mut() {
                    top.1 += 1;
                    top.2 = false;
                }
                stack.push((i, 0, false));
            }
            b')' | b']' => {
                stack.pop();
            }
            c if c.is_ascii_whitespace() => {
                if let Some(top) = stack.last_mut() {
                    top.2 = false;
                }
            }
            _ => {
                if let Some(top) = stack.last_mut() {
                    if !top.2 {
                        top.1 += 1;
                        top.2 = true;
                    }
                }
            }
        }
        i += 1;
    }
    let (open, items, in_token) = *stack.last()?;
    // Items counted include the head; the argument being typed is the active one.
    let active = if in_token { items.saturating_sub(2) } else { items.saturating_sub(1) };
    Some((open + 1, active))
}

pub fn signature_help(snap: &Snapshot, offset: usize) -> Option<SignatureHelp> {
    let offset = floor_boundary(&snap.text, offset);
    let (head_start, active) = open_call(&snap.text, offset)?;
    let rest = &snap.text[head_start..];
    let head_len =
        rest.find(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | '"')).unwrap_or(rest.len());
    let name = &rest[..head_len];
    if name.is_empty() {
        return None;
    }
    let a = snap.analysis.as_ref();
    let binding = a.and_then(|a| a.resolution.definition_at(head_start));
    let (label, params, doc) = match binding {
        Some(b) if b.kind == BindingKind::TopLevel => {
            let form = b.span.and_then(|s| enclosing_form(snap, s))?;
            let (label, params) = procedure_head(&snap.text, form)?;
            (label, params, crate::features::doc_comment(&snap.text, form))
        }
        _ => {
            let (usage, doc) = table_doc(name)?;
            let (label, params) = usage_head(usage);
            (label, params, Some(doc.to_string()))
        }
    };
    let rest_param = params.iter().position(|p| p.starts_with(". ") || p.ends_with('…'));
    let active = match rest_param {
        Some(r) if active >= r => r,
        _ => active.min(params.len().saturating_sub(1)),
    };
    Some(SignatureHelp {
        signatures: vec![SignatureInformation {
            label,
            documentation: doc
                .map(|d| Documentation::MarkupContent(MarkupContent { kind: MarkupKind::Markdown, value: d })),
            parameters: Some(
                params
                    .iter()
                    .map(|p| ParameterInformation { label: ParameterLabel::Simple(p.clone()), documentation: None })
                    .collect(),
            ),
            active_parameter: Some(active as u32),
        }],
        active_signature: Some(0),
        active_parameter: Some(active as u32),
    })
}
