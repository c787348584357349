//! Structure from the syntax tree and the formatter: folding, selection ranges, formatting,
//! indentation on Enter, and the run/cancel code lenses over top-level forms.

use serde_json::json;
use tower_lsp_server::ls_types::*;
use tree_sitter::{Node, Tree};

use omega_syntax::syntax::Span;

use crate::document::LineMap;
use crate::state::Snapshot;

fn span(n: Node<'_>) -> Span {
    Span::new(n.start_byte(), n.end_byte())
}

/// Lists, vectors and comment blocks over several lines.
pub fn folding_ranges(snap: &Snapshot) -> Vec<FoldingRange> {
    let Some(tree) = &snap.tree else { return Vec::new() };
    let mut out = Vec::new();
    let mut cursor = tree.walk();
    let mut comment_run: Option<(u32, u32)> = None;
    let flush = |run: &mut Option<(u32, u32)>, out: &mut Vec<FoldingRange>| {
        if let Some((a, b)) = run.take() {
            if b > a {
                out.push(FoldingRange {
                    start_line: a,
                    end_line: b,
                    kind: Some(FoldingRangeKind::Comment),
                    ..Default::default()
                });
            }
        }
    };
    let line = |offset: usize| snap.map.rope().byte_to_line(offset) as u32;
    loop {
        let n = cursor.node();
        let (a, b) = (line(n.start_byte()), line(n.end_byte()));
        match n.kind() {
            "list" | "vector" | "block_comment" if b > a => {
                let kind = (n.kind() == "block_comment").then_some(FoldingRangeKind::Comment);
                out.push(FoldingRange { start_line: a, end_line: b, kind, ..Default::default() });
            }
            // A top-level comment (`cursor.depth`, unlike `Node::parent`, costs nothing).
            "comment" if cursor.depth() == 1 => match &mut comment_run {
                Some((_, end)) if *end + 1 == a => *end = a,
                _ => {
                    flush(&mut comment_run, &mut out);
                    comment_run = Some((a, a));
                }
            },
            _ => {}
        }
        // A node on one line holds nothing that folds.
        if (b > a || n.kind() == "source_file") && cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                flush(&mut comment_run, &mut out);
                out.sort_by_key(|f| (f.start_line, std::cmp::Reverse(f.end_line)));
                return out;
            }
        }
    }
}

/// The nodes holding `offset`, from the root down to the smallest (a token touching it from
/// the right wins). Collected on the way down: `Node::parent` walks from the root again, so
/// climbing with it would be quadratic in the depth.
fn path_to(root: Node<'_>, offset: usize) -> Vec<Node<'_>> {
    let mut path = vec![root];
    let mut node = root;
    'descend: loop {
        let mut cursor = node.walk();
        let children: Vec<Node<'_>> = node.children(&mut cursor).collect();
        for pass in [false, true] {
            for &c in &children {
                let holds = if pass {
                    c.start_byte() < offset && offset <= c.end_byte()
                } else {
                    c.start_byte() <= offset && offset < c.end_byte()
                };
                if holds {
                    node = c;
                    path.push(c);
                    continue 'descend;
                }
            }
        }
        return path;
    }
}

/// How many ranges one selection chain holds at most. The chain is nested JSON, one level a
/// range: clients' decoders stop at a depth (serde_json at 128, lua-cjson at 1000), and the
/// server's own serializer and drop recurse through it.
const MAX_SELECTION_DEPTH: usize = 100;
/// Of a deeper chain, how many of the outermost ranges are kept (the rest are the innermost).
const OUTER_SELECTION_KEPT: usize = 20;

/// From the token at each position out to its top-level form, one range per enclosing node;
/// in very deep nesting, the innermost ranges and the outermost few.
pub fn selection_ranges(snap: &Snapshot, offsets: &[usize]) -> Vec<SelectionRange> {
    offsets
        .iter()
        .map(|&offset| {
            // Innermost first.
            let mut spans: Vec<Span> = Vec::new();
            if let Some(tree) = &snap.tree {
                for n in path_to(tree.root_node(), offset).into_iter().rev() {
                    if n.kind() == "source_file" {
                        break;
                    }
                    let s = span(n);
                    if spans.last() != Some(&s) {
                        spans.push(s);
                    }
                }
            }
            if spans.is_empty() {
                spans.push(Span::new(offset, offset));
            }
            if spans.len() > MAX_SELECTION_DEPTH {
                spans.drain(MAX_SELECTION_DEPTH - OUTER_SELECTION_KEPT..spans.len() - OUTER_SELECTION_KEPT);
            }
            let mut parent: Option<Box<SelectionRange>> = None;
            for s in spans.into_iter().rev() {
                parent = Some(Box::new(SelectionRange { range: snap.map.range(s), parent }));
            }
            *parent.expect("at least one range")
        })
        .collect()
}

