//! One open document: its text as a rope, the client's version, and the tree-sitter tree kept
//! up to date incrementally (`InputEdit` + reparse with the old tree).
//!
//! Positions: LSP lines end at `\n`, `\r\n` or a lone `\r` (ropey's `cr_lines`); columns count
//! UTF-16 code units unless the client chose UTF-8. Every position a client sends is clamped
//! into the text: a line past the end means the end, a column past the line's end means the
//! line's end (before its break), a column inside a character means its start.

use std::sync::Arc;

use ropey::Rope;
use tower_lsp_server::ls_types::{Position, Range, TextDocumentContentChangeEvent};
use tree_sitter::{InputEdit, Parser, Point, Tree};

use omega_syntax::syntax::Span;

/// How columns are counted (negotiated through `positionEncoding` at initialization).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Encoding {
    #[default]
    Utf16,
    Utf8,
}

/// Converts between byte offsets and LSP positions over one version of a text.
#[derive(Clone)]
pub struct LineMap {
    rope: Rope,
    encoding: Encoding,
}

impl LineMap {
    pub fn new(rope: Rope, encoding: Encoding) -> LineMap {
        LineMap { rope, encoding }
    }

    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    pub fn rope(&self) -> &Rope {
        &self.rope
    }

    pub fn len(&self) -> usize {
        self.rope.len_bytes()
    }

    pub fn is_empty(&self) -> bool {
        self.rope.len_bytes() == 0
    }

    /// Byte offset of the end of line `line`'s content (before its line break).
    fn line_content_end(&self, line: usize) -> usize {
        let start = self.rope.line_to_byte(line);
        let slice = self.rope.line(line);
        let mut len = slice.len_bytes();
        let mut tail = slice.bytes_at(len).reversed();
        match tail.next() {
            Some(b'\n') => {
                len -= 1;
                if tail.next() == Some(b'\r') {
                    len -= 1;
                }
            }
            Some(b'\r') => len -= 1,
            _ => {}
        }
        start + len
    }

    /// The byte offset of a client position, clamped into the text.
    pub fn offset(&self, pos: Position) -> usize {
        let line = pos.line as usize;
        if line >= self.rope.len_lines() {
            return self.rope.len_bytes();
        }
        let start = self.rope.line_to_byte(line);
        let end = self.line_content_end(line);
        let col = pos.character as usize;
        match self.encoding {
            Encoding::Utf8 => {
                let byte = (start + col).min(end);
                // Round down to a character boundary.
                self.rope.char_to_byte(self.rope.byte_to_char(byte))
            }
            Encoding::Utf16 => {
                let start_char = self.rope.byte_to_char(start);
                let end_char = self.rope.byte_to_char(end);
                let base = self.rope.char_to_utf16_cu(start_char);
                let limit = self.rope.char_to_utf16_cu(end_char);
                let cu = (base + col).min(limit);
                self.rope.char_to_byte(self.rope.utf16_cu_to_char(cu))
            }
        }
    }

    /// The LSP position of a byte offset (clamped into the text). An offset between the `\r`
    /// and the `\n` of a CRLF (where a line comment read up to `\n` ends) is the line's end.
    pub fn position(&self, offset: usize) -> Position {
        let mut offset = offset.min(self.rope.len_bytes());
        if offset > 0
            && offset < self.rope.len_bytes()
            && self.rope.byte(offset) == b'\n'
            && self.rope.byte(offset - 1) == b'\r'
        {
            offset -= 1;
        }
        let char_idx = self.rope.byte_to_char(offset);
        let line = self.rope.char_to_line(char_idx);
        let line_start_char = self.rope.line_to_char(line);
        let character = match self.encoding {
            Encoding::Utf8 => self.rope.char_to_byte(char_idx) - self.rope.line_to_byte(line),
            Encoding::Utf16 => self.rope.char_to_utf16_cu(char_idx) - self.rope.char_to_utf16_cu(line_start_char),
        };
        Position::new(line as u32, character as u32)
    }

    pub fn range(&self, span: Span) -> Range {
        Range::new(self.position(span.start as usize), self.position(span.end as usize))
    }

    /// The byte range of a client range, clamped and ordered.
    pub fn span(&self, range: Range) -> Span {
        let a = self.offset(range.start);
        let b = self.offset(range.end);
        Span::new(a.min(b), a.max(b))
    }

    /// tree-sitter's point of a byte offset: row by LSP lines, column in bytes.
    fn point(&self, offset: usize) -> Point {
        let line = self.rope.byte_to_line(offset);
        Point::new(line, offset - self.rope.line_to_byte(line))
    }
}

