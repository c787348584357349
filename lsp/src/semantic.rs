//! Semantic tokens for the whole text: identifiers from the name resolution (serializers and
//! shared mutable state get their own modifiers so a theme can make them stand out), and
//! comments, literals, keywords and quoted symbols from the syntax tree ([`tree`]).
//!
//! Tokens never overlap (an identifier wins over the tree's reading of the same symbol), come
//! sorted, and are split at line ends unless the client takes multi-line tokens; columns and
//! lengths are in the negotiated position encoding.

mod tree;

use std::collections::BTreeSet;

use tower_lsp_server::ls_types::*;

use omega_analysis::{BindingId, BindingKind};
use omega_syntax::syntax::Span;

use crate::document::Encoding;
use crate::state::Snapshot;

pub const TYPES: &[SemanticTokenType] = &[
    SemanticTokenType::KEYWORD,
    SemanticTokenType::FUNCTION,
    SemanticTokenType::VARIABLE,
    SemanticTokenType::PARAMETER,
    SemanticTokenType::MACRO,
    SemanticTokenType::COMMENT,
    SemanticTokenType::STRING,
    SemanticTokenType::NUMBER,
    SemanticTokenType::OPERATOR,
    // Quoted symbols and effect operation names: constant data (Neovim shows
    // `@lsp.type.enumMember` as `@constant`).
    SemanticTokenType::ENUM_MEMBER,
];
const KEYWORD: u32 = 0;
const FUNCTION: u32 = 1;
const VARIABLE: u32 = 2;
const PARAMETER: u32 = 3;
const MACRO: u32 = 4;
const COMMENT: u32 = 5;
const STRING: u32 = 6;
const NUMBER: u32 = 7;
const OPERATOR: u32 = 8;
const ENUM_MEMBER: u32 = 9;

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
    // Each binding's (type, modifiers), indexed by its id; then one pass over the identifiers.
    let class: Vec<(u32, u32)> = res
        .bindings()
        .iter()
        .map(|b| {
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
            (ty, mods)
        })
        .collect();
    let mut out = Vec::new();
    for (s, id) in res.identifiers() {
        if within.is_some_and(|w| s.end < w.start || s.start > w.end) {
            continue;
        }
        let Some(&(ty, mods)) = class.get(id as usize) else { continue };
        let decl = if res.binder(s) == Some(id) { DECLARATION } else { 0 };
        out.push((s, ty, mods | decl));
    }
    out.sort_by_key(|t| (t.0.start, t.0.end));
    out.dedup_by_key(|t| t.0.start);
    out
}

/// Identifier tokens and the tree's, without overlaps, by position.
fn all_tokens(snap: &Snapshot, within: Option<Span>) -> Vec<(Span, u32, u32)> {
    // (span, type, modifiers, rank): at one start the lowest rank wins: a quote mark (the
    // resolution sees `'` as the `quote` keyword), then the identifier, then the tree's token.
    let mut all: Vec<(Span, u32, u32, u8)> =
        tokens_in(snap, within).into_iter().map(|(span, ty, mods)| (span, ty, mods, 1)).collect();
    if let Some(tree) = &snap.tree {
        let from_tree = tree::tokens(&snap.text, tree, within).into_iter();
        all.extend(from_tree.map(|(span, ty)| (span, ty, 0, if ty == OPERATOR { 0 } else { 2 })));
    }
    all.sort_by_key(|t| (t.0.start, t.3, t.0.end));
    let mut out: Vec<(Span, u32, u32)> = Vec::with_capacity(all.len());
    for (span, ty, mods, _) in all {
        if out.last().is_none_or(|last| span.start >= last.0.end) {
            out.push((span, ty, mods));
        }
    }
    out
}

/// Positions of non-decreasing byte offsets by one walk over the text: a whole file's tokens
/// cost one pass rather than a search of the rope per token. Lines end as in
/// [`crate::document`]: at `\n`, `\r\n` or a lone `\r`.
struct Walk<'t> {
    text: &'t str,
    encoding: Encoding,
    at: usize,
    line: u32,
    col: u32,
}

