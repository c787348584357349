//! The formatter behind `omega fmt`: standard Lisp indentation, and nothing else.
//!
//! Only whitespace at the ends of lines changes. The user's line breaks stay where they
//! are, every token keeps its text, comments stay put, and the lines inside a string or
//! block comment that spans several lines are left exactly as written. Each other line
//! is re-indented from the syntax tree:
//!
//! - the body of a special form such as `define`, `lambda`, the `let` family, `handle` or
//!   `parallel` goes 2 columns past the form's opening parenthesis;
//! - the arguments of any other call line up under the first argument when that one is on
//!   the operator's line, and otherwise 1 column past the opening parenthesis, as do the
//!   elements of a list that does not start with a symbol.
//!
//! Runs of blank lines become one, blank lines at either end of the file go, and the file
//! ends with a line break. Formatting is idempotent.
//!
//! [`indent_for_line_at`] is the same rule for one line of text being typed, which the
//! editors ask for on Enter: one walk ([`Indenter`]) serves both.

use std::cell::Cell;

use tree_sitter::{Node, TreeCursor};

use crate::forms::{self, Indent};
use crate::reader::{self, SyntaxError};
use crate::syntax::Span;

const BODY_INDENT: usize = 2;

/// Whitespace that may start or end a line. A `\r` before the `\n` belongs to the line
/// break; any other `\r` at the edge of a line is whitespace (a lone one at the end of the
/// file once made formatting not idempotent).
const BLANK: &[char] = &[' ', '\t', '\u{c}', '\r'];

/// Re-indents `text`, or returns its first syntax error: text that does not read cleanly
/// is left alone, since its structure is uncertain.
pub fn format(text: &str) -> Result<String, SyntaxError> {
    let Some(tree) = reader::parser().parse(text, None) else {
        return Err(SyntaxError { span: Span::new(0, 0), message: "the parser gave up".into() });
    };
    if let Some(error) = reader::read_tree(text, &tree).errors.into_iter().next() {
        return Err(error);
    }
    let lines = Lines::new(text);
    let layout = Indenter::new(text, &lines, Columns::Reindented).run(tree.walk());
    Ok(render(text, &lines, &layout))
}

/// What formatting never changes: every token of `text` in order, with its kind, a line
/// comment without its trailing whitespace (which the formatter trims). `None` when the text
/// does not read cleanly, since error recovery may read the same tokens differently.
pub fn tokens(text: &str) -> Option<Vec<(String, String)>> {
    let tree = reader::parser().parse(text, None)?;
    if tree.root_node().has_error() {
        return None;
    }
    let mut out = Vec::new();
    let mut cursor = tree.walk();
    'walk: loop {
        let node = cursor.node();
        let atomic = node.child_count() == 0 || node.kind() == "string";
        if atomic {
            let mut token = text[node.byte_range()].to_string();
            if matches!(node.kind(), "comment" | "shebang") {
                token.truncate(token.trim_end().len());
            }
            out.push((node.kind().to_string(), token));
        }
        if !atomic && cursor.goto_first_child() {
            continue;
        }
        while !cursor.goto_next_sibling() {
            if !cursor.goto_parent() {
                break 'walk;
            }
        }
    }
    Some(out)
}

/// The column `omega fmt` gives the line that holds byte `offset`, reckoned from the lines
/// above it as they are written: what an editor indents a new line to on Enter. The text
/// may be incomplete (unclosed lists are the normal case while typing) and the line's own
/// text does not matter. `None` when the line starts inside a string or block comment,
/// whose leading whitespace belongs to the token, or when `offset` is not in the text.
///
/// The text before the line, with a symbol standing in for the line's first token, goes
/// through the formatter's own walk: an unclosed list there is a `(` in an error region of
/// the tree, which the walk treats as a list that is still open.
pub fn indent_for_line_at(text: &str, offset: usize) -> Option<usize> {
    let line_start = text.get(..offset)?.rfind('\n').map_or(0, |i| i + 1);
    let probed = format!("{}{LINE_PROBE}", &text[..line_start]);
    let tree = reader::parser().parse(&probed, None)?;
    let lines = Lines::new(&probed);
    let layout = Indenter::new(&probed, &lines, Columns::AsWritten).run(tree.walk());
    let line = layout.last()?;
    if line.starts_in_token {
        return None;
    }
    line.indent
}