/// A text change as byte offsets, for moving results attached to ranges of an older version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteEdit {
    pub start: usize,
    pub old_end: usize,
    pub new_end: usize,
}

impl ByteEdit {
    /// Where `offset` of the text before the edit lies after it; `None` if the edit replaced it.
    pub fn map(&self, offset: usize) -> Option<usize> {
        if offset <= self.start {
            Some(offset)
        } else if offset >= self.old_end {
            Some(offset - self.old_end + self.new_end)
        } else {
            None
        }
    }
}

/// An open document.
pub struct Document {
    pub version: i32,
    map: LineMap,
    text: Arc<str>,
    tree: Option<Tree>,
    parser: Parser,
}

impl Document {
    pub fn new(text: &str, version: i32, encoding: Encoding) -> Document {
        let mut parser = omega_syntax::reader::parser();
        let tree = parser.parse(text, None);
        Document { version, map: LineMap::new(Rope::from_str(text), encoding), text: Arc::from(text), tree, parser }
    }

    pub fn text(&self) -> &Arc<str> {
        &self.text
    }

    pub fn map(&self) -> &LineMap {
        &self.map
    }

    pub fn tree(&self) -> Option<&Tree> {
        self.tree.as_ref()
    }

    /// Applies the changes of one `didChange` in order, then reparses incrementally. Returns
    /// the byte edits, for whoever tracks ranges through them.
    pub fn apply(&mut self, version: i32, changes: Vec<TextDocumentContentChangeEvent>) -> Vec<ByteEdit> {
        let mut edits = Vec::with_capacity(changes.len());
        for change in changes {
            edits.push(self.apply_one(change));
        }
        self.version = version;
        self.text = Arc::from(self.map.rope.to_string());
        self.tree = self.parser.parse(self.text.as_bytes(), self.tree.as_ref());
        edits
    }

