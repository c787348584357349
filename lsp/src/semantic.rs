//! Semantic tokens for identifiers, from the name resolution. Serializers and shared mutable
//! state get their own modifiers so a theme can make them stand out.

use std::collections::BTreeSet;

use tower_lsp_server::ls_types::*;

use omega_analysis::{BindingId, BindingKind};
use omega_syntax::syntax::Span;

use crate::state::Snapshot;

pub const TYPES: &[SemanticTokenType] = &[
    SemanticTokenType::KEYWORD,
    SemanticTokenType::FUNCTION,
    SemanticTokenType::VARIABLE,
    SemanticTokenType::PARAMETER,
    SemanticTokenType::MACRO,
];
const KEYWORD: u32 = 0;
const FUNCTION: u32 = 1;
const VARIABLE: u32 = 2;
const PARAMETER: u32 = 3;
const MACRO: u32 = 4;

pub const MODIFIERS: &[&str] = &["declaration", "defaultLibrary", "serializer", "sharedState"];
const DECLARATION: u32 = 1 << 0;
const DEFAULT_LIBRARY: u32 = 1 << 1;
const SERIALIZER: u32 = 1 << 2;
const SHARED_STATE: u32 = 1 << 3;

pub fn legend() -> SemanticTokensLegend {
    SemanticTokensLegend {
        token_types: TYPES.to_vec(),
        token_modifiers: MODIFIERS.iter().map(|m| SemanticTokenModifier::new(m)).collect(),
    }
}

/// Heads of values that are mutable containers shared by whoever holds them.
const CONTAINERS: &[&str] = &[
    "make-hash-table",
    "make-equal-hash-table",
    "make-strong-eqv-hash-table",
    "make-eqv-hash-table",
    "make-string-hash-table",
    "make-table",
    "make-vector",
];

/// The head of the value a top-level definition at `span` binds: `lambda`, `make-serializer`…
fn defined_value(snap: &Snapshot, span: Span) -> Option<&str> {
    let a = snap.analysis.as_ref()?;
    let form = a.resolution.form_spans[a.resolution.form_index_at(span.start)?];
    let after = snap.text.get(span.end as usize..form.end as usize)?.trim_start();
    let head = after.strip_prefix('(')?;
    Some(head.split(|c: char| c.is_whitespace() || c == ')' || c == '(').next().unwrap_or(""))
}

fn tokens_in(snap: &Snapshot, within: Option<Span>) -> Vec<(Span, u32, u32)> {
    let Some(a) = &snap.analysis else { return Vec::new() };
    let res = &a.resolution;
    let serializers: BTreeSet<BindingId> = a.lock_orders.iter().map(|n| n.binding).collect();
    let race_states: BTreeSet<&str> = a.diagnostics.iter().filter_map(|d| d.data.state.as_deref()).collect();
    let mut out = Vec::new();
    for b in res.bindings() {
        let (ty, mut mods) = match b.kind {
            BindingKind::SpecialForm => (KEYWORD, 0),
            BindingKind::Builtin => (FUNCTION, DEFAULT_LIBRARY),
            BindingKind::Macro => (MACRO, 0),
            BindingKind::Parameter => (PARAMETER, 0),
            BindingKind::Local => (VARIABLE, 0),
            BindingKind::TopLevel => {
                let value = b.span.and_then(|s| defined_value(snap, s));
                let is_procedure = value == Some("lambda") || res.static_arity(b.id).is_some();
                (if is_procedure { FUNCTION } else { VARIABLE }, 0)
            }
        };
        if b.kind == BindingKind::TopLevel {
            let value = b.span.and_then(|s| defined_value(snap, s));
            if serializers.contains(&b.id) || matches!(value, Some("make-serializer" | "make-mutex")) {
                mods |= SERIALIZER;
            } else if res.is_assigned(b.id)
                || value.is_some_and(|v| CONTAINERS.contains(&v))
                || race_states.contains(b.name.as_str())
            {
                mods |= SHARED_STATE;
            }
        }
        for s in res.references(b.id, true) {
            if within.is_some_and(|w| s.end < w.start || s.start > w.end) {
                continue;
            }
            let decl = if res.binder(s) == Some(b.id) { DECLARATION } else { 0 };
            out.push((s, ty, mods | decl));
        }
    }
    out.sort_by_key(|t| (t.0.start, t.0.end));
    out.dedup_by_key(|t| t.0.start);
    out
}

/// Tokens in the protocol's relative encoding.
pub fn tokens(snap: &Snapshot, within: Option<Span>) -> SemanticTokens {
    let mut data = Vec::new();
    let (mut line, mut col) = (0u32, 0u32);
    for (span, ty, mods) in tokens_in(snap, within) {
        let start = snap.map.position(span.start as usize);
        let end = snap.map.position(span.end as usize);
        if end.line != start.line {
            continue;
        }
        let delta_line = start.line - line;
        let delta_start = if delta_line == 0 { start.character - col } else { start.character };
        data.push(SemanticToken {
            delta_line,
            delta_start,
            length: end.character - start.character,
            token_type: ty,
            token_modifiers_bitset: mods,
        });
        line = start.line;
        col = start.character;
    }
    SemanticTokens { result_id: None, data }
}
