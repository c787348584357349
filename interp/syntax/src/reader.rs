//! The reader: parses text with the tree-sitter grammar and lowers the concrete tree to
//! [`Datum`]s with byte spans.
//!
//! Reading never stops at the first problem. Every syntax error is collected, and each
//! top-level form without one is still returned, so the static analysis and the language
//! server can work on the rest of a file that is being edited. The walk is iterative, so
//! nesting depth costs heap, not host stack; data deeper than [`MAX_DEPTH`] is refused
//! because the passes after the reader recurse.

use std::fmt;

use tree_sitter::{Node, Tree, TreeCursor};

use crate::symbol::Symbol;
use crate::syntax::{Datum, DatumKind, Span};

/// The deepest nesting of lists, vectors and quotes the reader accepts.
pub const MAX_DEPTH: usize = 10_000;

/// A problem in the text, found before anything is evaluated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub span: Span,
    pub message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SyntaxError {}

/// The forms read from a text and the syntax errors in it, sorted by position.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Parsed {
    pub data: Vec<Datum>,
    pub errors: Vec<SyntaxError>,
}

/// A parser configured for OmegaLLM.
pub fn parser() -> tree_sitter::Parser {
    let mut parser = tree_sitter::Parser::new();
    parser
        .set_language(&tree_sitter_omega::language())
        .expect("the grammar crate and the tree-sitter crate share an ABI version");
    parser
}

/// Parses and lowers a whole text.
pub fn read(text: &str) -> Parsed {
    match parser().parse(text, None) {
        Some(tree) => read_tree(text, &tree),
        // Only a timeout or a cancellation makes tree-sitter give up, and none is set.
        None => Parsed {
            data: Vec::new(),
            errors: vec![SyntaxError { span: Span::new(0, 0), message: "the parser gave up".into() }],
        },
    }
}

/// Lowers a tree already parsed from `text`, for example one re-parsed incrementally.
pub fn read_tree(text: &str, tree: &Tree) -> Parsed {
    let mut lowerer =
        Lowerer { text, errors: Vec::new(), frames: Vec::new(), data: Vec::new(), form_mark: 0, depth: 0 };
    lowerer.walk(tree.root_node().walk());
    let mut errors = lowerer.errors;
    errors.sort_by_key(|e| (e.span.start, e.span.end));
    Parsed { data: lowerer.data, errors: outermost_unclosed(errors) }
}

/// Keeps the first (outermost) "unclosed parenthesis" of a file and counts the others in its
/// message: every parenthesis after an unclosed one is inside it, so 100,000 open
/// parentheses would otherwise give 100,000 errors.
fn outermost_unclosed(errors: Vec<SyntaxError>) -> Vec<SyntaxError> {
    const UNCLOSED: &str = "unclosed parenthesis";
    let more = errors.iter().filter(|e| e.message == UNCLOSED).count().saturating_sub(1);
    if more == 0 {
        return errors;
    }
    let mut first = true;
    let mut out = Vec::with_capacity(errors.len() - more);
    for mut e in errors {
        if e.message == UNCLOSED {
            if !first {
                continue;
            }
            first = false;
            let noun = if more == 1 { "parenthesis" } else { "parentheses" };
            e.message = format!("{UNCLOSED} (and {more} more unclosed {noun} after it)");
        }
        out.push(e);
    }
    out
}

/// What a node under construction turns into once all its children are lowered.
enum NodeKind {
    /// The file: each datum is a top-level form.
    Top,
    List,
    Vector,
    /// `'d` and friends: the name of the form and the span of the prefix token.
    Prefix(&'static str, Span),
    /// `#;d`: the datum is read and thrown away.
    DatumComment(Span),
    /// `#foo(…)`: already reported; the contents are read only for their own errors.
    UnknownHash,
    /// A region tree-sitter could not parse.
    Error,
}

impl NodeKind {
    /// Whether the datum built here contains its children, so passes over it recurse.
    fn nests(&self) -> bool {
        matches!(self, NodeKind::List | NodeKind::Vector | NodeKind::Prefix(..))
    }
}

/// A node being built: its kind, where it stands, and the children lowered so far.
struct OpenNode {
    kind: NodeKind,
    node_span: Span,
    /// The opening token of a bracketed node, where an unclosed one is reported.
    open: Span,
    items: Vec<Datum>,
    /// Where each `.` of a list stood: the number of items before it, and its span.
    dots: Vec<(usize, Span)>,
    /// Inside an error region: `(` tokens not yet matched by a `)`.
    open_parens: Vec<Span>,
    /// The error count when the frame started, to tell whether it added any.
    errors_before: usize,
}

struct Lowerer<'t> {
    text: &'t str,
    errors: Vec<SyntaxError>,
    frames: Vec<OpenNode>,
    data: Vec<Datum>,
    /// The error count when the current top-level form started.
    form_mark: usize,
    /// How many of the frames are data that nest: lists, vectors, quotes.
    depth: usize,
}