    fn apply_one(&mut self, change: TextDocumentContentChangeEvent) -> ByteEdit {
        let rope = &mut self.map.rope;
        let (start, old_end) = match change.range {
            Some(range) => {
                let span = self.map.span(range);
                (span.start as usize, span.end as usize)
            }
            None => (0, rope.len_bytes()),
        };
        let start_position = self.map.point(start);
        let old_end_position = self.map.point(old_end);
        let rope = &mut self.map.rope;
        let (c0, c1) = (rope.byte_to_char(start), rope.byte_to_char(old_end));
        rope.remove(c0..c1);
        rope.insert(c0, &change.text);
        let new_end = start + change.text.len();
        let new_end_position = self.map.point(new_end);
        if let Some(tree) = &mut self.tree {
            tree.edit(&InputEdit {
                start_byte: start,
                old_end_byte: old_end,
                new_end_byte: new_end,
                start_position,
                old_end_position,
                new_end_position,
            });
        }
        ByteEdit { start, old_end, new_end }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random_text::Rng;

    fn change(sl: u32, sc: u32, el: u32, ec: u32, text: &str) -> TextDocumentContentChangeEvent {
        TextDocumentContentChangeEvent {
            range: Some(Range::new(Position::new(sl, sc), Position::new(el, ec))),
            range_length: None,
            text: text.into(),
        }
    }

    #[test]
    fn utf16_columns_count_surrogate_pairs() {
        let doc = Document::new("(a \"😀\" b)\n(c)", 1, Encoding::Utf16);
        // 😀 is 4 bytes and 2 UTF-16 units: `b` is at byte 10, UTF-16 column 8.
        assert_eq!(doc.map().offset(Position::new(0, 8)), 10);
        assert_eq!(doc.map().position(10), Position::new(0, 8));
        // Inside the pair: the character's start.
        assert_eq!(doc.map().offset(Position::new(0, 5)), 4);
    }

    #[test]
    fn utf8_columns_count_bytes() {
        let doc = Document::new("(é b)", 1, Encoding::Utf8);
        assert_eq!(doc.map().offset(Position::new(0, 4)), 4);
        assert_eq!(doc.map().position(4), Position::new(0, 4));
        // Inside `é`: its start.
        assert_eq!(doc.map().offset(Position::new(0, 2)), 1);
    }

    #[test]
    fn crlf_and_lone_cr_end_lines() {
        let doc = Document::new("(a)\r\n(b)\r(c)\n(d)", 1, Encoding::Utf16);
        assert_eq!(doc.map().offset(Position::new(1, 0)), 5);
        assert_eq!(doc.map().offset(Position::new(2, 1)), 10);
        assert_eq!(doc.map().position(13), Position::new(3, 0));
        // A column past the end stops before the line break.
        assert_eq!(doc.map().offset(Position::new(0, 99)), 3);
        assert_eq!(doc.map().offset(Position::new(1, 99)), 8);
    }

    #[test]
    fn an_offset_inside_a_crlf_is_the_end_of_its_line() {
        // The comment `;\r` ends between `\r` and `\n`: its end is column 1 of line 0, not 2.
        let doc = Document::new(";\r\n\n", 1, Encoding::Utf16);
        assert_eq!(doc.map().position(2), Position::new(0, 1));
        assert_eq!(doc.map().position(3), Position::new(1, 0));
    }

    #[test]
    fn out_of_range_positions_clamp() {
        let doc = Document::new("(a)\n", 1, Encoding::Utf16);
        assert_eq!(doc.map().offset(Position::new(7, 3)), 4);
        assert_eq!(doc.map().offset(Position::new(u32::MAX, u32::MAX)), 4);
        assert_eq!(doc.map().position(1000), Position::new(1, 0));
    }

    #[test]
    fn edits_apply_in_order_and_report_byte_ranges() {
        let mut doc = Document::new("(define x 1)\n", 1, Encoding::Utf16);
        let edits = doc.apply(2, vec![change(0, 10, 0, 11, "42"), change(0, 1, 0, 7, "def")]);
        assert_eq!(&**doc.text(), "(def x 42)\n");
        assert_eq!(edits[0], ByteEdit { start: 10, old_end: 11, new_end: 12 });
        assert_eq!(edits[1], ByteEdit { start: 1, old_end: 7, new_end: 4 });
        assert_eq!(doc.version, 2);
    }

    #[test]
    fn a_change_without_range_replaces_everything() {
        let mut doc = Document::new("(a)", 1, Encoding::Utf16);
        doc.apply(2, vec![TextDocumentContentChangeEvent { range: None, range_length: None, text: "(b c)".into() }]);
        assert_eq!(&**doc.text(), "(b c)");
        assert_eq!(doc.tree().unwrap().root_node().to_sexp(), full_tree("(b c)").root_node().to_sexp());
    }

    fn full_tree(text: &str) -> Tree {
        omega_syntax::reader::parser().parse(text, None).unwrap()
    }

    /// Every node's kind and byte range, in preorder.
    fn shape(tree: &Tree) -> Vec<(String, usize, usize)> {
        let mut out = Vec::new();
        let mut cursor = tree.walk();
        loop {
            let n = cursor.node();
            out.push((n.kind().to_string(), n.start_byte(), n.end_byte()));
            if cursor.goto_first_child() {
                continue;
            }
            loop {
                if cursor.goto_next_sibling() {
                    break;
                }
                if !cursor.goto_parent() {
                    return out;
                }
            }
        }
    }

    #[test]
    fn random_edit_sequences_reparse_to_the_full_parse() {
        for seed in 1..=60u64 {
            let mut rng = Rng::new(seed);
            let start = "(define (g x)\r\n  (* x 2))\n(g 😀 \"é\")\r(h)\n";
            let mut doc = Document::new(start, 0, if seed % 2 == 0 { Encoding::Utf16 } else { Encoding::Utf8 });
            for step in 0..40 {
                let lines = doc.map().rope().len_lines() as u32;
                let mut pos = || Position::new(rng.below(lines as usize + 1) as u32, rng.below(12) as u32);
                let (a, b) = (pos(), pos());
                let (a, b) = if (a.line, a.character) <= (b.line, b.character) { (a, b) } else { (b, a) };
                let count = rng.below(3);
                let text = rng.text(count);
                doc.apply(step + 1, vec![change(a.line, a.character, b.line, b.character, &text)]);
                let full = full_tree(doc.text());
                assert_eq!(
                    shape(doc.tree().unwrap()),
                    shape(&full),
                    "seed {seed}, step {step}: incremental and full parse differ on {:?}",
                    doc.text()
                );
                // Positions round-trip at every character boundary.
                let text = doc.text().clone();
                for (i, _) in text.char_indices() {
                    let p = doc.map().position(i);
                    let back = doc.map().offset(p);
                    let at_break_tail = text.as_bytes()[i] == b'\n' && i > 0 && text.as_bytes()[i - 1] == b'\r';
                    if !at_break_tail {
                        assert_eq!(back, i, "seed {seed}: offset {i} in {text:?}");
                    }
                }
            }
        }
    }
}
