//! Language features answered from a document's state or its analysis snapshot: pure
//! functions from (snapshot, position) to protocol values.

use tower_lsp_server::ls_types::*;

use omega_syntax::syntax::Span;

use crate::document::Encoding;
use crate::results::Kind;
use crate::server::COMMANDS;
use crate::state::{DocState, Snapshot};

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
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec!["(".into(), " ".into()]),
            ..Default::default()
        }),
        signature_help_provider: Some(SignatureHelpOptions {
            trigger_characters: Some(vec!["(".into(), " ".into()]),
            retrigger_characters: None,
            work_done_progress_options: Default::default(),
        }),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        document_highlight_provider: Some(OneOf::Left(true)),
        rename_provider: Some(OneOf::Right(RenameOptions {
            prepare_provider: Some(true),
            work_done_progress_options: Default::default(),
        })),
        document_symbol_provider: Some(OneOf::Left(true)),
        workspace_symbol_provider: Some(OneOf::Left(true)),
        semantic_tokens_provider: Some(SemanticTokensServerCapabilities::SemanticTokensOptions(
            SemanticTokensOptions {
                legend: crate::semantic::legend(),
                range: Some(true),
                full: Some(SemanticTokensFullOptions::Bool(true)),
                work_done_progress_options: Default::default(),
            },
        )),
        folding_range_provider: Some(FoldingRangeProviderCapability::Simple(true)),
        selection_range_provider: Some(SelectionRangeProviderCapability::Simple(true)),
        document_formatting_provider: Some(OneOf::Left(true)),
        document_range_formatting_provider: Some(OneOf::Left(true)),
        // Enter indents the new line as `omega fmt` would (`structure::indent_line`).
        document_on_type_formatting_provider: Some(DocumentOnTypeFormattingOptions {
            first_trigger_character: "\n".into(),
            more_trigger_character: None,
        }),
        code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
            code_action_kinds: Some(vec![CodeActionKind::QUICKFIX]),
            ..Default::default()
        })),
        code_lens_provider: Some(CodeLensOptions { resolve_provider: Some(false) }),
        // Workspace symbols cover the folders' files (`workspace_index`).
        workspace: Some(WorkspaceServerCapabilities {
            workspace_folders: Some(WorkspaceFoldersServerCapabilities {
                supported: Some(true),
                change_notifications: Some(OneOf::Left(true)),
            }),
            file_operations: None,
        }),
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
                "kind": match r.kind { Kind::Value(_) => "value", Kind::Answer { .. } => "answer", Kind::Pending => "pending", Kind::Error(_) => "error", Kind::Blocked(_) => "blocked" },
                "stale": r.stale,
            })),
        })
        .collect();
    out.sort_by_key(|h| (h.position.line, h.position.character));
    out
}

/// Characters that end an identifier.
fn is_delimiter(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | '"' | ';' | '\'' | '`' | ',')
}

/// The identifier-like token around `offset` (touching it on either side).
pub fn word_at(text: &str, offset: usize) -> Option<Span> {
    let offset = offset.min(text.len());
    if !text.is_char_boundary(offset) {
        return None;
    }
    let start =
        text[..offset].char_indices().rev().find(|(_, c)| is_delimiter(*c)).map_or(0, |(i, c)| i + c.len_utf8());
    let end = text[offset..].char_indices().find(|(_, c)| is_delimiter(*c)).map_or(text.len(), |(i, _)| offset + i);
    (start < end).then(|| Span::new(start, end))
}

/// The text of the top-level form holding `span`, and where that form starts.
pub fn enclosing_form(snap: &Snapshot, span: Span) -> Option<Span> {
    let a = snap.analysis.as_ref()?;
    let i = a.resolution.form_index_at(span.start)?;
    Some(a.resolution.form_spans[i])
}