fn span_of(node: Node) -> Span {
    Span::new(node.start_byte(), node.end_byte())
}

/// The first byte of a node, where an error about a whole literal is reported.
fn first_byte(node: Node) -> Span {
    Span::new(node.start_byte(), node.start_byte() + 1)
}

/// A stand-in for a datum that could not be read; its form is dropped anyway.
fn placeholder(span: Span) -> Datum {
    Datum::new(DatumKind::List(Vec::new(), None), span)
}

impl<'t> Lowerer<'t> {
    fn error(&mut self, span: Span, message: impl Into<String>) {
        self.errors.push(SyntaxError { span, message: message.into() });
    }

    fn text_of(&self, node: Node) -> &'t str {
        // A caller may hand in a tree that does not match the text; read nothing then.
        self.text.get(node.byte_range()).unwrap_or("")
    }

    /// A pre-order walk driven by the cursor. Every node the cursor descends into has a
    /// frame, so going back up to a parent always completes exactly one frame.
    fn walk(&mut self, mut cursor: TreeCursor) {
        let mut descend = self.enter(cursor.node());
        loop {
            if descend {
                if cursor.goto_first_child() {
                    descend = self.enter(cursor.node());
                    continue;
                }
                self.exit();
            }
            loop {
                if cursor.goto_next_sibling() {
                    descend = self.enter(cursor.node());
                    break;
                }
                if !cursor.goto_parent() {
                    return;
                }
                self.exit();
            }
        }
    }

    /// Starts a node: lowers a leaf completely, or pushes a frame and returns true.
    fn enter(&mut self, node: Node) -> bool {
        if self.frames.len() == 1 {
            self.form_mark = self.errors.len();
        }
        if node.is_missing() {
            self.missing(node);
            return false;
        }
        let span = span_of(node);
        let kind = match node.kind() {
            "source_file" => NodeKind::Top,
            "list" | "vector" | "quote" | "quasiquote" | "unquote" | "unquote_splicing" if self.depth >= MAX_DEPTH => {
                self.error(first_byte(node), "nesting too deep");
                self.push(placeholder(span));
                return false;
            }
            "list" => NodeKind::List,
            "vector" => NodeKind::Vector,
            "quote" => NodeKind::Prefix("quote", self.first_child_span(node)),
            "quasiquote" => NodeKind::Prefix("quasiquote", self.first_child_span(node)),
            "unquote" => NodeKind::Prefix("unquote", self.first_child_span(node)),
            "unquote_splicing" => NodeKind::Prefix("unquote-splicing", self.first_child_span(node)),
            "datum_comment" => NodeKind::DatumComment(self.first_child_span(node)),
            "unknown_hash" if node.child_count() == 0 => {
                self.error(span, "unknown # syntax");
                self.push(placeholder(span));
                return false;
            }
            "unknown_hash" => {
                self.error(self.first_child_span(node), "unknown # syntax");
                NodeKind::UnknownHash
            }
            "ERROR" => NodeKind::Error,
            _ => {
                self.leaf(node);
                return false;
            }
        };
        let open = self.first_child_span(node);
        if kind.nests() {
            self.depth += 1;
        }
        self.frames.push(OpenNode {
            kind,
            node_span: span,
            open,
            items: Vec::new(),
            dots: Vec::new(),
            open_parens: Vec::new(),
            errors_before: self.errors.len(),
        });
        true
    }

    fn first_child_span(&self, node: Node) -> Span {
        node.child(0).map_or(first_byte(node), span_of)
    }

    /// Completes the innermost frame and hands its datum, if any, to the frame around it.
    fn exit(&mut self) {
        let Some(frame) = self.frames.pop() else {
            return;
        };
        if frame.kind.nests() {
            self.depth -= 1;
        }
        let span = frame.node_span;
        let datum = match frame.kind {
            NodeKind::Top => {
                return;
            }
            NodeKind::List => Some(self.finish_list(frame)),
            NodeKind::Vector => Some(Datum::new(DatumKind::Vector(frame.items), span)),
            NodeKind::Prefix(name, prefix) => Some(match frame.items.into_iter().next() {
                Some(datum) => {
                    let head = Datum::new(DatumKind::Symbol(Symbol::intern(name)), prefix);
                    Datum::new(DatumKind::List(vec![head, datum], None), span)
                }
                None => placeholder(span),
            }),
            NodeKind::DatumComment(_) => None,
            NodeKind::UnknownHash => Some(placeholder(span)),
            NodeKind::Error => {
                for open in frame.open_parens {
                    self.error(open, "unclosed parenthesis");
                }
                if self.errors.len() == frame.errors_before {
                    let snippet: String = self.text.get(span.range()).unwrap_or("").chars().take(20).collect();
                    let message = match snippet.trim() {
                        "" => "syntax error".to_string(),
                        s => format!("unexpected {s}"),
                    };
                    self.error(span, message);
                }
                None
            }
        };
        if let Some(datum) = datum {
            self.push(datum);
        }
    }

    /// Checks the dots of a list and builds it.
    fn finish_list(&mut self, frame: OpenNode) -> Datum {
        let mut items = frame.items;
        let tail = match frame.dots.as_slice() {
            [] => None,
            [(before, _)] if *before >= 1 && items.len() == before + 1 => items.pop().map(Box::new),
            [(_, dot), ..] => {
                self.error(*dot, "misplaced .: a dot must come just before the last datum of a list");
                None
            }
        };
        Datum::new(DatumKind::List(items, tail), frame.node_span)
    }

    /// Gives a finished datum to the innermost frame; a top-level form with an error
    /// anywhere inside it is dropped.
    fn push(&mut self, datum: Datum) {
        match self.frames.last_mut() {
            Some(OpenNode { kind: NodeKind::Top, .. }) | None => {
                if self.errors.len() == self.form_mark {
                    self.data.push(datum);
                }
            }
            Some(frame) => frame.items.push(datum),
        }
    }

    /// A token tree-sitter inserted to recover from an error.
    fn missing(&mut self, node: Node) {
        let Some(frame) = self.frames.last() else {
            return;
        };
        let (span, message) = match (node.kind(), &frame.kind) {
            (")", _) => (frame.open, "unclosed parenthesis".to_string()),
            (_, NodeKind::Prefix(_, prefix) | NodeKind::DatumComment(prefix)) => {
                let prefix = *prefix;
                let text = self.text.get(prefix.range()).unwrap_or("");
                (prefix, format!("expected a datum after {text}"))
            }
            (kind, _) => (span_of(node), format!("missing {kind}")),
        };
        self.error(span, message);
        if node.is_named() {
            self.push(placeholder(span_of(node)));
        }
    }

    fn leaf(&mut self, node: Node) {
        let span = span_of(node);
        let text = self.text_of(node);
        let in_error = matches!(self.frames.last(), Some(OpenNode { kind: NodeKind::Error, .. }));
        let kind = match node.kind() {
            "number" => self.number(text, span),
            "symbol" => self.symbol(text, span),
            "boolean" => Some(DatumKind::Bool(matches!(text, "#t" | "#true"))),
            "character" => self.character(text, span),
            "string" => self.string(text, span),
            "bracket" => {
                self.error(span, "brackets are not supported; use ( )");
                None
            }
            "dot" => {
                self.dot(span);
                return;
            }
            "block_comment" => {
                if !block_comment_is_closed(text) {
                    self.error(Span::new(span.start as usize, span.start as usize + 2), "unterminated block comment");
                }
                return;
            }
            "shebang" => {
                if span.start != 0 {
                    self.error(span, "unknown # syntax");
                }
                return;
            }
            "(" | "#(" if in_error => {
                if let Some(frame) = self.frames.last_mut() {
                    frame.open_parens.push(span);
                }
                return;
            }
            ")" if in_error => {
                let matched = self.frames.last_mut().and_then(|frame| frame.open_parens.pop());
                if matched.is_none() {
                    self.error(span, "unexpected )");
                }
                return;
            }
            "\"" if in_error => {
                self.error(span, "unterminated string");
                return;
            }
            prefix @ ("'" | "`" | "," | ",@" | "#;") if in_error => {
                self.error(span, format!("expected a datum after {prefix}"));
                return;
            }
            // Punctuation of well-formed nodes, comments.
            _ => return,
        };
        self.push(Datum::new(kind.unwrap_or(DatumKind::List(Vec::new(), None)), span));
    }

    fn dot(&mut self, span: Span) {
        match self.frames.last_mut() {
            Some(OpenNode { kind: NodeKind::List, items, dots, .. }) => dots.push((items.len(), span)),
            Some(OpenNode { kind: NodeKind::Vector, .. }) => self.error(span, "unexpected . in a vector"),
            Some(OpenNode { kind: NodeKind::Top, .. }) => self.error(span, "unexpected . outside a list"),
            _ => self.error(span, "unexpected ."),
        }
    }

    fn number(&mut self, text: &str, span: Span) -> Option<DatumKind> {
        let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            return match text.parse::<i64>() {
                Ok(n) => Some(DatumKind::Int(n)),
                Err(_) => {
                    self.error(span, "integer literal out of range");
                    None
                }
            };
        }
        let value = match text {
            "+inf.0" => Ok(f64::INFINITY),
            "-inf.0" => Ok(f64::NEG_INFINITY),
            "+nan.0" => Ok(f64::NAN),
            _ => text.parse::<f64>(),
        };
        match value {
            Ok(x) => Some(DatumKind::Float(x)),
            Err(_) => {
                self.error(span, format!("invalid number {text}"));
                None
            }
        }
    }

    fn symbol(&mut self, text: &str, span: Span) -> Option<DatumKind> {
        if text == "null" {
            return Some(DatumKind::List(Vec::new(), None));
        }
        if is_rational(text) {
            self.error(span, "rational literals are not supported");
            return None;
        }
        Some(DatumKind::Symbol(Symbol::intern(text)))
    }

    fn character(&mut self, text: &str, span: Span) -> Option<DatumKind> {
        let name = text.strip_prefix("#\\").unwrap_or(text);
        match character_named(name) {
            Some(c) => Some(DatumKind::Char(c)),
            None => {
                self.error(span, format!("unknown character name {text}"));
                None
            }
        }
    }

    fn string(&mut self, text: &str, span: Span) -> Option<DatumKind> {
        match unescape(text) {
            Ok(s) => Some(DatumKind::Str(s.into())),
            Err(StringError::Unterminated) => {
                self.error(Span::new(span.start as usize, span.start as usize + 1), "unterminated string");
                None
            }
            Err(StringError::Escape(message)) => {
                self.error(span, message);
                None
            }
        }
    }
}