/// The token [`indent_for_line_at`] puts at the start of the line it indents.
const LINE_PROBE: &str = "x";

/// Byte ranges of the lines of a text. A line ends at `\n`; a `\r` just before it
/// belongs to the line break, which is kept as it was.
struct Lines {
    starts: Vec<usize>,
    /// Where each line's content ends, before its line break.
    content_ends: Vec<usize>,
    ends: Vec<usize>,
    /// Lines of ASCII only, where a column is a byte count.
    ascii: Vec<bool>,
    /// The last column counted on a line of other text, `(offset, column)`: the walk
    /// asks in document order, so counting on from there keeps long lines linear.
    last_col: Cell<(usize, usize)>,
}

impl Lines {
    fn new(text: &str) -> Lines {
        let mut lines = Lines {
            starts: Vec::new(),
            content_ends: Vec::new(),
            ends: Vec::new(),
            ascii: Vec::new(),
            last_col: Cell::new((0, 0)),
        };
        let mut start = 0;
        loop {
            let (content_end, end) = match text[start..].find('\n') {
                Some(i) => {
                    let newline = start + i;
                    let cr = text[start..newline].ends_with('\r');
                    (if cr { newline - 1 } else { newline }, newline + 1)
                }
                None => (text.len(), text.len()),
            };
            lines.starts.push(start);
            lines.content_ends.push(content_end);
            lines.ends.push(end);
            lines.ascii.push(text[start..end].is_ascii());
            if end == text.len() {
                return lines;
            }
            start = end;
        }
    }

    fn len(&self) -> usize {
        self.starts.len()
    }

    fn line_of(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s <= offset).saturating_sub(1)
    }

    /// The column of a byte in its line, in characters.
    fn col(&self, text: &str, offset: usize) -> usize {
        let line = self.line_of(offset);
        let start = self.starts[line];
        if self.ascii[line] {
            return offset - start;
        }
        let (last, last_col) = self.last_col.get();
        let (from, from_col) = if (start..=offset).contains(&last) { (last, last_col) } else { (start, 0) };
        let col = from_col + text.get(from..offset).map_or(0, |s| s.chars().count());
        self.last_col.set((offset, col));
        col
    }

    /// The width of a line's leading whitespace, all of it single-byte characters.
    fn indent(&self, text: &str, line: usize) -> usize {
        let content = &text[self.starts[line]..self.content_ends[line]];
        content.len() - content.trim_start_matches(BLANK).len()
    }
}

/// What the formatter does with one line.
#[derive(Clone, Copy, Default)]
struct LineLayout {
    /// The new indentation, for a line that starts with a token.
    indent: Option<usize>,
    /// The line starts inside a token (a string or block comment from an earlier line),
    /// so its leading whitespace is part of that token.
    starts_in_token: bool,
    /// Where the last token on the line ends: whitespace before it belongs to the
    /// token (`#\ ` is a space, and a string may run on past the line break).
    token_end: usize,
}

/// Which columns the lines above a line count with.
#[derive(Clone, Copy, PartialEq)]
enum Columns {
    /// As re-indented by the same walk: formatting a whole text.
    Reindented,
    /// As written: indenting one line under the lines the user sees.
    AsWritten,
}

/// What the walk is inside, one entry per node.
enum Frame {
    List(ListFrame),
    /// A region tree-sitter could not parse. Its `(` tokens open lists it does not close
    /// (text being typed), kept here until a `)` in the region closes them.
    Error(Vec<ListFrame>),
    /// Any other node: a quote, a datum comment, the file. Its children are not elements
    /// of a list.
    Other,
}