/// The whole document through `omega fmt`; `None` if it does not read (nothing to change).
pub fn format_document(snap: &Snapshot) -> Result<Vec<TextEdit>, String> {
    let formatted = omega_syntax::format::format(&snap.text).map_err(|e| {
        format!("cannot format: {} at line {}", e.message, snap.map.position(e.span.start as usize).line + 1)
    })?;
    if formatted == *snap.text {
        return Ok(Vec::new());
    }
    Ok(vec![TextEdit { range: snap.map.range(Span::new(0, snap.text.len())), new_text: formatted }])
}

/// The top-level forms that `range` touches, formatted as the formatter would in the file.
/// Forms that do not read yet (being typed) are refused, unless the range lies on one line:
/// that line is re-indented alone, as on Enter.
pub fn format_range(snap: &Snapshot, range: Range) -> Result<Vec<TextEdit>, String> {
    let one_line = range.start.line == range.end.line;
    match format_forms(snap, snap.map.span(range)) {
        Err(_) if one_line => Ok(indent_line(&snap.text, &snap.map, snap.tree.as_ref(), range.start.line)),
        result => result,
    }
}

/// The edit that gives line `line` the indentation `omega fmt` would, reckoned from the lines
/// above it as they stand (`omega_syntax::format::indent_for_line_at`): what Enter asks for.
/// None when the line has it already, starts inside a string or block comment, or is not a
/// line of the formatter's (one after a lone `\r`). Always spaces, whatever the client's
/// `insertSpaces`: Lisp indentation aligns columns, which tabs of any width would break, and
/// `omega fmt` writes spaces.
pub fn indent_line(text: &str, map: &LineMap, tree: Option<&Tree>, line: u32) -> Vec<TextEdit> {
    if line as usize >= map.rope().len_lines() {
        return Vec::new();
    }
    let start = map.offset(Position::new(line, 0));
    if start > 0 && !text[..start].ends_with('\n') {
        return Vec::new();
    }
    let from = tree.map_or(0, |tree| reading_start(text, tree, start));
    let Some(indent) = omega_syntax::format::indent_for_line_at(&text[from..], start - from) else {
        return Vec::new();
    };
    let rest = &text[start..];
    let written = rest.len() - rest.trim_start_matches([' ', '\t']).len();
    let wanted = " ".repeat(indent);
    if rest[..written] == wanted {
        return Vec::new();
    }
    vec![TextEdit { range: map.range(Span::new(start, start + written)), new_text: wanted }]
}

/// Where indenting the line at `line_start` may start reading the text: the line of the last
/// top-level node that starts a line before it. Nothing is open there, and only the form being
/// typed is read again, not the whole file above it.
fn reading_start(text: &str, tree: &Tree, line_start: usize) -> usize {
    let mut cursor = tree.walk();
    // The top-level node around or after the line, else the last one; then back from there.
    if cursor.goto_first_child_for_byte(line_start).is_none() && !cursor.goto_last_child() {
        return 0;
    }
    loop {
        let start = cursor.node().start_byte();
        let its_line = text[..start].rfind('\n').map_or(0, |i| i + 1);
        if start < line_start && text[its_line..start].trim_start_matches([' ', '\t']).is_empty() {
            return its_line;
        }
        if !cursor.goto_previous_sibling() {
            return 0;
        }
    }
}

fn format_forms(snap: &Snapshot, range: Span) -> Result<Vec<TextEdit>, String> {
    let Some(tree) = &snap.tree else { return Ok(Vec::new()) };
    let root = tree.root_node();
    let mut cursor = root.walk();
    let forms: Vec<Span> = root
        .named_children(&mut cursor)
        .map(span)
        .filter(|s| s.end >= range.start && s.start <= range.end.max(range.start))
        .collect();
    let (Some(first), Some(last)) = (forms.first(), forms.last()) else { return Ok(Vec::new()) };
    let region = Span::new(first.start as usize, last.end as usize);
    let original = &snap.text[region.range()];
    let formatted =
        omega_syntax::format::format(original).map_err(|e| format!("cannot format this range: {}", e.message))?;
    let formatted = formatted.trim_end_matches(['\n', '\r']);
    if formatted == original {
        return Ok(Vec::new());
    }
    Ok(vec![TextEdit { range: snap.map.range(region), new_text: formatted.to_string() }])
}