/// `1/2`, `-3/4`: the shape of a rational, which OmegaLLM does not have.
fn is_rational(text: &str) -> bool {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    unsigned.split_once('/').is_some_and(|(n, d)| all_digits(n) && all_digits(d))
}

/// The character a `#\` literal names: one character, a name, or `x` and hex digits.
fn character_named(name: &str) -> Option<char> {
    let mut chars = name.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        return Some(c);
    }
    let named = match name {
        "space" => ' ',
        "newline" | "linefeed" => '\n',
        "tab" => '\t',
        "nul" | "null" => '\0',
        "return" => '\r',
        "alarm" => '\u{7}',
        "backspace" => '\u{8}',
        "delete" => '\u{7f}',
        "escape" => '\u{1b}',
        _ => {
            let hex = name.strip_prefix('x')?;
            return u32::from_str_radix(hex, 16).ok().and_then(char::from_u32);
        }
    };
    Some(named)
}

/// `#| … |#` with every nested `#|` closed.
fn block_comment_is_closed(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i + 1 < bytes.len() {
        match (bytes[i], bytes[i + 1]) {
            (b'#', b'|') => {
                depth += 1;
                i += 2;
            }
            (b'|', b'#') => {
                depth = depth.saturating_sub(1);
                i += 2;
                if depth == 0 {
                    return i == bytes.len();
                }
            }
            _ => i += 1,
        }
    }
    false
}