/// Where a list or vector stands, as far as its later lines need to know.
struct ListFrame {
    /// Output column of the `(`.
    paren_col: usize,
    elements: usize,
    head: Head,
    /// Line and output column of the first argument.
    first_arg: Option<(usize, usize)>,
    head_line: usize,
}

#[derive(Clone, Copy, PartialEq)]
enum Head {
    /// No head yet, or one that is not a symbol: elements line up under it.
    Data,
    Call,
    BodyForm,
}

/// The one walk that decides indentation, for [`format`] and [`indent_for_line_at`].
struct Indenter<'t> {
    text: &'t str,
    lines: &'t Lines,
    columns: Columns,
    layout: Vec<LineLayout>,
    /// One entry per node the walk is inside.
    frames: Vec<Frame>,
}

impl<'t> Indenter<'t> {
    fn new(text: &'t str, lines: &'t Lines, columns: Columns) -> Indenter<'t> {
        Indenter { text, lines, columns, layout: vec![LineLayout::default(); lines.len()], frames: Vec::new() }
    }

    /// Walks the tree in document order, iteratively, so nesting costs no host stack.
    fn run(mut self, mut cursor: TreeCursor) -> Vec<LineLayout> {
        let mut descend = self.enter(cursor.node());
        loop {
            if descend && cursor.goto_first_child() {
                descend = self.enter(cursor.node());
                continue;
            }
            if descend {
                self.frames.pop();
            }
            loop {
                if cursor.goto_next_sibling() {
                    descend = self.enter(cursor.node());
                    break;
                }
                if !cursor.goto_parent() {
                    return self.layout;
                }
                self.frames.pop();
            }
        }
    }

    /// Visits a node: decides the indentation of the line it starts, records it in its
    /// list, and returns whether to visit its children.
    fn enter(&mut self, node: Node) -> bool {
        let start = node.start_byte();
        let line = self.lines.line_of(start);
        let starts_line = {
            let layout = &self.layout[line];
            let before = self.text.get(self.lines.starts[line]..start).unwrap_or("x");
            layout.indent.is_none() && !layout.starts_in_token && before.trim_start_matches(BLANK).is_empty()
        };
        if starts_line {
            self.layout[line].indent = Some(self.indent_for_next_element());
        }
        let atomic = node.child_count() == 0 || node.kind() == "string";
        if atomic {
            self.mark_token_lines(node);
        }
        if matches!(self.frames.last(), Some(Frame::Error(_))) && !node.is_named() {
            self.loose_token(node, line);
            return false;
        }
        if is_element(node) {
            self.add_element(node, line);
        }
        if atomic {
            return false;
        }
        let frame = match node.kind() {
            "list" => Frame::List(self.new_frame(start, line)),
            "vector" => Frame::List(self.new_frame(start + "#".len(), line)),
            "ERROR" => Frame::Error(Vec::new()),
            _ => Frame::Other,
        };
        self.frames.push(frame);
        true
    }

    /// A token of an error region outside any node: it may open or close a list. (The
    /// text of an unterminated string is no token at all, so a line in it gets nothing.)
    fn loose_token(&mut self, node: Node, line: usize) {
        let start = node.start_byte();
        let opener = match self.text.get(node.byte_range()) {
            Some("(") => Some(start),
            Some("#(") => Some(start + "#".len()),
            _ => None,
        };
        if let Some(paren) = opener {
            self.add_element(node, line);
            let frame = self.new_frame(paren, line);
            if let Some(Frame::Error(open)) = self.frames.last_mut() {
                open.push(frame);
            }
            return;
        }
        if node.kind() == ")" {
            self.close_loose_list();
        }
    }

    /// A `)` of an error region closes the innermost list an error region left open, even
    /// one around it (`(a (b ')`: tree-sitter puts the `)` in an error of its own).
    fn close_loose_list(&mut self) {
        for frame in self.frames.iter_mut().rev() {
            match frame {
                Frame::Error(open) if !open.is_empty() => {
                    open.pop();
                    return;
                }
                Frame::List(_) => return,
                Frame::Error(_) | Frame::Other => {}
            }
        }
    }

    fn new_frame(&self, paren: usize, line: usize) -> ListFrame {
        ListFrame { paren_col: self.output_col(paren), elements: 0, head: Head::Data, first_arg: None, head_line: line }
    }

    /// Records the lines a token covers: the ones it continues keep their leading
    /// whitespace, and none loses whitespace that is inside the token.
    fn mark_token_lines(&mut self, node: Node) {
        let (start, mut end) = (node.start_byte(), node.end_byte());
        if matches!(node.kind(), "comment" | "shebang") {
            // These run to the end of the line, trailing whitespace included; it goes.
            end = start + self.text.get(start..end).map_or(0, |t| t.trim_end().len());
        }
        let (first, last) = (self.lines.line_of(start), self.lines.line_of(end.saturating_sub(1).max(start)));
        for line in first..=last {
            if line > first {
                self.layout[line].starts_in_token = true;
            }
            let token_end = &mut self.layout[line].token_end;
            *token_end = (*token_end).max(end);
        }
    }

    fn add_element(&mut self, node: Node, line: usize) {
        let col = self.output_col(node.start_byte());
        let head = match node.kind() {
            "symbol" if is_body_form(self.text.get(node.byte_range()).unwrap_or("")) => Head::BodyForm,
            "symbol" => Head::Call,
            _ => Head::Data,
        };
        let Some(frame) = self.element_owner() else {
            return;
        };
        match frame.elements {
            0 => {
                frame.head = head;
                frame.head_line = line;
            }
            1 => frame.first_arg = Some((line, col)),
            _ => {}
        }
        frame.elements += 1;
    }

    /// The list that a datum entered now is an element of: the node around it if that is
    /// a list, or in an error region the innermost list the region left open (the region
    /// is transparent while it has none).
    fn element_owner(&mut self) -> Option<&mut ListFrame> {
        for frame in self.frames.iter_mut().rev() {
            match frame {
                Frame::List(list) => return Some(list),
                Frame::Error(open) if !open.is_empty() => return open.last_mut(),
                Frame::Error(_) => {}
                Frame::Other => return None,
            }
        }
        None
    }

    /// The column for something starting a line in the innermost list, given what the
    /// list holds so far.
    fn indent_for_next_element(&self) -> usize {
        let innermost = self.frames.iter().rev().find_map(|frame| match frame {
            Frame::List(list) => Some(list),
            Frame::Error(open) => open.last(),
            Frame::Other => None,
        });
        let Some(frame) = innermost else {
            return 0;
        };
        if frame.elements == 0 {
            return frame.paren_col + 1;
        }
        match (frame.head, frame.first_arg) {
            (Head::BodyForm, _) => frame.paren_col + BODY_INDENT,
            (Head::Call, Some((line, col))) if line == frame.head_line => col,
            _ => frame.paren_col + 1,
        }
    }

    /// The column a byte has once the lines before it in the walk are re-indented, or as
    /// written.
    fn output_col(&self, offset: usize) -> usize {
        let line = self.lines.line_of(offset);
        let col = self.lines.col(self.text, offset);
        match self.layout[line].indent {
            Some(indent) if self.columns == Columns::Reindented => col - self.lines.indent(self.text, line) + indent,
            _ => col,
        }
    }
}