/// `▶ Run` over each top-level form; `▶ Run file` and, while the file runs, `■ Cancel` over
/// the first.
pub fn code_lenses(snap: &Snapshot, uri: &Uri, running: bool) -> Vec<CodeLens> {
    let Some(tree) = &snap.tree else { return Vec::new() };
    let root = tree.root_node();
    let mut cursor = root.walk();
    let forms: Vec<Span> = root
        .named_children(&mut cursor)
        .filter(|n| !n.kind().contains("comment") && n.kind() != "shebang")
        .map(span)
        .collect();
    let mut out = Vec::new();
    let lens = |s: Span, title: &str, command: &str, args: Vec<serde_json::Value>| {
        let start = snap.map.position(s.start as usize);
        CodeLens {
            range: Range::new(start, start),
            command: Some(Command { title: title.into(), command: command.into(), arguments: Some(args) }),
            data: None,
        }
    };
    if let Some(first) = forms.first() {
        if running {
            out.push(lens(*first, "■ Cancel", "omega.cancel", vec![json!(uri.as_str())]));
        }
        out.push(lens(*first, "▶ Run file", "omega.runFile", vec![json!(uri.as_str())]));
    }
    // Above the size the server analyses, one lens per form would be hundreds of thousands
    // (tens of MB of JSON for the editor to take in): the file runs whole.
    if snap.text.len() > crate::settings::MAX_ANALYSIS_BYTES {
        return out;
    }
    for f in forms {
        let start = snap.map.position(f.start as usize);
        out.push(lens(f, "▶ Run", "omega.runForm", vec![json!(uri.as_str()), json!(start)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_innermost_node_is_the_token_under_the_cursor() {
        let text = "(define (inc x) (+ x 1))";
        let tree = omega_syntax::reader::parser().parse(text, None).unwrap();
        let n = *path_to(tree.root_node(), 19).last().unwrap();
        assert_eq!((n.start_byte(), n.end_byte()), (19, 20), "{}", n.kind());
        let n = *path_to(tree.root_node(), 18).last().unwrap();
        assert_eq!((n.start_byte(), n.end_byte()), (17, 18), "the token ending at the cursor");
    }

    fn snapshot(text: &str) -> Snapshot {
        let doc = crate::document::Document::new(text, 1, crate::document::Encoding::Utf16);
        Snapshot {
            version: 1,
            text: doc.text().clone(),
            map: doc.map().clone(),
            tree: doc.tree().cloned(),
            analysis: None,
        }
    }

    fn chain(s: &SelectionRange) -> Vec<Range> {
        let mut out = vec![s.range];
        let mut at = &s.parent;
        while let Some(p) = at {
            out.push(p.range);
            at = &p.parent;
        }
        out
    }

    #[test]
    fn deep_nesting_gives_a_bounded_selection_chain_quickly() {
        // 2,000 levels: climbing with `Node::parent` took minutes, and the chain nested
        // deeper than clients decode.
        let n = 2_000;
        let text = format!("{}x{}", "(f ".repeat(n), ")".repeat(n));
        let snap = snapshot(&text);
        let sel = selection_ranges(&snap, &[3 * n]);
        let ranges = chain(&sel[0]);
        assert_eq!(ranges.len(), MAX_SELECTION_DEPTH);
        assert_eq!(ranges[0], Range::new(Position::new(0, 3 * n as u32), Position::new(0, 3 * n as u32 + 1)), "`x`");
        assert_eq!(*ranges.last().unwrap(), snap.map.range(Span::new(0, text.len())), "the top-level form");
        for w in ranges.windows(2) {
            assert!(w[1].start <= w[0].start && w[0].end <= w[1].end, "each range holds the one before: {w:?}");
        }
    }

    #[test]
    fn a_file_too_large_to_analyse_gets_one_lens_to_run_it_whole() {
        let uri: Uri = "file:///work/large.omega".parse().unwrap();
        let small = snapshot("(define a 1)\n(+ a 1)\n");
        let titles = |snap: &Snapshot| -> Vec<String> {
            code_lenses(snap, &uri, false).into_iter().map(|l| l.command.unwrap().title).collect()
        };
        assert_eq!(titles(&small), vec!["▶ Run file", "▶ Run", "▶ Run"]);
        let large = snapshot(&"(+ 1 2)\n".repeat(crate::settings::MAX_ANALYSIS_BYTES / 8 + 1));
        assert_eq!(titles(&large), vec!["▶ Run file"]);
    }

    #[test]
    fn shallow_nesting_gives_every_enclosing_form() {
        let snap = snapshot("(a (b (c x)))");
        let ranges = chain(&selection_ranges(&snap, &[9])[0]);
        let ends: Vec<u32> = ranges.iter().map(|r| r.end.character).collect();
        assert_eq!(ends, vec![10, 11, 12, 13], "x, (c x), (b ...) and (a ...): {ranges:?}");
    }
}
