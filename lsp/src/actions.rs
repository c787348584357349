//! Code actions: every quick fix the analysis attached to a diagnostic in the range (swap
//! order, order by key, wrap in a serializer, `;; omega: allow CODE`).

use std::collections::HashMap;

use tower_lsp_server::ls_types::*;

use omega_syntax::syntax::Span;

use crate::diagnostics::from_analysis;
use crate::state::Snapshot;

pub fn quick_fixes(snap: &Snapshot, uri: &Uri, range: Span) -> Vec<CodeActionOrCommand> {
    let Some(a) = &snap.analysis else { return Vec::new() };
    let mut out = Vec::new();
    for d in &a.diagnostics {
        if d.span.end < range.start || d.span.start > range.end {
            continue;
        }
        let diagnostic = from_analysis(&snap.map, uri, d);
        for fix in &d.fixes {
            let edits: Vec<TextEdit> = fix
                .edits
                .iter()
                .map(|(span, text)| TextEdit { range: snap.map.range(*span), new_text: text.clone() })
                .collect();
            out.push(CodeActionOrCommand::CodeAction(CodeAction {
                title: fix.title.clone(),
                kind: Some(CodeActionKind::QUICKFIX),
                diagnostics: Some(vec![diagnostic.clone()]),
                edit: Some(WorkspaceEdit {
                    changes: Some(HashMap::from([(uri.clone(), edits)])),
                    ..Default::default()
                }),
                is_preferred: Some(fix.preferred),
                ..Default::default()
            }));
        }
    }
    out
}