/// Whether the parts after `head` are a body, indented by [`BODY_INDENT`]: the table of
/// forms says so for special forms and clause keywords, and any head starting with
/// `define` counts too (user macros such as `define-tool`).
fn is_body_form(head: &str) -> bool {
    head.starts_with("define") || forms::indent_of(head) == Some(Indent::Body)
}

/// A datum inside a list, as opposed to its parentheses, comments and error regions (whose
/// contents count instead).
fn is_element(node: Node) -> bool {
    node.is_named() && !matches!(node.kind(), "comment" | "block_comment" | "datum_comment" | "ERROR")
}

fn render(text: &str, lines: &Lines, layout: &[LineLayout]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_blank: Option<&str> = None;
    let mut last_break = "\n";
    for (i, line) in layout.iter().enumerate() {
        let content = &text[lines.starts[i]..lines.content_ends[i]];
        let line_break = &text[lines.content_ends[i]..lines.ends[i]];
        let keep = line.token_end.clamp(lines.starts[i], lines.content_ends[i]) - lines.starts[i];
        let content = &content[..content.trim_end_matches(BLANK).len().max(keep)];
        if !line.starts_in_token {
            let body = content.trim_start_matches(BLANK);
            if body.is_empty() {
                if !out.is_empty() && pending_blank.is_none() {
                    pending_blank = Some(line_break);
                }
                continue;
            }
            if let Some(blank) = pending_blank.take() {
                out.push_str(blank);
            }
            match line.indent {
                Some(indent) => {
                    out.extend(std::iter::repeat_n(' ', indent));
                    out.push_str(body);
                }
                None => out.push_str(content),
            }
        } else {
            out.push_str(content);
        }
        out.push_str(line_break);
        if !line_break.is_empty() {
            last_break = line_break;
        }
    }
    if !out.is_empty() && !out.ends_with('\n') {
        out.push_str(last_break);
    }
    out
}