impl<'t> Walk<'t> {
    fn new(text: &'t str, encoding: Encoding) -> Walk<'t> {
        Walk { text, encoding, at: 0, line: 0, col: 0 }
    }

    fn position(&mut self, offset: usize) -> Position {
        let offset = offset.min(self.text.len());
        if offset < self.at {
            *self = Walk::new(self.text, self.encoding);
        }
        let bytes = self.text.as_bytes();
        while self.at < offset {
            match bytes[self.at] {
                b'\r' if bytes.get(self.at + 1) == Some(&b'\n') => self.at += 1,
                b'\n' | b'\r' => {
                    self.at += 1;
                    self.line += 1;
                    self.col = 0;
                }
                _ => {
                    let c = self.text[self.at..].chars().next().unwrap_or_default();
                    self.at += c.len_utf8();
                    self.col += match self.encoding {
                        Encoding::Utf8 => c.len_utf8(),
                        Encoding::Utf16 => c.len_utf16(),
                    } as u32;
                }
            }
        }
        Position::new(self.line, self.col)
    }
}

/// The length of `text` in columns of the encoding.
fn units(text: &str, encoding: Encoding) -> u32 {
    match encoding {
        Encoding::Utf8 => text.len() as u32,
        Encoding::Utf16 => text.chars().map(|c| c.len_utf16() as u32).sum(),
    }
}

/// The byte ranges of `span`'s pieces between line breaks (empty pieces left out).
fn lines_of(text: &str, span: Span) -> Vec<(usize, usize)> {
    let (start, end) = (span.start as usize, span.end as usize);
    let mut out = Vec::new();
    let mut piece = start;
    let bytes = text.as_bytes();
    let mut i = start;
    while i < end {
        if matches!(bytes[i], b'\n' | b'\r') {
            if piece < i {
                out.push((piece, i));
            }
            i += if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') { 2 } else { 1 };
            piece = i;
        } else {
            i += 1;
        }
    }
    if piece < end {
        out.push((piece, end));
    }
    out
}

/// Tokens in the protocol's relative encoding; a token that spans lines is one token per
/// line unless the client supports `multiline` tokens.
pub fn tokens(snap: &Snapshot, within: Option<Span>, multiline: bool) -> SemanticTokens {
    let encoding = snap.map.encoding();
    let text: &str = &snap.text;
    let mut walk = Walk::new(text, encoding);
    let mut data = Vec::new();
    let (mut line, mut col) = (0u32, 0u32);
    let mut push = |start: Position, length: u32, ty: u32, mods: u32| {
        let delta_line = start.line - line;
        let delta_start = if delta_line == 0 { start.character - col } else { start.character };
        data.push(SemanticToken { delta_line, delta_start, length, token_type: ty, token_modifiers_bitset: mods });
        line = start.line;
        col = start.character;
    };
    for (span, ty, mods) in all_tokens(snap, within) {
        let Some(whole) = text.get(span.range()) else { continue };
        let pieces = if multiline { vec![(span.start as usize, span.end as usize)] } else { lines_of(text, span) };
        for (start, end) in pieces {
            let piece = if multiline { whole } else { &text[start..end] };
            let length = units(piece, encoding);
            if length > 0 {
                push(walk.position(start), length, ty, mods);
            }
        }
    }
    SemanticTokens { result_id: None, data }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::Document;
    use crate::random_text::Rng;

    fn snapshot(text: &str, encoding: Encoding) -> Snapshot {
        let doc = Document::new(text, 1, encoding);
        let parsed = omega_syntax::reader::read(text);
        let analysis = omega_analysis::analyze_parsed_with(text, &parsed, &omega_analysis::Options::default());
        Snapshot {
            version: 1,
            text: doc.text().clone(),
            map: doc.map().clone(),
            tree: doc.tree().cloned(),
            analysis: Some(analysis),
        }
    }

    /// (line, column, length) of each token.
    fn decoded(tokens: &SemanticTokens) -> Vec<(u32, u32, u32)> {
        let (mut line, mut col) = (0, 0);
        tokens
            .data
            .iter()
            .map(|t| {
                line += t.delta_line;
                col = if t.delta_line == 0 { col + t.delta_start } else { t.delta_start };
                (line, col, t.length)
            })
            .collect()
    }

    fn random_text(seed: u64) -> String {
        let mut rng = Rng::new(seed);
        let count = 1 + rng.below(30);
        rng.text(count)
    }

    /// Each line's width in columns, lines split at `\r\n`, `\r` and `\n`.
    fn line_widths(text: &str, encoding: Encoding) -> Vec<u32> {
        let mut out = Vec::new();
        let mut rest = text;
        while let Some(i) = rest.find(['\r', '\n']) {
            out.push(units(&rest[..i], encoding));
            rest = &rest[i + if rest[i..].starts_with("\r\n") { 2 } else { 1 }..];
        }
        out.push(units(rest, encoding));
        out
    }

    /// The walk over the text agrees with the document's positions at every character.
    #[test]
    fn the_walk_gives_the_line_maps_positions() {
        for seed in 1..=300u64 {
            let text = random_text(seed);
            for encoding in [Encoding::Utf16, Encoding::Utf8] {
                let doc = Document::new(&text, 1, encoding);
                let mut walk = Walk::new(&text, encoding);
                for (i, _) in text.char_indices() {
                    if text[..i].ends_with('\r') && text[i..].starts_with('\n') {
                        continue;
                    }
                    assert_eq!(walk.position(i), doc.map().position(i), "seed {seed}: offset {i} of {text:?}");
                }
            }
        }
    }

    /// Random texts: tokens are sorted, never overlap, are never empty, and stay inside
    /// their line unless the client takes multi-line tokens.
    #[test]
    fn tokens_are_sorted_disjoint_and_inside_their_lines() {
        for seed in 1..=300u64 {
            let text = random_text(seed);
            for encoding in [Encoding::Utf16, Encoding::Utf8] {
                let snap = snapshot(&text, encoding);
                for multiline in [false, true] {
                    let tokens = decoded(&tokens(&snap, None, multiline));
                    for pair in tokens.windows(2) {
                        let ((l0, c0, n0), (l1, c1, _)) = (pair[0], pair[1]);
                        assert!(l0 < l1 || c0 + n0 <= c1, "seed {seed}: overlap or disorder in {text:?}: {tokens:?}");
                    }
                    for &(line, col, len) in &tokens {
                        assert!(len > 0, "seed {seed}: an empty token in {text:?}");
                        let width = line_widths(&text, encoding)[line as usize];
                        assert!(
                            multiline || col + len <= width,
                            "seed {seed}: past line {line} in {text:?}: {tokens:?}"
                        );
                    }
                }
            }
        }
    }
}
