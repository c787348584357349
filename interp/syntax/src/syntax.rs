//! The syntax tree: data read from source, each node with its byte span.
//!
//! The reader (`reader.rs`) lowers tree-sitter's concrete tree to these nodes; the expander,
//! the evaluator's compiler and the static analysis all start from here.

use std::fmt;
use std::sync::Arc;

use crate::symbol::Symbol;

/// A half-open byte range `[start, end)` into the source text.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span { start: start as u32, end: end as u32 }
    }
    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
    /// The smallest span covering both.
    pub fn cover(self, other: Span) -> Span {
        Span { start: self.start.min(other.start), end: self.end.max(other.end) }
    }
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

/// One datum of source text.
#[derive(Clone, Debug, PartialEq)]
pub struct Datum {
    pub kind: DatumKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum DatumKind {
    Int(i64),
    Float(f64),
    Str(Arc<str>),
    Char(char),
    Bool(bool),
    Symbol(Symbol),
    /// `(a b c)` has `tail: None`; `(a b . c)` has `tail: Some(c)`. `()` and `null` are an empty list.
    List(Vec<Datum>, Option<Box<Datum>>),
    Vector(Vec<Datum>),
}

impl Datum {
    pub fn new(kind: DatumKind, span: Span) -> Datum {
        Datum { kind, span }
    }

    pub fn as_symbol(&self) -> Option<Symbol> {
        match self.kind {
            DatumKind::Symbol(s) => Some(s),
            _ => None,
        }
    }

    /// The elements of a proper list.
    pub fn as_list(&self) -> Option<&[Datum]> {
        match &self.kind {
            DatumKind::List(items, None) => Some(items),
            _ => None,
        }
    }

    /// The head symbol of a list form such as `(define …)`.
    pub fn head_symbol(&self) -> Option<Symbol> {
        match &self.kind {
            DatumKind::List(items, _) => items.first().and_then(Datum::as_symbol),
            _ => None,
        }
    }

    pub fn is_symbol(&self, name: &str) -> bool {
        self.as_symbol().is_some_and(|s| s.as_str() == name)
    }
}

/// Maps byte offsets to 0-based lines and columns.
#[derive(Clone, Debug)]
pub struct LineIndex {
    /// Byte offset of the start of each line.
    starts: Vec<u32>,
}

impl LineIndex {
    /// Lines end at `\n`, `\r\n` or a lone `\r`, as in LSP.
    pub fn new(text: &str) -> LineIndex {
        let bytes = text.as_bytes();
        let mut starts = vec![0];
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\n' => starts.push(i as u32 + 1),
                b'\r' if bytes.get(i + 1) == Some(&b'\n') => {
                    starts.push(i as u32 + 2);
                    i += 1;
                }
                b'\r' => starts.push(i as u32 + 1),
                _ => {}
            }
            i += 1;
        }
        LineIndex { starts }
    }

    /// 0-based line of a byte offset.
    pub fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s as usize <= offset) - 1
    }

    pub fn line_start(&self, line: usize) -> usize {
        self.starts[line.min(self.starts.len() - 1)] as usize
    }

    pub fn line_count(&self) -> usize {
        self.starts.len()
    }

    /// 0-based line and 0-based column in characters (Unicode scalar values).
    pub fn line_col(&self, text: &str, offset: usize) -> (usize, usize) {
        let line = self.line(offset);
        let start = self.line_start(line);
        let offset = offset.min(text.len());
        let col = text.get(start..offset).map_or(offset - start, |s| s.chars().count());
        (line, col)
    }

    /// 0-based line and column in UTF-16 code units, as LSP positions count them.
    pub fn line_col_utf16(&self, text: &str, offset: usize) -> (usize, usize) {
        let line = self.line(offset);
        let start = self.line_start(line);
        let offset = offset.min(text.len());
        let col = text.get(start..offset).map_or(offset - start, |s| s.encode_utf16().count());
        (line, col)
    }

    /// The byte offset of a 0-based line and UTF-16 column, clamped to the line.
    pub fn offset_utf16(&self, text: &str, line: usize, col: usize) -> usize {
        if line >= self.starts.len() {
            return text.len();
        }
        let start = self.line_start(line);
        let end = if line + 1 < self.starts.len() { self.line_start(line + 1) } else { text.len() };
        let mut units = 0;
        for (i, ch) in text[start..end].char_indices() {
            if units >= col || ch == '\n' || ch == '\r' {
                return start + i;
            }
            units += ch.len_utf16();
        }
        end
    }
}

/// A source file: its name as shown in messages, its text and line index.
#[derive(Clone, Debug)]
pub struct SourceFile {
    pub name: Arc<str>,
    pub text: Arc<str>,
    pub lines: Arc<LineIndex>,
}

impl SourceFile {
    pub fn new(name: &str, text: &str) -> SourceFile {
        SourceFile { name: name.into(), text: text.into(), lines: Arc::new(LineIndex::new(text)) }
    }

    /// `NAME:LINE:COL` with 1-based line and column (characters).
    pub fn location(&self, offset: usize) -> String {
        let (line, col) = self.lines.line_col(&self.text, offset);
        format!("{}:{}:{}", self.name, line + 1, col + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_index_counts_all_line_breaks() {
        let text = "a\nb\r\nc\rdé";
        let ix = LineIndex::new(text);
        assert_eq!(ix.line_count(), 4);
        assert_eq!(ix.line_col(text, 0), (0, 0));
        assert_eq!(ix.line_col(text, 2), (1, 0));
        assert_eq!(ix.line_col(text, 5), (2, 0));
        assert_eq!(ix.line_col(text, text.len()), (3, 2));
        assert_eq!(ix.offset_utf16(text, 3, 1), 8);
        assert_eq!(ix.offset_utf16(text, 0, 9), 1);
    }
}