enum StringError {
    Unterminated,
    Escape(String),
}

/// The value of a string literal, given its text including the quotes.
fn unescape(literal: &str) -> Result<String, StringError> {
    let body = literal.strip_prefix('"').ok_or(StringError::Unterminated)?;
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Ok(out),
            '\\' => {}
            _ => {
                out.push(c);
                continue;
            }
        }
        let Some(e) = chars.next() else {
            return Err(StringError::Unterminated);
        };
        let simple = match e {
            '"' | '\\' | '/' => Some(e),
            'n' => Some('\n'),
            't' => Some('\t'),
            'r' => Some('\r'),
            'a' => Some('\u{7}'),
            'b' => Some('\u{8}'),
            'f' => Some('\u{c}'),
            '0' => Some('\0'),
            _ => None,
        };
        if let Some(s) = simple {
            out.push(s);
            continue;
        }
        match e {
            'x' => {
                let mut hex = String::new();
                while let Some(&h) = chars.peek().filter(|h| h.is_ascii_hexdigit()) {
                    hex.push(h);
                    chars.next();
                }
                let value = match chars.next_if_eq(&';') {
                    Some(_) => u32::from_str_radix(&hex, 16).ok(),
                    None => None,
                };
                match value.map(char::from_u32) {
                    Some(Some(c)) => out.push(c),
                    Some(None) => return Err(escape_error(format!("\\x{hex}; is not a Unicode character"))),
                    None => return Err(escape_error("invalid \\x escape in string: expected \\xHH;".into())),
                }
            }
            'u' => out.push(unicode_escape(&mut chars)?),
            ' ' | '\t' | '\n' | '\r' => {
                // A line continuation: optional spaces, one line break, then indentation.
                let mut at = e;
                while at == ' ' || at == '\t' {
                    match chars.next() {
                        Some(next) => at = next,
                        None => return Err(StringError::Unterminated),
                    }
                }
                match at {
                    '\n' => {}
                    '\r' => {
                        chars.next_if_eq(&'\n');
                    }
                    _ => {
                        return Err(escape_error(
                            "invalid escape in string: a backslash followed by spaces must end the line".into(),
                        ))
                    }
                }
                while chars.next_if(|&w| w == ' ' || w == '\t').is_some() {}
            }
            other => return Err(escape_error(format!("invalid escape \\{other} in string"))),
        }
    }
    Err(StringError::Unterminated)
}

