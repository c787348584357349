//! Language features answered from a document's state or its analysis snapshot: pure
//! functions from (snapshot, position) to protocol values.

use tower_lsp_server::ls_types::*;

use crate::document::Encoding;
use crate::results::Kind;
use crate::server::COMMANDS;
use crate::state::DocState;

/// What the server offers.
pub fn capabilities(encoding: Encoding) -> ServerCapabilities {
    ServerCapabilities {
        position_encoding: Some(match encoding {
            Encoding::Utf8 => PositionEncodingKind::UTF8,
            Encoding::Utf16 => PositionEncodingKind::UTF16,
        }),
        text_document_sync: Some(TextDocumentSyncCapability::Options(TextDocumentSyncOptions {
            open_close: Some(true),
            change: Some(TextDocumentSyncKind::INCREMENTAL),
            save: Some(TextDocumentSyncSaveOptions::SaveOptions(SaveOptions { include_text: Some(false) })),
            ..Default::default()
        })),
        execute_command_provider: Some(ExecuteCommandOptions {
            commands: COMMANDS.iter().map(|c| c.to_string()).collect(),
            ..Default::default()
        }),
        inlay_hint_provider: Some(OneOf::Left(true)),
        ..Default::default()
    }
}

/// Inline results in `range`: after each form or call, its label; the full text in the tooltip.
pub fn inlay_hints(d: &DocState, range: Range) -> Vec<InlayHint> {
    let map = d.doc.map();
    let span = map.span(range);
    let mut out: Vec<InlayHint> = d
        .results
        .entries
        .iter()
        .filter(|r| r.span.end >= span.start && r.span.end <= span.end)
        // A top-level call's value is its answer: show it once.
        .filter(|r| {
            !matches!(r.kind, Kind::Value(_))
                || !d.results.entries.iter().any(|o| o.span == r.span && matches!(o.kind, Kind::Answer { .. }))
        })
        .map(|r| InlayHint {
            position: map.position(r.span.end as usize),
            label: InlayHintLabel::String(r.label()),
            kind: None,
            text_edits: None,
            tooltip: Some(InlayHintTooltip::MarkupContent(MarkupContent { kind: MarkupKind::Markdown, value: r.details() })),
            padding_left: Some(true),
            padding_right: None,
            data: Some(serde_json::json!({
                "kind": match r.kind { Kind::Value(_) => "value", Kind::Answer { .. } => "answer", Kind::Pending => "pending", Kind::Error(_) => "error" },
                "stale": r.stale,
            })),
        })
        .collect();
    out.sort_by_key(|h| (h.position.line, h.position.character));
    out
}