#[cfg(test)]
mod indent_tests;

#[cfg(test)]
mod tests {
    use super::*;

    /// Formats `input`, expecting `expected`, and checks the invariants on the way.
    fn check(input: &str, expected: &str) {
        let output = format(input).expect("input reads cleanly");
        assert_eq!(output, expected, "formatting {input:?}");
        assert_invariants(input, &output);
    }

    fn assert_invariants(input: &str, output: &str) {
        assert_eq!(format(output).as_deref(), Ok(output), "formatting again changes {output:?}");
        assert_eq!(tokens(output), tokens(input), "tokens changed formatting {input:?}");
        assert!(tokens(input).is_some(), "{input:?} reads cleanly");
    }

    #[test]
    fn body_forms_indent_two() {
        check("(define (f x)\n(+ x 1))", "(define (f x)\n  (+ x 1))\n");
        check(
            "(let loop ((i 0)\n(acc '()))\n(if (> i 3)\nacc\n(loop (+ i 1) (cons i acc))))",
            "(let loop ((i 0)\n           (acc '()))\n  (if (> i 3)\n      acc\n      (loop (+ i 1) (cons i acc))))\n",
        );
        check("(lambda (x)\n      x)", "(lambda (x)\n  x)\n");
        check(
            "(define-record-type point\n(make-point x y)\npoint?)",
            "(define-record-type point\n  (make-point x y)\n  point?)\n",
        );
        check("(when ok\n(display 1)\n    (newline))", "(when ok\n  (display 1)\n  (newline))\n");
    }

    #[test]
    fn handlers_and_parallel() {
        check(
            "(handle (effect infer.op \"q\")\n(on infer.op (p k)\n(k 999))\n(return (v)\nv))",
            "(handle (effect infer.op \"q\")\n  (on infer.op (p k)\n    (k 999))\n  (return (v)\n    v))\n",
        );
        check(
            "(parallel\n((s\n(lambda () 1)))\n(lambda () 2))",
            "(parallel\n  ((s\n    (lambda () 1)))\n  (lambda () 2))\n",
        );
    }

    #[test]
    fn call_arguments_align_under_the_first() {
        check("(foo a\nb\n        c)", "(foo a\n     b\n     c)\n");
        check("(effect infer.op\n(list agent ctx))", "(effect infer.op\n        (list agent ctx))\n");
        check("(cond ((a) 1)\n((b) 2))", "(cond ((a) 1)\n      ((b) 2))\n");
    }