fn escape_error(message: String) -> StringError {
    StringError::Escape(message)
}

/// `\uXXXX` after the `\u`, combining a surrogate pair written as two escapes.
fn unicode_escape(chars: &mut std::iter::Peekable<std::str::Chars>) -> Result<char, StringError> {
    let four_hex = |chars: &mut std::iter::Peekable<std::str::Chars>| -> Option<u32> {
        let mut value = 0;
        for _ in 0..4 {
            value = value * 16 + chars.next_if(char::is_ascii_hexdigit)?.to_digit(16)?;
        }
        Some(value)
    };
    let bad = || escape_error("invalid \\u escape in string: expected 4 hex digits".into());
    let unpaired = || escape_error("invalid \\u escape in string: unpaired surrogate".into());
    let high = four_hex(chars).ok_or_else(bad)?;
    if !(0xD800..0xDC00).contains(&high) {
        return char::from_u32(high).ok_or_else(unpaired);
    }
    if chars.next_if_eq(&'\\').is_none() || chars.next_if_eq(&'u').is_none() {
        return Err(unpaired());
    }
    let low = four_hex(chars).ok_or_else(bad)?;
    if !(0xDC00..0xE000).contains(&low) {
        return Err(unpaired());
    }
    char::from_u32(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)).ok_or_else(unpaired)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The data written back as text, to compare whole readings at a glance.
    fn show(datum: &Datum) -> String {
        match &datum.kind {
            DatumKind::Int(n) => n.to_string(),
            DatumKind::Float(x) => format!("{x:?}"),
            DatumKind::Str(s) => format!("{s:?}"),
            DatumKind::Char(c) => format!("#\\{c:?}"),
            DatumKind::Bool(b) => (if *b { "#t" } else { "#f" }).to_string(),
            DatumKind::Symbol(s) => s.to_string(),
            DatumKind::List(items, tail) => {
                let mut parts: Vec<String> = items.iter().map(show).collect();
                if let Some(tail) = tail {
                    parts.push(".".into());
                    parts.push(show(tail));
                }
                format!("({})", parts.join(" "))
            }
            DatumKind::Vector(items) => format!("#({})", items.iter().map(show).collect::<Vec<_>>().join(" ")),
        }
    }

    /// Reads text that must be free of errors.
    fn data(text: &str) -> String {
        let parsed = read(text);
        assert_eq!(parsed.errors, vec![], "errors reading {text:?}");
        parsed.data.iter().map(show).collect::<Vec<_>>().join(" ")
    }

    /// The errors of a text as `(start, end, message)`.
    fn errors(text: &str) -> Vec<(u32, u32, String)> {
        read(text).errors.into_iter().map(|e| (e.span.start, e.span.end, e.message)).collect()
    }

    fn one_error(text: &str, start: u32, end: u32, message: &str) {
        assert_eq!(errors(text), vec![(start, end, message.to_string())], "reading {text:?}");
    }

    #[test]
    fn numbers() {
        assert_eq!(data("0 42 -7 +5 1. .5 1e3 -2.5E-3"), "0 42 -7 5 1.0 0.5 1000.0 -0.0025");
        assert_eq!(data("+inf.0 -inf.0"), "inf -inf");
        assert!(matches!(read("+nan.0").data[0].kind, DatumKind::Float(x) if x.is_nan()));
        assert_eq!(data("9223372036854775807 -9223372036854775808"), "9223372036854775807 -9223372036854775808");
    }

    #[test]
    fn integer_out_of_range() {
        one_error("(f 9223372036854775808)", 3, 22, "integer literal out of range");
    }

    #[test]
    fn rationals_are_rejected() {
        one_error("(+ 1/2 x)", 3, 6, "rational literals are not supported");
        one_error("-3/4", 0, 4, "rational literals are not supported");
        assert_eq!(data("1/x a/2"), "1/x a/2");
    }

    #[test]
    fn symbols() {
        assert_eq!(
            data("infer.op write-table! -> a->b ok? ?x *x* <= 1+ ... :key 1.2.3"),
            "infer.op write-table! -> a->b ok? ?x *x* <= 1+ ... :key 1.2.3"
        );
        assert_eq!(read("Foo").data[0].as_symbol(), Some(Symbol::intern("Foo")));
    }

    #[test]
    fn null_is_the_empty_list() {
        assert_eq!(data("null () 'null"), "() () (quote ())");
        assert_eq!(read("null").data[0].span, Span::new(0, 4));
    }

    #[test]
    fn booleans() {
        assert_eq!(data("#t #f #true #false"), "#t #f #t #f");
        assert_eq!(data("true false nil"), "true false nil");
    }

    #[test]
    fn characters() {
        assert_eq!(
            data(r"#\a #\space #\newline #\tab #\nul #\x41 #\( #\λ #\x"),
            r"#\'a' #\' ' #\'\n' #\'\t' #\'\0' #\'A' #\'(' #\'λ' #\'x'"
        );
        one_error(r"(#\bogus)", 1, 8, r"unknown character name #\bogus");
    }

    #[test]
    fn quote_family_reads_as_lists_with_spans() {
        assert_eq!(data("'x `(a ,b ,@c)"), "(quote x) (quasiquote (a (unquote b) (unquote-splicing c)))");
        let parsed = read(" 'x");
        let quote = &parsed.data[0];
        assert_eq!(quote.span, Span::new(1, 3));
        let items = quote.as_list().expect("a list");
        assert_eq!((items[0].span, items[1].span), (Span::new(1, 2), Span::new(2, 3)));
        let parsed = read(",@x");
        let items = parsed.data[0].as_list().expect("a list");
        assert_eq!((parsed.data[0].span, items[0].span), (Span::new(0, 3), Span::new(0, 2)));
    }

    #[test]
    fn lists_vectors_and_spans() {
        assert_eq!(data("(define (f x) (+ x 1)) #(1 \"x\" (2)) #()"), "(define (f x) (+ x 1)) #(1 \"x\" (2)) #()");
        let parsed = read("(a (b))");
        let outer = &parsed.data[0];
        assert_eq!(outer.span, Span::new(0, 7));
        let inner = &outer.as_list().expect("a list")[1];
        assert_eq!(inner.span, Span::new(3, 6));
    }

    #[test]
    fn dotted_pairs() {
        assert_eq!(data("(a . b) (a b . c) (lambda (x . rest) rest)"), "(a . b) (a b . c) (lambda (x . rest) rest)");
        let parsed = read("(a . b)");
        assert!(
            matches!(&parsed.data[0].kind, DatumKind::List(items, Some(tail)) if items.len() == 1 && tail.span == Span::new(5, 6))
        );
    }

    #[test]
    fn misplaced_dots() {
        let message = "misplaced .: a dot must come just before the last datum of a list";
        one_error("(. a)", 1, 2, message);
        one_error("(a .)", 3, 4, message);
        one_error("(a . b c)", 3, 4, message);
        one_error("(a . b . c)", 3, 4, message);
        one_error("#(a . b)", 4, 5, "unexpected . in a vector");
        one_error(" . ", 1, 2, "unexpected . outside a list");
    }

    #[test]
    fn string_escapes() {
        assert_eq!(data(r#""\" \\ \/ \n \t \r \a \b \f \0""#), r#""\" \\ / \n \t \r \u{7} \u{8} \u{c} \0""#);
        assert_eq!(data(r#""\x41;\x3bb; \u00e9 \ud83d\ude00""#), "\"Aλ é 😀\"");
        assert_eq!(data("\"one \\\n     two \\  \r\n\tthree\""), "\"one two three\"");
        assert_eq!(data("\"spans\nlines\""), "\"spans\\nlines\"");
        assert_eq!(data("\"#| not a comment\" \"\\n#|\""), "\"#| not a comment\" \"\\n#|\"");
    }

    #[test]
    fn bad_escapes_are_reported_at_the_opening_quote() {
        one_error(r#"(f "ok" "a\qb")"#, 8, 14, r"invalid escape \q in string");
        one_error(r#""\x41""#, 0, 6, r"invalid \x escape in string: expected \xHH;");
        one_error(r#""\xD800;""#, 0, 9, r"\xD800; is not a Unicode character");
        one_error(r#""\u12""#, 0, 6, r"invalid \u escape in string: expected 4 hex digits");
        one_error(r#""\ud83d x""#, 0, 10, r"invalid \u escape in string: unpaired surrogate");
        one_error(r#""\ude00""#, 0, 8, r"invalid \u escape in string: unpaired surrogate");
        one_error(r#""a\ b""#, 0, 6, "invalid escape in string: a backslash followed by spaces must end the line");
    }

    #[test]
    fn unterminated_strings() {
        one_error("(ok) \"abc", 5, 6, "unterminated string");
        one_error("\"ab\\\"c", 0, 1, "unterminated string");
        assert_eq!(
            errors("(f \"abc"),
            vec![(0, 1, "unclosed parenthesis".into()), (3, 4, "unterminated string".into())]
        );
    }

    #[test]
    fn brackets_are_reserved() {
        let message = "brackets are not supported; use ( )".to_string();
        assert_eq!(errors("(let [x 1] x)"), vec![(5, 6, message.clone()), (9, 10, message.clone())]);
        assert_eq!(errors("{}"), vec![(0, 1, message.clone()), (1, 2, message)]);
    }

    #[test]
    fn unknown_hash_syntax() {
        one_error("(f #foo)", 3, 7, "unknown # syntax");
        one_error("(a) #!fold-case", 4, 15, "unknown # syntax");
        let parsed = read("#u8(1 2) (ok)");
        assert_eq!(parsed.errors, vec![SyntaxError { span: Span::new(0, 4), message: "unknown # syntax".into() }]);
        assert_eq!(parsed.data.iter().map(show).collect::<Vec<_>>(), ["(ok)"]);
    }

    #[test]
    fn shebang_line_is_ignored() {
        assert_eq!(data("#!/usr/bin/env omega run\n(display 1)"), "(display 1)");
    }

    #[test]
    fn comments_are_skipped() {
        assert_eq!(data("; one\n(a ; two\n b) #| x #| y |# z |# c"), "(a b) c");
        assert_eq!(data("#;(skipped) kept (a #;b c) '#;x y #; #; one two three"), "kept (a c) (quote y) three");
        one_error("(a) #| open #| nested |#", 4, 6, "unterminated block comment");
    }

    #[test]
    fn errors_inside_datum_comments_count() {
        one_error("#;(f 1/2) (ok)", 5, 8, "rational literals are not supported");
        assert_eq!(read("#;(f 1/2) (ok)").data.len(), 1);
    }

    #[test]
    fn unclosed_parenthesis_is_reported_at_the_open_paren() {
        one_error("(ok)\n(define (f x)\n  (+ x 1)\n", 5, 6, "unclosed parenthesis");
        one_error("(a (b c)\n(d e)", 0, 1, "unclosed parenthesis");
        one_error("#(1 2", 0, 2, "unclosed parenthesis");
        assert_eq!(read("(ok)\n(define (f x)\n  (+ x 1)\n").data.iter().map(show).collect::<Vec<_>>(), ["(ok)"]);
    }

    #[test]
    fn stray_close_paren() {
        let parsed = read("(a b))\n(c)");
        assert_eq!(parsed.errors, vec![SyntaxError { span: Span::new(5, 6), message: "unexpected )".into() }]);
        assert_eq!(parsed.data.iter().map(show).collect::<Vec<_>>(), ["(a b)", "(c)"]);
        one_error(")", 0, 1, "unexpected )");
    }

    #[test]
    fn missing_datum_after_a_prefix() {
        one_error("(a ')", 3, 4, "expected a datum after '");
        one_error("(a #;)", 3, 5, "expected a datum after #;");
    }

    #[test]
    fn bad_forms_are_dropped_and_good_ones_kept() {
        let parsed = read("(define a 1)\n(define b [2])\n(define c 1/2)\n(define d 4)");
        assert_eq!(parsed.data.iter().map(show).collect::<Vec<_>>(), ["(define a 1)", "(define d 4)"]);
        let starts: Vec<u32> = parsed.errors.iter().map(|e| e.span.start).collect();
        assert_eq!(starts, [23, 25, 38]);
    }

    fn nested(depth: usize) -> String {
        format!("{}x{}", "(".repeat(depth), ")".repeat(depth))
    }

    #[test]
    fn nesting_up_to_the_limit_is_read() {
        let parsed = read(&nested(MAX_DEPTH));
        assert_eq!(parsed.errors, vec![]);
        let mut datum = &parsed.data[0];
        let mut depth = 0;
        while let Some([inner]) = datum.as_list() {
            datum = inner;
            depth += 1;
        }
        assert_eq!(depth, MAX_DEPTH);
    }

    #[test]
    fn deeper_nesting_is_an_error_not_a_crash() {
        one_error(&nested(MAX_DEPTH + 1), MAX_DEPTH as u32, MAX_DEPTH as u32 + 1, "nesting too deep");
        let quotes = format!("{}x", "'".repeat(MAX_DEPTH + 1));
        one_error(&quotes, MAX_DEPTH as u32, MAX_DEPTH as u32 + 1, "nesting too deep");
        let parsed = read(&format!("{} (ok)", nested(200_000)));
        assert_eq!(parsed.errors.len(), 1);
        assert_eq!(parsed.data.len(), 1);
    }

    #[test]
    fn truncated_input_is_reported() {
        for (text, start, message) in [
            ("'", 0, "expected a datum after '"),
            ("#;", 0, "expected a datum after #;"),
            (",@", 0, "expected a datum after ,@"),
            ("(", 0, "unclosed parenthesis"),
            ("#(", 0, "unclosed parenthesis"),
            ("\"abc\\", 0, "unterminated string"),
        ] {
            let errors = errors(text);
            assert_eq!(errors.first().map(|e| (e.0, e.2.as_str())), Some((start, message)), "reading {text:?}");
        }
    }

    /// Random text from characters that matter to the grammar: reading never panics, and
    /// a tree with an error always yields a syntax error.
    #[test]
    fn every_parse_error_is_reported() {
        const PIECES: &[&str] = &[
            "(", ")", "#(", "'", "`", ",", ",@", ".", "\"", "\\", "#", "#;", "#|", "|#", ";", "\n", " ", "a", "1", "[",
            "}", "#t", "#\\", "x", "é",
        ];
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let mut parser = parser();
        for _ in 0..2000 {
            let len = next(12);
            let text: String = (0..len).map(|_| PIECES[next(PIECES.len())]).collect();
            let tree = parser.parse(&text, None).expect("parsed");
            let parsed = read_tree(&text, &tree);
            if tree.root_node().has_error() {
                assert!(!parsed.errors.is_empty(), "no error reported for {text:?}");
            }
        }
    }

    #[test]
    fn read_tree_accepts_an_incrementally_reparsed_tree() {
        let old = "(define x 1)\n(display x)";
        let mut parser = parser();
        let mut tree = parser.parse(old, None).expect("parsed");
        let new = "(define x 12)\n(display x)";
        tree.edit(&tree_sitter::InputEdit {
            start_byte: 11,
            old_end_byte: 11,
            new_end_byte: 12,
            start_position: tree_sitter::Point::new(0, 11),
            old_end_position: tree_sitter::Point::new(0, 11),
            new_end_position: tree_sitter::Point::new(0, 12),
        });
        let tree = parser.parse(new, Some(&tree)).expect("reparsed");
        assert_eq!(read_tree(new, &tree), read(new));
        assert_eq!(read_tree(new, &tree).data.iter().map(show).collect::<Vec<_>>(), ["(define x 12)", "(display x)"]);
    }

    #[test]
    fn a_tree_for_another_text_does_not_panic() {
        let tree = parser().parse("(a \"é\" bbbbbbbbbb)", None).expect("parsed");
        let _ = read_tree("(a", &tree);
    }
}