/// The `;;` comment lines right above `form`, without their semicolons: a definition's docs.
pub fn doc_comment(text: &str, form: Span) -> Option<String> {
    let before = &text[..form.start as usize];
    let mut lines: Vec<&str> = Vec::new();
    for line in before.lines().rev().skip_while(|l| l.trim().is_empty()).take_while(|l| l.trim_start().starts_with(';'))
    {
        lines.push(line.trim_start().trim_start_matches(';').trim());
    }
    // The blank line right above the form ends the search: a comment block further up
    // belongs to something else.
    if before.trim_end_matches([' ', '\t']).ends_with("\n\n") || lines.is_empty() {
        return None;
    }
    lines.reverse();
    let doc = lines.into_iter().filter(|l| !l.starts_with("omega:")).collect::<Vec<_>>().join("\n");
    (!doc.trim().is_empty()).then_some(doc)
}

/// The head of a procedure definition as written, `(name param …)`, and its parameter names.
pub fn procedure_head(text: &str, form: Span) -> Option<(String, Vec<String>)> {
    let src = &text[form.start as usize..form.end as usize];
    let parsed = omega_syntax::reader::read(src);
    let datum = parsed.data.first()?;
    let items = datum.as_list()?;
    if !items.first()?.is_symbol("define") {
        return None;
    }
    let target = items.get(1)?;
    let (name, formals): (String, Vec<String>) = match target.as_list() {
        Some(parts) => {
            let mut names: Vec<String> = parts.iter().skip(1).map(|d| slice(src, d.span)).collect();
            if let omega_syntax::syntax::DatumKind::List(_, Some(rest)) = &target.kind {
                names.push(format!(". {}", slice(src, rest.span)));
            }
            (slice(src, parts.first()?.span), names)
        }
        None => {
            let lambda = items.get(2)?.as_list()?;
            if !lambda.first()?.is_symbol("lambda") {
                return None;
            }
            let formals = lambda.get(1)?;
            let names = match formals.as_list() {
                Some(ps) => ps.iter().map(|d| slice(src, d.span)).collect(),
                None => vec![format!(". {}", slice(src, formals.span))],
            };
            (slice(src, target.span), names)
        }
    };
    let label = if formals.is_empty() { format!("({name})") } else { format!("({name} {})", formals.join(" ")) };
    Some((label, formals))
}

fn slice(src: &str, span: Span) -> String {
    src[span.start as usize..span.end as usize].to_string()
}

/// A call shape from the tables' usage line, `(substring s start [end])`: the line itself and
/// its parameters (`s`, `start`, `[end]`; a repeated `x …` is one parameter).
pub fn usage_head(usage: &str) -> (String, Vec<String>) {
    let inner = usage.trim().strip_prefix('(').and_then(|u| u.strip_suffix(')')).unwrap_or(usage);
    let mut params: Vec<String> = Vec::new();
    let (mut depth, mut token) = (0i32, String::new());
    for c in inner.chars() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            _ => {}
        }
        if c.is_whitespace() && depth == 0 {
            if !token.is_empty() {
                params.push(std::mem::take(&mut token));
            }
        } else {
            token.push(c);
        }
    }
    if !token.is_empty() {
        params.push(token);
    }
    // The head is the name, not a parameter; `…` belongs to the parameter before it.
    let mut out: Vec<String> = Vec::new();
    for p in params.into_iter().skip(1) {
        match out.last_mut() {
            Some(last) if p == "…" => last.push_str(" …"),
            _ => out.push(p),
        }
    }
    (usage.to_string(), out)
}

/// The usage line and doc of a built-in, special form, clause keyword or effect op.
pub fn table_doc(name: &str) -> Option<(&'static str, &'static str)> {
    omega_syntax::builtins::documentation(name).or_else(|| omega_syntax::forms::documentation(name))
}

#[cfg(test)]
mod usage_tests {
    use super::usage_head;

    #[test]
    fn usage_lines_give_their_parameters() {
        assert_eq!(usage_head("(substring s start [end])").1, ["s", "start", "[end]"]);
        assert_eq!(usage_head("(+ z …)").1, ["z …"]);
        assert_eq!(usage_head("(make-serializer)").1, Vec::<String>::new());
        assert_eq!(usage_head("(let ((name value) …) body …)").1, ["((name value) …)", "body …"]);
    }
}