    #[test]
    fn first_argument_on_the_next_line() {
        check("(foo\nbar baz\nqux)", "(foo\n bar baz\n qux)\n");
        check("(if\ntest\nyes)", "(if\n test\n yes)\n");
    }

    #[test]
    fn data_lines_up_under_the_first_element() {
        check("'((a . 1)\n(b . 2))", "'((a . 1)\n  (b . 2))\n");
        check("((lambda (x) x) 1\n2)", "((lambda (x) x) 1\n 2)\n");
        check("#(1 2\n3)", "#(1 2\n  3)\n");
        check("(list #(1\n2) `(a\n,b))", "(list #(1\n        2) `(a\n             ,b))\n");
    }

    #[test]
    fn columns_count_characters() {
        check("(f \"é\" (g a\nb))", "(f \"é\" (g a\n          b))\n");
    }

    #[test]
    fn comments_are_kept_and_indented() {
        check(
            ";; header\n(define (f)\n;; inside\n     1 ; trailing   \n#| block\n   stays |#\n)",
            ";; header\n(define (f)\n  ;; inside\n  1 ; trailing\n  #| block\n   stays |#\n  )\n",
        );
        check("(a #;(b\nc)\nd)", "(a #;(b\n      c)\n d)\n");
    }

    #[test]
    fn multi_line_strings_are_untouched() {
        check("(display \"one  \n   two\n\n  three\")\n", "(display \"one  \n   two\n\n  three\")\n");
        check("(f \"a\nb\" x\n y)", "(f \"a\nb\" x\n   y)\n");
    }

    #[test]
    fn whitespace_inside_tokens_is_kept() {
        check("(list #\\ \n#\\\t\n   x)", "(list #\\ \n      #\\\t\n      x)\n");
        check("(f #\\\n   x)", "(f #\\\n   x)\n");
    }

    #[test]
    fn blank_lines_collapse_and_whitespace_is_trimmed() {
        check("\n\n(a)   \n\n\n\n(b)\t\n\n", "(a)\n\n(b)\n");
        check("   (a)", "(a)\n");
        check("", "");
        check(" \n\t\n", "");
    }

    #[test]
    fn line_breaks_are_kept() {
        check("(define (f)\r\n1)\r\n", "(define (f)\r\n  1)\r\n");
        check("(a)\r\n(b)", "(a)\r\n(b)\r\n");
    }

    #[test]
    fn shebang_stays_first() {
        check("#!/usr/bin/env omega run\n  (display 1)", "#!/usr/bin/env omega run\n(display 1)\n");
    }

    #[test]
    fn text_with_syntax_errors_is_refused() {
        let error = format("(define (f x)\n  (+ x 1)").expect_err("unclosed");
        assert_eq!((error.span, error.message.as_str()), (Span::new(0, 1), "unclosed parenthesis"));
        assert_eq!(format("[a]").expect_err("bracket").message, "brackets are not supported; use ( )");
    }

    #[test]
    fn deep_nesting_formats_without_recursion() {
        let depth = reader::MAX_DEPTH;
        let text = format!("{}a\nb{}", "(".repeat(depth), ")".repeat(depth));
        let output = format(&text).expect("within the nesting limit");
        let last = output.lines().nth(1).expect("two lines");
        assert_eq!(last.len() - last.trim_start().len(), depth);
        assert_eq!(format(&output).as_deref(), Ok(output.as_str()));
    }

