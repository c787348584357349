//! Definition, references, document highlight, rename and symbols, from the name resolution.

use std::collections::HashMap;

use tower_lsp_server::ls_types::*;

use omega_analysis::{Binding, BindingKind, Resolution};
use omega_syntax::syntax::Span;

use crate::features::word_at;
use crate::state::Snapshot;

fn user_binding(snap: &Snapshot, offset: usize) -> Option<&Binding> {
    let b = snap.analysis.as_ref()?.resolution.definition_at(offset)?;
    (!matches!(b.kind, BindingKind::Builtin | BindingKind::SpecialForm)).then_some(b)
}

pub fn definition(snap: &Snapshot, uri: &Uri, offset: usize) -> Option<Location> {
    let span = user_binding(snap, offset)?.span?;
    Some(Location::new(uri.clone(), snap.map.range(span)))
}

pub fn references(snap: &Snapshot, uri: &Uri, offset: usize, include_declaration: bool) -> Vec<Location> {
    let Some(a) = &snap.analysis else { return Vec::new() };
    let Some((_, spans)) = a.resolution.references_at(offset, include_declaration) else { return Vec::new() };
    spans.into_iter().map(|s| Location::new(uri.clone(), snap.map.range(s))).collect()
}

pub fn highlights(snap: &Snapshot, offset: usize) -> Vec<DocumentHighlight> {
    let Some(a) = &snap.analysis else { return Vec::new() };
    let Some((id, spans)) = a.resolution.references_at(offset, true) else { return Vec::new() };
    spans
        .into_iter()
        .map(|s| DocumentHighlight {
            range: snap.map.range(s),
            kind: Some(if a.resolution.binder(s) == Some(id) {
                DocumentHighlightKind::WRITE
            } else {
                DocumentHighlightKind::READ
            }),
        })
        .collect()
}

/// The range a rename at `offset` would change: a name the file binds.
pub fn prepare_rename(snap: &Snapshot, offset: usize) -> Option<Range> {
    user_binding(snap, offset)?;
    Some(snap.map.range(word_at(&snap.text, offset)?))
}

/// Why `name` cannot be an identifier, if it cannot.
pub fn invalid_name(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("the new name is empty".into());
    }
    if name
        .chars()
        .any(|c| c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | '"' | ';' | '\'' | '`' | ',' | '#'))
        || name.parse::<f64>().is_ok()
    {
        return Some(format!("`{name}` is not an identifier: use letters, digits and `!$%&*/:<=>?^_~+-.@`"));
    }
    None
}

pub fn rename(snap: &Snapshot, uri: &Uri, offset: usize, new_name: &str) -> Result<Option<WorkspaceEdit>, String> {
    if let Some(why) = invalid_name(new_name) {
        return Err(why);
    }
    let Some(b) = user_binding(snap, offset) else { return Ok(None) };
    let Some(a) = &snap.analysis else { return Ok(None) };
    let spans = a.resolution.references(b.id, true);
    let edits: Vec<TextEdit> =
        spans.into_iter().map(|s| TextEdit { range: snap.map.range(s), new_text: new_name.to_string() }).collect();
    Ok(Some(WorkspaceEdit { changes: Some(HashMap::from([(uri.clone(), edits)])), ..Default::default() }))
}

/// The file's top-level definitions, each over its whole form.
pub fn top_level_symbols(snap: &Snapshot) -> Vec<(String, SymbolKind, Span, Span)> {
    let Some(a) = &snap.analysis else { return Vec::new() };
    top_level_definitions(&snap.text, &a.resolution)
}

/// The top-level definitions of `text` as `res` resolved it: (name, kind, whole form, name).
/// One finder for open documents and the workspace index of files on disk.
pub fn top_level_definitions(text: &str, res: &Resolution) -> Vec<(String, SymbolKind, Span, Span)> {
    let mut out = Vec::new();
    for b in res.bindings() {
        if !matches!(b.kind, BindingKind::TopLevel | BindingKind::Macro) {
            continue;
        }
        let Some(span) = b.span else { continue };
        let Some(i) = res.form_index_at(span.start) else { continue };
        let form = res.form_spans[i];
        let text = &text[form.start as usize..form.end as usize];
        let kind = if b.kind == BindingKind::Macro {
            SymbolKind::OPERATOR
        } else if text.contains("(make-serializer") || text.contains("(make-mutex") {
            SymbolKind::OBJECT
        } else if text[1..].trim_start().starts_with("define (") || text.contains("(lambda") {
            SymbolKind::FUNCTION
        } else {
            SymbolKind::VARIABLE
        };
        out.push((b.name.as_str().to_string(), kind, form, span));
    }
    out.sort_by_key(|s| (s.2.start, s.3.start));
    out
}

#[allow(deprecated)] // `DocumentSymbol::deprecated` must be spelled out.
pub fn document_symbols(snap: &Snapshot) -> Vec<DocumentSymbol> {
    top_level_symbols(snap)
        .into_iter()
        .map(|(name, kind, form, at)| DocumentSymbol {
            name,
            detail: None,
            kind,
            tags: None,
            deprecated: None,
            range: snap.map.range(form),
            selection_range: snap.map.range(at),
            children: None,
        })
        .collect()
}

/// How well a symbol's name (lowercased) matches a workspace-symbol query (lowercased): the
/// name must contain the query; an equal name ranks first (0), then a name that starts with
/// it (1), then any other (2).
pub fn query_match(name_lowercase: &str, query_lowercase: &str) -> Option<u8> {
    if name_lowercase == query_lowercase {
        Some(0)
    } else if name_lowercase.starts_with(query_lowercase) {
        Some(1)
    } else {
        name_lowercase.contains(query_lowercase).then_some(2)
    }
}

/// Symbols of one open file whose name contains `query` (case-insensitively).
pub fn workspace_symbols(snap: &Snapshot, uri: &Uri, query: &str, container: Option<String>) -> Vec<WorkspaceSymbol> {
    let q = query.to_lowercase();
    top_level_symbols(snap)
        .into_iter()
        .filter(|(name, ..)| query_match(&name.to_lowercase(), &q).is_some())
        .map(|(name, kind, _, at)| WorkspaceSymbol {
            name,
            kind,
            tags: None,
            container_name: container.clone(),
            location: OneOf::Left(Location::new(uri.clone(), snap.map.range(at))),
            data: None,
        })
        .collect()
}