    /// The code of the manual's chapter 39 (serializers), as printed there.
    pub(super) const CHAPTER_39: &[&str] = &[
        ";; WITHOUT serialization - RACE CONDITION\n(define shared-glossary (make-table))\n\n(parallel\n  ;; Agent A translating chapter 1\n  (lambda ()\n    (let ((gloss (read-table shared-glossary)))\n      (add-entry gloss \"API\" \"Application Programming Interface\")\n      (write-table! shared-glossary gloss)))\n\n  ;; Agent B translating chapter 2\n  (lambda ()\n    (let ((gloss (read-table shared-glossary)))\n      (add-entry gloss \"API\" \"American Petroleum Institute\")\n      (write-table! shared-glossary gloss))))\n",
        "(define glossary-serializer (make-serializer))\n\n(parallel\n  ((glossary-serializer\n     (lambda ()\n       (let ((gloss (read-table shared-glossary)))\n         (detect-conflict \"API\" gloss shared-glossary)\n         (add-entry gloss \"API\" \"Application Programming Interface\")\n         (write-table! shared-glossary gloss)))))\n\n  ((glossary-serializer\n     (lambda ()\n       (let ((gloss (read-table shared-glossary)))\n         (detect-conflict \"API\" gloss shared-glossary)\n         (add-entry gloss \"API\" \"American Petroleum Institute\")\n         (write-table! shared-glossary gloss))))))\n",
        "(define conversation-state (make-mutable-context))\n(define context-serializer (make-serializer))\n\n(define (safe-agent-respond agent)\n  ((context-serializer\n     (lambda ()\n       (let* ((ctx (read-context conversation-state))\n              (response (effect infer.op\n                          (list agent \" responds to: \" ctx))))\n         (write-context! conversation-state\n                        (append ctx (list (cons agent response)))))))))\n\n;; Agents safely take turns\n(parallel\n  (safe-agent-respond 'AgentA)\n  (safe-agent-respond 'AgentB)\n  (safe-agent-respond 'AgentC))\n",
        ";; Fine-grained: One serializer per glossary entry\n(define (make-entry-serializer term)\n  (make-serializer))\n\n(define api-serializer (make-entry-serializer \"API\"))\n(define llm-serializer (make-entry-serializer \"LLM\"))\n\n(parallel\n  ((api-serializer (lambda () (update-entry \"API\" ...))))\n  ((llm-serializer (lambda () (update-entry \"LLM\" ...)))))\n",
        "(define term-a-serializer (make-serializer))\n(define term-b-serializer (make-serializer))\n\n(parallel\n  ;; Agent 1: acquires A, then needs B\n  ((term-a-serializer\n     (lambda ()\n       ...\n       ((term-b-serializer\n          (lambda () ...))))))\n\n  ;; Agent 2: acquires B, then needs A\n  ((term-b-serializer\n     (lambda ()\n       ...\n       ((term-a-serializer\n          (lambda () ...)))))))\n;; DEADLOCK: Each waits for the other's resource!\n",
        "(define (update-both term1 term2 ...)\n  (let ((s1 (get-serializer term1))\n        (s2 (get-serializer term2)))\n    ;; Always acquire in alphabetical order\n    (if (string<? term1 term2)\n        ((s1 (lambda () ((s2 (lambda () ...))))))\n        ((s2 (lambda () ((s1 (lambda () ...)))))))))\n",
        "(define response-buffer (make-buffer))\n(define buffer-serializer (make-serializer))\n\n(define (assemble-response-chunk chunk position)\n  ((buffer-serializer\n     (lambda ()\n       (insert-at! response-buffer chunk position)))))\n\n(parallel\n  (lambda ()\n    (let ((intro (effect infer.op \"Generate introduction\")))\n      (assemble-response-chunk intro 0)))\n\n  (lambda ()\n    (let ((body (effect infer.op \"Generate body\")))\n      (assemble-response-chunk body 1)))\n\n  (lambda ()\n    (let ((conclusion (effect infer.op \"Generate conclusion\")))\n      (assemble-response-chunk conclusion 2))))\n",
    ];

    /// Programs of the static-analysis examples, with their comments.
    pub(super) const EXAMPLES: &[&str] = &[
        ";; expect: none\n;; why: the nestings are inverted, but both run inside desk-gate, so they can never overlap\n(define desk-gate (make-serializer))\n(define inbox-serializer (make-serializer))\n(define outbox-serializer (make-serializer))\n(define (at-desk job) ((desk-gate job)))\n(define (file! what) (display what) (newline))\n(parallel\n  (lambda ()\n    (at-desk (lambda () ((inbox-serializer (outbox-serializer (lambda () (file! \"reply\"))))))))\n  (lambda ()\n    (at-desk (lambda () ((outbox-serializer (inbox-serializer (lambda () (file! \"recall\")))))))))\n",
        "(define (make-stage name)\n  (let ((s (make-serializer)))\n    (lambda (next)\n      (s (lambda (item)\n           (display name)\n           (if next ((next item)) item))))))\n(define counter 0)\n(define (bump!) (set! counter (+ counter 1)))\n(parallel-map (lambda (k)\n                (if (string>? k \"m\")\n                    (bump!)\n                    (display k)))\n              '(\"a\" \"z\"))\n",
    ];

    #[test]
    fn chapter_and_example_programs_are_stable() {
        for program in CHAPTER_39.iter().chain(EXAMPLES) {
            let output = format(program).expect("the chapter's code reads cleanly");
            assert_invariants(program, &output);
        }
    }

    #[test]
    fn chapter_code_in_standard_style_is_unchanged() {
        for program in [CHAPTER_39[0], CHAPTER_39[3], CHAPTER_39[5]] {
            assert_eq!(format(program).as_deref(), Ok(program));
        }
    }

    /// The example programs kept with the analysis tests, in the repository.
    #[test]
    fn repository_programs_format_stably() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests");
        let mut count = 0;
        for dir in ["analysis-examples", "analysis-cases"] {
            let entries = std::fs::read_dir(root.join(dir)).expect("example directory exists");
            for path in entries.map(|e| e.expect("directory entry").path()) {
                if path.extension().is_some_and(|ext| ext == "omega") {
                    let program = std::fs::read_to_string(&path).expect("UTF-8 program");
                    // Some cases hold a syntax error on purpose; those are refused.
                    if let Ok(output) = format(&program) {
                        assert_invariants(&program, &output);
                        count += 1;
                    }
                }
            }
        }
        assert!(count >= 13, "found only {count} programs");
    }

    /// A small deterministic generator, so the property test needs no dependency.
    pub(super) struct Rng(pub(super) u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    /// Random data with random line breaks, indentation and comments.
    pub(super) fn random_program(rng: &mut Rng) -> String {
        const ATOMS: &[&str] = &[
            "define",
            "lambda",
            "let",
            "f",
            "x",
            "42",
            "-1.5",
            "\"s\"",
            "\"two\n  lines \"",
            "#t",
            "#\\a",
            "infer.op",
        ];
        let mut out = String::new();
        let mut open = 0;
        for _ in 0..rng.below(60) + 1 {
            match rng.below(10) {
                0..=2 => {
                    out.push_str(["(", "'(", "#(", "`("][rng.below(4) as usize]);
                    open += 1;
                }
                3 if open > 0 => {
                    out.push(')');
                    open -= 1;
                }
                4 => out.push_str(["\n", "\n\n\n", "   \n", " ; note \n"][rng.below(4) as usize]),
                _ => out.push_str(ATOMS[rng.below(ATOMS.len() as u64) as usize]),
            }
            out.push_str([" ", "\n", "  ", " \t"][rng.below(4) as usize]);
            out.extend(std::iter::repeat_n(' ', rng.below(6) as usize));
        }
        out.push_str(&")".repeat(open));
        out
    }

    #[test]
    fn random_programs_keep_their_tokens_and_format_idempotently() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..300 {
            let program = random_program(&mut rng);
            let output = format(&program).unwrap_or_else(|e| panic!("{e} in {program:?}"));
            assert_invariants(&program, &output);
        }
    }
}
